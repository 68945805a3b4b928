/*
 * libFuzzer target: experiments at request time (src/persona_experiment.c,
 * src/persona_bucket.c).
 *
 * The input is decoded, not parsed: its first bytes describe up to three
 * experiments (segments, salt, traffic, 1 to 4 variants with weights and
 * overriding response headers and blocks), written as rules JSON with
 * jansson and loaded as a marketer's file would be; the rest is visitor
 * ids cut at 0xff bytes, the first byte of each choosing its segment.
 *
 * Checks, trapping on failure:
 *   - the rules load exactly when some variant of every experiment has a
 *     weight; traffic is kept in hundredths of a percent; the variants'
 *     [lo, hi) ranges cover 0..9999 in order, empty for a weight of 0;
 *   - assignment is deterministic; a visitor without an id, or whose
 *     segment an experiment does not name, gets no variant; otherwise
 *     the holdout is exactly "traffic bucket >= traffic" (the bucket of
 *     name ":traffic"), and the variant is the one whose range holds the
 *     visitor's bucket, never one with weight 0; buckets are < 10000;
 *   - merging the variants over the segment's experience keeps one
 *     header per name (any case) and one block per name, each from the
 *     first layer that has it.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "persona_bucket.h"
#include "persona_experiment.h"
#include "fuzz_util.h"


#define NEXP  3

typedef struct {
    const uint8_t  *p;
    size_t          n;
} in_t;


static const char  *segment_names[] = { "a", "b", "everyone", "zz" };
static const char  *header_names[] = { "X-A", "x-a", "X-B", "X-C" };
static const char  *block_names[] = { "hero", "Hero" };


static unsigned
byte(in_t *in)
{
    if (in->n == 0) {
        return 0;
    }

    in->n--;

    return *in->p++;
}


static json_t *
base_rules(void)
{
    return json_pack("{s:[{s:s,s:{s:s}},{s:s,s:{s:s}}],s:s,"
                     "s:{s:{s:{s:s},s:{s:s}},s:{s:{s:s}}}}",
                     "segments",
                       "name", "a", "when", "arg.s", "a",
                       "name", "b", "when", "arg.s", "b",
                     "default", "everyone",
                     "experiences",
                       "a", "response_headers", "x-a", "base-a",
                            "blocks", "hero", "<p>a</p>",
                       "everyone", "response_headers", "X-B", "base");
}


/* one experiment from the input; *weights gets the sum of the weights */
static json_t *
experiment(in_t *in, unsigned k, unsigned *traffic, unsigned *weights)
{
    char       name[8], salt[8], value[16];
    size_t     i, n;
    json_t    *x, *segs, *vars, *v, *s;
    unsigned   f, w, o;

    f = byte(in);

    snprintf(name, sizeof(name), "e%u", k);
    x = json_pack("{s:s}", "name", name);

    if (f & 1) {
        segs = json_array();

        /* "zz" is no segment of the rules: only visitors have it */
        for (i = 0; i < 3; i++) {
            if (f & (2 << i)) {
                json_array_append_new(segs, json_string(segment_names[i]));
            }
        }

        if (json_array_size(segs)) {
            json_object_set_new(x, "segments", segs);

        } else {
            json_decref(segs);
        }
    }

    *traffic = PERSONA_BUCKETS;

    if (f & 32) {
        *traffic = byte(in) << 8;
        *traffic = (*traffic | byte(in)) % (PERSONA_BUCKETS + 1);
        json_object_set_new(x, "traffic", (*traffic % 100 == 0)
                            ? json_integer(*traffic / 100)
                            : json_real(*traffic / 100.0));
    }

    if (f & 64) {
        n = byte(in) % sizeof(salt);

        for (i = 0; i < n; i++) {
            /* the rules refuse \u0000 */
            salt[i] = (char) (byte(in) ?: ':');
        }

        s = json_stringn(salt, n);
        if (s) {
            json_object_set_new(x, "salt", s);
        }
    }

    vars = json_array();
    n = 1 + byte(in) % 4;
    *weights = 0;

    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "v%zu", i);
        v = json_pack("{s:s}", "name", name);

        w = byte(in);

        if (w & 0x80) {
            w = ((w << 8) | byte(in)) % (PERSONA_BUCKETS + 1);

        } else {
            w %= 3;
        }

        json_object_set_new(v, "weight", json_integer(w));
        *weights += w;

        o = byte(in);
        snprintf(value, sizeof(value), "e%u-v%zu", k, i);

        if (o & 1) {
            json_object_set_new(v, "response_headers",
                                json_pack("{s:s}", header_names[o >> 1 & 3],
                                          value));
        }

        if (o & 8) {
            json_object_set_new(v, "blocks",
                                json_pack("{s:s}", block_names[o >> 4 & 1],
                                          value));
        }

        json_array_append_new(vars, v);
    }

    json_object_set_new(x, "variants", vars);

    return x;
}


