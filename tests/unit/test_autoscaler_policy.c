/* Scaling policy: the design's worked example, thresholds, stepped vs
 * aggressive moves, cooldowns, clamps, scale-down safety, predictive >= reactive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../autoscaler/policy.h"

#include <string.h>

static af_policy_t *s_new(bool aggressive)
{
    af_policy_config_t c;
    af_policy_config_defaults(&c);
    c.aggressive = aggressive;
    af_policy_t *p = af_policy_new(&c);
    assert_non_null(p);
    return p;
}

static af_decision_t s_decide_hold(af_policy_t *p, double now, long cur, double sessions,
                                   double forecast, double hold)
{
    af_policy_input_t in = {.now_s = now, .current = cur, .sessions = sessions,
                            .forecast = forecast, .forecast_hold = hold};
    af_decision_t d;
    af_policy_decide(p, &in, &d);
    return d;
}

static af_decision_t s_decide(af_policy_t *p, double now, long cur, double sessions,
                              double forecast)
{
    af_policy_input_t in = {.now_s = now, .current = cur, .sessions = sessions,
                            .forecast = forecast, .forecast_hold = -1};
    af_decision_t d;
    af_policy_decide(p, &in, &d);
    return d;
}

/* The design: 7,500 sessions on 50 agents -> 150 %, target 75, up by 25. */
static void test_worked_example(void **state)
{
    (void)state;
    for (int aggressive = 0; aggressive <= 1; aggressive++) {
        af_policy_t *p = s_new(aggressive);
        af_decision_t d = s_decide(p, 1000, 50, 7500, -1);
        assert_true(d.utilization > 1.499 && d.utilization < 1.501);
        assert_int_equal(d.need, 75);
        assert_int_equal(d.direction, AF_SCALE_UP);
        assert_int_equal(d.target, 75);
        assert_int_equal(d.target - 50, 25);
        assert_string_equal(d.reason, "utilization_high");
        af_policy_destroy(&p);
        assert_null(p);
    }
}

static void test_band_means_no_action(void **state)
{
    (void)state;
    af_policy_t *p = s_new(false);
    /* 100 agents: 30.0 % .. 80.0 % inclusive is the band. */
    for (long s = 3000; s <= 8000; s += 250) {
        af_decision_t d = s_decide(p, 0, 100, (double)s, -1);
        assert_int_equal(d.direction, AF_SCALE_NONE);
        assert_int_equal(d.target, 100);
        assert_string_equal(d.reason, "in_band");
    }
    assert_int_equal(s_decide(p, 0, 100, 8001, -1).direction, AF_SCALE_UP);
    assert_int_equal(s_decide(p, 0, 100, 2999, -1).direction, AF_SCALE_DOWN);
    af_policy_destroy(&p);
}

static void test_stepped_vs_aggressive(void **state)
{
    (void)state;
    af_policy_t *st = s_new(false), *ag = s_new(true);
    /* 300 %: stepped takes +50 %, aggressive jumps to the target. */
    assert_int_equal(s_decide(st, 0, 100, 30000, -1).target, 150);
    assert_int_equal(s_decide(ag, 0, 100, 30000, -1).target, 300);
    /* 85 %: the target (85) is below current; both take one step up. */
    assert_int_equal(s_decide(st, 0, 100, 8500, -1).target, 150);
    assert_int_equal(s_decide(ag, 0, 100, 8500, -1).target, 150);
    /* 10 % on 200 agents: stepped -10 %, aggressive straight to the smallest
     * fleet that stays under the up threshold: ceil(2000 / 80) = 25. */
    assert_int_equal(s_decide(st, 0, 200, 2000, -1).target, 180);
    assert_int_equal(s_decide(ag, 0, 200, 2000, -1).target, 25);
    af_policy_destroy(&st);
    af_policy_destroy(&ag);
}

static void test_cooldowns(void **state)
{
    (void)state;
    af_policy_t *p = s_new(false);
    af_decision_t d = s_decide(p, 1000, 50, 7500, -1);
    assert_int_equal(d.direction, AF_SCALE_UP);
    af_policy_record(p, &d, 1000);
    /* Still hot 60 s later: inside the 120 s up cooldown. */
    d = s_decide(p, 1060, 75, 9000, -1);
    assert_int_equal(d.direction, AF_SCALE_NONE);
    assert_string_equal(d.reason, "cooldown");
    assert_int_equal(d.target, 75);
    /* 120 s after: allowed. */
    d = s_decide(p, 1120, 75, 9000, -1);
    assert_int_equal(d.direction, AF_SCALE_UP);
    af_policy_record(p, &d, 1120);
    /* Load gone: a scale-down waits 300 s after the last action. */
    d = s_decide(p, 1120 + 299, 113, 1000, -1);
    assert_int_equal(d.direction, AF_SCALE_NONE);
    assert_string_equal(d.reason, "cooldown");
    d = s_decide(p, 1120 + 300, 113, 1000, -1);
    assert_int_equal(d.direction, AF_SCALE_DOWN);
    af_policy_record(p, &d, 1420);
    /* After a scale-down, a scale-up waits cooldown_up (120 s), not 300. */
    assert_string_equal(s_decide(p, 1420 + 119, 101, 20000, -1).reason, "cooldown");
    assert_int_equal(s_decide(p, 1420 + 120, 101, 20000, -1).direction, AF_SCALE_UP);
    /* A decision that was not carried out starts no cooldown. */
    af_decision_t none = {.direction = AF_SCALE_NONE};
    af_policy_record(p, &none, 1600);
    assert_int_equal(s_decide(p, 1600, 101, 20000, -1).direction, AF_SCALE_UP);
    af_policy_destroy(&p);
}

