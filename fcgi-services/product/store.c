/* store.c: every MongoDB query of the product service.  User input only ever becomes a
 * BSON value (a string compared for equality, an escaped literal pattern, a number), never
 * a key, so no request can write an operator into a query. */

#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fv_mongo.h"
#include "store.h"


#define PRODUCT_COLLECTION   "products"
#define PRODUCT_META         "catalog_meta"
#define PRODUCT_SEED_MAX     (4L * 1024 * 1024)     /* bytes of the seed file */
#define PRODUCT_SETUP_EVERY  1000.0                 /* ms between setup attempts */


static int product_setup(fv_worker_t *w, product_ctx_t *ctx);


static double
product_now_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}


/* ---- helpers --------------------------------------------------------------------------- */

/*
 * A product's _id is derived from its id: the first 12 bytes of SHA-256("product:" + id).
 * MongoDB (the stand-in too) refuses a second document with the same _id, so two creations
 * racing for one id cannot both succeed, even where a unique index on "id" is not enforced.
 */
static void
product_oid(const char *id, bson_oid_t *oid)
{
    char  buf[PRODUCT_ID_MAX + 16], hex[65];
    int   n;

    n = snprintf(buf, sizeof(buf), "product:%s", id);
    fv_sha256_hex(buf, n > 0 ? (size_t) n : 0, hex);
    hex[24] = '\0';
    bson_oid_init_from_string(oid, hex);
}


/* The same for singletons of the meta collection ("seed"). */
static void
product_meta_oid(const char *name, bson_oid_t *oid)
{
    char  buf[64], hex[65];
    int   n;

    n = snprintf(buf, sizeof(buf), "catalog-meta:%s", name);
    fv_sha256_hex(buf, n > 0 ? (size_t) n : 0, hex);
    hex[24] = '\0';
    bson_oid_init_from_string(oid, hex);
}


/* The products collection, once indexes and seed are in place; NULL with *rc set. */
static mongoc_collection_t *
product_collection(fv_worker_t *w, int *rc)
{
    product_ctx_t        *ctx = fv_server_data(fv_worker_server(w));
    mongoc_collection_t  *c;

    if (!atomic_load(&ctx->ready)) {
        *rc = product_setup(w, ctx);
        if (*rc != FV_OK) {
            return NULL;
        }
    }

    c = fv_mongo_collection(w, PRODUCT_COLLECTION);
    *rc = c != NULL ? FV_OK : FV_STORE_DOWN;

    return c;
}


/* The one document findAndModify returned, NULL when none matched. */
static const bson_t *
product_fam_value(const bson_t *reply, bson_t *value)
{
    bson_iter_t     it;
    uint32_t        len;
    const uint8_t  *data;

    if (!bson_iter_init_find(&it, reply, "value") || !BSON_ITER_HOLDS_DOCUMENT(&it)) {
        return NULL;
    }

    bson_iter_document(&it, &len, &data);

    return bson_init_static(value, data, len) ? value : NULL;
}


/* findAndModify on one product by id (and extra conditions), returning the new document
 * as its view.  PRODUCT_STORE_NOT_FOUND when nothing matched. */
static int
product_modify(fv_worker_t *w, mongoc_collection_t *c, const bson_t *query,
    const bson_t *update, json_object **product, bson_t *out)
{
    mongoc_find_and_modify_opts_t  *opts;
    bson_t                          reply, value;
    const bson_t                   *doc;
    bson_error_t                    error;
    int                             rc;

    opts = mongoc_find_and_modify_opts_new();
    if (opts == NULL) {
        return FV_ERROR;
    }

    (void) mongoc_find_and_modify_opts_set_update(opts, update);
    (void) mongoc_find_and_modify_opts_set_flags(opts, MONGOC_FIND_AND_MODIFY_RETURN_NEW);

    if (!mongoc_collection_find_and_modify_with_opts(c, query, opts, &reply, &error)) {
        rc = fv_mongo_failed(w, &error, "findAndModify");
        goto out;
    }

    doc = product_fam_value(&reply, &value);

    if (doc == NULL) {
        rc = PRODUCT_STORE_NOT_FOUND;
        goto out;
    }

    rc = FV_OK;

    if (product != NULL) {
        *product = product_view(doc);
        if (*product == NULL) {
            rc = FV_ERROR;
        }
    }

    if (out != NULL) {
        bson_copy_to(doc, out);
    }

out:

    bson_destroy(&reply);
    mongoc_find_and_modify_opts_destroy(opts);
    return rc;
}


