/*
 * Reading Redis replies off a byte stream, with our limits: hiredis's
 * reader, an element budget and a nesting cap per reply (see
 * persona_reader_create()), and NGX_HTTP_PERSONA_REPLY_MAX bytes per
 * reply.  No I/O here: the connection feeds what it received.
 */

#ifndef NGX_HTTP_PERSONA_REDIS_REPLY_H
#define NGX_HTTP_PERSONA_REDIS_REPLY_H

#include "ngx_http_persona_module.h"


typedef struct {
    redisReader          *reader;
    persona_reader_fn_t   fn;
    off_t                 fed;          /* bytes fed, in all */
    off_t                 reply_start;  /* where the current reply began */
} ngx_http_persona_redis_reader_t;


ngx_int_t ngx_http_persona_redis_reader_init(
    ngx_http_persona_redis_reader_t *rd);
void ngx_http_persona_redis_reader_free(ngx_http_persona_redis_reader_t *rd);

/* NGX_ERROR: out of memory */
ngx_int_t ngx_http_persona_redis_reader_feed(
    ngx_http_persona_redis_reader_t *rd, u_char *buf, size_t n);

/*
 * The next complete reply.  NGX_OK: *reply set (free it with
 * freeReplyObject); NGX_AGAIN: more bytes needed; NGX_ERROR: not RESP;
 * NGX_DECLINED: a reply over our limits.  On NGX_ERROR and NGX_DECLINED
 * reason (len bytes) says why, and the stream cannot be read further.
 */
ngx_int_t ngx_http_persona_redis_reader_next(
    ngx_http_persona_redis_reader_t *rd, redisReply **reply, u_char *reason,
    size_t len);


#endif /* NGX_HTTP_PERSONA_REDIS_REPLY_H */
