/* Log lines: key=value shape, levels, one line per event, secrets scrubbed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int s_pipe[2];

static int s_setup(void **state)
{
    (void)state;
    if (pipe(s_pipe) < 0)
        return -1;
    af_log_init("testd", AF_LOG_INFO);
    af_log_set_fd(s_pipe[1]);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    af_log_set_fd(2);
    af_log_clear_secrets();
    close(s_pipe[0]);
    close(s_pipe[1]);
    return 0;
}

static void s_read(char *buf, size_t len)
{
    ssize_t n = read(s_pipe[0], buf, len - 1);
    assert_true(n > 0);
    buf[n] = '\0';
}

static void test_shape(void **state)
{
    (void)state;
    char buf[4096];
    af_info("event=spawn agent=%s n=%d", "ag_1", 3);
    s_read(buf, sizeof buf);
    assert_non_null(strstr(buf, "level=info daemon=testd pid="));
    assert_non_null(strstr(buf, "fn=test_shape event=spawn agent=ag_1 n=3\n"));
    assert_true(strncmp(buf, "ts=20", 5) == 0);
    assert_int_equal(strchr(buf, '\n') - buf, (long)strlen(buf) - 1);
}

static void test_levels_and_newlines(void **state)
{
    (void)state;
    char buf[4096];
    af_debug("event=hidden");
    af_warn("event=multi text=\"a\nb\"");
    s_read(buf, sizeof buf);
    assert_null(strstr(buf, "hidden"));
    assert_non_null(strstr(buf, "level=warn"));
    assert_non_null(strstr(buf, "text=\"a b\""));
    af_log_level_t lv;
    assert_int_equal(af_log_level_parse("debug", &lv), 0);
    assert_int_equal(lv, AF_LOG_DEBUG);
    assert_int_equal(af_log_level_parse("loud", &lv), -1);
}

static void test_secrets(void **state)
{
    (void)state;
    char buf[4096];
    const char *key = "sk-ant-api03-SECRETSECRETSECRET";
    af_log_add_secret(key);
    af_error("event=oops header=\"x-api-key: %s\" again=%s", key, key);
    s_read(buf, sizeof buf);
    assert_null(strstr(buf, "SECRETSECRET"));
    assert_non_null(strstr(buf, "x-api-key: [redacted]\" again=[redacted]"));
    char r[64];
    af_redact(key, r, sizeof r);
    assert_null(strstr(r, "SECRET"));
    assert_non_null(strstr(r, "len=31"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_levels_and_newlines),
        cmocka_unit_test(test_secrets),
    };
    return cmocka_run_group_tests_name("log", tests, s_setup, s_teardown);
}
