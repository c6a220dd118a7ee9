/* Tables. See table.h. */
#include "table.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_cli_table_t {
    int ncols;
    char **cells; /* rows * ncols, row 0 is the header */
    size_t nrows, cap;
};

static int s_add(af_cli_table_t *self, const char *const *cells)
{
    if (self->nrows == self->cap) {
        size_t ncap = self->cap ? self->cap * 2 : 8;
        char **nc = realloc(self->cells, ncap * (size_t)self->ncols * sizeof *nc);
        if (!nc)
            return -1;
        self->cells = nc;
        self->cap = ncap;
    }
    char **row = self->cells + self->nrows * (size_t)self->ncols;
    for (int i = 0; i < self->ncols; i++) {
        const char *s = cells[i];
        row[i] = strdup(s ? s : "-");
        if (!row[i]) {
            while (i-- > 0)
                free(row[i]);
            return -1;
        }
    }
    self->nrows++;
    return 0;
}

af_cli_table_t *af_cli_table_new(int ncols, const char *const *titles)
{
    if (ncols < 1 || !titles)
        return NULL;
    af_cli_table_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ncols = ncols;
    if (s_add(self, titles) < 0)
        af_cli_table_destroy(&self);
    return self;
}

void af_cli_table_destroy(af_cli_table_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_cli_table_t *self = *self_p;
    for (size_t i = 0; i < self->nrows * (size_t)self->ncols; i++)
        free(self->cells[i]);
    free(self->cells);
    free(self);
    *self_p = NULL;
}

int af_cli_table_row(af_cli_table_t *self, const char *const *cells)
{
    return s_add(self, cells);
}

size_t af_cli_table_rows(const af_cli_table_t *self) { return self->nrows - 1; }

char *af_cli_table_render(const af_cli_table_t *self)
{
    size_t *w = calloc((size_t)self->ncols, sizeof *w);
    if (!w)
        return NULL;
    size_t total = 1;
    for (size_t r = 0; r < self->nrows; r++)
        for (int c = 0; c < self->ncols; c++) {
            size_t l = strlen(self->cells[r * (size_t)self->ncols + (size_t)c]);
            if (l > w[c])
                w[c] = l;
            total += l + 2;
        }
    for (int c = 0; c < self->ncols; c++)
        total += (w[c] + 2) * self->nrows;
    total += self->nrows;
    char *out = malloc(total);
    if (!out) {
        free(w);
        return NULL;
    }
    size_t o = 0;
    for (size_t r = 0; r < self->nrows; r++) {
        for (int c = 0; c < self->ncols; c++) {
            const char *s = self->cells[r * (size_t)self->ncols + (size_t)c];
            bool last = c == self->ncols - 1;
            int n = last ? snprintf(out + o, total - o, "%s", s)
                         : snprintf(out + o, total - o, "%-*s  ", (int)w[c], s);
            o += (size_t)n;
        }
        out[o++] = '\n';
        out[o] = 0;
    }
    free(w);
    return out;
}
