/* agent_requests_total{model,status}: outcomes are counted by model, and the
 * model label takes at most 16 distinct values (then "other"), since clients
 * name models; an absent model is "none". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../agentd/agent_metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double s_zero(void *arg)
{
    (void)arg;
    return 0;
}

static void test_requests_by_model_bounded(void **state)
{
    (void)state;
    af_metrics_t *reg = af_metrics_new();
    af_agent_metrics_t m;
    memset(&m, 0, sizeof m);
    assert_int_equal(af_agent_metrics_init(&m, reg, s_zero, s_zero, NULL), 0);
    af_agent_metrics_request(&m, "claude-3-5-haiku-20241022", "ok");
    af_agent_metrics_request(&m, "claude-3-5-haiku-20241022", "ok");
    af_agent_metrics_request(&m, "claude-3-5-haiku-20241022", "cancelled");
    af_agent_metrics_request(&m, NULL, "invalid_request");
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof name, "made-up-%d", i);
        af_agent_metrics_request(&m, name, "not_found_error");
    }
    assert_int_equal((int)af_metric_value(m.requests_by_model, "claude-3-5-haiku-20241022", "ok"), 2);
    assert_int_equal(
        (int)af_metric_value(m.requests_by_model, "claude-3-5-haiku-20241022", "cancelled"), 1);
    assert_int_equal((int)af_metric_value(m.requests_by_model, "none", "invalid_request"), 1);
    /* haiku took one of 16 slots: 15 made-up names got their own, 25 are "other". */
    assert_int_equal((int)af_metric_value(m.requests_by_model, "made-up-14", "not_found_error"), 1);
    assert_int_equal((int)af_metric_value(m.requests_by_model, "made-up-15", "not_found_error"), 0);
    assert_int_equal((int)af_metric_value(m.requests_by_model, "other", "not_found_error"), 25);
    char *text = af_metrics_render(reg);
    assert_non_null(strstr(text, "agent_requests_total{model=\"claude-3-5-haiku-20241022\",status=\"ok\"} 2"));
    size_t series = 0;
    for (const char *p = text; (p = strstr(p, "\nagent_requests_total{")); p++)
        series++;
    assert_int_equal(series, 3 + 15 + 1); /* haiku x2, none, 15 names, other */
    free(text);
    af_metrics_destroy(&reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests_by_model_bounded),
    };
    return cmocka_run_group_tests_name("agentd_agent_metrics", tests, NULL, NULL);
}
