/* Control ROUTER dispatch. See control.h.
 * Contract: every request gets exactly one final reply (SPAWN's comes later,
 * from fleet.c); agent link messages (HEARTBEAT, BYE, OK to DRAIN) get none;
 * an ERROR is never answered. */
#include "control.h"

#include "curve.h"
#include "log.h"
#include "placement.h"

#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

struct af_control_t {
    zsock_t *sock;
    af_zev_t *zev;
    /* Coalescing under load (batch_ms > 0). A quiet socket is drained the moment
     * a message arrives. Above S_BUSY_RATE messages a second (a fleet
     * heartbeating), the zev coalesces wake-ups (af_zev_set_coalesce): a
     * thousand heartbeats a second then cost 1000/batch_ms wake-ups instead of
     * one each, for at most batch_ms of added latency. */
    struct event *eval;
    int batch_ms;
    bool batched;
    uint64_t last_total;
    af_fleet_t *fleet;
    af_mgr_metrics_t *metrics;
    size_t max_body;
};

typedef enum {
    V_READY, V_HEARTBEAT, V_BYE, V_GATEWAY_HELLO, V_SPAWN, V_DELETE, V_LIST, V_GET, V_STATS,
    V_SCALE, V_PLACE, V_OK, V_ERROR, V_OTHER
} s_verb_t;

/* Peer roles as CURVE authenticates them (af_msg_t.peer_role). A request's
 * `role: admin` speaks for the gateway's end user, so it is believed only from
 * a peer that may send the verb at all: an agent key cannot SCALE or LIST all. */
enum { R_AGENTD = 1, R_GATEWAY = 2, R_AUTOSCALER = 4 };

typedef struct {
    const char *name;
    s_verb_t verb;
    int roles;
} s_verb_row_t;

static const s_verb_row_t s_verbs[] = {
    {"READY", V_READY, R_AGENTD},
    {"HEARTBEAT", V_HEARTBEAT, R_AGENTD | R_GATEWAY},
    {"BYE", V_BYE, R_AGENTD | R_GATEWAY},
    {"GATEWAY_HELLO", V_GATEWAY_HELLO, R_GATEWAY},
    {"SPAWN", V_SPAWN, R_GATEWAY},
    {"DELETE", V_DELETE, R_GATEWAY},
    {"LIST", V_LIST, R_GATEWAY | R_AUTOSCALER},
    {"GET", V_GET, R_GATEWAY | R_AUTOSCALER},
    {"STATS", V_STATS, R_GATEWAY | R_AUTOSCALER},
    {"SCALE", V_SCALE, R_GATEWAY | R_AUTOSCALER},
    {"PLACE", V_PLACE, R_GATEWAY},
    {"OK", V_OK, R_AGENTD | R_GATEWAY | R_AUTOSCALER},
    {"ERROR", V_ERROR, R_AGENTD | R_GATEWAY | R_AUTOSCALER},
};

/* The table row of a verb; NULL for one the manager does not serve. */
static const s_verb_row_t *s_verb_row(const char *name)
{
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        if (!strcmp(s_verbs[i].name, name))
            return &s_verbs[i];
    return NULL;
}

/* Whether peer_role may send the verb of row (NULL: a verb we do not serve,
 * which gets unknown_verb rather than forbidden from any known role). */
static bool s_peer_may(const char *peer_role, const s_verb_row_t *row)
{
    if (!peer_role || !*peer_role)
        return true; /* plaintext: no identity to check (bind to loopback) */
    int role = !strcmp(peer_role, "agentd")       ? R_AGENTD
               : !strcmp(peer_role, "gateway")    ? R_GATEWAY
               : !strcmp(peer_role, "autoscaler") ? R_AUTOSCALER
                                                  : 0;
    return row ? (row->roles & role) != 0 : role != 0;
}

bool af_control_peer_may(const char *peer_role, const char *verb)
{
    return s_peer_may(peer_role, s_verb_row(verb));
}

/* ---- replies ---------------------------------------------------------------- */

static void s_send(af_control_t *self, const af_msg_t *to, const char *verb, cJSON *body)
{
    af_msg_t *r = af_msg_reply(to, verb, body);
    if (!r || !self->sock) {
        af_msg_destroy(&r);
        return;
    }
    if (af_proto_send(self->sock, &r, af_fleet_config(self->fleet)->codec) < 0)
        af_warn("event=reply_failed verb=%s req=%s error=\"%s\"", verb, to->req, strerror(errno));
}

