/*
 * libFuzzer target: the packed profiles of the shared profile cache
 * (src/persona_pack.c).  The input is read as a packed profile; the
 * cache only ever reads back what it wrote, but a broken invariant must
 * still not read outside the buffer.
 *
 * Checked: no crash or out-of-bounds read; a profile that unpacks holds
 * at most PERSONA_PROFILE_MAX_FIELDS fields, each NUL-terminated inside
 * the input, and packs again to exactly the input bytes (the encoding
 * has one spelling per profile: no overlong varints).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_pack.h"
#include "fuzz_util.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t             i, n;
    unsigned char     *copy, *out;
    persona_error_t    err;
    persona_alloc_t    alloc = { fuzz_alloc, &fuzz_pool };
    persona_profile_t  p;

    /* a copy of exactly size bytes: ASan sees any read past its end */
    copy = malloc(size ? size : 1);
    check(copy != NULL);
    if (size) {
        memcpy(copy, data, size);
    }

    if (persona_profile_unpack(&p, copy, size, &alloc, &err) == PERSONA_OK) {
        check(p.nfields <= PERSONA_PROFILE_MAX_FIELDS);

        for (i = 0; i < p.nfields; i++) {
            check(p.fields[i].name.data[p.fields[i].name.len] == '\0');
            check(p.fields[i].value.data[p.fields[i].value.len] == '\0');
        }

        n = persona_profile_pack_size(&p);
        check(n == size);

        out = malloc(n);
        check(out != NULL);
        check(persona_profile_pack(&p, out, n) == n);
        check(memcmp(out, copy, n) == 0);
        free(out);
    }

    free(copy);
    fuzz_pool_free();

    return 0;
}
