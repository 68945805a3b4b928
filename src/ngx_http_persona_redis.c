/*
 * The Redis client's API: persona_redis, the breaker, lookups and
 * fire-and-forget writes.
 *
 * A lookup formats its commands (argv, binary safe), arms its timeout
 * (the whole lookup, from queueing) and hands them to a connection of the
 * worker's pool (ngx_http_persona_redis_conn.c), where they are pipelined
 * with the other lookups' commands.  A breaker shared by all workers
 * stops asking a failing Redis for a while; only Redis's failures count
 * (connect error, timeout, protocol error), not an unusable reply
 * (status invalid) nor a local shortage (no free worker connection, no
 * file descriptor), nor writes.
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"
#include "ngx_http_persona_redis_conn.h"


#define NGX_HTTP_PERSONA_BREAKER_CLOSED    0
#define NGX_HTTP_PERSONA_BREAKER_OPEN      1
#define NGX_HTTP_PERSONA_BREAKER_PROBING   2

/* commands formatted on the stack, at most; more are allocated */
#define NGX_HTTP_PERSONA_REDIS_CMDS        8


static ngx_http_persona_redis_op_t *ngx_http_persona_redis_op(
    ngx_http_persona_redis_conf_t *rcf, ngx_http_persona_redis_cmd_t *cmds,
    ngx_uint_t n, ngx_log_t *log);
static void ngx_http_persona_redis_lookup_finish(
    ngx_http_persona_redis_op_t *op);
static void ngx_http_persona_redis_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_persona_redis_write_node(
    ngx_http_persona_redis_conf_t *rcf, ngx_http_persona_redis_node_t *node,
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log);
static void ngx_http_persona_redis_write_finish(
    ngx_http_persona_redis_op_t *op);
static ngx_uint_t ngx_http_persona_breaker_closed(
    ngx_http_persona_redis_conf_t *rcf);
static void ngx_http_persona_breaker_report(
    ngx_http_persona_redis_conf_t *rcf, ngx_uint_t failed);
static uint64_t ngx_http_persona_redis_usec(void);
static ngx_int_t ngx_http_persona_shm_init(ngx_shm_zone_t *shm_zone,
    void *data);


/* configuration */

