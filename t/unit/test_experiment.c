/*
 * Experiments at request time: which experiments apply to a segment,
 * who is bucketed (ids only), and how variants' overrides merge with the
 * segment's experience (overrides first, first experiment wins, header
 * names case-insensitive).
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "persona_bucket.h"
#include "persona_experiment.h"
#include "rules_test_util.h"


static const char  rules_json[] =
    "{ \"segments\": [ { \"name\": \"vip\", \"when\": "
    "                    { \"profile.tier\": \"gold\" } } ],\n"
    "  \"default\": \"everyone\",\n"
    "  \"experiences\": {\n"
    "    \"everyone\": {\n"
    "      \"response_headers\": { \"X-Offer\": \"base\", \"X-Base\": \"1\" },\n"
    "      \"blocks\": { \"hero\": \"base hero\", \"footer\": \"base foot\" },\n"
    "      \"landing\": { \"/\": \"/lp/base.html\" } } },\n"
    "  \"experiments\": [\n"
    "    { \"name\": \"a\", \"salt\": \"s\", \"segments\": [\"everyone\"],\n"
    "      \"variants\": [ { \"name\": \"control\", \"weight\": 0 },\n"
    "        { \"name\": \"on\", \"weight\": 100,\n"
    "          \"response_headers\": { \"x-offer\": \"from-a\" },\n"
    "          \"blocks\": { \"hero\": \"a hero\" } } ] },\n"
    "    { \"name\": \"b\", \"salt\": \"s\",\n"
    "      \"variants\": [ { \"name\": \"control\", \"weight\": 0 },\n"
    "        { \"name\": \"on\", \"weight\": 100,\n"
    "          \"response_headers\": { \"X-Offer\": \"from-b\",\n"
    "                                  \"X-B\": \"2\" },\n"
    "          \"blocks\": { \"hero\": \"b hero\", \"promo\": \"b promo\" },\n"
    "          \"landing\": { \"/\": \"/lp/b.html\" } } ] },\n"
    "    { \"name\": \"held\", \"salt\": \"s\", \"traffic\": 0,\n"
    "      \"variants\": [ { \"name\": \"control\", \"weight\": 50 },\n"
    "                      { \"name\": \"x\", \"weight\": 50 } ] }\n"
    "  ] }\n";


static persona_rules_t *
load(void)
{
    persona_rules_t  *rules;
    persona_error_t   err;

    memset(&err, 0, sizeof(err));

    if (persona_rules_load_buffer(&rules, "exp.json", rules_json,
                                  sizeof(rules_json) - 1, NULL, &err)
        != PERSONA_OK)
    {
        fail_msg("%s", err.msg);
    }

    return rules;
}


static const persona_str_t *
find(const void *items, size_t n, size_t size, const char *key)
{
    size_t                i;
    const persona_str_t  *s;

    for (i = 0; i < n; i++) {
        s = (const persona_str_t *) ((const char *) items + i * size);

        if (s->len == strlen(key) && memcmp(s->data, key, s->len) == 0) {
            return s;
        }
    }

    return NULL;
}


static void
test_applies(void **state)
{
    persona_rules_t  *rules = load();

    assert_true(persona_experiment_applies(&rules->experiments[0],
                                           "everyone", 8));
    assert_false(persona_experiment_applies(&rules->experiments[0],
                                            "vip", 3));
    /* no segments: every visitor */
    assert_true(persona_experiment_applies(&rules->experiments[1], "vip", 3));

    persona_rules_free(rules);
}


static void
test_assign(void **state)
{
    const persona_variant_t  *v[3];
    persona_rules_t          *rules = load();

    assert_int_equal(rules->nexperiments, 3);

    /* the default segment: a and b, never the 0 % one */
    assert_int_equal(persona_experiments_assign(rules, "everyone", 8,
                                                "visitor-1", 9, v), 2);
    assert_non_null(v[0]);
    assert_string_equal(v[0]->name.data, "on");
    assert_non_null(v[1]);
    assert_null(v[2]);

    /* vip: only b */
    assert_int_equal(persona_experiments_assign(rules, "vip", 3,
                                                "visitor-1", 9, v), 1);
    assert_null(v[0]);
    assert_non_null(v[1]);

    /* no id: in no experiment */
    assert_int_equal(persona_experiments_assign(rules, "everyone", 8,
                                                "", 0, v), 0);
    assert_null(v[0]);
    assert_null(v[1]);
    assert_null(v[2]);

    persona_rules_free(rules);
}


