
/*
 * Flores Victoria gateway module, circuit breakers: one breaker per service
 * ("flores_service"), kept in a shared zone ("flores_breaker_zone") with the
 * thresholds of a named profile ("flores_breaker_profile"), guarding the
 * locations that name it ("flores_breaker"); the 503 answered while a
 * breaker is open, the admin status endpoint ("flores_breaker_status"),
 * $flores_breaker_state and $flores_breaker_result, the breakers' series
 * for the gateway's metrics, and the state query of GET /health.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_flores.h"


/*
 * A breaker is closed, open or half-open.
 *
 * Closed: every request passes. Each result from the service is counted in
 * a rolling window of NGX_HTTP_FLORES_BREAKER_BUCKETS buckets, each
 * window / BUCKETS ms wide (a bucket is reused once it is a whole window
 * old), and in a run of consecutive failures. A failure that brings the
 * window to at least min_calls calls of which at least failures% failed, or
 * the run to "consecutive", opens the breaker.
 *
 * Open: requests are answered 503 at once, with Retry-After, for "open" ms;
 * then the first request (or status query) moves it to half-open.
 *
 * Half-open: at most "probes" requests are admitted, a slot each, taken
 * under the zone's mutex (so across all workers); a probe that ends without
 * a result from the service (the client went away) gives its slot back, in
 * the log phase or, at the latest, when its pool is destroyed. "probes"
 * successes close the breaker with an empty window; a probe failure opens
 * it again, and so do probes still unanswered after probe_timeout.
 *
 * Every transition moves the breaker to a new epoch. A request remembers
 * the epoch it was admitted in, and its result counts only in that epoch:
 * answers arriving after the breaker moved on (a slow request admitted
 * before it opened, a probe of an earlier half-open period) change nothing.
 * State and epoch share one word, so that a closed breaker is read without
 * the lock; every change happens under the zone's mutex, by the one request
 * that causes it, which also logs it.
 *
 * A failure is an answer from the service with a status of 500 or more,
 * which includes nginx's 502 (refused or broken connection, invalid
 * answer) and 504 (timeout) for the service's upstream. 4xx are successes.
 */

#define NGX_HTTP_FLORES_BREAKER_BUCKETS      10

/* zone and profile names */
#define NGX_HTTP_FLORES_BREAKER_NAME_MAX     64

#define NGX_HTTP_FLORES_BREAKER_COUNT_MAX    1000000
#define NGX_HTTP_FLORES_BREAKER_PROBES_MAX   1000
/* window, s */
#define NGX_HTTP_FLORES_BREAKER_WINDOW_MAX   3600
/* open, probe_timeout, ms */
#define NGX_HTTP_FLORES_BREAKER_TIME_MAX     86400000

#define ngx_http_flores_breaker_state_of(word)  ((ngx_uint_t) ((word) & 3))
#define ngx_http_flores_breaker_epoch_of(word)  ((word) >> 2)

/* what the breaker did with a request ($flores_breaker_result) */
#define NGX_HTTP_FLORES_BREAKER_PASSED       1
#define NGX_HTTP_FLORES_BREAKER_PROBE        2
#define NGX_HTTP_FLORES_BREAKER_REJECTED     3

/* what the service answered */
#define NGX_HTTP_FLORES_BREAKER_NO_RESULT    0
#define NGX_HTTP_FLORES_BREAKER_SUCCESS      1
#define NGX_HTTP_FLORES_BREAKER_FAILURE      2


typedef enum {
    NGX_HTTP_FLORES_BREAKER_STAY = 0,
    NGX_HTTP_FLORES_BREAKER_RATIO,
    NGX_HTTP_FLORES_BREAKER_CONSECUTIVE,
    NGX_HTTP_FLORES_BREAKER_HALF,
    NGX_HTTP_FLORES_BREAKER_RECOVERED,
    NGX_HTTP_FLORES_BREAKER_PROBE_FAILED,
    NGX_HTTP_FLORES_BREAKER_PROBES_STUCK,
    NGX_HTTP_FLORES_BREAKER_RESET
} ngx_http_flores_breaker_reason_e;


typedef struct {
    ngx_str_t                            name;
    /* failures=N%: N, 0 when only consecutive failures count */
    ngx_uint_t                           ratio;
    ngx_uint_t                           min_calls;
    time_t                               window;         /* s */
    /* 0: off */
    ngx_uint_t                           consecutive;
    ngx_msec_t                           open;           /* ms */
    ngx_uint_t                           probes;
    ngx_msec_t                           probe_timeout;  /* ms */
    /* open= and probe_timeout= as written, for the log */
    ngx_str_t                            open_text;
    ngx_str_t                            probe_timeout_text;
} ngx_http_flores_breaker_profile_t;


typedef struct {
    /* ngx_current_msec / width when the bucket was last used */
    uint64_t                             slot;
    uint32_t                             calls;
    uint32_t                             failures;
} ngx_http_flores_breaker_bucket_t;


typedef struct {
    ngx_queue_t                          queue;
    /* epoch << 2 | state: written under the mutex, read also without it */
    ngx_atomic_t                         word;
    /* the buckets' width, ms */
    ngx_msec_t                           width;
    /* ngx_current_msec (monotonic) */
    ngx_msec_t                           open_until;
    ngx_msec_t                           probed_at;
    /* ms since the Unix epoch, for the status endpoint */
    uint64_t                             opened_at;
    ngx_uint_t                           consecutive;
    /* half-open: slots taken, and probes that succeeded among them */
    ngx_uint_t                           probes;
    ngx_uint_t                           successes;
    /* indexed by NGX_HTTP_FLORES_BREAKER_CLOSED, _OPEN, _HALF_OPEN */
    uint64_t                             transitions[4];
    uint64_t                             rejections;
    ngx_http_flores_breaker_bucket_t     buckets[NGX_HTTP_FLORES_BREAKER_BUCKETS];
    size_t                               len;
    u_char                               name[NGX_HTTP_FLORES_SERVICE_MAX];
} ngx_http_flores_breaker_node_t;


typedef struct {
    /* of ngx_http_flores_breaker_node_t: every service ever configured */
    ngx_queue_t                          breakers;
} ngx_http_flores_breaker_shctx_t;


typedef struct ngx_http_flores_breaker_main_conf_s
    ngx_http_flores_breaker_main_conf_t;

typedef struct {
    ngx_http_flores_breaker_shctx_t     *sh;
    ngx_slab_pool_t                     *shpool;
    ngx_str_t                            name;
    ngx_http_flores_breaker_main_conf_t *bmcf;
} ngx_http_flores_breaker_ctx_t;


/* one service's breaker */
typedef struct {
    ngx_str_t                            service;
    ngx_shm_zone_t                      *shm_zone;
    ngx_http_flores_breaker_profile_t   *profile;
    /* in the zone, set when it is initialized */
    ngx_http_flores_breaker_node_t      *node;
    /* the first "flores_breaker" that made it */
    ngx_str_t                            file;
    ngx_uint_t                           line;
} ngx_http_flores_breaker_t;


/* a "flores_breaker" line: resolved per location, for its service */
typedef struct {
    ngx_shm_zone_t                      *shm_zone;
    ngx_str_t                            profile;
    ngx_str_t                            file;
    ngx_uint_t                           line;
} ngx_http_flores_breaker_use_t;


struct ngx_http_flores_breaker_main_conf_s {
    /* of ngx_http_flores_breaker_profile_t * */
    ngx_array_t                          profiles;
    /* of ngx_http_flores_breaker_t * */
    ngx_array_t                          breakers;
};


typedef struct {
    /* NULL after "flores_breaker off" or when none applies */
    ngx_http_flores_breaker_use_t       *use;
    ngx_http_flores_breaker_t           *breaker;
    ngx_flag_t                           status;
} ngx_http_flores_breaker_loc_conf_t;


/*
 * The request's decision, in a pool cleanup: it survives internal
 * redirects (error_page), and gives a probe's slot back if the request
 * ends without reaching the log phase.
 */
