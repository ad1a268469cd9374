
/*
 * Flores Victoria gateway module, JWT: validates "Authorization: Bearer"
 * access tokens in the access phase and exposes the verified claims as
 * variables ($flores_jwt_sub, $flores_jwt_role, $flores_jwt_email,
 * $flores_jwt_claim_<name>, $flores_jwt_error).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jwt.h>
#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "ngx_http_flores.h"


#define NGX_HTTP_FLORES_JWT_OFF             0
#define NGX_HTTP_FLORES_JWT_ON              1
#define NGX_HTTP_FLORES_JWT_OPTIONAL        2

#define NGX_HTTP_FLORES_JWT_KEY_HMAC        1
#define NGX_HTTP_FLORES_JWT_KEY_RSA         2
#define NGX_HTTP_FLORES_JWT_KEY_EC          3

/* why a token was refused: indexes ngx_http_flores_jwt_reasons[] */
#define NGX_HTTP_FLORES_JWT_ACCEPTED        0
#define NGX_HTTP_FLORES_JWT_MISSING         1
#define NGX_HTTP_FLORES_JWT_MALFORMED       2
#define NGX_HTTP_FLORES_JWT_SIGNATURE       3
#define NGX_HTTP_FLORES_JWT_ALGORITHM       4
#define NGX_HTTP_FLORES_JWT_EXPIRED         5
#define NGX_HTTP_FLORES_JWT_NOT_YET_VALID   6
#define NGX_HTTP_FLORES_JWT_ISSUER          7
#define NGX_HTTP_FLORES_JWT_AUDIENCE        8
#define NGX_HTTP_FLORES_JWT_ROLE            9

/*
 * The longest token accepted, in bytes. Also a safety bound: libjwt 1.10
 * copies each part of the token onto the stack with alloca().
 */
#define NGX_HTTP_FLORES_JWT_MAX_TOKEN       8192

/* HMAC secrets: at least the size of the SHA-256 output (RFC 7518, 3.2) */
#define NGX_HTTP_FLORES_JWT_MIN_SECRET      32
#define NGX_HTTP_FLORES_JWT_MAX_KEY_FILE    65536
#define NGX_HTTP_FLORES_JWT_MIN_RSA_BITS    2048

/* the longest claim name in $flores_jwt_claim_<name> */
#define NGX_HTTP_FLORES_JWT_MAX_CLAIM       128

#define ngx_http_flores_jwt_401(msg)                                         \
    { NGX_HTTP_UNAUTHORIZED, ngx_string("UNAUTHORIZED"), ngx_string(msg) }


typedef struct {
    ngx_str_t                    file;
    /* the secret for HMAC, the PEM text for RSA and EC */
    ngx_str_t                    data;
    ngx_uint_t                   type;
    /* RSA: the key size in bits; EC: the NID of the curve */
    int                          bits;
    int                          curve;
    u_char                      *conf_file;
    ngx_uint_t                   line;
} ngx_http_flores_jwt_key_t;


typedef struct {
    ngx_uint_t                   mode;
    ngx_http_flores_jwt_key_t   *key;
    ngx_uint_t                   algorithm;
    ngx_str_t                    issuer;
    ngx_str_t                    audience;
    time_t                       leeway;
    ngx_array_t                 *roles;
    /* where "flores_jwt" was set, for errors found when merging */
    u_char                      *conf_file;
    ngx_uint_t                   line;
} ngx_http_flores_jwt_conf_t;


typedef struct {
    /* the verified token, NULL unless it was accepted */
    jwt_t                       *jwt;
    ngx_uint_t                   reason;
} ngx_http_flores_jwt_ctx_t;


typedef struct {
    ngx_str_t                    name;
    ngx_http_flores_error_t      error;
} ngx_http_flores_jwt_reason_t;


static ngx_int_t ngx_http_flores_jwt_token(ngx_http_request_t *r,
    ngx_str_t *token);
static ngx_int_t ngx_http_flores_jwt_verify(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token, jwt_t **jwtp);
static ngx_int_t ngx_http_flores_jwt_claims(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, jwt_t *jwt);
static ngx_int_t ngx_http_flores_jwt_diagnose(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token);
static json_object *ngx_http_flores_jwt_decode_part(ngx_http_request_t *r,
    u_char *start, u_char *end);
static ngx_int_t ngx_http_flores_jwt_audience(jwt_t *jwt, ngx_str_t *aud);
static ngx_http_flores_jwt_ctx_t *ngx_http_flores_jwt_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_flores_jwt_cleanup(void *data);