char *
ngx_http_persona_redis_parse(ngx_conf_t *cf, ngx_http_persona_redis_conf_t *rcf)
{
    int              n;
    char            *cmd;
    u_char          *p;
    ngx_str_t       *value, s, name;
    ngx_int_t        num;
    ngx_url_t        u;
    ngx_uint_t       i, cluster;
    ngx_addr_t      *seed;
    const char      *argv[2];
    size_t           argvlen[2];
    ngx_shm_zone_t  *shm_zone;

    value = cf->args->elts;

    rcf->db = -1;
    rcf->connect_timeout = 50;
    rcf->timeout = 100;
    rcf->pool = 32;
    rcf->max_fails = 3;
    rcf->fail_timeout = 10000;

    cluster = 0;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 7 && ngx_strncmp(value[i].data, "cluster", 7) == 0)
        {
            cluster = 1;
        }
    }

    if (cluster) {
        rcf->seeds = ngx_array_create(cf->pool, 4, sizeof(ngx_addr_t));
        if (rcf->seeds == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 7 && ngx_strncmp(value[i].data, "cluster", 7) == 0)
        {
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            num = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (num == NGX_ERROR) {
                goto invalid;
            }

            rcf->db = num;
            continue;
        }

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            rcf->password.data = value[i].data + 9;
            rcf->password.len = value[i].len - 9;

            if (rcf->password.len == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {
            s.data = value[i].data + 16;
            s.len = value[i].len - 16;

            rcf->connect_timeout = ngx_parse_time(&s, 0);
            if (rcf->connect_timeout == (ngx_msec_t) NGX_ERROR
                || rcf->connect_timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rcf->timeout = ngx_parse_time(&s, 0);
            if (rcf->timeout == (ngx_msec_t) NGX_ERROR || rcf->timeout == 0) {
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "pool=", 5) == 0) {
            num = ngx_atoi(value[i].data + 5, value[i].len - 5);
            if (num == NGX_ERROR) {
                goto invalid;
            }

            /* 0: no keepalive and no cap, as nginx's 0s mean */
            rcf->pool = num;
            continue;
        }

        if (ngx_strncmp(value[i].data, "max_fails=", 10) == 0) {
            num = ngx_atoi(value[i].data + 10, value[i].len - 10);
            if (num == NGX_ERROR) {
                goto invalid;
            }

            rcf->max_fails = num;
            continue;
        }

        if (ngx_strncmp(value[i].data, "fail_timeout=", 13) == 0) {
            s.data = value[i].data + 13;
            s.len = value[i].len - 13;

            rcf->fail_timeout = ngx_parse_time(&s, 0);
            if (rcf->fail_timeout == (ngx_msec_t) NGX_ERROR
                || rcf->fail_timeout == 0)
            {
                goto invalid;
            }

            continue;
        }

        if (ngx_strlchr(value[i].data, value[i].data + value[i].len, '=')
            != NULL)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"persona_redis\": unknown parameter \"%V\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        /* an address */

        if (rcf->addr != NULL && !cluster) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"persona_redis\": several addresses (\"%V\", "
                               "\"%V\") need \"cluster\"", &rcf->name,
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[i];
        u.default_port = 6379;

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            if (u.err) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"persona_redis\": %s in address \"%V\"",
                                   u.err, &u.url);
            }

            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0 || u.uri.len) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"persona_redis\": invalid address \"%V\"",
                               &u.url);
            return NGX_CONF_ERROR;
        }

        if (cluster) {
            /* a seed: only ever asked for CLUSTER SLOTS, or used until
             * the slot map is known */
            seed = ngx_array_push(rcf->seeds);
            if (seed == NULL) {
                return NGX_CONF_ERROR;
            }

            *seed = u.addrs[0];
            seed->name = value[i];
        }

        if (rcf->addr == NULL) {
            rcf->name = value[i];
            rcf->addr = &u.addrs[0];
        }
    }

    if (rcf->addr == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persona_redis\" needs an address "
                           "(host:port or unix:/path)");
        return NGX_CONF_ERROR;
    }

    if (cluster && rcf->db > 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persona_redis\": a Redis Cluster has no "
                           "database but 0 (\"db=\" with \"cluster\")");
        return NGX_CONF_ERROR;
    }

    /* AUTH and SELECT, sent first on every new connection */

    p = NULL;

    for (i = 0; i < 2; i++) {
        if (i == 0 && rcf->password.len) {
            argv[0] = "AUTH";
            argv[1] = (const char *) rcf->password.data;
            argvlen[1] = rcf->password.len;

        } else if (i == 1 && rcf->db >= 0) {
            name.data = ngx_pnalloc(cf->pool, NGX_INT_T_LEN);
            if (name.data == NULL) {
                return NGX_CONF_ERROR;
            }

            name.len = ngx_sprintf(name.data, "%i", rcf->db) - name.data;
            argv[0] = "SELECT";
            argv[1] = (const char *) name.data;
            argvlen[1] = name.len;

        } else {
            continue;
        }

        argvlen[0] = ngx_strlen(argv[0]);

        n = redisFormatCommandArgv(&cmd, 2, argv, argvlen);
        if (n < 0) {
            return NGX_CONF_ERROR;
        }

        p = ngx_pnalloc(cf->pool, rcf->setup.len + n);
        if (p == NULL) {
            redisFreeCommand(cmd);
            return NGX_CONF_ERROR;
        }

        if (rcf->setup.len) {
            ngx_memcpy(p, rcf->setup.data, rcf->setup.len);
        }

        ngx_memcpy(p + rcf->setup.len, cmd, n);
        redisFreeCommand(cmd);

        rcf->setup.data = p;
        rcf->setup.len += n;
        rcf->setup_replies++;
    }

    ngx_str_set(&name, "persona");

    shm_zone = ngx_shared_memory_add(cf, &name, NGX_HTTP_PERSONA_SHM_SIZE,
                                     &ngx_http_persona_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_persona_shm_init;
    shm_zone->data = rcf;
    rcf->shm_zone = shm_zone;

    /* each worker inherits an empty pool */
    rcf->node.name = rcf->name;
    rcf->node.addr = rcf->addr;
    ngx_queue_init(&rcf->node.conns);
    rcf->node.nconns = 0;
    rcf->nwrites = 0;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"persona_redis\": invalid value \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_persona_shm_init(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_slab_pool_t                *shpool;
    ngx_http_persona_redis_conf_t  *rcf, *orcf;

    rcf = shm_zone->data;

    if (data) {
        orcf = data;
        rcf->breaker = orcf->breaker;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        rcf->breaker = shpool->data;
        return NGX_OK;
    }

    rcf->breaker = ngx_slab_calloc(shpool, sizeof(ngx_http_persona_breaker_t));
    if (rcf->breaker == NULL) {
        return NGX_ERROR;
    }

    shpool->data = rcf->breaker;

    return NGX_OK;
}


