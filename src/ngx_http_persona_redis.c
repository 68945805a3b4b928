/*
 * Redis on nginx's event loop.
 *
 * nginx owns the socket (ngx_event_connect_peer, c->send, c->recv, timers);
 * hiredis only formats commands (argv API, binary safe) and parses replies
 * (redisReader, with the limits of persona_reader_create()).  One lookup
 * (of one or more commands, sent in one write) at a time per connection;
 * fire-and-forget writes take a free connection the same way or are
 * dropped (interim, until the client pipelines).  A worker holds at most
 * "pool" connections to the node, busy and idle together: a lookup that
 * finds none free waits in a FIFO (within its own timeout) for one to
 * come back.  Idle connections wait in a keepalive pool for at most 60 s.
 * A breaker shared by all workers stops asking a failing Redis for a
 * while; only Redis's failures count (connect error, timeout, protocol
 * error), not an unusable reply (status invalid) nor a local shortage (no
 * free worker connection, no file descriptor).
 */

#include "ngx_http_persona_module.h"


#define NGX_HTTP_PERSONA_BREAKER_CLOSED    0
#define NGX_HTTP_PERSONA_BREAKER_OPEN      1
#define NGX_HTTP_PERSONA_BREAKER_PROBING   2

#define NGX_HTTP_PERSONA_REASON_LEN        160


typedef struct {
    ngx_queue_t                     queue;
    ngx_http_persona_redis_conf_t  *conf;
    ngx_connection_t               *connection;
    redisReader                    *reader;
    persona_reader_fn_t             reader_fn;
    ngx_http_persona_redis_op_t    *op;
    ngx_log_t                       log;
    unsigned                        ready:1;      /* AUTH/SELECT done */
    unsigned                        connecting:1;
} ngx_http_persona_redis_conn_t;


struct ngx_http_persona_redis_op_s {
    ngx_http_persona_redis_conf_t     *conf;
    ngx_http_persona_redis_conn_t     *conn;
    ngx_http_persona_redis_handler_pt  handler;
    void                              *data;      /* NULL: detached */
    char                              *cmd;       /* all commands */
    size_t                             cmd_len;
    ngx_uint_t                         ncmds;
    ngx_uint_t                         nreplies;
    redisReply                       **replies;   /* ncmds, in order */
    u_char                            *setup_cmd; /* AUTH/SELECT + cmd */
    ngx_str_t                          out;
    size_t                             sent;
    ngx_uint_t                         skip;      /* setup replies */
    size_t                             received;
    ngx_msec_t                         deadline;
    ngx_msec_t                         start;     /* got a connection */
    ngx_queue_t                        queue;     /* in rcf->waiting */
    ngx_event_t                        wait;      /* its timeout there */
    unsigned                           queued:1;
    unsigned                           reused:1;
    unsigned                           retried:1;
    unsigned                           local:1;   /* failed here, not
                                                     in Redis */
    unsigned                           write:1;   /* fire-and-forget */
    u_char                             reason[NGX_HTTP_PERSONA_REASON_LEN];
};


static ngx_int_t ngx_http_persona_redis_start(ngx_http_persona_redis_op_t *op,
    ngx_uint_t fifo);
static void ngx_http_persona_redis_enqueue(ngx_http_persona_redis_op_t *op);
static void ngx_http_persona_redis_dequeue(ngx_http_persona_redis_op_t *op);
static void ngx_http_persona_redis_wait_handler(ngx_event_t *ev);
static void ngx_http_persona_redis_dispatch_handler(ngx_event_t *ev);
static void ngx_http_persona_redis_wake(ngx_http_persona_redis_conf_t *rcf);
static ngx_http_persona_redis_conn_t *ngx_http_persona_redis_connect(
    ngx_http_persona_redis_op_t *op);
