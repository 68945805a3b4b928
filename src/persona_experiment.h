/*
 * Experiments at request time: which variant a visitor gets in each
 * experiment of the rules, and the experience that results.
 *
 * An experiment applies to a visitor whose segment ($persona_segment) is
 * in its "segments" (or to everyone when it has none).  A visitor with an
 * id is bucketed (persona_bucket.h): outside "traffic" is the holdout (no
 * variant), inside the variant whose bucket range holds the visitor.  A
 * visitor without an id is in no experiment: a bucket needs a stable id.
 *
 * The experience the visitor sees is the segment's experience with the
 * chosen variants' overrides on top.  Overrides win over the base; when
 * several experiments set the same request or response header (names
 * compared ASCII case-insensitively), block or landing/redirect path, the
 * first experiment in file order wins.
 *
 * The "cap" of an experiment is not applied here: it needs a counter per
 * visitor, which lives outside the core.
 */

#ifndef PERSONA_EXPERIMENT_H
#define PERSONA_EXPERIMENT_H

#include "persona_rules.h"


/* 1 when experiment x applies to visitors of this segment */
int persona_experiment_applies(const persona_experiment_t *x,
    const char *segment, size_t segment_len);

/*
 * variants[i] := the visitor's variant in rules->experiments[i], or NULL
 * (not for this segment, holdout, no id).  variants has room for
 * rules->nexperiments entries.  Returns how many are not NULL.
 */
size_t persona_experiments_assign(const persona_rules_t *rules,
    const char *segment, size_t segment_len, const char *id, size_t id_len,
    const persona_variant_t **variants);

/*
 * *out := base (NULL: none) with the overrides over[0..n-1] on top,
 * over[0] winning.  The arrays of out come from a; the headers, blocks
 * and routes themselves are shared with the rules.  Returns PERSONA_OK
 * or PERSONA_NOMEM.
 */
int persona_experience_merge(const persona_experience_t *base,
    const persona_experience_t *const *over, size_t n, persona_alloc_t *a,
    persona_experience_t *out);


#endif /* PERSONA_EXPERIMENT_H */
