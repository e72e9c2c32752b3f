/* eval_window.c — sliding windows: O(1) per step for the range functions whose windows overlap
 * heavily in range queries (rate(x[5m]) every minute looks at each sample five times,
 * avg_over_time(x[1h]) every 5 minutes twelve times).
 *
 * - rate, increase, delta: a window's change is last - first plus, for counters, the value
 *   before each reset inside it, added in the order the numeric library (funcs_range.c) adds
 *   them; the resets of a series are listed once, so a window costs its two ends and its own
 *   resets. The extrapolation is the library's operation for operation, so the answer has
 *   the same bits; its factor, whose divisions are most of the cost, is memoised by the
 *   window's layout.
 * - sum_over_time, avg_over_time, count_over_time: one pass builds double-double prefix sums
 *   (about 106 bits), and a window's sum is the difference of two of them, exact to the last
 *   bit of a double in practice; the mean is that sum over the count. Prometheus sums with
 *   compensation; both are within an ulp or so of the true value, not always the same ulp. A
 *   window holding NaN or an infinity, or prefixes too large to trust their difference, goes to
 *   the library.
 *
 * test_eval_range.c holds range queries using these paths to instant queries, which do not. */
#include <math.h>
#include <string.h>

#include "core/core_int.h"
#include "eval.h"
#include "funcs.h"

/* rate's extrapolation factor depends only on where the first and last samples sit in the
 * window and how many there are, and with regular scrapes the same few layouts come back window
 * after window and series after series: the factor (the same divisions, so the same bits) is
 * memoised by layout. A window whose start the counter's zero point could move is computed in
 * full. */
typedef struct factor_memo {
    int64_t to_start, to_end, sampled; /* milliseconds */
    size_t n;
    double factor;
} factor_memo;

bool vigil__pq_slide_fn(pq_fn_id id)
{
    switch (id) {
    case PQ_FN_RATE:
    case PQ_FN_INCREASE:
    case PQ_FN_DELTA:
    case PQ_FN_SUM_OVER_TIME:
    case PQ_FN_AVG_OVER_TIME:
    case PQ_FN_COUNT_OVER_TIME: return true;
    default: return false;
    }
}

void vigil__pq_slide_init(pq_slide *s, pq_fn_id id)
{
    memset(s, 0, sizeof *s);
    s->id = id;
}

void vigil__pq_slide_free(pq_slide *s)
{
    vigil__free(s->hi);
    vigil__free(s->lo);
    vigil__free(s->odd);
    vigil__free(s->memo);
    vigil__free(s->resets);
    memset(s, 0, sizeof *s);
}

static bool is_rate_like(pq_fn_id id)
{
    return id == PQ_FN_RATE || id == PQ_FN_INCREASE || id == PQ_FN_DELTA;
}

static vigil_status reserve(pq_slide *s, size_t n)
{
    if (n <= s->cap)
        return VIGIL_OK;
    size_t cap = s->cap ? s->cap : 256;
    while (cap < n)
        cap *= 2;
    vigil__free(s->hi);
    vigil__free(s->lo);
    vigil__free(s->odd);
    s->hi = vigil__malloc(cap * sizeof *s->hi);
    s->lo = vigil__malloc(cap * sizeof *s->lo);
    s->odd = vigil__malloc(cap * sizeof *s->odd);
    s->cap = cap;
    if (!s->hi || !s->lo || !s->odd) {
        s->cap = 0;
        return vigil__pq_nomem("sliding windows");
    }
    return VIGIL_OK;
}

/* Knuth's TwoSum: a + b == *s + *e exactly. */
static inline void two_sum(double a, double b, double *s, double *e)
{
    double x = a + b;
    double bv = x - a;
    double av = x - bv;
    *e = (a - av) + (b - bv);
    *s = x;
}