static void ngx_http_persona_redis_send(ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_write_handler(ngx_event_t *wev);
static void ngx_http_persona_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_http_persona_redis_replies(
    ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_finish(ngx_http_persona_redis_op_t *op,
    ngx_uint_t reuse);
static void ngx_http_persona_redis_fail(ngx_http_persona_redis_op_t *op,
    ngx_http_persona_status_e status, ngx_err_t err, const char *fmt, ...);
static void ngx_http_persona_redis_done(ngx_http_persona_redis_op_t *op,
    ngx_http_persona_status_e status);
static void ngx_http_persona_redis_arm(ngx_event_t *ev,
    ngx_http_persona_redis_op_t *op, ngx_msec_t limit);
static ngx_int_t ngx_http_persona_redis_late(ngx_event_t *ev,
    ngx_http_persona_redis_op_t *op, ngx_msec_t limit);
static void ngx_http_persona_redis_shutdown(ngx_http_persona_redis_op_t *op);
static void ngx_http_persona_redis_keepalive(
    ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_idle_handler(ngx_event_t *ev);
static void ngx_http_persona_redis_dummy_handler(ngx_event_t *ev);
static void ngx_http_persona_redis_close(ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_free_op(ngx_http_persona_redis_op_t *op);
static void ngx_http_persona_breaker_report(
    ngx_http_persona_redis_conf_t *rcf, ngx_uint_t failed);
static ngx_int_t ngx_http_persona_shm_init(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_http_persona_redis_op_t *ngx_http_persona_redis_op(
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log);
static void ngx_http_persona_redis_free_replies(
    ngx_http_persona_redis_op_t *op);


/* fire-and-forget write batches of this worker not finished yet */
static ngx_uint_t  ngx_http_persona_redis_writes;


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
    ngx_uint_t       i;
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

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 7 && ngx_strncmp(value[i].data, "cluster", 7) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"persona_redis\": \"cluster\" mode is not "
                               "supported by this version of the module");
            return NGX_CONF_ERROR;
        }
    }

    for (i = 1; i < cf->args->nelts; i++) {

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

        if (rcf->addr != NULL) {
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

        rcf->name = value[i];
        rcf->addr = &u.addrs[0];
    }

    if (rcf->addr == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"persona_redis\" needs an address "
                           "(host:port or unix:/path)");
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

    /* each worker inherits an empty pool and no waiting lookups */
    ngx_queue_init(&rcf->idle);
    rcf->nidle = 0;
    rcf->nconns = 0;
    ngx_queue_init(&rcf->waiting);
    rcf->dispatch.handler = ngx_http_persona_redis_dispatch_handler;
    rcf->dispatch.data = rcf;

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


/* a lookup */

ngx_http_persona_redis_op_t *
ngx_http_persona_redis_lookup(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log,
    ngx_http_persona_redis_handler_pt handler, void *data)
{
    ngx_http_persona_redis_op_t  *op;

    op = ngx_http_persona_redis_op(cmds, n, log);
    if (op == NULL) {
        return NULL;
    }

    op->conf = rcf;
    op->handler = handler;
    op->data = data;
    op->deadline = ngx_current_msec + rcf->timeout;

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, log, 0,
                   "persona redis: %*s \"%*s\" (%ui command(s))",
                   cmds[0].argvlen[0], cmds[0].argv[0],
                   cmds[0].argc > 1 ? cmds[0].argvlen[1] : 0,
                   cmds[0].argc > 1 ? cmds[0].argv[1] : "", n);

    if (ngx_http_persona_redis_start(op, 1) != NGX_OK) {
        /* already reported to the handler */
        return NULL;
    }

    return op;
}


/*
 * Interim: a write batch takes a connection of its own like a lookup
 * (it never waits for one), the replies are read and dropped.
 */
ngx_int_t
ngx_http_persona_redis_write(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n, ngx_log_t *log)
{
    ngx_http_persona_redis_op_t  *op;

    if (ngx_http_persona_redis_writes >= NGX_HTTP_PERSONA_WRITES_MAX) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, log, 0,
                       "persona redis: too many writes in flight, dropped");
        return NGX_DECLINED;
    }

    if (rcf->max_fails && rcf->breaker->state
                          != NGX_HTTP_PERSONA_BREAKER_CLOSED)
    {
        return NGX_DECLINED;
    }

    if (!ngx_queue_empty(&rcf->waiting)
        || (ngx_queue_empty(&rcf->idle) && rcf->pool
            && rcf->nconns >= rcf->pool))
    {
        /* no connection to spare: lookups come first */
        return NGX_DECLINED;
    }

    op = ngx_http_persona_redis_op(cmds, n, log);
    if (op == NULL) {
        return NGX_DECLINED;
    }

    op->conf = rcf;
    op->write = 1;
    op->deadline = ngx_current_msec + rcf->timeout;

    ngx_http_persona_redis_writes++;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "persona redis: write of %ui command(s)", n);

    (void) ngx_http_persona_redis_start(op, 0);

    return NGX_OK;
}


