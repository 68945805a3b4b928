/*
 * Experiments at request time: see persona_experiment.h.
 */

#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "persona_bucket.h"
#include "persona_experiment.h"


/*
 * The parts of an experience merged by key.  Every element type starts
 * with its key (persona_header_t.name, persona_block_t.name,
 * persona_route_t.path).
 */
typedef struct {
    size_t   items;      /* offset of the array pointer */
    size_t   count;      /* offset of the count */
    size_t   size;       /* element size */
    int      nocase;     /* keys compare ASCII case-insensitively */
} persona_part_t;


static const persona_part_t  persona_parts[] = {
    { offsetof(persona_experience_t, request_headers),
      offsetof(persona_experience_t, nrequest_headers),
      sizeof(persona_header_t), 1 },
    { offsetof(persona_experience_t, response_headers),
      offsetof(persona_experience_t, nresponse_headers),
      sizeof(persona_header_t), 1 },
    { offsetof(persona_experience_t, blocks),
      offsetof(persona_experience_t, nblocks),
      sizeof(persona_block_t), 0 },
    { offsetof(persona_experience_t, landing),
      offsetof(persona_experience_t, nlanding),
      sizeof(persona_route_t), 0 },
    { offsetof(persona_experience_t, redirect),
      offsetof(persona_experience_t, nredirect),
      sizeof(persona_route_t), 0 }
};


static int persona_merge_part(const persona_part_t *part,
    const persona_experience_t *const *layers, size_t nlayers,
    persona_alloc_t *a, persona_experience_t *out);
static int persona_key_equal(const persona_str_t *x, const persona_str_t *y,
    int nocase);


int
persona_experiment_applies(const persona_experiment_t *x,
    const char *segment, size_t segment_len)
{
    size_t  k;

    if (x->nsegments == 0) {
        return 1;
    }

    for (k = 0; k < x->nsegments; k++) {
        if (x->segments[k].len == segment_len
            && memcmp(x->segments[k].data, segment, segment_len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


size_t
persona_experiments_assign(const persona_rules_t *rules,
    const char *segment, size_t segment_len, const char *id, size_t id_len,
    const persona_variant_t **variants)
{
    size_t                       i, n;
    unsigned                     bucket;
    const persona_experiment_t  *x;

    n = 0;

    for (i = 0; i < rules->nexperiments; i++) {
        x = &rules->experiments[i];
        variants[i] = NULL;

        if (id_len == 0
            || !persona_experiment_applies(x, segment, segment_len))
        {
            continue;
        }

        variants[i] = persona_bucket_variant(x, id, id_len, &bucket);

        if (variants[i]) {
            n++;
        }
    }

    return n;
}


int
persona_experience_merge(const persona_experience_t *base,
    const persona_experience_t *const *over, size_t n, persona_alloc_t *a,
    persona_experience_t *out)
{
    size_t                        i, nlayers;
    const persona_experience_t  **layers;

    memset(out, 0, sizeof(persona_experience_t));

    if (base) {
        out->name = base->name;
        out->file = base->file;
        out->line = base->line;
        out->column = base->column;
    }

    layers = persona_alloc(a, (n + 1) * sizeof(persona_experience_t *));
    if (layers == NULL) {
        return PERSONA_NOMEM;
    }

    nlayers = 0;

    for (i = 0; i < n; i++) {
        if (over[i]) {
            layers[nlayers++] = over[i];
        }
    }

    if (base) {
        layers[nlayers++] = base;
    }

    for (i = 0; i < sizeof(persona_parts) / sizeof(persona_parts[0]); i++) {
        if (persona_merge_part(&persona_parts[i], layers, nlayers, a, out)
            != PERSONA_OK)
        {
            return PERSONA_NOMEM;
        }
    }

    return PERSONA_OK;
}


/* the elements of one part, the first of each key winning */
static int
persona_merge_part(const persona_part_t *part,
    const persona_experience_t *const *layers, size_t nlayers,
    persona_alloc_t *a, persona_experience_t *out)
{
    char        *dst;
    size_t       i, k, j, total, n, cnt;
    const char  *src;

    total = 0;

    for (i = 0; i < nlayers; i++) {
        memcpy(&cnt, (const char *) layers[i] + part->count, sizeof(size_t));
        total += cnt;
    }

    if (total == 0) {
        return PERSONA_OK;
    }

    dst = persona_alloc(a, total * part->size);
    if (dst == NULL) {
        return PERSONA_NOMEM;
    }

    n = 0;

    for (i = 0; i < nlayers; i++) {
        memcpy(&cnt, (const char *) layers[i] + part->count, sizeof(size_t));
        memcpy(&src, (const char *) layers[i] + part->items, sizeof(char *));

        for (k = 0; k < cnt; k++) {
            for (j = 0; j < n; j++) {
                if (persona_key_equal((const persona_str_t *)
                                          (dst + j * part->size),
                                      (const persona_str_t *)
                                          (src + k * part->size),
                                      part->nocase))
                {
                    break;
                }
            }

            if (j == n) {
                memcpy(dst + n * part->size, src + k * part->size,
                       part->size);
                n++;
            }
        }
    }

    memcpy((char *) out + part->items, &dst, sizeof(char *));
    memcpy((char *) out + part->count, &n, sizeof(size_t));

    return PERSONA_OK;
}


static int
persona_key_equal(const persona_str_t *x, const persona_str_t *y, int nocase)
{
    if (x->len != y->len) {
        return 0;
    }

    if (nocase) {
        return strncasecmp(x->data, y->data, x->len) == 0;
    }

    return memcmp(x->data, y->data, x->len) == 0;
}
