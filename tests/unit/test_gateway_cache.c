/* Response cache: the key ignores field order, whitespace and the string vs
 * text-block spelling of content, and changes with every field that changes
 * the answer (model, system, messages, max_tokens, temperature), the user
 * (unless shared) and the route; only temperature 0 is cacheable by default;
 * the memory store honours TTL and its byte bound (LRU), and its size is
 * exact: a store adds, a hit changes nothing, an overwrite replaces the old
 * size, an eviction or expiry subtracts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/cache.h"

#include <stdlib.h>
#include <string.h>

static void s_key(const char *json, const char *user, char hex[65])
{
    cJSON *j = cJSON_Parse(json);
    assert_non_null(j);
    assert_int_equal(af_cache_key(j, "/v1/messages", user, hex), 0);
    cJSON_Delete(j);
}

#define BASE                                                                                      \
    "{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":64,\"temperature\":0,"              \
    "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"

static void test_order_and_whitespace_do_not_matter(void **state)
{
    (void)state;
    char a[65], b[65], c[65];
    s_key(BASE, "alice", a);
    s_key("{ \"messages\" : [ { \"content\" : \"hi\" ,\"role\":\"user\"} ],\n\t\"temperature\":0.0,"
          "\"max_tokens\": 64, \"system\":\"be brief\", \"model\":\"m1\" }",
          "alice", b);
    assert_string_equal(a, b);
    s_key("{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":64,\"temperature\":0,"
          "\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"hi\",\"type\":\"text\"}]}]}",
          "alice", c);
    assert_string_equal(a, c);
    assert_int_equal(strlen(a), 64);
}

static void test_semantic_fields_change_the_key(void **state)
{
    (void)state;
    char base[65], k[65];
    s_key(BASE, "alice", base);
    const char *variants[] = {
        "{\"model\":\"m2\",\"system\":\"be brief\",\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m1\",\"system\":\"be long\",\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m1\",\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":65,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":64,\"temperature\":0.5,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi!\"}]}",
        "{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"assistant\",\"content\":\"hi\"}]}",
        "{\"model\":\"m1\",\"system\":\"be brief\",\"max_tokens\":64,\"temperature\":0,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"assistant\",\"content\":\"yo\"}]}",
    };
    for (size_t i = 0; i < sizeof variants / sizeof variants[0]; i++) {
        s_key(variants[i], "alice", k);
        if (!strcmp(k, base))
            fail_msg("variant %zu gives the same key", i);
    }
    s_key(BASE, "bob", k);
    assert_string_not_equal(k, base);
    s_key(BASE, NULL, k); /* shared route */
    assert_string_not_equal(k, base);
    cJSON *j = cJSON_Parse(BASE);
    assert_int_equal(af_cache_key(j, "/v1/other", "alice", k), 0);
    assert_string_not_equal(k, base);
    cJSON_Delete(j);
}

static void test_cacheable_only_at_temperature_zero(void **state)
{
    (void)state;
    cJSON *zero = cJSON_Parse("{\"temperature\":0}");
    cJSON *half = cJSON_Parse("{\"temperature\":0.5}");
    cJSON *none = cJSON_Parse("{}");
    assert_true(af_cache_cacheable(zero, false));
    assert_false(af_cache_cacheable(half, false));
    assert_false(af_cache_cacheable(none, false)); /* the API's default is 1.0 */
    assert_true(af_cache_cacheable(half, true));
    cJSON_Delete(zero);
    cJSON_Delete(half);
    cJSON_Delete(none);
}

static char s_got[256];
static int s_calls;
static void s_on_get(void *arg, const char *value, size_t len)
{
    (void)arg;
    s_calls++;
    if (value)
        snprintf(s_got, sizeof s_got, "%.*s", (int)len, value);
    else
        strcpy(s_got, "(miss)");
}

static void test_memory_store_ttl_and_lru(void **state)
{
    (void)state;
    af_cache_t *c = af_cache_new(NULL, 100, 10);
    af_cache_get(c, "k1", 1000, s_on_get, NULL);
    assert_string_equal(s_got, "(miss)");
    af_cache_put(c, "k1", "0123456789012345678901234567890123456789", 40, 1000);
    af_cache_get(c, "k1", 1000 + 9999, s_on_get, NULL);
    assert_string_equal(s_got, "0123456789012345678901234567890123456789");
    af_cache_get(c, "k1", 1000 + 10000, s_on_get, NULL); /* TTL over */
    assert_string_equal(s_got, "(miss)");
    assert_int_equal(af_cache_count(c), 0);
    /* Bytes bound: 3 x 40 > 100, the least recently used goes. */
    af_cache_put(c, "a", "0123456789012345678901234567890123456789", 40, 2000);
    af_cache_put(c, "b", "0123456789012345678901234567890123456789", 40, 2000);
    af_cache_get(c, "a", 2001, s_on_get, NULL); /* a is now newer than b */
    af_cache_put(c, "c", "0123456789012345678901234567890123456789", 40, 2002);
    af_cache_get(c, "b", 2003, s_on_get, NULL);
    assert_string_equal(s_got, "(miss)");
    af_cache_get(c, "a", 2003, s_on_get, NULL);
    assert_string_not_equal(s_got, "(miss)");
    assert_true(af_cache_bytes(c) <= 100);
    af_cache_put(c, "huge", "x", 101, 2004); /* larger than the whole cache: not kept */
    assert_int_equal(af_cache_count(c), 2);
    assert_int_equal(s_calls, 6); /* each get answers exactly once */
    af_cache_destroy(&c);
    assert_null(c);
}

static void test_memory_size_is_exact(void **state)
{
    (void)state;
    af_cache_t *c = af_cache_new(NULL, 100, 10);
    af_cache_put(c, "a", "0123456789012345678901234567890123456789", 40, 1000);
    assert_int_equal((long)af_cache_bytes(c), 40);
    af_cache_get(c, "a", 1500, s_on_get, NULL); /* a hit */
    assert_int_equal((long)af_cache_bytes(c), 40);
    af_cache_put(c, "a", "0123456789012345678901234567890", 30, 2000); /* overwrite */
    assert_int_equal((long)af_cache_bytes(c), 30);
    assert_int_equal(af_cache_count(c), 1);
    af_cache_put(c, "b", "0123456789012345678901234567890123456789", 40, 3000);
    af_cache_put(c, "c", "0123456789012345678901234567890123456789", 40, 4000); /* evicts a */
    assert_int_equal((long)af_cache_bytes(c), 80);
    af_cache_tick(c, 12999); /* a is gone, b (expires 13000) stays */
    assert_int_equal((long)af_cache_bytes(c), 80);
    af_cache_tick(c, 13000);
    assert_int_equal((long)af_cache_bytes(c), 40);
    af_cache_get(c, "c", 13500, s_on_get, NULL); /* a hit does not move its expiry */
    af_cache_tick(c, 14000);
    assert_int_equal((long)af_cache_bytes(c), 0);
    assert_int_equal(af_cache_count(c), 0);
    af_cache_get(c, "c", 14001, s_on_get, NULL);
    assert_string_equal(s_got, "(miss)");
    af_cache_destroy(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_whitespace_do_not_matter),
        cmocka_unit_test(test_semantic_fields_change_the_key),
        cmocka_unit_test(test_cacheable_only_at_temperature_zero),
        cmocka_unit_test(test_memory_store_ttl_and_lru),
        cmocka_unit_test(test_memory_size_is_exact),
    };
    return cmocka_run_group_tests_name("gateway_cache", tests, NULL, NULL);
}