static void s_ok(af_control_t *self, const af_msg_t *to, cJSON *body)
{
    if (self->metrics)
        af_metric_inc(self->metrics->requests, to->verb, "ok");
    uint64_t fence = 0;
    af_fleet_leads(self->fleet, &fence);
    if (fence && body) /* HA: gateways learn the newest leader's token */
        cJSON_AddNumberToObject(body, "fence", (double)fence);
    s_send(self, to, "OK", body);
}

static void s_error(af_control_t *self, const af_msg_t *to, const char *code, const char *fmt,
                    ...) __attribute__((format(printf, 4, 5)));
static void s_error(af_control_t *self, const af_msg_t *to, const char *code, const char *fmt,
                    ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (self->metrics)
        af_metric_inc(self->metrics->requests, to->verb, code);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "message", text);
    af_debug("event=request_refused verb=%s req=%s code=%s", to->verb, to->req, code);
    s_send(self, to, "ERROR", body);
}

/* Refuses the request and leaves the handler. */
#define S_FAIL(...)              \
    do {                         \
        s_error(__VA_ARGS__);    \
        return;                  \
    } while (0)

/* ---- shape checks ---------------------------------------------------------- */

/* A user name: 1..63 printable bytes without spaces or quotes (they end up in
 * logs and labels). */
static bool s_user_ok(const char *u)
{
    if (!u || !*u || strlen(u) >= AF_OWNER_MAX)
        return false;
    for (const unsigned char *p = (const unsigned char *)u; *p; p++)
        if (*p <= ' ' || *p == '"' || *p == '\\' || *p >= 0x7f)
            return false;
    return true;
}

/* Reads an optional integer field: 1 absent, 0 ok, -1 wrong. */
static int s_int(const af_msg_t *m, const char *key, long lo, long hi, long *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(m->body, key);
    if (!v || cJSON_IsNull(v))
        return 1;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo ||
        v->valuedouble > hi)
        return -1;
    *out = (long)v->valuedouble;
    return 0;
}

/* role: absent = user. Returns -1 on anything but user/admin. */
static int s_role(const af_msg_t *m, bool *admin)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(m->body, "role");
    *admin = false;
    if (!r || cJSON_IsNull(r))
        return 0;
    if (!cJSON_IsString(r))
        return -1;
    if (!strcmp(r->valuestring, "admin"))
        *admin = true;
    else if (strcmp(r->valuestring, "user") != 0)
        return -1;
    return 0;
}

/* ---- handlers --------------------------------------------------------------- */

static void s_gateway_hello(af_control_t *self, const af_msg_t *m)
{
    const char *gid = af_msg_str(m, "gateway_id"), *ep = af_msg_str(m, "endpoint");
    if (!gid || !af_id_valid(gid, 63))
        S_FAIL(self, m, "invalid_request", "gateway_id must be 1..63 of [A-Za-z0-9_-]");
    if (!ep || strlen(ep) >= 256 || (strncmp(ep, "tcp://", 6) != 0 && strncmp(ep, "ipc://", 6) != 0))
        S_FAIL(self, m, "invalid_request",
                       "endpoint must be a tcp:// or ipc:// address under 256 bytes");
    if (af_fleet_gateway_hello(self->fleet, gid, ep) < 0)
        S_FAIL(self, m, "capacity", "too many gateways announced");
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "heartbeat_ms", af_fleet_config(self->fleet)->heartbeat_ms);
    s_ok(self, m, body);
}

static void s_spawn(af_control_t *self, const af_msg_t *m)
{
    const char *user = af_msg_str(m, "user");
    bool admin;
    if (!s_user_ok(user))
        S_FAIL(self, m, "invalid_request", "user must be a name of 1..63 bytes");
    if (s_role(m, &admin) < 0)
        S_FAIL(self, m, "invalid_request", "role must be \"user\" or \"admin\"");
    if (!strcmp(user, AF_POOL_OWNER))
        S_FAIL(self, m, "invalid_request", "user \"pool\" is reserved for pool agents");
    long count = 1;
    if (s_int(m, "count", 1, 50, &count) < 0)
        S_FAIL(self, m, "invalid_request", "count must be an integer in 1..50");
    af_spec_t spec;
    char err[256];
    if (af_spec_parse(cJSON_GetObjectItemCaseSensitive(m->body, "spec"),
                      &af_fleet_config(self->fleet)->limits, &spec, err, sizeof err) < 0)
        S_FAIL(self, m, "invalid_request", "%s", err);
    const char *code = "internal";
    if (af_fleet_spawn(self->fleet, m, user, &spec, (int)count, &code, err, sizeof err) < 0)
        S_FAIL(self, m, code, "%s", err);
    /* The reply follows once the agents are READY (fleet.c). */
}

