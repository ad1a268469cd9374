/* fv_amqp.c: RabbitMQ: a connection with a confirm-mode channel, the events exchange, and
 * publishing one persistent message at a time until the broker confirms it. */

#include <config.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <amqp_tcp_socket.h>

#include "fv_internal.h"


#define FV_AMQP_CHANNEL       1
#define FV_AMQP_CONNECT_MS    2000
#define FV_AMQP_DEFAULT_URL   "amqp://guest:guest@127.0.0.1:5672/"

struct fv_amqp_s {
    amqp_connection_state_t   conn;
    char                      exchange[128];
    uint64_t                  next_tag;       /* the broker numbers publishes from 1 */
    long                      timeout_ms;
    int                       broken;
};


static void
fv_amqp_why(amqp_rpc_reply_t r, char *out, size_t size)
{
    amqp_connection_close_t  *cc;
    amqp_channel_close_t     *ch;

    switch (r.reply_type) {

    case AMQP_RESPONSE_NORMAL:
        (void) snprintf(out, size, "no error");
        break;

    case AMQP_RESPONSE_NONE:
        (void) snprintf(out, size, "no reply");
        break;

    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        (void) snprintf(out, size, "%s", amqp_error_string2(r.library_error));
        break;

    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            cc = r.reply.decoded;
            (void) snprintf(out, size, "connection closed by the broker: %u %.*s",
                cc->reply_code, (int) cc->reply_text.len, (const char *) cc->reply_text.bytes);
        } else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            ch = r.reply.decoded;
            (void) snprintf(out, size, "channel closed by the broker: %u %.*s",
                ch->reply_code, (int) ch->reply_text.len, (const char *) ch->reply_text.bytes);
        } else {
            (void) snprintf(out, size, "broker error, method 0x%08x", r.reply.id);
        }
        break;
    }
}


static int
fv_amqp_check(fv_amqp_t *a, const char *what)
{
    amqp_rpc_reply_t  r;
    char              why[256];

    r = amqp_get_rpc_reply(a->conn);

    if (r.reply_type == AMQP_RESPONSE_NORMAL) {
        return 0;
    }

    fv_amqp_why(r, why, sizeof(why));
    fv_log(FV_LOG_WARN, "RabbitMQ: %s failed: %s", what, why);
    a->broken = 1;
    return -1;
}


fv_amqp_t *
fv_amqp_open(const fv_conf_t *conf)
{
    return fv_amqp_connect(conf, 0);
}


