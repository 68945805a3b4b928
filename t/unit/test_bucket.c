/*
 * Experiment bucketing: the published test vectors (computed with an
 * independent implementation of the documented hash), uniformity, and
 * the stability promises: traffic changes never move visitors between
 * variants, weight changes move only the visitors they must.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "persona_bucket.h"


typedef struct {
    const char  *salt;
    const char  *name;
    const char  *id;
    unsigned     bucket;
} vector_t;


static const vector_t  vectors[] = {
    { "2026-q4", "hero-copy", "visitor-1", 443 },
    { "2026-q4", "hero-copy", "visitor-2", 2027 },
    { "2026-q4", "hero-copy:traffic", "visitor-1", 8830 },
    { "", "x", "a", 5058 },
    { "", "", "", 8825 },
    { "salt", "exp", "0", 6079 },
    { "salt", "exp", "1", 9131 },
    { "s\xc3\xa9l", "e.x-p_1", "7f3a9c2e-5b1d-4e8f-9a6b-0c2d4e6f8a1b", 2423 },
    { "2026-q4", "hero-copy", "persona:ab@x.io", 3378 },
};


static void
test_vectors(void **state)
{
    size_t  i;

    for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        assert_int_equal(persona_bucket(vectors[i].salt,
                                        strlen(vectors[i].salt),
                                        vectors[i].name,
                                        strlen(vectors[i].name),
                                        vectors[i].id, strlen(vectors[i].id)),
                         vectors[i].bucket);
    }
}


static void
test_uniform(void **state)
{
    char      id[32];
    size_t    i, n, counts[10];
    unsigned  b;

    memset(counts, 0, sizeof(counts));

    for (i = 0; i < 100000; i++) {
        n = (size_t) snprintf(id, sizeof(id), "%zu", i);
        b = persona_bucket("s", 1, "e", 1, id, n);
        assert_true(b < PERSONA_BUCKETS);
        counts[b / 1000]++;
    }

    /* each tenth within 3% of 10000 (it is within 2% for this data) */
    for (i = 0; i < 10; i++) {
        assert_true(counts[i] > 9700 && counts[i] < 10300);
    }
}


static persona_rules_t *
load(const char *text)
{
    persona_rules_t  *rs;
    persona_error_t   err;

    if (persona_rules_load_buffer(&rs, "t.json", text, strlen(text), NULL,
                                  &err) != PERSONA_OK)
    {
        print_error("%s\n", err.msg);
        return NULL;
    }

    return rs;
}


static void
test_variants(void **state)
{
    char                      id[32];
    size_t                    i, n, a, b, in, moved;
    unsigned                  bucket, bucket2;
    persona_rules_t          *r1, *r2;
    const persona_variant_t  *v1, *v2;

    /* the spec example: visitor-1 lands in bucket 443 -> control */
    r1 = load("{ \"experiments\": [ { \"name\": \"hero-copy\", \"salt\": "
              "\"2026-q4\", \"variants\": [ { \"name\": \"control\", "
              "\"weight\": 50 }, { \"name\": \"urgency\", \"weight\": 50 } "
              "] } ] }");
    assert_non_null(r1);

    v1 = persona_bucket_variant(&r1->experiments[0], "visitor-1", 9,
                                &bucket);
    assert_non_null(v1);
    assert_int_equal(bucket, 443);
    assert_string_equal(v1->name.data, "control");

    v1 = persona_bucket_variant(&r1->experiments[0], "visitor-2", 9,
                                &bucket);
    assert_int_equal(bucket, 2027);
    assert_string_equal(v1->name.data, "control");

    /* 50/50 -> 60/40: only buckets 5000..5999 move, urgency -> control */
    r2 = load("{ \"experiments\": [ { \"name\": \"hero-copy\", \"salt\": "
              "\"2026-q4\", \"variants\": [ { \"name\": \"control\", "
              "\"weight\": 60 }, { \"name\": \"urgency\", \"weight\": 40 } "
              "] } ] }");
    assert_non_null(r2);

    a = 0;
    moved = 0;

    for (i = 0; i < 20000; i++) {
        n = (size_t) snprintf(id, sizeof(id), "v%zu", i);
        v1 = persona_bucket_variant(&r1->experiments[0], id, n, &bucket);
        v2 = persona_bucket_variant(&r2->experiments[0], id, n, &bucket2);

        assert_int_equal(bucket, bucket2);

        if (v1 != &r1->experiments[0].variants[0]) {
            a++;
        }

        if (strcmp(v1->name.data, v2->name.data) != 0) {
            moved++;
            assert_string_equal(v1->name.data, "urgency");
            assert_string_equal(v2->name.data, "control");
            assert_true(bucket >= 5000 && bucket < 6000);
        }
    }

    assert_true(a > 9500 && a < 10500);
    assert_true(moved > 1700 && moved < 2300);

    persona_rules_free(r1);
    persona_rules_free(r2);

    /* traffic 30 vs 60: nobody switches variant, the 30 are in the 60 */
    r1 = load("{ \"experiments\": [ { \"name\": \"t\", \"traffic\": 30, "
              "\"variants\": [ { \"name\": \"a\" }, { \"name\": \"b\" }, "
              "{ \"name\": \"c\" } ] } ] }");
    r2 = load("{ \"experiments\": [ { \"name\": \"t\", \"traffic\": 60, "
              "\"variants\": [ { \"name\": \"a\" }, { \"name\": \"b\" }, "
              "{ \"name\": \"c\" } ] } ] }");
    assert_non_null(r1);
    assert_non_null(r2);

    in = 0;
    b = 0;

    for (i = 0; i < 20000; i++) {
        n = (size_t) snprintf(id, sizeof(id), "id-%zu", i);
        v1 = persona_bucket_variant(&r1->experiments[0], id, n, &bucket);
        v2 = persona_bucket_variant(&r2->experiments[0], id, n, &bucket2);

        if (v1) {
            in++;
            assert_non_null(v2);
            assert_string_equal(v1->name.data, v2->name.data);
        }

        if (v2) {
            b++;
        }
    }

    assert_true(in > 5600 && in < 6400);
    assert_true(b > 11400 && b < 12600);

    persona_rules_free(r1);
    persona_rules_free(r2);

    /* traffic 0: nobody; a zero weight: never that variant */
    r1 = load("{ \"experiments\": [ { \"name\": \"z\", \"traffic\": 0, "
              "\"variants\": [ { \"name\": \"a\" } ] }, { \"name\": \"w\", "
              "\"variants\": [ { \"name\": \"a\", \"weight\": 0 }, "
              "{ \"name\": \"b\", \"weight\": 3 } ] } ] }");
    assert_non_null(r1);

    for (i = 0; i < 2000; i++) {
        n = (size_t) snprintf(id, sizeof(id), "%zu", i);
        assert_null(persona_bucket_variant(&r1->experiments[0], id, n,
                                           &bucket));
        v1 = persona_bucket_variant(&r1->experiments[1], id, n, &bucket);
        assert_non_null(v1);
        assert_string_equal(v1->name.data, "b");
    }

    persona_rules_free(r1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_variants),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
