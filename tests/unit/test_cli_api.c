/* fleetctl's outcome mapping: HTTP status -> exit code, and the error text a
 * user sees (gateway message and type, hints for 401/403/429, connection
 * failures naming FLEET_URL); a refused connection is a transport failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../cli/api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_exit_codes(void **state)
{
    (void)state;
    assert_int_equal(af_cli_exit_code(200), AF_CLI_OK);
    assert_int_equal(af_cli_exit_code(201), AF_CLI_OK);
    assert_int_equal(af_cli_exit_code(0), AF_CLI_UNAVAILABLE);
    assert_int_equal(af_cli_exit_code(400), AF_CLI_ERR);
    assert_int_equal(af_cli_exit_code(401), AF_CLI_AUTH);
    assert_int_equal(af_cli_exit_code(403), AF_CLI_AUTH);
    assert_int_equal(af_cli_exit_code(404), AF_CLI_NOT_FOUND);
    assert_int_equal(af_cli_exit_code(413), AF_CLI_ERR);
    assert_int_equal(af_cli_exit_code(429), AF_CLI_LIMITED);
    assert_int_equal(af_cli_exit_code(502), AF_CLI_UNAVAILABLE);
    assert_int_equal(af_cli_exit_code(529), AF_CLI_UNAVAILABLE);
}

static void s_text(long status, const char *body, double retry, char *out, size_t len)
{
    af_cli_resp_t r = {.status = status, .retry_after = retry};
    r.body = strdup(body);
    r.json = cJSON_Parse(body);
    af_cli_error_text("http://gw:8080", "agents spawn", &r, out, len);
    af_cli_resp_free(&r);
}

static void test_error_text(void **state)
{
    (void)state;
    char out[1024];
    s_text(400, "{\"type\":\"error\",\"error\":{\"type\":\"invalid_request_error\",\"message\":\"cores: must be an integer in 1..8\"}}", 0, out, sizeof out);
    assert_string_equal(out, "fleetctl: agents spawn: cores: must be an integer in 1..8 (HTTP 400 invalid_request_error)");
    s_text(401, "{\"type\":\"error\",\"error\":{\"type\":\"authentication_error\",\"message\":\"invalid token: token expired\"}}", 0, out, sizeof out);
    assert_non_null(strstr(out, "invalid token: token expired (HTTP 401 authentication_error)\n  set FLEET_TOKEN"));
    s_text(403, "{\"type\":\"error\",\"error\":{\"type\":\"permission_error\",\"message\":\"scaling needs the admin role\"}}", 0, out, sizeof out);
    assert_non_null(strstr(out, "--role admin"));
    s_text(403, "{\"type\":\"error\",\"error\":{\"type\":\"permission_error\",\"message\":\"quota of 50 agents reached\"}}", 0, out, sizeof out);
    assert_null(strstr(out, "--role admin")); /* a quota is not a role problem */
    s_text(429, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"rate limit exceeded (ip)\"}}", 3, out, sizeof out);
    assert_non_null(strstr(out, "(HTTP 429 rate_limit_error)\n  retry after 3 s"));
    s_text(502, "Bad Gateway", 0, out, sizeof out); /* not JSON: the body is shown */
    assert_string_equal(out, "fleetctl: agents spawn: Bad Gateway (HTTP 502 error)");
    af_cli_resp_t r = {.status = 0};
    strcpy(r.err, "http://gw:8080/v1/agents: Couldn't connect to server");
    af_cli_error_text("http://gw:8080", "agents list", &r, out, sizeof out);
    assert_non_null(strstr(out, "cannot reach the gateway: http://gw:8080/v1/agents: Couldn't connect"));
    assert_non_null(strstr(out, "FLEET_URL=http://gw:8080"));
    strcpy(r.err, "https://gw:8443/v1/stats: SSL peer certificate or SSH remote key was not OK");
    af_cli_error_text("https://gw:8443", "stats", &r, out, sizeof out);
    assert_non_null(strstr(out, "pass --cacert FILE, or -k"));
    assert_null(strstr(out, "is it running"));
}

static void test_connection_refused(void **state)
{
    (void)state;
    /* A port nobody listens on: bind, read the port, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    af_cli_t cli = {.url = url, .token = "t", .timeout_s = 5};
    af_cli_resp_t r;
    assert_int_equal(af_cli_api_call(&cli, "GET", "/v1/stats", NULL, &r), -1);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.err, "/v1/stats"));
    assert_int_equal(af_cli_exit_code(r.status), AF_CLI_UNAVAILABLE);
    af_cli_resp_free(&r);
    af_cli_t none = {.url = url};
    assert_int_equal(af_cli_need_token(&none), -1);
    assert_int_equal(af_cli_need_token(&cli), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exit_codes),
        cmocka_unit_test(test_error_text),
        cmocka_unit_test(test_connection_refused),
    };
    return cmocka_run_group_tests_name("cli_api", tests, NULL, NULL);
}
