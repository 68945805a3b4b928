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
    BIN("profile.ctlonly", "\x01\r\n\t \x7f\x1b"),
    BIN("profile.badonly", "\xff\xfe\xc0\xaf\xed\xa0\x80"),
    BIN("profile.mixed", "a\x01" "b\xff" "c\x7f" "d\re"),
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
    { "{{profile.crlf}}", H, "evil\nSet-Cookie: x=1", 0 },
    { "[{{profile.nul}}]", H, "[ab]", 0 },
    { "{{profile.ls}}", H, "line&#x2028;sep&#x2029;para", 0 },
    { "{{profile.utf8}}", H, "Zo\xc3\xab \xe5\x8c\x97\xe4\xba\xac", 0 },
    { "{{profile.broken}}", H, "x", 0 },
    { "{{profile.ctl}}", H, "ok\tok", 0 },
    { "{{profile.mixed}}", H, "abcde", 0 },
    { "[{{profile.blank|friend}}]", H, "[friend]", 0 },
    { "[{{profile.ctlonly|friend}}]", H, "[friend]", 0 },
    { "[{{profile.badonly|friend}}]", H, "[friend]", 0 },
    { "[{{profile.ctlonly}}]", H, "[]", 0 },
    { "[{{profile.badonly}}]", H, "[]", 0 },
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
    { "{{profile.broken}}", R, "x", 0 },
    { "{{profile.mixed}}", R, "abcde", 0 },
    { "{{profile.blank|none}}", R, "none", 0 },
    { "{{profile.ctlonly|none}}", R, "none", 0 },
    { "{{profile.badonly|none}}", R, "none", 0 },
    { "{{profile.ctlonly}}", R, "", 0 },
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


/* blocks: escaping by the HTML context of each placeholder */

static const bin_attr_t  hostile_html[] = {
    BIN("arg.url", "javascript:alert(1)"),
    BIN("arg.x", "x onerror=alert(1)"),
    BIN("arg.q", "\"><script>alert(1)</script>"),
    BIN("arg.ok", "https://example.com/a?b=1&c=2"),
    BIN("arg.rel", "/path/to?x=1"),
    BIN("arg.word", "javascript"),
    BIN("arg.mail", "MailTo:a@b.example"),
    BIN("arg.tel", "tel:+1-555"),
    BIN("arg.tricky", " \tJaVa\nScRiPt:alert(1)"),
    BIN("arg.ctl", "java\x01script:alert(1)"),
    BIN("arg.bad", "java\xffscript:alert(1)"),
    BIN("arg.data", "data:text/html,<script>alert(1)</script>"),
    BIN("arg.vb", "vbscript:x"),
    BIN("arg.colon", ":alert(1)"),
    BIN("arg.dash", "--!><script>alert(1)</script>"),
    BIN("arg.blank", " \x01 "),
    BIN("arg.hash", "#top"),
    BIN("arg.proto", "//cdn.example/x.png"),
    { NULL, NULL, 0 }
};


typedef struct {
    const char  *tpl;
    const char  *out;
} html_case_t;


