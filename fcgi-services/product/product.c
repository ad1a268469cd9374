/* product.c: the product document: what a body may hold, how it is stored (BSON), and the
 * view every reply shows (JSON, fields in one fixed order). */

#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "product.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }

#define PRODUCT_MSG_KEY      "nombre de campo no permitido (no puede empezar con $ ni " \
                             "contener puntos)"


static const fv_field_t  text_item[] = {
    { "item", FV_STRING, FV_TRIM, 1, PRODUCT_TEXT_MAX, NULL, NULL }
};

static const fv_field_t  color_item[] = {
    { "item", FV_STRING, FV_TRIM, 1, PRODUCT_COLOR_MAX, NULL, NULL }
};

static const fv_field_t  slug_item[] = {
    { "item", FV_STRING, 0, PRODUCT_SLUG_MIN, PRODUCT_SLUG_MAX, NULL, NULL }
};

static const fv_field_t  url_item[] = {
    { "item", FV_STRING, 0, 1, PRODUCT_URL_MAX, NULL, NULL }
};

/* The fields an administrator writes; rating, reviews_count, createdAt and updatedAt are
 * the service's own (ignored in bodies, like any unknown field). */
#define PRODUCT_SPEC(required)                                                            \
{                                                                                         \
    { "id",                FV_STRING, 0, 1, PRODUCT_ID_MAX, NULL, NULL },                 \
    { "name",              FV_STRING, (required) | FV_TRIM,                               \
                           PRODUCT_NAME_MIN, PRODUCT_NAME_MAX, NULL, NULL },              \
    { "description",       FV_STRING, (required) | FV_TRIM | FV_MULTILINE,                \
                           PRODUCT_DESCRIPTION_MIN, PRODUCT_DESCRIPTION_MAX, NULL, NULL },\
    { "price",             FV_INT,    (required), 1, PRODUCT_PRICE_MAX, NULL, NULL },     \
    { "original_price",    FV_INT,    FV_NULLABLE, 1, PRODUCT_PRICE_MAX, NULL, NULL },    \
    { "category",          FV_STRING, (required),                                         \
                           PRODUCT_SLUG_MIN, PRODUCT_SLUG_MAX, NULL, NULL },              \
    { "stock",             FV_INT,    0, 0, PRODUCT_STOCK_MAX, NULL, NULL },              \
    { "featured",          FV_BOOL,   0, 0, 0, NULL, NULL },                              \
    { "active",            FV_BOOL,   0, 0, 0, NULL, NULL },                              \
    { "size",              FV_STRING, FV_TRIM, 0, PRODUCT_TEXT_MAX, NULL, NULL },         \
    { "delivery_time",     FV_STRING, FV_TRIM, 0, PRODUCT_TEXT_MAX, NULL, NULL },         \
    { "flowers",           FV_ARRAY,  0, 0, PRODUCT_LIST_MAX, NULL, text_item },          \
    { "colors",            FV_ARRAY,  0, 0, PRODUCT_LIST_MAX, NULL, color_item },         \
    { "occasions",         FV_ARRAY,  0, 0, PRODUCT_LIST_MAX, NULL, slug_item },          \
    { "images",            FV_ARRAY,  0, 0, PRODUCT_LIST_MAX, NULL, url_item },           \
    { "extras",            FV_ARRAY,  0, 0, PRODUCT_LIST_MAX, NULL, text_item },          \
    { "care_instructions", FV_STRING, FV_TRIM | FV_MULTILINE,                             \
                           0, PRODUCT_CARE_MAX, NULL, NULL },                             \
    FIELDS_END                                                                            \
}

static const fv_field_t  product_full[] = PRODUCT_SPEC(FV_REQUIRED);
static const fv_field_t  product_partial[] = PRODUCT_SPEC(0);


static int
product_slug_ok(const char *s)
{
    size_t  n;

    n = strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-");

    return s[n] == '\0' && n >= PRODUCT_SLUG_MIN && n <= PRODUCT_SLUG_MAX;
}


