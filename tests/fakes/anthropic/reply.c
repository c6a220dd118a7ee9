/* Deterministic reply builder. See reply.h. */
#include "reply.h"

#include "words.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fa_reply_t {
    char *text;
    size_t len;
    size_t nwords;
    size_t *ends; /* ends[i]: offset just past word i */
    int truncated;
};

fa_reply_t *fa_reply_new(const char *user_text, long filler_words, long max_tokens)
{
    static const char prefix[] = "You said: ";
    size_t ulen = strlen(user_text);
    size_t nfill = filler_words > 0 ? (size_t)filler_words : 0;
    /* " w" + up to 20 digits per filler word. */
    size_t cap = sizeof prefix + ulen + nfill * 22 + 1;
    fa_reply_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->text = malloc(cap);
    if (!self->text)
        goto fail;
    size_t n = (size_t)snprintf(self->text, cap, "%s%s", prefix, user_text);
    for (size_t i = 0; i < nfill; i++)
        n += (size_t)snprintf(self->text + n, cap - n, " w%zu", i);
    self->len = n;

    size_t total = fa_words_count(self->text, n);
    self->ends = malloc((total ? total : 1) * sizeof *self->ends);
    if (!self->ends)
        goto fail;
    size_t pos = 0, start, end;
    while (self->nwords < total && fa_words_next(self->text, n, &pos, &start, &end))
        self->ends[self->nwords++] = end;
    if (max_tokens >= 0 && self->nwords > (size_t)max_tokens) {
        self->nwords = (size_t)max_tokens;
        self->len = self->nwords ? self->ends[self->nwords - 1] : 0;
        self->text[self->len] = '\0';
        self->truncated = 1;
    }
    return self;
fail:
    fa_reply_destroy(&self);
    return NULL;
}

void fa_reply_destroy(fa_reply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    fa_reply_t *self = *self_p;
    free(self->text);
    free(self->ends);
    free(self);
    *self_p = NULL;
}

const char *fa_reply_text(const fa_reply_t *self)
{
    return self->text;
}

size_t fa_reply_len(const fa_reply_t *self)
{
    return self->len;
}

size_t fa_reply_words(const fa_reply_t *self)
{
    return self->nwords;
}

const char *fa_reply_stop_reason(const fa_reply_t *self)
{
    return self->truncated ? "max_tokens" : "end_turn";
}

void fa_reply_segment(const fa_reply_t *self, size_t i, const char **start, size_t *len)
{
    size_t from = i == 0 ? 0 : self->ends[i - 1];
    size_t to = i + 1 == self->nwords ? self->len : self->ends[i];
    *start = self->text + from;
    *len = to - from;
}
