/* check_auth.c: unit tests of the auth service's keys and secrets: JWT signing and the
 * refusal of unusable keys, the JWK set and its RFC 7638 thumbprints, refresh tokens and
 * Argon2id hashes. */

#include <config.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>

#include "tokens.h"
#include "keys.h"
#include "password.h"


#define HS_SECRET   "0123456789abcdef0123456789abcdef"      /* 32 bytes: the minimum */
#define SID         "3f2b8c1e-9d4a-4e6b-8c2d-1a2b3c4d5e6f"

/* A P-256 test key and its RFC 7638 thumbprint, computed independently (Python's
 * cryptography and hashlib). */
static const char  ec_pem[] =
    "-----BEGIN EC PRIVATE KEY-----\n"
    "MHcCAQEEIPLBnpPm5SyDrV2NJXt6C0/FZ5B+GqBpezDwWFLVTWFgoAoGCCqGSM49\n"
    "AwEHoUQDQgAEkHK26WuhEIs3cphQX+yj5+jOjFdpKP4gf3vVhXv87liNW/+REMdh\n"
    "iaZLNEOUcaFCTPr6WjSm4cu3ZlVR+ABWWA==\n"
    "-----END EC PRIVATE KEY-----\n";
static const char  ec_kid[] = "FNiSSHb2FjHz1frbLLM5JxKn49RewkEqYjfwW50m5a0";

/* RFC 7638, 3.1: the example RSA key and its thumbprint. */
static const char  rfc_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_B"
    "JECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_F"
    "DW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4"
    "vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char  rfc_kid[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";


static fv_conf_t *
conf_with(const char *alg, const char *secret, const char *private_key)
{
    fv_conf_t  *conf;

    (void) unsetenv("FLORES_JWT_SECRET_FILE");
    (void) unsetenv("FLORES_JWT_PRIVATE_KEY_FILE");
    (void) unsetenv("FLORES_JWT_KEYS_DIR");
    (void) unsetenv("FLORES_CONFIG");
    (void) setenv("FLORES_JWT_ALG", alg, 1);

    if (secret != NULL) {
        (void) setenv("FLORES_JWT_SECRET", secret, 1);
    } else {
        (void) unsetenv("FLORES_JWT_SECRET");
    }

    if (private_key != NULL) {
        (void) setenv("FLORES_JWT_PRIVATE_KEY", private_key, 1);
    } else {
        (void) unsetenv("FLORES_JWT_PRIVATE_KEY");
    }

    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    return conf;
}


/* The PEM of a fresh RSA key of the given size. */
static char *
rsa_pem(unsigned bits)
{
    EVP_PKEY  *pkey;
    BIO       *bio;
    BUF_MEM   *mem;
    char      *pem;

    pkey = EVP_RSA_gen(bits);
    ck_assert_ptr_nonnull(pkey);
    bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL), 1);
    BIO_get_mem_ptr(bio, &mem);
    pem = strndup(mem->data, mem->length);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
    return pem;
}


static size_t
b64url_decode(const char *in, unsigned char *out)
{
    static const char  abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned long  acc;
    size_t         n;
    int            bits;

    acc = 0;
    bits = 0;
    n = 0;

    for ( ; *in; in++) {
        acc = (acc << 6) | (unsigned long) (strchr(abc, *in) - abc);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char) (acc >> bits);
        }
    }

    return n;
}


