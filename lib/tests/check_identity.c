/* check_identity.c: unit tests of who a request is from: the principal resolved from the
 * gateway's parameters (failing closed), the gateway key, and the listening socket's mode. */

#include <config.h>

#include <unistd.h>

#include "check_fv.h"


/* ---- the principal table ------------------------------------------------------------- */

typedef struct {
    const char      *id;
    const char      *role;
    const char      *internal;
    int              rc;
    fv_principal_e   kind;
    int64_t          pid;
} principal_case_t;

static const principal_case_t  principal_cases[] = {
    /* Nobody, as the gateway sends it (empty parameters) or not at all. */
    { NULL, NULL, NULL, 0, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "", "", "", 0, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "", NULL, "1", 0, FV_PRINCIPAL_ANONYMOUS, 0 },

    /* Users. */
    { "7", "customer", "", 0, FV_PRINCIPAL_CUSTOMER, 7 },
    { "1", "admin", NULL, 0, FV_PRINCIPAL_ADMIN, 1 },
    { "9007199254740992", "customer", "", 0, FV_PRINCIPAL_CUSTOMER, 9007199254740992LL },
    { "7", "customer", "1", 0, FV_PRINCIPAL_CUSTOMER, 7 },

    /* Another service, only through the internal passage and naming nobody. */
    { "", "service", "1", 0, FV_PRINCIPAL_SERVICE, 0 },
    { NULL, "service", "1", 0, FV_PRINCIPAL_SERVICE, 0 },

    /* Malformed ids: never a user, never "everyone". */
    { "-1", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "0", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "0", "admin", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "abc", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "1e3", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { " 7", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "7 ", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "+7", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "007", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "7.0", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "0x10", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "9007199254740993", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "9223372036854775807", "admin", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "99999999999999999999999999", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },

    /* Roles: exactly customer or admin beside an id. */
    { "7", NULL, "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "7", "", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "", "customer", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { NULL, "admin", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "7", "Admin", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "7", "admin ", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "7", "root", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "7", "customer,admin", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },

    /* "service" anywhere but the passage, or with an id. */
    { "", "service", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "", "service", NULL, -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "", "service", "yes", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "", "service", "11", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "9", "service", "", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
    { "9", "service", "1", -1, FV_PRINCIPAL_ANONYMOUS, 0 },
};


START_TEST(principal_table)
{
    const principal_case_t  *c = &principal_cases[_i];
    fv_principal_t           p;
    int                      rc;

    p.kind = FV_PRINCIPAL_ADMIN;
    p.id = 42;

    rc = fv_principal_parse(c->id, c->role, c->internal, &p);

    ck_assert_msg(rc == c->rc, "id \"%s\" role \"%s\" internal \"%s\": rc %d, want %d",
        c->id ? c->id : "(null)", c->role ? c->role : "(null)",
        c->internal ? c->internal : "(null)", rc, c->rc);
    ck_assert_int_eq(p.kind, c->kind);
    ck_assert_int_eq(p.id, c->pid);
}
END_TEST


START_TEST(principal_names)
{
    ck_assert_str_eq(fv_principal_name(FV_PRINCIPAL_ANONYMOUS), "anonymous");
    ck_assert_str_eq(fv_principal_name(FV_PRINCIPAL_CUSTOMER), "customer");
    ck_assert_str_eq(fv_principal_name(FV_PRINCIPAL_ADMIN), "admin");
    ck_assert_str_eq(fv_principal_name(FV_PRINCIPAL_SERVICE), "service");
}
END_TEST


/* ---- the pipeline -------------------------------------------------------------------- */

static int  handled;

/* Says who the library resolved; counts every run. */
static int
who(fv_req_t *r)
{
    json_object  *d = json_object_new_object();

    handled++;
    (void) json_object_object_add(d, "kind",
        json_object_new_string(fv_principal_name(r->principal.kind)));
    (void) json_object_object_add(d, "id", json_object_new_int64(r->principal.id));
    (void) json_object_object_add(d, "userId", json_object_new_int64(fv_req_user_id(r)));
    (void) json_object_object_add(d, "admin", json_object_new_boolean(fv_req_is_admin(r)));
    (void) json_object_object_add(d, "service", json_object_new_boolean(fv_req_is_service(r)));
    (void) json_object_object_add(d, "userIdText",
        r->user_id ? json_object_new_string(r->user_id) : NULL);
    (void) json_object_object_add(d, "role",
        r->user_role ? json_object_new_string(r->user_role) : NULL);
    (void) json_object_object_add(d, "email",
        r->user_email ? json_object_new_string(r->user_email) : NULL);
    return fv_reply(r, 200, d, NULL);
}


static const fv_route_t  routes[] = {
    { "GET", "/api/who", FV_PUBLIC, NULL, NULL, who },
    { "GET", "/api/mine", FV_USER, NULL, NULL, who },
    { "GET", "/api/all", FV_ADMIN, NULL, NULL, who },
    { "POST", "/api/internal", FV_SERVICE, NULL, NULL, who },
    FV_ROUTES_END
};

static const fv_service_t  svc = {
    "items", routes, 0, 0, NULL, NULL, NULL
};

static fv_server_t  *server;
static fv_worker_t   worker;
static char          keydir[64];
static char          keyfile[128];

/* 64 hex characters, as the stack generates it. */
#define KEY  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"


static void
new_server(void)
{
    fv_conf_t  *conf;

    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    memset(&worker, 0, sizeof(worker));
    worker.server = server;
    worker.idle_fd = -1;
    handled = 0;
}


static void
setup(void)
{
    (void) unsetenv("FLORES_GATEWAY_KEY");
    (void) unsetenv("FLORES_GATEWAY_KEY_FILE");
    new_server();
}


static void
teardown(void)
{
    fv_server_free(server);
    server = NULL;
}


static void
write_key(const char *text)
{
    FILE  *f;

    f = fopen(keyfile, "w");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fputs(text, f) >= 0, 1);
    ck_assert_int_eq(fclose(f), 0);
}


static void
key_setup(void)
{
    (void) snprintf(keydir, sizeof(keydir), "/tmp/check_identity.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(keydir));
    (void) snprintf(keyfile, sizeof(keyfile), "%s/gateway.key", keydir);
    write_key(KEY "\n");
    ck_assert_int_eq(setenv("FLORES_GATEWAY_KEY_FILE", keyfile, 1), 0);
    (void) unsetenv("FLORES_GATEWAY_KEY");
    new_server();
}


static void
key_teardown(void)
{
    teardown();
    (void) unlink(keyfile);
    (void) rmdir(keydir);
    (void) unsetenv("FLORES_GATEWAY_KEY_FILE");
}


static void
run(mem_req_t *m, const char *method, const char *path, const char *id, const char *role,
    const char *internal)
{
    mem_init(m, method, path, NULL);
    mem_param(m, "FLORES_REQUEST_ID", "req-identity");
    if (id != NULL) {
        mem_param(m, "FLORES_USER_ID", id);
    }
    if (role != NULL) {
        mem_param(m, "FLORES_USER_ROLE", role);
    }
    if (internal != NULL) {
        mem_param(m, "FLORES_INTERNAL", internal);
    }
    mem_param(m, "FLORES_USER_EMAIL", "ana@example.cl");
    mem_run(&worker, m);
}


/* A malformed identity is refused before routing, on a public route too: no handler ever
 * sees a request whose caller it cannot name. */
START_TEST(malformed_identity_refused_before_any_handler)
{
    static const char *const  bad[][2] = {
        { "-1", "customer" }, { "0", "admin" }, { "abc", "customer" }, { "1e3", "admin" },
        { " 7", "customer" }, { "007", "customer" }, { "9007199254740993", "admin" },
        { "7", "" }, { "7", "superuser" }, { "", "admin" }, { "", "service" },
    };
    static const char *const  paths[][2] = {
        { "GET", "/api/who" }, { "GET", "/api/mine" }, { "GET", "/api/all" },
        { "POST", "/api/internal" }, { "GET", "/health" }, { "GET", "/api/nowhere" },
    };
    mem_req_t  m;
    char       buf[128];
    size_t     i, j;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (j = 0; j < sizeof(paths) / sizeof(paths[0]); j++) {
            run(&m, paths[j][0], paths[j][1], bad[i][0], bad[i][1], NULL);
            ck_assert_msg(m.status == 401, "%s %s id \"%s\" role \"%s\": %d", paths[j][0],
                paths[j][1], bad[i][0], bad[i][1], m.status);
            ck_assert_str_eq(mem_str(&m, "status"), "fail");
            ck_assert_str_eq(mem_str(&m, "code"), "UNAUTHORIZED");
            ck_assert_str_eq(mem_str(&m, "requestId"), "req-identity");
            ck_assert_ptr_nonnull(mem_header(&m, "WWW-Authenticate", buf, sizeof(buf)));
            mem_free(&m);
        }
    }

    ck_assert_int_eq(handled, 0);
}
END_TEST


START_TEST(principal_reaches_the_handler)
{
    mem_req_t  m;

    run(&m, "GET", "/api/who", "", "", "");
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.kind"), "anonymous");
    ck_assert_str_eq(mem_str(&m, "data.userId"), "-1");
    ck_assert_ptr_null(mem_str(&m, "data.userIdText"));
    ck_assert_ptr_null(mem_str(&m, "data.role"));
    ck_assert_ptr_null(mem_str(&m, "data.email"));
    mem_free(&m);

    run(&m, "GET", "/api/mine", "7", "customer", "");
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.kind"), "customer");
    ck_assert_str_eq(mem_str(&m, "data.id"), "7");
    ck_assert_str_eq(mem_str(&m, "data.userId"), "7");
    ck_assert_str_eq(mem_str(&m, "data.userIdText"), "7");
    ck_assert_str_eq(mem_str(&m, "data.role"), "customer");
    ck_assert_str_eq(mem_str(&m, "data.email"), "ana@example.cl");
    ck_assert_str_eq(mem_str(&m, "data.admin"), "false");
    mem_free(&m);

    run(&m, "GET", "/api/all", "9007199254740992", "admin", "");
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.kind"), "admin");
    ck_assert_str_eq(mem_str(&m, "data.userId"), "9007199254740992");
    ck_assert_str_eq(mem_str(&m, "data.admin"), "true");
    mem_free(&m);

    /* A service is nobody in particular: no user id, no email. */
    run(&m, "POST", "/api/internal", "", "service", "1");
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.kind"), "service");
    ck_assert_str_eq(mem_str(&m, "data.userId"), "-1");
    ck_assert_str_eq(mem_str(&m, "data.service"), "true");
    ck_assert_ptr_null(mem_str(&m, "data.email"));
    mem_free(&m);

    /* Access levels on the principal. */
    run(&m, "GET", "/api/mine", "", "service", "1");
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    run(&m, "GET", "/api/all", "7", "customer", "");
    ck_assert_int_eq(m.status, 403);
    mem_free(&m);

    run(&m, "POST", "/api/internal", "7", "customer", "1");
    ck_assert_int_eq(m.status, 403);
    mem_free(&m);

    run(&m, "POST", "/api/internal", "1", "admin", "");
    ck_assert_int_eq(m.status, 200);
    mem_free(&m);
}
END_TEST


/* ---- the gateway key ----------------------------------------------------------------- */

START_TEST(gateway_key_compare)
{
    const unsigned char  *k = (const unsigned char *) KEY;
    size_t                n = strlen(KEY);

    ck_assert_int_eq(fv_gateway_key_ok(k, n, KEY), 1);
    ck_assert_int_eq(fv_gateway_key_ok(k, n, NULL), 0);
    ck_assert_int_eq(fv_gateway_key_ok(k, n, ""), 0);
    ck_assert_int_eq(fv_gateway_key_ok(k, n, KEY "0"), 0);
    ck_assert_int_eq(fv_gateway_key_ok(k, n, KEY "\n"), 0);
    ck_assert_int_eq(fv_gateway_key_ok(k, n, KEY + 1), 0);
    ck_assert_int_eq(fv_gateway_key_ok(k, n,
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeF"), 0);
    ck_assert_int_eq(fv_gateway_key_ok(k, n,
        "1123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"), 0);
    ck_assert_int_eq(fv_gateway_key_ok(k, 0, ""), 0);
}
END_TEST


START_TEST(gateway_key_load)
{
    fv_conf_t      *conf;
    unsigned char  *k;
    size_t          n;

    /* Unset: not required. */
    (void) unsetenv("FLORES_GATEWAY_KEY_FILE");
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), 0);
    ck_assert_ptr_null(k);
    fv_conf_close(conf);

    ck_assert_int_eq(setenv("FLORES_GATEWAY_KEY_FILE", keyfile, 1), 0);

    /* Its trailing newline is not part of it. */
    write_key(KEY "\n");
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), 0);
    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(n, 64);
    ck_assert_int_eq(memcmp(k, KEY, 64), 0);
    free(k);
    fv_conf_close(conf);

    /* 32 bytes is enough, 31 is not. */
    write_key("abcdefghijklmnopqrstuvwxyz012345");
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), 0);
    ck_assert_uint_eq(n, 32);
    free(k);
    fv_conf_close(conf);

    write_key("abcdefghijklmnopqrstuvwxyz01234\n");
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), -1);
    ck_assert_ptr_null(k);
    fv_conf_close(conf);

    write_key("");
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), -1);
    fv_conf_close(conf);

    /* Bytes that would not survive nginx's configuration. */
    write_key("0123456789abcdef0123456789abcdef 0123456789abcdef\n");
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), -1);
    fv_conf_close(conf);

    write_key("0123456789abcdef0123456789abcdef$x\n");
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), -1);
    fv_conf_close(conf);

    /* Unreadable. */
    ck_assert_int_eq(setenv("FLORES_GATEWAY_KEY_FILE", "/nonexistent/gateway.key", 1), 0);
    conf = fv_conf_open();
    ck_assert_int_eq(fv_gateway_key_load(conf, &k, &n), -1);
    fv_conf_close(conf);

    /* The server does not start without a usable key. */
    conf = fv_conf_open();
    ck_assert_ptr_null(fv_server_new(&svc, conf));

    ck_assert_int_eq(setenv("FLORES_GATEWAY_KEY_FILE", keyfile, 1), 0);
    write_key("short\n");
    conf = fv_conf_open();
    ck_assert_ptr_null(fv_server_new(&svc, conf));
}
END_TEST