/* ---- setup: indexes and seed ----------------------------------------------------------- */

int
product_store_seed_load(product_ctx_t *ctx)
{
    FILE          *f;
    char          *buf = NULL;
    size_t         n;
    json_object   *seed = NULL, *item;
    fv_errors_t   *e = NULL;
    size_t         i, count;
    int            rc = FV_ERROR;

    f = fopen(ctx->seed_file, "rb");
    if (f == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_PRODUCT_SEED: cannot open %s: %s", ctx->seed_file,
            strerror(errno));
        return FV_ERROR;
    }

    buf = malloc(PRODUCT_SEED_MAX + 1);
    if (buf == NULL) {
        goto out;
    }

    n = fread(buf, 1, PRODUCT_SEED_MAX + 1, f);
    if (ferror(f) || n > PRODUCT_SEED_MAX) {
        fv_log(FV_LOG_ERROR, "FLORES_PRODUCT_SEED: %s is unreadable or over %ld bytes",
            ctx->seed_file, PRODUCT_SEED_MAX);
        goto out;
    }
    buf[n] = '\0';

    seed = json_tokener_parse(buf);
    if (seed == NULL || !json_object_is_type(seed, json_type_array)) {
        fv_log(FV_LOG_ERROR, "FLORES_PRODUCT_SEED: %s is not a JSON array", ctx->seed_file);
        goto out;
    }

    /* Every product passes the same checks as one created through the API. */
    count = json_object_array_length(seed);

    for (i = 0; i < count; i++) {
        item = json_object_array_get_idx(seed, i);

        fv_errors_free(e);
        e = fv_errors_new();
        if (e == NULL) {
            goto out;
        }

        if (!json_object_is_type(item, json_type_object)
            || product_validate(item, PRODUCT_CREATE, NULL, e) != 0)
        {
            fv_log(FV_LOG_ERROR, "FLORES_PRODUCT_SEED: product %zu of %s is not a valid "
                "product (%zu bad fields)", i, ctx->seed_file, fv_errors_count(e));
            goto out;
        }
    }

    ctx->seed = seed;
    seed = NULL;
    rc = FV_OK;

out:

    fv_errors_free(e);
    json_object_put(seed);
    free(buf);
    (void) fclose(f);
    return rc;
}


/* The indexes a real MongoDB needs for the listing's filters and sorts (the stand-in scans
 * anyway; it accepts them).  Creating an existing index changes nothing.  On a real server
 * the unique index on id refuses a duplicate too; the stand-in does not enforce it. */
static int
product_indexes(fv_worker_t *w, mongoc_collection_t *c)
{
    bson_t        *cmd;
    bson_error_t   error;
    int            rc = FV_OK;

    cmd = BCON_NEW("createIndexes", BCON_UTF8(PRODUCT_COLLECTION),
        "indexes", "[",
            "{", "key", "{", "id", BCON_INT32(1), "}",
                 "name", BCON_UTF8("id_unique"), "unique", BCON_BOOL(true), "}",
            "{", "key", "{", "category", BCON_INT32(1), "}", "name", BCON_UTF8("category"), "}",
            "{", "key", "{", "occasions", BCON_INT32(1), "}",
                 "name", BCON_UTF8("occasions"), "}",
            "{", "key", "{", "featured", BCON_INT32(-1), "createdAt", BCON_INT32(-1), "}",
                 "name", BCON_UTF8("featured_createdAt"), "}",
            "{", "key", "{", "price", BCON_INT32(1), "}", "name", BCON_UTF8("price"), "}",
        "]");

    /* Only an unreachable server stops the start: an index an operator made otherwise
     * (another name, other options) is logged and the service goes on with it. */
    if (!mongoc_collection_write_command_with_opts(c, cmd, NULL, NULL, &error)) {
        rc = fv_mongo_failed(w, &error, "createIndexes");
        if (rc != FV_STORE_DOWN) {
            rc = FV_OK;
        }
    }

    bson_destroy(cmd);
    return rc;
}


