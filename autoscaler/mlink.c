/* Manager link. See mlink.h.
 *
 * ZMQ_IMMEDIATE is set so a request sent while the manager is down fails at
 * once instead of queueing: a SCALE delivered minutes late would act on stale
 * numbers. Replies to requests that already timed out are dropped (logged at
 * debug). Callbacks always run from the loop, never from af_mlink_request, so
 * callers never re-enter themselves. */
#include "mlink.h"

#include "curve.h"
#include "log.h"
#include "zev.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_SLOTS 16

typedef struct {
    bool used;
    char req[AF_PROTO_REQ_MAX];
    af_mlink_fn *fn;
    void *arg;
    struct event *timer;
    const char *fail; /* set when the send failed: reported on the next turn */
    struct af_mlink_t *link;
    /* HA: kept to ask another manager when a standby answers not_leader. */
    char verb[AF_PROTO_VERB_MAX];
    cJSON *body;
    int retries;
} s_slot_t;

#define S_NOT_LEADER_RETRIES 6

struct af_mlink_t {
    struct event_base *base;
    zsock_t *sock;
    af_zev_t *zev;
    af_codec_t codec;
    double timeout_s;
    unsigned long seq;
    s_slot_t slots[S_SLOTS];
};

static void s_finish(s_slot_t *slot, const af_msg_t *reply, const char *why)
{
    af_mlink_fn *fn = slot->fn;
    void *arg = slot->arg;
    event_del(slot->timer);
    slot->used = false;
    slot->fn = NULL;
    cJSON_Delete(slot->body);
    slot->body = NULL;
    fn(reply, why, arg);
}

static void s_on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_slot_t *slot = arg;
    if (!slot->used)
        return;
    if (slot->fail) {
        s_finish(slot, NULL, slot->fail);
        return;
    }
    af_warn("manager request timed out req=%s", slot->req);
    s_finish(slot, NULL, "timeout");
}

static void s_on_message(zsock_t *sock, void *arg)
{
    af_mlink_t *self = arg;
    af_msg_t *msg = NULL;
    af_proto_err_t err;
    int rc = af_proto_recv(sock, false, (size_t)AF_PROTO_MAX_BODY_DEFAULT, true, self->codec, &msg, &err);
    if (rc != 0)
        return; /* refused frames were answered and counted by af_proto_recv */
    for (int i = 0; i < S_SLOTS; i++) {
        s_slot_t *slot = &self->slots[i];
        if (slot->used && !slot->fail && strcmp(slot->req, msg->req) == 0) {
            /* HA: a standby did nothing; the DEALER's next send goes to another manager. */
            const char *code = af_msg_str(msg, "code");
            if (!strcmp(msg->verb, "ERROR") && code && !strcmp(code, "not_leader") &&
                slot->body && slot->retries++ < S_NOT_LEADER_RETRIES) {
                af_msg_t *again = af_msg_new(slot->verb, slot->req, cJSON_Duplicate(slot->body, 1));
                if (again && af_proto_send(self->sock, &again, self->codec) == 0) {
                    af_zev_kick(self->zev);
                    af_msg_destroy(&msg);
                    return;
                }
                af_msg_destroy(&again);
            }
            if (strcmp(msg->verb, "OK") != 0) {
                char why[200];
                snprintf(why, sizeof why, "%s refused: %s %s", slot->verb, code ? code : "?",
                         af_msg_str(msg, "message") ? af_msg_str(msg, "message") : "");
                s_finish(slot, NULL, why);
            } else
                s_finish(slot, msg, NULL);
            af_msg_destroy(&msg);
            return;
        }
    }
    af_debug("reply for no pending request verb=%s req=%s", msg->verb, msg->req);
    af_msg_destroy(&msg);
}

af_mlink_t *af_mlink_new(struct event_base *base, const char *endpoint, af_codec_t codec,
                         double timeout_s)
{
    af_mlink_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->base = base;
    self->codec = codec;
    self->timeout_s = timeout_s;
    self->sock = zsock_new(ZMQ_DEALER);
    if (!self->sock)
        goto fail;
    char id[64];
    snprintf(id, sizeof id, "autoscaler-%d", (int)getpid());
    zsock_set_identity(self->sock, id);
    zsock_set_linger(self->sock, 0);
    zsock_set_immediate(self->sock, 1);
    /* "a,b": HA managers; ZMQ_IMMEDIATE keeps a dead one out of the rotation. */
    if (af_curve_client(self->sock, "manager") < 0 || zsock_attach(self->sock, endpoint, false) < 0) {
        af_error("cannot connect endpoint=%s err=%s", endpoint, zmq_strerror(zmq_errno()));
        goto fail;
    }
    self->zev = af_zev_new(base, self->sock, s_on_message, self, 0);
    if (!self->zev)
        goto fail;
    for (int i = 0; i < S_SLOTS; i++) {
        self->slots[i].link = self;
        self->slots[i].timer = evtimer_new(base, s_on_timer, &self->slots[i]);
        if (!self->slots[i].timer)
            goto fail;
    }
    af_info("manager link endpoint=%s id=%s codec=%s", endpoint, id, af_codec_name(codec));
    return self;
fail:
    af_mlink_destroy(&self);
    return NULL;
}

void af_mlink_destroy(af_mlink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_mlink_t *self = *self_p;
    for (int i = 0; i < S_SLOTS; i++)
        if (self->slots[i].used)
            s_finish(&self->slots[i], NULL, "shutdown"); /* owners free their arg */
    for (int i = 0; i < S_SLOTS; i++) {
        if (self->slots[i].timer)
            event_free(self->slots[i].timer);
        cJSON_Delete(self->slots[i].body);
    }
    af_zev_destroy(&self->zev);
    zsock_destroy(&self->sock);
    free(self);
    *self_p = NULL;
}

int af_mlink_request(af_mlink_t *self, const char *verb, cJSON *body, af_mlink_fn *fn, void *arg)
{
    s_slot_t *slot = NULL;
    for (int i = 0; i < S_SLOTS && !slot; i++)
        if (!self->slots[i].used)
            slot = &self->slots[i];
    if (!slot) {
        af_warn("too many pending manager requests verb=%s", verb);
        cJSON_Delete(body);
        return -1;
    }
    snprintf(slot->req, sizeof slot->req, "as%d-%lu", (int)getpid(), ++self->seq);
    cJSON *keep = body ? cJSON_Duplicate(body, 1) : cJSON_CreateObject();
    af_msg_t *msg = af_msg_new(verb, slot->req, body);
    if (!msg) {
        cJSON_Delete(keep);
        return -1;
    }
    snprintf(slot->verb, sizeof slot->verb, "%s", verb);
    slot->body = keep;
    slot->retries = 0;
    slot->used = true;
    slot->fn = fn;
    slot->arg = arg;
    slot->fail = NULL;
    struct timeval tv;
    if (af_proto_send(self->sock, &msg, self->codec) < 0) {
        slot->fail = errno == EAGAIN ? "manager not connected" : "send failed";
        af_warn("cannot send to manager verb=%s req=%s why=%s", verb, slot->req, slot->fail);
        tv = (struct timeval){0, 0};
    } else {
        af_zev_kick(self->zev);
        double t = self->timeout_s;
        tv.tv_sec = (time_t)t;
        tv.tv_usec = (suseconds_t)((t - (double)tv.tv_sec) * 1e6);
    }
    evtimer_add(slot->timer, &tv);
    return 0;
}
