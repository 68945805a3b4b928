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
    ngx_http_persona_redis_node_t      *node;      /* where it goes */
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
    unsigned                            redirected:1; /* MOVED/ASK once */
    unsigned                            asking:1;  /* ASKING goes first */
    unsigned                            skip:1;    /* ASKING's reply due */
    unsigned                            internal:1; /* CLUSTER SLOTS */
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

/* cluster mode (ngx_http_persona_redis_cluster.c) */

/* the node for a command whose key is key (a seed until a map exists) */
ngx_http_persona_redis_node_t *ngx_http_persona_cluster_route(
    ngx_http_persona_redis_conf_t *rcf, const char *key, size_t len);

/* an op's replies came: NGX_OK it was redirected (MOVED/ASK) and queued
 * again, the caller must forget it; NGX_DECLINED finish it as it is
 * (op->status may have become an error: TRYAGAIN, CLUSTERDOWN) */
ngx_int_t ngx_http_persona_cluster_reply(ngx_http_persona_redis_op_t *op);

/* a node failed: refresh the slot map soon */
void ngx_http_persona_cluster_node_failed(
    ngx_http_persona_redis_conf_t *rcf);

ngx_int_t ngx_http_persona_cluster_init_process(ngx_cycle_t *cycle,
    ngx_http_persona_redis_conf_t *rcf);

/* formats the op's reason */
void ngx_http_persona_redis_reason(ngx_http_persona_redis_op_t *op,
    ngx_err_t err, const char *fmt, ...);


#endif /* NGX_HTTP_PERSONA_REDIS_CONN_H */
