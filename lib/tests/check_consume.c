/* check_consume.c: event consumers, direct publishing and deduplication.  The table checks
 * and the retry delays always run; the rest needs a real PostgreSQL and RabbitMQ
 * (FLORES_TEST_PG_URL and FLORES_TEST_AMQP_URL), and the broker restart a command that
 * restarts that broker (FLORES_TEST_AMQP_RESTART, e.g. "./flores restart rabbitmq").
 * flores-events (EVENTS_BIN) lists and replays the dead letters. */

#include <config.h>

#include <unistd.h>
#include <amqp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "check_fv.h"


#define WAIT_MS          15000
#define RETRY_MAX_MS     1000
#define MAX_ATTEMPTS     3

static const char   *pg_url;
static const char   *amqp_url;
static const char   *restart_cmd;

static char          schema[64];
static char          svc_name[32];
static char          queue[64], retry_queue[80], dead_queue[80];
static char          routing_key[64];
static char          binding[64];
static const char   *bindings[2];
static fv_consumer_t consumers[2];
static fv_service_t  svc;
static fv_server_t  *server;
static fv_worker_t   worker;
static int           consumers_started;

/* What the handler saw, from the consumer's thread. */
static pthread_mutex_t  seen_lock = PTHREAD_MUTEX_INITIALIZER;
static int              calls;
static int              calls_of_id[8];
static char             ids[8][37];
static atomic_int       reject_off;
static atomic_int       in_handler;


static int
route_ping(fv_req_t *r)
{
    return fv_reply(r, 200, NULL, NULL);
}


static const fv_route_t  routes[] = {
    { "GET", "/ping", FV_PUBLIC, NULL, NULL, route_ping },
    FV_ROUTES_END
};


/* ---- the handler ---------------------------------------------------------------------- */

static int
count_call(const char *id)
{
    int  i, n = 0;

    (void) pthread_mutex_lock(&seen_lock);
    calls++;
    for (i = 0; i < 8 && ids[i][0] != '\0'; i++) {
        if (strcmp(ids[i], id) == 0) {
            break;
        }
    }
    if (i < 8) {
        if (ids[i][0] == '\0') {
            (void) snprintf(ids[i], sizeof(ids[i]), "%s", id);
        }
        n = ++calls_of_id[i];
    }
    (void) pthread_mutex_unlock(&seen_lock);

    return n;
}


static int
get_calls(void)
{
    int  n;

    (void) pthread_mutex_lock(&seen_lock);
    n = calls;
    (void) pthread_mutex_unlock(&seen_lock);
    return n;
}


/* The effect: one row per event, however often the event comes. */
static int
apply_effect(fv_worker_t *w, const char *id)
{
    const char  *p[1] = { id };
    PGresult    *res;
    int          rc, seen;

    rc = fv_pg_begin(w);
    if (rc != FV_OK) {
        return rc;
    }

    seen = fv_event_seen(w, "test", id);
    if (seen < 0) {
        fv_pg_rollback(w);
        return seen;
    }

    if (seen == 0) {
        res = fv_pg_exec(w, "INSERT INTO effects (event_id) VALUES ($1)", 1, p);
        if (res == NULL) {
            fv_pg_rollback(w);
            return FV_STORE_DOWN;
        }
        rc = fv_pg_ok(res) ? FV_OK : FV_ERROR;
        PQclear(res);
        if (rc != FV_OK) {
            fv_pg_rollback(w);
            return rc;
        }
    }

    return fv_pg_commit(w);
}


/* The broker's port, from FLORES_TEST_AMQP_URL. */
static int
amqp_port(void)
{
    const char  *at = strrchr(amqp_url, '@'), *colon;

    colon = strchr(at != NULL ? at : amqp_url + 7, ':');
    return colon != NULL ? atoi(colon + 1) : 5672;
}


/* Cuts every connection of this process to the broker, as a network failure would. */
static void
sever_broker_connections(void)
{
    struct sockaddr_in  sa;
    socklen_t           len;
    int                 fd;

    for (fd = 3; fd < 1024; fd++) {
        len = sizeof(sa);
        if (getpeername(fd, (struct sockaddr *) &sa, &len) == 0 && sa.sin_family == AF_INET
            && ntohs(sa.sin_port) == amqp_port())
        {
            (void) shutdown(fd, SHUT_RDWR);
        }
    }
}


/* data.mode: ok, fail (data.fails times, then ok), always (fails), reject (unless
 * reject_off), slow (half a second, then ok), sever (the first time: the effect, then the
 * broker connection breaks before the acknowledgement). */
static int
handler(fv_worker_t *w, const char *type, const char *id, json_object *ev)
{
    json_object  *data, *v;
    const char   *mode = "ok";
    int           n, fails = 0, rc;

    ck_assert_str_eq(type, routing_key);

    atomic_store(&in_handler, 1);
    n = count_call(id);

    if (json_object_object_get_ex(ev, "data", &data)) {
        if (json_object_object_get_ex(data, "mode", &v)) {
            mode = json_object_get_string(v);
        }
        if (json_object_object_get_ex(data, "fails", &v)) {
            fails = json_object_get_int(v);
        }
    }

    if (strcmp(mode, "always") == 0) {
        rc = FV_STORE_DOWN;
    } else if (strcmp(mode, "reject") == 0 && !atomic_load(&reject_off)) {
        rc = FV_REJECT;
    } else if (strcmp(mode, "fail") == 0 && n <= fails) {
        rc = FV_RETRY;
    } else {
        if (strcmp(mode, "slow") == 0) {
            (void) usleep(500 * 1000);
        }
        rc = apply_effect(w, id);
        if (strcmp(mode, "sever") == 0 && n == 1) {
            sever_broker_connections();
        }
    }

    atomic_store(&in_handler, 0);
    return rc;
}


