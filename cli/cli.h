/* fleetctl's shared context: where the gateway is, how to authenticate, how to
 * print, and the exit codes every command returns. Commands (cmd_*.c) take a
 * context and their own argv (after the command words) and return an exit code. */
#ifndef AF_CLI_H
#define AF_CLI_H

#include <stdbool.h>

/* Exit codes, stable for scripts (fleetctl --help lists them). */
enum {
    AF_CLI_OK = 0,
    AF_CLI_ERR = 1,         /* the gateway refused the request (other 4xx) or a local failure */
    AF_CLI_USAGE = 2,       /* bad command line */
    AF_CLI_AUTH = 3,        /* 401/403: missing, invalid or insufficient credentials */
    AF_CLI_NOT_FOUND = 4,   /* 404 */
    AF_CLI_UNAVAILABLE = 5, /* cannot connect, or 5xx/529 */
    AF_CLI_LIMITED = 6,     /* 429: rate limited or over capacity; retry later */
};

typedef struct {
    const char *url;    /* gateway base URL, no trailing slash needed */
    const char *token;  /* JWT or API key, sent as Authorization: Bearer */
    bool json;          /* print the gateway's JSON instead of tables */
    bool insecure;      /* skip TLS verification (self-signed dev certificates) */
    const char *cacert; /* CA bundle for HTTPS */
    long timeout_s;     /* whole-request timeout; chats: time without a byte */
} af_cli_t;

/* One command: words (e.g. "agents", "list"), handler, one-line summary and
 * the --help text of its own options. */
typedef int(af_cli_cmd_fn)(af_cli_t *cli, int argc, char **argv);

typedef struct {
    const char *group; /* "agents", or the command itself ("stats") */
    const char *verb;  /* "list", or NULL for single-word commands */
    af_cli_cmd_fn *fn;
    const char *usage;   /* "agents list" arguments, e.g. "[--cores N] ..." */
    const char *summary;
    const char *help;    /* option lines, printed by `fleetctl CMD --help` */
} af_cli_cmd_t;

/* The command table (commands.c), ended by a zeroed entry. */
extern const af_cli_cmd_t af_cli_commands[];

#endif
