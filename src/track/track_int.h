/* track_int.h — what the track module's files share: the per-second ring that error and
 * throughput trackers count in, the tracker clock, the link between a tracker and the registry
 * it is exposed in, and reads that reuse a caller's scratch sketch. Not exported. */
#ifndef VIGIL_TRACK_INT_H
#define VIGIL_TRACK_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/metrics.h"
#include "vigil/sketch.h"
#include "vigil/track.h"

/* --- clock (ring.c) ------------------------------------------------------------------------
 * A tracker's time is nanoseconds since its creation by its own clock. A clock that reports a
 * time before the start (a misbehaving fake) reads as the start. */
typedef struct vigil__clock {
    vigil_clock_fn fn;
    void *user;
    uint64_t start_ns;
} vigil__clock;

void vigil__clock_init(vigil__clock *c, vigil_clock_fn fn, void *user);
uint64_t vigil__clock_elapsed_ns(const vigil__clock *c);

/* --- per-second ring (ring.c) --------------------------------------------------------------
 * One 64-bit word per second: the upper 30 bits tag which second (since the clock's start, plus
 * one, modulo 2^30: 34 years before a tag repeats) the lower 34 bits count. A write to a slot
 * holding an older second replaces it with a compare-and-swap, so a slot is never reset under
 * a writer and a reader never takes a count from another second for the one it asks about:
 * seconds with no activity simply have no slot with their tag and read as 0. len is the longest
 * window plus one, so the second being written at a window's far edge never evicts one the
 * window still reads. */
#define VIGIL__RING_COUNT_BITS 34
#define VIGIL__RING_COUNT_MAX ((UINT64_C(1) << VIGIL__RING_COUNT_BITS) - 1)
#define VIGIL__RING_TAG_MASK ((UINT64_C(1) << 30) - 1)

typedef struct vigil__ring {
    _Atomic uint64_t *slots;
    unsigned len;    /* window + 1 */
    unsigned window; /* longest readable window in seconds */
} vigil__ring;

vigil_status vigil__ring_init(vigil__ring *r, unsigned window);
void vigil__ring_free(vigil__ring *r);
/* Counts n in second `sec` (since the clock's start). Lock-free. */
void vigil__ring_add(vigil__ring *r, uint64_t sec, uint64_t n);
/* The counts of seconds now_sec - seconds + 1 .. now_sec (seconds clamped to 1..window). */
uint64_t vigil__ring_sum(const vigil__ring *r, uint64_t now_sec, unsigned seconds);
/* The time in seconds that window covers at elapsed_ns: seconds - 1 whole seconds plus the part
 * of the current one, or less when the clock started more recently. */
double vigil__ring_span(uint64_t elapsed_ns, unsigned seconds);
/* Clamps a requested window to 1..r->window. */
unsigned vigil__ring_clamp(const vigil__ring *r, unsigned seconds);

/* --- registry link (link.c) ----------------------------------------------------------------
 * A tracker exposed in a registry holds the registry, its collector's name, the base name and
 * its help text. vigil__link_add checks every family name the tracker will emit (valid, and no
 * registry family of that name) before it adds the collector. */
typedef struct vigil__link {
    vigil_registry *reg;
    char *collector; /* "<what>:<base>" */
    char *base;
    char *help;
} vigil__link;

/* names: the family names the collector emits, as <base><suffix>; counters end in "_total"
 * here (checked in both forms). */
vigil_status vigil__link_add(vigil__link *l, vigil_registry *reg, const char *what,
                             const char *base, const char *help, const char *const *suffixes,
                             size_t suffix_count, vigil_collect_fn fn, void *user);
void vigil__link_remove(vigil__link *l);
/* Copies base, dropping a trailing `drop` suffix (e.g. "_seconds"); NULL on ENOMEM. */
char *vigil__base_name(const char *base, const char *drop);
/* Joins base and suffix into buf (size n). Returns false when it does not fit. */
bool vigil__join(char *buf, size_t n, const char *base, const char *suffix);

/* --- reads with a scratch sketch (latency.c) ----------------------------------------------- */
/* Fills *out from a sketch (count 0: every double NaN). */
void vigil__latency_stats_from(const vigil_sketch *s, vigil_latency_stats *out);
/* vigil_latency_read with a caller's scratch sketch for the recent scope (no allocation). */
vigil_status vigil__latency_read_with(vigil_latency *t, vigil_scope scope, vigil_sketch *scratch,
                                      vigil_latency_stats *out);
