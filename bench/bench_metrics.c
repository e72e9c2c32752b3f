/* bench_metrics.c — the metrics core's figures (names from shared/BENCHMARKS.md):
 *   counter_inc_1t, counter_inc_2t_vs_atomic, histogram_observe_1t,
 *   histogram_observe_2t_scaling, label_lookup_2labels, render_100k_text, memory_per_series,
 *   plus named_record_counter (the name-based convenience path, for the docs).
 * Every figure is the median of RUNS repetitions; ratios compare runs interleaved in time.
 * It prints `BENCH <name> <value> <unit>` lines and never asserts a time.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

#include "bench_util.h"

#define RUNS 9

/* --- a two-thread runner: both threads start together, each runs fn(arg, iters) ------------ */

typedef void (*loop_fn)(void *arg, long iters);

typedef struct runner {
    loop_fn fn;
    void *arg;
    long iters;
    int cpu;
    pthread_barrier_t *barrier;
} runner;

static void *run_thread(void *p)
{
    runner *r = p;
    pin(r->cpu);
    pthread_barrier_wait(r->barrier);
    r->fn(r->arg, r->iters);
    return NULL;
}

/* Aggregate operations per second of `threads` threads each doing iters operations. */
static double throughput(loop_fn fn, void *arg, long iters, int threads)
{
    pthread_t t[2];
    runner r[2];
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        r[i] = (runner){fn, arg, iters, i, &barrier};
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

/* --- loops ---------------------------------------------------------------------------------- */

static void counter_loop(void *arg, long iters)
{
    vigil_counter *c = arg;
    for (long i = 0; i < iters; i++)
        vigil_counter_inc(c);
}

static _Alignas(64) _Atomic unsigned long shared_atomic;

static void atomic_loop(void *arg, long iters)
{
    (void)arg;
    for (long i = 0; i < iters; i++)
        atomic_fetch_add_explicit(&shared_atomic, 1, memory_order_relaxed);
}

static double samples[1024];

static void histogram_loop(void *arg, long iters)
{
    vigil_histogram *h = arg;
    for (long i = 0; i < iters; i++)
        vigil_histogram_observe(h, samples[i & 1023]);
}

/* --- figures -------------------------------------------------------------------------------- */

static void bench_counter(vigil_registry *reg)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "bench_counter_total";
    vigil_counter *c;
    if (vigil_counter_new(reg, &o, &c) != VIGIL_OK)
        BENCH_DIE("bench_metrics", "counter");
    pin(0);
    const long n = 100000000;
    double one[RUNS], ratio[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        counter_loop(c, n);
        one[r] = (now_ns() - t0) / (double)n;
    }
    for (int r = 0; r < RUNS; r++) {
        double ours = throughput(counter_loop, c, n / 2, 2);
        double atomic = throughput(atomic_loop, NULL, n / 10, 2);
        ratio[r] = ours / atomic;
    }
    printf("BENCH counter_inc_1t %.2f ns\n", median(one, RUNS));
    printf("BENCH counter_inc_2t_vs_atomic %.1f x\n", median(ratio, RUNS));
}

static void bench_histogram(vigil_registry *reg)
{
    double bounds[10];
    vigil_buckets_exponential(0.001, 2.5, 10, bounds);
    for (int i = 0; i < 1024; i++)
        samples[i] = 0.0005 * (double)(rand() % 2000) * (i % 7 + 1) / 4.0;
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "bench_latency_seconds";
    o.buckets = bounds;
    o.bucket_count = 10;
    vigil_histogram *h;
    if (vigil_histogram_new(reg, &o, &h) != VIGIL_OK)
        BENCH_DIE("bench_metrics", "histogram");
    const long n = 50000000;
    double one[RUNS], scaling[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        histogram_loop(h, n);
        one[r] = (now_ns() - t0) / (double)n;
    }
    for (int r = 0; r < RUNS; r++) {
        double single = throughput(histogram_loop, h, n / 2, 1);
        double dual = throughput(histogram_loop, h, n / 2, 2);
        scaling[r] = dual / single;
    }
    printf("BENCH histogram_observe_1t %.2f ns\n", median(one, RUNS));
    printf("BENCH histogram_observe_2t_scaling %.2f x\n", median(scaling, RUNS));
}

