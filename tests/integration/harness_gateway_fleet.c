/* A stand-in fleet for the gateway's integration tests: plays the manager
 * (binds the control ROUTER) and agents (DEALERs with routing id = agent id,
 * connected to the gateway's agent ROUTER), speaking AF1 as docs/protocol.md
 * says, so the gateway's HTTP surface can be tested end to end without the
 * real manager and agentd. Agents answer CHAT with "You said: <message>"
 * (streams: one DELTA per word), keep per-session history with owners, and
 * obey magic messages: "[[slow]]" streams 40 words 50 ms apart (CANCEL stops
 * it), "[[die]]" makes the agent go silent (no reply, no heartbeat),
 * "[[die-midstream]]" sends START and two DELTAs first, then goes silent,
 * "[[error:CODE]]" answers ERROR CODE (retry_after 3). The manager keeps
 * agent owners and enforces them like the real one (another user's id →
 * not_found); PLACE with no agent picks a pool agent, or answers capacity when
 * none is left. Every CANCEL received is printed as "CANCEL <req>" on stdout.
 * SIGUSR1 toggles a silent manager for pool PLACEs (no agent named): each is
 * printed as "PLACE_IGNORED" and never answered.
 *
 * usage: harness_gateway_fleet --manager tcp://127.0.0.1:P --gateway tcp://127.0.0.1:Q
 *        [--pool N] [--heartbeat-ms MS] */
#include "log.h"
#include "proto.h"
#include "util.h"

#include <czmq.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_AGENTS 64

static volatile sig_atomic_t s_place_silent; /* SIGUSR1 toggles */
#define MAX_SESSIONS 256

typedef struct {
    char id[64];
    char owner[64];
    zsock_t *sock;
    bool dead;
    bool pool;
} agent_t;

typedef struct {
    char id[64];
    char user[64];
    char agent[64];
    cJSON *messages;
} session_t;

typedef struct {
    char req[64];
    agent_t *agent;
    int left;
    int n;
    bool active;
    int timer;
    bool stream;
    char session[64];
} slow_t;

static zloop_t *s_loop;
static zsock_t *s_manager;
static agent_t s_agents[MAX_AGENTS];
static int s_nagents;
static session_t s_sessions[MAX_SESSIONS];
static slow_t s_slow[16];
static char s_gateway[256];
static int s_spawn_seq;

static int s_on_agent(zloop_t *loop, zsock_t *sock, void *arg);

static agent_t *s_agent_find(const char *id)
{
    for (int i = 0; i < s_nagents; i++)
        if (!strcmp(s_agents[i].id, id) && !s_agents[i].dead)
            return &s_agents[i];
    return NULL;
}

static agent_t *s_agent_add(const char *id, const char *owner, bool pool)
{
    if (s_nagents == MAX_AGENTS)
        return NULL;
    agent_t *a = &s_agents[s_nagents++];
    memset(a, 0, sizeof *a);
    snprintf(a->id, sizeof a->id, "%s", id);
    snprintf(a->owner, sizeof a->owner, "%s", owner);
    a->pool = pool;
    a->sock = zsock_new(ZMQ_DEALER);
    zsock_set_identity(a->sock, id);
    zsock_set_linger(a->sock, 0);
    zsock_connect(a->sock, "%s", s_gateway);
    zloop_reader(s_loop, a->sock, s_on_agent, a);
    af_msg_t *hb = af_msg_new("HEARTBEAT", "h0", NULL);
    cJSON_AddNumberToObject(hb->body, "sessions", 0);
    af_proto_send(a->sock, &hb, AF_CODEC_CBOR);
    return a;
}

static cJSON *s_agent_obj(const agent_t *a)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "agent_id", a->id);
    cJSON_AddStringToObject(o, "owner", a->owner);
    cJSON_AddStringToObject(o, "status", "ready");
    cJSON_AddNumberToObject(o, "sessions", 0);
    cJSON_AddNumberToObject(o, "capacity", 100);
    char url[128];
    snprintf(url, sizeof url, "/v1/agents/%s", a->id);
    cJSON_AddStringToObject(o, "url", url);
    return o;
}

static bool s_may(const af_msg_t *m, const agent_t *a)
{
    const char *user = af_msg_str(m, "user"), *role = af_msg_str(m, "role");
    return (role && !strcmp(role, "admin")) || (user && !strcmp(user, a->owner));
}

