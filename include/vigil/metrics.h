/* vigil/metrics.h — counters, gauges, histograms, label families, registries and collectors.
 *
 * The model is Prometheus's: a registry holds metric families; a family has a name, help text,
 * an optional unit, constant labels and label names; each distinct tuple of label values is a
 * child (one time series, or one histogram) found by its values. A metric without label names is
 * a family with exactly one child, which the `vigil_counter_new`-style calls return directly.
 *
 * Hot path: vigil_counter_inc/add, vigil_gauge_set/inc/dec/add/sub and vigil_histogram_observe
 * never lock, allocate or make a system call. Counters and histograms write to a per-thread cell
 * (see docs/architecture.md), so threads updating the same metric do not contend; gauges are one
 * atomic word (last write wins, as a gauge must).
 *
 * Handles: a child handle returned by a lookup stays valid until the child is removed, its family
 * is cleared, or the registry is freed. Cache it; a lookup costs a hash and a compare. A handle
 * must not be used after its child was removed: the child is freed once no lookup can still see
 * it, so a later use is a use-after-free, as with any freed object.
 */
#ifndef VIGIL_METRICS_H
#define VIGIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/export.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_registry vigil_registry;
typedef struct vigil_family vigil_family;
typedef struct vigil_counter vigil_counter;
typedef struct vigil_gauge vigil_gauge;
typedef struct vigil_histogram vigil_histogram;
typedef struct vigil_summary vigil_summary;
typedef struct vigil_emitter vigil_emitter;

typedef enum vigil_metric_type {
    VIGIL_COUNTER = 0,
    VIGIL_GAUGE = 1,
    VIGIL_HISTOGRAM = 2,
    VIGIL_SUMMARY = 3,
    VIGIL_UNTYPED = 4,
} vigil_metric_type;

/* A label: name and value, both NUL-terminated UTF-8. */
typedef struct vigil_label {
    const char *name;
    const char *value;
} vigil_label;

/* Largest number of buckets a histogram may have (not counting the implied +Inf). */
#define VIGIL_MAX_BUCKETS 256
/* Largest number of label names a family may have. */
#define VIGIL_MAX_LABELS 16
/* Default maximum number of children per family (the cardinality guard). */
#define VIGIL_DEFAULT_MAX_CHILDREN 10000

/* What describes a metric family. Initialise with vigil_metric_opts_init() and set the fields you
 * need; every pointer is copied at registration, nothing is kept. */
typedef struct vigil_metric_opts {
    const char *name;                /* required; [a-zA-Z_:][a-zA-Z0-9_:]*, no "__" prefix.
                                        A counter's "_total" suffix is optional: "requests" and
                                        "requests_total" both expose requests_total. */
    const char *help;                /* help text; any UTF-8; NULL means none */
    const char *unit;                /* OpenMetrics unit, e.g. "seconds"; the name (without
                                        "_total") must then end in "_<unit>". NULL: none */
    const char *const *label_names;  /* the family's label names */
    size_t label_count;              /* at most VIGIL_MAX_LABELS */
    const vigil_label *const_labels; /* labels with a fixed value on every child */
    size_t const_label_count;
    const double *buckets;           /* histogram upper bounds, strictly increasing, finite;
                                        +Inf is implied. NULL: vigil_default_buckets */
    size_t bucket_count;
    size_t max_children;             /* cardinality guard; 0: the registry's default */
    const double *quantiles;         /* summary quantiles in [0, 1], increasing, at most
                                        VIGIL_MAX_QUANTILES. NULL: 0.5, 0.9, 0.99 */
    size_t quantile_count;
    double max_age_seconds;          /* summary window; 0: 600 (as client_golang) */
    unsigned age_buckets;            /* summary window periods, 1..60; 0: 5 */
} vigil_metric_opts;

#define VIGIL_MAX_QUANTILES 16

/* Sets every field to its default (all zero/NULL). Thread-safety: any thread. */
VIGIL_API void vigil_metric_opts_init(vigil_metric_opts *opts);

