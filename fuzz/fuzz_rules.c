/*
 * libFuzzer target: the rules loader from a memory buffer, then an
 * evaluation and the rendering of every template of the loaded rules.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       fuzz/fuzz_rules.c src/persona_*.c \
 *       -ljansson -lpcre2-8 -lhiredis -lmaxminddb -o build/fuzz_rules
 *   build/fuzz_rules -max_total_time=10 t/unit/fixtures/rules/valid
 *
 * Block files ({ "file": ... }) are served from memory: any path reads
 * as a small template, except names containing "missing".
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_rules.h"
#include "persona_template.h"


static int
fuzz_read(void *data, const char *path, size_t max, persona_alloc_t *a,
    persona_str_t *content, persona_error_t *err)
{
    static const char  block[] = "<p>{{profile.first_name|x}} {{arg.a}}</p>";

    if (strstr(path, "missing")) {
        persona_error_set(err, "No such file or directory");
        return PERSONA_ERROR;
    }

    content->data = persona_strndup(a, block, sizeof(block) - 1);
    content->len = sizeof(block) - 1;

    return content->data ? PERSONA_OK : PERSONA_ERROR;
}


static int
fuzz_list(void *data, const char *path, persona_alloc_t *a,
    persona_str_t **names, size_t *n, persona_error_t *err)
{
    return PERSONA_RULES_NOT_DIR;
}


/* every attribute has a value derived from its name, some hostile */
static int
fuzz_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    static const char  *values[] = {
        "gold", "1000", "", "<script>\"'&", "a\r\nb", "10.1.2.3",
        "2001:db8::1", "true", "2026-11-27", "mobile", "\xe2\x80\xa8",
        "-1e308"
    };

    if (attr->index % 13 == 12) {
        return PERSONA_ATTR_NOT_FOUND;
    }

    value->data = values[(attr->index + attr->full.len) % 12];
    value->len = strlen(value->data);

    return PERSONA_ATTR_FOUND;
}


static void
fuzz_render(const persona_template_t *t, persona_escape_e mode)
{
    char    buf[PERSONA_HEADER_MAX + 16];
    size_t  n, i;

    n = persona_template_render(t, mode, fuzz_lookup, NULL, buf, sizeof(buf));

    if (mode == PERSONA_ESCAPE_HEADER) {
        if (n > PERSONA_HEADER_MAX) {
            abort();
        }

        for (i = 0; i < n; i++) {
            if ((unsigned char) buf[i] < 0x20 || buf[i] == 0x7f) {
                abort();
            }
        }
    }
}


static void
fuzz_experience(const persona_experience_t *e)
{
    size_t  i;

    for (i = 0; i < e->nrequest_headers; i++) {
        fuzz_render(e->request_headers[i].value, PERSONA_ESCAPE_HEADER);
    }

    for (i = 0; i < e->nresponse_headers; i++) {
        fuzz_render(e->response_headers[i].value, PERSONA_ESCAPE_HEADER);
    }

    for (i = 0; i < e->nblocks; i++) {
        fuzz_render(e->blocks[i].tpl, PERSONA_ESCAPE_HTML);
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t              i, k;
    const char         *p;
    persona_str_t       matches[64];
    persona_rules_t    *rs;
    persona_error_t     err;
    persona_result_t    res;
    persona_rules_fs_t  fs;

    fs.read = fuzz_read;
    fs.list = fuzz_list;
    fs.data = NULL;

    if (persona_rules_load_buffer(&rs, "fuzz/rules.json", (const char *) data,
                                  size, &fs, &err) != PERSONA_OK)
    {
        /* an error always says something, and the position scanner
         * never disagrees with jansson */
        p = strstr(err.msg, ": internal error: position scanner");

        if (err.msg[0] == '\0'
            || (p && memchr(err.msg, '"', (size_t) (p - err.msg)) == NULL))
        {
            abort();
        }

        return 0;
    }

    res.matches = rs->nsegments <= 64 ? matches : NULL;
    persona_rules_eval(rs, fuzz_lookup, NULL, &res);

    if (res.segment.len == 0) {
        abort();
    }

    for (i = 0; i < rs->nexperiences; i++) {
        fuzz_experience(&rs->experiences[i]);
    }

    for (i = 0; i < rs->nexperiments; i++) {
        for (k = 0; k < rs->experiments[i].nvariants; k++) {
            fuzz_experience(&rs->experiments[i].variants[k].overrides);
        }
    }

    persona_rules_free(rs);

    return 0;
}
