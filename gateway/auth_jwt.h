/* Bearer JWT verification with libjwt. The accepted algorithm is fixed by
 * configuration (HS256 with a secret, RS256/ES256 with a public key): the token
 * header must name exactly that algorithm, so `none` and algorithm swaps are
 * refused before libjwt sees the token. exp is required, nbf honoured, both
 * with a leeway; `sub` is the user and `role` is "user" or "admin". Pure
 * (the clock is a parameter), so tests and the fuzzer drive it directly. */
#ifndef AF_GW_AUTH_JWT_H
#define AF_GW_AUTH_JWT_H

#include "rbac.h"

#include <stddef.h>
#include <stdint.h>

#define AF_JWT_MAX_LEN 8192

typedef struct af_jwt_verifier_t af_jwt_verifier_t;

/* alg: "HS256", "RS256" or "ES256"; key: the HMAC secret or the PEM public key
 * (copied). Returns NULL (and logs) for another alg or an empty key. */
af_jwt_verifier_t *af_jwt_verifier_new(const char *alg, const unsigned char *key, size_t keylen,
                                       long leeway_s);
void af_jwt_verifier_destroy(af_jwt_verifier_t **self_p);

/* Verifies token at wall time now_s. Returns 0 and fills *out, or -1 with a
 * short reason (safe to log: never contains the token) in reason. */
int af_jwt_verify(const af_jwt_verifier_t *self, const char *token, int64_t now_s,
                  af_principal_t *out, char *reason, size_t reasonlen);

#endif
