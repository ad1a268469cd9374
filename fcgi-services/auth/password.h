/* password.h: Argon2id password hashes (PHC strings) with configurable cost. */

#ifndef AUTH_PASSWORD_H
#define AUTH_PASSWORD_H

#include <stddef.h>
#include <stdint.h>
#include "fv.h"


#define AUTH_HASH_MAX        256    /* bytes of an encoded hash, NUL included */


typedef struct {
    uint32_t              memory_kib;     /* FLORES_ARGON2_MEMORY_KIB, default 19456 */
    uint32_t              time;           /* FLORES_ARGON2_TIME, passes, default 2 */
    uint32_t              parallelism;    /* FLORES_ARGON2_PARALLELISM, lanes, default 1 */
    /* The hash of a random password nobody knows: verified when a login names an unknown
     * email, so that answer takes as long as a wrong password. */
    char                  dummy[AUTH_HASH_MAX];
} auth_password_t;


/* Reads the cost settings and computes the dummy hash; -1 with a logged reason. */
int auth_password_init(auth_password_t *p, const fv_conf_t *conf);
/* Hashes password with a fresh random salt into out; -1 on failure. */
int auth_password_hash(const auth_password_t *p, const char *password, char *out, size_t size);
/* 1 when password matches encoded, 0 when it does not, -1 when the hash is unusable or
 * memory ran out (logged). */
int auth_password_verify(const char *encoded, const char *password);
/* Spends the time of a verification against the dummy hash; the result is meaningless. */
void auth_password_burn(const auth_password_t *p, const char *password);
/* 1 when encoded was made with other cost settings than the current ones. */
int auth_password_outdated(const auth_password_t *p, const char *encoded);

#endif /* AUTH_PASSWORD_H */
