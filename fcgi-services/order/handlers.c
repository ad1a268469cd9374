/* handlers.c: the order endpoints.  The route table has already checked the caller and the
 * body; a handler reads its fields, calls the product service and the store, and answers.
 *
 * Stock: synchronous reservation with compensation.  The catalogue owns stock, and its
 * PATCH /api/products/:id/stock {delta} is atomic and never goes below zero, so the order
 * service needs no lock of its own and no saga state machine; the customer learns at once
 * whether the order holds.  Creating an order:
 *   1. validate; merge duplicate lines; sort them by productId (every order takes stock in
 *      the same order);
 *   2. Idempotency-Key: claim (user, key) in its own transaction; a request that finds the
 *      key claimed waits for the first one's stored answer and repeats it;
 *   3. read each product (name, price, active) from the product service: prices never come
 *      from the client; compute subtotal, shipping and total;
 *   4. insert the order, stage "reserving", with its number (committed: a crash from here on
 *      leaves a row that says which lines were taken);
 *   5. for each line, PATCH stock {delta: -quantity}; record each success in the row;
 *   6. all taken: one transaction makes the order pending/held and writes order.created to
 *      the outbox (the relay publishes it, broker down or not) → 201;
 *      a line refused (409/400: not enough stock): give back every line taken
 *      ({delta: +quantity}), the order ends cancelled with reason OUT_OF_STOCK → 409
 *      OUT_OF_STOCK with data.order;
 *      product service or database unreachable: give back every line taken, remove the
 *      row → 503.
 * Cancelling (the owner while pending or confirmed, an administrator while not final) moves
 * the order to cancelled with its event in one transaction (stage releasing), then gives
 * the stock back and marks it released.  After a crash, POST /api/orders/reconcile gives back
 * what rows left reserving or releasing record (order_reconcile()).  What it cannot know: a
 * unit the product service took while this process died waiting for its answer; making
 * that recoverable needs stock changes the product service can recognise when repeated. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fv_catalog.h"
#include "fv_http.h"
#include "order.h"
#include "store.h"


#define ORDER_MSG_NOT_FOUND      "Pedido no encontrado"
#define ORDER_MSG_DOWN           "El servicio no está disponible; inténtalo de nuevo en unos momentos"
#define ORDER_MSG_INVALID        "El pedido no puede pasar a ese estado desde el actual"

/* The cart service's internal route for a user's cart (GET reads it, DELETE empties it),
 * followed by the user id. */
#define ORDER_CART_PATH          "/internal/cart/api/cart/internal/users/"

/* The user service's internal route for one of a user's saved addresses:
 * ORDER_ADDRESS_PATH <userId> /addresses/ <id>, answering data.address. */
#define ORDER_ADDRESS_PATH       "/internal/user/api/users/internal/"

/* order_product(): the product is unknown or withdrawn. */
#define ORDER_PRODUCT_ABSENT     10

/* Outcomes of reserving. */
#define ORDER_RESERVE_SHORT      11


typedef struct {
    int           status;     /* HTTP status of the answer */
    char         *body;       /* its JSON text */
} order_answer_t;


static int order_key_ok(const char *key);
static int order_check(fv_req_t *r, json_object **lines);
static int order_cart(fv_req_t *r, json_object **lines);
static void order_cart_empty(fv_req_t *r);
static int order_product(fv_req_t *r, const char *id, json_object **product);
static int order_stock(fv_req_t *r, const char *id, int64_t delta);
static int order_release(fv_req_t *r, json_object *lines, size_t n);
static int order_address(fv_req_t *r, int64_t address_id, char **text);
static int order_make(fv_req_t *r, json_object *lines, order_answer_t *a);
static int order_wait(fv_req_t *r, int64_t user_id, const char *key, const char *fp);
static char *order_envelope(fv_req_t *r, int status, json_object *order);
static int order_data(fv_req_t *r, int status, json_object *order, const char *message);
static int order_list(fv_req_t *r, order_scope_e scope, const char *status);
static int order_move(fv_req_t *r, order_scope_e scope, const char *status);
static order_scope_e order_reach(fv_req_t *r);
static int order_unavailable(fv_req_t *r);


