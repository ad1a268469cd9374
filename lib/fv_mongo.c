/* fv_mongo.c: MongoDB: one lazily opened client per worker, dropped after a network failure
 * and reopened on next use, with timeouts short enough that an outage is a prompt 503. */

#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "fv_internal.h"
#include "fv_mongo.h"


#define FV_MONGO_STORE            "mongodb"
#define FV_MONGO_TIMEOUT_DEF      800
#define FV_MONGO_TIMEOUT_MAX      1000
#define FV_MONGO_SOCKET_DEF       5000
#define FV_MONGO_DB_DEFAULT       "flores"


static pthread_once_t  fv_mongo_once = PTHREAD_ONCE_INIT;
static atomic_int      fv_mongo_started;    /* mongoc_init() ran: cleanup is due at exit */


/* The driver's own log lines become ours (it would print plain text on stderr). */
static void
fv_mongo_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    (void) data;

    switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
        fv_log(FV_LOG_ERROR, "mongo-c-driver %s: %s", domain, message);
        break;
    case MONGOC_LOG_LEVEL_WARNING:
        fv_log(FV_LOG_WARN, "mongo-c-driver %s: %s", domain, message);
        break;
    default:
        /* message, info, debug, trace: too chatty for the service's log */
        break;
    }
}


static void
fv_mongo_init_once(void)
{
    mongoc_log_set_handler(fv_mongo_log, NULL);
    mongoc_init();
    atomic_store(&fv_mongo_started, 1);
}


void
fv_mongo_init(void)
{
    (void) pthread_once(&fv_mongo_once, fv_mongo_init_once);
}


void
fv_mongo_cleanup(void)
{
    if (atomic_exchange(&fv_mongo_started, 0)) {
        mongoc_cleanup();
    }
}


const char *
fv_mongo_database(mongoc_client_t *client, const fv_conf_t *conf)
{
    const char  *db;

    db = fv_conf_str(conf, "FLORES_MONGO_DB", NULL);

    if (db == NULL || *db == '\0') {
        db = mongoc_uri_get_database(mongoc_client_get_uri(client));
    }

    return db != NULL && *db != '\0' ? db : FV_MONGO_DB_DEFAULT;
}


mongoc_client_t *
fv_mongo_connect(const fv_conf_t *conf)
{
    const char       *url;
    mongoc_uri_t     *uri;
    mongoc_client_t  *client;
    bson_error_t      error;
    int32_t           timeout, socket_timeout;

    fv_mongo_init();

    url = fv_conf_str(conf, "FLORES_MONGO_URL", NULL);
    if (url == NULL || *url == '\0') {
        fv_log(FV_LOG_ERROR, "FLORES_MONGO_URL is not set");
        return NULL;
    }

    uri = mongoc_uri_new_with_error(url, &error);
    if (uri == NULL) {
        /* The message may quote the URL, which may hold a password: not logged. */
        fv_log(FV_LOG_ERROR, "FLORES_MONGO_URL is not a valid MongoDB URL");
        return NULL;
    }

    timeout = (int32_t) fv_conf_long(conf, "FLORES_MONGO_TIMEOUT", FV_MONGO_TIMEOUT_DEF, 50,
        FV_MONGO_TIMEOUT_MAX);
    socket_timeout = (int32_t) fv_conf_long(conf, "FLORES_MONGO_SOCKET_TIMEOUT",
        FV_MONGO_SOCKET_DEF, 100, 600000);

    /* One attempt per operation, bounded: a server that is down is a fast failure. */
    if (!mongoc_uri_set_option_as_int32(uri, MONGOC_URI_CONNECTTIMEOUTMS, timeout)
        || !mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, timeout)
        || !mongoc_uri_set_option_as_int32(uri, MONGOC_URI_SOCKETTIMEOUTMS, socket_timeout)
        || !mongoc_uri_set_option_as_bool(uri, MONGOC_URI_SERVERSELECTIONTRYONCE, true))
    {
        fv_log(FV_LOG_ERROR, "cannot set the MongoDB timeouts");
        mongoc_uri_destroy(uri);
        return NULL;
    }

    client = mongoc_client_new_from_uri_with_error(uri, &error);
    mongoc_uri_destroy(uri);

    if (client == NULL) {
        fv_log(FV_LOG_ERROR, "cannot create a MongoDB client: %s", error.message);
        return NULL;
    }

    (void) mongoc_client_set_error_api(client, MONGOC_ERROR_API_VERSION_2);

    return client;
}


