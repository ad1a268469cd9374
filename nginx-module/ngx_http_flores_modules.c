
/*
 * Flores Victoria gateway module: the list of nginx modules in this shared
 * object, read by load_module (what nginx's configure would generate for a
 * dynamic module built with --add-dynamic-module).
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_flores.h"


ngx_module_t  *ngx_modules[] = {
    &ngx_http_flores_module,
    &ngx_http_flores_jwt_module,
    &ngx_http_flores_jwt_revoke_module,
    /* before limit: its PRECONTENT handler then runs after the limiter's */
    &ngx_http_flores_breaker_module,
    &ngx_http_flores_limit_module,
    &ngx_http_flores_metrics_module,
    &ngx_http_flores_health_module,
    &ngx_http_flores_cache_module,
    NULL
};


char  *ngx_module_names[] = {
    "ngx_http_flores_module",
    "ngx_http_flores_jwt_module",
    "ngx_http_flores_jwt_revoke_module",
    "ngx_http_flores_breaker_module",
    "ngx_http_flores_limit_module",
    "ngx_http_flores_metrics_module",
    "ngx_http_flores_health_module",
    "ngx_http_flores_cache_module",
    NULL
};


/*
 * each goes at the end of nginx's module list; the one header filter (cache)
 * then runs before nginx's own, which suits it: it only reads the upstream's
 * headers
 */
char  *ngx_module_order[] = {
    NULL
};
