
/*
 * Flores Victoria gateway module, rate limiting: zones of per-key state in
 * shared memory ("flores_limit_zone"), limits on locations ("flores_limit"),
 * the 429 answer, the IETF RateLimit headers, a failures-only mode that
 * counts chosen response statuses, a dry-run mode, $flores_limit_result,
 * $flores_limit_json_<name> for keys taken from a JSON request body, and
 * the zones' counters for the gateway's metrics.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <json-c/json.h>

#include "ngx_http_flores.h"


/*
 * The limiter is GCRA (the generic cell rate algorithm), in nanoseconds of
 * ngx_current_msec's monotonic clock. A zone of rate N per period P has the
 * emission interval T = P / N and the tolerance tau = (N + burst - 1) * T.
 * Each key keeps one number, its theoretical arrival time tat. A request at
 * "now" is admitted when max(tat, now) - now <= tau, and then
 * tat = max(tat, now) + T; otherwise it is refused, and could be admitted
 * max(tat, now) - now - tau later. A key at rest thus admits N + burst
 * requests at once, then one every T: in any interval of length t at most
 * N + burst + floor(t / T) requests pass. A key whose tat has passed is at
 * rest, exactly like a key never seen, so its node may be freed any time.
 *
 * A failures-only limit (status=) must not let parallel attempts through
 * because none of them is answered yet. So each admitted request reserves
 * one unit: the key also keeps the number of requests in flight, pending,
 * each held as a whole T that does not drain, and admits while
 * max(tat, now) - now + pending * T <= tau. When the answer is known the
 * reservation ends: an answer with a counted status becomes a failure that
 * arrived when its request was admitted, tat = max(tat, admitted) + T;
 * any other ending just gives the unit back. Reserved units never drain,
 * and failures applied out of order only raise tat, so in any interval of
 * length t at most N + burst + floor(t / T) of the requests admitted then
 * end as failures or are still in flight: from a key at rest, N + burst
 * parallel attempts reach the service, not one more.
 */

#define NGX_HTTP_FLORES_LIMIT_NSEC        1000000000

/* status= codes one failures-only limit may count */
#define NGX_HTTP_FLORES_LIMIT_STATUS_MAX  8

/* least recently used nodes freed at most to make room for one new key */
#define NGX_HTTP_FLORES_LIMIT_EVICT_MAX   64

/* zone names become metric labels and header tokens: short and plain */
#define NGX_HTTP_FLORES_LIMIT_NAME_MAX    64

#define NGX_HTTP_FLORES_LIMIT_KEY_MAX     65535

/* rate=N r/<k><unit>: the bounds keep every product below 2^63 ns */
#define NGX_HTTP_FLORES_LIMIT_RATE_MAX    1000000000
#define NGX_HTTP_FLORES_LIMIT_WINDOW_MAX  (366 * 86400)

#define NGX_HTTP_FLORES_LIMIT_JSON_PREFIX  "flores_limit_json_"

/* what the email rule trims: SP, HT, LF, VT, FF, CR (fv_is_space) */
#define ngx_http_flores_limit_space(c)                                        \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\v'                 \
     || (c) == '\f' || (c) == '\r')

/* "<zone>";r=<remaining>;t=<seconds> */
#define NGX_HTTP_FLORES_LIMIT_HEADER_LEN                                      \
    (NGX_HTTP_FLORES_LIMIT_NAME_MAX + sizeof("\"\";r=;t=") - 1                \
     + 2 * NGX_INT64_LEN)


typedef struct {
    u_char                           color;
    u_char                           dummy;
    u_short                          len;
    ngx_queue_t                      queue;
    /* theoretical arrival time, ns */
    uint64_t                         tat;
    /* failures-only: requests admitted and not yet answered */
    uint32_t                         pending;
    /* the zone's count of nodes created when this one was */
    uint32_t                         gen;
    u_char                           data[1];
} ngx_http_flores_limit_node_t;


typedef struct {
    ngx_rbtree_t                     rbtree;
    ngx_rbtree_node_t                sentinel;
    /* most recently used first */
    ngx_queue_t                      queue;
    ngx_uint_t                       keys;
    /* nodes created so far: tells a reservation's node from a newer one */
    uint32_t                         gen;
    /* counters for the metrics, changed under the zone's mutex */
    uint64_t                         passed;
    uint64_t                         rejected;
    uint64_t                         dry_run;
    uint64_t                         failures;
    uint64_t                         evicted;
} ngx_http_flores_limit_shctx_t;


typedef struct {
    ngx_http_flores_limit_shctx_t   *sh;
    ngx_slab_pool_t                 *shpool;
    ngx_str_t                        name;
    ngx_http_complex_value_t         key;
    ngx_uint_t                       quota;       /* N */
    ngx_uint_t                       burst;
    time_t                           window;      /* P, seconds */
    uint64_t                         interval;    /* T, ns */
    uint64_t                         tolerance;   /* tau, ns */
    /* "rejected:<zone>", "dry_run:<zone>", "\"<zone>\";q=N;w=P" */
    ngx_str_t                        rejected_result;
    ngx_str_t                        dry_run_result;
    ngx_str_t                        policy;
    /* the key reads the request body ($flores_limit_json_<name>) */
    ngx_uint_t                       body;
} ngx_http_flores_limit_ctx_t;


typedef struct {
    ngx_shm_zone_t                  *shm_zone;
    /* failures-only when nstatus > 0: only these final statuses count */
    ngx_uint_t                       status[NGX_HTTP_FLORES_LIMIT_STATUS_MAX];
    ngx_uint_t                       nstatus;
    ngx_uint_t                       dry_run;
} ngx_http_flores_limit_rule_t;


typedef struct {
    ngx_shm_zone_t                  *shm_zone;
    ngx_str_t                        file;
    ngx_uint_t                       line;
} ngx_http_flores_limit_use_t;


typedef struct {
    /* of ngx_shm_zone_t *: the zones "flores_limit_zone" declared */
    ngx_array_t                      zones;
    /* of ngx_http_flores_limit_use_t: where "flores_limit" names a zone */
    ngx_array_t                      uses;
} ngx_http_flores_limit_main_conf_t;


typedef struct {
    /* of ngx_http_flores_limit_rule_t; NULL after "flores_limit off" */
    ngx_array_t                     *rules;
    ngx_flag_t                       headers;
    ngx_uint_t                       log_level;
} ngx_http_flores_limit_conf_t;


