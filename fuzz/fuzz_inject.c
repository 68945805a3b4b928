/*
 * libFuzzer target for the slot injector (src/persona_inject.c).
 *
 * Input: 4 header bytes, then the body.
 *   byte 0: bit 0 data layer, bits 1-3 hold_max (index into hold_sizes),
 *           bit 4 also feed byte by byte
 *   byte 1: block set: slot NAME has a block when bit (hash(NAME) & 7)
 *           is set; 0 = no blocks
 *   byte 2, 3: two cut points (scaled to the body length)
 *
 * Checks, aborting on failure:
 *   - no crash, no sanitizer report, the event protocol holds (a COPY
 *     lies inside its chunk, BLOCK is followed by HOLD, COMMIT/DROP only
 *     while holding, at most one HEAD_END, nothing held at the end);
 *   - the held text never exceeds hold_max;
 *   - one-shot, 3-piece and byte-by-byte feeds give the same output, and
 *     it equals a plain whole-buffer reference implementation;
 *   - with no blocks and no data layer the output is the body with only
 *     markers removed, and exactly the body when it holds no marker;
 *   - markers count only in element text (SPEC "Where markers count"):
 *     the reference asks the core HTML tokenizer (persona_html.c) where
 *     each '<' stands, and, independently of it, the body wrapped in
 *     <script>, <style>, <textarea>, <title>, a quoted attribute value
 *     or a comment, with the bytes that could end that context taken
 *     out, comes back byte for byte: no block, no data layer, no marker
 *     removed.
 *
 * Build and run: scripts/fuzz.sh SECONDS
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_html.h"
#include "persona_inject.h"


#define DL_TEXT  "<DL>"

#define check(e)  do { if (!(e)) { __builtin_trap(); } } while (0)


typedef struct {
    char     *data;
    size_t    len;
    size_t    cap;
} buf_t;


typedef struct {
    persona_inject_t   st;
    unsigned           mask;
    size_t             hold_max;
    int                data_layer;

    buf_t              out;
    buf_t              held;
    const char        *chunk;
    size_t             chunk_len;
    int                holding;
    int                want_hold;
    int                head_ends;
} sink_t;


static const size_t  hold_sizes[8] = { 0, 1, 3, 8, 32, 100, 1000, 65536 };


static void
buf_add(buf_t *b, const char *data, size_t len)
{
    if (b->len + len > b->cap) {
        b->cap = (b->len + len) * 2 + 16;
        b->data = realloc(b->data, b->cap);
        check(b->data != NULL);
    }

    if (len) {
        memcpy(b->data + b->len, data, len);
    }

    b->len += len;
}


static unsigned
name_bit(const char *name, size_t len)
{
    size_t    i;
    unsigned  h;

    h = 5381;

    for (i = 0; i < len; i++) {
        h = h * 33 + (unsigned char) name[i];
    }

    return h & 7;
}


static int
has_block(unsigned mask, const char *name, size_t len)
{
    return (mask >> name_bit(name, len)) & 1;
}


static void
add_block(buf_t *b, const char *name, size_t len)
{
    buf_add(b, "{", 1);
    buf_add(b, name, len);
    buf_add(b, "}", 1);
}


static int
sink_has_block(void *data, const char *name, size_t len)
{
    sink_t  *s = data;

    check(persona_inject_name_valid(name, len));

    return has_block(s->mask, name, len);
}


static int
sink_handler(void *data, const persona_inject_event_t *ev)
{
    sink_t      *s = data;
    const char  *lo, *hi;

    if (s->want_hold) {
        check(ev->type == PERSONA_INJECT_HOLD);
        s->want_hold = 0;
    }

    switch (ev->type) {

    case PERSONA_INJECT_COPY:
        check(ev->len > 0);
        check(s->chunk != NULL);
        check(ev->data >= s->chunk);
        check(ev->data + ev->len <= s->chunk + s->chunk_len);
        buf_add(s->holding ? &s->held : &s->out, ev->data, ev->len);
        break;

    case PERSONA_INJECT_CARRY:
        lo = (const char *) &s->st;
        hi = lo + sizeof(persona_inject_t);
        check(ev->len > 0 && ev->len < PERSONA_INJECT_MARKER_MAX);
        check(ev->data >= lo && ev->data + ev->len <= hi);
        buf_add(s->holding ? &s->held : &s->out, ev->data, ev->len);
        break;

    case PERSONA_INJECT_BLOCK:
        check(!s->holding);
        check(has_block(s->mask, ev->data, ev->len));
        add_block(&s->out, ev->data, ev->len);
        s->want_hold = 1;
        break;

    case PERSONA_INJECT_HOLD:
        check(!s->holding);
        s->holding = 1;
        s->held.len = 0;
        break;

    case PERSONA_INJECT_COMMIT:
        check(s->holding);
        buf_add(&s->out, s->held.data, s->held.len);
        s->held.len = 0;
        s->holding = 0;
        break;

    case PERSONA_INJECT_DROP:
        check(s->holding);
        s->held.len = 0;
        s->holding = 0;
        break;

    case PERSONA_INJECT_HEAD_END:
        check(s->data_layer);
        check(!s->holding);
        check(s->head_ends == 0);
        s->head_ends++;
        buf_add(&s->out, DL_TEXT, sizeof(DL_TEXT) - 1);
        break;

    default:
        check(0);
    }

    /* (d) */
    check(s->held.len <= s->hold_max);

    return PERSONA_OK;
}


