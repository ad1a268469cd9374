/* handlers.c: the catalogue endpoints.  The route table has already checked the caller, the
 * query and that a body is a JSON object; a handler validates a product, calls the store and
 * answers, leaving by one exit.  Public reads carry an ETag and answer 304 to a matching
 * If-None-Match; successful writes tell the gateway's cache to forget the catalogue. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "product.h"
#include "store.h"


#define PRODUCT_MSG_NOT_FOUND   "Producto no encontrado"


static int product_reply_read(fv_req_t *r, json_object *data);
static int product_reply_write(fv_req_t *r, int status, json_object *data,
    const char *message);
static int product_not_found(fv_req_t *r);
static const char *product_arg_str(const fv_req_t *r, const char *name);
static int64_t product_arg_int(const fv_req_t *r, const char *name);
static int product_arg_bool(const fv_req_t *r, const char *name);
static int product_write(fv_req_t *r, product_mode_e mode);


int
product_list(fv_req_t *r)
{
    product_query_t   q;
    json_object      *products = NULL, *data, *pagination;
    int64_t           total;
    long              page, limit;
    int               rc;

    q.category = product_arg_str(r, "category");
    q.occasion = product_arg_str(r, "occasion");
    q.color = product_arg_str(r, "color");
    q.search = product_arg_str(r, "search");
    q.sort = product_arg_str(r, "sort");
    q.min_price = product_arg_int(r, "minPrice");
    q.max_price = product_arg_int(r, "maxPrice");
    q.featured = product_arg_bool(r, "featured");
    q.all = fv_req_is_admin(r) && product_arg_bool(r, "includeInactive") == 1;

    if (q.min_price >= 0 && q.max_price >= 0 && q.min_price > q.max_price) {
        rc = fv_fail_field(r, "maxPrice", "debe ser mayor o igual que minPrice");
        goto out;
    }

    if (fv_req_page(r, &page, &limit) != 0) {
        rc = FV_OK;                 /* answered 400 */
        goto out;
    }

    q.skip = (int64_t) (page - 1) * limit;
    q.limit = limit;

    rc = product_store_list(r->worker, &q, &products, &total);
    if (rc != FV_OK) {
        goto out;
    }

    pagination = json_object_new_object();
    json_object_object_add(pagination, "page", json_object_new_int64(page));
    json_object_object_add(pagination, "limit", json_object_new_int64(limit));
    json_object_object_add(pagination, "total", json_object_new_int64(total));
    json_object_object_add(pagination, "pages",
        json_object_new_int64((total + limit - 1) / limit));

    data = json_object_new_object();
    json_object_object_add(data, "products", products);
    json_object_object_add(data, "pagination", pagination);
    products = NULL;

    rc = product_reply_read(r, data);

out:

    json_object_put(products);
    return rc;
}