/* One seed product as stored: its fields, the rating it came with (as if from that many
 * reviews of that average), timestamps. */
static int
product_seed_one(fv_worker_t *w, mongoc_collection_t *c, json_object *item, const char *now)
{
    json_object   *v;
    bson_t         doc, events;
    bson_oid_t     oid;
    bson_error_t   error;
    const char    *id;
    double         rating = 0;
    int64_t        count = 0;
    int            rc = FV_OK;

    id = json_object_get_string(json_object_object_get(item, "id"));

    if (json_object_object_get_ex(item, "rating", &v)
        && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
    {
        rating = json_object_get_double(v);
    }
    if (json_object_object_get_ex(item, "reviews_count", &v)
        && json_object_is_type(v, json_type_int))
    {
        count = json_object_get_int64(v);
    }
    if (!(rating >= 0 && rating <= 5) || count < 0) {
        rating = 0;
        count = 0;
    }

    product_oid(id, &oid);

    bson_init(&doc);
    BSON_APPEND_OID(&doc, "_id", &oid);
    BSON_APPEND_UTF8(&doc, "id", id);
    product_fields_bson(item, PRODUCT_CREATE, &doc);
    BSON_APPEND_DOUBLE(&doc, "rating", count > 0 ? rating : 0);
    BSON_APPEND_INT64(&doc, "reviews_count", count);
    BSON_APPEND_DOUBLE(&doc, "ratingSum", rating * (double) count);
    BSON_APPEND_INT64(&doc, "ratingCount", count);
    BSON_APPEND_ARRAY_BEGIN(&doc, "_appliedEvents", &events);
    bson_append_array_end(&doc, &events);
    BSON_APPEND_UTF8(&doc, "createdAt", now);
    BSON_APPEND_UTF8(&doc, "updatedAt", now);

    /* Already there (an earlier, interrupted seeding): kept as it is. */
    if (!mongoc_collection_insert_one(c, &doc, NULL, NULL, &error)
        && !fv_mongo_duplicate(&error))
    {
        rc = fv_mongo_failed(w, &error, "seed insert");
    }

    bson_destroy(&doc);
    return rc;
}


/*
 * The seed is applied once per database: its products are inserted (one that exists is
 * left alone), then a marker document records it, so an interrupted seeding resumes and a
 * finished one never runs again (products an administrator changed stay changed).
 */
static int
product_seed(fv_worker_t *w, product_ctx_t *ctx, mongoc_collection_t *c)
{
    mongoc_collection_t  *meta;
    bson_t               *marker = NULL, *query = NULL;
    bson_oid_t            oid;
    bson_error_t          error;
    char                  now[25];
    int64_t               found;
    size_t                i, n;
    int                   rc = FV_OK;

    meta = fv_mongo_collection(w, PRODUCT_META);
    if (meta == NULL) {
        return FV_STORE_DOWN;
    }

    product_meta_oid("seed", &oid);

    query = BCON_NEW("_id", BCON_OID(&oid));
    found = mongoc_collection_count_documents(meta, query, NULL, NULL, NULL, &error);
    if (found < 0) {
        rc = fv_mongo_failed(w, &error, "count");
        goto out;
    }

    if (found > 0) {
        goto out;
    }

    fv_time_iso(now);
    n = json_object_array_length(ctx->seed);

    for (i = 0; i < n; i++) {
        rc = product_seed_one(w, c, json_object_array_get_idx(ctx->seed, i), now);
        if (rc != FV_OK) {
            goto out;
        }
    }

    marker = BCON_NEW("_id", BCON_OID(&oid), "file", BCON_UTF8(ctx->seed_file),
        "products", BCON_INT64((int64_t) n), "at", BCON_UTF8(now));

    if (!mongoc_collection_insert_one(meta, marker, NULL, NULL, &error)
        && !fv_mongo_duplicate(&error))
    {
        rc = fv_mongo_failed(w, &error, "seed marker");
        goto out;
    }

    fv_log(FV_LOG_INFO, "catalogue seeded with %zu products from %s", n, ctx->seed_file);

out:

    if (marker != NULL) {
        bson_destroy(marker);
    }
    if (query != NULL) {
        bson_destroy(query);
    }
    mongoc_collection_destroy(meta);
    return rc;
}


/*
 * Indexes and seed, before the first query.  One worker tries at a time, at most once a
 * second; the others carry on (their query fails fast too while MongoDB is down, and
 * finds the indexes and seed in place once another worker made them).
 */
static int
product_setup(fv_worker_t *w, product_ctx_t *ctx)
{
    mongoc_collection_t  *c = NULL;
    double                now;
    int                   rc;

    if (pthread_mutex_trylock(&ctx->setup_lock) != 0) {
        return FV_OK;
    }

    now = product_now_ms();

    if (atomic_load(&ctx->ready)
        || (ctx->setup_at > 0 && now - ctx->setup_at < PRODUCT_SETUP_EVERY))
    {
        rc = FV_OK;
        goto out;
    }

    ctx->setup_at = now;

    c = fv_mongo_collection(w, PRODUCT_COLLECTION);
    if (c == NULL) {
        rc = FV_STORE_DOWN;
        goto out;
    }

    if ((rc = product_indexes(w, c)) != FV_OK) {
        goto out;
    }

    if (ctx->seed != NULL) {
        if ((rc = product_seed(w, ctx, c)) != FV_OK) {
            goto out;
        }
    }

    atomic_store(&ctx->ready, 1);

out:

    if (c != NULL) {
        mongoc_collection_destroy(c);
    }
    (void) pthread_mutex_unlock(&ctx->setup_lock);
    return rc;
}


/* ---- reads ----------------------------------------------------------------------------- */

static void
product_filter(const product_query_t *q, bson_t *filter, char **pattern)
{
    bson_t  child, arr, alt;

    *pattern = NULL;

    if (!q->all) {
        BSON_APPEND_BOOL(filter, "active", true);
    }
    if (q->category != NULL) {
        BSON_APPEND_UTF8(filter, "category", q->category);
    }
    if (q->occasion != NULL) {
        BSON_APPEND_UTF8(filter, "occasions", q->occasion);      /* an element equals it */
    }
    if (q->color != NULL) {
        BSON_APPEND_UTF8(filter, "colors", q->color);
    }
    if (q->min_price >= 0 || q->max_price >= 0) {
        BSON_APPEND_DOCUMENT_BEGIN(filter, "price", &child);
        if (q->min_price >= 0) {
            BSON_APPEND_INT64(&child, "$gte", q->min_price);
        }
        if (q->max_price >= 0) {
            BSON_APPEND_INT64(&child, "$lte", q->max_price);
        }
        bson_append_document_end(filter, &child);
    }
    if (q->featured >= 0) {
        BSON_APPEND_BOOL(filter, "featured", q->featured);
    }

    if (q->search != NULL) {
        *pattern = product_search_pattern(q->search);
        if (*pattern == NULL) {
            return;
        }

        BSON_APPEND_ARRAY_BEGIN(filter, "$or", &arr);

        BSON_APPEND_DOCUMENT_BEGIN(&arr, "0", &alt);
        BSON_APPEND_DOCUMENT_BEGIN(&alt, "name", &child);
        BSON_APPEND_UTF8(&child, "$regex", *pattern);
        BSON_APPEND_UTF8(&child, "$options", "i");
        bson_append_document_end(&alt, &child);
        bson_append_document_end(&arr, &alt);

        BSON_APPEND_DOCUMENT_BEGIN(&arr, "1", &alt);
        BSON_APPEND_DOCUMENT_BEGIN(&alt, "description", &child);
        BSON_APPEND_UTF8(&child, "$regex", *pattern);
        BSON_APPEND_UTF8(&child, "$options", "i");
        bson_append_document_end(&alt, &child);
        bson_append_document_end(&arr, &alt);

        bson_append_array_end(filter, &arr);
    }
}


/* Every sort ends with id, so pages never overlap or skip a product. */
static void
product_sort(const char *sort, bson_t *opts)
{
    bson_t  s;

    BSON_APPEND_DOCUMENT_BEGIN(opts, "sort", &s);

    if (sort == NULL) {
        BSON_APPEND_INT32(&s, "featured", -1);
        BSON_APPEND_INT32(&s, "createdAt", -1);

    } else if (strcmp(sort, "price") == 0) {
        BSON_APPEND_INT32(&s, "price", 1);

    } else if (strcmp(sort, "-price") == 0) {
        BSON_APPEND_INT32(&s, "price", -1);

    } else if (strcmp(sort, "name") == 0) {
        BSON_APPEND_INT32(&s, "nameKey", 1);

    } else if (strcmp(sort, "-rating") == 0) {
        BSON_APPEND_INT32(&s, "rating", -1);
        BSON_APPEND_INT32(&s, "reviews_count", -1);

    } else if (strcmp(sort, "-createdAt") == 0) {
        BSON_APPEND_INT32(&s, "createdAt", -1);
    }

    BSON_APPEND_INT32(&s, "id", 1);
    bson_append_document_end(opts, &s);
}


int
product_store_list(fv_worker_t *w, const product_query_t *q, json_object **products,
    int64_t *total)
{
    mongoc_collection_t  *c;
    mongoc_cursor_t      *cur = NULL;
    const bson_t         *doc;
    bson_t                filter, opts, hidden;
    bson_error_t          error;
    json_object          *list, *p;
    char                 *pattern;
    size_t                n;
    int                   rc;

    *products = NULL;
    *total = 0;

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    bson_init(&filter);
    bson_init(&opts);
    product_filter(q, &filter, &pattern);

    list = json_object_new_array();

    if (list == NULL || (q->search != NULL && pattern == NULL)) {
        rc = FV_ERROR;
        goto out;
    }

    product_sort(q->sort, &opts);
    BSON_APPEND_INT64(&opts, "skip", q->skip);
    BSON_APPEND_INT64(&opts, "limit", q->limit);

    /* what replies never show */
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &hidden);
    BSON_APPEND_INT32(&hidden, "_id", 0);
    BSON_APPEND_INT32(&hidden, "ratingSum", 0);
    BSON_APPEND_INT32(&hidden, "ratingCount", 0);
    BSON_APPEND_INT32(&hidden, "_appliedEvents", 0);
    BSON_APPEND_INT32(&hidden, "nameKey", 0);
    bson_append_document_end(&opts, &hidden);

    cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);

    while (mongoc_cursor_next(cur, &doc)) {
        p = product_view(doc);
        if (p == NULL || json_object_array_add(list, p) != 0) {
            json_object_put(p);
            rc = FV_ERROR;
            goto out;
        }
    }

    if (mongoc_cursor_error(cur, &error)) {
        rc = fv_mongo_failed(w, &error, "find");
        goto out;
    }

    n = json_object_array_length(list);

    /* A page that is not full is the last one: the total is known without counting.  A
     * full page, or an empty one past the first (past the end), needs the count. */
    if (n > 0 && n < (size_t) q->limit) {
        *total = q->skip + (int64_t) n;

    } else if (n == 0 && q->skip == 0) {
        *total = 0;

    } else {
        *total = mongoc_collection_count_documents(c, &filter, NULL, NULL, NULL, &error);
        if (*total < 0) {
            rc = fv_mongo_failed(w, &error, "count");
            goto out;
        }
    }

    rc = FV_OK;
    *products = list;
    list = NULL;

