/* check_http.c: fv_http_json() against a small HTTP server inside the test: JSON replies
 * and statuses, bodies and headers sent, kept-alive connections, the size bound, timeouts,
 * unreachable peers, and the same over a unix socket (FLORES_INTERNAL_SOCKET). */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "check_fv.h"
#include "fv_http.h"


typedef struct {
    int                   fd;
    int                   port;
    pthread_t             thread;
    atomic_int            stop;
    atomic_int            accepts;
    pthread_mutex_t       lock;
    char                  request[8192];     /* the last request, head and body */
} srv_t;

static srv_t         srv;
static fv_server_t  *server;
static fv_worker_t   worker;

static const fv_route_t  routes[] = { FV_ROUTES_END };
static const fv_service_t  svc = { "httptest", routes, 0, 0, NULL, NULL, NULL };


/* ---- the server ----------------------------------------------------------------------- */

static int
srv_send(int fd, const char *status, const char *type, const char *body, size_t len)
{
    char     head[512];
    int      n;
    size_t   off = 0;
    ssize_t  w;

    n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\n%s%s%sContent-Length: %zu\r\n\r\n",
        status, type ? "Content-Type: " : "", type ? type : "", type ? "\r\n" : "", len);
    if (send(fd, head, (size_t) n, MSG_NOSIGNAL) != n) {
        return -1;
    }

    while (off < len) {
        w = send(fd, body + off, len - off, MSG_NOSIGNAL);
        if (w <= 0) {
            return -1;
        }
        off += (size_t) w;
    }

    return 0;
}


/* Reads one request into buf; its length, 0 at the end of the connection, -1 on stop. */
static long
srv_read(int fd, char *buf, size_t size)
{
    struct pollfd  pfd;
    size_t         have = 0;
    char          *end, *cl;
    long           need = -1;
    ssize_t        n;

    for ( ;; ) {
        if (need < 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            cl = strcasestr(buf, "Content-Length:");
            need = (end - buf) + 4 + (cl != NULL && cl < end ? atol(cl + 15) : 0);
        }

        if (need >= 0 && (long) have >= need) {
            return (long) have;
        }

        pfd.fd = fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 100) == 0) {
            if (atomic_load(&srv.stop)) {
                return -1;
            }
            continue;
        }

        if (have + 1 >= size) {
            return -1;
        }
        n = recv(fd, buf + have, size - have - 1, 0);
        if (n <= 0) {
            return 0;
        }
        have += (size_t) n;
        buf[have] = '\0';
    }
}


static void
srv_answer(int fd, const char *req)
{
    char         path[256], reply[512];
    const char  *body;
    char        *big;
    size_t       n;

    if (sscanf(req, "%*s %255s", path) != 1) {
        return;
    }

    body = strstr(req, "\r\n\r\n") + 4;

    if (strcmp(path, "/json") == 0) {
        (void) snprintf(reply, sizeof(reply), "{\"ok\":true,\"echo\":%s}",
            *body ? body : "null");
        (void) srv_send(fd, "200 OK", "application/json", reply, strlen(reply));

    } else if (strcmp(path, "/missing") == 0) {
        (void) srv_send(fd, "404 Not Found", "application/json",
            "{\"status\":\"fail\",\"code\":\"NOT_FOUND\"}", 36);

    } else if (strcmp(path, "/empty") == 0) {
        (void) srv_send(fd, "204 No Content", NULL, "", 0);

    } else if (strcmp(path, "/html") == 0) {
        (void) srv_send(fd, "200 OK", "text/html", "<p>hola</p>", 11);

    } else if (strcmp(path, "/big") == 0) {
        n = FV_HTTP_MAX_RESPONSE + 1000;
        big = malloc(n);
        ck_assert_ptr_nonnull(big);
        memset(big, ' ', n);
        big[0] = '[';
        big[n - 1] = ']';
        (void) srv_send(fd, "200 OK", "application/json", big, n);
        free(big);

    } else if (strcmp(path, "/slow") == 0) {
        (void) usleep(1500 * 1000);
        (void) srv_send(fd, "200 OK", "application/json", "{}", 2);

    } else {
        (void) srv_send(fd, "500 Internal Server Error", "application/json", "{}", 2);
    }
}


