/* store.h: every MongoDB query of the product service (collection "products"). */

#ifndef PRODUCT_STORE_H
#define PRODUCT_STORE_H

#include <stdint.h>
#include "fv.h"
#include "product.h"


/* Besides FV_OK, FV_ERROR and FV_STORE_DOWN, store calls return: */
#define PRODUCT_STORE_CONFLICT    1    /* the product id is taken */
#define PRODUCT_STORE_NOT_FOUND   2    /* no such product (or not on sale, for the public) */
#define PRODUCT_STORE_SHORT       3    /* the stock would fall below zero */
#define PRODUCT_STORE_OVER        4    /* the stock would pass PRODUCT_STOCK_MAX */


/* A listing: filters taken literally (NULL / -1: none), a sort, a page. */
typedef struct {
    const char           *category;
    const char           *occasion;
    const char           *color;
    const char           *search;        /* literal text, matched case-insensitively */
    int64_t               min_price;
    int64_t               max_price;
    int                   featured;      /* -1: either */
    int                   all;           /* withdrawn products too (administrators) */
    const char           *sort;          /* one of list_sorts; NULL: featured, then newest */
    int64_t               skip;
    int64_t               limit;
} product_query_t;


/* Reads and checks FLORES_PRODUCT_SEED into ctx->seed (an array of products). */
int product_store_seed_load(product_ctx_t *ctx);

int product_store_list(fv_worker_t *w, const product_query_t *q, json_object **products,
    int64_t *total);
/* The product's view; only a product on sale unless all is set. */
int product_store_get(fv_worker_t *w, const char *id, int all, json_object **product);
/* categories: field "category"; occasions: field "occasions" (an array).  The active
 * products' values with their counts: [{slug, name, count}], most frequent first. */
int product_store_facets(fv_worker_t *w, const char *field, json_object **list);

/* body is a validated product (product_validate()); *product receives the stored view. */
int product_store_create(fv_worker_t *w, json_object *body, json_object **product);
int product_store_update(fv_worker_t *w, const char *id, json_object *body,
    product_mode_e mode, json_object **product);
int product_store_deactivate(fv_worker_t *w, const char *id, json_object **product);
/* relative: stock += value, atomically refused below zero or above the maximum;
 * otherwise stock = value.  *stock receives the new stock. */
int product_store_stock(fv_worker_t *w, const char *id, int relative, int64_t value,
    int64_t *stock);

/* Applies one review event to the product's rating once: ratingSum += dsum and
 * ratingCount += dcount unless event_id was applied already, then rating and reviews_count
 * from them.  PRODUCT_STORE_NOT_FOUND for an unknown product. */
int product_store_review(fv_worker_t *w, const char *product_id, const char *event_id,
    int dsum, int dcount);

#endif /* PRODUCT_STORE_H */
