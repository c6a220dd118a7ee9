/* Metrics registry and Prometheus text rendering. See metrics.h. */
#include "metrics.h"

#include "log.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AF_METRIC_MAX_LABELS 8

typedef struct af_series_t {
    char **values;      /* nlabels label values */
    uint64_t hash;
    double value;       /* counter/gauge; histogram: sum */
    uint64_t count;     /* histogram */
    uint64_t *buckets;  /* histogram: nbounds cumulative-at-render counts */
    struct af_series_t *next_hash;
    struct af_series_t *next_order, *prev_order;
} af_series_t;

struct af_metric_t {
    char *name, *help;
    af_metric_type_t type;
    char *labels[AF_METRIC_MAX_LABELS];
    size_t nlabels;
    double *bounds;
    size_t nbounds;
    af_metric_fn *fn;
    void *fn_arg;
    af_series_t **table;
    size_t table_size, nseries;
    af_series_t *first, *last;
    af_metric_t *next;
};

struct af_metrics_t {
    af_metric_t *first, *last;
};

static const double s_default_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,    2.5,   5,    10};

af_metrics_t *af_metrics_new(void) { return calloc(1, sizeof(af_metrics_t)); }

static void s_series_free(af_series_t *s, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(s->values[i]);
    free(s->values);
    free(s->buckets);
    free(s);
}

static void s_metric_free(af_metric_t *m)
{
    af_series_t *s = m->first;
    while (s) {
        af_series_t *n = s->next_order;
        s_series_free(s, m->nlabels);
        s = n;
    }
    for (size_t i = 0; i < m->nlabels; i++)
        free(m->labels[i]);
    free(m->table);
    free(m->bounds);
    free(m->name);
    free(m->help);
    free(m);
}

void af_metrics_destroy(af_metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    af_metric_t *m = (*self_p)->first;
    while (m) {
        af_metric_t *n = m->next;
        s_metric_free(m);
        m = n;
    }
    free(*self_p);
    *self_p = NULL;
}

static bool s_valid_name(const char *n, bool label)
{
    if (!n || !*n || isdigit((unsigned char)*n))
        return false;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && (label || *p != ':'))
            return false;
    return !(label && n[0] == '_' && n[1] == '_');
}

static af_metric_t *s_register(af_metrics_t *self, const char *name, const char *help,
                               af_metric_type_t type, const char *labels)
{
    if (!s_valid_name(name, false)) {
        af_error("event=metric_invalid_name name=%s", name ? name : "(null)");
        return NULL;
    }
    for (af_metric_t *m = self->first; m; m = m->next)
        if (!strcmp(m->name, name)) {
            af_error("event=metric_duplicate name=%s", name);
            return NULL;
        }
    af_metric_t *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->name = strdup(name);
    m->help = strdup(help ? help : "");
    m->type = type;
    if (labels && *labels) {
        char *copy = strdup(labels), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            while (*t == ' ')
                t++;
            if (m->nlabels == AF_METRIC_MAX_LABELS || !s_valid_name(t, true) ||
                !strcmp(t, "le")) {
                af_error("event=metric_invalid_label name=%s label=%s", name, t);
                free(copy);
                s_metric_free(m);
                return NULL;
            }
            m->labels[m->nlabels++] = strdup(t);
        }
        free(copy);
    }
    m->table_size = 16;
    m->table = calloc(m->table_size, sizeof(af_series_t *));
    if (self->last)
        self->last->next = m;
    else
        self->first = m;
    self->last = m;
    return m;
}

af_metric_t *af_metrics_counter(af_metrics_t *self, const char *name, const char *help,
                                const char *labels)
{
    return s_register(self, name, help, AF_METRIC_COUNTER, labels);
}

af_metric_t *af_metrics_gauge(af_metrics_t *self, const char *name, const char *help,
                              const char *labels)
{
    return s_register(self, name, help, AF_METRIC_GAUGE, labels);
}

