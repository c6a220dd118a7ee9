/* libFuzzer: JWT and credential handling. The input is used as a bearer token
 * (and as an x-api-key) against an HS256 verifier and a small keys table; a
 * forged token must never authenticate (the fuzzer does not know the secret),
 * and nothing may crash or leak. */
#include "../../gateway/auth.h"
#include "log.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static af_jwt_verifier_t *s_v;
static af_keys_t *s_k;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_v) {
        af_log_set_level(AF_LOG_ERROR);
        const char *secret = "fuzz-secret-never-guessed-0123456789";
        s_v = af_jwt_verifier_new("HS256", (const unsigned char *)secret, strlen(secret), 30);
        s_k = af_keys_new();
        char h[65], line[128], err[64];
        af_keys_hash("afk_the_only_key", h);
        snprintf(line, sizeof line, "%s alice user\n", h);
        af_keys_parse(s_k, line, strlen(line), err, sizeof err);
    }
    if (size > 16384)
        return 0;
    char *tok = malloc(size + 8);
    memcpy(tok, "Bearer ", 7);
    memcpy(tok + 7, data, size);
    tok[size + 7] = 0;
    af_principal_t p;
    char why[256];
    af_auth_result_t r = af_auth_check(s_v, s_k, tok, NULL, 1800000000, &p, why, sizeof why);
    const char *bare = tok + 7;
    while (*bare == ' ') /* spaces after "Bearer" are allowed */
        bare++;
    assert(r != AF_AUTH_OK || strcmp(bare, "afk_the_only_key") == 0);
    r = af_auth_check(s_v, s_k, NULL, tok + 7, 1800000000, &p, why, sizeof why);
    assert(r != AF_AUTH_OK || strcmp(tok + 7, "afk_the_only_key") == 0);
    free(tok);
    return 0;
}
