/* fv_consume.c: event consumers: a thread per consumer that takes events from its durable
 * queue, calls the service's handler, and retries or dead-letters what fails. */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


/*
 * For a consumer "rating" of the service "product" the broker holds three durable queues:
 *
 *   product.rating        bound to the events exchange with the consumer's patterns;
 *   product.rating.retry  without consumers: each message carries its own expiration (the
 *                         delay), after which the broker dead-letters it to the service's
 *                         exchange with routing key "product.rating", back to the queue;
 *   product.rating.dead   what failed for good, until an operator lists or replays it
 *                         (flores-events dead list | replay).
 *
 * Copies travel through the service's own direct exchange, product.consumers, to which each
 * of the three queues is bound under its own name, and never through the default exchange:
 * write on the default exchange would let a service put messages into any queue, so the
 * broker gives none (a service's user may use only the resources named "<service>.*").
 *
 * The thread owns one connection: channel 2 consumes (prefetch FLORES_CONSUMER_PREFETCH,
 * manual acknowledgements), channel 1 publishes to the retry and dead queues in confirm
 * mode.  For each delivery, in order:
 *
 *   not JSON, not an object, no UUID "id" or no valid "type"  ->  dead ("malformed");
 *   otherwise the handler runs on the consumer's own worker, and then:
 *     FV_OK                                  ->  ack;
 *     FV_REJECT                              ->  dead ("rejected");
 *     anything else, failure n of the message (header x-flores-attempts counts them):
 *       n < max_attempts                     ->  retry queue, expiration 1 s * 2^(n-1)
 *                                                capped at max_retry_ms;
 *       n = max_attempts                     ->  dead ("attempts exhausted").
 *
 * A message is acknowledged only after the handler returned and, when it moved, after the
 * broker confirmed the copy: a crash or a lost connection at any point leaves it in its
 * queue, to be delivered again (at least once; handlers deduplicate on the event id).
 * Deliveries that arrive while a copy awaits its confirm are kept in a local list, in
 * order; after a reconnection the old ones are forgotten (the broker has requeued them).
 *
 * Per-message expirations only fire at the head of the retry queue, so a short delay may
 * wait behind a longer one queued before it: delays are "at least", bounded by
 * max_retry_ms.
 *
 * The thread waits in poll() on its socket and on the server's stop pipe, at most
 * FV_CONSUME_POLL_MS at a time (librabbitmq sends heartbeats only from inside its calls).
 * A stop is seen between two messages; the message in hand is finished first.  A broker
 * that goes away is looked for again after FV_CONSUME_BACKOFF_MIN_MS, doubling up to
 * FV_CONSUME_BACKOFF_MAX_MS.
 */

#define FV_CONSUME_CHANNEL          2
#define FV_CONSUME_PREFETCH         8
#define FV_CONSUME_HEARTBEAT        30          /* seconds */
#define FV_CONSUME_ATTEMPTS         10
#define FV_CONSUME_RETRY_MAX_MS     60000
#define FV_CONSUME_DELAY_MIN_MS     1000
#define FV_CONSUME_POLL_MS          1000
#define FV_CONSUME_BACKOFF_MIN_MS   500
#define FV_CONSUME_BACKOFF_MAX_MS   5000
#define FV_CONSUME_NAME_MAX         64
#define FV_CONSUME_STORE            "rabbitmq"

#define FV_HDR_ATTEMPTS     "x-flores-attempts"
#define FV_HDR_REASON       "x-flores-reason"
#define FV_HDR_ROUTING_KEY  "x-flores-routing-key"
#define FV_HDR_DEAD_AT      "x-flores-dead-at"
#define FV_HDR_CONSUMER     "x-flores-consumer"

typedef struct fv_delivery_s  fv_delivery_t;

struct fv_delivery_s {
    fv_delivery_t        *next;
    uint64_t              tag;
    int                   redelivered;
    char                  routing_key[256];
    amqp_message_t        msg;
};

