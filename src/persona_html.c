/*
 * HTML context tokenizer: see persona_html.h.
 *
 * The machine of the standard is persona_html_step(), one byte at a time
 * through a switch.  The template compiler (h->names) feeds it every
 * byte but the long runs of text, raw text and comments, which go by
 * memchr.  The injector, which must keep up with whole pages, gets
 * persona_html_scan_fast(): the same states, each a label with a loop of
 * its own.
 */

#include <string.h>

#include "persona_html.h"


enum {
    S_TEXT = 0,
    S_TAG_OPEN,             /* "<" */
    S_END_TAG_OPEN,         /* "</" */
    S_TAG_NAME,
    S_BEFORE_ATTR_NAME,
    S_ATTR_NAME,
    S_AFTER_ATTR_NAME,
    S_BEFORE_VALUE,
    S_VALUE_DQ,
    S_VALUE_SQ,
    S_VALUE_UNQ,
    S_AFTER_VALUE,
    S_SELF_CLOSING,
    S_MD_OPEN,              /* "<!" */
    S_MD_DASH,              /* "<!-" */
    S_BOGUS,                /* up to '>' */
    S_COMMENT_START,        /* "<!--" */
    S_COMMENT_START_DASH,   /* "<!---" */
    S_COMMENT,
    S_COMMENT_END_DASH,     /* "-" */
    S_COMMENT_END,          /* "--" */
    S_COMMENT_END_BANG,     /* "--!" */
    S_RAW,                  /* RAWTEXT, RCDATA */
    S_RAW_LT,
    S_RAW_END,              /* "</" and letters */
    S_PLAINTEXT,
    S_SCRIPT,               /* script data */
    S_SCRIPT_LT,
    S_SCRIPT_END,           /* "</" and letters */
    S_SCRIPT_BANG,          /* "<!" */
    S_SCRIPT_BANG_DASH,     /* "<!-" */
    S_ESC,                  /* script data escaped */
    S_ESC_DASH,
    S_ESC_DASH_DASH,
    S_ESC_LT,
    S_ESC_END,              /* "</" and letters */
    S_DESC_START,           /* "<" and letters */
    S_DESC,                 /* script data double escaped */
    S_DESC_DASH,
    S_DESC_DASH_DASH,
    S_DESC_LT,
    S_DESC_END              /* "</" and letters */
};


typedef struct {
    const char  *name;
    size_t       len;
    unsigned     state;     /* where its text is read */
    unsigned     ctx;
} persona_html_raw_t;


/* the elements whose text is not markup; the index + 1 is h->raw */
static const persona_html_raw_t  persona_html_raws[] = {
    { "script", 6, S_SCRIPT, PERSONA_HTML_CTX_SCRIPT },
    { "style", 5, S_RAW, PERSONA_HTML_CTX_STYLE },
    { "textarea", 8, S_RAW, PERSONA_HTML_CTX_RCDATA },
    { "title", 5, S_RAW, PERSONA_HTML_CTX_RCDATA },
    { "xmp", 3, S_RAW, PERSONA_HTML_CTX_RAWTEXT },
    { "iframe", 6, S_RAW, PERSONA_HTML_CTX_RAWTEXT },
    { "noembed", 7, S_RAW, PERSONA_HTML_CTX_RAWTEXT },
    { "noframes", 8, S_RAW, PERSONA_HTML_CTX_RAWTEXT },
    { "noscript", 8, S_RAW, PERSONA_HTML_CTX_RAWTEXT },
    { "plaintext", 9, S_PLAINTEXT, PERSONA_HTML_CTX_RAWTEXT }
};

#define PERSONA_HTML_NRAWS \
    (sizeof(persona_html_raws) / sizeof(persona_html_raws[0]))

#define persona_html_space(c) \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\f' || (c) == '\r')

