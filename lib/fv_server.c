/* fv_server.c: the FastCGI server: workers, the request pipeline before a handler runs,
 * /health and /metrics, graceful stop, and fv_main(). */

#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "fv_internal.h"


/* libfcgi's; its header fcgios.h would bring fcgi_config.h, whose PACKAGE_* macros
 * silently replace ours. */
void OS_LibShutdown(void);

#define FV_BACKLOG          1024
#define FV_WORKERS_DEFAULT  8
#define FV_WORKERS_MAX      256
#define FV_DRAIN_MAX        (64L * 1024 * 1024)    /* bytes of an unwanted body read away */
#define FV_SUN_PATH_MAX     ((int) sizeof(((struct sockaddr_un *) 0)->sun_path))


static int fv_health(fv_req_t *r);
static int fv_metrics_handler(fv_req_t *r);


/* ---- the gateway key ------------------------------------------------------------------
 * A per-deployment secret the gateway adds to every request as the FastCGI parameter
 * FLORES_GATEWAY_KEY: whoever else reaches the socket (a local user, a container on the
 * same network) cannot present it, so identity parameters are believed only from the
 * gateway.  Kept for the life of the process; never logged. */

int
fv_gateway_key_ok(const unsigned char *key, size_t key_len, const char *given)
{
    size_t                n;
    const unsigned char  *cmp;
    int                   same;

    n = given != NULL ? strnlen(given, key_len + 1) : 0;

    /* The comparison runs over key_len bytes whatever came: against the key itself when
     * the length differs, so that neither the length nor its absence ends it early. */
    cmp = n == key_len ? (const unsigned char *) given : key;
    same = CRYPTO_memcmp(key, cmp, key_len) == 0;

    return same & (n == key_len) & (given != NULL) & (key_len > 0);
}


int
fv_gateway_key_load(const fv_conf_t *conf, unsigned char **key, size_t *len)
{
    unsigned char  *k;
    const char     *file;
    size_t          n, i;

    *key = NULL;
    *len = 0;

    file = fv_conf_str(conf, "FLORES_GATEWAY_KEY_FILE", NULL);
    if (fv_conf_str(conf, "FLORES_GATEWAY_KEY", NULL) == NULL
        && (file == NULL || *file == '\0'))
    {
        return 0;
    }

    k = fv_conf_secret(conf, "FLORES_GATEWAY_KEY", &n);
    if (k == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_GATEWAY_KEY_FILE: the gateway key cannot be read");
        return -1;
    }

    if (n < FV_GATEWAY_KEY_MIN) {
        fv_log(FV_LOG_ERROR, "FLORES_GATEWAY_KEY: the gateway key must hold at least %d bytes"
               " (it holds %zu)", FV_GATEWAY_KEY_MIN, n);
        goto failed;
    }

    /* Hex, base64 or base64url: text that travels unchanged in nginx's configuration and
     * in a FastCGI parameter (no NUL, quote, space or '$'). */
    for (i = 0; i < n; i++) {
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z')
              || (k[i] >= '0' && k[i] <= '9') || strchr("+/=._-", k[i]) != NULL)
            || k[i] == '\0')
        {
            fv_log(FV_LOG_ERROR, "FLORES_GATEWAY_KEY: the gateway key holds a byte outside"
                   " [A-Za-z0-9+/=._-] at offset %zu", i);
            goto failed;
        }
    }

    *key = k;
    *len = n;
    return 0;

failed:

    explicit_bzero(k, n);
    free(k);
    return -1;
}


/* ---- the server object ---------------------------------------------------------------- */

