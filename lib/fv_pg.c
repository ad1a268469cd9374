/* fv_pg.c: PostgreSQL: one lazily opened connection per worker, reopened after a failure,
 * and no transaction ever left open between requests. */

#include <config.h>

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


#define FV_PG_STORE   "postgres"


int
fv_pg_schema_ok(const char *schema)
{
    size_t  i;

    if (schema == NULL || !((schema[0] >= 'a' && schema[0] <= 'z') || schema[0] == '_')) {
        return 0;
    }

    for (i = 1; schema[i]; i++) {
        if (i > 62 || !((schema[i] >= 'a' && schema[i] <= 'z')
                        || (schema[i] >= '0' && schema[i] <= '9') || schema[i] == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* libpq's messages end with a newline and may span lines: keep the first line. */
static void
fv_pg_reason(const char *msg, char *out, size_t size)
{
    size_t  n;

    if (msg == NULL) {
        msg = "";
    }

    n = strcspn(msg, "\n");
    if (n >= size) {
        n = size - 1;
    }

    memcpy(out, msg, n);
    out[n] = '\0';
}


/* libpq prints notices on stderr by default; here they become log lines. */
static void
fv_pg_notice(void *arg, const char *message)
{
    char  line[256];

    (void) arg;
    fv_pg_reason(message, line, sizeof(line));
    fv_log(strncmp(line, "WARNING", 7) == 0 ? FV_LOG_WARN : FV_LOG_DEBUG, "PostgreSQL: %s",
        line);
}


static PGconn *
fv_pg_open(const fv_conf_t *conf, const char *schema, const char *app)
{
    const char     *keys[16], *vals[16];
    const char     *url;
    char            options[160], timeout[24], appname[64], reason[256];
    unsigned char  *password;
    size_t          plen, n = 0;
    long            stmt;
    PGconn         *conn;

    url = fv_conf_str(conf, "FLORES_PG_URL", NULL);
    if (url == NULL) {
        fv_log(FV_LOG_ERROR, "FLORES_PG_URL is not set");
        return NULL;
    }

    if (!fv_pg_schema_ok(schema)) {
        fv_log(FV_LOG_ERROR, "schema \"%s\" is not a plain lower-case identifier",
            schema ? schema : "(null)");
        return NULL;
    }

    stmt = fv_conf_long(conf, "FLORES_PG_STATEMENT_TIMEOUT", 5000, 0, 3600000);
    (void) snprintf(options, sizeof(options), "-c search_path=%s -c statement_timeout=%ld",
        schema, stmt);
    (void) snprintf(timeout, sizeof(timeout), "%d", 2);
    (void) snprintf(appname, sizeof(appname), "flores-%s", app);

    password = fv_conf_secret(conf, "FLORES_PG_PASSWORD", &plen);

    /* dbname first: the URL is expanded there, and what follows overrides it. */
    keys[n] = "dbname";               vals[n++] = url;
    keys[n] = "connect_timeout";      vals[n++] = timeout;
    keys[n] = "options";              vals[n++] = options;
    keys[n] = "application_name";     vals[n++] = appname;
    keys[n] = "keepalives";           vals[n++] = "1";
    keys[n] = "keepalives_idle";      vals[n++] = "30";
    keys[n] = "keepalives_interval";  vals[n++] = "10";
    keys[n] = "keepalives_count";     vals[n++] = "3";
    keys[n] = "client_encoding";      vals[n++] = "UTF8";
    if (password != NULL) {
        keys[n] = "password";         vals[n++] = (const char *) password;
    }
    keys[n] = NULL;
    vals[n] = NULL;

    conn = PQconnectdbParams(keys, vals, 1);

    if (password != NULL) {
        explicit_bzero(password, plen);
        free(password);
    }

    if (conn == NULL) {
        fv_log(FV_LOG_ERROR, "PostgreSQL: out of memory");
        return NULL;
    }

    if (PQstatus(conn) != CONNECTION_OK) {
        fv_pg_reason(PQerrorMessage(conn), reason, sizeof(reason));
        fv_log(FV_LOG_WARN, "PostgreSQL unreachable: %s", reason);
        PQfinish(conn);
        return NULL;
    }

    (void) PQsetNoticeProcessor(conn, fv_pg_notice, NULL);
    return conn;
}


PGconn *
fv_pg_connect(const fv_conf_t *conf, const char *schema)
{
    if (schema == NULL) {
        schema = fv_conf_str(conf, "FLORES_PG_SCHEMA", NULL);
    }

    return fv_pg_open(conf, schema, schema ? schema : "tool");
}


void
fv_pg_close(fv_worker_t *w)
{
    if (w->pg != NULL) {
        PQfinish(w->pg);
        w->pg = NULL;
    }
}


static void
fv_pg_broken(fv_worker_t *w)
{
    fv_pg_close(w);
    fv_metrics_store_error(w->server, FV_PG_STORE);

    if (w->pg_in_tx) {
        /* Until the caller ends its transaction, nothing else may run in autocommit on a
         * fresh connection as if it belonged to that transaction. */
        w->pg_tx_broken = 1;
    }
}


/* An idle connection has nothing to read.  When it has, the server sent something on its
 * own: usually a FATAL error (shutdown, pg_terminate_backend) followed by end of file,
 * which libpq only notices on a read after the one that took the message. */
static int
fv_pg_dead(PGconn *conn)
{
    struct pollfd  pfd;
    int            i;

    for (i = 0; i < 4; i++) {
        pfd.fd = PQsocket(conn);
        pfd.events = POLLIN;
        pfd.revents = 0;

        if (pfd.fd < 0) {
            return 1;
        }

        if (poll(&pfd, 1, 0) <= 0) {
            return 0;
        }

        if (PQconsumeInput(conn) == 0 || PQstatus(conn) != CONNECTION_OK) {
            return 1;
        }
    }

    return 0;
}


/* The worker's connection, opened now if needed; a connection the server closed while it
 * was idle (restart, administrator) is noticed here rather than by the next query. */
static PGconn *
fv_pg_get(fv_worker_t *w)
{
    fv_server_t  *s = w->server;
    PGnotify     *nt;

    if (w->pg_tx_broken) {
        return NULL;
    }

    if (w->pg != NULL && PQtransactionStatus(w->pg) == PQTRANS_IDLE && fv_pg_dead(w->pg)) {
        fv_log(FV_LOG_INFO, "PostgreSQL closed the connection of worker %u; reconnecting",
            w->id);
        fv_pg_close(w);
    }

    while (w->pg != NULL && (nt = PQnotifies(w->pg)) != NULL) {
        PQfreemem(nt);
    }

    if (w->pg == NULL) {
        w->pg = fv_pg_open(s->conf, s->schema, s->svc->name);

        if (w->pg == NULL) {
            fv_metrics_store_error(s, FV_PG_STORE);
        }
    }

    return w->pg;
}


/* Errors after which the connection cannot be trusted: connection exceptions (class 08)
 * and the server shutting down or refusing connections (57P01..57P03). */
static int
fv_pg_fatal_state(const PGresult *res)
{
    const char  *st;

    st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return st != NULL && (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0
                          || strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0);
}


PGresult *
fv_pg_exec(fv_worker_t *w, const char *sql, int nparams, const char *const *params)
{
    PGconn      *conn;
    PGresult    *res;
    char         reason[256];

    conn = fv_pg_get(w);
    if (conn == NULL) {
        return NULL;
    }

    res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

    if (res == NULL || PQstatus(conn) != CONNECTION_OK
        || (PQresultStatus(res) == PGRES_FATAL_ERROR && fv_pg_fatal_state(res)))
    {
        fv_pg_reason(res ? PQresultErrorMessage(res) : PQerrorMessage(conn), reason,
            sizeof(reason));
        if (reason[0] == '\0') {
            fv_pg_reason(PQerrorMessage(conn), reason, sizeof(reason));
        }
        fv_log(FV_LOG_WARN, "PostgreSQL connection lost: %s", reason);
        PQclear(res);
        fv_pg_broken(w);
        return NULL;
    }

    return res;
}


int
fv_pg_ok(const PGresult *res)
{
    ExecStatusType  st;
    const char     *state;
    char            reason[256];

    if (res == NULL) {
        return 0;
    }

    st = PQresultStatus(res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        return 1;
    }

    state = fv_pg_sqlstate(res);
    fv_pg_reason(PQresultErrorMessage(res), reason, sizeof(reason));

    /* Integrity violations (class 23) are answers the caller expects: 409s, not faults. */
    fv_log(strncmp(state, "23", 2) == 0 ? FV_LOG_DEBUG : FV_LOG_ERROR,
        "PostgreSQL: %s (SQLSTATE %s)", reason, state[0] ? state : "none");

    return 0;
}


const char *
fv_pg_sqlstate(const PGresult *res)
{
    const char  *st;

    if (res == NULL) {
        return "";
    }

    st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return st != NULL ? st : "";
}


static int
fv_pg_command(fv_worker_t *w, const char *sql, const char *expect)
{
    PGresult  *res;
    int        rc;

    res = fv_pg_exec(w, sql, 0, NULL);
    if (res == NULL) {
        return FV_STORE_DOWN;
    }

    rc = fv_pg_ok(res) && strcmp(PQcmdStatus(res), expect) == 0 ? FV_OK : FV_ERROR;
    PQclear(res);
    return rc;
}


int
fv_pg_begin(fv_worker_t *w)
{
    int  rc;

    if (w->pg_in_tx) {
        fv_log(FV_LOG_ERROR, "BEGIN inside an open transaction");
        return FV_ERROR;
    }

    rc = fv_pg_command(w, "BEGIN", "BEGIN");
    if (rc == FV_OK) {
        w->pg_in_tx = 1;
        w->pg_tx_broken = 0;
    }

    return rc;
}


int
fv_pg_commit(fv_worker_t *w)
{
    int  rc;

    if (w->pg_tx_broken) {
        w->pg_in_tx = 0;
        w->pg_tx_broken = 0;
        return FV_STORE_DOWN;
    }

    /* COMMIT of a failed transaction answers ROLLBACK: that is not a success. */
    rc = fv_pg_command(w, "COMMIT", "COMMIT");

    w->pg_in_tx = 0;
    w->pg_tx_broken = 0;

    if (rc != FV_OK && w->pg != NULL && PQtransactionStatus(w->pg) != PQTRANS_IDLE) {
        fv_pg_rollback(w);
    }

    return rc;
}


void
fv_pg_rollback(fv_worker_t *w)
{
    PGresult  *res;

    w->pg_in_tx = 0;
    w->pg_tx_broken = 0;

    if (w->pg == NULL || PQtransactionStatus(w->pg) == PQTRANS_IDLE) {
        return;
    }

    res = fv_pg_exec(w, "ROLLBACK", 0, NULL);
    PQclear(res);
}


void
fv_pg_request_end(fv_worker_t *w)
{
    PGTransactionStatusType  ts;

    if (w->pg != NULL) {
        ts = PQtransactionStatus(w->pg);

        if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR) {
            if (ts == PQTRANS_INTRANS) {
                fv_log(FV_LOG_WARN, "a request left a transaction open; rolled back");
            }
            w->pg_in_tx = 1;
            fv_pg_rollback(w);

        } else if (ts != PQTRANS_IDLE) {
            fv_pg_close(w);
        }
    }

    w->pg_in_tx = 0;
    w->pg_tx_broken = 0;
}


int
fv_pg_ping(fv_worker_t *w)
{
    PGresult  *res;
    int        ok;

    res = fv_pg_exec(w, "SELECT 1", 0, NULL);
    ok = res != NULL && PQresultStatus(res) == PGRES_TUPLES_OK;
    PQclear(res);

    return ok;
}
