/* fv_http.c: the internal HTTP client: JSON calls to other services through the gateway's
 * internal listener, on one kept-alive libcurl handle per worker. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "fv_internal.h"
#include "fv_http.h"


#define FV_HTTP_CONNECT_MS    1000
#define FV_HTTP_TIMEOUT_MS    3000
#define FV_HTTP_URL_MAX       2048
#define FV_HTTP_STORE         "http"

struct fv_http_s {
    CURL                 *curl;
    fv_buf_t              reply;
    int                   too_big;
    char                  error[CURL_ERROR_SIZE];
};


void
fv_http_close(fv_worker_t *w)
{
    if (w->http != NULL) {
        if (w->http->curl != NULL) {
            curl_easy_cleanup(w->http->curl);
        }
        fv_buf_free(&w->http->reply);
        free(w->http);
        w->http = NULL;
    }
}


static size_t
fv_http_write(char *data, size_t size, size_t n, void *arg)
{
    fv_http_t  *h = arg;
    size_t      len = size * n;

    if (h->reply.len + len > FV_HTTP_MAX_RESPONSE) {
        h->too_big = 1;
        return 0;                           /* libcurl stops: CURLE_WRITE_ERROR */
    }

    fv_buf_add(&h->reply, data, len);

    return h->reply.failed ? 0 : len;
}


static fv_http_t *
fv_http_get(fv_worker_t *w)
{
    if (w->http == NULL) {
        w->http = calloc(1, sizeof(fv_http_t));
        if (w->http == NULL) {
            return NULL;
        }
        fv_buf_init(&w->http->reply);
    }

    if (w->http->curl == NULL) {
        w->http->curl = curl_easy_init();
        if (w->http->curl == NULL) {
            return NULL;
        }
    }

    return w->http;
}


/* http and https only (never file:// or the like, whatever the base URL says). */
static CURLcode
fv_http_protocols(CURL *c)
{
#if LIBCURL_VERSION_NUM >= 0x075500
    return curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    return curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long) (CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}


/* FLORES_INTERNAL_SOCKET: the gateway's internal listener as a unix socket, whose file
 * rights say who may call it; the URL then only names the path (and the Host header). */
static CURLcode
fv_http_socket(CURL *c, const fv_conf_t *conf)
{
    const char  *path = fv_conf_str(conf, "FLORES_INTERNAL_SOCKET", NULL);

    if (path == NULL || *path == '\0') {
        return CURLE_OK;
    }

    return curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, path);
}


/* A method, header-safe: upper-case letters only. */
static int
fv_http_method_ok(const char *m)
{
    size_t  i;

    for (i = 0; m[i]; i++) {
        if (m[i] < 'A' || m[i] > 'Z' || i >= 16) {
            return 0;
        }
    }

    return i > 0;
}


/* url = FLORES_INTERNAL_URL (its trailing slashes dropped) + path, for a method and path that
 * are header-safe.  0, or -1 with the reason logged under caller's name. */
static int
fv_http_url(const fv_conf_t *conf, const char *caller, const char *method, const char *path,
    char *url, size_t size)
{
    const char  *base;
    size_t       blen;

    base = fv_conf_str(conf, "FLORES_INTERNAL_URL", NULL);
    if (base == NULL || *base == '\0') {
        fv_log(FV_LOG_ERROR, "FLORES_INTERNAL_URL is not set: no calls through the gateway");
        return -1;
    }

    if (method == NULL || !fv_http_method_ok(method) || path == NULL || path[0] != '/'
        || strpbrk(path, " \r\n\t") != NULL)
    {
        fv_log(FV_LOG_ERROR, "%s: bad method or path", caller);
        return -1;
    }

    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/') {
        blen--;
    }

    if ((size_t) snprintf(url, size, "%.*s%s", (int) blen, base, path) >= size) {
        fv_log(FV_LOG_ERROR, "%s: URL too long", caller);
        return -1;
    }

    return 0;
}


