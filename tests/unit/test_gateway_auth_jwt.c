/* JWT verification: the accepted algorithm is pinned by configuration, so the
 * classic attacks (alg none, HS256 signed with the RSA public key, another
 * algorithm, another key, a tampered signature, expired / not yet valid
 * tokens) must all be refused, and well-formed tokens accepted with their
 * sub and role. Tokens are minted with libjwt; keys are made in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "../../gateway/auth.h"
#include "../../gateway/auth_jwt.h"
#include "log.h"

#include <jwt.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1800000000L
static const char *SECRET = "a-very-secret-hmac-key-for-tests";

static char *s_rsa_priv, *s_rsa_pub, *s_ec_priv, *s_ec_pub, *s_rsa2_priv;

static char *s_pem(EVP_PKEY *k, int priv)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (priv)
        PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
    else
        PEM_write_bio_PUBKEY(b, k);
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = strndup(data, (size_t)n);
    BIO_free(b);
    return out;
}

static int s_setup(void **state)
{
    (void)state;
    af_log_set_level(AF_LOG_ERROR);
    EVP_PKEY *rsa = EVP_RSA_gen(2048), *rsa2 = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");
    s_rsa_priv = s_pem(rsa, 1);
    s_rsa_pub = s_pem(rsa, 0);
    s_rsa2_priv = s_pem(rsa2, 1);
    s_ec_priv = s_pem(ec, 1);
    s_ec_pub = s_pem(ec, 0);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(rsa2);
    EVP_PKEY_free(ec);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    free(s_rsa_priv);
    free(s_rsa_pub);
    free(s_rsa2_priv);
    free(s_ec_priv);
    free(s_ec_pub);
    return 0;
}

/* Mints a token; exp/nbf 0 = absent. role NULL = absent. */
static char *s_mint(jwt_alg_t alg, const char *key, const char *sub, const char *role, long exp,
                    long nbf)
{
    jwt_t *j = NULL;
    assert_int_equal(jwt_new(&j), 0);
    if (sub)
        jwt_add_grant(j, "sub", sub);
    if (role)
        jwt_add_grant(j, "role", role);
    if (exp)
        jwt_add_grant_int(j, "exp", exp);
    if (nbf)
        jwt_add_grant_int(j, "nbf", nbf);
    assert_int_equal(jwt_set_alg(j, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    assert_non_null(t);
    return t;
}

static int s_verify(af_jwt_verifier_t *v, const char *tok, af_principal_t *p, char *why)
{
    return af_jwt_verify(v, tok, NOW, p, why, 128);
}

static af_jwt_verifier_t *s_hs(void)
{
    return af_jwt_verifier_new("HS256", (const unsigned char *)SECRET, strlen(SECRET), 30);
}

static void test_hs256_valid_token_gives_user_and_role(void **state)
{
    (void)state;
    af_jwt_verifier_t *v = s_hs();
    af_principal_t p;
    char why[128];
    char *t = s_mint(JWT_ALG_HS256, SECRET, "alice", "admin", NOW + 60, 0);
    assert_int_equal(s_verify(v, t, &p, why), 0);
    assert_string_equal(p.user, "alice");
    assert_int_equal(p.role, AF_ROLE_ADMIN);
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, "bob", NULL, NOW + 60, 0); /* no role → user */
    assert_int_equal(s_verify(v, t, &p, why), 0);
    assert_int_equal(p.role, AF_ROLE_USER);
    free(t);
    af_jwt_verifier_destroy(&v);
    assert_null(v);
}

static void test_alg_none_is_refused(void **state)
{
    (void)state;
    af_jwt_verifier_t *v = s_hs();
    af_principal_t p;
    char why[128];
    char *t = s_mint(JWT_ALG_NONE, NULL, "alice", "admin", NOW + 60, 0);
    assert_int_equal(s_verify(v, t, &p, why), -1);
    free(t);
    /* Hand-made: {"alg":"none","typ":"JWT"}.{"sub":"alice","role":"admin","exp":9999999999}. */
    const char *forged = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0."
                         "eyJzdWIiOiJhbGljZSIsInJvbGUiOiJhZG1pbiIsImV4cCI6OTk5OTk5OTk5OX0.";
    assert_int_equal(s_verify(v, forged, &p, why), -1);
    /* Same with a junk signature appended. */
    char buf[512];
    snprintf(buf, sizeof buf, "%sAAAA", forged);
    assert_int_equal(s_verify(v, buf, &p, why), -1);
    assert_non_null(strstr(why, "none"));
    af_jwt_verifier_destroy(&v);
}

static void test_alg_swap_hs256_with_rsa_public_key_is_refused(void **state)
{
    (void)state;
    af_jwt_verifier_t *v = af_jwt_verifier_new("RS256", (const unsigned char *)s_rsa_pub,
                                                strlen(s_rsa_pub), 30);
    assert_non_null(v);
    af_principal_t p;
    char why[128];
    /* The genuine RS256 token passes... */
    char *good = s_mint(JWT_ALG_RS256, s_rsa_priv, "alice", "user", NOW + 60, 0);
    assert_int_equal(s_verify(v, good, &p, why), 0);
    free(good);
    /* ...but an HS256 token keyed with the public key (the confusion attack) does not. */
    char *evil = s_mint(JWT_ALG_HS256, s_rsa_pub, "alice", "admin", NOW + 60, 0);
    assert_int_equal(s_verify(v, evil, &p, why), -1);
    assert_non_null(strstr(why, "HS256"));
    free(evil);
    /* Another asymmetric alg is refused too. */
    char *es = s_mint(JWT_ALG_ES256, s_ec_priv, "alice", "user", NOW + 60, 0);
    assert_int_equal(s_verify(v, es, &p, why), -1);
    free(es);
    af_jwt_verifier_destroy(&v);
}

static void test_es256_valid_and_other_key_refused(void **state)
{
    (void)state;
    af_jwt_verifier_t *v =
        af_jwt_verifier_new("ES256", (const unsigned char *)s_ec_pub, strlen(s_ec_pub), 30);
    af_principal_t p;
    char why[128];
    char *good = s_mint(JWT_ALG_ES256, s_ec_priv, "carol", "user", NOW + 60, 0);
    assert_int_equal(s_verify(v, good, &p, why), 0);
    assert_string_equal(p.user, "carol");
    free(good);
    af_jwt_verifier_destroy(&v);
    /* RS256 verifier, token signed by another RSA key. */
    v = af_jwt_verifier_new("RS256", (const unsigned char *)s_rsa_pub, strlen(s_rsa_pub), 30);
    char *other = s_mint(JWT_ALG_RS256, s_rsa2_priv, "carol", "user", NOW + 60, 0);
    assert_int_equal(s_verify(v, other, &p, why), -1);
    free(other);
    af_jwt_verifier_destroy(&v);
}

static void test_other_secret_and_tampering_are_refused(void **state)
{
    (void)state;
    af_jwt_verifier_t *v = s_hs();
    af_principal_t p;
    char why[128];
    char *t = s_mint(JWT_ALG_HS256, "another-secret-another-secret!!", "alice", "user", NOW + 60, 0);
    assert_int_equal(s_verify(v, t, &p, why), -1);
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", NOW + 60, 0);
    size_t n = strlen(t);
    t[n - 2] = t[n - 2] == 'A' ? 'B' : 'A'; /* signature byte */
    assert_int_equal(s_verify(v, t, &p, why), -1);
    free(t);
    /* Payload swapped for one claiming admin, signature kept. */
    char *a = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", NOW + 60, 0);
    char *b = s_mint(JWT_ALG_HS256, SECRET, "mallory", "admin", NOW + 60, 0);
    char *a2 = strchr(a, '.') + 1, *b2 = strchr(b, '.') + 1;
    char mixed[2048];
    snprintf(mixed, sizeof mixed, "%.*s%.*s%s", (int)(a2 - a), a, (int)(strchr(b2, '.') - b2), b2,
             strchr(a2, '.'));
    assert_int_equal(s_verify(v, mixed, &p, why), -1);
    free(a);
    free(b);
    af_jwt_verifier_destroy(&v);
}

static void test_exp_and_nbf_with_leeway(void **state)
{
    (void)state;
    af_jwt_verifier_t *v = s_hs();
    af_principal_t p;
    char why[128];
    char *t = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", NOW - 10, 0); /* within 30 s leeway */
    assert_int_equal(s_verify(v, t, &p, why), 0);
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", NOW - 31, 0);
    assert_int_equal(s_verify(v, t, &p, why), -1);
    assert_string_equal(why, "token expired");
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", NOW + 600, NOW + 20);
    assert_int_equal(s_verify(v, t, &p, why), 0);
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", NOW + 600, NOW + 120);
    assert_int_equal(s_verify(v, t, &p, why), -1);
    assert_string_equal(why, "token not yet valid");
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", 0, 0); /* no exp */
    assert_int_equal(s_verify(v, t, &p, why), -1);
    free(t);
    af_jwt_verifier_destroy(&v);
}

static void test_bad_claims_and_garbage(void **state)
{
    (void)state;
    af_jwt_verifier_t *v = s_hs();
    af_principal_t p;
    char why[128];
    char *t = s_mint(JWT_ALG_HS256, SECRET, "alice", "root", NOW + 60, 0);
    assert_int_equal(s_verify(v, t, &p, why), -1);
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, NULL, "user", NOW + 60, 0);
    assert_int_equal(s_verify(v, t, &p, why), -1);
    free(t);
    t = s_mint(JWT_ALG_HS256, SECRET, "bad user!", "user", NOW + 60, 0);
    assert_int_equal(s_verify(v, t, &p, why), -1);
    free(t);
    const char *junk[] = {"", ".", "..", "a.b", "a.b.c.d", "!!!.@@@.###", "eyJ.eyJ.sig", NULL};
    for (int i = 0; junk[i]; i++)
        assert_int_equal(s_verify(v, junk[i], &p, why), -1);
    assert_null(af_jwt_verifier_new("none", (const unsigned char *)"k", 1, 0));
    assert_null(af_jwt_verifier_new("HS512", (const unsigned char *)"k", 1, 0));
    assert_null(af_jwt_verifier_new("HS256", NULL, 0, 0));
    af_jwt_verifier_destroy(&v);
}

