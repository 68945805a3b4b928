/*
 * persona_metrics: the counters, shared by all workers.
 *
 * They live in a shared memory zone of their own ("persona_metrics",
 * created when some location has "persona on" or "persona_metrics").  A
 * count is one atomic add; nothing on the hot path takes a lock, except
 * the first count of a label value never seen before, which inserts it
 * into a bounded table under the zone's mutex.  Counters survive
 * "nginx -s reload" (the zone is reused), as Prometheus expects of
 * counters.  The page that prints them is ngx_http_persona_metrics_page.c.
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"
#include "ngx_http_persona_metrics_zone.h"
#include "persona_prom.h"


static ngx_int_t ngx_http_persona_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_persona_metrics_series(ngx_uint_t kind, u_char *a,
    size_t alen, u_char *b, size_t blen, ngx_atomic_int_t n);
static ngx_int_t ngx_http_persona_metrics_log_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_persona_metrics_known_segment(
    persona_rules_t *rules, ngx_str_t *name);


static ngx_str_t  ngx_http_persona_metrics_zone_name =
    ngx_string("persona_metrics");

static const uint64_t  ngx_http_persona_metrics_bounds[] = {
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000
};

/* a segment named by a "from" entry that the rules do not know */
static u_char  ngx_http_persona_metrics_other[] = "(other)";


/*
 * The zone of the current cycle, found again when the cycle changes.  In
 * the master, while a reload parses the new configuration, that is the
 * zone of the running one; before any zone exists (a cold start, nginx
 * -t) counts are dropped, except the rules' load time, kept until the
 * zone is made.
 */
static volatile ngx_cycle_t             *ngx_http_persona_metrics_cycle;
static ngx_http_persona_metrics_zone_t  *ngx_http_persona_metrics_zone;
static time_t                            ngx_http_persona_metrics_loaded;


/* configuration */

ngx_int_t
ngx_http_persona_metrics_add_zone(ngx_conf_t *cf)
{
    size_t                            size;
    ngx_shm_zone_t                   *shm_zone;
    ngx_http_persona_metrics_zone_t  *zone;

    size = ngx_align(sizeof(ngx_http_persona_metrics_sh_t), 4096)
           + 64 * 1024;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_persona_metrics_zone_name,
                                     size, &ngx_http_persona_module);
    if (shm_zone == NULL) {
        return NGX_ERROR;
    }

    if (shm_zone->data) {
        /* added already by this configuration */
        return NGX_OK;
    }

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_metrics_zone_t));
    if (zone == NULL) {
        return NGX_ERROR;
    }

    shm_zone->init = ngx_http_persona_metrics_init_zone;
    shm_zone->data = zone;

    return NGX_OK;
}


/* persona on somewhere: count requests in the log phase */
ngx_int_t
ngx_http_persona_metrics_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    if (ngx_http_persona_metrics_add_zone(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_persona_metrics_log_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_persona_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_persona_metrics_zone_t  *ozone = data;

    ngx_slab_pool_t                  *shpool;
    ngx_http_persona_metrics_zone_t  *zone;

    zone = shm_zone->data;
    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    zone->shpool = shpool;

    if (ozone) {
        /* a reload: the counters go on */
        zone->sh = ozone->sh;

    } else if (shm_zone->shm.exists) {
        zone->sh = shpool->data;

    } else {
        zone->sh = ngx_slab_calloc(shpool,
                                   sizeof(ngx_http_persona_metrics_sh_t));
        if (zone->sh == NULL) {
            return NGX_ERROR;
        }

        shpool->data = zone->sh;
    }

    if ((ngx_atomic_t) ngx_http_persona_metrics_loaded
        > zone->sh->rules_loaded)
    {
        zone->sh->rules_loaded = ngx_http_persona_metrics_loaded;
    }

    return NGX_OK;
}


ngx_http_persona_metrics_zone_t *
ngx_http_persona_metrics_get(void)
{
    ngx_uint_t        i;
    ngx_shm_zone_t   *shm_zone;
    ngx_list_part_t  *part;

    if (ngx_http_persona_metrics_cycle == ngx_cycle) {
        return ngx_http_persona_metrics_zone;
    }

    ngx_http_persona_metrics_cycle = ngx_cycle;
    ngx_http_persona_metrics_zone = NULL;

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    shm_zone = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            shm_zone = part->elts;
            i = 0;
        }

        if (shm_zone[i].init == ngx_http_persona_metrics_init_zone
            && shm_zone[i].data
            && ((ngx_http_persona_metrics_zone_t *) shm_zone[i].data)->sh)
        {
            ngx_http_persona_metrics_zone = shm_zone[i].data;
            break;
        }
    }

    return ngx_http_persona_metrics_zone;
}