static void test_clamps(void **state)
{
    (void)state;
    af_policy_t *p = s_new(true);
    /* Nothing to do but never below min 10. */
    af_decision_t d = s_decide(p, 0, 12, 0, -1);
    assert_int_equal(d.target, 10);
    d = s_decide(p, 0, 10, 0, -1);
    assert_int_equal(d.direction, AF_SCALE_NONE);
    assert_string_equal(d.reason, "at_limit");
    /* Never above max 1000, whatever the load. */
    d = s_decide(p, 0, 900, 500000, -1);
    assert_int_equal(d.target, 1000);
    d = s_decide(p, 0, 1000, 500000, -1);
    assert_int_equal(d.direction, AF_SCALE_NONE);
    assert_string_equal(d.reason, "at_limit");
    /* Outside the range: moved back at once, even inside a cooldown. */
    af_decision_t up = {.direction = AF_SCALE_UP, .target = 20};
    af_policy_record(p, &up, 100);
    d = s_decide(p, 101, 4, 0, -1);
    assert_int_equal(d.target, 10);
    assert_string_equal(d.reason, "below_min");
    d = s_decide(p, 101, 1500, 90000, -1);
    assert_int_equal(d.target, 1000);
    assert_string_equal(d.reason, "above_max");
    /* No agents at all and sessions waiting: straight to what they need. */
    d = s_decide(p, 0, 0, 2500, -1);
    assert_int_equal(d.target, 25);
    af_policy_destroy(&p);
}

/* A scale-down never leaves live sessions without a seat. */
static void test_scale_down_safety(void **state)
{
    (void)state;
    af_policy_config_t c;
    af_policy_config_defaults(&c);
    c.aggressive = true;
    c.up_threshold = 0.95;
    c.down_threshold = 0.9; /* absurd band so a down decision meets the floor */
    c.min_agents = 1;
    af_policy_t *p = af_policy_new(&c);
    assert_non_null(p);
    for (long cur = 2; cur <= 400; cur += 7)
        for (double s = 0; s <= 0.9 * (double)cur * 100; s += 37) {
            af_decision_t d = s_decide(p, 0, cur, s, -1);
            long need = (long)((s + 99) / 100);
            if (d.direction == AF_SCALE_DOWN)
                assert_true(d.target * 100 >= (long)s && d.target >= need);
        }
    af_policy_destroy(&p);
    /* With the design's settings: stepped -10 % from 100 agents with 2,500
     * sessions would be 90; the aggressive jump would be ceil(2500/80) = 32. */
    p = s_new(true);
    af_decision_t d = s_decide(p, 0, 100, 2500, -1);
    assert_int_equal(d.target, 32);
    assert_true(d.target * 100 >= 2500);
    af_policy_destroy(&p);
}

/* Predictive: a rising forecast scales early; a forecast never pulls the
 * target below the reactive decision (property over a grid). */
static void test_predictive(void **state)
{
    (void)state;
    af_policy_t *p = s_new(false);
    /* 70 % now (reactive: nothing), forecast 12,000 sessions on 100 agents:
     * provision so the forecast sits at 80 %: ceil(12000 / 80) = 150. */
    af_decision_t d = s_decide(p, 0, 100, 7000, 12000);
    assert_int_equal(d.direction, AF_SCALE_UP);
    assert_int_equal(d.reactive_target, 100);
    assert_int_equal(d.target, 150);
    assert_string_equal(d.reason, "forecast");
    /* Reactive wants down, forecast says demand is coming back: hold. */
    d = s_decide(p, 0, 100, 2000, 5000);
    assert_int_equal(d.direction, AF_SCALE_NONE);
    assert_int_equal(d.reactive_target, 90);
    for (int ag = 0; ag <= 1; ag++) {
        af_policy_t *q = s_new(ag);
        af_decision_t up = {.direction = AF_SCALE_UP, .target = 2, .reactive_target = 2};
        for (long cur = 0; cur <= 1200; cur += 13)
            for (double s = 0; s <= 120000; s += 1733)
                for (double f = 0; f <= 150000; f += 4999) {
                    af_decision_t r = s_decide(q, 50, cur, s, -1);
                    af_decision_t x = s_decide(q, 50, cur, s, f);
                    assert_true(x.target >= r.target);
                    assert_int_equal(x.reactive_target, r.target);
                    assert_true(x.target >= 10 && x.target <= 1000);
                }
        af_policy_record(q, &up, 0); /* and again inside cooldowns */
        for (long cur = 10; cur <= 1000; cur += 31)
            for (double s = 0; s <= 120000; s += 2711)
                for (double f = 0; f <= 150000; f += 7919)
                    assert_true(s_decide(q, 60, cur, s, f).target >= s_decide(q, 60, cur, s, -1).target);
        af_policy_destroy(&q);
    }
    af_policy_destroy(&p);
}

