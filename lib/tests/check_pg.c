/* check_pg.c: unit tests against a real PostgreSQL (FLORES_TEST_PG_URL) and, when
 * FLORES_TEST_AMQP_URL is set too, RabbitMQ: queries, transactions, reconnection, /health,
 * the outbox and its relay.  Skipped (77) without FLORES_TEST_PG_URL. */

#include <config.h>

#include <unistd.h>
#include <amqp.h>

#include "check_fv.h"


static char          schema[64];
static const char   *pg_url;
static const char   *amqp_url;
static fv_server_t  *server;
static fv_worker_t   worker;


static int
ping(fv_req_t *r)
{
    return fv_reply(r, 200, NULL, NULL);
}


static const fv_route_t  routes[] = {
    { "GET", "/ping", FV_PUBLIC, NULL, NULL, ping },
    FV_ROUTES_END
};

static const fv_service_t  svc = {
    "pgtest", routes, FV_STORE_PG, 1, NULL, NULL, NULL
};


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
admin_count(const char *sql)
{
    PGconn    *c = admin_conn();
    PGresult  *res = PQexec(c, sql);
    long       n;

    ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s: %s", sql,
                  PQresultErrorMessage(res));
    n = atol(PQgetvalue(res, 0, 0));
    PQclear(res);
    PQfinish(c);
    return n;
}


static void
start_server(const char *url)
{
    fv_conf_t  *conf;

    ck_assert_int_eq(setenv("FLORES_PG_URL", url, 1), 0);
    ck_assert_int_eq(setenv("FLORES_PG_SCHEMA", schema, 1), 0);
    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    memset(&worker, 0, sizeof(worker));
    worker.server = server;
    worker.idle_fd = -1;
}


static void
setup(void)
{
    char  sql[512];
    char  ddl[2048];
    FILE *f;
    size_t n;

    (void) snprintf(schema, sizeof(schema), "fvtest_%ld", (long) getpid());
    (void) snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s; "
                    "CREATE TABLE %s.t (id int PRIMARY KEY, v text)", schema, schema, schema);
    admin_exec(sql);

    /* The outbox exactly as lib/sql/outbox.sql has it. */
    f = fopen(OUTBOX_SQL, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(ddl, 1, sizeof(ddl) - 1, f);
    ddl[n] = '\0';
    (void) fclose(f);
    (void) snprintf(sql, sizeof(sql), "SET search_path = %s", schema);
    {
        PGconn    *c = admin_conn();
        PGresult  *res = PQexec(c, sql);

        PQclear(res);
        res = PQexec(c, ddl);
        ck_assert_msg(PQresultStatus(res) == PGRES_COMMAND_OK, "outbox.sql: %s",
                      PQresultErrorMessage(res));
        PQclear(res);
        PQfinish(c);
    }

    start_server(pg_url);
}


static void
teardown(void)
{
    char  sql[128];

    fv_pg_close(&worker);
    fv_server_free(server);
    (void) snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    admin_exec(sql);
}


START_TEST(queries_with_parameters_in_the_schema)
{
    const char  *p[] = { "1", "it's; DROP TABLE t; --" };
    PGresult    *res;

    res = fv_pg_exec(&worker, "INSERT INTO t (id, v) VALUES ($1, $2)", 2, p);
    ck_assert(fv_pg_ok(res));
    PQclear(res);

    res = fv_pg_exec(&worker, "SELECT v FROM t WHERE id = $1", 1, p);
    ck_assert(fv_pg_ok(res));
    ck_assert_int_eq(PQntuples(res), 1);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "it's; DROP TABLE t; --");
    PQclear(res);

    res = fv_pg_exec(&worker, "INSERT INTO t (id, v) VALUES ($1, $2)", 2, p);
    ck_assert(!fv_pg_ok(res));
    ck_assert_str_eq(fv_pg_sqlstate(res), "23505");
    PQclear(res);

    ck_assert_str_eq(fv_pg_sqlstate(NULL), "");
    ck_assert(!fv_pg_ok(NULL));
}
END_TEST


