/* Messages request decoder and validator. See request.h.
 * Accepted shape (the subset of the public API the fake understands):
 *   model: string (required)        max_tokens: integer >= 1 (required)
 *   messages: non-empty array of {role: "user"|"assistant",
 *             content: string | [{type:"text", text: string, ...}]} (required)
 *   system: string | [{type:"text", text}]   temperature: number 0..1
 *   stream: boolean
 * Other documented top-level fields are accepted and ignored; unknown ones are
 * refused like the real API does ("Extra inputs are not permitted"). */
#include "request.h"

#include "util.h"
#include "words.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Documented fields the fake accepts without acting on them. */
static const char *const s_ignored[] = {
    "metadata",
    "stop_sequences",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
    NULL,
};

static const char *const s_known[] = {
    "model", "max_tokens", "messages", "system", "temperature", "stream", NULL,
};

static int s_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list))
            return 1;
    return 0;
}

/* Grows a heap string; returns 0 / -1. */
typedef struct {
    char *buf;
    size_t len, cap;
} s_text_t;

static int s_text_add(s_text_t *t, const char *s, size_t n)
{
    char *nb = af_grow(t->buf, &t->cap, t->len + n + 1, 64);
    if (!nb)
        return -1;
    t->buf = nb;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
    return 0;
}

/* Validates a content value (string or array of text blocks) at `path`, adds its
 * words to *words and, when out is not NULL, its text to out. */
