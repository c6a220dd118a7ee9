/* Heartbeat expiry: 3 missed intervals = overdue; spawning agents get the spawn
 * timeout instead; dead agents are never reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/health.h"

#define MS 1000000ULL

static const af_spec_t s_spec = {1, 512, "agentd:latest"};

static void test_three_missed_heartbeats(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    af_agent_t *a = af_registry_add(r, "a", "pool", &s_spec, AF_AGENT_READY, 100, 1000 * MS);
    /* heartbeat 1000 ms: silent 2999 ms is fine, 3001 ms is dead. */
    assert_int_equal(af_health_check(a, 3999 * MS, 1000, 30000), AF_HEALTH_OK);
    assert_int_equal(af_health_check(a, 4001 * MS, 1000, 30000), AF_HEALTH_SILENT);
    a->last_seen_ns = 3500 * MS; /* a heartbeat arrived */
    assert_int_equal(af_health_check(a, 4001 * MS, 1000, 30000), AF_HEALTH_OK);
    /* Draining agents still must heartbeat. */
    af_registry_apply(r, a, AF_AGENT_EV_DRAIN, 0);
    assert_int_equal(af_health_check(a, 7000 * MS, 1000, 30000), AF_HEALTH_SILENT);
    af_registry_apply(r, a, AF_AGENT_EV_EXPIRE, 0);
    assert_int_equal(af_health_check(a, 99999 * MS, 1000, 30000), AF_HEALTH_OK);
    af_registry_destroy(&r);
}

static void test_spawn_timeout(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    af_agent_t *s = af_registry_add(r, "s", "alice", &s_spec, AF_AGENT_SPAWNING, 100, 0);
    assert_int_equal(af_health_check(s, 29000 * MS, 1000, 30000), AF_HEALTH_OK);
    assert_int_equal(af_health_check(s, 30001 * MS, 1000, 30000), AF_HEALTH_SPAWN_TIMEOUT);
    af_registry_add(r, "ok", "alice", &s_spec, AF_AGENT_READY, 100, 30000 * MS);
    af_agent_t *quiet = af_registry_add(r, "q", "bob", &s_spec, AF_AGENT_READY, 100, 0);
    af_agent_t *out[4];
    af_health_t why[4];
    size_t n = af_health_overdue(r, 30001 * MS, 1000, 30000, out, why, 4);
    assert_int_equal(n, 2);
    assert_ptr_equal(out[0], s);
    assert_int_equal(why[0], AF_HEALTH_SPAWN_TIMEOUT);
    assert_ptr_equal(out[1], quiet);
    assert_int_equal(why[1], AF_HEALTH_SILENT);
    assert_int_equal(af_health_overdue(r, 30001 * MS, 1000, 30000, out, why, 1), 1);
    af_registry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_missed_heartbeats),
        cmocka_unit_test(test_spawn_timeout),
    };
    return cmocka_run_group_tests_name("manager_health", tests, NULL, NULL);
}