static ngx_int_t ngx_http_flores_jwt_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, const char *name);
static ngx_int_t ngx_http_flores_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_jwt_claim_prefix_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_jwt_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_flores_jwt_add_variables(ngx_conf_t *cf);
static void *ngx_http_flores_jwt_create_conf(ngx_conf_t *cf);
static char *ngx_http_flores_jwt_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_flores_jwt_check_key(ngx_conf_t *cf,
    ngx_http_flores_jwt_conf_t *jcf);
static char *ngx_http_flores_jwt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_jwt_read_key(ngx_conf_t *cf,
    ngx_http_flores_jwt_key_t *key);
static char *ngx_http_flores_jwt_parse_pem(ngx_conf_t *cf,
    ngx_http_flores_jwt_key_t *key);
static void ngx_http_flores_jwt_key_cleanup(void *data);
static char *ngx_http_flores_jwt_require_role(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_flores_jwt_not_empty(ngx_conf_t *cf, void *post,
    void *data);
static ngx_int_t ngx_http_flores_jwt_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_flores_jwt_modes[] = {
    { ngx_string("off"), NGX_HTTP_FLORES_JWT_OFF },
    { ngx_string("on"), NGX_HTTP_FLORES_JWT_ON },
    { ngx_string("optional"), NGX_HTTP_FLORES_JWT_OPTIONAL },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_flores_jwt_algorithms[] = {
    { ngx_string("HS256"), JWT_ALG_HS256 },
    { ngx_string("HS384"), JWT_ALG_HS384 },
    { ngx_string("HS512"), JWT_ALG_HS512 },
    { ngx_string("RS256"), JWT_ALG_RS256 },
    { ngx_string("RS384"), JWT_ALG_RS384 },
    { ngx_string("RS512"), JWT_ALG_RS512 },
    { ngx_string("ES256"), JWT_ALG_ES256 },
    { ngx_string("ES384"), JWT_ALG_ES384 },
    { ngx_null_string, 0 }
};


/* seconds */
static ngx_conf_num_bounds_t  ngx_http_flores_jwt_leeway_bounds = {
    ngx_conf_check_num_bounds, 0, 600
};


static ngx_conf_post_t  ngx_http_flores_jwt_not_empty_post = {
    ngx_http_flores_jwt_not_empty
};


static ngx_command_t  ngx_http_flores_jwt_commands[] = {

    { ngx_string("flores_jwt"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_jwt,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_jwt_conf_t, mode),
      &ngx_http_flores_jwt_modes },

    { ngx_string("flores_jwt_key_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_jwt_key_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_jwt_algorithm"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_jwt_conf_t, algorithm),
      &ngx_http_flores_jwt_algorithms },

    { ngx_string("flores_jwt_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_jwt_conf_t, issuer),
      &ngx_http_flores_jwt_not_empty_post },

    { ngx_string("flores_jwt_audience"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_jwt_conf_t, audience),
      &ngx_http_flores_jwt_not_empty_post },

    { ngx_string("flores_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_jwt_conf_t, leeway),
      &ngx_http_flores_jwt_leeway_bounds },

    { ngx_string("flores_jwt_require_role"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_flores_jwt_require_role,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_jwt_module_ctx = {
    ngx_http_flores_jwt_add_variables,     /* preconfiguration */
    ngx_http_flores_jwt_init,              /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_jwt_create_conf,       /* create location configuration */
    ngx_http_flores_jwt_merge_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_flores_jwt_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_jwt_module_ctx,       /* module context */
    ngx_http_flores_jwt_commands,          /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * Not cacheable: a value read before the access phase (in "set", say) must
 * not stick. Claims are read from the verified token only.
 */
static ngx_http_variable_t  ngx_http_flores_jwt_vars[] = {

    { ngx_string("flores_jwt_sub"), NULL,
      ngx_http_flores_jwt_claim_variable, (uintptr_t) "sub",
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("flores_jwt_role"), NULL,
      ngx_http_flores_jwt_claim_variable, (uintptr_t) "role",
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("flores_jwt_email"), NULL,
      ngx_http_flores_jwt_claim_variable, (uintptr_t) "email",
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("flores_jwt_claim_"), NULL,
      ngx_http_flores_jwt_claim_prefix_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("flores_jwt_error"), NULL,
      ngx_http_flores_jwt_error_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_http_flores_jwt_reason_t  ngx_http_flores_jwt_reasons[] = {

    /* accepted, or anonymous: never sent */
    { ngx_string(""), { 0, ngx_null_string, ngx_null_string } },

    { ngx_string("missing"),
      ngx_http_flores_jwt_401("Se requiere iniciar sesión") },

    { ngx_string("malformed"),
      ngx_http_flores_jwt_401("El token de acceso no es válido") },

    { ngx_string("signature"),
      ngx_http_flores_jwt_401("El token de acceso no es válido") },

    { ngx_string("algorithm"),
      ngx_http_flores_jwt_401("El token de acceso no es válido") },

    { ngx_string("expired"),
      ngx_http_flores_jwt_401("El token de acceso expiró") },

    { ngx_string("not_yet_valid"),
      ngx_http_flores_jwt_401("El token de acceso aún no es válido") },

    { ngx_string("issuer"),
      ngx_http_flores_jwt_401("El token de acceso no es válido") },

    { ngx_string("audience"),
      ngx_http_flores_jwt_401("El token de acceso no es válido") },

    { ngx_string("role"),
      { NGX_HTTP_FORBIDDEN, ngx_string("FORBIDDEN"),
        ngx_string("No tienes permiso para realizar esta acción") } }
};


static ngx_str_t  ngx_http_flores_jwt_challenge =
    ngx_string("Bearer realm=\"flores-victoria\", error=\"invalid_token\"");


static ngx_int_t
ngx_http_flores_jwt_handler(ngx_http_request_t *r)
{
    jwt_t                         *jwt;
    ngx_int_t                      reason;
    ngx_str_t                      token;
    ngx_table_elt_t               *h;
    ngx_pool_cleanup_t            *cln;
    ngx_http_flores_jwt_ctx_t     *ctx;
    ngx_http_flores_jwt_conf_t    *jcf;
    ngx_http_flores_jwt_reason_t  *rs;

    jcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_jwt_module);

    /*
     * Where flores_jwt is off, an identity verified earlier in the request
     * (before a "rewrite ... last" or an internal redirect) is kept.
     */

    if (jcf->mode == NGX_HTTP_FLORES_JWT_OFF) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_flores_jwt_get_ctx(r);

    if (ctx != NULL) {
        if (ctx->jwt != NULL) {
            jwt_free(ctx->jwt);
            ctx->jwt = NULL;
        }

        ctx->reason = NGX_HTTP_FLORES_JWT_ACCEPTED;

    } else {
        /* the ctx lives in its cleanup: one allocation, freed with the pool */

        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_flores_jwt_ctx_t));
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx = cln->data;
        ctx->jwt = NULL;
        ctx->reason = NGX_HTTP_FLORES_JWT_ACCEPTED;

        cln->handler = ngx_http_flores_jwt_cleanup;
    }

    ngx_http_set_ctx(r, ctx, ngx_http_flores_jwt_module);

    reason = ngx_http_flores_jwt_token(r, &token);

    if (reason == NGX_HTTP_FLORES_JWT_MISSING
        && jcf->mode == NGX_HTTP_FLORES_JWT_OPTIONAL)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "flores jwt: no token, anonymous request");
        return NGX_DECLINED;
    }

    if (reason == NGX_HTTP_FLORES_JWT_ACCEPTED) {
        jwt = NULL;

        reason = ngx_http_flores_jwt_verify(r, jcf, &token, &jwt);

        if (reason == NGX_HTTP_FLORES_JWT_ACCEPTED) {
            reason = ngx_http_flores_jwt_claims(r, jcf, jwt);
        }

        if (reason == NGX_ERROR) {
            if (jwt != NULL) {
                jwt_free(jwt);
            }

            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (reason == NGX_HTTP_FLORES_JWT_ACCEPTED) {
            ctx->jwt = jwt;

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "flores jwt: token accepted");
            return NGX_OK;
        }

        if (jwt != NULL) {
            jwt_free(jwt);
        }
    }

    ctx->reason = reason;
    rs = &ngx_http_flores_jwt_reasons[reason];

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "flores jwt: token refused: %V", &rs->name);

    if (rs->error.status == NGX_HTTP_UNAUTHORIZED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        h->value = ngx_http_flores_jwt_challenge;

        r->headers_out.www_authenticate = h;
    }

    return ngx_http_flores_reject(r, &rs->error);
}


/*
 * Finds the token in "Authorization: Bearer <token>" (RFC 6750, 2.1; the
 * scheme is case-insensitive) and checks that it has the shape of a compact
 * JWS: three base64url parts, the signature possibly empty.
 */

static ngx_int_t
ngx_http_flores_jwt_token(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char           *p, *last;
    ngx_uint_t        dots;
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h == NULL) {
        return NGX_HTTP_FLORES_JWT_MISSING;
    }

    p = h->value.data;
    last = p + h->value.len;

    if (h->value.len < sizeof("Bearer") - 1
        || ngx_strncasecmp(p, (u_char *) "Bearer", sizeof("Bearer") - 1)
           != 0)
    {
        return NGX_HTTP_FLORES_JWT_MISSING;
    }

    p += sizeof("Bearer") - 1;

    if (p < last && *p != ' ' && *p != '\t') {
        /* another scheme, like "Bearerx" */
        return NGX_HTTP_FLORES_JWT_MISSING;
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    token->data = p;
    token->len = last - p;

    if (token->len == 0 || token->len > NGX_HTTP_FLORES_JWT_MAX_TOKEN) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    dots = 0;

    for ( /* void */ ; p < last; p++) {

        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_')
        {
            continue;
        }

        if (*p != '.' || ++dots > 2) {
            return NGX_HTTP_FLORES_JWT_MALFORMED;
        }

        /* the header and the payload are never empty */

        if (p == token->data || p[-1] == '.') {
            return NGX_HTTP_FLORES_JWT_MALFORMED;
        }
    }

    if (dots != 2) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    return NGX_HTTP_FLORES_JWT_ACCEPTED;
}


/*
 * libjwt 1.10 checks the signature (with the key always given, so that
 * "alg": "none" is refused) but accepts any algorithm the key fits, HS256
 * over an RSA public key included: the algorithm is pinned here.
 */

static ngx_int_t
ngx_http_flores_jwt_verify(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token, jwt_t **jwtp)
{
    int     rc;
    u_char  buf[NGX_HTTP_FLORES_JWT_MAX_TOKEN + 1];

    /* libjwt wants a C string; the header value may not end with one */

    ngx_memcpy(buf, token->data, token->len);
    buf[token->len] = '\0';

    rc = jwt_decode(jwtp, (char *) buf, jcf->key->data.data,
                    (int) jcf->key->data.len);

    if (rc == ENOMEM) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, rc,
                      "flores jwt: jwt_decode() failed");
        return NGX_ERROR;
    }

    if (rc != 0) {
        *jwtp = NULL;
        return ngx_http_flores_jwt_diagnose(r, jcf, token);
    }

    if ((ngx_uint_t) jwt_get_alg(*jwtp) != jcf->algorithm) {
        return NGX_HTTP_FLORES_JWT_ALGORITHM;
    }

    return NGX_HTTP_FLORES_JWT_ACCEPTED;
}


/*
 * The claims libjwt 1.10 leaves to its caller. "exp" is required; "exp" and
 * "nbf" must be integers (libjwt reads any other JSON type as 0).
 */

static ngx_int_t
ngx_http_flores_jwt_claims(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, jwt_t *jwt)
{
    long         exp, nbf;
    size_t       len;
    time_t       now;
    ngx_str_t   *role;
    ngx_uint_t   i;
    const char  *s;

    now = ngx_time();

    exp = jwt_get_grant_int(jwt, "exp");

    if (ngx_errno == NGX_ENOENT || exp <= 0) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    if (now - jcf->leeway >= exp) {
        return NGX_HTTP_FLORES_JWT_EXPIRED;
    }

    nbf = jwt_get_grant_int(jwt, "nbf");

    if (ngx_errno != NGX_ENOENT) {
        if (nbf <= 0) {
            return NGX_HTTP_FLORES_JWT_MALFORMED;
        }

        if (now + jcf->leeway < nbf) {
            return NGX_HTTP_FLORES_JWT_NOT_YET_VALID;
        }
    }

    if (jcf->issuer.len) {
        s = jwt_get_grant(jwt, "iss");

        if (s == NULL
            || ngx_strlen(s) != jcf->issuer.len
            || ngx_memcmp(s, jcf->issuer.data, jcf->issuer.len) != 0)
        {
            return NGX_HTTP_FLORES_JWT_ISSUER;
        }
    }

    if (jcf->audience.len) {
        s = jwt_get_grant(jwt, "aud");

        if (s != NULL) {
            if (ngx_strlen(s) != jcf->audience.len
                || ngx_memcmp(s, jcf->audience.data, jcf->audience.len) != 0)
            {
                return NGX_HTTP_FLORES_JWT_AUDIENCE;
            }

        } else if (ngx_errno == NGX_ENOENT) {
            return NGX_HTTP_FLORES_JWT_AUDIENCE;

        } else {
            /* not a string: an array of them (RFC 7519, 4.1.3) */

            switch (ngx_http_flores_jwt_audience(jwt, &jcf->audience)) {

            case NGX_OK:
                break;

            case NGX_DECLINED:
                return NGX_HTTP_FLORES_JWT_AUDIENCE;

            default:
                return NGX_ERROR;
            }
        }
    }

    if (jcf->roles) {
        s = jwt_get_grant(jwt, "role");

        if (s == NULL) {
            return NGX_HTTP_FLORES_JWT_ROLE;
        }

        len = ngx_strlen(s);
        role = jcf->roles->elts;

        for (i = 0; i < jcf->roles->nelts; i++) {
            if (len == role[i].len
                && ngx_memcmp(s, role[i].data, role[i].len) == 0)
            {
                break;
            }
        }

        if (i == jcf->roles->nelts) {
            return NGX_HTTP_FLORES_JWT_ROLE;
        }
    }

    return NGX_HTTP_FLORES_JWT_ACCEPTED;
}


static ngx_int_t
ngx_http_flores_jwt_audience(jwt_t *jwt, ngx_str_t *aud)
{
    char         *text;
    size_t        i, n;
    ngx_int_t     rc;
    const char   *s;
    json_object  *array, *item;

    text = jwt_get_grants_json(jwt, "aud");
    if (text == NULL) {
        return NGX_ERROR;
    }

    array = json_tokener_parse(text);

    free(text);

    if (array == NULL || !json_object_is_type(array, json_type_array)) {
        if (array) {
            json_object_put(array);
        }

        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;
    n = json_object_array_length(array);

    for (i = 0; i < n; i++) {
        item = json_object_array_get_idx(array, i);

        if (!json_object_is_type(item, json_type_string)) {
            continue;
        }

        s = json_object_get_string(item);

        if ((size_t) json_object_get_string_len(item) == aud->len
            && ngx_memcmp(s, aud->data, aud->len) == 0)
        {
            rc = NGX_OK;
            break;
        }
    }

    json_object_put(array);

    return rc;
}


/*
 * libjwt answers EINVAL for every refusal. On this (cold) path the header
 * and the payload are read again to tell a malformed token, a wrong
 * algorithm and a bad signature apart, for $flores_jwt_error and the log.
 */

static ngx_int_t
ngx_http_flores_jwt_diagnose(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token)
{
    u_char       *dot1, *dot2, *last;
    ngx_int_t     reason;
    const char   *alg, *typ;
    json_object  *header, *payload, *v;

    last = token->data + token->len;
    dot1 = ngx_strlchr(token->data, last, '.');
    dot2 = ngx_strlchr(dot1 + 1, last, '.');

    header = ngx_http_flores_jwt_decode_part(r, token->data, dot1);
    if (header == NULL) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    reason = NGX_HTTP_FLORES_JWT_MALFORMED;

    if (!json_object_object_get_ex(header, "alg", &v)
        || !json_object_is_type(v, json_type_string))
    {
        goto done;
    }

    alg = json_object_get_string(v);

    if (ngx_strcmp(alg, jwt_alg_str(jcf->algorithm)) != 0) {
        reason = NGX_HTTP_FLORES_JWT_ALGORITHM;
        goto done;
    }

    if (json_object_object_get_ex(header, "typ", &v)) {
        typ = json_object_get_string(v);

        if (!json_object_is_type(v, json_type_string)
            || ngx_strcasecmp((u_char *) typ, (u_char *) "JWT") != 0)
        {
            goto done;
        }
    }

    payload = ngx_http_flores_jwt_decode_part(r, dot1 + 1, dot2);
    if (payload == NULL) {
        goto done;
    }

    json_object_put(payload);

    reason = NGX_HTTP_FLORES_JWT_SIGNATURE;

done:

    json_object_put(header);

    return reason;
}


static json_object *
ngx_http_flores_jwt_decode_part(ngx_http_request_t *r, u_char *start,
    u_char *end)
{
    ngx_str_t           src, dst;
    json_object        *obj;
    json_tokener       *tok;

    src.data = start;
    src.len = end - start;

    dst.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(src.len));
    if (dst.data == NULL) {
        return NULL;
    }

    if (ngx_decode_base64url(&dst, &src) != NGX_OK) {
        return NULL;
    }

    tok = json_tokener_new();
    if (tok == NULL) {
        return NULL;
    }

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);

    obj = json_tokener_parse_ex(tok, (char *) dst.data, (int) dst.len);

    if (obj != NULL
        && (json_tokener_get_error(tok) != json_tokener_success
            || json_tokener_get_parse_end(tok) != dst.len
            || !json_object_is_type(obj, json_type_object)))
    {
        json_object_put(obj);
        obj = NULL;
    }

    json_tokener_free(tok);

    return obj;
}


/*
 * An internal redirect clears the module ctx but not the request pool: the
 * ctx is found again through its pool cleanup, so that the identity stays
 * available to error_page locations, subrequests and the access log.
 */

static ngx_http_flores_jwt_ctx_t *
ngx_http_flores_jwt_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_flores_jwt_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_flores_jwt_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_flores_jwt_cleanup) {
                ctx = cln->data;
                break;
            }
        }
    }

    return ctx;
}


