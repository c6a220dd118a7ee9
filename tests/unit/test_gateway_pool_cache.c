/* Stateless placement cache: PLACE first, then cached agents round-robin, a
 * fresh PLACE at most once per refresh interval, entries expire, dropped
 * agents are not handed out, and `any` serves as a fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/pool_cache.h"

#include <string.h>

#define MS 1000000ull

static void test_place_then_round_robin_then_refresh(void **state)
{
    (void)state;
    af_pool_cache_t *c = af_pool_cache_new(4, 2000 * MS, 100 * MS);
    char id[64];
    uint64_t t = 1000 * MS;
    assert_false(af_pool_cache_pick(c, t, id)); /* empty: PLACE */
    af_pool_cache_add(c, "ag_a", t);
    assert_true(af_pool_cache_pick(c, t + 1 * MS, id)); /* served from the cache */
    assert_string_equal(id, "ag_a");
    af_pool_cache_add(c, "ag_b", t + 2 * MS);
    int a = 0, b = 0;
    for (int i = 0; i < 10; i++) {
        assert_true(af_pool_cache_pick(c, t + 10 * MS, id));
        a += !strcmp(id, "ag_a");
        b += !strcmp(id, "ag_b");
    }
    assert_int_equal(a, 5);
    assert_int_equal(b, 5);
    /* Refresh due: exactly one caller is told to PLACE. */
    assert_false(af_pool_cache_pick(c, t + 150 * MS, id));
    assert_true(af_pool_cache_pick(c, t + 151 * MS, id));
    af_pool_cache_destroy(&c);
    assert_null(c);
}

static void test_expiry_drop_and_fallback(void **state)
{
    (void)state;
    af_pool_cache_t *c = af_pool_cache_new(2, 2000 * MS, 100 * MS);
    char id[64];
    af_pool_cache_add(c, "ag_a", 0);
    af_pool_cache_add(c, "ag_b", 10 * MS);
    af_pool_cache_add(c, "ag_c", 20 * MS); /* replaces the oldest (ag_a) */
    assert_int_equal(af_pool_cache_size(c), 2);
    for (int i = 0; i < 4; i++) {
        assert_true(af_pool_cache_any(c, 30 * MS, id));
        assert_string_not_equal(id, "ag_a");
    }
    af_pool_cache_drop(c, "ag_b");
    for (int i = 0; i < 3; i++) {
        assert_true(af_pool_cache_any(c, 30 * MS, id));
        assert_string_equal(id, "ag_c");
    }
    /* 2 s later everything has expired. */
    assert_false(af_pool_cache_any(c, 2100 * MS, id));
    assert_int_equal(af_pool_cache_size(c), 0);
    af_pool_cache_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_then_round_robin_then_refresh),
        cmocka_unit_test(test_expiry_drop_and_fallback),
    };
    return cmocka_run_group_tests_name("gateway_pool_cache", tests, NULL, NULL);
}