out:

    json_object_put(list);
    if (cur != NULL) {
        mongoc_cursor_destroy(cur);
    }
    free(pattern);
    bson_destroy(&filter);
    bson_destroy(&opts);
    mongoc_collection_destroy(c);
    return rc;
}


int
product_store_get(fv_worker_t *w, const char *id, int all, json_object **product)
{
    mongoc_collection_t  *c;
    mongoc_cursor_t      *cur;
    const bson_t         *doc;
    bson_t               *filter, *opts;
    bson_error_t          error;
    int                   rc;

    *product = NULL;

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    filter = all ? BCON_NEW("id", BCON_UTF8(id))
                 : BCON_NEW("id", BCON_UTF8(id), "active", BCON_BOOL(true));
    opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{",
        "_appliedEvents", BCON_INT32(0), "}");

    cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);

    if (mongoc_cursor_next(cur, &doc)) {
        *product = product_view(doc);
        rc = *product != NULL ? FV_OK : FV_ERROR;

    } else if (mongoc_cursor_error(cur, &error)) {
        rc = fv_mongo_failed(w, &error, "find");

    } else {
        rc = PRODUCT_STORE_NOT_FOUND;
    }

    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    return rc;
}


typedef struct {
    const char  *slug;
    int64_t      count;
} product_facet_t;


