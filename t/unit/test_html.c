/*
 * The HTML context tokenizer: the context after a prefix of a page, the
 * same whatever the chunks it was fed in, and the stop at '<' in text.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "persona_html.h"


typedef struct {
    const char          *in;
    persona_html_ctx_e   ctx;
    const char          *attr;      /* attribute name, or NULL */
} html_case_t;


#define T  PERSONA_HTML_CTX_TEXT
#define RC PERSONA_HTML_CTX_RCDATA
#define RT PERSONA_HTML_CTX_RAWTEXT
#define SC PERSONA_HTML_CTX_SCRIPT
#define ST PERSONA_HTML_CTX_STYLE
#define CM PERSONA_HTML_CTX_COMMENT
#define DC PERSONA_HTML_CTX_DECL
#define TG PERSONA_HTML_CTX_TAG
#define AN PERSONA_HTML_CTX_ATTR_NAME
#define VU PERSONA_HTML_CTX_VALUE_UNQUOTED
#define VQ PERSONA_HTML_CTX_VALUE_QUOTED

static const html_case_t  cases[] = {
    { "", T, NULL },
    { "plain text & more", T, NULL },
    { "a < b", T, NULL },
    { "<", TG, NULL },
    { "<p", TG, NULL },
    { "<p>", T, NULL },
    { "<p ", TG, NULL },
    { "<p cl", AN, NULL },
    { "<p class", AN, NULL },
    { "<p class=", VU, "class" },
    { "<p class=x", VU, "class" },
    { "<p class=x ", TG, NULL },
    { "<p class=\"", VQ, "class" },
    { "<p class=\"a>b", VQ, "class" },
    { "<p class='a\"b", VQ, "class" },
    { "<p class='a'", TG, NULL },
    { "<p class='a'>", T, NULL },
    { "<A HREF=\"", VQ, "href" },
    { "<a xlink:href='", VQ, "xlink:href" },
    { "<br/>", T, NULL },
    { "</p>", T, NULL },
    { "</>", T, NULL },
    { "</ x", DC, NULL },
    { "</ x>", T, NULL },
    { "<!", DC, NULL },
    { "<!DOCTYPE html", DC, NULL },
    { "<!DOCTYPE html>", T, NULL },
    { "<?xml", DC, NULL },
    { "<!--", CM, NULL },
    { "<!-->", T, NULL },
    { "<!--->", T, NULL },
    { "<!-- x -->", T, NULL },
    { "<!-- x --!>", T, NULL },
    { "<!-- x -- >", CM, NULL },
    { "<!-- <script> -->", T, NULL },
    { "<script>", SC, NULL },
    { "<script type=module>x", SC, NULL },
    { "<script>a</scrip", SC, NULL },
    { "<script>a</scriptx>", SC, NULL },
    { "<script>a</script>", T, NULL },
    { "<script>a</SCRIPT >", T, NULL },
    { "<script>a</script x=1>", T, NULL },
    { "<script>'</style>'", SC, NULL },
    { "<script><!--", SC, NULL },
    { "<script><!--</script>", T, NULL },
    { "<script><!--<script>", SC, NULL },
    { "<script><!--<script></script>", SC, NULL },
    { "<script><!--<script></script>-->", SC, NULL },
    { "<script><!--<script></script>--></script>", T, NULL },
    { "<script><!--<scripts></script>", T, NULL },
    { "<script><!-- --></script>", T, NULL },
    { "<style>", ST, NULL },
    { "<style>p{}</style>", T, NULL },
    { "<textarea><p>", RC, NULL },
    { "<textarea></textarea>", T, NULL },
    { "<title><b>", RC, NULL },
    { "<title></title >", T, NULL },
    { "<xmp><p>", RT, NULL },
    { "<iframe><p></iframe>", T, NULL },
    { "<noscript><p>", RT, NULL },
    { "<plaintext></plaintext>", RT, NULL },
    { "<scripts>", T, NULL },
    { "<titles>", T, NULL },

    /* the injector's fast scan: each state and its way out */
    { "<p =\"", AN, NULL },
    { "<p =\">", T, NULL },
    { "<p a==\"", VU, "a" },
    { "<p a==\">", T, NULL },
    { "<p a = \"x", VQ, "a" },
    { "<p a='x'b", AN, NULL },
    { "<p a='x'b=\"", VQ, "b" },
    { "<p a='x'/", TG, NULL },
    { "<p a='x'/ b='", VQ, "b" },
    { "<p/ a='", VQ, "a" },
    { "<p a=x/>", T, NULL },
    { "<p a=x/ b", AN, NULL },
    { "<p\ta\n=\f'>'\r>", T, NULL },
    { "<p a b c>", T, NULL },
    { "<p a b c", AN, NULL },
    { "<p a b c ", TG, NULL },
    { "</p a=\">", VQ, "a" },
    { "</p a=\">\">", T, NULL },
    { "<<p", TG, NULL },
    { "<<", TG, NULL },
    { "a<3 <p>", T, NULL },
    { "<p>a<!-x>", T, NULL },
    { "<a href=/x?y=1><script>", SC, NULL },
    { "<SCRIPT>a</sCrIpT\t/>", T, NULL },
    { "<script>a</script", SC, NULL },
    { "<script>a</script ", TG, NULL },
    { "<script>a</scripts ", SC, NULL },
    { "<script>a<</script>", T, NULL },
    { "<script>a</</script>", T, NULL },
    { "<script>a<!x</script>", T, NULL },
    { "<script>a<!-</script>", T, NULL },
    { "<script><!-- a - b -- c < d </script>", T, NULL },
    { "<script><!-- a - b -- c < d </scrip", SC, NULL },
    { "<script><!--<script> a - b < c</script> -", SC, NULL },
    { "<STYLE>a</STYLE\n>", T, NULL },
    { "<style>a</styl>", ST, NULL },
    { "<style>a</style", ST, NULL },
    { "<TEXTAREA>a</textarea x='>'>", T, NULL },
    { "<textarea>a</textarea x='>", VQ, "x" },
    { "<title>a</title/>", T, NULL },
    { "<title>a<</tITle>", T, NULL },
    { "<xmp></XMP>", T, NULL },
    { "<noembed><noframes></noembed>", T, NULL },
    { "<plaintext>a</plaintext", RT, NULL },
    { "<abcdefghijklmnop>", T, NULL },
    { "<scriptabcdefgh>", T, NULL },
    { "<!-- a - b -", CM, NULL },
    { "<!-- a - b --", CM, NULL },
    { "<!-- a - b --!", CM, NULL },
    { "<!-- a - b --!-->", T, NULL },
    { "<!x-y>", T, NULL },
    { "<? a > b", T, NULL },
    { "</>a", T, NULL },
    { "</ a", DC, NULL },
};