/* Merges the tracker's data for a scope into dst (tmp: scratch for a recent read). */
vigil_status vigil__latency_merge_into(vigil_latency *t, vigil_scope scope, vigil_sketch *dst,
                                       vigil_sketch *tmp);
/* Creates a tracker without a registry for the dashboard. */
vigil_status vigil__latency_new_plain(double window_seconds, unsigned buckets, vigil_latency **out);
/* Emits the latency families for several trackers, one label set each (count labels each). */
typedef struct vigil__latency_item {
    vigil_latency *t;
    const vigil_label *labels;
    size_t label_count;
} vigil__latency_item;
vigil_status vigil__latency_emit(vigil_emitter *em, const char *base, const char *help,
                                 const vigil__latency_item *items, size_t n, vigil_sketch *scratch);

/* --- errors internals (errors.c) ----------------------------------------------------------- */
/* Visits every kind with its count (including the overflow kind, even at 0). */
typedef vigil_status (*vigil__kind_visit)(void *ctx, const char *kind, uint64_t count);
vigil_status vigil__errors_each(const vigil_errors *t, vigil__kind_visit fn, void *ctx);
/* Seconds since the tracker's creation by its clock. */
uint64_t vigil__errors_now_sec(const vigil_errors *t);

/* --- text helpers (report.c; also used by snapshot.c) ------------------------------------- */
/* A duration with a human unit ("12.3 ms", "850.0 µs", "1.20 s"); "-" for NaN/inf/negative. */
void vigil__fmt_duration(char *out, size_t n, double seconds);
/* A rate as "150.0" ("%.3g" when huge); "-" for NaN/inf/negative. */
void vigil__fmt_rate(char *out, size_t n, double rate);
/* printf-style append. Errors: VIGIL_EINVAL (format failed), VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__bputf(vigil_buffer *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Display width of UTF-8 text: one column per code point (no wide characters expected). */
size_t vigil__text_width(const char *s);
/* n copies of c and a newline. */
vigil_status vigil__brule(vigil_buffer *b, char c, size_t n);

/* --- dashboard internals (dashboard.c, report.c) ------------------------------------------- */
#include <pthread.h>

struct vigil_operation {
    char *name;                 /* fixed at creation */
    vigil_dashboard *dashboard; /* the owner */
    vigil_latency *latency;
    vigil_errors *errors;
    vigil_throughput *throughput;
    _Atomic uint64_t degraded_p99_bits; /* double bits; 0: not checked */
    _Atomic uint64_t unhealthy_p99_bits;
};

struct vigil_dashboard {
    char *service;                   /* fixed at creation */
    vigil_dashboard_opts opts;       /* fixed at creation (registry/name not kept) */
    _Atomic(vigil_operation *) *ops; /* max_operations entries; filled in order */
    _Atomic size_t op_count;         /* published with release after ops[i] is set */
    pthread_mutex_t lock;            /* guards creation of operations */
    pthread_mutex_t read_lock;       /* guards scratch: status, reports, scrapes take turns */
    vigil_sketch *scratch[2];
    vigil__clock clock; /* uptime */
    vigil__link link;
};

/* Everything a report shows about one operation, read under read_lock. */
typedef struct vigil__op_view {
    vigil_operation *op;
    vigil_health status;
    uint64_t ops_total;    /* throughput */
    double ops_rate_total; /* since the operation was created */
    uint64_t ops_recent;
    double ops_rate_recent;
    uint64_t successes, errors; /* all time */
    uint64_t recent_requests, recent_errors;
    vigil_latency_stats lat_all, lat_recent;
} vigil__op_view;

/* Fills *v (read_lock held: uses scratch[0]). */
void vigil__op_view_read(vigil_dashboard *d, vigil_operation *op, vigil__op_view *v);
/* The number of operations published so far, and the i-th (i < that number). */
size_t vigil__dashboard_op_count(vigil_dashboard *d);
vigil_operation *vigil__dashboard_op(vigil_dashboard *d, size_t i);
double vigil__load_double(_Atomic uint64_t *bits);

#endif