static void
ngx_http_flores_jwt_cleanup(void *data)
{
    ngx_http_flores_jwt_ctx_t  *ctx = data;

    if (ctx->jwt != NULL) {
        jwt_free(ctx->jwt);
        ctx->jwt = NULL;
    }
}


/*
 * A claim as text: a string as it is, any other JSON value as compact JSON.
 * Values with control characters are not passed on: they could split the
 * headers of a proxied request.
 */

static ngx_int_t
ngx_http_flores_jwt_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, const char *name)
{
    u_char                     *p, *last;
    char                       *json;
    size_t                      len;
    const char                 *s;
    ngx_http_flores_jwt_ctx_t  *ctx;

    ctx = ngx_http_flores_jwt_get_ctx(r);

    if (ctx == NULL || ctx->jwt == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    s = jwt_get_grant(ctx->jwt, name);

    if (s != NULL) {
        p = (u_char *) s;
        len = ngx_strlen(s);

    } else if (ngx_errno == NGX_ENOENT) {
        v->not_found = 1;
        return NGX_OK;

    } else {
        json = jwt_get_grants_json(ctx->jwt, name);
        if (json == NULL) {
            return NGX_ERROR;
        }

        len = ngx_strlen(json);

        p = ngx_pnalloc(r->pool, len);
        if (p == NULL) {
            free(json);
            return NGX_ERROR;
        }

        ngx_memcpy(p, json, len);
        free(json);
    }

    for (last = p + len; last > p; last--) {
        if (last[-1] < 0x20 || last[-1] == 0x7f) {
            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "flores jwt: claim \"%s\" has control characters",
                          name);
            v->not_found = 1;
            return NGX_OK;
        }
    }

    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    return ngx_http_flores_jwt_claim(r, v, (const char *) data);
}