af_metric_t *af_metrics_histogram(af_metrics_t *self, const char *name, const char *help,
                                  const char *labels, const double *bounds, size_t nbounds)
{
    if (!bounds) {
        bounds = s_default_bounds;
        nbounds = sizeof s_default_bounds / sizeof s_default_bounds[0];
    }
    for (size_t i = 1; i < nbounds; i++)
        if (!(bounds[i] > bounds[i - 1])) {
            af_error("event=metric_bad_buckets name=%s", name);
            return NULL;
        }
    af_metric_t *m = s_register(self, name, help, AF_METRIC_HISTOGRAM, labels);
    if (!m)
        return NULL;
    m->bounds = malloc(nbounds * sizeof *bounds);
    memcpy(m->bounds, bounds, nbounds * sizeof *bounds);
    m->nbounds = nbounds;
    return m;
}

af_metric_t *af_metrics_callback(af_metrics_t *self, const char *name, const char *help,
                                 af_metric_type_t type, af_metric_fn *fn, void *arg)
{
    if (type == AF_METRIC_HISTOGRAM)
        return NULL;
    af_metric_t *m = s_register(self, name, help, type, NULL);
    if (m) {
        m->fn = fn;
        m->fn_arg = arg;
    }
    return m;
}

/* ---- series lookup ------------------------------------------------------- */

static uint64_t s_hash(const char **values, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        for (const char *p = values[i]; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0x1f) * 1099511628211ULL;
    }
    return h;
}

static bool s_same(af_series_t *s, const char **values, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s->values[i], values[i]) != 0)
            return false;
    return true;
}

static void s_grow(af_metric_t *m)
{
    size_t size = m->table_size * 2;
    af_series_t **t = calloc(size, sizeof(af_series_t *));
    if (!t)
        return;
    for (af_series_t *s = m->first; s; s = s->next_order) {
        s->next_hash = t[s->hash & (size - 1)];
        t[s->hash & (size - 1)] = s;
    }
    free(m->table);
    m->table = t;
    m->table_size = size;
}

/* Finds (create: or makes) the series for the label values in ap. */
static af_series_t *s_series(af_metric_t *m, va_list ap, bool create)
{
    const char *values[AF_METRIC_MAX_LABELS];
    for (size_t i = 0; i < m->nlabels; i++) {
        values[i] = va_arg(ap, const char *);
        if (!values[i])
            values[i] = "";
    }
    uint64_t h = s_hash(values, m->nlabels);
    for (af_series_t *s = m->table[h & (m->table_size - 1)]; s; s = s->next_hash)
        if (s->hash == h && s_same(s, values, m->nlabels))
            return s;
    if (!create)
        return NULL;
    af_series_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->hash = h;
    s->values = calloc(m->nlabels ? m->nlabels : 1, sizeof(char *));
    for (size_t i = 0; i < m->nlabels; i++)
        s->values[i] = strdup(values[i]);
    if (m->type == AF_METRIC_HISTOGRAM)
        s->buckets = calloc(m->nbounds ? m->nbounds : 1, sizeof(uint64_t));
    s->next_hash = m->table[h & (m->table_size - 1)];
    m->table[h & (m->table_size - 1)] = s;
    s->prev_order = m->last;
    if (m->last)
        m->last->next_order = s;
    else
        m->first = s;
    m->last = s;
    if (++m->nseries > m->table_size)
        s_grow(m);
    return s;
}

void af_metric_add(af_metric_t *m, double v, ...)
{
    if (!m || m->type == AF_METRIC_HISTOGRAM || m->fn)
        return;
    if (m->type == AF_METRIC_COUNTER && !(v >= 0))
        return; /* counters only go up */
    va_list ap;
    va_start(ap, v);
    af_series_t *s = s_series(m, ap, true);
    va_end(ap);
    if (s)
        s->value += v;
}

void af_metric_inc(af_metric_t *m, ...)
{
    if (!m || m->type == AF_METRIC_HISTOGRAM || m->fn)
        return;
    va_list ap;
    va_start(ap, m);
    af_series_t *s = s_series(m, ap, true);
    va_end(ap);
    if (s)
        s->value += 1;
}

