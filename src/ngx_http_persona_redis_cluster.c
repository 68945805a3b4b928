/*
 * Redis Cluster: the slot map, routing by key slot, MOVED and ASK.
 *
 * Per worker: the nodes met so far (seeds first; more created from the
 * slot map or a redirect, keyed by "host:port", each with its own pool of
 * pipelined connections) and a map of the 16384 slots to nodes.  The map
 * comes from CLUSTER SLOTS, asked of one node after another in the
 * background, never on a request's path: at worker start, soon after a
 * MOVED, a CLUSTERDOWN or a failed connection, and every 30 s (a node
 * that cannot answer: the next one 50 ms later, each in turn, then a
 * pause of 1 s).  Until a
 * slot is mapped, commands for it go to a seed (a MOVED then teaches the
 * route).
 *
 * A lookup goes where the key of its first command (the profile) lives;
 * the cap counter reads that ride behind it must share its slot (a hash
 * tag in persona_profile_key).  A -MOVED reply to the first command maps
 * the slot to the node named and sends the lookup there, once, within
 * its timeout; -ASK sends ASKING and the lookup to the node named, once,
 * without touching the map; -TRYAGAIN and -CLUSTERDOWN fail the lookup
 * (status error: the page is served without a profile).  A write batch
 * is split by node; one whose replies are all MOVED is sent again once,
 * any other redirect drops it (the map is refreshed).
 */

#include "ngx_http_persona_redis_conn.h"
#include "persona_slot.h"


#define NGX_HTTP_PERSONA_CLUSTER_REFRESH   30000
#define NGX_HTTP_PERSONA_CLUSTER_RETRY     1000
/* refreshes asked for by MOVED and failures: at most this often */
#define NGX_HTTP_PERSONA_CLUSTER_MIN_GAP   200


struct ngx_http_persona_cluster_s {
    ngx_http_persona_redis_conf_t     *conf;
    ngx_pool_t                        *pool;       /* the worker's */
    ngx_queue_t                        nodes;
    ngx_uint_t                         nnodes;
    ngx_uint_t                         nseeds;     /* the first nodes */
    ngx_http_persona_redis_node_t    **slots;      /* PERSONA_SLOTS */
    ngx_uint_t                         mapped;     /* a map came once */
    ngx_uint_t                         ask_next;   /* node to ask next */
    ngx_uint_t                         seed_next;
    ngx_uint_t                         fails;      /* refreshes in a row */
    ngx_http_persona_redis_op_t       *op;         /* CLUSTER SLOTS */
    ngx_msec_t                         last;       /* asked at */
    ngx_event_t                        refresh;
};


static ngx_http_persona_redis_node_t *ngx_http_persona_cluster_node(
    ngx_http_persona_cluster_t *cl, const char *host, size_t len,
    unsigned port);
static ngx_http_persona_redis_node_t *ngx_http_persona_cluster_node_add(
    ngx_http_persona_cluster_t *cl, ngx_str_t *name, ngx_addr_t *addr);
static void ngx_http_persona_cluster_soon(ngx_http_persona_cluster_t *cl,
    ngx_msec_t delay);
static void ngx_http_persona_cluster_refresh(ngx_event_t *ev);
static void ngx_http_persona_cluster_refreshed(
    ngx_http_persona_redis_op_t *op);
static ngx_int_t ngx_http_persona_cluster_map(ngx_http_persona_cluster_t *cl,
    redisReply *reply, ngx_http_persona_redis_node_t *from);


