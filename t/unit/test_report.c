/*
 * persona-report's arithmetic (tools/report_stats.c) against fixtures
 * computed by hand; each expected number is derived in a comment.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "report_stats.h"


#define E(t, ts, id, goal, variants, src, med, camp)                         \
    { t, ts, id, goal, variants, { src, med, camp } }

#define X  REPORT_EXPOSURE
#define C  REPORT_CONVERSION

#define DAY  86400000LL


static void
assert_near(double got, double want, double tol)
{
    if (fabs(got - want) > tol) {
        fail_msg("got %.9f, want %.9f (+- %g)", got, want, tol);
    }
}


static const report_arm_t *
arm(const report_experiment_t *x, const char *name)
{
    size_t  i;

    for (i = 0; i < x->narms; i++) {
        if (strcmp(x->arms[i].name, name) == 0) {
            return &x->arms[i];
        }
    }

    fail_msg("no arm %s", name);
    return NULL;
}


/*
 * v1: control, buys after its exposure              -> control buyer
 * v2: urgency, bought before its exposure           -> not a buyer
 * v3: urgency, then urgency-capped; buys twice, signs up
 *                                                   -> urgency buyer once,
 *                                                      signer, capped
 * v4: control, later shown urgency (ignored: first exposure decides);
 *     signs up at the same ms as its exposure       -> control signer
 * v5: converts, never exposed                       -> not a visitor
 * v6: exposed, in no experiment (holdout)           -> visitor, no arm
 * v7: first exposure already capped                 -> urgency, capped
 * v1 is also in "price" (arm b, no arm named control).
 *
 * visitors 6 (v1 v2 v3 v4 v6 v7); exposures 1+1+2+2+1+1 = 8;
 * conversions 1 (v1) + 1 (v2) + 3 (v3) + 1 (v4) + 1 (v5) = 7;
 * goals sorted: purchase, signup.
 * hero control: exposed 2 (v1 v4), capped 0, purchase 1 (v1), signup 1 (v4)
 * hero urgency: exposed 3 (v2 v3 v7), capped 2 (v3 v7), purchase 1 (v3),
 *               signup 1 (v3)
 * price b: exposed 1, purchase 1, signup 0; control none.
 */
static void
test_experiments(void **state)
{
    report_experiments_t        r;
    const report_arm_t         *a;
    const report_experiment_t  *hero, *price;

    report_event_t  ev[] = {
        E(X, 100, "v1", NULL, "hero=control,price=b", NULL, NULL, NULL),
        E(C, 200, "v1", "purchase", "hero=control", NULL, NULL, NULL),
        E(C, 50, "v2", "purchase", NULL, NULL, NULL, NULL),
        E(X, 100, "v2", NULL, "hero=urgency", NULL, NULL, NULL),
        E(X, 100, "v3", NULL, "hero=urgency", NULL, NULL, NULL),
        E(C, 400, "v3", "purchase", NULL, NULL, NULL, NULL),
        E(X, 150, "v3", NULL, "hero=urgency-capped", NULL, NULL, NULL),
        E(C, 300, "v3", "purchase", NULL, NULL, NULL, NULL),
        E(C, 300, "v3", "signup", NULL, NULL, NULL, NULL),
        E(C, 100, "v4", "signup", NULL, NULL, NULL, NULL),
        E(X, 100, "v4", NULL, "hero=control", NULL, NULL, NULL),
        E(X, 110, "v4", NULL, "hero=urgency", NULL, NULL, NULL),
        E(C, 100, "v5", "purchase", NULL, NULL, NULL, NULL),
        E(X, 100, "v6", NULL, NULL, NULL, NULL, NULL),
        E(X, 100, "v7", NULL, "hero=urgency-capped", NULL, NULL, NULL),
    };

    assert_int_equal(report_experiments(ev, sizeof(ev) / sizeof(ev[0]), &r),
                     0);

    assert_int_equal(r.visitors, 6);
    assert_int_equal(r.exposures, 8);
    assert_int_equal(r.conversions, 7);
    assert_int_equal(r.ngoals, 2);
    assert_string_equal(r.goals[0], "purchase");
    assert_string_equal(r.goals[1], "signup");

    assert_int_equal(r.nexperiments, 2);
    hero = &r.experiments[0];
    price = &r.experiments[1];
    assert_string_equal(hero->name, "hero");
    assert_string_equal(price->name, "price");

    assert_int_equal(hero->narms, 2);
    assert_int_equal(hero->control, 0);     /* sorted: control, urgency */

    a = arm(hero, "control");
    assert_int_equal(a->exposed, 2);
    assert_int_equal(a->capped, 0);
    assert_int_equal(a->converted[0], 1);
    assert_int_equal(a->converted[1], 1);

    a = arm(hero, "urgency");
    assert_int_equal(a->exposed, 3);
    assert_int_equal(a->capped, 2);
    assert_int_equal(a->converted[0], 1);
    assert_int_equal(a->converted[1], 1);

    assert_int_equal(price->narms, 1);
    assert_true(price->control == REPORT_NONE);
    a = arm(price, "b");
    assert_int_equal(a->exposed, 1);
    assert_int_equal(a->converted[0], 1);
    assert_int_equal(a->converted[1], 0);

    assert_int_equal(report_set_control((report_experiment_t *) price, "b"),
                     0);
    assert_int_equal(price->control, 0);
    assert_int_equal(report_set_control((report_experiment_t *) price, "x"),
                     -1);

    report_experiments_free(&r);
}


