/* store.c: every query of the order service.  Orders are shown as the database builds them
 * (ORDER_JSON), so that the API's view and the events come from one place. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "order.h"
#include "store.h"


#define ORDER_TIME(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* The order as the API shows it. */
#define ORDER_JSON \
    "json_build_object('id', id, 'number', number, 'userId', user_id, 'status', status," \
    " 'reason', reason, 'items', items, 'subtotal', subtotal, 'shipping', shipping," \
    " 'total', total, 'currency', 'CLP', 'shippingAddress', shipping_address," \
    " 'addressId', address_id, 'deliveryDate', delivery_date," \
    " 'paymentMethod', payment_method, 'notes', notes, 'statusHistory', status_history," \
    " 'createdAt', " ORDER_TIME("created_at") ", 'updatedAt', " ORDER_TIME("updated_at") \
    ")::text"

/* The data of order.created and order.status_changed. */
#define ORDER_EVENT \
    "json_build_object('orderId', id, 'number', number, 'userId', user_id, 'email', email," \
    " 'status', status, 'total', total, 'subtotal', subtotal, 'shipping', shipping," \
    " 'items', items)::text"

/* Today in Chile, where the shop is. */
#define ORDER_TODAY  "(now() AT TIME ZONE 'America/Santiago')::date"

/* A history entry for the status in $n. */
#define ORDER_HISTORY(n) \
    "jsonb_build_array(jsonb_build_object('status', " n "::text, 'at', " \
    ORDER_TIME("now()") "))"


static int order_store_one(fv_worker_t *w, const char *sql, int n, const char *const *p,
    PGresult **res);
static int order_store_json(const char *text, json_object **out);


/* Runs sql; FV_OK with the result, ORDER_STORE_NOT_FOUND without rows. */

static int
order_store_one(fv_worker_t *w, const char *sql, int n, const char *const *p, PGresult **res)
{
    PGresult  *pr;

    *res = NULL;

    pr = fv_pg_exec(w, sql, n, p);
    if (pr == NULL) {
        return FV_STORE_DOWN;
    }

    if (!fv_pg_ok(pr)) {
        PQclear(pr);
        return FV_ERROR;
    }

    if (PQresultStatus(pr) == PGRES_TUPLES_OK && PQntuples(pr) == 0) {
        PQclear(pr);
        return ORDER_STORE_NOT_FOUND;
    }

    *res = pr;
    return FV_OK;
}


static int
order_store_json(const char *text, json_object **out)
{
    *out = json_tokener_parse(text);
    if (*out == NULL) {
        fv_log(FV_LOG_ERROR, "the database built JSON that does not parse");
        return FV_ERROR;
    }

    return FV_OK;
}


int
order_store_days_until(fv_worker_t *w, const char *date, long *days)
{
    const char  *p[1] = { date };
    PGresult    *res;
    int          rc;

    rc = order_store_one(w, "SELECT ($1::date - " ORDER_TODAY ")::int", 1, p, &res);
    if (rc != FV_OK) {
        return rc == ORDER_STORE_NOT_FOUND ? FV_ERROR : rc;
    }

    *days = strtol(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return FV_OK;
}


int
order_store_key_claim(fv_worker_t *w, int64_t user_id, const char *key,
    const char *fingerprint, int *claimed)
{
    char         uid[24];
    const char  *p[3] = { uid, key, fingerprint };
    PGresult    *res;
    int          rc;

    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);

    /* Autocommit: the claim is its own transaction, seen by every other request at once. */
    rc = order_store_one(w,
        "INSERT INTO idempotency_keys (user_id, key, fingerprint) VALUES ($1, $2, $3)"
        " ON CONFLICT (user_id, key) DO NOTHING RETURNING 1", 3, p, &res);

    *claimed = (rc == FV_OK);
    PQclear(res);

    return rc == ORDER_STORE_NOT_FOUND ? FV_OK : rc;
}


