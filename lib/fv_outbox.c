/* fv_outbox.c: the transactional outbox: writing events with the data they describe, and
 * the relay thread that publishes them to RabbitMQ. */

#include <config.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


/*
 * The relay: one thread in each process of a service with an outbox.
 *
 * fv_outbox_add() inserts a row in the caller's transaction and, in that same transaction,
 * NOTIFY flores_outbox, which PostgreSQL delivers only at COMMIT.  The relay holds its own
 * PostgreSQL connection (listening on flores_outbox) and its own RabbitMQ connection (a
 * channel in confirm mode), each opened on demand and dropped on any failure, and repeats
 * until the server stops:
 *
 *   BEGIN;
 *   SELECT ... FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT 100
 *       FOR UPDATE SKIP LOCKED;
 *   publish each row in id order, waiting for the broker's confirm of each; stop at the
 *       first failure, so that no row overtakes an earlier one;
 *   UPDATE outbox SET published_at = now() WHERE id = ANY (the confirmed ids);
 *   COMMIT;
 *
 * A full batch loops at once.  Otherwise the relay sleeps in poll() on the notification
 * socket and the server's stop pipe, for at most FV_RELAY_POLL_MS: rows inserted without
 * a NOTIFY (by a command-line tool) wait no longer than that.  After a failure on either
 * side it sleeps FV_RELAY_BACKOFF_MIN_MS, doubling up to FV_RELAY_BACKOFF_MAX_MS, back to
 * the minimum after the first batch that goes through; the rows simply wait.
 *
 * A row written with fv_outbox_add_secret() (secret = true: a password-reset link) keeps its
 * payload only until the broker has it: the UPDATE that marks it published replaces the
 * payload with {"redacted":true}, in the same statement.
 *
 * Retention: at most every FV_RELAY_PRUNE_MS, between batches, the relay deletes published
 * rows whose published_at is older than FLORES_OUTBOX_RETENTION seconds (default 7 days), and
 * the consumers' processed_events rows older than that, FV_PRUNE_BATCH rows per statement and
 * at most FV_PRUNE_ROUNDS statements per table per pass, so that publishing never waits long
 * behind it.  A consumer's memory of an event older than the retention is gone: the broker
 * does not redeliver a week-old message.  Services without an outbox but with consumers get
 * the same pruning of processed_events from a periodic task (fv_retention_task).
 *
 * A row is marked only after its confirm, so a crash between the publish and the COMMIT
 * publishes it again: delivery is at least once, and consumers deduplicate on the event
 * id.  SKIP LOCKED lets several processes of one service share the table without two of
 * them publishing the same row at the same time.  A stop (SIGTERM) is seen between two
 * publishes and during every sleep, so the relay ends within one confirm timeout.
 */

#define FV_RELAY_BATCH            100
#define FV_RELAY_BATCH_SQL        "100"
#define FV_RELAY_POLL_MS          200
#define FV_RELAY_BACKOFF_MIN_MS   200
#define FV_RELAY_BACKOFF_MAX_MS   5000
#define FV_RELAY_COUNT_MS         5000     /* refresh of flores_outbox_pending when idle */
#define FV_OUTBOX_CHANNEL         "flores_outbox"
#define FV_RELAY_PRUNE_MS         10000
#define FV_PRUNE_BATCH_SQL        "500"
#define FV_PRUNE_BATCH            500
#define FV_PRUNE_ROUNDS           20
#define FV_RETENTION_DEFAULT      604800

typedef struct {
    fv_server_t          *server;
    PGconn               *pg;
    fv_amqp_t            *mq;
    long                  backoff_ms;
    double                counted_at;
    double                pruned_at;
} fv_relay_t;


/* The row's parameters: event id, type, source, payload, schema (for the NOTIFY). */