/* an op with the commands formatted into one buffer */
static ngx_http_persona_redis_op_t *
ngx_http_persona_redis_op(ngx_http_persona_redis_cmd_t *cmds, ngx_uint_t n,
    ngx_log_t *log)
{
    int                           len;
    char                         *one;
    u_char                       *p;
    size_t                        size;
    ngx_uint_t                    i;
    ngx_http_persona_redis_op_t  *op;

    if (n == 0) {
        return NULL;
    }

    op = ngx_calloc(sizeof(ngx_http_persona_redis_op_t)
                    + n * sizeof(redisReply *), log);
    if (op == NULL) {
        return NULL;
    }

    op->replies = (redisReply **) &op[1];
    op->ncmds = n;

    size = 0;
    p = NULL;

    for (i = 0; i < n; i++) {
        len = redisFormatCommandArgv(&one, cmds[i].argc, cmds[i].argv,
                                     cmds[i].argvlen);
        if (len < 0) {
            goto failed;
        }

        p = ngx_alloc(size + len, log);
        if (p == NULL) {
            redisFreeCommand(one);
            goto failed;
        }

        if (size) {
            ngx_memcpy(p, op->cmd, size);
        }

        ngx_memcpy(p + size, one, len);
        redisFreeCommand(one);

        if (op->cmd) {
            ngx_free(op->cmd);
        }

        op->cmd = (char *) p;
        size += len;
    }

    op->cmd_len = size;

    return op;

failed:

    if (op->cmd) {
        ngx_free(op->cmd);
    }

    ngx_free(op);

    return NULL;
}


void
ngx_http_persona_redis_detach(ngx_http_persona_redis_op_t *op)
{
    if (op->queued) {
        /* never sent: nothing to wait for */
        ngx_http_persona_redis_dequeue(op);
        ngx_http_persona_redis_free_op(op);
        return;
    }

    /* the request is gone; the connection finishes or times out alone */
    op->data = NULL;
}


/*
 * Sends the op on a pooled or a new connection, or queues it when the
 * worker holds "pool" connections already (fifo: also behind lookups
 * that wait).  NGX_OK: under way or waiting; NGX_ERROR: failed, the
 * handler has been called and op freed.
 */
static ngx_int_t
ngx_http_persona_redis_start(ngx_http_persona_redis_op_t *op,
    ngx_uint_t fifo)
{
    ngx_queue_t                    *q;
    ngx_connection_t               *c;
    ngx_http_persona_redis_conf_t  *rcf;
    ngx_http_persona_redis_conn_t  *conn;

    rcf = op->conf;
    op->local = 0;

    if ((fifo && !ngx_queue_empty(&rcf->waiting))
        || (ngx_queue_empty(&rcf->idle) && rcf->pool
            && rcf->nconns >= rcf->pool))
    {
        ngx_http_persona_redis_enqueue(op);
        return NGX_OK;
    }

    if (!ngx_queue_empty(&rcf->idle)) {
        q = ngx_queue_head(&rcf->idle);
        ngx_queue_remove(q);
        rcf->nidle--;

        conn = ngx_queue_data(q, ngx_http_persona_redis_conn_t, queue);
        op->reused = 1;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "persona redis: reusing a pooled connection");

        c = conn->connection;
        c->idle = 0;
        c->read->handler = ngx_http_persona_redis_read_handler;
        c->write->handler = ngx_http_persona_redis_write_handler;

        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        /* the lookup's timers bound a request: shutdown waits for them */
        c->read->cancelable = 0;

    } else {
        conn = ngx_http_persona_redis_connect(op);
        if (conn == NULL) {
            return NGX_ERROR;
        }
    }

    conn->op = op;
    op->conn = conn;
    op->start = ngx_current_msec;
    ngx_http_persona_redis_free_replies(op);
    op->received = 0;
    op->sent = 0;
    op->skip = 0;
    op->out.data = (u_char *) op->cmd;
    op->out.len = op->cmd_len;

    if (!conn->ready && rcf->setup.len) {

        /* one write: AUTH and SELECT pipelined before the lookup */

        if (op->setup_cmd == NULL) {
            op->setup_cmd = ngx_alloc(rcf->setup.len + op->cmd_len,
                                      ngx_cycle->log);
            if (op->setup_cmd == NULL) {
                op->local = 1;
                ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                            "out of memory");
                return NGX_ERROR;
            }

            ngx_memcpy(ngx_cpymem(op->setup_cmd, rcf->setup.data,
                                  rcf->setup.len),
                       op->cmd, op->cmd_len);
        }

        op->out.data = op->setup_cmd;
        op->out.len = rcf->setup.len + op->cmd_len;
        op->skip = rcf->setup_replies;
    }

    if (conn->connecting) {
        ngx_http_persona_redis_arm(conn->connection->write, op,
                                   rcf->connect_timeout);
        return NGX_OK;
    }

    ngx_http_persona_redis_send(conn);

    return NGX_OK;
}