static ngx_int_t
ngx_http_flores_jwt_claim_prefix_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *var = (ngx_str_t *) data;

    size_t   len;
    u_char   name[NGX_HTTP_FLORES_JWT_MAX_CLAIM + 1];

    /* nginx lowercases variable names: so is <name> */

    len = var->len - (sizeof("flores_jwt_claim_") - 1);

    if (len == 0 || len > NGX_HTTP_FLORES_JWT_MAX_CLAIM) {
        v->not_found = 1;
        return NGX_OK;
    }

    ngx_memcpy(name, var->data + sizeof("flores_jwt_claim_") - 1, len);
    name[len] = '\0';

    return ngx_http_flores_jwt_claim(r, v, (const char *) name);
}


static ngx_int_t
ngx_http_flores_jwt_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_flores_jwt_ctx_t  *ctx;

    ctx = ngx_http_flores_jwt_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_flores_jwt_reasons[ctx->reason].name.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ngx_http_flores_jwt_reasons[ctx->reason].name.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_jwt_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_flores_jwt_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_flores_jwt_create_conf(ngx_conf_t *cf)
{
    ngx_http_flores_jwt_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->issuer = { 0, NULL };
     *     conf->audience = { 0, NULL };
     *     conf->conf_file = NULL;
     *     conf->line = 0;
     */

    conf->mode = NGX_CONF_UNSET_UINT;
    conf->key = NGX_CONF_UNSET_PTR;
    conf->algorithm = NGX_CONF_UNSET_UINT;
    conf->leeway = NGX_CONF_UNSET;
    conf->roles = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_flores_jwt_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_flores_jwt_conf_t *prev = parent;
    ngx_http_flores_jwt_conf_t *conf = child;

    if (conf->mode == NGX_CONF_UNSET_UINT) {
        conf->conf_file = prev->conf_file;
        conf->line = prev->line;
    }

    ngx_conf_merge_uint_value(conf->mode, prev->mode,
                              NGX_HTTP_FLORES_JWT_OFF);
    ngx_conf_merge_ptr_value(conf->key, prev->key, NULL);
    ngx_conf_merge_uint_value(conf->algorithm, prev->algorithm,
                              JWT_ALG_HS256);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_str_value(conf->audience, prev->audience, "");
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 30);
    ngx_conf_merge_ptr_value(conf->roles, prev->roles, NULL);

    if (conf->mode == NGX_HTTP_FLORES_JWT_OFF) {
        return NGX_CONF_OK;
    }

    if (conf->key == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no \"flores_jwt_key_file\" is defined for "
                      "\"flores_jwt\" in %s:%ui", conf->conf_file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->mode == NGX_HTTP_FLORES_JWT_OPTIONAL && conf->roles != NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_jwt optional\" in %s:%ui cannot be combined "
                      "with \"flores_jwt_require_role\": an anonymous "
                      "request has no role", conf->conf_file, conf->line);
        return NGX_CONF_ERROR;
    }

    return ngx_http_flores_jwt_check_key(cf, conf);
}


