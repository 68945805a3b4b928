/*
 * jansson parse + position scanner (see persona_json.h for why).
 *
 * The scanner runs only on text jansson has accepted, so it does not
 * report syntax errors; it still checks every bound, and a disagreement
 * between the two trees is reported as an internal error rather than
 * trusted.
 */

#include <string.h>

#include "persona_json.h"


typedef struct {
    const char       *p;
    const char       *end;
    const char       *start;
    unsigned          line;
    unsigned          column;
    persona_alloc_t  *alloc;
} persona_scan_t;


static int persona_scan_value(persona_scan_t *s, persona_jnode_t *n);
static int persona_scan_string(persona_scan_t *s, persona_str_t *out);
static void persona_scan_ws(persona_scan_t *s);
static int persona_json_join(persona_jnode_t *n, json_t *v);
static unsigned persona_hex4(const char *p);


int
persona_json_parse(persona_json_t *doc, const char *text, size_t len,
    persona_alloc_t *a, persona_error_t *err)
{
    json_error_t     jerr;
    persona_scan_t   s;

    memset(doc, 0, sizeof(persona_json_t));

    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }

    doc->text = text;
    doc->len = len;

    doc->json = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

    if (doc->json == NULL) {
        persona_error_set(err, "%s", jerr.text);
        err->line = jerr.line > 0 ? (unsigned) jerr.line : 1;
        err->column = jerr.column > 0 ? (unsigned) jerr.column : 1;
        return PERSONA_ERROR;
    }

    doc->root = persona_alloc(a, sizeof(persona_jnode_t));
    if (doc->root == NULL) {
        goto nomem;
    }

    memset(doc->root, 0, sizeof(persona_jnode_t));

    s.p = text;
    s.start = text;
    s.end = text + len;
    s.line = 1;
    s.column = 1;
    s.alloc = a;

    switch (persona_scan_value(&s, doc->root)) {

    case PERSONA_OK:
        break;

    case PERSONA_NOMEM:
        goto nomem;

    default:
        goto internal;
    }

    if (persona_json_join(doc->root, doc->json) != PERSONA_OK) {
        goto internal;
    }

    return PERSONA_OK;

nomem:

    persona_json_close(doc);
    persona_error_set(err, "out of memory");
    err->line = 1;
    err->column = 1;

    return PERSONA_NOMEM;

internal:

    persona_json_close(doc);
    persona_error_set(err, "internal error: position scanner disagrees "
                      "with the JSON parser");
    err->line = s.line;
    err->column = s.column;

    return PERSONA_ERROR;
}


void
persona_json_close(persona_json_t *doc)
{
    if (doc->json) {
        json_decref(doc->json);
        doc->json = NULL;
    }

    doc->root = NULL;
}


const persona_jnode_t *
persona_json_get(const persona_jnode_t *obj, const char *key)
{
    size_t  i, n;

    if (obj == NULL || !json_is_object(obj->value)) {
        return NULL;
    }

    n = strlen(key);

    for (i = 0; i < obj->nchild; i++) {
        if (obj->child[i].key.len == n
            && memcmp(obj->child[i].key.data, key, n) == 0)
        {
            return &obj->child[i];
        }
    }

    return NULL;
}


void
persona_json_at(persona_error_t *err, const persona_jnode_t *n)
{
    err->line = n->line;
    err->column = n->column;
}


void
persona_json_at_key(persona_error_t *err, const persona_jnode_t *n)
{
    if (n->key_line) {
        err->line = n->key_line;
        err->column = n->key_column;

    } else {
        persona_json_at(err, n);
    }
}


static void
persona_scan_next(persona_scan_t *s)
{
    if (*s->p == '\n') {
        s->line++;
        s->column = 1;

    } else if (((unsigned char) *s->p & 0xc0) != 0x80) {
        s->column++;
    }

    s->p++;
}


static void
persona_scan_ws(persona_scan_t *s)
{
    while (s->p < s->end
           && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
               || *s->p == '\r'))
    {
        persona_scan_next(s);
    }
}


