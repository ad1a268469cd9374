/* tokens.c: access JWTs (HS256 with a shared secret, RS256/ES256 with a private key), their
 * JWK set, and opaque refresh tokens stored only as hashes. */

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <sys/stat.h>

#include "tokens.h"


#define AUTH_HS_KEY_MIN      32        /* bytes: RFC 7518 3.2, a key as long as the hash */
#define AUTH_RSA_BITS_MIN    2048
#define AUTH_EC_COORD_LEN    32        /* P-256 coordinates, left-padded */


static int auth_tokens_secret(auth_tokens_t *t, const fv_conf_t *conf);
static int auth_tokens_private_key(auth_tokens_t *t, const fv_conf_t *conf);
static char *auth_b64url_bn(const EVP_PKEY *pkey, const char *param, size_t pad);
static int auth_tokens_selftest(const auth_tokens_t *t);
static int auth_pem_no_passphrase(char *buf, int size, int rwflag, void *u);
static int auth_ring_open(auth_tokens_t *t, const char *dir);
static void auth_ring_refresh(auth_ring_t *ring);


/*
 * The key ring (ES256 with FLORES_JWT_KEYS_DIR): the keys of the directory and their JWK
 * set, replaced as a whole when the state file changes (flores-admin keys rotate|prune).
 * Every signing looks at the file at most once a second (one stat(), under the ring's
 * lock), so a rotation is seen within a second without a restart; a state that does not
 * load keeps the previous keys (and says why in the log).  Signing takes the lock too: the
 * key cannot be freed under it.
 */

struct auth_ring_s {
    pthread_mutex_t       lock;
    char                  dir[1024];
    auth_keyset_t         ks;
    char                 *jwks;
    size_t                jwks_len;
    struct stat           seen;         /* the state file as last loaded */
    time_t                checked_at;
};


int
auth_tokens_init(auth_tokens_t *t, const fv_conf_t *conf)
{
    const char  *alg, *iss, *aud;

    memset(t, 0, sizeof(*t));

    t->access_ttl = fv_conf_long(conf, "FLORES_ACCESS_TTL", 900, 30, 86400);
    t->refresh_ttl = fv_conf_long(conf, "FLORES_REFRESH_TTL", 604800, 60, 31536000);
    t->leeway = fv_conf_long(conf, "FLORES_JWT_LEEWAY", 60, 0, 3600);

    iss = fv_conf_str(conf, "FLORES_JWT_ISSUER", "flores-victoria");
    aud = fv_conf_str(conf, "FLORES_JWT_AUDIENCE", "flores-victoria-api");

    if (strlen(iss) >= sizeof(t->issuer) || strlen(aud) >= sizeof(t->audience)
        || iss[0] == '\0' || aud[0] == '\0')
    {
        fv_log(FV_LOG_ERROR, "FLORES_JWT_ISSUER and FLORES_JWT_AUDIENCE must be 1 to %zu "
               "bytes", sizeof(t->issuer) - 1);
        return -1;
    }

    memcpy(t->issuer, iss, strlen(iss) + 1);
    memcpy(t->audience, aud, strlen(aud) + 1);

    alg = fv_conf_str(conf, "FLORES_JWT_ALG", "ES256");

    if (strcmp(alg, "ES256") == 0 && fv_conf_str(conf, "FLORES_JWT_KEYS_DIR", NULL) != NULL) {
        t->alg = JWT_ALG_ES256;
        if (auth_ring_open(t, fv_conf_str(conf, "FLORES_JWT_KEYS_DIR", NULL)) != 0) {
            auth_tokens_free(t);
            return -1;
        }

    } else if (strcmp(alg, "HS256") == 0) {
        t->alg = JWT_ALG_HS256;
        if (auth_tokens_secret(t, conf) != 0) {
            return -1;
        }

    } else if (strcmp(alg, "RS256") == 0 || strcmp(alg, "ES256") == 0) {
        t->alg = alg[0] == 'R' ? JWT_ALG_RS256 : JWT_ALG_ES256;
        if (auth_tokens_private_key(t, conf) != 0) {
            auth_tokens_free(t);
            return -1;
        }

    } else {
        fv_log(FV_LOG_ERROR, "FLORES_JWT_ALG \"%s\" is not one of HS256, RS256, ES256", alg);
        return -1;
    }

    if (auth_tokens_selftest(t) != 0) {
        auth_tokens_free(t);
        return -1;
    }

    fv_log(FV_LOG_INFO, "access tokens signed with %s%s%s, valid %lds; refresh tokens %lds",
           alg, t->ring ? ", rotating keys of " : (t->kid[0] ? ", kid " : ""),
           t->ring ? t->ring->dir : t->kid, t->access_ttl, t->refresh_ttl);

    return 0;
}