static void
check_ranges(const persona_experiment_t *x, unsigned traffic)
{
    size_t  i;

    check(x->traffic == traffic);
    check(x->nvariants > 0 && x->variants[0].lo == 0);
    check(x->variants[x->nvariants - 1].hi == PERSONA_BUCKETS);

    for (i = 0; i < x->nvariants; i++) {
        check(x->variants[i].lo <= x->variants[i].hi);
        check(i == 0 || x->variants[i].lo == x->variants[i - 1].hi);
        check(x->variants[i].weight || x->variants[i].lo == x->variants[i].hi);
    }
}


/* the variant of one visitor in x, worked out from the buckets */
static void
check_variant(const persona_experiment_t *x, const char *seg, const char *id,
    size_t id_len, const persona_variant_t *got)
{
    char      name[PERSONA_RULES_NAME_MAX + 16];
    unsigned  b;

    if (id_len == 0 || !persona_experiment_applies(x, seg, strlen(seg))) {
        check(got == NULL);
        return;
    }

    memcpy(name, x->name.data, x->name.len);
    memcpy(name + x->name.len, ":traffic", 8);

    b = persona_bucket(x->salt.data, x->salt.len, name, x->name.len + 8,
                       id, id_len);
    check(b < PERSONA_BUCKETS);

    if (x->traffic < PERSONA_BUCKETS && b >= x->traffic) {
        check(got == NULL);
        return;
    }

    b = persona_bucket(x->salt.data, x->salt.len, x->name.data, x->name.len,
                       id, id_len);
    check(b < PERSONA_BUCKETS);

    check(got != NULL && got->weight > 0);
    check(b >= got->lo && b < got->hi);
}


/* every key of every layer is in out once, from the first layer with it */
static void
check_part(const persona_experience_t *const *layers, size_t nlayers,
    const persona_str_t *out, size_t nout, size_t step,
    size_t (*count)(const persona_experience_t *),
    const persona_str_t *(*key)(const persona_experience_t *, size_t),
    int nocase)
{
    size_t                i, k, j, found;
    const persona_str_t  *name, *o;

#define same(x, y)                                                            \
    ((x)->len == (y)->len                                                     \
     && (nocase ? strncasecmp((x)->data, (y)->data, (x)->len) == 0           \
                : memcmp((x)->data, (y)->data, (x)->len) == 0))

    for (i = 0; i < nlayers; i++) {
        for (k = 0; k < count(layers[i]); k++) {
            name = key(layers[i], k);
            found = 0;

            for (j = 0; j < nout; j++) {
                o = (const persona_str_t *) ((const char *) out + j * step);

                if (same(o, name)) {
                    found++;
                }
            }

            check(found == 1);
        }
    }

    for (j = 0; j < nout; j++) {
        o = (const persona_str_t *) ((const char *) out + j * step);

        for (i = 0; i < nlayers; i++) {
            for (k = 0; k < count(layers[i]); k++) {
                if (same(key(layers[i], k), o)) {
                    /* a copy of the element of that layer */
                    check(memcmp(key(layers[i], k), o, step) == 0);
                    goto next;
                }
            }
        }

        check(0);

    next:
        continue;
    }

#undef same
}


