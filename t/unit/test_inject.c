/*
 * Unit tests of the slot injector (src/persona_inject.c).
 *
 * A reference sink applies the events the way the nginx glue does (COPY
 * and CARRY to the output or, while holding, to a pending buffer; BLOCK
 * and HEAD_END insert text; COMMIT/DROP settle the pending buffer) and
 * checks the event protocol on the way.  Every table case is fed in one
 * piece, split at every byte position, byte by byte, in every and in
 * random 3-piece splits, and must give the same output each time.  Each
 * piece lives in its own malloc'd copy, freed right after the feed, so
 * ASan catches an event that points outside its chunk or into an old one.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "persona_inject.h"


#define DL_TEXT     "<DL>"
#define HOLD_DEF    1024
#define HOLD_ZERO   (-1)

#define ADD(b, str)  buf_add(b, str, strlen(str))


typedef struct {
    const char   *name;
    const char   *in;
    const char   *out;
    /* "name=text|name=text": the slots that have a block */
    const char   *blocks;
    int           data_layer;
    /* 0: HOLD_DEF, HOLD_ZERO: 0, else the limit */
    int           hold;
} inject_case_t;


typedef struct {
    char         *data;
    size_t        len;
    size_t        cap;
} buf_t;


typedef struct {
    const inject_case_t  *tc;
    persona_inject_t     *st;
    size_t                hold_max;

    buf_t                 out;
    buf_t                 held;

    const char           *chunk;
    size_t                chunk_len;

    int                   holding;
    int                   want_hold;
    int                   head_ends;
    unsigned              has_block_calls;
    unsigned              events;
    unsigned              copies;
    unsigned              carries;

    /* fail with this code at event number fail_at (1-based), 0: never */
    unsigned              fail_at;
    int                   fail_rc;
} sink_t;


static void
buf_add(buf_t *b, const char *data, size_t len)
{
    if (b->len + len + 1 > b->cap) {
        b->cap = (b->len + len + 1) * 2;
        b->data = realloc(b->data, b->cap);
        assert_non_null(b->data);
    }

    if (len) {
        memcpy(b->data + b->len, data, len);
    }

    b->len += len;
    b->data[b->len] = '\0';
}


static void
buf_free(buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}


/* the block text of slot name, or NULL */

static int
find_block(const char *blocks, const char *name, size_t len,
    const char **text, size_t *text_len)
{
    const char  *p, *eq, *bar;

    if (blocks == NULL) {
        return 0;
    }

    p = blocks;

    while (*p) {
        eq = strchr(p, '=');
        assert_non_null(eq);
        bar = strchr(eq, '|');
        if (bar == NULL) {
            bar = eq + strlen(eq);
        }

        if ((size_t) (eq - p) == len && memcmp(p, name, len) == 0) {
            *text = eq + 1;
            *text_len = bar - eq - 1;
            return 1;
        }

        p = *bar ? bar + 1 : bar;
    }

    return 0;
}


static int
sink_has_block(void *data, const char *name, size_t len)
{
    sink_t      *s = data;
    const char  *text;
    size_t       text_len;

    s->has_block_calls++;

    assert_true(persona_inject_name_valid(name, len));

    return find_block(s->tc->blocks, name, len, &text, &text_len);
}


static int
sink_handler(void *data, const persona_inject_event_t *ev)
{
    sink_t      *s = data;
    const char  *text, *st_lo, *st_hi;
    size_t       text_len;

    s->events++;

    if (s->fail_at && s->events == s->fail_at) {
        return s->fail_rc;
    }

    if (s->want_hold) {
        assert_int_equal(ev->type, PERSONA_INJECT_HOLD);
        s->want_hold = 0;
    }

    st_lo = (const char *) s->st;
    st_hi = st_lo + sizeof(persona_inject_t);

    switch (ev->type) {

    case PERSONA_INJECT_COPY:
        /* zero copy: a non-empty range of the current chunk */
        assert_true(ev->len > 0);
        assert_true(ev->data >= s->chunk);
        assert_true(ev->data + ev->len <= s->chunk + s->chunk_len);
        s->copies++;
        buf_add(s->holding ? &s->held : &s->out, ev->data, ev->len);
        break;

    case PERSONA_INJECT_CARRY:
        /* a cut partial marker, from the injector's own struct */
        assert_true(ev->len > 0);
        assert_true(ev->len < PERSONA_INJECT_MARKER_MAX);
        assert_true(ev->data >= st_lo && ev->data + ev->len <= st_hi);
        s->carries++;
        buf_add(s->holding ? &s->held : &s->out, ev->data, ev->len);
        break;

    case PERSONA_INJECT_BLOCK:
        assert_false(s->holding);
        assert_true(find_block(s->tc->blocks, ev->data, ev->len, &text,
                               &text_len));
        buf_add(&s->out, text, text_len);
        s->want_hold = 1;
        break;

    case PERSONA_INJECT_HOLD:
        assert_false(s->holding);
        assert_true(persona_inject_name_valid(ev->data, ev->len));
        s->holding = 1;
        s->held.len = 0;
        break;

    case PERSONA_INJECT_COMMIT:
        assert_true(s->holding);
        assert_true(persona_inject_name_valid(ev->data, ev->len));
        buf_add(&s->out, s->held.data, s->held.len);
        s->held.len = 0;
        s->holding = 0;
        break;

    case PERSONA_INJECT_DROP:
        assert_true(s->holding);
        assert_true(persona_inject_name_valid(ev->data, ev->len));
        s->held.len = 0;
        s->holding = 0;
        break;

    case PERSONA_INJECT_HEAD_END:
        assert_true(s->tc->data_layer);
        assert_false(s->holding);
        assert_int_equal(s->head_ends, 0);
        assert_null(ev->data);
        assert_int_equal(ev->len, 0);
        s->head_ends++;
        buf_add(&s->out, DL_TEXT, sizeof(DL_TEXT) - 1);
        break;

    default:
        fail_msg("unknown event %d", (int) ev->type);
    }

    /* (d) the caller never holds more than it allowed */
    assert_true(s->held.len <= s->hold_max);

    return PERSONA_OK;
}


