
/*
 * Flores Victoria gateway module, JWT: validates "Authorization: Bearer"
 * access tokens in the access phase and exposes the verified claims as
 * variables ($flores_jwt_sub, $flores_jwt_role, $flores_jwt_email,
 * $flores_jwt_claim_<name>, $flores_jwt_error, $flores_jwt_cache).
 *
 * A token is checked with OpenSSL against a key read and checked when the
 * configuration is loaded, made ready once per worker: the key of a key
 * file, or the one of a JWKS (ngx_http_flores_jwks.c) that the token's
 * "kid" names; a token whose "iss" names an issuer of "flores_jwt_trust" is
 * checked with that issuer's set instead. Its header and claims are read
 * with json-c; a token of the primary issuer is then looked up in the
 * revocation zone, if any (ngx_http_flores_jwt_revoke_module.c).
 *
 * Each worker keeps the tokens whose signature it has verified
 * ("flores_jwt_cache"), with their claims: a token sent again skips the
 * signature check and the parsing, never the checks of time, issuer,
 * audience, role and revocation, which every use repeats against the
 * location's configuration.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
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

/* the algorithms: index ngx_http_flores_jwt_algs[] */
#define NGX_HTTP_FLORES_JWT_HS256           0
#define NGX_HTTP_FLORES_JWT_HS384           1
#define NGX_HTTP_FLORES_JWT_HS512           2
#define NGX_HTTP_FLORES_JWT_RS256           3
#define NGX_HTTP_FLORES_JWT_RS384           4
#define NGX_HTTP_FLORES_JWT_RS512           5
#define NGX_HTTP_FLORES_JWT_ES256           6
#define NGX_HTTP_FLORES_JWT_ES384           7
#define NGX_HTTP_FLORES_JWT_ALGS            8

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
#define NGX_HTTP_FLORES_JWT_KEY             10
#define NGX_HTTP_FLORES_JWT_REVOKED         11

/* $flores_jwt_cache */
#define NGX_HTTP_FLORES_JWT_CACHE_NONE      0
#define NGX_HTTP_FLORES_JWT_CACHE_MISS      1
#define NGX_HTTP_FLORES_JWT_CACHE_HIT       2

/* the longest token accepted, in bytes */
#define NGX_HTTP_FLORES_JWT_MAX_TOKEN       8192

/* HMAC secrets: at least the size of the SHA-256 output (RFC 7518, 3.2) */
#define NGX_HTTP_FLORES_JWT_MIN_SECRET      32
#define NGX_HTTP_FLORES_JWT_MAX_KEY_FILE    65536
#define NGX_HTTP_FLORES_JWT_MIN_RSA_BITS    2048

/* seconds; a cached token this far past its "exp" is of no use anywhere */
#define NGX_HTTP_FLORES_JWT_MAX_LEEWAY      600

#define NGX_HTTP_FLORES_JWT_CACHE_SIZE      1024
/* bytes at the end of a token that the cache hashes */
#define NGX_HTTP_FLORES_JWT_HASH_TAIL       32
#define NGX_HTTP_FLORES_JWT_CACHE_MAX       1048576

/* ngx_http_flores_jwt_claim_t flags */
#define NGX_HTTP_FLORES_JWT_STRING          0x01
/* control characters: never passed on */
#define NGX_HTTP_FLORES_JWT_UNSAFE          0x02

#define ngx_http_flores_jwt_401(msg)                                         \
    { NGX_HTTP_UNAUTHORIZED, ngx_string("UNAUTHORIZED"), ngx_string(msg) }


typedef struct {
    ngx_str_t                    name;
    /* OpenSSL's name of the hash */
    const char                  *digest;
    ngx_uint_t                   type;
    /* HS*: the shortest secret (the hash's size); ES*: the size of r and s */
    size_t                       size;
    /* ES*: the NID of the curve */
    int                          curve;
} ngx_http_flores_jwt_alg_t;


/*
 * A key made ready for one algorithm, by each worker when it first checks
 * a token with them: nothing of OpenSSL's is left to free after "nginx -t".
 */
typedef struct {
    /* HS*: the secret already set, re-initialized for each token */
    EVP_MAC_CTX                 *mac;
    /* RS*, ES* */
    EVP_MD                      *md;
} ngx_http_flores_jwt_verifier_t;


typedef struct {
    ngx_str_t                    file;
    /* "flores_jwt_key_file" or "flores_jwt_jwks_file", for errors */
    const char                  *directive;
    /* a key of a JWKS: its "kid" and "alg", empty when it has none */
    ngx_str_t                    kid;
    ngx_str_t                    alg;
    /* the secret for HMAC, the PEM text for RSA and EC */
    ngx_str_t                    data;
    ngx_uint_t                   type;
    /* RSA, EC: read again from data by each worker */
    EVP_PKEY                    *pkey;
    /* RSA: the key size in bits; EC: the NID of the curve */
    int                          bits;
    int                          curve;
    ngx_http_flores_jwt_verifier_t  verifiers[NGX_HTTP_FLORES_JWT_ALGS];
    u_char                      *conf_file;
    ngx_uint_t                   line;
} ngx_http_flores_jwt_key_t;


/*
 * The keys a token may be signed with: the one of "flores_jwt_key_file"
 * (whatever "kid" a token names), or those of "flores_jwt_jwks_file", of
 * which a token's "kid" picks one (a token without one is accepted only
 * when the set has a single key).
 */

typedef struct {
    ngx_str_t                    file;
    ngx_http_flores_jwt_key_t  **keys;
    ngx_uint_t                   nkeys;
    unsigned                     jwks:1;
    u_char                      *conf_file;
    ngx_uint_t                   line;
} ngx_http_flores_jwt_keys_t;


/* "flores_jwt_trust": another issuer, with its own keys */

typedef struct {
    ngx_str_t                    issuer;
    /* empty: the location's "flores_jwt_audience" */
    ngx_str_t                    audience;
    /* NGX_CONF_UNSET_UINT: the location's "flores_jwt_algorithm" */
    ngx_uint_t                   algorithm;
    ngx_http_flores_jwt_keys_t  *keys;
} ngx_http_flores_jwt_trust_t;


typedef struct {
    ngx_uint_t                   mode;
    ngx_http_flores_jwt_keys_t  *keys;
    ngx_uint_t                   algorithm;
    /* ngx_http_flores_jwt_trust_t, NULL when none */
    ngx_array_t                 *trusts;
    ngx_str_t                    issuer;
    ngx_str_t                    audience;
    time_t                       leeway;
    ngx_array_t                 *roles;
    /* where "flores_jwt" was set, for errors found when merging */
    u_char                      *conf_file;
    ngx_uint_t                   line;
} ngx_http_flores_jwt_conf_t;


/*
 * The claims of a verified token, in one block that holds no pointer, so
 * that it can be copied whole: offsets count from the block's start. The
 * header is followed by nclaims ngx_http_flores_jwt_claim_t, naud
 * ngx_http_flores_jwt_claim_t (the strings of "aud": value and value_len
 * only), then the bytes of names and values.
 */

typedef struct {
    uint32_t                     name;
    uint32_t                     name_len;
    /* a string as it is, any other JSON value as compact JSON */
    uint32_t                     value;
    uint32_t                     value_len;
    uint32_t                     flags;
} ngx_http_flores_jwt_claim_t;


typedef struct {
    /* the block's size, in bytes */
    size_t                       size;
    time_t                       exp;
    /* 0 when the token has no "nbf" */
    time_t                       nbf;
    /* 0 when the token has no integer "iat" */
    time_t                       iat;
    ngx_uint_t                   nclaims;
    ngx_uint_t                   naud;
} ngx_http_flores_jwt_claims_t;


/* a claim while the block is made: pointers into the parsed payload */

typedef struct {
    const char                  *name;
    size_t                       name_len;
    const char                  *value;
    size_t                       value_len;
    ngx_uint_t                   flags;
} ngx_http_flores_jwt_text_t;


/*
 * A token whose signature verified with a set of keys under an algorithm,
 * in one allocation: the node, its claims, the token's bytes. Within a set,
 * the token's own "kid" picked the key: the same bytes pick the same one.
 */

typedef struct ngx_http_flores_jwt_node_s  ngx_http_flores_jwt_node_t;

struct ngx_http_flores_jwt_node_s {
    ngx_http_flores_jwt_node_t      *next;
    ngx_queue_t                      queue;
    uint32_t                         hash;
    ngx_http_flores_jwt_keys_t      *keys;
    ngx_uint_t                       algorithm;
    ngx_http_flores_jwt_claims_t    *claims;
    u_char                          *token;
    size_t                           token_len;
};


/*
 * The worker's verified tokens: a hash table of chains and a queue, most
 * recently used first. Each worker fills its own copy, made at fork; the
 * table itself is allocated by the first token kept.
 */

typedef struct {
    ngx_http_flores_jwt_node_t     **buckets;
    /* buckets - 1, a power of two minus one */
    ngx_uint_t                       mask;
    ngx_queue_t                      queue;
    ngx_uint_t                       size;
    ngx_uint_t                       count;
} ngx_http_flores_jwt_cache_t;


typedef struct {
    /* 0: off */
    ngx_uint_t                       cache_size;
    ngx_http_flores_jwt_cache_t     *cache;
} ngx_http_flores_jwt_main_conf_t;