START_TEST(transactions)
{
    const char  *p1[] = { "1", "a" }, *p2[] = { "2", "b" };
    PGresult    *res;

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    res = fv_pg_exec(&worker, "INSERT INTO t (id, v) VALUES ($1, $2)", 2, p1);
    PQclear(res);
    fv_pg_rollback(&worker);
    res = fv_pg_exec(&worker, "SELECT 1 FROM t", 0, NULL);
    ck_assert_int_eq(PQntuples(res), 0);
    PQclear(res);

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    res = fv_pg_exec(&worker, "INSERT INTO t (id, v) VALUES ($1, $2)", 2, p2);
    PQclear(res);
    ck_assert_int_eq(fv_pg_commit(&worker), FV_OK);

    /* A failed statement aborts the transaction; COMMIT then is an error, not a success. */
    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    res = fv_pg_exec(&worker, "INSERT INTO t (id, v) VALUES ($1, $2)", 2, p2);
    ck_assert(!fv_pg_ok(res));
    PQclear(res);
    ck_assert_int_eq(fv_pg_commit(&worker), FV_ERROR);
    ck_assert_int_eq(PQtransactionStatus(worker.pg), PQTRANS_IDLE);
}
END_TEST


START_TEST(request_end_rolls_back_what_a_handler_left_open)
{
    const char  *p[] = { "3", "left open" };
    PGresult    *res;

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    res = fv_pg_exec(&worker, "INSERT INTO t (id, v) VALUES ($1, $2)", 2, p);
    PQclear(res);
    fv_pg_request_end(&worker);
    ck_assert_int_eq(PQtransactionStatus(worker.pg), PQTRANS_IDLE);

    res = fv_pg_exec(&worker, "SELECT 1 FROM t WHERE id = 3", 0, NULL);
    ck_assert_int_eq(PQntuples(res), 0);
    PQclear(res);

    /* An aborted transaction is cleared too. */
    res = fv_pg_exec(&worker, "BEGIN", 0, NULL);
    PQclear(res);
    res = fv_pg_exec(&worker, "SELECT 1/0", 0, NULL);
    PQclear(res);
    ck_assert_int_eq(PQtransactionStatus(worker.pg), PQTRANS_INERROR);
    fv_pg_request_end(&worker);
    ck_assert_int_eq(PQtransactionStatus(worker.pg), PQTRANS_IDLE);
}
END_TEST


START_TEST(unreachable_server_fails_fast_and_counts)
{
    PGresult  *res;
    double     t0;
    mem_req_t  m;

    fv_server_free(server);
    /* A port nobody listens on. */
    start_server("postgresql://flores@127.0.0.1:1/flores");

    t0 = fv_now_ms();
    res = fv_pg_exec(&worker, "SELECT 1", 0, NULL);
    ck_assert_ptr_null(res);
    ck_assert(fv_now_ms() - t0 < 1000);
    ck_assert_int_eq(fv_pg_begin(&worker), FV_STORE_DOWN);

    mem_init(&m, "GET", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 503);
    ck_assert_str_eq(mem_str(&m, "status"), "error");
    ck_assert_str_eq(mem_str(&m, "code"), "SERVICE_UNAVAILABLE");
    ck_assert_str_eq(mem_str(&m, "data.status"), "down");
    ck_assert_str_eq(mem_str(&m, "data.checks.postgres"), "down");
    mem_free(&m);

    mem_init(&m, "GET", "/metrics", NULL);
    mem_run(&worker, &m);
    ck_assert_ptr_nonnull(strstr(m.body, "store=\"postgres\"} 3\n"));
    mem_free(&m);
}
END_TEST


START_TEST(health_up)
{
    mem_req_t  m;

    mem_init(&m, "GET", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.status"), "ok");
    ck_assert_str_eq(mem_str(&m, "data.service"), "pgtest");
    ck_assert_str_eq(mem_str(&m, "data.checks.postgres"), "up");
    mem_free(&m);
}
END_TEST


START_TEST(reconnects_after_the_server_drops_the_connection)
{
    PGresult  *res;
    char       sql[256];
    int        pid;

    res = fv_pg_exec(&worker, "SELECT pg_backend_pid()", 0, NULL);
    ck_assert(fv_pg_ok(res));
    pid = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    (void) snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    admin_exec(sql);
    (void) usleep(100 * 1000);

    /* The dead connection is noticed before the query, which goes to a fresh one. */
    res = fv_pg_exec(&worker, "SELECT pg_backend_pid()", 0, NULL);
    ck_assert_ptr_nonnull(res);
    ck_assert(fv_pg_ok(res));
    ck_assert_int_ne(atoi(PQgetvalue(res, 0, 0)), pid);
    PQclear(res);
}
END_TEST


START_TEST(a_broken_transaction_stays_broken)
{
    PGresult  *res;
    char       sql[256];
    int        pid;

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    res = fv_pg_exec(&worker, "SELECT pg_backend_pid()", 0, NULL);
    pid = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);

    (void) snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)", pid);
    admin_exec(sql);
    (void) usleep(100 * 1000);

    ck_assert_ptr_null(fv_pg_exec(&worker, "SELECT 1", 0, NULL));
    /* No autocommit statement on a new connection inside that transaction. */
    ck_assert_ptr_null(fv_pg_exec(&worker, "SELECT 1", 0, NULL));
    ck_assert_int_eq(fv_pg_commit(&worker), FV_STORE_DOWN);

    res = fv_pg_exec(&worker, "SELECT 1", 0, NULL);
    ck_assert(fv_pg_ok(res));
    PQclear(res);
}
END_TEST


