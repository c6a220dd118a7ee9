/* Integration harness for agentd: plays the manager (binds the control ROUTER,
 * answers READY with WELCOME pointing at its own gateway ROUTER) and a gateway
 * (binds the data ROUTER, sends CHATs, collects START/DELTA/DONE/ERROR), while a
 * real agentd talks to bin/fake-anthropic. Each --scenario checks what a user of
 * the fleet would notice; exit 0 = pass, 1 = a check failed (printed).
 *
 * usage: harness_agentd_fleet --scenario NAME --manager-port N --gateway-port N
 *          --fake http://127.0.0.1:P [--agent-pid PID] [--n 100] [--capacity 100]
 *          [--metrics-check] */
#include "log.h"
#include "proto.h"
#include "util.h"

#include <curl/curl.h>
#include <czmq.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define H_MAX_CHATS 512

typedef struct {
    bool used;
    int starts, deltas;
    char *text;           /* concatenated deltas */
    size_t text_len;
    cJSON *done;          /* DONE body */
    char error[64];       /* ERROR code */
    double retry_after;
    bool ended;
    uint64_t t_end;
} h_chat_t;

typedef struct {
    zsock_t *mgr, *gw;
    zpoller_t *poller;
    char gw_endpoint[128];
    char agent_id[64];
    bool registered, gw_seen;
    int readies, byes, heartbeats;
    cJSON *last_ready;
    char bye_reason[64];
    char mgr_ok_req[64];
    bool answer_manager;  /* false: play a dead manager */
    h_chat_t chats[H_MAX_CHATS];
    cJSON *last_ok;       /* last OK on the gateway link */
    char last_ok_req[64];
    const char *fake;
    const char *welcome_key; /* sent as api_key in WELCOME when set */
    int gw2_port;            /* a second gateway for the GATEWAYS check */
    int refusals;            /* ERRORs for refused frames (req "-" or "bad1") */
    char last_refusal[64];
    int failures;
} h_t;

static void h_fail(h_t *h, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "CHECK FAILED: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    h->failures++;
}

#define H_CHECK(h, cond, ...)            \
    do {                                 \
        if (!(cond))                     \
            h_fail((h), __VA_ARGS__);    \
    } while (0)

/* ---- fake-anthropic admin over HTTP (blocking is fine in a test) ----------- */

static size_t s_collect(char *p, size_t s, size_t n, void *arg)
{
    char **buf = arg;
    size_t old = *buf ? strlen(*buf) : 0;
    char *nb = realloc(*buf, old + s * n + 1);
    if (!nb)
        return 0;
    memcpy(nb + old, p, s * n);
    nb[old + s * n] = '\0';
    *buf = nb;
    return s * n;
}

static cJSON *h_fake(h_t *h, const char *path, const char *post)
{
    char url[256];
    snprintf(url, sizeof url, "%s%s", h->fake, path);
    CURL *e = curl_easy_init();
    char *buf = NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 5L);
    struct curl_slist *hd = curl_slist_append(NULL, "content-type: application/json");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hd);
    if (post)
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
    CURLcode rc = curl_easy_perform(e);
    curl_slist_free_all(hd);
    curl_easy_cleanup(e);
    cJSON *j = rc == CURLE_OK && buf ? cJSON_Parse(buf) : NULL;
    free(buf);
    return j;
}

static double h_stat(h_t *h, const char *key)
{
    cJSON *s = h_fake(h, "/_stats", NULL);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(s, key);
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    cJSON_Delete(s);
    return d;
}

/* Reads one metric sample "name{labels} value" from the agent's /metrics. */
static double h_metric(h_t *h, const char *sample)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(h->last_ready, "metrics");
    if (!cJSON_IsString(m))
        return -1;
    char url[256];
    snprintf(url, sizeof url, "http://%s/metrics", m->valuestring);
    CURL *e = curl_easy_init();
    char *buf = NULL;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT, 5L);
    curl_easy_perform(e);
    curl_easy_cleanup(e);
    double v = -1;
    size_t sl = strlen(sample);
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (!strncmp(line, sample, sl) && line[sl] == ' ')
            v = strtod(line + sl + 1, NULL);
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    return v;
}

/* ---- the two ROUTERs --------------------------------------------------------- */

static void h_send(h_t *h, zsock_t *sock, const char *verb, const char *req, cJSON *body)
{
    af_msg_t *m = af_msg_new(verb, req, body);
    m->routing_id = zframe_new(h->agent_id, strlen(h->agent_id));
    if (af_proto_send(sock, &m, AF_CODEC_CBOR) < 0)
        fprintf(stderr, "harness: send %s %s failed: %s\n", verb, req, strerror(errno));
}