struct fv_consume_s {
    fv_server_t          *server;
    const fv_consumer_t  *def;
    fv_worker_t           worker;
    int                   index;          /* in the table, and in the metrics */
    pthread_t             thread;
    int                   started;
    char                  queue[FV_CONSUME_NAME_MAX * 2 + 2];
    char                  exchange[FV_CONSUME_NAME_MAX + 11];   /* <service>.consumers */
    char                  retry[FV_CONSUME_NAME_MAX * 2 + 8];
    char                  dead[FV_CONSUME_NAME_MAX * 2 + 7];
    int                   max_attempts;
    long                  max_retry_ms;
    int                   prefetch;
    fv_amqp_t            *mq;
    fv_delivery_t        *head;           /* deliveries read while awaiting a confirm */
    fv_delivery_t        *tail;
    long                  backoff_ms;
};


/* ---- the table ------------------------------------------------------------------------ */

static int
fv_consume_name_ok(const char *s)
{
    size_t  i;

    for (i = 0; s[i]; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'
              || s[i] == '-'))
        {
            return 0;
        }
    }

    return i > 0 && i <= FV_CONSUME_NAME_MAX;
}


/* A topic pattern: words of [a-zA-Z0-9_-] or "*" or "#", separated by dots. */
static int
fv_consume_pattern_ok(const char *p)
{
    size_t  i, n = strlen(p);

    if (n == 0 || n > 255) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '_' || p[i] == '-' || p[i] == '.'
              || p[i] == '*' || p[i] == '#'))
        {
            return 0;
        }
    }

    return 1;
}


int
fv_consumers_check(const fv_service_t *svc)
{
    const fv_consumer_t  *c;
    size_t                i, j;

    if (svc->consumers == NULL) {
        return 0;
    }

    if (svc->name == NULL || !fv_consume_name_ok(svc->name)) {
        fv_log(FV_LOG_ERROR, "consumers: the service name must be [a-z0-9_-]{1,64}");
        return -1;
    }

    for (i = 0; svc->consumers[i].name != NULL; i++) {
        c = &svc->consumers[i];

        if (!fv_consume_name_ok(c->name)) {
            fv_log(FV_LOG_ERROR, "consumer \"%s\": the name must be [a-z0-9_-]{1,64}", c->name);
            return -1;
        }

        if (c->handler == NULL) {
            fv_log(FV_LOG_ERROR, "consumer \"%s\" has no handler", c->name);
            return -1;
        }

        if (c->bindings == NULL || c->bindings[0] == NULL) {
            fv_log(FV_LOG_ERROR, "consumer \"%s\" has no bindings", c->name);
            return -1;
        }

        for (j = 0; c->bindings[j] != NULL; j++) {
            if (!fv_consume_pattern_ok(c->bindings[j])) {
                fv_log(FV_LOG_ERROR, "consumer \"%s\": binding \"%s\" is not a topic pattern",
                    c->name, c->bindings[j]);
                return -1;
            }
        }

        if (c->max_attempts < 0 || c->max_attempts > 1000) {
            fv_log(FV_LOG_ERROR, "consumer \"%s\": max_attempts must be 0 (10) to 1000",
                c->name);
            return -1;
        }

        if (c->max_retry_ms < 0 || c->max_retry_ms > 86400000L) {
            fv_log(FV_LOG_ERROR, "consumer \"%s\": max_retry_ms must be 0 (60000) to 86400000",
                c->name);
            return -1;
        }

        for (j = 0; j < i; j++) {
            if (strcmp(svc->consumers[j].name, c->name) == 0) {
                fv_log(FV_LOG_ERROR, "consumer \"%s\" is listed twice", c->name);
                return -1;
            }
        }
    }

    return 0;
}


long
fv_consume_delay(int attempts, long max_ms)
{
    long  d = FV_CONSUME_DELAY_MIN_MS;
    int   i;

    for (i = 1; i < attempts && d < max_ms; i++) {
        d *= 2;
    }

    return d < max_ms ? d : max_ms;
}


/* ---- deliveries ----------------------------------------------------------------------- */

static void
fv_delivery_free(fv_delivery_t *d)
{
    if (d != NULL) {
        amqp_destroy_message(&d->msg);
        free(d);
    }
}


static void
fv_consume_forget(fv_consume_t *cs)
{
    fv_delivery_t  *d;

    while ((d = cs->head) != NULL) {
        cs->head = d->next;
        fv_delivery_free(d);
    }
    cs->tail = NULL;
}


