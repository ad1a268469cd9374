/* store.h: every query of the auth service (users, refresh-token families, password-reset
 * tokens, outbox events). */

#ifndef AUTH_STORE_H
#define AUTH_STORE_H

#include <stdint.h>
#include "fv.h"
#include "auth.h"


/* Besides FV_OK, FV_ERROR and FV_STORE_DOWN, store calls return: */
#define AUTH_STORE_CONFLICT    1    /* a unique key is taken */
#define AUTH_STORE_NOT_FOUND   2    /* no such row, or it changed meanwhile */


/* Where the queries go: a worker's connection in the service, a connection of its own in
 * flores-admin. */
typedef struct {
    fv_worker_t          *worker;
    PGconn               *conn;
    const char           *schema;      /* flores-admin: the schema conn works in */
} auth_db_t;

typedef struct {
    int64_t               id;
    char                  name[AUTH_NAME_MAX * 4 + 1];
    char                  email[AUTH_EMAIL_MAX * 4 + 1];
    char                  role[16];
    char                  created_at[32];          /* ISO-8601 UTC */
    char                  password_hash[AUTH_HASH_MAX];
    int                   active;
    int64_t               tokens_valid_after;      /* unix seconds: no token before it */
} auth_user_t;

/* A refresh token, locked until the transaction ends, and its owner as they are now. */
typedef struct {
    int64_t               id;
    char                  family_id[37];
    int                   expired;
    int                   rotated;
    int                   revoked;
    auth_user_t           user;                    /* id, email, role, active */
} auth_refresh_t;


/* A password-reset token and its owner, both locked until the transaction ends. */
typedef struct {
    int64_t               id;
    int                   expired;
    int                   used;
    int                   revoked;
    auth_user_t           user;
} auth_reset_row_t;


int auth_store_begin(auth_db_t *db);
int auth_store_commit(auth_db_t *db);
void auth_store_rollback(auth_db_t *db);

/* Inserts an account; AUTH_STORE_CONFLICT when the email is taken in any case. */
int auth_store_user_insert(auth_db_t *db, const char *name, const char *email,
    const char *password_hash, const char *role, auth_user_t *user);
int auth_store_user_by_email(auth_db_t *db, const char *email, auth_user_t *user);
int auth_store_user_by_id(auth_db_t *db, int64_t id, auth_user_t *user);
/* Replaces the hash only if it is still old_hash; AUTH_STORE_NOT_FOUND otherwise. */
int auth_store_user_set_password(auth_db_t *db, int64_t id, const char *old_hash,
    const char *new_hash);
int auth_store_user_set_role(auth_db_t *db, int64_t id, const char *role);
/* Sets role and active from a change of this version unless a later one was applied;
 * applied receives 1 when the account changed, 0 when it is unknown or the change stale.
 * A change that takes access away (admin to customer, active to inactive) also revokes the
 * user's access tokens: before receives the new cutoff, 0 when none was set. */
int auth_store_user_set_access(auth_db_t *db, int64_t id, const char *role, int active,
    int64_t version, int *applied, int64_t *before);
/* Revokes every access token of the user minted before now + 1 s (tokens_valid_after, never
 * lowered); before receives the cutoff. */
int auth_store_user_revoke_tokens(auth_db_t *db, int64_t id, int64_t *before);
/* Calls fn for each user whose cutoff is later than since (unix seconds). */
int auth_store_revocations(auth_db_t *db, int64_t since,
    void (*fn)(int64_t user_id, int64_t before, void *arg), void *arg);
/* Writes an event to the outbox in the open transaction; data stays the caller's. */
int auth_store_event(auth_db_t *db, const char *type, json_object *data);
/* The same for an event whose data is a secret (a reset link): redacted once published. */
int auth_store_event_secret(auth_db_t *db, const char *type, json_object *data);

int auth_store_refresh_insert(auth_db_t *db, const char *hash, const char *family_id,
    int64_t user_id, long ttl);
/* SELECT ... FOR UPDATE; AUTH_STORE_NOT_FOUND for an unknown hash. */
int auth_store_refresh_lock(auth_db_t *db, const char *hash, auth_refresh_t *rt);
int auth_store_refresh_rotate(auth_db_t *db, int64_t id);
/* Revokes every token of a family that is not revoked yet. */
int auth_store_family_revoke(auth_db_t *db, const char *family_id);
/* Revokes the family of the token with this hash if user_id owns it. */
int auth_store_family_revoke_owned(auth_db_t *db, const char *hash, int64_t user_id);
/* Revokes every family of the user but keep_family (NULL: all of them); sessions is the
 * number of live sessions ended. */
int auth_store_families_revoke_user(auth_db_t *db, int64_t user_id, const char *keep_family,
    long *sessions);

/* Revokes the user's unused reset tokens and stores a new one valid for ttl seconds. */
int auth_store_reset_insert(auth_db_t *db, int64_t user_id, const char *hash, long ttl);
/* SELECT ... FOR UPDATE of the token and its user; AUTH_STORE_NOT_FOUND for an unknown hash. */
int auth_store_reset_lock(auth_db_t *db, const char *hash, auth_reset_row_t *rs);
/* Marks the token used and revokes the user's other unused ones. */
int auth_store_reset_use(auth_db_t *db, int64_t id, int64_t user_id);

#endif /* AUTH_STORE_H */
