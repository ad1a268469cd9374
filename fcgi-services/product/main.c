/* main.c: the product service: the catalogue under /api/products, on MongoDB. */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "product.h"
#include "store.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }


static const char *const  list_sorts[] = {
    "price", "-price", "name", "-rating", "-createdAt", NULL
};

/* Every filter is taken literally: a value is a string compared for equality (category,
 * occasion, color) or searched as a literal (search), never parsed into an operator; keys
 * the table does not name ("category[$ne]") are not arguments at all. */
static const fv_field_t  list_query[] = {
    { "category",        FV_STRING, 0, 1, PRODUCT_FILTER_MAX, NULL, NULL },
    { "occasion",        FV_STRING, 0, 1, PRODUCT_FILTER_MAX, NULL, NULL },
    { "color",           FV_STRING, 0, 1, PRODUCT_FILTER_MAX, NULL, NULL },
    { "minPrice",        FV_INT,    0, 0, PRODUCT_PRICE_MAX, NULL, NULL },
    { "maxPrice",        FV_INT,    0, 0, PRODUCT_PRICE_MAX, NULL, NULL },
    { "featured",        FV_BOOL,   0, 0, 0, NULL, NULL },
    { "search",          FV_STRING, FV_TRIM, PRODUCT_SEARCH_MIN, PRODUCT_SEARCH_MAX,
                         NULL, NULL },
    { "sort",            FV_ENUM,   0, 0, 0, list_sorts, NULL },
    { "page",            FV_INT,    0, 1, 1000000, NULL, NULL },
    { "limit",           FV_INT,    0, 1, 100, NULL, NULL },
    /* administrators only; ignored for everyone else */
    { "includeInactive", FV_BOOL,   0, 0, 0, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  no_query[] = {
    FIELDS_END
};

/* Products are validated whole by product_validate(), so that a reply lists every bad
 * field, patterns included: the table only asks for a JSON object. */
static const fv_field_t  product_body[] = {
    FIELDS_END
};

static const fv_field_t  stock_body[] = {
    { "stock",           FV_INT,    0, 0, PRODUCT_STOCK_MAX, NULL, NULL },
    { "delta",           FV_INT,    0, -PRODUCT_STOCK_MAX, PRODUCT_STOCK_MAX, NULL, NULL },
    FIELDS_END
};


static const fv_route_t  product_routes[] = {
    { "GET",    "/api/products",            FV_PUBLIC, NULL, list_query, product_list },
    { "POST",   "/api/products",            FV_ADMIN, product_body, no_query, product_create },
    { "GET",    "/api/products/categories", FV_PUBLIC, NULL, no_query, product_categories },
    { "GET",    "/api/products/occasions",  FV_PUBLIC, NULL, no_query, product_occasions },
    { "GET",    "/api/products/:id",        FV_PUBLIC, NULL, no_query, product_get },
    { "PUT",    "/api/products/:id",        FV_ADMIN, product_body, no_query, product_replace },
    { "PATCH",  "/api/products/:id",        FV_ADMIN, product_body, no_query, product_patch },
    { "DELETE", "/api/products/:id",        FV_ADMIN, NULL, no_query, product_delete },
    { "PATCH",  "/api/products/:id/stock",  FV_SERVICE, stock_body, no_query, product_stock },
    FV_ROUTES_END
};


static const char *const  review_events[] = {
    "review.created", "review.updated", "review.deleted", NULL
};

/* rating and reviews_count follow the reviews: queue product.reviews. */
static const fv_consumer_t  product_consumers[] = {
    { "reviews", review_events, product_review_event, 0, 0 },
    { NULL, NULL, NULL, 0, 0 }
};


static int product_init(fv_server_t *s);
static void product_exit(fv_server_t *s);


static const fv_service_t  product_service = {
    PRODUCT_SERVICE,
    product_routes,
    FV_STORE_MONGO,
    0,                  /* no outbox: the catalogue publishes nothing */
    product_init,
    product_exit,
    product_consumers
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &product_service);
}


/* The seed is read and checked at start: a bad file stops the service.  Indexes and seed
 * go to MongoDB before the first query that reaches it (product_store_ready()), so nothing
 * is written by --check-config and a MongoDB that is down at start delays nothing. */

static int
product_init(fv_server_t *s)
{
    product_ctx_t  *ctx;
    const char     *seed;

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL || pthread_mutex_init(&ctx->setup_lock, NULL) != 0) {
        free(ctx);
        return FV_ERROR;
    }

    atomic_init(&ctx->ready, 0);

    /* Unset: the source tree's seed when there is one; set but empty: none. */
    seed = fv_conf_str(fv_server_conf(s), "FLORES_PRODUCT_SEED", NULL);
    if (seed == NULL && access(PRODUCT_SEED_DEFAULT, R_OK) == 0) {
        seed = PRODUCT_SEED_DEFAULT;
    }

    if (seed != NULL && *seed != '\0') {
        ctx->seed_file = strdup(seed);
        if (ctx->seed_file == NULL || product_store_seed_load(ctx) != FV_OK) {
            free(ctx->seed_file);
            (void) pthread_mutex_destroy(&ctx->setup_lock);
            free(ctx);
            return FV_ERROR;
        }
    }

    fv_server_set_data(s, ctx);
    return FV_OK;
}


static void
product_exit(fv_server_t *s)
{
    product_ctx_t  *ctx;

    ctx = fv_server_data(s);
    if (ctx == NULL) {
        return;
    }

    json_object_put(ctx->seed);
    free(ctx->seed_file);
    (void) pthread_mutex_destroy(&ctx->setup_lock);
    free(ctx);
    fv_server_set_data(s, NULL);
}
