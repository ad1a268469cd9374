/* fv_internal.h: what the library's files share and the unit tests reach; not for services. */

#ifndef FV_INTERNAL_H
#define FV_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <time.h>
#include <fcgiapp.h>
#include <amqp.h>
#include "fv.h"


#define FV_MAX_PARAMS          8        /* ":name" parameters in one pattern */
#define FV_MAX_BODY_DEFAULT    65536
#define FV_REQUEST_ID_MAX      64
#define FV_JSON_DEPTH          32       /* nesting of a request body */
#define FV_RETRY_AFTER         "5"      /* seconds, on 503 */

typedef struct fv_io_s       fv_io_t;
typedef struct fv_http_s     fv_http_t;
typedef struct fv_consume_s  fv_consume_t;


/* ---- a growable text buffer (fv_util.c) ------------------------------------------------
 * Appends never fail loudly: after an allocation failure the buffer is marked failed and
 * further appends do nothing, so a caller checks once at the end. */

typedef struct {
    char                 *data;
    size_t                len;
    size_t                cap;
    int                   failed;
} fv_buf_t;

void fv_buf_init(fv_buf_t *b);
void fv_buf_free(fv_buf_t *b);
void fv_buf_add(fv_buf_t *b, const char *s, size_t len);
void fv_buf_str(fv_buf_t *b, const char *s);
void fv_buf_printf(fv_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string with its quotes; invalid UTF-8 becomes U+FFFD. */
void fv_buf_json_str(fv_buf_t *b, const char *s, size_t len);

/* Milliseconds of a monotonic clock. */
double fv_now_ms(void);
/* The length of the valid UTF-8 sequence at s (1 to 4 bytes), 0 when it is not one. */
size_t fv_utf8_seq(const unsigned char *s, size_t len);
/* Checks UTF-8 strictly (no overlongs, surrogates or values above U+10FFFF); returns the
 * number of characters, or -1. */
long fv_utf8_len(const char *s, size_t len);
/* Decodes %XX (and '+' as a space when plus is set) into out (size at least len + 1);
 * returns the decoded length or -1 on a malformed escape. */
long fv_percent_decode(const char *in, size_t len, char *out, int plus);
/* A positive decimal integer without sign or leading zeros; -1 otherwise. */
int64_t fv_parse_id(const char *s);
/* ≤64 characters of [A-Za-z0-9._-], not empty. */
int fv_request_id_ok(const char *s);


/* ---- configuration (fv_conf.c) -------------------------------------------------------- */

/* True when key is unset or holds a valid integer within [min, max]. */
int fv_conf_long_ok(const fv_conf_t *conf, const char *key, long min, long max);
fv_log_level_e fv_conf_log_level(const fv_conf_t *conf);


/* ---- logging (fv_log.c) --------------------------------------------------------------- */

/* The request's line; quiet lines (health checks and scrapes that went well) are debug. */
void fv_log_request(const fv_req_t *r, int status, double duration_ms, int quiet);


/* ---- JSON bodies and query strings (fv_req.c) ----------------------------------------- */

typedef enum {
    FV_BODY_OK = 0,
    FV_BODY_INVALID,          /* not JSON (RFC 8259), or nested deeper than FV_JSON_DEPTH */
    FV_BODY_NOT_OBJECT        /* JSON, but not an object */
} fv_body_e;

/* Checks buf against the JSON grammar strictly (no trailing data, no comments, no NaN,
 * no raw control characters in strings, valid UTF-8, paired surrogates). */
int fv_json_check(const char *buf, size_t len, int max_depth);
/* Parses a request body; an empty body is {}.  *out is set only for FV_BODY_OK. */
fv_body_e fv_body_parse(const char *buf, size_t len, json_object **out);
/* Builds the query arguments: only the keys of spec (all of them when spec is NULL), values
 * percent-decoded strings, repeated keys an array for FV_ARRAY fields and an error
 * otherwise; then validates them.  Returns the number of errors added. */
size_t fv_query_parse(const char *query, const fv_field_t *spec, json_object **args,
    fv_errors_t *e);
/* The raw value of key in a query string, decoded into out; 1 found, 0 absent, -1 bad. */
int fv_query_get(const char *query, const char *key, char *out, size_t size);
/* application/json, any case, with optional parameters. */
int fv_content_type_json(const char *ct);


/* ---- validation errors (fv_valid.c) --------------------------------------------------- */

/* fv_validate() for a nested object, with field names under prefix ("a.b", "items[2]"). */
size_t fv_validate_at(json_object *obj, const fv_field_t *spec, const char *prefix,
    int from_query, fv_errors_t *e);
/* One field of spec against obj (present, null, absent, then its type and bounds). */
size_t fv_validate_field(json_object *obj, const fv_field_t *f, const char *prefix,
    int from_query, fv_errors_t *e);
/* The errors as a JSON array of {field, message}; the array stays owned by e. */
json_object *fv_errors_json(const fv_errors_t *e);


/* ---- routes (fv_route.c) -------------------------------------------------------------- */

typedef struct {
    const char           *name;       /* into the pattern, not terminated */
    size_t                name_len;
    char                 *value;      /* decoded, malloc'ed */
} fv_param_t;

typedef enum {
    FV_ROUTE_FOUND = 0,
    FV_ROUTE_NOT_FOUND,
    FV_ROUTE_NO_METHOD          /* the path exists with other methods: allow lists them */
} fv_route_e;

/* Checks a table once at start: patterns, methods, duplicates.  -1 with a logged reason. */
int fv_routes_check(const fv_route_t *routes);
/* Finds the route for method and path; literal segments win over parameters.  On
 * FV_ROUTE_FOUND, params[0 .. *nparams) hold the decoded parameters (the caller frees
 * them with fv_params_free). */
fv_route_e fv_route_match(const fv_route_t *routes, const char *method, const char *path,
    const fv_route_t **found, fv_param_t *params, size_t *nparams, char *allow,
    size_t allow_size);
void fv_params_free(fv_param_t *params, size_t n);


/* ---- requests (fv_req.c, fv_reply.c, fv_server.c) ------------------------------------- */

typedef struct {
    fv_io_t              *io;
    fv_param_t            params[FV_MAX_PARAMS];
    size_t                nparams;
    fv_buf_t              headers;       /* extra reply headers, "Name: value\r\n" each */
    int                   replied;
    int                   status;
    char                  request_id[FV_REQUEST_ID_MAX + 1];
    char                  user_id[24];   /* the principal's id as text, r->user_id */
} fv_req_impl_t;


/* The request came through the gateway's internal API passage (FLORES_INTERNAL=1). */
int fv_req_internal(const fv_req_t *r);

/* A whole envelope built by the caller (root is consumed). */
int fv_reply_json(fv_req_t *r, int status, json_object *root);


/* ---- metrics (fv_metrics.c) ----------------------------------------------------------- */

typedef struct fv_metrics_s fv_metrics_t;

/* One series per route pattern; route index nroutes is "unmatched". */
fv_metrics_t *fv_metrics_new(const char *service, const char *const *patterns, size_t nroutes);
/* Makes the store's error counter exist (at zero) before its first error. */
void fv_metrics_store_declare(fv_metrics_t *m, const char *store);
void fv_metrics_free(fv_metrics_t *m);
void fv_metrics_request(fv_metrics_t *m, size_t route, const char *method, int status,
    double seconds);
void fv_metrics_outbox(fv_metrics_t *m, uint64_t published, int64_t pending);

typedef enum {
    FV_CONSUMED_HANDLED = 0,
    FV_CONSUMED_RETRIED,
    FV_CONSUMED_DEAD,
    FV_CONSUMED_N
} fv_consumed_e;

/* flores_events_consumed_total{consumer}: the consumer's index for fv_metrics_consumed(),
 * -1 past the table's room (its counts are then not kept). */
int fv_metrics_consumer_declare(fv_metrics_t *m, const char *name);
void fv_metrics_consumed(fv_metrics_t *m, int consumer, fv_consumed_e outcome);
void fv_metrics_render(fv_metrics_t *m, int outbox, fv_buf_t *out);


/* ---- the server (fv_server.c) --------------------------------------------------------- */

/* Where a request comes from and its answer goes: libfcgi streams in the server, memory
 * in the unit tests. */
struct fv_io_s {
    char                **envp;
    /* Bytes read into buf, 0 at the end of the body, -1 on an error. */
    long                (*read)(fv_io_t *io, char *buf, size_t size);
    int                 (*write)(fv_io_t *io, const char *buf, size_t len);
    /* The reply is complete: flush it and let the gateway go (NULL: nothing to do). */
    void                (*finish)(fv_io_t *io);
    void                 *data;
};

typedef enum {
    FV_WORKER_BUSY = 0,
    FV_WORKER_IDLE
} fv_worker_state_e;

struct fv_worker_s {
    fv_server_t          *server;
    unsigned              id;
    pthread_t             thread;
    int                   started;
    FCGX_Request          fcgi;
    PGconn               *pg;
    int                   pg_in_tx;      /* fv_pg_begin() ran and no commit/rollback yet */
    int                   pg_tx_broken;  /* the connection broke inside that transaction */
    struct _mongoc_client_t  *mongo;     /* FV_STORE_MONGO (fv_mongo.c), NULL until used */
    int                   mongo_broken;  /* failed: closed once the request has let go of it */
    fv_worker_state_e     state;         /* under server->lock */
    int                   idle_fd;       /* a kept connection waited on while idle */
    fv_amqp_t            *amqp;          /* fv_publish(): opened lazily, dropped on failure */
    fv_http_t            *http;          /* fv_http_json(): a kept-alive libcurl handle */
    struct redisContext  *redis;         /* FV_STORE_REDIS (fv_redis.c), NULL until used */
    int                   redis_broken;  /* failed: closed at the end of the request */
    double                key_warned;    /* fv_now_ms() of the last "no gateway key" line */
};

typedef struct {
    const char           *name;
    long                  interval_ms;
    fv_task_pt            fn;
    void                 *arg;
    fv_worker_t           worker;
    pthread_t             thread;
    int                   started;
} fv_task_t;

struct fv_server_s {
    const fv_service_t   *svc;
    fv_conf_t            *conf;
    void                 *data;
    char                  schema[64];
    const fv_route_t     *routes;        /* the service's table */
    size_t                nroutes;
    fv_route_t           *builtin;       /* /health and /metrics */
    fv_metrics_t         *metrics;
    size_t                max_body;
    int                   listen_fd;
    char                  listen[256];
    dev_t                 listen_dev;    /* the unix socket this process created, removed */
    ino_t                 listen_ino;    /* at exit only while it is still that one */
    unsigned char        *gateway_key;   /* FLORES_GATEWAY_KEY[_FILE]; NULL: not required */
    size_t                gateway_key_len;
    atomic_int            stopping;
    atomic_int            signalled;
    int                   wake[2];       /* a pipe: written once to wake the relay on stop */
    pthread_mutex_t       lock;
    fv_worker_t          *workers;
    unsigned              nworkers;
    fv_consume_t         *consumers;     /* one per fv_service_t.consumers entry */
    unsigned              nconsumers;
    int                   curl_ready;    /* curl_global_init() ran */
    fv_task_t             tasks[FV_TASKS_MAX];   /* fv_server_every() */
    unsigned              ntasks;
};

/* The gateway key, when one is configured: every request must carry it as the FastCGI
 * parameter FLORES_GATEWAY_KEY.  Compares given (NULL: absent) with key in constant time
 * for a given of the key's length, and without returning early on another length. */
int fv_gateway_key_ok(const unsigned char *key, size_t key_len, const char *given);
/* Reads FLORES_GATEWAY_KEY, or the file named by FLORES_GATEWAY_KEY_FILE: *key NULL when
 * neither is set; -1 with a logged reason when it is unreadable, shorter than
 * FV_GATEWAY_KEY_MIN bytes or holds a byte outside [A-Za-z0-9+/=._-]. */
int fv_gateway_key_load(const fv_conf_t *conf, unsigned char **key, size_t *len);

#define FV_GATEWAY_KEY_MIN  32

/* FLORES_LISTEN_MODE as a file mode (default 0660); -1 when it is not octal 0 to 0777. */
long fv_listen_mode(const fv_conf_t *conf);

/* A server without a socket, for fv_main() and the unit tests (conf becomes the server's). */
fv_server_t *fv_server_new(const fv_service_t *svc, fv_conf_t *conf);
void fv_server_free(fv_server_t *s);
/* Handles one request from io to its reply, log line and metrics. */
void fv_dispatch(fv_worker_t *w, fv_io_t *io);

/* A worker of s: request threads and consumer threads alike hold one, with its own store
 * connections, each opened on first use. */
void fv_worker_init(fv_worker_t *w, fv_server_t *s, unsigned id);
/* After each request or message: nothing is left open for the next one (a transaction). */
void fv_worker_end(fv_worker_t *w);
/* Closes every store connection of the worker. */
void fv_worker_close(fv_worker_t *w);


/* ---- PostgreSQL (fv_pg.c) ------------------------------------------------------------- */

/* At the end of every request: leaves no transaction open on the worker's connection. */
void fv_pg_request_end(fv_worker_t *w);
void fv_pg_close(fv_worker_t *w);
/* Store check for /health: SELECT 1 answered. */
int fv_pg_ping(fv_worker_t *w);
/* A schema name safe to put in options: [a-z_][a-z0-9_]{0,62}. */
int fv_pg_schema_ok(const char *schema);


/* ---- MongoDB (fv_mongo.c) ------------------------------------------------------------ */

/* The driver's process-wide start (once, whoever comes first) and end (at exit, when
 * started). */
void fv_mongo_init(void);
void fv_mongo_cleanup(void);
void fv_mongo_close(fv_worker_t *w);
/* At the end of every request or message: a client that failed is closed (the next use
 * opens a new one). */
void fv_mongo_request_end(fv_worker_t *w);
/* Store check for /health: "ping" answered. */
int fv_mongo_ping(fv_worker_t *w);


/* ---- Redis (fv_redis.c) -------------------------------------------------------------- */

/* FLORES_REDIS_URL is a redis://host:port/db URL. */
int fv_redis_conf_ok(const fv_conf_t *conf);
void fv_redis_close(fv_worker_t *w);
/* At the end of every request or message: a connection that failed is closed. */
void fv_redis_request_end(fv_worker_t *w);
/* Store check for /health: PING answered. */
int fv_redis_ping(fv_worker_t *w);


/* ---- events (fv_outbox.c, fv_publish.c, fv_consume.c) -------------------------------- */

int fv_outbox_start(fv_server_t *s, pthread_t *thread);
/* FLORES_OUTBOX_RETENTION, seconds (default 604800). */
long fv_outbox_retention(const fv_conf_t *conf);
/* Deletes, on pg (outside a transaction), the published outbox rows (when outbox) and the
 * processed_events rows older than retention seconds, in small batches; the number of rows
 * deleted, or -1 after a failure (logged). */
long fv_outbox_prune(PGconn *pg, long retention, int outbox);
/* The periodic task that prunes processed_events in a service with consumers and no outbox. */
void fv_retention_task(fv_worker_t *w, void *arg);
/* [a-z0-9._-]{1,255} */
int fv_event_type_ok(const char *type);
/* A UUID in its 36-character text form, any case. */
int fv_uuid_ok(const char *s);

/* The worker's publishing connection: /health's check (opens it when needed, answers
 * whether the broker responds) and its closing. */
int fv_publish_ping(fv_worker_t *w);
void fv_publish_close(fv_worker_t *w);

/* Checks the consumer table at start (names, bindings, bounds); -1 with a logged reason. */
int fv_consumers_check(const fv_service_t *svc);
/* Starts one thread per consumer, after the request workers. */
int fv_consumers_start(fv_server_t *s);
/* Once the server is stopping (its wake pipe written): waits for every consumer to finish
 * the message in hand, and frees them. */
void fv_consumers_stop(fv_server_t *s);
/* The delay before attempt attempts + 1, after attempts failed ones: 1 s doubling up to
 * max_ms. */
long fv_consume_delay(int attempts, long max_ms);


/* ---- RabbitMQ (fv_amqp.c) ------------------------------------------------------------- */

typedef struct {
    const char           *exchange;      /* NULL: the events exchange; "": a queue by name */
    const char           *routing_key;
    const char           *message_id;    /* NULL: none */
    const char           *type;          /* NULL: none */
    const char           *expiration;    /* a per-message TTL in ms, as text; NULL: none */
    amqp_table_t          headers;       /* num_entries 0: none */
} fv_amqp_msg_t;

/* Given each frame of another channel that arrives while a publish awaits its confirm (a
 * consumer's deliveries); 0 to go on waiting, -1 when the connection is unusable. */
typedef int (*fv_amqp_frame_pt)(void *ctx, amqp_frame_t *frame);

/* fv_amqp_open() with heartbeats every heartbeat seconds (0: none). */
fv_amqp_t *fv_amqp_connect(const fv_conf_t *conf, int heartbeat);
/* Publishes one persistent JSON message on channel 1 and waits for its confirm; 0 or -1
 * (the connection is then unusable). */
int fv_amqp_send(fv_amqp_t *a, const fv_amqp_msg_t *m, const void *body, size_t len,
    fv_amqp_frame_pt other, void *ctx);
int fv_amqp_broken(const fv_amqp_t *a);
/* Whether the broker's URL is given: FLORES_AMQP_URL or FLORES_AMQP_URL_FILE (a URL that
 * holds a password kept out of the environment), either not empty. */
int fv_amqp_conf_ok(const fv_conf_t *conf);
void fv_amqp_set_broken(fv_amqp_t *a);
/* The last synchronous call went well; otherwise logs why and marks the connection broken. */
int fv_amqp_rpc_ok(fv_amqp_t *a, const char *what);
/* An idle publishing connection has received nothing (no close, no end of stream). */
int fv_amqp_idle_ok(fv_amqp_t *a);
const char *fv_amqp_exchange(const fv_amqp_t *a);


/* ---- the internal HTTP client (fv_http.c) --------------------------------------------- */

void fv_http_close(fv_worker_t *w);

#endif /* FV_INTERNAL_H */
