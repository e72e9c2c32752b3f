/* test_funcs_range.c — the range-vector functions (rate, deriv, holt_winters, *_over_time, ...)
 * against hand-computed windows and against the expected values of Prometheus 2.42's own
 * functions.test, whose `load` series are rebuilt here sample by sample. Values that 2.42
 * prints to the last digit are compared bit for bit; values the script rounds are compared
 * within 1e-12 relative. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/core_int.h"
#include "promql/funcs.h"

#define SEC INT64_C(1000)
#define MIN (60 * SEC)
#define MAX_SAMPLES 4096

/* One loaded series: samples at multiples of the load step, as the test scripts lay them. */
typedef struct series {
    int64_t t[MAX_SAMPLES];
    double v[MAX_SAMPLES];
    size_t n;
    int64_t step;
} series;

static void series_init(series *s, int64_t step)
{
    s->n = 0;
    s->step = step;
}

static void append(series *s, double v)
{
    assert_true(s->n < MAX_SAMPLES);
    s->t[s->n] = (int64_t)s->n * s->step;
    s->v[s->n] = v;
    s->n++;
}

/* The scripts' expanding notation `start+incxtimes`: times + 1 samples. */
static void append_run(series *s, double start, double inc, int times)
{
    for (int i = 0; i <= times; i++)
        append(s, start + inc * i);
}

static void append_values(series *s, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        append(s, v[i]);
}

/* f(s[range] offset off) evaluated at eval_t: the samples in [eval_t - off - range,
 * eval_t - off]. Returns whether the function produced a sample. */
static bool eval_range(pq_fn_id id, const series *s, int64_t eval_t, int64_t range, int64_t off,
                       const double *args, double *out)
{
    pq_window w = {.range_end = eval_t - off, .eval_t = eval_t};
    w.range_start = w.range_end - range;
    size_t first = 0;
    while (first < s->n && s->t[first] < w.range_start)
        first++;
    size_t end = first;
    while (end < s->n && s->t[end] <= w.range_end)
        end++;
    w.t = s->t + first;
    w.v = s->v + first;
    w.n = end - first;
    vigil_status status = VIGIL_ENOMEM;
    bool ok = vigil__pq_range_fn(id, &w, args, out, &status);
    assert_int_equal(status, VIGIL_OK);
    return ok;
}

static double must_eval(pq_fn_id id, const series *s, int64_t eval_t, int64_t range,
                        const double *args)
{
    double out = NAN;
    assert_true(eval_range(id, s, eval_t, range, 0, args, &out));
    return out;
}

/* The same double (NaNs of any payload count as one). */
static void assert_same(double expected, double actual)
{
    if (isnan(expected) && isnan(actual))
        return;
    if (memcmp(&expected, &actual, sizeof expected) != 0)
        fail_msg("expected %.17g, got %.17g", expected, actual);
}

static void assert_near(double expected, double actual)
{
    if (isinf(expected) || expected == 0) {
        assert_same(expected, actual);
        return;
    }
    if (!(fabs(actual - expected) <= 1e-12 * fabs(expected)))
        fail_msg("expected %.17g, got %.17g", expected, actual);
}

static series *new_series(int64_t step)
{
    series *s = vigil__malloc(sizeof *s);
    assert_non_null(s);
    series_init(s, step);
    return s;
}

/* --- functions.test: resets() and changes() ------------------------------------------------ */

static void resets_and_changes_count_over_the_window(void **state)
{
    (void)state;
    static const double foo[] = {1, 2, 3, 0, 1, 0, 0, 1, 2, 0};
    static const double bar[] = {1, 2, 3, 4, 5, 1, 2, 3, 4, 5};
    static const double biz[] = {0, 0, 0, 0, 0, 1, 1, 1, 1, 1};
    static const int64_t ranges[] = {5, 20, 30, 50};
    static const double want_resets[3][4] = {{0, 1, 2, 3}, {0, 0, 1, 1}, {0, 0, 0, 0}};
    static const double want_changes[3][4] = {{0, 3, 4, 8}, {0, 3, 5, 9}, {0, 0, 1, 1}};
    const double *values[3] = {foo, bar, biz};
    series *s = new_series(5 * MIN);
    for (int k = 0; k < 3; k++) {
        series_init(s, 5 * MIN);
        append_values(s, values[k], 10);
        for (int r = 0; r < 4; r++) {
            assert_same(want_resets[k][r],
                        must_eval(PQ_FN_RESETS, s, 50 * MIN, ranges[r] * MIN, NULL));
            assert_same(want_changes[k][r],
                        must_eval(PQ_FN_CHANGES, s, 50 * MIN, ranges[r] * MIN, NULL));
        }
    }
    vigil__free(s);
}

