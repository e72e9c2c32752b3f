/* test_sketch_concurrency.c — the sketch under real threads.
 *
 * Four writers record into one sketch from ranges chosen to move its window up and down while
 * the others record (a rising sweep, a falling sweep, a wide random stream and bursts at both
 * ends, 50 octaves in all), while a fifth thread keeps reading quantiles, counts and extremes and
 * merging the live sketch. At the end count, min and max must be exact, the sum within 1e-9, and
 * every quantile above the collapse point within the bound of the exact merged data. While it
 * runs, reads must be consistent: the count never goes down (a read never sees counts that a
 * window move has in transit), quantiles are ordered and inside [min, max].
 * A second test reads sketches while their window jumps by more than its width (the state in
 * which a move briefly publishes an inverted window).
 *
 * Sizes: 10^6 values per writer, also in the ASan+UBSan copy (about 2 s there). Also meant to be
 * built with -fsanitize=thread by hand (TSan is ~10x slower and would take 2.5 * 10^5; define
 * SKETCH_SMALL): every shared access is atomic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "vigil/sketch.h"
#include "vigil/status.h"

#ifdef SKETCH_SMALL
#define PER_WRITER 250000
#else
#define PER_WRITER 1000000
#endif
#define WRITERS 4
#define K VIGIL_SKETCH_BUCKETS
/* The sketch's worst relative error, (γ-1)/(γ+1) for γ = 2^(1/64) = 0.00541516, plus rounding
 * slack. Not VIGIL_SKETCH_REL_ERROR: the header's 0.005415 is that rounded *down* by 1.6e-7,
 * and any value on a bucket's edge (every power of two, e.g. 0.5 or 1) is reported with the
 * full (γ-1)/(γ+1). The header constant needs to be 0.0054152. */
#define GAMMA 1.0108892860517005
#define BOUND ((GAMMA - 1) / (GAMMA + 1) + 1e-12)

static uint64_t next_u64(uint64_t *state) /* splitmix64 */
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *state)
{
    return ((double)(next_u64(state) >> 11) + 0.5) * 0x1p-53;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Checks in worker threads cannot use cmocka's assertions (they longjmp on the wrong stack):
 * workers count failures and the main thread asserts the count is zero. */
static atomic_int worker_failures;
static char first_failure[256];

static void worker_fail(const char *what, double a, double b)
{
    if (atomic_fetch_add(&worker_failures, 1) == 0)
        snprintf(first_failure, sizeof first_failure, "%s (%.17g, %.17g)", what, a, b);
}

static void assert_no_worker_failures(void)
{
    int n = atomic_load(&worker_failures);
    if (n != 0)
        fail_msg("%d failures in worker threads, the first: %s", n, first_failure);
}

/* --- writers and a reader on one sketch ------------------------------------------------------- */

typedef struct writer {
    vigil_sketch *s;
    const double *values;
    size_t n;
    pthread_barrier_t *start;
} writer;

static void *write_all(void *p)
{
    writer *w = p;
    pthread_barrier_wait(w->start);
    for (size_t i = 0; i < w->n; i++)
        vigil_sketch_record(w->s, w->values[i]);
    return NULL;
}

typedef struct reader {
    vigil_sketch *s;
    atomic_bool *done;
    uint64_t total; /* what the writers will have recorded */
    pthread_barrier_t *start;
    long reads;
} reader;

static void *read_while_writing(void *p)
{
    reader *r = p;
    vigil_sketch *copy;
    if (vigil_sketch_new(&copy) != VIGIL_OK) {
        worker_fail("sketch_new", 0, 0);
        return NULL;
    }
    static const double qs[] = {0, 0.25, 0.5, 0.9, 0.99, 1};
    const size_t nq = sizeof qs / sizeof qs[0];
    uint64_t last_count = 0, last_merged = 0;
    double last_min = INFINITY, last_max = -INFINITY;
    pthread_barrier_wait(r->start);
    while (!atomic_load(r->done)) {
        uint64_t c = vigil_sketch_count(r->s);
        if (c < last_count || c > r->total)
            worker_fail("count went down or over the total", (double)last_count, (double)c);
        last_count = c;
        double got[6];
        vigil_sketch_quantiles(r->s, qs, nq, got);
        double lo = vigil_sketch_min(r->s), hi = vigil_sketch_max(r->s);
        if (c > 0) {
            for (size_t k = 0; k < nq; k++) {
                if (isnan(got[k]) || (k > 0 && got[k] < got[k - 1]))
                    worker_fail("quantiles NaN or out of order", got[k], k ? got[k - 1] : 0);
            }
            if (!(lo <= last_min && hi >= last_max))
                worker_fail("extremes went back", lo, hi);
            last_min = lo;
            last_max = hi;
            /* The extremes only widen, so a quantile read before them lies inside. */
            if (!(got[0] >= lo && got[nq - 1] <= hi))
                worker_fail("quantile outside [min, max]", got[0], got[nq - 1]);
        }
        if (r->reads % 16 == 0) { /* merging a sketch that is being recorded into */
            vigil_sketch_reset(copy);
            if (vigil_sketch_merge(copy, r->s) != VIGIL_OK)
                worker_fail("merge failed", 0, 0);
            uint64_t m = vigil_sketch_count(copy);
            if (m < last_merged || m < c || m > r->total)
                worker_fail("merged count went down or over", (double)last_merged, (double)m);
            last_merged = m;
        }
        r->reads++;
    }
    vigil_sketch_free(copy);
    return NULL;
}

static long double exact_sum(const double *v, size_t n)
{
    long double s = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        long double y = (long double)v[i] - c;
        long double t = s + y;
        c = (t - s) - y;
        s = t;
    }
    return s;
}

