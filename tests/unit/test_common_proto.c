/* Envelope decode/encode, refusals, and every test vector in docs/protocol.md
 * (so the document cannot drift from the code). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "log.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static af_msg_t *s_decode3(const char *tag, const char *verb, const uint8_t *body, size_t blen,
                           af_proto_err_t *err, char *req)
{
    const uint8_t *frames[3] = {(const uint8_t *)tag, (const uint8_t *)verb, body};
    size_t lens[3] = {strlen(tag), strlen(verb), blen};
    char reason[256];
    return af_proto_decode(frames, lens, 3, AF_PROTO_MAX_BODY_DEFAULT, err, reason, sizeof reason,
                           req);
}

static void test_decode_json_and_cbor(void **state)
{
    (void)state;
    af_proto_err_t err;
    char req[AF_PROTO_REQ_MAX];
    const char *json = "{\"req\":\"x1\",\"n\":3}";
    af_msg_t *m = s_decode3("AF1", "STATS", (const uint8_t *)json, strlen(json), &err, req);
    assert_non_null(m);
    assert_string_equal(m->verb, "STATS");
    assert_string_equal(m->req, "x1");
    assert_int_equal(m->codec, AF_CODEC_JSON);
    assert_int_equal((int)af_msg_num(m, "n", 0), 3);
    /* Re-encode as CBOR and decode again: same tree. */
    uint8_t *cbor;
    size_t clen;
    assert_int_equal(af_codec_encode(m->body, AF_CODEC_CBOR, &cbor, &clen), 0);
    af_msg_t *m2 = s_decode3("AF1", "STATS", cbor, clen, &err, req);
    assert_non_null(m2);
    assert_int_equal(m2->codec, AF_CODEC_CBOR);
    assert_true(cJSON_Compare(m->body, m2->body, 1));
    free(cbor);
    af_msg_destroy(&m);
    af_msg_destroy(&m2);
    assert_null(m);
}

static void test_refusals(void **state)
{
    (void)state;
    af_proto_err_t err;
    char req[AF_PROTO_REQ_MAX];
    const char *ok = "{\"req\":\"r9\"}";
    assert_null(s_decode3("AF2", "STATS", (const uint8_t *)ok, strlen(ok), &err, req));
    assert_int_equal(err, AF_PROTO_BAD_TAG);
    assert_null(s_decode3("AF1", "FROB", (const uint8_t *)ok, strlen(ok), &err, req));
    assert_int_equal(err, AF_PROTO_UNKNOWN_VERB);
    assert_string_equal(req, "r9"); /* echoed in the ERROR even for an unknown verb */
    const char *noreq = "{\"x\":1}";
    assert_null(s_decode3("AF1", "STATS", (const uint8_t *)noreq, strlen(noreq), &err, req));
    assert_int_equal(err, AF_PROTO_MISSING_REQ);
    const char *numreq = "{\"req\":5}";
    assert_null(s_decode3("AF1", "STATS", (const uint8_t *)numreq, strlen(numreq), &err, req));
    assert_int_equal(err, AF_PROTO_MISSING_REQ);
    const uint8_t junk[] = {0xff, 0x00, 0x13};
    assert_null(s_decode3("AF1", "STATS", junk, sizeof junk, &err, req));
    assert_int_equal(err, AF_PROTO_BAD_BODY);
    const char *arr = "[1,2]";
    assert_null(s_decode3("AF1", "STATS", (const uint8_t *)arr, strlen(arr), &err, req));
    assert_int_equal(err, AF_PROTO_BAD_BODY);
    /* Oversized: a 2 MiB body against the 1 MiB default. */
    size_t big = 2 * 1024 * 1024;
    uint8_t *b = calloc(1, big);
    b[0] = '{';
    assert_null(s_decode3("AF1", "STATS", b, big, &err, req));
    assert_int_equal(err, AF_PROTO_OVERSIZED);
    free(b);
    /* Wrong frame count. */
    const uint8_t *frames[2] = {(const uint8_t *)"AF1", (const uint8_t *)"STATS"};
    size_t lens[2] = {3, 5};
    char reason[128];
    assert_null(af_proto_decode(frames, lens, 2, 1024, &err, reason, sizeof reason, req));
    assert_int_equal(err, AF_PROTO_BAD_FRAMES);
}

