/* ring.c — time for the trackers: the default clock, the start/stop timer, and the per-second
 * ring of counters behind "operations in the last N seconds".
 *
 * The ring is shaped by two demands. Recording must be lock-free, so a slot cannot be reset by
 * one thread while another adds to it: the second a slot belongs to and its count share one
 * 64-bit word and move together in a compare-and-swap (a 30-bit tag and a 34-bit count, see
 * track_int.h). And a read must never take an old second for a current one after an idle gap:
 * the reader asks each slot for a specific second and counts it only when the tag matches, so
 * a slot last written minutes ago reads as 0 without anyone having cleared it.
 */
#include <math.h>
#include <time.h>

#include "core/core_int.h"
#include "track/track_int.h"

VIGIL_API uint64_t vigil_clock_monotonic(void *user)
{
    (void)user;
    return vigil__mono_ns();
}

VIGIL_API vigil_timer vigil_timer_start(void)
{
    vigil_timer t = {vigil__mono_ns()};
    return t;
}

VIGIL_API uint64_t vigil_timer_elapsed_ns(const vigil_timer *timer)
{
    if (timer == NULL)
        return 0;
    uint64_t now = vigil__mono_ns();
    return now > timer->start_ns ? now - timer->start_ns : 0;
}

VIGIL_API double vigil_timer_elapsed(const vigil_timer *timer)
{
    return (double)vigil_timer_elapsed_ns(timer) / 1e9;
}

VIGIL_API double vigil_timer_stop(const vigil_timer *timer, vigil_latency *latency)
{
    double s = vigil_timer_elapsed(timer);
    if (latency != NULL)
        vigil_latency_record(latency, s);
    return s;
}

void vigil__clock_init(vigil__clock *c, vigil_clock_fn fn, void *user)
{
    c->fn = fn ? fn : vigil_clock_monotonic;
    c->user = user;
    c->start_ns = c->fn(c->user);
}

uint64_t vigil__clock_elapsed_ns(const vigil__clock *c)
{
    uint64_t now = c->fn(c->user);
    return now > c->start_ns ? now - c->start_ns : 0;
}

vigil_status vigil__ring_init(vigil__ring *r, unsigned window)
{
    if (window == 0 || window > VIGIL_TRACK_MAX_WINDOW)
        return vigil__fail(VIGIL_EINVAL, "a window of %u s is outside 1..%d s", window,
                           VIGIL_TRACK_MAX_WINDOW);
    r->window = window;
    r->len = window + 1;
    r->slots = vigil__calloc(r->len, sizeof *r->slots);
    if (r->slots == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory for a %u s ring", window);
    return VIGIL_OK;
}

void vigil__ring_free(vigil__ring *r)
{
    vigil__free((void *)r->slots);
    r->slots = NULL;
}

static uint64_t tag_of(uint64_t sec)
{
    return (sec + 1) & VIGIL__RING_TAG_MASK;
}

void vigil__ring_add(vigil__ring *r, uint64_t sec, uint64_t n)
{
    if (n == 0)
        return;
    _Atomic uint64_t *slot = &r->slots[sec % r->len];
    uint64_t tag = tag_of(sec);
    uint64_t add = n > VIGIL__RING_COUNT_MAX ? VIGIL__RING_COUNT_MAX : n;
    uint64_t w = atomic_load_explicit(slot, memory_order_relaxed);
    for (;;) {
        uint64_t wtag = w >> VIGIL__RING_COUNT_BITS;
        uint64_t count;
        if (wtag == tag) {
            count = (w & VIGIL__RING_COUNT_MAX) + add;
            if (count > VIGIL__RING_COUNT_MAX)
                count = VIGIL__RING_COUNT_MAX;
        } else {
            /* The slot holds another second. If it is a later one, this writer was delayed by
             * a whole ring and its second is no longer readable: leave the slot alone. */
            uint64_t ahead = (wtag - tag) & VIGIL__RING_TAG_MASK;
            if (wtag != 0 && ahead < (VIGIL__RING_TAG_MASK >> 1))
                return;
            count = add;
        }
        uint64_t nw = (tag << VIGIL__RING_COUNT_BITS) | count;
        if (atomic_compare_exchange_weak_explicit(slot, &w, nw, memory_order_relaxed,
                                                  memory_order_relaxed))
            return;
    }
}

unsigned vigil__ring_clamp(const vigil__ring *r, unsigned seconds)
{
    if (seconds == 0)
        return 1;
    return seconds > r->window ? r->window : seconds;
}

uint64_t vigil__ring_sum(const vigil__ring *r, uint64_t now_sec, unsigned seconds)
{
    seconds = vigil__ring_clamp(r, seconds);
    uint64_t sum = 0;
    for (unsigned i = 0; i < seconds && i <= now_sec; i++) {
        uint64_t sec = now_sec - i;
        uint64_t w = atomic_load_explicit(&r->slots[sec % r->len], memory_order_relaxed);
        if ((w >> VIGIL__RING_COUNT_BITS) == tag_of(sec))
            sum += w & VIGIL__RING_COUNT_MAX;
    }
    return sum;
}

double vigil__ring_span(uint64_t elapsed_ns, unsigned seconds)
{
    if (seconds == 0)
        seconds = 1;
    uint64_t part = elapsed_ns % 1000000000u;
    double span = (double)(seconds - 1) + (double)part / 1e9;
    double up = (double)elapsed_ns / 1e9;
    return up < span ? up : span;
}