/* the breaker */

/* for persona_breaker_open: a read of one word, no lock */
ngx_uint_t
ngx_http_persona_redis_breaker_open(ngx_http_persona_redis_conf_t *rcf)
{
    ngx_http_persona_breaker_t  *b;

    b = rcf->breaker;

    if (rcf->max_fails == 0 || b == NULL) {
        return 0;
    }

    switch (b->state) {

    case NGX_HTTP_PERSONA_BREAKER_OPEN:
        /* past open_until the next lookup is the probe */
        return (ngx_msec_int_t) (ngx_current_msec - b->open_until) < 0;

    case NGX_HTTP_PERSONA_BREAKER_PROBING:
        return 1;

    default:
        return 0;
    }
}


ngx_int_t
ngx_http_persona_redis_allow(ngx_http_persona_redis_conf_t *rcf,
    ngx_log_t *log)
{
    ngx_int_t                    rc;
    ngx_slab_pool_t             *shpool;
    ngx_http_persona_breaker_t  *b;

    if (rcf->max_fails == 0) {
        return NGX_OK;
    }

    b = rcf->breaker;
    shpool = (ngx_slab_pool_t *) rcf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);

    switch (b->state) {

    case NGX_HTTP_PERSONA_BREAKER_OPEN:

        if ((ngx_msec_int_t) (ngx_current_msec - b->open_until) < 0) {
            rc = NGX_DECLINED;
            break;
        }

        /* let one request through to find out whether Redis is back */

        b->state = NGX_HTTP_PERSONA_BREAKER_PROBING;
        b->probe_deadline = ngx_current_msec + rcf->timeout + 1000;
        rc = NGX_OK;
        break;

    case NGX_HTTP_PERSONA_BREAKER_PROBING:

        /* a probe lost with its worker does not keep the breaker shut */

        if ((ngx_msec_int_t) (ngx_current_msec - b->probe_deadline) < 0) {
            rc = NGX_DECLINED;
            break;
        }

        b->probe_deadline = ngx_current_msec + rcf->timeout + 1000;
        rc = NGX_OK;
        break;

    default:
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "persona breaker: %s", rc == NGX_OK ? "pass" : "open");

    return rc;
}