/* one limit's key and what the check found, for this request */
typedef struct {
    ngx_http_flores_limit_rule_t    *rule;
    ngx_http_flores_limit_ctx_t     *ctx;
    ngx_str_t                        key;         /* empty: not limited */
    uint32_t                         hash;
    /* requests the key still admits now; ns until the key is at rest */
    ngx_uint_t                       remaining;
    uint64_t                         wait;
    /* failures-only: when the unit was reserved (ns), in which node */
    uint64_t                         admitted;
    uint32_t                         gen;
    /* tat advanced, or a unit reserved (failures-only) */
    unsigned                         consumed:1;
    /* over the limit: refused, or only logged in dry-run mode */
    unsigned                         refused:1;
    unsigned                         over:1;
} ngx_http_flores_limit_key_t;


typedef enum {
    NGX_HTTP_FLORES_LIMIT_BODY = 0,
    NGX_HTTP_FLORES_LIMIT_BODY_READ,
    NGX_HTTP_FLORES_LIMIT_DECIDED
} ngx_http_flores_limit_state_e;


/*
 * The request's decision. It lives in a pool cleanup so that it survives
 * internal redirects (error_page), which clear module contexts: a request
 * is limited once, by the first location with limits it reaches.
 */
typedef struct {
    ngx_http_flores_limit_state_e    state;
    ngx_http_flores_limit_key_t     *keys;
    ngx_uint_t                       nkeys;
    ngx_str_t                        result;
    unsigned                         headers:1;
    unsigned                         refused:1;
    /* the failures-only reservations have ended */
    unsigned                         settled:1;
    u_char                           ratelimit[NGX_HTTP_FLORES_LIMIT_HEADER_LEN];
    u_char                           retry_after[NGX_INT64_LEN];
} ngx_http_flores_limit_req_t;


static ngx_http_flores_limit_req_t *ngx_http_flores_limit_get_req(
    ngx_http_request_t *r);
static void ngx_http_flores_limit_cleanup(void *data);
static ngx_int_t ngx_http_flores_limit_handler(ngx_http_request_t *r);
static void ngx_http_flores_limit_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_limit_decide(ngx_http_request_t *r,
    ngx_http_flores_limit_conf_t *lcf, ngx_http_flores_limit_req_t *lr);
static ngx_int_t ngx_http_flores_limit_reject(ngx_http_request_t *r,
    ngx_http_flores_limit_req_t *lr, ngx_http_flores_limit_key_t *k);
static void ngx_http_flores_limit_settle(ngx_http_flores_limit_req_t *lr,
    ngx_uint_t status);
static ngx_int_t ngx_http_flores_limit_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_limit_log_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_limit_lookup(ngx_http_flores_limit_key_t *k,
    uint64_t now);
static void ngx_http_flores_limit_refund(ngx_http_flores_limit_key_t *k);
static void ngx_http_flores_limit_end(ngx_http_flores_limit_key_t *k,
    ngx_uint_t failed);
static void ngx_http_flores_limit_state(ngx_http_flores_limit_key_t *k,
    uint64_t used);
static ngx_http_flores_limit_node_t *ngx_http_flores_limit_find(
    ngx_http_flores_limit_ctx_t *ctx, ngx_http_flores_limit_key_t *k);
static ngx_http_flores_limit_node_t *ngx_http_flores_limit_insert(
    ngx_http_flores_limit_ctx_t *ctx, ngx_http_flores_limit_key_t *k);
static void ngx_http_flores_limit_delete(ngx_http_flores_limit_ctx_t *ctx,
    ngx_http_flores_limit_node_t *lr);
static void ngx_http_flores_limit_expire(ngx_http_flores_limit_ctx_t *ctx,
    uint64_t now);
static void ngx_http_flores_limit_rbtree_insert_value(
    ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel);
