/* Small evhttp helpers shared by every HTTP surface (gateway, metrics, service
 * discovery, test fakes): JSON replies, Anthropic-shaped error bodies
 * {"error":{"type","message"}}, and bounded JSON body reading. */
#ifndef AF_HTTP_H
#define AF_HTTP_H

#include <cjson/cJSON.h>
#include <event2/http.h>
#include <stddef.h>

/* Standard reason phrase for a status code ("OK", "Not Found", ...). */
const char *af_http_reason(int status);

/* Sends body (not taken) as application/json with status. */
void af_http_reply_json(struct evhttp_request *req, int status, const cJSON *body);

/* Sends {"type":"error","error":{"type":type,"message":...}} with status. */
void af_http_reply_error(struct evhttp_request *req, int status, const char *type,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Reads the request body as a JSON object of at most max bytes. Returns a new
 * cJSON the caller owns, or NULL with *status (413 or 400) and a message in err
 * that says where the JSON broke. */
cJSON *af_http_read_json(struct evhttp_request *req, size_t max, int *status, char *err,
                         size_t errlen);

#endif