/* Decodes the token with key and checks the claims every access token carries. */
static void
assert_access_token(const char *token, const auth_tokens_t *t, const unsigned char *key,
    size_t len)
{
    jwt_t  *jwt;
    long    iat;

    ck_assert_int_eq(jwt_decode(&jwt, token, key, (int) len), 0);
    ck_assert_int_eq(jwt_get_alg(jwt), t->alg);
    ck_assert_str_eq(jwt_get_grant(jwt, "sub"), "42");
    ck_assert_str_eq(jwt_get_grant(jwt, "email"), "ana@example.com");
    ck_assert_str_eq(jwt_get_grant(jwt, "role"), "customer");
    ck_assert_str_eq(jwt_get_grant(jwt, "iss"), "flores-victoria");
    ck_assert_str_eq(jwt_get_grant(jwt, "aud"), "flores-victoria-api");
    ck_assert_str_eq(jwt_get_grant(jwt, "sid"), SID);
    ck_assert(auth_uuid_valid(jwt_get_grant(jwt, "jti")));

    iat = jwt_get_grant_int(jwt, "iat");
    ck_assert(labs(iat - (long) time(NULL)) <= 2);
    ck_assert_int_eq(jwt_get_grant_int(jwt, "exp") - iat, t->access_ttl);

    if (t->kid[0] != '\0') {
        ck_assert_str_eq(jwt_get_header(jwt, "kid"), t->kid);
    } else {
        ck_assert_ptr_null(jwt_get_header(jwt, "kid"));
    }

    jwt_free(jwt);
}


static const auth_subject_t  subject = { 42, "ana@example.com", "customer", SID, 0 };


START_TEST(hs256_signs_every_claim)
{
    auth_tokens_t   t;
    fv_conf_t      *conf;
    char           *token;

    (void) setenv("FLORES_ACCESS_TTL", "600", 1);
    conf = conf_with("HS256", HS_SECRET, NULL);
    ck_assert_int_eq(auth_tokens_init(&t, conf), 0);
    ck_assert_ptr_null(t.jwks);
    ck_assert_int_eq(t.access_ttl, 600);

    token = auth_tokens_access(&t, &subject);
    ck_assert_ptr_nonnull(token);
    assert_access_token(token, &t, (const unsigned char *) HS_SECRET, strlen(HS_SECRET));

    free(token);
    auth_tokens_free(&t);
    fv_conf_close(conf);
    (void) unsetenv("FLORES_ACCESS_TTL");
}
END_TEST


START_TEST(hs256_refuses_a_short_or_missing_secret)
{
    auth_tokens_t   t;
    fv_conf_t      *conf;

    conf = conf_with("HS256", "0123456789abcdef0123456789abcde", NULL);    /* 31 bytes */
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);

    conf = conf_with("HS256", NULL, NULL);
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);
}
END_TEST


START_TEST(unknown_algorithms_are_refused)
{
    static const char  *bad[] = { "none", "HS384", "RS512", "hs256", "" };
    auth_tokens_t       t;
    fv_conf_t          *conf;
    size_t              i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        conf = conf_with(bad[i], HS_SECRET, ec_pem);
        ck_assert_msg(auth_tokens_init(&t, conf) == -1, "accepted \"%s\"", bad[i]);
        fv_conf_close(conf);
    }
}
END_TEST


START_TEST(es256_signs_and_publishes_its_key)
{
    auth_tokens_t   t;
    fv_conf_t      *conf;
    json_object    *doc, *keys, *k, *v;
    EVP_PKEY       *pkey;
    BIO            *in, *out;
    BUF_MEM        *mem;
    char           *token;

    conf = conf_with("ES256", NULL, ec_pem);
    ck_assert_int_eq(auth_tokens_init(&t, conf), 0);
    ck_assert_str_eq(t.kid, ec_kid);

    /* The raw RFC 7517 document, one key, with the members JWT libraries look for. */
    ck_assert_ptr_nonnull(t.jwks);
    ck_assert_uint_eq(strlen(t.jwks), t.jwks_len);
    doc = json_tokener_parse(t.jwks);
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_object_object_get_ex(doc, "keys", &keys));
    ck_assert_uint_eq(json_object_array_length(keys), 1);
    k = json_object_array_get_idx(keys, 0);
    ck_assert(json_object_object_get_ex(k, "kty", &v));
    ck_assert_str_eq(json_object_get_string(v), "EC");
    ck_assert(json_object_object_get_ex(k, "crv", &v));
    ck_assert_str_eq(json_object_get_string(v), "P-256");
    ck_assert(json_object_object_get_ex(k, "alg", &v));
    ck_assert_str_eq(json_object_get_string(v), "ES256");
    ck_assert(json_object_object_get_ex(k, "use", &v));
    ck_assert_str_eq(json_object_get_string(v), "sig");
    ck_assert(json_object_object_get_ex(k, "kid", &v));
    ck_assert_str_eq(json_object_get_string(v), ec_kid);
    ck_assert(json_object_object_get_ex(k, "x", &v));
    ck_assert_uint_eq(json_object_get_string_len(v), 43);
    ck_assert(json_object_object_get_ex(k, "y", &v));
    ck_assert_uint_eq(json_object_get_string_len(v), 43);
    ck_assert(!json_object_object_get_ex(k, "d", NULL));     /* never the private part */
    json_object_put(doc);

    /* The token verifies with the public key alone; R || S is 64 bytes (86 characters). */
    token = auth_tokens_access(&t, &subject);
    ck_assert_ptr_nonnull(token);
    ck_assert_uint_eq(strlen(strrchr(token, '.') + 1), 86);

    in = BIO_new_mem_buf(ec_pem, -1);
    out = BIO_new(BIO_s_mem());
    pkey = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(pkey);
    ck_assert_int_eq(PEM_write_bio_PUBKEY(out, pkey), 1);
    BIO_get_mem_ptr(out, &mem);
    assert_access_token(token, &t, (const unsigned char *) mem->data, mem->length);

    EVP_PKEY_free(pkey);
    BIO_free(in);
    BIO_free(out);
    free(token);
    auth_tokens_free(&t);
    fv_conf_close(conf);
}
END_TEST


