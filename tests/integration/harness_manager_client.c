/* A one-shot control client for manager scenarios and bench/fleet:
 *   harness_manager_client ENDPOINT VERB 'JSON-BODY' [TIMEOUT_MS]
 * sends [AF1][VERB][body] on a DEALER (req added when missing) and prints the
 * reply as one line "VERB {json}". Exit 0 for OK, 1 for ERROR, 2 for timeout or
 * bad usage. AF_HARNESS_CURVE_DIR + AF_HARNESS_CURVE_NAME: talk CURVE with
 * DIR/NAME.cert_secret (scripts/make-certs.sh layout), as that role would.
 * AF_HARNESS_IDENTITY: the DEALER routing id (default client-PID). */
#include "codec.h"
#include "curve.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s ENDPOINT VERB JSON [TIMEOUT_MS]\n", argv[0]);
        return 2;
    }
    long timeout = argc > 4 ? atol(argv[4]) : 10000;
    cJSON *body = cJSON_Parse(argv[3]);
    if (!cJSON_IsObject(body)) {
        fprintf(stderr, "body is not a JSON object\n");
        return 2;
    }
    zsys_init();
    zsys_handler_set(NULL);
    char req[32];
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(body, "req");
    snprintf(req, sizeof req, "%s", cJSON_IsString(r) ? r->valuestring : "c1");
    zsock_t *s = zsock_new(ZMQ_DEALER);
    char id[48];
    snprintf(id, sizeof id, "%s", getenv("AF_HARNESS_IDENTITY") ? getenv("AF_HARNESS_IDENTITY") : "");
    if (!*id)
        snprintf(id, sizeof id, "client-%d", (int)getpid());
    zsock_set_identity(s, id);
    zsock_set_linger(s, 0);
    struct event_base *base = event_base_new();
    const char *cdir = getenv("AF_HARNESS_CURVE_DIR");
    if (cdir && *cdir &&
        (af_curve_init(base, cdir, getenv("AF_HARNESS_CURVE_NAME") ? getenv("AF_HARNESS_CURVE_NAME")
                                                                    : "gateway") < 0 ||
         af_curve_client(s, "manager") < 0)) {
        fprintf(stderr, "curve setup failed\n");
        return 2;
    }
    zsock_connect(s, "%s", argv[1]);
    af_msg_t *m = af_msg_new(argv[2], req, body);
    /* DONTWAIT before the connection (and its CURVE handshake) is up: retry. */
    for (int i = 0; i < 30 && af_proto_send(s, &m, AF_CODEC_JSON) < 0; i++) {
        usleep(100000);
        if (!m)
            m = af_msg_new(argv[2], req, cJSON_Parse(argv[3]));
    }
    af_msg_destroy(&m);
    zpoller_t *p = zpoller_new(s, NULL);
    int rc = 2;
    if (zpoller_wait(p, (int)timeout)) {
        af_msg_t *in = NULL;
        af_proto_err_t err;
        if (af_proto_recv(s, false, 64 << 20, false, AF_CODEC_JSON, &in, &err) == 0) {
            char *txt = cJSON_PrintUnformatted(in->body);
            printf("%s %s\n", in->verb, txt);
            free(txt);
            rc = strcmp(in->verb, "OK") ? 1 : 0;
            af_msg_destroy(&in);
        }
    } else
        fprintf(stderr, "no reply within %ld ms\n", timeout);
    zpoller_destroy(&p);
    zsock_destroy(&s);
    af_curve_shutdown();
    event_base_free(base);
    zsys_shutdown();
    return rc;
}