static void *
srv_main(void *arg)
{
    struct pollfd  pfd;
    char           buf[8192];
    long           n;
    int            c;

    (void) arg;

    while (!atomic_load(&srv.stop)) {
        pfd.fd = srv.fd;
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 100) <= 0) {
            continue;
        }

        c = accept(srv.fd, NULL, NULL);
        if (c < 0) {
            continue;
        }
        atomic_fetch_add(&srv.accepts, 1);

        for ( ;; ) {
            buf[0] = '\0';
            n = srv_read(c, buf, sizeof(buf));
            if (n <= 0) {
                break;
            }
            (void) pthread_mutex_lock(&srv.lock);
            (void) snprintf(srv.request, sizeof(srv.request), "%s", buf);
            (void) pthread_mutex_unlock(&srv.lock);
            srv_answer(c, buf);
        }

        (void) close(c);
    }

    return NULL;
}


static void
last_request(char *out, size_t size)
{
    (void) pthread_mutex_lock(&srv.lock);
    (void) snprintf(out, size, "%s", srv.request);
    (void) pthread_mutex_unlock(&srv.lock);
}


/* ---- fixtures ------------------------------------------------------------------------- */

static void
make_server(const char *url, const char *timeout)
{
    fv_conf_t  *conf;

    if (url != NULL) {
        ck_assert_int_eq(setenv("FLORES_INTERNAL_URL", url, 1), 0);
    } else {
        ck_assert_int_eq(unsetenv("FLORES_INTERNAL_URL"), 0);
    }
    if (timeout != NULL) {
        ck_assert_int_eq(setenv("FLORES_HTTP_TIMEOUT", timeout, 1), 0);
    } else {
        ck_assert_int_eq(unsetenv("FLORES_HTTP_TIMEOUT"), 0);
    }

    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    fv_worker_init(&worker, server, 0);
}


static void
setup(void)
{
    struct sockaddr_in  sa;
    socklen_t           len = sizeof(sa);
    char                url[64];

    memset(&srv, 0, sizeof(srv));
    ck_assert_int_eq(pthread_mutex_init(&srv.lock, NULL), 0);

    srv.fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(srv.fd, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(srv.fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(srv.fd, 16), 0);
    ck_assert_int_eq(getsockname(srv.fd, (struct sockaddr *) &sa, &len), 0);
    srv.port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&srv.thread, NULL, srv_main, NULL), 0);

    /* A trailing slash on the base is forgiven. */
    (void) snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv.port);
    make_server(url, NULL);
}


static void
teardown(void)
{
    fv_worker_close(&worker);
    fv_server_free(server);

    atomic_store(&srv.stop, 1);
    (void) pthread_join(srv.thread, NULL);
    (void) close(srv.fd);
    (void) pthread_mutex_destroy(&srv.lock);
}


/* ---- tests ---------------------------------------------------------------------------- */

START_TEST(get_returns_the_parsed_reply)
{
    json_object  *o, *v;
    long          status = -1;
    char          req[8192];

    o = fv_http_json(&worker, "GET", "/json", NULL, "rid-1.a_B", &status);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(status, 200);
    ck_assert(json_object_object_get_ex(o, "ok", &v));
    ck_assert(json_object_get_boolean(v));
    json_object_put(o);

    last_request(req, sizeof(req));
    ck_assert_msg(strncmp(req, "GET /json HTTP/1.1\r\n", 20) == 0, "%s", req);
    ck_assert_ptr_nonnull(strstr(req, "\r\nX-Request-ID: rid-1.a_B\r\n"));
    ck_assert_ptr_nonnull(strstr(req, "\r\nAccept: application/json\r\n"));
    ck_assert_ptr_null(strcasestr(req, "Content-Type"));
}
END_TEST


START_TEST(post_sends_the_body_as_json)
{
    json_object  *body, *o, *v;
    long          status = -1;
    char          req[8192];

    body = json_tokener_parse("{\"quantity\":3,\"note\":\"ñandú/ok\"}");
    ck_assert_ptr_nonnull(body);

    o = fv_http_json(&worker, "POST", "/json", body, NULL, &status);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(status, 200);
    ck_assert(json_object_object_get_ex(o, "echo", &v));
    ck_assert(json_object_object_get_ex(v, "quantity", &v));
    ck_assert_int_eq(json_object_get_int(v), 3);
    json_object_put(o);

    /* The body stays the caller's. */
    ck_assert(json_object_object_get_ex(body, "note", &v));
    json_object_put(body);

    last_request(req, sizeof(req));
    ck_assert_msg(strncmp(req, "POST /json HTTP/1.1\r\n", 21) == 0, "%s", req);
    ck_assert_ptr_nonnull(strstr(req, "\r\nContent-Type: application/json\r\n"));
    ck_assert_ptr_nonnull(strstr(req, "\r\n\r\n{\"quantity\":3,\"note\":\"ñandú/ok\"}"));
    ck_assert_ptr_null(strcasestr(req, "Expect:"));
    ck_assert_ptr_null(strcasestr(req, "X-Request-ID"));
}
END_TEST