static int s_content(const cJSON *c, const char *path, long *words, s_text_t *out, char *err,
                     size_t errlen)
{
    if (cJSON_IsString(c)) {
        size_t n = strlen(c->valuestring);
        *words += (long)fa_words_count(c->valuestring, n);
        if (out && s_text_add(out, c->valuestring, n) < 0)
            goto nomem;
        return 0;
    }
    if (!cJSON_IsArray(c)) {
        snprintf(err, errlen, "%s: Input should be a valid string or a list of content blocks",
                 path);
        return -1;
    }
    int i = 0;
    const cJSON *block;
    cJSON_ArrayForEach(block, c)
    {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(block, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");
        if (!cJSON_IsObject(block)) {
            snprintf(err, errlen, "%s.%d: Input should be a valid dictionary", path, i);
            return -1;
        }
        if (!cJSON_IsString(type)) {
            snprintf(err, errlen, "%s.%d.type: Field required", path, i);
            return -1;
        }
        if (strcmp(type->valuestring, "text") != 0) {
            snprintf(err, errlen,
                     "%s.%d.type: content block type '%.32s' is not supported by "
                     "this fake (only 'text')",
                     path, i, type->valuestring);
            return -1;
        }
        if (!cJSON_IsString(text)) {
            snprintf(err, errlen, "%s.%d.text: Input should be a valid string", path, i);
            return -1;
        }
        size_t n = strlen(text->valuestring);
        *words += (long)fa_words_count(text->valuestring, n);
        if (out && ((out->len && s_text_add(out, " ", 1) < 0) ||
                    s_text_add(out, text->valuestring, n) < 0))
            goto nomem;
        i++;
    }
    return 0;
nomem:
    snprintf(err, errlen, "%s: out of memory", path);
    return -1;
}

/* Reads "[[name:" ... "]]" from text; returns the value (up to 31 chars) in val,
 * 1 when found, 0 when absent, -1 when malformed. */
static int s_marker(const char *text, const char *name, char *val, size_t vallen)
{
    char open[32];
    snprintf(open, sizeof open, "[[%s:", name);
    const char *p = strstr(text, open);
    if (!p)
        return 0;
    p += strlen(open);
    const char *q = strstr(p, "]]");
    if (!q || (size_t)(q - p) >= vallen || q == p)
        return -1;
    memcpy(val, p, (size_t)(q - p));
    val[q - p] = '\0';
    return 1;
}

static int s_marker_long(const char *text, const char *name, long max, long *out, char *err,
                         size_t errlen)
{
    char val[32];
    int rc = s_marker(text, name, val, sizeof val);
    *out = -1;
    if (rc == 0)
        return 0;
    char *end = NULL;
    long v = rc > 0 ? strtol(val, &end, 10) : -1;
    if (rc < 0 || end == val || *end || v < 0 || v > max) {
        snprintf(err, errlen, "messages: marker [[%s:N]] needs an integer N in 0..%ld", name, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int s_markers(fa_request_t *r, char *err, size_t errlen)
{
    const char *t = r->last_user_text;
    char val[32];
    int rc = s_marker(t, "fault", val, sizeof val);
    if (rc < 0 ||
        (rc > 0 && (fa_fault_parse(val, &r->fault) < 0 || r->fault.kind == FA_FAULT_NONE))) {
        snprintf(err, errlen,
                 "messages: marker [[fault:X]] needs X in 400, 401, 403, 404, 413, "
                 "429, 500, 529, midstream, hang");
        return -1;
    }
    if (s_marker_long(t, "words", FA_WORDS_MAX, &r->words, err, errlen) < 0 ||
        s_marker_long(t, "tps", 1000000, &r->tps, err, errlen) < 0 ||
        s_marker_long(t, "latency", 3600000, &r->latency_ms, err, errlen) < 0)
        return -1;
    return 0;
}

static int s_messages(fa_request_t *r, const cJSON *msgs, char *err, size_t errlen)
{
    if (!msgs) {
        snprintf(err, errlen, "messages: Field required");
        return -1;
    }
    if (!cJSON_IsArray(msgs)) {
        snprintf(err, errlen, "messages: Input should be a valid list");
        return -1;
    }
    if (cJSON_GetArraySize(msgs) == 0) {
        snprintf(err, errlen, "messages: at least one message is required");
        return -1;
    }
    const cJSON *last_user = NULL;
    int i = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        char path[64];
        if (!cJSON_IsObject(m)) {
            snprintf(err, errlen, "messages.%d: Input should be a valid dictionary", i);
            return -1;
        }
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
        if (!role) {
            snprintf(err, errlen, "messages.%d.role: Field required", i);
            return -1;
        }
        if (!cJSON_IsString(role) || (strcmp(role->valuestring, "user") != 0 &&
                                      strcmp(role->valuestring, "assistant") != 0)) {
            snprintf(err, errlen, "messages.%d.role: Input should be 'user' or 'assistant'", i);
            return -1;
        }
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(m, "content");
        snprintf(path, sizeof path, "messages.%d.content", i);
        if (!content) {
            snprintf(err, errlen, "%s: Field required", path);
            return -1;
        }
        if (s_content(content, path, &r->input_tokens, NULL, err, errlen) < 0)
            return -1;
        if (!strcmp(role->valuestring, "user"))
            last_user = content;
        i++;
    }
    s_text_t text = {0};
    long ignored = 0;
    if (last_user && s_content(last_user, "messages", &ignored, &text, err, errlen) < 0) {
        free(text.buf);
        return -1;
    }
    r->last_user_text = text.buf ? text.buf : strdup("");
    if (!r->last_user_text) {
        snprintf(err, errlen, "messages: out of memory");
        return -1;
    }
    return 0;
}

static int s_validate(fa_request_t *r, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *item;
    cJSON_ArrayForEach(item, root)
    {
        if (!s_in(item->string, s_known) && !s_in(item->string, s_ignored)) {
            snprintf(err, errlen, "%.64s: Extra inputs are not permitted", item->string);
            return -1;
        }
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!model) {
        snprintf(err, errlen, "model: Field required");
        return -1;
    }
    if (!cJSON_IsString(model) || !*model->valuestring) {
        snprintf(err, errlen, "model: Input should be a non-empty string");
        return -1;
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "max_tokens");
    if (!mt) {
        snprintf(err, errlen, "max_tokens: Field required");
        return -1;
    }
    if (!cJSON_IsNumber(mt) || mt->valuedouble != floor(mt->valuedouble) || mt->valuedouble < 1 ||
        mt->valuedouble > 1e9) {
        snprintf(err, errlen, "max_tokens: Input should be a positive integer");
        return -1;
    }
    r->max_tokens = (long)mt->valuedouble;
    const cJSON *temp = cJSON_GetObjectItemCaseSensitive(root, "temperature");
    if (temp && (!cJSON_IsNumber(temp) || !(temp->valuedouble >= 0 && temp->valuedouble <= 1))) {
        snprintf(err, errlen, "temperature: Input should be a number between 0 and 1");
        return -1;
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
    if (stream && !cJSON_IsBool(stream)) {
        snprintf(err, errlen, "stream: Input should be a valid boolean");
        return -1;
    }
    r->stream = cJSON_IsTrue(stream);
    const cJSON *system = cJSON_GetObjectItemCaseSensitive(root, "system");
    if (system && s_content(system, "system", &r->input_tokens, NULL, err, errlen) < 0)
        return -1;
    if (s_messages(r, cJSON_GetObjectItemCaseSensitive(root, "messages"), err, errlen) < 0)
        return -1;
    r->model = strdup(model->valuestring);
    if (!r->model) {
        snprintf(err, errlen, "model: out of memory");
        return -1;
    }
    return s_markers(r, err, errlen);
}

fa_request_t *fa_request_decode(const char *data, size_t len, char *err, size_t errlen)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!root) {
        snprintf(err, errlen, "request body is not valid JSON");
        return NULL;
    }
    while (end && end < data + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (end && end < data + len) {
        cJSON_Delete(root);
        snprintf(err, errlen, "request body is not valid JSON: trailing data");
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "request body must be a JSON object");
        return NULL;
    }
    fa_request_t *r = calloc(1, sizeof *r);
    if (!r) {
        cJSON_Delete(root);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r->words = r->tps = r->latency_ms = -1;
    int rc = s_validate(r, root, err, errlen);
    cJSON_Delete(root);
    if (rc < 0)
        fa_request_destroy(&r);
    return r;
}

void fa_request_destroy(fa_request_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fa_request_t *self = *self_p;
    free(self->model);
    free(self->last_user_text);
    free(self);
    *self_p = NULL;
}