static void s_reply(zsock_t *sock, const af_msg_t *to, const char *verb, cJSON *body)
{
    af_msg_t *r = af_msg_reply(to, verb, body);
    af_proto_send(sock, &r, AF_CODEC_CBOR);
}

static void s_error(zsock_t *sock, const af_msg_t *to, const char *code, const char *message)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "code", code);
    cJSON_AddStringToObject(b, "message", message);
    if (!strcmp(code, "capacity") || !strcmp(code, "rate_limited"))
        cJSON_AddNumberToObject(b, "retry_after", 3);
    s_reply(sock, to, "ERROR", b);
}

/* ---- manager ----------------------------------------------------------- */

static int s_on_manager(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    (void)arg;
    af_msg_t *m = NULL;
    af_proto_err_t err;
    if (af_proto_recv(sock, true, AF_PROTO_MAX_BODY_DEFAULT, true, AF_CODEC_CBOR, &m, &err) != 0)
        return 0;
    const char *user = af_msg_str(m, "user");
    const char *role = af_msg_str(m, "role");
    bool admin = role && !strcmp(role, "admin");
    const char *aid = af_msg_str(m, "agent_id");
    agent_t *a = aid ? s_agent_find(aid) : NULL;
    if (!strcmp(m->verb, "GATEWAY_HELLO")) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddNumberToObject(b, "heartbeat_ms", 1000);
        s_reply(sock, m, "OK", b);
    } else if (!strcmp(m->verb, "SPAWN")) {
        if (!user || !role) {
            s_error(sock, m, "invalid_request", "user and role are required");
        } else {
            const cJSON *spec = cJSON_GetObjectItem(m->body, "spec");
            const cJSON *image = spec ? cJSON_GetObjectItem(spec, "image") : NULL;
            if (cJSON_IsString(image) && strcmp(image->valuestring, "agentd:latest") != 0) {
                s_error(sock, m, "invalid_request", "spec.image: not in the allow-list");
            } else {
                char id[64];
                snprintf(id, sizeof id, "ag_%s_%d", user, ++s_spawn_seq);
                for (char *p = id; *p; p++)
                    if (*p == '.' || *p == '@')
                        *p = '_';
                agent_t *n = s_agent_add(id, user, false);
                cJSON *b = cJSON_CreateObject();
                cJSON *arr = cJSON_AddArrayToObject(b, "agents");
                cJSON_AddItemToArray(arr, s_agent_obj(n));
                s_reply(sock, m, "OK", b);
            }
        }
    } else if (!strcmp(m->verb, "LIST")) {
        cJSON *b = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(b, "agents");
        bool all = admin && af_msg_bool(m, "all", false);
        for (int i = 0; i < s_nagents; i++)
            if (!s_agents[i].dead && (all || (user && !strcmp(user, s_agents[i].owner))))
                cJSON_AddItemToArray(arr, s_agent_obj(&s_agents[i]));
        s_reply(sock, m, "OK", b);
    } else if (!strcmp(m->verb, "GET") || !strcmp(m->verb, "DELETE")) {
        if (!a || !s_may(m, a)) {
            s_error(sock, m, "not_found", "no such agent");
        } else if (!strcmp(m->verb, "GET")) {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddItemToObject(b, "agent", s_agent_obj(a));
            s_reply(sock, m, "OK", b);
        } else {
            zloop_reader_end(s_loop, a->sock);
            zsock_destroy(&a->sock);
            a->dead = true;
            cJSON *b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "agent_id", a->id);
            cJSON_AddStringToObject(b, "status", "deleted");
            s_reply(sock, m, "OK", b);
        }
    } else if (!strcmp(m->verb, "STATS")) {
        int ready = 0;
        for (int i = 0; i < s_nagents; i++)
            ready += !s_agents[i].dead;
        cJSON *b = cJSON_CreateObject();
        cJSON *ag = cJSON_AddObjectToObject(b, "agents");
        cJSON_AddNumberToObject(ag, "ready", ready);
        cJSON_AddNumberToObject(ag, "total", ready);
        cJSON_AddNumberToObject(b, "utilization", 0.1);
        s_reply(sock, m, "OK", b);
    } else if (!strcmp(m->verb, "SCALE")) {
        if (!admin) {
            s_error(sock, m, "forbidden", "admin only");
        } else {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddNumberToObject(b, "target", af_msg_num(m, "target", 0));
            cJSON_AddNumberToObject(b, "current", s_nagents);
            cJSON_AddNumberToObject(b, "spawning", 0);
            cJSON_AddNumberToObject(b, "draining", 0);
            s_reply(sock, m, "OK", b);
        }
    } else if (!strcmp(m->verb, "PLACE")) {
        if (aid) {
            if (!a || !s_may(m, a))
                s_error(sock, m, "not_found", "no such agent");
            else {
                cJSON *b = cJSON_CreateObject();
                cJSON_AddStringToObject(b, "agent_id", a->id);
                s_reply(sock, m, "OK", b);
            }
        } else if (s_place_silent) {
            printf("PLACE_IGNORED\n");
            fflush(stdout);
        } else {
            agent_t *pick = NULL;
            for (int i = 0; i < s_nagents && !pick; i++)
                if (s_agents[i].pool && !s_agents[i].dead)
                    pick = &s_agents[i];
            if (!pick)
                s_error(sock, m, "capacity", "no pool agent has room");
            else {
                cJSON *b = cJSON_CreateObject();
                cJSON_AddStringToObject(b, "agent_id", pick->id);
                s_reply(sock, m, "OK", b);
            }
        }
    } else {
        s_error(sock, m, "unknown_verb", m->verb);
    }
    af_msg_destroy(&m);
    return 0;
}

