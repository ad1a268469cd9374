/* handlers.c: the user endpoints.  The route table has already checked the caller and the
 * body; a handler reads its fields, calls the store and answers, leaving by one exit. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "user.h"
#include "store.h"


#define USER_MSG_PROFILE       "Perfil no encontrado"
#define USER_MSG_ADDRESS       "Dirección no encontrada"
#define USER_MSG_USER          "Usuario no encontrado"
#define USER_MSG_PHONE         "debe ser un teléfono chileno (+56 9 1234 5678) o internacional (+código y número)"
#define USER_MSG_POSTAL        "debe ser un código postal chileno de 7 dígitos"


static int user_profile_hold(fv_req_t *r);
static const char *user_text(const fv_req_t *r, const char *name);
static int user_bool(const fv_req_t *r, const char *name);
static int user_address_read(fv_req_t *r, user_address_t *a, char *phone);
static int user_profile_reply(fv_req_t *r, int status, int64_t id, int admin,
    const char *message);
static int user_address_reply(fv_req_t *r, int status, int64_t user_id, int64_t id,
    const char *message);


/*
 * The profile exists once user.registered has been handled.  A request that comes first
 * (the event is on its way) creates it from the access token's identity: id, email and role;
 * the name follows with the event.  So a signed-in user always has a profile.
 */

