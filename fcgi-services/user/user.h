/* user.h: what the user service's files share: input limits, the handlers named by the route
 * table and the event consumer. */

#ifndef USER_H
#define USER_H

#include "fv.h"


#define USER_SERVICE          "user"

/* Input limits, in characters. */
#define USER_NAME_MIN         2
#define USER_NAME_MAX         100
#define USER_EMAIL_MAX        254
#define USER_PHONE_MAX        30       /* as typed, with spaces and punctuation */
#define USER_PHONE_LEN        16       /* "+" and at most 15 digits (E.164) */
#define USER_LABEL_MAX        40
#define USER_RECIPIENT_MIN    2
#define USER_RECIPIENT_MAX    100
#define USER_STREET_MIN       3
#define USER_STREET_MAX       200
#define USER_PLACE_MIN        2        /* city, region */
#define USER_PLACE_MAX        100
#define USER_POSTAL_MAX       16
#define USER_SEARCH_MAX       100

/* Addresses one user may keep. */
#define USER_ADDRESSES_MAX    20


int user_me_get(fv_req_t *r);
int user_me_patch(fv_req_t *r);
int user_address_list(fv_req_t *r);
int user_address_create(fv_req_t *r);
int user_address_update(fv_req_t *r);
int user_address_delete(fv_req_t *r);
int user_admin_list(fv_req_t *r);
int user_admin_get(fv_req_t *r);
int user_admin_patch(fv_req_t *r);
int user_internal_address(fv_req_t *r);

int user_on_registered(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);
int user_on_role_change_requested(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);
/* The profiles queue: user.registered and user.role_change_requested. */
int user_on_profile_event(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);

/* A Chilean or E.164 number as "+<digits>" (out holds USER_PHONE_LEN + 1 bytes); -1 when
 * it is not one. */
int user_phone_normalize(const char *in, char *out);
/* A Chilean postal code: 7 digits. */
int user_postal_ok(const char *s);
/* The LIKE pattern that finds search literally: "%", search with \, % and _ escaped, "%";
 * -1 when it does not fit in size bytes. */
int user_search_pattern(const char *search, char *out, size_t size);

#endif /* USER_H */
