/* flores-events.c: watch and prepare the event bus: tail messages as JSON lines, declare
 * durable queues that keep messages while nobody listens, count or delete them, publish one,
 * and list or replay what consumers dead-lettered. */

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <amqp.h>

#include "fv_internal.h"


#define EV_OK         0
#define EV_TIMEOUT    1     /* tail: the timeout came before --count messages */
#define EV_NOT_FOUND  1     /* count, delete: no such queue */
#define EV_USAGE      2
#define EV_BROKER     3     /* the broker is unreachable or refused something */

#define EV_CHANNEL    1     /* the channel fv_amqp_open() opened */
#define EV_BINDS_MAX  32
#define EV_SLICE_MS   200   /* how often a blocked tail looks at signals */
#define EV_DEAD_MAX   1000  /* dead list: messages shown at most (held unacknowledged) */

typedef struct {
    const char           *cmd;
    const char           *sub;            /* dead: list or replay */
    const char           *queue;
    const char           *binds[EV_BINDS_MAX];
    size_t                nbinds;
    const char           *type;           /* publish */
    const char           *data;
    const char           *id;             /* publish: the event's id (a redelivery) */
    long                  count;          /* 0: no limit */
    double                timeout;        /* seconds; 0: none */
} ev_opts_t;


static volatile sig_atomic_t  ev_stop;


static void
ev_on_signal(int sig)
{
    (void) sig;
    ev_stop = 1;
}


static void
ev_usage(FILE *f)
{
    (void) fprintf(f,
        "Usage:\n"
        "  flores-events tail [--bind PATTERN]... [--queue NAME] [--count N] [--timeout SECONDS]\n"
        "  flores-events declare --queue NAME [--bind PATTERN]...\n"
        "  flores-events count --queue NAME\n"
        "  flores-events delete --queue NAME\n"
        "  flores-events publish --type TYPE [--data JSON] [--id UUID]\n"
        "  flores-events dead list --queue NAME [--count N]\n"
        "  flores-events dead replay --queue NAME [--count N]\n"
        "\n"
        "tail     prints each message body as one JSON line on stdout and acknowledges it.\n"
        "         Without --queue it listens on a private queue that lives as long as it\n"
        "         does; with --queue it consumes a durable queue (declared if missing).\n"
        "         Patterns are routing keys of the topic exchange (default '#': all).\n"
        "         It stops after --count messages, at --timeout, or on SIGINT/SIGTERM.\n"
        "         Once it listens it logs \"listening\" on stderr.\n"
        "declare  creates a durable queue bound to the patterns (default '#'), so that\n"
        "         messages are kept until a later tail --queue reads them.\n"
        "count    prints the number of messages waiting in a queue.\n"
        "delete   deletes a queue and the messages in it.\n"
        "publish  publishes one event {id, type, occurredAt, source, data} with routing key\n"
        "         TYPE (data: a JSON object, default {}) and waits for the broker's confirm;\n"
        "         --id gives the event's id (to deliver one event again), else a new one.\n"
        "dead     the dead-letter queue of a consumer: NAME is the consumer's queue\n"
        "         (\"product.rating\") or its \".dead\" queue.\n"
        "  list   prints each dead message as one JSON line {\"reason\", \"attempts\",\n"
        "         \"deadAt\", \"routingKey\", \"consumer\", \"event\"} (event: the body, parsed\n"
        "         when it is JSON, else a string) and leaves it in the queue; the first\n"
        "         --count (default and at most 1000).\n"
        "  replay moves --count messages (default: all there are) back to the consumer's\n"
        "         queue, each with a fresh count of attempts, and prints how many moved;\n"
        "         a message leaves the dead queue only once the broker confirmed its copy.\n"
        "\n"
        "Environment: FLORES_AMQP_URL (amqp://user:password@host:port/vhost),\n"
        "FLORES_AMQP_EXCHANGE (default flores.events).\n"
        "Exit status: 0 done; 1 tail timed out before --count messages, or count, delete\n"
        "or dead found no such queue; 2 usage; 3 broker unreachable or refusing.\n");
}