/* the key must fit the pinned algorithm, whichever level set either */

static char *
ngx_http_flores_jwt_check_key(ngx_conf_t *cf, ngx_http_flores_jwt_conf_t *jcf)
{
    int                         curve;
    size_t                      min;
    ngx_uint_t                  type;
    const char                 *alg;
    ngx_http_flores_jwt_key_t  *key;

    key = jcf->key;
    curve = NID_undef;
    min = 0;

    switch (jcf->algorithm) {

    case JWT_ALG_HS256:
        type = NGX_HTTP_FLORES_JWT_KEY_HMAC;
        min = 32;
        break;

    case JWT_ALG_HS384:
        type = NGX_HTTP_FLORES_JWT_KEY_HMAC;
        min = 48;
        break;

    case JWT_ALG_HS512:
        type = NGX_HTTP_FLORES_JWT_KEY_HMAC;
        min = 64;
        break;

    case JWT_ALG_RS256:
    case JWT_ALG_RS384:
    case JWT_ALG_RS512:
        type = NGX_HTTP_FLORES_JWT_KEY_RSA;
        break;

    case JWT_ALG_ES256:
        type = NGX_HTTP_FLORES_JWT_KEY_EC;
        curve = NID_X9_62_prime256v1;
        break;

    default: /* JWT_ALG_ES384 */
        type = NGX_HTTP_FLORES_JWT_KEY_EC;
        curve = NID_secp384r1;
        break;
    }

    alg = jwt_alg_str(jcf->algorithm);

    if (key->type != type) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_jwt_key_file\" \"%V\" in %s:%ui holds %s, "
                      "but \"flores_jwt_algorithm\" %s needs %s",
                      &key->file, key->conf_file, key->line,
                      key->type == NGX_HTTP_FLORES_JWT_KEY_HMAC
                      ? "a secret" : key->type == NGX_HTTP_FLORES_JWT_KEY_RSA
                      ? "an RSA public key" : "an EC public key",
                      alg,
                      type == NGX_HTTP_FLORES_JWT_KEY_HMAC
                      ? "a secret" : type == NGX_HTTP_FLORES_JWT_KEY_RSA
                      ? "an RSA public key" : "an EC public key");
        return NGX_CONF_ERROR;
    }

    /* an HMAC secret is at least as long as the hash (RFC 7518, 3.2) */

    if (type == NGX_HTTP_FLORES_JWT_KEY_HMAC && key->data.len < min) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_jwt_key_file\" \"%V\" in %s:%ui holds a "
                      "secret of %uz bytes, but \"flores_jwt_algorithm\" %s "
                      "needs at least %uz", &key->file, key->conf_file,
                      key->line, key->data.len, alg, min);
        return NGX_CONF_ERROR;
    }

    if (type == NGX_HTTP_FLORES_JWT_KEY_EC && key->curve != curve) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_jwt_key_file\" \"%V\" in %s:%ui holds a key "
                      "on curve %s, but \"flores_jwt_algorithm\" %s needs %s",
                      &key->file, key->conf_file, key->line,
                      OBJ_nid2sn(key->curve), alg, OBJ_nid2sn(curve));
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_jwt(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_jwt_conf_t *jcf = conf;

    char  *rv;

    rv = ngx_conf_set_enum_slot(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    jcf->conf_file = cf->conf_file->file.name.data;
    jcf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/*
 * The key is read and checked now, so that a bad key fails "nginx -t": a
 * PEM public key (RSA, or EC on P-256 or P-384), or else a secret of at
 * least 32 bytes (one trailing newline is not part of it).
 */

static char *
ngx_http_flores_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_jwt_conf_t *jcf = conf;

    u_char                     *p;
    ngx_str_t                  *value;
    ngx_pool_cleanup_t         *cln;
    ngx_http_flores_jwt_key_t  *key;

    if (jcf->key != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    key = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_key_t));
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    key->file = value[1];

    if (ngx_conf_full_name(cf->cycle, &key->file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    key->conf_file = cf->conf_file->file.name.data;
    key->line = cf->conf_file->line;

    if (ngx_http_flores_jwt_read_key(cf, key) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* the secret leaves no copy behind when the configuration is freed */

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_explicit_memzero(key->data.data, key->data.len);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_flores_jwt_key_cleanup;
    cln->data = key;

    p = key->data.data;

    if (key->data.len >= sizeof("-----BEGIN ") - 1
        && ngx_strncmp(p, "-----BEGIN ", sizeof("-----BEGIN ") - 1) == 0)
    {
        if (ngx_http_flores_jwt_parse_pem(cf, key) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

    } else {
        key->type = NGX_HTTP_FLORES_JWT_KEY_HMAC;

        if (key->data.len && p[key->data.len - 1] == '\n') {
            key->data.len--;

            if (key->data.len && p[key->data.len - 1] == '\r') {
                key->data.len--;
            }
        }

        if (key->data.len < NGX_HTTP_FLORES_JWT_MIN_SECRET) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key file \"%V\" holds a secret of %uz bytes, "
                               "at least %d are needed (or a PEM public key)",
                               &key->file, key->data.len,
                               NGX_HTTP_FLORES_JWT_MIN_SECRET);
            return NGX_CONF_ERROR;
        }
    }

    jcf->key = key;

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_jwt_read_key(ngx_conf_t *cf, ngx_http_flores_jwt_key_t *key)
{
    off_t            size;
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    fd = ngx_open_file(key->file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "cannot open key file \"%V\"", &key->file);
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));

    file.fd = fd;
    file.name = key->file;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", &key->file);
        goto failed;
    }

    size = ngx_file_size(&fi);

    if (!ngx_is_file(&fi) || size == 0
        || size > NGX_HTTP_FLORES_JWT_MAX_KEY_FILE)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" is not a file of 1 to %d bytes",
                           &key->file, NGX_HTTP_FLORES_JWT_MAX_KEY_FILE);
        goto failed;
    }

    /* with a terminating NUL, as OpenSSL and libjwt read PEM text */

    key->data.data = ngx_pnalloc(cf->pool, size + 1);
    if (key->data.data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, key->data.data, size, 0);

    if (n != size) {
        if (n != NGX_ERROR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key file \"%V\" changed while it was read",
                               &key->file);
        }

        ngx_explicit_memzero(key->data.data, size);
        goto failed;
    }

    key->data.len = size;
    key->data.data[size] = '\0';

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &key->file);
    }

    return NGX_CONF_OK;

