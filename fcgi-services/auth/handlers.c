/* handlers.c: the auth endpoints.  The route table has already checked the caller and the
 * body; a handler reads its fields, calls the store and answers, leaving by one exit. */

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth.h"
#include "store.h"


#define AUTH_MSG_CREDENTIALS   "Correo o contraseña incorrectos"
#define AUTH_MSG_REFRESH       "La sesión expiró o no es válida; inicia sesión de nuevo"
#define AUTH_MSG_UNAUTHORIZED  "Se requiere una sesión válida"
#define AUTH_MSG_CURRENT       "La contraseña actual no es correcta"
#define AUTH_MSG_FORGOT        "Si el correo corresponde a una cuenta, te enviamos un enlace " \
                               "para restablecer la contraseña"
#define AUTH_MSG_RESET_TOKEN   "El enlace para restablecer la contraseña no es válido o ya " \
                               "expiró; solicita uno nuevo"


static const auth_ctx_t *auth_ctx(fv_req_t *r);
static const char *auth_field(const fv_req_t *r, const char *name);
static json_object *auth_user_json(const auth_user_t *user);
static int auth_issue(fv_req_t *r, auth_db_t *db, const auth_user_t *user,
    const char *family_id, json_object **data);
static int auth_unauthorized(fv_req_t *r);
static void auth_rehash(fv_req_t *r, auth_db_t *db, const auth_user_t *user,
    const char *password);
static double auth_clock_ms(void);
static void auth_wait_until(double deadline_ms);
static int auth_web(const fv_req_t *r);
static int auth_cookie_get(const fv_req_t *r, char *out, size_t size);
static int auth_cookie_secure(fv_req_t *r);
static void auth_cookie_set(fv_req_t *r, const char *value, long max_age);
static void auth_cookie_from(fv_req_t *r, json_object *data);
static const char *auth_presented_token(fv_req_t *r, char *cookie, size_t size);
static int auth_refresh_refused(fv_req_t *r, int web);


int
auth_register(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    auth_db_t          db = { r->worker, NULL, NULL };
    auth_user_t        user;
    json_object       *event, *data;
    char               hash[AUTH_HASH_MAX];
    int                rc, open;

    event = NULL;
    open = 0;

    if (auth_password_hash(&ctx->password, auth_field(r, "password"), hash, sizeof(hash))
        != 0)
    {
        rc = FV_ERROR;
        goto out;
    }

    if ((rc = auth_store_begin(&db)) != FV_OK) {
        goto out;
    }

    open = 1;

    /* The unique index decides: two registrations racing for one email get one 201. */
    rc = auth_store_user_insert(&db, auth_field(r, "name"), auth_field(r, "email"), hash,
                                "customer", &user);
    if (rc == AUTH_STORE_CONFLICT) {
        rc = fv_fail(r, 409, "EMAIL_TAKEN", "Ya existe una cuenta con ese correo");
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    event = json_object_new_object();
    json_object_object_add(event, "userId", json_object_new_int64(user.id));
    json_object_object_add(event, "name", json_object_new_string(user.name));
    json_object_object_add(event, "email", json_object_new_string(user.email));
    json_object_object_add(event, "role", json_object_new_string(user.role));
    json_object_object_add(event, "createdAt", json_object_new_string(user.created_at));

    if ((rc = auth_store_event(&db, "user.registered", event)) != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = auth_store_commit(&db)) != FV_OK) {
        goto out;
    }

    data = json_object_new_object();
    json_object_object_add(data, "user", auth_user_json(&user));
    rc = fv_reply(r, 201, data, "Cuenta creada");

out:

    if (open) {
        auth_store_rollback(&db);
    }

    json_object_put(event);
    explicit_bzero(hash, sizeof(hash));
    return rc;
}


