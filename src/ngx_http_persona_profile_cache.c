/*
 * persona_profile_cache: decoded profiles shared by all workers, and
 * lookups shared by the requests of one worker.
 *
 * The zone holds one entry per rendered profile key (the rbtree is keyed
 * by a CRC32 of the key; the full key is stored and compared), with the
 * profile packed by persona_pack, or nothing for a miss, and the time it
 * stays fresh (ttl, or negative_ttl for a miss).  Entries are kept in
 * least recently used order: when the slab allocator has no room for a
 * new entry, the least recently used ones are evicted until it has.  The
 * zone's mutex is held only to copy bytes in or out, never across I/O.
 *
 * Requests that miss the same key in one worker while its lookup is
 * under way wait for that lookup (a "flight", per worker, in worker
 * memory) instead of sending their own: the Redis operation belongs to
 * the flight, so the request that started it may go away without
 * stranding the others, and when the reply comes each waiting request
 * decodes it as if it had asked itself.  A request that goes away while
 * waiting leaves the flight (http cleanup); the last one to leave
 * detaches the Redis operation.
 *
 * While Redis is failing (error, timeout, breaker) an entry up to
 * "stale" past its ttl is served with $persona_status "stale"; a cached
 * miss is not served stale.
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"
#include "persona_pack.h"


/* an entry bigger than this share of the zone is not cached */
#define NGX_HTTP_PERSONA_PCACHE_ENTRY_SHARE  8


/* the zone's head */
typedef struct {
    ngx_rbtree_t                       rbtree;
    ngx_rbtree_node_t                  sentinel;
    ngx_queue_t                        lru;      /* most recent first */
} ngx_http_persona_pcache_sh_t;


/* one cached profile */
typedef struct {
    ngx_str_node_t                     sn;       /* the key (in data), by
                                                    CRC32 */
    ngx_queue_t                        lru;
    ngx_msec_t                         expires;  /* fresh before this */
    uint32_t                           len;      /* of the packed profile */
    u_char                             format;
    u_char                             negative; /* a miss: no profile */
    u_char                             data[1];  /* key, packed profile */
} ngx_http_persona_pcache_node_t;


/* a lookup under way in this worker, shared by the requests that wait */
typedef struct {
    ngx_str_node_t                     sn;       /* the key, by CRC32 */
    ngx_queue_t                        waiters;
    ngx_http_persona_redis_op_t       *op;       /* once its first
                                                    request has left */
    ngx_http_persona_redis_handler_pt  handler;  /* of each request */
    ngx_http_persona_profile_cache_t  *cache;
    ngx_uint_t                         format;
    unsigned                           nostore:1;
    unsigned                           dispatching:1;
} ngx_http_persona_pcache_flight_t;


struct ngx_http_persona_pcache_waiter_s {
    ngx_queue_t                        queue;
    ngx_http_persona_ctx_t            *ctx;
    ngx_http_persona_pcache_flight_t  *flight;   /* NULL: done */
};


struct ngx_http_persona_profile_cache_s {
    ngx_shm_zone_t                    *shm_zone;
    ngx_http_persona_pcache_sh_t      *sh;
    ngx_slab_pool_t                   *shpool;
    ngx_msec_t                         ttl;
    ngx_msec_t                         negative_ttl;
    ngx_msec_t                         stale;
    size_t                             max_entry;

    /* per worker */
    ngx_rbtree_t                       flights;
    ngx_rbtree_node_t                  flight_sentinel;
};


static ngx_int_t ngx_http_persona_pcache_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_persona_pcache_node_t *ngx_http_persona_pcache_find(
    ngx_http_persona_profile_cache_t *pc, ngx_str_t *key, uint32_t hash);
static ngx_int_t ngx_http_persona_pcache_get(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_profile_cache_t *pc,
    ngx_msec_t stale, ngx_uint_t *fresh);
static void ngx_http_persona_pcache_store(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_profile_cache_t *pc);
static void ngx_http_persona_pcache_delete(
    ngx_http_persona_profile_cache_t *pc, ngx_str_t *key);
static void ngx_http_persona_pcache_free_node(
    ngx_http_persona_profile_cache_t *pc,
    ngx_http_persona_pcache_node_t *node);
