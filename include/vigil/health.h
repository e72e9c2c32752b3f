/* vigil/health.h — health checks: named callbacks run on their own intervals by a runner that
 * enforces a timeout on each, rolls the results up into one status for the service, reports
 * them as JSON (served at /health, /health/live and /health/ready by vigil/http.h) and exposes
 * them as metrics.
 *
 *     vigil_health_runner *hr = vigil_runtime_health(rt);       // or vigil_health_runner_new
 *     vigil_health_check_opts c;
 *     vigil_health_check_opts_init(&c);
 *     c.name = "queue";
 *     c.fn = check_queue;                                        // returns a vigil_health_status
 *     c.interval_seconds = 15;
 *     c.critical = false;                                        // failing only degrades
 *     vigil_health_runner_add(hr, &c);
 *     vigil_health_runner_add_disk(hr, NULL, NULL);              // built-in: free space on "/"
 *
 * Status rules (docs/health.md has the full table):
 *   no checks registered                          -> healthy
 *   checks registered, none has a result yet      -> unknown
 *   a critical check's latest result is unhealthy -> unhealthy
 *   any check not healthy (a check without a result counts as unknown) -> degraded
 *   otherwise                                     -> healthy
 * "Ready" means: the overall status is healthy or degraded AND every critical check has a result.
 *
 * Threads. vigil_health_runner_start starts one scheduler thread; each run of a check happens on
 * a worker thread from a pool that grows on demand up to max_workers. When a run exceeds its
 * timeout the scheduler publishes a "timed out" result (unhealthy for a critical check, degraded
 * otherwise) without waiting for it; the check is not started again until that run returns,
 * and the result it then returns replaces the timeout result. A run that never returns keeps
 * its worker; see vigil_health_runner_stop for what happens to it at shutdown. Readers (the
 * HTTP handlers, the metrics collector, vigil_health_runner_check) only copy the latest results
 * under a short lock and never wait for a check.
 */
#ifndef VIGIL_HEALTH_H
#define VIGIL_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/export.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define VIGIL_HEALTH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VIGIL_HEALTH_PRINTF(a, b)
#endif

/* A check's or the service's status. The numbers are the values of the
 * vigil_health_status / vigil_health_check_status gauges (as in vigil/track.h's dashboard:
 * higher is worse, unknown last). */
typedef enum vigil_health_status {
    VIGIL_HEALTH_HEALTHY = 0,
    VIGIL_HEALTH_DEGRADED = 1,
    VIGIL_HEALTH_UNHEALTHY = 2,
    VIGIL_HEALTH_UNKNOWN = 3,
} vigil_health_status;

/* "healthy", "degraded", "unhealthy", "unknown" (also for values out of range).
 * Thread-safety: any thread. */
VIGIL_API const char *vigil_health_status_name(vigil_health_status s);

/* Bounds of a result: everything is stored inline, so recording a result never allocates. */
#define VIGIL_HEALTH_NAME_SIZE 64      /* a check name: 1..63 bytes */
#define VIGIL_HEALTH_MESSAGE_SIZE 256  /* message: longer text is cut (at a UTF-8 boundary) */
#define VIGIL_HEALTH_KEY_SIZE 48       /* detail key: 1..47 bytes, else refused */
#define VIGIL_HEALTH_VALUE_SIZE 128    /* detail value: longer text is cut */
#define VIGIL_HEALTH_MAX_DETAILS 16    /* details per result; more are refused */
#define VIGIL_HEALTH_MAX_CHECKS 256    /* checks per runner */

typedef struct vigil_health_detail {
    char key[VIGIL_HEALTH_KEY_SIZE];
    char value[VIGIL_HEALTH_VALUE_SIZE];
} vigil_health_detail;

/* One result of a check. A check callback receives one with status UNKNOWN, an empty message and
 * no details, fills message and details with the helpers below and returns its status; the
 * runner fills the remaining fields. */
