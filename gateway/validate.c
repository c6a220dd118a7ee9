/* Request validation and mapping. See validate.h. */
#include "validate.h"

#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

bool af_validate_id(const char *s) { return af_id_valid(s, AF_ID_MAX) != 0; }

/* Refuses any key not in allowed (NULL-terminated); names the first one. */
static int s_only(const cJSON *in, const char *const *allowed, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, in)
    {
        const char *const *a = allowed;
        while (*a && strcmp(*a, it->string) != 0)
            a++;
        if (!*a) {
            snprintf(err, errlen, "%.64s: Extra inputs are not permitted", it->string);
            return -1;
        }
    }
    return 0;
}

/* Reads an optional integer in lo..hi; 0 absent, 1 present, -1 bad. */
static int s_int(const cJSON *in, const char *name, long lo, long hi, long *out, char *err,
                 size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
        v->valuedouble < (double)lo || v->valuedouble > (double)hi) {
        snprintf(err, errlen, "%s: must be an integer in %ld..%ld", name, lo, hi);
        return -1;
    }
    *out = (long)v->valuedouble;
    return 1;
}

static int s_num(const cJSON *in, const char *name, double lo, double hi, double *out, char *err,
                 size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi) {
        snprintf(err, errlen, "%s: must be a number in %g..%g", name, lo, hi);
        return -1;
    }
    *out = v->valuedouble;
    return 1;
}

static int s_bool(const cJSON *in, const char *name, bool *out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v)) {
        snprintf(err, errlen, "%s: must be true or false", name);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

/* A string field, optionally under an alias; both given → error. */
static int s_str(const cJSON *in, const char *name, const char *alias, bool nonempty,
                 size_t maxlen, const char **out, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(in, name);
    const cJSON *a = alias ? cJSON_GetObjectItemCaseSensitive(in, alias) : NULL;
    if (v && cJSON_IsNull(v))
        v = NULL;
    if (a && cJSON_IsNull(a))
        a = NULL;
    if (v && a) {
        snprintf(err, errlen, "%s: give either %s or %s, not both", name, name, alias);
        return -1;
    }
    const char *used = v ? name : alias;
    if (!v)
        v = a;
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || (nonempty && !v->valuestring[0]) ||
        strlen(v->valuestring) > maxlen) {
        snprintf(err, errlen, "%s: must be a %sstring of at most %zu bytes", used,
                 nonempty ? "non-empty " : "", maxlen);
        return -1;
    }
    *out = v->valuestring;
    return 1;
}

#define TEXT_MAX ((size_t)1024 * 1024)

cJSON *af_validate_chat(const cJSON *in, const char *default_model, af_chat_meta_t *meta,
                        char *err, size_t errlen)
{
    static const char *const allowed[] = {"session_id", "message", "prompt", "system",
                                          "system_prompt", "model", "max_tokens",
                                          "temperature", "stream", NULL};
    memset(meta, 0, sizeof *meta);
    if (!cJSON_IsObject(in)) {
        snprintf(err, errlen, "body: must be a JSON object");
        return NULL;
    }
    if (s_only(in, allowed, err, errlen) < 0)
        return NULL;
    const char *sid = NULL, *message = NULL, *system = NULL, *model = NULL;
    long max_tokens = 0;
    double temperature = 0;
    bool stream = false;
    int r;
    if (s_str(in, "session_id", NULL, true, AF_ID_MAX, &sid, err, errlen) < 0)
        return NULL;
    if (sid && !af_validate_id(sid)) {
        snprintf(err, errlen, "session_id: must be 1..63 of [A-Za-z0-9_-]");
        return NULL;
    }
    r = s_str(in, "message", "prompt", true, TEXT_MAX, &message, err, errlen);
    if (r < 0)
        return NULL;
    if (r == 0) {
        snprintf(err, errlen, "message: Field required");
        return NULL;
    }
    if (s_str(in, "system", "system_prompt", false, TEXT_MAX, &system, err, errlen) < 0 ||
        s_str(in, "model", NULL, true, 127, &model, err, errlen) < 0)
        return NULL;
    int has_mt = s_int(in, "max_tokens", 1, AF_MAX_TOKENS_MAX, &max_tokens, err, errlen);
    int has_t = s_num(in, "temperature", 0.0, 1.0, &temperature, err, errlen);
    if (has_mt < 0 || has_t < 0 || s_bool(in, "stream", &stream, err, errlen) < 0)
        return NULL;
    if (!model)
        model = default_model && *default_model ? default_model : "claude-3-5-sonnet-20241022";
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "message", message);
    if (system)
        cJSON_AddStringToObject(out, "system", system);
    cJSON_AddStringToObject(out, "model", model);
    if (has_mt)
        cJSON_AddNumberToObject(out, "max_tokens", (double)max_tokens);
    if (has_t)
        cJSON_AddNumberToObject(out, "temperature", temperature);
    cJSON_AddBoolToObject(out, "stream", stream);
    if (sid)
        snprintf(meta->session_id, sizeof meta->session_id, "%s", sid);
    snprintf(meta->model, sizeof meta->model, "%s", model);
    meta->stream = stream;
    return out;
}