static ngx_http_persona_pcache_flight_t *ngx_http_persona_pcache_flight(
    ngx_http_persona_profile_cache_t *pc, ngx_str_t *key);
static ngx_http_persona_pcache_waiter_t *ngx_http_persona_pcache_wait(
    ngx_http_request_t *r, ngx_http_persona_ctx_t *ctx,
    ngx_http_persona_pcache_flight_t *flight);
static void ngx_http_persona_pcache_leave(void *data);
static void ngx_http_persona_pcache_dispatch(void *data,
    ngx_http_persona_status_e status, redisReply **replies, ngx_uint_t n,
    const char *reason);


static ngx_str_t  ngx_http_persona_pcache_names[] = {
    ngx_string("off"),
    ngx_string("hit"),
    ngx_string("miss")
};


/* the zones' tag: not the module's, so a zone named "persona" cannot
 * meet the breaker's */
static ngx_uint_t  ngx_http_persona_pcache_tag;


/*
 * persona_profile_cache zone=name:size [ttl=30s] [negative_ttl=5s]
 *     [stale=60s]
 */
char *
ngx_http_persona_profile_cache_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_persona_main_conf_t *mcf = conf;

    u_char                            *p;
    ssize_t                            size;
    ngx_str_t                         *value, name, s;
    ngx_int_t                          t;
    ngx_uint_t                         i;
    ngx_msec_t                        *msp;
    ngx_http_persona_profile_cache_t  *pc;

    if (mcf->profile_cache) {
        return "is duplicate";
    }

    pc = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_profile_cache_t));
    if (pc == NULL) {
        return NGX_CONF_ERROR;
    }

    pc->ttl = 30000;
    pc->negative_ttl = 5000;
    pc->stale = 60000;

    value = cf->args->elts;
    size = 0;
    ngx_str_null(&name);

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "zone=", 5) == 0) {

            name.data = value[i].data + 5;
            p = (u_char *) ngx_strchr(name.data, ':');

            if (p == NULL || p == name.data) {
                goto invalid;
            }

            name.len = p - name.data;

            s.data = p + 1;
            s.len = value[i].data + value[i].len - s.data;

            size = ngx_parse_size(&s);

            if (size == NGX_ERROR) {
                goto invalid;
            }

            if (size < (ssize_t) (8 * ngx_pagesize)) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"persona_profile_cache\": zone \"%V\" "
                                   "is too small (%uz bytes at least)",
                                   &name, 8 * ngx_pagesize);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "ttl=", 4) == 0) {
            msp = &pc->ttl;
            s.data = value[i].data + 4;

        } else if (ngx_strncmp(value[i].data, "negative_ttl=", 13) == 0) {
            msp = &pc->negative_ttl;
            s.data = value[i].data + 13;

        } else if (ngx_strncmp(value[i].data, "stale=", 6) == 0) {
            msp = &pc->stale;
            s.data = value[i].data + 6;

        } else {
            goto invalid;
        }

        s.len = value[i].data + value[i].len - s.data;

        t = ngx_parse_time(&s, 0);

        if (t == NGX_ERROR || (msp == &pc->ttl && t == 0)) {
            goto invalid;
        }

        *msp = (ngx_msec_t) t;
    }

    if (name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persona_profile_cache\" needs "
                           "\"zone=name:size\"");
        return NGX_CONF_ERROR;
    }

    pc->max_entry = size / NGX_HTTP_PERSONA_PCACHE_ENTRY_SHARE;

    pc->shm_zone = ngx_shared_memory_add(cf, &name, size,
                                         &ngx_http_persona_pcache_tag);
    if (pc->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    if (pc->shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persona_profile_cache\": zone \"%V\" is "
                           "already used", &name);
        return NGX_CONF_ERROR;
    }

    pc->shm_zone->init = ngx_http_persona_pcache_init_zone;
    pc->shm_zone->data = pc;

    /* each worker inherits an empty table of lookups under way */
    ngx_rbtree_init(&pc->flights, &pc->flight_sentinel,
                    ngx_str_rbtree_insert_value);

    mcf->profile_cache = pc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"persona_profile_cache\": invalid value \"%V\"",
                       &value[i]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_persona_pcache_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_persona_profile_cache_t  *opc = data;

    size_t                             len;
    ngx_http_persona_profile_cache_t  *pc;

    pc = shm_zone->data;

    if (opc) {
        /* a reload keeps the entries */
        pc->sh = opc->sh;
        pc->shpool = opc->shpool;
        return NGX_OK;
    }

    pc->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        pc->sh = pc->shpool->data;
        return NGX_OK;
    }

    pc->sh = ngx_slab_alloc(pc->shpool, sizeof(ngx_http_persona_pcache_sh_t));
    if (pc->sh == NULL) {
        return NGX_ERROR;
    }

    pc->shpool->data = pc->sh;

    ngx_rbtree_init(&pc->sh->rbtree, &pc->sh->sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&pc->sh->lru);

    len = sizeof(" in persona_profile_cache zone \"\"")
          + shm_zone->shm.name.len;

    pc->shpool->log_ctx = ngx_slab_alloc(pc->shpool, len);
    if (pc->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(pc->shpool->log_ctx, " in persona_profile_cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* a full zone is the normal case: we evict, nginx need not say so */
    pc->shpool->log_nomem = 0;

    return NGX_OK;
}


/*
 * Before the Redis lookup.  NGX_OK: a fresh entry set ctx's status and
 * profile ($persona_cache "hit"); NGX_AGAIN: the request waits for
 * another request's lookup of the same key (ctx->waiting is the
 * caller's business, as for its own lookup); NGX_DECLINED: look it up
 * ("miss", or "off" without persona_profile_cache); NGX_ERROR.
 */
ngx_int_t
ngx_http_persona_profile_cache_lookup(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_str_t *key)
{
    ngx_int_t                          rc;
    ngx_uint_t                         fresh;
    ngx_http_persona_main_conf_t      *mcf;
    ngx_http_persona_pcache_flight_t  *flight;
    ngx_http_persona_profile_cache_t  *pc;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);
    pc = mcf->profile_cache;

    if (pc == NULL) {
        return NGX_DECLINED;
    }

    ctx->cache_key = *key;

    rc = ngx_http_persona_pcache_get(r, ctx, pc, 0, &fresh);

    if (rc == NGX_OK) {
        ctx->cache = NGX_HTTP_PERSONA_PCACHE_HIT;
        ngx_http_persona_metrics_cache(NGX_HTTP_PERSONA_CACHE_HIT);
        return NGX_OK;
    }

    if (rc == NGX_ERROR) {
        return NGX_ERROR;
    }

    ctx->cache = NGX_HTTP_PERSONA_PCACHE_MISS;

    flight = ngx_http_persona_pcache_flight(pc, key);

    if (flight == NULL || flight->format != ctx->profile_format) {
        return NGX_DECLINED;
    }

    if (ngx_http_persona_pcache_wait(r, ctx, flight) == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona cache: waiting for the lookup of \"%V\" "
                   "under way", key);

    return NGX_AGAIN;
}


