/* test_eval_functions.c — the evaluator's side of function calls: which functions drop
 * __name__ and what a resulting label clash does, label_replace and label_join (captures,
 * deletion, invalid arguments), absent() and absent_over_time() labels, scalar(), vector(),
 * time(), timestamp() of a selector versus an expression, sort order, histogram_quantile's
 * grouping of buckets, clamp and round arguments, and the date functions. The numbers
 * themselves come from the numeric library, tested on its own. */
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

static void test_value_functions_drop_the_name_and_merge_clashes_per_step(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "x{a=\"1\"}", -2.5);
    vigil_promql_result *r = instant_at(db, "abs(x)", 0);
    assert_value(value_of(r, "{a=\"1\"}"), 2.5);
    vigil_promql_result_free(r);
    /* Two metrics left with the same labels at the same step are an error... */
    one(db, "y{a=\"1\"}", 4);
    assert_fails(db, "ceil({__name__=~\"x|y\"})", 0, VIGIL_ESTATE,
                 "vector cannot contain metrics with the same labelset");
    /* ...but at different steps they make one series. */
    double later = 9;
    add(db, "z{a=\"1\"}", 10 * MIN_MS, 1, &later, 1);
    vigil_promql_result *rr;
    assert_int_equal(vigil_promql_range(db, NULL, "floor({__name__=~\"x|z\"})", 0, 10 * MIN_MS,
                                        10 * MIN_MS, &rr),
                     VIGIL_OK);
    assert_int_equal(vigil_promql_result_series(rr), 1);
    const int64_t *t;
    const double *v;
    assert_int_equal(vigil_promql_result_points(rr, 0, &t, &v), 2);
    assert_true(v[0] == -3 && v[1] == 9);
    vigil_promql_result_free(rr);
    vigil_tsdb_close(db);
}

static void test_range_functions_drop_the_name_except_last_over_time(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    add_line(db, "c{a=\"1\"}", MIN_MS, 0, 60, 11);
    vigil_promql_result *r = instant_at(db, "rate(c[5m])", 10 * MIN_MS);
    assert_value(value_of(r, "{a=\"1\"}"), 1);
    vigil_promql_result_free(r);
    r = instant_at(db, "last_over_time(c[5m])", 10 * MIN_MS);
    assert_value(value_of(r, "{__name__=\"c\", a=\"1\"}"), 600);
    vigil_promql_result_free(r);
    /* Equal labels after the name is dropped: an error for the whole range, even when the
     * two series never have a value at the same step (Prometheus checks the matrix). */
    double early = 1, late = 2;
    add(db, "d{a=\"1\"}", 0, 1, &early, 1);
    add(db, "e{a=\"1\"}", 30 * MIN_MS, 1, &late, 1);
    vigil_promql_result *rr = NULL;
    assert_int_equal(vigil_promql_range(db, NULL, "count_over_time({__name__=~\"d|e\"}[1m])", 0,
                                        30 * MIN_MS, MIN_MS, &rr),
                     VIGIL_ESTATE);
    assert_null(rr);
    vigil_tsdb_close(db);
}

static void test_label_replace_expands_captures_like_go(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "m{src=\"host-42.example\",dst=\"old\"}", 1);
    struct {
        const char *q, *want;
    } cases[] = {
        {"label_replace(m, \"dst\", \"$1\", \"src\", \"host-(\\\\d+).*\")", "42"},
        {"label_replace(m, \"dst\", \"${1}x\", \"src\", \"host-(\\\\d+).*\")", "42x"},
        {"label_replace(m, \"dst\", \"$name\", \"src\", \"host-(?P<name>\\\\d+).*\")", "42"},
        {"label_replace(m, \"dst\", \"a$$b\", \"src\", \".*\")", "a$b"},
        {"label_replace(m, \"dst\", \"[$9]\", \"src\", \"(.*)\")", "[]"},
        {"label_replace(m, \"dst\", \"$1x\", \"src\", \"(.*)\")", "<none>"},
        {"label_replace(m, \"dst\", \"new\", \"src\", \"nomatch\")", "old"},
        {"label_replace(m, \"dst\", \"$1\", \"missing\", \"(.*)\")", "<none>"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        vigil_promql_result *r = instant_at(db, cases[i].q, 0);
        assert_int_equal(vigil_promql_result_series(r), 1);
        const vigil_label *l;
        size_t n = vigil_promql_result_labels(r, 0, &l);
        const char *got = "<none>";
        for (size_t j = 0; j < n; j++)
            if (strcmp(l[j].name, "dst") == 0)
                got = l[j].value;
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%s: dst=%s, want %s", cases[i].q, got, cases[i].want);
        /* the name stays */
        assert_string_equal(l[0].name, "__name__");
        vigil_promql_result_free(r);
    }
    assert_fails(db, "label_replace(m, \"dst\", \"\", \"src\", \"(.*\")", 0, VIGIL_ESTATE,
                 "invalid regular expression in label_replace(): (.*");
    assert_fails(db, "label_replace(m, \"a-b\", \"\", \"src\", \"(.*)\")", 0, VIGIL_ESTATE,
                 "invalid destination label name in label_replace(): a-b");
    one(db, "m{src=\"other\",dst=\"old\"}", 2);
    assert_fails(db, "label_replace(m, \"src\", \"\", \"src\", \".*\")", 0, VIGIL_ESTATE,
                 "vector cannot contain metrics with the same labelset");
    vigil_tsdb_close(db);
}