fv_amqp_t *
fv_amqp_connect(const fv_conf_t *conf, int heartbeat)
{
    struct amqp_connection_info  ci;
    struct timeval               tv, rpc;
    amqp_socket_t               *sock;
    amqp_rpc_reply_t             r;
    fv_amqp_t                   *a;
    unsigned char               *secret;
    char                        *url, why[256];
    size_t                       slen = 0, ulen = 0;
    int                          rc;

    a = calloc(1, sizeof(fv_amqp_t));
    if (a == NULL) {
        return NULL;
    }

    (void) snprintf(a->exchange, sizeof(a->exchange), "%s",
        fv_conf_str(conf, "FLORES_AMQP_EXCHANGE", "flores.events"));
    a->timeout_ms = fv_conf_long(conf, "FLORES_AMQP_TIMEOUT", 5000, 100, 600000);

    /* The URL from the environment or, when it holds a password kept out of the environment,
     * from FLORES_AMQP_URL_FILE. */
    url = (char *) fv_conf_secret(conf, "FLORES_AMQP_URL", &ulen);
    if (url == NULL && fv_conf_str(conf, "FLORES_AMQP_URL_FILE", NULL) != NULL) {
        free(a);            /* unreadable: said by fv_conf_secret(); no fallback to guest */
        return NULL;
    }
    if (url == NULL) {
        url = strdup(FV_AMQP_DEFAULT_URL);
        ulen = strlen(FV_AMQP_DEFAULT_URL);
    }
    if (url == NULL) {
        free(a);
        return NULL;
    }

    amqp_default_connection_info(&ci);

    if (amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
        /* The URL may hold a password: never log it. */
        fv_log(FV_LOG_ERROR, "FLORES_AMQP_URL is not an amqp:// URL");
        explicit_bzero(url, ulen);
        free(url);
        free(a);
        return NULL;
    }

    /* "amqp://host:port/" parses to the empty vhost; people mean the default one. */
    if (ci.vhost == NULL || ci.vhost[0] == '\0') {
        ci.vhost = "/";
    }

    /* The password may live in a file of its own (FLORES_AMQP_PASSWORD_FILE), the URL then
     * naming only the user. */
    secret = fv_conf_secret(conf, "FLORES_AMQP_PASSWORD", &slen);
    if (secret != NULL) {
        ci.password = (char *) secret;
    }

    a->conn = amqp_new_connection();
    if (a->conn == NULL) {
        if (secret != NULL) {
            explicit_bzero(secret, slen);
            free(secret);
        }
        explicit_bzero(url, ulen);
        free(url);
        free(a);
        return NULL;
    }

    sock = amqp_tcp_socket_new(a->conn);
    if (sock == NULL) {
        goto failed;
    }

    tv.tv_sec = FV_AMQP_CONNECT_MS / 1000;
    tv.tv_usec = (FV_AMQP_CONNECT_MS % 1000) * 1000;

    rc = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
    if (rc != AMQP_STATUS_OK) {
        fv_log(FV_LOG_WARN, "RabbitMQ unreachable at %s:%d: %s", ci.host, ci.port,
            amqp_error_string2(rc));
        goto failed;
    }

    rpc.tv_sec = a->timeout_ms / 1000;
    rpc.tv_usec = (a->timeout_ms % 1000) * 1000;
    (void) amqp_set_handshake_timeout(a->conn, &tv);
    (void) amqp_set_rpc_timeout(a->conn, &rpc);

    /* No heartbeats for publishers: librabbitmq only sends them from inside its calls, and
     * the relay may sit idle far longer than any heartbeat interval.  A dead connection is
     * found by the next publish, which then reconnects.  Consumers, which call into the
     * library at least every second, ask for them. */
    r = amqp_login(a->conn, ci.vhost, 0, 131072, heartbeat, AMQP_SASL_METHOD_PLAIN, ci.user,
        ci.password);
    if (secret != NULL) {
        explicit_bzero(secret, slen);
        free(secret);
        secret = NULL;
    }
    if (r.reply_type != AMQP_RESPONSE_NORMAL) {
        fv_amqp_why(r, why, sizeof(why));
        fv_log(FV_LOG_WARN, "RabbitMQ login failed: %s", why);
        goto failed;
    }

    (void) amqp_channel_open(a->conn, FV_AMQP_CHANNEL);
    if (fv_amqp_check(a, "opening a channel") != 0) {
        goto failed;
    }

    (void) amqp_confirm_select(a->conn, FV_AMQP_CHANNEL);
    if (fv_amqp_check(a, "confirm.select") != 0) {
        goto failed;
    }

    /* Passively: the exchange is the deployment's (declared when the broker is provisioned),
     * and a service's user may not configure it. */
    (void) amqp_exchange_declare(a->conn, FV_AMQP_CHANNEL, amqp_cstring_bytes(a->exchange),
        amqp_cstring_bytes("topic"), 1, 1, 0, 0, amqp_empty_table);
    if (fv_amqp_check(a, "looking up the exchange") != 0) {
        goto failed;
    }

    explicit_bzero(url, ulen);
    free(url);
    return a;

failed:

    /* Nothing worth a polite close handshake was opened. */
    if (secret != NULL) {
        explicit_bzero(secret, slen);
        free(secret);
    }
    a->broken = 1;
    explicit_bzero(url, ulen);
    free(url);
    fv_amqp_close(a);
    return NULL;
}


