
/*
 * Flores Victoria gateway module: what the module's features share.
 */


#ifndef _NGX_HTTP_FLORES_H_INCLUDED_
#define _NGX_HTTP_FLORES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the longest client X-Request-ID kept as the request id */
#define NGX_HTTP_FLORES_REQUEST_ID_MAX  64

/* the longest "flores_service" name: 1-32 of [A-Za-z0-9_.-] */
#define NGX_HTTP_FLORES_SERVICE_MAX     32


/*
 * An error the gateway answers itself, in the API's JSend envelope:
 * {"status":"fail"|"error","code":...,"message":...,"requestId":...}.
 * "fail" for 4xx, "error" for 5xx; code is a stable English identifier,
 * message is Spanish text for the user (UTF-8).
 */
typedef struct {
    ngx_uint_t                   status;
    ngx_str_t                    code;
    ngx_str_t                    message;
} ngx_http_flores_error_t;


/*
 * A metrics writer: a feature's series in the Prometheus text format (with
 * their # HELP and # TYPE lines), appended to the gateway's metrics answer.
 * Returns the chain of its text, NULL when it has nothing to add, or
 * NGX_CHAIN_ERROR. Called in the worker answering the scrape; it reads the
 * feature's own shared zone.
 */
typedef ngx_chain_t *(*ngx_http_flores_metrics_pt)(ngx_http_request_t *r,
    void *data);

typedef struct {
    ngx_http_flores_metrics_pt   writer;
    void                        *data;
} ngx_http_flores_metrics_writer_t;


ngx_int_t ngx_http_flores_request_id(ngx_http_request_t *r, ngx_str_t *id);
ngx_int_t ngx_http_flores_send_error(ngx_http_request_t *r,
    const ngx_http_flores_error_t *err);
ngx_int_t ngx_http_flores_reject(ngx_http_request_t *r,
    const ngx_http_flores_error_t *err);

/* the location's "flores_service", NULL when none applies */
ngx_str_t *ngx_http_flores_service(ngx_http_request_t *r);
/*
 * the same for the location being merged, at configuration time: valid in
 * the merge_loc_conf of the modules after the core in ngx_modules[]
 */
ngx_str_t *ngx_http_flores_conf_service(ngx_conf_t *cf);
/* its position in ngx_http_flores_services() plus one, 0 when none */
ngx_uint_t ngx_http_flores_service_index(ngx_http_request_t *r);
/* every service named by "flores_service" (ngx_str_t), known after parsing */
ngx_array_t *ngx_http_flores_services(ngx_conf_t *cf);

/* registers a writer, at configuration time (e.g. postconfiguration) */
ngx_int_t ngx_http_flores_metrics_add(ngx_conf_t *cf,
    ngx_http_flores_metrics_pt writer, void *data);
/* the registered writers (ngx_http_flores_metrics_writer_t), may be NULL */
ngx_array_t *ngx_http_flores_metrics_writers(ngx_http_request_t *r);

/*
 * The state of a service's circuit breaker, for GET /health: one of
 * NGX_HTTP_FLORES_BREAKER_*, NONE when no breaker watches that service.
 * Defined by the breaker module (ngx_http_flores_breaker_module.c); an open
 * breaker whose time is up is moved to half-open by the query.
 */
#define NGX_HTTP_FLORES_BREAKER_NONE        0
#define NGX_HTTP_FLORES_BREAKER_CLOSED      1
#define NGX_HTTP_FLORES_BREAKER_OPEN        2
#define NGX_HTTP_FLORES_BREAKER_HALF_OPEN   3

ngx_uint_t ngx_http_flores_breaker_state(ngx_http_request_t *r,
    ngx_str_t *service);


/*
 * A public key of a JWKS file (ngx_http_flores_jwks.c), read at
 * configuration time: its "kid" and "alg" (empty when absent) and the key as
 * PEM text ("BEGIN PUBLIC KEY", NUL-terminated), in cf->pool.
 */
typedef struct {
    ngx_str_t                    kid;
    ngx_str_t                    alg;
    ngx_str_t                    pem;
} ngx_http_flores_jwk_t;

/* the keys (ngx_http_flores_jwk_t) of the set in text, read from file */
char *ngx_http_flores_jwks_parse(ngx_conf_t *cf, ngx_str_t *file,
    ngx_str_t *text, ngx_array_t **keys);

/*
 * Whether the location's "flores_jwt_revocation" zone refuses a verified
 * token of the primary issuer, by its "sub" (NULL when it has none) and its
 * "iat" (0 when it has none): NGX_OK when it is not revoked (or no zone
 * applies), NGX_DECLINED when it is. Defined by the revocation module
 * (ngx_http_flores_jwt_revoke_module.c); no system call, no allocation.
 */
ngx_int_t ngx_http_flores_jwt_revoked(ngx_http_request_t *r, ngx_str_t *sub,
    time_t iat);


extern ngx_module_t  ngx_http_flores_module;
extern ngx_module_t  ngx_http_flores_jwt_module;
extern ngx_module_t  ngx_http_flores_jwt_revoke_module;
extern ngx_module_t  ngx_http_flores_breaker_module;
extern ngx_module_t  ngx_http_flores_limit_module;
extern ngx_module_t  ngx_http_flores_metrics_module;
extern ngx_module_t  ngx_http_flores_health_module;
extern ngx_module_t  ngx_http_flores_cache_module;


#endif /* _NGX_HTTP_FLORES_H_INCLUDED_ */
