/* fv.h: the service library: FastCGI server, routes, JSON bodies, validation, JSend replies,
 * logging, configuration, PostgreSQL, the transactional outbox, RabbitMQ and metrics. */

#ifndef FV_H
#define FV_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <json-c/json.h>
#include <libpq-fe.h>


typedef struct fv_conf_s     fv_conf_t;
typedef struct fv_server_s   fv_server_t;
typedef struct fv_worker_s   fv_worker_t;
typedef struct fv_req_s      fv_req_t;
typedef struct fv_field_s    fv_field_t;
typedef struct fv_route_s    fv_route_t;
typedef struct fv_service_s  fv_service_t;
typedef struct fv_consumer_s fv_consumer_t;


/* ---- results of handlers and store calls ---------------------------------------------- */

#define FV_OK            0    /* a reply was sent */
#define FV_ERROR        -1    /* internal error: the library answers 500 INTERNAL_ERROR */
#define FV_STORE_DOWN   -2    /* store unreachable: the library answers 503 SERVICE_UNAVAILABLE */
#define FV_RETRY        -3    /* consumers: try this message again later */
#define FV_REJECT       -4    /* consumers: permanent failure, dead-letter the message */


/* ---- configuration (fv_conf.c) --------------------------------------------------------
 * Every setting is a FLORES_* name.  Sources, first match wins: the environment; the file
 * named by FLORES_CONFIG (KEY=VALUE lines, '#' comments).  A secret may instead be given
 * as KEY_FILE=path, whose contents (trailing newline removed) are the value; secrets are
 * never logged.  Loaded once before the workers start, read-only afterwards. */

fv_conf_t *fv_conf_open(void);
void fv_conf_close(fv_conf_t *conf);
const char *fv_conf_str(const fv_conf_t *conf, const char *key, const char *def);
long fv_conf_long(const fv_conf_t *conf, const char *key, long def, long min, long max);
/* Reads KEY, or the file named by KEY_FILE; returns a malloc'ed buffer (caller frees,
 * after clearing it) and its length, or NULL when neither is set or the file is unreadable. */
unsigned char *fv_conf_secret(const fv_conf_t *conf, const char *key, size_t *len);


/* ---- logging (fv_log.c) ---------------------------------------------------------------
 * One JSON object per line on stderr:
 *   {"time":"...Z","level":"info","service":"auth","msg":"..."}
 * and, per request (written by the library after each reply; error for 5xx, debug for
 * /health and /metrics that went well, info otherwise):
 *   {"time","level","service","requestId","method","path","status","durationMs","userId"} */

typedef enum {
    FV_LOG_DEBUG = 0,
    FV_LOG_INFO,
    FV_LOG_WARN,
    FV_LOG_ERROR
} fv_log_level_e;

void fv_log_init(const char *service, fv_log_level_e min_level);
void fv_log(fv_log_level_e level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Same, with the request's requestId and userId. */
void fv_log_req(const fv_req_t *r, fv_log_level_e level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));


/* ---- validation (fv_valid.c) ----------------------------------------------------------
 * A spec is an array of fields ending with an entry whose name is NULL.  Every bad field is
 * reported, each with a Spanish message; unknown fields are ignored.  Strings must be valid
 * UTF-8 without control characters (FV_MULTILINE allows \n, \r and \t); their length is
 * counted in characters.  In query strings, FV_INT and FV_BOOL are parsed from text. */

typedef enum {
    FV_STRING = 1,
    FV_EMAIL,       /* string, lower-cased and trimmed before checks, max 254 */
    FV_INT,         /* integral JSON number (no fraction), within [min, max] */
    FV_BOOL,
    FV_ENUM,        /* string, one of choices[] */
    FV_DATE,        /* string YYYY-MM-DD */
    FV_OBJECT,      /* nested object validated against fields[] */
    FV_ARRAY        /* array of [min, max] items, each validated as item[0] */
} fv_type_e;

#define FV_REQUIRED   0x01
#define FV_NULLABLE   0x02    /* null accepted and treated as absent */
#define FV_MULTILINE  0x04
#define FV_TRIM       0x08    /* leading and trailing white space removed before checks */

