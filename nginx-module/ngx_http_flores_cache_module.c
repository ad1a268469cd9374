
/*
 * Flores Victoria gateway module, cache generations: a counter in shared
 * memory per "flores_cache_zone", shown by $flores_cache_generation_<name>
 * (put it in a fastcgi_cache_key or proxy_cache_key) and bumped by any
 * upstream response that carries the header named by "flores_cache_bump".
 * After a bump every worker builds new keys, so no response cached before
 * the write that bumped is ever served again: a write is followed by fresh
 * reads without purging anything (the old entries age out of the cache).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_flores.h"


#define NGX_HTTP_FLORES_CACHE_PREFIX    "flores_cache_generation_"
#define NGX_HTTP_FLORES_CACHE_HEADER    "X-Flores-Cache-Invalidate"


typedef struct {
    /* the current generation: see ngx_http_flores_cache_init_zone() */
    ngx_atomic_t                 generation;
    ngx_atomic_t                 bumps;
} ngx_http_flores_cache_shctx_t;


typedef struct {
    ngx_http_flores_cache_shctx_t  *sh;
    ngx_slab_pool_t                *shpool;
    ngx_str_t                       name;
} ngx_http_flores_cache_zone_t;


typedef struct {
    /* of ngx_shm_zone_t *: every flores_cache_zone, in order */
    ngx_array_t                  zones;
} ngx_http_flores_cache_main_conf_t;


typedef struct {
    /* NULL: no bump here */
    ngx_shm_zone_t              *bump;
    ngx_str_t                    header;
} ngx_http_flores_cache_loc_conf_t;