typedef struct {
    ngx_http_flores_breaker_t           *breaker;
    ngx_atomic_uint_t                    epoch;
    /* the state the request found, and what was done with it */
    ngx_uint_t                           state;
    ngx_uint_t                           result;
    /* upstream states the request had before it was admitted */
    ngx_uint_t                           first;
    unsigned                             done:1;
    u_char                               retry_after[NGX_INT64_LEN];
} ngx_http_flores_breaker_req_t;


/* a transition made under the mutex, logged after it is released */
typedef struct {
    ngx_http_flores_breaker_reason_e     reason;
    ngx_uint_t                           from;
    uint64_t                             calls;
    uint64_t                             failures;
    ngx_uint_t                           n;
} ngx_http_flores_breaker_transition_t;


typedef struct {
    ngx_uint_t                           state;
    uint64_t                             calls;
    uint64_t                             failures;
    ngx_uint_t                           consecutive;
    uint64_t                             opened_at;
    ngx_msec_t                           retry;
    ngx_uint_t                           in_flight;
    uint64_t                             transitions[4];
    uint64_t                             rejections;
} ngx_http_flores_breaker_snapshot_t;


static ngx_http_flores_breaker_req_t *ngx_http_flores_breaker_get_req(
    ngx_http_request_t *r);
static void ngx_http_flores_breaker_cleanup(void *data);
static ngx_int_t ngx_http_flores_breaker_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_breaker_log_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_flores_breaker_outcome(ngx_http_request_t *r,
    ngx_http_flores_breaker_req_t *br, ngx_uint_t *status);
static void ngx_http_flores_breaker_record(ngx_http_flores_breaker_req_t *br,
    ngx_uint_t outcome, ngx_http_flores_breaker_transition_t *tr);
static void ngx_http_flores_breaker_tick(ngx_http_flores_breaker_t *b,
    ngx_msec_t now, ngx_http_flores_breaker_transition_t *tr);
static void ngx_http_flores_breaker_move(ngx_http_flores_breaker_t *b,
    ngx_uint_t to, ngx_msec_t now);
static void ngx_http_flores_breaker_clear(ngx_http_flores_breaker_node_t *node);
static void ngx_http_flores_breaker_count(ngx_http_flores_breaker_node_t *node,
    ngx_msec_t now, ngx_uint_t failure);
static void ngx_http_flores_breaker_sum(ngx_http_flores_breaker_node_t *node,
    ngx_msec_t now, uint64_t *calls, uint64_t *failures);
static void ngx_http_flores_breaker_log(ngx_log_t *log,
    ngx_http_flores_breaker_t *b, ngx_http_flores_breaker_transition_t *tr);
static void ngx_http_flores_breaker_snapshot(ngx_log_t *log,
    ngx_http_flores_breaker_t *b, ngx_http_flores_breaker_snapshot_t *s);
static ngx_http_flores_breaker_t *ngx_http_flores_breaker_find(
    ngx_http_flores_breaker_main_conf_t *bmcf, ngx_str_t *service);
