/*
 * Preview for QA in the core: the signature vector of persona_preview.h,
 * expiry bounds, the token compare, and which names a preview value may
 * use.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "persona_preview.h"


static const char  rules_json[] =
    "{ \"segments\": [ { \"name\": \"vip\", \"when\": "
    "                    { \"profile.tier\": \"gold\" } } ],\n"
    "  \"default\": \"everyone\",\n"
    "  \"experiences\": { \"vip\": { \"blocks\": { \"x\": \"y\" } } },\n"
    "  \"experiments\": [\n"
    "    { \"name\": \"a\", \"salt\": \"s\", \"segments\": [\"everyone\"],\n"
    "      \"variants\": [ { \"name\": \"control\", \"weight\": 50 },\n"
    "                      { \"name\": \"on\", \"weight\": 50 } ] },\n"
    "    { \"name\": \"b\", \"salt\": \"s\",\n"
    "      \"variants\": [ { \"name\": \"control\", \"weight\": 50 },\n"
    "                      { \"name\": \"x\", \"weight\": 50 } ] }\n"
    "  ] }\n";


static persona_rules_t *
load(void)
{
    persona_rules_t  *rules;
    persona_error_t   err;

    memset(&err, 0, sizeof(err));

    if (persona_rules_load_buffer(&rules, "p.json", rules_json,
                                  sizeof(rules_json) - 1, NULL, &err)
        != PERSONA_OK)
    {
        fail_msg("rules: %s", err.msg);
    }

    return rules;
}


static void
test_sign_vector(void **state)
{
    char  sig[PERSONA_PREVIEW_SIG_LEN + 1];

    assert_int_equal(persona_preview_sign("s3cret", 6, "vip", 3,
                                          "1900000000", 10, sig),
                     PERSONA_OK);
    assert_string_equal(sig, "1191c7120d7df3a570bb837ca12a6b4e"
                             "1f452965dc4a770c57b0fbe9f2037a83");
}


static void
test_verify(void **state)
{
    persona_error_t  err;

    static const char  sig[] = "1191c7120d7df3a570bb837ca12a6b4e"
                               "1f452965dc4a770c57b0fbe9f2037a83";
    static const char  up[] = "1191C7120D7DF3A570BB837CA12A6B4E"
                              "1F452965DC4A770C57B0FBE9F2037A83";

    /* good until the second it names, and 7 days ahead at most */
    assert_int_equal(persona_preview_verify("s3cret", 6, "vip", 3,
                     "1900000000", 10, sig, 64, 1900000000, &err),
                     PERSONA_OK);
    assert_int_equal(persona_preview_verify("s3cret", 6, "vip", 3,
                     "1900000000", 10, up, 64, 1900000000 - 7 * 86400,
                     &err),
                     PERSONA_OK);

    assert_int_equal(persona_preview_verify("s3cret", 6, "vip", 3,
                     "1900000000", 10, sig, 64, 1900000001, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "link expired");

    assert_int_equal(persona_preview_verify("s3cret", 6, "vip", 3,
                     "1900000000", 10, sig, 64, 1900000000 - 7 * 86400 - 1,
                     &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "link expires more than 7 days ahead");

    assert_int_equal(persona_preview_verify("s3cret", 6, "vi", 2,
                     "1900000000", 10, sig, 64, 1900000000, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "wrong signature");

    assert_int_equal(persona_preview_verify("s3cret", 6, "vip", 3,
                     "1900000000", 10, sig, 63, 1900000000, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "bad persona_preview_sig");

    assert_int_equal(persona_preview_verify("s3cret", 6, "vip", 3,
                     "-1", 2, sig, 64, 0, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "bad persona_preview_exp");
}


static void
test_token_eq(void **state)
{
    assert_true(persona_preview_token_eq("abc", 3, "abc", 3));
    assert_false(persona_preview_token_eq("abc", 3, "abd", 3));
    assert_false(persona_preview_token_eq("abc", 3, "abcd", 4));
    assert_false(persona_preview_token_eq("", 0, "a", 1));
}


static void
check_parse(persona_rules_t *rules, const char *value, int rc,
    const char *segment, const char *a, const char *b, const char *msg)
{
    persona_error_t           err;
    persona_preview_t         pv;
    const persona_variant_t  *forced[2];

    memset(&err, 0, sizeof(err));
    forced[0] = NULL;
    forced[1] = NULL;

    assert_int_equal(persona_preview_parse(rules, value, strlen(value), &pv,
                                           forced, &err),
                     rc);

    if (rc != PERSONA_OK) {
        assert_string_equal(err.msg, msg);
        assert_null(forced[0]);
        assert_null(forced[1]);
        return;
    }

    assert_int_equal(pv.segment.len, strlen(segment));
    assert_memory_equal(pv.segment.data, segment, pv.segment.len);

    if (a) {
        assert_non_null(forced[0]);
        assert_memory_equal(forced[0]->name.data, a, strlen(a));
    } else {
        assert_null(forced[0]);
    }

    if (b) {
        assert_non_null(forced[1]);
        assert_memory_equal(forced[1]->name.data, b, strlen(b));
    } else {
        assert_null(forced[1]);
    }
}


static void
test_parse(void **state)
{
    persona_rules_t  *rules;

    rules = load();

    check_parse(rules, "vip", PERSONA_OK, "vip", NULL, NULL, NULL);
    check_parse(rules, "everyone", PERSONA_OK, "everyone", NULL, NULL, NULL);
    check_parse(rules, "everyone,b=x,a=on", PERSONA_OK, "everyone", "on",
                "x", NULL);
    check_parse(rules, "vip,b=control", PERSONA_OK, "vip", NULL, "control",
                NULL);

    check_parse(rules, "gold", PERSONA_ERROR, NULL, NULL, NULL,
                "unknown segment \"gold\"");
    check_parse(rules, "", PERSONA_ERROR, NULL, NULL, NULL,
                "unknown segment \"\"");
    check_parse(rules, "vip,a=on", PERSONA_ERROR, NULL, NULL, NULL,
                "experiment \"a\" does not apply to segment \"vip\"");
    check_parse(rules, "everyone,a=off", PERSONA_ERROR, NULL, NULL, NULL,
                "unknown variant \"off\" of experiment \"a\"");
    check_parse(rules, "everyone,c=x", PERSONA_ERROR, NULL, NULL, NULL,
                "unknown experiment \"c\"");
    check_parse(rules, "everyone,a", PERSONA_ERROR, NULL, NULL, NULL,
                "expected EXPERIMENT=VARIANT, not \"a\"");
    check_parse(rules, "everyone,a=on,a=control", PERSONA_ERROR, NULL, NULL,
                NULL, "experiment \"a\" named twice");
    check_parse(rules, "everyone,b=x,", PERSONA_ERROR, NULL, NULL, NULL,
                "expected EXPERIMENT=VARIANT, not \"\"");
    check_parse(rules, "v\r\nip", PERSONA_ERROR, NULL, NULL, NULL,
                "unknown segment \"v??ip\"");

    persona_rules_free(rules);
}


static void
test_parse_from(void **state)
{
    persona_rules_t  *rules;
    persona_error_t   err;

    /* the built-in rules: any valid name may come from the profile */
    memset(&err, 0, sizeof(err));
    assert_int_equal(persona_rules_builtin(&rules, &err), PERSONA_OK);

    check_parse(rules, "anything-at:all", PERSONA_OK, "anything-at:all",
                NULL, NULL, NULL);
    check_parse(rules, "a b", PERSONA_ERROR, NULL, NULL, NULL,
                "unknown segment \"a b\"");

    persona_rules_free(rules);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_sign_vector),
        cmocka_unit_test(test_verify),
        cmocka_unit_test(test_token_eq),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_from),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
