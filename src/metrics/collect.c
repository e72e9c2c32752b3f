/* collect.c — walking a registry into a sink: its families (sorted by name, children in creation
 * order), its self-metrics, then its custom collectors through the validating emitter.
 *
 * The registry lock is held for the whole walk so the family list cannot change under it, and
 * each family's lock while its children are read; neither is ever taken by the hot path, so
 * scrapes never slow down application threads. Labels of a series are laid out as constant
 * labels, then the family's labels, then the registry's global labels.
 */
#include <math.h>
#include <string.h>

#include "metrics/metrics_int.h"
#include "vigil/sketch.h"

#define MAX_SERIES_LABELS (3 * VIGIL_MAX_LABELS)

typedef struct label_layout {
    const char *names[MAX_SERIES_LABELS];
    const char *values[MAX_SERIES_LABELS];
    size_t n;
    size_t child_at; /* where the child's values go */
} label_layout;

static void layout_family(const vigil_registry *reg, const vigil_family *fam, label_layout *l)
{
    size_t n = 0;
    for (size_t i = 0; i < fam->const_count; i++, n++) {
        l->names[n] = fam->const_names[i];
        l->values[n] = fam->const_values[i];
    }
    l->child_at = n;
    for (size_t i = 0; i < fam->label_count; i++, n++)
        l->names[n] = fam->label_names[i];
    for (size_t i = 0; i < reg->global_count; i++, n++) {
        l->names[n] = reg->global_names[i];
        l->values[n] = reg->global_values[i];
    }
    l->n = n;
}

static vigil_status emit(const vigil__sink *sink, const label_layout *l, vigil__suffix sfx,
                         const char *extra_name, double extra, bool is_int, uint64_t iv,
                         double v)
{
    vigil__sample s = {sfx, l->n, l->names, l->values, extra_name, extra, is_int, iv, v};
    return sink->sample(sink->ctx, &s);
}

static vigil_status collect_histogram(const vigil_family *fam, const vigil__child *c,
                                      const vigil__sink *sink, const label_layout *l)
{
    vigil_histogram_snapshot snap;
    vigil__histogram_read(fam, c, &snap);
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; st == VIGIL_OK && i <= snap.bucket_count; i++) {
        double le = i < snap.bucket_count ? snap.bounds[i] : (double)INFINITY;
        st = emit(sink, l, VIGIL__SFX_BUCKET, "le", le, true, snap.counts[i], 0);
    }
    if (st == VIGIL_OK)
        st = emit(sink, l, VIGIL__SFX_SUM, NULL, 0, false, 0, snap.sum);
    if (st == VIGIL_OK)
        st = emit(sink, l, VIGIL__SFX_COUNT, NULL, 0, true, snap.count, 0);
    return st;
}

static vigil_status collect_summary(const vigil_family *fam, const vigil__child *c,
                                    const vigil__sink *sink, const label_layout *l,
                                    vigil_sketch *scratch)
{
    double values[VIGIL_MAX_QUANTILES];
    uint64_t count;
    double sum;
    vigil__summary_read(fam, c, scratch, values, &count, &sum);
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; st == VIGIL_OK && i < fam->quantile_count; i++)
        st = emit(sink, l, VIGIL__SFX_NONE, "quantile", fam->quantiles[i], false, 0, values[i]);
    if (st == VIGIL_OK)
        st = emit(sink, l, VIGIL__SFX_SUM, NULL, 0, false, 0, sum);
    if (st == VIGIL_OK)
        st = emit(sink, l, VIGIL__SFX_COUNT, NULL, 0, true, count, 0);
    return st;
}

static vigil_status collect_child(const vigil_family *fam, const vigil__child *c,
                                  const vigil__sink *sink, const label_layout *l,
                                  vigil_sketch *scratch)
{
    vigil_status st;
    switch (fam->type) {
    case VIGIL_COUNTER: {
        bool is_int;
        uint64_t iv;
        double v = vigil__counter_read(c, &is_int, &iv);
        st = emit(sink, l, VIGIL__SFX_TOTAL, NULL, 0, is_int, iv, v);
        break;
    }
    case VIGIL_HISTOGRAM:
        st = collect_histogram(fam, c, sink, l);
        break;
    case VIGIL_SUMMARY:
        st = collect_summary(fam, c, sink, l, scratch);
        break;
    default:
        st = emit(sink, l, VIGIL__SFX_NONE, NULL, 0, false, 0,
                  vigil__u2d(atomic_load_explicit(&c->word, memory_order_relaxed)));
        break;
    }
    if (st == VIGIL_OK && fam->type != VIGIL_GAUGE)
        st = emit(sink, l, VIGIL__SFX_CREATED, NULL, 0, false, 0, c->created);
    return st;
}