static ngx_int_t ngx_http_flores_breaker_status_handler(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_breaker_reset(ngx_http_request_t *r,
    ngx_http_flores_breaker_main_conf_t *bmcf);
static ngx_int_t ngx_http_flores_breaker_send_json(ngx_http_request_t *r,
    ngx_http_flores_breaker_t **breakers, ngx_uint_t n, ngx_str_t *message);
static u_char *ngx_http_flores_breaker_json(u_char *p,
    ngx_http_flores_breaker_t *b, ngx_http_flores_breaker_snapshot_t *s);
static ngx_int_t ngx_http_flores_breaker_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_chain_t *ngx_http_flores_breaker_metrics(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_http_flores_breaker_state_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_breaker_result_variable(
    ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_breaker_add_variables(ngx_conf_t *cf);
static void *ngx_http_flores_breaker_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_flores_breaker_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_flores_breaker_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static ngx_int_t ngx_http_flores_breaker_name(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *token, const char *what);
static char *ngx_http_flores_breaker_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_breaker_profile(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_flores_breaker_parse_count(ngx_conf_t *cf,
    ngx_str_t *value, size_t skip, ngx_uint_t min, ngx_uint_t max,
    ngx_uint_t *n);
static ngx_int_t ngx_http_flores_breaker_parse_msec(ngx_conf_t *cf,
    ngx_str_t *value, size_t skip, ngx_msec_t *ms, ngx_str_t *text);
static char *ngx_http_flores_breaker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_breaker_status(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_flores_breaker_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_flores_breaker_commands[] = {

    { ngx_string("flores_breaker_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_breaker_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_breaker_profile"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_flores_breaker_profile,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_breaker"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_flores_breaker,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_breaker_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_flores_breaker_status,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_breaker_module_ctx = {
    ngx_http_flores_breaker_add_variables, /* preconfiguration */
    ngx_http_flores_breaker_init,          /* postconfiguration */

    ngx_http_flores_breaker_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_breaker_create_loc_conf, /* create location configuration */
    ngx_http_flores_breaker_merge_loc_conf /* merge location configuration */
};


ngx_module_t  ngx_http_flores_breaker_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_breaker_module_ctx,   /* module context */
    ngx_http_flores_breaker_commands,      /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_variable_t  ngx_http_flores_breaker_vars[] = {

    { ngx_string("flores_breaker_state"), NULL,
      ngx_http_flores_breaker_state_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("flores_breaker_result"), NULL,
      ngx_http_flores_breaker_result_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


/* indexed by NGX_HTTP_FLORES_BREAKER_* states */
static ngx_str_t  ngx_http_flores_breaker_states[] = {
    ngx_null_string,
    ngx_string("closed"),
    ngx_string("open"),
    ngx_string("half_open")
};

/* the value of flores_gateway_breaker_state, by state */
static ngx_uint_t  ngx_http_flores_breaker_gauge[] = { 0, 0, 2, 1 };

/* indexed by NGX_HTTP_FLORES_BREAKER_PASSED, _PROBE, _REJECTED */
static ngx_str_t  ngx_http_flores_breaker_results[] = {
    ngx_null_string,
    ngx_string("passed"),
    ngx_string("probe"),
    ngx_string("rejected")
};


static ngx_http_flores_error_t  ngx_http_flores_breaker_error = {
    NGX_HTTP_SERVICE_UNAVAILABLE,
    ngx_string("SERVICE_UNAVAILABLE"),
    ngx_string("Servicio no disponible temporalmente, intenta nuevamente "
               "en unos segundos")
};


static ngx_str_t  ngx_http_flores_breaker_json_type =
    ngx_string("application/json");


static ngx_http_flores_breaker_req_t *
ngx_http_flores_breaker_get_req(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_flores_breaker_req_t  *br;

    br = ngx_http_get_module_ctx(r, ngx_http_flores_breaker_module);

    if (br == NULL && (r->internal || r->filter_finalize)) {

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_flores_breaker_cleanup) {
                br = cln->data;
                ngx_http_set_ctx(r, br, ngx_http_flores_breaker_module);
                break;
            }
        }
    }

    return br;
}


/* a probe that never reached the log phase gives its slot back */

static void
ngx_http_flores_breaker_cleanup(void *data)
{
    ngx_http_flores_breaker_req_t  *br = data;

    ngx_http_flores_breaker_transition_t  tr;

    if (br->done || br->result != NGX_HTTP_FLORES_BREAKER_PROBE) {
        return;
    }

    br->done = 1;

    ngx_http_flores_breaker_record(br, NGX_HTTP_FLORES_BREAKER_NO_RESULT, &tr);
}


/*
 * Runs in the PRECONTENT phase, after the rate limiter. Handlers of one
 * phase run in the reverse order of their registration, and modules
 * register in the order of ngx_modules[] (ngx_http_flores_modules.c), where
 * this module comes before the limit module: so the JWT check (ACCESS
 * phase) and every rate limit have passed before a breaker is asked, and a
 * request they refuse neither counts as a call nor takes a probe's slot.
 */

static ngx_int_t
ngx_http_flores_breaker_handler(ngx_http_request_t *r)
{
    ngx_msec_t                             now, retry;
    ngx_uint_t                             state;
    ngx_atomic_uint_t                      word;
    ngx_table_elt_t                       *h;
    ngx_slab_pool_t                       *shpool;
    ngx_pool_cleanup_t                    *cln;
    ngx_http_flores_breaker_t             *b;
    ngx_http_flores_breaker_req_t         *br;
    ngx_http_flores_breaker_node_t        *node;
    ngx_http_flores_breaker_loc_conf_t    *blcf;
    ngx_http_flores_breaker_transition_t   tr;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    blcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_breaker_module);

    b = blcf->breaker;

    if (b == NULL) {
        return NGX_DECLINED;
    }

    /* a request is decided once, by the first location with a breaker */

    if (ngx_http_flores_breaker_get_req(r) != NULL) {
        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_flores_breaker_req_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    br = cln->data;
    ngx_memzero(br, sizeof(ngx_http_flores_breaker_req_t));

    br->breaker = b;
    br->first = r->upstream_states ? r->upstream_states->nelts : 0;

    cln->handler = ngx_http_flores_breaker_cleanup;

    ngx_http_set_ctx(r, br, ngx_http_flores_breaker_module);

    node = b->node;

    /* closed: no lock */

    word = node->word;

    if (ngx_http_flores_breaker_state_of(word) == NGX_HTTP_FLORES_BREAKER_CLOSED)
    {
        br->epoch = ngx_http_flores_breaker_epoch_of(word);
        br->state = NGX_HTTP_FLORES_BREAKER_CLOSED;
        br->result = NGX_HTTP_FLORES_BREAKER_PASSED;

        return NGX_DECLINED;
    }

    now = ngx_current_msec;
    tr.reason = NGX_HTTP_FLORES_BREAKER_STAY;
    retry = 0;

    shpool = (ngx_slab_pool_t *) b->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_flores_breaker_tick(b, now, &tr);

    word = node->word;
    state = ngx_http_flores_breaker_state_of(word);

    br->epoch = ngx_http_flores_breaker_epoch_of(word);
    br->state = state;

    switch (state) {

    case NGX_HTTP_FLORES_BREAKER_CLOSED:
        br->result = NGX_HTTP_FLORES_BREAKER_PASSED;
        break;

    case NGX_HTTP_FLORES_BREAKER_HALF_OPEN:

        if (node->probes < b->profile->probes) {
            node->probes++;
            node->probed_at = now;
            br->result = NGX_HTTP_FLORES_BREAKER_PROBE;
            break;
        }

        /* every probe is out: asked again in a second */

        br->result = NGX_HTTP_FLORES_BREAKER_REJECTED;
        node->rejections++;
        retry = 1000;
        break;

    default: /* NGX_HTTP_FLORES_BREAKER_OPEN */
        br->result = NGX_HTTP_FLORES_BREAKER_REJECTED;
        node->rejections++;
        retry = node->open_until - now;
        break;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (tr.reason != NGX_HTTP_FLORES_BREAKER_STAY) {
        ngx_http_flores_breaker_log(r->connection->log, b, &tr);
    }

    if (br->result != NGX_HTTP_FLORES_BREAKER_REJECTED) {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "flores breaker \"%V\": %V", &b->service,
                       &ngx_http_flores_breaker_results[br->result]);
        return NGX_DECLINED;
    }

    /* whole seconds, rounded up: the breaker is half-open by then */

    retry = (retry + 999) / 1000;

    if (retry == 0) {
        retry = 1;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "flores breaker \"%V\": rejected, retry after %M s",
                   &b->service, retry);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = br->retry_after;
    h->value.len = ngx_sprintf(br->retry_after, "%M", retry) - br->retry_after;

    return ngx_http_flores_reject(r, &ngx_http_flores_breaker_error);
}


static ngx_int_t
ngx_http_flores_breaker_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                             outcome, status;
    ngx_http_flores_breaker_req_t         *br;
    ngx_http_flores_breaker_transition_t   tr;

    if (r != r->main) {
        return NGX_OK;
    }

    br = ngx_http_flores_breaker_get_req(r);

    if (br == NULL
        || br->done
        || br->result == NGX_HTTP_FLORES_BREAKER_REJECTED)
    {
        return NGX_OK;
    }

    br->done = 1;

    status = 0;
    outcome = ngx_http_flores_breaker_outcome(r, br, &status);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "flores breaker \"%V\": %V ended, upstream status %ui, "
                   "outcome %ui", &br->breaker->service,
                   &ngx_http_flores_breaker_results[br->result], status,
                   outcome);

    if (outcome == NGX_HTTP_FLORES_BREAKER_NO_RESULT
        && br->result != NGX_HTTP_FLORES_BREAKER_PROBE)
    {
        return NGX_OK;
    }

    tr.n = status;

    ngx_http_flores_breaker_record(br, outcome, &tr);

    if (tr.reason != NGX_HTTP_FLORES_BREAKER_STAY) {
        ngx_http_flores_breaker_log(r->connection->log, br->breaker, &tr);
    }

    return NGX_OK;
}


/*
 * What the service answered, from the last upstream attempt the request
 * made after it was admitted: its status, or 502 / 504 when nginx could not
 * connect, the connection broke, or it timed out. No attempt (the request
 * ended before reaching the service) or no status yet (the client went
 * away first) is no result.
 */

static ngx_uint_t
ngx_http_flores_breaker_outcome(ngx_http_request_t *r,
    ngx_http_flores_breaker_req_t *br, ngx_uint_t *status)
{
    ngx_http_upstream_state_t  *state;

    if (r->upstream_states == NULL
        || r->upstream_states->nelts <= br->first)
    {
        return NGX_HTTP_FLORES_BREAKER_NO_RESULT;
    }

    state = r->upstream_states->elts;
    *status = state[r->upstream_states->nelts - 1].status;

    if (*status == 0) {
        return NGX_HTTP_FLORES_BREAKER_NO_RESULT;
    }

    return (*status >= NGX_HTTP_INTERNAL_SERVER_ERROR)
           ? NGX_HTTP_FLORES_BREAKER_FAILURE : NGX_HTTP_FLORES_BREAKER_SUCCESS;
}


/*
 * Counts an admitted request's result, in the epoch it was admitted in
 * only; a probe without a result gives its slot back. tr->n holds the
 * upstream status on entry (for the log of a failed probe).
 */

static void
ngx_http_flores_breaker_record(ngx_http_flores_breaker_req_t *br,
    ngx_uint_t outcome, ngx_http_flores_breaker_transition_t *tr)
{
    uint64_t                            calls, failures;
    ngx_msec_t                          now;
    ngx_uint_t                          state, failure;
    ngx_atomic_uint_t                   word;
    ngx_slab_pool_t                    *shpool;
    ngx_http_flores_breaker_t          *b;
    ngx_http_flores_breaker_node_t     *node;
    ngx_http_flores_breaker_profile_t  *p;

    b = br->breaker;
    node = b->node;
    p = b->profile;
    shpool = (ngx_slab_pool_t *) b->shm_zone->shm.addr;

    now = ngx_current_msec;
    failure = (outcome == NGX_HTTP_FLORES_BREAKER_FAILURE);

    tr->reason = NGX_HTTP_FLORES_BREAKER_STAY;

    ngx_shmtx_lock(&shpool->mutex);

    word = node->word;
    state = ngx_http_flores_breaker_state_of(word);

    if (ngx_http_flores_breaker_epoch_of(word) != br->epoch) {
        goto done;
    }

    if (br->result == NGX_HTTP_FLORES_BREAKER_PASSED) {

        if (state != NGX_HTTP_FLORES_BREAKER_CLOSED
            || outcome == NGX_HTTP_FLORES_BREAKER_NO_RESULT)
        {
            goto done;
        }

        ngx_http_flores_breaker_count(node, now, failure);

        if (!failure) {
            node->consecutive = 0;
            goto done;
        }

        node->consecutive++;

        if (p->consecutive && node->consecutive >= p->consecutive) {
            tr->reason = NGX_HTTP_FLORES_BREAKER_CONSECUTIVE;
            tr->n = node->consecutive;
            tr->from = state;
            ngx_http_flores_breaker_move(b, NGX_HTTP_FLORES_BREAKER_OPEN, now);
            goto done;
        }

        if (p->ratio == 0) {
            goto done;
        }

        ngx_http_flores_breaker_sum(node, now, &calls, &failures);

        if (calls >= p->min_calls && failures * 100 >= p->ratio * calls) {
            tr->reason = NGX_HTTP_FLORES_BREAKER_RATIO;
            tr->calls = calls;
            tr->failures = failures;
            tr->from = state;
            ngx_http_flores_breaker_move(b, NGX_HTTP_FLORES_BREAKER_OPEN, now);
        }

        goto done;
    }

    /* a probe */

    if (state != NGX_HTTP_FLORES_BREAKER_HALF_OPEN) {
        goto done;
    }

    if (outcome == NGX_HTTP_FLORES_BREAKER_NO_RESULT) {
        if (node->probes > node->successes) {
            node->probes--;
        }

        goto done;
    }

    if (failure) {
        tr->reason = NGX_HTTP_FLORES_BREAKER_PROBE_FAILED;
        tr->from = state;
        ngx_http_flores_breaker_move(b, NGX_HTTP_FLORES_BREAKER_OPEN, now);
        goto done;
    }

    node->successes++;

    if (node->successes >= p->probes) {
        tr->reason = NGX_HTTP_FLORES_BREAKER_RECOVERED;
        tr->n = node->successes;
        tr->from = state;
        ngx_http_flores_breaker_move(b, NGX_HTTP_FLORES_BREAKER_CLOSED, now);
    }

done:

    ngx_shmtx_unlock(&shpool->mutex);
}


/*
 * Under the mutex: the transitions that time makes. An open breaker whose
 * time is up becomes half-open; a half-open one whose probes have been out
 * longer than probe_timeout opens again.
 */

static void
ngx_http_flores_breaker_tick(ngx_http_flores_breaker_t *b, ngx_msec_t now,
    ngx_http_flores_breaker_transition_t *tr)
{
    ngx_uint_t                       state;
    ngx_http_flores_breaker_node_t  *node;

    node = b->node;
    state = ngx_http_flores_breaker_state_of(node->word);

    tr->reason = NGX_HTTP_FLORES_BREAKER_STAY;

    if (state == NGX_HTTP_FLORES_BREAKER_OPEN
        && (ngx_msec_int_t) (now - node->open_until) >= 0)
    {
        tr->reason = NGX_HTTP_FLORES_BREAKER_HALF;
        tr->from = state;
        ngx_http_flores_breaker_move(b, NGX_HTTP_FLORES_BREAKER_HALF_OPEN, now);
        return;
    }

    if (state == NGX_HTTP_FLORES_BREAKER_HALF_OPEN
        && node->probes > node->successes
        && (ngx_msec_int_t) (now - node->probed_at)
           >= (ngx_msec_int_t) b->profile->probe_timeout)
    {
        tr->reason = NGX_HTTP_FLORES_BREAKER_PROBES_STUCK;
        tr->n = node->probes - node->successes;
        tr->from = state;
        ngx_http_flores_breaker_move(b, NGX_HTTP_FLORES_BREAKER_OPEN, now);
    }
}


/* under the mutex: enters a state, in a new epoch */

static void
ngx_http_flores_breaker_move(ngx_http_flores_breaker_t *b, ngx_uint_t to,
    ngx_msec_t now)
{
    ngx_time_t                      *tp;
    ngx_atomic_uint_t                epoch;
    ngx_http_flores_breaker_node_t  *node;

    node = b->node;
    epoch = ngx_http_flores_breaker_epoch_of(node->word) + 1;

    switch (to) {

    case NGX_HTTP_FLORES_BREAKER_CLOSED:
        ngx_http_flores_breaker_clear(node);
        break;

    case NGX_HTTP_FLORES_BREAKER_OPEN:
        tp = ngx_timeofday();
        node->opened_at = (uint64_t) tp->sec * 1000 + tp->msec;
        node->open_until = now + b->profile->open;
        node->probes = 0;
        node->successes = 0;
        break;

    default: /* NGX_HTTP_FLORES_BREAKER_HALF_OPEN */
        node->probes = 0;
        node->successes = 0;
        node->probed_at = now;
        break;
    }

    node->transitions[to]++;

    /* last: a reader without the lock sees the new state complete */
    ngx_memory_barrier();
    node->word = epoch << 2 | to;
}


/* an empty window, no failure run, no probe out */

static void
ngx_http_flores_breaker_clear(ngx_http_flores_breaker_node_t *node)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FLORES_BREAKER_BUCKETS; i++) {
        node->buckets[i].calls = 0;
        node->buckets[i].failures = 0;
    }

    node->consecutive = 0;
    node->probes = 0;
    node->successes = 0;
    node->open_until = 0;
    node->opened_at = 0;
}


static void
ngx_http_flores_breaker_count(ngx_http_flores_breaker_node_t *node,
    ngx_msec_t now, ngx_uint_t failure)
{
    uint64_t                           slot;
    ngx_http_flores_breaker_bucket_t  *bucket;

    slot = now / node->width;
    bucket = &node->buckets[slot % NGX_HTTP_FLORES_BREAKER_BUCKETS];

    if (bucket->slot != slot) {
        bucket->slot = slot;
        bucket->calls = 0;
        bucket->failures = 0;
    }

    if (bucket->calls < NGX_MAX_UINT32_VALUE) {
        bucket->calls++;
        bucket->failures += failure;
    }
}


/*
 * The window: the buckets of the last BUCKETS slots, the current one
 * included (a worker whose cached clock is a little behind another's may
 * find a bucket one slot ahead: it is counted too).
 */

static void
ngx_http_flores_breaker_sum(ngx_http_flores_breaker_node_t *node,
    ngx_msec_t now, uint64_t *calls, uint64_t *failures)
{
    uint64_t                           slot;
    ngx_uint_t                         i;
    ngx_http_flores_breaker_bucket_t  *bucket;

    slot = now / node->width;

    *calls = 0;
    *failures = 0;

    for (i = 0; i < NGX_HTTP_FLORES_BREAKER_BUCKETS; i++) {
        bucket = &node->buckets[i];

        if (bucket->slot + NGX_HTTP_FLORES_BREAKER_BUCKETS > slot
            && bucket->slot <= slot + 1)
        {
            *calls += bucket->calls;
            *failures += bucket->failures;
        }
    }
}


static void
ngx_http_flores_breaker_log(ngx_log_t *log, ngx_http_flores_breaker_t *b,
    ngx_http_flores_breaker_transition_t *tr)
{
    ngx_http_flores_breaker_profile_t  *p;

    p = b->profile;

    switch (tr->reason) {

    case NGX_HTTP_FLORES_BREAKER_RATIO:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "flores breaker \"%V\" opened: %uL of %uL calls failed "
                      "in %Ts, open for %V", &b->service, tr->failures,
                      tr->calls, p->window, &p->open_text);
        break;

    case NGX_HTTP_FLORES_BREAKER_CONSECUTIVE:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "flores breaker \"%V\" opened: %ui consecutive "
                      "failures, open for %V", &b->service, tr->n,
                      &p->open_text);
        break;

    case NGX_HTTP_FLORES_BREAKER_HALF:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "flores breaker \"%V\" half-open: admitting up to %ui "
                      "probes", &b->service, p->probes);
        break;

    case NGX_HTTP_FLORES_BREAKER_RECOVERED:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "flores breaker \"%V\" closed: %ui probe(s) succeeded",
                      &b->service, tr->n);
        break;

    case NGX_HTTP_FLORES_BREAKER_PROBE_FAILED:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "flores breaker \"%V\" opened again: a probe failed "
                      "(status %ui), open for %V", &b->service, tr->n,
                      &p->open_text);
        break;

    case NGX_HTTP_FLORES_BREAKER_PROBES_STUCK:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "flores breaker \"%V\" opened again: %ui probe(s) "
                      "unanswered for %V, open for %V", &b->service, tr->n,
                      &p->probe_timeout_text, &p->open_text);
        break;

    case NGX_HTTP_FLORES_BREAKER_RESET:
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "flores breaker \"%V\" closed by a reset (was %V)",
                      &b->service, &ngx_http_flores_breaker_states[tr->from]);
        break;

    default:
        break;
    }
}


