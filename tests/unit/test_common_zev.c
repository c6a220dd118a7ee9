/* zmq-on-libevent under the cases that break naive adapters: a 100k-message
 * burst answered from inside the handler (sends consume the ZMQ_FD edge), sends
 * from outside the handler (timers + kick), and a peer that stops reading (HWM:
 * the loop must never block). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"
#include "proto.h"
#include "zev.h"

#include <errno.h>
#include <string.h>

#define BURST 100000

static const struct timeval s_ms1 = {0, 1000};
static const struct timeval s_s20 = {20, 0};
static const struct timeval s_s30 = {30, 0};

/* ---- burst with echo from inside the handler ------------------------------ */

typedef struct {
    int received;
    int out_of_order;
    struct event_base *base;
} s_echo_t;

static void s_echo_handler(zsock_t *sock, void *arg)
{
    s_echo_t *st = arg;
    zmsg_t *m = zmsg_recv(sock); /* ROUTER: [id][seq] */
    assert_non_null(m);
    zframe_t *id = zmsg_first(m);
    zframe_t *seq = zmsg_next(m);
    int n = atoi((char *)zframe_data(seq));
    if (n != st->received)
        st->out_of_order++;
    st->received++;
    /* Echo back without blocking: the reply is a send inside the handler. */
    zmq_send(zsock_resolve(sock), zframe_data(id), zframe_size(id), ZMQ_SNDMORE | ZMQ_DONTWAIT);
    zmq_send(zsock_resolve(sock), zframe_data(seq), zframe_size(seq), ZMQ_DONTWAIT);
    zmsg_destroy(&m);
    if (st->received == BURST)
        event_base_loopexit(st->base, NULL);
}

/* Thread: blasts BURST numbered messages, then counts BURST echoes. */
static void s_blaster(zsock_t *pipe, void *args)
{
    const char *endpoint = args;
    zsock_t *d = zsock_new_dealer(endpoint);
    zsock_set_rcvtimeo(d, 10000);
    zsock_signal(pipe, 0);
    int echoes = 0, sent = 0;
    char buf[16];
    zpoller_t *p = zpoller_new(d, NULL);
    while (echoes < BURST) {
        /* Interleave sending and reading so neither side's HWM deadlocks us. */
        while (sent < BURST && (zsock_events(d) & ZMQ_POLLOUT)) {
            int len = snprintf(buf, sizeof buf, "%d", sent);
            if (zmq_send(zsock_resolve(d), buf, (size_t)len + 1, ZMQ_DONTWAIT) < 0)
                break;
            sent++;
        }
        while (zsock_events(d) & ZMQ_POLLIN) {
            char *s = zstr_recv(d);
            zstr_free(&s);
            echoes++;
        }
        if (echoes < BURST && !zpoller_wait(p, sent < BURST ? 1 : 10000) && sent == BURST &&
            zpoller_expired(p))
            break;
    }
    zpoller_destroy(&p);
    zsock_destroy(&d);
    zsock_send(pipe, "i", echoes);
    char *term = zstr_recv(pipe); /* $TERM from zactor_destroy */
    zstr_free(&term);
}

static void s_on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopexit(arg, NULL);
}

static void test_burst_100k_with_echo(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    /* Unbounded send queue: this test is about the edge, not about HWM drops
     * (test_peer_stops_reading covers those). */
    zsock_t *router = zsock_new(ZMQ_ROUTER);
    zsock_set_sndhwm(router, 0);
    assert_true(zsock_bind(router, "tcp://127.0.0.1:*") >= 0);
    const char *endpoint = zsock_endpoint(router);
    s_echo_t st = {.base = base};
    af_zev_t *zev = af_zev_new(base, router, s_echo_handler, &st, 0);
    assert_non_null(zev);
    zactor_t *blaster = zactor_new(s_blaster, (void *)endpoint);
    struct event *to = evtimer_new(base, s_on_timeout, base);
    evtimer_add(to, &s_s30);
    event_base_dispatch(base);
    /* Keep serving echoes' edge cases until the blaster has counted them all. */
    int echoes = -1;
    zsock_recv(blaster, "i", &echoes);
    assert_int_equal(st.received, BURST);
    assert_int_equal(st.out_of_order, 0);
    assert_int_equal(echoes, BURST);
    assert_true(af_zev_handled(zev) == BURST);
    zactor_destroy(&blaster);
    event_free(to);
    af_zev_destroy(&zev);
    assert_null(zev);
    zsock_destroy(&router);
    event_base_free(base);
}