/* ---- agents ------------------------------------------------------------ */

static session_t *s_session(const char *id, bool create, const char *user, const char *agent)
{
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (s_sessions[i].id[0] && !strcmp(s_sessions[i].id, id))
            return &s_sessions[i];
    if (!create)
        return NULL;
    for (int i = 0; i < MAX_SESSIONS; i++)
        if (!s_sessions[i].id[0]) {
            session_t *s = &s_sessions[i];
            snprintf(s->id, sizeof s->id, "%s", id);
            snprintf(s->user, sizeof s->user, "%s", user);
            snprintf(s->agent, sizeof s->agent, "%s", agent);
            s->messages = cJSON_CreateArray();
            return s;
        }
    return NULL;
}

static void s_send(agent_t *a, const char *verb, const char *req, cJSON *body)
{
    af_msg_t *m = af_msg_new(verb, req, body);
    af_proto_send(a->sock, &m, AF_CODEC_CBOR);
}

static void s_done(agent_t *a, const char *req, const char *sid, const char *text, int words)
{
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "session_id", sid);
    cJSON_AddStringToObject(b, "message_id", "msg_harness01");
    cJSON_AddStringToObject(b, "model", "claude-3-5-sonnet-20241022");
    cJSON_AddStringToObject(b, "content", text);
    cJSON_AddStringToObject(b, "stop_reason", "end_turn");
    cJSON *u = cJSON_AddObjectToObject(b, "usage");
    cJSON_AddNumberToObject(u, "input_tokens", 5);
    cJSON_AddNumberToObject(u, "output_tokens", words);
    s_send(a, "DONE", req, b);
}

static int s_on_slow_timer(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    slow_t *s = arg;
    if (!s->active)
        return 0;
    if (s->left == 0) {
        char text[64];
        snprintf(text, sizeof text, "slow %d", s->n);
        s_done(s->agent, s->req, s->session, text, s->n);
        s->active = false;
        return 0;
    }
    if (s->stream) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "text", "w ");
        s_send(s->agent, "DELTA", s->req, b);
    }
    s->left--;
    s->n++;
    return 0;
}

