/* fleetctl's command handlers (one file per command group) and the helper
 * that parses a command's own options and prints its --help. */
#ifndef AF_CLI_CMD_H
#define AF_CLI_CMD_H

#include "args.h"
#include "cli.h"

/* Parses opts for the command named by words ("agents spawn"); on -h/--help
 * prints the command's help and returns AF_CLI_OK through *done; on a bad
 * command line prints the error and returns AF_CLI_USAGE through *done.
 * Returns true when the command should run. */
bool af_cli_cmd_args(const char *words, const af_arg_t *opts, int argc, char **argv,
                     af_args_t *out, int *done);
/* Prints "fleetctl: words: msg" and the usage line, returns AF_CLI_USAGE. */
int af_cli_usage_error(const char *words, const char *msg);
/* Prints a command's help (from the table). */
void af_cli_cmd_help(const char *words);

/* cmd_agents.c */
int af_cli_agents_spawn(af_cli_t *cli, int argc, char **argv);
int af_cli_agents_list(af_cli_t *cli, int argc, char **argv);
int af_cli_agents_get(af_cli_t *cli, int argc, char **argv);
int af_cli_agents_delete(af_cli_t *cli, int argc, char **argv);
/* cmd_chat.c */
int af_cli_chat(af_cli_t *cli, int argc, char **argv);
/* cmd_fleet.c */
int af_cli_sessions_show(af_cli_t *cli, int argc, char **argv);
int af_cli_sessions_delete(af_cli_t *cli, int argc, char **argv);
int af_cli_stats(af_cli_t *cli, int argc, char **argv);
int af_cli_scale(af_cli_t *cli, int argc, char **argv);
int af_cli_usage(af_cli_t *cli, int argc, char **argv);
int af_cli_budget_reset(af_cli_t *cli, int argc, char **argv);
/* cmd_local.c: no gateway needed */
int af_cli_token(af_cli_t *cli, int argc, char **argv);
int af_cli_keys_add_cmd(af_cli_t *cli, int argc, char **argv);
int af_cli_keys_list_cmd(af_cli_t *cli, int argc, char **argv);
int af_cli_keys_revoke_cmd(af_cli_t *cli, int argc, char **argv);

#endif
