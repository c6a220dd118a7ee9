/* Trace CSV parser and interpolation. See trace.h. Outside input: every field
 * is checked, lines are bounded by the buffer, nothing is assumed terminated. */
#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct af_trace_t {
    double *t, *s, *r;
    size_t n, cap;
    int cols;
    double peak;
    size_t cursor; /* last interpolation segment: lookups walk forward in time */
};

void af_trace_destroy(af_trace_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_trace_t *self = *self_p;
    free(self->t);
    free(self->s);
    free(self->r);
    free(self);
    *self_p = NULL;
}

static int s_push(af_trace_t *self, double t, double s, double r)
{
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 256;
        double *nt = realloc(self->t, cap * sizeof *nt);
        if (!nt)
            return -1;
        self->t = nt;
        double *ns = realloc(self->s, cap * sizeof *ns);
        if (!ns)
            return -1;
        self->s = ns;
        double *nr = realloc(self->r, cap * sizeof *nr);
        if (!nr)
            return -1;
        self->r = nr;
        self->cap = cap;
    }
    self->t[self->n] = t;
    self->s[self->n] = s;
    self->r[self->n] = r;
    self->n++;
    if (s > self->peak)
        self->peak = s;
    return 0;
}

/* Splits a line copy on commas into at most 4 fields (trimmed). */
static int s_fields(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (n == max)
            return max + 1;
        f[n++] = p;
        char *c = strchr(p, ',');
        char *e = c ? c : p + strlen(p);
        while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
            e--;
        if (!c) {
            *e = '\0';
            return n;
        }
        *e = '\0';
        p = c + 1;
    }
}

static int s_num(const char *s, double *out)
{
    if (!*s)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

af_trace_t *af_trace_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    af_trace_t *self = calloc(1, sizeof *self);
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char line[256] = {0};
    size_t pos = 0;
    int lineno = 0;
    while (pos < len) {
        size_t start = pos;
        while (pos < len && buf[pos] != '\n')
            pos++;
        size_t ll = pos - start;
        pos++; /* skip '\n' (or step past the end) */
        lineno++;
        if (ll >= sizeof line) {
            snprintf(err, errlen, "line %d: longer than %zu bytes", lineno, sizeof line - 1);
            goto fail;
        }
        memcpy(line, buf + start, ll);
        line[ll] = '\0';
        if (memchr(line, '\0', ll)) {
            snprintf(err, errlen, "line %d: NUL byte", lineno);
            goto fail;
        }
        char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s || *s == '#')
            continue;
        char *f[4];
        int nf = s_fields(s, f, 3);
        if (nf < 2 || nf > 3) {
            snprintf(err, errlen, "line %d: want seconds,sessions[,requests_per_second]", lineno);
            goto fail;
        }
        double t, ses, rps = 0;
        if (s_num(f[0], &t) < 0) {
            if (self->n == 0 && self->cols == 0 && isalpha((unsigned char)*f[0])) {
                self->cols = -nf; /* header seen: remember its width */
                continue;
            }
            snprintf(err, errlen, "line %d: seconds '%.32s' is not a number", lineno, f[0]);
            goto fail;
        }
        if (s_num(f[1], &ses) < 0 || ses < 0) {
            snprintf(err, errlen, "line %d: sessions '%.32s' is not a number >= 0", lineno, f[1]);
            goto fail;
        }
        if (nf == 3 && (s_num(f[2], &rps) < 0 || rps < 0)) {
            snprintf(err, errlen, "line %d: requests_per_second '%.32s' is not a number >= 0",
                     lineno, f[2]);
            goto fail;
        }
        if (self->cols < 0 && -self->cols != nf) {
            snprintf(err, errlen, "line %d: %d columns, header has %d", lineno, nf, -self->cols);
            goto fail;
        }
        if (self->n > 0 && self->cols != nf) {
            snprintf(err, errlen, "line %d: %d columns, earlier rows have %d", lineno, nf,
                     self->cols);
            goto fail;
        }
        self->cols = nf;
        if (self->n > 0 && !(t > self->t[self->n - 1])) {
            snprintf(err, errlen, "line %d: seconds must increase", lineno);
            goto fail;
        }
        if (self->n > 0 && t - self->t[0] > AF_TRACE_MAX_SECONDS) {
            snprintf(err, errlen, "line %d: trace longer than %.0f s", lineno,
                     AF_TRACE_MAX_SECONDS);
            goto fail;
        }
        if (self->n >= AF_TRACE_MAX_ROWS) {
            snprintf(err, errlen, "line %d: more than %d rows", lineno, AF_TRACE_MAX_ROWS);
            goto fail;
        }
        if (s_push(self, t, ses, rps) < 0) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
    }
    if (self->n < 2) {
        snprintf(err, errlen, "need at least two rows");
        goto fail;
    }
    return self;
fail:
    af_trace_destroy(&self);
    return NULL;
}

af_trace_t *af_trace_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            if (cap >= ((size_t)256 << 20)) {
                snprintf(err, errlen, "%s: larger than 256 MiB", path);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char inner[200];
    af_trace_t *t = af_trace_parse(buf, len, inner, sizeof inner);
    free(buf);
    if (!t)
        snprintf(err, errlen, "%s: %s", path, inner);
    return t;
}

size_t af_trace_rows(const af_trace_t *self) { return self->n; }
double af_trace_start(const af_trace_t *self) { return self->t[0]; }
double af_trace_end(const af_trace_t *self) { return self->t[self->n - 1]; }
bool af_trace_has_rps(const af_trace_t *self) { return self->cols == 3; }
double af_trace_peak(const af_trace_t *self) { return self->peak; }

void af_trace_at(const af_trace_t *cself, double t, double *sessions, double *rps)
{
    /* The cursor is a lookup cache, not observable state. */
    af_trace_t *self = (af_trace_t *)cself;
    size_t n = self->n;
    if (t <= self->t[0]) {
        *sessions = self->s[0];
        *rps = self->r[0];
        return;
    }
    if (t >= self->t[n - 1]) {
        *sessions = self->s[n - 1];
        *rps = self->r[n - 1];
        return;
    }
    size_t i = self->cursor < n - 1 ? self->cursor : 0;
    if (self->t[i] > t)
        i = 0;
    while (i + 1 < n && self->t[i + 1] < t)
        i++;
    self->cursor = i;
    double a = (t - self->t[i]) / (self->t[i + 1] - self->t[i]);
    *sessions = self->s[i] + a * (self->s[i + 1] - self->s[i]);
    *rps = self->r[i] + a * (self->r[i + 1] - self->r[i]);
}
