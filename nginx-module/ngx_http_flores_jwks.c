
/*
 * Flores Victoria gateway module, JWKS: the public keys of a JSON Web Key
 * Set (RFC 7517) turned into PEM text when the configuration is loaded, so
 * that the JWT feature reads and checks them as it reads a key file.
 *
 * Accepted: {"keys":[...]} with 1 to NGX_HTTP_FLORES_JWKS_MAX_KEYS keys,
 * each "kty":"EC" ("crv" P-256 or P-384, "x" and "y" of the curve's size)
 * or "kty":"RSA" ("n", "e"); "kid" (unique, 1-128 printable characters),
 * "alg" and "use":"sig" optional. A private member ("d", "p", ...) refuses
 * the whole file: a public key set never carries one.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <json-c/json.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "ngx_http_flores.h"


#define NGX_HTTP_FLORES_JWKS_MAX_KEYS   32
#define NGX_HTTP_FLORES_JWKS_MAX_KID    128
/* bytes of a modulus: RSA keys of up to 16384 bits */
#define NGX_HTTP_FLORES_JWKS_MAX_N      2048


typedef struct {
    const char                  *crv;
    /* OpenSSL's name of the group */
    const char                  *group;
    /* bytes of x and of y */
    size_t                       size;
} ngx_http_flores_jwks_curve_t;


static char *ngx_http_flores_jwks_key(ngx_conf_t *cf, ngx_str_t *file,
    ngx_uint_t n, json_object *jwk, ngx_http_flores_jwk_t *key);
static EVP_PKEY *ngx_http_flores_jwks_ec(ngx_conf_t *cf, ngx_str_t *file,
    ngx_uint_t n, json_object *jwk);
static EVP_PKEY *ngx_http_flores_jwks_rsa(ngx_conf_t *cf, ngx_str_t *file,
    ngx_uint_t n, json_object *jwk);
static ngx_int_t ngx_http_flores_jwks_string(json_object *jwk,
    const char *name, ngx_str_t *s);
static ngx_int_t ngx_http_flores_jwks_bytes(ngx_conf_t *cf, json_object *jwk,
    const char *name, size_t max, ngx_str_t *bytes);
static ngx_int_t ngx_http_flores_jwks_pem(ngx_conf_t *cf, EVP_PKEY *pkey,
    ngx_str_t *pem);
static ngx_int_t ngx_http_flores_jwks_copy(ngx_conf_t *cf, ngx_str_t *s);


static ngx_http_flores_jwks_curve_t  ngx_http_flores_jwks_curves[] = {
    { "P-256", "prime256v1", 32 },
    { "P-384", "secp384r1", 48 },
    { NULL, NULL, 0 }
};


/* the members of a private key (RFC 7518, 6.2.2 and 6.3.2) */
static const char  *ngx_http_flores_jwks_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};


/*
 * The keys of the set in "text" (read from "file"), in the configuration's
 * pool; every problem is reported with the file and the key's position
 * (counted from 1) or its "kid".
 */

