
/*
 * Flores Victoria gateway module, metrics: per-request accounting in the log
 * phase into counters in a shared zone (so that they add up across workers),
 * and the Prometheus text endpoint that shows them, followed by the series
 * of every feature that registered a writer (ngx_http_flores_metrics_add).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_flores.h"


/* request classes by status: 1xx (and below) .. 5xx (and above) */
#define NGX_HTTP_FLORES_METRICS_CLASSES   5

/* histogram buckets, upper bounds in milliseconds, then +Inf */
#define NGX_HTTP_FLORES_METRICS_BUCKETS   11

#define NGX_HTTP_FLORES_METRICS_REASONS   11

/* the longest line written, not counting the service name */
#define NGX_HTTP_FLORES_METRICS_LINE      (128 + NGX_ATOMIC_T_LEN)


typedef struct {
    /* per bucket, not cumulative; the last one is +Inf */
    ngx_atomic_t                     count[NGX_HTTP_FLORES_METRICS_BUCKETS + 1];
    /* milliseconds */
    ngx_atomic_t                     sum;
} ngx_http_flores_metrics_hist_t;


/* one per service, found by name when a reload reuses the zone */
typedef struct {
    ngx_queue_t                      queue;
    ngx_atomic_t                     requests[NGX_HTTP_FLORES_METRICS_CLASSES];
    ngx_http_flores_metrics_hist_t   request_time;
    ngx_http_flores_metrics_hist_t   upstream_time;
    size_t                           len;
    u_char                           name[NGX_HTTP_FLORES_SERVICE_MAX];
} ngx_http_flores_metrics_node_t;


typedef struct {
    ngx_queue_t                      queue;
    ngx_atomic_t                     jwt[NGX_HTTP_FLORES_METRICS_REASONS];
} ngx_http_flores_metrics_shctx_t;


/* the zone's data: nodes[i] counts the service of index i, 0 for none */
typedef struct {
    ngx_http_flores_metrics_shctx_t  *sh;
    ngx_slab_pool_t                  *shpool;
    ngx_array_t                      *services;
    ngx_http_flores_metrics_node_t  **nodes;
} ngx_http_flores_metrics_zone_t;


typedef struct {
    ngx_shm_zone_t                   *shm_zone;
    ngx_int_t                         jwt_error_index;
    /* where "flores_metrics" first appeared, for the missing zone error */
    u_char                           *endpoint_file;
    ngx_uint_t                        endpoint_line;
} ngx_http_flores_metrics_main_conf_t;


typedef struct {
    ngx_flag_t                        endpoint;
    ngx_flag_t                        exclude;
} ngx_http_flores_metrics_loc_conf_t;


/* the last service location a request went through */
typedef struct {
    ngx_uint_t                        service;
} ngx_http_flores_metrics_ctx_t;


static ngx_int_t ngx_http_flores_metrics_rewrite_handler(
    ngx_http_request_t *r);
static ngx_http_flores_metrics_ctx_t *ngx_http_flores_metrics_get_ctx(
    ngx_http_request_t *r);
static void ngx_http_flores_metrics_cleanup(void *data);
static ngx_int_t ngx_http_flores_metrics_log_handler(ngx_http_request_t *r);
static void ngx_http_flores_metrics_observe(
    ngx_http_flores_metrics_hist_t *hist, ngx_msec_int_t ms);
static ngx_int_t ngx_http_flores_metrics_handler(ngx_http_request_t *r);
static ngx_chain_t *ngx_http_flores_metrics_write(ngx_http_request_t *r,
    ngx_http_flores_metrics_zone_t *zone);
static u_char *ngx_http_flores_metrics_write_hist(u_char *p, u_char *last,
    const char *name, ngx_http_flores_metrics_node_t *node,
    ngx_http_flores_metrics_hist_t *hist);