/* Content: a string or an array of {type:"text", text}. Appends the text of
 * blocks to flat (if non-NULL). */
static int s_content(const cJSON *c, const char *where, char *err, size_t errlen)
{
    if (cJSON_IsString(c))
        return 0;
    if (!cJSON_IsArray(c)) {
        snprintf(err, errlen, "%s: must be a string or an array of content blocks", where);
        return -1;
    }
    int i = 0;
    const cJSON *b;
    cJSON_ArrayForEach(b, c)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(b, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(b, "text");
        if (!cJSON_IsObject(b) || !cJSON_IsString(type)) {
            snprintf(err, errlen, "%s.%d.type: Field required", where, i);
            return -1;
        }
        if (strcmp(type->valuestring, "text") != 0) {
            snprintf(err, errlen, "%s.%d.type: only \"text\" blocks are supported", where, i);
            return -1;
        }
        if (!cJSON_IsString(text)) {
            snprintf(err, errlen, "%s.%d.text: Field required", where, i);
            return -1;
        }
        i++;
    }
    return 0;
}

cJSON *af_validate_messages(const cJSON *in, af_chat_meta_t *meta, char *err, size_t errlen)
{
    static const char *const allowed[] = {"model", "max_tokens", "messages", "system",
                                          "temperature", "stream", "metadata", NULL};
    memset(meta, 0, sizeof *meta);
    if (!cJSON_IsObject(in)) {
        snprintf(err, errlen, "body: must be a JSON object");
        return NULL;
    }
    if (s_only(in, allowed, err, errlen) < 0)
        return NULL;
    const char *model = NULL;
    long max_tokens = 0;
    double temperature = 0;
    bool stream = false;
    int r = s_str(in, "model", NULL, true, 127, &model, err, errlen);
    if (r < 0)
        return NULL;
    if (r == 0) {
        snprintf(err, errlen, "model: Field required");
        return NULL;
    }
    r = s_int(in, "max_tokens", 1, AF_MAX_TOKENS_MAX, &max_tokens, err, errlen);
    if (r < 0)
        return NULL;
    if (r == 0) {
        snprintf(err, errlen, "max_tokens: Field required");
        return NULL;
    }
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(in, "messages");
    if (!msgs) {
        snprintf(err, errlen, "messages: Field required");
        return NULL;
    }
    if (!cJSON_IsArray(msgs) || cJSON_GetArraySize(msgs) == 0) {
        snprintf(err, errlen, "messages: must be a non-empty array");
        return NULL;
    }
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        char where[48];
        if (!cJSON_IsObject(m)) {
            snprintf(err, errlen, "messages.%d: must be an object", i);
            return NULL;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!cJSON_IsString(role) ||
            (strcmp(role->valuestring, "user") != 0 && strcmp(role->valuestring, "assistant") != 0)) {
            snprintf(err, errlen, "messages.%d.role: must be \"user\" or \"assistant\"", i);
            return NULL;
        }
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (!content) {
            snprintf(err, errlen, "messages.%d.content: Field required", i);
            return NULL;
        }
        snprintf(where, sizeof where, "messages.%d.content", i);
        if (s_content(content, where, err, errlen) < 0)
            return NULL;
        const cJSON *k;
        cJSON_ArrayForEach(k, m)
        {
            if (strcmp(k->string, "role") != 0 && strcmp(k->string, "content") != 0) {
                snprintf(err, errlen, "messages.%d.%.32s: Extra inputs are not permitted", i,
                         k->string);
                return NULL;
            }
        }
        i++;
    }
    /* system: a string or text blocks, flattened for CHAT (a string). */
    const cJSON *sys = cJSON_GetObjectItemCaseSensitive(in, "system");
    char *system = NULL;
    if (sys && !cJSON_IsNull(sys)) {
        if (s_content(sys, "system", err, errlen) < 0)
            return NULL;
        if (cJSON_IsString(sys)) {
            system = strdup(sys->valuestring);
        } else {
            size_t total = 1;
            const cJSON *b;
            cJSON_ArrayForEach(b, sys) total += strlen(cJSON_GetObjectItem(b, "text")->valuestring) + 1;
            system = calloc(1, total);
            if (system) {
                cJSON_ArrayForEach(b, sys)
                {
                    if (system[0])
                        strcat(system, "\n");
                    strcat(system, cJSON_GetObjectItem(b, "text")->valuestring);
                }
            }
        }
        if (!system) {
            snprintf(err, errlen, "system: out of memory");
            return NULL;
        }
    }
    int has_t = s_num(in, "temperature", 0.0, 1.0, &temperature, err, errlen);
    if (has_t < 0 || s_bool(in, "stream", &stream, err, errlen) < 0) {
        free(system);
        return NULL;
    }
    const cJSON *md = cJSON_GetObjectItemCaseSensitive(in, "metadata");
    if (md && !cJSON_IsNull(md) && !cJSON_IsObject(md)) {
        free(system);
        snprintf(err, errlen, "metadata: must be an object");
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "messages", cJSON_Duplicate(msgs, 1));
    if (system)
        cJSON_AddStringToObject(out, "system", system);
    free(system);
    cJSON_AddStringToObject(out, "model", model);
    cJSON_AddNumberToObject(out, "max_tokens", (double)max_tokens);
    if (has_t)
        cJSON_AddNumberToObject(out, "temperature", temperature);
    cJSON_AddBoolToObject(out, "stream", stream);
    snprintf(meta->model, sizeof meta->model, "%s", model);
    meta->stream = stream;
    return out;
}

