/*
 * persona-report's arithmetic: see report_stats.h.
 */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_stats.h"


/* what one visitor did in one experiment */
typedef struct {
    size_t          x;            /* experiment */
    size_t          arm;
    int64_t         first;        /* ts of the first exposure */
    int             capped;
    unsigned char  *conv;         /* per goal */
} report_slot_t;


typedef struct {
    report_slot_t  *slots;
    size_t          nslots;
    size_t          cap;
    unsigned char  *conv;         /* cap * ngoals flags */
} report_visitor_t;


static void report_qsort(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *));
static int report_event_cmp(const void *a, const void *b);
static char *report_strndup(const char *s, size_t len);
static int report_str_cmp(const void *a, const void *b);
static int report_goals(report_event_t *ev, size_t n,
    report_experiments_t *out);
static size_t report_goal_index(const report_experiments_t *r,
    const char *goal);
static size_t report_experiment_find(report_experiments_t *r,
    const char *name, size_t len);
static size_t report_arm_find(report_experiments_t *r,
    report_experiment_t *x, const char *name, size_t len);
static int report_expose(report_experiments_t *r, report_visitor_t *v,
    const report_event_t *e);
static void report_sort(report_experiments_t *r);
static int report_arm_cmp(const void *a, const void *b);
static int report_experiment_cmp(const void *a, const void *b);
static int report_credit(report_attribution_t *a, const char *key,
    double credit);
static int report_credit_cmp(const void *a, const void *b);


/* qsort() without its undefined behaviour for an empty (NULL) array */
static void
report_qsort(void *base, size_t n, size_t size,
    int (*cmp)(const void *, const void *))
{
    if (n > 1) {
        qsort(base, n, size, cmp);
    }
}


static int
report_event_cmp(const void *a, const void *b)
{
    int                    rc;
    const report_event_t  *x = a, *y = b;

    rc = strcmp(x->id, y->id);
    if (rc) {
        return rc;
    }

    if (x->ts != y->ts) {
        return x->ts < y->ts ? -1 : 1;
    }

    /* an exposure before a conversion of the same moment */
    return x->type - y->type;
}


static char *
report_strndup(const char *s, size_t len)
{
    char  *p;

    p = malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }

    return p;
}


static int
report_str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}


/* the sorted set of goal names */
static int
report_goals(report_event_t *ev, size_t n, report_experiments_t *out)
{
    size_t   i, k;
    char   **goals;

    goals = calloc(n + 1, sizeof(char *));
    if (goals == NULL) {
        return -1;
    }

    k = 0;

    for (i = 0; i < n; i++) {
        if (ev[i].type == REPORT_CONVERSION && ev[i].goal) {
            goals[k++] = (char *) ev[i].goal;
        }
    }

    report_qsort(goals, k, sizeof(char *), report_str_cmp);

    out->goals = goals;
    out->ngoals = 0;

    for (i = 0; i < k; i++) {
        if (out->ngoals && strcmp(goals[out->ngoals - 1], goals[i]) == 0) {
            continue;
        }

        goals[out->ngoals++] = goals[i];
    }

    for (i = 0; i < out->ngoals; i++) {
        goals[i] = report_strndup(goals[i], strlen(goals[i]));
        if (goals[i] == NULL) {
            out->ngoals = i;
            return -1;
        }
    }

    return 0;
}


static size_t
report_goal_index(const report_experiments_t *r, const char *goal)
{
    int     rc;
    size_t  lo, hi, mid;

    lo = 0;
    hi = r->ngoals;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        rc = strcmp(r->goals[mid], goal);

        if (rc == 0) {
            return mid;
        }

        if (rc < 0) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return REPORT_NONE;
}


static size_t
report_experiment_find(report_experiments_t *r, const char *name,
    size_t len)
{
    size_t                i;
    report_experiment_t  *x;

    for (i = 0; i < r->nexperiments; i++) {
        if (strlen(r->experiments[i].name) == len
            && memcmp(r->experiments[i].name, name, len) == 0)
        {
            return i;
        }
    }

    x = realloc(r->experiments,
                (r->nexperiments + 1) * sizeof(report_experiment_t));
    if (x == NULL) {
        return REPORT_NONE;
    }

    r->experiments = x;
    x = &r->experiments[r->nexperiments];
    memset(x, 0, sizeof(report_experiment_t));
    x->control = REPORT_NONE;

    x->name = report_strndup(name, len);
    if (x->name == NULL) {
        return REPORT_NONE;
    }

    return r->nexperiments++;
}