static void
fv_consume_drop(fv_consume_t *cs, const char *why)
{
    if (cs->mq != NULL) {
        fv_log(FV_LOG_WARN, "consumer %s: %s; reconnecting", cs->queue, why);
        fv_amqp_set_broken(cs->mq);
        fv_amqp_close(cs->mq);
        cs->mq = NULL;
        fv_metrics_store_error(cs->server, FV_CONSUME_STORE);
    }

    fv_consume_forget(cs);
}


/* A frame outside a publish's confirm, or of the consuming channel during one: keeps a
 * delivery (with its content) at the end of the list.  -1 when the channel or connection
 * is over. */
static int
fv_consume_frame(void *ctx, amqp_frame_t *f)
{
    fv_consume_t             *cs = ctx;
    amqp_connection_state_t   c = fv_amqp_connection(cs->mq);
    amqp_basic_deliver_t     *dv;
    amqp_channel_close_t     *cc;
    amqp_rpc_reply_t          r;
    fv_delivery_t            *d;

    if (f->frame_type != AMQP_FRAME_METHOD) {
        return 0;
    }

    switch (f->payload.method.id) {

    case AMQP_BASIC_DELIVER_METHOD:
        if (f->channel != FV_CONSUME_CHANNEL) {
            return 0;
        }

        dv = f->payload.method.decoded;

        d = calloc(1, sizeof(fv_delivery_t));
        if (d == NULL) {
            return -1;
        }

        d->tag = dv->delivery_tag;
        d->redelivered = dv->redelivered;
        (void) snprintf(d->routing_key, sizeof(d->routing_key), "%.*s",
            (int) dv->routing_key.len, (const char *) dv->routing_key.bytes);

        /* The header and body frames follow; other channels' frames met meanwhile are
         * queued by librabbitmq and come out of the next wait. */
        r = amqp_read_message(c, FV_CONSUME_CHANNEL, &d->msg, 0);
        if (r.reply_type != AMQP_RESPONSE_NORMAL) {
            free(d);
            return -1;
        }

        if (cs->tail != NULL) {
            cs->tail->next = d;
        } else {
            cs->head = d;
        }
        cs->tail = d;
        return 0;

    case AMQP_BASIC_CANCEL_METHOD:
        fv_log(FV_LOG_WARN, "consumer %s: the broker cancelled the subscription (queue "
            "deleted?)", cs->queue);
        return -1;

    case AMQP_CHANNEL_CLOSE_METHOD:
        cc = f->payload.method.decoded;
        fv_log(FV_LOG_WARN, "consumer %s: the broker closed channel %u: %u %.*s", cs->queue,
            f->channel, cc->reply_code, (int) cc->reply_text.len,
            (const char *) cc->reply_text.bytes);
        return -1;

    case AMQP_CONNECTION_CLOSE_METHOD:
        fv_log(FV_LOG_WARN, "consumer %s: the broker closed the connection", cs->queue);
        return -1;

    default:
        return 0;
    }
}


/* Sleeps up to ms, woken at once by a stop. */
static void
fv_consume_sleep(fv_consume_t *cs, long ms)
{
    struct pollfd  pfd;

    pfd.fd = cs->server->wake[0];
    pfd.events = POLLIN;
    pfd.revents = 0;

    (void) poll(&pfd, 1, (int) ms);
}