int
product_id_ok(const char *id)
{
    size_t  n;

    if (id == NULL) {
        return 0;
    }

    n = strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-");

    return id[n] == '\0' && n >= 1 && n <= PRODUCT_ID_MAX;
}


/* Keys MongoDB would read as operators or paths are refused wherever they appear, even
 * inside fields the service ignores. */
static void
product_check_keys(json_object *obj, const char *path, fv_errors_t *e)
{
    char    sub[256];
    size_t  i, n;

    if (json_object_is_type(obj, json_type_array)) {
        n = json_object_array_length(obj);
        for (i = 0; i < n; i++) {
            (void) snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            product_check_keys(json_object_array_get_idx(obj, i), sub, e);
        }
        return;
    }

    if (!json_object_is_type(obj, json_type_object)) {
        return;
    }

    json_object_object_foreach(obj, key, val) {
        (void) snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);

        if (key[0] == '$' || strchr(key, '.') != NULL) {
            fv_errors_add(e, sub, PRODUCT_MSG_KEY);
            continue;
        }

        product_check_keys(val, sub, e);
    }
}


static int
product_price_ok(json_object *v)
{
    return v != NULL && json_object_is_type(v, json_type_int)
           && json_object_get_int64(v) >= 1 && json_object_get_int64(v) <= PRODUCT_PRICE_MAX;
}


static json_object *
product_member(json_object *body, const char *name)
{
    json_object  *v = NULL;

    return json_object_object_get_ex(body, name, &v) ? v : NULL;
}


size_t
product_validate(json_object *body, product_mode_e mode, const char *path_id,
    fv_errors_t *e)
{
    json_object  *v, *price, *was;
    const char   *s;
    char          field[64];
    size_t        before, i, n;

    before = fv_errors_count(e);

    product_check_keys(body, "", e);

    (void) fv_validate(body, mode == PRODUCT_PATCH ? product_partial : product_full, 0, e);

    /* Each check below only looks at values of the right type: fv_validate() reported
     * the others already. */

    v = product_member(body, "id");
    if (mode == PRODUCT_CREATE && v == NULL) {
        fv_errors_add(e, "id", "es obligatorio");

    } else if (v != NULL && json_object_is_type(v, json_type_string)) {
        s = json_object_get_string(v);

        if (!product_id_ok(s)) {
            fv_errors_add(e, "id", "debe tener de 1 a 32 caracteres A-Z, 0-9, _ o -");

        } else if (path_id != NULL && strcmp(s, path_id) != 0) {
            fv_errors_add(e, "id", "no coincide con el producto de la dirección");
        }
    }

    v = product_member(body, "category");
    if (v != NULL && json_object_is_type(v, json_type_string)
        && !product_slug_ok(json_object_get_string(v)))
    {
        fv_errors_add(e, "category", "debe usar solo a-z, 0-9, _ o - (2 a 50 caracteres)");
    }

    v = product_member(body, "occasions");
    if (v != NULL && json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            json_object  *item = json_object_array_get_idx(v, i);

            if (json_object_is_type(item, json_type_string)
                && !product_slug_ok(json_object_get_string(item)))
            {
                (void) snprintf(field, sizeof(field), "occasions[%zu]", i);
                fv_errors_add(e, field, "debe usar solo a-z, 0-9, _ o - (2 a 50 caracteres)");
            }
        }
    }

    v = product_member(body, "images");
    if (v != NULL && json_object_is_type(v, json_type_array)) {
        n = json_object_array_length(v);
        for (i = 0; i < n; i++) {
            json_object  *item = json_object_array_get_idx(v, i);

            if (!json_object_is_type(item, json_type_string)) {
                continue;
            }

            s = json_object_get_string(item);

            if ((s[0] != '/' || s[1] == '/') && strncmp(s, "https://", 8) != 0) {
                (void) snprintf(field, sizeof(field), "images[%zu]", i);
                fv_errors_add(e, field, "debe ser una ruta (/...) o una dirección https://");
            }
        }
    }

    /* Compared only when both are valid prices: a bad one is reported once, by itself. */
    price = product_member(body, "price");
    was = product_member(body, "original_price");
    if (product_price_ok(price) && product_price_ok(was)
        && json_object_get_int64(was) < json_object_get_int64(price))
    {
        fv_errors_add(e, "original_price", "no puede ser menor que price");
    }

    return fv_errors_count(e) - before;
}


