/* handlers.c: the cart's thin handlers: check what the route table cannot, ask the catalogue
 * and the store, answer. */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cart.h"


/* The caller's id as the store's keys spell it: the token's subject as a positive decimal
 * integer (anything else cannot name a cart, and is refused). */
static int
cart_user(fv_req_t *r, char *uid, size_t size)
{
    int64_t  id = fv_req_user_id(r);

    if (id <= 0) {
        return -1;
    }

    (void) snprintf(uid, size, "%lld", (long long) id);
    return 0;
}


static int
cart_no_user(fv_req_t *r)
{
    return fv_fail(r, 401, "UNAUTHORIZED", "Se requiere iniciar sesión");
}


static int
cart_line_reply(fv_req_t *r, const char *product_id, long long quantity)
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
    json_object_object_add(item, "quantity", json_object_new_int64(quantity));
    json_object_object_add(data, "item", item);

    return fv_reply(r, 200, data, NULL);
}


/* Adding to user_id's cart: the product must be in the catalogue now. */
static int
cart_add_to(fv_req_t *r, const char *user_id)
{
    fv_product_t  p;
    const char     *product_id;
    long long       total;
    long            quantity;
    int             rc;

    product_id = json_object_get_string(json_object_object_get(r->body, "productId"));
    quantity = (long) json_object_get_int64(json_object_object_get(r->body, "quantity"));

    if (!fv_product_id_ok(product_id)) {
        return fv_fail_field(r, "productId", CART_MSG_PRODUCT_ID);
    }

    rc = fv_product_get(r, product_id, &p);
    if (rc == FV_PRODUCT_ABSENT) {
        return fv_fail(r, 404, "NOT_FOUND", CART_MSG_NO_PRODUCT);
    }

    if (rc != FV_OK) {
        return rc;
    }

    rc = cart_store_add(r->worker, user_id, product_id, quantity, &total);

    switch (rc) {
    case FV_OK:
        return cart_line_reply(r, product_id, total);
    case CART_OVER_QUANTITY:
        return fv_fail_field(r, "quantity",
                             "Una línea del carrito no puede superar 100 unidades");
    case CART_FULL:
        return fv_fail(r, 409, "CART_FULL",
                       "El carrito ya tiene 50 productos distintos");
    default:
        return rc;
    }
}


int
cart_add(fv_req_t *r)
{
    char  uid[24];

    if (cart_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_user(r);
    }

    return cart_add_to(r, uid);
}


/* Other services name the user in the path: only through the internal listener, never for
 * an administrator on the public one (which answers these routes 404 anyway). */
static int
cart_service_user(fv_req_t *r, char *uid, size_t size)
{
    int64_t  id = fv_req_path_id(r, "userId");

    if (!fv_req_is_service(r) || id <= 0) {
        return -1;
    }

    (void) snprintf(uid, size, "%lld", (long long) id);
    return 0;
}


static int
cart_no_route(fv_req_t *r)
{
    return fv_fail(r, 404, "NOT_FOUND", "Recurso no encontrado");
}


/* The wishlist's move-to-cart. */
int
cart_add_for_user(fv_req_t *r)
{
    char  uid[24];

    if (cart_service_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_route(r);
    }

    return cart_add_to(r, uid);
}


/* The order service's view of a cart it is about to order: its lines as stored
 * ({productId, quantity}, by product id), without the catalogue, which the order reads
 * itself. */
int
cart_lines_for_user(fv_req_t *r)
{
    cart_line_t   lines[CART_LINES_MAX];
    json_object  *items, *item, *cart, *data;
    long long     count = 0;
    size_t        n, i;
    char          uid[24];
    int           rc;

    if (cart_service_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_route(r);
    }

    rc = cart_store_lines(r->worker, uid, lines, &n);
    if (rc != FV_OK) {
        return rc;
    }

    items = json_object_new_array();
    cart = json_object_new_object();
    data = json_object_new_object();
    if (items == NULL || cart == NULL || data == NULL) {
        json_object_put(items);
        json_object_put(cart);
        json_object_put(data);
        return FV_ERROR;
    }

    for (i = 0; i < n; i++) {
        item = json_object_new_object();
        if (item == NULL) {
            json_object_put(items);
            json_object_put(cart);
            json_object_put(data);
            return FV_ERROR;
        }

        json_object_object_add(item, "productId", json_object_new_string(lines[i].product_id));
        json_object_object_add(item, "quantity", json_object_new_int64(lines[i].quantity));
        json_object_array_add(items, item);
        count += lines[i].quantity;
    }

    json_object_object_add(cart, "items", items);
    json_object_object_add(cart, "count", json_object_new_int64(count));
    json_object_object_add(data, "cart", cart);

    return fv_reply(r, 200, data, NULL);
}