/* ---- PostgreSQL and RabbitMQ from the test's side ------------------------------------- */

static void
quiet(void *arg, const char *message)
{
    (void) arg;
    (void) message;
}


static PGconn *
admin_conn(void)
{
    PGconn  *c = PQconnectdb(pg_url);

    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect: %s", PQerrorMessage(c));
    (void) PQsetNoticeProcessor(c, quiet, NULL);
    return c;
}


static void
admin_exec(const char *sql)
{
    PGconn    *c = admin_conn();
    PGresult  *res = PQexec(c, sql);

    ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK
                  || PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQresultErrorMessage(res));
    PQclear(res);
    PQfinish(c);
}


static long
admin_count(const char *table)
{
    char       sql[256];
    PGconn    *c = admin_conn();
    PGresult  *res;
    long       n;

    (void) snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s.%s", schema, table);
    res = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQresultErrorMessage(res));
    n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(c);
    return n;
}


static char *
read_file(const char *path)
{
    FILE    *f = fopen(path, "r");
    char    *buf;
    size_t   n;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    buf = calloc(1, 65536);
    ck_assert_ptr_nonnull(buf);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    (void) fclose(f);
    return buf;
}


/* A broker connection of the test's own (NULL while the broker is away). */
static fv_amqp_t *
mq_open(void)
{
    return fv_amqp_open(fv_server_conf(server));
}


/* Messages ready in a queue and its consumers; -1 when it does not exist. */
static long
queue_count(const char *name, long *consumers_out)
{
    fv_amqp_t                  *a = mq_open();
    amqp_queue_declare_ok_t    *ok;
    long                        n = -1;

    ck_assert_ptr_nonnull(a);
    ok = amqp_queue_declare(fv_amqp_connection(a), 1, amqp_cstring_bytes(name), 1, 0, 0, 0,
        amqp_empty_table);
    if (ok != NULL && amqp_get_rpc_reply(fv_amqp_connection(a)).reply_type
                      == AMQP_RESPONSE_NORMAL)
    {
        n = ok->message_count;
        if (consumers_out != NULL) {
            *consumers_out = ok->consumer_count;
        }
    } else {
        fv_amqp_set_broken(a);
    }
    fv_amqp_close(a);
    return n;
}


static void
delete_queue(const char *name)
{
    fv_amqp_t  *a = mq_open();

    if (a != NULL) {
        (void) amqp_queue_delete(fv_amqp_connection(a), 1, amqp_cstring_bytes(name), 0, 0);
        if (amqp_get_rpc_reply(fv_amqp_connection(a)).reply_type != AMQP_RESPONSE_NORMAL) {
            fv_amqp_set_broken(a);
        }
        fv_amqp_close(a);
    }
}


/* Publishes one event of type routing_key with the given id and data (JSON text). */
static void
publish_event(const char *id, const char *data)
{
    fv_amqp_t  *a = mq_open();
    char        body[1024];
    int         n;

    ck_assert_ptr_nonnull(a);
    n = snprintf(body, sizeof(body), "{\"id\":\"%s\",\"type\":\"%s\",\"occurredAt\":"
                 "\"2026-11-27T20:31:07.123Z\",\"source\":\"test\",\"data\":%s}", id,
                 routing_key, data);
    ck_assert_int_lt(n, (int) sizeof(body));
    ck_assert_int_eq(fv_amqp_publish(a, routing_key, id, body, (size_t) n), 0);
    fv_amqp_close(a);
}


static void
publish_raw(const char *body)
{
    fv_amqp_t  *a = mq_open();

    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(fv_amqp_publish(a, routing_key, "raw", body, strlen(body)), 0);
    fv_amqp_close(a);
}


static void
new_id(char id[37])
{
    ck_assert_int_eq(fv_uuid(id), 0);
}


/* Waits until f() returns want, up to ms; returns the last value. */
static long
wait_for(long (*f)(void), long want, long ms)
{
    double  t0 = fv_now_ms();
    long    v;

    for ( ;; ) {
        v = f();
        if (v == want || fv_now_ms() - t0 > ms) {
            return v;
        }
        (void) usleep(50 * 1000);
    }
}


static long effects(void)      { return admin_count("effects"); }
static long dead_count(void)   { return queue_count(dead_queue, NULL); }
static long retry_count(void)  { return queue_count(retry_queue, NULL); }
static long main_count(void)   { return queue_count(queue, NULL); }
static long handler_calls(void) { return get_calls(); }

static long
consumer_ready(void)
{
    long  consumers_n = 0;

    return queue_count(queue, &consumers_n) >= 0 ? consumers_n : -1;
}


/* The first message of the dead queue, taken for good: its body and headers. */
typedef struct {
    char     body[1024];
    char     reason[128];
    char     key[128];
    char     consumer[128];
    long     attempts;
} dead_t;


static void
header_text(const amqp_table_t *t, const char *name, char *out, size_t size)
{
    int  i;

    out[0] = '\0';
    for (i = 0; i < t->num_entries; i++) {
        if (t->entries[i].key.len == strlen(name)
            && memcmp(t->entries[i].key.bytes, name, strlen(name)) == 0
            && t->entries[i].value.kind == AMQP_FIELD_KIND_UTF8)
        {
            (void) snprintf(out, size, "%.*s", (int) t->entries[i].value.value.bytes.len,
                (const char *) t->entries[i].value.value.bytes.bytes);
        }
    }
}


