/*
 * ngx_http_persona_module: personalize pages at the edge from a visitor
 * profile in Redis.
 *
 * This file holds the module and directive tables and configuration
 * create/merge; the work is in src/ngx_http_persona_*.c (nginx glue) and
 * src/persona_*.c (pure core).
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"


static ngx_int_t ngx_http_persona_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_persona_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_persona_init_process(ngx_cycle_t *cycle);
static void *ngx_http_persona_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_persona_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_persona_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_persona_id(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_persona_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_persona_compile(ngx_conf_t *cf, char *value,
    ngx_http_complex_value_t **cvp);


static ngx_conf_enum_t  ngx_http_persona_formats[] = {
    { ngx_string("hash"), PERSONA_FORMAT_HASH },
    { ngx_string("json"), PERSONA_FORMAT_JSON },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_persona_cache_controls[] = {
    { ngx_string("private"), NGX_HTTP_PERSONA_CACHE_PRIVATE },
    { ngx_string("off"), NGX_HTTP_PERSONA_CACHE_OFF },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_persona_commands[] = {

    { ngx_string("persona"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, enable),
      NULL },

    { ngx_string("persona_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_persona_id,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("persona_id_cookie"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_persona_id_cookie,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("persona_respect_gpc"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, respect_gpc),
      NULL },

    { ngx_string("persona_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_persona_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("persona_profile_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, profile_key),
      NULL },

    { ngx_string("persona_geoip2"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE123,
      ngx_http_persona_geoip2,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_persona_main_conf_t, geo),
      NULL },

    { ngx_string("persona_profile_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_persona_profile_cache_directive,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("persona_profile_format"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, profile_format),
      &ngx_http_persona_formats },

    { ngx_string("persona_rules"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_persona_rules_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("persona_rules_auto_reload"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_persona_rules_auto_reload,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("persona_inject"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, inject),
      NULL },

    { ngx_string("persona_types"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_types_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, types_keys),
      &ngx_http_html_default_types[0] },

    { ngx_string("persona_data_layer"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, data_layer),
      NULL },

    { ngx_string("persona_cache_control"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, cache_control),
      &ngx_http_persona_cache_controls },

    { ngx_string("persona_preview_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, preview_token),
      &ngx_http_persona_preview_token_post },

    { ngx_string("persona_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_persona_metrics_directive,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("persona_track"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_persona_loc_conf_t, track),
      NULL },

    { ngx_string("persona_events"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_persona_events,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_persona_module_ctx = {
    ngx_http_persona_preconfiguration,     /* preconfiguration */
    ngx_http_persona_postconfiguration,    /* postconfiguration */

    ngx_http_persona_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_persona_create_loc_conf,      /* create location configuration */
    ngx_http_persona_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_persona_module = {
    NGX_MODULE_V1,
    &ngx_http_persona_module_ctx,          /* module context */
    ngx_http_persona_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_persona_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_int_t
ngx_http_persona_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_persona_add_variables(cf);
}


