/*
 * Unit tests: Redis replies on a pipelined stream (src/persona_reply.c):
 * replies come out in order however the bytes are cut, the byte cap is
 * per reply, the element budget and the nesting cap start again with
 * each reply, and a stream that broke a limit stays broken.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "persona_reply.h"


/* a hash, a nil, an error, an integer, a bulk string, an empty array */
static const char  pipeline[] =
    "*4\r\n$7\r\nsegment\r\n$3\r\nvip\r\n$4\r\ntier\r\n$4\r\ngold\r\n"
    "$-1\r\n"
    "-WRONGTYPE Operation against a key holding the wrong kind\r\n"
    ":42\r\n"
    "$12\r\n{\"a\":\"b\r\nc\"}\r\n"
    "*0\r\n";

#define PIPELINE_REPLIES  6


static void
check_pipeline_reply(size_t i, redisReply *r)
{
    switch (i) {

    case 0:
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 4);
        assert_string_equal(r->element[1]->str, "vip");
        assert_string_equal(r->element[3]->str, "gold");
        break;

    case 1:
        assert_int_equal(r->type, REDIS_REPLY_NIL);
        break;

    case 2:
        assert_int_equal(r->type, REDIS_REPLY_ERROR);
        assert_memory_equal(r->str, "WRONGTYPE", 9);
        break;

    case 3:
        assert_int_equal(r->type, REDIS_REPLY_INTEGER);
        assert_int_equal(r->integer, 42);
        break;

    case 4:
        assert_int_equal(r->type, REDIS_REPLY_STRING);
        assert_int_equal(r->len, 12);
        assert_memory_equal(r->str, "{\"a\":\"b\r\nc\"}", 12);
        break;

    default:
        assert_int_equal(r->type, REDIS_REPLY_ARRAY);
        assert_int_equal(r->elements, 0);
    }
}


/* takes every complete reply; returns how many came */
static size_t
drain(persona_reply_stream_t *s, size_t got)
{
    redisReply       *r;
    persona_error_t   err;

    for ( ;; ) {
        r = NULL;

        switch (persona_reply_stream_next(s, &r, &err)) {

        case PERSONA_REPLY_READY:
            assert_true(got < PIPELINE_REPLIES);
            check_pipeline_reply(got, r);
            freeReplyObject(r);
            got++;
            break;

        case PERSONA_REPLY_AGAIN:
            return got;

        default:
            fail_msg("unexpected: %s", err.msg);
        }
    }
}


/* the stream cut in two at every position */
static void
test_split_anywhere(void **state)
{
    size_t                  len, cut, got;
    persona_reply_stream_t  s;

    (void) state;

    len = sizeof(pipeline) - 1;

    for (cut = 0; cut <= len; cut++) {
        assert_int_equal(persona_reply_stream_init(&s, 1024), PERSONA_OK);

        assert_int_equal(persona_reply_stream_feed(&s, pipeline, cut),
                         PERSONA_OK);
        got = drain(&s, 0);

        assert_int_equal(persona_reply_stream_feed(&s, pipeline + cut,
                                                   len - cut),
                         PERSONA_OK);
        got = drain(&s, got);

        assert_int_equal(got, PIPELINE_REPLIES);
        persona_reply_stream_free(&s);
    }
}


/* one byte at a time, and in pieces of 2 to 7 bytes */
static void
test_small_pieces(void **state)
{
    size_t                  len, off, n, piece, got;
    persona_reply_stream_t  s;

    (void) state;

    len = sizeof(pipeline) - 1;

    for (piece = 1; piece <= 7; piece++) {
        assert_int_equal(persona_reply_stream_init(&s, 1024), PERSONA_OK);
        got = 0;

        for (off = 0; off < len; off += n) {
            n = (len - off < piece) ? len - off : piece;
            assert_int_equal(persona_reply_stream_feed(&s, pipeline + off, n),
                             PERSONA_OK);
            got = drain(&s, got);
        }

        assert_int_equal(got, PIPELINE_REPLIES);
        persona_reply_stream_free(&s);
    }
}


/* a bulk string reply of exactly len bytes on the wire */
static char *
bulk_of(size_t len)
{
    char    *p;
    size_t   body, head = 0;
    char     h[32];

    for (body = len; body > 0; body--) {
        head = (size_t) snprintf(h, sizeof(h), "$%zu\r\n", body);
        if (head + body + 2 == len) {
            break;
        }
    }

    assert_true(body > 0);

    p = malloc(len + 1);
    assert_non_null(p);

    memcpy(p, h, head);
    memset(p + head, 'x', body);
    memcpy(p + head + body, "\r\n", 3);

    return p;
}


