/* review.h: what the review service's files share: input limits, the handlers named by the
 * route table and the event consumers. */

#ifndef REVIEW_H
#define REVIEW_H

#include "fv.h"


#define REVIEW_SERVICE        "review"

/* Input limits, in characters. */
#define REVIEW_RATING_MIN     1
#define REVIEW_RATING_MAX     5
#define REVIEW_TITLE_MAX      120
#define REVIEW_COMMENT_MIN    10
#define REVIEW_COMMENT_MAX    2000
#define REVIEW_PRODUCT_MAX    32

/* Shown for a reviewer whose name the service has not learnt (user.registered). */
#define REVIEW_ANONYMOUS      "Cliente"


int review_list(fv_req_t *r);
int review_create(fv_req_t *r);
int review_update(fv_req_t *r);
int review_delete(fv_req_t *r);

int review_on_user_registered(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);
int review_on_order_status(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);

/* True when s is a catalogue id: [A-Z0-9_-]{1,32}. */
int review_product_id_ok(const char *s);

#endif /* REVIEW_H */