ngx_int_t
ngx_http_persona_cluster_init_process(ngx_cycle_t *cycle,
    ngx_http_persona_redis_conf_t *rcf)
{
    ngx_uint_t                   i;
    ngx_addr_t                  *seeds;
    ngx_http_persona_cluster_t  *cl;

    if (ngx_process != NGX_PROCESS_WORKER && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    cl = ngx_pcalloc(cycle->pool, sizeof(ngx_http_persona_cluster_t));
    if (cl == NULL) {
        return NGX_ERROR;
    }

    cl->slots = ngx_pcalloc(cycle->pool,
                            PERSONA_SLOTS
                            * sizeof(ngx_http_persona_redis_node_t *));
    if (cl->slots == NULL) {
        return NGX_ERROR;
    }

    cl->conf = rcf;
    cl->pool = cycle->pool;
    ngx_queue_init(&cl->nodes);

    seeds = rcf->seeds->elts;

    for (i = 0; i < rcf->seeds->nelts; i++) {
        if (ngx_http_persona_cluster_node_add(cl, &seeds[i].name, &seeds[i])
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    cl->nseeds = cl->nnodes;

    cl->refresh.handler = ngx_http_persona_cluster_refresh;
    cl->refresh.data = cl;
    cl->refresh.log = cycle->log;
    cl->refresh.cancelable = 1;

    rcf->cluster = cl;

    /* the first map, as soon as the event loop runs */
    ngx_add_timer(&cl->refresh, 1);

    return NGX_OK;
}


ngx_http_persona_redis_node_t *
ngx_http_persona_cluster_route(ngx_http_persona_redis_conf_t *rcf,
    const char *key, size_t len)
{
    ngx_queue_t                    *q;
    ngx_uint_t                      i, k;
    ngx_http_persona_cluster_t     *cl;
    ngx_http_persona_redis_node_t  *node;

    cl = rcf->cluster;

    node = cl->slots[persona_slot(key, len)];
    if (node) {
        return node;
    }

    /* no map for the slot yet: a seed, in turn */

    k = cl->seed_next++ % cl->nseeds;

    for (i = 0, q = ngx_queue_head(&cl->nodes); i < k; i++) {
        q = ngx_queue_next(q);
    }

    return ngx_queue_data(q, ngx_http_persona_redis_node_t, queue);
}


ngx_int_t
ngx_http_persona_cluster_reply(ngx_http_persona_redis_op_t *op)
{
    int                             kind, first;
    unsigned                        slot;
    ngx_int_t                       rc;
    ngx_uint_t                      i, moved;
    redisReply                     *reply;
    persona_slot_node_t             to, where;
    ngx_http_persona_cluster_t     *cl;
    ngx_http_persona_redis_node_t  *node;

    cl = op->conf->cluster;

    if (op->internal || op->nreplies == 0 || cl == NULL) {
        return NGX_DECLINED;
    }

    /* MOVED anywhere teaches the map; only the first reply is retried */

    ngx_memzero(&where, sizeof(persona_slot_node_t));
    first = 0;
    moved = 0;
    node = NULL;
    slot = 0;

    for (i = 0; i < op->nreplies; i++) {
        reply = op->replies[i];

        if (reply->type != REDIS_REPLY_ERROR || reply->str == NULL) {
            continue;
        }

        kind = persona_slot_redirect(reply->str, reply->len, &slot, &to);

        if (i == 0) {
            first = kind;
            where = to;
        }

        if (kind == PERSONA_REDIRECT_MOVED) {
            moved++;

            node = ngx_http_persona_cluster_node(cl, to.host.data,
                                                 to.host.len, to.port);
            if (node && slot < PERSONA_SLOTS && cl->slots[slot] != node) {
                /* once per slot and move: later lookups go there */
                ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                              "persona: redis cluster slot %ui moved to %V",
                              (ngx_uint_t) slot, &node->name);
                cl->slots[slot] = node;
            }

            ngx_http_persona_cluster_soon(cl, 0);
        }

        if (i == 0 && kind == 0
            && ((reply->len >= 8
                 && ngx_strncmp(reply->str, "TRYAGAIN", 8) == 0)
                || (reply->len >= 11
                    && ngx_strncmp(reply->str, "CLUSTERDOWN", 11) == 0)))
        {
            if (reply->str[0] == 'C') {
                ngx_http_persona_cluster_soon(cl, 0);
            }

            if (!op->write) {
                op->status = NGX_HTTP_PERSONA_ERROR;
                op->err = NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL;
                ngx_http_persona_redis_reason(op, 0, "redis cluster: \"%*s\"",
                                              (size_t) ngx_min(reply->len,
                                                               100),
                                              reply->str);
            }

            return NGX_DECLINED;
        }
    }

    if (first == 0) {
        return NGX_DECLINED;
    }

    if (op->write && (first != PERSONA_REDIRECT_MOVED || moved != op->n)) {
        /* some commands may have been done: never twice */
        return NGX_DECLINED;
    }

    node = ngx_http_persona_cluster_node(cl, where.host.data, where.host.len,
                                         where.port);

    if (node == NULL || op->redirected
        || (ngx_msec_int_t) (op->deadline - ngx_current_msec) <= 0)
    {
        if (!op->write) {
            op->status = NGX_HTTP_PERSONA_ERROR;
            op->err = NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL;
            ngx_http_persona_redis_reason(op, 0, "redis cluster: "
                                          "redirected again, or nowhere "
                                          "to go: \"%*s\"",
                                          (size_t) ngx_min(
                                              op->replies[0]->len, 100),
                                          op->replies[0]->str);
        }

        return NGX_DECLINED;
    }

    ngx_http_persona_metrics_redis_redirect(&op->node->name,
                                            first == PERSONA_REDIRECT_ASK);
    ngx_http_persona_metrics_redis_node_lookup(&node->name);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "persona redis cluster: %s slot %ui to %V",
                   first == PERSONA_REDIRECT_ASK ? "ASK" : "MOVED",
                   (ngx_uint_t) slot, &node->name);

    for (i = 0; i < op->nreplies; i++) {
        freeReplyObject(op->replies[i]);
    }

    op->nreplies = 0;
    op->redirected = 1;
    op->asking = (first == PERSONA_REDIRECT_ASK);
    op->node = node;
    op->status = NGX_HTTP_PERSONA_OK;

    rc = ngx_http_persona_redis_queue(op);

    if (rc != NGX_OK) {
        /* queue() said why in op->status and op->reason */
        return NGX_DECLINED;
    }

    return NGX_OK;
}


void
ngx_http_persona_cluster_node_failed(ngx_http_persona_redis_conf_t *rcf)
{
    if (rcf->cluster) {
        ngx_http_persona_cluster_soon(rcf->cluster, 0);
    }
}


/* the node "host:port", created when new; NULL: not an address */
static ngx_http_persona_redis_node_t *
ngx_http_persona_cluster_node(ngx_http_persona_cluster_t *cl,
    const char *host, size_t len, unsigned port)
{
    u_char                         *p;
    ngx_str_t                       name;
    ngx_addr_t                      addr;
    ngx_queue_t                    *q;
    ngx_http_persona_redis_node_t  *node;
    u_char                          buf[PERSONA_SLOT_HOST_MAX + 16];

    if (len == 0 || len > PERSONA_SLOT_HOST_MAX || port == 0 || port > 65535)
    {
        return NULL;
    }

    if (ngx_strlchr((u_char *) host, (u_char *) host + len, ':')) {
        p = ngx_sprintf(buf, "[%*s]:%ui", len, host, (ngx_uint_t) port);

    } else {
        p = ngx_sprintf(buf, "%*s:%ui", len, host, (ngx_uint_t) port);
    }

    name.data = buf;
    name.len = p - buf;

    for (q = ngx_queue_head(&cl->nodes);
         q != ngx_queue_sentinel(&cl->nodes);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_persona_redis_node_t, queue);

        if (node->name.len == name.len
            && ngx_strncmp(node->name.data, name.data, name.len) == 0)
        {
            return node;
        }
    }

    /* an address only: a name would need a resolver, off the path */

    if (ngx_parse_addr_port(cl->pool, &addr, name.data, name.len) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "persona: redis cluster node \"%V\" is not an IP "
                      "address, not used", &name);
        return NULL;
    }

    if (ngx_inet_get_port(addr.sockaddr) == 0) {
        ngx_inet_set_port(addr.sockaddr, (in_port_t) port);
    }

    p = ngx_pnalloc(cl->pool, name.len);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, name.data, name.len);
    name.data = p;
    addr.name = name;

    return ngx_http_persona_cluster_node_add(cl, &name, &addr);
}