typedef struct vigil_health_result {
    vigil_health_status status;
    char message[VIGIL_HEALTH_MESSAGE_SIZE];
    size_t detail_count;
    vigil_health_detail details[VIGIL_HEALTH_MAX_DETAILS];
    double duration_seconds;  /* how long the run took; for a timed-out result, the time until
                                 it was declared timed out */
    int64_t finished_ms;      /* wall clock (ms since the epoch) when recorded; 0: no result */
    bool timed_out;           /* this is the runner's timeout result, not the callback's */
    double timeout_seconds;   /* input for the callback: the check's timeout, so a callback that
                                 can bound its own work (a connect, a request) does so */
} vigil_health_result;

/* Sets the message (printf-style; cut to VIGIL_HEALTH_MESSAGE_SIZE - 1 bytes).
 * Thread-safety: the thread that owns res (the check's callback). */
VIGIL_API void vigil_health_result_message(vigil_health_result *res, const char *fmt, ...)
    VIGIL_HEALTH_PRINTF(2, 3);

/* Adds a key/value detail (the value printf-style, cut to VIGIL_HEALTH_VALUE_SIZE - 1 bytes);
 * a key already present gets the new value. Keys must be 1..47 bytes of UTF-8 without control
 * characters. Errors: VIGIL_EINVAL (bad key), VIGIL_ELIMIT (VIGIL_HEALTH_MAX_DETAILS reached);
 * the result is unchanged then. Thread-safety: as vigil_health_result_message. */
VIGIL_API vigil_status vigil_health_result_detail(vigil_health_result *res, const char *key,
                                                  const char *fmt, ...) VIGIL_HEALTH_PRINTF(3, 4);

/* A check: fills res (message, details) and returns its status. Runs on a worker thread of the
 * runner (or on the thread calling vigil_health_runner_run_all), never two runs of one check at
 * a time. It may block (that is what the timeout is for) but should bound its own work by
 * res->timeout_seconds where it can. A value outside the enum is recorded as UNKNOWN. */
typedef vigil_health_status (*vigil_health_fn)(vigil_health_result *res, void *user);

typedef struct vigil_health_check_opts {
    const char *name;          /* required (1..63 bytes of UTF-8, no control characters), unique
                                  in the runner; the `check` label of the metrics. Copied. */
    vigil_health_fn fn;        /* required for vigil_health_runner_add; ignored (set by the
                                  library) for the built-in checks */
    void *user;                /* passed to fn */
    void (*free_user)(void *user); /* called once the check is removed and not running; NULL:
                                  user is not the runner's to free */
    double interval_seconds;   /* time between the starts of two runs; default 10 */
    double timeout_seconds;    /* a run taking longer is reported timed out; default 5 */
    bool critical;             /* failing makes the service unhealthy (else degraded) and the
                                  service is not ready before its first result; default true */
} vigil_health_check_opts;

/* Sets the defaults above (name and fn NULL). Thread-safety: any thread. */
VIGIL_API void vigil_health_check_opts_init(vigil_health_check_opts *opts);

typedef struct vigil_health_runner vigil_health_runner;

typedef struct vigil_health_runner_opts {
    unsigned max_workers;      /* largest number of worker threads, 1..256; default 8. A run
                                  that hangs holds one until it returns, so this bounds how
                                  many hung checks the others can survive. */
} vigil_health_runner_opts;

/* Sets the defaults above. Thread-safety: any thread. */
VIGIL_API void vigil_health_runner_opts_init(vigil_health_runner_opts *opts);

/* Creates a stopped runner with no checks (opts NULL: defaults).
 * Errors: VIGIL_EINVAL, VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_health_runner_new(const vigil_health_runner_opts *opts,
                                               vigil_health_runner **out);

/* Stops the runner (see vigil_health_runner_stop), removes its metrics collector from the
 * registry it was registered with, and frees it with its checks (calling their free_user).
 * A check still running in an abandoned worker keeps its user data until its callback returns;
 * that thread then frees what is left. NULL is a no-op.
 * Thread-safety: no other thread may use r during or after the call; stop any HTTP server
 * serving r first. */
VIGIL_API void vigil_health_runner_free(vigil_health_runner *r);