struct fv_field_s {
    const char           *name;
    fv_type_e             type;
    unsigned              flags;
    long                  min;       /* characters, value or items; 0 and 0: no bound;
                                        max 0 with min > 0: no upper bound */
    long                  max;
    const char *const    *choices;   /* FV_ENUM, NULL-terminated */
    const fv_field_t     *fields;    /* FV_OBJECT members, or FV_ARRAY item spec (one entry) */
};

typedef struct fv_errors_s fv_errors_t;

fv_errors_t *fv_errors_new(void);
void fv_errors_free(fv_errors_t *e);
void fv_errors_add(fv_errors_t *e, const char *field, const char *message);
size_t fv_errors_count(const fv_errors_t *e);
/* Validates obj against spec, normalising it in place (trimmed strings, lower-cased
 * emails); field names of nested errors are dotted ("shippingAddress.city", "items[2].quantity").
 * Returns the number of errors added. */
size_t fv_validate(json_object *obj, const fv_field_t *spec, int from_query, fv_errors_t *e);


/* ---- routes (fv_route.c) --------------------------------------------------------------
 * A service is its route table.  Patterns are literal segments and ":name" parameters
 * ("/api/orders/:id/status"); a literal segment wins over a parameter wherever the table
 * lists them ("/api/orders/all" before "/api/orders/:id"), and one trailing slash in a path
 * is ignored.  The table is checked at start (methods, patterns, duplicates).  Query
 * arguments reach the handler in r->args: with a spec, only its keys, percent-decoded,
 * FV_INT and FV_BOOL converted, an FV_ARRAY from repeated keys, other repeated keys
 * refused, empty values absent; without one, every argument as a string (the first of
 * repeated keys).  Before a handler runs, the library has checked: the gateway key when one
 * is configured (403 FORBIDDEN), the principal (401 UNAUTHORIZED when the identity
 * parameters name none), the path and
 * method (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED with Allow), the caller (401/403 by access),
 * the body (415 for a non-JSON Content-Type, 413 over the limit, 400 INVALID_JSON, 400
 * VALIDATION_ERROR listing every bad field), and the query string against its spec. */

typedef enum {
    FV_PUBLIC = 0,      /* anyone; identity passed when the gateway verified a token */
    FV_USER,            /* a customer or an admin (401 for anyone else) */
    FV_ADMIN,           /* an admin (401 without a customer or admin, 403 a customer) */
    FV_INTERNAL,        /* /health, /metrics: never routed from the public listener */
    FV_SERVICE          /* another service through the internal listener (principal
                           service: /internal/<service>/api/...), or an admin */
} fv_access_e;

typedef int (*fv_handler_pt)(fv_req_t *r);

struct fv_route_s {
    const char           *method;
    const char           *pattern;
    fv_access_e           access;
    const fv_field_t     *body;      /* NULL: the route takes no body */
    const fv_field_t     *query;     /* NULL: query arguments unchecked */
    fv_handler_pt         handler;
};

#define FV_ROUTES_END  { NULL, NULL, FV_PUBLIC, NULL, NULL, NULL }


/* ---- who is calling (fv_req.c) --------------------------------------------------------
 * The library resolves one principal per request, before routing and before any handler,
 * from the gateway's FastCGI parameters FLORES_USER_ID, FLORES_USER_ROLE and FLORES_INTERNAL
 * (an empty parameter is an absent one):
 *   no id, no role                                   anonymous
 *   id and role "customer" or "admin"                that user; the id is a canonical
 *                                                    decimal integer: [1-9][0-9]*, at most
 *                                                    2^53 (no sign, zeros, spaces, exponent)
 *   role "service", no id, FLORES_INTERNAL "1"       another service, through the gateway's
 *                                                    internal API passage
 * Anything else (a malformed or out-of-range id, an unknown role, an id without a role or a
 * role without an id, "service" outside the passage) is answered 401 UNAUTHORIZED before any
 * handler runs: identity fails closed.  Access levels (FV_USER, FV_ADMIN, FV_SERVICE) are
 * checked on r->principal alone. */

typedef enum {
    FV_PRINCIPAL_ANONYMOUS = 0,
    FV_PRINCIPAL_CUSTOMER,
    FV_PRINCIPAL_ADMIN,
    FV_PRINCIPAL_SERVICE
} fv_principal_e;

#define FV_PRINCIPAL_ID_MAX  ((int64_t) 1 << 53)    /* the largest id a JSON number keeps */