/* 1 with the next delivery in *out, 0 on a stop, -1 when the connection is over. */
static int
fv_consume_wait(fv_consume_t *cs, fv_delivery_t **out)
{
    fv_server_t              *s = cs->server;
    amqp_connection_state_t   c = fv_amqp_connection(cs->mq);
    struct timeval            zero = { 0, 0 };
    struct pollfd             fds[2];
    amqp_frame_t              frame;
    int                       rc;

    for ( ;; ) {
        if (cs->head != NULL) {
            *out = cs->head;
            cs->head = cs->head->next;
            if (cs->head == NULL) {
                cs->tail = NULL;
            }
            (*out)->next = NULL;
            return 1;
        }

        if (atomic_load(&s->stopping)) {
            return 0;
        }

        if (!amqp_frames_enqueued(c) && !amqp_data_in_buffer(c)) {
            amqp_maybe_release_buffers(c);

            fds[0].fd = amqp_get_sockfd(c);
            fds[0].events = POLLIN;
            fds[0].revents = 0;
            fds[1].fd = s->wake[0];
            fds[1].events = POLLIN;
            fds[1].revents = 0;

            rc = poll(fds, 2, FV_CONSUME_POLL_MS);

            if (rc < 0 && errno != EINTR) {
                fv_log(FV_LOG_ERROR, "consumer %s: poll() failed: %s", cs->queue,
                    strerror(errno));
                return -1;
            }

            if (rc > 0 && fds[1].revents != 0) {
                return 0;
            }
        }

        /* Also when nothing came: librabbitmq sends a due heartbeat, or finds the
         * broker's missing. */
        rc = amqp_simple_wait_frame_noblock(c, &frame, &zero);

        if (rc == AMQP_STATUS_TIMEOUT) {
            continue;
        }

        if (rc != AMQP_STATUS_OK) {
            fv_log(FV_LOG_WARN, "consumer %s: %s", cs->queue, amqp_error_string2(rc));
            return -1;
        }

        if (fv_consume_frame(cs, &frame) != 0) {
            return -1;
        }
    }
}


/* ---- the broker side ------------------------------------------------------------------ */

/* Binds queue to the service's exchange under its own name. */
static int
fv_consume_bind_own(fv_consume_t *cs, const char *queue)
{
    (void) amqp_queue_bind(fv_amqp_connection(cs->mq), FV_CONSUME_CHANNEL,
        amqp_cstring_bytes(queue), amqp_cstring_bytes(cs->exchange), amqp_cstring_bytes(queue),
        amqp_empty_table);

    return fv_amqp_rpc_ok(cs->mq, "binding a queue to the service's exchange") ? 0 : -1;
}


