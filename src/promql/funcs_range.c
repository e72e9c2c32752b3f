/* funcs_range.c — the range-vector functions: what rate, deriv, holt_winters and the
 * *_over_time family compute from one series' samples in one window.
 *
 * Each function reproduces Prometheus 2.42's arithmetic operation for operation (its
 * promql/functions.go), because the order of floating-point operations decides the last bits
 * and users compare our answers with Prometheus's. That is why the sums are Neumaier-compensated
 * exactly where 2.42 compensates them (sum/avg/stddev/stdvar_over_time, the regression of
 * deriv and predict_linear) and nowhere else, and why the rate extrapolation keeps 2.42's
 * order of steps.
 *
 * These run once per step per series of a range query, so nothing here allocates or sets
 * anything up per call, except quantile_over_time when the caller gives no scratch buffer.
 * The build must not contract a*b+c into fused multiply-adds (x86-64's baseline has none);
 * Go does not fuse on amd64 either. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "funcs.h"

/* A running sum with Neumaier's compensation term, as 2.42's kahanSumInc keeps it. */
typedef struct compensated_sum {
    double sum;
    double c;
} compensated_sum;

static inline void compensated_add(compensated_sum *s, double inc)
{
    double t = s->sum + inc;
    if (fabs(s->sum) >= fabs(inc))
        s->c += (s->sum - t) + inc;
    else
        s->c += (inc - t) + s->sum;
    s->sum = t;
}

/* Go's time.Duration.Seconds() for a whole number of milliseconds: whole seconds plus the
 * nanosecond remainder divided separately, which is not always the same double as ms / 1000. */
static double duration_seconds(int64_t ms)
{
    int64_t sec = ms / 1000;
    int64_t nsec = (ms % 1000) * 1000000;
    return (double)sec + (double)nsec / 1e9;
}

/* rate, increase and delta: the change over the window, corrected for counter resets, then
 * extrapolated towards the window's edges when the samples come close enough to them. */
static bool extrapolated_rate(const pq_window *w, bool is_counter, bool is_rate, double *out)
{
    size_t n = w->n;
    if (n < 2)
        return false;
    const double *v = w->v;
    double result = v[n - 1] - v[0];
    if (is_counter) {
        for (size_t i = 1; i < n; i++)
            if (v[i] < v[i - 1])
                result += v[i - 1];
    }

    double duration_to_start = (double)(w->t[0] - w->range_start) / 1000;
    double duration_to_end = (double)(w->range_end - w->t[n - 1]) / 1000;
    double sampled_interval = (double)(w->t[n - 1] - w->t[0]) / 1000;
    double average_between = sampled_interval / (double)(n - 1);

    /* A counter extrapolated backwards must not go below zero: start no earlier than where
     * the line through the samples crosses zero. */
    if (is_counter && result > 0 && v[0] >= 0) {
        double duration_to_zero = sampled_interval * (v[0] / result);
        if (duration_to_zero < duration_to_start)
            duration_to_start = duration_to_zero;
    }

    /* Extrapolate all the way to an edge only when a sample would be expected there (within
     * 110 % of the average spacing); otherwise assume the series starts or ends inside the
     * window and extend by half a spacing. */
    double threshold = average_between * 1.1;
    double extrapolate_to = sampled_interval;
    extrapolate_to += duration_to_start < threshold ? duration_to_start : average_between / 2;
    extrapolate_to += duration_to_end < threshold ? duration_to_end : average_between / 2;

    double factor = extrapolate_to / sampled_interval;
    if (is_rate)
        factor /= duration_seconds(w->range_end - w->range_start);
    *out = result * factor;
    return true;
}

/* irate and idelta: the last two samples only. */
static bool instant_value(const pq_window *w, bool is_rate, double *out)
{
    if (w->n < 2)
        return false;
    double last = w->v[w->n - 1], previous = w->v[w->n - 2];
    double result = is_rate && last < previous ? last : last - previous;
    int64_t interval_ms = w->t[w->n - 1] - w->t[w->n - 2];
    if (interval_ms == 0)
        return false;
    if (is_rate)
        result /= (double)interval_ms / 1000;
    *out = result;
    return true;
}

/* Least squares over (t - intercept_t, v), t in seconds, with the sums compensated as 2.42
 * does; a constant series has slope 0 exactly (NaN when the constant is infinite). */