int
order_create(fv_req_t *r)
{
    order_answer_t   a = { 0, NULL };
    json_object     *lines;
    const char      *key;
    char             fp[65];
    const char      *body;
    int64_t          user_id;
    int              rc, claimed, from_cart;

    lines = NULL;
    key = NULL;
    claimed = 0;

    user_id = fv_req_user_id(r);
    if (user_id <= 0) {
        rc = fv_fail(r, 401, "UNAUTHORIZED", "Se requiere iniciar sesión");
        goto out;
    }

    key = fv_req_header(r, "Idempotency-Key");
    if (key != NULL && !order_key_ok(key)) {
        rc = fv_fail_field(r, "Idempotency-Key",
                           "debe tener de 1 a 64 caracteres A-Z, a-z, 0-9, '.', '_' o '-'");
        goto out;
    }

    rc = order_check(r, &lines);
    if (rc != FV_OK || lines == NULL) {
        goto out;
    }

    from_cart = json_object_array_length(lines) == 0;

    if (key != NULL) {
        body = json_object_to_json_string_ext(r->body, JSON_C_TO_STRING_PLAIN);
        fv_sha256_hex(body, strlen(body), fp);

        if ((rc = order_store_key_claim(r->worker, user_id, key, fp, &claimed)) != FV_OK) {
            goto out;
        }

        if (!claimed) {
            rc = order_wait(r, user_id, key, fp);
            goto out;
        }
    }

    if (from_cart) {
        json_object_put(lines);
        rc = order_cart(r, &lines);
        if (rc == FV_STORE_DOWN) {
            rc = order_unavailable(r);
        }
        if (rc != FV_OK || lines == NULL) {
            goto out;
        }
    }

    rc = order_make(r, lines, &a);
    if (rc != FV_OK) {
        goto out;
    }

    if (from_cart && a.status == 201) {
        order_cart_empty(r);
    }

    if (a.body == NULL) {
        /* Answered already (a client error that created nothing): the key is free again. */
        goto out;
    }

    if (claimed && order_store_key_save(r->worker, user_id, key, a.status, a.body) != FV_OK) {
        /* The order exists: the key stays claimed without an answer, so that a retry waits
         * and is told to try later rather than making a second order. */
        fv_log_req(r, FV_LOG_ERROR, "the answer to an Idempotency-Key could not be stored");
    }

    claimed = 0;

    rc = fv_reply_raw(r, a.status, "application/json", a.body, strlen(a.body));

out:

    if (claimed) {
        (void) order_store_key_drop(r->worker, user_id, key);
    }

    free(a.body);
    json_object_put(lines);
    return rc;
}


/* A second request with a claimed key: the first one's answer, once it is stored. */

static int
order_wait(fv_req_t *r, int64_t user_id, const char *key, const char *fp)
{
    struct timespec  pause = { 0, 50 * 1000 * 1000 };
    char            *body;
    int              rc, same, status;
    long             waited;

    for (waited = 0; waited < ORDER_KEY_WAIT_MS; waited += 50) {
        rc = order_store_key_answer(r->worker, user_id, key, fp, &same, &status, &body);

        if (rc == FV_OK || rc == ORDER_STORE_BUSY) {
            if (!same) {
                free(body);
                return fv_fail(r, 422, "IDEMPOTENCY_KEY_REUSED",
                               "Esa Idempotency-Key ya se usó con otro pedido");
            }
        }

        if (rc == FV_OK) {
            rc = fv_reply_raw(r, status, "application/json", body, strlen(body));
            free(body);
            return rc;
        }

        if (rc == ORDER_STORE_NOT_FOUND) {
            /* The first request gave the key up (it failed): try to be the first. */
            return fv_fail(r, 409, "IDEMPOTENCY_RETRY",
                           "La solicitud anterior con esa clave falló; vuelve a intentarlo");
        }

        if (rc != ORDER_STORE_BUSY) {
            return rc;
        }

        (void) nanosleep(&pause, NULL);
    }

    fv_reply_header(r, "Retry-After", "2");
    return fv_fail(r, 409, "IDEMPOTENCY_IN_PROGRESS",
                   "Una solicitud con esa Idempotency-Key aún se está procesando");
}


/*
 * What the route table cannot check: product ids, one address, the delivery date's range,
 * merged quantities.  *lines receives the merged lines sorted by productId, or stays NULL
 * when a 400 was sent.
 */

