/*
 * ngx_http_persona_module: types shared by the nginx glue files.
 */

#ifndef NGX_HTTP_PERSONA_MODULE_H
#define NGX_HTTP_PERSONA_MODULE_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "persona_profile.h"
#include "persona_rules.h"


/* $persona_status */
typedef enum {
    NGX_HTTP_PERSONA_OFF = 0,
    NGX_HTTP_PERSONA_OK,
    NGX_HTTP_PERSONA_MISS,
    NGX_HTTP_PERSONA_ANONYMOUS,
    NGX_HTTP_PERSONA_ERROR,
    NGX_HTTP_PERSONA_TIMEOUT,
    NGX_HTTP_PERSONA_BREAKER,
    NGX_HTTP_PERSONA_STALE,
    NGX_HTTP_PERSONA_PREVIEW,
    NGX_HTTP_PERSONA_INVALID      /* a reply that cannot be used */
} ngx_http_persona_status_e;


#include "ngx_http_persona_redis.h"

/* cap counters read with one profile, at most */
#define NGX_HTTP_PERSONA_CAPS_MAX    32


/* a loaded rule set; requests hold references, see rules.c */
typedef struct {
    persona_rules_t            *rules;
    ngx_uint_t                  refs;     /* requests, + 1 while current */
} ngx_http_persona_rules_ref_t;


/* one rules path, loaded once per configuration however often named */
typedef struct {
    ngx_str_t                        path;     /* empty: built-in rules */
    ngx_http_persona_rules_ref_t    *current;
    uint64_t                         signature;    /* of the files read */
    uint64_t                         bad_signature;  /* logged already */
} ngx_http_persona_ruleset_t;


/* persona_geoip2 and a request's lookup (ngx_http_persona_geo.c);
 * opaque elsewhere */
typedef struct ngx_http_persona_geo_s      ngx_http_persona_geo_t;
typedef struct ngx_http_persona_geo_req_s  ngx_http_persona_geo_req_t;

/* caps, tracking and goals of a request (ngx_http_persona_track.c) */
typedef struct ngx_http_persona_track_s    ngx_http_persona_track_t;

/* the injection filter of a response (ngx_http_persona_body.c) */
typedef struct ngx_http_persona_filter_s   ngx_http_persona_filter_t;


/* persona_profile_cache (ngx_http_persona_profile_cache.c); opaque
 * elsewhere */
typedef struct ngx_http_persona_profile_cache_s
    ngx_http_persona_profile_cache_t;
typedef struct ngx_http_persona_pcache_waiter_s
    ngx_http_persona_pcache_waiter_t;

/* $persona_cache */
#define NGX_HTTP_PERSONA_PCACHE_OFF   0
#define NGX_HTTP_PERSONA_PCACHE_HIT   1
#define NGX_HTTP_PERSONA_PCACHE_MISS  2


/* persona_cache_control */
#define NGX_HTTP_PERSONA_CACHE_OFF      0
#define NGX_HTTP_PERSONA_CACHE_PRIVATE  1


typedef struct {
    ngx_http_persona_redis_conf_t  *redis;
    ngx_http_persona_geo_t         *geo;      /* persona_geoip2, or NULL */
    ngx_http_persona_profile_cache_t *profile_cache;  /* or NULL */
    ngx_flag_t                      enabled;  /* "persona on" somewhere */

    ngx_array_t                     rulesets; /* ngx_http_persona_ruleset_t * */
    ngx_http_persona_ruleset_t     *builtin;
    ngx_msec_t                      rules_auto_reload;
    ngx_event_t                     rules_timer;

    /* $persona_variants, read by the data layer (ngx_http_persona_body.c) */
    ngx_int_t                       variants_index;

    /* persona_events (ngx_http_persona_track.c); empty: the default */
    ngx_str_t                       events;
    ngx_uint_t                      events_maxlen;
} ngx_http_persona_main_conf_t;


/* persona_id_cookie */
typedef struct {
    ngx_str_t                   name;
    ngx_str_t                   attrs;        /* "; Path=/; Max-Age=..." */
    ngx_str_t                   attrs_ssl;    /* the same over https */
    ngx_array_t                *ids;          /* the default persona_id */
} ngx_http_persona_id_cookie_t;


typedef struct {
    ngx_flag_t                  enable;
    ngx_array_t                *ids;          /* ngx_http_complex_value_t */
    ngx_http_persona_id_cookie_t *id_cookie;  /* NULL: no cookie issued */
    ngx_flag_t                  respect_gpc;
    ngx_flag_t                  track;
    ngx_http_complex_value_t   *profile_key;
    ngx_uint_t                  profile_format;
    ngx_http_persona_ruleset_t *rules;

    /* the response filters */
    ngx_flag_t                  inject;
    ngx_flag_t                  data_layer;
    ngx_uint_t                  cache_control;
    ngx_hash_t                  types;
    ngx_array_t                *types_keys;

    ngx_str_t                   preview_token;    /* empty: no preview */
} ngx_http_persona_loc_conf_t;


