/*
 * Template compiler and renderer (see persona_template.h).
 */

#include <string.h>

#include "persona_html.h"
#include "persona_json.h"
#include "persona_template.h"


typedef struct {
    char       *buf;
    size_t      size;
    size_t      len;
    size_t      spaces;     /* HEADER: blanks waiting for a non-blank */
    unsigned    mode;
    unsigned    started;    /* HEADER: a non-blank was written */
    unsigned    full;       /* HEADER: the cap was reached */
} persona_out_t;


/* what an attribute's value is, for a placeholder in it */
enum {
    PERSONA_TATTR_PLAIN = 0,
    PERSONA_TATTR_URL,
    PERSONA_TATTR_EVENT,
    PERSONA_TATTR_STYLE,
    PERSONA_TATTR_SRCDOC
};


/* compiling a block: where its literal text has brought the page */
typedef struct {
    persona_html_t   html;
    size_t           open;      /* where the page last left text */
    size_t           url;       /* "{{" of a URL placeholder whose scheme
                                   may still follow, or NOT_FOUND */
} persona_tpl_html_t;


#define PERSONA_NOT_FOUND  ((size_t) -1)

static int persona_template_compile_ex(persona_template_t **tpl,
    const char *src, size_t len, persona_attrs_t *attrs, persona_alloc_t *a,
    persona_error_t *err, size_t *err_offset, persona_tpl_html_t *th);
static int persona_tpl_literal(persona_tpl_html_t *th, const char *src,
    size_t from, size_t to, persona_error_t *err, size_t *err_offset);
static int persona_tpl_context(persona_tpl_html_t *th, size_t at,
    persona_tpart_t *part, persona_error_t *err);
static unsigned persona_tpl_attr_kind(const char *name, size_t len);
static size_t persona_tpl_find(const char *s, size_t len, size_t from,
    const char *two);
static void persona_tpl_trim(const char **p, size_t *len);
static size_t persona_utf8_len(const char *p, size_t len);
static int persona_value_blank(const char *p, size_t len);
static int persona_url_allowed(const char *p, size_t len, unsigned ctx);
static void persona_out_put(persona_out_t *o, const char *p, size_t n);
static void persona_out_value(persona_out_t *o, const char *p, size_t len,
    unsigned ctx);
static void persona_out_header(persona_out_t *o, const char *p, size_t len);


int
persona_template_compile(persona_template_t **tpl, const char *src,
    size_t len, persona_attrs_t *attrs, persona_alloc_t *a,
    persona_error_t *err, size_t *err_offset)
{
    return persona_template_compile_ex(tpl, src, len, attrs, a, err,
                                       err_offset, NULL);
}


int
persona_template_compile_html(persona_template_t **tpl, const char *src,
    size_t len, persona_attrs_t *attrs, persona_alloc_t *a,
    persona_error_t *err, size_t *err_offset)
{
    persona_tpl_html_t  th;

    persona_html_init_names(&th.html);
    th.open = 0;
    th.url = PERSONA_NOT_FOUND;

    return persona_template_compile_ex(tpl, src, len, attrs, a, err,
                                       err_offset, &th);
}