/*
 * A search is a literal text.  Every regular-expression syntax character (the same set in
 * PCRE and JavaScript) gets a backslash, which in both makes it stand for itself; letters
 * and digits never do, where a backslash would mean something.  The pattern then matches
 * the text literally, and a pattern without quantifiers, groups or classes cannot be slow.
 */
char *
product_search_pattern(const char *text)
{
    static const char  special[] = "\\^$.|?*+()[]{}/";
    char              *out, *o;

    out = malloc(2 * strlen(text) + 1);
    if (out == NULL) {
        return NULL;
    }

    for (o = out; *text != '\0'; text++) {
        if (strchr(special, *text) != NULL) {
            *o++ = '\\';
        }
        *o++ = *text;
    }
    *o = '\0';

    return out;
}


/* ---- storing --------------------------------------------------------------------------- */

static void
product_append_strings(bson_t *doc, const char *name, json_object *arr)
{
    bson_t   child;
    char     key[16];
    const char  *k;
    size_t   i, n;

    n = arr != NULL ? json_object_array_length(arr) : 0;

    BSON_APPEND_ARRAY_BEGIN(doc, name, &child);

    for (i = 0; i < n; i++) {
        json_object  *item = json_object_array_get_idx(arr, i);

        (void) bson_uint32_to_string((uint32_t) i, &k, key, sizeof(key));
        BSON_APPEND_UTF8(&child, k, json_object_get_string(item));
    }

    bson_append_array_end(doc, &child);
}


void
product_fields_bson(json_object *body, product_mode_e mode, bson_t *doc)
{
    const fv_field_t  *f;
    json_object       *v;
    int                present;
    char               key[PRODUCT_NAME_MAX * 4 + 1];

    for (f = product_partial; f->name != NULL; f++) {
        if (strcmp(f->name, "id") == 0) {
            continue;               /* the store's to write */
        }

        v = NULL;
        present = json_object_object_get_ex(body, f->name, &v);

        if (!present && mode == PRODUCT_PATCH) {
            continue;
        }

        if (v == NULL) {
            /* absent from a whole product, or null: the field's empty value */
            switch (f->type) {
            case FV_INT:
                if (f->flags & FV_NULLABLE) {
                    BSON_APPEND_NULL(doc, f->name);
                } else {
                    BSON_APPEND_INT64(doc, f->name, 0);
                }
                break;
            case FV_BOOL:
                /* a new product is on sale unless said otherwise; featured is opt-in */
                BSON_APPEND_BOOL(doc, f->name, strcmp(f->name, "active") == 0);
                break;
            case FV_ARRAY:
                product_append_strings(doc, f->name, NULL);
                break;
            default:
                BSON_APPEND_UTF8(doc, f->name, "");
                break;
            }
            continue;
        }

        switch (f->type) {
        case FV_INT:
            BSON_APPEND_INT64(doc, f->name, json_object_get_int64(v));
            break;
        case FV_BOOL:
            BSON_APPEND_BOOL(doc, f->name, json_object_get_boolean(v));
            break;
        case FV_ARRAY:
            product_append_strings(doc, f->name, v);
            break;
        default:
            BSON_APPEND_UTF8(doc, f->name, json_object_get_string(v));
            break;
        }

        if (strcmp(f->name, "name") == 0) {
            product_name_key(json_object_get_string(v), key, sizeof(key));
            BSON_APPEND_UTF8(doc, "nameKey", key);
        }
    }
}


