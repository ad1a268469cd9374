/* fv_route.c: the route table: checking it at start, matching a method and path against it. */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


#define FV_MAX_SEGMENTS   32

typedef struct {
    const char           *start;      /* the path segment that matched a parameter */
    size_t                len;
    const char           *name;       /* the parameter's name in the pattern */
    size_t                name_len;
} fv_capture_t;


static const char *const fv_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", NULL
};


static int
fv_method_known(const char *m)
{
    size_t  i;

    for (i = 0; fv_methods[i] != NULL; i++) {
        if (strcmp(fv_methods[i], m) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
fv_param_name_ok(const char *s, size_t len)
{
    size_t  i;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* Two patterns are the same route when they differ only in parameter names. */
static int
fv_pattern_same(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a == ':' && *b == ':') {
            while (*a && *a != '/') {
                a++;
            }
            while (*b && *b != '/') {
                b++;
            }
            continue;
        }
        if (*a != *b) {
            return 0;
        }
        a++;
        b++;
    }

    return *a == *b;
}


int
fv_routes_check(const fv_route_t *routes)
{
    const fv_route_t  *r, *o;
    const char        *p, *seg, *end;
    size_t             nparams, nseg, i;
    const char        *names[FV_MAX_PARAMS];
    size_t             lens[FV_MAX_PARAMS];

    for (r = routes; r != NULL && r->method != NULL; r++) {
        if (!fv_method_known(r->method)) {
            fv_log(FV_LOG_ERROR, "route %s %s: unknown method", r->method,
                r->pattern ? r->pattern : "(null)");
            return -1;
        }

        if (r->pattern == NULL || r->pattern[0] != '/' || r->handler == NULL) {
            fv_log(FV_LOG_ERROR, "route %s %s: a pattern starting with '/' and a handler "
                "are required", r->method, r->pattern ? r->pattern : "(null)");
            return -1;
        }

        nparams = 0;
        nseg = 0;

        for (p = r->pattern + 1; ; p = end + 1) {
            seg = p;
            end = strchr(seg, '/');
            if (end == NULL) {
                end = seg + strlen(seg);
            }

            if (++nseg > FV_MAX_SEGMENTS || (end == seg && *end == '/')) {
                fv_log(FV_LOG_ERROR, "route %s %s: empty segment or too many segments",
                    r->method, r->pattern);
                return -1;
            }

            if (*seg == ':') {
                if (!fv_param_name_ok(seg + 1, (size_t) (end - seg - 1))
                    || nparams == FV_MAX_PARAMS)
                {
                    fv_log(FV_LOG_ERROR, "route %s %s: bad parameter name or more than %d "
                        "parameters", r->method, r->pattern, FV_MAX_PARAMS);
                    return -1;
                }

                for (i = 0; i < nparams; i++) {
                    if (lens[i] == (size_t) (end - seg - 1)
                        && memcmp(names[i], seg + 1, lens[i]) == 0)
                    {
                        fv_log(FV_LOG_ERROR, "route %s %s: parameter \"%.*s\" appears twice",
                            r->method, r->pattern, (int) lens[i], names[i]);
                        return -1;
                    }
                }

                names[nparams] = seg + 1;
                lens[nparams] = (size_t) (end - seg - 1);
                nparams++;
            }

            if (*end == '\0') {
                break;
            }
        }

        for (o = routes; o != r; o++) {
            if (strcmp(o->method, r->method) == 0 && fv_pattern_same(o->pattern, r->pattern)) {
                fv_log(FV_LOG_ERROR, "route %s %s: duplicate of %s %s", r->method, r->pattern,
                    o->method, o->pattern);
                return -1;
            }
        }

    }

    return 0;
}


/* Matches path against pattern; returns 1 and the score (one bit per segment, set for a
 * literal segment, the first segment most significant) or 0. */
static int
fv_pattern_match(const char *pattern, const char *path, size_t path_len, uint64_t *score,
    fv_capture_t *caps, size_t *ncaps)
{
    const char  *p = pattern + 1, *q = path + 1, *pend, *qend, *limit = path + path_len;
    size_t       n = 0, nseg = 0;
    uint64_t     s = 0;

    if (path_len == 0 || path[0] != '/') {
        return 0;
    }

    for ( ;; ) {
        pend = strchr(p, '/');
        if (pend == NULL) {
            pend = p + strlen(p);
        }

        qend = memchr(q, '/', (size_t) (limit - q));
        if (qend == NULL) {
            qend = limit;
        }

        if (++nseg > FV_MAX_SEGMENTS) {
            return 0;
        }

        if (*p == ':') {
            if (qend == q) {
                return 0;
            }
            caps[n].start = q;
            caps[n].len = (size_t) (qend - q);
            caps[n].name = p + 1;
            caps[n].name_len = (size_t) (pend - p - 1);
            n++;
            s = s << 1;

        } else {
            if ((size_t) (pend - p) != (size_t) (qend - q) || memcmp(p, q, (size_t) (pend - p)))
            {
                return 0;
            }
            s = s << 1 | 1;
        }

        if (*pend == '\0' || qend == limit) {
            if (*pend != '\0' || qend != limit) {
                return 0;
            }
            break;
        }

        p = pend + 1;
        q = qend + 1;
    }

    *score = s;
    *ncaps = n;
    return 1;
}


fv_route_e
fv_route_match(const fv_route_t *routes, const char *method, const char *path,
    const fv_route_t **found, fv_param_t *params, size_t *nparams, char *allow,
    size_t allow_size)
{
    const fv_route_t  *r, *best = NULL, *o;
    fv_capture_t       caps[FV_MAX_PARAMS], best_caps[FV_MAX_PARAMS];
    size_t             ncaps, best_ncaps = 0, path_len, i, alen;
    uint64_t           score, best_score = 0;
    int                path_seen = 0, listed;
    long               n;

    *found = NULL;
    *nparams = 0;
    if (allow_size) {
        allow[0] = '\0';
    }

    path_len = strlen(path);

    /* "/api/auth/me/" is "/api/auth/me". */
    if (path_len > 1 && path[path_len - 1] == '/') {
        path_len--;
    }

    for (r = routes; r != NULL && r->method != NULL; r++) {
        if (!fv_pattern_match(r->pattern, path, path_len, &score, caps, &ncaps)) {
            continue;
        }

        path_seen = 1;

        if (strcmp(r->method, method) != 0) {
            continue;
        }

        if (best == NULL || score > best_score) {
            best = r;
            best_score = score;
            best_ncaps = ncaps;
            memcpy(best_caps, caps, ncaps * sizeof(fv_capture_t));
        }
    }

    if (best == NULL) {
        if (!path_seen) {
            return FV_ROUTE_NOT_FOUND;
        }

        alen = 0;

        for (r = routes; r->method != NULL; r++) {
            if (!fv_pattern_match(r->pattern, path, path_len, &score, caps, &ncaps)) {
                continue;
            }

            listed = 0;
            for (o = routes; o != r; o++) {
                if (strcmp(o->method, r->method) == 0
                    && fv_pattern_match(o->pattern, path, path_len, &score, caps, &ncaps))
                {
                    listed = 1;
                    break;
                }
            }

            if (!listed && alen + strlen(r->method) + 3 < allow_size) {
                if (alen) {
                    memcpy(allow + alen, ", ", 2);
                    alen += 2;
                }
                memcpy(allow + alen, r->method, strlen(r->method));
                alen += strlen(r->method);
                allow[alen] = '\0';
            }
        }

        return FV_ROUTE_NO_METHOD;
    }

    for (i = 0; i < best_ncaps; i++) {
        params[i].name = best_caps[i].name;
        params[i].name_len = best_caps[i].name_len;
        params[i].value = malloc(best_caps[i].len + 1);

        if (params[i].value == NULL) {
            fv_params_free(params, i);
            return FV_ROUTE_NOT_FOUND;
        }

        n = fv_percent_decode(best_caps[i].start, best_caps[i].len, params[i].value, 0);

        /* A malformed escape or an encoded NUL names no resource. */
        if (n < 0 || strlen(params[i].value) != (size_t) n) {
            fv_params_free(params, i + 1);
            return FV_ROUTE_NOT_FOUND;
        }
    }

    *found = best;
    *nparams = best_ncaps;
    return FV_ROUTE_FOUND;
}


void
fv_params_free(fv_param_t *params, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(params[i].value);
        params[i].value = NULL;
    }
}