void
auth_tokens_free(auth_tokens_t *t)
{
    if (t->key != NULL) {
        OPENSSL_cleanse(t->key, t->key_len);
        free(t->key);
        t->key = NULL;
    }

    free(t->jwks);
    t->jwks = NULL;

    if (t->ring != NULL) {
        auth_keys_free(&t->ring->ks);
        free(t->ring->jwks);
        (void) pthread_mutex_destroy(&t->ring->lock);
        free(t->ring);
        t->ring = NULL;
    }
}


static int
auth_ring_open(auth_tokens_t *t, const char *dir)
{
    auth_ring_t  *ring;

    if (strlen(dir) >= sizeof(ring->dir)) {
        fv_log(FV_LOG_ERROR, "FLORES_JWT_KEYS_DIR is too long");
        return -1;
    }

    ring = calloc(1, sizeof(*ring));
    if (ring == NULL) {
        return -1;
    }

    (void) pthread_mutex_init(&ring->lock, NULL);
    memcpy(ring->dir, dir, strlen(dir) + 1);
    t->ring = ring;

    auth_ring_refresh(ring);

    if (ring->ks.n == 0 || ring->jwks == NULL) {
        fv_log(FV_LOG_ERROR, "no usable signing key in %s: run flores-admin keys init", dir);
        return -1;
    }

    return 0;
}


/* Under ring->lock (or before the workers start). */

static void
auth_ring_refresh(auth_ring_t *ring)
{
    char            path[1100];
    struct stat     st;
    auth_keyset_t   ks;
    char           *jwks;
    size_t          len;
    time_t          now;

    now = time(NULL);
    if (ring->jwks != NULL && now == ring->checked_at) {
        return;
    }

    ring->checked_at = now;
    (void) snprintf(path, sizeof(path), "%s/%s", ring->dir, AUTH_KEYS_STATE);

    if (stat(path, &st) != 0) {
        if (ring->jwks == NULL) {
            fv_log(FV_LOG_ERROR, "cannot read %s: %s", path, strerror(errno));
        }
        return;
    }

    if (ring->jwks != NULL && st.st_ino == ring->seen.st_ino && st.st_size == ring->seen.st_size
        && st.st_mtim.tv_sec == ring->seen.st_mtim.tv_sec
        && st.st_mtim.tv_nsec == ring->seen.st_mtim.tv_nsec)
    {
        return;
    }

    if (auth_keys_load(&ks, ring->dir) != 0) {
        fv_log(FV_LOG_ERROR, "the keys of %s do not load: still signing with the previous "
               "ones", ring->dir);
        ring->seen = st;
        return;
    }

    jwks = auth_keys_jwks(&ks, &len);
    if (jwks == NULL) {
        auth_keys_free(&ks);
        return;
    }

    auth_keys_free(&ring->ks);
    free(ring->jwks);
    ring->ks = ks;
    ring->jwks = jwks;
    ring->jwks_len = len;
    ring->seen = st;

    fv_log(FV_LOG_INFO, "%zu signing key(s) loaded from %s", ks.n, ring->dir);
}


char *
auth_tokens_jwks(const auth_tokens_t *t, size_t *len)
{
    char  *out;

    if (t->ring == NULL) {
        if (t->jwks == NULL) {
            return NULL;
        }
        *len = t->jwks_len;
        return strdup(t->jwks);
    }

    (void) pthread_mutex_lock(&t->ring->lock);
    auth_ring_refresh(t->ring);
    out = t->ring->jwks != NULL ? strdup(t->ring->jwks) : NULL;
    *len = t->ring->jwks_len;
    (void) pthread_mutex_unlock(&t->ring->lock);

    return out;
}