fv_server_t *
fv_server_new(const fv_service_t *svc, fv_conf_t *conf)
{
    fv_server_t   *s;
    const char   **patterns = NULL;
    const char    *schema;
    size_t         i;

    s = calloc(1, sizeof(fv_server_t));
    if (s == NULL) {
        fv_conf_close(conf);
        return NULL;
    }

    s->svc = svc;
    s->conf = conf;
    s->listen_fd = -1;
    s->wake[0] = -1;
    s->wake[1] = -1;
    atomic_init(&s->stopping, 0);
    atomic_init(&s->signalled, 0);

    if (pthread_mutex_init(&s->lock, NULL) != 0) {
        free(s);
        fv_conf_close(conf);
        return NULL;
    }

    s->routes = svc->routes;

    if (svc->name == NULL || svc->routes == NULL || fv_routes_check(svc->routes) != 0) {
        fv_log(FV_LOG_ERROR, "the service has no name or an invalid route table");
        goto failed;
    }

    for (s->nroutes = 0; svc->routes[s->nroutes].method != NULL; s->nroutes++) {
        /* void */
    }

    if (fv_consumers_check(svc) != 0) {
        goto failed;
    }

    schema = fv_conf_str(conf, "FLORES_PG_SCHEMA", svc->name);
    if (!fv_pg_schema_ok(schema) || strlen(schema) >= sizeof(s->schema)) {
        fv_log(FV_LOG_ERROR, "FLORES_PG_SCHEMA \"%s\" is not a plain lower-case identifier",
            schema);
        goto failed;
    }
    (void) snprintf(s->schema, sizeof(s->schema), "%s", schema);

    s->max_body = (size_t) fv_conf_long(conf, "FLORES_MAX_BODY", FV_MAX_BODY_DEFAULT, 1024,
        16L * 1024 * 1024);

    if (fv_gateway_key_load(conf, &s->gateway_key, &s->gateway_key_len) != 0) {
        goto failed;
    }

    s->builtin = calloc(3, sizeof(fv_route_t));
    patterns = calloc(s->nroutes + 2, sizeof(char *));
    if (s->builtin == NULL || patterns == NULL) {
        goto failed;
    }

    s->builtin[0] = (fv_route_t) { "GET", "/health", FV_INTERNAL, NULL, NULL, fv_health };
    s->builtin[1] = (fv_route_t) { "GET", "/metrics", FV_INTERNAL, NULL, NULL,
                                   fv_metrics_handler };
    s->builtin[2] = (fv_route_t) FV_ROUTES_END;

    for (i = 0; i < s->nroutes; i++) {
        patterns[i] = svc->routes[i].pattern;
    }
    patterns[s->nroutes] = "/health";
    patterns[s->nroutes + 1] = "/metrics";

    s->metrics = fv_metrics_new(svc->name, patterns, s->nroutes + 2);
    free(patterns);
    if (s->metrics == NULL) {
        goto failed;
    }

    if (svc->stores & FV_STORE_PG) {
        fv_metrics_store_declare(s->metrics, "postgres");
    }
    if (svc->stores & FV_STORE_MONGO) {
        fv_metrics_store_declare(s->metrics, "mongodb");
    }
    if (svc->stores & FV_STORE_REDIS) {
        fv_metrics_store_declare(s->metrics, "redis");
    }
    if (svc->outbox || (svc->stores & FV_STORE_AMQP) || svc->consumers != NULL) {
        fv_metrics_store_declare(s->metrics, "rabbitmq");
    }
    if (svc->outbox) {
        fv_metrics_outbox(s->metrics, 0, -1);
    }

    for (i = 0; svc->consumers != NULL && svc->consumers[i].name != NULL; i++) {
        (void) fv_metrics_consumer_declare(s->metrics, svc->consumers[i].name);
    }

    /* libcurl's global state, for fv_http_json(): set up before any thread uses it. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fv_log(FV_LOG_ERROR, "curl_global_init() failed");
        goto failed;
    }
    s->curl_ready = 1;

    if (pipe(s->wake) != 0) {
        fv_log(FV_LOG_ERROR, "pipe() failed: %s", strerror(errno));
        s->wake[0] = s->wake[1] = -1;
        goto failed;
    }
    (void) fcntl(s->wake[0], F_SETFD, FD_CLOEXEC);
    (void) fcntl(s->wake[1], F_SETFD, FD_CLOEXEC);

    return s;

failed:

    fv_server_free(s);
    return NULL;
}


void
fv_server_free(fv_server_t *s)
{
    if (s == NULL) {
        return;
    }

    if (s->wake[0] >= 0) {
        (void) close(s->wake[0]);
    }
    if (s->wake[1] >= 0) {
        (void) close(s->wake[1]);
    }

    if (s->curl_ready) {
        curl_global_cleanup();
    }

    if (s->gateway_key != NULL) {
        explicit_bzero(s->gateway_key, s->gateway_key_len);
        free(s->gateway_key);
    }

    fv_metrics_free(s->metrics);
    free(s->builtin);
    free(s->workers);
    (void) pthread_mutex_destroy(&s->lock);
    fv_conf_close(s->conf);
    free(s);
}


const fv_conf_t *
fv_server_conf(const fv_server_t *s)
{
    return s->conf;
}


void
fv_server_set_data(fv_server_t *s, void *data)
{
    s->data = data;
}


void *
fv_server_data(const fv_server_t *s)
{
    return s->data;
}


fv_server_t *
fv_worker_server(const fv_worker_t *w)
{
    return w->server;
}


fv_server_t *
fv_req_server(const fv_req_t *r)
{
    return r->worker->server;
}


const fv_conf_t *
fv_req_conf(const fv_req_t *r)
{
    return r->worker->server->conf;
}


void
fv_worker_init(fv_worker_t *w, fv_server_t *s, unsigned id)
{
    memset(w, 0, sizeof(*w));
    w->server = s;
    w->id = id;
    w->idle_fd = -1;
    w->state = FV_WORKER_BUSY;
}


void
fv_worker_end(fv_worker_t *w)
{
    fv_pg_request_end(w);
    fv_mongo_request_end(w);
    fv_redis_request_end(w);
}


void
fv_worker_close(fv_worker_t *w)
{
    fv_pg_close(w);
    fv_mongo_close(w);
    fv_redis_close(w);
    fv_publish_close(w);
    fv_http_close(w);
}


/* ---- periodic tasks ------------------------------------------------------------------- */

int
fv_server_every(fv_server_t *s, const char *name, long interval_ms, fv_task_pt fn, void *arg)
{
    fv_task_t  *t;

    if (s->ntasks >= FV_TASKS_MAX || fn == NULL || interval_ms < 1000
        || interval_ms > 86400000L)
    {
        fv_log(FV_LOG_ERROR, "periodic task %s: no room, or interval out of range",
            name ? name : "(null)");
        return -1;
    }

    t = &s->tasks[s->ntasks++];
    t->name = name ? name : "task";
    t->interval_ms = interval_ms;
    t->fn = fn;
    t->arg = arg;

    return 0;
}


/* Runs the task, then sleeps in poll() on the stop pipe (written once, never read: it stays
 * readable for every thread that waits on it). */
static void *
fv_task_main(void *arg)
{
    fv_task_t      *t = arg;
    fv_server_t    *s = t->worker.server;
    struct pollfd   pfd;

    while (!atomic_load(&s->stopping)) {
        t->fn(&t->worker, t->arg);
        fv_worker_end(&t->worker);

        pfd.fd = s->wake[0];
        pfd.events = POLLIN;
        pfd.revents = 0;

        if (poll(&pfd, 1, (int) t->interval_ms) < 0 && errno != EINTR) {
            break;
        }
    }

    fv_worker_close(&t->worker);
    return NULL;
}


static void
fv_tasks_start(fv_server_t *s)
{
    unsigned  i;

    for (i = 0; i < s->ntasks; i++) {
        fv_worker_init(&s->tasks[i].worker, s, 1000 + i);
        s->tasks[i].started = pthread_create(&s->tasks[i].thread, NULL, fv_task_main,
                                             &s->tasks[i]) == 0;
        if (!s->tasks[i].started) {
            fv_log(FV_LOG_ERROR, "cannot start the periodic task %s", s->tasks[i].name);
        }
    }
}


static void
fv_tasks_stop(fv_server_t *s)
{
    unsigned  i;

    for (i = 0; i < s->ntasks; i++) {
        if (s->tasks[i].started) {
            (void) pthread_join(s->tasks[i].thread, NULL);
            s->tasks[i].started = 0;
        }
    }
}


/* ---- the pipeline --------------------------------------------------------------------- */

static const char *
fv_param_nonempty(fv_io_t *io, const char *name)
{
    const char  *v;

    v = FCGX_GetParam(name, io->envp);

    return v != NULL && *v != '\0' ? v : NULL;
}


/* Reads and drops what is left of the body, so that closing the connection never resets
 * it under a reply the gateway has not read yet. */
static void
fv_drain(fv_io_t *io)
{
    char   buf[16384];
    long   n, total = 0;

    while (total < FV_DRAIN_MAX) {
        n = io->read(io, buf, sizeof(buf));
        if (n <= 0) {
            break;
        }
        total += n;
    }
}


/* 0 with the body in *buf (NUL-terminated) and *len, or an HTTP status already answered. */
static int
fv_read_body(fv_req_t *r, char **buf, size_t *len)
{
    fv_req_impl_t  *impl = r->impl;
    fv_server_t    *s = r->worker->server;
    const char     *cl, *ct;
    char           *b, *end;
    size_t          want, have = 0, cap;
    long            n;
    unsigned long long  v;

    *buf = NULL;
    *len = 0;

    cl = fv_param_nonempty(impl->io, "CONTENT_LENGTH");
    ct = fv_req_header(r, "Content-Type");

    if (cl != NULL) {
        errno = 0;
        v = strtoull(cl, &end, 10);
        if (*cl < '0' || *cl > '9' || *end != '\0' || errno != 0) {
            (void) fv_fail(r, 400, "INVALID_JSON", "La longitud del cuerpo no es válida");
            return 400;
        }

        if (v > s->max_body) {
            (void) fv_fail(r, 413, "PAYLOAD_TOO_LARGE",
                "El cuerpo de la solicitud es demasiado grande");
            return 413;
        }

        if (v > 0 && !fv_content_type_json(ct)) {
            (void) fv_fail(r, 415, "UNSUPPORTED_MEDIA_TYPE",
                "El cuerpo debe ser JSON (Content-Type: application/json)");
            return 415;
        }

        want = (size_t) v;
        cap = want;

    } else {
        /* No length given: read up to one byte past the limit to know it was passed. */
        want = s->max_body + 1;
        cap = s->max_body + 1;
    }

    b = malloc(cap + 1);
    if (b == NULL) {
        (void) fv_error(r, 500, "INTERNAL_ERROR", "Error interno del servidor");
        return 500;
    }

    while (have < want) {
        n = impl->io->read(impl->io, b + have, want - have);
        if (n <= 0) {
            break;
        }
        have += (size_t) n;
    }

    b[have] = '\0';

    if (cl != NULL && have < want) {
        free(b);
        (void) fv_fail(r, 400, "INVALID_JSON", "El cuerpo llegó incompleto");
        return 400;
    }

    if (cl == NULL) {
        if (have > s->max_body) {
            free(b);
            (void) fv_fail(r, 413, "PAYLOAD_TOO_LARGE",
                "El cuerpo de la solicitud es demasiado grande");
            return 413;
        }

        if (have > 0 && !fv_content_type_json(ct)) {
            free(b);
            (void) fv_fail(r, 415, "UNSUPPORTED_MEDIA_TYPE",
                "El cuerpo debe ser JSON (Content-Type: application/json)");
            return 415;
        }
    }

    *buf = b;
    *len = have;
    return 0;
}


/* Access, body and query checks; 0 when the handler may run. */
static int
fv_check(fv_req_t *r)
{
    const fv_route_t  *rt = r->route;
    fv_errors_t       *e;
    fv_principal_e     kind;
    char              *buf;
    size_t             len;
    fv_body_e          rc;
    int                user;

    kind = r->principal.kind;
    user = kind == FV_PRINCIPAL_CUSTOMER || kind == FV_PRINCIPAL_ADMIN;

    if ((rt->access == FV_USER || rt->access == FV_ADMIN) && !user) {
        fv_reply_header(r, "WWW-Authenticate", "Bearer realm=\"flores-victoria\"");
        (void) fv_fail(r, 401, "UNAUTHORIZED", "Se requiere iniciar sesión");
        return -1;
    }

    if (rt->access == FV_ADMIN && kind != FV_PRINCIPAL_ADMIN) {
        (void) fv_fail(r, 403, "FORBIDDEN", "No tiene permiso para realizar esta acción");
        return -1;
    }

    if (rt->access == FV_SERVICE && kind != FV_PRINCIPAL_SERVICE && kind != FV_PRINCIPAL_ADMIN) {
        if (!user) {
            fv_reply_header(r, "WWW-Authenticate", "Bearer realm=\"flores-victoria\"");
            (void) fv_fail(r, 401, "UNAUTHORIZED", "Se requiere iniciar sesión");
        } else {
            (void) fv_fail(r, 403, "FORBIDDEN", "No tiene permiso para realizar esta acción");
        }
        return -1;
    }

    e = fv_errors_new();
    if (e == NULL) {
        (void) fv_error(r, 500, "INTERNAL_ERROR", "Error interno del servidor");
        return -1;
    }

    if (rt->body != NULL) {
        if (fv_read_body(r, &buf, &len) != 0) {
            fv_errors_free(e);
            return -1;
        }

        rc = fv_body_parse(buf, len, &r->body);
        free(buf);

        if (rc == FV_BODY_INVALID) {
            fv_errors_free(e);
            (void) fv_fail(r, 400, "INVALID_JSON", "El cuerpo no es un JSON válido");
            return -1;
        }

        if (rc == FV_BODY_NOT_OBJECT) {
            fv_errors_add(e, "body", "debe ser un objeto JSON");
        } else {
            (void) fv_validate(r->body, rt->body, 0, e);
        }
    }

    (void) fv_query_parse(r->query, rt->query, &r->args, e);

    if (r->args == NULL || fv_errors_count(e) > 0) {
        (void) fv_fail_errors(r, e);
        return -1;
    }

    fv_errors_free(e);
    return 0;
}


void
fv_dispatch(fv_worker_t *w, fv_io_t *io)
{
    fv_server_t        *s = w->server;
    fv_req_t            r;
    fv_req_impl_t       impl;
    const fv_route_t   *found = NULL;
    fv_route_e          m;
    char                allow[128], method[16];
    char               *path = NULL;
    unsigned char       rnd[16];
    double              t0;
    size_t              route_index, i;
    int                 rc, quiet = 0;

    t0 = fv_now_ms();

    memset(&r, 0, sizeof(r));
    memset(&impl, 0, sizeof(impl));
    impl.io = io;
    fv_buf_init(&impl.headers);
    r.worker = w;
    r.impl = &impl;

    r.method = fv_param_nonempty(io, "REQUEST_METHOD");
    if (r.method == NULL) {
        r.method = "GET";
    }

    r.path = fv_param_nonempty(io, "DOCUMENT_URI");
    if (r.path == NULL) {
        r.path = fv_param_nonempty(io, "SCRIPT_NAME");
    }
    if (r.path == NULL) {
        r.path = "/";
    }

    r.query = FCGX_GetParam("QUERY_STRING", io->envp);
    if (r.query == NULL) {
        r.query = "";
    }

    if (fv_request_id_ok(fv_param_nonempty(io, "FLORES_REQUEST_ID"))) {
        (void) snprintf(impl.request_id, sizeof(impl.request_id), "%s",
            fv_param_nonempty(io, "FLORES_REQUEST_ID"));

    } else if (fv_request_id_ok(fv_param_nonempty(io, "HTTP_X_REQUEST_ID"))) {
        (void) snprintf(impl.request_id, sizeof(impl.request_id), "%s",
            fv_param_nonempty(io, "HTTP_X_REQUEST_ID"));

    } else {
        static const char  hex[] = "0123456789abcdef";

        if (fv_random(rnd, sizeof(rnd)) != 0) {
            memset(rnd, 0, sizeof(rnd));
        }
        for (i = 0; i < sizeof(rnd); i++) {
            impl.request_id[2 * i] = hex[rnd[i] >> 4];
            impl.request_id[2 * i + 1] = hex[rnd[i] & 0x0f];
        }
        impl.request_id[2 * sizeof(rnd)] = '\0';
    }

    r.request_id = impl.request_id;
    route_index = s->nroutes + 2;       /* unmatched */

    /* Who sent it first (the gateway, or anyone who can reach the socket), then who is
     * calling: nothing past these two answers to a request that fails either. */
    if (s->gateway_key != NULL
        && !fv_gateway_key_ok(s->gateway_key, s->gateway_key_len,
                              FCGX_GetParam("FLORES_GATEWAY_KEY", io->envp)))
    {
        if (t0 - w->key_warned >= 1000.0 || w->key_warned == 0.0) {
            w->key_warned = t0;
            fv_log_req(&r, FV_LOG_WARN, "%s %.128s without the gateway key refused (at most"
                       " one such line a second per worker)", r.method, r.path);
        }
        (void) fv_fail(&r, 403, "FORBIDDEN",
            "La solicitud no llegó a través de la puerta de enlace");
        goto done;
    }

    if (fv_principal_parse(FCGX_GetParam("FLORES_USER_ID", io->envp),
                           FCGX_GetParam("FLORES_USER_ROLE", io->envp),
                           FCGX_GetParam("FLORES_INTERNAL", io->envp), &r.principal) != 0)
    {
        fv_log_req(&r, FV_LOG_WARN, "%s %.128s: FLORES_USER_ID and FLORES_USER_ROLE name no"
                   " principal; refused", r.method, r.path);
        fv_reply_header(&r, "WWW-Authenticate", "Bearer realm=\"flores-victoria\"");
        (void) fv_fail(&r, 401, "UNAUTHORIZED", "La identidad de la solicitud no es válida");
        goto done;
    }

    if (r.principal.kind != FV_PRINCIPAL_ANONYMOUS) {
        r.user_role = fv_principal_name(r.principal.kind);
    }

    if (r.principal.kind == FV_PRINCIPAL_CUSTOMER || r.principal.kind == FV_PRINCIPAL_ADMIN) {
        (void) snprintf(impl.user_id, sizeof(impl.user_id), "%" PRId64, r.principal.id);
        r.user_id = impl.user_id;
        r.user_email = fv_param_nonempty(io, "FLORES_USER_EMAIL");
    }

    m = fv_route_match(s->routes, r.method, r.path, &found, impl.params, &impl.nparams,
        allow, sizeof(allow));

    if (m == FV_ROUTE_NOT_FOUND) {
        m = fv_route_match(s->builtin, r.method, r.path, &found, impl.params, &impl.nparams,
            allow, sizeof(allow));
        if (m == FV_ROUTE_FOUND) {
            route_index = s->nroutes + (size_t) (found - s->builtin);
            quiet = 1;
        }

    } else if (m == FV_ROUTE_FOUND) {
        route_index = (size_t) (found - s->routes);
    }

    switch (m) {

    case FV_ROUTE_NOT_FOUND:
        (void) fv_fail(&r, 404, "NOT_FOUND", "Recurso no encontrado");
        break;

    case FV_ROUTE_NO_METHOD:
        fv_reply_header(&r, "Allow", allow);
        (void) fv_fail(&r, 405, "METHOD_NOT_ALLOWED", "Método no permitido para este recurso");
        break;

    case FV_ROUTE_FOUND:
        r.route = found;

        if (fv_check(&r) != 0) {
            break;
        }

        rc = found->handler(&r);

        if (impl.replied) {
            break;
        }

        if (rc == FV_STORE_DOWN) {
            fv_reply_header(&r, "Retry-After", FV_RETRY_AFTER);
            (void) fv_error(&r, 503, "SERVICE_UNAVAILABLE",
                "Servicio no disponible temporalmente; intente nuevamente");

        } else {
            if (rc == FV_OK) {
                fv_log_req(&r, FV_LOG_ERROR, "the handler of %s %s returned without a reply",
                    found->method, found->pattern);
            }
            (void) fv_error(&r, 500, "INTERNAL_ERROR", "Error interno del servidor");
        }
        break;
    }

done:

    fv_drain(io);

    /* Finishing frees the FastCGI parameters: keep what the log line and metrics need. */
    (void) snprintf(method, sizeof(method), "%s", r.method);
    r.method = method;
    path = strndup(r.path, 1024);
    r.path = path != NULL ? path : "?";
    r.user_role = NULL;
    r.user_email = NULL;
    r.query = "";

    if (io->finish != NULL) {
        io->finish(io);
    }

    fv_worker_end(w);

    fv_metrics_request(s->metrics, route_index, r.method, impl.status,
        (fv_now_ms() - t0) / 1000.0);
    fv_log_request(&r, impl.status, fv_now_ms() - t0, quiet && impl.status < 400);

    json_object_put(r.body);
    json_object_put(r.args);
    fv_params_free(impl.params, impl.nparams);
    fv_buf_free(&impl.headers);
    free(path);
}


/* ---- /health and /metrics ------------------------------------------------------------- */

static int
fv_health(fv_req_t *r)
{
    fv_server_t   *s = fv_req_server(r);
    json_object   *data, *checks, *root;
    int            up = 1;

    data = json_object_new_object();
    checks = json_object_new_object();

    if (data == NULL || checks == NULL) {
        json_object_put(data);
        json_object_put(checks);
        return FV_ERROR;
    }

    if (s->svc->stores & FV_STORE_PG) {
        int  pg = fv_pg_ping(r->worker);

        (void) json_object_object_add(checks, "postgres",
            json_object_new_string(pg ? "up" : "down"));
        up &= pg;
    }

    if (s->svc->stores & FV_STORE_MONGO) {
        int  mongo = fv_mongo_ping(r->worker);

        (void) json_object_object_add(checks, "mongodb",
            json_object_new_string(mongo ? "up" : "down"));
        up &= mongo;
    }

    if (s->svc->stores & FV_STORE_REDIS) {
        int  redis = fv_redis_ping(r->worker);

        (void) json_object_object_add(checks, "redis",
            json_object_new_string(redis ? "up" : "down"));
        up &= redis;
    }

    if (s->svc->stores & FV_STORE_AMQP) {
        int  mq = fv_publish_ping(r->worker);

        (void) json_object_object_add(checks, "rabbitmq",
            json_object_new_string(mq ? "up" : "down"));
        up &= mq;
    }

    (void) json_object_object_add(data, "status", json_object_new_string(up ? "ok" : "down"));
    (void) json_object_object_add(data, "service", json_object_new_string(s->svc->name));
    (void) json_object_object_add(data, "checks", checks);

    if (up) {
        return fv_reply(r, 200, data, NULL);
    }

    root = json_object_new_object();
    if (root == NULL) {
        json_object_put(data);
        return FV_ERROR;
    }

    (void) json_object_object_add(root, "status", json_object_new_string("error"));
    (void) json_object_object_add(root, "code", json_object_new_string("SERVICE_UNAVAILABLE"));
    (void) json_object_object_add(root, "message",
        json_object_new_string("Un almacén del servicio no responde"));
    (void) json_object_object_add(root, "data", data);
    (void) json_object_object_add(root, "requestId", json_object_new_string(r->request_id));

    fv_reply_header(r, "Retry-After", FV_RETRY_AFTER);
    return fv_reply_json(r, 503, root);
}


static int
fv_metrics_handler(fv_req_t *r)
{
    fv_server_t  *s = fv_req_server(r);
    fv_buf_t      b;

    fv_buf_init(&b);
    fv_metrics_render(s->metrics, s->svc->outbox, &b);

    if (b.failed || b.data == NULL) {
        fv_buf_free(&b);
        return FV_ERROR;
    }

    (void) fv_reply_raw(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
    fv_buf_free(&b);
    return FV_OK;
}


/* ---- workers -------------------------------------------------------------------------- */

static long
fv_fcgx_read(fv_io_t *io, char *buf, size_t size)
{
    fv_worker_t  *w = io->data;
    int           n;

    if (size > INT32_MAX) {
        size = INT32_MAX;
    }

    n = FCGX_GetStr(buf, (int) size, w->fcgi.in);

    return n < 0 ? -1 : n;
}


static int
fv_fcgx_write(fv_io_t *io, const char *buf, size_t len)
{
    fv_worker_t  *w = io->data;

    if (len > INT32_MAX) {
        return -1;
    }

    return FCGX_PutStr(buf, (int) len, w->fcgi.out) == (int) len ? 0 : -1;
}


static void
fv_fcgx_finish(fv_io_t *io)
{
    fv_worker_t  *w = io->data;

    FCGX_Finish_r(&w->fcgi);
}


static void *
fv_worker_main(void *arg)
{
    fv_worker_t     *w = arg;
    fv_server_t     *s = w->server;
    fv_io_t          io;
    struct timespec  pause = { 0, 100 * 1000 * 1000 };
    int              rc, stop;

    if (FCGX_InitRequest(&w->fcgi, s->listen_fd, 0) != 0) {
        fv_log(FV_LOG_ERROR, "worker %u: FCGX_InitRequest failed", w->id);
        return NULL;
    }

    for ( ;; ) {
        (void) pthread_mutex_lock(&s->lock);
        stop = atomic_load(&s->stopping);
        w->state = FV_WORKER_IDLE;
        w->idle_fd = w->fcgi.ipcFd;
        (void) pthread_mutex_unlock(&s->lock);

        if (stop) {
            break;
        }

        rc = FCGX_Accept_r(&w->fcgi);

        (void) pthread_mutex_lock(&s->lock);
        w->state = FV_WORKER_BUSY;
        w->idle_fd = -1;
        stop = atomic_load(&s->stopping);
        (void) pthread_mutex_unlock(&s->lock);

        if (rc < 0) {
            if (stop) {
                break;
            }
            fv_log(FV_LOG_WARN, "worker %u: accepting failed (%d); retrying", w->id, rc);
            (void) nanosleep(&pause, NULL);
            continue;
        }

        /* A request accepted as the stop began is still answered. */
        io.envp = w->fcgi.envp;
        io.read = fv_fcgx_read;
        io.write = fv_fcgx_write;
        io.finish = fv_fcgx_finish;
        io.data = w;

        fv_dispatch(w, &io);
    }

    FCGX_Free(&w->fcgi, 1);
    fv_worker_close(w);
    return NULL;
}


/* Stops accepting: shutting the listening socket down makes every accept() return, and a
 * worker idle on a kept-alive connection is woken by shutting that connection down too.
 * Workers that are inside a request are left alone to finish it. */
static void
fv_server_stop(fv_server_t *s)
{
    unsigned  i;
    ssize_t   n;

    (void) pthread_mutex_lock(&s->lock);

    if (atomic_exchange(&s->stopping, 1)) {
        (void) pthread_mutex_unlock(&s->lock);
        return;
    }

    if (s->listen_fd >= 0) {
        (void) shutdown(s->listen_fd, SHUT_RDWR);
    }

    for (i = 0; i < s->nworkers; i++) {
        if (s->workers[i].started && s->workers[i].state == FV_WORKER_IDLE
            && s->workers[i].idle_fd >= 0)
        {
            (void) shutdown(s->workers[i].idle_fd, SHUT_RDWR);
        }
    }

    (void) pthread_mutex_unlock(&s->lock);

    do {
        n = write(s->wake[1], "x", 1);
    } while (n < 0 && errno == EINTR);
}


static void *
fv_signal_main(void *arg)
{
    fv_server_t  *s = arg;
    sigset_t      set;
    int           sig = 0;

    (void) sigemptyset(&set);
    (void) sigaddset(&set, SIGTERM);
    (void) sigaddset(&set, SIGINT);

    while (sigwait(&set, &sig) != 0) {
        /* void */
    }

    atomic_store(&s->signalled, 1);

    if (!atomic_load(&s->stopping)) {
        fv_log(FV_LOG_INFO, "%s received: finishing requests in flight and stopping",
            sig == SIGINT ? "SIGINT" : "SIGTERM");
    }

    fv_server_stop(s);
    return NULL;
}


/* ---- the listening socket -------------------------------------------------------------
 * FLORES_LISTEN is "host:port" ("[v6]:port", ":port" for every address) or a unix socket
 * path (starting with '/').  A socket file is created with FLORES_LISTEN_MODE (default
 * 0660) and, with FLORES_LISTEN_GROUP, that group: bound under a umask that lets nobody
 * else in, given its group and mode, and only then listened on, so no connection is ever
 * accepted under looser rights.  A path that exists is replaced only when it is a socket
 * nobody answers on (left by a process that died); any other file, or a live socket, stops
 * the start.  Our own rather than FCGX_OpenSocket(), which exits the process when the
 * address is taken. */

long
fv_listen_mode(const fv_conf_t *conf)
{
    const char  *v;
    long         mode = 0;

    v = fv_conf_str(conf, "FLORES_LISTEN_MODE", NULL);
    if (v == NULL) {
        return 0660;
    }

    if (*v == '\0' || strlen(v) > 4 || strspn(v, "01234567") != strlen(v)) {
        return -1;
    }

    for ( /* void */ ; *v; v++) {
        mode = mode * 8 + (*v - '0');
    }

    return mode <= 0777 ? mode : -1;
}


/* The gid of FLORES_LISTEN_GROUP: 0 with *gid (unchanged when unset), -1 when unknown. */
static int
fv_listen_group(const fv_conf_t *conf, gid_t *gid)
{
    struct group   gr, *res = NULL;
    const char    *name;
    char           buf[4096];
    int            rc;

    name = fv_conf_str(conf, "FLORES_LISTEN_GROUP", NULL);
    if (name == NULL) {
        return 0;
    }

    rc = *name != '\0' ? getgrnam_r(name, &gr, buf, sizeof(buf), &res) : 0;
    if (rc != 0 || res == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN_GROUP: no group \"%.64s\"%s%s", name,
            rc != 0 ? ": " : "", rc != 0 ? strerror(rc) : "");
        return -1;
    }

    *gid = gr.gr_gid;
    return 0;
}


/* A socket file found at path: removed when nothing answers on it; -1 when it is not a
 * socket, or a process still listens there. */
static int
fv_listen_stale(const char *path, const struct sockaddr_un *un)
{
    struct stat  st;
    int          fd, rc, err;

    if (lstat(path, &st) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN: cannot inspect %s: %s", path, strerror(errno));
        return -1;
    }

    if (!S_ISSOCK(st.st_mode)) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN: %s exists and is not a socket; not replacing it",
            path);
        return -1;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fv_log(FV_LOG_ERROR, "socket() failed: %s", strerror(errno));
        return -1;
    }

    rc = connect(fd, (const struct sockaddr *) un, sizeof(*un));
    err = errno;
    (void) close(fd);

    if (rc == 0 || (err != ECONNREFUSED && err != ENOENT)) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN: %s %s; not replacing it", path,
            rc == 0 ? "is in use by another process" : strerror(err));
        return -1;
    }

    /* Nobody listens: a socket left by a process that died.  unlink() removes whatever is
     * there by now; the window is the one between two starts of the same service. */
    if (unlink(path) != 0 && errno != ENOENT) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN: cannot remove the stale socket %s: %s", path,
            strerror(errno));
        return -1;
    }

    fv_log(FV_LOG_INFO, "removed the stale socket %s", path);
    return 0;
}


