/* check_request.c: unit tests of the whole pipeline a request goes through before and after
 * its handler: routing, access, bodies and their limits, validation, envelopes, headers,
 * request ids, handler outcomes, /health and /metrics. */

#include <config.h>

#include "check_fv.h"


static const fv_field_t  item_body[] = {
    { "name", FV_STRING, FV_REQUIRED | FV_TRIM, 2, 100, NULL, NULL },
    { "email", FV_EMAIL, FV_REQUIRED, 0, 0, NULL, NULL },
    { "quantity", FV_INT, 0, 1, 100, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const fv_field_t  item_query[] = {
    { "page", FV_INT, 0, 1, 1000, NULL, NULL },
    { "limit", FV_INT, 0, 1, 100, NULL, NULL },
    { "featured", FV_BOOL, 0, 0, 0, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};


/* Echoes what the library handed over. */
static int
echo(fv_req_t *r)
{
    json_object  *d = json_object_new_object();
    const char   *id = fv_req_path(r, "id");

    if (r->body != NULL) {
        (void) json_object_object_add(d, "body", json_object_get(r->body));
    }
    (void) json_object_object_add(d, "args", json_object_get(r->args));
    if (id != NULL) {
        (void) json_object_object_add(d, "id", json_object_new_string(id));
        (void) json_object_object_add(d, "numericId", json_object_new_int64(fv_req_path_id(r, "id")));
    }
    if (r->user_id != NULL) {
        (void) json_object_object_add(d, "userId", json_object_new_int64(fv_req_user_id(r)));
    }
    (void) json_object_object_add(d, "admin", json_object_new_boolean(fv_req_is_admin(r)));
    if (fv_req_header(r, "Idempotency-Key") != NULL) {
        (void) json_object_object_add(d, "key",
            json_object_new_string(fv_req_header(r, "Idempotency-Key")));
    }

    return fv_reply(r, 200, d, "hecho");
}


static int
created(fv_req_t *r)
{
    fv_reply_header(r, "Location", "/api/items/1");
    return fv_reply(r, 201, NULL, NULL);
}


static int
paged(fv_req_t *r)
{
    long          page, limit;
    json_object  *d;

    if (fv_req_page(r, &page, &limit) != 0) {
        return FV_OK;
    }

    d = json_object_new_object();
    (void) json_object_object_add(d, "page", json_object_new_int64(page));
    (void) json_object_object_add(d, "limit", json_object_new_int64(limit));
    return fv_reply(r, 200, d, NULL);
}


static int fails(fv_req_t *r) { (void) r; return FV_ERROR; }
static int down(fv_req_t *r) { (void) r; return FV_STORE_DOWN; }
static int silent(fv_req_t *r) { (void) r; return FV_OK; }

static int
twice(fv_req_t *r)
{
    (void) fv_reply(r, 200, NULL, NULL);
    return fv_fail(r, 409, "CONFLICT", "otra vez");
}

static int
conflict(fv_req_t *r)
{
    return fv_fail(r, 409, "EMAIL_TAKEN", "El correo ya está registrado");
}

static int
field(fv_req_t *r)
{
    return fv_fail_field(r, "currentPassword", "no coincide");
}

static int
raw(fv_req_t *r)
{
    return fv_reply_raw(r, 200, "application/jwk-set+json", "{\"keys\":[]}", 11);
}

static int
bad_header(fv_req_t *r)
{
    fv_reply_header(r, "X-Evil", "a\r\nSet-Cookie: x=1");
    fv_reply_header(r, "Bad Name", "v");
    return fv_reply(r, 200, NULL, NULL);
}


/* Who the library says is calling. */
static int
whoami(fv_req_t *r)
{
    json_object  *d = json_object_new_object();

    (void) json_object_object_add(d, "service", json_object_new_boolean(fv_req_is_service(r)));
    (void) json_object_object_add(d, "admin", json_object_new_boolean(fv_req_is_admin(r)));
    (void) json_object_object_add(d, "role",
        r->user_role ? json_object_new_string(r->user_role) : NULL);
    return fv_reply(r, 200, d, NULL);
}


static const fv_route_t  routes[] = {
    { "GET", "/api/items", FV_PUBLIC, NULL, item_query, echo },
    { "POST", "/api/items", FV_USER, item_body, NULL, echo },
    { "GET", "/api/items/:id", FV_PUBLIC, NULL, NULL, echo },
    { "DELETE", "/api/items/:id", FV_ADMIN, NULL, NULL, echo },
    { "PUT", "/api/items/:id", FV_PUBLIC, item_body, NULL, created },
    { "GET", "/api/paged", FV_PUBLIC, NULL, NULL, paged },
    { "GET", "/api/fails", FV_PUBLIC, NULL, NULL, fails },
    { "GET", "/api/down", FV_PUBLIC, NULL, NULL, down },
    { "GET", "/api/silent", FV_PUBLIC, NULL, NULL, silent },
    { "GET", "/api/twice", FV_PUBLIC, NULL, NULL, twice },
    { "GET", "/api/conflict", FV_PUBLIC, NULL, NULL, conflict },
    { "GET", "/api/field", FV_PUBLIC, NULL, NULL, field },
    { "GET", "/api/raw", FV_PUBLIC, NULL, NULL, raw },
    { "GET", "/api/header", FV_PUBLIC, NULL, NULL, bad_header },
    { "POST", "/api/nobody", FV_USER, NULL, NULL, echo },
    { "POST", "/api/stock/reserve", FV_SERVICE, NULL, NULL, whoami },
    { "GET", "/api/whoami", FV_PUBLIC, NULL, NULL, whoami },
    FV_ROUTES_END
};

static const fv_service_t  svc = {
    "items", routes, 0, 0, NULL, NULL, NULL
};

static fv_server_t  *server;
static fv_worker_t   worker;


static void
setup(void)
{
    fv_conf_t  *conf;

    ck_assert_int_eq(setenv("FLORES_MAX_BODY", "2048", 1), 0);
    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    server = fv_server_new(&svc, conf);
    ck_assert_ptr_nonnull(server);
    memset(&worker, 0, sizeof(worker));
    worker.server = server;
    worker.idle_fd = -1;
}


static void
teardown(void)
{
    fv_server_free(server);
}


START_TEST(success_envelope_and_headers)
{
    mem_req_t  m;
    char       buf[128];

    mem_init(&m, "GET", "/api/items/42", NULL);
    mem_param(&m, "FLORES_REQUEST_ID", "req-1");
    mem_run(&worker, &m);

    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_header(&m, "Content-Type", buf, sizeof(buf)),
        "application/json; charset=utf-8");
    ck_assert_str_eq(mem_header(&m, "X-Request-ID", buf, sizeof(buf)), "req-1");
    ck_assert_str_eq(mem_str(&m, "status"), "success");
    ck_assert_str_eq(mem_str(&m, "message"), "hecho");
    ck_assert_str_eq(mem_str(&m, "data.id"), "42");
    ck_assert_str_eq(mem_str(&m, "data.numericId"), "42");
    ck_assert_str_eq(mem_str(&m, "data.admin"), "false");
    mem_free(&m);

    /* Non-numeric ids reach the handler, which sees -1. */
    mem_init(&m, "GET", "/api/items/AML001", NULL);
    mem_run(&worker, &m);
    ck_assert_str_eq(mem_str(&m, "data.numericId"), "-1");
    mem_free(&m);
}
END_TEST


START_TEST(request_ids)
{
    mem_req_t  m;
    char       buf[128];

    /* No id from the gateway: the client's if sane, else a fresh 32-hex one. */
    mem_init(&m, "GET", "/api/items/1", NULL);
    mem_param(&m, "HTTP_X_REQUEST_ID", "client.id-9");
    mem_run(&worker, &m);
    ck_assert_str_eq(mem_header(&m, "X-Request-ID", buf, sizeof(buf)), "client.id-9");
    mem_free(&m);

    mem_init(&m, "GET", "/api/nothing", NULL);
    mem_param(&m, "FLORES_REQUEST_ID", "bad id with spaces");
    mem_run(&worker, &m);
    ck_assert_uint_eq(strlen(mem_header(&m, "X-Request-ID", buf, sizeof(buf))), 32);
    ck_assert_str_eq(mem_str(&m, "requestId"), buf);
    mem_free(&m);
}
END_TEST


START_TEST(not_found_and_method_not_allowed)
{
    mem_req_t  m;
    char       buf[128];

    mem_init(&m, "GET", "/api/nothing", NULL);
    mem_param(&m, "FLORES_REQUEST_ID", "r404");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 404);
    ck_assert_str_eq(mem_str(&m, "status"), "fail");
    ck_assert_str_eq(mem_str(&m, "code"), "NOT_FOUND");
    ck_assert_str_eq(mem_str(&m, "requestId"), "r404");
    ck_assert_ptr_nonnull(mem_str(&m, "message"));
    mem_free(&m);

    mem_init(&m, "PATCH", "/api/items/3", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 405);
    ck_assert_str_eq(mem_str(&m, "code"), "METHOD_NOT_ALLOWED");
    ck_assert_str_eq(mem_header(&m, "Allow", buf, sizeof(buf)), "GET, DELETE, PUT");
    mem_free(&m);
}
END_TEST


/* FV_SERVICE: the internal listener's role "service", or an admin; the role means nothing
 * on any other request. */
START_TEST(service_access)
{
    mem_req_t  m;
    char       buf[128];

    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ID", "");
    mem_param(&m, "FLORES_USER_ROLE", "service");
    mem_param(&m, "FLORES_INTERNAL", "1");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.service"), "true");
    ck_assert_str_eq(mem_str(&m, "data.role"), "service");
    mem_free(&m);

    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ID", "1");
    mem_param(&m, "FLORES_USER_ROLE", "admin");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.service"), "false");
    ck_assert_str_eq(mem_str(&m, "data.admin"), "true");
    mem_free(&m);

    /* Anonymous: 401; a customer: 403. */
    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    ck_assert_ptr_nonnull(mem_header(&m, "WWW-Authenticate", buf, sizeof(buf)));
    mem_free(&m);

    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ID", "7");
    mem_param(&m, "FLORES_USER_ROLE", "customer");
    mem_param(&m, "FLORES_INTERNAL", "1");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 403);
    mem_free(&m);

    /* Role "service" from anywhere but the internal passage (a token's claim) names no
     * principal: 401 before any handler, on any route. */
    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ROLE", "service");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ID", "9");
    mem_param(&m, "FLORES_USER_ROLE", "service");
    mem_param(&m, "FLORES_INTERNAL", "");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    ck_assert_str_eq(mem_str(&m, "code"), "UNAUTHORIZED");
    mem_free(&m);

    /* The passage's service names nobody: an id beside it is refused too. */
    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ID", "9");
    mem_param(&m, "FLORES_USER_ROLE", "service");
    mem_param(&m, "FLORES_INTERNAL", "1");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ROLE", "service");
    mem_param(&m, "FLORES_INTERNAL", "yes");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    mem_init(&m, "GET", "/api/whoami", NULL);
    mem_param(&m, "FLORES_USER_ID", "9");
    mem_param(&m, "FLORES_USER_ROLE", "service");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    /* A client header cannot claim the passage. */
    mem_init(&m, "POST", "/api/stock/reserve", NULL);
    mem_param(&m, "FLORES_USER_ROLE", "service");
    mem_param(&m, "HTTP_FLORES_INTERNAL", "1");
    mem_param(&m, "HTTP_X_FLORES_INTERNAL", "1");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);
}
END_TEST


