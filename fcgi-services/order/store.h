/* store.h: every query of the order service (store.c).  Calls return FV_OK, FV_ERROR,
 * FV_STORE_DOWN or one of the ORDER_STORE_* answers below. */

#ifndef ORDER_STORE_H
#define ORDER_STORE_H

#include "fv.h"


#define ORDER_STORE_NOT_FOUND   1
#define ORDER_STORE_INVALID     2     /* the transition is not allowed */
#define ORDER_STORE_BUSY        3     /* an Idempotency-Key's first request is still running */

typedef struct {
    int64_t        user_id;
    const char    *email;
    const char    *items;            /* JSON text */
    int64_t        subtotal;
    int64_t        shipping;
    int64_t        total;
    const char    *address;          /* JSON text */
    int64_t        address_id;       /* 0: given inline */
    const char    *delivery_date;    /* NULL: none */
    const char    *payment_method;
    const char    *notes;            /* NULL: none */
} order_new_t;

/* Days from today (Chile time) to date. */
int order_store_days_until(fv_worker_t *w, const char *date, long *days);

/* Claims (user, key) in its own transaction: *claimed 1 when this request is the first. */
int order_store_key_claim(fv_worker_t *w, int64_t user_id, const char *key,
    const char *fingerprint, int *claimed);
/* The first request's answer: FV_OK with *status and *body (malloc'ed) when stored,
 * ORDER_STORE_BUSY while it runs, ORDER_STORE_NOT_FOUND when it gave the key up;
 * *same 0 when the first request had another body. */
int order_store_key_answer(fv_worker_t *w, int64_t user_id, const char *key,
    const char *fingerprint, int *same, int *status, char **body);
int order_store_key_save(fv_worker_t *w, int64_t user_id, const char *key, int status,
    const char *body);
int order_store_key_drop(fv_worker_t *w, int64_t user_id, const char *key);

/* Inserts the order (stage reserving) with its number; *id receives its id. */
int order_store_insert(fv_worker_t *w, const order_new_t *o, int64_t *id);
/* Removes an order that never held stock (stage reserving, nothing reserved). */
int order_store_discard(fv_worker_t *w, int64_t id);
/* Records one reserved line ({"productId","quantity"} JSON text). */
int order_store_reserved(fv_worker_t *w, int64_t id, const char *line);
/* Ends the reservation in one transaction: ok → pending, held, order.created in the outbox;
 * else cancelled with reason, released.  *order receives the order. */
int order_store_settle(fv_worker_t *w, int64_t id, int ok, const char *reason,
    json_object **order);

/* Whose orders a call reaches.  ORDER_ANY_OWNER is an administrator's reach, said in so
 * many words by a handler that checked the principal; ORDER_OWNER restricts every query to
 * user_id's orders, and there a user_id that is not positive reaches no order at all: no
 * id value ever means "every order". */
typedef enum {
    ORDER_OWNER = 0,
    ORDER_ANY_OWNER
} order_scope_e;

/* One order (ORDER_STORE_NOT_FOUND when out of reach). */
int order_store_get(fv_worker_t *w, int64_t id, order_scope_e scope, int64_t user_id,
    json_object **order);
/* A page, newest first; status NULL: any. */
int order_store_list(fv_worker_t *w, order_scope_e scope, int64_t user_id,
    const char *status, long page, long limit, json_object **orders, long *total);

/* Moves the order to status in one transaction with its order.status_changed event.
 * ORDER_OWNER: the owner acting (customer rules); ORDER_ANY_OWNER: an administrator.  When
 * the order is cancelled while its stock is held, *release receives the lines to give back
 * (stage releasing).  *order receives the order. */
int order_store_transition(fv_worker_t *w, int64_t id, order_scope_e scope, int64_t user_id,
    const char *status, json_object **order, json_object **release);
/* Every line given back: stage released. */
int order_store_released(fv_worker_t *w, int64_t id);

/* Reconciling after a crash: up to max orders whose stock is neither held nor given back
 * (stage reserving or releasing) and unchanged for older_than seconds. */
int order_store_stale(fv_worker_t *w, long older_than, int64_t *ids, size_t max, size_t *n);
/* Claims one of them (stage releasing; one left reserving becomes cancelled with reason
 * INTERRUPTED); *lines receives the lines to give back.  ORDER_STORE_NOT_FOUND when another
 * reconciler took it or it changed meanwhile. */
int order_store_claim_stale(fv_worker_t *w, int64_t id, long older_than, json_object **lines);

#endif /* ORDER_STORE_H */
