/* Per-user quotas: the 51st agent is refused; dead agents and other users'
 * agents do not count; spawning ones do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/quota.h"

#include <stdio.h>
#include <string.h>

static const af_spec_t s_spec = {1, 512, "agentd:latest"};

static void test_fifty_then_refused(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    char err[256], id[32];
    for (int i = 0; i < 50; i++) {
        assert_int_equal(af_quota_check(r, "alice", 1, 50, err, sizeof err), 0);
        snprintf(id, sizeof id, "ag_%d", i);
        assert_non_null(af_registry_add(r, id, "alice", &s_spec,
                                        i % 2 ? AF_AGENT_READY : AF_AGENT_SPAWNING, 100, 1));
    }
    assert_int_equal(af_quota_check(r, "alice", 1, 50, err, sizeof err), -1);
    assert_non_null(strstr(err, "quota of 50"));
    /* Another user is unaffected. */
    assert_int_equal(af_quota_check(r, "bob", 50, 50, err, sizeof err), 0);
    assert_int_equal(af_quota_check(r, "bob", 51, 50, err, sizeof err), -1);
    /* A dead agent frees its slot. */
    af_agent_t *a = af_registry_get(r, "ag_3");
    af_registry_apply(r, a, AF_AGENT_EV_EXPIRE, 5);
    assert_int_equal(af_quota_check(r, "alice", 1, 50, err, sizeof err), 0);
    assert_int_equal(af_quota_check(r, "alice", 2, 50, err, sizeof err), -1);
    af_registry_destroy(&r);
}

static void test_configurable_and_batches(void **state)
{
    (void)state;
    af_registry_t *r = af_registry_new();
    char err[256];
    assert_int_equal(af_quota_check(r, "carol", 3, 3, err, sizeof err), 0);
    assert_int_equal(af_quota_check(r, "carol", 4, 3, err, sizeof err), -1);
    assert_int_equal(af_quota_check(r, "carol", 1, 0, err, sizeof err), -1);
    af_registry_destroy(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifty_then_refused),
        cmocka_unit_test(test_configurable_and_batches),
    };
    return cmocka_run_group_tests_name("manager_quota", tests, NULL, NULL);
}