static ngx_int_t ngx_http_flores_limit_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_chain_t *ngx_http_flores_limit_metrics(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_http_flores_limit_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_limit_json_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_limit_add_variables(ngx_conf_t *cf);
static void *ngx_http_flores_limit_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_flores_limit_create_conf(ngx_conf_t *cf);
static char *ngx_http_flores_limit_merge_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_flores_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_flores_limit_parse_rate(ngx_str_t *value,
    ngx_uint_t *quota, time_t *window);
static char *ngx_http_flores_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_flores_limit_init(ngx_conf_t *cf);


static ngx_conf_enum_t  ngx_http_flores_limit_log_levels[] = {
    { ngx_string("info"), NGX_LOG_INFO },
    { ngx_string("notice"), NGX_LOG_NOTICE },
    { ngx_string("warn"), NGX_LOG_WARN },
    { ngx_string("error"), NGX_LOG_ERR },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_flores_limit_commands[] = {

    { ngx_string("flores_limit_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_2MORE,
      ngx_http_flores_limit_zone,
      0,
      0,
      NULL },

    { ngx_string("flores_limit"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_flores_limit,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_limit_headers"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_limit_conf_t, headers),
      NULL },

    { ngx_string("flores_limit_log_level"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_limit_conf_t, log_level),
      &ngx_http_flores_limit_log_levels },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_limit_module_ctx = {
    ngx_http_flores_limit_add_variables,   /* preconfiguration */
    ngx_http_flores_limit_init,            /* postconfiguration */

    ngx_http_flores_limit_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_limit_create_conf,     /* create location configuration */
    ngx_http_flores_limit_merge_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_flores_limit_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_limit_module_ctx,     /* module context */
    ngx_http_flores_limit_commands,        /* module directives */
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


static ngx_http_variable_t  ngx_http_flores_limit_vars[] = {

    { ngx_string("flores_limit_result"), NULL,
      ngx_http_flores_limit_result_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string(NGX_HTTP_FLORES_LIMIT_JSON_PREFIX), NULL,
      ngx_http_flores_limit_json_variable, 0,
      NGX_HTTP_VAR_NOCACHEABLE|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_http_flores_error_t  ngx_http_flores_limit_error = {
    NGX_HTTP_TOO_MANY_REQUESTS,
    ngx_string("RATE_LIMITED"),
    ngx_string("Demasiadas solicitudes, intenta nuevamente más tarde")
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_http_flores_limit_req_t *
ngx_http_flores_limit_get_req(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_flores_limit_req_t  *lr;

    lr = ngx_http_get_module_ctx(r, ngx_http_flores_limit_module);

    if (lr == NULL && (r->internal || r->filter_finalize)) {

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_flores_limit_cleanup) {
                lr = cln->data;
                ngx_http_set_ctx(r, lr, ngx_http_flores_limit_module);
                break;
            }
        }
    }

    return lr;
}


/*
 * Marks the request's decision among the pool's cleanups, and ends the
 * reservations of a request freed without its log phase having run.
 */

static void
ngx_http_flores_limit_cleanup(void *data)
{
    ngx_http_flores_limit_req_t  *lr = data;

    if (lr->state == NGX_HTTP_FLORES_LIMIT_DECIDED && !lr->settled) {
        ngx_http_flores_limit_settle(lr, 0);
    }
}


/*
 * Runs in the PRECONTENT phase, that is after the whole ACCESS phase: the
 * JWT handler has verified the token, so keys may use $flores_jwt_sub. In
 * the ACCESS phase itself the order of handlers would depend on the order
 * of modules, and under "satisfy any" an earlier handler's NGX_OK would
 * skip the limiter. Requests the access phase refuses (a bad token) are
 * not counted: they are answered without reaching a service.
 */

static ngx_int_t
ngx_http_flores_limit_handler(ngx_http_request_t *r)
{
    size_t                         size;
    ngx_int_t                      rc;
    ngx_uint_t                     i, body;
    ngx_pool_cleanup_t            *cln;
    ngx_http_flores_limit_ctx_t   *ctx;
    ngx_http_flores_limit_req_t   *lr;
    ngx_http_flores_limit_conf_t  *lcf;
    ngx_http_flores_limit_rule_t  *rule;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_limit_module);

    if (lcf->rules == NULL) {
        return NGX_DECLINED;
    }

    lr = ngx_http_flores_limit_get_req(r);

    if (lr != NULL) {
        if (lr->state == NGX_HTTP_FLORES_LIMIT_DECIDED) {
            return NGX_DECLINED;
        }

        if (lr->state == NGX_HTTP_FLORES_LIMIT_BODY) {
            /* woken up while the body is still being read */
            return NGX_DONE;
        }

        return ngx_http_flores_limit_decide(r, lcf, lr);
    }

    size = sizeof(ngx_http_flores_limit_req_t)
           + lcf->rules->nelts * sizeof(ngx_http_flores_limit_key_t);

    cln = ngx_pool_cleanup_add(r->pool, size);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lr = cln->data;
    ngx_memzero(lr, size);

    lr->keys = (ngx_http_flores_limit_key_t *) &lr[1];
    lr->nkeys = lcf->rules->nelts;
    lr->state = NGX_HTTP_FLORES_LIMIT_BODY_READ;

    cln->handler = ngx_http_flores_limit_cleanup;

    ngx_http_set_ctx(r, lr, ngx_http_flores_limit_module);

    body = 0;
    rule = lcf->rules->elts;

    for (i = 0; i < lcf->rules->nelts; i++) {
        ctx = rule[i].shm_zone->data;
        body |= ctx->body;
    }

    if (!body
        || r->request_body
        || (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked))
    {
        return ngx_http_flores_limit_decide(r, lcf, lr);
    }

    /* a key needs the body: read it first, in one memory buffer if it fits */

    lr->state = NGX_HTTP_FLORES_LIMIT_BODY;
    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_flores_limit_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    ngx_http_finalize_request(r, NGX_DONE);
    return NGX_DONE;
}


static void
ngx_http_flores_limit_body_handler(ngx_http_request_t *r)
{
    ngx_http_flores_limit_req_t  *lr;

    lr = ngx_http_flores_limit_get_req(r);

    lr->state = NGX_HTTP_FLORES_LIMIT_BODY_READ;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


static ngx_int_t
ngx_http_flores_limit_decide(ngx_http_request_t *r,
    ngx_http_flores_limit_conf_t *lcf, ngx_http_flores_limit_req_t *lr)
{
    uint64_t                       now;
    ngx_int_t                      rc;
    ngx_uint_t                     i, j, limited;
    ngx_http_flores_limit_key_t   *k, *dry;
    ngx_http_flores_limit_rule_t  *rule;

    lr->state = NGX_HTTP_FLORES_LIMIT_DECIDED;
    lr->headers = lcf->headers ? 1 : 0;

    rule = lcf->rules->elts;
    now = (uint64_t) ngx_current_msec * 1000000;

    limited = 0;
    dry = NULL;

    for (i = 0; i < lr->nkeys; i++) {
        k = &lr->keys[i];

        k->rule = &rule[i];
        k->ctx = rule[i].shm_zone->data;

        if (ngx_http_complex_value(r, &k->ctx->key, &k->key) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (k->key.len == 0) {
            continue;
        }

        if (k->key.len > NGX_HTTP_FLORES_LIMIT_KEY_MAX) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "flores limit: the key of zone \"%V\" is longer "
                          "than %d bytes", &k->ctx->name,
                          NGX_HTTP_FLORES_LIMIT_KEY_MAX);
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        limited = 1;

        /* hashed before the zone is locked */
        k->hash = ngx_crc32_short(k->key.data, k->key.len);

        rc = ngx_http_flores_limit_lookup(k, now);

        if (rc == NGX_OK) {
            continue;
        }

        if (k->rule->dry_run) {
            ngx_log_error(lcf->log_level, r->connection->log, 0,
                          "flores limit: request over the limit of zone "
                          "\"%V\", dry run", &k->ctx->name);

            if (dry == NULL) {
                dry = k;
            }

            continue;
        }

        /* every limit must pass: what the others took is given back */

        for (j = 0; j < i; j++) {
            if (lr->keys[j].key.len && !lr->keys[j].over) {
                ngx_http_flores_limit_refund(&lr->keys[j]);
            }
        }

        lr->settled = 1;

        return ngx_http_flores_limit_reject(r, lr, k);
    }

    if (dry != NULL) {
        lr->result = dry->ctx->dry_run_result;

    } else if (limited) {
        ngx_str_set(&lr->result, "passed");
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_flores_limit_reject(ngx_http_request_t *r,
    ngx_http_flores_limit_req_t *lr, ngx_http_flores_limit_key_t *k)
{
    uint64_t                       retry;
    ngx_table_elt_t               *h;
    ngx_http_flores_limit_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_limit_module);

    lr->refused = 1;
    lr->result = k->ctx->rejected_result;

    /* whole seconds, rounded up: the request is admitted by then */

    retry = k->wait - k->ctx->tolerance;
    retry = (retry + NGX_HTTP_FLORES_LIMIT_NSEC - 1) / NGX_HTTP_FLORES_LIMIT_NSEC;

    if (retry == 0) {
        retry = 1;
    }

    ngx_log_error(lcf->log_level, r->connection->log, 0,
                  "flores limit: request rejected by zone \"%V\", "
                  "retry after %uL s", &k->ctx->name, retry);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = lr->retry_after;
    h->value.len = ngx_sprintf(lr->retry_after, "%uL", retry)
                   - lr->retry_after;

    return ngx_http_flores_reject(r, &ngx_http_flores_limit_error);
}


/*
 * The reservations of failures-only limits end when the answer's header
 * goes out: its status is final then (an error_page has already replaced
 * the service's answer) and the RateLimit header can show the result. An
 * answer with a counted status keeps its unit as a failure; any other
 * status gives it back. A request that ends with no header sent (the
 * client went away, the connection was dropped) gives it back too: the
 * client learnt nothing, whatever the service decided. A failure to reach
 * the service is answered 502, 503 or 504 by the gateway, which a
 * failures-only limit never counts unless told to with status=.
 */

static void
ngx_http_flores_limit_settle(ngx_http_flores_limit_req_t *lr,
    ngx_uint_t status)
{
    ngx_uint_t                    i, j, failed;
    ngx_http_flores_limit_key_t  *k;

    lr->settled = 1;

    for (i = 0; i < lr->nkeys; i++) {
        k = &lr->keys[i];

        if (!k->consumed || k->rule->nstatus == 0) {
            continue;
        }

        failed = 0;

        for (j = 0; j < k->rule->nstatus; j++) {
            if (k->rule->status[j] == status) {
                failed = 1;
                break;
            }
        }

        ngx_http_flores_limit_end(k, failed);
    }
}


static ngx_int_t
ngx_http_flores_limit_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                    i;
    ngx_table_elt_t              *h;
    ngx_http_flores_limit_key_t  *k, *best;
    ngx_http_flores_limit_req_t  *lr;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    lr = ngx_http_flores_limit_get_req(r);

    if (lr == NULL || lr->state != NGX_HTTP_FLORES_LIMIT_DECIDED) {
        return ngx_http_next_header_filter(r);
    }

    if (!lr->settled) {
        ngx_http_flores_limit_settle(lr, r->headers_out.status);
    }

    if (!lr->headers) {
        return ngx_http_next_header_filter(r);
    }

    /* the most restrictive enforced limit: least remaining, longest wait */

    best = NULL;

    for (i = 0; i < lr->nkeys; i++) {
        k = &lr->keys[i];

        if (k->key.len == 0 || k->rule->dry_run) {
            continue;
        }

        if (k->refused) {
            best = k;
            break;
        }

        if (best == NULL
            || k->remaining < best->remaining
            || (k->remaining == best->remaining && k->wait > best->wait))
        {
            best = k;
        }
    }

    if (best == NULL) {
        return ngx_http_next_header_filter(r);
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "RateLimit-Policy");
    h->value = best->ctx->policy;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "RateLimit");
    h->value.data = lr->ratelimit;
    h->value.len = ngx_sprintf(lr->ratelimit, "\"%V\";r=%ui;t=%uL",
                               &best->ctx->name, best->remaining,
                               (best->wait + NGX_HTTP_FLORES_LIMIT_NSEC - 1)
                               / NGX_HTTP_FLORES_LIMIT_NSEC)
                   - lr->ratelimit;

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_flores_limit_log_handler(ngx_http_request_t *r)
{
    ngx_http_flores_limit_req_t  *lr;

    if (r != r->main) {
        /* a logged subrequest shares the main request's pool */
        return NGX_OK;
    }

    lr = ngx_http_flores_limit_get_req(r);

    if (lr == NULL
        || lr->settled
        || lr->state != NGX_HTTP_FLORES_LIMIT_DECIDED)
    {
        return NGX_OK;
    }

    /* no header went out: nothing is counted */
    ngx_http_flores_limit_settle(lr, 0);

    return NGX_OK;
}


/*
 * Checks the key against its zone and, when it is admitted, pays for it:
 * advances tat, or for a failures-only limit reserves a unit. Sets
 * k->remaining and k->wait. NGX_OK: admitted; NGX_BUSY: over the limit
 * (nothing is paid).
 */

static ngx_int_t
ngx_http_flores_limit_lookup(ngx_http_flores_limit_key_t *k, uint64_t now)
{
    uint64_t                       used;
    ngx_http_flores_limit_ctx_t   *ctx;
    ngx_http_flores_limit_node_t  *lr;

    ctx = k->ctx;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_flores_limit_expire(ctx, now);

    lr = ngx_http_flores_limit_find(ctx, k);

    used = 0;

    if (lr != NULL) {
        used = (lr->tat > now) ? lr->tat - now : 0;
        used += (uint64_t) lr->pending * ctx->interval;
    }

    if (used > ctx->tolerance) {
        if (k->rule->dry_run) {
            ctx->sh->dry_run++;

        } else {
            ctx->sh->rejected++;
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);

        k->remaining = 0;
        k->wait = used;
        k->over = 1;
        k->refused = k->rule->dry_run ? 0 : 1;

        return NGX_BUSY;
    }

    if (lr == NULL) {
        lr = ngx_http_flores_limit_insert(ctx, k);
    }

    /* no node even after evictions: the request passes unlimited */

    if (lr != NULL) {
        if (k->rule->nstatus) {
            lr->pending++;
            k->gen = lr->gen;
            k->admitted = now;

        } else {
            lr->tat = now + used + ctx->interval;
        }

        used += ctx->interval;
        k->consumed = 1;
    }

    ctx->sh->passed++;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_http_flores_limit_state(k, used);

    return NGX_OK;
}


/*
 * Undoes ngx_http_flores_limit_lookup() for a key the request passed when
 * another limit refuses it: gives back what was paid and the "passed" count.
 */

static void
ngx_http_flores_limit_refund(ngx_http_flores_limit_key_t *k)
{
    ngx_http_flores_limit_ctx_t   *ctx;
    ngx_http_flores_limit_node_t  *lr;

    ctx = k->ctx;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (k->consumed) {
        lr = ngx_http_flores_limit_find(ctx, k);

        if (k->rule->nstatus) {
            if (lr != NULL && lr->gen == k->gen && lr->pending) {
                lr->pending--;
            }

        } else if (lr != NULL) {
            lr->tat = (lr->tat > ctx->interval) ? lr->tat - ctx->interval : 0;
        }
    }

    if (ctx->sh->passed) {
        ctx->sh->passed--;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    k->consumed = 0;
}


/*
 * Ends a failures-only reservation: the unit is given back, and when the
 * answer failed, counted from the request's admission. A node evicted and
 * created again meanwhile (another gen) no longer holds the reservation;
 * a failure is still counted. Reservations never push a key past tau + T;
 * the cap of one window beyond tau only matters for a failure counted in
 * a node that lost its reservations.
 */

static void
ngx_http_flores_limit_end(ngx_http_flores_limit_key_t *k, ngx_uint_t failed)
{
    uint64_t                       tat, max, now, used;
    ngx_http_flores_limit_ctx_t   *ctx;
    ngx_http_flores_limit_node_t  *lr;

    ctx = k->ctx;
    now = (uint64_t) ngx_current_msec * 1000000;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    lr = ngx_http_flores_limit_find(ctx, k);

    if (lr != NULL && lr->gen == k->gen && lr->pending) {
        lr->pending--;
    }

    if (failed) {
        if (lr == NULL) {
            lr = ngx_http_flores_limit_insert(ctx, k);
        }

        if (lr != NULL) {
            tat = (lr->tat > k->admitted ? lr->tat : k->admitted)
                  + ctx->interval;
            max = now + ctx->tolerance
                  + (uint64_t) ctx->window * NGX_HTTP_FLORES_LIMIT_NSEC;

            lr->tat = tat < max ? tat : max;
        }

        ctx->sh->failures++;
    }

    used = 0;

    if (lr != NULL) {
        used = (lr->tat > now) ? lr->tat - now : 0;
        used += (uint64_t) lr->pending * ctx->interval;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    k->consumed = 0;

    ngx_http_flores_limit_state(k, used);
}


/* what the key admits now, when "used" ns of its tolerance are taken */

static void
ngx_http_flores_limit_state(ngx_http_flores_limit_key_t *k, uint64_t used)
{
    k->remaining = (used <= k->ctx->tolerance)
                   ? (ngx_uint_t) ((k->ctx->tolerance - used)
                                   / k->ctx->interval) + 1
                   : 0;
    k->wait = used;
}


/* under the zone's mutex; a node found becomes the most recently used */

static ngx_http_flores_limit_node_t *
ngx_http_flores_limit_find(ngx_http_flores_limit_ctx_t *ctx,
    ngx_http_flores_limit_key_t *k)
{
    ngx_int_t                      rc;
    ngx_rbtree_node_t             *node, *sentinel;
    ngx_http_flores_limit_node_t  *lr;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (k->hash < node->key) {
            node = node->left;
            continue;
        }

        if (k->hash > node->key) {
            node = node->right;
            continue;
        }

        /* k->hash == node->key */

        lr = (ngx_http_flores_limit_node_t *) &node->color;

        rc = ngx_memn2cmp(k->key.data, lr->data, k->key.len, (size_t) lr->len);

        if (rc == 0) {
            ngx_queue_remove(&lr->queue);
            ngx_queue_insert_head(&ctx->sh->queue, &lr->queue);

            return lr;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * Under the zone's mutex. A full zone frees its least recently used keys
 * (their state is lost: they start again at rest) until the new one fits,
 * so new keys are always served.
 */

static ngx_http_flores_limit_node_t *
ngx_http_flores_limit_insert(ngx_http_flores_limit_ctx_t *ctx,
    ngx_http_flores_limit_key_t *k)
{
    size_t                         size;
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_rbtree_node_t             *node;
    ngx_http_flores_limit_node_t  *lr;

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_flores_limit_node_t, data)
           + k->key.len;

    node = ngx_slab_alloc_locked(ctx->shpool, size);

    for (n = 0; node == NULL && n < NGX_HTTP_FLORES_LIMIT_EVICT_MAX; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        lr = ngx_queue_data(q, ngx_http_flores_limit_node_t, queue);

        ngx_http_flores_limit_delete(ctx, lr);
        ctx->sh->evicted++;

        node = ngx_slab_alloc_locked(ctx->shpool, size);
    }

    if (node == NULL) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "flores limit: zone \"%V\" has no room for a new key, "
                      "request not limited", &ctx->name);
        return NULL;
    }

    node->key = k->hash;

    lr = (ngx_http_flores_limit_node_t *) &node->color;

    lr->len = (u_short) k->key.len;
    lr->tat = 0;
    lr->pending = 0;
    lr->gen = ++ctx->sh->gen;

    ngx_memcpy(lr->data, k->key.data, k->key.len);

    ngx_rbtree_insert(&ctx->sh->rbtree, node);
    ngx_queue_insert_head(&ctx->sh->queue, &lr->queue);

    ctx->sh->keys++;

    return lr;
}


static void
ngx_http_flores_limit_delete(ngx_http_flores_limit_ctx_t *ctx,
    ngx_http_flores_limit_node_t *lr)
{
    ngx_rbtree_node_t  *node;

    ngx_queue_remove(&lr->queue);

    node = (ngx_rbtree_node_t *)
               ((u_char *) lr - offsetof(ngx_rbtree_node_t, color));

    ngx_rbtree_delete(&ctx->sh->rbtree, node);
    ngx_slab_free_locked(ctx->shpool, node);

    ctx->sh->keys--;
}


/*
 * Under the zone's mutex: frees up to two least recently used keys at rest
 * (no reservation in flight either).
 */

static void
ngx_http_flores_limit_expire(ngx_http_flores_limit_ctx_t *ctx, uint64_t now)
{
    ngx_uint_t                     n;
    ngx_queue_t                   *q;
    ngx_http_flores_limit_node_t  *lr;

    for (n = 0; n < 2; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        lr = ngx_queue_data(q, ngx_http_flores_limit_node_t, queue);

        if (lr->tat > now || lr->pending) {
            return;
        }

        ngx_http_flores_limit_delete(ctx, lr);
    }
}


static void
ngx_http_flores_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t             **p;
    ngx_http_flores_limit_node_t   *lrn, *lrnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            lrn = (ngx_http_flores_limit_node_t *) &node->color;
            lrnt = (ngx_http_flores_limit_node_t *) &temp->color;

            p = (ngx_memn2cmp(lrn->data, lrnt->data, lrn->len, lrnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * A reload keeps the zone's keys when its size is unchanged: nginx passes
 * the previous configuration's ctx, whose shared state the new one adopts
 * (old workers finishing their requests keep using it too).
 */

static ngx_int_t
ngx_http_flores_limit_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_flores_limit_ctx_t  *octx = data;

    size_t                        len;
    ngx_http_flores_limit_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        if (ctx->key.value.len != octx->key.value.len
            || ngx_strncmp(ctx->key.value.data, octx->key.value.data,
                           ctx->key.value.len)
               != 0)
        {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "flores_limit_zone \"%V\" now uses the key \"%V\" "
                          "instead of \"%V\": the old keys age out",
                          &shm_zone->shm.name, &ctx->key.value,
                          &octx->key.value);
        }

        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;

        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        ctx->sh = ctx->shpool->data;

        return NGX_OK;
    }

    ctx->sh = ngx_slab_calloc(ctx->shpool,
                              sizeof(ngx_http_flores_limit_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_flores_limit_rbtree_insert_value);

    ngx_queue_init(&ctx->sh->queue);

    len = sizeof(" in flores_limit_zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in flores_limit_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is normal: it evicts, and says so in the metrics */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * The zones' counters in the Prometheus text format, for the gateway's
 * metrics endpoint; each zone is read under its mutex.
 */

#define ngx_http_flores_limit_series(name, help, type)                        \
    "# HELP " name " " help "\n# TYPE " name " " type "\n"

static ngx_chain_t *
ngx_http_flores_limit_metrics(ngx_http_request_t *r, void *data)
{
    ngx_http_flores_limit_main_conf_t  *lmcf = data;

    u_char                          *p;
    size_t                           len;
    ngx_buf_t                       *b;
    ngx_uint_t                       i, n;
    ngx_chain_t                     *cl;
    ngx_shm_zone_t                 **zone;
    ngx_http_flores_limit_ctx_t     *ctx;
    ngx_http_flores_limit_shctx_t   *sh, *copy;

    static u_char  requests[] = ngx_http_flores_limit_series(
        "flores_gateway_ratelimit_requests_total",
        "Requests checked against a rate-limit zone, by result "
        "(passed, rejected, dry_run: over the limit in dry-run mode).",
        "counter");

    static u_char  rejections[] = ngx_http_flores_limit_series(
        "flores_gateway_ratelimit_rejections_total",
        "Requests over a rate-limit zone's limit: refused (enforce) or "
        "only logged (dry_run).",
        "counter");

    static u_char  failures[] = ngx_http_flores_limit_series(
        "flores_gateway_ratelimit_failures_total",
        "Answers counted by a failures-only rate limit.",
        "counter");

    static u_char  evictions[] = ngx_http_flores_limit_series(
        "flores_gateway_ratelimit_evictions_total",
        "Keys a full rate-limit zone dropped to make room for new ones.",
        "counter");

    static u_char  keys[] = ngx_http_flores_limit_series(
        "flores_gateway_ratelimit_keys",
        "Keys a rate-limit zone currently holds.",
        "gauge");

    n = lmcf->zones.nelts;

    if (n == 0) {
        return NULL;
    }

    zone = lmcf->zones.elts;

    copy = ngx_palloc(r->pool, n * sizeof(ngx_http_flores_limit_shctx_t));
    if (copy == NULL) {
        return NGX_CHAIN_ERROR;
    }

    len = sizeof(requests) + sizeof(rejections) + sizeof(failures)
          + sizeof(evictions) + sizeof(keys);

    for (i = 0; i < n; i++) {
        ctx = zone[i]->data;
        sh = ctx->sh;

        ngx_shmtx_lock(&ctx->shpool->mutex);
        ngx_memcpy(&copy[i], sh, sizeof(ngx_http_flores_limit_shctx_t));
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        /* 8 series, each at most 96 bytes of text besides the zone name */
        len += 8 * (96 + ctx->name.len + NGX_INT64_LEN);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_CHAIN_ERROR;
    }

    p = ngx_cpymem(b->last, requests, sizeof(requests) - 1);

    for (i = 0; i < n; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p,
                "flores_gateway_ratelimit_requests_total"
                "{zone=\"%V\",result=\"passed\"} %uL\n"
                "flores_gateway_ratelimit_requests_total"
                "{zone=\"%V\",result=\"rejected\"} %uL\n"
                "flores_gateway_ratelimit_requests_total"
                "{zone=\"%V\",result=\"dry_run\"} %uL\n",
                &ctx->name, copy[i].passed, &ctx->name, copy[i].rejected,
                &ctx->name, copy[i].dry_run);
    }

    p = ngx_cpymem(p, rejections, sizeof(rejections) - 1);

    for (i = 0; i < n; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p,
                "flores_gateway_ratelimit_rejections_total"
                "{zone=\"%V\",mode=\"enforce\"} %uL\n"
                "flores_gateway_ratelimit_rejections_total"
                "{zone=\"%V\",mode=\"dry_run\"} %uL\n",
                &ctx->name, copy[i].rejected, &ctx->name, copy[i].dry_run);
    }

    p = ngx_cpymem(p, failures, sizeof(failures) - 1);

    for (i = 0; i < n; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p, "flores_gateway_ratelimit_failures_total"
                           "{zone=\"%V\"} %uL\n",
                        &ctx->name, copy[i].failures);
    }

    p = ngx_cpymem(p, evictions, sizeof(evictions) - 1);

    for (i = 0; i < n; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p, "flores_gateway_ratelimit_evictions_total"
                           "{zone=\"%V\"} %uL\n",
                        &ctx->name, copy[i].evicted);
    }

    p = ngx_cpymem(p, keys, sizeof(keys) - 1);

    for (i = 0; i < n; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p, "flores_gateway_ratelimit_keys{zone=\"%V\"} %ui\n",
                        &ctx->name, copy[i].keys);
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
ngx_http_flores_limit_result_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_flores_limit_req_t  *lr;

    lr = ngx_http_flores_limit_get_req(r->main);

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    if (lr == NULL) {
        v->len = 0;
        v->data = (u_char *) "";
        return NGX_OK;
    }

    v->len = lr->result.len;
    v->data = lr->result.len ? lr->result.data : (u_char *) "";

    return NGX_OK;
}


/*
 * $flores_limit_json_<name>: the top-level string member <name> of the
 * request's JSON body, normalised by the services' one rule for emails:
 * leading and trailing SP, HT, LF, VT, FF and CR removed, ASCII letters in
 * lower case, nothing else changed (lib/fv_valid.c reads the email the
 * same way, so one account is one key: "\fAna@X.cl " is "ana@x.cl").
 * Empty when the body was not read (only a limit whose key uses the
 * variable reads it), is not in memory, is not a JSON object, or has no
 * such string member.
 */

static ngx_int_t
ngx_http_flores_limit_json_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t  *var = (ngx_str_t *) data;

    u_char              *p, *body, *last, *name;
    size_t               len, slen;
    ngx_int_t            rc;
    ngx_buf_t           *buf;
    const char          *s;
    ngx_chain_t         *cl;
    json_object         *obj, *member;
    json_tokener        *tok;
    ngx_http_request_t  *mr;

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->len = 0;
    v->data = (u_char *) "";

    mr = r->main;

    if (mr->request_body == NULL
        || mr->request_body->bufs == NULL
        || mr->request_body->temp_file)
    {
        return NGX_OK;
    }

    len = 0;

    for (cl = mr->request_body->bufs; cl; cl = cl->next) {
        buf = cl->buf;

        if (buf->in_file || buf->file) {
            return NGX_OK;
        }

        len += buf->last - buf->pos;
    }

    if (len == 0 || len > NGX_MAX_INT32_VALUE) {
        return NGX_OK;
    }

    if (mr->request_body->bufs->next == NULL) {
        body = mr->request_body->bufs->buf->pos;

    } else {
        body = ngx_pnalloc(r->pool, len);
        if (body == NULL) {
            return NGX_ERROR;
        }

        p = body;

        for (cl = mr->request_body->bufs; cl; cl = cl->next) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    name = ngx_pnalloc(r->pool, var->len
                                - (sizeof(NGX_HTTP_FLORES_LIMIT_JSON_PREFIX) - 1)
                                + 1);
    if (name == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(name, var->data + sizeof(NGX_HTTP_FLORES_LIMIT_JSON_PREFIX) - 1,
                var->len - (sizeof(NGX_HTTP_FLORES_LIMIT_JSON_PREFIX) - 1) + 1);

    tok = json_tokener_new();
    if (tok == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_OK;

    obj = json_tokener_parse_ex(tok, (const char *) body, (int) len);

    if (obj == NULL
        || json_tokener_get_error(tok) != json_tokener_success
        || !json_object_is_type(obj, json_type_object)
        || !json_object_object_get_ex(obj, (const char *) name, &member)
        || !json_object_is_type(member, json_type_string))
    {
        goto done;
    }

    s = json_object_get_string(member);
    slen = (size_t) json_object_get_string_len(member);

    while (slen && ngx_http_flores_limit_space(*s)) {
        s++;
        slen--;
    }

    while (slen && ngx_http_flores_limit_space(s[slen - 1])) {
        slen--;
    }

    if (slen == 0) {
        goto done;
    }

    p = ngx_pnalloc(r->pool, slen);
    if (p == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    v->data = p;
    v->len = slen;

    for (last = p + slen; p < last; p++, s++) {
        *p = ngx_tolower((u_char) *s);
    }

done:

    if (obj != NULL) {
        json_object_put(obj);
    }

    json_tokener_free(tok);

    return rc;
}


static ngx_int_t
ngx_http_flores_limit_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_flores_limit_vars; v->name.len; v++) {
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
ngx_http_flores_limit_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_flores_limit_main_conf_t  *lmcf;

    lmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_limit_main_conf_t));
    if (lmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&lmcf->zones, cf->pool, 4, sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    if (ngx_array_init(&lmcf->uses, cf->pool, 8,
                       sizeof(ngx_http_flores_limit_use_t))
        != NGX_OK)
    {
        return NULL;
    }

    return lmcf;
}


static void *
ngx_http_flores_limit_create_conf(ngx_conf_t *cf)
{
    ngx_http_flores_limit_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_limit_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->rules = NGX_CONF_UNSET_PTR;
    conf->headers = NGX_CONF_UNSET;
    conf->log_level = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_flores_limit_merge_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_flores_limit_conf_t *prev = parent;
    ngx_http_flores_limit_conf_t *conf = child;

    /* a location's own limits replace the inherited ones */
    ngx_conf_merge_ptr_value(conf->rules, prev->rules, NULL);

    ngx_conf_merge_value(conf->headers, prev->headers, 1);
    ngx_conf_merge_uint_value(conf->log_level, prev->log_level, NGX_LOG_WARN);

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_limit_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    u_char                             *p;
    size_t                              len;
    ssize_t                             size;
    uint64_t                            period;
    ngx_str_t                          *value, name, s;
    ngx_int_t                           burst;
    ngx_uint_t                          i, quota;
    time_t                              window;
    ngx_shm_zone_t                     *shm_zone, **zone;
    ngx_http_flores_limit_ctx_t        *ctx;
    ngx_http_compile_complex_value_t    ccv;
    ngx_http_flores_limit_main_conf_t  *lmcf;

    value = cf->args->elts;

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_limit_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    size = 0;
    name.len = 0;
    quota = 0;
    window = 0;
    burst = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {

            if (ctx->key.value.data != NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            if (s.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid key \"%V\": empty", &value[i]);
                return NGX_CONF_ERROR;
            }

            ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

            ccv.cf = cf;
            ccv.value = &s;
            ccv.complex_value = &ctx->key;

            if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid key \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (ngx_strlcasestrn(s.data, s.data + s.len,
                                 (u_char *) NGX_HTTP_FLORES_LIMIT_JSON_PREFIX,
                                 sizeof(NGX_HTTP_FLORES_LIMIT_JSON_PREFIX) - 2)
                != NULL)
            {
                ctx->body = 1;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            if (name.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\": expected "
                                   "zone=name:size", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            if (name.len == 0 || name.len > NGX_HTTP_FLORES_LIMIT_NAME_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone name \"%V\": 1 to %d "
                                   "characters", &value[i],
                                   NGX_HTTP_FLORES_LIMIT_NAME_MAX);
                return NGX_CONF_ERROR;
            }

            for (p = name.data; p < name.data + name.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                      || (*p >= '0' && *p <= '9')
                      || *p == '_' || *p == '-' || *p == '.'))
                {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid zone name \"%V\": letters, "
                                       "digits, \"_\", \"-\" and \".\" only",
                                       &value[i]);
                    return NGX_CONF_ERROR;
                }
            }

            s.data = name.data + name.len + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR || size == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small: at least %uzk",
                                   &value[i], 8 * ngx_pagesize / 1024);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "rate=", 5) == 0) {

            if (quota) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (ngx_http_flores_limit_parse_rate(&value[i], &quota, &window)
                != NGX_OK)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid rate \"%V\": expected "
                                   "rate=<N>r/<s|m|h|d>, e.g. rate=300r/m "
                                   "or rate=10r/15m", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {

            burst = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (burst == NGX_ERROR || burst > NGX_HTTP_FLORES_LIMIT_RATE_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone=name:size\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    if (ctx->key.value.data == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"key=...\" (zone \"%V\")",
                           &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    if (quota == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"rate=...\" (zone \"%V\")",
                           &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    period = (uint64_t) window * NGX_HTTP_FLORES_LIMIT_NSEC;

    ctx->quota = quota;
    ctx->burst = burst;
    ctx->window = window;
    ctx->interval = period / quota;

    if (ctx->interval < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "rate of zone \"%V\" is too high: at most one "
                           "request per microsecond", &name);
        return NGX_CONF_ERROR;
    }

    if ((uint64_t) burst > ((uint64_t) 1 << 62) / ctx->interval) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "burst of zone \"%V\" is too large for its rate",
                           &name);
        return NGX_CONF_ERROR;
    }

    ctx->tolerance = (uint64_t) (quota + burst - 1) * ctx->interval;
    ctx->name = name;

    len = sizeof("rejected:") - 1 + name.len;
    ctx->rejected_result.data = ngx_pnalloc(cf->pool, len);
    if (ctx->rejected_result.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->rejected_result.len = ngx_sprintf(ctx->rejected_result.data,
                                           "rejected:%V", &name)
                               - ctx->rejected_result.data;

    len = sizeof("dry_run:") - 1 + name.len;
    ctx->dry_run_result.data = ngx_pnalloc(cf->pool, len);
    if (ctx->dry_run_result.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->dry_run_result.len = ngx_sprintf(ctx->dry_run_result.data,
                                          "dry_run:%V", &name)
                              - ctx->dry_run_result.data;

    len = sizeof("\"\";q=;w=") - 1 + name.len + 2 * NGX_INT64_LEN;
    ctx->policy.data = ngx_pnalloc(cf->pool, len);
    if (ctx->policy.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ctx->policy.len = ngx_sprintf(ctx->policy.data, "\"%V\";q=%ui;w=%T",
                                  &name, quota, window)
                      - ctx->policy.data;

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_flores_limit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate zone \"%V\"", &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_flores_limit_init_zone;
    shm_zone->data = ctx;

    lmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_limit_module);

    zone = ngx_array_push(&lmcf->zones);
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    *zone = shm_zone;

    return NGX_CONF_OK;
}


/* "rate=<N>r/<unit>", unit: s, m, h, d, optionally after a count: "15m" */

static ngx_int_t
ngx_http_flores_limit_parse_rate(ngx_str_t *value, ngx_uint_t *quota,
    time_t *window)
{
    u_char      *p, *last;
    ngx_uint_t   n, k, unit;

    p = value->data + sizeof("rate=") - 1;
    last = value->data + value->len;

    for (n = 0; p < last && *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (*p - '0');

        if (n > NGX_HTTP_FLORES_LIMIT_RATE_MAX) {
            return NGX_ERROR;
        }
    }

    if (n == 0 || last - p < 3 || p[0] != 'r' || p[1] != '/') {
        return NGX_ERROR;
    }

    p += 2;

    if (*p >= '0' && *p <= '9') {
        for (k = 0; p < last && *p >= '0' && *p <= '9'; p++) {
            k = k * 10 + (*p - '0');

            if (k > NGX_HTTP_FLORES_LIMIT_WINDOW_MAX) {
                return NGX_ERROR;
            }
        }

    } else {
        k = 1;
    }

    if (k == 0 || last - p != 1) {
        return NGX_ERROR;
    }

    switch (*p) {
    case 's':
        unit = 1;
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return NGX_ERROR;
    }

    if (k > NGX_HTTP_FLORES_LIMIT_WINDOW_MAX / unit) {
        return NGX_ERROR;
    }

    *quota = n;
    *window = (time_t) (k * unit);

    return NGX_OK;
}


static char *
ngx_http_flores_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_limit_conf_t  *lcf = conf;

    ngx_int_t                           status;
    ngx_str_t                          *value, s, name;
    u_char                             *p, *last, *comma;
    ngx_uint_t                          i;
    ngx_shm_zone_t                     *shm_zone;
    ngx_http_flores_limit_use_t        *use;
    ngx_http_flores_limit_rule_t       *rule, *rules;
    ngx_http_flores_limit_main_conf_t  *lmcf;

    value = cf->args->elts;

    if (cf->args->nelts == 2 && ngx_strcmp(value[1].data, "off") == 0) {

        if (lcf->rules != NGX_CONF_UNSET_PTR) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"flores_limit off\" cannot be combined "
                               "with other \"flores_limit\" lines");
            return NGX_CONF_ERROR;
        }

        lcf->rules = NULL;
        return NGX_CONF_OK;
    }

    if (lcf->rules == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"flores_limit off\" cannot be combined "
                           "with other \"flores_limit\" lines");
        return NGX_CONF_ERROR;
    }

    if (lcf->rules == NGX_CONF_UNSET_PTR) {
        lcf->rules = ngx_array_create(cf->pool, 2,
                                      sizeof(ngx_http_flores_limit_rule_t));
        if (lcf->rules == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    rule = ngx_array_push(lcf->rules);
    if (rule == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(rule, sizeof(ngx_http_flores_limit_rule_t));

    name.len = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            if (name.len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "duplicate parameter \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.data = value[i].data + 5;
            name.len = value[i].len - 5;

            if (name.len == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            rule->dry_run = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "status=", 7) == 0) {

            p = value[i].data + 7;
            last = value[i].data + value[i].len;

            do {
                comma = ngx_strlchr(p, last, ',');
                s.data = p;
                s.len = (comma ? comma : last) - p;

                status = ngx_atoi(s.data, s.len);

                if (status < 100 || status > 599) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid status \"%V\" in \"%V\"",
                                       &s, &value[i]);
                    return NGX_CONF_ERROR;
                }

                if (rule->nstatus == NGX_HTTP_FLORES_LIMIT_STATUS_MAX) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "too many statuses in \"%V\": "
                                       "at most %d", &value[i],
                                       NGX_HTTP_FLORES_LIMIT_STATUS_MAX);
                    return NGX_CONF_ERROR;
                }

                rule->status[rule->nstatus++] = status;

                p = comma ? comma + 1 : last;

            } while (comma);

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" must have \"zone=name\"", &cmd->name);
        return NGX_CONF_ERROR;
    }

    shm_zone = ngx_shared_memory_add(cf, &name, 0,
                                     &ngx_http_flores_limit_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    rules = lcf->rules->elts;

    for (i = 0; i < lcf->rules->nelts - 1; i++) {
        if (rules[i].shm_zone == shm_zone) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate limit: zone \"%V\" is already "
                               "used here", &name);
            return NGX_CONF_ERROR;
        }
    }

    rule->shm_zone = shm_zone;

    /* whether the zone exists is known once the http{} block is parsed */

    lmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_limit_module);

    use = ngx_array_push(&lmcf->uses);
    if (use == NULL) {
        return NGX_CONF_ERROR;
    }

    use->shm_zone = shm_zone;
    use->file = cf->conf_file->file.name;
    use->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_flores_limit_init(ngx_conf_t *cf)
{
    ngx_uint_t                          i;
    ngx_http_handler_pt                *h;
    ngx_http_core_main_conf_t          *cmcf;
    ngx_http_flores_limit_use_t        *use;
    ngx_http_flores_limit_main_conf_t  *lmcf;

    lmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_limit_module);

    use = lmcf->uses.elts;

    for (i = 0; i < lmcf->uses.nelts; i++) {
        if (use[i].shm_zone->data == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown zone \"%V\" in \"flores_limit\" in %V:%ui "
                          "(declare it with \"flores_limit_zone\")",
                          &use[i].shm_zone->shm.name, &use[i].file,
                          use[i].line);
            return NGX_ERROR;
        }
    }

    if (lmcf->zones.nelts == 0) {
        return NGX_OK;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_flores_limit_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_flores_limit_log_handler;

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_flores_limit_header_filter;

    if (ngx_http_flores_metrics_add(cf, ngx_http_flores_limit_metrics, lmcf)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
