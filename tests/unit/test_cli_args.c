/* fleetctl option parsing: long/short/=value forms, booleans, positionals,
 * "--", help, and the errors a user sees; durations for --ttl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../cli/args.h"

#include <string.h>

typedef struct {
    const char *msg, *model;
    long n;
    bool flag, flag_seen, n_seen;
} opts_t;

static int s_parse(opts_t *o, af_args_t *a, char *err, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    const af_arg_t table[] = {
        {"message", 'm', AF_ARG_STR, &o->msg, NULL},
        {"model", 0, AF_ARG_STR, &o->model, NULL},
        {"count", 'n', AF_ARG_LONG, &o->n, &o->n_seen},
        {"no-stream", 0, AF_ARG_BOOL, &o->flag, &o->flag_seen},
        {NULL, 0, 0, NULL, NULL},
    };
    return af_args_parse(table, argc, argv, a, err, 256);
}

static void test_forms(void **state)
{
    (void)state;
    char *argv[] = {"ag_1", "-m", "hi there", "--model=claude-x", "--count", "3", "--no-stream",
                    "--", "--not-an-option"};
    opts_t o;
    af_args_t a;
    char err[256];
    assert_int_equal(s_parse(&o, &a, err, 9, argv), 0);
    assert_string_equal(o.msg, "hi there");
    assert_string_equal(o.model, "claude-x");
    assert_int_equal(o.n, 3);
    assert_true(o.n_seen);
    assert_true(o.flag && o.flag_seen);
    assert_int_equal(a.npos, 2);
    assert_string_equal(a.pos[0], "ag_1");
    assert_string_equal(a.pos[1], "--not-an-option");
    assert_false(a.help);
    char *h[] = {"-h"};
    assert_int_equal(s_parse(&o, &a, err, 1, h), 0);
    assert_true(a.help);
    /* "-" alone is a positional (stdin by convention) */
    char *dash[] = {"-"};
    assert_int_equal(s_parse(&o, &a, err, 1, dash), 0);
    assert_int_equal(a.npos, 1);
}

static void test_errors(void **state)
{
    (void)state;
    opts_t o;
    af_args_t a;
    char err[256];
    char *unknown[] = {"--colour"};
    assert_int_equal(s_parse(&o, &a, err, 1, unknown), -1);
    assert_string_equal(err, "unknown option --colour");
    char *unknown_eq[] = {"--colour=red"};
    assert_int_equal(s_parse(&o, &a, err, 1, unknown_eq), -1);
    assert_string_equal(err, "unknown option --colour");
    char *missing[] = {"--model"};
    assert_int_equal(s_parse(&o, &a, err, 1, missing), -1);
    assert_string_equal(err, "--model needs a value");
    char *nan[] = {"-n", "3x"};
    assert_int_equal(s_parse(&o, &a, err, 2, nan), -1);
    assert_string_equal(err, "--count: '3x' is not a whole number");
    char *boolval[] = {"--no-stream=yes"};
    assert_int_equal(s_parse(&o, &a, err, 1, boolval), -1);
    assert_string_equal(err, "--no-stream takes no value");
    char *shortunk[] = {"-z"};
    assert_int_equal(s_parse(&o, &a, err, 1, shortunk), -1);
    assert_string_equal(err, "unknown option -z");
    char *many[AF_ARGS_MAX_POS + 1];
    for (int i = 0; i <= AF_ARGS_MAX_POS; i++)
        many[i] = "x";
    assert_int_equal(s_parse(&o, &a, err, AF_ARGS_MAX_POS + 1, many), -1);
    assert_string_equal(err, "too many arguments");
}

static void test_duration(void **state)
{
    (void)state;
    long s = 0;
    assert_int_equal(af_args_duration("90", &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(af_args_duration("90s", &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(af_args_duration("15m", &s), 0);
    assert_int_equal(s, 900);
    assert_int_equal(af_args_duration("12h", &s), 0);
    assert_int_equal(s, 43200);
    assert_int_equal(af_args_duration("7d", &s), 0);
    assert_int_equal(s, 604800);
    assert_int_equal(af_args_duration("400d", &s), 0);
    const char *bad[] = {"", "0", "-5m", "1w", "5mm", "h", "401d", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(af_args_duration(bad[i], &s), -1);
    assert_int_equal(af_args_duration(NULL, &s), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_duration),
    };
    return cmocka_run_group_tests_name("cli_args", tests, NULL, NULL);
}