/* the breaker's state now, read (and moved on in time) under the mutex */

static void
ngx_http_flores_breaker_snapshot(ngx_log_t *log, ngx_http_flores_breaker_t *b,
    ngx_http_flores_breaker_snapshot_t *s)
{
    ngx_msec_t                             now;
    ngx_slab_pool_t                       *shpool;
    ngx_http_flores_breaker_node_t        *node;
    ngx_http_flores_breaker_transition_t   tr;

    node = b->node;
    shpool = (ngx_slab_pool_t *) b->shm_zone->shm.addr;
    now = ngx_current_msec;

    ngx_shmtx_lock(&shpool->mutex);

    ngx_http_flores_breaker_tick(b, now, &tr);

    s->state = ngx_http_flores_breaker_state_of(node->word);

    ngx_http_flores_breaker_sum(node, now, &s->calls, &s->failures);

    s->consecutive = node->consecutive;
    s->opened_at = node->opened_at;
    s->retry = (s->state == NGX_HTTP_FLORES_BREAKER_OPEN)
               ? node->open_until - now : 0;
    s->in_flight = (s->state == NGX_HTTP_FLORES_BREAKER_HALF_OPEN)
                   ? node->probes - node->successes : 0;
    ngx_memcpy(s->transitions, node->transitions, sizeof(s->transitions));
    s->rejections = node->rejections;

    ngx_shmtx_unlock(&shpool->mutex);

    if (tr.reason != NGX_HTTP_FLORES_BREAKER_STAY) {
        ngx_http_flores_breaker_log(log, b, &tr);
    }
}