void af_metric_set(af_metric_t *m, double v, ...)
{
    if (!m || m->type != AF_METRIC_GAUGE || m->fn)
        return;
    va_list ap;
    va_start(ap, v);
    af_series_t *s = s_series(m, ap, true);
    va_end(ap);
    if (s)
        s->value = v;
}

void af_metric_observe(af_metric_t *m, double v, ...)
{
    if (!m || m->type != AF_METRIC_HISTOGRAM || isnan(v))
        return;
    va_list ap;
    va_start(ap, v);
    af_series_t *s = s_series(m, ap, true);
    va_end(ap);
    if (!s)
        return;
    s->value += v;
    s->count++;
    for (size_t i = 0; i < m->nbounds; i++)
        if (v <= m->bounds[i]) {
            s->buckets[i]++;
            break;
        }
}

double af_metric_value(af_metric_t *m, ...)
{
    if (!m)
        return 0;
    if (m->fn)
        return m->fn(m->fn_arg);
    va_list ap;
    va_start(ap, m);
    af_series_t *s = s_series(m, ap, false);
    va_end(ap);
    if (!s)
        return 0;
    return m->type == AF_METRIC_HISTOGRAM ? (double)s->count : s->value;
}

void af_metric_remove(af_metric_t *m, ...)
{
    if (!m)
        return;
    va_list ap;
    va_start(ap, m);
    af_series_t *s = s_series(m, ap, false);
    va_end(ap);
    if (!s)
        return;
    af_series_t **pp = &m->table[s->hash & (m->table_size - 1)];
    while (*pp != s)
        pp = &(*pp)->next_hash;
    *pp = s->next_hash;
    if (s->prev_order)
        s->prev_order->next_order = s->next_order;
    else
        m->first = s->next_order;
    if (s->next_order)
        s->next_order->prev_order = s->prev_order;
    else
        m->last = s->prev_order;
    m->nseries--;
    s_series_free(s, m->nlabels);
}

/* ---- rendering ----------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} s_buf_t;

static void s_put(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_put(s_buf_t *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->buf + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *nb = realloc(b->buf, cap);
        if (!nb) {
            b->failed = true;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
}

/* Escapes per the text format: help escapes \ and newline; label values also ". */
static void s_put_escaped(s_buf_t *b, const char *s, bool quote)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            s_put(b, "\\\\");
        else if (*p == '\n')
            s_put(b, "\\n");
        else if (quote && *p == '"')
            s_put(b, "\\\"");
        else
            s_put(b, "%c", *p);
    }
}

/* Shortest decimal that reads back as the same double ("0.1", not "0.1000...01"). */
static void s_fmt_double(char *buf, size_t len, double v)
{
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, len, "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            return;
    }
}

static void s_put_value(s_buf_t *b, double v)
{
    if (isnan(v))
        s_put(b, "NaN");
    else if (isinf(v))
        s_put(b, v > 0 ? "+Inf" : "-Inf");
    else if (v == floor(v) && fabs(v) < 1e15)
        s_put(b, "%.0f", v);
    else {
        char num[32];
        s_fmt_double(num, sizeof num, v);
        s_put(b, "%s", num);
    }
}

static void s_put_labels(s_buf_t *b, const af_metric_t *m, const af_series_t *s, const char *le)
{
    if (m->nlabels == 0 && !le)
        return;
    s_put(b, "{");
    for (size_t i = 0; i < m->nlabels; i++) {
        s_put(b, "%s%s=\"", i ? "," : "", m->labels[i]);
        s_put_escaped(b, s->values[i], true);
        s_put(b, "\"");
    }
    if (le)
        s_put(b, "%sle=\"%s\"", m->nlabels ? "," : "", le);
    s_put(b, "}");
}