static void
keyed(mem_req_t *m, const char *method, const char *path, const char *key)
{
    mem_init(m, method, path, NULL);
    mem_param(m, "FLORES_REQUEST_ID", "req-key");
    mem_param(m, "FLORES_USER_ID", "1");
    mem_param(m, "FLORES_USER_ROLE", "admin");
    if (key != NULL) {
        mem_param(m, "FLORES_GATEWAY_KEY", key);
    }
    mem_run(&worker, m);
}


/* With a key configured, a request without it is refused 403 whatever it asks for, before
 * identity, routing and any handler. */
START_TEST(gateway_key_required)
{
    static const char *const  wrong[] = {
        NULL, "", KEY "x", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdee",
        "0123456789abcdef",
    };
    static const char *const  paths[][2] = {
        { "GET", "/api/who" }, { "GET", "/api/all" }, { "GET", "/health" },
        { "GET", "/metrics" }, { "GET", "/api/nowhere" }, { "DELETE", "/api/who" },
    };
    mem_req_t  m;
    size_t     i, j;

    for (i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        for (j = 0; j < sizeof(paths) / sizeof(paths[0]); j++) {
            keyed(&m, paths[j][0], paths[j][1], wrong[i]);
            ck_assert_msg(m.status == 403, "%s %s: %d", paths[j][0], paths[j][1], m.status);
            ck_assert_str_eq(mem_str(&m, "status"), "fail");
            ck_assert_str_eq(mem_str(&m, "code"), "FORBIDDEN");
            ck_assert_str_eq(mem_str(&m, "requestId"), "req-key");
            ck_assert_ptr_nonnull(mem_str(&m, "message"));
            /* The reply never echoes a key. */
            ck_assert_ptr_null(strstr(m.body, "0123456789abcdef"));
            mem_free(&m);
        }
    }

    ck_assert_int_eq(handled, 0);

    keyed(&m, "GET", "/api/all", KEY);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.kind"), "admin");
    mem_free(&m);

    keyed(&m, "GET", "/health", KEY);
    ck_assert_int_eq(m.status, 200);
    mem_free(&m);

    keyed(&m, "GET", "/metrics", KEY);
    ck_assert_int_eq(m.status, 200);
    mem_free(&m);

    /* Key first, identity second: with the key, a malformed identity is still 401. */
    mem_init(&m, "GET", "/api/who", NULL);
    mem_param(&m, "FLORES_GATEWAY_KEY", KEY);
    mem_param(&m, "FLORES_USER_ID", "007");
    mem_param(&m, "FLORES_USER_ROLE", "customer");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    ck_assert_int_eq(handled, 1);
}
END_TEST


