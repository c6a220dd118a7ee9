/* fleetctl chat: one turn per line (or one -m message), streamed over SSE from
 * POST /v1/chat or /v1/agents/{id}/chat. Text deltas go to stdout the moment
 * they arrive; the session id (from the first turn's `done` event) is kept for
 * the following turns and printed on stderr, so a later `--session` resumes. */
#include "api.h"
#include "cmd.h"
#include "out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    af_cli_t *cli;
    char session[80];
    char agent[80];
    bool got_done;
    bool got_error;
    bool printed;      /* some text reached stdout this turn */
    bool ends_newline; /* the last text printed ended with a newline */
    char error[512];
    char error_type[64];
    double in_tokens, out_tokens;
} s_chat_t;

static void s_take_done(s_chat_t *c, const cJSON *d)
{
    char buf[80];
    const cJSON *sid = af_cli_get(d, "session_id");
    if (cJSON_IsString(sid))
        snprintf(c->session, sizeof c->session, "%s", sid->valuestring);
    if (cJSON_IsString(af_cli_get(d, "agent_id")))
        snprintf(c->agent, sizeof c->agent, "%s", af_cli_field(d, "agent_id", buf, sizeof buf));
    c->in_tokens = af_cli_num(d, "usage.input_tokens", 0);
    c->out_tokens = af_cli_num(d, "usage.output_tokens", 0);
    c->got_done = true;
}

static int s_on_event(const char *event, const char *data, void *arg)
{
    s_chat_t *c = arg;
    cJSON *d = cJSON_Parse(data);
    if (c->cli->json) {
        cJSON *line = cJSON_CreateObject();
        cJSON_AddStringToObject(line, "event", event);
        cJSON_AddItemToObject(line, "data", d ? cJSON_Duplicate(d, 1) : cJSON_CreateString(data));
        char *t = cJSON_PrintUnformatted(line);
        if (t)
            printf("%s\n", t);
        free(t);
        cJSON_Delete(line);
        fflush(stdout);
    }
    if (!strcmp(event, "delta")) {
        const cJSON *text = af_cli_get(d, "text");
        if (!c->cli->json && cJSON_IsString(text) && text->valuestring[0]) {
            fputs(text->valuestring, stdout);
            fflush(stdout);
            c->printed = true;
            c->ends_newline = text->valuestring[strlen(text->valuestring) - 1] == '\n';
        }
    } else if (!strcmp(event, "done")) {
        s_take_done(c, d);
    } else if (!strcmp(event, "error")) {
        char buf[512];
        c->got_error = true;
        snprintf(c->error, sizeof c->error, "%s", af_cli_field(d, "error.message", buf, sizeof buf));
        snprintf(c->error_type, sizeof c->error_type, "%s",
                 af_cli_field(d, "error.type", buf, sizeof buf));
    }
    cJSON_Delete(d);
    return 0;
}

