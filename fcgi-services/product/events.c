/* events.c: the review events a product's rating and reviews_count follow (queue
 * product.reviews).  Their data, as the review service publishes it:
 *   review.created {reviewId, productId, userId, rating}
 *   review.updated {reviewId, productId, userId, rating, previousRating}
 *   review.deleted {reviewId, productId, userId, rating}
 * Each event moves the product's ratingSum and ratingCount once (store.c keeps the ids of
 * the events applied), so a redelivery changes nothing. */

#include "config.h"

#include <string.h>

#include "product.h"
#include "store.h"


/* A rating 1..5 under name, or -1. */
static int
product_event_rating(json_object *data, const char *name)
{
    json_object  *v;
    int64_t       n;

    if (!json_object_object_get_ex(data, name, &v) || !json_object_is_type(v, json_type_int)) {
        return -1;
    }

    n = json_object_get_int64(v);

    return n >= 1 && n <= 5 ? (int) n : -1;
}


int
product_review_event(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    json_object  *data, *v;
    const char   *product_id;
    int           rating, previous, dsum, dcount, rc;

    if (!json_object_object_get_ex(event, "data", &data)
        || !json_object_is_type(data, json_type_object)
        || !json_object_object_get_ex(data, "productId", &v)
        || !json_object_is_type(v, json_type_string)
        || !product_id_ok(json_object_get_string(v)))
    {
        fv_log(FV_LOG_WARN, "%s %s: no valid productId: dead-lettered", type, event_id);
        return FV_REJECT;
    }

    product_id = json_object_get_string(v);
    rating = product_event_rating(data, "rating");

    if (rating < 0) {
        fv_log(FV_LOG_WARN, "%s %s: no rating from 1 to 5: dead-lettered", type, event_id);
        return FV_REJECT;
    }

    if (strcmp(type, "review.created") == 0) {
        dsum = rating;
        dcount = 1;

    } else if (strcmp(type, "review.deleted") == 0) {
        dsum = -rating;
        dcount = -1;

    } else if (strcmp(type, "review.updated") == 0) {
        previous = product_event_rating(data, "previousRating");
        if (previous < 0) {
            fv_log(FV_LOG_WARN, "%s %s: no previousRating from 1 to 5: dead-lettered", type,
                event_id);
            return FV_REJECT;
        }
        dsum = rating - previous;
        dcount = 0;

    } else {
        fv_log(FV_LOG_WARN, "%s %s: not a review event: dead-lettered", type, event_id);
        return FV_REJECT;
    }

    rc = product_store_review(w, product_id, event_id, dsum, dcount);

    if (rc == PRODUCT_STORE_NOT_FOUND) {
        /* The review service only accepts reviews of products it saw on sale, and products
         * are never removed: nothing to follow, nothing to retry. */
        fv_log(FV_LOG_WARN, "%s %s: unknown product %s: ignored", type, event_id, product_id);
        rc = FV_OK;
    }

    return rc;
}