static void h_on_manager(h_t *h, af_msg_t *msg)
{
    snprintf(h->agent_id, sizeof h->agent_id, "%.*s", (int)zframe_size(msg->routing_id),
             (const char *)zframe_data(msg->routing_id));
    if (!h->answer_manager)
        return;
    if (!strcmp(msg->verb, "READY")) {
        h->readies++;
        cJSON_Delete(h->last_ready);
        h->last_ready = cJSON_Duplicate(msg->body, 1);
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "agent_id", h->agent_id);
        cJSON_AddNumberToObject(b, "heartbeat_ms", 200);
        cJSON *g = cJSON_AddArrayToObject(b, "gateways");
        cJSON_AddItemToArray(g, cJSON_CreateString(h->gw_endpoint));
        if (h->welcome_key)
            cJSON_AddStringToObject(b, "api_key", h->welcome_key);
        h_send(h, h->mgr, "WELCOME", msg->req, b);
        h->registered = true;
    } else if (!strcmp(msg->verb, "HEARTBEAT")) {
        h->heartbeats++;
        if (!h->registered) /* we "restarted": make the agent re-register */
            h_send(h, h->mgr, "ERROR", msg->req,
                   cJSON_Parse("{\"code\":\"not_registered\",\"message\":\"who are you\"}"));
        else
            h_send(h, h->mgr, "HEARTBEAT", msg->req, NULL);
    } else if (!strcmp(msg->verb, "OK")) {
        snprintf(h->mgr_ok_req, sizeof h->mgr_ok_req, "%s", msg->req);
    } else if (!strcmp(msg->verb, "BYE")) {
        h->byes++;
        const char *r = af_msg_str(msg, "reason");
        snprintf(h->bye_reason, sizeof h->bye_reason, "%s", r ? r : "");
    }
}

static int h_index(const char *req)
{
    if (req[0] != 'c')
        return -1;
    int i = atoi(req + 1);
    return i >= 0 && i < H_MAX_CHATS ? i : -1;
}

static void h_on_gateway(h_t *h, af_msg_t *msg)
{
    h->gw_seen = true;
    if (!strcmp(msg->verb, "HEARTBEAT"))
        return;
    if (!strcmp(msg->verb, "OK")) {
        cJSON_Delete(h->last_ok);
        h->last_ok = cJSON_Duplicate(msg->body, 1);
        snprintf(h->last_ok_req, sizeof h->last_ok_req, "%s", msg->req);
        return;
    }
    if (!strcmp(msg->verb, "ERROR") && (!strcmp(msg->req, "-") || !strcmp(msg->req, "bad1"))) {
        const char *code = af_msg_str(msg, "code");
        snprintf(h->last_refusal, sizeof h->last_refusal, "%s", code ? code : "?");
        h->refusals++;
        return;
    }
    int i = h_index(msg->req);
    if (i < 0) {
        fprintf(stderr, "harness: %s with unexpected req %s\n", msg->verb, msg->req);
        return;
    }
    h_chat_t *c = &h->chats[i];
    if (c->ended)
        h_fail(h, "chat %s got %s after it ended", msg->req, msg->verb);
    if (!strcmp(msg->verb, "START")) {
        c->starts++;
    } else if (!strcmp(msg->verb, "DELTA")) {
        const char *t = af_msg_str(msg, "text");
        size_t n = t ? strlen(t) : 0;
        c->text = realloc(c->text, c->text_len + n + 1);
        memcpy(c->text + c->text_len, t ? t : "", n);
        c->text_len += n;
        c->text[c->text_len] = '\0';
        c->deltas++;
    } else if (!strcmp(msg->verb, "DONE")) {
        c->done = cJSON_Duplicate(msg->body, 1);
        c->ended = true;
    } else if (!strcmp(msg->verb, "ERROR")) {
        const char *code = af_msg_str(msg, "code");
        snprintf(c->error, sizeof c->error, "%s", code ? code : "?");
        c->retry_after = af_msg_num(msg, "retry_after", -1);
        c->ended = true;
    }
    if (c->ended)
        c->t_end = af_now_ns();
}

/* Handles whatever arrives within timeout_ms (at least one poll). */
static void h_pump(h_t *h, int timeout_ms)
{
    zsock_t *which = zpoller_wait(h->poller, timeout_ms);
    while (which) {
        af_msg_t *msg = NULL;
        af_proto_err_t err;
        while (af_proto_recv(which, true, 1 << 20, false, AF_CODEC_CBOR, &msg, &err) != 1) {
            if (msg) {
                if (which == h->mgr)
                    h_on_manager(h, msg);
                else
                    h_on_gateway(h, msg);
                af_msg_destroy(&msg);
            }
        }
        which = zpoller_wait(h->poller, 0);
    }
}

typedef bool (h_pred_fn)(h_t *h, void *arg);

static bool h_wait(h_t *h, h_pred_fn *pred, void *arg, int timeout_ms)
{
    uint64_t end = af_now_ns() + (uint64_t)timeout_ms * 1000000ull;
    while (!pred(h, arg)) {
        if (af_now_ns() > end)
            return false;
        h_pump(h, 20);
    }
    return true;
}

static bool p_ready(h_t *h, void *arg) { (void)arg; return h->registered && h->gw_seen; }
static bool p_ended(h_t *h, void *arg) { return h->chats[*(int *)arg].ended; }
static bool p_range_ended(h_t *h, void *arg)
{
    int *r = arg;
    for (int i = r[0]; i < r[1]; i++)
        if (!h->chats[i].ended)
            return false;
    return true;
}
static bool p_deltas(h_t *h, void *arg) { return h->chats[*(int *)arg].deltas > 0 || h->chats[*(int *)arg].ended; }
static bool p_ok(h_t *h, void *arg) { return !strcmp(h->last_ok_req, (const char *)arg); }
static bool p_bye(h_t *h, void *arg) { (void)arg; return h->byes > 0; }

