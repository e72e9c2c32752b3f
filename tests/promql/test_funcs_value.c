/* test_funcs_value.c — the functions of one value: the expected values of Prometheus 2.42's
 * functions.test (exp/ln/log2/log10/sqrt, clamp, sgn, the calendar), hand-computed rounding and
 * clamping rules, and the places where Go's math and time packages differ from C's and
 * Prometheus prints Go's answer (NaN-propagating min/max, ln of a subnormal, exp into the
 * subnormal range, sinh past 709.78, dates of NaN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/core_int.h"
#include "promql/funcs.h"

static void assert_same(double expected, double actual)
{
    if (isnan(expected) && isnan(actual))
        return;
    if (memcmp(&expected, &actual, sizeof expected) != 0)
        fail_msg("expected %.17g, got %.17g", expected, actual);
}

/* The scripts compare with a tolerance; some of their expected values are not the bits 2.42
 * prints (log2(10) prints as 3.321928094887362), so they are held to 1e-12 relative. */
static void assert_near(double expected, double actual)
{
    if (isinf(expected) || expected == 0) {
        assert_same(expected, actual);
        return;
    }
    if (!(fabs(actual - expected) <= 1e-12 * fabs(expected)))
        fail_msg("expected %.17g, got %.17g", expected, actual);
}

static double fn1(pq_fn_id id, double x)
{
    return vigil__pq_value_fn(id, x, NULL);
}

static void exp_ln_sqrt_log_as_in_functions_test(void **state)
{
    (void)state;
    assert_near(22026.465794806718, fn1(PQ_FN_EXP, 10));
    assert_near(485165195.4097903, fn1(PQ_FN_EXP, 20));
    assert_near(1, fn1(PQ_FN_EXP, 0));
    assert_near(4.5399929762484854e-05, fn1(PQ_FN_EXP, -10));
    assert_near(2.302585092994046, fn1(PQ_FN_LN, 10));
    assert_near(2.995732273553991, fn1(PQ_FN_LN, 20));
    assert_near(-INFINITY, fn1(PQ_FN_LN, 0));
    assert_true(isnan(fn1(PQ_FN_LN, -10)));
    /* The script accepts 10 and 20 within its tolerance; 2.42 itself prints these bits. */
    assert_same(10.000000000000002, fn1(PQ_FN_EXP, fn1(PQ_FN_LN, 10)));
    assert_same(19.999999999999996, fn1(PQ_FN_EXP, fn1(PQ_FN_LN, 20)));
    assert_near(3.1622776601683795, fn1(PQ_FN_SQRT, 10));
    assert_near(4.47213595499958, fn1(PQ_FN_SQRT, 20));
    assert_near(3.3219280948873626, fn1(PQ_FN_LOG2, 10));
    assert_near(4.321928094887363, fn1(PQ_FN_LOG2, 20));
    assert_near(-INFINITY, fn1(PQ_FN_LOG2, 0));
    assert_true(isnan(fn1(PQ_FN_LOG2, -10)));
    assert_near(1, fn1(PQ_FN_LOG10, 10));
    assert_near(1.301029995663981, fn1(PQ_FN_LOG10, 20));
    assert_near(-INFINITY, fn1(PQ_FN_LOG10, 0));
    assert_true(isnan(fn1(PQ_FN_LOG10, -10)));
    /* Go derives log2 and log10 from its own natural logarithm; these are 2.42's bits. */
    assert_same(3.321928094887362, fn1(PQ_FN_LOG2, 10));
    assert_same(2.302585092994046, fn1(PQ_FN_LN, 10));
    assert_same(3, fn1(PQ_FN_LOG10, 1000));
    assert_same(3, fn1(PQ_FN_LOG2, 8));
}

