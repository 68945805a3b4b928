/*
 * The data layer script (JSON escaped for a script element) and the
 * private form of Cache-Control values.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>

#include "persona_output.h"


/* an arena of malloc'd blocks, freed at the end of each test */
typedef struct {
    void    *blocks[64];
    size_t   n;
    size_t   fail_after;    /* 0: never fail */
} arena_t;


static void *
arena_alloc(void *data, size_t size)
{
    arena_t  *ar = data;
    void     *p;

    if (ar->fail_after && ar->n + 1 >= ar->fail_after) {
        return NULL;
    }

    assert_true(ar->n < 64);

    p = malloc(size ? size : 1);
    ar->blocks[ar->n++] = p;

    return p;
}


static void
arena_free(arena_t *ar)
{
    size_t  i;

    for (i = 0; i < ar->n; i++) {
        free(ar->blocks[i]);
    }

    ar->n = 0;
}


#define S(s)  { s, sizeof(s) - 1 }


typedef struct {
    persona_str_t   segment;
    persona_str_t   segments;
    persona_str_t   variants;
    const char     *json;     /* what goes between "=" and ";</script>" */
} layer_case_t;


static const layer_case_t  layer_cases[] = {
    { S("vip"), S("vip,spender"), S("hero-copy=urgency"),
      "{\"segment\":\"vip\",\"segments\":[\"vip\",\"spender\"],"
      "\"variants\":{\"hero-copy\":\"urgency\"}}" },

    { S("default"), S(""), S(""),
      "{\"segment\":\"default\",\"segments\":[],\"variants\":{}}" },

    { { NULL, 0 }, { NULL, 0 }, { NULL, 0 },
      "{\"segment\":\"\",\"segments\":[],\"variants\":{}}" },

    /* empty items, blanks, pairs without a name or a value */
    { S("a"), S(",a,, b ,"), S("x=1,=2,y=,z,w=3"),
      "{\"segment\":\"a\",\"segments\":[\"a\",\"b\"],"
      "\"variants\":{\"x\":\"1\",\"w\":\"3\"}}" },

    /* hostile text cannot end the script or break the string */
    { S("</script><script>alert(1)</script>"),
      S("a&b,<!--x-->,\"q\\"), S("e<1>=v&2"),
      "{\"segment\":\"\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"
      "\\u003c/script\\u003e\",\"segments\":[\"a\\u0026b\","
      "\"\\u003c!--x--\\u003e\",\"\\\"q\\\\\"],"
      "\"variants\":{\"e\\u003c1\\u003e\":\"v\\u00262\"}}" },

    /* U+2028 and U+2029 end a line in old JavaScript */
    { S("l\xe2\x80\xa8s\xe2\x80\xa9p"), S("\xe5\x8c\x97"), S(""),
      "{\"segment\":\"l\\u2028s\\u2029p\",\"segments\":[\"\xe5\x8c\x97\"],"
      "\"variants\":{}}" },

    /* not UTF-8: left out (the segment becomes "") */
    { S("\xff"), S("ok,\xc3,\xe2\x80"), S("k=\xff,\xfe=v,good=1"),
      "{\"segment\":\"\",\"segments\":[\"ok\"],"
      "\"variants\":{\"good\":\"1\"}}" },

    /* control bytes (a segment can come from a profile): left out */
    { { "vip\0x", 5 }, S("a\r\nb,ok,\x7f"), { "k\0=v,v=\x01,n=1", 12 },
      "{\"segment\":\"\",\"segments\":[\"ok\"],"
      "\"variants\":{\"n\":\"1\"}}" },

    { { NULL, 0 }, { NULL, 0 }, { NULL, 0 }, NULL }
};


static void
test_data_layer(void **state)
{
    char                 want[1024];
    arena_t              ar;
    persona_str_t        out;
    persona_alloc_t      a;
    const layer_case_t  *c;

    (void) state;

    memset(&ar, 0, sizeof(arena_t));
    a.alloc = arena_alloc;
    a.data = &ar;

    for (c = layer_cases; c->json; c++) {
        snprintf(want, sizeof(want), "%s%s%s", PERSONA_DATA_LAYER_START,
                 c->json, PERSONA_DATA_LAYER_END);

        assert_int_equal(persona_data_layer(&c->segment, &c->segments,
                                            &c->variants, &a, &out),
                         PERSONA_OK);

        if (out.len != strlen(want) || memcmp(out.data, want, out.len)) {
            print_error("got  %.*s\nwant %s\n", (int) out.len, out.data,
                        want);
            fail();
        }

        assert_int_equal(out.data[out.len], '\0');

        arena_free(&ar);
    }
}


/* the JSON between the script tags parses back to the original values */
static void
test_data_layer_round_trip(void **state)
{
    size_t           start, end;
    arena_t          ar;
    json_t          *j;
    persona_str_t    out;
    persona_alloc_t  a;
    json_error_t     jerr;

    static const persona_str_t  seg = S("<\xe2\x80\xa8&>");
    static const persona_str_t  segs = S("x</script>");
    static const persona_str_t  vars = S("exp=<b>");

    (void) state;

    memset(&ar, 0, sizeof(arena_t));
    a.alloc = arena_alloc;
    a.data = &ar;

    assert_int_equal(persona_data_layer(&seg, &segs, &vars, &a, &out),
                     PERSONA_OK);

    assert_null(memchr(out.data + 8, '<', out.len - 18));

    start = sizeof(PERSONA_DATA_LAYER_START) - 1;
    end = out.len - (sizeof(PERSONA_DATA_LAYER_END) - 1);

    j = json_loadb(out.data + start, end - start, 0, &jerr);
    assert_non_null(j);

    assert_string_equal(json_string_value(json_object_get(j, "segment")),
                        "<\xe2\x80\xa8&>");
    assert_string_equal(json_string_value(
                            json_array_get(json_object_get(j, "segments"), 0)),
                        "x</script>");
    assert_string_equal(json_string_value(
                            json_object_get(json_object_get(j, "variants"),
                                            "exp")),
                        "<b>");

    json_decref(j);
    arena_free(&ar);
}