static ngx_http_persona_redis_conn_t *
ngx_http_persona_redis_connect(ngx_http_persona_redis_op_t *op)
{
    ngx_int_t                       rc;
    ngx_err_t                       err;
    ngx_connection_t               *c;
    ngx_peer_connection_t           pc;
    ngx_http_persona_redis_conf_t  *rcf;
    ngx_http_persona_redis_conn_t  *conn;

    rcf = op->conf;

    conn = ngx_calloc(sizeof(ngx_http_persona_redis_conn_t), ngx_cycle->log);
    if (conn == NULL) {
        op->local = 1;
        ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                    "out of memory");
        return NULL;
    }

    /*
     * A log of our own: the request that started a lookup may be gone
     * before the connection is.  Its level hides nginx's own lines about
     * this socket (connect() failed, recv() failed): the request logs one
     * line per failed lookup, with the reason.  (Debug bits would turn
     * the level comparison off, so this log has none.)
     */
    conn->log = *ngx_cycle->log;
    conn->log.log_level = NGX_LOG_ALERT;
    conn->log.action = "talking to persona redis";
    conn->log.handler = NULL;
    conn->log.data = NULL;
    conn->conf = rcf;

    conn->reader = persona_reader_create(&conn->reader_fn);
    if (conn->reader == NULL) {
        ngx_free(conn);
        op->local = 1;
        ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                    "out of memory");
        return NULL;
    }

    ngx_memzero(&pc, sizeof(ngx_peer_connection_t));

    pc.sockaddr = rcf->addr->sockaddr;
    pc.socklen = rcf->addr->socklen;
    pc.name = &rcf->addr->name;
    pc.get = ngx_event_get_peer;
    pc.log = &conn->log;
    pc.log_error = NGX_ERROR_ERR;
    pc.tries = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "persona redis: new connection to %V", pc.name);

    rc = ngx_event_connect_peer(&pc);

    if (rc == NGX_ERROR || rc == NGX_BUSY || rc == NGX_DECLINED) {
        err = ngx_socket_errno;

        if (pc.connection) {
            ngx_close_connection(pc.connection);
        }

        redisReaderFree(conn->reader);
        ngx_free(conn);

        /*
         * NGX_ERROR: no socket or no free worker connection here (nginx
         * has logged which), or the event module refused it; running out
         * of local ports looks like a connect() error.  Neither says
         * anything about Redis: the breaker does not count them.
         */
        if (rc == NGX_ERROR || err == EADDRNOTAVAIL) {
            op->local = 1;
            ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR,
                                        rc == NGX_ERROR ? 0 : err,
                                        "no connection to %V could be "
                                        "opened here (worker_connections "
                                        "or file descriptors exhausted?)",
                                        pc.name);
            return NULL;
        }

        ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, err,
                                    "connect() to %V failed", pc.name);
        return NULL;
    }

    rcf->nconns++;

    c = pc.connection;
    c->data = conn;
    c->read->handler = ngx_http_persona_redis_read_handler;
    c->write->handler = ngx_http_persona_redis_write_handler;
    c->sendfile = 0;

    conn->connection = c;
    conn->connecting = (rc == NGX_AGAIN);

    return conn;
}


static void
ngx_http_persona_redis_send(ngx_http_persona_redis_conn_t *conn)
{
    ssize_t                       n;
    ngx_connection_t             *c;
    ngx_http_persona_redis_op_t  *op;

    c = conn->connection;
    op = conn->op;

    while (op->sent < op->out.len) {
        n = c->send(c, op->out.data + op->sent, op->out.len - op->sent);

        if (n == NGX_ERROR) {
            ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR,
                                        ngx_socket_errno,
                                        "send() to redis failed");
            return;
        }

        if (n == NGX_AGAIN) {
            ngx_http_persona_redis_arm(c->write, op, 0);

            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                            "write event failed");
            }

            return;
        }

        op->sent += n;
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    ngx_http_persona_redis_arm(c->read, op, 0);

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                    "read event failed");
        return;
    }

    if (c->read->ready) {
        ngx_http_persona_redis_read_handler(c->read);
    }
}