static int
ev_parse(int argc, char **argv, ev_opts_t *o)
{
    static const struct option  opts[] = {
        { "bind", required_argument, NULL, 'b' },
        { "queue", required_argument, NULL, 'q' },
        { "count", required_argument, NULL, 'n' },
        { "timeout", required_argument, NULL, 't' },
        { "type", required_argument, NULL, 'y' },
        { "data", required_argument, NULL, 'd' },
        { "id", required_argument, NULL, 'i' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    char  *end;
    int    c;

    memset(o, 0, sizeof(*o));

    if (argc < 2) {
        return -1;
    }

    o->cmd = argv[1];

    if (strcmp(o->cmd, "--help") == 0 || strcmp(o->cmd, "-h") == 0) {
        ev_usage(stdout);
        exit(EV_OK);
    }

    optind = 2;

    if (strcmp(o->cmd, "dead") == 0) {
        if (argc < 3 || (strcmp(argv[2], "list") != 0 && strcmp(argv[2], "replay") != 0)) {
            (void) fprintf(stderr, "flores-events dead: list or replay\n");
            return -1;
        }
        o->sub = argv[2];
        optind = 3;
    }

    while ((c = getopt_long(argc, argv, "b:q:n:t:y:d:i:h", opts, NULL)) != -1) {
        switch (c) {

        case 'b':
            if (o->nbinds == EV_BINDS_MAX || *optarg == '\0') {
                (void) fprintf(stderr, "flores-events: too many or empty --bind\n");
                return -1;
            }
            o->binds[o->nbinds++] = optarg;
            break;

        case 'q':
            if (*optarg == '\0' || strlen(optarg) > 255) {
                (void) fprintf(stderr, "flores-events: --queue needs a name of 1 to 255 bytes\n");
                return -1;
            }
            o->queue = optarg;
            break;

        case 'n':
            errno = 0;
            o->count = strtol(optarg, &end, 10);
            if (errno != 0 || *end != '\0' || o->count < 1) {
                (void) fprintf(stderr, "flores-events: --count needs a positive integer\n");
                return -1;
            }
            break;

        case 't':
            errno = 0;
            o->timeout = strtod(optarg, &end);
            if (errno != 0 || *end != '\0' || !(o->timeout > 0) || o->timeout > 86400 * 365) {
                (void) fprintf(stderr, "flores-events: --timeout needs a positive number of "
                    "seconds\n");
                return -1;
            }
            break;

        case 'y':
            o->type = optarg;
            break;

        case 'd':
            o->data = optarg;
            break;

        case 'i':
            if (!fv_uuid_ok(optarg)) {
                (void) fprintf(stderr, "flores-events: --id needs a UUID\n");
                return -1;
            }
            o->id = optarg;
            break;

        case 'h':
            ev_usage(stdout);
            exit(EV_OK);

        default:
            return -1;
        }
    }

    if (optind < argc) {
        (void) fprintf(stderr, "flores-events: unexpected argument \"%s\"\n", argv[optind]);
        return -1;
    }

    if ((o->type != NULL || o->data != NULL || o->id != NULL)
        && strcmp(o->cmd, "publish") != 0)
    {
        (void) fprintf(stderr, "flores-events: --type, --data and --id are for publish\n");
        return -1;
    }

    if (strcmp(o->cmd, "tail") == 0) {
        return 0;
    }

    if (strcmp(o->cmd, "publish") == 0) {
        if (o->type == NULL || *o->type == '\0' || o->queue != NULL || o->nbinds > 0
            || o->count != 0 || o->timeout != 0)
        {
            (void) fprintf(stderr, "flores-events publish: --type (and --data) only\n");
            return -1;
        }
        return 0;
    }

    if (strcmp(o->cmd, "dead") == 0) {
        if (o->queue == NULL || o->nbinds > 0 || o->timeout != 0) {
            (void) fprintf(stderr, "flores-events dead %s: --queue (and --count) only\n",
                o->sub);
            return -1;
        }
        if (strcmp(o->sub, "list") == 0 && o->count > EV_DEAD_MAX) {
            (void) fprintf(stderr, "flores-events dead list: --count is at most %d\n",
                EV_DEAD_MAX);
            return -1;
        }
        return 0;
    }

    if (strcmp(o->cmd, "declare") == 0 || strcmp(o->cmd, "count") == 0
        || strcmp(o->cmd, "delete") == 0)
    {
        if (o->queue == NULL) {
            (void) fprintf(stderr, "flores-events %s: --queue is required\n", o->cmd);
            return -1;
        }
        if (strcmp(o->cmd, "declare") != 0 && o->nbinds > 0) {
            (void) fprintf(stderr, "flores-events %s: --bind is for tail and declare\n",
                o->cmd);
            return -1;
        }
        if (o->count != 0 || o->timeout != 0) {
            (void) fprintf(stderr, "flores-events %s: --count and --timeout are for tail\n",
                o->cmd);
            return -1;
        }
        return 0;
    }

    (void) fprintf(stderr, "flores-events: unknown command \"%s\"\n", o->cmd);
    return -1;
}


/* 0, or the exit status for a refused call: 1 for a missing queue (404), else 3. */
static int
ev_check(amqp_connection_state_t c, const char *what)
{
    amqp_rpc_reply_t       r;
    amqp_channel_close_t  *cc;

    r = amqp_get_rpc_reply(c);

    switch (r.reply_type) {

    case AMQP_RESPONSE_NORMAL:
        return 0;

    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            cc = r.reply.decoded;
            fv_log(FV_LOG_ERROR, "%s: %u %.*s", what, cc->reply_code,
                (int) cc->reply_text.len, (const char *) cc->reply_text.bytes);
            return cc->reply_code == 404 ? EV_NOT_FOUND : EV_BROKER;
        }
        fv_log(FV_LOG_ERROR, "%s: the broker closed the connection", what);
        return EV_BROKER;

    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        fv_log(FV_LOG_ERROR, "%s: %s", what, amqp_error_string2(r.library_error));
        return EV_BROKER;

    default:
        fv_log(FV_LOG_ERROR, "%s: no reply", what);
        return EV_BROKER;
    }
}


/* Declares the queue (durable when named, private otherwise) and binds the patterns;
 * name receives the queue's name. */
static int
ev_declare(amqp_connection_state_t c, const ev_opts_t *o, const char *exchange, char *name,
    size_t size)
{
    amqp_queue_declare_ok_t  *ok;
    size_t                    i;
    int                       rc;

    if (o->queue != NULL) {
        ok = amqp_queue_declare(c, EV_CHANNEL, amqp_cstring_bytes(o->queue), 0, 1, 0, 0,
            amqp_empty_table);
    } else {
        ok = amqp_queue_declare(c, EV_CHANNEL, amqp_empty_bytes, 0, 0, 1, 1, amqp_empty_table);
    }

    if ((rc = ev_check(c, "declaring the queue")) != 0 || ok == NULL) {
        return rc ? rc : EV_BROKER;
    }

    (void) snprintf(name, size, "%.*s", (int) ok->queue.len, (const char *) ok->queue.bytes);

    for (i = 0; i < (o->nbinds ? o->nbinds : 1); i++) {
        (void) amqp_queue_bind(c, EV_CHANNEL, amqp_cstring_bytes(name),
            amqp_cstring_bytes(exchange), amqp_cstring_bytes(o->nbinds ? o->binds[i] : "#"),
            amqp_empty_table);

        if ((rc = ev_check(c, "binding the queue")) != 0) {
            return rc;
        }
    }

    return 0;
}


/* One line per message: the body re-serialised when it is JSON (so it is one line), as
 * is otherwise with line breaks blanked. */
static void
ev_print(const amqp_bytes_t *body)
{
    json_tokener  *tok;
    json_object   *obj = NULL;
    const char    *text;
    size_t         i;
    char           ch;

    tok = json_tokener_new();
    if (tok != NULL && body->len < INT32_MAX) {
        obj = json_tokener_parse_ex(tok, body->bytes, (int) body->len);
        if (json_tokener_get_error(tok) != json_tokener_success) {
            json_object_put(obj);
            obj = NULL;
        }
    }
    json_tokener_free(tok);

    if (obj != NULL) {
        text = json_object_to_json_string_ext(obj,
            JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        (void) fputs(text, stdout);
        json_object_put(obj);

    } else {
        for (i = 0; i < body->len; i++) {
            ch = ((const char *) body->bytes)[i];
            (void) fputc(ch == '\n' || ch == '\r' ? ' ' : ch, stdout);
        }
    }

    (void) fputc('\n', stdout);
    (void) fflush(stdout);
}


static int
ev_publish(fv_amqp_t *a, const ev_opts_t *o)
{
    json_object  *msg, *data;
    char          id[37], now[25];
    const char   *text;
    int           rc;

    data = json_tokener_parse(o->data ? o->data : "{}");
    if (data == NULL || !json_object_is_type(data, json_type_object)) {
        json_object_put(data);
        fv_log(FV_LOG_ERROR, "--data is not a JSON object");
        return EV_USAGE;
    }

    if (o->id != NULL) {
        (void) snprintf(id, sizeof(id), "%s", o->id);

    } else if (fv_uuid(id) != 0) {
        json_object_put(data);
        return EV_BROKER;
    }
    fv_time_iso(now);

    msg = json_object_new_object();
    (void) json_object_object_add(msg, "id", json_object_new_string(id));
    (void) json_object_object_add(msg, "type", json_object_new_string(o->type));
    (void) json_object_object_add(msg, "occurredAt", json_object_new_string(now));
    (void) json_object_object_add(msg, "source", json_object_new_string("flores-events"));
    (void) json_object_object_add(msg, "data", data);

    text = json_object_to_json_string_ext(msg,
        JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
    rc = fv_amqp_publish(a, o->type, id, text, strlen(text)) == 0 ? EV_OK : EV_BROKER;

    if (rc == EV_OK) {
        (void) printf("%s\n", id);
    }

    json_object_put(msg);
    return rc;
}


static double
ev_now(void)
{
    struct timeval  tv;

    (void) gettimeofday(&tv, NULL);
    return (double) tv.tv_sec + (double) tv.tv_usec / 1e6;
}


static int
ev_tail(amqp_connection_state_t c, const ev_opts_t *o, const char *exchange)
{
    amqp_envelope_t   env;
    amqp_rpc_reply_t  r;
    amqp_frame_t      frame;
    struct timeval    tv;
    char              queue[256];
    double            deadline, left;
    long              got = 0;
    int               rc;

    if ((rc = ev_declare(c, o, exchange, queue, sizeof(queue))) != 0) {
        return rc;
    }

    (void) amqp_basic_qos(c, EV_CHANNEL, 0,
        (uint16_t) (o->count > 0 && o->count < 1000 ? o->count : 1000), 0);
    if ((rc = ev_check(c, "setting the prefetch")) != 0) {
        return rc;
    }

    (void) amqp_basic_consume(c, EV_CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0,
        0, amqp_empty_table);
    if ((rc = ev_check(c, "consuming")) != 0) {
        return rc;
    }

    fv_log(FV_LOG_INFO, "listening on queue %s", queue);

    deadline = o->timeout > 0 ? ev_now() + o->timeout : 0;

    while (!ev_stop) {
        left = EV_SLICE_MS / 1000.0;

        if (deadline > 0) {
            double  rest = deadline - ev_now();

            if (rest <= 0) {
                return o->count > 0 ? EV_TIMEOUT : EV_OK;
            }
            if (rest < left) {
                left = rest;
            }
        }

        tv.tv_sec = (time_t) left;
        tv.tv_usec = (suseconds_t) ((left - (double) tv.tv_sec) * 1e6);

        amqp_maybe_release_buffers(c);
        r = amqp_consume_message(c, &env, &tv, 0);

        if (r.reply_type == AMQP_RESPONSE_NORMAL) {
            ev_print(&env.message.body);

            if (amqp_basic_ack(c, EV_CHANNEL, env.delivery_tag, 0) != AMQP_STATUS_OK) {
                amqp_destroy_envelope(&env);
                fv_log(FV_LOG_ERROR, "acknowledging a message failed");
                return EV_BROKER;
            }

            amqp_destroy_envelope(&env);

            if (o->count > 0 && ++got >= o->count) {
                return EV_OK;
            }
            continue;
        }

        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
            && r.library_error == AMQP_STATUS_TIMEOUT)
        {
            continue;
        }

        if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION
            && r.library_error == AMQP_STATUS_UNEXPECTED_STATE)
        {
            /* A method instead of a delivery: the channel or connection is closing. */
            if (amqp_simple_wait_frame(c, &frame) == AMQP_STATUS_OK
                && frame.frame_type == AMQP_FRAME_METHOD
                && frame.payload.method.id != AMQP_CHANNEL_CLOSE_METHOD
                && frame.payload.method.id != AMQP_CONNECTION_CLOSE_METHOD)
            {
                continue;
            }
        }

        fv_log(FV_LOG_ERROR, "the broker connection ended");
        return EV_BROKER;
    }

    return o->count > 0 && got < o->count ? EV_TIMEOUT : EV_OK;
}


/* ---- dead letters ---------------------------------------------------------------------- */

/* The dead queue and the consumer's queue for NAME (either of them). */
static int
ev_dead_names(const char *name, char *dead, size_t dsize, char *queue, size_t qsize)
{
    size_t  n = strlen(name);

    if (n > 5 && strcmp(name + n - 5, ".dead") == 0) {
        (void) snprintf(dead, dsize, "%s", name);
        (void) snprintf(queue, qsize, "%.*s", (int) (n - 5), name);
    } else {
        (void) snprintf(dead, dsize, "%s.dead", name);
        (void) snprintf(queue, qsize, "%s", name);
    }

    return strlen(dead) <= 255 ? 0 : -1;
}


static const amqp_field_value_t *
ev_header(const amqp_basic_properties_t *p, const char *name)
{
    size_t  n = strlen(name);
    int     i;

    if (!(p->_flags & AMQP_BASIC_HEADERS_FLAG)) {
        return NULL;
    }

    for (i = 0; i < p->headers.num_entries; i++) {
        if (p->headers.entries[i].key.len == n
            && memcmp(p->headers.entries[i].key.bytes, name, n) == 0)
        {
            return &p->headers.entries[i].value;
        }
    }

    return NULL;
}


static json_object *
ev_header_json(const amqp_basic_properties_t *p, const char *name)
{
    const amqp_field_value_t  *v = ev_header(p, name);

    if (v == NULL) {
        return NULL;
    }

    switch (v->kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES:
        return json_object_new_string_len(v->value.bytes.bytes, (int) v->value.bytes.len);
    case AMQP_FIELD_KIND_I8:   return json_object_new_int(v->value.i8);
    case AMQP_FIELD_KIND_U8:   return json_object_new_int(v->value.u8);
    case AMQP_FIELD_KIND_I16:  return json_object_new_int(v->value.i16);
    case AMQP_FIELD_KIND_U16:  return json_object_new_int(v->value.u16);
    case AMQP_FIELD_KIND_I32:  return json_object_new_int(v->value.i32);
    case AMQP_FIELD_KIND_U32:  return json_object_new_int64(v->value.u32);
    case AMQP_FIELD_KIND_I64:  return json_object_new_int64(v->value.i64);
    default:                   return NULL;
    }
}


static void
ev_dead_print(const amqp_message_t *m)
{
    const amqp_basic_properties_t  *p = &m->properties;
    json_object                    *line, *event = NULL, *v;
    json_tokener                   *tok;

    line = json_object_new_object();
    if (line == NULL) {
        return;
    }

    v = ev_header_json(p, "x-flores-reason");
    (void) json_object_object_add(line, "reason", v);
    v = ev_header_json(p, "x-flores-attempts");
    (void) json_object_object_add(line, "attempts", v ? v : json_object_new_int(0));
    (void) json_object_object_add(line, "deadAt", ev_header_json(p, "x-flores-dead-at"));
    (void) json_object_object_add(line, "routingKey",
        ev_header_json(p, "x-flores-routing-key"));
    (void) json_object_object_add(line, "consumer", ev_header_json(p, "x-flores-consumer"));

    tok = json_tokener_new();
    if (tok != NULL && m->body.len < INT32_MAX) {
        event = json_tokener_parse_ex(tok, m->body.bytes, (int) m->body.len);
        if (json_tokener_get_error(tok) != json_tokener_success
            || json_tokener_get_parse_end(tok) != m->body.len)
        {
            json_object_put(event);
            event = NULL;
        }
    }
    json_tokener_free(tok);

    if (event == NULL) {
        event = json_object_new_string_len(m->body.bytes, (int) m->body.len);
    }
    (void) json_object_object_add(line, "event", event);

    (void) puts(json_object_to_json_string_ext(line,
        JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
    (void) fflush(stdout);
    json_object_put(line);
}


/* Takes the next message of queue without acknowledging it: 1 got, 0 queue empty, or an
 * exit status above 0 wrapped as a negative number. */
static int
ev_get(amqp_connection_state_t c, const char *queue, amqp_message_t *m, uint64_t *tag)
{
    amqp_rpc_reply_t      r;
    amqp_basic_get_ok_t  *ok;
    int                   rc;

    amqp_maybe_release_buffers(c);

    r = amqp_basic_get(c, EV_CHANNEL, amqp_cstring_bytes(queue), 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        rc = ev_check(c, "getting a message");
        return -(rc ? rc : EV_BROKER);
    }

    if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD) {
        return 0;
    }

    ok = r.reply.decoded;
    *tag = ok->delivery_tag;

    r = amqp_read_message(c, EV_CHANNEL, m, 0);
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fv_log(FV_LOG_ERROR, "reading a message failed");
        return -EV_BROKER;
    }

    return 1;
}


/* Shows the first messages of the dead queue; they stay where they are: each is held
 * unacknowledged until all are shown (so that the next get finds the next one), then all
 * go back with one nack. */
static int
ev_dead_list(amqp_connection_state_t c, const ev_opts_t *o, const char *dead)
{
    amqp_message_t  m;
    uint64_t        tag = 0, last = 0;
    long            n, max = o->count > 0 ? o->count : EV_DEAD_MAX;
    int             rc = EV_OK;

    for (n = 0; n < max && !ev_stop; n++) {
        rc = ev_get(c, dead, &m, &tag);

        if (rc <= 0) {
            rc = -rc;
            break;
        }

        last = tag;
        ev_dead_print(&m);
        amqp_destroy_message(&m);
        rc = EV_OK;
    }

    if (last != 0 && amqp_basic_nack(c, EV_CHANNEL, last, 1, 1) != AMQP_STATUS_OK) {
        fv_log(FV_LOG_ERROR, "returning the messages failed (the broker requeues them when "
            "the connection closes)");
        return EV_BROKER;
    }

    return rc;
}


/* Moves dead messages back to the consumer's queue, one at a time: copy, confirm, ack.
 * Without --count, as many as the queue held at the start: a message that dies again
 * meanwhile is not replayed twice. */
static int
ev_dead_replay(fv_amqp_t *a, const ev_opts_t *o, const char *dead, const char *queue,
    long held)
{
    amqp_connection_state_t    c = fv_amqp_connection(a);
    const amqp_field_value_t  *v;
    amqp_table_entry_t         h[1];
    amqp_message_t             m;
    fv_amqp_msg_t              msg;
    uint64_t                   tag = 0;
    char                       id[128], type[256];
    long                       moved = 0;
    int                        rc = EV_OK;

    while (moved < (o->count > 0 ? o->count : held) && !ev_stop) {
        rc = ev_get(c, dead, &m, &tag);

        if (rc <= 0) {
            rc = -rc;
            break;
        }

        memset(&msg, 0, sizeof(msg));
        msg.exchange = "";
        msg.routing_key = queue;

        id[0] = '\0';
        if ((m.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
            && m.properties.message_id.len < sizeof(id))
        {
            memcpy(id, m.properties.message_id.bytes, m.properties.message_id.len);
            id[m.properties.message_id.len] = '\0';
            msg.message_id = id;
        }

        type[0] = '\0';
        if ((m.properties._flags & AMQP_BASIC_TYPE_FLAG)
            && m.properties.type.len < sizeof(type))
        {
            memcpy(type, m.properties.type.bytes, m.properties.type.len);
            type[m.properties.type.len] = '\0';
            msg.type = type;
        }

        /* A fresh count of attempts; where it first came from stays known. */
        v = ev_header(&m.properties, "x-flores-routing-key");
        if (v != NULL && v->kind == AMQP_FIELD_KIND_UTF8) {
            h[0].key = amqp_cstring_bytes("x-flores-routing-key");
            h[0].value = *v;
            msg.headers.num_entries = 1;
            msg.headers.entries = h;
        }

        if (fv_amqp_send(a, &msg, m.body.bytes, m.body.len, NULL, NULL) != 0) {
            amqp_destroy_message(&m);
            fv_log(FV_LOG_ERROR, "the copy was not confirmed: the message stays dead");
            rc = EV_BROKER;
            break;
        }

        amqp_destroy_message(&m);

        if (amqp_basic_ack(c, EV_CHANNEL, tag, 0) != AMQP_STATUS_OK) {
            /* It stays dead and is also back in the queue: handlers are idempotent. */
            fv_log(FV_LOG_ERROR, "acknowledging a replayed message failed");
            rc = EV_BROKER;
            break;
        }

        moved++;
        rc = EV_OK;
    }

    (void) printf("%ld\n", moved);
    return rc;
}


int
main(int argc, char **argv)
{
    struct sigaction          sa;
    ev_opts_t                 o;
    fv_conf_t                *conf;
    fv_amqp_t                *a;
    amqp_connection_state_t   c;
    amqp_queue_declare_ok_t  *qd;
    amqp_queue_delete_ok_t   *qx;
    const char               *exchange;
    char                      name[256], dead[300];
    long                      held;
    int                       rc;

    if (ev_parse(argc, argv, &o) != 0) {
        ev_usage(stderr);
        return EV_USAGE;
    }

    fv_log_init("events", FV_LOG_INFO);

    conf = fv_conf_open();
    if (conf == NULL) {
        return EV_USAGE;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = ev_on_signal;
    (void) sigemptyset(&sa.sa_mask);
    (void) sigaction(SIGINT, &sa, NULL);
    (void) sigaction(SIGTERM, &sa, NULL);
    (void) signal(SIGPIPE, SIG_IGN);

    exchange = fv_conf_str(conf, "FLORES_AMQP_EXCHANGE", "flores.events");

    a = fv_amqp_open(conf);
    if (a == NULL) {
        fv_conf_close(conf);
        return EV_BROKER;
    }

    c = fv_amqp_connection(a);

    if (strcmp(o.cmd, "tail") == 0) {
        rc = ev_tail(c, &o, exchange);

    } else if (strcmp(o.cmd, "declare") == 0) {
        rc = ev_declare(c, &o, exchange, name, sizeof(name));

    } else if (strcmp(o.cmd, "count") == 0) {
        qd = amqp_queue_declare(c, EV_CHANNEL, amqp_cstring_bytes(o.queue), 1, 0, 0, 0,
            amqp_empty_table);
        rc = ev_check(c, "looking up the queue");
        if (rc == 0 && qd != NULL) {
            (void) printf("%u\n", qd->message_count);
        }

    } else if (strcmp(o.cmd, "publish") == 0) {
        rc = ev_publish(a, &o);

    } else if (strcmp(o.cmd, "dead") == 0) {
        if (ev_dead_names(o.queue, dead, sizeof(dead), name, sizeof(name)) != 0) {
            fv_log(FV_LOG_ERROR, "--queue: name too long");
            rc = EV_USAGE;
        } else {
            /* Both queues must exist: a typo never creates one. */
            qd = amqp_queue_declare(c, EV_CHANNEL, amqp_cstring_bytes(dead), 1, 0, 0, 0,
                amqp_empty_table);
            rc = ev_check(c, "looking up the dead-letter queue");
            held = rc == 0 && qd != NULL ? (long) qd->message_count : 0;
            if (rc == 0) {
                (void) amqp_queue_declare(c, EV_CHANNEL, amqp_cstring_bytes(name), 1, 0, 0, 0,
                    amqp_empty_table);
                rc = ev_check(c, "looking up the consumer's queue");
            }
            if (rc == 0) {
                rc = strcmp(o.sub, "list") == 0 ? ev_dead_list(c, &o, dead)
                                                : ev_dead_replay(a, &o, dead, name, held);
            }
        }

    } else {
        qx = amqp_queue_delete(c, EV_CHANNEL, amqp_cstring_bytes(o.queue), 0, 0);
        rc = ev_check(c, "deleting the queue");
        if (rc == 0 && qx != NULL) {
            (void) printf("%u\n", qx->message_count);
        }
    }

    fv_amqp_close(a);
    fv_conf_close(conf);
    return rc;
}