static void
take_dead(dead_t *d)
{
    fv_amqp_t                 *a = mq_open();
    amqp_connection_state_t    c;
    amqp_rpc_reply_t           r;
    amqp_message_t             m;
    const amqp_table_t        *t;
    int                        i;

    memset(d, 0, sizeof(*d));
    ck_assert_ptr_nonnull(a);
    c = fv_amqp_connection(a);

    r = amqp_basic_get(c, 1, amqp_cstring_bytes(dead_queue), 1);
    ck_assert_int_eq(r.reply_type, AMQP_RESPONSE_NORMAL);
    ck_assert_msg(r.reply.id == AMQP_BASIC_GET_OK_METHOD, "the dead queue is empty");
    r = amqp_read_message(c, 1, &m, 0);
    ck_assert_int_eq(r.reply_type, AMQP_RESPONSE_NORMAL);

    (void) snprintf(d->body, sizeof(d->body), "%.*s", (int) m.body.len,
        (const char *) m.body.bytes);
    ck_assert(m.properties._flags & AMQP_BASIC_HEADERS_FLAG);
    t = &m.properties.headers;
    header_text(t, "x-flores-reason", d->reason, sizeof(d->reason));
    header_text(t, "x-flores-routing-key", d->key, sizeof(d->key));
    header_text(t, "x-flores-consumer", d->consumer, sizeof(d->consumer));
    d->attempts = -1;
    for (i = 0; i < t->num_entries; i++) {
        if (t->entries[i].key.len == 17
            && memcmp(t->entries[i].key.bytes, "x-flores-attempts", 17) == 0)
        {
            ck_assert_int_eq(t->entries[i].value.kind, AMQP_FIELD_KIND_I32);
            d->attempts = t->entries[i].value.value.i32;
        }
    }
    ck_assert(m.properties._flags & AMQP_BASIC_DELIVERY_MODE_FLAG);
    ck_assert_int_eq(m.properties.delivery_mode, AMQP_DELIVERY_PERSISTENT);

    amqp_destroy_message(&m);
    fv_amqp_close(a);
}


/* The consumer's count for outcome in GET /metrics. */
static long
consumed(const char *outcome)
{
    mem_req_t    m;
    char         key[256];
    const char  *p;
    long         n = -1;

    (void) snprintf(key, sizeof(key), "flores_events_consumed_total{service=\"%s\","
                    "consumer=\"things\",outcome=\"%s\"} ", svc_name, outcome);
    mem_init(&m, "GET", "/metrics", NULL);
    mem_run(&worker, &m);
    p = strstr(m.body, key);
    if (p != NULL) {
        n = atol(p + strlen(key));
    }
    mem_free(&m);
    return n;
}


/* ---- fixtures ------------------------------------------------------------------------- */

static void
start_consumers(void)
{
    ck_assert_int_eq(fv_consumers_start(server), 0);
    consumers_started = 1;
    ck_assert_int_eq(wait_for(consumer_ready, 1, WAIT_MS), 1);
}


static void
stop_consumers(void)
{
    ssize_t  n;

    if (!consumers_started) {
        return;
    }

    atomic_store(&server->stopping, 1);
    n = write(server->wake[1], "x", 1);
    ck_assert_int_eq(n, 1);
    fv_consumers_stop(server);
    consumers_started = 0;
}


static void
setup_names(void)
{
    unsigned char  r[3];

    ck_assert_int_eq(fv_random(r, sizeof(r)), 0);
    (void) snprintf(svc_name, sizeof(svc_name), "ct%ld%02x%02x%02x", (long) getpid(), r[0],
        r[1], r[2]);
    (void) snprintf(schema, sizeof(schema), "%s", svc_name);
    (void) snprintf(queue, sizeof(queue), "%s.things", svc_name);
    (void) snprintf(retry_queue, sizeof(retry_queue), "%s.retry", queue);
    (void) snprintf(dead_queue, sizeof(dead_queue), "%s.dead", queue);
    (void) snprintf(routing_key, sizeof(routing_key), "%s.thing.done", svc_name);
    (void) snprintf(binding, sizeof(binding), "%s.thing.*", svc_name);
}


static void
make_server(const char *amqp)
{
    fv_conf_t  *conf;

    ck_assert_int_eq(setenv("FLORES_PG_URL", pg_url, 1), 0);
    ck_assert_int_eq(setenv("FLORES_PG_SCHEMA", schema, 1), 0);
    ck_assert_int_eq(setenv("FLORES_AMQP_URL", amqp, 1), 0);
    ck_assert_int_eq(setenv("FLORES_AMQP_TIMEOUT", "2000", 1), 0);

    bindings[0] = binding;
    bindings[1] = NULL;
    consumers[0] = (fv_consumer_t) { "things", bindings, handler, MAX_ATTEMPTS, RETRY_MAX_MS };
    consumers[1] = (fv_consumer_t) { NULL, NULL, NULL, 0, 0 };
    svc = (fv_service_t) { svc_name, routes, FV_STORE_PG | FV_STORE_AMQP, 0, NULL, NULL,
                           consumers };

    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    fv_worker_init(&worker, server, 99);
}


static void
setup(void)
{
    char   sql[512];
    char  *ddl;

    setup_names();

    (void) snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; "
                    "CREATE TABLE %s.effects (event_id uuid PRIMARY KEY)", schema, schema,
                    schema);
    admin_exec(sql);

    /* processed_events exactly as lib/sql/consumer.sql has it. */
    ddl = read_file(CONSUMER_SQL);
    {
        PGconn    *c = admin_conn();
        PGresult  *res;

        (void) snprintf(sql, sizeof(sql), "SET search_path = %s", schema);
        res = PQexec(c, sql);
        PQclear(res);
        res = PQexec(c, ddl);
        ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "consumer.sql: %s",
                      PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(c);
    }
    free(ddl);

    make_server(amqp_url);

    (void) pthread_mutex_lock(&seen_lock);
    calls = 0;
    memset(calls_of_id, 0, sizeof(calls_of_id));
    memset(ids, 0, sizeof(ids));
    (void) pthread_mutex_unlock(&seen_lock);
    atomic_store(&reject_off, 0);
}


