/* The command table and per-command help. See cli.h and cmd.h. */
#include "cmd.h"

#include <stdio.h>
#include <string.h>

const af_cli_cmd_t af_cli_commands[] = {
    {"agents", "spawn", af_cli_agents_spawn, "[--cores N] [--memory-mb N] [--image I] [--count N]",
     "spawn agents you own (waits until they are ready)",
     "  --cores N        cores, 1..8 (default 1)\n"
     "  --memory-mb N    memory in MiB, 512..16384 (default 512)\n"
     "  --image I        agent image (default: the manager's default)\n"
     "  --count N        how many, 1..50 (default 1)\n"},
    {"agents", "list", af_cli_agents_list, "", "list your agents (admins: every agent)", ""},
    {"agents", "get", af_cli_agents_get, "AGENT", "show one agent", ""},
    {"agents", "delete", af_cli_agents_delete, "AGENT...", "drain and delete agents", ""},
    {"chat", NULL, af_cli_chat, "[AGENT] [-m MESSAGE] [--session ID] [--system TEXT] [--model M] [--max-tokens N] [--no-stream]",
     "chat with Claude: streams tokens as they arrive, keeps the session",
     "  AGENT             chat on this agent (default: the pool picks one)\n"
     "  -m, --message M   send one message and exit (default: read lines from stdin,\n"
     "                    one turn per line, until EOF or /quit)\n"
     "  --session ID      continue an existing session\n"
     "  --system TEXT     system prompt for a new session\n"
     "  --model M         model (default: the gateway's)\n"
     "  --max-tokens N    reply length limit\n"
     "  --no-stream       wait for the whole reply instead of streaming\n"
     "  The session id is printed on stderr; --json prints one JSON event per line.\n"},
    {"sessions", "show", af_cli_sessions_show, "SESSION", "show a session's history and usage", ""},
    {"sessions", "delete", af_cli_sessions_delete, "SESSION", "delete a session", ""},
    {"stats", NULL, af_cli_stats, "", "fleet statistics: agents by state, sessions, utilization", ""},
    {"scale", NULL, af_cli_scale, "N [--reason TEXT]", "set the pool size to N agents (admin)",
     "  --reason TEXT    recorded in the audit log and the manager's log\n"},
    {"usage", NULL, af_cli_usage, "[--user U]",
     "token usage, cost and daily budget (yours; admins: any user's)",
     "  --user U         another user's usage (admin)\n"},
    {"budgets", "reset", af_cli_budget_reset, "USER",
     "reset a user's daily token budget (admin)", ""},
    {"token", NULL, af_cli_token, "--user U [--role user|admin] [--ttl 12h] [--secret-file F]",
     "mint a JWT from the gateway's HS256 secret (prints it on stdout)",
     "  --user U          the token's subject (1..63 of [A-Za-z0-9_.@-])\n"
     "  --role R          user (default) or admin\n"
     "  --ttl D           lifetime: 90s, 15m, 12h (default), 7d\n"
     "  --secret-file F   default: $FLEET_JWT_SECRET_FILE, $AF_GATEWAY_JWT_SECRET_FILE,\n"
     "                    $AF_VAR/jwt.secret, ./var/jwt.secret\n"},
    {"keys", "add", af_cli_keys_add_cmd, "--user U [--role user|admin] [--keys-file F]",
     "create an API key (printed once; only its hash is stored)",
     "  --keys-file F     default: $FLEET_KEYS_FILE, $AF_GATEWAY_KEYS_FILE,\n"
     "                    $AF_VAR/api-keys, ./var/api-keys\n"},
    {"keys", "list", af_cli_keys_list_cmd, "[--keys-file F]", "list API keys (id, user, role)", ""},
    {"keys", "revoke", af_cli_keys_revoke_cmd, "ID | --user U [--keys-file F]",
     "revoke a key by id (from keys list), or every key of a user", ""},
    {NULL, NULL, NULL, NULL, NULL, NULL},
};

static const af_cli_cmd_t *s_find(const char *words)
{
    char buf[64];
    for (const af_cli_cmd_t *c = af_cli_commands; c->group; c++) {
        snprintf(buf, sizeof buf, "%s%s%s", c->group, c->verb ? " " : "", c->verb ? c->verb : "");
        if (!strcmp(buf, words))
            return c;
    }
    return NULL;
}

void af_cli_cmd_help(const char *words)
{
    const af_cli_cmd_t *c = s_find(words);
    if (!c)
        return;
    printf("usage: fleetctl %s %s\n\n%s.\n", words, c->usage, c->summary);
    if (c->help && *c->help)
        printf("\noptions:\n%s", c->help);
    printf("\nglobal options: --url URL, --token T, --json, --timeout S, -k/--insecure, --cacert F\n"
           "(see fleetctl --help)\n");
}

int af_cli_usage_error(const char *words, const char *msg)
{
    const af_cli_cmd_t *c = s_find(words);
    fprintf(stderr, "fleetctl %s: %s\nusage: fleetctl %s %s\n", words, msg, words,
            c ? c->usage : "");
    return AF_CLI_USAGE;
}

bool af_cli_cmd_args(const char *words, const af_arg_t *opts, int argc, char **argv,
                     af_args_t *out, int *done)
{
    char err[256];
    if (af_args_parse(opts, argc, argv, out, err, sizeof err) < 0) {
        *done = af_cli_usage_error(words, err);
        return false;
    }
    if (out->help) {
        af_cli_cmd_help(words);
        *done = AF_CLI_OK;
        return false;
    }
    return true;
}
