
/*
 * Flores Victoria gateway module, token revocation: cutoffs per subject kept
 * in a shared zone ("flores_jwt_revocation_zone"), consulted by flores_jwt
 * where "flores_jwt_revocation" names the zone, and filled through a
 * content handler ("flores_jwt_revocation_api").
 *
 * An entry (sub, before) refuses every token of the primary issuer whose
 * "sub" is sub and whose "iat" is earlier than before (seconds); a later
 * cutoff for a sub replaces an earlier one, an earlier one never lowers it.
 * An entry lives until before + ttl: by then every token it refuses has
 * expired, provided ttl is at least the tokens' lifetime plus the leeway.
 *
 * Memory is bounded: when the zone is full, the entry nearest to its end
 * (the earliest cutoff) is evicted and its cutoff raises the zone's floor,
 * which refuses every token issued before it, whatever its subject: a full
 * zone fails closed, never open.
 *
 * A token is checked with no system call: the floor and the number of
 * entries are read without the lock (a zone with no entry is never locked),
 * the subject is hashed before the lock is taken, and under it one lookup
 * in a tree is done.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_flores.h"


/* the largest body of a POST, in bytes */
#define NGX_HTTP_FLORES_REVOKE_MAX_BODY     65536
#define NGX_HTTP_FLORES_REVOKE_MAX_SUB      256
/* entries past their end removed by one addition, at most */
#define NGX_HTTP_FLORES_REVOKE_PURGE        16


typedef struct {
    /* by subject: sn.node.key is the hash of sn.str */
    ngx_str_node_t                       sn;
    /* by end: key is before */
    ngx_rbtree_node_t                    expire;
    time_t                               before;
    u_char                               data[1];
} ngx_http_flores_jwt_revoke_node_t;


typedef struct {
    ngx_rbtree_t                         rbtree;
    ngx_rbtree_node_t                    sentinel;
    ngx_rbtree_t                         expire;
    ngx_rbtree_node_t                    expire_sentinel;
    /* written under the lock, read without it */
    ngx_atomic_t                         entries;
    ngx_atomic_t                         floor;
    ngx_atomic_t                         evicted;
} ngx_http_flores_jwt_revoke_shctx_t;


typedef struct {
    ngx_http_flores_jwt_revoke_shctx_t  *sh;
    ngx_slab_pool_t                     *shpool;
    /* seconds */
    time_t                               ttl;
} ngx_http_flores_jwt_revoke_ctx_t;


typedef struct {
    /* every zone (ngx_shm_zone_t *), for the gateway's metrics */
    ngx_array_t                          zones;
} ngx_http_flores_jwt_revoke_main_conf_t;


typedef struct {
    /* "flores_jwt_revocation" */
    ngx_shm_zone_t                      *zone;
    /* "flores_jwt_revocation_api" */
    ngx_shm_zone_t                      *api;
} ngx_http_flores_jwt_revoke_conf_t;


/* one line of a POST */
typedef struct {
    ngx_str_t                            sub;
    uint32_t                             hash;
    time_t                               before;
} ngx_http_flores_jwt_revoke_line_t;


static ngx_int_t ngx_http_flores_jwt_revoke_add(
    ngx_http_flores_jwt_revoke_ctx_t *ctx,
    ngx_http_flores_jwt_revoke_line_t *line, time_t now);
static void ngx_http_flores_jwt_revoke_purge(
    ngx_http_flores_jwt_revoke_ctx_t *ctx, time_t now, ngx_uint_t n);
static void ngx_http_flores_jwt_revoke_delete(
    ngx_http_flores_jwt_revoke_ctx_t *ctx,
    ngx_http_flores_jwt_revoke_node_t *node);
static ngx_int_t ngx_http_flores_jwt_revoke_api_handler(
    ngx_http_request_t *r);
