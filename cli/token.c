/* Token minting. See token.h. */
#include "token.h"

#include <errno.h>
#include <jwt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned char *af_cli_token_read_secret(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read the JWT secret %s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = malloc(65537);
    size_t n = buf ? fread(buf, 1, 65536, f) : 0;
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = 0;
    if (n == 0) {
        free(buf);
        snprintf(err, errlen, "the JWT secret %s is empty", path);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Same rule as the gateway's af_user_valid: 1..63 of [A-Za-z0-9_.@-]. */
static bool s_user_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '@' || c == '-'))
            return false;
    }
    return true;
}

char *af_cli_token_mint(const unsigned char *secret, size_t secretlen, const char *user,
                        const char *role, int64_t now_s, long ttl_s, char *err, size_t errlen)
{
    if (!s_user_ok(user)) {
        snprintf(err, errlen, "--user must be 1..63 of [A-Za-z0-9_.@-]");
        return NULL;
    }
    if (!role || (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0)) {
        snprintf(err, errlen, "--role must be user or admin");
        return NULL;
    }
    if (!secret || secretlen == 0) {
        snprintf(err, errlen, "empty secret");
        return NULL;
    }
    if (ttl_s <= 0) {
        snprintf(err, errlen, "--ttl must be positive");
        return NULL;
    }
    jwt_t *jwt = NULL;
    char *out = NULL;
    if (jwt_new(&jwt) != 0 || !jwt) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (jwt_add_grant(jwt, "sub", user) || jwt_add_grant(jwt, "role", role) ||
        jwt_add_grant(jwt, "iss", "fleetctl") || jwt_add_grant_int(jwt, "iat", (long)now_s) ||
        jwt_add_grant_int(jwt, "exp", (long)(now_s + ttl_s)) ||
        jwt_set_alg(jwt, JWT_ALG_HS256, secret, (int)secretlen)) {
        snprintf(err, errlen, "cannot build the token");
        goto done;
    }
    out = jwt_encode_str(jwt);
    if (!out)
        snprintf(err, errlen, "cannot sign the token");
done:
    jwt_free(jwt);
    return out;
}
