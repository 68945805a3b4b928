/*
 * Per-node Redis connections and their command queues (pipelining).
 *
 * nginx owns the sockets (ngx_event_connect_peer, c->send, c->recv,
 * timers); hiredis only parses (src/persona_reply.c: our limits).  A
 * worker holds at most "pool" connections to the node, busy and idle
 * together.  An op (a lookup or a write batch) appends its commands to a
 * connection's output and posts the connection's flush event, which runs
 * after the events of this pass of the event loop: everything queued
 * meanwhile leaves in one send().  Replies come back in order and are
 * matched to the queued ops first in, first out.
 *
 * An op that no one waits for any more (its lookup timed out, or its
 * client went away) stays in the queue as a tombstone: its replies are
 * read and dropped, and the connection lives on.  A connection is closed
 * on EOF, an I/O or protocol error, a reply over our limits, when its
 * oldest op is far past its deadline (Redis stalls; all its ops fail
 * then), after 60 s idle, and on a graceful shutdown once no lookup
 * waits on it.
 */

#include "ngx_http_persona_redis_conn.h"
#include "persona_reply.h"


/*
 * A connection takes new ops while fewer than this many wait on it (or
 * when the pool is full); beyond, a new one opens while the pool has
 * room.  A connection whose flush is due already is preferred: one
 * send() for the whole pass.
 */
#define NGX_HTTP_PERSONA_REDIS_SPREAD   16

/* a connection whose oldest op is this long (and at least the lookup
 * timeout) past its deadline is given up: Redis stalls */
#define NGX_HTTP_PERSONA_REDIS_STALL    1000

/* the output buffer: initial size, and the size above which it is freed
 * once sent */
#define NGX_HTTP_PERSONA_REDIS_OUT      4096
#define NGX_HTTP_PERSONA_REDIS_OUT_KEEP (64 * 1024)

#define NGX_HTTP_PERSONA_REDIS_LOCAL    1
#define NGX_HTTP_PERSONA_REDIS_RETRY    2


struct ngx_http_persona_redis_conn_s {
    ngx_queue_t                        queue;      /* in node->conns */
    ngx_http_persona_redis_conf_t     *conf;
    ngx_http_persona_redis_node_t     *node;
    ngx_connection_t                  *connection;
    persona_reply_stream_t             reader;

    ngx_queue_t                        ops;        /* FIFO */
    ngx_uint_t                         nops;
    ngx_uint_t                         nlive;      /* lookups waited for */
    ngx_uint_t                         setup;      /* AUTH/SELECT replies
                                                      still to come */

    u_char                            *out;
    size_t                             out_len;
    size_t                             out_size;
    size_t                             out_sent;

    ngx_event_t                        flush;
    ngx_log_t                          log;

    unsigned                           connecting:1;
    unsigned                           connected:1;  /* a send went out */
    unsigned                           reused:1;     /* busy again after
                                                        idle */
    unsigned                           received:1;   /* bytes since */
};


static ngx_http_persona_redis_conn_t *ngx_http_persona_redis_pick(
    ngx_http_persona_redis_conf_t *rcf, ngx_http_persona_redis_node_t *node);
static ngx_http_persona_redis_conn_t *ngx_http_persona_redis_connect(
    ngx_http_persona_redis_op_t *op);
static ngx_int_t ngx_http_persona_redis_append(
    ngx_http_persona_redis_conn_t *conn, u_char *data, size_t len);
