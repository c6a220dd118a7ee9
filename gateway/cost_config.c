/* Cost-control settings. See cost_config.h. */
#include "cost_config.h"

#include "validate.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void af_cost_config_defaults(af_cost_config_t *c)
{
    memset(c, 0, sizeof *c);
    c->max_tokens_ceiling[AF_ROLE_NONE] = 8192;
    c->max_tokens_ceiling[AF_ROLE_USER] = 8192;
    c->max_tokens_ceiling[AF_ROLE_ADMIN] = AF_MAX_TOKENS_MAX;
    for (int i = 0; i < 3; i++)
        c->nmodels[i] = -1;
    c->cache_ttl_s = 3600;
    c->cache_memory_max_bytes = (size_t)64 * 1024 * 1024;
    /* USD per million tokens, Anthropic's list prices; a prefix prices every
     * dated release of a family. */
    static const af_cost_price_t prices[] = {
        {"claude-3-5-haiku", 0.80, 4.0},  {"claude-3-5-sonnet", 3.0, 15.0},
        {"claude-3-7-sonnet", 3.0, 15.0}, {"claude-3-haiku", 0.25, 1.25},
        {"claude-3-opus", 15.0, 75.0},    {"claude-sonnet-4", 3.0, 15.0},
        {"claude-opus-4", 15.0, 75.0},
    };
    for (size_t i = 0; i < sizeof prices / sizeof prices[0]; i++)
        c->prices[c->nprices++] = prices[i];
}

void af_cost_config_clear(af_cost_config_t *c)
{
    free(c->users);
    c->users = NULL;
    c->nusers = 0;
}

static int s_fail(char *err, size_t errlen, const char *path, const char *why)
{
    snprintf(err, errlen, "%s: %s", path, why);
    return -1;
}

/* Optional integer in lo..hi. 0 absent, 1 read, -1 bad. */
static int s_int(const cJSON *o, const char *key, double lo, double hi, long long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return -1;
    *out = (long long)v->valuedouble;
    return 1;
}

static int s_bool(const cJSON *o, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return 0;
    if (!cJSON_IsBool(v))
        return -1;
    *out = cJSON_IsTrue(v);
    return 1;
}

static bool s_model_ok(const cJSON *v)
{
    return cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) < AF_COST_MODEL_LEN;
}

static int s_cmp_user(const void *a, const void *b)
{
    return strcmp(((const af_cost_user_budget_t *)a)->user,
                  ((const af_cost_user_budget_t *)b)->user);
}

static int s_roles(af_cost_config_t *c, const cJSON *j, char *err, size_t errlen)
{
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
    if (mt) {
        if (!cJSON_IsObject(mt))
            return s_fail(err, errlen, "max_tokens", "must be an object {role: ceiling}");
        const cJSON *it;
        cJSON_ArrayForEach(it, mt)
        {
            af_role_t role;
            long long v = 0;
            if (af_role_parse(it->string, &role) < 0)
                return s_fail(err, errlen, "max_tokens", "keys must be roles (user, admin)");
            if (s_int(mt, it->string, 1, AF_MAX_TOKENS_MAX, &v) < 0)
                return s_fail(err, errlen, "max_tokens", "ceilings must be integers in 1..200000");
            c->max_tokens_ceiling[role] = (long)v;
        }
    }
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(j, "models");
    if (models) {
        if (!cJSON_IsObject(models))
            return s_fail(err, errlen, "models", "must be an object {role: [model...]}");
        const cJSON *it;
        cJSON_ArrayForEach(it, models)
        {
            af_role_t role;
            if (af_role_parse(it->string, &role) < 0)
                return s_fail(err, errlen, "models", "keys must be roles (user, admin)");
            if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) > AF_COST_MODELS_MAX)
                return s_fail(err, errlen, "models", "each role takes an array of at most 16 models");
            int n = 0;
            bool any = false;
            const cJSON *m;
            cJSON_ArrayForEach(m, it)
            {
                if (!s_model_ok(m))
                    return s_fail(err, errlen, "models", "entries must be model names");
                if (!strcmp(m->valuestring, "*"))
                    any = true;
                snprintf(c->models[role][n++], AF_COST_MODEL_LEN, "%s", m->valuestring);
            }
            c->nmodels[role] = any ? -1 : n;
        }
    }
    return 0;
}