static void changes_treats_nan_to_nan_as_no_change(void **state)
{
    (void)state;
    series *s = new_series(5 * MIN);
    append_values(s, (const double[]){NAN, NAN, NAN}, 3);
    assert_same(0, must_eval(PQ_FN_CHANGES, s, 15 * MIN, 15 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_values(s, (const double[]){0, NAN, 0}, 3);
    assert_same(2, must_eval(PQ_FN_CHANGES, s, 15 * MIN, 15 * MIN, NULL));
    /* A NaN is never below anything, so it is no reset either. */
    assert_same(0, must_eval(PQ_FN_RESETS, s, 15 * MIN, 15 * MIN, NULL));
    vigil__free(s);
}

/* --- functions.test: increase(), rate(), irate(), delta(), idelta() -------------------------- */

static void increase_covers_the_range_and_counts_resets(void **state)
{
    (void)state;
    series *s = new_series(5 * MIN);
    append_run(s, 0, 10, 10);
    assert_same(100, must_eval(PQ_FN_INCREASE, s, 50 * MIN, 50 * MIN, NULL));
    assert_same(100, must_eval(PQ_FN_INCREASE, s, 50 * MIN, 100 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_run(s, 0, 10, 5);
    append_run(s, 0, 10, 5);
    assert_same(90, must_eval(PQ_FN_INCREASE, s, 50 * MIN, 50 * MIN, NULL));
    assert_same(90, must_eval(PQ_FN_INCREASE, s, 50 * MIN, 100 * MIN, NULL));
    /* 3 then 2 is read as 3, 0, 1, 2: a reset adds the value before it. */
    series_init(s, 5 * MIN);
    append_values(s, (const double[]){0, 1, 2, 3, 2, 3, 4}, 7);
    assert_same(7, must_eval(PQ_FN_INCREASE, s, 30 * MIN, 30 * MIN, NULL));
    vigil__free(s);
}

static void rate_is_per_second_and_ignores_a_reset_at_the_end(void **state)
{
    (void)state;
    series *s = new_series(5 * MIN);
    append_run(s, 0, 10, 4);
    append_run(s, 0, 10, 5);
    assert_near(0.03, must_eval(PQ_FN_RATE, s, 50 * MIN, 50 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_run(s, 0, 10, 9);
    append_values(s, (const double[]){0, 10}, 2);
    assert_same(0, must_eval(PQ_FN_RATE, s, 50 * MIN, 5 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_run(s, 0, 80, 10);
    assert_same(0.26666666666666666, must_eval(PQ_FN_RATE, s, 50 * MIN, 50 * MIN, NULL));
    vigil__free(s);
}

static void rate_with_offset_looks_back(void **state)
{
    (void)state;
    series *s = new_series(5 * MIN);
    append_run(s, 0, 10, 10);
    double out;
    assert_true(eval_range(PQ_FN_RATE, s, 50 * MIN, 10 * MIN, 5 * MIN, NULL, &out));
    assert_same(0.03333333333333333, out);
    series_init(s, 5 * MIN);
    append_run(s, 0, 20, 10);
    assert_true(eval_range(PQ_FN_RATE, s, 50 * MIN, 10 * MIN, 5 * MIN, NULL, &out));
    assert_same(0.06666666666666667, out);
    vigil__free(s);
}

static void rate_does_not_extrapolate_a_counter_below_zero(void **state)
{
    (void)state;
    static const double want_at_10m[] = {0.5, 0.55, 0.6, 0.65, 0.7, 0.6};
    series *s = new_series(4 * MIN);
    for (int k = 0; k < 6; k++) {
        series_init(s, 4 * MIN);
        append_run(s, 60.0 * k, 240, 10);
        assert_near(want_at_10m[k], must_eval(PQ_FN_RATE, s, 10 * MIN, 20 * MIN, NULL));
        assert_near(0.6, must_eval(PQ_FN_RATE, s, 50 * MIN, 20 * MIN, NULL));
    }
    vigil__free(s);
}

static void irate_uses_the_last_two_samples_and_handles_a_reset(void **state)
{
    (void)state;
    series *s = new_series(5 * MIN);
    append_run(s, 0, 10, 10);
    assert_same(.03333333333333333333, must_eval(PQ_FN_IRATE, s, 50 * MIN, 50 * MIN, NULL));
    assert_same(.03333333333333333333, must_eval(PQ_FN_IRATE, s, 30 * MIN, 50 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_run(s, 0, 10, 5);
    append_run(s, 0, 10, 5);
    assert_same(.03333333333333333333, must_eval(PQ_FN_IRATE, s, 50 * MIN, 50 * MIN, NULL));
    /* 50 then 0: the reset makes the increase the last value itself. */
    assert_same(0, must_eval(PQ_FN_IRATE, s, 30 * MIN, 50 * MIN, NULL));
    vigil__free(s);
}

static void delta_and_idelta_keep_the_sign(void **state)
{
    (void)state;
    series *s = new_series(5 * MIN);
    append_values(s, (const double[]){0, 50, 100, 150, 200}, 5);
    assert_same(200, must_eval(PQ_FN_DELTA, s, 20 * MIN, 20 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_values(s, (const double[]){200, 150, 100, 50, 0}, 5);
    assert_same(-200, must_eval(PQ_FN_DELTA, s, 20 * MIN, 20 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_values(s, (const double[]){0, 50, 100, 150}, 4);
    assert_same(50, must_eval(PQ_FN_IDELTA, s, 20 * MIN, 20 * MIN, NULL));
    series_init(s, 5 * MIN);
    append_values(s, (const double[]){0, 50, 100, 50}, 4);
    assert_same(-50, must_eval(PQ_FN_IDELTA, s, 20 * MIN, 20 * MIN, NULL));
    vigil__free(s);
}

/* --- hand-computed extrapolation ------------------------------------------------------------ */

/* Samples at 10 s .. 50 s in [0, 60 s]: 10 s to each edge, under 1.1 x the 10 s spacing, so
 * the 4 of increase over 40 s extends to the full 60 s: 6, or 0.1/s. */
static void rate_extrapolates_to_both_edges_when_samples_come_close(void **state)
{
    (void)state;
    static const int64_t t[] = {10 * SEC, 20 * SEC, 30 * SEC, 40 * SEC, 50 * SEC};
    static const double v[] = {1, 2, 3, 4, 5};
    pq_window w = {t, v, 5, 0, 60 * SEC, 60 * SEC};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_INCREASE, &w, NULL, &out, &st));
    assert_same(4.0 * (60.0 / 40.0), out);
    assert_true(vigil__pq_range_fn(PQ_FN_RATE, &w, NULL, &out, &st));
    assert_same(4.0 * ((60.0 / 40.0) / 60.0), out);
    /* delta is not a counter: no zero cut-off, same edges. */
    assert_true(vigil__pq_range_fn(PQ_FN_DELTA, &w, NULL, &out, &st));
    assert_same(4.0 * (60.0 / 40.0), out);
}

/* The line through 0.5 .. 4.5 reaches zero 5 s before the first sample: the start is cut
 * there (5 s) instead of at the window's edge (10 s); delta still goes to the edge. */
static void increase_stops_where_the_counter_would_reach_zero(void **state)
{
    (void)state;
    static const int64_t t[] = {10 * SEC, 20 * SEC, 30 * SEC, 40 * SEC, 50 * SEC};
    static const double v[] = {0.5, 1.5, 2.5, 3.5, 4.5};
    pq_window w = {t, v, 5, 0, 60 * SEC, 60 * SEC};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_INCREASE, &w, NULL, &out, &st));
    assert_same(4.0 * ((40.0 + 5.0 + 10.0) / 40.0), out);
    assert_true(vigil__pq_range_fn(PQ_FN_DELTA, &w, NULL, &out, &st));
    assert_same(4.0 * ((40.0 + 10.0 + 10.0) / 40.0), out);
}

/* Samples 50 s .. 90 s in [0, 100 s]: 50 s before the first is past the 11 s threshold, so
 * the start extends only half a spacing (5 s); the end, 10 s away, all the way. */
static void rate_extends_half_a_spacing_where_the_series_starts_inside(void **state)
{
    (void)state;
    static const int64_t t[] = {50 * SEC, 60 * SEC, 70 * SEC, 80 * SEC, 90 * SEC};
    static const double v[] = {-4, -3, -2, -1, 0};
    pq_window w = {t, v, 5, 0, 100 * SEC, 100 * SEC};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_DELTA, &w, NULL, &out, &st));
    assert_same(4.0 * ((40.0 + 5.0 + 10.0) / 40.0), out);
}

/* 2.42 cuts the start at the counter's zero point first and only then compares with the
 * threshold: 1, 2, 3, 4, 6 at 50 s .. 90 s in [0, 100 s] reach zero 8 s before the first
 * sample; 8 s is under the 11 s threshold, so the start extends 8 s (later Prometheus versions
 * compare first and extend min(5 s, 8 s)). Prometheus 2.42 gives 7.25. */
static void the_zero_point_is_taken_before_the_threshold_test(void **state)
{
    (void)state;
    static const int64_t t[] = {50 * SEC, 60 * SEC, 70 * SEC, 80 * SEC, 90 * SEC};
    static const double v[] = {1, 2, 3, 4, 6};
    pq_window w = {t, v, 5, 0, 100 * SEC, 100 * SEC};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_INCREASE, &w, NULL, &out, &st));
    assert_same(5.0 * ((40.0 + 8.0 + 10.0) / 40.0), out);
    assert_same(7.25, out);
}

/* 10, 2, 4: the drop after the first sample is a reset, so the increase is 10 + 4 - 10 = 4
 * over 2 s, extrapolated 1 s each way (a zero cut-off at 2 s * 10/4 does not bite). */
static void a_reset_right_after_the_first_sample_counts(void **state)
{
    (void)state;
    static const int64_t t[] = {1 * SEC, 2 * SEC, 3 * SEC};
    static const double v[] = {10, 2, 4};
    pq_window w = {t, v, 3, 0, 4 * SEC, 4 * SEC};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_INCREASE, &w, NULL, &out, &st));
    assert_same(4.0 * (4.0 / 2.0), out);
    assert_true(vigil__pq_range_fn(PQ_FN_RESETS, &w, NULL, &out, &st));
    assert_same(1, out);
    /* irate sees only 2 -> 4. */
    assert_true(vigil__pq_range_fn(PQ_FN_IRATE, &w, NULL, &out, &st));
    assert_same(2, out);
}

/* Only differences of timestamps enter the arithmetic: the same window moved by a huge
 * offset (or before 1970) gives the same bits. */
static void rate_and_deriv_depend_only_on_relative_time(void **state)
{
    (void)state;
    static const int64_t base[] = {3 * SEC, 18 * SEC + 7, 33 * SEC, 48 * SEC - 11, 63 * SEC};
    static const double v[] = {100, 130.5, 140, 171.25, 2};
    static const int64_t shifts[] = {INT64_C(4000000000000000), INT64_C(-86400000000),
                                     INT64_C(1700000000123)};
    static const pq_fn_id fns[] = {PQ_FN_RATE,   PQ_FN_INCREASE, PQ_FN_DELTA,       PQ_FN_IRATE,
                                   PQ_FN_IDELTA, PQ_FN_DERIV,    PQ_FN_HOLT_WINTERS};
    static const double hw_args[] = {0.3, 0.6};
    pq_window w0 = {base, v, 5, 0, 66 * SEC, 66 * SEC};
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        double want, got;
        vigil_status st;
        assert_true(vigil__pq_range_fn(fns[f], &w0, hw_args, &want, &st));
        for (size_t k = 0; k < sizeof shifts / sizeof shifts[0]; k++) {
            int64_t t[5];
            for (int i = 0; i < 5; i++)
                t[i] = base[i] + shifts[k];
            pq_window w = {t, v, 5, shifts[k], 66 * SEC + shifts[k], 66 * SEC + shifts[k]};
            assert_true(vigil__pq_range_fn(fns[f], &w, hw_args, &got, &st));
            assert_same(want, got);
        }
    }
}

/* A range that is not a whole number of seconds divides the way Go's Duration.Seconds()
 * builds the divisor: whole seconds plus the remainder over 1e9 nanoseconds. For 1118 ms that
 * is 1.1179999999999999, one bit away from 1118 / 1000. */
static void rate_divides_by_the_range_in_seconds(void **state)
{
    (void)state;
    static const int64_t t[] = {0, 1118};
    static const double v[] = {0, 11};
    pq_window w = {t, v, 2, 0, 1118, 1118};
    double go_seconds = 1.0 + 118000000.0 / 1e9;
    assert_true(go_seconds != 1118 / 1000.0);
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_RATE, &w, NULL, &out, &st));
    assert_same(11.0 * (1.0 / go_seconds), out);
}

/* --- deriv, predict_linear ----------------------------------------------------------------- */

static void deriv_and_predict_linear_match_the_regression(void **state)
{
    (void)state;
    series *s = new_series(5 * MIN);
    append_run(s, 0, 80, 10);
    assert_same(0.26666666666666666, must_eval(PQ_FN_DERIV, s, 50 * MIN, 50 * MIN, NULL));

    series_init(s, 5 * MIN);
    append_run(s, 0, 10, 4);
    append_run(s, 0, 10, 5);
    assert_same(0.010606060606060607, must_eval(PQ_FN_DERIV, s, 50 * MIN, 100 * MIN, NULL));
    assert_same(76.81818181818181,
                must_eval(PQ_FN_PREDICT_LINEAR, s, 50 * MIN, 100 * MIN, (double[]){3600}));

    /* `@ 3000`: the window stays at 0..3000 s while the intercept moves with eval time. */
    pq_window w = {s->t, s->v, s->n, 3000 * SEC - 100 * MIN, 3000 * SEC, 10 * MIN};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_PREDICT_LINEAR, &w, (double[]){3600}, &out, &st));
    assert_same(51.36363636363637, out);
    w.eval_t = 70 * MIN;
    assert_true(vigil__pq_range_fn(PQ_FN_PREDICT_LINEAR, &w, (double[]){3600}, &out, &st));
    assert_same(89.54545454545455, out);
    vigil__free(s);
}