typedef struct {
    /* the verified claims (in the request's pool), NULL unless accepted */
    ngx_http_flores_jwt_claims_t    *claims;
    /* the issuer trusted by "flores_jwt_trust", NULL for the primary one */
    ngx_http_flores_jwt_trust_t     *trust;
    ngx_uint_t                       reason;
    ngx_uint_t                       cache;
} ngx_http_flores_jwt_ctx_t;


typedef struct {
    ngx_str_t                    name;
    ngx_http_flores_error_t      error;
} ngx_http_flores_jwt_reason_t;


static ngx_int_t ngx_http_flores_jwt_token(ngx_http_request_t *r,
    ngx_str_t *token);
static ngx_int_t ngx_http_flores_jwt_shape(ngx_str_t *token);
static ngx_int_t ngx_http_flores_jwt_verify(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token,
    ngx_http_flores_jwt_ctx_t *ctx);
static ngx_int_t ngx_http_flores_jwt_decode(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token,
    ngx_http_flores_jwt_ctx_t *ctx, ngx_http_flores_jwt_claims_t **claimsp);
static ngx_http_flores_jwt_trust_t *ngx_http_flores_jwt_trusted(
    ngx_http_flores_jwt_conf_t *jcf, u_char *iss, size_t len);
static ngx_uint_t ngx_http_flores_jwt_trust_algorithm(
    ngx_http_flores_jwt_conf_t *jcf, ngx_http_flores_jwt_trust_t *trust);
static ngx_int_t ngx_http_flores_jwt_pick(ngx_http_flores_jwt_keys_t *keys,
    json_object *header, ngx_http_flores_jwt_key_t **keyp);
static ngx_int_t ngx_http_flores_jwt_signature(ngx_http_request_t *r,
    ngx_http_flores_jwt_key_t *key, ngx_uint_t algorithm, u_char *input,
    size_t len, ngx_str_t *sig);
static ngx_int_t ngx_http_flores_jwt_prepare(ngx_log_t *log,
    ngx_http_flores_jwt_key_t *key, ngx_uint_t algorithm);
static EVP_PKEY *ngx_http_flores_jwt_read_pkey(ngx_http_flores_jwt_key_t *key);
static ngx_int_t ngx_http_flores_jwt_read_claims(ngx_http_request_t *r,
    json_object *payload, ngx_http_flores_jwt_claims_t **claimsp);
static ngx_int_t ngx_http_flores_jwt_date(json_object *v, time_t *date);
static ngx_int_t ngx_http_flores_jwt_check(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_http_flores_jwt_trust_t *trust,
    ngx_http_flores_jwt_claims_t *claims);
static ngx_int_t ngx_http_flores_jwt_revocation(ngx_http_request_t *r,
    ngx_http_flores_jwt_claims_t *claims);
static ngx_http_flores_jwt_claim_t *ngx_http_flores_jwt_find(
    ngx_http_flores_jwt_claims_t *claims, u_char *name, size_t len);
static ngx_int_t ngx_http_flores_jwt_decode_part(ngx_http_request_t *r,
    u_char *start, u_char *end, json_object **objp);
static ngx_int_t ngx_http_flores_jwt_canonical(u_char *start, u_char *end);

static ngx_http_flores_jwt_node_t *ngx_http_flores_jwt_cache_lookup(
    ngx_http_flores_jwt_cache_t *cache, uint32_t hash,
    ngx_http_flores_jwt_keys_t *keys, ngx_uint_t algorithm, ngx_str_t *token);
static ngx_uint_t ngx_http_flores_jwt_equal(u_char *a, u_char *b,
    size_t len);
static void ngx_http_flores_jwt_cache_insert(ngx_http_request_t *r,
    ngx_http_flores_jwt_cache_t *cache, uint32_t hash,
    ngx_http_flores_jwt_keys_t *keys, ngx_uint_t algorithm, ngx_str_t *token,
    ngx_http_flores_jwt_claims_t *claims);
static void ngx_http_flores_jwt_cache_delete(
    ngx_http_flores_jwt_cache_t *cache, ngx_http_flores_jwt_node_t *node);
static void ngx_http_flores_jwt_cache_cleanup(void *data);

static ngx_http_flores_jwt_ctx_t *ngx_http_flores_jwt_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_flores_jwt_cleanup(void *data);

static ngx_int_t ngx_http_flores_jwt_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, u_char *name, size_t len);
static ngx_int_t ngx_http_flores_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_jwt_claim_prefix_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_jwt_error_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_jwt_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_flores_jwt_add_variables(ngx_conf_t *cf);
static void *ngx_http_flores_jwt_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_flores_jwt_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_flores_jwt_create_conf(ngx_conf_t *cf);
static char *ngx_http_flores_jwt_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_flores_jwt_check_keys(ngx_conf_t *cf,
    ngx_http_flores_jwt_keys_t *keys, ngx_uint_t algorithm);
static char *ngx_http_flores_jwt_check_key(ngx_conf_t *cf,
    ngx_http_flores_jwt_key_t *key, ngx_uint_t algorithm);