static int
compare_lines(const void *a, const void *b)
{
    json_object  *x = *(json_object *const *) a, *y = *(json_object *const *) b, *px, *py;

    (void) json_object_object_get_ex(x, "productId", &px);
    (void) json_object_object_get_ex(y, "productId", &py);
    return strcmp(json_object_get_string(px), json_object_get_string(py));
}


static int
order_check(fv_req_t *r, json_object **lines)
{
    fv_errors_t   *e;
    json_object   *items, *item, *pid, *qty, *addr, *aid, *date, *merged, *line, *v;
    char           field[64];
    const char    *id;
    size_t         i, j, n, m;
    long           days;
    int64_t        q;
    int            rc;

    *lines = NULL;
    e = fv_errors_new();
    if (e == NULL) {
        return FV_ERROR;
    }

    merged = json_object_new_array();

    if (json_object_object_get_ex(r->body, "items", &items) && items != NULL) {
        n = json_object_array_length(items);

        for (i = 0; i < n; i++) {
            item = json_object_array_get_idx(items, i);
            (void) json_object_object_get_ex(item, "productId", &pid);
            (void) json_object_object_get_ex(item, "quantity", &qty);
            id = json_object_get_string(pid);

            if (!fv_product_id_ok(id)) {
                (void) snprintf(field, sizeof(field), "items[%zu].productId", i);
                fv_errors_add(e, field, "debe ser un código de producto (A-Z, 0-9, _ o -, hasta 32)");
                continue;
            }

            q = json_object_get_int64(qty);
            m = json_object_array_length(merged);

            for (j = 0; j < m; j++) {
                line = json_object_array_get_idx(merged, j);
                (void) json_object_object_get_ex(line, "productId", &v);
                if (strcmp(json_object_get_string(v), id) == 0) {
                    break;
                }
            }

            if (j == m) {
                line = json_object_new_object();
                json_object_object_add(line, "productId", json_object_new_string(id));
                json_object_object_add(line, "quantity", json_object_new_int64(q));
                (void) json_object_array_add(merged, line);
                continue;
            }

            (void) json_object_object_get_ex(line, "quantity", &v);
            q += json_object_get_int64(v);
            if (q > ORDER_QUANTITY_MAX) {
                (void) snprintf(field, sizeof(field), "items[%zu].quantity", i);
                fv_errors_add(e, field, "la cantidad total de un producto no puede superar 100");
                continue;
            }
            json_object_object_add(line, "quantity", json_object_new_int64(q));
        }

    }

    addr = NULL;
    aid = NULL;
    (void) json_object_object_get_ex(r->body, "shippingAddress", &addr);
    (void) json_object_object_get_ex(r->body, "addressId", &aid);

    if ((addr == NULL) == (aid == NULL)) {
        fv_errors_add(e, "shippingAddress",
                      "indica addressId (una dirección guardada) o shippingAddress, una de las dos");
    }

    if (json_object_object_get_ex(r->body, "deliveryDate", &date) && date != NULL) {
        rc = order_store_days_until(r->worker, json_object_get_string(date), &days);
        if (rc != FV_OK) {
            fv_errors_free(e);
            json_object_put(merged);
            return rc;
        }

        if (days < 0 || days > ORDER_DELIVERY_DAYS) {
            fv_errors_add(e, "deliveryDate",
                          "debe estar entre hoy y 90 días más (hora de Chile)");
        }
    }

    if (fv_errors_count(e) > 0) {
        json_object_put(merged);
        return fv_fail_errors(r, e);
    }

    fv_errors_free(e);

    json_object_array_sort(merged, compare_lines);

    *lines = merged;
    return FV_OK;
}


/*
 * Without items, the caller's cart is ordered: its lines (productId, quantity) from the cart
 * service's internal route; names and prices are read from the catalogue afterwards like any
 * other order's.  *lines stays NULL when a 400 was sent (an empty cart, too many lines).
 */