/* A real DEALER/ROUTER pair: bad frames get an ERROR reply naming the reason,
 * are counted, and good frames still pass afterwards. */
static void test_error_reply_over_zmq_real(void **state)
{
    (void)state;
    zsock_t *router = zsock_new_router("inproc://proto-test2");
    zsock_t *dealer = zsock_new_dealer("inproc://proto-test2");
    zpoller_t *poller = zpoller_new(router, NULL);
    uint64_t before = af_proto_refused(AF_PROTO_BAD_TAG);
    zstr_sendx(dealer, "XYZ", "STATS", "{\"req\":\"q1\"}", NULL);
    assert_ptr_equal(zpoller_wait(poller, 2000), router);
    af_msg_t *m = NULL;
    af_proto_err_t err;
    assert_int_equal(af_proto_recv(router, true, 1024, true, AF_CODEC_JSON, &m, &err), -1);
    assert_int_equal(err, AF_PROTO_BAD_TAG);
    assert_int_equal(af_proto_refused(AF_PROTO_BAD_TAG), before + 1);
    /* The dealer gets ERROR {req:q1, code:bad_tag}. */
    zpoller_t *pd = zpoller_new(dealer, NULL);
    assert_ptr_equal(zpoller_wait(pd, 2000), dealer);
    assert_int_equal(af_proto_recv(dealer, false, 1024, false, AF_CODEC_JSON, &m, &err), 0);
    assert_string_equal(m->verb, "ERROR");
    assert_string_equal(m->req, "q1");
    assert_string_equal(af_msg_str(m, "code"), "bad_tag");
    af_msg_destroy(&m);
    /* A good message afterwards still works, both codecs. */
    af_msg_t *good = af_msg_new("STATS", "q2", NULL);
    assert_int_equal(af_proto_send(dealer, &good, AF_CODEC_CBOR), 0);
    assert_null(good);
    assert_ptr_equal(zpoller_wait(poller, 2000), router);
    assert_int_equal(af_proto_recv(router, true, 1024, true, AF_CODEC_JSON, &m, &err), 0);
    assert_string_equal(m->verb, "STATS");
    assert_int_equal(m->codec, AF_CODEC_CBOR);
    assert_non_null(m->routing_id);
    af_msg_t *reply = af_msg_reply(m, "OK", NULL);
    assert_int_equal(af_proto_send(router, &reply, AF_CODEC_JSON), 0);
    af_msg_destroy(&m);
    assert_ptr_equal(zpoller_wait(pd, 2000), dealer);
    assert_int_equal(af_proto_recv(dealer, false, 1024, false, AF_CODEC_JSON, &m, &err), 0);
    assert_string_equal(m->verb, "OK");
    assert_string_equal(m->req, "q2");
    af_msg_destroy(&m);
    /* Too many frames: refused, not crashed. */
    zstr_sendx(dealer, "AF1", "STATS", "{\"req\":\"q3\"}", "extra", NULL);
    assert_ptr_equal(zpoller_wait(poller, 2000), router);
    assert_int_equal(af_proto_recv(router, true, 1024, true, AF_CODEC_JSON, &m, &err), -1);
    assert_int_equal(err, AF_PROTO_BAD_FRAMES);
    zpoller_destroy(&pd);
    zpoller_destroy(&poller);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
}

/* ---- docs/protocol.md vectors -------------------------------------------- */