static int
persona_template_compile_ex(persona_template_t **tpl, const char *src,
    size_t len, persona_attrs_t *attrs, persona_alloc_t *a,
    persona_error_t *err, size_t *err_offset, persona_tpl_html_t *th)
{
    size_t                 n, i, lit, nlen, flen, at, close;
    const char            *name, *fb, *bar, *what, *el;
    persona_tpart_t       *part;
    persona_template_t    *t;
    const persona_attr_t  *attr;

    *err_offset = 0;

    t = persona_alloc(a, sizeof(persona_template_t));
    if (t == NULL) {
        return PERSONA_NOMEM;
    }

    memset(t, 0, sizeof(persona_template_t));

    /* at most two parts per placeholder, plus the tail */
    n = 1;
    for (at = persona_tpl_find(src, len, 0, "{{"); at != PERSONA_NOT_FOUND;
         at = persona_tpl_find(src, len, at + 2, "{{"))
    {
        n += 2;
    }

    t->parts = persona_alloc(a, n * sizeof(persona_tpart_t));
    if (t->parts == NULL) {
        return PERSONA_NOMEM;
    }

    lit = 0;

    for ( ;; ) {
        at = persona_tpl_find(src, len, lit, "{{");

        i = (at == PERSONA_NOT_FOUND) ? len : at;

        if (i > lit) {
            part = &t->parts[t->nparts++];
            part->attr = NULL;
            part->ctx = PERSONA_TCTX_TEXT;
            part->text.data = persona_strndup(a, src + lit, i - lit);
            part->text.len = i - lit;

            if (part->text.data == NULL) {
                return PERSONA_NOMEM;
            }

            if (th && persona_tpl_literal(th, src, lit, i, err, err_offset)
                      != PERSONA_OK)
            {
                goto failed;
            }
        }

        if (at == PERSONA_NOT_FOUND) {
            break;
        }

        close = persona_tpl_find(src, len, at + 2, "}}");
        if (close == PERSONA_NOT_FOUND) {
            *err_offset = at;
            persona_error_set(err, "expected \"}}\" to close this \"{{\"");
            goto failed;
        }

        name = src + at + 2;
        nlen = close - at - 2;
        bar = memchr(name, '|', nlen);
        fb = NULL;
        flen = 0;

        if (bar) {
            fb = bar + 1;
            flen = (size_t) (src + close - fb);
            nlen = (size_t) (bar - name);
            persona_tpl_trim(&fb, &flen);
        }

        persona_tpl_trim(&name, &nlen);

        if (nlen == 0) {
            *err_offset = at;
            persona_error_set(err, "expected an attribute name such as "
                              "{{profile.first_name}} between \"{{\" and "
                              "\"}}\"");
            goto failed;
        }

        attr = persona_attr_resolve(attrs, name, nlen, err);
        if (attr == NULL) {
            *err_offset = (size_t) (name - src);
            goto failed;
        }

        part = &t->parts[t->nparts++];
        part->attr = attr;
        part->ctx = PERSONA_TCTX_TEXT;
        part->text.data = persona_strndup(a, fb ? fb : "", flen);
        part->text.len = flen;

        if (part->text.data == NULL) {
            return PERSONA_NOMEM;
        }

        if (th && persona_tpl_context(th, at, part, err) != PERSONA_OK) {
            *err_offset = at;
            goto failed;
        }

        t->uses |= PERSONA_ATTR_BIT(attr->ns);

        lit = close + 2;
    }

    if (th && !persona_html_in_text(&th->html)) {
        /* the page after the block must still be element text */

        el = persona_html_element(&th->html);

        switch (persona_html_context(&th->html)) {
        case PERSONA_HTML_CTX_COMMENT:
            what = "comment";
            break;
        case PERSONA_HTML_CTX_DECL:
            what = "<!...> declaration";
            break;
        case PERSONA_HTML_CTX_TAG:
        case PERSONA_HTML_CTX_ATTR_NAME:
        case PERSONA_HTML_CTX_VALUE_UNQUOTED:
        case PERSONA_HTML_CTX_VALUE_QUOTED:
            what = "tag";
            break;
        default:
            what = "element";
        }

        *err_offset = th->open;
        persona_error_set(err, "expected the block to end in HTML text: "
                          "the %s%s%s%s that begins here is not closed",
                          el ? "<" : "", el ? el : what, el ? ">" : "",
                          el ? " element" : "");
        goto failed;
    }

    *tpl = t;

    return PERSONA_OK;

failed:

    persona_text_pos(src, len, *err_offset, &err->line, &err->column);

    return PERSONA_ERROR;
}


/* literal text of a block, fed to the tokenizer byte by byte */