/*
 * control 10/100, variant 20/100:
 *   p1 = .1, p2 = .2, diff = .1, lift = .1 / .1 = 1 (+100%)
 *   pooled p = 30/200 = .15
 *   SE0 = sqrt(.15 * .85 * (1/100 + 1/100)) = sqrt(.00255) = .0504975
 *   z = .1 / .0504975 = 1.980295
 *   p-value = erfc(1.980295 / sqrt 2) = 2 (1 - Phi(1.980295)) = .0476704
 *   SE = sqrt(.1 * .9 / 100 + .2 * .8 / 100) = sqrt(.0025) = .05
 *   CI = .1 -+ 1.959964 * .05 = [.0020018, .1979982]
 */
static void
test_ztest(void **state)
{
    report_test_t  t;

    report_ztest(10, 100, 20, 100, &t);

    assert_true(t.valid);
    assert_near(t.p1, 0.1, 1e-12);
    assert_near(t.p2, 0.2, 1e-12);
    assert_near(t.diff, 0.1, 1e-12);
    assert_true(t.lift_defined);
    assert_near(t.lift, 1.0, 1e-12);
    assert_near(t.z, 1.980295, 1e-6);
    assert_near(t.p_value, 0.0476704, 1e-7);
    assert_near(t.ci_lo, 0.0020018, 1e-7);
    assert_near(t.ci_hi, 0.1979982, 1e-7);

    /* the same the other way round: z and the CI change sign, p-value
     * does not; lift = -.1 / .2 = -.5 */
    report_ztest(20, 100, 10, 100, &t);
    assert_near(t.z, -1.980295, 1e-6);
    assert_near(t.p_value, 0.0476704, 1e-7);
    assert_near(t.lift, -0.5, 1e-12);
    assert_near(t.ci_lo, -0.1979982, 1e-7);

    /* equal rates 50/1000 each: z = 0, p-value = 1, CI symmetric:
     * SE = sqrt(2 * .05 * .95 / 1000) = .0097468; CI = -+ .0191034 */
    report_ztest(50, 1000, 50, 1000, &t);
    assert_near(t.z, 0.0, 1e-12);
    assert_near(t.p_value, 1.0, 1e-12);
    assert_near(t.ci_hi, 0.0191034, 1e-7);

    /* nobody converts: no lift, p-value 1 */
    report_ztest(0, 50, 0, 50, &t);
    assert_true(t.valid);
    assert_false(t.lift_defined);
    assert_near(t.p_value, 1.0, 1e-12);

    /* an empty arm: no test */
    report_ztest(0, 0, 5, 50, &t);
    assert_false(t.valid);

    /* Phi(1.959964) = .975, Phi(0) = .5 */
    assert_near(report_phi(REPORT_Z95), 0.975, 1e-9);
    assert_near(report_phi(0.0), 0.5, 1e-12);
}