static void ngx_http_persona_redis_post_flush(
    ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_flush_handler(ngx_event_t *ev);
static void ngx_http_persona_redis_send(ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_write_handler(ngx_event_t *wev);
static void ngx_http_persona_redis_read_handler(ngx_event_t *rev);
static ngx_int_t ngx_http_persona_redis_replies(
    ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_settle(
    ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_mark(ngx_http_persona_redis_conn_t *conn);
static void ngx_http_persona_redis_fail(ngx_http_persona_redis_conn_t *conn,
    ngx_http_persona_status_e status, ngx_int_t kind, ngx_uint_t flags,
    ngx_err_t err, const char *fmt, ...);
static void ngx_http_persona_redis_close(ngx_http_persona_redis_conn_t *conn);


ngx_int_t
ngx_http_persona_redis_queue(ngx_http_persona_redis_op_t *op)
{
    static const char               asking[] = "*1\r\n$6\r\nASKING\r\n";
    ngx_int_t                       rc;
    ngx_uint_t                      fresh;
    ngx_connection_t               *c;
    ngx_http_persona_redis_conn_t  *conn;

    if (op->node == NULL) {
        op->node = &op->conf->node;
    }

    conn = ngx_http_persona_redis_pick(op->conf, op->node);
    fresh = 0;

    if (conn == NULL) {
        conn = ngx_http_persona_redis_connect(op);
        if (conn == NULL) {
            return NGX_ERROR;
        }

        fresh = 1;
    }

    op->skip = 0;
    rc = NGX_OK;

    if (op->asking) {
        /* ASKING right before the command, on the same connection */

        rc = ngx_http_persona_redis_append(conn, (u_char *) asking,
                                           sizeof(asking) - 1);
        if (rc == NGX_OK) {
            rc = ngx_http_persona_redis_append(conn, op->cmd, op->cmd_len);

            if (rc != NGX_OK) {
                /* ASKING was appended last: take it back */
                conn->out_len -= sizeof(asking) - 1;
            }
        }

        op->skip = 1;

    } else {
        rc = ngx_http_persona_redis_append(conn, op->cmd, op->cmd_len);
    }

    if (rc != NGX_OK) {
        op->skip = 0;
        op->status = NGX_HTTP_PERSONA_ERROR;
        op->local = 1;
        ngx_http_persona_redis_reason(op, 0, "out of memory");

        if (fresh) {
            /* no one else knows it yet */
            ngx_http_persona_redis_close(conn);
        }

        return NGX_ERROR;
    }

    if (!fresh) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "persona redis: reusing a pooled connection "
                       "(%ui ops queued)", conn->nops);

        if (conn->nops == 0) {
            /* out of the keepalive pool */
            c = conn->connection;
            c->idle = 0;
            c->read->cancelable = 0;
            conn->reused = 1;
            conn->received = 0;
        }
    }

    ngx_queue_insert_tail(&conn->ops, &op->queue);
    op->conn = conn;
    conn->nops++;

    if (op->finish && !op->write) {
        conn->nlive++;
    }

    if (conn->nops == 1) {
        /* the stall timer, for this op */
        ngx_http_persona_redis_settle(conn);

    } else {
        ngx_http_persona_redis_mark(conn);
    }

    ngx_http_persona_redis_post_flush(conn);

    return NGX_OK;
}


void
ngx_http_persona_redis_drop(ngx_http_persona_redis_op_t *op)
{
    ngx_http_persona_redis_conn_t  *conn;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    conn = op->conn;

    if (op->finish && !op->write && conn) {
        conn->nlive--;
        ngx_http_persona_redis_mark(conn);
    }

    op->finish = NULL;
    op->handler = NULL;
    op->data = NULL;

    /* a shutting down worker closes what no lookup waits on: later,
     * never here, deep in someone's handler */

    if (conn && conn->nlive == 0 && (ngx_exiting || ngx_terminate)) {
        ngx_http_persona_redis_post_flush(conn);
    }
}


void
ngx_http_persona_redis_op_free(ngx_http_persona_redis_op_t *op)
{
    ngx_uint_t  i;

    for (i = 0; i < op->nreplies; i++) {
        freeReplyObject(op->replies[i]);
    }

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    ngx_free(op);
}


void
ngx_http_persona_redis_reason(ngx_http_persona_redis_op_t *op,
    ngx_err_t err, const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

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
}


/*
 * The connection whose flush is due already (while it has room), else
 * the one with the fewest ops waiting; NULL: open a new one.
 */
static ngx_http_persona_redis_conn_t *
ngx_http_persona_redis_pick(ngx_http_persona_redis_conf_t *rcf,
    ngx_http_persona_redis_node_t *node)
{
    ngx_queue_t                    *q;
    ngx_http_persona_redis_conn_t  *conn, *best;

    best = NULL;

    for (q = ngx_queue_head(&node->conns);
         q != ngx_queue_sentinel(&node->conns);
         q = ngx_queue_next(q))
    {
        conn = ngx_queue_data(q, ngx_http_persona_redis_conn_t, queue);

        if (conn->flush.posted && conn->nops < NGX_HTTP_PERSONA_REDIS_SPREAD)
        {
            return conn;
        }

        if (best == NULL || conn->nops < best->nops) {
            best = conn;
        }
    }

    if (best == NULL) {
        return NULL;
    }

    if (best->nops < NGX_HTTP_PERSONA_REDIS_SPREAD) {
        return best;
    }

    if (rcf->pool == 0 || node->nconns < rcf->pool) {
        return NULL;
    }

    /* the pool is full: pipeline deeper, never wait */

    return best;
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

    op->status = NGX_HTTP_PERSONA_ERROR;
    op->err = NGX_HTTP_PERSONA_REDIS_ERR_CONNECT;

    conn = ngx_calloc(sizeof(ngx_http_persona_redis_conn_t), ngx_cycle->log);
    if (conn == NULL) {
        goto nomem;
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
    conn->node = op->node;
    ngx_queue_init(&conn->ops);

    conn->flush.handler = ngx_http_persona_redis_flush_handler;
    conn->flush.data = conn;
    conn->flush.log = ngx_cycle->log;

    if (persona_reply_stream_init(&conn->reader, NGX_HTTP_PERSONA_REPLY_MAX)
        != PERSONA_OK)
    {
        ngx_free(conn);
        goto nomem;
    }

    ngx_memzero(&pc, sizeof(ngx_peer_connection_t));

    pc.sockaddr = op->node->addr->sockaddr;
    pc.socklen = op->node->addr->socklen;
    pc.name = &op->node->addr->name;
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

        persona_reply_stream_free(&conn->reader);
        ngx_free(conn);

        /*
         * NGX_ERROR: no socket or no free worker connection here (nginx
         * has logged which), or the event module refused it; running out
         * of local ports looks like a connect() error.  Neither says
         * anything about Redis: the breaker does not count them.
         */
        if (rc == NGX_ERROR || err == EADDRNOTAVAIL) {
            op->local = 1;
            ngx_http_persona_redis_reason(op, rc == NGX_ERROR ? 0 : err,
                                          "no connection to %V could be "
                                          "opened here (worker_connections "
                                          "or file descriptors exhausted?)",
                                          pc.name);
            return NULL;
        }

        ngx_http_persona_redis_reason(op, err, "connect() to %V failed",
                                      pc.name);

        if (rcf->cluster) {
            /* the node may be gone: ask for the slot map again */
            ngx_http_persona_cluster_node_failed(rcf);
        }

        return NULL;
    }

    ngx_http_persona_metrics_redis_connect();
    ngx_http_persona_metrics_redis_conns(1);

    ngx_queue_insert_tail(&op->node->conns, &conn->queue);
    op->node->nconns++;

    c = pc.connection;
    c->data = conn;
    c->read->handler = ngx_http_persona_redis_read_handler;
    c->write->handler = ngx_http_persona_redis_write_handler;
    c->sendfile = 0;

    conn->connection = c;
    conn->connecting = (rc == NGX_AGAIN);

    if (rcf->setup.len) {
        /* AUTH and SELECT first, in the same write as the first op */

        if (ngx_http_persona_redis_append(conn, rcf->setup.data,
                                          rcf->setup.len)
            != NGX_OK)
        {
            ngx_http_persona_redis_close(conn);
            goto nomem;
        }

        conn->setup = rcf->setup_replies;
    }

    if (conn->connecting) {
        /* not cancelable: it bounds lookups */
        ngx_add_timer(c->write, rcf->connect_timeout);
    }

    op->status = NGX_HTTP_PERSONA_OK;
    op->err = NGX_HTTP_PERSONA_REDIS_ERR_NONE;

    return conn;

nomem:

    op->local = 1;
    op->err = NGX_HTTP_PERSONA_REDIS_ERR_NONE;
    ngx_http_persona_redis_reason(op, 0, "out of memory");

    return NULL;
}


static ngx_int_t
ngx_http_persona_redis_append(ngx_http_persona_redis_conn_t *conn,
    u_char *data, size_t len)
{
    u_char  *p;
    size_t   size, pending;

    if (conn->out_len + len > conn->out_size) {
        pending = conn->out_len - conn->out_sent;

        size = conn->out_size ? conn->out_size : NGX_HTTP_PERSONA_REDIS_OUT;

        while (size < pending + len) {
            size *= 2;
        }

        p = ngx_alloc(size, ngx_cycle->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (pending) {
            ngx_memcpy(p, conn->out + conn->out_sent, pending);
        }

        if (conn->out) {
            ngx_free(conn->out);
        }

        conn->out = p;
        conn->out_size = size;
        conn->out_len = pending;
        conn->out_sent = 0;
    }

    ngx_memcpy(conn->out + conn->out_len, data, len);
    conn->out_len += len;

    return NGX_OK;
}


static void
ngx_http_persona_redis_post_flush(ngx_http_persona_redis_conn_t *conn)
{
    if (conn->connecting || conn->flush.posted) {
        /* a connecting one sends when connected */
        return;
    }

    ngx_post_event(&conn->flush, &ngx_posted_events);
}


static void
ngx_http_persona_redis_flush_handler(ngx_event_t *ev)
{
    ngx_http_persona_redis_conn_t  *conn;

    conn = ev->data;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "persona redis: flush %uz bytes, %ui ops queued",
                   conn->out_len - conn->out_sent, conn->nops);

    ngx_http_persona_redis_send(conn);
}


static void
ngx_http_persona_redis_send(ngx_http_persona_redis_conn_t *conn)
{
    ssize_t            n;
    ngx_err_t          err;
    ngx_uint_t         flags;
    ngx_connection_t  *c;

    c = conn->connection;

    while (conn->out_sent < conn->out_len) {
        n = c->send(c, conn->out + conn->out_sent,
                    conn->out_len - conn->out_sent);

        if (n == NGX_ERROR) {
            err = ngx_socket_errno;

            /* Redis closed a pooled connection as it was taken: retry */
            flags = (conn->reused && !conn->received)
                    ? NGX_HTTP_PERSONA_REDIS_RETRY : 0;

            if (!conn->connected) {
                ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                            NGX_HTTP_PERSONA_REDIS_ERR_CONNECT,
                                            flags, err,
                                            "connect() to %V failed",
                                            &conn->conf->addr->name);
                return;
            }

            ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL,
                                        flags, err,
                                        "send() to redis failed");
            return;
        }

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL,
                                        NGX_HTTP_PERSONA_REDIS_LOCAL, 0,
                                        "write event failed");
            }

            return;
        }

        conn->out_sent += n;
        conn->connected = 1;
    }

    conn->out_len = 0;
    conn->out_sent = 0;

    if (conn->out_size > NGX_HTTP_PERSONA_REDIS_OUT_KEEP) {
        /* after a burst */
        ngx_free(conn->out);
        conn->out = NULL;
        conn->out_size = 0;
    }

    ngx_http_persona_redis_settle(conn);
}