static ngx_http_flores_breaker_t *
ngx_http_flores_breaker_find(ngx_http_flores_breaker_main_conf_t *bmcf,
    ngx_str_t *service)
{
    ngx_uint_t                   i;
    ngx_http_flores_breaker_t  **b;

    b = bmcf->breakers.elts;

    for (i = 0; i < bmcf->breakers.nelts; i++) {
        if (b[i]->service.len == service->len
            && ngx_strncmp(b[i]->service.data, service->data, service->len)
               == 0)
        {
            return b[i];
        }
    }

    return NULL;
}


ngx_uint_t
ngx_http_flores_breaker_state(ngx_http_request_t *r, ngx_str_t *service)
{
    ngx_http_flores_breaker_t            *b;
    ngx_http_flores_breaker_snapshot_t    s;
    ngx_http_flores_breaker_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_breaker_module);

    b = ngx_http_flores_breaker_find(bmcf, service);

    if (b == NULL || b->node == NULL) {
        return NGX_HTTP_FLORES_BREAKER_NONE;
    }

    ngx_http_flores_breaker_snapshot(r->connection->log, b, &s);

    return s.state;
}


/*
 * The admin endpoint: GET lists every breaker; POST with ?reset=<service>
 * closes that service's breaker, with an empty window.
 */

static ngx_int_t
ngx_http_flores_breaker_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                             rc;
    ngx_http_flores_breaker_main_conf_t  *bmcf;

    bmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_breaker_module);

    if (r->method == NGX_HTTP_POST) {
        return ngx_http_flores_breaker_reset(r, bmcf);
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_flores_breaker_send_json(r, bmcf->breakers.elts,
                                             bmcf->breakers.nelts, NULL);
}