cJSON *af_validate_spawn(const cJSON *in, char *err, size_t errlen)
{
    static const char *const allowed[] = {"spec", "count", "cores", "memory_mb", "image", NULL};
    static const char *const spec_allowed[] = {"cores", "memory_mb", "image", NULL};
    cJSON *out = cJSON_CreateObject();
    if (!in) /* empty body: all defaults */
        return out;
    if (!cJSON_IsObject(in)) {
        snprintf(err, errlen, "body: must be a JSON object");
        goto fail;
    }
    if (s_only(in, allowed, err, errlen) < 0)
        goto fail;
    const cJSON *spec = cJSON_GetObjectItemCaseSensitive(in, "spec");
    const cJSON *src = in;
    if (spec && !cJSON_IsNull(spec)) {
        if (!cJSON_IsObject(spec)) {
            snprintf(err, errlen, "spec: must be an object");
            goto fail;
        }
        if (cJSON_GetObjectItem(in, "cores") || cJSON_GetObjectItem(in, "memory_mb") ||
            cJSON_GetObjectItem(in, "image")) {
            snprintf(err, errlen, "spec: give the spec fields inside spec or at top level, not both");
            goto fail;
        }
        if (s_only(spec, spec_allowed, err, errlen) < 0)
            goto fail;
        src = spec;
    }
    long cores = 0, mem = 0, count = 0;
    const char *image = NULL;
    int hc = s_int(src, "cores", 1, 8, &cores, err, errlen);
    int hm = hc < 0 ? -1 : s_int(src, "memory_mb", 512, 16384, &mem, err, errlen);
    int hi = hm < 0 ? -1 : s_str(src, "image", NULL, true, 128, &image, err, errlen);
    int hn = hi < 0 ? -1 : s_int(in, "count", 1, 50, &count, err, errlen);
    if (hn < 0)
        goto fail;
    if (hc || hm || hi) {
        cJSON *s = cJSON_AddObjectToObject(out, "spec");
        if (hc)
            cJSON_AddNumberToObject(s, "cores", (double)cores);
        if (hm)
            cJSON_AddNumberToObject(s, "memory_mb", (double)mem);
        if (hi)
            cJSON_AddStringToObject(s, "image", image);
    }
    if (hn)
        cJSON_AddNumberToObject(out, "count", (double)count);
    return out;
fail:
    cJSON_Delete(out);
    return NULL;
}

int af_validate_scale(const cJSON *in, long *target, char *err, size_t errlen)
{
    static const char *const allowed[] = {"target", "reason", NULL};
    if (!cJSON_IsObject(in)) {
        snprintf(err, errlen, "body: must be a JSON object");
        return -1;
    }
    if (s_only(in, allowed, err, errlen) < 0)
        return -1;
    int r = s_int(in, "target", 0, 100000, target, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        snprintf(err, errlen, "target: Field required");
        return -1;
    }
    const char *reason = NULL;
    if (s_str(in, "reason", NULL, false, 256, &reason, err, errlen) < 0)
        return -1;
    return 0;
}

int af_validate_agent_ref(const cJSON *in, char *agent_id, char *err, size_t errlen)
{
    static const char *const allowed[] = {"agent_id", NULL};
    if (!cJSON_IsObject(in)) {
        snprintf(err, errlen, "body: must be a JSON object");
        return -1;
    }
    if (s_only(in, allowed, err, errlen) < 0)
        return -1;
    const char *id = NULL;
    int r = s_str(in, "agent_id", NULL, true, AF_ID_MAX, &id, err, errlen);
    if (r < 0)
        return -1;
    if (r == 0) {
        snprintf(err, errlen, "agent_id: Field required");
        return -1;
    }
    if (!af_validate_id(id)) {
        snprintf(err, errlen, "agent_id: must be 1..63 of [A-Za-z0-9_-]");
        return -1;
    }
    snprintf(agent_id, AF_ID_MAX + 1, "%s", id);
    return 0;
}
