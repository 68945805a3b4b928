/*
 * The data layer script and the private Cache-Control value: see
 * persona_output.h.
 */

#include <string.h>

#include <jansson.h>

#include "persona_output.h"


static int persona_data_layer_json(json_t *obj,
    const persona_str_t *segment, const persona_str_t *segments,
    const persona_str_t *variants);
static const char *persona_list_next(const char **p, const char *end,
    size_t *len);
static json_t *persona_data_layer_string(const char *p, size_t len);
static int persona_data_layer_string_ok(const char *p, size_t len);
static int persona_cache_control_drop(const char *d, size_t len);


int
persona_data_layer(const persona_str_t *segment,
    const persona_str_t *segments, const persona_str_t *variants,
    persona_alloc_t *a, persona_str_t *out)
{
    int      rc;
    char    *json, *buf, *p;
    size_t   n, len;
    json_t  *obj;

    obj = json_object();
    if (obj == NULL) {
        return PERSONA_NOMEM;
    }

    rc = persona_data_layer_json(obj, segment, segments, variants);
    if (rc != PERSONA_OK) {
        json_decref(obj);
        return rc;
    }

    n = json_dumpb(obj, NULL, 0, JSON_COMPACT);
    if (n == 0) {
        json_decref(obj);
        return PERSONA_ERROR;
    }

    json = persona_alloc(a, n);
    if (json == NULL) {
        json_decref(obj);
        return PERSONA_NOMEM;
    }

    if (json_dumpb(obj, json, n, JSON_COMPACT) != n) {
        json_decref(obj);
        return PERSONA_ERROR;
    }

    json_decref(obj);

    len = sizeof(PERSONA_DATA_LAYER_START) - 1
          + persona_json_script_escape(json, n, NULL)
          + sizeof(PERSONA_DATA_LAYER_END) - 1;

    buf = persona_alloc(a, len + 1);
    if (buf == NULL) {
        return PERSONA_NOMEM;
    }

    p = buf;

    memcpy(p, PERSONA_DATA_LAYER_START, sizeof(PERSONA_DATA_LAYER_START) - 1);
    p += sizeof(PERSONA_DATA_LAYER_START) - 1;

    p += persona_json_script_escape(json, n, p);

    memcpy(p, PERSONA_DATA_LAYER_END, sizeof(PERSONA_DATA_LAYER_END) - 1);
    p += sizeof(PERSONA_DATA_LAYER_END) - 1;

    *p = '\0';

    out->data = buf;
    out->len = len;

    return PERSONA_OK;
}


static int
persona_data_layer_json(json_t *obj, const persona_str_t *segment,
    const persona_str_t *segments, const persona_str_t *variants)
{
    size_t       len, klen;
    json_t      *v, *list, *map;
    const char  *p, *end, *item, *eq;

    v = persona_data_layer_string(segment->data ? segment->data : "",
                                  segment->len);
    if (v == NULL) {
        /* not UTF-8, or control bytes */
        v = json_string("");
    }

    if (json_object_set_new(obj, "segment", v) != 0) {
        return PERSONA_NOMEM;
    }

    list = json_array();
    if (json_object_set_new(obj, "segments", list) != 0) {
        return PERSONA_NOMEM;
    }

    p = segments->data;
    end = p ? p + segments->len : NULL;

    while ((item = persona_list_next(&p, end, &len)) != NULL) {
        v = persona_data_layer_string(item, len);
        if (v == NULL) {
            continue;
        }

        if (json_array_append_new(list, v) != 0) {
            return PERSONA_NOMEM;
        }
    }

    map = json_object();
    if (json_object_set_new(obj, "variants", map) != 0) {
        return PERSONA_NOMEM;
    }

    p = variants->data;
    end = p ? p + variants->len : NULL;

    while ((item = persona_list_next(&p, end, &len)) != NULL) {
        eq = memchr(item, '=', len);
        if (eq == NULL || eq == item || eq == item + len - 1) {
            continue;
        }

        klen = eq - item;

        v = persona_data_layer_string(eq + 1, len - klen - 1);
        if (v == NULL) {
            continue;
        }

        if (persona_data_layer_string_ok(item, klen) == 0) {
            json_decref(v);
            continue;
        }

        /* a key that is not UTF-8 is refused (and v released) */
        (void) json_object_setn_new(map, item, klen, v);
    }

    return PERSONA_OK;
}