/*
 * Just before the Redis lookup of a request that missed: makes the
 * lookup the worker's flight for this key, so that requests missing the
 * same key meanwhile wait for it.  *handler and *data (the request's
 * own) are replaced by the flight's, which calls the request's handler
 * for every request waiting when the reply comes.  Without a cache, or
 * out of memory, they stay: the request then looks up alone.
 */
void
ngx_http_persona_profile_cache_share(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_redis_handler_pt *handler,
    void **data)
{
    uint32_t                           hash;
    ngx_http_persona_main_conf_t      *mcf;
    ngx_http_persona_pcache_flight_t  *flight;
    ngx_http_persona_profile_cache_t  *pc;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);
    pc = mcf->profile_cache;

    if (pc == NULL || ctx->cache != NGX_HTTP_PERSONA_PCACHE_MISS) {
        return;
    }

    /* alone, the request stores what it gets; in a flight, see dispatch */
    ctx->cache_store = 1;

    if (ngx_http_persona_pcache_flight(pc, &ctx->cache_key)) {
        /* one of another format: this request asks alone */
        return;
    }

    flight = ngx_alloc(sizeof(ngx_http_persona_pcache_flight_t)
                       + ctx->cache_key.len, r->connection->log);
    if (flight == NULL) {
        return;
    }

    ngx_memzero(flight, sizeof(ngx_http_persona_pcache_flight_t));

    flight->sn.str.data = (u_char *) flight
                       + sizeof(ngx_http_persona_pcache_flight_t);
    flight->sn.str.len = ctx->cache_key.len;
    ngx_memcpy(flight->sn.str.data, ctx->cache_key.data, ctx->cache_key.len);

    flight->format = ctx->profile_format;
    flight->cache = pc;
    flight->handler = *handler;
    ngx_queue_init(&flight->waiters);

    if (ngx_http_persona_pcache_wait(r, ctx, flight) == NULL) {
        ngx_free(flight);
        return;
    }

    hash = ngx_crc32_short(flight->sn.str.data, flight->sn.str.len);
    flight->sn.node.key = hash;
    ngx_rbtree_insert(&pc->flights, &flight->sn.node);

    *handler = ngx_http_persona_pcache_dispatch;
    *data = flight;
}


