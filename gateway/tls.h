/* TLS for the HTTPS listener: an OpenSSL server context (TLS 1.2 and later
 * only) from PEM cert and key files, and the evhttp hook that wraps each
 * accepted connection in a bufferevent_openssl. Also makes a self-signed pair
 * for local runs. */
#ifndef AF_GW_TLS_H
#define AF_GW_TLS_H

#include <event2/http.h>

typedef struct af_tls_t af_tls_t;

/* Returns NULL (and logs the OpenSSL reason) if the files do not load or do
 * not match. */
af_tls_t *af_tls_new(const char *cert_file, const char *key_file);
void af_tls_destroy(af_tls_t **self_p);

/* Makes every connection accepted by http a TLS one. */
void af_tls_attach(af_tls_t *self, struct evhttp *http);

/* Writes a new self-signed P-256 certificate for CN=localhost (valid 365
 * days, SAN localhost and 127.0.0.1) and its key (mode 0600). 0 / -1. */
int af_tls_make_self_signed(const char *cert_file, const char *key_file);

#endif
