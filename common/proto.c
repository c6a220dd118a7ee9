/* Envelope encode/decode and non-blocking send/recv. See proto.h. */
#include "proto.h"

#include "log.h"

#include <errno.h>
#include <string.h>

static const char *s_verbs[] = {
    /* agentd <-> manager */
    "READY", "WELCOME", "HEARTBEAT", "GATEWAYS", "DRAIN", "SHUTDOWN", "BYE",
    /* control plane: gateway / autoscaler / fleetctl -> manager */
    "GATEWAY_HELLO", "SPAWN", "DELETE", "LIST", "GET", "STATS", "SCALE", "PLACE",
    /* data plane: gateway <-> agentd */
    "CHAT", "START", "DELTA", "DONE", "CANCEL", "SESSION_GET", "SESSION_DELETE",
    /* replies */
    "OK", "ERROR", NULL};

static const char *s_err_names[AF_PROTO_ERR_COUNT] = {
    "ok", "bad_frames", "bad_tag", "unknown_verb", "bad_body", "missing_req", "oversized"};

static uint64_t s_refused[AF_PROTO_ERR_COUNT];
static af_metric_t *s_refused_metric;

void af_proto_count_refusals(af_metric_t *m) { s_refused_metric = m; }

af_metric_t *af_proto_metrics_add(af_metrics_t *registry)
{
    af_metric_t *m = af_metrics_counter(registry, "af_protocol_refused_total",
                                        "Refused AF1 frame sets by reason.", "reason");
    if (m)
        af_proto_count_refusals(m);
    return m;
}

const char *af_proto_err_name(af_proto_err_t err)
{
    return (err >= 0 && err < AF_PROTO_ERR_COUNT) ? s_err_names[err] : "unknown";
}

uint64_t af_proto_refused(af_proto_err_t err)
{
    return (err >= 0 && err < AF_PROTO_ERR_COUNT) ? s_refused[err] : 0;
}

const char *const *af_proto_verbs(void) { return s_verbs; }

bool af_proto_verb_known(const char *verb)
{
    for (const char **v = s_verbs; *v; v++)
        if (!strcmp(*v, verb))
            return true;
    return false;
}

af_msg_t *af_msg_new(const char *verb, const char *req, cJSON *body)
{
    af_msg_t *self = calloc(1, sizeof *self);
    if (!self) {
        cJSON_Delete(body);
        return NULL;
    }
    snprintf(self->verb, sizeof self->verb, "%s", verb);
    snprintf(self->req, sizeof self->req, "%s", req ? req : "");
    self->body = body ? body : cJSON_CreateObject();
    if (!self->body) {
        free(self);
        return NULL;
    }
    cJSON_DeleteItemFromObjectCaseSensitive(self->body, "req");
    cJSON_AddStringToObject(self->body, "req", self->req);
    return self;
}

void af_msg_destroy(af_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_msg_t *self = *self_p;
    zframe_destroy(&self->routing_id);
    cJSON_Delete(self->body);
    free(self);
    *self_p = NULL;
}

af_msg_t *af_msg_reply(const af_msg_t *to, const char *verb, cJSON *body)
{
    af_msg_t *r = af_msg_new(verb, to->req, body);
    if (r && to->routing_id)
        r->routing_id = zframe_dup(to->routing_id);
    return r;
}

static bool s_frame_is(const uint8_t *f, size_t n, const char *s)
{
    return n == strlen(s) && memcmp(f, s, n) == 0;
}

