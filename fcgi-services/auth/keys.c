/* keys.c: the rotating ES256 signing keys: a directory of private keys with a state file
 * saying when each one starts signing and when it retired, and the public JWK set. */

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <json-c/json.h>

#include "fv.h"
#include "keys.h"


/*
 * FLORES_JWT_KEYS_DIR holds <kid>.pem (EC P-256 private keys, 0600) and keys.state, one line
 * per key, oldest first:
 *
 *   <kid> <activate_at> <retired_at>
 *
 * (unix seconds; retired_at 0 for the current key).  flores-admin writes both, always
 * through a temporary file and rename(), the PEM before the state line that names it, so a
 * reader never sees a key it cannot load.  A rotation adds a key whose activate_at lies
 * FLORES_JWT_KEY_ACTIVATION seconds ahead and retires the current one at that same time:
 * the new public key is in the JWK set (and at the gateway) before any token carries its
 * kid.  Pruning drops keys retired longer ago than a token lives.
 */

#define AUTH_EC_COORD_LEN    32
#define AUTH_PEM_MAX         (16 * 1024)


static char *auth_keys_coord(const EVP_PKEY *pkey, const char *param);
static int auth_keys_read_pem(const char *dir, auth_key_t *k);
static int auth_keys_write_file(const char *path, const char *data, size_t len, mode_t mode);
static int auth_pem_no_passphrase(char *buf, int size, int rwflag, void *u);


int
auth_keys_load(auth_keyset_t *ks, const char *dir)
{
    char          path[4096], line[256], kid[AUTH_KEYS_KID_LEN + 2];
    long long     a, r;
    FILE         *f;
    auth_key_t   *k;
    int           rc, n;

    memset(ks, 0, sizeof(*ks));

    if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, AUTH_KEYS_STATE) >= sizeof(path)) {
        return -1;
    }

    f = fopen(path, "r");
    if (f == NULL) {
        if (errno == ENOENT) {
            return 0;
        }
        fv_log(FV_LOG_ERROR, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }

    rc = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        if (line[0] == '#' || line[0] == '\n') {
            continue;
        }

        n = sscanf(line, "%44s %lld %lld", kid, &a, &r);

        if (n != 3 || strlen(kid) != AUTH_KEYS_KID_LEN
            || strspn(kid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
               != AUTH_KEYS_KID_LEN
            || a < 0 || r < 0 || ks->n >= AUTH_KEYS_MAX)
        {
            fv_log(FV_LOG_ERROR, "%s: a bad line (or more than %d keys)", path,
                   AUTH_KEYS_MAX);
            rc = -1;
            break;
        }

        k = &ks->keys[ks->n];
        memcpy(k->kid, kid, AUTH_KEYS_KID_LEN + 1);
        k->activate_at = a;
        k->retired_at = r;

        if (auth_keys_read_pem(dir, k) != 0) {
            rc = -1;
            break;
        }

        ks->n++;
    }

    fclose(f);

    if (rc != 0) {
        auth_keys_free(ks);
    }

    return rc;
}


void
auth_keys_free(auth_keyset_t *ks)
{
    size_t  i;

    for (i = 0; i < ks->n; i++) {
        EVP_PKEY_free(ks->keys[i].pkey);
        if (ks->keys[i].pem != NULL) {
            OPENSSL_cleanse(ks->keys[i].pem, ks->keys[i].pem_len);
            free(ks->keys[i].pem);
        }
    }

    memset(ks, 0, sizeof(*ks));
}


const auth_key_t *
auth_keys_signing(const auth_keyset_t *ks, int64_t now)
{
    const auth_key_t  *best, *first;
    size_t             i;

    best = NULL;
    first = NULL;

    for (i = 0; i < ks->n; i++) {
        const auth_key_t  *k = &ks->keys[i];

        if (k->activate_at <= now && (best == NULL || k->activate_at >= best->activate_at)) {
            best = k;
        }

        if (first == NULL || k->activate_at < first->activate_at) {
            first = k;
        }
    }

    return best != NULL ? best : first;
}


