/* check_product.c: unit tests of the product service's pure parts: what a product body may
 * hold, how a search becomes a literal pattern, sort keys of names, display names of slugs,
 * If-None-Match, and the stored document's view. */

#include <config.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "product.h"


static json_object *
parse(const char *text)
{
    json_object  *o = json_tokener_parse(text);

    ck_assert_ptr_nonnull(o);
    return o;
}


/* How many bad fields a validation named. */
static char *
bad_fields(const char *body, product_mode_e mode, const char *path_id)
{
    static char   out[1024];
    json_object  *o = parse(body);
    fv_errors_t  *e = fv_errors_new();

    ck_assert_ptr_nonnull(e);
    (void) product_validate(o, mode, path_id, e);
    (void) snprintf(out, sizeof(out), "%zu", fv_errors_count(e));
    fv_errors_free(e);
    json_object_put(o);
    return out;
}


static const char  valid[] =
    "{\"id\":\"AML001\",\"name\":\"  Ramo  \",\"description\":\"Una descripción suficiente\","
    "\"price\":35000,\"original_price\":42000,\"category\":\"aniversario_amor\",\"stock\":15,"
    "\"featured\":true,\"active\":true,\"size\":\"Altura: 45cm\",\"delivery_time\":\"2-4 horas\","
    "\"flowers\":[\"Rosas\"],\"colors\":[\"rojo\",\"según disponibilidad\"],"
    "\"occasions\":[\"san_valentin\"],\"images\":[\"/images/a.webp\",\"https://cdn.cl/b.webp\"],"
    "\"extras\":[],\"care_instructions\":\"Agua\\ncada dos días\",\"rating\":4.9}";


START_TEST(test_ids)
{
    ck_assert(product_id_ok("AML001"));
    ck_assert(product_id_ok("A"));
    ck_assert(product_id_ok("X_Y-9"));
    ck_assert(product_id_ok("ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"));
    ck_assert(!product_id_ok("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"));
    ck_assert(!product_id_ok(""));
    ck_assert(!product_id_ok(NULL));
    ck_assert(!product_id_ok("aml001"));
    ck_assert(!product_id_ok("AML 001"));
    ck_assert(!product_id_ok("AML001.json"));
    ck_assert(!product_id_ok("$ne"));
}
END_TEST


START_TEST(test_validate)
{
    ck_assert_str_eq(bad_fields(valid, PRODUCT_CREATE, NULL), "0");
    ck_assert_str_eq(bad_fields(valid, PRODUCT_REPLACE, "AML001"), "0");
    ck_assert_str_eq(bad_fields(valid, PRODUCT_REPLACE, "OTHER"), "1");       /* id mismatch */
    ck_assert_str_eq(bad_fields("{}", PRODUCT_PATCH, "AML001"), "0");
    /* id, name, description, price, category */
    ck_assert_str_eq(bad_fields("{}", PRODUCT_CREATE, NULL), "5");
    ck_assert_str_eq(bad_fields("{}", PRODUCT_REPLACE, "X"), "4");
    /* patterns */
    ck_assert_str_eq(bad_fields("{\"category\":\"Bad Cat\"}", PRODUCT_PATCH, "X"), "1");
    ck_assert_str_eq(bad_fields("{\"occasions\":[\"ok_one\",\"No\"]}", PRODUCT_PATCH, "X"), "1");
    ck_assert_str_eq(bad_fields("{\"images\":[\"//host/x\",\"ftp://a\",\"/ok\",\"https://ok\"]}",
                                PRODUCT_PATCH, "X"), "2");
    /* original_price against price: only when both are valid */
    ck_assert_str_eq(bad_fields("{\"price\":10,\"original_price\":9}", PRODUCT_PATCH, "X"), "1");
    ck_assert_str_eq(bad_fields("{\"price\":10,\"original_price\":10}", PRODUCT_PATCH, "X"), "0");
    ck_assert_str_eq(bad_fields("{\"price\":0,\"original_price\":9}", PRODUCT_PATCH, "X"), "1");
    ck_assert_str_eq(bad_fields("{\"original_price\":null}", PRODUCT_PATCH, "X"), "0");
    /* keys MongoDB would read as operators or paths, at any depth */
    ck_assert_str_eq(bad_fields("{\"$where\":\"1\"}", PRODUCT_PATCH, "X"), "1");
    ck_assert_str_eq(bad_fields("{\"a.b\":1}", PRODUCT_PATCH, "X"), "1");
    ck_assert_str_eq(bad_fields("{\"x\":{\"y\":[{\"$gt\":1}]}}", PRODUCT_PATCH, "X"), "1");
    /* name.$ne, and name is not a text */
    ck_assert_str_eq(bad_fields("{\"name\":{\"$ne\":null}}", PRODUCT_PATCH, "X"), "2");
    /* a "$" inside a value is text */
    ck_assert_str_eq(bad_fields("{\"name\":\"$where $ne\"}", PRODUCT_PATCH, "X"), "0");
}
END_TEST


