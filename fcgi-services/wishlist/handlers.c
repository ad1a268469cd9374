/* handlers.c: the wishlist's thin handlers. */

#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "wishlist.h"
#include "fv_http.h"


/* The caller's id as the store's keys spell it: the token's subject as a positive decimal
 * integer (anything else cannot name a wishlist, and is refused). */
static int
wishlist_user(fv_req_t *r, char *uid, size_t size)
{
    int64_t  id = fv_req_user_id(r);

    if (id <= 0) {
        return -1;
    }

    (void) snprintf(uid, size, "%lld", (long long) id);
    return 0;
}


static int
wishlist_no_user(fv_req_t *r)
{
    return fv_fail(r, 401, "UNAUTHORIZED", "Se requiere iniciar sesión");
}


static void
wishlist_time_iso(long long ms, char out[64])
{
    struct tm  tm;
    time_t     t = (time_t) (ms / 1000);

    if (gmtime_r(&t, &tm) == NULL) {
        (void) snprintf(out, 64, "1970-01-01T00:00:00.000Z");
        return;
    }

    (void) snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                    (int) (ms % 1000));
}


/* The wishlist with each product as the catalogue shows it now; a product withdrawn since
 * stays listed, without name nor price, and not available. */
int
wishlist_get(fv_req_t *r)
{
    char                uid[24];
    wishlist_item_t     items[WISHLIST_ITEMS_MAX];
    fv_product_t  p;
    json_object        *list, *item, *wishlist, *data;
    char                added[64];
    size_t              n, i;
    int                 rc;

    if (wishlist_user(r, uid, sizeof(uid)) != 0) {
        return wishlist_no_user(r);
    }

    rc = wishlist_store_items(r->worker, uid, items, &n);
    if (rc != FV_OK) {
        return rc;
    }

    list = json_object_new_array();
    if (list == NULL) {
        return FV_ERROR;
    }

    for (i = 0; i < n; i++) {
        rc = fv_product_get(r, items[i].product_id, &p);
        if (rc != FV_OK && rc != FV_PRODUCT_ABSENT) {
            json_object_put(list);
            return rc;
        }

        item = json_object_new_object();
        if (item == NULL) {
            json_object_put(list);
            return FV_ERROR;
        }

        wishlist_time_iso(items[i].added_ms, added);
        json_object_object_add(item, "productId", json_object_new_string(items[i].product_id));

        if (rc == FV_OK) {
            json_object_object_add(item, "name", json_object_new_string(p.name));
            json_object_object_add(item, "price", json_object_new_int64(p.price));
            json_object_object_add(item, "available", json_object_new_boolean(p.stock != 0));
        } else {
            json_object_object_add(item, "name", NULL);
            json_object_object_add(item, "price", NULL);
            json_object_object_add(item, "available", json_object_new_boolean(0));
        }

        json_object_object_add(item, "addedAt", json_object_new_string(added));
        json_object_array_add(list, item);
    }

    wishlist = json_object_new_object();
    data = json_object_new_object();
    if (wishlist == NULL || data == NULL) {
        json_object_put(list);
        json_object_put(wishlist);
        json_object_put(data);
        return FV_ERROR;
    }

    json_object_object_add(wishlist, "items", list);
    json_object_object_add(wishlist, "count", json_object_new_int64((int64_t) n));
    json_object_object_add(data, "wishlist", wishlist);

    return fv_reply(r, 200, data, NULL);
}


static int
wishlist_item_reply(fv_req_t *r, int status, const char *product_id)
{
    json_object  *data, *item;

    data = json_object_new_object();
    item = json_object_new_object();
    if (data == NULL || item == NULL) {
        json_object_put(data);
        json_object_put(item);
        return FV_ERROR;
    }

    json_object_object_add(item, "productId", json_object_new_string(product_id));
    json_object_object_add(data, "item", item);
    return fv_reply(r, status, data, NULL);
}


/* Idempotent: 201 when added, 200 when it was already there. */
int
wishlist_add(fv_req_t *r)
{
    char                uid[24];
    fv_product_t  p;
    const char         *product_id;
    int                 rc;

    if (wishlist_user(r, uid, sizeof(uid)) != 0) {
        return wishlist_no_user(r);
    }

    product_id = json_object_get_string(json_object_object_get(r->body, "productId"));

    if (!fv_product_id_ok(product_id)) {
        return fv_fail_field(r, "productId", WISHLIST_MSG_PRODUCT_ID);
    }

    rc = fv_product_get(r, product_id, &p);
    if (rc == FV_PRODUCT_ABSENT) {
        return fv_fail(r, 404, "NOT_FOUND", WISHLIST_MSG_NO_PRODUCT);
    }

    if (rc != FV_OK) {
        return rc;
    }

    rc = wishlist_store_add(r->worker, uid, product_id);

    switch (rc) {
    case FV_OK:
        return wishlist_item_reply(r, 201, product_id);
    case WISHLIST_PRESENT:
        return wishlist_item_reply(r, 200, product_id);
    case WISHLIST_FULL:
        return fv_fail(r, 409, "WISHLIST_FULL",
                       "La lista de deseos ya tiene 100 productos");
    default:
        return rc;
    }
}