static ngx_int_t
ngx_http_flores_breaker_reset(ngx_http_request_t *r,
    ngx_http_flores_breaker_main_conf_t *bmcf)
{
    u_char                                *p;
    ngx_int_t                              rc;
    ngx_str_t                              arg, service, message;
    ngx_uint_t                             state;
    ngx_slab_pool_t                       *shpool;
    ngx_http_flores_error_t                err;
    ngx_http_flores_breaker_t             *b;
    ngx_http_flores_breaker_node_t        *node;
    ngx_http_flores_breaker_transition_t   tr;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_arg(r, (u_char *) "reset", 5, &arg) != NGX_OK
        || arg.len == 0)
    {
        err.status = NGX_HTTP_BAD_REQUEST;
        ngx_str_set(&err.code, "VALIDATION_ERROR");
        ngx_str_set(&err.message, "Indica el servicio: ?reset=<servicio>");
        return ngx_http_flores_send_error(r, &err);
    }

    /* service names are [A-Za-z0-9._-]: nothing to unescape in a real one */

    service = arg;
    b = ngx_http_flores_breaker_find(bmcf, &service);

    if (b == NULL || b->node == NULL) {
        err.status = NGX_HTTP_NOT_FOUND;
        ngx_str_set(&err.code, "NOT_FOUND");
        ngx_str_set(&err.message, "Ningún circuito protege ese servicio");
        return ngx_http_flores_send_error(r, &err);
    }

    node = b->node;
    shpool = (ngx_slab_pool_t *) b->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    state = ngx_http_flores_breaker_state_of(node->word);

    ngx_http_flores_breaker_move(b, NGX_HTTP_FLORES_BREAKER_CLOSED,
                                 ngx_current_msec);

    if (state == NGX_HTTP_FLORES_BREAKER_CLOSED) {
        /* not a transition, but still a new epoch with an empty window */
        node->transitions[NGX_HTTP_FLORES_BREAKER_CLOSED]--;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    tr.reason = NGX_HTTP_FLORES_BREAKER_RESET;
    tr.from = state;

    ngx_http_flores_breaker_log(r->connection->log, b, &tr);

    message.len = sizeof("Circuito del servicio  cerrado") - 1
                  + b->service.len;
    message.data = ngx_pnalloc(r->pool, message.len);
    if (message.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_sprintf(message.data, "Circuito del servicio %V cerrado",
                    &b->service);
    message.len = p - message.data;

    return ngx_http_flores_breaker_send_json(r, &b, 1, &message);
}


/*
 * {"status":"success","data":{"breakers":[...]}}; with a message (after a
 * reset): {"status":"success","message":"...","data":{"breaker":{...}}}.
 * The message is already JSON text.
 */

static ngx_int_t
ngx_http_flores_breaker_send_json(ngx_http_request_t *r,
    ngx_http_flores_breaker_t **breakers, ngx_uint_t n, ngx_str_t *message)
{
    size_t                               len;
    u_char                              *p;
    ngx_uint_t                           i, k;
    ngx_table_elt_t                     *h;
    ngx_http_complex_value_t             cv;
    ngx_http_flores_breaker_snapshot_t   s;

    len = sizeof("{\"status\":\"success\",\"message\":\"\","
                 "\"data\":{\"breakers\":[]}}") - 1
          + (message ? message->len : 0);

    for (i = 0; i < n; i++) {
        len += sizeof(",{\"service\":\"\",\"state\":\"half_open\","
                      "\"profile\":\"\",\"zone\":\"\",\"calls\":,"
                      "\"failures\":,\"consecutiveFailures\":,"
                      "\"openedAt\":\"1970-01-01T00:00:00.000Z\","
                      "\"retryInMs\":,\"probesInFlight\":}") - 1
               + breakers[i]->service.len
               + breakers[i]->profile->name.len
               + breakers[i]->shm_zone->shm.name.len
               + 5 * NGX_INT64_LEN;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.data = p;

    if (message) {
        p = ngx_sprintf(p, "{\"status\":\"success\",\"message\":\"%V\","
                           "\"data\":{\"breaker\":", message);

    } else {
        p = ngx_sprintf(p, "{\"status\":\"success\",\"data\":{\"breakers\":[");
    }

    for (i = 0, k = 0; i < n; i++) {
        if (breakers[i]->node == NULL) {
            continue;
        }

        ngx_http_flores_breaker_snapshot(r->connection->log, breakers[i], &s);

        if (k++) {
            *p++ = ',';
        }

        p = ngx_http_flores_breaker_json(p, breakers[i], &s);
    }

    p = ngx_cpymem(p, message ? "}}" : "]}}", message ? 2 : 3);

    cv.value.len = p - cv.value.data;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    return ngx_http_send_response(r, NGX_HTTP_OK,
                                  &ngx_http_flores_breaker_json_type, &cv);
}


/* names are [A-Za-z0-9._-]: no escaping */

static u_char *
ngx_http_flores_breaker_json(u_char *p, ngx_http_flores_breaker_t *b,
    ngx_http_flores_breaker_snapshot_t *s)
{
    ngx_tm_t  tm;

    p = ngx_sprintf(p, "{\"service\":\"%V\",\"state\":\"%V\","
                       "\"profile\":\"%V\",\"zone\":\"%V\","
                       "\"calls\":%uL,\"failures\":%uL,"
                       "\"consecutiveFailures\":%ui,\"openedAt\":",
                    &b->service, &ngx_http_flores_breaker_states[s->state],
                    &b->profile->name, &b->shm_zone->shm.name,
                    s->calls, s->failures, s->consecutive);

    if (s->state == NGX_HTTP_FLORES_BREAKER_CLOSED || s->opened_at == 0) {
        p = ngx_cpymem(p, "null", 4);

    } else {
        ngx_gmtime((time_t) (s->opened_at / 1000), &tm);

        p = ngx_sprintf(p, "\"%4d-%02d-%02dT%02d:%02d:%02d.%03uLZ\"",
                        tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                        tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec,
                        s->opened_at % 1000);
    }

    return ngx_sprintf(p, ",\"retryInMs\":%M,\"probesInFlight\":%ui}",
                       s->retry, s->in_flight);
}


/*
 * Finds or makes the node of every breaker of the zone. A reload keeps the
 * zone's state when its size is unchanged: nginx passes the previous
 * configuration's ctx, whose shared memory the new one adopts. Nodes are
 * never freed (old workers may still use them until they exit); a service
 * that is no longer configured keeps its few hundred bytes.
 */

static ngx_int_t
ngx_http_flores_breaker_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_flores_breaker_ctx_t  *octx = data;

    size_t                           len;
    ngx_uint_t                       i, j, n;
    ngx_msec_t                       width;
    ngx_queue_t                     *q;
    ngx_http_flores_breaker_t      **b;
    ngx_http_flores_breaker_ctx_t   *ctx;
    ngx_http_flores_breaker_node_t  *node;

    ctx = shm_zone->data;

    if (octx) {
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;

    } else {
        ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            ctx->sh = ctx->shpool->data;

        } else {
            ctx->sh = ngx_slab_calloc(ctx->shpool,
                                      sizeof(ngx_http_flores_breaker_shctx_t));
            if (ctx->sh == NULL) {
                return NGX_ERROR;
            }

            ctx->shpool->data = ctx->sh;

            ngx_queue_init(&ctx->sh->breakers);

            len = sizeof(" in flores_breaker_zone \"\"")
                  + shm_zone->shm.name.len;

            ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
            if (ctx->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(ctx->shpool->log_ctx,
                        " in flores_breaker_zone \"%V\"%Z",
                        &shm_zone->shm.name);

            /* nodes are only made here, where a full zone is reported */
            ctx->shpool->log_nomem = 0;
        }
    }

    b = ctx->bmcf->breakers.elts;
    n = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    for (i = 0; i < ctx->bmcf->breakers.nelts; i++) {

        if (b[i]->shm_zone != shm_zone) {
            continue;
        }

        n++;

        node = NULL;

        for (q = ngx_queue_head(&ctx->sh->breakers);
             q != ngx_queue_sentinel(&ctx->sh->breakers);
             q = ngx_queue_next(q))
        {
            node = ngx_queue_data(q, ngx_http_flores_breaker_node_t, queue);

            if (node->len == b[i]->service.len
                && ngx_strncmp(node->name, b[i]->service.data, node->len) == 0)
            {
                break;
            }

            node = NULL;
        }

        width = (ngx_msec_t) b[i]->profile->window * 1000
                / NGX_HTTP_FLORES_BREAKER_BUCKETS;

        if (node == NULL) {
            node = ngx_slab_calloc_locked(ctx->shpool,
                                      sizeof(ngx_http_flores_breaker_node_t));
            if (node == NULL) {
                ngx_shmtx_unlock(&ctx->shpool->mutex);

                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "flores_breaker_zone \"%V\" is too small for "
                              "its breakers", &shm_zone->shm.name);
                return NGX_ERROR;
            }

            node->len = b[i]->service.len;
            ngx_memcpy(node->name, b[i]->service.data, node->len);
            node->width = width;
            node->word = NGX_HTTP_FLORES_BREAKER_CLOSED;

            ngx_queue_insert_tail(&ctx->sh->breakers, &node->queue);

        } else if (node->width != width) {
            /* another window: what was counted in the old one is dropped */
            for (j = 0; j < NGX_HTTP_FLORES_BREAKER_BUCKETS; j++) {
                node->buckets[j].calls = 0;
                node->buckets[j].failures = 0;
            }

            node->width = width;
        }

        b[i]->node = node;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, shm_zone->shm.log, 0,
                   "flores breaker zone \"%V\": %ui breakers",
                   &shm_zone->shm.name, n);

    return NGX_OK;
}


/*
 * The breakers' series in the Prometheus text format, for the gateway's
 * metrics endpoint.
 */

#define ngx_http_flores_breaker_series(name, help, type)                      \
    "# HELP " name " " help "\n# TYPE " name " " type "\n"

