/* sketch_window.c — quantiles over the last max_age seconds, from a ring of sketches.
 *
 * Time is cut into periods of max_age / age_buckets. The ring has age_buckets + 1 sketches: the
 * one of the current period takes records, the age_buckets - 1 before it are read with it, and
 * the spare one is the *next* period's, which whoever records first in a period empties ahead
 * of time. So a sketch is normally reset while nobody writes to it; only after an idle gap (no
 * record for a whole period) is the current sketch reset on first use, and then the records
 * that race that reset wait for it (a tag with a busy bit) instead of being lost.
 */
#include <sched.h>
#include <time.h>

#include "metrics/metrics_int.h"
#include "vigil/sketch.h"

#define MAX_AGE_BUCKETS 60
#define BUSY ((int64_t)1 << 62)
/* The tag of a sketch that never held a period: older than any, and without the BUSY bit (which
 * -1 would have, making the first claim wait forever for a reset nobody does). */
#define NEVER INT64_MIN

struct vigil_sketch_window {
    uint64_t period_ns;
    unsigned ring;                 /* age_buckets + 1 */
    unsigned age_buckets;
    _Atomic int64_t tags[MAX_AGE_BUCKETS + 1]; /* period held by each sketch; | BUSY: resetting */
    vigil_sketch *sketches[MAX_AGE_BUCKETS + 1];
};

static int64_t current_period(const vigil_sketch_window *w)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    return (int64_t)(ns / w->period_ns);
}

VIGIL_API vigil_status vigil_sketch_window_new(double max_age, unsigned age_buckets,
                                               vigil_sketch_window **out)
{
    if (out == NULL || !(max_age > 0) || max_age > 1e7 || age_buckets == 0 ||
        age_buckets > MAX_AGE_BUCKETS)
        return vigil__fail(VIGIL_EINVAL, "a window needs max_age > 0 s and 1..%d age buckets",
                           MAX_AGE_BUCKETS);
    vigil_sketch_window *w = vigil__calloc(1, sizeof *w);
    if (w == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a sketch window");
    w->age_buckets = age_buckets;
    w->ring = age_buckets + 1;
    w->period_ns = (uint64_t)(max_age * 1e9 / age_buckets);
    if (w->period_ns == 0)
        w->period_ns = 1;
    for (unsigned i = 0; i < w->ring; i++) {
        atomic_init(&w->tags[i], NEVER);
        if (vigil_sketch_new(&w->sketches[i]) != VIGIL_OK) {
            vigil_sketch_window_free(w);
            return vigil__fail(VIGIL_ENOMEM, "out of memory creating a sketch window");
        }
    }
    *out = w;
    return VIGIL_OK;
}

VIGIL_API void vigil_sketch_window_free(vigil_sketch_window *w)
{
    if (w == NULL)
        return;
    for (unsigned i = 0; i < w->ring; i++)
        vigil_sketch_free(w->sketches[i]);
    vigil__free(w);
}

/* Makes sketch `slot` hold period p, emptying it if it held an older one. Returns false if it
 * already holds a newer period (a record that slept through a whole ring; it is dropped into
 * the newer period's sketch by the caller instead). */
static bool claim(vigil_sketch_window *w, unsigned slot, int64_t p)
{
    for (;;) {
        int64_t tag = atomic_load_explicit(&w->tags[slot], memory_order_acquire);
        if (tag == p)
            return true;
        if (tag & BUSY) {
            sched_yield();
            continue;
        }
        if (tag > p)
            return false;
        if (atomic_compare_exchange_weak_explicit(&w->tags[slot], &tag, p | BUSY,
                                                  memory_order_acquire, memory_order_relaxed)) {
            vigil_sketch_reset(w->sketches[slot]);
            atomic_store_explicit(&w->tags[slot], p, memory_order_release);
            return true;
        }
    }
}

VIGIL_API void vigil_sketch_window_record(vigil_sketch_window *w, double v)
{
    int64_t p = current_period(w);
    unsigned slot = (unsigned)(p % w->ring);
    if (VIGIL_UNLIKELY(atomic_load_explicit(&w->tags[slot], memory_order_acquire) != p))
        (void)claim(w, slot, p);
    vigil_sketch_record(w->sketches[slot], v);
    /* Prepare the next period's sketch while nobody writes to it. */
    unsigned next = (unsigned)((p + 1) % w->ring);
    if (VIGIL_UNLIKELY(atomic_load_explicit(&w->tags[next], memory_order_relaxed) < p + 1))
        (void)claim(w, next, p + 1);
}

VIGIL_API vigil_status vigil_sketch_window_read(vigil_sketch_window *w, vigil_sketch *out)
{
    if (w == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "window or output sketch is NULL");
    vigil_sketch_reset(out);
    int64_t p = current_period(w);
    for (unsigned i = 0; i < w->ring; i++) {
        int64_t tag = atomic_load_explicit(&w->tags[i], memory_order_acquire);
        if (tag & BUSY || tag > p || tag <= p - (int64_t)w->age_buckets)
            continue;
        vigil_status st = vigil_sketch_merge(out, w->sketches[i]);
        if (st != VIGIL_OK)
            return st;
    }
    return VIGIL_OK;
}