static persona_jnode_t *
persona_scan_child(persona_scan_t *s, persona_jnode_t *n, size_t *nalloc)
{
    size_t            size;
    persona_jnode_t  *child;

    if (n->nchild == *nalloc) {
        size = *nalloc ? *nalloc * 2 : 4;
        child = persona_alloc(s->alloc, size * sizeof(persona_jnode_t));
        if (child == NULL) {
            return NULL;
        }

        if (n->nchild) {
            memcpy(child, n->child, n->nchild * sizeof(persona_jnode_t));
        }

        n->child = child;
        *nalloc = size;
    }

    child = &n->child[n->nchild++];
    memset(child, 0, sizeof(persona_jnode_t));

    return child;
}


static int
persona_scan_value(persona_scan_t *s, persona_jnode_t *n)
{
    int               rc;
    char              close;
    size_t            nalloc;
    unsigned          kline, kcol;
    persona_str_t     key;
    persona_jnode_t  *child;

    persona_scan_ws(s);

    if (s->p >= s->end) {
        return PERSONA_ERROR;
    }

    n->line = s->line;
    n->column = s->column;
    n->offset = (size_t) (s->p - s->start);

    switch (*s->p) {

    case '"':
        return persona_scan_string(s, NULL);

    case '{':
    case '[':
        close = (*s->p == '{') ? '}' : ']';
        nalloc = 0;
        persona_scan_next(s);

        for ( ;; ) {
            persona_scan_ws(s);

            if (s->p >= s->end) {
                return PERSONA_ERROR;
            }

            if (*s->p == close) {
                persona_scan_next(s);
                return PERSONA_OK;
            }

            if (n->nchild) {
                if (*s->p != ',') {
                    return PERSONA_ERROR;
                }

                persona_scan_next(s);
                persona_scan_ws(s);
            }

            kline = 0;
            kcol = 0;
            key.data = NULL;
            key.len = 0;

            if (close == '}') {
                if (s->p >= s->end || *s->p != '"') {
                    return PERSONA_ERROR;
                }

                kline = s->line;
                kcol = s->column;

                rc = persona_scan_string(s, &key);
                if (rc != PERSONA_OK) {
                    return rc;
                }

                persona_scan_ws(s);

                if (s->p >= s->end || *s->p != ':') {
                    return PERSONA_ERROR;
                }

                persona_scan_next(s);
            }

            child = persona_scan_child(s, n, &nalloc);
            if (child == NULL) {
                return PERSONA_NOMEM;
            }

            child->key = key;
            child->key_line = kline;
            child->key_column = kcol;

            rc = persona_scan_value(s, child);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }

    default:
        /* number, true, false, null */
        while (s->p < s->end && *s->p != ',' && *s->p != ']' && *s->p != '}'
               && *s->p != ' ' && *s->p != '\t' && *s->p != '\n'
               && *s->p != '\r')
        {
            persona_scan_next(s);
        }

        return PERSONA_OK;
    }
}


/* skips a string at s->p; decodes it into *out when out is not NULL */
static int
persona_scan_string(persona_scan_t *s, persona_str_t *out)
{
    char          *d;
    unsigned       c, lo;
    const char    *p;

    d = NULL;

    if (out) {
        /* decoded text is never longer than the raw text */
        for (p = s->p + 1; p < s->end && *p != '"'; p++) {
            if (*p == '\\') {
                p++;
            }
        }

        d = persona_alloc(s->alloc, (size_t) (p - s->p) + 1);
        if (d == NULL) {
            return PERSONA_NOMEM;
        }

        out->data = d;
        out->len = 0;
    }

    persona_scan_next(s);

    for ( ;; ) {
        if (s->p >= s->end) {
            return PERSONA_ERROR;
        }

        if (*s->p == '"') {
            persona_scan_next(s);
            break;
        }

        if (*s->p != '\\') {
            if (d) {
                d[out->len++] = *s->p;
            }

            persona_scan_next(s);
            continue;
        }

        if (s->end - s->p < 2) {
            return PERSONA_ERROR;
        }

        c = (unsigned char) s->p[1];

        if (c != 'u') {
            switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            default: break;
            }

            if (d) {
                d[out->len++] = (char) c;
            }

            persona_scan_next(s);
            persona_scan_next(s);
            continue;
        }

        if (s->end - s->p < 6) {
            return PERSONA_ERROR;
        }

        c = persona_hex4(s->p + 2);
        if (c > 0xffff) {
            return PERSONA_ERROR;
        }

        s->p += 6;
        s->column += 6;

        if (c >= 0xd800 && c <= 0xdbff) {
            if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') {
                return PERSONA_ERROR;
            }

            lo = persona_hex4(s->p + 2);
            if (lo < 0xdc00 || lo > 0xdfff) {
                return PERSONA_ERROR;
            }

            c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
            s->p += 6;
            s->column += 6;
        }

        if (d == NULL) {
            continue;
        }

        if (c < 0x80) {
            d[out->len++] = (char) c;

        } else if (c < 0x800) {
            d[out->len++] = (char) (0xc0 | (c >> 6));
            d[out->len++] = (char) (0x80 | (c & 0x3f));

        } else if (c < 0x10000) {
            d[out->len++] = (char) (0xe0 | (c >> 12));
            d[out->len++] = (char) (0x80 | ((c >> 6) & 0x3f));
            d[out->len++] = (char) (0x80 | (c & 0x3f));

        } else {
            d[out->len++] = (char) (0xf0 | (c >> 18));
            d[out->len++] = (char) (0x80 | ((c >> 12) & 0x3f));
            d[out->len++] = (char) (0x80 | ((c >> 6) & 0x3f));
            d[out->len++] = (char) (0x80 | (c & 0x3f));
        }
    }

    if (d) {
        d[out->len] = '\0';
    }

    return PERSONA_OK;
}