/* Adds a check; it first runs as soon as the runner is started (at once if it is running).
 * Errors: VIGIL_EINVAL (missing name or fn, bad name, interval or timeout not a positive finite
 * number of seconds), VIGIL_EEXIST (name taken), VIGIL_ELIMIT (VIGIL_HEALTH_MAX_CHECKS),
 * VIGIL_ENOMEM. On error free_user is not called. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_health_runner_add(vigil_health_runner *r,
                                               const vigil_health_check_opts *opts);

/* Removes a check. If it is running, it is unlisted at once and freed (free_user called) by the
 * thread running it when its callback returns. Errors: VIGIL_ENOTFOUND.
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_health_runner_remove(vigil_health_runner *r, const char *name);

/* Starts the scheduler thread; checks then run on their intervals. Runner threads block all
 * asynchronous signals, so signals go to the program's own threads.
 * Errors: VIGIL_ESTATE (already running), VIGIL_EIO (a thread could not be created).
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_health_runner_start(vigil_health_runner *r);

/* Stops the scheduler and the workers. Runs queued but not started are dropped. Stop waits for
 * each run in progress until it returns or reaches its timeout, whichever comes first; workers
 * that returned are joined. A worker still inside a callback past its timeout (a hung check) is
 * detached and abandoned: the call returns without it, the check stays "running" (it is not
 * started again, even after a new vigil_health_runner_start, until it returns), and when the
 * callback finally returns its result is recorded and the thread exits. Latest results are
 * kept and still served. Idempotent. Thread-safety: any thread but a check's callback. */
VIGIL_API void vigil_health_runner_stop(vigil_health_runner *r);

/* Runs, one after another on the calling thread, every check not already running (run_all) or
 * every such check that is due (run_due), and records their results; returns when they are
 * done. For tests and for programs that drive vigil from their own loop without its threads.
 * No timeout is enforced on the calling thread (a hanging check hangs the caller; the built-in
 * checks bound their own work by their timeout), though a started scheduler still reports a run
 * past its timeout. Returns the number of checks run. Thread-safety: any thread but a
 * check's callback. */
VIGIL_API size_t vigil_health_runner_run_all(vigil_health_runner *r);
VIGIL_API size_t vigil_health_runner_run_due(vigil_health_runner *r);

/* The rolled-up status (rules in the file comment). Thread-safety: any thread; never waits for a
 * check. */
VIGIL_API vigil_health_status vigil_health_runner_status(vigil_health_runner *r);

/* Whether the service is ready: the status is healthy or degraded and every critical check has
 * a result. *overall (may be NULL) receives the status the decision used; when not ready, why
 * (may be NULL; cap bytes) receives the reason. Thread-safety: as vigil_health_runner_status. */
VIGIL_API bool vigil_health_runner_ready(vigil_health_runner *r, vigil_health_status *overall,
                                         char *why, size_t cap);

/* What the runner knows about one check. */
typedef struct vigil_health_check_info {
    char name[VIGIL_HEALTH_NAME_SIZE];
    bool critical;
    double interval_seconds;
    double timeout_seconds;
    uint64_t runs;              /* runs started so far */
    uint64_t timeouts;          /* runs that passed their timeout */
    bool running;               /* a run is queued or in progress (possibly hung) */
    bool has_result;            /* false: result.status is UNKNOWN, finished_ms 0 */
    vigil_health_result result; /* the latest result */
} vigil_health_check_info;

/* Copies what the runner knows about check `name`. Errors: VIGIL_ENOTFOUND.
 * Thread-safety: as vigil_health_runner_status. */
VIGIL_API vigil_status vigil_health_runner_check(vigil_health_runner *r, const char *name,
                                                 vigil_health_check_info *out);

/* Number of checks. Thread-safety: any thread. */
VIGIL_API size_t vigil_health_runner_count(vigil_health_runner *r);

