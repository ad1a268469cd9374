/* mailer.c: the mail consumers: mail.requested from any service, and the customer's mails
 * for order.created and order.status_changed.  Each mail is built from its template,
 * handed to the SMTP server, and acknowledged only once the server accepted it. */

/*
 * A mail.requested event's data:
 *
 *   template      contact_shop | contact_ack | password_reset | order_created |
 *                 order_status_changed (conf/mail/<template>.txt and .html)
 *   to            the recipient's address            toName       their name (optional)
 *   replyTo       a Reply-To address (optional)      replyToName  its name (optional)
 *   vars          {placeholder: string | integer | null}, every placeholder the template uses
 *
 * The event id names the mail: its Message-ID is <event-id@domain of FLORES_MAIL_FROM>.
 *
 * Sent once per id, as far as SMTP allows.  The id is recorded as handled
 * (fv_event_seen) in a transaction that stays open while the SMTP server is talking:
 *
 *   BEGIN; seen?  yes: COMMIT, acknowledge (a duplicate delivery of the request)
 *                 no:  send;  accepted:  COMMIT, acknowledge
 *                             4xx, down: ROLLBACK, FV_RETRY (the library retries later)
 *                             5xx:       ROLLBACK, FV_REJECT (dead letter, replayable)
 *
 * A second copy of the same request handled at the same time waits on the first one's
 * uncommitted row, then finds it handled.  A mailer killed before the server's "250"
 * leaves no row (the transaction dies with the connection) and an unacknowledged message
 * that the broker hands out again: nothing is lost.  Only a crash, or the database lost,
 * after the 250 and before the COMMIT returns can send a mail twice: the window every SMTP
 * client has.
 *
 * An acknowledgement (contact_ack) is the one mail whose recipient nobody verified: the
 * contact form's sender may name any address.  Whoever asked for it, the mailer builds its
 * variables afresh from what may be shown (contact_ack_name(), contact_subject_fixed(),
 * the form's ticket) and mails at most FLORES_ACK_PER_RECIPIENT_DAY of them to one address
 * per UTC day (mailer_ack_quota() below).
 *
 * A request that can never be sent (unknown template, a missing placeholder, a bad
 * address) is rejected at once to the dead-letter queue.  Message contents and template
 * variables are never logged: they hold personal data and password-reset links.
 */

#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "contact.h"


#define FIELDS_END          { NULL, 0, 0, 0, 0, NULL, NULL }

#define MAILER_CONSUMER     "mailer"
#define ORDER_CONSUMER      "order-mail"


typedef struct {
    int                   tpl;          /* mail_tpl_e */
    const char           *to;
    const char           *to_name;
    const char           *reply_to;     /* NULL: none */
    const char           *reply_name;
    json_object          *vars;
} mailer_req_t;


static const fv_field_t  any_object[] = { FIELDS_END };

static const fv_field_t  request_spec[] = {
    { "template",     FV_ENUM,   FV_REQUIRED, 0, 0, mail_template_names, NULL },
    { "to",           FV_EMAIL,  FV_REQUIRED, 0, MAIL_ADDR_MAX, NULL, NULL },
    { "toName",       FV_STRING, FV_NULLABLE | FV_TRIM, 0, MAIL_NAME_MAX, NULL, NULL },
    { "replyTo",      FV_EMAIL,  FV_NULLABLE, 0, MAIL_ADDR_MAX, NULL, NULL },
    { "replyToName",  FV_STRING, FV_NULLABLE | FV_TRIM, 0, MAIL_NAME_MAX, NULL, NULL },
    { "vars",         FV_OBJECT, FV_REQUIRED, 0, 0, NULL, any_object },
    FIELDS_END
};

static const fv_field_t  order_item_spec[] = {
    { "name",         FV_STRING, FV_REQUIRED, 1, 0, NULL, NULL },
    { "quantity",     FV_INT,    FV_REQUIRED, 1, 1000000, NULL, NULL },
    { "lineTotal",    FV_INT,    FV_NULLABLE, 0, INT64_MAX / 2, NULL, NULL },
    { "price",        FV_INT,    FV_NULLABLE, 0, INT64_MAX / 2, NULL, NULL },
    FIELDS_END
};

static const fv_field_t  order_items_spec[] = {
    { "item",         FV_OBJECT, FV_REQUIRED, 0, 0, NULL, order_item_spec },
    FIELDS_END
};

