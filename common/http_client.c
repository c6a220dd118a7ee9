/* JSON-over-HTTP requests on curl_loop. Contract: every started request calls
 * its callback exactly once. */
#include "http_client.h"

#include "curl_loop.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AF_HTTP_CLIENT_MAX_RESPONSE ((size_t)16 * 1024 * 1024)

typedef struct s_req {
    af_http_client_t *client;
    struct s_req *next, *prev;
    CURL *easy;
    struct curl_slist *headers;
    char *body, *resp;
    size_t len, cap;
    long timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
    af_http_client_fn *fn;
    void *arg;
} s_req_t;

struct af_http_client_t {
    af_curl_loop_t *loop;
    s_req_t *reqs;
    int pending;
};

static size_t s_on_write(char *ptr, size_t size, size_t n, void *arg)
{
    s_req_t *r = arg;
    size_t add = size * n;
    if (r->len + add + 1 > r->cap) {
        size_t cap = (r->len + add + 1) * 2;
        if (cap > AF_HTTP_CLIENT_MAX_RESPONSE)
            return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
        char *p = realloc(r->resp, cap);
        if (!p)
            return 0;
        r->resp = p;
        r->cap = cap;
    }
    memcpy(r->resp + r->len, ptr, add);
    r->len += add;
    r->resp[r->len] = '\0';
    return add;
}

static void s_req_free(s_req_t *r)
{
    af_http_client_t *self = r->client;
    if (r->prev)
        r->prev->next = r->next;
    else
        self->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    self->pending--;
    curl_slist_free_all(r->headers);
    curl_easy_cleanup(r->easy);
    free(r->body);
    free(r->resp);
    free(r);
}

static void s_on_done(CURL *easy, CURLcode res, void *arg)
{
    s_req_t *r = arg;
    long status = 0;
    char err[CURL_ERROR_SIZE + 64] = "";
    if (res == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    else if (res == CURLE_OPERATION_TIMEDOUT)
        snprintf(err, sizeof err, "timeout after %ld ms", r->timeout_ms);
    else if (res == CURLE_WRITE_ERROR)
        snprintf(err, sizeof err, "response larger than %zu bytes", AF_HTTP_CLIENT_MAX_RESPONSE);
    else
        snprintf(err, sizeof err, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(res));
    r->fn(r->arg, status, r->resp ? r->resp : "", res == CURLE_OK ? NULL : err);
    s_req_free(r);
}

af_http_client_t *af_http_client_new(struct event_base *base)
{
    af_http_client_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->loop = af_curl_loop_new(base);
    if (!self->loop) {
        free(self);
        return NULL;
    }
    return self;
}

void af_http_client_destroy(af_http_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_http_client_t *self = *self_p;
    for (s_req_t *r = self->reqs, *next; r; r = next) {
        next = r->next; /* the callback may not start requests on a dying client */
        af_curl_loop_remove(self->loop, r->easy);
        r->fn(r->arg, 0, "", "client shut down");
        s_req_free(r);
    }
    af_curl_loop_destroy(&self->loop);
    free(self);
    *self_p = NULL;
}

int af_http_client_request(af_http_client_t *self, const char *method, const char *url,
                           const char *json_body, long timeout_ms, af_http_client_fn *fn,
                           void *arg)
{
    s_req_t *r = calloc(1, sizeof *r);
    if (!r)
        return -1;
    r->client = self;
    r->fn = fn;
    r->arg = arg;
    r->timeout_ms = timeout_ms;
    r->easy = curl_easy_init();
    if (!r->easy) {
        free(r);
        return -1;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    r->headers = curl_slist_append(NULL, "Accept: application/json");
    if (json_body) {
        r->body = strdup(json_body);
        r->headers = curl_slist_append(r->headers, "Content-Type: application/json");
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    r->next = self->reqs;
    if (self->reqs)
        self->reqs->prev = r;
    self->reqs = r;
    self->pending++;
    if (af_curl_loop_add(self->loop, e, s_on_done, r) < 0) {
        af_error("event=http_request_start_failed method=%s", method);
        s_req_free(r);
        return -1;
    }
    return 0;
}

int af_http_client_pending(const af_http_client_t *self) { return self->pending; }
