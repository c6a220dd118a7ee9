/* Route table: literal and captured segments, 404 for unknown paths, 405 with
 * the Allow list for a known path under another method, HEAD as GET. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/routes.h"

#include <string.h>

static const af_route_t T[] = {
    {"/v1/agents", AF_M_POST, 1},          {"/v1/agents", AF_M_GET, 2},
    {"/v1/agents/spawn", AF_M_POST, 3},    {"/v1/agents/delete", AF_M_DELETE, 4},
    {"/v1/agents/{id}", AF_M_GET, 5},      {"/v1/agents/{id}", AF_M_DELETE, 6},
    {"/v1/agents/{id}/chat", AF_M_POST, 7}, {"/healthz", AF_M_GET, 8},
    {NULL, 0, 0},
};

static void test_literals_and_captures(void **state)
{
    (void)state;
    af_route_match_t m;
    assert_int_equal(af_routes_match(T, "/v1/agents", AF_M_GET, &m), AF_ROUTE_FOUND);
    assert_int_equal(m.route->id, 2);
    assert_int_equal(af_routes_match(T, "/v1/agents/spawn", AF_M_POST, &m), AF_ROUTE_FOUND);
    assert_int_equal(m.route->id, 3);
    assert_int_equal(af_routes_match(T, "/v1/agents/ag_1", AF_M_DELETE, &m), AF_ROUTE_FOUND);
    assert_int_equal(m.route->id, 6);
    assert_string_equal(m.params[0], "ag_1");
    assert_int_equal(af_routes_match(T, "/v1/agents/ag_2/chat", AF_M_POST, &m), AF_ROUTE_FOUND);
    assert_int_equal(m.route->id, 7);
    assert_string_equal(m.params[0], "ag_2");
    assert_int_equal(af_routes_match(T, "/v1/agents/delete", AF_M_DELETE, &m), AF_ROUTE_FOUND);
    assert_int_equal(m.route->id, 4);
    assert_int_equal(af_routes_match(T, "/healthz", AF_M_HEAD, &m), AF_ROUTE_FOUND);
}

static void test_not_found(void **state)
{
    (void)state;
    af_route_match_t m;
    const char *paths[] = {"/", "", "/v1", "/v1/agent", "/v1/agents/", "/v1/agents//chat",
                           "/v1/agents/a/chat/x", "/healthz/", "//healthz", "v1/agents", NULL};
    for (int i = 0; paths[i]; i++)
        assert_int_equal(af_routes_match(T, paths[i], AF_M_GET, &m), AF_ROUTE_NOT_FOUND);
    assert_int_equal(af_routes_match(T, NULL, AF_M_GET, &m), AF_ROUTE_NOT_FOUND);
}

static void test_wrong_method_lists_allow(void **state)
{
    (void)state;
    af_route_match_t m;
    assert_int_equal(af_routes_match(T, "/v1/agents", AF_M_PUT, &m), AF_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "GET, POST");
    assert_int_equal(af_routes_match(T, "/v1/agents/x/chat", AF_M_GET, &m), AF_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "POST");
    assert_int_equal(af_routes_match(T, "/healthz", AF_M_POST, &m), AF_ROUTE_BAD_METHOD);
    assert_string_equal(m.allow, "GET");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals_and_captures),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_wrong_method_lists_allow),
    };
    return cmocka_run_group_tests_name("gateway_routes", tests, NULL, NULL);
}
