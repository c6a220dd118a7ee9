/* SSE framing. See sse.h. */
#include "sse.h"

#include <stdlib.h>
#include <string.h>

int af_sse_format(struct evbuffer *out, const char *event, const char *data)
{
    if (event && (strchr(event, '\n') || strchr(event, '\r')))
        return -1;
    if (event && evbuffer_add_printf(out, "event: %s\n", event) < 0)
        return -1;
    const char *p = data ? data : "";
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        evbuffer_add(out, "data: ", 6);
        evbuffer_add(out, p, n);
        evbuffer_add(out, "\n", 1);
        p += n;
        if (!*p)
            break;
        if (p[0] == '\r' && p[1] == '\n')
            p++;
        p++;
    }
    return evbuffer_add(out, "\n", 1);
}

int af_sse_format_json(struct evbuffer *out, const char *event, const cJSON *obj)
{
    char *text = cJSON_PrintUnformatted(obj);
    if (!text)
        return -1;
    int rc = af_sse_format(out, event, text);
    free(text);
    return rc;
}

void af_sse_start(struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
    evhttp_add_header(h, "Cache-Control", "no-cache");
    evhttp_add_header(h, "X-Accel-Buffering", "no");
    evhttp_send_reply_start(req, 200, "OK");
}

void af_sse_send_json(struct evhttp_request *req, const char *event, const cJSON *obj)
{
    struct evbuffer *b = evbuffer_new();
    if (!b)
        return;
    if (af_sse_format_json(b, event, obj) == 0)
        evhttp_send_reply_chunk(req, b);
    evbuffer_free(b);
}

void af_sse_end(struct evhttp_request *req) { evhttp_send_reply_end(req); }
