/* Credential selection. See auth.h. */
#include "auth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static af_auth_result_t s_key(af_keys_t *keys, const char *key, af_principal_t *out,
                              char *reason, size_t reasonlen)
{
    if (!keys) {
        snprintf(reason, reasonlen, "API keys are not enabled on this gateway");
        return AF_AUTH_BAD_KEY;
    }
    af_keys_refresh(keys);
    if (af_keys_lookup(keys, key, out) < 0) {
        snprintf(reason, reasonlen, "invalid x-api-key");
        return AF_AUTH_BAD_KEY;
    }
    return AF_AUTH_OK;
}

af_auth_result_t af_auth_check(const af_jwt_verifier_t *jwt, af_keys_t *keys,
                               const char *authorization, const char *x_api_key, int64_t now_s,
                               af_principal_t *out, char *reason, size_t reasonlen)
{
    if (authorization && *authorization) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0) {
            snprintf(reason, reasonlen, "Authorization must be \"Bearer <token>\"");
            return AF_AUTH_BAD_JWT;
        }
        const char *tok = authorization + 7;
        while (*tok == ' ')
            tok++;
        if (!strchr(tok, '.'))
            return s_key(keys, tok, out, reason, reasonlen);
        if (!jwt) {
            snprintf(reason, reasonlen, "JWT authentication is not enabled on this gateway");
            return AF_AUTH_BAD_JWT;
        }
        char why[128];
        if (af_jwt_verify(jwt, tok, now_s, out, why, sizeof why) < 0) {
            snprintf(reason, reasonlen, "invalid token: %s", why);
            return AF_AUTH_BAD_JWT;
        }
        return AF_AUTH_OK;
    }
    if (x_api_key && *x_api_key)
        return s_key(keys, x_api_key, out, reason, reasonlen);
    snprintf(reason, reasonlen, "missing credentials: send Authorization: Bearer <JWT> or x-api-key");
    return AF_AUTH_MISSING;
}

const char *af_auth_result_name(af_auth_result_t r)
{
    switch (r) {
    case AF_AUTH_OK: return "ok";
    case AF_AUTH_MISSING: return "missing";
    case AF_AUTH_BAD_JWT: return "invalid_jwt";
    case AF_AUTH_BAD_KEY: return "invalid_key";
    }
    return "unknown";
}
