/* Bench for agentd: plays the gateway (binds the data ROUTER the agent connects
 * to with --gateway) against a running agentd and fake-anthropic, and measures
 * the agent process from /proc:
 *   rss_idle_kib          VmRSS with no session
 *   rss_100_sessions_kib  VmRSS with N idle sessions (each had one short turn)
 *   cpu_ms_per_1k_tokens  agent user+system CPU per 1,000 streamed tokens while N
 *                         sessions stream at once (paced like a real model)
 * The last line printed is exactly:
 *   rss_idle_kib=N rss_100_sessions_kib=N cpu_ms_per_1k_tokens=X
 *
 * usage: bench_agentd_load --gateway-port N --agent-pid PID [--sessions 100]
 *          [--words 400] [--tps 100] */
#include "log.h"
#include "proto.h"
#include "util.h"

#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    zsock_t *gw;
    char agent_id[64];
    int ended, failed;
    long out_tokens;
    /* Arrival gaps of stream t0's DELTAs: pacing jitter the agent adds. */
    uint64_t t0_last_ns;
    double t0_max_gap_ms, t0_sum_gap_ms;
    long t0_gaps;
} b_t;

static long s_status_kib(int pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    long kib = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, field, fl))
            kib = atol(line + fl);
    if (f)
        fclose(f);
    return kib;
}

static long s_rss_kib(int pid) { return s_status_kib(pid, "VmRSS:"); }

/* utime + stime of pid in milliseconds. */
static double s_cpu_ms(int pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')'); /* comm may hold spaces */
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* fields after ')': state(3) ... utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static void b_pump(b_t *b, int timeout_ms)
{
    zpoller_t *p = zpoller_new(b->gw, NULL);
    if (zpoller_wait(p, timeout_ms)) {
        af_msg_t *m = NULL;
        af_proto_err_t err;
        while (af_proto_recv(b->gw, true, 1 << 20, false, AF_CODEC_CBOR, &m, &err) != 1) {
            if (!m)
                continue;
            if (!b->agent_id[0])
                snprintf(b->agent_id, sizeof b->agent_id, "%.*s", (int)zframe_size(m->routing_id),
                         (const char *)zframe_data(m->routing_id));
            if (!strcmp(m->verb, "DELTA") && !strcmp(m->req, "t0")) {
                uint64_t now = af_now_ns();
                if (b->t0_last_ns) {
                    double gap = (double)(now - b->t0_last_ns) / 1e6;
                    b->t0_sum_gap_ms += gap;
                    b->t0_gaps++;
                    if (gap > b->t0_max_gap_ms)
                        b->t0_max_gap_ms = gap;
                }
                b->t0_last_ns = now;
            }
            if (!strcmp(m->verb, "DONE")) {
                const cJSON *u = cJSON_GetObjectItemCaseSensitive(m->body, "usage");
                const cJSON *o = cJSON_GetObjectItemCaseSensitive(u, "output_tokens");
                b->out_tokens += cJSON_IsNumber(o) ? (long)o->valuedouble : 0;
                b->ended++;
            } else if (!strcmp(m->verb, "ERROR")) {
                fprintf(stderr, "bench: ERROR %s for %s\n", af_msg_str(m, "code"), m->req);
                b->ended++;
                b->failed++;
            }
            af_msg_destroy(&m);
        }
    }
    zpoller_destroy(&p);
}

static void b_chat(b_t *b, const char *req, const char *session, const char *text, bool stream)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "session_id", session);
    cJSON_AddStringToObject(body, "user", "bench");
    cJSON_AddStringToObject(body, "message", text);
    cJSON_AddBoolToObject(body, "stream", stream);
    af_msg_t *m = af_msg_new("CHAT", req, body);
    m->routing_id = zframe_new(b->agent_id, strlen(b->agent_id));
    if (af_proto_send(b->gw, &m, AF_CODEC_CBOR) < 0)
        fprintf(stderr, "bench: send failed: %s\n", strerror(errno));
}

static int b_wait(b_t *b, int want, int timeout_s)
{
    uint64_t end = af_now_ns() + (uint64_t)timeout_s * 1000000000ull;
    while (b->ended < want && af_now_ns() < end)
        b_pump(b, 50);
    return b->ended >= want ? 0 : -1;
}