static ngx_chain_t *
ngx_http_flores_breaker_metrics(ngx_http_request_t *r, void *data)
{
    ngx_http_flores_breaker_main_conf_t  *bmcf = data;

    u_char                               *p;
    size_t                                len;
    ngx_buf_t                            *b;
    ngx_uint_t                            i, n;
    ngx_chain_t                          *cl;
    ngx_http_flores_breaker_t           **br;
    ngx_http_flores_breaker_snapshot_t   *s;

    static u_char  state[] = ngx_http_flores_breaker_series(
        "flores_gateway_breaker_state",
        "Circuit breaker state by service: 0 closed, 1 half-open, 2 open.",
        "gauge");

    static u_char  transitions[] = ngx_http_flores_breaker_series(
        "flores_gateway_breaker_transitions_total",
        "Circuit breaker transitions by service and state entered.",
        "counter");

    static u_char  rejections[] = ngx_http_flores_breaker_series(
        "flores_gateway_breaker_rejections_total",
        "Requests answered 503 by an open or busy half-open breaker, "
        "without calling the service.",
        "counter");

    n = bmcf->breakers.nelts;

    if (n == 0) {
        return NULL;
    }

    br = bmcf->breakers.elts;

    s = ngx_palloc(r->pool, n * sizeof(ngx_http_flores_breaker_snapshot_t));
    if (s == NULL) {
        return NGX_CHAIN_ERROR;
    }

    len = sizeof(state) + sizeof(transitions) + sizeof(rejections);

    for (i = 0; i < n; i++) {
        if (br[i]->node == NULL) {
            continue;
        }

        ngx_http_flores_breaker_snapshot(r->connection->log, br[i], &s[i]);

        /* 5 series, each at most 80 bytes of text besides the name */
        len += 5 * (80 + br[i]->service.len + NGX_INT64_LEN);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_CHAIN_ERROR;
    }

    p = ngx_cpymem(b->last, state, sizeof(state) - 1);

    for (i = 0; i < n; i++) {
        if (br[i]->node) {
            p = ngx_sprintf(p, "flores_gateway_breaker_state{service=\"%V\"} "
                               "%ui\n", &br[i]->service,
                            ngx_http_flores_breaker_gauge[s[i].state]);
        }
    }

    p = ngx_cpymem(p, transitions, sizeof(transitions) - 1);

    for (i = 0; i < n; i++) {
        if (br[i]->node) {
            p = ngx_sprintf(p,
                "flores_gateway_breaker_transitions_total"
                "{service=\"%V\",to=\"open\"} %uL\n"
                "flores_gateway_breaker_transitions_total"
                "{service=\"%V\",to=\"half_open\"} %uL\n"
                "flores_gateway_breaker_transitions_total"
                "{service=\"%V\",to=\"closed\"} %uL\n",
                &br[i]->service,
                s[i].transitions[NGX_HTTP_FLORES_BREAKER_OPEN],
                &br[i]->service,
                s[i].transitions[NGX_HTTP_FLORES_BREAKER_HALF_OPEN],
                &br[i]->service,
                s[i].transitions[NGX_HTTP_FLORES_BREAKER_CLOSED]);
        }
    }

    p = ngx_cpymem(p, rejections, sizeof(rejections) - 1);

    for (i = 0; i < n; i++) {
        if (br[i]->node) {
            p = ngx_sprintf(p, "flores_gateway_breaker_rejections_total"
                               "{service=\"%V\"} %uL\n",
                            &br[i]->service, s[i].rejections);
        }
    }

    b->last = p;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NGX_CHAIN_ERROR;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


static ngx_int_t
ngx_http_flores_breaker_state_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_flores_breaker_req_t  *br;

    br = ngx_http_flores_breaker_get_req(r->main);

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    if (br == NULL || br->state == 0) {
        v->len = 0;
        v->data = (u_char *) "";
        return NGX_OK;
    }

    v->len = ngx_http_flores_breaker_states[br->state].len;
    v->data = ngx_http_flores_breaker_states[br->state].data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_breaker_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_flores_breaker_req_t  *br;

    br = ngx_http_flores_breaker_get_req(r->main);

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    if (br == NULL || br->result == 0) {
        v->len = 0;
        v->data = (u_char *) "";
        return NGX_OK;
    }

    v->len = ngx_http_flores_breaker_results[br->result].len;
    v->data = ngx_http_flores_breaker_results[br->result].data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_breaker_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_flores_breaker_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


static void *
ngx_http_flores_breaker_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_flores_breaker_main_conf_t  *bmcf;

    bmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_breaker_main_conf_t));
    if (bmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&bmcf->profiles, cf->pool, 4,
                       sizeof(ngx_http_flores_breaker_profile_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&bmcf->breakers, cf->pool, 8,
                       sizeof(ngx_http_flores_breaker_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return bmcf;
}


static void *
ngx_http_flores_breaker_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_flores_breaker_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_breaker_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->breaker = NULL;
     */

    conf->use = NGX_CONF_UNSET_PTR;
    conf->status = NGX_CONF_UNSET;

    return conf;
}


/*
 * Resolves the location's "flores_breaker" (its own or inherited) to the
 * breaker of the location's service: every location of one service shares
 * one breaker. Runs after the core module's merge (it comes first in
 * ngx_modules[]), so the location's "flores_service" is known.
 */

static char *
ngx_http_flores_breaker_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_flores_breaker_loc_conf_t  *prev = parent;
    ngx_http_flores_breaker_loc_conf_t  *conf = child;

    ngx_str_t                             *service;
    ngx_uint_t                             i;
    ngx_http_flores_breaker_t             *b, **bp;
    ngx_http_flores_breaker_use_t         *use;
    ngx_http_flores_breaker_profile_t    **profile, *p;
    ngx_http_flores_breaker_main_conf_t   *bmcf;

    ngx_conf_merge_ptr_value(conf->use, prev->use, NULL);

    if (conf->status == NGX_CONF_UNSET) {
        conf->status = 0;
    }

    conf->breaker = NULL;
    use = conf->use;

    if (use == NULL) {
        return NGX_CONF_OK;
    }

    if (use->shm_zone->data == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "unknown zone \"%V\" in \"flores_breaker\" in %V:%ui "
                      "(declare it with \"flores_breaker_zone\")",
                      &use->shm_zone->shm.name, &use->file, use->line);
        return NGX_CONF_ERROR;
    }

    bmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_breaker_module);

    profile = bmcf->profiles.elts;
    p = NULL;

    for (i = 0; i < bmcf->profiles.nelts; i++) {
        if (profile[i]->name.len == use->profile.len
            && ngx_strncmp(profile[i]->name.data, use->profile.data,
                           use->profile.len)
               == 0)
        {
            p = profile[i];
            break;
        }
    }

    if (p == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "unknown profile \"%V\" in \"flores_breaker\" in %V:%ui "
                      "(declare it with \"flores_breaker_profile\")",
                      &use->profile, &use->file, use->line);
        return NGX_CONF_ERROR;
    }

    service = ngx_http_flores_conf_service(cf);

    if (service == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"flores_breaker\" in %V:%ui guards a location without "
                      "\"flores_service\": a breaker belongs to a service, "
                      "name it in the location or an enclosing block",
                      &use->file, use->line);
        return NGX_CONF_ERROR;
    }

    b = ngx_http_flores_breaker_find(bmcf, service);

    if (b != NULL) {
        if (b->shm_zone != use->shm_zone || b->profile != p) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"flores_breaker zone=%V profile=%V\" in %V:%ui "
                          "conflicts with the breaker of service \"%V\" in "
                          "%V:%ui (zone=%V profile=%V): one service has one "
                          "breaker", &use->shm_zone->shm.name, &use->profile,
                          &use->file, use->line, service, &b->file, b->line,
                          &b->shm_zone->shm.name, &b->profile->name);
            return NGX_CONF_ERROR;
        }

        conf->breaker = b;
        return NGX_CONF_OK;
    }

    b = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_breaker_t));
    if (b == NULL) {
        return NGX_CONF_ERROR;
    }

    b->service = *service;
    b->shm_zone = use->shm_zone;
    b->profile = p;
    b->file = use->file;
    b->line = use->line;

    bp = ngx_array_push(&bmcf->breakers);
    if (bp == NULL) {
        return NGX_CONF_ERROR;
    }

    *bp = b;
    conf->breaker = b;

    return NGX_CONF_OK;
}


/* zone and profile names: 1 to 64 of [A-Za-z0-9_.-] */

static ngx_int_t
ngx_http_flores_breaker_name(ngx_conf_t *cf, ngx_str_t *name, ngx_str_t *token,
    const char *what)
{
    u_char  *p;

    if (name->len == 0 || name->len > NGX_HTTP_FLORES_BREAKER_NAME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid %s name \"%V\": 1 to %d characters",
                           what, token, NGX_HTTP_FLORES_BREAKER_NAME_MAX);
        return NGX_ERROR;
    }

    for (p = name->data; p < name->data + name->len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9')
              || *p == '_' || *p == '-' || *p == '.'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid %s name \"%V\": letters, digits, "
                               "\"_\", \"-\" and \".\" only", what, token);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static char *