/*
 * After the lookup (or instead of it: breaker, a lookup that could not
 * start), with ctx->status set: store what Redis said, or serve an entry
 * up to "stale" past its ttl when Redis is failing.
 */
void
ngx_http_persona_profile_cache_result(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    ngx_uint_t                         fresh;
    ngx_http_persona_main_conf_t      *mcf;
    ngx_http_persona_pcache_waiter_t  *w;
    ngx_http_persona_profile_cache_t  *pc;

    if (ctx->cache != NGX_HTTP_PERSONA_PCACHE_MISS) {
        return;
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);
    pc = mcf->profile_cache;

    w = ctx->cache_waiter;

    if (w && w->flight) {
        /* the lookup did not start: nobody else can have joined yet */
        ngx_http_persona_pcache_leave(w);
    }

    switch (ctx->status) {

    case NGX_HTTP_PERSONA_OK:
    case NGX_HTTP_PERSONA_MISS:

        if (ctx->cache_store) {
            ngx_http_persona_pcache_store(r, ctx, pc);
        }

        break;

    case NGX_HTTP_PERSONA_ERROR:
    case NGX_HTTP_PERSONA_TIMEOUT:
    case NGX_HTTP_PERSONA_BREAKER:

        if (pc->stale
            && ngx_http_persona_pcache_get(r, ctx, pc, pc->stale, &fresh)
               == NGX_OK)
        {
            if (fresh) {
                /* another worker stored it meanwhile */
                ctx->cache = NGX_HTTP_PERSONA_PCACHE_HIT;
                ngx_http_persona_metrics_cache(NGX_HTTP_PERSONA_CACHE_HIT);
                return;
            }

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "persona: stale profile served for visitor "
                          "\"%V\"", &ctx->id);

            ngx_http_persona_metrics_cache(NGX_HTTP_PERSONA_CACHE_STALE);
            return;
        }

        break;

    default:

        /* an unusable profile: what we hold is no better */
        if (ctx->cache_store) {
            ngx_http_persona_pcache_delete(pc, &ctx->cache_key);
        }
    }

    ngx_http_persona_metrics_cache(NGX_HTTP_PERSONA_CACHE_MISS);
}


/*
 * For tracking: a write to the profile under key (the rendered profile
 * key) drops its cached entry, so the next request of this worker reads
 * the profile again; a lookup of that key under way in this worker does
 * not store what it gets.  (A lookup under way in another worker may
 * still store the profile as it was before the write, for at most ttl.)
 * NGX_DECLINED: no persona_profile_cache.
 */
ngx_int_t
ngx_http_persona_profile_cache_drop(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_http_persona_main_conf_t      *mcf;
    ngx_http_persona_pcache_flight_t  *flight;
    ngx_http_persona_profile_cache_t  *pc;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);
    pc = mcf->profile_cache;

    if (pc == NULL) {
        return NGX_DECLINED;
    }

    flight = ngx_http_persona_pcache_flight(pc, key);

    if (flight) {
        flight->nostore = 1;
    }

    ngx_http_persona_pcache_delete(pc, key);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona cache: dropped \"%V\"", key);

    return NGX_OK;
}