/* "Expect:" (no 100-continue dance) and the caller's X-Request-ID, after what the caller put in
 * headers; each append is checked: a failed one leaves the list as it was. */
static struct curl_slist *
fv_http_common_headers(struct curl_slist *headers, const char *request_id)
{
    struct curl_slist  *l;
    char                rid[FV_REQUEST_ID_MAX + 16];

    l = curl_slist_append(headers, "Expect:");
    headers = l ? l : headers;

    if (request_id != NULL && fv_request_id_ok(request_id)) {
        (void) snprintf(rid, sizeof(rid), "X-Request-ID: %s", request_id);
        l = curl_slist_append(headers, rid);
        headers = l ? l : headers;
    }

    return headers;
}


/* The options every call to the gateway has: the handle's previous options are forgotten (its
 * connection cache is kept), the reply buffer emptied; then the URL, over FLORES_INTERNAL_SOCKET
 * when set, http only, no redirects, 1 s to connect, FLORES_HTTP_TIMEOUT in all. */
static CURLcode
fv_http_options(fv_http_t *h, const fv_conf_t *conf, const char *url, const char *method,
    struct curl_slist *headers)
{
    CURL      *c = h->curl;
    CURLcode   rc;
    long       timeout;

    h->reply.len = 0;
    h->reply.failed = 0;
    h->too_big = 0;
    h->error[0] = '\0';

    timeout = fv_conf_long(conf, "FLORES_HTTP_TIMEOUT", FV_HTTP_TIMEOUT_MS, 100, 600000);

    curl_easy_reset(c);

    if ((rc = curl_easy_setopt(c, CURLOPT_URL, url)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L)) != CURLE_OK
        || (rc = fv_http_protocols(c)) != CURLE_OK
        || (rc = fv_http_socket(c, conf)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) FV_HTTP_CONNECT_MS))
           != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fv_http_write)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_WRITEDATA, h)) != CURLE_OK
        || (rc = curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->error)) != CURLE_OK)
    {
        return rc;
    }

    return curl_easy_setopt(c, CURLOPT_USERAGENT, "flores-service");
}


json_object *
fv_http_json(fv_worker_t *w, const char *method, const char *path, json_object *body,
    const char *request_id, long *status)
{
    fv_server_t        *s = w->server;
    fv_http_t          *h;
    struct curl_slist  *headers = NULL, *l;
    json_object        *out = NULL;
    const char         *text = NULL;
    char                url[FV_HTTP_URL_MAX];
    long                code = 0;
    CURLcode            rc;
    CURL               *c;

    *status = 0;

    if (fv_http_url(s->conf, "fv_http_json", method, path, url, sizeof(url)) != 0) {
        return NULL;
    }

    if (body != NULL) {
        text = json_object_to_json_string_ext(body,
            JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        if (text == NULL) {
            return NULL;
        }
    }

    h = fv_http_get(w);
    if (h == NULL) {
        fv_log(FV_LOG_ERROR, "fv_http_json: out of memory");
        return NULL;
    }

    c = h->curl;

    l = curl_slist_append(headers, "Accept: application/json");
    headers = l ? l : headers;
    /* No Content-Type without a body. */
    l = curl_slist_append(headers, text != NULL ? "Content-Type: application/json" : "Content-Type:");
    headers = l ? l : headers;
    headers = fv_http_common_headers(headers, request_id);

    if (fv_http_options(h, s->conf, url, method, headers) != CURLE_OK
        || ((text != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0
             || strcmp(method, "PATCH") == 0)
            && (curl_easy_setopt(c, CURLOPT_POSTFIELDS, text != NULL ? text : "") != CURLE_OK
                || curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE,
                                    (long) (text != NULL ? strlen(text) : 0)) != CURLE_OK))
        || (text == NULL && strcmp(method, "HEAD") == 0
            && curl_easy_setopt(c, CURLOPT_NOBODY, 1L) != CURLE_OK))
    {
        fv_log(FV_LOG_ERROR, "fv_http_json: libcurl refused an option");
        curl_slist_free_all(headers);
        return NULL;
    }

    rc = curl_easy_perform(c);

    curl_slist_free_all(headers);
    (void) curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    (void) curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);

    if (rc != CURLE_OK) {
        fv_log(FV_LOG_WARN, "%s %s: %s", method, path,
            h->too_big ? "reply larger than 1 MiB"
                       : (h->error[0] ? h->error : curl_easy_strerror(rc)));
        fv_metrics_store_error(s, FV_HTTP_STORE);
        if (rc != CURLE_OPERATION_TIMEDOUT && rc != CURLE_COULDNT_CONNECT) {
            /* The connection's state is unknown: start afresh next time. */
            curl_easy_cleanup(c);
            h->curl = NULL;
        }
        return NULL;
    }

    if (curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 100) {
        fv_metrics_store_error(s, FV_HTTP_STORE);
        return NULL;
    }

    *status = code;

    /* The buffer is always NUL-terminated; the check refuses a NUL inside. */
    if (h->reply.len > 0 && !h->reply.failed
        && fv_json_check(h->reply.data, h->reply.len, FV_JSON_DEPTH) == 0)
    {
        out = json_tokener_parse(h->reply.data);
    }

    if (out == NULL && h->reply.len > 0) {
        fv_log(FV_LOG_WARN, "%s %s: %ld without a JSON body", method, path, code);
    }

    /* Keep a large buffer from one reply no longer than needed. */
    if (h->reply.cap > 65536) {
        fv_buf_free(&h->reply);
        fv_buf_init(&h->reply);
    }

    return out;
}


