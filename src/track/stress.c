/* stress.c — run a callback N times on T threads and measure it: throughput, the latency of
 * each call, success rate and the process's peak memory, so that a service's own test can
 * assert its throughput, memory and success targets.
 *
 * Threads take iterations from one shared atomic counter rather than fixed shares, so a slow
 * thread does not stretch the run and every index runs exactly once. Each call is timed with
 * the monotonic clock into one shared quantile sketch (lock-free). Peak memory is the kernel's
 * high-water mark of the resident set (VmHWM), which covers the whole process since it started:
 * it answers "did memory stay under X", not "how much did this run allocate".
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "track/track_int.h"

#define MAX_THREADS 1024

struct run {
    vigil_stress_fn fn;
    void *user;
    uint64_t iterations;
    _Atomic uint64_t next; /* next iteration to hand out */
    _Atomic uint64_t successes;
    _Atomic uint64_t done;
    vigil_sketch *latency;
};

static void *worker(void *arg)
{
    struct run *r = arg;
    uint64_t ok = 0, done = 0;
    for (;;) {
        uint64_t i = atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
        if (i >= r->iterations)
            break;
        uint64_t t0 = vigil__mono_ns();
        int rc = r->fn(r->user, i);
        uint64_t t1 = vigil__mono_ns();
        vigil_sketch_record(r->latency, (double)(t1 - t0) / 1e9);
        ok += rc == 0;
        done++;
    }
    atomic_fetch_add_explicit(&r->successes, ok, memory_order_relaxed);
    atomic_fetch_add_explicit(&r->done, done, memory_order_relaxed);
    return NULL;
}

/* VmHWM from /proc/self/status in bytes; 0 when unavailable. */
static uint64_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (f == NULL)
        return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            if (sscanf(line + 6, "%llu", &kb) != 1)
                kb = 0;
            break;
        }
    }
    fclose(f);
    return (uint64_t)kb * 1024;
}

VIGIL_API vigil_status vigil_stress_run(uint64_t iterations, unsigned threads, vigil_stress_fn fn,
                                        void *user, vigil_stress_result *out)
{
    if (fn == NULL || out == NULL || threads == 0 || threads > MAX_THREADS)
        return vigil__fail(VIGIL_EINVAL,
                           "a stress run needs a callback, a result and 1..%d "
                           "threads",
                           MAX_THREADS);
    struct run r = {.fn = fn, .user = user, .iterations = iterations};
    vigil_status st = vigil_sketch_new(&r.latency);
    if (st != VIGIL_OK)
        return st;
    pthread_t *tids = vigil__calloc(threads, sizeof *tids);
    if (tids == NULL) {
        vigil_sketch_free(r.latency);
        return vigil__fail(VIGIL_ENOMEM, "out of memory for %u threads", threads);
    }
    uint64_t t0 = vigil__mono_ns();
    unsigned started = 0;
    for (; started < threads; started++) {
        if (pthread_create(&tids[started], NULL, worker, &r) != 0)
            break;
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(tids[i], NULL);
    uint64_t t1 = vigil__mono_ns();
    vigil__free(tids);
    if (started == 0) {
        vigil_sketch_free(r.latency);
        return vigil__fail(VIGIL_ENOMEM, "no stress thread could be started");
    }

    memset(out, 0, sizeof *out);
    out->threads = started;
    out->operations = atomic_load(&r.done);
    out->successes = atomic_load(&r.successes);
    out->failures = out->operations - out->successes;
    out->duration_seconds = (double)(t1 - t0) / 1e9;
    out->ops_per_second =
        out->duration_seconds > 0 ? (double)out->operations / out->duration_seconds : 0.0;
    out->success_rate = out->operations ? (double)out->successes / (double)out->operations : NAN;
    vigil_latency_stats s;
    vigil__latency_stats_from(r.latency, &s);
    out->latency_avg = s.avg;
    out->latency_p50 = s.p50;
    out->latency_p95 = s.p95;
    out->latency_p99 = s.p99;
    out->latency_max = s.max;
    out->peak_rss_bytes = peak_rss();
    vigil_sketch_free(r.latency);
    return VIGIL_OK;
}
