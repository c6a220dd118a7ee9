/* fleetctl: the operator's command line for agentfleet. main only reads the
 * global options (flags > FLEET_* environment > defaults), finds the command
 * in the table (commands.c) and runs it. */
#include "cli.h"
#include "cmd.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLEETCTL_VERSION "0.1.0"

static void s_usage(FILE *f)
{
    fprintf(f, "usage: fleetctl [global options] COMMAND [options]\n\n"
               "Operate an agentfleet gateway.\n\ncommands:\n");
    for (const af_cli_cmd_t *c = af_cli_commands; c->group; c++) {
        char words[40];
        snprintf(words, sizeof words, "%s%s%s", c->group, c->verb ? " " : "", c->verb ? c->verb : "");
        fprintf(f, "  %-16s %s\n", words, c->summary);
    }
    fprintf(f,
            "\nglobal options (anywhere on the line):\n"
            "  --url URL        gateway base URL (env FLEET_URL, default http://127.0.0.1:8080)\n"
            "  --token T        JWT or API key (env FLEET_TOKEN, better: a flag shows in ps)\n"
            "  --json           print JSON for scripts instead of tables\n"
            "  --timeout S      request timeout in seconds; chats: longest silence (default 30)\n"
            "  -k, --insecure   accept a self-signed HTTPS certificate\n"
            "  --cacert F       CA bundle for HTTPS (env FLEET_CACERT)\n"
            "  -h, --help       help; `fleetctl COMMAND --help` for a command's options\n"
            "  --version        print the version\n"
            "\nexit codes: 0 ok, 1 refused or failed, 2 usage, 3 auth (401/403), 4 not found,\n"
            "            5 gateway unreachable or 5xx, 6 rate limited (429)\n"
            "\nexamples:\n"
            "  export FLEET_TOKEN=$(fleetctl token --user alice --role admin)\n"
            "  fleetctl agents spawn --cores 2\n"
            "  fleetctl chat -m 'Hello, Claude'\n"
            "  fleetctl stats --json\n");
}

/* Removes the global options from argv (they may appear anywhere before
 * "--"), filling cli. Returns -1 on a bad one, 1 for --help/--version
 * handled, 0 otherwise; *argc is updated. */
static int s_globals(af_cli_t *cli, int *argc, char **argv, bool *help)
{
    int out = 1;
    bool rest = false;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (rest || !strcmp(a, "--")) {
            rest = true;
            argv[out++] = argv[i];
            continue;
        }
        const char *names[] = {"--url", "--token", "--timeout", "--cacert"};
        int which = -1;
        for (int k = 0; k < 4; k++) {
            size_t n = strlen(names[k]);
            if (!strncmp(a, names[k], n) && (a[n] == 0 || a[n] == '=')) {
                which = k;
                if (a[n] == '=')
                    v = a + n + 1;
                else if (i + 1 < *argc)
                    v = argv[++i];
                else {
                    fprintf(stderr, "fleetctl: %s needs a value\n", names[k]);
                    return -1;
                }
                break;
            }
        }
        if (which == 0)
            cli->url = v;
        else if (which == 1)
            cli->token = v;
        else if (which == 2) {
            char *end = NULL;
            long t = strtol(v, &end, 10);
            if (!end || *end || t <= 0) {
                fprintf(stderr, "fleetctl: --timeout must be a positive number of seconds\n");
                return -1;
            }
            cli->timeout_s = t;
        } else if (which == 3)
            cli->cacert = v;
        else if (!strcmp(a, "--json"))
            cli->json = true;
        else if (!strcmp(a, "-k") || !strcmp(a, "--insecure"))
            cli->insecure = true;
        else if (!strcmp(a, "--version")) {
            printf("fleetctl %s\n", FLEETCTL_VERSION);
            return 1;
        } else {
            if ((!strcmp(a, "-h") || !strcmp(a, "--help")) && out == 1)
                *help = true;
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

int main(int argc, char **argv)
{
    af_cli_t cli = {
        .url = getenv("FLEET_URL"),
        .token = getenv("FLEET_TOKEN"),
        .cacert = getenv("FLEET_CACERT"),
        .timeout_s = 30,
    };
    if (!cli.url || !*cli.url)
        cli.url = "http://127.0.0.1:8080";
    bool help = false;
    int g = s_globals(&cli, &argc, argv, &help);
    if (g < 0)
        return AF_CLI_USAGE;
    if (g > 0)
        return AF_CLI_OK;
    if (help || argc < 2) {
        s_usage(help ? stdout : stderr);
        return help ? AF_CLI_OK : AF_CLI_USAGE;
    }
    const char *group = argv[1];
    if (!strcmp(group, "help")) {
        s_usage(stdout);
        return AF_CLI_OK;
    }
    bool known_group = false;
    for (const af_cli_cmd_t *c = af_cli_commands; c->group; c++) {
        if (strcmp(c->group, group) != 0)
            continue;
        known_group = true;
        if (!c->verb) {
            int rc = c->fn(&cli, argc - 2, argv + 2);
            curl_global_cleanup();
            return rc;
        }
        if (argc >= 3 && !strcmp(c->verb, argv[2])) {
            int rc = c->fn(&cli, argc - 3, argv + 3);
            curl_global_cleanup();
            return rc;
        }
    }
    if (known_group) {
        bool asks_help = argc >= 3 && (!strcmp(argv[2], "-h") || !strcmp(argv[2], "--help"));
        FILE *f = asks_help ? stdout : stderr;
        if (!asks_help)
            fprintf(f, "fleetctl %s: %s\n", group,
                    argc >= 3 ? "unknown subcommand" : "a subcommand is needed");
        fprintf(f, "usage:\n");
        for (const af_cli_cmd_t *c = af_cli_commands; c->group; c++)
            if (!strcmp(c->group, group))
                fprintf(f, "  fleetctl %s %s %s\n      %s\n", c->group, c->verb, c->usage,
                        c->summary);
        return asks_help ? AF_CLI_OK : AF_CLI_USAGE;
    }
    fprintf(stderr, "fleetctl: unknown command '%s' (fleetctl --help lists them)\n", group);
    return AF_CLI_USAGE;
}
