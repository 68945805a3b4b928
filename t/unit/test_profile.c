/*
 * Unit tests: visitor ids and profile decoding (src/persona_profile.c).
 * Replies are built by hiredis's own reader from RESP text, as in nginx.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "persona_profile.h"


/* a bump allocator over malloc'd chunks, freed after each test */

#define ARENA_MAX  4096

typedef struct {
    void    *chunks[ARENA_MAX];
    size_t   n;
    size_t   fail_after;     /* 0: never fail */
} arena_t;


static void *
arena_alloc(void *data, size_t size)
{
    arena_t  *a = data;

    if (a->fail_after && a->n + 1 >= a->fail_after) {
        return NULL;
    }

    assert_true(a->n < ARENA_MAX);
    a->chunks[a->n] = malloc(size);

    return a->chunks[a->n++];
}


static void
arena_free(arena_t *a)
{
    while (a->n) {
        free(a->chunks[--a->n]);
    }
}


static redisReply *
reply_from(const char *resp)
{
    void         *reply = NULL;
    redisReader  *r;

    r = redisReaderCreate();
    assert_non_null(r);
    assert_int_equal(redisReaderFeed(r, resp, strlen(resp)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(r, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(r);

    return reply;
}


static int
decode(const char *resp, persona_profile_format_e format, persona_profile_t *p,
    arena_t *a, persona_error_t *err)
{
    int               rc;
    redisReply       *reply;
    persona_alloc_t   alloc = { arena_alloc, a };

    reply = reply_from(resp);
    memset(err, 0, sizeof(*err));
    rc = persona_profile_decode(p, reply, format, &alloc, err);
    freeReplyObject(reply);

    return rc;
}


static void
assert_field(persona_profile_t *p, const char *name, const char *value)
{
    const persona_str_t  *v;

    v = persona_profile_get(p, name, strlen(name));

    if (value == NULL) {
        assert_null(v);
        return;
    }

    assert_non_null(v);
    assert_int_equal(v->len, strlen(value));
    assert_memory_equal(v->data, value, v->len);
}


static void
test_id_valid(void **state)
{
    char  big[PERSONA_ID_MAX_LEN + 2];

    assert_true(persona_id_valid("abc", 3));
    assert_true(persona_id_valid("A-z_0.9:x@y", 11));
    assert_false(persona_id_valid("", 0));
    assert_false(persona_id_valid("a b", 3));
    assert_false(persona_id_valid("a\r\nb", 4));
    assert_false(persona_id_valid("a\0b", 3));
    assert_false(persona_id_valid("caf\xc3\xa9", 5));
    assert_false(persona_id_valid("a{b}", 4));
    assert_false(persona_id_valid("a*", 2));

    memset(big, 'a', sizeof(big));
    assert_true(persona_id_valid(big, PERSONA_ID_MAX_LEN));
    assert_false(persona_id_valid(big, PERSONA_ID_MAX_LEN + 1));
}


static void
test_hash(void **state)
{
    arena_t            a = { .n = 0 };
    persona_error_t    err;
    persona_profile_t  p;

    assert_int_equal(decode("*6\r\n$7\r\nsegment\r\n$3\r\nvip\r\n"
                            "$4\r\ntier\r\n$4\r\ngold\r\n"
                            "$10\r\nfirst-name\r\n$6\r\nA\r\nlic\r\n",
                            PERSONA_FORMAT_HASH, &p, &a, &err),
                     PERSONA_PROFILE_FOUND);

    assert_int_equal(p.nfields, 3);
    assert_field(&p, "segment", "vip");
    assert_field(&p, "tier", "gold");
    assert_field(&p, "first-name", "A\r\nlic");
    assert_field(&p, "missing", NULL);

    arena_free(&a);
}


static void
test_hash_missing_and_bad(void **state)
{
    arena_t            a = { .n = 0 };
    persona_error_t    err;
    persona_profile_t  p;

    assert_int_equal(decode("*0\r\n", PERSONA_FORMAT_HASH, &p, &a, &err),
                     PERSONA_PROFILE_MISSING);
    assert_int_equal(decode("$-1\r\n", PERSONA_FORMAT_HASH, &p, &a, &err),
                     PERSONA_PROFILE_MISSING);

    assert_int_equal(decode("-WRONGTYPE Operation against a key\r\n",
                            PERSONA_FORMAT_HASH, &p, &a, &err),
                     PERSONA_PROFILE_BAD);
    assert_non_null(strstr(err.msg, "WRONGTYPE"));

    /* other error replies are Redis's trouble, not the profile's */
    assert_int_equal(decode("-NOAUTH Authentication required.\r\n",
                            PERSONA_FORMAT_HASH, &p, &a, &err),
                     PERSONA_PROFILE_REDIS_ERROR);
    assert_int_equal(decode("-WRONG\r\n", PERSONA_FORMAT_JSON, &p, &a,
                            &err),
                     PERSONA_PROFILE_REDIS_ERROR);

    assert_int_equal(decode("*1\r\n$1\r\na\r\n", PERSONA_FORMAT_HASH,
                            &p, &a, &err),
                     PERSONA_PROFILE_BAD);
    assert_non_null(strstr(err.msg, "odd number"));

    assert_int_equal(decode("*2\r\n$1\r\na\r\n*0\r\n", PERSONA_FORMAT_HASH,
                            &p, &a, &err),
                     PERSONA_PROFILE_BAD);

    assert_int_equal(decode("*2\r\n$1\r\na\r\n:1\r\n", PERSONA_FORMAT_HASH,
                            &p, &a, &err),
                     PERSONA_PROFILE_BAD);

    /* a JSON string where a hash is configured */
    assert_int_equal(decode("$2\r\n{}\r\n", PERSONA_FORMAT_HASH,
                            &p, &a, &err),
                     PERSONA_PROFILE_BAD);
    assert_non_null(strstr(err.msg, "unexpected"));

    assert_int_equal(decode("+OK\r\n", PERSONA_FORMAT_HASH, &p, &a, &err),
                     PERSONA_PROFILE_BAD);

    arena_free(&a);
}


static void
test_json(void **state)
{
    arena_t            a = { .n = 0 };
    persona_error_t    err;
    persona_profile_t  p;
    const char        *doc;
    char               resp[512];

    doc = "{\"segment\":\"spender\",\"ltv\":1200,\"score\":0.25,"
          "\"known\":true,\"gone\":null,\"tags\":[\"a\",1,false,null,[2]],"
          "\"address\":{\"city\":\"Paris\",\"geo\":{\"zip\":\"75001\"}},"
          "\"\":\"ignored\"}";

    snprintf(resp, sizeof(resp), "$%zu\r\n%s\r\n", strlen(doc), doc);

    assert_int_equal(decode(resp, PERSONA_FORMAT_JSON, &p, &a, &err),
                     PERSONA_PROFILE_FOUND);

    assert_field(&p, "segment", "spender");
    assert_field(&p, "ltv", "1200");
    assert_field(&p, "score", "0.25");
    assert_field(&p, "known", "true");
    assert_field(&p, "gone", NULL);
    assert_field(&p, "tags", "a,1,false");
    assert_field(&p, "address", NULL);
    assert_field(&p, "address.city", "Paris");
    assert_field(&p, "address.geo.zip", "75001");
    assert_field(&p, "", NULL);

    arena_free(&a);
}


static void
test_json_bad(void **state)
{
    size_t             i;
    arena_t            a = { .n = 0 };
    persona_error_t    err;
    persona_profile_t  p;
    persona_alloc_t    alloc = { arena_alloc, &a };
    char               deep[256];

    static const char  *bad[] = {
        "", "{", "[]", "\"str\"", "12", "{\"a\":1,}", "{\"a\":1,\"a\":2}",
        "{\"a\":\"\\u0000\"}", "nul\0l"
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(persona_profile_from_json(&p, bad[i], strlen(bad[i]),
                                                   &alloc, &err),
                         PERSONA_PROFILE_BAD);
        assert_true(strlen(err.msg) > 0);
        assert_int_equal(p.nfields, 0);
    }

    /* nesting deeper than allowed */
    deep[0] = '\0';

    for (i = 0; i < PERSONA_PROFILE_MAX_DEPTH + 1; i++) {
        strcat(deep, "{\"a\":");
    }

    strcat(deep, "1");

    for (i = 0; i < PERSONA_PROFILE_MAX_DEPTH + 1; i++) {
        strcat(deep, "}");
    }

    assert_int_equal(persona_profile_from_json(&p, deep, strlen(deep),
                                               &alloc, &err),
                     PERSONA_PROFILE_BAD);

    assert_int_equal(persona_profile_from_json(&p, "{}", 2, &alloc, &err),
                     PERSONA_PROFILE_FOUND);
    assert_int_equal(p.nfields, 0);

    arena_free(&a);
}


static void
test_too_many_fields(void **state)
{
    size_t             i, n;
    char              *doc, *d;
    arena_t            a = { .n = 0 };
    persona_error_t    err;
    persona_profile_t  p;
    persona_alloc_t    alloc = { arena_alloc, &a };

    n = PERSONA_PROFILE_MAX_FIELDS + 1;
    doc = malloc(n * 16 + 2);
    assert_non_null(doc);

    d = doc;
    *d++ = '{';

    for (i = 0; i < n; i++) {
        d += sprintf(d, "%s\"f%zu\":1", i ? "," : "", i);
    }

    *d++ = '}';
    *d = '\0';

    assert_int_equal(persona_profile_from_json(&p, doc, strlen(doc), &alloc,
                                               &err),
                     PERSONA_PROFILE_BAD);
    assert_non_null(strstr(err.msg, "fields"));

    free(doc);
    arena_free(&a);
}


static void
test_out_of_memory(void **state)
{
    size_t             k;
    arena_t            a;
    persona_error_t    err;
    persona_profile_t  p;
    persona_alloc_t    alloc = { arena_alloc, &a };
    const char        *doc = "{\"a\":\"x\",\"b\":{\"c\":[1,2]},\"d\":2}";
    int                rc;

    /* every allocation failing in turn: NOMEM, never a crash */
    for (k = 1; k < 12; k++) {
        memset(&a, 0, sizeof(a));
        a.fail_after = k;

        rc = persona_profile_from_json(&p, doc, strlen(doc), &alloc, &err);
        assert_true(rc == PERSONA_NOMEM || rc == PERSONA_PROFILE_FOUND);

        arena_free(&a);
    }
}


static void
test_var_lookup(void **state)
{
    arena_t            a = { .n = 0 };
    persona_error_t    err;
    persona_profile_t  p;
    persona_alloc_t    alloc = { arena_alloc, &a };
    const char        *doc = "{\"First-Name\":\"Ann\",\"address\":"
                             "{\"city\":\"Oslo\"},\"ltv\":5}";

    assert_int_equal(persona_profile_from_json(&p, doc, strlen(doc), &alloc,
                                               &err),
                     PERSONA_PROFILE_FOUND);

    assert_non_null(persona_profile_get_var(&p, "first_name", 10));
    assert_non_null(persona_profile_get_var(&p, "FIRST_NAME", 10));
    assert_non_null(persona_profile_get_var(&p, "address_city", 12));
    assert_null(persona_profile_get_var(&p, "first_nam", 9));
    assert_null(persona_profile_get_var(&p, "firstname", 9));
    assert_null(persona_profile_get(&p, "first_name", 10));

    assert_true(persona_var_name_equal("a-b.c", 5, "A_B_C", 5));
    assert_false(persona_var_name_equal("a-b", 3, "a-bc", 4));

    arena_free(&a);
}


/* arrays announcing more elements than a profile can have are refused
 * before hiredis allocates them */
static void
test_reader_bound(void **state)
{
    char                 buf[64];
    void                *r;
    redisReader         *reader;
    redisReply          *reply;
    persona_reader_fn_t  fns;

    reader = persona_reader_create(&fns);
    assert_non_null(reader);

    /* a hash profile of two fields, nested in an array: fine */
    snprintf(buf, sizeof(buf), "*1\r\n*4\r\n$1\r\na\r\n$1\r\nb\r\n"
                               "$1\r\nc\r\n$1\r\nd\r\n");
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);
    r = NULL;
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_OK);
    assert_non_null(r);
    reply = r;
    assert_int_equal(reply->element[0]->elements, 4);
    freeReplyObject(r);

    /* the largest allowed announcement */
    snprintf(buf, sizeof(buf), "*%d\r\n", PERSONA_REPLY_MAX_ELEMENTS);
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);
    r = NULL;
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_OK);
    assert_null(r);        /* waits for the elements */
    redisReaderFree(reader);

    /* one more, or a huge one, is an error */
    reader = persona_reader_create(&fns);
    snprintf(buf, sizeof(buf), "*%d\r\n", PERSONA_REPLY_MAX_ELEMENTS + 1);
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_ERR);
    redisReaderFree(reader);

    reader = persona_reader_create(&fns);
    snprintf(buf, sizeof(buf), "*2\r\n*1500000000\r\n");
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_ERR);
    assert_int_equal(fns.refused, PERSONA_REPLY_TOO_MANY);
    assert_int_equal(fns.announced, 1500000000);
    redisReaderFree(reader);
}


