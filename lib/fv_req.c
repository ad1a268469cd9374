/* fv_req.c: what a request carries: FastCGI parameters, headers, path parameters, the JSON
 * body and the query string. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fv_internal.h"


#define FV_PAGE_MAX     1000000
#define FV_LIMIT_MAX    100
#define FV_LIMIT_DEF    20


/* ---- the JSON grammar (RFC 8259), checked before json-c builds anything ----------------
 * json-c accepts more than JSON (single quotes, NaN, raw control characters in strings),
 * so a body is first walked by this checker: a state machine over the bytes with an
 * explicit stack of open containers, no recursion and no allocation. */

typedef enum {
    FV_JS_VALUE = 0,        /* a value is expected */
    FV_JS_VALUE_OR_END,     /* just after '[' */
    FV_JS_KEY,              /* after ',' in an object */
    FV_JS_KEY_OR_END,       /* just after '{' */
    FV_JS_AFTER             /* a value ended */
} fv_js_state_e;


static int
fv_js_hex4(const char *p, size_t left, unsigned *out)
{
    unsigned  v = 0;
    size_t    i;
    char      c;

    if (left < 4) {
        return -1;
    }

    for (i = 0; i < 4; i++) {
        c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (unsigned) (c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (unsigned) (c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (unsigned) (c - 'A' + 10);
        } else {
            return -1;
        }
    }

    *out = v;
    return 0;
}


/* buf[*i] is the opening quote; on success *i is just past the closing one. */
static int
fv_js_string(const char *buf, size_t len, size_t *i)
{
    const unsigned char *p = (const unsigned char *) buf;
    size_t               k = *i + 1, n;
    unsigned             u, lo;

    while (k < len) {
        if (p[k] == '"') {
            *i = k + 1;
            return 0;
        }

        if (p[k] < 0x20) {
            return -1;
        }

        if (p[k] == '\\') {
            if (k + 1 >= len) {
                return -1;
            }

            switch (p[k + 1]) {
            case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
                k += 2;
                continue;
            case 'u':
                break;
            default:
                return -1;
            }

            if (fv_js_hex4(buf + k + 2, len - k - 2, &u) != 0) {
                return -1;
            }
            k += 6;

            if (u >= 0xdc00 && u <= 0xdfff) {
                return -1;                      /* a low surrogate alone */
            }

            if (u >= 0xd800 && u <= 0xdbff) {
                if (k + 1 >= len || p[k] != '\\' || p[k + 1] != 'u'
                    || fv_js_hex4(buf + k + 2, len - k - 2, &lo) != 0
                    || lo < 0xdc00 || lo > 0xdfff)
                {
                    return -1;                  /* a high surrogate without its pair */
                }
                k += 6;
            }
            continue;
        }

        n = fv_utf8_seq(p + k, len - k);
        if (n == 0) {
            return -1;
        }
        k += n;
    }

    return -1;
}


static int
fv_js_number(const char *buf, size_t len, size_t *i)
{
    size_t  k = *i;

#define FV_DIGIT(c)  ((c) >= '0' && (c) <= '9')

    if (k < len && buf[k] == '-') {
        k++;
    }

    if (k < len && buf[k] == '0') {
        k++;
    } else if (k < len && buf[k] >= '1' && buf[k] <= '9') {
        while (k < len && FV_DIGIT(buf[k])) {
            k++;
        }
    } else {
        return -1;
    }

    if (k < len && buf[k] == '.') {
        k++;
        if (k >= len || !FV_DIGIT(buf[k])) {
            return -1;
        }
        while (k < len && FV_DIGIT(buf[k])) {
            k++;
        }
    }

    if (k < len && (buf[k] == 'e' || buf[k] == 'E')) {
        k++;
        if (k < len && (buf[k] == '+' || buf[k] == '-')) {
            k++;
        }
        if (k >= len || !FV_DIGIT(buf[k])) {
            return -1;
        }
        while (k < len && FV_DIGIT(buf[k])) {
            k++;
        }
    }

#undef FV_DIGIT

    *i = k;
    return 0;
}


int
fv_json_check(const char *buf, size_t len, int max_depth)
{
    char           stack[256];
    int            depth = 0;
    size_t         i = 0;
    fv_js_state_e  state = FV_JS_VALUE;
    char           c;

    if (max_depth <= 0 || max_depth > (int) sizeof(stack)) {
        max_depth = (int) sizeof(stack);
    }

    for ( ;; ) {
        while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n' || buf[i] == '\r'))
        {
            i++;
        }

        if (state == FV_JS_AFTER && depth == 0) {
            return i == len ? 0 : -1;
        }

        if (i == len) {
            return -1;
        }

        c = buf[i];

        switch (state) {

        case FV_JS_VALUE_OR_END:
            if (c == ']') {
                depth--;
                i++;
                state = FV_JS_AFTER;
                break;
            }
            /* fall through */

        case FV_JS_VALUE:
            if (c == '{' || c == '[') {
                if (depth == max_depth) {
                    return -1;
                }
                stack[depth++] = c;
                i++;
                state = c == '{' ? FV_JS_KEY_OR_END : FV_JS_VALUE_OR_END;
                break;
            }

            if (c == '"') {
                if (fv_js_string(buf, len, &i) != 0) {
                    return -1;
                }
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                if (fv_js_number(buf, len, &i) != 0) {
                    return -1;
                }
            } else if (len - i >= 4 && memcmp(buf + i, "true", 4) == 0) {
                i += 4;
            } else if (len - i >= 5 && memcmp(buf + i, "false", 5) == 0) {
                i += 5;
            } else if (len - i >= 4 && memcmp(buf + i, "null", 4) == 0) {
                i += 4;
            } else {
                return -1;
            }

            state = FV_JS_AFTER;
            break;

        case FV_JS_KEY_OR_END:
            if (c == '}') {
                depth--;
                i++;
                state = FV_JS_AFTER;
                break;
            }
            /* fall through */

        case FV_JS_KEY:
            if (c != '"' || fv_js_string(buf, len, &i) != 0) {
                return -1;
            }

            while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\n'
                               || buf[i] == '\r'))
            {
                i++;
            }

            if (i == len || buf[i] != ':') {
                return -1;
            }

            i++;
            state = FV_JS_VALUE;
            break;

        case FV_JS_AFTER:
            if (c == ',') {
                i++;
                state = stack[depth - 1] == '{' ? FV_JS_KEY : FV_JS_VALUE;

            } else if ((c == '}' && stack[depth - 1] == '{')
                       || (c == ']' && stack[depth - 1] == '['))
            {
                depth--;
                i++;

            } else {
                return -1;
            }
            break;
        }
    }
}


