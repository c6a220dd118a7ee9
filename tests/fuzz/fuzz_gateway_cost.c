/* libFuzzer: what the cost controls read from outside. A client's raw body
 * (any JSON) goes through model-route measuring and, as CHAT fields, cache-key
 * canonicalisation; the same bytes as a --cost-config file must parse or be
 * refused with a message, leaving usable settings either way. */
#include "../../gateway/cache.h"
#include "../../gateway/model_route.h"
#include "log.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    af_log_set_level(AF_LOG_ERROR);
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = 0;

    af_cost_config_t c;
    af_cost_config_defaults(&c);
    char err[256] = "";
    int rc = af_cost_config_parse(&c, text, err, sizeof err);
    assert(rc == 0 || (rc == -1 && err[0]));
    assert(c.nrules >= 0 && c.nrules <= AF_COST_RULES_MAX);
    assert(c.max_tokens_ceiling[AF_ROLE_USER] >= 1);

    cJSON *body = cJSON_ParseWithLength(text, size);
    if (body) {
        af_route_in_t in;
        af_model_route_measure(body, &in);
        assert(in.prompt_chars >= 0);
        const char *rule = NULL;
        const char *model = af_model_route_pick(&c, "fallback", &in, &rule);
        assert(model && *model && rule);
        char k1[65], k2[65];
        if (af_cache_key(body, "/v1/messages", "u", k1) == 0) {
            assert(strlen(k1) == 64);
            /* Deterministic, and the user is part of it. */
            assert(af_cache_key(body, "/v1/messages", "u", k2) == 0 && !strcmp(k1, k2));
            assert(af_cache_key(body, "/v1/messages", NULL, k2) == 0 && strcmp(k1, k2) != 0);
        }
        (void)af_cache_cacheable(body, false);
        cJSON_Delete(body);
    }
    af_cost_config_clear(&c);
    free(text);
    return 0;
}
