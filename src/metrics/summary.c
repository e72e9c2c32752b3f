/* summary.c — Prometheus summaries: _count and _sum over all time in per-thread cells (two
 * cells per shard: count, then sum as double bits), quantiles over a sliding window of
 * relative-error sketches (sketch_window.c). The window is what makes a summary answer "p99 of
 * the last ten minutes" rather than "since the process started", as client libraries do. */
#include <math.h>
#include <string.h>

#include "metrics/metrics_int.h"
#include "vigil/sketch.h"

#define CHILD(s) ((vigil__child *)(s))

static const double default_quantiles[] = {0.5, 0.9, 0.99};

vigil_status vigil__summary_configure(vigil_family *fam, const vigil_metric_opts *opts)
{
    const double *q = opts->quantiles ? opts->quantiles : default_quantiles;
    size_t n = opts->quantiles ? opts->quantile_count : 3;
    if (n > VIGIL_MAX_QUANTILES)
        return vigil__fail(VIGIL_EINVAL, "summary \"%s\": at most %d quantiles", fam->name,
                           VIGIL_MAX_QUANTILES);
    for (size_t i = 0; i < n; i++) {
        if (!(q[i] >= 0 && q[i] <= 1) || (i > 0 && !(q[i] > q[i - 1])))
            return vigil__fail(VIGIL_EINVAL, "summary \"%s\": quantiles must increase within "
                               "[0, 1]", fam->name);
    }
    double max_age = opts->max_age_seconds ? opts->max_age_seconds : 600;
    unsigned buckets = opts->age_buckets ? opts->age_buckets : 5;
    if (!(max_age > 0) || !isfinite(max_age) || buckets > 60)
        return vigil__fail(VIGIL_EINVAL, "summary \"%s\": max age must be > 0 s and age "
                           "buckets 1..60", fam->name);
    fam->quantiles = vigil__calloc(n ? n : 1, sizeof *fam->quantiles);
    if (fam->quantiles == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory registering \"%s\"", fam->name);
    memcpy(fam->quantiles, q, n * sizeof *q);
    fam->quantile_count = n;
    fam->max_age = max_age;
    fam->age_buckets = buckets;
    fam->cells_per_child = 2;
    return VIGIL_OK;
}

vigil_status vigil__summary_child_init(const vigil_family *fam, vigil__child *c)
{
    return vigil_sketch_window_new(fam->max_age, fam->age_buckets, &c->window);
}

void vigil__summary_child_free(vigil__child *c)
{
    vigil_sketch_window_free(c->window);
    c->window = NULL;
}

VIGIL_API void vigil_summary_observe(vigil_summary *s, double v)
{
    vigil__child *c = CHILD(s);
    vigil__cell_add(c->cells, 1);
    vigil__cell_add_double(c->cells + 1, v);
    vigil_sketch_window_record(c->window, v);
}

VIGIL_API uint64_t vigil_summary_count(const vigil_summary *s)
{
    return vigil__cells_sum(CHILD(s)->cells);
}

VIGIL_API double vigil_summary_sum(const vigil_summary *s)
{
    return vigil__cells_sum_double(CHILD(s)->cells + 1);
}

VIGIL_API double vigil_summary_quantile(const vigil_summary *s, double q)
{
    vigil_sketch *scratch;
    if (vigil_sketch_new(&scratch) != VIGIL_OK)
        return NAN;
    double v = NAN;
    if (vigil_sketch_window_read(CHILD(s)->window, scratch) == VIGIL_OK)
        v = vigil_sketch_quantile(scratch, q);
    vigil_sketch_free(scratch);
    return v;
}

void vigil__summary_read(const vigil_family *fam, const vigil__child *c,
                         struct vigil_sketch *scratch, double *values, uint64_t *count,
                         double *sum)
{
    if (vigil_sketch_window_read(c->window, scratch) == VIGIL_OK)
        vigil_sketch_quantiles(scratch, fam->quantiles, fam->quantile_count, values);
    else
        for (size_t i = 0; i < fam->quantile_count; i++)
            values[i] = NAN;
    *count = vigil__cells_sum(c->cells);
    *sum = vigil__cells_sum_double(c->cells + 1);
}
