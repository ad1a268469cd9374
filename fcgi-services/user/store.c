/* store.c: every query of the user service (profiles, addresses, outbox).  Values always
 * travel as parameters, never inside the SQL text. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"


#define USER_ISO(col) \
    "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* A profile's columns, in the order user_profile_json() reads them. */
#define USER_PROFILE_COLUMNS \
    "id, name, email, phone, " USER_ISO("created_at") ", role, active, " USER_ISO("updated_at")

/* An address's columns, in the order user_address_json() reads them. */
#define USER_ADDRESS_COLUMNS \
    "id, label, recipient, street, city, region, postal_code, phone, is_default, " \
    USER_ISO("created_at") ", " USER_ISO("updated_at")


static int user_failed(PGresult *res);
static int user_command(fv_worker_t *w, const char *sql, int n, const char *const *params,
    long *rows);
static json_object *user_profile_json(const PGresult *res, int row, int col, int admin);
static json_object *user_address_json(const PGresult *res, int row);
static json_object *user_text_or_null(const PGresult *res, int row, int col);
static void user_id_text(char out[24], int64_t id);


int
user_store_begin(fv_worker_t *w)
{
    return fv_pg_begin(w);
}


int
user_store_commit(fv_worker_t *w)
{
    return fv_pg_commit(w);
}


void
user_store_rollback(fv_worker_t *w)
{
    fv_pg_rollback(w);
}


int
user_store_profile(fv_worker_t *w, int64_t id, int admin, json_object **profile)
{
    char         uid[24];
    const char  *params[] = { uid };
    PGresult    *res;
    int          rc;

    user_id_text(uid, id);

    res = fv_pg_exec(w, "SELECT " USER_PROFILE_COLUMNS " FROM profiles WHERE id = $1",
                     1, params);

    if ((rc = user_failed(res)) == FV_OK) {
        if (PQntuples(res) != 1) {
            rc = USER_STORE_NOT_FOUND;

        } else {
            *profile = user_profile_json(res, 0, 0, admin);
            rc = *profile != NULL ? FV_OK : FV_ERROR;
        }
    }

    PQclear(res);
    return rc;
}


int
user_store_profile_ensure(fv_worker_t *w, int64_t id, const char *email, const char *role)
{
    char         uid[24];
    const char  *params[] = { uid, email, role };
    PGresult    *res;
    int          rc;

    user_id_text(uid, id);

    rc = email == NULL ? FV_OK : user_command(w,
        "INSERT INTO profiles (id, email, role) VALUES ($1, $2, "
        "CASE WHEN $3::text = 'admin' THEN 'admin' ELSE 'customer' END) "
        "ON CONFLICT (id) DO NOTHING", 3, params, NULL);
    if (rc != FV_OK) {
        return rc;
    }

    res = fv_pg_exec(w, "SELECT 1 FROM profiles WHERE id = $1 FOR UPDATE", 1, params);

    if ((rc = user_failed(res)) == FV_OK && PQntuples(res) != 1) {
        rc = USER_STORE_NOT_FOUND;
    }

    PQclear(res);
    return rc;
}


int
user_store_profile_update(fv_worker_t *w, int64_t id, const char *name, const char *phone)
{
    char         uid[24];
    const char  *params[] = { uid, name, phone };
    long         rows;
    int          rc;

    user_id_text(uid, id);

    rc = user_command(w,
        "UPDATE profiles SET name = coalesce($2, name), "
        "phone = CASE WHEN $3::text IS NULL THEN phone WHEN $3 = '' THEN NULL ELSE $3 END, "
        "updated_at = now() WHERE id = $1", 3, params, &rows);

    return rc == FV_OK && rows != 1 ? USER_STORE_NOT_FOUND : rc;
}