static ngx_http_persona_redis_node_t *
ngx_http_persona_cluster_node_add(ngx_http_persona_cluster_t *cl,
    ngx_str_t *name, ngx_addr_t *addr)
{
    ngx_http_persona_redis_node_t  *node;

    node = ngx_pcalloc(cl->pool, sizeof(ngx_http_persona_redis_node_t)
                                 + sizeof(ngx_addr_t));
    if (node == NULL) {
        return NULL;
    }

    node->addr = (ngx_addr_t *) (node + 1);
    *node->addr = *addr;
    node->name = *name;
    ngx_queue_init(&node->conns);

    ngx_queue_insert_tail(&cl->nodes, &node->queue);
    cl->nnodes++;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "persona redis cluster: node %V", name);

    return node;
}


/* a refresh within delay (never sooner than MIN_GAP after the last) */
static void
ngx_http_persona_cluster_soon(ngx_http_persona_cluster_t *cl,
    ngx_msec_t delay)
{
    ngx_msec_int_t  gap;

    if (cl->op || ngx_exiting || ngx_terminate) {
        /* one is under way; it re-arms the timer when done */
        return;
    }

    gap = (ngx_msec_int_t) (cl->last + NGX_HTTP_PERSONA_CLUSTER_MIN_GAP
                            - ngx_current_msec);

    if (cl->mapped && gap > (ngx_msec_int_t) delay) {
        delay = (ngx_msec_t) gap;
    }

    if (delay == 0) {
        delay = 1;
    }

    if (cl->refresh.timer_set
        && (ngx_msec_int_t) (cl->refresh.timer.key - ngx_current_msec)
           <= (ngx_msec_int_t) delay)
    {
        return;
    }

    ngx_add_timer(&cl->refresh, delay);
}