static int
fv_outbox_row(const char *type, const char *source, const char *schema, json_object *data,
    char event_id[37], const char *params[5])
{
    if (!fv_event_type_ok(type)) {
        fv_log(FV_LOG_ERROR, "event type \"%s\" is not [a-z0-9._-]{1,255}",
            type ? type : "(null)");
        return FV_ERROR;
    }

    if (fv_uuid(event_id) != 0) {
        fv_log(FV_LOG_ERROR, "no random bytes for an event id");
        return FV_ERROR;
    }

    params[0] = event_id;
    params[1] = type;
    params[2] = source;
    params[3] = data != NULL
                ? json_object_to_json_string_ext(data,
                      JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
                : "{}";
    params[4] = schema;

    return params[3] != NULL ? FV_OK : FV_ERROR;
}


#define FV_OUTBOX_INSERT                                                                  \
    "WITH e AS (INSERT INTO outbox (event_id, type, source, payload, secret) "            \
    "VALUES ($1, $2, $3, $4::jsonb, $6::boolean) RETURNING id) "                          \
    "SELECT pg_notify('" FV_OUTBOX_CHANNEL "', $5) FROM e"


static int
fv_outbox_insert(fv_worker_t *w, const char *type, json_object *data, int secret)
{
    fv_server_t  *s = w->server;
    char          event_id[37];
    const char   *params[6];
    PGresult     *res;
    int           rc;

    if (fv_outbox_row(type, s->svc->name, s->schema, data, event_id, params) != FV_OK) {
        return FV_ERROR;
    }

    params[5] = secret ? "t" : "f";
    res = fv_pg_exec(w, FV_OUTBOX_INSERT, 6, params);

    if (res == NULL) {
        return FV_STORE_DOWN;
    }

    rc = fv_pg_ok(res) ? FV_OK : FV_ERROR;
    PQclear(res);
    return rc;
}


int
fv_outbox_add(fv_worker_t *w, const char *type, json_object *data)
{
    return fv_outbox_insert(w, type, data, 0);
}


int
fv_outbox_add_secret(fv_worker_t *w, const char *type, json_object *data)
{
    return fv_outbox_insert(w, type, data, 1);
}


int
fv_outbox_add_conn(PGconn *pg, const char *source, const char *schema, const char *type,
    json_object *data)
{
    char         event_id[37];
    const char  *params[6];
    PGresult    *res;
    int          rc;

    if (fv_outbox_row(type, source, schema, data, event_id, params) != FV_OK) {
        return FV_ERROR;
    }

    params[5] = "f";
    res = PQexecParams(pg, FV_OUTBOX_INSERT, 6, NULL, params, NULL, NULL, 0);

    if (res == NULL || PQstatus(pg) != CONNECTION_OK) {
        PQclear(res);
        return FV_STORE_DOWN;
    }

    rc = fv_pg_ok(res) ? FV_OK : FV_ERROR;
    PQclear(res);
    return rc;
}


static void
fv_relay_drop_pg(fv_relay_t *rl)
{
    if (rl->pg != NULL) {
        PQfinish(rl->pg);
        rl->pg = NULL;
        fv_metrics_store_error(rl->server, "postgres");
    }
}


static void
fv_relay_drop_mq(fv_relay_t *rl)
{
    if (rl->mq != NULL) {
        fv_amqp_close(rl->mq);
        rl->mq = NULL;
    }
    fv_metrics_store_error(rl->server, "rabbitmq");
}


/* A command that must succeed; on failure the connection is dropped. */
static int
fv_relay_exec(fv_relay_t *rl, const char *sql, int nparams, const char *const *params,
    PGresult **out)
{
    PGresult  *res;

    res = PQexecParams(rl->pg, sql, nparams, NULL, params, NULL, NULL, 0);

    if (res == NULL
        || (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK))
    {
        char  why[200];

        (void) snprintf(why, sizeof(why), "%s", res ? PQresultErrorMessage(res)
                                                    : PQerrorMessage(rl->pg));
        why[strcspn(why, "\n")] = '\0';
        fv_log(FV_LOG_WARN, "outbox relay: %s", why);
        PQclear(res);
        fv_relay_drop_pg(rl);
        return -1;
    }

    if (out != NULL) {
        *out = res;
    } else {
        PQclear(res);
    }

    return 0;
}


static void
fv_relay_count(fv_relay_t *rl)
{
    PGresult  *res;

    if (fv_relay_exec(rl, "SELECT count(*) FROM outbox WHERE published_at IS NULL", 0, NULL,
                      &res) != 0)
    {
        return;
    }

    fv_metrics_outbox(rl->server->metrics, 0, strtoll(PQgetvalue(res, 0, 0), NULL, 10));
    PQclear(res);
    rl->counted_at = fv_now_ms();
}


/* Publishes one batch: the number of rows published, or -1 after a failure. */
static int
fv_relay_batch(fv_relay_t *rl)
{
    fv_server_t  *s = rl->server;
    PGresult     *res;
    fv_buf_t      body, ids;
    const char   *param;
    int           rows, i, done = 0, failed = 0;

    if (fv_relay_exec(rl, "BEGIN", 0, NULL, NULL) != 0) {
        return -1;
    }

    if (fv_relay_exec(rl,
            "SELECT id, event_id, type, source, payload::text, "
            "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') "
            "FROM outbox WHERE published_at IS NULL ORDER BY id "
            "LIMIT " FV_RELAY_BATCH_SQL " FOR UPDATE SKIP LOCKED", 0, NULL, &res) != 0)
    {
        return -1;
    }

    rows = PQntuples(res);

    if (rows == 0) {
        PQclear(res);
        return fv_relay_exec(rl, "COMMIT", 0, NULL, NULL) == 0 ? 0 : -1;
    }

    if (rl->mq == NULL) {
        rl->mq = fv_amqp_open(s->conf);
        if (rl->mq == NULL) {
            PQclear(res);
            fv_relay_drop_mq(rl);
            (void) fv_relay_exec(rl, "ROLLBACK", 0, NULL, NULL);
            return -1;
        }
        fv_log(FV_LOG_INFO, "outbox relay connected to RabbitMQ");
    }

    fv_buf_init(&ids);
    fv_buf_str(&ids, "{");

    for (i = 0; i < rows && !atomic_load(&s->stopping); i++) {
        fv_buf_init(&body);
        fv_buf_str(&body, "{\"id\":");
        fv_buf_json_str(&body, PQgetvalue(res, i, 1), (size_t) PQgetlength(res, i, 1));
        fv_buf_str(&body, ",\"type\":");
        fv_buf_json_str(&body, PQgetvalue(res, i, 2), (size_t) PQgetlength(res, i, 2));
        fv_buf_str(&body, ",\"occurredAt\":");
        fv_buf_json_str(&body, PQgetvalue(res, i, 5), (size_t) PQgetlength(res, i, 5));
        fv_buf_str(&body, ",\"source\":");
        fv_buf_json_str(&body, PQgetvalue(res, i, 3), (size_t) PQgetlength(res, i, 3));
        fv_buf_str(&body, ",\"data\":");
        fv_buf_add(&body, PQgetvalue(res, i, 4), (size_t) PQgetlength(res, i, 4));
        fv_buf_str(&body, "}");

        if (body.failed
            || fv_amqp_publish(rl->mq, PQgetvalue(res, i, 2), PQgetvalue(res, i, 1),
                               body.data, body.len) != 0)
        {
            fv_buf_free(&body);
            failed = 1;
            break;
        }

        fv_buf_free(&body);
        fv_buf_printf(&ids, "%s%s", done ? "," : "", PQgetvalue(res, i, 0));
        done++;
    }

    PQclear(res);
    fv_buf_str(&ids, "}");

    if (failed) {
        fv_relay_drop_mq(rl);
    }

    if (done > 0) {
        param = ids.data;

        if (ids.failed
            || fv_relay_exec(rl, "UPDATE outbox SET published_at = now(), "
                                 "payload = CASE WHEN secret THEN '{\"redacted\":true}'::jsonb "
                                 "ELSE payload END "
                                 "WHERE id = ANY ($1::bigint[])", 1, &param, NULL) != 0
            || fv_relay_exec(rl, "COMMIT", 0, NULL, NULL) != 0)
        {
            /* Confirmed but not marked: they will be published again (at least once). */
            fv_buf_free(&ids);
            return -1;
        }

        fv_metrics_outbox(s->metrics, (uint64_t) done, -1);

    } else if (fv_relay_exec(rl, "ROLLBACK", 0, NULL, NULL) != 0) {
        fv_buf_free(&ids);
        return -1;
    }

    fv_buf_free(&ids);
    return failed ? -1 : done;
}


/* One table's rows older than the retention, FV_PRUNE_BATCH per statement. */
static long
fv_prune_table(PGconn *pg, const char *sql, const char *secs)
{
    PGresult  *res;
    long       n, total = 0;
    int        round;

    for (round = 0; round < FV_PRUNE_ROUNDS; round++) {
        res = PQexecParams(pg, sql, 1, NULL, &secs, NULL, NULL, 0);

        if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
            fv_log(FV_LOG_WARN, "retention: %s",
                res ? PQresultErrorMessage(res) : PQerrorMessage(pg));
            PQclear(res);
            return -1;
        }

        n = strtol(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        total += n;

        if (n < FV_PRUNE_BATCH) {
            break;
        }
    }

    return total;
}


long
fv_outbox_prune(PGconn *pg, long retention, int outbox)
{
    PGresult  *res;
    char       secs[24];
    long       a = 0, b = 0;
    int        consumers;

    (void) snprintf(secs, sizeof(secs), "%ld", retention);

    if (outbox) {
        a = fv_prune_table(pg,
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox "
            "WHERE published_at < now() - $1::bigint * interval '1 second' "
            "ORDER BY id LIMIT " FV_PRUNE_BATCH_SQL ")", secs);
        if (a < 0) {
            return -1;
        }
    }

    /* A service may have an outbox and no consumers (no processed_events table). */
    res = PQexec(pg, "SELECT to_regclass('processed_events') IS NOT NULL");
    if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        PQclear(res);
        return -1;
    }

    consumers = PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);

    if (consumers) {
        b = fv_prune_table(pg,
            "DELETE FROM processed_events WHERE ctid = ANY (ARRAY (SELECT ctid "
            "FROM processed_events "
            "WHERE processed_at < now() - $1::bigint * interval '1 second' "
            "LIMIT " FV_PRUNE_BATCH_SQL "))", secs);
        if (b < 0) {
            return -1;
        }
    }

    if (a + b > 0) {
        fv_log(FV_LOG_INFO, "retention: %ld published event(s) and %ld processed event "
            "record(s) older than %lds deleted", a, b, retention);
    }

    return a + b;
}