static ngx_int_t ngx_http_flores_cache_header_filter(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_flores_cache_find_header(ngx_list_t *headers,
    ngx_str_t *name);
static ngx_int_t ngx_http_flores_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_chain_t *ngx_http_flores_cache_metrics(ngx_http_request_t *r,
    void *data);
static ngx_int_t ngx_http_flores_cache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_flores_cache_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_flores_cache_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_flores_cache_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_flores_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_shm_zone_t *ngx_http_flores_cache_lookup(ngx_conf_t *cf,
    ngx_str_t *name);
static char *ngx_http_flores_cache_bump(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_flores_cache_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_flores_cache_commands[] = {

    { ngx_string("flores_cache_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_cache_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_cache_bump"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_flores_cache_bump,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_cache_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_flores_cache_init,            /* postconfiguration */

    ngx_http_flores_cache_create_main_conf, /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_cache_create_loc_conf, /* create location configuration */
    ngx_http_flores_cache_merge_loc_conf   /* merge location configuration */
};


ngx_module_t  ngx_http_flores_cache_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_cache_module_ctx,     /* module context */
    ngx_http_flores_cache_commands,        /* module directives */
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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


/*
 * The bump happens when the response's header is sent, before the client
 * can see it: a client that got the answer to its write then reads with the
 * new generation, whichever worker takes the read. Only the upstream's own
 * answer counts (never one served from a cache), and only this location's
 * header, so a client cannot bump anything by sending the header itself.
 */

static ngx_int_t
ngx_http_flores_cache_header_filter(ngx_http_request_t *r)
{
    ngx_atomic_uint_t                  generation;
    ngx_http_flores_cache_zone_t      *zone;
    ngx_http_flores_cache_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_cache_module);

    if (clcf->bump == NULL || r->upstream == NULL || r->cached) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_flores_cache_find_header(&r->upstream->headers_in.headers,
                                          &clcf->header)
        == NULL)
    {
        return ngx_http_next_header_filter(r);
    }

    zone = clcf->bump->data;

    generation = ngx_atomic_fetch_add(&zone->sh->generation, 1) + 1;
    (void) ngx_atomic_fetch_add(&zone->sh->bumps, 1);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "flores cache \"%V\": generation %uA after %V %V",
                  &zone->name, generation, &r->method_name, &r->uri);

    return ngx_http_next_header_filter(r);
}


static ngx_table_elt_t *
ngx_http_flores_cache_find_header(ngx_list_t *headers, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &headers->part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].hash != 0
            && h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


static ngx_int_t
ngx_http_flores_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_shm_zone_t  *shm_zone = (ngx_shm_zone_t *) data;

    u_char                        *p;
    ngx_http_flores_cache_zone_t  *zone;

    zone = shm_zone->data;

    p = ngx_pnalloc(r->pool, NGX_ATOMIC_T_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uA", zone->sh->generation) - p;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


#define ngx_http_flores_cache_series(name, help, type)                        \
    "# HELP " name " " help "\n# TYPE " name " " type "\n"

static ngx_chain_t *
ngx_http_flores_cache_metrics(ngx_http_request_t *r, void *data)
{
    ngx_http_flores_cache_main_conf_t  *cmcf = data;

    u_char                        *p;
    size_t                         len;
    ngx_buf_t                     *b;
    ngx_uint_t                     i;
    ngx_chain_t                   *cl;
    ngx_shm_zone_t               **shm_zone;
    ngx_http_flores_cache_zone_t  *zone;

    static u_char  bumps[] = ngx_http_flores_cache_series(
        "flores_gateway_cache_bumps_total",
        "Upstream answers that started a new cache generation (an admin "
        "write that invalidates every cached answer keyed by it).",
        "counter");

    if (cmcf->zones.nelts == 0) {
        return NULL;
    }

    shm_zone = cmcf->zones.elts;

    len = sizeof(bumps);

    for (i = 0; i < cmcf->zones.nelts; i++) {
        zone = shm_zone[i]->data;
        len += sizeof("flores_gateway_cache_bumps_total{zone=\"\"} \n")
               + zone->name.len + NGX_ATOMIC_T_LEN;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_CHAIN_ERROR;
    }

    p = ngx_cpymem(b->last, bumps, sizeof(bumps) - 1);

    for (i = 0; i < cmcf->zones.nelts; i++) {
        zone = shm_zone[i]->data;
        p = ngx_sprintf(p, "flores_gateway_cache_bumps_total"
                           "{zone=\"%V\"} %uA\n",
                        &zone->name, zone->sh->bumps);
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


/*
 * A new zone's generation starts at the time in milliseconds times 2^20:
 * cached entries outlive a restart of nginx (the cache is on disk), and a
 * restarted gateway must not meet a key of its previous life again. A
 * reload keeps the zone and its generation.
 */

static ngx_int_t
ngx_http_flores_cache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_flores_cache_zone_t  *ozone = data;

    size_t                         len;
    ngx_time_t                    *tp;
    ngx_http_flores_cache_zone_t  *zone;

    zone = shm_zone->data;

    if (ozone) {
        zone->sh = ozone->sh;
        zone->shpool = ozone->shpool;
        return NGX_OK;
    }

    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        zone->sh = zone->shpool->data;
        return NGX_OK;
    }

    zone->sh = ngx_slab_calloc(zone->shpool,
                               sizeof(ngx_http_flores_cache_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->shpool->data = zone->sh;

    tp = ngx_timeofday();

    zone->sh->generation = (ngx_atomic_uint_t)
        ((uint64_t) tp->sec * 1000 + tp->msec) << 20;

    len = sizeof(" in flores_cache_zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in flores_cache_zone \"%V\"%Z",
                &shm_zone->shm.name);

    return NGX_OK;
}


static void *
ngx_http_flores_cache_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_flores_cache_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_cache_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&cmcf->zones, cf->pool, 2, sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return cmcf;
}


static void *
ngx_http_flores_cache_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_flores_cache_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_cache_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->header = { 0, NULL };
     */

    conf->bump = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_flores_cache_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_flores_cache_loc_conf_t  *prev = parent;
    ngx_http_flores_cache_loc_conf_t  *conf = child;

    if (conf->bump == NGX_CONF_UNSET_PTR) {
        conf->bump = (prev->bump == NGX_CONF_UNSET_PTR) ? NULL : prev->bump;
        conf->header = prev->header;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_cache_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_cache_main_conf_t  *cmcf = conf;

    u_char                        *p, *last;
    ngx_str_t                     *value, var, shm;
    ngx_shm_zone_t               **slot, *shm_zone;
    ngx_http_variable_t           *v;
    ngx_http_flores_cache_zone_t  *zone;

    value = cf->args->elts;

    /* the name ends a variable name, which nginx lower-cases: [a-z0-9_] */

    last = value[1].data + value[1].len;

    for (p = value[1].data; p < last; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
              || *p == '_'))
        {
            break;
        }
    }

    if (value[1].len == 0 || value[1].len > 32 || p != last) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cache zone name \"%V\": "
                           "1 to 32 of [a-z0-9_] expected", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_flores_cache_lookup(cf, &value[1]) != NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cache zone \"%V\" is duplicate", &value[1]);
        return NGX_CONF_ERROR;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_cache_zone_t));
    if (zone == NULL) {
        return NGX_CONF_ERROR;
    }

    zone->name = value[1];

    /*
     * one counter: the smallest zone nginx's slab allocator takes, named
     * apart from other zones, so that a cache's keys_zone may share its name
     */

    shm.len = sizeof("flores_cache:") - 1 + value[1].len;
    shm.data = ngx_pnalloc(cf->pool, shm.len);
    if (shm.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(shm.data, "flores_cache:", sizeof("flores_cache:") - 1);
    ngx_memcpy(p, value[1].data, value[1].len);

    shm_zone = ngx_shared_memory_add(cf, &shm, 8 * ngx_pagesize,
                                     &ngx_http_flores_cache_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used", &shm);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_flores_cache_init_zone;
    shm_zone->data = zone;

    slot = ngx_array_push(&cmcf->zones);
    if (slot == NULL) {
        return NGX_CONF_ERROR;
    }

    *slot = shm_zone;

    /* $flores_cache_generation_<name>, read anew each time */

    var.len = sizeof(NGX_HTTP_FLORES_CACHE_PREFIX) - 1 + value[1].len;
    var.data = ngx_pnalloc(cf->pool, var.len);
    if (var.data == NULL) {
        return NGX_CONF_ERROR;
    }

    p = ngx_cpymem(var.data, NGX_HTTP_FLORES_CACHE_PREFIX,
                   sizeof(NGX_HTTP_FLORES_CACHE_PREFIX) - 1);
    ngx_memcpy(p, value[1].data, value[1].len);

    v = ngx_http_add_variable(cf, &var, NGX_HTTP_VAR_NOCACHEABLE);
    if (v == NULL) {
        return NGX_CONF_ERROR;
    }

    v->get_handler = ngx_http_flores_cache_variable;
    v->data = (uintptr_t) shm_zone;

    return NGX_CONF_OK;
}


static ngx_shm_zone_t *
ngx_http_flores_cache_lookup(ngx_conf_t *cf, ngx_str_t *name)
{
    ngx_uint_t                          i;
    ngx_shm_zone_t                    **shm_zone;
    ngx_http_flores_cache_zone_t       *zone;
    ngx_http_flores_cache_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_cache_module);

    shm_zone = cmcf->zones.elts;

    for (i = 0; i < cmcf->zones.nelts; i++) {
        zone = shm_zone[i]->data;

        if (zone->name.len == name->len
            && ngx_strncmp(zone->name.data, name->data, name->len) == 0)
        {
            return shm_zone[i];
        }
    }

    return NULL;
}