/* ---- sends from a timer, outside the handler, with kick -------------------- */

typedef struct {
    zsock_t *dealer;
    af_zev_t *zev;
    struct event *tick;
    int sent, pongs;
    struct event_base *base;
} s_ping_t;

static void s_pong_handler(zsock_t *sock, void *arg)
{
    s_ping_t *st = arg;
    char *s = zstr_recv(sock);
    zstr_free(&s);
    if (++st->pongs == 2000)
        event_base_loopexit(st->base, NULL);
}

static void s_on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_ping_t *st = arg;
    for (int i = 0; i < 100 && st->sent < 2000; i++, st->sent++)
        zmq_send(zsock_resolve(st->dealer), "ping", 5, ZMQ_DONTWAIT);
    af_zev_kick(st->zev);
    if (st->sent < 2000)
        evtimer_add(st->tick, &s_ms1);
}

static void s_ponger(zsock_t *pipe, void *args)
{
    zsock_t *r = zsock_new_router((const char *)args);
    zsock_signal(pipe, 0);
    zpoller_t *p = zpoller_new(pipe, r, NULL);
    for (;;) {
        void *which = zpoller_wait(p, -1);
        if (which == pipe || !which)
            break;
        zmsg_t *m = zmsg_recv(r);
        zmsg_send(&m, r);
    }
    zpoller_destroy(&p);
    zsock_destroy(&r);
}

static void test_sends_outside_handler(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    zactor_t *ponger = zactor_new(s_ponger, "inproc://zev-ping");
    s_ping_t st = {.base = base};
    st.dealer = zsock_new_dealer("inproc://zev-ping");
    st.zev = af_zev_new(base, st.dealer, s_pong_handler, &st, 16);
    st.tick = evtimer_new(base, s_on_tick, &st);
    evtimer_add(st.tick, &s_ms1);
    struct event *to = evtimer_new(base, s_on_timeout, base);
    evtimer_add(to, &s_s20);
    event_base_dispatch(base);
    assert_int_equal(st.pongs, 2000);
    event_free(to);
    event_free(st.tick);
    af_zev_destroy(&st.zev);
    zsock_destroy(&st.dealer);
    zactor_destroy(&ponger);
    event_base_free(base);
}

/* ---- a peer that stops reading ---------------------------------------------- */

typedef struct {
    zsock_t *dealer;
    int sent, eagain, ticks;
    struct event *tick;
    struct event_base *base;
} s_hwm_t;

static void s_on_flood(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    s_hwm_t *st = arg;
    st->ticks++;
    /* Each tick tries a batch; once the pipe is full every send fails fast. */
    for (int i = 0; i < 5000; i++) {
        af_msg_t *m = af_msg_new("HEARTBEAT", "h", NULL);
        if (af_proto_send(st->dealer, &m, AF_CODEC_CBOR) < 0) {
            assert_int_equal(errno, EAGAIN);
            st->eagain++;
        } else
            st->sent++;
    }
    if (st->ticks == 50)
        event_base_loopexit(st->base, NULL);
    else
        evtimer_add(st->tick, &s_ms1);
}