static const fv_field_t  order_spec[] = {
    { "number",       FV_STRING, FV_REQUIRED, 1, 64, NULL, NULL },
    { "email",        FV_EMAIL,  FV_REQUIRED, 0, MAIL_ADDR_MAX, NULL, NULL },
    { "name",         FV_STRING, FV_NULLABLE | FV_TRIM, 0, MAIL_NAME_MAX, NULL, NULL },
    { "status",       FV_STRING, FV_REQUIRED, 1, 32, NULL, NULL },
    { "total",        FV_INT,    FV_NULLABLE, 0, INT64_MAX / 2, NULL, NULL },
    { "items",        FV_ARRAY,  FV_NULLABLE, 0, 1000, NULL, order_items_spec },
    FIELDS_END
};

/* Order statuses as the customer reads them. */
static const char *const  order_status_text[][2] = {
    { "pending",    "pendiente de confirmación" },
    { "confirmed",  "confirmado" },
    { "preparing",  "en preparación" },
    { "shipped",    "en camino" },
    { "delivered",  "entregado" },
    { "cancelled",  "cancelado" },
    { NULL, NULL }
};


static int mailer_send(fv_worker_t *w, const char *consumer, const char *event_id,
    const mailer_req_t *m);
static int mailer_ack_quota(fv_worker_t *w, long limit, const char *key);
static void mailer_ack_purge(fv_worker_t *w);
static json_object *mailer_ack_vars(const char *event_id, json_object *vars,
    const char *to_name, char name[CONTACT_ACK_NAME_SIZE], int *shown);
static json_object *mailer_data(const char *type, const char *event_id, json_object *event,
    const fv_field_t *spec);
static const char *mailer_str(json_object *o, const char *key);
static int64_t mailer_int(json_object *o, const char *key, int64_t def);


int
contact_mail_requested(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    mailer_req_t   m;
    json_object   *data;
    char           name[CONTACT_ACK_NAME_SIZE];
    int            shown, rc;

    data = mailer_data(type, event_id, event, request_spec);
    if (data == NULL) {
        return FV_REJECT;
    }

    m.tpl = mail_template_find(mailer_str(data, "template"));
    m.to = mailer_str(data, "to");
    m.to_name = mailer_str(data, "toName");
    m.reply_to = mailer_str(data, "replyTo");
    m.reply_name = mailer_str(data, "replyToName");
    (void) json_object_object_get_ex(data, "vars", &m.vars);

    if (m.reply_to[0] == '\0') {
        m.reply_to = NULL;
    }

    if (m.tpl != MAIL_TPL_CONTACT_ACK) {
        return mailer_send(w, MAILER_CONSUMER, event_id, &m);
    }

    /* Not a word of the request's own text beyond what the rules let through; no
     * Reply-To (the recipient has nothing to answer). */
    m.vars = mailer_ack_vars(event_id, m.vars, m.to_name, name, &shown);
    if (m.vars == NULL) {
        return FV_REJECT;
    }

    m.to_name = shown ? name : NULL;
    m.reply_to = NULL;
    m.reply_name = NULL;

    rc = mailer_send(w, MAILER_CONSUMER, event_id, &m);

    json_object_put(m.vars);
    return rc;
}


/*
 * The acknowledgements of one recipient are counted where they are mailed, not where the
 * form asks for them: here the count commits with the record of the mail and only after
 * the SMTP server accepted it, so it counts exactly the acknowledgements that went out.  A
 * request retried after a 4xx, or dead-lettered, counts nothing; a duplicate delivery is
 * dropped above, before counting; a request from anything else than the form counts the
 * same; and the form keeps answering without PostgreSQL.
 *
 * In the open transaction, for (today in UTC, key):
 *
 *   INSERT the row with sent = 0 unless it exists
 *   UPDATE sent = sent + 1 WHERE sent < limit    a row back: send it (1)
 *   otherwise UPDATE skipped = skipped + 1       skip it (0)
 *
 * Two mailers on one recipient queue on the row: the second waits for the first's
 * transaction (in its INSERT when the row is new, else in its UPDATE), then, under READ
 * COMMITTED, counts on what the first committed, or on nothing if it rolled back.  The row stays locked while the SMTP server talks: at worst
 * acknowledgements to one address go out one at a time.  The day is the transaction's
 * now() in UTC, one value for all three statements.
 */

