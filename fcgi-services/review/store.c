/* store.c: every query of the review service (reviews, reviewers, purchases, outbox).
 * Values always travel as parameters, never inside the SQL text. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"


/*
 * A review's columns, in the order review_row() reads them.  The public name of a reviewer
 * is their first name and the initial of their last ("María G."): enough to tell reviewers
 * apart, not enough to identify a customer.  PostgreSQL counts characters, not bytes, so a
 * multi-byte initial stays whole.  $V is the caller's user id (NULL when anonymous).
 */
#define REVIEW_COLUMNS(V)                                                                 \
    "r.id, r.product_id, r.user_id, r.rating, r.title, r.comment, r.verified_purchase, "  \
    "to_char(r.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "     \
    "to_char(r.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "     \
    "CASE WHEN u.name IS NULL OR btrim(u.name) = '' THEN NULL "                          \
    "WHEN btrim(u.name) !~ '\\s' THEN btrim(u.name) "                                    \
    "ELSE regexp_replace(btrim(u.name), '\\s.*$', '') || ' ' "                           \
    "|| upper(left(regexp_replace(btrim(u.name), '^.*\\s', ''), 1)) || '.' END, "        \
    "coalesce(r.user_id = " V "::bigint, false)"

#define REVIEW_NCOLUMNS  11

#define REVIEW_JOIN  "LEFT JOIN reviewers u ON u.user_id = r.user_id"

/* Serialises the two transactions that can make a review verified (a review being written,
 * a delivery being recorded) per user, so that neither misses the other's uncommitted row. */
#define REVIEW_USER_LOCK \
    "SELECT pg_advisory_xact_lock(hashtext('reviews.purchases'), " \
    "($1::bigint % 2147483647)::int)"


static int review_failed(PGresult *res);
static int review_command(fv_worker_t *w, const char *sql, int n, const char *const *params,
    long *rows);
static int review_row(const PGresult *res, int row, int col, review_row_t *out);
static json_object *review_row_json(const PGresult *res, int row, int col);
static json_object *review_text_or_null(const PGresult *res, int row, int col);


int
review_store_begin(fv_worker_t *w)
{
    return fv_pg_begin(w);
}


int
review_store_commit(fv_worker_t *w)
{
    return fv_pg_commit(w);
}


void
review_store_rollback(fv_worker_t *w)
{
    fv_pg_rollback(w);
}


int
review_store_page(fv_worker_t *w, const char *product_id, long page, long limit,
    int64_t viewer, json_object **reviews, json_object **summary, long *total)
{
    char          lim[24], off[24], who[24];
    const char   *params[] = { product_id, lim, off, viewer > 0 ? who : NULL };
    json_object  *list, *sum, *dist;
    PGresult     *res;
    int           rc, i, n, star;
    char          key[2];

    list = NULL;
    sum = NULL;

    (void) snprintf(lim, sizeof(lim), "%ld", limit);
    (void) snprintf(off, sizeof(off), "%lld", (long long) (page - 1) * limit);
    (void) snprintf(who, sizeof(who), "%" PRId64, viewer);

    /* One row per review of the page, each carrying the summary; one row of summary and
     * NULLs when the page is empty. */
    res = fv_pg_exec(w,
        "WITH s AS (SELECT count(*), coalesce(round(avg(rating), 1), 0.0)::text, "
        "count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2), "
        "count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4), "
        "count(*) FILTER (WHERE rating = 5) FROM reviews WHERE product_id = $1), "
        "p AS (SELECT " REVIEW_COLUMNS("$4") ", r.created_at AS sort_at "
        "FROM reviews r " REVIEW_JOIN " WHERE r.product_id = $1 "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT $2 OFFSET $3) "
        "SELECT s.*, p.* FROM s LEFT JOIN p ON true ORDER BY p.sort_at DESC, p.id DESC",
        4, params);

    if ((rc = review_failed(res)) != FV_OK) {
        goto out;
    }

    n = PQntuples(res);
    if (n < 1 || PQnfields(res) != 7 + REVIEW_NCOLUMNS + 1) {
        rc = FV_ERROR;
        goto out;
    }

    list = json_object_new_array();
    sum = json_object_new_object();
    dist = json_object_new_object();
    if (list == NULL || sum == NULL || dist == NULL) {
        json_object_put(dist);
        rc = FV_ERROR;
        goto out;
    }

    *total = strtol(PQgetvalue(res, 0, 0), NULL, 10);

    json_object_object_add(sum, "average",
        json_object_new_double_s(strtod(PQgetvalue(res, 0, 1), NULL), PQgetvalue(res, 0, 1)));
    json_object_object_add(sum, "count", json_object_new_int64(*total));

    key[1] = '\0';
    for (star = 1; star <= 5; star++) {
        key[0] = (char) ('0' + star);
        json_object_object_add(dist, key,
            json_object_new_int64(strtoll(PQgetvalue(res, 0, 1 + star), NULL, 10)));
    }
    json_object_object_add(sum, "distribution", dist);

    for (i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 7)) {
            continue;
        }

        if (json_object_array_add(list, review_row_json(res, i, 7)) != 0) {
            rc = FV_ERROR;
            goto out;
        }
    }

    *reviews = list;
    *summary = sum;
    list = NULL;
    sum = NULL;