static void
check_state(const persona_html_t *h, const html_case_t *c, const char *how)
{
    if (persona_html_context(h) != c->ctx) {
        fail_msg("\"%s\" (%s): context %d, want %d", c->in, how,
                 (int) persona_html_context(h), (int) c->ctx);
    }

    if (h->names && c->attr
        && (h->attr_len != strlen(c->attr)
            || memcmp(h->attr, c->attr, h->attr_len) != 0))
    {
        fail_msg("\"%s\" (%s): attribute \"%.*s\", want \"%s\"", c->in,
                 how, (int) h->attr_len, h->attr, c->attr);
    }
}


static void
init(persona_html_t *h, int names)
{
    if (names) {
        persona_html_init_names(h);

    } else {
        persona_html_init(h);
    }
}


static void
test_contexts(void **state)
{
    int              names;
    size_t           i, k, len;
    persona_html_t   h;
    const char      *in;

    (void) state;

    for (names = 0; names < 2; names++) {
        for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            in = cases[i].in;
            len = strlen(in);

            init(&h, names);
            assert_ptr_equal(persona_html_scan(&h, in, in + len, 0),
                             in + len);
            check_state(&h, &cases[i], "whole");

            init(&h, names);
            for (k = 0; k < len; k++) {
                (void) persona_html_scan(&h, in + k, in + k + 1, 0);
            }
            check_state(&h, &cases[i], "byte by byte");

            for (k = 0; k <= len; k++) {
                init(&h, names);
                (void) persona_html_scan(&h, in, in + k, 0);
                (void) persona_html_scan(&h, in + k, in + len, 0);
                check_state(&h, &cases[i], "two pieces");
            }
        }
    }
}


