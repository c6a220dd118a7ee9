/* CURVE + the loop's ZAP handler: a client whose key is in the allow-list talks, one
 * with an unknown key and a plaintext one get nothing and the unknown key is
 * counted; a cert added to the allow-list is admitted without restart; off is a
 * no-op. Real sockets over TCP on 127.0.0.1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "curve.h"
#include "log.h"

#include <string.h>
#include <unistd.h>

static char s_dir[128];
static zcert_t *s_rogue;

static void s_save(zcert_t *c, const char *name, bool allowed)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s.cert", s_dir, name);
    assert_int_equal(zcert_save(c, path), 0);
    if (allowed) {
        snprintf(path, sizeof path, "%s/allowed/%s.cert", s_dir, name);
        assert_int_equal(zcert_save_public(c, path), 0);
    }
}

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/af-curve-XXXXXX");
    assert_non_null(mkdtemp(s_dir));
    char sub[160];
    snprintf(sub, sizeof sub, "%s/allowed", s_dir);
    assert_int_equal(zsys_dir_create("%s", sub), 0);
    zcert_t *mgr = zcert_new();
    s_save(mgr, "manager", true); /* this process's cert: admitted as a client too */
    zcert_destroy(&mgr);
    s_rogue = zcert_new();
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    zcert_destroy(&s_rogue);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", s_dir);
    assert_int_equal(system(cmd), 0);
    return 0;
}

/* Runs the loop (ZAP answers) while waiting up to ms for a message on server. */
static zmsg_t *s_wait(struct event_base *base, zsock_t *server, int ms)
{
    zsock_set_rcvtimeo(server, 10);
    for (int i = 0; i < ms / 10; i++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        zmsg_t *m = zmsg_recv(server);
        if (m)
            return m;
    }
    return NULL;
}

static zsock_t *s_client(const char *ep, zcert_t *cert, const char *serverkey)
{
    zsock_t *c = zsock_new(ZMQ_DEALER);
    assert_non_null(c);
    zsock_set_linger(c, 0);
    if (cert) {
        zcert_apply(cert, c);
        zsock_set_curve_serverkey(c, serverkey);
    }
    assert_int_equal(zsock_connect(c, "%s", ep), 0);
    zstr_send(c, "hello");
    return c;
}