static void
teardown(void)
{
    char  sql[128];

    stop_consumers();
    fv_worker_close(&worker);
    fv_server_free(server);
    server = NULL;

    (void) snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    admin_exec(sql);
}


/* The queues go with the server that made them (a fresh server: the first one stopped). */
static void
drop_queues(void)
{
    fv_conf_t  *conf = fv_conf_open();

    ck_assert_ptr_nonnull(conf);
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    delete_queue(queue);
    delete_queue(retry_queue);
    delete_queue(dead_queue);
    fv_server_free(server);
    server = NULL;
}


static void
teardown_all(void)
{
    teardown();
    drop_queues();
}


/* ---- without a broker ----------------------------------------------------------------- */

static int
h_none(fv_worker_t *w, const char *type, const char *id, json_object *ev)
{
    (void) w; (void) type; (void) id; (void) ev;
    return FV_OK;
}


START_TEST(retry_delays_double_up_to_the_bound)
{
    ck_assert_int_eq(fv_consume_delay(1, 60000), 1000);
    ck_assert_int_eq(fv_consume_delay(2, 60000), 2000);
    ck_assert_int_eq(fv_consume_delay(3, 60000), 4000);
    ck_assert_int_eq(fv_consume_delay(6, 60000), 32000);
    ck_assert_int_eq(fv_consume_delay(7, 60000), 60000);
    ck_assert_int_eq(fv_consume_delay(1000, 60000), 60000);
    ck_assert_int_eq(fv_consume_delay(0, 60000), 1000);
    ck_assert_int_eq(fv_consume_delay(3, 2500), 2500);
    ck_assert_int_eq(fv_consume_delay(1, 500), 500);
}
END_TEST


/* A service that publishes or consumes needs the broker's URL, from the environment or from
 * a file (the URL then holds a password kept out of the environment). */
static int
amqp_conf_ok_with(const char *url, const char *file)
{
    fv_conf_t  *conf;
    int         ok;

    if (url != NULL) {
        ck_assert_int_eq(setenv("FLORES_AMQP_URL", url, 1), 0);
    } else {
        ck_assert_int_eq(unsetenv("FLORES_AMQP_URL"), 0);
    }
    if (file != NULL) {
        ck_assert_int_eq(setenv("FLORES_AMQP_URL_FILE", file, 1), 0);
    } else {
        ck_assert_int_eq(unsetenv("FLORES_AMQP_URL_FILE"), 0);
    }
    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    ok = fv_amqp_conf_ok(conf);
    fv_conf_close(conf);
    ck_assert_int_eq(unsetenv("FLORES_AMQP_URL"), 0);
    ck_assert_int_eq(unsetenv("FLORES_AMQP_URL_FILE"), 0);
    return ok;
}


START_TEST(the_broker_url_from_the_environment_or_a_file)
{
    ck_assert(amqp_conf_ok_with("amqp://127.0.0.1:5672/", NULL));
    ck_assert(amqp_conf_ok_with(NULL, "/etc/flores/secrets/auth/amqp-url"));
    ck_assert(amqp_conf_ok_with("amqp://127.0.0.1:5672/", "/etc/flores/secrets/auth/amqp-url"));
    ck_assert(!amqp_conf_ok_with(NULL, NULL));
    ck_assert(!amqp_conf_ok_with("", NULL));
    ck_assert(!amqp_conf_ok_with(NULL, ""));
}
END_TEST


START_TEST(consumer_tables_are_checked)
{
    static const char *const  b[] = { "order.*", "review.#", NULL };
    static const char *const  bad_b[] = { "order created", NULL };
    static const char *const  no_b[] = { NULL };
    fv_consumer_t             c[3];
    fv_service_t              s = { "product", routes, 0, 0, NULL, NULL, c };

    c[0] = (fv_consumer_t) { "rating", b, h_none, 0, 0 };
    c[1] = (fv_consumer_t) { "stock", b, h_none, 5, 2000 };
    c[2] = (fv_consumer_t) { NULL, NULL, NULL, 0, 0 };
    ck_assert_int_eq(fv_consumers_check(&s), 0);

    s.consumers = NULL;
    ck_assert_int_eq(fv_consumers_check(&s), 0);
    s.consumers = c;

    c[1].name = "rating";                              /* twice */
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].name = "Stock";                               /* not lower-case */
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].name = "a-very-long-consumer-name-that-goes-on-and-on-and-on-past-64-chars";
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].name = "stock";

    c[1].handler = NULL;
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].handler = h_none;

    c[1].bindings = no_b;
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].bindings = NULL;
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].bindings = bad_b;
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].bindings = b;

    c[1].max_attempts = -1;
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].max_attempts = 1001;
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].max_attempts = 1;
    c[1].max_retry_ms = -5;
    ck_assert_int_eq(fv_consumers_check(&s), -1);
    c[1].max_retry_ms = 0;
    ck_assert_int_eq(fv_consumers_check(&s), 0);

    /* The server refuses to start with a bad table. */
    c[0].bindings = bad_b;
    {
        fv_conf_t  *conf = fv_conf_open();

        ck_assert_ptr_nonnull(conf);
        ck_assert_ptr_null(fv_server_new(&s, conf));
    }
}
END_TEST


