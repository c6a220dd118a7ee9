/* Placement: named agent if owned (or admin), else least-loaded ready pool agent
 * with room; errors carry the protocol code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/placement.h"

#include <string.h>

static const af_spec_t s_spec = {1, 512, "agentd:latest"};

static af_agent_t *s_add(af_registry_t *r, const char *id, const char *owner,
                         af_agent_state_t st, int sessions)
{
    af_agent_t *a = af_registry_add(r, id, owner, &s_spec, st, 100, 1);
    assert_non_null(a);
    a->sessions = sessions;
    return a;
}

static void test_least_loaded_pool(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    s_add(r, "p1", "pool", AF_AGENT_READY, 40);
    af_agent_t *p2 = s_add(r, "p2", "pool", AF_AGENT_READY, 10);
    s_add(r, "p3", "pool", AF_AGENT_SPAWNING, 0);  /* not ready */
    s_add(r, "p4", "pool", AF_AGENT_DRAINING, 0);  /* leaving */
    s_add(r, "u1", "alice", AF_AGENT_READY, 0);    /* not pool */
    const char *code = NULL;
    char err[256];
    assert_ptr_equal(af_placement_pick(r, "bob", false, NULL, &code, err, sizeof err), p2);
    assert_ptr_equal(af_placement_pick(r, "bob", false, "", &code, err, sizeof err), p2);
    p2->sessions = 100; /* full */
    af_agent_t *got = af_placement_pick(r, "bob", false, NULL, &code, err, sizeof err);
    assert_string_equal(got->id, "p1");
    got->sessions = 100;
    assert_null(af_placement_pick(r, "bob", false, NULL, &code, err, sizeof err));
    assert_string_equal(code, "capacity");
    af_registry_destroy(&r);
}

static void test_named_agent(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    af_agent_t *u1 = s_add(r, "u1", "alice", AF_AGENT_READY, 3);
    s_add(r, "u2", "alice", AF_AGENT_DRAINING, 0);
    s_add(r, "p1", "pool", AF_AGENT_READY, 0);
    const char *code = NULL;
    char err[256];
    assert_ptr_equal(af_placement_pick(r, "alice", false, "u1", &code, err, sizeof err), u1);
    /* Another user's agent is not found (no leak), admin may use it. */
    assert_null(af_placement_pick(r, "bob", false, "u1", &code, err, sizeof err));
    assert_string_equal(code, "not_found");
    assert_ptr_equal(af_placement_pick(r, "root", true, "u1", &code, err, sizeof err), u1);
    assert_null(af_placement_pick(r, "alice", false, "nope", &code, err, sizeof err));
    assert_string_equal(code, "not_found");
    assert_null(af_placement_pick(r, "alice", false, "u2", &code, err, sizeof err));
    assert_string_equal(code, "draining");
    u1->sessions = 100;
    assert_null(af_placement_pick(r, "alice", false, "u1", &code, err, sizeof err));
    assert_string_equal(code, "capacity");
    af_registry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_least_loaded_pool),
        cmocka_unit_test(test_named_agent),
    };
    return cmocka_run_group_tests_name("manager_placement", tests, NULL, NULL);
}