static void a_constant_series_has_slope_zero_unless_infinite(void **state)
{
    (void)state;
    static const int64_t t[] = {0, 1000, 2000};
    double v[] = {0.1, 0.1, 0.1};
    pq_window w = {t, v, 3, 0, 2000, 2000};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_DERIV, &w, NULL, &out, &st));
    assert_same(0, out);
    assert_true(vigil__pq_range_fn(PQ_FN_PREDICT_LINEAR, &w, (double[]){100}, &out, &st));
    assert_same(0.1, out);
    v[0] = v[1] = v[2] = INFINITY;
    assert_true(vigil__pq_range_fn(PQ_FN_DERIV, &w, NULL, &out, &st));
    assert_true(isnan(out));
    assert_true(vigil__pq_range_fn(PQ_FN_PREDICT_LINEAR, &w, (double[]){100}, &out, &st));
    assert_true(isnan(out));
}

/* --- holt_winters --------------------------------------------------------------------------- */

static void holt_winters_follows_a_linear_trend(void **state)
{
    (void)state;
    /* The script's four series at 8000 s over [1m], with sf 0.01 and tf 0.1. */
    static const struct {
        double start1, inc1, start2, inc2;
        int times1, times2;
        double want;
    } cases[] = {
        {0, 10, 100, 30, 1000, 1000, 8000},   {0, 20, 200, 30, 1000, 1000, 16000},
        {0, 30, 300, 80, 1000, 1000, 24000},  {0, 40, 0, 0, 2000, -1, 32000},
        {8000, -10, 0, 0, 1000, -1, 0},       {0, -20, 0, 0, 1000, -1, -16000},
        {0, 30, 300, -80, 1000, 1000, 24000}, {0, -40, 0, 40, 1000, 1000, -32000},
    };
    series *s = new_series(10 * SEC);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        series_init(s, 10 * SEC);
        append_run(s, cases[k].start1, cases[k].inc1, cases[k].times1);
        if (cases[k].times2 >= 0)
            append_run(s, cases[k].start2, cases[k].inc2, cases[k].times2);
        assert_near(cases[k].want,
                    must_eval(PQ_FN_HOLT_WINTERS, s, 8000 * SEC, MIN, (double[]){0.01, 0.1}));
    }
    vigil__free(s);
}

