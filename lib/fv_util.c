/* fv_util.c: small helpers: randomness, ids, time, base64url, SHA-256, text buffers, UTF-8. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "fv_internal.h"


int
fv_random(void *buf, size_t len)
{
    if (len > (size_t) INT32_MAX) {
        return -1;
    }

    return RAND_bytes(buf, (int) len) == 1 ? 0 : -1;
}


int
fv_uuid(char out[37])
{
    unsigned char  b[16];
    static const char  hex[] = "0123456789abcdef";
    size_t         i, o;

    if (fv_random(b, sizeof(b)) != 0) {
        out[0] = '\0';
        return -1;
    }

    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40);     /* version 4 */
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80);     /* variant RFC 4122 */

    for (i = 0, o = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            out[o++] = '-';
        }
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 0x0f];
    }

    out[o] = '\0';
    return 0;
}


int
fv_uuid_ok(const char *s)
{
    size_t  i;

    if (s == NULL || strlen(s) != 36) {
        return 0;
    }

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') {
                return 0;
            }
        } else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')
                     || (s[i] >= 'A' && s[i] <= 'F')))
        {
            return 0;
        }
    }

    return 1;
}


int
fv_event_type_ok(const char *type)
{
    const char  *p;

    if (type == NULL || *type == '\0') {
        return 0;
    }

    for (p = type; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
              || *p == '-'))
        {
            return 0;
        }
    }

    return p - type <= 255;
}


void
fv_time_iso(char out[25])
{
    struct timespec  ts;
    struct tm        tm;
    char             buf[64];

    if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL) {
        memcpy(out, "1970-01-01T00:00:00.000Z", 25);
        return;
    }

    (void) snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
        (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, (int) (ts.tv_nsec / 1000000));
    memcpy(out, buf, 24);
    out[24] = '\0';
}


size_t
fv_base64url(const unsigned char *in, size_t len, char *out)
{
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t             i, o;
    uint32_t           v;

    for (i = 0, o = 0; i + 2 < len; i += 3) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8 | in[i + 2];
        out[o++] = tab[(v >> 18) & 0x3f];
        out[o++] = tab[(v >> 12) & 0x3f];
        out[o++] = tab[(v >> 6) & 0x3f];
        out[o++] = tab[v & 0x3f];
    }

    if (len - i == 1) {
        v = (uint32_t) in[i] << 16;
        out[o++] = tab[(v >> 18) & 0x3f];
        out[o++] = tab[(v >> 12) & 0x3f];

    } else if (len - i == 2) {
        v = (uint32_t) in[i] << 16 | (uint32_t) in[i + 1] << 8;
        out[o++] = tab[(v >> 18) & 0x3f];
        out[o++] = tab[(v >> 12) & 0x3f];
        out[o++] = tab[(v >> 6) & 0x3f];
    }

    out[o] = '\0';
    return o;
}


void
fv_sha256_hex(const void *data, size_t len, char out[65])
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      md[EVP_MAX_MD_SIZE];
    unsigned int       n, i;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        /* Never seen with OpenSSL's built-in provider; an empty digest matches nothing. */
        out[0] = '\0';
        return;
    }

    for (i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }

    out[64] = '\0';
}


int
fv_equal_ct(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}


void
fv_buf_init(fv_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = 0;
}


void
fv_buf_free(fv_buf_t *b)
{
    free(b->data);
    fv_buf_init(b);
}


static int
fv_buf_reserve(fv_buf_t *b, size_t more)
{
    size_t  cap;
    char   *p;

    if (b->failed) {
        return -1;
    }

    if (b->len + more + 1 <= b->cap) {
        return 0;
    }

    cap = b->cap ? b->cap : 256;

    while (cap < b->len + more + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }

    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }

    b->data = p;
    b->cap = cap;
    return 0;
}


