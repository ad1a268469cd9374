/* fv_valid.c: declarative validation of JSON bodies and query arguments, every bad field reported. */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


/* A reply lists at most this many fields; an array of ten thousand bad items is still one
 * 400, not a megabyte of errors. */
#define FV_ERRORS_MAX   100
#define FV_PATH_MAX     256
#define FV_EMAIL_MAX    254

struct fv_errors_s {
    json_object          *list;
    size_t                n;
};


static size_t fv_valid_value(json_object *parent, const char *key, size_t idx,
    json_object *v, const fv_field_t *f, const char *path, int from_query, fv_errors_t *e);


fv_errors_t *
fv_errors_new(void)
{
    fv_errors_t  *e;

    e = malloc(sizeof(fv_errors_t));
    if (e == NULL) {
        return NULL;
    }

    e->list = json_object_new_array();
    if (e->list == NULL) {
        free(e);
        return NULL;
    }

    e->n = 0;
    return e;
}


void
fv_errors_free(fv_errors_t *e)
{
    if (e == NULL) {
        return;
    }

    json_object_put(e->list);
    free(e);
}


void
fv_errors_add(fv_errors_t *e, const char *field, const char *message)
{
    json_object  *item;

    if (e == NULL || e->n >= FV_ERRORS_MAX) {
        return;
    }

    item = json_object_new_object();
    if (item == NULL) {
        return;
    }

    if (json_object_object_add(item, "field", json_object_new_string(field)) != 0
        || json_object_object_add(item, "message", json_object_new_string(message)) != 0
        || json_object_array_add(e->list, item) != 0)
    {
        json_object_put(item);
        return;
    }

    e->n++;
}


size_t
fv_errors_count(const fv_errors_t *e)
{
    return e ? e->n : 0;
}


json_object *
fv_errors_json(const fv_errors_t *e)
{
    return e->list;
}


static size_t
fv_fail_msg(fv_errors_t *e, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static size_t
fv_fail_msg(fv_errors_t *e, const char *path, const char *fmt, ...)
{
    char     msg[256];
    va_list  ap;

    va_start(ap, fmt);
    (void) vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    fv_errors_add(e, path, msg);
    return 1;
}


/* Replaces the value at parent[key] or parent[idx]; nv's reference passes to the parent. */
static void
fv_valid_replace(json_object *parent, const char *key, size_t idx, json_object *nv)
{
    if (nv == NULL) {
        return;
    }

    if (key != NULL) {
        if (json_object_object_add(parent, key, nv) != 0) {
            json_object_put(nv);
        }

    } else if (json_object_array_put_idx(parent, idx, nv) != 0) {
        json_object_put(nv);
    }
}


static int
fv_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}


/* C0 controls and DEL, and C1 controls (U+0080..U+009F, encoded C2 80..C2 9F). */
static int
fv_has_control(const char *s, size_t len, int multiline)
{
    const unsigned char *p = (const unsigned char *) s;
    size_t               i;

    for (i = 0; i < len; i++) {
        if (p[i] < 0x20) {
            if (multiline && (p[i] == '\n' || p[i] == '\r' || p[i] == '\t')) {
                continue;
            }
            return 1;
        }
        if (p[i] == 0x7f) {
            return 1;
        }
        if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
            return 1;
        }
    }

    return 0;
}