START_TEST(other_statuses_and_bodies)
{
    json_object  *o, *v;
    long          status = -1;

    o = fv_http_json(&worker, "GET", "/missing", NULL, NULL, &status);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(status, 404);
    ck_assert(json_object_object_get_ex(o, "code", &v));
    ck_assert_str_eq(json_object_get_string(v), "NOT_FOUND");
    json_object_put(o);

    status = -1;
    ck_assert_ptr_null(fv_http_json(&worker, "DELETE", "/empty", NULL, NULL, &status));
    ck_assert_int_eq(status, 204);

    status = -1;
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/html", NULL, NULL, &status));
    ck_assert_int_eq(status, 200);

    /* Over 1 MiB: no reply as far as the caller knows. */
    status = -1;
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/big", NULL, NULL, &status));
    ck_assert_int_eq(status, 0);

    /* And the next call works. */
    o = fv_http_json(&worker, "GET", "/json", NULL, NULL, &status);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(status, 200);
    json_object_put(o);
}
END_TEST


START_TEST(the_connection_is_kept_alive)
{
    json_object  *o;
    long          status;
    int           i;

    for (i = 0; i < 5; i++) {
        o = fv_http_json(&worker, i % 2 ? "POST" : "GET", "/json", NULL, NULL, &status);
        ck_assert_ptr_nonnull(o);
        json_object_put(o);
    }

    ck_assert_int_eq(atomic_load(&srv.accepts), 1);
}
END_TEST


START_TEST(bad_requests_are_not_sent)
{
    long  status = -1;

    ck_assert_ptr_null(fv_http_json(&worker, "GET", "json", NULL, NULL, &status));
    ck_assert_int_eq(status, 0);
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/a b", NULL, NULL, &status));
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/a\r\nX: y", NULL, NULL, &status));
    ck_assert_ptr_null(fv_http_json(&worker, "get", "/json", NULL, NULL, &status));
    ck_assert_ptr_null(fv_http_json(&worker, "GET\r\n", "/json", NULL, NULL, &status));
    ck_assert_int_eq(atomic_load(&srv.accepts), 0);

    /* A request id that is not one is not forwarded. */
    {
        json_object  *o;
        char          req[8192];

        o = fv_http_json(&worker, "GET", "/json", NULL, "a b\r\nX-Evil: 1", &status);
        ck_assert_ptr_nonnull(o);
        json_object_put(o);
        last_request(req, sizeof(req));
        ck_assert_ptr_null(strcasestr(req, "X-Evil"));
        ck_assert_ptr_null(strcasestr(req, "X-Request-ID"));
    }
}
END_TEST


START_TEST(a_slow_peer_times_out)
{
    json_object  *o;
    long          status = -1;
    double        t0;

    fv_worker_close(&worker);
    fv_server_free(server);
    {
        char  url[64];

        (void) snprintf(url, sizeof(url), "http://127.0.0.1:%d", srv.port);
        make_server(url, "300");
    }

    t0 = fv_now_ms();
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/slow", NULL, NULL, &status));
    ck_assert_int_eq(status, 0);
    ck_assert_msg(fv_now_ms() - t0 < 1000, "took %.0f ms", fv_now_ms() - t0);

    /* The server is still busy with the slow one; then answers the next call. */
    (void) usleep(1500 * 1000);
    o = fv_http_json(&worker, "GET", "/json", NULL, NULL, &status);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(status, 200);
    json_object_put(o);
}
END_TEST


