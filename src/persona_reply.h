/*
 * Redis replies on a pipelined stream: hiredis's reader with our limits
 * on each reply (the element budget and nesting cap of
 * persona_reader_create()) and a byte cap per reply.  Bytes are fed as
 * they arrive, cut anywhere; replies come out in order.  After BAD or
 * REFUSED the stream cannot be read further (the connection is closed).
 */

#ifndef PERSONA_REPLY_H
#define PERSONA_REPLY_H

#include "persona_profile.h"


typedef enum {
    PERSONA_REPLY_READY = 0,      /* *reply set: free it with
                                     freeReplyObject() */
    PERSONA_REPLY_AGAIN,          /* more bytes needed */
    PERSONA_REPLY_BAD,            /* not RESP */
    PERSONA_REPLY_REFUSED         /* a reply over our limits */
} persona_reply_status_e;


typedef struct {
    redisReader          *reader;
    persona_reader_fn_t   fn;
    size_t                max;          /* bytes per reply */
    uint64_t              fed;          /* bytes fed, in all */
    uint64_t              reply_start;  /* where the current reply began */
} persona_reply_stream_t;


/* PERSONA_OK, or PERSONA_NOMEM */
int persona_reply_stream_init(persona_reply_stream_t *s, size_t max);
void persona_reply_stream_free(persona_reply_stream_t *s);

/* PERSONA_OK, or PERSONA_NOMEM */
int persona_reply_stream_feed(persona_reply_stream_t *s, const char *buf,
    size_t len);

/* the next complete reply; on BAD and REFUSED err says why */
persona_reply_status_e persona_reply_stream_next(persona_reply_stream_t *s,
    redisReply **reply, persona_error_t *err);


#endif /* PERSONA_REPLY_H */
