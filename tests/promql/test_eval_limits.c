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

#include "eval_fixture.h"

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
