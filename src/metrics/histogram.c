/* histogram.c — histograms with fixed buckets on per-thread cells.
 *
 * A child owns bucket_count + 2 consecutive cells per shard: one non-cumulative count per finite
 * bucket, one for +Inf, then the sum (as double bits). An observation touches exactly two cells
 * of its own thread's shard. The total count is not stored: it is derived from the buckets at
 * read time, so `_count` always equals the `+Inf` bucket and buckets are always cumulative, even
 * while other threads observe (the sum may lag the counts by the observations in flight).
 */
#include <math.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <string.h>

#include "metrics/metrics_int.h"

#define CHILD(h) ((vigil__child *)(h))

static const double default_buckets[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};

VIGIL_API const double *vigil_default_buckets(size_t *count)
{
    if (count != NULL)
        *count = sizeof default_buckets / sizeof default_buckets[0];
    return default_buckets;
}

vigil_status vigil__check_buckets(const double *b, size_t n)
{
    if (n == 0 || b == NULL)
        return vigil__fail(VIGIL_EBUCKETS, "a histogram needs at least one finite bucket");
    if (n > VIGIL_MAX_BUCKETS)
        return vigil__fail(VIGIL_EBUCKETS, "%zu buckets: at most %d allowed", n,
                           VIGIL_MAX_BUCKETS);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(b[i]))
            return vigil__fail(VIGIL_EBUCKETS, "bucket %zu is not finite (only the implied +Inf "
                               "may be infinite)", i);
        if (i > 0 && !(b[i] > b[i - 1]))
            return vigil__fail(VIGIL_EBUCKETS, "buckets must increase strictly: %g after %g",
                               b[i], b[i - 1]);
    }
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_buckets_linear(double start, double width, size_t count,
                                            double *out)
{
    if (count == 0 || count > VIGIL_MAX_BUCKETS || !(width > 0) || !isfinite(start) ||
        out == NULL)
        return vigil__fail(VIGIL_EBUCKETS, "linear buckets need 1..%d buckets and width > 0",
                           VIGIL_MAX_BUCKETS);
    for (size_t i = 0; i < count; i++)
        out[i] = start + width * (double)i;
    return vigil__check_buckets(out, count);
}

VIGIL_API vigil_status vigil_buckets_exponential(double start, double factor, size_t count,
                                                 double *out)
{
    if (count == 0 || count > VIGIL_MAX_BUCKETS || !(start > 0) || !(factor > 1) ||
        out == NULL)
        return vigil__fail(VIGIL_EBUCKETS, "exponential buckets need 1..%d buckets, start > 0 "
                           "and factor > 1", VIGIL_MAX_BUCKETS);
    double v = start;
    for (size_t i = 0; i < count; i++, v *= factor)
        out[i] = v;
    return vigil__check_buckets(out, count);
}

/* Index of the first bound >= v, bucket_count for +Inf (and NaN). Short lists are counted
 * without branches (observed values are unpredictable, so a scan that stops early would
 * mispredict on most calls); long lists use binary search. */
static size_t bucket_index(const double *b, size_t n, double v)
{
    if (VIGIL_UNLIKELY(v != v))
        return n;
    if (n <= 16) {
#if defined(__SSE2__)
        /* Two bounds per compare: half the instructions of the scalar count, which matters when
         * two threads share a core's execution units (SMT siblings, as on many VMs). */
        __m128d vv = _mm_set1_pd(v);
        __m128i acc = _mm_setzero_si128();
        size_t k = 0;
        for (; k + 2 <= n; k += 2)
            acc = _mm_sub_epi64(acc, _mm_castpd_si128(_mm_cmpgt_pd(vv, _mm_loadu_pd(b + k))));
        size_t i = (size_t)_mm_cvtsi128_si64(acc) +
                   (size_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
        if (k < n)
            i += v > b[k];
        return i;
#else
        size_t i = 0;
        for (size_t k = 0; k < n; k++)
            i += v > b[k];
        return i;
#endif
    }
    if (!(v <= b[n - 1]))
        return n;
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (v <= b[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The rare cases of observe: thread not yet on a shard, or on the shared one. */
static __attribute__((noinline)) void observe_slow(_Atomic uint64_t *cells, size_t sum_at,
                                                  size_t idx, double v)
{
    vigil__cell_add_slow(cells + idx, 1);
    long off = vigil__shard();
    if (off == 0) {
        vigil__atomic_add_double(cells + sum_at, v);
        return;
    }
    _Atomic uint64_t *sum = cells + off + sum_at;
    atomic_store_explicit(sum, vigil__d2u(vigil__u2d(atomic_load_explicit(sum,
                                                                          memory_order_relaxed)) +
                                          v),
                          memory_order_relaxed);
}

VIGIL_API void vigil_histogram_observe(vigil_histogram *h, double v)
{
    const vigil__child *ch = CHILD(h);
    const vigil_family *fam = ch->family;
    size_t n = fam->bucket_count;
    size_t idx = bucket_index(fam->buckets, n, v);
    _Atomic uint64_t *cells = ch->cells;
    long off = vigil__shard_offset;
    if (VIGIL_UNLIKELY(off <= 0)) {
        observe_slow(cells, n + 1, idx, v);
        return;
    }
    _Atomic uint64_t *mine = cells + off;
    uint64_t count = atomic_load_explicit(mine + idx, memory_order_relaxed);
    uint64_t sum = atomic_load_explicit(mine + n + 1, memory_order_relaxed);
    atomic_store_explicit(mine + idx, count + 1, memory_order_relaxed);
    atomic_store_explicit(mine + n + 1, vigil__d2u(vigil__u2d(sum) + v), memory_order_relaxed);
}

void vigil__histogram_read(const vigil_family *fam, const vigil__child *ch,
                           vigil_histogram_snapshot *out)
{
    size_t n = fam->bucket_count;
    out->bucket_count = n;
    out->bounds = fam->buckets;
    uint64_t running = 0;
    for (size_t i = 0; i <= n; i++) {
        running += vigil__cells_sum(ch->cells + i);
        out->counts[i] = running;
    }
    out->count = running;
    out->sum = vigil__cells_sum_double(ch->cells + n + 1);
}

VIGIL_API void vigil_histogram_snapshot_read(const vigil_histogram *h,
                                             vigil_histogram_snapshot *out)
{
    const vigil__child *ch = CHILD(h);
    vigil__histogram_read(ch->family, ch, out);
}