ngx_http_flores_breaker_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_breaker_main_conf_t  *bmcf = conf;

    u_char                         *p;
    ssize_t                         size;
    ngx_str_t                      *value, name, s;
    ngx_shm_zone_t                 *shm_zone;
    ngx_http_flores_breaker_ctx_t  *ctx;

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\": expected zone=name:size",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 5;

    p = (u_char *) ngx_strchr(name.data, ':');

    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone \"%V\": expected zone=name:size",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = p - name.data;

    if (ngx_http_flores_breaker_name(cf, &name, &value[1], "zone") != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR || size == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small: at least %uzk",
                           &value[1], 8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_breaker_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->name = name;
    ctx->bmcf = bmcf;

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_flores_breaker_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_flores_breaker_init_zone;
    shm_zone->data = ctx;

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_breaker_profile(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_flores_breaker_main_conf_t  *bmcf = conf;

    ngx_str_t                           *value, s;
    ngx_uint_t                           i, ratio, min_calls, seen;
    ngx_http_flores_breaker_profile_t   *p, **pp;

    enum {
        FAILURES = 1, MIN_CALLS = 2, WINDOW = 4, CONSECUTIVE = 8, OPEN = 16,
        PROBES = 32, PROBE_TIMEOUT = 64
    };

    value = cf->args->elts;

    if (ngx_http_flores_breaker_name(cf, &value[1], &value[1], "profile")
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    pp = bmcf->profiles.elts;

    for (i = 0; i < bmcf->profiles.nelts; i++) {
        if (pp[i]->name.len == value[1].len
            && ngx_strncmp(pp[i]->name.data, value[1].data, value[1].len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate profile \"%V\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    p = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_breaker_profile_t));
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    p->name = value[1];

    /* defaults */
    p->min_calls = 10;
    p->window = 10;
    p->probes = 1;
    p->probe_timeout = 60000;
    ngx_str_set(&p->probe_timeout_text, "60s");

    seen = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "failures=", 9) == 0) {

            if (seen & FAILURES) {
                goto duplicate;
            }

            seen |= FAILURES;

            if (value[i].len < 11
                || value[i].data[value[i].len - 1] != '%')
            {
                goto bad_percent;
            }

            ratio = ngx_atoi(value[i].data + 9, value[i].len - 10);

            if (ratio == (ngx_uint_t) NGX_ERROR || ratio < 1 || ratio > 100) {
                goto bad_percent;
            }

            p->ratio = ratio;
            continue;
        }

        if (ngx_strncmp(value[i].data, "min_calls=", 10) == 0) {

            if (seen & MIN_CALLS) {
                goto duplicate;
            }

            seen |= MIN_CALLS;

            if (ngx_http_flores_breaker_parse_count(cf, &value[i], 10, 1,
                                        NGX_HTTP_FLORES_BREAKER_COUNT_MAX,
                                        &min_calls)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            p->min_calls = min_calls;
            continue;
        }

        if (ngx_strncmp(value[i].data, "window=", 7) == 0) {

            if (seen & WINDOW) {
                goto duplicate;
            }

            seen |= WINDOW;

            s.data = value[i].data + 7;
            s.len = value[i].len - 7;

            p->window = ngx_parse_time(&s, 1);

            if (p->window == (time_t) NGX_ERROR
                || p->window < 1
                || p->window > NGX_HTTP_FLORES_BREAKER_WINDOW_MAX)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid window \"%V\": whole seconds "
                                   "from 1s to 1h expected", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "consecutive=", 12) == 0) {

            if (seen & CONSECUTIVE) {
                goto duplicate;
            }

            seen |= CONSECUTIVE;

            if (value[i].len == 15
                && ngx_strncmp(value[i].data + 12, "off", 3) == 0)
            {
                p->consecutive = 0;
                continue;
            }

            if (ngx_http_flores_breaker_parse_count(cf, &value[i], 12, 1,
                                        NGX_HTTP_FLORES_BREAKER_COUNT_MAX,
                                        &p->consecutive)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "open=", 5) == 0) {

            if (seen & OPEN) {
                goto duplicate;
            }

            seen |= OPEN;

            if (ngx_http_flores_breaker_parse_msec(cf, &value[i], 5, &p->open,
                                                   &p->open_text)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "probes=", 7) == 0) {

            if (seen & PROBES) {
                goto duplicate;
            }

            seen |= PROBES;

            if (ngx_http_flores_breaker_parse_count(cf, &value[i], 7, 1,
                                        NGX_HTTP_FLORES_BREAKER_PROBES_MAX,
                                        &p->probes)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "probe_timeout=", 14) == 0) {

            if (seen & PROBE_TIMEOUT) {
                goto duplicate;
            }

            seen |= PROBE_TIMEOUT;

            if (ngx_http_flores_breaker_parse_msec(cf, &value[i], 14,
                                                   &p->probe_timeout,
                                                   &p->probe_timeout_text)
                != NGX_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (!(seen & (FAILURES|CONSECUTIVE)) || (p->ratio == 0 && !p->consecutive))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "profile \"%V\" never opens: it needs "
                           "\"failures=N%%\" or \"consecutive=N\"", &p->name);
        return NGX_CONF_ERROR;
    }

    if (!(seen & OPEN)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "profile \"%V\" must have \"open=time\"", &p->name);
        return NGX_CONF_ERROR;
    }

    if ((seen & MIN_CALLS) && p->ratio == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"min_calls\" of profile \"%V\" needs "
                           "\"failures=N%%\"", &p->name);
        return NGX_CONF_ERROR;
    }

    pp = ngx_array_push(&bmcf->profiles);
    if (pp == NULL) {
        return NGX_CONF_ERROR;
    }

    *pp = p;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;

bad_percent:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid failures \"%V\": a percentage from 1%% to "
                       "100%% expected, e.g. failures=50%%", &value[i]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_flores_breaker_parse_count(ngx_conf_t *cf, ngx_str_t *value,
    size_t skip, ngx_uint_t min, ngx_uint_t max, ngx_uint_t *n)
{
    ngx_int_t  v;

    v = ngx_atoi(value->data + skip, value->len - skip);

    if (v == NGX_ERROR || (ngx_uint_t) v < min || (ngx_uint_t) v > max) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\": a number from %ui to %ui "
                           "expected", value, min, max);
        return NGX_ERROR;
    }

    *n = v;

    return NGX_OK;
}


/* open= and probe_timeout=: 1ms to 1d, nginx's time syntax (30s, 500ms) */

static ngx_int_t
ngx_http_flores_breaker_parse_msec(ngx_conf_t *cf, ngx_str_t *value,
    size_t skip, ngx_msec_t *ms, ngx_str_t *text)
{
    ngx_int_t  v;

    text->data = value->data + skip;
    text->len = value->len - skip;

    v = ngx_parse_time(text, 0);

    if (v == NGX_ERROR || v < 1 || v > NGX_HTTP_FLORES_BREAKER_TIME_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid time \"%V\": from 1ms to 1d expected, "
                           "e.g. 30s or 500ms", value);
        return NGX_ERROR;
    }

    *ms = (ngx_msec_t) v;

    return NGX_OK;
}


static char *
ngx_http_flores_breaker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_breaker_loc_conf_t  *blcf = conf;

    ngx_str_t                      *value, zone;
    ngx_uint_t                      i;
    ngx_http_flores_breaker_use_t  *use;

    if (blcf->use != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {
        blcf->use = NULL;
        return NGX_CONF_OK;
    }

    use = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_breaker_use_t));
    if (use == NULL) {
        return NGX_CONF_ERROR;
    }

    zone.len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            if (zone.len) {
                goto duplicate;
            }

            zone.data = value[i].data + 5;
            zone.len = value[i].len - 5;

            if (zone.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "profile=", 8) == 0) {

            if (use->profile.len) {
                goto duplicate;
            }

            use->profile.data = value[i].data + 8;
            use->profile.len = value[i].len - 8;

            if (use->profile.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid profile \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (zone.len == 0 || use->profile.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone=name\" and "
                           "\"profile=name\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    /* whether the zone and the profile exist is known after http{} */

    use->shm_zone = ngx_shared_memory_add(cf, &zone, 0,
                                          &ngx_http_flores_breaker_module);
    if (use->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    use->file = cf->conf_file->file.name;
    use->line = cf->conf_file->line;

    blcf->use = use;

    return NGX_CONF_OK;

duplicate:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "duplicate parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


static char *
ngx_http_flores_breaker_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_breaker_loc_conf_t  *blcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (blcf->status != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    blcf->status = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_flores_breaker_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_flores_breaker_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt                  *h;
    ngx_http_core_main_conf_t            *cmcf;
    ngx_http_flores_breaker_main_conf_t  *bmcf;

    bmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_breaker_module);

    /* every location has been merged: the breakers are known */

    if (bmcf->breakers.nelts == 0) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_flores_breaker_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_flores_breaker_log_handler;

    if (ngx_http_flores_metrics_add(cf, ngx_http_flores_breaker_metrics, bmcf)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