int main(int argc, char **argv)
{
    int gport = 0, pid = 0, sessions = 100, words = 400, tps = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--gateway-port"))
            gport = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--agent-pid"))
            pid = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sessions"))
            sessions = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--words"))
            words = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tps"))
            tps = atoi(argv[i + 1]);
    }
    if (!gport || !pid || sessions < 1) {
        fprintf(stderr, "usage: %s --gateway-port N --agent-pid PID [--sessions N]\n", argv[0]);
        return 2;
    }
    af_log_init("bench", AF_LOG_WARN);
    zsys_handler_set(NULL);
    b_t b = {0};
    b.gw = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(b.gw, 1);
    zsock_set_rcvhwm(b.gw, 0);
    if (zsock_bind(b.gw, "tcp://127.0.0.1:%d", gport) < 0) {
        fprintf(stderr, "bench: cannot bind %d\n", gport);
        return 1;
    }
    /* The agent heartbeats the gateway: its first message names it. */
    uint64_t end = af_now_ns() + 10000000000ull;
    while (!b.agent_id[0] && af_now_ns() < end)
        b_pump(&b, 100);
    if (!b.agent_id[0]) {
        fprintf(stderr, "bench: agent did not connect\n");
        return 1;
    }
    usleep(1500000);
    long rss_idle = s_rss_kib(pid), anon_idle = s_status_kib(pid, "RssAnon:");
    printf("agent %s: idle RSS %ld KiB (RssAnon %ld KiB, RssFile %ld KiB)\n", b.agent_id,
           rss_idle, anon_idle, s_status_kib(pid, "RssFile:"));

    /* N sessions, one short turn each, then idle. */
    char req[32], sid[32], text[96];
    for (int i = 0; i < sessions; i++) {
        snprintf(req, sizeof req, "s%d", i);
        snprintf(sid, sizeof sid, "se_bench_%d", i);
        b_chat(&b, req, sid, "hello, this is a short first turn [[words:20]]", false);
    }
    if (b_wait(&b, sessions, 30) < 0 || b.failed) {
        fprintf(stderr, "bench: session setup failed (%d ended, %d failed)\n", b.ended, b.failed);
        return 1;
    }
    /* agentd trims its heap within a second of going idle. */
    usleep(1500000);
    long rss_sessions = s_rss_kib(pid);
    long anon_sessions = s_status_kib(pid, "RssAnon:");
    printf("%d idle sessions: RSS %ld KiB (+%ld KiB, %.1f KiB/session; RssAnon %ld KiB)\n",
           sessions, rss_sessions, rss_sessions - rss_idle,
           (double)(rss_sessions - rss_idle) / sessions, anon_sessions);

    /* N concurrent streams, paced. */
    b.ended = b.failed = 0;
    b.out_tokens = 0;
    double cpu0 = s_cpu_ms(pid);
    uint64_t t0 = af_now_ns();
    for (int i = 0; i < sessions; i++) {
        snprintf(req, sizeof req, "t%d", i);
        snprintf(sid, sizeof sid, "se_bench_%d", i);
        snprintf(text, sizeof text, "stream please [[words:%d]] [[tps:%d]]", words, tps);
        b_chat(&b, req, sid, text, true);
    }
    if (b_wait(&b, sessions, 120) < 0 || b.failed) {
        fprintf(stderr, "bench: streams failed (%d ended, %d failed)\n", b.ended, b.failed);
        return 1;
    }
    double cpu = s_cpu_ms(pid) - cpu0;
    double secs = (double)(af_now_ns() - t0) / 1e9;
    double per1k = cpu / ((double)b.out_tokens / 1000.0);
    printf("%d streams x %d words at %d tok/s: %ld tokens in %.2f s, agent CPU %.0f ms\n",
           sessions, words, tps, b.out_tokens, secs, cpu);
    printf("delta arrival gaps of one stream: mean %.1f ms, max %.1f ms (paced at %.1f ms)\n",
           b.t0_gaps ? b.t0_sum_gap_ms / (double)b.t0_gaps : 0, b.t0_max_gap_ms,
           tps ? 1000.0 / tps : 0);
    long rss_after = s_rss_kib(pid);
    printf("RSS after streaming: %ld KiB\n", rss_after);
    zsock_destroy(&b.gw);
    printf("rss_idle_kib=%ld rss_100_sessions_kib=%ld cpu_ms_per_1k_tokens=%.2f\n", rss_idle,
           rss_sessions, per1k);
    return 0;
}
