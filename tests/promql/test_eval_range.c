/* test_eval_range.c — range queries: the checks Prometheus's API makes before evaluating
 * (order of start and end, step, 11,000 points, the expression's type), steps at start +
 * k * step, results sorted by labels, a scalar as one unlabelled series, and long queries —
 * evaluated on two threads with sliding windows — giving at every step what an instant query
 * at that step gives: bit for bit for rate/increase/delta and counts, to rounding for sums. */
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

#include "eval_fixture.h"

static vigil_status range(vigil_tsdb *db, const char *q, int64_t start, int64_t end,
                          int64_t step, vigil_promql_result **r)
{
    *r = NULL;
    return vigil_promql_range(db, NULL, q, start, end, step, r);
}

static void test_bad_ranges_are_refused_with_the_api_wording(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    vigil_promql_result *r;
    assert_int_equal(range(db, "1", 10, 9, 1, &r), VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(), "end timestamp must not be before start time");
    assert_int_equal(range(db, "1", 0, 10, 0, &r), VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(), "zero or negative query resolution step widths are not "
                                        "accepted. Try a positive integer");
    assert_int_equal(range(db, "1", 0, 11001, 1, &r), VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(), "exceeded maximum resolution of 11,000 points per "
                                        "timeseries. Try decreasing the query resolution "
                                        "(?step=XX)");
    assert_null(r);
    /* 11,000 intervals, 11,001 points, is still allowed. */
    assert_int_equal(range(db, "1", 0, 11000, 1, &r), VIGIL_OK);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 11001);
    vigil_promql_result_free(r);
    assert_int_equal(range(db, "x[5m]", 0, 10, 1, &r), VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(), "invalid expression type \"range vector\" for range "
                                        "query, must be Scalar or instant Vector");
    assert_int_equal(range(db, "\"s\"", 0, 10, 1, &r), VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(), "invalid expression type \"string\" for range query, "
                                        "must be Scalar or instant Vector");
    assert_int_equal(vigil_promql_error_type_of(VIGIL_EINVAL), VIGIL_PROMQL_ERR_BAD_DATA);
    vigil_tsdb_close(db);
}

static void test_steps_start_at_start_and_results_sort_by_labels(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    add_line(db, "m{k=\"b\"}", MIN_MS, 0, 1, 20);
    add_line(db, "m{k=\"a\"}", MIN_MS, 100, 1, 20);
    add_line(db, "l{k=\"z\"}", MIN_MS, 0, 1, 20);
    vigil_promql_result *r;
    assert_int_equal(range(db, "m or l", 30000, 5 * MIN_MS + 29999, 70000, &r), VIGIL_OK);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_MATRIX);
    assert_int_equal(vigil_promql_result_series(r), 3);
    assert_string_equal(labels_of(r, 0), "{__name__=\"l\", k=\"z\"}");
    assert_string_equal(labels_of(r, 1), "{__name__=\"m\", k=\"a\"}");
    assert_string_equal(labels_of(r, 2), "{__name__=\"m\", k=\"b\"}");
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 1, &t, &v), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(t[i], 30000 + (int64_t)i * 70000);
        assert_value(v[i], 100 + (double)(t[i] / MIN_MS));
    }
    vigil_promql_result_free(r);
    /* A scalar: one series without labels, a point at every step. */
    assert_int_equal(range(db, "time() * 2", 0, 4000, 1000, &r), VIGIL_OK);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_MATRIX);
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_int_equal(vigil_promql_result_labels(r, 0, &(const vigil_label *){NULL}), 0);
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 5);
    assert_value(v[4], 8);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

/* Counters with resets, a gauge with NaN and an infinity, a series that stops early and one
 * that starts late: what the long queries below are run over. */
