/* keys.h: the rotating ES256 signing keys: a directory of private keys with a state file
 * saying when each one starts signing and when it retired, and the public JWK set. */

#ifndef AUTH_KEYS_H
#define AUTH_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/types.h>


#define AUTH_KEYS_MAX          32
#define AUTH_KEYS_KID_LEN      43           /* base64url of a SHA-256 thumbprint */
#define AUTH_KEYS_STATE        "keys.state"

typedef struct {
    char                  kid[AUTH_KEYS_KID_LEN + 1];
    int64_t               activate_at;  /* unix seconds: signs from then on */
    int64_t               retired_at;   /* unix seconds: stopped signing; 0 while current */
    EVP_PKEY             *pkey;         /* the private key (NULL when loaded public-less) */
    char                 *pem;          /* its PEM text (for libjwt), NULL likewise */
    size_t                pem_len;
} auth_key_t;

typedef struct {
    auth_key_t            keys[AUTH_KEYS_MAX];
    size_t                n;
} auth_keyset_t;


/* Reads <dir>/keys.state and each <kid>.pem it names (a missing state file is an empty
 * set).  -1 with a logged reason: a bad line, a key that is not EC P-256 or whose thumbprint
 * is not its kid. */
int auth_keys_load(auth_keyset_t *ks, const char *dir);
void auth_keys_free(auth_keyset_t *ks);
/* The key that signs at now: the one with the latest activate_at <= now; when none has
 * started yet, the earliest one.  NULL for an empty set. */
const auth_key_t *auth_keys_signing(const auth_keyset_t *ks, int64_t now);
/* A new P-256 key, its PEM written 0600 as <dir>/<kid>.pem, added to ks signing from
 * activate_at; the key signing until then retires at activate_at.  -1 on failure. */
int auth_keys_add(auth_keyset_t *ks, const char *dir, int64_t activate_at);
/* Drops the keys retired before cutoff (their files too); the number dropped. */
int auth_keys_prune(auth_keyset_t *ks, const char *dir, int64_t cutoff);
/* Writes <dir>/keys.state atomically (temporary file, rename). */
int auth_keys_save(const auth_keyset_t *ks, const char *dir);
/* The JWK set {"keys":[...]} of every key, public halves only (malloc'ed, NUL-terminated). */
char *auth_keys_jwks(const auth_keyset_t *ks, size_t *len);
/* Writes the JWK set to path atomically, mode 0644. */
int auth_keys_write_jwks(const auth_keyset_t *ks, const char *path);
/* The RFC 7638 thumbprint of an EC P-256 key, base64url. */
int auth_keys_kid(const EVP_PKEY *pkey, char kid[AUTH_KEYS_KID_LEN + 1]);

#endif /* AUTH_KEYS_H */
