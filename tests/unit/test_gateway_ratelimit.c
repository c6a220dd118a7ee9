/* Bounded token-bucket table: 100/min means the 101st request in a burst is
 * refused with a retry hint, tokens come back with time, keys are separate,
 * and a flood of distinct keys never grows the table past its bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/ratelimit.h"

#include <stdio.h>

#define SEC 1000000000ull

static void test_101st_request_in_a_minute_is_refused(void **state)
{
    (void)state;
    af_ratelimit_t *rl = af_ratelimit_new(100, 0, 1000);
    uint64_t t = 5 * SEC;
    double retry = 0;
    for (int i = 0; i < 100; i++)
        assert_true(af_ratelimit_take(rl, "10.0.0.1", t, &retry));
    assert_false(af_ratelimit_take(rl, "10.0.0.1", t, &retry));
    assert_true(retry > 0.5 && retry <= 0.61); /* one token per 0.6 s */
    /* Another IP is unaffected. */
    assert_true(af_ratelimit_take(rl, "10.0.0.2", t, &retry));
    /* 0.6 s later one more is allowed, not two. */
    assert_true(af_ratelimit_take(rl, "10.0.0.1", t + 6 * SEC / 10 + 1000, &retry));
    assert_false(af_ratelimit_take(rl, "10.0.0.1", t + 6 * SEC / 10 + 2000, &retry));
    af_ratelimit_destroy(&rl);
    assert_null(rl);
}

static void test_flood_of_distinct_keys_is_bounded(void **state)
{
    (void)state;
    af_ratelimit_t *rl = af_ratelimit_new(100, 0, 64);
    char key[32];
    uint64_t t = SEC;
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        assert_true(af_ratelimit_take(rl, key, t, NULL));
        assert_true(af_ratelimit_size(rl) <= 64);
    }
    assert_int_equal(af_ratelimit_size(rl), 64);
    assert_true(af_ratelimit_evictions(rl) >= 10000 - 64);
    af_ratelimit_destroy(&rl);
}

static void test_recently_used_key_survives_eviction(void **state)
{
    (void)state;
    af_ratelimit_t *rl = af_ratelimit_new(100, 0, 8);
    uint64_t t = SEC;
    for (int i = 0; i < 100; i++)
        af_ratelimit_take(rl, "hot", t, NULL); /* exhaust "hot" */
    char key[16];
    for (int i = 0; i < 20; i++) { /* churn through other keys, touching "hot" in between */
        snprintf(key, sizeof key, "k%d", i);
        af_ratelimit_take(rl, key, t, NULL);
        assert_false(af_ratelimit_take(rl, "hot", t, NULL));
    }
    assert_true(af_ratelimit_evictions(rl) > 0);
    assert_false(af_ratelimit_take(rl, "hot", t, NULL)); /* still limited: not evicted */
    af_ratelimit_destroy(&rl);
}

static void test_idle_buckets_expire(void **state)
{
    (void)state;
    af_ratelimit_t *rl = af_ratelimit_new(60, 0, 100);
    uint64_t t = SEC;
    af_ratelimit_take(rl, "a", t, NULL);
    af_ratelimit_take(rl, "b", t, NULL);
    assert_int_equal(af_ratelimit_size(rl), 2);
    /* Two minutes later both have refilled: they are dropped as we go. */
    af_ratelimit_take(rl, "c", t + 120 * SEC, NULL);
    assert_int_equal(af_ratelimit_size(rl), 1);
    af_ratelimit_destroy(&rl);
}

static void test_disabled_limiter_allows_everything(void **state)
{
    (void)state;
    af_ratelimit_t *rl = af_ratelimit_new(0, 0, 10);
    for (int i = 0; i < 1000; i++)
        assert_true(af_ratelimit_take(rl, "x", SEC, NULL));
    af_ratelimit_destroy(&rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_101st_request_in_a_minute_is_refused),
        cmocka_unit_test(test_flood_of_distinct_keys_is_bounded),
        cmocka_unit_test(test_recently_used_key_survives_eviction),
        cmocka_unit_test(test_idle_buckets_expire),
        cmocka_unit_test(test_disabled_limiter_allows_everything),
    };
    return cmocka_run_group_tests_name("gateway_ratelimit", tests, NULL, NULL);
}