long
fv_outbox_retention(const fv_conf_t *conf)
{
    return fv_conf_long(conf, "FLORES_OUTBOX_RETENTION", FV_RETENTION_DEFAULT, 1,
                        10L * 366 * 86400);
}


void
fv_retention_task(fv_worker_t *w, void *arg)
{
    PGresult  *res;

    (void) arg;

    /* Opens the worker's connection (or finds it down: next time then). */
    res = fv_pg_exec(w, "SELECT 1", 0, NULL);
    if (res == NULL) {
        return;
    }
    PQclear(res);

    if (w->pg != NULL) {
        (void) fv_outbox_prune(w->pg, fv_outbox_retention(w->server->conf), 0);
    }
}


/* Sleeps up to ms, woken early by a notification or by the stop pipe. */
static void
fv_relay_wait(fv_relay_t *rl, long ms)
{
    struct pollfd  fds[2];
    nfds_t         n = 1;
    PGnotify      *nt;

    fds[0].fd = rl->server->wake[0];
    fds[0].events = POLLIN;
    fds[0].revents = 0;

    if (rl->pg != NULL && PQsocket(rl->pg) >= 0) {
        fds[1].fd = PQsocket(rl->pg);
        fds[1].events = POLLIN;
        fds[1].revents = 0;
        n = 2;
    }

    if (poll(fds, n, (int) ms) < 0 && errno != EINTR) {
        return;
    }

    if (n == 2 && fds[1].revents) {
        if (PQconsumeInput(rl->pg) == 0) {
            fv_log(FV_LOG_WARN, "outbox relay: PostgreSQL connection lost");
            fv_relay_drop_pg(rl);
            return;
        }

        while ((nt = PQnotifies(rl->pg)) != NULL) {
            PQfreemem(nt);
        }
    }
}