static int
fv_listen_unix(fv_server_t *s, int backlog)
{
    struct sockaddr_un  un;
    struct stat         st;
    const char         *path = s->listen;
    gid_t               gid = (gid_t) -1;
    mode_t              old;
    long                mode;
    int                 fd, rc;

    if (strlen(path) >= sizeof(un.sun_path)) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN: socket path longer than %zu bytes",
            sizeof(un.sun_path) - 1);
        return -1;
    }

    mode = fv_listen_mode(s->conf);
    if (mode < 0) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN_MODE must be an octal mode from 0 to 0777");
        return -1;
    }

    if (fv_listen_group(s->conf, &gid) != 0) {
        return -1;
    }

    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, strlen(path));

    if (fv_listen_stale(path, &un) != 0) {
        return -1;
    }

    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        fv_log(FV_LOG_ERROR, "socket() failed: %s", strerror(errno));
        return -1;
    }

    /* No threads run yet: the process-wide umask may change for the bind alone. */
    old = umask(0177);
    rc = bind(fd, (struct sockaddr *) &un, sizeof(un));
    (void) umask(old);

    if (rc != 0) {
        fv_log(FV_LOG_ERROR, "cannot listen on %s: %s", path, strerror(errno));
        (void) close(fd);
        return -1;
    }

    if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        fv_log(FV_LOG_ERROR, "cannot listen on %s: the socket vanished", path);
        goto failed;
    }

    s->listen_dev = st.st_dev;
    s->listen_ino = st.st_ino;

    if (gid != (gid_t) -1 && chown(path, (uid_t) -1, gid) != 0) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN_GROUP: cannot give %s to group %s: %s", path,
            fv_conf_str(s->conf, "FLORES_LISTEN_GROUP", ""), strerror(errno));
        goto failed;
    }

    if (chmod(path, (mode_t) mode) != 0) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN_MODE: cannot set %s to %04lo: %s", path, mode,
            strerror(errno));
        goto failed;
    }

    if (listen(fd, backlog) != 0) {
        fv_log(FV_LOG_ERROR, "cannot listen on %s: %s", path, strerror(errno));
        goto failed;
    }

    return fd;

