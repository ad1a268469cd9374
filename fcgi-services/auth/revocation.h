/* revocation.h: telling the gateway which access tokens are revoked: (user, cutoff) pairs
 * pushed to its revocation endpoint at once and again every 10 s. */

#ifndef AUTH_REVOCATION_H
#define AUTH_REVOCATION_H

#include <stdint.h>
#include "fv.h"


#define AUTH_REVOCATION_PATH_MAX   256
#define AUTH_RESYNC_MS             10000

typedef struct {
    int                   enabled;      /* FLORES_INTERNAL_URL is set */
    char                  path[AUTH_REVOCATION_PATH_MAX];
    long                  window;       /* seconds: access TTL + leeway */
} auth_revocation_t;


/* FLORES_GATEWAY_REVOCATION_URL (a path, default "/revocations", or a URL whose path is
 * used) relative to FLORES_INTERNAL_URL; window is how long a cutoff matters.  -1 with a
 * logged reason on a bad value. */
int auth_revocation_init(auth_revocation_t *rv, const fv_conf_t *conf, long window);
/* POSTs "<user_id> <before>\n"; failures are logged (the periodic re-push retries). */
void auth_revocation_push(fv_worker_t *w, const auth_revocation_t *rv, const char *request_id,
    int64_t user_id, int64_t before);
/* The periodic task (arg: the auth_revocation_t): every cutoff later than now - window. */
void auth_revocation_resync(fv_worker_t *w, void *arg);

#endif /* AUTH_REVOCATION_H */