static ngx_int_t ngx_http_flores_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_flores_metrics_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_flores_metrics_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_flores_metrics_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_flores_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_flores_metrics_init(ngx_conf_t *cf);


/* "le" labels of the buckets, and their bounds in milliseconds */

static ngx_str_t  ngx_http_flores_metrics_le[] = {
    ngx_string("0.005"), ngx_string("0.01"), ngx_string("0.025"),
    ngx_string("0.05"), ngx_string("0.1"), ngx_string("0.25"),
    ngx_string("0.5"), ngx_string("1"), ngx_string("2.5"),
    ngx_string("5"), ngx_string("10"), ngx_string("+Inf")
};

static ngx_msec_int_t  ngx_http_flores_metrics_bounds[] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};


/* the values of $flores_jwt_error, but for "" (accepted) */
static ngx_str_t  ngx_http_flores_metrics_reasons[] = {
    ngx_string("missing"), ngx_string("malformed"), ngx_string("signature"),
    ngx_string("algorithm"), ngx_string("expired"),
    ngx_string("not_yet_valid"), ngx_string("issuer"),
    ngx_string("audience"), ngx_string("role"), ngx_string("key"),
    ngx_string("revoked")
};


static ngx_str_t  ngx_http_flores_metrics_gateway = ngx_string("gateway");

static ngx_str_t  ngx_http_flores_metrics_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


static ngx_command_t  ngx_http_flores_metrics_commands[] = {

    { ngx_string("flores_metrics_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_metrics_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_flores_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_metrics_exclude"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_metrics_loc_conf_t, exclude),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_metrics_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_flores_metrics_init,          /* postconfiguration */

    ngx_http_flores_metrics_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_metrics_create_loc_conf, /* create location configuration */
    ngx_http_flores_metrics_merge_loc_conf /* merge location configuration */
};


ngx_module_t  ngx_http_flores_metrics_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_metrics_module_ctx,   /* module context */
    ngx_http_flores_metrics_commands,      /* module directives */
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


/*
 * An error_page redirect (a service down: 502 -> @flores_503) ends the
 * request in a location without a service; the service it was meant for is
 * remembered here, as each location is entered, so it is counted there.
 */

static ngx_int_t
ngx_http_flores_metrics_rewrite_handler(ngx_http_request_t *r)
{
    ngx_uint_t                      service;
    ngx_pool_cleanup_t             *cln;
    ngx_http_flores_metrics_ctx_t  *ctx;

    if (r != r->main) {
        return NGX_DECLINED;
    }

    service = ngx_http_flores_service_index(r);

    if (service == 0) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_flores_metrics_get_ctx(r);

    if (ctx == NULL) {
        /* a pool cleanup outlives the ctx, which a redirect clears */

        cln = ngx_pool_cleanup_add(r->pool,
                                   sizeof(ngx_http_flores_metrics_ctx_t));
        if (cln == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        cln->handler = ngx_http_flores_metrics_cleanup;
        ctx = cln->data;

        ngx_http_set_ctx(r, ctx, ngx_http_flores_metrics_module);
    }

    ctx->service = service;

    return NGX_DECLINED;
}


static ngx_http_flores_metrics_ctx_t *
ngx_http_flores_metrics_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t             *cln;
    ngx_http_flores_metrics_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_flores_metrics_module);

    if (ctx == NULL && (r->internal || r->filter_finalize)) {

        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_flores_metrics_cleanup) {
                ctx = cln->data;
                break;
            }
        }
    }

    return ctx;
}


static void
ngx_http_flores_metrics_cleanup(void *data)
{
    /* only a marker: the ctx is found by this handler */
}