int
auth_keys_add(auth_keyset_t *ks, const char *dir, int64_t activate_at)
{
    char         path[4096];
    BIO         *bio;
    BUF_MEM     *mem;
    EVP_PKEY    *pkey;
    auth_key_t  *k;
    size_t       i;
    int          rc;

    if (ks->n >= AUTH_KEYS_MAX) {
        fv_log(FV_LOG_ERROR, "already %d keys: prune first", AUTH_KEYS_MAX);
        return -1;
    }

    pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (pkey == NULL) {
        return -1;
    }

    rc = -1;
    bio = BIO_new(BIO_s_mem());
    k = &ks->keys[ks->n];
    memset(k, 0, sizeof(*k));

    if (bio == NULL || PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) != 1
        || auth_keys_kid(pkey, k->kid) != 0)
    {
        goto out;
    }

    BIO_get_mem_ptr(bio, &mem);

    if ((size_t) snprintf(path, sizeof(path), "%s/%s.pem", dir, k->kid) >= sizeof(path)
        || auth_keys_write_file(path, mem->data, mem->length, 0600) != 0)
    {
        goto out;
    }

    k->pem = malloc(mem->length + 1);
    if (k->pem == NULL) {
        goto out;
    }

    memcpy(k->pem, mem->data, mem->length);
    k->pem[mem->length] = '\0';
    k->pem_len = mem->length;
    k->pkey = pkey;
    pkey = NULL;
    k->activate_at = activate_at;

    /* The current key signs until the new one starts. */
    for (i = 0; i < ks->n; i++) {
        if (ks->keys[i].retired_at == 0) {
            ks->keys[i].retired_at = activate_at;
        }
    }

    ks->n++;
    rc = 0;

out:

    EVP_PKEY_free(pkey);
    BIO_free(bio);
    return rc;
}


int
auth_keys_prune(auth_keyset_t *ks, const char *dir, int64_t cutoff)
{
    char    path[4096];
    size_t  i, j;
    int     dropped = 0;

    for (i = 0, j = 0; i < ks->n; i++) {
        auth_key_t  *k = &ks->keys[i];

        if (k->retired_at != 0 && k->retired_at < cutoff) {
            if ((size_t) snprintf(path, sizeof(path), "%s/%s.pem", dir, k->kid)
                < sizeof(path))
            {
                (void) unlink(path);
            }
            EVP_PKEY_free(k->pkey);
            if (k->pem != NULL) {
                OPENSSL_cleanse(k->pem, k->pem_len);
                free(k->pem);
            }
            dropped++;
            continue;
        }

        if (i != j) {
            ks->keys[j] = *k;
        }
        j++;
    }

    ks->n = j;
    return dropped;
}


int
auth_keys_save(const auth_keyset_t *ks, const char *dir)
{
    char    path[4096], line[128];
    char   *text;
    size_t  i, len;
    int     n, rc;

    text = malloc(AUTH_KEYS_MAX * sizeof(line) + 128);
    if (text == NULL) {
        return -1;
    }

    len = (size_t) snprintf(text, 128, "# kid activate_at retired_at (unix seconds)\n");

    for (i = 0; i < ks->n; i++) {
        n = snprintf(line, sizeof(line), "%s %" PRId64 " %" PRId64 "\n", ks->keys[i].kid,
                     ks->keys[i].activate_at, ks->keys[i].retired_at);
        memcpy(text + len, line, (size_t) n);
        len += (size_t) n;
    }

    rc = (size_t) snprintf(path, sizeof(path), "%s/%s", dir, AUTH_KEYS_STATE) < sizeof(path)
         ? auth_keys_write_file(path, text, len, 0600) : -1;

    free(text);
    return rc;
}


char *
auth_keys_jwks(const auth_keyset_t *ks, size_t *len)
{
    json_object  *doc, *keys, *jwk;
    const char   *text;
    char         *x, *y, *out;
    size_t        i;

    doc = json_object_new_object();
    keys = json_object_new_array();
    json_object_object_add(doc, "keys", keys);
    out = NULL;

    for (i = 0; i < ks->n; i++) {
        x = auth_keys_coord(ks->keys[i].pkey, OSSL_PKEY_PARAM_EC_PUB_X);
        y = auth_keys_coord(ks->keys[i].pkey, OSSL_PKEY_PARAM_EC_PUB_Y);

        if (x == NULL || y == NULL) {
            free(x);
            free(y);
            goto out;
        }

        jwk = json_object_new_object();
        json_object_object_add(jwk, "kty", json_object_new_string("EC"));
        json_object_object_add(jwk, "use", json_object_new_string("sig"));
        json_object_object_add(jwk, "alg", json_object_new_string("ES256"));
        json_object_object_add(jwk, "kid", json_object_new_string(ks->keys[i].kid));
        json_object_object_add(jwk, "crv", json_object_new_string("P-256"));
        json_object_object_add(jwk, "x", json_object_new_string(x));
        json_object_object_add(jwk, "y", json_object_new_string(y));
        json_object_array_add(keys, jwk);

        free(x);
        free(y);
    }

    text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN
                                               | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (text != NULL && (out = strdup(text)) != NULL && len != NULL) {
        *len = strlen(out);
    }

out:

    json_object_put(doc);
    return out;
}


int
auth_keys_write_jwks(const auth_keyset_t *ks, const char *path)
{
    char    *jwks;
    size_t   len;
    int      rc;

    jwks = auth_keys_jwks(ks, &len);
    if (jwks == NULL) {
        return -1;
    }

    rc = auth_keys_write_file(path, jwks, len, 0644);
    free(jwks);
    return rc;
}