static char *ngx_http_flores_jwt(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_jwt_key_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_http_flores_jwt_keys_t *ngx_http_flores_jwt_keys(ngx_conf_t *cf,
    ngx_str_t *name, ngx_uint_t n);
static char *ngx_http_flores_jwt_jwks_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_http_flores_jwt_keys_t *ngx_http_flores_jwt_read_jwks(
    ngx_conf_t *cf, ngx_str_t *name);
static char *ngx_http_flores_jwt_trust(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_jwt_read_key(ngx_conf_t *cf,
    ngx_http_flores_jwt_key_t *key);
static char *ngx_http_flores_jwt_parse_pem(ngx_conf_t *cf,
    ngx_http_flores_jwt_key_t *key);
static void ngx_http_flores_jwt_key_cleanup(void *data);
static char *ngx_http_flores_jwt_require_role(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_flores_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
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
    { ngx_string("HS256"), NGX_HTTP_FLORES_JWT_HS256 },
    { ngx_string("HS384"), NGX_HTTP_FLORES_JWT_HS384 },
    { ngx_string("HS512"), NGX_HTTP_FLORES_JWT_HS512 },
    { ngx_string("RS256"), NGX_HTTP_FLORES_JWT_RS256 },
    { ngx_string("RS384"), NGX_HTTP_FLORES_JWT_RS384 },
    { ngx_string("RS512"), NGX_HTTP_FLORES_JWT_RS512 },
    { ngx_string("ES256"), NGX_HTTP_FLORES_JWT_ES256 },
    { ngx_string("ES384"), NGX_HTTP_FLORES_JWT_ES384 },
    { ngx_null_string, 0 }
};


/* in the order of NGX_HTTP_FLORES_JWT_HS256 ... ES384 */
static ngx_http_flores_jwt_alg_t  ngx_http_flores_jwt_algs[] = {
    { ngx_string("HS256"), "SHA256", NGX_HTTP_FLORES_JWT_KEY_HMAC, 32, 0 },
    { ngx_string("HS384"), "SHA384", NGX_HTTP_FLORES_JWT_KEY_HMAC, 48, 0 },
    { ngx_string("HS512"), "SHA512", NGX_HTTP_FLORES_JWT_KEY_HMAC, 64, 0 },
    { ngx_string("RS256"), "SHA256", NGX_HTTP_FLORES_JWT_KEY_RSA, 0, 0 },
    { ngx_string("RS384"), "SHA384", NGX_HTTP_FLORES_JWT_KEY_RSA, 0, 0 },
    { ngx_string("RS512"), "SHA512", NGX_HTTP_FLORES_JWT_KEY_RSA, 0, 0 },
    { ngx_string("ES256"), "SHA256", NGX_HTTP_FLORES_JWT_KEY_EC, 32,
      NID_X9_62_prime256v1 },
    { ngx_string("ES384"), "SHA384", NGX_HTTP_FLORES_JWT_KEY_EC, 48,
      NID_secp384r1 }
};


/* seconds */
static ngx_conf_num_bounds_t  ngx_http_flores_jwt_leeway_bounds = {
    ngx_conf_check_num_bounds, 0, NGX_HTTP_FLORES_JWT_MAX_LEEWAY
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

    { ngx_string("flores_jwt_jwks_file"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_jwt_jwks_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_jwt_trust"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_flores_jwt_trust,
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

    { ngx_string("flores_jwt_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_jwt_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_jwt_module_ctx = {
    ngx_http_flores_jwt_add_variables,     /* preconfiguration */
    ngx_http_flores_jwt_init,              /* postconfiguration */

    ngx_http_flores_jwt_create_main_conf,  /* create main configuration */
    ngx_http_flores_jwt_init_main_conf,    /* init main configuration */

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

    { ngx_string("flores_jwt_cache"), NULL,
      ngx_http_flores_jwt_cache_variable, 0,
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
        ngx_string("No tienes permiso para realizar esta acción") } },

    /* a "kid" that names no key of the set, or none where one is needed */
    { ngx_string("key"),
      ngx_http_flores_jwt_401("El token de acceso no es válido") },

    { ngx_string("revoked"),
      ngx_http_flores_jwt_401("La sesión fue cerrada, inicia sesión de "
                              "nuevo") }
};


/* 1: a base64url character, 2: the separator; in a compact JWS */
static u_char  ngx_http_flores_jwt_chars[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 0,    /*  -.  */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0,    /* 0-9 */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1,    /* P-Z _ */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,    /* a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0,    /* p-z */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0
};


static ngx_str_t  ngx_http_flores_jwt_cache_status[] = {
    ngx_string(""),
    ngx_string("miss"),
    ngx_string("hit")
};


static ngx_str_t  ngx_http_flores_jwt_challenge =
    ngx_string("Bearer realm=\"flores-victoria\", error=\"invalid_token\"");

static ngx_str_t  ngx_http_flores_jwt_revoked_challenge =
    ngx_string("Bearer realm=\"flores-victoria\", error=\"invalid_token\", "
               "error_description=\"token revoked\"");


static ngx_int_t
ngx_http_flores_jwt_handler(ngx_http_request_t *r)
{
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

    if (ctx == NULL) {
        /* the ctx lives in its cleanup: one allocation, found again later */

        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_flores_jwt_ctx_t));
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx = cln->data;
        cln->handler = ngx_http_flores_jwt_cleanup;
    }

    ctx->claims = NULL;
    ctx->trust = NULL;
    ctx->reason = NGX_HTTP_FLORES_JWT_ACCEPTED;
    ctx->cache = NGX_HTTP_FLORES_JWT_CACHE_NONE;

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

        reason = ngx_http_flores_jwt_verify(r, jcf, &token, ctx);

        if (reason == NGX_HTTP_FLORES_JWT_ACCEPTED) {
            reason = ngx_http_flores_jwt_check(r, jcf, ctx->trust,
                                               ctx->claims);
        }

        /* revocation is the primary issuer's: it alone tells the gateway */

        if (reason == NGX_HTTP_FLORES_JWT_ACCEPTED && ctx->trust == NULL) {
            reason = ngx_http_flores_jwt_revocation(r, ctx->claims);
        }

        if (reason == NGX_ERROR) {
            ctx->claims = NULL;
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (reason == NGX_HTTP_FLORES_JWT_ACCEPTED) {
            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "flores jwt: token accepted, cache %V",
                           &ngx_http_flores_jwt_cache_status[ctx->cache]);
            return NGX_OK;
        }

        ctx->claims = NULL;
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
        h->value = (reason == NGX_HTTP_FLORES_JWT_REVOKED)
                   ? ngx_http_flores_jwt_revoked_challenge
                   : ngx_http_flores_jwt_challenge;

        r->headers_out.www_authenticate = h;
    }

    return ngx_http_flores_reject(r, &rs->error);
}


/*
 * Finds the token in "Authorization: Bearer <token>" (RFC 6750, 2.1; the
 * scheme is case-insensitive).
 */

static ngx_int_t
ngx_http_flores_jwt_token(ngx_http_request_t *r, ngx_str_t *token)
{
    u_char           *p, *last;
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

    return NGX_HTTP_FLORES_JWT_ACCEPTED;
}


/*
 * The shape of a compact JWS: three base64url parts, the signature possibly
 * empty. A token found in the cache had it when it was first checked.
 */

static ngx_int_t
ngx_http_flores_jwt_shape(ngx_str_t *token)
{
    u_char      *p, *last;
    ngx_uint_t   dots;

    p = token->data;
    last = p + token->len;
    dots = 0;

    for ( /* void */ ; p < last; p++) {

        if (ngx_http_flores_jwt_chars[*p] == 1) {
            continue;
        }

        if (ngx_http_flores_jwt_chars[*p] != 2 || ++dots > 2) {
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
 * The token's signature and claims: from the worker's cache when this very
 * token verified before with the keys and the algorithm that the location
 * would choose for it (its own, or a trusted issuer's when the token's
 * "iss" names one), otherwise checked in full and then cached. The request
 * keeps its own copy of the claims, in its pool: a cached entry may be
 * evicted while the request is still using them (in the access log, say).
 */

static ngx_int_t
ngx_http_flores_jwt_verify(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token,
    ngx_http_flores_jwt_ctx_t *ctx)
{
    size_t                            len;
    uint32_t                          hash;
    ngx_int_t                         rc;
    ngx_uint_t                        i, n, algorithm;
    ngx_http_flores_jwt_keys_t       *keys;
    ngx_http_flores_jwt_node_t       *node;
    ngx_http_flores_jwt_claim_t      *iss;
    ngx_http_flores_jwt_trust_t      *trust, *t;
    ngx_http_flores_jwt_cache_t      *cache;
    ngx_http_flores_jwt_claims_t     *claims;
    ngx_http_flores_jwt_main_conf_t  *jmcf;

    jmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_jwt_module);
    cache = jmcf->cache;
    hash = 0;

    if (cache) {
        /*
         * The end of a signed token is its signature: enough to spread
         * tokens over the table; lookups compare whole tokens.
         */

        len = ngx_min(token->len, NGX_HTTP_FLORES_JWT_HASH_TAIL);
        hash = ngx_murmur_hash2(token->data + token->len - len, len);

        /* the location's own keys first, then each trusted issuer's */

        n = jcf->trusts ? jcf->trusts->nelts : 0;
        t = jcf->trusts ? jcf->trusts->elts : NULL;
        node = NULL;
        trust = NULL;

        for (i = 0; i <= n; i++) {
            trust = i ? &t[i - 1] : NULL;
            keys = trust ? trust->keys : jcf->keys;
            algorithm = ngx_http_flores_jwt_trust_algorithm(jcf, trust);

            node = ngx_http_flores_jwt_cache_lookup(cache, hash, keys,
                                                    algorithm, token);
            if (node == NULL) {
                continue;
            }

            /* the issuer the token names must lead to the same keys here */

            if (n) {
                iss = ngx_http_flores_jwt_find(node->claims,
                                               (u_char *) "iss", 3);

                if (ngx_http_flores_jwt_trusted(jcf,
                        iss && (iss->flags & NGX_HTTP_FLORES_JWT_STRING)
                        ? (u_char *) node->claims + iss->value : NULL,
                        iss ? iss->value_len : 0)
                    != trust)
                {
                    node = NULL;
                    continue;
                }
            }

            break;
        }

        if (node) {
            ctx->trust = trust;
            ctx->cache = NGX_HTTP_FLORES_JWT_CACHE_HIT;

            claims = ngx_palloc(r->pool, node->claims->size);
            if (claims == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(claims, node->claims, node->claims->size);

            if (ngx_time() - NGX_HTTP_FLORES_JWT_MAX_LEEWAY >= claims->exp) {
                /* expired for every location: no longer worth a place */
                ngx_http_flores_jwt_cache_delete(cache, node);

            } else {
                ngx_queue_remove(&node->queue);
                ngx_queue_insert_head(&cache->queue, &node->queue);
            }

            ctx->claims = claims;

            return NGX_HTTP_FLORES_JWT_ACCEPTED;
        }
    }

    if (ngx_http_flores_jwt_shape(token) != NGX_HTTP_FLORES_JWT_ACCEPTED) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    ctx->cache = NGX_HTTP_FLORES_JWT_CACHE_MISS;
    claims = NULL;

    rc = ngx_http_flores_jwt_decode(r, jcf, token, ctx, &claims);

    if (rc != NGX_HTTP_FLORES_JWT_ACCEPTED) {
        return rc;
    }

    if (cache && ngx_time() - NGX_HTTP_FLORES_JWT_MAX_LEEWAY < claims->exp) {
        keys = ctx->trust ? ctx->trust->keys : jcf->keys;
        algorithm = ngx_http_flores_jwt_trust_algorithm(jcf, ctx->trust);

        ngx_http_flores_jwt_cache_insert(r, cache, hash, keys, algorithm,
                                         token, claims);
    }

    ctx->claims = claims;

    return NGX_HTTP_FLORES_JWT_ACCEPTED;
}


/*
 * The full check of a token the worker has not verified before: the header
 * names exactly the pinned algorithm (never "none", never another one the
 * key would also fit), and a key of the set (by its "kid"); the signature
 * verifies with that key; the payload is a JSON object with an integer
 * "exp" (and an integer "nbf", if any). Claims are read only once the
 * signature has verified; where other issuers are trusted, the payload's
 * "iss" is looked at before, only to choose the keys and the algorithm.
 */

static ngx_int_t
ngx_http_flores_jwt_decode(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_str_t *token,
    ngx_http_flores_jwt_ctx_t *ctx, ngx_http_flores_jwt_claims_t **claimsp)
{
    u_char                       *dot1, *dot2, *last;
    ngx_int_t                     rc;
    ngx_str_t                     sig, src;
    ngx_uint_t                    algorithm;
    const char                   *typ;
    json_object                  *header, *payload, *v;
    ngx_http_flores_jwt_alg_t    *alg;
    ngx_http_flores_jwt_key_t    *key;
    ngx_http_flores_jwt_keys_t   *keys;
    ngx_http_flores_jwt_trust_t  *trust;

    last = token->data + token->len;
    dot1 = ngx_strlchr(token->data, last, '.');
    dot2 = ngx_strlchr(dot1 + 1, last, '.');

    rc = ngx_http_flores_jwt_decode_part(r, token->data, dot1, &header);

    if (rc != NGX_OK) {
        return rc == NGX_DECLINED ? NGX_HTTP_FLORES_JWT_MALFORMED : NGX_ERROR;
    }

    payload = NULL;
    trust = NULL;
    key = NULL;

    if (jcf->trusts) {
        rc = ngx_http_flores_jwt_decode_part(r, dot1 + 1, dot2, &payload);

        if (rc != NGX_OK) {
            json_object_put(header);
            return rc == NGX_DECLINED ? NGX_HTTP_FLORES_JWT_MALFORMED
                                      : NGX_ERROR;
        }

        if (json_object_object_get_ex(payload, "iss", &v)
            && json_object_is_type(v, json_type_string))
        {
            trust = ngx_http_flores_jwt_trusted(jcf,
                                     (u_char *) json_object_get_string(v),
                                     json_object_get_string_len(v));
        }
    }

    algorithm = ngx_http_flores_jwt_trust_algorithm(jcf, trust);
    keys = trust ? trust->keys : jcf->keys;
    alg = &ngx_http_flores_jwt_algs[algorithm];

    if (!json_object_object_get_ex(header, "alg", &v)
        || !json_object_is_type(v, json_type_string))
    {
        rc = NGX_HTTP_FLORES_JWT_MALFORMED;
        goto header_done;
    }

    if ((size_t) json_object_get_string_len(v) != alg->name.len
        || ngx_memcmp(json_object_get_string(v), alg->name.data,
                      alg->name.len)
           != 0)
    {
        rc = NGX_HTTP_FLORES_JWT_ALGORITHM;
        goto header_done;
    }

    rc = NGX_HTTP_FLORES_JWT_ACCEPTED;

    if (json_object_object_get_ex(header, "typ", &v)) {

        if (!json_object_is_type(v, json_type_string)) {
            rc = NGX_HTTP_FLORES_JWT_MALFORMED;

        } else {
            typ = json_object_get_string(v);

            if ((size_t) json_object_get_string_len(v) != sizeof("JWT") - 1
                || ngx_strcasecmp((u_char *) typ, (u_char *) "JWT") != 0)
            {
                rc = NGX_HTTP_FLORES_JWT_MALFORMED;
            }
        }
    }

    /* no extension is understood here, so none may be critical (RFC 7515) */

    if (json_object_object_get_ex(header, "crit", NULL)) {
        rc = NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    if (rc == NGX_HTTP_FLORES_JWT_ACCEPTED) {
        rc = ngx_http_flores_jwt_pick(keys, header, &key);
    }

header_done:

    json_object_put(header);

    if (rc != NGX_HTTP_FLORES_JWT_ACCEPTED) {
        goto done;
    }

    /* the signature, in its one canonical base64url form */

    src.data = dot2 + 1;
    src.len = last - src.data;

    if (src.len == 0 || ngx_http_flores_jwt_canonical(src.data, last) != NGX_OK)
    {
        rc = NGX_HTTP_FLORES_JWT_SIGNATURE;
        goto done;
    }

    sig.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(src.len));
    if (sig.data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    if (ngx_decode_base64url(&sig, &src) != NGX_OK) {
        rc = NGX_HTTP_FLORES_JWT_SIGNATURE;
        goto done;
    }

    rc = ngx_http_flores_jwt_signature(r, key, algorithm, token->data,
                                       dot2 - token->data, &sig);

    if (rc != NGX_HTTP_FLORES_JWT_ACCEPTED) {
        goto done;
    }

    if (payload == NULL) {
        rc = ngx_http_flores_jwt_decode_part(r, dot1 + 1, dot2, &payload);

        if (rc != NGX_OK) {
            return rc == NGX_DECLINED ? NGX_HTTP_FLORES_JWT_MALFORMED
                                      : NGX_ERROR;
        }
    }

    rc = ngx_http_flores_jwt_read_claims(r, payload, claimsp);

    if (rc == NGX_HTTP_FLORES_JWT_ACCEPTED) {
        ctx->trust = trust;
    }

done:

    if (payload) {
        json_object_put(payload);
    }

    return rc;
}


/* the trusted issuer a token's "iss" names, NULL for the primary one */

static ngx_http_flores_jwt_trust_t *
ngx_http_flores_jwt_trusted(ngx_http_flores_jwt_conf_t *jcf, u_char *iss,
    size_t len)
{
    ngx_uint_t                    i;
    ngx_http_flores_jwt_trust_t  *t;

    if (jcf->trusts == NULL || iss == NULL) {
        return NULL;
    }

    t = jcf->trusts->elts;

    for (i = 0; i < jcf->trusts->nelts; i++) {
        if (t[i].issuer.len == len
            && ngx_memcmp(t[i].issuer.data, iss, len) == 0)
        {
            return &t[i];
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_http_flores_jwt_trust_algorithm(ngx_http_flores_jwt_conf_t *jcf,
    ngx_http_flores_jwt_trust_t *trust)
{
    if (trust && trust->algorithm != NGX_CONF_UNSET_UINT) {
        return trust->algorithm;
    }

    return jcf->algorithm;
}


/*
 * The key of the set that the header's "kid" names. A key file's single
 * key takes any token; a JWKS key is named by its "kid", and a token
 * without one is taken only by a set of one key.
 */

static ngx_int_t
ngx_http_flores_jwt_pick(ngx_http_flores_jwt_keys_t *keys,
    json_object *header, ngx_http_flores_jwt_key_t **keyp)
{
    size_t                      len;
    ngx_uint_t                  i;
    const char                 *kid;
    json_object                *v;
    ngx_http_flores_jwt_key_t  *key;

    if (!keys->jwks) {
        *keyp = keys->keys[0];
        return NGX_HTTP_FLORES_JWT_ACCEPTED;
    }

    if (!json_object_object_get_ex(header, "kid", &v)) {

        if (keys->nkeys != 1) {
            return NGX_HTTP_FLORES_JWT_KEY;
        }

        *keyp = keys->keys[0];
        return NGX_HTTP_FLORES_JWT_ACCEPTED;
    }

    if (!json_object_is_type(v, json_type_string)) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    kid = json_object_get_string(v);
    len = json_object_get_string_len(v);

    for (i = 0; i < keys->nkeys; i++) {
        key = keys->keys[i];

        /* a key without "kid" is never named, not even by "" */

        if (key->kid.len == len && len
            && ngx_memcmp(key->kid.data, kid, len) == 0)
        {
            *keyp = key;
            return NGX_HTTP_FLORES_JWT_ACCEPTED;
        }
    }

    return NGX_HTTP_FLORES_JWT_KEY;
}


/* "<header>.<payload>" against the signature, with the key picked */

static ngx_int_t
ngx_http_flores_jwt_signature(ngx_http_request_t *r,
    ngx_http_flores_jwt_key_t *key, ngx_uint_t algorithm, u_char *input,
    size_t len, ngx_str_t *sig)
{
    int                              ok;
    u_char                           mac[EVP_MAX_MD_SIZE];
    u_char                           der[256], *p;
    BIGNUM                          *br, *bs;
    size_t                           n, size;
    ECDSA_SIG                       *es;
    EVP_MD_CTX                      *md;
    ngx_http_flores_jwt_alg_t       *alg;
    ngx_http_flores_jwt_verifier_t  *vf;

    alg = &ngx_http_flores_jwt_algs[algorithm];
    vf = &key->verifiers[algorithm];

    if (vf->mac == NULL && vf->md == NULL
        && ngx_http_flores_jwt_prepare(r->connection->log, key, algorithm)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (alg->type == NGX_HTTP_FLORES_JWT_KEY_HMAC) {

        /* a NULL key starts over with the secret already set */

        if (EVP_MAC_init(vf->mac, NULL, 0, NULL) != 1
            || EVP_MAC_update(vf->mac, input, len) != 1
            || EVP_MAC_final(vf->mac, mac, &n, sizeof(mac)) != 1)
        {
            ERR_clear_error();
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "flores jwt: HMAC failed");
            return NGX_ERROR;
        }

        if (sig->len != n || CRYPTO_memcmp(sig->data, mac, n) != 0) {
            return NGX_HTTP_FLORES_JWT_SIGNATURE;
        }

        return NGX_HTTP_FLORES_JWT_ACCEPTED;
    }

    p = sig->data;
    size = sig->len;

    if (alg->type == NGX_HTTP_FLORES_JWT_KEY_EC) {

        /* JWS's r || s (RFC 7518, 3.4) to the DER that OpenSSL verifies */

        if (sig->len != 2 * alg->size) {
            return NGX_HTTP_FLORES_JWT_SIGNATURE;
        }

        es = ECDSA_SIG_new();
        br = BN_bin2bn(sig->data, alg->size, NULL);
        bs = BN_bin2bn(sig->data + alg->size, alg->size, NULL);

        if (es == NULL || br == NULL || bs == NULL
            || ECDSA_SIG_set0(es, br, bs) != 1)
        {
            ECDSA_SIG_free(es);
            BN_free(br);
            BN_free(bs);
            ERR_clear_error();
            return NGX_ERROR;
        }

        /* r and s belong to es now */

        ok = i2d_ECDSA_SIG(es, NULL);

        if (ok <= 0 || (size_t) ok > sizeof(der)) {
            ECDSA_SIG_free(es);
            ERR_clear_error();
            return NGX_ERROR;
        }

        p = der;
        size = i2d_ECDSA_SIG(es, &p);
        p = der;

        ECDSA_SIG_free(es);
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    if (EVP_DigestVerifyInit(md, NULL, vf->md, NULL, key->pkey) != 1) {
        EVP_MD_CTX_free(md);
        ERR_clear_error();
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "flores jwt: EVP_DigestVerifyInit() failed");
        return NGX_ERROR;
    }

    ok = EVP_DigestVerify(md, p, size, input, len);

    EVP_MD_CTX_free(md);
    ERR_clear_error();

    return ok == 1 ? NGX_HTTP_FLORES_JWT_ACCEPTED
                   : NGX_HTTP_FLORES_JWT_SIGNATURE;
}


/*
 * What each token check would otherwise redo: the public key read from its
 * PEM text, the hash fetched from OpenSSL's provider and, for HMAC, the
 * secret's inner and outer pads. Once per key and algorithm in a worker,
 * shared by the locations that use them; freed with the configuration.
 */

static ngx_int_t
ngx_http_flores_jwt_prepare(ngx_log_t *log, ngx_http_flores_jwt_key_t *key,
    ngx_uint_t algorithm)
{
    EVP_MAC                         *mac;
    OSSL_PARAM                       params[2];
    ngx_http_flores_jwt_alg_t       *alg;
    ngx_http_flores_jwt_verifier_t  *vf;

    alg = &ngx_http_flores_jwt_algs[algorithm];
    vf = &key->verifiers[algorithm];

    if (alg->type != NGX_HTTP_FLORES_JWT_KEY_HMAC) {

        if (key->pkey == NULL) {
            key->pkey = ngx_http_flores_jwt_read_pkey(key);

            if (key->pkey == NULL) {
                ERR_clear_error();
                ngx_log_error(NGX_LOG_ALERT, log, 0,
                              "flores jwt: cannot read the public key of "
                              "\"%V\" again", &key->file);
                return NGX_ERROR;
            }
        }

        vf->md = EVP_MD_fetch(NULL, alg->digest, NULL);

        if (vf->md == NULL) {
            ERR_clear_error();
            ngx_log_error(NGX_LOG_ALERT, log, 0,
                          "flores jwt: EVP_MD_fetch(\"%s\") failed",
                          alg->digest);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);

    if (mac == NULL) {
        ERR_clear_error();
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "flores jwt: EVP_MAC_fetch(\"HMAC\") failed");
        return NGX_ERROR;
    }

    /* the context keeps its own reference to mac */

    vf->mac = EVP_MAC_CTX_new(mac);

    EVP_MAC_free(mac);

    if (vf->mac == NULL) {
        ERR_clear_error();
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "flores jwt: EVP_MAC_CTX_new() failed");
        return NGX_ERROR;
    }

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) alg->digest, 0);
    params[1] = OSSL_PARAM_construct_end();

    if (EVP_MAC_init(vf->mac, key->data.data, key->data.len, params) != 1) {
        EVP_MAC_CTX_free(vf->mac);
        vf->mac = NULL;
        ERR_clear_error();
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "flores jwt: EVP_MAC_init(\"%s\") failed", alg->digest);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a SubjectPublicKeyInfo ("BEGIN PUBLIC KEY") */

static EVP_PKEY *
ngx_http_flores_jwt_read_pkey(ngx_http_flores_jwt_key_t *key)
{
    BIO       *bio;
    EVP_PKEY  *pkey;

    bio = BIO_new_mem_buf(key->data.data, (int) key->data.len);
    if (bio == NULL) {
        return NULL;
    }

    pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);

    BIO_free(bio);

    return pkey;
}


/*
 * Every claim of a verified payload as text (a string as it is, any other
 * value as compact JSON), "exp" and "nbf" as numbers, the strings of "aud";
 * all of it in one block of the request's pool.
 */

static ngx_int_t
ngx_http_flores_jwt_read_claims(ngx_http_request_t *r, json_object *payload,
    ngx_http_flores_jwt_claims_t **claimsp)
{
    u_char                        *p, *s, *base;
    size_t                         size, len, n;
    json_object                   *v, *item, *aud;
    ngx_uint_t                     i, k, nclaims, naud, flags;
    const char                    *name;
    ngx_http_flores_jwt_text_t    *text;
    ngx_http_flores_jwt_claim_t   *c, *a;
    ngx_http_flores_jwt_claims_t   claims, *cl;
    struct json_object_iterator    it, end;

    ngx_memzero(&claims, sizeof(ngx_http_flores_jwt_claims_t));

    nclaims = json_object_object_length(payload);

    n = nclaims ? nclaims : 1;

    text = ngx_palloc(r->pool, n * sizeof(ngx_http_flores_jwt_text_t));
    if (text == NULL) {
        return NGX_ERROR;
    }

    size = 0;
    aud = NULL;
    naud = 0;
    i = 0;
    claims.exp = -1;

    it = json_object_iter_begin(payload);
    end = json_object_iter_end(payload);

    for ( /* void */ ;
         !json_object_iter_equal(&it, &end) && i < nclaims;
         json_object_iter_next(&it), i++)
    {
        name = json_object_iter_peek_name(&it);
        v = json_object_iter_peek_value(&it);

        text[i].name = name;
        text[i].name_len = ngx_strlen(name);

        if (json_object_is_type(v, json_type_string)) {
            text[i].value = json_object_get_string(v);
            text[i].value_len = json_object_get_string_len(v);
            flags = NGX_HTTP_FLORES_JWT_STRING;

        } else {
            text[i].value = json_object_to_json_string_length(v,
                                 JSON_C_TO_STRING_PLAIN
                                 |JSON_C_TO_STRING_NOSLASHESCAPE, &len);
            if (text[i].value == NULL) {
                return NGX_ERROR;
            }

            text[i].value_len = len;
            flags = 0;
        }

        for (s = (u_char *) text[i].value, n = 0;
             n < text[i].value_len;
             n++)
        {
            if (s[n] < 0x20 || s[n] == 0x7f) {
                flags |= NGX_HTTP_FLORES_JWT_UNSAFE;
                break;
            }
        }

        text[i].flags = flags;

        size += text[i].name_len + text[i].value_len;

        if (ngx_strcmp(name, "exp") == 0) {
            if (ngx_http_flores_jwt_date(v, &claims.exp) != NGX_OK) {
                return NGX_HTTP_FLORES_JWT_MALFORMED;
            }

        } else if (ngx_strcmp(name, "nbf") == 0) {
            if (ngx_http_flores_jwt_date(v, &claims.nbf) != NGX_OK) {
                return NGX_HTTP_FLORES_JWT_MALFORMED;
            }

        } else if (ngx_strcmp(name, "iat") == 0) {
            /* never required; without it, a token is older than any cutoff */
            (void) ngx_http_flores_jwt_date(v, &claims.iat);

        } else if (ngx_strcmp(name, "aud") == 0) {
            /* a string or an array of them (RFC 7519, 4.1.3) */

            aud = v;

            if (json_object_is_type(v, json_type_string)) {
                size += json_object_get_string_len(v);
                naud = 1;

            } else if (json_object_is_type(v, json_type_array)) {
                n = json_object_array_length(v);

                for (k = 0; k < n; k++) {
                    item = json_object_array_get_idx(v, k);

                    if (json_object_is_type(item, json_type_string)) {
                        size += json_object_get_string_len(item);
                        naud++;
                    }
                }
            }
        }
    }

    nclaims = i;

    /* "exp" is required: a token without one would never expire */

    if (claims.exp == -1) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    claims.nclaims = nclaims;
    claims.naud = naud;
    claims.size = sizeof(ngx_http_flores_jwt_claims_t)
                  + (nclaims + naud) * sizeof(ngx_http_flores_jwt_claim_t)
                  + size;

    if (claims.size > NGX_MAX_UINT32_VALUE) {
        return NGX_HTTP_FLORES_JWT_MALFORMED;
    }

    cl = ngx_palloc(r->pool, claims.size);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    *cl = claims;

    base = (u_char *) cl;
    c = (ngx_http_flores_jwt_claim_t *) (cl + 1);
    a = c + nclaims;
    p = (u_char *) (a + naud);

    for (i = 0; i < nclaims; i++) {
        c[i].name = p - base;
        c[i].name_len = text[i].name_len;
        p = ngx_cpymem(p, text[i].name, text[i].name_len);

        c[i].value = p - base;
        c[i].value_len = text[i].value_len;
        p = ngx_cpymem(p, text[i].value, text[i].value_len);

        c[i].flags = text[i].flags;
    }

    if (naud) {
        n = json_object_is_type(aud, json_type_string)
            ? 1 : json_object_array_length(aud);

        for (i = 0, k = 0; k < n; k++) {
            item = json_object_is_type(aud, json_type_string)
                   ? aud : json_object_array_get_idx(aud, k);

            if (!json_object_is_type(item, json_type_string)) {
                continue;
            }

            a[i].name = 0;
            a[i].name_len = 0;
            a[i].value = p - base;
            a[i].value_len = json_object_get_string_len(item);
            a[i].flags = NGX_HTTP_FLORES_JWT_STRING;
            p = ngx_cpymem(p, json_object_get_string(item), a[i].value_len);
            i++;
        }
    }

    if ((size_t) (p - base) != cl->size) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "flores jwt: claims of %uz bytes written in %uz",
                      (size_t) (p - base), cl->size);
        return NGX_ERROR;
    }

    *claimsp = cl;

    return NGX_HTTP_FLORES_JWT_ACCEPTED;
}


/*
 * "exp" and "nbf": a positive integer (a JSON number with a fraction or an
 * exponent is refused).
 */

static ngx_int_t
ngx_http_flores_jwt_date(json_object *v, time_t *date)
{
    int64_t  n;

    if (!json_object_is_type(v, json_type_int)) {
        return NGX_DECLINED;
    }

    n = json_object_get_int64(v);

    if (n <= 0) {
        return NGX_DECLINED;
    }

    *date = (time_t) n;

    return NGX_OK;
}


/*
 * What depends on the location and on the time: checked on every use of a
 * token, whether it was verified now or found in the cache. A trusted
 * issuer's token is held to its issuer and audience, to the same times and
 * roles.
 */

static ngx_int_t
ngx_http_flores_jwt_check(ngx_http_request_t *r,
    ngx_http_flores_jwt_conf_t *jcf, ngx_http_flores_jwt_trust_t *trust,
    ngx_http_flores_jwt_claims_t *claims)
{
    u_char                       *base;
    time_t                        now;
    ngx_str_t                    *role, *issuer, *audience;
    ngx_uint_t                    i;
    ngx_http_flores_jwt_claim_t  *c, *a;

    now = ngx_time();

    issuer = &jcf->issuer;
    audience = &jcf->audience;

    if (trust) {
        issuer = &trust->issuer;

        if (trust->audience.len) {
            audience = &trust->audience;
        }
    }

    if (now - jcf->leeway >= claims->exp) {
        return NGX_HTTP_FLORES_JWT_EXPIRED;
    }

    if (claims->nbf && now + jcf->leeway < claims->nbf) {
        return NGX_HTTP_FLORES_JWT_NOT_YET_VALID;
    }

    base = (u_char *) claims;

    if (issuer->len) {
        c = ngx_http_flores_jwt_find(claims, (u_char *) "iss", 3);

        if (c == NULL
            || !(c->flags & NGX_HTTP_FLORES_JWT_STRING)
            || c->value_len != issuer->len
            || ngx_memcmp(base + c->value, issuer->data, c->value_len) != 0)
        {
            return NGX_HTTP_FLORES_JWT_ISSUER;
        }
    }

    if (audience->len) {
        a = (ngx_http_flores_jwt_claim_t *) (claims + 1) + claims->nclaims;

        for (i = 0; i < claims->naud; i++) {
            if (a[i].value_len == audience->len
                && ngx_memcmp(base + a[i].value, audience->data,
                              a[i].value_len)
                   == 0)
            {
                break;
            }
        }

        if (i == claims->naud) {
            return NGX_HTTP_FLORES_JWT_AUDIENCE;
        }
    }

    if (jcf->roles) {
        c = ngx_http_flores_jwt_find(claims, (u_char *) "role", 4);

        if (c == NULL || !(c->flags & NGX_HTTP_FLORES_JWT_STRING)) {
            return NGX_HTTP_FLORES_JWT_ROLE;
        }

        role = jcf->roles->elts;

        for (i = 0; i < jcf->roles->nelts; i++) {
            if (c->value_len == role[i].len
                && ngx_memcmp(base + c->value, role[i].data, role[i].len)
                   == 0)
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


/* the token's "sub" and "iat" against the location's revocation zone */

static ngx_int_t
ngx_http_flores_jwt_revocation(ngx_http_request_t *r,
    ngx_http_flores_jwt_claims_t *claims)
{
    ngx_str_t                     sub, *subp;
    ngx_http_flores_jwt_claim_t  *c;

    c = ngx_http_flores_jwt_find(claims, (u_char *) "sub", 3);
    subp = NULL;

    if (c) {
        sub.data = (u_char *) claims + c->value;
        sub.len = c->value_len;
        subp = &sub;
    }

    if (ngx_http_flores_jwt_revoked(r, subp, claims->iat) == NGX_DECLINED) {
        return NGX_HTTP_FLORES_JWT_REVOKED;
    }

    return NGX_HTTP_FLORES_JWT_ACCEPTED;
}


static ngx_http_flores_jwt_claim_t *
ngx_http_flores_jwt_find(ngx_http_flores_jwt_claims_t *claims, u_char *name,
    size_t len)
{
    u_char                       *base;
    ngx_uint_t                    i;
    ngx_http_flores_jwt_claim_t  *c;

    base = (u_char *) claims;
    c = (ngx_http_flores_jwt_claim_t *) (claims + 1);

    for (i = 0; i < claims->nclaims; i++) {
        if (c[i].name_len == len
            && ngx_memcmp(base + c[i].name, name, len) == 0)
        {
            return &c[i];
        }
    }

    return NULL;
}


/*
 * One base64url part as a JSON object: NGX_DECLINED when it is not one
 * (strict JSON, valid UTF-8, nothing after it).
 */

static ngx_int_t
ngx_http_flores_jwt_decode_part(ngx_http_request_t *r, u_char *start,
    u_char *end, json_object **objp)
{
    ngx_str_t      src, dst;
    json_object   *obj;
    json_tokener  *tok;

    *objp = NULL;

    src.data = start;
    src.len = end - start;

    dst.data = ngx_pnalloc(r->pool, ngx_base64_decoded_length(src.len));
    if (dst.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(&dst, &src) != NGX_OK) {
        return NGX_DECLINED;
    }

    tok = json_tokener_new();
    if (tok == NULL) {
        return NGX_ERROR;
    }

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT
                                |JSON_TOKENER_VALIDATE_UTF8);

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

    if (obj == NULL) {
        return NGX_DECLINED;
    }

    *objp = obj;

    return NGX_OK;
}


/*
 * The bits that the last base64url character carries beyond the data are
 * zero: each signature has one spelling, and each token one cache entry.
 */

static ngx_int_t
ngx_http_flores_jwt_canonical(u_char *start, u_char *end)
{
    u_char      c;
    ngx_uint_t  v, unused;

    switch ((end - start) % 4) {

    case 0:
        return NGX_OK;

    case 2:
        unused = 0x0f;
        break;

    case 3:
        unused = 0x03;
        break;

    default: /* 1 */
        return NGX_DECLINED;
    }

    c = end[-1];

    if (c >= 'A' && c <= 'Z') {
        v = c - 'A';

    } else if (c >= 'a' && c <= 'z') {
        v = c - 'a' + 26;

    } else if (c >= '0' && c <= '9') {
        v = c - '0' + 52;

    } else {
        v = (c == '-') ? 62 : 63;
    }

    return (v & unused) ? NGX_DECLINED : NGX_OK;
}


/*
 * An entry is found by its token's bytes, compared in constant time, and by
 * the set of keys and the algorithm it verified with: a token verified for
 * one set is a stranger to another.
 */

static ngx_http_flores_jwt_node_t *
ngx_http_flores_jwt_cache_lookup(ngx_http_flores_jwt_cache_t *cache,
    uint32_t hash, ngx_http_flores_jwt_keys_t *keys, ngx_uint_t algorithm,
    ngx_str_t *token)
{
    ngx_http_flores_jwt_node_t  *node;

    if (cache->buckets == NULL) {
        return NULL;
    }

    for (node = cache->buckets[hash & cache->mask]; node; node = node->next) {

        if (node->hash == hash
            && node->keys == keys
            && node->algorithm == algorithm
            && node->token_len == token->len
            && ngx_http_flores_jwt_equal(node->token, token->data,
                                         token->len))
        {
            return node;
        }
    }

    return NULL;
}


/*
 * Equality in a time that depends on the length only, like CRYPTO_memcmp(),
 * eight bytes at a time: what a token is made of is not told by how long
 * comparing it takes.
 */

static ngx_uint_t
ngx_http_flores_jwt_equal(u_char *a, u_char *b, size_t len)
{
    size_t    i;
    uint64_t  x, y, d;

    d = 0;

    for (i = 0; i + 8 <= len; i += 8) {
        ngx_memcpy(&x, a + i, 8);
        ngx_memcpy(&y, b + i, 8);
        d |= x ^ y;
    }

    for ( /* void */ ; i < len; i++) {
        d |= a[i] ^ b[i];
    }

    return d == 0;
}


static void
ngx_http_flores_jwt_cache_insert(ngx_http_request_t *r,
    ngx_http_flores_jwt_cache_t *cache, uint32_t hash,
    ngx_http_flores_jwt_keys_t *keys, ngx_uint_t algorithm, ngx_str_t *token,
    ngx_http_flores_jwt_claims_t *claims)
{
    u_char                      *p;
    size_t                       size;
    ngx_queue_t                 *q;
    ngx_http_flores_jwt_node_t  *node, **bucket;

    if (cache->buckets == NULL) {
        size = (cache->mask + 1) * sizeof(ngx_http_flores_jwt_node_t *);

        cache->buckets = ngx_alloc(size, r->connection->log);
        if (cache->buckets == NULL) {
            return;
        }

        ngx_memzero(cache->buckets, size);
    }

    if (cache->count == cache->size) {
        q = ngx_queue_last(&cache->queue);
        node = ngx_queue_data(q, ngx_http_flores_jwt_node_t, queue);

        ngx_http_flores_jwt_cache_delete(cache, node);
    }

    p = ngx_alloc(sizeof(ngx_http_flores_jwt_node_t) + claims->size
                  + token->len, r->connection->log);
    if (p == NULL) {
        /* the token was verified: it is simply not kept */
        return;
    }

    node = (ngx_http_flores_jwt_node_t *) p;
    p += sizeof(ngx_http_flores_jwt_node_t);

    node->claims = (ngx_http_flores_jwt_claims_t *) p;
    p = ngx_cpymem(p, claims, claims->size);

    node->token = p;
    node->token_len = token->len;
    ngx_memcpy(p, token->data, token->len);

    node->hash = hash;
    node->keys = keys;
    node->algorithm = algorithm;

    bucket = &cache->buckets[hash & cache->mask];
    node->next = *bucket;
    *bucket = node;

    ngx_queue_insert_head(&cache->queue, &node->queue);
    cache->count++;
}


static void
ngx_http_flores_jwt_cache_delete(ngx_http_flores_jwt_cache_t *cache,
    ngx_http_flores_jwt_node_t *node)
{
    ngx_http_flores_jwt_node_t  **np;

    for (np = &cache->buckets[node->hash & cache->mask];
         *np;
         np = &(*np)->next)
    {
        if (*np == node) {
            *np = node->next;
            break;
        }
    }

    ngx_queue_remove(&node->queue);
    cache->count--;

    ngx_free(node);
}


/* when the configuration goes: in a worker, when it exits */

static void
ngx_http_flores_jwt_cache_cleanup(void *data)
{
    ngx_http_flores_jwt_cache_t  *cache = data;

    ngx_queue_t                 *q;
    ngx_http_flores_jwt_node_t  *node;

    while (!ngx_queue_empty(&cache->queue)) {
        q = ngx_queue_head(&cache->queue);
        node = ngx_queue_data(q, ngx_http_flores_jwt_node_t, queue);

        ngx_http_flores_jwt_cache_delete(cache, node);
    }

    if (cache->buckets) {
        ngx_free(cache->buckets);
        cache->buckets = NULL;
    }
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


/* the claims go with the pool: nothing is left to read them */

static void
ngx_http_flores_jwt_cleanup(void *data)
{
    ngx_http_flores_jwt_ctx_t  *ctx = data;

    ctx->claims = NULL;
}


/*
 * A claim as text: a string as it is, any other JSON value as compact JSON.
 * Values with control characters are not passed on: they could split the
 * headers of a proxied request.
 */

static ngx_int_t
ngx_http_flores_jwt_claim(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, u_char *name, size_t len)
{
    ngx_http_flores_jwt_ctx_t    *ctx;
    ngx_http_flores_jwt_claim_t  *c;

    ctx = ngx_http_flores_jwt_get_ctx(r);

    if (ctx == NULL || ctx->claims == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    c = ngx_http_flores_jwt_find(ctx->claims, name, len);

    if (c == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    if (c->flags & NGX_HTTP_FLORES_JWT_UNSAFE) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "flores jwt: claim \"%*s\" has control characters",
                      len, name);
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = c->value_len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = (u_char *) ctx->claims + c->value;

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_jwt_claim_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char  *name = (u_char *) data;

    return ngx_http_flores_jwt_claim(r, v, name, ngx_strlen(name));
}


static ngx_int_t
ngx_http_flores_jwt_claim_prefix_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *var = (ngx_str_t *) data;

    size_t  len;

    /* nginx lowercases variable names: so is <name> */

    len = var->len - (sizeof("flores_jwt_claim_") - 1);

    if (len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    return ngx_http_flores_jwt_claim(r, v,
                                     var->data + sizeof("flores_jwt_claim_")
                                     - 1, len);
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
ngx_http_flores_jwt_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_flores_jwt_ctx_t  *ctx;

    ctx = ngx_http_flores_jwt_get_ctx(r);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ngx_http_flores_jwt_cache_status[ctx->cache].len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = ngx_http_flores_jwt_cache_status[ctx->cache].data;

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
ngx_http_flores_jwt_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_flores_jwt_main_conf_t  *jmcf;

    jmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_main_conf_t));
    if (jmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     jmcf->cache = NULL;
     */

    jmcf->cache_size = NGX_CONF_UNSET_UINT;

    return jmcf;
}


/*
 * The cache is made empty here, in the cycle's pool; each worker fills its
 * own copy. A reload makes a new cycle, hence an empty cache read with the
 * new keys; the cleanup frees the entries when a worker exits.
 */

static char *
ngx_http_flores_jwt_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_flores_jwt_main_conf_t *jmcf = conf;

    ngx_uint_t                    n;
    ngx_pool_cleanup_t           *cln;
    ngx_http_flores_jwt_cache_t  *cache;

    ngx_conf_init_uint_value(jmcf->cache_size,
                             NGX_HTTP_FLORES_JWT_CACHE_SIZE);

    if (jmcf->cache_size == 0) {
        return NGX_CONF_OK;
    }

    cache = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_cache_t));
    if (cache == NULL) {
        return NGX_CONF_ERROR;
    }

    /* at most one entry per chain on average */

    for (n = 1; n < jmcf->cache_size; n <<= 1) { /* void */ }

    cache->mask = n - 1;
    cache->size = jmcf->cache_size;
    ngx_queue_init(&cache->queue);

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_flores_jwt_cache_cleanup;
    cln->data = cache;

    jmcf->cache = cache;

    return NGX_CONF_OK;
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
    conf->keys = NGX_CONF_UNSET_PTR;
    conf->algorithm = NGX_CONF_UNSET_UINT;
    conf->trusts = NGX_CONF_UNSET_PTR;
    conf->leeway = NGX_CONF_UNSET;
    conf->roles = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_flores_jwt_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_flores_jwt_conf_t *prev = parent;
    ngx_http_flores_jwt_conf_t *conf = child;

    char                         *rv;
    ngx_uint_t                    i;
    ngx_http_flores_jwt_trust_t  *t;

    if (conf->mode == NGX_CONF_UNSET_UINT) {
        conf->conf_file = prev->conf_file;
        conf->line = prev->line;
    }

    ngx_conf_merge_uint_value(conf->mode, prev->mode,
                              NGX_HTTP_FLORES_JWT_OFF);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_uint_value(conf->algorithm, prev->algorithm,
                              NGX_HTTP_FLORES_JWT_HS256);
    ngx_conf_merge_ptr_value(conf->trusts, prev->trusts, NULL);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_str_value(conf->audience, prev->audience, "");
    ngx_conf_merge_sec_value(conf->leeway, prev->leeway, 30);
    ngx_conf_merge_ptr_value(conf->roles, prev->roles, NULL);

    if (conf->mode == NGX_HTTP_FLORES_JWT_OFF) {
        return NGX_CONF_OK;
    }

    if (conf->keys == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "no \"flores_jwt_key_file\" is defined for "
                      "\"flores_jwt\" in %s:%ui "
                      "(nor \"flores_jwt_jwks_file\")",
                      conf->conf_file, conf->line);
        return NGX_CONF_ERROR;
    }

    if (conf->mode == NGX_HTTP_FLORES_JWT_OPTIONAL && conf->roles != NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_jwt optional\" in %s:%ui cannot be combined "
                      "with \"flores_jwt_require_role\": an anonymous "
                      "request has no role", conf->conf_file, conf->line);
        return NGX_CONF_ERROR;
    }

    rv = ngx_http_flores_jwt_check_keys(cf, conf->keys, conf->algorithm);

    if (rv != NGX_CONF_OK || conf->trusts == NULL) {
        return rv;
    }

    t = conf->trusts->elts;

    for (i = 0; i < conf->trusts->nelts; i++) {
        rv = ngx_http_flores_jwt_check_keys(cf, t[i].keys,
                 ngx_http_flores_jwt_trust_algorithm(conf, &t[i]));

        if (rv != NGX_CONF_OK) {
            return rv;
        }

        /* the primary issuer's tokens would escape its keys and revocation */

        if (t[i].issuer.len == conf->issuer.len
            && ngx_strncmp(t[i].issuer.data, conf->issuer.data,
                           conf->issuer.len) == 0)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"flores_jwt_trust\" issuer \"%V\" is the "
                          "location's own \"flores_jwt_issuer\" "
                          "(\"flores_jwt\" in %s:%ui)", &t[i].issuer,
                          conf->conf_file, conf->line);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* every key of a set must fit the pinned algorithm */

static char *
ngx_http_flores_jwt_check_keys(ngx_conf_t *cf,
    ngx_http_flores_jwt_keys_t *keys, ngx_uint_t algorithm)
{
    ngx_uint_t  i;

    for (i = 0; i < keys->nkeys; i++) {
        if (ngx_http_flores_jwt_check_key(cf, keys->keys[i], algorithm)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* the key must fit the pinned algorithm, whichever level set either */

static char *
ngx_http_flores_jwt_check_key(ngx_conf_t *cf, ngx_http_flores_jwt_key_t *key,
    ngx_uint_t algorithm)
{
    ngx_str_t                  *name;
    ngx_http_flores_jwt_alg_t  *alg;

    alg = &ngx_http_flores_jwt_algs[algorithm];
    name = &alg->name;

    /* a JWK that names its algorithm is used under that one only */

    if (key->alg.len
        && (key->alg.len != name->len
            || ngx_memcmp(key->alg.data, name->data, name->len) != 0))
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_jwt_jwks_file\" \"%V\" in %s:%ui has key "
                      "\"%V\" for \"alg\" \"%V\", but "
                      "\"flores_jwt_algorithm\" is %V", &key->file,
                      key->conf_file, key->line, &key->kid, &key->alg, name);
        return NGX_CONF_ERROR;
    }

    if (key->type != alg->type) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" \"%V\" in %s:%ui holds %s, "
                      "but \"flores_jwt_algorithm\" %V needs %s",
                      key->directive, &key->file, key->conf_file, key->line,
                      key->type == NGX_HTTP_FLORES_JWT_KEY_HMAC
                      ? "a secret" : key->type == NGX_HTTP_FLORES_JWT_KEY_RSA
                      ? "an RSA public key" : "an EC public key",
                      name,
                      alg->type == NGX_HTTP_FLORES_JWT_KEY_HMAC
                      ? "a secret" : alg->type == NGX_HTTP_FLORES_JWT_KEY_RSA
                      ? "an RSA public key" : "an EC public key");
        return NGX_CONF_ERROR;
    }

    /* an HMAC secret is at least as long as the hash (RFC 7518, 3.2) */

    if (alg->type == NGX_HTTP_FLORES_JWT_KEY_HMAC
        && key->data.len < alg->size)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_jwt_key_file\" \"%V\" in %s:%ui holds a "
                      "secret of %uz bytes, but \"flores_jwt_algorithm\" %V "
                      "needs at least %uz", &key->file, key->conf_file,
                      key->line, key->data.len, name, alg->size);
        return NGX_CONF_ERROR;
    }

    if (alg->type == NGX_HTTP_FLORES_JWT_KEY_EC && key->curve != alg->curve) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" \"%V\" in %s:%ui holds a key "
                      "on curve %s, but \"flores_jwt_algorithm\" %V needs %s",
                      key->directive, &key->file, key->conf_file, key->line,
                      OBJ_nid2sn(key->curve), name, OBJ_nid2sn(alg->curve));
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

    u_char                      *p;
    ngx_str_t                   *value;
    ngx_pool_cleanup_t          *cln;
    ngx_http_flores_jwt_key_t   *key;
    ngx_http_flores_jwt_keys_t  *keys;

    if (jcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    keys = ngx_http_flores_jwt_keys(cf, &value[1], 1);
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    key = keys->keys[0];
    key->directive = "flores_jwt_key_file";

    if (ngx_http_flores_jwt_read_key(cf, key) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /*
     * The secret leaves no copy behind when the configuration is freed, and
     * what OpenSSL made of the key is freed with it.
     */

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

    jcf->keys = keys;

    return NGX_CONF_OK;
}


/* a set of n keys read from the file "name", each to be filled */

static ngx_http_flores_jwt_keys_t *
ngx_http_flores_jwt_keys(ngx_conf_t *cf, ngx_str_t *name, ngx_uint_t n)
{
    ngx_uint_t                   i;
    ngx_http_flores_jwt_key_t   *key;
    ngx_http_flores_jwt_keys_t  *keys;

    keys = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_keys_t));
    if (keys == NULL) {
        return NULL;
    }

    keys->file = *name;

    if (ngx_conf_full_name(cf->cycle, &keys->file, 1) != NGX_OK) {
        return NULL;
    }

    keys->conf_file = cf->conf_file->file.name.data;
    keys->line = cf->conf_file->line;
    keys->nkeys = n;

    keys->keys = ngx_palloc(cf->pool, n * sizeof(ngx_http_flores_jwt_key_t *));
    if (keys->keys == NULL) {
        return NULL;
    }

    for (i = 0; i < n; i++) {
        key = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_key_t));
        if (key == NULL) {
            return NULL;
        }

        key->file = keys->file;
        key->conf_file = keys->conf_file;
        key->line = keys->line;

        keys->keys[i] = key;
    }

    return keys;
}


