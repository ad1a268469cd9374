/* main.c: the order service: customers' orders under /api/orders, their stock reserved in
 * the catalogue, their events through the outbox. */

#include "config.h"

#include <stdlib.h>

#include "order.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }


static const char *const  payment_methods[] = { "webpay", "transfer", "cash", NULL };

static const char *const  statuses[] = {
    "pending", "confirmed", "preparing", "shipped", "delivered", "cancelled", NULL
};

static const fv_field_t  line_fields[] = {
    { "productId",  FV_STRING, FV_REQUIRED | FV_TRIM, 1, ORDER_PRODUCT_MAX, NULL, NULL },
    { "quantity",   FV_INT,    FV_REQUIRED, 1, ORDER_QUANTITY_MAX, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  line_item[] = {
    { "item",       FV_OBJECT, FV_REQUIRED, 0, 0, NULL, line_fields },
    FIELDS_END
};

static const fv_field_t  address_fields[] = {
    { "recipient",  FV_STRING, FV_REQUIRED | FV_TRIM, 2, 100, NULL, NULL },
    { "street",     FV_STRING, FV_REQUIRED | FV_TRIM, 3, 200, NULL, NULL },
    { "city",       FV_STRING, FV_REQUIRED | FV_TRIM, 2, 100, NULL, NULL },
    { "region",     FV_STRING, FV_REQUIRED | FV_TRIM, 2, 100, NULL, NULL },
    { "postalCode", FV_STRING, FV_NULLABLE | FV_TRIM, 0, 20, NULL, NULL },
    { "phone",      FV_STRING, FV_REQUIRED | FV_TRIM, 6, 30, NULL, NULL },
    FIELDS_END
};

/* items, the address and the delivery date's range are checked further by order_check(). */
static const fv_field_t  order_body[] = {
    { "items",           FV_ARRAY,  FV_NULLABLE, 1, ORDER_LINES_MAX, NULL, line_item },
    { "addressId",       FV_INT,    FV_NULLABLE, 1, 0, NULL, NULL },
    { "shippingAddress", FV_OBJECT, FV_NULLABLE, 0, 0, NULL, address_fields },
    { "deliveryDate",    FV_DATE,   FV_NULLABLE, 0, 0, NULL, NULL },
    { "paymentMethod",   FV_ENUM,   FV_REQUIRED, 0, 0, payment_methods, NULL },
    { "notes",           FV_STRING, FV_NULLABLE | FV_TRIM | FV_MULTILINE, 0, ORDER_NOTES_MAX,
                         NULL, NULL },
    FIELDS_END
};

static const fv_field_t  status_body[] = {
    { "status",          FV_ENUM,   FV_REQUIRED, 0, 0, statuses, NULL },
    FIELDS_END
};

static const fv_field_t  list_query[] = {
    { "page",            FV_INT,    0, 1, 0, NULL, NULL },
    { "limit",           FV_INT,    0, 1, 100, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  all_query[] = {
    { "page",            FV_INT,    0, 1, 0, NULL, NULL },
    { "limit",           FV_INT,    0, 1, 100, NULL, NULL },
    { "status",          FV_ENUM,   0, 0, 0, statuses, NULL },
    FIELDS_END
};


static const fv_field_t  reconcile_query[] = {
    { "olderThan",       FV_INT,    0, 0, 86400, NULL, NULL },
    FIELDS_END
};


static const fv_route_t  order_routes[] = {
    { "POST",  "/api/orders",            FV_USER,  order_body, NULL, order_create },
    { "GET",   "/api/orders",            FV_USER,  NULL, list_query, order_list_mine },
    { "GET",   "/api/orders/all",        FV_ADMIN, NULL, all_query, order_list_all },
    { "GET",   "/api/orders/:id",        FV_USER,  NULL, NULL, order_get },
    { "POST",  "/api/orders/:id/cancel", FV_USER,  NULL, NULL, order_cancel },
    { "PATCH", "/api/orders/:id/status", FV_ADMIN, status_body, NULL, order_set_status },
    { "POST",  "/api/orders/reconcile",  FV_ADMIN, NULL, reconcile_query, order_reconcile },
    FV_ROUTES_END
};


static const fv_service_t  order_service = {
    ORDER_SERVICE,
    order_routes,
    FV_STORE_PG,
    1,                  /* order.created and order.status_changed leave through the outbox */
    NULL,
    NULL,
    NULL
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &order_service);
}