static void test_allowed_unknown_plaintext(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_int_equal(af_curve_init(base, s_dir, "manager"), 0);
    assert_true(af_curve_enabled());
    zsock_t *server = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(server, 0);
    assert_int_equal(af_curve_server(server, NULL), 0);
    assert_true(zsock_bind(server, "tcp://127.0.0.1:*") > 0);
    char *ep = zsock_last_endpoint(server);

    /* Known key: admitted, message arrives. */
    zsock_t *good = zsock_new(ZMQ_DEALER);
    zsock_set_linger(good, 0);
    assert_int_equal(af_curve_client(good, "manager"), 0);
    assert_int_equal(zsock_connect(good, "%s", ep), 0);
    zstr_send(good, "hello");
    zmsg_t *m = s_wait(base, server, 3000);
    assert_non_null(m);
    zmsg_destroy(&m);
    assert_true(af_curve_admitted() >= 1);
    assert_int_equal(af_curve_refused(), 0);

    /* A socket for some roles only: the same key (role "manager") is refused
     * and counted where only agentd may speak, admitted where manager may. */
    zsock_t *agents_only = zsock_new(ZMQ_ROUTER), *mixed = zsock_new(ZMQ_ROUTER);
    zsock_set_linger(agents_only, 0);
    zsock_set_linger(mixed, 0);
    assert_int_equal(af_curve_server(agents_only, "agentd"), 0);
    assert_int_equal(af_curve_server(mixed, "gateway,manager"), 0);
    assert_true(zsock_bind(agents_only, "tcp://127.0.0.1:*") > 0);
    assert_true(zsock_bind(mixed, "tcp://127.0.0.1:*") > 0);
    zsock_t *to[2];
    zsock_t *servers[2] = {agents_only, mixed};
    for (int i = 0; i < 2; i++) {
        char *e = zsock_last_endpoint(servers[i]);
        to[i] = zsock_new(ZMQ_DEALER);
        zsock_set_linger(to[i], 0);
        assert_int_equal(af_curve_client(to[i], "manager"), 0);
        assert_int_equal(zsock_connect(to[i], "%s", e), 0);
        zstr_send(to[i], "hello");
        zstr_free(&e);
    }
    assert_null(s_wait(base, agents_only, 1000));
    assert_int_equal(af_curve_refused(), 1);
    m = s_wait(base, mixed, 3000);
    assert_non_null(m);
    zmsg_destroy(&m);
    for (int i = 0; i < 2; i++) {
        zsock_destroy(&to[i]);
        zsock_destroy(&servers[i]);
    }

    /* Unknown key: refused by ZAP, counted, nothing arrives. */
    char mgr_pub[64];
    char path[200];
    snprintf(path, sizeof path, "%s/manager.cert", s_dir);
    zcert_t *mgr = zcert_load(path);
    assert_non_null(mgr);
    snprintf(mgr_pub, sizeof mgr_pub, "%s", zcert_public_txt(mgr));
    zcert_destroy(&mgr);
    zsock_t *rogue = s_client(ep, s_rogue, mgr_pub);
    assert_null(s_wait(base, server, 1000));
    assert_true(af_curve_refused() >= 1);

    /* Plaintext: the mechanism does not match, nothing arrives. */
    zsock_t *plain = s_client(ep, NULL, NULL);
    assert_null(s_wait(base, server, 1000));

    /* The metric says so. */
    af_metrics_t *metrics = af_metrics_new();
    assert_int_equal(af_curve_metrics(metrics), 0);
    char *text = af_metrics_render(metrics);
    assert_non_null(strstr(text, "zmq_curve_refused_total "));
    assert_null(strstr(text, "zmq_curve_refused_total 0"));
    free(text);
    af_metrics_destroy(&metrics);

    /* Admitting the rogue's cert lets a new connection in without a restart. */
    snprintf(path, sizeof path, "%s/allowed/late.cert", s_dir);
    assert_int_equal(zcert_save_public(s_rogue, path), 0);
    sleep(1); /* rescans are at most once a second */
    zsock_t *late = s_client(ep, s_rogue, mgr_pub);
    m = s_wait(base, server, 3000);
    assert_non_null(m);
    zmsg_destroy(&m);

    /* A server role without a cert cannot be dialled. */
    zsock_t *nokey = zsock_new(ZMQ_DEALER);
    assert_int_equal(af_curve_client(nokey, "nosuchrole"), -1);
    zsock_destroy(&nokey);

    zsock_destroy(&late);
    zsock_destroy(&plain);
    zsock_destroy(&rogue);
    zsock_destroy(&good);
    zstr_free(&ep);
    zsock_destroy(&server);
    af_curve_shutdown();
    assert_false(af_curve_enabled());
    event_base_free(base);
}

static void test_off_is_noop(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_int_equal(af_curve_init(base, NULL, "manager"), 0);
    assert_int_equal(af_curve_init(base, "", "manager"), 0);
    assert_false(af_curve_enabled());
    zsock_t *s = zsock_new(ZMQ_DEALER);
    assert_int_equal(af_curve_server(s, NULL), 0);
    assert_int_equal(af_curve_client(s, "manager"), 0);
    assert_int_equal(zsock_mechanism(s), ZMQ_NULL);
    zsock_destroy(&s);
    event_base_free(base);
}

static void test_missing_cert_fails(void **state)
{
    (void)state;
    struct event_base *base = event_base_new();
    assert_int_equal(af_curve_init(base, s_dir, "agentd"), -1); /* no agentd cert made */
    assert_false(af_curve_enabled());
    assert_int_equal(af_curve_init(base, "/nonexistent/dir", "manager"), -1);
    event_base_free(base);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_is_noop),
        cmocka_unit_test(test_missing_cert_fails),
        cmocka_unit_test(test_allowed_unknown_plaintext),
    };
    int rc = cmocka_run_group_tests_name("common_curve", tests, s_setup, s_teardown);
    zsys_shutdown();
    return rc;
}