/* ---- the socket's mode ------------------------------------------------------------- */

START_TEST(listen_mode)
{
    static const struct {
        const char  *v;
        long         mode;
    } cases[] = {
        { NULL, 0660 }, { "0660", 0660 }, { "660", 0660 }, { "0600", 0600 }, { "0", 0 },
        { "0777", 0777 }, { "", -1 }, { "1777", -1 }, { "04777", -1 }, { "0680", -1 },
        { "rw", -1 }, { "-660", -1 }, { " 660", -1 }, { "0x1b0", -1 },
    };
    fv_conf_t  *conf;
    size_t      i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (cases[i].v == NULL) {
            (void) unsetenv("FLORES_LISTEN_MODE");
        } else {
            ck_assert_int_eq(setenv("FLORES_LISTEN_MODE", cases[i].v, 1), 0);
        }
        conf = fv_conf_open();
        ck_assert_ptr_nonnull(conf);
        ck_assert_msg(fv_listen_mode(conf) == cases[i].mode, "\"%s\": %lo",
            cases[i].v ? cases[i].v : "(unset)", fv_listen_mode(conf));
        fv_conf_close(conf);
    }

    (void) unsetenv("FLORES_LISTEN_MODE");
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    fv_log_init("test", FV_LOG_ERROR + 1);
    (void) unsetenv("FLORES_CONFIG");

    s = suite_create("identity");

    tc = tcase_create("principal");
    tcase_add_loop_test(tc, principal_table, 0,
        (int) (sizeof(principal_cases) / sizeof(principal_cases[0])));
    tcase_add_test(tc, principal_names);
    tcase_add_test(tc, listen_mode);
    suite_add_tcase(s, tc);

    tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, malformed_identity_refused_before_any_handler);
    tcase_add_test(tc, principal_reaches_the_handler);
    suite_add_tcase(s, tc);

    tc = tcase_create("gateway key");
    tcase_add_checked_fixture(tc, key_setup, key_teardown);
    tcase_add_test(tc, gateway_key_compare);
    tcase_add_test(tc, gateway_key_load);
    tcase_add_test(tc, gateway_key_required);
    suite_add_tcase(s, tc);

    return check_run(s);
}