/* The writers' values: each thread's stream in order, all four back to back in `all`. */
static void make_streams(double *all, size_t n)
{
    uint64_t st = 2718;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / (double)n, noise = 0.5 * (unit(&st) - 0.5);
        all[0 * n + i] = exp2(-30 * t + noise);            /* falling: 1 .. 2^-30 */
        all[1 * n + i] = exp2(20 * t + noise);             /* rising: 1 .. 2^20 */
        all[2 * n + i] = 1e-3 * exp(unit(&st) * log(1e6)); /* 1e-3 .. 1e3, at random */
        int burst = (int)((i / 1000) % 2);                 /* 1000 near 1e-7, 1000 near 1e5 */
        all[3 * n + i] = (burst ? 1e5 : 1e-7) * exp2(noise);
    }
}

static void test_sketch_concurrent_records_exact_while_window_moves(void **state)
{
    (void)state;
    const size_t n = PER_WRITER, total = WRITERS * n;
    double *all = malloc(total * sizeof *all);
    assert_non_null(all);
    make_streams(all, n);
    vigil_sketch *s;
    assert_int_equal(vigil_sketch_new(&s), VIGIL_OK);

    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, WRITERS + 1);
    atomic_bool done = false;
    reader r = {s, &done, total, &start, 0};
    writer w[WRITERS];
    pthread_t wt[WRITERS], rt;
    assert_int_equal(pthread_create(&rt, NULL, read_while_writing, &r), 0);
    for (int i = 0; i < WRITERS - 1; i++) {
        w[i] = (writer){s, all + (size_t)i * n, n, &start};
        assert_int_equal(pthread_create(&wt[i], NULL, write_all, &w[i]), 0);
    }
    /* The fourth writer is this thread: it may hold a shard of its own from earlier tests or
     * use the shared one, so both kinds of epoch announcement are exercised. */
    w[WRITERS - 1] = (writer){s, all + (size_t)(WRITERS - 1) * n, n, NULL};
    pthread_barrier_wait(&start);
    for (size_t i = 0; i < n; i++)
        vigil_sketch_record(s, w[WRITERS - 1].values[i]);
    for (int i = 0; i < WRITERS - 1; i++)
        assert_int_equal(pthread_join(wt[i], NULL), 0);
    atomic_store(&done, true);
    assert_int_equal(pthread_join(rt, NULL), 0);
    pthread_barrier_destroy(&start);
    assert_no_worker_failures();
    assert_true(r.reads > 0);

    qsort(all, total, sizeof *all, cmp_double);
    assert_int_equal(vigil_sketch_count(s), total);
    assert_int_equal(vigil_sketch_rejected(s), 0);
    assert_true(vigil_sketch_min(s) == all[0]);
    assert_true(vigil_sketch_max(s) == all[total - 1]);
    long double sum = exact_sum(all, total);
    assert_true(fabsl((long double)vigil_sketch_sum(s) - sum) <= 1e-9L * sum);
    assert_true(vigil_sketch_quantile(s, 0) == all[0]);
    assert_true(vigil_sketch_quantile(s, 1) == all[total - 1]);

    double collapse = vigil_sketch_bucket_upper(vigil_sketch_index(all[total - 1]) - K + 1);
    int held = 0;
    for (int p = 1; p < 1000; p++) {
        double q = p / 1000.0, got = vigil_sketch_quantile(s, q);
        double pos = q * (double)(total - 1);
        double lo = all[(size_t)floor(pos)], hi = all[(size_t)ceil(pos)];
        if (lo <= collapse) {
            if (!(got <= collapse * (1 + BOUND)))
                fail_msg("q=%g: collapsed value %.17g above the collapse point %.17g", q, got,
                         collapse);
            continue;
        }
        double e = fmin(fabs(got - lo) / lo, fabs(got - hi) / hi);
        if (!(e <= BOUND))
            fail_msg("q=%g: %.17g, true %.17g: relative error %g", q, got, lo, e);
        held++;
    }
    assert_true(held > 500); /* q >= 0.5 all held (the collapse point is ~2^-11) */
    print_message("concurrent: %ld reads during the writes, %d of 999 quantiles above the "
                  "collapse point, all within the bound\n",
                  r.reads, held);
    vigil_sketch_free(s);
    free(all);
}

