/*
 * Templates: parsing, errors with positions, HTML and header escaping of
 * hostile values, buffer sizes and the header cap.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include "persona_template.h"
#include "rules_test_util.h"


/* values with explicit lengths, so they may hold NUL */
typedef struct {
    const char  *name;
    const char  *value;
    size_t       len;
} bin_attr_t;


#define BIN(n, v)  { n, v, sizeof(v) - 1 }

static const bin_attr_t  hostile[] = {
    BIN("profile.first_name", "<script>alert(1)</script>"),
    BIN("profile.quote", "\"onmouseover='x'`"),
    BIN("profile.amp", "a&b&amp;"),
    BIN("profile.crlf", "evil\r\nSet-Cookie: x=1"),
    BIN("profile.nul", "a\0b"),
    BIN("profile.ls", "line\xe2\x80\xa8sep\xe2\x80\xa9para"),
    BIN("profile.utf8", "Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac"),
    BIN("profile.ctl", "\x01\x1f\x7f" "ok\tok\x0b"),
    BIN("profile.blank", "   "),
    BIN("profile.empty", ""),
    BIN("profile.broken", "\xe2\x80" "x\xc3"),
    { NULL, NULL, 0 }
};


static int
bin_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    const bin_attr_t  *b;

    for (b = data; b->name; b++) {
        if (strlen(b->name) == attr->full.len
            && memcmp(b->name, attr->full.data, attr->full.len) == 0)
        {
            value->data = b->value;
            value->len = b->len;
            return PERSONA_ATTR_FOUND;
        }
    }

    return PERSONA_ATTR_NOT_FOUND;
}


typedef struct {
    const char  *tpl;
    unsigned     mode;
    const char  *out;
    size_t       outlen;      /* 0: strlen(out) */
} render_case_t;


#define H  PERSONA_ESCAPE_HTML
#define R  PERSONA_ESCAPE_HEADER

static const render_case_t  render_cases[] = {
    { "plain <b>text</b> & more", H, "plain <b>text</b> & more", 0 },
    { "", H, "", 0 },
    { "<h1>Hi {{profile.first_name}}</h1>", H,
      "<h1>Hi &lt;script&gt;alert(1)&lt;/script&gt;</h1>", 0 },
    { "<a title=\"{{profile.quote}}\">", H,
      "<a title=\"&quot;onmouseover=&#39;x&#39;&#96;\">", 0 },
    { "{{profile.amp}}", H, "a&amp;b&amp;amp;", 0 },
    { "{{profile.crlf}}", H, "evil\r\nSet-Cookie: x=1", 0 },
    { "[{{profile.nul}}]", H, "[ab]", 0 },
    { "{{profile.ls}}", H, "line&#x2028;sep&#x2029;para", 0 },
    { "{{profile.utf8}}", H, "Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac", 0 },
    { "{{profile.broken}}", H, "\xe2\x80x\xc3", 0 },
    { "Hi {{ profile.missing | dear <friend> }}!", H,
      "Hi dear &lt;friend&gt;!", 0 },
    { "Hi {{profile.missing}}!", H, "Hi !", 0 },
    { "Hi {{profile.empty|friend}}!", H, "Hi friend!", 0 },
    { "Hi {{profile.missing|}}!", H, "Hi !", 0 },
    { "a}}b{{profile.amp}}c}}", H, "a}}ba&amp;b&amp;amp;c}}", 0 },
    { "{{profile.amp}}{{profile.amp}}", H, "a&amp;b&amp;amp;a&amp;b&amp;amp;",
      0 },
    { "{{profile.first_name|x|y}}", H,
      "&lt;script&gt;alert(1)&lt;/script&gt;", 0 },
    { "{{profile.missing|x|y}}", H, "x|y", 0 },

    { "free-shipping", R, "free-shipping", 0 },
    { "{{profile.crlf}}", R, "evilSet-Cookie: x=1", 0 },
    { "id={{profile.nul}}", R, "id=ab", 0 },
    { "{{profile.ctl}}", R, "okok", 0 },
    { "{{profile.first_name}}", R, "<script>alert(1)</script>", 0 },
    { "  {{profile.blank}} x {{profile.blank}}  ", R, "x", 0 },
    { "{{profile.blank}}", R, "", 0 },
    { "{{profile.missing}}", R, "", 0 },
    { "v={{profile.missing|none}}", R, "v=none", 0 },
    { "{{profile.utf8}}", R, "Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac", 0 },
    { "{{profile.ls}}", R, "line\xe2\x80\xa8sep\xe2\x80\xa9para", 0 },
    { "{{profile.broken}}", R, "\xe2\x80x\xc3", 0 },
};


