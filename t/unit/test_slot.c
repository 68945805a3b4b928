/*
 * Redis Cluster slots: CRC16 against the check value of CRC-16/XMODEM
 * (the Redis Cluster specification's own vector), hash tags, slots
 * checked against CLUSTER KEYSLOT of Redis 7.0, CLUSTER SLOTS decoding
 * and MOVED/ASK parsing.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "persona_slot.h"


typedef struct {
    const char  *key;
    unsigned     slot;
} slot_vector_t;


/* the right column is what CLUSTER KEYSLOT printed (redis-server 7.0) */
static const slot_vector_t  slot_vectors[] = {
    { "123456789", 12739 },
    { "foo", 12182 },
    { "somekey", 11058 },
    { "foo{hash_tag}", 2515 },
    { "{user1000}.following", 3443 },
    { "foo{}{bar}", 8363 },
    { "foo{{bar}}zap", 4015 },
    { "foo{bar}{zap}", 5061 },
    { "persona:{7f3a9c2e5b1d4e8f9a6b0c2d4e6f8a1b}:profile", 12358 },
    { "", 0 },
    { "{", 4092 },
    { "}{a}", 15495 },
    { "a{b", 13340 },
};


static void
test_crc16_check_value(void **state)
{
    (void) state;

    assert_int_equal(persona_crc16("123456789", 9), 0x31C3);
    assert_int_equal(persona_crc16("", 0), 0);
}


static void
test_slot_vectors(void **state)
{
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(slot_vectors) / sizeof(slot_vectors[0]); i++) {
        assert_int_equal(persona_slot(slot_vectors[i].key,
                                      strlen(slot_vectors[i].key)),
                         slot_vectors[i].slot);
    }
}


static void
test_hash_tags_share_a_slot(void **state)
{
    (void) state;

    assert_int_equal(persona_slot("{user1000}.following", 20),
                     persona_slot("{user1000}.followers", 20));
    assert_int_equal(persona_slot("persona:{abc}:profile", 21),
                     persona_slot("persona:{abc}:profile:cap:hero", 30));
    assert_int_equal(persona_slot("persona:{abc}:profile", 21),
                     persona_slot("abc", 3));
    /* "foo{{bar}}zap" hashes "{bar" */
    assert_int_equal(persona_slot("foo{{bar}}zap", 13),
                     persona_slot("{bar", 4));
    /* an empty tag hashes the whole key */
    assert_int_equal(persona_slot("foo{}{bar}", 10),
                     persona_crc16("foo{}{bar}", 10) & 16383);
}


/* a pool: everything is freed when the test ends */
static void   *allocated[256];
static size_t  nallocated;


static void *
test_alloc(void *data, size_t size)
{
    void  *p;

    (void) data;

    if (nallocated == sizeof(allocated) / sizeof(allocated[0])) {
        return NULL;
    }

    p = calloc(1, size);
    allocated[nallocated++] = p;

    return p;
}


static int
free_pool(void **state)
{
    (void) state;

    while (nallocated) {
        free(allocated[--nallocated]);
    }

    return 0;
}


static redisReply *
parse(const char *resp)
{
    void        *reply;
    redisReader *reader;

    reader = redisReaderCreate();
    assert_non_null(reader);
    assert_int_equal(redisReaderFeed(reader, resp, strlen(resp)), REDIS_OK);
    assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
    assert_non_null(reply);
    redisReaderFree(reader);

    return reply;
}


/* three masters, one replica each, listed out of order, Redis 7 style */
#define SLOTS_REPLY                                                         \
    "*3\r\n"                                                                \
    "*4\r\n:10923\r\n:16383\r\n"                                            \
        "*4\r\n$9\r\n127.0.0.1\r\n:7002\r\n$2\r\nid\r\n*0\r\n"              \
        "*3\r\n$9\r\n127.0.0.1\r\n:7005\r\n$2\r\nid\r\n"                    \
    "*4\r\n:0\r\n:5460\r\n"                                                 \
        "*3\r\n$0\r\n\r\n:7000\r\n$2\r\nid\r\n"                             \
        "*3\r\n$9\r\n127.0.0.1\r\n:7003\r\n$2\r\nid\r\n"                    \
    "*3\r\n:5461\r\n:10922\r\n"                                             \
        "*2\r\n$1\r\n?\r\n:7001\r\n"