static int
feed(sink_t *s, const char *in, size_t from, size_t to, int last)
{
    int    rc;
    char  *copy;

    copy = NULL;

    if (to > from) {
        copy = malloc(to - from);
        check(copy != NULL);
        memcpy(copy, in + from, to - from);
    }

    s->chunk = copy;
    s->chunk_len = to - from;

    rc = persona_inject_feed(&s->st, copy, to - from, last);

    s->chunk = NULL;
    s->chunk_len = 0;
    free(copy);

    return rc;
}


/* runs the injector over in[0..len) cut at cuts[]; output into *out */

static void
run(const char *in, size_t len, const size_t *cuts, size_t ncuts,
    unsigned mask, size_t hold_max, int data_layer, buf_t *out)
{
    size_t                 i, from;
    sink_t                *s;
    persona_inject_conf_t  conf;

    s = calloc(1, sizeof(sink_t));
    check(s != NULL);

    s->mask = mask;
    s->hold_max = hold_max;
    s->data_layer = data_layer;

    memset(&conf, 0, sizeof(conf));
    conf.has_block = sink_has_block;
    conf.handler = sink_handler;
    conf.data = s;
    conf.hold_max = hold_max;
    conf.data_layer = data_layer ? 1 : 0;

    persona_inject_init(&s->st, &conf);

    from = 0;

    for (i = 0; i < ncuts; i++) {
        check(feed(s, in, from, cuts[i], 0) == PERSONA_OK);
        from = cuts[i];
    }

    check(feed(s, in, from, len, 1) == PERSONA_OK);
    check(!s->holding && !s->want_hold);
    check(persona_inject_feed(&s->st, "x", 1, 1) == PERSONA_ERROR);

    *out = s->out;
    free(s->held.data);
    free(s);
}


/*
 * The reference: a whole-buffer implementation of the same contract,
 * written independently of the state machine.
 */

static size_t
ref_marker(const char *p, size_t n, int *closing, const char **name,
    size_t *name_len)
{
    size_t  pre, i, k;

    if (n >= 13 && memcmp(p, "<!--/persona:", 13) == 0) {
        *closing = 1;
        pre = 13;

    } else if (n >= 12 && memcmp(p, "<!--persona:", 12) == 0) {
        *closing = 0;
        pre = 12;

    } else {
        return 0;
    }

    /* the name ends at the first "--" */
    for (k = pre; k + 1 < n && k - pre <= PERSONA_INJECT_NAME_MAX; k++) {
        if (p[k] == '-' && p[k + 1] == '-') {
            break;
        }
    }

    if (k + 2 >= n || p[k] != '-' || p[k + 1] != '-' || p[k + 2] != '>') {
        return 0;
    }

    if (k == pre || k - pre > PERSONA_INJECT_NAME_MAX
        || p[pre] == '-' || p[k - 1] == '-')
    {
        return 0;
    }

    for (i = pre; i < k; i++) {
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z')
              || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'
              || p[i] == '-'))
        {
            return 0;
        }
    }

    *name = p + pre;
    *name_len = k - pre;

    return k + 3;
}