/* the result of the lookup: one per client request, shared by its
 * internal redirects and subrequests */
typedef struct {
    ngx_http_request_t             *request;
    ngx_str_t                       id;
    ngx_http_persona_status_e       status;
    persona_profile_t               profile;
    ngx_str_t                       segment;
    ngx_str_t                       segments;
    ngx_http_persona_redis_op_t    *op;       /* pending lookup */
    ngx_uint_t                      profile_format;

    /* the rules the request started with, and what they chose */
    ngx_http_persona_ruleset_t     *ruleset;
    ngx_http_persona_rules_ref_t   *rules;
    const persona_experience_t     *experience;  /* variants applied */
    /* variant per experiment of ctx->rules (NULL: not in it), and
     * $persona_variants */
    const persona_variant_t       **variants;
    /* the cookie an id issued now goes out in */
    ngx_http_persona_id_cookie_t   *id_cookie;
    ngx_str_t                       variants_text;

    /* attributes computed on demand (attrs.c) */
    ngx_str_t                       device;
    ngx_str_t                       lang;
    ngx_str_t                       time_hour;
    ngx_str_t                       time_weekday;
    ngx_str_t                       time_date;
    u_char                          lang_buf[PERSONA_LANG_MAX];
    u_char                          time_buf[32];

    /* the GeoIP lookup, NULL until first used (ngx_http_persona_geo.c) */
    ngx_http_persona_geo_req_t     *geo;

    /* the main request's injection, or NULL (ngx_http_persona_body.c) */
    ngx_http_persona_filter_t      *filter;

    /* preview (ngx_http_persona_preview.c): the persona_preview value a
     * valid token or link allowed, and the variants it forces */
    ngx_str_t                       preview_value;
    const persona_variant_t       **forced;

    /* persona_profile_cache (ngx_http_persona_profile_cache.c) */
    ngx_str_t                       cache_key;
    ngx_uint_t                      cache;        /* $persona_cache */
    ngx_http_persona_pcache_waiter_t *cache_waiter;

    /* caps, tracking and goals, or NULL (ngx_http_persona_track.c) */
    ngx_http_persona_track_t       *track;

    unsigned                        done:1;
    unsigned                        waiting:1;
    unsigned                        applied:1;
    unsigned                        routed:1;     /* landing or redirect */
    unsigned                        new_id:1;
    unsigned                        device_done:1;
    unsigned                        lang_done:1;
    unsigned                        time_done:1;
    /* a preview is in force: no tracking, no cap read or counting */
    unsigned                        preview:1;

    unsigned                        cache_store:1;
} ngx_http_persona_ctx_t;


extern ngx_module_t  ngx_http_persona_module;


/* ngx_http_persona_handler.c */
ngx_int_t ngx_http_persona_init_handler(ngx_conf_t *cf);
void *ngx_http_persona_palloc(void *pool, size_t size);
ngx_http_persona_ctx_t *ngx_http_persona_get_ctx(ngx_http_request_t *r);
typedef ngx_uint_t (*ngx_http_persona_header_pick_pt)(ngx_table_elt_t *h,
    void *data);
ngx_int_t ngx_http_persona_remove_headers_in(ngx_http_request_t *r,
    ngx_http_persona_header_pick_pt drop, void *data);
ngx_table_elt_t *ngx_http_persona_header_next(ngx_list_t *headers,
    ngx_str_t *name, ngx_list_part_t **part, ngx_uint_t *i);