int
order_store_key_answer(fv_worker_t *w, int64_t user_id, const char *key,
    const char *fingerprint, int *same, int *status, char **body)
{
    char         uid[24];
    const char  *p[2] = { uid, key };
    PGresult    *res;
    int          rc;

    *body = NULL;
    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);

    rc = order_store_one(w,
        "SELECT fingerprint, http_status, response FROM idempotency_keys"
        " WHERE user_id = $1 AND key = $2", 2, p, &res);
    if (rc != FV_OK) {
        return rc;
    }

    *same = strcmp(PQgetvalue(res, 0, 0), fingerprint) == 0;

    if (PQgetisnull(res, 0, 1)) {
        rc = ORDER_STORE_BUSY;

    } else {
        *status = (int) strtol(PQgetvalue(res, 0, 1), NULL, 10);
        *body = strdup(PQgetvalue(res, 0, 2));
        rc = (*body == NULL) ? FV_ERROR : FV_OK;
    }

    PQclear(res);
    return rc;
}


int
order_store_key_save(fv_worker_t *w, int64_t user_id, const char *key, int status,
    const char *body)
{
    char         uid[24], st[16];
    const char  *p[4] = { uid, key, st, body };
    PGresult    *res;
    int          rc;

    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    (void) snprintf(st, sizeof(st), "%d", status);

    rc = order_store_one(w,
        "UPDATE idempotency_keys SET http_status = $3, response = $4"
        " WHERE user_id = $1 AND key = $2", 4, p, &res);
    PQclear(res);

    return rc == ORDER_STORE_NOT_FOUND ? FV_OK : rc;
}


int
order_store_key_drop(fv_worker_t *w, int64_t user_id, const char *key)
{
    char         uid[24];
    const char  *p[2] = { uid, key };
    PGresult    *res;
    int          rc;

    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);

    rc = order_store_one(w,
        "DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2"
        " AND http_status IS NULL", 2, p, &res);
    PQclear(res);

    return rc == ORDER_STORE_NOT_FOUND ? FV_OK : rc;
}


int
order_store_insert(fv_worker_t *w, const order_new_t *o, int64_t *id)
{
    char         uid[24], sub[24], shp[24], tot[24], aid[24];
    const char  *p[11];
    PGresult    *res;
    int          rc;

    (void) snprintf(uid, sizeof(uid), "%" PRId64, o->user_id);
    (void) snprintf(sub, sizeof(sub), "%" PRId64, o->subtotal);
    (void) snprintf(shp, sizeof(shp), "%" PRId64, o->shipping);
    (void) snprintf(tot, sizeof(tot), "%" PRId64, o->total);
    (void) snprintf(aid, sizeof(aid), "%" PRId64, o->address_id);

    p[0] = uid;
    p[1] = o->email;
    p[2] = o->items;
    p[3] = sub;
    p[4] = shp;
    p[5] = tot;
    p[6] = o->address;
    p[7] = o->address_id > 0 ? aid : NULL;
    p[8] = o->delivery_date;
    p[9] = o->payment_method;
    p[10] = o->notes;

    /* One statement: the day's number and the row, atomically (autocommit). */
    rc = order_store_one(w,
        "WITH n AS ("
        "  INSERT INTO order_days (day, last) VALUES (" ORDER_TODAY ", 1)"
        "  ON CONFLICT (day) DO UPDATE SET last = order_days.last + 1"
        "  RETURNING day, last)"
        " INSERT INTO orders (number, user_id, email, status, stage, items, subtotal, shipping,"
        "   total, shipping_address, address_id, delivery_date, payment_method, notes)"
        " SELECT 'FV-' || to_char(n.day, 'YYYYMMDD') || '-' || lpad(n.last::text, 5, '0'),"
        "   $1, $2, 'pending', 'reserving', $3::jsonb, $4, $5, $6, $7::jsonb, $8, $9::date,"
        "   $10, $11 FROM n RETURNING id", 11, p, &res);
    if (rc != FV_OK) {
        return rc == ORDER_STORE_NOT_FOUND ? FV_ERROR : rc;
    }

    *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return FV_OK;
}


int
order_store_reserved(fv_worker_t *w, int64_t id, const char *line)
{
    char         oid[24];
    const char  *p[2] = { oid, line };
    PGresult    *res;
    int          rc;

    (void) snprintf(oid, sizeof(oid), "%" PRId64, id);

    rc = order_store_one(w,
        "UPDATE orders SET reserved = reserved || jsonb_build_array($2::jsonb)"
        " WHERE id = $1", 2, p, &res);
    PQclear(res);

    return rc == ORDER_STORE_NOT_FOUND ? FV_ERROR : rc;
}