/* --- registries ------------------------------------------------------------------------------ */

/* Creates an empty registry. Errors: VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_registry_new(vigil_registry **out);

/* Frees a registry, its families, children and collectors. NULL is a no-op. No other thread may
 * use the registry or any handle from it during or after the call. Never free the default one. */
VIGIL_API void vigil_registry_free(vigil_registry *reg);

/* The process-wide default registry, created on first use (the process collector is added to it
 * by vigil_start). Never NULL unless memory is exhausted. Thread-safety: any thread. */
VIGIL_API vigil_registry *vigil_registry_default(void);

/* Adds labels to every series the registry exposes (e.g. service="api"). Names are validated and
 * must not clash with a registered family's label names. Call before registering metrics.
 * Errors: VIGIL_ENAME, VIGIL_ERESERVED, VIGIL_ELABELS (duplicate), VIGIL_ENOMEM.
 * Thread-safety: any thread; serialised with registration. */
VIGIL_API vigil_status vigil_registry_set_global_labels(vigil_registry *reg,
                                                        const vigil_label *labels, size_t count);

/* Default cardinality guard for families registered after the call (0 restores
 * VIGIL_DEFAULT_MAX_CHILDREN). Thread-safety: any thread. */
VIGIL_API void vigil_registry_set_max_children(vigil_registry *reg, size_t max_children);

/* Number of series-bearing children across all families (not counting collectors).
 * Thread-safety: any thread. */
VIGIL_API size_t vigil_registry_child_count(vigil_registry *reg);

/* Removes a family and frees it with its children; handles into it become invalid.
 * Errors: VIGIL_ENOTFOUND. Thread-safety: any thread, but no thread may still use its handles. */
VIGIL_API vigil_status vigil_registry_unregister(vigil_registry *reg, const char *name);

/* --- families -------------------------------------------------------------------------------- */

/* Registers a family of the given type (counter, gauge, histogram or summary).
 * Errors: VIGIL_EINVAL (NULL, bad type), VIGIL_ENAME, VIGIL_ERESERVED, VIGIL_ELABELS,
 * VIGIL_EBUCKETS, VIGIL_EEXIST (name or one of its series names taken), VIGIL_ENOMEM.
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_family_new(vigil_registry *reg, vigil_metric_type type,
                                        const vigil_metric_opts *opts, vigil_family **out);

/* Looks a family up by its name (as registered, or a counter's base name).
 * Returns NULL when absent. Thread-safety: any thread. */
VIGIL_API vigil_family *vigil_registry_find(vigil_registry *reg, const char *name);

/* A family's type and label names, fixed at registration. Thread-safety: any thread. */
VIGIL_API vigil_metric_type vigil_family_type(const vigil_family *fam);
VIGIL_API size_t vigil_family_label_count(const vigil_family *fam);
/* The i-th label name, or NULL when i is out of range. */
VIGIL_API const char *vigil_family_label_name(const vigil_family *fam, size_t i);
/* Number of live children. Thread-safety: any thread. */
VIGIL_API size_t vigil_family_child_count(vigil_family *fam);
/* Label sets refused by the cardinality guard so far. Thread-safety: any thread. */
VIGIL_API uint64_t vigil_family_refused(vigil_family *fam);

/* Finds or creates the child with these label values (count must equal the family's label
 * count). The returned handle is stable; see the file comment.
 * Errors: VIGIL_EINVAL, VIGIL_ETYPE (family of another type), VIGIL_ELABELS (count mismatch or a
 * value that is not valid UTF-8), VIGIL_ECARDINALITY (family full; counted in
 * vigil_series_refused_total), VIGIL_ENOMEM.
 * Thread-safety: any thread; lookups of existing children take no lock. */
VIGIL_API vigil_status vigil_family_counter(vigil_family *fam, size_t count,
                                            const char *const *values, vigil_counter **out);
