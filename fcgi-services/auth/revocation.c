/* revocation.c: telling the gateway which access tokens are revoked: (user, cutoff) pairs
 * pushed to its revocation endpoint at once and again every 10 s. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fv_http.h"
#include "auth.h"
#include "store.h"


/*
 * An access token is not looked up by the gateway: it is good until it expires.  To end one
 * sooner, auth keeps per user a cutoff (auth.users.tokens_valid_after, unix seconds) and the
 * gateway refuses the user's tokens whose iat is earlier.  The gateway learns the cutoffs
 * from POSTs of text lines "<sub> <cutoff>\n" (a later cutoff replaces an earlier one):
 *
 *   - at once, after the transaction that set the cutoff committed (logout-all, password
 *     change or reset, demotion, deactivation), within the request and its bounded timeout;
 *   - again, every cutoff that can still matter (later than now - access TTL - leeway:
 *     older ones only concern expired tokens), when the service starts and every 10 s, from
 *     a periodic task: a push that failed, or a gateway that restarted and lost its table,
 *     is whole again within 10 s.
 *
 * The body stays under the endpoint's 64 KiB: a long list goes in several POSTs.
 */

#define AUTH_REVOCATION_BODY_MAX   (60 * 1024)
#define AUTH_REVOCATION_TYPE       "text/plain"

typedef struct {
    fv_worker_t              *worker;
    const auth_revocation_t  *rv;
    char                     *body;       /* AUTH_REVOCATION_BODY_MAX bytes */
    size_t                    len;
    long                      users;
    int                       failed;
} auth_resync_t;


static int auth_revocation_post(fv_worker_t *w, const auth_revocation_t *rv,
    const char *request_id, const char *body, size_t len);
static void auth_resync_line(int64_t user_id, int64_t before, void *arg);


int
auth_revocation_init(auth_revocation_t *rv, const fv_conf_t *conf, long window)
{
    const char  *v, *base;
    size_t       len;

    memset(rv, 0, sizeof(*rv));
    rv->window = window;

    v = fv_conf_str(conf, "FLORES_GATEWAY_REVOCATION_URL", "/revocations");

    /* A whole URL names the gateway's listener; the path is what is asked of it. */
    if (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) {
        v = strchr(v + (v[4] == 's' ? 8 : 7), '/');
        if (v == NULL) {
            v = "/";
        }
    }

    len = strlen(v);
    if (v[0] != '/' || len >= sizeof(rv->path) || strpbrk(v, " \t\r\n") != NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_GATEWAY_REVOCATION_URL must be a path (or an http URL) "
               "shorter than %zu bytes", sizeof(rv->path));
        return -1;
    }

    memcpy(rv->path, v, len + 1);

    base = fv_conf_str(conf, "FLORES_INTERNAL_URL", NULL);
    rv->enabled = base != NULL && *base != '\0';

    if (rv->enabled) {
        fv_log(FV_LOG_INFO, "token revocations pushed to the gateway's %s", rv->path);
    } else {
        fv_log(FV_LOG_WARN, "FLORES_INTERNAL_URL is not set: token revocations are not pushed "
               "to the gateway (access tokens then live until they expire)");
    }

    return 0;
}


void
auth_revocation_push(fv_worker_t *w, const auth_revocation_t *rv, const char *request_id,
    int64_t user_id, int64_t before)
{
    char  line[48];
    int   n;

    if (!rv->enabled || before <= 0) {
        return;
    }

    n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n", user_id, before);

    if (auth_revocation_post(w, rv, request_id, line, (size_t) n) != 0) {
        fv_log(FV_LOG_WARN, "revocation of user %" PRId64 "'s tokens before %" PRId64
               " not delivered to the gateway: the periodic re-push retries it", user_id,
               before);
    }
}


void
auth_revocation_resync(fv_worker_t *w, void *arg)
{
    const auth_revocation_t  *rv = arg;
    auth_db_t                 db = { w, NULL, NULL };
    auth_resync_t             rs;

    if (!rv->enabled) {
        return;
    }

    memset(&rs, 0, sizeof(rs));
    rs.worker = w;
    rs.rv = rv;
    rs.body = malloc(AUTH_REVOCATION_BODY_MAX);
    if (rs.body == NULL) {
        return;
    }

    if (auth_store_revocations(&db, (int64_t) time(NULL) - rv->window, auth_resync_line, &rs)
        != FV_OK)
    {
        fv_log(FV_LOG_WARN, "token revocations not re-pushed: the database is not available");
        goto out;
    }

    if (rs.len > 0 && !rs.failed
        && auth_revocation_post(w, rv, NULL, rs.body, rs.len) != 0)
    {
        rs.failed = 1;
    }

    if (rs.failed) {
        fv_log(FV_LOG_WARN, "token revocations not re-pushed to the gateway; next try in "
               "%d s", AUTH_RESYNC_MS / 1000);
    } else if (rs.users > 0) {
        fv_log(FV_LOG_DEBUG, "token revocations of %ld user(s) re-pushed", rs.users);
    }

out:

    free(rs.body);
}


/* Appends a line, sending the body first when it would outgrow the endpoint's limit. */

static void
auth_resync_line(int64_t user_id, int64_t before, void *arg)
{
    auth_resync_t  *rs = arg;
    char            line[48];
    int             n;

    if (rs->failed) {
        return;
    }

    n = snprintf(line, sizeof(line), "%" PRId64 " %" PRId64 "\n", user_id, before);

    if (rs->len + (size_t) n > AUTH_REVOCATION_BODY_MAX) {
        if (auth_revocation_post(rs->worker, rs->rv, NULL, rs->body, rs->len) != 0) {
            rs->failed = 1;
            return;
        }
        rs->len = 0;
    }

    memcpy(rs->body + rs->len, line, (size_t) n);
    rs->len += (size_t) n;
    rs->users++;
}


/* 0 when the gateway took the lines (2xx), -1 otherwise (logged). */

static int
auth_revocation_post(fv_worker_t *w, const auth_revocation_t *rv, const char *request_id,
    const char *body, size_t len)
{
    long  status;
    int   rc;

    rc = fv_http_text(w, "POST", rv->path, AUTH_REVOCATION_TYPE, body, len, request_id,
                      &status);

    if (rc != FV_OK) {
        return -1;
    }

    if (status < 200 || status > 299) {
        fv_log(FV_LOG_WARN, "POST %s: the gateway answered %ld", rv->path, status);
        return -1;
    }

    return 0;
}
