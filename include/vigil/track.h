/* vigil/track.h — trackers for the three numbers a service is judged by (latency, errors,
 * throughput), a health dashboard that rolls them up per operation into a status and a report,
 * and a stress helper that measures a callback under load.
 *
 * Every tracker is a small opaque object with _new/_free. Recording is lock-free and allocates
 * nothing: a latency goes into a quantile sketch (vigil/sketch.h) for all time and into a
 * sliding window of sketches for the recent past; an error is one atomic add on its kind's slot
 * in a fixed table; an operation is one atomic add on a per-second ring. Reads (stats, reports,
 * scrapes) never block recorders.
 *
 * Each tracker can also expose itself in a vigil_registry, as a custom collector with
 * Prometheus-style names derived from a base name (see docs/trackers.md for the full list):
 *
 *   latency     <base>_seconds{quantile} summary (+ _sum, _count), <base>_min_seconds,
 *               <base>_max_seconds
 *   errors      <base>_requests_total, <base>_errors_total{kind}
 *   throughput  <base>_operations_total, <base>_operations_per_second
 *   dashboard   the same per operation with an `operation` label, plus <base>_health_status and
 *               <base>_operation_health_status{operation}
 *
 * The registry must outlive the tracker; _free removes the collector.
 *
 * Time. Latency windows use the coarse monotonic clock of vigil_sketch_window. Error and
 * throughput trackers (and the dashboard) read a vigil_clock_fn given in their options,
 * monotonic by default, so a test can drive them with a fake clock.
 */
#ifndef VIGIL_TRACK_H
#define VIGIL_TRACK_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/export.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- clocks and timers --------------------------------------------------------------------- */

/* A monotonic clock in nanoseconds (any epoch; only differences are used). It must never go
 * backwards and must be callable from any thread. */
typedef uint64_t (*vigil_clock_fn)(void *user);

/* The default clock: CLOCK_MONOTONIC in nanoseconds; user is ignored.
 * Thread-safety: any thread. */
VIGIL_API uint64_t vigil_clock_monotonic(void *user);

/* A start time for measuring one duration. A plain value: copy it, keep it on the stack. */
typedef struct vigil_timer {
    uint64_t start_ns; /* CLOCK_MONOTONIC */
} vigil_timer;

typedef struct vigil_latency vigil_latency;

/* Reads the monotonic clock (vDSO, no system call). Thread-safety: any thread. */
VIGIL_API vigil_timer vigil_timer_start(void);
/* Seconds since vigil_timer_start. Thread-safety: any thread. */
VIGIL_API double vigil_timer_elapsed(const vigil_timer *timer);
/* Nanoseconds since vigil_timer_start. Thread-safety: any thread. */
VIGIL_API uint64_t vigil_timer_elapsed_ns(const vigil_timer *timer);
/* Records the time since vigil_timer_start into latency (when not NULL) and returns it in
 * seconds. The timer is unchanged, so one start can be stopped several times.
 * Thread-safety: any thread. */
VIGIL_API double vigil_timer_stop(const vigil_timer *timer, vigil_latency *latency);

/* Which data a read covers: everything since the tracker was created, or the recent window. */
typedef enum vigil_scope {
    VIGIL_SCOPE_ALL = 0,
    VIGIL_SCOPE_RECENT = 1,
} vigil_scope;

/* --- latency ------------------------------------------------------------------------------- */

#define VIGIL_LATENCY_DEFAULT_WINDOW 60.0
#define VIGIL_LATENCY_DEFAULT_WINDOW_BUCKETS 6

typedef struct vigil_latency_opts {
    double window_seconds;    /* the recent window; 0: 60 s */
    unsigned window_buckets;  /* periods the window is cut into, 1..60; 0: 6 */
    vigil_registry *registry; /* where to expose it; NULL: not exposed */
    const char *name;         /* base name, required with a registry ("db_query" gives
                                 db_query_seconds, ...); a trailing "_seconds" is dropped */
    const char *help;         /* HELP text; NULL: a generic one */
} vigil_latency_opts;

