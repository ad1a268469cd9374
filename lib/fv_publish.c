/* fv_publish.c: direct publishing of events for services without a database, on each
 * worker's own broker connection, answered only once the broker has confirmed. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


#define FV_MQ_STORE   "rabbitmq"


void
fv_publish_close(fv_worker_t *w)
{
    if (w->amqp != NULL) {
        fv_amqp_close(w->amqp);
        w->amqp = NULL;
    }
}


static void
fv_publish_drop(fv_worker_t *w)
{
    fv_publish_close(w);
    fv_metrics_store_error(w->server, FV_MQ_STORE);
}


/* The worker's connection, opened now if needed; one the broker closed while it was idle
 * (a restart) is replaced here rather than failing the next publish. */
static fv_amqp_t *
fv_publish_conn(fv_worker_t *w)
{
    if (w->amqp != NULL && !fv_amqp_idle_ok(w->amqp)) {
        fv_log(FV_LOG_INFO, "RabbitMQ closed the connection of worker %u; reconnecting",
            w->id);
        fv_publish_close(w);
    }

    if (w->amqp == NULL) {
        w->amqp = fv_amqp_open(w->server->conf);
        if (w->amqp == NULL) {
            fv_metrics_store_error(w->server, FV_MQ_STORE);
        }
    }

    return w->amqp;
}


int
fv_publish(fv_worker_t *w, const char *type, json_object *data, char *event_id)
{
    fv_server_t  *s = w->server;
    fv_amqp_t    *a;
    fv_buf_t      body;
    const char   *text;
    char          id[37], now[25];
    int           rc;

    if (event_id != NULL) {
        event_id[0] = '\0';
    }

    if (!fv_event_type_ok(type)) {
        fv_log(FV_LOG_ERROR, "event type \"%s\" is not [a-z0-9._-]{1,255}",
            type ? type : "(null)");
        return FV_ERROR;
    }

    if (data != NULL && !json_object_is_type(data, json_type_object)) {
        fv_log(FV_LOG_ERROR, "the data of event \"%s\" is not a JSON object", type);
        return FV_ERROR;
    }

    if (fv_uuid(id) != 0) {
        fv_log(FV_LOG_ERROR, "no random bytes for an event id");
        return FV_ERROR;
    }

    fv_time_iso(now);

    text = data != NULL
           ? json_object_to_json_string_ext(data,
                 JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
           : "{}";
    if (text == NULL) {
        return FV_ERROR;
    }

    /* The same shape and order as the outbox relay's messages. */
    fv_buf_init(&body);
    fv_buf_str(&body, "{\"id\":");
    fv_buf_json_str(&body, id, strlen(id));
    fv_buf_str(&body, ",\"type\":");
    fv_buf_json_str(&body, type, strlen(type));
    fv_buf_str(&body, ",\"occurredAt\":");
    fv_buf_json_str(&body, now, strlen(now));
    fv_buf_str(&body, ",\"source\":");
    fv_buf_json_str(&body, s->svc->name, strlen(s->svc->name));
    fv_buf_str(&body, ",\"data\":");
    fv_buf_str(&body, text);
    fv_buf_str(&body, "}");

    if (body.failed) {
        fv_buf_free(&body);
        return FV_ERROR;
    }

    a = fv_publish_conn(w);

    if (a == NULL) {
        rc = FV_STORE_DOWN;

    } else if (fv_amqp_publish(a, type, id, body.data, body.len) != 0) {
        /* Unreachable, refused (nack) or unconfirmed in time: the caller answers 503.
         * After a timeout the broker may still have taken it; consumers deduplicate. */
        fv_publish_drop(w);
        rc = FV_STORE_DOWN;

    } else {
        rc = FV_OK;
        if (event_id != NULL) {
            memcpy(event_id, id, sizeof(id));
        }
    }

    fv_buf_free(&body);
    return rc;
}


int
fv_publish_ping(fv_worker_t *w)
{
    fv_amqp_t                *a;
    amqp_connection_state_t   c;

    a = fv_publish_conn(w);
    if (a == NULL) {
        return 0;
    }

    /* A round trip: the exchange it declared is still there. */
    c = fv_amqp_connection(a);
    (void) amqp_exchange_declare(c, 1, amqp_cstring_bytes(fv_amqp_exchange(a)),
        amqp_cstring_bytes("topic"), 1, 1, 0, 0, amqp_empty_table);

    if (!fv_amqp_rpc_ok(a, "checking the exchange")) {
        fv_publish_drop(w);
        return 0;
    }

    amqp_maybe_release_buffers(c);
    return 1;
}