static int
auth_tokens_secret(auth_tokens_t *t, const fv_conf_t *conf)
{
    t->key = fv_conf_secret(conf, "FLORES_JWT_SECRET", &t->key_len);

    if (t->key == NULL) {
        fv_log(FV_LOG_ERROR, "HS256 needs a secret: FLORES_JWT_SECRET_FILE is unset or "
               "unreadable");
        return -1;
    }

    if (t->key_len < AUTH_HS_KEY_MIN) {
        fv_log(FV_LOG_ERROR, "the HS256 secret is %zu bytes; at least %d are required",
               t->key_len, AUTH_HS_KEY_MIN);
        auth_tokens_free(t);
        return -1;
    }

    return 0;
}


static int
auth_tokens_private_key(auth_tokens_t *t, const fv_conf_t *conf)
{
    char           group[32];
    size_t         group_len;
    BIO           *bio;
    EVP_PKEY      *pkey;
    int            rc;

    t->key = fv_conf_secret(conf, "FLORES_JWT_PRIVATE_KEY", &t->key_len);

    if (t->key == NULL) {
        fv_log(FV_LOG_ERROR, "%s needs %sFLORES_JWT_PRIVATE_KEY_FILE, which is unset or "
               "unreadable", jwt_alg_str(t->alg),
               t->alg == JWT_ALG_ES256 ? "FLORES_JWT_KEYS_DIR or " : "");
        return -1;
    }

    if (t->key_len > 64 * 1024) {
        fv_log(FV_LOG_ERROR, "FLORES_JWT_PRIVATE_KEY_FILE is too large for a key");
        return -1;
    }

    bio = BIO_new_mem_buf(t->key, (int) t->key_len);
    if (bio == NULL) {
        return -1;
    }

    pkey = PEM_read_bio_PrivateKey(bio, NULL, auth_pem_no_passphrase, NULL);
    BIO_free(bio);

    if (pkey == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_JWT_PRIVATE_KEY_FILE does not hold an unencrypted PEM "
               "private key");
        return -1;
    }

    rc = -1;

    if (t->alg == JWT_ALG_RS256) {
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            fv_log(FV_LOG_ERROR, "RS256 needs an RSA private key");
            goto out;
        }

        if (EVP_PKEY_get_bits(pkey) < AUTH_RSA_BITS_MIN) {
            fv_log(FV_LOG_ERROR, "the RSA key has %d bits; at least %d are required",
                   EVP_PKEY_get_bits(pkey), AUTH_RSA_BITS_MIN);
            goto out;
        }

    } else {
        if (!EVP_PKEY_is_a(pkey, "EC")
            || EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                              sizeof(group), &group_len) != 1
            || strcmp(group, "prime256v1") != 0)
        {
            fv_log(FV_LOG_ERROR, "ES256 needs an EC private key on curve P-256");
            goto out;
        }
    }

    rc = auth_tokens_jwk(t, pkey);

out:

    EVP_PKEY_free(pkey);
    return rc;
}


/*
 * The JWK set holds the one public key; its kid is the RFC 7638 thumbprint: the SHA-256 of
 * the key's required members, sorted by name, without white space, in base64url.  Clients
 * pick the key by the kid in the token's header, so a rotated key gets a new kid.
 */

