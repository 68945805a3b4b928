/*
 * HTML context tokenizer: see persona_html.h.
 *
 * One byte at a time through a switch, as the standard describes it
 * ("reconsume" is a goto back to the switch with the same byte), with
 * memchr over the long runs: text, raw text, comments, bogus comments.
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


static void persona_html_emit_tag(persona_html_t *h);
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
    unsigned char   c;
    const char     *q;

    while (p < end) {

        /* the long runs */

        switch (h->state) {

        case S_TEXT:
            q = memchr(p, '<', end - p);
            if (q == NULL) {
                return end;
            }

            if (stop) {
                return q;
            }

            p = q;
            break;

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

        case S_ATTR_NAME:
            if (h->names) {
                break;
            }

            while (p < end && !persona_html_space((unsigned char) *p)
                   && *p != '/' && *p != '>' && *p != '=')
            {
                p++;
            }

            if (p == end) {
                return end;
            }

            break;

        case S_VALUE_DQ:
        case S_VALUE_SQ:
            if (h->names) {
                break;
            }

            q = memchr(p, h->state == S_VALUE_DQ ? '"' : '\'', end - p);
            if (q == NULL) {
                return end;
            }

            p = q;
            break;

        case S_PLAINTEXT:
            return end;
        }

        c = (unsigned char) *p;

    again:

        switch (h->state) {

        case S_TEXT:
            if (c == '<') {
                if (stop) {
                    /* a reconsumed '<' */
                    return p;
                }

                h->state = S_TAG_OPEN;
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

        p++;
    }

    return end;
}


/* the '>' of a tag: text follows, or a raw-text element's text */

static void
persona_html_emit_tag(persona_html_t *h)
{
    size_t  i;

    h->state = S_TEXT;

    if (h->end_tag || h->tag_len > PERSONA_HTML_TAG_MAX) {
        return;
    }

    for (i = 0; i < PERSONA_HTML_NRAWS; i++) {
        if (persona_html_raws[i].len == h->tag_len
            && memcmp(persona_html_raws[i].name, h->tag, h->tag_len) == 0)
        {
            h->raw = (unsigned char) (i + 1);
            h->state = (unsigned char) persona_html_raws[i].state;
            return;
        }
    }
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
