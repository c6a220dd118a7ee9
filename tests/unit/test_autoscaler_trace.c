/* Trace CSV parser: accepted shapes, clear refusals, interpolation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../autoscaler/trace.h"

#include <math.h>
#include <string.h>

static af_trace_t *s_parse(const char *text, char *err)
{
    return af_trace_parse(text, strlen(text), err, 200);
}

static void test_parse_and_interpolate(void **state)
{
    (void)state;
    char err[200];
    af_trace_t *t = s_parse("# a comment\nseconds,sessions,requests_per_second\n"
                            "0,1000,50\n60, 2000 ,100\r\n\n120,500,25\n", err);
    assert_non_null(t);
    assert_int_equal(af_trace_rows(t), 3);
    assert_true(af_trace_has_rps(t));
    assert_true(af_trace_start(t) == 0 && af_trace_end(t) == 120);
    assert_true(af_trace_peak(t) == 2000);
    double s, r;
    af_trace_at(t, 30, &s, &r);
    assert_true(fabs(s - 1500) < 1e-9 && fabs(r - 75) < 1e-9);
    af_trace_at(t, 90, &s, &r);
    assert_true(fabs(s - 1250) < 1e-9);
    af_trace_at(t, 10, &s, &r); /* going back in time works too */
    assert_true(fabs(s - 1000.0 - 1000.0 / 6) < 1e-9);
    af_trace_at(t, -5, &s, &r);
    assert_true(s == 1000);
    af_trace_at(t, 1e9, &s, &r);
    assert_true(s == 500);
    af_trace_destroy(&t);
    assert_null(t);

    t = s_parse("0,10\n5,20", err); /* two columns, no header, no final newline */
    assert_non_null(t);
    assert_false(af_trace_has_rps(t));
    af_trace_destroy(&t);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[200];
    struct {
        const char *text, *why;
    } bad[] = {
        {"", "at least two rows"},
        {"0,10\n", "at least two rows"},
        {"0,10\n0,20\n", "line 2: seconds must increase"},
        {"0,10\n5,-1\n", "line 2: sessions"},
        {"0,10\n5,nan\n", "line 2: sessions"},
        {"0,10\n5,inf\n", "line 2: sessions"},
        {"0,10\n5,20,3\n", "line 2: 3 columns"},
        {"a,b,c\n0,1\n", "line 2: 2 columns, header has 3"},
        {"0,10,1\n5,20,1,4\n", "line 2: want seconds"},
        {"0\n", "line 1: want seconds"},
        {"x,y\n0,1\n1,2,3\n", "line 3: 3 columns"},
        {"0,10\nabc,20\n", "line 2: seconds 'abc'"},
        {"0,10\n5,20,-3\n", "line 2: requests_per_second"},
        {"0,10\n99999999999,20\n", "longer than"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        af_trace_t *t = s_parse(bad[i].text, err);
        if (t || !strstr(err, bad[i].why))
            fail_msg("case %zu: want '%s', got %s '%s'", i, bad[i].why, t ? "a trace" : "error",
                     err);
    }
    /* Embedded NUL and over-long lines. */
    const char nul[] = "0,10\n5,2\0\n";
    assert_null(af_trace_parse(nul, sizeof nul - 1, err, sizeof err));
    char longline[400];
    memset(longline, '1', sizeof longline);
    assert_null(af_trace_parse(longline, sizeof longline, err, sizeof err));
    assert_non_null(strstr(err, "longer than"));
    /* A missing file says which. */
    assert_null(af_trace_load("/nonexistent/trace.csv", err, sizeof err));
    assert_non_null(strstr(err, "/nonexistent/trace.csv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_interpolate),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("autoscaler_trace", tests, NULL, NULL);
}
