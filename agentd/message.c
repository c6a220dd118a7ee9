/* Messages API bodies and stream events. See message.h. */
#include "message.h"

#include "util.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void af_message_clear(af_message_t *m)
{
    free(m->text);
    free(m->error_message);
    memset(m, 0, sizeof *m);
}

static void s_copy(char *dst, size_t cap, const cJSON *v)
{
    if (cJSON_IsString(v))
        snprintf(dst, cap, "%s", v->valuestring);
}

static int s_append(af_message_t *m, const char *s, size_t n)
{
    char *p = af_grow(m->text, &m->text_cap, m->text_len + n + 1, 128);
    if (!p)
        return -1;
    m->text = p;
    memcpy(m->text + m->text_len, s, n);
    m->text_len += n;
    m->text[m->text_len] = '\0';
    return 0;
}

static void s_usage(af_message_t *m, const cJSON *usage)
{
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(usage, "input_tokens");
    const cJSON *out = cJSON_GetObjectItemCaseSensitive(usage, "output_tokens");
    /* Range-checked before the cast: a double beyond long is undefined
     * behaviour, and no count of tokens comes near 1e15 (found by the fuzzer). */
    if (cJSON_IsNumber(in) && in->valuedouble >= 0 && in->valuedouble < 1e15)
        m->input_tokens = (long)in->valuedouble;
    if (cJSON_IsNumber(out) && out->valuedouble >= 0 && out->valuedouble < 1e15)
        m->output_tokens = (long)out->valuedouble;
}

/* An error type becomes our ERROR code and a metric label: accept only the
 * shape Anthropic uses ([a-z_], short), so junk cannot explode label sets. */
static bool s_type_ok(const char *t)
{
    size_t n = 0;
    for (; t[n]; n++)
        if (!((t[n] >= 'a' && t[n] <= 'z') || t[n] == '_'))
            return false;
    return n > 0 && n < 48;
}

static int s_error(af_message_t *m, const cJSON *root)
{
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "error");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(err, "type");
    if (!cJSON_IsString(type))
        return -1;
    snprintf(m->error_type, sizeof m->error_type, "%s",
             s_type_ok(type->valuestring) ? type->valuestring : "api_error");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
    free(m->error_message);
    m->error_message = strdup(cJSON_IsString(msg) ? msg->valuestring : "");
    return 0;
}

static bool s_fast = true;

void af_message_set_fast_path(bool on)
{
    s_fast = on;
}

/* Most events of a stream are text deltas in exactly the documented shape,
 * {"type":"content_block_delta","index":N,"delta":{"type":"text_delta","text":"..."}},
 * and most of those texts have nothing to unescape. Those are read in place;
 * anything else (escapes, control bytes, other key orders, trailing bytes)
 * goes through cJSON. Parsing each token's JSON was ~9 % of agentd's CPU. */
static bool s_fast_text_delta(const char *data, size_t len, const char **text, size_t *n)
{
    static const char head[] = "{\"type\":\"content_block_delta\",\"index\":";
    static const char mid[] = ",\"delta\":{\"type\":\"text_delta\",\"text\":\"";
    const size_t hl = sizeof head - 1, ml = sizeof mid - 1;
    if (len < hl + 1 + ml + 3 || memcmp(data, head, hl) != 0)
        return false;
    size_t i = hl, digits = 0;
    while (i < len && data[i] >= '0' && data[i] <= '9' && digits < 9) {
        i++;
        digits++;
    }
    if (digits == 0 || (digits > 1 && data[hl] == '0') || len - i < ml + 3 ||
        memcmp(data + i, mid, ml) != 0)
        return false;
    i += ml;
    size_t start = i;
    while (i < len && data[i] != '"') {
        unsigned char c = (unsigned char)data[i];
        if (c == '\\' || c < 0x20)
            return false;
        i++;
    }
    if (len - i != 3 || memcmp(data + i, "\"}}", 3) != 0)
        return false;
    *text = data + start;
    *n = i - start;
    return true;
}

