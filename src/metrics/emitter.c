/* emitter.c — what custom collectors write through. Collector output is untrusted in the sense
 * that a bug in it must not produce an exposition Prometheus rejects, so everything is checked
 * here before it reaches the sink: names, label names, UTF-8, duplicate families (against the
 * registry and earlier collectors), duplicate label sets within a family, cumulative buckets.
 * A refused item is reported to the collector and counted; a collector that returns an error
 * has its whole output for this collection dropped (the sink rewinds), never half-written.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics/metrics_int.h"

#define MAX_SERIES_LABELS (2 * VIGIL_MAX_LABELS + 1)

const char *const *vigil__series_suffixes(vigil_metric_type type, size_t *n);

struct vigil_emitter {
    vigil_registry *reg;
    const vigil__sink *sink;
    vigil__strmap *seen;       /* names emitted by collectors in this collection */
    struct vigil__collector *collector;
    bool open;                 /* a family is in progress */
    vigil_metric_type type;
    vigil__strmap label_sets;  /* label-set keys seen in the open family */
    bool failed;               /* something was refused: counted once per collection */
};

static vigil_status refuse(vigil_emitter *em, vigil_status st)
{
    em->failed = true;
    return st;
}

static vigil_status close_family(vigil_emitter *em)
{
    vigil__strmap_free(&em->label_sets);
    if (!em->open)
        return VIGIL_OK;
    em->open = false;
    return em->sink->end(em->sink->ctx);
}

static vigil_status check_family_names(vigil_emitter *em, const vigil_family_desc *d)
{
    size_t n;
    const char *const *sfx = vigil__series_suffixes(d->type, &n);
    char name[512];
    if (strlen(d->name) + 16 > sizeof name)
        return vigil__fail(VIGIL_ENAME, "metric name \"%.100s...\" is too long", d->name);
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s", d->name, sfx[i]);
        if (vigil__strmap_get(&em->reg->names, name) || vigil__strmap_get(em->seen, name))
            return vigil__fail(VIGIL_EEXIST, "collector \"%s\": metric name \"%s\" is already "
                               "exposed", em->collector->name, name);
    }
    for (size_t i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%s", d->name, sfx[i]);
        if (vigil__strmap_put(em->seen, name, em->collector) == VIGIL_ENOMEM)
            return vigil__fail(VIGIL_ENOMEM, "out of memory checking collector output");
    }
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_emit_family(vigil_emitter *em, const vigil_family_desc *d)
{
    if (em == NULL || d == NULL)
        return vigil__fail(VIGIL_EINVAL, "emitter or family description is NULL");
    vigil_status st = close_family(em);
    if (st != VIGIL_OK)
        return st;
    if (d->type > VIGIL_UNTYPED)
        return refuse(em, vigil__fail(VIGIL_EINVAL, "unknown metric type %d", (int)d->type));
    st = vigil__check_name("metric name", d->name);
    if (st == VIGIL_OK && d->type == VIGIL_COUNTER) {
        size_t len = strlen(d->name);
        if (len > 6 && strcmp(d->name + len - 6, "_total") == 0)
            st = vigil__fail(VIGIL_ENAME, "collector \"%s\": give counter \"%s\" without "
                             "\"_total\"; the exposition adds it", em->collector->name, d->name);
    }
    if (st == VIGIL_OK && d->help && !vigil__utf8_valid(d->help, strlen(d->help)))
        st = vigil__fail(VIGIL_EINVAL, "help of \"%s\" is not valid UTF-8", d->name);
    if (st == VIGIL_OK && d->unit && *d->unit) {
        size_t fl = strlen(d->name), ul = strlen(d->unit);
        if (fl <= ul + 1 || strcmp(d->name + fl - ul, d->unit) != 0 || d->name[fl - ul - 1] != '_')
            st = vigil__fail(VIGIL_ENAME, "metric \"%s\" must end in \"_%s\" to carry that unit",
                             d->name, d->unit);
    }
    if (st == VIGIL_OK)
        st = check_family_names(em, d);
    if (st != VIGIL_OK)
        return refuse(em, st);
    vigil__family_meta meta = {d->name, d->help, (d->unit && *d->unit) ? d->unit : NULL,
                               d->type};
    st = em->sink->begin(em->sink->ctx, &meta);
    if (st != VIGIL_OK)
        return st;
    em->open = true;
    em->type = d->type;
    vigil__strmap_init(&em->label_sets);
    return VIGIL_OK;
}

/* Validates labels, rejects a label set already emitted in this family, and lays the labels
 * out followed by the registry's global labels. */