static ngx_int_t
ngx_http_flores_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_uint_t                            i, status, service;
    ngx_msec_int_t                        ms, upstream;
    ngx_time_t                           *tp;
    ngx_http_variable_value_t            *vv;
    ngx_http_upstream_state_t            *state;
    ngx_http_flores_metrics_ctx_t        *ctx;
    ngx_http_flores_metrics_node_t       *node;
    ngx_http_flores_metrics_zone_t       *zone;
    ngx_http_flores_metrics_loc_conf_t   *mlcf;
    ngx_http_flores_metrics_main_conf_t  *mmcf;

    if (r != r->main) {
        return NGX_OK;
    }

    mlcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_metrics_module);

    if (mlcf->exclude || mlcf->endpoint) {
        return NGX_OK;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_metrics_module);
    zone = mmcf->shm_zone->data;

    service = ngx_http_flores_service_index(r);

    if (service == 0) {
        ctx = ngx_http_flores_metrics_get_ctx(r);

        if (ctx != NULL) {
            service = ctx->service;
        }
    }

    node = zone->nodes[service];

    /* as $status */

    if (r->err_status) {
        status = r->err_status;

    } else {
        status = r->headers_out.status;
    }

    if (status < 200) {
        i = 0;

    } else if (status >= 500) {
        i = 4;

    } else {
        i = status / 100 - 1;
    }

    (void) ngx_atomic_fetch_add(&node->requests[i], 1);

    /* as $request_time, in milliseconds */

    tp = ngx_timeofday();

    ms = (ngx_msec_int_t)
             ((tp->sec - r->start_sec) * 1000 + (tp->msec - r->start_msec));

    ngx_http_flores_metrics_observe(&node->request_time, ngx_max(ms, 0));

    /* every attempt, of every upstream the request went to */

    if (r->upstream_states != NULL && r->upstream_states->nelts > 0) {
        upstream = 0;
        state = r->upstream_states->elts;

        for (i = 0; i < r->upstream_states->nelts; i++) {
            if (state[i].response_time != (ngx_msec_t) -1) {
                upstream += ngx_max((ngx_msec_int_t) state[i].response_time,
                                    0);
            }
        }

        ngx_http_flores_metrics_observe(&node->upstream_time, upstream);
    }

    vv = ngx_http_get_indexed_variable(r, mmcf->jwt_error_index);

    if (vv != NULL && !vv->not_found && vv->len > 0) {

        for (i = 0; i < NGX_HTTP_FLORES_METRICS_REASONS; i++) {
            if (vv->len == ngx_http_flores_metrics_reasons[i].len
                && ngx_strncmp(vv->data,
                               ngx_http_flores_metrics_reasons[i].data,
                               vv->len)
                   == 0)
            {
                (void) ngx_atomic_fetch_add(&zone->sh->jwt[i], 1);
                break;
            }
        }
    }

    return NGX_OK;
}


static void
ngx_http_flores_metrics_observe(ngx_http_flores_metrics_hist_t *hist,
    ngx_msec_int_t ms)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_FLORES_METRICS_BUCKETS; i++) {
        if (ms <= ngx_http_flores_metrics_bounds[i]) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&hist->count[i], 1);
    (void) ngx_atomic_fetch_add(&hist->sum, (ngx_atomic_int_t) ms);
}


