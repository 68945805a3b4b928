/*
 * libFuzzer target: contextual escaping (persona_template.c) and the data
 * layer (persona_output.c) against hostile values.
 *
 * Input: one byte of flags (bit 0: the value is also the fallback), then
 * the value.  It is rendered into every context a block allows, and into
 * the data layer script.  Checked, aborting on failure:
 *   - the rendered value holds no < > " ' ` and no '&' but the start of
 *     one of the escapes the renderer writes; in a comment no - or !;
 *     no control byte but tab and LF; valid UTF-8 only;
 *   - the page around it stays in its context: fed to the HTML tokenizer,
 *     the context after the value is the context before it, and the
 *     block ends in text;
 *   - in a URL attribute, the attribute value as a browser reads it
 *     (character references decoded, leading blanks and control bytes
 *     stripped, tab and newlines removed, case folded) has no scheme or
 *     http, https, mailto or tel, however the value was dressed up;
 *   - a value that renders to nothing (blanks, control bytes, invalid
 *     UTF-8) gives the fallback;
 *   - the data layer is <script>window.persona=JSON;</script>: the JSON
 *     holds no '<', '>', '&', raw U+2028 or U+2029, parses back, and the
 *     segment it carries is the value when the value is valid UTF-8; the
 *     tokenizer sees one script element, ending at the final </script>;
 *     a value with control bytes or bad UTF-8 is left out ("").
 *
 * Build and run: scripts/fuzz.sh SECONDS
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "persona_html.h"
#include "persona_output.h"
#include "persona_template.h"


#define check(e)  do { if (!(e)) { __builtin_trap(); } } while (0)


typedef struct {
    const char  *prefix;        /* the block before the value */
    const char  *suffix;        /* and after it */
    unsigned     url;           /* 1: URL attribute value from prefix_url */
    unsigned     comment;
    const char  *url_start;     /* where the attribute value starts */
} ctx_t;


static const ctx_t  contexts[] = {
    { "<p>", "</p>", 0, 0, NULL },
    { "<p title=\"", "\">x</p>", 0, 0, NULL },
    { "<p title='", "'>x</p>", 0, 0, NULL },
    { "<textarea>", "</textarea>", 0, 0, NULL },
    { "<title>", "</title>", 0, 0, NULL },
    { "<noscript>", "</noscript>", 0, 0, NULL },
    { "<!-- ", " -->", 0, 1, NULL },
    { "<a href=\"", "\">x</a>", 1, 0, "" },
    { "<a HREF='  ", "'>x</a>", 1, 0, "  " },
    { "<img src=\"", "\">", 1, 0, "" },
    { "<form action=\"", "\"></form>", 1, 0, "" },
    { "<a href=\"x", "\">x</a>", 1, 0, "x" },
    { "<a href=\"/p/", "\">x</a>", 1, 0, "/p/" },
    { "<a href=\"https://a.example/?q=", "\">x</a>", 1, 0,
      "https://a.example/?q=" },
    { "<use xlink:href=\"", "\"/>", 1, 0, "" },
    { "<img data-src=\"", "\">", 1, 0, "" },
};


typedef struct {
    void    *chunks[256];
    size_t   n;
} pool_t;


static void *
pool_alloc(void *data, size_t size)
{
    pool_t  *p = data;

    check(p->n < 256);
    p->chunks[p->n] = malloc(size ? size : 1);
    check(p->chunks[p->n] != NULL);

    return p->chunks[p->n++];
}


static void
pool_free(pool_t *p)
{
    size_t  i;

    for (i = 0; i < p->n; i++) {
        free(p->chunks[i]);
    }

    p->n = 0;
}


static int
lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    *value = *(persona_str_t *) data;

    return PERSONA_ATTR_FOUND;
}


/* an independent UTF-8 check: length of the sequence at p, 0 if bad */
static size_t
utf8_seq(const unsigned char *p, size_t len)
{
    size_t    n, k;
    uint32_t  cp;

    if (p[0] < 0x80) {
        return 1;
    }

    if ((p[0] & 0xe0) == 0xc0) {
        n = 2;
        cp = p[0] & 0x1f;

    } else if ((p[0] & 0xf0) == 0xe0) {
        n = 3;
        cp = p[0] & 0x0f;

    } else if ((p[0] & 0xf8) == 0xf0) {
        n = 4;
        cp = p[0] & 0x07;

    } else {
        return 0;
    }

    if (len < n) {
        return 0;
    }

    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80) {
            return 0;
        }

        cp = (cp << 6) | (p[k] & 0x3f);
    }

    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800)
        || (n == 4 && cp < 0x10000) || cp > 0x10ffff
        || (cp >= 0xd800 && cp <= 0xdfff))
    {
        return 0;
    }

    return n;
}