static int
fv_consume_connect(fv_consume_t *cs)
{
    fv_server_t               *s = cs->server;
    amqp_connection_state_t    c;
    amqp_table_entry_t         dlx[2];
    amqp_table_t               args;
    const char                *exchange;
    size_t                     i;

    cs->mq = fv_amqp_connect(s->conf, FV_CONSUME_HEARTBEAT);
    if (cs->mq == NULL) {
        fv_metrics_store_error(s, FV_CONSUME_STORE);
        return -1;
    }

    c = fv_amqp_connection(cs->mq);
    exchange = fv_amqp_exchange(cs->mq);

    (void) amqp_channel_open(c, FV_CONSUME_CHANNEL);
    if (!fv_amqp_rpc_ok(cs->mq, "opening the consuming channel")) {
        goto failed;
    }

    (void) amqp_basic_qos(c, FV_CONSUME_CHANNEL, 0, (uint16_t) cs->prefetch, 0);
    if (!fv_amqp_rpc_ok(cs->mq, "setting the prefetch")) {
        goto failed;
    }

    (void) amqp_queue_declare(c, FV_CONSUME_CHANNEL, amqp_cstring_bytes(cs->queue), 0, 1, 0,
        0, amqp_empty_table);
    if (!fv_amqp_rpc_ok(cs->mq, "declaring the queue")) {
        goto failed;
    }

    for (i = 0; cs->def->bindings[i] != NULL; i++) {
        (void) amqp_queue_bind(c, FV_CONSUME_CHANNEL, amqp_cstring_bytes(cs->queue),
            amqp_cstring_bytes(exchange), amqp_cstring_bytes(cs->def->bindings[i]),
            amqp_empty_table);
        if (!fv_amqp_rpc_ok(cs->mq, "binding the queue")) {
            goto failed;
        }
    }

    (void) amqp_exchange_declare(c, FV_CONSUME_CHANNEL, amqp_cstring_bytes(cs->exchange),
        amqp_cstring_bytes("direct"), 0, 1, 0, 0, amqp_empty_table);
    if (!fv_amqp_rpc_ok(cs->mq, "declaring the service's exchange")) {
        goto failed;
    }

    if (fv_consume_bind_own(cs, cs->queue) != 0) {
        goto failed;
    }

    /* Expired messages go back to the queue, through the service's exchange. */
    dlx[0].key = amqp_cstring_bytes("x-dead-letter-exchange");
    dlx[0].value.kind = AMQP_FIELD_KIND_UTF8;
    dlx[0].value.value.bytes = amqp_cstring_bytes(cs->exchange);
    dlx[1].key = amqp_cstring_bytes("x-dead-letter-routing-key");
    dlx[1].value.kind = AMQP_FIELD_KIND_UTF8;
    dlx[1].value.value.bytes = amqp_cstring_bytes(cs->queue);
    args.num_entries = 2;
    args.entries = dlx;

    (void) amqp_queue_declare(c, FV_CONSUME_CHANNEL, amqp_cstring_bytes(cs->retry), 0, 1, 0,
        0, args);
    if (!fv_amqp_rpc_ok(cs->mq, "declaring the retry queue")) {
        goto failed;
    }

    (void) amqp_queue_declare(c, FV_CONSUME_CHANNEL, amqp_cstring_bytes(cs->dead), 0, 1, 0, 0,
        amqp_empty_table);
    if (!fv_amqp_rpc_ok(cs->mq, "declaring the dead-letter queue")) {
        goto failed;
    }

    if (fv_consume_bind_own(cs, cs->retry) != 0 || fv_consume_bind_own(cs, cs->dead) != 0) {
        goto failed;
    }

    (void) amqp_basic_consume(c, FV_CONSUME_CHANNEL, amqp_cstring_bytes(cs->queue),
        amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    if (!fv_amqp_rpc_ok(cs->mq, "consuming")) {
        goto failed;
    }

    return 0;

failed:

    fv_amqp_close(cs->mq);
    cs->mq = NULL;
    fv_metrics_store_error(s, FV_CONSUME_STORE);
    return -1;
}


/* The integer header name, or def. */
static long
fv_consume_header_int(const amqp_basic_properties_t *p, const char *name, long def)
{
    const amqp_field_value_t  *v;
    int                        i;
    size_t                     n = strlen(name);

    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) {
        return def;
    }

    for (i = 0; i < p->headers.num_entries; i++) {
        if (p->headers.entries[i].key.len != n
            || memcmp(p->headers.entries[i].key.bytes, name, n) != 0)
        {
            continue;
        }

        v = &p->headers.entries[i].value;

        switch (v->kind) {
        case AMQP_FIELD_KIND_I8:   return v->value.i8;
        case AMQP_FIELD_KIND_U8:   return v->value.u8;
        case AMQP_FIELD_KIND_I16:  return v->value.i16;
        case AMQP_FIELD_KIND_U16:  return v->value.u16;
        case AMQP_FIELD_KIND_I32:  return v->value.i32;
        case AMQP_FIELD_KIND_U32:  return v->value.u32 > 1000000 ? 1000000 : (long) v->value.u32;
        case AMQP_FIELD_KIND_I64:
            return v->value.i64 > 1000000 ? 1000000 : v->value.i64 < 0 ? 0 : (long) v->value.i64;
        case AMQP_FIELD_KIND_U64:
            return v->value.u64 > 1000000 ? 1000000 : (long) v->value.u64;
        default:                   return def;
        }
    }

    return def;
}


/* The text header name into out (empty when absent or not text). */
static void
fv_consume_header_str(const amqp_basic_properties_t *p, const char *name, char *out,
    size_t size)
{
    const amqp_field_value_t  *v;
    int                        i;
    size_t                     n = strlen(name);

    out[0] = '\0';

    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) {
        return;
    }

    for (i = 0; i < p->headers.num_entries; i++) {
        v = &p->headers.entries[i].value;

        if (p->headers.entries[i].key.len == n
            && memcmp(p->headers.entries[i].key.bytes, name, n) == 0
            && (v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES)
            && v->value.bytes.len < size)
        {
            memcpy(out, v->value.bytes.bytes, v->value.bytes.len);
            out[v->value.bytes.len] = '\0';
            return;
        }
    }
}


/* Publishes a copy of the delivery to queue (retry when delay_ms > 0, else dead) and
 * waits for the broker's confirm.  0, or -1 when the connection is over. */
