/* check_redis.c: fv_redis: the URL, an unreachable server (a prompt failure, counted, no
 * second attempt in the same request, a new one in the next), /health; against
 * FLORES_TEST_REDIS_URL when set: binary-safe arguments, scripts, and a connection the
 * server closed while the worker was idle replaced before it is used. */

#include <config.h>

#include <unistd.h>

#include "check_fv.h"
#include "fv_redis.h"


static const char  *redis_url;
static fv_server_t *server;
static fv_worker_t  worker;


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
    "redistest", routes, FV_STORE_REDIS, 0, NULL, NULL, NULL
};


static void
start_server(const char *url)
{
    fv_conf_t  *conf;

    ck_assert_int_eq(setenv("FLORES_REDIS_URL", url, 1), 0);
    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    fv_worker_init(&worker, server, 0);
}


static void
stop_server(void)
{
    fv_worker_close(&worker);
    fv_server_free(server);
    server = NULL;
}


static int
url_ok(const char *url)
{
    fv_conf_t  *conf;
    int         ok;

    ck_assert_int_eq(setenv("FLORES_REDIS_URL", url, 1), 0);
    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    ok = fv_redis_conf_ok(conf);
    fv_conf_close(conf);
    return ok;
}


START_TEST(urls)
{
    ck_assert(url_ok("redis://127.0.0.1:6379/0"));
    ck_assert(url_ok("redis://127.0.0.1:6379"));
    ck_assert(url_ok("redis://localhost/3"));
    ck_assert(url_ok("redis://localhost/"));
    ck_assert(url_ok("redis://h:1"));
    ck_assert(!url_ok(""));
    ck_assert(!url_ok("http://127.0.0.1:6379/0"));
    ck_assert(!url_ok("redis://"));
    ck_assert(!url_ok("redis://:6379/0"));
    ck_assert(!url_ok("redis://127.0.0.1:0/0"));
    ck_assert(!url_ok("redis://127.0.0.1:65536/0"));
    ck_assert(!url_ok("redis://127.0.0.1:x/0"));
    ck_assert(!url_ok("redis://127.0.0.1:6379/x"));
    ck_assert(!url_ok("redis://127.0.0.1:6379/-1"));
    ck_assert(!url_ok("redis://127.0.0.1:6379/0/1"));
    ck_assert(!url_ok("redis://127.0.0.1:6379/0?x=1"));

    /* ACL users: the password in the URL or in FLORES_REDIS_PASSWORD[_FILE]. */
    ck_assert(url_ok("redis://user:pw@127.0.0.1:6379/0"));
    ck_assert(url_ok("redis://flores-cart@127.0.0.1:6379/0"));
    ck_assert(url_ok("redis://u:p@h"));
    ck_assert(!url_ok("redis://@127.0.0.1:6379/0"));
    ck_assert(!url_ok("redis://:pw@127.0.0.1:6379/0"));
    ck_assert(!url_ok("redis://user:@127.0.0.1:6379/0"));
    ck_assert(!url_ok("redis://user:pw@/0"));
}
END_TEST


/* The URL may come from a file (FLORES_REDIS_URL_FILE), password and all. */
START_TEST(the_url_from_a_file)
{
    redisReply  *reply;
    fv_conf_t   *conf;
    char         path[] = "/tmp/check_redis_url.XXXXXX";
    int          fd;

    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, redis_url, strlen(redis_url)), (ssize_t) strlen(redis_url));
    ck_assert_int_eq(write(fd, "\n", 1), 1);
    (void) close(fd);

    ck_assert_int_eq(unsetenv("FLORES_REDIS_URL"), 0);
    ck_assert_int_eq(setenv("FLORES_REDIS_URL_FILE", path, 1), 0);
    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    ck_assert(fv_redis_conf_ok(conf));
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    fv_worker_init(&worker, server, 0);

    reply = fv_redis_command(&worker, "PING");
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);

    stop_server();
    ck_assert_int_eq(unsetenv("FLORES_REDIS_URL_FILE"), 0);
    (void) unlink(path);
}
END_TEST


/* A user with a wrong password gets no connection; the password is in no log line. */
START_TEST(a_wrong_password_is_refused)
{
    redisReply  *reply;
    char         url[512];
    const char  *at, *host;

    /* The test server's URL with its user (if any) and a wrong password. */
    at = strrchr(redis_url, '@');
    host = at != NULL ? at + 1 : redis_url + strlen("redis://");
    (void) snprintf(url, sizeof(url), "redis://flores-admin:wrong-password@%s", host);

    start_server(url);
    reply = fv_redis_command(&worker, "PING");
    ck_assert_ptr_null(reply);
    ck_assert_int_eq(worker.redis_broken, 1);
    stop_server();
}
END_TEST


