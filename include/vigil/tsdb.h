/* vigil/tsdb.h — the embedded time-series store: history of a process's own metrics (and any
 * points an application appends), compressed, with retention, optionally persisted to a data
 * directory with a write-ahead log, queried by label matchers over a time range.
 *
 *     vigil_tsdb_options o;
 *     vigil_tsdb_options_init(&o);            // memory only, 15 days, no sample cap
 *     o.data_dir = "/var/lib/myservice/vigil"; // persistent: WAL + blocks, recovered on open
 *     vigil_tsdb *db;
 *     if (vigil_tsdb_open(&o, &db) != VIGIL_OK) fprintf(stderr, "%s\n", vigil_errmsg());
 *     vigil_label l[] = {{"__name__", "temperature_celsius"}, {"room", "lab"}};
 *     vigil_tsdb_append(db, l, 2, vigil_tsdb_now_ms(), 21.5);
 *     ...
 *     vigil_tsdb_close(db);
 *
 * Data model (Prometheus's): a series is a label set including __name__; a sample is an int64
 * millisecond timestamp and a float64 value, stored bit-exactly. Samples of one series must
 * arrive in increasing time order; an older (or equal-time, different-value) sample is refused
 * with VIGIL_EORDER and counted. The special NaN VIGIL_TSDB_STALE_NAN marks a series as gone
 * (Prometheus's staleness marker); queries treat it as the end of the series.
 *
 * Recent samples live in the head (Gorilla-compressed chunks, cheap to append to); older ones
 * are sealed into immutable blocks (shared timestamp columns, decimal delta coding, zstd) that
 * are kept in memory in their compressed form and, with a data directory, written to disk. The
 * formats are specified in docs/formats.md; the design and its figures in docs/tsdb.md.
 *
 * Thread-safety: a vigil_tsdb may be used from any number of threads at once. Appends are
 * serialized inside the store; queries run concurrently with appends and never block them for
 * longer than copying one series' head chunk.
 */
#ifndef VIGIL_TSDB_H
#define VIGIL_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/export.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_tsdb vigil_tsdb;
typedef struct vigil_tsdb_querier vigil_tsdb_querier;
typedef struct vigil_tsdb_series_set vigil_tsdb_series_set;

/* Bits of Prometheus's staleness marker (a signalling NaN), stored as is. */
#define VIGIL_TSDB_STALE_BITS UINT64_C(0x7ff0000000000002)

/* True when v has exactly the staleness marker's bits (any other NaN is an ordinary value). */
VIGIL_API bool vigil_tsdb_is_stale(double v);
/* The staleness marker as a double. */
VIGIL_API double vigil_tsdb_stale_nan(void);
/* Wall clock in milliseconds since the epoch (the store's time unit). */
VIGIL_API int64_t vigil_tsdb_now_ms(void);

typedef struct vigil_tsdb_options {
    const char *data_dir;          /* NULL (default): memory only. Otherwise created if missing,
                                      recovered on open, locked against a second opener. */
    int64_t retention_ms;          /* drop samples older than newest - retention; 0: keep by
                                      age forever. Default 15 days. */
    uint64_t retention_samples;    /* cap on stored samples, oldest blocks dropped first; 0: none */
    uint64_t retention_bytes;      /* cap on bytes of sealed blocks; 0: none */
    int64_t block_range_ms;        /* time span of one sealed block; default 2 h */
    unsigned wal_sync_interval_ms; /* fsync the WAL this often (by vigil_tsdb_tick or the
                                      background thread); 0: at every commit. Default 1000. */
    uint32_t max_series;           /* refuse new series beyond this (VIGIL_ECARDINALITY);
                                      default 10,000,000 */
    bool background;               /* run a thread that calls vigil_tsdb_tick every 250 ms;
                                      default true. Without it the owner calls tick. */
    bool read_only;                /* open an existing data directory for queries only */
} vigil_tsdb_options;

/* Fills the defaults above. Thread-safety: any thread. */
VIGIL_API void vigil_tsdb_options_init(vigil_tsdb_options *opts);

/* Opens (and with a data directory, recovers) a store. A damaged WAL tail is truncated, counted
 * in vigil_tsdb_stats and described by vigil_tsdb_recovery_report; it never stops the open.
 * Errors: VIGIL_EINVAL (bad options), VIGIL_EIO (directory not usable, naming the path and the
 * system's reason), VIGIL_ESTATE (another process holds the directory), VIGIL_ENOMEM.
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_tsdb_open(const vigil_tsdb_options *opts, vigil_tsdb **out);

/* Syncs the WAL, stops the background thread and frees everything. Samples still in the head
 * stay in the WAL and come back on the next open. NULL is a no-op.
 * Thread-safety: no other call on db may run during or after it. */
VIGIL_API void vigil_tsdb_close(vigil_tsdb *db);