static void test_label_join_joins_present_values(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "m{a=\"x\",b=\"y\"}", 1);
    vigil_promql_result *r = instant_at(db, "label_join(m, \"j\", \"-\", \"a\", \"nope\", \"b\")", 0);
    assert_true(find(r, "{__name__=\"m\", a=\"x\", b=\"y\", j=\"x--y\"}") >= 0);
    vigil_promql_result_free(r);
    r = instant_at(db, "label_join(m, \"a\", \",\", \"nope\")", 0);
    assert_true(find(r, "{__name__=\"m\", b=\"y\"}") >= 0);
    vigil_promql_result_free(r);
    assert_fails(db, "label_join(m, \"j\", \"\", \"1a\")", 0, VIGIL_ESTATE,
                 "invalid source label name in label_join(): 1a");
    assert_fails(db, "label_join(m, \"-\", \"\", \"a\")", 0, VIGIL_ESTATE,
                 "invalid destination label name in label_join(): -");
    vigil_tsdb_close(db);
}

static void test_absent_takes_labels_from_equality_matchers(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "present{job=\"a\"}", 1);
    vigil_promql_result *r = instant_at(db, "absent(nope{job=\"x\",env=~\"p.*\",zone=\"z\"})", 0);
    assert_int_equal(vigil_promql_result_series(r), 1);
    assert_string_equal(labels_of(r, 0), "{job=\"x\", zone=\"z\"}");
    vigil_promql_result_free(r);
    /* A name matched twice is left out. */
    r = instant_at(db, "absent(nope{job=\"x\",job=\"y\"})", 0);
    assert_string_equal(labels_of(r, 0), "{}");
    vigil_promql_result_free(r);
    assert_int_equal(count_series(db, "absent(present)", 0), 0);
    r = instant_at(db, "absent(sum(nope{job=\"x\"}))", 0);
    assert_string_equal(labels_of(r, 0), "{}");
    vigil_promql_result_free(r);
    r = instant_at(db, "absent_over_time(nope{job=\"x\"}[5m])", 0);
    assert_string_equal(labels_of(r, 0), "{job=\"x\"}");
    vigil_promql_result_free(r);
    assert_int_equal(count_series(db, "absent_over_time(present[5m])", 4 * MIN_MS), 0);
    assert_int_equal(count_series(db, "absent_over_time(present[5m])", 6 * MIN_MS), 1);
    vigil_tsdb_close(db);
}

static void test_scalar_vector_time_and_timestamp(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "m{i=\"0\"}", 3);
    one(db, "m{i=\"1\"}", 4);
    assert_value(only_value(db, "scalar(m{i=\"0\"})", 0), 3);
    assert_value(only_value(db, "scalar(m)", 0), NAN);
    assert_value(only_value(db, "scalar(nope)", 0), NAN);
    vigil_promql_result *r = instant_at(db, "vector(time())", 90 * 1000);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_VECTOR);
    assert_value(value_of(r, "{}"), 90);
    vigil_promql_result_free(r);
    r = instant_at(db, "time()", 1500);
    assert_int_equal(vigil_promql_result_type(r), VIGIL_PROMQL_SCALAR);
    vigil_promql_result_free(r);
    /* A selector's timestamp is its sample's; an expression's is the evaluation time. */
    r = instant_at(db, "timestamp(m)", 2 * MIN_MS);
    assert_value(value_of(r, "{i=\"0\"}"), 0);
    vigil_promql_result_free(r);
    r = instant_at(db, "timestamp(m + 1)", 2 * MIN_MS);
    assert_value(value_of(r, "{i=\"0\"}"), 120);
    vigil_promql_result_free(r);
    assert_value(only_value(db, "timestamp(m{i=\"1\"} @ 60)", 0), 0);
    vigil_tsdb_close(db);
}