static void
test_merge(void **state)
{
    test_arena_t                 ar;
    persona_experience_t         out;
    const persona_str_t         *s;
    const persona_header_t      *h;
    const persona_block_t       *b;
    const persona_route_t       *r;
    persona_rules_t             *rules = load();
    const persona_experience_t  *base, *over[2];

    test_arena_init(&ar);

    base = persona_rules_experience(rules, "everyone", 8);
    assert_non_null(base);

    over[0] = &rules->experiments[0].variants[1].overrides;
    over[1] = &rules->experiments[1].variants[1].overrides;

    assert_int_equal(persona_experience_merge(base, over, 2, &ar.alloc,
                                              &out), PERSONA_OK);

    /* headers: a's x-offer wins over b's X-Offer and the base's */
    assert_int_equal(out.nresponse_headers, 3);
    h = &out.response_headers[0];
    assert_int_equal(h->name.len, 7);
    assert_memory_equal(h->name.data, "x-offer", 7);
    assert_non_null(find(out.response_headers, 3, sizeof(*h), "X-B"));
    assert_non_null(find(out.response_headers, 3, sizeof(*h), "X-Base"));
    assert_null(find(out.response_headers, 3, sizeof(*h), "X-Offer"));

    /* blocks: hero from a, promo from b, footer from the base */
    assert_int_equal(out.nblocks, 3);
    b = (const persona_block_t *)
            find(out.blocks, out.nblocks, sizeof(*b), "hero");
    assert_ptr_equal(b->tpl, rules->experiments[0].variants[1]
                                 .overrides.blocks[0].tpl);
    assert_non_null(find(out.blocks, out.nblocks, sizeof(*b), "promo"));
    assert_non_null(find(out.blocks, out.nblocks, sizeof(*b), "footer"));

    /* landing: b's target replaces the base's */
    assert_int_equal(out.nlanding, 1);
    r = &out.landing[0];
    assert_int_equal(r->target.len, strlen("/lp/b.html"));
    assert_memory_equal(r->target.data, "/lp/b.html", r->target.len);

    assert_int_equal(out.nrequest_headers, 0);
    assert_int_equal(out.nredirect, 0);

    /* no base: the overrides alone; NULL overrides are skipped */
    over[0] = NULL;
    assert_int_equal(persona_experience_merge(NULL, over, 2, &ar.alloc,
                                              &out), PERSONA_OK);
    assert_int_equal(out.nresponse_headers, 2);
    s = find(out.blocks, out.nblocks, sizeof(*b), "hero");
    assert_non_null(s);
    assert_int_equal(out.nblocks, 2);

    test_arena_free(&ar);
    persona_rules_free(rules);
}


static void
test_merge_nomem(void **state)
{
    long                          i;
    int                           rc;
    test_arena_t                  ar;
    persona_experience_t          out;
    persona_rules_t              *rules = load();
    const persona_experience_t   *base, *over[2];

    base = persona_rules_experience(rules, "everyone", 8);
    over[0] = &rules->experiments[0].variants[1].overrides;
    over[1] = &rules->experiments[1].variants[1].overrides;

    for (i = 0; i < 10; i++) {
        test_arena_init(&ar);
        ar.fail_after = i;
        rc = persona_experience_merge(base, over, 2, &ar.alloc, &out);
        test_arena_free(&ar);

        if (rc == PERSONA_OK) {
            break;
        }

        assert_int_equal(rc, PERSONA_NOMEM);
    }

    assert_true(i > 0 && i < 10);

    persona_rules_free(rules);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_applies),
        cmocka_unit_test(test_assign),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_merge_nomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