#define persona_html_alpha(c) \
    (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z')


/* what a byte does in the fast scan's loops */
#define C_SPACE     0x01    /* HTML whitespace */
#define C_NAME_END  0x02    /* ends a tag name: whitespace, '/', '>' */
#define C_ATTR_END  0x04    /* ends an attribute name: those and '=' */
#define C_UNQ_END   0x08    /* ends an unquoted value: whitespace, '>' */
#define C_ESC       0x10    /* matters in an escaped script: '-', '<' */

#define C_WS  (C_SPACE | C_NAME_END | C_ATTR_END | C_UNQ_END)

static const unsigned char  persona_html_class[256] = {
    ['\t'] = C_WS, ['\n'] = C_WS, ['\f'] = C_WS, ['\r'] = C_WS, [' '] = C_WS,
    ['/'] = C_NAME_END | C_ATTR_END,
    ['>'] = C_NAME_END | C_ATTR_END | C_UNQ_END,
    ['='] = C_ATTR_END,
    ['-'] = C_ESC,
    ['<'] = C_ESC
};


static const char *persona_html_scan_fast(persona_html_t *h,
    const char *p, const char *end, int stop);
static const char *persona_html_scan_bytes(persona_html_t *h,
    const char *p, const char *end, int stop);
static int persona_html_stop_at(const char *q, const char *end, int stop);
static int persona_html_step(persona_html_t *h, unsigned char c);
static void persona_html_emit_tag(persona_html_t *h);
static unsigned persona_html_raw_index(const char *tag, size_t len);
static void persona_html_letter(persona_html_t *h, unsigned char c,
    const char *name, size_t len);
static int persona_html_appropriate(const persona_html_t *h);


void
persona_html_init(persona_html_t *h)
{
    memset(h, 0, sizeof(persona_html_t));
}


void
persona_html_init_names(persona_html_t *h)
{
    memset(h, 0, sizeof(persona_html_t));
    h->names = 1;
}


const char *
persona_html_scan(persona_html_t *h, const char *p, const char *end,
    int stop)
{
    if (h->names) {
        return persona_html_scan_bytes(h, p, end, stop);
    }

    return persona_html_scan_fast(h, p, end, stop);
}


/*
 * The injector's scan: each state of the tokenizer that a page spends its
 * bytes in is a label with a loop of its own (memchr, or a table lookup a
 * byte), the state lives in the program counter and goes back into
 * h->state only at the end of the input, and the rare states (comment
 * delimiters, "<!", escaped scripts) take one byte at a time through
 * persona_html_step().  Attribute names and what a value holds are not
 * kept (h->names is 0).  Both ways read the same bytes into the same
 * states: fuzz/fuzz_html.c holds them to it.
 */

static const char *
persona_html_scan_fast(persona_html_t *h, const char *p, const char *end,
    int stop)
{
    size_t          n;
    unsigned char   c;
    const char     *q;

dispatch:

    switch (h->state) {

    case S_TEXT:
        goto text;

    case S_TAG_OPEN:
        goto tag_open;

    case S_END_TAG_OPEN:
        goto end_tag_open;

    case S_TAG_NAME:
        goto tag_name;

    case S_BEFORE_ATTR_NAME:
        goto before_attr_name;

    case S_ATTR_NAME:
        goto attr_name;

    case S_AFTER_ATTR_NAME:
        goto after_attr_name;

    case S_BEFORE_VALUE:
        goto before_value;

    case S_VALUE_DQ:
        goto value_dq;

    case S_VALUE_SQ:
        goto value_sq;

    case S_VALUE_UNQ:
        goto value_unq;

    case S_AFTER_VALUE:
        goto after_value;

    case S_SELF_CLOSING:
        goto self_closing;

    case S_RAW:
        goto raw;

    case S_RAW_LT:
        goto raw_lt;

    case S_RAW_END:
    case S_SCRIPT_END:
        goto raw_end;

    case S_SCRIPT:
        goto script;

    case S_SCRIPT_LT:
        goto script_lt;

    case S_COMMENT:
        goto comment;

    case S_BOGUS:
        goto bogus;

    case S_PLAINTEXT:
        return end;

    default:
        goto other;
    }

    /* element text: the next '<' */

text:

    q = memchr(p, '<', end - p);
    if (q == NULL) {
        h->state = S_TEXT;
        return end;
    }

    if (stop && persona_html_stop_at(q, end, stop)) {
        h->state = S_TEXT;
        return q;
    }

    p = q + 1;

tag_open:

    if (p == end) {
        h->state = S_TAG_OPEN;
        return end;
    }

    c = (unsigned char) *p;

    if (persona_html_alpha(c)) {
        h->end_tag = 0;
        h->tag_len = 0;
        goto tag_name;
    }

    if (c == '/') {
        p++;
        goto end_tag_open;
    }

    if (c == '!') {
        p++;
        h->state = S_MD_OPEN;
        goto other;
    }

    if (c == '?') {
        p++;
        goto bogus;
    }

    /* "<" and not a tag: c is text (and may be another '<') */
    goto text;

end_tag_open:

    if (p == end) {
        h->state = S_END_TAG_OPEN;
        return end;
    }

    c = (unsigned char) *p;

    if (persona_html_alpha(c)) {
        h->end_tag = 1;
        h->tag_len = 0;
        goto tag_name;
    }

    if (c == '>') {
        p++;
        goto text;
    }

    /* "</ x>": c is the first byte of a bogus comment */
    goto bogus;

tag_name:

    n = h->tag_len;

    while (p < end) {
        c = (unsigned char) *p;

        if (persona_html_class[c] & C_NAME_END) {
            break;
        }

        if (n < PERSONA_HTML_TAG_MAX) {
            h->tag[n++] = (char) (persona_html_alpha(c) ? (c | 0x20) : c);

        } else {
            n = PERSONA_HTML_TAG_MAX + 1;
        }

        p++;
    }

    h->tag_len = (unsigned char) n;

    if (p == end) {
        h->state = S_TAG_NAME;
        return end;
    }

    p++;

    if (c == '>') {
        goto emit;
    }

    if (c == '/') {
        goto self_closing;
    }

    /* whitespace */

before_attr_name:

    while (p < end && (persona_html_class[(unsigned char) *p] & C_SPACE)) {
        p++;
    }

    if (p == end) {
        h->state = S_BEFORE_ATTR_NAME;
        return end;
    }

    c = (unsigned char) *p++;

    if (c == '>') {
        goto emit;
    }

    if (c == '/') {
        goto self_closing;
    }

    /* anything else, '=' and quotes too, is the first byte of a name */

attr_name:

    while (p < end
           && !(persona_html_class[(unsigned char) *p] & C_ATTR_END))
    {
        p++;
    }

    if (p == end) {
        h->state = S_ATTR_NAME;
        return end;
    }

    c = (unsigned char) *p++;

    if (c == '=') {
        goto before_value;
    }

    if (c == '>') {
        goto emit;
    }

    if (c == '/') {
        goto self_closing;
    }

    /* whitespace */

after_attr_name:

    while (p < end && (persona_html_class[(unsigned char) *p] & C_SPACE)) {
        p++;
    }

    if (p == end) {
        h->state = S_AFTER_ATTR_NAME;
        return end;
    }

    c = (unsigned char) *p++;

    if (c == '=') {
        goto before_value;
    }

    if (c == '>') {
        goto emit;
    }

    if (c == '/') {
        goto self_closing;
    }

    /* c began the next attribute's name */
    goto attr_name;

before_value:

    while (p < end && (persona_html_class[(unsigned char) *p] & C_SPACE)) {
        p++;
    }

    if (p == end) {
        h->state = S_BEFORE_VALUE;
        return end;
    }

    c = (unsigned char) *p;

    if (c == '"') {
        p++;
        goto value_dq;
    }

    if (c == '\'') {
        p++;
        goto value_sq;
    }

    if (c == '>') {
        p++;
        goto emit;
    }

    /* c begins an unquoted value */

value_unq:

    while (p < end && !(persona_html_class[(unsigned char) *p] & C_UNQ_END))
    {
        p++;
    }

    if (p == end) {
        h->state = S_VALUE_UNQ;
        return end;
    }

    c = (unsigned char) *p++;

    if (c == '>') {
        goto emit;
    }

    /* whitespace */
    goto before_attr_name;

value_dq:

    q = memchr(p, '"', end - p);
    if (q == NULL) {
        h->state = S_VALUE_DQ;
        return end;
    }

    p = q + 1;
    goto after_value;

value_sq:

    q = memchr(p, '\'', end - p);
    if (q == NULL) {
        h->state = S_VALUE_SQ;
        return end;
    }

    p = q + 1;

after_value:

    if (p == end) {
        h->state = S_AFTER_VALUE;
        return end;
    }

    c = (unsigned char) *p++;

    if (c == '>') {
        goto emit;
    }

    if (c == '/') {
        goto self_closing;
    }

    if (persona_html_class[c] & C_SPACE) {
        goto before_attr_name;
    }

    /* c began the next attribute's name */
    goto attr_name;

self_closing:

    if (p == end) {
        h->state = S_SELF_CLOSING;
        return end;
    }

    if (*p == '>') {
        p++;
        goto emit;
    }

    /* "/" not before '>' is a space between attributes */
    goto before_attr_name;

emit:

    persona_html_emit_tag(h);

    switch (h->state) {

    case S_TEXT:
        goto text;

    case S_SCRIPT:
        goto script;

    case S_RAW:
        goto raw;

    default:
        /* plaintext */
        return end;
    }

    /* RAWTEXT and RCDATA: the next '<' that may begin "</" */

raw:

    q = memchr(p, '<', end - p);
    if (q == NULL) {
        h->state = S_RAW;
        return end;
    }

    p = q + 1;

raw_lt:

    if (p == end) {
        h->state = S_RAW_LT;
        return end;
    }

    if (*p != '/') {
        goto raw;
    }

    p++;
    h->match = 0;
    h->mismatch = 0;
    h->state = S_RAW_END;
    goto raw_end;

script:

    q = memchr(p, '<', end - p);
    if (q == NULL) {
        h->state = S_SCRIPT;
        return end;
    }

    p = q + 1;

script_lt:

    if (p == end) {
        h->state = S_SCRIPT_LT;
        return end;
    }

    c = (unsigned char) *p;

    if (c == '/') {
        p++;
        h->match = 0;
        h->mismatch = 0;
        h->state = S_SCRIPT_END;
        goto raw_end;
    }

    if (c == '!') {
        p++;
        h->state = S_SCRIPT_BANG;
        goto other;
    }

    goto script;

    /* "</" in raw text or a script: the element's own end tag? */

raw_end:

    while (p < end && persona_html_alpha((unsigned char) *p)) {
        persona_html_letter(h, (unsigned char) *p,
                            persona_html_raws[h->raw - 1].name,
                            persona_html_raws[h->raw - 1].len);
        p++;
    }

    if (p == end) {
        /* h->state is S_RAW_END or S_SCRIPT_END */
        return end;
    }

    if ((persona_html_class[(unsigned char) *p] & C_NAME_END)
        && persona_html_appropriate(h))
    {
        /* the delimiter ends the end tag's (empty) name at once */
        h->raw = 0;
        h->end_tag = 1;
        h->tag_len = 0;
        goto tag_name;
    }

    /* not the end tag: the byte is raw text again */

    if (h->state == S_RAW_END) {
        goto raw;
    }

    goto script;

comment:

    q = memchr(p, '-', end - p);
    if (q == NULL) {
        h->state = S_COMMENT;
        return end;
    }

    p = q + 1;
    h->state = S_COMMENT_END_DASH;
    goto other;

bogus:

    q = memchr(p, '>', end - p);
    if (q == NULL) {
        h->state = S_BOGUS;
        return end;
    }

    p = q + 1;
    goto text;

    /* the rest, a byte at a time; h->state is where we stand */

other:

    if (h->state == S_ESC || h->state == S_DESC) {
        /* in these only '-' and '<' change the state */
        while (p < end && !(persona_html_class[(unsigned char) *p] & C_ESC))
        {
            p++;
        }
    }

    if (p == end) {
        return end;
    }

    if (!persona_html_step(h, (unsigned char) *p)) {
        /* a '<' read again in text */
        goto text;
    }

    p++;
    goto dispatch;
}


/*
 * The same machine a byte at a time (the template compiler, which keeps
 * attribute names), with memchr over the long runs.
 */

static const char *
persona_html_scan_bytes(persona_html_t *h, const char *p, const char *end,
    int stop)
{
    const char  *q;

    while (p < end) {

        /* the long runs */

        switch (h->state) {

        case S_TEXT:
        case S_RAW:
        case S_SCRIPT:
            q = memchr(p, '<', end - p);
            if (q == NULL) {
                return end;
            }

            p = q;
            break;

        case S_COMMENT:
            q = memchr(p, '-', end - p);
            if (q == NULL) {
                return end;
            }

            p = q;
            break;

        case S_BOGUS:
            q = memchr(p, '>', end - p);
            if (q == NULL) {
                return end;
            }

            p = q;
            break;

        case S_PLAINTEXT:
            return end;
        }

        if (!persona_html_step(h, (unsigned char) *p)) {
            /* a '<' in text */

            if (stop && persona_html_stop_at(p, end, stop)) {
                return p;
            }

            h->state = S_TAG_OPEN;
        }

        p++;
    }

    return end;
}


/* whether the scan stops before the '<' at q, in text */

static int
persona_html_stop_at(const char *q, const char *end, int stop)
{
    if ((stop & PERSONA_HTML_STOP_LT) || q + 1 == end) {
        return 1;
    }

    switch (q[1]) {

    case '!':
        return (stop & PERSONA_HTML_STOP_BANG) != 0;

    case '/':
        return (stop & PERSONA_HTML_STOP_SLASH) != 0;

    default:
        return 0;
    }
}


/*
 * One byte through the standard's machine ("reconsume" is a goto back to
 * the switch with the same byte).  Returns 0, leaving the state alone,
 * when c is a '<' in text: the caller decides whether to stop before it,
 * and otherwise goes on in S_TAG_OPEN after it.
 */

static int
persona_html_step(persona_html_t *h, unsigned char c)
{
again:

    switch (h->state) {

    case S_TEXT:
        if (c == '<') {
            return 0;
        }

        break;

    case S_TAG_OPEN:
        if (c == '!') {
            h->state = S_MD_OPEN;

        } else if (c == '/') {
            h->state = S_END_TAG_OPEN;

        } else if (persona_html_alpha(c)) {
            h->end_tag = 0;
            h->tag_len = 0;
            h->state = S_TAG_NAME;
            goto again;

        } else if (c == '?') {
            h->state = S_BOGUS;

        } else {
            h->state = S_TEXT;
            goto again;
        }

        break;

    case S_END_TAG_OPEN:
        if (persona_html_alpha(c)) {
            h->end_tag = 1;
            h->tag_len = 0;
            h->state = S_TAG_NAME;
            goto again;
        }

        if (c == '>') {
            h->state = S_TEXT;
            break;
        }

        h->state = S_BOGUS;
        goto again;

    case S_TAG_NAME:
        if (persona_html_space(c)) {
            h->state = S_BEFORE_ATTR_NAME;

        } else if (c == '/') {
            h->state = S_SELF_CLOSING;

        } else if (c == '>') {
            persona_html_emit_tag(h);

        } else if (h->tag_len < PERSONA_HTML_TAG_MAX) {
            h->tag[h->tag_len++] = (char) (persona_html_alpha(c)
                                           ? (c | 0x20) : c);

        } else {
            h->tag_len = PERSONA_HTML_TAG_MAX + 1;
        }

        break;

    case S_BEFORE_ATTR_NAME:
        if (persona_html_space(c)) {
            break;
        }

        if (c == '/' || c == '>') {
            h->state = S_AFTER_ATTR_NAME;
            goto again;
        }

        /* '=' here starts a name */
        h->attr_len = 0;
        h->state = S_ATTR_NAME;

        if (c == '=') {
            h->attr[h->attr_len++] = '=';
            break;
        }

        goto again;

    case S_ATTR_NAME:
        if (persona_html_space(c) || c == '/' || c == '>') {
            h->state = S_AFTER_ATTR_NAME;
            goto again;
        }

        if (c == '=') {
            h->state = S_BEFORE_VALUE;
            h->value_blank = 1;
            h->value_scheme = 0;
            break;
        }

        if (!h->names) {
            break;
        }

        if (h->attr_len < PERSONA_HTML_ATTR_MAX) {
            h->attr[h->attr_len++] = (char) (persona_html_alpha(c)
                                             ? (c | 0x20) : c);

        } else {
            h->attr_len = PERSONA_HTML_ATTR_MAX + 1;
        }

        break;

    case S_AFTER_ATTR_NAME:
        if (persona_html_space(c)) {
            break;
        }

        if (c == '/') {
            h->state = S_SELF_CLOSING;

        } else if (c == '=') {
            h->state = S_BEFORE_VALUE;
            h->value_blank = 1;
            h->value_scheme = 0;

        } else if (c == '>') {
            persona_html_emit_tag(h);

        } else {
            h->attr_len = 0;
            h->state = S_ATTR_NAME;
            goto again;
        }

        break;

    case S_BEFORE_VALUE:
        if (persona_html_space(c)) {
            break;
        }

        if (c == '"') {
            h->state = S_VALUE_DQ;

        } else if (c == '\'') {
            h->state = S_VALUE_SQ;

        } else if (c == '>') {
            persona_html_emit_tag(h);

        } else {
            h->state = S_VALUE_UNQ;
            goto again;
        }

        break;

    case S_VALUE_DQ:
    case S_VALUE_SQ:
        if (c == (h->state == S_VALUE_DQ ? '"' : '\'')) {
            h->state = S_AFTER_VALUE;
            break;
        }

        /* fall through */

    case S_VALUE_UNQ:
        if (h->state == S_VALUE_UNQ) {
            if (persona_html_space(c)) {
                h->state = S_BEFORE_ATTR_NAME;
                break;
            }

            if (c == '>') {
                persona_html_emit_tag(h);
                break;
            }
        }

        if (c > ' ') {
            h->value_blank = 0;
        }

        if (c == ':' || c == '/' || c == '?' || c == '#') {
            h->value_scheme = 1;
        }

        break;

    case S_AFTER_VALUE:
        if (persona_html_space(c)) {
            h->state = S_BEFORE_ATTR_NAME;

        } else if (c == '/') {
            h->state = S_SELF_CLOSING;

        } else if (c == '>') {
            persona_html_emit_tag(h);

        } else {
            h->state = S_BEFORE_ATTR_NAME;
            goto again;
        }

        break;

    case S_SELF_CLOSING:
        if (c == '>') {
            persona_html_emit_tag(h);
            break;
        }

        h->state = S_BEFORE_ATTR_NAME;
        goto again;

    case S_MD_OPEN:
        if (c == '-') {
            h->state = S_MD_DASH;
            break;
        }

        h->state = S_BOGUS;
        goto again;

    case S_MD_DASH:
        if (c == '-') {
            h->state = S_COMMENT_START;
            break;
        }

        h->state = S_BOGUS;
        goto again;

    case S_BOGUS:
        if (c == '>') {
            h->state = S_TEXT;
        }

        break;

    case S_COMMENT_START:
        if (c == '-') {
            h->state = S_COMMENT_START_DASH;

        } else if (c == '>') {
            h->state = S_TEXT;

        } else {
            h->state = S_COMMENT;
            goto again;
        }

        break;

    case S_COMMENT_START_DASH:
        if (c == '-') {
            h->state = S_COMMENT_END;

        } else if (c == '>') {
            h->state = S_TEXT;

        } else {
            h->state = S_COMMENT;
            goto again;
        }

        break;

    case S_COMMENT:
        if (c == '-') {
            h->state = S_COMMENT_END_DASH;
        }

        break;

    case S_COMMENT_END_DASH:
        if (c == '-') {
            h->state = S_COMMENT_END;
            break;
        }

        h->state = S_COMMENT;
        goto again;

    case S_COMMENT_END:
        if (c == '>') {
            h->state = S_TEXT;

        } else if (c == '!') {
            h->state = S_COMMENT_END_BANG;

        } else if (c != '-') {
            h->state = S_COMMENT;
            goto again;
        }

        break;

    case S_COMMENT_END_BANG:
        if (c == '-') {
            h->state = S_COMMENT_END_DASH;

        } else if (c == '>') {
            h->state = S_TEXT;

        } else {
            h->state = S_COMMENT;
            goto again;
        }

        break;

    /* RAWTEXT and RCDATA: only the element's own end tag ends them */

    case S_RAW:
        if (c == '<') {
            h->state = S_RAW_LT;
        }

        break;

    case S_RAW_LT:
        if (c == '/') {
            h->match = 0;
            h->mismatch = 0;
            h->state = S_RAW_END;
            break;
        }

        h->state = S_RAW;
        goto again;

    case S_RAW_END:
    case S_SCRIPT_END:
    case S_ESC_END:
        if (persona_html_alpha(c)) {
            persona_html_letter(h, c, persona_html_raws[h->raw - 1].name,
                                persona_html_raws[h->raw - 1].len);
            break;
        }

        if ((persona_html_space(c) || c == '/' || c == '>')
            && persona_html_appropriate(h))
        {
            h->raw = 0;
            h->end_tag = 1;
            h->tag_len = 0;
            h->state = S_TAG_NAME;
            goto again;
        }

        h->state = (h->state == S_RAW_END) ? S_RAW
                   : (h->state == S_SCRIPT_END) ? S_SCRIPT : S_ESC;
        goto again;

    /* script data, escaped after "<!--", double escaped after
     * "<!--<script" */

    case S_SCRIPT:
        if (c == '<') {
            h->state = S_SCRIPT_LT;
        }

        break;

    case S_SCRIPT_LT:
        if (c == '/') {
            h->match = 0;
            h->mismatch = 0;
            h->state = S_SCRIPT_END;

        } else if (c == '!') {
            h->state = S_SCRIPT_BANG;

        } else {
            h->state = S_SCRIPT;
            goto again;
        }

        break;

    case S_SCRIPT_BANG:
        if (c == '-') {
            h->state = S_SCRIPT_BANG_DASH;
            break;
        }

        h->state = S_SCRIPT;
        goto again;

    case S_SCRIPT_BANG_DASH:
        if (c == '-') {
            h->state = S_ESC_DASH_DASH;
            break;
        }

        h->state = S_SCRIPT;
        goto again;

    case S_ESC:
        if (c == '-') {
            h->state = S_ESC_DASH;

        } else if (c == '<') {
            h->state = S_ESC_LT;
        }

        break;

    case S_ESC_DASH:
        if (c == '-') {
            h->state = S_ESC_DASH_DASH;

        } else if (c == '<') {
            h->state = S_ESC_LT;

        } else {
            h->state = S_ESC;
        }

        break;

    case S_ESC_DASH_DASH:
        if (c == '<') {
            h->state = S_ESC_LT;

        } else if (c == '>') {
            h->state = S_SCRIPT;

        } else if (c != '-') {
            h->state = S_ESC;
        }

        break;

    case S_ESC_LT:
        if (c == '/') {
            h->match = 0;
            h->mismatch = 0;
            h->state = S_ESC_END;
            break;
        }

        if (persona_html_alpha(c)) {
            h->match = 0;
            h->mismatch = 0;
            h->state = S_DESC_START;
            goto again;
        }

        h->state = S_ESC;
        goto again;

    case S_DESC_START:
    case S_DESC_END:
        if (persona_html_alpha(c)) {
            persona_html_letter(h, c, "script", 6);
            break;
        }

        if (persona_html_space(c) || c == '/' || c == '>') {
            if (!h->mismatch && h->match == 6) {
                h->state = (h->state == S_DESC_START) ? S_DESC : S_ESC;

            } else {
                h->state = (h->state == S_DESC_START) ? S_ESC : S_DESC;
            }

            break;
        }

        h->state = (h->state == S_DESC_START) ? S_ESC : S_DESC;
        goto again;

    case S_DESC:
        if (c == '-') {
            h->state = S_DESC_DASH;

        } else if (c == '<') {
            h->state = S_DESC_LT;
        }

        break;

    case S_DESC_DASH:
        if (c == '-') {
            h->state = S_DESC_DASH_DASH;

        } else if (c == '<') {
            h->state = S_DESC_LT;

        } else {
            h->state = S_DESC;
        }

        break;

    case S_DESC_DASH_DASH:
        if (c == '<') {
            h->state = S_DESC_LT;

        } else if (c == '>') {
            h->state = S_SCRIPT;

        } else if (c != '-') {
            h->state = S_DESC;
        }

        break;

    case S_DESC_LT:
        if (c == '/') {
            h->match = 0;
            h->mismatch = 0;
            h->state = S_DESC_END;
            break;
        }

        h->state = S_DESC;
        goto again;

    case S_PLAINTEXT:
        break;
    }

    return 1;
}


/* the '>' of a tag: text follows, or a raw-text element's text */

static void
persona_html_emit_tag(persona_html_t *h)
{
    unsigned  i;

    h->state = S_TEXT;

    if (h->end_tag || h->tag_len > PERSONA_HTML_TAG_MAX) {
        return;
    }

    i = persona_html_raw_index(h->tag, h->tag_len);

    if (i) {
        h->raw = (unsigned char) i;
        h->state = (unsigned char) persona_html_raws[i - 1].state;
    }
}


/* the index + 1 of the raw-text element of the (lowercase) name, or 0 */

static unsigned
persona_html_raw_index(const char *tag, size_t len)
{
    size_t  i;

    /* most tags are none of them: "div", "p", "span", "a"... */

    if (len < 3 || len > 9) {
        return 0;
    }

    switch (tag[0]) {
    case 'i':
    case 'n':
    case 'p':
    case 's':
    case 't':
    case 'x':
        break;

    default:
        return 0;
    }

    for (i = 0; i < PERSONA_HTML_NRAWS; i++) {
        if (persona_html_raws[i].len == len
            && memcmp(persona_html_raws[i].name, tag, len) == 0)
        {
            return (unsigned) (i + 1);
        }
    }

    return 0;
}


/* one more letter of an end tag (or "<script") compared with name */

static void
persona_html_letter(persona_html_t *h, unsigned char c, const char *name,
    size_t len)
{
    if (h->mismatch) {
        return;
    }

    if (h->match < len && (c | 0x20) == (unsigned char) name[h->match]) {
        h->match++;
        return;
    }

    h->mismatch = 1;
}


static int
persona_html_appropriate(const persona_html_t *h)
{
    return !h->mismatch && h->raw
           && h->match == persona_html_raws[h->raw - 1].len;
}


persona_html_ctx_e
persona_html_context(const persona_html_t *h)
{
    switch (h->state) {

    case S_TEXT:
        return PERSONA_HTML_CTX_TEXT;

    case S_TAG_OPEN:
    case S_END_TAG_OPEN:
    case S_TAG_NAME:
    case S_BEFORE_ATTR_NAME:
    case S_AFTER_ATTR_NAME:
    case S_AFTER_VALUE:
    case S_SELF_CLOSING:
        return PERSONA_HTML_CTX_TAG;

    case S_ATTR_NAME:
        return PERSONA_HTML_CTX_ATTR_NAME;

    case S_BEFORE_VALUE:
    case S_VALUE_UNQ:
        return PERSONA_HTML_CTX_VALUE_UNQUOTED;

    case S_VALUE_DQ:
    case S_VALUE_SQ:
        return PERSONA_HTML_CTX_VALUE_QUOTED;

    case S_MD_OPEN:
    case S_MD_DASH:
    case S_BOGUS:
        return PERSONA_HTML_CTX_DECL;

    case S_COMMENT_START:
    case S_COMMENT_START_DASH:
    case S_COMMENT:
    case S_COMMENT_END_DASH:
    case S_COMMENT_END:
    case S_COMMENT_END_BANG:
        return PERSONA_HTML_CTX_COMMENT;

    case S_PLAINTEXT:
        return PERSONA_HTML_CTX_RAWTEXT;

    default:
        /* raw text, script */
        return h->raw ? (persona_html_ctx_e) persona_html_raws[h->raw - 1].ctx
                      : PERSONA_HTML_CTX_SCRIPT;
    }
}


int
persona_html_stable(const persona_html_t *h)
{
    switch (h->state) {
    case S_TEXT:
    case S_VALUE_DQ:
    case S_VALUE_SQ:
    case S_COMMENT:
    case S_RAW:
    case S_PLAINTEXT:
        return 1;
    }

    return 0;
}


const char *
persona_html_element(const persona_html_t *h)
{
    if (h->state == S_PLAINTEXT) {
        return "plaintext";
    }

    return h->raw ? persona_html_raws[h->raw - 1].name : NULL;
}
