/* TLS listener support. See tls.h. */
#include "tls.h"

#include "log.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

struct af_tls_t {
    SSL_CTX *ctx;
};

static const char *s_ossl_err(void)
{
    static char buf[256];
    unsigned long e = ERR_get_error();
    if (!e)
        return "unknown";
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

af_tls_t *af_tls_new(const char *cert_file, const char *key_file)
{
    if (!cert_file || !*cert_file || !key_file || !*key_file) {
        af_error("event=tls_missing_files need=--tls-cert,--tls-key");
        return NULL;
    }
    af_tls_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ctx = SSL_CTX_new(TLS_server_method());
    if (!self->ctx)
        goto fail;
    SSL_CTX_set_min_proto_version(self->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(self->ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                       SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (SSL_CTX_use_certificate_chain_file(self->ctx, cert_file) != 1) {
        af_error("event=tls_cert_failed file=%s reason=\"%s\"", cert_file, s_ossl_err());
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(self->ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        af_error("event=tls_key_failed file=%s reason=\"%s\"", key_file, s_ossl_err());
        goto fail;
    }
    if (SSL_CTX_check_private_key(self->ctx) != 1) {
        af_error("event=tls_key_mismatch cert=%s key=%s", cert_file, key_file);
        goto fail;
    }
    return self;
fail:
    af_tls_destroy(&self);
    return NULL;
}

void af_tls_destroy(af_tls_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    if ((*self_p)->ctx)
        SSL_CTX_free((*self_p)->ctx);
    free(*self_p);
    *self_p = NULL;
}

static struct bufferevent *s_bevcb(struct event_base *base, void *arg)
{
    af_tls_t *self = arg;
    SSL *ssl = SSL_new(self->ctx);
    if (!ssl)
        return NULL;
    return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                          BEV_OPT_CLOSE_ON_FREE);
}

void af_tls_attach(af_tls_t *self, struct evhttp *http) { evhttp_set_bevcb(http, s_bevcb, self); }

int af_tls_make_self_signed(const char *cert_file, const char *key_file)
{
    int rc = -1;
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f = NULL;
    if (!pkey || !x)
        goto done;
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 365L * 24 * 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(x, name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
                                              "DNS:localhost,IP:127.0.0.1");
    if (ext) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(x, pkey, EVP_sha256()))
        goto done;
    mode_t old = umask(077);
    f = fopen(key_file, "w");
    umask(old);
    if (!f || !PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL))
        goto done;
    fclose(f);
    f = fopen(cert_file, "w");
    if (!f || !PEM_write_X509(f, x))
        goto done;
    rc = 0;
done:
    if (f)
        fclose(f);
    if (rc < 0)
        af_error("event=tls_self_signed_failed cert=%s key=%s", cert_file, key_file);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}