START_TEST(outbox_rows_follow_the_transaction)
{
    json_object  *data;
    PGresult     *res;

    data = json_object_new_object();
    (void) json_object_object_add(data, "userId", json_object_new_int(7));
    (void) json_object_object_add(data, "email", json_object_new_string("o'brien@x.cl"));

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    ck_assert_int_eq(fv_outbox_add(&worker, "user.registered", data), FV_OK);
    fv_pg_rollback(&worker);

    ck_assert_int_eq(fv_pg_begin(&worker), FV_OK);
    ck_assert_int_eq(fv_outbox_add(&worker, "user.registered", data), FV_OK);
    ck_assert_int_eq(fv_pg_commit(&worker), FV_OK);

    /* data stays the caller's. */
    json_object_put(data);

    ck_assert_int_eq(fv_outbox_add(&worker, "Bad Type", NULL), FV_ERROR);

    res = fv_pg_exec(&worker, "SELECT type, source, payload->>'email', published_at IS NULL "
                              "FROM outbox", 0, NULL);
    ck_assert(fv_pg_ok(res));
    ck_assert_int_eq(PQntuples(res), 1);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), "user.registered");
    ck_assert_str_eq(PQgetvalue(res, 0, 1), "pgtest");
    ck_assert_str_eq(PQgetvalue(res, 0, 2), "o'brien@x.cl");
    ck_assert_str_eq(PQgetvalue(res, 0, 3), "t");
    PQclear(res);
}
END_TEST


/* ---- with RabbitMQ -------------------------------------------------------------------- */