typedef struct {
    fv_principal_e        kind;
    int64_t               id;          /* 1 .. FV_PRINCIPAL_ID_MAX for customer and admin,
                                          0 for anonymous and service */
} fv_principal_t;

/* Resolves the three parameters (NULL or "" when absent) into *p; -1 when they do not
 * name a principal (*p is then anonymous, and the request must be refused). */
int fv_principal_parse(const char *id, const char *role, const char *internal,
    fv_principal_t *p);
/* "anonymous", "customer", "admin" or "service". */
const char *fv_principal_name(fv_principal_e kind);


/* ---- requests (fv_req.c) -------------------------------------------------------------- */

struct fv_req_s {
    fv_worker_t          *worker;
    const fv_route_t     *route;
    const char           *method;
    const char           *path;        /* DOCUMENT_URI, without the query string */
    const char           *query;       /* QUERY_STRING, raw, "" when absent */
    const char           *request_id;  /* FLORES_REQUEST_ID from the gateway, or generated */
    fv_principal_t        principal;   /* who is calling, resolved before routing */
    /* The principal as text, for logs and older callers: user_id the canonical id (NULL
     * unless customer or admin), user_role "customer", "admin", "service" or NULL. */
    const char           *user_id;
    const char           *user_role;
    const char           *user_email;  /* FLORES_USER_EMAIL (a customer's or admin's) */
    json_object          *body;        /* validated body; NULL when the route takes none */
    json_object          *args;        /* validated query arguments (always an object) */
    void                 *impl;        /* the library's own state */
};

/* A FastCGI parameter, e.g. "FLORES_JWT_SID", "REMOTE_ADDR"; NULL when absent. */
const char *fv_req_param(const fv_req_t *r, const char *name);
/* A request header by its HTTP name ("Idempotency-Key"); NULL when absent. */
const char *fv_req_header(const fv_req_t *r, const char *name);
/* A ":name" path parameter, percent-decoded. */
const char *fv_req_path(const fv_req_t *r, const char *name);
/* A ":name" path parameter as a positive 64-bit integer; -1 when it is not one. */
int64_t fv_req_path_id(const fv_req_t *r, const char *name);
/* The principal's id for a customer or an admin; -1 otherwise (never 0). */
int64_t fv_req_user_id(const fv_req_t *r);
/* r->principal.kind is FV_PRINCIPAL_ADMIN. */
int fv_req_is_admin(const fv_req_t *r);
/* Another service calling through the gateway's internal listener: r->principal.kind is
 * FV_PRINCIPAL_SERVICE. */
int fv_req_is_service(const fv_req_t *r);
/* page and limit from the query (defaults 1 and 20, limit 1..100).  On a bad value a 400
 * VALIDATION_ERROR has been sent and -1 is returned: the handler then returns FV_OK. */
int fv_req_page(fv_req_t *r, long *page, long *limit);


/* ---- replies (fv_reply.c) -------------------------------------------------------------
 * Exactly one reply per request (a second is logged and dropped).  JSend envelopes:
 *   2xx {"status":"success","data":{...},"message"?}       (data NULL: {}; 204: no body)
 *   4xx {"status":"fail","code","message","errors"?,"requestId"}
 *   5xx {"status":"error","code","message","requestId"}
 * The envelope follows the status (fv_fail and fv_error only differ in intent).
 * Functions taking a json_object take ownership of it.  All return FV_OK. */

int fv_reply(fv_req_t *r, int status, json_object *data, const char *message);
int fv_fail(fv_req_t *r, int status, const char *code, const char *message);
int fv_fail_errors(fv_req_t *r, fv_errors_t *errors);      /* 400 VALIDATION_ERROR; frees errors */
int fv_fail_field(fv_req_t *r, const char *field, const char *message); /* one bad field */
int fv_error(fv_req_t *r, int status, const char *code, const char *message);
int fv_reply_raw(fv_req_t *r, int status, const char *content_type, const char *body, size_t len);
/* Adds a response header before the reply ("Location", "Retry-After", ...). */
void fv_reply_header(fv_req_t *r, const char *name, const char *value);


