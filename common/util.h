/* Small shared helpers: monotonic and wall clocks, random URL-safe ids, growing
 * buffers. */
#ifndef AF_UTIL_H
#define AF_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t af_now_ns(void);
/* Wall clock, milliseconds since the epoch. */
uint64_t af_wall_ms(void);

/* Writes prefix + 22 URL-safe base64 characters (128 random bits from OpenSSL
 * RAND_bytes) into buf. Returns 0, or -1 when buf is too small or the RNG fails. */
int af_id_new(char *buf, size_t len, const char *prefix);

/* URL-safe base64 without padding of n bytes into out (needs 4*ceil(n/3)+1). */
void af_base64url(const uint8_t *in, size_t n, char *out);

/* True when s is 1..max bytes of [A-Za-z0-9_-] (safe in URLs, logs and keys). */
int af_id_valid(const char *s, size_t max);

/* Growing byte buffers: returns buf (malloc'd, *cap bytes, may be NULL with
 * *cap 0) grown by doubling, from first bytes when empty, to hold at least
 * need bytes, and updates *cap; or NULL when realloc fails (buf and *cap are
 * then untouched, still the caller's to free). need must be > 0. */
void *af_grow(void *buf, size_t *cap, size_t need, size_t first);

#endif