static int s_budgets(af_cost_config_t *c, const cJSON *j, char *err, size_t errlen)
{
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "budgets");
    if (!b)
        return 0;
    if (!cJSON_IsObject(b))
        return s_fail(err, errlen, "budgets", "must be an object {default, users}");
    if (s_int(b, "default", 0, 1e15, &c->budget_default) < 0)
        return s_fail(err, errlen, "budgets.default", "must be an integer >= 0 (tokens a day)");
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(b, "users");
    if (!users)
        return 0;
    if (!cJSON_IsObject(users) || cJSON_GetArraySize(users) > AF_COST_USERS_MAX)
        return s_fail(err, errlen, "budgets.users", "must be an object {user: tokens} (at most 4096)");
    size_t n = (size_t)cJSON_GetArraySize(users);
    c->users = calloc(n ? n : 1, sizeof *c->users);
    if (!c->users)
        return s_fail(err, errlen, "budgets.users", "out of memory");
    const cJSON *it;
    cJSON_ArrayForEach(it, users)
    {
        long long v = 0;
        if (!af_user_valid(it->string))
            return s_fail(err, errlen, "budgets.users", "keys must be user names");
        if (s_int(users, it->string, 0, 1e15, &v) < 0)
            return s_fail(err, errlen, "budgets.users", "values must be integers >= 0");
        snprintf(c->users[c->nusers].user, AF_USER_MAX, "%s", it->string);
        c->users[c->nusers++].daily_tokens = v;
    }
    qsort(c->users, c->nusers, sizeof *c->users, s_cmp_user);
    return 0;
}

static int s_routing(af_cost_config_t *c, const cJSON *j, char *err, size_t errlen)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "routing");
    if (!r)
        return 0;
    if (!cJSON_IsObject(r))
        return s_fail(err, errlen, "routing", "must be an object {default, rules}");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(r, "default");
    if (d) {
        if (!s_model_ok(d))
            return s_fail(err, errlen, "routing.default", "must be a model name");
        snprintf(c->route_default, sizeof c->route_default, "%s", d->valuestring);
    }
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(r, "rules");
    if (!rules)
        return 0;
    if (!cJSON_IsArray(rules) || cJSON_GetArraySize(rules) > AF_COST_RULES_MAX)
        return s_fail(err, errlen, "routing.rules", "must be an array of at most 16 rules");
    const cJSON *it;
    cJSON_ArrayForEach(it, rules)
    {
        af_cost_rule_t *rule = &c->rules[c->nrules];
        char path[48];
        snprintf(path, sizeof path, "routing.rules.%d", c->nrules);
        if (!cJSON_IsObject(it))
            return s_fail(err, errlen, path, "must be an object");
        const cJSON *k;
        cJSON_ArrayForEach(k, it)
        {
            if (strcmp(k->string, "name") != 0 && strcmp(k->string, "model") != 0 &&
                strcmp(k->string, "max_prompt_chars") != 0 && strcmp(k->string, "max_tokens") != 0 &&
                strcmp(k->string, "tools") != 0)
                return s_fail(err, errlen, path,
                              "unknown key (name, model, max_prompt_chars, max_tokens, tools)");
        }
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
        const cJSON *model = cJSON_GetObjectItemCaseSensitive(it, "model");
        if (!s_model_ok(model))
            return s_fail(err, errlen, path, "model: required model name");
        snprintf(rule->model, sizeof rule->model, "%s", model->valuestring);
        if (name && (!cJSON_IsString(name) || strlen(name->valuestring) >= sizeof rule->name))
            return s_fail(err, errlen, path, "name: must be a string of at most 31 bytes");
        snprintf(rule->name, sizeof rule->name, "%s", name ? name->valuestring : rule->model);
        long long v = 0;
        if (s_int(it, "max_prompt_chars", 1, 1e12, &v) < 0)
            return s_fail(err, errlen, path, "max_prompt_chars: must be an integer >= 1");
        rule->max_prompt_chars = (long)v;
        v = 0;
        if (s_int(it, "max_tokens", 1, AF_MAX_TOKENS_MAX, &v) < 0)
            return s_fail(err, errlen, path, "max_tokens: must be an integer in 1..200000");
        rule->max_tokens = (long)v;
        bool tools = false;
        int t = s_bool(it, "tools", &tools);
        if (t < 0)
            return s_fail(err, errlen, path, "tools: must be true or false");
        rule->tools = t == 0 ? -1 : tools;
        c->nrules++;
    }
    return 0;
}

static int s_cache(af_cost_config_t *c, const cJSON *j, char *err, size_t errlen)
{
    const cJSON *ca = cJSON_GetObjectItemCaseSensitive(j, "cache");
    if (!ca)
        return 0;
    if (!cJSON_IsObject(ca))
        return s_fail(err, errlen, "cache", "must be an object");
    long long v = c->cache_ttl_s;
    if (s_int(ca, "ttl_s", 1, 30.0 * 86400, &v) < 0)
        return s_fail(err, errlen, "cache.ttl_s", "must be an integer in 1..2592000");
    c->cache_ttl_s = (long)v;
    v = (long long)c->cache_memory_max_bytes;
    if (s_int(ca, "memory_max_bytes", 0, 1e12, &v) < 0)
        return s_fail(err, errlen, "cache.memory_max_bytes", "must be an integer >= 0");
    c->cache_memory_max_bytes = (size_t)v;
    if (s_bool(ca, "any_temperature", &c->cache_any_temperature) < 0)
        return s_fail(err, errlen, "cache.any_temperature", "must be true or false");
    const cJSON *routes = cJSON_GetObjectItemCaseSensitive(ca, "routes");
    if (!routes)
        return 0;
    if (!cJSON_IsObject(routes))
        return s_fail(err, errlen, "cache.routes", "must be an object {route: {enabled, shared}}");
    const cJSON *it;
    cJSON_ArrayForEach(it, routes)
    {
        /* Session turns carry their history, so only the stateless route caches. */
        if (strcmp(it->string, "/v1/messages") != 0)
            return s_fail(err, errlen, "cache.routes", "only \"/v1/messages\" can be cached");
        if (!cJSON_IsObject(it) || s_bool(it, "enabled", &c->cache_messages.enabled) < 0 ||
            s_bool(it, "shared", &c->cache_messages.shared) < 0)
            return s_fail(err, errlen, "cache.routes./v1/messages",
                          "must be {enabled: bool, shared: bool}");
    }
    return 0;
}