static void
ngx_http_persona_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t               *c;
    ngx_http_persona_redis_op_t    *op;
    ngx_http_persona_redis_conn_t  *conn;

    c = wev->data;
    conn = c->data;
    op = conn->op;

    if (op == NULL) {
        return;
    }

    if (c->close) {
        ngx_http_persona_redis_shutdown(op);
        return;
    }

    if (wev->timedout) {
        if (ngx_http_persona_redis_late(wev, op,
                                        conn->connecting
                                        ? ngx_min(op->conf->connect_timeout,
                                                  op->conf->timeout)
                                        : op->conf->timeout)
            == NGX_OK)
        {
            return;
        }

        ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_TIMEOUT, 0,
                                    conn->connecting
                                    ? "connect() to redis timed out"
                                    : op->write ? "redis write timed out"
                                              : "redis lookup timed out");
        return;
    }

    conn->connecting = 0;

    ngx_http_persona_redis_send(conn);
}


static void
ngx_http_persona_redis_read_handler(ngx_event_t *rev)
{
    u_char                          buf[16384];
    ssize_t                         n;
    ngx_int_t                       rc;
    ngx_connection_t               *c;
    ngx_http_persona_redis_op_t    *op;
    ngx_http_persona_redis_conn_t  *conn;

    c = rev->data;
    conn = c->data;
    op = conn->op;

    if (op == NULL) {
        return;
    }

    if (c->close) {
        ngx_http_persona_redis_shutdown(op);
        return;
    }

    if (rev->timedout) {
        if (ngx_http_persona_redis_late(rev, op, op->conf->timeout)
            == NGX_OK)
        {
            return;
        }

        ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_TIMEOUT, 0,
                                    op->write ? "redis write timed out"
                                              : "redis lookup timed out");
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR,
                                        n == 0 ? 0 : ngx_socket_errno,
                                        n == 0
                                        ? "redis closed the connection"
                                        : "recv() from redis failed");
            return;
        }

        op->received += n;

        if (op->received > NGX_HTTP_PERSONA_REPLY_MAX) {
            /* the rest is not read: the connection is closed */
            ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_INVALID, 0,
                                        "redis reply larger than %uz bytes",
                                        (size_t) NGX_HTTP_PERSONA_REPLY_MAX);
            return;
        }

        if (redisReaderFeed(conn->reader, (const char *) buf, n)
            != REDIS_OK)
        {
            ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                        "redis reader: %s",
                                        conn->reader->errstr);
            return;
        }

        rc = ngx_http_persona_redis_replies(conn);

        if (rc != NGX_AGAIN) {
            /* done or failed: op and maybe conn are gone */
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                    "read event failed");
    }
}


/* NGX_AGAIN: wants more bytes; otherwise the op has been finished */
static ngx_int_t
ngx_http_persona_redis_replies(ngx_http_persona_redis_conn_t *conn)
{
    void                         *r;
    redisReply                   *reply;
    redisReader                  *reader;
    ngx_http_persona_redis_op_t  *op;

    op = conn->op;
    reader = conn->reader;

    for ( ;; ) {
        r = NULL;

        if (redisReaderGetReply(reader, &r) != REDIS_OK) {

            /* over our limits: unusable, the connection is closed */

            switch (conn->reader_fn.refused) {

            case PERSONA_REPLY_TOO_MANY:
                ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_INVALID, 0,
                                            "redis reply of more than %d "
                                            "elements (an array of %uz "
                                            "after %uz)",
                                            PERSONA_REPLY_MAX_ELEMENTS,
                                            conn->reader_fn.announced,
                                            conn->reader_fn.elements);
                return NGX_ERROR;

            case PERSONA_REPLY_TOO_DEEP:
                ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_INVALID, 0,
                                            "redis reply nested deeper "
                                            "than %d arrays",
                                            PERSONA_REPLY_MAX_DEPTH);
                return NGX_ERROR;

            default:
                break;
            }

            ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                        "bad redis reply: %s",
                                        reader->errstr);
            return NGX_ERROR;
        }

        if (r == NULL) {
            return NGX_AGAIN;
        }

        reply = r;

        if (op->skip) {
            /* the answer to AUTH or SELECT */
            op->skip--;

            if (reply->type == REDIS_REPLY_ERROR) {
                ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                            "redis refused the connection "
                                            "setup: \"%*s\"",
                                            (size_t) ngx_min(reply->len, 100),
                                            reply->str);
                freeReplyObject(reply);
                return NGX_ERROR;
            }

            freeReplyObject(reply);

            if (op->skip == 0) {
                conn->ready = 1;
            }

            continue;
        }

        op->replies[op->nreplies++] = reply;

        if (op->nreplies < op->ncmds) {
            continue;
        }

        ngx_http_persona_redis_finish(op, reader->pos == reader->len
                                          && op->sent == op->out.len);
        return NGX_OK;
    }
}


