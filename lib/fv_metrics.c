/* fv_metrics.c: request, latency, store-error, outbox and consumer counters, rendered as
 * Prometheus text. */

#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fv_internal.h"


/* Latency buckets, in seconds. */
static const double  fv_buckets[] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10
};

#define FV_NBUCKETS   (sizeof(fv_buckets) / sizeof(fv_buckets[0]))
#define FV_NSTORES    8
#define FV_NCONSUMERS 16

static const char *const  fv_consume_outcomes[FV_CONSUMED_N] = {
    "handled", "retried", "dead"
};

/* Methods outside the table are counted as OTHER: clients choose methods, and a label
 * must not take values from clients. */
static const char *const  fv_metric_methods[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER"
};

#define FV_NMETHODS   (sizeof(fv_metric_methods) / sizeof(fv_metric_methods[0]))

typedef struct {
    uint32_t              route;
    uint16_t              method;
    uint16_t              status;
    uint64_t              count;
} fv_metric_req_t;

typedef struct {
    uint64_t              buckets[FV_NBUCKETS];
    uint64_t              count;
    double                sum;
} fv_metric_hist_t;

typedef struct {
    char                  name[16];
    uint64_t              count;
} fv_metric_store_t;

/* Every counter is updated under one mutex: a request takes it once, for a few
 * nanoseconds, against the milliseconds it spends in FastCGI and the store. */
struct fv_metrics_s {
    pthread_mutex_t       lock;
    char                 *service;
    size_t                nroutes;          /* patterns[nroutes] is "unmatched" */
    char                **patterns;
    fv_metric_req_t      *reqs;
    size_t                nreqs;
    size_t                cap;
    fv_metric_hist_t     *hist;             /* nroutes + 1 */
    fv_metric_store_t     stores[FV_NSTORES];
    size_t                nstores;
    uint64_t              published;
    int64_t               pending;
    char                  consumers[FV_NCONSUMERS][72];
    uint64_t              consumed[FV_NCONSUMERS][FV_CONSUMED_N];
    size_t                nconsumers;
};


fv_metrics_t *
fv_metrics_new(const char *service, const char *const *patterns, size_t nroutes)
{
    fv_metrics_t  *m;
    size_t         i;

    m = calloc(1, sizeof(fv_metrics_t));
    if (m == NULL) {
        return NULL;
    }

    if (pthread_mutex_init(&m->lock, NULL) != 0) {
        free(m);
        return NULL;
    }

    m->nroutes = nroutes;
    m->pending = -1;
    m->service = strdup(service);
    m->patterns = calloc(nroutes + 1, sizeof(char *));
    m->hist = calloc(nroutes + 1, sizeof(fv_metric_hist_t));

    if (m->service == NULL || m->patterns == NULL || m->hist == NULL) {
        fv_metrics_free(m);
        return NULL;
    }

    for (i = 0; i <= nroutes; i++) {
        m->patterns[i] = strdup(i < nroutes ? patterns[i] : "unmatched");
        if (m->patterns[i] == NULL) {
            fv_metrics_free(m);
            return NULL;
        }
    }

    return m;
}


void
fv_metrics_free(fv_metrics_t *m)
{
    size_t  i;

    if (m == NULL) {
        return;
    }

    if (m->patterns != NULL) {
        for (i = 0; i <= m->nroutes; i++) {
            free(m->patterns[i]);
        }
    }

    free(m->patterns);
    free(m->hist);
    free(m->reqs);
    free(m->service);
    (void) pthread_mutex_destroy(&m->lock);
    free(m);
}