static void
ngx_http_persona_breaker_report(ngx_http_persona_redis_conf_t *rcf,
    ngx_uint_t failed)
{
    ngx_uint_t                   opened, closed, fails;
    ngx_slab_pool_t             *shpool;
    ngx_http_persona_breaker_t  *b;

    if (rcf->max_fails == 0) {
        return;
    }

    b = rcf->breaker;
    shpool = (ngx_slab_pool_t *) rcf->shm_zone->shm.addr;

    opened = 0;
    closed = 0;
    fails = 0;

    ngx_shmtx_lock(&shpool->mutex);

    if (!failed) {
        if (b->state != NGX_HTTP_PERSONA_BREAKER_CLOSED) {
            b->state = NGX_HTTP_PERSONA_BREAKER_CLOSED;
            b->fails = 0;
            closed = 1;
        }

    } else if (b->state == NGX_HTTP_PERSONA_BREAKER_CLOSED) {

        if (b->fails == 0
            || ngx_current_msec - b->window_start > rcf->fail_timeout)
        {
            b->window_start = ngx_current_msec;
            b->fails = 0;
        }

        fails = ++b->fails;

        if (b->fails >= rcf->max_fails) {
            b->state = NGX_HTTP_PERSONA_BREAKER_OPEN;
            b->open_until = ngx_current_msec + rcf->fail_timeout;
            opened = 1;
            ngx_http_persona_metrics_breaker_trip();
        }

    } else {
        /* the probe failed: stay open, without a new log line */
        b->state = NGX_HTTP_PERSONA_BREAKER_OPEN;
        b->open_until = ngx_current_msec + rcf->fail_timeout;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (opened) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "persona: redis \"%V\" failed %ui times within %Mms, "
                      "breaker opened: lookups skipped for %Mms",
                      &rcf->name, fails, rcf->fail_timeout,
                      rcf->fail_timeout);
    }

    if (closed) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "persona: redis \"%V\" answers again, breaker closed",
                      &rcf->name);
    }
}



/* for writes: no state change (a write is never the probe) */
static ngx_uint_t
ngx_http_persona_breaker_closed(ngx_http_persona_redis_conf_t *rcf)
{
    ngx_uint_t        state;
    ngx_slab_pool_t  *shpool;

    if (rcf->max_fails == 0) {
        return 1;
    }

    shpool = (ngx_slab_pool_t *) rcf->shm_zone->shm.addr;

    ngx_shmtx_lock(&shpool->mutex);
    state = rcf->breaker->state;
    ngx_shmtx_unlock(&shpool->mutex);

    return state == NGX_HTTP_PERSONA_BREAKER_CLOSED;
}


/* lookups */

ngx_http_persona_redis_op_t *
ngx_http_persona_redis_lookup(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log,
    ngx_http_persona_redis_handler_pt handler, void *data)
{
    ngx_http_persona_redis_op_t  *op;

    op = ngx_http_persona_redis_op(rcf, cmds, n, log);
    if (op == NULL) {
        return NULL;
    }

    if (rcf->cluster && cmds[0].argc >= 2) {
        /* by the slot of the profile key: the batch's other keys must
         * share it (a hash tag) */
        op->node = ngx_http_persona_cluster_route(rcf, cmds[0].argv[1],
                                                  cmds[0].argvlen[1]);
        ngx_http_persona_metrics_redis_node_lookup(&op->node->name);
    }

    op->handler = handler;
    op->data = data;
    op->finish = ngx_http_persona_redis_lookup_finish;
    op->deadline = ngx_current_msec + rcf->timeout;
    op->start = ngx_http_persona_redis_usec();

    /* not cancelable: it bounds a request */
    op->timer.handler = ngx_http_persona_redis_timeout;
    op->timer.data = op;
    op->timer.log = ngx_cycle->log;
    ngx_add_timer(&op->timer, rcf->timeout);

#if (NGX_DEBUG)
    if (cmds[0].argc >= 2) {
        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, log, 0,
                       "persona redis: %*s \"%*s\"%s",
                       cmds[0].argvlen[0], cmds[0].argv[0],
                       cmds[0].argvlen[1], cmds[0].argv[1],
                       n > 1 ? " and more" : "");
    }
#endif

    if (ngx_http_persona_redis_queue(op) != NGX_OK) {
        /* the handler is called now */
        ngx_http_persona_redis_lookup_finish(op);
        ngx_http_persona_redis_op_free(op);
        return NULL;
    }

    return op;
}


void
ngx_http_persona_redis_detach(ngx_http_persona_redis_op_t *op)
{
    /* the request is gone: its replies are dropped when they come */

    if (op->finish) {
        ngx_http_persona_redis_drop(op);
    }
}