VIGIL_API vigil_status vigil_family_gauge(vigil_family *fam, size_t count,
                                          const char *const *values, vigil_gauge **out);
VIGIL_API vigil_status vigil_family_histogram(vigil_family *fam, size_t count,
                                              const char *const *values, vigil_histogram **out);
VIGIL_API vigil_status vigil_family_summary(vigil_family *fam, size_t count,
                                            const char *const *values, vigil_summary **out);

/* Removes the child with these label values. Errors: VIGIL_ELABELS, VIGIL_ENOTFOUND.
 * Thread-safety: any thread; no thread may use the removed child's handle afterwards. */
VIGIL_API vigil_status vigil_family_remove(vigil_family *fam, size_t count,
                                           const char *const *values);

/* Removes every child. Thread-safety: as vigil_family_remove. */
VIGIL_API void vigil_family_clear(vigil_family *fam);

/* Expands to `count, values` for the calls above: vigil_family_counter(f, VIGIL_VALUES("GET",
 * "200"), &c). */
#define VIGIL_VALUES(...)                                                                     \
    (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)),                   \
        ((const char *const[]){__VA_ARGS__})

/* --- unlabelled shortcuts ------------------------------------------------------------------ */

/* Register a family with no label names and return its only child. opts->label_count must be 0.
 * Errors: as vigil_family_new. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_counter_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                         vigil_counter **out);
VIGIL_API vigil_status vigil_gauge_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                       vigil_gauge **out);
VIGIL_API vigil_status vigil_histogram_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                           vigil_histogram **out);
VIGIL_API vigil_status vigil_summary_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                         vigil_summary **out);

/* Value read by calling fn(user) at every collection (e.g. a queue length, bytes served by a
 * subsystem that keeps its own count). fn runs on the collecting thread, must be quick and must
 * not call functions that take the same registry's lock (see vigil_collect_fn). A counter
 * callback must never
 * return less than before. Errors: as vigil_family_new. Thread-safety: any thread. */
typedef double (*vigil_value_fn)(void *user);
VIGIL_API vigil_status vigil_gauge_func_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                            vigil_value_fn fn, void *user);
VIGIL_API vigil_status vigil_counter_func_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                              vigil_value_fn fn, void *user);

/* --- counters -------------------------------------------------------------------------------- */

/* Adds 1. Hot path. Thread-safety: any thread. */
VIGIL_API void vigil_counter_inc(vigil_counter *c);
/* Adds a whole number. Hot path. Thread-safety: any thread. */
VIGIL_API void vigil_counter_add_u64(vigil_counter *c, uint64_t n);
/* Adds a non-negative amount (fractions allowed). Errors: VIGIL_ENEGATIVE for v < 0 or NaN (the
 * counter is unchanged). Hot path; fractional adds are one compare-and-swap on a shared word,
 * whole amounts go to the per-thread cell. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_counter_add(vigil_counter *c, double v);
/* The current total. Thread-safety: any thread. */
VIGIL_API double vigil_counter_value(const vigil_counter *c);

/* --- gauges ---------------------------------------------------------------------------------- *
 * A gauge is one atomic word: set is a store (last write wins), the others a compare-and-swap
 * loop. Any value is allowed, NaN and infinities included. All are hot path.
 * Thread-safety: any thread; concurrent adds are never lost. */

/* Sets the value. */
VIGIL_API void vigil_gauge_set(vigil_gauge *g, double v);
/* Adds 1. */
VIGIL_API void vigil_gauge_inc(vigil_gauge *g);
/* Subtracts 1. */
VIGIL_API void vigil_gauge_dec(vigil_gauge *g);
/* Adds v (may be negative). */
VIGIL_API void vigil_gauge_add(vigil_gauge *g, double v);
/* Subtracts v. */
VIGIL_API void vigil_gauge_sub(vigil_gauge *g, double v);
/* Sets the gauge to the current Unix time in seconds (reads the vDSO clock, no syscall). */
VIGIL_API void vigil_gauge_set_to_current_time(vigil_gauge *g);
/* The current value. */
VIGIL_API double vigil_gauge_value(const vigil_gauge *g);

