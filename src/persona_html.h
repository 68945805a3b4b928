/*
 * HTML context: a small resumable tokenizer that knows, after any prefix
 * of a page or of a block, where the next byte stands: element text, a
 * tag, an attribute name or value, a comment, or the text of a raw-text
 * element (script, style, textarea, title...).
 *
 * It follows the tokenizer of the HTML standard (section 13.2.5) far
 * enough to agree with a browser on those contexts: tags and attributes
 * with double-, single- and unquoted values, comments with their odd
 * endings ("<!-->", "--!>"), bogus comments and declarations ("<!x>",
 * "<?x>", "</ x>"), the RAWTEXT and RCDATA elements (style, xmp, iframe,
 * noembed, noframes, noscript; textarea, title), plaintext, and script
 * data with its escaped and double-escaped states ("<!--" and "<script"
 * inside a script).  It emits no tokens and builds no tree: foreign
 * content (SVG, MathML, CDATA sections) is read as HTML, which only
 * errs towards treating more of a page as not text.
 *
 * Two users:
 *   - the slot injector (persona_inject.c) feeds every byte of a body,
 *     in chunks split anywhere, and honours a marker or "</head" only
 *     when it begins in TEXT (persona_html_scan() with stop set stops at
 *     a "<!" or "</" in TEXT and lets the injector look at it first);
 *   - the template compiler (persona_template.c) feeds a block's literal
 *     text and asks, at each placeholder, persona_html_context() and the
 *     attribute's name.
 *
 * The state is a fixed-size struct; nothing is allocated or copied
 * except a tag name prefix and an attribute name, both bounded.  Text,
 * raw text, comments, bogus comments and quoted values are skipped with
 * memchr; without names (the injector) a tag is read by a tight loop a
 * state (bench/scan-bench.c measures it; README, "Benchmark").
 */

#ifndef PERSONA_HTML_H
#define PERSONA_HTML_H

#include <stddef.h>


/* longest tag name worth keeping: "plaintext" */
#define PERSONA_HTML_TAG_MAX   10
#define PERSONA_HTML_ATTR_MAX  64


typedef enum {
    PERSONA_HTML_CTX_TEXT = 0,      /* element text */
    PERSONA_HTML_CTX_RCDATA,        /* text of <textarea>, <title> */
    PERSONA_HTML_CTX_RAWTEXT,       /* <xmp>, <iframe>, <noembed>,
                                       <noframes>, <noscript>, after
                                       <plaintext> */
    PERSONA_HTML_CTX_SCRIPT,        /* inside <script> */
    PERSONA_HTML_CTX_STYLE,         /* inside <style> */
    PERSONA_HTML_CTX_COMMENT,       /* <!-- ... --> */
    PERSONA_HTML_CTX_DECL,          /* <!DOCTYPE ...>, <?...>, <!x> */
    PERSONA_HTML_CTX_TAG,           /* a tag name, between attributes */
    PERSONA_HTML_CTX_ATTR_NAME,     /* an attribute name */
    PERSONA_HTML_CTX_VALUE_UNQUOTED,/* after "=", or an unquoted value */
    PERSONA_HTML_CTX_VALUE_QUOTED   /* inside "..." or '...' */
} persona_html_ctx_e;


typedef struct {
    unsigned char   state;
    unsigned char   raw;          /* raw-text element: index + 1, or 0 */
    unsigned char   match;        /* end tag letters matched */
    unsigned char   tag_len;      /* > PERSONA_HTML_TAG_MAX: too long */
    unsigned char   attr_len;     /* > PERSONA_HTML_ATTR_MAX: too long */
    unsigned        mismatch:1;   /* the end tag's letters differ */
    unsigned        end_tag:1;    /* the tag being read is an end tag */
    unsigned        value_blank:1;  /* the attribute value is blank */
    unsigned        value_scheme:1; /* it has a ':', '/', '?' or '#' */
    unsigned        names:1;        /* keep attribute names and the two
                                       flags above (the template compiler
                                       sets it; the injector needs only
                                       where text is) */

    char            tag[PERSONA_HTML_TAG_MAX];     /* lowercased */
    char            attr[PERSONA_HTML_ATTR_MAX];   /* lowercased */
} persona_html_t;


void persona_html_init(persona_html_t *h);

/* the same, keeping attribute names and what a value holds so far */
void persona_html_init_names(persona_html_t *h);

/*
 * Feeds [p, end) and returns end; with stop set, returns instead at the
 * first '<' met in TEXT that stop asks for, before consuming it (so the
 * caller can look at what follows; it feeds that '<' itself later).
 * stop is 0 or PERSONA_HTML_STOP_LT (every '<'), or any of:
 *   PERSONA_HTML_STOP_BANG    a '<' followed by '!'
 *   PERSONA_HTML_STOP_SLASH   a '<' followed by '/'
 * and then also a '<' that is the last byte of [p, end) (what follows it
 * is not known yet).  The other '<' are read on as tags.
 */
const char *persona_html_scan(persona_html_t *h, const char *p,
    const char *end, int stop);

#define PERSONA_HTML_STOP_LT     1
#define PERSONA_HTML_STOP_BANG   2
#define PERSONA_HTML_STOP_SLASH  4

/* 1 in element text, where markers count */
#define persona_html_in_text(h)  ((h)->state == 0)

persona_html_ctx_e persona_html_context(const persona_html_t *h);

/*
 * 1 when a placeholder here would render the same whether its value is
 * empty or not: not between the bytes of a delimiter such as "<", "</"
 * or "--".  Only meaningful in TEXT, RCDATA, RAWTEXT, COMMENT and
 * VALUE_QUOTED.
 */
int persona_html_stable(const persona_html_t *h);

/* the raw-text element we are in ("script", "title"...), or NULL */
const char *persona_html_element(const persona_html_t *h);


#endif /* PERSONA_HTML_H */
