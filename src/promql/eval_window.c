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
 * - Where every window starts and ends, and rate's factor for it, depend on the timestamps
 *   only: they are laid out once in a plan (pq_window_plan), which any later series of the
 *   call reuses when its timestamps are the same, as those of every series of one scrape
 *   target are. The plans of the last few dozen distinct timestamp arrays are kept.
 *
 * test_eval_range.c holds range queries using these paths to instant queries, which do not;
 * test_eval_threads.c checks plans against series whose timestamps differ in one sample. */
#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    for (size_t i = 0; i < s->nplans; i++) {
        vigil__free(s->plans[i].t);
        vigil__free(s->plans[i].a);
        vigil__free(s->plans[i].b);
        vigil__free(s->plans[i].factor);
        vigil__free(s->plans[i].near);
    }
    vigil__free(s->plans);
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

/* Whether any of v[i .. i + 8) is below the value before it: counters reset rarely, so the
 * reset scan over every sample mostly skips eight at a time on four SSE2 compares. */
static inline bool falls_within(const double *v, size_t i)
{
#if defined(__SSE2__)
    __m128d f0 = _mm_cmplt_pd(_mm_loadu_pd(&v[i]), _mm_loadu_pd(&v[i - 1]));
    __m128d f1 = _mm_cmplt_pd(_mm_loadu_pd(&v[i + 2]), _mm_loadu_pd(&v[i + 1]));
    __m128d f2 = _mm_cmplt_pd(_mm_loadu_pd(&v[i + 4]), _mm_loadu_pd(&v[i + 3]));
    __m128d f3 = _mm_cmplt_pd(_mm_loadu_pd(&v[i + 6]), _mm_loadu_pd(&v[i + 5]));
    return _mm_movemask_pd(_mm_or_pd(_mm_or_pd(f0, f1), _mm_or_pd(f2, f3))) != 0;
#else
    bool fall = false;
    for (size_t j = i; j < i + 8; j++)
        fall |= v[j] < v[j - 1];
    return fall;
#endif
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
            if (i + 8 <= n && !falls_within(v, i)) {
                i += 7; /* none of the eight from i falls */
                continue;
            }
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

/* factor_of for a window whose start no zero point moves, from the memo when its layout was
 * seen before. */
static double memo_factor(pq_slide *s, int64_t to_start, int64_t to_end, int64_t sampled,
                          size_t n, bool is_rate, double range_seconds)
{
    factor_memo *m = &s->memo[memo_slot(to_start, to_end, sampled, n)];
    if (m->n != n || m->to_start != to_start || m->to_end != to_end || m->sampled != sampled) {
        m->factor = factor_of(to_start, to_end, sampled, n, 0, false, is_rate, range_seconds);
        m->to_start = to_start;
        m->to_end = to_end;
        m->sampled = sampled;
        m->n = n;
    }
    return m->factor;
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
    return result * memo_factor(s, to_start, to_end, sampled, n, is_rate, range_seconds);
}

/* Whether time y is before a window edge at x: below its start (y < x) or at or below its
 * end (y <= x, with after). */
static inline bool before(int64_t y, int64_t x, bool after)
{
    return after ? y <= x : y < x;
}

/* The first index from i on whose time is past x (not before(t[j], x, after)). Windows slide
 * by one step over samples scraped at a steady interval, so an edge mostly moves by about
 * `guess` samples (the step over the mean spacing), give or take scrape jitter: the answer is
 * looked for among the two samples either side of i + guess with a count the processor runs
 * without branching on the data, and only when it lies outside them is the series scanned one
 * sample at a time. (A scan ends with a mispredicted branch; two of them per window were most
 * of the cost of a rate over regular scrapes.) */
static inline size_t advance(const int64_t *t, size_t n, size_t i, size_t guess, int64_t x,
                             bool after)
{
    size_t g = i + guess;
    size_t lo = guess >= 2 ? g - 2 : i;
    size_t hi = g + 2 < n ? g + 2 : n;
    if (lo <= hi && (lo == i || before(t[lo - 1], x, after)) &&
        (hi == n || !before(t[hi], x, after))) {
        size_t j = lo;
        for (size_t m = lo; m < hi; m++)
            j += before(t[m], x, after);
        return j;
    }
    while (i < n && before(t[i], x, after))
        i++;
    return i;
}

/* Moves the window [*a, *b) on to the samples in [start, end] (both ends included, as in
 * 2.42); both edges only ever move forward. */
static inline void slide_to(const int64_t *t, size_t n, size_t guess, int64_t start, int64_t end,
                            size_t *a, size_t *b)
{
    *a = advance(t, n, *a, guess, start, false);
    if (*b < *a)
        *b = *a;
    *b = advance(t, n, *b, guess, end, true);
}

/* How many samples a window edge moves per step: the step over the series' mean spacing. */
static size_t step_samples(const int64_t *t, size_t n, int64_t interval)
{
    if (n < 2 || t[n - 1] <= t[0])
        return 0;
    double per = (double)interval * (double)(n - 1) / (double)(t[n - 1] - t[0]);
    return per < (double)n ? (size_t)(per + 0.5) : n;
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
    const size_t guess = step_samples(t, n, st->interval);
    int64_t end = st->first_end;
    for (size_t k = 0; k < st->n; k++, end += st->interval) {
        int64_t start = end - st->range;
        slide_to(t, n, guess, start, end, &a, &b);
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
    const size_t guess = step_samples(t, n, st->interval);
    int64_t end = st->first_end;
    for (size_t k = 0; k < st->n; k++, end += st->interval) {
        int64_t start = end - st->range;
        slide_to(t, n, guess, start, end, &a, &b);
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

/* ---- window plans --------------------------------------------------------------------------- */

static bool plan_reserve(pq_window_plan *p, size_t n, size_t steps)
{
    if (p->t_cap < n) {
        vigil__free(p->t);
        p->t = vigil__malloc(n * sizeof *p->t);
        p->t_cap = p->t ? n : 0;
        if (p->t == NULL)
            return false;
    }
    if (p->steps_cap < steps) {
        vigil__free(p->a);
        vigil__free(p->b);
        vigil__free(p->factor);
        vigil__free(p->near);
        p->a = vigil__malloc(steps * sizeof *p->a);
        p->b = vigil__malloc(steps * sizeof *p->b);
        p->factor = vigil__malloc(steps * sizeof *p->factor);
        p->near = vigil__malloc((pq_words(steps) + 1) * sizeof *p->near);
        p->steps_cap = p->a && p->b && p->factor && p->near ? steps : 0;
        if (p->steps_cap == 0)
            return false;
    }
    return true;
}

static bool plan_matches(const pq_window_plan *p, const pq_slide_steps *st, const int64_t *t,
                         size_t n)
{
    return p->n == n && p->first_end == st->first_end && p->interval == st->interval &&
           p->range == st->range && p->steps == st->n &&
           (n == 0 || (p->t[0] == t[0] && p->t[n - 1] == t[n - 1] && p->t[n / 2] == t[n / 2] &&
                       memcmp(p->t, t, n * sizeof *t) == 0));
}

/* The plan made for exactly these timestamps and steps, or NULL. */
static pq_window_plan *plan_find(pq_slide *s, const pq_slide_steps *st, const int64_t *t,
                                 size_t n)
{
    if (s->last < s->nplans && plan_matches(&s->plans[s->last], st, t, n))
        return &s->plans[s->last];
    for (size_t i = 0; i < s->nplans; i++) {
        if (i != s->last && plan_matches(&s->plans[i], st, t, n)) {
            s->last = i;
            return &s->plans[i];
        }
    }
    return NULL;
}

/* A slot for a new plan: a new one while there is room (PQ_PLANS_MAX, PQ_PLAN_BYTES), else
 * the one used longest ago. NULL when out of memory. */
static pq_window_plan *plan_slot(pq_slide *s, size_t n, size_t steps)
{
    size_t bytes = n * sizeof(int64_t) + steps * (2 * sizeof(uint32_t) + sizeof(double)) +
                   steps / 8 + 64;
    size_t room = PQ_PLAN_BYTES / bytes;
    room = room < 1 ? 1 : room > PQ_PLANS_MAX ? PQ_PLANS_MAX : room;
    if (s->nplans > room) {
        /* Longer series than those the plans were made for: start again with fewer. */
        for (size_t i = 0; i < s->nplans; i++) {
            pq_window_plan *p = &s->plans[i];
            vigil__free(p->t);
            vigil__free(p->a);
            vigil__free(p->b);
            vigil__free(p->factor);
            vigil__free(p->near);
            memset(p, 0, sizeof *p);
        }
        s->nplans = 0;
    }
    if (s->nplans < room) {
        if (s->plans == NULL &&
            (s->plans = vigil__calloc(PQ_PLANS_MAX, sizeof *s->plans)) == NULL)
            return NULL;
        s->last = s->nplans++;
        return &s->plans[s->last];
    }
    size_t oldest = 0;
    for (size_t i = 1; i < s->nplans; i++)
        if (s->plans[i].used < s->plans[oldest].used)
            oldest = i;
    s->last = oldest;
    return &s->plans[oldest];
}

/* Works out every window of the steps over timestamps t into a plan; NULL when out of memory
 * (the series is then computed without one). */
static pq_window_plan *plan_build(pq_slide *s, const pq_slide_steps *st, const int64_t *t,
                                  size_t n)
{
    const bool rate = is_rate_like(s->id);
    pq_window_plan *p = n <= UINT32_MAX ? plan_slot(s, n, st->n) : NULL;
    if (p == NULL)
        return NULL;
    p->n = 0;
    p->steps = 0; /* matches nothing until it is complete */
    if (!plan_reserve(p, n, st->n))
        return NULL;
    if (n > 0)
        memcpy(p->t, t, n * sizeof *t);
    const bool is_rate = s->id == PQ_FN_RATE;
    const double range_seconds = is_rate ? duration_seconds(st->range) : 0;
    const size_t guess = step_samples(t, n, st->interval);
    if (rate)
        memset(p->near, 0, pq_words(st->n) * sizeof *p->near);
    size_t a = 0, b = 0, widest = 0;
    int64_t end = st->first_end;
    for (size_t k = 0; k < st->n; k++, end += st->interval) {
        int64_t start = end - st->range;
        slide_to(t, n, guess, start, end, &a, &b);
        p->a[k] = (uint32_t)a;
        p->b[k] = (uint32_t)b;
        size_t w = b - a;
        widest = w > widest ? w : widest;
        if (!rate || w < 2)
            continue;
        int64_t to_start = t[a] - start, to_end = end - t[b - 1], sampled = t[b - 1] - t[a];
        p->factor[k] = memo_factor(s, to_start, to_end, sampled, w, is_rate, range_seconds);
        if (sampled >= to_start)
            pq_bit_set(p->near, k);
    }
    p->widest = widest;
    p->n = n;
    p->first_end = st->first_end;
    p->interval = st->interval;
    p->range = st->range;
    p->steps = st->n;
    return p;
}

/* rate_row over a plan: per window, its change and one multiplication. The presence bits of
 * 64 steps are gathered in a register and stored once (setting them in memory one by one made
 * every window wait for the previous one's store). */
static void rate_row_planned(pq_slide *s, const pq_window_plan *p, const pq_slide_steps *st,
                             const int64_t *t, const double *v, double *out, uint64_t *ok)
{
    const bool counter = s->id != PQ_FN_DELTA, is_rate = s->id == PQ_FN_RATE;
    const double range_seconds = is_rate ? duration_seconds(st->range) : 0;
    size_t first_reset = 0;
    int64_t end = st->first_end;
    for (size_t k0 = 0; k0 < st->n; k0 += 64) {
        size_t k1 = st->n - k0 < 64 ? st->n : k0 + 64;
        uint64_t bits = 0;
        for (size_t k = k0; k < k1; k++, end += st->interval) {
            size_t a = p->a[k], b = p->b[k];
            if (b - a < 2)
                continue;
            double result = v[b - 1] - v[a];
            if (counter) {
                while (first_reset < s->nresets && s->resets[first_reset] <= a)
                    first_reset++;
                for (size_t r = first_reset; r < s->nresets && s->resets[r] < b; r++)
                    result += v[s->resets[r] - 1];
            }
            double v0 = v[a];
            if (counter && result > 0 && v0 >= 0 && !(v0 >= result && pq_bit(p->near, k)))
                out[k] = rate_value(s, t, v, a, b - a, end - st->range, end, result, counter,
                                    is_rate, range_seconds); /* the zero point may matter */
            else
                out[k] = result * p->factor[k];
            bits |= (uint64_t)1 << (k - k0);
        }
        ok[k0 / 64] |= bits;
    }
}

/* sum_row over a plan, its presence bits gathered as rate_row_planned gathers them. */
static void sum_row_planned(const pq_slide *s, const pq_window_plan *p,
                            const pq_slide_steps *st, double *out, uint64_t *ok, uint64_t *redo)
{
    const double limit = 1e300;
    for (size_t k0 = 0; k0 < st->n; k0 += 64) {
        size_t k1 = st->n - k0 < 64 ? st->n : k0 + 64;
        uint64_t bits = 0, again = 0;
        for (size_t k = k0; k < k1; k++) {
            size_t a = p->a[k], b = p->b[k], w = b - a;
            if (w == 0)
                continue;
            if (s->id == PQ_FN_COUNT_OVER_TIME) {
                out[k] = (double)w;
            } else if (s->odd[b] != s->odd[a] || !(fabs(s->hi[b]) < limit) ||
                       !(fabs(s->hi[a]) < limit)) {
                again |= (uint64_t)1 << (k - k0);
                continue;
            } else {
                double d, e;
                two_sum(s->hi[b], -s->hi[a], &d, &e);
                double sum = d + (e + (s->lo[b] - s->lo[a]));
                out[k] = s->id == PQ_FN_AVG_OVER_TIME ? sum / (double)w : sum;
            }
            bits |= (uint64_t)1 << (k - k0);
        }
        ok[k0 / 64] |= bits;
        redo[k0 / 64] |= again;
    }
}

size_t vigil__pq_slide_row(pq_slide *s, const pq_slide_steps *st, const int64_t *t,
                           const double *v, size_t n, double *out, uint64_t *ok, uint64_t *redo)
{
    pq_window_plan *p = plan_find(s, st, t, n);
    if (p == NULL)
        p = plan_build(s, st, t, n);
    if (p != NULL) {
        p->used = ++s->clock;
        if (is_rate_like(s->id))
            rate_row_planned(s, p, st, t, v, out, ok);
        else
            sum_row_planned(s, p, st, out, ok, redo);
        return p->widest;
    }
    if (is_rate_like(s->id))
        return rate_row(s, st, t, v, n, out, ok);
    return sum_row(s, st, t, n, out, ok, redo);
}
