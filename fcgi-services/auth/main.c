/* main.c: the auth service: accounts, logins and sessions under /api/auth. */

#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "auth.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }


static const fv_field_t  register_body[] = {
    { "name",            FV_STRING, FV_REQUIRED | FV_TRIM, AUTH_NAME_MIN, AUTH_NAME_MAX,
                         NULL, NULL },
    { "email",           FV_EMAIL,  FV_REQUIRED, 0, AUTH_EMAIL_MAX, NULL, NULL },
    { "password",        FV_STRING, FV_REQUIRED, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX,
                         NULL, NULL },
    FIELDS_END
};

static const fv_field_t  login_body[] = {
    { "email",           FV_EMAIL,  FV_REQUIRED, 0, AUTH_EMAIL_MAX, NULL, NULL },
    { "password",        FV_STRING, FV_REQUIRED, 1, AUTH_PASSWORD_MAX, NULL, NULL },
    FIELDS_END
};

/* refreshToken is required, but a browser (X-Flores-Client: web) may send it in its cookie
 * instead: the handlers check that one of the two is there. */
static const fv_field_t  refresh_body[] = {
    { "refreshToken",    FV_STRING, 0, 1, AUTH_REFRESH_MAX, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  change_password_body[] = {
    { "currentPassword", FV_STRING, FV_REQUIRED, 1, AUTH_PASSWORD_MAX, NULL, NULL },
    { "newPassword",     FV_STRING, FV_REQUIRED, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX,
                         NULL, NULL },
    FIELDS_END
};


static const fv_field_t  forgot_password_body[] = {
    { "email",           FV_EMAIL,  FV_REQUIRED, 0, AUTH_EMAIL_MAX, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  reset_password_body[] = {
    { "token",           FV_STRING, FV_REQUIRED, 1, AUTH_RESET_TOKEN_MAX, NULL, NULL },
    { "newPassword",     FV_STRING, FV_REQUIRED, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX,
                         NULL, NULL },
    FIELDS_END
};


static const fv_route_t  auth_routes[] = {
    { "POST", "/api/auth/register",         FV_PUBLIC, register_body, NULL, auth_register },
    { "POST", "/api/auth/login",            FV_PUBLIC, login_body, NULL, auth_login },
    { "POST", "/api/auth/refresh",          FV_PUBLIC, refresh_body, NULL, auth_refresh },
    { "POST", "/api/auth/logout",           FV_USER, refresh_body, NULL, auth_logout },
    { "POST", "/api/auth/logout-all",       FV_USER, NULL, NULL, auth_logout_all },
    { "GET",  "/api/auth/me",               FV_USER, NULL, NULL, auth_me },
    { "POST", "/api/auth/change-password",  FV_USER, change_password_body, NULL,
                                            auth_change_password },
    { "POST", "/api/auth/forgot-password",  FV_PUBLIC, forgot_password_body, NULL,
                                            auth_forgot_password },
    { "POST", "/api/auth/reset-password",   FV_PUBLIC, reset_password_body, NULL,
                                            auth_reset_password },
    { "GET",  "/api/auth/.well-known/jwks.json", FV_PUBLIC, NULL, NULL, auth_jwks },
    FV_ROUTES_END
};


static const char *const  role_bindings[] = { "user.role_changed", NULL };

static const fv_consumer_t  auth_consumers[] = {
    /* Roles and active flags set by administrators in the user service (queue auth.roles). */
    { "roles", role_bindings, auth_on_role_changed, 0, 0 },
    { NULL, NULL, NULL, 0, 0 }
};


static int auth_init(fv_server_t *s);
static void auth_exit(fv_server_t *s);
static int auth_reset_init(auth_reset_t *reset, const fv_conf_t *conf);
static int auth_cookie_init(auth_ctx_t *ctx, const fv_conf_t *conf);


static const fv_service_t  auth_service = {
    AUTH_SERVICE,
    auth_routes,
    FV_STORE_PG,
    1,                  /* user.registered and mail.requested leave through the outbox */
    auth_init,
    auth_exit,
    auth_consumers
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &auth_service);
}


/* Keys and password costs are read once, before any request; a bad one stops the start. */

static int
auth_init(fv_server_t *s)
{
    auth_ctx_t  *ctx;

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        return FV_ERROR;
    }

    if (auth_tokens_init(&ctx->tokens, fv_server_conf(s)) != 0) {
        free(ctx);
        return FV_ERROR;
    }

    if (auth_password_init(&ctx->password, fv_server_conf(s)) != 0
        || auth_reset_init(&ctx->reset, fv_server_conf(s)) != 0
        || auth_cookie_init(ctx, fv_server_conf(s)) != 0
        || auth_revocation_init(&ctx->revocation, fv_server_conf(s),
                                ctx->tokens.access_ttl + ctx->tokens.leeway) != 0
        || fv_server_every(s, "revocations", AUTH_RESYNC_MS, auth_revocation_resync,
                           &ctx->revocation) != 0)
    {
        auth_tokens_free(&ctx->tokens);
        free(ctx);
        return FV_ERROR;
    }

    fv_server_set_data(s, ctx);
    return FV_OK;
}


static void
auth_exit(fv_server_t *s)
{
    auth_ctx_t  *ctx;

    ctx = fv_server_data(s);
    if (ctx == NULL) {
        return;
    }

    auth_tokens_free(&ctx->tokens);
    explicit_bzero(ctx, sizeof(*ctx));
    free(ctx);
    fv_server_set_data(s, NULL);
}


/* The reset link is FLORES_RESET_URL_BASE followed by the token (base64url, so it needs no
 * escaping): an http(s) URL of printable characters, typically ending in "#token=" (a fragment: the token never reaches a server, its logs or a Referer). */

static int
auth_reset_init(auth_reset_t *reset, const fv_conf_t *conf)
{
    const char  *base;
    size_t       i, len;

    base = fv_conf_str(conf, "FLORES_RESET_URL_BASE",
                       "https://floresvictoria.cl/restablecer-clave#token=");
    len = strlen(base);

    if ((strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0)
        || len >= sizeof(reset->url_base))
    {
        fv_log(FV_LOG_ERROR, "FLORES_RESET_URL_BASE must be an http:// or https:// URL "
               "shorter than %zu bytes", sizeof(reset->url_base));
        return -1;
    }

    for (i = 0; i < len; i++) {
        if ((unsigned char) base[i] <= 0x20 || (unsigned char) base[i] >= 0x7f
            || strchr("\"<>\\^`{|}", base[i]) != NULL)
        {
            fv_log(FV_LOG_ERROR, "FLORES_RESET_URL_BASE holds a character a URL cannot");
            return -1;
        }
    }

    memcpy(reset->url_base, base, len + 1);
    reset->ttl = fv_conf_long(conf, "FLORES_RESET_TTL", 1800, 60, 86400);
    reset->min_ms = fv_conf_long(conf, "FLORES_RESET_MIN_MS", 150, 0, 5000);

    return 0;
}


/* FLORES_COOKIE_SECURE: auto (Secure when the request came over HTTPS), 1 or 0. */

static int
auth_cookie_init(auth_ctx_t *ctx, const fv_conf_t *conf)
{
    const char  *v;

    v = fv_conf_str(conf, "FLORES_COOKIE_SECURE", "auto");

    if (strcmp(v, "auto") == 0) {
        ctx->cookie_secure = AUTH_SECURE_AUTO;
    } else if (strcmp(v, "1") == 0) {
        ctx->cookie_secure = AUTH_SECURE_ALWAYS;
    } else if (strcmp(v, "0") == 0) {
        ctx->cookie_secure = AUTH_SECURE_NEVER;
    } else {
        fv_log(FV_LOG_ERROR, "FLORES_COOKIE_SECURE must be auto, 1 or 0");
        return -1;
    }

    return 0;
}