static void
test_slot_map_decode(void **state)
{
    redisReply                  *r;
    persona_error_t              err;
    persona_alloc_t              a = { test_alloc, NULL };
    persona_slot_map_t           map;
    const persona_slot_range_t  *range;

    (void) state;

    r = parse(SLOTS_REPLY);

    assert_int_equal(persona_slot_map_decode(&map, r, "10.0.0.9", 8, &a,
                                             &err), PERSONA_OK);
    assert_int_equal(map.nranges, 3);
    assert_int_equal(map.covered, PERSONA_SLOTS);

    range = persona_slot_map_find(&map, 0);
    assert_non_null(range);
    assert_int_equal(range->master.port, 7000);
    /* an empty host is the address the reply came from */
    assert_int_equal(range->master.host.len, 8);
    assert_memory_equal(range->master.host.data, "10.0.0.9", 8);
    assert_int_equal(range->nreplicas, 1);
    assert_int_equal(range->replicas[0].port, 7003);

    range = persona_slot_map_find(&map, 5461);
    assert_non_null(range);
    assert_int_equal(range->master.port, 7001);
    assert_memory_equal(range->master.host.data, "10.0.0.9", 8);
    assert_int_equal(range->nreplicas, 0);

    range = persona_slot_map_find(&map, 16383);
    assert_non_null(range);
    assert_int_equal(range->master.port, 7002);
    assert_memory_equal(range->master.host.data, "127.0.0.1", 9);

    freeReplyObject(r);
}


static void
test_slot_map_gaps_and_errors(void **state)
{
    size_t                 i;
    redisReply            *r;
    persona_error_t        err;
    persona_alloc_t        a = { test_alloc, NULL };
    persona_slot_map_t     map;

    static const char  *bad[] = {
        "+OK\r\n",
        "*1\r\n:1\r\n",
        "*1\r\n*2\r\n:0\r\n:10\r\n",
        "*1\r\n*3\r\n:0\r\n:16384\r\n*2\r\n$1\r\na\r\n:1\r\n",
        "*1\r\n*3\r\n:9\r\n:8\r\n*2\r\n$1\r\na\r\n:1\r\n",
        "*1\r\n*3\r\n:0\r\n:8\r\n*2\r\n$1\r\na\r\n:0\r\n",
        "*1\r\n*3\r\n:0\r\n:8\r\n*2\r\n$1\r\na\r\n:65536\r\n",
        "*1\r\n*3\r\n:0\r\n:8\r\n*2\r\n:1\r\n:1\r\n",
        "*1\r\n*3\r\n:0\r\n:8\r\n*1\r\n$1\r\na\r\n",
        "*2\r\n*3\r\n:0\r\n:8\r\n*2\r\n$1\r\na\r\n:1\r\n"
            "*3\r\n:8\r\n:9\r\n*2\r\n$1\r\nb\r\n:1\r\n",
        "*1\r\n*3\r\n:0\r\n:8\r\n*2\r\n$3\r\na\0b\r\n:1\r\n",
    };

    (void) state;

    /* a slot nobody serves (resharding, a failed master) */
    r = parse("*1\r\n*3\r\n:100\r\n:200\r\n*2\r\n$1\r\na\r\n:1\r\n");
    assert_int_equal(persona_slot_map_decode(&map, r, "h", 1, &a, &err),
                     PERSONA_OK);
    assert_int_equal(map.covered, 101);
    assert_null(persona_slot_map_find(&map, 99));
    assert_non_null(persona_slot_map_find(&map, 100));
    assert_non_null(persona_slot_map_find(&map, 200));
    assert_null(persona_slot_map_find(&map, 201));
    freeReplyObject(r);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        void         *reply;
        redisReader  *reader;
        size_t        len;

        /* the NUL-holding case has an explicit length */
        len = (i == 10) ? 33 : strlen(bad[i]);

        reader = redisReaderCreate();
        assert_int_equal(redisReaderFeed(reader, bad[i], len), REDIS_OK);
        assert_int_equal(redisReaderGetReply(reader, &reply), REDIS_OK);
        assert_non_null(reply);
        redisReaderFree(reader);

        err.msg[0] = '\0';
        assert_int_equal(persona_slot_map_decode(&map, reply, "h", 1, &a,
                                                 &err), PERSONA_ERROR);
        assert_true(err.msg[0] != '\0');
        freeReplyObject(reply);
    }
}