static void test_auth_header_selection(void **state)
{
    (void)state;
    af_jwt_verifier_t *v = s_hs();
    af_principal_t p;
    char why[256], bearer[1024];
    char *t = s_mint(JWT_ALG_HS256, SECRET, "alice", "user", (long)time(NULL) + 60, 0);
    snprintf(bearer, sizeof bearer, "Bearer %s", t);
    assert_int_equal(af_auth_check(v, NULL, bearer, NULL, time(NULL), &p, why, sizeof why),
                     AF_AUTH_OK);
    assert_string_equal(p.via, "jwt");
    assert_int_equal(af_auth_check(v, NULL, NULL, NULL, time(NULL), &p, why, sizeof why),
                     AF_AUTH_MISSING);
    assert_int_equal(af_auth_check(v, NULL, "Basic abc", NULL, time(NULL), &p, why, sizeof why),
                     AF_AUTH_BAD_JWT);
    assert_int_equal(af_auth_check(v, NULL, NULL, "somekey", time(NULL), &p, why, sizeof why),
                     AF_AUTH_BAD_KEY);
    /* The reason never echoes the credential. */
    assert_null(strstr(why, "somekey"));
    free(t);
    af_jwt_verifier_destroy(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_valid_token_gives_user_and_role),
        cmocka_unit_test(test_alg_none_is_refused),
        cmocka_unit_test(test_alg_swap_hs256_with_rsa_public_key_is_refused),
        cmocka_unit_test(test_es256_valid_and_other_key_refused),
        cmocka_unit_test(test_other_secret_and_tampering_are_refused),
        cmocka_unit_test(test_exp_and_nbf_with_leeway),
        cmocka_unit_test(test_bad_claims_and_garbage),
        cmocka_unit_test(test_auth_header_selection),
    };
    return cmocka_run_group_tests_name("gateway_auth_jwt", tests, s_setup, s_teardown);
}