/* the cap is on each reply: two of max bytes pass, one of max + 1 not */
static void
test_byte_cap_per_reply(void **state)
{
    char                   *a, *b, *big;
    size_t                  off, piece;
    redisReply             *r;
    persona_error_t         err;
    persona_reply_stream_t  s;
    persona_reply_status_e  rc;

    (void) state;

    a = bulk_of(100);
    b = bulk_of(100);
    big = bulk_of(101);

    assert_int_equal(persona_reply_stream_init(&s, 100), PERSONA_OK);
    assert_int_equal(persona_reply_stream_feed(&s, a, 100), PERSONA_OK);
    assert_int_equal(persona_reply_stream_feed(&s, b, 100), PERSONA_OK);

    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_READY);
    freeReplyObject(r);
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_READY);
    freeReplyObject(r);
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_AGAIN);

    /* then one too large, whole */
    assert_int_equal(persona_reply_stream_feed(&s, big, 101), PERSONA_OK);
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_REFUSED);
    assert_string_equal(err.msg, "redis reply larger than 100 bytes");
    persona_reply_stream_free(&s);

    /* too large, in pieces: refused once over the cap, before the end */
    for (piece = 1; piece <= 16; piece++) {
        assert_int_equal(persona_reply_stream_init(&s, 100), PERSONA_OK);
        rc = PERSONA_REPLY_AGAIN;

        for (off = 0; off < 101 && rc == PERSONA_REPLY_AGAIN; off += piece) {
            assert_int_equal(persona_reply_stream_feed(&s, big + off,
                                 (101 - off < piece) ? 101 - off : piece),
                             PERSONA_OK);
            rc = persona_reply_stream_next(&s, &r, &err);
        }

        assert_int_equal(rc, PERSONA_REPLY_REFUSED);
        persona_reply_stream_free(&s);
    }

    free(a);
    free(b);
    free(big);
}


/* arrays announced beyond the budget, nesting beyond the cap; the budget
 * starts again with each reply */
static void
test_element_budget(void **state)
{
    char                   *two, *p;
    size_t                  i, n, len;
    redisReply             *r;
    persona_error_t         err;
    persona_reply_stream_t  s;

    (void) state;

    assert_int_equal(persona_reply_stream_init(&s, 1024 * 1024), PERSONA_OK);
    assert_int_equal(persona_reply_stream_feed(&s, "*1500000000\r\n", 13),
                     PERSONA_OK);
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_REFUSED);
    assert_string_equal(err.msg, "redis reply of more than 2112 elements "
                                 "(an array of 1500000000 after 0)");

    /* broken for good */
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_REFUSED);
    persona_reply_stream_free(&s);

    assert_int_equal(persona_reply_stream_init(&s, 1024 * 1024), PERSONA_OK);

    for (i = 0; i < 5; i++) {
        assert_int_equal(persona_reply_stream_feed(&s, "*1\r\n", 4),
                         PERSONA_OK);
    }

    assert_int_equal(persona_reply_stream_feed(&s, ":1\r\n", 4), PERSONA_OK);
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_REFUSED);
    assert_string_equal(err.msg, "redis reply nested deeper than 4 arrays");
    persona_reply_stream_free(&s);

    /* two replies of 2000 elements each, pipelined */
    n = 2000;
    two = malloc(2 * (8 + 4 * n));
    assert_non_null(two);
    p = two;

    for (i = 0; i < 2; i++) {
        p += sprintf(p, "*%zu\r\n", n);

        for (len = 0; len < n; len++) {
            memcpy(p, ":1\r\n", 4);
            p += 4;
        }
    }

    assert_int_equal(persona_reply_stream_init(&s, 1024 * 1024), PERSONA_OK);
    assert_int_equal(persona_reply_stream_feed(&s, two, (size_t) (p - two)),
                     PERSONA_OK);

    for (i = 0; i < 2; i++) {
        assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                         PERSONA_REPLY_READY);
        assert_int_equal(r->elements, n);
        freeReplyObject(r);
    }

    persona_reply_stream_free(&s);
    free(two);
}


static void
test_not_resp(void **state)
{
    redisReply             *r;
    persona_error_t         err;
    persona_reply_stream_t  s;

    (void) state;

    assert_int_equal(persona_reply_stream_init(&s, 1024), PERSONA_OK);
    assert_int_equal(persona_reply_stream_feed(&s, ":1\r\nHTTP/1.1 400\r\n",
                                               18),
                     PERSONA_OK);
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_READY);
    freeReplyObject(r);
    assert_int_equal(persona_reply_stream_next(&s, &r, &err),
                     PERSONA_REPLY_BAD);
    assert_true(strncmp(err.msg, "bad redis reply: Protocol error", 31) == 0);
    persona_reply_stream_free(&s);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_anywhere),
        cmocka_unit_test(test_small_pieces),
        cmocka_unit_test(test_byte_cap_per_reply),
        cmocka_unit_test(test_element_budget),
        cmocka_unit_test(test_not_resp),
    };

    return cmocka_run_group_tests_name("reply", tests, NULL, NULL);
}
