/* throughput.c — the throughput tracker: a total and a per-second ring (ring.c).
 *
 * The total is one atomic word, so it is exact whatever happens to the ring. "Ops/s over the
 * last N seconds" sums the ring's slots for the current second and the N - 1 before it, and
 * divides by the time those seconds actually span (the current second is only partly over, and
 * a tracker younger than N seconds has not seen N seconds). Seconds are counted from the
 * tracker's creation by its clock, which a test can replace to step time by hand.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "track/track_int.h"

struct vigil_throughput {
    _Atomic uint64_t total;
    vigil__clock clock;     /* fixed at creation */
    vigil__ring ring;       /* lock-free */
    unsigned export_window; /* fixed at creation */
    vigil__link link;
};

VIGIL_API void vigil_throughput_opts_init(vigil_throughput_opts *opts)
{
    if (opts != NULL)
        memset(opts, 0, sizeof *opts);
}

static vigil_status collect(vigil_emitter *em, void *user);
static const char *const throughput_suffixes[] = {"_operations_total", "_operations_per_second"};

VIGIL_API vigil_status vigil_throughput_new(const vigil_throughput_opts *opts,
                                            vigil_throughput **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "out is NULL");
    vigil_throughput_opts def;
    if (opts == NULL) {
        vigil_throughput_opts_init(&def);
        opts = &def;
    }
    unsigned window = opts->window_seconds ? opts->window_seconds : VIGIL_TRACK_DEFAULT_WINDOW;
    unsigned exp = opts->export_window_seconds;
    if (exp == 0)
        exp = window < 60 ? window : 60;
    if (exp > window)
        return vigil__fail(VIGIL_EINVAL, "export window %u s is longer than the window %u s", exp,
                           window);
    vigil_throughput *t = vigil__calloc(1, sizeof *t);
    if (t == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a throughput tracker");
    t->export_window = exp;
    vigil__clock_init(&t->clock, opts->clock, opts->clock_user);
    vigil_status st = vigil__ring_init(&t->ring, window);
    if (st == VIGIL_OK && opts->registry != NULL)
        st = vigil__link_add(&t->link, opts->registry, "throughput", opts->name, opts->help,
                             throughput_suffixes, 2, collect, t);
    if (st != VIGIL_OK) {
        vigil_throughput_free(t);
        return st;
    }
    *out = t;
    return VIGIL_OK;
}

VIGIL_API void vigil_throughput_free(vigil_throughput *t)
{
    if (t == NULL)
        return;
    vigil__link_remove(&t->link);
    vigil__ring_free(&t->ring);
    vigil__free(t);
}

VIGIL_API void vigil_throughput_record_n(vigil_throughput *t, uint64_t n)
{
    atomic_fetch_add_explicit(&t->total, n, memory_order_relaxed);
    vigil__ring_add(&t->ring, vigil__clock_elapsed_ns(&t->clock) / 1000000000u, n);
}

VIGIL_API void vigil_throughput_record(vigil_throughput *t)
{
    vigil_throughput_record_n(t, 1);
}

VIGIL_API uint64_t vigil_throughput_total(const vigil_throughput *t)
{
    return atomic_load_explicit(&t->total, memory_order_relaxed);
}

VIGIL_API double vigil_throughput_uptime(const vigil_throughput *t)
{
    return (double)vigil__clock_elapsed_ns(&t->clock) / 1e9;
}

VIGIL_API double vigil_throughput_rate(const vigil_throughput *t)
{
    uint64_t total = vigil_throughput_total(t);
    double up = vigil_throughput_uptime(t);
    return up > 0 ? (double)total / up : 0.0;
}

VIGIL_API uint64_t vigil_throughput_recent_count(const vigil_throughput *t, unsigned seconds)
{
    uint64_t now = vigil__clock_elapsed_ns(&t->clock) / 1000000000u;
    return vigil__ring_sum(&t->ring, now, seconds);
}

VIGIL_API double vigil_throughput_recent_rate(const vigil_throughput *t, unsigned seconds)
{
    seconds = vigil__ring_clamp(&t->ring, seconds);
    uint64_t ns = vigil__clock_elapsed_ns(&t->clock);
    uint64_t count = vigil__ring_sum(&t->ring, ns / 1000000000u, seconds);
    double span = vigil__ring_span(ns, seconds);
    return span > 0 ? (double)count / span : 0.0;
}

static vigil_status collect(vigil_emitter *em, void *user)
{
    vigil_throughput *t = user;
    const char *base = t->link.base;
    char name[256], help[512];
    vigil__join(name, sizeof name, base, "_operations");
    if (t->link.help == NULL)
        snprintf(help, sizeof help, "Operations of %s recorded since start.", base);
    vigil_family_desc total = {name, t->link.help ? t->link.help : help, NULL, VIGIL_COUNTER};
    vigil_status st = vigil_emit_family(em, &total);
    if (st == VIGIL_OK)
        st = vigil_emit_sample(em, NULL, 0, (double)vigil_throughput_total(t));
    if (st != VIGIL_OK)
        return st;
    vigil__join(name, sizeof name, base, "_operations_per_second");
    snprintf(help, sizeof help, "Operations of %s per second over the last %u s.", base,
             t->export_window);
    vigil_family_desc rate = {name, help, NULL, VIGIL_GAUGE};
    st = vigil_emit_family(em, &rate);
    if (st == VIGIL_OK)
        st = vigil_emit_sample(em, NULL, 0, vigil_throughput_recent_rate(t, t->export_window));
    return st;
}