static void
sink_init(sink_t *s, persona_inject_t *st, const inject_case_t *tc)
{
    persona_inject_conf_t  conf;

    memset(s, 0, sizeof(sink_t));
    s->tc = tc;
    s->st = st;
    s->hold_max = tc->hold == 0 ? HOLD_DEF
                  : tc->hold == HOLD_ZERO ? 0 : (size_t) tc->hold;

    /* never empty, so COMMIT of nothing has a buffer to add */
    buf_add(&s->out, "", 0);
    buf_add(&s->held, "", 0);

    memset(&conf, 0, sizeof(conf));
    conf.has_block = sink_has_block;
    conf.handler = sink_handler;
    conf.data = s;
    conf.hold_max = s->hold_max;
    conf.data_layer = tc->data_layer ? 1 : 0;

    persona_inject_init(st, &conf);
}


static void
sink_free(sink_t *s)
{
    buf_free(&s->out);
    buf_free(&s->held);
}


/* feeds in[from..to) as one chunk, in its own heap copy */

static int
sink_feed(sink_t *s, const char *in, size_t from, size_t to, int last)
{
    int    rc;
    char  *copy;

    copy = NULL;

    if (to > from) {
        copy = malloc(to - from);
        assert_non_null(copy);
        memcpy(copy, in + from, to - from);
    }

    s->chunk = copy;
    s->chunk_len = to - from;

    rc = persona_inject_feed(s->st, copy, to - from, last);

    s->chunk = NULL;
    s->chunk_len = 0;
    free(copy);

    return rc;
}


/*
 * Runs one case with the input cut at cuts[0..ncuts) (ascending), each
 * piece fed with last = 0, then an empty last chunk when empty_last,
 * else the final piece carries last = 1.  Checks the output.
 */

static void
run_split(const inject_case_t *tc, const size_t *cuts, size_t ncuts,
    int empty_last, const char *how)
{
    size_t             len, from, i;
    sink_t             s;
    persona_inject_t   st;

    len = strlen(tc->in);
    sink_init(&s, &st, tc);

    from = 0;

    for (i = 0; i < ncuts; i++) {
        assert_int_equal(sink_feed(&s, tc->in, from, cuts[i], 0),
                         PERSONA_OK);
        from = cuts[i];
    }

    if (empty_last) {
        assert_int_equal(sink_feed(&s, tc->in, from, len, 0), PERSONA_OK);
        assert_int_equal(sink_feed(&s, tc->in, len, len, 1), PERSONA_OK);

    } else {
        assert_int_equal(sink_feed(&s, tc->in, from, len, 1), PERSONA_OK);
    }

    assert_false(s.holding);
    assert_false(s.want_hold);

    if (strcmp(s.out.data, tc->out) != 0) {
        fail_msg("case \"%s\" (%s): got \"%s\", want \"%s\"", tc->name,
                 how, s.out.data, tc->out);
    }

    /* one chunk: all text is zero copy */
    if (ncuts == 0 && !empty_last) {
        assert_int_equal(s.carries, 0);
    }

    /* fed after the end */
    assert_int_equal(persona_inject_feed(&st, "x", 1, 1), PERSONA_ERROR);

    sink_free(&s);
}


static uint32_t
lcg(uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return *seed >> 8;
}


static void
run_case(const inject_case_t *tc)
{
    size_t    len, i, j, *cuts;
    uint32_t  seed;
    size_t    c2[2];

    len = strlen(tc->in);

    run_split(tc, NULL, 0, 0, "one piece");
    run_split(tc, NULL, 0, 1, "one piece, empty last");

    /* every split position, 0 and len included */
    for (i = 0; i <= len; i++) {
        run_split(tc, &i, 1, 0, "two pieces");
        run_split(tc, &i, 1, 1, "two pieces, empty last");
    }

    /* byte by byte */
    cuts = malloc((len + 1) * sizeof(size_t));
    assert_non_null(cuts);

    for (i = 0; i < len; i++) {
        cuts[i] = i + 1;
    }

    if (len) {
        run_split(tc, cuts, len - 1, 0, "byte by byte");
    }

    run_split(tc, cuts, len, 1, "byte by byte, empty last");
    free(cuts);

    /* every 3-piece split of short inputs */
    if (len <= 160) {
        for (i = 0; i <= len; i++) {
            for (j = i; j <= len; j++) {
                c2[0] = i;
                c2[1] = j;
                run_split(tc, c2, 2, 0, "three pieces");
            }
        }
    }

    /* random 3-piece splits */
    seed = 2026;

    for (i = 0; i < 64; i++) {
        c2[0] = lcg(&seed) % (len + 1);
        c2[1] = lcg(&seed) % (len + 1);
        if (c2[0] > c2[1]) {
            j = c2[0];
            c2[0] = c2[1];
            c2[1] = j;
        }

        run_split(tc, c2, 2, (int) (i & 1), "random three pieces");
    }
}


#define BL  "a=[A]|b=[B]|x-y=[XY]|e=|A=[UA]"