START_TEST(event_ids_and_types)
{
    ck_assert(fv_uuid_ok("0b7e6c2a-4f1d-4c5e-9a3b-2f6d8e1c7a90"));
    ck_assert(fv_uuid_ok("0B7E6C2A-4F1D-4C5E-9A3B-2F6D8E1C7A90"));
    ck_assert(!fv_uuid_ok("0b7e6c2a4f1d4c5e9a3b2f6d8e1c7a90"));
    ck_assert(!fv_uuid_ok("0b7e6c2a-4f1d-4c5e-9a3b-2f6d8e1c7a9"));
    ck_assert(!fv_uuid_ok("0b7e6c2a-4f1d-4c5e-9a3b-2f6d8e1c7a9g"));
    ck_assert(!fv_uuid_ok(""));
    ck_assert(!fv_uuid_ok(NULL));

    ck_assert(fv_event_type_ok("review.created"));
    ck_assert(fv_event_type_ok("order.status_changed"));
    ck_assert(!fv_event_type_ok("Order.created"));
    ck_assert(!fv_event_type_ok("order created"));
    ck_assert(!fv_event_type_ok(""));
    ck_assert(!fv_event_type_ok(NULL));
}
END_TEST


/* ---- consumers ------------------------------------------------------------------------ */

START_TEST(handled_events_are_acknowledged)
{
    char  id[37];

    start_consumers();
    new_id(id);
    publish_event(id, "{\"mode\":\"ok\"}");

    ck_assert_int_eq(wait_for(effects, 1, WAIT_MS), 1);
    ck_assert_int_eq(get_calls(), 1);
    ck_assert_int_eq(wait_for(main_count, 0, WAIT_MS), 0);
    ck_assert_int_eq(retry_count(), 0);
    ck_assert_int_eq(dead_count(), 0);
    ck_assert_int_eq(consumed("handled"), 1);
    ck_assert_int_eq(consumed("retried"), 0);
    ck_assert_int_eq(consumed("dead"), 0);

    /* Acknowledged, not merely delivered: a restarted consumer gets nothing again. */
    stop_consumers();
    ck_assert_int_eq(main_count(), 0);
    ck_assert_int_eq(get_calls(), 1);
}
END_TEST


START_TEST(failures_are_retried_after_a_delay)
{
    char    id[37];
    double  t0;

    start_consumers();
    new_id(id);
    t0 = fv_now_ms();
    publish_event(id, "{\"mode\":\"fail\",\"fails\":2}");

    ck_assert_int_eq(wait_for(effects, 1, WAIT_MS), 1);
    /* Two delays of 1 s (max_retry_ms caps the second) before the third attempt. */
    ck_assert_msg(fv_now_ms() - t0 >= 1900, "retried after %.0f ms", fv_now_ms() - t0);
    ck_assert_int_eq(get_calls(), 3);
    ck_assert_int_eq(retry_count(), 0);
    ck_assert_int_eq(dead_count(), 0);
}
END_TEST


START_TEST(rejected_events_go_to_the_dead_queue)
{
    char    id[37], body[128];
    dead_t  d;

    start_consumers();
    new_id(id);
    publish_event(id, "{\"mode\":\"reject\"}");

    ck_assert_int_eq(wait_for(dead_count, 1, WAIT_MS), 1);
    ck_assert_int_eq(get_calls(), 1);
    ck_assert_int_eq(effects(), 0);

    take_dead(&d);
    ck_assert_str_eq(d.reason, "rejected");
    ck_assert_int_eq(d.attempts, 1);
    ck_assert_str_eq(d.key, routing_key);
    ck_assert_str_eq(d.consumer, queue);
    /* The body is the event as it was published. */
    (void) snprintf(body, sizeof(body), "{\"id\":\"%s\"", id);
    ck_assert_ptr_nonnull(strstr(d.body, body));
    ck_assert_int_eq(main_count(), 0);
}
END_TEST


START_TEST(exhausted_attempts_go_to_the_dead_queue)
{
    char    id[37];
    dead_t  d;

    start_consumers();
    new_id(id);
    publish_event(id, "{\"mode\":\"always\"}");

    ck_assert_int_eq(wait_for(dead_count, 1, WAIT_MS), 1);
    ck_assert_int_eq(get_calls(), MAX_ATTEMPTS);

    take_dead(&d);
    ck_assert_str_eq(d.reason, "attempts exhausted (3)");
    ck_assert_int_eq(d.attempts, MAX_ATTEMPTS);
    ck_assert_str_eq(d.key, routing_key);

    /* No fourth attempt comes later. */
    (void) usleep(1500 * 1000);
    ck_assert_int_eq(get_calls(), MAX_ATTEMPTS);
    ck_assert_int_eq(retry_count(), 0);
    ck_assert_int_eq(consumed("retried"), MAX_ATTEMPTS - 1);
    ck_assert_int_eq(consumed("dead"), 1);
    ck_assert_int_eq(consumed("handled"), 0);
}
END_TEST