int
user_me_get(fv_req_t *r)
{
    int64_t  id;
    int      rc, open;

    open = 0;
    id = fv_req_user_id(r);

    rc = user_profile_reply(r, 200, id, 0, NULL);
    if (rc != USER_STORE_NOT_FOUND) {
        goto out;
    }

    if ((rc = user_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = user_profile_hold(r);
    if (rc == USER_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "PROFILE_NOT_FOUND", USER_MSG_PROFILE);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = user_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    rc = user_profile_reply(r, 200, id, 0, NULL);
    if (rc == USER_STORE_NOT_FOUND) {
        rc = FV_ERROR;
    }

out:

    if (open) {
        user_store_rollback(r->worker);
    }

    return rc;
}


int
user_me_patch(fv_req_t *r)
{
    const char  *name, *phone;
    char         e164[USER_PHONE_LEN + 1];
    int64_t      id;
    int          rc, open;

    open = 0;
    id = fv_req_user_id(r);

    name = user_text(r, "name");
    phone = user_text(r, "phone");

    if (phone != NULL && phone[0] != '\0') {
        if (user_phone_normalize(phone, e164) != 0) {
            rc = fv_fail_field(r, "phone", USER_MSG_PHONE);
            goto out;
        }
        phone = e164;
    }

    if (name != NULL && name[0] == '\0') {
        name = NULL;
    }

    if ((rc = user_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = user_profile_hold(r);
    if (rc == USER_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "PROFILE_NOT_FOUND", USER_MSG_PROFILE);
        goto out;
    }

    if (rc != FV_OK || (rc = user_store_profile_update(r->worker, id, name, phone)) != FV_OK) {
        rc = rc == USER_STORE_NOT_FOUND ? FV_ERROR : rc;
        goto out;
    }

    open = 0;
    if ((rc = user_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    rc = user_profile_reply(r, 200, id, 0, "Perfil actualizado");
    if (rc == USER_STORE_NOT_FOUND) {
        rc = FV_ERROR;
    }

out:

    if (open) {
        user_store_rollback(r->worker);
    }

    return rc;
}


int
user_address_list(fv_req_t *r)
{
    json_object  *list, *data;
    int           rc;

    list = NULL;

    rc = user_store_addresses(r->worker, fv_req_user_id(r), &list);
    if (rc != FV_OK) {
        return rc;
    }

    data = json_object_new_object();
    json_object_object_add(data, "addresses", list);

    return fv_reply(r, 200, data, NULL);
}


int
user_address_create(fv_req_t *r)
{
    user_address_t  a;
    char            phone[USER_PHONE_LEN + 1];
    int64_t         user_id, id;
    int             rc, open;

    open = 0;
    id = 0;
    user_id = fv_req_user_id(r);

    if (user_address_read(r, &a, phone) != 0) {
        return FV_OK;
    }

    if ((rc = user_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = user_profile_hold(r);
    if (rc == USER_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "PROFILE_NOT_FOUND", USER_MSG_PROFILE);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    rc = user_store_address_insert(r->worker, user_id, &a, &id);
    if (rc == USER_STORE_FULL) {
        rc = fv_fail(r, 409, "ADDRESS_LIMIT",
                     "Alcanzaste el máximo de direcciones guardadas; elimina alguna primero");
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = user_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    rc = user_address_reply(r, 201, user_id, id, "Dirección guardada");

out:

    if (open) {
        user_store_rollback(r->worker);
    }

    return rc;
}


/* Another user's address is answered like one that does not exist. */

int
user_address_update(fv_req_t *r)
{
    user_address_t  a;
    char            phone[USER_PHONE_LEN + 1];
    int64_t         user_id, id;
    int             rc, open;

    open = 0;
    user_id = fv_req_user_id(r);

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        return fv_fail(r, 404, "NOT_FOUND", USER_MSG_ADDRESS);
    }

    if (user_address_read(r, &a, phone) != 0) {
        return FV_OK;
    }

    if ((rc = user_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = user_profile_hold(r);
    if (rc == FV_OK) {
        rc = user_store_address_update(r->worker, user_id, id, &a);
    }

    if (rc == USER_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "NOT_FOUND", USER_MSG_ADDRESS);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = user_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    rc = user_address_reply(r, 200, user_id, id, "Dirección actualizada");

out:

    if (open) {
        user_store_rollback(r->worker);
    }

    return rc;
}


int
user_address_delete(fv_req_t *r)
{
    json_object  *data;
    int64_t       user_id, id;
    int           rc, open;

    open = 0;
    user_id = fv_req_user_id(r);

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        return fv_fail(r, 404, "NOT_FOUND", USER_MSG_ADDRESS);
    }

    if ((rc = user_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = user_profile_hold(r);
    if (rc == FV_OK) {
        rc = user_store_address_delete(r->worker, user_id, id);
    }

    if (rc == USER_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "NOT_FOUND", USER_MSG_ADDRESS);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    open = 0;
    if ((rc = user_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    data = json_object_new_object();
    json_object_object_add(data, "id", json_object_new_int64(id));
    rc = fv_reply(r, 200, data, "Dirección eliminada");

out:

    if (open) {
        user_store_rollback(r->worker);
    }

    return rc;
}


/* ?search= matches name or email containing the text literally: %, _ and \ are escaped. */

int
user_admin_list(fv_req_t *r)
{
    json_object  *users, *data, *pagination;
    const char   *search;
    char          pattern[USER_SEARCH_MAX * 4 * 2 + 3];
    long          page, limit, total;
    int           rc;

    users = NULL;

    if (fv_req_page(r, &page, &limit) != 0) {
        return FV_OK;
    }

    search = NULL;
    if (json_object_object_get_ex(r->args, "search", &data) && data != NULL) {
        if (user_search_pattern(json_object_get_string(data), pattern, sizeof(pattern)) != 0) {
            return fv_fail_field(r, "search", "es demasiado largo");
        }
        search = pattern;
    }

    rc = user_store_list(r->worker, search, page, limit, &users, &total);
    if (rc != FV_OK) {
        return rc;
    }

    pagination = json_object_new_object();
    json_object_object_add(pagination, "page", json_object_new_int64(page));
    json_object_object_add(pagination, "limit", json_object_new_int64(limit));
    json_object_object_add(pagination, "total", json_object_new_int64(total));
    json_object_object_add(pagination, "pages", json_object_new_int64((total + limit - 1) / limit));

    data = json_object_new_object();
    json_object_object_add(data, "users", users);
    json_object_object_add(data, "pagination", pagination);

    return fv_reply(r, 200, data, NULL);
}


int
user_admin_get(fv_req_t *r)
{
    int64_t  id;
    int      rc;

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        return fv_fail(r, 404, "NOT_FOUND", USER_MSG_USER);
    }

    rc = user_profile_reply(r, 200, id, 1, NULL);
    if (rc == USER_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "NOT_FOUND", USER_MSG_USER);
    }

    return rc;
}


/* One saved address of a user, for another service (the order service copies it into an
 * order): 404 NOT_FOUND when that user has no such address. */

int
user_internal_address(fv_req_t *r)
{
    json_object  *address, *data;
    int64_t       user_id, id;
    int           rc;

    address = NULL;
    user_id = fv_req_path_id(r, "userId");
    id = fv_req_path_id(r, "id");

    if (user_id <= 0 || id <= 0) {
        return fv_fail(r, 404, "NOT_FOUND", USER_MSG_ADDRESS);
    }

    rc = user_store_address(r->worker, user_id, id, &address);
    if (rc == USER_STORE_NOT_FOUND) {
        return fv_fail(r, 404, "NOT_FOUND", USER_MSG_ADDRESS);
    }

    if (rc != FV_OK) {
        return rc;
    }

    data = json_object_new_object();
    json_object_object_add(data, "address", address);

    return fv_reply(r, 200, data, NULL);
}


/*
 * role and active change together with a user.role_changed event in the outbox (one
 * transaction): the auth service applies it, so the user's next token carries the role and a
 * deactivated account can neither sign in nor refresh.  The event carries the profile's
 * version, so that auth applies changes in the order they were made.  An administrator
 * cannot demote or deactivate themselves (409), so the shop never loses its last one by a
 * slip.  A change to what already is publishes nothing.  flores-admin's promotions and
 * demotions come the same way (user_store_access_change), as user.role_change_requested.
 */

int
user_admin_patch(fv_req_t *r)
{
    user_access_t   acc;
    const char     *role;
    int64_t         id;
    int             rc, open, active, changed;

    open = 0;

    id = fv_req_path_id(r, "id");
    if (id <= 0) {
        rc = fv_fail(r, 404, "NOT_FOUND", USER_MSG_USER);
        goto out;
    }

    role = user_text(r, "role");
    active = user_bool(r, "active");

    if (role == NULL && active < 0) {
        rc = fv_fail_field(r, "role", "indica role o active");
        goto out;
    }

    if (id == fv_req_user_id(r)
        && ((role != NULL && strcmp(role, "admin") != 0) || active == 0))
    {
        rc = fv_fail(r, 409, "CANNOT_CHANGE_SELF",
                     "No puedes quitarte el rol de administrador ni desactivar tu propia cuenta");
        goto out;
    }

    if ((rc = user_store_begin(r->worker)) != FV_OK) {
        goto out;
    }

    open = 1;

    rc = user_store_access_change(r->worker, id, role, active, &acc, &changed);
    if (rc == USER_STORE_NOT_FOUND) {
        rc = fv_fail(r, 404, "NOT_FOUND", USER_MSG_USER);
        goto out;
    }

    if (rc != FV_OK) {
        goto out;
    }

    if (changed) {
        fv_log_req(r, FV_LOG_INFO, "user %" PRId64 " is now %s, %s (version %" PRId64 ")",
                   acc.id, acc.role, acc.active ? "active" : "inactive", acc.version);
    }

    open = 0;
    if ((rc = user_store_commit(r->worker)) != FV_OK) {
        goto out;
    }

    rc = user_profile_reply(r, 200, id, 1, changed ? "Usuario actualizado" : "Sin cambios");
    if (rc == USER_STORE_NOT_FOUND) {
        rc = FV_ERROR;
    }

out:

    if (open) {
        user_store_rollback(r->worker);
    }

    return rc;
}


/* In the caller's transaction: the caller's profile, made from the token's identity when it
 * does not exist yet, locked until the transaction ends. */

static int
user_profile_hold(fv_req_t *r)
{
    const char  *email;

    email = r->user_email != NULL && r->user_email[0] != '\0' ? r->user_email : NULL;

    return user_store_profile_ensure(r->worker, fv_req_user_id(r), email, r->user_role);
}


/* A string field of the validated body; NULL when absent or null. */

static const char *
user_text(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (r->body == NULL || !json_object_object_get_ex(r->body, name, &v)
        || !json_object_is_type(v, json_type_string))
    {
        return NULL;
    }

    return json_object_get_string(v);
}


/* 1, 0, or -1 when absent or null. */

static int
user_bool(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (r->body == NULL || !json_object_object_get_ex(r->body, name, &v)
        || !json_object_is_type(v, json_type_boolean))
    {
        return -1;
    }

    return json_object_get_boolean(v) ? 1 : 0;
}


/* Reads and checks an address body; on a bad field the 400 has been sent and -1 returned.
 * Blank optional fields are absent. */

static int
user_address_read(fv_req_t *r, user_address_t *a, char *phone)
{
    fv_errors_t  *e;

    a->label = user_text(r, "label");
    a->recipient = user_text(r, "recipient");
    a->street = user_text(r, "street");
    a->city = user_text(r, "city");
    a->region = user_text(r, "region");
    a->postal_code = user_text(r, "postalCode");
    a->phone = user_text(r, "phone");
    a->is_default = user_bool(r, "isDefault");

    if (a->label != NULL && a->label[0] == '\0') {
        a->label = NULL;
    }
    if (a->postal_code != NULL && a->postal_code[0] == '\0') {
        a->postal_code = NULL;
    }
    if (a->phone != NULL && a->phone[0] == '\0') {
        a->phone = NULL;
    }

    e = fv_errors_new();
    if (e == NULL) {
        (void) fv_error(r, 500, "INTERNAL_ERROR", "Error interno del servidor");
        return -1;
    }

    if (a->postal_code != NULL && !user_postal_ok(a->postal_code)) {
        fv_errors_add(e, "postalCode", USER_MSG_POSTAL);
    }

    if (a->phone != NULL) {
        if (user_phone_normalize(a->phone, phone) != 0) {
            fv_errors_add(e, "phone", USER_MSG_PHONE);
        } else {
            a->phone = phone;
        }
    }

    if (fv_errors_count(e) > 0) {
        (void) fv_fail_errors(r, e);
        return -1;
    }

    fv_errors_free(e);
    return 0;
}


static int
user_profile_reply(fv_req_t *r, int status, int64_t id, int admin, const char *message)
{
    json_object  *profile, *data;
    int           rc;

    profile = NULL;

    rc = user_store_profile(r->worker, id, admin, &profile);
    if (rc != FV_OK) {
        return rc;
    }

    data = json_object_new_object();
    json_object_object_add(data, admin ? "user" : "profile", profile);

    return fv_reply(r, status, data, message);
}


static int
user_address_reply(fv_req_t *r, int status, int64_t user_id, int64_t id, const char *message)
{
    json_object  *address, *data;
    int           rc;

    address = NULL;

    rc = user_store_address(r->worker, user_id, id, &address);
    if (rc != FV_OK) {
        return rc == USER_STORE_NOT_FOUND ? FV_ERROR : rc;
    }

    data = json_object_new_object();
    json_object_object_add(data, "address", address);

    return fv_reply(r, status, data, message);
}