static void h_chat(h_t *h, int i, const char *session, const char *user, const char *message,
                   bool stream)
{
    h_chat_t *c = &h->chats[i];
    free(c->text);
    cJSON_Delete(c->done);
    memset(c, 0, sizeof *c);
    c->used = true;
    char req[16];
    snprintf(req, sizeof req, "c%d", i);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "session_id", session);
    cJSON_AddStringToObject(b, "user", user);
    cJSON_AddStringToObject(b, "message", message);
    cJSON_AddNumberToObject(b, "max_tokens", 256);
    cJSON_AddBoolToObject(b, "stream", stream);
    h_send(h, h->gw, "CHAT", req, b);
}

static bool h_run_chat(h_t *h, int i, const char *session, const char *message, bool stream,
                       int timeout_ms)
{
    h_chat(h, i, session, "alice", message, stream);
    if (!h_wait(h, p_ended, &i, timeout_ms)) {
        h_fail(h, "chat c%d (%s) did not end within %d ms", i, message, timeout_ms);
        return false;
    }
    return true;
}

static long h_usage(const h_chat_t *c, const char *key)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(c->done, "usage");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, key);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
}

static const char *h_content(const h_chat_t *c)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->done, "content");
    return cJSON_IsString(v) ? v->valuestring : "";
}

static int h_words(const char *s)
{
    int n = 0;
    bool in = false;
    for (; *s; s++) {
        if (*s == ' ')
            in = false;
        else if (!in) {
            in = true;
            n++;
        }
    }
    return n;
}

static cJSON *h_session_get(h_t *h, const char *req, const char *session, const char *user)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "session_id", session);
    cJSON_AddStringToObject(b, "user", user);
    h->last_ok_req[0] = '\0';
    h_send(h, h->gw, "SESSION_GET", req, b);
    if (!h_wait(h, p_ok, (void *)req, 3000))
        return NULL;
    return cJSON_GetObjectItemCaseSensitive(h->last_ok, "session");
}

/* ---- scenarios ------------------------------------------------------------- */

/* n concurrent streaming sessions complete with the right text and usage; the
 * (capacity+1)th session is refused with `capacity`; history feeds turn two. */
