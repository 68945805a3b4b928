/*
 * Templates: text with {{attr}} and {{attr|fallback}} placeholders,
 * compiled once into parts (literal text, attribute), rendered per request
 * with an escape mode.
 *
 * Syntax: "{{" starts a placeholder, which ends at the next "}}".  Blanks
 * around the attribute name and around the fallback are ignored.  The
 * fallback is used when the attribute is missing or its value renders to
 * nothing (empty, blanks, control bytes, invalid UTF-8); it is text and
 * is escaped like a value.  There is no way to write a literal "{{".
 *
 * Values (and fallbacks; literal text is the rules author's and is
 * copied as written) lose their invalid UTF-8 and their control bytes
 * (0x00-0x1f and 0x7f; in HTML tab and LF stay), then:
 *   HTML    escaped for the place where the placeholder stands in the
 *           block, decided when the block is compiled by
 *           persona_template_compile_html() (Go's html/template is the
 *           model; the HTML contexts come from persona_html.c):
 *           - element text, <textarea>, <title> and the other raw-text
 *             elements but script and style, a quoted attribute value:
 *             & < > " ' ` become &amp; &lt; &gt; &quot; &#39; &#96;,
 *             U+2028 / U+2029 become &#x2028; / &#x2029;;
 *           - a comment: the same, and - ! become &#45; &#33; (a value
 *             cannot end the comment);
 *           - a URL attribute (href, src, action, formaction, poster,
 *             cite, data, srcset, ... and names holding "src", "uri" or
 *             "url"): a value that sets a scheme renders as "#" unless
 *             it starts the attribute value and the scheme is http,
 *             https, mailto or tel (relative URLs pass), then as above;
 *           - anywhere else (inside <script> or <style>, an on* or style
 *             or srcdoc attribute, an unquoted attribute value, a tag or
 *             attribute name, a <!...> declaration, between the bytes of
 *             "<", "</" or "--") the block does not compile, and neither
 *             does a block that does not end in element text (an
 *             unclosed tag, comment, <script>...).
 *           Templates compiled by persona_template_compile() render every
 *           value as element text.
 *   HEADER  every control byte (CR, LF, TAB, NUL...) is removed from the
 *           whole value, leading and trailing spaces are trimmed, and the
 *           result is cut to PERSONA_HEADER_MAX bytes (never inside a
 *           UTF-8 sequence).  An empty result means "do not send the
 *           header".
 */

#ifndef PERSONA_TEMPLATE_H
#define PERSONA_TEMPLATE_H

#include "persona_attr.h"


#define PERSONA_HEADER_MAX  4096


typedef enum {
    PERSONA_ESCAPE_HTML = 0,
    PERSONA_ESCAPE_HEADER
} persona_escape_e;


/* how an HTML rendering escapes a placeholder (persona_tpart_t.ctx) */
typedef enum {
    PERSONA_TCTX_TEXT = 0,      /* HTML-escaped */
    PERSONA_TCTX_COMMENT,       /* HTML-escaped, and - ! */
    PERSONA_TCTX_URL,           /* starts a URL: scheme checked */
    PERSONA_TCTX_URL_PART       /* inside a URL before its scheme ended:
                                   a value with a scheme is refused */
} persona_tctx_e;


typedef struct {
    persona_str_t           text;       /* literal, or the fallback */
    const persona_attr_t   *attr;       /* NULL: literal text */
    unsigned                ctx;        /* persona_tctx_e */
} persona_tpart_t;


typedef struct {
    persona_tpart_t        *parts;
    size_t                  nparts;
    unsigned                uses;       /* PERSONA_ATTR_BIT()s used */
} persona_template_t;


/*
 * Compiles src (need not be NUL-terminated; copied).  On error returns
 * PERSONA_ERROR with err->msg, err->line/column relative to src (from
 * 1:1) and *err_offset = the byte offset of the error in src.
 */
int persona_template_compile(persona_template_t **tpl, const char *src,
    size_t len, persona_attrs_t *attrs, persona_alloc_t *a,
    persona_error_t *err, size_t *err_offset);

/*
 * The same for a block of HTML (it is inserted in element text): every
 * placeholder gets the escaping of its HTML context, and a placeholder
 * where no escaping is safe is an error at its "{{".
 */
int persona_template_compile_html(persona_template_t **tpl, const char *src,
    size_t len, persona_attrs_t *attrs, persona_alloc_t *a,
    persona_error_t *err, size_t *err_offset);

/* 1 when the template has no placeholder: its text is parts[0] or "" */
int persona_template_is_static(const persona_template_t *tpl);

/*
 * Renders into buf (size bytes, may be 0) and returns the full length
 * of the result, like snprintf without the NUL: when it is > size, only
 * the first size bytes were written; call again with a bigger buffer.
 * HEADER results are never longer than PERSONA_HEADER_MAX.  lookup may be
 * called several times for the same attribute.
 */
size_t persona_template_render(const persona_template_t *tpl,
    persona_escape_e mode, persona_lookup_pt lookup, void *data, char *buf,
    size_t size);

/* the same into memory from the allocator (NUL-terminated for comfort) */
int persona_template_render_alloc(const persona_template_t *tpl,
    persona_escape_e mode, persona_lookup_pt lookup, void *data,
    persona_alloc_t *a, persona_str_t *out);


#endif /* PERSONA_TEMPLATE_H */
