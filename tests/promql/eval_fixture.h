/* eval_fixture.h — what the evaluator's tests share: an in-memory store, series written as
 * PromQL-like text, queries run and their results looked up by labels, value comparisons.
 * Everything is static inline, so each test file includes it without unused-function noise. */
#ifndef VIGIL_TEST_EVAL_FIXTURE_H
#define VIGIL_TEST_EVAL_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"
#include "vigil/promql.h"

/* ---- helpers: an in-memory store, series written as PromQL text, results looked up by labels */

#define MIN_MS 60000

static inline vigil_tsdb *open_store(void)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    return db;
}

/* Labels of `name{a="x",b="y"}` (the name optional) into l, strings in buf. */
static inline size_t parse_labels(const char *s, vigil_label *l, size_t max, char *buf)
{
    size_t n = 0;
    if (*s != '{') {
        l[n].name = "__name__";
        l[n].value = buf;
        while (*s && *s != '{')
            *buf++ = *s++;
        *buf++ = '\0';
        n++;
    }
    if (*s == '{')
        s++;
    while (*s && *s != '}' && n < max) {
        while (*s == ',' || *s == ' ')
            s++;
        if (*s == '}')
            break;
        l[n].name = buf;
        while (*s != '=')
            *buf++ = *s++;
        *buf++ = '\0';
        s += 2; /* =" */
        l[n].value = buf;
        while (*s != '"')
            *buf++ = *s++;
        *buf++ = '\0';
        s++;
        n++;
    }
    return n;
}

/* Appends values[i] at start + i * step; NaN payload-free NAN is a value, `GAP` skips. */
#define GAP 0x1p1000
static inline void add(vigil_tsdb *db, const char *metric, int64_t start, int64_t step,
                const double *values, size_t n)
{
    vigil_label l[16];
    char buf[512];
    size_t nl = parse_labels(metric, l, 16, buf);
    for (size_t i = 0; i < n; i++) {
        if (values[i] == GAP)
            continue;
        vigil_status st = vigil_tsdb_append(db, l, nl, start + (int64_t)i * step, values[i]);
        if (st != VIGIL_OK)
            fail_msg("append %s: %s", metric, vigil_errmsg());
    }
}

/* A counter-like series: first, first + inc, ... (count samples, every step ms from 0). */
static inline void add_line(vigil_tsdb *db, const char *metric, int64_t step, double first,
                     double inc, size_t count)
{
    double v[4096];
    assert_true(count <= 4096);
    for (size_t i = 0; i < count; i++)
        v[i] = first + inc * (double)i;
    add(db, metric, 0, step, v, count);
}

static inline vigil_promql_result *instant_at(vigil_tsdb *db, const char *q, int64_t t)
{
    vigil_promql_result *r = NULL;
    vigil_status st = vigil_promql_instant(db, NULL, q, t, &r);
    if (st != VIGIL_OK)
        fail_msg("%s: %s (%s)", q, vigil_strerror(st), vigil_errmsg());
    return r;
}

/* The labels of series i as `{a="x", b="y"}`, __name__ included as a label. */
static inline const char *labels_of(const vigil_promql_result *r, size_t i)
{
    static char buf[1024];
    const vigil_label *l;
    size_t n = vigil_promql_result_labels(r, i, &l);
    size_t k = (size_t)snprintf(buf, sizeof buf, "{");
    for (size_t j = 0; j < n && k < sizeof buf; j++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%s=\"%s\"", j ? ", " : "", l[j].name,
                              l[j].value);
    if (k < sizeof buf)
        snprintf(buf + k, sizeof buf - k, "}");
    return buf;
}

/* Index of the series with exactly these labels (as labels_of prints them), or -1. */
static inline long find(const vigil_promql_result *r, const char *labels)
{
    for (size_t i = 0; i < vigil_promql_result_series(r); i++)
        if (strcmp(labels_of(r, i), labels) == 0)
            return (long)i;
    return -1;
}

/* The single value of the series with these labels in an instant result. */
static inline double value_of(const vigil_promql_result *r, const char *labels)
{
    long i = find(r, labels);
    if (i < 0)
        fail_msg("no series %s in the result", labels);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, (size_t)i, &t, &v), 1);
    return v[0];
}

/* The one value of a query that yields exactly one series or a scalar. */
static inline double only_value(vigil_tsdb *db, const char *q, int64_t t)
{
    vigil_promql_result *r = instant_at(db, q, t);
    if (vigil_promql_result_series(r) != 1)
        fail_msg("%s: %zu series, want 1", q, vigil_promql_result_series(r));
    const int64_t *ts;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &ts, &v), 1);
    double x = v[0];
    vigil_promql_result_free(r);
    return x;
}

static inline size_t count_series(vigil_tsdb *db, const char *q, int64_t t)
{
    vigil_promql_result *r = instant_at(db, q, t);
    size_t n = vigil_promql_result_series(r);
    vigil_promql_result_free(r);
    return n;
}

/* The query fails with this status and a message containing want. */
static inline void assert_fails(vigil_tsdb *db, const char *q, int64_t t, vigil_status status,
                         const char *want)
{
    vigil_promql_result *r = NULL;
    vigil_status st = vigil_promql_instant(db, NULL, q, t, &r);
    if (st == VIGIL_OK) {
        vigil_promql_result_free(r);
        fail_msg("%s: succeeded, expected %s", q, want);
    }
    assert_null(r);
    if (st != status || strstr(vigil_errmsg(), want) == NULL)
        fail_msg("%s: %s (%s), expected %s containing \"%s\"", q, vigil_strerror(st),
                 vigil_errmsg(), vigil_strerror(status), want);
}

static inline bool same_double(double a, double b)
{
    return (isnan(a) && isnan(b)) || a == b;
}

static inline void assert_value(double got, double want)
{
    if (!same_double(got, want) && !(fabs(got - want) <= 1e-12 * fabs(want)))
        fail_msg("got %.17g, want %.17g", got, want);
}

#endif