static void
test_render_table(void **state)
{
    int                  rc;
    size_t               i, n, off, want;
    char                 buf[256];
    test_arena_t         ar;
    persona_str_t        out;
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_template_t  *t;

    for (i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]); i++) {
        test_arena_init(&ar);
        persona_attrs_init(&attrs, &ar.alloc);

        rc = persona_template_compile(&t, render_cases[i].tpl,
                                      strlen(render_cases[i].tpl), &attrs,
                                      &ar.alloc, &err, &off);
        if (rc != PERSONA_OK) {
            print_error("case %zu: %s\n", i, err.msg);
        }
        assert_int_equal(rc, PERSONA_OK);

        want = render_cases[i].outlen ? render_cases[i].outlen
                                      : strlen(render_cases[i].out);

        n = persona_template_render(t, render_cases[i].mode, bin_lookup,
                                    (void *) hostile, buf, sizeof(buf));
        if (n != want || memcmp(buf, render_cases[i].out, n) != 0) {
            print_error("case %zu: \"%s\" -> \"%.*s\"\n", i,
                        render_cases[i].tpl, (int) n, buf);
        }
        assert_int_equal(n, want);
        assert_memory_equal(buf, render_cases[i].out, n);

        /* sizing pass and the allocating variant agree */
        assert_int_equal(persona_template_render(t, render_cases[i].mode,
                                                 bin_lookup, (void *) hostile,
                                                 NULL, 0), want);

        assert_int_equal(persona_template_render_alloc(t,
                             render_cases[i].mode, bin_lookup,
                             (void *) hostile, &ar.alloc, &out), PERSONA_OK);
        assert_int_equal(out.len, want);
        assert_memory_equal(out.data, render_cases[i].out, want);
        assert_int_equal(out.data[want], '\0');

        test_arena_free(&ar);
    }
}


static void
test_small_buffer(void **state)
{
    size_t               n, off;
    char                 buf[8];
    test_arena_t         ar;
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_template_t  *t;
    const char          *src;

    test_arena_init(&ar);
    persona_attrs_init(&attrs, &ar.alloc);

    src = "ab{{profile.amp}}cd";
    assert_int_equal(persona_template_compile(&t, src, strlen(src), &attrs,
                                              &ar.alloc, &err, &off),
                     PERSONA_OK);
    assert_int_equal(t->nparts, 3);
    assert_false(persona_template_is_static(t));

    memset(buf, 'X', sizeof(buf));
    n = persona_template_render(t, PERSONA_ESCAPE_HTML, bin_lookup,
                                (void *) hostile, buf, 5);
    assert_int_equal(n, strlen("aba&amp;b&amp;amp;cd"));
    assert_memory_equal(buf, "aba&aXXX", 8);

    src = "no placeholders";
    assert_int_equal(persona_template_compile(&t, src, strlen(src), &attrs,
                                              &ar.alloc, &err, &off),
                     PERSONA_OK);
    assert_true(persona_template_is_static(t));

    assert_int_equal(persona_template_compile(&t, "", 0, &attrs, &ar.alloc,
                                              &err, &off), PERSONA_OK);
    assert_true(persona_template_is_static(t));
    assert_int_equal(t->nparts, 0);

    test_arena_free(&ar);
}


static char  big[8192], buf[8192];


static void
test_header_cap(void **state)
{
    size_t               n, off, i;
    test_arena_t         ar;
    bin_attr_t           attrs_v[2];
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_template_t  *t;

    test_arena_init(&ar);
    persona_attrs_init(&attrs, &ar.alloc);

    /* 4094 x "a", then a 3-byte character that would end at 4097 */
    memset(big, 'a', 4094);
    memcpy(big + 4094, "\xe5\x8c\x97tail", 7);

    attrs_v[0].name = "arg.big";
    attrs_v[0].value = big;
    attrs_v[0].len = 4101;
    attrs_v[1].name = NULL;

    assert_int_equal(persona_template_compile(&t, "{{arg.big}}", 11, &attrs,
                                              &ar.alloc, &err, &off),
                     PERSONA_OK);

    n = persona_template_render(t, PERSONA_ESCAPE_HEADER, bin_lookup,
                                attrs_v, buf, 8192);
    assert_int_equal(n, 4094);

    /* blanks before the cut are trimmed too */
    memset(big, 'b', 4000);
    memset(big + 4000, ' ', 200);
    attrs_v[0].len = 4300;
    n = persona_template_render(t, PERSONA_ESCAPE_HEADER, bin_lookup,
                                attrs_v, buf, 8192);
    assert_int_equal(n, 4000);

    /* exactly at the cap */
    memset(big, 'c', 4096);
    attrs_v[0].len = 4096;
    n = persona_template_render(t, PERSONA_ESCAPE_HEADER, bin_lookup,
                                attrs_v, buf, 8192);
    assert_int_equal(n, 4096);
    attrs_v[0].len = 8000;
    memset(big, 'c', 8000);
    n = persona_template_render(t, PERSONA_ESCAPE_HEADER, bin_lookup,
                                attrs_v, NULL, 0);
    assert_int_equal(n, PERSONA_HEADER_MAX);

    for (i = 0; i < n; i++) {
        if (buf[i] != 'c') {
            break;
        }
    }
    assert_int_equal(i, 4096);

    /* HTML has no cap */
    n = persona_template_render(t, PERSONA_ESCAPE_HTML, bin_lookup,
                                attrs_v, NULL, 0);
    assert_int_equal(n, 8000);

    test_arena_free(&ar);
}