static int
fv_consume_move(fv_consume_t *cs, fv_delivery_t *d, const char *queue, long attempts,
    const char *type, const char *reason, long delay_ms)
{
    amqp_basic_properties_t  *p = &d->msg.properties;
    amqp_table_entry_t        h[5];
    fv_amqp_msg_t             m;
    char                      key[256], id[128], expiration[24], now[25];
    int                       n = 0;

    /* Where the event first came from: its routing key on the events exchange. */
    fv_consume_header_str(p, FV_HDR_ROUTING_KEY, key, sizeof(key));
    if (key[0] == '\0') {
        (void) snprintf(key, sizeof(key), "%s", d->routing_key);
    }

    id[0] = '\0';
    if ((p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) && p->message_id.len < sizeof(id)) {
        memcpy(id, p->message_id.bytes, p->message_id.len);
        id[p->message_id.len] = '\0';
    }

    h[n].key = amqp_cstring_bytes(FV_HDR_ATTEMPTS);
    h[n].value.kind = AMQP_FIELD_KIND_I32;
    h[n++].value.value.i32 = (int32_t) attempts;

    h[n].key = amqp_cstring_bytes(FV_HDR_ROUTING_KEY);
    h[n].value.kind = AMQP_FIELD_KIND_UTF8;
    h[n++].value.value.bytes = amqp_cstring_bytes(key);

    if (reason != NULL) {
        fv_time_iso(now);

        h[n].key = amqp_cstring_bytes(FV_HDR_REASON);
        h[n].value.kind = AMQP_FIELD_KIND_UTF8;
        h[n++].value.value.bytes = amqp_cstring_bytes(reason);

        h[n].key = amqp_cstring_bytes(FV_HDR_DEAD_AT);
        h[n].value.kind = AMQP_FIELD_KIND_UTF8;
        h[n++].value.value.bytes = amqp_cstring_bytes(now);

        h[n].key = amqp_cstring_bytes(FV_HDR_CONSUMER);
        h[n].value.kind = AMQP_FIELD_KIND_UTF8;
        h[n++].value.value.bytes = amqp_cstring_bytes(cs->queue);
    }

    memset(&m, 0, sizeof(m));
    m.exchange = cs->exchange;
    m.routing_key = queue;
    m.message_id = id[0] ? id : NULL;
    m.type = type;
    m.headers.num_entries = n;
    m.headers.entries = h;

    if (delay_ms > 0) {
        (void) snprintf(expiration, sizeof(expiration), "%ld", delay_ms);
        m.expiration = expiration;
    }

    return fv_amqp_send(cs->mq, &m, d->msg.body.bytes, d->msg.body.len, fv_consume_frame, cs);
}


/* The event, or NULL with why it cannot be one. */
static json_object *
fv_consume_parse(fv_delivery_t *d, const char **type, const char **id, const char **why)
{
    json_object  *ev = NULL, *v;

    *type = NULL;
    *id = NULL;

    if (d->msg.body.len == 0
        || fv_body_parse(d->msg.body.bytes, d->msg.body.len, &ev) != FV_BODY_OK)
    {
        *why = "malformed: not a JSON object";
        return NULL;
    }

    if (!json_object_object_get_ex(ev, "id", &v) || !json_object_is_type(v, json_type_string)
        || !fv_uuid_ok(json_object_get_string(v)))
    {
        *why = "malformed: no UUID id";
        json_object_put(ev);
        return NULL;
    }
    *id = json_object_get_string(v);

    if (!json_object_object_get_ex(ev, "type", &v) || !json_object_is_type(v, json_type_string)
        || !fv_event_type_ok(json_object_get_string(v)))
    {
        *why = "malformed: no valid type";
        json_object_put(ev);
        return NULL;
    }
    *type = json_object_get_string(v);

    return ev;
}


/* One delivery from start to acknowledgement.  0, or -1 when the connection is over
 * (the message stays with the broker). */
