/*
 * Redis replies on a pipelined stream (see persona_reply.h).
 *
 * The byte cap is per reply: a reply's bytes are those fed since the
 * previous reply ended, and hiredis's reader tells where that was (the
 * bytes it holds unread once it returns a reply).  A reply still under
 * way holds everything fed since, so it is refused as soon as that is
 * over the cap, before the rest arrives.
 */

#include "persona_reply.h"


int
persona_reply_stream_init(persona_reply_stream_t *s, size_t max)
{
    s->reader = persona_reader_create(&s->fn);
    if (s->reader == NULL) {
        return PERSONA_NOMEM;
    }

    s->max = max;
    s->fed = 0;
    s->reply_start = 0;

    return PERSONA_OK;
}


void
persona_reply_stream_free(persona_reply_stream_t *s)
{
    if (s->reader) {
        redisReaderFree(s->reader);
        s->reader = NULL;
    }
}


int
persona_reply_stream_feed(persona_reply_stream_t *s, const char *buf,
    size_t len)
{
    if (redisReaderFeed(s->reader, buf, len) != REDIS_OK) {
        return PERSONA_NOMEM;
    }

    s->fed += len;

    return PERSONA_OK;
}


persona_reply_status_e
persona_reply_stream_next(persona_reply_stream_t *s, redisReply **reply,
    persona_error_t *err)
{
    void         *r;
    uint64_t      end;
    redisReader  *reader;

    reader = s->reader;
    r = NULL;

    if (redisReaderGetReply(reader, &r) != REDIS_OK) {

        switch (s->fn.refused) {

        case PERSONA_REPLY_TOO_MANY:
            persona_error_set(err, "redis reply of more than %d elements "
                              "(an array of %zu after %zu)",
                              PERSONA_REPLY_MAX_ELEMENTS, s->fn.announced,
                              s->fn.elements);
            return PERSONA_REPLY_REFUSED;

        case PERSONA_REPLY_TOO_DEEP:
            persona_error_set(err, "redis reply nested deeper than %d "
                              "arrays", PERSONA_REPLY_MAX_DEPTH);
            return PERSONA_REPLY_REFUSED;

        default:
            break;
        }

        persona_error_set(err, "bad redis reply: %s", reader->errstr);
        return PERSONA_REPLY_BAD;
    }

    if (r == NULL) {
        if (s->fed - s->reply_start > s->max) {
            goto too_large;
        }

        return PERSONA_REPLY_AGAIN;
    }

    end = s->fed - (uint64_t) (reader->len - reader->pos);

    if (end - s->reply_start > s->max) {
        freeReplyObject(r);
        goto too_large;
    }

    s->reply_start = end;
    *reply = r;

    return PERSONA_REPLY_READY;

too_large:

    persona_error_set(err, "redis reply larger than %zu bytes", s->max);

    return PERSONA_REPLY_REFUSED;
}
