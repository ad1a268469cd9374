/* template.c: the mail templates of conf/mail: loading them once, filling in {{var}}. */

#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mail.h"


#define MAIL_VAR_MAX     64


const char *const  mail_template_names[] = {
    "contact_shop",
    "contact_ack",
    "password_reset",
    "order_created",
    "order_status_changed",
    NULL
};


/* The only variables an acknowledgement template may use: the mailer fills them from what
 * may be shown to an unverified address (mailer.c).  A shop that edits contact_ack to add
 * {{message}} or {{email}} is stopped at start, not left with mails refused later. */
static const char *const  mail_ack_vars[] = {
    "ticket", "name", "greeting", "subject", NULL
};


static char *mail_read_file(const char *dir, const char *name, const char *ext);
static int mail_check_placeholders(const char *tpl, const char *file,
    const char *const *allowed);
static int mail_var_name(const char *p, size_t *len);
static void mail_escape_html(mail_buf_t *b, const char *s, size_t len);
static void mail_header_text(mail_buf_t *b, const char *s, size_t len);


int
mail_template_find(const char *name)
{
    int  i;

    for (i = 0; mail_template_names[i] != NULL; i++) {
        if (strcmp(mail_template_names[i], name) == 0) {
            return i;
        }
    }

    return -1;
}


int
mail_templates_load(mail_templates_t *t, const char *dir)
{
    mail_template_t     *tpl;
    const char *const   *allowed;
    char                *text, *nl, *body;
    int                  i;

    memset(t, 0, sizeof(*t));

    for (i = 0; i < MAIL_TPL_COUNT; i++) {
        tpl = &t->tpl[i];

        text = mail_read_file(dir, mail_template_names[i], "txt");
        if (text == NULL) {
            goto failed;
        }

        /* "Subject: ...", an empty line, the body. */
        nl = strchr(text, '\n');
        if (strncmp(text, "Subject: ", 9) != 0 || nl == NULL
            || (nl[1] != '\n' && !(nl[1] == '\r' && nl[2] == '\n')))
        {
            fv_log(FV_LOG_ERROR, "mail template %s/%s.txt: the first line must be "
                   "\"Subject: ...\" and the second empty", dir, mail_template_names[i]);
            free(text);
            goto failed;
        }

        body = nl + (nl[1] == '\n' ? 2 : 3);
        if (nl > text && nl[-1] == '\r') {
            nl--;
        }

        tpl->subject = strndup(text + 9, (size_t) (nl - text - 9));
        tpl->text = strdup(body);
        free(text);

        tpl->html = mail_read_file(dir, mail_template_names[i], "html");

        if (tpl->subject == NULL || tpl->text == NULL || tpl->html == NULL) {
            goto failed;
        }

        allowed = i == MAIL_TPL_CONTACT_ACK ? mail_ack_vars : NULL;

        if (mail_check_placeholders(tpl->subject, mail_template_names[i], allowed) != 0
            || mail_check_placeholders(tpl->text, mail_template_names[i], allowed) != 0
            || mail_check_placeholders(tpl->html, mail_template_names[i], allowed) != 0)
        {
            goto failed;
        }
    }

    return 0;

failed:

    mail_templates_free(t);
    return -1;
}


void
mail_templates_free(mail_templates_t *t)
{
    int  i;

    for (i = 0; i < MAIL_TPL_COUNT; i++) {
        free(t->tpl[i].subject);
        free(t->tpl[i].text);
        free(t->tpl[i].html);
    }

    memset(t, 0, sizeof(*t));
}


/* A whole template file: at most MAIL_TEMPLATE_MAX bytes of UTF-8 text without NULs. */

static char *
mail_read_file(const char *dir, const char *name, const char *ext)
{
    char    path[1024], *buf;
    FILE   *f;
    size_t  n;

    if ((size_t) snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext) >= sizeof(path)) {
        fv_log(FV_LOG_ERROR, "mail template directory name too long: %s", dir);
        return NULL;
    }

    f = fopen(path, "rb");
    if (f == NULL) {
        fv_log(FV_LOG_ERROR, "mail template %s: %s", path, strerror(errno));
        return NULL;
    }

    buf = malloc(MAIL_TEMPLATE_MAX + 1);
    if (buf == NULL) {
        (void) fclose(f);
        return NULL;
    }

    n = fread(buf, 1, MAIL_TEMPLATE_MAX + 1, f);
    if (ferror(f) || n > MAIL_TEMPLATE_MAX || memchr(buf, '\0', n) != NULL) {
        fv_log(FV_LOG_ERROR, "mail template %s: unreadable, over %d bytes, or not text",
               path, MAIL_TEMPLATE_MAX);
        (void) fclose(f);
        free(buf);
        return NULL;
    }

    (void) fclose(f);
    buf[n] = '\0';
    return buf;
}