static int
product_facet_cmp(const void *a, const void *b)
{
    const product_facet_t  *x = a, *y = b;

    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }

    return strcmp(x->slug, y->slug);
}


int
product_store_facets(fv_worker_t *w, const char *field, json_object **list)
{
    mongoc_collection_t  *c;
    mongoc_cursor_t      *cur;
    const bson_t         *doc;
    bson_t               *pipeline;
    bson_iter_t           it;
    bson_error_t          error;
    product_facet_t      *facets = NULL, *grown;
    json_object          *arr = NULL, *item;
    size_t                n = 0, cap = 0, i;
    char                  path[64], buf[PRODUCT_SLUG_MAX * 4 + 1];
    const char           *key;
    int                   rc;

    *list = NULL;

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    (void) snprintf(path, sizeof(path), "$%s", field);

    /* An array field is unwound first: each occasion of a product counts once. */
    if (strcmp(field, "occasions") == 0) {
        pipeline = BCON_NEW("pipeline", "[",
            "{", "$match", "{", "active", BCON_BOOL(true), "}", "}",
            "{", "$unwind", BCON_UTF8(path), "}",
            "{", "$group", "{", "_id", BCON_UTF8(path),
                                "count", "{", "$sum", BCON_INT32(1), "}", "}", "}",
            "]");
    } else {
        pipeline = BCON_NEW("pipeline", "[",
            "{", "$match", "{", "active", BCON_BOOL(true), "}", "}",
            "{", "$group", "{", "_id", BCON_UTF8(path),
                                "count", "{", "$sum", BCON_INT32(1), "}", "}", "}",
            "]");
    }

    cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, pipeline, NULL, NULL);

    while (mongoc_cursor_next(cur, &doc)) {
        if (!bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) {
            continue;
        }

        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            grown = realloc(facets, cap * sizeof(product_facet_t));
            if (grown == NULL) {
                rc = FV_ERROR;
                goto out;
            }
            facets = grown;
        }

        facets[n].slug = strdup(bson_iter_utf8(&it, NULL));
        if (facets[n].slug == NULL) {
            rc = FV_ERROR;
            goto out;
        }

        facets[n].count = bson_iter_init_find(&it, doc, "count") && BSON_ITER_HOLDS_NUMBER(&it)
                          ? bson_iter_as_int64(&it) : 0;
        n++;
    }

    if (mongoc_cursor_error(cur, &error)) {
        rc = fv_mongo_failed(w, &error, "aggregate");
        goto out;
    }

    if (n > 1) {
        qsort(facets, n, sizeof(product_facet_t), product_facet_cmp);
    }

    arr = json_object_new_array();
    if (arr == NULL) {
        rc = FV_ERROR;
        goto out;
    }

    for (i = 0; i < n; i++) {
        key = product_slug_name(facets[i].slug, buf, sizeof(buf));

        item = json_object_new_object();
        json_object_object_add(item, "slug", json_object_new_string(facets[i].slug));
        json_object_object_add(item, "name", json_object_new_string(key));
        json_object_object_add(item, "count", json_object_new_int64(facets[i].count));

        if (json_object_array_add(arr, item) != 0) {
            json_object_put(item);
            rc = FV_ERROR;
            goto out;
        }
    }

    *list = arr;
    arr = NULL;
    rc = FV_OK;

