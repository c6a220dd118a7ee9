/* AES-256-GCM secrets at rest: round trip, a fresh nonce per seal, refusal of a wrong
 * key, of any altered byte and of a malformed value; master key files (hex or raw,
 * mode 0600 only); the config helper leaves plain values alone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"
#include "secretbox.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *s_secret = "sk-ant-api03-THIS-IS-A-TEST-KEY-0123456789";

static void s_key(uint8_t k[AF_SECRETBOX_KEY_LEN], uint8_t seed)
{
    for (int i = 0; i < AF_SECRETBOX_KEY_LEN; i++)
        k[i] = (uint8_t)(seed + i * 7);
}

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t k[AF_SECRETBOX_KEY_LEN];
    s_key(k, 1);
    char *a = af_secretbox_seal(k, s_secret);
    char *b = af_secretbox_seal(k, s_secret);
    assert_non_null(a);
    assert_true(af_secretbox_is_sealed(a));
    assert_null(strstr(a, "sk-ant")); /* the plaintext is not visible */
    assert_string_not_equal(a, b);    /* fresh nonce */
    char *p = af_secretbox_open(k, a);
    assert_non_null(p);
    assert_string_equal(p, s_secret);
    free(p);
    p = af_secretbox_open(k, b);
    assert_string_equal(p, s_secret);
    free(p);
    free(a);
    free(b);
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t k[AF_SECRETBOX_KEY_LEN], other[AF_SECRETBOX_KEY_LEN];
    s_key(k, 1);
    s_key(other, 2);
    char *a = af_secretbox_seal(k, s_secret);
    assert_null(af_secretbox_open(other, a));
    /* Every position of the body, altered, is refused (nonce, ciphertext, tag). */
    size_t pre = strlen(AF_SECRETBOX_PREFIX), len = strlen(a);
    for (size_t i = pre; i < len; i++) {
        char *t = strdup(a);
        if (t[i] == '=') {
            free(t);
            continue;
        }
        /* +32 in the alphabet flips the top bit: a data bit even in the last
         * character before padding, whose low bits are padding. */
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        t[i] = b64[((strchr(b64, t[i]) - b64) + 32) % 64];
        char *p = af_secretbox_open(k, t);
        if (p)
            fail_msg("altered byte %zu accepted: %s", i, t);
        free(t);
    }
    assert_null(af_secretbox_open(k, "afsb1:"));
    assert_null(af_secretbox_open(k, "afsb1:abc"));
    assert_null(af_secretbox_open(k, "afsb1:AAAA"));
    assert_null(af_secretbox_open(k, s_secret)); /* not sealed */
    free(a);
}

static void test_key_files(void **state)
{
    (void)state;
    char path[] = "/tmp/af-sb-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n";
    assert_int_equal(write(fd, hex, strlen(hex)), (ssize_t)strlen(hex));
    close(fd);
    uint8_t k[AF_SECRETBOX_KEY_LEN];
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(af_secretbox_load_key(path, k), 0);
    assert_int_equal(k[0], 0);
    assert_int_equal(k[31], 0x1f);

    /* The config helper: sealed → plaintext, plain → untouched, wrong key → -1. */
    char *sealed = af_secretbox_seal(k, s_secret);
    char *v = strdup(sealed);
    assert_int_equal(af_secretbox_unseal_inplace(&v, path), 0);
    assert_string_equal(v, s_secret);
    assert_int_equal(af_secretbox_unseal_inplace(&v, path), 0); /* plain stays */
    assert_string_equal(v, s_secret);
    free(v);
    v = strdup(sealed);
    assert_int_equal(af_secretbox_unseal_inplace(&v, NULL), -1);
    assert_string_equal(v, sealed);

    /* The sealing tool. */
    FILE *in = fmemopen((void *)s_secret, strlen(s_secret), "r");
    char outbuf[512] = "";
    FILE *out = fmemopen(outbuf, sizeof outbuf, "w");
    assert_int_equal(af_secretbox_seal_stream(in, out, path), 0);
    fclose(in);
    fclose(out);
    outbuf[strcspn(outbuf, "\n")] = '\0';
    char *p = af_secretbox_open(k, outbuf);
    assert_string_equal(p, s_secret);
    free(p);

    assert_int_equal(chmod(path, 0644), 0); /* readable by others: refused */
    assert_int_equal(af_secretbox_load_key(path, k), -1);
    assert_int_equal(af_secretbox_unseal_inplace(&v, path), -1);
    free(v);
    free(sealed);
    fd = open(path, O_WRONLY | O_TRUNC);
    assert_int_equal(write(fd, "short", 5), 5);
    close(fd);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(af_secretbox_load_key(path, k), -1);
    unlink(path);
    assert_int_equal(af_secretbox_load_key("/nonexistent/master.key", k), -1);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    af_log_set_fd(open("/dev/null", O_WRONLY));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_key_files),
    };
    return cmocka_run_group_tests_name("common_secretbox", tests, NULL, NULL);
}
