/* message.c: RFC 5322 messages: encoded-word headers (RFC 2047), quoted-printable bodies
 * (RFC 2045) and a multipart/alternative of text and HTML. */

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "mail.h"


#define MAIL_LINE          76      /* folded header lines and QP lines stay within this */
#define MAIL_WORD_BYTES    45      /* UTF-8 bytes in one encoded-word: 60 base64 chars */


static size_t mail_addr_field(mail_buf_t *b, const char *field, const char *name,
    const char *addr);
static int mail_phrase_plain(const char *s, size_t len);
static int mail_id_ok(const char *s);


void
mail_buf_init(mail_buf_t *b)
{
    memset(b, 0, sizeof(*b));
}


void
mail_buf_free(mail_buf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}


void
mail_buf_add(mail_buf_t *b, const char *s, size_t len)
{
    char    *p;
    size_t   cap;

    if (b->failed) {
        return;
    }

    if (len > MAIL_MESSAGE_MAX || b->len + len > MAIL_MESSAGE_MAX) {
        b->failed = 1;
        return;
    }

    if (b->len + len + 1 > b->cap) {
        cap = b->cap ? b->cap : 1024;
        while (cap < b->len + len + 1) {
            cap *= 2;
        }

        p = realloc(b->data, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }

        b->data = p;
        b->cap = cap;
    }

    memcpy(b->data + b->len, s, len);
    b->len += len;
    b->data[b->len] = '\0';
}


void
mail_buf_str(mail_buf_t *b, const char *s)
{
    mail_buf_add(b, s, strlen(s));
}


int
mail_addr_ok(const char *s)
{
    const char  *at;
    size_t       len, i;

    len = strlen(s);
    if (len < 3 || len > MAIL_ADDR_MAX) {
        return 0;
    }

    at = strchr(s, '@');
    if (at == NULL || at == s || at[1] == '\0' || strchr(at + 1, '@') != NULL) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        unsigned char  c = (unsigned char) s[i];

        if (c <= 0x20 || c >= 0x7f || strchr("<>()[]\\,;:\"", c) != NULL) {
            return 0;
        }
    }

    return 1;
}


/* "Fri, 27 Nov 2026 21:26:19 +0000", always in English and UTC, whatever the locale. */

void
mail_date(time_t t, char out[32])
{
    static const char  days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char  months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct tm          tm;

    if (gmtime_r(&t, &tm) == NULL) {
        (void) snprintf(out, 32, "Thu, 01 Jan 1970 00:00:00 +0000");
        return;
    }

    (void) snprintf(out, 32, "%s, %02d %s %04d %02d:%02d:%02d +0000",
        days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], (tm.tm_year + 1900) % 10000,
        tm.tm_hour, tm.tm_min, tm.tm_sec);
}


/*
 * Encoded-words: the text is cut into pieces of at most 45 bytes, never inside a UTF-8
 * sequence, each written as =?UTF-8?B?<base64>?= (at most 72 characters).  The first goes
 * on the current line if at least one whole character fits there; the others each start a
 * folded line (CRLF and a space), which decoders drop between encoded-words.
 */

size_t
mail_encode_words(mail_buf_t *b, const char *s, size_t len, size_t col)
{
    unsigned char  enc[4 * ((MAIL_WORD_BYTES + 2) / 3) + 1];
    size_t         i, n, room;
    int            first = 1, elen;

    for (i = 0; i < len; i += n) {
        room = col + 12 < MAIL_LINE ? (MAIL_LINE - col - 12) / 4 * 3 : 0;

        if (!first || room < 4) {
            mail_buf_add(b, "\r\n ", 3);
            col = 1;
            room = (MAIL_LINE - col - 12) / 4 * 3;
        }

        if (room > MAIL_WORD_BYTES) {
            room = MAIL_WORD_BYTES;
        }

        n = len - i < room ? len - i : room;

        if (i + n < len) {
            while (n > 0 && ((unsigned char) s[i + n] & 0xc0) == 0x80) {
                n--;
            }
            if (n == 0) {
                /* Not UTF-8 after all: cut anywhere rather than loop. */
                n = len - i < room ? len - i : room;
            }
        }

        elen = EVP_EncodeBlock(enc, (const unsigned char *) s + i, (int) n);
        if (elen < 0) {
            b->failed = 1;
            return col;
        }

        mail_buf_add(b, "=?UTF-8?B?", 10);
        mail_buf_add(b, (const char *) enc, (size_t) elen);
        mail_buf_add(b, "?=", 2);
        col += 12 + (size_t) elen;
        first = 0;
    }

    return col;
}