static vigil_status prepare_labels(vigil_emitter *em, const vigil_label *labels, size_t count,
                                   const char **names, const char **values, size_t *n)
{
    if (!em->open)
        return vigil__fail(VIGIL_ESTATE, "collector \"%s\": sample outside a family (call "
                           "vigil_emit_family first, or the family was refused)",
                           em->collector->name);
    if (count > VIGIL_MAX_LABELS || (count && labels == NULL))
        return vigil__fail(VIGIL_ELABELS, "collector \"%s\": at most %d labels",
                           em->collector->name, VIGIL_MAX_LABELS);
    const vigil_registry *reg = em->reg;
    char key[2048];
    size_t klen = 0;
    for (size_t i = 0; i < count; i++) {
        vigil_status st = vigil__check_label(labels[i].name, em->type);
        if (st != VIGIL_OK)
            return st;
        if (labels[i].value == NULL || !vigil__utf8_valid(labels[i].value,
                                                          strlen(labels[i].value)))
            return vigil__fail(VIGIL_ELABELS, "label \"%s\": value missing or not UTF-8",
                               labels[i].name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(labels[i].name, labels[j].name) == 0)
                return vigil__fail(VIGIL_ELABELS, "label \"%s\" appears twice", labels[i].name);
        }
        for (size_t g = 0; g < reg->global_count; g++) {
            if (strcmp(labels[i].name, reg->global_names[g]) == 0)
                return vigil__fail(VIGIL_ELABELS, "label \"%s\" is a global label",
                                   labels[i].name);
        }
        names[i] = labels[i].name;
        values[i] = labels[i].value;
        int w = snprintf(key + klen, sizeof key - klen, "%s\x1f%s\x1e", labels[i].name,
                         labels[i].value);
        if (w < 0 || (size_t)w >= sizeof key - klen)
            return vigil__fail(VIGIL_ELIMIT, "labels of one sample exceed %zu bytes", sizeof key);
        klen += (size_t)w;
    }
    /* Label order must not make two equal sets look different: compare a sorted key. */
    if (count > 1) {
        const char *sorted[VIGIL_MAX_LABELS];
        size_t idx[VIGIL_MAX_LABELS];
        for (size_t i = 0; i < count; i++)
            idx[i] = i;
        for (size_t i = 1; i < count; i++) {
            for (size_t j = i; j > 0 && strcmp(names[idx[j]], names[idx[j - 1]]) < 0; j--) {
                size_t t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
        }
        klen = 0;
        for (size_t i = 0; i < count; i++) {
            sorted[i] = names[idx[i]];
            klen += (size_t)snprintf(key + klen, sizeof key - klen, "%s\x1f%s\x1e", sorted[i],
                                     values[idx[i]]);
        }
    }
    key[klen] = '\0';
    vigil_status st = vigil__strmap_put(&em->label_sets, key, em);
    if (st == VIGIL_EEXIST)
        return vigil__fail(VIGIL_EEXIST, "collector \"%s\": the same label set twice in one "
                           "family", em->collector->name);
    if (st != VIGIL_OK)
        return st;
    for (size_t g = 0; g < reg->global_count; g++) {
        names[count + g] = reg->global_names[g];
        values[count + g] = reg->global_values[g];
    }
    *n = count + reg->global_count;
    return VIGIL_OK;
}

static vigil_status put(vigil_emitter *em, vigil__suffix sfx, size_t n, const char **names,
                        const char **values, const char *extra_name, double extra, bool is_int,
                        uint64_t iv, double v)
{
    vigil__sample s = {sfx, n, names, values, extra_name, extra, is_int, iv, v};
    return em->sink->sample(em->sink->ctx, &s);
}

/* The _sum and _count samples that close a histogram or summary (sum first, as Prometheus's
 * clients write them, which also lets an encoder drop both when the sum is not allowed). */
static vigil_status put_count_sum(vigil_emitter *em, size_t n, const char **names,
                                  const char **values, uint64_t total, double sum)
{
    vigil_status st = put(em, VIGIL__SFX_SUM, n, names, values, NULL, 0, false, 0, sum);
    return st == VIGIL_OK ? put(em, VIGIL__SFX_COUNT, n, names, values, NULL, 0, true, total, 0)
                          : st;
}

VIGIL_API vigil_status vigil_emit_sample(vigil_emitter *em, const vigil_label *labels,
                                         size_t count, double value)
{
    if (em == NULL)
        return vigil__fail(VIGIL_EINVAL, "emitter is NULL");
    const char *names[MAX_SERIES_LABELS], *values[MAX_SERIES_LABELS];
    size_t n;
    vigil_status st = VIGIL_OK;
    /* Checked before prepare_labels records the label set: a refused sample must not make a
     * later, valid sample with the same labels look like a duplicate. */
    if (em->open && (em->type == VIGIL_HISTOGRAM || em->type == VIGIL_SUMMARY))
        st = vigil__fail(VIGIL_ETYPE, "use vigil_emit_histogram/summary for that family");
    if (st == VIGIL_OK && em->open && em->type == VIGIL_COUNTER && !(value >= 0))
        st = vigil__fail(VIGIL_ENEGATIVE, "counter sample %g is negative or NaN", value);
    if (st == VIGIL_OK)
        st = prepare_labels(em, labels, count, names, values, &n);
    if (st != VIGIL_OK)
        return refuse(em, st);
    return put(em, em->type == VIGIL_COUNTER ? VIGIL__SFX_TOTAL : VIGIL__SFX_NONE, n, names,
               values, NULL, 0, false, 0, value);
}