static void
ngx_http_persona_redis_finish(ngx_http_persona_redis_op_t *op,
    ngx_uint_t reuse)
{
    ngx_http_persona_redis_conn_t  *conn;

    conn = op->conn;
    conn->op = NULL;
    op->conn = NULL;

    if (!op->write) {
        ngx_http_persona_breaker_report(op->conf, 0);
    }

    ngx_http_persona_redis_done(op, NGX_HTTP_PERSONA_OK);

    ngx_http_persona_redis_free_op(op);

    if (reuse) {
        ngx_http_persona_redis_keepalive(conn);

    } else {
        ngx_http_persona_redis_close(conn);
    }
}


static void
ngx_http_persona_redis_fail(ngx_http_persona_redis_op_t *op,
    ngx_http_persona_status_e status, ngx_err_t err, const char *fmt, ...)
{
    u_char                         *p, *last;
    va_list                         args;
    ngx_http_persona_redis_conn_t  *conn;

    /* the reason first: its arguments may point into the connection */

    last = op->reason + NGX_HTTP_PERSONA_REASON_LEN - 1;

    va_start(args, fmt);
    p = ngx_vslprintf(op->reason, last, fmt, args);
    va_end(args);

    if (err) {
        p = ngx_slprintf(p, last, " (%d: ", err);
        p = ngx_strerror(err, p, last - p);
        p = ngx_slprintf(p, last, ")");
    }

    *p = '\0';

    conn = op->conn;

    if (conn) {
        conn->op = NULL;
        op->conn = NULL;
        ngx_http_persona_redis_close(conn);
    }

    /*
     * An unusable reply came from a Redis that answers; a local failure
     * says nothing of Redis.
     */
    if (op->write) {
        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "persona: redis write failed: %s", op->reason);

    } else if (status == NGX_HTTP_PERSONA_INVALID) {
        ngx_http_persona_breaker_report(op->conf, 0);
        goto done;
    }

    if (op->local) {
        goto done;
    }

    /*
     * A pooled connection that Redis closed while it was idle fails before
     * any byte of the reply: that says nothing of Redis now, try once more
     * on a new connection.
     */
    if (op->reused && !op->retried && op->received == 0
        && status == NGX_HTTP_PERSONA_ERROR
        && (ngx_msec_int_t) (op->deadline - ngx_current_msec) > 0)
    {
        op->retried = 1;
        op->reused = 0;

        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "persona redis: pooled connection failed, retrying");

        /* ahead of waiting lookups: this one had its turn */
        (void) ngx_http_persona_redis_start(op, 0);
        return;
    }

    if (!op->write) {
        ngx_http_persona_breaker_report(op->conf, 1);
    }

done:

    ngx_http_persona_redis_done(op, status);
    ngx_http_persona_redis_free_op(op);
}


static void
ngx_http_persona_redis_done(ngx_http_persona_redis_op_t *op,
    ngx_http_persona_status_e status)
{
    ngx_uint_t   i;
    redisReply  *reply;

    if (op->write) {
        for (i = 0; i < op->nreplies; i++) {
            reply = op->replies[i];

            if (reply->type == REDIS_REPLY_ERROR) {
                ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                              "persona: redis write refused: \"%*s\"",
                              (size_t) ngx_min(reply->len, 100), reply->str);
            }
        }

        return;
    }

    if (op->data) {
        if (status == NGX_HTTP_PERSONA_OK && op->nreplies == op->ncmds) {
            op->handler(op->data, status, op->replies, op->nreplies, NULL);

        } else {
            op->handler(op->data, status, NULL, 0, (const char *) op->reason);
        }
    }
}


/* a timer for the rest of the lookup's budget, at most limit if given */
static void
ngx_http_persona_redis_arm(ngx_event_t *ev, ngx_http_persona_redis_op_t *op,
    ngx_msec_t limit)
{
    ngx_msec_int_t  left;

    left = (ngx_msec_int_t) (op->deadline - ngx_current_msec);

    if (left < 1) {
        left = 1;
    }

    if (limit && (ngx_msec_int_t) limit < left) {
        left = limit;
    }

    ngx_add_timer(ev, (ngx_msec_t) left);
}


