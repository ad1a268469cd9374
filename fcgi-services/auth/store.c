/* store.c: every query of the auth service (users, refresh-token families, password-reset
 * tokens, outbox events).  Values always travel as parameters, never inside the SQL text. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"


#define AUTH_USER_COLUMNS                                                                 \
    "id, name, email, role, "                                                             \
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "       \
    "password_hash, active, tokens_valid_after"


static PGresult *auth_db_exec(auth_db_t *db, const char *sql, int n,
    const char *const *params);
static int auth_db_command(auth_db_t *db, const char *sql, int n,
    const char *const *params, long *rows);
static int auth_db_failed(PGresult *res);
static int auth_user_row(const PGresult *res, int row, auth_user_t *user);
static int auth_copy(char *dst, size_t size, const char *src);


int
auth_store_begin(auth_db_t *db)
{
    if (db->worker != NULL) {
        return fv_pg_begin(db->worker);
    }

    return auth_db_command(db, "BEGIN", 0, NULL, NULL);
}


int
auth_store_commit(auth_db_t *db)
{
    if (db->worker != NULL) {
        return fv_pg_commit(db->worker);
    }

    return auth_db_command(db, "COMMIT", 0, NULL, NULL);
}


void
auth_store_rollback(auth_db_t *db)
{
    if (db->worker != NULL) {
        fv_pg_rollback(db->worker);
        return;
    }

    (void) auth_db_command(db, "ROLLBACK", 0, NULL, NULL);
}


int
auth_store_user_insert(auth_db_t *db, const char *name, const char *email,
    const char *password_hash, const char *role, auth_user_t *user)
{
    const char  *params[] = { name, email, password_hash, role };
    PGresult    *res;
    int          rc;

    res = auth_db_exec(db,
        "INSERT INTO users (name, email, password_hash, role) VALUES ($1, $2, $3, $4) "
        "RETURNING " AUTH_USER_COLUMNS, 4, params);

    if (res != NULL && PQresultStatus(res) == PGRES_FATAL_ERROR
        && strcmp(fv_pg_sqlstate(res), "23505") == 0)
    {
        rc = AUTH_STORE_CONFLICT;

    } else if ((rc = auth_db_failed(res)) == FV_OK) {
        rc = PQntuples(res) == 1 ? auth_user_row(res, 0, user) : FV_ERROR;
    }

    PQclear(res);
    return rc;
}


int
auth_store_user_by_email(auth_db_t *db, const char *email, auth_user_t *user)
{
    const char  *params[] = { email };
    PGresult    *res;
    int          rc;

    res = auth_db_exec(db,
        "SELECT " AUTH_USER_COLUMNS " FROM users WHERE lower(email) = lower($1)",
        1, params);

    if ((rc = auth_db_failed(res)) == FV_OK) {
        rc = PQntuples(res) == 1 ? auth_user_row(res, 0, user) : AUTH_STORE_NOT_FOUND;
    }

    PQclear(res);
    return rc;
}


int
auth_store_user_by_id(auth_db_t *db, int64_t id, auth_user_t *user)
{
    char         text[24];
    const char  *params[] = { text };
    PGresult    *res;
    int          rc;

    (void) snprintf(text, sizeof(text), "%" PRId64, id);

    res = auth_db_exec(db, "SELECT " AUTH_USER_COLUMNS " FROM users WHERE id = $1",
                       1, params);

    if ((rc = auth_db_failed(res)) == FV_OK) {
        rc = PQntuples(res) == 1 ? auth_user_row(res, 0, user) : AUTH_STORE_NOT_FOUND;
    }

    PQclear(res);
    return rc;
}


int
auth_store_user_set_password(auth_db_t *db, int64_t id, const char *old_hash,
    const char *new_hash)
{
    char         text[24];
    const char  *params[] = { text, old_hash, new_hash };
    long         rows;
    int          rc;

    (void) snprintf(text, sizeof(text), "%" PRId64, id);

    rc = auth_db_command(db,
        "UPDATE users SET password_hash = $3, updated_at = now() "
        "WHERE id = $1 AND password_hash = $2", 3, params, &rows);

    return rc == FV_OK && rows != 1 ? AUTH_STORE_NOT_FOUND : rc;
}


int
auth_store_user_set_role(auth_db_t *db, int64_t id, const char *role)
{
    char         text[24];
    const char  *params[] = { text, role };
    long         rows;
    int          rc;

    (void) snprintf(text, sizeof(text), "%" PRId64, id);

    rc = auth_db_command(db,
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1", 2, params, &rows);

    return rc == FV_OK && rows != 1 ? AUTH_STORE_NOT_FOUND : rc;
}


int
auth_store_user_set_access(auth_db_t *db, int64_t id, const char *role, int active,
    int64_t version, int *applied, int64_t *before)
{
    char         text[24], ver[24];
    const char  *params[] = { text, role, active ? "t" : "f", ver };

    PGresult    *res;
    int          rc;

    (void) snprintf(text, sizeof(text), "%" PRId64, id);
    (void) snprintf(ver, sizeof(ver), "%" PRId64, version);

    *applied = 0;
    *before = 0;

    /* The row as it was (locked) decides whether access was taken away. */
    res = auth_db_exec(db,
        "WITH old AS (SELECT id, role, active FROM users WHERE id = $1 FOR UPDATE), "
        "cut AS (SELECT floor(extract(epoch FROM clock_timestamp()))::bigint + 1 AS t) "
        "UPDATE users u SET role = $2, active = $3, access_version = $4, updated_at = now(), "
        "tokens_valid_after = CASE WHEN (old.role = 'admin' AND $2 <> 'admin') "
        "OR (old.active AND NOT $3::boolean) "
        "THEN greatest(u.tokens_valid_after, cut.t) ELSE u.tokens_valid_after END "
        "FROM old, cut WHERE u.id = old.id AND u.access_version < $4 "
        "RETURNING (old.role = 'admin' AND $2 <> 'admin') OR (old.active AND NOT $3::boolean), "
        "u.tokens_valid_after", 4, params);

    if ((rc = auth_db_failed(res)) == FV_OK && PQntuples(res) == 1) {
        *applied = 1;
        if (PQgetvalue(res, 0, 0)[0] == 't') {
            *before = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        }
    }

    PQclear(res);
    return rc;
}


