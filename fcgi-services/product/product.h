/* product.h: what the product service's files share: input limits, the process-wide
 * context, the product document's validation and views, and the handlers of the route
 * table and of the review events. */

#ifndef PRODUCT_H
#define PRODUCT_H

#include <pthread.h>
#include <stdatomic.h>
#include <bson/bson.h>
#include "fv.h"


#define PRODUCT_SERVICE          "product"

/* Input limits: characters for text, items for lists, CLP for money. */
#define PRODUCT_ID_MAX           32          /* [A-Z0-9_-] */
#define PRODUCT_NAME_MIN         2
#define PRODUCT_NAME_MAX         120
#define PRODUCT_DESCRIPTION_MIN  10
#define PRODUCT_DESCRIPTION_MAX  2000
#define PRODUCT_PRICE_MAX        100000000L
#define PRODUCT_STOCK_MAX        1000000L
#define PRODUCT_SLUG_MIN         2           /* category and occasion slugs: [a-z0-9_-] */
#define PRODUCT_SLUG_MAX         50
#define PRODUCT_TEXT_MAX         200         /* size, delivery_time, a flower, an extra */
#define PRODUCT_CARE_MAX         1000
#define PRODUCT_COLOR_MAX        40
#define PRODUCT_URL_MAX          500
#define PRODUCT_LIST_MAX         30          /* items of flowers, colors, occasions, ... */
#define PRODUCT_SEARCH_MIN       2
#define PRODUCT_SEARCH_MAX       100
#define PRODUCT_FILTER_MAX       50          /* category, occasion, color in a query */

/* Review events applied to a product, remembered so that a redelivery changes nothing. */
#define PRODUCT_EVENTS_KEPT      500

/* Public reads: clients may keep a copy but revalidate it (ETag) every time; the gateway's
 * cache holds it and is bumped by the header below on every successful admin write. */
#define PRODUCT_CACHE_PUBLIC     "public, no-cache"
#define PRODUCT_CACHE_PRIVATE    "private, no-store"
#define PRODUCT_INVALIDATE       "X-Flores-Cache-Invalidate"


/* Built by product_init() before the workers start.  The seed and the indexes are applied
 * once MongoDB answers: at start, or by the first request after it came back. */
typedef struct {
    json_object             *seed;          /* the validated seed products, until applied */
    char                    *seed_file;
    atomic_int               ready;         /* indexes made and seed applied */
    pthread_mutex_t          setup_lock;    /* one attempt at a time, without waiting */
    double                   setup_at;      /* ms of the last attempt, under setup_lock */
} product_ctx_t;


/* ---- the product document (product.c) -------------------------------------------------- */

typedef enum {
    PRODUCT_CREATE = 0,     /* POST: every required field, id included */
    PRODUCT_REPLACE,        /* PUT: every required field; id from the path */
    PRODUCT_PATCH           /* PATCH: any subset */
} product_mode_e;

/* Validates a body (already parsed; normalised in place) for mode, adding every bad field
 * to e.  Beyond types and bounds: ids and slugs by pattern, image addresses, original_price
 * not below price, and no key (at any depth) that starts with '$' or holds a '.'. */
size_t product_validate(json_object *body, product_mode_e mode, const char *path_id,
    fv_errors_t *e);
/* Appends a validated body's fields as stored (nameKey beside name); a whole product
 * (PRODUCT_CREATE, PRODUCT_REPLACE) gets every field, absent ones empty. */
void product_fields_bson(json_object *body, product_mode_e mode, bson_t *doc);
/* The view of a stored product that replies show; NULL when out of memory. */
json_object *product_view(const bson_t *doc);
json_object *product_rating_json(double rating);

int product_id_ok(const char *id);
/* The $regex that matches text literally (caller frees); NULL when out of memory. */
char *product_search_pattern(const char *text);
/* A lower-case, accent-free copy of a name for sorting (out holds len + 1 bytes). */
void product_name_key(const char *name, char *out, size_t size);
/* The display name of a category or occasion slug ("cumpleanos" -> "Cumpleaños"). */
const char *product_slug_name(const char *slug, char *buf, size_t size);


/* ---- replies (handlers.c) ----------------------------------------------------------- */

int product_list(fv_req_t *r);
int product_get(fv_req_t *r);
int product_categories(fv_req_t *r);
int product_occasions(fv_req_t *r);
int product_create(fv_req_t *r);
int product_replace(fv_req_t *r);
int product_patch(fv_req_t *r);
int product_stock(fv_req_t *r);
int product_delete(fv_req_t *r);
/* True when an If-None-Match header names etag ("*", a list, weak forms compared weakly). */
int product_etag_match(const char *header, const char *etag);


/* ---- review events (events.c) ------------------------------------------------------- */

int product_review_event(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);

#endif /* PRODUCT_H */