static void
ngx_http_persona_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t               *c;
    ngx_http_persona_redis_conn_t  *conn;

    c = wev->data;
    conn = c->data;

    if (c->close) {
        ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                    NGX_HTTP_PERSONA_REDIS_ERR_NONE,
                                    NGX_HTTP_PERSONA_REDIS_LOCAL, 0,
                                    "redis lookup ended: worker shutting "
                                    "down");
        return;
    }

    if (wev->timedout) {
        /* only connect() is timed here */
        ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_TIMEOUT,
                                    NGX_HTTP_PERSONA_REDIS_ERR_CONNECT, 0, 0,
                                    "connect() to redis timed out");
        return;
    }

    if (conn->connecting) {
        conn->connecting = 0;

        if (wev->timer_set) {
            ngx_del_timer(wev);
        }
    }

    ngx_http_persona_redis_send(conn);
}


static void
ngx_http_persona_redis_read_handler(ngx_event_t *rev)
{
    u_char                          buf[16384];
    ssize_t                         n;
    ngx_err_t                       err;
    ngx_uint_t                      flags;
    ngx_connection_t               *c;
    ngx_http_persona_redis_conf_t  *rcf;
    ngx_http_persona_redis_conn_t  *conn;

    c = rev->data;
    conn = c->data;
    rcf = conn->conf;

    if (c->close) {
        /* a graceful shutdown, or worker_shutdown_timeout: says nothing
         * of Redis */
        ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                    NGX_HTTP_PERSONA_REDIS_ERR_NONE,
                                    NGX_HTTP_PERSONA_REDIS_LOCAL, 0,
                                    "redis lookup ended: worker shutting "
                                    "down");
        return;
    }

    if (rev->timedout) {
        rev->timedout = 0;

        if (conn->nops == 0) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "persona redis: idle connection closed");
            ngx_http_persona_redis_close(conn);
            return;
        }

        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "persona: redis \"%V\" did not answer for %Mms, "
                      "connection closed with %ui commands pending",
                      &rcf->name,
                      rcf->timeout + ngx_max(rcf->timeout,
                                             NGX_HTTP_PERSONA_REDIS_STALL),
                      conn->nops);

        ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_TIMEOUT,
                                    NGX_HTTP_PERSONA_REDIS_ERR_TIMEOUT, 0, 0,
                                    "redis stalled, connection closed");
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == NGX_ERROR || n == 0) {
            err = (n == 0) ? 0 : ngx_socket_errno;

            if (conn->nops == 0) {
                /* Redis closed an idle connection: nothing lost */
                ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                               "persona redis: idle connection closed by "
                               "redis");
                ngx_http_persona_redis_close(conn);
                return;
            }

            /* Redis closed a pooled connection as it was taken: retry */
            flags = (conn->reused && !conn->received)
                    ? NGX_HTTP_PERSONA_REDIS_RETRY : 0;

            ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        conn->connected
                                        ? NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL
                                        : NGX_HTTP_PERSONA_REDIS_ERR_CONNECT,
                                        flags, err,
                                        n == 0
                                        ? "redis closed the connection"
                                        : "recv() from redis failed");
            return;
        }

        conn->received = 1;

        if (conn->nops == 0) {
            /* bytes no command asked for */
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "persona redis: unexpected bytes on an idle "
                           "connection");
            ngx_http_persona_redis_close(conn);
            return;
        }

        if (persona_reply_stream_feed(&conn->reader, (const char *) buf, n)
            != PERSONA_OK)
        {
            ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        NGX_HTTP_PERSONA_REDIS_ERR_NONE,
                                        NGX_HTTP_PERSONA_REDIS_LOCAL, 0,
                                        "out of memory");
            return;
        }

        if (ngx_http_persona_redis_replies(conn) != NGX_OK) {
            /* the connection is gone */
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                    NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL,
                                    NGX_HTTP_PERSONA_REDIS_LOCAL, 0,
                                    "read event failed");
        return;
    }

    ngx_http_persona_redis_settle(conn);
}


