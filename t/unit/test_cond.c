/*
 * Conditions and attributes: evaluation tables, compile errors with
 * positions, attribute names, device and language classifiers.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "persona_cond.h"
#include "persona_rules.h"
#include "rules_test_util.h"


#define KV(...)  ((const char *[]) { __VA_ARGS__, NULL })
#define NONE     ((const char *[]) { NULL })


typedef struct {
    const char   *when;
    const char  **attrs;
    int           expect;
} eval_case_t;


static const eval_case_t  eval_cases[] = {
    /* implicit eq */
    { "{\"profile.tier\": \"gold\"}", KV("profile.tier", "gold"), 1 },
    { "{\"profile.tier\": \"gold\"}", KV("profile.tier", "Gold"), 0 },
    { "{\"profile.tier\": \"gold\"}", NONE, 0 },
    { "{\"profile.tier\": \"gold\"}", KV("profile.tier", "gold "), 0 },
    { "{\"profile.ltv\": 1000}", KV("profile.ltv", "1000.0"), 1 },
    { "{\"profile.ltv\": 1000}", KV("profile.ltv", "1e3"), 1 },
    { "{\"profile.ltv\": 1000}", KV("profile.ltv", "lots"), 0 },
    { "{\"profile.vip\": true}", KV("profile.vip", "true"), 1 },
    { "{\"profile.vip\": true}", KV("profile.vip", "1"), 1 },
    { "{\"profile.vip\": true}", KV("profile.vip", "TRUE"), 1 },
    { "{\"profile.vip\": true}", KV("profile.vip", "yes"), 0 },
    { "{\"profile.vip\": false}", KV("profile.vip", "false"), 1 },
    { "{\"profile.vip\": false}", KV("profile.vip", "0"), 1 },
    { "{\"profile.vip\": false}", NONE, 0 },
    { "{\"visitor.known\": false}", KV("visitor.known", "false"), 1 },
    { "{\"visitor.known\": false}", KV("visitor.known", "true"), 0 },
    { "{\"profile.address.city\": \"Lyon\"}",
      KV("profile.address.city", "Lyon"), 1 },

    /* eq ne */
    { "{\"geo.country\": {\"eq\": \"CN\"}}", KV("geo.country", "CN"), 1 },
    { "{\"geo.country\": {\"ne\": \"CN\"}}", KV("geo.country", "CN"), 0 },
    { "{\"geo.country\": {\"ne\": \"CN\"}}", KV("geo.country", "FR"), 1 },
    { "{\"geo.country\": {\"ne\": \"CN\"}}", NONE, 1 },
    { "{\"profile.n\": {\"ne\": 5}}", KV("profile.n", "five"), 1 },

    /* in nin */
    { "{\"arg.utm_source\": {\"in\": [\"douyin\", \"tiktok\"]}}",
      KV("arg.utm_source", "tiktok"), 1 },
    { "{\"arg.utm_source\": {\"in\": [\"douyin\", \"tiktok\"]}}",
      KV("arg.utm_source", "google"), 0 },
    { "{\"arg.utm_source\": {\"in\": [\"douyin\", \"tiktok\"]}}", NONE, 0 },
    { "{\"arg.utm_source\": {\"nin\": [\"douyin\", \"tiktok\"]}}",
      KV("arg.utm_source", "google"), 1 },
    { "{\"arg.utm_source\": {\"nin\": [\"douyin\", \"tiktok\"]}}",
      KV("arg.utm_source", "douyin"), 0 },
    { "{\"arg.utm_source\": {\"nin\": [\"douyin\"]}}", NONE, 1 },
    { "{\"profile.n\": {\"in\": [1, \"two\", true]}}", KV("profile.n", "1"),
      1 },
    { "{\"profile.n\": {\"in\": [1, \"two\", true]}}", KV("profile.n", "two"),
      1 },
    { "{\"profile.n\": {\"in\": [1, \"two\", true]}}",
      KV("profile.n", "true"), 1 },
    { "{\"profile.n\": {\"in\": [1, \"two\", true]}}",
      KV("profile.n", "three"), 0 },

    /* numeric */
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", "1000"), 1 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", "999.99"), 0 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", "1e4"), 1 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", ""), 0 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", "1000abc"), 0 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", " 1000"), 0 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", "0x3e8"), 0 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", "inf"), 0 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", KV("profile.ltv", "nan"), 0 },
    { "{\"profile.ltv\": {\"gte\": 1000}}", NONE, 0 },
    { "{\"profile.ltv\": {\"gt\": 10}}", KV("profile.ltv", "10"), 0 },
    { "{\"profile.ltv\": {\"gt\": 10}}", KV("profile.ltv", "10.5"), 1 },
    { "{\"profile.ltv\": {\"lt\": 10}}", KV("profile.ltv", "-3"), 1 },
    { "{\"profile.ltv\": {\"lt\": 10}}", KV("profile.ltv", "10"), 0 },
    { "{\"profile.ltv\": {\"lte\": 10}}", KV("profile.ltv", "10"), 1 },
    { "{\"profile.ltv\": {\"lte\": 10}}", KV("profile.ltv", "+10.0"), 1 },
    { "{\"profile.ltv\": {\"gte\": 10, \"lt\": 20}}", KV("profile.ltv", "15"),
      1 },
    { "{\"profile.ltv\": {\"gte\": 10, \"lt\": 20}}", KV("profile.ltv", "20"),
      0 },
    { "{\"time.hour\": {\"between\": [9, 17]}}", KV("time.hour", "9"), 1 },
    { "{\"time.hour\": {\"between\": [9, 17]}}", KV("time.hour", "17"), 1 },
    { "{\"time.hour\": {\"between\": [9, 17]}}", KV("time.hour", "18"), 0 },
    { "{\"time.date\": {\"between\": [\"2026-11-20\", \"2026-11-30\"]}}",
      KV("time.date", "2026-11-27"), 1 },
    { "{\"time.date\": {\"between\": [\"2026-11-20\", \"2026-11-30\"]}}",
      KV("time.date", "2026-12-01"), 0 },
    { "{\"time.date\": {\"gte\": \"2026-11-20\"}}",
      KV("time.date", "2027-01-01"), 1 },
    { "{\"time.date\": {\"gte\": \"2026-11-20\"}}",
      KV("time.date", "garbage"), 0 },

    /* exists */
    { "{\"cookie.cart\": {\"exists\": true}}", KV("cookie.cart", "x"), 1 },
    { "{\"cookie.cart\": {\"exists\": true}}", KV("cookie.cart", ""), 0 },
    { "{\"cookie.cart\": {\"exists\": true}}", NONE, 0 },
    { "{\"cookie.cart\": {\"exists\": false}}", NONE, 1 },
    { "{\"cookie.cart\": {\"exists\": false}}", KV("cookie.cart", ""), 1 },
    { "{\"cookie.cart\": {\"exists\": false}}", KV("cookie.cart", "1"), 0 },

    /* strings */
    { "{\"header.user-agent\": {\"contains\": \"iPhone\"}}",
      KV("header.user-agent", "Mozilla/5.0 (iPhone; CPU)"), 1 },
    { "{\"header.user-agent\": {\"contains\": \"iPhone\"}}",
      KV("header.user-agent", "iphone"), 0 },
    { "{\"header.user-agent\": {\"contains\": \"iPhone\"}}",
      KV("header.user-agent", "iPhon"), 0 },
    { "{\"request.path\": {\"prefix\": \"/shop/\"}}",
      KV("request.path", "/shop/shoes"), 1 },
    { "{\"request.path\": {\"prefix\": \"/shop/\"}}",
      KV("request.path", "/shop"), 0 },
    { "{\"request.path\": {\"suffix\": \".html\"}}",
      KV("request.path", "/a/b.html"), 1 },
    { "{\"request.path\": {\"suffix\": \".html\"}}",
      KV("request.path", "/a/b.htm"), 0 },
    { "{\"request.path\": {\"suffix\": \".html\"}}", KV("request.path", "l"),
      0 },

    /* regex */
    { "{\"referer.host\": {\"regex\": \"(^|\\\\.)google\\\\.[a-z]+$\"}}",
      KV("referer.host", "www.google.de"), 1 },
    { "{\"referer.host\": {\"regex\": \"(^|\\\\.)google\\\\.[a-z]+$\"}}",
      KV("referer.host", "google.evil.com"), 0 },
    { "{\"header.x\": {\"regex\": \"(?i)^abc\"}}", KV("header.x", "ABCdef"),
      1 },
    { "{\"header.x\": {\"regex\": \"(a)(b)(c)\"}}", KV("header.x", "xabc"),
      1 },
    /*
     * catastrophic backtracking hits the match limit, quickly: undecided,
     * and neither "not" nor "any" turns that into a match
     */
    { "{\"header.x\": {\"regex\": \"^(a+)+$\"}}",
      KV("header.x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaab"),
      PERSONA_COND_LIMIT },
    { "{\"header.x\": {\"regex\": \"^(a|aa)+$\"}}",
      KV("header.x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaaaaaaaaab"),
      PERSONA_COND_LIMIT },
    { "{\"not\": {\"header.x\": {\"regex\": \"^(a+)+$\"}}}",
      KV("header.x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaab"),
      PERSONA_COND_LIMIT },
    { "{\"not\": {\"not\": {\"header.x\": {\"regex\": \"^(a+)+$\"}}}}",
      KV("header.x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaab"),
      PERSONA_COND_LIMIT },
    { "{\"any\": [{\"header.y\": \"1\"}, {\"not\": {\"header.x\": "
      "{\"regex\": \"^(a+)+$\"}}}]}",
      KV("header.x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaab"),
      PERSONA_COND_LIMIT },
    { "{\"all\": [{\"not\": {\"header.x\": {\"regex\": \"^(a+)+$\"}}}, "
      "{\"header.x\": {\"exists\": true}}]}",
      KV("header.x", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                     "aaab"),
      PERSONA_COND_LIMIT },
    /* the same pattern on a short input is decided */
    { "{\"not\": {\"header.x\": {\"regex\": \"^(a+)+$\"}}}",
      KV("header.x", "aab"), 1 },

    /* cidr */
    { "{\"var.remote_addr\": {\"cidr\": \"10.0.0.0/8\"}}",
      KV("var.remote_addr", "10.200.3.4"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": \"10.0.0.0/8\"}}",
      KV("var.remote_addr", "11.0.0.1"), 0 },
    { "{\"var.remote_addr\": {\"cidr\": \"10.0.0.0/8\"}}",
      KV("var.remote_addr", "::ffff:10.1.2.3"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": \"10.0.0.0/8\"}}",
      KV("var.remote_addr", "not-an-ip"), 0 },
    { "{\"var.remote_addr\": {\"cidr\": \"10.0.0.0/8\"}}",
      KV("var.remote_addr", "2001:db8::1"), 0 },
    { "{\"var.remote_addr\": {\"cidr\": [\"192.168.1.0/25\", "
      "\"2001:db8::/32\"]}}", KV("var.remote_addr", "2001:db8:ff::9"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": [\"192.168.1.0/25\", "
      "\"2001:db8::/32\"]}}", KV("var.remote_addr", "192.168.1.127"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": [\"192.168.1.0/25\", "
      "\"2001:db8::/32\"]}}", KV("var.remote_addr", "192.168.1.128"), 0 },
    { "{\"var.remote_addr\": {\"cidr\": [\"192.168.1.0/25\", "
      "\"2001:db8::/32\"]}}", KV("var.remote_addr", "2001:db9::1"), 0 },
    { "{\"var.remote_addr\": {\"cidr\": \"192.0.2.7\"}}",
      KV("var.remote_addr", "192.0.2.7"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": \"192.0.2.7\"}}",
      KV("var.remote_addr", "192.0.2.8"), 0 },
    { "{\"var.remote_addr\": {\"cidr\": \"0.0.0.0/0\"}}",
      KV("var.remote_addr", "8.8.8.8"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": \"10.1.2.3/8\"}}",
      KV("var.remote_addr", "10.9.9.9"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": \"::ffff:10.0.0.0/104\"}}",
      KV("var.remote_addr", "10.3.3.3"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": \"2001:db8::/127\"}}",
      KV("var.remote_addr", "2001:db8::1"), 1 },
    { "{\"var.remote_addr\": {\"cidr\": \"2001:db8::/127\"}}",
      KV("var.remote_addr", "2001:db8::2"), 0 },

    /* combinators */
    { "{\"all\": [{\"geo.country\": \"CN\"}, {\"device\": \"mobile\"}]}",
      KV("geo.country", "CN", "device", "mobile"), 1 },
    { "{\"all\": [{\"geo.country\": \"CN\"}, {\"device\": \"mobile\"}]}",
      KV("geo.country", "CN", "device", "desktop"), 0 },
    { "{\"geo.country\": \"CN\", \"device\": \"mobile\"}",
      KV("geo.country", "CN", "device", "mobile"), 1 },
    { "{\"geo.country\": \"CN\", \"device\": \"mobile\"}",
      KV("device", "mobile"), 0 },
    { "{\"any\": [{\"geo.country\": \"CN\"}, {\"device\": \"mobile\"}]}",
      KV("device", "mobile"), 1 },
    { "{\"any\": [{\"geo.country\": \"CN\"}, {\"device\": \"mobile\"}]}",
      KV("device", "tablet"), 0 },
    { "{\"not\": {\"geo.country\": \"CN\"}}", KV("geo.country", "FR"), 1 },
    { "{\"not\": {\"geo.country\": \"CN\"}}", KV("geo.country", "CN"), 0 },
    { "{\"not\": {\"geo.country\": \"CN\"}}", NONE, 1 },
    { "{\"any\": [{\"not\": {\"lang\": \"de\"}}, {\"all\": ["
      "{\"time.weekday\": {\"in\": [\"sat\", \"sun\"]}}, "
      "{\"visitor.new\": true}]}]}",
      KV("lang", "de", "time.weekday", "sun", "visitor.new", "true"), 1 },
    { "{\"any\": [{\"not\": {\"lang\": \"de\"}}, {\"all\": ["
      "{\"time.weekday\": {\"in\": [\"sat\", \"sun\"]}}, "
      "{\"visitor.new\": true}]}]}",
      KV("lang", "de", "time.weekday", "mon", "visitor.new", "true"), 0 },
    { "{\"request.method\": \"GET\", \"request.host\": \"shop.example\"}",
      KV("request.method", "GET", "request.host", "shop.example"), 1 },
};


static void
test_eval_table(void **state)
{
    int                  rc;
    size_t               i;
    void                *scratch;
    test_arena_t         ar;
    persona_json_t       doc;
    persona_cond_t      *cond;
    persona_error_t      err;
    persona_eval_t       ev;
    persona_attrs_t      attrs;
    persona_cond_ctx_t   ctx;

    scratch = persona_cond_scratch_create();
    assert_non_null(scratch);

    for (i = 0; i < sizeof(eval_cases) / sizeof(eval_cases[0]); i++) {
        test_arena_init(&ar);
        persona_attrs_init(&attrs, &ar.alloc);
        memset(&ctx, 0, sizeof(ctx));
        ctx.alloc = &ar.alloc;
        ctx.attrs = &attrs;
        memset(&err, 0, sizeof(err));

        rc = persona_json_parse(&doc, eval_cases[i].when,
                                strlen(eval_cases[i].when), &ar.alloc, &err);
        if (rc != PERSONA_OK) {
            print_error("case %zu: %s\n", i, err.msg);
        }
        assert_int_equal(rc, PERSONA_OK);

        ctx.doc = &doc;
        rc = persona_cond_compile(&cond, doc.root, &ctx, &err);
        if (rc != PERSONA_OK) {
            print_error("case %zu: %u:%u: %s\n", i, err.line, err.column,
                        err.msg);
        }
        assert_int_equal(rc, PERSONA_OK);
        persona_json_close(&doc);

        ev.lookup = test_lookup;
        ev.data = (void *) eval_cases[i].attrs;
        ev.scratch = scratch;

        rc = persona_cond_eval(cond, &ev);
        if (rc != eval_cases[i].expect) {
            print_error("case %zu: %s -> %d\n", i, eval_cases[i].when, rc);
        }
        assert_int_equal(rc, eval_cases[i].expect);

        test_arena_free(&ar);
    }

    persona_cond_scratch_free(scratch);
}


typedef struct {
    const char  *when;
    unsigned     line;
    unsigned     column;
    const char  *msg;
} error_case_t;


static const error_case_t  error_cases[] = {
    { "{}", 1, 1,
      "expected a condition: an object such as { \"profile.tier\": "
      "\"gold\" }" },
    { "[]", 1, 1,
      "expected a condition: an object such as { \"profile.tier\": "
      "\"gold\" }" },
    { "{\"profil.tier\": \"gold\"}", 1, 2,
      "unknown attribute \"profil.tier\": expected profile.*, geo.*, arg.*, "
      "header.*, cookie.*, var.*, request.*, referer.host, device, lang, "
      "time.* or visitor.*" },
    { "{\n  \"request.url\": \"/\"\n}", 2, 3,
      "unknown attribute \"request.url\": expected request.path, "
      "request.host or request.method" },
    { "{\"geo.zip\": \"1\"}", 1, 2,
      "unknown attribute \"geo.zip\": expected geo.country, geo.continent, "
      "geo.city, geo.subdivision, geo.latitude, geo.longitude or "
      "geo.time_zone" },
    { "{\"time.minute\": 1}", 1, 2,
      "unknown attribute \"time.minute\": expected time.hour, time.weekday "
      "or time.date" },
    { "{\"profile.\": 1}", 1, 2,
      "bad attribute \"profile.\": expected profile.NAME with a NAME without "
      "spaces, braces or \"|\"" },
    { "{\"profile.a..b\": 1}", 1, 2,
      "bad attribute \"profile.a..b\": expected profile.NAME with a NAME "
      "without spaces, braces or \"|\"" },
    { "{\"header.x y\": 1}", 1, 2,
      "bad attribute \"header.x y\": expected header.NAME with a token in "
      "NAME (letters, digits, !#$%&'*+-.^_`|~)" },
    { "{\"var.a-b\": 1}", 1, 2,
      "bad attribute \"var.a-b\": expected var.NAME with letters, digits and "
      "\"_\" in NAME" },
    { "{\"profile.ltv\": {\"gtee\": 1}}", 1, 18,
      "unknown operator \"gtee\": expected eq, ne, in, nin, gt, gte, lt, lte, "
      "between, exists, contains, prefix, suffix, regex or cidr" },
    { "{\"profile.ltv\": {\"gte\": \"1000\"}}", 1, 25, "expected a number" },
    { "{\"profile.ltv\": {\"gte\": 1, \"lt\": \"x\"}}", 1, 34,
      "expected a number" },
    { "{\"profile.ltv\": {}}", 1, 17,
      "expected a value or an object of operators such as { \"gte\": 10 }" },
    { "{\"profile.ltv\": [1, 2]}", 1, 17,
      "expected a value or an object of operators; for one of several values "
      "write { \"in\": [ ... ] }" },
    { "{\"profile.ltv\": null}", 1, 17,
      "expected a string, a number or true/false" },
    { "{\"arg.a\": {\"in\": []}}", 1, 18,
      "expected a non-empty array of values after \"in\"" },
    { "{\"arg.a\": {\"nin\": \"x\"}}", 1, 19,
      "expected a non-empty array of values after \"nin\"" },
    { "{\"arg.a\": {\"in\": [\"a\", {}]}}", 1, 24,
      "expected a string, a number or true/false" },
    { "{\"arg.a\": {\"between\": [1]}}", 1, 23,
      "expected [low, high] after \"between\"" },
    { "{\"arg.a\": {\"between\": [5, 1]}}", 1, 23,
      "expected [low, high] with low <= high" },
    { "{\"arg.a\": {\"exists\": 1}}", 1, 22,
      "expected true or false after \"exists\"" },
    { "{\"arg.a\": {\"contains\": \"\"}}", 1, 24,
      "expected a non-empty string after \"contains\"" },
    { "{\"arg.a\": {\"prefix\": 5}}", 1, 22,
      "expected a non-empty string after \"prefix\"" },
    { "{\"arg.a\": {\"regex\": \"a(b\"}}", 1, 25,
      "expected a valid regular expression: missing closing parenthesis" },
    { "{\"arg.a\": {\"regex\": \"\\\\d[z-a]\"}}", 1, 28,
      "expected a valid regular expression: range out of order in "
      "character class" },
    { "{\"arg.a\": {\"cidr\": \"10.0.0.0/33\"}}", 1, 20,
      "expected an IPv4 or IPv6 address or CIDR such as \"10.0.0.0/8\" or "
      "\"2001:db8::/32\"" },
    { "{\"arg.a\": {\"cidr\": [\"10.0.0.0/8\", \"10.0.0.256\"]}}", 1, 35,
      "expected an IPv4 or IPv6 address or CIDR such as \"10.0.0.0/8\" or "
      "\"2001:db8::/32\"" },
    { "{\"arg.a\": {\"cidr\": []}}", 1, 20,
      "expected an address, a CIDR such as \"10.0.0.0/8\", or an array of "
      "them" },
    { "{\"device\": \"phone\"}", 1, 12,
      "expected \"mobile\", \"tablet\", \"desktop\" or \"bot\" for device" },
    { "{\"time.weekday\": {\"in\": [\"mon\", \"monday\"]}}", 1, 33,
      "expected \"mon\", \"tue\", \"wed\", \"thu\", \"fri\", \"sat\" or "
      "\"sun\" "
      "for time.weekday" },
    { "{\"visitor.known\": \"yes\"}", 1, 19,
      "expected true or false for visitor.known" },
    { "{\"time.hour\": 24}", 1, 15,
      "expected an hour from 0 to 23 for time.hour" },
    { "{\"time.date\": \"2026-13-01\"}", 1, 15,
      "expected a date \"YYYY-MM-DD\" for time.date" },
    { "{\"time.date\": {\"gt\": 20261201}}", 1, 22,
      "expected a date \"YYYY-MM-DD\"" },
    { "{\"lang\": \"de-CH\"}", 1, 10,
      "expected a lowercase language code such as \"de\" for lang" },
    { "{\"request.method\": \"get\"}", 1, 20,
      "expected an uppercase method such as \"GET\" for request.method" },
    { "{\"all\": []}", 1, 9,
      "expected a non-empty array of conditions after \"all\"" },
    { "{\"any\": {\"a\": 1}}", 1, 9,
      "expected a non-empty array of conditions after \"any\"" },
    { "{\"not\": [{\"arg.a\": 1}]}", 1, 9,
      "expected a condition: an object such as { \"profile.tier\": "
      "\"gold\" }" },
    { "{\"all\": [{\"arg.a\": 1}, {\"any\": [{\"arg.b\": {\"nope\": 1}}]}]}",
      1, 44,
      "unknown operator \"nope\": expected eq, ne, in, nin, gt, gte, lt, lte, "
      "between, exists, contains, prefix, suffix, regex or cidr" },
    /* columns count characters, not bytes */
    { "{\"arg.\xc3\xa9t\xc3\xa9\": {\"bad\": 1}}", 1, 14,
      "unknown operator \"bad\": expected eq, ne, in, nin, gt, gte, lt, lte, "
      "between, exists, contains, prefix, suffix, regex or cidr" },
    { "{\"arg.a\": {\"regex\": \"\\u00e9(\"}}", 1, 29,
      "expected a valid regular expression: missing closing parenthesis" },
};


static void
test_compile_errors(void **state)
{
    int                  rc;
    size_t               i, failures;
    test_arena_t         ar;
    persona_json_t       doc;
    persona_cond_t      *cond;
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_cond_ctx_t   ctx;

    failures = 0;

    for (i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
        test_arena_init(&ar);
        persona_attrs_init(&attrs, &ar.alloc);
        memset(&ctx, 0, sizeof(ctx));
        ctx.alloc = &ar.alloc;
        ctx.attrs = &attrs;
        memset(&err, 0, sizeof(err));

        rc = persona_json_parse(&doc, error_cases[i].when,
                                strlen(error_cases[i].when), &ar.alloc, &err);
        assert_int_equal(rc, PERSONA_OK);

        ctx.doc = &doc;
        rc = persona_cond_compile(&cond, doc.root, &ctx, &err);

        if (rc != PERSONA_ERROR
            || strcmp(err.msg, error_cases[i].msg) != 0
            || err.line != error_cases[i].line
            || err.column != error_cases[i].column)
        {
            print_error("case %zu: %s\n  got %d %u:%u: %s\n", i,
                        error_cases[i].when, rc, err.line, err.column,
                        err.msg);
            failures++;
        }

        persona_json_close(&doc);
        test_arena_free(&ar);
    }

    assert_int_equal(failures, 0);
}


static void
test_explain(void **state)
{
    char                 buf[256];
    test_arena_t         ar;
    persona_json_t       doc;
    persona_cond_t      *cond;
    persona_error_t      err;
    persona_eval_t       ev;
    persona_attrs_t      attrs;
    persona_cond_ctx_t   ctx;
    const persona_cond_t  *failed;
    const char          *when;

    when = "{\"geo.country\": \"CN\",\n \"profile.ltv\": {\"gte\": 100},\n"
           " \"any\": [{\"device\": \"mobile\"}, {\"device\": \"tablet\"}],\n"
           " \"not\": {\"arg.x\": {\"in\": [1, 2]}}}";

    test_arena_init(&ar);
    persona_attrs_init(&attrs, &ar.alloc);
    memset(&ctx, 0, sizeof(ctx));
    ctx.alloc = &ar.alloc;
    ctx.attrs = &attrs;

    assert_int_equal(persona_json_parse(&doc, when, strlen(when), &ar.alloc,
                                        &err), PERSONA_OK);
    assert_int_equal(persona_cond_compile(&cond, doc.root, &ctx, &err),
                     PERSONA_OK);
    persona_json_close(&doc);

    ev.lookup = test_lookup;
    ev.scratch = NULL;

    ev.data = KV("geo.country", "CN", "profile.ltv", "50");
    assert_int_equal(persona_cond_explain(cond, &ev, &failed), 0);
    assert_non_null(failed);
    persona_cond_describe(failed, buf, sizeof(buf));
    assert_string_equal(buf, "profile.ltv gte 100");
    assert_int_equal(failed->line, 2);
    assert_int_equal(failed->column, 18);

    ev.data = KV("geo.country", "CN", "profile.ltv", "150", "device", "bot");
    assert_int_equal(persona_cond_explain(cond, &ev, &failed), 0);
    persona_cond_describe(failed, buf, sizeof(buf));
    assert_string_equal(buf, "any of 2 conditions");
    assert_int_equal(failed->line, 3);
    assert_int_equal(failed->column, 2);

    ev.data = KV("geo.country", "CN", "profile.ltv", "150", "device",
                 "tablet", "arg.x", "2");
    assert_int_equal(persona_cond_explain(cond, &ev, &failed), 0);
    persona_cond_describe(failed, buf, sizeof(buf));
    assert_string_equal(buf, "not (arg.x in [1,2])");

    ev.data = KV("geo.country", "CN", "profile.ltv", "150", "device",
                 "tablet", "arg.x", "3");
    assert_int_equal(persona_cond_explain(cond, &ev, &failed), 1);
    assert_null(failed);

    ev.data = KV("geo.country", "FR");
    assert_int_equal(persona_cond_explain(cond, &ev, &failed), 0);
    persona_cond_describe(failed, buf, sizeof(buf));
    assert_string_equal(buf, "geo.country eq \"CN\"");

    /* a tiny buffer truncates, NUL-terminated */
    assert_int_equal(persona_cond_describe(failed, buf, 5), 4);
    assert_string_equal(buf, "geo.");

    /* regex without scratch never matches */
    test_arena_free(&ar);
}


/* a segment whose regex hits the limits does not match, even under "not" */
static void
test_regex_limit_segment(void **state)
{
    const char        *text;
    persona_str_t      matches[3];
    persona_rules_t   *rs;
    persona_error_t    err;
    persona_result_t   res;

    text = "{ \"segments\": ["
           " { \"name\": \"human\", \"when\": { \"not\": "
           "   { \"header.user_agent\": { \"regex\": \"^(a+)+$\" } } } },"
           " { \"name\": \"other\", \"when\": "
           "   { \"header.user_agent\": { \"exists\": true } } } ],"
           " \"default\": \"everyone\" }";

    assert_int_equal(persona_rules_load_buffer(&rs, "limit.json", text,
                                               strlen(text), NULL, &err),
                     PERSONA_OK);

    memset(&res, 0, sizeof(res));
    res.matches = matches;

    persona_rules_eval(rs, test_lookup,
                       KV_LIST("header.user_agent",
                               "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                               "aaaaaaaaaaaaaaab"), &res);
    assert_int_equal(res.nmatches, 1);
    assert_int_equal(res.segment.len, 5);
    assert_memory_equal(res.segment.data, "other", 5);
    assert_int_equal(res.nlimited, 1);
    assert_memory_equal(res.limited.data, "human", 5);

    /* a short value is decided: "not" holds */
    memset(&res, 0, sizeof(res));
    res.matches = matches;

    persona_rules_eval(rs, test_lookup, KV_LIST("header.user_agent", "ab"),
                       &res);
    assert_int_equal(res.nmatches, 2);
    assert_memory_equal(res.segment.data, "human", 5);
    assert_int_equal(res.nlimited, 0);

    persona_rules_free(rs);
}


static void
test_nomem(void **state)
{
    int                  rc;
    long                 n;
    test_arena_t         ar;
    persona_json_t       doc;
    persona_cond_t      *cond;
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_cond_ctx_t   ctx;
    const char          *when;

    when = "{\"any\": [{\"arg.a\": {\"regex\": \"^x+y$\"}}, "
           "{\"var.remote_addr\": {\"cidr\": [\"10.0.0.0/8\"]}}, "
           "{\"profile.t\": {\"in\": [\"a\", 1, true]}}]}";

    /* every allocation failure is reported, never a crash */
    for (n = 0; n < 200; n++) {
        test_arena_init(&ar);
        persona_attrs_init(&attrs, &ar.alloc);
        memset(&ctx, 0, sizeof(ctx));
        ctx.alloc = &ar.alloc;
        ctx.attrs = &attrs;

        rc = persona_json_parse(&doc, when, strlen(when), &ar.alloc, &err);
        assert_int_equal(rc, PERSONA_OK);

        ar.fail_after = n;
        ar.count = 0;
        rc = persona_cond_compile(&cond, doc.root, &ctx, &err);
        persona_json_close(&doc);
        test_arena_free(&ar);

        if (rc == PERSONA_OK) {
            break;
        }

        assert_true(rc == PERSONA_NOMEM || rc == PERSONA_ERROR);
    }

    assert_true(n > 5 && n < 200);
}


static void
test_attr_resolve(void **state)
{
    test_arena_t           ar;
    persona_error_t        err;
    persona_attrs_t        attrs;
    const persona_attr_t  *a, *b;

    test_arena_init(&ar);
    persona_attrs_init(&attrs, &ar.alloc);

    a = persona_attr_resolve(&attrs, "profile.address.city", 20, &err);
    assert_non_null(a);
    assert_int_equal(a->ns, PERSONA_ATTR_PROFILE);
    assert_int_equal(a->name.len, 12);
    assert_memory_equal(a->name.data, "address.city", 12);
    assert_int_equal(a->index, 0);

    b = persona_attr_resolve(&attrs, "profile.address.city", 20, &err);
    assert_ptr_equal(a, b);

    a = persona_attr_resolve(&attrs, "header.User-Agent", 17, &err);
    assert_non_null(a);
    assert_int_equal(a->ns, PERSONA_ATTR_HEADER);
    assert_memory_equal(a->name.data, "user-agent", 10);
    assert_string_equal(a->full.data, "header.User-Agent");
    assert_int_equal(a->index, 1);

    a = persona_attr_resolve(&attrs, "var.Remote_Addr", 15, &err);
    assert_non_null(a);
    assert_int_equal(a->ns, PERSONA_ATTR_VAR);
    assert_memory_equal(a->name.data, "remote_addr", 11);

    a = persona_attr_resolve(&attrs, "geo.time_zone", 13, &err);
    assert_non_null(a);
    assert_int_equal(a->ns, PERSONA_ATTR_GEO);
    assert_int_equal(a->field, PERSONA_GEO_TIME_ZONE);

    a = persona_attr_resolve(&attrs, "cookie.cart_id", 14, &err);
    assert_non_null(a);
    assert_int_equal(a->ns, PERSONA_ATTR_COOKIE);

    a = persona_attr_resolve(&attrs, "arg.utm_source", 14, &err);
    assert_non_null(a);
    assert_int_equal(a->ns, PERSONA_ATTR_ARG);

    assert_int_equal(attrs.uses & PERSONA_ATTR_BIT(PERSONA_ATTR_DEVICE), 0);
    a = persona_attr_resolve(&attrs, "device", 6, &err);
    assert_non_null(a);
    assert_int_equal(a->name.len, 0);
    assert_int_not_equal(attrs.uses & PERSONA_ATTR_BIT(PERSONA_ATTR_DEVICE),
                         0);
    assert_int_equal(attrs.uses & PERSONA_ATTR_BIT(PERSONA_ATTR_LANG), 0);

    assert_non_null(persona_attr_resolve(&attrs, "lang", 4, &err));
    assert_non_null(persona_attr_resolve(&attrs, "request.path", 12, &err));
    assert_non_null(persona_attr_resolve(&attrs, "request.host", 12, &err));
    assert_non_null(persona_attr_resolve(&attrs, "request.method", 14, &err));
    assert_non_null(persona_attr_resolve(&attrs, "referer.host", 12, &err));
    assert_non_null(persona_attr_resolve(&attrs, "time.hour", 9, &err));
    assert_non_null(persona_attr_resolve(&attrs, "time.weekday", 12, &err));
    assert_non_null(persona_attr_resolve(&attrs, "time.date", 9, &err));
    assert_non_null(persona_attr_resolve(&attrs, "visitor.known", 13, &err));
    assert_non_null(persona_attr_resolve(&attrs, "visitor.new", 11, &err));
    assert_int_equal(attrs.nattrs, 17);

    assert_null(persona_attr_resolve(&attrs, "devices", 7, &err));
    assert_null(persona_attr_resolve(&attrs, "device.x", 8, &err));
    assert_string_equal(err.msg, "unknown attribute \"device.x\": expected "
                        "device");
    assert_null(persona_attr_resolve(&attrs, "arg", 3, &err));
    assert_null(persona_attr_resolve(&attrs, "arg.", 4, &err));
    assert_null(persona_attr_resolve(&attrs, "", 0, &err));
    assert_null(persona_attr_resolve(&attrs, "cookie.a=b", 10, &err));
    assert_null(persona_attr_resolve(&attrs, "profile.{x}", 11, &err));

    test_arena_free(&ar);
}


typedef struct {
    const char        *ua;
    persona_device_e   device;
} ua_case_t;


static const ua_case_t  ua_cases[] = {
    { "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
      "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 "
      "Safari/604.1", PERSONA_DEVICE_MOBILE },
    { "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, "
      "like Gecko) Chrome/120.0 Mobile Safari/537.36", PERSONA_DEVICE_MOBILE },
    { "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
      PERSONA_DEVICE_TABLET },
    { "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, "
      "like Gecko) Chrome/120.0 Safari/537.36", PERSONA_DEVICE_TABLET },
    { "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
      "like Gecko) Chrome/120.0 Safari/537.36", PERSONA_DEVICE_DESKTOP },
    { "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 "
      "(KHTML, like Gecko) Version/17.0 Safari/605.1.15",
      PERSONA_DEVICE_DESKTOP },
    { "Mozilla/5.0 (compatible; Googlebot/2.1; "
      "+http://www.google.com/bot.html)", PERSONA_DEVICE_BOT },
    { "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) "
      "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile "
      "Safari/537.36 (compatible; Googlebot/2.1)", PERSONA_DEVICE_BOT },
    { "facebookexternalhit/1.1", PERSONA_DEVICE_BOT },
    { "curl/8.4.0", PERSONA_DEVICE_BOT },
    { "Mozilla/5.0 HeadlessChrome/120.0", PERSONA_DEVICE_BOT },
    { "", PERSONA_DEVICE_BOT },
    { "Mozilla/5.0 (Linux; U; Android 4.0.3; KFTT Build/IML74K) "
      "AppleWebKit/535.19 Silk/3.4 Mobile Safari/535.19",
      PERSONA_DEVICE_TABLET },
    { "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80) Presto/2.5.25",
      PERSONA_DEVICE_MOBILE },
    { "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1) Edge/15 Mobile",
      PERSONA_DEVICE_MOBILE },
    { "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 "
      "Firefox/120.0", PERSONA_DEVICE_DESKTOP },
};


static void
test_device(void **state)
{
    size_t         i;
    persona_str_t  s;

    for (i = 0; i < sizeof(ua_cases) / sizeof(ua_cases[0]); i++) {
        if (persona_device(ua_cases[i].ua, strlen(ua_cases[i].ua))
            != ua_cases[i].device)
        {
            print_error("ua case %zu\n", i);
        }

        assert_int_equal(persona_device(ua_cases[i].ua,
                                        strlen(ua_cases[i].ua)),
                         ua_cases[i].device);
    }

    s = persona_device_name(PERSONA_DEVICE_MOBILE);
    assert_int_equal(s.len, 6);
    assert_memory_equal(s.data, "mobile", 6);
    s = persona_device_name(PERSONA_DEVICE_BOT);
    assert_memory_equal(s.data, "bot", 3);
    s = persona_device_name((persona_device_e) 99);
    assert_memory_equal(s.data, "desktop", 7);
}


static void
test_lang(void **state)
{
    size_t  i, n;
    char    buf[PERSONA_LANG_MAX];

    static const char  *cases[][2] = {
        { "de-CH,de;q=0.9,en;q=0.8", "de" },
        { "en;q=0.5, fr", "fr" },
        { "zh-CN", "zh" },
        { "EN-us", "en" },
        { "*", "" },
        { "*;q=1, it;q=0.1", "it" },
        { "fr;q=0, es;q=0.2", "es" },
        { "en;q=0.8, de;q=0.8", "en" },
        { "", "" },
        { " ,,, ", "" },
        { "x-pig-latin", "x" },
        { "abcdefghi", "" },
        { "1234", "" },
        { "pt_BR;q=0.900, pt;q=0.95", "pt" },
        { "ja ; q=0.3 , ko;q=0.301", "ko" },
        { "en;q=", "" },
        { "de;q=1.0", "de" },
    };

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 0, sizeof(buf));
        n = persona_lang(cases[i][0], strlen(cases[i][0]), buf);

        if (n != strlen(cases[i][1])
            || memcmp(buf, cases[i][1], n) != 0)
        {
            print_error("lang case %zu: \"%s\" -> \"%.*s\"\n", i, cases[i][0],
                        (int) n, buf);
        }

        assert_int_equal(n, strlen(cases[i][1]));
        assert_memory_equal(buf, cases[i][1], n);
    }
}


static void
test_number(void **state)
{
    double  d;

    assert_true(persona_number("12", 2, &d));
    assert_true(d == 12);
    assert_true(persona_number("-1.5e2", 6, &d));
    assert_true(d == -150);
    assert_true(persona_number(".5", 2, &d));
    assert_true(d == 0.5);
    assert_true(persona_number("5.", 2, &d));
    assert_false(persona_number("", 0, &d));
    assert_false(persona_number("-", 1, &d));
    assert_false(persona_number(".", 1, &d));
    assert_false(persona_number("1e", 2, &d));
    assert_false(persona_number("1,5", 3, &d));
    assert_false(persona_number("12", 1, &d) && d != 1);
    assert_false(persona_number("Infinity", 8, &d));
    assert_false(persona_number("0x10", 4, &d));
    assert_false(persona_number("1 ", 2, &d));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_eval_table),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_explain),
        cmocka_unit_test(test_nomem),
        cmocka_unit_test(test_regex_limit_segment),
        cmocka_unit_test(test_attr_resolve),
        cmocka_unit_test(test_device),
        cmocka_unit_test(test_lang),
        cmocka_unit_test(test_number),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
