/* fuzz_body.c: libFuzzer entry point for request bodies and query strings: the JSON grammar
 * check, json-c's parse, validation against a spec with every type, and query parsing. */

#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


static const char *const  kinds[] = { "a", "b", NULL };

static const fv_field_t  inner[] = {
    { "s", FV_STRING, FV_REQUIRED | FV_TRIM, 1, 10, NULL, NULL },
    { "i", FV_INT, 0, -5, 5, NULL, NULL },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};

static const fv_field_t  item[] = {
    { "item", FV_OBJECT, FV_NULLABLE, 0, 0, NULL, inner },
};

static const fv_field_t  word[] = {
    { "word", FV_STRING, FV_MULTILINE, 0, 8, NULL, NULL },
};

static const fv_field_t  spec[] = {
    { "name", FV_STRING, FV_REQUIRED | FV_TRIM, 2, 100, NULL, NULL },
    { "email", FV_EMAIL, 0, 0, 0, NULL, NULL },
    { "n", FV_INT, 0, 0, 0, NULL, NULL },
    { "b", FV_BOOL, FV_NULLABLE, 0, 0, NULL, NULL },
    { "kind", FV_ENUM, 0, 0, 0, kinds, NULL },
    { "day", FV_DATE, 0, 0, 0, NULL, NULL },
    { "obj", FV_OBJECT, 0, 0, 0, NULL, inner },
    { "items", FV_ARRAY, 0, 0, 50, NULL, item },
    { "words", FV_ARRAY, 0, 1, 0, NULL, word },
    { NULL, 0, 0, 0, 0, NULL, NULL }
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_object  *obj = NULL, *args = NULL;
    fv_errors_t  *e;
    char         *q;
    const char   *text;

    fv_log_init("fuzz", FV_LOG_ERROR + 1);

    e = fv_errors_new();
    if (e == NULL) {
        return 0;
    }

    if (fv_body_parse((const char *) data, size, &obj) == FV_BODY_OK) {
        (void) fv_validate(obj, spec, 0, e);

        /* The normalised object still serialises. */
        text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
        if (text == NULL) {
            abort();
        }
        json_object_put(obj);
    }

    /* The same bytes as a query string. */
    q = malloc(size + 1);
    if (q != NULL) {
        memcpy(q, data, size);
        q[size] = '\0';
        (void) fv_query_parse(q, spec, &args, e);
        json_object_put(args);
        args = NULL;
        (void) fv_query_parse(q, NULL, &args, e);
        json_object_put(args);
        free(q);
    }

    (void) fv_json_check((const char *) data, size, 8);

    fv_errors_free(e);
    return 0;
}
