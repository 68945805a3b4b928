/*
 * libFuzzer target: what the injection filter writes besides the blocks
 * (src/persona_output.c).
 *
 * Input: $persona_segment, $persona_segments and $persona_variants as
 * the filter would see them, cut at 0xff bytes (a byte that is never
 * UTF-8, so nothing is lost); the whole input is also a Cache-Control
 * value.  NUL bytes in the variants become 0x01: jansson cannot read
 * back an object key holding one (experiment names never do).
 *
 * Checks, trapping on failure:
 *   - the data layer is "<script>window.persona=" JSON ";</script>" with
 *     no raw '<', '>', '&', U+2028 or U+2029 between the two, and the
 *     JSON parses back with jansson to the values given: the segment
 *     ("" when not UTF-8), the non-empty UTF-8 list items blanks trimmed,
 *     the "exp=variant" pairs with a UTF-8 name and variant (the last of
 *     a name wins);
 *   - persona_json_script_escape() counts what it writes;
 *   - the private Cache-Control value fits PERSONA_CACHE_CONTROL_SIZE,
 *     starts with "private" and is its own private form.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "persona_output.h"
#include "fuzz_util.h"


/* control bytes keep a value out of the data layer */
static int
has_control(const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if ((unsigned char) p[i] < 0x20 || p[i] == 0x7f) {
            return 1;
        }
    }

    return 0;
}


/* the comma-separated items persona_data_layer() keeps: non-empty,
 * blanks trimmed, UTF-8, no control bytes */
static void
expect_items(const persona_str_t *list, json_t *arr, json_t *map)
{
    const char     *p, *eq;
    size_t          left;
    json_t         *v;
    persona_str_t   item;

    p = list->data;
    left = list->len;

    while (fuzz_next(&p, &left, ',', &item)) {
        while (item.len && (item.data[0] == ' ' || item.data[0] == '\t')) {
            item.data++;
            item.len--;
        }

        while (item.len && (item.data[item.len - 1] == ' '
                            || item.data[item.len - 1] == '\t'))
        {
            item.len--;
        }

        if (item.len == 0 || has_control(item.data, item.len)) {
            continue;
        }

        if (arr) {
            v = json_stringn(item.data, item.len);
            if (v) {
                json_array_append_new(arr, v);
            }

            continue;
        }

        eq = memchr(item.data, '=', item.len);
        if (eq == NULL || eq == item.data
            || eq == item.data + item.len - 1)
        {
            continue;
        }

        v = json_stringn(eq + 1, item.len - (eq - item.data) - 1);
        if (v) {
            json_object_setn_new(map, item.data, eq - item.data, v);
        }
    }
}


static void
fuzz_data_layer(const persona_str_t *in)
{
    size_t           hlen, tlen, jlen, i;
    json_t          *got, *want, *v;
    const char      *json;
    persona_str_t    out;
    persona_alloc_t  a;
    json_error_t     jerr;

    a = fuzz_pool_alloc();

    check(persona_data_layer(&in[0], &in[1], &in[2], &a, &out)
          == PERSONA_OK);

    hlen = sizeof(PERSONA_DATA_LAYER_START) - 1;
    tlen = sizeof(PERSONA_DATA_LAYER_END) - 1;

    check(out.len > hlen + tlen && out.data[out.len] == '\0');
    check(memcmp(out.data, PERSONA_DATA_LAYER_START, hlen) == 0);
    check(memcmp(out.data + out.len - tlen, PERSONA_DATA_LAYER_END, tlen)
          == 0);

    json = out.data + hlen;
    jlen = out.len - hlen - tlen;

    for (i = 0; i < jlen; i++) {
        check(json[i] != '<' && json[i] != '>' && json[i] != '&');
        check(!(i + 2 < jlen && (unsigned char) json[i] == 0xe2
                && (unsigned char) json[i + 1] == 0x80
                && ((unsigned char) json[i + 2] & 0xfe) == 0xa8));
    }

    got = json_loadb(json, jlen, JSON_ALLOW_NUL, &jerr);
    check(got != NULL);

    want = json_object();
    v = has_control(in[0].data, in[0].len)
        ? NULL : json_stringn(in[0].data ? in[0].data : "", in[0].len);
    json_object_set_new(want, "segment", v ? v : json_string(""));
    json_object_set_new(want, "segments", json_array());
    json_object_set_new(want, "variants", json_object());
    expect_items(&in[1], json_object_get(want, "segments"), NULL);
    expect_items(&in[2], NULL, json_object_get(want, "variants"));

    check(json_equal(got, want));

    json_decref(got);
    json_decref(want);
    fuzz_pool_free();
}


static void
fuzz_cache_control(const char *data, size_t size)
{
    char    *one, *two;
    size_t   n, m;

    one = malloc(PERSONA_CACHE_CONTROL_SIZE(size));
    check(one != NULL);

    n = persona_cache_control_private(data, size, one);
    check(n >= 7 && n <= PERSONA_CACHE_CONTROL_SIZE(size));
    check(memcmp(one, "private", 7) == 0);

    two = malloc(PERSONA_CACHE_CONTROL_SIZE(n));
    check(two != NULL);

    m = persona_cache_control_private(one, n, two);
    check(m == n && memcmp(one, two, n) == 0);

    free(one);
    free(two);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char           *esc, *vars;
    size_t          i, left, n;
    const char     *p;
    persona_str_t   in[3];

    memset(in, 0, sizeof(in));

    p = (const char *) data;
    left = size;

    for (i = 0; i < 3 && fuzz_next(&p, &left, (char) 0xff, &in[i]); i++) {
        /* void */
    }

    vars = malloc(in[2].len + 1);
    check(vars != NULL);

    for (i = 0; i < in[2].len; i++) {
        vars[i] = in[2].data[i] ? in[2].data[i] : '\1';
    }

    in[2].data = in[2].data ? vars : NULL;

    fuzz_data_layer(in);
    free(vars);

    n = persona_json_script_escape((const char *) data, size, NULL);
    check(n <= 6 * size);

    esc = malloc(n + 1);
    check(esc != NULL);
    check(persona_json_script_escape((const char *) data, size, esc) == n);
    free(esc);

    fuzz_cache_control((const char *) data, size);

    return 0;
}
