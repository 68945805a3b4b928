/*
 * Per-node Redis connections and their command queues (pipelining).
 * Used by ngx_http_persona_redis.c only.
 */

#ifndef NGX_HTTP_PERSONA_REDIS_CONN_H
#define NGX_HTTP_PERSONA_REDIS_CONN_H

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"


#define NGX_HTTP_PERSONA_REASON_LEN    160

/* no error to count (ngx_http_persona_redis_err_e otherwise) */
#define NGX_HTTP_PERSONA_REDIS_ERR_NONE  -1


/* called once with the op's outcome (op->status, op->replies, ...),
 * unless the op was dropped; the op is freed after it returns */
typedef void (*ngx_http_persona_redis_finish_pt)(
    ngx_http_persona_redis_op_t *op);


/* a lookup or a write batch: n commands whose n replies go together */
struct ngx_http_persona_redis_op_s {
    ngx_queue_t                         queue;     /* in conn->ops */
    ngx_http_persona_redis_conf_t      *conf;
    ngx_http_persona_redis_conn_t      *conn;      /* NULL: not queued */
    ngx_http_persona_redis_finish_pt    finish;    /* NULL: dropped, its
                                                      replies are read and
                                                      thrown away */
    ngx_http_persona_redis_handler_pt   handler;
    void                               *data;

    u_char                             *cmd;       /* all n, formatted */
    size_t                              cmd_len;
    ngx_uint_t                          n;
    ngx_uint_t                          nreplies;
    redisReply                        **replies;   /* n slots */

    ngx_msec_t                          deadline;
    uint64_t                            start;     /* usec, monotonic */
    ngx_event_t                         timer;     /* the lookup's */

    /* the outcome, for finish() */
    ngx_http_persona_status_e           status;
    ngx_int_t                           err;       /* metrics kind */
    unsigned                            write:1;   /* fire-and-forget */
    unsigned                            local:1;   /* failed here, not
                                                      in Redis */
    unsigned                            retried:1;
    unsigned                            refused:1; /* its reply was over
                                                      our limits */
    u_char                              reason[NGX_HTTP_PERSONA_REASON_LEN];
};


/*
 * Queues the op on a connection to the node (a pooled one, or a new one
 * when all are busy and the pool has room), to leave with the other
 * commands queued during this pass of the event loop.  NGX_OK: the
 * connection owns the op now (it calls finish(), then frees it).
 * NGX_ERROR: failed at once, op->status and op->reason say why, the
 * caller still owns the op.
 */
ngx_int_t ngx_http_persona_redis_queue(ngx_http_persona_redis_op_t *op);

/* no one waits for the op any more: its replies are dropped when they
 * come (the op stays in its connection's queue, a tombstone) */
void ngx_http_persona_redis_drop(ngx_http_persona_redis_op_t *op);

void ngx_http_persona_redis_op_free(ngx_http_persona_redis_op_t *op);

/* formats the op's reason */
void ngx_http_persona_redis_reason(ngx_http_persona_redis_op_t *op,
    ngx_err_t err, const char *fmt, ...);


#endif /* NGX_HTTP_PERSONA_REDIS_CONN_H */