/* NGX_OK: all complete replies taken; NGX_ERROR: the connection failed
 * and is gone */
static ngx_int_t
ngx_http_persona_redis_replies(ngx_http_persona_redis_conn_t *conn)
{
    ngx_queue_t                  *q;
    redisReply                   *reply;
    persona_error_t               err;
    ngx_http_persona_redis_op_t  *op;

    for ( ;; ) {
        reply = NULL;

        switch (persona_reply_stream_next(&conn->reader, &reply, &err)) {

        case PERSONA_REPLY_READY:
            break;

        case PERSONA_REPLY_AGAIN:
            return NGX_OK;

        case PERSONA_REPLY_REFUSED:
            /*
             * Over our limits: the op it answers gets "invalid"; the
             * rest of the stream cannot be read, so the ops behind it
             * try once more on another connection.
             */
            if (conn->setup == 0 && !ngx_queue_empty(&conn->ops)) {
                q = ngx_queue_head(&conn->ops);
                op = ngx_queue_data(q, ngx_http_persona_redis_op_t, queue);

                op->refused = 1;
                op->status = NGX_HTTP_PERSONA_INVALID;
                op->err = NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL;
                ngx_http_persona_redis_reason(op, 0, "%s", err.msg);
            }

            ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL,
                                        NGX_HTTP_PERSONA_REDIS_RETRY, 0,
                                        "%s", err.msg);
            return NGX_ERROR;

        default: /* PERSONA_REPLY_BAD */
            ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL,
                                        0, 0, "%s", err.msg);
            return NGX_ERROR;
        }

        if (conn->setup) {
            /* the answer to AUTH or SELECT */
            conn->setup--;

            if (reply->type == REDIS_REPLY_ERROR) {
                ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL,
                                        0, 0,
                                        "redis refused the connection "
                                        "setup: \"%*s\"",
                                        (size_t) ngx_min(reply->len, 100),
                                        reply->str);
                freeReplyObject(reply);
                return NGX_ERROR;
            }

            freeReplyObject(reply);
            continue;
        }

        if (ngx_queue_empty(&conn->ops)) {
            freeReplyObject(reply);
            ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                        NGX_HTTP_PERSONA_REDIS_ERR_PROTOCOL,
                                        0, 0, "redis sent a reply no "
                                        "command asked for");
            return NGX_ERROR;
        }

        q = ngx_queue_head(&conn->ops);
        op = ngx_queue_data(q, ngx_http_persona_redis_op_t, queue);

        if (op->skip) {
            /* the answer to ASKING */
            op->skip = 0;
            freeReplyObject(reply);
            continue;
        }

        op->replies[op->nreplies++] = reply;

        if (op->nreplies < op->n) {
            continue;
        }

        ngx_queue_remove(q);
        conn->nops--;
        op->conn = NULL;

        if (op->finish) {
            if (!op->write) {
                conn->nlive--;
            }

            op->status = NGX_HTTP_PERSONA_OK;

            if (conn->conf->cluster
                && ngx_http_persona_cluster_reply(op) == NGX_OK)
            {
                /* redirected: queued again, elsewhere */
                continue;
            }

            /* may queue more ops, on this connection too */
            op->finish(op);

        } else {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "persona redis: reply to a dropped lookup");
        }

        ngx_http_persona_redis_op_free(op);
    }
}