/* 0..0xffff, or 0x10000 for a bad digit */
static unsigned
persona_hex4(const char *p)
{
    unsigned  i, c, v;

    v = 0;

    for (i = 0; i < 4; i++) {
        c = (unsigned char) p[i];

        if (c >= '0' && c <= '9') {
            c -= '0';

        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            c = (c | 0x20) - 'a' + 10;

        } else {
            return 0x10000;
        }

        v = v * 16 + c;
    }

    return v;
}


static int
persona_json_join(persona_jnode_t *n, json_t *v)
{
    size_t  i;

    n->value = v;

    if (json_is_object(v)) {
        if (json_object_size(v) != n->nchild) {
            return PERSONA_ERROR;
        }

        for (i = 0; i < n->nchild; i++) {
            if (strlen(n->child[i].key.data) != n->child[i].key.len
                || persona_json_join(&n->child[i],
                                     json_object_get(v, n->child[i].key.data))
                   != PERSONA_OK)
            {
                return PERSONA_ERROR;
            }
        }

        return PERSONA_OK;
    }

    if (json_is_array(v)) {
        if (json_array_size(v) != n->nchild) {
            return PERSONA_ERROR;
        }

        for (i = 0; i < n->nchild; i++) {
            if (persona_json_join(&n->child[i], json_array_get(v, i))
                != PERSONA_OK)
            {
                return PERSONA_ERROR;
            }
        }

        return PERSONA_OK;
    }

    return (v != NULL && n->nchild == 0) ? PERSONA_OK : PERSONA_ERROR;
}


void
persona_json_string_pos(const persona_json_t *doc, const persona_jnode_t *str,
    size_t off, unsigned *line, unsigned *column)
{
    size_t       done, step;
    unsigned     c, col;
    const char  *p, *end;

    *line = str->line;
    col = str->column + 1;

    p = doc->text + str->offset + 1;
    end = doc->text + doc->len;
    done = 0;

    while (p < end && *p != '"' && done < off) {

        if (*p != '\\') {
            if (((unsigned char) *p & 0xc0) != 0x80) {
                col++;
            }

            p++;
            done++;
            continue;
        }

        if (end - p >= 6 && p[1] == 'u') {
            c = persona_hex4(p + 2);
            step = c < 0x80 ? 1 : c < 0x800 ? 2 : 3;

            if (c >= 0xd800 && c <= 0xdbff && end - p >= 12) {
                p += 6;
                col += 6;
                step = 4;
            }

            p += 6;
            col += 6;
            done += step;
            continue;
        }

        p += 2;
        col += 2;
        done++;
    }

    *column = col;
}


void
persona_text_pos(const char *text, size_t len, size_t off, unsigned *line,
    unsigned *column)
{
    size_t  i;

    *line = 1;
    *column = 1;

    for (i = 0; i < off && i < len; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *column = 1;

        } else if (((unsigned char) text[i] & 0xc0) != 0x80) {
            (*column)++;
        }
    }
}