static size_t
report_arm_find(report_experiments_t *r, report_experiment_t *x,
    const char *name, size_t len)
{
    size_t         i;
    report_arm_t  *arm;

    for (i = 0; i < x->narms; i++) {
        if (strlen(x->arms[i].name) == len
            && memcmp(x->arms[i].name, name, len) == 0)
        {
            return i;
        }
    }

    arm = realloc(x->arms, (x->narms + 1) * sizeof(report_arm_t));
    if (arm == NULL) {
        return REPORT_NONE;
    }

    x->arms = arm;
    arm = &x->arms[x->narms];
    memset(arm, 0, sizeof(report_arm_t));

    arm->name = report_strndup(name, len);
    arm->converted = calloc(r->ngoals + 1, sizeof(uint64_t));

    if (arm->name == NULL || arm->converted == NULL) {
        free(arm->name);
        free(arm->converted);
        return REPORT_NONE;
    }

    return x->narms++;
}


/* an exposure: the visitor's arm in each experiment it names */
static int
report_expose(report_experiments_t *r, report_visitor_t *v,
    const report_event_t *e)
{
    int             capped;
    size_t          i, k, len, xi, ai, nlen, vlen;
    const char     *p, *item, *eq, *end;
    report_slot_t  *s;

    static const char  suffix[] = "-capped";

    if (e->variants == NULL) {
        return 0;
    }

    p = e->variants;
    end = p + strlen(p);

    while (p < end) {
        item = p;
        p = memchr(item, ',', end - item);
        len = (p ? p : end) - item;
        p = p ? p + 1 : end;

        eq = memchr(item, '=', len);
        if (eq == NULL || eq == item || eq == item + len - 1) {
            continue;
        }

        nlen = eq - item;
        vlen = len - nlen - 1;
        capped = 0;

        if (vlen > sizeof(suffix) - 1
            && memcmp(eq + 1 + vlen - (sizeof(suffix) - 1), suffix,
                      sizeof(suffix) - 1) == 0)
        {
            vlen -= sizeof(suffix) - 1;
            capped = 1;
        }

        xi = report_experiment_find(r, item, nlen);
        if (xi == REPORT_NONE) {
            return -1;
        }

        ai = report_arm_find(r, &r->experiments[xi], eq + 1, vlen);
        if (ai == REPORT_NONE) {
            return -1;
        }

        for (i = 0; i < v->nslots; i++) {
            if (v->slots[i].x == xi) {
                break;
            }
        }

        if (i < v->nslots) {
            /* the first exposure decided; a later cap on that arm counts */
            if (capped && v->slots[i].arm == ai) {
                v->slots[i].capped = 1;
            }

            continue;
        }

        if (v->nslots == v->cap) {
            k = v->cap ? 2 * v->cap : 8;

            s = realloc(v->slots, k * sizeof(report_slot_t));
            if (s == NULL) {
                return -1;
            }

            v->slots = s;

            v->conv = realloc(v->conv, k * (r->ngoals + 1));
            if (v->conv == NULL) {
                return -1;
            }

            v->cap = k;
        }

        s = &v->slots[v->nslots];
        s->x = xi;
        s->arm = ai;
        s->first = e->ts;
        s->capped = capped;
        memset(v->conv + v->nslots * (r->ngoals + 1), 0, r->ngoals + 1);
        v->nslots++;
    }

    return 0;
}


int
report_experiments(report_event_t *ev, size_t n, report_experiments_t *out)
{
    size_t             a, b, i, k, g;
    report_arm_t      *arm;
    report_slot_t     *s;
    report_visitor_t   v;

    memset(out, 0, sizeof(report_experiments_t));
    memset(&v, 0, sizeof(report_visitor_t));

    if (report_goals(ev, n, out) != 0) {
        return -1;
    }

    report_qsort(ev, n, sizeof(report_event_t), report_event_cmp);

    for (a = 0; a < n; a = b) {
        for (b = a + 1; b < n && strcmp(ev[a].id, ev[b].id) == 0; b++) {
            /* void */
        }

        v.nslots = 0;
        k = 0;

        for (i = a; i < b; i++) {
            if (ev[i].type == REPORT_EXPOSURE) {
                out->exposures++;
                k++;

                if (report_expose(out, &v, &ev[i]) != 0) {
                    goto failed;
                }

                continue;
            }

            if (ev[i].type != REPORT_CONVERSION || ev[i].goal == NULL) {
                continue;
            }

            out->conversions++;
            g = report_goal_index(out, ev[i].goal);

            for (s = v.slots; s < v.slots + v.nslots; s++) {
                if (s->first <= ev[i].ts) {
                    v.conv[(s - v.slots) * (out->ngoals + 1) + g] = 1;
                }
            }
        }

        if (k) {
            out->visitors++;
        }

        for (i = 0; i < v.nslots; i++) {
            s = &v.slots[i];
            arm = &out->experiments[s->x].arms[s->arm];
            arm->exposed++;
            arm->capped += s->capped;

            for (g = 0; g < out->ngoals; g++) {
                arm->converted[g] += v.conv[i * (out->ngoals + 1) + g];
            }
        }
    }

    free(v.slots);
    free(v.conv);

    report_sort(out);

    for (i = 0; i < out->nexperiments; i++) {
        (void) report_set_control(&out->experiments[i], "control");
    }

    return 0;

failed:

    free(v.slots);
    free(v.conv);

    return -1;
}


