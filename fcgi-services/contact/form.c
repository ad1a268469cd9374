/* form.c: the contact form's own rules (subjects, phone numbers, ticket ids, what of the
 * sender's an acknowledgement may show) and the formatting of prices in mails. */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "contact.h"


static size_t contact_utf8(const unsigned char *s, uint32_t *cp);
static int contact_hidden(uint32_t cp);
static int contact_blank(uint32_t cp);
static int contact_dot(uint32_t cp);


const char *const  contact_subjects[] = {
    "pedido", "consulta", "cotizacion", "evento", "reclamo", "otro", NULL
};

static const char *const  contact_subject_labels[] = {
    "Pedido", "Consulta", "Cotización", "Evento", "Reclamo", "Otro", NULL
};


const char *
contact_subject_label(const char *subject)
{
    size_t  i;

    for (i = 0; contact_subjects[i] != NULL; i++) {
        if (strcmp(contact_subjects[i], subject) == 0) {
            return contact_subject_labels[i];
        }
    }

    return "Otro";
}


const char *
contact_subject_fixed(const char *s)
{
    size_t  i;

    for (i = 0; contact_subjects[i] != NULL; i++) {
        if (strcmp(contact_subjects[i], s) == 0 || strcmp(contact_subject_labels[i], s) == 0) {
            return contact_subject_labels[i];
        }
    }

    return "Otro";
}


/*
 * Chile's numbering plan has had 9 digits everywhere since 2016: mobiles 9XXXXXXXX,
 * Santiago 2XXXXXXXX, the regions their area code and the number (3X..7X); country code
 * 56.  A number without "+" is read as Chilean (9 digits, or 56 and 9 digits); with "+" it
 * is any E.164 number (a country code not starting with 0, 8 to 15 digits in all), and
 * +56 must again be followed by exactly 9 digits.
 */

int
contact_phone_normalize(const char *in, char out[CONTACT_PHONE_LEN + 1])
{
    char    digits[CONTACT_PHONE_MAX + 1];
    size_t  i, n;
    int     plus;

    n = 0;
    plus = 0;

    for (i = 0; in[i] != '\0'; i++) {
        char  c = in[i];

        if (c >= '0' && c <= '9') {
            if (n == sizeof(digits) - 1) {
                return -1;
            }
            digits[n++] = c;

        } else if (c == '+' && n == 0 && !plus) {
            plus = 1;

        } else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
            return -1;
        }
    }

    digits[n] = '\0';

    if (plus) {
        if (n < 8 || n > 15 || digits[0] == '0') {
            return -1;
        }
        if (strncmp(digits, "56", 2) == 0 && (n != 11 || digits[2] == '0' || digits[2] == '1')) {
            return -1;
        }

    } else if (n == 11 && strncmp(digits, "56", 2) == 0 && digits[2] >= '2') {
        /* already with the country code */

    } else if (n == 9 && digits[0] >= '2') {
        memmove(digits + 2, digits, n + 1);
        digits[0] = '5';
        digits[1] = '6';
        n += 2;

    } else {
        return -1;
    }

    /* n is at most 15 here. */
    out[0] = '+';
    memcpy(out + 1, digits, n + 1);
    return 0;
}


int
contact_ticket_new(char out[CONTACT_TICKET_LEN + 1])
{
    /* Crockford's base 32: no I, L, O or U to misread over the phone. */
    static const char  alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    unsigned char      rnd[6];
    char               day[48];
    struct tm          tm;
    time_t             now;
    size_t             i;

    if (fv_random(rnd, sizeof(rnd)) != 0) {
        return -1;
    }

    now = time(NULL);
    if (gmtime_r(&now, &tm) == NULL) {
        return -1;
    }

    (void) snprintf(day, sizeof(day), "CT-%04d%02d%02d-",
        (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100, tm.tm_mday % 100);
    memcpy(out, day, 12);

    for (i = 0; i < sizeof(rnd); i++) {
        out[12 + i] = alphabet[rnd[i] & 0x1f];
    }

    out[CONTACT_TICKET_LEN] = '\0';
    return 0;
}


void
contact_clp(int64_t amount, char out[32])
{
    char     digits[24];
    size_t   n, i, o;

    if (amount < 0) {
        amount = 0;
    }

    n = (size_t) snprintf(digits, sizeof(digits), "%" PRId64, amount);

    o = 0;
    out[o++] = '$';
    for (i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            out[o++] = '.';
        }
        out[o++] = digits[i];
    }
    out[o] = '\0';
}



