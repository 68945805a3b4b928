/*
 * libFuzzer target: what a Redis reply becomes.  The input is raw bytes
 * from a Redis server; they go through hiredis's reply reader (as in the
 * module, with its element budget and nesting cap per reply), and each
 * reply is decoded as a hash profile and as a JSON profile; the input is
 * also decoded as JSON text directly.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       fuzz/fuzz_profile.c src/persona_*.c \
 *       -ljansson -lpcre2-8 -lhiredis -lmaxminddb -o build/fuzz_profile
 *
 * Checked: no crash or leak; a reply's arrays hold at most
 * PERSONA_REPLY_MAX_ELEMENTS elements together and nest at most
 * PERSONA_REPLY_MAX_DEPTH deep; a decoded profile holds at most
 * PERSONA_PROFILE_MAX_FIELDS fields; every field is found again by its
 * name, exactly and the way $persona_profile_NAME looks it up.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_profile.h"
#include "fuzz_util.h"


static void
fuzz_check(const persona_profile_t *p, int rc)
{
    size_t               i;
    const persona_str_t  *v;

    if (rc != PERSONA_PROFILE_FOUND) {
        return;
    }

    if (p->nfields > PERSONA_PROFILE_MAX_FIELDS) {
        abort();
    }

    for (i = 0; i < p->nfields; i++) {
        v = persona_profile_get(p, p->fields[i].name.data,
                                p->fields[i].name.len);
        if (v == NULL) {
            abort();
        }

        v = persona_profile_get_var(p, p->fields[i].name.data,
                                    p->fields[i].name.len);
        if (v == NULL) {
            abort();
        }
    }
}


/* elements in the arrays of a reply, all levels; aborts when too deep */
static size_t
fuzz_elements(const redisReply *r, unsigned depth)
{
    size_t  i, n;

    if (r->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    if (depth > PERSONA_REPLY_MAX_DEPTH) {
        abort();
    }

    n = r->elements;

    for (i = 0; i < r->elements; i++) {
        n += fuzz_elements(r->element[i], depth + 1);
    }

    return n;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                 rc, n;
    void               *r;
    redisReader        *reader;
    persona_alloc_t     a;
    persona_reader_fn_t fns;
    persona_error_t     err;
    persona_profile_t   p;

    a = fuzz_pool_alloc();

    memset(&p, 0, sizeof(p));
    rc = persona_profile_from_json(&p, (const char *) data, size, &a, &err);
    fuzz_check(&p, rc);
    fuzz_pool_free();

    reader = persona_reader_create(&fns);
    if (reader == NULL) {
        return 0;
    }

    if (redisReaderFeed(reader, (const char *) data, size) != REDIS_OK) {
        redisReaderFree(reader);
        return 0;
    }

    for (n = 0; n < 16; n++) {
        r = NULL;

        if (redisReaderGetReply(reader, &r) != REDIS_OK || r == NULL) {
            break;
        }

        if (fuzz_elements(r, 1) > PERSONA_REPLY_MAX_ELEMENTS) {
            abort();
        }

        memset(&p, 0, sizeof(p));
        rc = persona_profile_decode(&p, r, PERSONA_FORMAT_HASH, &a, &err);
        fuzz_check(&p, rc);
        fuzz_pool_free();

        memset(&p, 0, sizeof(p));
        rc = persona_profile_decode(&p, r, PERSONA_FORMAT_JSON, &a, &err);
        fuzz_check(&p, rc);
        fuzz_pool_free();

        freeReplyObject(r);
    }

    redisReaderFree(reader);

    return 0;
}