/* --- reads while the window jumps by more than its width ------------------------------------- */

#define JUMP_SKETCHES 300

#define JUMP_ROUNDS 20

/* The writer publishes the sketch it fills in `current`; the reader announces the one it reads
 * in `reading` and re-checks `current` (all seq_cst), and the writer resets a sketch only after
 * withdrawing `current` and seeing no reader on it: resets never race reads (the header allows
 * that race to give anything). */
typedef struct jumper {
    vigil_sketch **sketches;
    _Atomic int current, reading;
    atomic_bool done;
} jumper;

static void *jump_windows(void *p)
{
    jumper *j = p;
    for (int round = 0; round < JUMP_ROUNDS; round++) {
        for (int i = 0; i < JUMP_SKETCHES; i++) {
            vigil_sketch *s = j->sketches[i];
            atomic_store(&j->current, i);
            /* 2^-40 anchors the window there; 2^40 moves it up 80 octaves (more than a window:
             * every slot is recycled); 2^-30 then collapses; 1 stays. */
            vigil_sketch_record(s, 0x1p-40);
            vigil_sketch_record(s, 0x1p40);
            vigil_sketch_record(s, 0x1p-30);
            vigil_sketch_record(s, 1);
        }
        if (round + 1 < JUMP_ROUNDS) {
            atomic_store(&j->current, -1);
            while (atomic_load(&j->reading) != -1)
                sched_yield();
            for (int i = 0; i < JUMP_SKETCHES; i++)
                vigil_sketch_reset(j->sketches[i]);
        }
    }
    atomic_store(&j->done, true);
    return NULL;
}

static void test_sketch_reads_while_window_jumps_stay_consistent(void **state)
{
    (void)state;
    vigil_sketch **sk = calloc(JUMP_SKETCHES, sizeof *sk);
    assert_non_null(sk);
    for (int i = 0; i < JUMP_SKETCHES; i++)
        assert_int_equal(vigil_sketch_new(&sk[i]), VIGIL_OK);
    vigil_sketch *copy;
    assert_int_equal(vigil_sketch_new(&copy), VIGIL_OK);
    jumper j = {.sketches = sk};
    atomic_init(&j.current, -1);
    atomic_init(&j.reading, -1);
    atomic_init(&j.done, false);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, jump_windows, &j), 0);
    long reads = 0;
    while (!atomic_load(&j.done)) {
        int i = atomic_load(&j.current);
        atomic_store(&j.reading, i);
        if (i < 0 || atomic_load(&j.current) < 0) {
            atomic_store(&j.reading, -1);
            sched_yield();
            continue;
        }
        vigil_sketch *s = sk[i];
        /* At most 4 observations, all between 2^-40 and 2^40, whatever the read overlaps. */
        uint64_t c = vigil_sketch_count(s);
        double q = vigil_sketch_quantile(s, 0.5);
        double bounds[2] = {0x1p-35, 0x1p35}, out[2];
        uint64_t cum[2];
        assert_int_equal(vigil_sketch_to_histogram(s, bounds, 2, out, cum), VIGIL_OK);
        vigil_sketch_reset(copy);
        assert_int_equal(vigil_sketch_merge(copy, s), VIGIL_OK);
        if (c > 4 || vigil_sketch_count(copy) > 4 || cum[1] > 4 || cum[0] > cum[1])
            fail_msg("sketch %d: count %llu, merged %llu, cumulative %llu/%llu", i,
                     (unsigned long long)c, (unsigned long long)vigil_sketch_count(copy),
                     (unsigned long long)cum[0], (unsigned long long)cum[1]);
        if (!isnan(q) && !(q >= 0x1p-40 && q <= 0x1p40))
            fail_msg("sketch %d: median %.17g", i, q);
        atomic_store(&j.reading, -1);
        reads++;
    }
    assert_int_equal(pthread_join(t, NULL), 0);
    for (int i = 0; i < JUMP_SKETCHES; i++) {
        assert_int_equal(vigil_sketch_count(sk[i]), 4);
        assert_true(vigil_sketch_quantile(sk[i], 1) == 0x1p40);
        assert_true(vigil_sketch_quantile(sk[i], 0) == 0x1p-40);
        vigil_sketch_free(sk[i]);
    }
    vigil_sketch_free(copy);
    free(sk);
    print_message("jumps: %ld reads during %d window jumps\n", reads, JUMP_ROUNDS * JUMP_SKETCHES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_concurrent_records_exact_while_window_moves),
        cmocka_unit_test(test_sketch_reads_while_window_jumps_stay_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