/* a line of text; a run of ordinary tags */
#define TXT  "Plain text of a paragraph, with some words & figures 1 < 2.\n  "
#define TAGS "<div class=\"card\">\n  <h3>Item</h3>\n  <p>Text</p>\n" \
             "  <p class='price' data-x=1>9.00</p>\n</div>\n"

#define N64 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
#define N63 "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"
#define D64 "ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-ab-c"


static const inject_case_t  cases[] = {

    /* plain text */
    { "empty", "", "", BL, 0, 0 },
    { "empty, data layer", "", "", BL, 1, 0 },
    { "text", "hello world", "hello world", BL, 0, 0 },
    { "tags", "<p>x</p><br/><!-- c --><!DOCTYPE html><",
      "<p>x</p><br/><!-- c --><!DOCTYPE html><", BL, 0, 0 },
    { "lone lt", "<", "<", BL, 1, 0 },
    { "no blocks at all", "x<!--persona:a-->y<!--/persona:a-->z", "xyz",
      NULL, 0, 0 },

    /* single markers */
    { "single, block", "x<!--persona:a-->y", "x[A]y", BL, 0, 0 },
    { "single, no block", "x<!--persona:c-->y", "xy", BL, 0, 0 },
    { "single at start", "<!--persona:a-->rest", "[A]rest", BL, 0, 0 },
    { "single at end", "start<!--persona:a-->", "start[A]", BL, 0, 0 },
    { "single alone", "<!--persona:a-->", "[A]", BL, 0, 0 },
    { "single alone, no block", "<!--persona:c-->", "", BL, 0, 0 },
    { "single, empty block", "1<!--persona:e-->2", "12", BL, 0, 0 },
    { "dashed name", "<!--persona:x-y-->", "[XY]", BL, 0, 0 },
    { "case-sensitive names", "<!--persona:A-->", "[UA]", BL, 0, 0 },
    { "name of 64", "<!--persona:" N64 "-->", "[N]", "nn=x|" N64 "=[N]",
      0, 0 },
    { "dashed name of 64", "<!--persona:" D64 "-->",
      "[D]", D64 "=[D]", 0, 0 },
    { "block not rescanned", "x<!--persona:m-->y", "x<!--persona:a-->y",
      "m=<!--persona:a-->|a=[A]", 0, 0 },

    /* regions */
    { "region, block", "x<!--persona:a-->def<!--/persona:a-->y", "x[A]y",
      BL, 0, 0 },
    { "region, no block", "x<!--persona:c-->def<!--/persona:c-->y",
      "xdefy", BL, 0, 0 },
    { "region, empty default", "<!--persona:a--><!--/persona:a-->", "[A]",
      BL, 0, 0 },
    { "region, empty block", "1<!--persona:e-->2<!--/persona:e-->3", "13",
      BL, 0, 0 },
    { "region, dashed name", "<!--persona:x-y-->d<!--/persona:x-y-->",
      "[XY]", BL, 0, 0 },
    { "region with lookalikes in default",
      "<!--persona:a--><p><!-- c --> <!--persona:a- --></p>"
      "<!--/persona:a-->.",
      "[A].", BL, 0, 0 },
    { "an open comment hides the closer, as in a browser",
      "<!--persona:a--><p><!--persona:a-<</p>"
      "<!--/persona:a-->.",
      "[A]<p><!--persona:a-<</p><!--/persona:a-->.", BL, 0, 0 },
    { "region ends the body", "<!--persona:a-->d<!--/persona:a-->", "[A]",
      BL, 0, 0 },

    /* several slots, adjacency */
    { "several slots",
      "<!--persona:a-->1<!--persona:b-->2<!--/persona:b-->3"
      "<!--persona:c-->4",
      "[A]1[B]34", BL, 0, 0 },
    { "adjacent", "<!--persona:a--><!--persona:b-->", "[A][B]", BL, 0, 0 },
    { "adjacent same", "<!--persona:a--><!--persona:a-->", "[A][A]",
      BL, 0, 0 },
    { "adjacent regions",
      "<!--persona:a-->1<!--/persona:a--><!--persona:b-->2"
      "<!--/persona:b--><!--persona:c-->3<!--/persona:c-->",
      "[A][B]3", BL, 0, 0 },
    { "adjacent closers", "<!--persona:a-->1<!--/persona:a-->"
      "<!--/persona:a-->2", "[A]2", BL, 0, 0 },

    /* closers: stray, mismatched, nested */
    { "stray closer", "x<!--/persona:a-->y", "xy", BL, 0, 0 },
    { "stray closer alone", "<!--/persona:zz-->", "", BL, 0, 0 },
    { "closer of another name while holding",
      "<!--persona:a-->x<!--/persona:b-->y<!--/persona:a-->z",
      "[A]xyz", BL, 0, 0 },
    { "closer differs in case",
      "<!--persona:a-->1<!--/persona:A-->2", "[A]12", BL, 0, 0 },
    { "nested regions, both blocks",
      "<!--persona:a-->1<!--persona:b-->2<!--/persona:b-->3"
      "<!--/persona:a-->4",
      "[A]1[B]34", BL, 0, 0 },
    { "nested, outer without block",
      "<!--persona:c-->1<!--persona:a-->2<!--/persona:a-->3"
      "<!--/persona:c-->4",
      "1[A]34", BL, 0, 0 },
    { "nested, inner without block",
      "<!--persona:a-->1<!--persona:c-->2<!--/persona:c-->3"
      "<!--/persona:a-->",
      "[A]123", BL, 0, 0 },
    { "crossed regions",
      "<!--persona:a-->1<!--persona:b-->2<!--/persona:a-->3"
      "<!--/persona:b-->4",
      "[A]1[B]234", BL, 0, 0 },

    /* near misses: ordinary text */
    { "prefix only", "<!--persona:", "<!--persona:", BL, 0, 0 },
    { "no >", "<!--persona:a--", "<!--persona:a--", BL, 0, 0 },
    { "one dash", "<!--persona:a-", "<!--persona:a-", BL, 0, 0 },
    { "no end", "<!--persona:a", "<!--persona:a", BL, 0, 0 },
    { "closer, no >", "<!--/persona:a--", "<!--/persona:a--", BL, 0, 0 },
    { "space before keyword", "<!-- persona:a-->", "<!-- persona:a-->",
      BL, 0, 0 },
    { "space before name", "<!--persona: a-->", "<!--persona: a-->",
      BL, 0, 0 },
    { "space after name", "<!--persona:a -->", "<!--persona:a -->",
      BL, 0, 0 },
    { "space before >", "<!--persona:a-- >", "<!--persona:a-- >",
      BL, 0, 0 },
    { "uppercase keyword", "<!--PERSONA:a-->", "<!--PERSONA:a-->",
      BL, 0, 0 },
    { "mixed-case keyword", "<!--Persona:a--><!--/Persona:a-->",
      "<!--Persona:a--><!--/Persona:a-->", BL, 0, 0 },
    { "empty name", "<!--persona:-->", "<!--persona:-->", BL, 0, 0 },
    { "leading dash", "<!--persona:-a-->", "<!--persona:-a-->", BL, 0, 0 },
    { "trailing dash", "<!--persona:a--->", "<!--persona:a--->", BL, 0, 0 },
    { "double dash inside", "<!--persona:a--b-->", "<!--persona:a--b-->",
      BL, 0, 0 },
    { "dot in name", "<!--persona:a.b-->", "<!--persona:a.b-->", BL, 0, 0 },
    { "slash in name", "<!--persona:a/b-->", "<!--persona:a/b-->",
      BL, 0, 0 },
    { "single dash end", "<!--persona:a->", "<!--persona:a->", BL, 0, 0 },
    { "double slash", "<!--//persona:a-->", "<!--//persona:a-->",
      BL, 0, 0 },
    { "three dashes open", "<!---persona:a-->", "<!---persona:a-->",
      BL, 0, 0 },
    { "bang only", "<!persona:a-->", "<!persona:a-->", BL, 0, 0 },
    { "no bang", "<--persona:a-->", "<--persona:a-->", BL, 0, 0 },
    { "one dash open", "<!-persona:a-->", "<!-persona:a-->", BL, 0, 0 },
    { "space after lt", "< !--persona:a-->", "< !--persona:a-->", BL, 0, 0 },
    { "name of 65", "<!--persona:" N64 "n-->", "<!--persona:" N64 "n-->",
      "nn=x|" N64 "=[N]", 0, 0 },
    { "dashed name of 65", "<!--persona:" D64 "-d-->",
      "<!--persona:" D64 "-d-->", D64 "=[D]", 0, 0 },
    { "63 bytes then a dash", "<!--persona:" N63 "-d-->",
      "<!--persona:" N63 "-d-->", N63 "-d=[X]|" N63 "=[Y]", 0, 0 },
    { "63 bytes, then one more", "<!--persona:" N63 "d-->", "[N]",
      N63 "d=[N]", 0, 0 },
    { "long name never ends", "<!--persona:" N64 N64 N64 "x",
      "<!--persona:" N64 N64 N64 "x", BL, 0, 0 },
    { "in a script",
      "<script>var s = '<!--persona:';</script><p>keep</p>"
      "<!--persona:a-->",
      "<script>var s = '<!--persona:';</script><p>keep</p>[A]", BL, 0, 0 },
    { "unterminated comment",
      "<!--persona:a long comment that never ends <p>page</p></body>",
      "<!--persona:a long comment that never ends <p>page</p></body>",
      BL, 0, 0 },

    /* a failed candidate followed by a marker */
    { "lt then marker", "<<!--persona:a-->", "<[A]", BL, 0, 0 },
    { "comment open then marker: one comment",
      "<!--<!--persona:a-->", "<!--<!--persona:a-->", BL, 0, 0 },
    { "comment closed then marker", "<!---->x<!--persona:a-->",
      "<!---->x[A]", BL, 0, 0 },
    { "prefix then marker: one comment", "<!--persona:<!--persona:a-->",
      "<!--persona:<!--persona:a-->", BL, 0, 0 },
    { "dash then marker: one comment", "<!--persona:a-<!--persona:b-->",
      "<!--persona:a-<!--persona:b-->", BL, 0, 0 },
    { "dashes then marker: one comment", "<!--persona:a--<!--persona:b-->",
      "<!--persona:a--<!--persona:b-->", BL, 0, 0 },
    { "abrupt comment ends then marker", "<!-->x<!--->y<!--persona:b-->",
      "<!-->x<!--->y[B]", BL, 0, 0 },
    { "bang comment end then marker", "<!--a--!><!--persona:b-->",
      "<!--a--!>[B]", BL, 0, 0 },
    { "closer prefix then closer: one comment",
      "<!--persona:a-->1<!--/persona<!--/persona:a-->",
      "[A]1<!--/persona<!--/persona:a-->", BL, 0, 0 },

    /* data layer */
    { "head, data layer off",
      "<html><head><title>t</title></head><body>b</body></html>",
      "<html><head><title>t</title></head><body>b</body></html>", BL, 0, 0 },
    { "head, data layer on",
      "<html><head><title>t</title></head><body>b</body></html>",
      "<html><head><title>t</title>" DL_TEXT "</head><body>b</body></html>",
      BL, 1, 0 },
    { "HEAD", "x</HEAD>y", "x" DL_TEXT "</HEAD>y", BL, 1, 0 },
    { "Head with space", "</Head >", DL_TEXT "</Head >", BL, 1, 0 },
    { "head with newline", "</hEaD\n>", DL_TEXT "</hEaD\n>", BL, 1, 0 },
    { "head with tab", "</head\t>", DL_TEXT "</head\t>", BL, 1, 0 },
    { "head with slash", "</head/>", DL_TEXT "</head/>", BL, 1, 0 },
    { "header is not head", "<header></header>", "<header></header>",
      BL, 1, 0 },
    { "heading then head", "</headx></head>", "</headx>" DL_TEXT "</head>",
      BL, 1, 0 },
    { "head at end, no delimiter", "x</head", "x</head", BL, 1, 0 },
    { "short head", "</hea></ head></>", "</hea></ head></>", BL, 1, 0 },
    { "head at start", "</head>x", DL_TEXT "</head>x", BL, 1, 0 },
    { "head once", "</head></head></HEAD>",
      DL_TEXT "</head></head></HEAD>", BL, 1, 0 },
    { "no head", "<body>x</body>", "<body>x</body>", BL, 1, 0 },
    { "head then marker: in the tag", "</head<!--persona:a-->",
      "</head<!--persona:a-->", BL, 1, 0 },
    { "head split by marker: in the tag", "</he<!--persona:a-->ad>",
      "</he<!--persona:a-->ad>", BL, 1, 0 },
    { "head and slots",
      "<head></head><body><!--persona:a-->d<!--/persona:a--></body>",
      "<head>" DL_TEXT "</head><body>[A]</body>", BL, 1, 0 },
    { "head ends a hold",
      "<head><!--persona:a-->def</head><!--/persona:a-->",
      "<head>[A]def" DL_TEXT "</head>", BL, 1, 0 },
    { "head right after a marker", "<!--persona:a--></head>",
      "[A]" DL_TEXT "</head>", BL, 1, 0 },
    { "head in a region without block",
      "<!--persona:c-->d</head>e<!--/persona:c-->",
      "d" DL_TEXT "</head>e", BL, 1, 0 },
    { "head inside a comment",
      "<!--persona:a--><!--x</head><!--/persona:a-->",
      "[A]<!--x</head><!--/persona:a-->", BL, 1, 0 },
    { "head after a comment",
      "<!--persona:a--><!--x--></head><!--/persona:a-->",
      "[A]<!--x-->" DL_TEXT "</head>", BL, 1, 0 },

    /* where markers count: only in element text (SPEC) */
    { "marker in a script string",
      "<script>var q = \"<!--persona:a-->\";</script><!--persona:b-->",
      "<script>var q = \"<!--persona:a-->\";</script>[B]", BL, 0, 0 },
    { "marker in SCRIPT, any case",
      "<SCRIPT type=module>x='<!--persona:a-->'</Script >y<!--persona:a-->",
      "<SCRIPT type=module>x='<!--persona:a-->'</Script >y[A]", BL, 0, 0 },
    { "marker in a style",
      "<style>/*<!--persona:a-->*/</style><!--persona:a-->",
      "<style>/*<!--persona:a-->*/</style>[A]", BL, 0, 0 },
    { "marker in a textarea",
      "<textarea><!--persona:a--></textarea>",
      "<textarea><!--persona:a--></textarea>", BL, 0, 0 },
    { "marker in a title",
      "<title>x<!--persona:a--></title><!--persona:b-->",
      "<title>x<!--persona:a--></title>[B]", BL, 0, 0 },
    { "marker in a noscript, xmp, iframe",
      "<noscript><!--persona:a--></noscript><xmp><!--persona:a--></xmp>"
      "<iframe><!--persona:a--></iframe>",
      "<noscript><!--persona:a--></noscript><xmp><!--persona:a--></xmp>"
      "<iframe><!--persona:a--></iframe>", BL, 0, 0 },
    { "marker after plaintext", "<plaintext><!--persona:a-->",
      "<plaintext><!--persona:a-->", BL, 0, 0 },
    { "marker in a double-quoted attribute",
      "<input value=\"<!--persona:a-->\"><!--persona:b-->",
      "<input value=\"<!--persona:a-->\">[B]", BL, 0, 0 },
    { "marker in a single-quoted attribute",
      "<a title='<!--persona:a-->' href=x>",
      "<a title='<!--persona:a-->' href=x>", BL, 0, 0 },
    { "marker in an unquoted attribute",
      "<a title=<!--persona:a-->>x", "<a title=<!--persona:a-->>x",
      BL, 0, 0 },
    { "marker as an attribute name",
      "<div <!--persona:a-->>", "<div <!--persona:a-->>", BL, 0, 0 },
    { "quote in a tag is not a string in text",
      "<p>it's \"<!--persona:a-->\"</p>", "<p>it's \"[A]\"</p>", BL, 0, 0 },
    { "a '>' in a quoted value does not end the tag",
      "<a title=\"a>b<!--persona:a-->\">", "<a title=\"a>b<!--persona:a-->\">",
      BL, 0, 0 },
    { "not a tag: lt space", "a < b<!--persona:a-->", "a < b[A]", BL, 0, 0 },
    { "not the end of script: </scripty>",
      "<script></scripty><!--persona:a--></script>",
      "<script></scripty><!--persona:a--></script>", BL, 0, 0 },
    { "script escaped: </script> still ends it",
      "<script><!--x</script><!--persona:a-->",
      "<script><!--x</script>[A]", BL, 0, 0 },
    { "script double escaped: </script> does not end it",
      "<script><!--<script></script><!--persona:a-->--></script>"
      "<!--persona:b-->",
      "<script><!--<script></script><!--persona:a-->--></script>[B]",
      BL, 0, 0 },
    { "doctype and processing instruction",
      "<!DOCTYPE html><?xml x?><!--persona:a-->",
      "<!DOCTYPE html><?xml x?>[A]", BL, 0, 0 },
    { "bogus end tag", "</ x><!--persona:a-->", "</ x>[A]", BL, 0, 0 },
    { "head in a script string, data layer at the real one",
      "<head><script>var s = \"</head>\";</script></head>",
      "<head><script>var s = \"</head>\";</script>" DL_TEXT "</head>",
      BL, 1, 0 },
    { "head in a style, a title, an attribute",
      "<style></head></style><title></head></title>"
      "<meta content=\"</head>\"></head>",
      "<style></head></style><title></head></title>"
      "<meta content=\"</head>\">" DL_TEXT "</head>", BL, 1, 0 },
    { "no head outside a script",
      "<script>document.write('</head>')",
      "<script>document.write('</head>')", BL, 1, 0 },
    { "region default with a script",
      "<!--persona:a--><script>x=1</script><!--/persona:a-->z",
      "[A]z", BL, 0, 0 },
    { "closer inside a script is not one",
      "<!--persona:a--><script>'<!--/persona:a-->'</script>z",
      "[A]<script>'<!--/persona:a-->'</script>z", BL, 0, 0 },

    /* the tokenizer's fast paths (every split position, as all cases) */
    { "marker after a long text run",
      TXT TXT TXT TXT "<!--persona:a-->" TXT "<!--persona:b-->",
      TXT TXT TXT TXT "[A]" TXT "[B]", BL, 0, 0 },
    { "marker after long runs of tags",
      TAGS TAGS TAGS "<!--persona:a-->" TAGS "</div>",
      TAGS TAGS TAGS "[A]" TAGS "</div>", BL, 0, 0 },
    { "marker after a '<' that is text",
      "a<<!--persona:a-->b<<<!--persona:b-->",
      "a<[A]b<<[B]", BL, 0, 0 },
    { "marker after a '<' at the end of a tag-like run",
      "x <3 <!--persona:a--> 1<2<!--persona:b-->",
      "x <3 [A] 1<2[B]", BL, 0, 0 },
    { "end tags of raw text in any case, with delimiters",
      "<SCRIPT>'<!--persona:a-->'</SCRIPT >"
      "<style>/*<!--persona:a-->*/</STYLE\n>"
      "<TextArea><!--persona:a--></textAREA\t>"
      "<title><!--persona:a--></TITLE/>"
      "<!--persona:b-->",
      "<SCRIPT>'<!--persona:a-->'</SCRIPT >"
      "<style>/*<!--persona:a-->*/</STYLE\n>"
      "<TextArea><!--persona:a--></textAREA\t>"
      "<title><!--persona:a--></TITLE/>"
      "[B]", BL, 0, 0 },
    { "near end tags of raw text do not end it",
      "<script></scrip><</script<!--persona:a--></SCRIPTS>'</script >"
      "<!--persona:b-->",
      "<script></scrip><</script<!--persona:a--></SCRIPTS>'</script >"
      "[B]", BL, 0, 0 },
    { "end tag of raw text with a quoted '>'",
      "<title>t</title a='>'><!--persona:b-->",
      "<title>t</title a='>'>[B]", BL, 0, 0 },
    { "escaped script with dashes and '<'",
      "<script><!-- a - b -- c < d <!--persona:a--></script>"
      "<!--persona:b-->",
      "<script><!-- a - b -- c < d <!--persona:a--></script>[B]",
      BL, 0, 0 },
    { "'=' first in an attribute name is no value",
      "<p =\"><!--persona:a-->\"><p a=\"><!--persona:b-->\">",
      "<p =\">[A]\"><p a=\"><!--persona:b-->\">", BL, 0, 0 },
    { "'==' begins an unquoted value",
      "<p a==\"><!--persona:a-->", "<p a==\">[A]", BL, 0, 0 },
    { "attributes: spaces, slashes, unquoted values",
      "<p\ta\n=\f'<!--persona:a-->'\r/ b=x/ c d=\"<!--persona:a-->\">"
      "<!--persona:b-->",
      "<p\ta\n=\f'<!--persona:a-->'\r/ b=x/ c d=\"<!--persona:a-->\">"
      "[B]", BL, 0, 0 },
    { "end tag with a quoted value",
      "</p title=\"><!--persona:a-->\"><!--persona:b-->",
      "</p title=\"><!--persona:a-->\">[B]", BL, 0, 0 },
    { "data layer: head end tag in any case after raw text",
      "<head><TITLE>x</TITLE ><Script>'</head>'</sCRIPT></HEAD >"
      "<!--persona:a-->",
      "<head><TITLE>x</TITLE ><Script>'</head>'</sCRIPT>" DL_TEXT
      "</HEAD >[A]", BL, 1, 0 },
    { "data layer: end tags before head",
      "<head></p></b></hea></headx></head\f><!--persona:a-->",
      "<head></p></b></hea></headx>" DL_TEXT "</head\f>[A]", BL, 1, 0 },

    /* hold limit */
    { "default of exactly hold_max",
      "<!--persona:a-->abc<!--/persona:a-->z", "[A]z", BL, 0, 3 },
    { "default beyond hold_max",
      "<!--persona:a-->abc<!--/persona:a-->z", "[A]abcz", BL, 0, 2 },
    { "hold_max 0, empty region",
      "<!--persona:a--><!--/persona:a-->z", "[A]z", BL, 0, HOLD_ZERO },
    { "hold_max 0, region",
      "<!--persona:a-->x<!--/persona:a-->", "[A]x", BL, 0, HOLD_ZERO },
    { "lookalike counted, fits",
      "<!--persona:a--><!--x--><!--/persona:a-->", "[A]", BL, 0, 8 },
    { "lookalike counted, too long",
      "<!--persona:a--><!--x--><!--/persona:a-->", "[A]<!--x-->", BL, 0, 7 },
    { "hold_max, body ends",
      "<!--persona:a-->abcdef", "[A]abcdef", BL, 0, 2 },
    { "hold_max, second region fits",
      "<!--persona:a-->abcdef<!--/persona:a--><!--persona:b-->ab"
      "<!--/persona:b-->.",
      "[A]abcdef[B].", BL, 0, 2 },

    /* end of input while holding */
    { "holding at the end", "<!--persona:a-->tail", "[A]tail", BL, 0, 0 },
    { "holding, body ends in a candidate", "<!--persona:a-->t<!--persona:",
      "[A]t<!--persona:", BL, 0, 0 },
};


