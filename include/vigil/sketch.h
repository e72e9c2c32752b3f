/* vigil/sketch.h — a relative-error quantile sketch (DDSketch family) for latencies and sizes.
 *
 * Values fall into logarithmic buckets of ratio γ = 2^(2^-6) ≈ 1.0109: bucket i holds the values
 * in (γ^(i-1), γ^i], which is exactly bucket i of a Prometheus native histogram (and an
 * OpenTelemetry exponential histogram) of schema 6. A quantile is answered with a value within
 * VIGIL_SKETCH_REL_ERROR (0.55 %) of the true sample at that rank; min, max, count and sum are
 * kept exactly. A sketch is one fixed block of memory (sizeof ≤ 16 KiB) holding
 * VIGIL_SKETCH_BUCKETS buckets, a window of about 31 binary orders of magnitude (e.g. 1 µs to
 * 35 min); when observations span more, the lowest buckets are collapsed into one, so the upper
 * quantiles (the ones latency work is about) stay exact and only the lowest lose precision.
 * Zero goes to a zero bucket; negative values and NaN are not recorded (counted as rejected).
 *
 * Recording is lock-free and allocation-free from any number of threads. Moving the window (a
 * value above the top bucket, or below the bottom while the largest value still fits) is rare:
 * the first value leaves 15.5 octaves of room either side. That record waits for records in
 * flight and costs one membarrier(2) call. Reads (quantiles, merge, export) never block
 * recorders; they may wait briefly for a window move in progress. A read concurrent with
 * records sees each record either entirely or not at all in count, but may see its bucket
 * before its sum.
 */
#ifndef VIGIL_SKETCH_H
#define VIGIL_SKETCH_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/export.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VIGIL_SKETCH_SCHEMA 6
#define VIGIL_SKETCH_BUCKETS 1984
/* (γ - 1) / (γ + 1) for γ = 2^(1/64): the worst relative error of a reported quantile. */
#define VIGIL_SKETCH_REL_ERROR 0.0054152

typedef struct vigil_sketch vigil_sketch;

/* Allocates an empty sketch. Errors: VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_sketch_new(vigil_sketch **out);
/* Frees it. NULL is a no-op. No other thread may use it. */
VIGIL_API void vigil_sketch_free(vigil_sketch *s);
/* Empties it (count, sum, min, max, buckets). Not atomic with respect to concurrent records: a
 * record racing a reset may be kept or lost. Thread-safety: any thread. */
VIGIL_API void vigil_sketch_reset(vigil_sketch *s);
/* Bytes one sketch occupies. */
VIGIL_API size_t vigil_sketch_size(void);

/* Records v (>= 0). Hot path: lock-free, no allocation. Thread-safety: any thread. */
VIGIL_API void vigil_sketch_record(vigil_sketch *s, double v);
/* Records v n times. */
VIGIL_API void vigil_sketch_record_n(vigil_sketch *s, double v, uint64_t n);

/* Exact aggregates. count excludes rejected values; min/max are NaN while empty.
 * Thread-safety: any thread. */
VIGIL_API uint64_t vigil_sketch_count(const vigil_sketch *s);
VIGIL_API double vigil_sketch_sum(const vigil_sketch *s);
VIGIL_API double vigil_sketch_min(const vigil_sketch *s);
VIGIL_API double vigil_sketch_max(const vigil_sketch *s);
/* Negative or NaN values offered to the sketch and not recorded. */
VIGIL_API uint64_t vigil_sketch_rejected(const vigil_sketch *s);

/* The q-quantile (0 <= q <= 1): the sample at rank floor(q * (count - 1)) within the relative
 * error, clamped to [min, max] (so q = 0 and q = 1 are exact). NaN when empty or q is out of
 * range. Thread-safety: any thread; O(buckets). */
VIGIL_API double vigil_sketch_quantile(const vigil_sketch *s, double q);
/* Several quantiles in one pass; qs must be increasing. */
VIGIL_API void vigil_sketch_quantiles(const vigil_sketch *s, const double *qs, size_t n,
                                      double *out);

/* Adds every observation of src into dst (dst then answers as if it had seen both streams).
 * Errors: VIGIL_EINVAL. Thread-safety: src may be recorded into concurrently; dst may not be
 * the target of another merge at the same time. */
VIGIL_API vigil_status vigil_sketch_merge(vigil_sketch *dst, const vigil_sketch *src);

/* Bucket index of a value (schema 6: bucket i holds (2^((i-1)/64), 2^(i/64)]) and a bucket's
 * upper bound. Pure functions. */
VIGIL_API int32_t vigil_sketch_index(double v);
VIGIL_API double vigil_sketch_bucket_upper(int32_t index);

/* The sketch as a classic histogram: each requested bound is moved to the nearest bucket
 * boundary at or above it (written back to bounds_out), and cumulative[i] counts the
 * observations <= bounds_out[i] exactly. Bounds must be positive and increasing; +Inf is
 * implied (its count is vigil_sketch_count). Counts are exact for bounds at or above the
 * collapse point (the lowest live bucket). Errors: VIGIL_EBUCKETS (also when two bounds fall in
 * the same sketch bucket).
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_sketch_to_histogram(const vigil_sketch *s, const double *bounds,
                                                 size_t n, double *bounds_out,
                                                 uint64_t *cumulative);

/* --- sliding windows ---------------------------------------------------------------------------
 * A window answers "over the last max_age seconds" with age_buckets sketches in a ring: a record
 * goes into the sketch of the current period (max_age / age_buckets long); a read merges the
 * sketches of the last age_buckets periods, so it covers between max_age - period and max_age
 * of history. The memory is (age_buckets + 1) sketches, fixed at creation. */
typedef struct vigil_sketch_window vigil_sketch_window;

/* Errors: VIGIL_EINVAL (max_age <= 0, age_buckets 0 or > 60), VIGIL_ENOMEM.
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_sketch_window_new(double max_age_seconds, unsigned age_buckets,
                                               vigil_sketch_window **out);
VIGIL_API void vigil_sketch_window_free(vigil_sketch_window *w);
/* Records into the current period. Hot path: reads the coarse monotonic clock (vDSO, no
 * system call), lock-free. Thread-safety: any thread. */
VIGIL_API void vigil_sketch_window_record(vigil_sketch_window *w, double v);
/* Empties out and merges the window's live periods into it. Errors: VIGIL_EINVAL.
 * Thread-safety: any thread; never blocks recorders. */
VIGIL_API vigil_status vigil_sketch_window_read(vigil_sketch_window *w, vigil_sketch *out);

#ifdef __cplusplus
}
#endif
#endif
