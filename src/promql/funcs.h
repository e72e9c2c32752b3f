/* funcs.h — the numeric heart of PromQL's functions, free of labels and of the evaluator:
 * what a function computes from one series' samples in a window, from one value, or from a
 * set of values. The evaluator (eval*.c) finds the windows and builds the output series; these
 * compute the numbers, with Prometheus 2.42's exact arithmetic (same order of floating-point
 * operations where it changes the last bits, e.g. the Neumaier-compensated sums of
 * sum/avg/stddev/stdvar_over_time, the extrapolation of rate/increase/delta, the regression of
 * deriv/predict_linear). */
#ifndef VIGIL_PROMQL_FUNCS_H
#define VIGIL_PROMQL_FUNCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ast.h"

/* One series' samples inside a range window, oldest first, no stale markers (the evaluator
 * drops them), and the window itself. For `f(x[r] offset o)` evaluated at T:
 * range_start = T - o - r, range_end = T - o (both inclusive in 2.42), eval_t = T. For a
 * subquery the samples are the inner expression's values at its steps. */
typedef struct pq_window {
    const int64_t *t;
    const double *v;
    size_t n;
    int64_t range_start;
    int64_t range_end;
    int64_t eval_t;
} pq_window;

/* Computes a range-vector function (rate irate increase delta idelta deriv predict_linear
 * resets changes holt_winters and every *_over_time except absent_over_time) over w.
 * args are the call's scalar arguments at this step, in call order without the range vector:
 * predict_linear: {t}; quantile_over_time: {q}; holt_winters: {sf, tf}; others: none.
 * Returns false when the function yields no sample here (e.g. rate over fewer than two
 * samples), true with *out set otherwise. Errors that Prometheus raises at evaluation (e.g.
 * holt_winters with sf outside (0, 1)) are returned as VIGIL_EINVAL via *status with the
 * message recorded; *status is VIGIL_OK otherwise. */
bool vigil__pq_range_fn(pq_fn_id id, const pq_window *w, const double *args, double *out,
                        vigil_status *status);

/* As vigil__pq_range_fn, allocating nothing: scratch must hold w->n doubles for
 * quantile_over_time (it is overwritten) and may be NULL for every other function. A window
 * without samples yields no sample and no error (Prometheus never calls a function on one). */
bool vigil__pq_range_fn_scratch(pq_fn_id id, const pq_window *w, const double *args,
                                double *scratch, double *out, vigil_status *status);

/* Functions of one sample value: abs ceil floor exp ln log2 log10 sqrt sgn, the trigonometric
 * ones, deg rad, round (args[0] = to_nearest, 1 when omitted), clamp (args {min, max}),
 * clamp_min/clamp_max (args {bound}), and the date functions (x = Unix seconds):
 * minute hour day_of_week day_of_month day_of_year days_in_month month year. */
double vigil__pq_value_fn(pq_fn_id id, double x, const double *args);

/* True when the function yields no sample at all at this step for these args, whatever the
 * input: clamp with max < min. The caller then drops every sample of the step. */
bool vigil__pq_value_fn_drops(pq_fn_id id, const double *args);

/* One bucket of a classic histogram: upper bound le (+Inf for the last) and the cumulative
 * count. */
typedef struct pq_bucket {
    double le;
    double count;
} pq_bucket;

/* histogram_quantile over one histogram's buckets (any order; sorted in place), with
 * Prometheus's rules: q < 0 gives -Inf, q > 1 +Inf, NaN q gives NaN; fewer than two buckets
 * or no +Inf bucket gives NaN; non-monotonic counts are made monotonic; linear interpolation
 * inside the bucket, the lowest bucket's lower bound 0 when its upper bound is positive. */
double vigil__pq_bucket_quantile(double q, pq_bucket *buckets, size_t n);

/* The q-quantile of values by Prometheus's `quantile` aggregation and quantile_over_time:
 * linear interpolation between closest ranks; n == 0 gives NaN, q < 0 -Inf, q > 1 +Inf, NaN q
 * NaN. values is reordered in place (partially: it is not left sorted). */
double vigil__pq_quantile(double q, double *values, size_t n);

/* Go's strconv.FormatFloat(v, 'f', -1, 64): the shortest decimal that reads back to v, never
 * in exponent form — how count_values and label_replace-free paths print a value as a label.
 * Returns the length; out must hold 400 bytes (the longest such form). */
size_t vigil__pq_format_value_label(char *out, double v);

#endif