static void
test_cases(void **state)
{
    size_t  i;

    (void) state;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        run_case(&cases[i]);
    }
}


/* a bigger page: many slots, markers everywhere, every split */

static void
test_page(void **state)
{
    size_t          i;
    buf_t           in, out;
    inject_case_t   tc;

    (void) state;

    memset(&in, 0, sizeof(buf_t));
    memset(&out, 0, sizeof(buf_t));

    ADD(&in, "<html><head><title>shop</title></head><body>");
    ADD(&out, "<html><head><title>shop</title>" DL_TEXT
         "</head><body>");

    for (i = 0; i < 12; i++) {
        ADD(&in, "<p>item <b>x</b></p>\n");
        ADD(&out, "<p>item <b>x</b></p>\n");
        ADD(&in, "<!--persona:hero-->");
        ADD(&out, "<h1>Hi</h1>");
        ADD(&in, "<!--persona:offer-->default<!--/persona:offer-->");
        ADD(&out, "<b>-10%</b>");
        ADD(&in, "<!--persona:none-->kept<!--/persona:none-->");
        ADD(&out, "kept");
        ADD(&in, "<!--persona:hero -->");
        ADD(&out, "<!--persona:hero -->");
    }

    ADD(&in, "</body></html>");
    ADD(&out, "</body></html>");

    memset(&tc, 0, sizeof(tc));
    tc.name = "page";
    tc.in = in.data;
    tc.out = out.data;
    tc.blocks = "hero=<h1>Hi</h1>|offer=<b>-10%</b>";
    tc.data_layer = 1;

    run_case(&tc);

    buf_free(&in);
    buf_free(&out);
}


