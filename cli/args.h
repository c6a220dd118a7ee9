/* Command-line options of one fleetctl command: a table of named options
 * ("--name VALUE", "--name=VALUE", boolean "--name") plus positional words.
 * Pure: no printing, errors come back as a message for the caller. */
#ifndef AF_CLI_ARGS_H
#define AF_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { AF_ARG_STR, AF_ARG_LONG, AF_ARG_BOOL } af_arg_type_t;

typedef struct {
    const char *name;   /* without "--" */
    char shortname;     /* e.g. 'm' for -m, or 0 */
    af_arg_type_t type;
    void *dest;         /* const char ** (points into argv), long *, bool * */
    bool *seen;         /* optional: set when the option was given */
} af_arg_t;

#define AF_ARGS_MAX_POS 16

typedef struct {
    const char *pos[AF_ARGS_MAX_POS]; /* positional words, in order (point into argv) */
    int npos;
    bool help;                        /* -h / --help was given */
} af_args_t;

/* Parses argv[0..argc) against opts (ended by a zeroed entry). "--" ends the
 * options. Returns 0, or -1 with a message naming the offending word in err
 * (unknown option, missing value, not a number, too many words). */
int af_args_parse(const af_arg_t *opts, int argc, char **argv, af_args_t *out, char *err,
                  size_t errlen);

/* Parses a duration "90", "90s", "15m", "12h", "7d" into seconds (> 0).
 * Returns 0 / -1. */
int af_args_duration(const char *text, long *seconds);

#endif
