/* check_route.c: unit tests of route matching: literals, parameters, precedence, 404/405
 * and the start-time checks of a table. */

#include <config.h>

#include "check_fv.h"


static int
h(fv_req_t *r)
{
    (void) r;
    return FV_OK;
}


static const fv_route_t  routes[] = {
    { "GET", "/api/orders", FV_USER, NULL, NULL, h },
    { "POST", "/api/orders", FV_USER, NULL, NULL, h },
    { "GET", "/api/orders/:id", FV_USER, NULL, NULL, h },
    { "GET", "/api/orders/all", FV_ADMIN, NULL, NULL, h },
    { "PATCH", "/api/orders/:id/status", FV_ADMIN, NULL, NULL, h },
    { "DELETE", "/api/orders/:id", FV_ADMIN, NULL, NULL, h },
    { "GET", "/api/reviews/:kind/:productId", FV_PUBLIC, NULL, NULL, h },
    { "GET", "/", FV_PUBLIC, NULL, NULL, h },
    FV_ROUTES_END
};


/* Matches and returns the index of the route, -1 for 404, -2 for 405. */
static int
match(const char *method, const char *path, fv_param_t *params, size_t *n, char *allow)
{
    const fv_route_t  *found;
    fv_route_e         rc;
    char               a[128];

    rc = fv_route_match(routes, method, path, &found, params, n, allow ? allow : a, 128);

    if (rc == FV_ROUTE_NOT_FOUND) {
        return -1;
    }
    if (rc == FV_ROUTE_NO_METHOD) {
        return -2;
    }
    return (int) (found - routes);
}


START_TEST(literal_routes)
{
    fv_param_t  p[FV_MAX_PARAMS];
    size_t      n;

    ck_assert_int_eq(match("GET", "/api/orders", p, &n, NULL), 0);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(match("POST", "/api/orders", p, &n, NULL), 1);
    ck_assert_int_eq(match("GET", "/", p, &n, NULL), 7);
    /* One trailing slash is the same resource. */
    ck_assert_int_eq(match("GET", "/api/orders/", p, &n, NULL), 0);
}
END_TEST


START_TEST(parameters_are_captured_and_decoded)
{
    fv_param_t  p[FV_MAX_PARAMS];
    size_t      n;

    ck_assert_int_eq(match("GET", "/api/orders/42", p, &n, NULL), 2);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(p[0].name_len, 2);
    ck_assert(strncmp(p[0].name, "id", 2) == 0);
    ck_assert_str_eq(p[0].value, "42");
    fv_params_free(p, n);

    ck_assert_int_eq(match("GET", "/api/reviews/product/AML%20001", p, &n, NULL), 6);
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(p[0].value, "product");
    ck_assert_str_eq(p[1].value, "AML 001");
    fv_params_free(p, n);

    ck_assert_int_eq(match("PATCH", "/api/orders/7/status", p, &n, NULL), 4);
    ck_assert_str_eq(p[0].value, "7");
    fv_params_free(p, n);
}
END_TEST


START_TEST(literals_win_over_parameters)
{
    fv_param_t  p[FV_MAX_PARAMS];
    size_t      n;

    /* "all" is listed after ":id" and still wins. */
    ck_assert_int_eq(match("GET", "/api/orders/all", p, &n, NULL), 3);
    ck_assert_uint_eq(n, 0);
    /* Other methods on that path go to the parameter route. */
    ck_assert_int_eq(match("DELETE", "/api/orders/all", p, &n, NULL), 5);
    ck_assert_str_eq(p[0].value, "all");
    fv_params_free(p, n);
}
END_TEST


