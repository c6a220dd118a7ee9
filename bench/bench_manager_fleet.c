/* bench/fleet's probe: polls the manager's STATS on one DEALER (no process per
 * poll, so the probe does not steal the CPU the agents need) until N agents are
 * READY, and prints the seconds since the given start time.
 *   bench_manager_fleet ENDPOINT N START_EPOCH_S TIMEOUT_S
 * Prints "ready_s=X"; exit 0 when N were ready, 1 on timeout. */
#include "codec.h"
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double s_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s ENDPOINT N START_EPOCH_S TIMEOUT_S\n", argv[0]);
        return 2;
    }
    long n = atol(argv[2]);
    double start = atof(argv[3]), timeout = atof(argv[4]);
    zsys_init();
    zsys_handler_set(NULL);
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_linger(s, 0);
    zsock_connect(s, "%s", argv[1]);
    zpoller_t *p = zpoller_new(s, NULL);
    long seq = 0, ready = 0;
    int rc = 1;
    while (s_wall() - start < timeout) {
        char req[32];
        snprintf(req, sizeof req, "b%ld", ++seq);
        af_msg_t *m = af_msg_new("STATS", req, NULL);
        af_proto_send(s, &m, AF_CODEC_CBOR);
        if (zpoller_wait(p, 1000)) {
            af_msg_t *in = NULL;
            af_proto_err_t err;
            if (af_proto_recv(s, false, 1 << 20, false, AF_CODEC_CBOR, &in, &err) == 0) {
                const cJSON *agents = cJSON_GetObjectItemCaseSensitive(in->body, "agents");
                const cJSON *r = cJSON_GetObjectItemCaseSensitive(agents, "ready");
                if (cJSON_IsNumber(r))
                    ready = (long)r->valuedouble;
                af_msg_destroy(&in);
            }
        }
        if (ready >= n) {
            rc = 0;
            break;
        }
        zclock_sleep(20);
    }
    printf("ready_s=%.3f ready=%ld\n", s_wall() - start, ready);
    zpoller_destroy(&p);
    zsock_destroy(&s);
    zsys_shutdown();
    return rc;
}