static size_t
nheaders(const persona_experience_t *e)
{
    return e->nresponse_headers;
}


static const persona_str_t *
header(const persona_experience_t *e, size_t i)
{
    return &e->response_headers[i].name;
}


static size_t
nblocks(const persona_experience_t *e)
{
    return e->nblocks;
}


static const persona_str_t *
block(const persona_experience_t *e, size_t i)
{
    return &e->blocks[i].name;
}


static void
check_merge(const persona_rules_t *rs, const char *seg,
    const persona_variant_t **vars)
{
    size_t                       i, n;
    persona_alloc_t              a;
    persona_experience_t         out;
    const persona_experience_t  *base, *over[NEXP], *layers[NEXP + 1];

    base = persona_rules_experience(rs, seg, strlen(seg));
    n = 0;

    for (i = 0; i < rs->nexperiments; i++) {
        over[i] = vars[i] ? &vars[i]->overrides : NULL;

        if (over[i]) {
            layers[n++] = over[i];
        }
    }

    if (base) {
        layers[n++] = base;
    }

    a = fuzz_pool_alloc();
    check(persona_experience_merge(base, over, rs->nexperiments, &a, &out)
          == PERSONA_OK);

    /* the name is the first member of both */
    check_part(layers, n, (const persona_str_t *) out.response_headers,
               out.nresponse_headers, sizeof(persona_header_t), nheaders,
               header, 1);
    check_part(layers, n, (const persona_str_t *) out.blocks, out.nblocks,
               sizeof(persona_block_t), nblocks, block, 0);

    fuzz_pool_free();
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                         rc, loadable;
    char                       *text;
    size_t                      i, nx, left, nids, got;
    in_t                        in;
    json_t                     *rules, *xs;
    unsigned                    traffic[NEXP], weights;
    const char                 *p, *seg;
    persona_str_t               id;
    persona_rules_t            *rs;
    persona_error_t             err;
    const persona_variant_t    *vars[NEXP], *again[NEXP];

    in.p = data;
    in.n = size;

    rules = base_rules();
    xs = json_array();
    nx = 1 + byte(&in) % NEXP;
    loadable = 1;

    for (i = 0; i < nx; i++) {
        json_array_append_new(xs, experiment(&in, i, &traffic[i], &weights));
        loadable = loadable && weights > 0;
    }

    json_object_set_new(rules, "experiments", xs);
    text = json_dumps(rules, JSON_COMPACT);
    json_decref(rules);
    check(text != NULL);

    rc = persona_rules_load_buffer(&rs, "fuzz/experiment.json", text,
                                   strlen(text), NULL, &err);

    if ((rc == PERSONA_OK) != loadable) {
        fprintf(stderr, "fuzz: %s\n%s\n",
                rc == PERSONA_OK ? "loaded" : err.msg, text);
        check(0);
    }
    free(text);

    if (rc != PERSONA_OK) {
        return 0;
    }

    check(rs->nexperiments == nx);

    for (i = 0; i < nx; i++) {
        check_ranges(&rs->experiments[i], traffic[i]);
    }

    p = (const char *) in.p;
    left = in.n;

    for (nids = 0; nids < 32 && fuzz_next(&p, &left, (char) 0xff, &id);
         nids++)
    {
        seg = segment_names[id.len ? (unsigned char) id.data[0] % 4 : 0];

        if (id.len) {
            id.data++;
            id.len--;
        }

        got = persona_experiments_assign(rs, seg, strlen(seg), id.data,
                                         id.len, vars);
        check(persona_experiments_assign(rs, seg, strlen(seg), id.data,
                                         id.len, again) == got);

        for (i = 0; i < nx; i++) {
            check(vars[i] == again[i]);
            got -= vars[i] != NULL;
            check_variant(&rs->experiments[i], seg, id.data, id.len,
                          vars[i]);
        }

        check(got == 0);
        check_merge(rs, seg, vars);
    }

    persona_rules_free(rs);

    return 0;
}
