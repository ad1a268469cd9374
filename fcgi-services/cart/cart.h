/* cart.h: what the cart service's files share. */

#ifndef CART_H
#define CART_H

#include "fv.h"
#include "fv_catalog.h"


#define CART_SERVICE          "cart"

#define CART_QUANTITY_MAX     100          /* units of one product in a cart */
#define CART_LINES_MAX        50           /* different products in a cart */
#define CART_TTL              2592000      /* 30 days after the last change, in seconds */
#define CART_PRODUCT_ID_MAX   FV_PRODUCT_ID_MAX

/* Results of store and catalogue calls besides FV_OK, FV_ERROR and FV_STORE_DOWN. */
#define CART_ABSENT           1            /* no such line, or no such product */
#define CART_OVER_QUANTITY    2            /* the line would hold more than CART_QUANTITY_MAX */
#define CART_FULL             3            /* a new line beyond CART_LINES_MAX */

#define CART_MSG_PRODUCT_ID   "Debe ser un identificador de producto (A-Z, 0-9, _ o -, hasta 32)"
#define CART_MSG_NO_PRODUCT   "El producto no existe o ya no está a la venta"
#define CART_MSG_NO_LINE      "El producto no está en el carrito"


/* handlers.c */
int cart_get(fv_req_t *r);
int cart_clear(fv_req_t *r);
int cart_add(fv_req_t *r);
int cart_add_for_user(fv_req_t *r);
int cart_lines_for_user(fv_req_t *r);
int cart_clear_for_user(fv_req_t *r);
int cart_set(fv_req_t *r);
int cart_remove(fv_req_t *r);

/* store.c: cart:<userId>, a hash productId -> quantity. */
typedef struct {
    char                  product_id[CART_PRODUCT_ID_MAX + 1];
    long long             quantity;
} cart_line_t;

/* Adds quantity to the line (creating it); *total receives the line's new quantity.
 * FV_OK, CART_OVER_QUANTITY, CART_FULL, FV_ERROR or FV_STORE_DOWN. */
int cart_store_add(fv_worker_t *w, const char *user_id, const char *product_id,
    long quantity, long long *total);
/* Sets an existing line's quantity (0 removes it).  FV_OK, CART_ABSENT, FV_ERROR or
 * FV_STORE_DOWN. */
int cart_store_set(fv_worker_t *w, const char *user_id, const char *product_id, long quantity);
/* The lines sorted by product id (at most CART_LINES_MAX are read into lines). */
int cart_store_lines(fv_worker_t *w, const char *user_id, cart_line_t *lines, size_t *n);
int cart_store_clear(fv_worker_t *w, const char *user_id);

#endif /* CART_H */