static int
order_cart(fv_req_t *r, json_object **lines)
{
    json_object  *reply, *data, *cart, *items, *item, *pid, *qty, *line;
    char          path[128];
    long          status;
    size_t        i, n;
    int           rc;

    *lines = NULL;
    status = 0;

    (void) snprintf(path, sizeof(path), ORDER_CART_PATH "%" PRId64, fv_req_user_id(r));
    reply = fv_http_json(r->worker, "GET", path, NULL, r->request_id, &status);

    if (status != 200 || !json_object_object_get_ex(reply, "data", &data)
        || !json_object_object_get_ex(data, "cart", &cart)
        || !json_object_object_get_ex(cart, "items", &items)
        || !json_object_is_type(items, json_type_array))
    {
        fv_log_req(r, FV_LOG_WARN, "the cart could not be read (status %ld)", status);
        json_object_put(reply);
        return FV_STORE_DOWN;
    }

    n = json_object_array_length(items);
    if (n == 0 || n > ORDER_LINES_MAX) {
        json_object_put(reply);
        return fv_fail_field(r, "items", n == 0
            ? "tu carrito está vacío: agrega productos o indica items"
            : "el carrito tiene más de 50 productos distintos");
    }

    *lines = json_object_new_array();

    for (i = 0; i < n; i++) {
        item = json_object_array_get_idx(items, i);
        if (!json_object_object_get_ex(item, "productId", &pid)
            || !fv_product_id_ok(json_object_get_string(pid))
            || !json_object_object_get_ex(item, "quantity", &qty)
            || json_object_get_int64(qty) < 1
            || json_object_get_int64(qty) > ORDER_QUANTITY_MAX)
        {
            fv_log_req(r, FV_LOG_WARN, "the cart service answered a line without a usable "
                       "productId or quantity");
            json_object_put(*lines);
            *lines = NULL;
            json_object_put(reply);
            return FV_STORE_DOWN;
        }

        line = json_object_new_object();
        json_object_object_add(line, "productId", json_object_get(pid));
        json_object_object_add(line, "quantity", json_object_new_int64(json_object_get_int64(qty)));
        (void) json_object_array_add(*lines, line);
    }

    json_object_array_sort(*lines, compare_lines);

    rc = FV_OK;
    json_object_put(reply);
    return rc;
}


/* The cart, ordered: emptied.  A failure leaves it as it was (logged): the order stands. */

static void
order_cart_empty(fv_req_t *r)
{
    json_object  *reply;
    char          path[128];
    long          status;

    status = 0;
    (void) snprintf(path, sizeof(path), ORDER_CART_PATH "%" PRId64, fv_req_user_id(r));
    reply = fv_http_json(r->worker, "DELETE", path, NULL, r->request_id, &status);
    json_object_put(reply);

    if (status < 200 || status > 299) {
        fv_log_req(r, FV_LOG_WARN, "the ordered cart could not be emptied (status %ld)", status);
    }
}


/*
 * Reads the products, reserves their stock and settles the order (see the top of the
 * file).  On FV_OK, a->body holds the answer to send and keep for the key, or is NULL when
 * a client error was sent already.
 */