/* One turn. Returns an exit code. */
static int s_turn(s_chat_t *c, const char *path, const char *message, const char *system,
                  const char *model, long max_tokens, bool stream)
{
    cJSON *body = cJSON_CreateObject();
    cJSON_AddStringToObject(body, "message", message);
    if (c->session[0])
        cJSON_AddStringToObject(body, "session_id", c->session);
    else if (system)
        cJSON_AddStringToObject(body, "system", system);
    if (model)
        cJSON_AddStringToObject(body, "model", model);
    if (max_tokens > 0)
        cJSON_AddNumberToObject(body, "max_tokens", (double)max_tokens);
    cJSON_AddBoolToObject(body, "stream", stream);
    c->got_done = c->got_error = c->printed = false;
    c->ends_newline = false;
    af_cli_resp_t r;
    int trc = stream ? af_cli_api_stream(c->cli, path, body, s_on_event, c, &r)
                     : af_cli_api_call(c->cli, "POST", path, body, &r);
    cJSON_Delete(body);
    int rc = AF_CLI_OK;
    if (r.streamed) {
        if (c->printed && !c->ends_newline && !c->cli->json)
            putchar('\n');
        fflush(stdout); /* before anything on stderr */
        if (c->got_error) {
            fprintf(stderr, "fleetctl: chat: the reply failed: %s (%s)\n", c->error, c->error_type);
            rc = !strcmp(c->error_type, "rate_limit_error") ? AF_CLI_LIMITED : AF_CLI_UNAVAILABLE;
        } else if (trc < 0 || !c->got_done) {
            fprintf(stderr, "fleetctl: chat: the stream ended early%s%s\n", r.err[0] ? ": " : "",
                    r.err);
            rc = AF_CLI_UNAVAILABLE;
        }
    } else if (af_cli_exit_code(r.status) != AF_CLI_OK) {
        rc = af_cli_report(c->cli, "chat", &r);
    } else {
        s_take_done(c, r.json);
        if (c->cli->json)
            af_cli_print_json(r.json);
        else {
            const cJSON *content = af_cli_get(r.json, "content");
            if (cJSON_IsString(content))
                printf("%s\n", content->valuestring);
        }
    }
    af_cli_resp_free(&r);
    if (rc == AF_CLI_OK && c->got_done && !c->cli->json)
        fprintf(stderr, "[session %s on %s: %.0f in + %.0f out tokens]\n", c->session,
                c->agent[0] ? c->agent : "?", c->in_tokens, c->out_tokens);
    fflush(stdout);
    return rc;
}

int af_cli_chat(af_cli_t *cli, int argc, char **argv)
{
    const char *message = NULL, *session = NULL, *system = NULL, *model = NULL;
    long max_tokens = 0;
    bool no_stream = false;
    const af_arg_t opts[] = {
        {"message", 'm', AF_ARG_STR, &message, NULL},
        {"session", 's', AF_ARG_STR, &session, NULL},
        {"system", 0, AF_ARG_STR, &system, NULL},
        {"model", 0, AF_ARG_STR, &model, NULL},
        {"max-tokens", 0, AF_ARG_LONG, &max_tokens, NULL},
        {"no-stream", 0, AF_ARG_BOOL, &no_stream, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("chat", opts, argc, argv, &a, &done))
        return done;
    if (a.npos > 1)
        return af_cli_usage_error("chat", "give at most one AGENT id");
    if (message && !*message)
        return af_cli_usage_error("chat", "--message is empty");
    if (af_cli_need_token(cli) < 0)
        return AF_CLI_AUTH;
    s_chat_t c = {.cli = cli};
    if (session)
        snprintf(c.session, sizeof c.session, "%s", session);
    char path[256];
    if (a.npos == 1)
        snprintf(path, sizeof path, "/v1/agents/%.200s/chat", a.pos[0]);
    else
        snprintf(path, sizeof path, "/v1/chat");
    if (message)
        return s_turn(&c, path, message, system, model, max_tokens, !no_stream);

    bool tty = isatty(0);
    if (tty)
        fprintf(stderr, "chatting%s%s (one message per line; Ctrl-D or /quit ends)\n",
                a.npos ? " on " : "", a.npos ? a.pos[0] : "");
    char *line = NULL;
    size_t cap = 0;
    int rc = AF_CLI_OK;
    for (;;) {
        if (tty)
            fprintf(stderr, "you> ");
        ssize_t n = getline(&line, &cap, stdin);
        if (n < 0)
            break;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0)
            continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit"))
            break;
        rc = s_turn(&c, path, line, system, model, max_tokens, !no_stream);
        if (rc != AF_CLI_OK && !tty)
            break;
    }
    free(line);
    if (tty)
        fputc('\n', stderr);
    if (c.session[0] && !cli->json)
        fprintf(stderr, "session %s (resume: fleetctl chat --session %s)\n", c.session, c.session);
    return rc;
}
