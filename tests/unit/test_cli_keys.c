/* fleetctl keys: add writes only the key's SHA-256 (0600 file), the key has
 * the gateway's shape; list reads entries and refuses broken lines; revoke by
 * id prefix (unique, >= 8 hex) or by user, keeping comments and other keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../cli/keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_path[64];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_path, sizeof s_path, "/tmp/test_cli_keys_%d", (int)getpid());
    unlink(s_path);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    unlink(s_path);
    return 0;
}

static char *s_slurp(void)
{
    FILE *f = fopen(s_path, "r");
    static char buf[8192];
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = 0;
    return buf;
}

static void test_add_list(void **state)
{
    (void)state;
    char key[64], err[256], hex[65];
    af_cli_key_t *keys = NULL;
    assert_int_equal(af_cli_keys_read(s_path, &keys, err, sizeof err), 0); /* missing file */
    assert_int_equal(af_cli_keys_add(s_path, "alice", "user", key, sizeof key, err, sizeof err), 0);
    assert_int_equal(strncmp(key, "afk_", 4), 0);
    assert_int_equal(strlen(key), 4 + 43);
    struct stat st;
    assert_int_equal(stat(s_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    af_cli_keys_hash(key, hex);
    char want[128];
    snprintf(want, sizeof want, "%s alice user\n", hex);
    assert_string_equal(s_slurp(), want);
    assert_null(strstr(s_slurp(), key)); /* never the key itself */
    char key2[64];
    assert_int_equal(af_cli_keys_add(s_path, "ops@example.com", "admin", key2, sizeof key2, err, sizeof err), 0);
    assert_string_not_equal(key, key2);
    int n = af_cli_keys_read(s_path, &keys, err, sizeof err);
    assert_int_equal(n, 2);
    assert_string_equal(keys[0].user, "alice");
    assert_string_equal(keys[1].user, "ops@example.com");
    assert_string_equal(keys[1].role, "admin");
    free(keys);
    /* refusals */
    assert_int_equal(af_cli_keys_add(s_path, "bad user", "user", key, sizeof key, err, sizeof err),
                     AF_CLI_KEYS_BAD_INPUT);
    assert_int_equal(af_cli_keys_add(s_path, "bob", "owner", key, sizeof key, err, sizeof err),
                     AF_CLI_KEYS_BAD_INPUT);
    assert_string_equal(err, "--role must be user or admin");
}

static void test_sha256(void **state)
{
    (void)state;
    char hex[65];
    af_cli_keys_hash("abc", hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void test_revoke(void **state)
{
    (void)state;
    FILE *f = fopen(s_path, "w");
    fprintf(f, "# keys\n"
               "aaaaaaaa11111111111111111111111111111111111111111111111111111111 alice user\n"
               "aaaaaaaa22222222222222222222222222222222222222222222222222222222 bob user\n"
               "\n"
               "bbbbbbbb33333333333333333333333333333333333333333333333333333333 alice admin");
    fclose(f);
    char err[256];
    /* Each refusal has its own code: fleetctl exits 2 (usage) for a bad or
     * ambiguous id, 4 (not found) when nothing matches, 1 for the file. */
    assert_int_equal(af_cli_keys_revoke(s_path, "aaaaaaaa", NULL, err, sizeof err),
                     AF_CLI_KEYS_AMBIGUOUS);
    assert_string_equal(err, "id aaaaaaaa matches 2 keys: give more digits");
    assert_int_equal(af_cli_keys_revoke(s_path, "aaaa", NULL, err, sizeof err),
                     AF_CLI_KEYS_BAD_ID); /* too short */
    assert_int_equal(af_cli_keys_revoke(s_path, "AAAAAAAA1", NULL, err, sizeof err),
                     AF_CLI_KEYS_BAD_ID);
    assert_int_equal(af_cli_keys_revoke(s_path, "not-an-id", NULL, err, sizeof err),
                     AF_CLI_KEYS_BAD_ID);
    assert_string_equal(err, "key id must be 8..64 lowercase hex digits (see fleetctl keys list)");
    assert_int_equal(af_cli_keys_revoke(s_path, NULL, NULL, err, sizeof err), AF_CLI_KEYS_BAD_ID);
    assert_int_equal(af_cli_keys_revoke(s_path, "cccccccc", NULL, err, sizeof err),
                     AF_CLI_KEYS_NO_MATCH);
    assert_string_equal(err, "no key matches id cccccccc");
    assert_int_equal(af_cli_keys_revoke(s_path, "aaaaaaaa2", NULL, err, sizeof err), 1);
    assert_string_equal(s_slurp(),
                        "# keys\n"
                        "aaaaaaaa11111111111111111111111111111111111111111111111111111111 alice user\n"
                        "\n"
                        "bbbbbbbb33333333333333333333333333333333333333333333333333333333 alice admin");
    assert_int_equal(af_cli_keys_revoke(s_path, NULL, "alice", err, sizeof err), 2);
    assert_string_equal(s_slurp(), "# keys\n\n");
    assert_int_equal(af_cli_keys_revoke(s_path, NULL, "alice", err, sizeof err),
                     AF_CLI_KEYS_NO_MATCH);
    assert_string_equal(err, "no key matches user alice");
    struct stat st;
    assert_int_equal(stat(s_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* add after a last line without newline starts a new line */
    f = fopen(s_path, "w");
    fprintf(f, "bbbbbbbb33333333333333333333333333333333333333333333333333333333 carol user");
    fclose(f);
    char key[64];
    assert_int_equal(af_cli_keys_add(s_path, "dave", "user", key, sizeof key, err, sizeof err), 0);
    af_cli_key_t *keys = NULL;
    assert_int_equal(af_cli_keys_read(s_path, &keys, err, sizeof err), 2);
    free(keys);
}

static void test_broken_file(void **state)
{
    (void)state;
    FILE *f = fopen(s_path, "w");
    fprintf(f, "# ok\nnot-a-hash alice user\n");
    fclose(f);
    af_cli_key_t *keys = NULL;
    char err[512];
    assert_int_equal(af_cli_keys_read(s_path, &keys, err, sizeof err), -1);
    assert_non_null(strstr(err, "line 2"));
    assert_null(keys);
    assert_int_equal(af_cli_keys_revoke(s_path, NULL, "alice", err, sizeof err),
                     AF_CLI_KEYS_FAILED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_add_list, s_setup, s_teardown),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test_setup_teardown(test_revoke, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_broken_file, s_setup, s_teardown),
    };
    return cmocka_run_group_tests_name("cli_keys", tests, NULL, NULL);
}