static void s_chat(agent_t *a, const af_msg_t *m)
{
    const char *sid = af_msg_str(m, "session_id");
    const char *user = af_msg_str(m, "user");
    const char *text = af_msg_str(m, "message");
    const cJSON *msgs = cJSON_GetObjectItem(m->body, "messages");
    bool stream = af_msg_bool(m, "stream", false);
    char last[512] = "";
    if (text) {
        session_t *s = s_session(sid, true, user, a->id);
        if (!s || strcmp(s->user, user) != 0) {
            s_error(a->sock, m, "not_found", "no such session");
            return;
        }
        cJSON *turn = cJSON_CreateObject();
        cJSON_AddStringToObject(turn, "role", "user");
        cJSON_AddStringToObject(turn, "content", text);
        cJSON_AddItemToArray(s->messages, turn);
        snprintf(last, sizeof last, "%s", text);
    } else if (cJSON_IsArray(msgs)) {
        const cJSON *lm = cJSON_GetArrayItem(msgs, cJSON_GetArraySize(msgs) - 1);
        const cJSON *c = cJSON_GetObjectItem(lm, "content");
        if (cJSON_IsString(c))
            snprintf(last, sizeof last, "%s", c->valuestring);
        else if (cJSON_IsArray(c))
            snprintf(last, sizeof last, "%s", cJSON_GetObjectItem(cJSON_GetArrayItem(c, 0), "text")->valuestring);
    } else {
        s_error(a->sock, m, "invalid_request", "message or messages required");
        return;
    }
    if (!strcmp(last, "[[die-midstream]]") && stream) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "message_id", "msg_harness01");
        cJSON_AddStringToObject(b, "model", "claude-3-5-sonnet-20241022");
        cJSON_AddNumberToObject(b, "input_tokens", 5);
        s_send(a, "START", m->req, b);
        for (int i = 0; i < 2; i++) {
            b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "text", "partial ");
            s_send(a, "DELTA", m->req, b);
        }
        zloop_reader_end(s_loop, a->sock);
        zsock_destroy(&a->sock);
        a->dead = true;
        return;
    }
    if (!strcmp(last, "[[die]]")) {
        zloop_reader_end(s_loop, a->sock);
        zsock_destroy(&a->sock);
        a->dead = true;
        return;
    }
    if (!strncmp(last, "[[error:", 8)) {
        char code[64];
        snprintf(code, sizeof code, "%.*s", (int)(strlen(last) - 10), last + 8);
        s_error(a->sock, m, code, "harness error on request");
        return;
    }
    if (stream) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "message_id", "msg_harness01");
        cJSON_AddStringToObject(b, "model", "claude-3-5-sonnet-20241022");
        cJSON_AddNumberToObject(b, "input_tokens", 5);
        s_send(a, "START", m->req, b);
    }
    if (!strcmp(last, "[[slow]]")) {
        for (int i = 0; i < 16; i++)
            if (!s_slow[i].active) {
                slow_t *s = &s_slow[i];
                snprintf(s->req, sizeof s->req, "%s", m->req);
                snprintf(s->session, sizeof s->session, "%s", sid ? sid : "");
                s->agent = a;
                s->left = 40;
                s->n = 0;
                s->active = true;
                s->stream = stream;
                s->timer = zloop_timer(s_loop, 50, 41, s_on_slow_timer, s);
                return;
            }
    }
    char reply[600];
    snprintf(reply, sizeof reply, "You said: %s", last);
    int words = 0;
    if (stream) {
        /* One DELTA per word, keeping the spaces, so the deltas add up. */
        const char *p = reply;
        while (*p) {
            const char *sp = strchr(p, ' ');
            size_t n = sp ? (size_t)(sp - p) + 1 : strlen(p);
            char w[600];
            memcpy(w, p, n);
            w[n] = 0;
            cJSON *b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "text", w);
            s_send(a, "DELTA", m->req, b);
            p += n;
            words++;
        }
    } else {
        for (const char *p = reply; *p; p++)
            words += (*p == ' ');
        words++;
    }
    if (text) {
        session_t *s = s_session(sid, false, NULL, NULL);
        cJSON *turn = cJSON_CreateObject();
        cJSON_AddStringToObject(turn, "role", "assistant");
        cJSON_AddStringToObject(turn, "content", reply);
        cJSON_AddItemToArray(s->messages, turn);
    }
    s_done(a, m->req, sid ? sid : "", reply, words);
}