/* Every value at its default (0/NULL). Thread-safety: any thread. */
VIGIL_API void vigil_latency_opts_init(vigil_latency_opts *opts);

/* Creates a latency tracker (opts NULL: defaults). Errors: VIGIL_EINVAL (bad window, no name
 * with a registry), VIGIL_ENAME (base name gives an invalid metric name), VIGIL_EEXIST (one of
 * its names is taken in the registry), VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_latency_new(const vigil_latency_opts *opts, vigil_latency **out);
/* Removes it from its registry and frees it. NULL is a no-op. No other thread may use it.
 * Thread-safety: waits for a scrape of its registry in progress. */
VIGIL_API void vigil_latency_free(vigil_latency *t);

/* Records one duration in seconds. Negative, NaN and infinite values are not recorded; they
 * are counted in vigil_latency_rejected. Hot path: lock-free, no allocation.
 * Thread-safety: any thread. */
VIGIL_API void vigil_latency_record(vigil_latency *t, double seconds);
/* Records a duration given in nanoseconds. Thread-safety: any thread. */
VIGIL_API void vigil_latency_record_ns(vigil_latency *t, uint64_t ns);
/* Records a duration given in microseconds. Thread-safety: any thread. */
VIGIL_API void vigil_latency_record_us(vigil_latency *t, uint64_t us);

/* A latency summary in seconds. Every double is NaN when count is 0. Quantiles are within
 * VIGIL_SKETCH_REL_ERROR of a sample at that rank; count, sum, avg, min and max are exact. */
typedef struct vigil_latency_stats {
    uint64_t count;
    double sum;
    double avg;
    double min;
    double max;
    double p50;
    double p95;
    double p99;
} vigil_latency_stats;

/* Fills *out for all time or the recent window. Errors: VIGIL_EINVAL, VIGIL_ENOMEM (a recent
 * read merges the window into a temporary sketch). Thread-safety: any thread; never blocks
 * recorders. */
VIGIL_API vigil_status vigil_latency_read(vigil_latency *t, vigil_scope scope,
                                          vigil_latency_stats *out);
/* Any quantiles (0..1, in any order) for a scope; out[i] is NaN when empty or qs[i] out of
 * range. Errors: VIGIL_EINVAL, VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_latency_quantiles(vigil_latency *t, vigil_scope scope,
                                               const double *qs, size_t n, double *out);

/* All-time aggregates without a full read. NaN while empty (count: 0).
 * Thread-safety: any thread. */
VIGIL_API uint64_t vigil_latency_count(const vigil_latency *t);
/* Mean duration in seconds since creation. Thread-safety: any thread. */
VIGIL_API double vigil_latency_avg(const vigil_latency *t);
/* Smallest duration since creation. Thread-safety: any thread. */
VIGIL_API double vigil_latency_min(const vigil_latency *t);
/* Largest duration since creation. Thread-safety: any thread. */
VIGIL_API double vigil_latency_max(const vigil_latency *t);
/* The all-time q-quantile (p50: q = 0.5). Thread-safety: any thread; O(sketch buckets). */
VIGIL_API double vigil_latency_quantile(const vigil_latency *t, double q);
/* Values offered and not recorded (negative, NaN, infinite). Thread-safety: any thread. */
VIGIL_API uint64_t vigil_latency_rejected(const vigil_latency *t);
/* The length of the recent window in seconds. Thread-safety: any thread. */
VIGIL_API double vigil_latency_window(const vigil_latency *t);

/* --- errors -------------------------------------------------------------------------------- */

#define VIGIL_ERRORS_DEFAULT_MAX_KINDS 32
#define VIGIL_ERRORS_MAX_KINDS 4096
/* Longest kind in bytes; longer kinds are counted under the overflow kind. */
#define VIGIL_ERRORS_KIND_MAX 128
/* Longest recent window (seconds) any tracker's per-second ring can cover. */
#define VIGIL_TRACK_MAX_WINDOW 3600
#define VIGIL_TRACK_DEFAULT_WINDOW 300