START_TEST(rs256_signs_with_a_fresh_key)
{
    auth_tokens_t   t;
    fv_conf_t      *conf;
    char           *pem, *token;

    pem = rsa_pem(2048);
    conf = conf_with("RS256", NULL, pem);
    ck_assert_int_eq(auth_tokens_init(&t, conf), 0);
    ck_assert_uint_eq(strlen(t.kid), AUTH_KID_LEN);
    ck_assert_ptr_nonnull(strstr(t.jwks, "\"kty\":\"RSA\""));
    ck_assert_ptr_nonnull(strstr(t.jwks, "\"e\":\"AQAB\""));

    token = auth_tokens_access(&t, &subject);
    ck_assert_ptr_nonnull(token);
    ck_assert_str_eq(jwt_alg_str(t.alg), "RS256");

    free(token);
    auth_tokens_free(&t);
    fv_conf_close(conf);
    free(pem);
}
END_TEST


START_TEST(keys_that_do_not_fit_are_refused)
{
    auth_tokens_t   t;
    fv_conf_t      *conf;
    char           *rsa1024, *rsa2048;

    rsa1024 = rsa_pem(1024);
    rsa2048 = rsa_pem(2048);

    conf = conf_with("RS256", NULL, rsa1024);                  /* too small */
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);

    conf = conf_with("RS256", NULL, ec_pem);                   /* EC for RS256 */
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);

    conf = conf_with("ES256", NULL, rsa2048);                  /* RSA for ES256 */
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);

    conf = conf_with("ES256", NULL, HS_SECRET);                /* not PEM */
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);

    conf = conf_with("ES256", NULL, NULL);                     /* no key */
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);

    free(rsa1024);
    free(rsa2048);
}
END_TEST


START_TEST(rsa_thumbprint_matches_rfc7638)
{
    unsigned char    n[512], e[8];
    size_t           nlen, elen;
    auth_tokens_t    t;
    OSSL_PARAM_BLD  *bld;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *ctx;
    EVP_PKEY        *pkey;
    BIGNUM          *bn_n, *bn_e;

    nlen = b64url_decode(rfc_n, n);
    elen = b64url_decode("AQAB", e);
    bn_n = BN_bin2bn(n, (int) nlen, NULL);
    bn_e = BN_bin2bn(e, (int) elen, NULL);

    bld = OSSL_PARAM_BLD_new();
    ck_assert_int_eq(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n), 1);
    ck_assert_int_eq(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e), 1);
    params = OSSL_PARAM_BLD_to_param(bld);

    pkey = NULL;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    ck_assert_int_eq(EVP_PKEY_fromdata_init(ctx), 1);
    ck_assert_int_eq(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);

    memset(&t, 0, sizeof(t));
    t.alg = JWT_ALG_RS256;
    ck_assert_int_eq(auth_tokens_jwk(&t, pkey), 0);
    ck_assert_str_eq(t.kid, rfc_kid);
    ck_assert_ptr_nonnull(strstr(t.jwks, rfc_n));

    auth_tokens_free(&t);
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
}
END_TEST