int
user_store_registered(fv_worker_t *w, int64_t id, const char *name, const char *email,
    const char *role, const char *created_at)
{
    char         uid[24];
    const char  *params[] = { uid, name, email, role, created_at };

    user_id_text(uid, id);

    return user_command(w,
        "INSERT INTO profiles (id, name, email, role, created_at) "
        "VALUES ($1, $2, $3, $4, coalesce($5::timestamptz, now())) "
        "ON CONFLICT (id) DO UPDATE SET name = coalesce(profiles.name, EXCLUDED.name), "
        "role = CASE WHEN profiles.version = 0 THEN EXCLUDED.role ELSE profiles.role END, "
        "created_at = least(profiles.created_at, EXCLUDED.created_at), updated_at = now()",
        5, params, NULL);
}


int
user_store_addresses(fv_worker_t *w, int64_t user_id, json_object **list)
{
    char          uid[24];
    const char   *params[] = { uid };
    json_object  *a;
    PGresult     *res;
    int           rc, i, n;

    user_id_text(uid, user_id);

    res = fv_pg_exec(w, "SELECT " USER_ADDRESS_COLUMNS " FROM addresses WHERE user_id = $1 "
                     "ORDER BY is_default DESC, created_at DESC, id DESC", 1, params);

    if ((rc = user_failed(res)) != FV_OK) {
        goto out;
    }

    *list = json_object_new_array();
    if (*list == NULL) {
        rc = FV_ERROR;
        goto out;
    }

    n = PQntuples(res);
    for (i = 0; i < n; i++) {
        a = user_address_json(res, i);
        if (a == NULL || json_object_array_add(*list, a) != 0) {
            json_object_put(a);
            json_object_put(*list);
            *list = NULL;
            rc = FV_ERROR;
            goto out;
        }
    }

out:

    PQclear(res);
    return rc;
}