static int
order_make(fv_req_t *r, json_object *lines, order_answer_t *a)
{
    order_new_t    o;
    json_object   *items, *line, *item, *product, *v, *order;
    const char    *pid;
    char          *address;
    char           msg[160];
    size_t         i, n, taken;
    int64_t        id, q, price, subtotal;
    int            rc, src;

    items = json_object_new_array();
    address = NULL;
    order = NULL;
    taken = 0;
    id = 0;
    subtotal = 0;
    n = json_object_array_length(lines);

    /* 3. names and prices from the catalogue */
    for (i = 0; i < n; i++) {
        line = json_object_array_get_idx(lines, i);
        (void) json_object_object_get_ex(line, "productId", &v);
        pid = json_object_get_string(v);
        (void) json_object_object_get_ex(line, "quantity", &v);
        q = json_object_get_int64(v);

        rc = order_product(r, pid, &product);
        if (rc == ORDER_PRODUCT_ABSENT) {
            (void) snprintf(msg, sizeof(msg), "El producto %s no existe o ya no está a la venta", pid);
            rc = fv_fail(r, 404, "PRODUCT_NOT_FOUND", msg);
            goto out;
        }

        if (rc != FV_OK) {
            goto out;
        }

        (void) json_object_object_get_ex(product, "price", &v);
        price = json_object_get_int64(v);

        item = json_object_new_object();
        json_object_object_add(item, "productId", json_object_new_string(pid));
        (void) json_object_object_get_ex(product, "name", &v);
        json_object_object_add(item, "name", json_object_new_string(json_object_get_string(v)));
        json_object_object_add(item, "price", json_object_new_int64(price));
        json_object_object_add(item, "quantity", json_object_new_int64(q));
        json_object_object_add(item, "lineTotal", json_object_new_int64(price * q));
        (void) json_object_array_add(items, item);
        subtotal += price * q;
        json_object_put(product);
    }

    memset(&o, 0, sizeof(o));
    o.user_id = fv_req_user_id(r);
    o.email = r->user_email;
    o.items = json_object_to_json_string_ext(items, JSON_C_TO_STRING_PLAIN);
    o.subtotal = subtotal;
    o.shipping = subtotal >= ORDER_FREE_FROM ? 0 : ORDER_SHIPPING_FEE;
    o.total = o.subtotal + o.shipping;

    if (json_object_object_get_ex(r->body, "addressId", &v) && v != NULL) {
        o.address_id = json_object_get_int64(v);
        rc = order_address(r, o.address_id, &address);
        if (rc != FV_OK || address == NULL) {
            goto out;
        }
        o.address = address;
    } else {
        (void) json_object_object_get_ex(r->body, "shippingAddress", &v);
        o.address = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
    }

    o.delivery_date = json_object_object_get_ex(r->body, "deliveryDate", &v) && v != NULL
                      ? json_object_get_string(v) : NULL;
    (void) json_object_object_get_ex(r->body, "paymentMethod", &v);
    o.payment_method = json_object_get_string(v);
    o.notes = json_object_object_get_ex(r->body, "notes", &v) && v != NULL
              ? json_object_get_string(v) : NULL;

    /* 4. the row, before any stock is taken */
    if ((rc = order_store_insert(r->worker, &o, &id)) != FV_OK) {
        id = 0;
        goto out;
    }

    /* 5. stock, line by line in productId order */
    src = FV_OK;
    for (i = 0; i < n; i++) {
        line = json_object_array_get_idx(lines, i);
        (void) json_object_object_get_ex(line, "productId", &v);
        pid = json_object_get_string(v);
        (void) json_object_object_get_ex(line, "quantity", &v);
        q = json_object_get_int64(v);

        src = order_stock(r, pid, -q);
        if (src != FV_OK) {
            break;
        }

        taken++;
        src = order_store_reserved(r->worker, id,
                                   json_object_to_json_string_ext(line, JSON_C_TO_STRING_PLAIN));
        if (src != FV_OK) {
            break;
        }
    }

    /* 6. settle */
    if (src == FV_OK) {
        rc = order_store_settle(r->worker, id, 1, NULL, &order);
        if (rc == FV_OK) {
            a->status = 201;
            a->body = order_envelope(r, 201, order);
            rc = a->body != NULL ? FV_OK : FV_ERROR;
            id = 0;
            goto out;
        }
        src = rc;
    }

    if (order_release(r, lines, taken) != FV_OK) {
        /* Stock stays taken: the row (stage reserving, reserved lines) says what. */
        fv_log_req(r, FV_LOG_ERROR, "order %" PRId64 ": stock taken could not all be given "
                   "back; the order's reserved lines say what to reconcile", id);
        id = 0;
        rc = (src == ORDER_RESERVE_SHORT) ? FV_STORE_DOWN : src;
        goto out;
    }

    if (src == ORDER_RESERVE_SHORT) {
        rc = order_store_settle(r->worker, id, 0, "OUT_OF_STOCK", &order);
        if (rc == FV_OK) {
            a->status = 409;
            a->body = order_envelope(r, 409, order);
            rc = a->body != NULL ? FV_OK : FV_ERROR;
            id = 0;
        }
        goto out;
    }

    rc = src;

out:

    if (id > 0 && order_store_discard(r->worker, id) != FV_OK) {
        fv_log_req(r, FV_LOG_WARN, "order %" PRId64 " left unfinished (nothing reserved)", id);
    }

    if (rc == FV_STORE_DOWN) {
        rc = order_unavailable(r);
    }

    json_object_put(order);
    json_object_put(items);
    free(address);
    return rc;
}


/* The answer to keep and send: a success envelope, or OUT_OF_STOCK with the order. */

