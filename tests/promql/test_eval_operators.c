/* test_eval_operators.c — binary and unary operators as Prometheus 2.42 evaluates them: Go's
 * float arithmetic (% as math.Mod, ^ as math.Pow, NaN and infinities), comparisons that filter
 * or return 0/1 with bool, where __name__ is dropped, scalar/vector combinations, vector
 * matching with on/ignoring/group_left/group_right, the set operators, and every matching error
 * with Prometheus's message. */
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
#include "promql/eval.h"
#include "vigil/promql.h"

#include "eval_fixture.h"

static void one(vigil_tsdb *db, const char *metric, double v)
{
    add(db, metric, 0, 1, &v, 1);
}

/* a = 6 and b = 4 on two instances, c only on one. */
static vigil_tsdb *pair_store(void)
{
    vigil_tsdb *db = open_store();
    one(db, "a{i=\"0\"}", 6);
    one(db, "a{i=\"1\"}", -7);
    one(db, "b{i=\"0\"}", 4);
    one(db, "b{i=\"1\"}", 3);
    one(db, "c{i=\"0\"}", 0);
    return db;
}

static void test_arithmetic_follows_go_float_rules(void **state)
{
    (void)state;
    vigil_tsdb *db = pair_store();
    const double a = 6, b = 4;
    assert_value(only_value(db, "a{i=\"0\"} + b", 0), a + b);
    assert_value(only_value(db, "a{i=\"0\"} - b", 0), a - b);
    assert_value(only_value(db, "a{i=\"0\"} * b", 0), a * b);
    assert_value(only_value(db, "a{i=\"0\"} / b", 0), a / b);
    assert_value(only_value(db, "a{i=\"0\"} % b", 0), fmod(a, b));
    assert_value(only_value(db, "a{i=\"0\"} ^ b", 0), a * a * a * a);
    assert_value(only_value(db, "a{i=\"0\"} atan2 b", 0), atan2(a, b));
    /* Division by zero and modulo by zero. */
    assert_value(only_value(db, "a{i=\"0\"} / c", 0), INFINITY);
    assert_value(only_value(db, "c / c", 0), NAN);
    assert_value(only_value(db, "a{i=\"0\"} % c", 0), NAN);
    /* The sign of a remainder follows the dividend, as Go's math.Mod. */
    assert_value(only_value(db, "a{i=\"1\"} % on() b{i=\"1\"}", 0), -1);
    assert_value(only_value(db, "-7 % 3", 0), -1);
    assert_value(only_value(db, "7 % -3", 0), 1);
    assert_value(only_value(db, "(-8) ^ (1/3)", 0), NAN);
    assert_value(only_value(db, "NaN ^ 0", 0), 1);
    assert_value(only_value(db, "1 ^ NaN", 0), 1);
    assert_value(only_value(db, "(-1) ^ Inf", 0), 1);
    assert_value(only_value(db, "2 ^ -1074", 0), ldexp(1, -1074));
    assert_value(only_value(db, "Inf - Inf", 0), NAN);
    vigil_tsdb_close(db);
}

static void test_go_pow_squares_integer_exponents(void **state)
{
    (void)state;
    /* Powers of two and exact squares are exact whatever the method; large exponents
     * overflow to +Inf and negative ones underflow to 0 without NaN. */
    assert_true(vigil__pq_go_pow(2, 52) == 4503599627370496.0);
    assert_true(vigil__pq_go_pow(3, 4) == 81);
    assert_true(vigil__pq_go_pow(-2, 3) == -8);
    assert_true(vigil__pq_go_pow(10, 400) == INFINITY);
    assert_true(vigil__pq_go_pow(10, -400) == 0);
    assert_true(vigil__pq_go_pow(-0.0, -3) == -INFINITY);
    assert_true(vigil__pq_go_pow(4, 0.5) == 2);
    assert_true(vigil__pq_go_pow(4, -0.5) == 0.5);
    assert_true(vigil__pq_go_pow(-INFINITY, 3) == -INFINITY);
    assert_true(vigil__pq_go_pow(-INFINITY, -3) == 0 && signbit(vigil__pq_go_pow(-INFINITY, -3)));
    assert_true(fabs(vigil__pq_go_pow(2, 0.25) - pow(2, 0.25)) < 1e-15);
}

