
/*
 * Flores Victoria gateway module, health: GET /health asks every service's
 * own health location at once (parallel in-memory subrequests), adds what
 * its circuit breaker says, and answers ok, degraded or down.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_flores.h"


#define NGX_HTTP_FLORES_HEALTH_OK         0
#define NGX_HTTP_FLORES_HEALTH_DEGRADED   1
#define NGX_HTTP_FLORES_HEALTH_DOWN       2


typedef struct {
    ngx_str_t                        service;
    ngx_str_t                        uri;
    ngx_str_t                        args;
    ngx_flag_t                       critical;
} ngx_http_flores_health_check_t;


typedef struct {
    ngx_flag_t                       enable;
    /* of ngx_http_flores_health_check_t */
    ngx_array_t                     *checks;
} ngx_http_flores_health_loc_conf_t;


typedef struct ngx_http_flores_health_ctx_s  ngx_http_flores_health_ctx_t;

typedef struct {
    ngx_http_flores_health_ctx_t    *ctx;
    ngx_http_flores_health_check_t  *check;
    ngx_msec_t                       start;
    ngx_msec_t                       latency;
    ngx_uint_t                       up;
    ngx_uint_t                       done;
} ngx_http_flores_health_result_t;


struct ngx_http_flores_health_ctx_s {
    ngx_uint_t                       pending;
    ngx_uint_t                       answered;
    ngx_uint_t                       nresults;
    ngx_http_flores_health_result_t *results;
};


static ngx_int_t ngx_http_flores_health_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_health_done(ngx_http_request_t *r,
    void *data, ngx_int_t rc);