/* a JSON string of a list item, or NULL: not UTF-8, control bytes */
static json_t *
persona_data_layer_string(const char *p, size_t len)
{
    if (!persona_data_layer_string_ok(p, len)) {
        return NULL;
    }

    return json_stringn(p, len);
}


static int
persona_data_layer_string_ok(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* the next non-empty item of a comma-separated list, blanks trimmed */
static const char *
persona_list_next(const char **p, const char *end, size_t *len)
{
    const char  *s, *e, *comma;

    while (*p != NULL && *p < end) {
        s = *p;
        comma = memchr(s, ',', end - s);
        e = comma ? comma : end;
        *p = comma ? comma + 1 : end;

        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }

        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        if (e > s) {
            *len = e - s;
            return s;
        }
    }

    return NULL;
}


size_t
persona_json_script_escape(const char *src, size_t len, char *dst)
{
    size_t          i, n;
    const char     *esc;
    unsigned char   c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];
        esc = NULL;

        switch (c) {
        case '<':
            esc = "\\u003c";
            break;

        case '>':
            esc = "\\u003e";
            break;

        case '&':
            esc = "\\u0026";
            break;

        case 0xe2:
            /* U+2028 is e2 80 a8, U+2029 is e2 80 a9 */
            if (i + 2 < len && (unsigned char) src[i + 1] == 0x80
                && ((unsigned char) src[i + 2] == 0xa8
                    || (unsigned char) src[i + 2] == 0xa9))
            {
                esc = ((unsigned char) src[i + 2] == 0xa8) ? "\\u2028"
                                                           : "\\u2029";
                i += 2;
            }

            break;
        }

        if (esc == NULL) {
            if (dst) {
                dst[n] = (char) c;
            }

            n++;
            continue;
        }

        if (dst) {
            memcpy(dst + n, esc, 6);
        }

        n += 6;
    }

    return n;
}


size_t
persona_cache_control_private(const char *src, size_t len, char *dst)
{
    int          quoted;
    size_t       n;
    const char  *p, *end, *s, *e;

    memcpy(dst, "private", 7);
    n = 7;

    p = src;
    end = src + len;

    while (p < end) {

        /* one directive: up to a comma outside a quoted string */

        s = p;
        quoted = 0;

        while (p < end) {
            if (quoted) {
                if (*p == '\\' && p + 1 < end) {
                    p += 2;
                    continue;
                }

                if (*p == '"') {
                    quoted = 0;
                }

            } else if (*p == '"') {
                quoted = 1;

            } else if (*p == ',') {
                break;
            }

            p++;
        }

        e = (p < end) ? p : end;

        if (p < end) {
            p++;    /* the comma */
        }

        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }

        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }

        if (e == s || persona_cache_control_drop(s, e - s)) {
            continue;
        }

        dst[n++] = ',';
        dst[n++] = ' ';
        memcpy(dst + n, s, e - s);
        n += e - s;
    }

    return n;
}


/* public, private, s-maxage: with or without "=..." */
static int
persona_cache_control_drop(const char *d, size_t len)
{
    size_t             i, k, nlen;
    static const char *names[] = { "public", "private", "s-maxage" };

    for (nlen = 0; nlen < len; nlen++) {
        if (d[nlen] == '=' || d[nlen] == ' ' || d[nlen] == '\t') {
            break;
        }
    }

    for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        if (strlen(names[k]) != nlen) {
            continue;
        }

        for (i = 0; i < nlen; i++) {
            if ((d[i] | 0x20) != names[k][i]) {
                break;
            }
        }

        if (i == nlen) {
            return 1;
        }
    }

    return 0;
}