/* one chunk without markers is one COPY of the whole chunk */

static int
count_handler(void *data, const persona_inject_event_t *ev)
{
    unsigned  *n = data;

    n[ev->type]++;

    return PERSONA_OK;
}


static int
no_block(void *data, const char *name, size_t len)
{
    (void) data;
    (void) name;
    (void) len;

    return 0;
}


static void
test_zero_copy(void **state)
{
    unsigned               n[PERSONA_INJECT_HEAD_END + 1];
    persona_inject_t       st;
    persona_inject_conf_t  conf;
    static const char      page[] = "<html><body><p>hello</p></body></html>";

    (void) state;

    memset(n, 0, sizeof(n));
    memset(&conf, 0, sizeof(conf));
    conf.has_block = no_block;
    conf.handler = count_handler;
    conf.data = n;

    persona_inject_init(&st, &conf);
    assert_int_equal(persona_inject_feed(&st, page, sizeof(page) - 1, 1),
                     PERSONA_OK);
    assert_int_equal(n[PERSONA_INJECT_COPY], 1);
    assert_int_equal(n[PERSONA_INJECT_CARRY], 0);

    /* NULL chunks are empty */
    persona_inject_init(&st, &conf);
    assert_int_equal(persona_inject_feed(&st, NULL, 0, 0), PERSONA_OK);
    assert_int_equal(persona_inject_feed(&st, NULL, 0, 1), PERSONA_OK);
    assert_int_equal(persona_inject_feed(&st, NULL, 0, 1), PERSONA_ERROR);

    /* the state is small and fixed */
    assert_true(sizeof(persona_inject_t) <= 512);
}