static int
fv_email_ok(const char *s, size_t len)
{
    static const char  local_extra[] = ".!#$%&'*+/=?^_`{|}~-";
    const char        *at, *d, *label;
    size_t             llen, dlen, i, lablen, labels = 0;
    int                alpha;

    at = memchr(s, '@', len);
    if (at == NULL || memchr(at + 1, '@', len - (size_t) (at - s) - 1) != NULL) {
        return 0;
    }

    llen = (size_t) (at - s);
    if (llen == 0 || llen > 64 || s[0] == '.' || s[llen - 1] == '.') {
        return 0;
    }

    for (i = 0; i < llen; i++) {
        char  c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || (c != '\0' && strchr(local_extra, c) != NULL)))
        {
            return 0;
        }
        if (c == '.' && s[i + 1] == '.') {
            return 0;
        }
    }

    d = at + 1;
    dlen = len - llen - 1;
    if (dlen == 0 || dlen > 253) {
        return 0;
    }

    label = d;
    for (i = 0; i <= dlen; i++) {
        if (i < dlen && d[i] != '.') {
            char  c = d[i];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '-'))
            {
                return 0;
            }
            continue;
        }

        lablen = (size_t) (d + i - label);
        if (lablen == 0 || lablen > 63 || label[0] == '-' || label[lablen - 1] == '-') {
            return 0;
        }
        labels++;

        if (i == dlen) {
            /* The top-level domain: at least two characters, not all digits. */
            alpha = 0;
            for (size_t j = 0; j < lablen; j++) {
                if (!(label[j] >= '0' && label[j] <= '9')) {
                    alpha = 1;
                }
            }
            if (lablen < 2 || !alpha) {
                return 0;
            }
        }

        label = d + i + 1;
    }

    return labels >= 2;
}


static int
fv_date_ok(const char *s, size_t len)
{
    static const int  days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int               y, m, d, leap, i;

    if (len != 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }

    for (i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }

    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');

    if (y < 1 || m < 1 || m > 12 || d < 1) {
        return 0;
    }

    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return d <= days[m - 1] + (m == 2 && leap);
}


/* "between 2 and 100 characters", "at least 10 characters", "at most 500 characters". */
static size_t
fv_fail_bounds(fv_errors_t *e, const char *path, long min, long max, const char *unit)
{
    if (min > 0 && max > 0) {
        return fv_fail_msg(e, path, "debe tener entre %ld y %ld %s", min, max, unit);
    }
    if (min > 0) {
        return fv_fail_msg(e, path, "debe tener al menos %ld %s", min, unit);
    }
    return fv_fail_msg(e, path, "debe tener como máximo %ld %s", max, unit);
}


static size_t
fv_valid_string(json_object *parent, const char *key, size_t idx, json_object *v,
    const fv_field_t *f, const char *path, fv_errors_t *e)
{
    const char  *s;
    size_t       len, start, end, i;
    long         chars, max;
    char        *copy = NULL;
    size_t       errs = 0;
    const char *const *c;

    if (!json_object_is_type(v, json_type_string)) {
        return fv_fail_msg(e, path, "debe ser un texto");
    }

    s = json_object_get_string(v);
    len = (size_t) json_object_get_string_len(v);

    if (fv_utf8_len(s, len) < 0) {
        return fv_fail_msg(e, path, "contiene caracteres no válidos");
    }

    start = 0;
    end = len;

    if (f->flags & FV_TRIM || f->type == FV_EMAIL) {
        while (start < end && fv_is_space(s[start])) {
            start++;
        }
        while (end > start && fv_is_space(s[end - 1])) {
            end--;
        }
    }

    if (fv_has_control(s + start, end - start, f->flags & FV_MULTILINE)) {
        return fv_fail_msg(e, path, "no puede contener caracteres de control");
    }

    if (start != 0 || end != len || f->type == FV_EMAIL) {
        copy = malloc(end - start + 1);
        if (copy == NULL) {
            return fv_fail_msg(e, path, "no se pudo procesar");
        }
        memcpy(copy, s + start, end - start);
        copy[end - start] = '\0';

        if (f->type == FV_EMAIL) {
            for (i = 0; i < end - start; i++) {
                if (copy[i] >= 'A' && copy[i] <= 'Z') {
                    copy[i] = (char) (copy[i] - 'A' + 'a');
                }
            }
        }

        s = copy;
        len = end - start;
    }

    chars = fv_utf8_len(s, len);

    if (len == 0 && f->flags & FV_REQUIRED) {
        errs = fv_fail_msg(e, path, "es obligatorio");
        goto out;
    }

    max = f->max;
    if (f->type == FV_EMAIL && (max == 0 || max > FV_EMAIL_MAX)) {
        max = FV_EMAIL_MAX;
    }

    if ((f->min > 0 && chars < f->min) || (max > 0 && chars > max)) {
        errs = fv_fail_bounds(e, path, f->min, max, "caracteres");
        goto out;
    }

    switch (f->type) {

    case FV_EMAIL:
        if (!fv_email_ok(s, len)) {
            errs = fv_fail_msg(e, path, "no es un correo válido");
        }
        break;

    case FV_ENUM:
        for (c = f->choices; c != NULL && *c != NULL; c++) {
            if (strlen(*c) == len && memcmp(*c, s, len) == 0) {
                break;
            }
        }

        if (c == NULL || *c == NULL) {
            char  list[200];
            size_t  o = 0;
            int   n;

            list[0] = '\0';
            for (c = f->choices; c != NULL && *c != NULL; c++) {
                n = snprintf(list + o, sizeof(list) - o, "%s%s", o ? ", " : "", *c);
                if (n < 0 || (size_t) n >= sizeof(list) - o) {
                    break;
                }
                o += (size_t) n;
            }
            errs = fv_fail_msg(e, path, "debe ser uno de: %s", list);
        }
        break;

    case FV_DATE:
        if (!fv_date_ok(s, len)) {
            errs = fv_fail_msg(e, path, "no es una fecha válida (AAAA-MM-DD)");
        }
        break;

    default:
        break;
    }

    if (errs == 0 && copy != NULL) {
        fv_valid_replace(parent, key, idx, json_object_new_string_len(s, (int) len));
    }

out:

    free(copy);
    return errs;
}


