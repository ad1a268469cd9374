/* auth.h: what the auth service's files share: input limits, the process-wide context
 * built at start, and the handlers named by the route table. */

#ifndef AUTH_H
#define AUTH_H

#include "fv.h"
#include "password.h"
#include "tokens.h"


#define AUTH_SERVICE          "auth"

/* Input limits, in characters; the same for the API and for flores-admin. */
#define AUTH_NAME_MIN         2
#define AUTH_NAME_MAX         100
#define AUTH_EMAIL_MAX        254
#define AUTH_PASSWORD_MIN     8
#define AUTH_PASSWORD_MAX     128
#define AUTH_REFRESH_MAX      256


/* Built once by auth_init() before the workers start; read-only afterwards. */
typedef struct {
    auth_tokens_t         tokens;
    auth_password_t       password;
} auth_ctx_t;


int auth_register(fv_req_t *r);
int auth_login(fv_req_t *r);
int auth_refresh(fv_req_t *r);
int auth_logout(fv_req_t *r);
int auth_logout_all(fv_req_t *r);
int auth_me(fv_req_t *r);
int auth_change_password(fv_req_t *r);
int auth_jwks(fv_req_t *r);

#endif /* AUTH_H */
