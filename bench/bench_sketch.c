/* bench_sketch.c — the quantile sketch's figures (names from shared/BENCHMARKS.md):
 *   sketch_record_1t, sketch_quantile_query, sketch_bytes, sketch_max_rel_error,
 *   plus sketch_record_2t_scaling and sketch_window_record_1t (informational).
 * Every timed figure is the median of RUNS repetitions; the 2-thread ratio compares runs
 * interleaved in time. The accuracy figure is the worst relative error of any checked quantile
 * over the accuracy suite of tests/metrics/test_sketch.c (10^6 samples from uniform, log-normal,
 * Pareto, bimodal and constant distributions at q = 0, .5, .9, .95, .99, .999, 1, and 1 ns to
 * 1 day log-uniform at q >= .5), run with RUNS seeds; the median over seeds is the BENCH value
 * and the maximum is printed beside it. It never asserts a time.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

#include "bench_util.h"

#define RUNS 9
#define SAMPLES 1000000

/* --- a seeded generator (splitmix64), the same as the tests' ------------------------------- */

static uint64_t rng_state;

static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static double unit(void)
{
    return ((double)(next_u64() >> 11) + 0.5) * 0x1p-53;
}

static double normal(void)
{
    return sqrt(-2 * log(unit())) * cos(2 * M_PI * unit());
}

enum { UNIFORM, LOGNORMAL, PARETO, BIMODAL, CONSTANT, LOGUNIFORM_1NS_1DAY, DISTRIBUTIONS };
static const char *dist_names[] = {"uniform", "log-normal", "pareto",
                                   "bimodal", "constant",   "log-uniform 1ns..1day"};

static double draw(int dist)
{
    switch (dist) {
    case UNIFORM: return 1000 * unit();
    case LOGNORMAL: return exp(log(0.01) + 1.5 * normal());
    case PARETO: return 1e-3 / pow(unit(), 1 / 1.16);
    case BIMODAL:
        return unit() < 0.7 ? exp(log(1e-3) + 0.1 * normal()) : exp(log(0.25) + 0.2 * normal());
    case CONSTANT: return 0.042;
    default: return 1e-9 * exp(unit() * log(86400e9));
    }
}

/* --- figures -------------------------------------------------------------------------------- */

static double table[1024];

static void record_loop(void *arg, long iters)
{
    vigil_sketch *s = arg;
    for (long i = 0; i < iters; i++)
        vigil_sketch_record(s, table[i & 1023]);
}

typedef struct runner {
    vigil_sketch *s;
    long iters;
    int cpu;
    pthread_barrier_t *barrier;
} runner;

static void *run_thread(void *p)
{
    runner *r = p;
    pin(r->cpu);
    pthread_barrier_wait(r->barrier);
    record_loop(r->s, r->iters);
    return NULL;
}

/* Aggregate records per second of `threads` threads each doing iters records. */
static double throughput(vigil_sketch *s, long iters, int threads)
{
    pthread_t t[2];
    runner r[2];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        r[i] = (runner){s, iters, i, &barrier};
        pthread_create(&t[i], NULL, run_thread, &r[i]);
    }
    pthread_barrier_wait(&barrier);
    double t0 = now_ns();
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    double el = now_ns() - t0;
    pthread_barrier_destroy(&barrier);
    return (double)iters * threads / (el / 1e9);
}

static void bench_record(void)
{
    rng_state = 42;
    for (int i = 0; i < 1024; i++)
        table[i] = 1e-6 * exp(unit() * log(1e6)); /* 1 us .. 1 s: inside one window */
    vigil_sketch *s;
    if (vigil_sketch_new(&s) != VIGIL_OK)
        BENCH_DIE("bench_sketch", "sketch");
    pin(0);
    record_loop(s, 1 << 20); /* anchors the window, warms the caches */
    const long n = 20000000;
    double one[RUNS], scaling[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        record_loop(s, n);
        one[r] = (now_ns() - t0) / (double)n;
    }
    for (int r = 0; r < RUNS; r++) {
        double single = throughput(s, n / 4, 1);
        double dual = throughput(s, n / 4, 2);
        scaling[r] = dual / single;
    }
    printf("BENCH sketch_record_1t %.2f ns\n", median(one, RUNS));
    printf("BENCH sketch_record_2t_scaling %.2f x\n", median(scaling, RUNS));
    vigil_sketch_free(s);
}

static void bench_window_record(void)
{
    vigil_sketch_window *w;
    if (vigil_sketch_window_new(600, 5, &w) != VIGIL_OK)
        BENCH_DIE("bench_sketch", "window");
    pin(0);
    const long n = 10000000;
    double per[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            vigil_sketch_window_record(w, table[i & 1023]);
        per[r] = (now_ns() - t0) / (double)n;
    }
    printf("BENCH sketch_window_record_1t %.2f ns\n", median(per, RUNS));
    vigil_sketch_window_free(w);
}