failed:

    (void) close(fd);
    (void) unlink(path);
    s->listen_ino = 0;
    return -1;
}


/* Removes the socket file at exit, unless another process has put its own there since. */
static void
fv_listen_remove(fv_server_t *s)
{
    struct stat  st;

    if (s->listen[0] != '/' || s->listen_ino == 0) {
        return;
    }

    if (lstat(s->listen, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == s->listen_dev
        && st.st_ino == s->listen_ino)
    {
        (void) unlink(s->listen);
    }
}


static int
fv_listen(fv_server_t *s, int backlog)
{
    struct addrinfo     hints, *res = NULL, *ai;
    const char         *spec = s->listen, *colon, *port;
    char                host[256];
    size_t              hlen;
    int                 fd = -1, on = 1, rc;

    if (spec[0] == '/') {
        return fv_listen_unix(s, backlog);
    }

    if (fv_conf_str(s->conf, "FLORES_LISTEN_MODE", NULL) != NULL
        || fv_conf_str(s->conf, "FLORES_LISTEN_GROUP", NULL) != NULL)
    {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN_MODE and FLORES_LISTEN_GROUP apply to a unix"
               " socket, and FLORES_LISTEN \"%s\" is not one", spec);
        return -1;
    }

    colon = strrchr(spec, ':');

    if (colon == NULL || colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1))
    {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN \"%s\" is neither host:port nor a socket path "
               "starting with '/'", spec);
        return -1;
    }

    port = colon + 1;
    hlen = (size_t) (colon - spec);
    if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
        spec++;
        hlen -= 2;
    }
    if (hlen >= sizeof(host)) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN: host name too long");
        return -1;
    }
    memcpy(host, spec, hlen);
    host[hlen] = '\0';

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;

    rc = getaddrinfo(hlen && strcmp(host, "*") ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN: cannot resolve \"%s\": %s", host,
            gai_strerror(rc));
        return -1;
    }

    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            continue;
        }
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == 0
            && bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
        {
            break;
        }
        fv_log(FV_LOG_ERROR, "cannot listen on %s: %s", s->listen, strerror(errno));
        (void) close(fd);
        fd = -1;
    }

    freeaddrinfo(res);
    return fd;
}


