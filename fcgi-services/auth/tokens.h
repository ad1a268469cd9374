/* tokens.h: access JWTs (HS256 with a shared secret, RS256/ES256 with a private key), their
 * JWK set, and opaque refresh tokens stored only as hashes. */

#ifndef AUTH_TOKENS_H
#define AUTH_TOKENS_H

#include <stddef.h>
#include <stdint.h>
#include <jwt.h>
#include <openssl/types.h>
#include "fv.h"
#include "keys.h"


#define AUTH_REFRESH_BYTES     32                  /* 256 random bits */
#define AUTH_REFRESH_LEN       43                  /* their base64url text */
#define AUTH_KID_LEN           43                  /* base64url of a SHA-256 thumbprint */
#define AUTH_CLAIM_MAX         256


typedef struct auth_ring_s auth_ring_t;

typedef struct {
    jwt_alg_t             alg;
    auth_ring_t          *ring;         /* ES256 with FLORES_JWT_KEYS_DIR: rotating keys */          /* JWT_ALG_HS256, JWT_ALG_RS256 or JWT_ALG_ES256 */
    unsigned char        *key;          /* the HS secret, or the PEM private key */
    size_t                key_len;
    char                  kid[AUTH_KID_LEN + 1];   /* RFC 7638 thumbprint; "" for HS256 */
    char                 *jwks;         /* the JWK set document; NULL for HS256 */
    size_t                jwks_len;
    char                  issuer[AUTH_CLAIM_MAX];
    char                  audience[AUTH_CLAIM_MAX];
    long                  access_ttl;   /* seconds, FLORES_ACCESS_TTL */
    long                  refresh_ttl;  /* seconds, FLORES_REFRESH_TTL */
    long                  leeway;       /* seconds, FLORES_JWT_LEEWAY: the gateway's clock
                                           skew allowance past exp */
} auth_tokens_t;

/* Who an access token speaks for; always read from the database when it is issued. */
typedef struct {
    int64_t               user_id;
    const char           *email;
    const char           *role;
    const char           *sid;          /* the session: the refresh-token family */
    int64_t               not_before;   /* tokens_valid_after: iat is never earlier */
} auth_subject_t;


/* Reads the algorithm (FLORES_JWT_ALG, default ES256) and keys at start and refuses unusable
 * ones (a secret shorter than 32 bytes, a key that does not parse or does not fit the
 * algorithm, an empty keys directory); -1 with a logged reason.  ES256 takes its keys from
 * FLORES_JWT_KEYS_DIR (keys.c), re-read when its state file changes (looked at no more
 * than once a second), or a single FLORES_JWT_PRIVATE_KEY_FILE; HS256 its secret from
 * FLORES_JWT_SECRET_FILE; RS256 FLORES_JWT_PRIVATE_KEY_FILE. */
int auth_tokens_init(auth_tokens_t *t, const fv_conf_t *conf);
void auth_tokens_free(auth_tokens_t *t);
/* Sets t->kid and t->jwks from the public half of pkey, for t->alg (RS256 or ES256). */
int auth_tokens_jwk(auth_tokens_t *t, const EVP_PKEY *pkey);
/* The JWK set to publish (free() it), NULL for HS256. */
char *auth_tokens_jwks(const auth_tokens_t *t, size_t *len);
/* A signed access token (free() it), or NULL on failure. */
char *auth_tokens_access(const auth_tokens_t *t, const auth_subject_t *sub);
/* A new refresh token and the hex SHA-256 under which it is stored; -1 on failure. */
int auth_tokens_refresh_new(char token[AUTH_REFRESH_LEN + 1], char hash[65]);
void auth_tokens_refresh_hash(const char *token, char hash[65]);
/* 1 when s is a UUID in its 36-character text form. */
int auth_uuid_valid(const char *s);

#endif /* AUTH_TOKENS_H */
