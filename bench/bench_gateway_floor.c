/* The floor under bench/gateway's stack: the same chain of transports as
 * client -> gateway -> agentd -> upstream, doing no work. A "front" process
 * serves HTTP with evhttp and hands each body to a "back" process over a
 * ZeroMQ ROUTER/DEALER link (common/zev on libevent, as the daemons use); the
 * back POSTs it upstream with libcurl multi (common/curl_loop, the agent's
 * options) and sends the reply, or each streamed chunk as it arrives, back the
 * same way. No auth, JSON, CBOR, sessions, routing or metrics: whatever the
 * real stack adds beyond this chain is ours; this much is the architecture's
 * and the box's.
 *
 * usage: bench_gateway_floor front --listen PORT --zmq tcp://127.0.0.1:Z
 *        bench_gateway_floor back --zmq tcp://127.0.0.1:Z --upstream http://127.0.0.1:P
 * Runs until SIGTERM or SIGINT. */
#include "curl_loop.h"
#include "log.h"
#include "zev.h"

#include <czmq.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define SLOTS 65536 /* requests in flight at most; far above the bench's 256 */

static struct event_base *s_base;
static zsock_t *s_sock;
static af_zev_t *s_zev;

static void s_on_signal(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what, (void)arg;
    event_base_loopbreak(s_base);
}

/* ---- front: HTTP in, ZeroMQ out ------------------------------------------ */

typedef struct {
    struct evhttp_request *req;
    uint32_t id;
    bool started; /* a chunked reply is open */
} f_slot_t;

static f_slot_t s_slots[SLOTS];
static uint32_t s_next_id = 1;
static zframe_t *s_back; /* routing id of the back, once it said hello */

static void s_front_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    if (!s_back) {
        evhttp_send_error(req, 503, "no back");
        return;
    }
    f_slot_t *slot = &s_slots[s_next_id % SLOTS];
    if (slot->req) {
        evhttp_send_error(req, 503, "too many in flight");
        return;
    }
    uint32_t id = s_next_id++;
    *slot = (f_slot_t){.req = req, .id = id};
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *key = evhttp_find_header(evhttp_request_get_input_headers(req), "x-api-key");
    zmsg_t *m = zmsg_new();
    zmsg_append(m, &(zframe_t *){zframe_dup(s_back)});
    zmsg_addmem(m, &id, sizeof id);
    zmsg_addstr(m, key ? key : "");
    zmsg_addmem(m, evbuffer_pullup(in, (ev_ssize_t)len), len);
    zmsg_send(&m, s_sock);
    af_zev_kick(s_zev);
}

static void s_front_msg(zsock_t *sock, void *arg)
{
    (void)arg;
    zmsg_t *m = zmsg_recv(sock);
    if (!m)
        return;
    zframe_t *who = zmsg_pop(m), *idf = zmsg_pop(m), *kind = zmsg_pop(m), *data = zmsg_pop(m);
    if (kind && zframe_streq(kind, "H")) {
        zframe_destroy(&s_back);
        s_back = who;
        who = NULL;
    } else if (idf && kind && data && zframe_size(idf) == sizeof(uint32_t)) {
        uint32_t id;
        memcpy(&id, zframe_data(idf), sizeof id);
        f_slot_t *slot = &s_slots[id % SLOTS];
        if (slot->req && slot->id == id) {
            struct evbuffer *out = evbuffer_new();
            evbuffer_add(out, zframe_data(data), zframe_size(data));
            struct evkeyvalq *h = evhttp_request_get_output_headers(slot->req);
            if (zframe_streq(kind, "C")) {
                if (!slot->started) {
                    evhttp_add_header(h, "Content-Type", "text/event-stream");
                    evhttp_send_reply_start(slot->req, 200, "OK");
                    slot->started = true;
                }
                evhttp_send_reply_chunk(slot->req, out);
            } else if (slot->started) {
                evhttp_send_reply_end(slot->req);
                slot->req = NULL;
            } else {
                evhttp_add_header(h, "Content-Type", "application/json");
                evhttp_send_reply(slot->req, 200, "OK", out);
                slot->req = NULL;
            }
            evbuffer_free(out);
        }
    }
    zframe_destroy(&who);
    zframe_destroy(&idf);
    zframe_destroy(&kind);
    zframe_destroy(&data);
    zmsg_destroy(&m);
}

static int s_front(int port, const char *zmq_ep)
{
    s_sock = zsock_new(ZMQ_ROUTER);
    if (!s_sock)
        return 1;
    zsock_set_sndhwm(s_sock, 100000);
    zsock_set_rcvhwm(s_sock, 100000);
    zsock_set_linger(s_sock, 0);
    if (zsock_bind(s_sock, "%s", zmq_ep) < 0) {
        fprintf(stderr, "floor front: cannot bind %s\n", zmq_ep);
        return 1;
    }
    struct evhttp *http = evhttp_new(s_base);
    struct evhttp_bound_socket *bs =
        http ? evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port) : NULL;
    if (!bs) {
        fprintf(stderr, "floor front: cannot listen on %d\n", port);
        return 1;
    }
    /* As the gateway does: streamed chunks must not wait for Nagle. */
    int one = 1;
    setsockopt(evhttp_bound_socket_get_fd(bs), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_POST | EVHTTP_REQ_GET);
    evhttp_set_gencb(http, s_front_request, NULL);
    s_zev = af_zev_new(s_base, s_sock, s_front_msg, NULL, 0);
    event_base_dispatch(s_base);
    af_zev_destroy(&s_zev);
    evhttp_free(http);
    zframe_destroy(&s_back);
    zsock_destroy(&s_sock);
    return 0;
}