static int
fv_consume_one(fv_consume_t *cs, fv_delivery_t *d)
{
    amqp_connection_state_t   c = fv_amqp_connection(cs->mq);
    json_object              *ev;
    const char               *t, *i, *why = NULL;
    char                      reason[64], type[256], id[37];
    double                    t0;
    long                      attempts, delay;
    int                       rc;
    fv_consumed_e             outcome;

    attempts = fv_consume_header_int(&d->msg.properties, FV_HDR_ATTEMPTS, 0);
    if (attempts < 0) {
        attempts = 0;
    }

    ev = fv_consume_parse(d, &t, &i, &why);

    if (ev == NULL) {
        fv_log(FV_LOG_ERROR, "consumer %s: message %llu %s: moved to %s", cs->queue,
            (unsigned long long) d->tag, why, cs->dead);

        if (fv_consume_move(cs, d, cs->dead, attempts, NULL, why, 0) != 0) {
            return -1;
        }
        outcome = FV_CONSUMED_DEAD;
        goto ack;
    }

    /* Copies: the handler may change the event it is given. */
    (void) snprintf(type, sizeof(type), "%s", t);
    (void) snprintf(id, sizeof(id), "%s", i);

    t0 = fv_now_ms();
    rc = cs->def->handler(&cs->worker, type, id, ev);
    fv_worker_end(&cs->worker);

    if (rc == FV_OK) {
        outcome = FV_CONSUMED_HANDLED;
        fv_log(FV_LOG_DEBUG, "consumer %s: %s %s handled in %.1f ms%s", cs->queue, type, id,
            fv_now_ms() - t0, d->redelivered ? " (redelivered)" : "");

    } else if (rc == FV_REJECT) {
        outcome = FV_CONSUMED_DEAD;
        fv_log(FV_LOG_ERROR, "consumer %s: %s %s rejected: moved to %s", cs->queue, type, id,
            cs->dead);
        if (fv_consume_move(cs, d, cs->dead, attempts + 1, type, "rejected", 0) != 0) {
            goto broken;
        }

    } else if (attempts + 1 >= cs->max_attempts) {
        outcome = FV_CONSUMED_DEAD;
        (void) snprintf(reason, sizeof(reason), "attempts exhausted (%ld)", attempts + 1);
        fv_log(FV_LOG_ERROR, "consumer %s: %s %s failed %ld times: moved to %s", cs->queue,
            type, id, attempts + 1, cs->dead);
        if (fv_consume_move(cs, d, cs->dead, attempts + 1, type, reason, 0) != 0) {
            goto broken;
        }

    } else {
        outcome = FV_CONSUMED_RETRIED;
        delay = fv_consume_delay((int) attempts + 1, cs->max_retry_ms);
        fv_log(FV_LOG_WARN, "consumer %s: %s %s failed (%s, attempt %ld of %d): again in "
            "%ld ms", cs->queue, type, id,
            rc == FV_STORE_DOWN ? "store down" : rc == FV_RETRY ? "retry" : "error",
            attempts + 1, cs->max_attempts, delay);
        if (fv_consume_move(cs, d, cs->retry, attempts + 1, type, NULL, delay) != 0) {
            goto broken;
        }
    }

    json_object_put(ev);

ack:

    if (amqp_basic_ack(c, FV_CONSUME_CHANNEL, d->tag, 0) != AMQP_STATUS_OK) {
        fv_log(FV_LOG_WARN, "consumer %s: acknowledging failed", cs->queue);
        return -1;
    }

    fv_metrics_consumed(cs->server->metrics, cs->index, outcome);
    return 0;

broken:

    json_object_put(ev);
    return -1;
}


/* ---- the thread ----------------------------------------------------------------------- */

static void *
fv_consume_main(void *arg)
{
    fv_consume_t   *cs = arg;
    fv_server_t    *s = cs->server;
    fv_delivery_t  *d;
    int             rc;

    cs->backoff_ms = FV_CONSUME_BACKOFF_MIN_MS;

    while (!atomic_load(&s->stopping)) {

        if (cs->mq == NULL) {
            if (fv_consume_connect(cs) != 0) {
                fv_consume_sleep(cs, cs->backoff_ms);
                cs->backoff_ms *= 2;
                if (cs->backoff_ms > FV_CONSUME_BACKOFF_MAX_MS) {
                    cs->backoff_ms = FV_CONSUME_BACKOFF_MAX_MS;
                }
                continue;
            }

            fv_log(FV_LOG_INFO, "consumer %s: consuming (prefetch %d, %d attempts, retries "
                "up to %ld ms apart)", cs->queue, cs->prefetch, cs->max_attempts,
                cs->max_retry_ms);
            cs->backoff_ms = FV_CONSUME_BACKOFF_MIN_MS;
        }

        rc = fv_consume_wait(cs, &d);

        if (rc == 0) {
            continue;
        }

        if (rc > 0) {
            rc = fv_consume_one(cs, d);
            fv_delivery_free(d);

            if (rc == 0) {
                continue;
            }
        }

        fv_consume_drop(cs, "the connection is lost");
        fv_consume_sleep(cs, cs->backoff_ms);
    }

    /* Unacknowledged deliveries go back to the queue with the connection. */
    fv_consume_forget(cs);
    fv_amqp_close(cs->mq);
    cs->mq = NULL;
    fv_worker_close(&cs->worker);

    fv_log(FV_LOG_INFO, "consumer %s: stopped", cs->queue);
    return NULL;
}