START_TEST(unreachable_server_fails_fast_and_counts)
{
    redisReply  *reply;
    mem_req_t    m;
    double       t0;

    /* A port nobody listens on. */
    start_server("redis://127.0.0.1:1/0");

    t0 = fv_now_ms();
    reply = fv_redis_command(&worker, "PING");
    ck_assert_ptr_null(reply);
    ck_assert(fv_now_ms() - t0 < 1000);
    ck_assert_int_eq(worker.redis_broken, 1);

    /* No second attempt within the request. */
    ck_assert_ptr_null(fv_redis_command(&worker, "PING"));
    fv_worker_end(&worker);
    ck_assert_int_eq(worker.redis_broken, 0);

    mem_init(&m, "GET", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 503);
    ck_assert_str_eq(mem_str(&m, "code"), "SERVICE_UNAVAILABLE");
    ck_assert_str_eq(mem_str(&m, "data.checks.redis"), "down");
    mem_free(&m);

    mem_init(&m, "GET", "/metrics", NULL);
    mem_run(&worker, &m);
    ck_assert_ptr_nonnull(strstr(m.body, "store=\"redis\"} 2\n"));
    mem_free(&m);

    stop_server();
}
END_TEST


START_TEST(binary_safe_arguments_and_scripts)
{
    static const char  key[] = "fvtest:bin\0key";
    static const char  val[] = "a\0b c\r\n%s";
    redisReply        *reply;
    long long          v;
    mem_req_t          m;

    start_server(redis_url);

    mem_init(&m, "GET", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.checks.redis"), "up");
    mem_free(&m);

    reply = fv_redis_command(&worker, "SET %b %b", key, sizeof(key) - 1, val, sizeof(val) - 1);
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);

    reply = fv_redis_command(&worker, "GET %b", key, sizeof(key) - 1);
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->type, REDIS_REPLY_STRING);
    ck_assert_uint_eq(reply->len, sizeof(val) - 1);
    ck_assert(memcmp(reply->str, val, sizeof(val) - 1) == 0);
    freeReplyObject(reply);

    reply = fv_redis_command(&worker, "EVAL %s 1 %b %s",
                             "return redis.call('STRLEN', KEYS[1]) + tonumber(ARGV[1])",
                             key, sizeof(key) - 1, "100");
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(fv_redis_integer(reply, "eval", &v), FV_OK);
    ck_assert_int_eq(v, 100 + (long long) sizeof(val) - 1);
    freeReplyObject(reply);

    /* A command's own error is a reply, not an outage. */
    reply = fv_redis_command(&worker, "HGET %b x", key, sizeof(key) - 1);
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->type, REDIS_REPLY_ERROR);
    ck_assert_int_eq(fv_redis_integer(reply, "hget", &v), FV_ERROR);
    freeReplyObject(reply);
    ck_assert_int_eq(worker.redis_broken, 0);

    reply = fv_redis_command(&worker, "DEL %b", key, sizeof(key) - 1);
    ck_assert_ptr_nonnull(reply);
    freeReplyObject(reply);

    stop_server();
}
END_TEST


START_TEST(a_connection_closed_while_idle_is_replaced)
{
    redisReply  *reply;
    fv_worker_t  other;
    long long    id;

    start_server(redis_url);

    reply = fv_redis_command(&worker, "CLIENT ID");
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(fv_redis_integer(reply, "client id", &id), FV_OK);
    freeReplyObject(reply);
    fv_worker_end(&worker);

    /* The server drops the worker's connection (as a restart would). */
    fv_worker_init(&other, server, 1);
    reply = fv_redis_command(&other, "CLIENT KILL ID %lld", id);
    ck_assert_ptr_nonnull(reply);
    freeReplyObject(reply);
    fv_worker_close(&other);
    usleep(100000);

    /* The next request is served at once, on a new connection. */
    reply = fv_redis_command(&worker, "PING");
    ck_assert_ptr_nonnull(reply);
    ck_assert_int_eq(reply->type, REDIS_REPLY_STATUS);
    freeReplyObject(reply);
    ck_assert_int_eq(worker.redis_broken, 0);

    stop_server();
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    redis_url = getenv("FLORES_TEST_REDIS_URL");
    if (redis_url != NULL && *redis_url == '\0') {
        redis_url = NULL;
    }

    fv_log_init("test", getenv("FLORES_TEST_VERBOSE") ? FV_LOG_DEBUG : FV_LOG_ERROR + 1);
    (void) unsetenv("FLORES_CONFIG");
    (void) unsetenv("FLORES_REDIS_TIMEOUT");

    s = suite_create("redis");
    tc = tcase_create("redis");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, urls);
    tcase_add_test(tc, unreachable_server_fails_fast_and_counts);
    if (redis_url != NULL) {
        tcase_add_test(tc, binary_safe_arguments_and_scripts);
        tcase_add_test(tc, a_connection_closed_while_idle_is_replaced);
        tcase_add_test(tc, a_wrong_password_is_refused);
        tcase_add_test(tc, the_url_from_a_file);
    } else {
        (void) fprintf(stderr, "check_redis: FLORES_TEST_REDIS_URL is not set; "
                       "the tests against a server are skipped\n");
    }
    suite_add_tcase(s, tc);

    return check_run(s);
}