static void test_peer_stops_reading(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    zsock_t *silent = zsock_new(ZMQ_ROUTER);
    zsock_set_rcvhwm(silent, 100);
    assert_true(zsock_bind(silent, "tcp://127.0.0.1:*") >= 0);
    s_hwm_t st = {.base = base};
    st.dealer = zsock_new(ZMQ_DEALER);
    zsock_set_sndhwm(st.dealer, 100);
    assert_int_equal(zsock_connect(st.dealer, "%s", zsock_endpoint(silent)), 0);
    st.tick = evtimer_new(base, s_on_flood, &st);
    evtimer_add(st.tick, &s_ms1);
    uint64_t t0 = zclock_mono();
    event_base_dispatch(base);
    uint64_t ms = zclock_mono() - t0;
    /* The loop kept turning (all 50 ticks ran), sends failed fast once full, and
     * only a bounded number got queued (both HWMs plus kernel buffers). */
    assert_int_equal(st.ticks, 50);
    assert_true(st.eagain > 0);
    assert_true(st.sent < 50 * 5000);
    assert_true(ms < 20000);
    /* Now the peer reads: what was accepted is delivered, nothing corrupted. */
    int got = 0;
    zsock_set_rcvtimeo(silent, 500);
    for (;;) {
        zmsg_t *m = zmsg_recv(silent);
        if (!m)
            break;
        assert_int_equal(zmsg_size(m), 4); /* id + AF1 + verb + body */
        zmsg_destroy(&m);
        got++;
    }
    assert_true(got > 0);
    assert_true(got <= st.sent);
    event_free(st.tick);
    zsock_destroy(&st.dealer);
    zsock_destroy(&silent);
    event_base_free(base);
}

/* ---- coalescing ------------------------------------------------------------- */

typedef struct {
    int got;
    struct event_base *base;
} s_count_t;

static void s_count_handler(zsock_t *sock, void *arg)
{
    s_count_t *st = arg;
    zmsg_t *m = zmsg_recv(sock); /* ROUTER: [id][body] */
    zmsg_destroy(&m);
    if (++st->got == 2000)
        event_base_loopexit(st->base, NULL);
}

/* Thread: 2000 messages at a steady pace over about 200 ms. */
static void s_trickler(zsock_t *pipe, void *args)
{
    zsock_t *d = zsock_new_dealer((const char *)args);
    zsock_signal(pipe, 0);
    for (int i = 0; i < 2000; i++) {
        zstr_send(d, "tick");
        if (i % 10 == 9)
            zclock_sleep(1);
    }
    char *term = zstr_recv(pipe);
    zstr_free(&term);
    zsock_destroy(&d);
}

static void test_coalesce(void **state)
{
    (void)state;
    for (int coalesce = 0; coalesce <= 20; coalesce += 20) {
        struct event_base *base = event_base_new();
        char ep[64];
        snprintf(ep, sizeof ep, "inproc://zev-coalesce-%d", coalesce);
        zsock_t *router = zsock_new_router(ep);
        assert_non_null(router);
        s_count_t st = {.base = base};
        af_zev_t *zev = af_zev_new(base, router, s_count_handler, &st, 0);
        af_zev_set_coalesce(zev, coalesce);
        zactor_t *t = zactor_new(s_trickler, ep);
        struct event *to = evtimer_new(base, s_on_timeout, base);
        evtimer_add(to, &s_s20);
        event_base_dispatch(base);
        assert_int_equal(st.got, 2000);
        uint64_t wakeups = af_zev_wakeups(zev);
        if (coalesce) /* ~200 ms of traffic in 20 ms windows: a handful, not hundreds */
            assert_true(wakeups <= 30);
        else
            assert_true(wakeups > 30);
        zactor_destroy(&t);
        event_free(to);
        af_zev_destroy(&zev);
        zsock_destroy(&router);
        event_base_free(base);
    }
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_burst_100k_with_echo),
        cmocka_unit_test(test_sends_outside_handler),
        cmocka_unit_test(test_peer_stops_reading),
        cmocka_unit_test(test_coalesce),
    };
    int rc = cmocka_run_group_tests_name("zev", tests, NULL, NULL);
    zsys_shutdown();
    return rc;
}
