/* Kubernetes-HPA-style baseline: ratio, tolerance, stabilisation, clamps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../autoscaler/hpa.h"

static af_hpa_t *s_new(void)
{
    af_hpa_config_t c;
    af_hpa_config_defaults(&c);
    af_hpa_t *h = af_hpa_new(&c);
    assert_non_null(h);
    return h;
}

static void test_ratio_and_tolerance(void **state)
{
    (void)state;
    af_hpa_t *h = s_new();
    /* 100 agents at 120 % utilization, target 80 %: ceil(100 * 1.5) = 150. */
    assert_int_equal(af_hpa_decide(h, 0, 100, 12000), 150);
    af_hpa_destroy(&h);
    h = s_new();
    /* Within 10 % of the target: no change (0.86 / 0.8 = 1.075). */
    assert_int_equal(af_hpa_decide(h, 0, 100, 8600), 100);
    assert_int_equal(af_hpa_decide(h, 30, 100, 7300), 100);
    /* Outside: 0.95 / 0.8 = 1.1875 -> 119. */
    assert_int_equal(af_hpa_decide(h, 60, 100, 9500), 119);
    af_hpa_destroy(&h);
    assert_null(h);
}

static void test_scale_down_stabilisation(void **state)
{
    (void)state;
    af_hpa_t *h = s_new();
    assert_int_equal(af_hpa_decide(h, 0, 100, 8000), 100);
    /* Load halves: the recommendation (50) is held back by the 100 seen
     * within the last 300 s. */
    assert_int_equal(af_hpa_decide(h, 30, 100, 4000), 100);
    assert_int_equal(af_hpa_decide(h, 290, 100, 4000), 100);
    /* Once the high recommendation is older than 300 s, down it goes. */
    assert_int_equal(af_hpa_decide(h, 301, 100, 4000), 50);
    /* Scale-up is never held back. */
    assert_int_equal(af_hpa_decide(h, 302, 50, 8000), 100);
    af_hpa_destroy(&h);
}

static void test_clamps(void **state)
{
    (void)state;
    af_hpa_t *h = s_new();
    assert_int_equal(af_hpa_decide(h, 0, 900, 500000), 1000);
    af_hpa_destroy(&h);
    h = s_new();
    assert_int_equal(af_hpa_decide(h, 0, 20, 1600), 20);
    assert_int_equal(af_hpa_decide(h, 100, 20, 0), 20);  /* stabilised */
    assert_int_equal(af_hpa_decide(h, 400, 20, 0), 10);  /* min, not 0 */
    af_hpa_destroy(&h);
    af_hpa_config_t c;
    af_hpa_config_defaults(&c);
    c.target = 0;
    assert_null(af_hpa_new(&c));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ratio_and_tolerance),
        cmocka_unit_test(test_scale_down_stabilisation),
        cmocka_unit_test(test_clamps),
    };
    return cmocka_run_group_tests_name("autoscaler_hpa", tests, NULL, NULL);
}
