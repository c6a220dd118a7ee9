/* Model routing. See model_route.h. */
#include "model_route.h"

#include <string.h>

static long s_text(const cJSON *c)
{
    if (cJSON_IsString(c))
        return (long)strlen(c->valuestring);
    long n = 0;
    const cJSON *b;
    if (cJSON_IsArray(c))
        cJSON_ArrayForEach(b, c)
        {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
            if (cJSON_IsString(t))
                n += (long)strlen(t->valuestring);
        }
    return n;
}

void af_model_route_measure(const cJSON *body, af_route_in_t *out)
{
    memset(out, 0, sizeof *out);
    out->prompt_chars += s_text(cJSON_GetObjectItemCaseSensitive(body, "system"));
    out->prompt_chars += s_text(cJSON_GetObjectItemCaseSensitive(body, "system_prompt"));
    out->prompt_chars += s_text(cJSON_GetObjectItemCaseSensitive(body, "message"));
    out->prompt_chars += s_text(cJSON_GetObjectItemCaseSensitive(body, "prompt"));
    const cJSON *m;
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(body, "messages"))
        out->prompt_chars += s_text(cJSON_GetObjectItemCaseSensitive(m, "content"));
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(body, "max_tokens");
    if (cJSON_IsNumber(mt) && mt->valuedouble > 0)
        out->max_tokens = (long)mt->valuedouble;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(body, "tools");
    out->tools = tools && !cJSON_IsNull(tools) && !(cJSON_IsArray(tools) && !cJSON_GetArraySize(tools));
}

static bool s_match(const af_cost_rule_t *r, const af_route_in_t *in)
{
    if (r->max_prompt_chars && in->prompt_chars > r->max_prompt_chars)
        return false;
    /* A request without max_tokens gets the agent's default, which is small
     * (1024), so it passes a max_tokens condition. */
    if (r->max_tokens && in->max_tokens > r->max_tokens)
        return false;
    if (r->tools >= 0 && (bool)r->tools != in->tools)
        return false;
    return true;
}

const char *af_model_route_pick(const af_cost_config_t *c, const char *fallback,
                                const af_route_in_t *in, const char **rule)
{
    for (int i = 0; i < c->nrules; i++)
        if (s_match(&c->rules[i], in)) {
            *rule = c->rules[i].name;
            return c->rules[i].model;
        }
    *rule = "default";
    return c->route_default[0] ? c->route_default : fallback;
}
