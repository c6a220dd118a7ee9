/* The gateway's HTTP API from fleetctl's side: one blocking libcurl request
 * per call (a CLI has nothing else to do meanwhile), SSE fed to a callback as
 * bytes arrive, and HTTP outcomes mapped to a clear message and an exit code. */
#ifndef AF_CLI_API_H
#define AF_CLI_API_H

#include "cli.h"
#include "sse.h"

#include <cjson/cJSON.h>

typedef struct {
    long status;       /* HTTP status, 0 when no response arrived */
    cJSON *json;       /* parsed body when it was JSON (caller frees via af_cli_resp_free) */
    char *body;        /* raw body (NUL-terminated) */
    double retry_after;/* Retry-After header, seconds (0: none) */
    char err[256];     /* transport failure, when status is 0 */
    bool streamed;     /* the body was text/event-stream and went to the callback */
} af_cli_resp_t;

void af_cli_resp_free(af_cli_resp_t *resp);

/* Sends method path (e.g. "/v1/agents") with body (not taken, may be NULL).
 * Returns 0 when a response arrived (any status), -1 on a transport failure
 * (message in resp->err). */
int af_cli_api_call(const af_cli_t *cli, const char *method, const char *path, const cJSON *body,
                    af_cli_resp_t *resp);

/* Like af_cli_api_call for POSTs that may answer with SSE: a 2xx
 * text/event-stream body is fed to fn event by event as it arrives; any other
 * body is collected into resp as usual. */
int af_cli_api_stream(const af_cli_t *cli, const char *path, const cJSON *body,
                      af_cli_sse_fn *fn, void *arg, af_cli_resp_t *resp);

/* Exit code for an HTTP status (0 for 2xx; see cli.h). */
int af_cli_exit_code(long status);

/* Prints "fleetctl: <what>: <message> (HTTP <status> <type>)" for a failed
 * call, with a hint for auth and connection problems, and returns the exit
 * code. Pure formatting lives in af_cli_error_text (unit-tested). */
int af_cli_report(const af_cli_t *cli, const char *what, const af_cli_resp_t *resp);
void af_cli_error_text(const char *url, const char *what, const af_cli_resp_t *resp, char *out,
                       size_t outlen);

/* Returns 0 when a token is configured; otherwise prints how to get one and
 * returns -1 (the caller exits with AF_CLI_AUTH). */
int af_cli_need_token(const af_cli_t *cli);

#endif
