/* fv_redis.c: Redis: one lazily opened connection per worker, dropped after a failure and
 * reopened by the next call, with timeouts short enough that an outage is a prompt 503. */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "fv_internal.h"
#include "fv_redis.h"


#define FV_REDIS_STORE          "redis"
#define FV_REDIS_TIMEOUT_DEF    1000
#define FV_REDIS_TIMEOUT_MIN    50
#define FV_REDIS_TIMEOUT_MAX    1000
#define FV_REDIS_HOST_MAX       256
#define FV_REDIS_USER_MAX       128
#define FV_REDIS_PASS_MAX       256


typedef struct {
    char                  host[FV_REDIS_HOST_MAX];
    char                  user[FV_REDIS_USER_MAX];        /* empty: none */
    char                  password[FV_REDIS_PASS_MAX];    /* empty: none in the URL */
    int                   port;
    long                  db;
} fv_redis_url_t;


/* The "user[:password]@" part of a URL (up to at, excluded), taken literally: no
 * percent-decoding, so a password must not hold ':', '@' or '/'. */
static int
fv_redis_userinfo(const char *s, const char *at, fv_redis_url_t *u)
{
    const char  *colon;
    size_t       n;

    colon = memchr(s, ':', (size_t) (at - s));
    n = (size_t) ((colon != NULL ? colon : at) - s);
    if (n == 0 || n >= sizeof(u->user)) {
        return -1;
    }
    memcpy(u->user, s, n);
    u->user[n] = '\0';

    if (colon != NULL) {
        n = (size_t) (at - colon - 1);
        if (n == 0 || n >= sizeof(u->password)) {
            return -1;
        }
        memcpy(u->password, colon + 1, n);
        u->password[n] = '\0';
    }

    return 0;
}


/* redis://[user[:password]@]host[:port][/db]; nothing else (no query).  The password, when
 * not in the URL, comes from FLORES_REDIS_PASSWORD[_FILE]; the URL itself may come from
 * FLORES_REDIS_URL_FILE. */
static int
fv_redis_url_parse(const char *url, fv_redis_url_t *u)
{
    const char  *p, *host, *end, *at;
    char        *e;
    size_t       n;
    long         v;

    memset(u, 0, sizeof(fv_redis_url_t));

    if (url == NULL || strncmp(url, "redis://", 8) != 0) {
        return -1;
    }

    host = url + 8;
    end = host + strcspn(host, "/?#");
    at = NULL;
    for (p = host; p < end; p++) {
        if (*p == '@') {
            at = p;
        }
    }
    if (at != NULL) {
        if (fv_redis_userinfo(host, at, u) != 0) {
            return -1;
        }
        host = at + 1;
    }

    for (p = host; *p != '\0' && *p != ':' && *p != '/'; p++) {
        if (*p == '@' || *p == '?' || *p == '#') {
            return -1;
        }
    }

    n = (size_t) (p - host);
    if (n == 0 || n >= sizeof(u->host)) {
        return -1;
    }

    memcpy(u->host, host, n);
    u->host[n] = '\0';
    u->port = 6379;
    u->db = 0;

    if (*p == ':') {
        errno = 0;
        v = strtol(p + 1, &e, 10);
        if (e == p + 1 || errno != 0 || v < 1 || v > 65535 || (*e != '\0' && *e != '/')) {
            return -1;
        }
        u->port = (int) v;
        p = e;
    }

    if (*p == '/') {
        end = p + 1;
        if (*end != '\0') {
            errno = 0;
            v = strtol(end, &e, 10);
            if (e == end || errno != 0 || v < 0 || v > 1000000 || *e != '\0') {
                return -1;
            }
            u->db = v;
        }
        p = end + strlen(end);
    }

    return *p == '\0' ? 0 : -1;
}


/* FLORES_REDIS_URL, or the contents of FLORES_REDIS_URL_FILE (a URL that holds a password
 * kept out of the environment), parsed into u: 0, or -1. */