static int
mailer_ack_quota(fv_worker_t *w, long limit, const char *key)
{
    static const char  *sql[3] = {
        "INSERT INTO ack_sent (day, recipient) "
        "VALUES ((now() AT TIME ZONE 'UTC')::date, $1) ON CONFLICT DO NOTHING",
        "UPDATE ack_sent SET sent = sent + 1 "
        "WHERE day = (now() AT TIME ZONE 'UTC')::date AND recipient = $1 AND sent < $2::int "
        "RETURNING sent",
        "UPDATE ack_sent SET skipped = skipped + 1 "
        "WHERE day = (now() AT TIME ZONE 'UTC')::date AND recipient = $1"
    };
    const char         *params[2];
    char                lim[24];
    PGresult           *res;
    int                 i, rc;

    (void) snprintf(lim, sizeof(lim), "%ld", limit);
    params[0] = key;
    params[1] = lim;

    for (i = 0; i < 3; i++) {
        res = fv_pg_exec(w, sql[i], i == 1 ? 2 : 1, params);
        if (res == NULL) {
            return FV_STORE_DOWN;
        }

        if (!fv_pg_ok(res)) {
            PQclear(res);
            return FV_ERROR;
        }

        rc = i == 1 && PQntuples(res) == 1;
        PQclear(res);

        if (rc) {
            return 1;
        }
    }

    return 0;
}


/* Counts older than a week have served their purpose; a failure here costs nothing but a
 * log line (the next acknowledgement tries again). */

static void
mailer_ack_purge(fv_worker_t *w)
{
    PGresult  *res;

    res = fv_pg_exec(w, "DELETE FROM ack_sent "
                        "WHERE day < (now() AT TIME ZONE 'UTC')::date - 7", 0, NULL);
    if (res != NULL) {
        (void) fv_pg_ok(res);
        PQclear(res);
    }
}


/* The acknowledgement's variables: ticket (the form's shape, else the request is refused:
 * it goes into the Subject), name and greeting ("Hola Ana Rosa", or "Hola" when the name
 * may not be shown), subject (a fixed label).  The name is the variable's, or the
 * recipient's display name when the request has none. */

static json_object *
mailer_ack_vars(const char *event_id, json_object *vars, const char *to_name,
    char name[CONTACT_ACK_NAME_SIZE], int *shown)
{
    json_object  *out;
    const char   *ticket, *given;
    char          greeting[CONTACT_ACK_NAME_SIZE + 8];

    ticket = mailer_str(vars, "ticket");
    if (!contact_ticket_ok(ticket)) {
        fv_log(FV_LOG_WARN, "mail %s (contact_ack) refused: no ticket of the contact form's",
               event_id);
        return NULL;
    }

    given = mailer_str(vars, "name");
    if (given[0] == '\0') {
        given = to_name;
    }

    *shown = contact_ack_name(given, name);
    (void) snprintf(greeting, sizeof(greeting), *shown ? "Hola %s" : "Hola", name);

    out = json_object_new_object();
    json_object_object_add(out, "ticket", json_object_new_string(ticket));
    json_object_object_add(out, "name", json_object_new_string(name));
    json_object_object_add(out, "greeting", json_object_new_string(greeting));
    json_object_object_add(out, "subject", json_object_new_string(
        contact_subject_fixed(mailer_str(vars, "subject"))));

    return out;
}


/* order.created and order.status_changed carry {orderId, number, userId, email, name,
 * status, items, total}: the customer gets one mail for each. */