static int
persona_tpl_literal(persona_tpl_html_t *th, const char *src, size_t from,
    size_t to, persona_error_t *err, size_t *err_offset)
{
    int     quoted;
    char    c;
    size_t  k;

    for (k = from; k < to; k++) {
        c = src[k];
        quoted = (persona_html_context(&th->html)
                  == PERSONA_HTML_CTX_VALUE_QUOTED);

        if (th->url != PERSONA_NOT_FOUND && quoted) {
            if (c == ':') {
                *err_offset = th->url;
                persona_error_set(err, "a template in a URL attribute "
                                  "followed by \":\" would choose the "
                                  "URL's scheme: write the scheme out, "
                                  "such as \"https://\"");
                return PERSONA_ERROR;
            }

            if (c == '/' || c == '?' || c == '#') {
                th->url = PERSONA_NOT_FOUND;
            }
        }

        if (persona_html_in_text(&th->html)) {
            th->open = k;
        }

        (void) persona_html_scan(&th->html, src + k, src + k + 1, 0);

        if (persona_html_context(&th->html)
            != PERSONA_HTML_CTX_VALUE_QUOTED)
        {
            th->url = PERSONA_NOT_FOUND;
        }
    }

    return PERSONA_OK;
}


/* the escaping of a placeholder at src + at, or an error */

static int
persona_tpl_context(persona_tpl_html_t *th, size_t at, persona_tpart_t *part,
    persona_error_t *err)
{
    const char      *el;
    persona_html_t  *h;

    h = &th->html;

    switch (persona_html_context(h)) {

    case PERSONA_HTML_CTX_TEXT:
    case PERSONA_HTML_CTX_RCDATA:
    case PERSONA_HTML_CTX_RAWTEXT:
    case PERSONA_HTML_CTX_COMMENT:
        if (!persona_html_stable(h)) {
            persona_error_set(err, "a template right after \"<\", \"</\" "
                              "or \"-\" is not allowed: an empty value "
                              "would change what the page means");
            return PERSONA_ERROR;
        }

        part->ctx = (persona_html_context(h) == PERSONA_HTML_CTX_COMMENT)
                    ? PERSONA_TCTX_COMMENT : PERSONA_TCTX_TEXT;
        return PERSONA_OK;

    case PERSONA_HTML_CTX_SCRIPT:
    case PERSONA_HTML_CTX_STYLE:
        el = persona_html_element(h);
        persona_error_set(err, "a template inside <%s> is not allowed "
                          "(no escaping makes a value safe there): put it "
                          "in a quoted data-* attribute and read that",
                          el ? el : "script");
        return PERSONA_ERROR;

    case PERSONA_HTML_CTX_VALUE_UNQUOTED:
        persona_error_set(err, "a template in an unquoted attribute value "
                          "is not allowed: quote the value, such as "
                          "title=\"{{...}}\"");
        return PERSONA_ERROR;

    case PERSONA_HTML_CTX_VALUE_QUOTED:
        break;

    case PERSONA_HTML_CTX_DECL:
        persona_error_set(err, "a template inside a <!...> or <?...> "
                          "declaration is not allowed");
        return PERSONA_ERROR;

    default:
        persona_error_set(err, "a template inside a tag or an attribute "
                          "name is not allowed: only in text or in a "
                          "quoted attribute value");
        return PERSONA_ERROR;
    }

    if (h->attr_len > PERSONA_HTML_ATTR_MAX) {
        persona_error_set(err, "a template in the value of an attribute "
                          "whose name is longer than %d bytes is not "
                          "allowed", PERSONA_HTML_ATTR_MAX);
        return PERSONA_ERROR;
    }

    switch (persona_tpl_attr_kind(h->attr, h->attr_len)) {

    case PERSONA_TATTR_EVENT:
        persona_error_set(err, "a template in the event handler attribute "
                          "\"%.*s\" is not allowed (it is JavaScript)",
                          (int) h->attr_len, h->attr);
        return PERSONA_ERROR;

    case PERSONA_TATTR_STYLE:
        persona_error_set(err, "a template in the style attribute \"%.*s\" "
                          "is not allowed (it is CSS)",
                          (int) h->attr_len, h->attr);
        return PERSONA_ERROR;

    case PERSONA_TATTR_SRCDOC:
        persona_error_set(err, "a template in the attribute \"%.*s\" is "
                          "not allowed (it is a document)",
                          (int) h->attr_len, h->attr);
        return PERSONA_ERROR;

    case PERSONA_TATTR_URL:
        if (h->value_blank) {
            part->ctx = PERSONA_TCTX_URL;
            th->url = at;

        } else if (!h->value_scheme) {
            part->ctx = PERSONA_TCTX_URL_PART;
            th->url = at;

        } else {
            part->ctx = PERSONA_TCTX_TEXT;
        }

        break;

    default:
        part->ctx = PERSONA_TCTX_TEXT;
    }

    /* what follows comes after a value */
    h->value_blank = 0;

    return PERSONA_OK;
}


