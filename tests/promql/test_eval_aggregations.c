/* test_eval_aggregations.c — every aggregation operator with by/without grouping, computed as
 * Prometheus 2.42 computes it: sums in input order, avg's running mean with its rules for
 * infinities, population stddev/stdvar, min/max letting NaN be replaced, topk/bottomk order
 * and NaN handling, quantile interpolation, count_values labels, and the parameter errors. */
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

static void one(vigil_tsdb *db, const char *metric, double v)
{
    add(db, metric, 0, 1, &v, 1);
}

/* Eight series: job api/app × group prod/canary × instance 0/1, value (k + 1) * 10. */
static const double vals[8] = {10, 20, 30, 40, 50, 60, 70, 80};

static vigil_tsdb *requests_store(void)
{
    vigil_tsdb *db = open_store();
    const char *jobs[] = {"api", "app"}, *groups[] = {"prod", "canary"};
    for (int k = 0; k < 8; k++) {
        char m[128];
        snprintf(m, sizeof m, "req{job=\"%s\",group=\"%s\",instance=\"%d\"}", jobs[k / 4],
                 groups[(k / 2) % 2], k % 2);
        one(db, m, vals[k]);
    }
    return db;
}

static void test_sum_count_min_max_group_by_labels(void **state)
{
    (void)state;
    vigil_tsdb *db = requests_store();
    vigil_promql_result *r = instant_at(db, "sum by (job) (req)", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_value(value_of(r, "{job=\"api\"}"), 10 + 20 + 30 + 40);
    assert_value(value_of(r, "{job=\"app\"}"), 50 + 60 + 70 + 80);
    vigil_promql_result_free(r);
    assert_value(only_value(db, "sum(req)", 0), 360);
    assert_value(only_value(db, "count(req)", 0), 8);
    assert_value(only_value(db, "min(req)", 0), 10);
    assert_value(only_value(db, "max(req)", 0), 80);
    assert_value(only_value(db, "group(req)", 0), 1);
    r = instant_at(db, "count without (instance) (req)", 0);
    assert_int_equal(vigil_promql_result_series(r), 4);
    /* without drops __name__ as well as the listed labels */
    assert_value(value_of(r, "{group=\"canary\", job=\"app\"}"), 2);
    vigil_promql_result_free(r);
    r = instant_at(db, "max by (__name__, job) (req)", 0);
    assert_value(value_of(r, "{__name__=\"req\", job=\"api\"}"), 40);
    vigil_promql_result_free(r);
    /* Grouping by a label nobody has gives one group without labels. */
    assert_value(only_value(db, "sum by (nope) (req)", 0), 360);
    vigil_tsdb_close(db);
}

static void test_avg_stddev_stdvar_are_population_statistics(void **state)
{
    (void)state;
    vigil_tsdb *db = requests_store();
    double mean = 0, var = 0;
    for (int k = 0; k < 8; k++)
        mean += vals[k] / 8;
    for (int k = 0; k < 8; k++)
        var += (vals[k] - mean) * (vals[k] - mean) / 8;
    assert_value(only_value(db, "avg(req)", 0), mean);
    assert_true(fabs(only_value(db, "stdvar(req)", 0) - var) < 1e-9);
    assert_true(fabs(only_value(db, "stddev(req)", 0) - sqrt(var)) < 1e-9);
    /* A single series has no spread. */
    assert_value(only_value(db, "stddev(req{job=\"api\",group=\"prod\",instance=\"0\"})", 0), 0);
    vigil_tsdb_close(db);
}

static void test_avg_and_min_max_handle_infinities_and_nan(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "d{t=\"inf\",p=\"a\"}", INFINITY);
    one(db, "d{t=\"inf\",p=\"b\"}", 3);
    one(db, "d{t=\"inf\",p=\"c\"}", INFINITY);
    one(db, "d{t=\"mix\",p=\"a\"}", INFINITY);
    one(db, "d{t=\"mix\",p=\"b\"}", -INFINITY);
    one(db, "d{t=\"big\",p=\"a\"}", 1e308);
    one(db, "d{t=\"big\",p=\"b\"}", 1e308);
    one(db, "d{t=\"nan\",p=\"a\"}", NAN);
    one(db, "d{t=\"nan\",p=\"b\"}", 5);
    vigil_promql_result *r = instant_at(db, "avg by (t) (d)", 0);
    assert_value(value_of(r, "{t=\"inf\"}"), INFINITY);
    assert_value(value_of(r, "{t=\"mix\"}"), NAN);
    /* The running mean never overflows where a sum would. */
    assert_value(value_of(r, "{t=\"big\"}"), 1e308);
    vigil_promql_result_free(r);
    assert_value(only_value(db, "sum(d{t=\"big\"})", 0), INFINITY);
    /* NaN first is replaced by the next value; NaN later never wins a comparison. */
    assert_value(only_value(db, "max(d{t=\"nan\"})", 0), 5);
    assert_value(only_value(db, "min(d{t=\"nan\"})", 0), 5);
    vigil_tsdb_close(db);
}

