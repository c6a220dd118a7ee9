/* API key table. See auth_keys.h. */
#include "auth_keys.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    unsigned char hash[32];
    char user[AF_USER_MAX];
    af_role_t role;
} s_entry_t;

struct af_keys_t {
    s_entry_t *entries;
    size_t count;
    char *path;
    struct timespec mtime;
    off_t size;
    uint64_t checked_ns;
};

af_keys_t *af_keys_new(void) { return calloc(1, sizeof(af_keys_t)); }

void af_keys_destroy(af_keys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free((*self_p)->entries);
    free((*self_p)->path);
    free(*self_p);
    *self_p = NULL;
}

static int s_hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int s_cmp(const void *a, const void *b)
{
    return memcmp(((const s_entry_t *)a)->hash, ((const s_entry_t *)b)->hash, 32);
}

int af_keys_parse(af_keys_t *self, const char *text, size_t len, char *err, size_t errlen)
{
    s_entry_t *list = NULL;
    size_t n = 0, cap = 0, lineno = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        lineno++;
        char line[512];
        size_t ll = (size_t)(eol - p);
        if (ll >= sizeof line) {
            snprintf(err, errlen, "line %zu: too long", lineno);
            goto fail;
        }
        memcpy(line, p, ll);
        line[ll] = 0;
        p = eol + 1;
        if (memchr(line, 0, ll)) {
            snprintf(err, errlen, "line %zu: NUL byte", lineno);
            goto fail;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        if (!*s || *s == '#')
            continue;
        char hex[128], user[128], role[128], extra[8];
        int k = sscanf(s, "%127s %127s %127s %7s", hex, user, role, extra);
        if (k != 3) {
            snprintf(err, errlen, "line %zu: want \"sha256hex user role\"", lineno);
            goto fail;
        }
        s_entry_t e;
        memset(&e, 0, sizeof e);
        if (strlen(hex) != 64) {
            snprintf(err, errlen, "line %zu: hash must be 64 hex chars", lineno);
            goto fail;
        }
        for (size_t i = 0; i < 32; i++) {
            int hi = s_hexval(hex[2 * i]), lo = s_hexval(hex[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                snprintf(err, errlen, "line %zu: hash must be 64 hex chars", lineno);
                goto fail;
            }
            e.hash[i] = (unsigned char)(hi << 4 | lo);
        }
        if (!af_user_valid(user)) {
            snprintf(err, errlen, "line %zu: bad user name", lineno);
            goto fail;
        }
        memcpy(e.user, user, strlen(user) + 1); /* af_user_valid bounds it */
        if (af_role_parse(role, &e.role) < 0) {
            snprintf(err, errlen, "line %zu: role must be user or admin", lineno);
            goto fail;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            s_entry_t *nl = realloc(list, cap * sizeof *nl);
            if (!nl) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            list = nl;
        }
        list[n++] = e;
    }
    if (n > 1)
        qsort(list, n, sizeof *list, s_cmp);
    free(self->entries);
    self->entries = list;
    self->count = n;
    return (int)n;
fail:
    free(list);
    return -1;
}

static int s_read_file(const char *path, char **out, size_t *len, struct stat *st)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    if (fstat(fileno(f), st) < 0 || st->st_size > 64L * 1024 * 1024) {
        fclose(f);
        return -1;
    }
    char *buf = malloc((size_t)st->st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st->st_size, f) : 0;
    fclose(f);
    if (!buf)
        return -1;
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

int af_keys_load(af_keys_t *self, const char *path, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (s_read_file(path, &text, &len, &st) < 0) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    int n = af_keys_parse(self, text, len, err, errlen);
    free(text);
    if (n < 0)
        return -1;
    if (self->path != path) {
        free(self->path);
        self->path = strdup(path);
    }
    self->mtime = st.st_mtim;
    self->size = st.st_size;
    self->checked_ns = af_now_ns();
    return n;
}

void af_keys_refresh(af_keys_t *self)
{
    if (!self->path)
        return;
    uint64_t now = af_now_ns();
    if (now - self->checked_ns < 1000000000ull)
        return;
    self->checked_ns = now;
    struct stat st;
    if (stat(self->path, &st) < 0)
        return;
    if (st.st_mtim.tv_sec == self->mtime.tv_sec && st.st_mtim.tv_nsec == self->mtime.tv_nsec &&
        st.st_size == self->size)
        return;
    char err[256];
    int n = af_keys_load(self, self->path, err, sizeof err);
    if (n < 0)
        af_warn("event=keys_reload_failed path=%s reason=\"%s\" kept=%zu", self->path, err,
                self->count);
    else
        af_info("event=keys_reloaded path=%s keys=%d", self->path, n);
}

/* Every keyed request hashes its key. OpenSSL 3 looks EVP_sha256() up in its
 * provider store on each use (locks and a property query, more than the hash
 * of a short key): the fetched implementation and one context are kept for
 * the process (the daemons are single-threaded). */
static void s_sha256(const char *key, unsigned char out[32])
{
    static EVP_MD *md;
    static EVP_MD_CTX *ctx;
    if (!md)
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!ctx)
        ctx = EVP_MD_CTX_new();
    unsigned int n = 32;
    if (!md || !ctx || !EVP_DigestInit_ex2(ctx, md, NULL) ||
        !EVP_DigestUpdate(ctx, key, strlen(key)) || !EVP_DigestFinal_ex(ctx, out, &n))
        EVP_Digest(key, strlen(key), out, &n, EVP_sha256(), NULL);
}

void af_keys_hash(const char *key, char hex[65])
{
    unsigned char h[32];
    s_sha256(key, h);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

int af_keys_lookup(const af_keys_t *self, const char *key, af_principal_t *out)
{
    if (!key || !*key || strlen(key) > AF_KEY_MAX_LEN || self->count == 0)
        return -1;
    s_entry_t probe;
    memset(&probe, 0, sizeof probe);
    s_sha256(key, probe.hash);
    const s_entry_t *e = bsearch(&probe, self->entries, self->count, sizeof probe, s_cmp);
    if (!e)
        return -1;
    memset(out, 0, sizeof *out);
    snprintf(out->user, sizeof out->user, "%s", e->user);
    out->role = e->role;
    out->via = "key";
    return 0;
}

size_t af_keys_count(const af_keys_t *self) { return self->count; }

int af_keys_add(const char *path, const char *user, const char *role, char *key_out,
                size_t keylen, char *err, size_t errlen)
{
    af_role_t r;
    if (!af_user_valid(user)) {
        snprintf(err, errlen, "bad user name (1..63 of [A-Za-z0-9_.@-])");
        return -1;
    }
    if (af_role_parse(role, &r) < 0) {
        snprintf(err, errlen, "role must be user or admin");
        return -1;
    }
    unsigned char raw[32];
    if (keylen < 4 + 45 || RAND_bytes(raw, sizeof raw) != 1) {
        snprintf(err, errlen, "cannot make a key");
        return -1;
    }
    memcpy(key_out, "afk_", 5); /* with its NUL; the id follows at 4 */
    af_base64url(raw, sizeof raw, key_out + 4);
    char hex[65];
    af_keys_hash(key_out, hex);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    int n = snprintf(line, sizeof line, "%s %s %s\n", hex, user, role);
    ssize_t w = write(fd, line, (size_t)n);
    close(fd);
    if (w != n) {
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
    }
    return 0;
}
