/*
 * persona_metrics: the page.  The content handler prints the counters of
 * the zone (ngx_http_persona_metrics.c) in Prometheus text format 0.0.4.
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"
#include "ngx_http_persona_metrics_zone.h"
#include "persona_prom.h"


static ngx_int_t ngx_http_persona_metrics_handler(ngx_http_request_t *r);
static size_t ngx_http_persona_metrics_size(
    ngx_http_persona_metrics_sh_t *sh);
static u_char *ngx_http_persona_metrics_print(u_char *p, u_char *last,
    ngx_http_persona_metrics_sh_t *sh, ngx_uint_t breaker);
static u_char *ngx_http_persona_metrics_labeled(u_char *p, u_char *last,
    ngx_http_persona_metrics_sh_t *sh, ngx_uint_t kind, const char *metric,
    const char *label, const char *label2);
static u_char *ngx_http_persona_metrics_escape(u_char *p, u_char *last,
    u_char *s, size_t len);


/* in the order of ngx_http_persona_status_e */
static const char  *ngx_http_persona_metrics_statuses[] = {
    "off", "ok", "miss", "anonymous", "error", "timeout", "breaker",
    "stale", "preview", "invalid"
};

static const char  *ngx_http_persona_metrics_les[] = {
    "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",
    "0.25", "+Inf"
};

static const char  *ngx_http_persona_metrics_redis_errs[] = {
    "timeout", "connect", "protocol"
};

static const char  *ngx_http_persona_metrics_cache_results[] = {
    "hit", "miss", "stale"
};