static ngx_int_t
ngx_http_persona_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_persona_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_persona_module);

    if (!mcf->enabled) {
        return NGX_OK;
    }

    if (ngx_http_persona_init_filters(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_persona_metrics_init(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_persona_init_track(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_persona_init_handler(cf);
}


/* per worker: timers of the auto_reload options */
static ngx_int_t
ngx_http_persona_init_process(ngx_cycle_t *cycle)
{
    if (ngx_http_persona_rules_init_worker(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_persona_geo_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_persona_redis_init_process(cycle);
}


static void *
ngx_http_persona_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_persona_main_conf_t  *mcf;

    mcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_main_conf_t));
    if (mcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&mcf->rulesets, cf->pool, 4,
                       sizeof(ngx_http_persona_ruleset_t *))
        != NGX_OK)
    {
        return NULL;
    }

    mcf->rules_auto_reload = NGX_CONF_UNSET_MSEC;

    return mcf;
}


static void *
ngx_http_persona_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_persona_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->ids = NULL;
     *     conf->profile_key = NULL;
     *     conf->types_keys = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->id_cookie = NGX_CONF_UNSET_PTR;
    conf->respect_gpc = NGX_CONF_UNSET;
    conf->profile_format = NGX_CONF_UNSET_UINT;
    conf->rules = NGX_CONF_UNSET_PTR;
    conf->inject = NGX_CONF_UNSET;
    conf->data_layer = NGX_CONF_UNSET;
    conf->cache_control = NGX_CONF_UNSET_UINT;
    conf->track = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_persona_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_persona_loc_conf_t *prev = parent;
    ngx_http_persona_loc_conf_t *conf = child;

    ngx_http_complex_value_t      *cv;
    ngx_http_persona_main_conf_t  *mcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_uint_value(conf->profile_format, prev->profile_format,
                              PERSONA_FORMAT_HASH);

    ngx_conf_merge_ptr_value(conf->id_cookie, prev->id_cookie, NULL);
    ngx_conf_merge_value(conf->respect_gpc, prev->respect_gpc, 1);
    ngx_conf_merge_str_value(conf->preview_token, prev->preview_token, "");
    ngx_conf_merge_value(conf->track, prev->track, 0);

    if (conf->ids == NULL && conf->id_cookie) {
        /* the cookie persona_id_cookie NAME names */
        conf->ids = ngx_http_persona_id_cookie_ids(cf, conf->id_cookie);
        if (conf->ids == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (conf->ids == NULL) {
        if (prev->ids == NULL) {
            prev->ids = ngx_array_create(cf->pool, 1,
                                         sizeof(ngx_http_complex_value_t));
            if (prev->ids == NULL) {
                return NGX_CONF_ERROR;
            }

            cv = ngx_array_push(prev->ids);
            if (cv == NULL) {
                return NGX_CONF_ERROR;
            }

            if (ngx_http_persona_compile(cf, "$cookie_persona_id", &cv)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }
        }

        conf->ids = prev->ids;
    }

    if (conf->profile_key == NULL) {
        if (prev->profile_key == NULL) {
            if (ngx_http_persona_compile(cf, "persona:profile:$persona_id",
                                         &prev->profile_key)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }
        }

        conf->profile_key = prev->profile_key;
    }

    ngx_conf_merge_value(conf->inject, prev->inject, 1);
    ngx_conf_merge_value(conf->data_layer, prev->data_layer, 0);
    ngx_conf_merge_uint_value(conf->cache_control, prev->cache_control,
                              NGX_HTTP_PERSONA_CACHE_PRIVATE);

    if (ngx_http_merge_types(cf, &conf->types_keys, &conf->types,
                             &prev->types_keys, &prev->types,
                             ngx_http_html_default_types)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_persona_rules_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->enable) {
        mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_persona_module);

        if (mcf->redis == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"persona on\" needs \"persona_redis\" "
                               "in the http block");
            return NGX_CONF_ERROR;
        }

        mcf->enabled = 1;
    }

    return NGX_CONF_OK;
}


/* compiles a built-in default; *cvp is allocated when NULL */
static char *
ngx_http_persona_compile(ngx_conf_t *cf, char *value,
    ngx_http_complex_value_t **cvp)
{
    ngx_str_t                          v;
    ngx_http_compile_complex_value_t   ccv;

    if (*cvp == NULL) {
        *cvp = ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t));
        if (*cvp == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    v.data = (u_char *) value;
    v.len = ngx_strlen(value);

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &v;
    ccv.complex_value = *cvp;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_persona_id(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_persona_loc_conf_t *lcf = conf;

    ngx_str_t                         *value;
    ngx_uint_t                         i;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    if (lcf->ids) {
        return "is duplicate";
    }

    lcf->ids = ngx_array_create(cf->pool, cf->args->nelts - 1,
                                sizeof(ngx_http_complex_value_t));
    if (lcf->ids == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        cv = ngx_array_push(lcf->ids);
        if (cv == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

        ccv.cf = cf;
        ccv.value = &value[i];
        ccv.complex_value = cv;

        if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_persona_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_persona_main_conf_t *mcf = conf;

    if (mcf->redis) {
        return "is duplicate";
    }

    mcf->redis = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_redis_conf_t));
    if (mcf->redis == NULL) {
        return NGX_CONF_ERROR;
    }

    return ngx_http_persona_redis_parse(cf, mcf->redis);
}