static void sc_streams(h_t *h, int n, int capacity)
{
    cJSON_Delete(h_fake(h, "/_reset", "{}"));
    uint64_t t0 = af_now_ns();
    for (int i = 0; i < n; i++) {
        char sid[32], msg[64];
        snprintf(sid, sizeof sid, "se_%d", i);
        /* Paced (~0.6 s each) so all 100 are really in flight at once. */
        snprintf(msg, sizeof msg, "hello number %d [[words:20]] [[tps:40]]", i);
        h_chat(h, i, sid, "alice", msg, true);
    }
    int range[2] = {0, n};
    if (!h_wait(h, p_range_ended, range, 60000))
        h_fail(h, "not all %d streams ended in 60 s", n);
    double secs = (double)(af_now_ns() - t0) / 1e9;
    int ok = 0;
    for (int i = 0; i < n; i++) {
        h_chat_t *c = &h->chats[i];
        if (!c->done) {
            h_fail(h, "stream c%d ended with ERROR %s", i, c->error);
            continue;
        }
        char want[128];
        snprintf(want, sizeof want, "You said: hello number %d [[words:20]] [[tps:40]]", i);
        for (int w = 0; w < 20; w++) {
            char word[16];
            snprintf(word, sizeof word, " w%d", w);
            strcat(want, word);
        }
        const char *content = h_content(c);
        int words = h_words(want);
        if (strcmp(content, want) != 0 || !c->text || strcmp(c->text, want) != 0)
            h_fail(h, "c%d: content '%s' / deltas '%s', want '%s'", i, content, c->text ? c->text : "", want);
        else if (c->starts != 1 || c->deltas != words)
            h_fail(h, "c%d: %d START, %d DELTA, want 1 and %d", i, c->starts, c->deltas, words);
        else if (h_usage(c, "output_tokens") != words || h_usage(c, "input_tokens") != 5)
            h_fail(h, "c%d: usage in=%ld out=%ld, want 5 and %d", i, h_usage(c, "input_tokens"),
                   h_usage(c, "output_tokens"), words);
        else
            ok++;
    }
    printf("streams: %d/%d correct in %.2f s\n", ok, n, secs);
    /* One stream takes ~0.6 s: 100 one after another would take a minute. */
    H_CHECK(h, secs < 5, "%d streams took %.1f s: not concurrent", n, secs);
    /* One more session than capacity: refused. */
    if (n >= capacity) {
        int i = n;
        h_run_chat(h, i, "se_extra", "one too many", true, 5000);
        H_CHECK(h, !strcmp(h->chats[i].error, "capacity"), "session %d: got '%s', want capacity",
                capacity + 1, h->chats[i].done ? "DONE" : h->chats[i].error);
        printf("session %d: ERROR %s\n", capacity + 1, h->chats[i].error);
    }
    /* Turn two on session 0 sees the history: input tokens = both turns. */
    int j = n + 1;
    h_run_chat(h, j, "se_0", "again", false, 10000);
    long in2 = h_usage(&h->chats[j], "input_tokens");
    long want_in = 5 + h_words(h_content(&h->chats[0])) + 1;
    H_CHECK(h, in2 == want_in, "turn two input_tokens=%ld, want %ld (history not sent?)", in2, want_in);
    cJSON *s = h_session_get(h, "g1", "se_0", "alice");
    const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(s, "messages");
    H_CHECK(h, cJSON_GetArraySize(msgs) == 4, "SESSION_GET: %d messages, want 4",
            cJSON_GetArraySize(msgs));
    /* Another user's session is not found. */
    h->last_ok_req[0] = '\0';
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "session_id", "se_0");
    cJSON_AddStringToObject(b, "user", "mallory");
    h_send(h, h->gw, "SESSION_GET", "c500", b);
    int k = 500;
    h_wait(h, p_ended, &k, 3000);
    H_CHECK(h, !strcmp(h->chats[500].error, "not_found"), "other user's SESSION_GET: '%s'",
            h->chats[500].error);
    /* Stateless Messages API form: system passed through, no session kept. */
    {
        int k2 = 300;
        cJSON *b2 = cJSON_CreateObject();
        cJSON_AddStringToObject(b2, "session_id", "");
        cJSON_AddStringToObject(b2, "user", "alice");
        cJSON_AddStringToObject(b2, "system", "be brief");
        cJSON_AddItemToObject(b2, "messages",
                              cJSON_Parse("[{\"role\":\"user\",\"content\":\"one\"},"
                                          "{\"role\":\"assistant\",\"content\":\"two\"},"
                                          "{\"role\":\"user\",\"content\":\"three\"}]"));
        cJSON_AddNumberToObject(b2, "max_tokens", 64);
        h_send(h, h->gw, "CHAT", "c300", b2);
        h_wait(h, p_ended, &k2, 5000);
        H_CHECK(h, !strcmp(h_content(&h->chats[300]), "You said: three"),
                "stateless CHAT: '%s' (%s)", h_content(&h->chats[300]), h->chats[300].error);
        /* input tokens: system (2) + messages (3) words */
        H_CHECK(h, h_usage(&h->chats[300], "input_tokens") == 5, "stateless input_tokens=%ld",
                h_usage(&h->chats[300], "input_tokens"));
        printf("stateless CHAT: '%s' in=%ld\n", h_content(&h->chats[300]),
               h_usage(&h->chats[300], "input_tokens"));
    }
    /* Bad requests get invalid_request naming the field, and no upstream call. */
    {
        const char *bad[] = {"{\"session_id\":\"se_0\",\"user\":\"alice\"}",
                             "{\"session_id\":\"se_0\",\"user\":\"alice\",\"message\":\"x\",\"temperature\":7}",
                             "{\"session_id\":\"se_0\",\"user\":\"alice\",\"message\":\"x\",\"max_tokens\":0}",
                             "{\"session_id\":\"bad id!\",\"user\":\"alice\",\"message\":\"x\"}",
                             "{\"session_id\":\"se_0\",\"message\":\"x\"}"};
        double before = h_stat(h, "requests");
        for (int q = 0; q < 5; q++) {
            char rq[16];
            int k3 = 310 + q;
            snprintf(rq, sizeof rq, "c%d", k3);
            h_send(h, h->gw, "CHAT", rq, cJSON_Parse(bad[q]));
            h_wait(h, p_ended, &k3, 3000);
            H_CHECK(h, !strcmp(h->chats[k3].error, "invalid_request"), "bad CHAT %d: '%s'", q,
                    h->chats[k3].done ? "DONE" : h->chats[k3].error);
        }
        H_CHECK(h, h_stat(h, "requests") == before, "bad CHATs reached the upstream");
    }
    /* A frame set with another tag is refused with an ERROR and counted. */
    {
        zmsg_t *z = zmsg_new();
        zmsg_addmem(z, h->agent_id, strlen(h->agent_id));
        zmsg_addstr(z, "AF9");
        zmsg_addstr(z, "CHAT");
        zmsg_addstr(z, "{\"req\":\"bad1\"}");
        zmsg_send(&z, h->gw);
        uint64_t until = af_now_ns() + 3000000000ull;
        while (!h->refusals && af_now_ns() < until)
            h_pump(h, 50);
        H_CHECK(h, !strcmp(h->last_refusal, "bad_tag"), "bad tag: refusal '%s'", h->last_refusal);
        double refused = h_metric(h, "af_protocol_refused_total{reason=\"bad_tag\"}");
        H_CHECK(h, refused == 1, "af_protocol_refused_total{bad_tag}=%.0f", refused);
    }
    double active = h_metric(h, "agent_active_sessions");
    double out_tokens = h_metric(h, "agent_tokens_total{direction=\"output\"}");
    printf("metrics: agent_active_sessions=%.0f agent_tokens_total{output}=%.0f\n", active, out_tokens);
    H_CHECK(h, active == (n < capacity ? n : capacity), "agent_active_sessions=%.0f", active);
    H_CHECK(h, out_tokens > 0, "agent_tokens_total{output}=%.0f", out_tokens);
    double fake_streams = h_stat(h, "streams");
    H_CHECK(h, fake_streams == n, "fake saw %.0f streams, want %d", fake_streams, n);
}

