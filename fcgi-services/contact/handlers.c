/* handlers.c: POST /api/contact.  The route table has already checked the body; the
 * handler checks the phone number, then queues the message on the event bus and answers
 * 202 with a ticket.  No mail is sent inside the request: the mailer consumers do that. */

#include "config.h"

#include <string.h>

#include "contact.h"


static const char *contact_field(const fv_req_t *r, const char *name);
static json_object *contact_mail(const char *tpl, const char *to, const char *to_name,
    const char *reply_to, const char *reply_name, json_object *vars);


/*
 * Three events leave, each confirmed by the broker before the next: the mail to the shop,
 * the acknowledgement to the sender, then contact.submitted for anyone else interested.
 * The shop's mail goes first because it is the one that must not be lost: when the broker
 * is unreachable it fails and nothing was accepted (503).  A broker lost between two
 * publishes leaves the earlier ones queued; the answer is still 503 so that the client
 * tries again, and the shop may then get the message twice under two tickets (logged).
 */

int
contact_submit(fv_req_t *r)
{
    const contact_ctx_t  *ctx = fv_server_data(fv_req_server(r));
    json_object          *shop, *ack, *event, *vars, *ack_vars, *data;
    const char           *name, *email, *phone, *subject, *message, *label;
    char                  ticket[CONTACT_TICKET_LEN + 1], e164[CONTACT_PHONE_LEN + 1];
    char                  event_id[37], now[25], ack_name[CONTACT_ACK_NAME_SIZE];
    int                   rc, queued;

    shop = ack = event = NULL;
    queued = 0;
    ticket[0] = '\0';

    name = contact_field(r, "name");
    email = contact_field(r, "email");
    phone = contact_field(r, "phone");
    subject = contact_field(r, "subject");
    message = contact_field(r, "message");
    label = contact_subject_label(subject);

    e164[0] = '\0';
    if (phone[0] != '\0' && contact_phone_normalize(phone, e164) != 0) {
        rc = fv_fail_field(r, "phone", "debe ser un teléfono chileno (+56 9 1234 5678) "
                           "o internacional con código de país (+34 612 345 678)");
        goto out;
    }

    if (contact_ticket_new(ticket) != 0) {
        rc = FV_ERROR;
        goto out;
    }

    fv_time_iso(now);

    vars = json_object_new_object();
    json_object_object_add(vars, "ticket", json_object_new_string(ticket));
    json_object_object_add(vars, "name", json_object_new_string(name));
    json_object_object_add(vars, "email", json_object_new_string(email));
    json_object_object_add(vars, "phone",
                           json_object_new_string(e164[0] ? e164 : "(no indicado)"));
    json_object_object_add(vars, "subject", json_object_new_string(label));
    json_object_object_add(vars, "message", json_object_new_string(message));
    json_object_object_add(vars, "submittedAt", json_object_new_string(now));

    /* To the shop, answerable straight to the sender. */
    shop = contact_mail("contact_shop", ctx->shop_addr, ctx->shop_name, email, name, vars);

    /* To the sender: the ticket, the subject's fixed label and at most a short name
     * without links; nothing else they wrote.  The address is unverified, and an
     * acknowledgement echoing free text to any address would make the form a relay for
     * other people's spam.  The mailer applies the same rules again, and counts. */
    (void) contact_ack_name(name, ack_name);
    ack_vars = json_object_new_object();
    json_object_object_add(ack_vars, "ticket", json_object_new_string(ticket));
    json_object_object_add(ack_vars, "name", json_object_new_string(ack_name));
    json_object_object_add(ack_vars, "subject", json_object_new_string(label));
    ack = contact_mail("contact_ack", email, ack_name, NULL, NULL, ack_vars);

    event = json_object_new_object();
    json_object_object_add(event, "ticket", json_object_new_string(ticket));
    json_object_object_add(event, "name", json_object_new_string(name));
    json_object_object_add(event, "email", json_object_new_string(email));
    json_object_object_add(event, "phone", e164[0] ? json_object_new_string(e164) : NULL);
    json_object_object_add(event, "subject", json_object_new_string(subject));
    json_object_object_add(event, "message", json_object_new_string(message));
    json_object_object_add(event, "submittedAt", json_object_new_string(now));
    json_object_object_add(event, "requestId", json_object_new_string(r->request_id));

    if ((rc = fv_publish(r->worker, "mail.requested", shop, NULL)) != FV_OK) {
        goto out;
    }
    queued++;

    if ((rc = fv_publish(r->worker, "mail.requested", ack, NULL)) != FV_OK) {
        goto out;
    }
    queued++;

    if ((rc = fv_publish(r->worker, "contact.submitted", event, event_id)) != FV_OK) {
        goto out;
    }

    fv_log_req(r, FV_LOG_INFO, "contact %s queued (%s)", ticket, subject);

    data = json_object_new_object();
    json_object_object_add(data, "ticket", json_object_new_string(ticket));
    json_object_object_add(data, "eventId", json_object_new_string(event_id));
    rc = fv_reply(r, 202, data, "Recibimos tu mensaje; te responderemos a la brevedad");

out:

    if (rc != FV_OK && queued > 0) {
        fv_log_req(r, FV_LOG_ERROR, "contact %s only partly queued (%d of 3 events): the "
                   "client is told to try again", ticket, queued);
    }

    json_object_put(shop);
    json_object_put(ack);
    json_object_put(event);
    return rc;
}


/* A string field of the validated body; "" when absent or null. */

static const char *
contact_field(const fv_req_t *r, const char *name)
{
    json_object  *v;

    if (r->body == NULL || !json_object_object_get_ex(r->body, name, &v)
        || !json_object_is_type(v, json_type_string))
    {
        return "";
    }

    return json_object_get_string(v);
}


/* The data of a mail.requested event (see mailer.c); takes vars. */

static json_object *
contact_mail(const char *tpl, const char *to, const char *to_name, const char *reply_to,
    const char *reply_name, json_object *vars)
{
    json_object  *m;

    m = json_object_new_object();
    json_object_object_add(m, "template", json_object_new_string(tpl));
    json_object_object_add(m, "to", json_object_new_string(to));
    json_object_object_add(m, "toName", json_object_new_string(to_name));

    if (reply_to != NULL) {
        json_object_object_add(m, "replyTo", json_object_new_string(reply_to));
        json_object_object_add(m, "replyToName", json_object_new_string(reply_name));
    }

    json_object_object_add(m, "vars", vars);
    return m;
}
