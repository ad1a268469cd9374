/* handlers.c: the review endpoints.  The route table has already checked the caller and the
 * body; a handler reads its fields, calls the store and answers, leaving by one exit. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fv_http.h"
#include "review.h"
#include "store.h"


#define REVIEW_MSG_NOT_FOUND      "Reseña no encontrada"
#define REVIEW_MSG_PRODUCT        "Producto no encontrado"
#define REVIEW_MSG_PRODUCT_ID     "debe ser un código de producto (A-Z, 0-9, _ o -, hasta 32)"
#define REVIEW_MSG_FORBIDDEN      "Solo quien escribió la reseña o un administrador puede cambiarla"
#define REVIEW_MSG_CATALOG_DOWN   "El catálogo no está disponible; inténtalo de nuevo en unos momentos"

/* review_product_check(): the product is unknown or withdrawn. */
#define REVIEW_PRODUCT_ABSENT     3


static const char *review_text(const fv_req_t *r, const char *name);
static int review_rating(const fv_req_t *r);
static int review_product_check(fv_req_t *r, const char *product_id);
static int review_may_change(const fv_req_t *r, const review_row_t *row);
static json_object *review_event(const review_row_t *row);
static int review_data(fv_req_t *r, int status, json_object *review, const char *message);


int
review_list(fv_req_t *r)
{
    json_object  *reviews, *summary, *data, *pagination;
    const char   *product_id;
    long          page, limit, total;
    int           rc;

    reviews = NULL;
    summary = NULL;

    product_id = fv_req_path(r, "productId");
    if (!review_product_id_ok(product_id)) {
        rc = fv_fail_field(r, "productId", REVIEW_MSG_PRODUCT_ID);
        goto out;
    }

    if (fv_req_page(r, &page, &limit) != 0) {
        rc = FV_OK;
        goto out;
    }

    rc = review_store_page(r->worker, product_id, page, limit, fv_req_user_id(r),
                           &reviews, &summary, &total);
    if (rc != FV_OK) {
        goto out;
    }

    pagination = json_object_new_object();
    json_object_object_add(pagination, "page", json_object_new_int64(page));
    json_object_object_add(pagination, "limit", json_object_new_int64(limit));
    json_object_object_add(pagination, "total", json_object_new_int64(total));
    json_object_object_add(pagination, "pages", json_object_new_int64((total + limit - 1) / limit));

    data = json_object_new_object();
    json_object_object_add(data, "reviews", reviews);
    json_object_object_add(data, "summary", summary);
    json_object_object_add(data, "pagination", pagination);
    reviews = NULL;
    summary = NULL;

    /* "mine" depends on who asks: no shared cache may keep it. */
    fv_reply_header(r, "Cache-Control", "private, no-cache");
    rc = fv_reply(r, 200, data, NULL);

out:

    json_object_put(reviews);
    json_object_put(summary);
    return rc;
}


/*
 * The product must exist and be on sale: the product service says so (its public view of
 * the product, through the internal listener).  One review per user and product is decided
 * by the unique index, so two requests racing get one 201 and one 409.
 */

