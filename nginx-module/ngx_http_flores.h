
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


ngx_int_t ngx_http_flores_request_id(ngx_http_request_t *r, ngx_str_t *id);
ngx_int_t ngx_http_flores_send_error(ngx_http_request_t *r,
    const ngx_http_flores_error_t *err);
ngx_int_t ngx_http_flores_reject(ngx_http_request_t *r,
    const ngx_http_flores_error_t *err);


extern ngx_module_t  ngx_http_flores_module;
extern ngx_module_t  ngx_http_flores_jwt_module;


#endif /* _NGX_HTTP_FLORES_H_INCLUDED_ */