static void linear_regression(const pq_window *w, int64_t intercept_t, double *slope,
                              double *intercept)
{
    compensated_sum sx = {0, 0}, sy = {0, 0}, sxy = {0, 0}, sx2 = {0, 0};
    double n = 0;
    double init_y = w->v[0];
    bool const_y = true;
    for (size_t i = 0; i < w->n; i++) {
        double y = w->v[i];
        if (const_y && i > 0 && y != init_y)
            const_y = false;
        n += 1.0;
        double x = (double)(w->t[i] - intercept_t) / 1e3;
        compensated_add(&sx, x);
        compensated_add(&sy, y);
        compensated_add(&sxy, x * y);
        compensated_add(&sx2, x * x);
    }
    if (const_y) {
        if (isinf(init_y)) {
            *slope = NAN;
            *intercept = NAN;
        } else {
            *slope = 0;
            *intercept = init_y;
        }
        return;
    }
    double sum_x = sx.sum + sx.c, sum_y = sy.sum + sy.c;
    double sum_xy = sxy.sum + sxy.c, sum_x2 = sx2.sum + sx2.c;
    double cov_xy = sum_xy - sum_x * sum_y / n;
    double var_x = sum_x2 - sum_x * sum_x / n;
    *slope = cov_xy / var_x;
    *intercept = sum_y / n - *slope * sum_x / n;
}

/* Go's fmt "%f": like C's, but infinities print as "+Inf" and "-Inf". */
static const char *go_fixed(char *buf, size_t size, double v)
{
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    if (isnan(v))
        return "NaN";
    snprintf(buf, size, "%f", v);
    return buf;
}

static vigil_status holt_winters_factors_valid(double sf, double tf)
{
    char buf[400];
    if (sf <= 0 || sf >= 1)
        return vigil__fail(VIGIL_EINVAL, "invalid smoothing factor. Expected: 0 < sf < 1, got: %s",
                           go_fixed(buf, sizeof buf, sf));
    if (tf <= 0 || tf >= 1)
        return vigil__fail(VIGIL_EINVAL, "invalid trend factor. Expected: 0 < tf < 1, got: %s",
                           go_fixed(buf, sizeof buf, tf));
    return VIGIL_OK;
}

/* Double exponential smoothing; the trend starts as the first difference. */
static double holt_winters(const pq_window *w, double sf, double tf)
{
    const double *v = w->v;
    double s0 = 0, s1 = v[0], b = v[1] - v[0];
    for (size_t i = 1; i < w->n; i++) {
        double x = sf * v[i];
        if (i > 1)
            b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    return s1;
}

static double count_resets(const pq_window *w)
{
    size_t resets = 0;
    for (size_t i = 1; i < w->n; i++)
        if (w->v[i] < w->v[i - 1])
            resets++;
    return (double)resets;
}

/* A step between two NaNs is no change; any other inequality is one. */
static double count_changes(const pq_window *w)
{
    size_t changes = 0;
    for (size_t i = 1; i < w->n; i++) {
        double prev = w->v[i - 1], cur = w->v[i];
        if (cur != prev && !(isnan(cur) && isnan(prev)))
            changes++;
    }
    return (double)changes;
}

/* Incremental mean; once the mean is infinite it stays so unless an opposite infinity or a
 * NaN arrives, because Inf - Inf in the update would turn it into NaN. */
static double avg_over_time(const pq_window *w)
{
    compensated_sum mean = {0, 0};
    double count = 0;
    for (size_t i = 0; i < w->n; i++) {
        double v = w->v[i];
        count++;
        if (isinf(mean.sum)) {
            if (isinf(v) && (mean.sum > 0) == (v > 0))
                continue;
            if (!isinf(v) && !isnan(v))
                continue;
        }
        compensated_add(&mean, v / count - mean.sum / count);
    }
    return isinf(mean.sum) ? mean.sum : mean.sum + mean.c;
}

static double sum_over_time(const pq_window *w)
{
    compensated_sum s = {0, 0};
    for (size_t i = 0; i < w->n; i++)
        compensated_add(&s, w->v[i]);
    return isinf(s.sum) ? s.sum : s.sum + s.c;
}

/* Welford's running variance with compensated mean and sum of squares; the population
 * variance (divided by n, not n - 1). */
static double stdvar_over_time(const pq_window *w)
{
    compensated_sum mean = {0, 0}, aux = {0, 0};
    double count = 0;
    for (size_t i = 0; i < w->n; i++) {
        double v = w->v[i];
        count++;
        double delta = v - (mean.sum + mean.c);
        compensated_add(&mean, delta / count);
        compensated_add(&aux, delta * (v - (mean.sum + mean.c)));
    }
    return (aux.sum + aux.c) / count;
}

/* NaN loses to any number but is kept when every sample is NaN. */
static double max_over_time(const pq_window *w)
{
    double max = w->v[0];
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i] > max || isnan(max))
            max = w->v[i];
    return max;
}