out:

    json_object_put(list);
    json_object_put(sum);
    PQclear(res);
    return rc;
}


int
review_store_insert(fv_worker_t *w, const char *product_id, int64_t user_id, int rating,
    const char *title, const char *comment, review_row_t *row)
{
    char         uid[24], stars[8];
    const char  *params[] = { uid, product_id, stars, title, comment };
    PGresult    *res;
    int          rc;

    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    (void) snprintf(stars, sizeof(stars), "%d", rating);

    if ((rc = review_command(w, REVIEW_USER_LOCK, 1, params, NULL)) != FV_OK) {
        return rc;
    }

    res = fv_pg_exec(w,
        "WITH r AS (INSERT INTO reviews (user_id, product_id, rating, title, comment, "
        "verified_purchase) VALUES ($1, $2, $3, $4, $5, EXISTS (SELECT 1 FROM purchases p "
        "WHERE p.user_id = $1 AND p.product_id = $2)) RETURNING *) "
        "SELECT " REVIEW_COLUMNS("$1") " FROM r " REVIEW_JOIN, 5, params);

    if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR
        && strcmp(fv_pg_sqlstate(res), "23505") == 0)
    {
        rc = REVIEW_STORE_CONFLICT;

    } else if ((rc = review_failed(res)) == FV_OK) {
        rc = PQntuples(res) == 1 ? review_row(res, 0, 0, row) : FV_ERROR;
    }

    PQclear(res);
    return rc;
}


int
review_store_lock(fv_worker_t *w, int64_t id, int64_t viewer, review_row_t *row)
{
    char         rid[24], who[24];
    const char  *params[] = { rid, viewer > 0 ? who : NULL };
    PGresult    *res;
    int          rc;

    (void) snprintf(rid, sizeof(rid), "%" PRId64, id);
    (void) snprintf(who, sizeof(who), "%" PRId64, viewer);

    res = fv_pg_exec(w,
        "SELECT " REVIEW_COLUMNS("$2") " FROM reviews r " REVIEW_JOIN
        " WHERE r.id = $1 FOR UPDATE OF r", 2, params);

    if ((rc = review_failed(res)) == FV_OK) {
        rc = PQntuples(res) == 1 ? review_row(res, 0, 0, row) : REVIEW_STORE_NOT_FOUND;
    }

    PQclear(res);
    return rc;
}


int
review_store_replace(fv_worker_t *w, int64_t id, int64_t viewer, int rating,
    const char *title, const char *comment, review_row_t *row)
{
    char         rid[24], who[24], stars[8];
    const char  *params[] = { rid, viewer > 0 ? who : NULL, stars, title, comment };
    PGresult    *res;
    int          rc;

    (void) snprintf(rid, sizeof(rid), "%" PRId64, id);
    (void) snprintf(who, sizeof(who), "%" PRId64, viewer);
    (void) snprintf(stars, sizeof(stars), "%d", rating);

    res = fv_pg_exec(w,
        "WITH r AS (UPDATE reviews SET rating = $3, title = $4, comment = $5, "
        "updated_at = now() WHERE id = $1 RETURNING *) "
        "SELECT " REVIEW_COLUMNS("$2") " FROM r " REVIEW_JOIN, 5, params);

    if ((rc = review_failed(res)) == FV_OK) {
        rc = PQntuples(res) == 1 ? review_row(res, 0, 0, row) : REVIEW_STORE_NOT_FOUND;
    }

    PQclear(res);
    return rc;
}


int
review_store_delete(fv_worker_t *w, int64_t id)
{
    char         rid[24];
    const char  *params[] = { rid };
    long         rows;
    int          rc;

    (void) snprintf(rid, sizeof(rid), "%" PRId64, id);

    rc = review_command(w, "DELETE FROM reviews WHERE id = $1", 1, params, &rows);

    return rc == FV_OK && rows != 1 ? REVIEW_STORE_NOT_FOUND : rc;
}


int
review_store_event(fv_worker_t *w, const char *type, json_object *data)
{
    return fv_outbox_add(w, type, data);
}


int
review_store_reviewer_set(fv_worker_t *w, int64_t user_id, const char *name)
{
    char         uid[24];
    const char  *params[] = { uid, name };

    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);

    return review_command(w,
        "INSERT INTO reviewers (user_id, name) VALUES ($1, $2) "
        "ON CONFLICT (user_id) DO UPDATE SET name = EXCLUDED.name, updated_at = now()",
        2, params, NULL);
}