out:

    for (i = 0; i < n; i++) {
        free((char *) facets[i].slug);
    }
    free(facets);
    json_object_put(arr);
    mongoc_cursor_destroy(cur);
    bson_destroy(pipeline);
    mongoc_collection_destroy(c);
    return rc;
}


/* ---- writes ---------------------------------------------------------------------------- */

static int
product_exists(fv_worker_t *w, mongoc_collection_t *c, const char *id)
{
    bson_t        *filter;
    bson_error_t   error;
    int64_t        n;

    filter = BCON_NEW("id", BCON_UTF8(id));
    n = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, &error);
    bson_destroy(filter);

    if (n < 0) {
        return fv_mongo_failed(w, &error, "count");
    }

    return n > 0 ? PRODUCT_STORE_CONFLICT : PRODUCT_STORE_NOT_FOUND;
}


/*
 * The id is checked first (a clear 409 whatever the server enforces), then the insert
 * itself refuses a duplicate _id (product_oid()): of two creations racing past the check,
 * exactly one is stored and the other is answered 409 as well.
 */
int
product_store_create(fv_worker_t *w, json_object *body, json_object **product)
{
    mongoc_collection_t  *c;
    bson_t                doc, events;
    bson_oid_t            oid;
    bson_error_t          error;
    const char           *id;
    char                  now[25];
    int                   rc;

    *product = NULL;
    id = json_object_get_string(json_object_object_get(body, "id"));

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    rc = product_exists(w, c, id);
    if (rc != PRODUCT_STORE_NOT_FOUND) {
        mongoc_collection_destroy(c);
        return rc;
    }

    fv_time_iso(now);
    product_oid(id, &oid);

    bson_init(&doc);
    BSON_APPEND_OID(&doc, "_id", &oid);
    BSON_APPEND_UTF8(&doc, "id", id);
    product_fields_bson(body, PRODUCT_CREATE, &doc);
    BSON_APPEND_DOUBLE(&doc, "rating", 0);
    BSON_APPEND_INT64(&doc, "reviews_count", 0);
    BSON_APPEND_DOUBLE(&doc, "ratingSum", 0);
    BSON_APPEND_INT64(&doc, "ratingCount", 0);
    BSON_APPEND_ARRAY_BEGIN(&doc, "_appliedEvents", &events);
    bson_append_array_end(&doc, &events);
    BSON_APPEND_UTF8(&doc, "createdAt", now);
    BSON_APPEND_UTF8(&doc, "updatedAt", now);

    if (!mongoc_collection_insert_one(c, &doc, NULL, NULL, &error)) {
        rc = fv_mongo_duplicate(&error) ? PRODUCT_STORE_CONFLICT
                                        : fv_mongo_failed(w, &error, "insert");
        goto out;
    }

    *product = product_view(&doc);
    rc = *product != NULL ? FV_OK : FV_ERROR;

out:

    bson_destroy(&doc);
    mongoc_collection_destroy(c);
    return rc;
}