static char *
order_envelope(fv_req_t *r, int status, json_object *order)
{
    json_object  *root, *data;
    char         *text;

    root = json_object_new_object();
    data = json_object_new_object();
    json_object_object_add(data, "order", json_object_get(order));

    if (status < 400) {
        json_object_object_add(root, "status", json_object_new_string("success"));
        json_object_object_add(root, "data", data);
        json_object_object_add(root, "message", json_object_new_string("Pedido creado"));
    } else {
        json_object_object_add(root, "status", json_object_new_string("fail"));
        json_object_object_add(root, "code", json_object_new_string("OUT_OF_STOCK"));
        json_object_object_add(root, "message", json_object_new_string(
            "No hay stock suficiente para todos los productos; el pedido quedó cancelado"));
        json_object_object_add(root, "data", data);
        json_object_object_add(root, "requestId", json_object_new_string(r->request_id));
    }

    text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return text;
}


/* The product's public view: FV_OK with *product (name, price), ORDER_PRODUCT_ABSENT,
 * FV_STORE_DOWN. */

static int
order_product(fv_req_t *r, const char *id, json_object **product)
{
    json_object  *reply, *data, *p, *v;
    char          path[96];
    long          status;
    int           rc;

    *product = NULL;
    status = 0;

    /* id is [A-Z0-9_-]: nothing in it needs escaping in a path. */
    (void) snprintf(path, sizeof(path), "/internal/product/api/products/%s", id);
    reply = fv_http_json(r->worker, "GET", path, NULL, r->request_id, &status);

    if (status == 0 || status >= 500) {
        fv_log_req(r, FV_LOG_WARN, "product service unavailable reading %s (status %ld)",
                   id, status);
        rc = FV_STORE_DOWN;

    } else if (status == 200
               && json_object_object_get_ex(reply, "data", &data)
               && json_object_object_get_ex(data, "product", &p)
               && json_object_is_type(p, json_type_object)
               && json_object_object_get_ex(p, "price", &v)
               && json_object_is_type(v, json_type_int)
               && json_object_object_get_ex(p, "name", &v)
               && json_object_is_type(v, json_type_string)
               && (!json_object_object_get_ex(p, "active", &v) || json_object_get_boolean(v)))
    {
        *product = json_object_get(p);
        rc = FV_OK;

    } else if (status == 200 || status == 404 || status == 410 || status == 400) {
        rc = ORDER_PRODUCT_ABSENT;

    } else {
        fv_log_req(r, FV_LOG_WARN, "product service refused reading %s (status %ld)", id, status);
        rc = FV_STORE_DOWN;
    }

    json_object_put(reply);
    return rc;
}


/* Changes a product's stock by delta: FV_OK, ORDER_RESERVE_SHORT (not enough, or the
 * product is gone), FV_STORE_DOWN. */

static int
order_stock(fv_req_t *r, const char *id, int64_t delta)
{
    json_object  *body, *reply;
    char          path[128];
    long          status;
    int           rc;

    status = 0;
    (void) snprintf(path, sizeof(path), "/internal/product/api/products/%s/stock", id);

    body = json_object_new_object();
    json_object_object_add(body, "delta", json_object_new_int64(delta));
    reply = fv_http_json(r->worker, "PATCH", path, body, r->request_id, &status);
    json_object_put(body);
    json_object_put(reply);

    if (status == 200) {
        rc = FV_OK;
    } else if (delta < 0 && (status == 409 || status == 400 || status == 404)) {
        rc = ORDER_RESERVE_SHORT;
    } else {
        fv_log_req(r, FV_LOG_WARN, "stock change %+" PRId64 " of %s failed (status %ld)",
                   delta, id, status);
        rc = FV_STORE_DOWN;
    }

    return rc;
}


/* Gives back the first n lines. */

static int
order_release(fv_req_t *r, json_object *lines, size_t n)
{
    json_object  *line, *v;
    const char   *pid;
    size_t        i;
    int           rc;

    rc = FV_OK;

    for (i = 0; i < n; i++) {
        line = json_object_array_get_idx(lines, i);
        (void) json_object_object_get_ex(line, "productId", &v);
        pid = json_object_get_string(v);
        (void) json_object_object_get_ex(line, "quantity", &v);

        if (order_stock(r, pid, json_object_get_int64(v)) != FV_OK) {
            rc = FV_STORE_DOWN;
        }
    }

    return rc;
}


/* A saved address of the caller's, from the user service: *text its JSON, or NULL when a
 * 404 was sent. */

