/* sink.h — the interface between collection (metrics) and encoding (expo).
 *
 * Collection walks the registry and its collectors and hands each family and sample to a sink;
 * an encoder is a sink that writes bytes. Streaming, rather than building a snapshot tree first,
 * is what lets 100,000 series render in a few milliseconds with no per-series allocation.
 * Samples carry the *family* name plus a suffix; each format decides how to spell it
 * (e.g. counters: `x_total` in both formats, `x_created` only in OpenMetrics).
 */
#ifndef VIGIL_METRICS_SINK_H
#define VIGIL_METRICS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/metrics.h"

typedef enum vigil__suffix {
    VIGIL__SFX_NONE = 0,
    VIGIL__SFX_TOTAL,
    VIGIL__SFX_CREATED,
    VIGIL__SFX_BUCKET,
    VIGIL__SFX_COUNT,
    VIGIL__SFX_SUM,
} vigil__suffix;

typedef struct vigil__family_meta {
    const char *name; /* family name: a counter's without "_total" */
    const char *help; /* may be NULL */
    const char *unit; /* may be NULL */
    vigil_metric_type type;
} vigil__family_meta;

typedef struct vigil__sample {
    vigil__suffix suffix;
    size_t nlabels;
    const char *const *names;
    const char *const *values;
    const char *extra_name; /* "le" or "quantile", appended after the labels; NULL: none */
    double extra;
    bool is_int;            /* print ivalue, not value */
    uint64_t ivalue;
    double value;
} vigil__sample;

typedef struct vigil__sink {
    vigil_status (*begin)(void *ctx, const vigil__family_meta *meta);
    vigil_status (*sample)(void *ctx, const vigil__sample *sample);
    vigil_status (*end)(void *ctx);
    /* Output position, and going back to one: lets a failing collector's output be dropped. */
    size_t (*mark)(void *ctx);
    void (*rewind)(void *ctx, size_t mark);
    void *ctx;
} vigil__sink;

/* How a suffix is spelled in a sample name ("", "_total", "_created", "_bucket", ...). */
const char *vigil__suffix_text(vigil__suffix s);
/* The OpenMetrics type word of a family ("counter", ..., "unknown" for untyped). */
const char *vigil__type_word(vigil_metric_type t);

/* Streams the whole registry into the sink. Returns the first sink error (ELIMIT, ENOMEM);
 * collector failures are counted, not returned. */
vigil_status vigil__registry_collect(vigil_registry *reg, const vigil__sink *sink);

#endif
