/* contact.h: what the contact service's files share: input limits, the process-wide
 * context built at start, the handlers of the route table and of the mail consumers. */

#ifndef CONTACT_H
#define CONTACT_H

#include "fv.h"
#include "mail.h"


#define CONTACT_SERVICE        "contact"

/* Acknowledgements one recipient address may get per UTC day: the default, and the most
 * FLORES_ACK_PER_RECIPIENT_DAY may say (0: none at all). */
#define CONTACT_ACK_PER_DAY      3
#define CONTACT_ACK_PER_DAY_MAX  1000

/* Input limits of POST /api/contact, in characters. */
#define CONTACT_NAME_MIN       2
#define CONTACT_NAME_MAX       100
#define CONTACT_EMAIL_MAX      254
#define CONTACT_PHONE_MAX      30
#define CONTACT_MESSAGE_MIN    10
#define CONTACT_MESSAGE_MAX    5000

/* "CT-20261127-7K3M9Q": the day (UTC) and six random Crockford base-32 characters. */
#define CONTACT_TICKET_LEN     18
/* E.164: "+" and at most 15 digits. */
#define CONTACT_PHONE_LEN      16

/* The most of the sender's name an acknowledgement shows, in characters, and the bytes
 * that takes (4 per character at most, and the NUL). */
#define CONTACT_ACK_NAME_MAX   60
#define CONTACT_ACK_NAME_SIZE  (CONTACT_ACK_NAME_MAX * 4 + 1)


/* Built once by contact_init() before the workers and consumers start; read-only after. */
typedef struct {
    mail_templates_t      templates;
    mail_smtp_t           smtp;
    char                  from_addr[MAIL_ADDR_MAX + 1];     /* FLORES_MAIL_FROM */
    char                  from_name[MAIL_NAME_MAX * 4 + 1]; /* FLORES_MAIL_FROM_NAME */
    char                  domain[MAIL_ADDR_MAX + 1];        /* of from_addr: Message-IDs */
    char                  shop_addr[MAIL_ADDR_MAX + 1];     /* FLORES_SHOP_EMAIL */
    char                  shop_name[MAIL_NAME_MAX * 4 + 1]; /* FLORES_SHOP_NAME */
    long                  ack_per_day;    /* FLORES_ACK_PER_RECIPIENT_DAY */
} contact_ctx_t;


/* form.c: the contact form's own rules. */

/* Normalises a Chilean or international phone number to E.164 ("+56912345678"); -1 when
 * it is not one.  Accepted: separators " -.()" anywhere; "+<country><number>" with 8 to
 * 15 digits; a Chilean number of 9 digits (mobile 9XXXXXXXX or a landline with its area
 * code), alone or after 56 or +56. */
int contact_phone_normalize(const char *in, char out[CONTACT_PHONE_LEN + 1]);
/* A new ticket id for today; -1 when no randomness was available. */
int contact_ticket_new(char out[CONTACT_TICKET_LEN + 1]);
/* The Spanish label of a subject enum value ("cotizacion" -> "Cotización"). */
const char *contact_subject_label(const char *subject);
extern const char *const  contact_subjects[];
/* Whole pesos as the customer reads them: "$12.990". */
void contact_clp(int64_t amount, char out[32]);


/* The acknowledgement goes to an address nobody verified, so it carries nothing the
 * sender chose but their name, and only a name that cannot advertise anything. */

/* The name as an acknowledgement may show it: at most its first 60 characters (a UTF-8
 * sequence is never cut; blanks left at the cut are dropped).  Returns 1 with out filled,
 * or 0 with out "" when the name must not be shown at all: it has something link-like
 * anywhere (even past the cut): ":/" (so "://") or ":\\", "www.", "@", "<", ">", a full
 * stop (or one of its Unicode look-alikes) with a non-blank on both sides as in a host
 * name "x.cl"; an invisible formatting character (zero-width, bidirectional override,
 * BOM), a control character; it is not UTF-8, or blank.  The acknowledgement then greets
 * neutrally. */
int contact_ack_name(const char *name, char out[CONTACT_ACK_NAME_SIZE]);
/* What acknowledgements are counted under for one recipient: the lower-case hex SHA-256
 * of the address normalised by the shop's one email rule (leading and trailing SP, HT, LF,
 * VT, FF, CR removed, ASCII letters lower-cased, nothing else changed).  A hash, so that
 * the count does not keep anyone's address. */
void contact_ack_key(const char *addr, char out[65]);
/* The fixed label of a subject given as its enum value or its label; "Otro" for anything
 * else, so that no free text takes its place. */
const char *contact_subject_fixed(const char *s);
/* 1 when s is a ticket as contact_ticket_new() makes them. */
int contact_ticket_ok(const char *s);


/* handlers.c */
int contact_submit(fv_req_t *r);

/* mailer.c: the consumers. */
int contact_mail_requested(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);
int contact_order_mail(fv_worker_t *w, const char *type, const char *event_id,
    json_object *event);

#endif /* CONTACT_H */