/*
 * The sort key of a name: ASCII letters lower-cased and the accented letters of Spanish
 * folded to their base letter, so that "Árbol" sorts among the a's on any server (a real
 * MongoDB compares bytes; the stand-in, locale order).
 */
void
product_name_key(const char *name, char *out, size_t size)
{
    static const struct {
        unsigned char  second;     /* after 0xC3 */
        char           base;
    } folds[] = {
        { 0x81, 'a' }, { 0xA1, 'a' }, { 0x80, 'a' }, { 0xA0, 'a' }, { 0x84, 'a' }, { 0xA4, 'a' },
        { 0x89, 'e' }, { 0xA9, 'e' }, { 0x88, 'e' }, { 0xA8, 'e' }, { 0x8B, 'e' }, { 0xAB, 'e' },
        { 0x8D, 'i' }, { 0xAD, 'i' }, { 0x8F, 'i' }, { 0xAF, 'i' },
        { 0x93, 'o' }, { 0xB3, 'o' }, { 0x96, 'o' }, { 0xB6, 'o' },
        { 0x9A, 'u' }, { 0xBA, 'u' }, { 0x9C, 'u' }, { 0xBC, 'u' },
        { 0x91, 'n' }, { 0xB1, 'n' }, { 0x87, 'c' }, { 0xA7, 'c' },
    };
    const unsigned char  *p = (const unsigned char *) name;
    size_t                o = 0, i;

    if (size == 0) {
        return;
    }

    while (*p != '\0' && o + 1 < size) {
        if (*p >= 'A' && *p <= 'Z') {
            out[o++] = (char) (*p - 'A' + 'a');
            p++;
            continue;
        }

        if (*p == 0xC3 && p[1] != '\0') {
            for (i = 0; i < sizeof(folds) / sizeof(folds[0]); i++) {
                if (folds[i].second == p[1]) {
                    break;
                }
            }
            if (i < sizeof(folds) / sizeof(folds[0])) {
                out[o++] = folds[i].base;
                p += 2;
                continue;
            }
        }

        out[o++] = (char) *p++;
    }

    /* never cut a UTF-8 sequence in two */
    while (o > 0 && ((unsigned char) out[o - 1] & 0xC0) == 0x80) {
        o--;
    }
    if (o > 0 && ((unsigned char) out[o - 1] & 0xC0) == 0xC0) {
        o--;
    }

    out[o] = '\0';
}


/* ---- the view ------------------------------------------------------------------------- */

static json_object *
product_view_strings(const bson_t *doc, const char *name)
{
    bson_iter_t   it, child;
    json_object  *arr;

    arr = json_object_new_array();

    if (arr != NULL && bson_iter_init_find(&it, doc, name) && BSON_ITER_HOLDS_ARRAY(&it)
        && bson_iter_recurse(&it, &child))
    {
        while (bson_iter_next(&child)) {
            if (BSON_ITER_HOLDS_UTF8(&child)) {
                (void) json_object_array_add(arr,
                    json_object_new_string(bson_iter_utf8(&child, NULL)));
            }
        }
    }

    return arr;
}


static json_object *
product_view_string(const bson_t *doc, const char *name, int nullable)
{
    bson_iter_t  it;

    if (bson_iter_init_find(&it, doc, name) && BSON_ITER_HOLDS_UTF8(&it)) {
        return json_object_new_string(bson_iter_utf8(&it, NULL));
    }

    return nullable ? NULL : json_object_new_string("");
}


static json_object *
product_view_int(const bson_t *doc, const char *name, int nullable)
{
    bson_iter_t  it;

    if (bson_iter_init_find(&it, doc, name) && BSON_ITER_HOLDS_NUMBER(&it)) {
        return json_object_new_int64(bson_iter_as_int64(&it));
    }

    return nullable ? NULL : json_object_new_int64(0);
}