static int
order_address(fv_req_t *r, int64_t address_id, char **text)
{
    json_object  *reply, *data, *addr, *copy, *v;
    char          path[128];
    long          status;
    int           rc;
    static const char *const  keep[] = {
        "recipient", "street", "city", "region", "postalCode", "phone", NULL
    };
    size_t        i;

    *text = NULL;
    status = 0;

    (void) snprintf(path, sizeof(path), ORDER_ADDRESS_PATH "%" PRId64 "/addresses/%" PRId64,
                    fv_req_user_id(r), address_id);
    reply = fv_http_json(r->worker, "GET", path, NULL, r->request_id, &status);

    if (status == 200 && json_object_object_get_ex(reply, "data", &data)
        && json_object_object_get_ex(data, "address", &addr)
        && json_object_is_type(addr, json_type_object))
    {
        copy = json_object_new_object();
        for (i = 0; keep[i] != NULL; i++) {
            if (json_object_object_get_ex(addr, keep[i], &v)) {
                json_object_object_add(copy, keep[i], json_object_get(v));
            }
        }
        *text = strdup(json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN));
        json_object_put(copy);
        rc = *text != NULL ? FV_OK : FV_ERROR;

    } else if (status == 404 && json_object_object_get_ex(reply, "code", &v)
               && strcmp(json_object_get_string(v), "NOT_FOUND") == 0)
    {
        rc = fv_fail(r, 404, "ADDRESS_NOT_FOUND", "Dirección no encontrada");

    } else {
        fv_log_req(r, FV_LOG_WARN, "user service unavailable reading address %" PRId64
                   " (status %ld)", address_id, status);
        rc = FV_STORE_DOWN;
    }

    json_object_put(reply);
    return rc;
}


static int
order_unavailable(fv_req_t *r)
{
    fv_reply_header(r, "Retry-After", "5");
    return fv_error(r, 503, "SERVICE_UNAVAILABLE", ORDER_MSG_DOWN);
}


/* An administrator reaches every order, anyone else their own (FV_USER routes: the
 * principal is a customer or an admin with a positive id). */
static order_scope_e
order_reach(fv_req_t *r)
{
    return r->principal.kind == FV_PRINCIPAL_ADMIN ? ORDER_ANY_OWNER : ORDER_OWNER;
}


/* Everyone's own list, an administrator's too. */
int
order_list_mine(fv_req_t *r)
{
    return order_list(r, ORDER_OWNER, NULL);
}


int
order_list_all(fv_req_t *r)
{
    json_object  *v;
    const char   *status;

    status = json_object_object_get_ex(r->args, "status", &v) && v != NULL
             ? json_object_get_string(v) : NULL;

    return order_list(r, ORDER_ANY_OWNER, status);
}


static int
order_list(fv_req_t *r, order_scope_e scope, const char *status)
{
    json_object  *orders, *data, *pagination;
    long          page, limit, total;
    int           rc;

    orders = NULL;

    if (fv_req_page(r, &page, &limit) != 0) {
        return FV_OK;
    }

    rc = order_store_list(r->worker, scope, fv_req_user_id(r), status, page, limit, &orders,
        &total);
    if (rc != FV_OK) {
        json_object_put(orders);
        return rc;
    }

    pagination = json_object_new_object();
    json_object_object_add(pagination, "page", json_object_new_int64(page));
    json_object_object_add(pagination, "limit", json_object_new_int64(limit));
    json_object_object_add(pagination, "total", json_object_new_int64(total));
    json_object_object_add(pagination, "pages", json_object_new_int64((total + limit - 1) / limit));

    data = json_object_new_object();
    json_object_object_add(data, "orders", orders);
    json_object_object_add(data, "pagination", pagination);

    fv_reply_header(r, "Cache-Control", "private, no-store");
    return fv_reply(r, 200, data, NULL);
}


int
order_get(fv_req_t *r)
{
    json_object  *order;
    int64_t       id;
    int           rc;

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        return fv_fail(r, 404, "NOT_FOUND", ORDER_MSG_NOT_FOUND);
    }

    /* Another customer's order is "not found", never "forbidden". */
    rc = order_store_get(r->worker, id, order_reach(r), fv_req_user_id(r), &order);
    if (rc == ORDER_STORE_NOT_FOUND) {
        return fv_fail(r, 404, "NOT_FOUND", ORDER_MSG_NOT_FOUND);
    }

    if (rc != FV_OK) {
        return rc;
    }

    fv_reply_header(r, "Cache-Control", "private, no-store");
    return order_data(r, 200, order, NULL);
}


