/* Metric sources and actuator without sockets: the Prometheus response parser
 * and query URL, the STATS body reader, the SCALE body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../autoscaler/actuator.h"
#include "../../autoscaler/source_manager.h"
#include "../../autoscaler/source_prometheus.h"

#include <string.h>

static int s_prom(const char *body, double *v, char *err)
{
    return af_prom_parse(body, strlen(body), v, err, 200);
}

static void test_prom_parse(void **state)
{
    (void)state;
    double v = -1;
    char err[200];
    assert_int_equal(s_prom("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":"
                            "[{\"metric\":{\"instance\":\"a\"},\"value\":[1712345678.1,\"1200\"]},"
                            "{\"metric\":{\"instance\":\"b\"},\"value\":[1712345678.1,\"34.5\"]}]}}",
                            &v, err),
                     0);
    assert_true(v == 1234.5);
    assert_int_equal(s_prom("{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":"
                            "[1,\"7\"]}}", &v, err), 0);
    assert_true(v == 7);
    assert_int_equal(s_prom("{\"status\":\"success\",\"data\":{\"resultType\":\"vector\","
                            "\"result\":[]}}", &v, err), 1);
    struct {
        const char *body, *why;
    } bad[] = {
        {"not json", "not JSON"},
        {"{}", "no status"},
        {"{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error at char 5\"}",
         "parse error at char 5"},
        {"{\"status\":\"success\"}", "no data"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}", "matrix"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"NaN\"]}]}}",
         "finite"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,\"+Inf\"]}]}}",
         "finite"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1,5]}]}}",
         "not a string"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[3]}}", "not an object"},
        {"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"value\":[1]}]}}",
         "[time, value]"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        if (s_prom(bad[i].body, &v, err) != -1 || !strstr(err, bad[i].why))
            fail_msg("case %zu: want -1 '%s', got '%s'", i, bad[i].why, err);
    }
}

static void test_prom_url(void **state)
{
    (void)state;
    char url[256];
    assert_int_equal(af_prom_url("http://127.0.0.1:9090/", "sum(rate(agent_requests_total[5m]))",
                                 url, sizeof url), 0);
    assert_string_equal(url, "http://127.0.0.1:9090/api/v1/query?query="
                             "sum%28rate%28agent_requests_total%5B5m%5D%29%29");
    assert_int_equal(af_prom_url("http://h", AF_PROM_Q_AGENTS, url, 20), -1);
}

static cJSON *s_json(const char *text)
{
    cJSON *j = cJSON_Parse(text);
    assert_non_null(j);
    return j;
}

static void test_stats_parse(void **state)
{
    (void)state;
    af_sample_t s;
    char err[160];
    cJSON *b = s_json("{\"req\":\"s1\",\"agents\":{\"spawning\":3,\"ready\":50,\"draining\":2,"
                      "\"dead\":0,\"total\":55},\"pool\":50,\"sessions\":7500,\"capacity\":5000,"
                      "\"utilization\":1.5,\"spawn_seconds\":{\"count\":4,\"p50\":1.2,\"p99\":3}}");
    assert_int_equal(af_source_manager_parse(b, &s, err, sizeof err), 0);
    assert_int_equal(s.ready, 50);
    assert_int_equal(s.spawning, 3);
    assert_int_equal(s.draining, 2);
    assert_int_equal(s.pool, 50);
    assert_true(s.sessions == 7500);
    assert_true(s.saturated);
    assert_true(s.rps < 0);
    cJSON_Delete(b);
    b = s_json("{\"req\":\"s1\",\"agents\":{\"spawning\":0,\"ready\":10,\"draining\":0},"
               "\"sessions\":400,\"utilization\":0.4}");
    assert_int_equal(af_source_manager_parse(b, &s, err, sizeof err), 0);
    assert_false(s.saturated);
    assert_int_equal(s.pool, -1); /* absent: unknown */
    cJSON_Delete(b);
    const char *bad[] = {
        "{\"req\":\"s\"}",
        "{\"req\":\"s\",\"agents\":[],\"sessions\":1}",
        "{\"req\":\"s\",\"agents\":{\"spawning\":0,\"ready\":-1,\"draining\":0},\"sessions\":1}",
        "{\"req\":\"s\",\"agents\":{\"spawning\":0,\"ready\":1,\"draining\":0},\"sessions\":\"9\"}",
        "{\"req\":\"s\",\"agents\":{\"spawning\":0,\"ready\":1e300,\"draining\":0},\"sessions\":1}",
    };
    const char *why[] = {"agents missing", "agents missing", "agents.ready", "sessions",
                         "agents.ready"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = s_json(bad[i]);
        if (af_source_manager_parse(b, &s, err, sizeof err) != -1 || !strstr(err, why[i]))
            fail_msg("case %zu: want '%s', got '%s'", i, why[i], err);
        cJSON_Delete(b);
    }
}

static void test_scale_body(void **state)
{
    (void)state;
    cJSON *b = af_actuator_body(75, "utilization_high: utilization 1.50");
    assert_non_null(b);
    char *text = cJSON_PrintUnformatted(b);
    assert_string_equal(text, "{\"target\":75,\"role\":\"admin\",\"reason\":\"utilization_high: "
                              "utilization 1.50\"}");
    cJSON_free(text);
    cJSON_Delete(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prom_parse),
        cmocka_unit_test(test_prom_url),
        cmocka_unit_test(test_stats_parse),
        cmocka_unit_test(test_scale_body),
    };
    return cmocka_run_group_tests_name("autoscaler_sources", tests, NULL, NULL);
}
