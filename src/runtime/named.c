/* named.c — record a value by metric name and label pairs, creating the metric on first use.
 *
 * This is the convenience path for code that does not keep handles: every call finds the family
 * (registry lock + name table) and the child (lock-free lookup), then records through the same
 * hot-path functions as the handle API, so validation and the cardinality guard are identical.
 * A name keeps the type and label names (in order) it was first used with.
 */
#include <string.h>

#include "core/core_int.h"
#include "vigil/runtime.h"

static vigil_status same_shape(vigil_family *fam, vigil_metric_type type, const char *name,
                               const vigil_label *labels, size_t count)
{
    if (vigil_family_type(fam) != type)
        return vigil__fail(VIGIL_ETYPE, "metric \"%s\" exists with another type", name);
    if (vigil_family_label_count(fam) != count)
        return vigil__fail(VIGIL_ETYPE, "metric \"%s\" exists with %zu label names, got %zu",
                           name, vigil_family_label_count(fam), count);
    for (size_t i = 0; i < count; i++) {
        if (labels[i].name == NULL || strcmp(labels[i].name, vigil_family_label_name(fam, i)))
            return vigil__fail(VIGIL_ETYPE, "metric \"%s\": label %zu is \"%s\", was first used "
                               "as \"%s\"", name, i, labels[i].name ? labels[i].name : "(null)",
                               vigil_family_label_name(fam, i));
    }
    return VIGIL_OK;
}

static vigil_status find_or_create(vigil_registry *reg, vigil_metric_type type,
                                   const char *name, const vigil_label *labels, size_t count,
                                   vigil_family **out)
{
    if (count > VIGIL_MAX_LABELS || (count > 0 && labels == NULL))
        return vigil__fail(VIGIL_ELABELS, "metric \"%s\": at most %d labels", name,
                           VIGIL_MAX_LABELS);
    for (int attempt = 0; attempt < 2; attempt++) {
        vigil_family *fam = vigil_registry_find(reg, name);
        if (fam != NULL) {
            *out = fam;
            return same_shape(fam, type, name, labels, count);
        }
        const char *names[VIGIL_MAX_LABELS];
        for (size_t i = 0; i < count; i++)
            names[i] = labels[i].name;
        vigil_metric_opts o;
        vigil_metric_opts_init(&o);
        o.name = name;
        o.label_names = names;
        o.label_count = count;
        vigil_status st = vigil_family_new(reg, type, &o, &fam);
        if (st == VIGIL_OK) {
            *out = fam;
            return VIGIL_OK;
        }
        if (st != VIGIL_EEXIST)
            return st;
        /* Another thread registered it between our lookup and our registration: look again.
         * If the name is taken by another type's series name, the second lookup fails too. */
    }
    return vigil__fail(VIGIL_ETYPE, "the name \"%s\" is used by a metric of another type", name);
}

static vigil_status lookup(vigil_registry *reg, vigil_metric_type type, const char *name,
                           const vigil_label *labels, size_t count, void **child)
{
    if (name == NULL)
        return vigil__fail(VIGIL_EINVAL, "metric name is NULL");
    if (reg == NULL && (reg = vigil_registry_default()) == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating the default registry");
    vigil_family *fam = NULL;
    vigil_status st = find_or_create(reg, type, name, labels, count, &fam);
    if (st != VIGIL_OK)
        return st;
    const char *values[VIGIL_MAX_LABELS];
    for (size_t i = 0; i < count; i++)
        values[i] = labels[i].value;
    switch (type) {
    case VIGIL_COUNTER:
        return vigil_family_counter(fam, count, values, (vigil_counter **)child);
    case VIGIL_GAUGE:
        return vigil_family_gauge(fam, count, values, (vigil_gauge **)child);
    default:
        return vigil_family_histogram(fam, count, values, (vigil_histogram **)child);
    }
}

VIGIL_API vigil_status vigil_record_counter(vigil_registry *reg, const char *name, double v,
                                            const vigil_label *labels, size_t count)
{
    void *c;
    vigil_status st = lookup(reg, VIGIL_COUNTER, name, labels, count, &c);
    return st == VIGIL_OK ? vigil_counter_add(c, v) : st;
}

VIGIL_API vigil_status vigil_record_gauge(vigil_registry *reg, const char *name, double v,
                                          const vigil_label *labels, size_t count)
{
    void *g;
    vigil_status st = lookup(reg, VIGIL_GAUGE, name, labels, count, &g);
    if (st == VIGIL_OK)
        vigil_gauge_set(g, v);
    return st;
}

VIGIL_API vigil_status vigil_record_histogram(vigil_registry *reg, const char *name, double v,
                                              const vigil_label *labels, size_t count)
{
    void *h;
    vigil_status st = lookup(reg, VIGIL_HISTOGRAM, name, labels, count, &h);
    if (st == VIGIL_OK)
        vigil_histogram_observe(h, v);
    return st;
}
