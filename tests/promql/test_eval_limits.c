/* test_eval_limits.c — a query's limits and failures: the timeout (Prometheus's "query timed
 * out in expression evaluation"), the sample budget ("query processing would load too many
 * samples into memory in query execution"), how statuses map to the API's error types, parse
 * errors, default options, and the result object's accessors at their edges. */
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

static void test_options_start_from_prometheus_defaults(void **state)
{
    (void)state;
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    assert_int_equal(o.lookback_ms, 5 * MIN_MS);
    assert_int_equal(o.timeout_ms, 2 * MIN_MS);
    assert_int_equal(o.max_samples, 50000000);
    assert_int_equal(o.subquery_step_ms, MIN_MS);
}

static void test_a_heavy_query_times_out(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    for (int s = 0; s < 300; s++) {
        char m[64];
        snprintf(m, sizeof m, "busy{s=\"%d\"}", s);
        add_line(db, m, 15000, s, 1, 2000);
    }
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    o.timeout_ms = 1;
    vigil_promql_result *r = NULL;
    vigil_status st = vigil_promql_range(db, &o, "sum(rate(busy[5m])) / count(busy)", 0,
                                         2000 * 15000, 15000, &r);
    assert_int_equal(st, VIGIL_ETIMEOUT);
    assert_null(r);
    assert_string_equal(vigil_errmsg(), "query timed out in expression evaluation");
    assert_int_equal(vigil_promql_error_type_of(st), VIGIL_PROMQL_ERR_TIMEOUT);
    /* Without the limit the same query completes. */
    o.timeout_ms = 0;
    assert_int_equal(vigil_promql_range(db, &o, "sum(rate(busy[5m])) / count(busy)", 0,
                                        2000 * 15000, 15000, &r),
                     VIGIL_OK);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_sample_budget_counts_points_held_at_once(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    for (int s = 0; s < 10; s++) {
        char m[64];
        snprintf(m, sizeof m, "m{s=\"%d\"}", s);
        add_line(db, m, MIN_MS, s, 1, 30);
    }
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    o.max_samples = 10;
    vigil_promql_result *r = NULL;
    /* Ten points fit exactly. */
    assert_int_equal(vigil_promql_instant(db, &o, "m", 10 * MIN_MS, &r), VIGIL_OK);
    vigil_promql_result_free(r);
    r = NULL;
    o.max_samples = 9;
    vigil_status st = vigil_promql_instant(db, &o, "m", 10 * MIN_MS, &r);
    assert_int_equal(st, VIGIL_ELIMIT);
    assert_null(r);
    assert_string_equal(vigil_errmsg(), "query processing would load too many samples into "
                                        "memory in query execution");
    assert_int_equal(vigil_promql_error_type_of(st), VIGIL_PROMQL_ERR_EXECUTION);
    /* A range query holds every step's points. */
    o.max_samples = 100;
    assert_int_equal(vigil_promql_range(db, &o, "m", 0, 20 * MIN_MS, MIN_MS, &r), VIGIL_ELIMIT);
    /* The selector's 210 points and the sum's 21 fit in 250. */
    o.max_samples = 250;
    assert_int_equal(vigil_promql_range(db, &o, "sum(m)", 0, 20 * MIN_MS, MIN_MS, &r), VIGIL_OK);
    vigil_promql_result_free(r);
    /* A subquery frame bigger than the budget is refused before anything is allocated. */
    o.max_samples = 1000;
    assert_int_equal(vigil_promql_instant(db, &o, "count_over_time(m[1d:1s])", 0, &r),
                     VIGIL_ELIMIT);
    vigil_tsdb_close(db);
}

static void test_statuses_map_to_api_error_types(void **state)
{
    (void)state;
    assert_int_equal(vigil_promql_error_type_of(VIGIL_OK), VIGIL_PROMQL_ERR_NONE);
    assert_int_equal(vigil_promql_error_type_of(VIGIL_EINVAL), VIGIL_PROMQL_ERR_BAD_DATA);
    assert_int_equal(vigil_promql_error_type_of(VIGIL_ESTATE), VIGIL_PROMQL_ERR_EXECUTION);
    assert_int_equal(vigil_promql_error_type_of(VIGIL_ETIMEOUT), VIGIL_PROMQL_ERR_TIMEOUT);
    assert_int_equal(vigil_promql_error_type_of(VIGIL_ENOMEM), VIGIL_PROMQL_ERR_INTERNAL);
    assert_int_equal(vigil_promql_error_type_of(VIGIL_EIO), VIGIL_PROMQL_ERR_INTERNAL);
}

static void test_parse_and_argument_errors_are_bad_data(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    vigil_promql_result *r = NULL;
    assert_int_equal(vigil_promql_instant(db, NULL, "sum(", 0, &r), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "parse error"));
    assert_null(r);
    assert_int_equal(vigil_promql_instant(db, NULL, NULL, 0, &r), VIGIL_EINVAL);
    assert_int_equal(vigil_promql_instant(NULL, NULL, "1", 0, &r), VIGIL_EINVAL);
    assert_int_equal(vigil_promql_instant(db, NULL, "1", 0, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_promql_range(db, NULL, "1", 0, 1, 1, NULL), VIGIL_EINVAL);
    /* holt_winters' argument check happens at evaluation: an execution error. */
    add_line(db, "g", MIN_MS, 0, 1, 10);
    assert_fails(db, "holt_winters(g[5m], 2, 0.5)", 9 * MIN_MS, VIGIL_ESTATE,
                 "invalid smoothing factor");
    vigil_tsdb_close(db);
}

static void test_result_accessors_describe_each_type(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    vigil_promql_result *r = instant_at(db, "\"hello\"", 5000);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_STRING);
    assert_string_equal(vigil_promql_result_string(r), "hello");
    assert_int_equal(vigil_promql_result_series(r), 0);
    assert_int_equal(vigil_promql_result_time(r), 5000);
    const vigil_label *l;
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_labels(r, 0, &l), 0);
    assert_null(l);
    assert_int_equal(vigil_promql_result_points(r, 3, &t, &v), 0);
    vigil_promql_result_free(r);
    r = instant_at(db, "2 * 21", 7000);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_SCALAR);
    assert_null(vigil_promql_result_string(r));
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 1);
    assert_true(t[0] == 7000 && v[0] == 42);
    vigil_promql_result_free(r);
    vigil_promql_result_free(NULL);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_start_from_prometheus_defaults),
        cmocka_unit_test(test_a_heavy_query_times_out),
        cmocka_unit_test(test_sample_budget_counts_points_held_at_once),
        cmocka_unit_test(test_statuses_map_to_api_error_types),
        cmocka_unit_test(test_parse_and_argument_errors_are_bad_data),
        cmocka_unit_test(test_result_accessors_describe_each_type),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
