/* main.c: the review service: customers' reviews of products under /api/reviews, and the
 * events that keep reviewers' names and verified purchases. */

#include "config.h"

#include <stdlib.h>

#include "review.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }


/* Create and replace take the same body; an absent, null or blank title means none. */
static const fv_field_t  review_body[] = {
    { "rating",   FV_INT,    FV_REQUIRED, REVIEW_RATING_MIN, REVIEW_RATING_MAX, NULL, NULL },
    { "title",    FV_STRING, FV_NULLABLE | FV_TRIM, 0, REVIEW_TITLE_MAX, NULL, NULL },
    { "comment",  FV_STRING, FV_REQUIRED | FV_TRIM | FV_MULTILINE,
                  REVIEW_COMMENT_MIN, REVIEW_COMMENT_MAX, NULL, NULL },
    FIELDS_END
};


static const fv_route_t  review_routes[] = {
    { "GET",    "/api/reviews/product/:productId", FV_PUBLIC, NULL, NULL, review_list },
    { "POST",   "/api/reviews/product/:productId", FV_USER, review_body, NULL, review_create },
    { "PUT",    "/api/reviews/:id",                FV_USER, review_body, NULL, review_update },
    { "DELETE", "/api/reviews/:id",                FV_USER, NULL, NULL, review_delete },
    FV_ROUTES_END
};


static const char *const  users_bindings[] = { "user.registered", NULL };
static const char *const  orders_bindings[] = { "order.status_changed", NULL };

static const fv_consumer_t  review_consumers[] = {
    /* Reviewers' display names (queue review.users). */
    { "users",  users_bindings,  review_on_user_registered, 0, 0 },
    /* Delivered orders make verified purchases (queue review.orders). */
    { "orders", orders_bindings, review_on_order_status, 0, 0 },
    { NULL, NULL, NULL, 0, 0 }
};


static const fv_service_t  review_service = {
    REVIEW_SERVICE,
    review_routes,
    FV_STORE_PG,
    1,                  /* review.created|updated|deleted leave through the outbox */
    NULL,
    NULL,
    review_consumers
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &review_service);
}