/* The hold forecast: in band now and at one lead, but the demand one hold
 * time ahead (when the next scale-up could land) overflows the fleet. */
static void test_predictive_hold(void **state)
{
    (void)state;
    af_policy_t *p = s_new(false);
    af_decision_t d = s_decide_hold(p, 0, 100, 7000, 7500, 11000);
    assert_int_equal(d.direction, AF_SCALE_UP);
    assert_int_equal(d.target, 110); /* ceil(11000 / 100): holds H at 100 % */
    assert_string_equal(d.reason, "forecast");
    d = s_decide_hold(p, 0, 100, 7000, 7500, 9900); /* H fits: nothing */
    assert_int_equal(d.direction, AF_SCALE_NONE);
    af_policy_config_t c;
    af_policy_config_defaults(&c);
    assert_true(af_policy_hold_s(&c, 30, 60) == 120 + 60);  /* evaluated at 120 s */
    assert_true(af_policy_hold_s(&c, 50, 60) == 150 + 60);  /* first one after: 150 s */
    af_policy_destroy(&p);
}

/* Which scale-ups the up cooldown holds back in predictive mode. */
static void test_predictive_cooldown(void **state)
{
    (void)state;
    /* After a forecast-led scale-up (100 -> 150 while reactive wanted none),
     * the rules firing at 87 % are not held back: the guess was short. */
    af_policy_t *p = s_new(false);
    af_decision_t d = s_decide(p, 0, 100, 7000, 12000);
    assert_int_equal(d.target, 150);
    af_policy_record(p, &d, 0);
    d = s_decide(p, 30, 150, 13000, -1);
    assert_int_equal(d.direction, AF_SCALE_UP);
    assert_int_equal(d.target, 225);
    af_policy_destroy(&p);
    /* After a rules-led scale-up the same input waits out the cooldown... */
    p = s_new(false);
    d = s_decide(p, 0, 100, 9000, -1);
    assert_int_equal(d.target, 150);
    af_policy_record(p, &d, 0);
    d = s_decide(p, 30, 150, 13000, -1);
    assert_int_equal(d.direction, AF_SCALE_NONE);
    assert_string_equal(d.reason, "cooldown");
    /* ...and so does a forecast that stays within the fleet (14,000 < 15,000)... */
    d = s_decide(p, 30, 150, 9000, 14000);
    assert_int_equal(d.direction, AF_SCALE_NONE);
    assert_string_equal(d.reason, "cooldown");
    /* ...but not one that overflows it within a lead time: waiting is too late. */
    d = s_decide(p, 30, 150, 9000, 16000);
    assert_int_equal(d.direction, AF_SCALE_UP);
    assert_int_equal(d.target, 200); /* ceil(16000 / 80) */
    af_policy_destroy(&p);
}

static void test_config_check(void **state)
{
    (void)state;
    af_policy_config_t c;
    char err[128];
    af_policy_config_defaults(&c);
    assert_int_equal(af_policy_config_check(&c, err, sizeof err), 0);
    c.down_threshold = 0.9;
    assert_int_equal(af_policy_config_check(&c, err, sizeof err), -1);
    assert_non_null(strstr(err, "down-threshold"));
    af_policy_config_defaults(&c);
    c.max_agents = 5;
    assert_int_equal(af_policy_config_check(&c, err, sizeof err), -1);
    assert_null(af_policy_new(&c));
    af_policy_config_defaults(&c);
    c.sessions_per_agent = 0;
    assert_int_equal(af_policy_config_check(&c, err, sizeof err), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_band_means_no_action),
        cmocka_unit_test(test_stepped_vs_aggressive),
        cmocka_unit_test(test_cooldowns),
        cmocka_unit_test(test_clamps),
        cmocka_unit_test(test_scale_down_safety),
        cmocka_unit_test(test_predictive),
        cmocka_unit_test(test_predictive_hold),
        cmocka_unit_test(test_predictive_cooldown),
        cmocka_unit_test(test_config_check),
    };
    return cmocka_run_group_tests_name("autoscaler_policy", tests, NULL, NULL);
}
