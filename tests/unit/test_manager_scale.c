/* Scale decisions: clamp to min..max, spawn the difference, drain idle then
 * least-loaded agents, never below what live sessions need. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/scale.h"

#include <stdio.h>

static const af_spec_t s_spec = {1, 512, "agentd:latest"};

static af_agent_t *s_add(af_registry_t *r, int i, const char *owner, af_agent_state_t st,
                         int sessions)
{
    char id[16];
    snprintf(id, sizeof id, "a%d", i);
    af_agent_t *a = af_registry_add(r, id, owner, &s_spec, st, 100, 1);
    a->sessions = sessions;
    return a;
}

static void test_scale_up_and_clamp(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    s_add(r, 0, "pool", AF_AGENT_READY, 0);
    s_add(r, 1, "pool", AF_AGENT_SPAWNING, 0);
    s_add(r, 2, "alice", AF_AGENT_READY, 0); /* user agents are not pool */
    af_scale_plan_t p;
    af_scale_plan(r, 5, 1, 10, 100, NULL, 0, &p);
    assert_int_equal(p.current, 2);
    assert_int_equal(p.target, 5);
    assert_int_equal(p.spawn, 3);
    af_scale_plan(r, 50, 1, 10, 100, NULL, 0, &p);
    assert_int_equal(p.target, 10);
    assert_int_equal(p.spawn, 8);
    af_scale_plan(r, 0, 3, 10, 100, NULL, 0, &p);
    assert_int_equal(p.target, 3);
    assert_int_equal(p.spawn, 1);
    af_registry_destroy(&r);
}

static void test_scale_down_idle_first(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    s_add(r, 0, "pool", AF_AGENT_READY, 30);
    af_agent_t *idle1 = s_add(r, 1, "pool", AF_AGENT_READY, 0);
    s_add(r, 2, "pool", AF_AGENT_READY, 50);
    af_agent_t *light = s_add(r, 3, "pool", AF_AGENT_READY, 5);
    af_agent_t *idle2 = s_add(r, 4, "pool", AF_AGENT_READY, 0);
    af_agent_t *drain[8];
    af_scale_plan_t p;
    af_scale_plan(r, 2, 0, 100, 100, drain, 8, &p);
    assert_int_equal(p.target, 2);
    assert_int_equal(p.spawn, 0);
    assert_int_equal(p.ndrain, 3);
    /* both idle agents first, then the lightest loaded */
    assert_true((drain[0] == idle1 && drain[1] == idle2) || (drain[0] == idle2 && drain[1] == idle1));
    assert_ptr_equal(drain[2], light);
    af_registry_destroy(&r);
}

static void test_never_below_session_need(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    for (int i = 0; i < 4; i++)
        s_add(r, i, "pool", AF_AGENT_READY, 90); /* 360 sessions: need 4 agents of 100 */
    af_agent_t *drain[8];
    af_scale_plan_t p;
    af_scale_plan(r, 1, 0, 100, 100, drain, 8, &p);
    assert_int_equal(p.target, 4);
    assert_int_equal(p.ndrain, 0);
    af_registry_destroy(&r);
    r = af_registry_new();
    for (int i = 0; i < 4; i++)
        s_add(r, i, "pool", AF_AGENT_READY, 40); /* 160 sessions: need 2 */
    af_scale_plan(r, 0, 0, 100, 100, drain, 8, &p);
    assert_int_equal(p.target, 2);
    assert_int_equal(p.ndrain, 2);
    af_registry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_up_and_clamp),
        cmocka_unit_test(test_scale_down_idle_first),
        cmocka_unit_test(test_never_below_session_need),
    };
    return cmocka_run_group_tests_name("manager_scale", tests, NULL, NULL);
}