int
fv_http_text(fv_worker_t *w, const char *method, const char *path,
    const char *content_type, const char *body, size_t len, const char *request_id,
    long *status)
{
    fv_server_t        *s = w->server;
    fv_http_t          *h;
    struct curl_slist  *headers = NULL, *l;
    char                url[FV_HTTP_URL_MAX], ct[160];
    long                code = 0;
    CURLcode            rc;
    CURL               *c;

    *status = 0;

    if (fv_http_url(s->conf, "fv_http_text", method, path, url, sizeof(url)) != 0) {
        return FV_ERROR;
    }

    if (content_type == NULL || strpbrk(content_type, "\r\n") != NULL
        || (size_t) snprintf(ct, sizeof(ct), "Content-Type: %s", content_type) >= sizeof(ct)
        || (body == NULL && len > 0))
    {
        fv_log(FV_LOG_ERROR, "fv_http_text: bad content type or body");
        return FV_ERROR;
    }

    h = fv_http_get(w);
    if (h == NULL) {
        fv_log(FV_LOG_ERROR, "fv_http_text: out of memory");
        return FV_STORE_DOWN;
    }

    c = h->curl;

    l = curl_slist_append(headers, ct);
    headers = l ? l : headers;
    headers = fv_http_common_headers(headers, request_id);

    if (fv_http_options(h, s->conf, url, method, headers) != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_POSTFIELDS, body != NULL ? body : "") != CURLE_OK
        || curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long) len) != CURLE_OK)
    {
        fv_log(FV_LOG_ERROR, "fv_http_text: libcurl refused an option");
        curl_slist_free_all(headers);
        return FV_ERROR;
    }

    rc = curl_easy_perform(c);

    curl_slist_free_all(headers);
    (void) curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    (void) curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);

    /* A reply larger than FV_HTTP_MAX_RESPONSE still came: its status counts. */
    if ((rc != CURLE_OK && !h->too_big)
        || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 100)
    {
        fv_log(FV_LOG_WARN, "%s %s: %s", method, path,
            h->error[0] ? h->error : curl_easy_strerror(rc));
        fv_metrics_store_error(s, FV_HTTP_STORE);
        curl_easy_cleanup(c);
        h->curl = NULL;
        return FV_STORE_DOWN;
    }

    *status = code;

    if (h->reply.cap > 65536) {
        fv_buf_free(&h->reply);
        fv_buf_init(&h->reply);
    }

    return FV_OK;
}
