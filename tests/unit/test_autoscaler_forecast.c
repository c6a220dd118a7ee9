/* Holt's linear trend and the demand predictor (sessions + request rate). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../autoscaler/forecast.h"

#include <math.h>

static void test_holt_linear_series(void **state)
{
    (void)state;
    af_holt_t *h = af_holt_new(0.5, 0.3);
    assert_non_null(h);
    assert_true(af_holt_forecast(h, 60) < 0); /* nothing yet */
    af_holt_observe(h, 0, 1000);
    assert_true(af_holt_forecast(h, 60) < 0); /* one sample: no trend */
    /* +10 sessions a second, sampled every 30 s: an exact line is followed exactly. */
    for (int i = 1; i <= 20; i++)
        af_holt_observe(h, 30.0 * i, 1000 + 300.0 * i);
    assert_true(fabs(af_holt_trend(h) - 10.0) < 1e-6);
    assert_true(fabs(af_holt_forecast(h, 60) - (1000 + 6000 + 600)) < 1e-6);
    /* Out-of-order and non-finite samples are ignored. */
    af_holt_observe(h, 10, 99999);
    af_holt_observe(h, 700, NAN);
    assert_int_equal(af_holt_samples(h), 21);
    af_holt_destroy(&h);
    assert_null(h);
    assert_null(af_holt_new(0, 0.3));
    assert_null(af_holt_new(0.5, 1.5));
}

static void test_holt_tracks_change_and_never_negative(void **state)
{
    (void)state;
    af_holt_t *h = af_holt_new(0.5, 0.3);
    for (int i = 0; i < 10; i++)
        af_holt_observe(h, 30.0 * i, 5000);
    assert_true(fabs(af_holt_forecast(h, 60) - 5000) < 1);
    /* Demand starts doubling every few minutes: the forecast runs ahead of the
     * last sample (that is the point of it). */
    double last = 5000;
    for (int i = 10; i < 16; i++) {
        last *= 1.25;
        af_holt_observe(h, 30.0 * i, last);
    }
    assert_true(af_holt_forecast(h, 60) > last);
    /* A collapse: the forecast bottoms at zero, never negative. */
    af_holt_observe(h, 30.0 * 16, 0);
    af_holt_observe(h, 30.0 * 17, 0);
    assert_true(af_holt_forecast(h, 3600) >= 0);
    af_holt_destroy(&h);
}

/* While capacity is full, sessions stay flat at capacity; the request rate
 * (counted where requests arrive) still shows demand growing. */
static void test_predictor_sees_through_saturation(void **state)
{
    (void)state;
    af_predictor_t *p = af_predictor_new(0.5, 0.3);
    assert_non_null(p);
    /* Learn the ratio: 20 sessions per request/s. */
    for (int i = 0; i < 5; i++)
        af_predictor_observe(p, 30.0 * i, 4000, 200, false);
    /* Saturated at 5,000 sessions while requests double. */
    af_predictor_observe(p, 150, 5000, 300, true);
    af_predictor_observe(p, 180, 5000, 400, true);
    af_predictor_observe(p, 210, 5000, 500, true);
    double f = af_predictor_forecast(p, 60);
    assert_true(f > 10000); /* 500 rps * 20 = 10,000 now, and rising */
    af_predictor_destroy(&p);

    /* Not saturated: sessions are the demand; a request rate that climbs on
     * its own (a rate() window still filling) does not move the forecast. */
    p = af_predictor_new(0.5, 0.3);
    for (int i = 0; i < 10; i++)
        af_predictor_observe(p, 30.0 * i, 4000, 1.0 + 10.0 * i, false);
    assert_true(fabs(af_predictor_forecast(p, 60) - 4000) < 1e-6);
    af_predictor_destroy(&p);
    /* Saturated but the ratio has fewer than 5 unsaturated samples: not trusted. */
    p = af_predictor_new(0.5, 0.3);
    af_predictor_observe(p, 0, 4000, 200, false);
    af_predictor_observe(p, 30, 5000, 400, true);
    af_predictor_observe(p, 60, 5000, 800, true);
    assert_true(af_predictor_forecast(p, 60) < 10000); /* rps would say 16,000+ */
    af_predictor_destroy(&p);

    /* Without a request rate, the session series alone drives it. */
    p = af_predictor_new(0.5, 0.3);
    assert_true(af_predictor_forecast(p, 60) < 0);
    af_predictor_observe(p, 0, 1000, -1, false);
    af_predictor_observe(p, 30, 1300, -1, false);
    assert_true(fabs(af_predictor_forecast(p, 60) - 1900) < 1e-6);
    af_predictor_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_holt_linear_series),
        cmocka_unit_test(test_holt_tracks_change_and_never_negative),
        cmocka_unit_test(test_predictor_sees_through_saturation),
    };
    return cmocka_run_group_tests_name("autoscaler_forecast", tests, NULL, NULL);
}
