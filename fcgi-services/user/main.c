/* main.c: the user service: customers' profiles and delivery addresses under /api/users/me,
 * and the administrators' view of every account under /api/users. */

#include "config.h"

#include <stdlib.h>

#include "user.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }


/* Both optional; an empty phone removes it. */
static const fv_field_t  profile_body[] = {
    { "name",        FV_STRING, FV_NULLABLE | FV_TRIM, USER_NAME_MIN, USER_NAME_MAX, NULL, NULL },
    { "phone",       FV_STRING, FV_NULLABLE | FV_TRIM, 0, USER_PHONE_MAX, NULL, NULL },
    FIELDS_END
};

/* Create and replace take the same body; isDefault absent keeps what the address was. */
static const fv_field_t  address_body[] = {
    { "label",       FV_STRING, FV_NULLABLE | FV_TRIM, 0, USER_LABEL_MAX, NULL, NULL },
    { "recipient",   FV_STRING, FV_REQUIRED | FV_TRIM, USER_RECIPIENT_MIN, USER_RECIPIENT_MAX,
                     NULL, NULL },
    { "street",      FV_STRING, FV_REQUIRED | FV_TRIM, USER_STREET_MIN, USER_STREET_MAX,
                     NULL, NULL },
    { "city",        FV_STRING, FV_REQUIRED | FV_TRIM, USER_PLACE_MIN, USER_PLACE_MAX,
                     NULL, NULL },
    { "region",      FV_STRING, FV_REQUIRED | FV_TRIM, USER_PLACE_MIN, USER_PLACE_MAX,
                     NULL, NULL },
    { "postalCode",  FV_STRING, FV_NULLABLE | FV_TRIM, 0, USER_POSTAL_MAX, NULL, NULL },
    { "phone",       FV_STRING, FV_NULLABLE | FV_TRIM, 0, USER_PHONE_MAX, NULL, NULL },
    { "isDefault",   FV_BOOL,   FV_NULLABLE, 0, 0, NULL, NULL },
    FIELDS_END
};

static const char *const  roles[] = { "customer", "admin", NULL };

static const fv_field_t  admin_body[] = {
    { "role",        FV_ENUM,   FV_NULLABLE, 0, 0, roles, NULL },
    { "active",      FV_BOOL,   FV_NULLABLE, 0, 0, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  list_query[] = {
    { "page",        FV_INT,    0, 1, 1000000, NULL, NULL },
    { "limit",       FV_INT,    0, 1, 100, NULL, NULL },
    { "search",      FV_STRING, FV_TRIM, 1, USER_SEARCH_MAX, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  no_query[] = {
    FIELDS_END
};


static const fv_route_t  user_routes[] = {
    { "GET",    "/api/users/me",               FV_USER,  NULL, no_query, user_me_get },
    { "PATCH",  "/api/users/me",               FV_USER,  profile_body, no_query, user_me_patch },
    { "GET",    "/api/users/me/addresses",     FV_USER,  NULL, no_query, user_address_list },
    { "POST",   "/api/users/me/addresses",     FV_USER,  address_body, no_query,
                                               user_address_create },
    { "PUT",    "/api/users/me/addresses/:id", FV_USER,  address_body, no_query,
                                               user_address_update },
    { "DELETE", "/api/users/me/addresses/:id", FV_USER,  NULL, no_query, user_address_delete },
    { "GET",    "/api/users",                  FV_ADMIN, NULL, list_query, user_admin_list },
    { "GET",    "/api/users/:id",              FV_ADMIN, NULL, no_query, user_admin_get },
    { "PATCH",  "/api/users/:id",              FV_ADMIN, admin_body, no_query, user_admin_patch },
    /* Other services (the order service reading a saved address), through the gateway's
     * internal listener. */
    { "GET",    "/api/users/internal/:userId/addresses/:id", FV_SERVICE, NULL, no_query,
                                               user_internal_address },
    FV_ROUTES_END
};


/* One queue, so that a promotion asked for right after a registration finds the profile. */
static const char *const  profile_bindings[] = {
    "user.registered", "user.role_change_requested", NULL
};

static const fv_consumer_t  user_consumers[] = {
    /* Profiles of new accounts, and flores-admin's role changes (queue user.profiles). */
    { "profiles",   profile_bindings, user_on_profile_event, 0, 0 },
    { NULL, NULL, NULL, 0, 0 }
};


static const fv_service_t  user_service = {
    USER_SERVICE,
    user_routes,
    FV_STORE_PG,
    1,                  /* user.role_changed leaves through the outbox */
    NULL,
    NULL,
    user_consumers
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &user_service);
}
