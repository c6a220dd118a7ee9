/* Configuration precedence (flag > daemon env > generic env > file > default),
 * help/version/check-config, and clear refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static char *s_listen;
static char *s_key;
static long s_port;
static double s_ratio;
static bool s_flag;

static af_opt_t s_opts[] = {
    {"listen", AF_OPT_STR, &s_listen, "127.0.0.1:1", "where to listen", false},
    {"api-key", AF_OPT_STR, &s_key, NULL, "a secret", true},
    {"port", AF_OPT_INT, &s_port, "10", "a number", false},
    {"ratio", AF_OPT_DOUBLE, &s_ratio, "0.5", "a ratio", false},
    {"verbose", AF_OPT_BOOL, &s_flag, "false", "a flag", false},
    {NULL, 0, NULL, NULL, NULL, false},
};

/* Each load starts from freed strings, as the contract asks. */
static int s_load(int argc, char **argv)
{
    af_config_free(s_opts);
    return af_config_load(s_opts, "testd", "test", argc, argv);
}

static void s_clear_env(void)
{
    unsetenv("AF_LISTEN");
    unsetenv("AF_TESTD_LISTEN");
    unsetenv("AF_PORT");
    unsetenv("AF_CONFIG");
    unsetenv("AF_VERBOSE");
}

static void test_defaults(void **state)
{
    (void)state;
    s_clear_env();
    char *argv[] = {"testd", NULL};
    assert_int_equal(s_load(1, argv), AF_CONFIG_RUN);
    assert_string_equal(s_listen, "127.0.0.1:1");
    assert_string_equal(s_key, "");
    assert_int_equal(s_port, 10);
    assert_true(s_ratio == 0.5);
    assert_false(s_flag);
    af_config_free(s_opts);
    assert_null(s_listen);
}

static void test_precedence(void **state)
{
    (void)state;
    s_clear_env();
    char path[] = "/tmp/af-config-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "# comment\nlisten = file:1\nport = 20\nratio=\"0.25\"\nverbose = yes\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *argv1[] = {"testd", "--config", path, NULL};
    assert_int_equal(s_load(3, argv1), AF_CONFIG_RUN);
    assert_string_equal(s_listen, "file:1");
    assert_int_equal(s_port, 20);
    assert_true(s_ratio == 0.25);
    assert_true(s_flag);
    setenv("AF_LISTEN", "env:1", 1);
    setenv("AF_PORT", "30", 1);
    assert_int_equal(s_load(3, argv1), AF_CONFIG_RUN);
    assert_string_equal(s_listen, "env:1");
    assert_int_equal(s_port, 30);
    setenv("AF_TESTD_LISTEN", "daemonenv:1", 1);
    assert_int_equal(s_load(3, argv1), AF_CONFIG_RUN);
    assert_string_equal(s_listen, "daemonenv:1");
    char *argv2[] = {"testd", "--config", path, "--listen", "flag:1", "--port=40", "--no-verbose", NULL};
    assert_int_equal(s_load(7, argv2), AF_CONFIG_RUN);
    assert_string_equal(s_listen, "flag:1");
    assert_int_equal(s_port, 40);
    assert_false(s_flag);
    setenv("AF_CONFIG", path, 1);
    char *argv3[] = {"testd", NULL};
    assert_int_equal(s_load(1, argv3), AF_CONFIG_RUN);
    assert_int_equal(s_port, 30); /* env still beats the file named by AF_CONFIG */
    s_clear_env();
    af_config_free(s_opts);
    unlink(path);
}

static void test_refusals(void **state)
{
    (void)state;
    s_clear_env();
    char *a1[] = {"testd", "--nope", "1", NULL};
    assert_int_equal(s_load(3, a1), -1);
    af_config_free(s_opts);
    char *a2[] = {"testd", "--port", "12x", NULL};
    assert_int_equal(s_load(3, a2), -1);
    af_config_free(s_opts);
    char *a3[] = {"testd", "--listen", NULL};
    assert_int_equal(s_load(2, a3), -1);
    af_config_free(s_opts);
    char *a4[] = {"testd", "--config", "/nonexistent/af.conf", NULL};
    assert_int_equal(s_load(3, a4), -1);
    af_config_free(s_opts);
    char *a5[] = {"testd", "stray", NULL};
    assert_int_equal(s_load(2, a5), -1);
    af_config_free(s_opts);
    setenv("AF_PORT", "many", 1);
    char *a6[] = {"testd", NULL};
    assert_int_equal(s_load(1, a6), -1);
    af_config_free(s_opts);
    s_clear_env();
    af_config_free(s_opts);
}

static void test_help_version_check(void **state)
{
    (void)state;
    s_clear_env();
    fflush(stdout);
    int saved = dup(1);
    int devnull = open("/dev/null", O_WRONLY);
    dup2(devnull, 1);
    char *a1[] = {"testd", "--help", NULL};
    int rc1 = s_load(2, a1);
    char *a2[] = {"testd", "--version", NULL};
    int rc2 = s_load(2, a2);
    fflush(stdout);
    dup2(saved, 1);
    close(devnull);
    close(saved);
    assert_int_equal(rc1, AF_CONFIG_EXIT_OK);
    assert_int_equal(rc2, AF_CONFIG_EXIT_OK);
    char *a3[] = {"testd", "--check-config", "--port", "7", NULL};
    assert_int_equal(s_load(4, a3), AF_CONFIG_CHECK);
    assert_int_equal(s_port, 7);
    af_config_free(s_opts);
}

static void test_hostport(void **state)
{
    (void)state;
    char host[256];
    int port;
    assert_int_equal(af_config_hostport("127.0.0.1:8080", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(af_config_hostport(":9101", host, sizeof host, &port), 0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(af_config_hostport("[::1]:80", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(af_config_hostport("nocolon", host, sizeof host, &port), -1);
    assert_int_equal(af_config_hostport("h:99999", host, sizeof host, &port), -1);
    assert_int_equal(af_config_hostport("h:", host, sizeof host, &port), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),         cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_refusals),         cmocka_unit_test(test_help_version_check),
        cmocka_unit_test(test_hostport),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
