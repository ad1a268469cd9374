/* main.c: the contact service: POST /api/contact queues a message for the shop, and the
 * mailer consumers deliver every mail the shop sends (contact, password reset, orders). */

#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "contact.h"


#define FIELDS_END  { NULL, 0, 0, 0, 0, NULL, NULL }

#ifndef CONTACT_MAIL_TEMPLATE_DIR
#define CONTACT_MAIL_TEMPLATE_DIR  "conf/mail"
#endif


/* Control characters are refused by the library in every field but the message, so no
 * name, address or subject can carry a line break into a mail header. */
static const fv_field_t  contact_body[] = {
    { "name",     FV_STRING, FV_REQUIRED | FV_TRIM, CONTACT_NAME_MIN, CONTACT_NAME_MAX,
                  NULL, NULL },
    { "email",    FV_EMAIL,  FV_REQUIRED, 0, CONTACT_EMAIL_MAX, NULL, NULL },
    { "phone",    FV_STRING, FV_NULLABLE | FV_TRIM, 0, CONTACT_PHONE_MAX, NULL, NULL },
    { "subject",  FV_ENUM,   FV_REQUIRED, 0, 0, contact_subjects, NULL },
    { "message",  FV_STRING, FV_REQUIRED | FV_TRIM | FV_MULTILINE, CONTACT_MESSAGE_MIN,
                  CONTACT_MESSAGE_MAX, NULL, NULL },
    FIELDS_END
};


static const fv_route_t  contact_routes[] = {
    { "POST", "/api/contact", FV_PUBLIC, contact_body, NULL, contact_submit },
    FV_ROUTES_END
};


/* Queues "contact.mailer" and "contact.order-mail".  Retries back off from 1 s to 10 min;
 * 25 attempts span about two and a half hours of SMTP outage before a mail is
 * dead-lettered for an operator to replay. */
static const char *const  mail_bindings[] = { "mail.requested", NULL };
static const char *const  order_bindings[] = { "order.created", "order.status_changed", NULL };

static const fv_consumer_t  contact_consumers[] = {
    { "mailer",      mail_bindings,  contact_mail_requested, 25, 600000 },
    { "order-mail",  order_bindings, contact_order_mail,     25, 600000 },
    { NULL, NULL, NULL, 0, 0 }
};


static int contact_init(fv_server_t *s);
static void contact_exit(fv_server_t *s);
static int contact_conf_addr(const fv_conf_t *conf, const char *key, const char *def,
    char *out, size_t size);
static int contact_conf_name(const fv_conf_t *conf, const char *key, const char *def,
    char *out, size_t size);


/* PostgreSQL (schema "mail") holds only the ids of the mails already sent and, per day,
 * how many acknowledgements each recipient (a hash of the address) got; requests never
 * touch it, the consumers do. */
static const fv_service_t  contact_service = {
    CONTACT_SERVICE,
    contact_routes,
    FV_STORE_AMQP | FV_STORE_PG,
    0,                  /* no outbox: events are published directly (fv_publish) */
    contact_init,
    contact_exit,
    contact_consumers
};


int
main(int argc, char **argv)
{
    return fv_main(argc, argv, &contact_service);
}


/* Templates, addresses and the SMTP settings are read once, before any request or
 * message; a bad one stops the start. */

static int
contact_init(fv_server_t *s)
{
    const fv_conf_t  *conf = fv_server_conf(s);
    contact_ctx_t    *ctx;
    const char       *dir;

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fv_log(FV_LOG_ERROR, "libcurl could not be initialised");
        return FV_ERROR;
    }

    ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL) {
        goto failed;
    }

    if (contact_conf_addr(conf, "FLORES_MAIL_FROM", "no-reply@floresvictoria.cl",
                          ctx->from_addr, sizeof(ctx->from_addr)) != 0
        || contact_conf_name(conf, "FLORES_MAIL_FROM_NAME", "Flores Victoria",
                             ctx->from_name, sizeof(ctx->from_name)) != 0
        || contact_conf_addr(conf, "FLORES_SHOP_EMAIL", "contacto@floresvictoria.cl",
                             ctx->shop_addr, sizeof(ctx->shop_addr)) != 0
        || contact_conf_name(conf, "FLORES_SHOP_NAME", "Flores Victoria",
                             ctx->shop_name, sizeof(ctx->shop_name)) != 0)
    {
        goto failed;
    }

    (void) strcpy(ctx->domain, strchr(ctx->from_addr, '@') + 1);

    ctx->ack_per_day = fv_conf_long(conf, "FLORES_ACK_PER_RECIPIENT_DAY", CONTACT_ACK_PER_DAY,
                                    0, CONTACT_ACK_PER_DAY_MAX);

    dir = fv_conf_str(conf, "FLORES_MAIL_TEMPLATE_DIR", CONTACT_MAIL_TEMPLATE_DIR);
    if (mail_templates_load(&ctx->templates, dir) != 0) {
        goto failed;
    }

    if (mail_smtp_init(&ctx->smtp, conf, ctx->domain) != 0) {
        mail_templates_free(&ctx->templates);
        goto failed;
    }

    fv_server_set_data(s, ctx);
    return FV_OK;

failed:

    free(ctx);
    curl_global_cleanup();
    return FV_ERROR;
}


static void
contact_exit(fv_server_t *s)
{
    contact_ctx_t  *ctx;

    ctx = fv_server_data(s);
    if (ctx == NULL) {
        return;
    }

    mail_templates_free(&ctx->templates);
    mail_smtp_free(&ctx->smtp);
    free(ctx);
    fv_server_set_data(s, NULL);
    curl_global_cleanup();
}


static int
contact_conf_addr(const fv_conf_t *conf, const char *key, const char *def, char *out,
    size_t size)
{
    const char  *v;

    v = fv_conf_str(conf, key, def);

    if (!mail_addr_ok(v) || strlen(v) >= size) {
        fv_log(FV_LOG_ERROR, "%s is not a usable mail address", key);
        return -1;
    }

    (void) strcpy(out, v);
    return 0;
}


static int
contact_conf_name(const fv_conf_t *conf, const char *key, const char *def, char *out,
    size_t size)
{
    const unsigned char  *p;
    const char           *v;

    v = fv_conf_str(conf, key, def);

    for (p = (const unsigned char *) v; *p != '\0'; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            fv_log(FV_LOG_ERROR, "%s must not hold control characters", key);
            return -1;
        }
    }

    if (strlen(v) >= size) {
        fv_log(FV_LOG_ERROR, "%s is longer than %d characters", key, MAIL_NAME_MAX);
        return -1;
    }

    (void) strcpy(out, v);
    return 0;
}