int
order_store_settle(fv_worker_t *w, int64_t id, int ok, const char *reason,
    json_object **order)
{
    char          oid[24];
    const char   *p[4];
    PGresult     *res;
    json_object  *event;
    int           rc;

    *order = NULL;
    res = NULL;
    event = NULL;

    (void) snprintf(oid, sizeof(oid), "%" PRId64, id);
    p[0] = oid;
    p[1] = ok ? "pending" : "cancelled";
    p[2] = ok ? "held" : "released";
    p[3] = ok ? NULL : reason;

    if ((rc = fv_pg_begin(w)) != FV_OK) {
        return rc;
    }

    rc = order_store_one(w,
        "UPDATE orders SET status = $2, stage = $3, reason = $4,"
        "   status_history = status_history || " ORDER_HISTORY("$2") ", updated_at = now()"
        " WHERE id = $1 AND stage = 'reserving'"
        " RETURNING " ORDER_JSON ", " ORDER_EVENT, 4, p, &res);
    if (rc == ORDER_STORE_NOT_FOUND) {
        rc = FV_ERROR;
    }

    if (rc != FV_OK) {
        goto fail;
    }

    if (ok) {
        if ((rc = order_store_json(PQgetvalue(res, 0, 1), &event)) != FV_OK
            || (rc = fv_outbox_add(w, "order.created", event)) != FV_OK)
        {
            goto fail;
        }
    }

    if ((rc = order_store_json(PQgetvalue(res, 0, 0), order)) != FV_OK) {
        goto fail;
    }

    if ((rc = fv_pg_commit(w)) != FV_OK) {
        json_object_put(*order);
        *order = NULL;
    }

    json_object_put(event);
    PQclear(res);
    return rc;

fail:

    fv_pg_rollback(w);
    json_object_put(event);
    PQclear(res);
    return rc;
}


/* The scope as the queries' two parameters: "true" for any owner, else the owner's id. */
static int
order_scope(order_scope_e scope, int64_t user_id, const char **all, char *uid, size_t size)
{
    *all = scope == ORDER_ANY_OWNER ? "true" : "false";
    (void) snprintf(uid, size, "%" PRId64, scope == ORDER_ANY_OWNER ? (int64_t) 0 : user_id);

    return scope == ORDER_ANY_OWNER || user_id > 0 ? 0 : -1;
}


int
order_store_get(fv_worker_t *w, int64_t id, order_scope_e scope, int64_t user_id,
    json_object **order)
{
    char         oid[24], uid[24];
    const char  *p[3] = { oid, NULL, uid };
    PGresult    *res;
    int          rc;

    *order = NULL;
    (void) snprintf(oid, sizeof(oid), "%" PRId64, id);

    if (order_scope(scope, user_id, &p[1], uid, sizeof(uid)) != 0) {
        return ORDER_STORE_NOT_FOUND;
    }

    rc = order_store_one(w,
        "SELECT " ORDER_JSON " FROM orders WHERE id = $1 AND stage <> 'reserving'"
        " AND ($2::boolean OR user_id = $3::bigint)", 3, p, &res);
    if (rc != FV_OK) {
        return rc;
    }

    rc = order_store_json(PQgetvalue(res, 0, 0), order);
    PQclear(res);
    return rc;
}