static int
fv_redis_url_get(const fv_conf_t *conf, fv_redis_url_t *u)
{
    unsigned char  *url;
    size_t          len;
    int             rc;

    url = fv_conf_secret(conf, "FLORES_REDIS_URL", &len);
    if (url == NULL) {
        memset(u, 0, sizeof(fv_redis_url_t));
        return -1;
    }

    rc = fv_redis_url_parse((const char *) url, u);
    explicit_bzero(url, len);
    free(url);
    return rc;
}


int
fv_redis_conf_ok(const fv_conf_t *conf)
{
    fv_redis_url_t  u;
    int             ok;

    ok = fv_redis_url_get(conf, &u) == 0;
    explicit_bzero(&u, sizeof(u));
    return ok;
}


static void
fv_redis_failed(fv_worker_t *w, const char *what, const char *why)
{
    fv_log(FV_LOG_WARN, "redis %s: %s", what, why);
    fv_metrics_store_error(w->server, FV_REDIS_STORE);
    w->redis_broken = 1;
}


/* Between commands nothing is due from the server: a readable socket means it closed the
 * connection (or sent something unasked), and the connection is not to be used. */
static int
fv_redis_idle_ok(redisContext *c)
{
    struct pollfd  pfd;
    int            n;

    pfd.fd = c->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;

    do {
        n = poll(&pfd, 1, 0);
    } while (n < 0 && errno == EINTR);

    return n == 0;
}


/* AUTH [user] password, when the URL names a user or a password is configured: the password
 * from the URL, else FLORES_REDIS_PASSWORD[_FILE].  Never logged. */
static int
fv_redis_auth(fv_worker_t *w, redisContext *c, const fv_redis_url_t *u)
{
    const fv_conf_t  *conf = w->server->conf;
    unsigned char    *secret = NULL;
    const char       *pass;
    redisReply       *reply;
    size_t            len = 0;
    int               rc = 0;

    pass = u->password;
    if (pass[0] == '\0') {
        secret = fv_conf_secret(conf, "FLORES_REDIS_PASSWORD", &len);
        if (secret == NULL) {
            if (u->user[0] != '\0') {
                fv_redis_failed(w, "auth", "a user but no password (FLORES_REDIS_PASSWORD_FILE)");
                return -1;
            }
            return 0;
        }
        pass = (const char *) secret;
    }

    if (u->user[0] != '\0') {
        reply = redisCommand(c, "AUTH %s %b", u->user, pass, strlen(pass));
    } else {
        reply = redisCommand(c, "AUTH %b", pass, strlen(pass));
    }

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        /* The server's text (WRONGPASS ...) does not repeat the password. */
        fv_redis_failed(w, "auth", reply != NULL ? reply->str : c->errstr);
        rc = -1;
    }

    if (reply != NULL) {
        freeReplyObject(reply);
    }

    if (secret != NULL) {
        explicit_bzero(secret, len);
        free(secret);
    }

    return rc;
}


static redisContext *
fv_redis_context(fv_worker_t *w)
{
    const fv_conf_t  *conf = w->server->conf;
    fv_redis_url_t    u;
    struct timeval    tv;
    redisContext     *c;
    redisReply       *reply;
    long              ms;

    if (w->redis_broken) {
        return NULL;
    }

    if (w->redis != NULL) {
        if (fv_redis_idle_ok(w->redis)) {
            return w->redis;
        }

        /* Closed by the server while the worker was idle (a restart): a new one. */
        fv_log(FV_LOG_INFO, "redis: the connection was closed by the server; reconnecting");
        redisFree(w->redis);
        w->redis = NULL;
    }

    if (fv_redis_url_get(conf, &u) != 0) {
        fv_log(FV_LOG_ERROR, "FLORES_REDIS_URL is not a redis://[user@]host:port/db URL");
        w->redis_broken = 1;
        return NULL;
    }

    ms = fv_conf_long(conf, "FLORES_REDIS_TIMEOUT", FV_REDIS_TIMEOUT_DEF,
                      FV_REDIS_TIMEOUT_MIN, FV_REDIS_TIMEOUT_MAX);
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;

    c = redisConnectWithTimeout(u.host, u.port, tv);
    if (c == NULL) {
        fv_redis_failed(w, "connect", "out of memory");
        return NULL;
    }

    if (c->err) {
        fv_redis_failed(w, "connect", c->errstr);
        redisFree(c);
        return NULL;
    }

    if (redisSetTimeout(c, tv) != REDIS_OK) {
        fv_redis_failed(w, "connect", "cannot set the command timeout");
        redisFree(c);
        return NULL;
    }

    if (fv_redis_auth(w, c, &u) != 0) {
        explicit_bzero(&u, sizeof(u));
        redisFree(c);
        return NULL;
    }
    explicit_bzero(&u, sizeof(u));

    if (u.db != 0) {
        reply = redisCommand(c, "SELECT %ld", u.db);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            fv_redis_failed(w, "select", reply != NULL ? reply->str : c->errstr);
            if (reply != NULL) {
                freeReplyObject(reply);
            }
            redisFree(c);
            return NULL;
        }
        freeReplyObject(reply);
    }

    w->redis = c;
    return c;
}