int
wishlist_remove(fv_req_t *r)
{
    char         uid[24];
    const char  *product_id = fv_req_path(r, "productId");
    int          rc;

    if (wishlist_user(r, uid, sizeof(uid)) != 0) {
        return wishlist_no_user(r);
    }

    if (!fv_product_id_ok(product_id)) {
        return fv_fail(r, 404, "NOT_FOUND", WISHLIST_MSG_NO_ITEM);
    }

    rc = wishlist_store_remove(r->worker, uid, product_id);
    if (rc == WISHLIST_ABSENT) {
        return fv_fail(r, 404, "NOT_FOUND", WISHLIST_MSG_NO_ITEM);
    }

    if (rc != FV_OK) {
        return rc;
    }

    return fv_reply(r, 204, NULL, NULL);
}


int
wishlist_clear(fv_req_t *r)
{
    char  uid[24];
    int   rc;

    if (wishlist_user(r, uid, sizeof(uid)) != 0) {
        return wishlist_no_user(r);
    }

    rc = wishlist_store_clear(r->worker, uid);
    if (rc != FV_OK) {
        return rc;
    }

    return fv_reply(r, 204, NULL, NULL);
}


/* One unit into the cart, through the cart service (which checks the product and the
 * line's bound, atomically), then out of the wishlist.  Nothing leaves the wishlist unless
 * the cart took it. */
int
wishlist_move(fv_req_t *r)
{
    char          uid[24];
    const char   *product_id = fv_req_path(r, "productId");
    json_object  *body, *reply, *v, *data = NULL, *item = NULL;
    const char   *code, *message;
    char          path[128];
    long          status = 0;
    int           rc;

    if (wishlist_user(r, uid, sizeof(uid)) != 0) {
        return wishlist_no_user(r);
    }

    if (!fv_product_id_ok(product_id)) {
        return fv_fail(r, 404, "NOT_FOUND", WISHLIST_MSG_NO_ITEM);
    }

    rc = wishlist_store_has(r->worker, uid, product_id);
    if (rc == WISHLIST_ABSENT) {
        return fv_fail(r, 404, "NOT_FOUND", WISHLIST_MSG_NO_ITEM);
    }

    if (rc != FV_OK) {
        return rc;
    }

    body = json_object_new_object();
    if (body == NULL) {
        return FV_ERROR;
    }

    json_object_object_add(body, "productId", json_object_new_string(product_id));
    json_object_object_add(body, "quantity", json_object_new_int(1));

    /* user_id is a decimal id (FV_USER), product_id [A-Z0-9_-]: nothing to escape. */
    (void) snprintf(path, sizeof(path), "/internal/cart/api/cart/internal/users/%s/items",
                    uid);

    reply = fv_http_json(r->worker, "POST", path, body, r->request_id, &status);
    json_object_put(body);

    if (status == 200) {
        if (json_object_object_get_ex(reply, "data", &v)
            && json_object_object_get_ex(v, "item", &item))
        {
            data = json_object_new_object();
            if (data != NULL) {
                json_object_object_add(data, "cartItem", json_object_get(item));
            }
        }

        json_object_put(reply);

        rc = wishlist_store_remove(r->worker, uid, product_id);
        if (rc != FV_OK && rc != WISHLIST_ABSENT) {
            json_object_put(data);
            return rc;
        }

        return fv_reply(r, 200, data, NULL);
    }

    code = NULL;
    message = NULL;
    if (json_object_object_get_ex(reply, "code", &v)) {
        code = json_object_get_string(v);
    }
    if (json_object_object_get_ex(reply, "message", &v)) {
        message = json_object_get_string(v);
    }

    if (status == 404) {
        rc = fv_fail(r, 404, "NOT_FOUND", WISHLIST_MSG_NO_PRODUCT);

    } else if (status == 400) {
        /* The cart's line is at its bound already. */
        rc = fv_fail(r, 409, "CART_LIMIT",
                     "El carrito ya tiene la cantidad máxima de este producto");

    } else if (status == 409 && code != NULL && message != NULL) {
        rc = fv_fail(r, 409, code, message);

    } else {
        fv_log_req(r, FV_LOG_WARN, "cart service unavailable moving %s (status %ld)",
                   product_id, status);
        rc = FV_STORE_DOWN;
    }

    json_object_put(reply);
    return rc;
}
