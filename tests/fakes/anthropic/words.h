/* The fake's token model: a "token" is a word, i.e. a maximal run of bytes that
 * are not ASCII whitespace (space, tab, CR, LF, VT, FF). Deterministic so tests
 * can predict usage figures exactly; it does not try to resemble real BPE. */
#ifndef FA_WORDS_H
#define FA_WORDS_H

#include <stddef.h>

/* Number of words in s[0..len). */
size_t fa_words_count(const char *s, size_t len);

/* Finds the segment starting at *pos: the whitespace before a word plus the word.
 * Sets *start and *end (end exclusive) and advances *pos to end. Returns 1 when a
 * segment was found, 0 when only whitespace (or nothing) is left. */
int fa_words_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *end);

#endif
