/* fv_log.c: JSON log lines on stderr, one write(2) each so that workers never interleave. */

#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fv_internal.h"


#define FV_LOG_MSG_MAX   4096


/* Process-wide by nature: set once by fv_log_init() before any thread starts. */
static char              fv_log_service[64] = "flores";
static atomic_int        fv_log_min = FV_LOG_INFO;

static const char *const fv_log_levels[] = { "debug", "info", "warn", "error" };


void
fv_log_init(const char *service, fv_log_level_e min_level)
{
    if (service != NULL) {
        (void) snprintf(fv_log_service, sizeof(fv_log_service), "%s", service);
    }

    atomic_store(&fv_log_min, (int) min_level);
}


static void
fv_log_write(fv_buf_t *b)
{
    const char  *p;
    size_t       left;
    ssize_t      n;

    if (b->failed) {
        return;
    }

    fv_buf_add(b, "\n", 1);
    p = b->data;
    left = b->len;

    while (left > 0) {
        n = write(STDERR_FILENO, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return;
        }
        p += n;
        left -= (size_t) n;
    }
}


static void
fv_log_head(fv_buf_t *b, fv_log_level_e level)
{
    char  now[25];

    fv_time_iso(now);
    fv_buf_printf(b, "{\"time\":\"%s\",\"level\":\"%s\",\"service\":", now,
        fv_log_levels[level]);
    fv_buf_json_str(b, fv_log_service, strlen(fv_log_service));
}


static void
fv_log_emit(const fv_req_t *r, fv_log_level_e level, const char *fmt, va_list ap)
{
    char      msg[FV_LOG_MSG_MAX];
    fv_buf_t  b;
    int       n;

    if ((int) level < atomic_load(&fv_log_min) || level > FV_LOG_ERROR) {
        return;
    }

    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (n < 0) {
        return;
    }

    fv_buf_init(&b);
    fv_log_head(&b, level);

    if (r != NULL) {
        fv_buf_str(&b, ",\"requestId\":");
        fv_buf_json_str(&b, r->request_id, strlen(r->request_id));
        fv_buf_str(&b, ",\"userId\":");
        if (r->user_id != NULL) {
            fv_buf_json_str(&b, r->user_id, strlen(r->user_id));
        } else {
            fv_buf_str(&b, "null");
        }
    }

    fv_buf_str(&b, ",\"msg\":");
    fv_buf_json_str(&b, msg, strnlen(msg, sizeof(msg)));
    fv_buf_str(&b, "}");

    fv_log_write(&b);
    fv_buf_free(&b);
}


void
fv_log(fv_log_level_e level, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    fv_log_emit(NULL, level, fmt, ap);
    va_end(ap);
}


void
fv_log_req(const fv_req_t *r, fv_log_level_e level, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    fv_log_emit(r, level, fmt, ap);
    va_end(ap);
}


void
fv_log_request(const fv_req_t *r, int status, double duration_ms, int quiet)
{
    fv_log_level_e  level;
    fv_buf_t        b;
    size_t          plen;

    level = status >= 500 ? FV_LOG_ERROR : (quiet ? FV_LOG_DEBUG : FV_LOG_INFO);

    if ((int) level < atomic_load(&fv_log_min)) {
        return;
    }

    fv_buf_init(&b);
    fv_log_head(&b, level);
    fv_buf_str(&b, ",\"requestId\":");
    fv_buf_json_str(&b, r->request_id, strlen(r->request_id));
    fv_buf_str(&b, ",\"method\":");
    fv_buf_json_str(&b, r->method, strnlen(r->method, 32));
    fv_buf_str(&b, ",\"path\":");
    plen = strnlen(r->path, 1024);
    fv_buf_json_str(&b, r->path, plen);
    fv_buf_printf(&b, ",\"status\":%d,\"durationMs\":%.3f,\"userId\":", status,
        duration_ms < 0 ? 0.0 : duration_ms);
    if (r->user_id != NULL) {
        fv_buf_json_str(&b, r->user_id, strlen(r->user_id));
    } else {
        fv_buf_str(&b, "null");
    }
    fv_buf_str(&b, "}");

    fv_log_write(&b);
    fv_buf_free(&b);
}