/* Appends the JSON report served at /health to out:
 *   {"status":"degraded","ready":true,"checks":[{"name":"disk","status":"healthy",
 *    "critical":true,"message":"...","duration_seconds":0.0002,"last_run":"2025-01-02T03:04:05.678Z",
 *    "timed_out":false,"running":false,"interval_seconds":10,"timeout_seconds":5,"runs":3,
 *    "timeouts":0,"details":{"free_percent":"41.2"}}, ...]}
 * A check without a result has status "unknown" and null duration_seconds and last_run. Strings
 * are escaped; invalid UTF-8 becomes U+FFFD. *overall and *ready (each may be NULL) receive the
 * values written, so an HTTP status chosen from them matches the body.
 * Errors: VIGIL_ENOMEM, VIGIL_ELIMIT (out's cap). Thread-safety: as vigil_health_runner_status. */
VIGIL_API vigil_status vigil_health_runner_report_json(vigil_health_runner *r, vigil_buffer *out,
                                                       vigil_health_status *overall,
                                                       bool *ready);

/* Adds the runner's metrics to reg as a collector named "health":
 *   vigil_health_status                          gauge: the rolled-up status (0..3 as the enum)
 *   vigil_health_check_status{check}             gauge: each check's latest status (0..3)
 *   vigil_health_check_duration_seconds{check}   gauge: duration of the latest result
 *   vigil_health_check_last_run_timestamp_seconds{check} gauge: when it was recorded
 *   vigil_health_check_runs_total{check}         counter: runs started
 *   vigil_health_check_timeouts_total{check}     counter: runs that passed their timeout
 * Checks without a result have no duration or timestamp sample. reg must outlive the runner (or
 * the collector's removal by vigil_health_runner_free). Errors: VIGIL_ESTATE (already
 * registered), those of vigil_registry_add_collector. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_health_runner_register_metrics(vigil_health_runner *r,
                                                            vigil_registry *reg);

/* --- built-in checks ------------------------------------------------------------------------
 * Each vigil_health_runner_add_<kind> adds a check computed by the library. `check` supplies the
 * name, interval, timeout and critical flag (NULL: vigil_health_check_opts_init's defaults;
 * name NULL: the kind, e.g. "memory"); its fn, user and free_user are ignored. The kind's own
 * options (NULL: defaults) are copied. The worse of the statuses a check's thresholds give is
 * its status; its details carry the measured values. Each vigil_health_<kind>_opts_init sets
 * the defaults given below. Errors: as vigil_health_runner_add, plus VIGIL_EINVAL for bad kind
 * options, and for http, VIGIL_EIO when libcurl cannot be initialised.
 * Thread-safety: any thread, for every call in this section. */

/* Host memory from /proc/meminfo and the process's resident set from /proc/self/statm.
 * Degraded/unhealthy when MemAvailable / MemTotal (in %) is below the threshold (0: off), or
 * when the resident set is at or above rss_*_bytes (0: off). */
typedef struct vigil_health_memory_opts {
    double available_degraded_percent;  /* default 10 */
    double available_unhealthy_percent; /* default 5 */
    double rss_degraded_bytes;          /* default 0 (off) */
    double rss_unhealthy_bytes;         /* default 0 (off) */
} vigil_health_memory_opts;
VIGIL_API void vigil_health_memory_opts_init(vigil_health_memory_opts *opts);
VIGIL_API vigil_status vigil_health_runner_add_memory(vigil_health_runner *r,
                                                      const vigil_health_check_opts *check,
                                                      const vigil_health_memory_opts *opts);

/* Free space on the filesystem holding `path` (statvfs): the space available to unprivileged
 * users (df's "Avail"), in bytes and as a percentage of the filesystem's size. Degraded/unhealthy
 * when below a threshold (0: off). A path that cannot be examined is unhealthy. */
typedef struct vigil_health_disk_opts {
    const char *path;                   /* default "/"; copied */
    double free_degraded_percent;       /* default 10 */
    double free_unhealthy_percent;      /* default 5 */
    double free_degraded_bytes;         /* default 0 (off) */
    double free_unhealthy_bytes;        /* default 0 (off) */
} vigil_health_disk_opts;
VIGIL_API void vigil_health_disk_opts_init(vigil_health_disk_opts *opts);
VIGIL_API vigil_status vigil_health_runner_add_disk(vigil_health_runner *r,
                                                    const vigil_health_check_opts *check,
                                                    const vigil_health_disk_opts *opts);