/*
 * The kind of an attribute by its lowercased name, as Go's html/template
 * sees it: a "data-" prefix or a namespace prefix ("xlink:") is looked
 * through, "xmlns:" names are URLs.
 */
static unsigned
persona_tpl_attr_kind(const char *name, size_t len)
{
    size_t               i;
    const char          *colon;
    static const char   *urls[] = {
        "action", "archive", "background", "cite", "classid", "codebase",
        "data", "formaction", "href", "icon", "longdesc", "manifest",
        "ping", "poster", "profile", "src", "srcset", "usemap", "xmlns"
    };

    if (len > 5 && memcmp(name, "data-", 5) == 0) {
        name += 5;
        len -= 5;

    } else {
        colon = memchr(name, ':', len);

        if (colon) {
            if (colon - name == 5 && memcmp(name, "xmlns", 5) == 0) {
                return PERSONA_TATTR_URL;
            }

            len -= colon + 1 - name;
            name = colon + 1;
        }
    }

    for (i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        if (strlen(urls[i]) == len && memcmp(urls[i], name, len) == 0) {
            return PERSONA_TATTR_URL;
        }
    }

    if (len == 5 && memcmp(name, "style", 5) == 0) {
        return PERSONA_TATTR_STYLE;
    }

    if (len == 6 && memcmp(name, "srcdoc", 6) == 0) {
        return PERSONA_TATTR_SRCDOC;
    }

    if (len >= 2 && name[0] == 'o' && name[1] == 'n') {
        return PERSONA_TATTR_EVENT;
    }

    for (i = 0; i + 3 <= len; i++) {
        if (memcmp(name + i, "src", 3) == 0 || memcmp(name + i, "uri", 3) == 0
            || memcmp(name + i, "url", 3) == 0)
        {
            return PERSONA_TATTR_URL;
        }
    }

    return PERSONA_TATTR_PLAIN;
}


static size_t
persona_tpl_find(const char *s, size_t len, size_t from, const char *two)
{
    size_t  i;

    for (i = from; i + 1 < len; i++) {
        if (s[i] == two[0] && s[i + 1] == two[1]) {
            return i;
        }
    }

    return PERSONA_NOT_FOUND;
}


static void
persona_tpl_trim(const char **p, size_t *len)
{
    while (*len && (**p == ' ' || **p == '\t' || **p == '\n'
                    || **p == '\r'))
    {
        (*p)++;
        (*len)--;
    }

    while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'
                    || (*p)[*len - 1] == '\n' || (*p)[*len - 1] == '\r'))
    {
        (*len)--;
    }
}


int
persona_template_is_static(const persona_template_t *tpl)
{
    return tpl->nparts == 0
           || (tpl->nparts == 1 && tpl->parts[0].attr == NULL);
}