/*
 * Attribution fixture (D = one day in ms; every conversion is "purchase"
 * unless said otherwise):
 *   A: google/cpc/spring at 0, email/newsletter at 3D, a visit without
 *      UTM at 5D, buys at 7D
 *   B: buys at 1D without any touch                       -> (direct)
 *   C: facebook/social/spring at 0, buys at 1D, google at 2D (after: not
 *      a touch of that conversion)
 *   D: buys at 0 with utm_source tiktok on the conversion itself and no
 *      exposure: the conversion is its own touch
 *   E: google/cpc at 0, bing/cpc at 1D, buys at 1D with utm bing (the
 *      same request as the bing exposure: one touch, not two); signs up
 *      at 2D (another goal)
 * 5 conversions, 1 direct.
 */
static report_event_t  attr_events[] = {
    E(X, 0, "A", NULL, NULL, "google", "cpc", "spring"),
    E(X, 3 * DAY, "A", NULL, NULL, "email", "newsletter", NULL),
    E(X, 5 * DAY, "A", NULL, NULL, NULL, NULL, NULL),
    E(C, 7 * DAY, "A", "purchase", NULL, NULL, NULL, NULL),
    E(C, 1 * DAY, "B", "purchase", NULL, NULL, NULL, NULL),
    E(X, 0, "C", NULL, NULL, "facebook", "social", "spring"),
    E(C, 1 * DAY, "C", "purchase", NULL, NULL, NULL, NULL),
    E(X, 2 * DAY, "C", NULL, NULL, "google", "cpc", NULL),
    E(C, 0, "D", "purchase", NULL, "tiktok", NULL, NULL),
    E(X, 0, "E", NULL, NULL, "google", "cpc", NULL),
    E(X, 1 * DAY, "E", NULL, NULL, "bing", "cpc", NULL),
    E(C, 1 * DAY, "E", "purchase", NULL, "bing", "cpc", NULL),
    E(C, 2 * DAY, "E", "signup", NULL, NULL, NULL, NULL),
};


static double
credit(const report_attribution_t *a, const char *key)
{
    size_t  i;

    for (i = 0; i < a->ncredits; i++) {
        if (strcmp(a->credits[i].key, key) == 0) {
            return a->credits[i].credit;
        }
    }

    return 0.0;
}


static void
attribute(report_model_e model, int by, report_attribution_t *a)
{
    report_event_t  ev[sizeof(attr_events) / sizeof(attr_events[0])];

    memcpy(ev, attr_events, sizeof(ev));

    assert_int_equal(report_attribute(ev, sizeof(ev) / sizeof(ev[0]),
                                      "purchase", model, 7 * DAY, by, a),
                     0);
    assert_int_equal(a->conversions, 5);
    assert_int_equal(a->direct, 1);
}