/* The series labels of an instant result in order, "instance/group/job" each. */
static void assert_order(vigil_promql_result *r, const char *const *want, size_t n)
{
    assert_int_equal(vigil_promql_result_series(r), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(labels_of(r, i), want[i]);
}

static void test_topk_bottomk_order_and_push_nan_out(void **state)
{
    (void)state;
    vigil_tsdb *db = requests_store();
    one(db, "req{job=\"api\",group=\"prod\",instance=\"2\"}", NAN);
    vigil_promql_result *r = instant_at(db, "topk(3, req)", 0);
    const char *top[] = {
        "{__name__=\"req\", group=\"canary\", instance=\"1\", job=\"app\"}",
        "{__name__=\"req\", group=\"canary\", instance=\"0\", job=\"app\"}",
        "{__name__=\"req\", group=\"prod\", instance=\"1\", job=\"app\"}",
    };
    assert_order(r, top, 3);
    vigil_promql_result_free(r);
    r = instant_at(db, "bottomk(2, req)", 0);
    const char *bottom[] = {
        "{__name__=\"req\", group=\"prod\", instance=\"0\", job=\"api\"}",
        "{__name__=\"req\", group=\"prod\", instance=\"1\", job=\"api\"}",
    };
    assert_order(r, bottom, 2);
    vigil_promql_result_free(r);
    /* NaN sorts last both ways and is only kept when there is room. */
    r = instant_at(db, "topk(9, req{job=\"api\",group=\"prod\"})", 0);
    assert_int_equal(vigil_promql_result_series(r), 3);
    assert_string_equal(labels_of(r, 2), "{__name__=\"req\", group=\"prod\", instance=\"2\", "
                                         "job=\"api\"}");
    vigil_promql_result_free(r);
    r = instant_at(db, "bottomk(3, req{job=\"api\",group=\"prod\"})", 0);
    assert_string_equal(labels_of(r, 0), "{__name__=\"req\", group=\"prod\", instance=\"0\", "
                                         "job=\"api\"}");
    assert_string_equal(labels_of(r, 2), "{__name__=\"req\", group=\"prod\", instance=\"2\", "
                                         "job=\"api\"}");
    vigil_promql_result_free(r);
    r = instant_at(db, "topk by (job) (1, req)", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_value(value_of(r, "{__name__=\"req\", group=\"canary\", instance=\"1\", job=\"app\"}"),
                 80);
    vigil_promql_result_free(r);
    assert_int_equal(count_series(db, "topk(0, req)", 0), 0);
    assert_int_equal(count_series(db, "topk(-1, req)", 0), 0);
    assert_fails(db, "topk(1e20, req)", 0, VIGIL_ESTATE, "Scalar value 1e+20 overflows int64");
    assert_fails(db, "topk(NaN, req)", 0, VIGIL_ESTATE, "Scalar value NaN overflows int64");
    vigil_tsdb_close(db);
}

static void test_quantile_interpolates_between_ranks(void **state)
{
    (void)state;
    vigil_tsdb *db = requests_store();
    /* Rank q * (n - 1) = 0.5 * 7 = 3.5: halfway between 40 and 50. */
    assert_value(only_value(db, "quantile(0.5, req)", 0), 45);
    assert_value(only_value(db, "quantile(0, req)", 0), 10);
    assert_value(only_value(db, "quantile(1, req)", 0), 80);
    assert_value(only_value(db, "quantile(2, req)", 0), INFINITY);
    assert_value(only_value(db, "quantile(-1, req)", 0), -INFINITY);
    vigil_promql_result *r = instant_at(db, "quantile by (job) (0.25, req)", 0);
    /* api: 10 20 30 40, rank 0.75 */
    assert_value(value_of(r, "{job=\"api\"}"), 17.5);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_count_values_labels_groups_with_the_value(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "version{job=\"a\",i=\"0\"}", 6);
    one(db, "version{job=\"a\",i=\"1\"}", 6);
    one(db, "version{job=\"b\",i=\"0\"}", 7.5);
    one(db, "version{job=\"b\",i=\"1\"}", 1e21);
    vigil_promql_result *r = instant_at(db, "count_values(\"v\", version)", 0);
    assert_int_equal(vigil_promql_result_series(r), 3);
    assert_value(value_of(r, "{v=\"6\"}"), 2);
    assert_value(value_of(r, "{v=\"7.5\"}"), 1);
    /* Go's 'f' format: never an exponent. */
    assert_value(value_of(r, "{v=\"1000000000000000000000\"}"), 1);
    vigil_promql_result_free(r);
    r = instant_at(db, "count_values by (job) (\"v\", version)", 0);
    assert_value(value_of(r, "{job=\"a\", v=\"6\"}"), 2);
    vigil_promql_result_free(r);
    r = instant_at(db, "count_values without (i) (\"job\", version)", 0);
    /* The value label replaces a label of the same name. */
    assert_value(value_of(r, "{job=\"6\"}"), 2);
    vigil_promql_result_free(r);
    assert_fails(db, "count_values(\"a-b\", version)", 0, VIGIL_ESTATE,
                 "invalid label name \"a-b\"");
    vigil_tsdb_close(db);
}

static void test_aggregations_work_per_step_in_range_queries(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    double a[] = {1, 2, GAP, 4}, b[] = {10, GAP, GAP, 40};
    add(db, "m{s=\"a\"}", 0, MIN_MS, a, 4);
    add(db, "m{s=\"b\"}", 0, MIN_MS, b, 4);
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    o.lookback_ms = 1;
    vigil_promql_result *r;
    assert_int_equal(vigil_promql_range(db, &o, "sum(m)", 0, 3 * MIN_MS, MIN_MS, &r), VIGIL_OK);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 3);
    assert_true(v[0] == 11 && v[1] == 2 && v[2] == 44 && t[2] == 3 * MIN_MS);
    vigil_promql_result_free(r);
    assert_int_equal(vigil_promql_range(db, &o, "topk(1, m)", 0, 3 * MIN_MS, MIN_MS, &r),
                     VIGIL_OK);
    /* b wins where it exists, a elsewhere */
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 1);
    assert_true(t[0] == MIN_MS && v[0] == 2);
    assert_int_equal(vigil_promql_result_points(r, 1, &t, &v), 2);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_count_min_max_group_by_labels),
        cmocka_unit_test(test_avg_stddev_stdvar_are_population_statistics),
        cmocka_unit_test(test_avg_and_min_max_handle_infinities_and_nan),
        cmocka_unit_test(test_topk_bottomk_order_and_push_nan_out),
        cmocka_unit_test(test_quantile_interpolates_between_ranks),
        cmocka_unit_test(test_count_values_labels_groups_with_the_value),
        cmocka_unit_test(test_aggregations_work_per_step_in_range_queries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