static void test_sort_orders_instant_vectors_with_nan_last(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "s{k=\"a\"}", 3);
    one(db, "s{k=\"b\"}", NAN);
    one(db, "s{k=\"c\"}", 1);
    one(db, "s{k=\"d\"}", 2);
    const char *asc[] = {"c", "d", "a", "b"}, *desc[] = {"a", "d", "c", "b"};
    vigil_promql_result *r = instant_at(db, "sort(s)", 0), *d = instant_at(db, "sort_desc(s)", 0);
    for (size_t i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof want, "{__name__=\"s\", k=\"%s\"}", asc[i]);
        assert_string_equal(labels_of(r, i), want);
        snprintf(want, sizeof want, "{__name__=\"s\", k=\"%s\"}", desc[i]);
        assert_string_equal(labels_of(d, i), want);
    }
    vigil_promql_result_free(r);
    vigil_promql_result_free(d);
    vigil_tsdb_close(db);
}

static void test_histogram_quantile_groups_buckets_without_le(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    /* 100 observations: 50 at or below 0.1, 90 at or below 1. */
    one(db, "h_bucket{job=\"a\",le=\"0.1\"}", 50);
    one(db, "h_bucket{job=\"a\",le=\"1\"}", 90);
    one(db, "h_bucket{job=\"a\",le=\"+Inf\"}", 100);
    one(db, "h_bucket{job=\"b\",le=\"1\"}", 10);
    one(db, "h_bucket{job=\"c\",le=\"bogus\"}", 10);
    vigil_promql_result *r = instant_at(db, "histogram_quantile(0.5, h_bucket)", 0);
    assert_int_equal(vigil_promql_result_series(r), 2);
    /* Rank 50 falls at the top of the first bucket. */
    assert_value(value_of(r, "{job=\"a\"}"), 0.1);
    /* No +Inf bucket: NaN. */
    assert_value(value_of(r, "{job=\"b\"}"), NAN);
    vigil_promql_result_free(r);
    /* Rank 70: halfway through (0.1, 1]. */
    assert_value(only_value(db, "histogram_quantile(0.7, h_bucket{job=\"a\"})", 0), 0.55);
    /* Two metrics with the same labels are kept apart, then clash in the output. */
    one(db, "g_bucket{job=\"a\",le=\"+Inf\"}", 1);
    one(db, "g_bucket{job=\"a\",le=\"1\"}", 1);
    assert_fails(db, "histogram_quantile(0.5, {__name__=~\"[gh]_bucket\",job=\"a\"})", 0,
                 VIGIL_ESTATE, "vector cannot contain metrics with the same labelset");
    vigil_tsdb_close(db);
}

static void test_clamp_round_and_date_functions_take_their_arguments(void **state)
{
    (void)state;
    vigil_tsdb *db = open_store();
    one(db, "v", 7.25);
    assert_value(only_value(db, "clamp(v, 0, 5)", 0), 5);
    assert_value(only_value(db, "clamp_min(v, 10)", 0), 10);
    assert_value(only_value(db, "clamp_max(v, 1)", 0), 1);
    assert_int_equal(count_series(db, "clamp(v, 5, 0)", 0), 0);
    assert_value(only_value(db, "round(v)", 0), 7);
    assert_value(only_value(db, "round(v, 0.5)", 0), 7.5);
    /* 2001-09-09T01:46:40Z */
    const int64_t t = INT64_C(1000000000000);
    assert_value(only_value(db, "year()", t), 2001);
    assert_value(only_value(db, "month(vector(1000000000))", 0), 9);
    assert_value(only_value(db, "hour()", t), 1);
    assert_value(only_value(db, "minute(vector(time()))", t), 46);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_functions_drop_the_name_and_merge_clashes_per_step),
        cmocka_unit_test(test_range_functions_drop_the_name_except_last_over_time),
        cmocka_unit_test(test_label_replace_expands_captures_like_go),
        cmocka_unit_test(test_label_join_joins_present_values),
        cmocka_unit_test(test_absent_takes_labels_from_equality_matchers),
        cmocka_unit_test(test_scalar_vector_time_and_timestamp),
        cmocka_unit_test(test_sort_orders_instant_vectors_with_nan_last),
        cmocka_unit_test(test_histogram_quantile_groups_buckets_without_le),
        cmocka_unit_test(test_clamp_round_and_date_functions_take_their_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
