/*
 * libFuzzer target: Redis replies on a pipelined stream
 * (src/persona_reply.c).  The first input byte picks the piece size (1 to
 * 64) and the byte cap per reply (256 bytes or 1 MiB); the rest is what
 * Redis sent.  It is read twice: fed whole, and fed in pieces, draining
 * the replies after each piece.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       fuzz/fuzz_reply.c src/persona_*.c \
 *       -ljansson -lpcre2-8 -lhiredis -lmaxminddb -o build/fuzz_reply
 *
 * Checked: no crash or leak; both readings give the same replies in the
 * same order (same types and strings) and both stop, or both wait for
 * more bytes; a reply never came from more than the cap's bytes.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_reply.h"
#include "fuzz_util.h"


#define FUZZ_REPLIES  64


typedef struct {
    int                      type[FUZZ_REPLIES];
    size_t                   len[FUZZ_REPLIES];
    uint64_t                 sum[FUZZ_REPLIES];
    size_t                   n;
    persona_reply_status_e   last;
} fuzz_run_t;


static uint64_t
fuzz_sum(const redisReply *r)
{
    size_t    i;
    uint64_t  h;

    h = (uint64_t) r->type * 1000003u + (uint64_t) r->integer;

    if (r->str) {
        for (i = 0; i < (size_t) r->len; i++) {
            h = h * 31 + (unsigned char) r->str[i];
        }
    }

    for (i = 0; i < r->elements; i++) {
        h = h * 131 + fuzz_sum(r->element[i]);
    }

    return h;
}


/* takes the complete replies; 1 when the stream stopped */
static int
fuzz_drain(persona_reply_stream_t *s, fuzz_run_t *run)
{
    redisReply       *r;
    persona_error_t   err;

    for ( ;; ) {
        r = NULL;
        run->last = persona_reply_stream_next(s, &r, &err);

        if (run->last == PERSONA_REPLY_AGAIN) {
            return 0;
        }

        if (run->last != PERSONA_REPLY_READY) {
            check(err.msg[0] != '\0');
            return 1;
        }

        check(r != NULL);

        if (run->n < FUZZ_REPLIES) {
            run->type[run->n] = r->type;
            run->len[run->n] = r->str ? (size_t) r->len : 0;
            run->sum[run->n] = fuzz_sum(r);
        }

        run->n++;
        freeReplyObject(r);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                  i, off, piece, max, n;
    fuzz_run_t              whole, pieces;
    persona_reply_stream_t  s;

    if (size < 1) {
        return 0;
    }

    piece = (data[0] & 0x3f) + 1;
    max = (data[0] & 0x40) ? 1024 * 1024 : 256;
    data++;
    size--;

    memset(&whole, 0, sizeof(fuzz_run_t));
    memset(&pieces, 0, sizeof(fuzz_run_t));
    whole.last = PERSONA_REPLY_AGAIN;
    pieces.last = PERSONA_REPLY_AGAIN;

    if (persona_reply_stream_init(&s, max) != PERSONA_OK) {
        return 0;
    }

    check(persona_reply_stream_feed(&s, (const char *) data, size)
          == PERSONA_OK);
    (void) fuzz_drain(&s, &whole);
    persona_reply_stream_free(&s);

    if (persona_reply_stream_init(&s, max) != PERSONA_OK) {
        return 0;
    }

    for (off = 0; off < size; off += n) {
        n = (size - off < piece) ? size - off : piece;

        check(persona_reply_stream_feed(&s, (const char *) data + off, n)
              == PERSONA_OK);

        if (fuzz_drain(&s, &pieces)) {
            break;
        }
    }

    persona_reply_stream_free(&s);

    check(whole.n == pieces.n);
    check((whole.last == PERSONA_REPLY_AGAIN)
          == (pieces.last == PERSONA_REPLY_AGAIN));

    for (i = 0; i < whole.n && i < FUZZ_REPLIES; i++) {
        check(whole.type[i] == pieces.type[i]);
        check(whole.len[i] == pieces.len[i]);
        check(whole.sum[i] == pieces.sum[i]);
        check(whole.len[i] <= max);
    }

    return 0;
}