int
user_store_address_insert(fv_worker_t *w, int64_t user_id, const user_address_t *a,
    int64_t *id)
{
    char         uid[24], max[8];
    const char  *check[] = { uid, a->is_default == 1 ? "t" : "f", max };
    const char  *params[] = { uid, a->label, a->recipient, a->street, a->city, a->region,
                              a->postal_code, a->phone, NULL };
    PGresult    *res;
    int          rc;

    user_id_text(uid, user_id);
    (void) snprintf(max, sizeof(max), "%d", USER_ADDRESSES_MAX);

    /* The profile row is locked by the caller: no other change of this user's addresses
     * runs meanwhile.  The first address is the default whatever was asked. */
    res = fv_pg_exec(w,
        "WITH n AS (SELECT count(*) AS total FROM addresses WHERE user_id = $1), "
        "d AS (SELECT $2::boolean OR (SELECT total FROM n) = 0 AS def), "
        "u AS (UPDATE addresses SET is_default = false, updated_at = now() "
        "WHERE user_id = $1 AND is_default AND (SELECT def FROM d) "
        "AND (SELECT total FROM n) < $3::int RETURNING id) "
        "SELECT (SELECT total FROM n) < $3::int, (SELECT def FROM d), (SELECT count(*) FROM u)",
        3, check);

    if ((rc = user_failed(res)) != FV_OK) {
        goto out;
    }

    if (PQntuples(res) != 1 || PQgetvalue(res, 0, 0)[0] != 't') {
        rc = USER_STORE_FULL;
        goto out;
    }

    params[8] = PQgetvalue(res, 0, 1)[0] == 't' ? "t" : "f";

    PQclear(res);
    res = fv_pg_exec(w,
        "INSERT INTO addresses (user_id, label, recipient, street, city, region, postal_code, "
        "phone, is_default) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        9, params);

    if ((rc = user_failed(res)) == FV_OK) {
        if (PQntuples(res) != 1) {
            rc = FV_ERROR;
        } else {
            *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }
    }

out:

    PQclear(res);
    return rc;
}


/*
 * isDefault true makes the address the default and unsets the former one; false on the
 * default is not honoured (exactly one default while the user has addresses: another one
 * becomes the default by being set so); absent keeps what it was.
 */

int
user_store_address_update(fv_worker_t *w, int64_t user_id, int64_t id,
    const user_address_t *a)
{
    char         uid[24], aid[24];
    const char  *params[] = { uid, aid, a->label, a->recipient, a->street, a->city, a->region,
                              a->postal_code, a->phone };
    long         rows;
    int          rc;

    user_id_text(uid, user_id);
    user_id_text(aid, id);

    rc = user_command(w,
        "UPDATE addresses SET label = $3, recipient = $4, street = $5, city = $6, "
        "region = $7, postal_code = $8, phone = $9, updated_at = now() "
        "WHERE id = $2 AND user_id = $1", 9, params, &rows);

    if (rc != FV_OK) {
        return rc;
    }

    if (rows != 1) {
        return USER_STORE_NOT_FOUND;
    }

    if (a->is_default != 1) {
        return FV_OK;
    }

    /* Unset first: the partial unique index is checked per statement. */
    rc = user_command(w,
        "UPDATE addresses SET is_default = false, updated_at = now() "
        "WHERE user_id = $1 AND is_default AND id <> $2", 2, params, NULL);
    if (rc != FV_OK) {
        return rc;
    }

    return user_command(w,
        "UPDATE addresses SET is_default = true WHERE id = $2 AND user_id = $1 "
        "AND NOT is_default", 2, params, NULL);
}


int
user_store_address_delete(fv_worker_t *w, int64_t user_id, int64_t id)
{
    char         uid[24], aid[24];
    const char  *params[] = { uid, aid };
    PGresult    *res;
    int          rc, was_default;

    user_id_text(uid, user_id);
    user_id_text(aid, id);

    res = fv_pg_exec(w, "DELETE FROM addresses WHERE id = $2 AND user_id = $1 "
                     "RETURNING is_default", 2, params);

    if ((rc = user_failed(res)) != FV_OK) {
        PQclear(res);
        return rc;
    }

    if (PQntuples(res) != 1) {
        PQclear(res);
        return USER_STORE_NOT_FOUND;
    }

    was_default = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);

    if (!was_default) {
        return FV_OK;
    }

    return user_command(w,
        "UPDATE addresses SET is_default = true, updated_at = now() WHERE id = "
        "(SELECT id FROM addresses WHERE user_id = $1 ORDER BY created_at DESC, id DESC "
        "LIMIT 1)", 1, params, NULL);
}


int
user_store_address(fv_worker_t *w, int64_t user_id, int64_t id, json_object **address)
{
    char         uid[24], aid[24];
    const char  *params[] = { uid, aid };
    PGresult    *res;
    int          rc;

    user_id_text(uid, user_id);
    user_id_text(aid, id);

    res = fv_pg_exec(w, "SELECT " USER_ADDRESS_COLUMNS " FROM addresses "
                     "WHERE id = $2 AND user_id = $1", 2, params);

    if ((rc = user_failed(res)) == FV_OK) {
        if (PQntuples(res) != 1) {
            rc = USER_STORE_NOT_FOUND;
        } else {
            *address = user_address_json(res, 0);
            rc = *address != NULL ? FV_OK : FV_ERROR;
        }
    }

    PQclear(res);
    return rc;
}