/* $persona_cache */
ngx_int_t
ngx_http_persona_profile_cache_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t               *s;
    ngx_http_persona_ctx_t  *ctx;

    ctx = ngx_http_persona_get_ctx(r);

    s = &ngx_http_persona_pcache_names[ctx ? ctx->cache
                                           : NGX_HTTP_PERSONA_PCACHE_OFF];

    v->data = s->data;
    v->len = s->len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/*
 * Copies the entry of ctx->cache_key out of the zone when it is fresh,
 * or (stale > 0) up to stale past its ttl and not a miss; unpacks it
 * into ctx.  NGX_OK, NGX_DECLINED (none), NGX_ERROR (no memory).
 */
static ngx_int_t
ngx_http_persona_pcache_get(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_profile_cache_t *pc,
    ngx_msec_t stale, ngx_uint_t *fresh)
{
    int                              rc;
    u_char                          *buf;
    uint32_t                         len, hash;
    ngx_uint_t                       negative;
    ngx_msec_int_t                   left;
    persona_error_t                  err;
    persona_alloc_t                  alloc;
    persona_profile_t                profile;
    ngx_http_persona_pcache_node_t  *node;

    hash = ngx_crc32_short(ctx->cache_key.data, ctx->cache_key.len);

    ngx_shmtx_lock(&pc->shpool->mutex);

    node = ngx_http_persona_pcache_find(pc, &ctx->cache_key, hash);

    if (node == NULL || node->format != ctx->profile_format) {
        ngx_shmtx_unlock(&pc->shpool->mutex);
        return NGX_DECLINED;
    }

    left = (ngx_msec_int_t) (node->expires - ngx_current_msec);

    *fresh = (left > 0);

    if (!*fresh
        && (stale == 0 || node->negative || left + (ngx_msec_int_t) stale <= 0))
    {
        ngx_shmtx_unlock(&pc->shpool->mutex);
        return NGX_DECLINED;
    }

    ngx_queue_remove(&node->lru);
    ngx_queue_insert_head(&pc->sh->lru, &node->lru);

    negative = node->negative;
    len = node->len;
    buf = NULL;

    if (!negative) {
        buf = ngx_pnalloc(r->pool, len);
        if (buf == NULL) {
            ngx_shmtx_unlock(&pc->shpool->mutex);
            return NGX_ERROR;
        }

        ngx_memcpy(buf, node->data + node->sn.str.len, len);
    }

    ngx_shmtx_unlock(&pc->shpool->mutex);

    if (negative) {
        ctx->status = NGX_HTTP_PERSONA_MISS;
        ctx->profile.fields = NULL;
        ctx->profile.nfields = 0;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona cache: hit, no profile for \"%V\"",
                       &ctx->cache_key);
        return NGX_OK;
    }

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = r->pool;
    err.msg[0] = '\0';

    rc = persona_profile_unpack(&profile, buf, len, &alloc, &err);

    if (rc == PERSONA_NOMEM) {
        return NGX_ERROR;
    }

    if (rc != PERSONA_OK) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "persona: cached profile of \"%V\" unreadable: %s",
                      &ctx->cache_key, err.msg);
        return NGX_DECLINED;
    }

    ctx->profile = profile;
    ctx->status = *fresh ? NGX_HTTP_PERSONA_OK : NGX_HTTP_PERSONA_STALE;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona cache: %s \"%V\", %uz fields",
                   *fresh ? "hit" : "stale", &ctx->cache_key,
                   profile.nfields);

    return NGX_OK;
}