/* What recovery found on open ("" when the WAL was clean): e.g. which segment was truncated at
 * which offset and why. Valid until close. Thread-safety: any thread. */
VIGIL_API const char *vigil_tsdb_recovery_report(const vigil_tsdb *db);

/* ---- appending ------------------------------------------------------------------------------ */

/* Appends one sample to the series named by the label set (any order; __name__ required;
 * empty values dropped as in Prometheus). Creates the series when new.
 * Errors: VIGIL_EINVAL/VIGIL_ENAME (bad labels), VIGIL_EORDER (not newer than the series' last
 * sample, or older than the sealed data), VIGIL_ECARDINALITY, VIGIL_ENOMEM, VIGIL_EIO (WAL).
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_tsdb_append(vigil_tsdb *db, const vigil_label *labels, size_t count,
                                         int64_t t_ms, double value);

/* A handle to a series for repeated appends without label look-ups. Valid while db is open
 * (a series dropped by retention is re-created on the next append through its handle). */
typedef uint32_t vigil_tsdb_ref;

/* Finds or creates the series and returns its handle. Errors as vigil_tsdb_append. */
VIGIL_API vigil_status vigil_tsdb_series(vigil_tsdb *db, const vigil_label *labels, size_t count,
                                         vigil_tsdb_ref *out);

/* Appends through a handle: the fast path (no hashing, no allocation in the common case).
 * Errors: VIGIL_ENOTFOUND (unknown handle), VIGIL_EORDER, VIGIL_ENOMEM, VIGIL_EIO. */
VIGIL_API vigil_status vigil_tsdb_append_ref(vigil_tsdb *db, vigil_tsdb_ref ref, int64_t t_ms,
                                             double value);

/* Appends n samples to n series in one batch (one WAL record, one lock round trip): what the
 * self-scrape does. Stops at the first error other than VIGIL_EORDER; refused out-of-order
 * samples are counted and skipped. *appended (may be NULL) receives how many were stored. */
VIGIL_API vigil_status vigil_tsdb_append_batch(vigil_tsdb *db, const vigil_tsdb_ref *refs,
                                               const int64_t *t_ms, const double *values,
                                               size_t n, size_t *appended);

/* ---- self-scrape ---------------------------------------------------------------------------- */

/* Snapshots every series of the registry into the store at time t_ms (as a Prometheus scrape of
 * its /metrics would: counters as name_total, histograms as _bucket{le}/_sum/_count, summaries
 * with quantile; no _created series), and writes staleness markers for series that the previous
 * scrape of the same registry had and this one does not.
 * Errors: VIGIL_ENOMEM, VIGIL_EIO, VIGIL_ECARDINALITY (counted series are still written).
 * Thread-safety: any thread; scrapes of one registry are serialized. */
VIGIL_API vigil_status vigil_tsdb_scrape(vigil_tsdb *db, vigil_registry *reg, int64_t t_ms);

/* ---- maintenance ---------------------------------------------------------------------------- */

/* Does what is due at time now_ms: WAL sync, sealing head chunks into blocks, checkpoints,
 * retention. Called by the background thread; call it yourself with background = false.
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_tsdb_tick(vigil_tsdb *db, int64_t now_ms);

/* Writes buffered WAL records to disk and fsyncs them. No-op in memory mode. */
VIGIL_API vigil_status vigil_tsdb_sync(vigil_tsdb *db);

/* Seals everything in the head into blocks now (and persists them): used after an import and by
 * tests. Later appends to the same series must be newer than what was sealed. */
VIGIL_API vigil_status vigil_tsdb_flush(vigil_tsdb *db);

typedef struct vigil_tsdb_stats {
    uint64_t series;               /* live series (head or blocks) */
    uint64_t samples;              /* stored samples, head + blocks */
    uint64_t head_samples;
    uint64_t head_bytes;           /* chunk bytes in the head */
    uint64_t blocks;
    uint64_t block_samples;
    uint64_t block_bytes;          /* compressed bytes of sealed blocks (in memory) */
    uint64_t disk_bytes;           /* blocks + WAL + checkpoint on disk; 0 in memory mode */
    uint64_t wal_bytes;
    int64_t min_time, max_time;    /* INT64_MAX / INT64_MIN when empty */
    uint64_t out_of_order;         /* refused samples (too old) */
    uint64_t wal_corruptions;      /* damaged WAL tails truncated on recovery */
    uint64_t wal_syncs;
    double wal_sync_seconds;       /* total time spent in fsync */
    uint64_t retention_dropped;    /* samples dropped by retention */
} vigil_tsdb_stats;

/* Fills the statistics. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_tsdb_get_stats(vigil_tsdb *db, vigil_tsdb_stats *out);

/* Exposes the store's own metrics (vigil_tsdb_* series, samples, bytes, WAL syncs and their
 * duration, out-of-order and corruption counts) in reg, read at scrape time. */