static void
test_attribution(void **state)
{
    double                 total;
    size_t                 i;
    report_attribution_t   a;

    /* first: A google, C facebook, D tiktok, E google, B direct */
    attribute(REPORT_FIRST, REPORT_BY_SOURCE, &a);
    assert_int_equal(a.ncredits, 4);
    assert_string_equal(a.credits[0].key, "google");    /* highest first */
    assert_near(credit(&a, "google"), 2.0, 1e-12);
    assert_near(credit(&a, "facebook"), 1.0, 1e-12);
    assert_near(credit(&a, "tiktok"), 1.0, 1e-12);
    assert_near(credit(&a, "(direct)"), 1.0, 1e-12);
    assert_near(credit(&a, "email"), 0.0, 1e-12);
    report_attribution_free(&a);

    /* last: A email, C facebook, D tiktok, E bing, B direct */
    attribute(REPORT_LAST, REPORT_BY_SOURCE, &a);
    assert_int_equal(a.ncredits, 5);
    assert_near(credit(&a, "email"), 1.0, 1e-12);
    assert_near(credit(&a, "bing"), 1.0, 1e-12);
    assert_near(credit(&a, "google"), 0.0, 1e-12);
    report_attribution_free(&a);

    /* linear: A google 1/2 email 1/2; C facebook 1; D tiktok 1;
     * E google 1/2 bing 1/2 (not 1/3, 2/3: the conversion's own UTM is
     * the bing exposure's) -> google 1, email .5, bing .5 */
    attribute(REPORT_LINEAR, REPORT_BY_SOURCE, &a);
    assert_near(credit(&a, "google"), 1.0, 1e-12);
    assert_near(credit(&a, "email"), 0.5, 1e-12);
    assert_near(credit(&a, "bing"), 0.5, 1e-12);
    assert_near(credit(&a, "facebook"), 1.0, 1e-12);
    report_attribution_free(&a);

    /*
     * time-decay, half-life 7D:
     * A: google 7D before: 2^(-7/7) = .5; email 4D before:
     *    2^(-4/7) = .6729500; sum 1.1729500
     *    google .5 / 1.17295 = .4262756, email .6729500 / 1.17295 = .5737244
     * E: google 1D before: 2^(-1/7) = .9057237; bing 0D before: 1;
     *    google .9057237 / 1.9057237 = .4752650, bing .5247350
     * google .4262756 + .4752650 = .9015405
     */
    attribute(REPORT_DECAY, REPORT_BY_SOURCE, &a);
    assert_near(credit(&a, "google"), 0.9015405, 1e-7);
    assert_near(credit(&a, "email"), 0.5737244, 1e-7);
    assert_near(credit(&a, "bing"), 0.5247350, 1e-7);
    assert_near(credit(&a, "facebook"), 1.0, 1e-12);
    assert_near(credit(&a, "tiktok"), 1.0, 1e-12);

    /* each conversion hands out exactly 1 */
    total = 0.0;
    for (i = 0; i < a.ncredits; i++) {
        total += a.credits[i].credit;
    }
    assert_near(total, 5.0, 1e-9);
    report_attribution_free(&a);

    /* linear by medium: A cpc .5 newsletter .5; C social 1; D (none) 1
     * (the tiktok touch has no medium); E cpc .5 + cpc .5 */
    attribute(REPORT_LINEAR, REPORT_BY_MEDIUM, &a);
    assert_near(credit(&a, "cpc"), 1.5, 1e-12);
    assert_near(credit(&a, "newsletter"), 0.5, 1e-12);
    assert_near(credit(&a, "social"), 1.0, 1e-12);
    assert_near(credit(&a, "(none)"), 1.0, 1e-12);
    report_attribution_free(&a);

    /* first by campaign: A spring, C spring, D (none), E (none) */
    attribute(REPORT_FIRST, REPORT_BY_CAMPAIGN, &a);
    assert_near(credit(&a, "spring"), 2.0, 1e-12);
    assert_near(credit(&a, "(none)"), 2.0, 1e-12);
    assert_near(credit(&a, "(direct)"), 1.0, 1e-12);
    report_attribution_free(&a);
}


/* a touch a year before with a half-life of an hour: no 0/0 */
static void
test_decay_underflow(void **state)
{
    report_attribution_t  a;

    report_event_t  ev[] = {
        E(X, 0, "A", NULL, NULL, "old", NULL, NULL),
        E(X, 365 * DAY, "A", NULL, NULL, "new", NULL, NULL),
        E(C, 365 * DAY + 1, "A", "purchase", NULL, NULL, NULL, NULL),
    };

    assert_int_equal(report_attribute(ev, 3, "purchase", REPORT_DECAY,
                                      3600000, REPORT_BY_SOURCE, &a),
                     0);
    assert_near(credit(&a, "new"), 1.0, 1e-9);
    assert_near(credit(&a, "old"), 0.0, 1e-9);
    report_attribution_free(&a);

    assert_int_equal(report_model("time-decay"), REPORT_DECAY);
    assert_int_equal(report_model("u-shaped"), -1);
}


/* no events at all */
static void
test_empty(void **state)
{
    report_experiments_t  r;
    report_attribution_t  a;

    assert_int_equal(report_experiments(NULL, 0, &r), 0);
    assert_int_equal(r.visitors, 0);
    assert_int_equal(r.nexperiments, 0);
    report_experiments_free(&r);

    assert_int_equal(report_attribute(NULL, 0, "purchase", REPORT_LINEAR,
                                      1, REPORT_BY_SOURCE, &a),
                     0);
    assert_int_equal(a.conversions, 0);
    assert_int_equal(a.ncredits, 0);
    report_attribution_free(&a);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_experiments),
        cmocka_unit_test(test_ztest),
        cmocka_unit_test(test_attribution),
        cmocka_unit_test(test_decay_underflow),
        cmocka_unit_test(test_empty),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