/* a candidate cut by a chunk boundary comes back as one CARRY */

static int
record_handler(void *data, const persona_inject_event_t *ev)
{
    buf_t  *b = data;

    if (ev->type == PERSONA_INJECT_CARRY) {
        buf_add(b, "C(", 2);
        buf_add(b, ev->data, ev->len);
        buf_add(b, ")", 1);

    } else if (ev->type == PERSONA_INJECT_COPY) {
        buf_add(b, ev->data, ev->len);
    }

    return PERSONA_OK;
}


static void
test_carry(void **state)
{
    buf_t                  b;
    persona_inject_t       st;
    persona_inject_conf_t  conf;

    (void) state;

    memset(&b, 0, sizeof(b));
    memset(&conf, 0, sizeof(conf));
    conf.has_block = no_block;
    conf.handler = record_handler;
    conf.data = &b;

    persona_inject_init(&st, &conf);
    assert_int_equal(persona_inject_feed(&st, "ab<!--pe", 8, 0), PERSONA_OK);
    assert_int_equal(persona_inject_feed(&st, "rs", 2, 0), PERSONA_OK);
    assert_int_equal(persona_inject_feed(&st, "ox<i>", 5, 1), PERSONA_OK);
    assert_string_equal(b.data, "abC(<!--pers)ox<i>");

    b.len = 0;
    persona_inject_init(&st, &conf);
    assert_int_equal(persona_inject_feed(&st, "<!--persona:a-", 14, 0),
                     PERSONA_OK);
    assert_int_equal(persona_inject_feed(&st, "", 0, 1), PERSONA_OK);
    assert_string_equal(b.data, "C(<!--persona:a-)");

    buf_free(&b);
}


