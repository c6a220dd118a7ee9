/* fleetctl tables: columns as wide as their widest cell, NULL cells as "-",
 * no trailing spaces after the last column. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../cli/table.h"

#include <stdlib.h>

static void test_render(void **state)
{
    (void)state;
    af_cli_table_t *t = af_cli_table_new(3, (const char *[]){"AGENT", "OWNER", "STATUS"});
    assert_non_null(t);
    assert_int_equal(af_cli_table_rows(t), 0);
    assert_int_equal(af_cli_table_row(t, (const char *[]){"ag_long_identifier", "alice", "ready"}), 0);
    assert_int_equal(af_cli_table_row(t, (const char *[]){"ag_2", NULL, "draining"}), 0);
    assert_int_equal(af_cli_table_rows(t), 2);
    char *s = af_cli_table_render(t);
    assert_string_equal(s, "AGENT               OWNER  STATUS\n"
                           "ag_long_identifier  alice  ready\n"
                           "ag_2                -      draining\n");
    free(s);
    af_cli_table_destroy(&t);
    assert_null(t);
    af_cli_table_destroy(&t);
}

static void test_many_rows(void **state)
{
    (void)state;
    af_cli_table_t *t = af_cli_table_new(1, (const char *[]){"N"});
    for (int i = 0; i < 1000; i++)
        assert_int_equal(af_cli_table_row(t, (const char *[]){"x"}), 0);
    assert_int_equal(af_cli_table_rows(t), 1000);
    char *s = af_cli_table_render(t);
    size_t lines = 0;
    for (char *p = s; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 1001);
    free(s);
    af_cli_table_destroy(&t);
    assert_null(af_cli_table_new(0, (const char *[]){"N"}));
    assert_null(af_cli_table_new(1, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_many_rows),
    };
    return cmocka_run_group_tests_name("cli_table", tests, NULL, NULL);
}