int
user_store_list(fv_worker_t *w, const char *pattern, long page, long limit,
    json_object **users, long *total)
{
    char          lim[24], off[24];
    const char   *params[] = { pattern, lim, off };
    json_object  *list, *u;
    PGresult     *res;
    int           rc, i, n;

    list = NULL;

    (void) snprintf(lim, sizeof(lim), "%ld", limit);
    (void) snprintf(off, sizeof(off), "%lld", (long long) (page - 1) * limit);

    /* One row per profile of the page, each carrying the total; one row of the total and
     * NULLs when the page is empty. */
    res = fv_pg_exec(w,
        "WITH f AS (SELECT * FROM profiles WHERE $1::text IS NULL "
        "OR name ILIKE $1 ESCAPE '\\' OR email ILIKE $1 ESCAPE '\\'), "
        "c AS (SELECT count(*) AS total FROM f), "
        "p AS (SELECT " USER_PROFILE_COLUMNS ", created_at AS sort_at FROM f "
        "ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3) "
        "SELECT c.total, p.* FROM c LEFT JOIN p ON true ORDER BY p.sort_at DESC, p.id DESC",
        3, params);

    if ((rc = user_failed(res)) != FV_OK) {
        goto out;
    }

    n = PQntuples(res);
    if (n < 1) {
        rc = FV_ERROR;
        goto out;
    }

    list = json_object_new_array();
    if (list == NULL) {
        rc = FV_ERROR;
        goto out;
    }

    *total = strtol(PQgetvalue(res, 0, 0), NULL, 10);

    for (i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 1)) {
            continue;
        }

        u = user_profile_json(res, i, 1, 1);
        if (u == NULL || json_object_array_add(list, u) != 0) {
            json_object_put(u);
            rc = FV_ERROR;
            goto out;
        }
    }

    *users = list;
    list = NULL;

out:

    json_object_put(list);
    PQclear(res);
    return rc;
}


int
user_store_access_lock(fv_worker_t *w, int64_t id, user_access_t *acc)
{
    char         uid[24];
    const char  *params[] = { uid };
    PGresult    *res;
    const char  *role;
    int          rc;

    user_id_text(uid, id);

    res = fv_pg_exec(w, "SELECT role, active, version FROM profiles WHERE id = $1 FOR UPDATE",
                     1, params);

    if ((rc = user_failed(res)) != FV_OK) {
        goto out;
    }

    if (PQntuples(res) != 1) {
        rc = USER_STORE_NOT_FOUND;
        goto out;
    }

    role = PQgetvalue(res, 0, 0);
    if (strlen(role) >= sizeof(acc->role)) {
        rc = FV_ERROR;
        goto out;
    }

    acc->id = id;
    memcpy(acc->role, role, strlen(role) + 1);
    acc->active = PQgetvalue(res, 0, 1)[0] == 't';
    acc->version = strtoll(PQgetvalue(res, 0, 2), NULL, 10);

out:

    PQclear(res);
    return rc;
}


int
user_store_access_set(fv_worker_t *w, user_access_t *acc)
{
    char         uid[24];
    const char  *params[] = { uid, acc->role, acc->active ? "t" : "f" };
    PGresult    *res;
    int          rc;

    user_id_text(uid, acc->id);

    res = fv_pg_exec(w, "UPDATE profiles SET role = $2, active = $3, version = version + 1, "
                     "updated_at = now() WHERE id = $1 RETURNING version", 3, params);

    if ((rc = user_failed(res)) == FV_OK) {
        if (PQntuples(res) != 1) {
            rc = USER_STORE_NOT_FOUND;
        } else {
            acc->version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        }
    }

    PQclear(res);
    return rc;
}


int
user_store_access_change(fv_worker_t *w, int64_t id, const char *role, int active,
    user_access_t *acc, int *changed)
{
    json_object  *event;
    int           rc;

    *changed = 0;

    if ((rc = user_store_access_lock(w, id, acc)) != FV_OK) {
        return rc;
    }

    if (role != NULL && strcmp(role, acc->role) != 0) {
        (void) snprintf(acc->role, sizeof(acc->role), "%s", role);
        *changed = 1;
    }

    if (active >= 0 && active != acc->active) {
        acc->active = active;
        *changed = 1;
    }

    if (!*changed) {
        return FV_OK;
    }

    if ((rc = user_store_access_set(w, acc)) != FV_OK) {
        return rc == USER_STORE_NOT_FOUND ? FV_ERROR : rc;
    }

    event = json_object_new_object();
    json_object_object_add(event, "userId", json_object_new_int64(acc->id));
    json_object_object_add(event, "role", json_object_new_string(acc->role));
    json_object_object_add(event, "active", json_object_new_boolean(acc->active));
    json_object_object_add(event, "version", json_object_new_int64(acc->version));

    rc = user_store_event(w, "user.role_changed", event);
    json_object_put(event);

    return rc;
}