static void
test_redirects(void **state)
{
    unsigned             slot;
    persona_slot_node_t  node;

    (void) state;

    assert_int_equal(persona_slot_redirect("MOVED 3999 127.0.0.1:6381", 25,
                                           &slot, &node),
                     PERSONA_REDIRECT_MOVED);
    assert_int_equal(slot, 3999);
    assert_int_equal(node.port, 6381);
    assert_int_equal(node.host.len, 9);
    assert_memory_equal(node.host.data, "127.0.0.1", 9);

    assert_int_equal(persona_slot_redirect("ASK 0 ::1:7000", 14, &slot,
                                           &node), PERSONA_REDIRECT_ASK);
    assert_int_equal(slot, 0);
    assert_int_equal(node.port, 7000);
    assert_int_equal(node.host.len, 3);

    assert_int_equal(persona_slot_redirect("ERR wrong", 9, &slot, &node), 0);
    assert_int_equal(persona_slot_redirect("MOVED 16384 a:1", 15, &slot,
                                           &node), 0);
    assert_int_equal(persona_slot_redirect("MOVED 1 a:", 10, &slot, &node),
                     0);
    assert_int_equal(persona_slot_redirect("MOVED 1 :1", 10, &slot, &node),
                     0);
    assert_int_equal(persona_slot_redirect("MOVED 1 a:70000", 15, &slot,
                                           &node), 0);
    assert_int_equal(persona_slot_redirect("MOVED 1 a:0", 11, &slot, &node),
                     0);
    assert_int_equal(persona_slot_redirect("MOVED x a:1", 11, &slot, &node),
                     0);
    assert_int_equal(persona_slot_redirect("MOVED 1", 7, &slot, &node), 0);
    assert_int_equal(persona_slot_redirect("ASK 1 a:1x", 10, &slot, &node),
                     0);
}


/*
 * With PERSONA_TEST_REDIS_SOCKET naming the unix socket of a
 * cluster-enabled redis-server (scripts/run-unit.sh starts one), slots of
 * pseudo-random keys, hash tags included, are compared with its
 * CLUSTER KEYSLOT.
 */
static void
test_slot_against_redis(void **state)
{
    int            i, j, len;
    char           key[64];
    const char    *path;
    unsigned       seed;
    redisReply    *reply;
    redisContext  *c;

    static const char  alphabet[] = "ab{}:xyz019_-{}";

    (void) state;

    path = getenv("PERSONA_TEST_REDIS_SOCKET");
    if (path == NULL || *path == '\0') {
        skip();
    }

    c = redisConnectUnix(path);
    assert_non_null(c);
    assert_int_equal(c->err, 0);

    seed = 12345;

    for (i = 0; i < 2000; i++) {
        seed = seed * 1103515245 + 12345;
        len = (int) ((seed >> 16) % sizeof(key));

        for (j = 0; j < len; j++) {
            seed = seed * 1103515245 + 12345;
            key[j] = alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }

        reply = redisCommand(c, "CLUSTER KEYSLOT %b", key, (size_t) len);
        assert_non_null(reply);
        assert_int_equal(reply->type, REDIS_REPLY_INTEGER);
        assert_int_equal(persona_slot(key, (size_t) len),
                         (unsigned) reply->integer);
        freeReplyObject(reply);
    }

    redisFree(c);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_crc16_check_value),
        cmocka_unit_test(test_slot_vectors),
        cmocka_unit_test(test_hash_tags_share_a_slot),
        cmocka_unit_test_teardown(test_slot_map_decode, free_pool),
        cmocka_unit_test_teardown(test_slot_map_gaps_and_errors, free_pool),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_slot_against_redis),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
