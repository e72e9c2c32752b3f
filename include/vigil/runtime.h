/* vigil/runtime.h — bringing monitoring up and down in one call each, and the name-based
 * convenience calls for code that does not keep handles.
 *
 *     vigil_options o;
 *     vigil_options_init(&o);           // defaults: /metrics on 127.0.0.1:9090, process metrics
 *     o.metrics_addr = "127.0.0.1:9464";
 *     vigil_runtime *rt;
 *     if (vigil_start(&o, &rt) != VIGIL_OK) fprintf(stderr, "%s\n", vigil_errmsg());
 *     ...
 *     vigil_stop(rt);
 *
 * The environment overrides the options given in code, so an operator can move a deployed
 * program without rebuilding it (see docs/configuration.md):
 *   VIGIL_METRICS_ENABLED  0/1/false/true     VIGIL_METRICS_ADDR  HOST:PORT
 *   VIGIL_METRICS_PATH     /path              VIGIL_PROCESS_METRICS 0/1
 *   VIGIL_HOST_METRICS     0/1
 *   VIGIL_GLOBAL_LABELS    k=v,k2=v2          VIGIL_MAX_CHILDREN  N
 *   VIGIL_HTTP_THREADS     N                  VIGIL_HEALTH_ENABLED 0/1
 *   VIGIL_HEALTH_PATH      /path
 *   VIGIL_HISTORY_ENABLED  0/1                VIGIL_HISTORY_DIR   /var/lib/app/vigil
 *   VIGIL_SCRAPE_INTERVAL_MS N                VIGIL_HISTORY_RETENTION_HOURS N
 *   VIGIL_QUERY_API_ENABLED 0/1               VIGIL_QUERY_API_PATH /path
 *   VIGIL_QUERY_TIMEOUT_MS N
 *
 * With health enabled (the default) the runtime also owns a health runner (vigil/health.h):
 * started by vigil_start, stopped by vigil_stop, its endpoints served next to the metrics
 * (/health, /health/live, /health/ready) and its metrics in the registry. Add checks to it at
 * any time through vigil_runtime_health(rt).
 *
 * Given an event bus (options.events), the runtime also serves its recent events as JSON at
 * options.events_path (/api/v1/events) on the same server; the bus stays the caller's.
 *
 * With history enabled, the same server also answers Prometheus's HTTP query API over the
 * history (vigil_http_server_serve_query_api at options.query_api_path, /api/v1): Grafana or
 * any Prometheus client can use the metrics port as a Prometheus data source.
 */
#ifndef VIGIL_RUNTIME_H
#define VIGIL_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/events.h"
#include "vigil/export.h"
#include "vigil/health.h"
#include "vigil/http.h"
#include "vigil/metrics.h"
#include "vigil/status.h"
#include "vigil/tsdb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_runtime vigil_runtime;

typedef struct vigil_options {
    vigil_registry *registry;        /* NULL: the default registry */
    bool metrics_enabled;            /* serve the exposition over HTTP; default true */
    const char *metrics_addr;        /* default "127.0.0.1:9090" */
    const char *metrics_path;        /* default "/metrics" */
    bool process_metrics;            /* add the process collector; default true */
    bool host_metrics;               /* add the host collector (node_exporter's names, see
                                        docs/host-metrics.md); default false */
    const vigil_label *global_labels;/* added to every series; default none */
    size_t global_label_count;
    size_t max_children;             /* per-family cardinality guard; 0: 10000 */
    unsigned http_threads;           /* default 2 */
    bool health_enabled;             /* run a health runner, serve its endpoints; default true */
    const char *health_path;         /* prefix of the health endpoints; default "/health" */
    vigil_event_bus *events;         /* serve this bus's recent events (vigil/events.h) next to
                                        the metrics; default NULL: none. Not owned: stop the
                                        runtime before freeing the bus */
    const char *events_path;         /* where; default "/api/v1/events" */
    bool history_enabled;            /* self-scrape the registry into an embedded store
                                        (vigil/tsdb.h) every scrape interval; default false */
    const char *history_dir;         /* keep that history on disk here (WAL + blocks, recovered
                                        at start); NULL (default): in memory only */
    unsigned scrape_interval_ms;     /* self-scrape period, 1000..86400000; default 15000 */
    int64_t history_retention_ms;    /* how long history is kept; default 15 days */
    bool query_api_enabled;          /* with history, serve Prometheus's query API over it
                                        next to the metrics; default true */
    const char *query_api_path;      /* its prefix; default "/api/v1" */
    unsigned query_timeout_ms;       /* longest a query may run (and cap of a request's
                                        timeout parameter), 1..3600000; default 30000 */
} vigil_options;

