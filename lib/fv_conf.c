/* fv_conf.c: settings from the environment and the FLORES_CONFIG file, and secrets from files. */

#include <config.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fv_internal.h"


#define FV_CONF_LINE_MAX    4096
#define FV_CONF_SECRET_MAX  (1024 * 1024)

extern char **environ;

typedef struct {
    char                 *key;
    char                 *value;
} fv_conf_item_t;

/* Environment entries come first, so that a lookup's first match is the environment's. */
struct fv_conf_s {
    fv_conf_item_t       *items;
    size_t                n;
    size_t                cap;
};


static int fv_conf_push(fv_conf_t *conf, const char *key, size_t key_len, const char *value,
    size_t value_len);
static int fv_conf_load_file(fv_conf_t *conf, const char *path);
static const char *fv_conf_find(const fv_conf_t *conf, const char *key);


fv_conf_t *
fv_conf_open(void)
{
    fv_conf_t   *conf;
    char       **env;
    const char  *eq, *path;

    conf = calloc(1, sizeof(fv_conf_t));
    if (conf == NULL) {
        fv_log(FV_LOG_ERROR, "out of memory loading the configuration");
        return NULL;
    }

    for (env = environ; env != NULL && *env != NULL; env++) {
        if (strncmp(*env, "FLORES_", 7) != 0 || (eq = strchr(*env, '=')) == NULL) {
            continue;
        }

        if (fv_conf_push(conf, *env, (size_t) (eq - *env), eq + 1, strlen(eq + 1)) != 0) {
            fv_conf_close(conf);
            return NULL;
        }
    }

    path = fv_conf_find(conf, "FLORES_CONFIG");

    if (path != NULL && *path != '\0' && fv_conf_load_file(conf, path) != 0) {
        fv_conf_close(conf);
        return NULL;
    }

    return conf;
}


void
fv_conf_close(fv_conf_t *conf)
{
    size_t  i;

    if (conf == NULL) {
        return;
    }

    for (i = 0; i < conf->n; i++) {
        /* Values may be secrets. */
        explicit_bzero(conf->items[i].value, strlen(conf->items[i].value));
        free(conf->items[i].key);
        free(conf->items[i].value);
    }

    free(conf->items);
    free(conf);
}


const char *
fv_conf_str(const fv_conf_t *conf, const char *key, const char *def)
{
    const char  *v;

    v = conf ? fv_conf_find(conf, key) : NULL;

    return v != NULL ? v : def;
}


static int
fv_conf_parse_long(const char *v, long *out)
{
    char  *end;
    long   n;

    while (*v == ' ' || *v == '\t') {
        v++;
    }

    if (*v == '\0') {
        return -1;
    }

    errno = 0;
    n = strtol(v, &end, 10);

    while (*end == ' ' || *end == '\t') {
        end++;
    }

    if (errno != 0 || *end != '\0') {
        return -1;
    }

    *out = n;
    return 0;
}


long
fv_conf_long(const fv_conf_t *conf, const char *key, long def, long min, long max)
{
    const char  *v;
    long         n;

    v = fv_conf_str(conf, key, NULL);

    if (v == NULL) {
        return def;
    }

    if (fv_conf_parse_long(v, &n) != 0) {
        fv_log(FV_LOG_WARN, "%s=\"%s\" is not an integer; using %ld", key, v, def);
        return def;
    }

    if (n < min || n > max) {
        fv_log(FV_LOG_WARN, "%s=%ld is outside %ld..%ld; using %ld", key, n, min, max, def);
        return def;
    }

    return n;
}


int
fv_conf_long_ok(const fv_conf_t *conf, const char *key, long min, long max)
{
    const char  *v;
    long         n;

    v = fv_conf_str(conf, key, NULL);

    if (v == NULL) {
        return 1;
    }

    return fv_conf_parse_long(v, &n) == 0 && n >= min && n <= max;
}


