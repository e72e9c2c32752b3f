/* funcs_quantile.c — quantiles: of a classic histogram's buckets (histogram_quantile) and of a
 * set of values (the quantile aggregation and quantile_over_time), with Prometheus 2.42's rules
 * for out-of-range q, NaN and malformed buckets (its promql/quantile.go).
 *
 * A value quantile needs only two order statistics, so the values are partially ordered by
 * selection (linear time) instead of sorted; the answer is the same because it depends only on
 * which values stand at the two ranks. Prometheus orders NaN below every number, so NaNs are
 * moved to the front first and selection runs over the numbers alone. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/core_int.h" /* before funcs.h: ast.h names struct vigil_buffer */
#include "funcs.h"

static inline void swap_values(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* Moves every NaN to the front; returns how many there are. */
static size_t nans_to_front(double *v, size_t n)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isnan(v[i]))
            swap_values(&v[i], &v[m++]);
    return m;
}

/* Rearranges v (no NaNs) so that v[k] holds what a sort would put there, nothing greater
 * before it and nothing smaller after it: Wirth's selection. With the pivot taken at k, an
 * already sorted window (a counter) takes one pass. */
static void select_kth(double *v, size_t n, size_t k)
{
    ptrdiff_t lo = 0, hi = (ptrdiff_t)n - 1, kk = (ptrdiff_t)k;
    while (lo < hi) {
        double pivot = v[kk];
        ptrdiff_t i = lo, j = hi;
        do {
            while (v[i] < pivot)
                i++;
            while (pivot < v[j])
                j--;
            if (i <= j) {
                swap_values(&v[i], &v[j]);
                i++;
                j--;
            }
        } while (i <= j);
        if (j < kk)
            lo = i;
        if (kk < i)
            hi = j;
    }
}

/* The smallest of v[from..n) (no NaNs, from < n). */
static double min_from(const double *v, size_t from, size_t n)
{
    double m = v[from];
    for (size_t i = from + 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

double vigil__pq_quantile(double q, double *values, size_t n)
{
    if (n == 0)
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    if (isnan(q))
        return NAN;
    double count = (double)n;
    double rank = q * (count - 1);
    double lower_index = fmax(0, floor(rank));
    double upper_index = fmin(count - 1, lower_index + 1);
    double weight = rank - floor(rank);
    size_t lo = (size_t)lower_index, hi = (size_t)upper_index;

    size_t nans = nans_to_front(values, n);
    if (lo < nans)
        return NAN; /* a NaN at the lower rank poisons the weighted sum whatever the weight */
    select_kth(values + nans, n - nans, lo - nans);
    double lower = values[lo];
    double upper = hi == lo ? lower : min_from(values, hi, n);
    /* Weighted even when the weight is 0: Prometheus's 0 * Inf makes NaN, and so does ours. */
    return lower * (1 - weight) + upper * weight;
}

/* --- histogram_quantile --------------------------------------------------------------------- */

static int bucket_cmp(const void *a, const void *b)
{
    double x = ((const pq_bucket *)a)->le, y = ((const pq_bucket *)b)->le;
    return (x > y) - (x < y);
}

/* Few buckets (the usual case) sort fastest by insertion. */
static void sort_buckets(pq_bucket *b, size_t n)
{
    if (n > 32) {
        qsort(b, n, sizeof *b, bucket_cmp);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        pq_bucket x = b[i];
        size_t j = i;
        while (j > 0 && x.le < b[j - 1].le) {
            b[j] = b[j - 1];
            j--;
        }
        b[j] = x;
    }
}

/* Buckets with the same upper bound (from series that differ only in how le was written,
 * "1" and "1.0") count as one; returns the new length. */
static size_t coalesce_buckets(pq_bucket *b, size_t n)
{
    pq_bucket last = b[0];
    size_t out = 0;
    for (size_t i = 1; i < n; i++) {
        if (b[i].le == last.le) {
            last.count += b[i].count;
        } else {
            b[out++] = last;
            last = b[i];
        }
    }
    b[out++] = last;
    return out;
}

/* Cumulative counts can dip when buckets are scraped at slightly different moments; a dip
 * is raised to the largest count below it so the search below stays meaningful. */
static void ensure_monotonic(pq_bucket *b, size_t n)
{
    double max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (b[i].count > max)
            max = b[i].count;
        else if (b[i].count < max)
            b[i].count = max;
    }
}

/* The first of b[0..n) whose count reaches rank (n when none does). */
static size_t first_reaching(const pq_bucket *b, size_t n, double rank)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (!(b[mid].count >= rank))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

double vigil__pq_bucket_quantile(double q, pq_bucket *buckets, size_t n)
{
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    if (n == 0)
        return NAN;
    sort_buckets(buckets, n);
    if (!(isinf(buckets[n - 1].le) && buckets[n - 1].le > 0))
        return NAN;
    n = coalesce_buckets(buckets, n);
    ensure_monotonic(buckets, n);
    if (n < 2)
        return NAN;
    double observations = buckets[n - 1].count;
    if (observations == 0)
        return NAN;
    double rank = q * observations;
    size_t b = first_reaching(buckets, n - 1, rank);

    /* Past every finite bucket: the best we can say is the largest finite bound. */
    if (b == n - 1)
        return buckets[n - 2].le;
    /* The lowest bucket with a bound at or below zero: no lower bound to interpolate from. */
    if (b == 0 && buckets[0].le <= 0)
        return buckets[0].le;
    double start = 0, end = buckets[b].le, count = buckets[b].count;
    if (b > 0) {
        start = buckets[b - 1].le;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    return start + (end - start) * (rank / count);
}