START_TEST(access_checks)
{
    mem_req_t  m;
    char       buf[128];

    mem_init(&m, "POST", "/api/nobody", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    ck_assert_str_eq(mem_str(&m, "code"), "UNAUTHORIZED");
    ck_assert_ptr_nonnull(mem_header(&m, "WWW-Authenticate", buf, sizeof(buf)));
    mem_free(&m);

    /* An empty identity parameter is no identity. */
    mem_init(&m, "POST", "/api/nobody", NULL);
    mem_param(&m, "FLORES_USER_ID", "");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    mem_init(&m, "POST", "/api/nobody", NULL);
    mem_param(&m, "FLORES_USER_ID", "7");
    mem_param(&m, "FLORES_USER_ROLE", "customer");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.userId"), "7");
    mem_free(&m);

    mem_init(&m, "DELETE", "/api/items/3", NULL);
    mem_param(&m, "FLORES_USER_ID", "7");
    mem_param(&m, "FLORES_USER_ROLE", "customer");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 403);
    ck_assert_str_eq(mem_str(&m, "code"), "FORBIDDEN");
    mem_free(&m);

    mem_init(&m, "DELETE", "/api/items/3", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);

    mem_init(&m, "DELETE", "/api/items/3", NULL);
    mem_param(&m, "FLORES_USER_ID", "1");
    mem_param(&m, "FLORES_USER_ROLE", "admin");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.admin"), "true");
    mem_free(&m);

    /* Identity headers sent by a client are not identity. */
    mem_init(&m, "POST", "/api/nobody", NULL);
    mem_param(&m, "HTTP_X_USER_ID", "1");
    mem_param(&m, "HTTP_X_USER_ROLE", "admin");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 401);
    mem_free(&m);
}
END_TEST


