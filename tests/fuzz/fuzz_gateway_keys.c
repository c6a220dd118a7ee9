/* libFuzzer: the API keys file parser. Any bytes must parse or be refused with
 * a message; after a successful parse every lookup is well-defined. */
#include "../../gateway/auth_keys.h"
#include "log.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    af_log_set_level(AF_LOG_ERROR);
    af_keys_t *k = af_keys_new();
    char err[128] = "";
    int n = af_keys_parse(k, (const char *)data, size, err, sizeof err);
    assert(n >= -1);
    if (n < 0)
        assert(err[0]);
    else
        assert((size_t)n == af_keys_count(k));
    af_principal_t p;
    char probe[64];
    snprintf(probe, sizeof probe, "%.*s", (int)(size < 40 ? size : 40), (const char *)data);
    if (af_keys_lookup(k, probe, &p) == 0)
        assert(af_user_valid(p.user) && p.role != AF_ROLE_NONE);
    af_keys_destroy(&k);
    return 0;
}