static int
fv_query_long(const char *s, long *out)
{
    char  *end;
    long   n;

    if (*s == '\0' || *s == '+' || fv_is_space(*s)) {
        return -1;
    }

    errno = 0;
    n = strtol(s, &end, 10);

    if (errno != 0 || *end != '\0') {
        return -1;
    }

    *out = n;
    return 0;
}


static size_t
fv_valid_int(json_object *parent, const char *key, size_t idx, json_object *v,
    const fv_field_t *f, const char *path, int from_query, fv_errors_t *e)
{
    int64_t  n;
    long     q;

    if (from_query && json_object_is_type(v, json_type_string)) {
        if (strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v)
            || fv_query_long(json_object_get_string(v), &q) != 0)
        {
            return fv_fail_msg(e, path, "debe ser un número entero");
        }
        n = q;

    } else if (json_object_is_type(v, json_type_int)) {
        n = json_object_get_int64(v);

        /* json-c saturates what does not fit in 64 bits. */
        if (n == INT64_MAX || n == INT64_MIN
            || json_object_get_uint64(v) > (uint64_t) INT64_MAX)
        {
            return fv_fail_msg(e, path, "está fuera del rango permitido");
        }

    } else {
        return fv_fail_msg(e, path, "debe ser un número entero");
    }

    if (f->min != 0 || f->max != 0) {
        if (f->max == 0 && f->min > 0) {
            if (n < f->min) {
                return fv_fail_msg(e, path, "debe ser mayor o igual a %ld", f->min);
            }

        } else if (n < f->min || n > f->max) {
            return fv_fail_msg(e, path, "debe estar entre %ld y %ld", f->min, f->max);
        }
    }

    if (from_query && json_object_is_type(v, json_type_string)) {
        fv_valid_replace(parent, key, idx, json_object_new_int64(n));
    }

    return 0;
}


static size_t
fv_valid_bool(json_object *parent, const char *key, size_t idx, json_object *v,
    const char *path, int from_query, fv_errors_t *e)
{
    const char  *s;
    int          b;

    if (json_object_is_type(v, json_type_boolean)) {
        return 0;
    }

    if (from_query && json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);

        if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
            b = 1;
        } else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
            b = 0;
        } else {
            return fv_fail_msg(e, path, "debe ser true o false");
        }

        fv_valid_replace(parent, key, idx, json_object_new_boolean(b));
        return 0;
    }

    return fv_fail_msg(e, path, "debe ser true o false");
}