static vigil_status collect_callback(const vigil_family *fam, const vigil__sink *sink,
                                     label_layout *l)
{
    double v = fam->fn(fam->fn_user);
    return emit(sink, l, fam->type == VIGIL_COUNTER ? VIGIL__SFX_TOTAL : VIGIL__SFX_NONE, NULL,
                0, false, 0, v);
}

static vigil_status collect_family(const vigil_registry *reg, vigil_family *fam,
                                   const vigil__sink *sink)
{
    if (fam->fn == NULL && atomic_load_explicit(&fam->child_count, memory_order_relaxed) == 0)
        return VIGIL_OK; /* a labelled family with no children yet has nothing to expose */
    label_layout l;
    layout_family(reg, fam, &l);
    vigil__family_meta meta = {fam->name, fam->help, fam->unit, fam->type};
    vigil_status st = sink->begin(sink->ctx, &meta);
    if (st != VIGIL_OK)
        return st;
    if (fam->fn != NULL) {
        st = collect_callback(fam, sink, &l);
    } else {
        vigil_sketch *scratch = NULL; /* one per family, reused by every summary child */
        if (fam->type == VIGIL_SUMMARY && vigil_sketch_new(&scratch) != VIGIL_OK)
            return VIGIL_ENOMEM;
        pthread_mutex_lock(&fam->lock);
        for (const vigil__child *c = fam->head; st == VIGIL_OK && c != NULL; c = c->next) {
            for (size_t i = 0; i < fam->label_count; i++)
                l.values[l.child_at + i] = c->values[i];
            st = collect_child(fam, c, sink, &l, scratch);
        }
        vigil__family_reclaim(fam);
        pthread_mutex_unlock(&fam->lock);
        vigil_sketch_free(scratch);
    }
    return st == VIGIL_OK ? sink->end(sink->ctx) : st;
}

/* vigil_series_refused_total{metric="..."}: one series per family that refused label sets. */
static vigil_status collect_self(const vigil_registry *reg, const vigil__sink *sink)
{
    vigil__family_meta meta = {"vigil_series_refused",
                               "Label sets refused because their family reached its maximum "
                               "number of children.", NULL, VIGIL_COUNTER};
    vigil_status st = sink->begin(sink->ctx, &meta);
    label_layout l;
    l.names[0] = "metric";
    l.n = 1 + reg->global_count;
    for (size_t i = 0; i < reg->global_count; i++) {
        l.names[1 + i] = reg->global_names[i];
        l.values[1 + i] = reg->global_values[i];
    }
    for (size_t i = 0; st == VIGIL_OK && i < reg->family_count; i++) {
        uint64_t refused = atomic_load_explicit(&reg->families[i]->refused, memory_order_relaxed);
        if (refused == 0)
            continue;
        l.values[0] = reg->families[i]->name;
        st = emit(sink, &l, VIGIL__SFX_TOTAL, NULL, 0, true, refused, 0);
    }
    if (st == VIGIL_OK)
        st = sink->end(sink->ctx);
    meta = (vigil__family_meta){"vigil_collector_errors",
                                "Collections in which a custom collector failed or emitted "
                                "invalid data.", NULL, VIGIL_COUNTER};
    if (st == VIGIL_OK)
        st = sink->begin(sink->ctx, &meta);
    l.names[0] = "collector";
    for (size_t i = 0; st == VIGIL_OK && i < reg->collector_count; i++) {
        l.values[0] = reg->collectors[i]->name;
        st = emit(sink, &l, VIGIL__SFX_TOTAL, NULL, 0, true, reg->collectors[i]->errors, 0);
    }
    return st == VIGIL_OK ? sink->end(sink->ctx) : st;
}

vigil_status vigil__registry_collect(vigil_registry *reg, const vigil__sink *sink)
{
    if (reg == NULL || sink == NULL)
        return vigil__fail(VIGIL_EINVAL, "registry or sink is NULL");
    pthread_mutex_lock(&reg->lock);
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; st == VIGIL_OK && i < reg->family_count; i++)
        st = collect_family(reg, reg->families[i], sink);
    if (st == VIGIL_OK) {
        vigil__strmap seen;
        vigil__strmap_init(&seen);
        st = vigil__collect_collectors(reg, sink, &seen);
        vigil__strmap_free(&seen);
    }
    if (st == VIGIL_OK)
        st = collect_self(reg, sink);
    pthread_mutex_unlock(&reg->lock);
    return st;
}

const char *vigil__suffix_text(vigil__suffix s)
{
    static const char *const text[] = {"", "_total", "_created", "_bucket", "_count", "_sum"};
    return (unsigned)s < sizeof text / sizeof *text ? text[s] : "";
}

const char *vigil__type_word(vigil_metric_type t)
{
    switch (t) {
    case VIGIL_COUNTER:
        return "counter";
    case VIGIL_GAUGE:
        return "gauge";
    case VIGIL_HISTOGRAM:
        return "histogram";
    case VIGIL_SUMMARY:
        return "summary";
    default:
        return "unknown";
    }
}
