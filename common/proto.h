/* Wire protocol envelope: ZeroMQ multipart [routing id]? ["AF1"] [VERB] [body].
 * Decoding is a pure function over frame buffers (fuzzable, socket-free); the
 * zsock helpers below wrap it. Every body is a map carrying a string `req`. */
#ifndef AF_PROTO_H
#define AF_PROTO_H

#include "codec.h"
#include "metrics.h"

#include <czmq.h>
#include <stdbool.h>

#define AF_PROTO_TAG "AF1"
#define AF_PROTO_VERB_MAX 24
#define AF_PROTO_REQ_MAX 64
#define AF_PROTO_MAX_BODY_DEFAULT (1024 * 1024)

/* Why a frame set was refused; each has a stable name for ERROR codes and metrics. */
typedef enum {
    AF_PROTO_OK = 0,
    AF_PROTO_BAD_FRAMES, /* wrong number of frames */
    AF_PROTO_BAD_TAG,    /* not "AF1" */
    AF_PROTO_UNKNOWN_VERB,
    AF_PROTO_BAD_BODY,   /* undecodable, not a map */
    AF_PROTO_MISSING_REQ,
    AF_PROTO_OVERSIZED,
    AF_PROTO_ERR_COUNT
} af_proto_err_t;

const char *af_proto_err_name(af_proto_err_t err);

/* One decoded message. Owns body and routing id. */
typedef struct {
    zframe_t *routing_id; /* set when received on a ROUTER; NULL otherwise */
    char verb[AF_PROTO_VERB_MAX];
    char req[AF_PROTO_REQ_MAX];
    cJSON *body;          /* always an object holding "req" */
    af_codec_t codec;     /* wire form it arrived in */
    /* The sender's role as CURVE authenticated it (the ZAP User-Id: "gateway",
     * "agentd", ...); "" when the link is not CURVE. See af_curve_*. */
    char peer_role[32];
} af_msg_t;

/* True when verb is one of the verbs documented in docs/protocol.md. */
bool af_proto_verb_known(const char *verb);
/* Those verbs: a NULL-terminated static table (the protocol doc's test walks it). */
const char *const *af_proto_verbs(void);

/* Takes ownership of body (may be NULL: an empty object is made); copies verb and
 * sets body.req = req (a fresh id is not made here; callers name it). */
af_msg_t *af_msg_new(const char *verb, const char *req, cJSON *body);
void af_msg_destroy(af_msg_t **self_p);

/* Decodes [tag][verb][body] from raw frames (no routing id). On success returns a
 * new message (caller owns). On failure returns NULL, sets *err, writes a reason,
 * and copies what could be read of req (for the ERROR reply) into req_out, which
 * must hold AF_PROTO_REQ_MAX bytes. */
af_msg_t *af_proto_decode(const uint8_t *const *frames, const size_t *lens, size_t nframes,
                          size_t max_body, af_proto_err_t *err, char *reason, size_t reasonlen,
                          char *req_out);

/* Encodes a message to a new zmsg (routing id first if set). Returns NULL on
 * encoding failure. */
zmsg_t *af_proto_encode(const af_msg_t *msg, af_codec_t codec);

/* Receives one message without blocking. Returns 0 with *out set, 1 when nothing
 * was waiting, or -1 when a message arrived but was refused: in that case an
 * ERROR reply naming the reason has already been sent back to the peer (when
 * reply_errors is true) and *err says why. router: socket has a routing id frame. */
int af_proto_recv(zsock_t *sock, bool router, size_t max_body, bool reply_errors,
                  af_codec_t codec, af_msg_t **out, af_proto_err_t *err);

/* Sends and destroys *msg_p (always). Never blocks: returns -1 with errno EAGAIN
 * when the peer is at its high-water mark, EHOSTUNREACH when a ROUTER peer is
 * gone. */
int af_proto_send(zsock_t *sock, af_msg_t **msg_p, af_codec_t codec);

/* Builds and sends an ERROR {req, code, message} to routing_id (may be NULL on a
 * DEALER). Does not take routing_id. */
int af_proto_send_error(zsock_t *sock, zframe_t *routing_id, const char *req, const char *code,
                        const char *message, af_codec_t codec);

/* Builds a reply to `to`: same routing id (duplicated), same req, given verb; body
 * ownership taken. */
af_msg_t *af_msg_reply(const af_msg_t *to, const char *verb, cJSON *body);

/* Body accessors: NULL / fallback when absent or of another type. */
const char *af_msg_str(const af_msg_t *msg, const char *key);
double af_msg_num(const af_msg_t *msg, const char *key, double fallback);
bool af_msg_bool(const af_msg_t *msg, const char *key, bool fallback);

/* Per-process counters of refused frames by reason (read by metrics). */
uint64_t af_proto_refused(af_proto_err_t err);

/* Also count every frame af_proto_recv refuses into m, a counter labelled
 * `reason` (af_protocol_refused_total in each daemon), so no receive path can
 * forget it; NULL stops. Per process like the counters above: the metric is
 * borrowed and must outlive the calls, so a daemon unsets it before freeing. */
void af_proto_count_refusals(af_metric_t *m);
/* Registers af_protocol_refused_total{reason} in registry and counts into it
 * (af_proto_count_refusals). Returns the counter, owned by registry; NULL on
 * failure. */
af_metric_t *af_proto_metrics_add(af_metrics_t *registry);

#endif