static int s_on_agent(zloop_t *loop, zsock_t *sock, void *arg)
{
    (void)loop;
    agent_t *a = arg;
    af_msg_t *m = NULL;
    af_proto_err_t err;
    if (af_proto_recv(sock, false, AF_PROTO_MAX_BODY_DEFAULT, true, AF_CODEC_CBOR, &m, &err) != 0)
        return 0;
    if (!strcmp(m->verb, "CHAT")) {
        s_chat(a, m);
    } else if (!strcmp(m->verb, "CANCEL")) {
        printf("CANCEL %s\n", m->req);
        fflush(stdout);
        for (int i = 0; i < 16; i++)
            if (s_slow[i].active && !strcmp(s_slow[i].req, m->req)) {
                s_slow[i].active = false;
                zloop_timer_end(s_loop, s_slow[i].timer);
                s_error(a->sock, m, "cancelled", "cancelled by the gateway");
            }
    } else if (!strcmp(m->verb, "SESSION_GET") || !strcmp(m->verb, "SESSION_DELETE")) {
        session_t *s = s_session(af_msg_str(m, "session_id") ? af_msg_str(m, "session_id") : "",
                                 false, NULL, NULL);
        const char *user = af_msg_str(m, "user");
        if (!s || !user || strcmp(s->user, user) != 0) {
            s_error(a->sock, m, "not_found", "no such session");
        } else if (!strcmp(m->verb, "SESSION_GET")) {
            cJSON *b = cJSON_CreateObject();
            cJSON *so = cJSON_AddObjectToObject(b, "session");
            cJSON_AddStringToObject(so, "session_id", s->id);
            cJSON_AddStringToObject(so, "user", s->user);
            cJSON_AddItemToObject(so, "messages", cJSON_Duplicate(s->messages, 1));
            s_reply(a->sock, m, "OK", b);
        } else {
            cJSON *b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "session_id", s->id);
            cJSON_Delete(s->messages);
            memset(s, 0, sizeof *s);
            s_reply(a->sock, m, "OK", b);
        }
    }
    af_msg_destroy(&m);
    return 0;
}

static int s_on_heartbeat(zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    (void)arg;
    for (int i = 0; i < s_nagents; i++)
        if (!s_agents[i].dead && s_agents[i].sock) {
            af_msg_t *hb = af_msg_new("HEARTBEAT", "h", NULL);
            cJSON_AddNumberToObject(hb->body, "sessions", 0);
            cJSON_AddBoolToObject(hb->body, "draining", false);
            af_proto_send(s_agents[i].sock, &hb, AF_CODEC_CBOR);
        }
    return 0;
}

static void s_on_usr1(int sig)
{
    (void)sig;
    s_place_silent = !s_place_silent;
}

int main(int argc, char **argv)
{
    const char *manager = NULL;
    int pool = 1, hb = 200;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--manager")) manager = argv[i + 1];
        else if (!strcmp(argv[i], "--gateway")) snprintf(s_gateway, sizeof s_gateway, "%s", argv[i + 1]);
        else if (!strcmp(argv[i], "--pool")) pool = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--heartbeat-ms")) hb = atoi(argv[i + 1]);
    }
    if (!manager || !s_gateway[0]) {
        fprintf(stderr, "usage: harness_gateway_fleet --manager EP --gateway EP [--pool N]\n");
        return 2;
    }
    af_log_init("harness", AF_LOG_INFO);
    signal(SIGUSR1, s_on_usr1);
    s_loop = zloop_new();
    s_manager = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(s_manager, 0);
    if (zsock_bind(s_manager, "%s", manager) < 0) {
        fprintf(stderr, "cannot bind %s\n", manager);
        return 1;
    }
    zloop_reader(s_loop, s_manager, s_on_manager, NULL);
    for (int i = 0; i < pool; i++) {
        char id[32];
        snprintf(id, sizeof id, "ag_pool%d", i + 1);
        s_agent_add(id, "pool", true);
    }
    zloop_timer(s_loop, (size_t)hb, 0, s_on_heartbeat, NULL);
    printf("READY\n");
    fflush(stdout);
    /* Ends on SIGINT/SIGTERM (zsys_interrupted). Any other signal (SIGUSR1)
     * also breaks zloop's poll: carry on then. */
    while (zloop_start(s_loop) == 0 && !zsys_interrupted)
        ;
    for (int i = 0; i < s_nagents; i++)
        zsock_destroy(&s_agents[i].sock);
    for (int i = 0; i < MAX_SESSIONS; i++)
        cJSON_Delete(s_sessions[i].messages);
    zsock_destroy(&s_manager);
    zloop_destroy(&s_loop);
    return 0;
}