/* counting: the interface of ngx_http_persona_metrics.h */

/* one counter of the zone, by its offset in ngx_http_persona_metrics_sh_t */
static void
ngx_http_persona_metrics_count(size_t offset, ngx_atomic_int_t n)
{
    ngx_http_persona_metrics_zone_t  *zone;

    zone = ngx_http_persona_metrics_get();

    if (zone) {
        (void) ngx_atomic_fetch_add((ngx_atomic_t *) ((u_char *) zone->sh
                                                      + offset), n);
    }
}


#define ngx_http_persona_metrics_off(field)                                  \
    offsetof(ngx_http_persona_metrics_sh_t, field)


void
ngx_http_persona_metrics_redis_connect(void)
{
    ngx_http_persona_metrics_count(ngx_http_persona_metrics_off(connects), 1);
}


void
ngx_http_persona_metrics_redis_conns(ngx_int_t delta)
{
    ngx_http_persona_metrics_count(ngx_http_persona_metrics_off(connections),
                                   delta);
}


void
ngx_http_persona_metrics_redis_error(ngx_http_persona_redis_err_e kind)
{
    if ((ngx_uint_t) kind < 3) {
        ngx_http_persona_metrics_count(
            ngx_http_persona_metrics_off(redis_errors)
            + kind * sizeof(ngx_atomic_t), 1);
    }
}


void
ngx_http_persona_metrics_redis_latency(ngx_msec_t usec)
{
    ngx_uint_t                        i;
    ngx_http_persona_metrics_zone_t  *zone;

    zone = ngx_http_persona_metrics_get();
    if (zone == NULL) {
        return;
    }

    i = persona_prom_bucket(ngx_http_persona_metrics_bounds,
                            NGX_HTTP_PERSONA_METRICS_BUCKETS, usec);

    (void) ngx_atomic_fetch_add(&zone->sh->latency_usec,
                                (ngx_atomic_int_t) usec);
    (void) ngx_atomic_fetch_add(&zone->sh->latency[i], 1);
}


void
ngx_http_persona_metrics_breaker_trip(void)
{
    ngx_http_persona_metrics_count(ngx_http_persona_metrics_off(breaker_trips),
                                   1);
}


void
ngx_http_persona_metrics_redis_topology_refresh(void)
{
    ngx_http_persona_metrics_count(
        ngx_http_persona_metrics_off(topology_refreshes), 1);
}


void
ngx_http_persona_metrics_redis_node_lookup(ngx_str_t *node)
{
    ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_NODE,
                                    node->data, node->len, NULL, 0, 1);
}


void
ngx_http_persona_metrics_redis_redirect(ngx_str_t *node, ngx_uint_t ask)
{
    ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_REDIRECT,
                                    node->data, node->len,
                                    (u_char *) (ask ? "ask" : "moved"),
                                    ask ? 3 : 5, 1);
}


void
ngx_http_persona_metrics_cache(ngx_http_persona_cache_result_e result)
{
    if ((ngx_uint_t) result < 3) {
        ngx_http_persona_metrics_count(ngx_http_persona_metrics_off(cache)
                                       + result * sizeof(ngx_atomic_t), 1);
    }
}


