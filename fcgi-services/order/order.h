/* order.h: what the order service's files share: input limits, the shipping rule, the
 * handlers named by the route table. */

#ifndef ORDER_H
#define ORDER_H

#include "fv.h"


#define ORDER_SERVICE          "order"

#define ORDER_LINES_MAX        50
#define ORDER_QUANTITY_MAX     100
#define ORDER_NOTES_MAX        500
#define ORDER_PRODUCT_MAX      32
#define ORDER_KEY_MAX          64
#define ORDER_DELIVERY_DAYS    90       /* deliveryDate: today .. today + 90 (Chile time) */

/* Shipping: free from ORDER_FREE_FROM CLP of subtotal, else ORDER_SHIPPING_FEE. */
#define ORDER_FREE_FROM        50000
#define ORDER_SHIPPING_FEE     3990

/* An Idempotency-Key's second request waits this long for the first one's answer. */
#define ORDER_KEY_WAIT_MS      15000

/* POST /api/orders/reconcile: orders unchanged this long (s) by default, this many a call. */
#define ORDER_RECONCILE_AGE    600
#define ORDER_RECONCILE_MAX    100


int order_create(fv_req_t *r);
int order_list_mine(fv_req_t *r);
int order_list_all(fv_req_t *r);
int order_get(fv_req_t *r);
int order_cancel(fv_req_t *r);
int order_set_status(fv_req_t *r);
int order_reconcile(fv_req_t *r);

#endif /* ORDER_H */