int
review_store_purchases_add(fv_worker_t *w, int64_t user_id, int64_t order_id,
    json_object *product_ids)
{
    char         uid[24], oid[24];
    const char  *params[] = { uid, oid, json_object_to_json_string_ext(product_ids,
                                                                        JSON_C_TO_STRING_PLAIN) };
    int          rc;

    if (params[2] == NULL) {
        return FV_ERROR;
    }

    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);
    (void) snprintf(oid, sizeof(oid), "%" PRId64, order_id);

    if ((rc = review_command(w, REVIEW_USER_LOCK, 1, params, NULL)) != FV_OK) {
        return rc;
    }

    /* The first delivery of a product is the one remembered; later ones change nothing. */
    return review_command(w,
        "WITH ids AS (SELECT DISTINCT value AS product_id "
        "FROM jsonb_array_elements_text($3::jsonb)), "
        "ins AS (INSERT INTO purchases (user_id, product_id, order_id) "
        "SELECT $1, product_id, $2 FROM ids ON CONFLICT (user_id, product_id) DO NOTHING) "
        "UPDATE reviews SET verified_purchase = true WHERE user_id = $1 "
        "AND product_id IN (SELECT product_id FROM ids) AND NOT verified_purchase",
        3, params, NULL);
}


void
review_row_free(review_row_t *row)
{
    json_object_put(row->json);
    row->json = NULL;
}


/* Runs a statement whose rows are not read; rows, when given, receives how many it touched. */

static int
review_command(fv_worker_t *w, const char *sql, int n, const char *const *params, long *rows)
{
    PGresult  *res;
    int        rc;

    res = fv_pg_exec(w, sql, n, params);

    if ((rc = review_failed(res)) == FV_OK && rows != NULL) {
        *rows = strtol(PQcmdTuples(res), NULL, 10);
    }

    PQclear(res);
    return rc;
}


static int
review_failed(PGresult *res)
{
    if (res == NULL) {
        return FV_STORE_DOWN;
    }

    return fv_pg_ok(res) ? FV_OK : FV_ERROR;
}


/* Reads the REVIEW_COLUMNS starting at column col of a row. */

static int
review_row(const PGresult *res, int row, int col, review_row_t *out)
{
    const char  *product;
    size_t       len;

    memset(out, 0, sizeof(*out));

    out->id = strtoll(PQgetvalue(res, row, col), NULL, 10);
    out->user_id = strtoll(PQgetvalue(res, row, col + 2), NULL, 10);
    out->rating = (int) strtol(PQgetvalue(res, row, col + 3), NULL, 10);

    product = PQgetvalue(res, row, col + 1);
    len = strlen(product);
    if (len >= sizeof(out->product_id)) {
        fv_log(FV_LOG_ERROR, "review %" PRId64 " has a product id longer than expected",
            out->id);
        return FV_ERROR;
    }
    memcpy(out->product_id, product, len + 1);

    out->json = review_row_json(res, row, col);
    return out->json != NULL ? FV_OK : FV_ERROR;
}


static json_object *
review_row_json(const PGresult *res, int row, int col)
{
    json_object  *o;
    json_object  *name;

    o = json_object_new_object();
    if (o == NULL) {
        return NULL;
    }

    name = review_text_or_null(res, row, col + 9);
    if (name == NULL) {
        name = json_object_new_string(REVIEW_ANONYMOUS);
    }

    json_object_object_add(o, "id",
        json_object_new_int64(strtoll(PQgetvalue(res, row, col), NULL, 10)));
    json_object_object_add(o, "productId", json_object_new_string(PQgetvalue(res, row, col + 1)));
    json_object_object_add(o, "rating",
        json_object_new_int((int) strtol(PQgetvalue(res, row, col + 3), NULL, 10)));
    json_object_object_add(o, "title", review_text_or_null(res, row, col + 4));
    json_object_object_add(o, "comment", json_object_new_string(PQgetvalue(res, row, col + 5)));
    json_object_object_add(o, "authorName", name);
    json_object_object_add(o, "verifiedPurchase",
        json_object_new_boolean(PQgetvalue(res, row, col + 6)[0] == 't'));
    json_object_object_add(o, "mine",
        json_object_new_boolean(PQgetvalue(res, row, col + 10)[0] == 't'));
    json_object_object_add(o, "createdAt", json_object_new_string(PQgetvalue(res, row, col + 7)));
    json_object_object_add(o, "updatedAt", json_object_new_string(PQgetvalue(res, row, col + 8)));

    return o;
}


/* A text column as a JSON string; NULL (JSON null) for SQL NULL. */

static json_object *
review_text_or_null(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return NULL;
    }

    return json_object_new_string(PQgetvalue(res, row, col));
}