/* Go's math where it differs from the C library, as Prometheus 2.42 on amd64 prints it. */
static void go_math_edge_cases(void **state)
{
    (void)state;
    /* Go's assembly Log reads a subnormal's bit fields as if it were normal. */
    assert_same(-709.0895657128241, fn1(PQ_FN_LN, 5e-324));
    assert_same(-307.9536855642528, fn1(PQ_FN_LOG10, 5e-324));
    /* log2 goes through Frexp, which does normalise: exactly -1074. */
    assert_same(-1074, fn1(PQ_FN_LOG2, 5e-324));
    /* Go's Exp reaches into the subnormal range and stops below it. */
    assert_same(4.2e-322, fn1(PQ_FN_EXP, -740));
    assert_same(5e-324, fn1(PQ_FN_EXP, -745));
    assert_same(0, fn1(PQ_FN_EXP, -746));
    assert_same(INFINITY, fn1(PQ_FN_EXP, 709.79));
    assert_same(0, fn1(PQ_FN_EXP, -INFINITY));
    /* sinh and cosh halve exp(x) past 21, so they overflow before the true value would. */
    assert_same(INFINITY, fn1(PQ_FN_SINH, 710));
    assert_same(INFINITY, fn1(PQ_FN_COSH, -710));
    assert_same(-INFINITY, fn1(PQ_FN_SINH, -710));
    assert_same(1, fn1(PQ_FN_TANH, 45));
    assert_same(-0.0, fn1(PQ_FN_TANH, -0.0));
    assert_same(0.2913126124515909, fn1(PQ_FN_TANH, 0.3));
    assert_same(0.3045202934471426, fn1(PQ_FN_SINH, 0.3));
    assert_same(1.0453385141288605, fn1(PQ_FN_COSH, 0.3));
}

/* Trigonometry goes through the C library: the same answer to within an ulp or so. */
static void trigonometry_and_angles(void **state)
{
    (void)state;
    static const pq_fn_id fns[] = {PQ_FN_SIN,  PQ_FN_COS,   PQ_FN_TAN,   PQ_FN_ASIN, PQ_FN_ACOS,
                                   PQ_FN_ATAN, PQ_FN_ASINH, PQ_FN_ACOSH, PQ_FN_ATANH};
    static double (*const libm[])(double) = {sin, cos, tan, asin, acos, atan, asinh, acosh, atanh};
    static const double xs[] = {0.25, -0.5, 0.75, 1.5, 3};
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
            double want = libm[f](xs[i]), got = fn1(fns[f], xs[i]);
            if (isnan(want))
                assert_true(isnan(got));
            else
                assert_true(fabs(got - want) <= 1e-15 * fabs(want));
        }
    }
    assert_same(180, fn1(PQ_FN_DEG, M_PI));
    assert_same(M_PI, fn1(PQ_FN_RAD, 180));
    assert_same(INFINITY, fn1(PQ_FN_ATANH, 1));
    assert_true(isnan(fn1(PQ_FN_ACOSH, 0.5)));
}

static void sgn_of_every_kind_of_value(void **state)
{
    (void)state;
    assert_same(-1, fn1(PQ_FN_SGN, -INFINITY));
    assert_same(1, fn1(PQ_FN_SGN, INFINITY));
    assert_true(isnan(fn1(PQ_FN_SGN, NAN)));
    assert_same(-1, fn1(PQ_FN_SGN, -50));
    assert_same(0, fn1(PQ_FN_SGN, 0));
    assert_same(-0.0, fn1(PQ_FN_SGN, -0.0));
    assert_same(1, fn1(PQ_FN_SGN, 100));
    assert_same(1, fn1(PQ_FN_SGN, 5e-324));
}

/* round(v, to) = floor(v * (1/to) + 0.5) / (1/to): ties go up, also below zero. */
static void round_to_nearest_rounds_ties_up(void **state)
{
    (void)state;
    assert_same(3, vigil__pq_value_fn(PQ_FN_ROUND, 2.5, (double[]){1}));
    assert_same(-2, vigil__pq_value_fn(PQ_FN_ROUND, -2.5, (double[]){1}));
    assert_same(-0.0 + 0, vigil__pq_value_fn(PQ_FN_ROUND, -0.4, (double[]){1}));
    assert_same(3, vigil__pq_value_fn(PQ_FN_ROUND, 2.5, NULL)); /* to_nearest omitted */
    assert_same(floor(0.15 * (1 / 0.1) + 0.5) / (1 / 0.1),
                vigil__pq_value_fn(PQ_FN_ROUND, 0.15, (double[]){0.1}));
    assert_same(0.2, vigil__pq_value_fn(PQ_FN_ROUND, 0.15, (double[]){0.1}));
    assert_same(10, vigil__pq_value_fn(PQ_FN_ROUND, 7.5, (double[]){5}));
    assert_same(1, vigil__pq_value_fn(PQ_FN_ROUND, 1.005, (double[]){0.01}));
    assert_true(isnan(vigil__pq_value_fn(PQ_FN_ROUND, 5, (double[]){0})));
    assert_true(isnan(vigil__pq_value_fn(PQ_FN_ROUND, 5, (double[]){INFINITY})));
    assert_same(INFINITY, vigil__pq_value_fn(PQ_FN_ROUND, INFINITY, (double[]){1}));
}