/* CANCEL aborts the upstream transfer: the fake sees the client go away. */
static void sc_cancel(h_t *h)
{
    cJSON_Delete(h_fake(h, "/_reset", "{}"));
    int i = 1;
    h_chat(h, i, "se_c", "alice", "slow please [[words:200]] [[tps:20]]", true);
    if (!h_wait(h, p_deltas, &i, 5000))
        h_fail(h, "no delta before cancel");
    cJSON_Delete(NULL);
    h_send(h, h->gw, "CANCEL", "c1", NULL);
    uint64_t t0 = af_now_ns();
    h_wait(h, p_ended, &i, 3000);
    H_CHECK(h, !strcmp(h->chats[i].error, "cancelled"), "cancelled chat ended with '%s'",
            h->chats[i].done ? "DONE" : h->chats[i].error);
    int deltas_at_cancel = h->chats[i].deltas;
    /* The fake notices the closed connection. */
    double aborted = 0;
    for (int k = 0; k < 50 && aborted < 1; k++) {
        usleep(50000);
        aborted = h_stat(h, "aborted");
    }
    printf("cancel: ERROR cancelled after %d deltas; fake aborted=%.0f after %.0f ms\n",
           deltas_at_cancel, aborted, (double)(af_now_ns() - t0) / 1e6);
    H_CHECK(h, aborted == 1, "fake saw aborted=%.0f, want 1", aborted);
    h_pump(h, 300);
    H_CHECK(h, h->chats[i].deltas == deltas_at_cancel, "deltas kept coming after cancel");
    /* The cancelled turn did not enter the history; the session still works. */
    h_run_chat(h, 2, "se_c", "after cancel", false, 5000);
    H_CHECK(h, h->chats[2].done != NULL, "turn after cancel failed: %s", h->chats[2].error);
    cJSON *s = h_session_get(h, "g2", "se_c", "alice");
    H_CHECK(h, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "messages")) == 2,
            "history after cancel has %d messages, want 2",
            cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "messages")));
}

static void h_config(h_t *h, const char *json)
{
    cJSON *r = h_fake(h, "/_config", json);
    if (!r)
        h_fail(h, "fake /_config %s failed", json);
    cJSON_Delete(r);
    cJSON_Delete(h_fake(h, "/_reset", "{}"));
}

/* Each injected fault behaves as specified (agentd run with --retry-base 0.05
 * --max-retries 3 --upstream-timeout-ms 1000 --rate-limit 5). */
static void sc_faults(h_t *h)
{
    struct {
        const char *config;  /* fake knobs */
        const char *message;
        const char *want;    /* "DONE" or the ERROR code */
        int requests;        /* upstream requests the fake should see */
        bool stream;
    } cases[] = {
        {"{\"fault\":\"429\",\"fault_count\":2,\"retry_after\":0}", "retry me", "DONE", 3, true},
        {"{\"fault\":\"529\",\"fault_count\":2,\"retry_after\":0}", "retry me", "DONE", 3, false},
        {"{\"fault\":\"500\",\"fault_count\":1,\"retry_after\":0}", "retry me", "DONE", 2, true},
        {"{\"fault\":\"none\"}", "always [[fault:529]]", "overloaded_error", 4, true},
        {"{\"fault\":\"none\"}", "always [[fault:429]]", "rate_limit_error", 4, false},
        {"{\"fault\":\"none\"}", "always [[fault:500]]", "api_error", 4, true},
        {"{\"fault\":\"401\",\"fault_count\":1}", "no key", "authentication_error", 1, true},
        {"{\"fault\":\"400\",\"fault_count\":1}", "bad", "invalid_request_error", 1, false},
        {"{\"fault\":\"403\",\"fault_count\":1}", "no", "permission_error", 1, false},
        {"{\"fault\":\"404\",\"fault_count\":1}", "where", "not_found_error", 1, false},
        {"{\"fault\":\"none\"}", "half [[fault:midstream]] [[words:10]]", "overloaded_error", 1, true},
        {"{\"fault\":\"hang\",\"fault_count\":1}", "hang once", "DONE", 2, true},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    for (int k = 0; k < n; k++) {
        h_config(h, cases[k].config);
        char sid[16];
        snprintf(sid, sizeof sid, "se_f%d", k);
        int i = 10 + k;
        uint64_t t0 = af_now_ns();
        h_run_chat(h, i, sid, cases[k].message, cases[k].stream, 15000);
        h_chat_t *c = &h->chats[i];
        const char *got = c->done ? "DONE" : c->error;
        double reqs = h_stat(h, "requests");
        printf("fault %-50s %-6s -> %-22s upstream requests=%.0f (%.0f ms)\n", cases[k].config,
               cases[k].message, got, reqs, (double)(af_now_ns() - t0) / 1e6);
        H_CHECK(h, !strcmp(got, cases[k].want), "case %d (%s / %s): got %s, want %s", k,
                cases[k].config, cases[k].message, got, cases[k].want);
        H_CHECK(h, reqs == cases[k].requests, "case %d: fake saw %.0f requests, want %d", k, reqs,
                cases[k].requests);
        if (!strcmp(cases[k].message, "half [[fault:midstream]] [[words:10]]")) {
            H_CHECK(h, c->deltas > 0, "midstream: no delta before the ERROR");
            cJSON *s = h_session_get(h, "g3", sid, "alice");
            int nm = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(s, "messages"));
            H_CHECK(h, nm == 0, "midstream: partial turn entered history (%d messages)", nm);
        }
    }
    /* retry-after is honoured: a 429 saying "1" delays the retry by >= 1 s
     * (the backoff alone would be ~50 ms here). */
    {
        h_config(h, "{\"fault\":\"429\",\"fault_count\":1,\"retry_after\":1}");
        uint64_t t0 = af_now_ns();
        h_run_chat(h, 39, "se_after", "wait for it", true, 10000);
        double ms = (double)(af_now_ns() - t0) / 1e6;
        printf("fault 429 retry-after 1 -> %s after %.0f ms\n",
               h->chats[39].done ? "DONE" : h->chats[39].error, ms);
        H_CHECK(h, h->chats[39].done && ms >= 1000 && ms < 3000,
                "retry-after: %s after %.0f ms, want DONE after >= 1000 ms",
                h->chats[39].done ? "DONE" : h->chats[39].error, ms);
    }
    /* A timeout on every attempt: `timeout` after 1 + 3 retries. */
    h_config(h, "{\"fault\":\"hang\",\"fault_count\":0}");
    h_run_chat(h, 40, "se_hang", "hang forever", true, 20000);
    printf("fault hang (all) -> %s\n", h->chats[40].done ? "DONE" : h->chats[40].error);
    H_CHECK(h, !strcmp(h->chats[40].error, "timeout"), "hang: got %s, want timeout",
            h->chats[40].done ? "DONE" : h->chats[40].error);
    h_config(h, "{\"fault\":\"none\"}");
    /* Per-session rate limit: the 6th request within a minute is refused. */
    int limited = -1;
    for (int k = 0; k < 6; k++) {
        h_run_chat(h, 50 + k, "se_rate", "quick", false, 5000);
        if (!strcmp(h->chats[50 + k].error, "rate_limited")) {
            limited = k;
            break;
        }
    }
    printf("rate limit: request %d refused, retry_after=%.1f s\n", limited + 1,
           limited >= 0 ? h->chats[50 + limited].retry_after : -1);
    H_CHECK(h, limited == 5, "rate limit: refused at request %d, want 6", limited + 1);
    H_CHECK(h, limited < 0 || h->chats[50 + limited].retry_after > 0, "rate limit: no retry_after");
    double rl = h_metric(h, "agent_rate_limited_total");
    H_CHECK(h, rl == 1, "agent_rate_limited_total=%.0f, want 1", rl);
    double ue = h_metric(h, "agent_upstream_errors_total{type=\"overloaded_error\"}");
    H_CHECK(h, ue >= 5, "agent_upstream_errors_total{overloaded_error}=%.0f", ue);
}

