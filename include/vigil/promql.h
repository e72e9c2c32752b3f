/* promql.h — the PromQL engine: parse and evaluate Prometheus queries over a vigil_tsdb.
 *
 * Semantics are Prometheus 2.42's (the version Debian ships, which the conformance scripts and
 * the differential test compare against): range selectors include both ends, 5-minute
 * lookback, stale markers end a series, rate/increase extrapolation, holt_winters under its
 * 2.x name. docs/promql.md lists the differences from Prometheus 3.x.
 *
 * Thread-safety: queries may run from any number of threads at once, while the store ingests.
 * A result is owned by the caller and used by one thread at a time. */
#ifndef VIGIL_PROMQL_H
#define VIGIL_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/export.h"
#include "vigil/metrics.h" /* vigil_label */
#include "vigil/status.h"
#include "vigil/tsdb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_promql_options {
    int64_t lookback_ms;      /* how far back an instant selector looks; default 300000 (5 m) */
    int64_t timeout_ms;       /* a query running longer fails with VIGIL_PROMQL_ERR_TIMEOUT;
                                 default 120000 (Prometheus's 2 m); 0 = no limit */
    size_t max_samples;       /* most samples one query may hold in memory at once; default
                                 50,000,000 (Prometheus's --query.max-samples) */
    int64_t subquery_step_ms; /* step of a subquery written without one (`x[1h:]`); default
                                 60000, Prometheus's global evaluation interval */
    unsigned threads;         /* most threads one query may use. 1 (default; 0 means the same):
                                 only the calling thread, none is ever started. N > 1: a range
                                 query of at least 100 steps per part is split into up to N
                                 parts of its steps (no more than the machine has processors),
                                 all but the first each evaluated on a thread started for it.
                                 The answer is the same whatever the count. */
} vigil_promql_options;

/* Fills the defaults above. Thread-safety: any thread. */
VIGIL_API void vigil_promql_options_init(vigil_promql_options *opts);

typedef enum vigil_promql_value_type {
    VIGIL_PROMQL_SCALAR = 0,
    VIGIL_PROMQL_VECTOR,
    VIGIL_PROMQL_MATRIX,
    VIGIL_PROMQL_STRING,
} vigil_promql_value_type;

/* The "errorType" of Prometheus's HTTP API that a failed query maps to. */
typedef enum vigil_promql_error_type {
    VIGIL_PROMQL_ERR_NONE = 0,
    VIGIL_PROMQL_ERR_BAD_DATA,  /* the query does not parse or type-check */
    VIGIL_PROMQL_ERR_TIMEOUT,   /* options.timeout_ms elapsed */
    VIGIL_PROMQL_ERR_EXECUTION, /* evaluation failed: duplicate series, too many samples, ... */
    VIGIL_PROMQL_ERR_INTERNAL,  /* out of memory, storage failure */
} vigil_promql_error_type;

typedef struct vigil_promql_result vigil_promql_result;

/* Evaluates query at t_ms. On success *out holds a scalar, vector, matrix (for a range
 * selector such as `x[5m]`) or string. On failure *out is NULL, vigil_errmsg() holds
 * Prometheus's wording (e.g. `1:12: parse error: unexpected "}"`) and the status says which
 * API error it is (see vigil_promql_error_type_of): VIGIL_EINVAL (the query is not valid),
 * VIGIL_ETIMEOUT (options.timeout_ms elapsed), VIGIL_ESTATE (evaluation failed, e.g. "vector
 * cannot contain metrics with the same labelset"), VIGIL_ELIMIT (max_samples), VIGIL_ENOMEM or
 * VIGIL_EIO (internal). opts may be NULL for the defaults. */
VIGIL_API vigil_status vigil_promql_instant(vigil_tsdb *db, const vigil_promql_options *opts,
                                            const char *query, int64_t t_ms,
                                            vigil_promql_result **out);

/* Evaluates query at start_ms, start_ms + step_ms, ... <= end_ms; the result is a matrix (a
 * scalar query gives one series without labels). The query must be a scalar or an instant
 * vector. Errors as vigil_promql_instant, plus VIGIL_EINVAL for end < start, step <= 0 or
 * more than 11,000 points per series (Prometheus's limit). */
VIGIL_API vigil_status vigil_promql_range(vigil_tsdb *db, const vigil_promql_options *opts,
                                          const char *query, int64_t start_ms, int64_t end_ms,
                                          int64_t step_ms, vigil_promql_result **out);

/* The API error type a failed query's status maps to. */
VIGIL_API vigil_promql_error_type vigil_promql_error_type_of(vigil_status status);

/* Parses and type-checks a query without evaluating it. VIGIL_EINVAL with the parse error in
 * vigil_errmsg() when it is not valid PromQL. */
VIGIL_API vigil_status vigil_promql_check(const char *query);

VIGIL_API vigil_promql_value_type vigil_promql_result_type(const vigil_promql_result *r);
/* Series in a vector or matrix result, in evaluation order (Prometheus sorts only matrices
 * and sort()/sort_desc()/topk outputs; callers comparing results should sort). A scalar
 * result has one series without labels; a string result has none. */
VIGIL_API size_t vigil_promql_result_series(const vigil_promql_result *r);
/* Labels of series i, sorted by name. */
VIGIL_API size_t vigil_promql_result_labels(const vigil_promql_result *r, size_t i,
                                            const vigil_label **labels);
/* Points of series i (one for a vector or a scalar, any number for a matrix), oldest first. */
VIGIL_API size_t vigil_promql_result_points(const vigil_promql_result *r, size_t i,
                                            const int64_t **t_ms, const double **values);
/* The value of a string result (NULL for other types). */
VIGIL_API const char *vigil_promql_result_string(const vigil_promql_result *r);
/* The evaluation time of an instant result (the start of a range result). */
VIGIL_API int64_t vigil_promql_result_time(const vigil_promql_result *r);
VIGIL_API void vigil_promql_result_free(vigil_promql_result *r);

#ifdef __cplusplus
}
#endif
#endif
