/* JWT verification. See auth_jwt.h.
 * Order matters: the header is checked by us first (alg pinned), then libjwt
 * verifies the signature with the configured key, then the claims are read from
 * the verified payload with strict types. */
#include "auth_jwt.h"

#include "log.h"

#include <cjson/cJSON.h>
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_jwt_verifier_t {
    char alg[8];
    jwt_alg_t jalg;
    unsigned char *key;
    size_t keylen;
    long leeway_s;
};

af_jwt_verifier_t *af_jwt_verifier_new(const char *alg, const unsigned char *key, size_t keylen,
                                       long leeway_s)
{
    jwt_alg_t jalg;
    if (!alg)
        return NULL;
    if (!strcmp(alg, "HS256"))
        jalg = JWT_ALG_HS256;
    else if (!strcmp(alg, "RS256"))
        jalg = JWT_ALG_RS256;
    else if (!strcmp(alg, "ES256"))
        jalg = JWT_ALG_ES256;
    else {
        af_error("event=jwt_bad_alg alg=%s allowed=HS256,RS256,ES256", alg);
        return NULL;
    }
    if (!key || keylen == 0) {
        af_error("event=jwt_no_key alg=%s", alg);
        return NULL;
    }
    af_jwt_verifier_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    snprintf(self->alg, sizeof self->alg, "%s", alg);
    self->jalg = jalg;
    self->key = malloc(keylen + 1);
    if (!self->key) {
        free(self);
        return NULL;
    }
    memcpy(self->key, key, keylen);
    self->key[keylen] = 0;
    self->keylen = keylen;
    self->leeway_s = leeway_s < 0 ? 0 : leeway_s;
    return self;
}

void af_jwt_verifier_destroy(af_jwt_verifier_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_jwt_verifier_t *self = *self_p;
    if (self->key) {
        memset(self->key, 0, self->keylen);
        free(self->key);
    }
    free(self);
    *self_p = NULL;
}

static int s_b64val(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Decodes base64url (no padding) into out (NUL-terminated). -1 on a bad char. */
static int s_b64url_decode(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = s_b64val(in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= outlen)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = 0;
    return (int)o;
}

#define FAIL(...)                                      \
    do {                                               \
        snprintf(reason, reasonlen, __VA_ARGS__);      \
        goto done;                                     \
    } while (0)

int af_jwt_verify(const af_jwt_verifier_t *self, const char *token, int64_t now_s,
                  af_principal_t *out, char *reason, size_t reasonlen)
{
    int rc = -1;
    jwt_t *jwt = NULL;
    cJSON *hdr = NULL, *claims = NULL;
    char *grants = NULL;
    char buf[1024];

    if (!token || !*token)
        FAIL("empty token");
    size_t len = strlen(token);
    if (len > AF_JWT_MAX_LEN)
        FAIL("token too long");
    const char *dot1 = strchr(token, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot1 || !dot2 || strchr(dot2 + 1, '.'))
        FAIL("malformed token: want header.payload.signature");
    if (dot2[1] == 0)
        FAIL("unsigned token");
    for (const char *p = token; *p; p++)
        if (*p != '.' && s_b64val(*p) < 0)
            FAIL("malformed token: not base64url");

    /* The header is read by us so the algorithm cannot be chosen by the token. */
    if ((size_t)(dot1 - token) > (sizeof buf - 1) * 4 / 3 ||
        s_b64url_decode(token, (size_t)(dot1 - token), buf, sizeof buf) < 0)
        FAIL("malformed header");
    hdr = cJSON_Parse(buf);
    if (!cJSON_IsObject(hdr))
        FAIL("malformed header");
    const cJSON *alg = cJSON_GetObjectItemCaseSensitive(hdr, "alg");
    if (!cJSON_IsString(alg))
        FAIL("header without alg");
    if (strcmp(alg->valuestring, self->alg) != 0)
        FAIL("alg %.16s refused (only %s accepted)", alg->valuestring, self->alg);
    if (cJSON_GetObjectItemCaseSensitive(hdr, "crit"))
        FAIL("crit header not supported");

    if (jwt_decode(&jwt, token, self->key, (int)self->keylen) != 0 || !jwt)
        FAIL("bad signature");
    if (jwt_get_alg(jwt) != self->jalg)
        FAIL("alg mismatch");

    grants = jwt_get_grants_json(jwt, NULL);
    claims = grants ? cJSON_Parse(grants) : NULL;
    if (!cJSON_IsObject(claims))
        FAIL("malformed claims");

    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(claims, "exp");
    if (!exp)
        FAIL("token without exp");
    if (!cJSON_IsNumber(exp))
        FAIL("exp is not a number");
    if ((double)now_s > exp->valuedouble + (double)self->leeway_s)
        FAIL("token expired");
    const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(claims, "nbf");
    if (nbf) {
        if (!cJSON_IsNumber(nbf))
            FAIL("nbf is not a number");
        if ((double)now_s + (double)self->leeway_s < nbf->valuedouble)
            FAIL("token not yet valid");
    }
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(claims, "sub");
    if (!cJSON_IsString(sub) || !af_user_valid(sub->valuestring))
        FAIL("sub missing or not a valid user name");
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(claims, "role");
    af_role_t r = AF_ROLE_USER;
    if (role && (!cJSON_IsString(role) || af_role_parse(role->valuestring, &r) < 0))
        FAIL("role must be \"user\" or \"admin\"");

    memset(out, 0, sizeof *out);
    snprintf(out->user, sizeof out->user, "%s", sub->valuestring);
    out->role = r;
    out->via = "jwt";
    rc = 0;
done:
    cJSON_Delete(hdr);
    cJSON_Delete(claims);
    free(grants);
    if (jwt)
        jwt_free(jwt);
    return rc;
}