START_TEST(malformed_messages_go_to_the_dead_queue_at_once)
{
    char    body[256];
    dead_t  d;

    start_consumers();
    publish_raw("not json");
    publish_raw("[1,2]");
    publish_raw("{\"id\":\"nope\",\"type\":\"x.y\",\"data\":{}}");
    (void) snprintf(body, sizeof(body), "{\"id\":\"0b7e6c2a-4f1d-4c5e-9a3b-2f6d8e1c7a90\","
                    "\"data\":{}}");
    publish_raw(body);
    publish_raw("{\"id\":\"0b7e6c2a-4f1d-4c5e-9a3b-2f6d8e1c7a90\",\"type\":\"Bad Type\"}");
    publish_raw("");

    ck_assert_int_eq(wait_for(dead_count, 6, WAIT_MS), 6);
    ck_assert_int_eq(get_calls(), 0);
    ck_assert_int_eq(consumed("dead"), 6);

    take_dead(&d);
    ck_assert_str_eq(d.body, "not json");
    ck_assert_str_eq(d.reason, "malformed: not a JSON object");
    ck_assert_int_eq(d.attempts, 0);
    take_dead(&d);
    ck_assert_str_eq(d.reason, "malformed: not a JSON object");
    take_dead(&d);
    ck_assert_str_eq(d.reason, "malformed: no UUID id");
    take_dead(&d);
    ck_assert_str_eq(d.reason, "malformed: no valid type");
    take_dead(&d);
    ck_assert_str_eq(d.reason, "malformed: no valid type");
    take_dead(&d);
    ck_assert_str_eq(d.body, "");
    ck_assert_int_eq(main_count(), 0);
}
END_TEST


