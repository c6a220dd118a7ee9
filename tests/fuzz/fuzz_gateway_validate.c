/* libFuzzer: HTTP request → command mapping. The first byte picks a route
 * (method + path are fuzzed too, through the route table), the rest is the
 * body, parsed as JSON and handed to the validator of that route. Nothing may
 * crash, leak or read out of bounds, and a successful mapping must hold the
 * fields the AF1 verb needs. */
#include "../../gateway/routes.h"
#include "../../gateway/validate.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const af_route_t T[] = {
    {"/v1/agents", AF_M_POST, 1},      {"/v1/agents/{id}", AF_M_GET, 2},
    {"/v1/agents/{id}/chat", AF_M_POST, 3}, {"/v1/sessions/{id}", AF_M_DELETE, 4},
    {"/v1/messages", AF_M_POST, 5},    {"/v1/scale", AF_M_POST, 6},
    {"/v1/agents/delete", AF_M_DELETE, 7}, {NULL, 0, 0},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0];
    data++;
    size--;
    /* A NUL splits an optional path from the body. */
    const uint8_t *nul = memchr(data, 0, size);
    if (nul && (size_t)(nul - data) < 512) {
        char path[512];
        memcpy(path, data, (size_t)(nul - data));
        path[nul - data] = 0;
        af_route_match_t m;
        af_route_result_t r = af_routes_match(T, path, 1 << (sel % 6), &m);
        if (r == AF_ROUTE_FOUND)
            for (int i = 0; i < m.nparams; i++)
                (void)af_validate_id(m.params[i]);
        size -= (size_t)(nul - data) + 1;
        data = nul + 1;
    }
    cJSON *in = cJSON_ParseWithLength((const char *)data, size);
    char err[256];
    af_chat_meta_t meta;
    cJSON *out = NULL;
    switch (sel % 5) {
    case 0:
        out = af_validate_chat(in, "claude-3-5-sonnet-20241022", &meta, err, sizeof err);
        if (out)
            assert(cJSON_IsString(cJSON_GetObjectItem(out, "message")) &&
                   cJSON_IsString(cJSON_GetObjectItem(out, "model")));
        break;
    case 1:
        out = af_validate_messages(in, &meta, err, sizeof err);
        if (out)
            assert(cJSON_IsArray(cJSON_GetObjectItem(out, "messages")) &&
                   cJSON_IsNumber(cJSON_GetObjectItem(out, "max_tokens")));
        break;
    case 2:
        out = af_validate_spawn(in, err, sizeof err);
        break;
    case 3: {
        long target;
        if (af_validate_scale(in, &target, err, sizeof err) == 0)
            assert(target >= 0 && target <= 100000);
        break;
    }
    case 4: {
        char id[AF_ID_MAX + 1];
        if (af_validate_agent_ref(in, id, err, sizeof err) == 0)
            assert(af_validate_id(id));
        break;
    }
    }
    cJSON_Delete(out);
    cJSON_Delete(in);
    return 0;
}