static void *
fv_relay_main(void *arg)
{
    fv_relay_t    rl;
    fv_server_t  *s = arg;
    int           n;

    memset(&rl, 0, sizeof(rl));
    rl.server = s;
    rl.backoff_ms = FV_RELAY_BACKOFF_MIN_MS;

    while (!atomic_load(&s->stopping)) {
        if (rl.pg == NULL) {
            rl.pg = fv_pg_connect(s->conf, s->schema);

            if (rl.pg == NULL) {
                fv_metrics_store_error(s, "postgres");
                goto backoff;
            }

            if (fv_relay_exec(&rl, "LISTEN " FV_OUTBOX_CHANNEL, 0, NULL, NULL) != 0) {
                goto backoff;
            }
            rl.counted_at = 0;
            rl.pruned_at = 0;
        }

        n = fv_relay_batch(&rl);

        if (n >= 0 && n < FV_RELAY_BATCH && rl.pg != NULL
            && fv_now_ms() - rl.pruned_at >= FV_RELAY_PRUNE_MS)
        {
            if (fv_outbox_prune(rl.pg, fv_outbox_retention(s->conf), 1) < 0) {
                fv_relay_drop_pg(&rl);
            }
            rl.pruned_at = fv_now_ms();
        }

        /* After progress, after a failure (rows are piling up), and now and then. */
        if (rl.pg != NULL && (n != 0 || fv_now_ms() - rl.counted_at >= FV_RELAY_COUNT_MS)) {
            fv_relay_count(&rl);
        }

        if (n < 0) {
            goto backoff;
        }

        rl.backoff_ms = FV_RELAY_BACKOFF_MIN_MS;

        if (n == FV_RELAY_BATCH) {
            continue;
        }

        fv_relay_wait(&rl, FV_RELAY_POLL_MS);
        continue;

    backoff:

        fv_relay_wait(&rl, rl.backoff_ms);
        rl.backoff_ms *= 2;
        if (rl.backoff_ms > FV_RELAY_BACKOFF_MAX_MS) {
            rl.backoff_ms = FV_RELAY_BACKOFF_MAX_MS;
        }
    }

    if (rl.pg != NULL) {
        PQfinish(rl.pg);
    }
    fv_amqp_close(rl.mq);
    return NULL;
}


int
fv_outbox_start(fv_server_t *s, pthread_t *thread)
{
    return pthread_create(thread, NULL, fv_relay_main, s) == 0 ? 0 : -1;
}