static void ngx_http_flores_jwt_revoke_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_jwt_revoke_post(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_jwt_revoke_body(ngx_http_request_t *r,
    ngx_str_t *body, ngx_http_flores_error_t *err);
static ngx_int_t ngx_http_flores_jwt_revoke_parse(ngx_http_request_t *r,
    ngx_str_t *body, ngx_array_t *lines, ngx_http_flores_error_t *err);
static ngx_int_t ngx_http_flores_jwt_revoke_summary(ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_jwt_revoke_fail(ngx_http_request_t *r,
    ngx_uint_t status, char *code, char *message);
static void ngx_http_flores_jwt_revoke_error(ngx_http_flores_error_t *err,
    ngx_uint_t status, char *code, char *message);

static ngx_chain_t *ngx_http_flores_jwt_revoke_metrics(ngx_http_request_t *r,
    void *data);

static ngx_int_t ngx_http_flores_jwt_revoke_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void *ngx_http_flores_jwt_revoke_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_flores_jwt_revoke_create_conf(ngx_conf_t *cf);
static char *ngx_http_flores_jwt_revoke_merge_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_flores_jwt_revocation_zone(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_flores_jwt_revocation(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_flores_jwt_revocation_api(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_flores_jwt_revoke_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_flores_jwt_revoke_commands[] = {

    { ngx_string("flores_jwt_revocation_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_flores_jwt_revocation_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("flores_jwt_revocation"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_jwt_revocation,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_jwt_revoke_conf_t, zone),
      NULL },

    { ngx_string("flores_jwt_revocation_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_jwt_revocation_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_flores_jwt_revoke_conf_t, api),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_jwt_revoke_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_flores_jwt_revoke_init,       /* postconfiguration */

    ngx_http_flores_jwt_revoke_create_main_conf,
                                           /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_jwt_revoke_create_conf, /* create location configuration */
    ngx_http_flores_jwt_revoke_merge_conf  /* merge location configuration */
};


ngx_module_t  ngx_http_flores_jwt_revoke_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_jwt_revoke_module_ctx, /* module context */
    ngx_http_flores_jwt_revoke_commands,   /* module directives */
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


ngx_int_t
ngx_http_flores_jwt_revoked(ngx_http_request_t *r, ngx_str_t *sub,
    time_t iat)
{
    time_t                               now;
    uint32_t                             hash;
    ngx_int_t                            rc;
    ngx_str_node_t                      *sn;
    ngx_http_flores_jwt_revoke_ctx_t    *ctx;
    ngx_http_flores_jwt_revoke_node_t   *node;
    ngx_http_flores_jwt_revoke_conf_t   *rcf;
    ngx_http_flores_jwt_revoke_shctx_t  *sh;

    rcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_jwt_revoke_module);

    if (rcf->zone == NULL) {
        return NGX_OK;
    }

    ctx = rcf->zone->data;
    sh = ctx->sh;

    if (iat < (time_t) sh->floor) {
        return NGX_DECLINED;
    }

    if (sh->entries == 0 || sub == NULL) {
        return NGX_OK;
    }

    hash = ngx_crc32_short(sub->data, sub->len);
    now = ngx_time();
    rc = NGX_OK;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_str_rbtree_lookup(&sh->rbtree, sub, hash);

    if (sn) {
        node = (ngx_http_flores_jwt_revoke_node_t *) sn;

        if (iat < node->before && node->before + ctx->ttl >= now) {
            rc = NGX_DECLINED;
        }
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/*
 * Under the lock: a later cutoff replaces an earlier one; a new entry may
 * evict the entries nearest to their end, each raising the floor.
 */

static ngx_int_t
ngx_http_flores_jwt_revoke_add(ngx_http_flores_jwt_revoke_ctx_t *ctx,
    ngx_http_flores_jwt_revoke_line_t *line, time_t now)
{
    size_t                               size;
    ngx_str_node_t                      *sn;
    ngx_rbtree_node_t                   *min;
    ngx_http_flores_jwt_revoke_node_t   *node, *old;
    ngx_http_flores_jwt_revoke_shctx_t  *sh;

    sh = ctx->sh;

    ngx_http_flores_jwt_revoke_purge(ctx, now,
                                     NGX_HTTP_FLORES_REVOKE_PURGE);

    sn = ngx_str_rbtree_lookup(&sh->rbtree, &line->sub, line->hash);

    if (sn) {
        node = (ngx_http_flores_jwt_revoke_node_t *) sn;

        if (line->before > node->before) {
            ngx_rbtree_delete(&sh->expire, &node->expire);
            node->before = line->before;
            node->expire.key = (ngx_rbtree_key_t) line->before;
            ngx_rbtree_insert(&sh->expire, &node->expire);
        }

        return NGX_OK;
    }

    size = offsetof(ngx_http_flores_jwt_revoke_node_t, data) + line->sub.len;

    for ( ;; ) {
        node = ngx_slab_alloc_locked(ctx->shpool, size);

        if (node) {
            break;
        }

        if (sh->expire.root == sh->expire.sentinel) {
            return NGX_ERROR;
        }

        min = ngx_rbtree_min(sh->expire.root, sh->expire.sentinel);
        old = (ngx_http_flores_jwt_revoke_node_t *)
                  ((u_char *) min
                   - offsetof(ngx_http_flores_jwt_revoke_node_t, expire));

        if (old->before > (time_t) sh->floor) {
            sh->floor = old->before;
        }

        sh->evicted++;

        ngx_http_flores_jwt_revoke_delete(ctx, old);
    }

    ngx_memcpy(node->data, line->sub.data, line->sub.len);

    node->sn.node.key = line->hash;
    node->sn.str.data = node->data;
    node->sn.str.len = line->sub.len;
    node->before = line->before;
    node->expire.key = (ngx_rbtree_key_t) line->before;

    ngx_rbtree_insert(&sh->rbtree, &node->sn.node);
    ngx_rbtree_insert(&sh->expire, &node->expire);

    sh->entries++;

    return NGX_OK;
}


/* at most n entries whose end (before + ttl) has passed */

static void
ngx_http_flores_jwt_revoke_purge(ngx_http_flores_jwt_revoke_ctx_t *ctx,
    time_t now, ngx_uint_t n)
{
    ngx_rbtree_node_t                   *min;
    ngx_http_flores_jwt_revoke_node_t   *node;
    ngx_http_flores_jwt_revoke_shctx_t  *sh;

    sh = ctx->sh;

    while (n-- && sh->expire.root != sh->expire.sentinel) {
        min = ngx_rbtree_min(sh->expire.root, sh->expire.sentinel);
        node = (ngx_http_flores_jwt_revoke_node_t *)
                   ((u_char *) min
                    - offsetof(ngx_http_flores_jwt_revoke_node_t, expire));

        if (node->before + ctx->ttl >= now) {
            break;
        }

        ngx_http_flores_jwt_revoke_delete(ctx, node);
    }

    /* past its end, the floor refuses only tokens that expired anyway */

    if (sh->floor && (time_t) sh->floor + ctx->ttl < now) {
        sh->floor = 0;
    }
}


static void
ngx_http_flores_jwt_revoke_delete(ngx_http_flores_jwt_revoke_ctx_t *ctx,
    ngx_http_flores_jwt_revoke_node_t *node)
{
    ngx_rbtree_delete(&ctx->sh->rbtree, &node->sn.node);
    ngx_rbtree_delete(&ctx->sh->expire, &node->expire);

    ngx_slab_free_locked(ctx->shpool, node);

    ctx->sh->entries--;
}


/*
 * POST: lines "<sub> <before>\n" (before in unix seconds), all or none
 * applied: 204, or 400 naming the first bad line. GET: a summary.
 */

static ngx_int_t
ngx_http_flores_jwt_revoke_api_handler(ngx_http_request_t *r)
{
    ngx_int_t  rc;

    if (r->method == NGX_HTTP_POST) {

        if (r->headers_in.content_length_n > NGX_HTTP_FLORES_REVOKE_MAX_BODY)
        {
            return ngx_http_flores_jwt_revoke_fail(r,
                       NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "PAYLOAD_TOO_LARGE",
                       "Hasta 64 KiB de revocaciones por petición");
        }

        r->request_body_in_single_buf = 1;

        rc = ngx_http_read_client_request_body(r,
                 ngx_http_flores_jwt_revoke_body_handler);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            return rc;
        }

        return NGX_DONE;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_flores_jwt_revoke_summary(r);
}


static void
ngx_http_flores_jwt_revoke_body_handler(ngx_http_request_t *r)
{
    ngx_http_finalize_request(r, ngx_http_flores_jwt_revoke_post(r));
}


static ngx_int_t
ngx_http_flores_jwt_revoke_post(ngx_http_request_t *r)
{
    time_t                              now;
    ngx_int_t                           rc;
    ngx_str_t                           body;
    ngx_uint_t                          i, failed;
    ngx_array_t                         lines;
    ngx_http_flores_error_t             err;
    ngx_http_flores_jwt_revoke_ctx_t   *ctx;
    ngx_http_flores_jwt_revoke_conf_t  *rcf;
    ngx_http_flores_jwt_revoke_line_t  *line;

    rcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_jwt_revoke_module);
    ctx = rcf->api->data;

    rc = ngx_http_flores_jwt_revoke_body(r, &body, &err);

    if (rc == NGX_OK) {
        rc = ngx_http_flores_jwt_revoke_parse(r, &body, &lines, &err);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_flores_send_error(r, &err);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    now = ngx_time();
    line = lines.elts;
    failed = 0;

    /* one line per lock: the lock is held for a bounded time */

    for (i = 0; i < lines.nelts; i++) {

        if (line[i].before + ctx->ttl < now) {
            /* every token it would refuse has expired */
            continue;
        }

        ngx_shmtx_lock(&ctx->shpool->mutex);

        if (ngx_http_flores_jwt_revoke_add(ctx, &line[i], now) != NGX_OK) {
            failed++;
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);
    }

    if (failed) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "flores jwt revocation: %ui entries did not fit in "
                      "zone \"%V\"", failed, &rcf->api->shm.name);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "flores jwt revocation: %ui entries", lines.nelts);

    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;
    r->header_only = 1;

    return ngx_http_send_header(r);
}


/* the body in one piece of the request's pool, read from its file if any */

static ngx_int_t
ngx_http_flores_jwt_revoke_body(ngx_http_request_t *r, ngx_str_t *body,
    ngx_http_flores_error_t *err)
{
    u_char       *p;
    size_t        len, size;
    ssize_t       n;
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    len = 0;

    if (r->request_body) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;
            len += b->in_file ? (size_t) (b->file_last - b->file_pos)
                              : (size_t) (b->last - b->pos);
        }
    }

    if (len > NGX_HTTP_FLORES_REVOKE_MAX_BODY) {
        ngx_http_flores_jwt_revoke_error(err,
            NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "PAYLOAD_TOO_LARGE",
            "Hasta 64 KiB de revocaciones por petición");
        return NGX_DECLINED;
    }

    body->data = ngx_pnalloc(r->pool, len + 1);
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = body->data;

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (!b->in_file) {
            p = ngx_cpymem(p, b->pos, b->last - b->pos);
            continue;
        }

        size = b->file_last - b->file_pos;
        n = ngx_read_file(b->file, p, size, b->file_pos);

        if (n != (ssize_t) size) {
            return NGX_ERROR;
        }

        p += size;
    }

    body->len = p - body->data;

    return NGX_OK;
}


/*
 * "<sub> <before>" lines: sub 1-256 printable ASCII characters without
 * space, before a positive integer; a line may end in CR LF, the last one
 * may have no LF; empty lines are skipped. A body with no line is refused.
 * NGX_DECLINED: a bad body, err says why.
 */

static ngx_int_t
ngx_http_flores_jwt_revoke_parse(ngx_http_request_t *r, ngx_str_t *body,
    ngx_array_t *lines, ngx_http_flores_error_t *err)
{
    u_char                             *p, *last, *eol, *sp, *q, *start;
    time_t                              before;
    ngx_uint_t                          n;
    ngx_http_flores_jwt_revoke_line_t  *line;

    if (ngx_array_init(lines, r->pool, 16,
                       sizeof(ngx_http_flores_jwt_revoke_line_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    p = body->data;
    last = p + body->len;

    for (n = 1; p < last; p = eol + 1, n++) {

        eol = ngx_strlchr(p, last, '\n');

        if (eol == NULL) {
            eol = last;
        }

        q = eol;

        if (q > p && q[-1] == '\r') {
            q--;
        }

        if (q == p) {
            continue;
        }

        start = p;
        sp = ngx_strlchr(p, q, ' ');

        if (sp == NULL || sp == p
            || sp - p > NGX_HTTP_FLORES_REVOKE_MAX_SUB)
        {
            goto invalid;
        }

        for (/* void */; p < sp; p++) {
            if (*p <= 0x20 || *p >= 0x7f) {
                goto invalid;
            }
        }

        before = ngx_atotm(sp + 1, q - sp - 1);

        if (before <= 0) {
            goto invalid;
        }

        line = ngx_array_push(lines);
        if (line == NULL) {
            return NGX_ERROR;
        }

        line->sub.data = start;
        line->sub.len = sp - start;
        line->hash = ngx_crc32_short(start, sp - start);
        line->before = before;

        continue;

    invalid:

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "flores jwt revocation: invalid line %ui", n);

        ngx_http_flores_jwt_revoke_error(err, NGX_HTTP_BAD_REQUEST,
            "VALIDATION_ERROR",
            "Cada línea debe ser \"<sub> <antes-de, segundos unix>\"");
        return NGX_DECLINED;
    }

    if (lines->nelts == 0) {
        ngx_http_flores_jwt_revoke_error(err, NGX_HTTP_BAD_REQUEST,
            "VALIDATION_ERROR", "No hay revocaciones en la petición");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* {"status":"success","data":{"zone":...,"entries":N,"floor":T,...}} */

static ngx_int_t
ngx_http_flores_jwt_revoke_summary(ngx_http_request_t *r)
{
    u_char                              *p;
    size_t                               len;
    ngx_uint_t                           entries, evicted;
    time_t                               floor;
    ngx_http_complex_value_t             cv;
    ngx_http_flores_jwt_revoke_ctx_t    *ctx;
    ngx_http_flores_jwt_revoke_conf_t   *rcf;

    static ngx_str_t  type = ngx_string("application/json");

    rcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_jwt_revoke_module);
    ctx = rcf->api->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    ngx_http_flores_jwt_revoke_purge(ctx, ngx_time(),
                                     NGX_HTTP_FLORES_REVOKE_PURGE);

    entries = ctx->sh->entries;
    floor = ctx->sh->floor;
    evicted = ctx->sh->evicted;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    len = sizeof("{\"status\":\"success\",\"data\":{\"zone\":\"\","
                 "\"entries\":,\"floor\":,\"evicted\":,\"ttl\":}}") - 1
          + rcf->api->shm.name.len
          + ngx_escape_json(NULL, rcf->api->shm.name.data,
                            rcf->api->shm.name.len)
          + 4 * NGX_TIME_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));
    cv.value.data = p;

    p = ngx_cpymem(p, "{\"status\":\"success\",\"data\":{\"zone\":\"",
                   sizeof("{\"status\":\"success\",\"data\":{\"zone\":\"")
                   - 1);
    p = (u_char *) ngx_escape_json(p, rcf->api->shm.name.data,
                                   rcf->api->shm.name.len);
    p = ngx_sprintf(p, "\",\"entries\":%ui,\"floor\":%T,\"evicted\":%ui,"
                    "\"ttl\":%T}}", entries, floor, evicted, ctx->ttl);

    cv.value.len = p - cv.value.data;

    return ngx_http_send_response(r, NGX_HTTP_OK, &type, &cv);
}


static ngx_int_t
ngx_http_flores_jwt_revoke_fail(ngx_http_request_t *r, ngx_uint_t status,
    char *code, char *message)
{
    ngx_http_flores_error_t  err;

    ngx_http_flores_jwt_revoke_error(&err, status, code, message);

    return ngx_http_flores_send_error(r, &err);
}


static void
ngx_http_flores_jwt_revoke_error(ngx_http_flores_error_t *err,
    ngx_uint_t status, char *code, char *message)
{
    err->status = status;
    err->code.data = (u_char *) code;
    err->code.len = ngx_strlen(code);
    err->message.data = (u_char *) message;
    err->message.len = ngx_strlen(message);
}


#define ngx_http_flores_jwt_revoke_series(name, help, type)                   \
    "# HELP " name " " help "\n# TYPE " name " " type "\n"

/* read without the lock: each value is one word, the set may be torn */

static ngx_chain_t *
ngx_http_flores_jwt_revoke_metrics(ngx_http_request_t *r, void *data)
{
    ngx_http_flores_jwt_revoke_main_conf_t  *rmcf = data;

    u_char                             *p;
    size_t                              len;
    ngx_buf_t                          *b;
    ngx_uint_t                          i;
    ngx_chain_t                        *cl;
    ngx_shm_zone_t                    **zone;
    ngx_http_flores_jwt_revoke_ctx_t   *ctx;

    static u_char  entries[] = ngx_http_flores_jwt_revoke_series(
        "flores_gateway_jwt_revocations",
        "Subjects whose older tokens the gateway refuses.", "gauge");
    static u_char  floor[] = ngx_http_flores_jwt_revoke_series(
        "flores_gateway_jwt_revocation_floor_seconds",
        "Tokens issued before this time are refused: the zone was full "
        "(0: none).", "gauge");
    static u_char  evicted[] = ngx_http_flores_jwt_revoke_series(
        "flores_gateway_jwt_revocations_evicted_total",
        "Entries evicted from a full zone, each raising its floor.",
        "counter");

    zone = rmcf->zones.elts;

    len = sizeof(entries) + sizeof(floor) + sizeof(evicted);

    for (i = 0; i < rmcf->zones.nelts; i++) {
        len += 3 * (sizeof("flores_gateway_jwt_revocations_evicted_total"
                           "{zone=\"\"} \n")
                    + zone[i]->shm.name.len + NGX_ATOMIC_T_LEN);
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_CHAIN_ERROR;
    }

    p = ngx_cpymem(b->last, entries, sizeof(entries) - 1);

    for (i = 0; i < rmcf->zones.nelts; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p, "flores_gateway_jwt_revocations{zone=\"%V\"} %uA\n",
                        &zone[i]->shm.name, ctx->sh->entries);
    }

    p = ngx_cpymem(p, floor, sizeof(floor) - 1);

    for (i = 0; i < rmcf->zones.nelts; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p, "flores_gateway_jwt_revocation_floor_seconds"
                           "{zone=\"%V\"} %uA\n",
                        &zone[i]->shm.name, ctx->sh->floor);
    }

    p = ngx_cpymem(p, evicted, sizeof(evicted) - 1);

    for (i = 0; i < rmcf->zones.nelts; i++) {
        ctx = zone[i]->data;
        p = ngx_sprintf(p, "flores_gateway_jwt_revocations_evicted_total"
                           "{zone=\"%V\"} %uA\n",
                        &zone[i]->shm.name, ctx->sh->evicted);
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


/* a zone kept across a reload keeps its entries and its floor */

static ngx_int_t
ngx_http_flores_jwt_revoke_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_flores_jwt_revoke_ctx_t  *octx = data;

    size_t                             len;
    ngx_http_flores_jwt_revoke_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
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
                              sizeof(ngx_http_flores_jwt_revoke_shctx_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_rbtree_init(&ctx->sh->expire, &ctx->sh->expire_sentinel,
                    ngx_rbtree_insert_timer_value);

    len = sizeof(" in flores_jwt_revocation_zone \"\"")
          + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx,
                " in flores_jwt_revocation_zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is expected: it evicts, and says so in the summary */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


static void *
ngx_http_flores_jwt_revoke_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_flores_jwt_revoke_main_conf_t  *rmcf;

    rmcf = ngx_pcalloc(cf->pool,
                       sizeof(ngx_http_flores_jwt_revoke_main_conf_t));
    if (rmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&rmcf->zones, cf->pool, 1, sizeof(ngx_shm_zone_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return rmcf;
}


static void *
ngx_http_flores_jwt_revoke_create_conf(ngx_conf_t *cf)
{
    ngx_http_flores_jwt_revoke_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_revoke_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->zone = NGX_CONF_UNSET_PTR;
    conf->api = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_flores_jwt_revoke_merge_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_flores_jwt_revoke_conf_t *prev = parent;
    ngx_http_flores_jwt_revoke_conf_t *conf = child;

    ngx_conf_merge_ptr_value(conf->zone, prev->zone, NULL);

    /* a content handler is not inherited */

    if (conf->api == NGX_CONF_UNSET_PTR) {
        conf->api = NULL;
    }

    return NGX_CONF_OK;
}


/* flores_jwt_revocation_zone zone=<name>:<size> [ttl=<time>] */

static char *
ngx_http_flores_jwt_revocation_zone(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_flores_jwt_revoke_main_conf_t *rmcf = conf;

    u_char                            *p;
    time_t                             ttl;
    ssize_t                            size;
    ngx_str_t                         *value, name, s;
    ngx_uint_t                         i;
    ngx_shm_zone_t                    *shm_zone, **z;
    ngx_http_flores_jwt_revoke_ctx_t  *ctx;

    value = cf->args->elts;

    ngx_str_null(&name);
    size = 0;
    ttl = NGX_CONF_UNSET;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0 && name.len == 0) {

            name.data = value[i].data + 5;

            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid zone size \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "zone \"%V\" is too small", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0
            && ttl == NGX_CONF_UNSET)
        {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            ttl = ngx_parse_time(&s, 1);

            if (ttl == (time_t) NGX_ERROR || ttl == 0) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid ttl \"%V\"", &value[i]);
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
                           "\"%V\" must have \"zone\" parameter",
                           &cmd->name);
        return NGX_CONF_ERROR;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_jwt_revoke_ctx_t));
    if (ctx == NULL) {
        return NGX_CONF_ERROR;
    }

    /* seconds: the access token lifetime plus leeway, at least */
    ctx->ttl = (ttl == NGX_CONF_UNSET) ? 1200 : ttl;

    shm_zone = ngx_shared_memory_add(cf, &name, size,
                                     &ngx_http_flores_jwt_revoke_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "%V \"%V\" is already defined",
                           &cmd->name, &name);
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_flores_jwt_revoke_init_zone;
    shm_zone->data = ctx;

    z = ngx_array_push(&rmcf->zones);
    if (z == NULL) {
        return NGX_CONF_ERROR;
    }

    *z = shm_zone;

    return NGX_CONF_OK;
}


/* the zone by its name; defined by "flores_jwt_revocation_zone" anywhere */

static char *
ngx_http_flores_jwt_revocation(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t        *value;
    ngx_shm_zone_t  **zone;

    zone = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*zone != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs a zone name";
    }

    if (ngx_strcmp(value[1].data, "off") == 0
        && cmd->offset == offsetof(ngx_http_flores_jwt_revoke_conf_t, zone))
    {
        *zone = NULL;
        return NGX_CONF_OK;
    }

    *zone = ngx_shared_memory_add(cf, &value[1], 0,
                                  &ngx_http_flores_jwt_revoke_module);
    if (*zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_jwt_revocation_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char                      *rv;
    ngx_http_core_loc_conf_t  *clcf;

    rv = ngx_http_flores_jwt_revocation(cf, cmd, conf);

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_flores_jwt_revoke_api_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_flores_jwt_revoke_init(ngx_conf_t *cf)
{
    ngx_http_flores_jwt_revoke_main_conf_t  *rmcf;

    rmcf = ngx_http_conf_get_module_main_conf(cf,
                                          ngx_http_flores_jwt_revoke_module);

    if (rmcf->zones.nelts == 0) {
        return NGX_OK;
    }

    return ngx_http_flores_metrics_add(cf, ngx_http_flores_jwt_revoke_metrics,
                                       rmcf);
}