/* RFC 7638: SHA-256 of {"crv","kty","x","y"} in that order, without white space. */

int
auth_keys_kid(const EVP_PKEY *pkey, char kid[AUTH_KEYS_KID_LEN + 1])
{
    unsigned char   digest[EVP_MAX_MD_SIZE];
    unsigned int    digest_len;
    char           *x, *y, *canon;
    int             n, rc;

    rc = -1;
    canon = NULL;
    x = auth_keys_coord(pkey, OSSL_PKEY_PARAM_EC_PUB_X);
    y = auth_keys_coord(pkey, OSSL_PKEY_PARAM_EC_PUB_Y);

    if (x == NULL || y == NULL) {
        goto out;
    }

    n = asprintf(&canon, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    if (n < 0) {
        canon = NULL;
        goto out;
    }

    if (EVP_Digest(canon, (size_t) n, digest, &digest_len, EVP_sha256(), NULL) == 1
        && digest_len == 32)
    {
        (void) fv_base64url(digest, digest_len, kid);
        rc = 0;
    }

out:

    free(canon);
    free(x);
    free(y);
    return rc;
}


/* A P-256 public coordinate, 32 bytes big-endian, in base64url. */

static char *
auth_keys_coord(const EVP_PKEY *pkey, const char *param)
{
    unsigned char   bin[AUTH_EC_COORD_LEN];
    BIGNUM         *bn = NULL;
    char           *out = NULL;

    if (pkey == NULL || EVP_PKEY_get_bn_param(pkey, param, &bn) != 1) {
        return NULL;
    }

    if (BN_bn2binpad(bn, bin, sizeof(bin)) == (int) sizeof(bin)
        && (out = malloc(4 * ((sizeof(bin) + 2) / 3) + 1)) != NULL)
    {
        (void) fv_base64url(bin, sizeof(bin), out);
    }

    BN_free(bn);
    return out;
}


static int
auth_keys_read_pem(const char *dir, auth_key_t *k)
{
    char      path[4096], group[32], kid[AUTH_KEYS_KID_LEN + 1];
    size_t    group_len;
    FILE     *f;
    BIO      *bio;
    long      len;

    if ((size_t) snprintf(path, sizeof(path), "%s/%s.pem", dir, k->kid) >= sizeof(path)) {
        return -1;
    }

    f = fopen(path, "r");
    if (f == NULL) {
        fv_log(FV_LOG_ERROR, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }

    k->pem = malloc(AUTH_PEM_MAX + 1);
    len = k->pem != NULL ? (long) fread(k->pem, 1, AUTH_PEM_MAX, f) : -1;
    fclose(f);

    if (len <= 0 || len >= AUTH_PEM_MAX) {
        fv_log(FV_LOG_ERROR, "%s: empty, unreadable or too large", path);
        return -1;
    }

    k->pem[len] = '\0';
    k->pem_len = (size_t) len;

    bio = BIO_new_mem_buf(k->pem, (int) len);
    k->pkey = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, auth_pem_no_passphrase, NULL)
                          : NULL;
    BIO_free(bio);

    if (k->pkey == NULL || !EVP_PKEY_is_a(k->pkey, "EC")
        || EVP_PKEY_get_utf8_string_param(k->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                          sizeof(group), &group_len) != 1
        || strcmp(group, "prime256v1") != 0)
    {
        fv_log(FV_LOG_ERROR, "%s is not an unencrypted EC P-256 private key", path);
        return -1;
    }

    if (auth_keys_kid(k->pkey, kid) != 0 || strcmp(kid, k->kid) != 0) {
        fv_log(FV_LOG_ERROR, "%s: the key's thumbprint is not its name", path);
        return -1;
    }

    return 0;
}


/* Writes path through path.tmp and rename(), so a reader sees the old or the new file. */

static int
auth_keys_write_file(const char *path, const char *data, size_t len, mode_t mode)
{
    char     tmp[4200];
    ssize_t  n;
    size_t   off;
    int      fd;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        return -1;
    }

    (void) unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fv_log(FV_LOG_ERROR, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }

    for (off = 0; off < len; off += (size_t) n) {
        n = write(fd, data + off, len - off);
        if (n < 0) {
            if (errno == EINTR) {
                n = 0;
                continue;
            }
            break;
        }
    }

    if (off < len || fchmod(fd, mode) != 0 || fsync(fd) != 0) {
        fv_log(FV_LOG_ERROR, "cannot write %s: %s", tmp, strerror(errno));
        (void) close(fd);
        (void) unlink(tmp);
        return -1;
    }

    if (close(fd) != 0) {
        (void) unlink(tmp);
        return -1;
    }

    if (rename(tmp, path) != 0) {
        fv_log(FV_LOG_ERROR, "cannot rename %s: %s", tmp, strerror(errno));
        (void) unlink(tmp);
        return -1;
    }

    return 0;
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