void
fv_metrics_request(fv_metrics_t *m, size_t route, const char *method, int status,
    double seconds)
{
    fv_metric_req_t  *reqs;
    fv_metric_hist_t *h;
    size_t            i, mi;

    if (m == NULL) {
        return;
    }

    if (route > m->nroutes) {
        route = m->nroutes;
    }

    for (mi = 0; mi < FV_NMETHODS - 1; mi++) {
        if (strcmp(fv_metric_methods[mi], method) == 0) {
            break;
        }
    }

    if (pthread_mutex_lock(&m->lock) != 0) {
        return;
    }

    for (i = 0; i < m->nreqs; i++) {
        if (m->reqs[i].route == route && m->reqs[i].method == mi
            && m->reqs[i].status == status)
        {
            break;
        }
    }

    if (i == m->nreqs) {
        if (m->nreqs == m->cap) {
            reqs = realloc(m->reqs, (m->cap ? m->cap * 2 : 32) * sizeof(fv_metric_req_t));
            if (reqs != NULL) {
                m->reqs = reqs;
                m->cap = m->cap ? m->cap * 2 : 32;
            }
        }

        if (m->nreqs < m->cap) {
            m->reqs[i].route = (uint32_t) route;
            m->reqs[i].method = (uint16_t) mi;
            m->reqs[i].status = (uint16_t) status;
            m->reqs[i].count = 0;
            m->nreqs++;
        }
    }

    if (i < m->nreqs) {
        m->reqs[i].count++;
    }

    h = &m->hist[route];
    for (i = 0; i < FV_NBUCKETS; i++) {
        if (seconds <= fv_buckets[i]) {
            h->buckets[i]++;
            break;
        }
    }
    h->count++;
    h->sum += seconds;

    (void) pthread_mutex_unlock(&m->lock);
}


static void
fv_metrics_store_add(fv_metrics_t *m, const char *store, uint64_t n)
{
    size_t  i;

    if (m == NULL || pthread_mutex_lock(&m->lock) != 0) {
        return;
    }

    for (i = 0; i < m->nstores; i++) {
        if (strcmp(m->stores[i].name, store) == 0) {
            break;
        }
    }

    if (i == m->nstores && m->nstores < FV_NSTORES) {
        (void) snprintf(m->stores[i].name, sizeof(m->stores[i].name), "%s", store);
        m->stores[i].count = 0;
        m->nstores++;
    }

    if (i < m->nstores) {
        m->stores[i].count += n;
    }

    (void) pthread_mutex_unlock(&m->lock);
}


void
fv_metrics_store_error(fv_server_t *s, const char *store)
{
    if (s != NULL) {
        fv_metrics_store_add(s->metrics, store, 1);
    }
}


void
fv_metrics_store_declare(fv_metrics_t *m, const char *store)
{
    fv_metrics_store_add(m, store, 0);
}


int
fv_metrics_consumer_declare(fv_metrics_t *m, const char *name)
{
    int  i = -1;

    if (m == NULL || pthread_mutex_lock(&m->lock) != 0) {
        return -1;
    }

    if (m->nconsumers < FV_NCONSUMERS) {
        i = (int) m->nconsumers++;
        (void) snprintf(m->consumers[i], sizeof(m->consumers[i]), "%s", name);
    }

    (void) pthread_mutex_unlock(&m->lock);
    return i;
}


void
fv_metrics_consumed(fv_metrics_t *m, int consumer, fv_consumed_e outcome)
{
    if (m == NULL || consumer < 0 || (size_t) consumer >= FV_NCONSUMERS
        || pthread_mutex_lock(&m->lock) != 0)
    {
        return;
    }

    m->consumed[consumer][outcome]++;

    (void) pthread_mutex_unlock(&m->lock);
}


void
fv_metrics_outbox(fv_metrics_t *m, uint64_t published, int64_t pending)
{
    if (m == NULL || pthread_mutex_lock(&m->lock) != 0) {
        return;
    }

    m->published += published;
    if (pending >= 0) {
        m->pending = pending;
    }

    (void) pthread_mutex_unlock(&m->lock);
}


static void
fv_label(fv_buf_t *b, const char *name, const char *value, int first)
{
    const char  *p;

    fv_buf_printf(b, "%s%s=\"", first ? "" : ",", name);

    for (p = value; *p; p++) {
        if (*p == '\\' || *p == '"') {
            fv_buf_add(b, "\\", 1);
            fv_buf_add(b, p, 1);
        } else if (*p == '\n') {
            fv_buf_add(b, "\\n", 2);
        } else {
            fv_buf_add(b, p, 1);
        }
    }

    fv_buf_add(b, "\"", 1);
}