/* The agent named by m's agent_id if user may see it, else NULL after an ERROR. */
static af_agent_t *s_owned_agent(af_control_t *self, const af_msg_t *m, bool need_user)
{
    const char *id = af_msg_str(m, "agent_id"), *user = af_msg_str(m, "user");
    bool admin;
    if (!id || !af_id_valid(id, AF_AGENT_ID_MAX - 1)) {
        s_error(self, m, "invalid_request", "agent_id must be 1..63 of [A-Za-z0-9_-]");
        return NULL;
    }
    if (s_role(m, &admin) < 0) {
        s_error(self, m, "invalid_request", "role must be \"user\" or \"admin\"");
        return NULL;
    }
    if (user && !s_user_ok(user)) {
        s_error(self, m, "invalid_request", "user must be a name of 1..63 bytes");
        return NULL;
    }
    if (!user && !admin && need_user) {
        s_error(self, m, "invalid_request", "user is required (or role admin)");
        return NULL;
    }
    af_agent_t *a = af_registry_get(af_fleet_registry(self->fleet), id);
    if (!a || !af_fleet_visible(a) || (!admin && (!user || strcmp(a->owner, user) != 0))) {
        /* Another user's agent looks exactly like a missing one. */
        s_error(self, m, "not_found", "no agent %s", id);
        return NULL;
    }
    return a;
}

static void s_delete(af_control_t *self, const af_msg_t *m)
{
    af_agent_t *a = s_owned_agent(self, m, true);
    if (!a)
        return;
    char id[AF_AGENT_ID_MAX];
    snprintf(id, sizeof id, "%s", a->id);
    af_fleet_delete(self->fleet, a);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "agent_id", id);
    cJSON_AddStringToObject(body, "status", "deleted");
    s_ok(self, m, body);
}

static void s_get(af_control_t *self, const af_msg_t *m)
{
    af_agent_t *a = s_owned_agent(self, m, true);
    if (!a)
        return;
    cJSON *body = cJSON_CreateObject();
    cJSON_AddItemToObject(body, "agent", af_fleet_agent_json(a));
    s_ok(self, m, body);
}

static void s_list(af_control_t *self, const af_msg_t *m)
{
    const char *user = af_msg_str(m, "user");
    bool admin;
    if (s_role(m, &admin) < 0)
        S_FAIL(self, m, "invalid_request", "role must be \"user\" or \"admin\"");
    bool all = af_msg_bool(m, "all", false);
    if (all && !admin)
        S_FAIL(self, m, "forbidden", "listing every agent needs role admin");
    if (!all && !s_user_ok(user))
        S_FAIL(self, m, "invalid_request", "user is required (or all: true as admin)");
    cJSON *body = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(body, "agents");
    for (af_agent_t *a = af_registry_first(af_fleet_registry(self->fleet)); a;
         a = af_registry_next(a))
        if (af_fleet_visible(a) && (all || !strcmp(a->owner, user)))
            cJSON_AddItemToArray(arr, af_fleet_agent_json(a));
    s_ok(self, m, body);
}

static void s_stats(af_control_t *self, const af_msg_t *m)
{
    cJSON *body = cJSON_CreateObject();
    af_fleet_stats(self->fleet, body);
    s_ok(self, m, body);
}

static void s_scale(af_control_t *self, const af_msg_t *m)
{
    bool admin;
    if (s_role(m, &admin) < 0)
        S_FAIL(self, m, "invalid_request", "role must be \"user\" or \"admin\"");
    if (!admin)
        S_FAIL(self, m, "forbidden", "SCALE needs role admin");
    long target = 0;
    if (s_int(m, "target", 0, 100000, &target) != 0)
        S_FAIL(self, m, "invalid_request", "target must be an integer >= 0");
    const char *reason = af_msg_str(m, "reason");
    if (reason)
        af_info("event=scale_request target=%ld reason=\"%.120s\"", target, reason);
    cJSON *body = cJSON_CreateObject();
    af_fleet_scale(self->fleet, (int)target, body);
    s_ok(self, m, body);
}