char *af_metrics_render(af_metrics_t *self)
{
    s_buf_t b = {.buf = malloc(4096), .cap = 4096};
    if (!b.buf)
        return NULL;
    b.buf[0] = '\0';
    static const char *types[] = {"counter", "gauge", "histogram"};
    for (af_metric_t *m = self->first; m; m = m->next) {
        s_put(&b, "# HELP %s ", m->name);
        s_put_escaped(&b, m->help, false);
        s_put(&b, "\n# TYPE %s %s\n", m->name, types[m->type]);
        if (m->fn) {
            s_put(&b, "%s ", m->name);
            s_put_value(&b, m->fn(m->fn_arg));
            s_put(&b, "\n");
            continue;
        }
        for (af_series_t *s = m->first; s; s = s->next_order) {
            if (m->type != AF_METRIC_HISTOGRAM) {
                s_put(&b, "%s", m->name);
                s_put_labels(&b, m, s, NULL);
                s_put(&b, " ");
                s_put_value(&b, s->value);
                s_put(&b, "\n");
                continue;
            }
            uint64_t cum = 0;
            for (size_t i = 0; i <= m->nbounds; i++) {
                char le[48];
                if (i < m->nbounds) {
                    cum += s->buckets[i];
                    s_fmt_double(le, sizeof le, m->bounds[i]);
                } else {
                    cum = s->count;
                    snprintf(le, sizeof le, "+Inf");
                }
                s_put(&b, "%s_bucket", m->name);
                s_put_labels(&b, m, s, le);
                s_put(&b, " %llu\n", (unsigned long long)cum);
            }
            s_put(&b, "%s_sum", m->name);
            s_put_labels(&b, m, s, NULL);
            s_put(&b, " ");
            s_put_value(&b, s->value);
            s_put(&b, "\n%s_count", m->name);
            s_put_labels(&b, m, s, NULL);
            s_put(&b, " %llu\n", (unsigned long long)s->count);
        }
    }
    if (b.failed) {
        free(b.buf);
        return NULL;
    }
    return b.buf;
}

/* ---- process collector --------------------------------------------------- */

static double s_proc_stat_field(int field)
{
    /* /proc/self/stat: fields after the ")" of comm; 14 utime, 15 stime, 22 starttime, 24 rss. */
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p += 2;
    int idx = 3;
    char *save = NULL;
    for (char *t = strtok_r(p, " ", &save); t; t = strtok_r(NULL, " ", &save), idx++)
        if (idx == field)
            return strtod(t, NULL);
    return 0;
}

static double s_cpu_seconds(void *arg)
{
    (void)arg;
    return (s_proc_stat_field(14) + s_proc_stat_field(15)) / (double)sysconf(_SC_CLK_TCK);
}

static double s_rss_bytes(void *arg)
{
    (void)arg;
    return s_proc_stat_field(24) * (double)sysconf(_SC_PAGESIZE);
}

static double s_start_time(void *arg)
{
    (void)arg;
    double boot = 0;
    FILE *f = fopen("/proc/stat", "r");
    if (f) {
        char line[256];
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, "btime ", 6))
                boot = strtod(line + 6, NULL);
        fclose(f);
    }
    return boot + s_proc_stat_field(22) / (double)sysconf(_SC_CLK_TCK);
}

static double s_open_fds(void *arg)
{
    (void)arg;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    double n = 0;
    for (struct dirent *e = readdir(d); e; e = readdir(d))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

int af_metrics_add_process(af_metrics_t *self)
{
    bool ok = af_metrics_callback(self, "process_cpu_seconds_total",
                                  "Total user and system CPU time spent in seconds.",
                                  AF_METRIC_COUNTER, s_cpu_seconds, NULL) &&
              af_metrics_callback(self, "process_resident_memory_bytes",
                                  "Resident memory size in bytes.", AF_METRIC_GAUGE, s_rss_bytes,
                                  NULL) &&
              af_metrics_callback(self, "process_start_time_seconds",
                                  "Start time of the process since unix epoch in seconds.",
                                  AF_METRIC_GAUGE, s_start_time, NULL) &&
              af_metrics_callback(self, "process_open_fds", "Number of open file descriptors.",
                                  AF_METRIC_GAUGE, s_open_fds, NULL);
    return ok ? 0 : -1;
}
