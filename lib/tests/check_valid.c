/* check_valid.c: unit tests of validation: every type and flag, every bad field reported,
 * nested names, normalisation, query mode, and the JSON body parser. */

#include <config.h>

#include "check_fv.h"


static const char *const  colors[] = { "rojo", "blanco", NULL };

static const fv_field_t  address_spec[] = {
    { "city", FV_STRING, FV_REQUIRED | FV_TRIM, 2, 50, NULL, NULL },
    { "zip", FV_STRING, 0, 0, 7, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const fv_field_t  item_spec[] = {
    { "productId", FV_STRING, FV_REQUIRED, 1, 32, NULL, NULL },
    { "quantity", FV_INT, FV_REQUIRED, 1, 100, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const fv_field_t  item_of_items[] = {
    { "item", FV_OBJECT, 0, 0, 0, NULL, item_spec },
};

static const fv_field_t  tag_item[] = {
    { "tag", FV_STRING, 0, 1, 10, NULL, NULL },
};

static const fv_field_t  spec[] = {
    { "name", FV_STRING, FV_REQUIRED | FV_TRIM, 2, 100, NULL, NULL },
    { "email", FV_EMAIL, FV_REQUIRED, 0, 0, NULL, NULL },
    { "age", FV_INT, 0, 18, 120, NULL, NULL },
    { "stock", FV_INT, 0, 0, 0, NULL, NULL },
    { "min5", FV_INT, 0, 5, 0, NULL, NULL },
    { "newsletter", FV_BOOL, 0, 0, 0, NULL, NULL },
    { "color", FV_ENUM, 0, 0, 0, colors, NULL },
    { "birthday", FV_DATE, FV_NULLABLE, 0, 0, NULL, NULL },
    { "notes", FV_STRING, FV_MULTILINE, 0, 20, NULL, NULL },
    { "address", FV_OBJECT, 0, 0, 0, NULL, address_spec },
    { "items", FV_ARRAY, 0, 1, 3, NULL, item_of_items },
    { "tags", FV_ARRAY, 0, 0, 0, NULL, tag_item },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};


/* Validates text against spec; returns the errors (the caller frees) and the object. */
static fv_errors_t *
run(const char *text, json_object **out)
{
    fv_errors_t  *e;
    json_object  *obj = NULL;

    ck_assert_int_eq(fv_body_parse(text, strlen(text), &obj), FV_BODY_OK);
    e = fv_errors_new();
    ck_assert_ptr_nonnull(e);
    (void) fv_validate(obj, spec, 0, e);

    if (out != NULL) {
        *out = obj;
    } else {
        json_object_put(obj);
    }

    return e;
}


/* The message reported for field, or NULL. */
static const char *
error_for(fv_errors_t *e, const char *field)
{
    json_object  *list = fv_errors_json(e), *item, *f, *m;
    size_t        i;

    for (i = 0; i < json_object_array_length(list); i++) {
        item = json_object_array_get_idx(list, i);
        if (json_object_object_get_ex(item, "field", &f)
            && strcmp(json_object_get_string(f), field) == 0
            && json_object_object_get_ex(item, "message", &m))
        {
            return json_object_get_string(m);
        }
    }

    return NULL;
}


#define VALID(text)                                                                        \
    do {                                                                                   \
        fv_errors_t *e_ = run(text, NULL);                                                 \
        ck_assert_msg(fv_errors_count(e_) == 0, "unexpected errors for %s: %s", text,      \
                      json_object_to_json_string(fv_errors_json(e_)));                     \
        fv_errors_free(e_);                                                                \
    } while (0)

#define INVALID(text, field, message)                                                      \
    do {                                                                                   \
        fv_errors_t *e_ = run(text, NULL);                                                 \
        const char  *m_ = error_for(e_, field);                                            \
        ck_assert_msg(m_ != NULL, "no error on %s for %s: %s", field, text,                \
                      json_object_to_json_string(fv_errors_json(e_)));                     \
        ck_assert_str_eq(m_, message);                                                     \
        fv_errors_free(e_);                                                                \
    } while (0)

#define BASE  "\"name\":\"Ana\",\"email\":\"ana@example.cl\""


START_TEST(minimal_valid_body)
{
    VALID("{" BASE "}");
    VALID("{" BASE ",\"unknown\":{\"ignored\":[1,2]}}");
}
END_TEST


START_TEST(every_bad_field_is_reported)
{
    fv_errors_t  *e;

    e = run("{\"name\":\"A\",\"email\":\"nope\",\"age\":12,\"color\":\"verde\"}", NULL);
    ck_assert_uint_eq(fv_errors_count(e), 4);
    ck_assert_str_eq(error_for(e, "name"), "debe tener entre 2 y 100 caracteres");
    ck_assert_str_eq(error_for(e, "email"), "no es un correo válido");
    ck_assert_str_eq(error_for(e, "age"), "debe estar entre 18 y 120");
    ck_assert_str_eq(error_for(e, "color"), "debe ser uno de: rojo, blanco");
    fv_errors_free(e);
}
END_TEST


START_TEST(required_fields)
{
    fv_errors_t  *e;

    e = run("{}", NULL);
    ck_assert_uint_eq(fv_errors_count(e), 2);
    ck_assert_str_eq(error_for(e, "name"), "es obligatorio");
    ck_assert_str_eq(error_for(e, "email"), "es obligatorio");
    fv_errors_free(e);

    INVALID("{\"name\":null,\"email\":\"a@b.cl\"}", "name", "es obligatorio");
    INVALID("{\"name\":\"   \",\"email\":\"a@b.cl\"}", "name", "es obligatorio");
    INVALID("{\"name\":\"\",\"email\":\"a@b.cl\"}", "name", "es obligatorio");
}
END_TEST


START_TEST(string_types_and_lengths)
{
    INVALID("{" BASE ",\"notes\":5}", "notes", "debe ser un texto");
    INVALID("{\"name\":[\"Ana\"],\"email\":\"a@b.cl\"}", "name", "debe ser un texto");
    INVALID("{" BASE ",\"notes\":\"123456789012345678901\"}", "notes",
        "debe tener como máximo 20 caracteres");
    /* Length is counted in characters: 20 two-byte characters fit. */
    VALID("{" BASE ",\"notes\":\"ññññññññññññññññññññ\"}");
    INVALID("{" BASE ",\"notes\":\"ñññññññññññññññññññññ\"}", "notes",
        "debe tener como máximo 20 caracteres");
    /* \u escapes count as what they encode. */
    VALID("{\"name\":\"\\u00c1n\",\"email\":\"a@b.cl\"}");
}
END_TEST


START_TEST(control_characters)
{
    INVALID("{\"name\":\"An\\u0000a\",\"email\":\"a@b.cl\"}", "name",
        "no puede contener caracteres de control");
    INVALID("{\"name\":\"An\\na\",\"email\":\"a@b.cl\"}", "name",
        "no puede contener caracteres de control");
    INVALID("{\"name\":\"An\\u007fa\",\"email\":\"a@b.cl\"}", "name",
        "no puede contener caracteres de control");
    INVALID("{\"name\":\"An\\u0085a\",\"email\":\"a@b.cl\"}", "name",
        "no puede contener caracteres de control");
    /* FV_MULTILINE allows line breaks and tabs, nothing else. */
    VALID("{" BASE ",\"notes\":\"uno\\r\\ndos\\tx\"}");
    INVALID("{" BASE ",\"notes\":\"uno\\u0007\"}", "notes",
        "no puede contener caracteres de control");
}
END_TEST


START_TEST(trim_and_email_normalisation)
{
    fv_errors_t  *e;
    json_object  *obj, *v;

    e = run("{\"name\":\"  Ana María \",\"email\":\"  Ana.Perez@Example.CL \"}", &obj);
    ck_assert_uint_eq(fv_errors_count(e), 0);
    ck_assert(json_object_object_get_ex(obj, "name", &v));
    ck_assert_str_eq(json_object_get_string(v), "Ana María");
    ck_assert(json_object_object_get_ex(obj, "email", &v));
    ck_assert_str_eq(json_object_get_string(v), "ana.perez@example.cl");
    fv_errors_free(e);
    json_object_put(obj);

    /* Trimming happens before the length check. */
    INVALID("{\"name\":\"  A  \",\"email\":\"a@b.cl\"}", "name",
        "debe tener entre 2 y 100 caracteres");
}
END_TEST


START_TEST(emails)
{
    static const char *const  good[] = {
        "a@b.cl", "first.last+tag@sub.example.com", "x_y-z@a-b.co", "o'neil@example.org",
        NULL
    };
    static const char *const  bad[] = {
        "plain", "@example.com", "a@", "a@b", "a@@b.cl", "a@b@c.cl", ".a@b.cl", "a.@b.cl",
        "a..b@c.cl", "a@-b.cl", "a@b-.cl", "a@b..cl", "a@b.c", "a@b.123", "a b@c.cl",
        "a@b_c.cl", "ñ@b.cl", NULL
    };
    char  text[512];
    char  local[80];
    size_t  i;

    for (i = 0; good[i]; i++) {
        (void) snprintf(text, sizeof(text), "{\"name\":\"Ana\",\"email\":\"%s\"}", good[i]);
        VALID(text);
    }

    for (i = 0; bad[i]; i++) {
        (void) snprintf(text, sizeof(text), "{\"name\":\"Ana\",\"email\":\"%s\"}", bad[i]);
        INVALID(text, "email", "no es un correo válido");
    }

    /* A local part over 64 characters. */
    memset(local, 'a', 65);
    local[65] = '\0';
    (void) snprintf(text, sizeof(text), "{\"name\":\"Ana\",\"email\":\"%s@b.cl\"}", local);
    INVALID(text, "email", "no es un correo válido");
}
END_TEST


START_TEST(email_length_limit)
{
    char  text[600], dom[300];
    size_t  i;

    /* 250 characters of labels: over 254 in all. */
    for (i = 0; i < 250; i++) {
        dom[i] = (i % 50 == 49) ? '.' : 'd';
    }
    memcpy(dom + 250, "cl", 3);
    (void) snprintf(text, sizeof(text), "{\"name\":\"Ana\",\"email\":\"abc@%s\"}", dom);
    INVALID(text, "email", "debe tener como máximo 254 caracteres");
}
END_TEST


START_TEST(integers)
{
    VALID("{" BASE ",\"age\":18}");
    VALID("{" BASE ",\"age\":120}");
    INVALID("{" BASE ",\"age\":121}", "age", "debe estar entre 18 y 120");
    INVALID("{" BASE ",\"age\":30.5}", "age", "debe ser un número entero");
    INVALID("{" BASE ",\"age\":30.0}", "age", "debe ser un número entero");
    INVALID("{" BASE ",\"age\":1e2}", "age", "debe ser un número entero");
    INVALID("{" BASE ",\"age\":\"30\"}", "age", "debe ser un número entero");
    INVALID("{" BASE ",\"age\":true}", "age", "debe ser un número entero");
    /* No bounds: any 64-bit value, but not what overflows it. */
    VALID("{" BASE ",\"stock\":-5}");
    VALID("{" BASE ",\"stock\":9223372036854775806}");
    INVALID("{" BASE ",\"stock\":99999999999999999999}", "stock",
        "está fuera del rango permitido");
    INVALID("{" BASE ",\"stock\":-99999999999999999999}", "stock",
        "está fuera del rango permitido");
    /* min with max 0: a lower bound only. */
    VALID("{" BASE ",\"min5\":5000000}");
    INVALID("{" BASE ",\"min5\":4}", "min5", "debe ser mayor o igual a 5");
}
END_TEST


START_TEST(booleans_enums_dates)
{
    VALID("{" BASE ",\"newsletter\":false}");
    INVALID("{" BASE ",\"newsletter\":\"true\"}", "newsletter", "debe ser true o false");
    INVALID("{" BASE ",\"newsletter\":1}", "newsletter", "debe ser true o false");

    VALID("{" BASE ",\"color\":\"rojo\"}");
    INVALID("{" BASE ",\"color\":\"Rojo\"}", "color", "debe ser uno de: rojo, blanco");
    INVALID("{" BASE ",\"color\":1}", "color", "debe ser un texto");

    VALID("{" BASE ",\"birthday\":\"2000-02-29\"}");
    INVALID("{" BASE ",\"birthday\":\"1900-02-29\"}", "birthday",
        "no es una fecha válida (AAAA-MM-DD)");
    INVALID("{" BASE ",\"birthday\":\"2024-13-01\"}", "birthday",
        "no es una fecha válida (AAAA-MM-DD)");
    INVALID("{" BASE ",\"birthday\":\"2024-04-31\"}", "birthday",
        "no es una fecha válida (AAAA-MM-DD)");
    INVALID("{" BASE ",\"birthday\":\"2024-1-01\"}", "birthday",
        "no es una fecha válida (AAAA-MM-DD)");
    INVALID("{" BASE ",\"birthday\":\"24-01-01T\"}", "birthday",
        "no es una fecha válida (AAAA-MM-DD)");
}
END_TEST


START_TEST(nullable_and_null)
{
    /* FV_NULLABLE: null is absence. */
    VALID("{" BASE ",\"birthday\":null}");
    /* Otherwise null is refused. */
    INVALID("{" BASE ",\"age\":null}", "age", "no puede ser nulo");
}
END_TEST


START_TEST(nested_objects)
{
    fv_errors_t  *e;
    json_object  *obj, *a, *v;

    e = run("{" BASE ",\"address\":{\"city\":\"  Talca \"}}", &obj);
    ck_assert_uint_eq(fv_errors_count(e), 0);
    ck_assert(json_object_object_get_ex(obj, "address", &a));
    ck_assert(json_object_object_get_ex(a, "city", &v));
    ck_assert_str_eq(json_object_get_string(v), "Talca");
    fv_errors_free(e);
    json_object_put(obj);

    e = run("{" BASE ",\"address\":{\"zip\":\"12345678\"}}", NULL);
    ck_assert_uint_eq(fv_errors_count(e), 2);
    ck_assert_str_eq(error_for(e, "address.city"), "es obligatorio");
    ck_assert_str_eq(error_for(e, "address.zip"), "debe tener como máximo 7 caracteres");
    fv_errors_free(e);

    INVALID("{" BASE ",\"address\":\"Talca\"}", "address", "debe ser un objeto");
}
END_TEST


START_TEST(arrays_of_objects)
{
    fv_errors_t  *e;

    VALID("{" BASE ",\"items\":[{\"productId\":\"AML001\",\"quantity\":2}]}");

    e = run("{" BASE ",\"items\":[{\"productId\":\"A\",\"quantity\":1},"
            "{\"productId\":\"B\"},{\"productId\":\"C\",\"quantity\":0}]}", NULL);
    ck_assert_uint_eq(fv_errors_count(e), 2);
    ck_assert_str_eq(error_for(e, "items[1].quantity"), "es obligatorio");
    ck_assert_str_eq(error_for(e, "items[2].quantity"), "debe estar entre 1 y 100");
    fv_errors_free(e);

    INVALID("{" BASE ",\"items\":[]}", "items", "debe tener entre 1 y 3 elementos");
    INVALID("{" BASE ",\"items\":[{},{},{},{}]}", "items", "debe tener entre 1 y 3 elementos");
    INVALID("{" BASE ",\"items\":{}}", "items", "debe ser una lista");
    INVALID("{" BASE ",\"items\":[null]}", "items[0]", "no puede ser nulo");
    INVALID("{" BASE ",\"items\":[7]}", "items[0]", "debe ser un objeto");
}
END_TEST


START_TEST(arrays_of_strings)
{
    VALID("{" BASE ",\"tags\":[\"a\",\"bb\"]}");
    INVALID("{" BASE ",\"tags\":[\"a\",\"\",\"c\"]}", "tags[1]",
        "debe tener entre 1 y 10 caracteres");
    INVALID("{" BASE ",\"tags\":[\"a\",3]}", "tags[1]", "debe ser un texto");
}
END_TEST


START_TEST(error_list_is_bounded)
{
    fv_buf_t      b;
    fv_errors_t  *e;
    int           i;

    fv_buf_init(&b);
    fv_buf_str(&b, "{" BASE ",\"tags\":[");
    for (i = 0; i < 500; i++) {
        fv_buf_str(&b, i ? ",1" : "1");
    }
    fv_buf_str(&b, "]}");

    e = run(b.data, NULL);
    ck_assert_uint_eq(fv_errors_count(e), 100);
    fv_errors_free(e);
    fv_buf_free(&b);
}
END_TEST


/* ---- query mode ----------------------------------------------------------------------- */

static const char *const  sorts[] = { "price", "-price", NULL };

static const fv_field_t  query_spec[] = {
    { "page", FV_INT, 0, 1, 1000, NULL, NULL },
    { "featured", FV_BOOL, 0, 0, 0, NULL, NULL },
    { "search", FV_STRING, FV_TRIM, 2, 50, NULL, NULL },
    { "sort", FV_ENUM, 0, 0, 0, sorts, NULL },
    { "color", FV_ARRAY, 0, 0, 3, NULL, tag_item },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};


START_TEST(query_values_are_parsed_from_text)
{
    fv_errors_t  *e = fv_errors_new();
    json_object  *args, *v;

    ck_assert_uint_eq(fv_query_parse("page=3&featured=true&search=rosas+rojas&sort=-price"
                                     "&color=rojo&color=blanco&other=1&filter%5B%24ne%5D=x",
                                     query_spec, &args, e), 0);
    ck_assert(json_object_object_get_ex(args, "page", &v));
    ck_assert(json_object_is_type(v, json_type_int));
    ck_assert_int_eq(json_object_get_int(v), 3);
    ck_assert(json_object_object_get_ex(args, "featured", &v));
    ck_assert(json_object_is_type(v, json_type_boolean));
    ck_assert(json_object_get_boolean(v));
    ck_assert(json_object_object_get_ex(args, "search", &v));
    ck_assert_str_eq(json_object_get_string(v), "rosas rojas");
    ck_assert(json_object_object_get_ex(args, "color", &v));
    ck_assert_uint_eq(json_object_array_length(v), 2);
    /* Unknown keys, and keys like filter[$ne], are dropped. */
    ck_assert(!json_object_object_get_ex(args, "other", NULL));
    ck_assert(!json_object_object_get_ex(args, "filter[$ne]", NULL));
    ck_assert_uint_eq(json_object_object_length(args), 5);
    json_object_put(args);
    fv_errors_free(e);
}
END_TEST


START_TEST(query_errors)
{
    fv_errors_t  *e = fv_errors_new();
    json_object  *args;

    ck_assert_uint_eq(fv_query_parse("page=abc&featured=yes&search=a&sort=name"
                                     "&color=a&color=b&color=c&color=d",
                                     query_spec, &args, e), 5);
    ck_assert_str_eq(error_for(e, "page"), "debe ser un número entero");
    ck_assert_str_eq(error_for(e, "featured"), "debe ser true o false");
    ck_assert_str_eq(error_for(e, "search"), "debe tener entre 2 y 50 caracteres");
    ck_assert_str_eq(error_for(e, "sort"), "debe ser uno de: price, -price");
    ck_assert_str_eq(error_for(e, "color"), "debe tener como máximo 3 elementos");
    json_object_put(args);
    fv_errors_free(e);
}
END_TEST


START_TEST(query_duplicates_and_malformed_escapes)
{
    fv_errors_t  *e = fv_errors_new();
    json_object  *args;

    ck_assert_uint_eq(fv_query_parse("page=1&page=2&search=%zz&sort=%00price", query_spec,
                                     &args, e), 3);
    ck_assert_str_eq(error_for(e, "page"), "está repetido");
    ck_assert_str_eq(error_for(e, "search"), "no es válido");
    ck_assert_str_eq(error_for(e, "sort"), "no puede contener caracteres de control");
    ck_assert_uint_eq(fv_errors_count(e), 3);
    json_object_put(args);
    fv_errors_free(e);
}
END_TEST


START_TEST(query_numbers_strictly)
{
    static const char *const  bad[] = {
        "page=+3", "page=3.0", "page=%203", "page=3%20", "page=0x10", "page=1e2",
        "page=99999999999999999999", "page=3%00", NULL
    };
    fv_errors_t  *e;
    json_object  *args;
    size_t        i;

    for (i = 0; bad[i]; i++) {
        e = fv_errors_new();
        ck_assert_msg(fv_query_parse(bad[i], query_spec, &args, e) == 1, "%s accepted", bad[i]);
        json_object_put(args);
        fv_errors_free(e);
    }

    e = fv_errors_new();
    ck_assert_uint_eq(fv_query_parse("page=0", query_spec, &args, e), 1);
    ck_assert_str_eq(error_for(e, "page"), "debe estar entre 1 y 1000");
    json_object_put(args);
    fv_errors_free(e);
}
END_TEST


START_TEST(query_empty_values_are_absent)
{
    static const fv_field_t  req[] = {
        { "q", FV_STRING, FV_REQUIRED, 0, 0, NULL, NULL },
        { NULL, 0, 0, 0, 0, NULL, NULL }
    };
    fv_errors_t  *e = fv_errors_new();
    json_object  *args;

    ck_assert_uint_eq(fv_query_parse("search=&page=", query_spec, &args, e), 0);
    ck_assert_uint_eq(json_object_object_length(args), 0);
    json_object_put(args);

    ck_assert_uint_eq(fv_query_parse("q=", req, &args, e), 1);
    ck_assert_str_eq(error_for(e, "q"), "es obligatorio");
    json_object_put(args);
    fv_errors_free(e);
}
END_TEST


START_TEST(query_without_spec_keeps_everything)
{
    fv_errors_t  *e = fv_errors_new();
    json_object  *args, *v;

    ck_assert_uint_eq(fv_query_parse("a=1&b=x%20y&a=2&=z&&c", NULL, &args, e), 0);
    ck_assert(json_object_object_get_ex(args, "a", &v));
    ck_assert_str_eq(json_object_get_string(v), "1");
    ck_assert(json_object_object_get_ex(args, "b", &v));
    ck_assert_str_eq(json_object_get_string(v), "x y");
    ck_assert_uint_eq(json_object_object_length(args), 2);
    json_object_put(args);
    fv_errors_free(e);
}
END_TEST


START_TEST(query_get_raw)
{
    char  buf[16];

    ck_assert_int_eq(fv_query_get("a=1&page=%32&b", "page", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "2");
    ck_assert_int_eq(fv_query_get("a=1&b", "b", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(fv_query_get("a=1", "page", buf, sizeof(buf)), 0);
    ck_assert_int_eq(fv_query_get("page=%zz", "page", buf, sizeof(buf)), -1);
    ck_assert_int_eq(fv_query_get("page=12345678901234567890", "page", buf, sizeof(buf)), -1);
}
END_TEST


/* ---- JSON bodies ---------------------------------------------------------------------- */

START_TEST(json_grammar)
{
    static const char *const  good[] = {
        "{}", " {\"a\" : [1, -2.5e+3, 0, 0.1, true, false, null, \"x\", {}, []]} \n",
        "{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83c\\udf39\"}", "[]", "1", "\"s\"",
        "{\"ñ\":\"🌹\"}", NULL
    };
    static const char *const  bad[] = {
        "", "{", "{\"a\":1,}", "{'a':1}", "{a:1}", "{\"a\":NaN}", "{\"a\":Infinity}",
        "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}", "{\"a\":-}", "{\"a\":1e}", "{\"a\":TRUE}",
        "{\"a\":1} x", "{\"a\":1}{}", "/*c*/{}", "{\"a\":\"\t\"}", "{\"a\":\"\\x\"}",
        "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
        "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}", "{\"a\" 1}", "[1 2]", "{\"a\":[}",
        "{\"a\":1]", "\"abc", "{\"a\":\"\\u12\"}", NULL
    };
    size_t  i;

    for (i = 0; good[i]; i++) {
        ck_assert_msg(fv_json_check(good[i], strlen(good[i]), 32) == 0, "refused: %s", good[i]);
    }
    for (i = 0; bad[i]; i++) {
        ck_assert_msg(fv_json_check(bad[i], strlen(bad[i]), 32) != 0, "accepted: %s", bad[i]);
    }

    /* An embedded NUL byte is not JSON. */
    ck_assert(fv_json_check("{}\0", 3, 32) != 0);
    ck_assert(fv_json_check("{\"a\":\"\0\"}", 8, 32) != 0);
}
END_TEST


START_TEST(json_depth_limit)
{
    char    deep[200];
    size_t  i;

    for (i = 0; i < 33; i++) {
        deep[i] = '[';
    }
    for (i = 0; i < 33; i++) {
        deep[33 + i] = ']';
    }
    ck_assert(fv_json_check(deep, 66, 32) != 0);
    ck_assert(fv_json_check(deep + 1, 64, 32) == 0);
}
END_TEST


START_TEST(body_parse_outcomes)
{
    json_object  *o;

    ck_assert_int_eq(fv_body_parse("", 0, &o), FV_BODY_OK);
    ck_assert(json_object_is_type(o, json_type_object));
    ck_assert_uint_eq(json_object_object_length(o), 0);
    json_object_put(o);

    ck_assert_int_eq(fv_body_parse(" \r\n", 3, &o), FV_BODY_OK);
    json_object_put(o);

    ck_assert_int_eq(fv_body_parse("[1]", 3, &o), FV_BODY_NOT_OBJECT);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(fv_body_parse("42", 2, &o), FV_BODY_NOT_OBJECT);
    ck_assert_int_eq(fv_body_parse("null", 4, &o), FV_BODY_NOT_OBJECT);
    ck_assert_int_eq(fv_body_parse("{\"a\":1} garbage", 15, &o), FV_BODY_INVALID);
    ck_assert_int_eq(fv_body_parse("{\"a\":", 5, &o), FV_BODY_INVALID);

    ck_assert_int_eq(fv_body_parse("{\"a\":{\"b\":[1,2]}}", 17, &o), FV_BODY_OK);
    json_object_put(o);
}
END_TEST


START_TEST(content_types)
{
    ck_assert(fv_content_type_json("application/json"));
    ck_assert(fv_content_type_json("Application/JSON"));
    ck_assert(fv_content_type_json("application/json; charset=utf-8"));
    ck_assert(fv_content_type_json("application/json;charset=UTF-8"));
    ck_assert(fv_content_type_json("application/json; charset=\"utf-8\""));
    ck_assert(!fv_content_type_json("application/json; charset=latin1"));
    ck_assert(!fv_content_type_json("application/jsonp"));
    ck_assert(!fv_content_type_json("text/plain"));
    ck_assert(!fv_content_type_json("application/x-www-form-urlencoded"));
    ck_assert(!fv_content_type_json(""));
    ck_assert(!fv_content_type_json(NULL));
}
END_TEST


int
main(void)
{
    Suite  *s;
    TCase  *tc;

    fv_log_init("test", FV_LOG_ERROR);

    s = suite_create("valid");

    tc = tcase_create("body");
    tcase_add_test(tc, minimal_valid_body);
    tcase_add_test(tc, every_bad_field_is_reported);
    tcase_add_test(tc, required_fields);
    tcase_add_test(tc, string_types_and_lengths);
    tcase_add_test(tc, control_characters);
    tcase_add_test(tc, trim_and_email_normalisation);
    tcase_add_test(tc, emails);
    tcase_add_test(tc, email_length_limit);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, booleans_enums_dates);
    tcase_add_test(tc, nullable_and_null);
    tcase_add_test(tc, nested_objects);
    tcase_add_test(tc, arrays_of_objects);
    tcase_add_test(tc, arrays_of_strings);
    tcase_add_test(tc, error_list_is_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("query");
    tcase_add_test(tc, query_values_are_parsed_from_text);
    tcase_add_test(tc, query_errors);
    tcase_add_test(tc, query_duplicates_and_malformed_escapes);
    tcase_add_test(tc, query_numbers_strictly);
    tcase_add_test(tc, query_empty_values_are_absent);
    tcase_add_test(tc, query_without_spec_keeps_everything);
    tcase_add_test(tc, query_get_raw);
    suite_add_tcase(s, tc);

    tc = tcase_create("json");
    tcase_add_test(tc, json_grammar);
    tcase_add_test(tc, json_depth_limit);
    tcase_add_test(tc, body_parse_outcomes);
    tcase_add_test(tc, content_types);
    suite_add_tcase(s, tc);

    return check_run(s);
}