VIGIL_API vigil_status vigil_tsdb_register_metrics(vigil_tsdb *db, vigil_registry *reg);

/* ---- import --------------------------------------------------------------------------------- */

typedef struct vigil_tsdb_import_stats {
    uint64_t samples;
    uint64_t series;
    uint64_t lines;
} vigil_tsdb_import_stats;

/* Imports OpenMetrics text with timestamps (what `promtool tsdb create-blocks-from openmetrics`
 * reads) from a file, then flushes. Errors carry the line number (VIGIL_EINVAL), VIGIL_EIO,
 * VIGIL_EORDER (a series going back in time, with its line). stats may be NULL. */
VIGIL_API vigil_status vigil_tsdb_import_openmetrics(vigil_tsdb *db, const char *path,
                                                     vigil_tsdb_import_stats *stats);

/* ---- querying ------------------------------------------------------------------------------- */

typedef enum vigil_match_type {
    VIGIL_MATCH_EQUAL = 0,     /* name="value" */
    VIGIL_MATCH_NOT_EQUAL,     /* name!="value" */
    VIGIL_MATCH_REGEX,         /* name=~"re" (fully anchored, RE2-like syntax) */
    VIGIL_MATCH_NOT_REGEX,     /* name!~"re" */
} vigil_match_type;

typedef struct vigil_matcher {
    vigil_match_type type;
    const char *name;
    const char *value;
} vigil_matcher;

/* A consistent view of the store over [mint, maxt] (both inclusive, milliseconds): samples
 * appended later may or may not be seen; sealing and retention never change what it sees.
 * Errors: VIGIL_EINVAL (mint > maxt), VIGIL_ENOMEM. Thread-safety: any thread; one querier is
 * used by one thread at a time. */
VIGIL_API vigil_status vigil_tsdb_querier_new(vigil_tsdb *db, int64_t mint, int64_t maxt,
                                              vigil_tsdb_querier **out);
VIGIL_API void vigil_tsdb_querier_free(vigil_tsdb_querier *q);

/* Selects the series matching all matchers (Prometheus semantics: a matcher that matches the
 * empty string also matches series without that label) that have samples in the querier's
 * range, sorted by label set. Errors: VIGIL_EINVAL (bad regex, with PCRE2's reason). The set
 * must be freed before its querier. */
VIGIL_API vigil_status vigil_tsdb_select(vigil_tsdb_querier *q, const vigil_matcher *matchers,
                                         size_t count, vigil_tsdb_series_set **out);
VIGIL_API void vigil_tsdb_series_set_free(vigil_tsdb_series_set *set);

/* Moves to the next series; false at the end (or on error: see vigil_tsdb_series_set_status). */
VIGIL_API bool vigil_tsdb_series_next(vigil_tsdb_series_set *set);
/* The status that ended iteration early (VIGIL_OK at a normal end). */
VIGIL_API vigil_status vigil_tsdb_series_set_status(const vigil_tsdb_series_set *set);
/* The current series' labels, sorted byte-wise by name as Prometheus sorts them (so "Zone"
 * comes before "__name__"); valid until next. */
VIGIL_API size_t vigil_tsdb_series_labels(const vigil_tsdb_series_set *set,
                                          const vigil_label **labels);
/* The current series' samples within the range, oldest first, decoded into arrays owned by the
 * set and valid until next. Returns the count. */
VIGIL_API size_t vigil_tsdb_series_samples(vigil_tsdb_series_set *set, const int64_t **t_ms,
                                           const double **values);

/* Label names (sorted) of the series matching the matchers (all series when count is 0) with
 * data in the querier's range. The strings belong to the querier. *names is allocated with the
 * vigil allocator: free it with vigil_tsdb_strings_free. */
VIGIL_API vigil_status vigil_tsdb_label_names(vigil_tsdb_querier *q, const vigil_matcher *matchers,
                                              size_t count, const char ***names, size_t *n);
/* Values (sorted) of one label over the matching series. Same ownership as label_names. */
VIGIL_API vigil_status vigil_tsdb_label_values(vigil_tsdb_querier *q, const char *name,
                                               const vigil_matcher *matchers, size_t count,
                                               const char ***values, size_t *n);
VIGIL_API void vigil_tsdb_strings_free(const char **strings);

typedef struct vigil_tsdb_metadata {
    const char *metric;   /* family name as exposed, e.g. "http_requests" for a counter */
    const char *type;     /* "counter", "gauge", "histogram", "summary", "unknown" */
    const char *help;
    const char *unit;
} vigil_tsdb_metadata;

/* Metadata of metric families known to the store (from self-scrapes and imports). The array
 * and strings belong to the querier. */
VIGIL_API vigil_status vigil_tsdb_metadata_list(vigil_tsdb_querier *q,
                                                const vigil_tsdb_metadata **out, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
