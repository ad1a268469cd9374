/* consumers.c: the events the user service listens to: user.registered, which creates the
 * profile, and user.role_change_requested, flores-admin's promotion or demotion of an
 * account, applied like an administrator's PATCH.  Both come on one queue, so a request
 * made right after the registration finds the profile.  The handlers are idempotent on the
 * event id: the effect and the record of the id commit together. */

#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "user.h"
#include "store.h"


static const char *user_event_text(json_object *data, const char *key, size_t max);
static int64_t user_json_id(json_object *obj, const char *key);
static size_t user_utf8_chars(const char *s);


/* {userId, name, email, role, createdAt} */

int
user_on_registered(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    json_object  *data;
    const char   *name, *email, *role, *created_at;
    int64_t       user_id;
    size_t        i;
    int           rc, open;

    (void) type;
    open = 0;

    if (!json_object_object_get_ex(event, "data", &data)
        || !json_object_is_type(data, json_type_object))
    {
        data = NULL;
    }

    user_id = user_json_id(data, "userId");
    name = user_event_text(data, "name", USER_NAME_MAX);
    email = user_event_text(data, "email", USER_EMAIL_MAX);

    if (user_id <= 0 || name == NULL || email == NULL || strlen(email) < 3) {
        fv_log(FV_LOG_WARN, "user.registered %s without a usable userId, name or email: "
               "dead-lettered", event_id);
        return FV_REJECT;
    }

    role = user_event_text(data, "role", 16);
    if (role == NULL || strcmp(role, "admin") != 0) {
        role = "customer";
    }

    /* An ISO-8601 time as auth writes it; anything else is replaced by now(). */
    created_at = user_event_text(data, "createdAt", 40);
    if (created_at != NULL) {
        for (i = 0; created_at[i] != '\0'; i++) {
            if (strchr("0123456789-:.TZ+", created_at[i]) == NULL) {
                break;
            }
        }
        if (created_at[i] != '\0' || i < 19 || created_at[4] != '-' || created_at[10] != 'T') {
            created_at = NULL;
        }
    }

    if ((rc = user_store_begin(w)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = fv_event_seen(w, "profiles", event_id);
    if (rc < 0) {
        goto out;
    }

    if (rc == 0
        && (rc = user_store_registered(w, user_id, name, email, role, created_at)) != FV_OK)
    {
        goto out;
    }

    open = 0;
    rc = user_store_commit(w);

out:

    if (open) {
        user_store_rollback(w);
    }

    return rc;
}


/*
 * {userId, role} (and optionally active), published by flores-admin from the auth service's
 * outbox.  The user service owns role, active and their version: it applies the request as
 * an administrator's PATCH does and publishes the resulting user.role_changed, which auth
 * applies like any other.  A profile not there yet (its user.registered retried) is waited
 * for.
 */

int
user_on_role_change_requested(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    user_access_t   acc;
    json_object    *data, *v;
    const char     *role;
    int64_t         user_id;
    int             rc, open, active, changed;

    open = 0;

    if (!json_object_object_get_ex(event, "data", &data)
        || !json_object_is_type(data, json_type_object))
    {
        data = NULL;
    }

    user_id = user_json_id(data, "userId");
    role = user_event_text(data, "role", 16);
    active = -1;

    if (data != NULL && json_object_object_get_ex(data, "active", &v)
        && json_object_is_type(v, json_type_boolean))
    {
        active = json_object_get_boolean(v) ? 1 : 0;
    }

    if (role != NULL && strcmp(role, "admin") != 0 && strcmp(role, "customer") != 0) {
        role = NULL;
    }

    if (user_id <= 0 || (role == NULL && active < 0)) {
        fv_log(FV_LOG_WARN, "%s %s without a usable userId, role or active: dead-lettered",
               type, event_id);
        return FV_REJECT;
    }

    if ((rc = user_store_begin(w)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = fv_event_seen(w, "profiles", event_id);
    if (rc < 0) {
        goto out;
    }

    changed = 0;

    if (rc == 0) {
        rc = user_store_access_change(w, user_id, role, active, &acc, &changed);
        if (rc == USER_STORE_NOT_FOUND) {
            fv_log(FV_LOG_INFO, "%s %s: no profile %" PRId64 " yet; retried", type, event_id,
                   user_id);
            rc = FV_RETRY;
            goto out;
        }

        if (rc != FV_OK) {
            goto out;
        }
    }

    open = 0;
    rc = user_store_commit(w);

    if (rc == FV_OK && changed) {
        fv_log(FV_LOG_INFO, "user %" PRId64 " is now %s, %s (version %" PRId64 "), as "
               "flores-admin asked", acc.id, acc.role, acc.active ? "active" : "inactive",
               acc.version);
    }

out:

    if (open) {
        user_store_rollback(w);
    }

    return rc;
}


/* Both events of the profiles queue. */

int
user_on_profile_event(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    if (strcmp(type, "user.role_change_requested") == 0) {
        return user_on_role_change_requested(w, type, event_id, event);
    }

    return user_on_registered(w, type, event_id, event);
}


/* A non-empty string member of at most max characters; NULL otherwise. */

static const char *
user_event_text(json_object *data, const char *key, size_t max)
{
    json_object  *v;
    const char   *s;

    if (data == NULL || !json_object_object_get_ex(data, key, &v)
        || !json_object_is_type(v, json_type_string))
    {
        return NULL;
    }

    s = json_object_get_string(v);
    if (s[0] == '\0' || user_utf8_chars(s) > max) {
        return NULL;
    }

    return s;
}


/* A positive id given as a JSON integer or a string of digits; -1 otherwise. */

static int64_t
user_json_id(json_object *obj, const char *key)
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
user_utf8_chars(const char *s)
{
    size_t  n = 0;

    for (; *s != '\0'; s++) {
        if (((unsigned char) *s & 0xC0) != 0x80) {
            n++;
        }
    }

    return n;
}
