/* Mints JWTs for the gateway's tests and bench (with libjwt), including the
 * hostile ones: a token for another key, a wrong algorithm, alg "none",
 * expired or not yet valid.
 *
 * usage: tool_gateway_jwt --alg HS256|RS256|ES256|none --key-file F --sub USER
 *        [--role user|admin] [--exp-in S] [--nbf-in S] [--no-exp] [--tamper]
 * --key-file is the HMAC secret or the PEM *private* key; --exp-in/--nbf-in are
 * seconds from now (negative = past); --tamper flips a signature byte. Prints
 * the token on stdout. */
#include <jwt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static unsigned char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    unsigned char *buf = malloc(65537);
    size_t n = fread(buf, 1, 65536, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r') && path[0] && strstr(path, "secret"))
        n--;
    buf[n] = 0;
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    const char *alg = "HS256", *key_file = NULL, *sub = NULL, *role = "user";
    long exp_in = 3600, nbf_in = 0;
    int no_exp = 0, has_nbf = 0, tamper = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--alg") && i + 1 < argc) alg = argv[++i];
        else if (!strcmp(argv[i], "--key-file") && i + 1 < argc) key_file = argv[++i];
        else if (!strcmp(argv[i], "--sub") && i + 1 < argc) sub = argv[++i];
        else if (!strcmp(argv[i], "--role") && i + 1 < argc) role = argv[++i];
        else if (!strcmp(argv[i], "--exp-in") && i + 1 < argc) exp_in = atol(argv[++i]);
        else if (!strcmp(argv[i], "--nbf-in") && i + 1 < argc) { nbf_in = atol(argv[++i]); has_nbf = 1; }
        else if (!strcmp(argv[i], "--no-exp")) no_exp = 1;
        else if (!strcmp(argv[i], "--tamper")) tamper = 1;
        else { fprintf(stderr, "bad argument %s\n", argv[i]); return 2; }
    }
    if (!sub) {
        fprintf(stderr, "usage: tool_gateway_jwt --alg A --key-file F --sub USER [...]\n");
        return 2;
    }
    jwt_t *jwt = NULL;
    if (jwt_new(&jwt) != 0)
        return 1;
    long now = (long)time(NULL);
    jwt_add_grant(jwt, "sub", sub);
    jwt_add_grant(jwt, "role", role);
    jwt_add_grant_int(jwt, "iat", now);
    if (!no_exp)
        jwt_add_grant_int(jwt, "exp", now + exp_in);
    if (has_nbf)
        jwt_add_grant_int(jwt, "nbf", now + nbf_in);
    char *tok = NULL;
    if (!strcmp(alg, "none")) {
        /* libjwt signs nothing for none: header {"alg":"none"} and an empty signature. */
        jwt_set_alg(jwt, JWT_ALG_NONE, NULL, 0);
        tok = jwt_encode_str(jwt);
    } else {
        size_t klen = 0;
        unsigned char *key = key_file ? s_slurp(key_file, &klen) : NULL;
        if (!key) {
            fprintf(stderr, "cannot read --key-file\n");
            return 1;
        }
        if (jwt_set_alg(jwt, jwt_str_alg(alg), key, (int)klen) != 0) {
            fprintf(stderr, "bad alg %s\n", alg);
            return 1;
        }
        tok = jwt_encode_str(jwt);
        free(key);
    }
    if (!tok) {
        fprintf(stderr, "encode failed\n");
        return 1;
    }
    if (tamper) {
        size_t n = strlen(tok);
        tok[n - 3] = tok[n - 3] == 'A' ? 'B' : 'A';
    }
    printf("%s\n", tok);
    free(tok);
    jwt_free(jwt);
    return 0;
}