/* the op's commands formatted (argv, binary safe) into one allocation */
static ngx_http_persona_redis_op_t *
ngx_http_persona_redis_op(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log)
{
    char                         *one[NGX_HTTP_PERSONA_REDIS_CMDS];
    char                        **fmt;
    u_char                       *p;
    size_t                        total;
    size_t                        len[NGX_HTTP_PERSONA_REDIS_CMDS], *lens;
    long long                     rc;
    ngx_uint_t                    i, done;
    ngx_http_persona_redis_op_t  *op;

    if (n == 0) {
        return NULL;
    }

    op = NULL;
    done = 0;
    total = 0;
    fmt = one;
    lens = len;

    if (n > NGX_HTTP_PERSONA_REDIS_CMDS) {
        fmt = ngx_alloc(n * (sizeof(char *) + sizeof(size_t)), log);
        if (fmt == NULL) {
            return NULL;
        }

        lens = (size_t *) (fmt + n);
    }

    for (i = 0; i < n; i++) {
        rc = redisFormatCommandArgv(&fmt[i], cmds[i].argc, cmds[i].argv,
                                    cmds[i].argvlen);
        if (rc < 0) {
            goto done;
        }

        done++;
        lens[i] = (size_t) rc;
        total += lens[i];
    }

    op = ngx_alloc(sizeof(ngx_http_persona_redis_op_t)
                   + n * sizeof(redisReply *) + total, log);
    if (op == NULL) {
        goto done;
    }

    ngx_memzero(op, sizeof(ngx_http_persona_redis_op_t));

    op->conf = rcf;
    op->n = n;
    op->replies = (redisReply **) (op + 1);
    op->cmd = (u_char *) (op->replies + n);
    op->cmd_len = total;
    op->err = NGX_HTTP_PERSONA_REDIS_ERR_NONE;

    p = op->cmd;

    for (i = 0; i < n; i++) {
        p = ngx_cpymem(p, fmt[i], lens[i]);
    }

done:

    for (i = 0; i < done; i++) {
        redisFreeCommand(fmt[i]);
    }

    if (fmt != one) {
        ngx_free(fmt);
    }

    return op;
}


/* the outcome: the breaker, the metrics, the caller */
static void
ngx_http_persona_redis_lookup_finish(ngx_http_persona_redis_op_t *op)
{
    ngx_http_persona_redis_conf_t  *rcf;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    rcf = op->conf;

    switch (op->status) {

    case NGX_HTTP_PERSONA_OK:
        ngx_http_persona_breaker_report(rcf, 0);
        ngx_http_persona_metrics_redis_latency((ngx_msec_t)
            (ngx_http_persona_redis_usec() - op->start));

        op->handler(op->data, NGX_HTTP_PERSONA_OK, op->replies, op->n, NULL);
        return;

    case NGX_HTTP_PERSONA_INVALID:
        /* an unusable reply came from a Redis that answers */
        ngx_http_persona_breaker_report(rcf, 0);
        break;

    default:
        /* a local failure says nothing of Redis */
        if (!op->local) {
            ngx_http_persona_breaker_report(rcf, 1);
        }
    }

    if (op->err != NGX_HTTP_PERSONA_REDIS_ERR_NONE) {
        ngx_http_persona_metrics_redis_error(op->err);
    }

    op->handler(op->data, op->status, NULL, op->n,
                (const char *) op->reason);
}


/* the lookup's time is up: the request goes on, the op stays queued (a
 * tombstone), the connection lives on */
static void
ngx_http_persona_redis_timeout(ngx_event_t *ev)
{
    void                               *data;
    ngx_uint_t                          n;
    ngx_http_persona_redis_op_t        *op;
    ngx_http_persona_redis_conf_t      *rcf;
    ngx_http_persona_redis_handler_pt   handler;

    op = ev->data;

    handler = op->handler;
    data = op->data;
    n = op->n;
    rcf = op->conf;

    ngx_http_persona_redis_drop(op);

    ngx_http_persona_breaker_report(rcf, 1);
    ngx_http_persona_metrics_redis_error(NGX_HTTP_PERSONA_REDIS_ERR_TIMEOUT);

    handler(data, NGX_HTTP_PERSONA_TIMEOUT, NULL, n,
            "redis lookup timed out");
}


/* fire-and-forget writes */