static void
ngx_http_persona_cluster_refresh(ngx_event_t *ev)
{
    ngx_uint_t                      i, k;
    ngx_queue_t                    *q;
    ngx_http_persona_cluster_t     *cl;
    ngx_http_persona_redis_op_t    *op;
    ngx_http_persona_redis_conf_t  *rcf;

    static const char  cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";

    cl = ev->data;
    rcf = cl->conf;

    if (ngx_exiting || ngx_terminate || cl->op) {
        return;
    }

    op = ngx_alloc(sizeof(ngx_http_persona_redis_op_t) + sizeof(redisReply *)
                   + sizeof(cmd) - 1, ngx_cycle->log);
    if (op == NULL) {
        ngx_add_timer(&cl->refresh, NGX_HTTP_PERSONA_CLUSTER_RETRY);
        return;
    }

    ngx_memzero(op, sizeof(ngx_http_persona_redis_op_t));

    op->conf = rcf;
    op->n = 1;
    op->replies = (redisReply **) (op + 1);
    op->cmd = (u_char *) (op->replies + 1);
    op->cmd_len = sizeof(cmd) - 1;
    ngx_memcpy(op->cmd, cmd, sizeof(cmd) - 1);
    op->err = NGX_HTTP_PERSONA_REDIS_ERR_NONE;
    op->write = 1;              /* no one waits: no lookup held up */
    op->internal = 1;
    op->finish = ngx_http_persona_cluster_refreshed;
    op->deadline = ngx_current_msec + rcf->timeout;

    /* the nodes in turn: seeds first, then those the map named */

    k = cl->ask_next++ % cl->nnodes;

    for (i = 0, q = ngx_queue_head(&cl->nodes); i < k; i++) {
        q = ngx_queue_next(q);
    }

    op->node = ngx_queue_data(q, ngx_http_persona_redis_node_t, queue);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "persona redis cluster: CLUSTER SLOTS from %V",
                   &op->node->name);

    cl->last = ngx_current_msec;

    if (ngx_http_persona_redis_queue(op) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "persona: redis cluster slot map from %V: %s",
                      &op->node->name, op->reason);
        ngx_http_persona_redis_op_free(op);
        ngx_add_timer(&cl->refresh, NGX_HTTP_PERSONA_CLUSTER_RETRY);
        return;
    }

    cl->op = op;
}