static void ngx_http_flores_health_finish(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_health_answer(ngx_http_request_t *r,
    ngx_http_flores_health_ctx_t *ctx);
static void *ngx_http_flores_health_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_flores_health_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_flores_health(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_flores_health_check(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


static ngx_str_t  ngx_http_flores_health_states[] = {
    ngx_string("ok"), ngx_string("degraded"), ngx_string("down")
};


/* indexed by NGX_HTTP_FLORES_BREAKER_*; no breaker reads as closed */
static ngx_str_t  ngx_http_flores_health_circuits[] = {
    ngx_string("closed"), ngx_string("closed"), ngx_string("open"),
    ngx_string("half_open")
};


static ngx_str_t  ngx_http_flores_health_json = ngx_string("application/json");


static ngx_command_t  ngx_http_flores_health_commands[] = {

    { ngx_string("flores_health"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_flores_health,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_health_check"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_flores_health_check,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_health_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_health_create_loc_conf, /* create location configuration */
    ngx_http_flores_health_merge_loc_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_flores_health_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_health_module_ctx,    /* module context */
    ngx_http_flores_health_commands,       /* module directives */
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
 * Every check is a subrequest started at once; each one's end is noted by
 * ngx_http_flores_health_done(), and the answer is written when the last
 * one has ended. How long a check may take is bounded by its location's
 * timeouts (fastcgi_connect_timeout, fastcgi_read_timeout, ...).
 */

static ngx_int_t
ngx_http_flores_health_handler(ngx_http_request_t *r)
{
    ngx_int_t                           rc;
    ngx_uint_t                          i, n;
    ngx_http_request_t                 *sr;
    ngx_http_post_subrequest_t         *ps;
    ngx_http_flores_health_ctx_t       *ctx;
    ngx_http_flores_health_check_t     *check;
    ngx_http_flores_health_result_t    *res;
    ngx_http_flores_health_loc_conf_t  *hlcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_health_module);

    n = (hlcf->checks == NULL) ? 0 : hlcf->checks->nelts;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_flores_health_ctx_t)
                               + n * sizeof(ngx_http_flores_health_result_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->results = (ngx_http_flores_health_result_t *) &ctx[1];
    ctx->nresults = n;

    if (n == 0) {
        return ngx_http_flores_health_answer(r, ctx);
    }

    ngx_http_set_ctx(r, ctx, ngx_http_flores_health_module);

    check = hlcf->checks->elts;

    for (i = 0; i < n; i++) {
        res = &ctx->results[i];

        res->ctx = ctx;
        res->check = &check[i];
        res->start = ngx_current_msec;

        ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
        if (ps == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ps->handler = ngx_http_flores_health_done;
        ps->data = res;

        if (ngx_http_subrequest(r, &check[i].uri,
                                check[i].args.len ? &check[i].args : NULL,
                                &sr, ps,
                                NGX_HTTP_SUBREQUEST_IN_MEMORY
                                |NGX_HTTP_SUBREQUEST_WAITED)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->pending++;
    }

    /* the content phase left the empty handler: the parent is woken here */
    r->write_event_handler = ngx_http_flores_health_finish;

    /* held until the answer is sent */
    r->main->count++;

    return NGX_DONE;
}


static ngx_int_t
ngx_http_flores_health_done(ngx_http_request_t *r, void *data, ngx_int_t rc)
{
    ngx_http_flores_health_result_t  *res = data;

    ngx_uint_t  status;

    /* a waited subrequest is finalized again when its turn comes */

    if (res->done) {
        return rc;
    }

    res->done = 1;
    res->latency = ngx_current_msec - res->start;

    status = r->headers_out.status;

    res->up = (rc == NGX_OK || rc == NGX_DONE)
              && status >= NGX_HTTP_OK && status < NGX_HTTP_SPECIAL_RESPONSE;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "flores health: \"%V\" rc:%i status:%ui up:%ui",
                   &res->check->service, rc, status, res->up);

    res->ctx->pending--;

    return rc;
}


static void
ngx_http_flores_health_finish(ngx_http_request_t *r)
{
    ngx_http_flores_health_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_flores_health_module);

    if (ctx == NULL || ctx->pending > 0 || ctx->answered) {
        return;
    }

    ctx->answered = 1;

    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_http_finalize_request(r, ngx_http_flores_health_answer(r, ctx));
}


/*
 * A service is up when its health location answered 2xx and its circuit
 * is not open. Overall: down when a critical service is down or every
 * service is; degraded when any service is down or any circuit is not
 * closed; ok otherwise. 200 for ok and degraded, 503 for down.
 */

static ngx_int_t
ngx_http_flores_health_answer(ngx_http_request_t *r,
    ngx_http_flores_health_ctx_t *ctx)
{
    size_t                            len;
    u_char                           *p;
    ngx_str_t                         id;
    ngx_uint_t                        i, state, down, status;
    ngx_uint_t                       *circuit;
    ngx_table_elt_t                  *h;
    ngx_http_complex_value_t          cv;
    ngx_http_flores_health_result_t  *res;

    circuit = ngx_palloc(r->pool, (ctx->nresults + 1) * sizeof(ngx_uint_t));
    if (circuit == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    state = NGX_HTTP_FLORES_HEALTH_OK;
    down = 0;

    len = sizeof("{\"status\":\"success\",\"data\":{\"status\":\"degraded\","
                 "\"services\":{}}}") - 1;

    for (i = 0; i < ctx->nresults; i++) {
        res = &ctx->results[i];

        circuit[i] = ngx_http_flores_breaker_state(r, &res->check->service);

        if (circuit[i] > NGX_HTTP_FLORES_BREAKER_HALF_OPEN) {
            circuit[i] = NGX_HTTP_FLORES_BREAKER_NONE;
        }

        if (circuit[i] == NGX_HTTP_FLORES_BREAKER_OPEN) {
            res->up = 0;
        }

        if (!res->up) {
            down++;

            if (res->check->critical) {
                state = NGX_HTTP_FLORES_HEALTH_DOWN;
            }
        }

        if ((!res->up || circuit[i] == NGX_HTTP_FLORES_BREAKER_HALF_OPEN)
            && state == NGX_HTTP_FLORES_HEALTH_OK)
        {
            state = NGX_HTTP_FLORES_HEALTH_DEGRADED;
        }

        len += sizeof(",\"\":{\"status\":\"down\",\"circuit\":\"half_open\","
                      "\"latencyMs\":}") - 1
               + res->check->service.len + NGX_INT_T_LEN;
    }

    if (ctx->nresults > 0 && down == ctx->nresults) {
        state = NGX_HTTP_FLORES_HEALTH_DOWN;
    }

    status = NGX_HTTP_OK;

    if (state == NGX_HTTP_FLORES_HEALTH_DOWN) {
        status = NGX_HTTP_SERVICE_UNAVAILABLE;

        if (ngx_http_flores_request_id(r, &id) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        len += sizeof("{\"status\":\"error\",\"code\":\"SERVICE_UNAVAILABLE\","
                      "\"message\":\"El servicio no está disponible\","
                      "\"requestId\":\"\",\"data\":") - 1
               + id.len;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.data = p;

    /* the request id needs no escaping: it is [A-Za-z0-9._-] or hex */

    if (status == NGX_HTTP_OK) {
        p = ngx_sprintf(p, "{\"status\":\"success\",\"data\":");

    } else {
        p = ngx_sprintf(p, "{\"status\":\"error\","
                           "\"code\":\"SERVICE_UNAVAILABLE\","
                           "\"message\":\"El servicio no está disponible\","
                           "\"requestId\":\"%V\",\"data\":", &id);
    }

    p = ngx_sprintf(p, "{\"status\":\"%V\",\"services\":{",
                    &ngx_http_flores_health_states[state]);

    /* service names are [A-Za-z0-9._-]: no escaping either */

    for (i = 0; i < ctx->nresults; i++) {
        res = &ctx->results[i];

        p = ngx_sprintf(p, "%s\"%V\":{\"status\":\"%s\",\"circuit\":\"%V\","
                           "\"latencyMs\":%M}",
                        i ? "," : "", &res->check->service,
                        res->up ? "up" : "down",
                        &ngx_http_flores_health_circuits[circuit[i]],
                        res->latency);
    }

    *p++ = '}'; *p++ = '}'; *p++ = '}';

    cv.value.len = p - cv.value.data;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Cache-Control");
    ngx_str_set(&h->value, "no-store");

    if (status == NGX_HTTP_SERVICE_UNAVAILABLE) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "Retry-After");
        ngx_str_set(&h->value, "5");
    }

    return ngx_http_send_response(r, status, &ngx_http_flores_health_json,
                                  &cv);
}


static void *
ngx_http_flores_health_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_flores_health_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_flores_health_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->checks = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_flores_health_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_flores_health_loc_conf_t  *prev = parent;
    ngx_http_flores_health_loc_conf_t  *conf = child;

    if (conf->enable == NGX_CONF_UNSET) {
        conf->enable = 0;
    }

    /* the checks of one level replace those of the enclosing one */
    ngx_conf_merge_ptr_value(conf->checks, prev->checks, NULL);

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_health(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_health_loc_conf_t  *hlcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    if (hlcf->enable != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    hlcf->enable = 1;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_flores_health_handler;

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_health_check(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_health_loc_conf_t  *hlcf = conf;

    u_char                          *p, *last;
    ngx_str_t                       *value;
    ngx_uint_t                       i;
    ngx_http_flores_health_check_t  *check;

    value = cf->args->elts;

    /* the name is a key of the JSON answer: no escaping needed */

    if (value[1].len == 0 || value[1].len > NGX_HTTP_FLORES_SERVICE_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid service name \"%V\": "
                           "1 to %d characters expected",
                           &value[1], NGX_HTTP_FLORES_SERVICE_MAX);
        return NGX_CONF_ERROR;
    }

    last = value[1].data + value[1].len;

    for (p = value[1].data; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9')
              || *p == '.' || *p == '_' || *p == '-'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid service name \"%V\": "
                               "only [A-Za-z0-9._-] allowed", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    if (value[2].len == 0 || value[2].data[0] != '/') {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid uri \"%V\": it must start with \"/\"",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (hlcf->checks == NGX_CONF_UNSET_PTR) {
        hlcf->checks = ngx_array_create(cf->pool, 8,
                                        sizeof(ngx_http_flores_health_check_t));
        if (hlcf->checks == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    check = hlcf->checks->elts;

    for (i = 0; i < hlcf->checks->nelts; i++) {
        if (check[i].service.len == value[1].len
            && ngx_strncmp(check[i].service.data, value[1].data,
                           value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "service \"%V\" is already checked",
                               &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    check = ngx_array_push(hlcf->checks);
    if (check == NULL) {
        return NGX_CONF_ERROR;
    }

    check->service = value[1];
    check->uri = value[2];
    check->args.len = 0;
    check->args.data = NULL;
    check->critical = 0;

    p = ngx_strlchr(value[2].data, value[2].data + value[2].len, '?');

    if (p != NULL) {
        check->uri.len = p - value[2].data;
        check->args.data = p + 1;
        check->args.len = value[2].data + value[2].len - check->args.data;
    }

    if (cf->args->nelts == 4) {
        if (value[3].len != sizeof("critical") - 1
            || ngx_strncmp(value[3].data, "critical", value[3].len) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[3]);
            return NGX_CONF_ERROR;
        }

        check->critical = 1;
    }

    return NGX_CONF_OK;
}
