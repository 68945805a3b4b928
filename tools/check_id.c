/*
 * persona-check RULES --id ID: the variant of one visitor id in every
 * experiment, computed by the function the module uses.
 */

#include <stdio.h>
#include <string.h>

#include "persona_bucket.h"
#include "check.h"


void
check_ids(const persona_rules_t *rules, const char *id)
{
    size_t                       i, k;
    unsigned                     bucket, vb;
    const persona_variant_t     *v;
    const persona_experiment_t  *x;

    if (rules->nexperiments == 0) {
        printf("no experiments\n");
        return;
    }

    for (i = 0; i < rules->nexperiments; i++) {
        x = &rules->experiments[i];

        printf("experiment %s: ", x->name.data);

        v = persona_bucket_variant(x, id, strlen(id), &bucket);

        if (v == NULL) {
            vb = persona_bucket(x->salt.data, x->salt.len, x->name.data,
                                x->name.len, id, strlen(id));
            printf("holdout (traffic bucket %u >= %u; would be bucket %u)\n",
                   bucket, x->traffic, vb);

        } else {
            printf("%s (bucket %u in [%u, %u)%s)\n", v->name.data, bucket,
                   v->lo, v->hi, v == &x->variants[0] ? ", control" : "");
        }

        printf("  traffic %u.%02u%%, salt \"%s\", for segments: ",
               x->traffic / 100, x->traffic % 100, x->salt.data);

        if (x->nsegments == 0) {
            printf("all");
        }

        for (k = 0; k < x->nsegments; k++) {
            printf("%s%s", k ? ", " : "", x->segments[k].data);
        }

        printf("\n");

        if (v && x->cap_max && v != &x->variants[0]) {
            printf("  cap: %u per %u s, then %s (variant %s-capped)\n",
                   x->cap_max, x->cap_per, x->variants[0].name.data,
                   v->name.data);
        }
    }
}