/* A display name made only of atext and single inner spaces, not looking like an
 * encoded-word, can stay as it is. */

static int
mail_phrase_plain(const char *s, size_t len)
{
    size_t  i;

    if (len == 0 || s[0] == ' ' || s[len - 1] == ' ') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        unsigned char  c = (unsigned char) s[i];

        if (c == ' ') {
            if (s[i + 1] == ' ') {
                return 0;
            }
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL)))
        {
            return 0;
        }

        if (c == '=' && s[i + 1] == '?') {
            return 0;
        }
    }

    return 1;
}


size_t
mail_encode_phrase(mail_buf_t *b, const char *s, size_t col)
{
    size_t  len;

    len = strlen(s);

    if (mail_phrase_plain(s, len) && col + len <= MAIL_LINE) {
        mail_buf_add(b, s, len);
        return col + len;
    }

    return mail_encode_words(b, s, len, col);
}


/*
 * Quoted-printable: line breaks of the text (CRLF, LF or CR) become CRLF; '=', controls
 * and bytes above 126 are written =XX, and so are a space or tab before a line break and
 * a '.' opening a line (a lone "." would end the SMTP data).  Lines longer than 76
 * characters are broken with a soft break ("=" then CRLF), never inside an =XX.
 */

void
mail_qp(mail_buf_t *b, const char *s, size_t len)
{
    static const char  hex[] = "0123456789ABCDEF";
    char               piece[3];
    size_t             i, col, n;
    unsigned char      c, next;

    col = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) s[i];

        if (c == '\r' || c == '\n') {
            if (c == '\r' && i + 1 < len && s[i + 1] == '\n') {
                i++;
            }
            mail_buf_add(b, "\r\n", 2);
            col = 0;
            continue;
        }

        next = i + 1 < len ? (unsigned char) s[i + 1] : '\n';

        if (c == '=' || (c < 0x20 && c != '\t') || c > 0x7e
            || ((c == ' ' || c == '\t') && (next == '\r' || next == '\n'))
            || (c == '.' && col == 0))
        {
            piece[0] = '=';
            piece[1] = hex[c >> 4];
            piece[2] = hex[c & 0x0f];
            n = 3;

        } else {
            piece[0] = (char) c;
            n = 1;
        }

        /* Room is kept for the "=" of a soft break: 75 characters, then "=". */
        if (col + n > MAIL_LINE - 1) {
            mail_buf_add(b, "=\r\n", 3);
            col = 0;

            if (piece[0] == '.') {
                piece[0] = '=';
                piece[1] = '2';
                piece[2] = 'E';
                n = 3;
            }
        }

        mail_buf_add(b, piece, n);
        col += n;
    }

    if (col > 0) {
        mail_buf_add(b, "\r\n", 2);
    }
}


/* A Message-ID's left and right parts: dot-atoms of letters, digits and "-_.", one "@". */

static int
mail_id_ok(const char *s)
{
    size_t  i, at = 0;

    for (i = 0; s[i] != '\0'; i++) {
        char  c = s[i];

        if (c == '@') {
            at++;
            continue;
        }

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_' || c == '.'))
        {
            return 0;
        }
    }

    return at == 1 && i > 2 && i <= MAIL_ADDR_MAX + 40 && s[0] != '@' && s[i - 1] != '@';
}