static json_object *
product_view_bool(const bson_t *doc, const char *name)
{
    bson_iter_t  it;

    return json_object_new_boolean(bson_iter_init_find(&it, doc, name)
                                   && bson_iter_as_bool(&it));
}


/* Stored as ISO-8601 text; a BSON date (written by other tools) is shown the same way. */
static json_object *
product_view_time(const bson_t *doc, const char *name)
{
    bson_iter_t  it;
    char         buf[80];
    int64_t      ms;
    time_t       t;
    struct tm    tm;

    if (!bson_iter_init_find(&it, doc, name)) {
        return NULL;
    }

    if (BSON_ITER_HOLDS_UTF8(&it)) {
        return json_object_new_string(bson_iter_utf8(&it, NULL));
    }

    if (BSON_ITER_HOLDS_DATE_TIME(&it)) {
        ms = bson_iter_date_time(&it);
        t = (time_t) (ms / 1000);
        if (gmtime_r(&t, &tm) == NULL) {
            return NULL;
        }
        (void) snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
            (int) (ms % 1000 + 1000) % 1000);
        return json_object_new_string(buf);
    }

    return NULL;
}


/* One decimal, as the text a client sees ("4.9", never 4.9000000000000004). */
json_object *
product_rating_json(double rating)
{
    char  buf[16];

    if (!isfinite(rating) || rating < 0) {
        rating = 0;
    }

    rating = round(rating * 10) / 10;
    (void) snprintf(buf, sizeof(buf), "%.1f", rating);

    return json_object_new_double_s(rating, buf);
}


json_object *
product_view(const bson_t *doc)
{
    json_object  *p;
    bson_iter_t   it;
    double        rating = 0;
    int64_t       count = 0;

    p = json_object_new_object();
    if (p == NULL) {
        return NULL;
    }

    if (bson_iter_init_find(&it, doc, "rating") && BSON_ITER_HOLDS_NUMBER(&it)) {
        rating = bson_iter_as_double(&it);
    }
    if (bson_iter_init_find(&it, doc, "reviews_count") && BSON_ITER_HOLDS_NUMBER(&it)) {
        count = bson_iter_as_int64(&it);
    }

    json_object_object_add(p, "id", product_view_string(doc, "id", 0));
    json_object_object_add(p, "name", product_view_string(doc, "name", 0));
    json_object_object_add(p, "description", product_view_string(doc, "description", 0));
    json_object_object_add(p, "price", product_view_int(doc, "price", 0));
    json_object_object_add(p, "original_price", product_view_int(doc, "original_price", 1));
    json_object_object_add(p, "category", product_view_string(doc, "category", 0));
    json_object_object_add(p, "stock", product_view_int(doc, "stock", 0));
    json_object_object_add(p, "featured", product_view_bool(doc, "featured"));
    json_object_object_add(p, "active", product_view_bool(doc, "active"));
    json_object_object_add(p, "rating", product_rating_json(count > 0 ? rating : 0));
    json_object_object_add(p, "reviews_count", json_object_new_int64(count > 0 ? count : 0));
    json_object_object_add(p, "size", product_view_string(doc, "size", 0));
    json_object_object_add(p, "delivery_time", product_view_string(doc, "delivery_time", 0));
    json_object_object_add(p, "flowers", product_view_strings(doc, "flowers"));
    json_object_object_add(p, "colors", product_view_strings(doc, "colors"));
    json_object_object_add(p, "occasions", product_view_strings(doc, "occasions"));
    json_object_object_add(p, "images", product_view_strings(doc, "images"));
    json_object_object_add(p, "extras", product_view_strings(doc, "extras"));
    json_object_object_add(p, "care_instructions",
        product_view_string(doc, "care_instructions", 0));
    json_object_object_add(p, "createdAt", product_view_time(doc, "createdAt"));
    json_object_object_add(p, "updatedAt", product_view_time(doc, "updatedAt"));

    return p;
}
