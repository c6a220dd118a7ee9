/* Word-based token model. See words.h. */
#include "words.h"

static int s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

size_t fa_words_count(const char *s, size_t len)
{
    size_t n = 0;
    int in_word = 0;
    for (size_t i = 0; i < len; i++) {
        if (s_space(s[i]))
            in_word = 0;
        else if (!in_word) {
            in_word = 1;
            n++;
        }
    }
    return n;
}

int fa_words_next(const char *s, size_t len, size_t *pos, size_t *start, size_t *end)
{
    size_t i = *pos;
    *start = i;
    while (i < len && s_space(s[i]))
        i++;
    if (i >= len)
        return 0;
    while (i < len && !s_space(s[i]))
        i++;
    *end = i;
    *pos = i;
    return 1;
}