mongoc_client_t *
fv_mongo_client(fv_worker_t *w)
{
    char  appname[64];

    /* Failed earlier in this request: not used again before it is closed. */
    if (w->mongo_broken) {
        return NULL;
    }

    if (w->mongo == NULL) {
        w->mongo = fv_mongo_connect(w->server->conf);

        if (w->mongo == NULL) {
            fv_metrics_store_error(w->server, FV_MONGO_STORE);
            return NULL;
        }

        (void) snprintf(appname, sizeof(appname), "flores-%s", w->server->svc->name);
        (void) mongoc_client_set_appname(w->mongo, appname);
    }

    return w->mongo;
}


mongoc_collection_t *
fv_mongo_collection(fv_worker_t *w, const char *name)
{
    mongoc_client_t  *client;

    client = fv_mongo_client(w);
    if (client == NULL) {
        return NULL;
    }

    return mongoc_client_get_collection(client, fv_mongo_database(client, w->server->conf),
        name);
}


void
fv_mongo_close(fv_worker_t *w)
{
    if (w->mongo != NULL) {
        mongoc_client_destroy(w->mongo);
        w->mongo = NULL;
    }

    w->mongo_broken = 0;
}


void
fv_mongo_request_end(fv_worker_t *w)
{
    if (w->mongo_broken) {
        fv_mongo_close(w);
    }
}


int
fv_mongo_duplicate(const bson_error_t *error)
{
    return error->code == 11000 || error->code == 11001 || error->code == 12582;
}


/* Errors after which the client cannot be trusted: no server, a broken or timed-out
 * connection, a server going away (shutdown, step-down).  The client is closed at the end
 * of the request, once the caller has destroyed what it holds of it (collections,
 * cursors); until then the worker makes no other call with it. */
static int
fv_mongo_unreachable(const bson_error_t *error)
{
    switch (error->domain) {
    case MONGOC_ERROR_STREAM:
    case MONGOC_ERROR_SERVER_SELECTION:
    case MONGOC_ERROR_PROTOCOL:
        return 1;
    default:
        break;
    }

    switch (error->code) {
    case 91:        /* ShutdownInProgress */
    case 189:       /* PrimarySteppedDown */
    case 10107:     /* NotWritablePrimary */
    case 11600:     /* InterruptedAtShutdown */
    case 11602:     /* InterruptedDueToReplStateChange */
    case 13435:     /* NotPrimaryNoSecondaryOk */
    case 13436:     /* NotPrimaryOrSecondary */
        return 1;
    default:
        break;
    }

    return 0;
}


int
fv_mongo_failed(fv_worker_t *w, const bson_error_t *error, const char *what)
{
    if (fv_mongo_unreachable(error)) {
        fv_log(FV_LOG_WARN, "MongoDB unreachable (%s): %s", what ? what : "?", error->message);
        w->mongo_broken = 1;
        fv_metrics_store_error(w->server, FV_MONGO_STORE);
        return FV_STORE_DOWN;
    }

    fv_log(FV_LOG_ERROR, "MongoDB %s failed: %s (%u.%u)", what ? what : "call", error->message,
        error->domain, error->code);
    return FV_ERROR;
}


int
fv_mongo_ping(fv_worker_t *w)
{
    mongoc_client_t  *client;
    bson_t           *cmd;
    bson_error_t      error;
    bool              ok;

    client = fv_mongo_client(w);
    if (client == NULL) {
        return 0;
    }

    cmd = BCON_NEW("ping", BCON_INT32(1));
    ok = mongoc_client_command_simple(client, "admin", cmd, NULL, NULL, &error);
    bson_destroy(cmd);

    if (!ok) {
        (void) fv_mongo_failed(w, &error, "ping");
        return 0;
    }

    return 1;
}