static void bench_query(void)
{
    vigil_sketch *s;
    if (vigil_sketch_new(&s) != VIGIL_OK)
        BENCH_DIE("bench_sketch", "sketch");
    /* Every bucket of the window holds a count: a few values per bucket, lowest first, so the
     * window ends exactly on the highest (base = i0). */
    const int32_t i0 = vigil_sketch_index(1e-6);
    for (int32_t k = 0; k < VIGIL_SKETCH_BUCKETS; k++) {
        double upper = vigil_sketch_bucket_upper(i0 + k);
        vigil_sketch_record_n(s, upper, 1 + (uint64_t)(k % 7));
    }
    size_t nonzero = 0;
    uint64_t prev = 0;
    double bounds[VIGIL_SKETCH_BUCKETS], snapped[VIGIL_SKETCH_BUCKETS];
    uint64_t cum[VIGIL_SKETCH_BUCKETS];
    for (int32_t k = 0; k < VIGIL_SKETCH_BUCKETS; k++)
        bounds[k] = vigil_sketch_bucket_upper(i0 + k);
    if (vigil_sketch_to_histogram(s, bounds, VIGIL_SKETCH_BUCKETS, snapped, cum) != VIGIL_OK)
        BENCH_DIE("bench_sketch", "to_histogram");
    for (int k = 0; k < VIGIL_SKETCH_BUCKETS; k++) {
        nonzero += cum[k] != prev;
        prev = cum[k];
    }
    printf("query: %zu of %d buckets populated, %llu observations\n", nonzero, VIGIL_SKETCH_BUCKETS,
           (unsigned long long)vigil_sketch_count(s));
    const int n = 20000;
    double per[RUNS], sink = 0;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (int i = 0; i < n; i++)
            sink += vigil_sketch_quantile(s, 0.999 - (i & 1) * 1e-9);
        per[r] = (now_ns() - t0) / (double)n / 1e3;
    }
    printf("query: checksum %g\n", sink);
    printf("BENCH sketch_quantile_query %.2f us\n", median(per, RUNS));
    vigil_sketch_free(s);
}

/* Worst relative error of one quantile against the sorted samples: the reported value must be
 * near the sample at rank floor(q(n-1)) or ceil(q(n-1)); the better of the two counts. */
static double rel_error(const double *sorted, size_t n, double q, double got)
{
    double pos = q * (double)(n - 1);
    double lo = sorted[(size_t)floor(pos)], hi = sorted[(size_t)ceil(pos)];
    double e1 = fabs(got - lo) / lo, e2 = fabs(got - hi) / hi;
    return e1 < e2 ? e1 : e2;
}

static double accuracy_suite(uint64_t seed, double *worst_per_dist)
{
    static const double qs[] = {0, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
    const size_t nq = sizeof qs / sizeof qs[0];
    double *v = malloc(SAMPLES * sizeof *v);
    if (v == NULL)
        BENCH_DIE("bench_sketch", "out of memory");
    double worst = 0;
    for (int d = 0; d < DISTRIBUTIONS; d++) {
        rng_state = seed * 1000 + (uint64_t)d;
        vigil_sketch *s;
        if (vigil_sketch_new(&s) != VIGIL_OK)
            BENCH_DIE("bench_sketch", "sketch");
        for (size_t i = 0; i < SAMPLES; i++) {
            v[i] = draw(d);
            vigil_sketch_record(s, v[i]);
        }
        qsort(v, SAMPLES, sizeof *v, cmp_double);
        double got[7];
        vigil_sketch_quantiles(s, qs, nq, got);
        double w = 0;
        for (size_t k = 0; k < nq; k++) {
            if (d == LOGUNIFORM_1NS_1DAY && qs[k] > 0 && qs[k] < 0.5)
                continue;
            double e = rel_error(v, SAMPLES, qs[k], got[k]);
            w = e > w ? e : w;
        }
        worst_per_dist[d] = w > worst_per_dist[d] ? w : worst_per_dist[d];
        worst = w > worst ? w : worst;
        vigil_sketch_free(s);
    }
    free(v);
    return worst;
}

static void bench_accuracy(void)
{
    double worst[RUNS], per_dist[DISTRIBUTIONS] = {0};
    for (int r = 0; r < RUNS; r++)
        worst[r] = accuracy_suite((uint64_t)r + 1, per_dist);
    double max = 0;
    for (int r = 0; r < RUNS; r++)
        max = worst[r] > max ? worst[r] : max;
    for (int d = 0; d < DISTRIBUTIONS; d++)
        printf("accuracy: %-22s worst %.4f %%\n", dist_names[d], 100 * per_dist[d]);
    printf("accuracy: bound (gamma-1)/(gamma+1) = %.4f %%, worst over %d seeds %.4f %%\n",
           100 * (exp2(1.0 / 64) - 1) / (exp2(1.0 / 64) + 1), RUNS, 100 * max);
    printf("BENCH sketch_max_rel_error %.4f %%\n", 100 * median(worst, RUNS));
}

int main(void)
{
    printf("BENCH sketch_bytes %zu bytes\n", vigil_sketch_size());
    bench_record();
    bench_window_record();
    bench_query();
    bench_accuracy();
    return 0;
}