int
product_get(fv_req_t *r)
{
    json_object  *product = NULL, *data;
    const char   *id;
    int           rc;

    id = fv_req_path(r, "id");

    /* An id no product can have names no product: the same 404 as an unknown one. */
    if (!product_id_ok(id)) {
        rc = product_not_found(r);
        goto out;
    }

    rc = product_store_get(r->worker, id, fv_req_is_admin(r), &product);
    if (rc == PRODUCT_STORE_NOT_FOUND) {
        rc = product_not_found(r);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    data = json_object_new_object();
    json_object_object_add(data, "product", product);
    product = NULL;

    rc = product_reply_read(r, data);

out:

    json_object_put(product);
    return rc;
}


static int
product_facets(fv_req_t *r, const char *field, const char *name)
{
    json_object  *list = NULL, *data;
    int           rc;

    rc = product_store_facets(r->worker, field, &list);
    if (rc != FV_OK) {
        return rc;
    }

    data = json_object_new_object();
    json_object_object_add(data, name, list);

    return product_reply_read(r, data);
}


int
product_categories(fv_req_t *r)
{
    return product_facets(r, "category", "categories");
}


int
product_occasions(fv_req_t *r)
{
    return product_facets(r, "occasions", "occasions");
}


int
product_create(fv_req_t *r)
{
    return product_write(r, PRODUCT_CREATE);
}


int
product_replace(fv_req_t *r)
{
    return product_write(r, PRODUCT_REPLACE);
}


int
product_patch(fv_req_t *r)
{
    return product_write(r, PRODUCT_PATCH);
}


/* POST, PUT and PATCH: the whole body checked at once, every bad field listed. */
static int
product_write(fv_req_t *r, product_mode_e mode)
{
    fv_errors_t  *e = NULL;
    json_object  *product = NULL, *data;
    const char   *id = NULL;
    char          location[64];
    int           rc;

    if (mode != PRODUCT_CREATE) {
        id = fv_req_path(r, "id");
        if (!product_id_ok(id)) {
            rc = product_not_found(r);
            goto out;
        }
    }

    e = fv_errors_new();
    if (e == NULL) {
        rc = FV_ERROR;
        goto out;
    }

    if (product_validate(r->body, mode, id, e) != 0) {
        rc = fv_fail_errors(r, e);
        e = NULL;
        goto out;
    }

    if (mode == PRODUCT_CREATE) {
        rc = product_store_create(r->worker, r->body, &product);
    } else {
        rc = product_store_update(r->worker, id, r->body, mode, &product);
    }

    if (rc == PRODUCT_STORE_CONFLICT) {
        rc = fv_fail(r, 409, "ID_TAKEN", "Ya existe un producto con ese código");
        goto out;
    }

    if (rc == PRODUCT_STORE_NOT_FOUND) {
        rc = product_not_found(r);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    data = json_object_new_object();
    json_object_object_add(data, "product", product);
    product = NULL;

    if (mode == PRODUCT_CREATE) {
        (void) snprintf(location, sizeof(location), "/api/products/%s",
            json_object_get_string(json_object_object_get(r->body, "id")));
        fv_reply_header(r, "Location", location);
        rc = product_reply_write(r, 201, data, "Producto creado");

    } else {
        rc = product_reply_write(r, 200, data, "Producto actualizado");
    }

out:

    fv_errors_free(e);
    json_object_put(product);
    return rc;
}


int
product_stock(fv_req_t *r)
{
    json_object  *stock, *delta, *data;
    const char   *id;
    int64_t       value, now;
    int           rc;

    id = fv_req_path(r, "id");
    if (!product_id_ok(id)) {
        rc = product_not_found(r);
        goto out;
    }

    stock = json_object_object_get(r->body, "stock");
    delta = json_object_object_get(r->body, "delta");

    if ((stock == NULL) == (delta == NULL)) {
        rc = fv_fail_field(r, "stock", "envía stock (el nuevo valor) o delta (el cambio), "
                           "uno de los dos");
        goto out;
    }

    value = json_object_get_int64(stock != NULL ? stock : delta);

    rc = product_store_stock(r->worker, id, delta != NULL, value, &now);

    switch (rc) {

    case FV_OK:
        data = json_object_new_object();
        json_object_object_add(data, "productId", json_object_new_string(id));
        json_object_object_add(data, "stock", json_object_new_int64(now));
        rc = product_reply_write(r, 200, data, "Stock actualizado");
        break;

    case PRODUCT_STORE_NOT_FOUND:
        rc = product_not_found(r);
        break;

    case PRODUCT_STORE_SHORT:
        rc = fv_fail(r, 409, "INSUFFICIENT_STOCK",
                     "No hay stock suficiente para ese cambio; el stock no puede ser negativo");
        break;

    case PRODUCT_STORE_OVER:
        rc = fv_fail_field(r, "delta", "el stock resultante superaría el máximo (1000000)");
        break;

    default:
        break;
    }

out:

    return rc;
}


/* A soft delete: the product leaves the catalogue (active false) and keeps its id, its
 * reviews' rating and its place in old orders; PATCH {"active": true} brings it back. */
int
product_delete(fv_req_t *r)
{
    json_object  *product = NULL, *data;
    const char   *id;
    int           rc;

    id = fv_req_path(r, "id");
    if (!product_id_ok(id)) {
        rc = product_not_found(r);
        goto out;
    }

    rc = product_store_deactivate(r->worker, id, &product);
    if (rc == PRODUCT_STORE_NOT_FOUND) {
        rc = product_not_found(r);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    data = json_object_new_object();
    json_object_object_add(data, "product", product);
    product = NULL;

    rc = product_reply_write(r, 200, data, "Producto retirado del catálogo");

out:

    json_object_put(product);
    return rc;
}


/* ---- replies --------------------------------------------------------------------------- */

static int
product_not_found(fv_req_t *r)
{
    return fv_fail(r, 404, "NOT_FOUND", PRODUCT_MSG_NOT_FOUND);
}


/* If-None-Match: "*", or a list of entity tags compared weakly (RFC 9110 13.1.2). */
int
product_etag_match(const char *header, const char *etag)
{
    const char  *p = header, *start;
    size_t       len = strlen(etag);

    for ( ;; ) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }

        if (*p == '\0') {
            return 0;
        }

        if (*p == '*') {
            return 1;
        }

        if (p[0] == 'W' && p[1] == '/') {
            p += 2;
        }

        start = p;
        if (*p == '"') {
            p = strchr(p + 1, '"');
            p = p != NULL ? p + 1 : start + strlen(start);
        } else {
            p += strcspn(p, ", \t");
        }

        if ((size_t) (p - start) == len && strncmp(start, etag, len) == 0) {
            return 1;
        }
    }
}


/*
 * A public read: the envelope's exact bytes are hashed into a strong ETag, so the same
 * catalogue always answers the same tag, on any worker and after any restart.  Everyone's
 * copy of a public view may be kept but is revalidated on each use (the gateway's cache
 * answers those checks with 304); an administrator's view (withdrawn products included) is
 * never kept anywhere.
 */
static int
product_reply_read(fv_req_t *r, json_object *data)
{
    json_object  *root;
    const char   *text, *inm;
    char          hex[65], etag[40];
    size_t        len;
    int           rc;

    root = json_object_new_object();
    if (root == NULL) {
        json_object_put(data);
        return FV_ERROR;
    }

    json_object_object_add(root, "status", json_object_new_string("success"));
    json_object_object_add(root, "data", data);

    text = json_object_to_json_string_length(root,
        JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (text == NULL) {
        rc = FV_ERROR;
        goto out;
    }

    fv_sha256_hex(text, len, hex);
    (void) snprintf(etag, sizeof(etag), "\"%.32s\"", hex);

    fv_reply_header(r, "ETag", etag);
    fv_reply_header(r, "Cache-Control",
        fv_req_is_admin(r) ? PRODUCT_CACHE_PRIVATE : PRODUCT_CACHE_PUBLIC);

    inm = fv_req_header(r, "If-None-Match");

    if (inm != NULL && product_etag_match(inm, etag)) {
        rc = fv_reply_raw(r, 304, NULL, NULL, 0);
    } else {
        rc = fv_reply_raw(r, 200, NULL, text, len);
    }

out:

    json_object_put(root);
    return rc;
}


/* A successful admin write: never cached, and the gateway's catalogue cache starts over
 * (flores_cache_bump in conf/nginx/services/product.conf). */
static int
product_reply_write(fv_req_t *r, int status, json_object *data, const char *message)
{
    fv_reply_header(r, "Cache-Control", "no-store");
    fv_reply_header(r, PRODUCT_INVALIDATE, "catalog");

    return fv_reply(r, status, data, message);
}


/* ---- query arguments (already validated by the route table's spec) -------------------- */

static const char *
product_arg_str(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (!json_object_object_get_ex(r->args, name, &v)
        || !json_object_is_type(v, json_type_string))
    {
        return NULL;
    }

    return json_object_get_string(v);
}


static int64_t
product_arg_int(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (!json_object_object_get_ex(r->args, name, &v)
        || !json_object_is_type(v, json_type_int))
    {
        return -1;
    }

    return json_object_get_int64(v);
}


static int
product_arg_bool(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (!json_object_object_get_ex(r->args, name, &v)
        || !json_object_is_type(v, json_type_boolean))
    {
        return -1;
    }

    return json_object_get_boolean(v);
}