/* The order service empties a cart it ordered. */
int
cart_clear_for_user(fv_req_t *r)
{
    char  uid[24];
    int   rc;

    if (cart_service_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_route(r);
    }

    rc = cart_store_clear(r->worker, uid);
    if (rc != FV_OK) {
        return rc;
    }

    return fv_reply(r, 204, NULL, NULL);
}


int
cart_set(fv_req_t *r)
{
    char         uid[24];
    const char  *product_id = fv_req_path(r, "productId");
    long         quantity;
    int          rc;

    if (cart_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_user(r);
    }

    quantity = (long) json_object_get_int64(json_object_object_get(r->body, "quantity"));

    if (!fv_product_id_ok(product_id)) {
        return fv_fail(r, 404, "NOT_FOUND", CART_MSG_NO_LINE);
    }

    rc = cart_store_set(r->worker, uid, product_id, quantity);
    if (rc == CART_ABSENT) {
        return fv_fail(r, 404, "NOT_FOUND", CART_MSG_NO_LINE);
    }

    if (rc != FV_OK) {
        return rc;
    }

    return cart_line_reply(r, product_id, quantity);
}


int
cart_remove(fv_req_t *r)
{
    char         uid[24];
    const char  *product_id = fv_req_path(r, "productId");
    int          rc;

    if (cart_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_user(r);
    }

    if (!fv_product_id_ok(product_id)) {
        return fv_fail(r, 404, "NOT_FOUND", CART_MSG_NO_LINE);
    }

    rc = cart_store_set(r->worker, uid, product_id, 0);
    if (rc == CART_ABSENT) {
        return fv_fail(r, 404, "NOT_FOUND", CART_MSG_NO_LINE);
    }

    if (rc != FV_OK) {
        return rc;
    }

    return fv_reply(r, 204, NULL, NULL);
}


int
cart_clear(fv_req_t *r)
{
    char  uid[24];
    int   rc;

    if (cart_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_user(r);
    }

    rc = cart_store_clear(r->worker, uid);
    if (rc != FV_OK) {
        return rc;
    }

    return fv_reply(r, 204, NULL, NULL);
}


/* The cart as the catalogue prices it now: a product withdrawn since has no name nor price,
 * counts for nothing and is not available; a product with less stock than the line asks
 * is not available either.  total adds the available lines; count is every unit in the cart. */
int
cart_get(fv_req_t *r)
{
    char            uid[24];
    cart_line_t     lines[CART_LINES_MAX];
    fv_product_t  p;
    json_object    *items, *item, *cart, *data;
    long long       total = 0, count = 0, line_total;
    size_t          n, i;
    int             rc, available;

    if (cart_user(r, uid, sizeof(uid)) != 0) {
        return cart_no_user(r);
    }

    rc = cart_store_lines(r->worker, uid, lines, &n);
    if (rc != FV_OK) {
        return rc;
    }

    items = json_object_new_array();
    if (items == NULL) {
        return FV_ERROR;
    }

    for (i = 0; i < n; i++) {
        rc = fv_product_get(r, lines[i].product_id, &p);
        if (rc != FV_OK && rc != FV_PRODUCT_ABSENT) {
            json_object_put(items);
            return rc;
        }

        item = json_object_new_object();
        if (item == NULL) {
            json_object_put(items);
            return FV_ERROR;
        }

        json_object_object_add(item, "productId", json_object_new_string(lines[i].product_id));

        if (rc == FV_OK) {
            line_total = p.price * lines[i].quantity;
            available = p.stock < 0 || p.stock >= lines[i].quantity;
            json_object_object_add(item, "name", json_object_new_string(p.name));
            json_object_object_add(item, "price", json_object_new_int64(p.price));
        } else {
            line_total = 0;
            available = 0;
            json_object_object_add(item, "name", NULL);
            json_object_object_add(item, "price", NULL);
        }

        json_object_object_add(item, "quantity", json_object_new_int64(lines[i].quantity));
        json_object_object_add(item, "lineTotal", json_object_new_int64(line_total));
        json_object_object_add(item, "available", json_object_new_boolean(available));
        json_object_array_add(items, item);

        count += lines[i].quantity;
        if (available) {
            total += line_total;
        }
    }

    cart = json_object_new_object();
    data = json_object_new_object();
    if (cart == NULL || data == NULL) {
        json_object_put(items);
        json_object_put(cart);
        json_object_put(data);
        return FV_ERROR;
    }

    json_object_object_add(cart, "items", items);
    json_object_object_add(cart, "total", json_object_new_int64(total));
    json_object_object_add(cart, "count", json_object_new_int64(count));
    json_object_object_add(data, "cart", cart);

    return fv_reply(r, 200, data, NULL);
}