static int
ref_head(const char *p, size_t n)
{
    size_t  i;

    if (n < 7 || p[0] != '<' || p[1] != '/') {
        return 0;
    }

    for (i = 0; i < 4; i++) {
        if (p[2 + i] != "head"[i] && p[2 + i] != "HEAD"[i]) {
            return 0;
        }
    }

    return p[6] == '>' || p[6] == '/' || p[6] == ' ' || p[6] == '\t'
           || p[6] == '\n' || p[6] == '\r' || p[6] == '\f';
}


static void
ref_commit(buf_t *out, buf_t *held, int *holding)
{
    buf_add(out, held->data, held->len);
    held->len = 0;
    *holding = 0;
}


static void
reference(const char *in, size_t len, unsigned mask, size_t hold_max,
    int data_layer, buf_t *out, size_t *markers)
{
    int             closing, holding, head;
    size_t          i, m, name_len, hold_name_len;
    buf_t           held;
    const char     *name, *hold_name;
    persona_html_t  html;

    persona_html_init(&html);
    memset(&held, 0, sizeof(held));
    holding = 0;
    head = data_layer;
    hold_name = NULL;
    hold_name_len = 0;
    *markers = 0;

    i = 0;

    while (i < len) {
        /* a '<' stands in text when the tokenizer stops before it */
        if (in[i] == '<'
            && persona_html_scan(&html, in + i, in + i + 1, 1) == in + i)
        {
            m = ref_marker(in + i, len - i, &closing, &name, &name_len);

            if (m) {
                (*markers)++;

                /* a marker is a whole comment: text again after it */
                (void) persona_html_scan(&html, in + i, in + i + m, 0);
                check(persona_html_in_text(&html));

                if (closing) {
                    if (holding) {
                        if (name_len == hold_name_len
                            && memcmp(name, hold_name, name_len) == 0)
                        {
                            held.len = 0;
                            holding = 0;

                        } else {
                            ref_commit(out, &held, &holding);
                        }
                    }

                } else {
                    if (holding) {
                        ref_commit(out, &held, &holding);
                    }

                    if (has_block(mask, name, name_len)) {
                        add_block(out, name, name_len);
                        holding = 1;
                        hold_name = name;
                        hold_name_len = name_len;
                    }
                }

                i += m;
                continue;
            }

            if (head && ref_head(in + i, len - i)) {
                if (holding) {
                    ref_commit(out, &held, &holding);
                }

                buf_add(out, DL_TEXT, sizeof(DL_TEXT) - 1);
                head = 0;
            }
        }

        if (holding && held.len + 1 > hold_max) {
            ref_commit(out, &held, &holding);
        }

        buf_add(holding ? &held : out, in + i, 1);
        (void) persona_html_scan(&html, in + i, in + i + 1, 0);
        i++;
    }

    if (holding) {
        ref_commit(out, &held, &holding);
    }

    free(held.data);
}


static int
buf_eq(const buf_t *a, const buf_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}


/*
 * A context the body is put in, and the bytes taken out of the body so
 * that nothing in it can end that context: no "</" at all ends a raw
 * text element (in a script, whatever its escaping state), no quote ends
 * a quoted value, no '>' ends a comment.
 */
typedef struct {
    const char  *open;
    const char  *close;
    const char  *out;       /* bytes replaced by '_' */
} wrap_t;