af_msg_t *af_proto_decode(const uint8_t *const *frames, const size_t *lens, size_t nframes,
                          size_t max_body, af_proto_err_t *err, char *reason, size_t reasonlen,
                          char *req_out)
{
    req_out[0] = '\0';
    *err = AF_PROTO_OK;
    if (nframes != 3) {
        *err = AF_PROTO_BAD_FRAMES;
        snprintf(reason, reasonlen, "expected 3 frames [tag][verb][body], got %zu", nframes);
        return NULL;
    }
    if (lens[2] > max_body) {
        *err = AF_PROTO_OVERSIZED;
        snprintf(reason, reasonlen, "body of %zu bytes exceeds %zu", lens[2], max_body);
        return NULL;
    }
    /* Decode the body first so that even a refusal can echo the sender's req. */
    af_codec_t codec;
    char why[160];
    cJSON *body = af_codec_decode(frames[2], lens[2], &codec, why, sizeof why);
    const cJSON *req = body ? cJSON_GetObjectItemCaseSensitive(body, "req") : NULL;
    if (req && cJSON_IsString(req) && strlen(req->valuestring) < AF_PROTO_REQ_MAX)
        snprintf(req_out, AF_PROTO_REQ_MAX, "%s", req->valuestring);
    if (!s_frame_is(frames[0], lens[0], AF_PROTO_TAG)) {
        cJSON_Delete(body);
        *err = AF_PROTO_BAD_TAG;
        snprintf(reason, reasonlen, "protocol tag is not %s", AF_PROTO_TAG);
        return NULL;
    }
    char verb[AF_PROTO_VERB_MAX];
    if (lens[1] == 0 || lens[1] >= sizeof verb) {
        cJSON_Delete(body);
        *err = AF_PROTO_UNKNOWN_VERB;
        snprintf(reason, reasonlen, "verb frame of %zu bytes", lens[1]);
        return NULL;
    }
    memcpy(verb, frames[1], lens[1]);
    verb[lens[1]] = '\0';
    if (!body) {
        *err = AF_PROTO_BAD_BODY;
        snprintf(reason, reasonlen, "undecodable body: %s", why);
        return NULL;
    }
    if (!af_proto_verb_known(verb)) {
        cJSON_Delete(body);
        *err = AF_PROTO_UNKNOWN_VERB;
        /* The verb is peer data: print only its safe characters. */
        char safe[AF_PROTO_VERB_MAX];
        size_t i;
        for (i = 0; verb[i]; i++)
            safe[i] = (verb[i] >= 'A' && verb[i] <= 'Z') || verb[i] == '_' ? verb[i] : '?';
        safe[i] = '\0';
        snprintf(reason, reasonlen, "unknown verb %s", safe);
        return NULL;
    }
    if (!req || !cJSON_IsString(req) || !req->valuestring[0] ||
        strlen(req->valuestring) >= AF_PROTO_REQ_MAX) {
        cJSON_Delete(body);
        *err = AF_PROTO_MISSING_REQ;
        snprintf(reason, reasonlen, "body needs a string 'req' of 1..%d bytes",
                 AF_PROTO_REQ_MAX - 1);
        return NULL;
    }
    af_msg_t *msg = calloc(1, sizeof *msg);
    if (!msg) {
        cJSON_Delete(body);
        *err = AF_PROTO_BAD_BODY;
        snprintf(reason, reasonlen, "out of memory");
        return NULL;
    }
    memcpy(msg->verb, verb, sizeof verb);
    snprintf(msg->req, sizeof msg->req, "%s", req->valuestring);
    msg->body = body;
    msg->codec = codec;
    return msg;
}

zmsg_t *af_proto_encode(const af_msg_t *msg, af_codec_t codec)
{
    uint8_t *buf;
    size_t len;
    if (af_codec_encode(msg->body, codec, &buf, &len) < 0)
        return NULL;
    zmsg_t *z = zmsg_new();
    if (msg->routing_id)
        zmsg_append(z, &(zframe_t *){zframe_dup(msg->routing_id)});
    zmsg_addstr(z, AF_PROTO_TAG);
    zmsg_addstr(z, msg->verb);
    zmsg_addmem(z, buf, len);
    free(buf);
    return z;
}

int af_proto_send(zsock_t *sock, af_msg_t **msg_p, af_codec_t codec)
{
    af_msg_t *msg = *msg_p;
    if (!msg)
        return -1;
    zmsg_t *z = af_proto_encode(msg, codec);
    af_msg_destroy(msg_p);
    if (!z) {
        errno = EINVAL;
        return -1;
    }
    /* Frame by frame with DONTWAIT: zmsg_send would block at the high-water mark
     * on a DEALER, and a blocked loop stops every other peer. */
    void *handle = zsock_resolve(sock);
    size_t n = zmsg_size(z);
    size_t i = 0;
    int rc = 0;
    for (zframe_t *f = zmsg_first(z); f; f = zmsg_next(z), i++) {
        int flags = ZMQ_DONTWAIT | (i + 1 < n ? ZMQ_SNDMORE : 0);
        if (zmq_send(handle, zframe_data(f), zframe_size(f), flags) < 0) {
            rc = -1;
            break;
        }
    }
    int saved = errno;
    zmsg_destroy(&z);
    errno = saved;
    return rc;
}