int
review_create(fv_req_t *r)
{
    review_row_t   row = { 0, 0, 0, "", NULL };
    json_object   *event;
    const char    *product_id;
    int64_t        user_id;
    int            rc, open;

    event = NULL;
    open = 0;

    product_id = fv_req_path(r, "productId");
    if (!review_product_id_ok(product_id)) {
        rc = fv_fail_field(r, "productId", REVIEW_MSG_PRODUCT_ID);
        goto out;
    }

    user_id = fv_req_user_id(r);
    if (user_id <= 0) {
        rc = fv_fail(r, 401, "UNAUTHORIZED", "Se requiere iniciar sesión");
        goto out;
    }

    rc = review_product_check(r, product_id);
    if (rc == REVIEW_PRODUCT_ABSENT) {
        rc = fv_fail(r, 404, "NOT_FOUND", REVIEW_MSG_PRODUCT);
        goto out;
    }

    if (rc == FV_STORE_DOWN) {
        fv_reply_header(r, "Retry-After", "5");
        rc = fv_error(r, 503, "SERVICE_UNAVAILABLE", REVIEW_MSG_CATALOG_DOWN);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    if ((rc = review_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = review_store_insert(r->worker, product_id, user_id, review_rating(r),
                             review_text(r, "title"), review_text(r, "comment"), &row);
    if (rc == REVIEW_STORE_CONFLICT) {
        rc = fv_fail(r, 409, "ALREADY_REVIEWED",
                     "Ya publicaste una reseña de este producto; puedes editarla");
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    event = review_event(&row);
    if ((rc = review_store_event(r->worker, "review.created", event)) != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = review_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    rc = review_data(r, 201, row.json, "Reseña publicada");
    row.json = NULL;

out:

    if (open) {
        review_store_rollback(r->worker);
    }

    json_object_put(event);
    review_row_free(&row);
    return rc;
}


int
review_update(fv_req_t *r)
{
    review_row_t   old = { 0, 0, 0, "", NULL }, row = { 0, 0, 0, "", NULL };
    json_object   *event;
    int64_t        id;
    int            rc, open;

    event = NULL;
    open = 0;

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        rc = fv_fail(r, 404, "NOT_FOUND", REVIEW_MSG_NOT_FOUND);
        goto out;
    }

    if ((rc = review_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = review_store_lock(r->worker, id, fv_req_user_id(r), &old);
    if (rc == REVIEW_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "NOT_FOUND", REVIEW_MSG_NOT_FOUND);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    if (!review_may_change(r, &old)) {
        rc = fv_fail(r, 403, "FORBIDDEN", REVIEW_MSG_FORBIDDEN);
        goto out;
    }

    rc = review_store_replace(r->worker, id, fv_req_user_id(r), review_rating(r),
                              review_text(r, "title"), review_text(r, "comment"), &row);
    if (rc == REVIEW_STORE_NOT_FOUND) {
        rc = FV_ERROR;        /* locked above: it cannot have gone */
    }

    if (rc != FV_OK) {
        goto out;
    }

    event = review_event(&row);
    json_object_object_add(event, "previousRating", json_object_new_int(old.rating));

    if ((rc = review_store_event(r->worker, "review.updated", event)) != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = review_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    rc = review_data(r, 200, row.json, "Reseña actualizada");
    row.json = NULL;

out:

    if (open) {
        review_store_rollback(r->worker);
    }

    json_object_put(event);
    review_row_free(&old);
    review_row_free(&row);
    return rc;
}


int
review_delete(fv_req_t *r)
{
    review_row_t   row = { 0, 0, 0, "", NULL };
    json_object   *event, *data;
    int64_t        id;
    int            rc, open;

    event = NULL;
    open = 0;

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        rc = fv_fail(r, 404, "NOT_FOUND", REVIEW_MSG_NOT_FOUND);
        goto out;
    }

    if ((rc = review_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = review_store_lock(r->worker, id, fv_req_user_id(r), &row);
    if (rc == REVIEW_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "NOT_FOUND", REVIEW_MSG_NOT_FOUND);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    if (!review_may_change(r, &row)) {
        rc = fv_fail(r, 403, "FORBIDDEN", REVIEW_MSG_FORBIDDEN);
        goto out;
    }

    if ((rc = review_store_delete(r->worker, id)) != FV_OK) {
        rc = rc == REVIEW_STORE_NOT_FOUND ? FV_ERROR : rc;
        goto out;
    }

    event = review_event(&row);
    if ((rc = review_store_event(r->worker, "review.deleted", event)) != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = review_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    data = json_object_new_object();
    json_object_object_add(data, "id", json_object_new_int64(id));
    rc = fv_reply(r, 200, data, "Reseña eliminada");

out:

    if (open) {
        review_store_rollback(r->worker);
    }

    json_object_put(event);
    review_row_free(&row);
    return rc;
}


int
review_product_id_ok(const char *s)
{
    size_t  n;

    if (s == NULL) {
        return 0;
    }

    for (n = 0; s[n] != '\0'; n++) {
        if (n >= REVIEW_PRODUCT_MAX
            || !((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')
                 || s[n] == '_' || s[n] == '-'))
        {
            return 0;
        }
    }

    return n > 0;
}


/* A string field of the validated body; NULL when absent, null or blank. */

static const char *
review_text(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (r->body == NULL || !json_object_object_get_ex(r->body, name, &v)
        || !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
    {
        return NULL;
    }

    return json_object_get_string(v);
}


static int
review_rating(const fv_req_t *r)
{
    json_object  *v;

    if (r->body == NULL || !json_object_object_get_ex(r->body, "rating", &v)) {
        return 0;
    }

    return json_object_get_int(v);
}


/*
 * Asks the product service for the product's public view: FV_OK when it is on sale,
 * REVIEW_PRODUCT_ABSENT when it is unknown or withdrawn, FV_STORE_DOWN when the product
 * service cannot tell (unreachable, timing out, failing, refusing the call).
 */

static int
review_product_check(fv_req_t *r, const char *product_id)
{
    json_object  *reply, *data, *product, *active;
    char          path[96];
    long          status;
    int           rc;

    status = 0;

    /* product_id is [A-Z0-9_-]: nothing in it needs escaping in a path. */
    (void) snprintf(path, sizeof(path), "/internal/product/api/products/%s", product_id);

    reply = fv_http_json(r->worker, "GET", path, NULL, r->request_id, &status);

    if (status == 0 || status >= 500) {
        fv_log_req(r, FV_LOG_WARN, "product service unavailable checking %s (status %ld)",
                   product_id, status);
        rc = FV_STORE_DOWN;

    } else if (status == 200
               && json_object_object_get_ex(reply, "data", &data)
               && json_object_object_get_ex(data, "product", &product)
               && json_object_is_type(product, json_type_object)
               && (!json_object_object_get_ex(product, "active", &active)
                   || json_object_get_boolean(active)))
    {
        rc = FV_OK;

    } else if (status == 200 || status == 400 || status == 404 || status == 410) {
        rc = REVIEW_PRODUCT_ABSENT;

    } else {
        /* 401, 403, 429...: the call itself was refused; the product's fate is unknown. */
        fv_log_req(r, FV_LOG_WARN, "product service refused the check of %s (status %ld)",
                   product_id, status);
        rc = FV_STORE_DOWN;
    }

    json_object_put(reply);
    return rc;
}


static int
review_may_change(const fv_req_t *r, const review_row_t *row)
{
    return fv_req_is_admin(r) || row->user_id == fv_req_user_id(r);
}


/* The data every review.* event carries. */

static json_object *
review_event(const review_row_t *row)
{
    json_object  *e;

    e = json_object_new_object();
    json_object_object_add(e, "reviewId", json_object_new_int64(row->id));
    json_object_object_add(e, "productId", json_object_new_string(row->product_id));
    json_object_object_add(e, "userId", json_object_new_int64(row->user_id));
    json_object_object_add(e, "rating", json_object_new_int(row->rating));

    return e;
}


static int
review_data(fv_req_t *r, int status, json_object *review, const char *message)
{
    json_object  *data;

    data = json_object_new_object();
    json_object_object_add(data, "review", review);

    return fv_reply(r, status, data, message);
}
