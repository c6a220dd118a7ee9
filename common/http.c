/* evhttp JSON helpers. See http.h. */
#include "http.h"

#include <event2/buffer.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *af_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 529: return "Overloaded";
    default: return "Unknown";
    }
}

void af_http_reply_json(struct evhttp_request *req, int status, const cJSON *body)
{
    char *text = cJSON_PrintUnformatted(body);
    struct evbuffer *out = evbuffer_new();
    if (text) {
        evbuffer_add(out, text, strlen(text));
        evbuffer_add(out, "\n", 1);
    }
    free(text);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evhttp_send_reply(req, status, af_http_reason(status), out);
    evbuffer_free(out);
}

void af_http_reply_error(struct evhttp_request *req, int status, const char *type,
                         const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "type", "error");
    cJSON *err = cJSON_AddObjectToObject(body, "error");
    cJSON_AddStringToObject(err, "type", type);
    cJSON_AddStringToObject(err, "message", msg);
    af_http_reply_json(req, status, body);
    cJSON_Delete(body);
}

cJSON *af_http_read_json(struct evhttp_request *req, size_t max, int *status, char *err,
                         size_t errlen)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    if (len > max) {
        *status = 413;
        snprintf(err, errlen, "request body of %zu bytes exceeds the limit of %zu", len, max);
        return NULL;
    }
    if (len == 0) {
        *status = 400;
        snprintf(err, errlen, "request body is empty; expected a JSON object");
        return NULL;
    }
    const char *data = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(data, len, &end, 0);
    if (!j) {
        const char *at = cJSON_GetErrorPtr();
        size_t pos = (at && at >= data && at <= data + len) ? (size_t)(at - data) : 0;
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos; i++, col++)
            if (data[i] == '\n') {
                line++;
                col = 0;
            }
        *status = 400;
        snprintf(err, errlen, "invalid JSON at byte %zu (line %zu, column %zu)", pos, line, col);
        return NULL;
    }
    while (end && end < data + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (end && end < data + len) {
        cJSON_Delete(j);
        *status = 400;
        snprintf(err, errlen, "invalid JSON: trailing data at byte %zu", (size_t)(end - data));
        return NULL;
    }
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        *status = 400;
        snprintf(err, errlen, "request body must be a JSON object");
        return NULL;
    }
    return j;
}