int
order_cancel(fv_req_t *r)
{
    return order_move(r, order_reach(r), "cancelled");
}


int
order_set_status(fv_req_t *r)
{
    json_object  *v;

    (void) json_object_object_get_ex(r->body, "status", &v);
    return order_move(r, ORDER_ANY_OWNER, json_object_get_string(v));
}


static int
order_move(fv_req_t *r, order_scope_e scope, const char *status)
{
    json_object  *order, *release;
    int64_t       id;
    int           rc;

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        return fv_fail(r, 404, "NOT_FOUND", ORDER_MSG_NOT_FOUND);
    }

    rc = order_store_transition(r->worker, id, scope, fv_req_user_id(r), status, &order,
        &release);
    if (rc == ORDER_STORE_NOT_FOUND) {
        return fv_fail(r, 404, "NOT_FOUND", ORDER_MSG_NOT_FOUND);
    }

    if (rc == ORDER_STORE_INVALID) {
        return fv_fail(r, 409, "INVALID_TRANSITION", ORDER_MSG_INVALID);
    }

    if (rc != FV_OK) {
        return rc;
    }

    if (release != NULL) {
        if (order_release(r, release, json_object_array_length(release)) == FV_OK) {
            (void) order_store_released(r->worker, id);
        } else {
            fv_log_req(r, FV_LOG_ERROR, "order %" PRId64 " cancelled but its stock could not "
                       "all be given back (stage releasing)", id);
        }
        json_object_put(release);
    }

    return order_data(r, 200, order, strcmp(status, "cancelled") == 0
                      ? "Pedido cancelado" : "Estado actualizado");
}


static int
order_data(fv_req_t *r, int status, json_object *order, const char *message)
{
    json_object  *data;

    data = json_object_new_object();
    json_object_object_add(data, "order", order);

    return fv_reply(r, status, data, message);
}


static int
order_key_ok(const char *key)
{
    size_t  n;

    n = strspn(key, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");
    return n > 0 && n <= ORDER_KEY_MAX && key[n] == '\0';
}


/*
 * After a crash: orders left with stock taken but not held (stage reserving: the process
 * died while reserving; releasing: a cancellation could not give everything back) and
 * unchanged for olderThan seconds (default 600, longer than any request takes) give back the
 * lines their row records and end released.  A line the product service took but whose
 * record the crash prevented cannot be known here.
 */

int
order_reconcile(fv_req_t *r)
{
    json_object  *v, *lines, *data;
    int64_t       ids[ORDER_RECONCILE_MAX];
    size_t        i, n, released, failed;
    long          older_than;
    int           rc;

    older_than = json_object_object_get_ex(r->args, "olderThan", &v) && v != NULL
                 ? (long) json_object_get_int64(v) : ORDER_RECONCILE_AGE;

    rc = order_store_stale(r->worker, older_than, ids, ORDER_RECONCILE_MAX, &n);
    if (rc != FV_OK) {
        return rc;
    }

    released = 0;
    failed = 0;

    for (i = 0; i < n; i++) {
        rc = order_store_claim_stale(r->worker, ids[i], older_than, &lines);
        if (rc == ORDER_STORE_NOT_FOUND) {
            continue;
        }

        if (rc != FV_OK) {
            return rc;
        }

        if (order_release(r, lines, json_object_array_length(lines)) == FV_OK
            && order_store_released(r->worker, ids[i]) == FV_OK)
        {
            released++;
            fv_log_req(r, FV_LOG_INFO, "order %" PRId64 ": its recorded stock given back",
                       ids[i]);
        } else {
            failed++;
            fv_log_req(r, FV_LOG_ERROR, "order %" PRId64 ": its stock could not all be given "
                       "back (stage releasing)", ids[i]);
        }

        json_object_put(lines);
    }

    data = json_object_new_object();
    json_object_object_add(data, "released", json_object_new_int64((int64_t) released));
    json_object_object_add(data, "failed", json_object_new_int64((int64_t) failed));

    return fv_reply(r, 200, data, NULL);
}