static void bench_lookup(vigil_registry *reg)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    const char *names[] = {"method", "status"};
    o.name = "bench_requests_total";
    o.label_names = names;
    o.label_count = 2;
    vigil_family *f;
    if (vigil_family_new(reg, VIGIL_COUNTER, &o, &f) != VIGIL_OK)
        BENCH_DIE("bench_metrics", "family");
    static const char *methods[] = {"GET", "POST", "PUT", "DELETE"};
    static char status[250][8];
    const char *values[1000][2];
    for (int i = 0; i < 1000; i++) {
        snprintf(status[i % 250], sizeof status[0], "%d", 200 + i % 250);
        values[i][0] = methods[i / 250];
        values[i][1] = status[i % 250];
        vigil_counter *c;
        if (vigil_family_counter(f, 2, values[i], &c) != VIGIL_OK)
            BENCH_DIE("bench_metrics", "child");
    }
    const long n = 20000000;
    double per[RUNS];
    for (int r = 0; r < RUNS; r++) {
        vigil_counter *c;
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            vigil_family_counter(f, 2, values[i % 1000], &c);
        per[r] = (now_ns() - t0) / (double)n;
    }
    printf("BENCH label_lookup_2labels %.1f ns\n", median(per, RUNS));

    vigil_label labels[2] = {{"method", "GET"}, {"status", "200"}};
    const long m = 2000000;
    for (int r = 0; r < RUNS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < m; i++)
            vigil_record_counter(reg, "bench_requests_total", 1, labels, 2);
        per[r] = (now_ns() - t0) / (double)m;
    }
    printf("BENCH named_record_counter %.1f ns\n", median(per, RUNS));
}

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL || fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

static void bench_render(void)
{
    const int series = 100000;
    long before = rss_bytes();
    vigil_registry *reg;
    if (vigil_registry_new(&reg) != VIGIL_OK)
        BENCH_DIE("bench_metrics", "registry");
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    const char *names[] = {"instance", "path"};
    o.name = "bench_series_total";
    o.help = "One of many series.";
    o.label_names = names;
    o.label_count = 2;
    o.max_children = (size_t)series;
    vigil_family *f;
    if (vigil_family_new(reg, VIGIL_COUNTER, &o, &f) != VIGIL_OK)
        BENCH_DIE("bench_metrics", "family");
    for (int i = 0; i < series; i++) {
        char inst[16], path[24];
        snprintf(inst, sizeof inst, "host-%d", i % 100);
        snprintf(path, sizeof path, "/api/v1/item/%d", i);
        vigil_counter *c;
        if (vigil_family_counter(f, VIGIL_VALUES(inst, path), &c) != VIGIL_OK)
            BENCH_DIE("bench_metrics", "series");
        vigil_counter_add_u64(c, (uint64_t)i * 7);
    }
    long after = rss_bytes();
    double ms[RUNS];
    size_t bytes = 0;
    for (int r = 0; r < RUNS; r++) {
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        double t0 = now_ns();
        if (vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b) != VIGIL_OK)
            BENCH_DIE("bench_metrics", "render");
        ms[r] = (now_ns() - t0) / 1e6;
        bytes = b.len;
        vigil_buffer_free(&b);
    }
    printf("render: %zu bytes of text for %d series\n", bytes, series);
    printf("BENCH render_100k_text %.2f ms\n", median(ms, RUNS));
    printf("BENCH memory_per_series %.0f bytes\n", (double)(after - before) / series);
    vigil_registry_free(reg);
}

int main(void)
{
    vigil_registry *reg;
    if (vigil_registry_new(&reg) != VIGIL_OK)
        BENCH_DIE("bench_metrics", "registry");
    bench_render(); /* first, so its RSS delta is not hidden by memory freed by others */
    bench_counter(reg);
    bench_histogram(reg);
    bench_lookup(reg);
    vigil_registry_free(reg);
    return 0;
}