char *
ngx_http_flores_jwks_parse(ngx_conf_t *cf, ngx_str_t *file, ngx_str_t *text,
    ngx_array_t **keysp)
{
    char                   *rv;
    size_t                  n, i, j;
    json_object            *root, *keys;
    json_tokener           *tok;
    ngx_array_t            *a;
    ngx_http_flores_jwk_t  *key, *k;

    tok = json_tokener_new();
    if (tok == NULL) {
        return NGX_CONF_ERROR;
    }

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT
                                |JSON_TOKENER_VALIDATE_UTF8);

    root = json_tokener_parse_ex(tok, (char *) text->data, (int) text->len);

    if (root == NULL || json_tokener_get_error(tok) != json_tokener_success) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\" is not JSON: %s", file,
                           json_tokener_error_desc(
                               json_tokener_get_error(tok)));
        json_object_put(root);
        json_tokener_free(tok);
        return NGX_CONF_ERROR;
    }

    n = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);

    /* nothing but white space after the set */

    for ( /* void */ ; n < text->len; n++) {
        if (text->data[n] != ' ' && text->data[n] != '\t'
            && text->data[n] != '\r' && text->data[n] != '\n')
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "JWKS file \"%V\" has text after its JSON "
                               "object", file);
            json_object_put(root);
            return NGX_CONF_ERROR;
        }
    }

    rv = NGX_CONF_ERROR;
    keys = NULL;

    if (!json_object_is_type(root, json_type_object)
        || !json_object_object_get_ex(root, "keys", &keys)
        || !json_object_is_type(keys, json_type_array))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\" is not an object with a "
                           "\"keys\" array", file);
        goto done;
    }

    n = json_object_array_length(keys);

    if (n == 0 || n > NGX_HTTP_FLORES_JWKS_MAX_KEYS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\" has %uz keys, 1 to %d are "
                           "supported", file, n,
                           NGX_HTTP_FLORES_JWKS_MAX_KEYS);
        goto done;
    }

    a = ngx_array_create(cf->pool, n, sizeof(ngx_http_flores_jwk_t));
    if (a == NULL) {
        goto done;
    }

    for (i = 0; i < n; i++) {
        key = ngx_array_push(a);
        if (key == NULL) {
            goto done;
        }

        if (ngx_http_flores_jwks_key(cf, file, i + 1,
                                     json_object_array_get_idx(keys, i), key)
            != NGX_CONF_OK)
        {
            goto done;
        }

        /* a token's "kid" names one key only */

        k = a->elts;

        for (j = 0; j < i; j++) {
            if (k[j].kid.len == key->kid.len
                && (key->kid.len == 0
                    || ngx_memcmp(k[j].kid.data, key->kid.data,
                                  key->kid.len)
                       == 0))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "JWKS file \"%V\": keys %uz and %uz have "
                                   "the same \"kid\" \"%V\"%s", file, j + 1,
                                   i + 1, &key->kid,
                                   key->kid.len ? "" : " (none)");
                goto done;
            }
        }
    }

    *keysp = a;
    rv = NGX_CONF_OK;

done:

    json_object_put(root);

    return rv;
}


static char *
ngx_http_flores_jwks_key(ngx_conf_t *cf, ngx_str_t *file, ngx_uint_t n,
    json_object *jwk, ngx_http_flores_jwk_t *key)
{
    u_char       *p;
    ngx_int_t     rc;
    ngx_str_t     kty, use;
    EVP_PKEY     *pkey;
    const char  **priv;

    ngx_memzero(key, sizeof(ngx_http_flores_jwk_t));

    if (!json_object_is_type(jwk, json_type_object)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": key %ui is not an object",
                           file, n);
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_flores_jwks_string(jwk, "kid", &key->kid);

    if (rc == NGX_ERROR || key->kid.len > NGX_HTTP_FLORES_JWKS_MAX_KID) {
        goto bad_kid;
    }

    for (p = key->kid.data; p < key->kid.data + key->kid.len; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            goto bad_kid;
        }
    }

    for (priv = ngx_http_flores_jwks_private; *priv; priv++) {
        if (json_object_object_get_ex(jwk, *priv, NULL)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "JWKS file \"%V\": key %ui has the private "
                               "member \"%s\": publish public keys only",
                               file, n, *priv);
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_flores_jwks_string(jwk, "alg", &key->alg) == NGX_ERROR
        || ngx_http_flores_jwks_string(jwk, "use", &use) == NGX_ERROR
        || (use.len && !(use.len == 3 && ngx_strncmp(use.data, "sig", 3)
                                         == 0)))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": key %ui has an invalid \"alg\" "
                           "or a \"use\" other than \"sig\"", file, n);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_flores_jwks_string(jwk, "kty", &kty) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": key %ui has no \"kty\"",
                           file, n);
        return NGX_CONF_ERROR;
    }

    ERR_clear_error();

    if (kty.len == 2 && ngx_strncmp(kty.data, "EC", 2) == 0) {
        pkey = ngx_http_flores_jwks_ec(cf, file, n, jwk);

    } else if (kty.len == 3 && ngx_strncmp(kty.data, "RSA", 3) == 0) {
        pkey = ngx_http_flores_jwks_rsa(cf, file, n, jwk);

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": key %ui has \"kty\" \"%V\", "
                           "only \"EC\" and \"RSA\" are supported",
                           file, n, &kty);
        return NGX_CONF_ERROR;
    }

    if (pkey == NULL) {
        ERR_clear_error();
        return NGX_CONF_ERROR;
    }

    rc = ngx_http_flores_jwks_pem(cf, pkey, &key->pem);

    EVP_PKEY_free(pkey);
    ERR_clear_error();

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    /* what json-c holds goes with the parsed set */

    if (ngx_http_flores_jwks_copy(cf, &key->kid) != NGX_OK
        || ngx_http_flores_jwks_copy(cf, &key->alg) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

bad_kid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "JWKS file \"%V\": key %ui has an invalid \"kid\" "
                       "(a string of 1 to %d printable characters)",
                       file, n, NGX_HTTP_FLORES_JWKS_MAX_KID);
    return NGX_CONF_ERROR;
}


