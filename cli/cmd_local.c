/* fleetctl token and keys: local operations on the gateway's secret and API
 * keys files (no gateway call). Files are found by flag, then environment,
 * then $AF_VAR, then the var/ next to fleetctl's bin/ directory, then ./var. */
#include "cmd.h"
#include "keys.h"
#include "out.h"
#include "token.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Picks the file: flag, the env variables in order, then the var/ candidates;
 * the first existing var/ candidate wins (the last one when none exists). */
static const char *s_locate(const char *flag, const char *env1, const char *env2,
                            const char *name, char *buf, size_t len)
{
    if (flag && *flag)
        return flag;
    const char *e = getenv(env1);
    if (e && *e)
        return e;
    e = getenv(env2);
    if (e && *e)
        return e;
    const char *var = getenv("AF_VAR");
    if (var && *var) {
        snprintf(buf, len, "%s/%s", var, name);
        return buf;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0; /* .../bin */
            snprintf(buf, len, "%s/../var/%s", exe, name);
            if (access(buf, F_OK) == 0)
                return buf;
        }
    }
    snprintf(buf, len, "var/%s", name);
    return buf;
}

int af_cli_token(af_cli_t *cli, int argc, char **argv)
{
    const char *user = NULL, *role = "user", *ttl = "12h", *secret_file = NULL;
    const af_arg_t opts[] = {
        {"user", 'u', AF_ARG_STR, &user, NULL},
        {"role", 'r', AF_ARG_STR, &role, NULL},
        {"ttl", 0, AF_ARG_STR, &ttl, NULL},
        {"secret-file", 0, AF_ARG_STR, &secret_file, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("token", opts, argc, argv, &a, &done))
        return done;
    if (a.npos)
        return af_cli_usage_error("token", "takes no arguments besides options");
    if (!user)
        return af_cli_usage_error("token", "--user is required");
    long ttl_s = 0;
    if (af_args_duration(ttl, &ttl_s) < 0)
        return af_cli_usage_error("token", "--ttl must look like 90s, 15m, 12h or 7d (at most 400d)");
    char pathbuf[PATH_MAX + 32], err[256];
    const char *path = s_locate(secret_file, "FLEET_JWT_SECRET_FILE", "AF_GATEWAY_JWT_SECRET_FILE",
                                "jwt.secret", pathbuf, sizeof pathbuf);
    size_t len = 0;
    unsigned char *secret = af_cli_token_read_secret(path, &len, err, sizeof err);
    if (!secret) {
        fprintf(stderr, "fleetctl token: %s\n  (make run creates var/jwt.secret; or pass --secret-file)\n",
                err);
        return AF_CLI_ERR;
    }
    char *tok = af_cli_token_mint(secret, len, user, role, (int64_t)time(NULL), ttl_s, err,
                                  sizeof err);
    memset(secret, 0, len);
    free(secret);
    if (!tok)
        return af_cli_usage_error("token", err);
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "token", tok);
        cJSON_AddStringToObject(o, "user", user);
        cJSON_AddStringToObject(o, "role", role);
        cJSON_AddNumberToObject(o, "expires_at", (double)(time(NULL) + ttl_s));
        af_cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("%s\n", tok);
    }
    free(tok);
    return AF_CLI_OK;
}

static const char *s_keys_path(const char *flag, char *buf, size_t len)
{
    return s_locate(flag, "FLEET_KEYS_FILE", "AF_GATEWAY_KEYS_FILE", "api-keys", buf, len);
}

int af_cli_keys_add_cmd(af_cli_t *cli, int argc, char **argv)
{
    const char *user = NULL, *role = "user", *file = NULL;
    const af_arg_t opts[] = {
        {"user", 'u', AF_ARG_STR, &user, NULL},
        {"role", 'r', AF_ARG_STR, &role, NULL},
        {"keys-file", 0, AF_ARG_STR, &file, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("keys add", opts, argc, argv, &a, &done))
        return done;
    if (a.npos)
        return af_cli_usage_error("keys add", "takes no arguments besides options");
    if (!user)
        return af_cli_usage_error("keys add", "--user is required");
    char pathbuf[PATH_MAX + 32], err[256], key[64], hex[65];
    const char *path = s_keys_path(file, pathbuf, sizeof pathbuf);
    int rc = af_cli_keys_add(path, user, role, key, sizeof key, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "fleetctl keys add: %s\n", err);
        return rc == AF_CLI_KEYS_BAD_INPUT ? AF_CLI_USAGE : AF_CLI_ERR;
    }
    af_cli_keys_hash(key, hex);
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", key);
        hex[AF_CLI_KEY_ID_LEN] = 0;
        cJSON_AddStringToObject(o, "id", hex);
        cJSON_AddStringToObject(o, "user", user);
        cJSON_AddStringToObject(o, "role", role);
        af_cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("%s\n", key);
        fprintf(stderr, "key %.*s for %s (%s) added to %s; it is shown only now\n",
                AF_CLI_KEY_ID_LEN, hex, user, role, path);
    }
    memset(key, 0, sizeof key);
    return AF_CLI_OK;
}