static ngx_int_t
ngx_http_flores_metrics_handler(ngx_http_request_t *r)
{
    off_t                                  len;
    ngx_int_t                              rc;
    ngx_uint_t                             i;
    ngx_chain_t                           *out, *cl, **ll;
    ngx_array_t                           *writers;
    ngx_http_flores_metrics_writer_t      *w;
    ngx_http_flores_metrics_main_conf_t   *mmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    mmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_metrics_module);

    out = ngx_http_flores_metrics_write(r, mmcf->shm_zone->data);
    if (out == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ll = &out->next;

    writers = ngx_http_flores_metrics_writers(r);

    if (writers != NULL) {
        w = writers->elts;

        for (i = 0; i < writers->nelts; i++) {
            cl = w[i].writer(r, w[i].data);

            if (cl == NGX_CHAIN_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            *ll = cl;

            while (*ll) {
                ll = &(*ll)->next;
            }
        }
    }

    len = 0;

    for (cl = out; cl; cl = cl->next) {
        len += ngx_buf_size(cl->buf);

        if (cl->next == NULL) {
            cl->buf->last_buf = 1;
            cl->buf->last_in_chain = 1;
        }
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type = ngx_http_flores_metrics_type;
    r->headers_out.content_type_len = ngx_http_flores_metrics_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    return ngx_http_output_filter(r, out);
}


static ngx_chain_t *
ngx_http_flores_metrics_write(ngx_http_request_t *r,
    ngx_http_flores_metrics_zone_t *zone)
{
    size_t                           size;
    u_char                          *p, *last;
    ngx_buf_t                       *b;
    ngx_uint_t                       i, j, k, n;
    ngx_chain_t                     *cl;
    ngx_http_flores_metrics_node_t  *node;

    static const char  *classes[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

    n = zone->services->nelts + 1;

    /* per service: 5 classes, 2 histograms of 12 buckets, sum and count */

    size = (n * (NGX_HTTP_FLORES_METRICS_CLASSES
                 + 2 * (NGX_HTTP_FLORES_METRICS_BUCKETS + 3))
            + NGX_HTTP_FLORES_METRICS_REASONS + 12)
           * (NGX_HTTP_FLORES_METRICS_LINE + NGX_HTTP_FLORES_SERVICE_MAX);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NULL;
    }

    p = b->last;
    last = b->end;

    p = ngx_slprintf(p, last,
            "# HELP flores_gateway_requests_total Requests answered by the "
            "gateway, by service and status class.\n"
            "# TYPE flores_gateway_requests_total counter\n");

    for (i = 0; i < n; i++) {
        node = zone->nodes[i];

        /* a service called "gateway" shares the node of "none" */

        for (k = 0; k < i && zone->nodes[k] != node; k++) { /* void */ }

        if (k < i) {
            continue;
        }

        for (j = 0; j < NGX_HTTP_FLORES_METRICS_CLASSES; j++) {
            p = ngx_slprintf(p, last,
                    "flores_gateway_requests_total"
                    "{service=\"%*s\",code_class=\"%s\"} %uA\n",
                    node->len, node->name, classes[j], node->requests[j]);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP flores_gateway_request_duration_seconds Time from the "
            "first byte of the request to the last byte of the answer.\n"
            "# TYPE flores_gateway_request_duration_seconds histogram\n");

    for (i = 0; i < n; i++) {
        node = zone->nodes[i];

        for (k = 0; k < i && zone->nodes[k] != node; k++) { /* void */ }

        if (k == i) {
            p = ngx_http_flores_metrics_write_hist(p, last,
                    "flores_gateway_request_duration_seconds",
                    node, &node->request_time);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP flores_gateway_upstream_duration_seconds Time spent "
            "waiting for the service, every attempt of a request "
            "together.\n"
            "# TYPE flores_gateway_upstream_duration_seconds histogram\n");

    for (i = 0; i < n; i++) {
        node = zone->nodes[i];

        for (k = 0; k < i && zone->nodes[k] != node; k++) { /* void */ }

        if (k == i) {
            p = ngx_http_flores_metrics_write_hist(p, last,
                    "flores_gateway_upstream_duration_seconds",
                    node, &node->upstream_time);
        }
    }

    p = ngx_slprintf(p, last,
            "# HELP flores_gateway_jwt_rejections_total Access tokens "
            "refused, by reason.\n"
            "# TYPE flores_gateway_jwt_rejections_total counter\n");

    for (i = 0; i < NGX_HTTP_FLORES_METRICS_REASONS; i++) {
        p = ngx_slprintf(p, last,
                "flores_gateway_jwt_rejections_total{reason=\"%V\"} %uA\n",
                &ngx_http_flores_metrics_reasons[i], zone->sh->jwt[i]);
    }

    if (p == last) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "flores metrics: the answer did not fit in %uz bytes",
                      size);
        return NULL;
    }

    b->last = p;

    cl = ngx_alloc_chain_link(r->pool);
    if (cl == NULL) {
        return NULL;
    }

    cl->buf = b;
    cl->next = NULL;

    return cl;
}


static u_char *
ngx_http_flores_metrics_write_hist(u_char *p, u_char *last, const char *name,
    ngx_http_flores_metrics_node_t *node, ngx_http_flores_metrics_hist_t *hist)
{
    ngx_uint_t          i;
    ngx_atomic_uint_t   total, sum;

    total = 0;

    for (i = 0; i <= NGX_HTTP_FLORES_METRICS_BUCKETS; i++) {
        total += hist->count[i];

        p = ngx_slprintf(p, last, "%s_bucket{service=\"%*s\",le=\"%V\"} %uA\n",
                         name, node->len, node->name,
                         &ngx_http_flores_metrics_le[i], total);
    }

    sum = hist->sum;

    return ngx_slprintf(p, last,
                        "%s_sum{service=\"%*s\"} %uA.%03uA\n"
                        "%s_count{service=\"%*s\"} %uA\n",
                        name, node->len, node->name, sum / 1000, sum % 1000,
                        name, node->len, node->name, total);
}


/*
 * The zone keeps one node per service name. On reload, nodes of services
 * still configured are reused (their counters go on), new ones are added;
 * nodes of services no longer configured stay, unseen, and come back if
 * the service does.
 */

static ngx_int_t
ngx_http_flores_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_flores_metrics_zone_t  *ozone = data;

    size_t                           len;
    ngx_str_t                       *name;
    ngx_uint_t                       i;
    ngx_queue_t                     *q;
    ngx_http_flores_metrics_node_t  *node;
    ngx_http_flores_metrics_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;

    } else {
        zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

        if (shm_zone->shm.exists) {
            zone->sh = zone->shpool->data;

        } else {
            zone->sh = ngx_slab_calloc(zone->shpool,
                                     sizeof(ngx_http_flores_metrics_shctx_t));
            if (zone->sh == NULL) {
                return NGX_ERROR;
            }

            zone->shpool->data = zone->sh;

            ngx_queue_init(&zone->sh->queue);

            len = sizeof(" in flores_metrics_zone \"\"")
                  + shm_zone->shm.name.len;

            zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
            if (zone->shpool->log_ctx == NULL) {
                return NGX_ERROR;
            }

            ngx_sprintf(zone->shpool->log_ctx,
                        " in flores_metrics_zone \"%V\"%Z",
                        &shm_zone->shm.name);
        }
    }

    for (i = 0; i <= zone->services->nelts; i++) {

        if (i == 0) {
            name = &ngx_http_flores_metrics_gateway;

        } else {
            name = &((ngx_str_t *) zone->services->elts)[i - 1];
        }

        node = NULL;

        for (q = ngx_queue_head(&zone->sh->queue);
             q != ngx_queue_sentinel(&zone->sh->queue);
             q = ngx_queue_next(q))
        {
            node = ngx_queue_data(q, ngx_http_flores_metrics_node_t, queue);

            if (node->len == name->len
                && ngx_strncmp(node->name, name->data, name->len) == 0)
            {
                break;
            }

            node = NULL;
        }

        if (node == NULL) {
            node = ngx_slab_calloc(zone->shpool,
                                   sizeof(ngx_http_flores_metrics_node_t));
            if (node == NULL) {
                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "flores_metrics_zone \"%V\" is too small for "
                              "%ui services", &shm_zone->shm.name,
                              zone->services->nelts + 1);
                return NGX_ERROR;
            }

            node->len = name->len;
            ngx_memcpy(node->name, name->data, name->len);

            /* the old workers never walk the queue: no lock needed */
            ngx_queue_insert_tail(&zone->sh->queue, &node->queue);
        }

        zone->nodes[i] = node;
    }

    return NGX_OK;
}


