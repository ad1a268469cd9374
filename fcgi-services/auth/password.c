/* password.c: Argon2id password hashes (PHC strings) with configurable cost. */

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <argon2.h>

#include "password.h"


#define AUTH_SALT_LEN        16
#define AUTH_DIGEST_LEN      32

/* OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane. */
#define AUTH_ARGON2_MEMORY   19456
#define AUTH_ARGON2_TIME     2
#define AUTH_ARGON2_LANES    1


int
auth_password_init(auth_password_t *p, const fv_conf_t *conf)
{
    unsigned char  secret[32];
    char           text[sizeof(secret) * 2];
    int            rc;

    p->time = (uint32_t) fv_conf_long(conf, "FLORES_ARGON2_TIME", AUTH_ARGON2_TIME, 1, 64);
    p->parallelism = (uint32_t) fv_conf_long(conf, "FLORES_ARGON2_PARALLELISM",
                                             AUTH_ARGON2_LANES, 1, 16);
    /* Argon2 needs at least 8 KiB per lane; 4 GiB is far beyond any sane setting. */
    p->memory_kib = (uint32_t) fv_conf_long(conf, "FLORES_ARGON2_MEMORY_KIB", AUTH_ARGON2_MEMORY,
                                            8L * p->parallelism, 4194304);

    if (p->memory_kib < AUTH_ARGON2_MEMORY || p->time < AUTH_ARGON2_TIME) {
        fv_log(FV_LOG_WARN, "Argon2id cost m=%u KiB t=%u is below the recommended "
               "m=%u KiB t=%u", p->memory_kib, p->time, AUTH_ARGON2_MEMORY, AUTH_ARGON2_TIME);
    }

    if (fv_random(secret, sizeof(secret)) != 0) {
        fv_log(FV_LOG_ERROR, "no random bytes for the dummy password hash");
        return -1;
    }

    (void) fv_base64url(secret, sizeof(secret), text);
    rc = auth_password_hash(p, text, p->dummy, sizeof(p->dummy));
    explicit_bzero(secret, sizeof(secret));
    explicit_bzero(text, sizeof(text));

    if (rc != 0) {
        fv_log(FV_LOG_ERROR, "cannot compute an Argon2id hash with m=%u KiB t=%u p=%u",
               p->memory_kib, p->time, p->parallelism);
        return -1;
    }

    return 0;
}


int
auth_password_hash(const auth_password_t *p, const char *password, char *out, size_t size)
{
    unsigned char  salt[AUTH_SALT_LEN];
    int            rc;

    if (argon2_encodedlen(p->time, p->memory_kib, p->parallelism, AUTH_SALT_LEN,
                          AUTH_DIGEST_LEN, Argon2_id) > size)
    {
        fv_log(FV_LOG_ERROR, "password hash buffer too small");
        return -1;
    }

    if (fv_random(salt, sizeof(salt)) != 0) {
        fv_log(FV_LOG_ERROR, "no random bytes for a password salt");
        return -1;
    }

    rc = argon2id_hash_encoded(p->time, p->memory_kib, p->parallelism,
                               password, strlen(password), salt, sizeof(salt),
                               AUTH_DIGEST_LEN, out, size);
    if (rc != ARGON2_OK) {
        fv_log(FV_LOG_ERROR, "Argon2id hashing failed: %s", argon2_error_message(rc));
        return -1;
    }

    return 0;
}


int
auth_password_verify(const char *encoded, const char *password)
{
    int  rc;

    rc = argon2id_verify(encoded, password, strlen(password));

    switch (rc) {
    case ARGON2_OK:
        return 1;
    case ARGON2_VERIFY_MISMATCH:
        return 0;
    default:
        fv_log(FV_LOG_ERROR, "Argon2id verification failed: %s", argon2_error_message(rc));
        return -1;
    }
}


void
auth_password_burn(const auth_password_t *p, const char *password)
{
    (void) argon2id_verify(p->dummy, password, strlen(password));
}


int
auth_password_outdated(const auth_password_t *p, const char *encoded)
{
    char  prefix[64];
    int   n;

    n = snprintf(prefix, sizeof(prefix), "$argon2id$v=%d$m=%u,t=%u,p=%u$",
                 ARGON2_VERSION_NUMBER, p->memory_kib, p->time, p->parallelism);
    if (n < 0 || (size_t) n >= sizeof(prefix)) {
        return 0;
    }

    return strncmp(encoded, prefix, (size_t) n) != 0;
}