START_TEST(refresh_tokens_are_random_and_stored_hashed)
{
    char    a[AUTH_REFRESH_LEN + 1], b[AUTH_REFRESH_LEN + 1], ha[65], hb[65], h[65];
    size_t  i;

    ck_assert_int_eq(auth_tokens_refresh_new(a, ha), 0);
    ck_assert_int_eq(auth_tokens_refresh_new(b, hb), 0);

    ck_assert_uint_eq(strlen(a), 43);
    ck_assert_str_ne(a, b);
    ck_assert_str_ne(ha, hb);

    for (i = 0; i < strlen(a); i++) {
        ck_assert_msg(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                             "0123456789-_", a[i]) != NULL, "not base64url: %s", a);
    }

    /* What is stored is the SHA-256 of the text the client holds. */
    auth_tokens_refresh_hash(a, h);
    ck_assert_str_eq(h, ha);
    fv_sha256_hex(a, strlen(a), h);
    ck_assert_str_eq(h, ha);
}
END_TEST


START_TEST(uuids_are_recognised)
{
    ck_assert(auth_uuid_valid(SID));
    ck_assert(auth_uuid_valid("3F2B8C1E-9D4A-4E6B-8C2D-1A2B3C4D5E6F"));
    ck_assert(!auth_uuid_valid(NULL));
    ck_assert(!auth_uuid_valid(""));
    ck_assert(!auth_uuid_valid("3f2b8c1e-9d4a-4e6b-8c2d-1a2b3c4d5e6"));
    ck_assert(!auth_uuid_valid("3f2b8c1e-9d4a-4e6b-8c2d-1a2b3c4d5e6f0"));
    ck_assert(!auth_uuid_valid("3f2b8c1e_9d4a-4e6b-8c2d-1a2b3c4d5e6f"));
    ck_assert(!auth_uuid_valid("3f2b8c1e-9d4a-4e6b-8c2d-1a2b3c4d5e6g"));
    ck_assert(!auth_uuid_valid("'; DROP TABLE x; --aaaaaaaaaaaaaaaaaa"));
}
END_TEST