void
fv_buf_add(fv_buf_t *b, const char *s, size_t len)
{
    if (fv_buf_reserve(b, len) != 0) {
        return;
    }

    if (len) {
        memcpy(b->data + b->len, s, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
}


void
fv_buf_str(fv_buf_t *b, const char *s)
{
    fv_buf_add(b, s, strlen(s));
}


void
fv_buf_printf(fv_buf_t *b, const char *fmt, ...)
{
    va_list  ap;
    int      n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);

    if (n < 0) {
        b->failed = 1;
        return;
    }

    if (fv_buf_reserve(b, (size_t) n) != 0) {
        return;
    }

    va_start(ap, fmt);
    (void) vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}


size_t
fv_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char  c = s[0];
    size_t         n, i;
    uint32_t       cp;

    if (c < 0x80) {
        return 1;
    }

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = cp << 6 | (s[i] & 0x3f);
    }

    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }

    return n;
}


long
fv_utf8_len(const char *s, size_t len)
{
    size_t  i, n;
    long    chars = 0;

    for (i = 0; i < len; i += n) {
        n = fv_utf8_seq((const unsigned char *) s + i, len - i);
        if (n == 0) {
            return -1;
        }
        chars++;
    }

    return chars;
}


void
fv_buf_json_str(fv_buf_t *b, const char *s, size_t len)
{
    static const char  hex[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *) s;
    size_t             i, n, start;
    char               esc[7];

    fv_buf_add(b, "\"", 1);

    for (i = 0, start = 0; i < len; i += n) {
        n = fv_utf8_seq(p + i, len - i);

        if (n == 1 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\' && p[i] != 0x7f) {
            continue;
        }

        if (n > 1) {
            continue;
        }

        fv_buf_add(b, s + start, i - start);

        if (n == 0) {
            fv_buf_add(b, "\\ufffd", 6);
            n = 1;

        } else if (p[i] == '"' || p[i] == '\\') {
            esc[0] = '\\';
            esc[1] = (char) p[i];
            fv_buf_add(b, esc, 2);

        } else if (p[i] == '\n') {
            fv_buf_add(b, "\\n", 2);

        } else if (p[i] == '\r') {
            fv_buf_add(b, "\\r", 2);

        } else if (p[i] == '\t') {
            fv_buf_add(b, "\\t", 2);

        } else {
            memcpy(esc, "\\u00", 4);
            esc[4] = hex[p[i] >> 4];
            esc[5] = hex[p[i] & 0x0f];
            fv_buf_add(b, esc, 6);
        }

        start = i + n;
    }

    fv_buf_add(b, s + start, len - start);
    fv_buf_add(b, "\"", 1);
}


double
fv_now_ms(void)
{
    struct timespec  ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return 0;
    }

    return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}


static int
fv_hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}


long
fv_percent_decode(const char *in, size_t len, char *out, int plus)
{
    size_t  i, o;
    int     hi, lo;

    for (i = 0, o = 0; i < len; i++) {
        if (in[i] == '%') {
            if (i + 2 >= len || (hi = fv_hex_value(in[i + 1])) < 0
                || (lo = fv_hex_value(in[i + 2])) < 0)
            {
                return -1;
            }
            out[o++] = (char) (hi << 4 | lo);
            i += 2;

        } else if (in[i] == '+' && plus) {
            out[o++] = ' ';

        } else {
            out[o++] = in[i];
        }
    }

    out[o] = '\0';
    return (long) o;
}


int64_t
fv_parse_id(const char *s)
{
    int64_t  v = 0;

    if (s == NULL || *s < '1' || *s > '9') {
        return -1;
    }

    for ( /* void */ ; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        if (v > (INT64_MAX - (*s - '0')) / 10) {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }

    return v;
}


int
fv_request_id_ok(const char *s)
{
    size_t  n;

    if (s == NULL || *s == '\0') {
        return 0;
    }

    for (n = 0; s[n]; n++) {
        if (n >= FV_REQUEST_ID_MAX) {
            return 0;
        }
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
              || (s[n] >= '0' && s[n] <= '9') || s[n] == '.' || s[n] == '_' || s[n] == '-'))
        {
            return 0;
        }
    }

    return 1;
}