static size_t
feed_nested(redisReader *reader, int outer, int inner)
{
    int     i, j;
    size_t  n;
    char    buf[64];

    n = 0;
    snprintf(buf, sizeof(buf), "*%d\r\n", outer);
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);

    for (i = 0; i < outer; i++) {
        snprintf(buf, sizeof(buf), "*%d\r\n", inner);
        assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)),
                         REDIS_OK);
        n += strlen(buf);

        for (j = 0; j < inner; j++) {
            assert_int_equal(redisReaderFeed(reader, ":1\r\n", 4),
                             REDIS_OK);
            n += 4;
        }
    }

    return n;
}


/* the budget counts elements of the whole reply, not of one array:
 * arrays of 2112 arrays of 2112 small integers are refused */
static void
test_reader_budget(void **state)
{
    int                  i;
    char                 buf[256];
    void                *r;
    redisReader         *reader;
    redisReply          *reply;
    persona_reader_fn_t  fns;

    reader = persona_reader_create(&fns);
    assert_non_null(reader);

    /* 2 + 2 * 1000 elements: fits; again in the next reply (a budget
     * per reply, not per reader) */
    for (i = 0; i < 3; i++) {
        feed_nested(reader, 2, 1000);
        r = NULL;
        assert_int_equal(redisReaderGetReply(reader, &r), REDIS_OK);
        assert_non_null(r);
        reply = r;
        assert_int_equal(reply->elements, 2);
        assert_int_equal(reply->element[1]->elements, 1000);
        freeReplyObject(r);
        assert_int_equal(fns.refused, PERSONA_REPLY_FITS);
    }

    redisReaderFree(reader);

    /* 2 + 2 * 1100: over */
    reader = persona_reader_create(&fns);
    feed_nested(reader, 2, 1100);
    r = NULL;
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_ERR);
    assert_null(r);
    assert_int_equal(fns.refused, PERSONA_REPLY_TOO_MANY);
    redisReaderFree(reader);

    /* *2112 of *2112 of :1, the reply that grew a worker by 16 MB: the
     * second inner array is refused before its elements are allocated */
    reader = persona_reader_create(&fns);
    snprintf(buf, sizeof(buf), "*%d\r\n*%d\r\n",
             PERSONA_REPLY_MAX_ELEMENTS, PERSONA_REPLY_MAX_ELEMENTS);
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);
    r = NULL;
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_ERR);
    assert_int_equal(fns.refused, PERSONA_REPLY_TOO_MANY);
    assert_int_equal(fns.announced, PERSONA_REPLY_MAX_ELEMENTS);
    redisReaderFree(reader);

    /* nesting: PERSONA_REPLY_MAX_DEPTH levels fit, one more does not */
    reader = persona_reader_create(&fns);
    buf[0] = '\0';
    for (i = 0; i < PERSONA_REPLY_MAX_DEPTH; i++) {
        strcat(buf, "*1\r\n");
    }
    strcat(buf, ":1\r\n");
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);
    r = NULL;
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_OK);
    assert_non_null(r);
    freeReplyObject(r);

    buf[0] = '\0';
    for (i = 0; i <= PERSONA_REPLY_MAX_DEPTH; i++) {
        strcat(buf, "*1\r\n");
    }
    strcat(buf, ":1\r\n");
    assert_int_equal(redisReaderFeed(reader, buf, strlen(buf)), REDIS_OK);
    r = NULL;
    assert_int_equal(redisReaderGetReply(reader, &r), REDIS_ERR);
    assert_int_equal(fns.refused, PERSONA_REPLY_TOO_DEEP);
    redisReaderFree(reader);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_valid),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_hash_missing_and_bad),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_bad),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_var_lookup),
        cmocka_unit_test(test_reader_bound),
        cmocka_unit_test(test_reader_budget),
    };

    return cmocka_run_group_tests_name("profile", tests, NULL, NULL);
}