vigil_status vigil__pq_slide_prepare(pq_slide *s, const int64_t *t, const double *v, size_t n)
{
    (void)t;
    if (is_rate_like(s->id)) {
        if (s->memo == NULL && (s->memo = vigil__calloc(PQ_SLIDE_MEMO, sizeof *s->memo)) == NULL)
            return vigil__pq_nomem("sliding windows");
        s->nresets = 0;
        if (s->id == PQ_FN_DELTA)
            return VIGIL_OK;
        for (size_t i = 1; i < n; i++) {
            if (!(v[i] < v[i - 1]))
                continue;
            if (s->nresets == s->reset_cap) {
                size_t cap = s->reset_cap ? s->reset_cap * 2 : 64;
                size_t *r = vigil__realloc(s->resets, cap * sizeof *r);
                if (r == NULL)
                    return vigil__pq_nomem("sliding windows");
                s->resets = r;
                s->reset_cap = cap;
            }
            s->resets[s->nresets++] = i;
        }
        return VIGIL_OK;
    }
    if (s->id == PQ_FN_COUNT_OVER_TIME)
        return VIGIL_OK;
    vigil_status st = reserve(s, n + 1);
    if (st)
        return st;
    double hi = 0, lo = 0;
    uint32_t odd = 0;
    s->hi[0] = s->lo[0] = 0;
    s->odd[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(v[i])) {
            double e;
            two_sum(hi, v[i], &hi, &e);
            lo += e;
        } else {
            odd++;
        }
        s->hi[i + 1] = hi;
        s->lo[i + 1] = lo;
        s->odd[i + 1] = odd;
    }
    return VIGIL_OK;
}

/* Go's time.Duration.Seconds() of whole milliseconds, as the numeric library computes it. */
static double duration_seconds(int64_t ms)
{
    int64_t sec = ms / 1000;
    int64_t nsec = (ms % 1000) * 1000000;
    return (double)sec + (double)nsec / 1e9;
}

static size_t memo_slot(int64_t to_start, int64_t to_end, int64_t sampled, size_t n)
{
    uint64_t h = (uint64_t)to_start * 0x9e3779b97f4a7c15u ^ (uint64_t)to_end * 0xc2b2ae3d27d4eb4fu ^
                 (uint64_t)sampled * 0x165667b19e3779f9u ^ (uint64_t)n;
    return (size_t)(h >> 54) & (PQ_SLIDE_MEMO - 1);
}

static double factor_of(int64_t to_start_ms, int64_t to_end_ms, int64_t sampled_ms, size_t n,
                        double clamp_start, bool clamped, bool is_rate, double range_seconds)
{
    double duration_to_start = (double)to_start_ms / 1000;
    double duration_to_end = (double)to_end_ms / 1000;
    double sampled_interval = (double)sampled_ms / 1000;
    double average_between = sampled_interval / (double)(n - 1);
    if (clamped && clamp_start < duration_to_start)
        duration_to_start = clamp_start;
    double threshold = average_between * 1.1;
    double extrapolate_to = sampled_interval;
    extrapolate_to += duration_to_start < threshold ? duration_to_start : average_between / 2;
    extrapolate_to += duration_to_end < threshold ? duration_to_end : average_between / 2;
    double factor = extrapolate_to / sampled_interval;
    if (is_rate)
        factor /= range_seconds;
    return factor;
}

/* The numeric library's rate/increase/delta of the n samples from a, given their change
 * `result` (last - first, plus the values before each counter reset, added in order). */
static double rate_value(pq_slide *s, const int64_t *t, const double *v, size_t a, size_t n,
                         int64_t start, int64_t end, double result, bool counter, bool is_rate,
                         double range_seconds)
{
    double v0 = v[a];
    int64_t to_start = t[a] - start, to_end = end - t[a + n - 1], sampled = t[a + n - 1] - t[a];
    if (counter && result > 0 && v0 >= 0 && !(v0 >= result && sampled >= to_start)) {
        /* The zero point may lie inside the window: the library's steps in full. */
        double sampled_interval = (double)sampled / 1000;
        double duration_to_zero = sampled_interval * (v0 / result);
        return result * factor_of(to_start, to_end, sampled, n, duration_to_zero, true, is_rate,
                                  range_seconds);
    }
    /* Otherwise the zero point is at least sampled_interval before the first sample (rounding
     * is monotonic), past the window's start, and cannot change the factor. */
    factor_memo *m = &s->memo[memo_slot(to_start, to_end, sampled, n)];
    if (m->n != n || m->to_start != to_start || m->to_end != to_end || m->sampled != sampled) {
        m->factor = factor_of(to_start, to_end, sampled, n, 0, false, is_rate, range_seconds);
        m->to_start = to_start;
        m->to_end = to_end;
        m->sampled = sampled;
        m->n = n;
    }
    return result * m->factor;
}