/* ngx_http_persona_id.c */
char *ngx_http_persona_id_cookie(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_array_t *ngx_http_persona_id_cookie_ids(ngx_conf_t *cf,
    ngx_http_persona_id_cookie_t *idc);
ngx_int_t ngx_http_persona_issue_id(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_http_persona_ctx_t *ctx);
ngx_int_t ngx_http_persona_set_id_cookie(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
/* the request has "Sec-GPC: 1" */
ngx_uint_t ngx_http_persona_gpc(ngx_http_request_t *r);

/* ngx_http_persona_track.c: caps, tracking and goals */
char *ngx_http_persona_events(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_persona_init_track(ngx_conf_t *cf);
/* before the rules are evaluated; key: the profile key, NULL when the
 * profile is not looked up */
ngx_int_t ngx_http_persona_track_start(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_http_persona_ctx_t *ctx,
    ngx_str_t *key);
/* the cap counters to read with the profile: up to max commands */
ngx_uint_t ngx_http_persona_track_cap_reads(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_redis_cmd_t *cmds,
    ngx_uint_t max);
void ngx_http_persona_track_cap_replies(ngx_http_persona_ctx_t *ctx,
    redisReply **replies, ngx_uint_t n);
/* 1: a crawler, in no experiment */
ngx_uint_t ngx_http_persona_track_bot(ngx_http_persona_ctx_t *ctx);
/* after bucketing: capped variants become "<variant>-capped" with the
 * control's experience */
void ngx_http_persona_track_caps(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, const persona_variant_t **variants);
/* after the segment: which goals the request converts */
void ngx_http_persona_track_goals(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);

/* ngx_http_persona_filter.c: the header filter */
ngx_int_t ngx_http_persona_init_filters(ngx_conf_t *cf);

/* ngx_http_persona_body.c: the body filter */
ngx_int_t ngx_http_persona_init_body_filter(ngx_conf_t *cf);
ngx_int_t ngx_http_persona_filter_start(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_loc_conf_t *lcf);

/* ngx_http_persona_cache.c: persona_cache_control, and the second
 * module of the .so whose header filter runs before not_modified */
extern ngx_module_t  ngx_http_persona_cache_module;
ngx_uint_t ngx_http_persona_personalized(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_loc_conf_t *lcf);
ngx_uint_t ngx_http_persona_add_header_status(ngx_http_request_t *r);
ngx_int_t ngx_http_persona_private(ngx_http_request_t *r);

/* ngx_http_persona_headers.c: response headers by name */
void ngx_http_persona_clear_header(ngx_http_request_t *r, u_char *name,
    size_t len);
ngx_int_t ngx_http_persona_set_header(ngx_http_request_t *r, u_char *name,
    size_t len, ngx_str_t *value);

/* ngx_http_persona_attrs.c: persona_lookup_pt over a request's ctx */
int ngx_http_persona_attr_lookup(void *data, const persona_attr_t *attr,
    persona_str_t *value);

/* ngx_http_persona_rules.c */
char *ngx_http_persona_rules_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_persona_rules_auto_reload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_persona_rules_merge(ngx_conf_t *cf,
    ngx_http_persona_loc_conf_t *prev, ngx_http_persona_loc_conf_t *conf);
ngx_int_t ngx_http_persona_rules_init_worker(ngx_cycle_t *cycle);
void ngx_http_persona_rules_evaluate(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
ngx_int_t ngx_http_persona_rules_apply(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
void ngx_http_persona_rules_release(ngx_http_persona_ctx_t *ctx);

/* ngx_http_persona_preview.c */
extern ngx_conf_post_t  ngx_http_persona_preview_token_post;
ngx_int_t ngx_http_persona_preview_check(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_http_persona_ctx_t *ctx);
void ngx_http_persona_preview_apply(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
size_t ngx_http_persona_preview_variants(ngx_http_persona_ctx_t *ctx,
    const persona_variant_t **v);
ngx_int_t ngx_http_persona_preview_headers(ngx_http_request_t *r);

/*
 * ngx_http_persona_profile_cache.c: persona_profile_cache.  The handler
 * calls _lookup before the breaker check (NGX_OK: served from the
 * cache; NGX_AGAIN: waits for another request's lookup of the key),
 * _share just before its Redis lookup (which then serves every request
 * missing that key meanwhile), and _result once ctx->status is known
 * (stores the profile, or serves a stale one while Redis fails).
 */
char *ngx_http_persona_profile_cache_directive(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
ngx_int_t ngx_http_persona_profile_cache_lookup(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_str_t *key);
void ngx_http_persona_profile_cache_share(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_redis_handler_pt *handler,
    void **data);
void ngx_http_persona_profile_cache_result(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
/*
 * Tracking: after a write to the profile stored under key (the rendered
 * persona_profile_key), drop its cached entry so that this worker reads
 * it again.  NGX_OK, or NGX_DECLINED without persona_profile_cache.
 */
ngx_int_t ngx_http_persona_profile_cache_drop(ngx_http_request_t *r,
    ngx_str_t *key);
ngx_int_t ngx_http_persona_profile_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

/* ngx_http_persona_variables.c */
ngx_int_t ngx_http_persona_add_variables(ngx_conf_t *cf);

/* ngx_http_persona_redis.c: see ngx_http_persona_redis.h */


/* ---- GeoIP: ngx_http_persona_geo.c ------------------------------------ */

/* the persona_geoip2 directive; cmd->offset locates the
 * ngx_http_persona_geo_t * in the main conf */
char *ngx_http_persona_geoip2(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* arms the auto_reload timer in a worker */
ngx_int_t ngx_http_persona_geo_init_process(ngx_cycle_t *cycle);
/*
 * One field of the visitor's location, looked up once per client request
 * on first use and kept in its ctx: field is a persona_geo_e
 * (persona_attr.h), or a name ("country", "time_zone", ...).  NGX_OK:
 * value set (in r->pool); NGX_DECLINED: no value (no data, no
 * persona_geoip2, unknown field; for _value and _get also: persona did
 * not run for the request); NGX_ERROR: out of memory.
 */
ngx_int_t ngx_http_persona_geo_attr(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_uint_t field, ngx_str_t *value);
ngx_int_t ngx_http_persona_geo_value(ngx_http_request_t *r,
    ngx_uint_t field, ngx_str_t *value);
ngx_int_t ngx_http_persona_geo_get(ngx_http_request_t *r, ngx_str_t *field,
    ngx_str_t *value);
/* get handler of the $persona_geo_ prefix variable */
ngx_int_t ngx_http_persona_geo_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


#endif /* NGX_HTTP_PERSONA_MODULE_H */