static int s_prices(af_cost_config_t *c, const cJSON *j, char *err, size_t errlen)
{
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "prices");
    if (!p)
        return 0;
    if (!cJSON_IsObject(p))
        return s_fail(err, errlen, "prices", "must be an object {model: [input, output] USD/MTok}");
    const cJSON *it;
    cJSON_ArrayForEach(it, p)
    {
        const cJSON *in = cJSON_GetArrayItem(it, 0), *out = cJSON_GetArrayItem(it, 1);
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 2 || !cJSON_IsNumber(in) ||
            !cJSON_IsNumber(out) || in->valuedouble < 0 || out->valuedouble < 0 ||
            strlen(it->string) >= AF_COST_MODEL_LEN || !it->string[0])
            return s_fail(err, errlen, "prices", "entries must be model: [input, output] (USD/MTok)");
        af_cost_price_t *slot = NULL;
        for (int i = 0; i < c->nprices; i++)
            if (!strcmp(c->prices[i].model, it->string))
                slot = &c->prices[i];
        if (!slot) {
            if (c->nprices >= AF_COST_MODELS_MAX)
                return s_fail(err, errlen, "prices", "at most 16 models");
            slot = &c->prices[c->nprices++];
        }
        snprintf(slot->model, sizeof slot->model, "%s", it->string);
        slot->input_per_mtok = in->valuedouble;
        slot->output_per_mtok = out->valuedouble;
    }
    return 0;
}

int af_cost_config_parse(af_cost_config_t *c, const char *text, char *err, size_t errlen)
{
    af_cost_config_clear(c);
    af_cost_config_defaults(c);
    cJSON *j = cJSON_Parse(text);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return s_fail(err, errlen, "cost config", "not a JSON object");
    }
    static const char *const keys[] = {"max_tokens", "models", "budgets", "routing",
                                       "cache",      "prices", NULL};
    const cJSON *it;
    int rc = 0;
    cJSON_ArrayForEach(it, j)
    {
        const char *const *k = keys;
        while (*k && strcmp(*k, it->string) != 0)
            k++;
        if (!*k) {
            snprintf(err, errlen, "%.64s: unknown key", it->string);
            rc = -1;
            break;
        }
    }
    if (rc == 0 && (s_roles(c, j, err, errlen) < 0 || s_budgets(c, j, err, errlen) < 0 ||
                    s_routing(c, j, err, errlen) < 0 || s_cache(c, j, err, errlen) < 0 ||
                    s_prices(c, j, err, errlen) < 0))
        rc = -1;
    cJSON_Delete(j);
    if (rc < 0) {
        af_cost_config_clear(c);
        af_cost_config_defaults(c);
    }
    return rc;
}

int af_cost_config_load(af_cost_config_t *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return s_fail(err, errlen, path, "cannot read");
    const size_t max = (size_t)1024 * 1024;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (!buf)
        return s_fail(err, errlen, path, "out of memory");
    buf[n] = 0;
    int rc = af_cost_config_parse(c, buf, err, errlen);
    free(buf);
    return rc;
}

long long af_cost_config_budget(const af_cost_config_t *c, const char *user)
{
    af_cost_user_budget_t key = {0};
    snprintf(key.user, sizeof key.user, "%s", user ? user : "");
    const af_cost_user_budget_t *u =
        c->nusers ? bsearch(&key, c->users, c->nusers, sizeof key, s_cmp_user) : NULL;
    return u ? u->daily_tokens : c->budget_default;
}

bool af_cost_config_model_allowed(const af_cost_config_t *c, af_role_t role, const char *model)
{
    if ((int)role < 0 || role > AF_ROLE_ADMIN || c->nmodels[role] < 0)
        return true;
    for (int i = 0; i < c->nmodels[role]; i++)
        if (!strcmp(c->models[role][i], model))
            return true;
    return false;
}

const af_cost_price_t *af_cost_config_price(const af_cost_config_t *c, const char *model)
{
    const af_cost_price_t *best = NULL;
    size_t best_len = 0;
    for (int i = 0; i < c->nprices; i++) {
        size_t n = strlen(c->prices[i].model);
        if (!strncmp(model, c->prices[i].model, n) && n > best_len) {
            best = &c->prices[i];
            best_len = n;
        }
    }
    return best;
}