/* "To: Name <addr>" with the name encoded when needed and the address moved to a folded
 * line when it would pass the line's end. */

static size_t
mail_addr_field(mail_buf_t *b, const char *field, const char *name, const char *addr)
{
    size_t  col, alen;

    mail_buf_str(b, field);
    mail_buf_add(b, ": ", 2);
    col = strlen(field) + 2;
    alen = strlen(addr) + 2;

    if (name != NULL && name[0] != '\0') {
        col = mail_encode_phrase(b, name, col);

        if (col + 1 + alen > MAIL_LINE) {
            mail_buf_add(b, "\r\n ", 3);
            col = 1;
        } else {
            mail_buf_add(b, " ", 1);
            col++;
        }
    }

    mail_buf_add(b, "<", 1);
    mail_buf_str(b, addr);
    mail_buf_add(b, ">\r\n", 3);

    return col + alen;
}


int
mail_build(const mail_message_t *m, mail_buf_t *out)
{
    unsigned char  rnd[12];
    char           date[32], boundary[64];
    size_t         i;

    if (!mail_addr_ok(m->from_addr) || !mail_addr_ok(m->to_addr)
        || (m->reply_addr != NULL && !mail_addr_ok(m->reply_addr))
        || !mail_id_ok(m->message_id))
    {
        return -1;
    }

    if (m->boundary != NULL) {
        (void) snprintf(boundary, sizeof(boundary), "%s", m->boundary);

    } else {
        /* "=_" never occurs in quoted-printable text, so no body line can match it. */
        if (fv_random(rnd, sizeof(rnd)) != 0) {
            return -1;
        }

        memcpy(boundary, "=_flores_", 9);
        for (i = 0; i < sizeof(rnd); i++) {
            boundary[9 + 2 * i] = "0123456789abcdef"[rnd[i] >> 4];
            boundary[10 + 2 * i] = "0123456789abcdef"[rnd[i] & 0x0f];
        }
        boundary[9 + 2 * sizeof(rnd)] = '\0';
    }

    mail_date(m->date, date);

    mail_buf_str(out, "Date: ");
    mail_buf_str(out, date);
    mail_buf_str(out, "\r\n");

    (void) mail_addr_field(out, "From", m->from_name, m->from_addr);
    (void) mail_addr_field(out, "To", m->to_name, m->to_addr);
    if (m->reply_addr != NULL) {
        (void) mail_addr_field(out, "Reply-To", m->reply_name, m->reply_addr);
    }

    mail_buf_str(out, "Subject: ");
    if (mail_phrase_plain(m->subject, strlen(m->subject))
        && strlen(m->subject) <= MAIL_LINE - 9)
    {
        mail_buf_str(out, m->subject);
    } else {
        (void) mail_encode_words(out, m->subject, strlen(m->subject), 9);
    }
    mail_buf_str(out, "\r\n");

    mail_buf_str(out, "Message-ID: <");
    mail_buf_str(out, m->message_id);
    mail_buf_str(out, ">\r\n"
        "MIME-Version: 1.0\r\n"
        "Auto-Submitted: auto-generated\r\n"
        "Content-Type: multipart/alternative;\r\n boundary=\"");
    mail_buf_str(out, boundary);
    mail_buf_str(out, "\"\r\n\r\n");

    mail_buf_str(out, "--");
    mail_buf_str(out, boundary);
    mail_buf_str(out, "\r\nContent-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    mail_qp(out, m->text, strlen(m->text));

    mail_buf_str(out, "--");
    mail_buf_str(out, boundary);
    mail_buf_str(out, "\r\nContent-Type: text/html; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n");
    mail_qp(out, m->html, strlen(m->html));

    mail_buf_str(out, "--");
    mail_buf_str(out, boundary);
    mail_buf_str(out, "--\r\n");

    return out->failed ? -1 : 0;
}