void
fv_amqp_close(fv_amqp_t *a)
{
    if (a == NULL) {
        return;
    }

    if (a->conn != NULL) {
        if (!a->broken) {
            (void) amqp_channel_close(a->conn, FV_AMQP_CHANNEL, AMQP_REPLY_SUCCESS);
            (void) amqp_connection_close(a->conn, AMQP_REPLY_SUCCESS);
        }
        (void) amqp_destroy_connection(a->conn);
    }

    free(a);
}


void *
fv_amqp_connection(fv_amqp_t *a)
{
    return a->conn;
}


static long
fv_amqp_remaining(const struct timeval *deadline, struct timeval *tv)
{
    struct timeval  now;
    long            ms;

    (void) gettimeofday(&now, NULL);
    ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_usec - now.tv_usec) / 1000;

    if (ms < 0) {
        ms = 0;
    }

    tv->tv_sec = ms / 1000;
    tv->tv_usec = (ms % 1000) * 1000;
    return ms;
}


/* Waits for the broker's answer to publish number tag: 0 confirmed, -1 otherwise. */
static int
fv_amqp_confirm(fv_amqp_t *a, uint64_t tag, const char *what, fv_amqp_frame_pt other,
    void *ctx)
{
    amqp_frame_t             frame;
    amqp_basic_ack_t        *ack;
    amqp_basic_nack_t       *nack;
    amqp_channel_close_t    *cc;
    struct timeval           deadline, tv;
    int                      rc;

    (void) gettimeofday(&deadline, NULL);
    deadline.tv_sec += a->timeout_ms / 1000;
    deadline.tv_usec += (a->timeout_ms % 1000) * 1000;
    if (deadline.tv_usec >= 1000000) {
        deadline.tv_sec++;
        deadline.tv_usec -= 1000000;
    }

    for ( ;; ) {
        (void) fv_amqp_remaining(&deadline, &tv);

        rc = amqp_simple_wait_frame_noblock(a->conn, &frame, &tv);

        if (rc != AMQP_STATUS_OK) {
            fv_log(FV_LOG_WARN, "RabbitMQ: no confirm for \"%s\": %s", what,
                rc == AMQP_STATUS_TIMEOUT ? "timed out" : amqp_error_string2(rc));
            a->broken = 1;
            return -1;
        }

        if (frame.channel != FV_AMQP_CHANNEL && frame.channel != 0) {
            if (other != NULL && other(ctx, &frame) != 0) {
                a->broken = 1;
                return -1;
            }
            continue;
        }

        if (frame.frame_type != AMQP_FRAME_METHOD) {
            continue;
        }

        switch (frame.payload.method.id) {

        case AMQP_BASIC_ACK_METHOD:
            ack = frame.payload.method.decoded;
            if (ack->delivery_tag == tag || (ack->multiple && ack->delivery_tag >= tag)) {
                return 0;
            }
            break;

        case AMQP_BASIC_NACK_METHOD:
            nack = frame.payload.method.decoded;
            if (nack->delivery_tag == tag || (nack->multiple && nack->delivery_tag >= tag)) {
                fv_log(FV_LOG_WARN, "RabbitMQ refused \"%s\" (nack)", what);
                a->broken = 1;
                return -1;
            }
            break;

        case AMQP_BASIC_RETURN_METHOD:
            /* Only mandatory publishes come back, and ours are not; skip its content. */
            break;

        case AMQP_CHANNEL_CLOSE_METHOD:
            cc = frame.payload.method.decoded;
            fv_log(FV_LOG_WARN, "RabbitMQ closed the channel: %u %.*s", cc->reply_code,
                (int) cc->reply_text.len, (const char *) cc->reply_text.bytes);
            a->broken = 1;
            return -1;

        case AMQP_CONNECTION_CLOSE_METHOD:
            fv_log(FV_LOG_WARN, "RabbitMQ closed the connection");
            a->broken = 1;
            return -1;

        default:
            break;
        }
    }
}