static void clamp_as_in_functions_test(void **state)
{
    (void)state;
    static const double in[] = {-50, 0, 100};
    static const double clamp_max_75[] = {-50, 0, 75}, clamp_min_m25[] = {-25, 0, 100};
    static const double clamp_both[] = {-25, 0, 75};
    for (int i = 0; i < 3; i++) {
        assert_same(clamp_max_75[i], vigil__pq_value_fn(PQ_FN_CLAMP_MAX, in[i], (double[]){75}));
        assert_same(clamp_min_m25[i], vigil__pq_value_fn(PQ_FN_CLAMP_MIN, in[i], (double[]){-25}));
        assert_same(clamp_both[i], vigil__pq_value_fn(PQ_FN_CLAMP, in[i], (double[]){-25, 75}));
        /* A NaN bound makes every result NaN (Go's Max and Min propagate NaN). */
        assert_true(isnan(vigil__pq_value_fn(PQ_FN_CLAMP, in[i], (double[]){0, NAN})));
        assert_true(isnan(vigil__pq_value_fn(PQ_FN_CLAMP, in[i], (double[]){NAN, 0})));
    }
    assert_false(vigil__pq_value_fn_drops(PQ_FN_CLAMP, (double[]){-25, 75}));
    assert_false(vigil__pq_value_fn_drops(PQ_FN_CLAMP, (double[]){0, NAN}));
    assert_false(vigil__pq_value_fn_drops(PQ_FN_CLAMP, (double[]){3, 3}));
    /* min > max: no sample at all. */
    assert_true(vigil__pq_value_fn_drops(PQ_FN_CLAMP, (double[]){5, -5}));
    assert_false(vigil__pq_value_fn_drops(PQ_FN_CLAMP_MIN, (double[]){5}));
    assert_false(vigil__pq_value_fn_drops(PQ_FN_ABS, NULL));
}

/* Go's Max/Min: an infinity on the winning side beats NaN; +0 beats -0 in max, -0 in min. */
static void clamp_follows_go_min_and_max(void **state)
{
    (void)state;
    assert_same(INFINITY, vigil__pq_value_fn(PQ_FN_CLAMP_MIN, NAN, (double[]){INFINITY}));
    assert_true(isnan(vigil__pq_value_fn(PQ_FN_CLAMP_MIN, NAN, (double[]){-INFINITY})));
    assert_same(-INFINITY, vigil__pq_value_fn(PQ_FN_CLAMP_MAX, NAN, (double[]){-INFINITY}));
    assert_true(isnan(vigil__pq_value_fn(PQ_FN_CLAMP, NAN, (double[]){-INFINITY, INFINITY})));
    assert_same(0.0, vigil__pq_value_fn(PQ_FN_CLAMP_MIN, -0.0, (double[]){0.0}));
    assert_same(-0.0, vigil__pq_value_fn(PQ_FN_CLAMP_MAX, 0.0, (double[]){-0.0}));
    assert_same(0.0, vigil__pq_value_fn(PQ_FN_CLAMP, -0.0, (double[]){0.0, 0.0}));
}

/* --- calendar ------------------------------------------------------------------------------- */

typedef struct date_case {
    double unix_seconds;
    double year, month, day_of_month, day_of_year, day_of_week, hour, minute, days_in_month;
} date_case;

static void check_date(const date_case *c)
{
    double x = c->unix_seconds;
    assert_same(c->year, fn1(PQ_FN_YEAR, x));
    assert_same(c->month, fn1(PQ_FN_MONTH, x));
    assert_same(c->day_of_month, fn1(PQ_FN_DAY_OF_MONTH, x));
    assert_same(c->day_of_year, fn1(PQ_FN_DAY_OF_YEAR, x));
    assert_same(c->day_of_week, fn1(PQ_FN_DAY_OF_WEEK, x));
    assert_same(c->hour, fn1(PQ_FN_HOUR, x));
    assert_same(c->minute, fn1(PQ_FN_MINUTE, x));
    assert_same(c->days_in_month, fn1(PQ_FN_DAYS_IN_MONTH, x));
}