int af_proto_send_error(zsock_t *sock, zframe_t *routing_id, const char *req, const char *code,
                        const char *message, af_codec_t codec)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "code", code);
    cJSON_AddStringToObject(body, "message", message);
    af_msg_t *m = af_msg_new("ERROR", (req && *req) ? req : "-", body);
    if (!m)
        return -1;
    if (routing_id)
        m->routing_id = zframe_dup(routing_id);
    return af_proto_send(sock, &m, codec);
}

#define AF_PROTO_MAX_FRAMES 8

int af_proto_recv(zsock_t *sock, bool router, size_t max_body, bool reply_errors,
                  af_codec_t codec, af_msg_t **out, af_proto_err_t *err)
{
    *out = NULL;
    *err = AF_PROTO_OK;
    void *handle = zsock_resolve(sock);
    zmq_msg_t parts[AF_PROTO_MAX_FRAMES];
    size_t n = 0, total = 0;
    int more = 1;
    /* Read every part of the message, keeping at most AF_PROTO_MAX_FRAMES. */
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part);
            if (n == 0 && total == 0)
                return 1; /* nothing waiting */
            break;
        }
        more = zmq_msg_more(&part);
        total++;
        if (n < AF_PROTO_MAX_FRAMES)
            parts[n++] = part;
        else
            zmq_msg_close(&part);
    }
    size_t skip = router ? 1 : 0;
    zframe_t *rid = NULL;
    if (router && n >= 1)
        rid = zframe_new(zmq_msg_data(&parts[0]), zmq_msg_size(&parts[0]));
    const uint8_t *frames[AF_PROTO_MAX_FRAMES] = {0};
    size_t lens[AF_PROTO_MAX_FRAMES] = {0};
    size_t nf = 0;
    for (size_t i = skip; i < n; i++, nf++) {
        frames[nf] = zmq_msg_data(&parts[i]);
        lens[nf] = zmq_msg_size(&parts[i]);
    }
    if (total > n)
        nf = total; /* report the real count: decode refuses anything but 3 */
    /* The ZAP handler's User-Id rides on every part from a CURVE peer. */
    const char *uid = n > 0 ? zmq_msg_gets(&parts[n - 1], "User-Id") : NULL;
    char peer_role[sizeof((af_msg_t *)0)->peer_role] = "";
    if (uid)
        snprintf(peer_role, sizeof peer_role, "%s", uid);
    char reason[256], req[AF_PROTO_REQ_MAX];
    af_msg_t *msg = (nf > AF_PROTO_MAX_FRAMES)
                        ? NULL
                        : af_proto_decode(frames, lens, nf, max_body, err, reason, sizeof reason,
                                          req);
    if (nf > AF_PROTO_MAX_FRAMES) {
        *err = AF_PROTO_BAD_FRAMES;
        snprintf(reason, sizeof reason, "expected 3 frames, got %zu", nf - skip);
        req[0] = '\0';
    }
    /* Never answer a broken ERROR with an ERROR: two such peers would loop. */
    bool was_error = nf >= 2 && nf <= AF_PROTO_MAX_FRAMES && s_frame_is(frames[1], lens[1], "ERROR");
    for (size_t i = 0; i < n; i++)
        zmq_msg_close(&parts[i]);
    if (!msg) {
        s_refused[*err]++;
        if (s_refused_metric)
            af_metric_inc(s_refused_metric, af_proto_err_name(*err));
        af_warn("event=frame_refused reason=%s detail=\"%s\"", af_proto_err_name(*err), reason);
        if (reply_errors && !was_error && (!router || rid))
            af_proto_send_error(sock, rid, req, af_proto_err_name(*err), reason, codec);
        zframe_destroy(&rid);
        return -1;
    }
    msg->routing_id = rid;
    memcpy(msg->peer_role, peer_role, sizeof peer_role);
    *out = msg;
    return 0;
}

const char *af_msg_str(const af_msg_t *msg, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg->body, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

double af_msg_num(const af_msg_t *msg, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg->body, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

bool af_msg_bool(const af_msg_t *msg, const char *key, bool fallback)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg->body, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : fallback;
}