static void test_arithmetic_drops_the_metric_name_but_atan2_keeps_it(void **state)
{
    (void)state;
    vigil_tsdb *db = pair_store();
    vigil_promql_result *r = instant_at(db, "a * 2", 0);
    assert_true(find(r, "{i=\"0\"}") >= 0 && find(r, "{i=\"1\"}") >= 0);
    vigil_promql_result_free(r);
    r = instant_at(db, "a atan2 1", 0);
    assert_true(find(r, "{__name__=\"a\", i=\"0\"}") >= 0);
    vigil_promql_result_free(r);
    r = instant_at(db, "-a", 0);
    assert_value(value_of(r, "{i=\"0\"}"), -6);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_comparisons_filter_or_return_bool(void **state)
{
    (void)state;
    vigil_tsdb *db = pair_store();
    vigil_promql_result *r = instant_at(db, "a > 0", 0);
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_value(value_of(r, "{__name__=\"a\", i=\"0\"}"), 6);
    vigil_promql_result_free(r);
    /* With the scalar on the left the vector's own value is kept. */
    r = instant_at(db, "0 < a", 0);
    assert_value(value_of(r, "{__name__=\"a\", i=\"0\"}"), 6);
    vigil_promql_result_free(r);
    r = instant_at(db, "a > bool 0", 0);
    assert_value(value_of(r, "{i=\"0\"}"), 1);
    assert_value(value_of(r, "{i=\"1\"}"), 0);
    vigil_promql_result_free(r);
    /* Vector against vector: the left value passes through where the comparison holds. */
    r = instant_at(db, "a >= b", 0);
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_value(value_of(r, "{__name__=\"a\", i=\"0\"}"), 6);
    vigil_promql_result_free(r);
    r = instant_at(db, "a != bool b", 0);
    assert_value(value_of(r, "{i=\"0\"}"), 1);
    assert_value(value_of(r, "{i=\"1\"}"), 1);
    vigil_promql_result_free(r);
    assert_value(only_value(db, "1 < bool 2", 0), 1);
    assert_value(only_value(db, "NaN == bool NaN", 0), 0);
    assert_value(only_value(db, "NaN != bool NaN", 0), 1);
    assert_int_equal(count_series(db, "a == NaN", 0), 0);
    vigil_tsdb_close(db);
}

static void test_one_to_one_matching_with_on_and_ignoring(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "req{job=\"api\",path=\"/a\"}", 10);
    one(db, "req{job=\"api\",path=\"/b\"}", 30);
    one(db, "err{job=\"api\",path=\"/a\",code=\"500\"}", 1);
    one(db, "err{job=\"api\",path=\"/b\",code=\"500\"}", 3);
    one(db, "total{job=\"api\"}", 40);
    /* Without modifiers all labels must match: nothing does here. */
    assert_int_equal(count_series(db, "err / req", 0), 0);
    vigil_promql_result *r = instant_at(db, "err / ignoring(code) req", 0);
    assert_value(value_of(r, "{job=\"api\", path=\"/a\"}"), 0.1);
    assert_value(value_of(r, "{job=\"api\", path=\"/b\"}"), 0.1);
    vigil_promql_result_free(r);
    r = instant_at(db, "err / on(job, path) req", 0);
    assert_value(value_of(r, "{job=\"api\", path=\"/a\"}"), 0.1);
    vigil_promql_result_free(r);
    /* on() keeps only the matching labels in a one-to-one result. */
    r = instant_at(db, "sum by (job) (req) / on(job) total", 0);
    assert_value(value_of(r, "{job=\"api\"}"), 1);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_group_left_and_group_right_copy_labels_from_the_one_side(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "req{job=\"api\",path=\"/a\"}", 10);
    one(db, "req{job=\"api\",path=\"/b\"}", 30);
    one(db, "info{job=\"api\",version=\"1.2\"}", 1);
    vigil_promql_result *r = instant_at(db, "req * on(job) group_left(version) info", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_value(value_of(r, "{job=\"api\", path=\"/a\", version=\"1.2\"}"), 10);
    assert_value(value_of(r, "{job=\"api\", path=\"/b\", version=\"1.2\"}"), 30);
    vigil_promql_result_free(r);
    /* The same from the other side; the value is still left op right. */
    r = instant_at(db, "info - on(job) group_right(version) req", 0);
    assert_value(value_of(r, "{job=\"api\", path=\"/a\", version=\"1.2\"}"), 1 - 10);
    vigil_promql_result_free(r);
    /* A comparison keeps the many side's name and the left value. */
    r = instant_at(db, "req > on(job) group_left info", 0);
    assert_value(value_of(r, "{__name__=\"req\", job=\"api\", path=\"/a\"}"), 10);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_matching_errors_use_prometheus_messages(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "req{job=\"api\",path=\"/a\"}", 10);
    one(db, "req{job=\"api\",path=\"/b\"}", 30);
    one(db, "info{job=\"api\",version=\"1\"}", 1);
    one(db, "info{job=\"api\",version=\"2\"}", 1);
    one(db, "one{job=\"api\"}", 1);
    assert_fails(db, "req * on(job) group_left info", 0, VIGIL_ESTATE,
                 "found duplicate series for the match group {job=\"api\"} on the right "
                 "hand-side of the operation: [{__name__=\"info\", job=\"api\", version=\"2\"}, "
                 "{__name__=\"info\", job=\"api\", version=\"1\"}];many-to-many matching not "
                 "allowed: matching labels must be unique on one side");
    assert_fails(db, "info * on(job) group_right req", 0, VIGIL_ESTATE,
                 "on the left hand-side of the operation");
    assert_fails(db, "req * on(job) one", 0, VIGIL_ESTATE,
                 "multiple matches for labels: many-to-one matching must be explicit "
                 "(group_left/group_right)");
    assert_fails(db, "sum without(path) (req) * on(job) group_left req", 0, VIGIL_ESTATE,
                 "found duplicate series for the match group");
    one(db, "x{job=\"api\",a=\"1\"}", 1);
    one(db, "y{job=\"api\",a=\"1\"}", 2);
    assert_fails(db, "{__name__=~\"x|y\"} * on(job) group_left one", 0, VIGIL_ESTATE,
                 "multiple matches for labels: grouping labels must ensure unique matches");
    assert_fails(db, "{__name__=~\"x|y\"} * 2", 0, VIGIL_ESTATE,
                 "vector cannot contain metrics with the same labelset");
    assert_fails(db, "-{__name__=~\"x|y\"}", 0, VIGIL_ESTATE,
                 "vector cannot contain metrics with the same labelset");
    /* Comparisons keep __name__, so the same series are fine there. */
    assert_int_equal(count_series(db, "{__name__=~\"x|y\"} > 0", 0), 2);
    vigil_tsdb_close(db);
}

static void test_set_operators_match_on_label_sets(void **state)
{
    (void)state;
    vigil_tsdb *db = pair_store();
    /* __name__ is never part of a signature: a and b match on i. */
    vigil_promql_result *r = instant_at(db, "a and b", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_value(value_of(r, "{__name__=\"a\", i=\"1\"}"), -7);
    vigil_promql_result_free(r);
    r = instant_at(db, "a and ignoring(i) c", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    vigil_promql_result_free(r);
    r = instant_at(db, "a and on(i) c", 0);
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_value(value_of(r, "{__name__=\"a\", i=\"0\"}"), 6);
    vigil_promql_result_free(r);
    r = instant_at(db, "a unless on(i) c", 0);
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_value(value_of(r, "{__name__=\"a\", i=\"1\"}"), -7);
    vigil_promql_result_free(r);
    /* or: all of the left, then the right where its match group has nothing on the left. */
    r = instant_at(db, "c or on(i) b", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_string_equal(labels_of(r, 0), "{__name__=\"c\", i=\"0\"}");
    assert_string_equal(labels_of(r, 1), "{__name__=\"b\", i=\"1\"}");
    vigil_promql_result_free(r);
    /* b's groups {i="0"} and {i="1"} both have a series on the left. */
    r = instant_at(db, "a or b", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    assert_true(find(r, "{__name__=\"a\", i=\"0\"}") >= 0);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void test_set_operators_work_step_by_step(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    double a[] = {1, 2, 3, 4}, b[] = {GAP, 20, GAP, 40};
    add(db, "a", 0, MIN_MS, a, 4);
    add(db, "b", 0, MIN_MS, b, 4);
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    o.lookback_ms = 1000; /* each sample is seen at its own step only */
    vigil_promql_result *r;
    assert_int_equal(vigil_promql_range(db, &o, "a unless on() b", 0, 3 * MIN_MS, MIN_MS, &r),
                     VIGIL_OK);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(r, 0, &t, &v), 2);
    assert_true(t[0] == 0 && v[0] == 1 && t[1] == 2 * MIN_MS && v[1] == 3);
    vigil_promql_result_free(r);
    assert_int_equal(vigil_promql_range(db, &o, "b or on() a", 0, 3 * MIN_MS, MIN_MS, &r),
                     VIGIL_OK);
    assert_int_equal(vigil_promql_result_series(r), 2); /* a fills the gaps of b */
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(vigil_promql_result_points(r, i, &t, &v), 2);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arithmetic_follows_go_float_rules),
        cmocka_unit_test(test_go_pow_squares_integer_exponents),
        cmocka_unit_test(test_arithmetic_drops_the_metric_name_but_atan2_keeps_it),
        cmocka_unit_test(test_comparisons_filter_or_return_bool),
        cmocka_unit_test(test_one_to_one_matching_with_on_and_ignoring),
        cmocka_unit_test(test_group_left_and_group_right_copy_labels_from_the_one_side),
        cmocka_unit_test(test_matching_errors_use_prometheus_messages),
        cmocka_unit_test(test_set_operators_match_on_label_sets),
        cmocka_unit_test(test_set_operators_work_step_by_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