static void s_place(af_control_t *self, const af_msg_t *m)
{
    const char *user = af_msg_str(m, "user"), *id = af_msg_str(m, "agent_id");
    bool admin;
    if (!s_user_ok(user))
        S_FAIL(self, m, "invalid_request", "user must be a name of 1..63 bytes");
    if (s_role(m, &admin) < 0)
        S_FAIL(self, m, "invalid_request", "role must be \"user\" or \"admin\"");
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(m->body, "agent_id");
    if (idv && !cJSON_IsNull(idv) && (!id || (*id && !af_id_valid(id, AF_AGENT_ID_MAX - 1))))
        S_FAIL(self, m, "invalid_request", "agent_id must be 1..63 of [A-Za-z0-9_-]");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(m->body, "session_id");
    if (sid && !cJSON_IsNull(sid) && !cJSON_IsString(sid))
        S_FAIL(self, m, "invalid_request", "session_id must be a string");
    const char *code = "capacity";
    char err[256];
    af_agent_t *a = af_placement_pick(af_fleet_registry(self->fleet), user, admin, id, &code, err,
                                      sizeof err);
    if (!a)
        S_FAIL(self, m, code, "%s", err);
    af_fleet_placed(self->fleet, a);
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "agent_id", a->id);
    s_ok(self, m, body);
}

/* HA: a standby keeps its registry warm (READY, HEARTBEAT, BYE, GATEWAY_HELLO) and
 * refuses the rest with not_leader, so the gateway asks the other manager. A SPAWN or
 * DELETE carrying a fencing token newer than ours was meant for a newer leader: we are
 * stale, and acting could spawn twice. Returns true when refused (reply sent). */
static bool s_refused_by_lease(af_control_t *self, const af_msg_t *msg, s_verb_t verb)
{
    if (verb == V_READY || verb == V_HEARTBEAT || verb == V_BYE || verb == V_GATEWAY_HELLO ||
        verb == V_OK || verb == V_ERROR || verb == V_OTHER)
        return false;
    uint64_t fence = 0;
    bool leads = af_fleet_leads(self->fleet, &fence);
    double asked = af_msg_num(msg, "fence", 0);
    if (leads && !((verb == V_SPAWN || verb == V_DELETE) && asked > (double)fence))
        return false;
    if (self->metrics)
        af_metric_inc(self->metrics->requests, msg->verb, "not_leader");
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", "not_leader");
    cJSON_AddStringToObject(body, "message",
                            leads ? "stale leader: the request carries a newer fencing token"
                                  : "this manager is a standby: ask the leader");
    cJSON_AddNumberToObject(body, "fence", (double)fence);
    af_debug("event=not_leader verb=%s req=%s fence=%llu asked=%.0f", msg->verb, msg->req,
             (unsigned long long)fence, asked);
    s_send(self, msg, "ERROR", body);
    return true;
}

void af_control_dispatch(af_control_t *self, const af_msg_t *msg)
{
    /* Any message from a registered agent is a sign of life. */
    if (msg->routing_id && zframe_size(msg->routing_id) < AF_AGENT_ID_MAX) {
        char rid[AF_AGENT_ID_MAX];
        memcpy(rid, zframe_data(msg->routing_id), zframe_size(msg->routing_id));
        rid[zframe_size(msg->routing_id)] = '\0';
        af_fleet_touch(self->fleet, rid);
    }
    const s_verb_row_t *row = s_verb_row(msg->verb); /* once per message */
    s_verb_t verb = row ? row->verb : V_OTHER;
    if (!s_peer_may(msg->peer_role, row)) {
        af_warn("event=verb_forbidden verb=%s peer_role=%s req=%s", msg->verb, msg->peer_role,
                msg->req);
        if (verb != V_ERROR) /* never answer an ERROR with one */
            s_error(self, msg, "forbidden", "a %s may not send %s", msg->peer_role, msg->verb);
        return;
    }
    if (s_refused_by_lease(self, msg, verb))
        return;
    switch (verb) {
    case V_READY:
        af_fleet_on_ready(self->fleet, msg);
        break;
    case V_HEARTBEAT:
        af_fleet_on_heartbeat(self->fleet, msg);
        break;
    case V_BYE:
        af_fleet_on_bye(self->fleet, msg);
        break;
    case V_GATEWAY_HELLO:
        s_gateway_hello(self, msg);
        break;
    case V_SPAWN:
        s_spawn(self, msg);
        break;
    case V_DELETE:
        s_delete(self, msg);
        break;
    case V_LIST:
        s_list(self, msg);
        break;
    case V_GET:
        s_get(self, msg);
        break;
    case V_STATS:
        s_stats(self, msg);
        break;
    case V_SCALE:
        s_scale(self, msg);
        break;
    case V_PLACE:
        s_place(self, msg);
        break;
    case V_OK:
        break; /* an agent acknowledging DRAIN */
    case V_ERROR:
        af_debug("event=peer_error req=%s code=%s", msg->req,
                 af_msg_str(msg, "code") ? af_msg_str(msg, "code") : "-");
        break;
    case V_OTHER:
        if (self->metrics)
            af_metric_inc(self->metrics->refused, "unknown_verb");
        af_warn("event=verb_refused verb=%s req=%s", msg->verb, msg->req);
        s_error(self, msg, "unknown_verb", "verb %s is not served by the manager", msg->verb);
        break;
    }
}

