/* main.c: the cart service: each customer's cart under /api/cart, in Redis, priced by the
 * catalogue on every read. */

#include "config.h"

#include <stdlib.h>

#include "cart.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }


/* Names and prices a client sends are ignored: the catalogue's are shown. */
static const fv_field_t  add_body[] = {
    { "productId", FV_STRING, FV_REQUIRED, 1, CART_PRODUCT_ID_MAX, NULL, NULL },
    { "quantity",  FV_INT,    FV_REQUIRED, 1, CART_QUANTITY_MAX, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  set_body[] = {
    { "quantity",  FV_INT,    FV_REQUIRED, 0, CART_QUANTITY_MAX, NULL, NULL },
    FIELDS_END
};


static const fv_route_t  cart_routes[] = {
    { "GET",    "/api/cart",                  FV_USER, NULL, NULL, cart_get },
    { "DELETE", "/api/cart",                  FV_USER, NULL, NULL, cart_clear },
    { "POST",   "/api/cart/items",            FV_USER, add_body, NULL, cart_add },
    { "PUT",    "/api/cart/items/:productId", FV_USER, set_body, NULL, cart_set },
    { "DELETE", "/api/cart/items/:productId", FV_USER, NULL, NULL, cart_remove },
    /* Other services, through the internal listener only: the wishlist's move-to-cart, the
     * order service reading and emptying the cart it orders. */
    { "POST",   "/api/cart/internal/users/:userId/items", FV_SERVICE, add_body, NULL,
                cart_add_for_user },
    { "GET",    "/api/cart/internal/users/:userId", FV_SERVICE, NULL, NULL, cart_lines_for_user },
    { "DELETE", "/api/cart/internal/users/:userId", FV_SERVICE, NULL, NULL, cart_clear_for_user },
    FV_ROUTES_END
};


static const fv_service_t  cart_service = {
    CART_SERVICE,
    cart_routes,
    FV_STORE_REDIS,
    0,
    NULL,
    NULL,
    NULL
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &cart_service);
}