/* SIGTERM drains: in-flight streams finish, then BYE, then the agent exits. */
static void sc_drain(h_t *h, pid_t agent)
{
    for (int i = 0; i < 10; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "se_d%d", i);
        h_chat(h, i, sid, "alice", "drain me [[words:30]] [[tps:30]]", true);
    }
    int i0 = 0;
    if (!h_wait(h, p_deltas, &i0, 5000))
        h_fail(h, "no delta before SIGTERM");
    kill(agent, SIGTERM);
    usleep(200000); /* let the signal land before the next CHAT */
    h_chat(h, 20, "se_new", "alice", "too late", true);
    int range[2] = {0, 10};
    h_wait(h, p_range_ended, range, 10000);
    int done = 0;
    for (int i = 0; i < 10; i++)
        done += h->chats[i].done != NULL;
    int i20 = 20;
    h_wait(h, p_ended, &i20, 3000);
    h_wait(h, p_bye, NULL, 5000);
    printf("drain: %d/10 in-flight streams finished; new CHAT -> %s; BYE reason=%s\n", done,
           h->chats[20].done ? "DONE" : h->chats[20].error, h->bye_reason);
    H_CHECK(h, done == 10, "only %d/10 in-flight streams finished", done);
    H_CHECK(h, !strcmp(h->chats[20].error, "draining"), "CHAT while draining: %s",
            h->chats[20].done ? "DONE" : h->chats[20].error);
    H_CHECK(h, h->byes == 1 && !strcmp(h->bye_reason, "sigterm"), "BYE: %d, reason %s", h->byes,
            h->bye_reason);
    /* BYE came after the last DONE. */
    uint64_t last = 0;
    for (int i = 0; i < 10; i++)
        if (h->chats[i].t_end > last)
            last = h->chats[i].t_end;
    int status = 0;
    for (int k = 0; k < 50; k++) {
        if (waitpid(agent, &status, WNOHANG) == agent || kill(agent, 0) != 0)
            break;
        usleep(100000);
    }
    H_CHECK(h, kill(agent, 0) != 0, "agentd still running after drain");
}

/* Reads everything arriving on sock for up to ms (the main sockets keep being
 * served); returns how many messages came. Stops early, with the verb copied,
 * at a DONE or ERROR when verb_out is given. */
static int s_drain_sock(h_t *h, zsock_t *sock, int ms, char *verb_out)
{
    int n = 0;
    uint64_t end = af_now_ns() + (uint64_t)ms * 1000000ull;
    while (af_now_ns() < end) {
        af_msg_t *m = NULL;
        af_proto_err_t err;
        int rc = af_proto_recv(sock, true, 1 << 20, false, AF_CODEC_CBOR, &m, &err);
        if (rc == 1) {
            h_pump(h, 10);
            continue;
        }
        if (!m)
            continue;
        n++;
        bool final = !strcmp(m->verb, "DONE") || !strcmp(m->verb, "ERROR");
        if (verb_out && final)
            snprintf(verb_out, 16, "%.15s", m->verb);
        af_msg_destroy(&m);
        if (verb_out && final)
            break;
    }
    return n;
}

/* A restarted manager (forgets the agent) gets READY again with the live
 * sessions; chats keep working while the manager is silent. */
