/* fleetctl token: an HS256 JWT with the claims the gateway requires (sub,
 * role, exp) that verifies with the secret and only with it; the secret file
 * is trimmed like the gateway trims it; bad input is refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../cli/token.h"

#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

static const unsigned char SECRET[] = "0123456789abcdef0123456789abcdef";

static void test_mint_and_verify(void **state)
{
    (void)state;
    char err[256];
    char *tok = af_cli_token_mint(SECRET, 32, "alice", "admin", 1700000000, 3600, err, sizeof err);
    assert_non_null(tok);
    assert_int_equal(strncmp(tok, "eyJ", 3), 0);
    jwt_t *j = NULL;
    assert_int_equal(jwt_decode(&j, tok, SECRET, 32), 0);
    assert_int_equal(jwt_get_alg(j), JWT_ALG_HS256);
    assert_string_equal(jwt_get_grant(j, "sub"), "alice");
    assert_string_equal(jwt_get_grant(j, "role"), "admin");
    assert_int_equal(jwt_get_grant_int(j, "exp"), 1700003600);
    assert_int_equal(jwt_get_grant_int(j, "iat"), 1700000000);
    jwt_free(j);
    /* another secret does not verify it */
    j = NULL;
    assert_int_not_equal(jwt_decode(&j, tok, (const unsigned char *)"another-secret-of-32-bytes-xxxxx", 32), 0);
    jwt_free(j);
    free(tok);
}

static void test_refusals(void **state)
{
    (void)state;
    char err[256];
    assert_null(af_cli_token_mint(SECRET, 32, "", "user", 0, 60, err, sizeof err));
    assert_string_equal(err, "--user must be 1..63 of [A-Za-z0-9_.@-]");
    assert_null(af_cli_token_mint(SECRET, 32, "bob smith", "user", 0, 60, err, sizeof err));
    assert_null(af_cli_token_mint(SECRET, 32, "bob", "root", 0, 60, err, sizeof err));
    assert_string_equal(err, "--role must be user or admin");
    assert_null(af_cli_token_mint(SECRET, 0, "bob", "user", 0, 60, err, sizeof err));
    assert_null(af_cli_token_mint(SECRET, 32, "bob", "user", 0, 0, err, sizeof err));
    assert_string_equal(err, "--ttl must be positive");
    char longname[80];
    memset(longname, 'a', 64);
    longname[64] = 0;
    assert_null(af_cli_token_mint(SECRET, 32, longname, "user", 0, 60, err, sizeof err));
    longname[63] = 0;
    char *ok = af_cli_token_mint(SECRET, 32, longname, "user", 0, 60, err, sizeof err);
    assert_non_null(ok);
    free(ok);
}

static void test_secret_file(void **state)
{
    (void)state;
    char path[] = "/tmp/test_cli_token_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret-value \r\n\n", 16), 16);
    close(fd);
    size_t len = 0;
    char err[256];
    unsigned char *s = af_cli_token_read_secret(path, &len, err, sizeof err);
    assert_non_null(s);
    assert_int_equal(len, 12);
    assert_string_equal((char *)s, "s3cret-value");
    free(s);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "\n\n", 2), 2);
    close(fd);
    assert_null(af_cli_token_read_secret(path, &len, err, sizeof err));
    assert_non_null(strstr(err, "is empty"));
    unlink(path);
    assert_null(af_cli_token_read_secret(path, &len, err, sizeof err));
    assert_non_null(strstr(err, "cannot read the JWT secret"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mint_and_verify),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_secret_file),
    };
    return cmocka_run_group_tests_name("cli_token", tests, NULL, NULL);
}