/* Host CPU utilisation from the aggregate "cpu" line of /proc/stat: the share of non-idle time
 * (idle and iowait count as idle) between this run and the previous one. On the first run, or
 * when less than min_window_seconds have passed since the previous sample, the check samples
 * again after min_window_seconds. Degraded/unhealthy at or above the threshold (in %; above 100:
 * off). */
typedef struct vigil_health_cpu_opts {
    double degraded_percent;            /* default 90 */
    double unhealthy_percent;           /* default 101 (off: a busy CPU is degraded, not broken) */
    double min_window_seconds;          /* default 0.25 */
} vigil_health_cpu_opts;
VIGIL_API void vigil_health_cpu_opts_init(vigil_health_cpu_opts *opts);
VIGIL_API vigil_status vigil_health_runner_add_cpu(vigil_health_runner *r,
                                                   const vigil_health_check_opts *check,
                                                   const vigil_health_cpu_opts *opts);

/* The process's open file descriptors (/proc/self/fd) against its soft limit (RLIMIT_NOFILE).
 * Degraded/unhealthy when open / limit (in %) is at or above the threshold (above 100: off);
 * healthy when there is no limit. */
typedef struct vigil_health_fds_opts {
    double degraded_percent;            /* default 80 */
    double unhealthy_percent;           /* default 95 */
} vigil_health_fds_opts;
VIGIL_API void vigil_health_fds_opts_init(vigil_health_fds_opts *opts);
VIGIL_API vigil_status vigil_health_runner_add_fds(vigil_health_runner *r,
                                                   const vigil_health_check_opts *check,
                                                   const vigil_health_fds_opts *opts);

/* The load average (/proc/loadavg) over 1, 5 or 15 minutes divided by the number of online
 * CPUs. Degraded/unhealthy at or above the threshold (HUGE_VAL: off). */
typedef struct vigil_health_load_opts {
    unsigned minutes;                   /* 1, 5 or 15; default 5 */
    double degraded_per_cpu;            /* default 2 */
    double unhealthy_per_cpu;           /* default 4 */
} vigil_health_load_opts;
VIGIL_API void vigil_health_load_opts_init(vigil_health_load_opts *opts);
VIGIL_API vigil_status vigil_health_runner_add_load(vigil_health_runner *r,
                                                    const vigil_health_check_opts *check,
                                                    const vigil_health_load_opts *opts);

/* A TCP connection to host:port (resolved at every run, every address tried in turn with a
 * non-blocking connect) within 90 % of the check's timeout, so a silent peer is reported by the
 * check itself. Healthy when a connection is made (it is closed at once), unhealthy otherwise;
 * degraded when connecting took slow_seconds or more (0: off). */
typedef struct vigil_health_tcp_opts {
    const char *host;                   /* required: a name or a numeric address; copied */
    unsigned port;                      /* required: 1..65535 */
    double slow_seconds;                /* default 0 (off) */
} vigil_health_tcp_opts;
VIGIL_API void vigil_health_tcp_opts_init(vigil_health_tcp_opts *opts);
VIGIL_API vigil_status vigil_health_runner_add_tcp(vigil_health_runner *r,
                                                   const vigil_health_check_opts *check,
                                                   const vigil_health_tcp_opts *opts);

/* An HTTP GET of url with libcurl (the body is read and discarded), limited to 90 % of the
 * check's timeout. Healthy when the response status is expected_status (0: any 2xx), unhealthy
 * on another status or a transfer error; degraded when a good response took slow_seconds or
 * more (0: off). Redirects are not followed unless follow_redirects. */
typedef struct vigil_health_http_opts {
    const char *url;                    /* required: http:// or https://; copied */
    unsigned expected_status;           /* default 200; 0: any 2xx */
    double slow_seconds;                /* default 0 (off) */
    bool follow_redirects;              /* default false */
} vigil_health_http_opts;
VIGIL_API void vigil_health_http_opts_init(vigil_health_http_opts *opts);
VIGIL_API vigil_status vigil_health_runner_add_http(vigil_health_runner *r,
                                                    const vigil_health_check_opts *check,
                                                    const vigil_health_http_opts *opts);

#ifdef __cplusplus
}
#endif
#endif