/* rate, increase, delta over every window of one series. The counter resets of the series are
 * listed once (s->resets); a window adds the values before its own resets, in order, as the
 * library does, so only resets cost anything beyond the two ends. */
static size_t rate_row(pq_slide *s, const pq_slide_steps *st, const int64_t *t, const double *v,
                       size_t n, double *out, uint64_t *ok)
{
    const bool counter = s->id != PQ_FN_DELTA, is_rate = s->id == PQ_FN_RATE;
    const double range_seconds = is_rate ? duration_seconds(st->range) : 0;
    size_t a = 0, b = 0, widest = 0, first_reset = 0;
    int64_t end = st->first_end;
    for (size_t k = 0; k < st->n; k++, end += st->interval) {
        int64_t start = end - st->range;
        while (a < n && t[a] < start)
            a++;
        if (b < a)
            b = a;
        while (b < n && t[b] <= end)
            b++;
        size_t w = b - a;
        widest = w > widest ? w : widest;
        if (w < 2)
            continue;
        double result = v[b - 1] - v[a];
        if (counter) {
            while (first_reset < s->nresets && s->resets[first_reset] <= a)
                first_reset++;
            for (size_t r = first_reset; r < s->nresets && s->resets[r] < b; r++)
                result += v[s->resets[r] - 1];
        }
        out[k] = rate_value(s, t, v, a, w, start, end, result, counter, is_rate, range_seconds);
        pq_bit_set(ok, k);
    }
    return widest;
}

/* sum/avg/count_over_time over every window of one prepared series; windows holding NaN or an
 * infinity, or too large a prefix, are left in redo for the library. */
static size_t sum_row(const pq_slide *s, const pq_slide_steps *st, const int64_t *t, size_t n,
                      double *out, uint64_t *ok, uint64_t *redo)
{
    const double limit = 1e300;
    size_t a = 0, b = 0, widest = 0;
    int64_t end = st->first_end;
    for (size_t k = 0; k < st->n; k++, end += st->interval) {
        int64_t start = end - st->range;
        while (a < n && t[a] < start)
            a++;
        if (b < a)
            b = a;
        while (b < n && t[b] <= end)
            b++;
        size_t w = b - a;
        if (w == 0)
            continue;
        widest = w > widest ? w : widest;
        if (s->id == PQ_FN_COUNT_OVER_TIME) {
            out[k] = (double)w;
        } else if (s->odd[b] != s->odd[a] || !(fabs(s->hi[b]) < limit) ||
                   !(fabs(s->hi[a]) < limit)) {
            pq_bit_set(redo, k);
            continue;
        } else {
            double d, e;
            two_sum(s->hi[b], -s->hi[a], &d, &e);
            double sum = d + (e + (s->lo[b] - s->lo[a]));
            out[k] = s->id == PQ_FN_AVG_OVER_TIME ? sum / (double)w : sum;
        }
        pq_bit_set(ok, k);
    }
    return widest;
}

size_t vigil__pq_slide_row(pq_slide *s, const pq_slide_steps *st, const int64_t *t,
                           const double *v, size_t n, double *out, uint64_t *ok, uint64_t *redo)
{
    if (is_rate_like(s->id))
        return rate_row(s, st, t, v, n, out, ok);
    return sum_row(s, st, t, n, out, ok, redo);
}