static void sc_reregister(h_t *h)
{
    h_run_chat(h, 1, "se_r1", "before", true, 5000);
    h_run_chat(h, 2, "se_r2", "before", false, 5000);
    int readies = h->readies;
    /* Manager goes silent: chats still work. */
    h->answer_manager = false;
    h_run_chat(h, 3, "se_r3", "while the manager is away", true, 5000);
    H_CHECK(h, h->chats[3].done != NULL, "chat failed while the manager was silent: %s",
            h->chats[3].error);
    /* The agent notices (3 x 200 ms) and re-sends READY; we come back "restarted". */
    h_pump(h, 900);
    h->answer_manager = true;
    h->registered = false;
    uint64_t end = af_now_ns() + 5000000000ull;
    while (h->readies == readies && af_now_ns() < end)
        h_pump(h, 50);
    H_CHECK(h, h->readies > readies, "no READY after the manager came back");
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(h->last_ready, "sessions");
    printf("reregister: READY #%d with %d sessions, owner=%s\n", h->readies, cJSON_GetArraySize(s),
           cJSON_GetObjectItemCaseSensitive(h->last_ready, "owner")->valuestring);
    H_CHECK(h, cJSON_GetArraySize(s) == 3, "READY re-announced %d sessions, want 3",
            cJSON_GetArraySize(s));
    const cJSON *key = cJSON_GetObjectItemCaseSensitive(h->last_ready, "api_key");
    H_CHECK(h, key == NULL, "READY carries an api_key");
    /* GATEWAYS: the agent connects to a new gateway and serves CHATs there,
     * then drops it when it leaves the list. */
    if (h->gw2_port) {
        zsock_t *gw2 = zsock_new(ZMQ_ROUTER);
        zsock_set_router_mandatory(gw2, 1);
        char ep2[64];
        snprintf(ep2, sizeof ep2, "tcp://127.0.0.1:%d", h->gw2_port);
        zsock_bind(gw2, "%s", ep2);
        cJSON *b = cJSON_CreateObject();
        cJSON *g = cJSON_AddArrayToObject(b, "gateways");
        cJSON_AddItemToArray(g, cJSON_CreateString(h->gw_endpoint));
        cJSON_AddItemToArray(g, cJSON_CreateString(ep2));
        h_send(h, h->mgr, "GATEWAYS", "m0", b);
        int heard = s_drain_sock(h, gw2, 2000, NULL);
        H_CHECK(h, heard > 0, "nothing from the agent on the new gateway");
        cJSON *cb = cJSON_CreateObject();
        cJSON_AddStringToObject(cb, "session_id", "se_g2");
        cJSON_AddStringToObject(cb, "user", "alice");
        cJSON_AddStringToObject(cb, "message", "via gateway two");
        af_msg_t *m = af_msg_new("CHAT", "c9", cb);
        m->routing_id = zframe_new(h->agent_id, strlen(h->agent_id));
        af_proto_send(gw2, &m, AF_CODEC_CBOR);
        char done_verb[16] = "";
        s_drain_sock(h, gw2, 3000, done_verb);
        H_CHECK(h, !strcmp(done_verb, "DONE"), "CHAT on gateway two: '%s'", done_verb);
        /* Removed from the list: the agent stops talking to it. */
        b = cJSON_CreateObject();
        g = cJSON_AddArrayToObject(b, "gateways");
        cJSON_AddItemToArray(g, cJSON_CreateString(h->gw_endpoint));
        h_send(h, h->mgr, "GATEWAYS", "m00", b);
        s_drain_sock(h, gw2, 600, NULL); /* what was in flight */
        int after = s_drain_sock(h, gw2, 1000, NULL);
        printf("GATEWAYS: new gateway heard %d msgs, CHAT there -> %s, after removal %d msgs\n",
               heard, done_verb, after);
        H_CHECK(h, after == 0, "agent still sends to a removed gateway (%d msgs)", after);
        zsock_destroy(&gw2);
    }
    /* DRAIN from the manager: OK, the stream in flight finishes, BYE drained. */
    h_chat(h, 4, "se_r1", "alice", "last words [[words:20]] [[tps:40]]", true);
    int i4 = 4;
    h_wait(h, p_deltas, &i4, 5000);
    h_send(h, h->mgr, "DRAIN", "m1", NULL);
    h_wait(h, p_ended, &i4, 5000);
    h_wait(h, p_bye, NULL, 5000);
    printf("DRAIN: OK=%s, in-flight stream %s, BYE reason=%s\n", h->mgr_ok_req,
           h->chats[4].done ? "DONE" : h->chats[4].error, h->bye_reason);
    H_CHECK(h, !strcmp(h->mgr_ok_req, "m1"), "DRAIN got no OK");
    H_CHECK(h, h->chats[4].done != NULL, "stream in flight at DRAIN: %s", h->chats[4].error);
    H_CHECK(h, !strcmp(h->bye_reason, "drained"), "BYE reason '%s'", h->bye_reason);
}

/* SHUTDOWN from the manager: the stream in flight ends with ERROR cancelled at
 * once, the upstream transfer is aborted, the agent says BYE and exits. */
