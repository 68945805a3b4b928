/*
 * persona_metrics: counters shared by all workers, and the content
 * handler that prints them in Prometheus text format.
 *
 * Placeholder: the interface in ngx_http_persona_metrics.h is fixed so
 * that other glue files can count; the zone and the handler are not
 * written yet, so these do nothing.
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"


void
ngx_http_persona_metrics_redis_connect(void)
{
}


void
ngx_http_persona_metrics_redis_conns(ngx_int_t delta)
{
}


void
ngx_http_persona_metrics_redis_error(ngx_http_persona_redis_err_e kind)
{
}


void
ngx_http_persona_metrics_redis_latency(ngx_msec_t usec)
{
}


void
ngx_http_persona_metrics_breaker_trip(void)
{
}


void
ngx_http_persona_metrics_cache(ngx_http_persona_cache_result_e result)
{
}


void
ngx_http_persona_metrics_cache_eviction(void)
{
}


void
ngx_http_persona_metrics_track_dropped(void)
{
}


void
ngx_http_persona_metrics_goal(ngx_str_t *goal)
{
}


void
ngx_http_persona_metrics_rules_loaded(time_t when)
{
}


void
ngx_http_persona_metrics_rules_reload_error(void)
{
}