static void
ngx_http_persona_pcache_store(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_profile_cache_t *pc)
{
    size_t                           size, n;
    u_char                          *buf;
    uint32_t                         hash;
    ngx_uint_t                       negative, evicted, expired;
    ngx_msec_t                       ttl;
    ngx_queue_t                     *q;
    ngx_http_persona_pcache_node_t  *node, *old;

    negative = (ctx->status == NGX_HTTP_PERSONA_MISS);
    ttl = negative ? pc->negative_ttl : pc->ttl;

    size = negative ? 0 : persona_profile_pack_size(&ctx->profile);
    n = offsetof(ngx_http_persona_pcache_node_t, data)
        + ctx->cache_key.len + size;

    if (ttl == 0 || n > pc->max_entry || ctx->cache_key.len > 0xffffffff
        || size > 0xffffffff)
    {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona cache: \"%V\" not cached (%uz bytes)",
                       &ctx->cache_key, n);

        /* what the zone holds is out of date */
        ngx_http_persona_pcache_delete(pc, &ctx->cache_key);
        return;
    }

    buf = NULL;

    if (size) {
        buf = ngx_pnalloc(r->pool, size);
        if (buf == NULL) {
            return;
        }

        (void) persona_profile_pack(&ctx->profile, buf, size);
    }

    hash = ngx_crc32_short(ctx->cache_key.data, ctx->cache_key.len);
    evicted = 0;
    expired = 0;

    ngx_shmtx_lock(&pc->shpool->mutex);

    old = ngx_http_persona_pcache_find(pc, &ctx->cache_key, hash);

    if (old) {
        ngx_http_persona_pcache_free_node(pc, old);
    }

    /* the oldest entries, if out of their stale window too, go first */

    while (expired < 2 && !ngx_queue_empty(&pc->sh->lru)) {
        q = ngx_queue_last(&pc->sh->lru);
        old = ngx_queue_data(q, ngx_http_persona_pcache_node_t, lru);

        if ((ngx_msec_int_t) (old->expires + pc->stale - ngx_current_msec)
            > 0)
        {
            break;
        }

        ngx_http_persona_pcache_free_node(pc, old);
        expired++;
    }

    for ( ;; ) {
        node = ngx_slab_alloc_locked(pc->shpool, n);

        if (node || ngx_queue_empty(&pc->sh->lru)) {
            break;
        }

        /* no room: the least recently used entry goes */

        q = ngx_queue_last(&pc->sh->lru);
        old = ngx_queue_data(q, ngx_http_persona_pcache_node_t, lru);
        ngx_http_persona_pcache_free_node(pc, old);
        evicted++;
    }

    if (node) {
        node->sn.node.key = hash;
        node->expires = ngx_current_msec + ttl;
        node->sn.str.data = node->data;
        node->sn.str.len = ctx->cache_key.len;
        node->len = (uint32_t) size;
        node->format = (u_char) ctx->profile_format;
        node->negative = (u_char) negative;

        ngx_memcpy(node->data, ctx->cache_key.data, ctx->cache_key.len);

        if (size) {
            ngx_memcpy(node->data + ctx->cache_key.len, buf, size);
        }

        ngx_rbtree_insert(&pc->sh->rbtree, &node->sn.node);
        ngx_queue_insert_head(&pc->sh->lru, &node->lru);
    }

    ngx_shmtx_unlock(&pc->shpool->mutex);

    while (evicted) {
        ngx_http_persona_metrics_cache_eviction();
        evicted--;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona cache: evicted an entry");
    }

    if (node == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "persona: no room for a profile of %uz bytes%s",
                      n, pc->shpool->log_ctx);
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona cache: stored \"%V\" (%uz bytes) for %Mms",
                   &ctx->cache_key, n, ttl);
}


static void
ngx_http_persona_pcache_delete(ngx_http_persona_profile_cache_t *pc,
    ngx_str_t *key)
{
    uint32_t                         hash;
    ngx_http_persona_pcache_node_t  *node;

    hash = ngx_crc32_short(key->data, key->len);

    ngx_shmtx_lock(&pc->shpool->mutex);

    node = ngx_http_persona_pcache_find(pc, key, hash);

    if (node) {
        ngx_http_persona_pcache_free_node(pc, node);
    }

    ngx_shmtx_unlock(&pc->shpool->mutex);
}


/* with the zone locked */
static void
ngx_http_persona_pcache_free_node(ngx_http_persona_profile_cache_t *pc,
    ngx_http_persona_pcache_node_t *node)
{
    ngx_queue_remove(&node->lru);
    ngx_rbtree_delete(&pc->sh->rbtree, &node->sn.node);
    ngx_slab_free_locked(pc->shpool, node);
}