/*
 * The public keys of a JWKS, read and checked now like a key file: a
 * changed file is read again by "nginx -s reload".
 */

static char *
ngx_http_flores_jwt_jwks_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_jwt_conf_t *jcf = conf;

    ngx_str_t                   *value;
    ngx_http_flores_jwt_keys_t  *keys;

    if (jcf->keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    keys = ngx_http_flores_jwt_read_jwks(cf, &value[1]);
    if (keys == NULL) {
        return NGX_CONF_ERROR;
    }

    jcf->keys = keys;

    return NGX_CONF_OK;
}


static ngx_http_flores_jwt_keys_t *
ngx_http_flores_jwt_read_jwks(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t                   i;
    ngx_array_t                 *jwks;
    ngx_pool_cleanup_t          *cln;
    ngx_http_flores_jwk_t       *jwk;
    ngx_http_flores_jwt_key_t    text, *key;
    ngx_http_flores_jwt_keys_t  *keys;

    ngx_memzero(&text, sizeof(ngx_http_flores_jwt_key_t));

    text.file = *name;

    if (ngx_conf_full_name(cf->cycle, &text.file, 1) != NGX_OK) {
        return NULL;
    }

    if (ngx_http_flores_jwt_read_key(cf, &text) != NGX_CONF_OK) {
        return NULL;
    }

    if (ngx_http_flores_jwks_parse(cf, &text.file, &text.data, &jwks)
        != NGX_CONF_OK)
    {
        return NULL;
    }

    keys = ngx_http_flores_jwt_keys(cf, name, jwks->nelts);
    if (keys == NULL) {
        return NULL;
    }

    keys->jwks = 1;
    jwk = jwks->elts;

    for (i = 0; i < jwks->nelts; i++) {
        key = keys->keys[i];

        key->directive = "flores_jwt_jwks_file";
        key->kid = jwk[i].kid;
        key->alg = jwk[i].alg;
        key->data = jwk[i].pem;

        cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) {
            return NULL;
        }

        cln->handler = ngx_http_flores_jwt_key_cleanup;
        cln->data = key;

        if (ngx_http_flores_jwt_parse_pem(cf, key) != NGX_CONF_OK) {
            return NULL;
        }
    }

    return keys;
}