int
auth_store_user_revoke_tokens(auth_db_t *db, int64_t id, int64_t *before)
{
    char         text[24];
    const char  *params[] = { text };
    PGresult    *res;
    int          rc;

    (void) snprintf(text, sizeof(text), "%" PRId64, id);

    res = auth_db_exec(db,
        "UPDATE users SET tokens_valid_after = greatest(tokens_valid_after, "
        "floor(extract(epoch FROM clock_timestamp()))::bigint + 1) "
        "WHERE id = $1 RETURNING tokens_valid_after", 1, params);

    if ((rc = auth_db_failed(res)) == FV_OK) {
        if (PQntuples(res) == 1) {
            *before = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        } else {
            rc = AUTH_STORE_NOT_FOUND;
        }
    }

    PQclear(res);
    return rc;
}


int
auth_store_revocations(auth_db_t *db, int64_t since,
    void (*fn)(int64_t user_id, int64_t before, void *arg), void *arg)
{
    char         text[24];
    const char  *params[] = { text };
    PGresult    *res;
    int          rc, i;

    (void) snprintf(text, sizeof(text), "%" PRId64, since);

    res = auth_db_exec(db,
        "SELECT id, tokens_valid_after FROM users WHERE tokens_valid_after > $1 "
        "ORDER BY id", 1, params);

    if ((rc = auth_db_failed(res)) == FV_OK) {
        for (i = 0; i < PQntuples(res); i++) {
            fn(strtoll(PQgetvalue(res, i, 0), NULL, 10),
               strtoll(PQgetvalue(res, i, 1), NULL, 10), arg);
        }
    }

    PQclear(res);
    return rc;
}


int
auth_store_event(auth_db_t *db, const char *type, json_object *data)
{
    if (db->worker != NULL) {
        return fv_outbox_add(db->worker, type, data);
    }

    return fv_outbox_add_conn(db->conn, AUTH_SERVICE, db->schema, type, data);
}


int
auth_store_event_secret(auth_db_t *db, const char *type, json_object *data)
{
    if (db->worker == NULL) {
        return FV_ERROR;
    }

    return fv_outbox_add_secret(db->worker, type, data);
}


int
auth_store_refresh_insert(auth_db_t *db, const char *hash, const char *family_id,
    int64_t user_id, long ttl)
{
    char         id[24], secs[24];
    const char  *params[] = { hash, family_id, id, secs };

    (void) snprintf(id, sizeof(id), "%" PRId64, user_id);
    (void) snprintf(secs, sizeof(secs), "%ld", ttl);

    return auth_db_command(db,
        "INSERT INTO refresh_tokens (token_hash, family_id, user_id, expires_at) "
        "VALUES ($1, $2, $3, now() + $4::bigint * interval '1 second')", 4, params, NULL);
}