typedef struct vigil_errors vigil_errors;

typedef struct vigil_errors_opts {
    size_t max_kinds;          /* distinct kinds kept by name, 1..4096; 0: 32. Later kinds are
                                  counted under overflow_kind */
    const char *overflow_kind; /* NULL: "other" */
    unsigned window_seconds;   /* longest recent window, 1..3600; 0: 300 */
    vigil_clock_fn clock;      /* NULL: vigil_clock_monotonic */
    void *clock_user;
    vigil_registry *registry; /* where to expose it; NULL: not exposed */
    const char *name;         /* base name, required with a registry */
    const char *help;         /* HELP text of <base>_errors_total; NULL: a generic one */
} vigil_errors_opts;

/* One error kind and its count; kind is owned by the tracker and valid until it is freed. */
typedef struct vigil_error_count {
    const char *kind;
    uint64_t count;
} vigil_error_count;

/* Every value at its default. Thread-safety: any thread. */
VIGIL_API void vigil_errors_opts_init(vigil_errors_opts *opts);
/* Creates an error-rate tracker (opts NULL: defaults). Errors: VIGIL_EINVAL, VIGIL_ENAME,
 * VIGIL_EEXIST, VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_errors_new(const vigil_errors_opts *opts, vigil_errors **out);
/* Removes it from its registry and frees it, kind strings included. NULL is a no-op.
 * Thread-safety: no other thread may use it; waits for a scrape in progress. */
VIGIL_API void vigil_errors_free(vigil_errors *t);

/* Counts one successful request. Hot path. Thread-safety: any thread. */
VIGIL_API void vigil_errors_record_success(vigil_errors *t);
/* Counts n successful requests. Hot path. Thread-safety: any thread. */
VIGIL_API void vigil_errors_record_successes(vigil_errors *t, uint64_t n);
/* Counts one failed request of the given kind (e.g. "timeout"). A kind seen before costs a
 * hash, a compare and atomic adds, without a lock; the first error of a new kind copies its
 * name under a mutex. NULL, empty, over-long or non-UTF-8 kinds, kinds beyond max_kinds and
 * kinds whose copy cannot be allocated are counted under the overflow kind (and in
 * vigil_errors_overflowed): an error is never dropped. Thread-safety: any thread. */
VIGIL_API void vigil_errors_record_error(vigil_errors *t, const char *kind);
/* Counts n failed requests of one kind. Thread-safety: any thread. */
VIGIL_API void vigil_errors_record_errors(vigil_errors *t, const char *kind, uint64_t n);

/* Totals since creation. Thread-safety: any thread. */
VIGIL_API uint64_t vigil_errors_successes(const vigil_errors *t);
/* Failed requests since creation (the sum over kinds). Thread-safety: any thread. */
VIGIL_API uint64_t vigil_errors_total(const vigil_errors *t);
/* Successes plus errors. Thread-safety: any thread. */
VIGIL_API uint64_t vigil_errors_requests(const vigil_errors *t);
/* errors / requests since creation; NaN when nothing was recorded. Thread-safety: any thread. */
VIGIL_API double vigil_errors_rate(const vigil_errors *t);
/* successes / requests since creation; NaN when nothing was recorded.
 * Thread-safety: any thread. */
VIGIL_API double vigil_errors_success_rate(const vigil_errors *t);
/* Requests and errors in the last `seconds` seconds (the current second and the seconds
 * before it; clamped to 1..window_seconds). Either pointer may be NULL.
 * Thread-safety: any thread. */
VIGIL_API void vigil_errors_recent(const vigil_errors *t, unsigned seconds, uint64_t *requests,
                                   uint64_t *errors);
/* errors / requests over the last `seconds` seconds; NaN when there was no request then.
 * Thread-safety: any thread. */
VIGIL_API double vigil_errors_recent_rate(const vigil_errors *t, unsigned seconds);

