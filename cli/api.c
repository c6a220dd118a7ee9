/* fleetctl HTTP client. See api.h. */
#include "api.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_BODY ((size_t)16 * 1024 * 1024)

typedef struct {
    af_cli_resp_t *resp;
    char *buf;
    size_t len;
    bool too_big;
    af_cli_sse_t *sse;  /* set when streaming and the reply is an event stream */
    af_cli_sse_fn *fn;
    void *arg;
    bool stopped;
    CURL *curl;
} s_xfer_t;

void af_cli_resp_free(af_cli_resp_t *resp)
{
    if (!resp)
        return;
    cJSON_Delete(resp->json);
    free(resp->body);
    resp->json = NULL;
    resp->body = NULL;
}

static bool s_is_sse(s_xfer_t *x)
{
    char *ct = NULL;
    long code = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(x->curl, CURLINFO_CONTENT_TYPE, &ct);
    return code >= 200 && code < 300 && ct && !strncasecmp(ct, "text/event-stream", 17);
}

static size_t s_write(char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_xfer_t *x = arg;
    size_t n = size * nmemb;
    if (x->fn && !x->sse && x->len == 0 && s_is_sse(x)) {
        x->sse = af_cli_sse_new(x->fn, x->arg, (size_t)4 * 1024 * 1024);
        if (!x->sse)
            return 0;
        x->resp->streamed = true;
    }
    if (x->sse) {
        if (af_cli_sse_feed(x->sse, ptr, n) < 0) {
            x->stopped = true;
            return 0; /* aborts the transfer */
        }
        return n;
    }
    if (x->len + n > MAX_BODY) {
        x->too_big = true;
        return 0;
    }
    char *nb = realloc(x->buf, x->len + n + 1);
    if (!nb)
        return 0;
    x->buf = nb;
    memcpy(x->buf + x->len, ptr, n);
    x->len += n;
    x->buf[x->len] = 0;
    return n;
}

static size_t s_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    s_xfer_t *x = arg;
    size_t n = size * nmemb;
    if (n > 12 && !strncasecmp(ptr, "retry-after:", 12)) {
        char tmp[32];
        size_t k = n - 12 < sizeof tmp - 1 ? n - 12 : sizeof tmp - 1;
        memcpy(tmp, ptr + 12, k);
        tmp[k] = 0;
        x->resp->retry_after = strtod(tmp, NULL);
    }
    return n;
}

static int s_perform(const af_cli_t *cli, const char *method, const char *path, const cJSON *body,
                     af_cli_sse_fn *fn, void *arg, af_cli_resp_t *resp)
{
    memset(resp, 0, sizeof *resp);
    static bool inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = true;
    }
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(resp->err, sizeof resp->err, "cannot initialise libcurl");
        return -1;
    }
    char url[2048];
    const char *base = cli->url ? cli->url : "";
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    snprintf(url, sizeof url, "%.*s%s", (int)bl, base, path);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    struct curl_slist *hdrs = NULL;
    char auth[8300];
    if (cli->token && *cli->token) {
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", cli->token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    hdrs = curl_slist_append(hdrs, "Accept: application/json, text/event-stream");
    if (text)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    s_xfer_t x = {.resp = resp, .fn = fn, .arg = arg, .curl = c};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (text) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, text);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(text));
    } else if (!strcmp(method, "POST")) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, s_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "fleetctl/0.1.0");
    if (fn) {
        /* A stream may run long: fail only when it goes silent. */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, cli->timeout_s > 0 ? cli->timeout_s : 120L);
    } else if (cli->timeout_s > 0) {
        curl_easy_setopt(c, CURLOPT_TIMEOUT, cli->timeout_s);
    }
    if (cli->insecure) {
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (cli->cacert && *cli->cacert)
        curl_easy_setopt(c, CURLOPT_CAINFO, cli->cacert);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    int ret = 0;
    if (rc != CURLE_OK && !(x.stopped && rc == CURLE_WRITE_ERROR)) {
        if (x.too_big)
            snprintf(resp->err, sizeof resp->err, "the reply is larger than %zu bytes", MAX_BODY);
        else
            snprintf(resp->err, sizeof resp->err, "%.160s: %s", url, curl_easy_strerror(rc));
        /* A stream cut short after its headers is still a failure to report. */
        if (!resp->streamed)
            resp->status = 0;
        ret = -1;
    }
    resp->body = x.buf;
    if (x.buf && x.len > 0)
        resp->json = cJSON_ParseWithLength(x.buf, x.len);
    af_cli_sse_destroy(&x.sse);
    curl_slist_free_all(hdrs);
    free(text);
    curl_easy_cleanup(c);
    return ret;
}

