/* fleetctl agents spawn|list|get|delete: the gateway's /v1/agents endpoints. */
#include "api.h"
#include "cmd.h"
#include "out.h"
#include "table.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Adds one agent object as a table row. */
static void s_row(af_cli_table_t *t, const cJSON *a, uint64_t now)
{
    char id[80], owner[80], status[24], sessions[24], cap[24], cores[16], mem[16], age[16];
    char load[56];
    snprintf(load, sizeof load, "%s/%s", af_cli_field(a, "sessions", sessions, sizeof sessions),
             af_cli_field(a, "capacity", cap, sizeof cap));
    const char *cells[] = {af_cli_field(a, "agent_id", id, sizeof id),
                           af_cli_field(a, "owner", owner, sizeof owner),
                           af_cli_field(a, "status", status, sizeof status), load,
                           af_cli_field(a, "spec.cores", cores, sizeof cores),
                           af_cli_field(a, "spec.memory_mb", mem, sizeof mem),
                           af_cli_age((uint64_t)af_cli_num(a, "created_ms", 0), now, age,
                                      sizeof age)};
    af_cli_table_row(t, cells);
}

static void s_print_table(af_cli_table_t *t)
{
    char *text = af_cli_table_render(t);
    if (text)
        fputs(text, stdout);
    free(text);
}

int af_cli_agents_spawn(af_cli_t *cli, int argc, char **argv)
{
    long cores = 0, mem = 0, count = 0;
    const char *image = NULL;
    bool has_cores = false, has_mem = false, has_count = false;
    const af_arg_t opts[] = {
        {"cores", 0, AF_ARG_LONG, &cores, &has_cores},
        {"memory-mb", 0, AF_ARG_LONG, &mem, &has_mem},
        {"image", 0, AF_ARG_STR, &image, NULL},
        {"count", 'n', AF_ARG_LONG, &count, &has_count},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("agents spawn", opts, argc, argv, &a, &done))
        return done;
    if (a.npos)
        return af_cli_usage_error("agents spawn", "takes no arguments besides options");
    if (af_cli_need_token(cli) < 0)
        return AF_CLI_AUTH;
    cJSON *body = cJSON_CreateObject();
    cJSON *spec = NULL;
    if (has_cores || has_mem || image) {
        spec = cJSON_AddObjectToObject(body, "spec");
        if (has_cores)
            cJSON_AddNumberToObject(spec, "cores", (double)cores);
        if (has_mem)
            cJSON_AddNumberToObject(spec, "memory_mb", (double)mem);
        if (image)
            cJSON_AddStringToObject(spec, "image", image);
    }
    if (has_count)
        cJSON_AddNumberToObject(body, "count", (double)count);
    af_cli_resp_t r;
    long saved = cli->timeout_s;
    if (cli->timeout_s < 120)
        cli->timeout_s = 120; /* a spawn waits for the agents to boot */
    af_cli_api_call(cli, "POST", "/v1/agents", body, &r);
    cli->timeout_s = saved;
    cJSON_Delete(body);
    int rc = af_cli_exit_code(r.status);
    if (rc != AF_CLI_OK)
        rc = af_cli_report(cli, "agents spawn", &r);
    else if (cli->json)
        af_cli_print_json(r.json);
    else {
        const cJSON *agents = af_cli_get(r.json, "agents");
        char id[80], st[24];
        if (cJSON_IsArray(agents)) {
            const cJSON *ag;
            cJSON_ArrayForEach(ag, agents)
            {
                printf("%s %s\n", af_cli_field(ag, "agent_id", id, sizeof id),
                       af_cli_field(ag, "status", st, sizeof st));
            }
        } else {
            printf("%s %s\n", af_cli_field(r.json, "agent_id", id, sizeof id),
                   af_cli_field(r.json, "status", st, sizeof st));
        }
    }
    af_cli_resp_free(&r);
    return rc;
}

