/* store.h: every query of the review service (reviews, reviewers, purchases, outbox). */

#ifndef REVIEW_STORE_H
#define REVIEW_STORE_H

#include <stdint.h>
#include "fv.h"
#include "review.h"


/* Besides FV_OK, FV_ERROR and FV_STORE_DOWN, store calls return: */
#define REVIEW_STORE_CONFLICT    1    /* the user has already reviewed the product */
#define REVIEW_STORE_NOT_FOUND   2    /* no such review */


/* A review as stored: what events and permission checks need, and its public form. */
typedef struct {
    int64_t               id;
    int64_t               user_id;
    int                   rating;
    char                  product_id[REVIEW_PRODUCT_MAX + 1];
    json_object          *json;        /* {id, productId, rating, title, comment, authorName,
                                          verifiedPurchase, mine, createdAt, updatedAt};
                                          the caller's (json_object_put) */
} review_row_t;


int review_store_begin(fv_worker_t *w);
int review_store_commit(fv_worker_t *w);
void review_store_rollback(fv_worker_t *w);

/* One page of a product's reviews, newest first, and the summary of all of them, read in
 * one statement (one snapshot).  viewer: the caller's user id, or -1; it sets "mine". */
int review_store_page(fv_worker_t *w, const char *product_id, long page, long limit,
    int64_t viewer, json_object **reviews, json_object **summary, long *total);

/* Inserts a review, verified when the user has received the product;
 * REVIEW_STORE_CONFLICT when the user has already reviewed it.  title may be NULL. */
int review_store_insert(fv_worker_t *w, const char *product_id, int64_t user_id, int rating,
    const char *title, const char *comment, review_row_t *row);
/* SELECT ... FOR UPDATE: the review stays locked until the transaction ends;
 * REVIEW_STORE_NOT_FOUND for an unknown id.  viewer as above. */
int review_store_lock(fv_worker_t *w, int64_t id, int64_t viewer, review_row_t *row);
/* Replaces rating, title and comment of a review locked by review_store_lock(). */
int review_store_replace(fv_worker_t *w, int64_t id, int64_t viewer, int rating,
    const char *title, const char *comment, review_row_t *row);
int review_store_delete(fv_worker_t *w, int64_t id);
/* Writes an event to the outbox in the open transaction; data stays the caller's. */
int review_store_event(fv_worker_t *w, const char *type, json_object *data);

/* Consumers, inside their transaction.  The reviewer's name as given at registration. */
int review_store_reviewer_set(fv_worker_t *w, int64_t user_id, const char *name);
/* Records that the user received these products with an order (product_ids: a JSON array
 * of strings), and marks the user's reviews of them verified. */
int review_store_purchases_add(fv_worker_t *w, int64_t user_id, int64_t order_id,
    json_object *product_ids);

void review_row_free(review_row_t *row);

#endif /* REVIEW_STORE_H */