fv_body_e
fv_body_parse(const char *buf, size_t len, json_object **out)
{
    json_tokener  *tok;
    json_object   *obj;
    size_t         i;

    *out = NULL;

    for (i = 0; i < len; i++) {
        if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') {
            break;
        }
    }

    if (i == len) {
        *out = json_object_new_object();
        return *out != NULL ? FV_BODY_OK : FV_BODY_INVALID;
    }

    if (len > INT32_MAX || fv_json_check(buf, len, FV_JSON_DEPTH) != 0) {
        return FV_BODY_INVALID;
    }

    if (buf[i] != '{') {
        return FV_BODY_NOT_OBJECT;
    }

    tok = json_tokener_new_ex(FV_JSON_DEPTH + 1);
    if (tok == NULL) {
        return FV_BODY_INVALID;
    }

    obj = json_tokener_parse_ex(tok, buf, (int) len);

    if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success
        || !json_object_is_type(obj, json_type_object))
    {
        json_object_put(obj);
        json_tokener_free(tok);
        return FV_BODY_INVALID;
    }

    json_tokener_free(tok);
    *out = obj;
    return FV_BODY_OK;
}


int
fv_content_type_json(const char *ct)
{
    const char  *p, *v;
    size_t       n;

    if (ct == NULL) {
        return 0;
    }

    for (p = ct; *p == ' ' || *p == '\t'; p++) { /* void */ }

    if (strncasecmp(p, "application/json", 16) != 0) {
        return 0;
    }

    p += 16;

    for ( ;; ) {
        while (*p == ' ' || *p == '\t') {
            p++;
        }

        if (*p == '\0') {
            return 1;
        }

        if (*p != ';') {
            return 0;
        }

        p++;
        while (*p == ' ' || *p == '\t') {
            p++;
        }

        n = strcspn(p, ";");

        /* Only UTF-8 is JSON (RFC 8259); other parameters are ignored. */
        if (strncasecmp(p, "charset=", 8) == 0) {
            v = p + 8;
            if (strncasecmp(v, "\"utf-8\"", 7) == 0) {
                v += 7;
            } else if (strncasecmp(v, "utf-8", 5) == 0) {
                v += 5;
            } else if (strncasecmp(v, "utf8", 4) == 0) {
                v += 4;
            } else {
                return 0;
            }
            while (*v == ' ' || *v == '\t') {
                v++;
            }
            if (*v != '\0' && *v != ';') {
                return 0;
            }
        }

        p += n;
    }
}


