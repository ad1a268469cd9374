/* store.h: every query of the user service (profiles, addresses, outbox). */

#ifndef USER_STORE_H
#define USER_STORE_H

#include <stdint.h>
#include "fv.h"
#include "user.h"


/* Besides FV_OK, FV_ERROR and FV_STORE_DOWN, store calls return: */
#define USER_STORE_NOT_FOUND   2    /* no such profile or address (of this user) */
#define USER_STORE_FULL        3    /* the user has USER_ADDRESSES_MAX addresses */


/* An address as the client gives it; NULL members are absent. */
typedef struct {
    const char           *label;
    const char           *recipient;
    const char           *street;
    const char           *city;
    const char           *region;
    const char           *postal_code;
    const char           *phone;         /* normalised */
    int                   is_default;    /* 1, 0, or -1: not said */
} user_address_t;

/* A profile's role and active flag, locked for a change. */
typedef struct {
    int64_t               id;
    char                  role[16];
    int                   active;
    int64_t               version;
} user_access_t;


int user_store_begin(fv_worker_t *w);
int user_store_commit(fv_worker_t *w);
void user_store_rollback(fv_worker_t *w);

/* The profile {id, name, email, phone, createdAt} (admin: also role, active, updatedAt);
 * USER_STORE_NOT_FOUND when there is none. */
int user_store_profile(fv_worker_t *w, int64_t id, int admin, json_object **profile);
/* Creates the profile from the access token's identity unless it exists (email NULL: never),
 * and locks it until the transaction ends; USER_STORE_NOT_FOUND when there is none. */
int user_store_profile_ensure(fv_worker_t *w, int64_t id, const char *email, const char *role);
/* name NULL: unchanged; phone NULL: unchanged, "": removed. */
int user_store_profile_update(fv_worker_t *w, int64_t id, const char *name, const char *phone);

/* user.registered: creates the profile, or completes one made on first use (the name it
 * lacked; its role unless an administrator changed it since). */
int user_store_registered(fv_worker_t *w, int64_t id, const char *name, const char *email,
    const char *role, const char *created_at);

/* The user's addresses, the default first, then newest first. */
int user_store_addresses(fv_worker_t *w, int64_t user_id, json_object **list);
/* In a transaction holding the profile (user_store_profile_ensure()).  The first address is
 * the default; a new default unsets the former one. */
int user_store_address_insert(fv_worker_t *w, int64_t user_id, const user_address_t *a,
    int64_t *id);
int user_store_address_update(fv_worker_t *w, int64_t user_id, int64_t id,
    const user_address_t *a);
/* Deleting the default makes the most recent other address the default. */
int user_store_address_delete(fv_worker_t *w, int64_t user_id, int64_t id);
/* One address of the user as JSON. */
int user_store_address(fv_worker_t *w, int64_t user_id, int64_t id, json_object **address);

/* One page of profiles, newest first; pattern: a LIKE pattern over name and email, or NULL. */
int user_store_list(fv_worker_t *w, const char *pattern, long page, long limit,
    json_object **users, long *total);
/* SELECT ... FOR UPDATE of a profile's role and active flag. */
int user_store_access_lock(fv_worker_t *w, int64_t id, user_access_t *acc);
/* Sets role and active, bumps the version (acc->version receives the new one). */
int user_store_access_set(fv_worker_t *w, user_access_t *acc);
/* The one way role and active change, in the caller's open transaction, whoever asks (an
 * administrator's PATCH, flores-admin's user.role_change_requested): locks the profile,
 * applies role (NULL: unchanged) and active (-1: unchanged); when that changes anything,
 * bumps the version and writes user.role_changed {userId, role, active, version} to the
 * outbox.  acc receives the profile's access as it now is, changed whether it changed;
 * USER_STORE_NOT_FOUND when there is no profile. */
int user_store_access_change(fv_worker_t *w, int64_t id, const char *role, int active,
    user_access_t *acc, int *changed);
/* Writes an event to the outbox in the open transaction; data stays the caller's. */
int user_store_event(fv_worker_t *w, const char *type, json_object *data);

#endif /* USER_STORE_H */