/* Fills the defaults above. Thread-safety: any thread. */
VIGIL_API void vigil_options_init(vigil_options *opts);

/* Applies the VIGIL_* environment variables to opts. Strings point into the environment or into
 * storage owned by the library for the process's life. Errors: VIGIL_EINVAL naming the variable.
 * vigil_start calls it itself; call it directly to see the effective options. */
VIGIL_API vigil_status vigil_options_from_env(vigil_options *opts);

/* Brings monitoring up: applies the environment, configures the registry, registers the process
 * collector, creates the health runner (when health is enabled), starts the HTTP server, adds
 * the runner's metrics to the registry and starts the runner. On failure nothing is left
 * running.
 * Errors: VIGIL_EINVAL, VIGIL_EADDR, VIGIL_ENOMEM, those of vigil_registry_set_global_labels,
 * and VIGIL_EEXIST when health is enabled and another running runtime's health runner already
 * reports into the same registry (start the second with health_enabled = false).
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_start(const vigil_options *opts, vigil_runtime **out);

/* Stops the server, then the health runner (see vigil_health_runner_stop for a check still
 * hanging), and frees the runtime (the registry stays). NULL is a no-op.
 * Thread-safety: any thread; no other thread may use rt during or after the call. */
VIGIL_API void vigil_stop(vigil_runtime *rt);

/* Accessors. Thread-safety: any thread while rt is alive.
 * The registry the runtime serves. */
VIGIL_API vigil_registry *vigil_runtime_registry(const vigil_runtime *rt);
/* The HTTP server (NULL when metrics are disabled); routes may not be added while it runs. */
VIGIL_API vigil_http_server *vigil_runtime_http(const vigil_runtime *rt);
/* The URL of the exposition, e.g. "http://127.0.0.1:9464/metrics"; "" when disabled. */
VIGIL_API const char *vigil_runtime_metrics_url(const vigil_runtime *rt);
/* The URL of the health report, e.g. "http://127.0.0.1:9464/health"; "" when health or metrics
 * are disabled. /live and /ready are below it. */
VIGIL_API const char *vigil_runtime_health_url(const vigil_runtime *rt);
/* The URL of the recent events, e.g. "http://127.0.0.1:9464/api/v1/events"; "" when no bus was
 * given or metrics are disabled. */
VIGIL_API const char *vigil_runtime_events_url(const vigil_runtime *rt);
/* The runtime's store when history is enabled (query it with vigil/tsdb.h), else NULL. Valid
 * until vigil_stop. Thread-safety: any thread. */
VIGIL_API vigil_tsdb *vigil_runtime_tsdb(const vigil_runtime *rt);
/* The health runner (NULL when health is disabled): add checks to it with
 * vigil_health_runner_add and the built-ins. It is running; it is freed by vigil_stop. */
VIGIL_API vigil_health_runner *vigil_runtime_health(const vigil_runtime *rt);

/* --- name-based convenience (the slower path) --------------------------------------------- *
 * These find the family by name (creating it on first use with the given label names in the
 * given order) and the child by value, then record. They cost a lock-free family lookup plus a
 * child lookup per call (see docs/benchmarks.md); code on a hot path should keep handles.
 * Validation and the cardinality guard are those of the handle API. A name first used with one
 * type or label-name list and later with another gives VIGIL_ETYPE.
 * Thread-safety: any thread. reg NULL means the default registry. */
VIGIL_API vigil_status vigil_record_counter(vigil_registry *reg, const char *name, double v,
                                            const vigil_label *labels, size_t count);
VIGIL_API vigil_status vigil_record_gauge(vigil_registry *reg, const char *name, double v,
                                          const vigil_label *labels, size_t count);
/* Histograms created here use vigil_default_buckets. */
VIGIL_API vigil_status vigil_record_histogram(vigil_registry *reg, const char *name, double v,
                                              const vigil_label *labels, size_t count);

#ifdef __cplusplus
}
#endif
#endif