/* --- histograms ------------------------------------------------------------------------------ */

/* Records one observation. NaN is counted in +Inf and makes the sum NaN, as in Prometheus.
 * Hot path. Thread-safety: any thread. */
VIGIL_API void vigil_histogram_observe(vigil_histogram *h, double v);

/* A consistent read of a histogram: counts are cumulative (counts[i] observations <= bounds[i]),
 * counts[bucket_count] is the +Inf bucket and always equals count. */
typedef struct vigil_histogram_snapshot {
    size_t bucket_count;    /* finite bounds */
    const double *bounds;   /* bucket_count upper bounds (owned by the histogram) */
    uint64_t counts[VIGIL_MAX_BUCKETS + 1];
    uint64_t count;
    double sum;
} vigil_histogram_snapshot;

/* Fills *out. Thread-safety: any thread; never blocks observers. */
VIGIL_API void vigil_histogram_snapshot_read(const vigil_histogram *h,
                                             vigil_histogram_snapshot *out);

/* Bucket helpers: pure functions, any thread.
 * Prometheus client default buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10 (11 bounds). */
VIGIL_API const double *vigil_default_buckets(size_t *count);
/* start, start+width, ... (count bounds). Errors: VIGIL_EBUCKETS (count 0, width <= 0). */
VIGIL_API vigil_status vigil_buckets_linear(double start, double width, size_t count,
                                            double *out);
/* start, start*factor, ... (count bounds). Errors: VIGIL_EBUCKETS (count 0, start <= 0,
 * factor <= 1). */
VIGIL_API vigil_status vigil_buckets_exponential(double start, double factor, size_t count,
                                                 double *out);

/* --- summaries -------------------------------------------------------------------------------
 * A summary exposes quantiles over a sliding window (the last max_age_seconds, in age_buckets
 * steps, like the mainstream client libraries) plus _count and _sum over all time. Quantiles come
 * from the relative-error sketch (vigil/sketch.h): within 0.55 % of the true value. Each child
 * holds age_buckets + 1 sketches of 16 KiB, so keep labelled summaries to modest cardinality
 * (a histogram is the cheap choice for many series). Quantiles cover non-negative
 * observations; negative ones count in _count and _sum only. */

/* Records one observation: per-thread cells for _count and _sum, a lock-free sketch record for
 * the quantiles. Hot path. Thread-safety: any thread. */
VIGIL_API void vigil_summary_observe(vigil_summary *s, double v);
/* The q-quantile over the current window (NaN if no observation in it), the count and sum over
 * all time. The quantile call copies the window (tens of microseconds); not for hot paths.
 * Thread-safety: any thread. */
VIGIL_API double vigil_summary_quantile(const vigil_summary *s, double q);
VIGIL_API uint64_t vigil_summary_count(const vigil_summary *s);
VIGIL_API double vigil_summary_sum(const vigil_summary *s);

/* --- custom collectors ----------------------------------------------------------------------- */

/* Called at every collection to emit families with vigil_emit_*. Return VIGIL_OK, or an error
 * to have this collector's whole output dropped from this scrape (and counted in
 * vigil_collector_errors_total). Runs on the collecting thread while the registry is locked: it
 * must not call functions that take the same registry's lock (registration, unregistration,
 * vigil_registry_find, the vigil_record_* calls). */
typedef vigil_status (*vigil_collect_fn)(vigil_emitter *em, void *user);

/* Adds a collector. name identifies it in errors and for removal. Errors: VIGIL_EINVAL,
 * VIGIL_EEXIST, VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_registry_add_collector(vigil_registry *reg, const char *name,
                                                    vigil_collect_fn fn, void *user);
/* Errors: VIGIL_ENOTFOUND. Thread-safety: any thread; waits for a collection in progress. */
VIGIL_API vigil_status vigil_registry_remove_collector(vigil_registry *reg, const char *name);

