/* fleetctl sessions show|delete, stats, scale, usage and budgets reset:
 * /v1/sessions, /v1/stats, /v1/scale, /v1/usage, /v1/budgets. */
#include "api.h"
#include "cmd.h"
#include "out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs method path and prints the JSON (--json) or calls human(json). */
static int s_simple(af_cli_t *cli, const char *what, const char *method, const char *path,
                    const cJSON *body, void (*human)(const cJSON *, void *), void *arg)
{
    if (af_cli_need_token(cli) < 0)
        return AF_CLI_AUTH;
    af_cli_resp_t r;
    af_cli_api_call(cli, method, path, body, &r);
    int rc = af_cli_exit_code(r.status);
    if (rc != AF_CLI_OK)
        rc = af_cli_report(cli, what, &r);
    else if (cli->json)
        af_cli_print_json(r.json);
    else
        human(r.json, arg);
    af_cli_resp_free(&r);
    return rc;
}

static bool s_one_id(const char *words, int argc, char **argv, af_args_t *a, int *done)
{
    const af_arg_t opts[] = {{NULL, 0, 0, NULL, NULL}};
    if (!af_cli_cmd_args(words, opts, argc, argv, a, done))
        return false;
    if (a->npos != 1) {
        *done = af_cli_usage_error(words, "give exactly one id");
        return false;
    }
    return true;
}

/* ---- sessions ----------------------------------------------------------- */

static void s_session_human(const cJSON *s, void *arg)
{
    (void)arg;
    char buf[256], age[16];
    printf("session  %s\n", af_cli_field(s, "session_id", buf, sizeof buf));
    printf("agent    %s\n", af_cli_field(s, "agent_id", buf, sizeof buf));
    printf("user     %s\n", af_cli_field(s, "user", buf, sizeof buf));
    printf("model    %s\n", af_cli_field(s, "model", buf, sizeof buf));
    printf("age      %s\n",
           af_cli_age((uint64_t)af_cli_num(s, "created_ms", 0), af_cli_now_ms(), age, sizeof age));
    printf("tokens   %.0f in, %.0f out\n", af_cli_num(s, "usage.input_tokens", 0),
           af_cli_num(s, "usage.output_tokens", 0));
    const cJSON *sys = af_cli_get(s, "system");
    if (cJSON_IsString(sys) && sys->valuestring[0])
        printf("system   %s\n", sys->valuestring);
    const cJSON *msgs = af_cli_get(s, "messages");
    printf("\n");
    const cJSON *m;
    cJSON_ArrayForEach(m, msgs)
    {
        const cJSON *role = af_cli_get(m, "role");
        const cJSON *content = af_cli_get(m, "content");
        printf("%s: ", cJSON_IsString(role) ? role->valuestring : "?");
        if (cJSON_IsString(content))
            printf("%s\n", content->valuestring);
        else {
            char *t = cJSON_PrintUnformatted(content);
            printf("%s\n", t ? t : "");
            free(t);
        }
    }
}

int af_cli_sessions_show(af_cli_t *cli, int argc, char **argv)
{
    af_args_t a;
    int done;
    if (!s_one_id("sessions show", argc, argv, &a, &done))
        return done;
    char path[256];
    snprintf(path, sizeof path, "/v1/sessions/%.200s", a.pos[0]);
    return s_simple(cli, "sessions show", "GET", path, NULL, s_session_human, NULL);
}

static void s_deleted_human(const cJSON *s, void *arg)
{
    (void)s;
    printf("%s deleted\n", (const char *)arg);
}

int af_cli_sessions_delete(af_cli_t *cli, int argc, char **argv)
{
    af_args_t a;
    int done;
    if (!s_one_id("sessions delete", argc, argv, &a, &done))
        return done;
    char path[256];
    snprintf(path, sizeof path, "/v1/sessions/%.200s", a.pos[0]);
    return s_simple(cli, "sessions delete", "DELETE", path, NULL, s_deleted_human,
                    (void *)a.pos[0]);
}

/* ---- stats and scale ------------------------------------------------------ */

static void s_stats_human(const cJSON *s, void *arg)
{
    (void)arg;
    printf("agents       %.0f total: %.0f ready, %.0f spawning, %.0f draining, %.0f dead\n",
           af_cli_num(s, "agents.total", 0), af_cli_num(s, "agents.ready", 0),
           af_cli_num(s, "agents.spawning", 0), af_cli_num(s, "agents.draining", 0),
           af_cli_num(s, "agents.dead", 0));
    printf("pool         %.0f\n", af_cli_num(s, "pool", 0));
    printf("sessions     %.0f of %.0f\n", af_cli_num(s, "sessions", 0),
           af_cli_num(s, "capacity", 0));
    printf("utilization  %.1f %%\n", 100.0 * af_cli_num(s, "utilization", 0));
    if (af_cli_get(s, "spawn_seconds"))
        printf("spawn time   p50 %.2f s, p99 %.2f s (%.0f spawns)\n",
               af_cli_num(s, "spawn_seconds.p50", 0), af_cli_num(s, "spawn_seconds.p99", 0),
               af_cli_num(s, "spawn_seconds.count", 0));
}