/* the uncompressed point 0x04 || x || y on a named curve, checked on it */

static EVP_PKEY *
ngx_http_flores_jwks_ec(ngx_conf_t *cf, ngx_str_t *file, ngx_uint_t n,
    json_object *jwk)
{
    u_char                        point[1 + 2 * 66];
    ngx_str_t                     crv, x, y;
    EVP_PKEY                     *pkey;
    OSSL_PARAM                   *params;
    EVP_PKEY_CTX                 *pctx;
    OSSL_PARAM_BLD               *bld;
    ngx_http_flores_jwks_curve_t *c;

    if (ngx_http_flores_jwks_string(jwk, "crv", &crv) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": EC key %ui has no \"crv\"",
                           file, n);
        return NULL;
    }

    for (c = ngx_http_flores_jwks_curves; c->crv; c++) {
        if (crv.len == ngx_strlen(c->crv)
            && ngx_strncmp(crv.data, c->crv, crv.len) == 0)
        {
            break;
        }
    }

    if (c->crv == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": EC key %ui is on curve \"%V\", "
                           "only P-256 and P-384 are supported",
                           file, n, &crv);
        return NULL;
    }

    if (ngx_http_flores_jwks_bytes(cf, jwk, "x", c->size, &x) != NGX_OK
        || ngx_http_flores_jwks_bytes(cf, jwk, "y", c->size, &y) != NGX_OK
        || x.len != c->size || y.len != c->size)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": EC key %ui needs \"x\" and "
                           "\"y\" of %uz bytes each, in base64url",
                           file, n, c->size);
        return NULL;
    }

    point[0] = 0x04;
    ngx_memcpy(point + 1, x.data, c->size);
    ngx_memcpy(point + 1 + c->size, y.data, c->size);

    pkey = NULL;
    params = NULL;
    pctx = NULL;

    bld = OSSL_PARAM_BLD_new();

    if (bld == NULL
        || OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
                                           c->group, 0) != 1
        || OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                            point, 1 + 2 * c->size) != 1
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || (pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL
        || EVP_PKEY_fromdata_init(pctx) != 1
        || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": EC key %ui is not a point on "
                           "%V", file, n, &crv);
        goto done;
    }

    EVP_PKEY_CTX_free(pctx);

    /* fromdata() takes any bytes: the point must be on the curve */

    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);

    if (pctx == NULL || EVP_PKEY_public_check(pctx) != 1) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": EC key %ui is not a point on "
                           "%V", file, n, &crv);
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }

done:

    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);

    return pkey;
}