void
ngx_http_persona_metrics_cache_eviction(void)
{
    ngx_http_persona_metrics_count(
        ngx_http_persona_metrics_off(cache_evictions), 1);
}


void
ngx_http_persona_metrics_track_dropped(void)
{
    ngx_http_persona_metrics_count(ngx_http_persona_metrics_off(track_dropped),
                                   1);
}


void
ngx_http_persona_metrics_goal(ngx_str_t *goal)
{
    ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_GOAL,
                                    goal->data, goal->len, NULL, 0, 1);
}


void
ngx_http_persona_metrics_rules_loaded(time_t when)
{
    ngx_http_persona_metrics_zone_t  *zone;

    ngx_http_persona_metrics_loaded = when;

    zone = ngx_http_persona_metrics_get();
    if (zone) {
        zone->sh->rules_loaded = (ngx_atomic_t) when;
    }
}


void
ngx_http_persona_metrics_rules_reload_error(void)
{
    ngx_http_persona_metrics_count(
        ngx_http_persona_metrics_off(rules_reload_errors), 1);
}


/*
 * One more for the series of these label values: found without a lock;
 * a value never seen before is inserted under the zone's mutex.  A full
 * table counts the event in persona_metrics_series_dropped_total.
 */
static void
ngx_http_persona_metrics_series(ngx_uint_t kind, u_char *a, size_t alen,
    u_char *b, size_t blen, ngx_atomic_int_t n)
{
    uint32_t                          hash;
    ngx_uint_t                        i, probe, locked;
    ngx_http_persona_series_t        *s;
    ngx_http_persona_metrics_sh_t    *sh;
    ngx_http_persona_metrics_zone_t  *zone;
    u_char                            key[NGX_HTTP_PERSONA_METRICS_KEY];

    zone = ngx_http_persona_metrics_get();
    if (zone == NULL) {
        return;
    }

    sh = zone->sh;

    if (alen + blen > NGX_HTTP_PERSONA_METRICS_KEY || alen == 0) {
        (void) ngx_atomic_fetch_add(&sh->series_dropped, n);
        return;
    }

    ngx_memcpy(key, a, alen);
    if (blen) {
        ngx_memcpy(key + alen, b, blen);
    }

    hash = ngx_murmur_hash2(key, alen + blen) ^ (uint32_t) (kind * 0x9e3779b1);

    locked = 0;

again:

    i = hash % NGX_HTTP_PERSONA_METRICS_SLOTS;

    for (probe = 0; probe < NGX_HTTP_PERSONA_METRICS_SLOTS; probe++) {
        s = &sh->series[i];

        if (!s->ready) {
            break;
        }

        ngx_memory_barrier();

        if (s->kind == kind && s->len == alen && s->len2 == blen
            && ngx_memcmp(s->key, key, alen + blen) == 0)
        {
            if (locked) {
                ngx_shmtx_unlock(&zone->shpool->mutex);
            }

            if (n) {
                (void) ngx_atomic_fetch_add(&s->value, n);
            }

            return;
        }

        i = (i + 1) % NGX_HTTP_PERSONA_METRICS_SLOTS;
    }

    if (!locked) {
        /* another worker may be inserting it: look again, alone */
        ngx_shmtx_lock(&zone->shpool->mutex);
        locked = 1;
        goto again;
    }

    if (probe == NGX_HTTP_PERSONA_METRICS_SLOTS
        || sh->nseries >= NGX_HTTP_PERSONA_METRICS_SERIES)
    {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        /* a series registered at 0 loses no count, and says nothing */
        if (n && ngx_atomic_fetch_add(&sh->series_dropped, n) == 0) {
            ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                          "persona: metrics hold at most %d label series, "
                          "\"%*s\" not counted",
                          NGX_HTTP_PERSONA_METRICS_SERIES, alen, a);
        }

        return;
    }

    s->kind = (uint32_t) kind;
    s->len = (uint16_t) alen;
    s->len2 = (uint16_t) blen;
    ngx_memcpy(s->key, key, alen + blen);
    s->value = n;

    ngx_memory_barrier();

    s->ready = 1;
    sh->nseries++;

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * The series a rule set can produce, at 0, so that rate() sees their
 * first count: its segments, the default, and each variant of each
 * experiment.  Called by a worker for the rules it starts with and for
 * each version auto-reload brings.
 */
