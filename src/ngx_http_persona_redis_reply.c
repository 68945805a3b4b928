/*
 * Reply reading with our limits (see ngx_http_persona_redis_reply.h).
 *
 * Replies follow each other on a pipelined connection: the byte cap is
 * per reply.  A reply's bytes are those fed since the previous reply
 * ended; hiredis's reader tells where that was (its unread bytes).
 */

#include "ngx_http_persona_redis_reply.h"


ngx_int_t
ngx_http_persona_redis_reader_init(ngx_http_persona_redis_reader_t *rd)
{
    rd->reader = persona_reader_create(&rd->fn);
    if (rd->reader == NULL) {
        return NGX_ERROR;
    }

    rd->fed = 0;
    rd->reply_start = 0;

    return NGX_OK;
}


void
ngx_http_persona_redis_reader_free(ngx_http_persona_redis_reader_t *rd)
{
    if (rd->reader) {
        redisReaderFree(rd->reader);
        rd->reader = NULL;
    }
}


ngx_int_t
ngx_http_persona_redis_reader_feed(ngx_http_persona_redis_reader_t *rd,
    u_char *buf, size_t n)
{
    if (redisReaderFeed(rd->reader, (const char *) buf, n) != REDIS_OK) {
        return NGX_ERROR;
    }

    rd->fed += n;

    return NGX_OK;
}


ngx_int_t
ngx_http_persona_redis_reader_next(ngx_http_persona_redis_reader_t *rd,
    redisReply **reply, u_char *reason, size_t len)
{
    void         *r;
    off_t         end;
    u_char       *p, *last;
    redisReader  *reader;

    reader = rd->reader;
    last = reason + len - 1;
    r = NULL;

    if (redisReaderGetReply(reader, &r) != REDIS_OK) {

        switch (rd->fn.refused) {

        case PERSONA_REPLY_TOO_MANY:
            p = ngx_slprintf(reason, last,
                             "redis reply of more than %d elements "
                             "(an array of %uz after %uz)",
                             PERSONA_REPLY_MAX_ELEMENTS, rd->fn.announced,
                             rd->fn.elements);
            *p = '\0';
            return NGX_DECLINED;

        case PERSONA_REPLY_TOO_DEEP:
            p = ngx_slprintf(reason, last,
                             "redis reply nested deeper than %d arrays",
                             PERSONA_REPLY_MAX_DEPTH);
            *p = '\0';
            return NGX_DECLINED;

        default:
            break;
        }

        p = ngx_slprintf(reason, last, "bad redis reply: %s",
                         reader->errstr);
        *p = '\0';
        return NGX_ERROR;
    }

    if (r == NULL) {
        /* what is buffered belongs to the reply under way */

        if (rd->fed - rd->reply_start > NGX_HTTP_PERSONA_REPLY_MAX) {
            goto too_large;
        }

        return NGX_AGAIN;
    }

    end = rd->fed - (off_t) (reader->len - reader->pos);

    if (end - rd->reply_start > NGX_HTTP_PERSONA_REPLY_MAX) {
        freeReplyObject(r);
        goto too_large;
    }

    rd->reply_start = end;
    *reply = r;

    return NGX_OK;

too_large:

    p = ngx_slprintf(reason, last, "redis reply larger than %uz bytes",
                     (size_t) NGX_HTTP_PERSONA_REPLY_MAX);
    *p = '\0';

    return NGX_DECLINED;
}
