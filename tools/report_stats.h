/*
 * persona-report's arithmetic, apart from Redis and printing: events in,
 * experiment tables and attribution credits out.  Pure C (malloc, libm),
 * unit-tested against hand-computed fixtures in t/unit/test_report.c.
 *
 * Experiments.  A visitor's arm in an experiment is the variant of their
 * first exposure event that names the experiment (in the time window);
 * "urgency-capped" counts as "urgency" (the visitor was assigned to
 * urgency and the cap is part of that treatment: an intention-to-treat
 * reading), and the arm's "capped" column counts the visitors who had at
 * least one capped exposure.  A visitor is a converter for goal G in that
 * experiment when they have a conversion event for G at or after that
 * first exposure (ts in ms); conversions before it are not the
 * variant's doing and are not counted.  Visitors are counted once per
 * arm and goal however often they convert.
 *
 * The test against control is the two-proportion z-test:
 *   p1 = x1/n1 (control), p2 = x2/n2 (variant), p = (x1+x2)/(n1+n2)
 *   z  = (p2 - p1) / sqrt(p (1-p) (1/n1 + 1/n2))        (pooled SE)
 *   two-sided p-value = 2 (1 - Phi(|z|)) = erfc(|z| / sqrt 2)
 *   95% CI of p2 - p1 = (p2 - p1) +- 1.959964 sqrt(p1(1-p1)/n1
 *                                                  + p2(1-p2)/n2)
 *   relative lift = (p2 - p1) / p1                       (p1 > 0)
 * The normal approximation wants some tens of converters per arm.
 *
 * Attribution.  A touch is an exposure event of the visitor with a
 * non-empty utm_source (a conversion event with utm_source counts too
 * when no exposure of that visitor has the same ts and source, so a
 * tracker that writes only the conversion for the converting request
 * loses nothing).  Each conversion event for the goal is one conversion;
 * its touches are all the visitor's touches at or before it in the
 * window.  Credit of 1 per conversion is split:
 *   first       all to the earliest touch
 *   last        all to the latest touch
 *   linear      1/k to each of the k touches
 *   time-decay  touch i weighs 2^(-(t_conv - t_i) / half_life),
 *               normalized so the weights of one conversion sum to 1
 * A conversion without touches goes to "(direct)".  Credit goes to the
 * touch's utm_source, utm_medium or utm_campaign (by); a touch without
 * that field credits "(none)".
 */

#ifndef REPORT_STATS_H
#define REPORT_STATS_H

#include <stddef.h>
#include <stdint.h>


#define REPORT_EXPOSURE    1
#define REPORT_CONVERSION  2

#define REPORT_BY_SOURCE    0
#define REPORT_BY_MEDIUM    1
#define REPORT_BY_CAMPAIGN  2

#define REPORT_NONE        ((size_t) -1)

#define REPORT_Z95         1.959963984540054


typedef enum {
    REPORT_FIRST = 0,
    REPORT_LAST,
    REPORT_LINEAR,
    REPORT_DECAY
} report_model_e;


/* one stream entry; strings are the caller's, NULL when absent (id never) */
typedef struct {
    int           type;           /* REPORT_EXPOSURE, REPORT_CONVERSION */
    int64_t       ts;             /* unix ms */
    const char   *id;
    const char   *goal;
    const char   *variants;       /* "exp=variant,exp2=variant" */
    const char   *utm[3];         /* source, medium, campaign */
} report_event_t;


typedef struct {
    char         *name;
    uint64_t      exposed;        /* unique visitors */
    uint64_t      capped;         /* of them, with a capped exposure */
    uint64_t     *converted;      /* per goal of the report */
} report_arm_t;


typedef struct {
    char         *name;
    report_arm_t *arms;           /* in order of first appearance */
    size_t        narms;
    size_t        control;        /* index, or REPORT_NONE */
} report_experiment_t;


typedef struct {
    report_experiment_t  *experiments;   /* in order of first appearance */
    size_t                nexperiments;
    char                **goals;         /* sorted */
    size_t                ngoals;
    uint64_t              visitors;      /* ids with an exposure */
    uint64_t              exposures;
    uint64_t              conversions;
} report_experiments_t;


typedef struct {
    int           valid;          /* both arms have visitors */
    double        p1, p2;         /* control, variant rates */
    double        diff;           /* p2 - p1 */
    double        lift;           /* (p2 - p1) / p1 */
    int           lift_defined;   /* p1 > 0 */
    double        z;
    double        p_value;
    double        ci_lo, ci_hi;   /* 95% CI of diff */
} report_test_t;


typedef struct {
    char         *key;
    double        credit;
} report_credit_t;


typedef struct {
    report_credit_t  *credits;    /* by credit, highest first */
    size_t            ncredits;
    uint64_t          conversions;
    uint64_t          direct;     /* conversions without a touch */
} report_attribution_t;


/*
 * Tables of all experiments in ev[0..n-1] (sorted in place by visitor
 * and time).  0, or -1 when out of memory.
 */
int report_experiments(report_event_t *ev, size_t n,
    report_experiments_t *out);
void report_experiments_free(report_experiments_t *r);

/* control := the arm named name; 0, or -1 when x has no such arm */
int report_set_control(report_experiment_t *x, const char *name);

/* the two-proportion z-test of x2/n2 (variant) against x1/n1 (control) */
void report_ztest(uint64_t x1, uint64_t n1, uint64_t x2, uint64_t n2,
    report_test_t *t);

/* standard normal CDF */
double report_phi(double z);

/*
 * Credits for conversions to goal in ev[0..n-1] (sorted in place).
 * half_life in ms, > 0 (REPORT_DECAY only).  0, or -1 when out of memory.
 */
int report_attribute(report_event_t *ev, size_t n, const char *goal,
    report_model_e model, int64_t half_life, int by,
    report_attribution_t *out);
void report_attribution_free(report_attribution_t *a);

/* "first" ... -> model, or -1 */
int report_model(const char *name);


#endif /* REPORT_STATS_H */