START_TEST(not_found)
{
    fv_param_t  p[FV_MAX_PARAMS];
    size_t      n;

    ck_assert_int_eq(match("GET", "/api/order", p, &n, NULL), -1);
    ck_assert_int_eq(match("GET", "/api/orders/1/status/x", p, &n, NULL), -1);
    ck_assert_int_eq(match("GET", "/api/orders//status", p, &n, NULL), -1);
    ck_assert_int_eq(match("GET", "/api/ORDERS", p, &n, NULL), -1);
    ck_assert_int_eq(match("GET", "api/orders", p, &n, NULL), -1);
    ck_assert_int_eq(match("GET", "", p, &n, NULL), -1);
    /* A parameter never matches an empty segment. */
    ck_assert_int_eq(match("GET", "/api/reviews//x", p, &n, NULL), -1);
    /* An encoded NUL or a broken escape names nothing. */
    ck_assert_int_eq(match("GET", "/api/orders/1%00", p, &n, NULL), -1);
    ck_assert_int_eq(match("GET", "/api/orders/%zz", p, &n, NULL), -1);
}
END_TEST


START_TEST(method_not_allowed_lists_the_methods)
{
    fv_param_t  p[FV_MAX_PARAMS];
    size_t      n;
    char        allow[128];

    ck_assert_int_eq(match("PUT", "/api/orders", p, &n, allow), -2);
    ck_assert_str_eq(allow, "GET, POST");

    ck_assert_int_eq(match("POST", "/api/orders/9", p, &n, allow), -2);
    ck_assert_str_eq(allow, "GET, DELETE");

    ck_assert_int_eq(match("PUT", "/api/orders/all", p, &n, allow), -2);
    ck_assert_str_eq(allow, "GET, DELETE");
}
END_TEST


START_TEST(tables_are_checked_at_start)
{
    static const fv_route_t  ok[] = {
        { "GET", "/a/:id", FV_PUBLIC, NULL, NULL, h },
        { "PUT", "/a/:id", FV_PUBLIC, NULL, NULL, h },
        FV_ROUTES_END
    };
    static const fv_route_t  dup[] = {
        { "GET", "/a/:id", FV_PUBLIC, NULL, NULL, h },
        { "GET", "/a/:name", FV_PUBLIC, NULL, NULL, h },
        FV_ROUTES_END
    };
    static const fv_route_t  bad_method[] = {
        { "FETCH", "/a", FV_PUBLIC, NULL, NULL, h },
        FV_ROUTES_END
    };
    static const fv_route_t  bad_pattern[] = {
        { "GET", "a", FV_PUBLIC, NULL, NULL, h },
        FV_ROUTES_END
    };
    static const fv_route_t  empty_segment[] = {
        { "GET", "/a//b", FV_PUBLIC, NULL, NULL, h },
        FV_ROUTES_END
    };
    static const fv_route_t  bad_param[] = {
        { "GET", "/a/:", FV_PUBLIC, NULL, NULL, h },
        FV_ROUTES_END
    };
    static const fv_route_t  twice[] = {
        { "GET", "/a/:id/b/:id", FV_PUBLIC, NULL, NULL, h },
        FV_ROUTES_END
    };
    static const fv_route_t  no_handler[] = {
        { "GET", "/a", FV_PUBLIC, NULL, NULL, NULL },
        FV_ROUTES_END
    };

    ck_assert_int_eq(fv_routes_check(routes), 0);
    ck_assert_int_eq(fv_routes_check(ok), 0);
    ck_assert_int_eq(fv_routes_check(dup), -1);
    ck_assert_int_eq(fv_routes_check(bad_method), -1);
    ck_assert_int_eq(fv_routes_check(bad_pattern), -1);
    ck_assert_int_eq(fv_routes_check(empty_segment), -1);
    ck_assert_int_eq(fv_routes_check(bad_param), -1);
    ck_assert_int_eq(fv_routes_check(twice), -1);
    ck_assert_int_eq(fv_routes_check(no_handler), -1);
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    fv_log_init("test", FV_LOG_ERROR + 1);

    s = suite_create("route");
    tc = tcase_create("match");
    tcase_add_test(tc, literal_routes);
    tcase_add_test(tc, parameters_are_captured_and_decoded);
    tcase_add_test(tc, literals_win_over_parameters);
    tcase_add_test(tc, not_found);
    tcase_add_test(tc, method_not_allowed_lists_the_methods);
    tcase_add_test(tc, tables_are_checked_at_start);
    suite_add_tcase(s, tc);

    return check_run(s);
}