int
auth_store_refresh_lock(auth_db_t *db, const char *hash, auth_refresh_t *rt)
{
    const char  *params[] = { hash };
    PGresult    *res;
    int          rc;

    res = auth_db_exec(db,
        "SELECT t.id, t.family_id, t.expires_at <= now(), t.rotated_at IS NOT NULL, "
        "t.revoked_at IS NOT NULL, u.id, u.email, u.role, u.active, u.tokens_valid_after "
        "FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = $1 FOR UPDATE OF t", 1, params);

    if ((rc = auth_db_failed(res)) != FV_OK) {
        goto out;
    }

    if (PQntuples(res) != 1) {
        rc = AUTH_STORE_NOT_FOUND;
        goto out;
    }

    memset(rt, 0, sizeof(*rt));
    rt->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    rt->expired = PQgetvalue(res, 0, 2)[0] == 't';
    rt->rotated = PQgetvalue(res, 0, 3)[0] == 't';
    rt->revoked = PQgetvalue(res, 0, 4)[0] == 't';
    rt->user.id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
    rt->user.active = PQgetvalue(res, 0, 8)[0] == 't';
    rt->user.tokens_valid_after = strtoll(PQgetvalue(res, 0, 9), NULL, 10);

    if (auth_copy(rt->family_id, sizeof(rt->family_id), PQgetvalue(res, 0, 1)) != 0
        || auth_copy(rt->user.email, sizeof(rt->user.email), PQgetvalue(res, 0, 6)) != 0
        || auth_copy(rt->user.role, sizeof(rt->user.role), PQgetvalue(res, 0, 7)) != 0)
    {
        rc = FV_ERROR;
    }

out:

    PQclear(res);
    return rc;
}


int
auth_store_refresh_rotate(auth_db_t *db, int64_t id)
{
    char         text[24];
    const char  *params[] = { text };

    (void) snprintf(text, sizeof(text), "%" PRId64, id);

    return auth_db_command(db,
        "UPDATE refresh_tokens SET rotated_at = now() WHERE id = $1", 1, params, NULL);
}


int
auth_store_family_revoke(auth_db_t *db, const char *family_id)
{
    const char  *params[] = { family_id };

    return auth_db_command(db,
        "UPDATE refresh_tokens SET revoked_at = now() "
        "WHERE family_id = $1 AND revoked_at IS NULL", 1, params, NULL);
}


int
auth_store_family_revoke_owned(auth_db_t *db, const char *hash, int64_t user_id)
{
    char         text[24];
    const char  *params[] = { hash, text };

    (void) snprintf(text, sizeof(text), "%" PRId64, user_id);

    return auth_db_command(db,
        "UPDATE refresh_tokens SET revoked_at = now() "
        "WHERE revoked_at IS NULL AND family_id = "
        "(SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2)",
        2, params, NULL);
}


int
auth_store_families_revoke_user(auth_db_t *db, int64_t user_id, const char *keep_family,
    long *sessions)
{
    char         text[24];
    const char  *params[] = { text, keep_family };
    PGresult    *res;
    int          rc;

    (void) snprintf(text, sizeof(text), "%" PRId64, user_id);

    /* A live session is a family whose newest token is neither rotated nor expired. */
    res = auth_db_exec(db,
        "WITH r AS (UPDATE refresh_tokens SET revoked_at = now() "
        "WHERE user_id = $1 AND revoked_at IS NULL "
        "AND ($2::uuid IS NULL OR family_id <> $2::uuid) "
        "RETURNING family_id, rotated_at, expires_at) "
        "SELECT count(DISTINCT family_id) FROM r "
        "WHERE rotated_at IS NULL AND expires_at > now()", 2, params);

    if ((rc = auth_db_failed(res)) == FV_OK) {
        if (PQntuples(res) == 1) {
            *sessions = strtol(PQgetvalue(res, 0, 0), NULL, 10);
        } else {
            rc = FV_ERROR;
        }
    }

    PQclear(res);
    return rc;
}


int
auth_store_reset_insert(auth_db_t *db, int64_t user_id, const char *hash, long ttl)
{
    char         id[24], secs[24];
    const char  *params[] = { id, hash, secs };
    int          rc;

    (void) snprintf(id, sizeof(id), "%" PRId64, user_id);
    (void) snprintf(secs, sizeof(secs), "%ld", ttl);

    /* Only the newest link works: the ones mailed before it stop working now. */
    rc = auth_db_command(db,
        "UPDATE password_resets SET revoked_at = now() "
        "WHERE user_id = $1 AND used_at IS NULL AND revoked_at IS NULL", 1, params, NULL);
    if (rc != FV_OK) {
        return rc;
    }

    return auth_db_command(db,
        "INSERT INTO password_resets (user_id, token_hash, expires_at) "
        "VALUES ($1, $2, now() + $3::bigint * interval '1 second')", 3, params, NULL);
}