/* ---- back: ZeroMQ in, libcurl out ----------------------------------------- */

typedef struct {
    CURL *easy;
    struct curl_slist *headers;
    uint32_t id;
    bool stream;
    char *body;
    struct evbuffer *reply; /* a whole (non-streamed) response */
} b_call_t;

static af_curl_loop_t *s_loop;
static const char *s_url;

static void s_back_send(uint32_t id, const char *kind, const void *data, size_t len)
{
    zmsg_t *m = zmsg_new();
    zmsg_addmem(m, &id, sizeof id);
    zmsg_addstr(m, kind);
    zmsg_addmem(m, data, len);
    zmsg_send(&m, s_sock);
    af_zev_kick(s_zev);
}

static size_t s_back_write(char *data, size_t size, size_t n, void *arg)
{
    b_call_t *c = arg;
    if (c->stream)
        s_back_send(c->id, "C", data, size * n);
    else
        evbuffer_add(c->reply, data, size * n);
    return size * n;
}

static void s_back_done(CURL *easy, CURLcode res, void *arg)
{
    (void)easy, (void)res;
    b_call_t *c = arg;
    size_t len = evbuffer_get_length(c->reply);
    s_back_send(c->id, "E", evbuffer_pullup(c->reply, (ev_ssize_t)len), len);
    curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    evbuffer_free(c->reply);
    free(c->body);
    free(c);
}

static void s_back_msg(zsock_t *sock, void *arg)
{
    (void)arg;
    zmsg_t *m = zmsg_recv(sock);
    if (!m)
        return;
    zframe_t *idf = zmsg_pop(m);
    char *key = zmsg_popstr(m);
    zframe_t *body = zmsg_pop(m);
    b_call_t *c = calloc(1, sizeof *c);
    if (c && idf && key && body && zframe_size(idf) == sizeof c->id) {
        memcpy(&c->id, zframe_data(idf), sizeof c->id);
        c->body = strndup((const char *)zframe_data(body), zframe_size(body));
        c->stream = c->body && strstr(c->body, "\"stream\":true");
        c->reply = evbuffer_new();
        char kh[256];
        snprintf(kh, sizeof kh, "x-api-key: %s", key);
        c->headers = curl_slist_append(c->headers, kh);
        c->headers = curl_slist_append(c->headers, "anthropic-version: 2023-06-01");
        c->headers = curl_slist_append(c->headers, "content-type: application/json");
        c->headers = curl_slist_append(c->headers, "Expect:");
        CURL *e = c->easy = curl_easy_init();
        curl_easy_setopt(e, CURLOPT_URL, s_url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, c->body);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_back_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        af_curl_loop_add(s_loop, e, s_back_done, c);
    } else
        free(c);
    zframe_destroy(&idf);
    zframe_destroy(&body);
    free(key);
    zmsg_destroy(&m);
}

static int s_back_run(const char *zmq_ep, const char *upstream)
{
    char url[512];
    snprintf(url, sizeof url, "%s/v1/messages", upstream);
    s_url = url;
    s_sock = zsock_new(ZMQ_DEALER);
    s_loop = af_curl_loop_new(s_base);
    if (!s_sock || !s_loop)
        return 1;
    curl_multi_setopt(af_curl_loop_multi(s_loop), CURLMOPT_MAXCONNECTS, 100L);
    zsock_set_sndhwm(s_sock, 100000);
    zsock_set_rcvhwm(s_sock, 100000);
    zsock_set_linger(s_sock, 0);
    if (zsock_connect(s_sock, "%s", zmq_ep) < 0)
        return 1;
    s_zev = af_zev_new(s_base, s_sock, s_back_msg, NULL, 0);
    s_back_send(0, "H", "", 0);
    event_base_dispatch(s_base);
    af_zev_destroy(&s_zev);
    af_curl_loop_destroy(&s_loop);
    zsock_destroy(&s_sock);
    return 0;
}

int main(int argc, char **argv)
{
    const char *role = argc > 1 ? argv[1] : "", *zmq_ep = NULL, *upstream = NULL;
    int port = 0;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--listen"))
            port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--zmq"))
            zmq_ep = argv[i + 1];
        else if (!strcmp(argv[i], "--upstream"))
            upstream = argv[i + 1];
    }
    bool front = !strcmp(role, "front") && port > 0 && zmq_ep;
    bool back = !strcmp(role, "back") && zmq_ep && upstream;
    if (!front && !back) {
        fprintf(stderr, "usage: %s front --listen PORT --zmq EP\n"
                        "       %s back --zmq EP --upstream http://HOST:PORT\n",
                argv[0], argv[0]);
        return 2;
    }
    af_log_init("floor", AF_LOG_WARN);
    zsys_init();
    zsys_handler_set(NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    s_base = event_base_new();
    struct event *sigterm = evsignal_new(s_base, SIGTERM, s_on_signal, NULL);
    struct event *sigint = evsignal_new(s_base, SIGINT, s_on_signal, NULL);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    int rc = front ? s_front(port, zmq_ep) : s_back_run(zmq_ep, upstream);
    event_free(sigterm);
    event_free(sigint);
    event_base_free(s_base);
    curl_global_cleanup();
    return rc;
}