fv_log_level_e
fv_conf_log_level(const fv_conf_t *conf)
{
    const char  *v;

    v = fv_conf_str(conf, "FLORES_LOG_LEVEL", "info");

    if (strcasecmp(v, "debug") == 0) {
        return FV_LOG_DEBUG;
    }
    if (strcasecmp(v, "warn") == 0 || strcasecmp(v, "warning") == 0) {
        return FV_LOG_WARN;
    }
    if (strcasecmp(v, "error") == 0) {
        return FV_LOG_ERROR;
    }
    if (strcasecmp(v, "info") != 0) {
        fv_log(FV_LOG_WARN, "FLORES_LOG_LEVEL=\"%s\" is not debug, info, warn or error; "
            "using info", v);
    }

    return FV_LOG_INFO;
}


unsigned char *
fv_conf_secret(const fv_conf_t *conf, const char *key, size_t *len)
{
    char           name[256];
    const char    *v, *path;
    unsigned char *buf, *p;
    size_t         n, cap;
    FILE          *f;
    int            rc;

    *len = 0;
    v = fv_conf_str(conf, key, NULL);

    if (v != NULL) {
        n = strlen(v);
        buf = malloc(n + 1);
        if (buf == NULL) {
            return NULL;
        }
        memcpy(buf, v, n + 1);
        *len = n;
        return buf;
    }

    rc = snprintf(name, sizeof(name), "%s_FILE", key);
    if (rc < 0 || (size_t) rc >= sizeof(name)) {
        return NULL;
    }

    path = fv_conf_str(conf, name, NULL);
    if (path == NULL || *path == '\0') {
        return NULL;
    }

    f = fopen(path, "rb");
    if (f == NULL) {
        fv_log(FV_LOG_ERROR, "%s: cannot open \"%s\": %s", name, path, strerror(errno));
        return NULL;
    }

    cap = 256;
    n = 0;
    buf = malloc(cap);

    while (buf != NULL) {
        n += fread(buf + n, 1, cap - n - 1, f);

        if (n < cap - 1) {
            break;
        }

        if (cap >= FV_CONF_SECRET_MAX) {
            fv_log(FV_LOG_ERROR, "%s: \"%s\" is larger than %d bytes", name, path,
                FV_CONF_SECRET_MAX);
            explicit_bzero(buf, n);
            free(buf);
            buf = NULL;
            break;
        }

        p = malloc(cap * 2);
        if (p != NULL) {
            memcpy(p, buf, n);
        }
        explicit_bzero(buf, n);
        free(buf);
        buf = p;
        cap *= 2;
    }

    if (buf != NULL && ferror(f)) {
        fv_log(FV_LOG_ERROR, "%s: cannot read \"%s\"", name, path);
        explicit_bzero(buf, n);
        free(buf);
        buf = NULL;
    }

    (void) fclose(f);

    if (buf == NULL) {
        return NULL;
    }

    if (n > 0 && buf[n - 1] == '\n') {
        n--;
        if (n > 0 && buf[n - 1] == '\r') {
            n--;
        }
    }

    buf[n] = '\0';
    *len = n;
    return buf;
}


static const char *
fv_conf_find(const fv_conf_t *conf, const char *key)
{
    size_t  i;

    for (i = 0; i < conf->n; i++) {
        if (strcmp(conf->items[i].key, key) == 0) {
            return conf->items[i].value;
        }
    }

    /* Settings are FLORES_* names; anything else is read from the environment as is. */
    if (strncmp(key, "FLORES_", 7) != 0) {
        return getenv(key);
    }

    return NULL;
}