static void
test_stop(void **state)
{
    persona_html_t    h;
    static const char page[] = "ab<p title='<'>c<<script>'<'</script>d<";
    const char       *p, *end;
    size_t            stops[8], n;

    (void) state;

    persona_html_init(&h);
    p = page;
    end = page + sizeof(page) - 1;
    n = 0;

    while ((p = persona_html_scan(&h, p, end, 1)) < end) {
        assert_true(n < 8);
        assert_int_equal(*p, '<');
        assert_true(persona_html_in_text(&h));
        stops[n++] = (size_t) (p - page);

        /* the caller feeds the '<' itself */
        (void) persona_html_scan(&h, p, p + 1, 0);
        p++;
    }

    /* "<p", "<" then "<script" ("</script" is inside it), the last "<" */
    assert_int_equal(n, 4);
    assert_int_equal(stops[0], 2);
    assert_int_equal(stops[1], 16);
    assert_int_equal(stops[2], 17);
    assert_int_equal(stops[3], 38);
}


/* the stops the injector asks for: "<!", "</", a '<' at the end */

static size_t
stops_of(const char *page, size_t len, size_t piece, int stop,
    size_t *stops, size_t max)
{
    size_t           n, from, to;
    persona_html_t   h;
    const char      *p, *end;

    persona_html_init(&h);
    n = 0;

    for (from = 0; from < len; from = to) {
        to = (len - from < piece) ? len : from + piece;
        p = page + from;
        end = page + to;

        while ((p = persona_html_scan(&h, p, end, stop)) < end) {
            assert_true(n < max);
            assert_int_equal(*p, '<');
            assert_true(persona_html_in_text(&h));
            stops[n++] = (size_t) (p - page);

            (void) persona_html_scan(&h, p, p + 1, 0);
            p++;
        }
    }

    return n;
}


static void
test_stop_flags(void **state)
{
    size_t            n, piece, i;
    size_t            stops[16];
    static const char page[] =
        "<p a='<!x'>b<!--c--></p><script><!x</script><<!d></p><";

    (void) state;

    n = stops_of(page, sizeof(page) - 1, sizeof(page),
                 PERSONA_HTML_STOP_BANG, stops, 16);

    /* "<!--c-->", "<!d>" after a "<" that is text, the last "<" */
    assert_int_equal(n, 3);
    assert_int_equal(stops[0], 12);
    assert_int_equal(stops[1], 45);
    assert_int_equal(stops[2], 53);

    n = stops_of(page, sizeof(page) - 1, sizeof(page),
                 PERSONA_HTML_STOP_BANG | PERSONA_HTML_STOP_SLASH, stops, 16);

    /* and "</p>" twice ("</script>" is read by the script) */
    assert_int_equal(n, 5);
    assert_int_equal(stops[0], 12);
    assert_int_equal(stops[1], 20);
    assert_int_equal(stops[2], 45);
    assert_int_equal(stops[3], 49);
    assert_int_equal(stops[4], 53);

    /* in pieces: also every '<' in text that ends a piece */
    for (piece = 1; piece < sizeof(page); piece++) {
        n = stops_of(page, sizeof(page) - 1, piece,
                     PERSONA_HTML_STOP_BANG, stops, 16);

        assert_true(n >= 3);

        for (i = 0; i < n; i++) {
            assert_true(stops[i] == 12 || stops[i] == 45 || stops[i] == 53
                        || stops[i] % piece == piece - 1);
        }
    }

    /* no stop flags: no stops */
    assert_int_equal(stops_of(page, sizeof(page) - 1, 7, 0, stops, 16), 0);
}


/* a long text run costs no stop; the '<' after it is found */

static void
test_long_text(void **state)
{
    size_t           i, len;
    char             page[70000];
    persona_html_t   h;
    const char      *p;

    (void) state;

    len = 0;

    for (i = 0; i < 65536; i++) {
        page[len++] = (char) ("plain text, & more\n"[i % 19]);
    }

    memcpy(page + len, "<b>x</b><!x>", 12);
    len += 12;

    persona_html_init(&h);
    p = persona_html_scan(&h, page, page + len, PERSONA_HTML_STOP_BANG);
    assert_ptr_equal(p, page + 65536 + 8);

    persona_html_init(&h);
    p = persona_html_scan(&h, page, page + len, PERSONA_HTML_STOP_LT);
    assert_ptr_equal(p, page + 65536);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_contexts),
        cmocka_unit_test(test_stop),
        cmocka_unit_test(test_stop_flags),
        cmocka_unit_test(test_long_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