static void s_on_readable(zsock_t *sock, void *arg)
{
    af_control_t *self = arg;
    af_msg_t *msg = NULL;
    af_proto_err_t err;
    int rc = af_proto_recv(sock, true, self->max_body, true, af_fleet_config(self->fleet)->codec,
                           &msg, &err);
    (void)err; /* refusals are answered and counted (af_proto_count_refusals) */
    if (rc != 0)
        return;
    af_control_dispatch(self, msg);
    af_msg_destroy(&msg);
}

#define S_BUSY_RATE 200 /* messages/s above which wake-ups are coalesced */

static void s_on_eval(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    af_control_t *self = arg;
    uint64_t total = af_zev_handled(self->zev);
    uint64_t rate = total - self->last_total;
    self->last_total = total;
    if (!self->batched && rate > S_BUSY_RATE) {
        af_info("event=control_batching on=1 rate=%llu batch_ms=%d", (unsigned long long)rate,
                self->batch_ms);
        self->batched = true;
        af_zev_set_coalesce(self->zev, self->batch_ms);
    } else if (self->batched && rate < S_BUSY_RATE / 2) {
        af_info("event=control_batching on=0 rate=%llu", (unsigned long long)rate);
        self->batched = false;
        af_zev_set_coalesce(self->zev, 0);
    }
}

af_control_t *af_control_new(struct event_base *base, const char *listen, af_fleet_t *fleet,
                             af_mgr_metrics_t *metrics, size_t max_body, int batch_ms)
{
    af_control_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->fleet = fleet;
    self->metrics = metrics;
    self->max_body = max_body ? max_body : (size_t)AF_PROTO_MAX_BODY_DEFAULT;
    self->sock = zsock_new(ZMQ_ROUTER);
    if (!self->sock) {
        af_error("event=socket_failed");
        free(self);
        return NULL;
    }
    zsock_set_router_mandatory(self->sock, 1);
    zsock_set_linger(self->sock, 0);
    af_curve_server(self->sock, NULL); /* roles are checked per verb (s_peer_may) */
    /* 1000 agents heartbeating at once must not hit the HWM. */
    zsock_set_sndhwm(self->sock, 100000);
    zsock_set_rcvhwm(self->sock, 100000);
    /* "a,b": several endpoints, e.g. TCP for gateways plus ipc:// for local agents. */
    char eps[1024];
    snprintf(eps, sizeof eps, "%s", listen);
    char *save = NULL;
    for (char *ep = strtok_r(eps, ",", &save); ep; ep = strtok_r(NULL, ",", &save)) {
        while (*ep == ' ')
            ep++;
        if (zsock_bind(self->sock, "%s", ep) < 0) {
            af_error("event=bind_failed listen=%s error=\"%s\"", ep, zmq_strerror(zmq_errno()));
            zsock_destroy(&self->sock);
            free(self);
            return NULL;
        }
    }
    self->batch_ms = batch_ms;
    self->zev = af_zev_new(base, self->sock, s_on_readable, self, 0);
    if (!self->zev) {
        af_control_destroy(&self);
        return NULL;
    }
    af_fleet_set_socket(self->fleet, self->sock, self->zev);
    if (batch_ms > 0) {
        self->eval = event_new(base, -1, EV_PERSIST, s_on_eval, self);
        struct timeval sec = {1, 0};
        if (!self->eval || event_add(self->eval, &sec) < 0) {
            af_control_destroy(&self);
            return NULL;
        }
    }
    af_info("event=control_listening listen=%s", listen);
    return self;
}

void af_control_destroy(af_control_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_control_t *self = *self_p;
    if (self->fleet)
        af_fleet_set_socket(self->fleet, NULL, NULL);
    af_zev_destroy(&self->zev);
    if (self->eval)
        event_free(self->eval);
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}