/* ---- the program ---------------------------------------------------------------------- */

static void
fv_usage(FILE *f, const char *prog, const fv_service_t *svc)
{
    (void) fprintf(f,
        "Usage: %s [--check-config | --help | --version]\n"
        "\n"
        "The %s service of Flores Victoria, a FastCGI responder.\n"
        "\n"
        "  --check-config  load and check the configuration, then exit\n"
        "  --help          show this text\n"
        "  --version       show the version\n"
        "\n"
        "Configuration: FLORES_* variables from the environment, or KEY=VALUE lines in the\n"
        "file named by FLORES_CONFIG (the environment wins).  A secret KEY may be given as\n"
        "KEY_FILE=path instead.\n"
        "  FLORES_LISTEN                host:port, or a unix socket path starting with '/'\n"
        "                               (required); an existing path is replaced only when\n"
        "                               it is a socket nobody answers on\n"
        "  FLORES_LISTEN_MODE           the socket's mode, octal (default 0660)\n"
        "  FLORES_LISTEN_GROUP          the socket's group, by name (default: the process's)\n"
        "  FLORES_GATEWAY_KEY_FILE      file holding the gateway key (at least %d bytes of\n"
        "                               [A-Za-z0-9+/=._-]); when set, a request without the\n"
        "                               FastCGI parameter FLORES_GATEWAY_KEY equal to it is\n"
        "                               refused 403, /health and /metrics included\n"
        "  FLORES_WORKERS               worker threads (default %d)\n"
        "  FLORES_MAX_BODY              largest request body in bytes (default %d)\n"
        "  FLORES_LOG_LEVEL             debug, info, warn or error (default info)\n"
        "  FLORES_PG_URL                PostgreSQL URL or key=value string\n"
        "  FLORES_PG_PASSWORD[_FILE]    its password, when not in the URL\n"
        "  FLORES_PG_SCHEMA             schema (default %s)\n"
        "  FLORES_PG_STATEMENT_TIMEOUT  milliseconds (default 5000)\n"
        "  FLORES_AMQP_URL              amqp://user:password@host:port/vhost\n"
        "  FLORES_AMQP_EXCHANGE         topic exchange for events (default flores.events)\n"
        "  FLORES_AMQP_TIMEOUT          publisher confirm timeout in ms (default 5000)\n"
        "  FLORES_MONGO_URL             mongodb://host:port/database\n"
        "  FLORES_MONGO_DB              database (default: the URL's, else flores)\n"
        "  FLORES_MONGO_TIMEOUT         connect and server selection in ms (default 800)\n"
        "  FLORES_REDIS_URL             redis://host:port/db\n"
        "  FLORES_REDIS_TIMEOUT         connect and command timeout in ms (default 1000)\n"
        "  FLORES_CONSUMER_PREFETCH     unacknowledged messages per consumer (default 8)\n"
        "  FLORES_INTERNAL_URL          the gateway's internal listener, for fv_http_json()\n"
        "  FLORES_INTERNAL_SOCKET       reach it over this unix socket (the URL's host and\n"
        "                               port are then not used)\n"
        "  FLORES_HTTP_TIMEOUT          its total timeout per call in ms (default 3000)\n"
        "\n"
        "SIGTERM or SIGINT: stop accepting, finish the requests in flight, exit 0.\n",
        prog, svc->name, FV_GATEWAY_KEY_MIN, FV_WORKERS_DEFAULT, FV_MAX_BODY_DEFAULT,
        svc->name);
}


