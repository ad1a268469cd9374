/* fv_http.h: calls from one service to another through the gateway's internal listener. */

#ifndef FV_HTTP_H
#define FV_HTTP_H

#include "fv.h"


#define FV_HTTP_MAX_RESPONSE   (1024 * 1024)    /* bytes of a reply body, at most */

/*
 * One JSON request to FLORES_INTERNAL_URL + path ("/internal/product/api/products/7/stock",
 * see conf/nginx/internal.conf), where the callee sees role "service" (routes with
 * FV_SERVICE access).  body (may be NULL) stays the caller's; request_id is sent as
 * X-Request-ID (the handler's r->request_id, so one id follows the whole chain).  Each
 * worker keeps its own connection alive between calls.  Timeouts: 1 s to connect,
 * FLORES_HTTP_TIMEOUT (default 3000 ms) in all.  With FLORES_INTERNAL_SOCKET (a unix
 * socket path) the connection goes to that socket, and FLORES_INTERNAL_URL only gives the
 * scheme, the Host header and the path prefix ("http://localhost").
 *
 * Returns the reply's parsed JSON (the caller puts it) with *status its HTTP status; or
 * NULL with *status 0 when no reply came (unreachable, timed out, over
 * FV_HTTP_MAX_RESPONSE, FLORES_INTERNAL_URL unset): the caller returns FV_STORE_DOWN; or
 * NULL with *status set when the reply had no JSON body (204, or not JSON).  A callee that
 * is down or slow comes back as the gateway's 503 or 504 (JSON): treat *status >= 500 as
 * FV_STORE_DOWN too.
 */
json_object *fv_http_json(fv_worker_t *w, const char *method, const char *path,
    json_object *body, const char *request_id, long *status);

/*
 * One request with a body of another type (the gateway's revocation list, text/plain) to
 * FLORES_INTERNAL_URL + path, over FLORES_INTERNAL_SOCKET when that is set; the reply body is
 * read and dropped.  Same timeouts and kept-alive connection as fv_http_json().  Returns
 * FV_OK when a reply came (*status its HTTP status, whatever it is) and FV_STORE_DOWN when
 * none did (*status 0); FV_ERROR for a bad method, path or content type, or
 * FLORES_INTERNAL_URL unset.
 */
int fv_http_text(fv_worker_t *w, const char *method, const char *path,
    const char *content_type, const char *body, size_t len, const char *request_id,
    long *status);

#endif /* FV_HTTP_H */