failed:

    if (ngx_close_file(fd) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_ALERT, cf->log, ngx_errno,
                      ngx_close_file_n " \"%V\" failed", &key->file);
    }

    return NGX_CONF_ERROR;
}


static char *
ngx_http_flores_jwt_parse_pem(ngx_conf_t *cf, ngx_http_flores_jwt_key_t *key)
{
    BIO            *bio;
    char           *rv;
    char            curve[64];
    size_t          len;
    EVP_PKEY       *pkey;
    unsigned long   e;

    rv = NGX_CONF_ERROR;

    ERR_clear_error();

    bio = BIO_new_mem_buf(key->data.data, (int) key->data.len);
    if (bio == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "BIO_new_mem_buf() failed");
        return NGX_CONF_ERROR;
    }

    /* what libjwt reads: a SubjectPublicKeyInfo ("BEGIN PUBLIC KEY") */

    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    BIO_free(bio);

    if (pkey == NULL) {
        e = ERR_peek_last_error();

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" is not a PEM public key "
                           "(\"BEGIN PUBLIC KEY\"): %s",
                           &key->file, e ? ERR_reason_error_string(e) : "");
        ERR_clear_error();
        return NGX_CONF_ERROR;
    }

    switch (EVP_PKEY_get_base_id(pkey)) {

    case EVP_PKEY_RSA:
        key->type = NGX_HTTP_FLORES_JWT_KEY_RSA;
        key->bits = EVP_PKEY_get_bits(pkey);

        if (key->bits < NGX_HTTP_FLORES_JWT_MIN_RSA_BITS) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key file \"%V\" holds an RSA key of %d bits, "
                               "at least %d are needed", &key->file,
                               key->bits, NGX_HTTP_FLORES_JWT_MIN_RSA_BITS);
            goto done;
        }

        break;

    case EVP_PKEY_EC:
        key->type = NGX_HTTP_FLORES_JWT_KEY_EC;

        if (EVP_PKEY_get_group_name(pkey, curve, sizeof(curve), &len) != 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key file \"%V\" holds an EC key on an "
                               "unnamed curve", &key->file);
            goto done;
        }

        key->curve = OBJ_sn2nid(curve);

        if (key->curve != NID_X9_62_prime256v1
            && key->curve != NID_secp384r1)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "key file \"%V\" holds an EC key on curve "
                               "\"%s\", only P-256 and P-384 are supported",
                               &key->file, curve);
            goto done;
        }

        break;

    default:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" holds a public key that is "
                           "neither RSA nor EC", &key->file);
        goto done;
    }

    rv = NGX_CONF_OK;

done:

    EVP_PKEY_free(pkey);
    ERR_clear_error();

    return rv;
}


static void
ngx_http_flores_jwt_key_cleanup(void *data)
{
    ngx_http_flores_jwt_key_t  *key = data;

    ngx_explicit_memzero(key->data.data, key->data.len);
}


static char *
ngx_http_flores_jwt_require_role(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_flores_jwt_conf_t *jcf = conf;

    ngx_str_t   *value, *role;
    ngx_uint_t   i;

    if (jcf->roles != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    jcf->roles = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                  sizeof(ngx_str_t));
    if (jcf->roles == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid role \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        role = ngx_array_push(jcf->roles);
        if (role == NULL) {
            return NGX_CONF_ERROR;
        }

        *role = value[i];
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_jwt_not_empty(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *value = data;

    if (value->len == 0) {
        return "must not be empty";
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_flores_jwt_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_flores_jwt_handler;

    return NGX_OK;
}