int af_cli_agents_list(af_cli_t *cli, int argc, char **argv)
{
    const af_arg_t opts[] = {{NULL, 0, 0, NULL, NULL}};
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("agents list", opts, argc, argv, &a, &done))
        return done;
    if (a.npos)
        return af_cli_usage_error("agents list", "takes no arguments");
    if (af_cli_need_token(cli) < 0)
        return AF_CLI_AUTH;
    af_cli_resp_t r;
    af_cli_api_call(cli, "GET", "/v1/agents", NULL, &r);
    int rc = af_cli_exit_code(r.status);
    if (rc != AF_CLI_OK)
        rc = af_cli_report(cli, "agents list", &r);
    else if (cli->json)
        af_cli_print_json(r.json);
    else {
        static const char *const titles[] = {"AGENT", "OWNER",  "STATUS", "SESSIONS",
                                             "CORES", "MEM_MB", "AGE"};
        af_cli_table_t *t = af_cli_table_new(7, titles);
        uint64_t now = af_cli_now_ms();
        const cJSON *ag;
        const cJSON *agents = af_cli_get(r.json, "agents");
        cJSON_ArrayForEach(ag, agents)
        {
            s_row(t, ag, now);
        }
        s_print_table(t);
        printf("%zu agent%s\n", af_cli_table_rows(t), af_cli_table_rows(t) == 1 ? "" : "s");
        af_cli_table_destroy(&t);
    }
    af_cli_resp_free(&r);
    return rc;
}

int af_cli_agents_get(af_cli_t *cli, int argc, char **argv)
{
    const af_arg_t opts[] = {{NULL, 0, 0, NULL, NULL}};
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("agents get", opts, argc, argv, &a, &done))
        return done;
    if (a.npos != 1)
        return af_cli_usage_error("agents get", "give exactly one AGENT id");
    if (af_cli_need_token(cli) < 0)
        return AF_CLI_AUTH;
    char path[256];
    snprintf(path, sizeof path, "/v1/agents/%.200s", a.pos[0]);
    af_cli_resp_t r;
    af_cli_api_call(cli, "GET", path, NULL, &r);
    int rc = af_cli_exit_code(r.status);
    if (rc != AF_CLI_OK)
        rc = af_cli_report(cli, "agents get", &r);
    else if (cli->json)
        af_cli_print_json(r.json);
    else {
        static const char *fields[] = {"agent_id", "owner",   "status",   "sessions",
                                       "capacity", "spec.cores", "spec.memory_mb",
                                       "spec.image", "url",   "metrics", NULL};
        char buf[256], age[16];
        for (int i = 0; fields[i]; i++)
            printf("%-15s %s\n", fields[i], af_cli_field(r.json, fields[i], buf, sizeof buf));
        printf("%-15s %s\n", "age",
               af_cli_age((uint64_t)af_cli_num(r.json, "created_ms", 0), af_cli_now_ms(), age,
                          sizeof age));
    }
    af_cli_resp_free(&r);
    return rc;
}

int af_cli_agents_delete(af_cli_t *cli, int argc, char **argv)
{
    const af_arg_t opts[] = {{NULL, 0, 0, NULL, NULL}};
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("agents delete", opts, argc, argv, &a, &done))
        return done;
    if (a.npos < 1)
        return af_cli_usage_error("agents delete", "give at least one AGENT id");
    if (af_cli_need_token(cli) < 0)
        return AF_CLI_AUTH;
    int worst = AF_CLI_OK;
    long saved = cli->timeout_s;
    if (cli->timeout_s < 120)
        cli->timeout_s = 120; /* the agent drains first */
    for (int i = 0; i < a.npos; i++) {
        char path[256];
        snprintf(path, sizeof path, "/v1/agents/%.200s", a.pos[i]);
        af_cli_resp_t r;
        af_cli_api_call(cli, "DELETE", path, NULL, &r);
        int rc = af_cli_exit_code(r.status);
        if (rc != AF_CLI_OK) {
            rc = af_cli_report(cli, "agents delete", &r);
            worst = rc;
        } else if (cli->json)
            af_cli_print_json(r.json);
        else
            printf("%s deleted\n", a.pos[i]);
        af_cli_resp_free(&r);
    }
    cli->timeout_s = saved;
    return worst;
}