/* ---- query strings -------------------------------------------------------------------- */

static const fv_field_t *
fv_spec_find(const fv_field_t *spec, const char *key)
{
    for ( /* void */ ; spec->name != NULL; spec++) {
        if (strcmp(spec->name, key) == 0) {
            return spec;
        }
    }

    return NULL;
}


static void
fv_mark(json_object *bad, const char *key, const char *message, fv_errors_t *e,
    size_t *errs)
{
    if (json_object_object_get_ex(bad, key, NULL)) {
        return;
    }

    (void) json_object_object_add(bad, key, json_object_new_boolean(1));
    fv_errors_add(e, key, message);
    (*errs)++;
}


size_t
fv_query_parse(const char *query, const fv_field_t *spec, json_object **args, fv_errors_t *e)
{
    const char        *p, *amp, *eq;
    const fv_field_t  *f;
    json_object       *obj, *bad, *cur, *arr;
    char              *key = NULL, *val = NULL;
    size_t             klen, vlen, errs = 0, qlen;
    long               kn, vn;

    *args = NULL;

    obj = json_object_new_object();
    bad = json_object_new_object();

    qlen = query ? strlen(query) : 0;
    key = malloc(qlen + 1);
    val = malloc(qlen + 1);

    if (obj == NULL || bad == NULL || key == NULL || val == NULL) {
        json_object_put(obj);
        obj = NULL;
        fv_errors_add(e, "query", "no se pudo procesar");
        errs++;
        goto out;
    }

    for (p = query; p != NULL && *p != '\0'; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        klen = amp ? (size_t) (amp - p) : strlen(p);

        if (klen == 0) {
            continue;
        }

        eq = memchr(p, '=', klen);
        vlen = eq ? klen - (size_t) (eq - p) - 1 : 0;
        if (eq) {
            klen = (size_t) (eq - p);
        }

        kn = fv_percent_decode(p, klen, key, 1);

        /* A key that does not decode, or hides a NUL, names no field. */
        if (kn <= 0 || strlen(key) != (size_t) kn) {
            continue;
        }

        f = spec ? fv_spec_find(spec, key) : NULL;

        if (spec != NULL && f == NULL) {
            continue;
        }

        vn = eq ? fv_percent_decode(eq + 1, vlen, val, 1) : 0;

        if (vn < 0) {
            if (spec != NULL) {
                fv_mark(bad, key, "no es válido", e, &errs);
            }
            continue;
        }

        val[vn] = '\0';

        if (vn == 0) {
            continue;                   /* "?search=" is no search */
        }

        cur = NULL;

        if (json_object_object_get_ex(obj, key, &cur)) {
            if (f != NULL && f->type == FV_ARRAY) {
                (void) json_object_array_add(cur, json_object_new_string_len(val, (int) vn));

            } else if (spec != NULL) {
                fv_mark(bad, key, "está repetido", e, &errs);
            }
            continue;
        }

        if (f != NULL && f->type == FV_ARRAY) {
            arr = json_object_new_array();
            if (arr != NULL) {
                (void) json_object_array_add(arr, json_object_new_string_len(val, (int) vn));
                (void) json_object_object_add(obj, key, arr);
            }
        } else {
            (void) json_object_object_add(obj, key, json_object_new_string_len(val, (int) vn));
        }
    }

    if (spec != NULL) {
        for (f = spec; f->name != NULL; f++) {
            if (json_object_object_get_ex(bad, f->name, NULL)) {
                json_object_object_del(obj, f->name);
                continue;
            }
            errs += fv_validate_field(obj, f, NULL, 1, e);
        }
    }

out:

    json_object_put(bad);
    free(key);
    free(val);
    *args = obj;
    return errs;
}


