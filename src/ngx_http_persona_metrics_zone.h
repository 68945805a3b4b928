/*
 * The counters' zone of persona_metrics, shared by the files that count
 * (ngx_http_persona_metrics.c) and the page that prints them
 * (ngx_http_persona_metrics_page.c).  Private to those two.
 */

#ifndef NGX_HTTP_PERSONA_METRICS_ZONE_H
#define NGX_HTTP_PERSONA_METRICS_ZONE_H

#include <ngx_config.h>
#include <ngx_core.h>


/* label-keyed series: segments, variants, goals */
#define NGX_HTTP_PERSONA_METRICS_SLOTS    1024
/* at most this many series; the rest of the table keeps probing short */
#define NGX_HTTP_PERSONA_METRICS_SERIES   768
/* experiment + variant ("-capped" included) fit */
#define NGX_HTTP_PERSONA_METRICS_KEY      144

/* persona_redis_latency_seconds buckets, in microseconds */
#define NGX_HTTP_PERSONA_METRICS_BUCKETS  9

#define NGX_HTTP_PERSONA_METRICS_STATUSES 10


/* what a label series counts */
typedef enum {
    NGX_HTTP_PERSONA_SERIES_SEGMENT = 1,
    NGX_HTTP_PERSONA_SERIES_VARIANT,
    NGX_HTTP_PERSONA_SERIES_GOAL,
    NGX_HTTP_PERSONA_SERIES_NODE,        /* lookups per cluster node */
    NGX_HTTP_PERSONA_SERIES_REDIRECT     /* node, moved|ask */
} ngx_http_persona_series_e;


typedef struct {
    ngx_atomic_t                 ready;    /* written once, under the mutex */
    ngx_atomic_t                 value;
    uint32_t                     kind;
    uint16_t                     len;      /* first label value */
    uint16_t                     len2;     /* second one (variant), or 0 */
    u_char                       key[NGX_HTTP_PERSONA_METRICS_KEY];
} ngx_http_persona_series_t;


/* the zone's content */
typedef struct {
    ngx_atomic_t                 requests[NGX_HTTP_PERSONA_METRICS_STATUSES];

    /* per bucket (not cumulative), the last one is above .25 s */
    ngx_atomic_t                 latency[NGX_HTTP_PERSONA_METRICS_BUCKETS + 1];
    ngx_atomic_t                 latency_usec;       /* sum */

    ngx_atomic_t                 connections;        /* signed */
    ngx_atomic_t                 connects;
    ngx_atomic_t                 redis_errors[3];
    ngx_atomic_t                 breaker_trips;
    ngx_atomic_t                 topology_refreshes;

    ngx_atomic_t                 cache[3];
    ngx_atomic_t                 cache_evictions;

    ngx_atomic_t                 track_dropped;

    ngx_atomic_t                 rules_loaded;       /* unix seconds */
    ngx_atomic_t                 rules_reload_errors;

    ngx_atomic_t                 nseries;
    ngx_atomic_t                 series_dropped;

    ngx_http_persona_series_t    series[NGX_HTTP_PERSONA_METRICS_SLOTS];
} ngx_http_persona_metrics_sh_t;


/* shm_zone->data */
typedef struct {
    ngx_http_persona_metrics_sh_t  *sh;
    ngx_slab_pool_t                *shpool;
} ngx_http_persona_metrics_zone_t;


/*
 * The zone of the current cycle, or NULL: none yet (a cold start while
 * the configuration is read, nginx -t), or no location counts.
 */
ngx_http_persona_metrics_zone_t *ngx_http_persona_metrics_get(void);


#endif /* NGX_HTTP_PERSONA_METRICS_ZONE_H */
