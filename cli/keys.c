/* API keys file editing. See keys.h. */
#include "keys.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void af_cli_keys_hash(const char *key, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + (size_t)2 * i, 3, "%02x", md[i]);
    hex[64] = 0;
}

static bool s_hex64(const char *s)
{
    if (strlen(s) != 64)
        return false;
    for (const char *p = s; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

static bool s_user_ok(const char *s)
{
    size_t n = strlen(s);
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

/* Parses one non-comment line; 0 / -1. */
static int s_parse(const char *line, af_cli_key_t *k)
{
    char hex[128], user[128], role[128], extra[8];
    if (sscanf(line, "%127s %127s %127s %7s", hex, user, role, extra) != 3)
        return -1;
    if (!s_hex64(hex) || !s_user_ok(user) || (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0))
        return -1;
    memcpy(k->hash, hex, 65);
    snprintf(k->user, sizeof k->user, "%.63s", user);
    snprintf(k->role, sizeof k->role, "%.7s", role);
    return 0;
}

static bool s_skip(const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    return *line == '#' || *line == '\n' || *line == '\r' || *line == 0;
}

int af_cli_keys_read(const char *path, af_cli_key_t **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int n = 0, cap = 0;
    size_t lineno = 0;
    af_cli_key_t *keys = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (s_skip(line))
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            af_cli_key_t *nk = realloc(keys, (size_t)cap * sizeof *nk);
            if (!nk) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            keys = nk;
        }
        if (s_parse(line, &keys[n]) < 0) {
            snprintf(err, errlen, "%s line %zu: want \"sha256hex user role\"", path, lineno);
            goto fail;
        }
        n++;
    }
    fclose(f);
    *out = keys;
    return n;
fail:
    fclose(f);
    free(keys);
    return -1;
}

int af_cli_keys_add(const char *path, const char *user, const char *role, char *key_out,
                    size_t keylen, char *err, size_t errlen)
{
    if (!s_user_ok(user)) {
        snprintf(err, errlen, "--user must be 1..63 of [A-Za-z0-9_.@-]");
        return AF_CLI_KEYS_BAD_INPUT;
    }
    if (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0) {
        snprintf(err, errlen, "--role must be user or admin");
        return AF_CLI_KEYS_BAD_INPUT;
    }
    if (keylen < 64) {
        snprintf(err, errlen, "key buffer too small");
        return -1;
    }
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        snprintf(err, errlen, "no randomness");
        return -1;
    }
    char b64[48];
    af_base64url(raw, sizeof raw, b64);
    snprintf(key_out, keylen, "afk_%s", b64);
    char hex[65], line[160];
    af_cli_keys_hash(key_out, hex);
    int len = snprintf(line, sizeof line, "%s %s %s\n", hex, user, role);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        memset(key_out, 0, keylen);
        return -1;
    }
    /* A file missing its last newline would glue our line onto another. */
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        char last = '\n';
        int rfd = open(path, O_RDONLY | O_CLOEXEC);
        if (rfd >= 0) {
            if (pread(rfd, &last, 1, st.st_size - 1) == 1 && last != '\n' &&
                write(fd, "\n", 1) != 1) {
                close(rfd);
                close(fd);
                snprintf(err, errlen, "%s: %s", path, strerror(errno));
                return -1;
            }
            close(rfd);
        }
    }
    ssize_t w = write(fd, line, (size_t)len);
    int e = errno;
    if (close(fd) < 0 || w != len) {
        snprintf(err, errlen, "%s: %s", path, strerror(w < 0 ? e : EIO));
        memset(key_out, 0, keylen);
        return -1;
    }
    return 0;
}

int af_cli_keys_revoke(const char *path, const char *id, const char *user, char *err,
                       size_t errlen)
{
    if (id) {
        size_t n = strlen(id);
        bool hex = n >= 8 && n <= 64;
        for (size_t i = 0; hex && i < n; i++)
            hex = (id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f');
        if (!hex) {
            snprintf(err, errlen, "key id must be 8..64 lowercase hex digits (see fleetctl keys list)");
            return AF_CLI_KEYS_BAD_ID;
        }
    } else if (!user) {
        snprintf(err, errlen, "give a key id or --user");
        return AF_CLI_KEYS_BAD_ID;
    }
    af_cli_key_t *keys = NULL;
    int n = af_cli_keys_read(path, &keys, err, errlen);
    if (n < 0)
        return AF_CLI_KEYS_FAILED;
    int matched = 0;
    for (int i = 0; i < n; i++)
        if (id ? !strncmp(keys[i].hash, id, strlen(id)) : !strcmp(keys[i].user, user))
            matched++;
    free(keys);
    if (matched == 0) {
        snprintf(err, errlen, "no key matches %s%s", id ? "id " : "user ", id ? id : user);
        return AF_CLI_KEYS_NO_MATCH;
    }
    if (id && matched > 1) {
        snprintf(err, errlen, "id %s matches %d keys: give more digits", id, matched);
        return AF_CLI_KEYS_AMBIGUOUS;
    }
    /* Rewrite without the matching lines, keeping comments and order. */
    FILE *in = fopen(path, "r");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!in || !out) {
        snprintf(err, errlen, "%s: %s", !in ? path : tmp, strerror(errno));
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        else if (fd >= 0)
            close(fd);
        unlink(tmp);
        return AF_CLI_KEYS_FAILED;
    }
    char line[1024];
    int removed = 0;
    while (fgets(line, sizeof line, in)) {
        af_cli_key_t k;
        if (!s_skip(line) && s_parse(line, &k) == 0 &&
            (id ? !strncmp(k.hash, id, strlen(id)) : !strcmp(k.user, user))) {
            removed++;
            continue;
        }
        fputs(line, out);
    }
    fclose(in);
    bool bad = fflush(out) != 0 || fsync(fileno(out)) != 0;
    if (fclose(out) != 0)
        bad = true;
    if (bad || rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot rewrite %s: %s", path, strerror(errno));
        unlink(tmp);
        return AF_CLI_KEYS_FAILED;
    }
    return removed;
}
