/* vigil/snapshot.h — a console snapshot: a titled block of "Label: value" lines that a service
 * without Prometheus around it prints to stdout or a log, on demand or every few seconds.
 *
 *   === my-service ===
 *   Messages Sent:   1234
 *   Request Latency: avg 12.3 ms, p50 10.0 ms, p95 25.0 ms, p99 40.0 ms
 *   Uptime:          1.0 h
 *   ==================
 *
 * Items are added in display order, each with a label, and refer to metrics and trackers the
 * caller owns: a snapshot only reads them (the same reads a scrape does), so recording into them
 * is untouched by it. Every referenced object must outlive the snapshot. Uptime (since the
 * snapshot was created) is always the last line. No NaN or infinity is ever printed: an empty
 * latency tracker says "no data", any other missing figure "-".
 *
 * A printer thread (vigil_snapshot_start) renders and writes the block every interval; items may
 * still be added while it runs. See docs/snapshot.md.
 */
#ifndef VIGIL_SNAPSHOT_H
#define VIGIL_SNAPSHOT_H

#include <stdbool.h>
#include <stdio.h>

#include "vigil/buffer.h"
#include "vigil/export.h"
#include "vigil/metrics.h"
#include "vigil/status.h"
#include "vigil/track.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_snapshot vigil_snapshot;

/* Printing interval used when vigil_snapshot_start is given 0. */
#define VIGIL_SNAPSHOT_DEFAULT_INTERVAL 10.0
/* Throughput window used when vigil_snapshot_add_throughput is given 0 seconds. */
#define VIGIL_SNAPSHOT_DEFAULT_RATE_WINDOW 10
/* Error kinds listed per errors item (the most common first). */
#define VIGIL_SNAPSHOT_TOP_KINDS 5
/* Longest title or label in bytes. */
#define VIGIL_SNAPSHOT_LABEL_MAX 128

/* Creates an empty snapshot; its uptime starts now. title: any UTF-8 up to
 * VIGIL_SNAPSHOT_LABEL_MAX bytes (copied). Errors: VIGIL_EINVAL (NULL, empty, too long or not
 * UTF-8), VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_snapshot_new(const char *title, vigil_snapshot **out);
/* Stops the printer (without a final print), then frees the snapshot. NULL is a no-op. The
 * referenced metrics and trackers are not freed. Thread-safety: no other thread may use it. */
VIGIL_API void vigil_snapshot_free(vigil_snapshot *snap);

/* Adding items. label: UTF-8 up to VIGIL_SNAPSHOT_LABEL_MAX bytes (copied); the metric or
 * tracker must not be NULL and must outlive the snapshot. Items print in the order added.
 * Errors: VIGIL_EINVAL, VIGIL_ENOMEM. Thread-safety: any thread, also while the printer runs
 * (a mutex guards the item list; recorders never take it). */

/* A counter's total ("1234"). */
VIGIL_API vigil_status vigil_snapshot_add_counter(vigil_snapshot *snap, const char *label,
                                                  vigil_counter *counter);
/* A gauge's value ("5", "0.75"; "-" for NaN or infinity). */
VIGIL_API vigil_status vigil_snapshot_add_gauge(vigil_snapshot *snap, const char *label,
                                                vigil_gauge *gauge);
/* avg, p50, p95, p99 over the tracker's recent window, in human units
 * ("avg 12.3 ms, p50 10.0 ms, p95 25.0 ms, p99 40.0 ms"), or "no data". */
VIGIL_API vigil_status vigil_snapshot_add_latency(vigil_snapshot *snap, const char *label,
                                                  vigil_latency *latency);
/* Operations per second over the last `seconds` seconds (0: 10; clamped by the tracker to its
 * window): "150.0 ops/s (last 10 s)". */
VIGIL_API vigil_status vigil_snapshot_add_throughput(vigil_snapshot *snap, const char *label,
                                                     vigil_throughput *throughput,
                                                     unsigned seconds);
/* Errors since creation and the most common kinds: "3 of 120 requests (timeout 2, decode 1)",
 * or "0 of 120 requests". */
VIGIL_API vigil_status vigil_snapshot_add_errors(vigil_snapshot *snap, const char *label,
                                                 vigil_errors *errors);
/* Anything else: fn(user) at every render, printed as a number followed by unit (NULL or "":
 * none; copied), e.g. "42 clients". fn runs on the rendering thread (the printer's, or the
 * caller of vigil_snapshot_render) while the item list is locked: it must be quick and must not
 * call into this snapshot. */
VIGIL_API vigil_status vigil_snapshot_add_value(vigil_snapshot *snap, const char *label,
                                                vigil_value_fn fn, void *user, const char *unit);

/* Appends the block to out: "=== <title> ===", one line per item with the values aligned, an
 * "Uptime:" line and a closing rule as wide as the title line. Errors: VIGIL_EINVAL,
 * VIGIL_ELIMIT, VIGIL_ENOMEM (out is put back to its length before the call).
 * Thread-safety: any thread; recorders may record meanwhile. */
VIGIL_API vigil_status vigil_snapshot_render(vigil_snapshot *snap, vigil_buffer *out);

/* Starts a thread that renders the snapshot and writes it to out (NULL: stdout), then flushes,
 * every interval_seconds (0: VIGIL_SNAPSHOT_DEFAULT_INTERVAL; the first print is one interval
 * after the start). out must stay open until vigil_snapshot_stop. Errors: VIGIL_EINVAL (NULL,
 * negative, NaN or infinite interval), VIGIL_ESTATE (already running), VIGIL_ENOMEM (no
 * thread). Thread-safety: any thread; one start per stop. */
VIGIL_API vigil_status vigil_snapshot_start(vigil_snapshot *snap, double interval_seconds,
                                            FILE *out);
/* Wakes the printer at once, joins it, and when final_print is true writes one last snapshot to
 * its stream (a shutdown report). Does nothing when the printer is not running, so it may be
 * called any number of times. Thread-safety: any thread, but not from the printer itself (a
 * value callback must not call it). */
VIGIL_API void vigil_snapshot_stop(vigil_snapshot *snap, bool final_print);
/* Whether the printer thread runs. Thread-safety: any thread. */
VIGIL_API bool vigil_snapshot_running(vigil_snapshot *snap);

#ifdef __cplusplus
}
#endif
#endif