/* with the zone locked */
static ngx_http_persona_pcache_node_t *
ngx_http_persona_pcache_find(ngx_http_persona_profile_cache_t *pc,
    ngx_str_t *key, uint32_t hash)
{
    /* sn is the first member */
    return (ngx_http_persona_pcache_node_t *) ngx_str_rbtree_lookup(
               &pc->sh->rbtree, key, hash);
}


/* the flights of this worker */

static ngx_http_persona_pcache_flight_t *
ngx_http_persona_pcache_flight(ngx_http_persona_profile_cache_t *pc,
    ngx_str_t *key)
{
    /* sn is the first member */
    return (ngx_http_persona_pcache_flight_t *) ngx_str_rbtree_lookup(
               &pc->flights, key, ngx_crc32_short(key->data, key->len));
}


/* the request joins the flight; it leaves it if it goes away */
static ngx_http_persona_pcache_waiter_t *
ngx_http_persona_pcache_wait(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_pcache_flight_t *flight)
{
    ngx_http_cleanup_t                *cln;
    ngx_http_persona_pcache_waiter_t  *w;

    w = ngx_palloc(r->pool, sizeof(ngx_http_persona_pcache_waiter_t));
    if (w == NULL) {
        return NULL;
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NULL;
    }

    w->ctx = ctx;
    w->flight = flight;
    ngx_queue_insert_tail(&flight->waiters, &w->queue);

    cln->handler = ngx_http_persona_pcache_leave;
    cln->data = w;

    ctx->cache_waiter = w;

    return w;
}


/*
 * A request leaves the flight before its reply: it went away (http
 * cleanup), or its lookup did not start.  The flight's Redis operation
 * stays with the requests still waiting; with none left it is detached
 * and the flight freed.
 */
static void
ngx_http_persona_pcache_leave(void *data)
{
    ngx_http_persona_pcache_waiter_t  *w = data;

    ngx_http_persona_ctx_t            *ctx;
    ngx_http_persona_pcache_flight_t  *flight;

    flight = w->flight;

    if (flight == NULL) {
        return;
    }

    ctx = w->ctx;

    w->flight = NULL;
    ctx->cache_waiter = NULL;
    ngx_queue_remove(&w->queue);

    if (flight->dispatching) {
        /* the reply is being handed out: the flight frees itself */
        return;
    }

    if (!ngx_queue_empty(&flight->waiters)) {

        if (ctx->op) {
            /* the request that started the lookup: it is the flight's */
            flight->op = ctx->op;
            ctx->op = NULL;
        }

        return;
    }

    /*
     * Nobody waits any more.  The operation, if any, is either the
     * flight's (detached here) or still the leaving request's (its own
     * cleanup, run next, detaches it): in both cases it never calls the
     * flight again.
     */

    if (flight->op) {
        ngx_http_persona_redis_detach(flight->op);
        flight->op = NULL;
    }

    ngx_rbtree_delete(&flight->cache->flights, &flight->sn.node);
    ngx_free(flight);
}


/* the reply (or the failure) of a flight's lookup, for every waiter */
static void
ngx_http_persona_pcache_dispatch(void *data, ngx_http_persona_status_e status,
    redisReply **replies, ngx_uint_t n, const char *reason)
{
    ngx_http_persona_pcache_flight_t  *flight = data;

    ngx_uint_t                         store;
    ngx_queue_t                       *q;
    ngx_http_persona_ctx_t            *ctx;
    ngx_http_persona_pcache_waiter_t  *w;

    /* requests arriving from now on find the entry or look up anew */
    ngx_rbtree_delete(&flight->cache->flights, &flight->sn.node);

    flight->dispatching = 1;
    flight->op = NULL;
    store = !flight->nostore;

    while (!ngx_queue_empty(&flight->waiters)) {
        q = ngx_queue_head(&flight->waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_persona_pcache_waiter_t, queue);
        w->flight = NULL;

        ctx = w->ctx;
        ctx->cache_waiter = NULL;

        /* one request stores what all of them got */
        ctx->cache_store = store;
        store = 0;

        /* may run the request to its end, and others' cleanups */
        flight->handler(ctx, status, replies, n, reason);
    }

    ngx_free(flight);
}