static double min_over_time(const pq_window *w)
{
    double min = w->v[0];
    for (size_t i = 0; i < w->n; i++)
        if (w->v[i] < min || isnan(min))
            min = w->v[i];
    return min;
}

bool vigil__pq_range_fn_scratch(pq_fn_id id, const pq_window *w, const double *args,
                                double *scratch, double *out, vigil_status *status)
{
    *status = VIGIL_OK;
    /* Prometheus never calls a function on a window without samples. */
    if (w->n == 0)
        return false;
    switch (id) {
    case PQ_FN_RATE: return extrapolated_rate(w, true, true, out);
    case PQ_FN_INCREASE: return extrapolated_rate(w, true, false, out);
    case PQ_FN_DELTA: return extrapolated_rate(w, false, false, out);
    case PQ_FN_IRATE: return instant_value(w, true, out);
    case PQ_FN_IDELTA: return instant_value(w, false, out);
    case PQ_FN_DERIV: {
        if (w->n < 2)
            return false;
        double slope, intercept;
        /* Regressing around the first sample keeps x small (prometheus#2674). */
        linear_regression(w, w->t[0], &slope, &intercept);
        *out = slope;
        return true;
    }
    case PQ_FN_PREDICT_LINEAR: {
        if (w->n < 2)
            return false;
        double slope, intercept;
        linear_regression(w, w->eval_t, &slope, &intercept);
        *out = slope * args[0] + intercept;
        return true;
    }
    case PQ_FN_HOLT_WINTERS:
        *status = holt_winters_factors_valid(args[0], args[1]);
        if (*status != VIGIL_OK || w->n < 2)
            return false;
        *out = holt_winters(w, args[0], args[1]);
        return true;
    case PQ_FN_RESETS: *out = count_resets(w); return true;
    case PQ_FN_CHANGES: *out = count_changes(w); return true;
    case PQ_FN_AVG_OVER_TIME: *out = avg_over_time(w); return true;
    case PQ_FN_SUM_OVER_TIME: *out = sum_over_time(w); return true;
    case PQ_FN_MIN_OVER_TIME: *out = min_over_time(w); return true;
    case PQ_FN_MAX_OVER_TIME: *out = max_over_time(w); return true;
    case PQ_FN_COUNT_OVER_TIME: *out = (double)w->n; return true;
    case PQ_FN_LAST_OVER_TIME: *out = w->v[w->n - 1]; return true;
    case PQ_FN_PRESENT_OVER_TIME: *out = 1; return true;
    case PQ_FN_STDVAR_OVER_TIME: *out = stdvar_over_time(w); return true;
    case PQ_FN_STDDEV_OVER_TIME: *out = sqrt(stdvar_over_time(w)); return true;
    case PQ_FN_QUANTILE_OVER_TIME:
        memcpy(scratch, w->v, w->n * sizeof *scratch);
        *out = vigil__pq_quantile(args[0], scratch, w->n);
        return true;
    default:
        *status = vigil__fail(VIGIL_EINVAL, "function #%d is not a range-vector function", (int)id);
        return false;
    }
}

bool vigil__pq_range_fn(pq_fn_id id, const pq_window *w, const double *args, double *out,
                        vigil_status *status)
{
    if (id != PQ_FN_QUANTILE_OVER_TIME || w->n == 0)
        return vigil__pq_range_fn_scratch(id, w, args, NULL, out, status);
    double *scratch = vigil__malloc(w->n * sizeof *scratch);
    if (scratch == NULL) {
        *status = vigil__fail(VIGIL_ENOMEM, "quantile_over_time: no memory for %zu samples", w->n);
        return false;
    }
    bool ok = vigil__pq_range_fn_scratch(id, w, args, scratch, out, status);
    vigil__free(scratch);
    return ok;
}
