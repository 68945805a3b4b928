/*
 * Template compiler and renderer (see persona_template.h).
 */

#include <string.h>

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


#define PERSONA_NOT_FOUND  ((size_t) -1)

static size_t persona_tpl_find(const char *s, size_t len, size_t from,
    const char *two);
static void persona_tpl_trim(const char **p, size_t *len);
static void persona_out_put(persona_out_t *o, const char *p, size_t n);
static void persona_out_value(persona_out_t *o, const char *p, size_t len);
static void persona_out_header(persona_out_t *o, const char *p, size_t len);


int
persona_template_compile(persona_template_t **tpl, const char *src,
    size_t len, persona_attrs_t *attrs, persona_alloc_t *a,
    persona_error_t *err, size_t *err_offset)
{
    size_t                 n, i, lit, nlen, flen, at, close;
    const char            *name, *fb, *bar;
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
            part->text.data = persona_strndup(a, src + lit, i - lit);
            part->text.len = i - lit;

            if (part->text.data == NULL) {
                return PERSONA_NOMEM;
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
        part->text.data = persona_strndup(a, fb ? fb : "", flen);
        part->text.len = flen;

        if (part->text.data == NULL) {
            return PERSONA_NOMEM;
        }

        t->uses |= PERSONA_ATTR_BIT(attr->ns);

        lit = close + 2;
    }

    *tpl = t;

    return PERSONA_OK;

failed:

    persona_text_pos(src, len, *err_offset, &err->line, &err->column);

    return PERSONA_ERROR;
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
            || v.len == 0 || v.data == NULL)
        {
            v = part->text;
        }

        if (mode == PERSONA_ESCAPE_HEADER) {
            persona_out_header(&o, v.data, v.len);

        } else {
            persona_out_value(&o, v.data, v.len);
        }
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


/* HTML: escape a value */
static void
persona_out_value(persona_out_t *o, const char *p, size_t len)
{
    size_t       i, start;
    const char  *rep;

    start = 0;

    for (i = 0; i < len; i++) {

        switch (p[i]) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        case '`': rep = "&#96;"; break;
        case '\0': rep = ""; break;

        case '\xe2':
            if (i + 2 < len && p[i + 1] == '\x80'
                && (p[i + 2] == '\xa8' || p[i + 2] == '\xa9'))
            {
                rep = (p[i + 2] == '\xa8') ? "&#x2028;" : "&#x2029;";
                persona_out_put(o, p + start, i - start);
                persona_out_put(o, rep, 8);
                i += 2;
                start = i + 1;
            }

            continue;

        default:
            continue;
        }

        persona_out_put(o, p + start, i - start);
        persona_out_put(o, rep, strlen(rep));
        start = i + 1;
    }

    persona_out_put(o, p + start, len - start);
}


/* HEADER: drop control bytes, trim blanks, cap at a character boundary */
static void
persona_out_header(persona_out_t *o, const char *p, size_t len)
{
    size_t         i, n, k;
    unsigned char  c;

    for (i = 0; i < len; i += n) {
        c = (unsigned char) p[i];
        n = 1;

        if (c < 0x20 || c == 0x7f) {
            continue;
        }

        if (c == ' ') {
            if (o->started) {
                o->spaces++;
            }

            continue;
        }

        /* a whole UTF-8 sequence is one unit; a broken one is bytes */
        if (c >= 0xc2 && c <= 0xf4) {
            n = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : 2;

            for (k = 1; k < n; k++) {
                if (i + k >= len
                    || ((unsigned char) p[i + k] & 0xc0) != 0x80)
                {
                    n = 1;
                    break;
                }
            }
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