static int
utf8_valid(const char *s, size_t len)
{
    size_t  i, n;

    for (i = 0; i < len; i += n) {
        n = utf8_seq((const unsigned char *) s + i, len - i);
        if (n == 0) {
            return 0;
        }
    }

    return 1;
}


/* nothing would show: only blanks, control bytes and bad UTF-8 */
static int
renders_to_nothing(const char *s, size_t len)
{
    size_t          i, n;
    unsigned char   c;

    for (i = 0; i < len; i += n ? n : 1) {
        c = (unsigned char) s[i];
        n = utf8_seq((const unsigned char *) s + i, len - i);

        if (n > 1 || (n == 1 && c > ' ' && c != 0x7f)) {
            return 0;
        }
    }

    return 1;
}


static const char  *entities[] = {
    "&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#96;", "&#x2028;",
    "&#x2029;", "&#45;", "&#33;"
};

static const char  *decoded[] = {
    "&", "<", ">", "\"", "'", "`", "\xe2\x80\xa8", "\xe2\x80\xa9", "-", "!"
};


/* the entity at s, or -1 */
static int
entity_at(const char *s, size_t len)
{
    size_t  k, n;

    for (k = 0; k < sizeof(entities) / sizeof(entities[0]); k++) {
        n = strlen(entities[k]);
        if (n <= len && memcmp(s, entities[k], n) == 0) {
            return (int) k;
        }
    }

    return -1;
}


static void
check_value(const char *v, size_t len, const ctx_t *c)
{
    int            e;
    size_t         i;
    unsigned char  ch;

    check(utf8_valid(v, len));

    for (i = 0; i < len; i++) {
        ch = (unsigned char) v[i];

        check(ch != '<' && ch != '>' && ch != '"' && ch != '\''
              && ch != '`');
        check(ch >= 0x20 || ch == '\t' || ch == '\n');
        check(ch != 0x7f);

        if (c->comment) {
            check(ch != '-' && ch != '!');
        }

        if (ch == '&') {
            e = entity_at(v + i, len - i);
            check(e >= 0);
        }
    }

    /* no raw line or paragraph separator either */
    for (i = 0; i + 2 < len; i++) {
        check(!(v[i] == '\xe2' && v[i + 1] == '\x80'
                && (v[i + 2] == '\xa8' || v[i + 2] == '\xa9')));
    }
}


/*
 * The URL a browser reads from attribute text a (our escapes decoded):
 * its scheme must be none or an allowed one.
 */
