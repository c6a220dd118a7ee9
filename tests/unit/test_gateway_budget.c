/* Daily budget arithmetic: UTC day boundaries, the reset time, and the
 * over/remaining decision (the request that crosses the line is served, the
 * next is not; 0 means unlimited). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/budget.h"

#include <string.h>

/* 2026-11-27T23:59:59.999Z and the next millisecond. */
#define LAST_MS 1795823999999ull
#define NEXT_MS 1795824000000ull

static void test_day_boundaries(void **state)
{
    (void)state;
    assert_int_equal(af_budget_day(LAST_MS) + 1, af_budget_day(NEXT_MS));
    assert_int_equal(af_budget_day(0), 0);
    char d[16];
    af_budget_date(af_budget_day(LAST_MS), d, sizeof d);
    assert_string_equal(d, "2026-11-27");
    af_budget_date(af_budget_day(NEXT_MS), d, sizeof d);
    assert_string_equal(d, "2026-11-28");
}

static void test_reset_is_next_midnight(void **state)
{
    (void)state;
    assert_int_equal(af_budget_reset_ms(LAST_MS), NEXT_MS);
    /* At midnight exactly, the budget just reset: the next reset is a day on. */
    assert_int_equal(af_budget_reset_ms(NEXT_MS), NEXT_MS + 86400000ull);
    char iso[32];
    af_budget_iso(af_budget_reset_ms(LAST_MS - 5 * 3600 * 1000ull), iso, sizeof iso);
    assert_string_equal(iso, "2026-11-28T00:00:00Z");
}

static void test_eval(void **state)
{
    (void)state;
    af_budget_state_t st;
    af_budget_eval(1000, 999, LAST_MS, &st);
    assert_false(st.over);
    assert_int_equal(st.remaining, 1);
    af_budget_eval(1000, 1000, LAST_MS, &st);
    assert_true(st.over);
    assert_int_equal(st.remaining, 0);
    af_budget_eval(1000, 5000, LAST_MS, &st); /* overshoot by one large call */
    assert_true(st.over);
    assert_int_equal(st.remaining, 0);
    assert_int_equal(st.used, 5000);
    af_budget_eval(0, 1000000, LAST_MS, &st); /* unlimited */
    assert_false(st.over);
    assert_int_equal(st.remaining, -1);
    af_budget_eval(100, -3, LAST_MS, &st); /* a corrupt counter reads as 0 */
    assert_int_equal(st.used, 0);
    assert_int_equal(st.remaining, 100);
    assert_int_equal(st.reset_ms, NEXT_MS);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_day_boundaries),
        cmocka_unit_test(test_reset_is_next_midnight),
        cmocka_unit_test(test_eval),
    };
    return cmocka_run_group_tests_name("gateway_budget", tests, NULL, NULL);
}