static int
fv_check_conf(const fv_conf_t *conf, const fv_service_t *svc)
{
    static const struct {
        const char  *key;
        long         min;
        long         max;
    } longs[] = {
        { "FLORES_WORKERS", 1, FV_WORKERS_MAX },
        { "FLORES_MAX_BODY", 1024, 16L * 1024 * 1024 },
        { "FLORES_PG_STATEMENT_TIMEOUT", 0, 3600000 },
        { "FLORES_AMQP_TIMEOUT", 100, 600000 },
        { "FLORES_MONGO_TIMEOUT", 50, 1000 },
        { "FLORES_REDIS_TIMEOUT", 50, 1000 },
        { "FLORES_MONGO_SOCKET_TIMEOUT", 100, 600000 },
        { "FLORES_CONSUMER_PREFETCH", 1, 16 },
        { "FLORES_HTTP_TIMEOUT", 100, 600000 },
    };
    const char  *v;
    size_t       i;
    gid_t        gid;
    int          ok = 1;

    v = fv_conf_str(conf, "FLORES_LISTEN", NULL);
    if (v == NULL || *v == '\0') {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN is not set");
        ok = 0;
    }

    for (i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        if (!fv_conf_long_ok(conf, longs[i].key, longs[i].min, longs[i].max)) {
            fv_log(FV_LOG_ERROR, "%s must be an integer from %ld to %ld", longs[i].key,
                longs[i].min, longs[i].max);
            ok = 0;
        }
    }

    if (fv_listen_mode(conf) < 0) {
        fv_log(FV_LOG_ERROR, "FLORES_LISTEN_MODE must be an octal mode from 0 to 0777");
        ok = 0;
    }

    if (fv_listen_group(conf, &gid) != 0) {
        ok = 0;
    }

    v = fv_conf_str(conf, "FLORES_INTERNAL_SOCKET", NULL);
    if (v != NULL && *v != '\0' && (v[0] != '/' || strlen(v) >= FV_SUN_PATH_MAX)) {
        fv_log(FV_LOG_ERROR, "FLORES_INTERNAL_SOCKET must be a socket path starting with '/',"
               " shorter than %d bytes", FV_SUN_PATH_MAX);
        ok = 0;
    }

    v = fv_conf_str(conf, "FLORES_LOG_LEVEL", "info");
    if (strcasecmp(v, "debug") && strcasecmp(v, "info") && strcasecmp(v, "warn")
        && strcasecmp(v, "warning") && strcasecmp(v, "error"))
    {
        fv_log(FV_LOG_ERROR, "FLORES_LOG_LEVEL must be debug, info, warn or error");
        ok = 0;
    }

    if (!fv_pg_schema_ok(fv_conf_str(conf, "FLORES_PG_SCHEMA", svc->name))) {
        fv_log(FV_LOG_ERROR, "FLORES_PG_SCHEMA is not a plain lower-case identifier");
        ok = 0;
    }

    if (svc->stores & FV_STORE_MONGO && fv_conf_str(conf, "FLORES_MONGO_URL", NULL) == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_MONGO_URL is not set");
        ok = 0;
    }

    if (svc->stores & FV_STORE_REDIS && !fv_redis_conf_ok(conf)) {
        fv_log(FV_LOG_ERROR, "FLORES_REDIS_URL is not set or not a redis://host:port/db URL");
        ok = 0;
    }

    if ((svc->stores & FV_STORE_PG || svc->outbox)
        && fv_conf_str(conf, "FLORES_PG_URL", NULL) == NULL)
    {
        fv_log(FV_LOG_ERROR, "FLORES_PG_URL is not set");
        ok = 0;
    }

    if ((svc->outbox || (svc->stores & FV_STORE_AMQP) || svc->consumers != NULL)
        && !fv_amqp_conf_ok(conf))
    {
        fv_log(FV_LOG_ERROR, "FLORES_AMQP_URL (or FLORES_AMQP_URL_FILE) is not set");
        ok = 0;
    }

    return ok;
}


