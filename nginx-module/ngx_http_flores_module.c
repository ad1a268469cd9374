
/*
 * Flores Victoria gateway module, core: the request id ($flores_request_id),
 * the JSend error envelope every gateway refusal is answered with, the
 * service a location belongs to ("flores_service", $flores_service) and the
 * list of metrics writers the features register.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_flores.h"


typedef struct {
    ngx_int_t                    request_id_index;
    /* nginx's own $request_id: 16 random bytes in hex */
    ngx_int_t                    ngx_request_id_index;
    /* of ngx_str_t: every name "flores_service" was given, once each */
    ngx_array_t                  services;
    /* of ngx_http_flores_metrics_writer_t, NULL until one is added */
    ngx_array_t                 *metrics_writers;
} ngx_http_flores_main_conf_t;


typedef struct {
    /* NULL when no service applies; index is its place in services + 1 */
    ngx_str_t                   *service;
    ngx_uint_t                   service_index;
} ngx_http_flores_loc_conf_t;


static ngx_table_elt_t *ngx_http_flores_request_id_header(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_flores_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_flores_add_variables(ngx_conf_t *cf);
static void *ngx_http_flores_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_flores_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_flores_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_flores_service_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_int_t ngx_http_flores_init(ngx_conf_t *cf);


static ngx_command_t  ngx_http_flores_commands[] = {

    { ngx_string("flores_service"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_flores_service_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_flores_module_ctx = {
    ngx_http_flores_add_variables,         /* preconfiguration */
    ngx_http_flores_init,                  /* postconfiguration */

    ngx_http_flores_create_main_conf,      /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_flores_create_loc_conf,       /* create location configuration */
    ngx_http_flores_merge_loc_conf         /* merge location configuration */
};


ngx_module_t  ngx_http_flores_module = {
    NGX_MODULE_V1,
    &ngx_http_flores_module_ctx,           /* module context */
    ngx_http_flores_commands,              /* module directives */
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
 * Cacheable: nginx keeps the value in r->variables, which is shared with
 * subrequests and survives internal redirects (a module ctx does not), so a
 * request keeps one id from the first use to the access log.
 */
static ngx_http_variable_t  ngx_http_flores_vars[] = {

    { ngx_string("flores_request_id"), NULL,
      ngx_http_flores_request_id_variable, 0, 0, 0 },

    /*
     * Follows the location. Changeable, so that configurations which still
     * declare it with "map" or "set" keep working (those then win).
     */
    { ngx_string("flores_service"), NULL,
      ngx_http_flores_service_variable, 0,
      NGX_HTTP_VAR_CHANGEABLE|NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_flores_json_type = ngx_string("application/json");


ngx_int_t
ngx_http_flores_request_id(ngx_http_request_t *r, ngx_str_t *id)
{
    ngx_http_variable_value_t    *vv;
    ngx_http_flores_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_module);

    vv = ngx_http_get_indexed_variable(r, fmcf->request_id_index);

    if (vv == NULL || vv->not_found) {
        return NGX_ERROR;
    }

    id->len = vv->len;
    id->data = vv->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_flores_send_error(ngx_http_request_t *r,
    const ngx_http_flores_error_t *err)
{
    size_t                     len;
    u_char                    *p;
    ngx_str_t                  id, status;
    ngx_http_complex_value_t   cv;

    if (ngx_http_flores_request_id(r, &id) != NGX_OK) {
        return NGX_ERROR;
    }

    if (err->status >= NGX_HTTP_INTERNAL_SERVER_ERROR) {
        ngx_str_set(&status, "error");

    } else {
        ngx_str_set(&status, "fail");
    }

    /* the request id needs no escaping: it is [A-Za-z0-9._-] or hex */

    len = sizeof("{\"status\":\"\",\"code\":\"\",\"message\":\"\","
                 "\"requestId\":\"\"}") - 1
          + status.len
          + err->code.len
          + ngx_escape_json(NULL, err->code.data, err->code.len)
          + err->message.len
          + ngx_escape_json(NULL, err->message.data, err->message.len)
          + id.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&cv, sizeof(ngx_http_complex_value_t));

    cv.value.data = p;
    cv.value.len = len;

    p = ngx_cpymem(p, "{\"status\":\"", sizeof("{\"status\":\"") - 1);
    p = ngx_cpymem(p, status.data, status.len);
    p = ngx_cpymem(p, "\",\"code\":\"", sizeof("\",\"code\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, err->code.data, err->code.len);
    p = ngx_cpymem(p, "\",\"message\":\"", sizeof("\",\"message\":\"") - 1);
    p = (u_char *) ngx_escape_json(p, err->message.data, err->message.len);
    p = ngx_cpymem(p, "\",\"requestId\":\"", sizeof("\",\"requestId\":\"") - 1);
    p = ngx_cpymem(p, id.data, id.len);
    *p++ = '"'; *p++ = '}';

    return ngx_http_send_response(r, err->status, &ngx_http_flores_json_type,
                                  &cv);
}


ngx_int_t
ngx_http_flores_reject(ngx_http_request_t *r,
    const ngx_http_flores_error_t *err)
{
    ngx_http_finalize_request(r, ngx_http_flores_send_error(r, err));

    /* tells the phase engine the request is taken care of */
    return NGX_DONE;
}


ngx_str_t *
ngx_http_flores_service(ngx_http_request_t *r)
{
    ngx_http_flores_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_module);

    return flcf->service;
}


ngx_str_t *
ngx_http_flores_conf_service(ngx_conf_t *cf)
{
    ngx_http_flores_loc_conf_t  *flcf;

    flcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_flores_module);

    return (flcf->service == NGX_CONF_UNSET_PTR) ? NULL : flcf->service;
}


ngx_uint_t
ngx_http_flores_service_index(ngx_http_request_t *r)
{
    ngx_http_flores_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_module);

    return flcf->service_index;
}


ngx_array_t *
ngx_http_flores_services(ngx_conf_t *cf)
{
    ngx_http_flores_main_conf_t  *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_flores_module);

    return &fmcf->services;
}


ngx_int_t
ngx_http_flores_metrics_add(ngx_conf_t *cf, ngx_http_flores_metrics_pt writer,
    void *data)
{
    ngx_http_flores_main_conf_t       *fmcf;
    ngx_http_flores_metrics_writer_t  *w;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_flores_module);

    if (fmcf->metrics_writers == NULL) {
        fmcf->metrics_writers = ngx_array_create(cf->pool, 4,
                                      sizeof(ngx_http_flores_metrics_writer_t));
        if (fmcf->metrics_writers == NULL) {
            return NGX_ERROR;
        }
    }

    w = ngx_array_push(fmcf->metrics_writers);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->writer = writer;
    w->data = data;

    return NGX_OK;
}


ngx_array_t *
ngx_http_flores_metrics_writers(ngx_http_request_t *r)
{
    ngx_http_flores_main_conf_t  *fmcf;

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_module);

    return fmcf->metrics_writers;
}


static ngx_table_elt_t *
ngx_http_flores_request_id_header(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
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

        if (h[i].key.len == sizeof("X-Request-ID") - 1
            && ngx_strncasecmp(h[i].key.data, (u_char *) "X-Request-ID",
                               sizeof("X-Request-ID") - 1)
               == 0)
        {
            return &h[i];
        }
    }
}


static ngx_int_t
ngx_http_flores_request_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                       *p, *last;
    ngx_table_elt_t              *h;
    ngx_http_variable_value_t    *vv;
    ngx_http_flores_main_conf_t  *fmcf;

    /* the first X-Request-ID is kept when it is 1-64 of [A-Za-z0-9._-] */

    h = ngx_http_flores_request_id_header(r);

    if (h != NULL
        && h->value.len > 0
        && h->value.len <= NGX_HTTP_FLORES_REQUEST_ID_MAX)
    {
        last = h->value.data + h->value.len;

        for (p = h->value.data; p < last; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
                  || (*p >= '0' && *p <= '9')
                  || *p == '.' || *p == '_' || *p == '-'))
            {
                break;
            }
        }

        if (p == last) {
            v->len = h->value.len;
            v->valid = 1;
            v->no_cacheable = 0;
            v->not_found = 0;
            v->data = h->value.data;

            return NGX_OK;
        }
    }

    fmcf = ngx_http_get_module_main_conf(r, ngx_http_flores_module);

    vv = ngx_http_get_indexed_variable(r, fmcf->ngx_request_id_index);

    if (vv == NULL || vv->not_found) {
        return NGX_ERROR;
    }

    v->len = vv->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = vv->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_service_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_flores_loc_conf_t  *flcf;

    flcf = ngx_http_get_module_loc_conf(r, ngx_http_flores_module);

    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    if (flcf->service == NULL) {
        v->len = 0;
        v->data = (u_char *) "";

    } else {
        v->len = flcf->service->len;
        v->data = flcf->service->data;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_flores_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_flores_vars; v->name.len; v++) {
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
ngx_http_flores_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_flores_main_conf_t  *fmcf;

    fmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_flores_main_conf_t));
    if (fmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     fmcf->metrics_writers = NULL;
     */

    fmcf->request_id_index = NGX_ERROR;
    fmcf->ngx_request_id_index = NGX_ERROR;

    if (ngx_array_init(&fmcf->services, cf->pool, 8, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NULL;
    }

    return fmcf;
}


static void *
ngx_http_flores_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_flores_loc_conf_t  *conf;

    conf = ngx_palloc(cf->pool, sizeof(ngx_http_flores_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->service = NGX_CONF_UNSET_PTR;
    conf->service_index = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_flores_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_flores_loc_conf_t  *prev = parent;
    ngx_http_flores_loc_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->service, prev->service, NULL);
    ngx_conf_merge_uint_value(conf->service_index, prev->service_index, 0);

    return NGX_CONF_OK;
}


static char *
ngx_http_flores_service_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_flores_loc_conf_t  *flcf = conf;

    u_char                       *p, *last;
    ngx_str_t                    *value, *name;
    ngx_uint_t                    i;
    ngx_http_flores_main_conf_t  *fmcf;

    if (flcf->service != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* the name becomes a label value in the metrics: no escaping needed */

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

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_flores_module);

    name = fmcf->services.elts;

    for (i = 0; i < fmcf->services.nelts; i++) {
        if (name[i].len == value[1].len
            && ngx_strncmp(name[i].data, value[1].data, value[1].len) == 0)
        {
            break;
        }
    }

    if (i == fmcf->services.nelts) {
        name = ngx_array_push(&fmcf->services);
        if (name == NULL) {
            return NGX_CONF_ERROR;
        }

        *name = value[1];
    }

    /* its own copy: the array may move when it grows */

    name = ngx_palloc(cf->pool, sizeof(ngx_str_t));
    if (name == NULL) {
        return NGX_CONF_ERROR;
    }

    *name = value[1];

    flcf->service = name;
    flcf->service_index = i + 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_flores_init(ngx_conf_t *cf)
{
    ngx_str_t                     name;
    ngx_http_flores_main_conf_t  *fmcf;

    fmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_flores_module);

    /* indexed, so that its value is computed once and cached */

    ngx_str_set(&name, "flores_request_id");

    fmcf->request_id_index = ngx_http_get_variable_index(cf, &name);
    if (fmcf->request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "request_id");

    fmcf->ngx_request_id_index = ngx_http_get_variable_index(cf, &name);
    if (fmcf->ngx_request_id_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    return NGX_OK;
}
