/*
 * ngx_http_persona_metrics: counters for persona_metrics (SPEC "Metrics").
 *
 * Every function is cheap, never fails and may be called from any glue
 * file in a worker; before the metrics zone exists (configuration time,
 * or in the master) they do nothing.  Counters are summed over all
 * workers.
 */

#ifndef NGX_HTTP_PERSONA_METRICS_H
#define NGX_HTTP_PERSONA_METRICS_H

#include <ngx_config.h>
#include <ngx_core.h>

#include "persona_rules.h"


/* persona_redis_errors_total{kind} */
typedef enum {
    NGX_HTTP_PERSONA_REDIS_ERR_TIMEOUT = 0,
    NGX_HTTP_PERSONA_REDIS_ERR_CONNECT,
    NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL
} ngx_http_persona_redis_err_e;


/* persona_cache_total{result} */
typedef enum {
    NGX_HTTP_PERSONA_CACHE_HIT = 0,
    NGX_HTTP_PERSONA_CACHE_MISS,
    NGX_HTTP_PERSONA_CACHE_STALE
} ngx_http_persona_cache_result_e;


/* the Redis client */
void ngx_http_persona_metrics_redis_connect(void);
void ngx_http_persona_metrics_redis_conns(ngx_int_t delta);
void ngx_http_persona_metrics_redis_error(ngx_http_persona_redis_err_e kind);
/* one lookup answered by Redis: time from queueing to the reply */
void ngx_http_persona_metrics_redis_latency(ngx_msec_t usec);
void ngx_http_persona_metrics_breaker_trip(void);
/* additions for persona_redis ... cluster: a slot map loaded; a lookup
 * sent to a node; a MOVED or ASK reply from a node (ask: 0 or 1) */
void ngx_http_persona_metrics_redis_topology_refresh(void);
void ngx_http_persona_metrics_redis_node_lookup(ngx_str_t *node);
void ngx_http_persona_metrics_redis_redirect(ngx_str_t *node,
    ngx_uint_t ask);

/* the profile cache */
void ngx_http_persona_metrics_cache(ngx_http_persona_cache_result_e result);
void ngx_http_persona_metrics_cache_eviction(void);

/* tracking and goals */
void ngx_http_persona_metrics_track_dropped(void);
void ngx_http_persona_metrics_goal(ngx_str_t *goal);

/* rules */
void ngx_http_persona_metrics_rules_loaded(time_t when);
void ngx_http_persona_metrics_rules_reload_error(void);


/*
 * Added by the metrics glue itself (not for counting): the persona_metrics
 * directive, the zone, and the log-phase handler that counts requests,
 * segments and variants (installed when some location has "persona on").
 */
char *ngx_http_persona_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_persona_metrics_add_zone(ngx_conf_t *cf);
ngx_int_t ngx_http_persona_metrics_init(ngx_conf_t *cf);
/* the series a rule set can produce, at 0 (rules glue, in a worker) */
void ngx_http_persona_metrics_rules(persona_rules_t *rules);


#endif /* NGX_HTTP_PERSONA_METRICS_H */