int
contact_ticket_ok(const char *s)
{
    size_t  i;

    if (strlen(s) != CONTACT_TICKET_LEN || strncmp(s, "CT-", 3) != 0 || s[11] != '-') {
        return 0;
    }

    for (i = 3; i < 11; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    for (i = 12; i < CONTACT_TICKET_LEN; i++) {
        if (s[i] == '\0' || strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", s[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


/*
 * What makes a name unfit for an acknowledgement is whatever a mail client could turn
 * into a link, or a reader could take for an address: a scheme (":/", which covers
 * "://", and ":\\" that some clients mend), "www.", "@",
 * angle brackets, and a host name: a full stop, or a look-alike that clients or IDNA map
 * to one, between two non-blank characters ("x.cl", "evil。com").  That also drops a few
 * honest names ("J.P. Soto"): they get the neutral greeting, which is the safe side.
 * Invisible characters go too: a zero-width space would hide a host name from the check
 * above, a bidirectional override would show "moc.live" backwards.  The whole name is
 * read, not only what is kept, so that a link cut in half is still found.
 */

int
contact_ack_name(const char *name, char out[CONTACT_ACK_NAME_SIZE])
{
    const unsigned char  *p, *start, *end;
    uint32_t              cp, prev, next;
    size_t                n, chars;
    const char           *q;

    out[0] = '\0';

    for (q = name; *q != '\0'; q++) {
        if ((q[0] == ':' && (q[1] == '/' || q[1] == '\\'))
            || ((q[0] | 0x20) == 'w' && (q[1] | 0x20) == 'w' && (q[2] | 0x20) == 'w'
                && q[3] == '.'))
        {
            return 0;
        }
    }

    start = (const unsigned char *) name;
    while (*start == ' ') {
        start++;
    }

    end = start;
    chars = 0;
    prev = ' ';

    for (p = start; *p != '\0'; p += n) {
        n = contact_utf8(p, &cp);

        if (n == 0 || contact_hidden(cp) || cp == '@' || cp == '<' || cp == '>') {
            return 0;
        }

        if (contact_dot(cp) && !contact_blank(prev) && p[n] != '\0') {
            if (contact_utf8(p + n, &next) == 0 || !contact_blank(next)) {
                return 0;
            }
        }

        if (chars < CONTACT_ACK_NAME_MAX) {
            chars++;
            end = p + n;
        }

        prev = cp;
    }

    while (end > start && end[-1] == ' ') {
        end--;
    }

    if (end == start) {
        return 0;
    }

    /* At most 60 characters of at most 4 bytes each: it fits. */
    memcpy(out, start, (size_t) (end - start));
    out[end - start] = '\0';
    return 1;
}


void
contact_ack_key(const char *addr, char out[65])
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      md[EVP_MAX_MD_SIZE];
    unsigned int       mdlen, i;
    EVP_MD_CTX        *c;
    const char        *s, *e;
    char               chunk[64];
    size_t             n;

    s = addr;
    e = addr + strlen(addr);
    while (s < e && strchr(" \t\n\v\f\r", *s) != NULL) {
        s++;
    }
    while (e > s && strchr(" \t\n\v\f\r", e[-1]) != NULL) {
        e--;
    }

    mdlen = 0;
    c = EVP_MD_CTX_new();

    if (c != NULL && EVP_DigestInit_ex(c, EVP_sha256(), NULL) == 1) {
        while (s < e) {
            for (n = 0; n < sizeof(chunk) && s < e; n++, s++) {
                chunk[n] = (*s >= 'A' && *s <= 'Z') ? (char) (*s + ('a' - 'A')) : *s;
            }
            if (EVP_DigestUpdate(c, chunk, n) != 1) {
                break;
            }
        }

        if (s < e || EVP_DigestFinal_ex(c, md, &mdlen) != 1) {
            mdlen = 0;
        }
    }

    EVP_MD_CTX_free(c);

    if (mdlen != 32) {
        /* Out of memory in OpenSSL: a key no address has, so nothing is merged. */
        memset(out, '0', 64);
        out[64] = '\0';
        return;
    }

    for (i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0x0f];
    }
    out[64] = '\0';
}


/* One character of strict UTF-8 (no overlong forms, surrogates or values past U+10FFFF):
 * its length, or 0 when s does not start with one. */

static size_t
contact_utf8(const unsigned char *s, uint32_t *cp)
{
    uint32_t  c;

    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        if ((s[1] & 0xc0) != 0x80) {
            return 0;
        }
        *cp = ((uint32_t) (s[0] & 0x1f) << 6) | (s[1] & 0x3f);
        return 2;
    }

    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) {
            return 0;
        }
        c = ((uint32_t) (s[0] & 0x0f) << 12) | ((uint32_t) (s[1] & 0x3f) << 6) | (s[2] & 0x3f);
        if (c < 0x800 || (c >= 0xd800 && c <= 0xdfff)) {
            return 0;
        }
        *cp = c;
        return 3;
    }

    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80) {
            return 0;
        }
        c = ((uint32_t) (s[0] & 0x07) << 18) | ((uint32_t) (s[1] & 0x3f) << 12)
            | ((uint32_t) (s[2] & 0x3f) << 6) | (s[3] & 0x3f);
        if (c < 0x10000 || c > 0x10ffff) {
            return 0;
        }
        *cp = c;
        return 4;
    }

    return 0;
}


/* Controls, and characters that show nothing but change what is shown. */

static int
contact_hidden(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)
        || cp == 0xad                               /* soft hyphen */
        || cp == 0x34f || cp == 0x61c || cp == 0x180e
        || (cp >= 0x200b && cp <= 0x200f)           /* zero-width, LRM, RLM */
        || (cp >= 0x202a && cp <= 0x202e)           /* bidirectional embeddings, overrides */
        || (cp >= 0x2060 && cp <= 0x206f)           /* word joiner, isolates, deprecated */
        || cp == 0xfeff                             /* zero-width no-break space, BOM */
        || (cp >= 0xfff9 && cp <= 0xfffb)
        || (cp >= 0xe0000 && cp <= 0xe007f);        /* tags */
}


static int
contact_blank(uint32_t cp)
{
    return cp == ' ' || cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f
        || cp == 0x205f || cp == 0x3000;
}


/* "." and what passes for it: one dot leader, ideographic, small, fullwidth and halfwidth
 * full stops. */

static int
contact_dot(uint32_t cp)
{
    return cp == '.' || cp == 0x2024 || cp == 0x3002 || cp == 0xfe52 || cp == 0xff0e
        || cp == 0xff61;
}
