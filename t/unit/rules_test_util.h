/*
 * Helpers shared by the rules-engine unit tests (test_cond, test_template,
 * test_rules, test_bucket): a tracking allocator that can fail on demand,
 * and an attribute lookup over a NULL-terminated list of name/value pairs.
 */

#ifndef RULES_TEST_UTIL_H
#define RULES_TEST_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "persona_core.h"
#include "persona_attr.h"


typedef struct test_chunk_s  test_chunk_t;

struct test_chunk_s {
    test_chunk_t  *next;
    /* the caller's memory follows, max-aligned */
    long double    align[];
};


typedef struct {
    test_chunk_t     *chunks;
    long              fail_after;   /* < 0: never fail */
    long              count;
    persona_alloc_t   alloc;
} test_arena_t;


static inline void *
test_arena_alloc(void *data, size_t size)
{
    test_arena_t  *ar;
    test_chunk_t  *c;

    ar = data;

    if (ar->fail_after >= 0 && ar->count >= ar->fail_after) {
        return NULL;
    }

    ar->count++;

    c = malloc(sizeof(test_chunk_t) + size);
    if (c == NULL) {
        return NULL;
    }

    c->next = ar->chunks;
    ar->chunks = c;

    return c->align;
}


static inline void
test_arena_init(test_arena_t *ar)
{
    ar->chunks = NULL;
    ar->fail_after = -1;
    ar->count = 0;
    ar->alloc.alloc = test_arena_alloc;
    ar->alloc.data = ar;
}


static inline void
test_arena_free(test_arena_t *ar)
{
    test_chunk_t  *c, *next;

    for (c = ar->chunks; c; c = next) {
        next = c->next;
        free(c);
    }

    ar->chunks = NULL;
}


/* test_lookup data: KV_LIST("profile.tier", "gold", "device", "mobile") */
#define KV_LIST(...)  ((void *) (const char *[]) { __VA_ARGS__, NULL })

/* pairs: { "profile.tier", "gold", "device", "mobile", NULL } */
static inline int
test_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    const char  **kv;

    for (kv = data; kv && kv[0]; kv += 2) {
        if (strlen(kv[0]) == attr->full.len
            && memcmp(kv[0], attr->full.data, attr->full.len) == 0)
        {
            value->data = kv[1];
            value->len = strlen(kv[1]);
            return PERSONA_ATTR_FOUND;
        }
    }

    return PERSONA_ATTR_NOT_FOUND;
}


#endif /* RULES_TEST_UTIL_H */