/*
 * flores_jwt_trust issuer=<iss> jwks=<file> [audience=<aud>]
 *                  [algorithm=<alg>]
 */

static char *
ngx_http_flores_jwt_trust(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_jwt_conf_t *jcf = conf;

    ngx_str_t                    *value, s, jwks;
    ngx_uint_t                    i;
    ngx_conf_enum_t              *e;
    ngx_http_flores_jwt_trust_t  *t, *prev;

    if (jcf->trusts == NGX_CONF_UNSET_PTR) {
        jcf->trusts = ngx_array_create(cf->pool, 1,
                                       sizeof(ngx_http_flores_jwt_trust_t));
        if (jcf->trusts == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    t = ngx_array_push(jcf->trusts);
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(t, sizeof(ngx_http_flores_jwt_trust_t));
    t->algorithm = NGX_CONF_UNSET_UINT;
    ngx_str_null(&jwks);

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "issuer=", 7) == 0
            && value[i].len > 7 && t->issuer.len == 0)
        {
            t->issuer.data = value[i].data + 7;
            t->issuer.len = value[i].len - 7;
            continue;
        }

        if (ngx_strncmp(value[i].data, "jwks=", 5) == 0
            && value[i].len > 5 && jwks.len == 0)
        {
            jwks.data = value[i].data + 5;
            jwks.len = value[i].len - 5;
            continue;
        }

        if (ngx_strncmp(value[i].data, "audience=", 9) == 0
            && value[i].len > 9 && t->audience.len == 0)
        {
            t->audience.data = value[i].data + 9;
            t->audience.len = value[i].len - 9;
            continue;
        }

        if (ngx_strncmp(value[i].data, "algorithm=", 10) == 0
            && t->algorithm == NGX_CONF_UNSET_UINT)
        {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            for (e = ngx_http_flores_jwt_algorithms; e->name.len; e++) {
                if (e->name.len == s.len
                    && ngx_strncmp(e->name.data, s.data, s.len) == 0)
                {
                    t->algorithm = e->value;
                    break;
                }
            }

            if (e->name.len) {
                continue;
            }
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (t->issuer.len == 0 || jwks.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"flores_jwt_trust\" needs \"issuer=\" and "
                           "\"jwks=\"");
        return NGX_CONF_ERROR;
    }

    prev = jcf->trusts->elts;

    for (i = 0; i + 1 < jcf->trusts->nelts; i++) {
        if (prev[i].issuer.len == t->issuer.len
            && ngx_strncmp(prev[i].issuer.data, t->issuer.data,
                           t->issuer.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "issuer \"%V\" is trusted twice", &t->issuer);
            return NGX_CONF_ERROR;
        }
    }

    t->keys = ngx_http_flores_jwt_read_jwks(cf, &jwks);
    if (t->keys == NULL) {
        return NGX_CONF_ERROR;
    }

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
    char           *rv;
    char            curve[64];
    size_t          len;
    EVP_PKEY       *pkey;
    unsigned long   e;

    ERR_clear_error();

    pkey = ngx_http_flores_jwt_read_pkey(key);

    if (pkey == NULL) {
        e = ERR_peek_last_error();

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "key file \"%V\" is not a PEM public key "
                           "(\"BEGIN PUBLIC KEY\"): %s",
                           &key->file, e ? ERR_reason_error_string(e) : "");
        ERR_clear_error();
        return NGX_CONF_ERROR;
    }

    rv = NGX_CONF_ERROR;

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

    /* each worker reads its own (ngx_http_flores_jwt_prepare()) */

    EVP_PKEY_free(pkey);
    ERR_clear_error();

    return rv;
}


static void
ngx_http_flores_jwt_key_cleanup(void *data)
{
    ngx_http_flores_jwt_key_t  *key = data;

    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FLORES_JWT_ALGS; i++) {
        EVP_MAC_CTX_free(key->verifiers[i].mac);
        EVP_MD_free(key->verifiers[i].md);
    }

    EVP_PKEY_free(key->pkey);

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


/* flores_jwt_cache size=N | off */

static char *
ngx_http_flores_jwt_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_jwt_main_conf_t *jmcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value, s;

    if (jmcf->cache_size != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        jmcf->cache_size = 0;
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[1].data, "size=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    s.data = value[1].data + 5;
    s.len = value[1].len - 5;

    n = ngx_atoi(s.data, s.len);

    if (n == NGX_ERROR || n == 0 || n > NGX_HTTP_FLORES_JWT_CACHE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cache size \"%V\": 1 to %d tokens",
                           &value[1], NGX_HTTP_FLORES_JWT_CACHE_MAX);
        return NGX_CONF_ERROR;
    }

    jmcf->cache_size = n;

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
