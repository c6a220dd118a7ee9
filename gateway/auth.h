/* Picks the caller's credential from the headers and checks it:
 * `Authorization: Bearer <JWT>` (a Bearer value without dots is tried as an API
 * key), else `x-api-key: <key>`. No I/O beyond the keys file refresh. */
#ifndef AF_GW_AUTH_H
#define AF_GW_AUTH_H

#include "auth_jwt.h"
#include "auth_keys.h"
#include "rbac.h"

#include <event2/keyvalq_struct.h>
#include <stdint.h>

typedef enum { AF_AUTH_OK = 0, AF_AUTH_MISSING, AF_AUTH_BAD_JWT, AF_AUTH_BAD_KEY } af_auth_result_t;

/* jwt / keys may be NULL (that method is off). On failure, reason says why in
 * words safe to log and show (never the credential). */
af_auth_result_t af_auth_check(const af_jwt_verifier_t *jwt, af_keys_t *keys,
                               const char *authorization, const char *x_api_key, int64_t now_s,
                               af_principal_t *out, char *reason, size_t reasonlen);

const char *af_auth_result_name(af_auth_result_t r);

#endif