int af_cli_api_call(const af_cli_t *cli, const char *method, const char *path, const cJSON *body,
                    af_cli_resp_t *resp)
{
    return s_perform(cli, method, path, body, NULL, NULL, resp);
}

int af_cli_api_stream(const af_cli_t *cli, const char *path, const cJSON *body,
                      af_cli_sse_fn *fn, void *arg, af_cli_resp_t *resp)
{
    return s_perform(cli, "POST", path, body, fn, arg, resp);
}

int af_cli_exit_code(long status)
{
    if (status >= 200 && status < 300)
        return AF_CLI_OK;
    if (status == 0)
        return AF_CLI_UNAVAILABLE;
    if (status == 401 || status == 403)
        return AF_CLI_AUTH;
    if (status == 404)
        return AF_CLI_NOT_FOUND;
    if (status == 429)
        return AF_CLI_LIMITED;
    if (status >= 500)
        return AF_CLI_UNAVAILABLE;
    return AF_CLI_ERR;
}

void af_cli_error_text(const char *url, const char *what, const af_cli_resp_t *resp, char *out,
                       size_t outlen)
{
    if (resp->status == 0) {
        bool tls = strstr(resp->err, "SSL") || strstr(resp->err, "certificate");
        snprintf(out, outlen, "fleetctl: %s: cannot reach the gateway: %s\n  %s%s%s", what,
                 resp->err[0] ? resp->err : "no response",
                 tls ? "(a self-signed certificate? pass --cacert FILE, or -k to skip the check)"
                     : "(is it running? FLEET_URL=",
                 tls ? "" : (url ? url : ""), tls ? "" : "; `make run` starts one)");
        return;
    }
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp->json, "error");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(e, "type");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(e, "message");
    const char *t = cJSON_IsString(type) ? type->valuestring : "error";
    const char *m = cJSON_IsString(msg) ? msg->valuestring
                    : resp->body && resp->body[0] ? resp->body
                                                  : "no details";
    int n = snprintf(out, outlen, "fleetctl: %s: %s (HTTP %ld %s)", what, m, resp->status, t);
    if (n < 0 || (size_t)n >= outlen)
        return;
    const char *hint = NULL;
    if (resp->status == 401)
        hint = "set FLEET_TOKEN, e.g. export FLEET_TOKEN=$(fleetctl token --user alice)";
    else if (resp->status == 403 && !strcmp(t, "permission_error") && strstr(m, "admin"))
        hint = "this needs an admin token: fleetctl token --user U --role admin";
    else if (resp->status == 429 && resp->retry_after > 0) {
        snprintf(out + n, outlen - (size_t)n, "\n  retry after %.0f s", resp->retry_after);
        return;
    }
    if (hint)
        snprintf(out + n, outlen - (size_t)n, "\n  %s", hint);
}

int af_cli_report(const af_cli_t *cli, const char *what, const af_cli_resp_t *resp)
{
    char text[1024];
    af_cli_error_text(cli->url, what, resp, text, sizeof text);
    fprintf(stderr, "%s\n", text);
    return af_cli_exit_code(resp->status);
}

int af_cli_need_token(const af_cli_t *cli)
{
    if (cli->token && *cli->token)
        return 0;
    fprintf(stderr, "fleetctl: no credentials: set FLEET_TOKEN (a JWT or API key) or pass --token\n"
                    "  e.g. export FLEET_TOKEN=$(fleetctl token --user alice)\n");
    return -1;
}