/* The length of the variable name of a placeholder at p ("{{name}}"), 0 when p does not
 * open one. */

static int
mail_var_name(const char *p, size_t *len)
{
    size_t  i;

    if (p[0] != '{' || p[1] != '{') {
        return 0;
    }

    for (i = 2; i - 2 < MAIL_VAR_MAX; i++) {
        char  c = p[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
            || c == '_')
        {
            continue;
        }
        break;
    }

    if (i == 2 || p[i] != '}' || p[i + 1] != '}') {
        return 0;
    }

    *len = i - 2;
    return 1;
}


/* Every "{{" must open a well-formed placeholder, and one of allowed when that is not
 * NULL: a typo is found at start, not when a customer's mail goes out with braces in it. */

static int
mail_check_placeholders(const char *tpl, const char *file, const char *const *allowed)
{
    const char  *p;
    size_t       len, i;

    for (p = strstr(tpl, "{{"); p != NULL; p = strstr(p + 2, "{{")) {
        if (!mail_var_name(p, &len)) {
            fv_log(FV_LOG_ERROR, "mail template %s: \"{{\" that is not a {{name}} "
                   "placeholder: %.20s", file, p);
            return -1;
        }

        if (allowed == NULL) {
            continue;
        }

        for (i = 0; allowed[i] != NULL; i++) {
            if (strlen(allowed[i]) == len && strncmp(allowed[i], p + 2, len) == 0) {
                break;
            }
        }

        if (allowed[i] == NULL) {
            fv_log(FV_LOG_ERROR, "mail template %s: {{%.*s}} is not one of the variables "
                   "it may show (ticket, name, greeting, subject)", file, (int) len, p + 2);
            return -1;
        }
    }

    return 0;
}


int
mail_render(const char *tpl, json_object *vars, mail_render_e how, mail_buf_t *out,
    char *bad, size_t bad_size)
{
    const char   *p, *open, *s;
    json_object  *v;
    char          name[MAIL_VAR_MAX + 1], num[32];
    size_t        len;

    p = tpl;

    while ((open = strstr(p, "{{")) != NULL && mail_var_name(open, &len)) {
        mail_buf_add(out, p, (size_t) (open - p));

        memcpy(name, open + 2, len);
        name[len] = '\0';

        if (vars == NULL || !json_object_object_get_ex(vars, name, &v)) {
            (void) snprintf(bad, bad_size, "%s", name);
            return -1;
        }

        switch (json_object_get_type(v)) {

        case json_type_null:
            s = "";
            break;

        case json_type_string:
            s = json_object_get_string(v);
            break;

        case json_type_int:
            (void) snprintf(num, sizeof(num), "%" PRId64, json_object_get_int64(v));
            s = num;
            break;

        default:
            (void) snprintf(bad, bad_size, "%s", name);
            return -1;
        }

        switch (how) {
        case MAIL_RENDER_HTML:
            mail_escape_html(out, s, strlen(s));
            break;
        case MAIL_RENDER_HEADER:
            mail_header_text(out, s, strlen(s));
            break;
        default:
            mail_buf_str(out, s);
            break;
        }

        p = open + len + 4;
    }

    mail_buf_str(out, p);
    return 0;
}


static void
mail_escape_html(mail_buf_t *b, const char *s, size_t len)
{
    size_t  i, from;

    for (i = 0, from = 0; i < len; i++) {
        const char  *ent;

        switch (s[i]) {
        case '&':  ent = "&amp;"; break;
        case '<':  ent = "&lt;"; break;
        case '>':  ent = "&gt;"; break;
        case '"':  ent = "&quot;"; break;
        case '\'': ent = "&#39;"; break;
        default:   continue;
        }

        mail_buf_add(b, s + from, i - from);
        mail_buf_str(b, ent);
        from = i + 1;
    }

    mail_buf_add(b, s + from, len - from);
}


/* A value inside a header: control characters (CR and LF above all) become spaces. */

static void
mail_header_text(mail_buf_t *b, const char *s, size_t len)
{
    size_t  i, from;

    for (i = 0, from = 0; i < len; i++) {
        unsigned char  c = (unsigned char) s[i];

        if (c < 0x20 || c == 0x7f) {
            mail_buf_add(b, s + from, i - from);
            mail_buf_add(b, " ", 1);
            from = i + 1;
        }
    }

    mail_buf_add(b, s + from, len - from);
}