/* has_block: once per opening marker, never for closers */

static void
test_has_block_calls(void **state)
{
    inject_case_t     tc;
    sink_t            s;
    persona_inject_t  st;
    static const char in[] = "<!--persona:a-->1<!--/persona:a-->"
                             "<!--persona:c-->2<!--/persona:c-->"
                             "<!--/persona:b--><!--persona:a-";

    (void) state;

    memset(&tc, 0, sizeof(tc));
    tc.name = "calls";
    tc.in = in;
    tc.out = "[A]2<!--persona:a-";
    tc.blocks = BL;

    sink_init(&s, &st, &tc);
    assert_int_equal(sink_feed(&s, in, 0, sizeof(in) - 1, 1), PERSONA_OK);
    assert_string_equal(s.out.data, tc.out);
    assert_int_equal(s.has_block_calls, 2);
    sink_free(&s);
}


/* a failing handler stops the feed and poisons the state */

typedef struct {
    const char  *in;
    size_t       cut;
    int          hold;
} error_case_t;


static void
test_handler_error(void **state)
{
    size_t              c, len, cut;
    unsigned            k, total;
    inject_case_t       tc;
    sink_t              s;
    persona_inject_t    st;
    static const error_case_t  ecases[] = {
        { "<head></head><!--persona:a-->d<!--/persona:a--><!--persona:b-->x"
          "<!--pers", 70, 0 },
        { "<!--persona:a-->d</head>x", 20, 0 },
        { "<!--persona:a--><!--persona:b-->", 0, 0 },
        { "x<!--persona:a-->xyz<!--/persona:a-->", 0, HOLD_ZERO },
        { "x<!--pex", 5, 0 },
    };

    (void) state;

    for (c = 0; c < sizeof(ecases) / sizeof(ecases[0]); c++) {
        memset(&tc, 0, sizeof(tc));
        tc.name = "errors";
        tc.in = ecases[c].in;
        tc.blocks = BL;
        tc.data_layer = 1;
        tc.hold = ecases[c].hold;

        len = strlen(tc.in);
        cut = ecases[c].cut;
        assert_true(cut <= len);

        /* count the events of a clean run */
        sink_init(&s, &st, &tc);
        assert_int_equal(sink_feed(&s, tc.in, 0, cut, 0), PERSONA_OK);
        assert_int_equal(sink_feed(&s, tc.in, cut, len, 1), PERSONA_OK);
        total = s.events;
        assert_true(total >= 3);
        sink_free(&s);

        for (k = 1; k <= total; k++) {
            sink_init(&s, &st, &tc);
            s.fail_at = k;
            s.fail_rc = (k & 1) ? PERSONA_NOMEM : 1;

            if (sink_feed(&s, tc.in, 0, cut, 0) == PERSONA_OK) {
                assert_int_equal(sink_feed(&s, tc.in, cut, len, 1),
                                 (k & 1) ? PERSONA_NOMEM : PERSONA_ERROR);

            } else {
                assert_int_equal(sink_feed(&s, tc.in, cut, len, 1),
                                 PERSONA_ERROR);
            }

            assert_int_equal(s.events, k);
            assert_int_equal(persona_inject_feed(&st, "x", 1, 1),
                             PERSONA_ERROR);
            sink_free(&s);
        }
    }
}