static int
report_arm_cmp(const void *a, const void *b)
{
    return strcmp(((const report_arm_t *) a)->name,
                  ((const report_arm_t *) b)->name);
}


static int
report_experiment_cmp(const void *a, const void *b)
{
    return strcmp(((const report_experiment_t *) a)->name,
                  ((const report_experiment_t *) b)->name);
}


/* experiments and arms by name, for output that does not depend on ids */
static void
report_sort(report_experiments_t *r)
{
    size_t  i;

    report_qsort(r->experiments, r->nexperiments,
                 sizeof(report_experiment_t), report_experiment_cmp);

    for (i = 0; i < r->nexperiments; i++) {
        report_qsort(r->experiments[i].arms, r->experiments[i].narms,
                     sizeof(report_arm_t), report_arm_cmp);
    }
}


int
report_set_control(report_experiment_t *x, const char *name)
{
    size_t  i;

    for (i = 0; i < x->narms; i++) {
        if (strcmp(x->arms[i].name, name) == 0) {
            x->control = i;
            return 0;
        }
    }

    return -1;
}


void
report_experiments_free(report_experiments_t *r)
{
    size_t  i, k;

    for (i = 0; i < r->nexperiments; i++) {
        for (k = 0; k < r->experiments[i].narms; k++) {
            free(r->experiments[i].arms[k].name);
            free(r->experiments[i].arms[k].converted);
        }

        free(r->experiments[i].arms);
        free(r->experiments[i].name);
    }

    for (i = 0; i < r->ngoals; i++) {
        free(r->goals[i]);
    }

    free(r->experiments);
    free(r->goals);
    memset(r, 0, sizeof(report_experiments_t));
}


double
report_phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}


void
report_ztest(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2,
    report_test_t *t)
{
    double  p, se0, se;

    memset(t, 0, sizeof(report_test_t));

    if (n1 == 0 || n2 == 0 || x1 > n1 || x2 > n2) {
        t->p_value = 1.0;
        return;
    }

    t->valid = 1;
    t->p1 = (double) x1 / (double) n1;
    t->p2 = (double) x2 / (double) n2;
    t->diff = t->p2 - t->p1;

    if (x1) {
        t->lift = t->diff / t->p1;
        t->lift_defined = 1;
    }

    p = (double) (x1 + x2) / (double) (n1 + n2);
    se0 = sqrt(p * (1.0 - p) * (1.0 / (double) n1 + 1.0 / (double) n2));

    if (se0 > 0.0) {
        t->z = t->diff / se0;
        t->p_value = erfc(fabs(t->z) / sqrt(2.0));

    } else {
        /* both rates 0, or both 1: no difference */
        t->z = 0.0;
        t->p_value = 1.0;
    }

    se = sqrt(t->p1 * (1.0 - t->p1) / (double) n1
              + t->p2 * (1.0 - t->p2) / (double) n2);

    t->ci_lo = t->diff - REPORT_Z95 * se;
    t->ci_hi = t->diff + REPORT_Z95 * se;
}


int
report_model(const char *name)
{
    if (strcmp(name, "first") == 0) {
        return REPORT_FIRST;
    }

    if (strcmp(name, "last") == 0) {
        return REPORT_LAST;
    }

    if (strcmp(name, "linear") == 0) {
        return REPORT_LINEAR;
    }

    if (strcmp(name, "time-decay") == 0) {
        return REPORT_DECAY;
    }

    return -1;
}