static void
post_items(mem_req_t *m, const char *body)
{
    mem_init(m, "POST", "/api/items", NULL);
    mem_param(m, "FLORES_USER_ID", "5");
    mem_param(m, "FLORES_USER_ROLE", "customer");
    if (body != NULL) {
        mem_json(m, body);
    }
}


START_TEST(valid_body_is_normalised)
{
    mem_req_t  m;

    post_items(&m, "{\"name\":\"  Rosa \",\"email\":\"ROSA@Example.cl\",\"extra\":1}");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.body.name"), "Rosa");
    ck_assert_str_eq(mem_str(&m, "data.body.email"), "rosa@example.cl");
    mem_free(&m);
}
END_TEST


START_TEST(validation_errors_list_every_field)
{
    mem_req_t  m;

    post_items(&m, "{\"name\":\"R\",\"email\":\"x\",\"quantity\":0}");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    ck_assert_str_eq(mem_str(&m, "status"), "fail");
    ck_assert_str_eq(mem_str(&m, "code"), "VALIDATION_ERROR");
    ck_assert_uint_eq(mem_error_count(&m), 3);
    ck_assert_str_eq(mem_field_error(&m, "name"), "debe tener entre 2 y 100 caracteres");
    ck_assert_str_eq(mem_field_error(&m, "email"), "no es un correo válido");
    ck_assert_str_eq(mem_field_error(&m, "quantity"), "debe estar entre 1 y 100");
    ck_assert_ptr_nonnull(mem_str(&m, "requestId"));
    mem_free(&m);
}
END_TEST