static void
test_name_valid(void **state)
{
    (void) state;

    assert_true(persona_inject_name_valid("a", 1));
    assert_true(persona_inject_name_valid("hero", 4));
    assert_true(persona_inject_name_valid("Hero_2", 6));
    assert_true(persona_inject_name_valid("vip-offer-1", 11));
    assert_true(persona_inject_name_valid("_", 1));
    assert_true(persona_inject_name_valid(N64, 64));
    assert_true(persona_inject_name_valid(D64, 64));

    assert_false(persona_inject_name_valid("", 0));
    assert_false(persona_inject_name_valid(N64 "n", 65));
    assert_false(persona_inject_name_valid("-a", 2));
    assert_false(persona_inject_name_valid("a-", 2));
    assert_false(persona_inject_name_valid("-", 1));
    assert_false(persona_inject_name_valid("a--b", 4));
    assert_false(persona_inject_name_valid("a.b", 3));
    assert_false(persona_inject_name_valid("a b", 3));
    assert_false(persona_inject_name_valid("a>", 2));
    assert_false(persona_inject_name_valid("\xc3\xa9", 2));
    assert_false(persona_inject_name_valid("a\0b", 3));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_page),
        cmocka_unit_test(test_zero_copy),
        cmocka_unit_test(test_carry),
        cmocka_unit_test(test_has_block_calls),
        cmocka_unit_test(test_handler_error),
        cmocka_unit_test(test_name_valid),
    };

    return cmocka_run_group_tests_name("inject", tests, NULL, NULL);
}
