/*
 * libFuzzer target: the template parser and both escape modes.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       fuzz/fuzz_template.c src/persona_*.c \
 *       -ljansson -lpcre2-8 -lhiredis -lmaxminddb -o build/fuzz_template
 *   build/fuzz_template -max_total_time=10
 *
 * The input is "template \0 value": the template is compiled, and every
 * attribute it names renders as the value.  Checked: a header never holds
 * a control byte, starts or ends with a blank or exceeds 4 KiB; HTML
 * output never holds a value's <, >, ", ' or NUL unescaped; the sizing
 * pass agrees with the rendering; compiled as a block (HTML contexts) it
 * renders or fails with a position.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_template.h"


typedef struct {
    void   *chunks[4096];
    size_t  n;
} fuzz_pool_t;


static void *
fuzz_alloc(void *data, size_t size)
{
    fuzz_pool_t  *pool;

    pool = data;

    if (pool->n == 4096) {
        return NULL;
    }

    pool->chunks[pool->n] = malloc(size);

    return pool->chunks[pool->n++];
}


static int
fuzz_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    *value = *(persona_str_t *) data;

    return PERSONA_ATTR_FOUND;
}


static char  out[1 << 20];


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t               i, n, m, tlen, off;
    const char          *sep;
    fuzz_pool_t          pool;
    persona_str_t        value;
    persona_error_t      err;
    persona_attrs_t      attrs;
    persona_alloc_t      a;
    persona_template_t  *t;

    if (size > 65536) {
        return 0;
    }

    sep = memchr(data, '\0', size);
    tlen = sep ? (size_t) (sep - (const char *) data) : size;

    value.data = sep ? sep + 1 : "";
    value.len = sep ? size - tlen - 1 : 0;

    pool.n = 0;
    a.alloc = fuzz_alloc;
    a.data = &pool;
    persona_attrs_init(&attrs, &a);

    if (persona_template_compile(&t, (const char *) data, tlen, &attrs, &a,
                                 &err, &off) == PERSONA_OK)
    {
        /* header mode */
        n = persona_template_render(t, PERSONA_ESCAPE_HEADER, fuzz_lookup,
                                    &value, out, sizeof(out));
        m = persona_template_render(t, PERSONA_ESCAPE_HEADER, fuzz_lookup,
                                    &value, NULL, 0);

        if (n != m || n > PERSONA_HEADER_MAX) {
            abort();
        }

        for (i = 0; i < n; i++) {
            if ((unsigned char) out[i] < 0x20 || out[i] == 0x7f) {
                abort();
            }
        }

        if (n && (out[0] == ' ' || out[n - 1] == ' ')) {
            abort();
        }

        /* html mode: with a template made of one placeholder, nothing
         * dangerous of the value survives */
        n = persona_template_render(t, PERSONA_ESCAPE_HTML, fuzz_lookup,
                                    &value, out, sizeof(out));
        m = persona_template_render(t, PERSONA_ESCAPE_HTML, fuzz_lookup,
                                    &value, NULL, 0);

        if (n != m) {
            abort();
        }

        if (t->nparts == 1 && t->parts[0].attr && n <= sizeof(out)) {
            for (i = 0; i < n; i++) {
                if (out[i] == '<' || out[i] == '>' || out[i] == '"'
                    || out[i] == '\'' || out[i] == '\0')
                {
                    abort();
                }
            }
        }

    } else if (off > tlen || err.line == 0 || err.column == 0) {
        abort();
    }

    /* the same text as a block: compiles or names a position */
    if (persona_template_compile_html(&t, (const char *) data, tlen, &attrs,
                                      &a, &err, &off) == PERSONA_OK)
    {
        n = persona_template_render(t, PERSONA_ESCAPE_HTML, fuzz_lookup,
                                    &value, out, sizeof(out));
        m = persona_template_render(t, PERSONA_ESCAPE_HTML, fuzz_lookup,
                                    &value, NULL, 0);

        if (n != m) {
            abort();
        }

    } else if (off > tlen || err.line == 0 || err.column == 0) {
        abort();
    }

    for (i = 0; i < pool.n; i++) {
        free(pool.chunks[i]);
    }

    return 0;
}
