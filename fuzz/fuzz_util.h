/*
 * Helpers shared by the fuzz targets (header only: scripts/fuzz.sh
 * builds each fuzz/fuzz_NAME.c on its own with the core).
 *
 *   check(e)       traps (a libFuzzer crash) when e is false
 *   fuzz_pool      a persona_alloc_t over malloc, released at once by
 *                  fuzz_pool_free(), as nginx's request pools are
 *   fuzz_next()    the next piece of an input cut at a separator byte
 */

#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "persona_core.h"


#define check(e)  do { if (!(e)) { __builtin_trap(); } } while (0)


typedef struct {
    void   *chunks[1 << 14];
    size_t  n;
} fuzz_pool_t;


static fuzz_pool_t  fuzz_pool;


static inline void *
fuzz_alloc(void *data, size_t size)
{
    fuzz_pool_t  *p = data;

    if (p->n == sizeof(p->chunks) / sizeof(p->chunks[0])) {
        return NULL;
    }

    p->chunks[p->n] = malloc(size);

    return p->chunks[p->n++];
}


static inline void
fuzz_pool_free(void)
{
    while (fuzz_pool.n) {
        free(fuzz_pool.chunks[--fuzz_pool.n]);
    }
}


static inline persona_alloc_t
fuzz_pool_alloc(void)
{
    persona_alloc_t  a;

    a.alloc = fuzz_alloc;
    a.data = &fuzz_pool;

    return a;
}


/*
 * The bytes of *p up to the next sep (or the end) into *piece; *p and
 * *left move past them and the separator.  Returns 0 when nothing is left.
 */
static inline int
fuzz_next(const char **p, size_t *left, char sep, persona_str_t *piece)
{
    const char  *s;

    if (*p == NULL) {
        return 0;
    }

    piece->data = *p;
    s = memchr(*p, sep, *left);

    if (s == NULL) {
        piece->len = *left;
        *p = NULL;
        *left = 0;
        return 1;
    }

    piece->len = (size_t) (s - *p);
    *left -= piece->len + 1;
    *p = s + 1;

    return 1;
}


#endif /* FUZZ_UTIL_H */