/* Starts a family in a collector's output. Same naming rules as registration; a family name
 * already emitted in this collection (by the registry or another collector) is refused with
 * VIGIL_EEXIST and counted in vigil_collector_errors_total. */
typedef struct vigil_family_desc {
    const char *name;
    const char *help;
    const char *unit;
    vigil_metric_type type;
} vigil_family_desc;
VIGIL_API vigil_status vigil_emit_family(vigil_emitter *em, const vigil_family_desc *desc);

/* One sample of the current counter, gauge or untyped family. Label names are validated; the
 * same label set twice in a family is refused (VIGIL_EEXIST). */
VIGIL_API vigil_status vigil_emit_sample(vigil_emitter *em, const vigil_label *labels,
                                         size_t count, double value);

/* One histogram of the current histogram family: cumulative counts per finite bound plus the
 * implied +Inf (which is count). Errors: VIGIL_EBUCKETS (not cumulative / not increasing). */
VIGIL_API vigil_status vigil_emit_histogram(vigil_emitter *em, const vigil_label *labels,
                                            size_t count, size_t bucket_count,
                                            const double *bounds, const uint64_t *cumulative,
                                            uint64_t total, double sum);

/* One summary of the current summary family: quantiles (0..1) with values, count and sum. */
VIGIL_API vigil_status vigil_emit_summary(vigil_emitter *em, const vigil_label *labels,
                                          size_t count, size_t quantile_count,
                                          const double *quantiles, const double *values,
                                          uint64_t total, double sum);

/* --- name checks --------------------------------------------------------------------------- */

/* VIGIL_OK when name is a valid metric name, else VIGIL_ENAME/VIGIL_ERESERVED with a message. */
VIGIL_API vigil_status vigil_check_metric_name(const char *name);
/* VIGIL_OK when name is a valid, unreserved label name. */
VIGIL_API vigil_status vigil_check_label_name(const char *name);

/* --- the inlined counter hot path ----------------------------------------------------------
 * In C, vigil_counter_inc and vigil_counter_add_u64 compile inline into the caller: a thread-local
 * read, an add and a store, with no call. That is what makes an increment cost about a
 * nanosecond and lets threads scale (see docs/architecture.md, "Counters"). The price is a
 * small, fixed ABI: the first word of a counter handle is its cell pointer, and the thread's
 * shard offset is an exported thread-local. Define VIGIL_NO_INLINE before including vigil.h to
 * call the out-of-line functions instead (same behaviour, about twice the cost). */
#if !defined(VIGIL_NO_INLINE) && !defined(VIGIL_BUILDING) && !defined(__cplusplus) &&            \
    defined(__GNUC__)
#include <stdatomic.h>

struct vigil__counter_head {
    _Atomic uint64_t *cells; /* shard-0 cell; this thread's is vigil__shard_offset cells on */
};
VIGIL_API extern __thread long vigil__shard_offset __attribute__((tls_model("initial-exec")));
VIGIL_API void vigil__cell_add_slow(_Atomic uint64_t *cell0, uint64_t n);

static inline void vigil__counter_add_inline(vigil_counter *c, uint64_t n)
{
    _Atomic uint64_t *cell0 = ((struct vigil__counter_head *)(void *)c)->cells;
    long off = vigil__shard_offset;
    if (__builtin_expect(off <= 0, 0)) {
        vigil__cell_add_slow(cell0, n);
        return;
    }
    _Atomic uint64_t *mine = cell0 + off;
    atomic_store_explicit(mine, atomic_load_explicit(mine, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

#define vigil_counter_inc(c) vigil__counter_add_inline((c), 1)
#define vigil_counter_add_u64(c, n) vigil__counter_add_inline((c), (n))
#endif

#ifdef __cplusplus
}
#endif
#endif