size_t
persona_template_render(const persona_template_t *tpl, persona_escape_e mode,
    persona_lookup_pt lookup, void *data, char *buf, size_t size)
{
    size_t                  i;
    persona_str_t           v;
    persona_out_t           o;
    const persona_tpart_t  *part;

    memset(&o, 0, sizeof(persona_out_t));
    o.buf = buf;
    o.size = buf ? size : 0;
    o.mode = mode;

    for (i = 0; i < tpl->nparts && !o.full; i++) {
        part = &tpl->parts[i];

        if (part->attr == NULL) {
            if (mode == PERSONA_ESCAPE_HEADER) {
                persona_out_header(&o, part->text.data, part->text.len);

            } else {
                persona_out_put(&o, part->text.data, part->text.len);
            }

            continue;
        }

        v.data = NULL;
        v.len = 0;

        if (lookup(data, part->attr, &v) != PERSONA_ATTR_FOUND
            || v.data == NULL || persona_value_blank(v.data, v.len))
        {
            v = part->text;
        }

        if (mode == PERSONA_ESCAPE_HEADER) {
            persona_out_header(&o, v.data, v.len);
            continue;
        }

        if (!persona_url_allowed(v.data, v.len, part->ctx)) {
            persona_out_put(&o, "#", 1);
            continue;
        }

        persona_out_value(&o, v.data, v.len, part->ctx);
    }

    return o.len;
}


int
persona_template_render_alloc(const persona_template_t *tpl,
    persona_escape_e mode, persona_lookup_pt lookup, void *data,
    persona_alloc_t *a, persona_str_t *out)
{
    size_t   n;
    char    *p;

    n = persona_template_render(tpl, mode, lookup, data, NULL, 0);

    p = persona_alloc(a, n + 1);
    if (p == NULL) {
        return PERSONA_NOMEM;
    }

    n = persona_template_render(tpl, mode, lookup, data, p, n);

    out->data = p;
    out->len = n;
    p[n] = '\0';

    return PERSONA_OK;
}


static void
persona_out_put(persona_out_t *o, const char *p, size_t n)
{
    size_t  room;

    if (o->len < o->size) {
        room = o->size - o->len;
        memcpy(o->buf + o->len, p, n < room ? n : room);
    }

    o->len += n;
}


/*
 * The length of the valid UTF-8 sequence at p (len > 0 bytes), or 0 when
 * p starts an invalid one (overlong, surrogate, beyond U+10FFFF, cut).
 */
static size_t
persona_utf8_len(const char *p, size_t len)
{
    size_t          n, k;
    unsigned char   c, lo, hi;

    c = (unsigned char) p[0];

    if (c < 0x80) {
        return 1;
    }

    lo = 0x80;
    hi = 0xbf;

    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;

    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        lo = (c == 0xe0) ? 0xa0 : 0x80;
        hi = (c == 0xed) ? 0x9f : 0xbf;

    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        lo = (c == 0xf0) ? 0x90 : 0x80;
        hi = (c == 0xf4) ? 0x8f : 0xbf;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    c = (unsigned char) p[1];
    if (c < lo || c > hi) {
        return 0;
    }

    for (k = 2; k < n; k++) {
        if (((unsigned char) p[k] & 0xc0) != 0x80) {
            return 0;
        }
    }

    return n;
}


#define persona_ctl(c)  ((c) < 0x20 || (c) == 0x7f)


/* 1 when a value renders to nothing: blanks, control bytes, bad UTF-8 */
static int
persona_value_blank(const char *p, size_t len)
{
    size_t         i, n;
    unsigned char  c;

    for (i = 0; i < len; i += n ? n : 1) {
        n = persona_utf8_len(p + i, len - i);
        c = (unsigned char) p[i];

        if (n > 1 || (n == 1 && c != ' ' && !persona_ctl(c))) {
            return 0;
        }
    }

    return 1;
}


/*
 * URL contexts: may this value stand there?  Its scheme is what comes
 * before the first ':' when no '/', '?' or '#' comes before it, read
 * as a browser does: leading blanks and control bytes skipped, tab and
 * newlines inside ignored, bytes that rendering drops ignored.  No
 * scheme (a relative URL) is fine; a scheme is fine only at the start of
 * the attribute value and when it is http, https, mailto or tel.
 */