static char *
ngx_http_flores_cache_bump(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_flores_cache_loc_conf_t  *clcf = conf;

    u_char      *p, *last;
    ngx_str_t   *value;

    if (clcf->bump != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* the zone must be declared first, at http level */

    clcf->bump = ngx_http_flores_cache_lookup(cf, &value[1]);

    if (clcf->bump == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown cache zone \"%V\" (declare it with "
                           "\"flores_cache_zone\" at http level first)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    ngx_str_set(&clcf->header, NGX_HTTP_FLORES_CACHE_HEADER);

    if (cf->args->nelts == 3) {

        if (value[2].len <= sizeof("header=") - 1
            || ngx_strncmp(value[2].data, "header=", sizeof("header=") - 1)
               != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\", "
                               "\"header=name\" expected", &value[2]);
            return NGX_CONF_ERROR;
        }

        clcf->header.data = value[2].data + sizeof("header=") - 1;
        clcf->header.len = value[2].len - (sizeof("header=") - 1);

        last = clcf->header.data + clcf->header.len;

        for (p = clcf->header.data; p < last; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid header name \"%V\"",
                                   &clcf->header);
                return NGX_CONF_ERROR;
            }
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_flores_cache_init(ngx_conf_t *cf)
{
    ngx_http_flores_cache_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_flores_cache_module);

    if (cmcf->zones.nelts == 0) {
        return NGX_OK;
    }

    if (ngx_http_flores_metrics_add(cf, ngx_http_flores_cache_metrics, cmcf)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_flores_cache_header_filter;

    return NGX_OK;
}