/*
 * The lookup's time ran out on a connection that Redis has had for less
 * than limit (the lookup spent the rest waiting for a free connection):
 * that says nothing of Redis yet.  The request goes on now (status
 * timeout); the connection waits on until Redis has had its full time,
 * and only then does a missing reply count toward the breaker; a late
 * reply is dropped and the connection kept.  NGX_DECLINED: Redis has had
 * its time, a real timeout.
 */
static ngx_int_t
ngx_http_persona_redis_late(ngx_event_t *ev, ngx_http_persona_redis_op_t *op,
    ngx_msec_t limit)
{
    u_char          *p;
    ngx_msec_int_t   left;

    left = (ngx_msec_int_t) (op->start + limit - ngx_current_msec);

    if (left <= 0) {
        return NGX_DECLINED;
    }

    ev->timedout = 0;

    op->deadline = op->start + op->conf->timeout;
    ngx_add_timer(ev, (ngx_msec_t) left);

    if (op->data) {
        p = ngx_snprintf(op->reason, NGX_HTTP_PERSONA_REASON_LEN - 1,
                         "redis lookup timed out (it waited for a free "
                         "connection first, pool=%ui)", op->conf->pool);
        *p = '\0';

        /* the handler runs the request on; op stays with the connection */
        ngx_http_persona_redis_done(op, NGX_HTTP_PERSONA_TIMEOUT);
        op->data = NULL;
    }

    return NGX_OK;
}


/*
 * worker_shutdown_timeout has run out (nginx set c->close on every
 * connection and closed the clients'): the lookup ends here, and it says
 * nothing of Redis, so the breaker that the next workers share does not
 * count it.
 */
static void
ngx_http_persona_redis_shutdown(ngx_http_persona_redis_op_t *op)
{
    op->local = 1;
    ngx_http_persona_redis_fail(op, NGX_HTTP_PERSONA_ERROR, 0,
                                "redis lookup ended: worker shutting down");
}


/* the keepalive pool */

static void
ngx_http_persona_redis_keepalive(ngx_http_persona_redis_conn_t *conn)
{
    ngx_connection_t               *c;
    ngx_http_persona_redis_conf_t  *rcf;

    c = conn->connection;
    rcf = conn->conf;

    if (ngx_terminate || ngx_exiting || rcf->pool == 0) {
        ngx_http_persona_redis_close(conn);
        return;
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    if (c->write->timer_set) {
        ngx_del_timer(c->write);
    }

    c->read->handler = ngx_http_persona_redis_idle_handler;
    c->write->handler = ngx_http_persona_redis_dummy_handler;
    c->idle = 1;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_http_persona_redis_close(conn);
        return;
    }

    /*
     * Closed after a while idle, before a NAT or a firewall forgets it
     * silently.  Cancelable: it does not hold up a graceful shutdown,
     * which closes idle connections itself.
     */
    c->read->cancelable = 1;
    ngx_add_timer(c->read, NGX_HTTP_PERSONA_IDLE_TIMEOUT);

    ngx_queue_insert_head(&rcf->idle, &conn->queue);
    rcf->nidle++;

    /* a lookup waiting for a connection takes it */
    ngx_http_persona_redis_wake(rcf);

    if (c->read->ready) {
        ngx_http_persona_redis_idle_handler(c->read);
    }
}


static void
ngx_http_persona_redis_idle_handler(ngx_event_t *ev)
{
    int                             n;
    char                            buf[1];
    ngx_connection_t               *c;
    ngx_http_persona_redis_conn_t  *conn;

    c = ev->data;
    conn = c->data;

    if (c->close || ev->timedout) {
        goto close;
    }

    n = recv(c->fd, buf, 1, MSG_PEEK);

    if (n == -1 && ngx_socket_errno == NGX_EAGAIN) {
        ev->ready = 0;

        if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
            goto close;
        }

        return;
    }

close:

    /* EOF, an error, unexpected data or a graceful shutdown */

    ngx_queue_remove(&conn->queue);
    conn->conf->nidle--;

    ngx_http_persona_redis_close(conn);
}


static void
ngx_http_persona_redis_dummy_handler(ngx_event_t *ev)
{
    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "persona redis: idle write event");
}