START_TEST(empty_body_means_required_fields_missing)
{
    mem_req_t  m;

    post_items(&m, NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    ck_assert_str_eq(mem_str(&m, "code"), "VALIDATION_ERROR");
    ck_assert_str_eq(mem_field_error(&m, "name"), "es obligatorio");
    ck_assert_str_eq(mem_field_error(&m, "email"), "es obligatorio");
    mem_free(&m);

    /* Content-Length 0 needs no Content-Type. */
    post_items(&m, NULL);
    mem_body(&m, "", 0);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    ck_assert_str_eq(mem_str(&m, "code"), "VALIDATION_ERROR");
    mem_free(&m);
}
END_TEST


START_TEST(malformed_json)
{
    static const char *const  bad[] = {
        "{\"name\":", "{\"name\":\"Rosa\"} trailing", "{'name':'Rosa'}", "{\"a\":NaN}",
        "\xef\xbb\xbf{}", NULL
    };
    mem_req_t  m;
    size_t     i;

    for (i = 0; bad[i]; i++) {
        post_items(&m, bad[i]);
        mem_run(&worker, &m);
        ck_assert_int_eq(m.status, 400);
        ck_assert_str_eq(mem_str(&m, "code"), "INVALID_JSON");
        ck_assert_str_eq(mem_str(&m, "status"), "fail");
        mem_free(&m);
    }
}
END_TEST


START_TEST(non_object_bodies)
{
    static const char *const  bodies[] = { "[]", "\"x\"", "42", "null", NULL };
    mem_req_t  m;
    size_t     i;

    for (i = 0; bodies[i]; i++) {
        post_items(&m, bodies[i]);
        mem_run(&worker, &m);
        ck_assert_int_eq(m.status, 400);
        ck_assert_str_eq(mem_str(&m, "code"), "VALIDATION_ERROR");
        ck_assert_str_eq(mem_field_error(&m, "body"), "debe ser un objeto JSON");
        mem_free(&m);
    }
}
END_TEST


START_TEST(content_type_is_required_for_a_body)
{
    mem_req_t  m;

    post_items(&m, NULL);
    mem_param(&m, "CONTENT_TYPE", "text/plain");
    mem_body(&m, "{}", 2);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 415);
    ck_assert_str_eq(mem_str(&m, "code"), "UNSUPPORTED_MEDIA_TYPE");
    mem_free(&m);

    post_items(&m, NULL);
    mem_body(&m, "{}", 2);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 415);
    mem_free(&m);

    post_items(&m, NULL);
    mem_param(&m, "CONTENT_TYPE", "application/json; charset=UTF-8");
    mem_body(&m, "{\"name\":\"Rosa\",\"email\":\"r@b.cl\"}", 32);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    mem_free(&m);
}
END_TEST


