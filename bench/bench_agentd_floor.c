/* The floor under agentd's streaming CPU, measured in the same run as the
 * agent: N concurrent streams from fake-anthropic read with the agent's own
 * transport (libcurl multi on libevent, common/curl_loop) and the same curl
 * options, with nothing done per token but counting it. Whatever agentd spends
 * beyond this goes to parsing, sessions and the gateway link; this part is
 * the price of receiving one TCP segment per token through libcurl.
 *
 * usage: bench_agentd_floor --url http://127.0.0.1:P [--streams 100]
 *          [--words 400] [--tps 100]
 * Prints: floor_cpu_ms_per_1k_tokens=X tokens=N */
#include "curl_loop.h"
#include "log.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

typedef struct {
    long tokens;
    int done, failed;
} f_t;

typedef struct {
    f_t *f;
    char tail[32]; /* a marker split across two reads */
} f_stream_t;

static const char s_marker[] = "event: content_block_delta";

static size_t s_on_write(char *data, size_t size, size_t n, void *arg)
{
    f_stream_t *s = arg;
    size_t len = size * n;
    /* Count markers in tail+data without copying the whole chunk. */
    char join[64];
    size_t tl = strlen(s->tail), head = len < sizeof join - tl - 1 ? len : sizeof join - tl - 1;
    memcpy(join, s->tail, tl);
    memcpy(join + tl, data, head);
    join[tl + head] = 0;
    for (const char *p = join; (p = strstr(p, s_marker)) && p < join + tl; p++)
        s->f->tokens++; /* markers that start in the tail */
    const char *end = data + len;
    for (const char *p = data; (p = memmem(p, (size_t)(end - p), s_marker, sizeof s_marker - 1));
         p++)
        s->f->tokens++;
    size_t keep = len < sizeof s_marker - 2 ? len : sizeof s_marker - 2;
    memcpy(s->tail, end - keep, keep);
    s->tail[keep] = 0;
    return len;
}

static void s_on_done(CURL *easy, CURLcode res, void *arg)
{
    f_stream_t *s = arg;
    long code = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
    if (res != CURLE_OK || code != 200)
        s->f->failed++;
    s->f->done++;
}

static double s_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int main(int argc, char **argv)
{
    const char *base_url = NULL;
    int streams = 100, words = 400, tps = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--url"))
            base_url = argv[i + 1];
        else if (!strcmp(argv[i], "--streams"))
            streams = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--words"))
            words = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--tps"))
            tps = atoi(argv[i + 1]);
    }
    if (!base_url || streams < 1 || words < 1) {
        fprintf(stderr, "usage: %s --url http://HOST:PORT [--streams N] [--words N] [--tps N]\n",
                argv[0]);
        return 2;
    }
    af_log_init("bench", AF_LOG_WARN);
    struct event_base *base = event_base_new();
    af_curl_loop_t *loop = base ? af_curl_loop_new(base) : NULL;
    if (!loop)
        return 1;
    /* The agent keeps as many connections as it has calls (see agentd). */
    curl_multi_setopt(af_curl_loop_multi(loop), CURLMOPT_MAXCONNECTS, (long)streams);
    char url[512], body[512];
    snprintf(url, sizeof url, "%s/v1/messages", base_url);
    snprintf(body, sizeof body,
             "{\"model\":\"claude-3-5-sonnet-20241022\",\"max_tokens\":4096,\"stream\":true,"
             "\"messages\":[{\"role\":\"user\",\"content\":\"stream please [[words:%d]] "
             "[[tps:%d]]\"}]}",
             words, tps);
    struct curl_slist *h = NULL;
    h = curl_slist_append(h, "x-api-key: sk-bench");
    h = curl_slist_append(h, "anthropic-version: 2023-06-01");
    h = curl_slist_append(h, "content-type: application/json");
    f_t f = {0};
    f_stream_t *s = calloc((size_t)streams, sizeof *s);
    CURL **easy = calloc((size_t)streams, sizeof *easy);
    if (!s || !easy)
        return 1;
    double cpu0 = s_cpu_ms();
    for (int i = 0; i < streams; i++) {
        s[i].f = &f;
        CURL *e = easy[i] = curl_easy_init();
        if (!e)
            return 1;
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, s_on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &s[i]);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        if (af_curl_loop_add(loop, e, s_on_done, &s[i]) < 0)
            return 1;
    }
    while (f.done < streams)
        event_base_loop(base, EVLOOP_ONCE);
    double cpu = s_cpu_ms() - cpu0;
    for (int i = 0; i < streams; i++)
        curl_easy_cleanup(easy[i]);
    free(easy);
    free(s);
    curl_slist_free_all(h);
    af_curl_loop_destroy(&loop);
    event_base_free(base);
    if (f.failed || f.tokens == 0) {
        fprintf(stderr, "floor: %d of %d streams failed, %ld tokens\n", f.failed, streams,
                f.tokens);
        return 1;
    }
    printf("floor_cpu_ms_per_1k_tokens=%.2f tokens=%ld\n", cpu * 1000.0 / (double)f.tokens,
           f.tokens);
    return 0;
}