static void
test_data_layer_nomem(void **state)
{
    size_t           k;
    arena_t          ar;
    persona_str_t    out;
    persona_alloc_t  a;

    static const persona_str_t  seg = S("vip");
    static const persona_str_t  segs = S("vip");
    static const persona_str_t  vars = S("");

    (void) state;

    a.alloc = arena_alloc;
    a.data = &ar;

    for (k = 1; k <= 2; k++) {
        memset(&ar, 0, sizeof(arena_t));
        ar.fail_after = k;

        assert_int_equal(persona_data_layer(&seg, &segs, &vars, &a, &out),
                         PERSONA_NOMEM);
        arena_free(&ar);
    }
}


static void
test_script_escape(void **state)
{
    char    buf[64];
    size_t  n;

    (void) state;

    assert_int_equal(persona_json_script_escape("abc", 3, NULL), 3);
    assert_int_equal(persona_json_script_escape("", 0, NULL), 0);

    n = persona_json_script_escape("<&>", 3, NULL);
    assert_int_equal(n, 18);
    assert_int_equal(persona_json_script_escape("<&>", 3, buf), 18);
    assert_memory_equal(buf, "\\u003c\\u0026\\u003e", 18);

    /* a cut U+2028 and other E2 sequences pass unchanged */
    n = persona_json_script_escape("\xe2\x80", 2, buf);
    assert_int_equal(n, 2);
    assert_memory_equal(buf, "\xe2\x80", 2);

    n = persona_json_script_escape("\xe2\x82\xac\xe2\x80\xa9", 6, buf);
    assert_int_equal(n, 9);
    assert_memory_equal(buf, "\xe2\x82\xac\\u2029", 9);
}


typedef struct {
    const char  *in;
    const char  *out;
} cc_case_t;


static const cc_case_t  cc_cases[] = {
    { "", "private" },
    { "public", "private" },
    { "public, max-age=600", "private, max-age=600" },
    { "max-age=600, s-maxage=3600, public", "private, max-age=600" },
    { "no-store", "private, no-store" },
    { "private", "private" },
    { "private=\"Set-Cookie\", max-age=0", "private, max-age=0" },
    { "PUBLIC, S-MaxAge=10, No-Cache", "private, No-Cache" },
    { "  ,max-age=1 ,, must-revalidate,  ", "private, max-age=1, must-revalidate" },
    { "no-cache=\"Set-Cookie, X-A\", public",
      "private, no-cache=\"Set-Cookie, X-A\"" },
    { "x=\"a\\\"b,c\", public", "private, x=\"a\\\"b,c\"" },
    { "publicity, s-maxagex", "private, publicity, s-maxagex" },
    { "no-store, max-age=0, public, immutable",
      "private, no-store, max-age=0, immutable" },
    /* an unterminated quote takes the rest */
    { "x=\"open, public", "private, x=\"open, public" },
    { ",", "private" },
    { "a,b,c", "private, a, b, c" },
    { NULL, NULL }
};


static void
test_cache_control(void **state)
{
    char             *buf;
    size_t            n, len;
    const cc_case_t  *c;

    (void) state;

    for (c = cc_cases; c->in; c++) {
        len = strlen(c->in);
        buf = malloc(PERSONA_CACHE_CONTROL_SIZE(len));
        assert_non_null(buf);

        n = persona_cache_control_private(c->in, len, buf);

        if (n != strlen(c->out) || memcmp(buf, c->out, n) != 0) {
            print_error("in   \"%s\"\ngot  \"%.*s\"\nwant \"%s\"\n", c->in,
                        (int) n, buf, c->out);
            fail();
        }

        assert_true(n <= PERSONA_CACHE_CONTROL_SIZE(len));
        free(buf);
    }
}


/* the worst case for the output size: many one-byte directives */
static void
test_cache_control_size(void **state)
{
    char    in[201], *buf;
    size_t  i, n;

    (void) state;

    for (i = 0; i < 200; i += 2) {
        in[i] = 'a';
        in[i + 1] = ',';
    }

    in[200] = '\0';

    for (i = 0; i <= 200; i++) {
        buf = malloc(PERSONA_CACHE_CONTROL_SIZE(i));
        assert_non_null(buf);

        n = persona_cache_control_private(in, i, buf);
        assert_true(n <= PERSONA_CACHE_CONTROL_SIZE(i));

        free(buf);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_data_layer),
        cmocka_unit_test(test_data_layer_round_trip),
        cmocka_unit_test(test_data_layer_nomem),
        cmocka_unit_test(test_script_escape),
        cmocka_unit_test(test_cache_control),
        cmocka_unit_test(test_cache_control_size),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