static int s_hex(const char *hex, uint8_t **out, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2)
        return -1;
    *out = malloc(n / 2 + 1);
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return -1;
        (*out)[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

/* Every kind of bad frame set over a real socket: the sender gets ERROR with
 * the reason as its code, and the daemon's af_protocol_refused_total{reason}
 * (af_proto_metrics_add) counts it. */
static void test_every_refusal_answered_and_counted(void **state)
{
    (void)state;
    af_metrics_t *reg = af_metrics_new();
    af_metric_t *refused = af_proto_metrics_add(reg);
    assert_non_null(refused);
    zsock_t *router = zsock_new_router("inproc://proto-test3");
    zsock_t *dealer = zsock_new_dealer("inproc://proto-test3");
    zpoller_t *pr = zpoller_new(router, NULL);
    zpoller_t *pd = zpoller_new(dealer, NULL);
    char big[2048];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char oversized[2100];
    snprintf(oversized, sizeof oversized, "{\"req\":\"r5\",\"pad\":\"%s\"}", big);
    struct {
        const char *f[4];
        const char *code;
    } cases[] = {
        {{"XYZ", "STATS", "{\"req\":\"r1\"}", NULL}, "bad_tag"},
        {{"AF1", "FROBNICATE", "{\"req\":\"r2\"}", NULL}, "unknown_verb"},
        {{"AF1", "STATS", "{not json", NULL}, "bad_body"},
        {{"AF1", "STATS", "{\"x\":1}", NULL}, "missing_req"},
        {{"AF1", "STATS", oversized, NULL}, "oversized"},
        {{"AF1", "STATS", NULL, NULL}, "bad_frames"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zmsg_t *out = zmsg_new();
        for (int k = 0; cases[i].f[k]; k++)
            zmsg_addstr(out, cases[i].f[k]);
        assert_int_equal(zmsg_send(&out, dealer), 0);
        assert_ptr_equal(zpoller_wait(pr, 2000), router);
        af_msg_t *m = NULL;
        af_proto_err_t err;
        assert_int_equal(af_proto_recv(router, true, 1024, true, AF_CODEC_JSON, &m, &err), -1);
        assert_string_equal(af_proto_err_name(err), cases[i].code);
        assert_ptr_equal(zpoller_wait(pd, 2000), dealer);
        assert_int_equal(af_proto_recv(dealer, false, 1024, false, AF_CODEC_JSON, &m, &err), 0);
        assert_string_equal(m->verb, "ERROR");
        assert_string_equal(af_msg_str(m, "code"), cases[i].code);
        af_msg_destroy(&m);
        assert_true(af_metric_value(refused, cases[i].code) == 1.0);
    }
    char *text = af_metrics_render(reg);
    assert_non_null(strstr(text, "af_protocol_refused_total{reason=\"oversized\"} 1"));
    free(text);
    af_proto_count_refusals(NULL);
    zpoller_destroy(&pr);
    zpoller_destroy(&pd);
    zsock_destroy(&dealer);
    zsock_destroy(&router);
    af_metrics_destroy(&reg);
}

/* ---- the verb list, taken from the code --------------------------------------
 * Every verb the decoder knows must have a vector in the doc and every vector's
 * verb must be known: a verb added only to proto.c fails the test. */
#define S_VERBS_MAX 64

typedef struct {
    char v[S_VERBS_MAX][AF_PROTO_VERB_MAX];
    int n;
} s_verbs_t;

static int s_verbs_find(const s_verbs_t *set, const char *verb)
{
    for (int i = 0; i < set->n; i++)
        if (!strcmp(set->v[i], verb))
            return i;
    return -1;
}

static void s_verbs_add(s_verbs_t *set, const char *verb)
{
    if (s_verbs_find(set, verb) < 0 && set->n < S_VERBS_MAX)
        snprintf(set->v[set->n++], AF_PROTO_VERB_MAX, "%s", verb);
}

static void s_code_verbs(s_verbs_t *set)
{
    for (const char *const *v = af_proto_verbs(); *v; v++)
        s_verbs_add(set, *v);
}

static void test_protocol_doc_vectors(void **state)
{
    (void)state;
    s_verbs_t code = {0}, doc = {0};
    s_code_verbs(&code);
    char path[512];
    snprintf(path, sizeof path, "%s/docs/protocol.md", getenv("AF_ROOT") ? getenv("AF_ROOT") : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192], verb[64] = "", json[8192] = "";
    int in_block = 0, vectors = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (!strcmp(line, "```vector")) {
            in_block = 1;
            verb[0] = json[0] = '\0';
            continue;
        }
        if (!in_block)
            continue;
        if (!strncmp(line, "verb: ", 6))
            snprintf(verb, sizeof verb, "%.63s", line + 6);
        else if (!strncmp(line, "json: ", 6))
            snprintf(json, sizeof json, "%s", line + 6);
        else if (!strncmp(line, "cbor: ", 6)) {
            in_block = 0;
            vectors++;
            if (s_verbs_find(&doc, verb) >= 0) {
                fprintf(stderr, "verb %s has a second vector in docs/protocol.md\n", verb);
                bad++;
            }
            s_verbs_add(&doc, verb);
            af_proto_err_t err;
            char req[AF_PROTO_REQ_MAX];
            af_msg_t *m = s_decode3("AF1", verb, (const uint8_t *)json, strlen(json), &err, req);
            if (!m) {
                fprintf(stderr, "vector %s: json refused (%s)\n", verb, af_proto_err_name(err));
                bad++;
                continue;
            }
            uint8_t *enc;
            size_t elen;
            assert_int_equal(af_codec_encode(m->body, AF_CODEC_CBOR, &enc, &elen), 0);
            char *hex = malloc(elen * 2 + 1);
            for (size_t i = 0; i < elen; i++)
                sprintf(hex + 2 * i, "%02x", enc[i]);
            if (strcmp(hex, line + 6)) {
                fprintf(stderr, "vector %s: cbor in doc differs; encoder says:\ncbor: %s\n", verb,
                        hex);
                bad++;
            } else {
                uint8_t *raw = NULL;
                size_t rlen = 0;
                assert_int_equal(s_hex(line + 6, &raw, &rlen), 0);
                af_msg_t *m2 = s_decode3("AF1", verb, raw, rlen, &err, req);
                if (!m2 || !cJSON_Compare(m->body, m2->body, 1)) {
                    fprintf(stderr, "vector %s: cbor does not decode to the json\n", verb);
                    bad++;
                }
                af_msg_destroy(&m2);
                free(raw);
            }
            free(hex);
            free(enc);
            af_msg_destroy(&m);
        }
    }
    fclose(f);
    /* doc -> code: a documented verb the decoder refuses was refused above (the
     * vector's json does not decode); it must also be one the scan found, or the
     * scan is blind and the other direction proves nothing. */
    for (int i = 0; i < doc.n; i++)
        if (s_verbs_find(&code, doc.v[i]) < 0) {
            fprintf(stderr, "verb %s of docs/protocol.md not found in the code's verb table\n",
                    doc.v[i]);
            bad++;
        }
    /* code -> doc: every verb the code accepts has its vector. */
    for (int i = 0; i < code.n; i++)
        if (s_verbs_find(&doc, code.v[i]) < 0) {
            fprintf(stderr, "verb %s has no vector in docs/protocol.md\n", code.v[i]);
            bad++;
        }
    /* Sanity: the verbs the lifecycle cannot do without are among them. */
    assert_true(s_verbs_find(&code, "READY") >= 0 && s_verbs_find(&code, "OK") >= 0 &&
                s_verbs_find(&code, "ERROR") >= 0);
    assert_false(af_proto_verb_known("FROBNICATE"));
    assert_int_equal(bad, 0);
    assert_int_equal(vectors, code.n);
}

int main(void)
{
    af_log_init("test", AF_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_json_and_cbor),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_error_reply_over_zmq_real),
        cmocka_unit_test(test_every_refusal_answered_and_counted),
        cmocka_unit_test(test_protocol_doc_vectors),
    };
    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