/* ---- the server (fv_server.c) ---------------------------------------------------------
 * FLORES_LISTEN (host:port or a unix socket path), FLORES_WORKERS threads (default 8), each
 * accepting on its own FCGX_Request and owning its store connections.  SIGTERM/SIGINT: stop
 * accepting, finish requests in flight, run the exit hooks, exit 0.  GET /health and
 * GET /metrics are answered by the library.
 *
 * A unix socket path starts with '/'.  Its file gets FLORES_LISTEN_MODE (octal, 0 to 0777,
 * default 0660) and, when FLORES_LISTEN_GROUP names a group, that group (an unknown group
 * stops the start); both are set before the socket listens.  An existing path is replaced
 * only when it is a socket nobody answers on; any other file, or a live socket, stops the
 * start.  At exit the file is removed if it is still this process's.  Both settings with a
 * host:port stop the start.
 *
 * FLORES_GATEWAY_KEY_FILE (or FLORES_GATEWAY_KEY): a file read at start holding the gateway
 * key, at least 32 bytes of [A-Za-z0-9+/=._-] after its trailing newline is removed;
 * unreadable or shorter stops the start.  When set, every request (/health and /metrics
 * included) must carry the FastCGI parameter FLORES_GATEWAY_KEY with that value, compared
 * in constant time, before identity or routing are looked at; otherwise 403 FORBIDDEN and
 * a warn line (at most one a second per worker, never the value). */

#define FV_STORE_PG      0x01
#define FV_STORE_MONGO   0x02    /* fv_mongo.h */
#define FV_STORE_REDIS   0x04    /* fv_redis.h */
#define FV_STORE_AMQP    0x08    /* a broker connection per worker, for fv_publish() */

struct fv_service_s {
    const char           *name;          /* "auth": logs, metrics, default FLORES_PG_SCHEMA */
    const fv_route_t     *routes;
    unsigned              stores;        /* FV_STORE_*: opened per worker, checked by /health */
    int                   outbox;        /* relay the outbox table to RabbitMQ */
    /* Process start, after configuration, before the workers; may set server data. */
    int                 (*init)(fv_server_t *s);
    void                (*exit)(fv_server_t *s);
    const fv_consumer_t  *consumers;     /* NULL, or an array ending with a NULL name */
};

/* Parses the command line (--help, --version, --check-config), loads the configuration,
 * runs the service until it is told to stop.  Returns the process exit status. */
int fv_main(int argc, char **argv, const fv_service_t *svc);

const fv_conf_t *fv_server_conf(const fv_server_t *s);
void fv_server_set_data(fv_server_t *s, void *data);
void *fv_server_data(const fv_server_t *s);
fv_server_t *fv_worker_server(const fv_worker_t *w);

/* A periodic task, registered from fv_service_t.init: fn runs on a thread of its own with a
 * worker of its own (store connections like a request worker's, cleaned up after each run),
 * once as soon as the request workers have started and then every interval_ms (1000 ..
 * 86400000) until the server stops; a run in progress is waited for at the stop.  At most
 * FV_TASKS_MAX per server; -1 (logged) when full or interval_ms is out of range. */
#define FV_TASKS_MAX  4

typedef void (*fv_task_pt)(fv_worker_t *w, void *arg);

int fv_server_every(fv_server_t *s, const char *name, long interval_ms, fv_task_pt fn,
    void *arg);
fv_server_t *fv_req_server(const fv_req_t *r);
const fv_conf_t *fv_req_conf(const fv_req_t *r);


/* ---- PostgreSQL (fv_pg.c) -------------------------------------------------------------
 * FLORES_PG_URL (a libpq URL or key=value string; the password may come from
 * FLORES_PG_PASSWORD_FILE) and FLORES_PG_SCHEMA (default: the service name) set the
 * connection; every worker holds its own, opened lazily and reopened after a failure, with
 * a 2 s connect timeout and FLORES_PG_STATEMENT_TIMEOUT (default 5000 ms).  Parameters are
 * always passed separately from the SQL text. */

/* Returns the result (caller PQclear()s it) whatever its status, or NULL when the server
 * could not be reached or the connection broke: the caller returns FV_STORE_DOWN. */