/* Two samples: the first difference is the trend, one smoothing step. */
static void holt_winters_by_hand(void **state)
{
    (void)state;
    static const int64_t t[] = {0, 1000, 2000};
    static const double v[] = {1, 3, 4};
    pq_window w = {t, v, 3, 0, 2000, 2000};
    double sf = 0.5, tf = 0.25, out;
    vigil_status st;
    /* s1 = 1, b = 2; i=1: s1 = 0.5*3 + 0.5*(1+2) = 3; i=2: b = 0.25*(3-1) + 0.75*2 = 2,
     * s1 = 0.5*4 + 0.5*(3+2) = 4.5. */
    assert_true(vigil__pq_range_fn(PQ_FN_HOLT_WINTERS, &w, (double[]){sf, tf}, &out, &st));
    assert_same(4.5, out);
    w.n = 1;
    assert_false(vigil__pq_range_fn(PQ_FN_HOLT_WINTERS, &w, (double[]){sf, tf}, &out, &st));
    assert_int_equal(st, VIGIL_OK);
}

static void holt_winters_rejects_factors_outside_the_open_unit_interval(void **state)
{
    (void)state;
    static const int64_t t[] = {0, 1000};
    static const double v[] = {1, 2};
    pq_window w = {t, v, 2, 0, 1000, 1000};
    double out;
    vigil_status st;
    assert_false(vigil__pq_range_fn(PQ_FN_HOLT_WINTERS, &w, (double[]){1, 0.5}, &out, &st));
    assert_int_equal(st, VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(),
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000");
    assert_false(vigil__pq_range_fn(PQ_FN_HOLT_WINTERS, &w, (double[]){0.5, 0}, &out, &st));
    assert_int_equal(st, VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(),
                        "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000");
    assert_false(vigil__pq_range_fn(PQ_FN_HOLT_WINTERS, &w, (double[]){-INFINITY, 0.5}, &out, &st));
    assert_string_equal(vigil_errmsg(),
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: -Inf");
    /* The check comes before the sample count, as in Prometheus: one sample still fails. */
    w.n = 1;
    assert_false(vigil__pq_range_fn(PQ_FN_HOLT_WINTERS, &w, (double[]){2, 0.5}, &out, &st));
    assert_int_equal(st, VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(),
                        "invalid smoothing factor. Expected: 0 < sf < 1, got: 2.000000");
}

/* --- *_over_time ---------------------------------------------------------------------------- */

static void avg_over_time_keeps_infinities_and_avoids_overflow(void **state)
{
    (void)state;
    static const double big = 9.988465674311579e+307;
    static const struct {
        double v[5];
        size_t n;
        double avg, sum;
    } cases[] = {
        {{1, 2, 3, 4, 5}, 5, 3, 15},
        {{1, 2, 3, 4, INFINITY}, 5, INFINITY, INFINITY},
        {{1, 2, 3, 4, -INFINITY}, 5, -INFINITY, -INFINITY},
        {{1, 2, 3, INFINITY, -INFINITY}, 5, NAN, NAN},
        {{INFINITY, 0, INFINITY}, 3, INFINITY, INFINITY},
        {{INFINITY, INFINITY, INFINITY, -INFINITY}, 4, NAN, NAN},
        {{1, 2, 3, -INFINITY, -INFINITY}, 5, -INFINITY, -INFINITY},
        {{-INFINITY, 0, -INFINITY}, 3, -INFINITY, -INFINITY},
        {{-INFINITY, -INFINITY, -INFINITY, INFINITY}, 4, NAN, NAN},
        {{1, 2, -INFINITY, -INFINITY, INFINITY}, 5, NAN, NAN},
        {{big, big}, 2, big, INFINITY},
        {{-big, -big, -big}, 3, -big, -INFINITY},
        {{-big, big}, 2, 0, 0},
    };
    series *s = new_series(10 * SEC);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        series_init(s, 10 * SEC);
        append_values(s, cases[k].v, cases[k].n);
        assert_same(cases[k].avg, must_eval(PQ_FN_AVG_OVER_TIME, s, MIN, MIN, NULL));
        assert_same(cases[k].sum, must_eval(PQ_FN_SUM_OVER_TIME, s, MIN, MIN, NULL));
        assert_same((double)cases[k].n, must_eval(PQ_FN_COUNT_OVER_TIME, s, MIN, MIN, NULL));
    }
    vigil__free(s);
}

/* 1e100 + 1 - 1e100: a plain sum loses the 1, 2.42's compensated sum keeps it. Its mean
 * compensates only the running mean's increments, and the increment 1/2 - 1e100/2 has already
 * lost the 1/2 before compensation, so avg_over_time gives 0 there as Prometheus does. */
static void sum_over_time_is_compensated(void **state)
{
    (void)state;
    series *s = new_series(10 * SEC);
    append_values(s, (const double[]){1e100, 1, -1e100}, 3);
    assert_same(1, must_eval(PQ_FN_SUM_OVER_TIME, s, MIN, MIN, NULL));
    assert_same(0, must_eval(PQ_FN_AVG_OVER_TIME, s, MIN, MIN, NULL));
    vigil__free(s);
}

static void stddev_and_stdvar_over_time(void **state)
{
    (void)state;
    series *s = new_series(10 * SEC);
    append_values(s, (const double[]){0, 8, 8, 2, 3}, 5);
    assert_near(10.56, must_eval(PQ_FN_STDVAR_OVER_TIME, s, MIN, MIN, NULL));
    assert_near(sqrt(10.56), must_eval(PQ_FN_STDDEV_OVER_TIME, s, MIN, MIN, NULL));
    /* prometheus#4927: identical samples must give exactly 0, not a rounding residue. */
    series_init(s, 10 * SEC);
    append_values(s, (const double[]){1.5990505637277868, 1.5990505637277868, 1.5990505637277868},
                  3);
    assert_same(0, must_eval(PQ_FN_STDVAR_OVER_TIME, s, MIN, MIN, NULL));
    assert_same(0, must_eval(PQ_FN_STDDEV_OVER_TIME, s, MIN, MIN, NULL));
    vigil__free(s);
}

static void quantile_over_time_interpolates_between_ranks(void **state)
{
    (void)state;
    static const double qs[] = {0, 0.5, 0.75, 0.8, 1, -1, 2};
    static const double want[3][7] = {
        {0, 0.5, 0.75, 0.8, 1, -INFINITY, INFINITY},
        {0, 1, 1.5, 1.6, 2, -INFINITY, INFINITY},
        {0, 1, 2.5, 2.8, 4, -INFINITY, INFINITY},
    };
    static const double data[3][3] = {{0, 1, 0}, {0, 1, 2}, {0, 1, 4}};
    static const size_t n[3] = {2, 3, 3};
    series *s = new_series(10 * SEC);
    for (int k = 0; k < 3; k++) {
        series_init(s, 10 * SEC);
        append_values(s, data[k], n[k]);
        for (int i = 0; i < 7; i++)
            assert_near(want[k][i], must_eval(PQ_FN_QUANTILE_OVER_TIME, s, MIN, MIN, &qs[i]));
    }
    vigil__free(s);
}

/* The caller's scratch buffer takes the copy; the window itself is never reordered. */
static void quantile_over_time_uses_the_scratch_and_leaves_the_window(void **state)
{
    (void)state;
    static const int64_t t[] = {0, 1, 2, 3, 4};
    static const double v[] = {5, 1, 4, 2, 3};
    double scratch[5], out, q = 0.25;
    vigil_status st;
    pq_window w = {t, v, 5, 0, 4, 4};
    assert_true(vigil__pq_range_fn_scratch(PQ_FN_QUANTILE_OVER_TIME, &w, &q, scratch, &out, &st));
    assert_int_equal(st, VIGIL_OK);
    assert_same(2, out);
    assert_same(5, v[0]);
    assert_same(3, v[4]);
    /* Other functions need no scratch. */
    assert_true(vigil__pq_range_fn_scratch(PQ_FN_MAX_OVER_TIME, &w, NULL, NULL, &out, &st));
    assert_same(5, out);
}

static void min_max_last_over_time_with_nan(void **state)
{
    (void)state;
    static const struct {
        double v[3];
        double min, max, last;
    } cases[] = {
        {{2, 0, 3}, 0, 3, 3},   {{2, 0, NAN}, 0, 2, NAN},         {{2, NAN, 1}, 1, 2, 1},
        {{NAN, 0, 1}, 0, 1, 1}, {{NAN, NAN, NAN}, NAN, NAN, NAN},
    };
    series *s = new_series(10 * SEC);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        series_init(s, 10 * SEC);
        append_values(s, cases[k].v, 3);
        assert_same(cases[k].min, must_eval(PQ_FN_MIN_OVER_TIME, s, MIN, MIN, NULL));
        assert_same(cases[k].max, must_eval(PQ_FN_MAX_OVER_TIME, s, MIN, MIN, NULL));
        assert_same(cases[k].last, must_eval(PQ_FN_LAST_OVER_TIME, s, MIN, MIN, NULL));
        assert_same(1, must_eval(PQ_FN_PRESENT_OVER_TIME, s, MIN, MIN, NULL));
    }
    vigil__free(s);
}

