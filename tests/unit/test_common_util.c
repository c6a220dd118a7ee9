/* Ids (random, URL-safe, unique), base64url, validation, clocks, growing buffers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util.h"

#include <stdlib.h>
#include <string.h>

static void test_ids(void **state)
{
    (void)state;
    char a[64], b[64];
    assert_int_equal(af_id_new(a, sizeof a, "ag_"), 0);
    assert_int_equal(af_id_new(b, sizeof b, "ag_"), 0);
    assert_int_equal(strlen(a), 3 + 22);
    assert_true(strncmp(a, "ag_", 3) == 0);
    assert_string_not_equal(a, b);
    assert_true(af_id_valid(a, 64));
    assert_true(strspn(a + 3, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 22);
    char small[10];
    assert_int_equal(af_id_new(small, sizeof small, "ag_"), -1);
}

static void test_base64url(void **state)
{
    (void)state;
    char out[16];
    af_base64url((const uint8_t *)"\xfb\xff", 2, out);
    assert_string_equal(out, "-_8");
    af_base64url((const uint8_t *)"foobar", 6, out);
    assert_string_equal(out, "Zm9vYmFy");
    af_base64url((const uint8_t *)"f", 1, out);
    assert_string_equal(out, "Zg");
}

static void test_id_valid(void **state)
{
    (void)state;
    assert_false(af_id_valid("", 10));
    assert_false(af_id_valid(NULL, 10));
    assert_false(af_id_valid("a/b", 10));
    assert_false(af_id_valid("../etc", 10));
    assert_false(af_id_valid("abcdefghijk", 10));
    assert_true(af_id_valid("se_Ab-9", 10));
}

static void test_grow(void **state)
{
    (void)state;
    size_t cap = 0;
    char *b = af_grow(NULL, &cap, 10, 64); /* empty: starts at first */
    assert_non_null(b);
    assert_int_equal(cap, 64);
    memset(b, 'x', 64);
    assert_ptr_equal(af_grow(b, &cap, 64, 64), b); /* fits: untouched */
    assert_int_equal(cap, 64);
    b = af_grow(b, &cap, 300, 64); /* doubles until it holds need */
    assert_non_null(b);
    assert_int_equal(cap, 512);
    assert_int_equal(b[63], 'x'); /* contents kept */
    free(b);
}

static void test_clocks(void **state)
{
    (void)state;
    uint64_t t0 = af_now_ns(), t1 = af_now_ns();
    assert_true(t1 >= t0);
    assert_true(af_wall_ms() > 1700000000000ULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids), cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_id_valid), cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_grow),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
