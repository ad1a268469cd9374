/* wishlist.h: what the wishlist service's files share. */

#ifndef WISHLIST_H
#define WISHLIST_H

#include "fv.h"
#include "fv_catalog.h"


#define WISHLIST_SERVICE         "wishlist"

#define WISHLIST_ITEMS_MAX       100          /* products in one wishlist */
#define WISHLIST_PRODUCT_ID_MAX  FV_PRODUCT_ID_MAX

/* Results besides FV_OK, FV_ERROR and FV_STORE_DOWN. */
#define WISHLIST_ABSENT          1            /* no such item, or no such product */
#define WISHLIST_PRESENT         2            /* the product was already in the wishlist */
#define WISHLIST_FULL            3

#define WISHLIST_MSG_PRODUCT_ID  "Debe ser un identificador de producto (A-Z, 0-9, _ o -, hasta 32)"
#define WISHLIST_MSG_NO_PRODUCT  "El producto no existe o ya no está a la venta"
#define WISHLIST_MSG_NO_ITEM     "El producto no está en la lista de deseos"


/* handlers.c */
int wishlist_get(fv_req_t *r);
int wishlist_clear(fv_req_t *r);
int wishlist_add(fv_req_t *r);
int wishlist_remove(fv_req_t *r);
int wishlist_move(fv_req_t *r);

/* store.c: wishlist:<userId>, a sorted set of product ids scored by when they were added
 * (milliseconds since 1970). */
typedef struct {
    char                  product_id[WISHLIST_PRODUCT_ID_MAX + 1];
    long long             added_ms;
} wishlist_item_t;

/* FV_OK (added), WISHLIST_PRESENT, WISHLIST_FULL, FV_ERROR or FV_STORE_DOWN. */
int wishlist_store_add(fv_worker_t *w, const char *user_id, const char *product_id);
/* FV_OK, WISHLIST_ABSENT, ... */
int wishlist_store_remove(fv_worker_t *w, const char *user_id, const char *product_id);
int wishlist_store_has(fv_worker_t *w, const char *user_id, const char *product_id);
/* Newest first. */
int wishlist_store_items(fv_worker_t *w, const char *user_id, wishlist_item_t *items,
    size_t *n);
int wishlist_store_clear(fv_worker_t *w, const char *user_id);

#endif /* WISHLIST_H */