void
ngx_http_persona_metrics_rules(persona_rules_t *rules)
{
    size_t                 i, j;
    persona_experiment_t  *x;

    if (ngx_http_persona_metrics_get() == NULL) {
        return;
    }

    for (i = 0; i < rules->nsegments; i++) {
        if (rules->segments[i].name.len) {
            ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_SEGMENT,
                                  (u_char *) rules->segments[i].name.data,
                                  rules->segments[i].name.len, NULL, 0, 0);
        }
    }

    ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_SEGMENT,
                                  (u_char *) rules->default_segment.data,
                                  rules->default_segment.len, NULL, 0, 0);

    for (i = 0; i < rules->nexperiments; i++) {
        x = &rules->experiments[i];

        for (j = 0; j < x->nvariants; j++) {
            ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_VARIANT,
                                  (u_char *) x->name.data, x->name.len,
                                  (u_char *) x->variants[j].name.data,
                                  x->variants[j].name.len, 0);
        }
    }
}


/*
 * The log phase: once per client request that persona handled, with its
 * final status, segment and variants.
 */
static ngx_int_t
ngx_http_persona_metrics_log_handler(ngx_http_request_t *r)
{
    ngx_str_t                         segment;
    ngx_uint_t                        i;
    persona_rules_t                  *rules;
    ngx_http_persona_ctx_t           *ctx;
    const persona_variant_t          *v;
    ngx_http_persona_metrics_zone_t  *zone;

    if (r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_persona_get_ctx(r);
    if (ctx == NULL) {
        return NGX_OK;
    }

    zone = ngx_http_persona_metrics_get();
    if (zone == NULL) {
        return NGX_OK;
    }

    if ((ngx_uint_t) ctx->status < NGX_HTTP_PERSONA_METRICS_STATUSES) {
        (void) ngx_atomic_fetch_add(&zone->sh->requests[ctx->status], 1);
    }

    if (ctx->rules == NULL || ctx->segment.len == 0) {
        return NGX_OK;
    }

    rules = ctx->rules->rules;
    segment = ctx->segment;

    if (!ngx_http_persona_metrics_known_segment(rules, &segment)) {
        segment.data = ngx_http_persona_metrics_other;
        segment.len = sizeof(ngx_http_persona_metrics_other) - 1;
    }

    ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_SEGMENT,
                                    segment.data, segment.len, NULL, 0, 1);

    if (ctx->variants == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < rules->nexperiments; i++) {
        v = ctx->variants[i];

        if (v == NULL) {
            continue;
        }

        ngx_http_persona_metrics_series(NGX_HTTP_PERSONA_SERIES_VARIANT,
                              (u_char *) rules->experiments[i].name.data,
                              rules->experiments[i].name.len,
                              (u_char *) v->name.data, v->name.len, 1);
    }

    return NGX_OK;
}


/*
 * Label values are the rules' own names: a segment a "from" entry took
 * from a profile counts under its name only when the rules name it too
 * (a segment, an experience, the default).
 */
static ngx_uint_t
ngx_http_persona_metrics_known_segment(persona_rules_t *rules,
    ngx_str_t *name)
{
    size_t  i;

    if (name->len == rules->default_segment.len
        && ngx_memcmp(name->data, rules->default_segment.data, name->len)
           == 0)
    {
        return 1;
    }

    if (persona_rules_experience(rules, (const char *) name->data, name->len))
    {
        return 1;
    }

    for (i = 0; i < rules->nsegments; i++) {
        if (rules->segments[i].name.len == name->len
            && ngx_memcmp(rules->segments[i].name.data, name->data,
                          name->len)
               == 0)
        {
            return 1;
        }
    }

    return 0;
}
