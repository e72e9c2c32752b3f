/* test_eval_subqueries.c — subqueries: inner steps aligned to multiples of the step in absolute
 * time (whatever the outer query's start), windows including both ends, the default step from
 * the options, offset and @ on the subquery, nesting, and a subquery's range vector as an
 * instant query's result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

/* x(t) = t in seconds, a sample every 15 s for an hour. */
static vigil_tsdb *clock_store(void)
{
    vigil_tsdb *db = open_store();
    add_line(db, "x", 15000, 0, 15, 241);
    return db;
}

static void test_inner_steps_are_multiples_of_the_step(void **state)
{
    (void)state;
    vigil_tsdb *db = clock_store();
    /* At 10m30s the window [5m30s, 10m30s] holds the minutes 6..10. */
    vigil_promql_result *r = instant_at(db, "x[5m:1m]", 10 * MIN_MS + 30000);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_MATRIX);
    assert_string_equal(labels_of(r, 0), "{__name__=\"x\"}");
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(t[i], (int64_t)(6 + i) * MIN_MS);
        assert_value(v[i], (double)(6 + i) * 60);
    }
    vigil_promql_result_free(r);
    /* On a multiple both ends are in: 5..10. */
    assert_value(only_value(db, "count_over_time(x[5m:1m])", 10 * MIN_MS), 6);
    vigil_tsdb_close(db);
}

static void test_default_step_comes_from_the_options(void **state)
{
    (void)state;
    vigil_tsdb *db = clock_store();
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    o.subquery_step_ms = 2 * MIN_MS;
    vigil_promql_result *r;
    assert_int_equal(vigil_promql_instant(db, &o, "x[7m:]", 11 * MIN_MS, &r), VIGIL_OK);
    const int64_t *t;
    const double *v;
    /* [4m, 11m] at even minutes: 4 6 8 10 */
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 4);
    assert_int_equal(t[0], 4 * MIN_MS);
    assert_int_equal(t[3], 10 * MIN_MS);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_offset_and_at_move_the_subquery_window(void **state)
{
    (void)state;
    vigil_tsdb *db = clock_store();
    assert_value(only_value(db, "max_over_time(x[5m:1m] offset 3m)", 20 * MIN_MS), 17 * 60);
    assert_value(only_value(db, "min_over_time(x[5m:1m] @ 600)", 50 * MIN_MS), 5 * 60);
    assert_value(only_value(db, "min_over_time(x[5m:1m] @ 600 offset 1m)", 0), 4 * 60);
    /* In a range query @ makes every step see the same window. */
    vigil_promql_result *r;
    assert_int_equal(vigil_promql_range(db, NULL, "sum_over_time(x[2m:1m] @ 300)", 0,
                                        30 * MIN_MS, 10 * MIN_MS, &r),
                     VIGIL_OK);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 4);
    for (size_t i = 0; i < 4; i++)
        assert_value(v[i], (3 + 4 + 5) * 60);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_subqueries_nest_and_feed_range_functions(void **state)
{
    (void)state;
    vigil_tsdb *db = clock_store();
    /* x grows by one per second, so its rate is 1 everywhere. */
    assert_value(only_value(db, "max_over_time(rate(x[2m])[10m:1m])", 30 * MIN_MS), 1);
    assert_value(only_value(db, "avg_over_time(max_over_time(x[1m:30s])[4m:2m])",
                            30 * MIN_MS),
                 (26 + 28 + 30) * 60.0 / 3);
    vigil_tsdb_close(db);
}

static void test_range_query_steps_see_the_same_inner_points(void **state)
{
    (void)state;
    vigil_tsdb *db = clock_store();
    /* A range query starting off the minute grid still slides over whole minutes. */
    vigil_promql_result *r;
    const int64_t start = 10 * MIN_MS + 20000;
    assert_int_equal(vigil_promql_range(db, NULL, "min_over_time(x[3m:1m])", start,
                                        start + 4 * 45000, 45000, &r),
                     VIGIL_OK);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 5);
    for (size_t i = 0; i < 5; i++) {
        int64_t first_minute = (t[i] - 3 * MIN_MS + MIN_MS - 1) / MIN_MS;
        assert_value(v[i], (double)first_minute * 60);
    }
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inner_steps_are_multiples_of_the_step),
        cmocka_unit_test(test_default_step_comes_from_the_options),
        cmocka_unit_test(test_offset_and_at_move_the_subquery_window),
        cmocka_unit_test(test_subqueries_nest_and_feed_range_functions),
        cmocka_unit_test(test_range_query_steps_see_the_same_inner_points),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