int
order_store_list(fv_worker_t *w, order_scope_e scope, int64_t user_id,
    const char *status, long page, long limit, json_object **orders, long *total)
{
    char          uid[24], lim[24], off[24];
    const char   *p[5] = { NULL, uid, status, lim, off };
    PGresult     *res;
    json_object  *o;
    int           rc, i, n;

    *orders = NULL;
    *total = 0;

    if (order_scope(scope, user_id, &p[0], uid, sizeof(uid)) != 0) {
        fv_log(FV_LOG_ERROR, "order list asked for the orders of user %" PRId64, user_id);
        return FV_ERROR;
    }

    (void) snprintf(lim, sizeof(lim), "%ld", limit);
    (void) snprintf(off, sizeof(off), "%ld", (page - 1) * limit);

    rc = order_store_one(w,
        "SELECT " ORDER_JSON ", count(*) OVER () FROM orders WHERE stage <> 'reserving'"
        " AND ($1::boolean OR user_id = $2::bigint)"
        " AND ($3::text IS NULL OR status = $3::text)"
        " ORDER BY created_at DESC, id DESC LIMIT $4::int OFFSET $5::int", 5, p, &res);

    *orders = json_object_new_array();
    if (rc == ORDER_STORE_NOT_FOUND) {
        /* Past the last page: the total needs its own count. */
        rc = order_store_one(w,
            "SELECT count(*) FROM orders WHERE stage <> 'reserving'"
            " AND ($1::boolean OR user_id = $2::bigint)"
            " AND ($3::text IS NULL OR status = $3::text)", 3, p, &res);
        if (rc == FV_OK) {
            *total = strtol(PQgetvalue(res, 0, 0), NULL, 10);
            PQclear(res);
        }
        return rc;
    }

    if (rc != FV_OK) {
        return rc;
    }

    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        if ((rc = order_store_json(PQgetvalue(res, i, 0), &o)) != FV_OK) {
            break;
        }
        (void) json_object_array_add(*orders, o);
    }

    *total = strtol(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    return rc;
}


/* The lifecycle: each status and the one that follows it. */
static const char *const  order_next[][2] = {
    { "pending",   "confirmed" },
    { "confirmed", "preparing" },
    { "preparing", "shipped" },
    { "shipped",   "delivered" },
};


static int
order_allowed(const char *from, const char *to, int customer)
{
    size_t  i;

    if (strcmp(to, "cancelled") == 0) {
        if (customer) {
            return strcmp(from, "pending") == 0 || strcmp(from, "confirmed") == 0;
        }
        return strcmp(from, "delivered") != 0 && strcmp(from, "cancelled") != 0;
    }

    if (customer) {
        return 0;
    }

    for (i = 0; i < sizeof(order_next) / sizeof(order_next[0]); i++) {
        if (strcmp(order_next[i][0], from) == 0) {
            return strcmp(order_next[i][1], to) == 0;
        }
    }

    return 0;
}


int
order_store_transition(fv_worker_t *w, int64_t id, order_scope_e scope, int64_t user_id,
    const char *status, json_object **order, json_object **release)
{
    char          oid[24], uid[24];
    const char   *p[3] = { oid, NULL, uid };
    const char   *u[3] = { oid, NULL, status };
    PGresult     *res;
    json_object  *event;
    int           rc, releasing;

    *order = NULL;
    *release = NULL;
    event = NULL;
    res = NULL;

    (void) snprintf(oid, sizeof(oid), "%" PRId64, id);

    if (order_scope(scope, user_id, &p[1], uid, sizeof(uid)) != 0) {
        return ORDER_STORE_NOT_FOUND;
    }
    u[1] = p[1];

    if ((rc = fv_pg_begin(w)) != FV_OK) {
        return rc;
    }

    rc = order_store_one(w,
        "SELECT status, stage FROM orders WHERE id = $1 AND stage <> 'reserving'"
        " AND ($2::boolean OR user_id = $3::bigint) FOR UPDATE", 3, p, &res);
    if (rc != FV_OK) {
        goto fail;
    }

    if (!order_allowed(PQgetvalue(res, 0, 0), status, scope == ORDER_OWNER)) {
        rc = ORDER_STORE_INVALID;
        goto fail;
    }

    releasing = strcmp(status, "cancelled") == 0 && strcmp(PQgetvalue(res, 0, 1), "held") == 0;
    PQclear(res);
    res = NULL;

    rc = order_store_one(w,
        "UPDATE orders SET status = $3,"
        "   stage = CASE WHEN $3 = 'cancelled' AND stage = 'held' THEN 'releasing' ELSE stage END,"
        "   reason = CASE WHEN $3 = 'cancelled' THEN"
        "     CASE WHEN $2::boolean THEN 'ADMIN' ELSE 'CUSTOMER' END ELSE reason END,"
        "   status_history = status_history || " ORDER_HISTORY("$3") ", updated_at = now()"
        " WHERE id = $1 RETURNING " ORDER_JSON ", " ORDER_EVENT ", reserved::text", 3, u, &res);
    if (rc == ORDER_STORE_NOT_FOUND) {
        rc = FV_ERROR;
    }

    if (rc != FV_OK) {
        goto fail;
    }

    if ((rc = order_store_json(PQgetvalue(res, 0, 1), &event)) != FV_OK
        || (rc = fv_outbox_add(w, "order.status_changed", event)) != FV_OK
        || (rc = order_store_json(PQgetvalue(res, 0, 0), order)) != FV_OK)
    {
        goto fail;
    }

    if (releasing && (rc = order_store_json(PQgetvalue(res, 0, 2), release)) != FV_OK) {
        goto fail;
    }

    if ((rc = fv_pg_commit(w)) != FV_OK) {
        goto fail_committed;
    }

    json_object_put(event);
    PQclear(res);
    return FV_OK;

fail:

    fv_pg_rollback(w);

fail_committed:

    json_object_put(event);
    json_object_put(*order);
    json_object_put(*release);
    *order = NULL;
    *release = NULL;
    PQclear(res);
    return rc;
}