static void calendar_functions_in_utc(void **state)
{
    (void)state;
    static const date_case cases[] = {
        /* 1970-01-01 00:00:00, a Thursday. */
        {0, 1970, 1, 1, 1, 4, 0, 0, 31},
        /* 2006-01-02 22:04:05, a Monday. */
        {1136239445, 2006, 1, 2, 2, 1, 22, 4, 31},
        /* Around the 2008 leap second, which Unix time does not count. */
        {1230767999, 2008, 12, 31, 366, 3, 23, 59, 31},
        {1230768000, 2009, 1, 1, 1, 4, 0, 0, 31},
        /* 2016-02-29 23:59:59 and 2016-03-01 00:00:00. */
        {1456790399, 2016, 2, 29, 60, 1, 23, 59, 29},
        {1456790400, 2016, 3, 1, 61, 2, 0, 0, 31},
        /* 2016-12-31 13:37:00, day 366; 2022-12-31 13:37:00, day 365. */
        {1483191420, 2016, 12, 31, 366, 6, 13, 37, 31},
        {1672493820, 2022, 12, 31, 365, 6, 13, 37, 31},
        /* February 1st of 2016 (leap) and 2017. */
        {1454284800, 2016, 2, 1, 32, 1, 0, 0, 29},
        {1485907200, 2017, 2, 1, 32, 3, 0, 0, 28},
        /* Fractions are cut towards zero, also before 1970: -0.5 is 00:00:00 on 1970-01-01. */
        {-0.5, 1970, 1, 1, 1, 4, 0, 0, 31},
        {-1, 1969, 12, 31, 365, 3, 23, 59, 31},
        /* 2000 is a leap year although divisible by 100; 1900 is not. */
        {951782400, 2000, 2, 29, 60, 2, 0, 0, 29},
        {-2203891200, 1900, 3, 1, 60, 4, 0, 0, 31},
        /* 0001-01-01 minus one second is 0000-12-31. */
        {-62135596801, 0, 12, 31, 366, 0, 23, 59, 31},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_date(&cases[i]);
}

/* Go converts NaN, ±Inf and values out of int64's range to the minimum int64 (amd64's
 * "integer indefinite"); Prometheus then prints the date of that instant, year 292277026596
 * after Go's wrap-around arithmetic. */
static void dates_of_nan_and_huge_values_are_go_s(void **state)
{
    (void)state;
    static const double weird[] = {NAN, INFINITY, -INFINITY, 1e300, -9.3e18};
    double want_year = fn1(PQ_FN_YEAR, (double)INT64_MIN);
    assert_same(292277026596, want_year);
    for (size_t i = 0; i < sizeof weird / sizeof weird[0]; i++) {
        assert_same(want_year, fn1(PQ_FN_YEAR, weird[i]));
        assert_same(fn1(PQ_FN_DAY_OF_YEAR, (double)INT64_MIN), fn1(PQ_FN_DAY_OF_YEAR, weird[i]));
        assert_same(fn1(PQ_FN_HOUR, (double)INT64_MIN), fn1(PQ_FN_HOUR, weird[i]));
    }
    assert_same(31, fn1(PQ_FN_DAYS_IN_MONTH, NAN));
    assert_same(15, fn1(PQ_FN_HOUR, NAN));
    assert_same(339, fn1(PQ_FN_DAY_OF_YEAR, NAN));
    /* Just inside int64's range the instant is a real one. */
    assert_same(291536396232, fn1(PQ_FN_YEAR, 9.2e18));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_ln_sqrt_log_as_in_functions_test),
        cmocka_unit_test(go_math_edge_cases),
        cmocka_unit_test(trigonometry_and_angles),
        cmocka_unit_test(sgn_of_every_kind_of_value),
        cmocka_unit_test(round_to_nearest_rounds_ties_up),
        cmocka_unit_test(clamp_as_in_functions_test),
        cmocka_unit_test(clamp_follows_go_min_and_max),
        cmocka_unit_test(calendar_functions_in_utc),
        cmocka_unit_test(dates_of_nan_and_huge_values_are_go_s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