START_TEST(argon2id_default_cost)
{
    auth_password_t   p;
    fv_conf_t        *conf;
    char              hash[AUTH_HASH_MAX];

    (void) unsetenv("FLORES_ARGON2_MEMORY_KIB");
    (void) unsetenv("FLORES_ARGON2_TIME");
    (void) unsetenv("FLORES_ARGON2_PARALLELISM");
    conf = conf_with("HS256", HS_SECRET, NULL);

    ck_assert_int_eq(auth_password_init(&p, conf), 0);
    ck_assert_int_eq(auth_password_hash(&p, "clave-Segura-1", hash, sizeof(hash)), 0);
    ck_assert_msg(strncmp(hash, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "%s", hash);
    ck_assert_msg(strncmp(p.dummy, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "%s", p.dummy);

    fv_conf_close(conf);
}
END_TEST


START_TEST(argon2id_verifies_and_notices_old_costs)
{
    auth_password_t   p, cheap;
    fv_conf_t        *conf;
    char              hash[AUTH_HASH_MAX], salted[AUTH_HASH_MAX];

    (void) setenv("FLORES_ARGON2_MEMORY_KIB", "64", 1);
    (void) setenv("FLORES_ARGON2_TIME", "1", 1);
    conf = conf_with("HS256", HS_SECRET, NULL);
    ck_assert_int_eq(auth_password_init(&cheap, conf), 0);
    fv_conf_close(conf);

    ck_assert_int_eq(auth_password_hash(&cheap, "ñandú 🌸 '; --", hash, sizeof(hash)), 0);
    ck_assert_int_eq(auth_password_hash(&cheap, "ñandú 🌸 '; --", salted, sizeof(salted)), 0);
    ck_assert_str_ne(hash, salted);                                  /* fresh salt */

    ck_assert_int_eq(auth_password_verify(hash, "ñandú 🌸 '; --"), 1);
    ck_assert_int_eq(auth_password_verify(hash, "ñandú 🌸 '; -"), 0);
    ck_assert_int_eq(auth_password_verify(hash, ""), 0);
    ck_assert_int_eq(auth_password_verify("$argon2id$garbage", "x"), -1);
    ck_assert_int_eq(auth_password_outdated(&cheap, hash), 0);

    (void) setenv("FLORES_ARGON2_MEMORY_KIB", "128", 1);
    conf = conf_with("HS256", HS_SECRET, NULL);
    ck_assert_int_eq(auth_password_init(&p, conf), 0);
    fv_conf_close(conf);

    ck_assert_int_eq(auth_password_outdated(&p, hash), 1);
    ck_assert_int_eq(auth_password_verify(hash, "ñandú 🌸 '; --"), 1);   /* still valid */

    (void) unsetenv("FLORES_ARGON2_MEMORY_KIB");
    (void) unsetenv("FLORES_ARGON2_TIME");
}
END_TEST


/* ---- rotating ES256 keys (keys.c) ------------------------------------------------------ */

static char *
keys_tmpdir(void)
{
    char  tmpl[] = "/tmp/check_auth_keys.XXXXXX";
    char *dir;

    dir = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(dir);
    return strdup(dir);
}


static void
keys_rmdir(const char *dir)
{
    char  cmd[512];

    (void) snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}


static int
file_exists(const char *dir, const char *kid)
{
    char         path[512];
    struct stat  st;

    (void) snprintf(path, sizeof(path), "%s/%s.pem", dir, kid);
    return stat(path, &st) == 0;
}


/* Guarantees: the newest key whose time has come signs; a rotated-in key waits for its
 * activation; the state survives a save and a load (times and keys); prune drops only keys
 * retired before the cutoff, files included. */
START_TEST(key_state_rotation_and_prune)
{
    auth_keyset_t   ks, again;
    char           *dir, k1[AUTH_KEYS_KID_LEN + 1], k2[AUTH_KEYS_KID_LEN + 1];
    int64_t         now;

    dir = keys_tmpdir();
    now = 1800000000;

    ck_assert_int_eq(auth_keys_load(&ks, dir), 0);
    ck_assert_uint_eq(ks.n, 0);
    ck_assert_ptr_null(auth_keys_signing(&ks, now));

    ck_assert_int_eq(auth_keys_add(&ks, dir, now), 0);
    memcpy(k1, ks.keys[0].kid, sizeof(k1));
    ck_assert_int_eq(auth_keys_add(&ks, dir, now + 5), 0);
    memcpy(k2, ks.keys[1].kid, sizeof(k2));
    ck_assert_str_ne(k1, k2);

    /* The first key retires when the second starts signing, not before. */
    ck_assert_int_eq(ks.keys[0].retired_at, now + 5);
    ck_assert_int_eq(ks.keys[1].retired_at, 0);
    ck_assert_str_eq(auth_keys_signing(&ks, now)->kid, k1);
    ck_assert_str_eq(auth_keys_signing(&ks, now + 4)->kid, k1);
    ck_assert_str_eq(auth_keys_signing(&ks, now + 5)->kid, k2);
    /* Before any key's time (a clock set back): the earliest one. */
    ck_assert_str_eq(auth_keys_signing(&ks, now - 100)->kid, k1);

    ck_assert_int_eq(auth_keys_save(&ks, dir), 0);
    ck_assert_int_eq(auth_keys_load(&again, dir), 0);
    ck_assert_uint_eq(again.n, 2);
    ck_assert_str_eq(again.keys[0].kid, k1);
    ck_assert_int_eq(again.keys[0].activate_at, now);
    ck_assert_int_eq(again.keys[0].retired_at, now + 5);
    ck_assert_str_eq(again.keys[1].kid, k2);
    ck_assert_int_eq(again.keys[1].activate_at, now + 5);
    ck_assert_ptr_nonnull(again.keys[1].pkey);

    /* Retired at now + 5: kept while a token it signed may live, dropped after. */
    ck_assert_int_eq(auth_keys_prune(&again, dir, now + 5), 0);
    ck_assert_uint_eq(again.n, 2);
    ck_assert_int_eq(auth_keys_prune(&again, dir, now + 6), 1);
    ck_assert_uint_eq(again.n, 1);
    ck_assert_str_eq(again.keys[0].kid, k2);
    ck_assert(!file_exists(dir, k1));
    ck_assert(file_exists(dir, k2));

    auth_keys_free(&ks);
    auth_keys_free(&again);
    keys_rmdir(dir);
    free(dir);
}
END_TEST


/* Guarantees: the JWK set holds every key, public members only (no "d"), kty EC, crv P-256,
 * alg ES256, x and y of 32 bytes, kid the RFC 7638 thumbprint of the key (the known test key
 * gives the thumbprint computed independently). */
START_TEST(jwks_lists_every_public_key)
{
    auth_keyset_t   ks;
    json_object    *doc, *keys, *k, *v;
    unsigned char   bin[64];
    char           *dir, *jwks, path[512], line[128];
    size_t          len, i;
    FILE           *f;

    dir = keys_tmpdir();

    /* The known key, by hand: its PEM and its state line. */
    (void) snprintf(path, sizeof(path), "%s/%s.pem", dir, ec_kid);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(ec_pem, f);
    fclose(f);
    (void) snprintf(path, sizeof(path), "%s/keys.state", dir);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    (void) snprintf(line, sizeof(line), "%s 1000 0\n", ec_kid);
    fputs(line, f);
    fclose(f);

    ck_assert_int_eq(auth_keys_load(&ks, dir), 0);
    ck_assert_int_eq(auth_keys_add(&ks, dir, 2000), 0);

    jwks = auth_keys_jwks(&ks, &len);
    ck_assert_ptr_nonnull(jwks);
    ck_assert_uint_eq(strlen(jwks), len);
    ck_assert_ptr_null(strstr(jwks, "\"d\""));

    doc = json_tokener_parse(jwks);
    ck_assert_ptr_nonnull(doc);
    ck_assert(json_object_object_get_ex(doc, "keys", &keys));
    ck_assert_uint_eq(json_object_array_length(keys), 2);

    for (i = 0; i < 2; i++) {
        k = json_object_array_get_idx(keys, i);
        ck_assert_str_eq(json_object_get_string(json_object_object_get(k, "kty")), "EC");
        ck_assert_str_eq(json_object_get_string(json_object_object_get(k, "crv")), "P-256");
        ck_assert_str_eq(json_object_get_string(json_object_object_get(k, "alg")), "ES256");
        ck_assert_str_eq(json_object_get_string(json_object_object_get(k, "use")), "sig");
        ck_assert_str_eq(json_object_get_string(json_object_object_get(k, "kid")),
                         ks.keys[i].kid);
        ck_assert(!json_object_object_get_ex(k, "d", &v));
        ck_assert_uint_eq(b64url_decode(json_object_get_string(
                              json_object_object_get(k, "x")), bin), 32);
        ck_assert_uint_eq(b64url_decode(json_object_get_string(
                              json_object_object_get(k, "y")), bin), 32);
    }

    ck_assert_str_eq(json_object_get_string(json_object_object_get(
                         json_object_array_get_idx(keys, 0), "kid")), ec_kid);

    /* The file flores-admin publishes: the same document, mode 0644. */
    (void) snprintf(path, sizeof(path), "%s/jwks.json", dir);
    ck_assert_int_eq(auth_keys_write_jwks(&ks, path), 0);
    {
        struct stat  st;
        char         buf[4096];
        size_t       n;

        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_int_eq(st.st_mode & 0777, 0644);
        f = fopen(path, "r");
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        ck_assert_str_eq(buf, jwks);
    }

    json_object_put(doc);
    free(jwks);
    auth_keys_free(&ks);
    keys_rmdir(dir);
    free(dir);
}
END_TEST


/* Verifies a JWS ES256 signature as RFC 7518 3.4 defines it: 64 bytes, r || s, each 32
 * bytes big-endian (not DER), over "header.payload", with the key's public half. */
static void
assert_es256_signature(const char *token, EVP_PKEY *pkey)
{
    unsigned char   sig[128], *der;
    const char     *dot2;
    ECDSA_SIG      *es;
    EVP_MD_CTX     *md;
    BIGNUM         *r, *s;
    size_t          n;
    int             der_len;

    dot2 = strrchr(token, '.');
    ck_assert_ptr_nonnull(dot2);
    n = b64url_decode(dot2 + 1, sig);
    ck_assert_uint_eq(n, 64);

    r = BN_bin2bn(sig, 32, NULL);
    s = BN_bin2bn(sig + 32, 32, NULL);
    es = ECDSA_SIG_new();
    ck_assert_int_eq(ECDSA_SIG_set0(es, r, s), 1);
    der = NULL;
    der_len = i2d_ECDSA_SIG(es, &der);
    ck_assert_int_gt(der_len, 0);

    md = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey), 1);
    ck_assert_int_eq(EVP_DigestVerify(md, der, (size_t) der_len,
                                      (const unsigned char *) token,
                                      (size_t) (dot2 - token)), 1);

    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
}