/* Runs flores-events with args; its stdout in out. */
static int
run_events(const char *args, char *out, size_t size)
{
    char    cmd[1024];
    FILE   *p;
    size_t  n;
    int     st;

    ck_assert_msg(access(EVENTS_BIN, X_OK) == 0, "%s is not built (make -C tools/events)",
                  EVENTS_BIN);
    (void) snprintf(cmd, sizeof(cmd), "%s %s 2>/dev/null", EVENTS_BIN, args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}


START_TEST(dead_letters_are_listed_and_replayed)
{
    char          id[37], id2[37], args[256], out[8192], *nl;
    json_object  *line, *v;

    start_consumers();
    new_id(id);
    new_id(id2);
    publish_event(id, "{\"mode\":\"reject\"}");
    publish_event(id2, "{\"mode\":\"reject\"}");
    ck_assert_int_eq(wait_for(dead_count, 2, WAIT_MS), 2);

    /* Listing shows them and leaves them where they are, in order. */
    (void) snprintf(args, sizeof(args), "dead list --queue %s", queue);
    ck_assert_int_eq(run_events(args, out, sizeof(out)), 0);
    nl = strchr(out, '\n');
    ck_assert_ptr_nonnull(nl);
    *nl = '\0';
    line = json_tokener_parse(out);
    ck_assert_ptr_nonnull(line);
    ck_assert(json_object_object_get_ex(line, "reason", &v));
    ck_assert_str_eq(json_object_get_string(v), "rejected");
    ck_assert(json_object_object_get_ex(line, "attempts", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    ck_assert(json_object_object_get_ex(line, "routingKey", &v));
    ck_assert_str_eq(json_object_get_string(v), routing_key);
    ck_assert(json_object_object_get_ex(line, "event", &v));
    ck_assert(json_object_object_get_ex(v, "id", &v));
    ck_assert_str_eq(json_object_get_string(v), id);
    json_object_put(line);
    ck_assert_ptr_nonnull(strstr(nl + 1, id2));
    ck_assert_ptr_null(strchr(strchr(nl + 1, '\n') + 1, '\n'));

    /* The same, by the dead queue's own name, bounded by --count. */
    (void) snprintf(args, sizeof(args), "dead list --queue %s --count 1", dead_queue);
    ck_assert_int_eq(run_events(args, out, sizeof(out)), 0);
    ck_assert_ptr_nonnull(strstr(out, id));
    ck_assert_ptr_null(strstr(out, id2));
    ck_assert_int_eq(dead_count(), 2);

    /* Replayed once the cause is fixed: handled, and the dead queue empties. */
    atomic_store(&reject_off, 1);
    (void) snprintf(args, sizeof(args), "dead replay --queue %s --count 1", queue);
    ck_assert_int_eq(run_events(args, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "1\n");
    ck_assert_int_eq(wait_for(effects, 1, WAIT_MS), 1);
    ck_assert_int_eq(dead_count(), 1);

    (void) snprintf(args, sizeof(args), "dead replay --queue %s", queue);
    ck_assert_int_eq(run_events(args, out, sizeof(out)), 0);
    ck_assert_str_eq(out, "1\n");
    ck_assert_int_eq(wait_for(effects, 2, WAIT_MS), 2);
    ck_assert_int_eq(dead_count(), 0);
    ck_assert_int_eq(get_calls(), 4);

    /* An unknown queue is never created by a typo. */
    ck_assert_int_eq(run_events("dead list --queue no.such.consumer", out, sizeof(out)), 1);
    ck_assert_int_eq(queue_count("no.such.consumer.dead", NULL), -1);
}
END_TEST


START_TEST(redelivered_events_take_effect_once)
{
    char  id[37];

    start_consumers();
    new_id(id);
    publish_event(id, "{\"mode\":\"ok\"}");
    publish_event(id, "{\"mode\":\"ok\"}");
    publish_event(id, "{\"mode\":\"ok\"}");

    ck_assert_int_eq(wait_for(handler_calls, 3, WAIT_MS), 3);
    ck_assert_int_eq(wait_for(main_count, 0, WAIT_MS), 0);
    ck_assert_int_eq(effects(), 1);
    ck_assert_int_eq(admin_count("processed_events"), 1);
    ck_assert_int_eq(dead_count(), 0);
}
END_TEST


/* The handler took effect but its acknowledgement never reached the broker: the broker
 * delivers the message again, to the reconnected consumer, and it takes effect once. */
START_TEST(a_lost_acknowledgement_redelivers_without_a_second_effect)
{
    char  id[37];

    start_consumers();
    new_id(id);
    publish_event(id, "{\"mode\":\"sever\"}");

    ck_assert_int_eq(wait_for(handler_calls, 2, WAIT_MS), 2);
    ck_assert_int_eq(wait_for(main_count, 0, WAIT_MS), 0);
    ck_assert_int_eq(effects(), 1);
    ck_assert_int_eq(admin_count("processed_events"), 1);
    ck_assert_int_eq(dead_count(), 0);
    ck_assert_int_eq(consumed("handled"), 1);
}
END_TEST


START_TEST(event_seen_needs_a_transaction)
{
    char  id[37];

    new_id(id);
    ck_assert_int_eq(fv_event_seen(&worker, "test", id), FV_ERROR);

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    ck_assert_int_eq(fv_event_seen(&worker, "test", "not-a-uuid"), FV_ERROR);
    ck_assert_int_eq(fv_event_seen(&worker, "", id), FV_ERROR);
    ck_assert_int_eq(fv_event_seen(&worker, "test", id), 0);
    ck_assert_int_eq(fv_pg_commit(&worker), FV_OK);

    /* Seen once committed; another consumer has its own record. */
    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    ck_assert_int_eq(fv_event_seen(&worker, "test", id), 1);
    ck_assert_int_eq(fv_event_seen(&worker, "other", id), 0);
    fv_pg_rollback(&worker);

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    ck_assert_int_eq(fv_event_seen(&worker, "other", id), 0);
    fv_pg_rollback(&worker);
}
END_TEST


START_TEST(a_stop_finishes_the_message_in_hand)
{
    char    id[37];
    double  t0;
    long    w;

    start_consumers();
    new_id(id);
    publish_event(id, "{\"mode\":\"slow\"}");

    for (w = 0; w < 200 && !atomic_load(&in_handler); w++) {
        (void) usleep(10 * 1000);
    }
    ck_assert_msg(atomic_load(&in_handler), "the handler never ran");

    t0 = fv_now_ms();
    stop_consumers();
    ck_assert_msg(fv_now_ms() - t0 < 1500, "stopping took %.0f ms", fv_now_ms() - t0);

    /* Handled and acknowledged before the thread ended. */
    ck_assert_int_eq(effects(), 1);
    ck_assert_int_eq(main_count(), 0);
}
END_TEST


START_TEST(an_idle_consumer_stops_at_once)
{
    double  t0;

    start_consumers();
    t0 = fv_now_ms();
    stop_consumers();
    ck_assert_msg(fv_now_ms() - t0 < 500, "stopping took %.0f ms", fv_now_ms() - t0);
}
END_TEST


/* ---- direct publishing ---------------------------------------------------------------- */

START_TEST(publish_is_confirmed_and_shaped_like_the_outbox)
{
    fv_amqp_t                  *sub;
    amqp_connection_state_t     c;
    amqp_queue_declare_ok_t    *q;
    amqp_envelope_t             env;
    amqp_rpc_reply_t            r;
    struct timeval              tv = { 5, 0 };
    json_object                *data, *ev, *v;
    char                        event_id[37], text[1024];
    mem_req_t                   m;

    sub = mq_open();
    ck_assert_ptr_nonnull(sub);
    c = fv_amqp_connection(sub);
    q = amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    ck_assert_ptr_nonnull(q);
    (void) snprintf(text, sizeof(text), "%.*s", (int) q->queue.len, (char *) q->queue.bytes);
    (void) amqp_queue_bind(c, 1, amqp_cstring_bytes(text), amqp_cstring_bytes("flores.events"),
        amqp_cstring_bytes(binding), amqp_empty_table);
    (void) amqp_basic_consume(c, 1, amqp_cstring_bytes(text), amqp_empty_bytes, 0, 1, 0,
        amqp_empty_table);
    ck_assert_int_eq(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);

    data = json_object_new_object();
    (void) json_object_object_add(data, "email", json_object_new_string("ana/o'neil@x.cl"));
    ck_assert_int_eq(fv_publish(&worker, routing_key, data, event_id), FV_OK);
    ck_assert(fv_uuid_ok(event_id));
    ck_assert_int_eq(fv_publish(&worker, routing_key, NULL, NULL), FV_OK);
    json_object_put(data);

    ck_assert_int_eq(fv_publish(&worker, "Bad Type", NULL, event_id), FV_ERROR);
    ck_assert_str_eq(event_id, "");

    amqp_maybe_release_buffers(c);
    r = amqp_consume_message(c, &env, &tv, 0);
    ck_assert_int_eq(r.reply_type, AMQP_RESPONSE_NORMAL);
    ck_assert_int_eq(env.message.properties.delivery_mode, AMQP_DELIVERY_PERSISTENT);
    (void) snprintf(text, sizeof(text), "%.*s", (int) env.message.body.len,
        (char *) env.message.body.bytes);
    amqp_destroy_envelope(&env);

    ck_assert_ptr_nonnull(strstr(text, "{\"id\":\""));
    ck_assert_ptr_nonnull(strstr(text, "\"email\":\"ana/o'neil@x.cl\""));
    ev = json_tokener_parse(text);
    ck_assert_ptr_nonnull(ev);
    ck_assert(json_object_object_get_ex(ev, "type", &v));
    ck_assert_str_eq(json_object_get_string(v), routing_key);
    ck_assert(json_object_object_get_ex(ev, "source", &v));
    ck_assert_str_eq(json_object_get_string(v), svc_name);
    ck_assert(json_object_object_get_ex(ev, "occurredAt", &v));
    ck_assert_uint_eq(strlen(json_object_get_string(v)), 24);
    ck_assert(json_object_object_get_ex(ev, "id", &v));
    ck_assert(fv_uuid_ok(json_object_get_string(v)));
    json_object_put(ev);

    amqp_maybe_release_buffers(c);
    r = amqp_consume_message(c, &env, &tv, 0);
    ck_assert_int_eq(r.reply_type, AMQP_RESPONSE_NORMAL);
    ck_assert_ptr_nonnull(memmem(env.message.body.bytes, env.message.body.len,
        "\"data\":{}}", 10));
    amqp_destroy_envelope(&env);

    fv_amqp_close(sub);

    mem_init(&m, "GET", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.checks.rabbitmq"), "up");
    ck_assert_str_eq(mem_str(&m, "data.checks.postgres"), "up");
    mem_free(&m);
}
END_TEST


START_TEST(publish_without_a_broker_is_store_down)
{
    double     t0;
    char       id[37];
    mem_req_t  m;

    fv_worker_close(&worker);
    fv_server_free(server);
    make_server("amqp://guest:guest@127.0.0.1:1/");

    t0 = fv_now_ms();
    ck_assert_int_eq(fv_publish(&worker, routing_key, NULL, id), FV_STORE_DOWN);
    ck_assert(fv_now_ms() - t0 < 1000);
    ck_assert_str_eq(id, "");

    mem_init(&m, "GET", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 503);
    ck_assert_str_eq(mem_str(&m, "data.checks.rabbitmq"), "down");
    mem_free(&m);

    mem_init(&m, "GET", "/metrics", NULL);
    mem_run(&worker, &m);
    ck_assert_ptr_nonnull(strstr(m.body, "store=\"rabbitmq\"} 2\n"));
    mem_free(&m);
}
END_TEST


/* ---- the broker goes away ------------------------------------------------------------- */

START_TEST(consumers_and_publishers_survive_a_broker_restart)
{
    char    id[37], id2[37];
    int     st;
    double  t0;

    if (restart_cmd == NULL || *restart_cmd == '\0') {
        return;
    }

    start_consumers();
    new_id(id);
    publish_event(id, "{\"mode\":\"ok\"}");
    ck_assert_int_eq(wait_for(effects, 1, WAIT_MS), 1);
    ck_assert_int_eq(fv_publish(&worker, routing_key, NULL, NULL), FV_OK);

    st = system(restart_cmd);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s failed", restart_cmd);

    /* The worker's idle connection was closed by the broker: the next publish reconnects
     * rather than failing. */
    ck_assert_int_eq(fv_publish(&worker, routing_key, NULL, NULL), FV_OK);

    /* The consumer is back within its backoff, on the same durable queue, where the two
     * published events waited (persistent messages survive the restart). */
    t0 = fv_now_ms();
    ck_assert_int_eq(wait_for(consumer_ready, 1, 30000), 1);
    ck_assert_msg(fv_now_ms() - t0 < 10000, "back after %.0f ms", fv_now_ms() - t0);
    new_id(id2);
    publish_event(id2, "{\"mode\":\"ok\"}");
    ck_assert_int_eq(wait_for(effects, 4, WAIT_MS), 4);
    ck_assert_int_eq(dead_count(), 0);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    pg_url = getenv("FLORES_TEST_PG_URL");
    amqp_url = getenv("FLORES_TEST_AMQP_URL");
    restart_cmd = getenv("FLORES_TEST_AMQP_RESTART");

    fv_log_init("test", getenv("FLORES_TEST_VERBOSE") ? FV_LOG_DEBUG : FV_LOG_ERROR + 1);
    (void) unsetenv("FLORES_CONFIG");

    s = suite_create("consume");

    tc = tcase_create("tables");
    tcase_add_test(tc, retry_delays_double_up_to_the_bound);
    tcase_add_test(tc, consumer_tables_are_checked);
    tcase_add_test(tc, event_ids_and_types);
    tcase_add_test(tc, the_broker_url_from_the_environment_or_a_file);
    suite_add_tcase(s, tc);

    if (pg_url == NULL || *pg_url == '\0' || amqp_url == NULL || *amqp_url == '\0') {
        (void) fprintf(stderr, "check_consume: FLORES_TEST_PG_URL or FLORES_TEST_AMQP_URL "
            "is not set; broker tests skipped\n");
        return check_run(s);
    }

    tc = tcase_create("broker");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown_all);
    tcase_add_test(tc, handled_events_are_acknowledged);
    tcase_add_test(tc, failures_are_retried_after_a_delay);
    tcase_add_test(tc, rejected_events_go_to_the_dead_queue);
    tcase_add_test(tc, exhausted_attempts_go_to_the_dead_queue);
    tcase_add_test(tc, malformed_messages_go_to_the_dead_queue_at_once);
    tcase_add_test(tc, dead_letters_are_listed_and_replayed);
    tcase_add_test(tc, redelivered_events_take_effect_once);
    tcase_add_test(tc, a_lost_acknowledgement_redelivers_without_a_second_effect);
    tcase_add_test(tc, event_seen_needs_a_transaction);
    tcase_add_test(tc, a_stop_finishes_the_message_in_hand);
    tcase_add_test(tc, an_idle_consumer_stops_at_once);
    tcase_add_test(tc, publish_is_confirmed_and_shaped_like_the_outbox);
    suite_add_tcase(s, tc);

    tc = tcase_create("no broker");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, publish_without_a_broker_is_store_down);
    suite_add_tcase(s, tc);

    tc = tcase_create("restart");
    tcase_set_timeout(tc, 180);
    tcase_add_checked_fixture(tc, setup, teardown_all);
    tcase_add_test(tc, consumers_and_publishers_survive_a_broker_restart);
    suite_add_tcase(s, tc);

    return check_run(s);
}