static size_t
fv_valid_object(json_object *v, const fv_field_t *f, const char *path, int from_query,
    fv_errors_t *e)
{
    if (from_query || !json_object_is_type(v, json_type_object)) {
        return fv_fail_msg(e, path, "debe ser un objeto");
    }

    if (f->fields == NULL) {
        return 0;
    }

    return fv_validate_at(v, f->fields, path, from_query, e);
}


static size_t
fv_valid_array(json_object *v, const fv_field_t *f, const char *path, int from_query,
    fv_errors_t *e)
{
    size_t        n, i, errs = 0;
    char          ipath[FV_PATH_MAX];
    json_object  *item;

    if (!json_object_is_type(v, json_type_array)) {
        return fv_fail_msg(e, path, "debe ser una lista");
    }

    n = json_object_array_length(v);

    if ((f->min > 0 && n < (size_t) f->min) || (f->max > 0 && n > (size_t) f->max)) {
        return fv_fail_bounds(e, path, f->min, f->max, "elementos");
    }

    if (f->fields == NULL || f->fields[0].type == 0) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        (void) snprintf(ipath, sizeof(ipath), "%s[%zu]", path, i);
        item = json_object_array_get_idx(v, i);

        if (item == NULL) {
            if (!(f->fields[0].flags & FV_NULLABLE)) {
                errs += fv_fail_msg(e, ipath, "no puede ser nulo");
            }
            continue;
        }

        errs += fv_valid_value(v, NULL, i, item, &f->fields[0], ipath, from_query, e);
    }

    return errs;
}


static size_t
fv_valid_value(json_object *parent, const char *key, size_t idx, json_object *v,
    const fv_field_t *f, const char *path, int from_query, fv_errors_t *e)
{
    switch (f->type) {

    case FV_STRING:
    case FV_EMAIL:
    case FV_ENUM:
    case FV_DATE:
        return fv_valid_string(parent, key, idx, v, f, path, e);

    case FV_INT:
        return fv_valid_int(parent, key, idx, v, f, path, from_query, e);

    case FV_BOOL:
        return fv_valid_bool(parent, key, idx, v, path, from_query, e);

    case FV_OBJECT:
        return fv_valid_object(v, f, path, from_query, e);

    case FV_ARRAY:
        return fv_valid_array(v, f, path, from_query, e);
    }

    fv_log(FV_LOG_ERROR, "field \"%s\" has an unknown type %d", path, (int) f->type);
    return fv_fail_msg(e, path, "no es válido");
}


size_t
fv_validate_field(json_object *obj, const fv_field_t *f, const char *prefix, int from_query,
    fv_errors_t *e)
{
    json_object  *v = NULL;
    char          path[FV_PATH_MAX];
    int           present;

    if (prefix != NULL && *prefix != '\0') {
        (void) snprintf(path, sizeof(path), "%s.%s", prefix, f->name);
    } else {
        (void) snprintf(path, sizeof(path), "%s", f->name);
    }

    present = obj != NULL && json_object_object_get_ex(obj, f->name, &v);

    if (!present || (v == NULL && f->flags & FV_NULLABLE)) {
        return (f->flags & FV_REQUIRED) ? fv_fail_msg(e, path, "es obligatorio") : 0;
    }

    if (v == NULL) {
        return fv_fail_msg(e, path, "%s",
            f->flags & FV_REQUIRED ? "es obligatorio" : "no puede ser nulo");
    }

    return fv_valid_value(obj, f->name, 0, v, f, path, from_query, e);
}


size_t
fv_validate_at(json_object *obj, const fv_field_t *spec, const char *prefix, int from_query,
    fv_errors_t *e)
{
    const fv_field_t  *f;
    size_t             errs = 0;

    for (f = spec; f != NULL && f->name != NULL; f++) {
        errs += fv_validate_field(obj, f, prefix, from_query, e);
    }

    return errs;
}


size_t
fv_validate(json_object *obj, const fv_field_t *spec, int from_query, fv_errors_t *e)
{
    if (obj != NULL && !json_object_is_type(obj, json_type_object)) {
        fv_errors_add(e, "body", "debe ser un objeto JSON");
        return 1;
    }

    return fv_validate_at(obj, spec, NULL, from_query, e);
}