static int
persona_url_allowed(const char *p, size_t len, unsigned ctx)
{
    char           scheme[8];
    size_t         i, n, slen;
    unsigned char  c;

    if (ctx != PERSONA_TCTX_URL && ctx != PERSONA_TCTX_URL_PART) {
        return 1;
    }

    slen = 0;

    for (i = 0; i < len; i += n ? n : 1) {
        n = persona_utf8_len(p + i, len - i);
        c = (unsigned char) p[i];

        if (n == 0 || persona_ctl(c) || (c == ' ' && slen == 0)) {
            continue;
        }

        if (c == '/' || c == '?' || c == '#') {
            return 1;
        }

        if (c == ':') {
            if (ctx != PERSONA_TCTX_URL) {
                return 0;
            }

            return (slen == 4 && memcmp(scheme, "http", 4) == 0)
                   || (slen == 5 && memcmp(scheme, "https", 5) == 0)
                   || (slen == 6 && memcmp(scheme, "mailto", 6) == 0)
                   || (slen == 3 && memcmp(scheme, "tel", 3) == 0);
        }

        if (n > 1) {
            /* a multibyte character makes no known scheme */
            slen = sizeof(scheme) + 1;
            continue;
        }

        if (slen < sizeof(scheme)) {
            scheme[slen] = (char) ((c >= 'A' && c <= 'Z') ? (c | 0x20) : c);
        }

        if (slen <= sizeof(scheme)) {
            slen++;
        }
    }

    return 1;
}


/* HTML: escape a value for its context, dropping what never renders */
static void
persona_out_value(persona_out_t *o, const char *p, size_t len, unsigned ctx)
{
    size_t         i, n, start;
    const char    *rep;
    unsigned char  c;

    start = 0;

    for (i = 0; i < len; i += n) {
        n = persona_utf8_len(p + i, len - i);
        c = (unsigned char) p[i];
        rep = NULL;

        if (n == 0) {
            /* invalid UTF-8: dropped, byte by byte */
            n = 1;
            rep = "";

        } else if (n == 3 && c == 0xe2 && (unsigned char) p[i + 1] == 0x80
                   && ((unsigned char) p[i + 2] == 0xa8
                       || (unsigned char) p[i + 2] == 0xa9))
        {
            rep = ((unsigned char) p[i + 2] == 0xa8) ? "&#x2028;"
                                                     : "&#x2029;";

        } else if (n == 1) {
            switch (c) {
            case '&': rep = "&amp;"; break;
            case '<': rep = "&lt;"; break;
            case '>': rep = "&gt;"; break;
            case '"': rep = "&quot;"; break;
            case '\'': rep = "&#39;"; break;
            case '`': rep = "&#96;"; break;
            case '\t':
            case '\n':
                break;

            case '-':
                if (ctx == PERSONA_TCTX_COMMENT) {
                    rep = "&#45;";
                }
                break;

            case '!':
                if (ctx == PERSONA_TCTX_COMMENT) {
                    rep = "&#33;";
                }
                break;

            default:
                if (persona_ctl(c)) {
                    rep = "";
                }
            }
        }

        if (rep == NULL) {
            continue;
        }

        persona_out_put(o, p + start, i - start);
        persona_out_put(o, rep, strlen(rep));
        start = i + n;
    }

    persona_out_put(o, p + start, len - start);
}


/* HEADER: drop control bytes and bad UTF-8, trim blanks, cap whole
 * characters */
static void
persona_out_header(persona_out_t *o, const char *p, size_t len)
{
    size_t         i, n;
    unsigned char  c;

    for (i = 0; i < len; i += n) {
        c = (unsigned char) p[i];
        n = persona_utf8_len(p + i, len - i);

        if (n == 0) {
            n = 1;
            continue;
        }

        if (persona_ctl(c)) {
            continue;
        }

        if (c == ' ') {
            if (o->started) {
                o->spaces++;
            }

            continue;
        }

        if (o->len + o->spaces + n > PERSONA_HEADER_MAX) {
            o->full = 1;
            return;
        }

        for ( /* void */ ; o->spaces; o->spaces--) {
            persona_out_put(o, " ", 1);
        }

        persona_out_put(o, p + i, n);
        o->started = 1;
    }
}
