/* bench_util.h — what every benchmark program needs: a monotonic clock in ns, the median of
 * repetitions, pinning a thread to a CPU, and dying with vigil's message. Header-only so each
 * bench stays one self-contained program. */
#ifndef VIGIL_BENCH_UTIL_H
#define VIGIL_BENCH_UTIL_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

static inline double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v in place and returns its median. */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Pins the calling thread to one CPU (modulo the CPUs online), for stable two-thread figures. */
static inline void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Prints what failed with vigil's detailed message and exits 1. */
#define BENCH_DIE(prog, what)                                                                \
    do {                                                                                     \
        fprintf(stderr, "%s: %s: %s\n", (prog), (what), vigil_errmsg());                     \
        exit(1);                                                                             \
    } while (0)

#endif