typedef struct {
    const char  *tpl;
    unsigned     line;
    unsigned     column;
    size_t       offset;
    const char  *msg;
} tpl_error_t;


static const tpl_error_t  tpl_errors[] = {
    { "Hello {{profile.name", 1, 7, 6,
      "expected \"}}\" to close this \"{{\"" },
    { "Hello {{profile.name}} and {{", 1, 28, 27,
      "expected \"}}\" to close this \"{{\"" },
    { "{{}}", 1, 1, 0,
      "expected an attribute name such as {{profile.first_name}} between "
      "\"{{\" and \"}}\"" },
    { "x {{  |fallback}}", 1, 3, 2,
      "expected an attribute name such as {{profile.first_name}} between "
      "\"{{\" and \"}}\"" },
    { "<p>\n  {{ profil.name }}\n</p>", 2, 6, 9,
      "unknown attribute \"profil.name\": expected profile.*, geo.*, arg.*, "
      "header.*, cookie.*, var.*, request.*, referer.host, device, lang, "
      "time.* or visitor.*" },
    { "\xc3\xa9\xc3\xa9{{geo.zip}}", 1, 5, 6,
      "unknown attribute \"geo.zip\": expected geo.country, geo.continent, "
      "geo.city, geo.subdivision, geo.latitude, geo.longitude or "
      "geo.time_zone" },
    { "{{ {{profile.x}}", 1, 4, 3,
      "unknown attribute \"{{profile.x\": expected profile.*, geo.*, arg.*, "
      "header.*, cookie.*, var.*, request.*, referer.host, device, lang, "
      "time.* or visitor.*" },
    { "{{profile.a b}}", 1, 3, 2,
      "bad attribute \"profile.a b\": expected profile.NAME with a NAME "
      "without spaces, braces or \"|\"" },
};


static void
test_compile_errors(void **state)
{
    int                  rc;
    size_t               i, off;
    test_arena_t         ar;
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_template_t  *t;

    for (i = 0; i < sizeof(tpl_errors) / sizeof(tpl_errors[0]); i++) {
        test_arena_init(&ar);
        persona_attrs_init(&attrs, &ar.alloc);
        memset(&err, 0, sizeof(err));

        rc = persona_template_compile(&t, tpl_errors[i].tpl,
                                      strlen(tpl_errors[i].tpl), &attrs,
                                      &ar.alloc, &err, &off);

        if (rc != PERSONA_ERROR || err.line != tpl_errors[i].line
            || err.column != tpl_errors[i].column
            || off != tpl_errors[i].offset
            || strcmp(err.msg, tpl_errors[i].msg) != 0)
        {
            print_error("case %zu: got %d %u:%u @%zu %s\n", i, rc, err.line,
                        err.column, off, err.msg);
        }

        assert_int_equal(rc, PERSONA_ERROR);
        assert_int_equal(err.line, tpl_errors[i].line);
        assert_int_equal(err.column, tpl_errors[i].column);
        assert_int_equal(off, tpl_errors[i].offset);
        assert_string_equal(err.msg, tpl_errors[i].msg);

        test_arena_free(&ar);
    }
}


static void
test_uses_and_nomem(void **state)
{
    int                  rc;
    long                 n;
    size_t               off;
    test_arena_t         ar;
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_template_t  *t;
    const char          *src;

    src = "{{device}} {{lang|en}} {{geo.country}} {{profile.a.b|x}}";

    test_arena_init(&ar);
    persona_attrs_init(&attrs, &ar.alloc);
    assert_int_equal(persona_template_compile(&t, src, strlen(src), &attrs,
                                              &ar.alloc, &err, &off),
                     PERSONA_OK);
    assert_int_equal(t->uses, PERSONA_ATTR_BIT(PERSONA_ATTR_DEVICE)
                              | PERSONA_ATTR_BIT(PERSONA_ATTR_LANG)
                              | PERSONA_ATTR_BIT(PERSONA_ATTR_GEO)
                              | PERSONA_ATTR_BIT(PERSONA_ATTR_PROFILE));
    assert_int_equal(attrs.uses, t->uses);
    test_arena_free(&ar);

    for (n = 0; n < 100; n++) {
        test_arena_init(&ar);
        persona_attrs_init(&attrs, &ar.alloc);
        ar.fail_after = n;

        rc = persona_template_compile(&t, src, strlen(src), &attrs,
                                      &ar.alloc, &err, &off);
        test_arena_free(&ar);

        if (rc == PERSONA_OK) {
            break;
        }

        assert_true(rc == PERSONA_NOMEM || rc == PERSONA_ERROR);
    }

    assert_true(n > 3 && n < 100);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_render_table),
        cmocka_unit_test(test_small_buffer),
        cmocka_unit_test(test_header_cap),
        cmocka_unit_test(test_compile_errors),
        cmocka_unit_test(test_uses_and_nomem),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