int
fv_query_get(const char *query, const char *key, char *out, size_t size)
{
    const char  *p, *amp, *eq;
    size_t       klen, keylen, vlen;
    char         kbuf[128];
    long         n;

    keylen = strlen(key);

    for (p = query; p != NULL && *p != '\0'; p = amp ? amp + 1 : NULL) {
        amp = strchr(p, '&');
        klen = amp ? (size_t) (amp - p) : strlen(p);
        eq = memchr(p, '=', klen);
        vlen = eq ? klen - (size_t) (eq - p) - 1 : 0;
        if (eq) {
            klen = (size_t) (eq - p);
        }

        if (klen >= sizeof(kbuf) || fv_percent_decode(p, klen, kbuf, 1) != (long) keylen
            || memcmp(kbuf, key, keylen) != 0)
        {
            continue;
        }

        if (vlen >= size) {
            return -1;
        }

        if (eq == NULL) {
            out[0] = '\0';
            return 1;
        }

        n = fv_percent_decode(eq + 1, vlen, out, 1);
        if (n < 0 || strlen(out) != (size_t) n) {
            return -1;
        }
        out[n] = '\0';
        return 1;
    }

    return 0;
}


/* ---- accessors ------------------------------------------------------------------------ */

const char *
fv_req_param(const fv_req_t *r, const char *name)
{
    const fv_req_impl_t  *impl = r->impl;

    if (impl == NULL || impl->io == NULL || impl->io->envp == NULL) {
        return NULL;
    }

    return FCGX_GetParam(name, impl->io->envp);
}


const char *
fv_req_header(const fv_req_t *r, const char *name)
{
    char         key[128];
    size_t       i, n;
    const char  *v;

    n = strlen(name);
    if (n + 6 > sizeof(key)) {
        return NULL;
    }

    memcpy(key, "HTTP_", 5);

    for (i = 0; i < n; i++) {
        char  c = name[i];

        if (c == '-') {
            c = '_';
        } else if (c >= 'a' && c <= 'z') {
            c = (char) (c - 'a' + 'A');
        }
        key[5 + i] = c;
    }
    key[5 + n] = '\0';

    v = fv_req_param(r, key);

    /* CGI passes these two without the HTTP_ prefix. */
    if (v == NULL && (strcmp(key, "HTTP_CONTENT_TYPE") == 0
                      || strcmp(key, "HTTP_CONTENT_LENGTH") == 0))
    {
        v = fv_req_param(r, key + 5);
    }

    return v;
}


const char *
fv_req_path(const fv_req_t *r, const char *name)
{
    const fv_req_impl_t  *impl = r->impl;
    size_t                i, n;

    if (impl == NULL) {
        return NULL;
    }

    n = strlen(name);

    for (i = 0; i < impl->nparams; i++) {
        if (impl->params[i].name_len == n && memcmp(impl->params[i].name, name, n) == 0) {
            return impl->params[i].value;
        }
    }

    return NULL;
}


int64_t
fv_req_path_id(const fv_req_t *r, const char *name)
{
    return fv_parse_id(fv_req_path(r, name));
}


int64_t
fv_req_user_id(const fv_req_t *r)
{
    if (r->principal.kind == FV_PRINCIPAL_CUSTOMER || r->principal.kind == FV_PRINCIPAL_ADMIN) {
        return r->principal.id;
    }

    return -1;
}


int
fv_req_is_admin(const fv_req_t *r)
{
    return r->principal.kind == FV_PRINCIPAL_ADMIN;
}


