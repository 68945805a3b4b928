/*
 * The Redis client's API (the contract of REDIS-API.md): lookups whose
 * replies come back together, fire-and-forget writes, the breaker.
 *
 * Included by ngx_http_persona_module.h after the status enum.  Rooms:
 *   ngx_http_persona_redis.c        persona_redis, the breaker, lookups
 *                                   and writes (this API)
 *   ngx_http_persona_redis_conn.c   per-node connections and their
 *                                   command queues (pipelining)
 *   persona_reply.c                 reply reading with our limits
 *                                   (pure core)
 */

#ifndef NGX_HTTP_PERSONA_REDIS_H
#define NGX_HTTP_PERSONA_REDIS_H


/* the biggest Redis reply accepted (each reply of a lookup) */
#define NGX_HTTP_PERSONA_REPLY_MAX     (1024 * 1024)

/* an idle pooled Redis connection is closed after this long */
#define NGX_HTTP_PERSONA_IDLE_TIMEOUT  60000

#define NGX_HTTP_PERSONA_SHM_SIZE      (128 * 1024)

/* fire-and-forget write batches in flight per worker, at most */
#define NGX_HTTP_PERSONA_WRITES_MAX    256


typedef struct ngx_http_persona_redis_op_s    ngx_http_persona_redis_op_t;
typedef struct ngx_http_persona_redis_conn_s  ngx_http_persona_redis_conn_t;
typedef struct ngx_http_persona_redis_node_s  ngx_http_persona_redis_node_t;
typedef struct ngx_http_persona_cluster_s     ngx_http_persona_cluster_t;


/* one command, argv style: the strings are copied (formatted) before
 * the call returns, so they may live on the stack or in r->pool */
typedef struct {
    int                    argc;
    const char           **argv;
    const size_t          *argvlen;
} ngx_http_persona_redis_cmd_t;


/*
 * Called once per lookup unless the lookup was detached, possibly before
 * ngx_http_persona_redis_lookup() returns.  On success replies[i] answers
 * cmds[i] (i < n; a reply may itself be an error or nil reply: judging it
 * is the caller's business) and status is NGX_HTTP_PERSONA_OK.  On failure
 * replies is NULL, status is ERROR, TIMEOUT or INVALID (a reply over our
 * limits), and reason says why.  The replies are freed after the call.
 */
typedef void (*ngx_http_persona_redis_handler_pt)(void *data,
    ngx_http_persona_status_e status, redisReply **replies, ngx_uint_t n,
    const char *reason);


/* shared by all workers */
typedef struct {
    ngx_uint_t      state;
    ngx_uint_t      fails;
    ngx_msec_t      window_start;
    ngx_msec_t      open_until;
    ngx_msec_t      probe_deadline;
} ngx_http_persona_breaker_t;


/* one Redis node and this worker's connections to it ("pool" at most) */
struct ngx_http_persona_redis_node_s {
    ngx_queue_t                  queue;       /* in the cluster's nodes */
    ngx_str_t                    name;        /* as written, or host:port */
    ngx_addr_t                  *addr;
    ngx_queue_t                  conns;       /* open or opening */
    ngx_uint_t                   nconns;
};


typedef struct {
    ngx_str_t                    name;        /* as written, for logs */
    ngx_addr_t                  *addr;
    ngx_int_t                    db;          /* -1: no SELECT */
    ngx_str_t                    password;
    ngx_msec_t                   connect_timeout;
    ngx_msec_t                   timeout;
    ngx_uint_t                   pool;
    ngx_uint_t                   max_fails;
    ngx_msec_t                   fail_timeout;

    /* AUTH and SELECT, formatted once, sent first on a new connection */
    ngx_str_t                    setup;
    ngx_uint_t                   setup_replies;

    ngx_shm_zone_t              *shm_zone;
    ngx_http_persona_breaker_t  *breaker;

    /* "cluster": the addresses are seeds (ngx_addr_t, name in addr) */
    ngx_array_t                 *seeds;

    /* per worker: the single node (not cluster), or the cluster's slot
     * map and nodes (ngx_http_persona_redis_cluster.c) */
    ngx_http_persona_redis_node_t   node;
    ngx_http_persona_cluster_t     *cluster;
    ngx_uint_t                   nwrites;     /* write batches in flight */
} ngx_http_persona_redis_conf_t;


char *ngx_http_persona_redis_parse(ngx_conf_t *cf,
    ngx_http_persona_redis_conf_t *rcf);
ngx_int_t ngx_http_persona_redis_allow(ngx_http_persona_redis_conf_t *rcf,
    ngx_log_t *log);
/* 1 while the breaker skips lookups (open, or one probe under way) */
ngx_uint_t ngx_http_persona_redis_breaker_open(
    ngx_http_persona_redis_conf_t *rcf);

/* n >= 1 commands sent together (one write, in order); their replies
 * come back together.  The profile read is cmds[0]; cap counter reads
 * ride behind it.  Returns NULL when the lookup could not start (the
 * handler has then already been called, or will not be). */
ngx_http_persona_redis_op_t *ngx_http_persona_redis_lookup(
    ngx_http_persona_redis_conf_t *rcf, ngx_http_persona_redis_cmd_t *cmds,
    ngx_uint_t n, ngx_log_t *log, ngx_http_persona_redis_handler_pt handler,
    void *data);

void ngx_http_persona_redis_detach(ngx_http_persona_redis_op_t *op);

/* fire-and-forget: NGX_OK queued, NGX_DECLINED dropped (the caller
 * counts ngx_http_persona_metrics_track_dropped()) */
ngx_int_t ngx_http_persona_redis_write(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log);

/* per worker: starts the cluster's slot map refresh (cluster mode) */
ngx_int_t ngx_http_persona_redis_init_process(ngx_cycle_t *cycle);


#endif /* NGX_HTTP_PERSONA_REDIS_H */