static void sc_shutdown(h_t *h)
{
    cJSON_Delete(h_fake(h, "/_reset", "{}"));
    /* Idle sessions expire (agent run with --session-ttl 1). */
    h_run_chat(h, 2, "se_ttl", "remember me", false, 5000);
    H_CHECK(h, h_session_get(h, "g7", "se_ttl", "alice") != NULL, "new session not found");
    H_CHECK(h, h_metric(h, "agent_active_sessions") == 1, "agent_active_sessions != 1");
    usleep(2500000);
    h->last_ok_req[0] = '\0';
    cJSON *gb = cJSON_CreateObject();
    cJSON_AddStringToObject(gb, "session_id", "se_ttl");
    cJSON_AddStringToObject(gb, "user", "alice");
    h_send(h, h->gw, "SESSION_GET", "c3", gb);
    int i3 = 3;
    h_wait(h, p_ended, &i3, 3000);
    double live = h_metric(h, "agent_active_sessions");
    printf("TTL 1 s: SESSION_GET after 2.5 s idle -> %s, agent_active_sessions=%.0f\n",
           h->chats[3].error, live);
    H_CHECK(h, !strcmp(h->chats[3].error, "not_found") && live == 0, "session did not expire");
    h_chat(h, 1, "se_s", "alice", "long one [[words:300]] [[tps:20]]", true);
    int i1 = 1;
    h_wait(h, p_deltas, &i1, 5000);
    uint64_t t0 = af_now_ns();
    h_send(h, h->mgr, "SHUTDOWN", "m2", NULL);
    h_wait(h, p_ended, &i1, 3000);
    double ms = (double)(af_now_ns() - t0) / 1e6;
    h_wait(h, p_bye, NULL, 3000);
    double aborted = 0;
    for (int k = 0; k < 40 && aborted < 1; k++) {
        usleep(50000);
        aborted = h_stat(h, "aborted");
    }
    printf("SHUTDOWN: stream -> %s after %.0f ms; BYE reason=%s; fake aborted=%.0f\n",
           h->chats[1].done ? "DONE" : h->chats[1].error, ms, h->bye_reason, aborted);
    H_CHECK(h, !strcmp(h->chats[1].error, "cancelled") && ms < 1000,
            "SHUTDOWN: stream %s after %.0f ms", h->chats[1].done ? "DONE" : h->chats[1].error, ms);
    H_CHECK(h, !strcmp(h->bye_reason, "shutdown"), "BYE reason '%s'", h->bye_reason);
    H_CHECK(h, aborted == 1, "fake aborted=%.0f", aborted);
}

int main(int argc, char **argv)
{
    const char *scenario = "streams";
    int mport = 0, gport = 0, n = 100, capacity = 100;
    pid_t agent = 0;
    h_t *h = calloc(1, sizeof *h);
    h->answer_manager = true;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--scenario"))
            scenario = argv[i + 1];
        else if (!strcmp(argv[i], "--manager-port"))
            mport = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--gateway-port"))
            gport = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fake"))
            h->fake = argv[i + 1];
        else if (!strcmp(argv[i], "--agent-pid"))
            agent = (pid_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--n"))
            n = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--capacity"))
            capacity = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--gateway2-port"))
            h->gw2_port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--welcome-key"))
            h->welcome_key = argv[i + 1];
    }
    if (!mport || !gport || !h->fake || n < 1 || n + 2 >= 500) {
        fprintf(stderr, "usage: %s --scenario NAME --manager-port N --gateway-port N --fake URL\n",
                argv[0]);
        return 2;
    }
    af_log_init("harness", AF_LOG_WARN);
    zsys_handler_set(NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    h->mgr = zsock_new(ZMQ_ROUTER);
    h->gw = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(h->mgr, 1);
    zsock_set_router_mandatory(h->gw, 1);
    zsock_set_sndhwm(h->gw, 0);
    zsock_set_rcvhwm(h->gw, 0);
    snprintf(h->gw_endpoint, sizeof h->gw_endpoint, "tcp://127.0.0.1:%d", gport);
    if (zsock_bind(h->mgr, "tcp://127.0.0.1:%d", mport) < 0 ||
        zsock_bind(h->gw, "%s", h->gw_endpoint) < 0) {
        fprintf(stderr, "harness: cannot bind\n");
        return 2;
    }
    h->poller = zpoller_new(h->mgr, h->gw, NULL);
    if (!h_wait(h, p_ready, NULL, 10000)) {
        fprintf(stderr, "harness: agent did not register and connect within 10 s\n");
        return 1;
    }
    printf("agent %s registered (metrics %s)\n", h->agent_id,
           cJSON_GetObjectItemCaseSensitive(h->last_ready, "metrics")->valuestring);
    if (!strcmp(scenario, "streams"))
        sc_streams(h, n, capacity);
    else if (!strcmp(scenario, "cancel"))
        sc_cancel(h);
    else if (!strcmp(scenario, "faults"))
        sc_faults(h);
    else if (!strcmp(scenario, "drain"))
        sc_drain(h, agent);
    else if (!strcmp(scenario, "reregister"))
        sc_reregister(h);
    else if (!strcmp(scenario, "shutdown"))
        sc_shutdown(h);
    else {
        fprintf(stderr, "harness: unknown scenario %s\n", scenario);
        return 2;
    }
    int failures = h->failures;
    for (int i = 0; i < H_MAX_CHATS; i++) {
        free(h->chats[i].text);
        cJSON_Delete(h->chats[i].done);
    }
    cJSON_Delete(h->last_ready);
    cJSON_Delete(h->last_ok);
    zpoller_destroy(&h->poller);
    zsock_destroy(&h->mgr);
    zsock_destroy(&h->gw);
    free(h);
    curl_global_cleanup();
    printf("%s: %s (%d failed checks)\n", scenario, failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