VIGIL_API vigil_status vigil_emit_histogram(vigil_emitter *em, const vigil_label *labels,
                                            size_t count, size_t bucket_count,
                                            const double *bounds, const uint64_t *cumulative,
                                            uint64_t total, double sum)
{
    if (em == NULL)
        return vigil__fail(VIGIL_EINVAL, "emitter is NULL");
    const char *names[MAX_SERIES_LABELS], *values[MAX_SERIES_LABELS];
    size_t n;
    vigil_status st = VIGIL_OK;
    if (em->open && em->type != VIGIL_HISTOGRAM)
        st = vigil__fail(VIGIL_ETYPE, "the current family is not a histogram");
    if (st == VIGIL_OK && bucket_count > 0 && (bounds == NULL || cumulative == NULL))
        st = vigil__fail(VIGIL_EINVAL, "bucket bounds or counts are NULL");
    if (st == VIGIL_OK)
        st = vigil__check_buckets(bounds, bucket_count);
    for (size_t i = 0; st == VIGIL_OK && i < bucket_count; i++) {
        uint64_t next = i + 1 < bucket_count ? cumulative[i + 1] : total;
        if (cumulative[i] > next)
            st = vigil__fail(VIGIL_EBUCKETS, "bucket counts must be cumulative (bucket %zu)", i);
    }
    if (st == VIGIL_OK)
        st = prepare_labels(em, labels, count, names, values, &n);
    if (st != VIGIL_OK)
        return refuse(em, st);
    for (size_t i = 0; st == VIGIL_OK && i <= bucket_count; i++) {
        double le = i < bucket_count ? bounds[i] : (double)INFINITY;
        st = put(em, VIGIL__SFX_BUCKET, n, names, values, "le", le, true,
                 i < bucket_count ? cumulative[i] : total, 0);
    }
    return st == VIGIL_OK ? put_count_sum(em, n, names, values, total, sum) : st;
}

VIGIL_API vigil_status vigil_emit_summary(vigil_emitter *em, const vigil_label *labels,
                                          size_t count, size_t quantile_count,
                                          const double *quantiles, const double *qvalues,
                                          uint64_t total, double sum)
{
    if (em == NULL)
        return vigil__fail(VIGIL_EINVAL, "emitter is NULL");
    const char *names[MAX_SERIES_LABELS], *values[MAX_SERIES_LABELS];
    size_t n;
    vigil_status st = VIGIL_OK;
    if (em->open && em->type != VIGIL_SUMMARY)
        st = vigil__fail(VIGIL_ETYPE, "the current family is not a summary");
    if (st == VIGIL_OK && quantile_count > 0 && (quantiles == NULL || qvalues == NULL))
        st = vigil__fail(VIGIL_EINVAL, "quantiles or their values are NULL");
    for (size_t i = 0; st == VIGIL_OK && i < quantile_count; i++) {
        if (!(quantiles[i] >= 0 && quantiles[i] <= 1) || (i && !(quantiles[i] > quantiles[i - 1])))
            st = vigil__fail(VIGIL_EINVAL, "quantiles must increase within [0, 1]");
    }
    if (st == VIGIL_OK)
        st = prepare_labels(em, labels, count, names, values, &n);
    if (st != VIGIL_OK)
        return refuse(em, st);
    for (size_t i = 0; st == VIGIL_OK && i < quantile_count; i++)
        st = put(em, VIGIL__SFX_NONE, n, names, values, "quantile", quantiles[i], false, 0,
                 qvalues[i]);
    return st == VIGIL_OK ? put_count_sum(em, n, names, values, total, sum) : st;
}

vigil_status vigil__collect_collectors(vigil_registry *reg, const vigil__sink *sink,
                                       vigil__strmap *seen)
{
    for (size_t i = 0; i < reg->collector_count; i++) {
        struct vigil__collector *c = reg->collectors[i];
        vigil_emitter em = {.reg = reg, .sink = sink, .seen = seen, .collector = c};
        size_t mark = sink->mark(sink->ctx);
        vigil_status st = c->fn(&em, c->user);
        vigil_status cst = close_family(&em);
        if (st == VIGIL_OK)
            st = cst;
        if (st == VIGIL_ELIMIT || st == VIGIL_ENOMEM) {
            sink->rewind(sink->ctx, mark);
            return st; /* the output is full or memory is gone: stop, do not truncate silently */
        }
        if (st != VIGIL_OK) {
            sink->rewind(sink->ctx, mark);
            /* Its output is gone, so its names are free for the collectors after it. */
            (void)vigil__strmap_del_value(seen, c);
            em.failed = true;
        }
        if (em.failed)
            c->errors++;
    }
    return VIGIL_OK;
}