/*
 * After each pass: keep an idle connection for later (or close it), arm
 * the stall timer for the oldest op of a busy one, and close what a
 * shutting down worker no longer needs.
 */
static void
ngx_http_persona_redis_settle(ngx_http_persona_redis_conn_t *conn)
{
    ngx_msec_int_t                  left;
    ngx_connection_t               *c;
    ngx_http_persona_redis_op_t    *op;
    ngx_http_persona_redis_conf_t  *rcf;

    c = conn->connection;
    rcf = conn->conf;

    if (conn->nops == 0) {

        if (ngx_terminate || ngx_exiting || rcf->pool == 0) {
            ngx_http_persona_redis_close(conn);
            return;
        }

        /*
         * Closed after a while idle, before a NAT or a firewall forgets
         * it silently.  Cancelable: it does not hold up a graceful
         * shutdown, which closes idle connections itself.
         */
        c->idle = 1;
        c->read->cancelable = 1;
        ngx_add_timer(c->read, NGX_HTTP_PERSONA_IDLE_TIMEOUT);
        return;
    }

    if ((ngx_terminate || ngx_exiting)
        && conn->nlive == 0 && !conn->connecting
        && conn->out_sent == conn->out_len)
    {
        /* tombstones and writes only, all sent */
        ngx_http_persona_redis_fail(conn, NGX_HTTP_PERSONA_ERROR,
                                    NGX_HTTP_PERSONA_REDIS_ERR_NONE,
                                    NGX_HTTP_PERSONA_REDIS_LOCAL, 0,
                                    "worker shutting down");
        return;
    }

    op = ngx_queue_data(ngx_queue_head(&conn->ops),
                        ngx_http_persona_redis_op_t, queue);

    left = (ngx_msec_int_t) (op->deadline - ngx_current_msec)
           + (ngx_msec_int_t) ngx_max(rcf->timeout,
                                      NGX_HTTP_PERSONA_REDIS_STALL);

    if (left < 1) {
        left = 1;
    }

    ngx_add_timer(c->read, (ngx_msec_t) left);

    ngx_http_persona_redis_mark(conn);
}