START_TEST(body_size_limit)
{
    mem_req_t  m;
    char      *big;
    size_t     n = 4096;

    /* FLORES_MAX_BODY is 2048 in these tests. */
    big = malloc(n + 1);
    memset(big, ' ', n);
    memcpy(big, "{\"name\":\"Rosa\",\"email\":\"r@b.cl\"}", 32);
    big[n] = '\0';

    post_items(&m, big);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 413);
    ck_assert_str_eq(mem_str(&m, "code"), "PAYLOAD_TOO_LARGE");
    /* The body was read away (drained), not left on the connection. */
    ck_assert_uint_eq(m.in_pos, n);
    mem_free(&m);

    /* At the limit exactly: accepted. */
    big[2048] = '\0';
    post_items(&m, big);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    mem_free(&m);

    /* Without a Content-Length, the limit holds as the body is read. */
    big[2048] = ' ';
    mem_init(&m, "POST", "/api/items", NULL);
    mem_param(&m, "FLORES_USER_ID", "5");
    mem_param(&m, "FLORES_USER_ROLE", "customer");
    mem_param(&m, "CONTENT_TYPE", "application/json");
    m.in = big;
    m.in_len = n;
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 413);
    mem_free(&m);

    free(big);
}
END_TEST


START_TEST(short_or_bad_content_length)
{
    mem_req_t  m;

    post_items(&m, NULL);
    mem_param(&m, "CONTENT_TYPE", "application/json");
    mem_param(&m, "CONTENT_LENGTH", "100");
    m.in = "{}";
    m.in_len = 2;
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    mem_free(&m);

    post_items(&m, NULL);
    mem_param(&m, "CONTENT_TYPE", "application/json");
    mem_param(&m, "CONTENT_LENGTH", "-1");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    mem_free(&m);
}
END_TEST


START_TEST(bodies_on_routes_without_one_are_drained)
{
    mem_req_t  m;

    mem_init(&m, "POST", "/api/nobody", NULL);
    mem_param(&m, "FLORES_USER_ID", "5");
    mem_param(&m, "FLORES_USER_ROLE", "customer");
    mem_json(&m, "{\"ignored\":true}");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_ptr_null(mem_str(&m, "data.body"));
    ck_assert_uint_eq(m.in_pos, m.in_len);
    mem_free(&m);
}
END_TEST


START_TEST(query_validation)
{
    mem_req_t  m;

    mem_init(&m, "GET", "/api/items", "page=2&featured=1&evil%5B%24gt%5D=1");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "data.args.page"), "2");
    ck_assert_str_eq(mem_str(&m, "data.args.featured"), "true");
    ck_assert_ptr_null(mem_str(&m, "data.args.evil[$gt]"));
    mem_free(&m);

    mem_init(&m, "GET", "/api/items", "page=x&limit=500&page=2");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    ck_assert_str_eq(mem_str(&m, "code"), "VALIDATION_ERROR");
    ck_assert_str_eq(mem_field_error(&m, "page"), "está repetido");
    ck_assert_str_eq(mem_field_error(&m, "limit"), "debe estar entre 1 y 100");
    mem_free(&m);
}
END_TEST