int
auth_store_reset_lock(auth_db_t *db, const char *hash, auth_reset_row_t *rs)
{
    const char  *params[] = { hash };
    PGresult    *res;
    int          rc;

    /* The user's row is locked too: the hash read here is the one the reset replaces. */
    res = auth_db_exec(db,
        "SELECT u.id, u.name, u.email, u.role, "
        "to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
        "u.password_hash, u.active, u.tokens_valid_after, "
        "r.id, r.expires_at <= now(), r.used_at IS NOT NULL, r.revoked_at IS NOT NULL "
        "FROM password_resets r JOIN users u ON u.id = r.user_id "
        "WHERE r.token_hash = $1 FOR UPDATE OF r, u", 1, params);

    if ((rc = auth_db_failed(res)) != FV_OK) {
        goto out;
    }

    if (PQntuples(res) != 1) {
        rc = AUTH_STORE_NOT_FOUND;
        goto out;
    }

    memset(rs, 0, sizeof(*rs));
    if ((rc = auth_user_row(res, 0, &rs->user)) != FV_OK) {
        goto out;
    }

    rs->id = strtoll(PQgetvalue(res, 0, 8), NULL, 10);
    rs->expired = PQgetvalue(res, 0, 9)[0] == 't';
    rs->used = PQgetvalue(res, 0, 10)[0] == 't';
    rs->revoked = PQgetvalue(res, 0, 11)[0] == 't';

out:

    PQclear(res);
    return rc;
}


int
auth_store_reset_use(auth_db_t *db, int64_t id, int64_t user_id)
{
    char         rid[24], uid[24];
    const char  *params[] = { rid, uid };

    (void) snprintf(rid, sizeof(rid), "%" PRId64, id);
    (void) snprintf(uid, sizeof(uid), "%" PRId64, user_id);

    return auth_db_command(db,
        "UPDATE password_resets SET "
        "used_at = CASE WHEN id = $1 THEN now() END, "
        "revoked_at = CASE WHEN id = $1 THEN NULL ELSE now() END "
        "WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL", 2, params, NULL);
}


static PGresult *
auth_db_exec(auth_db_t *db, const char *sql, int n, const char *const *params)
{
    PGresult  *res;

    if (db->worker != NULL) {
        return fv_pg_exec(db->worker, sql, n, params);
    }

    res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);

    if (res == NULL || PQstatus(db->conn) != CONNECTION_OK) {
        PQclear(res);
        return NULL;
    }

    return res;
}


/* Runs a statement that returns no rows; rows, when given, receives how many it touched. */

static int
auth_db_command(auth_db_t *db, const char *sql, int n, const char *const *params,
    long *rows)
{
    PGresult  *res;
    int        rc;

    res = auth_db_exec(db, sql, n, params);

    if ((rc = auth_db_failed(res)) == FV_OK && rows != NULL) {
        *rows = strtol(PQcmdTuples(res), NULL, 10);
    }

    PQclear(res);
    return rc;
}


static int
auth_db_failed(PGresult *res)
{
    if (res == NULL) {
        return FV_STORE_DOWN;
    }

    return fv_pg_ok(res) ? FV_OK : FV_ERROR;
}


static int
auth_user_row(const PGresult *res, int row, auth_user_t *user)
{
    memset(user, 0, sizeof(*user));

    user->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
    user->active = PQgetvalue(res, row, 6)[0] == 't';
    user->tokens_valid_after = strtoll(PQgetvalue(res, row, 7), NULL, 10);

    if (auth_copy(user->name, sizeof(user->name), PQgetvalue(res, row, 1)) != 0
        || auth_copy(user->email, sizeof(user->email), PQgetvalue(res, row, 2)) != 0
        || auth_copy(user->role, sizeof(user->role), PQgetvalue(res, row, 3)) != 0
        || auth_copy(user->created_at, sizeof(user->created_at), PQgetvalue(res, row, 4)) != 0
        || auth_copy(user->password_hash, sizeof(user->password_hash),
                     PQgetvalue(res, row, 5)) != 0)
    {
        fv_log(FV_LOG_ERROR, "user %" PRId64 " has a field longer than expected", user->id);
        return FV_ERROR;
    }

    return FV_OK;
}


static int
auth_copy(char *dst, size_t size, const char *src)
{
    size_t  len;

    len = strlen(src);
    if (len >= size) {
        return -1;
    }

    memcpy(dst, src, len + 1);
    return 0;
}