static vigil_tsdb *varied_store(size_t samples)
{
    vigil_tsdb *db = open_store();
    double *v = calloc(samples, sizeof *v);
    for (int s = 0; s < 4; s++) {
        double c = 1000 * s;
        for (size_t i = 0; i < samples; i++) {
            c += (double)((i * 7 + (size_t)s * 3) % 11);
            if (i % 97 == 41 + (size_t)s)
                c = 3; /* a reset */
            v[i] = c;
        }
        char m[64];
        snprintf(m, sizeof m, "cnt{s=\"%d\"}", s);
        add(db, m, 1000 * s, 15000, v, samples);
    }
    for (size_t i = 0; i < samples; i++)
        v[i] = i % 500 == 17 ? NAN : i % 700 == 3 ? INFINITY : sin((double)i / 10) * 1e3;
    add(db, "gauge", 0, 15000, v, samples);
    for (size_t i = 0; i < samples; i++)
        v[i] = i < samples / 3 || i > samples / 2 ? GAP : (double)i;
    add(db, "middle", 0, 15000, v, samples);
    free(v);
    return db;
}

/* At every step of a range query, its value equals an instant query's at that step: exactly,
 * or within tol relative. */
static void assert_steps_match_instants(vigil_tsdb *db, const char *q, int64_t start,
                                        int64_t end, int64_t step, double tol)
{
    vigil_promql_result *r;
    if (range(db, q, start, end, step, &r) != VIGIL_OK)
        fail_msg("%s: %s", q, vigil_errmsg());
    size_t checked = 0;
    for (int64_t t = start; t <= end; t += step) {
        vigil_promql_result *in = instant_at(db, q, t);
        size_t present = 0;
        for (size_t i = 0; i < vigil_promql_result_series(r); i++) {
            const int64_t *ts;
            const double *v;
            size_t n = vigil_promql_result_points(r, i, &ts, &v);
            for (size_t j = 0; j < n; j++) {
                if (ts[j] != t)
                    continue;
                present++;
                char want[1024];
                snprintf(want, sizeof want, "%s", labels_of(r, i));
                double x = value_of(in, want);
                bool close = same_double(x, v[j]) ||
                             fabs(x - v[j]) <= tol * (fabs(x) + fabs(v[j]));
                if (!close)
                    fail_msg("%s at %lld %s: range %.17g, instant %.17g", q, (long long)t,
                             want, v[j], x);
                checked++;
            }
        }
        assert_int_equal(present, vigil_promql_result_series(in));
        vigil_promql_result_free(in);
    }
    if (checked == 0)
        fail_msg("%s: no values to compare", q);
    vigil_promql_result_free(r);
}

static void test_long_range_queries_equal_instant_queries_step_by_step(void **state)
{
    (void)state;
    vigil_tsdb *db = varied_store(2000);
    const int64_t end = 2000 * 15000;
    /* 250 and more steps: evaluated in two halves on two threads. */
    const char *exact[] = {
        "rate(cnt[5m])", "increase(cnt[2m])", "delta(gauge[10m])", "count_over_time(cnt[7m])",
        "rate(gauge[5m])", "increase(gauge[3m] offset 1m)",
        "sum by (s) (rate(cnt[1m] offset 30s))", "irate(cnt[5m])", "resets(cnt[20m])",
        "middle", "max_over_time(gauge[13m])", "topk(2, cnt)", "cnt > on() group_left gauge",
        "absent_over_time(middle[10m])", "timestamp(middle)", "count_values(\"v\", round(gauge / 300))",
    };
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++)
        assert_steps_match_instants(db, exact[i], 0, end, 120000, 0);
    const char *close[] = {"sum_over_time(gauge[30m])", "avg_over_time(cnt[1h])",
                           "avg_over_time(gauge[5m])", "sum_over_time(middle[2h])"};
    for (size_t i = 0; i < sizeof close / sizeof *close; i++)
        assert_steps_match_instants(db, close[i], 0, end, 120000, 1e-12);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_ranges_are_refused_with_the_api_wording),
        cmocka_unit_test(test_steps_start_at_start_and_results_sort_by_labels),
        cmocka_unit_test(test_long_range_queries_equal_instant_queries_step_by_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
