/* The gateway's API keys file for `fleetctl keys`: "sha256hex user role" lines,
 * never a key itself; a key's id is its hash's first 12 hex digits. The gateway
 * re-reads the file on change; rewrites are atomic (temp + rename), 0600. */
#ifndef AF_CLI_KEYS_H
#define AF_CLI_KEYS_H

#include <stddef.h>

#define AF_CLI_KEY_ID_LEN 12

typedef struct {
    char hash[65];
    char user[64];
    char role[8];
} af_cli_key_t;

/* Reads every entry (comments and blank lines skipped). Returns the count and a
 * malloc'd array in *out (caller frees), 0 for a missing file, or -1 with
 * "line N: why" in err. */
int af_cli_keys_read(const char *path, af_cli_key_t **out, char *err, size_t errlen);

/* Why af_cli_keys_add or af_cli_keys_revoke failed: fleetctl maps each to its
 * exit code. */
enum {
    AF_CLI_KEYS_FAILED = -1,    /* the file: unreadable, broken line, cannot rewrite */
    AF_CLI_KEYS_BAD_ID = -2,    /* id is not 8..64 lowercase hex digits, or no id nor user */
    AF_CLI_KEYS_AMBIGUOUS = -3, /* id is the prefix of several keys */
    AF_CLI_KEYS_NO_MATCH = -4,  /* no key has this id, or user has no key */
    AF_CLI_KEYS_BAD_INPUT = -5, /* add: user or role not acceptable */
};

/* Makes a new random key ("afk_" + 43 URL-safe characters) for user/role,
 * appends its hash line (file created 0600 if missing) and writes the key to
 * key_out (needs 64 bytes): the only place it ever appears. Returns 0, or
 * AF_CLI_KEYS_BAD_INPUT / AF_CLI_KEYS_FAILED with a reason in err. */
int af_cli_keys_add(const char *path, const char *user, const char *role, char *key_out,
                    size_t keylen, char *err, size_t errlen);

/* Removes the entries whose hash starts with id (at least 8 hex digits, must
 * match exactly one key) or, when id is NULL, every key of user. Returns the
 * number removed (>= 1) or one of AF_CLI_KEYS_* with a reason in err. */
int af_cli_keys_revoke(const char *path, const char *id, const char *user, char *err,
                       size_t errlen);

/* SHA-256 of key as 64 lowercase hex + NUL (same as the gateway). */
void af_cli_keys_hash(const char *key, char hex[65]);

#endif
