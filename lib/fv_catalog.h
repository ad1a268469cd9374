/* fv_catalog.h: a product as the product service shows it now, for the services that keep
 * product ids (cart, wishlist) — asked through the gateway's internal listener (fv_http.h). */

#ifndef FV_CATALOG_H
#define FV_CATALOG_H

#include "fv.h"


#define FV_PRODUCT_ID_MAX   32      /* product ids are [A-Z0-9_-], 1 to 32 characters */
#define FV_PRODUCT_ABSENT   1       /* fv_product_get(): unknown, or no longer for sale */

typedef struct {
    char                  name[1024];
    long long             price;
    long long             stock;       /* -1: not given */
    int                   active;
} fv_product_t;

/* Is s a product id?  (Safe in a URL path as it is.) */
int fv_product_id_ok(const char *s);

/* One call per product, on the worker's kept connection (the product service has no
 * multi-get).  FV_OK (p filled), FV_PRODUCT_ABSENT, or FV_STORE_DOWN (the product service did
 * not answer, failed, or refused the call itself: the product's fate is unknown). */
int fv_product_get(fv_req_t *r, const char *product_id, fv_product_t *p);

#endif /* FV_CATALOG_H */