PGresult *fv_pg_exec(fv_worker_t *w, const char *sql, int nparams, const char *const *params);
/* Same, true when the result is PGRES_COMMAND_OK or PGRES_TUPLES_OK; logs the error otherwise. */
int fv_pg_ok(const PGresult *res);
/* The SQLSTATE of a failed result ("23505"), "" when none. */
const char *fv_pg_sqlstate(const PGresult *res);
/* BEGIN / COMMIT / ROLLBACK; return FV_OK, FV_ERROR or FV_STORE_DOWN. */
int fv_pg_begin(fv_worker_t *w);
int fv_pg_commit(fv_worker_t *w);
void fv_pg_rollback(fv_worker_t *w);
/* A standalone connection for programs and threads outside the workers (outbox relay,
 * command-line tools); NULL with a logged reason on failure. */
PGconn *fv_pg_connect(const fv_conf_t *conf, const char *schema);


/* ---- events: the transactional outbox (fv_outbox.c) -----------------------------------
 * The service's schema holds
 *   outbox(id bigserial, event_id uuid, type text, source text, payload jsonb,
 *          occurred_at timestamptz, published_at timestamptz)
 * (lib/sql/outbox.sql, included in each service's first migration).  fv_outbox_add() writes
 * an event inside the caller's open transaction, so the event exists exactly when the data
 * does.  The relay thread (fv_service_t.outbox) publishes unpublished rows in id order to
 * the topic exchange FLORES_AMQP_EXCHANGE (default "flores.events") on FLORES_AMQP_URL with
 * publisher confirms, persistent, routing key = type, body
 *   {"id","type","occurredAt","source","data"}
 * and marks them published only after the broker confirmed.  Broker down: rows wait and the
 * relay retries with backoff.  Delivery is at least once; consumers deduplicate on id.
 * Published rows and consumers' processed_events rows older than FLORES_OUTBOX_RETENTION
 * seconds (default 604800, 7 days) are deleted by the relay, in small batches. */

/* type is [a-z0-9._-]{1,255}; data stays the caller's (NULL: {}).  Returns FV_OK, FV_ERROR
 * or FV_STORE_DOWN. */
int fv_outbox_add(fv_worker_t *w, const char *type, json_object *data);
/* The same for an event whose data must not outlive its delivery (a password-reset link):
 * once the broker confirmed it, the relay replaces the row's payload with {"redacted":true}. */
int fv_outbox_add_secret(fv_worker_t *w, const char *type, json_object *data);
/* The same on a standalone connection (command-line tools), inside its open transaction;
 * schema is the one the relay listens for. */
int fv_outbox_add_conn(PGconn *pg, const char *source, const char *schema, const char *type,
    json_object *data);


/* ---- events: direct publishing (fv_publish.c) -----------------------------------------
 * For services without a database (contact): publishes one event to flores.events on the
 * worker's own broker connection (FV_STORE_AMQP), persistent, and returns only after the
 * broker confirmed it: FV_OK, FV_STORE_DOWN (broker unreachable, refusing or not confirming
 * within FLORES_AMQP_TIMEOUT: the caller answers 503; after a timeout the broker may still
 * have taken it, which consumers' deduplication absorbs), FV_ERROR (type not
 * [a-z0-9._-]{1,255}, data not an object).  data stays the caller's (NULL: {}).  The
 * connection is opened on first use, dropped after a failure and reopened by the next call
 * (also when the broker closed it meanwhile).  /health checks it as "rabbitmq".  event_id
 * (37 bytes) receives the event's id when not NULL ("" on failure). */

int fv_publish(fv_worker_t *w, const char *type, json_object *data, char *event_id);