char *
ngx_http_persona_metrics_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_persona_loc_conf_t *lcf = conf;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler == ngx_http_persona_metrics_handler) {
        return "is duplicate";
    }

    if (lcf->enable == 1) {
        return "cannot be used with \"persona on\"";
    }

    /* the metrics page is never personalized, whatever the server says */
    lcf->enable = 0;

    clcf->handler = ngx_http_persona_metrics_handler;

    if (ngx_http_persona_metrics_add_zone(cf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the content handler of persona_metrics */

static ngx_int_t
ngx_http_persona_metrics_handler(ngx_http_request_t *r)
{
    size_t                            size;
    u_char                           *p;
    ngx_int_t                         rc;
    ngx_buf_t                        *b;
    ngx_str_t                         no_store;
    ngx_uint_t                        breaker;
    ngx_chain_t                       out;
    ngx_http_persona_metrics_zone_t  *zone;
    ngx_http_persona_main_conf_t     *mcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    zone = ngx_http_persona_metrics_get();
    if (zone == NULL) {
        return NGX_HTTP_SERVICE_UNAVAILABLE;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);

    breaker = (mcf->redis != NULL
               && ngx_http_persona_redis_breaker_open(mcf->redis));

    /* series added meanwhile may be left out, never overflow the buffer */
    size = ngx_http_persona_metrics_size(zone->sh);

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_persona_metrics_print(b->pos, b->end, zone->sh, breaker);

    b->last = p;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_str_set(&no_store, "no-store");

    if (ngx_http_persona_set_header(r, (u_char *) "Cache-Control",
                                    sizeof("Cache-Control") - 1, &no_store)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (r->method == NGX_HTTP_HEAD || b->last == b->pos) {
        r->header_only = 1;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/* room for the page: fixed text, and the series there are now */
static size_t
ngx_http_persona_metrics_size(ngx_http_persona_metrics_sh_t *sh)
{
    size_t      size;
    ngx_uint_t  i;

    size = 8192;

    for (i = 0; i < NGX_HTTP_PERSONA_METRICS_SLOTS; i++) {
        if (sh->series[i].ready) {
            /* name, labels, escaped values (at worst twice as long), n */
            size += 64 + 2 * (sh->series[i].len + sh->series[i].len2)
                    + NGX_ATOMIC_T_LEN;
        }
    }

    /* series that appear between the two passes */
    return size + 4096;
}


#define ngx_http_persona_metrics_head(name, type, help)                      \
    p = ngx_slprintf(p, last, "# HELP " name " " help "\n"                    \
                              "# TYPE " name " " type "\n")


static u_char *
ngx_http_persona_metrics_print(u_char *p, u_char *last,
    ngx_http_persona_metrics_sh_t *sh, ngx_uint_t breaker)
{
    ngx_uint_t        i;
    ngx_atomic_int_t  conns;
    ngx_atomic_uint_t n, count, usec;

    ngx_http_persona_metrics_head("persona_requests_total", "counter",
        "Client requests persona handled, by $persona_status.");

    for (i = 0; i < NGX_HTTP_PERSONA_METRICS_STATUSES; i++) {
        p = ngx_slprintf(p, last, "persona_requests_total{status=\"%s\"} %uA\n",
                         ngx_http_persona_metrics_statuses[i],
                         sh->requests[i]);
    }

    ngx_http_persona_metrics_head("persona_segment_total", "counter",
        "Client requests by $persona_segment ((other): a segment from a "
        "profile that the rules do not name).");

    p = ngx_http_persona_metrics_labeled(p, last, sh,
                                         NGX_HTTP_PERSONA_SERIES_SEGMENT,
                                         "persona_segment_total", "segment",
                                         NULL);

    ngx_http_persona_metrics_head("persona_variant_total", "counter",
        "Exposures: client requests assigned this variant of the "
        "experiment.");

    p = ngx_http_persona_metrics_labeled(p, last, sh,
                                         NGX_HTTP_PERSONA_SERIES_VARIANT,
                                         "persona_variant_total", "experiment",
                                         "variant");

    ngx_http_persona_metrics_head("persona_redis_latency_seconds",
        "histogram", "Profile lookups answered by Redis: time from queueing "
        "to the reply.");

    /*
     * _count is the +Inf bucket, so the two agree however the counters
     * move while they are read
     */
    count = 0;

    for (i = 0; i <= NGX_HTTP_PERSONA_METRICS_BUCKETS; i++) {
        count += sh->latency[i];
        p = ngx_slprintf(p, last,
                         "persona_redis_latency_seconds_bucket{le=\"%s\"} "
                         "%uA\n", ngx_http_persona_metrics_les[i], count);
    }

    usec = sh->latency_usec;

    p = ngx_slprintf(p, last,
                     "persona_redis_latency_seconds_sum %uA.%06uA\n"
                     "persona_redis_latency_seconds_count %uA\n",
                     usec / 1000000, usec % 1000000, count);

    ngx_http_persona_metrics_head("persona_redis_connections", "gauge",
        "Open connections to Redis, all workers.");

    conns = (ngx_atomic_int_t) sh->connections;

    p = ngx_slprintf(p, last, "persona_redis_connections %A\n",
                     conns > 0 ? conns : 0);

    ngx_http_persona_metrics_head("persona_redis_connects_total", "counter",
        "Connections opened to Redis.");

    p = ngx_slprintf(p, last, "persona_redis_connects_total %uA\n",
                     sh->connects);

    ngx_http_persona_metrics_head("persona_redis_errors_total", "counter",
        "Failed Redis lookups, by kind.");

    for (i = 0; i < 3; i++) {
        p = ngx_slprintf(p, last, "persona_redis_errors_total{kind=\"%s\"} "
                         "%uA\n", ngx_http_persona_metrics_redis_errs[i],
                         sh->redis_errors[i]);
    }

    ngx_http_persona_metrics_head("persona_breaker_open", "gauge",
        "1 while the breaker skips Redis lookups.");

    p = ngx_slprintf(p, last, "persona_breaker_open %ui\n", breaker);

    ngx_http_persona_metrics_head("persona_breaker_trips_total", "counter",
        "Times the breaker opened.");

    p = ngx_slprintf(p, last, "persona_breaker_trips_total %uA\n",
                     sh->breaker_trips);

    ngx_http_persona_metrics_head("persona_redis_topology_refreshes_total",
        "counter", "Redis Cluster slot maps loaded (persona_redis cluster).");

    p = ngx_slprintf(p, last,
                     "persona_redis_topology_refreshes_total %uA\n",
                     sh->topology_refreshes);

    ngx_http_persona_metrics_head("persona_redis_node_lookups_total",
        "counter", "Lookups sent to each Redis Cluster node.");

    p = ngx_http_persona_metrics_labeled(p, last, sh,
                                         NGX_HTTP_PERSONA_SERIES_NODE,
                                         "persona_redis_node_lookups_total",
                                         "node", NULL);

    ngx_http_persona_metrics_head("persona_redis_redirects_total",
        "counter", "MOVED and ASK replies, by the node that sent them.");

    p = ngx_http_persona_metrics_labeled(p, last, sh,
                                         NGX_HTTP_PERSONA_SERIES_REDIRECT,
                                         "persona_redis_redirects_total",
                                         "node", "kind");

    ngx_http_persona_metrics_head("persona_cache_total", "counter",
        "Profile cache lookups, by result.");

    for (i = 0; i < 3; i++) {
        p = ngx_slprintf(p, last, "persona_cache_total{result=\"%s\"} %uA\n",
                         ngx_http_persona_metrics_cache_results[i],
                         sh->cache[i]);
    }

    ngx_http_persona_metrics_head("persona_cache_evictions_total", "counter",
        "Profiles evicted from the cache to make room.");

    p = ngx_slprintf(p, last, "persona_cache_evictions_total %uA\n",
                     sh->cache_evictions);

    ngx_http_persona_metrics_head("persona_track_dropped_total", "counter",
        "Tracking operations dropped (too many in flight, or no "
        "connection).");

    p = ngx_slprintf(p, last, "persona_track_dropped_total %uA\n",
                     sh->track_dropped);

    ngx_http_persona_metrics_head("persona_goal_total", "counter",
        "Conversions: requests that matched a goal.");

    p = ngx_http_persona_metrics_labeled(p, last, sh,
                                         NGX_HTTP_PERSONA_SERIES_GOAL,
                                         "persona_goal_total", "goal", NULL);

    ngx_http_persona_metrics_head("persona_rules_loaded_timestamp_seconds",
        "gauge", "When a rules file was last loaded (unix seconds).");

    p = ngx_slprintf(p, last, "persona_rules_loaded_timestamp_seconds %uA\n",
                     sh->rules_loaded);

    ngx_http_persona_metrics_head("persona_rules_reload_errors_total",
        "counter", "Changed rules that failed to load (the last good ones "
        "stayed).");

    p = ngx_slprintf(p, last, "persona_rules_reload_errors_total %uA\n",
                     sh->rules_reload_errors);

    ngx_http_persona_metrics_head("persona_metrics_series_dropped_total",
        "counter", "Counts lost because the table of label series was "
        "full.");

    n = sh->series_dropped;

    p = ngx_slprintf(p, last, "persona_metrics_series_dropped_total %uA\n",
                     n);

    return p;
}


static u_char *
ngx_http_persona_metrics_labeled(u_char *p, u_char *last,
    ngx_http_persona_metrics_sh_t *sh, ngx_uint_t kind, const char *metric,
    const char *label, const char *label2)
{
    ngx_uint_t                  i;
    ngx_http_persona_series_t  *s;

    for (i = 0; i < NGX_HTTP_PERSONA_METRICS_SLOTS; i++) {
        s = &sh->series[i];

        if (!s->ready) {
            continue;
        }

        ngx_memory_barrier();

        if (s->kind != kind) {
            continue;
        }

        /* a whole line or nothing */
        if ((size_t) (last - p) < ngx_strlen(metric) + 32
                                  + 2 * (s->len + s->len2)
                                  + NGX_ATOMIC_T_LEN)
        {
            break;
        }

        p = ngx_slprintf(p, last, "%s{%s=\"", metric, label);
        p = ngx_http_persona_metrics_escape(p, last, s->key, s->len);

        if (label2) {
            p = ngx_slprintf(p, last, "\",%s=\"", label2);
            p = ngx_http_persona_metrics_escape(p, last, s->key + s->len,
                                                s->len2);
        }

        p = ngx_slprintf(p, last, "\"} %uA\n", s->value);
    }

    return p;
}


/* a label value, escaped (persona_prom.c) */
static u_char *
ngx_http_persona_metrics_escape(u_char *p, u_char *last, u_char *s,
    size_t len)
{
    return p + persona_prom_escape((char *) p, last - p, (const char *) s,
                                   len);
}