int
auth_tokens_jwk(auth_tokens_t *t, const EVP_PKEY *pkey)
{
    unsigned char   digest[EVP_MAX_MD_SIZE];
    unsigned int    digest_len;
    char           *a, *b, *canon;
    const char     *text;
    json_object    *keys, *jwk, *doc;
    int             n, rc;

    rc = -1;
    canon = NULL;
    doc = NULL;

    if (t->alg == JWT_ALG_RS256) {
        a = auth_b64url_bn(pkey, OSSL_PKEY_PARAM_RSA_E, 0);
        b = auth_b64url_bn(pkey, OSSL_PKEY_PARAM_RSA_N, 0);
    } else {
        a = auth_b64url_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_X, AUTH_EC_COORD_LEN);
        b = auth_b64url_bn(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, AUTH_EC_COORD_LEN);
    }

    if (a == NULL || b == NULL) {
        fv_log(FV_LOG_ERROR, "cannot read the public part of the signing key");
        goto out;
    }

    n = t->alg == JWT_ALG_RS256
        ? asprintf(&canon, "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", a, b)
        : asprintf(&canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", a, b);

    if (n < 0) {
        canon = NULL;
        goto out;
    }

    if (EVP_Digest(canon, (size_t) n, digest, &digest_len, EVP_sha256(), NULL) != 1
        || digest_len != 32)
    {
        goto out;
    }

    (void) fv_base64url(digest, digest_len, t->kid);

    doc = json_object_new_object();
    keys = json_object_new_array();
    jwk = json_object_new_object();

    if (doc == NULL || keys == NULL || jwk == NULL) {
        json_object_put(keys);
        json_object_put(jwk);
        goto out;
    }

    json_object_object_add(doc, "keys", keys);
    json_object_array_add(keys, jwk);

    if (t->alg == JWT_ALG_RS256) {
        json_object_object_add(jwk, "kty", json_object_new_string("RSA"));
    } else {
        json_object_object_add(jwk, "kty", json_object_new_string("EC"));
    }

    json_object_object_add(jwk, "use", json_object_new_string("sig"));
    json_object_object_add(jwk, "alg", json_object_new_string(jwt_alg_str(t->alg)));
    json_object_object_add(jwk, "kid", json_object_new_string(t->kid));

    if (t->alg == JWT_ALG_RS256) {
        json_object_object_add(jwk, "n", json_object_new_string(b));
        json_object_object_add(jwk, "e", json_object_new_string(a));
    } else {
        json_object_object_add(jwk, "crv", json_object_new_string("P-256"));
        json_object_object_add(jwk, "x", json_object_new_string(a));
        json_object_object_add(jwk, "y", json_object_new_string(b));
    }

    text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN
                                               | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text == NULL) {
        goto out;
    }

    t->jwks = strdup(text);
    if (t->jwks == NULL) {
        goto out;
    }

    t->jwks_len = strlen(t->jwks);
    rc = 0;

out:

    json_object_put(doc);
    free(canon);
    free(a);
    free(b);
    return rc;
}


/* A big-endian integer parameter of the key in base64url, left-padded to pad bytes. */

static char *
auth_b64url_bn(const EVP_PKEY *pkey, const char *param, size_t pad)
{
    BIGNUM         *bn;
    unsigned char  *bin;
    char           *out;
    int             len;

    bn = NULL;
    bin = NULL;
    out = NULL;

    if (EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
        return NULL;
    }

    len = BN_num_bytes(bn);
    if (pad != 0) {
        if ((size_t) len > pad) {
            goto out;
        }
        len = (int) pad;
    }

    if (len <= 0 || (bin = malloc((size_t) len)) == NULL) {
        goto out;
    }

    if (BN_bn2binpad(bn, bin, len) != len) {
        goto out;
    }

    out = malloc(4 * (((size_t) len + 2) / 3) + 1);
    if (out != NULL) {
        (void) fv_base64url(bin, (size_t) len, out);
    }

out:

    free(bin);
    BN_free(bn);
    return out;
}


char *
auth_tokens_access(const auth_tokens_t *t, const auth_subject_t *sub)
{
    char     id[24], jti[37];
    char    *token;
    jwt_t   *jwt;
    time_t   now;
    int      err;

    if (fv_uuid(jti) != 0) {
        return NULL;
    }

    if (jwt_new(&jwt) != 0) {
        return NULL;
    }

    token = NULL;
    now = time(NULL);

    /* A token minted in the second of a revocation, or just after it on a clock behind the
     * database's, must not look older than the cutoff. */
    if ((int64_t) now < sub->not_before) {
        now = (time_t) sub->not_before;
    }

    (void) snprintf(id, sizeof(id), "%" PRId64, sub->user_id);

    err = jwt_add_grant(jwt, "sub", id)
          | jwt_add_grant(jwt, "email", sub->email)
          | jwt_add_grant(jwt, "role", sub->role)
          | jwt_add_grant(jwt, "iss", t->issuer)
          | jwt_add_grant(jwt, "aud", t->audience)
          | jwt_add_grant_int(jwt, "iat", (long) now)
          | jwt_add_grant_int(jwt, "exp", (long) now + t->access_ttl)
          | jwt_add_grant(jwt, "jti", jti)
          | jwt_add_grant(jwt, "sid", sub->sid);

    if (t->ring != NULL) {
        const auth_key_t  *k;

        /* libjwt turns the DER ECDSA signature into JWS's raw r || s (64 bytes). */
        (void) pthread_mutex_lock(&t->ring->lock);
        auth_ring_refresh(t->ring);
        k = auth_keys_signing(&t->ring->ks, (int64_t) time(NULL));

        if (err == 0 && k != NULL) {
            err = jwt_add_header(jwt, "kid", k->kid)
                  | jwt_set_alg(jwt, t->alg, (const unsigned char *) k->pem, (int) k->pem_len);
        }

        if (err == 0 && k != NULL) {
            token = jwt_encode_str(jwt);
        }

        (void) pthread_mutex_unlock(&t->ring->lock);

    } else {
        if (err == 0 && t->kid[0] != '\0') {
            err = jwt_add_header(jwt, "kid", t->kid);
        }

        if (err == 0) {
            err = jwt_set_alg(jwt, t->alg, t->key, (int) t->key_len);
        }

        if (err == 0) {
            token = jwt_encode_str(jwt);
        }
    }

    if (err != 0) {
        fv_log(FV_LOG_ERROR, "cannot build an access token");

    } else if (token == NULL) {
        fv_log(FV_LOG_ERROR, "cannot sign an access token: %s", strerror(errno));
    }

    jwt_free(jwt);
    return token;
}


