/* Registry and the lifecycle table: add/get/remove, counts by state and owner,
 * allowed and forbidden transitions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/registry.h"

#include <string.h>

static const af_spec_t s_spec = {1, 512, "agentd:latest"};

static void test_add_get_remove(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    af_agent_t *a = af_registry_add(r, "ag_1", "alice", &s_spec, AF_AGENT_SPAWNING, 100, 1);
    assert_non_null(a);
    assert_ptr_equal(af_registry_get(r, "ag_1"), a);
    assert_null(af_registry_add(r, "ag_1", "bob", &s_spec, AF_AGENT_SPAWNING, 100, 1));
    assert_null(af_registry_add(r, "bad id", "bob", &s_spec, AF_AGENT_SPAWNING, 100, 1));
    assert_null(af_registry_add(r, "ag_2", "", &s_spec, AF_AGENT_SPAWNING, 100, 1));
    assert_null(af_registry_add(r, "ag_2", "bob", &s_spec, AF_AGENT_DEAD, 100, 1));
    af_agent_t *b = af_registry_add(r, "ag_2", "bob", &s_spec, AF_AGENT_READY, 100, 1);
    af_agent_t *c = af_registry_add(r, "ag_3", "alice", &s_spec, AF_AGENT_READY, 100, 1);
    assert_int_equal(af_registry_size(r), 3);
    assert_int_equal(af_registry_count(r, AF_AGENT_READY), 2);
    assert_int_equal(af_registry_count_owner(r, "alice"), 2);
    /* Insertion order. */
    assert_ptr_equal(af_registry_first(r), a);
    assert_ptr_equal(af_registry_next(a), b);
    assert_ptr_equal(af_registry_next(b), c);
    af_registry_remove(r, b);
    assert_null(af_registry_get(r, "ag_2"));
    assert_ptr_equal(af_registry_next(a), c);
    assert_int_equal(af_registry_count(r, AF_AGENT_READY), 1);
    af_registry_destroy(&r);
    assert_null(r);
    af_registry_destroy(&r); /* NULL-safe */
}

static void test_lifecycle_table(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    af_agent_t *a = af_registry_add(r, "ag_1", "alice", &s_spec, AF_AGENT_SPAWNING, 100, 1);
    assert_int_equal(af_registry_apply(r, a, AF_AGENT_EV_REGISTER, 2), 0);
    assert_int_equal(a->state, AF_AGENT_READY);
    assert_int_equal(af_registry_apply(r, a, AF_AGENT_EV_REGISTER, 3), 0); /* re-register */
    assert_int_equal(a->state, AF_AGENT_READY);
    assert_int_equal(af_registry_apply(r, a, AF_AGENT_EV_DRAIN, 4), 0);
    assert_int_equal(a->state, AF_AGENT_DRAINING);
    /* A draining agent that re-registers keeps draining. */
    assert_int_equal(af_registry_apply(r, a, AF_AGENT_EV_REGISTER, 5), 0);
    assert_int_equal(a->state, AF_AGENT_DRAINING);
    assert_int_equal(af_registry_apply(r, a, AF_AGENT_EV_BYE, 6), 0);
    assert_int_equal(a->state, AF_AGENT_DEAD);
    assert_int_equal(a->dead_ns, 6);
    /* Dead is final. */
    for (int ev = 0; ev < AF_AGENT_EV_COUNT; ev++)
        assert_int_equal(af_registry_apply(r, a, (af_agent_event_t)ev, 7), -1);
    assert_int_equal(a->state, AF_AGENT_DEAD);
    assert_int_equal(af_registry_count(r, AF_AGENT_DEAD), 1);
    assert_int_equal(af_registry_count(r, AF_AGENT_READY), 0);
    /* Dead agents do not count against the owner. */
    assert_int_equal(af_registry_count_owner(r, "alice"), 0);
    /* Every live state can die of every non-register event. */
    for (int s = 0; s < AF_AGENT_DEAD; s++) {
        assert_int_equal(af_agent_next_state((af_agent_state_t)s, AF_AGENT_EV_EXPIRE), AF_AGENT_DEAD);
        assert_int_equal(af_agent_next_state((af_agent_state_t)s, AF_AGENT_EV_DESTROY), AF_AGENT_DEAD);
    }
    assert_int_equal(af_agent_next_state(AF_AGENT_SPAWNING, AF_AGENT_EV_REGISTER), AF_AGENT_READY);
    assert_int_equal(af_agent_next_state((af_agent_state_t)9, AF_AGENT_EV_REGISTER), -1);
    af_registry_destroy(&r);
}

static void test_state_names_and_sessions(void **state)
{
    (void)state;
    af_agent_state_t st;
    assert_string_equal(af_agent_state_name(AF_AGENT_DRAINING), "draining");
    assert_int_equal(af_agent_state_parse("ready", &st), 0);
    assert_int_equal(st, AF_AGENT_READY);
    assert_int_equal(af_agent_state_parse("zombie", &st), -1);
    af_registry_t *r = af_registry_new();
    af_agent_t *a = af_registry_add(r, "ag_1", "pool", &s_spec, AF_AGENT_READY, 100, 1);
    af_agent_t *b = af_registry_add(r, "ag_2", "pool", &s_spec, AF_AGENT_SPAWNING, 100, 1);
    a->sessions = 7;
    b->sessions = 3; /* spawning agents hold no live sessions yet */
    assert_int_equal(af_registry_sessions(r), 7);
    /* Capacity counts ready agents only: a spawning or draining one takes no
     * new session. */
    af_agent_t *c = af_registry_add(r, "ag_3", "alice", &s_spec, AF_AGENT_READY, 40, 1);
    assert_int_equal(af_registry_capacity(r), 140);
    af_registry_apply(r, c, AF_AGENT_EV_DRAIN, 2);
    assert_int_equal(af_registry_capacity(r), 100);
    af_registry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_get_remove),
        cmocka_unit_test(test_lifecycle_table),
        cmocka_unit_test(test_state_names_and_sessions),
    };
    return cmocka_run_group_tests_name("manager_registry", tests, NULL, NULL);
}