/* Count of one kind (the overflow kind's count includes every error redirected to it); 0 when
 * the kind was never seen. Thread-safety: any thread; lock-free. */
VIGIL_API uint64_t vigil_errors_kind_count(const vigil_errors *t, const char *kind);
/* Distinct kinds kept by name (not counting the overflow kind). Thread-safety: any thread. */
VIGIL_API size_t vigil_errors_kinds(const vigil_errors *t);
/* Errors counted under the overflow kind because their own kind could not be kept (cap
 * reached, invalid name, no memory). Thread-safety: any thread. */
VIGIL_API uint64_t vigil_errors_overflowed(const vigil_errors *t);
/* The name of the overflow kind. Thread-safety: any thread. */
VIGIL_API const char *vigil_errors_overflow_kind(const vigil_errors *t);
/* The k most common kinds with a non-zero count, most common first (equal counts: by name),
 * written to out; returns how many were written (<= k). Thread-safety: any thread.
 * O(k × table size). */
VIGIL_API size_t vigil_errors_top(const vigil_errors *t, vigil_error_count *out, size_t k);
/* The most common kind, or NULL when no error was recorded; *count (when not NULL) gets its
 * count. The string is owned by the tracker. Thread-safety: any thread. */
VIGIL_API const char *vigil_errors_most_common(const vigil_errors *t, uint64_t *count);

/* --- throughput ---------------------------------------------------------------------------- */

typedef struct vigil_throughput vigil_throughput;

typedef struct vigil_throughput_opts {
    unsigned window_seconds;        /* longest recent window, 1..3600; 0: 300 */
    unsigned export_window_seconds; /* window of the exposed ops/s gauge; 0: min(60, window) */
    vigil_clock_fn clock;           /* NULL: vigil_clock_monotonic */
    void *clock_user;
    vigil_registry *registry; /* where to expose it; NULL: not exposed */
    const char *name;         /* base name, required with a registry */
    const char *help;         /* HELP text of <base>_operations_total; NULL: generic */
} vigil_throughput_opts;

/* Every value at its default. Thread-safety: any thread. */
VIGIL_API void vigil_throughput_opts_init(vigil_throughput_opts *opts);
/* Creates a throughput tracker; its clock starts now. Errors: VIGIL_EINVAL, VIGIL_ENAME,
 * VIGIL_EEXIST, VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_throughput_new(const vigil_throughput_opts *opts,
                                            vigil_throughput **out);
/* Removes it from its registry and frees it. NULL is a no-op. Thread-safety: no other thread
 * may use it; waits for a scrape in progress. */
VIGIL_API void vigil_throughput_free(vigil_throughput *t);

/* Counts one operation now. Hot path: reads the clock, one atomic add and one compare-and-swap
 * on the current second's slot. Thread-safety: any thread. */
VIGIL_API void vigil_throughput_record(vigil_throughput *t);
/* Counts n operations now. A second's slot saturates at 2^34 - 1 operations (the total stays
 * exact). Thread-safety: any thread. */
VIGIL_API void vigil_throughput_record_n(vigil_throughput *t, uint64_t n);

/* Operations since creation. Thread-safety: any thread. */
VIGIL_API uint64_t vigil_throughput_total(const vigil_throughput *t);
/* Seconds since creation, by the tracker's clock. Thread-safety: any thread. */
VIGIL_API double vigil_throughput_uptime(const vigil_throughput *t);
/* total / uptime; 0 while no time has passed. Thread-safety: any thread. */
VIGIL_API double vigil_throughput_rate(const vigil_throughput *t);
/* Operations in the last `seconds` seconds: the current (partial) second and the seconds
 * before it, `seconds` in all (clamped to 1..window_seconds). Seconds without activity count
 * 0. Thread-safety: any thread. */
VIGIL_API uint64_t vigil_throughput_recent_count(const vigil_throughput *t, unsigned seconds);
/* vigil_throughput_recent_count divided by the time those seconds span: seconds - 1 plus the
 * elapsed part of the current second, or the uptime when shorter. 0 while no time has passed.
 * Thread-safety: any thread. */