/* Signs a token and verifies it with the public half, so a bad key stops the start. */

static int
auth_tokens_selftest(const auth_tokens_t *t)
{
    auth_subject_t   sub = { 0, "selftest@localhost", "customer",
                             "00000000-0000-4000-8000-000000000000", 0 };
    unsigned char   *pub;
    char            *token;
    BIO             *in, *out;
    EVP_PKEY        *pkey;
    BUF_MEM         *mem;
    jwt_t           *jwt;
    int              rc, len;

    token = auth_tokens_access(t, &sub);
    if (token == NULL) {
        fv_log(FV_LOG_ERROR, "the %s key cannot sign", jwt_alg_str(t->alg));
        return -1;
    }

    rc = -1;
    in = NULL;
    out = NULL;
    pkey = NULL;
    jwt = NULL;

    if (t->alg == JWT_ALG_HS256) {
        pub = t->key;
        len = (int) t->key_len;

    } else {
        const auth_key_t  *k;

        k = t->ring != NULL ? auth_keys_signing(&t->ring->ks, (int64_t) time(NULL)) : NULL;
        in = k != NULL ? BIO_new_mem_buf(k->pem, (int) k->pem_len)
                       : BIO_new_mem_buf(t->key, (int) t->key_len);
        out = BIO_new(BIO_s_mem());
        if (in == NULL || out == NULL) {
            goto out;
        }

        pkey = PEM_read_bio_PrivateKey(in, NULL, auth_pem_no_passphrase, NULL);
        if (pkey == NULL || PEM_write_bio_PUBKEY(out, pkey) != 1) {
            goto out;
        }

        BIO_get_mem_ptr(out, &mem);
        pub = (unsigned char *) mem->data;
        len = (int) mem->length;
    }

    if (jwt_decode(&jwt, token, pub, len) != 0 || jwt_get_alg(jwt) != t->alg) {
        fv_log(FV_LOG_ERROR, "a token signed with the %s key does not verify",
               jwt_alg_str(t->alg));
        goto out;
    }

    rc = 0;

out:

    jwt_free(jwt);
    EVP_PKEY_free(pkey);
    BIO_free(in);
    BIO_free(out);
    free(token);
    return rc;
}


static int
auth_pem_no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void) buf;
    (void) size;
    (void) rwflag;
    (void) u;

    return -1;
}


int
auth_tokens_refresh_new(char token[AUTH_REFRESH_LEN + 1], char hash[65])
{
    unsigned char  raw[AUTH_REFRESH_BYTES];

    if (fv_random(raw, sizeof(raw)) != 0) {
        return -1;
    }

    (void) fv_base64url(raw, sizeof(raw), token);
    OPENSSL_cleanse(raw, sizeof(raw));
    fv_sha256_hex(token, AUTH_REFRESH_LEN, hash);

    return 0;
}


void
auth_tokens_refresh_hash(const char *token, char hash[65])
{
    fv_sha256_hex(token, strlen(token), hash);
}


int
auth_uuid_valid(const char *s)
{
    size_t  i;

    if (s == NULL || strlen(s) != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }

        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')
                     || (s[i] >= 'A' && s[i] <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}