int
order_store_released(fv_worker_t *w, int64_t id)
{
    char         oid[24];
    const char  *p[1] = { oid };
    PGresult    *res;
    int          rc;

    (void) snprintf(oid, sizeof(oid), "%" PRId64, id);

    rc = order_store_one(w,
        "UPDATE orders SET stage = 'released' WHERE id = $1 AND stage = 'releasing'",
        1, p, &res);
    PQclear(res);

    return rc == ORDER_STORE_NOT_FOUND ? FV_OK : rc;
}


int
order_store_discard(fv_worker_t *w, int64_t id)
{
    char         oid[24];
    const char  *p[1] = { oid };
    PGresult    *res;
    int          rc;

    (void) snprintf(oid, sizeof(oid), "%" PRId64, id);

    rc = order_store_one(w,
        "DELETE FROM orders WHERE id = $1 AND stage = 'reserving'", 1, p, &res);
    PQclear(res);

    return rc == ORDER_STORE_NOT_FOUND ? FV_OK : rc;
}


int
order_store_stale(fv_worker_t *w, long older_than, int64_t *ids, size_t max, size_t *n)
{
    char         secs[24], lim[24];
    const char  *p[2] = { secs, lim };
    PGresult    *res;
    int          rc, i;

    *n = 0;
    (void) snprintf(secs, sizeof(secs), "%ld", older_than);
    (void) snprintf(lim, sizeof(lim), "%zu", max);

    rc = order_store_one(w,
        "SELECT id FROM orders WHERE stage IN ('reserving', 'releasing')"
        " AND updated_at <= now() - make_interval(secs => $1::int)"
        " ORDER BY id LIMIT $2::int", 2, p, &res);
    if (rc == ORDER_STORE_NOT_FOUND) {
        return FV_OK;
    }

    if (rc != FV_OK) {
        return rc;
    }

    for (i = 0; i < PQntuples(res); i++) {
        ids[(*n)++] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
    }

    PQclear(res);
    return FV_OK;
}


int
order_store_claim_stale(fv_worker_t *w, int64_t id, long older_than, json_object **lines)
{
    char         oid[24], secs[24];
    const char  *p[2] = { oid, secs };
    PGresult    *res;
    int          rc;

    *lines = NULL;
    (void) snprintf(oid, sizeof(oid), "%" PRId64, id);
    (void) snprintf(secs, sizeof(secs), "%ld", older_than);

    /* One statement, so that two reconcilers never give the same lines back: an order left
     * reserving becomes cancelled (INTERRUPTED, no event: it was never created for the
     * customer); either kind is marked as being released now. */
    rc = order_store_one(w,
        "UPDATE orders SET"
        "   status = CASE WHEN stage = 'reserving' THEN 'cancelled' ELSE status END,"
        "   reason = CASE WHEN stage = 'reserving' THEN 'INTERRUPTED' ELSE reason END,"
        "   status_history = CASE WHEN stage = 'reserving'"
        "     THEN status_history || " ORDER_HISTORY("'cancelled'") " ELSE status_history END,"
        "   stage = 'releasing', updated_at = now()"
        " WHERE id = $1 AND stage IN ('reserving', 'releasing')"
        "   AND updated_at <= now() - make_interval(secs => $2::int)"
        " RETURNING reserved::text", 2, p, &res);
    if (rc != FV_OK) {
        return rc;
    }

    rc = order_store_json(PQgetvalue(res, 0, 0), lines);
    PQclear(res);
    return rc;
}
