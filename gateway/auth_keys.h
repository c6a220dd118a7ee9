/* API keys: a keys file holds one "sha256hex user role" line per key (and
 * '#' comments), never a key itself. Lookup hashes the presented key and
 * binary-searches the sorted hashes. Parsing is pure (fuzzable); the file is
 * re-read when its mtime changes so added keys work without a restart. */
#ifndef AF_GW_AUTH_KEYS_H
#define AF_GW_AUTH_KEYS_H

#include "rbac.h"

#include <stddef.h>

#define AF_KEY_MAX_LEN 256

typedef struct af_keys_t af_keys_t;

af_keys_t *af_keys_new(void);
void af_keys_destroy(af_keys_t **self_p);

/* Replaces the table with the lines of text. Returns the number of keys, or -1
 * with "line N: why" in err (the table is then left unchanged). */
int af_keys_parse(af_keys_t *self, const char *text, size_t len, char *err, size_t errlen);

/* Loads path (and remembers it for af_keys_refresh). Returns count or -1. */
int af_keys_load(af_keys_t *self, const char *path, char *err, size_t errlen);

/* Re-reads the remembered file if its mtime or size changed; keeps the old
 * table when the new file is broken (and logs). At most one stat per second. */
void af_keys_refresh(af_keys_t *self);

/* Returns 0 and fills *out when key is known; -1 otherwise. */
int af_keys_lookup(const af_keys_t *self, const char *key, af_principal_t *out);

size_t af_keys_count(const af_keys_t *self);

/* SHA-256 of key as 64 lowercase hex chars + NUL. */
void af_keys_hash(const char *key, char hex[65]);

/* Makes a new random key ("afk_" + 43 chars) for user/role, appends its hash
 * line to path (created 0600 if missing) and writes the key to key_out (only
 * place it ever appears). Returns 0 / -1 with a reason in err. */
int af_keys_add(const char *path, const char *user, const char *role, char *key_out,
                size_t keylen, char *err, size_t errlen);

#endif
