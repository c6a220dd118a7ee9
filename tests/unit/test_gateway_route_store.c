/* Session → agent route store (in-memory implementation behind the
 * interface): put/get/del, overwrite, and the bound drops the oldest. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/route_store.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    bool called, found;
    char agent[64], user[64];
} s_seen_t;

static void s_cb(bool found, const char *agent_id, const char *user, void *arg)
{
    s_seen_t *s = arg;
    s->called = true;
    s->found = found;
    snprintf(s->agent, sizeof s->agent, "%s", found ? agent_id : "");
    snprintf(s->user, sizeof s->user, "%s", found ? user : "");
}

static s_seen_t s_get(af_route_store_t *rs, const char *sid)
{
    s_seen_t s = {0};
    af_route_store_get(rs, sid, s_cb, &s);
    assert_true(s.called); /* the in-memory store answers at once */
    return s;
}

static void test_put_get_overwrite_del(void **state)
{
    (void)state;
    af_route_store_t *rs = af_route_store_new_memory(100);
    assert_false(s_get(rs, "se_1").found);
    assert_int_equal(af_route_store_put(rs, "se_1", "ag_a", "alice"), 0);
    s_seen_t s = s_get(rs, "se_1");
    assert_true(s.found);
    assert_string_equal(s.agent, "ag_a");
    assert_string_equal(s.user, "alice");
    af_route_store_put(rs, "se_1", "ag_b", "alice"); /* re-placed */
    assert_string_equal(s_get(rs, "se_1").agent, "ag_b");
    assert_int_equal(af_route_store_count(rs), 1);
    assert_int_equal(af_route_store_del(rs, "se_1"), 0);
    assert_int_equal(af_route_store_del(rs, "se_1"), -1);
    assert_false(s_get(rs, "se_1").found);
    af_route_store_destroy(&rs);
    assert_null(rs);
}

static void test_bound_drops_oldest(void **state)
{
    (void)state;
    af_route_store_t *rs = af_route_store_new_memory(3);
    char sid[32];
    for (int i = 0; i < 5; i++) {
        snprintf(sid, sizeof sid, "se_%d", i);
        af_route_store_put(rs, sid, "ag", "u");
    }
    assert_int_equal(af_route_store_count(rs), 3);
    assert_false(s_get(rs, "se_0").found);
    assert_false(s_get(rs, "se_1").found);
    assert_true(s_get(rs, "se_2").found);
    assert_true(s_get(rs, "se_4").found);
    /* Many sessions, then teardown with routes left (no leak under valgrind). */
    af_route_store_destroy(&rs);
    rs = af_route_store_new_memory(10000);
    for (int i = 0; i < 20000; i++) {
        snprintf(sid, sizeof sid, "se_%d", i);
        af_route_store_put(rs, sid, "ag", "u");
    }
    assert_int_equal(af_route_store_count(rs), 10000);
    assert_true(s_get(rs, "se_19999").found);
    assert_false(s_get(rs, "se_9999").found);
    af_route_store_destroy(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_overwrite_del),
        cmocka_unit_test(test_bound_drops_oldest),
    };
    return cmocka_run_group_tests_name("gateway_route_store", tests, NULL, NULL);
}