START_TEST(test_search_pattern)
{
    static const struct {
        const char  *in;
        const char  *out;
    } cases[] = {
        { "rosas", "rosas" },
        { "(a+)+$", "\\(a\\+\\)\\+\\$" },
        { ".*", "\\.\\*" },
        { "[", "\\[" },
        { "\\", "\\\\" },
        { "a|b^c", "a\\|b\\^c" },
        { "{2}?/", "\\{2\\}\\?\\/" },
        { "Ábaco ñ - 5", "Ábaco ñ - 5" },
    };
    size_t  i;
    char   *p;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        p = product_search_pattern(cases[i].in);
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p, cases[i].out);
        free(p);
    }
}
END_TEST


START_TEST(test_name_key)
{
    char  key[64], small[6];

    product_name_key("Ramo \"Pasión Eterna\"", key, sizeof(key));
    ck_assert_str_eq(key, "ramo \"pasion eterna\"");
    product_name_key("ÁRBOL Ñandú Über", key, sizeof(key));
    ck_assert_str_eq(key, "arbol nandu uber");
    /* never cuts a UTF-8 sequence in two */
    product_name_key("abcd€", small, sizeof(small));
    ck_assert_str_eq(small, "abcd");
    product_name_key("abcdé", small, sizeof(small));
    ck_assert_str_eq(small, "abcde");
}
END_TEST


START_TEST(test_slug_names)
{
    char  buf[64];

    ck_assert_str_eq(product_slug_name("cumpleanos", buf, sizeof(buf)), "Cumpleaños");
    ck_assert_str_eq(product_slug_name("san_valentin", buf, sizeof(buf)), "San Valentín");
    ck_assert_str_eq(product_slug_name("zen", buf, sizeof(buf)), "Zen");
    ck_assert_str_eq(product_slug_name("mi_nueva-cosa", buf, sizeof(buf)), "Mi nueva cosa");
}
END_TEST


START_TEST(test_etag_match)
{
    const char  *tag = "\"0123456789abcdef0123456789abcdef\"";

    ck_assert(product_etag_match(tag, tag));
    ck_assert(product_etag_match("*", tag));
    ck_assert(product_etag_match("W/\"0123456789abcdef0123456789abcdef\"", tag));
    ck_assert(product_etag_match("\"x\", W/\"0123456789abcdef0123456789abcdef\"", tag));
    ck_assert(product_etag_match("  \"x\",\"0123456789abcdef0123456789abcdef\" ", tag));
    ck_assert(!product_etag_match("\"x\"", tag));
    ck_assert(!product_etag_match("\"0123456789abcdef0123456789abcde\"", tag));
    ck_assert(!product_etag_match("\"0123456789abcdef0123456789abcdef0\"", tag));
    ck_assert(!product_etag_match("", tag));
    ck_assert(!product_etag_match("\"0123456789abcdef", tag));
}
END_TEST


