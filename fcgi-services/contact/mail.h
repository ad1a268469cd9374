/* mail.h: outbound mail: RFC 5322 messages (MIME multipart/alternative, RFC 2047 headers),
 * the templates under conf/mail, and delivery over SMTP with libcurl. */

#ifndef CONTACT_MAIL_H
#define CONTACT_MAIL_H

#include <stddef.h>
#include <time.h>
#include "fv.h"


#define MAIL_ADDR_MAX          254          /* bytes of an address (RFC 5321 path) */
#define MAIL_NAME_MAX          200          /* characters of a display name */
#define MAIL_TEMPLATE_MAX      65536        /* bytes of one template file */
#define MAIL_MESSAGE_MAX       (512 * 1024) /* bytes of one built message */


/* ---- a growable byte buffer (message.c) ----------------------------------------------
 * After an allocation failure (or growing past MAIL_MESSAGE_MAX) the buffer is marked
 * failed and further appends do nothing: the caller checks once, at the end. */

typedef struct {
    char                 *data;
    size_t                len;
    size_t                cap;
    int                   failed;
} mail_buf_t;

void mail_buf_init(mail_buf_t *b);
void mail_buf_free(mail_buf_t *b);
void mail_buf_add(mail_buf_t *b, const char *s, size_t len);
void mail_buf_str(mail_buf_t *b, const char *s);


/* ---- messages (message.c) ------------------------------------------------------------- */

typedef struct {
    const char           *from_addr;
    const char           *from_name;      /* NULL or "": none */
    const char           *to_addr;
    const char           *to_name;
    const char           *reply_addr;     /* NULL: no Reply-To */
    const char           *reply_name;
    const char           *subject;        /* UTF-8, one line */
    const char           *text;           /* UTF-8, any newline convention */
    const char           *html;
    const char           *message_id;     /* "local@domain", without the angle brackets */
    time_t                date;
    const char           *boundary;       /* NULL: a random one */
} mail_message_t;

/* A whole message with CRLF line ends: headers (lines folded within 76 characters but for
 * a very long address), then a multipart/alternative body of text/plain and text/html, both
 * UTF-8 quoted-printable.  Returns 0, or -1 (out of memory, too large, or an address or id
 * unfit for a header). */
int mail_build(const mail_message_t *m, mail_buf_t *out);

/* Header pieces, exposed for the unit tests.  col is the column the text starts at; they
 * return the column after it.  A phrase (display name) stays as it is when it is plain
 * atext that fits the line, else it becomes encoded-words; encoded-words are RFC 2047 "B"
 * words of UTF-8, each at most 75 characters, never splitting a character, folded so that
 * no line passes 76 characters. */
size_t mail_encode_phrase(mail_buf_t *b, const char *s, size_t col);
size_t mail_encode_words(mail_buf_t *b, const char *s, size_t len, size_t col);
void mail_qp(mail_buf_t *b, const char *s, size_t len);
void mail_date(time_t t, char out[32]);
/* 1 when s is an address fit for an SMTP path and a header: local@domain, printable
 * ASCII without spaces, quotes, angle brackets, commas or semicolons, at most 254 bytes. */
int mail_addr_ok(const char *s);


/* ---- templates (template.c) -----------------------------------------------------------
 * conf/mail/<name>.txt starts with a "Subject: ..." line and an empty line, then the plain
 * text; <name>.html is the HTML alternative.  {{var}} takes the value of a variable:
 * as it is in the subject (control characters become spaces) and the text, HTML-escaped
 * in the HTML.  Every template is read and checked once, at start; contact_ack may use
 * only {{ticket}}, {{name}}, {{greeting}} and {{subject}}, the variables the mailer fills
 * from what may be shown to an unverified address. */

typedef enum {
    MAIL_TPL_CONTACT_SHOP = 0,
    MAIL_TPL_CONTACT_ACK,
    MAIL_TPL_PASSWORD_RESET,
    MAIL_TPL_ORDER_CREATED,
    MAIL_TPL_ORDER_STATUS,
    MAIL_TPL_COUNT
} mail_tpl_e;

typedef struct {
    char                 *subject;
    char                 *text;
    char                 *html;
} mail_template_t;

typedef struct {
    mail_template_t       tpl[MAIL_TPL_COUNT];
} mail_templates_t;

/* The template names of mail requests, in mail_tpl_e order, NULL-terminated. */
extern const char *const  mail_template_names[];

int mail_templates_load(mail_templates_t *t, const char *dir);
void mail_templates_free(mail_templates_t *t);
/* The template's index for a name, -1 when there is none. */
int mail_template_find(const char *name);

typedef enum {
    MAIL_RENDER_TEXT = 0,
    MAIL_RENDER_HTML,
    MAIL_RENDER_HEADER
} mail_render_e;

/* Appends tpl with its {{var}} filled from vars (strings and integers; null is empty).
 * Returns 0, or -1 with the name of the first missing or unusable variable in bad. */
int mail_render(const char *tpl, json_object *vars, mail_render_e how, mail_buf_t *out,
    char *bad, size_t bad_size);


/* ---- SMTP (smtp.c) --------------------------------------------------------------------
 * FLORES_SMTP_URL (smtp:// or smtps://host:port; the path, when absent, becomes the EHLO
 * domain: the domain of FLORES_MAIL_FROM), optional FLORES_SMTP_USER and
 * FLORES_SMTP_PASSWORD(_FILE), FLORES_SMTP_STARTTLS=1 to require STARTTLS,
 * FLORES_SMTP_TIMEOUT (seconds, default 30). */

typedef enum {
    MAIL_SENT = 0,              /* the server accepted the message (250 after DATA) */
    MAIL_TEMPFAIL,              /* unreachable, timed out, 4xx: try again later */
    MAIL_PERMFAIL               /* 5xx: this message will never be accepted */
} mail_send_e;

typedef struct {
    char                  url[512];
    char                  user[256];
    char                 *password;     /* NULL: no authentication */
    int                   starttls;
    long                  timeout_ms;
} mail_smtp_t;

/* Reads the settings (domain: the EHLO name when the URL has no path); -1 with a logged
 * reason.  Call curl_global_init() first. */
int mail_smtp_init(mail_smtp_t *s, const fv_conf_t *conf, const char *domain);
void mail_smtp_free(mail_smtp_t *s);
/* One message to one recipient.  why receives a short reason on failure; code the last
 * SMTP reply code (0 when none came). */
mail_send_e mail_smtp_send(const mail_smtp_t *s, const char *from, const char *rcpt,
    const char *msg, size_t len, long *code, char *why, size_t why_size);

#endif /* CONTACT_MAIL_H */