static void
check_url(const char *a, size_t len)
{
    int            e;
    char           url[8192], *p;
    size_t         i, n, k;
    unsigned char  ch;

    n = 0;

    for (i = 0; i < len && n + 4 < sizeof(url); ) {
        e = (a[i] == '&') ? entity_at(a + i, len - i) : -1;

        if (e >= 0) {
            k = strlen(decoded[e]);
            memcpy(url + n, decoded[e], k);
            n += k;
            i += strlen(entities[e]);
            continue;
        }

        url[n++] = a[i++];
    }

    /* strip leading C0 controls and spaces, drop tab and newlines */
    for (i = 0; i < n && (unsigned char) url[i] <= 0x20; i++) {
        /* void */
    }

    k = 0;
    p = url;

    for ( /* void */ ; i < n; i++) {
        if (url[i] == '\t' || url[i] == '\n' || url[i] == '\r') {
            continue;
        }

        p[k++] = url[i];
    }

    /* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":" */
    if (k == 0 || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z')) {
        return;
    }

    for (i = 1; i < k; i++) {
        ch = (unsigned char) p[i];

        if (ch == ':') {
            break;
        }

        if (!(((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z')
              || (ch >= '0' && ch <= '9') || ch == '+' || ch == '-'
              || ch == '.'))
        {
            return;
        }
    }

    if (i == k) {
        return;
    }

    for (n = 0; n < i; n++) {
        p[n] = (char) (p[n] | 0x20);
    }

    check((i == 4 && memcmp(p, "http", 4) == 0)
          || (i == 5 && memcmp(p, "https", 5) == 0)
          || (i == 6 && memcmp(p, "mailto", 6) == 0)
          || (i == 3 && memcmp(p, "tel", 3) == 0));
}


static char  tpl[8192], out[1 << 17];


static void
one_context(const ctx_t *c, persona_str_t *value, int fallback)
{
    size_t               n, m, plen, slen, off;
    pool_t               pool;
    persona_alloc_t      a;
    persona_attrs_t      attrs;
    persona_error_t      err;
    persona_template_t  *t;
    persona_html_t       h;
    persona_html_ctx_e   before;
    const char          *v, *ph;

    plen = strlen(c->prefix);
    slen = strlen(c->suffix);
    ph = fallback ? "{{arg.v|FB}}" : "{{arg.v}}";

    n = (size_t) snprintf(tpl, sizeof(tpl), "%s%s%s", c->prefix, ph,
                          c->suffix);
    check(n < sizeof(tpl));

    pool.n = 0;
    a.alloc = pool_alloc;
    a.data = &pool;
    persona_attrs_init(&attrs, &a);

    check(persona_template_compile_html(&t, tpl, n, &attrs, &a, &err, &off)
          == PERSONA_OK);

    n = persona_template_render(t, PERSONA_ESCAPE_HTML, lookup, value, out,
                                sizeof(out));
    m = persona_template_render(t, PERSONA_ESCAPE_HTML, lookup, value, NULL,
                                0);
    check(n == m);

    if (n > sizeof(out)) {
        pool_free(&pool);
        return;
    }

    check(n >= plen + slen);
    check(memcmp(out, c->prefix, plen) == 0);
    check(memcmp(out + n - slen, c->suffix, slen) == 0);

    v = out + plen;
    m = n - plen - slen;

    check_value(v, m, c);

    if (renders_to_nothing(value->data, value->len)) {
        check(m == (fallback ? 2 : 0));
        check(!fallback || memcmp(v, "FB", 2) == 0);
    }

    /* the value does not move the page out of its context */
    persona_html_init(&h);
    (void) persona_html_scan(&h, out, out + plen, 0);
    before = persona_html_context(&h);
    (void) persona_html_scan(&h, v, v + m, 0);
    check(persona_html_context(&h) == before);
    (void) persona_html_scan(&h, v + m, out + n, 0);
    check(persona_html_in_text(&h));

    if (c->url) {
        /* the whole attribute value: literal start, then the value */
        n = strlen(c->url_start);
        check_url(out + plen - n, n + m);
    }

    pool_free(&pool);
}


static void
data_layer(persona_str_t *value)
{
    char             *vars;
    size_t            i, n, jlen;
    pool_t            pool;
    json_t           *doc, *seg;
    const char       *json;
    persona_str_t     out, variants;
    persona_alloc_t   a;
    persona_html_t    h;
    json_error_t      jerr;

    pool.n = 0;
    a.alloc = pool_alloc;
    a.data = &pool;

    vars = malloc(value->len + 4);
    check(vars != NULL);
    memcpy(vars, "e=", 2);
    memcpy(vars + 2, value->data, value->len);
    variants.data = vars;
    variants.len = value->len + 2;

    check(persona_data_layer(value, value, &variants, &a, &out)
          == PERSONA_OK);

    n = sizeof(PERSONA_DATA_LAYER_START) - 1;
    check(out.len > n + sizeof(PERSONA_DATA_LAYER_END) - 1);
    check(memcmp(out.data, PERSONA_DATA_LAYER_START, n) == 0);
    check(memcmp(out.data + out.len - (sizeof(PERSONA_DATA_LAYER_END) - 1),
                 PERSONA_DATA_LAYER_END,
                 sizeof(PERSONA_DATA_LAYER_END) - 1) == 0);

    json = out.data + n;
    jlen = out.len - n - (sizeof(PERSONA_DATA_LAYER_END) - 1);

    for (i = 0; i < jlen; i++) {
        check(json[i] != '<' && json[i] != '>' && json[i] != '&');
    }

    for (i = 0; i + 2 < jlen; i++) {
        check(!(json[i] == '\xe2' && json[i + 1] == '\x80'
                && (json[i + 2] == '\xa8' || json[i + 2] == '\xa9')));
    }

    doc = json_loadb(json, jlen, JSON_ALLOW_NUL, &jerr);
    check(doc != NULL);
    seg = json_object_get(doc, "segment");
    check(json_is_string(seg));

    for (i = 0; i < value->len; i++) {
        if ((unsigned char) value->data[i] < 0x20
            || value->data[i] == 0x7f)
        {
            break;
        }
    }

    /* a valid value without control bytes is carried as it is */
    if (i == value->len && utf8_valid(value->data, value->len)) {
        check(json_string_length(seg) == value->len
              && memcmp(json_string_value(seg), value->data, value->len)
                 == 0);
    }

    json_decref(doc);

    /* one script element, and the page is text after it */
    persona_html_init(&h);
    (void) persona_html_scan(&h, out.data, out.data + out.len - 9, 0);
    check(persona_html_context(&h) == PERSONA_HTML_CTX_SCRIPT);
    (void) persona_html_scan(&h, out.data + out.len - 9,
                             out.data + out.len, 0);
    check(persona_html_in_text(&h));

    free(vars);
    pool_free(&pool);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t         i;
    persona_str_t  value;

    if (size < 1 || size > 4096) {
        return 0;
    }

    value.data = (const char *) data + 1;
    value.len = size - 1;

    for (i = 0; i < sizeof(contexts) / sizeof(contexts[0]); i++) {
        one_context(&contexts[i], &value, data[0] & 1);
    }

    data_layer(&value);

    return 0;
}