static int
fv_conf_push(fv_conf_t *conf, const char *key, size_t key_len, const char *value,
    size_t value_len)
{
    fv_conf_item_t  *items, *it;

    if (conf->n == conf->cap) {
        conf->cap = conf->cap ? conf->cap * 2 : 32;
        items = realloc(conf->items, conf->cap * sizeof(fv_conf_item_t));
        if (items == NULL) {
            fv_log(FV_LOG_ERROR, "out of memory loading the configuration");
            return -1;
        }
        conf->items = items;
    }

    it = &conf->items[conf->n];
    it->key = strndup(key, key_len);
    it->value = strndup(value, value_len);

    if (it->key == NULL || it->value == NULL) {
        free(it->key);
        free(it->value);
        fv_log(FV_LOG_ERROR, "out of memory loading the configuration");
        return -1;
    }

    conf->n++;
    return 0;
}


static int
fv_conf_key_ok(const char *k, size_t len)
{
    size_t  i;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((k[i] >= 'A' && k[i] <= 'Z') || k[i] == '_' || (i > 0 && k[i] >= '0' && k[i] <= '9')))
        {
            return 0;
        }
    }

    return 1;
}


/* KEY=VALUE lines; blank lines and lines starting with '#' are skipped; white space around
 * the key and the value is dropped, and so are quotes around the whole value.  The
 * environment wins over the file; within the file, a later line wins. */
static int
fv_conf_load_file(fv_conf_t *conf, const char *path)
{
    FILE    *f;
    char     line[FV_CONF_LINE_MAX];
    char    *k, *v, *eq, *end;
    size_t   env_n, i, klen, vlen, lineno = 0;
    int      rc = 0, dup;

    f = fopen(path, "r");
    if (f == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_CONFIG: cannot open \"%s\": %s", path, strerror(errno));
        return -1;
    }

    env_n = conf->n;

    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;

        if (strchr(line, '\n') == NULL && !feof(f)) {
            fv_log(FV_LOG_ERROR, "%s:%zu: line longer than %d bytes", path, lineno,
                FV_CONF_LINE_MAX - 2);
            rc = -1;
            break;
        }

        k = line;
        while (*k == ' ' || *k == '\t') {
            k++;
        }

        if (*k == '#' || *k == '\n' || *k == '\r' || *k == '\0') {
            continue;
        }

        if (strncmp(k, "export ", 7) == 0) {
            k += 7;
            while (*k == ' ') {
                k++;
            }
        }

        eq = strchr(k, '=');
        if (eq == NULL) {
            fv_log(FV_LOG_ERROR, "%s:%zu: expected KEY=VALUE", path, lineno);
            rc = -1;
            break;
        }

        end = eq;
        while (end > k && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }
        klen = (size_t) (end - k);

        if (!fv_conf_key_ok(k, klen)) {
            fv_log(FV_LOG_ERROR, "%s:%zu: invalid key", path, lineno);
            rc = -1;
            break;
        }

        v = eq + 1;
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        vlen = strlen(v);
        while (vlen > 0 && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r' || v[vlen - 1] == ' '
                            || v[vlen - 1] == '\t'))
        {
            vlen--;
        }
        if (vlen >= 2 && (v[0] == '"' || v[0] == '\'') && v[vlen - 1] == v[0]) {
            v++;
            vlen -= 2;
        }

        dup = 0;
        for (i = 0; i < conf->n; i++) {
            if (strlen(conf->items[i].key) != klen || strncmp(conf->items[i].key, k, klen) != 0)
            {
                continue;
            }

            dup = 1;
            if (i >= env_n) {
                char  *nv = strndup(v, vlen);

                if (nv == NULL) {
                    rc = -1;
                    break;
                }
                explicit_bzero(conf->items[i].value, strlen(conf->items[i].value));
                free(conf->items[i].value);
                conf->items[i].value = nv;
            }
            break;
        }

        if (rc != 0) {
            break;
        }

        if (!dup && fv_conf_push(conf, k, klen, v, vlen) != 0) {
            rc = -1;
            break;
        }
    }

    explicit_bzero(line, sizeof(line));

    if (rc == 0 && ferror(f)) {
        fv_log(FV_LOG_ERROR, "FLORES_CONFIG: cannot read \"%s\"", path);
        rc = -1;
    }

    (void) fclose(f);
    return rc;
}