static char *
token_kid(const char *token)
{
    unsigned char   head[512];
    json_object    *h;
    char           *kid, part[512];
    size_t          n;

    n = strcspn(token, ".");
    ck_assert_uint_lt(n, sizeof(part));
    memcpy(part, token, n);
    part[n] = '\0';
    n = b64url_decode(part, head);
    head[n] = '\0';
    h = json_tokener_parse((char *) head);
    ck_assert_ptr_nonnull(h);
    ck_assert_str_eq(json_object_get_string(json_object_object_get(h, "alg")), "ES256");
    kid = strdup(json_object_get_string(json_object_object_get(h, "kid")));
    json_object_put(h);
    return kid;
}


/* Guarantees: ES256 is the default; with FLORES_JWT_KEYS_DIR auth signs with the newest
 * active key (kid in the header, a raw 64-byte signature that verifies with that key), not
 * with a rotated-in key before its activation, and notices a rotation without a restart
 * (within a second); its JWK set lists every key. */
START_TEST(es256_ring_signs_with_the_active_key_and_follows_rotation)
{
    auth_tokens_t    t;
    auth_keyset_t    ks;
    fv_conf_t       *conf;
    char            *dir, *token, *kid, *jwks, k1[AUTH_KEYS_KID_LEN + 1];
    char             k3[AUTH_KEYS_KID_LEN + 1];
    size_t           len;
    int64_t          now;

    dir = keys_tmpdir();
    now = (int64_t) time(NULL);

    ck_assert_int_eq(auth_keys_load(&ks, dir), 0);
    ck_assert_int_eq(auth_keys_add(&ks, dir, now - 10), 0);
    memcpy(k1, ks.keys[0].kid, sizeof(k1));
    ck_assert_int_eq(auth_keys_add(&ks, dir, now + 3600), 0);    /* not active yet */
    ck_assert_int_eq(auth_keys_save(&ks, dir), 0);

    conf = conf_with("ES256", NULL, NULL);
    (void) unsetenv("FLORES_JWT_ALG");                             /* the default */
    fv_conf_close(conf);
    (void) setenv("FLORES_JWT_KEYS_DIR", dir, 1);
    conf = fv_conf_open();
    ck_assert_int_eq(auth_tokens_init(&t, conf), 0);
    ck_assert_int_eq(t.alg, JWT_ALG_ES256);

    token = auth_tokens_access(&t, &subject);
    ck_assert_ptr_nonnull(token);
    kid = token_kid(token);
    ck_assert_str_eq(kid, k1);
    assert_es256_signature(token, ks.keys[0].pkey);
    free(kid);
    free(token);

    jwks = auth_tokens_jwks(&t, &len);
    ck_assert_ptr_nonnull(jwks);
    ck_assert_ptr_nonnull(strstr(jwks, ks.keys[1].kid));    /* published before it signs */
    free(jwks);

    /* A rotation by another process: a key active at once. */
    ck_assert_int_eq(auth_keys_add(&ks, dir, now), 0);
    memcpy(k3, ks.keys[2].kid, sizeof(k3));
    ks.keys[1].activate_at = now + 7200;
    ck_assert_int_eq(auth_keys_save(&ks, dir), 0);
    sleep(2);

    token = auth_tokens_access(&t, &subject);
    ck_assert_ptr_nonnull(token);
    kid = token_kid(token);
    ck_assert_str_eq(kid, k3);
    assert_es256_signature(token, ks.keys[2].pkey);
    free(kid);
    free(token);

    auth_tokens_free(&t);
    fv_conf_close(conf);
    (void) unsetenv("FLORES_JWT_KEYS_DIR");
    auth_keys_free(&ks);
    keys_rmdir(dir);
    free(dir);
}
END_TEST


