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

#include "eval_fixture.h"

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