int
auth_login(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    auth_db_t          db = { r->worker, NULL, NULL };
    auth_user_t        user;
    json_object       *data;
    const char        *password;
    char               family_id[37];
    int                rc, match;

    data = NULL;
    password = auth_field(r, "password");

    rc = auth_store_user_by_email(&db, auth_field(r, "email"), &user);

    if (rc == AUTH_STORE_NOT_FOUND) {
        /* As slow as a wrong password, so the answer does not tell which emails exist. */
        auth_password_burn(&ctx->password, password);
        rc = fv_fail(r, 401, "INVALID_CREDENTIALS", AUTH_MSG_CREDENTIALS);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    match = auth_password_verify(user.password_hash, password);
    if (match < 0) {
        rc = FV_ERROR;
        goto out;
    }

    if (match == 0) {
        rc = fv_fail(r, 401, "INVALID_CREDENTIALS", AUTH_MSG_CREDENTIALS);
        goto out;
    }

    if (!user.active) {
        rc = fv_fail(r, 403, "ACCOUNT_DISABLED", "La cuenta está desactivada");
        goto out;
    }

    if (auth_password_outdated(&ctx->password, user.password_hash)) {
        auth_rehash(r, &db, &user, password);
    }

    if (fv_uuid(family_id) != 0) {
        rc = FV_ERROR;
        goto out;
    }

    if ((rc = auth_issue(r, &db, &user, family_id, &data)) != FV_OK) {
        goto out;
    }

    json_object_object_add(data, "user", auth_user_json(&user));
    if (auth_web(r)) {
        auth_cookie_from(r, data);
    }
    fv_reply_header(r, "Cache-Control", "no-store");
    rc = fv_reply(r, 200, data, NULL);
    data = NULL;

out:

    json_object_put(data);
    explicit_bzero(&user, sizeof(user));
    return rc;
}


/*
 * Refresh tokens are single-use.  The presented token's row is locked, so of two requests
 * racing with one token exactly one rotates it and the other is a reuse.  A reuse means two
 * parties hold the token (one of them stole it): every token of its family is revoked, the
 * revocation committed, and both parties must log in again.
 */

int
auth_refresh(fv_req_t *r)
{
    auth_db_t          db = { r->worker, NULL, NULL };
    auth_refresh_t     rt;
    json_object       *data;
    const char        *token;
    char               hash[65], cookie[AUTH_REFRESH_MAX + 1];
    int                rc, open, web;

    data = NULL;
    open = 0;
    web = auth_web(r);

    token = auth_presented_token(r, cookie, sizeof(cookie));
    if (token == NULL) {
        rc = web ? auth_refresh_refused(r, web)
                 : fv_fail_field(r, "refreshToken", "es obligatorio");
        goto out;
    }

    auth_tokens_refresh_hash(token, hash);

    if ((rc = auth_store_begin(&db)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = auth_store_refresh_lock(&db, hash, &rt);
    if (rc == AUTH_STORE_NOT_FOUND) {
        rc = auth_refresh_refused(r, web);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    if (rt.rotated) {
        if ((rc = auth_store_family_revoke(&db, rt.family_id)) != FV_OK) {
            goto out;
        }

        open = 0;
        if ((rc = auth_store_commit(&db)) != FV_OK) {
            goto out;
        }

        fv_log_req(r, FV_LOG_WARN, "reused refresh token: session %s of user %" PRId64
                   " revoked", rt.family_id, rt.user.id);
        rc = auth_refresh_refused(r, web);
        goto out;
    }

    if (rt.revoked || rt.expired || !rt.user.active) {
        rc = auth_refresh_refused(r, web);
        goto out;
    }

    if ((rc = auth_store_refresh_rotate(&db, rt.id)) != FV_OK) {
        goto out;
    }

    if ((rc = auth_issue(r, &db, &rt.user, rt.family_id, &data)) != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = auth_store_commit(&db)) != FV_OK) {
        goto out;
    }

    if (web) {
        auth_cookie_from(r, data);
    }
    fv_reply_header(r, "Cache-Control", "no-store");
    rc = fv_reply(r, 200, data, NULL);
    data = NULL;

out:

    if (open) {
        auth_store_rollback(&db);
    }

    json_object_put(data);
    explicit_bzero(cookie, sizeof(cookie));
    return rc;
}


int
auth_logout(fv_req_t *r)
{
    auth_db_t    db = { r->worker, NULL, NULL };
    const char  *token;
    char         hash[65], cookie[AUTH_REFRESH_MAX + 1];
    int          rc, web;

    web = auth_web(r);

    token = auth_presented_token(r, cookie, sizeof(cookie));
    if (token == NULL && !web) {
        rc = fv_fail_field(r, "refreshToken", "es obligatorio");
        goto out;
    }

    /* Someone else's or an unknown token changes nothing, and the answer is the same.  A
     * browser without its cookie has no session to end here; its cookie is cleared anyway. */
    if (token != NULL) {
        auth_tokens_refresh_hash(token, hash);
        rc = auth_store_family_revoke_owned(&db, hash, fv_req_user_id(r));
        if (rc != FV_OK) {
            goto out;
        }
    }

    if (web) {
        auth_cookie_set(r, "", 0);
    }

    rc = fv_reply(r, 200, json_object_new_object(), "Sesión cerrada");

out:

    explicit_bzero(cookie, sizeof(cookie));
    return rc;
}


/* Ends every session and every access token of the user (the gateway is told at once). */

int
auth_logout_all(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    auth_db_t          db = { r->worker, NULL, NULL };
    json_object       *data;
    int64_t            before;
    long               sessions;
    int                rc, open;

    open = 0;

    if ((rc = auth_store_begin(&db)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = auth_store_families_revoke_user(&db, fv_req_user_id(r), NULL, &sessions);
    if (rc != FV_OK) {
        goto out;
    }

    rc = auth_store_user_revoke_tokens(&db, fv_req_user_id(r), &before);
    if (rc == AUTH_STORE_NOT_FOUND) {
        rc = auth_unauthorized(r);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = auth_store_commit(&db)) != FV_OK) {
        goto out;
    }

    auth_revocation_push(r->worker, &ctx->revocation, r->request_id, fv_req_user_id(r),
                         before);

    data = json_object_new_object();
    json_object_object_add(data, "revokedSessions", json_object_new_int64(sessions));
    if (auth_web(r)) {
        auth_cookie_set(r, "", 0);
    }
    rc = fv_reply(r, 200, data, "Se cerraron todas las sesiones");

out:

    if (open) {
        auth_store_rollback(&db);
    }

    return rc;
}


int
auth_me(fv_req_t *r)
{
    auth_db_t     db = { r->worker, NULL, NULL };
    auth_user_t   user;
    json_object  *data;
    int           rc;

    rc = auth_store_user_by_id(&db, fv_req_user_id(r), &user);
    if (rc == AUTH_STORE_NOT_FOUND || (rc == FV_OK && !user.active)) {
        rc = auth_unauthorized(r);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    data = json_object_new_object();
    json_object_object_add(data, "user", auth_user_json(&user));
    rc = fv_reply(r, 200, data, NULL);

out:

    explicit_bzero(&user, sizeof(user));
    return rc;
}


int
auth_change_password(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    auth_db_t          db = { r->worker, NULL, NULL };
    auth_user_t        user;
    json_object       *data;
    const char        *current, *fresh, *sid;
    char               hash[AUTH_HASH_MAX];
    int64_t            before;
    long               sessions;
    int                rc, open, match;

    open = 0;
    hash[0] = '\0';
    current = auth_field(r, "currentPassword");
    fresh = auth_field(r, "newPassword");

    /* The session that asks keeps living; a token without a usable sid keeps none. */
    sid = fv_req_param(r, "FLORES_JWT_SID");
    if (!auth_uuid_valid(sid)) {
        sid = NULL;
    }

    rc = auth_store_user_by_id(&db, fv_req_user_id(r), &user);
    if (rc == AUTH_STORE_NOT_FOUND || (rc == FV_OK && !user.active)) {
        rc = auth_unauthorized(r);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    match = auth_password_verify(user.password_hash, current);
    if (match < 0) {
        rc = FV_ERROR;
        goto out;
    }

    if (match == 0) {
        rc = fv_fail_field(r, "currentPassword", AUTH_MSG_CURRENT);
        goto out;
    }

    if (strcmp(current, fresh) == 0) {
        rc = fv_fail_field(r, "newPassword",
                           "La nueva contraseña debe ser distinta de la actual");
        goto out;
    }

    if (auth_password_hash(&ctx->password, fresh, hash, sizeof(hash)) != 0) {
        rc = FV_ERROR;
        goto out;
    }

    if ((rc = auth_store_begin(&db)) != FV_OK) {
        goto out;
    }

    open = 1;

    /* Only over the hash just verified: a concurrent change wins, this one is refused. */
    rc = auth_store_user_set_password(&db, user.id, user.password_hash, hash);
    if (rc == AUTH_STORE_NOT_FOUND) {
        rc = fv_fail_field(r, "currentPassword", AUTH_MSG_CURRENT);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    rc = auth_store_families_revoke_user(&db, user.id, sid, &sessions);
    if (rc != FV_OK || (rc = auth_store_user_revoke_tokens(&db, user.id, &before)) != FV_OK) {
        rc = rc == AUTH_STORE_NOT_FOUND ? FV_ERROR : rc;
        goto out;
    }

    open = 0;
    if ((rc = auth_store_commit(&db)) != FV_OK) {
        goto out;
    }

    auth_revocation_push(r->worker, &ctx->revocation, r->request_id, user.id, before);

    data = json_object_new_object();
    json_object_object_add(data, "revokedSessions", json_object_new_int64(sessions));
    rc = fv_reply(r, 200, data, "Contraseña actualizada; se cerraron las demás sesiones");

out:

    if (open) {
        auth_store_rollback(&db);
    }

    explicit_bzero(hash, sizeof(hash));
    explicit_bzero(&user, sizeof(user));
    return rc;
}


/*
 * Forgot-password answers 202 with the same body whether or not the email belongs to an
 * active account, and takes the same time: at least FLORES_RESET_MIN_MS, which is longer
 * than the work done for a known email (a lookup, then one transaction).  For a known
 * account that transaction revokes the earlier links, stores the new token's hash and
 * writes the mail.requested event to the outbox: the link is mailed exactly when the token
 * exists.  The token itself is stored nowhere: the outbox row is secret, its payload
 * replaced by {"redacted":true} once the broker confirmed it.  The gateway limits the endpoint per address.
 */

int
auth_forgot_password(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    auth_db_t          db = { r->worker, NULL, NULL };
    auth_user_t        user;
    json_object       *event, *vars;
    char               token[AUTH_REFRESH_LEN + 1], hash[65], url[AUTH_RESET_URL_MAX + 64];
    double             deadline;
    int                rc, open;

    event = NULL;
    open = 0;
    deadline = auth_clock_ms() + (double) ctx->reset.min_ms;

    rc = auth_store_user_by_email(&db, auth_field(r, "email"), &user);

    if (rc == AUTH_STORE_NOT_FOUND || (rc == FV_OK && !user.active)) {
        rc = FV_OK;
        goto answer;
    }

    if (rc != FV_OK) {
        goto out;
    }

    /* Made and kept like a refresh token: 256 random bits, base64url, stored hashed. */
    if (auth_tokens_refresh_new(token, hash) != 0) {
        rc = FV_ERROR;
        goto out;
    }

    (void) snprintf(url, sizeof(url), "%s%s", ctx->reset.url_base, token);

    if ((rc = auth_store_begin(&db)) != FV_OK) {
        goto out;
    }

    open = 1;

    if ((rc = auth_store_reset_insert(&db, user.id, hash, ctx->reset.ttl)) != FV_OK) {
        goto out;
    }

    vars = json_object_new_object();
    json_object_object_add(vars, "name", json_object_new_string(user.name));
    json_object_object_add(vars, "resetUrl", json_object_new_string(url));
    json_object_object_add(vars, "expiresMinutes", json_object_new_int64(ctx->reset.ttl / 60));

    event = json_object_new_object();
    json_object_object_add(event, "template", json_object_new_string("password_reset"));
    json_object_object_add(event, "to", json_object_new_string(user.email));
    json_object_object_add(event, "toName", json_object_new_string(user.name));
    json_object_object_add(event, "vars", vars);

    /* The link is a secret: its outbox row keeps it only until the broker has it. */
    if ((rc = auth_store_event_secret(&db, "mail.requested", event)) != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = auth_store_commit(&db)) != FV_OK) {
        goto out;
    }

    fv_log_req(r, FV_LOG_INFO, "password reset link for user %" PRId64 " queued", user.id);

answer:

    auth_wait_until(deadline);
    rc = fv_reply(r, 202, json_object_new_object(), AUTH_MSG_FORGOT);

out:

    if (open) {
        auth_store_rollback(&db);
    }

    json_object_put(event);
    explicit_bzero(token, sizeof(token));
    explicit_bzero(url, sizeof(url));
    explicit_bzero(&user, sizeof(user));
    return rc;
}


/*
 * A reset token works once, within its lifetime, for an active account.  Its row and its
 * user's are locked, so of two requests racing with one token exactly one resets the
 * password.  The new password replaces the hash that was read under the lock, the token
 * and every other unused one of the user stop working, and every session of the user is
 * revoked: whoever knew the old password is signed out everywhere.
 */

int
auth_reset_password(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    auth_db_t          db = { r->worker, NULL, NULL };
    auth_reset_row_t   rs;
    json_object       *data;
    char               token_hash[65], hash[AUTH_HASH_MAX];
    int64_t            before;
    long               sessions;
    int                rc, open;

    open = 0;
    hash[0] = '\0';
    memset(&rs, 0, sizeof(rs));

    auth_tokens_refresh_hash(auth_field(r, "token"), token_hash);

    if ((rc = auth_store_begin(&db)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = auth_store_reset_lock(&db, token_hash, &rs);
    if (rc == AUTH_STORE_NOT_FOUND
        || (rc == FV_OK && (rs.used || rs.revoked || rs.expired || !rs.user.active)))
    {
        rc = fv_fail(r, 400, "INVALID_RESET_TOKEN", AUTH_MSG_RESET_TOKEN);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    if (auth_password_hash(&ctx->password, auth_field(r, "newPassword"), hash, sizeof(hash))
        != 0)
    {
        rc = FV_ERROR;
        goto out;
    }

    rc = auth_store_user_set_password(&db, rs.user.id, rs.user.password_hash, hash);
    if (rc == AUTH_STORE_NOT_FOUND) {
        rc = FV_ERROR;          /* the row is locked: it cannot have changed */
    }

    if (rc != FV_OK
        || (rc = auth_store_reset_use(&db, rs.id, rs.user.id)) != FV_OK
        || (rc = auth_store_families_revoke_user(&db, rs.user.id, NULL, &sessions)) != FV_OK
        || (rc = auth_store_user_revoke_tokens(&db, rs.user.id, &before)) != FV_OK)
    {
        rc = rc == AUTH_STORE_NOT_FOUND ? FV_ERROR : rc;
        goto out;
    }

    open = 0;
    if ((rc = auth_store_commit(&db)) != FV_OK) {
        goto out;
    }

    auth_revocation_push(r->worker, &ctx->revocation, r->request_id, rs.user.id, before);

    fv_log_req(r, FV_LOG_INFO, "password of user %" PRId64 " reset; %ld session(s) revoked",
               rs.user.id, sessions);

    data = json_object_new_object();
    json_object_object_add(data, "revokedSessions", json_object_new_int64(sessions));
    rc = fv_reply(r, 200, data, "Contraseña actualizada; inicia sesión con la nueva");

out:

    if (open) {
        auth_store_rollback(&db);
    }

    explicit_bzero(hash, sizeof(hash));
    explicit_bzero(&rs, sizeof(rs));
    return rc;
}


int
auth_jwks(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    char              *jwks;
    size_t             len;
    int                rc;

    jwks = auth_tokens_jwks(&ctx->tokens, &len);
    if (jwks == NULL) {
        return fv_fail(r, 404, "NOT_FOUND", "Recurso no encontrado");
    }

    /* Raw RFC 7517, not enveloped: JWT libraries read it as it is.  Short-lived in caches:
     * a rotated-in key is published FLORES_JWT_KEY_ACTIVATION seconds before it signs. */
    fv_reply_header(r, "Cache-Control", "public, max-age=60");
    rc = fv_reply_raw(r, 200, "application/json", jwks, len);
    free(jwks);
    return rc;
}


static const auth_ctx_t *
auth_ctx(fv_req_t *r)
{
    return fv_server_data(fv_req_server(r));
}


/* A string field of the validated body; the spec made the required ones present. */

static const char *
auth_field(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (r->body == NULL || !json_object_object_get_ex(r->body, name, &v)
        || !json_object_is_type(v, json_type_string))
    {
        return "";
    }

    return json_object_get_string(v);
}


static json_object *
auth_user_json(const auth_user_t *user)
{
    json_object  *o;

    o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_int64(user->id));
    json_object_object_add(o, "name", json_object_new_string(user->name));
    json_object_object_add(o, "email", json_object_new_string(user->email));
    json_object_object_add(o, "role", json_object_new_string(user->role));
    json_object_object_add(o, "createdAt", json_object_new_string(user->created_at));

    return o;
}


/* Stores a new refresh token in the family and signs an access token for the user as the
 * database has them now; data receives {token, refreshToken, tokenType, expiresIn}. */

static int
auth_issue(fv_req_t *r, auth_db_t *db, const auth_user_t *user, const char *family_id,
    json_object **data)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    auth_subject_t     sub;
    char               refresh[AUTH_REFRESH_LEN + 1], hash[65];
    char              *access;
    int                rc;

    sub.user_id = user->id;
    sub.email = user->email;
    sub.role = user->role;
    sub.sid = family_id;
    sub.not_before = user->tokens_valid_after;

    access = auth_tokens_access(&ctx->tokens, &sub);
    if (access == NULL) {
        rc = FV_ERROR;
        goto out;
    }

    if (auth_tokens_refresh_new(refresh, hash) != 0) {
        rc = FV_ERROR;
        goto out;
    }

    rc = auth_store_refresh_insert(db, hash, family_id, user->id, ctx->tokens.refresh_ttl);
    if (rc != FV_OK) {
        goto out;
    }

    *data = json_object_new_object();
    json_object_object_add(*data, "token", json_object_new_string(access));
    json_object_object_add(*data, "refreshToken", json_object_new_string(refresh));
    json_object_object_add(*data, "tokenType", json_object_new_string("Bearer"));
    json_object_object_add(*data, "expiresIn", json_object_new_int64(ctx->tokens.access_ttl));

out:

    explicit_bzero(refresh, sizeof(refresh));
    free(access);
    return rc;
}


static int
auth_unauthorized(fv_req_t *r)
{
    fv_reply_header(r, "WWW-Authenticate",
                    "Bearer realm=\"flores-victoria\", error=\"invalid_token\"");
    return fv_fail(r, 401, "UNAUTHORIZED", AUTH_MSG_UNAUTHORIZED);
}


/* The cost settings were raised since this hash was made: store one made with the current
 * ones.  Best effort; the login goes on whatever happens. */

static void
auth_rehash(fv_req_t *r, auth_db_t *db, const auth_user_t *user, const char *password)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    char               hash[AUTH_HASH_MAX];

    if (auth_password_hash(&ctx->password, password, hash, sizeof(hash)) == 0
        && auth_store_user_set_password(db, user->id, user->password_hash, hash) == FV_OK)
    {
        fv_log_req(r, FV_LOG_INFO, "password hash of user %" PRId64 " upgraded", user->id);
    }

    explicit_bzero(hash, sizeof(hash));
}


static double
auth_clock_ms(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }

    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}


/* Sleeps until the monotonic clock reaches deadline_ms (no-op when it has passed). */

static void
auth_wait_until(double deadline_ms)
{
    struct timespec  ts;
    double           left;

    left = deadline_ms - auth_clock_ms();

    while (left > 0) {
        ts.tv_sec = (time_t) (left / 1000.0);
        ts.tv_nsec = (long) ((left - (double) ts.tv_sec * 1000.0) * 1e6);

        if (nanosleep(&ts, NULL) == 0 || errno != EINTR) {
            break;
        }

        left = deadline_ms - auth_clock_ms();
    }
}


/*
 * The browser's refresh token (see auth.h).  A request is a browser's when it carries
 * "X-Flores-Client: web": then login and refresh put the refresh token in an HttpOnly cookie
 * instead of the JSON body, refresh and logout read it from that cookie when the body has
 * none, and logout (and logout-all) clear it.  Without the header the cookie is never read,
 * so an API client keeps the JSON behaviour, and a cross-site request (which cannot add the
 * header without a CORS preflight that is never granted, and does not carry a SameSite=Strict
 * cookie anyway) cannot use it.
 */

static int
auth_web(const fv_req_t *r)
{
    const char  *v;

    v = fv_req_header(r, AUTH_WEB_HEADER);

    return v != NULL && strcmp(v, AUTH_WEB_CLIENT) == 0;
}


/* The refresh cookie's value into out; 0 when there is one of base64url characters that
 * fits, -1 otherwise.  The first cookie of that name wins (the most specific path). */

static int
auth_cookie_get(const fv_req_t *r, char *out, size_t size)
{
    const char  *h, *p, *end, *v;
    size_t       name_len, len, i;

    h = fv_req_header(r, "Cookie");
    if (h == NULL) {
        return -1;
    }

    name_len = strlen(AUTH_COOKIE_NAME);

    for (p = h; *p != '\0'; p = end) {
        while (*p == ' ' || *p == '\t' || *p == ';') {
            p++;
        }

        end = p + strcspn(p, ";");

        if ((size_t) (end - p) <= name_len || strncmp(p, AUTH_COOKIE_NAME, name_len) != 0
            || p[name_len] != '=')
        {
            continue;
        }

        v = p + name_len + 1;
        len = (size_t) (end - v);
        while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t')) {
            len--;
        }

        if (len == 0 || len >= size) {
            return -1;
        }

        for (i = 0; i < len; i++) {
            char  c = v[i];

            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
                  || c == '-' || c == '_'))
            {
                return -1;
            }
        }

        memcpy(out, v, len);
        out[len] = '\0';
        return 0;
    }

    return -1;
}


static int
auth_cookie_secure(fv_req_t *r)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    const char        *v;

    switch (ctx->cookie_secure) {
    case AUTH_SECURE_ALWAYS:
        return 1;
    case AUTH_SECURE_NEVER:
        return 0;
    default:
        break;
    }

    v = fv_req_param(r, "REQUEST_SCHEME");
    if (v != NULL && strcmp(v, "https") == 0) {
        return 1;
    }

    v = fv_req_param(r, "HTTPS");
    if (v != NULL && strcasecmp(v, "on") == 0) {
        return 1;
    }

    /* Behind a proxy that ends TLS.  A client that sends it over plain HTTP only gets a
     * cookie its browser will not send back over plain HTTP. */
    v = fv_req_header(r, "X-Forwarded-Proto");
    return v != NULL && strcmp(v, "https") == 0;
}


/* Sets (max_age > 0) or clears (value "", max_age 0) the refresh cookie. */

static void
auth_cookie_set(fv_req_t *r, const char *value, long max_age)
{
    char  buf[AUTH_REFRESH_MAX + 160];
    int   n;

    n = snprintf(buf, sizeof(buf), "%s=%s; Path=%s; Max-Age=%ld; HttpOnly; SameSite=Strict%s",
                 AUTH_COOKIE_NAME, value, AUTH_COOKIE_PATH, max_age,
                 auth_cookie_secure(r) ? "; Secure" : "");
    if (n < 0 || (size_t) n >= sizeof(buf)) {
        fv_log_req(r, FV_LOG_ERROR, "refresh cookie does not fit");
        return;
    }

    fv_reply_header(r, "Set-Cookie", buf);
    explicit_bzero(buf, sizeof(buf));
}


/* Moves data's refreshToken into the cookie, for its whole lifetime. */

static void
auth_cookie_from(fv_req_t *r, json_object *data)
{
    const auth_ctx_t  *ctx = auth_ctx(r);
    json_object       *v;

    if (!json_object_object_get_ex(data, "refreshToken", &v)) {
        return;
    }

    auth_cookie_set(r, json_object_get_string(v), ctx->tokens.refresh_ttl);
    json_object_object_del(data, "refreshToken");
}


/* The refresh token the caller presents: the body's, else (a browser's request only) the
 * cookie's, copied into cookie; NULL when there is none. */

static const char *
auth_presented_token(fv_req_t *r, char *cookie, size_t size)
{
    const char  *token;

    token = auth_field(r, "refreshToken");
    if (*token != '\0') {
        return token;
    }

    if (auth_web(r) && auth_cookie_get(r, cookie, size) == 0) {
        return cookie;
    }

    return NULL;
}


/* 401 INVALID_REFRESH_TOKEN; a browser's cookie, which can never work again, is cleared. */

static int
auth_refresh_refused(fv_req_t *r, int web)
{
    if (web) {
        auth_cookie_set(r, "", 0);
    }

    return fv_fail(r, 401, "INVALID_REFRESH_TOKEN", AUTH_MSG_REFRESH);
}