int
contact_order_mail(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event)
{
    mailer_req_t   m;
    json_object   *data, *items, *item, *vars;
    mail_buf_t     lines;
    const char    *status, *status_text;
    char           money[32], line[64];
    size_t         i, n;
    int64_t        each;
    int            rc;

    data = mailer_data(type, event_id, event, order_spec);
    if (data == NULL) {
        return FV_REJECT;
    }

    status = mailer_str(data, "status");
    status_text = status;
    for (i = 0; order_status_text[i][0] != NULL; i++) {
        if (strcmp(order_status_text[i][0], status) == 0) {
            status_text = order_status_text[i][1];
            break;
        }
    }

    /* One line per item: "2 × Ramo de rosas rojas: $25.980". */
    mail_buf_init(&lines);
    if (json_object_object_get_ex(data, "items", &items)
        && json_object_is_type(items, json_type_array))
    {
        n = json_object_array_length(items);
        for (i = 0; i < n; i++) {
            item = json_object_array_get_idx(items, i);
            each = mailer_int(item, "lineTotal", -1);
            if (each < 0) {
                each = mailer_int(item, "price", 0) * mailer_int(item, "quantity", 1);
            }
            contact_clp(each, money);
            (void) snprintf(line, sizeof(line), "%" PRId64 " × ",
                            mailer_int(item, "quantity", 1));
            mail_buf_str(&lines, line);
            mail_buf_str(&lines, mailer_str(item, "name"));
            mail_buf_str(&lines, ": ");
            mail_buf_str(&lines, money);
            mail_buf_str(&lines, "\n");
        }
    }

    if (lines.failed) {
        mail_buf_free(&lines);
        return FV_ERROR;
    }

    if (mailer_int(data, "total", -1) >= 0) {
        contact_clp(mailer_int(data, "total", 0), money);
    } else {
        (void) snprintf(money, sizeof(money), "(ver el detalle en tu cuenta)");
    }

    vars = json_object_new_object();
    json_object_object_add(vars, "name", json_object_new_string(
        mailer_str(data, "name")[0] ? mailer_str(data, "name") : "cliente"));
    json_object_object_add(vars, "number", json_object_new_string(mailer_str(data, "number")));
    json_object_object_add(vars, "status", json_object_new_string(status));
    json_object_object_add(vars, "statusText", json_object_new_string(status_text));
    json_object_object_add(vars, "total", json_object_new_string(money));
    json_object_object_add(vars, "items", json_object_new_string(lines.data ? lines.data : ""));
    mail_buf_free(&lines);

    m.tpl = strcmp(type, "order.created") == 0 ? MAIL_TPL_ORDER_CREATED : MAIL_TPL_ORDER_STATUS;
    m.to = mailer_str(data, "email");
    m.to_name = mailer_str(data, "name");
    m.reply_to = NULL;
    m.reply_name = NULL;
    m.vars = vars;

    rc = mailer_send(w, ORDER_CONSUMER, event_id, &m);

    json_object_put(vars);
    return rc;
}


