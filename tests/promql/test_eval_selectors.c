/* test_eval_selectors.c — what instant and range selectors read from the store, by Prometheus
 * 2.42's rules: the last sample within the 5-minute lookback (both ends included), staleness
 * markers ending a series, range windows including both ends, offset and @ (start()/end()
 * included) moving the evaluation time, range selectors returning matrices in instant queries,
 * and an instant query being exactly a one-step range query. */
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

/* Every minute from 0, the value is the minute number: x(t) = t / 60 s. */
static vigil_tsdb *minutes_store(size_t minutes)
{
    vigil_tsdb *db = open_store();
    add_line(db, "x{job=\"a\"}", MIN_MS, 0, 1, minutes);
    add_line(db, "x{job=\"b\"}", MIN_MS, 0, 10, minutes);
    return db;
}

static void test_selector_takes_the_last_sample_at_or_before_the_time(void **state)
{
    (void)state;
    vigil_tsdb *db = minutes_store(10);
    vigil_promql_result *r = instant_at(db, "x", 3 * MIN_MS + 30000);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_VECTOR);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_value(value_of(r, "{__name__=\"x\", job=\"a\"}"), 3);
    assert_value(value_of(r, "{__name__=\"x\", job=\"b\"}"), 30);
    vigil_promql_result_free(r);
    /* A sample exactly at the evaluation time is the one it sees. */
    assert_value(only_value(db, "x{job=\"a\"}", 4 * MIN_MS), 4);
    vigil_tsdb_close(db);
}

static void test_lookback_includes_a_sample_exactly_five_minutes_old(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    double one = 7;
    add(db, "lonely", 1000, 1, &one, 1);
    assert_value(only_value(db, "lonely", 1000 + 5 * MIN_MS), 7);
    assert_int_equal(count_series(db, "lonely", 1000 + 5 * MIN_MS + 1), 0);
    /* Nothing before the first sample either. */
    assert_int_equal(count_series(db, "lonely", 999), 0);
    vigil_tsdb_close(db);
}

static void test_lookback_follows_the_option(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    double one = 7;
    add(db, "lonely", 0, 1, &one, 1);
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    o.lookback_ms = MIN_MS;
    vigil_promql_result *r;
    assert_int_equal(vigil_promql_instant(db, &o, "lonely", MIN_MS, &r), VIGIL_OK);
    assert_int_equal(vigil_promql_result_series(r), 1);
    vigil_promql_result_free(r);
    assert_int_equal(vigil_promql_instant(db, &o, "lonely", MIN_MS + 1, &r), VIGIL_OK);
    assert_int_equal(vigil_promql_result_series(r), 0);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_stale_marker_ends_the_series_until_the_next_sample(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    double v[] = {1, 2, vigil_tsdb_stale_nan(), GAP, 5};
    add(db, "flaky", 0, MIN_MS, v, 5);
    assert_value(only_value(db, "flaky", MIN_MS + 30000), 2);
    /* From the marker on, the older sample within lookback is not used. */
    assert_int_equal(count_series(db, "flaky", 2 * MIN_MS), 0);
    assert_int_equal(count_series(db, "flaky", 3 * MIN_MS + 59000), 0);
    assert_value(only_value(db, "flaky", 4 * MIN_MS), 5);
    /* A range window skips the marker and keeps the samples around it. */
    vigil_promql_result *r = instant_at(db, "flaky[10m]", 4 * MIN_MS);
    const int64_t *t;
    const double *x;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &x), 3);
    assert_value(x[0], 1);
    assert_value(x[1], 2);
    assert_value(x[2], 5);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_range_selector_includes_both_ends_of_its_window(void **state)
{
    (void)state;
    vigil_tsdb *db = minutes_store(10);
    vigil_promql_result *r = instant_at(db, "x{job=\"a\"}[2m]", 5 * MIN_MS);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_MATRIX);
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_string_equal(labels_of(r, 0), "{__name__=\"x\", job=\"a\"}");
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(t[i], (int64_t)(3 + i) * MIN_MS);
        assert_value(v[i], (double)(3 + i));
    }
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_offset_moves_the_evaluation_time_back(void **state)
{
    (void)state;
    vigil_tsdb *db = minutes_store(10);
    assert_value(only_value(db, "x{job=\"a\"} offset 3m", 7 * MIN_MS), 4);
    assert_value(only_value(db, "x{job=\"a\"} offset -2m", 5 * MIN_MS), 7);
    assert_value(only_value(db, "sum_over_time(x{job=\"a\"}[1m] offset 2m)", 6 * MIN_MS), 3 + 4);
    vigil_tsdb_close(db);
}