int af_cli_keys_list_cmd(af_cli_t *cli, int argc, char **argv)
{
    const char *file = NULL;
    const af_arg_t opts[] = {
        {"keys-file", 0, AF_ARG_STR, &file, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("keys list", opts, argc, argv, &a, &done))
        return done;
    if (a.npos)
        return af_cli_usage_error("keys list", "takes no arguments besides options");
    char pathbuf[PATH_MAX + 32], err[256];
    const char *path = s_keys_path(file, pathbuf, sizeof pathbuf);
    af_cli_key_t *keys = NULL;
    int n = af_cli_keys_read(path, &keys, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "fleetctl keys list: %s\n", err);
        return AF_CLI_ERR;
    }
    if (cli->json) {
        cJSON *arr = cJSON_CreateArray();
        for (int i = 0; i < n; i++) {
            cJSON *o = cJSON_CreateObject();
            char id[AF_CLI_KEY_ID_LEN + 1];
            snprintf(id, sizeof id, "%.12s", keys[i].hash);
            cJSON_AddStringToObject(o, "id", id);
            cJSON_AddStringToObject(o, "sha256", keys[i].hash);
            cJSON_AddStringToObject(o, "user", keys[i].user);
            cJSON_AddStringToObject(o, "role", keys[i].role);
            cJSON_AddItemToArray(arr, o);
        }
        af_cli_print_json(arr);
        cJSON_Delete(arr);
    } else {
        printf("%-*s  %-24s  %s\n", AF_CLI_KEY_ID_LEN, "ID", "USER", "ROLE");
        for (int i = 0; i < n; i++)
            printf("%.*s  %-24s  %s\n", AF_CLI_KEY_ID_LEN, keys[i].hash, keys[i].user,
                   keys[i].role);
        printf("%d key%s in %s\n", n, n == 1 ? "" : "s", path);
    }
    free(keys);
    return AF_CLI_OK;
}

int af_cli_keys_revoke_cmd(af_cli_t *cli, int argc, char **argv)
{
    const char *user = NULL, *file = NULL;
    const af_arg_t opts[] = {
        {"user", 'u', AF_ARG_STR, &user, NULL},
        {"keys-file", 0, AF_ARG_STR, &file, NULL},
        {NULL, 0, 0, NULL, NULL},
    };
    af_args_t a;
    int done;
    if (!af_cli_cmd_args("keys revoke", opts, argc, argv, &a, &done))
        return done;
    if ((a.npos == 1) == (user != NULL) || a.npos > 1)
        return af_cli_usage_error("keys revoke", "give one key ID or --user U");
    char pathbuf[PATH_MAX + 32], err[256];
    const char *path = s_keys_path(file, pathbuf, sizeof pathbuf);
    int n = af_cli_keys_revoke(path, a.npos ? a.pos[0] : NULL, user, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "fleetctl keys revoke: %s\n", err);
        /* A malformed or ambiguous id is a bad command line, like a missing one. */
        switch (n) {
        case AF_CLI_KEYS_BAD_ID:
        case AF_CLI_KEYS_AMBIGUOUS:
            return AF_CLI_USAGE;
        case AF_CLI_KEYS_NO_MATCH:
            return AF_CLI_NOT_FOUND;
        default:
            return AF_CLI_ERR;
        }
    }
    if (cli->json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "revoked", n);
        af_cli_print_json(o);
        cJSON_Delete(o);
    } else {
        printf("revoked %d key%s in %s (the gateway stops accepting %s within a second)\n", n,
               n == 1 ? "" : "s", path, n == 1 ? "it" : "them");
    }
    return AF_CLI_OK;
}