static void *
ngx_http_flores_metrics_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_flores_metrics_main_conf_t  *mmcf;

    mmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_metrics_main_conf_t));
    if (mmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     mmcf->shm_zone = NULL;
     *     mmcf->endpoint_file = NULL;
     *     mmcf->endpoint_line = 0;
     */

    mmcf->jwt_error_index = NGX_ERROR;

    return mmcf;
}


static void *
ngx_http_flores_metrics_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_flores_metrics_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_flores_metrics_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->endpoint = NGX_CONF_UNSET;
    conf->exclude = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_flores_metrics_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_flores_metrics_loc_conf_t  *prev = parent;
    ngx_http_flores_metrics_loc_conf_t  *conf = child;

    /* the endpoint is not inherited: nested locations are counted */

    if (conf->endpoint == NGX_CONF_UNSET) {
        conf->endpoint = 0;
    }

    ngx_conf_merge_value(conf->exclude, prev->exclude, 0);

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_metrics_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_metrics_main_conf_t  *mmcf = conf;

    u_char                          *p;
    ssize_t                          size;
    ngx_str_t                       *value, name, s;
    ngx_http_flores_metrics_zone_t  *zone;

    if (mmcf->shm_zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strncmp(value[1].data, "zone=", 5) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\", "
                           "\"zone=name:size\" expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.data = value[1].data + 5;

    p = (u_char *) ngx_strlchr(name.data, value[1].data + value[1].len, ':');

    if (p == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    name.len = p - name.data;

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    s.data = p + 1;
    s.len = value[1].data + value[1].len - s.data;

    size = ngx_parse_size(&s);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small", &value[1]);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_metrics_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    mmcf->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                           &ngx_http_flores_metrics_module);
    if (mmcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (mmcf->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &name);
        return NGX_CONF_ERROR;
    }

    mmcf->shm_zone->init = ngx_http_flores_metrics_init_zone;
    mmcf->shm_zone->data = zone;

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_metrics_loc_conf_t  *mlcf = conf;

    ngx_http_core_loc_conf_t             *clcf;
    ngx_http_flores_metrics_main_conf_t  *mmcf;

    if (mlcf->endpoint != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    mlcf->endpoint = 1;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_metrics_module);

    if (mmcf->endpoint_file == NULL) {
        mmcf->endpoint_file = cf->conf_file->file.name.data;
        mmcf->endpoint_line = cf->conf_file->line;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_flores_metrics_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_flores_metrics_init(ngx_conf_t *cf)
{
    ngx_str_t                             name;
    ngx_http_handler_pt                  *h;
    ngx_http_core_main_conf_t            *cmcf;
    ngx_http_flores_metrics_zone_t       *zone;
    ngx_http_flores_metrics_main_conf_t  *mmcf;

    mmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_metrics_module);

    if (mmcf->shm_zone == NULL) {

        if (mmcf->endpoint_file != NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"flores_metrics\" in %s:%ui needs a "
                          "\"flores_metrics_zone\" at http level",
                          mmcf->endpoint_file, mmcf->endpoint_line);
            return NGX_ERROR;
        }

        /* nothing is counted: no handler at all */
        return NGX_OK;
    }

    /* every service is known now: the zone has a node for each */

    zone = mmcf->shm_zone->data;
    zone->services = ngx_http_flores_services(cf);

    zone->nodes = ngx_pcalloc(cf->pool, (zone->services->nelts + 1)
                                  * sizeof(ngx_http_flores_metrics_node_t *));
    if (zone->nodes == NULL) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "flores_jwt_error");

    mmcf->jwt_error_index = ngx_http_get_variable_index(cf, &name);
    if (mmcf->jwt_error_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_flores_metrics_rewrite_handler;

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_flores_metrics_log_handler;

    return NGX_OK;
}
