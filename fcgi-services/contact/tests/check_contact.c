/* check_contact.c: unit tests of the contact service's pure parts: quoted-printable
 * bodies, RFC 2047 headers, whole messages, the templates under conf/mail, phone numbers,
 * tickets and prices. */

#include <config.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "contact.h"
#include "mail.h"


/* ---- decoders written independently of the encoders ------------------------------------ */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}


/* Quoted-printable back to text, CRLF as "\n"; NULL when malformed. */
static char *
qp_decode(const char *s)
{
    char    *out, *o;
    size_t   i;

    out = malloc(strlen(s) + 1);
    ck_assert_ptr_nonnull(out);
    o = out;

    for (i = 0; s[i] != '\0'; i++) {
        if (s[i] == '=' && s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
        } else if (s[i] == '=') {
            if (hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0) {
                free(out);
                return NULL;
            }
            *o++ = (char) (hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (s[i] == '\r' && s[i + 1] == '\n') {
            *o++ = '\n';
            i++;
        } else {
            *o++ = s[i];
        }
    }

    *o = '\0';
    return out;
}


/* Every line ends in CRLF, no bare CR or LF, and none is longer than max characters. */
static void
lines_ok(const char *s, size_t max)
{
    const char  *line = s, *p;

    for (p = s; *p != '\0'; p++) {
        if (*p == '\r') {
            ck_assert_msg(p[1] == '\n', "bare CR at %ld", (long) (p - s));
            ck_assert_msg((size_t) (p - line) <= max, "line of %ld > %zu: %.*s",
                          (long) (p - line), max, (int) (p - line), line);
            p++;
            line = p + 1;
        } else {
            ck_assert_msg(*p != '\n', "bare LF at %ld", (long) (p - s));
        }
    }
}


/* Decodes a header value made of "B" encoded-words separated by folding white space;
 * checks each word's length and that each holds whole UTF-8 characters. */
static char *
words_decode(const char *s)
{
    unsigned char  buf[256];
    char          *out;
    const char    *p, *end;
    size_t         o = 0, len;
    int            n;

    out = malloc(strlen(s) + 1);
    ck_assert_ptr_nonnull(out);

    for (p = s; *p != '\0'; ) {
        if (*p == ' ' || *p == '\r' || *p == '\n') {
            p++;
            continue;
        }
        ck_assert_msg(strncmp(p, "=?UTF-8?B?", 10) == 0, "not an encoded-word: %s", p);
        end = strstr(p + 10, "?=");
        ck_assert_ptr_nonnull(end);
        ck_assert_msg(end + 2 - p <= 75, "encoded-word of %ld characters", (long) (end + 2 - p));
        len = (size_t) (end - p - 10);
        n = EVP_DecodeBlock(buf, (const unsigned char *) p + 10, (int) len);
        ck_assert_int_ge(n, 0);
        while (len > 0 && p[10 + len - 1] == '=') {
            n--;
            len--;
        }
        /* A word never ends inside a UTF-8 sequence. */
        ck_assert_msg(n == 0 || (buf[n - 1] & 0x80) == 0 || (buf[n - 1] & 0xc0) == 0x80,
                      "word ends with a lead byte");
        if (n > 0 && (buf[n - 1] & 0xc0) == 0x80) {
            int  k = n - 1, need;
            while (k > 0 && (buf[k] & 0xc0) == 0x80) {
                k--;
            }
            need = (buf[k] & 0xe0) == 0xc0 ? 2 : (buf[k] & 0xf0) == 0xe0 ? 3 : 4;
            ck_assert_msg(n - k == need, "word ends inside a character");
        }
        memcpy(out + o, buf, (size_t) n);
        o += (size_t) n;
        p = end + 2;
    }

    out[o] = '\0';
    return out;
}


static char *
buf_take(mail_buf_t *b)
{
    char  *s;

    ck_assert(!b->failed);
    s = strdup(b->data ? b->data : "");
    mail_buf_free(b);
    return s;
}


/* ---- quoted-printable ------------------------------------------------------------------ */

START_TEST(qp_plain_ascii_is_untouched)
{
    mail_buf_t  b;
    char       *s;

    mail_buf_init(&b);
    mail_qp(&b, "Hola, buenas tardes.\nGracias.", 29);
    s = buf_take(&b);
    ck_assert_str_eq(s, "Hola, buenas tardes.\r\nGracias.\r\n");
    free(s);
}
END_TEST


START_TEST(qp_escapes_what_it_must)
{
    mail_buf_t  b;
    char       *s;
    const char *in = "a=b ñ\t\r\n.punto \nfin\r";

    mail_buf_init(&b);
    mail_qp(&b, in, strlen(in));
    s = buf_take(&b);
    /* '=', UTF-8, white space before a line break, a leading dot; CR, LF, CRLF all CRLF. */
    ck_assert_str_eq(s, "a=3Db =C3=B1=09\r\n=2Epunto=20\r\nfin\r\n");
    free(s);
}
END_TEST


START_TEST(qp_long_lines_round_trip)
{
    mail_buf_t  b;
    char        in[4096], *s, *back;
    size_t      i;
    const char *alphabet = "abc =.ñé€\t\n\x01\x7f";

    /* Pseudo-random text over awkward characters, deterministic. */
    srand(7);
    for (i = 0; i < sizeof(in) - 1; ) {
        const char  *pick = alphabet + rand() % (int) strlen(alphabet);
        size_t       n = ((unsigned char) *pick & 0x80) ? ((unsigned char) *pick >= 0xe0 ? 3 : 2) : 1;

        while (((unsigned char) *pick & 0xc0) == 0x80) {
            pick--;
            n = ((unsigned char) *pick >= 0xe0) ? 3 : 2;
        }
        if (i + n >= sizeof(in) - 1) {
            break;
        }
        memcpy(in + i, pick, n);
        i += n;
    }
    in[i] = '\0';

    mail_buf_init(&b);
    mail_qp(&b, in, strlen(in));
    s = buf_take(&b);
    lines_ok(s, 76);

    back = qp_decode(s);
    ck_assert_ptr_nonnull(back);
    /* The decoder gives "\n" for every line break; the text had only "\n" ones. */
    ck_assert_uint_eq(strlen(back), strlen(in) + (in[strlen(in) - 1] == '\n' ? 0 : 1));
    ck_assert(strncmp(back, in, strlen(in)) == 0);
    free(back);
    free(s);
}
END_TEST


/* ---- headers --------------------------------------------------------------------------- */

START_TEST(plain_names_stay_plain)
{
    mail_buf_t  b;
    char       *s;

    mail_buf_init(&b);
    (void) mail_encode_phrase(&b, "Ana Rojas", 4);
    s = buf_take(&b);
    ck_assert_str_eq(s, "Ana Rojas");
    free(s);
}
END_TEST


START_TEST(other_names_are_encoded_words)
{
    static const char *const  names[] = {
        "José Pérez Muñoz",
        "O'Higgins, Bernardo",
        "Ana <ana@evil.example>",
        "=?UTF-8?B?Zm9v?=",
        "\"quoted\" name",
        "Ñandú Ñuñoa Ñuble Peñalolén Vicuña Mackenna Ñielol Cañete Curacautín Ñipas "
            "Chañaral Chillán Concepción Valparaíso Viña del Mar",
        NULL
    };
    mail_buf_t   b;
    char        *s, *back;
    size_t       i;

    for (i = 0; names[i] != NULL; i++) {
        mail_buf_init(&b);
        mail_buf_str(&b, "To: ");
        (void) mail_encode_phrase(&b, names[i], 4);
        mail_buf_str(&b, "\r\n");
        s = buf_take(&b);
        lines_ok(s, 76);
        ck_assert(strchr(s + 4, '<') == NULL && strchr(s + 4, ',') == NULL);
        s[strlen(s) - 2] = '\0';
        back = words_decode(s + 4);
        ck_assert_str_eq(back, names[i]);
        free(back);
        free(s);
    }
}
END_TEST


START_TEST(dates_are_rfc5322)
{
    char  d[32];

    mail_date(0, d);
    ck_assert_str_eq(d, "Thu, 01 Jan 1970 00:00:00 +0000");
    mail_date(1795815079, d);
    ck_assert_str_eq(d, "Fri, 27 Nov 2026 21:31:19 +0000");
}
END_TEST


START_TEST(addresses_fit_for_headers)
{
    ck_assert(mail_addr_ok("ana@example.com"));
    ck_assert(mail_addr_ok("a.b+c@sub.example.cl"));
    ck_assert(!mail_addr_ok("ana@example.com\r\nBcc: x@y.z"));
    ck_assert(!mail_addr_ok("ana@example.com>"));
    ck_assert(!mail_addr_ok("ana example@x.cl"));
    ck_assert(!mail_addr_ok("a@b@c.cl"));
    ck_assert(!mail_addr_ok("@example.com"));
    ck_assert(!mail_addr_ok("ana@"));
    ck_assert(!mail_addr_ok("añа@example.com"));
    ck_assert(!mail_addr_ok("a,b@example.com"));
}
END_TEST


/* ---- whole messages -------------------------------------------------------------------- */

static mail_message_t
sample(void)
{
    mail_message_t  m;

    memset(&m, 0, sizeof(m));
    m.from_addr = "no-reply@floresvictoria.cl";
    m.from_name = "Flores Victoria";
    m.to_addr = "contacto@floresvictoria.cl";
    m.to_name = "Flores Victoria";
    m.reply_addr = "jose@example.com";
    m.reply_name = "José Pérez";
    m.subject = "Nuevo mensaje de contacto: Cotización — José Pérez (CT-20261127-ABCDEF)";
    m.text = "Hola\nmundo ñ\n";
    m.html = "<p>Hola &amp; ñ</p>\n";
    m.message_id = "0b4f6c1e-1111-4222-8333-944455556666@floresvictoria.cl";
    m.date = 1795815079;
    m.boundary = "=_test";
    return m;
}


START_TEST(message_has_every_header_and_part)
{
    mail_message_t  m = sample();
    mail_buf_t      b;
    char           *s, *subj, *end, *back;

    mail_buf_init(&b);
    ck_assert_int_eq(mail_build(&m, &b), 0);
    s = buf_take(&b);
    lines_ok(s, 76);

    ck_assert(strncmp(s, "Date: Fri, 27 Nov 2026 21:31:19 +0000\r\n", 39) == 0);
    ck_assert_ptr_nonnull(strstr(s, "\r\nFrom: Flores Victoria <no-reply@floresvictoria.cl>\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "\r\nTo: Flores Victoria <contacto@floresvictoria.cl>\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "\r\nReply-To: =?UTF-8?B?"));
    ck_assert_ptr_nonnull(strstr(s, " <jose@example.com>\r\n"));
    ck_assert_ptr_nonnull(strstr(s,
        "\r\nMessage-ID: <0b4f6c1e-1111-4222-8333-944455556666@floresvictoria.cl>\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "\r\nMIME-Version: 1.0\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "multipart/alternative;\r\n boundary=\"=_test\"\r\n\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "--=_test\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                                    "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                                    "Hola\r\nmundo =C3=B1\r\n--=_test\r\n"));
    ck_assert_ptr_nonnull(strstr(s, "Content-Type: text/html; charset=UTF-8\r\n"));
    ck_assert(strlen(s) > 12 && strcmp(s + strlen(s) - 12, "--=_test--\r\n") == 0);

    /* The subject decodes back to the original. */
    subj = strstr(s, "\r\nSubject: ") + 11;
    end = strstr(subj, "\r\nMessage-ID");
    *end = '\0';
    back = words_decode(subj);
    ck_assert_str_eq(back, m.subject);
    free(back);
    free(s);
}
END_TEST


START_TEST(message_refuses_header_injection)
{
    mail_message_t  m = sample();
    mail_buf_t      b;

    m.to_addr = "x@example.com\r\nBcc: victim@example.com";
    mail_buf_init(&b);
    ck_assert_int_eq(mail_build(&m, &b), -1);
    mail_buf_free(&b);

    m = sample();
    m.reply_addr = "a@b.cl>\r\nX-Evil: 1";
    mail_buf_init(&b);
    ck_assert_int_eq(mail_build(&m, &b), -1);
    mail_buf_free(&b);

    m = sample();
    m.message_id = "id@x.cl>\r\nBcc: y@z.cl";
    mail_buf_init(&b);
    ck_assert_int_eq(mail_build(&m, &b), -1);
    mail_buf_free(&b);
}
END_TEST


START_TEST(random_boundaries_differ)
{
    mail_message_t  m = sample();
    mail_buf_t      a, b;
    const char     *pa, *pb;

    m.boundary = NULL;
    mail_buf_init(&a);
    mail_buf_init(&b);
    ck_assert_int_eq(mail_build(&m, &a), 0);
    ck_assert_int_eq(mail_build(&m, &b), 0);
    pa = strstr(a.data, "boundary=\"");
    pb = strstr(b.data, "boundary=\"");
    ck_assert_ptr_nonnull(pa);
    ck_assert(strncmp(pa, pb, 40) != 0);
    ck_assert(strncmp(pa, "boundary=\"=_flores_", 19) == 0);
    mail_buf_free(&a);
    mail_buf_free(&b);
}
END_TEST


/* ---- templates ------------------------------------------------------------------------- */

START_TEST(shipped_templates_load)
{
    mail_templates_t  t;
    int               i;

    ck_assert_int_eq(mail_templates_load(&t, CONTACT_MAIL_TEMPLATE_DIR), 0);
    for (i = 0; i < MAIL_TPL_COUNT; i++) {
        ck_assert_ptr_nonnull(t.tpl[i].subject);
        ck_assert(strlen(t.tpl[i].subject) > 0 && strchr(t.tpl[i].subject, '\n') == NULL);
        ck_assert(strlen(t.tpl[i].text) > 0);
        ck_assert_ptr_nonnull(strstr(t.tpl[i].html, "<html lang=\"es\">"));
    }
    ck_assert_int_eq(mail_template_find("password_reset"), MAIL_TPL_PASSWORD_RESET);
    ck_assert_int_eq(mail_template_find("nope"), -1);
    mail_templates_free(&t);

    ck_assert_int_eq(mail_templates_load(&t, "/nonexistent"), -1);
}
END_TEST


/* Protects: an acknowledgement template edited to show {{message}} (or anything but its
 * four variables) stops the start instead of mailing the sender's text to anyone. */
START_TEST(ack_template_may_show_only_its_variables)
{
    static const char *const  bad[] = { "{{message}}", "{{email}}", "{{phone}}", NULL };
    mail_templates_t  t;
    char              dir[] = "/tmp/flores-tpl-XXXXXX", path[256], cmd[1024];
    FILE             *f;
    size_t            i;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    (void) snprintf(cmd, sizeof(cmd), "cp %s/*.txt %s/*.html %s/", CONTACT_MAIL_TEMPLATE_DIR,
                    CONTACT_MAIL_TEMPLATE_DIR, dir);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_int_eq(mail_templates_load(&t, dir), 0);
    mail_templates_free(&t);

    (void) snprintf(path, sizeof(path), "%s/contact_ack.txt", dir);
    for (i = 0; bad[i] != NULL; i++) {
        f = fopen(path, "w");
        ck_assert_ptr_nonnull(f);
        (void) fprintf(f, "Subject: Recibimos tu mensaje ({{ticket}})\n\n{{greeting}}:\n%s\n",
                       bad[i]);
        (void) fclose(f);
        ck_assert_msg(mail_templates_load(&t, dir) == -1, "loaded with %s", bad[i]);
    }

    (void) snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST


START_TEST(render_escapes_per_context)
{
    json_object  *vars;
    mail_buf_t    b;
    char          bad[72], *s;

    vars = json_object_new_object();
    json_object_object_add(vars, "name", json_object_new_string("<b>Ana</b> & \"Co\" 'x'"));
    json_object_object_add(vars, "n", json_object_new_int64(42));
    json_object_object_add(vars, "none", NULL);
    json_object_object_add(vars, "line", json_object_new_string("a\r\nBcc: x@y.z"));

    mail_buf_init(&b);
    ck_assert_int_eq(mail_render("Hola {{name}} {{n}}{{none}}!", vars, MAIL_RENDER_HTML, &b,
                                 bad, sizeof(bad)), 0);
    s = buf_take(&b);
    ck_assert_str_eq(s, "Hola &lt;b&gt;Ana&lt;/b&gt; &amp; &quot;Co&quot; &#39;x&#39; 42!");
    free(s);

    mail_buf_init(&b);
    ck_assert_int_eq(mail_render("{{name}}", vars, MAIL_RENDER_TEXT, &b, bad, sizeof(bad)), 0);
    s = buf_take(&b);
    ck_assert_str_eq(s, "<b>Ana</b> & \"Co\" 'x'");
    free(s);

    mail_buf_init(&b);
    ck_assert_int_eq(mail_render("S: {{line}}", vars, MAIL_RENDER_HEADER, &b, bad,
                                 sizeof(bad)), 0);
    s = buf_take(&b);
    ck_assert_str_eq(s, "S: a  Bcc: x@y.z");
    free(s);

    /* A value that holds "{{...}}" is not expanded again. */
    json_object_object_add(vars, "name", json_object_new_string("{{n}}"));
    mail_buf_init(&b);
    ck_assert_int_eq(mail_render("{{name}}", vars, MAIL_RENDER_TEXT, &b, bad, sizeof(bad)), 0);
    s = buf_take(&b);
    ck_assert_str_eq(s, "{{n}}");
    free(s);

    mail_buf_init(&b);
    ck_assert_int_eq(mail_render("{{missing}}", vars, MAIL_RENDER_TEXT, &b, bad, sizeof(bad)), -1);
    ck_assert_str_eq(bad, "missing");
    mail_buf_free(&b);

    json_object_object_add(vars, "obj", json_object_new_object());
    mail_buf_init(&b);
    ck_assert_int_eq(mail_render("{{obj}}", vars, MAIL_RENDER_TEXT, &b, bad, sizeof(bad)), -1);
    ck_assert_str_eq(bad, "obj");
    mail_buf_free(&b);

    json_object_put(vars);
}
END_TEST


/* ---- SMTP settings -------------------------------------------------------------------- */

static int
smtp_with(const char *url, const char *user, const char *password, mail_smtp_t *s)
{
    fv_conf_t  *conf;
    int         rc;

    (void) unsetenv("FLORES_CONFIG");
    (void) unsetenv("FLORES_SMTP_PASSWORD_FILE");
    if (url) (void) setenv("FLORES_SMTP_URL", url, 1); else (void) unsetenv("FLORES_SMTP_URL");
    if (user) (void) setenv("FLORES_SMTP_USER", user, 1); else (void) unsetenv("FLORES_SMTP_USER");
    if (password) (void) setenv("FLORES_SMTP_PASSWORD", password, 1);
    else (void) unsetenv("FLORES_SMTP_PASSWORD");

    conf = fv_conf_open();
    ck_assert_ptr_nonnull(conf);
    rc = mail_smtp_init(s, conf, "floresvictoria.cl");
    fv_conf_close(conf);
    return rc;
}


START_TEST(smtp_urls_get_an_ehlo_name)
{
    mail_smtp_t  s;

    ck_assert_int_eq(smtp_with("smtp://127.0.0.1:2525", NULL, NULL, &s), 0);
    ck_assert_str_eq(s.url, "smtp://127.0.0.1:2525/floresvictoria.cl");
    ck_assert_ptr_null(s.password);
    mail_smtp_free(&s);

    ck_assert_int_eq(smtp_with("smtp://127.0.0.1:2525/", NULL, NULL, &s), 0);
    ck_assert_str_eq(s.url, "smtp://127.0.0.1:2525/floresvictoria.cl");
    mail_smtp_free(&s);

    ck_assert_int_eq(smtp_with("smtps://mail.example.cl:465/mx.example.cl", "u", "p", &s), 0);
    ck_assert_str_eq(s.url, "smtps://mail.example.cl:465/mx.example.cl");
    ck_assert_str_eq(s.password, "p");
    mail_smtp_free(&s);

    ck_assert_int_eq(smtp_with(NULL, NULL, NULL, &s), 0);
    ck_assert_str_eq(s.url, "smtp://127.0.0.1:25/floresvictoria.cl");
    mail_smtp_free(&s);
}
END_TEST


START_TEST(smtp_settings_refused)
{
    mail_smtp_t  s;

    ck_assert_int_eq(smtp_with("http://127.0.0.1:25", NULL, NULL, &s), -1);
    ck_assert_int_eq(smtp_with("127.0.0.1:25", NULL, NULL, &s), -1);
    ck_assert_int_eq(smtp_with("smtp://127.0.0.1:25", "user", NULL, &s), -1);
}
END_TEST


/* ---- the form -------------------------------------------------------------------------- */

START_TEST(phones_chilean_and_international)
{
    static const char *const  good[][2] = {
        { "+56 9 1234 5678",     "+56912345678" },
        { "912345678",           "+56912345678" },
        { "9 1234 5678",         "+56912345678" },
        { "56912345678",         "+56912345678" },
        { "(2) 2345-6789",       "+56223456789" },
        { "+56 2 2345 6789",     "+56223456789" },
        { "+34 612 345 678",     "+34612345678" },
        { "+1 (415) 555-0100",   "+14155550100" },
        { "+54.11.1234.5678",    "+541112345678" },
        { NULL, NULL }
    };
    static const char *const  bad[] = {
        "12345678", "0912345678", "+56 9 1234 567", "+56 9 1234 56789", "+0 123 456 789",
        "+1234567", "+1234567890123456", "9123a5678", "91234567\n8", "++56912345678",
        "56 9 1234 567", "1 2 3", "+", "", "9-1234-5678 ext 2", NULL
    };
    char    out[CONTACT_PHONE_LEN + 1];
    size_t  i;

    for (i = 0; good[i][0] != NULL; i++) {
        ck_assert_msg(contact_phone_normalize(good[i][0], out) == 0, "refused %s", good[i][0]);
        ck_assert_str_eq(out, good[i][1]);
    }

    for (i = 0; bad[i] != NULL; i++) {
        ck_assert_msg(contact_phone_normalize(bad[i], out) == -1, "accepted \"%s\"", bad[i]);
    }
}
END_TEST


START_TEST(tickets_are_dated_and_random)
{
    char  a[CONTACT_TICKET_LEN + 1], b[CONTACT_TICKET_LEN + 1];
    int   i;

    ck_assert_int_eq(contact_ticket_new(a), 0);
    ck_assert_int_eq(contact_ticket_new(b), 0);
    ck_assert_uint_eq(strlen(a), CONTACT_TICKET_LEN);
    ck_assert(strncmp(a, "CT-20", 5) == 0 && a[11] == '-');
    for (i = 12; i < CONTACT_TICKET_LEN; i++) {
        ck_assert(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ", a[i]) != NULL);
    }
    ck_assert_str_ne(a, b);
}
END_TEST


START_TEST(prices_in_pesos)
{
    char  out[32];

    contact_clp(0, out);
    ck_assert_str_eq(out, "$0");
    contact_clp(990, out);
    ck_assert_str_eq(out, "$990");
    contact_clp(12990, out);
    ck_assert_str_eq(out, "$12.990");
    contact_clp(1234567, out);
    ck_assert_str_eq(out, "$1.234.567");
    contact_clp(-5, out);
    ck_assert_str_eq(out, "$0");
    ck_assert_str_eq(contact_subject_label("cotizacion"), "Cotización");
}
END_TEST


/* ---- the acknowledgement: what of the sender's it may carry ---------------------------- */

/* Protects: the acknowledgement goes to an unverified address, so the only text of the
 * sender's it shows is a name of at most 60 characters in which nothing looks like a link. */
START_TEST(ack_names_plain_ones_are_kept)
{
    static const char *const  kept[][2] = {
        { "Ana Rosa",                 "Ana Rosa" },
        { "José Pérez-Ñuñez",         "José Pérez-Ñuñez" },
        { "Sra. Pérez",               "Sra. Pérez" },
        { "Ana M.",                   "Ana M." },
        { "O'Higgins & Cía",          "O'Higgins & Cía" },
        { "María (florería)",         "María (florería)" },
        { NULL, NULL }
    };
    char    out[CONTACT_ACK_NAME_SIZE];
    size_t  i;

    for (i = 0; kept[i][0] != NULL; i++) {
        ck_assert_msg(contact_ack_name(kept[i][0], out) == 1, "refused \"%s\"", kept[i][0]);
        ck_assert_str_eq(out, kept[i][1]);
    }
}
END_TEST


START_TEST(ack_names_link_like_ones_are_dropped)
{
    static const char *const  dropped[] = {
        "Ana https://evil.example", "http:/x", "http:\\\\x", "ftp://x", "Gana en www.premios",
        "WWW.PREMIOS", "oferta.com", "Visita x.cl ya", "1.2.3.4", "evil . com y evil.c",
        "ana@spam", "Ana <b>", "Ana >", "<", "evil\xe3\x80\x82" "com",        /* 。 */
        "evil\xef\xbc\x8e" "com", "evil\xef\xbd\xa1" "com",                  /* ． ｡ */
        "Ana \xe2\x80\xae" "moc.live",                                        /* RLO */
        "Ana\xe2\x80\x8b" "Rosa", "Ana\xef\xbb\xbf",                          /* ZWSP, BOM */
        "Ana \xc2\x85", "Ana\tRosa", "Ana\x7f",                               /* controls */
        "Ana \xc3", "Ana \xc3\x28", "\xed\xa0\x80", "\xf8\x88\x80\x80\x80",   /* not UTF-8 */
        "\xc0\xae",                                                           /* overlong . */
        "", "   ", NULL
    };
    char    out[CONTACT_ACK_NAME_SIZE];
    size_t  i;

    for (i = 0; dropped[i] != NULL; i++) {
        strcpy(out, "not cleared");
        ck_assert_msg(contact_ack_name(dropped[i], out) == 0, "kept \"%s\"", dropped[i]);
        ck_assert_str_eq(out, "");
    }
}
END_TEST


/* Protects: the cut counts characters, never splits one, and a link after the cut still
 * drops the whole name (the check reads all of it). */
START_TEST(ack_names_are_cut_to_60_characters)
{
    char    in[1024], out[CONTACT_ACK_NAME_SIZE], want[1024];
    size_t  i;

    /* 200 two-byte characters: 60 kept, 120 bytes. */
    in[0] = '\0';
    for (i = 0; i < 200; i++) {
        strcat(in, "\xc3\xb1");
    }
    ck_assert_int_eq(contact_ack_name(in, out), 1);
    ck_assert_uint_eq(strlen(out), 120);
    ck_assert(strncmp(out, in, 120) == 0);

    /* Four-byte characters (a rose), 61 of them: 60 kept. */
    in[0] = '\0';
    for (i = 0; i < 61; i++) {
        strcat(in, "\xf0\x9f\x8c\xb9");
    }
    ck_assert_int_eq(contact_ack_name(in, out), 1);
    ck_assert_uint_eq(strlen(out), 240);

    /* Exactly 60: kept whole. */
    memset(in, 'a', 60);
    in[60] = '\0';
    ck_assert_int_eq(contact_ack_name(in, out), 1);
    ck_assert_str_eq(out, in);

    /* A blank at the cut is not left dangling. */
    memset(in, 'a', 59);
    strcpy(in + 59, " Rosa");
    memset(want, 'a', 59);
    want[59] = '\0';
    ck_assert_int_eq(contact_ack_name(in, out), 1);
    ck_assert_str_eq(out, want);

    /* The link lies past the 60th character: the name is dropped all the same. */
    memset(in, 'a', 70);
    strcpy(in + 70, " x.cl");
    ck_assert_int_eq(contact_ack_name(in, out), 0);
    ck_assert_str_eq(out, "");
}
END_TEST


/* Protects: one recipient is one count however the address is written (DESIGN's one email
 * rule: the blanks SP HT LF VT FF CR trimmed, ASCII letters lower-cased, nothing else). */
START_TEST(ack_keys_normalise_the_address)
{
    char  a[65], b[65];

    contact_ack_key("ana@example.com", a);
    ck_assert_uint_eq(strlen(a), 64);
    /* sha256("ana@example.com") */
    ck_assert_str_eq(a, "8e43ca37701228e74983efdbd0cff5c16b3b1e5d4e29a7c05626d4d25a018e11");

    contact_ack_key(" \t\n\v\f\rAna@Example.COM \r\n", b);
    ck_assert_str_eq(a, b);

    /* Nothing else changes: inner blanks, a no-break space, non-ASCII letters. */
    contact_ack_key("\xc2\xa0" "ana@example.com", b);
    ck_assert_str_ne(a, b);
    contact_ack_key("an a@example.com", b);
    ck_assert_str_ne(a, b);
    contact_ack_key("\xc3\x91" "ana@example.com", a);
    contact_ack_key("\xc3\xb1" "ana@example.com", b);
    ck_assert_str_ne(a, b);
}
END_TEST


START_TEST(ack_subjects_and_tickets)
{
    ck_assert_str_eq(contact_subject_fixed("cotizacion"), "Cotización");
    ck_assert_str_eq(contact_subject_fixed("Cotización"), "Cotización");
    ck_assert_str_eq(contact_subject_fixed("Reclamo"), "Reclamo");
    ck_assert_str_eq(contact_subject_fixed("Compra en https://spam.example"), "Otro");
    ck_assert_str_eq(contact_subject_fixed(""), "Otro");

    ck_assert_int_eq(contact_ticket_ok("CT-20261207-7K3M9Q"), 1);
    ck_assert_int_eq(contact_ticket_ok("CT-20261207-7K3M9"), 0);
    ck_assert_int_eq(contact_ticket_ok("CT-20261207-7K3M9QQ"), 0);
    ck_assert_int_eq(contact_ticket_ok("CT-2026120X-7K3M9Q"), 0);
    ck_assert_int_eq(contact_ticket_ok("CT-20261207-7K3M9U"), 0);
    ck_assert_int_eq(contact_ticket_ok("www.spam.cl-7K3M9Q"), 0);
}
END_TEST


int
main(void)
{
    Suite    *s;
    TCase    *tc;
    SRunner  *sr;
    int       failed;

    fv_log_init("contact-test", FV_LOG_ERROR);

    s = suite_create("contact");

    tc = tcase_create("quoted-printable");
    tcase_add_test(tc, qp_plain_ascii_is_untouched);
    tcase_add_test(tc, qp_escapes_what_it_must);
    tcase_add_test(tc, qp_long_lines_round_trip);
    suite_add_tcase(s, tc);

    tc = tcase_create("headers");
    tcase_add_test(tc, plain_names_stay_plain);
    tcase_add_test(tc, other_names_are_encoded_words);
    tcase_add_test(tc, dates_are_rfc5322);
    tcase_add_test(tc, addresses_fit_for_headers);
    suite_add_tcase(s, tc);

    tc = tcase_create("messages");
    tcase_add_test(tc, message_has_every_header_and_part);
    tcase_add_test(tc, message_refuses_header_injection);
    tcase_add_test(tc, random_boundaries_differ);
    suite_add_tcase(s, tc);

    tc = tcase_create("templates");
    tcase_add_test(tc, shipped_templates_load);
    tcase_add_test(tc, render_escapes_per_context);
    tcase_add_test(tc, ack_template_may_show_only_its_variables);
    suite_add_tcase(s, tc);

    tc = tcase_create("smtp");
    tcase_add_test(tc, smtp_urls_get_an_ehlo_name);
    tcase_add_test(tc, smtp_settings_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("form");
    tcase_add_test(tc, phones_chilean_and_international);
    tcase_add_test(tc, tickets_are_dated_and_random);
    tcase_add_test(tc, prices_in_pesos);
    suite_add_tcase(s, tc);

    tc = tcase_create("acknowledgement");
    tcase_add_test(tc, ack_names_plain_ones_are_kept);
    tcase_add_test(tc, ack_names_link_like_ones_are_dropped);
    tcase_add_test(tc, ack_names_are_cut_to_60_characters);
    tcase_add_test(tc, ack_keys_normalise_the_address);
    tcase_add_test(tc, ack_subjects_and_tickets);
    suite_add_tcase(s, tc);

    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);

    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
