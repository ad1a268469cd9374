/* consumers.c: the events the review service listens to: user.registered (reviewers'
 * names) and order.status_changed (verified purchases).  Each handler is idempotent on the
 * event id: the effect and the record of the id commit together. */

#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "review.h"
#include "store.h"


#define REVIEW_NAME_MAX    100       /* characters, as registration allows */
#define REVIEW_ITEMS_MAX   1000


static json_object *review_event_data(json_object *event);
static int64_t review_json_id(json_object *obj, const char *key);
static size_t review_utf8_chars(const char *s);


/* {userId, name, email, role, createdAt}: keeps the name shown on the user's reviews. */

int
review_on_user_registered(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    json_object  *data, *v;
    const char   *name;
    int64_t       user_id;
    int           rc, open;

    (void) type;
    open = 0;

    data = review_event_data(event);
    user_id = review_json_id(data, "userId");

    if (user_id <= 0 || !json_object_object_get_ex(data, "name", &v)
        || !json_object_is_type(v, json_type_string))
    {
        fv_log(FV_LOG_WARN, "user.registered %s without userId or name: dead-lettered",
               event_id);
        rc = FV_REJECT;
        goto out;
    }

    name = json_object_get_string(v);
    if (name[0] == '\0' || review_utf8_chars(name) > REVIEW_NAME_MAX) {
        fv_log(FV_LOG_WARN, "user.registered %s with an unusable name: dead-lettered",
               event_id);
        rc = FV_REJECT;
        goto out;
    }

    if ((rc = review_store_begin(w)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = fv_event_seen(w, "users", event_id);
    if (rc < 0) {
        goto out;
    }

    if (rc == 0 && (rc = review_store_reviewer_set(w, user_id, name)) != FV_OK) {
        goto out;
    }

    open = 0;
    rc = review_store_commit(w);

out:

    if (open) {
        review_store_rollback(w);
    }

    return rc;
}


/*
 * {orderId, userId, status, items:[{productId, ...}]}: when an order is delivered, its
 * products become purchases of the user, and the user's reviews of them (written before or
 * after) are verified purchases.  Other statuses change nothing.
 */

int
review_on_order_status(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    json_object  *data, *v, *items, *item, *pid, *ids;
    int64_t       user_id, order_id;
    size_t        i, n;
    int           rc, open;

    (void) type;
    open = 0;
    ids = NULL;

    data = review_event_data(event);

    if (!json_object_object_get_ex(data, "status", &v)
        || !json_object_is_type(v, json_type_string))
    {
        fv_log(FV_LOG_WARN, "order.status_changed %s without status: dead-lettered", event_id);
        rc = FV_REJECT;
        goto out;
    }

    if (strcmp(json_object_get_string(v), "delivered") != 0) {
        rc = FV_OK;
        goto out;
    }

    user_id = review_json_id(data, "userId");
    order_id = review_json_id(data, "orderId");

    if (user_id <= 0 || order_id <= 0 || !json_object_object_get_ex(data, "items", &items)
        || !json_object_is_type(items, json_type_array)
        || json_object_array_length(items) > REVIEW_ITEMS_MAX)
    {
        fv_log(FV_LOG_WARN, "order.status_changed %s: bad userId, orderId or items: "
               "dead-lettered", event_id);
        rc = FV_REJECT;
        goto out;
    }

    ids = json_object_new_array();
    if (ids == NULL) {
        rc = FV_ERROR;
        goto out;
    }

    n = json_object_array_length(items);
    for (i = 0; i < n; i++) {
        item = json_object_array_get_idx(items, i);

        if (!json_object_is_type(item, json_type_object)
            || !json_object_object_get_ex(item, "productId", &pid)
            || !json_object_is_type(pid, json_type_string)
            || !review_product_id_ok(json_object_get_string(pid)))
        {
            fv_log(FV_LOG_WARN, "order.status_changed %s: item %zu has no valid productId: "
                   "dead-lettered", event_id, i);
            rc = FV_REJECT;
            goto out;
        }

        if (json_object_array_add(ids, json_object_get(pid)) != 0) {
            json_object_put(pid);
            rc = FV_ERROR;
            goto out;
        }
    }

    if ((rc = review_store_begin(w)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = fv_event_seen(w, "orders", event_id);
    if (rc < 0) {
        goto out;
    }

    if (rc == 0 && (rc = review_store_purchases_add(w, user_id, order_id, ids)) != FV_OK) {
        goto out;
    }

    open = 0;
    rc = review_store_commit(w);

    if (rc == FV_OK) {
        fv_log(FV_LOG_INFO, "order %" PRId64 " delivered: %zu product(s) of user %" PRId64
               " recorded as purchases", order_id, n, user_id);
    }

out:

    if (open) {
        review_store_rollback(w);
    }

    json_object_put(ids);
    return rc;
}


static json_object *
review_event_data(json_object *event)
{
    json_object  *data;

    if (!json_object_object_get_ex(event, "data", &data)
        || !json_object_is_type(data, json_type_object))
    {
        return NULL;
    }

    return data;
}


/* A positive id given as a JSON integer or a string of digits; -1 otherwise. */

static int64_t
review_json_id(json_object *obj, const char *key)
{
    json_object  *v;
    const char   *s;
    char         *end;
    long long     n;

    if (obj == NULL || !json_object_object_get_ex(obj, key, &v)) {
        return -1;
    }

    if (json_object_is_type(v, json_type_int)) {
        n = (long long) json_object_get_int64(v);
        return n > 0 ? (int64_t) n : -1;
    }

    if (!json_object_is_type(v, json_type_string)) {
        return -1;
    }

    s = json_object_get_string(v);
    if (s[0] < '0' || s[0] > '9' || strlen(s) > 18) {
        return -1;
    }

    n = strtoll(s, &end, 10);
    return *end == '\0' && n > 0 ? (int64_t) n : -1;
}


static size_t
review_utf8_chars(const char *s)
{
    size_t  n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char) *s & 0xC0) != 0x80) {
            n++;
        }
    }

    return n;
}
