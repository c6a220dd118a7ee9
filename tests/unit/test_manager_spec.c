/* Resource validation: defaults, limits, allow-list, field named in errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../manager/spec.h"

#include <string.h>

static af_spec_limits_t s_lim(const char *images)
{
    af_spec_limits_t l;
    assert_int_equal(af_spec_limits_init(&l, images), 0);
    return l;
}

static int s_parse(const af_spec_limits_t *l, const char *json, af_spec_t *out, char *err)
{
    cJSON *j = json ? cJSON_Parse(json) : NULL;
    int rc = af_spec_parse(j, l, out, err, 256);
    cJSON_Delete(j);
    return rc;
}

static void test_defaults(void **state)
{
    (void)state;
    af_spec_limits_t l = s_lim(NULL);
    af_spec_t s;
    char err[256];
    assert_int_equal(s_parse(&l, NULL, &s, err), 0);
    assert_int_equal(s.cores, 1);
    assert_int_equal(s.memory_mb, 512);
    assert_string_equal(s.image, "agentd:latest");
    assert_int_equal(s_parse(&l, "{\"cores\":4}", &s, err), 0);
    assert_int_equal(s.cores, 4);
    assert_int_equal(s.memory_mb, 512);
}

static void test_limits_name_the_field(void **state)
{
    (void)state;
    af_spec_limits_t l = s_lim("agentd:latest,agentd:big");
    af_spec_t s;
    char err[256];
    assert_int_equal(s_parse(&l, "{\"cores\":0}", &s, err), -1);
    assert_non_null(strstr(err, "spec.cores"));
    assert_int_equal(s_parse(&l, "{\"cores\":9}", &s, err), -1);
    assert_non_null(strstr(err, "spec.cores"));
    assert_int_equal(s_parse(&l, "{\"cores\":1.5}", &s, err), -1);
    assert_non_null(strstr(err, "spec.cores"));
    assert_int_equal(s_parse(&l, "{\"cores\":\"2\"}", &s, err), -1);
    assert_int_equal(s_parse(&l, "{\"memory_mb\":511}", &s, err), -1);
    assert_non_null(strstr(err, "spec.memory_mb"));
    assert_int_equal(s_parse(&l, "{\"memory_mb\":16385}", &s, err), -1);
    assert_non_null(strstr(err, "spec.memory_mb"));
    assert_int_equal(s_parse(&l, "{\"image\":\"evil:1\"}", &s, err), -1);
    assert_non_null(strstr(err, "spec.image"));
    assert_int_equal(s_parse(&l, "{\"image\":\"\"}", &s, err), -1);
    assert_int_equal(s_parse(&l, "[1]", &s, err), -1);
    assert_non_null(strstr(err, "spec must be an object"));
    /* Edges are allowed. */
    assert_int_equal(s_parse(&l, "{\"cores\":8,\"memory_mb\":16384,\"image\":\"agentd:big\"}", &s, err), 0);
    assert_int_equal(s_parse(&l, "{\"cores\":1,\"memory_mb\":512}", &s, err), 0);
}

static void test_allow_list(void **state)
{
    (void)state;
    af_spec_limits_t l;
    assert_int_equal(af_spec_limits_init(&l, " a:1 , b:2 "), 0);
    assert_int_equal((int)l.nimages, 2);
    assert_string_equal(l.images[0], "a:1");
    assert_string_equal(l.images[1], "b:2");
    assert_int_equal(af_spec_limits_init(&l, "a,,b"), -1);
    af_spec_t s = {2, 1024, "b:2"};
    char err[256];
    assert_int_equal(af_spec_check(&s, &(af_spec_limits_t){0}, err, sizeof err), -1);
    af_spec_limits_init(&l, "a:1,b:2");
    assert_int_equal(af_spec_check(&s, &l, err, sizeof err), 0);
    cJSON *j = af_spec_to_json(&s);
    assert_int_equal(cJSON_GetObjectItem(j, "memory_mb")->valueint, 1024);
    cJSON_Delete(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_limits_name_the_field),
        cmocka_unit_test(test_allow_list),
    };
    return cmocka_run_group_tests_name("manager_spec", tests, NULL, NULL);
}