START_TEST(pagination_helper)
{
    mem_req_t  m;

    mem_init(&m, "GET", "/api/paged", NULL);
    mem_run(&worker, &m);
    ck_assert_str_eq(mem_str(&m, "data.page"), "1");
    ck_assert_str_eq(mem_str(&m, "data.limit"), "20");
    mem_free(&m);

    mem_init(&m, "GET", "/api/paged", "page=3&limit=100");
    mem_run(&worker, &m);
    ck_assert_str_eq(mem_str(&m, "data.page"), "3");
    ck_assert_str_eq(mem_str(&m, "data.limit"), "100");
    mem_free(&m);

    mem_init(&m, "GET", "/api/paged", "page=0&limit=101");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    ck_assert_uint_eq(mem_error_count(&m), 2);
    ck_assert_ptr_nonnull(mem_field_error(&m, "page"));
    ck_assert_ptr_nonnull(mem_field_error(&m, "limit"));
    mem_free(&m);

    mem_init(&m, "GET", "/api/paged", "limit=abc");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    mem_free(&m);
}
END_TEST


START_TEST(handler_outcomes)
{
    mem_req_t  m;
    char       buf[64];

    mem_init(&m, "GET", "/api/fails", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 500);
    ck_assert_str_eq(mem_str(&m, "status"), "error");
    ck_assert_str_eq(mem_str(&m, "code"), "INTERNAL_ERROR");
    ck_assert_ptr_nonnull(mem_str(&m, "requestId"));
    mem_free(&m);

    mem_init(&m, "GET", "/api/down", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 503);
    ck_assert_str_eq(mem_str(&m, "status"), "error");
    ck_assert_str_eq(mem_str(&m, "code"), "SERVICE_UNAVAILABLE");
    ck_assert_str_eq(mem_header(&m, "Retry-After", buf, sizeof(buf)), "5");
    mem_free(&m);

    mem_init(&m, "GET", "/api/silent", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 500);
    mem_free(&m);

    /* The first reply is the reply. */
    mem_init(&m, "GET", "/api/twice", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_ptr_null(strstr(m.body, "CONFLICT"));
    mem_free(&m);
}
END_TEST


START_TEST(reply_helpers)
{
    mem_req_t  m;
    char       buf[64];

    mem_init(&m, "GET", "/api/conflict", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 409);
    ck_assert_str_eq(mem_str(&m, "status"), "fail");
    ck_assert_str_eq(mem_str(&m, "code"), "EMAIL_TAKEN");
    ck_assert_ptr_null(mem_str(&m, "errors"));
    mem_free(&m);

    mem_init(&m, "GET", "/api/field", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 400);
    ck_assert_str_eq(mem_str(&m, "code"), "VALIDATION_ERROR");
    ck_assert_str_eq(mem_field_error(&m, "currentPassword"), "no coincide");
    mem_free(&m);

    mem_init(&m, "GET", "/api/raw", NULL);
    mem_run(&worker, &m);
    ck_assert_str_eq(mem_header(&m, "Content-Type", buf, sizeof(buf)),
        "application/jwk-set+json");
    ck_assert_str_eq(m.body, "{\"keys\":[]}");
    mem_free(&m);

    mem_init(&m, "PUT", "/api/items/1", NULL);
    mem_json(&m, "{\"name\":\"Rosa\",\"email\":\"r@b.cl\"}");
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 201);
    ck_assert_str_eq(mem_header(&m, "Location", buf, sizeof(buf)), "/api/items/1");
    ck_assert_str_eq(m.body, "{\"status\":\"success\",\"data\":{}}");
    mem_free(&m);

    /* Header injection is refused. */
    mem_init(&m, "GET", "/api/header", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_ptr_null(strstr(m.head, "Set-Cookie"));
    ck_assert_ptr_null(strstr(m.head, "Bad Name"));
    mem_free(&m);
}
END_TEST


START_TEST(request_headers)
{
    mem_req_t  m;

    mem_init(&m, "GET", "/api/items/1", NULL);
    mem_param(&m, "HTTP_IDEMPOTENCY_KEY", "k-123");
    mem_run(&worker, &m);
    ck_assert_str_eq(mem_str(&m, "data.key"), "k-123");
    mem_free(&m);
}
END_TEST


START_TEST(health_and_metrics)
{
    mem_req_t  m;
    char       buf[128];

    mem_init(&m, "GET", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_str(&m, "status"), "success");
    ck_assert_str_eq(mem_str(&m, "data.status"), "ok");
    ck_assert_str_eq(mem_str(&m, "data.service"), "items");
    mem_free(&m);

    mem_init(&m, "GET", "/api/items/5", NULL);
    mem_run(&worker, &m);
    mem_free(&m);
    mem_init(&m, "GET", "/api/items/6", NULL);
    mem_run(&worker, &m);
    mem_free(&m);
    mem_init(&m, "GET", "/no/such/path", NULL);
    mem_run(&worker, &m);
    mem_free(&m);
    mem_init(&m, "BREW", "/api/items/6", NULL);
    mem_run(&worker, &m);
    mem_free(&m);

    mem_init(&m, "GET", "/metrics", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 200);
    ck_assert_str_eq(mem_header(&m, "Content-Type", buf, sizeof(buf)),
        "text/plain; version=0.0.4; charset=utf-8");

    /* The route label is the pattern, never the raw path. */
    ck_assert_ptr_nonnull(strstr(m.body, "flores_http_requests_total{service=\"items\","
        "route=\"/api/items/:id\",method=\"GET\",status=\"200\"} 2\n"));
    ck_assert_ptr_null(strstr(m.body, "/api/items/5"));
    ck_assert_ptr_nonnull(strstr(m.body, "route=\"unmatched\",method=\"GET\",status=\"404\"} 1"));
    ck_assert_ptr_nonnull(strstr(m.body, "method=\"OTHER\",status=\"405\"} 1"));
    ck_assert_ptr_null(strstr(m.body, "BREW"));
    ck_assert_ptr_nonnull(strstr(m.body, "route=\"/health\",method=\"GET\",status=\"200\"} 1"));
    ck_assert_ptr_nonnull(strstr(m.body, "# TYPE flores_http_request_duration_seconds histogram"));
    ck_assert_ptr_nonnull(strstr(m.body,
        "flores_http_request_duration_seconds_bucket{service=\"items\",route=\"/api/items/:id\","
        "le=\"+Inf\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(m.body, "le=\"0.005\"}"));
    ck_assert_ptr_nonnull(strstr(m.body, "le=\"10\"}"));
    ck_assert_ptr_nonnull(strstr(m.body,
        "flores_http_request_duration_seconds_count{service=\"items\",route=\"/api/items/:id\"} 2"));
    ck_assert_ptr_nonnull(strstr(m.body, "# TYPE flores_store_errors_total counter"));
    mem_free(&m);

    /* Internal routes take no other method. */
    mem_init(&m, "POST", "/health", NULL);
    mem_run(&worker, &m);
    ck_assert_int_eq(m.status, 405);
    mem_free(&m);
}
END_TEST


START_TEST(store_error_counter)
{
    mem_req_t  m;

    fv_metrics_store_error(server, "postgres");
    fv_metrics_store_error(server, "postgres");

    mem_init(&m, "GET", "/metrics", NULL);
    mem_run(&worker, &m);
    ck_assert_ptr_nonnull(strstr(m.body,
        "flores_store_errors_total{service=\"items\",store=\"postgres\"} 2\n"));
    mem_free(&m);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    fv_log_init("test", FV_LOG_ERROR + 1);
    (void) unsetenv("FLORES_CONFIG");

    s = suite_create("request");
    tc = tcase_create("pipeline");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, success_envelope_and_headers);
    tcase_add_test(tc, request_ids);
    tcase_add_test(tc, not_found_and_method_not_allowed);
    tcase_add_test(tc, access_checks);
    tcase_add_test(tc, service_access);
    tcase_add_test(tc, valid_body_is_normalised);
    tcase_add_test(tc, validation_errors_list_every_field);
    tcase_add_test(tc, empty_body_means_required_fields_missing);
    tcase_add_test(tc, malformed_json);
    tcase_add_test(tc, non_object_bodies);
    tcase_add_test(tc, content_type_is_required_for_a_body);
    tcase_add_test(tc, body_size_limit);
    tcase_add_test(tc, short_or_bad_content_length);
    tcase_add_test(tc, bodies_on_routes_without_one_are_drained);
    tcase_add_test(tc, query_validation);
    tcase_add_test(tc, pagination_helper);
    tcase_add_test(tc, handler_outcomes);
    tcase_add_test(tc, reply_helpers);
    tcase_add_test(tc, request_headers);
    tcase_add_test(tc, health_and_metrics);
    tcase_add_test(tc, store_error_counter);
    suite_add_tcase(s, tc);

    return check_run(s);
}