int
product_store_update(fv_worker_t *w, const char *id, json_object *body, product_mode_e mode,
    json_object **product)
{
    mongoc_collection_t  *c;
    bson_t                query, update, set;
    char                  now[25];
    int                   rc;

    *product = NULL;

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    fv_time_iso(now);

    bson_init(&query);
    BSON_APPEND_UTF8(&query, "id", id);

    bson_init(&update);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    product_fields_bson(body, mode, &set);
    BSON_APPEND_UTF8(&set, "updatedAt", now);
    bson_append_document_end(&update, &set);

    rc = product_modify(w, c, &query, &update, product, NULL);

    bson_destroy(&query);
    bson_destroy(&update);
    mongoc_collection_destroy(c);
    return rc;
}


int
product_store_deactivate(fv_worker_t *w, const char *id, json_object **product)
{
    mongoc_collection_t  *c;
    bson_t               *query, *update;
    char                  now[25];
    int                   rc;

    *product = NULL;

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    fv_time_iso(now);

    query = BCON_NEW("id", BCON_UTF8(id));
    update = BCON_NEW("$set", "{", "active", BCON_BOOL(false), "updatedAt", BCON_UTF8(now),
        "}");

    rc = product_modify(w, c, query, update, product, NULL);

    bson_destroy(query);
    bson_destroy(update);
    mongoc_collection_destroy(c);
    return rc;
}


/*
 * A relative change is one conditional update: it matches only while the result stays
 * within 0..PRODUCT_STOCK_MAX ({stock: {$gte: -delta, $lte: max - delta}}) and applies
 * $inc, so concurrent changes never oversell nor lose one another.  No match: the product
 * is unknown, or the stock was too low (too high).
 */
