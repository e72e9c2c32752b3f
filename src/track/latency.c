/* latency.c — the latency tracker: one quantile sketch for all time and one sliding window of
 * sketches for the recent past, both from vigil/sketch.h.
 *
 * Recording is the sketches' hot path twice over (lock-free, no allocation). The all-time
 * sketch answers count, sum, min and max exactly and quantiles within VIGIL_SKETCH_REL_ERROR;
 * the window answers the same for roughly the last window_seconds. A recent read merges the
 * window's periods into a scratch sketch; the public read allocates one (16 KiB), while the
 * dashboard and the collectors pass their own so that reports do not allocate per operation.
 *
 * Exposed as a Prometheus summary whose quantiles come from the window (as the mainstream
 * client libraries do: a summary's quantiles are "recent") and whose _sum and _count are
 * cumulative, plus two gauges with the all-time min and max.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "track/track_int.h"

struct vigil_latency {
    vigil_sketch *all;           /* since creation; lock-free */
    vigil_sketch_window *recent; /* the last window_seconds; lock-free */
    double window_seconds;       /* fixed at creation */
    vigil__link link;            /* fixed at creation */
};

static const double report_qs[3] = {0.5, 0.95, 0.99};

VIGIL_API void vigil_latency_opts_init(vigil_latency_opts *opts)
{
    if (opts != NULL)
        memset(opts, 0, sizeof *opts);
}

static vigil_status create(double window, unsigned buckets, vigil_latency **out)
{
    if (window == 0)
        window = VIGIL_LATENCY_DEFAULT_WINDOW;
    if (buckets == 0)
        buckets = VIGIL_LATENCY_DEFAULT_WINDOW_BUCKETS;
    if (!(window > 0) || !isfinite(window))
        return vigil__fail(VIGIL_EINVAL, "latency window must be a positive number of seconds");
    vigil_latency *t = vigil__calloc(1, sizeof *t);
    if (t == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a latency tracker");
    t->window_seconds = window;
    vigil_status st = vigil_sketch_new(&t->all);
    if (st == VIGIL_OK)
        st = vigil_sketch_window_new(window, buckets, &t->recent);
    if (st != VIGIL_OK) {
        vigil_sketch_free(t->all);
        vigil__free(t);
        return st;
    }
    *out = t;
    return VIGIL_OK;
}

vigil_status vigil__latency_new_plain(double window_seconds, unsigned buckets, vigil_latency **out)
{
    return create(window_seconds, buckets, out);
}

static vigil_status collect(vigil_emitter *em, void *user);

static const char *const latency_suffixes[] = {"_seconds", "_seconds_sum", "_seconds_count",
                                               "_min_seconds", "_max_seconds"};

VIGIL_API vigil_status vigil_latency_new(const vigil_latency_opts *opts, vigil_latency **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "out is NULL");
    vigil_latency_opts def;
    if (opts == NULL) {
        vigil_latency_opts_init(&def);
        opts = &def;
    }
    vigil_latency *t;
    vigil_status st = create(opts->window_seconds, opts->window_buckets, &t);
    if (st != VIGIL_OK)
        return st;
    if (opts->registry != NULL) {
        char *base = opts->name ? vigil__base_name(opts->name, "_seconds") : NULL;
        if (opts->name != NULL && base == NULL) {
            st = vigil__fail(VIGIL_ENOMEM, "out of memory exposing a latency tracker");
        } else {
            st = vigil__link_add(&t->link, opts->registry, "latency", base, opts->help,
                                 latency_suffixes, 5, collect, t);
        }
        vigil__free(base);
        if (st != VIGIL_OK) {
            vigil_latency_free(t);
            return st;
        }
    }
    *out = t;
    return VIGIL_OK;
}

VIGIL_API void vigil_latency_free(vigil_latency *t)
{
    if (t == NULL)
        return;
    vigil__link_remove(&t->link);
    vigil_sketch_window_free(t->recent);
    vigil_sketch_free(t->all);
    vigil__free(t);
}

