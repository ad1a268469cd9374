/* auth.h: what the auth service's files share: input limits, the process-wide context
 * built at start, and the handlers named by the route table. */

#ifndef AUTH_H
#define AUTH_H

#include "fv.h"
#include "password.h"
#include "tokens.h"
#include "revocation.h"


#define AUTH_SERVICE          "auth"

/* Input limits, in characters; the same for the API and for flores-admin. */
#define AUTH_NAME_MIN         2
#define AUTH_NAME_MAX         100
#define AUTH_EMAIL_MAX        254
#define AUTH_PASSWORD_MIN     8
#define AUTH_PASSWORD_MAX     128
#define AUTH_REFRESH_MAX      256
#define AUTH_RESET_TOKEN_MAX  256
#define AUTH_RESET_URL_MAX    512       /* bytes of FLORES_RESET_URL_BASE */


/* Password resets: where the mailed link points, how long a token lives, and how long a
 * forgot-password answer takes at least (whether or not the email has an account). */
typedef struct {
    char                  url_base[AUTH_RESET_URL_MAX];   /* FLORES_RESET_URL_BASE */
    long                  ttl;          /* seconds, FLORES_RESET_TTL, default 1800 */
    long                  min_ms;       /* FLORES_RESET_MIN_MS, default 150 */
} auth_reset_t;

/* The browser's refresh token cookie (requests with "X-Flores-Client: web"): HttpOnly,
 * SameSite=Strict, Path=/api/auth; Secure as FLORES_COOKIE_SECURE says: "auto" (default:
 * when the request came over HTTPS, REQUEST_SCHEME or X-Forwarded-Proto), "1", "0". */
#define AUTH_COOKIE_NAME      "flores_refresh"
#define AUTH_COOKIE_PATH      "/api/auth"
#define AUTH_WEB_HEADER       "X-Flores-Client"
#define AUTH_WEB_CLIENT       "web"

typedef enum {
    AUTH_SECURE_AUTO = 0,
    AUTH_SECURE_ALWAYS,
    AUTH_SECURE_NEVER
} auth_secure_e;

/* Built once by auth_init() before the workers start; read-only afterwards. */
typedef struct {
    auth_tokens_t         tokens;
    auth_password_t       password;
    auth_reset_t          reset;
    auth_secure_e         cookie_secure;
    auth_revocation_t     revocation;
} auth_ctx_t;


int auth_register(fv_req_t *r);
int auth_login(fv_req_t *r);
int auth_refresh(fv_req_t *r);
int auth_logout(fv_req_t *r);
int auth_logout_all(fv_req_t *r);
int auth_me(fv_req_t *r);
int auth_change_password(fv_req_t *r);
int auth_forgot_password(fv_req_t *r);
int auth_reset_password(fv_req_t *r);
int auth_jwks(fv_req_t *r);

int auth_on_role_changed(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);

#endif /* AUTH_H */