int
fv_amqp_send(fv_amqp_t *a, const fv_amqp_msg_t *m, const void *body, size_t len,
    fv_amqp_frame_pt other, void *ctx)
{
    amqp_basic_properties_t  props;
    amqp_bytes_t             b;
    uint64_t                 tag;
    int                      rc;

    if (a == NULL || a->broken) {
        return -1;
    }

    memset(&props, 0, sizeof(props));
    props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.content_type = amqp_cstring_bytes("application/json");
    props.delivery_mode = AMQP_DELIVERY_PERSISTENT;

    if (m->message_id != NULL) {
        props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
        props.message_id = amqp_cstring_bytes(m->message_id);
    }
    if (m->type != NULL) {
        props._flags |= AMQP_BASIC_TYPE_FLAG;
        props.type = amqp_cstring_bytes(m->type);
    }
    if (m->expiration != NULL) {
        props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
        props.expiration = amqp_cstring_bytes(m->expiration);
    }
    if (m->headers.num_entries > 0) {
        props._flags |= AMQP_BASIC_HEADERS_FLAG;
        props.headers = m->headers;
    }

    b.bytes = (void *) body;
    b.len = len;

    rc = amqp_basic_publish(a->conn, FV_AMQP_CHANNEL,
        amqp_cstring_bytes(m->exchange != NULL ? m->exchange : a->exchange),
        amqp_cstring_bytes(m->routing_key), 0, 0, &props, b);

    if (rc != AMQP_STATUS_OK) {
        fv_log(FV_LOG_WARN, "RabbitMQ: publishing failed: %s", amqp_error_string2(rc));
        a->broken = 1;
        return -1;
    }

    tag = ++a->next_tag;

    return fv_amqp_confirm(a, tag, m->routing_key, other, ctx);
}


int
fv_amqp_publish(fv_amqp_t *a, const char *routing_key, const char *message_id,
    const char *body, size_t len)
{
    fv_amqp_msg_t  m;
    int            rc;

    memset(&m, 0, sizeof(m));
    m.routing_key = routing_key;
    m.message_id = message_id;
    m.type = routing_key;

    rc = fv_amqp_send(a, &m, body, len, NULL, NULL);

    if (rc == 0) {
        amqp_maybe_release_buffers(a->conn);
    }

    return rc;
}


int
fv_amqp_broken(const fv_amqp_t *a)
{
    return a == NULL || a->broken;
}


int
fv_amqp_conf_ok(const fv_conf_t *conf)
{
    const char  *url, *file;

    url = fv_conf_str(conf, "FLORES_AMQP_URL", NULL);
    file = fv_conf_str(conf, "FLORES_AMQP_URL_FILE", NULL);

    return (url != NULL && *url != '\0') || (file != NULL && *file != '\0');
}


void
fv_amqp_set_broken(fv_amqp_t *a)
{
    a->broken = 1;
}


int
fv_amqp_rpc_ok(fv_amqp_t *a, const char *what)
{
    return fv_amqp_check(a, what) == 0;
}


/* Nothing should arrive on an idle publishing connection: when something has (the broker's
 * connection.close before a restart, or the end of the stream), the connection is over. */
int
fv_amqp_idle_ok(fv_amqp_t *a)
{
    struct pollfd  pfd;

    if (a == NULL || a->broken) {
        return 0;
    }

    if (amqp_frames_enqueued(a->conn) || amqp_data_in_buffer(a->conn)) {
        a->broken = 1;
        return 0;
    }

    pfd.fd = amqp_get_sockfd(a->conn);
    pfd.events = POLLIN;
    pfd.revents = 0;

    if (pfd.fd < 0 || poll(&pfd, 1, 0) != 0) {
        a->broken = 1;
        return 0;
    }

    return 1;
}


const char *
fv_amqp_exchange(const fv_amqp_t *a)
{
    return a->exchange;
}