VIGIL_API void vigil_latency_record(vigil_latency *t, double seconds)
{
    vigil_sketch_record(t->all, seconds); /* counts the rejected ones */
    if (VIGIL_LIKELY(seconds >= 0 && seconds < INFINITY))
        vigil_sketch_window_record(t->recent, seconds);
}

VIGIL_API void vigil_latency_record_ns(vigil_latency *t, uint64_t ns)
{
    vigil_latency_record(t, (double)ns / 1e9);
}

VIGIL_API void vigil_latency_record_us(vigil_latency *t, uint64_t us)
{
    vigil_latency_record(t, (double)us / 1e6);
}

void vigil__latency_stats_from(const vigil_sketch *s, vigil_latency_stats *out)
{
    out->count = vigil_sketch_count(s);
    if (out->count == 0) {
        out->sum = out->avg = out->min = out->max = NAN;
        out->p50 = out->p95 = out->p99 = NAN;
        return;
    }
    double q[3];
    vigil_sketch_quantiles(s, report_qs, 3, q);
    out->sum = vigil_sketch_sum(s);
    out->avg = out->sum / (double)out->count;
    out->min = vigil_sketch_min(s);
    out->max = vigil_sketch_max(s);
    out->p50 = q[0];
    out->p95 = q[1];
    out->p99 = q[2];
}

vigil_status vigil__latency_read_with(vigil_latency *t, vigil_scope scope, vigil_sketch *scratch,
                                      vigil_latency_stats *out)
{
    if (scope == VIGIL_SCOPE_ALL) {
        vigil__latency_stats_from(t->all, out);
        return VIGIL_OK;
    }
    vigil_status st = vigil_sketch_window_read(t->recent, scratch);
    if (st != VIGIL_OK)
        return st;
    vigil__latency_stats_from(scratch, out);
    return VIGIL_OK;
}

vigil_status vigil__latency_merge_into(vigil_latency *t, vigil_scope scope, vigil_sketch *dst,
                                       vigil_sketch *tmp)
{
    if (scope == VIGIL_SCOPE_ALL)
        return vigil_sketch_merge(dst, t->all);
    vigil_status st = vigil_sketch_window_read(t->recent, tmp);
    return st == VIGIL_OK ? vigil_sketch_merge(dst, tmp) : st;
}