int
fv_req_internal(const fv_req_t *r)
{
    const char  *v = fv_req_param(r, "FLORES_INTERNAL");

    return v != NULL && strcmp(v, "1") == 0;
}


int
fv_req_is_service(const fv_req_t *r)
{
    return r->principal.kind == FV_PRINCIPAL_SERVICE;
}


/* ---- the principal -------------------------------------------------------------------- */

int
fv_principal_parse(const char *id, const char *role, const char *internal,
    fv_principal_t *p)
{
    int64_t  v;

    p->kind = FV_PRINCIPAL_ANONYMOUS;
    p->id = 0;

    if (id != NULL && *id == '\0') {
        id = NULL;
    }
    if (role != NULL && *role == '\0') {
        role = NULL;
    }

    if (id == NULL && role == NULL) {
        return 0;
    }

    if (role == NULL) {
        return -1;                      /* an id nobody vouched a role for */
    }

    if (strcmp(role, "service") == 0) {
        /* Only the internal passage gives this role, and it names nobody. */
        if (id != NULL || internal == NULL || strcmp(internal, "1") != 0) {
            return -1;
        }
        p->kind = FV_PRINCIPAL_SERVICE;
        return 0;
    }

    if (id == NULL) {
        return -1;
    }

    v = fv_parse_id(id);
    if (v <= 0 || v > FV_PRINCIPAL_ID_MAX) {
        return -1;
    }

    if (strcmp(role, "customer") == 0) {
        p->kind = FV_PRINCIPAL_CUSTOMER;
    } else if (strcmp(role, "admin") == 0) {
        p->kind = FV_PRINCIPAL_ADMIN;
    } else {
        return -1;
    }

    p->id = v;
    return 0;
}


const char *
fv_principal_name(fv_principal_e kind)
{
    switch (kind) {
    case FV_PRINCIPAL_CUSTOMER:
        return "customer";
    case FV_PRINCIPAL_ADMIN:
        return "admin";
    case FV_PRINCIPAL_SERVICE:
        return "service";
    default:
        return "anonymous";
    }
}


/* page or limit: a validated integer in args, a string in args, or the raw query. */
static int
fv_req_page_arg(fv_req_t *r, const char *name, long def, long min, long max, long *out,
    fv_errors_t *e)
{
    json_object  *v = NULL;
    char          buf[32], *end;
    const char   *s = NULL;
    long          n;
    int           rc;

    *out = def;

    if (r->args != NULL && json_object_object_get_ex(r->args, name, &v) && v != NULL) {
        if (json_object_is_type(v, json_type_int)) {
            n = (long) json_object_get_int64(v);
            goto check;
        }
        s = json_object_get_string(v);

    } else {
        rc = fv_query_get(r->query, name, buf, sizeof(buf));
        if (rc == 0 || (rc == 1 && buf[0] == '\0')) {
            return 0;
        }
        s = rc == 1 ? buf : NULL;
    }

    if (s == NULL || *s < '0' || *s > '9') {
        goto bad;
    }

    n = strtol(s, &end, 10);
    if (*end != '\0' || strlen(s) > 9) {
        goto bad;
    }

check:

    if (n >= min && n <= max) {
        *out = n;
        return 0;
    }

bad:

    {
        char  msg[96];

        (void) snprintf(msg, sizeof(msg), "debe ser un número entero entre %ld y %ld", min, max);
        fv_errors_add(e, name, msg);
    }
    return -1;
}


int
fv_req_page(fv_req_t *r, long *page, long *limit)
{
    fv_errors_t  *e;
    int           bad = 0;

    e = fv_errors_new();
    if (e == NULL) {
        (void) fv_error(r, 500, "INTERNAL_ERROR", "Error interno del servidor");
        return -1;
    }

    bad |= fv_req_page_arg(r, "page", 1, 1, FV_PAGE_MAX, page, e);
    bad |= fv_req_page_arg(r, "limit", FV_LIMIT_DEF, 1, FV_LIMIT_MAX, limit, e);

    if (bad) {
        (void) fv_fail_errors(r, e);
        return -1;
    }

    fv_errors_free(e);
    return 0;
}
