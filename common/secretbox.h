/* Secrets at rest: AES-256-GCM (OpenSSL EVP) under a 32-byte master key file. A sealed
 * secret is one text line "afsb1:" + base64(nonce[12] | ciphertext | tag[16]); the
 * tag covers a fixed label, so a sealed value cannot be swapped for another format's. */
#ifndef AF_SECRETBOX_H
#define AF_SECRETBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define AF_SECRETBOX_KEY_LEN 32
#define AF_SECRETBOX_PREFIX "afsb1:"

/* Reads a master key file: 64 hex digits (`openssl rand -hex 32`) or 32 raw bytes.
 * Refuses a file readable or writable by group or others. Returns 0 / -1 (logged). */
int af_secretbox_load_key(const char *path, uint8_t key[AF_SECRETBOX_KEY_LEN]);

bool af_secretbox_is_sealed(const char *text);

/* Returns a new sealed line (caller frees) or NULL. A fresh random nonce each call. */
char *af_secretbox_seal(const uint8_t key[AF_SECRETBOX_KEY_LEN], const char *plain);

/* Returns the new plaintext (caller frees; cleanse before freeing) or NULL (logged)
 * when the text is not sealed, is damaged or was sealed under another key. */
char *af_secretbox_open(const uint8_t key[AF_SECRETBOX_KEY_LEN], const char *sealed);

/* For a value read from a config file: when *text_p is sealed, opens it with the key
 * in master_key_file and replaces *text_p (the sealed copy is cleansed and freed); the
 * plaintext is registered with the log scrubber. A plain value is left as it is.
 * Returns 0, or -1 (logged; *text_p untouched) when sealed but cannot be opened. */
int af_secretbox_unseal_inplace(char **text_p, const char *master_key_file);

/* The sealing tool: reads one line from in, writes its sealed form and a newline to
 * out. Returns 0 / -1 (message on stderr). */
int af_secretbox_seal_stream(FILE *in, FILE *out, const char *master_key_file);

#endif
