/*
 * Deterministic experiment bucketing.
 *
 * A visitor's bucket in an experiment is a number 0..9999 computed from
 * the experiment's salt, its name and the visitor id, the same on every
 * machine, after every restart and in any language:
 *
 *   key     = salt ":" name ":" id            (bytes, no terminator)
 *   h       = FNV-1a 64 of key                (offset basis
 *             0xcbf29ce484222325, prime 0x100000001b3)
 *   h       = MurmurHash3 fmix64 of h         (h ^= h >> 33;
 *             h *= 0xff51afd7ed558ccd; h ^= h >> 33;
 *             h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33)
 *   bucket  = h mod 10000
 *
 * Entering the experiment ("traffic", in hundredths of a percent) uses a
 * second, independent draw, the bucket of the name with ":traffic"
 * appended (key = salt ":" name ":traffic:" id): the visitor enters when
 * that bucket < traffic.  Experiment names cannot contain ":", so the two
 * keys never meet.  Variants own contiguous ranges of the variant bucket
 * in their order, [lo, hi) from their weights (persona_variant_t).  So:
 * changing traffic moves only visitors in or out of the holdout, never
 * between variants; changing weights moves only the visitors between the
 * borders that shift; changing the salt reshuffles everyone.
 *
 * Published test vectors (t/unit/test_bucket.c checks them):
 *   salt "2026-q4", name "hero-copy", id "visitor-1"          ->  443
 *   salt "2026-q4", name "hero-copy", id "visitor-2"          -> 2027
 *   salt "2026-q4", name "hero-copy:traffic", id "visitor-1"  -> 8830
 *   salt "",        name "x",         id "a"                  -> 5058
 *   salt "",        name "",          id ""                   -> 8825
 */

#ifndef PERSONA_BUCKET_H
#define PERSONA_BUCKET_H

#include "persona_rules.h"


/* bucket 0..PERSONA_BUCKETS-1 of salt ":" name ":" id */
unsigned persona_bucket(const char *salt, size_t salt_len, const char *name,
    size_t name_len, const char *id, size_t id_len);

/*
 * The variant of visitor id in experiment x, or NULL when the visitor is
 * in the holdout (outside "traffic").  *bucket gets the variant bucket,
 * or the traffic bucket for the holdout.  Segments and the cap are the
 * caller's business.
 */
const persona_variant_t *persona_bucket_variant(
    const persona_experiment_t *x, const char *id, size_t id_len,
    unsigned *bucket);


#endif /* PERSONA_BUCKET_H */