static void
ngx_http_persona_cluster_refreshed(ngx_http_persona_redis_op_t *op)
{
    ngx_msec_t                   next;
    ngx_http_persona_cluster_t  *cl;

    cl = op->conf->cluster;
    cl->op = NULL;

    /* a node that fails: the next one at once, until each had a try */
    next = (++cl->fails < cl->nnodes) ? NGX_HTTP_PERSONA_CLUSTER_MIN_GAP / 4
                                      : NGX_HTTP_PERSONA_CLUSTER_RETRY;

    if (op->status != NGX_HTTP_PERSONA_OK) {
        if (!op->local) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "persona: redis cluster slot map from %V: %s",
                          &op->node->name, op->reason);
        }

    } else if (ngx_http_persona_cluster_map(cl, op->replies[0], op->node)
               == NGX_OK)
    {
        next = NGX_HTTP_PERSONA_CLUSTER_REFRESH;
        cl->fails = 0;
    }

    if (ngx_exiting || ngx_terminate) {
        return;
    }

    if (cl->refresh.timer_set) {
        /* asked for again meanwhile: keep the sooner */
        if ((ngx_msec_int_t) (cl->refresh.timer.key - ngx_current_msec)
            <= (ngx_msec_int_t) next)
        {
            return;
        }
    }

    ngx_add_timer(&cl->refresh, next);
}


static ngx_int_t
ngx_http_persona_cluster_map(ngx_http_persona_cluster_t *cl,
    redisReply *reply, ngx_http_persona_redis_node_t *from)
{
    u_char                          *host, *last;
    size_t                           len;
    ngx_int_t                        rc;
    ngx_uint_t                       i, s;
    ngx_pool_t                      *pool;
    persona_alloc_t                  alloc;
    persona_error_t                  err;
    persona_slot_map_t               map;
    ngx_http_persona_redis_node_t   *node;
    ngx_http_persona_redis_node_t  **slots;

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "persona: redis %V refused CLUSTER SLOTS: \"%*s\"",
                      &from->name, (size_t) ngx_min(reply->len, 100),
                      reply->str);
        return NGX_ERROR;
    }

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    /* the node's own address may come back empty: the host we asked */

    host = from->name.data;
    last = host + from->name.len;

    len = from->name.len;

    if (from->name.len > 2 && *host == '[') {
        host++;
        last = ngx_strlchr(host, last, ']');
        len = last ? (size_t) (last - host) : 0;

    } else {
        for (len = from->name.len; len > 0 && host[len - 1] != ':'; len--) {
            /* void */
        }

        len = len ? len - 1 : 0;
    }

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = pool;

    ngx_memzero(&map, sizeof(persona_slot_map_t));

    rc = NGX_ERROR;

    if (persona_slot_map_decode(&map, reply, (const char *) host, len,
                                &alloc, &err)
        != PERSONA_OK)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "persona: redis %V: a CLUSTER SLOTS reply that "
                      "cannot be used: %s", &from->name, err.msg);
        goto done;
    }

    if (map.nranges == 0) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "persona: redis %V serves no slots (not a cluster "
                      "yet?)", &from->name);
        goto done;
    }

    slots = cl->slots;

    /* slots no range names go back to the seeds */
    ngx_memzero(slots, PERSONA_SLOTS * sizeof(ngx_http_persona_redis_node_t *));

    for (i = 0; i < map.nranges; i++) {
        node = ngx_http_persona_cluster_node(cl, map.ranges[i].master.host.data,
                                             map.ranges[i].master.host.len,
                                             map.ranges[i].master.port);
        if (node == NULL) {
            continue;
        }

        for (s = map.ranges[i].start; s <= map.ranges[i].end; s++) {
            slots[s] = node;
        }
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "persona redis cluster: map from %V, %uz ranges, "
                   "%uz slots", &from->name, map.nranges, map.covered);

    cl->mapped = 1;
    ngx_http_persona_metrics_redis_topology_refresh();

    rc = NGX_OK;

done:

    ngx_destroy_pool(pool);

    return rc;
}