int
fv_main(int argc, char **argv, const fv_service_t *svc)
{
    static const struct option  opts[] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "check-config", no_argument, NULL, 'c' },
        { NULL, 0, NULL, 0 }
    };
    fv_conf_t     *conf;
    fv_server_t   *s;
    sigset_t       set;
    pthread_t      sig_thread, relay;
    const char    *prog, *listen_at;
    int            c, check = 0, relay_started = 0, rc;
    long           nworkers;
    unsigned       i;

    prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

    while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            fv_usage(stdout, prog, svc);
            return 0;
        case 'V':
            (void) printf("%s %s\n", prog, PACKAGE_VERSION);
            return 0;
        case 'c':
            check = 1;
            break;
        default:
            fv_usage(stderr, prog, svc);
            return 2;
        }
    }

    if (optind < argc) {
        fv_usage(stderr, prog, svc);
        return 2;
    }

    fv_log_init(svc->name, FV_LOG_INFO);

    conf = fv_conf_open();
    if (conf == NULL) {
        return 2;
    }

    fv_log_init(svc->name, fv_conf_log_level(conf));

    if (!fv_check_conf(conf, svc)) {
        fv_conf_close(conf);
        return 2;
    }

    s = fv_server_new(svc, conf);
    if (s == NULL) {
        return 2;
    }

    if (check) {
        rc = 0;
        if (svc->init != NULL && svc->init(s) != FV_OK) {
            rc = 2;
        } else if (svc->exit != NULL) {
            svc->exit(s);
        }
        if (rc == 0) {
            (void) printf("%s: configuration ok\n", prog);
        }
        fv_server_free(s);
        return rc;
    }

    /* Every thread inherits this mask; only the signal thread takes the signals. */
    (void) sigemptyset(&set);
    (void) sigaddset(&set, SIGTERM);
    (void) sigaddset(&set, SIGINT);
    (void) pthread_sigmask(SIG_BLOCK, &set, NULL);
    (void) signal(SIGPIPE, SIG_IGN);

    if (FCGX_Init() != 0) {
        fv_log(FV_LOG_ERROR, "FCGX_Init failed");
        fv_server_free(s);
        return 1;
    }

    listen_at = fv_conf_str(conf, "FLORES_LISTEN", NULL);
    (void) snprintf(s->listen, sizeof(s->listen), "%s", listen_at);

    s->listen_fd = fv_listen(s, FV_BACKLOG);
    if (s->listen_fd < 0) {
        fv_server_free(s);
        OS_LibShutdown();
        return 1;
    }

    if (svc->init != NULL && svc->init(s) != FV_OK) {
        fv_log(FV_LOG_ERROR, "the service failed to start");
        (void) close(s->listen_fd);
        fv_listen_remove(s);
        fv_server_free(s);
        OS_LibShutdown();
        return 1;
    }

    /* The consumers' memory is pruned by the relay, or here when there is none. */
    if (!svc->outbox && svc->consumers != NULL && (svc->stores & FV_STORE_PG)
        && fv_server_every(s, "retention", 60000, fv_retention_task, NULL) != 0)
    {
        rc = 1;
        goto exit_hook;
    }

    if (pthread_create(&sig_thread, NULL, fv_signal_main, s) != 0) {
        fv_log(FV_LOG_ERROR, "cannot start the signal thread");
        rc = 1;
        goto exit_hook;
    }

    if (svc->outbox) {
        if (fv_outbox_start(s, &relay) != 0) {
            fv_log(FV_LOG_ERROR, "cannot start the outbox relay");
        } else {
            relay_started = 1;
        }
    }

    nworkers = fv_conf_long(conf, "FLORES_WORKERS", FV_WORKERS_DEFAULT, 1, FV_WORKERS_MAX);

    s->workers = calloc((size_t) nworkers, sizeof(fv_worker_t));
    if (s->workers == NULL) {
        nworkers = 0;
    }

    for (i = 0; i < (unsigned) nworkers; i++) {
        fv_worker_init(&s->workers[i], s, i);

        (void) pthread_mutex_lock(&s->lock);
        s->nworkers = i + 1;
        s->workers[i].started = pthread_create(&s->workers[i].thread, NULL, fv_worker_main,
                                               &s->workers[i]) == 0;
        (void) pthread_mutex_unlock(&s->lock);

        if (!s->workers[i].started) {
            fv_log(FV_LOG_ERROR, "cannot start worker %u", i);
        }
    }

    fv_log(FV_LOG_INFO, "listening on %s with %ld workers", s->listen, nworkers);

    fv_tasks_start(s);

    rc = 0;

    if (svc->consumers != NULL && fv_consumers_start(s) != 0) {
        fv_log(FV_LOG_ERROR, "cannot start the consumers");
        rc = 1;
        fv_server_stop(s);
    }

    for (i = 0; i < s->nworkers; i++) {
        if (s->workers[i].started) {
            (void) pthread_join(s->workers[i].thread, NULL);
        } else {
            rc = 1;
        }
    }

    /* Workers return only once stopping, unless none could start. */
    fv_server_stop(s);

    if (relay_started) {
        (void) pthread_join(relay, NULL);
    }

    fv_tasks_stop(s);
    fv_consumers_stop(s);

    if (!atomic_load(&s->signalled)) {
        (void) pthread_kill(sig_thread, SIGTERM);
    }
    (void) pthread_join(sig_thread, NULL);

exit_hook:

    if (svc->exit != NULL) {
        svc->exit(s);
    }

    (void) close(s->listen_fd);
    fv_listen_remove(s);

    fv_server_free(s);
    OS_LibShutdown();
    fv_mongo_cleanup();

    fv_log(FV_LOG_INFO, "stopped");
    return rc;
}