/* ---- events: consumers (fv_consume.c) -------------------------------------------------
 * A service lists its consumers in fv_service_t.consumers.  For each, the library runs a
 * thread with its own RabbitMQ connection and its own worker (the same store connections a
 * request worker has), declares the durable queue "<service>.<name>" bound to flores.events
 * with the patterns, prefetch FLORES_CONSUMER_PREFETCH (1..16, default 8), and calls the
 * handler with each parsed event ({"id","type","occurredAt","source","data"}, the handler's
 * to read or change during the call; type and event_id are the library's copies).  The
 * handler's answer:
 *   FV_OK                           acknowledged;
 *   FV_RETRY, FV_STORE_DOWN, FV_ERROR  retried after a delay growing from 1 s to
 *                                   max_retry_ms, through "<service>.<name>.retry" (per-message
 *                                   TTL, dead-lettered back to the queue), at most
 *                                   max_attempts times in all;
 *   FV_REJECT, or attempts exhausted  moved to "<service>.<name>.dead", where an operator can
 *                                   list and replay it (flores-events dead list|replay).
 * A message that is not a JSON object, or lacks a UUID "id" or a [a-z0-9._-] "type", is
 * dead-lettered at once.  Headers on moved messages: x-flores-attempts (failed attempts),
 * x-flores-routing-key (the event's routing key); on dead ones also x-flores-reason
 * ("rejected", "attempts exhausted (n)", "malformed: ..."), x-flores-dead-at and
 * x-flores-consumer.  A message is acknowledged only after the handler returned and its
 * copy (retry, dead) was confirmed.  Delivery is at least once: handlers are idempotent on
 * the event id (fv_event_seen() for PostgreSQL stores).  After the handler the worker's
 * transaction, if one was left open, is rolled back.  A lost broker is looked for again
 * with backoff (0.5 s doubling to 5 s).  The consumers start after the request workers and
 * stop with the server (SIGTERM) after the message in hand.  The table is checked at start
 * (names [a-z0-9_-]{1,64}, at least one binding, max_attempts 0..1000, max_retry_ms
 * 0..86400000). */

typedef int (*fv_consume_pt)(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);

struct fv_consumer_s {
    const char           *name;          /* queue "<service>.<name>" */
    const char *const    *bindings;      /* routing-key patterns, NULL-terminated */
    fv_consume_pt         handler;
    int                   max_attempts;  /* 0: 10 */
    long                  max_retry_ms;  /* 0: 60000 */
};

/* Inside the caller's open transaction (fv_pg_begin(); FV_ERROR without one), records that
 * consumer handled event_id (processed_events, lib/sql/consumer.sql, in a migration of the
 * service): 0 when new, 1 when already handled (skip the effect, commit, return FV_OK), or
 * FV_ERROR / FV_STORE_DOWN. */
int fv_event_seen(fv_worker_t *w, const char *consumer, const char *event_id);


/* ---- RabbitMQ (fv_amqp.c) ------------------------------------------------------------- */

typedef struct fv_amqp_s fv_amqp_t;

/* Connects, opens a channel in confirm mode and declares the durable topic exchange. */
fv_amqp_t *fv_amqp_open(const fv_conf_t *conf);
void fv_amqp_close(fv_amqp_t *a);
/* Publishes one persistent message and waits for the broker's confirm (FLORES_AMQP_TIMEOUT,
 * default 5000 ms).  Returns 0 when confirmed, -1 otherwise (the connection is then unusable). */
int fv_amqp_publish(fv_amqp_t *a, const char *routing_key, const char *message_id,
    const char *body, size_t len);
/* The underlying librabbitmq connection (an amqp_connection_state_t), whose channel 1 is
 * open, for programs that also declare queues and consume (flores-events). */
void *fv_amqp_connection(fv_amqp_t *a);


/* ---- metrics (fv_metrics.c) -----------------------------------------------------------
 * Prometheus text on GET /metrics, counters updated atomically by every worker:
 *   flores_http_requests_total{service,route,method,status}
 *   flores_http_request_duration_seconds{service,route} (histogram)
 *   flores_store_errors_total{service,store}
 *   flores_outbox_published_total{service}, flores_outbox_pending{service}
 *   flores_events_consumed_total{service,consumer,outcome="handled|retried|dead"} */

void fv_metrics_store_error(fv_server_t *s, const char *store);


/* ---- small helpers (fv_util.c) -------------------------------------------------------- */

/* Cryptographically random bytes; -1 on failure. */
int fv_random(void *buf, size_t len);
/* A random RFC 4122 version 4 UUID, 36 characters and the terminating NUL. */
int fv_uuid(char out[37]);
/* ISO-8601 UTC with milliseconds, "2026-11-27T20:31:07.123Z"; out holds 25 bytes. */
void fv_time_iso(char out[25]);
/* Base64url without padding; returns the length written (out holds 4 * ((len + 2) / 3) + 1). */
size_t fv_base64url(const unsigned char *in, size_t len, char *out);
/* Lower-case hex SHA-256 of data; out holds 65 bytes. */
void fv_sha256_hex(const void *data, size_t len, char out[65]);
/* A constant-time comparison of two buffers of the same length. */
int fv_equal_ct(const void *a, const void *b, size_t len);

#endif /* FV_H */