/* Guarantees: an empty keys directory stops the start (no unsigned or HS fallback). */
START_TEST(es256_ring_without_keys_is_refused)
{
    auth_tokens_t   t;
    fv_conf_t      *conf;
    char           *dir;

    dir = keys_tmpdir();
    conf = conf_with("ES256", NULL, NULL);
    fv_conf_close(conf);
    (void) setenv("FLORES_JWT_KEYS_DIR", dir, 1);
    conf = fv_conf_open();
    ck_assert_int_eq(auth_tokens_init(&t, conf), -1);
    fv_conf_close(conf);
    (void) unsetenv("FLORES_JWT_KEYS_DIR");
    keys_rmdir(dir);
    free(dir);
}
END_TEST


/* Guarantees: a token minted after a revocation cutoff that lies ahead of the clock carries
 * iat = the cutoff (never earlier), and exp counts from it. */
START_TEST(iat_is_never_before_the_revocation_cutoff)
{
    auth_tokens_t    t;
    auth_subject_t   sub = subject;
    fv_conf_t       *conf;
    char            *token;
    jwt_t           *jwt;
    long             cutoff;

    conf = conf_with("HS256", HS_SECRET, NULL);
    ck_assert_int_eq(auth_tokens_init(&t, conf), 0);

    cutoff = (long) time(NULL) + 30;
    sub.not_before = cutoff;
    token = auth_tokens_access(&t, &sub);
    ck_assert_ptr_nonnull(token);
    ck_assert_int_eq(jwt_decode(&jwt, token, (const unsigned char *) HS_SECRET,
                                (int) strlen(HS_SECRET)), 0);
    ck_assert_int_eq(jwt_get_grant_int(jwt, "iat"), cutoff);
    ck_assert_int_eq(jwt_get_grant_int(jwt, "exp"), cutoff + t.access_ttl);

    jwt_free(jwt);
    free(token);
    auth_tokens_free(&t);
    fv_conf_close(conf);
}
END_TEST