/* A private queue bound to the exchange, on a connection of the test's own. */
static fv_amqp_t *
listen_events(char *queue, size_t size)
{
    fv_amqp_t                  *a;
    amqp_connection_state_t     c;
    amqp_queue_declare_ok_t    *q;

    a = fv_amqp_open(fv_server_conf(server));
    ck_assert_ptr_nonnull(a);
    c = fv_amqp_connection(a);

    q = amqp_queue_declare(c, 1, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    ck_assert_ptr_nonnull(q);
    (void) snprintf(queue, size, "%.*s", (int) q->queue.len, (char *) q->queue.bytes);
    (void) amqp_queue_bind(c, 1, amqp_cstring_bytes(queue), amqp_cstring_bytes("flores.events"),
        amqp_cstring_bytes("test.#"), amqp_empty_table);
    ck_assert_int_eq(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
    (void) amqp_basic_consume(c, 1, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 1, 0,
        amqp_empty_table);
    ck_assert_int_eq(amqp_get_rpc_reply(c).reply_type, AMQP_RESPONSE_NORMAL);
    return a;
}


/* The next message's body, or NULL after 5 s. */
static json_object *
next_event(fv_amqp_t *a)
{
    amqp_envelope_t   env;
    amqp_rpc_reply_t  r;
    struct timeval    tv = { 5, 0 };
    json_object      *o;

    amqp_maybe_release_buffers(fv_amqp_connection(a));
    r = amqp_consume_message(fv_amqp_connection(a), &env, &tv, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        return NULL;
    }

    {
        char  *text = strndup(env.message.body.bytes, env.message.body.len);

        ck_assert_ptr_nonnull(text);
        o = json_tokener_parse(text);
        free(text);
    }
    amqp_destroy_envelope(&env);
    return o;
}


START_TEST(publish_with_confirm)
{
    fv_amqp_t    *pub, *sub;
    json_object  *ev, *v;
    char          queue[256];

    if (amqp_url == NULL) {
        return;
    }

    sub = listen_events(queue, sizeof(queue));
    pub = fv_amqp_open(fv_server_conf(server));
    ck_assert_ptr_nonnull(pub);
    ck_assert_int_eq(fv_amqp_publish(pub, "test.one", "id-1", "{\"n\":1}", 7), 0);
    ck_assert_int_eq(fv_amqp_publish(pub, "test.two", "id-2", "{\"n\":2}", 7), 0);

    ev = next_event(sub);
    ck_assert_ptr_nonnull(ev);
    ck_assert(json_object_object_get_ex(ev, "n", &v));
    ck_assert_int_eq(json_object_get_int(v), 1);
    json_object_put(ev);
    ev = next_event(sub);
    ck_assert_ptr_nonnull(ev);
    json_object_put(ev);

    fv_amqp_close(pub);
    fv_amqp_close(sub);
}
END_TEST


START_TEST(relay_publishes_in_order_and_marks_rows)
{
    fv_amqp_t    *sub;
    json_object  *data, *ev, *v;
    pthread_t     relay;
    char          queue[256], type[32];
    int           i;
    ssize_t       n;

    if (amqp_url == NULL) {
        return;
    }

    sub = listen_events(queue, sizeof(queue));

    /* Rows written before the relay starts, and one after. */
    for (i = 0; i < 3; i++) {
        data = json_object_new_object();
        (void) json_object_object_add(data, "n", json_object_new_int(i));
        (void) snprintf(type, sizeof(type), "test.n%d", i);
        ck_assert_int_eq(fv_outbox_add(&worker, type, data), FV_OK);
        json_object_put(data);
    }

    ck_assert_int_eq(fv_outbox_start(server, &relay), 0);

    data = json_object_new_object();
    (void) json_object_object_add(data, "n", json_object_new_int(3));
    ck_assert_int_eq(fv_outbox_add(&worker, "test.n3", data), FV_OK);
    json_object_put(data);

    for (i = 0; i < 4; i++) {
        ev = next_event(sub);
        ck_assert_msg(ev != NULL, "event %d did not arrive", i);
        ck_assert(json_object_object_get_ex(ev, "data", &v));
        ck_assert(json_object_object_get_ex(v, "n", &v));
        ck_assert_int_eq(json_object_get_int(v), i);
        ck_assert(json_object_object_get_ex(ev, "id", &v));
        ck_assert_uint_eq(strlen(json_object_get_string(v)), 36);
        ck_assert(json_object_object_get_ex(ev, "source", &v));
        ck_assert_str_eq(json_object_get_string(v), "pgtest");
        ck_assert(json_object_object_get_ex(ev, "occurredAt", &v));
        ck_assert_uint_eq(strlen(json_object_get_string(v)), 24);
        ck_assert(json_object_object_get_ex(ev, "type", &v));
        json_object_put(ev);
    }

    /* Marked once confirmed (the UPDATE may trail the delivery by a moment). */
    for (i = 0; i < 50; i++) {
        char sql[128];

        (void) snprintf(sql, sizeof(sql),
            "SELECT count(*) FROM %s.outbox WHERE published_at IS NULL", schema);
        if (admin_count(sql) == 0) {
            break;
        }
        (void) usleep(100 * 1000);
    }
    ck_assert_int_lt(i, 50);

    /* The relay stops promptly when the server stops. */
    atomic_store(&server->stopping, 1);
    n = write(server->wake[1], "x", 1);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(pthread_join(relay, NULL), 0);

    fv_amqp_close(sub);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    pg_url = getenv("FLORES_TEST_PG_URL");
    amqp_url = getenv("FLORES_TEST_AMQP_URL");

    if (pg_url == NULL || *pg_url == '\0') {
        (void) fprintf(stderr, "check_pg: FLORES_TEST_PG_URL is not set; skipped\n");
        return 77;
    }

    if (amqp_url != NULL) {
        (void) setenv("FLORES_AMQP_URL", amqp_url, 1);
    }

    fv_log_init("test", getenv("FLORES_TEST_VERBOSE") ? FV_LOG_DEBUG : FV_LOG_ERROR + 1);
    (void) unsetenv("FLORES_CONFIG");

    s = suite_create("pg");
    tc = tcase_create("pg");
    tcase_set_timeout(tc, 30);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, queries_with_parameters_in_the_schema);
    tcase_add_test(tc, transactions);
    tcase_add_test(tc, request_end_rolls_back_what_a_handler_left_open);
    tcase_add_test(tc, unreachable_server_fails_fast_and_counts);
    tcase_add_test(tc, health_up);
    tcase_add_test(tc, reconnects_after_the_server_drops_the_connection);
    tcase_add_test(tc, a_broken_transaction_stays_broken);
    tcase_add_test(tc, outbox_rows_follow_the_transaction);
    tcase_add_test(tc, publish_with_confirm);
    tcase_add_test(tc, relay_publishes_in_order_and_marks_rows);
    suite_add_tcase(s, tc);

    return check_run(s);
}