static EVP_PKEY *
ngx_http_flores_jwks_rsa(ngx_conf_t *cf, ngx_str_t *file, ngx_uint_t n,
    json_object *jwk)
{
    BIGNUM          *bn, *be;
    ngx_str_t        mod, exp;
    EVP_PKEY        *pkey;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *pctx;
    OSSL_PARAM_BLD  *bld;

    if (ngx_http_flores_jwks_bytes(cf, jwk, "n", NGX_HTTP_FLORES_JWKS_MAX_N,
                                   &mod)
        != NGX_OK
        || ngx_http_flores_jwks_bytes(cf, jwk, "e", 8, &exp) != NGX_OK
        || mod.len == 0 || exp.len == 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": RSA key %ui needs \"n\" (at "
                           "most %d bytes) and \"e\" (at most 8), in "
                           "base64url", file, n, NGX_HTTP_FLORES_JWKS_MAX_N);
        return NULL;
    }

    pkey = NULL;
    params = NULL;
    pctx = NULL;

    bn = BN_bin2bn(mod.data, mod.len, NULL);
    be = BN_bin2bn(exp.data, exp.len, NULL);
    bld = OSSL_PARAM_BLD_new();

    if (bn == NULL || be == NULL || bld == NULL
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) != 1
        || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL
        || (pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL
        || EVP_PKEY_fromdata_init(pctx) != 1
        || EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "JWKS file \"%V\": RSA key %ui cannot be made "
                           "from its \"n\" and \"e\"", file, n);
    }

    EVP_PKEY_CTX_free(pctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);

    return pkey;
}


/* NGX_DECLINED: absent, s empty; NGX_ERROR: not a non-empty string */

static ngx_int_t
ngx_http_flores_jwks_string(json_object *jwk, const char *name, ngx_str_t *s)
{
    json_object  *v;

    s->len = 0;
    s->data = NULL;

    if (!json_object_object_get_ex(jwk, name, &v)) {
        return NGX_DECLINED;
    }

    if (!json_object_is_type(v, json_type_string)
        || json_object_get_string_len(v) == 0)
    {
        return NGX_ERROR;
    }

    /* json-c's string lives as long as the parsed set: copied in the caller */

    s->data = (u_char *) json_object_get_string(v);
    s->len = json_object_get_string_len(v);

    return NGX_OK;
}


/* a base64url member decoded into the configuration's pool */

static ngx_int_t
ngx_http_flores_jwks_bytes(ngx_conf_t *cf, json_object *jwk,
    const char *name, size_t max, ngx_str_t *bytes)
{
    ngx_str_t  src;

    if (ngx_http_flores_jwks_string(jwk, name, &src) != NGX_OK
        || ngx_base64_decoded_length(src.len) > max + 2)
    {
        return NGX_ERROR;
    }

    bytes->data = ngx_pnalloc(cf->temp_pool,
                              ngx_base64_decoded_length(src.len));
    if (bytes->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(bytes, &src) != NGX_OK || bytes->len > max) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* SubjectPublicKeyInfo as PEM text, NUL-terminated, in cf->pool */

static ngx_int_t
ngx_http_flores_jwks_pem(ngx_conf_t *cf, EVP_PKEY *pkey, ngx_str_t *pem)
{
    BIO   *bio;
    long   len;
    char  *data;

    bio = BIO_new(BIO_s_mem());
    if (bio == NULL) {
        return NGX_ERROR;
    }

    if (PEM_write_bio_PUBKEY(bio, pkey) != 1) {
        BIO_free(bio);
        return NGX_ERROR;
    }

    len = BIO_get_mem_data(bio, &data);

    pem->data = ngx_pnalloc(cf->pool, len + 1);
    if (pem->data == NULL) {
        BIO_free(bio);
        return NGX_ERROR;
    }

    ngx_memcpy(pem->data, data, len);
    pem->data[len] = '\0';
    pem->len = len;

    BIO_free(bio);

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_jwks_copy(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *p;

    if (s->len == 0) {
        return NGX_OK;
    }

    p = ngx_pnalloc(cf->pool, s->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(p, s->data, s->len);
    s->data = p;

    return NGX_OK;
}