/* What is stored is what the view shows, in the documented order, absent fields empty. */
START_TEST(test_store_and_view)
{
    json_object  *body, *view, *v;
    bson_t        doc;
    bson_iter_t   it;
    fv_errors_t  *e;

    body = parse(valid);
    e = fv_errors_new();
    ck_assert_uint_eq(product_validate(body, PRODUCT_CREATE, NULL, e), 0);
    fv_errors_free(e);

    bson_init(&doc);
    BSON_APPEND_UTF8(&doc, "id", "AML001");
    product_fields_bson(body, PRODUCT_CREATE, &doc);
    BSON_APPEND_DOUBLE(&doc, "rating", 4.8999999);
    BSON_APPEND_INT64(&doc, "reviews_count", 156);

    ck_assert(bson_iter_init_find(&it, &doc, "nameKey"));
    ck_assert_str_eq(bson_iter_utf8(&it, NULL), "ramo");
    ck_assert(!bson_iter_init_find(&it, &doc, "rating") || BSON_ITER_HOLDS_DOUBLE(&it));

    view = product_view(&doc);
    ck_assert_ptr_nonnull(view);
    ck_assert_str_eq(json_object_to_json_string_ext(view, JSON_C_TO_STRING_PLAIN
                                                    | JSON_C_TO_STRING_NOSLASHESCAPE),
        "{\"id\":\"AML001\",\"name\":\"Ramo\",\"description\":\"Una descripción suficiente\","
        "\"price\":35000,\"original_price\":42000,\"category\":\"aniversario_amor\","
        "\"stock\":15,\"featured\":true,\"active\":true,\"rating\":4.9,\"reviews_count\":156,"
        "\"size\":\"Altura: 45cm\",\"delivery_time\":\"2-4 horas\",\"flowers\":[\"Rosas\"],"
        "\"colors\":[\"rojo\",\"según disponibilidad\"],\"occasions\":[\"san_valentin\"],"
        "\"images\":[\"/images/a.webp\",\"https://cdn.cl/b.webp\"],\"extras\":[],"
        "\"care_instructions\":\"Agua\\ncada dos días\",\"createdAt\":null,\"updatedAt\":null}");
    json_object_put(view);
    bson_destroy(&doc);
    json_object_put(body);

    /* a partial update stores only what it names; null clears original_price */
    body = parse("{\"price\":100,\"original_price\":null}");
    bson_init(&doc);
    product_fields_bson(body, PRODUCT_PATCH, &doc);
    ck_assert_uint_eq(bson_count_keys(&doc), 2);
    ck_assert(bson_iter_init_find(&it, &doc, "original_price") && BSON_ITER_HOLDS_NULL(&it));
    bson_destroy(&doc);
    json_object_put(body);

    /* a whole product without the optional fields gets their empty values */
    body = parse("{\"name\":\"Mínimo\",\"description\":\"Solo lo obligatorio\",\"price\":1,"
                 "\"category\":\"c1\"}");
    bson_init(&doc);
    product_fields_bson(body, PRODUCT_REPLACE, &doc);
    view = product_view(&doc);
    ck_assert(json_object_object_get_ex(view, "active", &v) && json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(view, "featured", &v) && !json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(view, "original_price", &v) && v == NULL);
    ck_assert(json_object_object_get_ex(view, "flowers", &v) && json_object_array_length(v) == 0);
    ck_assert(json_object_object_get_ex(view, "rating", &v));
    ck_assert_str_eq(json_object_to_json_string(v), "0.0");
    json_object_put(view);
    bson_destroy(&doc);
    json_object_put(body);
}
END_TEST


int
main(void)
{
    Suite    *s = suite_create("product");
    TCase    *tc = tcase_create("product");
    SRunner  *sr;
    int       failed;

    tcase_add_test(tc, test_ids);
    tcase_add_test(tc, test_validate);
    tcase_add_test(tc, test_search_pattern);
    tcase_add_test(tc, test_name_key);
    tcase_add_test(tc, test_slug_names);
    tcase_add_test(tc, test_etag_match);
    tcase_add_test(tc, test_store_and_view);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