void
fv_metrics_render(fv_metrics_t *m, int outbox, fv_buf_t *b)
{
    size_t             i, k;
    uint64_t           cum;
    fv_metric_hist_t  *h;
    char               st[8];

    if (pthread_mutex_lock(&m->lock) != 0) {
        return;
    }

    fv_buf_str(b, "# HELP flores_http_requests_total Requests answered, by route pattern, "
        "method and status.\n# TYPE flores_http_requests_total counter\n");

    for (i = 0; i < m->nreqs; i++) {
        fv_buf_str(b, "flores_http_requests_total{");
        fv_label(b, "service", m->service, 1);
        fv_label(b, "route", m->patterns[m->reqs[i].route], 0);
        fv_label(b, "method", fv_metric_methods[m->reqs[i].method], 0);
        (void) snprintf(st, sizeof(st), "%u", (unsigned) m->reqs[i].status);
        fv_label(b, "status", st, 0);
        fv_buf_printf(b, "} %llu\n", (unsigned long long) m->reqs[i].count);
    }

    fv_buf_str(b, "# HELP flores_http_request_duration_seconds Time from a request's "
        "acceptance to its reply, by route pattern.\n"
        "# TYPE flores_http_request_duration_seconds histogram\n");

    for (i = 0; i <= m->nroutes; i++) {
        h = &m->hist[i];
        cum = 0;

        for (k = 0; k <= FV_NBUCKETS; k++) {
            fv_buf_str(b, "flores_http_request_duration_seconds_bucket{");
            fv_label(b, "service", m->service, 1);
            fv_label(b, "route", m->patterns[i], 0);

            if (k < FV_NBUCKETS) {
                cum += h->buckets[k];
                fv_buf_printf(b, ",le=\"%g\"} %llu\n", fv_buckets[k], (unsigned long long) cum);
            } else {
                fv_buf_printf(b, ",le=\"+Inf\"} %llu\n", (unsigned long long) h->count);
            }
        }

        fv_buf_str(b, "flores_http_request_duration_seconds_sum{");
        fv_label(b, "service", m->service, 1);
        fv_label(b, "route", m->patterns[i], 0);
        fv_buf_printf(b, "} %.6f\n", h->sum);
        fv_buf_str(b, "flores_http_request_duration_seconds_count{");
        fv_label(b, "service", m->service, 1);
        fv_label(b, "route", m->patterns[i], 0);
        fv_buf_printf(b, "} %llu\n", (unsigned long long) h->count);
    }

    fv_buf_str(b, "# HELP flores_store_errors_total Failed connections and broken queries, "
        "by store.\n# TYPE flores_store_errors_total counter\n");

    for (i = 0; i < m->nstores; i++) {
        fv_buf_str(b, "flores_store_errors_total{");
        fv_label(b, "service", m->service, 1);
        fv_label(b, "store", m->stores[i].name, 0);
        fv_buf_printf(b, "} %llu\n", (unsigned long long) m->stores[i].count);
    }

    if (m->nconsumers > 0) {
        fv_buf_str(b, "# HELP flores_events_consumed_total Events taken by the service's "
            "consumers, by outcome: handled, retried (sent to wait in the retry queue), dead "
            "(moved to the dead-letter queue).\n# TYPE flores_events_consumed_total counter\n");

        for (i = 0; i < m->nconsumers; i++) {
            for (k = 0; k < FV_CONSUMED_N; k++) {
                fv_buf_str(b, "flores_events_consumed_total{");
                fv_label(b, "service", m->service, 1);
                fv_label(b, "consumer", m->consumers[i], 0);
                fv_label(b, "outcome", fv_consume_outcomes[k], 0);
                fv_buf_printf(b, "} %llu\n", (unsigned long long) m->consumed[i][k]);
            }
        }
    }

    if (outbox) {
        fv_buf_str(b, "# HELP flores_outbox_published_total Events relayed to the broker "
            "and confirmed.\n# TYPE flores_outbox_published_total counter\n"
            "flores_outbox_published_total{");
        fv_label(b, "service", m->service, 1);
        fv_buf_printf(b, "} %llu\n", (unsigned long long) m->published);

        if (m->pending >= 0) {
            fv_buf_str(b, "# HELP flores_outbox_pending Events written and not yet "
                "published.\n# TYPE flores_outbox_pending gauge\nflores_outbox_pending{");
            fv_label(b, "service", m->service, 1);
            fv_buf_printf(b, "} %lld\n", (long long) m->pending);
        }
    }

    (void) pthread_mutex_unlock(&m->lock);
}
