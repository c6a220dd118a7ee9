/* Server-sent events: framing ("event: NAME\ndata: DATA\n\n", multi-line data
 * split into several data: lines) and writing them as chunks of an evhttp
 * reply. Framing is pure and unit-tested; the writers only add evhttp calls. */
#ifndef AF_GW_SSE_H
#define AF_GW_SSE_H

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>

/* Appends one event to out. event may be NULL (data-only event). */
int af_sse_format(struct evbuffer *out, const char *event, const char *data);
/* Same with data = the compact JSON of obj. */
int af_sse_format_json(struct evbuffer *out, const char *event, const cJSON *obj);

/* Starts a 200 text/event-stream chunked reply. */
void af_sse_start(struct evhttp_request *req);
/* Sends one event as a chunk. */
void af_sse_send_json(struct evhttp_request *req, const char *event, const cJSON *obj);
/* Ends the chunked reply (the request is then done and freed by evhttp). */
void af_sse_end(struct evhttp_request *req);

#endif