static const html_case_t  html_cases[] = {
    /* URL attributes */
    { "<a href=\"{{arg.url}}\">x</a>", "<a href=\"#\">x</a>" },
    { "<a HREF='{{arg.url}}'>", "<a HREF='#'>" },
    { "<a href=\"  {{arg.url}}\">", "<a href=\"  #\">" },
    { "<a href=\"{{arg.ok}}\">",
      "<a href=\"https://example.com/a?b=1&amp;c=2\">" },
    { "<a href=\"{{arg.rel}}\">", "<a href=\"/path/to?x=1\">" },
    { "<a href=\"{{arg.hash}}\">", "<a href=\"#top\">" },
    { "<img src=\"{{arg.proto}}\">", "<img src=\"//cdn.example/x.png\">" },
    { "<a href=\"{{arg.word}}\">", "<a href=\"javascript\">" },
    { "<a href=\"{{arg.mail}}\">", "<a href=\"MailTo:a@b.example\">" },
    { "<a href=\"{{arg.tel}}\">", "<a href=\"tel:+1-555\">" },
    { "<a href=\"{{arg.tricky}}\">", "<a href=\"#\">" },
    { "<a href=\"{{arg.ctl}}\">", "<a href=\"#\">" },
    { "<a href=\"{{arg.bad}}\">", "<a href=\"#\">" },
    { "<img src=\"{{arg.data}}\">", "<img src=\"#\">" },
    { "<a href=\"{{arg.vb}}\">", "<a href=\"#\">" },
    { "<form action=\"{{arg.url}}\"><button formaction=\"{{arg.url}}\">",
      "<form action=\"#\"><button formaction=\"#\">" },
    { "<video poster=\"{{arg.url}}\"><q cite=\"{{arg.url}}\">"
      "<object data=\"{{arg.url}}\">",
      "<video poster=\"#\"><q cite=\"#\"><object data=\"#\">" },
    { "<img srcset=\"{{arg.url}}\" data-src=\"{{arg.url}}\" "
      "lowsrc=\"{{arg.url}}\">",
      "<img srcset=\"#\" data-src=\"#\" lowsrc=\"#\">" },
    { "<a data-href=\"{{arg.url}}\"><use xlink:href=\"{{arg.url}}\">",
      "<a data-href=\"#\"><use xlink:href=\"#\">" },
    { "<a href=\"/p/{{arg.url}}\">", "<a href=\"/p/javascript:alert(1)\">" },
    { "<a href=\"https://x.example/?q={{arg.url}}\">",
      "<a href=\"https://x.example/?q=javascript:alert(1)\">" },
    { "<a href=\"java{{arg.colon}}\">", "<a href=\"java#\">" },
    { "<a href=\"{{arg.word}}{{arg.colon}}\">",
      "<a href=\"javascript#\">" },
    { "<a href=\"x{{arg.rel}}\">", "<a href=\"x/path/to?x=1\">" },
    { "<a href=\"{{arg.missing|javascript:x}}\">", "<a href=\"#\">" },
    { "<a href=\"{{arg.blank|/home}}\">", "<a href=\"/home\">" },
    { "<a href=\"{{arg.q}}\">",
      "<a href=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">" },

    /* text, quoted attributes, RCDATA, comments */
    { "<p title=\"{{arg.q}}\">{{arg.q}}</p>",
      "<p title=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\">"
      "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>" },
    { "<p title='{{arg.x}}' class=x>",
      "<p title='x onerror=alert(1)' class=x>" },
    { "<p title=\"{{arg.url}}\">", "<p title=\"javascript:alert(1)\">" },
    { "<textarea>{{arg.q}}</textarea><title>{{arg.q}}</title>",
      "<textarea>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</textarea>"
      "<title>&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>" },
    { "<!-- {{arg.dash}} -->",
      "<!-- &#45;&#45;&#33;&gt;&lt;script&gt;alert(1)&lt;/script&gt; -->" },
    { "<script src=\"/a.js\"></script>{{arg.q}}",
      "<script src=\"/a.js\"></script>"
      "&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" },
    { "<script>if (a < b) {}</script><b>{{arg.x}}</b>",
      "<script>if (a < b) {}</script><b>x onerror=alert(1)</b>" },
    { "<p>a < b {{arg.x}}</p>", "<p>a < b x onerror=alert(1)</p>" },
};


static int
compile_html(test_arena_t *ar, const char *src, persona_template_t **t,
    persona_error_t *err, size_t *off)
{
    persona_attrs_t  attrs;

    persona_attrs_init(&attrs, &ar->alloc);
    memset(err, 0, sizeof(persona_error_t));

    return persona_template_compile_html(t, src, strlen(src), &attrs,
                                         &ar->alloc, err, off);
}


static void
test_html_contexts(void **state)
{
    int                  rc;
    size_t               i, n, off;
    char                 buf[512];
    test_arena_t         ar;
    persona_error_t      err;
    persona_template_t  *t;

    for (i = 0; i < sizeof(html_cases) / sizeof(html_cases[0]); i++) {
        test_arena_init(&ar);

        rc = compile_html(&ar, html_cases[i].tpl, &t, &err, &off);
        if (rc != PERSONA_OK) {
            print_error("case %zu \"%s\": %s\n", i, html_cases[i].tpl,
                        err.msg);
        }
        assert_int_equal(rc, PERSONA_OK);

        n = persona_template_render(t, PERSONA_ESCAPE_HTML, bin_lookup,
                                    (void *) hostile_html, buf, sizeof(buf));
        if (n != strlen(html_cases[i].out)
            || memcmp(buf, html_cases[i].out, n) != 0)
        {
            print_error("case %zu: \"%s\" -> \"%.*s\"\n", i,
                        html_cases[i].tpl, (int) n, buf);
        }
        assert_int_equal(n, strlen(html_cases[i].out));
        assert_memory_equal(buf, html_cases[i].out, n);

        test_arena_free(&ar);
    }
}


static const tpl_error_t  html_errors[] = {
    { "<script>var x = \"{{arg.x}}\";</script>", 1, 18, 17,
      "a template inside <script> is not allowed (no escaping makes a value "
      "safe there): put it in a quoted data-* attribute and read that" },
    { "<p>\n<SCRIPT type=module>`{{arg.x}}`</SCRIPT>", 2, 22, 25,
      "a template inside <script> is not allowed (no escaping makes a value "
      "safe there): put it in a quoted data-* attribute and read that" },
    { "<style>.a{color:{{arg.x}}}</style>", 1, 17, 16,
      "a template inside <style> is not allowed (no escaping makes a value "
      "safe there): put it in a quoted data-* attribute and read that" },
    { "<img src={{arg.x}}>", 1, 10, 9,
      "a template in an unquoted attribute value is not allowed: quote the "
      "value, such as title=\"{{...}}\"" },
    { "<img alt=x{{arg.x}}>", 1, 11, 10,
      "a template in an unquoted attribute value is not allowed: quote the "
      "value, such as title=\"{{...}}\"" },
    { "<a onclick=\"go('{{arg.x}}')\">", 1, 17, 16,
      "a template in the event handler attribute \"onclick\" is not "
      "allowed (it is JavaScript)" },
    { "<a OnMouseOver='{{arg.x}}'>", 1, 17, 16,
      "a template in the event handler attribute \"onmouseover\" is not "
      "allowed (it is JavaScript)" },
    { "<a style=\"color: {{arg.x}}\">", 1, 18, 17,
      "a template in the style attribute \"style\" is not allowed (it is "
      "CSS)" },
    { "<iframe srcdoc=\"{{arg.x}}\"></iframe>", 1, 17, 16,
      "a template in the attribute \"srcdoc\" is not allowed (it is a "
      "document)" },
    { "<{{arg.x}}>", 1, 2, 1,
      "a template inside a tag or an attribute name is not allowed: only "
      "in text or in a quoted attribute value" },
    { "<a {{arg.x}}=\"1\">", 1, 4, 3,
      "a template inside a tag or an attribute name is not allowed: only "
      "in text or in a quoted attribute value" },
    { "<a x{{arg.x}}=\"1\">", 1, 5, 4,
      "a template inside a tag or an attribute name is not allowed: only "
      "in text or in a quoted attribute value" },
    { "<a href=\"/\" {{arg.x}}>", 1, 13, 12,
      "a template inside a tag or an attribute name is not allowed: only "
      "in text or in a quoted attribute value" },
    { "</{{arg.x}}>", 1, 3, 2,
      "a template inside a tag or an attribute name is not allowed: only "
      "in text or in a quoted attribute value" },
    { "<!DOCTYPE {{arg.x}}>", 1, 11, 10,
      "a template inside a <!...> or <?...> declaration is not allowed" },
    { "<!--{{arg.x}}-->", 1, 5, 4,
      "a template right after \"<\", \"</\" or \"-\" is not allowed: an "
      "empty value would change what the page means" },
    { "<title>a<{{arg.x}}/title>", 1, 10, 9,
      "a template right after \"<\", \"</\" or \"-\" is not allowed: an "
      "empty value would change what the page means" },
    { "<a href=\"{{arg.x}}:alert(1)\">", 1, 10, 9,
      "a template in a URL attribute followed by \":\" would choose the "
      "URL's scheme: write the scheme out, such as \"https://\"" },
    { "<b>x</b><script>", 1, 9, 8,
      "expected the block to end in HTML text: the <script> element that "
      "begins here is not closed" },
    { "<p>\n<a href=\"/x", 2, 1, 4,
      "expected the block to end in HTML text: the tag that begins here is "
      "not closed" },
    { "x<!-- y", 1, 2, 1,
      "expected the block to end in HTML text: the comment that begins "
      "here is not closed" },
    { "<textarea>{{arg.x}}", 1, 1, 0,
      "expected the block to end in HTML text: the <textarea> element that "
      "begins here is not closed" },
};


static void
test_html_errors(void **state)
{
    int                  rc;
    size_t               i, off;
    test_arena_t         ar;
    persona_error_t      err;
    persona_template_t  *t;

    for (i = 0; i < sizeof(html_errors) / sizeof(html_errors[0]); i++) {
        test_arena_init(&ar);
        off = 0;

        rc = compile_html(&ar, html_errors[i].tpl, &t, &err, &off);

        if (rc != PERSONA_ERROR || err.line != html_errors[i].line
            || err.column != html_errors[i].column
            || off != html_errors[i].offset
            || strcmp(err.msg, html_errors[i].msg) != 0)
        {
            print_error("case %zu: got %d %u:%u @%zu %s\n", i, rc, err.line,
                        err.column, off, err.msg);
        }

        assert_int_equal(rc, PERSONA_ERROR);
        assert_int_equal(err.line, html_errors[i].line);
        assert_int_equal(err.column, html_errors[i].column);
        assert_int_equal(off, html_errors[i].offset);
        assert_string_equal(err.msg, html_errors[i].msg);

        test_arena_free(&ar);
    }
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
        cmocka_unit_test(test_html_contexts),
        cmocka_unit_test(test_html_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