static int
mailer_send(fv_worker_t *w, const char *consumer, const char *event_id,
    const mailer_req_t *m)
{
    const contact_ctx_t    *ctx = fv_server_data(fv_worker_server(w));
    const mail_template_t  *tpl;
    mail_message_t          msg;
    mail_buf_t              subject, text, html, out;
    mail_send_e             verdict;
    char                    bad[72], id[MAIL_ADDR_MAX + 64], why[256], key[65];
    const char             *tname;
    long                    code;
    int                     rc = FV_ERROR, seen, open, allowed;

    mail_buf_init(&subject);
    mail_buf_init(&text);
    mail_buf_init(&html);
    mail_buf_init(&out);
    open = 0;

    tpl = &ctx->templates.tpl[m->tpl];
    tname = mail_template_names[m->tpl];

    if (mail_render(tpl->subject, m->vars, MAIL_RENDER_HEADER, &subject, bad, sizeof(bad)) != 0
        || mail_render(tpl->text, m->vars, MAIL_RENDER_TEXT, &text, bad, sizeof(bad)) != 0
        || mail_render(tpl->html, m->vars, MAIL_RENDER_HTML, &html, bad, sizeof(bad)) != 0)
    {
        fv_log(FV_LOG_WARN, "mail %s (%s) refused: variable \"%s\" missing or not a string "
               "or integer", event_id, tname, bad);
        rc = FV_REJECT;
        goto out;
    }

    if (subject.failed || text.failed || html.failed) {
        rc = FV_ERROR;
        goto out;
    }

    (void) snprintf(id, sizeof(id), "%s@%s", event_id, ctx->domain);

    memset(&msg, 0, sizeof(msg));
    msg.from_addr = ctx->from_addr;
    msg.from_name = ctx->from_name;
    msg.to_addr = m->to;
    msg.to_name = m->to_name;
    msg.reply_addr = m->reply_to;
    msg.reply_name = m->reply_name;
    msg.subject = subject.data ? subject.data : "";
    msg.text = text.data ? text.data : "";
    msg.html = html.data ? html.data : "";
    msg.message_id = id;
    msg.date = time(NULL);

    if (mail_build(&msg, &out) != 0) {
        fv_log(FV_LOG_WARN, "mail %s (%s) refused: an address unfit for a header, or over "
               "%d bytes", event_id, tname, MAIL_MESSAGE_MAX);
        rc = FV_REJECT;
        goto out;
    }

    if ((rc = fv_pg_begin(w)) != FV_OK) {
        goto out;
    }

    open = 1;

    seen = fv_event_seen(w, consumer, event_id);
    if (seen < 0) {
        rc = seen;
        goto out;
    }

    if (seen == 1) {
        open = 0;
        rc = fv_pg_commit(w);
        fv_log(FV_LOG_INFO, "mail %s (%s) already sent: duplicate request dropped",
               event_id, tname);
        goto out;
    }

    if (m->tpl == MAIL_TPL_CONTACT_ACK) {
        contact_ack_key(m->to, key);

        allowed = mailer_ack_quota(w, ctx->ack_per_day, key);
        if (allowed < 0) {
            rc = allowed;
            goto out;
        }

        if (!allowed) {
            /* Handled by not sending it: the request is recorded, the count too. */
            open = 0;
            rc = fv_pg_commit(w);
            if (rc == FV_OK) {
                fv_log(FV_LOG_INFO, "mail %s (%s) skipped: recipient %.12s had its %ld "
                       "acknowledgements of the day (FLORES_ACK_PER_RECIPIENT_DAY)",
                       event_id, tname, key, ctx->ack_per_day);
            }
            goto out;
        }
    }

    verdict = mail_smtp_send(&ctx->smtp, ctx->from_addr, m->to, out.data, out.len, &code,
                             why, sizeof(why));

    switch (verdict) {

    case MAIL_SENT:
        open = 0;
        rc = fv_pg_commit(w);
        if (rc != FV_OK) {
            fv_log(FV_LOG_ERROR, "mail %s (%s) was sent but could not be recorded: it may "
                   "be sent again", event_id, tname);
            goto out;
        }
        fv_log(FV_LOG_INFO, "mail %s (%s) sent, SMTP %ld", event_id, tname, code);
        if (m->tpl == MAIL_TPL_CONTACT_ACK) {
            mailer_ack_purge(w);
        }
        break;

    case MAIL_TEMPFAIL:
        fv_log(FV_LOG_WARN, "mail %s (%s) not sent, will retry: SMTP %ld: %s", event_id,
               tname, code, why);
        rc = FV_RETRY;
        break;

    case MAIL_PERMFAIL:
        fv_log(FV_LOG_ERROR, "mail %s (%s) refused by the SMTP server for good: SMTP %ld: "
               "%s", event_id, tname, code, why);
        rc = FV_REJECT;
        break;
    }

out:

    if (open) {
        fv_pg_rollback(w);
    }

    mail_buf_free(&subject);
    mail_buf_free(&text);
    mail_buf_free(&html);
    mail_buf_free(&out);
    return rc;
}


/* The event's data, validated and normalised against spec; NULL (logged) when it does
 * not fit: such an event can never become a mail. */

static json_object *
mailer_data(const char *type, const char *event_id, json_object *event,
    const fv_field_t *spec)
{
    json_object  *data;
    fv_errors_t  *e;
    size_t        n;

    if (!json_object_object_get_ex(event, "data", &data)
        || !json_object_is_type(data, json_type_object))
    {
        fv_log(FV_LOG_WARN, "%s %s refused: no data object", type, event_id);
        return NULL;
    }

    e = fv_errors_new();
    if (e == NULL) {
        return NULL;
    }

    n = fv_validate(data, spec, 0, e);
    fv_errors_free(e);

    if (n > 0) {
        fv_log(FV_LOG_WARN, "%s %s refused: %zu field(s) missing or invalid", type,
               event_id, n);
        return NULL;
    }

    return data;
}


static const char *
mailer_str(json_object *o, const char *key)
{
    json_object  *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v)
        || !json_object_is_type(v, json_type_string))
    {
        return "";
    }

    return json_object_get_string(v);
}


static int64_t
mailer_int(json_object *o, const char *key, int64_t def)
{
    json_object  *v;

    if (o == NULL || !json_object_object_get_ex(o, key, &v)
        || !json_object_is_type(v, json_type_int))
    {
        return def;
    }

    return json_object_get_int64(v);
}