static vigil_status check_read(const vigil_latency *t, vigil_scope scope)
{
    if (t == NULL)
        return vigil__fail(VIGIL_EINVAL, "latency tracker is NULL");
    if (scope != VIGIL_SCOPE_ALL && scope != VIGIL_SCOPE_RECENT)
        return vigil__fail(VIGIL_EINVAL, "unknown scope %d", (int)scope);
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_latency_read(vigil_latency *t, vigil_scope scope,
                                          vigil_latency_stats *out)
{
    vigil_status st = check_read(t, scope);
    if (st == VIGIL_OK && out == NULL)
        st = vigil__fail(VIGIL_EINVAL, "out is NULL");
    if (st != VIGIL_OK)
        return st;
    if (scope == VIGIL_SCOPE_ALL)
        return vigil__latency_read_with(t, scope, NULL, out);
    vigil_sketch *scratch;
    st = vigil_sketch_new(&scratch);
    if (st != VIGIL_OK)
        return st;
    st = vigil__latency_read_with(t, scope, scratch, out);
    vigil_sketch_free(scratch);
    return st;
}

VIGIL_API vigil_status vigil_latency_quantiles(vigil_latency *t, vigil_scope scope,
                                               const double *qs, size_t n, double *out)
{
    vigil_status st = check_read(t, scope);
    if (st == VIGIL_OK && n > 0 && (qs == NULL || out == NULL))
        st = vigil__fail(VIGIL_EINVAL, "quantiles or out is NULL");
    if (st != VIGIL_OK)
        return st;
    const vigil_sketch *src = t->all;
    vigil_sketch *scratch = NULL;
    if (scope == VIGIL_SCOPE_RECENT) {
        st = vigil_sketch_new(&scratch);
        if (st == VIGIL_OK)
            st = vigil_sketch_window_read(t->recent, scratch);
        if (st != VIGIL_OK) {
            vigil_sketch_free(scratch);
            return st;
        }
        src = scratch;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = vigil_sketch_quantile(src, qs[i]);
    vigil_sketch_free(scratch);
    return VIGIL_OK;
}

VIGIL_API uint64_t vigil_latency_count(const vigil_latency *t)
{
    return vigil_sketch_count(t->all);
}

VIGIL_API double vigil_latency_avg(const vigil_latency *t)
{
    uint64_t n = vigil_sketch_count(t->all);
    return n ? vigil_sketch_sum(t->all) / (double)n : NAN;
}

VIGIL_API double vigil_latency_min(const vigil_latency *t)
{
    return vigil_sketch_min(t->all);
}

VIGIL_API double vigil_latency_max(const vigil_latency *t)
{
    return vigil_sketch_max(t->all);
}

VIGIL_API double vigil_latency_quantile(const vigil_latency *t, double q)
{
    return vigil_sketch_quantile(t->all, q);
}

VIGIL_API uint64_t vigil_latency_rejected(const vigil_latency *t)
{
    return vigil_sketch_rejected(t->all);
}

VIGIL_API double vigil_latency_window(const vigil_latency *t)
{
    return t->window_seconds;
}

/* --- exposition ---------------------------------------------------------------------------- */

vigil_status vigil__latency_emit(vigil_emitter *em, const char *base, const char *help,
                                 const vigil__latency_item *items, size_t n, vigil_sketch *scratch)
{
    char name[256], text[512];
    vigil__join(name, sizeof name, base, "_seconds");
    if (help == NULL) {
        snprintf(text, sizeof text,
                 "Duration of %s in seconds: quantiles over the recent "
                 "window, sum and count since start.",
                 base);
        help = text;
    }
    vigil_family_desc d = {name, help, "seconds", VIGIL_SUMMARY};
    vigil_status st = vigil_emit_family(em, &d);
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        double q[3];
        st = vigil_sketch_window_read(items[i].t->recent, scratch);
        if (st != VIGIL_OK)
            break;
        vigil_sketch_quantiles(scratch, report_qs, 3, q);
        const vigil_sketch *all = items[i].t->all;
        uint64_t count = vigil_sketch_count(all);
        double sum = count ? vigil_sketch_sum(all) : 0.0;
        st = vigil_emit_summary(em, items[i].labels, items[i].label_count, 3, report_qs, q, count,
                                sum);
    }
    static const char *const which[2] = {"min", "max"};
    for (int k = 0; st == VIGIL_OK && k < 2; k++) {
        char suffix[16];
        snprintf(suffix, sizeof suffix, "_%s_seconds", which[k]);
        vigil__join(name, sizeof name, base, suffix);
        snprintf(text, sizeof text,
                 "%s duration of %s in seconds since start (NaN before the "
                 "first).",
                 k == 0 ? "Shortest" : "Longest", base);
        vigil_family_desc g = {name, text, "seconds", VIGIL_GAUGE};
        st = vigil_emit_family(em, &g);
        for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
            const vigil_sketch *all = items[i].t->all;
            double v = k == 0 ? vigil_sketch_min(all) : vigil_sketch_max(all);
            st = vigil_emit_sample(em, items[i].labels, items[i].label_count, v);
        }
    }
    return st;
}

static vigil_status collect(vigil_emitter *em, void *user)
{
    vigil_latency *t = user;
    vigil_sketch *scratch;
    vigil_status st = vigil_sketch_new(&scratch);
    if (st != VIGIL_OK)
        return st;
    vigil__latency_item item = {t, NULL, 0};
    st = vigil__latency_emit(em, t->link.base, t->link.help, &item, 1, scratch);
    vigil_sketch_free(scratch);
    return st;
}
