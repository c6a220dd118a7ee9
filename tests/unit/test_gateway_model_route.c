/* Model routing and the cost config it comes from: rules are data (first
 * match wins, else the routing default, else the gateway's default model);
 * conditions on prompt size, max_tokens and tools; allow-lists and ceilings
 * per role; per-user budgets; prices by prefix; bad files are refused naming
 * the field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/model_route.h"

#include <stdio.h>
#include <string.h>

#define CFG                                                                                        \
    "{\"max_tokens\":{\"user\":4096},"                                                             \
    "\"models\":{\"user\":[\"haiku-1\",\"sonnet-1\"],\"admin\":[\"*\"]},"                          \
    "\"budgets\":{\"default\":1000,\"users\":{\"bob\":60,\"carol\":0}},"                           \
    "\"routing\":{\"default\":\"sonnet-1\",\"rules\":["                                            \
    "{\"name\":\"short\",\"model\":\"haiku-1\",\"max_prompt_chars\":100,\"max_tokens\":1024,"      \
    "\"tools\":false},"                                                                            \
    "{\"name\":\"tools\",\"model\":\"sonnet-1\",\"tools\":true}]},"                                \
    "\"prices\":{\"haiku-1\":[1,5]}}"

static const char *s_pick(const af_cost_config_t *c, const char *body, const char **rule)
{
    cJSON *j = cJSON_Parse(body);
    assert_non_null(j);
    af_route_in_t in;
    af_model_route_measure(j, &in);
    cJSON_Delete(j);
    return af_model_route_pick(c, "fallback-model", &in, rule);
}

static void test_rules_first_match_wins(void **state)
{
    (void)state;
    af_cost_config_t c;
    af_cost_config_defaults(&c);
    char err[256];
    assert_int_equal(af_cost_config_parse(&c, CFG, err, sizeof err), 0);
    const char *rule;
    assert_string_equal(s_pick(&c, "{\"messages\":[{\"role\":\"user\",\"content\":\"short\"}],\"max_tokens\":100}", &rule), "haiku-1");
    assert_string_equal(rule, "short");
    /* No max_tokens: the agent's small default, still "short". */
    assert_string_equal(s_pick(&c, "{\"message\":\"hello\"}", &rule), "haiku-1");
    /* Too many tokens asked. */
    assert_string_equal(s_pick(&c, "{\"message\":\"hello\",\"max_tokens\":2000}", &rule), "sonnet-1");
    assert_string_equal(rule, "default");
    /* Prompt over 100 bytes, counting system and text blocks. */
    char big[400];
    snprintf(big, sizeof big, "{\"system\":\"%060d\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"%050d\"}]}]}", 0, 0);
    assert_string_equal(s_pick(&c, big, &rule), "sonnet-1");
    assert_string_equal(rule, "default");
    /* Tools: the short rule requires none; the tools rule matches. */
    assert_string_equal(s_pick(&c, "{\"message\":\"hi\",\"tools\":[{\"name\":\"x\"}]}", &rule), "sonnet-1");
    assert_string_equal(rule, "tools");
    af_cost_config_clear(&c);
}

static void test_defaults_without_rules(void **state)
{
    (void)state;
    af_cost_config_t c;
    af_cost_config_defaults(&c);
    const char *rule;
    assert_string_equal(s_pick(&c, "{\"message\":\"hi\"}", &rule), "fallback-model");
    assert_string_equal(rule, "default");
    assert_int_equal(c.max_tokens_ceiling[AF_ROLE_USER], 8192);
    assert_int_equal(c.max_tokens_ceiling[AF_ROLE_ADMIN], 200000);
    assert_true(af_cost_config_model_allowed(&c, AF_ROLE_USER, "anything"));
    assert_int_equal(af_cost_config_budget(&c, "alice"), 0);
    const af_cost_price_t *p = af_cost_config_price(&c, "claude-3-5-haiku-20241022");
    assert_non_null(p);
    assert_true(p->input_per_mtok > 0 && p->output_per_mtok > p->input_per_mtok);
    assert_null(af_cost_config_price(&c, "unknown-model"));
}

static void test_roles_budgets_prices(void **state)
{
    (void)state;
    af_cost_config_t c;
    af_cost_config_defaults(&c);
    char err[256];
    assert_int_equal(af_cost_config_parse(&c, CFG, err, sizeof err), 0);
    assert_int_equal(c.max_tokens_ceiling[AF_ROLE_USER], 4096);
    assert_int_equal(c.max_tokens_ceiling[AF_ROLE_ADMIN], 200000);
    assert_true(af_cost_config_model_allowed(&c, AF_ROLE_USER, "haiku-1"));
    assert_false(af_cost_config_model_allowed(&c, AF_ROLE_USER, "opus-1"));
    assert_true(af_cost_config_model_allowed(&c, AF_ROLE_ADMIN, "opus-1"));
    assert_int_equal(af_cost_config_budget(&c, "bob"), 60);
    assert_int_equal(af_cost_config_budget(&c, "carol"), 0); /* explicit unlimited */
    assert_int_equal(af_cost_config_budget(&c, "alice"), 1000);
    assert_true(af_cost_config_price(&c, "haiku-1")->output_per_mtok == 5);
    af_cost_config_clear(&c);
}

static void test_bad_configs_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } bad[] = {
        {"[]", "cost config"},
        {"{\"budget\":{}}", "budget: unknown key"},
        {"{\"max_tokens\":{\"user\":0}}", "max_tokens"},
        {"{\"max_tokens\":{\"guest\":10}}", "max_tokens"},
        {"{\"models\":{\"user\":\"haiku\"}}", "models"},
        {"{\"budgets\":{\"default\":-1}}", "budgets.default"},
        {"{\"budgets\":{\"users\":{\"bad user\":5}}}", "budgets.users"},
        {"{\"routing\":{\"rules\":[{\"max_tokens\":5}]}}", "routing.rules.0"},
        {"{\"routing\":{\"rules\":[{\"model\":\"m\",\"when\":1}]}}", "routing.rules.0"},
        {"{\"cache\":{\"ttl_s\":0}}", "cache.ttl_s"},
        {"{\"cache\":{\"routes\":{\"/v1/chat\":{\"enabled\":true}}}}", "cache.routes"},
        {"{\"prices\":{\"m\":[1]}}", "prices"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        af_cost_config_t c;
        af_cost_config_defaults(&c);
        char err[256] = "";
        if (af_cost_config_parse(&c, bad[i].json, err, sizeof err) != -1)
            fail_msg("accepted %s", bad[i].json);
        if (strncmp(err, bad[i].want, strlen(bad[i].want)) != 0)
            fail_msg("%s: error '%s' does not start with '%s'", bad[i].json, err, bad[i].want);
        /* A refused file leaves the defaults. */
        assert_int_equal(c.max_tokens_ceiling[AF_ROLE_USER], 8192);
        assert_int_equal(c.nrules, 0);
        af_cost_config_clear(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rules_first_match_wins),
        cmocka_unit_test(test_defaults_without_rules),
        cmocka_unit_test(test_roles_budgets_prices),
        cmocka_unit_test(test_bad_configs_name_the_field),
    };
    return cmocka_run_group_tests_name("gateway_model_route", tests, NULL, NULL);
}