/*
 * A busy connection that no lookup waits on (tombstones and writes, all
 * sent) is "idle" for nginx: a graceful shutdown closes it at once
 * (ngx_close_idle_connections() sets c->close, the read handler drops
 * its ops), and its timer does not hold the worker.  One a lookup waits
 * on is not: the worker waits for the lookup (bounded by its timeout).
 */
static void
ngx_http_persona_redis_mark(ngx_http_persona_redis_conn_t *conn)
{
    ngx_uint_t         idle;
    ngx_connection_t  *c;

    if (conn->nops == 0) {
        /* keepalive: settle() */
        return;
    }

    c = conn->connection;

    idle = (conn->nlive == 0 && !conn->connecting
            && conn->out_sent == conn->out_len);

    c->idle = idle;
    c->read->cancelable = idle;
}


/*
 * Closes the connection and tells its ops' callers, oldest first; with
 * NGX_HTTP_PERSONA_REDIS_RETRY a lookup that got no reply yet tries once
 * more on another connection, within its deadline.
 */
static void
ngx_http_persona_redis_fail(ngx_http_persona_redis_conn_t *conn,
    ngx_http_persona_status_e status, ngx_int_t kind, ngx_uint_t flags,
    ngx_err_t err, const char *fmt, ...)
{
    u_char                       *p, *last;
    va_list                       args;
    ngx_queue_t                   ops, *q;
    ngx_http_persona_redis_op_t  *op;
    u_char                        reason[NGX_HTTP_PERSONA_REASON_LEN];

    /* the reason first: its arguments may point into the connection */

    last = reason + NGX_HTTP_PERSONA_REASON_LEN - 1;

    va_start(args, fmt);
    p = ngx_vslprintf(reason, last, fmt, args);
    va_end(args);

    if (err) {
        p = ngx_slprintf(p, last, " (%d: ", err);
        p = ngx_strerror(err, p, last - p);
        p = ngx_slprintf(p, last, ")");
    }

    *p = '\0';

    if (conn->conf->cluster && !(flags & NGX_HTTP_PERSONA_REDIS_LOCAL)) {
        /* the node may be gone: ask for the slot map again */
        ngx_http_persona_cluster_node_failed(conn->conf);
    }

    ngx_queue_init(&ops);

    if (!ngx_queue_empty(&conn->ops)) {
        ngx_queue_add(&ops, &conn->ops);
        ngx_queue_init(&conn->ops);
    }

    conn->nops = 0;
    conn->nlive = 0;

    /* a caller told below may drop another of these ops */
    for (q = ngx_queue_head(&ops);
         q != ngx_queue_sentinel(&ops);
         q = ngx_queue_next(q))
    {
        op = ngx_queue_data(q, ngx_http_persona_redis_op_t, queue);
        op->conn = NULL;
    }

    ngx_http_persona_redis_close(conn);

    while (!ngx_queue_empty(&ops)) {
        q = ngx_queue_head(&ops);
        ngx_queue_remove(q);

        op = ngx_queue_data(q, ngx_http_persona_redis_op_t, queue);

        if (op->finish == NULL) {
            ngx_http_persona_redis_op_free(op);
            continue;
        }

        if (op->refused) {
            /* status and reason are set */

        } else if ((flags & NGX_HTTP_PERSONA_REDIS_RETRY)
                   && !op->write && !op->retried && op->nreplies == 0
                   && (ngx_msec_int_t) (op->deadline - ngx_current_msec) > 0)
        {
            op->retried = 1;

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "persona redis: connection failed, retrying "
                           "a lookup");

            if (ngx_http_persona_redis_queue(op) == NGX_OK) {
                continue;
            }

            /* failed at once: queue() said why */

        } else {
            op->status = status;
            op->err = kind;
            op->local = (flags & NGX_HTTP_PERSONA_REDIS_LOCAL) ? 1 : 0;
            ngx_memcpy(op->reason, reason, p - reason + 1);
        }

        op->finish(op);
        ngx_http_persona_redis_op_free(op);
    }
}


/* with no ops left in it */
static void
ngx_http_persona_redis_close(ngx_http_persona_redis_conn_t *conn)
{
    ngx_queue_remove(&conn->queue);
    conn->node->nconns--;

    if (conn->flush.posted) {
        ngx_delete_posted_event(&conn->flush);
    }

    if (conn->connection) {
        ngx_close_connection(conn->connection);
        ngx_http_persona_metrics_redis_conns(-1);
    }

    persona_reply_stream_free(&conn->reader);

    if (conn->out) {
        ngx_free(conn->out);
    }

    ngx_free(conn);
}
