/* AES-256-GCM secrets at rest. See secretbox.h. */
#include "secretbox.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NONCE 12
#define S_TAG 16
#define S_MAX_PLAIN 4096
#define S_AAD "agentfleet-secretbox-v1"

static int s_hex(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int af_secretbox_load_key(const char *path, uint8_t key[AF_SECRETBOX_KEY_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        af_error("event=master_key_unreadable file=%s error=\"%s\"", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (st.st_mode & 077) {
        af_error("event=master_key_unsafe file=%s mode=%03o hint=\"chmod 600\"", path,
                 (unsigned)(st.st_mode & 0777));
        close(fd);
        return -1;
    }
    uint8_t buf[80];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    int rc = -1;
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    if (n == (ssize_t)2 * AF_SECRETBOX_KEY_LEN) {
        rc = 0;
        for (int i = 0; i < AF_SECRETBOX_KEY_LEN; i++) {
            int hi = s_hex(buf[(size_t)2 * i]), lo = s_hex(buf[(size_t)2 * i + 1]);
            if (hi < 0 || lo < 0) {
                rc = -1;
                break;
            }
            key[i] = (uint8_t)(hi << 4 | lo);
        }
    } else if (n == AF_SECRETBOX_KEY_LEN) {
        memcpy(key, buf, AF_SECRETBOX_KEY_LEN);
        rc = 0;
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc < 0)
        af_error("event=master_key_bad file=%s want=\"64 hex digits or 32 bytes\"", path);
    return rc;
}

bool af_secretbox_is_sealed(const char *text)
{
    return text && !strncmp(text, AF_SECRETBOX_PREFIX, strlen(AF_SECRETBOX_PREFIX));
}

/* One GCM pass; enc 1 seals (tag written), 0 opens (tag checked). Returns the output
 * length or -1. */
static int s_gcm(int enc, const uint8_t *key, const uint8_t *nonce, const uint8_t *in, int inlen,
                 uint8_t *out, uint8_t *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0, total = -1, fin = 0;
    if (!ctx)
        return -1;
    if (EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, S_NONCE, NULL) != 1 ||
        EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, enc) != 1 ||
        EVP_CipherUpdate(ctx, NULL, &len, (const uint8_t *)S_AAD, (int)strlen(S_AAD)) != 1 ||
        EVP_CipherUpdate(ctx, out, &len, in, inlen) != 1)
        goto done;
    if (!enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, S_TAG, tag) != 1)
        goto done;
    if (EVP_CipherFinal_ex(ctx, out + len, &fin) != 1)
        goto done; /* open: authentication failed */
    if (enc && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, S_TAG, tag) != 1)
        goto done;
    total = len + fin;
done:
    EVP_CIPHER_CTX_free(ctx);
    return total;
}

char *af_secretbox_seal(const uint8_t key[AF_SECRETBOX_KEY_LEN], const char *plain)
{
    size_t plen = strlen(plain);
    if (plen > S_MAX_PLAIN)
        return NULL;
    size_t rawlen = S_NONCE + plen + S_TAG;
    uint8_t *raw = malloc(rawlen);
    char *out = malloc(strlen(AF_SECRETBOX_PREFIX) + 4 * ((rawlen + 2) / 3) + 1);
    if (!raw || !out || RAND_bytes(raw, S_NONCE) != 1 ||
        s_gcm(1, key, raw, (const uint8_t *)plain, (int)plen, raw + S_NONCE,
              raw + S_NONCE + plen) != (int)plen) {
        free(raw);
        free(out);
        return NULL;
    }
    strcpy(out, AF_SECRETBOX_PREFIX);
    EVP_EncodeBlock((unsigned char *)out + strlen(AF_SECRETBOX_PREFIX), raw, (int)rawlen);
    free(raw);
    return out;
}

char *af_secretbox_open(const uint8_t key[AF_SECRETBOX_KEY_LEN], const char *sealed)
{
    if (!af_secretbox_is_sealed(sealed))
        return NULL;
    const char *b64 = sealed + strlen(AF_SECRETBOX_PREFIX);
    size_t blen = strlen(b64);
    if (blen % 4 || blen > (size_t)2 * S_MAX_PLAIN) {
        af_error("event=secret_open_failed reason=malformed");
        return NULL;
    }
    uint8_t *raw = malloc(blen / 4 * 3 + 1);
    if (!raw)
        return NULL;
    int n = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)blen);
    /* EVP_DecodeBlock counts base64 padding as zero bytes: take them off. */
    if (n > 0 && blen >= 1 && b64[blen - 1] == '=')
        n--;
    if (n > 0 && blen >= 2 && b64[blen - 2] == '=')
        n--;
    char *plain = NULL;
    if (n < S_NONCE + S_TAG) {
        af_error("event=secret_open_failed reason=malformed");
        goto done;
    }
    int clen = n - S_NONCE - S_TAG;
    plain = malloc((size_t)clen + 1);
    if (!plain)
        goto done;
    if (s_gcm(0, key, raw, raw + S_NONCE, clen, (uint8_t *)plain, raw + S_NONCE + clen) != clen) {
        af_error("event=secret_open_failed reason=\"authentication failed (wrong master key or damaged)\"");
        OPENSSL_cleanse(plain, (size_t)clen + 1);
        free(plain);
        plain = NULL;
        goto done;
    }
    plain[clen] = '\0';
    if (strlen(plain) != (size_t)clen) { /* an embedded NUL cannot be a key */
        OPENSSL_cleanse(plain, (size_t)clen);
        free(plain);
        plain = NULL;
    }
done:
    OPENSSL_cleanse(raw, blen / 4 * 3 + 1);
    free(raw);
    return plain;
}

int af_secretbox_unseal_inplace(char **text_p, const char *master_key_file)
{
    if (!text_p || !af_secretbox_is_sealed(*text_p))
        return 0;
    if (!master_key_file || !*master_key_file) {
        af_error("event=secret_sealed_no_master_key hint=\"set --master-key-file\"");
        return -1;
    }
    uint8_t key[AF_SECRETBOX_KEY_LEN];
    if (af_secretbox_load_key(master_key_file, key) < 0)
        return -1;
    char *plain = af_secretbox_open(key, *text_p);
    OPENSSL_cleanse(key, sizeof key);
    if (!plain)
        return -1;
    af_log_add_secret(plain);
    OPENSSL_cleanse(*text_p, strlen(*text_p));
    free(*text_p);
    *text_p = plain;
    return 0;
}

int af_secretbox_seal_stream(FILE *in, FILE *out, const char *master_key_file)
{
    uint8_t key[AF_SECRETBOX_KEY_LEN];
    if (!master_key_file || !*master_key_file) {
        fprintf(stderr, "error: --master-key-file is required to seal a secret\n");
        return -1;
    }
    if (af_secretbox_load_key(master_key_file, key) < 0) {
        fprintf(stderr, "error: cannot use master key file %s (see log)\n", master_key_file);
        return -1;
    }
    char line[S_MAX_PLAIN + 2] = "";
    char *ok = fgets(line, sizeof line, in);
    size_t n = ok ? strlen(line) : 0;
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    char *sealed = n ? af_secretbox_seal(key, line) : NULL;
    OPENSSL_cleanse(line, sizeof line);
    OPENSSL_cleanse(key, sizeof key);
    if (!sealed) {
        fprintf(stderr, "error: %s\n", n ? "sealing failed" : "nothing to seal on stdin");
        return -1;
    }
    fprintf(out, "%s\n", sealed);
    free(sealed);
    return 0;
}
