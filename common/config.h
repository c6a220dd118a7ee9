/* Configuration from flags, environment and a config file, in that order of
 * precedence (flag > AF_<DAEMON>_<NAME> > AF_<NAME> > file > default). Each daemon
 * declares one table of options; --help prints it with defaults. */
#ifndef AF_CONFIG_H
#define AF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { AF_OPT_STR, AF_OPT_INT, AF_OPT_DOUBLE, AF_OPT_BOOL } af_opt_type_t;

typedef struct {
    const char *name;     /* long flag without "--", e.g. "metrics-listen" */
    af_opt_type_t type;
    void *dest;           /* char ** (heap, owned by the table), long *, double *, bool * */
    const char *def;      /* default as text; NULL for an empty string option */
    const char *help;
    bool secret;          /* value is registered with the log scrubber and never echoed */
} af_opt_t;

typedef enum { AF_CONFIG_RUN = 0, AF_CONFIG_EXIT_OK = 1, AF_CONFIG_CHECK = 2 } af_config_result_t;

/* Fills every dest from defaults, then the file named by --config / AF_CONFIG,
 * then the environment, then argv. `opts` ends with a zeroed entry. Handles
 * --help and --version (returns AF_CONFIG_EXIT_OK after printing) and
 * --check-config (returns AF_CONFIG_CHECK: the caller validates and says
 * "configuration OK"). Returns -1 after printing a clear message on stderr for an
 * unknown flag, a missing value, a bad number or an unreadable file. */
int af_config_load(af_opt_t *opts, const char *daemon, const char *summary, int argc,
                   char **argv);

/* Frees the strings af_config_load allocated into the table's dests (after a
 * failed load too). String dests must start NULL; load again only after this. */
void af_config_free(af_opt_t *opts);

/* Prints the --help text to stdout. */
void af_config_usage(const af_opt_t *opts, const char *daemon, const char *summary);

/* Splits "host:port" (port required, host may be empty meaning 0.0.0.0).
 * host must hold at least 256 bytes. Returns 0 / -1. */
int af_config_hostport(const char *spec, char *host, size_t hostlen, int *port);

#define AF_VERSION "0.1.0"

#endif