static void
ngx_http_persona_redis_close(ngx_http_persona_redis_conn_t *conn)
{
    ngx_http_persona_redis_conf_t  *rcf;

    rcf = conn->conf;

    if (conn->connection) {
        ngx_close_connection(conn->connection);
    }

    redisReaderFree(conn->reader);
    ngx_free(conn);

    /* room for a new connection */
    rcf->nconns--;
    ngx_http_persona_redis_wake(rcf);
}


/* lookups waiting for a free connection */

static void
ngx_http_persona_redis_enqueue(ngx_http_persona_redis_op_t *op)
{
    ngx_http_persona_redis_conf_t  *rcf;

    rcf = op->conf;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "persona redis: %ui connections busy, lookup waits "
                   "(pool=%ui)", rcf->nconns, rcf->pool);

    ngx_queue_insert_tail(&rcf->waiting, &op->queue);
    op->queued = 1;

    /* not cancelable: bounded by the lookup's timeout */
    op->wait.handler = ngx_http_persona_redis_wait_handler;
    op->wait.data = op;
    op->wait.log = ngx_cycle->log;

    ngx_http_persona_redis_arm(&op->wait, op, 0);

    /* a connection may be free already (fifo) */
    ngx_http_persona_redis_wake(rcf);
}


static void
ngx_http_persona_redis_dequeue(ngx_http_persona_redis_op_t *op)
{
    ngx_queue_remove(&op->queue);
    op->queued = 0;

    if (op->wait.timer_set) {
        ngx_del_timer(&op->wait);
    }
}


/* no connection came free within the lookup's timeout: not Redis's
 * failure (the lookups that hold the connections count if it is slow) */
static void
ngx_http_persona_redis_wait_handler(ngx_event_t *ev)
{
    u_char                       *p;
    ngx_http_persona_redis_op_t  *op;

    op = ev->data;

    ngx_http_persona_redis_dequeue(op);

    p = ngx_snprintf(op->reason, NGX_HTTP_PERSONA_REASON_LEN - 1,
                     "redis lookup timed out waiting for a free "
                     "connection (pool=%ui)", op->conf->pool);
    *p = '\0';

    ngx_http_persona_redis_done(op, NGX_HTTP_PERSONA_TIMEOUT);
    ngx_http_persona_redis_free_op(op);
}


/*
 * Serves the waiting lookups, oldest first, while there is an idle
 * connection or room for a new one.  Run as a posted event: a connection
 * that comes free deep in another lookup's handler starts nothing there.
 */
static void
ngx_http_persona_redis_dispatch_handler(ngx_event_t *ev)
{
    ngx_queue_t                    *q;
    ngx_http_persona_redis_op_t    *op;
    ngx_http_persona_redis_conf_t  *rcf;

    rcf = ev->data;

    while (!ngx_queue_empty(&rcf->waiting)
           && (!ngx_queue_empty(&rcf->idle) || rcf->pool == 0
               || rcf->nconns < rcf->pool))
    {
        q = ngx_queue_head(&rcf->waiting);
        op = ngx_queue_data(q, ngx_http_persona_redis_op_t, queue);

        ngx_http_persona_redis_dequeue(op);

        /* may fail at once (the handler runs then) */
        (void) ngx_http_persona_redis_start(op, 0);
    }
}


static void
ngx_http_persona_redis_wake(ngx_http_persona_redis_conf_t *rcf)
{
    if (ngx_queue_empty(&rcf->waiting) || rcf->dispatch.posted) {
        return;
    }

    if (ngx_queue_empty(&rcf->idle) && rcf->pool
        && rcf->nconns >= rcf->pool)
    {
        return;
    }

    rcf->dispatch.log = ngx_cycle->log;
    ngx_post_event(&rcf->dispatch, &ngx_posted_events);
}


static void
ngx_http_persona_redis_free_replies(ngx_http_persona_redis_op_t *op)
{
    ngx_uint_t  i;

    for (i = 0; i < op->nreplies; i++) {
        freeReplyObject(op->replies[i]);
    }

    op->nreplies = 0;
}


static void
ngx_http_persona_redis_free_op(ngx_http_persona_redis_op_t *op)
{
    if (op->wait.timer_set) {
        ngx_del_timer(&op->wait);
    }

    ngx_http_persona_redis_free_replies(op);

    if (op->write) {
        ngx_http_persona_redis_writes--;
    }

    ngx_free(op->cmd);

    if (op->setup_cmd) {
        ngx_free(op->setup_cmd);
    }

    ngx_free(op);
}
