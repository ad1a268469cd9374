/* fv_reply.c: JSend replies: the envelope, the status line and headers, exactly one per request. */

#include <config.h>

#include <stdio.h>
#include <string.h>

#include "fv_internal.h"


#define FV_JSON_TYPE   "application/json; charset=utf-8"


static const char *
fv_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    }

    return "Unknown";
}


int
fv_reply_raw(fv_req_t *r, int status, const char *content_type, const char *body, size_t len)
{
    fv_req_impl_t  *impl = r->impl;
    fv_buf_t        b;
    int             rc;

    if (impl->replied) {
        fv_log_req(r, FV_LOG_ERROR, "a second reply (%d) to %s %s was dropped", status,
            r->method, r->path);
        return FV_OK;
    }

    if (status < 100 || status > 599) {
        fv_log_req(r, FV_LOG_ERROR, "reply status %d is not an HTTP status", status);
        status = 500;
    }

    impl->replied = 1;
    impl->status = status;

    fv_buf_init(&b);
    fv_buf_printf(&b, "Status: %d %s\r\nContent-Type: %s\r\nX-Request-ID: %s\r\n", status,
        fv_reason(status), content_type ? content_type : FV_JSON_TYPE, r->request_id);

    if (impl->headers.len) {
        fv_buf_add(&b, impl->headers.data, impl->headers.len);
    }

    fv_buf_add(&b, "\r\n", 2);

    if (status != 204 && status != 304 && body != NULL) {
        fv_buf_add(&b, body, len);
    }

    if (b.failed) {
        fv_buf_free(&b);
        fv_log_req(r, FV_LOG_ERROR, "out of memory writing a reply");
        b.data = NULL;
        static const char  oom[] = "Status: 500 Internal Server Error\r\n\r\n";

        rc = impl->io->write(impl->io, oom, sizeof(oom) - 1);

    } else {
        rc = impl->io->write(impl->io, b.data, b.len);
    }

    if (rc != 0) {
        /* The gateway went away (timeout, client gone); nothing more to tell anyone. */
        fv_log_req(r, FV_LOG_DEBUG, "the reply could not be written");
    }

    fv_buf_free(&b);
    return FV_OK;
}


int
fv_reply_json(fv_req_t *r, int status, json_object *root)
{
    const char  *text;
    size_t       len;

    if (root == NULL) {
        static const char  oom[] = "{\"status\":\"error\",\"code\":\"INTERNAL_ERROR\","
                                   "\"message\":\"Error interno del servidor\"}";

        return fv_reply_raw(r, 500, NULL, oom, sizeof(oom) - 1);
    }

    text = json_object_to_json_string_length(root,
        JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);

    if (text == NULL) {
        json_object_put(root);
        return fv_reply_json(r, 500, NULL);
    }

    (void) fv_reply_raw(r, status, NULL, text, len);
    json_object_put(root);
    return FV_OK;
}


/* The 4xx and 5xx envelope; errors (an array) is consumed when given. */
static int
fv_reply_problem(fv_req_t *r, int status, const char *code, const char *message,
    json_object *errors)
{
    json_object  *root;

    root = json_object_new_object();
    if (root == NULL) {
        json_object_put(errors);
        return fv_reply_json(r, 500, NULL);
    }

    if (status < 400) {
        fv_log_req(r, FV_LOG_ERROR, "a failure replied with status %d", status);
        status = 500;
    }

    (void) json_object_object_add(root, "status",
        json_object_new_string(status >= 500 ? "error" : "fail"));
    (void) json_object_object_add(root, "code", json_object_new_string(code ? code : "ERROR"));
    (void) json_object_object_add(root, "message",
        json_object_new_string(message ? message : ""));

    if (errors != NULL) {
        (void) json_object_object_add(root, "errors", errors);
    }

    (void) json_object_object_add(root, "requestId", json_object_new_string(r->request_id));

    return fv_reply_json(r, status, root);
}


int
fv_reply(fv_req_t *r, int status, json_object *data, const char *message)
{
    json_object  *root;

    if (status >= 400) {
        json_object_put(data);
        return fv_reply_problem(r, status, status >= 500 ? "INTERNAL_ERROR" : "ERROR",
            message ? message : "Error", NULL);
    }

    root = json_object_new_object();
    if (root == NULL) {
        json_object_put(data);
        return fv_reply_json(r, 500, NULL);
    }

    if (data == NULL) {
        data = json_object_new_object();
    }

    (void) json_object_object_add(root, "status", json_object_new_string("success"));
    (void) json_object_object_add(root, "data", data);

    if (message != NULL) {
        (void) json_object_object_add(root, "message", json_object_new_string(message));
    }

    return fv_reply_json(r, status, root);
}


int
fv_fail(fv_req_t *r, int status, const char *code, const char *message)
{
    return fv_reply_problem(r, status, code, message, NULL);
}


int
fv_error(fv_req_t *r, int status, const char *code, const char *message)
{
    return fv_reply_problem(r, status, code, message, NULL);
}


int
fv_fail_errors(fv_req_t *r, fv_errors_t *errors)
{
    json_object  *list = NULL;

    if (errors != NULL) {
        list = json_object_get(fv_errors_json(errors));
        fv_errors_free(errors);
    }

    return fv_reply_problem(r, 400, "VALIDATION_ERROR", "Los datos enviados no son válidos",
        list != NULL ? list : json_object_new_array());
}


int
fv_fail_field(fv_req_t *r, const char *field, const char *message)
{
    fv_errors_t  *e;

    e = fv_errors_new();
    fv_errors_add(e, field, message);
    return fv_fail_errors(r, e);
}


void
fv_reply_header(fv_req_t *r, const char *name, const char *value)
{
    fv_req_impl_t  *impl = r->impl;
    const char     *p;

    for (p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '-' || *p == '_'))
        {
            break;
        }
    }

    if (*name == '\0' || *p != '\0' || strpbrk(value, "\r\n") != NULL) {
        fv_log_req(r, FV_LOG_ERROR, "refused a malformed reply header \"%s\"", name);
        return;
    }

    fv_buf_printf(&impl->headers, "%s: %s\r\n", name, value);
}
