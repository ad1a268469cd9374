/* check_fv.h: what the library's unit tests share: an in-memory FastCGI exchange and its
 * parsed reply. */

#ifndef CHECK_FV_H
#define CHECK_FV_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fv_internal.h"


#define MEM_ENV_MAX  64

/* A request given as parameters and a body, and the bytes the library wrote back. */
typedef struct {
    fv_io_t               io;
    char                 *env[MEM_ENV_MAX + 1];
    size_t                nenv;
    const char           *in;
    size_t                in_len;
    size_t                in_pos;
    fv_buf_t              out;
    int                   finished;

    /* The parsed reply. */
    int                   status;
    char                 *head;
    json_object          *json;
    const char           *body;
} mem_req_t;


static inline long
mem_read(fv_io_t *io, char *buf, size_t size)
{
    mem_req_t  *m = io->data;
    size_t      n = m->in_len - m->in_pos;

    if (n > size) {
        n = size;
    }
    if (n == 0) {
        return 0;
    }
    memcpy(buf, m->in + m->in_pos, n);
    m->in_pos += n;
    return (long) n;
}


static inline int
mem_write(fv_io_t *io, const char *buf, size_t len)
{
    mem_req_t  *m = io->data;

    fv_buf_add(&m->out, buf, len);
    return m->out.failed ? -1 : 0;
}


/* Like FCGX_Finish_r(), frees the parameters: nothing may use them afterwards. */
static inline void
mem_finish(fv_io_t *io)
{
    mem_req_t  *m = io->data;
    size_t      i;

    m->finished++;

    for (i = 0; i < m->nenv; i++) {
        memset(m->env[i], 'X', strlen(m->env[i]));
        free(m->env[i]);
        m->env[i] = NULL;
    }
    m->nenv = 0;
}


static inline void
mem_init(mem_req_t *m, const char *method, const char *path, const char *query)
{
    memset(m, 0, sizeof(*m));
    m->io.envp = m->env;
    m->io.read = mem_read;
    m->io.write = mem_write;
    m->io.finish = mem_finish;
    m->io.data = m;
    fv_buf_init(&m->out);

    if (method != NULL) {
        char  *e;

        ck_assert(asprintf(&e, "REQUEST_METHOD=%s", method) > 0);
        m->env[m->nenv++] = e;
    }
    if (path != NULL) {
        char  *e;

        ck_assert(asprintf(&e, "DOCUMENT_URI=%s", path) > 0);
        m->env[m->nenv++] = e;
    }
    if (query != NULL) {
        char  *e;

        ck_assert(asprintf(&e, "QUERY_STRING=%s", query) > 0);
        m->env[m->nenv++] = e;
    }
}


static inline void
mem_param(mem_req_t *m, const char *name, const char *value)
{
    char  *e;

    ck_assert(m->nenv < MEM_ENV_MAX);
    ck_assert(asprintf(&e, "%s=%s", name, value) > 0);
    m->env[m->nenv++] = e;
}


/* A JSON body with its Content-Type and Content-Length. */
static inline void
mem_body(mem_req_t *m, const char *body, size_t len)
{
    char  n[32];

    (void) snprintf(n, sizeof(n), "%zu", len);
    mem_param(m, "CONTENT_LENGTH", n);
    m->in = body;
    m->in_len = len;
}


static inline void
mem_json(mem_req_t *m, const char *body)
{
    mem_param(m, "CONTENT_TYPE", "application/json");
    mem_body(m, body, strlen(body));
}


/* Splits the reply into status, headers and body; parses a JSON body. */
static inline void
mem_parse(mem_req_t *m)
{
    char  *sep;

    ck_assert_msg(m->out.data != NULL, "no reply written");
    sep = strstr(m->out.data, "\r\n\r\n");
    ck_assert_msg(sep != NULL, "reply without a header end: %s", m->out.data);

    m->head = strndup(m->out.data, (size_t) (sep - m->out.data) + 2);
    m->body = sep + 4;
    ck_assert_int_eq(sscanf(m->out.data, "Status: %d", &m->status), 1);

    if (*m->body == '{') {
        m->json = json_tokener_parse(m->body);
        ck_assert_msg(m->json != NULL, "reply body is not JSON: %s", m->body);
    }
}


static inline void
mem_run(fv_worker_t *w, mem_req_t *m)
{
    fv_dispatch(w, &m->io);
    ck_assert_int_eq(m->finished, 1);
    mem_parse(m);
}


/* The value of a reply header, or NULL. */
static inline const char *
mem_header(mem_req_t *m, const char *name, char *buf, size_t size)
{
    const char  *p = m->head, *eol, *v;
    size_t       n = strlen(name), len;

    while (p != NULL && *p != '\0') {
        eol = strstr(p, "\r\n");
        len = eol ? (size_t) (eol - p) : strlen(p);

        if (len > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            for (v = p + n + 1; *v == ' '; v++) { /* void */ }
            (void) snprintf(buf, size, "%.*s", (int) (p + len - v), v);
            return buf;
        }

        p = eol ? eol + 2 : NULL;
    }

    return NULL;
}


/* A string member by dotted path ("data.user.name", "errors.0.field"). */
static inline const char *
mem_str(mem_req_t *m, const char *path)
{
    json_object  *cur = m->json;
    char          copy[256], *tok, *save = NULL;

    (void) snprintf(copy, sizeof(copy), "%s", path);

    for (tok = strtok_r(copy, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(cur, json_type_array)) {
            cur = json_object_array_get_idx(cur, (size_t) atoi(tok));
        } else if (!json_object_object_get_ex(cur, tok, &cur)) {
            cur = NULL;
        }
    }

    return cur ? json_object_get_string(cur) : NULL;
}


/* The message of the validation error on field, or NULL. */
static inline const char *
mem_field_error(mem_req_t *m, const char *field)
{
    json_object  *errors, *item, *f, *msg;
    size_t        i;

    if (m->json == NULL || !json_object_object_get_ex(m->json, "errors", &errors)) {
        return NULL;
    }

    for (i = 0; i < json_object_array_length(errors); i++) {
        item = json_object_array_get_idx(errors, i);
        if (json_object_object_get_ex(item, "field", &f)
            && strcmp(json_object_get_string(f), field) == 0
            && json_object_object_get_ex(item, "message", &msg))
        {
            return json_object_get_string(msg);
        }
    }

    return NULL;
}


static inline size_t
mem_error_count(mem_req_t *m)
{
    json_object  *errors;

    if (m->json == NULL || !json_object_object_get_ex(m->json, "errors", &errors)) {
        return 0;
    }

    return json_object_array_length(errors);
}


static inline void
mem_free(mem_req_t *m)
{
    size_t  i;

    for (i = 0; i < m->nenv; i++) {
        free(m->env[i]);
    }
    fv_buf_free(&m->out);
    free(m->head);
    json_object_put(m->json);
}


/* Runs a suite; CK_FORK=no in the environment runs it in one process (debuggers). */
static inline int
check_run(Suite *s)
{
    SRunner  *sr;
    int       failed;

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif /* CHECK_FV_H */