static int
report_credit(report_attribution_t *a, const char *key, double credit)
{
    size_t            i;
    report_credit_t  *c;

    for (i = 0; i < a->ncredits; i++) {
        if (strcmp(a->credits[i].key, key) == 0) {
            a->credits[i].credit += credit;
            return 0;
        }
    }

    c = realloc(a->credits, (a->ncredits + 1) * sizeof(report_credit_t));
    if (c == NULL) {
        return -1;
    }

    a->credits = c;
    c = &a->credits[a->ncredits];

    c->key = report_strndup(key, strlen(key));
    if (c->key == NULL) {
        return -1;
    }

    c->credit = credit;
    a->ncredits++;

    return 0;
}


static int
report_credit_cmp(const void *a, const void *b)
{
    const report_credit_t  *x = a, *y = b;

    if (x->credit != y->credit) {
        return x->credit > y->credit ? -1 : 1;
    }

    return strcmp(x->key, y->key);
}


int
report_attribute(report_event_t *ev, size_t n, const char *goal,
    report_model_e model, int64_t half_life, int by,
    report_attribution_t *out)
{
    int                    dup;
    size_t                 a, b, i, j, k, nt;
    double                 w, sum;
    const char            *key;
    report_event_t       **t;

    memset(out, 0, sizeof(report_attribution_t));

    t = malloc((n + 1) * sizeof(report_event_t *));
    if (t == NULL) {
        return -1;
    }

    report_qsort(ev, n, sizeof(report_event_t), report_event_cmp);

    for (a = 0; a < n; a = b) {
        for (b = a + 1; b < n && strcmp(ev[a].id, ev[b].id) == 0; b++) {
            /* void */
        }

        /* the visitor's touches, in time order */

        nt = 0;

        for (i = a; i < b; i++) {
            if (ev[i].utm[0] == NULL || ev[i].utm[0][0] == '\0') {
                continue;
            }

            if (ev[i].type == REPORT_CONVERSION) {
                dup = 0;

                for (j = a; j < b && ev[j].ts <= ev[i].ts; j++) {
                    if (ev[j].type == REPORT_EXPOSURE && ev[j].ts == ev[i].ts
                        && ev[j].utm[0]
                        && strcmp(ev[j].utm[0], ev[i].utm[0]) == 0)
                    {
                        dup = 1;
                    }
                }

                if (dup) {
                    continue;
                }
            }

            t[nt++] = &ev[i];
        }

        for (i = a; i < b; i++) {
            if (ev[i].type != REPORT_CONVERSION || ev[i].goal == NULL
                || strcmp(ev[i].goal, goal) != 0)
            {
                continue;
            }

            out->conversions++;

            /* touches at or before the conversion: t[0..k-1] */
            for (k = 0; k < nt && t[k]->ts <= ev[i].ts; k++) {
                /* void */
            }

            if (k == 0) {
                out->direct++;

                if (report_credit(out, "(direct)", 1.0) != 0) {
                    goto failed;
                }

                continue;
            }

            /*
             * time-decay: 2^(-(t_conv - t_j) / half_life) normalized; the
             * common factor 2^(-(t_conv - t_last) / half_life) cancels,
             * so the weights are taken against the last touch (weight 1):
             * no underflow to 0/0 for old touches
             */
            sum = 0.0;

            if (model == REPORT_DECAY) {
                for (j = 0; j < k; j++) {
                    sum += exp2(-(double) (t[k - 1]->ts - t[j]->ts)
                                / (double) half_life);
                }
            }

            for (j = 0; j < k; j++) {
                switch (model) {

                case REPORT_FIRST:
                    w = (j == 0) ? 1.0 : 0.0;
                    break;

                case REPORT_LAST:
                    w = (j == k - 1) ? 1.0 : 0.0;
                    break;

                case REPORT_LINEAR:
                    w = 1.0 / (double) k;
                    break;

                default:
                    w = exp2(-(double) (t[k - 1]->ts - t[j]->ts)
                             / (double) half_life) / sum;
                }

                if (w == 0.0) {
                    continue;
                }

                key = t[j]->utm[by];

                if (key == NULL || key[0] == '\0') {
                    key = "(none)";
                }

                if (report_credit(out, key, w) != 0) {
                    goto failed;
                }
            }
        }
    }

    free(t);

    report_qsort(out->credits, out->ncredits, sizeof(report_credit_t),
                 report_credit_cmp);

    return 0;

failed:

    free(t);

    return -1;
}


void
report_attribution_free(report_attribution_t *a)
{
    size_t  i;

    for (i = 0; i < a->ncredits; i++) {
        free(a->credits[i].key);
    }

    free(a->credits);
    memset(a, 0, sizeof(report_attribution_t));
}