int
product_store_stock(fv_worker_t *w, const char *id, int relative, int64_t value,
    int64_t *stock)
{
    mongoc_collection_t  *c;
    bson_t               *query, *update;
    bson_t                out;
    bson_iter_t           it;
    char                  now[25];
    int                   rc;

    *stock = 0;

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    fv_time_iso(now);
    bson_init(&out);

    if (relative) {
        query = BCON_NEW("id", BCON_UTF8(id),
            "stock", "{", "$gte", BCON_INT64(-value),
                          "$lte", BCON_INT64(PRODUCT_STOCK_MAX - value), "}");
        update = BCON_NEW("$inc", "{", "stock", BCON_INT64(value), "}",
            "$set", "{", "updatedAt", BCON_UTF8(now), "}");
    } else {
        query = BCON_NEW("id", BCON_UTF8(id));
        update = BCON_NEW("$set", "{", "stock", BCON_INT64(value),
            "updatedAt", BCON_UTF8(now), "}");
    }

    rc = product_modify(w, c, query, update, NULL, &out);

    if (rc == FV_OK) {
        *stock = bson_iter_init_find(&it, &out, "stock") && BSON_ITER_HOLDS_NUMBER(&it)
                 ? bson_iter_as_int64(&it) : 0;

    } else if (rc == PRODUCT_STORE_NOT_FOUND && relative) {
        rc = product_exists(w, c, id);
        if (rc == PRODUCT_STORE_CONFLICT) {
            rc = value < 0 ? PRODUCT_STORE_SHORT : PRODUCT_STORE_OVER;
        }
    }

    bson_destroy(&out);
    bson_destroy(query);
    bson_destroy(update);
    mongoc_collection_destroy(c);
    return rc;
}


/* ---- ratings --------------------------------------------------------------------------- */

/*
 * One findAndModify both applies the event and records it: it matches only while the
 * event id is not among the product's last PRODUCT_EVENTS_KEPT applied ones, adds to
 * ratingSum and ratingCount, and pushes the id.  A redelivered event matches nothing.
 * The average is then written from the sums it returned, only if they are still the
 * current ones (a later event writes its own, newer average).
 */
int
product_store_review(fv_worker_t *w, const char *product_id, const char *event_id, int dsum,
    int dcount)
{
    mongoc_collection_t  *c;
    bson_t               *query, *update, *set_query = NULL, *set = NULL;
    bson_t                out;
    bson_iter_t           it;
    bson_error_t          error;
    double                sum = 0, rating;
    int64_t               count = 0;
    int                   rc;

    c = product_collection(w, &rc);
    if (c == NULL) {
        return rc;
    }

    bson_init(&out);

    query = BCON_NEW("id", BCON_UTF8(product_id),
        "_appliedEvents", "{", "$ne", BCON_UTF8(event_id), "}");
    update = BCON_NEW(
        "$inc", "{", "ratingSum", BCON_DOUBLE((double) dsum),
                     "ratingCount", BCON_INT64(dcount), "}",
        "$push", "{", "_appliedEvents", "{",
                     "$each", "[", BCON_UTF8(event_id), "]",
                     "$slice", BCON_INT32(-PRODUCT_EVENTS_KEPT), "}", "}");

    rc = product_modify(w, c, query, update, NULL, &out);

    if (rc == PRODUCT_STORE_NOT_FOUND) {
        rc = product_exists(w, c, product_id);
        if (rc == PRODUCT_STORE_CONFLICT) {
            rc = FV_OK;             /* applied before: nothing to do */
        }
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    if (bson_iter_init_find(&it, &out, "ratingSum") && BSON_ITER_HOLDS_NUMBER(&it)) {
        sum = bson_iter_as_double(&it);
    }
    if (bson_iter_init_find(&it, &out, "ratingCount") && BSON_ITER_HOLDS_NUMBER(&it)) {
        count = bson_iter_as_int64(&it);
    }

    rating = count > 0 ? round(sum / (double) count * 10) / 10 : 0;
    if (rating < 0) {
        rating = 0;
    }

    set_query = BCON_NEW("id", BCON_UTF8(product_id), "ratingSum", BCON_DOUBLE(sum),
        "ratingCount", BCON_INT64(count));
    set = BCON_NEW("$set", "{", "rating", BCON_DOUBLE(rating),
        "reviews_count", BCON_INT64(count > 0 ? count : 0), "}");

    if (!mongoc_collection_update_one(c, set_query, set, NULL, NULL, &error)) {
        rc = fv_mongo_failed(w, &error, "update");
    }

out:

    if (set_query != NULL) {
        bson_destroy(set_query);
    }
    if (set != NULL) {
        bson_destroy(set);
    }
    bson_destroy(&out);
    bson_destroy(query);
    bson_destroy(update);
    mongoc_collection_destroy(c);
    return rc;
}