int af_cli_stats(af_cli_t *cli, int argc, char **argv)
{
    const af_arg_t opts[] = {{NULL, 0, 0, NULL, NULL}};
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("stats", opts, argc, argv, &a, &done))
        return done;
    if (a.npos)
        return af_cli_usage_error("stats", "takes no arguments");
    return s_simple(cli, "stats", "GET", "/v1/stats", NULL, s_stats_human, NULL);
}

static void s_scale_human(const cJSON *s, void *arg)
{
    (void)arg;
    printf("target %.0f: %.0f agents now, %.0f spawning, %.0f draining\n",
           af_cli_num(s, "target", 0), af_cli_num(s, "current", 0), af_cli_num(s, "spawning", 0),
           af_cli_num(s, "draining", 0));
}

int af_cli_scale(af_cli_t *cli, int argc, char **argv)
{
    const char *reason = NULL;
    const af_arg_t opts[] = {
        {"reason", 0, AF_ARG_STR, &reason, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("scale", opts, argc, argv, &a, &done))
        return done;
    if (a.npos != 1)
        return af_cli_usage_error("scale", "give the target number of agents");
    char *end = NULL;
    long n = strtol(a.pos[0], &end, 10);
    if (!end || end == a.pos[0] || *end || n < 0 || n > 100000)
        return af_cli_usage_error("scale", "N must be a whole number in 0..100000");
    cJSON *body = cJSON_CreateObject();
    cJSON_AddNumberToObject(body, "target", (double)n);
    cJSON_AddStringToObject(body, "reason", reason ? reason : "fleetctl scale");
    int rc = s_simple(cli, "scale", "POST", "/v1/scale", body, s_scale_human, NULL);
    cJSON_Delete(body);
    return rc;
}

/* ---- usage and budgets ------------------------------------------------------ */

static void s_period_line(const char *label, const cJSON *p)
{
    printf("%-13s %.0f requests, %.0f in + %.0f out tokens, %.0f cache hits, $%.4f\n", label,
           af_cli_num(p, "requests", 0), af_cli_num(p, "input_tokens", 0),
           af_cli_num(p, "output_tokens", 0), af_cli_num(p, "cache_hits", 0),
           af_cli_num(p, "cost_usd", 0));
}

static void s_usage_human(const cJSON *u, void *arg)
{
    (void)arg;
    char user[80], reset[64];
    printf("user          %s\n", af_cli_field(u, "user", user, sizeof user));
    double limit = af_cli_num(u, "budget.daily_tokens", 0);
    if (limit > 0)
        printf("budget        %.0f of %.0f tokens used today%s (resets %s)\n",
               af_cli_num(u, "budget.used", 0), limit,
               cJSON_IsTrue(af_cli_get(u, "budget.exceeded")) ? ", EXCEEDED" : "",
               af_cli_field(u, "budget.reset_at", reset, sizeof reset));
    else
        printf("budget        none (%.0f tokens used today)\n", af_cli_num(u, "budget.used", 0));
    s_period_line("today", af_cli_get(u, "today"));
    s_period_line("last 30 days", af_cli_get(u, "last_30_days"));
    const cJSON *m;
    cJSON_ArrayForEach(m, af_cli_get(u, "last_30_days.by_model"))
    {
        char label[64];
        snprintf(label, sizeof label, "  %.40s", m->string);
        s_period_line(label, m);
    }
    if (cJSON_IsTrue(af_cli_get(u, "degraded")))
        printf("(partial: the gateway could not read all of it from Redis)\n");
}

int af_cli_usage(af_cli_t *cli, int argc, char **argv)
{
    const char *user = NULL;
    const af_arg_t opts[] = {
        {"user", 'u', AF_ARG_STR, &user, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("usage", opts, argc, argv, &a, &done))
        return done;
    if (a.npos)
        return af_cli_usage_error("usage", "takes no arguments besides options");
    char path[160];
    if (user) {
        /* User names are [A-Za-z0-9_.@-]: nothing to escape but '@'. */
        char esc[128];
        size_t o = 0;
        for (const char *p = user; *p && o + 4 < sizeof esc; p++) {
            if (*p == '@') {
                memcpy(esc + o, "%40", 3);
                o += 3;
            } else {
                esc[o++] = *p;
            }
        }
        esc[o] = 0;
        snprintf(path, sizeof path, "/v1/usage?user=%s", esc);
    } else {
        snprintf(path, sizeof path, "/v1/usage");
    }
    return s_simple(cli, "usage", "GET", path, NULL, s_usage_human, NULL);
}

static void s_reset_human(const cJSON *r, void *arg)
{
    (void)arg;
    char user[80];
    printf("budget of %s reset\n", af_cli_field(r, "user", user, sizeof user));
}

int af_cli_budget_reset(af_cli_t *cli, int argc, char **argv)
{
    af_args_t a;
    int done;
    if (!s_one_id("budgets reset", argc, argv, &a, &done))
        return done;
    char path[200];
    snprintf(path, sizeof path, "/v1/budgets/%.100s/reset", a.pos[0]);
    return s_simple(cli, "budgets reset", "POST", path, NULL, s_reset_human, NULL);
}
