/* A stand-in manager for the agent-side fencing check (HA): binds a ROUTER at argv[1],
 * waits for an agentd's READY, welcomes it with fencing token 5, then sends a DRAIN
 * carrying token 3 (a stale leader) and a DRAIN carrying token 5 (the current one).
 * Exit 0 when the stale DRAIN got ERROR not_leader and the current one got OK. */
#include "log.h"
#include "proto.h"
#include "util.h"

#include <stdio.h>
#include <string.h>

/* Next message from the agent within ms, or NULL. */
static af_msg_t *s_recv(zsock_t *sock, int ms)
{
    uint64_t until = af_now_ns() + (uint64_t)ms * 1000000ULL;
    while (af_now_ns() < until) {
        zpoller_t *p = zpoller_new(sock, NULL);
        void *ready = zpoller_wait(p, 50);
        zpoller_destroy(&p);
        if (!ready)
            continue;
        af_msg_t *msg = NULL;
        af_proto_err_t err;
        if (af_proto_recv(sock, true, AF_PROTO_MAX_BODY_DEFAULT, false, AF_CODEC_JSON, &msg, &err) == 0)
            return msg;
    }
    return NULL;
}

/* Sends verb with body {fence} to the agent and returns its reply to that req. */
static af_msg_t *s_ask(zsock_t *sock, const char *agent, const char *verb, const char *req,
                       double fence)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "fence", fence);
    af_msg_t *m = af_msg_new(verb, req, body);
    m->routing_id = zframe_new(agent, strlen(agent));
    if (af_proto_send(sock, &m, AF_CODEC_JSON) < 0)
        return NULL;
    for (int i = 0; i < 40; i++) {
        af_msg_t *r = s_recv(sock, 100);
        if (r && !strcmp(r->req, req))
            return r;
        af_msg_destroy(&r); /* heartbeats */
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: harness_agentd_fence ENDPOINT\n");
        return 2;
    }
    af_log_init("fence-harness", AF_LOG_INFO);
    zsys_handler_set(NULL);
    zsock_t *sock = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(sock, 0);
    if (zsock_bind(sock, "%s", argv[1]) < 0) {
        fprintf(stderr, "cannot bind %s\n", argv[1]);
        return 2;
    }
    int rc = 1;
    char agent[64] = "";
    af_msg_t *ready = NULL;
    for (int i = 0; i < 100 && !ready; i++) {
        af_msg_t *m = s_recv(sock, 100);
        if (m && !strcmp(m->verb, "READY"))
            ready = m;
        else
            af_msg_destroy(&m);
    }
    if (!ready) {
        fprintf(stderr, "no READY\n");
        goto done;
    }
    snprintf(agent, sizeof agent, "%s", af_msg_str(ready, "agent_id"));
    cJSON *wb = cJSON_CreateObject();
    cJSON_AddStringToObject(wb, "agent_id", agent);
    cJSON_AddNumberToObject(wb, "heartbeat_ms", 300);
    cJSON_AddItemToObject(wb, "gateways", cJSON_CreateArray());
    cJSON_AddNumberToObject(wb, "fence", 5);
    af_msg_t *welcome = af_msg_reply(ready, "WELCOME", wb);
    af_proto_send(sock, &welcome, AF_CODEC_JSON);
    af_msg_destroy(&ready);

    af_msg_t *r = s_ask(sock, agent, "DRAIN", "stale1", 3);
    const char *code = r ? af_msg_str(r, "code") : NULL;
    printf("stale DRAIN (fence 3): %s %s\n", r ? r->verb : "no reply", code ? code : "");
    bool stale_refused = r && !strcmp(r->verb, "ERROR") && code && !strcmp(code, "not_leader");
    af_msg_destroy(&r);
    r = s_ask(sock, agent, "DRAIN", "current1", 5);
    printf("current DRAIN (fence 5): %s\n", r ? r->verb : "no reply");
    bool current_ok = r && !strcmp(r->verb, "OK");
    af_msg_destroy(&r);
    rc = stale_refused && current_ok ? 0 : 1;
done:
    zsock_destroy(&sock);
    zsys_shutdown();
    return rc;
}