ngx_int_t
ngx_http_persona_redis_write(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log)
{
    ngx_int_t                       rc;
    ngx_uint_t                      i, m, done;
    ngx_http_persona_redis_cmd_t   *part, one[NGX_HTTP_PERSONA_REDIS_CMDS];
    ngx_http_persona_redis_node_t  *node, **nodes,
                                   *on[NGX_HTTP_PERSONA_REDIS_CMDS];

    if (rcf->nwrites >= NGX_HTTP_PERSONA_WRITES_MAX
        || !ngx_http_persona_breaker_closed(rcf))
    {
        return NGX_DECLINED;
    }

    if (rcf->cluster == NULL || n == 0) {
        return ngx_http_persona_redis_write_node(rcf, NULL, cmds, n, log);
    }

    /* a cluster: one batch per node, each command by its key's slot */

    part = one;
    nodes = on;

    if (n > NGX_HTTP_PERSONA_REDIS_CMDS) {
        part = ngx_alloc(n * (sizeof(ngx_http_persona_redis_cmd_t)
                              + sizeof(ngx_http_persona_redis_node_t *)),
                         log);
        if (part == NULL) {
            return NGX_DECLINED;
        }

        nodes = (ngx_http_persona_redis_node_t **) (part + n);
    }

    /* (void *) -1: the command is in a batch already */

    for (i = 0; i < n; i++) {
        nodes[i] = (cmds[i].argc >= 2)
                   ? ngx_http_persona_cluster_route(rcf, cmds[i].argv[1],
                                                    cmds[i].argvlen[1])
                   : NULL;
    }

    rc = NGX_DECLINED;
    done = 0;

    while (done < n) {
        node = NULL;
        m = 0;

        for (i = 0; i < n; i++) {
            if (nodes[i] == (void *) -1) {
                continue;
            }

            if (m == 0) {
                node = nodes[i];
            }

            if (nodes[i] == node) {
                part[m++] = cmds[i];
                nodes[i] = (void *) -1;
            }
        }

        done += m;

        /* queued if any part was: the rest is logged, not counted */
        if (ngx_http_persona_redis_write_node(rcf, node, part, m, log)
            == NGX_OK)
        {
            rc = NGX_OK;
        }
    }

    if (part != one) {
        ngx_free(part);
    }

    return rc;
}


static ngx_int_t
ngx_http_persona_redis_write_node(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_node_t *node, ngx_http_persona_redis_cmd_t *cmds,
    ngx_uint_t n, ngx_log_t *log)
{
    ngx_http_persona_redis_op_t  *op;

    op = ngx_http_persona_redis_op(rcf, cmds, n, log);
    if (op == NULL) {
        return NGX_DECLINED;
    }

    op->node = node;
    op->write = 1;
    op->finish = ngx_http_persona_redis_write_finish;
    op->deadline = ngx_current_msec + rcf->timeout;

    if (ngx_http_persona_redis_queue(op) != NGX_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                       "persona redis: write dropped: %s", op->reason);
        ngx_http_persona_redis_op_free(op);
        return NGX_DECLINED;
    }

    rcf->nwrites++;

    return NGX_OK;
}


/* never counted by the breaker; logged at info at most */
static void
ngx_http_persona_redis_write_finish(ngx_http_persona_redis_op_t *op)
{
    ngx_uint_t  i;
    redisReply  *reply;

    op->conf->nwrites--;

    if (op->status != NGX_HTTP_PERSONA_OK) {
        if (!op->local) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "persona: redis write lost: %s", op->reason);
        }

        return;
    }

    for (i = 0; i < op->n; i++) {
        reply = op->replies[i];

        if (reply->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                          "persona: redis refused a write: \"%*s\"",
                          (size_t) ngx_min(reply->len, 100), reply->str);
            return;
        }
    }
}


ngx_int_t
ngx_http_persona_redis_init_process(ngx_cycle_t *cycle)
{
    ngx_http_persona_main_conf_t  *mcf;

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_persona_module);

    if (mcf == NULL || mcf->redis == NULL || mcf->redis->seeds == NULL) {
        return NGX_OK;
    }

    return ngx_http_persona_cluster_init_process(cycle, mcf->redis);
}


/* for latency: a monotonic clock, in microseconds */
static uint64_t
ngx_http_persona_redis_usec(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}