static const wrap_t  wraps[] = {
    { "<script>", "</script>", "/" },
    { "<SCRIPT type=\"module\">", "</SCRIPT>", "/" },
    { "<style>", "</style>", "/" },
    { "<textarea>", "</textarea>", "/" },
    { "<title>", "</title>", "/" },
    { "<div title=\"", "\">", "\"" },
    { "<div title='", "'>", "'" },
    { "<!-- ", " -->", ">" },
};


static void
wrapped(const char *in, size_t len, const wrap_t *w, const size_t *cuts,
    size_t hold_max)
{
    size_t  i, olen, clen;
    buf_t   body, out;
    char   *p;

    olen = strlen(w->open);
    clen = strlen(w->close);

    memset(&body, 0, sizeof(buf_t));
    memset(&out, 0, sizeof(buf_t));

    buf_add(&body, w->open, olen);
    buf_add(&body, in, len);
    buf_add(&body, w->close, clen);

    for (i = 0, p = body.data + olen; i < len; i++) {
        if (strchr(w->out, p[i]) != NULL && p[i] != '\0') {
            p[i] = '_';
        }
    }

    /* every slot has a block, the data layer is wanted */
    run(body.data, body.len, NULL, 0, 0xff, hold_max, 1, &out);
    check(buf_eq(&body, &out));

    free(out.data);
    memset(&out, 0, sizeof(buf_t));

    /* cut, with the cut points inside the wrapped text */
    {
        size_t  c2[2];

        c2[0] = olen + cuts[0];
        c2[1] = olen + cuts[1];
        run(body.data, body.len, c2, 2, 0xff, hold_max, 1, &out);
        check(buf_eq(&body, &out));
    }

    free(out.data);
    free(body.data);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          data_layer, bytes;
    size_t       len, i, hold_max, markers, cuts[2], *each;
    unsigned     mask;
    buf_t        one, split, ref, plain;
    const char  *in;

    if (size < 4) {
        return 0;
    }

    data_layer = data[0] & 1;
    hold_max = hold_sizes[(data[0] >> 1) & 7];
    bytes = (data[0] >> 4) & 1;
    mask = data[1];

    in = (const char *) data + 4;
    len = size - 4;

    cuts[0] = len * data[2] / 255;
    cuts[1] = len * data[3] / 255;

    if (cuts[0] > cuts[1]) {
        i = cuts[0];
        cuts[0] = cuts[1];
        cuts[1] = i;
    }

    memset(&one, 0, sizeof(buf_t));
    memset(&split, 0, sizeof(buf_t));
    memset(&ref, 0, sizeof(buf_t));

    run(in, len, NULL, 0, mask, hold_max, data_layer, &one);
    run(in, len, cuts, 2, mask, hold_max, data_layer, &split);
    reference(in, len, mask, hold_max, data_layer, &ref, &markers);

    /* (c) and the reference */
    check(buf_eq(&one, &split));
    check(buf_eq(&one, &ref));

    if (bytes && len > 1) {
        each = malloc((len - 1) * sizeof(size_t));
        check(each != NULL);

        for (i = 0; i < len - 1; i++) {
            each[i] = i + 1;
        }

        free(split.data);
        memset(&split, 0, sizeof(buf_t));
        run(in, len, each, len - 1, mask, hold_max, data_layer, &split);
        check(buf_eq(&one, &split));
        free(each);
    }

    /* (b) no blocks, no data layer: the body minus its markers */
    free(ref.data);
    memset(&ref, 0, sizeof(buf_t));
    memset(&plain, 0, sizeof(buf_t));

    run(in, len, cuts, 2, 0, hold_max, 0, &plain);
    reference(in, len, 0, hold_max, 0, &ref, &markers);
    check(buf_eq(&plain, &ref));

    if (markers == 0) {
        check(plain.len == len
              && (len == 0 || memcmp(plain.data, in, len) == 0));

    } else {
        check(plain.len < len);
    }

    free(one.data);
    free(split.data);
    free(ref.data);
    free(plain.data);

    if (len <= 4096) {
        for (i = 0; i < sizeof(wraps) / sizeof(wraps[0]); i++) {
            wrapped(in, len, &wraps[i], cuts, hold_max);
        }
    }

    return 0;
}
