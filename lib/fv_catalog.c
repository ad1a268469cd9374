/* fv_catalog.c: products as the product service shows them now, through the gateway's
 * internal listener (fv_catalog.h). */

#include "config.h"

#include <stdio.h>
#include <string.h>

#include "fv_catalog.h"
#include "fv_http.h"


int
fv_product_id_ok(const char *s)
{
    size_t  n;

    if (s == NULL) {
        return 0;
    }

    for (n = 0; s[n] != '\0'; n++) {
        if (!((s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9')
              || s[n] == '_' || s[n] == '-'))
        {
            return 0;
        }
    }

    return n >= 1 && n <= FV_PRODUCT_ID_MAX;
}


int
fv_product_get(fv_req_t *r, const char *product_id, fv_product_t *p)
{
    json_object  *reply, *data, *product, *v;
    char          path[96];
    long          status = 0;
    int           rc;

    /* product_id is [A-Z0-9_-]: nothing in it needs escaping in a path. */
    (void) snprintf(path, sizeof(path), "/internal/product/api/products/%s", product_id);

    reply = fv_http_json(r->worker, "GET", path, NULL, r->request_id, &status);

    if (status == 0 || status >= 500) {
        fv_log_req(r, FV_LOG_WARN, "product service unavailable reading %s (status %ld)",
                   product_id, status);
        rc = FV_STORE_DOWN;

    } else if (status == 200
               && json_object_object_get_ex(reply, "data", &data)
               && json_object_object_get_ex(data, "product", &product)
               && json_object_is_type(product, json_type_object)
               && json_object_object_get_ex(product, "price", &v)
               && json_object_is_type(v, json_type_int))
    {
        p->price = json_object_get_int64(v);
        p->stock = -1;
        if (json_object_object_get_ex(product, "stock", &v)
            && json_object_is_type(v, json_type_int))
        {
            p->stock = json_object_get_int64(v);
        }
        p->active = !json_object_object_get_ex(product, "active", &v)
                    || json_object_get_boolean(v);
        p->name[0] = '\0';
        if (json_object_object_get_ex(product, "name", &v)
            && json_object_is_type(v, json_type_string))
        {
            (void) snprintf(p->name, sizeof(p->name), "%s", json_object_get_string(v));
        }
        rc = p->active ? FV_OK : FV_PRODUCT_ABSENT;

    } else if (status == 200 || status == 400 || status == 404 || status == 410) {
        rc = FV_PRODUCT_ABSENT;

    } else {
        /* 401, 403, 429...: the call itself was refused; the product's fate is unknown. */
        fv_log_req(r, FV_LOG_WARN, "product service refused reading %s (status %ld)",
                   product_id, status);
        rc = FV_STORE_DOWN;
    }

    json_object_put(reply);
    return rc;
}