int
user_store_event(fv_worker_t *w, const char *type, json_object *data)
{
    return fv_outbox_add(w, type, data);
}


/* Runs a statement whose rows are not read; rows, when given, receives how many it touched. */

static int
user_command(fv_worker_t *w, const char *sql, int n, const char *const *params, long *rows)
{
    PGresult  *res;
    int        rc;

    res = fv_pg_exec(w, sql, n, params);

    if ((rc = user_failed(res)) == FV_OK && rows != NULL) {
        *rows = strtol(PQcmdTuples(res), NULL, 10);
    }

    PQclear(res);
    return rc;
}


static int
user_failed(PGresult *res)
{
    if (res == NULL) {
        return FV_STORE_DOWN;
    }

    return fv_pg_ok(res) ? FV_OK : FV_ERROR;
}


/* Reads the USER_PROFILE_COLUMNS starting at column col of a row. */

static json_object *
user_profile_json(const PGresult *res, int row, int col, int admin)
{
    json_object  *o;

    o = json_object_new_object();
    if (o == NULL) {
        return NULL;
    }

    json_object_object_add(o, "id",
        json_object_new_int64(strtoll(PQgetvalue(res, row, col), NULL, 10)));
    json_object_object_add(o, "name", user_text_or_null(res, row, col + 1));
    json_object_object_add(o, "email", json_object_new_string(PQgetvalue(res, row, col + 2)));
    json_object_object_add(o, "phone", user_text_or_null(res, row, col + 3));
    json_object_object_add(o, "createdAt",
        json_object_new_string(PQgetvalue(res, row, col + 4)));

    if (admin) {
        json_object_object_add(o, "role",
            json_object_new_string(PQgetvalue(res, row, col + 5)));
        json_object_object_add(o, "active",
            json_object_new_boolean(PQgetvalue(res, row, col + 6)[0] == 't'));
        json_object_object_add(o, "updatedAt",
            json_object_new_string(PQgetvalue(res, row, col + 7)));
    }

    return o;
}


static json_object *
user_address_json(const PGresult *res, int row)
{
    json_object  *o;

    o = json_object_new_object();
    if (o == NULL) {
        return NULL;
    }

    json_object_object_add(o, "id",
        json_object_new_int64(strtoll(PQgetvalue(res, row, 0), NULL, 10)));
    json_object_object_add(o, "label", user_text_or_null(res, row, 1));
    json_object_object_add(o, "recipient", json_object_new_string(PQgetvalue(res, row, 2)));
    json_object_object_add(o, "street", json_object_new_string(PQgetvalue(res, row, 3)));
    json_object_object_add(o, "city", json_object_new_string(PQgetvalue(res, row, 4)));
    json_object_object_add(o, "region", json_object_new_string(PQgetvalue(res, row, 5)));
    json_object_object_add(o, "postalCode", user_text_or_null(res, row, 6));
    json_object_object_add(o, "phone", user_text_or_null(res, row, 7));
    json_object_object_add(o, "isDefault",
        json_object_new_boolean(PQgetvalue(res, row, 8)[0] == 't'));
    json_object_object_add(o, "createdAt", json_object_new_string(PQgetvalue(res, row, 9)));
    json_object_object_add(o, "updatedAt", json_object_new_string(PQgetvalue(res, row, 10)));

    return o;
}


/* A text column as a JSON string; NULL (JSON null) for SQL NULL. */

static json_object *
user_text_or_null(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col)) {
        return NULL;
    }

    return json_object_new_string(PQgetvalue(res, row, col));
}


static void
user_id_text(char out[24], int64_t id)
{
    (void) snprintf(out, 24, "%" PRId64, id);
}