VIGIL_API double vigil_throughput_recent_rate(const vigil_throughput *t, unsigned seconds);

/* --- health dashboard ---------------------------------------------------------------------- */

typedef enum vigil_health {
    VIGIL_HEALTHY = 0,
    VIGIL_DEGRADED = 1,
    VIGIL_UNHEALTHY = 2,
} vigil_health;

/* "healthy", "degraded", "unhealthy" (or "unknown"). Thread-safety: any thread. */
VIGIL_API const char *vigil_health_name(vigil_health h);

typedef struct vigil_dashboard vigil_dashboard;
/* One operation of a dashboard: a latency, an error and a throughput tracker under one name.
 * Owned by the dashboard; valid until it is freed. */
typedef struct vigil_operation vigil_operation;

#define VIGIL_DASHBOARD_DEFAULT_MAX_OPERATIONS 64
#define VIGIL_DASHBOARD_MAX_OPERATIONS 1024
/* Longest operation and service name in bytes. */
#define VIGIL_DASHBOARD_NAME_MAX 128

/* Status rules (per operation, over the recent window): error rate > unhealthy_error_rate or
 * p99 > unhealthy_p99_seconds: unhealthy; else error rate > degraded_error_rate or p99 >
 * degraded_p99_seconds: degraded; else healthy. The error rate is judged only once the window
 * holds min_requests requests; a p99 threshold of 0 is not checked. The service's status is its
 * worst operation's. */
typedef struct vigil_dashboard_opts {
    double degraded_error_rate;   /* 0.01 */
    double unhealthy_error_rate;  /* 0.05 */
    double degraded_p99_seconds;  /* default for every operation; 0: none */
    double unhealthy_p99_seconds; /* default for every operation; 0: none */
    uint64_t min_requests;        /* 1 */
    unsigned window_seconds;      /* the recent window of status and report, 1..3600; 60 */
    size_t max_operations;        /* 1..1024; 64 */
    size_t max_error_kinds;       /* per operation; 0: 32 */
    vigil_clock_fn clock;         /* for errors and throughput; NULL: vigil_clock_monotonic */
    void *clock_user;
    vigil_registry *registry; /* where to expose it; NULL: not exposed */
    const char *name;         /* metric base name, required with a registry */
} vigil_dashboard_opts;

/* Sets the defaults shown above. Thread-safety: any thread. */
VIGIL_API void vigil_dashboard_opts_init(vigil_dashboard_opts *opts);
/* Creates a dashboard for a service (any UTF-8 name up to VIGIL_DASHBOARD_NAME_MAX bytes).
 * opts NULL: defaults. Errors: VIGIL_EINVAL (bad name or thresholds), VIGIL_ENAME,
 * VIGIL_EEXIST, VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_dashboard_new(const char *service, const vigil_dashboard_opts *opts,
                                           vigil_dashboard **out);
/* Removes it from its registry, frees it and all its operations. NULL is a no-op.
 * Thread-safety: no other thread may use it or its operations. */
VIGIL_API void vigil_dashboard_free(vigil_dashboard *d);

/* Finds the operation of that name or creates it. Lookups of existing operations take no lock.
 * Errors: VIGIL_EINVAL (empty, too long or non-UTF-8 name), VIGIL_ELIMIT (max_operations
 * reached), VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_dashboard_operation(vigil_dashboard *d, const char *name,
                                                 vigil_operation **out);
/* Records one finished operation: its duration into latency, one success (error_kind NULL) or
 * one error of that kind, and one operation into throughput. Hot path.
 * Thread-safety: any thread. */
VIGIL_API void vigil_operation_record(vigil_operation *op, double seconds, const char *error_kind);
/* vigil_operation_record by operation name (created on first use). Errors: as
 * vigil_dashboard_operation. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_dashboard_record(vigil_dashboard *d, const char *operation,
                                              double seconds, const char *error_kind);
/* Sets the p99 thresholds of one operation (seconds; 0: not checked). Errors: VIGIL_EINVAL
 * (negative or NaN). Thread-safety: any thread. */