/* A server error that says the store cannot serve now, rather than that the command was
 * wrong: the request is answered 503. */
static int
fv_redis_unavailable(const redisReply *reply)
{
    static const char *const  codes[] = { "LOADING", "BUSY", "MASTERDOWN", "MISCONF",
                                          "TRYAGAIN", "CLUSTERDOWN", NULL };
    size_t  i, n;

    if (reply->type != REDIS_REPLY_ERROR || reply->str == NULL) {
        return 0;
    }

    for (i = 0; codes[i] != NULL; i++) {
        n = strlen(codes[i]);
        if (strncmp(reply->str, codes[i], n) == 0
            && (reply->str[n] == ' ' || reply->str[n] == '\0'))
        {
            return 1;
        }
    }

    return 0;
}


static redisReply *
fv_redis_reply(fv_worker_t *w, redisContext *c, void *r)
{
    redisReply  *reply = r;

    if (reply == NULL) {
        fv_redis_failed(w, "command", c->err ? c->errstr : "no reply");
        return NULL;
    }

    if (fv_redis_unavailable(reply)) {
        fv_redis_failed(w, "command", reply->str);
        freeReplyObject(reply);
        return NULL;
    }

    return reply;
}


redisReply *
fv_redis_command(fv_worker_t *w, const char *fmt, ...)
{
    redisContext  *c;
    va_list        ap;
    void          *r;

    c = fv_redis_context(w);
    if (c == NULL) {
        return NULL;
    }

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);

    return fv_redis_reply(w, c, r);
}


redisReply *
fv_redis_argv(fv_worker_t *w, int argc, const char **argv, const size_t *lens)
{
    redisContext  *c;

    c = fv_redis_context(w);
    if (c == NULL) {
        return NULL;
    }

    return fv_redis_reply(w, c, redisCommandArgv(c, argc, argv, lens));
}


int
fv_redis_integer(const redisReply *reply, const char *what, long long *value)
{
    if (reply->type == REDIS_REPLY_INTEGER) {
        *value = reply->integer;
        return FV_OK;
    }

    fv_log(FV_LOG_ERROR, "redis %s: %s", what,
           reply->type == REDIS_REPLY_ERROR && reply->str != NULL ? reply->str
                                                                  : "not an integer reply");
    return FV_ERROR;
}


void
fv_redis_close(fv_worker_t *w)
{
    if (w->redis != NULL) {
        redisFree(w->redis);
        w->redis = NULL;
    }

    w->redis_broken = 0;
}


void
fv_redis_request_end(fv_worker_t *w)
{
    if (w->redis_broken) {
        fv_redis_close(w);
    }
}


int
fv_redis_ping(fv_worker_t *w)
{
    redisReply  *reply;
    int          ok;

    reply = fv_redis_command(w, "PING");
    if (reply == NULL) {
        fv_redis_close(w);
        return 0;
    }

    ok = reply->type == REDIS_REPLY_STATUS && reply->str != NULL
         && strcmp(reply->str, "PONG") == 0;
    freeReplyObject(reply);

    if (!ok) {
        fv_redis_close(w);
    }

    return ok;
}