int
fv_consumers_start(fv_server_t *s)
{
    const fv_service_t  *svc = s->svc;
    fv_consume_t        *cs;
    unsigned             i, n;
    int                  rc = 0;

    if (svc->consumers == NULL) {
        return 0;
    }

    for (n = 0; svc->consumers[n].name != NULL; n++) {
        /* void */
    }

    if (n == 0) {
        return 0;
    }

    s->consumers = calloc(n, sizeof(fv_consume_t));
    if (s->consumers == NULL) {
        return -1;
    }

    for (i = 0; i < n; i++) {
        cs = &s->consumers[i];
        cs->server = s;
        cs->def = &svc->consumers[i];
        cs->index = (int) i;
        cs->max_attempts = cs->def->max_attempts > 0 ? cs->def->max_attempts
                                                     : FV_CONSUME_ATTEMPTS;
        cs->max_retry_ms = cs->def->max_retry_ms > 0 ? cs->def->max_retry_ms
                                                     : FV_CONSUME_RETRY_MAX_MS;
        cs->prefetch = (int) fv_conf_long(s->conf, "FLORES_CONSUMER_PREFETCH",
                                          FV_CONSUME_PREFETCH, 1, 16);
        (void) snprintf(cs->queue, sizeof(cs->queue), "%s.%s", svc->name, cs->def->name);
        (void) snprintf(cs->exchange, sizeof(cs->exchange), "%s.consumers", svc->name);
        (void) snprintf(cs->retry, sizeof(cs->retry), "%s.retry", cs->queue);
        (void) snprintf(cs->dead, sizeof(cs->dead), "%s.dead", cs->queue);

        /* Worker ids after the request workers', for the logs. */
        fv_worker_init(&cs->worker, s, s->nworkers + i);

        s->nconsumers = i + 1;
        cs->started = pthread_create(&cs->thread, NULL, fv_consume_main, cs) == 0;

        if (!cs->started) {
            fv_log(FV_LOG_ERROR, "cannot start consumer %s", cs->queue);
            rc = -1;
        }
    }

    return rc;
}


void
fv_consumers_stop(fv_server_t *s)
{
    unsigned  i;

    for (i = 0; i < s->nconsumers; i++) {
        if (s->consumers[i].started) {
            (void) pthread_join(s->consumers[i].thread, NULL);
        }
    }

    free(s->consumers);
    s->consumers = NULL;
    s->nconsumers = 0;
}


/* ---- deduplication -------------------------------------------------------------------- */

int
fv_event_seen(fv_worker_t *w, const char *consumer, const char *event_id)
{
    const char  *params[2];
    PGresult    *res;
    int          rc;

    if (!w->pg_in_tx) {
        fv_log(FV_LOG_ERROR, "fv_event_seen() outside a transaction: the mark and the effect "
            "would not commit together");
        return FV_ERROR;
    }

    if (consumer == NULL || *consumer == '\0' || !fv_uuid_ok(event_id)) {
        fv_log(FV_LOG_ERROR, "fv_event_seen(): no consumer name or not a UUID");
        return FV_ERROR;
    }

    params[0] = consumer;
    params[1] = event_id;

    res = fv_pg_exec(w, "INSERT INTO processed_events (consumer, event_id) VALUES ($1, $2) "
                        "ON CONFLICT DO NOTHING", 2, params);
    if (res == NULL) {
        return FV_STORE_DOWN;
    }

    if (!fv_pg_ok(res)) {
        rc = FV_ERROR;
    } else {
        rc = strcmp(PQcmdTuples(res), "0") == 0 ? 1 : 0;
    }

    PQclear(res);
    return rc;
}
