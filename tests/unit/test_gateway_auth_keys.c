/* API keys file: only hashes are stored, lookups find user and role, broken
 * lines are refused with their line number, and keys added by the tool work. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/auth_keys.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_parse_and_lookup(void **state)
{
    (void)state;
    char h1[65], h2[65], text[512];
    af_keys_hash("key-one", h1);
    af_keys_hash("key-two", h2);
    snprintf(text, sizeof text, "# comment\n\n%s alice user\n  %s root.admin admin\r\n", h1, h2);
    af_keys_t *k = af_keys_new();
    char err[128];
    assert_int_equal(af_keys_parse(k, text, strlen(text), err, sizeof err), 2);
    af_principal_t p;
    assert_int_equal(af_keys_lookup(k, "key-one", &p), 0);
    assert_string_equal(p.user, "alice");
    assert_int_equal(p.role, AF_ROLE_USER);
    assert_string_equal(p.via, "key");
    assert_int_equal(af_keys_lookup(k, "key-two", &p), 0);
    assert_string_equal(p.user, "root.admin");
    assert_int_equal(p.role, AF_ROLE_ADMIN);
    assert_int_equal(af_keys_lookup(k, "key-three", &p), -1);
    assert_int_equal(af_keys_lookup(k, "", &p), -1);
    /* The hash itself is not a key. */
    assert_int_equal(af_keys_lookup(k, h1, &p), -1);
    af_keys_destroy(&k);
    assert_null(k);
}

static void test_known_sha256(void **state)
{
    (void)state;
    char h[65];
    af_keys_hash("abc", h);
    assert_string_equal(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_bad_lines_are_refused_with_line_number(void **state)
{
    (void)state;
    char h[65], text[512], err[128];
    af_keys_hash("k", h);
    af_keys_t *k = af_keys_new();
    snprintf(text, sizeof text, "%s alice user\n", h);
    assert_int_equal(af_keys_parse(k, text, strlen(text), err, sizeof err), 1);
    const char *bad[] = {"abc alice user\n", "%s alice\n", "%s alice superuser\n",
                         "%s bad/user user\n", "%s alice user extra\n", NULL};
    for (int i = 0; bad[i]; i++) {
        char line[256];
        snprintf(line, sizeof line, bad[i], h);
        char two[600];
        snprintf(two, sizeof two, "# ok\n%s", line);
        assert_int_equal(af_keys_parse(k, two, strlen(two), err, sizeof err), -1);
        assert_non_null(strstr(err, "line 2"));
    }
    /* The good table survived the failed parses. */
    af_principal_t p;
    assert_int_equal(af_keys_lookup(k, "k", &p), 0);
    af_keys_destroy(&k);
}

static void test_add_then_load(void **state)
{
    (void)state;
    char path[] = "/tmp/af-keys-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    char key[96], key2[96], err[128];
    assert_int_equal(af_keys_add(path, "alice", "user", key, sizeof key, err, sizeof err), 0);
    assert_int_equal(af_keys_add(path, "boss", "admin", key2, sizeof key2, err, sizeof err), 0);
    assert_int_equal(strncmp(key, "afk_", 4), 0);
    assert_string_not_equal(key, key2);
    assert_int_equal(af_keys_add(path, "x y", "user", key, sizeof key, err, sizeof err), -1);
    assert_int_equal(af_keys_add(path, "eve", "god", key, sizeof key, err, sizeof err), -1);
    /* The file holds no key, only hashes. */
    FILE *f = fopen(path, "r");
    char buf[1024] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_true(n > 0);
    assert_null(strstr(buf, key2 + 4));
    af_keys_t *k = af_keys_new();
    assert_int_equal(af_keys_load(k, path, err, sizeof err), 2);
    af_principal_t p;
    assert_int_equal(af_keys_lookup(k, key2, &p), 0);
    assert_string_equal(p.user, "boss");
    assert_int_equal(p.role, AF_ROLE_ADMIN);
    af_keys_destroy(&k);
    unlink(path);
}

int main(void)
{
    af_log_set_level(AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_and_lookup),
        cmocka_unit_test(test_known_sha256),
        cmocka_unit_test(test_bad_lines_are_refused_with_line_number),
        cmocka_unit_test(test_add_then_load),
    };
    return cmocka_run_group_tests_name("gateway_auth_keys", tests, NULL, NULL);
}
