/*
 * Unit tests: packing profiles for the shared cache (src/persona_pack.c).
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "persona_pack.h"


/* a bump allocator over malloc'd chunks, freed after each test */

#define ARENA_MAX  64

typedef struct {
    void    *chunks[ARENA_MAX];
    size_t   n;
    int      fail;
} arena_t;


static void *
arena_alloc(void *data, size_t size)
{
    arena_t  *a = data;

    if (a->fail) {
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


#define S(s)  { s, sizeof(s) - 1 }


static void
assert_same(const persona_profile_t *a, const persona_profile_t *b)
{
    size_t  i;

    assert_int_equal(a->nfields, b->nfields);

    for (i = 0; i < a->nfields; i++) {
        assert_int_equal(a->fields[i].name.len, b->fields[i].name.len);
        assert_memory_equal(a->fields[i].name.data, b->fields[i].name.data,
                            a->fields[i].name.len);
        assert_int_equal(a->fields[i].value.len, b->fields[i].value.len);
        assert_memory_equal(a->fields[i].value.data,
                            b->fields[i].value.data, a->fields[i].value.len);

        /* NUL-terminated, as persona_profile_decode() leaves them */
        assert_int_equal(b->fields[i].name.data[b->fields[i].name.len], 0);
        assert_int_equal(b->fields[i].value.data[b->fields[i].value.len], 0);
    }
}


static unsigned char *
pack(const persona_profile_t *p, size_t *len)
{
    size_t          size;
    unsigned char  *buf;

    size = persona_profile_pack_size(p);
    buf = malloc(size);
    assert_non_null(buf);

    /* one byte short: refused */
    assert_int_equal(persona_profile_pack(p, buf, size - 1), 0);

    *len = persona_profile_pack(p, buf, size);
    assert_int_equal(*len, size);

    return buf;
}


static void
test_round_trip(void **state)
{
    size_t             len;
    arena_t            a = { .n = 0 };
    unsigned char     *buf;
    persona_alloc_t    alloc = { arena_alloc, &a };
    persona_error_t    err;
    persona_profile_t  q;

    persona_field_t    fields[] = {
        { S("segment"), S("vip") },
        { S("tier"), S("gold") },
        { S("empty"), S("") },
        { S(""), S("nameless") },
        { S("bin"), S("a\0b\r\n\x01") },
        { S("address.city"), S("K\xc3\xb6ln") },
    };
    persona_profile_t  p = { fields, sizeof(fields) / sizeof(fields[0]) };

    (void) state;

    buf = pack(&p, &len);

    /* version, count, then 4 bytes of framing a field */
    assert_int_equal(buf[0], PERSONA_PACK_VERSION);
    assert_int_equal(buf[1], 6);
    assert_memory_equal(buf + 2, "\x07segment\0\x03vip\0", 14);

    memset(&err, 0, sizeof(err));
    assert_int_equal(persona_profile_unpack(&q, buf, len, &alloc, &err),
                     PERSONA_OK);
    assert_same(&p, &q);

    free(buf);
    arena_free(&a);
}


/* a miss is cached as an empty profile */
static void
test_empty(void **state)
{
    size_t             len;
    arena_t            a = { .n = 0 };
    unsigned char     *buf;
    persona_alloc_t    alloc = { arena_alloc, &a };
    persona_error_t    err;
    persona_profile_t  p = { NULL, 0 }, q;

    (void) state;

    buf = pack(&p, &len);
    assert_int_equal(len, 2);

    assert_int_equal(persona_profile_unpack(&q, buf, len, &alloc, &err),
                     PERSONA_OK);
    assert_int_equal(q.nfields, 0);
    assert_null(q.fields);

    free(buf);
    arena_free(&a);
}


/* lengths of 128 bytes and more take several varint bytes */
static void
test_long_values(void **state)
{
    size_t             len, sizes[] = { 127, 128, 16383, 16384, 300000 };
    size_t             i;
    char              *big;
    arena_t            a = { .n = 0 };
    unsigned char     *buf;
    persona_alloc_t    alloc = { arena_alloc, &a };
    persona_error_t    err;
    persona_field_t    f;
    persona_profile_t  p = { &f, 1 }, q;

    (void) state;

    big = malloc(300000);
    assert_non_null(big);
    memset(big, 'x', 300000);

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        f.name.data = "blob";
        f.name.len = 4;
        f.value.data = big;
        f.value.len = sizes[i];

        buf = pack(&p, &len);
        assert_int_equal(persona_profile_unpack(&q, buf, len, &alloc, &err),
                         PERSONA_OK);
        assert_same(&p, &q);
        free(buf);
        arena_free(&a);
    }

    free(big);
}


/* every truncation, every flipped byte: an error or a sane profile */
static void
test_corrupt(void **state)
{
    size_t             len, i, j;
    arena_t            a = { .n = 0 };
    unsigned char     *buf, *copy;
    persona_alloc_t    alloc = { arena_alloc, &a };
    persona_error_t    err;
    persona_profile_t  q;

    persona_field_t    fields[] = {
        { S("segment"), S("vip") },
        { S("tier"), S("gold") },
    };
    persona_profile_t  p = { fields, 2 };

    (void) state;

    buf = pack(&p, &len);

    for (i = 0; i < len; i++) {
        err.msg[0] = '\0';
        assert_int_equal(persona_profile_unpack(&q, buf, i, &alloc, &err),
                         PERSONA_ERROR);
        assert_true(err.msg[0] != '\0');
        assert_null(q.fields);
        arena_free(&a);
    }

    copy = malloc(len + 1);
    assert_non_null(copy);

    /* a trailing byte */
    memcpy(copy, buf, len);
    copy[len] = 0;
    assert_int_equal(persona_profile_unpack(&q, copy, len + 1, &alloc, &err),
                     PERSONA_ERROR);
    arena_free(&a);

    for (i = 0; i < len; i++) {
        for (j = 0; j < 256; j++) {
            memcpy(copy, buf, len);
            copy[i] = (unsigned char) j;

            if (persona_profile_unpack(&q, copy, len, &alloc, &err)
                == PERSONA_OK)
            {
                /* whatever it read lies inside the buffer */
                assert_true(q.nfields <= 2);
                if (q.nfields) {
                    assert_true((const unsigned char *) q.fields[0].name.data
                                > copy);
                    assert_true((const unsigned char *)
                                q.fields[q.nfields - 1].value.data
                                + q.fields[q.nfields - 1].value.len
                                < copy + len);
                }
            }

            arena_free(&a);
        }
    }

    /* a wrong version */
    memcpy(copy, buf, len);
    copy[0] = PERSONA_PACK_VERSION + 1;
    assert_int_equal(persona_profile_unpack(&q, copy, len, &alloc, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "not a packed profile of version 1");

    free(copy);
    free(buf);
}


static void
test_bad_varints(void **state)
{
    arena_t            a = { .n = 0 };
    persona_alloc_t    alloc = { arena_alloc, &a };
    persona_error_t    err;
    persona_profile_t  q;

    /* an overlong zero, an endless varint, one beyond 64 bits, a count
     * larger than the buffer can hold, over the field limit */
    static const unsigned char  overlong[] = { 1, 0x80, 0x00 };
    static const unsigned char  endless[] = { 1, 0xff, 0xff, 0xff };
    static const unsigned char  huge[] = { 1, 0xff, 0xff, 0xff, 0xff, 0xff,
                                           0xff, 0xff, 0xff, 0xff, 0x7f };
    static const unsigned char  many[] = { 1, 0x05, 0, 0, 0, 0 };
    static const unsigned char  limit[] = { 1, 0x81, 0x08 };
    static const unsigned char  len_huge[] = { 1, 1, 0xff, 0xff, 0xff, 0xff,
                                               0xff, 0xff, 0xff, 0xff, 0xff,
                                               0x01, 0 };

    (void) state;

    assert_int_equal(persona_profile_unpack(&q, overlong, sizeof(overlong),
                                            &alloc, &err), PERSONA_ERROR);
    assert_int_equal(persona_profile_unpack(&q, endless, sizeof(endless),
                                            &alloc, &err), PERSONA_ERROR);
    assert_int_equal(persona_profile_unpack(&q, huge, sizeof(huge),
                                            &alloc, &err), PERSONA_ERROR);
    assert_int_equal(persona_profile_unpack(&q, many, sizeof(many),
                                            &alloc, &err), PERSONA_ERROR);
    assert_int_equal(persona_profile_unpack(&q, limit, sizeof(limit),
                                            &alloc, &err), PERSONA_ERROR);
    assert_string_equal(err.msg, "bad field count 1025");
    assert_int_equal(persona_profile_unpack(&q, len_huge, sizeof(len_huge),
                                            &alloc, &err), PERSONA_ERROR);

    arena_free(&a);
}


static void
test_out_of_memory(void **state)
{
    size_t             len;
    arena_t            a = { .n = 0, .fail = 1 };
    unsigned char     *buf;
    persona_alloc_t    alloc = { arena_alloc, &a };
    persona_error_t    err;
    persona_profile_t  q;
    persona_field_t    f = { S("a"), S("b") };
    persona_profile_t  p = { &f, 1 };

    (void) state;

    buf = pack(&p, &len);
    assert_int_equal(persona_profile_unpack(&q, buf, len, &alloc, &err),
                     PERSONA_NOMEM);
    free(buf);
}


int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_bad_varints),
        cmocka_unit_test(test_out_of_memory),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