int
main(void)
{
    Suite    *s;
    TCase    *tc;
    SRunner  *sr;
    int       failed;

    fv_log_init("check_auth", FV_LOG_ERROR);

    s = suite_create("auth");

    tc = tcase_create("tokens");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hs256_signs_every_claim);
    tcase_add_test(tc, hs256_refuses_a_short_or_missing_secret);
    tcase_add_test(tc, unknown_algorithms_are_refused);
    tcase_add_test(tc, es256_signs_and_publishes_its_key);
    tcase_add_test(tc, rs256_signs_with_a_fresh_key);
    tcase_add_test(tc, keys_that_do_not_fit_are_refused);
    tcase_add_test(tc, rsa_thumbprint_matches_rfc7638);
    tcase_add_test(tc, refresh_tokens_are_random_and_stored_hashed);
    tcase_add_test(tc, uuids_are_recognised);
    tcase_add_test(tc, iat_is_never_before_the_revocation_cutoff);
    suite_add_tcase(s, tc);

    tc = tcase_create("keys");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, key_state_rotation_and_prune);
    tcase_add_test(tc, jwks_lists_every_public_key);
    tcase_add_test(tc, es256_ring_signs_with_the_active_key_and_follows_rotation);
    tcase_add_test(tc, es256_ring_without_keys_is_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("passwords");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, argon2id_default_cost);
    tcase_add_test(tc, argon2id_verifies_and_notices_old_costs);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