static void test_at_pins_the_time_whatever_the_step(void **state)
{
    (void)state;
    vigil_tsdb *db = minutes_store(10);
    assert_value(only_value(db, "x{job=\"a\"} @ 120", 9 * MIN_MS), 2);
    assert_value(only_value(db, "x{job=\"a\"} @ 120.5", 0), 2);
    assert_value(only_value(db, "x{job=\"a\"} @ 300 offset 1m", 9 * MIN_MS), 4);
    assert_value(only_value(db, "x{job=\"a\"} offset 1m @ 300", 9 * MIN_MS), 4);
    assert_value(only_value(db, "count_over_time(x{job=\"a\"}[2m] @ 240)", 0), 3);

    /* In a range query start() and end() are the query's first and last step. */
    vigil_promql_result *r;
    assert_int_equal(vigil_promql_range(db, NULL, "x{job=\"b\"} @ start() + on() x{job=\"a\"} @ end()",
                                        2 * MIN_MS, 6 * MIN_MS, MIN_MS, &r),
                     VIGIL_OK);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(t[i], (int64_t)(2 + i) * MIN_MS);
        assert_value(v[i], 20 + 6);
    }
    vigil_promql_result_free(r);
    /* end() is the end asked for, even when the last step falls before it. */
    assert_int_equal(vigil_promql_range(db, NULL, "x{job=\"a\"} @ end()", 2 * MIN_MS,
                                        7 * MIN_MS + 30000, 2 * MIN_MS, &r),
                     VIGIL_OK);
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 3);
    for (size_t i = 0; i < 3; i++)
        assert_value(v[i], 7);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_selector_matchers_and_labels_come_back_sorted(void **state)
{
    (void)state;
    vigil_tsdb *db = minutes_store(3);
    double v = 1;
    add(db, "y{zone=\"z\",instance=\"i\"}", 0, 1, &v, 1);
    vigil_promql_result *r = instant_at(db, "{__name__=~\"x|y\",job!=\"b\"}", 2 * MIN_MS);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_true(find(r, "{__name__=\"y\", instance=\"i\", zone=\"z\"}") >= 0);
    assert_true(find(r, "{__name__=\"x\", job=\"a\"}") >= 0);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

/* The point at t of each series of a range result, as "labels=value" lines, sorted. */
static char *range_step(vigil_promql_result *r, int64_t t)
{
    char *out = calloc(1, 65536);
    size_t k = 0;
    for (size_t i = 0; i < vigil_promql_result_series(r); i++) {
        const int64_t *ts;
        const double *v;
        size_t n = vigil_promql_result_points(r, i, &ts, &v);
        for (size_t j = 0; j < n; j++)
            if (ts[j] == t)
                k += (size_t)snprintf(out + k, 65536 - k, "%s=%.17g\n", labels_of(r, i), v[j]);
    }
    return out;
}

static char *instant_lines(vigil_promql_result *r)
{
    char *out = calloc(1, 65536);
    size_t k = 0;
    for (size_t i = 0; i < vigil_promql_result_series(r); i++) {
        const int64_t *ts;
        const double *v;
        assert_int_equal(vigil_promql_result_points(r, i, &ts, &v), 1);
        k += (size_t)snprintf(out + k, 65536 - k, "%s=%.17g\n", labels_of(r, i), v[0]);
    }
    return out;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the lines of s in place (range results are sorted by labels, vectors are not). */
static void sort_lines(char *s)
{
    char *lines[512];
    size_t n = 0;
    for (char *p = strtok(s, "\n"); p && n < 512; p = strtok(NULL, "\n"))
        lines[n++] = strdup(p);
    qsort(lines, n, sizeof *lines, cmp_lines);
    s[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(s, lines[i]);
        strcat(s, "\n");
        free(lines[i]);
    }
}

static void test_instant_query_equals_a_one_step_range_query(void **state)
{
    (void)state;
    vigil_tsdb *db = minutes_store(20);
    const char *queries[] = {
        "x", "x @ 120", "x offset 3m", "rate(x[5m])", "sum by (job) (x)", "x * 2 > 10",
        "max_over_time(x[4m:1m])", "timestamp(x)", "time() - x", "absent(nothing)",
    };
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        for (int64_t t = 0; t <= 20 * MIN_MS; t += 7 * MIN_MS + 1234) {
            vigil_promql_result *a = instant_at(db, queries[q], t), *b;
            assert_int_equal(vigil_promql_range(db, NULL, queries[q], t, t, 15000, &b), VIGIL_OK);
            char *x = instant_lines(a), *y = range_step(b, t);
            sort_lines(x);
            if (strcmp(x, y) != 0)
                fail_msg("%s at %lld: instant\n%s\nrange\n%s", queries[q], (long long)t, x, y);
            free(x);
            free(y);
            vigil_promql_result_free(a);
            vigil_promql_result_free(b);
        }
    }
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selector_takes_the_last_sample_at_or_before_the_time),
        cmocka_unit_test(test_lookback_includes_a_sample_exactly_five_minutes_old),
        cmocka_unit_test(test_lookback_follows_the_option),
        cmocka_unit_test(test_stale_marker_ends_the_series_until_the_next_sample),
        cmocka_unit_test(test_range_selector_includes_both_ends_of_its_window),
        cmocka_unit_test(test_offset_moves_the_evaluation_time_back),
        cmocka_unit_test(test_at_pins_the_time_whatever_the_step),
        cmocka_unit_test(test_selector_matchers_and_labels_come_back_sorted),
        cmocka_unit_test(test_instant_query_equals_a_one_step_range_query),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
