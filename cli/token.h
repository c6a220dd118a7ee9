/* JWT minting for `fleetctl token`: HS256 with the gateway's secret file (read
 * and trimmed exactly as the gateway does, so the token verifies there), with
 * the claims the gateway requires (sub, role, exp) plus iat and iss. */
#ifndef AF_CLI_TOKEN_H
#define AF_CLI_TOKEN_H

#include <stddef.h>
#include <stdint.h>

/* Reads a secret file (at most 64 KiB), trimmed like the gateway does. Returns a
 * malloc'd NUL-terminated buffer (caller frees, after wiping it) and its length,
 * or NULL with a reason in err. */
unsigned char *af_cli_token_read_secret(const char *path, size_t *len, char *err, size_t errlen);

/* Mints a token for user/role ("user" or "admin") valid from now_s for ttl_s
 * seconds. Returns a malloc'd token or NULL with a reason in err (bad user
 * name, bad role, empty secret). */
char *af_cli_token_mint(const unsigned char *secret, size_t secretlen, const char *user,
                        const char *role, int64_t now_s, long ttl_s, char *err, size_t errlen);

#endif
