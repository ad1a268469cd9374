/* consumers.c: the event the auth service listens to: user.role_changed, an administrator's
 * change of a user's role or active flag in the user service.  Tokens are issued from the
 * account as stored here, so the user's next token (login or refresh) carries the change; a
 * deactivated account can no longer sign in, and its sessions end.  A change that takes
 * access away (a demotion, a deactivation) also revokes the access tokens already out: the
 * cutoff is set and pushed to the gateway (revocation.c).  Idempotent on the event
 * id, and changes apply in the order they were made (their version). */

#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "store.h"


static int64_t auth_json_int(json_object *obj, const char *key);


/* {userId, role, active, version} */

int
auth_on_role_changed(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    const auth_ctx_t  *ctx = fv_server_data(fv_worker_server(w));
    auth_db_t     db = { w, NULL, NULL };
    json_object  *data, *v;
    const char   *role;
    int64_t       user_id, version, before;
    long          sessions;
    int           rc, open, active, applied;

    (void) type;
    open = 0;

    if (!json_object_object_get_ex(event, "data", &data)
        || !json_object_is_type(data, json_type_object))
    {
        data = NULL;
    }

    user_id = auth_json_int(data, "userId");
    version = auth_json_int(data, "version");
    role = NULL;
    active = -1;

    if (data != NULL && json_object_object_get_ex(data, "role", &v)
        && json_object_is_type(v, json_type_string)
        && (strcmp(json_object_get_string(v), "customer") == 0
            || strcmp(json_object_get_string(v), "admin") == 0))
    {
        role = json_object_get_string(v);
    }

    if (data != NULL && json_object_object_get_ex(data, "active", &v)
        && json_object_is_type(v, json_type_boolean))
    {
        active = json_object_get_boolean(v) ? 1 : 0;
    }

    if (user_id <= 0 || version <= 0 || role == NULL || active < 0) {
        fv_log(FV_LOG_WARN, "user.role_changed %s without a usable userId, role, active or "
               "version: dead-lettered", event_id);
        return FV_REJECT;
    }

    if ((rc = auth_store_begin(&db)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = fv_event_seen(w, "roles", event_id);
    if (rc < 0) {
        goto out;
    }

    applied = 0;
    sessions = 0;
    before = 0;

    if (rc == 0) {
        rc = auth_store_user_set_access(&db, user_id, role, active, version, &applied,
                                        &before);
        if (rc != FV_OK) {
            goto out;
        }

        if (applied && !active) {
            rc = auth_store_families_revoke_user(&db, user_id, NULL, &sessions);
            if (rc != FV_OK) {
                goto out;
            }
        }
    }

    open = 0;
    rc = auth_store_commit(&db);

    if (rc == FV_OK && applied) {
        fv_log(FV_LOG_INFO, "user %" PRId64 " is now %s, %s (version %" PRId64 "); "
               "%ld session(s) ended%s", user_id, role, active ? "active" : "inactive",
               version, sessions, before > 0 ? ", access tokens revoked" : "");
    }

    /* After the commit: the gateway refuses the tokens minted before the change. */
    if (rc == FV_OK && before > 0) {
        auth_revocation_push(w, &ctx->revocation, NULL, user_id, before);
    }

out:

    if (open) {
        auth_store_rollback(&db);
    }

    return rc;
}


/* A positive integer given as a JSON integer or a string of digits; -1 otherwise. */

static int64_t
auth_json_int(json_object *obj, const char *key)
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
