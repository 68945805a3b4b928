/*
 * Deterministic experiment bucketing (see persona_bucket.h).
 */

#include "persona_bucket.h"


#define PERSONA_FNV_OFFSET  0xcbf29ce484222325ULL
#define PERSONA_FNV_PRIME   0x100000001b3ULL


static uint64_t
persona_fnv1a(uint64_t h, const char *p, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        h ^= (unsigned char) p[i];
        h *= PERSONA_FNV_PRIME;
    }

    return h;
}


static unsigned
persona_bucket_of(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;

    return (unsigned) (h % PERSONA_BUCKETS);
}


unsigned
persona_bucket(const char *salt, size_t salt_len, const char *name,
    size_t name_len, const char *id, size_t id_len)
{
    uint64_t  h;

    h = persona_fnv1a(PERSONA_FNV_OFFSET, salt, salt_len);
    h = persona_fnv1a(h, ":", 1);
    h = persona_fnv1a(h, name, name_len);
    h = persona_fnv1a(h, ":", 1);
    h = persona_fnv1a(h, id, id_len);

    return persona_bucket_of(h);
}


const persona_variant_t *
persona_bucket_variant(const persona_experiment_t *x, const char *id,
    size_t id_len, unsigned *bucket)
{
    size_t    i;
    uint64_t  h;
    unsigned  b;

    if (x->traffic < PERSONA_BUCKETS) {
        h = persona_fnv1a(PERSONA_FNV_OFFSET, x->salt.data, x->salt.len);
        h = persona_fnv1a(h, ":", 1);
        h = persona_fnv1a(h, x->name.data, x->name.len);
        h = persona_fnv1a(h, ":traffic:", 9);
        h = persona_fnv1a(h, id, id_len);
        b = persona_bucket_of(h);

        if (b >= x->traffic) {
            *bucket = b;
            return NULL;
        }
    }

    b = persona_bucket(x->salt.data, x->salt.len, x->name.data, x->name.len,
                       id, id_len);
    *bucket = b;

    for (i = 0; i < x->nvariants; i++) {
        if (b >= x->variants[i].lo && b < x->variants[i].hi) {
            return &x->variants[i];
        }
    }

    /* unreachable: the ranges cover 0..PERSONA_BUCKETS-1 */
    return NULL;
}