/* --- edges ---------------------------------------------------------------------------------- */

static const pq_fn_id every_range_fn[] = {
    PQ_FN_RATE,
    PQ_FN_INCREASE,
    PQ_FN_DELTA,
    PQ_FN_IRATE,
    PQ_FN_IDELTA,
    PQ_FN_DERIV,
    PQ_FN_PREDICT_LINEAR,
    PQ_FN_RESETS,
    PQ_FN_CHANGES,
    PQ_FN_HOLT_WINTERS,
    PQ_FN_AVG_OVER_TIME,
    PQ_FN_MIN_OVER_TIME,
    PQ_FN_MAX_OVER_TIME,
    PQ_FN_SUM_OVER_TIME,
    PQ_FN_COUNT_OVER_TIME,
    PQ_FN_LAST_OVER_TIME,
    PQ_FN_PRESENT_OVER_TIME,
    PQ_FN_QUANTILE_OVER_TIME,
    PQ_FN_STDDEV_OVER_TIME,
    PQ_FN_STDVAR_OVER_TIME,
};
#define N_RANGE_FN (sizeof every_range_fn / sizeof every_range_fn[0])

/* Prometheus never calls a function on an empty window, so none yields or fails on one —
 * not even holt_winters with factors it would reject. */
static void an_empty_window_yields_nothing(void **state)
{
    (void)state;
    pq_window w = {NULL, NULL, 0, 0, 1000, 1000};
    double args[2] = {5, 5}, out = 42;
    for (size_t i = 0; i < N_RANGE_FN; i++) {
        vigil_status st = VIGIL_ENOMEM;
        assert_false(vigil__pq_range_fn(every_range_fn[i], &w, args, &out, &st));
        assert_int_equal(st, VIGIL_OK);
    }
    assert_same(42, out);
}

