/* Messages API wire shapes. See wire.h. */
#include "wire.h"

#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

const char *fa_wire_error_type(int status)
{
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 405:
        return "invalid_request_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 529:
        return "overloaded_error";
    case 500:
    default:
        return "api_error";
    }
}

cJSON *fa_wire_error(const char *type, const char *message)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "type", "error");
    cJSON *err = cJSON_AddObjectToObject(body, "error");
    cJSON_AddStringToObject(err, "type", type);
    cJSON_AddStringToObject(err, "message", message);
    return body;
}

static cJSON *s_text_string(const char *text, size_t len)
{
    char *copy = malloc(len + 1);
    if (!copy)
        return NULL;
    memcpy(copy, text, len);
    copy[len] = '\0';
    cJSON *s = cJSON_CreateString(copy);
    free(copy);
    return s;
}

cJSON *fa_wire_message(const char *id, const char *model, const char *text, size_t textlen,
                       const char *stop_reason, long input_tokens, long output_tokens)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", id);
    cJSON_AddStringToObject(m, "type", "message");
    cJSON_AddStringToObject(m, "role", "assistant");
    cJSON_AddStringToObject(m, "model", model);
    cJSON *content = cJSON_AddArrayToObject(m, "content");
    if (text) {
        cJSON *block = cJSON_CreateObject();
        cJSON_AddStringToObject(block, "type", "text");
        cJSON_AddItemToObject(block, "text", s_text_string(text, textlen));
        cJSON_AddItemToArray(content, block);
    }
    if (stop_reason)
        cJSON_AddStringToObject(m, "stop_reason", stop_reason);
    else
        cJSON_AddNullToObject(m, "stop_reason");
    cJSON_AddNullToObject(m, "stop_sequence");
    cJSON *usage = cJSON_AddObjectToObject(m, "usage");
    cJSON_AddNumberToObject(usage, "input_tokens", (double)input_tokens);
    cJSON_AddNumberToObject(usage, "output_tokens", (double)output_tokens);
    return m;
}

int fa_wire_sse(struct evbuffer *out, const char *name, const cJSON *data)
{
    char *json = cJSON_PrintUnformatted(data);
    if (!json)
        return -1;
    int rc = evbuffer_add_printf(out, "event: %s\ndata: %s\n\n", name, json) < 0 ? -1 : 0;
    free(json);
    return rc;
}

/* Builds {"type": name} plus the caller's fields, sends it, frees it. */
static int s_event(struct evbuffer *out, const char *name, cJSON *data)
{
    if (!data)
        return -1;
    int rc = fa_wire_sse(out, name, data);
    cJSON_Delete(data);
    return rc;
}

static cJSON *s_typed(const char *type)
{
    cJSON *j = cJSON_CreateObject();
    if (j)
        cJSON_AddStringToObject(j, "type", type);
    return j;
}

int fa_wire_stream_open(struct evbuffer *out, const char *id, const char *model, long input_tokens)
{
    cJSON *start = s_typed("message_start");
    /* The real API reports output_tokens 1 in message_start; the final count
     * comes in message_delta. */
    cJSON_AddItemToObject(start, "message",
                          fa_wire_message(id, model, NULL, 0, NULL, input_tokens, 1));
    cJSON *block_start = s_typed("content_block_start");
    cJSON_AddNumberToObject(block_start, "index", 0);
    cJSON *block = cJSON_AddObjectToObject(block_start, "content_block");
    cJSON_AddStringToObject(block, "type", "text");
    cJSON_AddStringToObject(block, "text", "");
    if (s_event(out, "message_start", start) < 0 ||
        s_event(out, "content_block_start", block_start) < 0 ||
        s_event(out, "ping", s_typed("ping")) < 0)
        return -1;
    return 0;
}

int fa_wire_stream_delta(struct evbuffer *out, const char *text, size_t len)
{
    cJSON *ev = s_typed("content_block_delta");
    cJSON_AddNumberToObject(ev, "index", 0);
    cJSON *delta = cJSON_AddObjectToObject(ev, "delta");
    cJSON_AddStringToObject(delta, "type", "text_delta");
    cJSON_AddItemToObject(delta, "text", s_text_string(text, len));
    return s_event(out, "content_block_delta", ev);
}

int fa_wire_stream_close(struct evbuffer *out, const char *stop_reason, long output_tokens)
{
    cJSON *stop = s_typed("content_block_stop");
    cJSON_AddNumberToObject(stop, "index", 0);
    cJSON *md = s_typed("message_delta");
    cJSON *delta = cJSON_AddObjectToObject(md, "delta");
    cJSON_AddStringToObject(delta, "stop_reason", stop_reason);
    cJSON_AddNullToObject(delta, "stop_sequence");
    cJSON *usage = cJSON_AddObjectToObject(md, "usage");
    cJSON_AddNumberToObject(usage, "output_tokens", (double)output_tokens);
    if (s_event(out, "content_block_stop", stop) < 0 || s_event(out, "message_delta", md) < 0 ||
        s_event(out, "message_stop", s_typed("message_stop")) < 0)
        return -1;
    return 0;
}

int fa_wire_stream_error(struct evbuffer *out, const char *type, const char *message)
{
    return s_event(out, "error", fa_wire_error(type, message));
}

int fa_wire_id(char *buf, size_t len, const char *prefix)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t raw[24];
    size_t pl = strlen(prefix);
    if (len < pl + 25 || RAND_bytes(raw, sizeof raw) != 1)
        return -1;
    memcpy(buf, prefix, pl);
    for (size_t i = 0; i < sizeof raw; i++)
        buf[pl + i] = tbl[raw[i] % 62];
    buf[pl + sizeof raw] = '\0';
    return 0;
}