af_message_ev_t af_message_apply(af_message_t *m, const char *event, const char *data,
                                 size_t len, const char **delta, size_t *delta_len)
{
    const char *fast;
    size_t fast_n;
    if (s_fast && event[0] == 'c' && !strcmp(event, "content_block_delta") &&
        s_fast_text_delta(data, len, &fast, &fast_n)) {
        size_t at = m->text_len;
        if (s_append(m, fast, fast_n) < 0)
            return AF_MESSAGE_EV_BAD;
        if (delta)
            *delta = m->text + at;
        if (delta_len)
            *delta_len = fast_n;
        return AF_MESSAGE_EV_DELTA;
    }
    /* Cheap names first: most events of a stream are deltas or pings. */
    if (!strcmp(event, "ping") || !strcmp(event, "content_block_start") ||
        !strcmp(event, "content_block_stop"))
        return AF_MESSAGE_EV_IGNORED;
    bool known = !strcmp(event, "content_block_delta") || !strcmp(event, "message_start") ||
                 !strcmp(event, "message_delta") || !strcmp(event, "message_stop") ||
                 !strcmp(event, "error");
    if (!known)
        return AF_MESSAGE_EV_IGNORED; /* new event types may be added: skip them */
    cJSON *root = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return AF_MESSAGE_EV_BAD;
    }
    af_message_ev_t ev = AF_MESSAGE_EV_BAD;
    if (!strcmp(event, "content_block_delta")) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delta");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(d, "type");
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
        if (cJSON_IsString(type) && !strcmp(type->valuestring, "text_delta") &&
            cJSON_IsString(text)) {
            size_t n = strlen(text->valuestring), at = m->text_len;
            if (s_append(m, text->valuestring, n) == 0) {
                if (delta)
                    *delta = m->text + at;
                if (delta_len)
                    *delta_len = n;
                ev = AF_MESSAGE_EV_DELTA;
            }
        } else if (cJSON_IsString(type)) {
            ev = AF_MESSAGE_EV_IGNORED; /* input_json_delta, thinking_delta, ... */
        }
    } else if (!strcmp(event, "message_start")) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
        if (cJSON_IsObject(msg)) {
            s_copy(m->id, sizeof m->id, cJSON_GetObjectItemCaseSensitive(msg, "id"));
            s_copy(m->model, sizeof m->model, cJSON_GetObjectItemCaseSensitive(msg, "model"));
            s_usage(m, cJSON_GetObjectItemCaseSensitive(msg, "usage"));
            m->started = true;
            ev = AF_MESSAGE_EV_START;
        }
    } else if (!strcmp(event, "message_delta")) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "delta");
        s_copy(m->stop_reason, sizeof m->stop_reason,
               cJSON_GetObjectItemCaseSensitive(d, "stop_reason"));
        s_usage(m, cJSON_GetObjectItemCaseSensitive(root, "usage"));
        ev = AF_MESSAGE_EV_USAGE;
    } else if (!strcmp(event, "message_stop")) {
        m->stopped = true;
        ev = AF_MESSAGE_EV_STOP;
    } else if (!strcmp(event, "error")) {
        if (s_error(m, root) == 0)
            ev = AF_MESSAGE_EV_ERROR;
    }
    cJSON_Delete(root);
    return ev;
}

int af_message_parse_error(af_message_t *m, const char *body, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    int rc = cJSON_IsObject(root) ? s_error(m, root) : -1;
    cJSON_Delete(root);
    return rc;
}

int af_message_parse_response(af_message_t *m, const char *body, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return -1;
    }
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
    int rc = -1;
    if (cJSON_IsString(type) && !strcmp(type->valuestring, "error")) {
        s_error(m, root);
    } else if (cJSON_IsString(type) && !strcmp(type->valuestring, "message")) {
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
        if (cJSON_IsArray(content)) {
            rc = 0;
            const cJSON *block;
            cJSON_ArrayForEach(block, content)
            {
                const cJSON *bt = cJSON_GetObjectItemCaseSensitive(block, "type");
                const cJSON *text = cJSON_GetObjectItemCaseSensitive(block, "text");
                if (cJSON_IsString(bt) && !strcmp(bt->valuestring, "text") &&
                    cJSON_IsString(text) &&
                    s_append(m, text->valuestring, strlen(text->valuestring)) < 0) {
                    rc = -1;
                    break;
                }
            }
            s_copy(m->id, sizeof m->id, cJSON_GetObjectItemCaseSensitive(root, "id"));
            s_copy(m->model, sizeof m->model, cJSON_GetObjectItemCaseSensitive(root, "model"));
            s_copy(m->stop_reason, sizeof m->stop_reason,
                   cJSON_GetObjectItemCaseSensitive(root, "stop_reason"));
            s_usage(m, cJSON_GetObjectItemCaseSensitive(root, "usage"));
            m->started = m->stopped = (rc == 0);
        }
    }
    cJSON_Delete(root);
    return rc;
}

char *af_message_request(const af_message_params_t *p)
{
    cJSON *body = cJSON_CreateObject();
    if (!body)
        return NULL;
    cJSON_AddStringToObject(body, "model", p->model);
    cJSON_AddNumberToObject(body, "max_tokens", (double)p->max_tokens);
    if (p->system)
        cJSON_AddItemToObject(body, "system", cJSON_Duplicate(p->system, 1));
    if (!isnan(p->temperature))
        cJSON_AddNumberToObject(body, "temperature", p->temperature);
    cJSON_AddItemToObject(body, "messages",
                          p->messages ? cJSON_Duplicate(p->messages, 1) : cJSON_CreateArray());
    if (p->stream)
        cJSON_AddBoolToObject(body, "stream", 1);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}