/* One sample: the two-point functions yield nothing, the aggregates describe the sample. */
static void one_sample(void **state)
{
    (void)state;
    static const int64_t t[] = {500};
    static const double v[] = {7.5};
    pq_window w = {t, v, 1, 0, 1000, 1000};
    double args[2] = {0.5, 0.5};
    static const double want[N_RANGE_FN] = {
        NAN, NAN, NAN, NAN, NAN, NAN, NAN, 0, 0, NAN, 7.5, 7.5, 7.5, 7.5, 1, 7.5, 1, 7.5, 0, 0,
    };
    static const bool yields[N_RANGE_FN] = {
        false, false, false, false, false, false, false, true, true, false,
        true,  true,  true,  true,  true,  true,  true,  true, true, true,
    };
    for (size_t i = 0; i < N_RANGE_FN; i++) {
        double out = NAN;
        vigil_status st;
        bool got = vigil__pq_range_fn(every_range_fn[i], &w, args, &out, &st);
        assert_int_equal(st, VIGIL_OK);
        assert_int_equal(got, yields[i]);
        if (got)
            assert_same(want[i], out);
    }
}

/* NaN and infinities flow through the arithmetic as in Go. */
static void nan_and_infinity_propagate(void **state)
{
    (void)state;
    static const int64_t t[] = {0, 1000, 2000};
    double v[] = {1, NAN, 3};
    pq_window w = {t, v, 3, 0, 2000, 2000};
    double out;
    vigil_status st;
    assert_true(vigil__pq_range_fn(PQ_FN_RATE, &w, NULL, &out, &st));
    assert_same(1.0, out); /* only first and last enter, and NaN is never a reset */
    assert_true(vigil__pq_range_fn(PQ_FN_DERIV, &w, NULL, &out, &st));
    assert_true(isnan(out));
    assert_true(vigil__pq_range_fn(PQ_FN_IRATE, &w, NULL, &out, &st));
    assert_true(isnan(out));
    v[1] = 2;
    v[2] = INFINITY;
    assert_true(vigil__pq_range_fn(PQ_FN_DELTA, &w, NULL, &out, &st));
    assert_same(INFINITY, out);
    assert_true(vigil__pq_range_fn(PQ_FN_STDDEV_OVER_TIME, &w, NULL, &out, &st));
    assert_true(isnan(out));
    v[0] = -INFINITY;
    assert_true(vigil__pq_range_fn(PQ_FN_INCREASE, &w, NULL, &out, &st));
    assert_same(INFINITY, out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(resets_and_changes_count_over_the_window),
        cmocka_unit_test(changes_treats_nan_to_nan_as_no_change),
        cmocka_unit_test(increase_covers_the_range_and_counts_resets),
        cmocka_unit_test(rate_is_per_second_and_ignores_a_reset_at_the_end),
        cmocka_unit_test(rate_with_offset_looks_back),
        cmocka_unit_test(rate_does_not_extrapolate_a_counter_below_zero),
        cmocka_unit_test(irate_uses_the_last_two_samples_and_handles_a_reset),
        cmocka_unit_test(delta_and_idelta_keep_the_sign),
        cmocka_unit_test(rate_extrapolates_to_both_edges_when_samples_come_close),
        cmocka_unit_test(increase_stops_where_the_counter_would_reach_zero),
        cmocka_unit_test(rate_extends_half_a_spacing_where_the_series_starts_inside),
        cmocka_unit_test(the_zero_point_is_taken_before_the_threshold_test),
        cmocka_unit_test(a_reset_right_after_the_first_sample_counts),
        cmocka_unit_test(rate_and_deriv_depend_only_on_relative_time),
        cmocka_unit_test(rate_divides_by_the_range_in_seconds),
        cmocka_unit_test(deriv_and_predict_linear_match_the_regression),
        cmocka_unit_test(a_constant_series_has_slope_zero_unless_infinite),
        cmocka_unit_test(holt_winters_follows_a_linear_trend),
        cmocka_unit_test(holt_winters_by_hand),
        cmocka_unit_test(holt_winters_rejects_factors_outside_the_open_unit_interval),
        cmocka_unit_test(avg_over_time_keeps_infinities_and_avoids_overflow),
        cmocka_unit_test(sum_over_time_is_compensated),
        cmocka_unit_test(stddev_and_stdvar_over_time),
        cmocka_unit_test(quantile_over_time_interpolates_between_ranks),
        cmocka_unit_test(quantile_over_time_uses_the_scratch_and_leaves_the_window),
        cmocka_unit_test(min_max_last_over_time_with_nan),
        cmocka_unit_test(an_empty_window_yields_nothing),
        cmocka_unit_test(one_sample),
        cmocka_unit_test(nan_and_infinity_propagate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