START_TEST(an_unreachable_peer_fails_fast)
{
    long    status = -1;
    double  t0;
    int     fd, port;
    struct sockaddr_in  sa;
    socklen_t           len = sizeof(sa);
    char                url[64];

    /* A port that was just free: nobody listens there. */
    fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &sa, &len), 0);
    port = ntohs(sa.sin_port);
    (void) close(fd);

    fv_worker_close(&worker);
    fv_server_free(server);
    (void) snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    make_server(url, NULL);

    t0 = fv_now_ms();
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/json", NULL, "r1", &status));
    ck_assert_int_eq(status, 0);
    ck_assert(fv_now_ms() - t0 < 1000);

    /* Counted as a store error. */
    {
        mem_req_t  m;

        mem_init(&m, "GET", "/metrics", NULL);
        mem_run(&worker, &m);
        ck_assert_ptr_nonnull(strstr(m.body, "store=\"http\"} 1\n"));
        mem_free(&m);
    }

    /* Without FLORES_INTERNAL_URL there is nobody to call. */
    fv_worker_close(&worker);
    fv_server_free(server);
    make_server(NULL, NULL);
    status = -1;
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/json", NULL, NULL, &status));
    ck_assert_int_eq(status, 0);
}
END_TEST


/* ---- over a unix socket ------------------------------------------------------------- */

static char  sock_path[108];


static void
unix_setup(void)
{
    struct sockaddr_un  un;

    memset(&srv, 0, sizeof(srv));
    ck_assert_int_eq(pthread_mutex_init(&srv.lock, NULL), 0);

    (void) snprintf(sock_path, sizeof(sock_path), "/tmp/check_http.%ld.sock", (long) getpid());
    (void) unlink(sock_path);

    srv.fd = socket(AF_UNIX, SOCK_STREAM, 0);
    ck_assert_int_ge(srv.fd, 0);
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, sock_path, strlen(sock_path));
    ck_assert_int_eq(bind(srv.fd, (struct sockaddr *) &un, sizeof(un)), 0);
    ck_assert_int_eq(listen(srv.fd, 16), 0);
    ck_assert_int_eq(pthread_create(&srv.thread, NULL, srv_main, NULL), 0);

    /* Port 1 of localhost answers nothing: a reply can only come through the socket. */
    ck_assert_int_eq(setenv("FLORES_INTERNAL_SOCKET", sock_path, 1), 0);
    make_server("http://localhost:1", NULL);
}


static void
unix_teardown(void)
{
    teardown();
    (void) unlink(sock_path);
    (void) unsetenv("FLORES_INTERNAL_SOCKET");
}


START_TEST(calls_go_through_the_unix_socket)
{
    json_object  *o;
    long          status = -1;
    char          req[8192];

    o = fv_http_json(&worker, "GET", "/json", NULL, "rid-u", &status);
    ck_assert_ptr_nonnull(o);
    ck_assert_int_eq(status, 200);
    json_object_put(o);

    last_request(req, sizeof(req));
    ck_assert_msg(strncmp(req, "GET /json HTTP/1.1\r\n", 20) == 0, "%s", req);
    ck_assert_ptr_nonnull(strstr(req, "\r\nHost: localhost:1\r\n"));

    /* Kept alive there too. */
    o = fv_http_json(&worker, "GET", "/missing", NULL, NULL, &status);
    ck_assert_int_eq(status, 404);
    json_object_put(o);
    ck_assert_int_eq(atomic_load(&srv.accepts), 1);

    /* A socket nobody listens on fails fast, as an unreachable peer. */
    fv_worker_close(&worker);
    fv_server_free(server);
    ck_assert_int_eq(setenv("FLORES_INTERNAL_SOCKET", "/nonexistent/internal.sock", 1), 0);
    make_server("http://localhost:1", NULL);
    status = -1;
    ck_assert_ptr_null(fv_http_json(&worker, "GET", "/json", NULL, NULL, &status));
    ck_assert_int_eq(status, 0);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    fv_log_init("test", getenv("FLORES_TEST_VERBOSE") ? FV_LOG_DEBUG : FV_LOG_ERROR + 1);
    (void) unsetenv("FLORES_CONFIG");
    (void) signal(SIGPIPE, SIG_IGN);

    s = suite_create("http");
    tc = tcase_create("http");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, get_returns_the_parsed_reply);
    tcase_add_test(tc, post_sends_the_body_as_json);
    tcase_add_test(tc, other_statuses_and_bodies);
    tcase_add_test(tc, the_connection_is_kept_alive);
    tcase_add_test(tc, bad_requests_are_not_sent);
    tcase_add_test(tc, a_slow_peer_times_out);
    tcase_add_test(tc, an_unreachable_peer_fails_fast);
    suite_add_tcase(s, tc);

    tc = tcase_create("unix socket");
    tcase_set_timeout(tc, 20);
    tcase_add_checked_fixture(tc, unix_setup, unix_teardown);
    tcase_add_test(tc, calls_go_through_the_unix_socket);
    suite_add_tcase(s, tc);

    return check_run(s);
}