VIGIL_API vigil_status vigil_operation_set_p99_thresholds(vigil_operation *op, double degraded,
                                                          double unhealthy);
/* The operation's name and trackers (owned by the dashboard; record into them directly to
 * feed only one of the three). Thread-safety: any thread. */
VIGIL_API const char *vigil_operation_name(const vigil_operation *op);
/* The operation's latency tracker. Thread-safety: any thread. */
VIGIL_API vigil_latency *vigil_operation_latency(vigil_operation *op);
/* The operation's error tracker. Thread-safety: any thread. */
VIGIL_API vigil_errors *vigil_operation_errors(vigil_operation *op);
/* The operation's throughput tracker. Thread-safety: any thread. */
VIGIL_API vigil_throughput *vigil_operation_throughput(vigil_operation *op);

/* The operation's status by the rules above. Thread-safety: any thread; never blocks
 * recorders (readers of one dashboard take turns). */
VIGIL_API vigil_health vigil_operation_status(vigil_operation *op);
/* The service's status: its worst operation's (healthy without operations).
 * Thread-safety: as vigil_operation_status. */
VIGIL_API vigil_health vigil_dashboard_status(vigil_dashboard *d);
/* Number of operations. Thread-safety: any thread. */
VIGIL_API size_t vigil_dashboard_operation_count(vigil_dashboard *d);

/* Appends a report for a terminal to out: service, status, window, one aligned line per
 * operation (status, total operations, ops/s, error %, avg/p50/p95/p99 with units), the
 * overall figures and the most common errors. Empty figures print "-" and an operation (or a
 * dashboard) without any data says "no data"; no NaN is ever printed.
 * Errors: VIGIL_EINVAL, VIGIL_ELIMIT, VIGIL_ENOMEM (out keeps what was appended before).
 * Thread-safety: any thread; recorders may record meanwhile. */
VIGIL_API vigil_status vigil_dashboard_report(vigil_dashboard *d, vigil_buffer *out);
/* The same data as one JSON object (schema in docs/trackers.md); figures without data are
 * null, strings are escaped. Errors: as vigil_dashboard_report.
 * Thread-safety: any thread; recorders may record meanwhile. */
VIGIL_API vigil_status vigil_dashboard_report_json(vigil_dashboard *d, vigil_buffer *out);

/* --- stress helper ------------------------------------------------------------------------- */

/* One unit of work: returns 0 on success, anything else on failure. iteration runs from 0 to
 * iterations - 1, each exactly once, in no particular order across threads. */
typedef int (*vigil_stress_fn)(void *user, uint64_t iteration);

typedef struct vigil_stress_result {
    uint64_t operations; /* callbacks run */
    uint64_t successes;  /* that returned 0 */
    uint64_t failures;
    unsigned threads;        /* threads that ran */
    double duration_seconds; /* wall time of the whole run */
    double ops_per_second;   /* operations / duration_seconds */
    double success_rate;     /* successes / operations; NaN when no operation ran */
    double latency_avg;      /* callback durations in seconds; NaN when none ran */
    double latency_p50;
    double latency_p95;
    double latency_p99;
    double latency_max;
    uint64_t peak_rss_bytes; /* the process's peak resident set (VmHWM) after the run; 0 when
                                /proc/self/status cannot be read */
} vigil_stress_result;

/* Runs fn `iterations` times across `threads` threads (1..1024) and measures each call.
 * Errors: VIGIL_EINVAL (fn or out NULL, threads out of range), VIGIL_ENOMEM (no thread could be
 * started, or no memory); when only some threads start, the run uses those.
 * Thread-safety: any thread; fn runs concurrently on the helper's threads. */
VIGIL_API vigil_status vigil_stress_run(uint64_t iterations, unsigned threads, vigil_stress_fn fn,
                                        void *user, vigil_stress_result *out);

#ifdef __cplusplus
}
#endif
#endif
