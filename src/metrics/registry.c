/* registry.c — registries: the set of families (kept sorted by name so exposition order is
 * stable without sorting at every scrape), the names they expose, global labels and custom
 * collectors. Every name a family will put on the wire (x, x_total, x_created, x_bucket, ...)
 * is reserved in one table, so two registrations can never produce the same series name. */
#include <pthread.h>
#include <string.h>

#include "metrics/metrics_int.h"

/* Names the registry's own self-metrics use; registering them is refused. */
static const char *const self_names[] = {
    "vigil_series_refused", "vigil_series_refused_total", "vigil_series_refused_created",
    "vigil_collector_errors", "vigil_collector_errors_total", "vigil_collector_errors_created",
};

static const char *const counter_sfx[] = {"", "_total", "_created"};
static const char *const gauge_sfx[] = {""};
static const char *const histogram_sfx[] = {"", "_bucket", "_count", "_sum", "_created"};
static const char *const summary_sfx[] = {"", "_count", "_sum", "_created"};

const char *const *vigil__series_suffixes(vigil_metric_type type, size_t *n);
const char *const *vigil__series_suffixes(vigil_metric_type type, size_t *n)
{
    switch (type) {
    case VIGIL_COUNTER:
        *n = 3;
        return counter_sfx;
    case VIGIL_HISTOGRAM:
        *n = 5;
        return histogram_sfx;
    case VIGIL_SUMMARY:
        *n = 4;
        return summary_sfx;
    default:
        *n = 1;
        return gauge_sfx;
    }
}

VIGIL_API void vigil_metric_opts_init(vigil_metric_opts *opts)
{
    memset(opts, 0, sizeof *opts);
}

VIGIL_API vigil_status vigil_registry_new(vigil_registry **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "result pointer is NULL");
    vigil_registry *reg = vigil__calloc(1, sizeof *reg);
    if (reg == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a registry");
    pthread_mutex_init(&reg->lock, NULL);
    vigil__strmap_init(&reg->names);
    for (size_t i = 0; i < sizeof self_names / sizeof self_names[0]; i++) {
        if (vigil__strmap_put(&reg->names, self_names[i], reg) != VIGIL_OK) {
            vigil_registry_free(reg);
            return vigil__fail(VIGIL_ENOMEM, "out of memory creating a registry");
        }
    }
    *out = reg;
    return VIGIL_OK;
}

static void free_collector(struct vigil__collector *c)
{
    vigil__free(c->name);
    vigil__free(c);
}

VIGIL_API void vigil_registry_free(vigil_registry *reg)
{
    if (reg == NULL)
        return;
    for (size_t i = 0; i < reg->family_count; i++)
        vigil__family_destroy(reg->families[i]);
    vigil__free(reg->families);
    for (size_t i = 0; i < reg->collector_count; i++)
        free_collector(reg->collectors[i]);
    vigil__free(reg->collectors);
    for (size_t i = 0; i < reg->global_count; i++) {
        vigil__free(reg->global_names[i]);
        vigil__free(reg->global_values[i]);
    }
    vigil__free(reg->global_names);
    vigil__free(reg->global_values);
    vigil__strmap_free(&reg->names);
    pthread_mutex_destroy(&reg->lock);
    vigil__free(reg);
}

static vigil_registry *default_registry;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void make_default(void)
{
    (void)vigil_registry_new(&default_registry);
}

VIGIL_API vigil_registry *vigil_registry_default(void)
{
    pthread_once(&default_once, make_default);
    return default_registry;
}

static bool family_uses_label(const vigil_family *fam, const char *name)
{
    for (size_t i = 0; i < fam->label_count; i++) {
        if (strcmp(fam->label_names[i], name) == 0)
            return true;
    }
    for (size_t i = 0; i < fam->const_count; i++) {
        if (strcmp(fam->const_names[i], name) == 0)
            return true;
    }
    return false;
}

static vigil_status check_globals(const vigil_registry *reg, const vigil_label *labels,
                                  size_t count)
{
    if (count > VIGIL_MAX_LABELS || (count && labels == NULL))
        return vigil__fail(VIGIL_ELABELS, "at most %d global labels", VIGIL_MAX_LABELS);
    for (size_t i = 0; i < count; i++) {
        vigil_status st = vigil__check_label(labels[i].name, VIGIL_GAUGE);
        if (st != VIGIL_OK)
            return st;
        if (labels[i].value == NULL || !vigil__utf8_valid(labels[i].value,
                                                          strlen(labels[i].value)))
            return vigil__fail(VIGIL_ELABELS, "global label \"%s\": value missing or not UTF-8",
                               labels[i].name);
        if (strcmp(labels[i].name, "le") == 0 || strcmp(labels[i].name, "quantile") == 0)
            return vigil__fail(VIGIL_ERESERVED, "global label \"%s\" is reserved",
                               labels[i].name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(labels[i].name, labels[j].name) == 0)
                return vigil__fail(VIGIL_ELABELS, "global label \"%s\" appears twice",
                                   labels[i].name);
        }
        for (size_t f = 0; f < reg->family_count; f++) {
            if (family_uses_label(reg->families[f], labels[i].name))
                return vigil__fail(VIGIL_ELABELS, "global label \"%s\" is already a label of "
                                   "metric \"%s\"", labels[i].name, reg->families[f]->name);
        }
    }
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_registry_set_global_labels(vigil_registry *reg,
                                                        const vigil_label *labels, size_t count)
{
    if (reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "registry is NULL");
    pthread_mutex_lock(&reg->lock);
    vigil_status st = check_globals(reg, labels, count);
    char **names = NULL, **values = NULL;
    if (st == VIGIL_OK && count > 0) {
        names = vigil__calloc(count, sizeof *names);
        values = vigil__calloc(count, sizeof *values);
        for (size_t i = 0; names && values && i < count; i++) {
            names[i] = vigil__strdup(labels[i].name);
            values[i] = vigil__strdup(labels[i].value);
            if (names[i] == NULL || values[i] == NULL)
                st = VIGIL_ENOMEM;
        }
        if (names == NULL || values == NULL)
            st = VIGIL_ENOMEM;
    }
    if (st == VIGIL_OK) {
        for (size_t i = 0; i < reg->global_count; i++) {
            vigil__free(reg->global_names[i]);
            vigil__free(reg->global_values[i]);
        }
        vigil__free(reg->global_names);
        vigil__free(reg->global_values);
        reg->global_names = names;
        reg->global_values = values;
        reg->global_count = count;
    } else {
        for (size_t i = 0; i < count && names && values; i++) {
            vigil__free(names[i]);
            vigil__free(values[i]);
        }
        vigil__free(names);
        vigil__free(values);
        if (st == VIGIL_ENOMEM)
            vigil__fail(st, "out of memory setting global labels");
    }
    pthread_mutex_unlock(&reg->lock);
    return st;
}

VIGIL_API void vigil_registry_set_max_children(vigil_registry *reg, size_t max_children)
{
    pthread_mutex_lock(&reg->lock);
    reg->max_children = max_children;
    pthread_mutex_unlock(&reg->lock);
}

VIGIL_API size_t vigil_registry_child_count(vigil_registry *reg)
{
    size_t n = 0;
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->family_count; i++)
        n += reg->families[i]->fn ? 1 : vigil_family_child_count(reg->families[i]);
    pthread_mutex_unlock(&reg->lock);
    return n;
}

/* Reserves every series name of fam; on a clash nothing stays reserved. Caller holds the lock. */
static vigil_status reserve_names(vigil_registry *reg, vigil_family *fam)
{
    size_t n;
    const char *const *sfx = vigil__series_suffixes(fam->type, &n);
    size_t base = strlen(fam->name);
    char *name = vigil__malloc(base + 16);
    if (name == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory registering \"%s\"", fam->name);
    vigil_status st = VIGIL_OK;
    size_t done = 0;
    for (; done < n; done++) {
        memcpy(name, fam->name, base);
        strcpy(name + base, sfx[done]);
        st = vigil__strmap_put(&reg->names, name, fam);
        if (st == VIGIL_EEXIST) {
            st = vigil__fail(VIGIL_EEXIST, "metric \"%s\": the name \"%s\" is already used by "
                             "another metric in this registry", fam->name, name);
        }
        if (st != VIGIL_OK)
            break;
    }
    while (st != VIGIL_OK && done-- > 0) {
        memcpy(name, fam->name, base);
        strcpy(name + base, sfx[done]);
        vigil__strmap_del(&reg->names, name);
    }
    vigil__free(name);
    return st;
}

/* Frees every series name of fam. Allocates nothing: it runs on error paths, and a name left
 * behind would point at a freed family. Caller holds the lock. */
static void release_names(vigil_registry *reg, const vigil_family *fam)
{
    (void)vigil__strmap_del_value(&reg->names, fam);
}

static vigil_status insert_sorted(vigil_registry *reg, vigil_family *fam)
{
    if (reg->family_count == reg->family_cap) {
        size_t ncap = reg->family_cap ? reg->family_cap * 2 : 16;
        vigil_family **nf = vigil__realloc(reg->families, ncap * sizeof *nf);
        if (nf == NULL)
            return vigil__fail(VIGIL_ENOMEM, "out of memory registering \"%s\"", fam->name);
        reg->families = nf;
        reg->family_cap = ncap;
    }
    size_t lo = 0, hi = reg->family_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(reg->families[mid]->name, fam->name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&reg->families[lo + 1], &reg->families[lo],
            (reg->family_count - lo) * sizeof *reg->families);
    reg->families[lo] = fam;
    reg->family_count++;
    return VIGIL_OK;
}

/* Registers a family; with `child`, also creates its unlabelled child before the family is
 * published, so no other thread can unregister the family while the child is being made. */
static vigil_status register_family(vigil_registry *reg, vigil_metric_type type,
                                    const vigil_metric_opts *opts, vigil_value_fn fn,
                                    void *user, vigil_family **out, vigil__child **child)
{
    if (reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "registry is NULL");
    pthread_mutex_lock(&reg->lock);
    vigil_family *fam;
    vigil__child *made = NULL;
    vigil_status st = vigil__family_create(reg, type, opts, &fam);
    if (st == VIGIL_OK) {
        fam->fn = fn;
        fam->fn_user = user;
        if (fn != NULL && fam->label_count > 0)
            st = vigil__fail(VIGIL_ELABELS, "metric \"%s\": a callback metric has no label "
                             "names (use constant labels)", fam->name);
        if (st == VIGIL_OK && child != NULL)
            st = vigil__family_child(fam, 0, NULL, &made);
        if (st == VIGIL_OK)
            st = reserve_names(reg, fam);
        if (st == VIGIL_OK) {
            st = insert_sorted(reg, fam);
            if (st != VIGIL_OK)
                release_names(reg, fam);
        }
        if (st != VIGIL_OK)
            vigil__family_destroy(fam);
    }
    pthread_mutex_unlock(&reg->lock);
    if (st == VIGIL_OK && out != NULL)
        *out = fam;
    if (st == VIGIL_OK && child != NULL)
        *child = made;
    return st;
}

VIGIL_API vigil_status vigil_family_new(vigil_registry *reg, vigil_metric_type type,
                                        const vigil_metric_opts *opts, vigil_family **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "result pointer is NULL");
    *out = NULL;
    return register_family(reg, type, opts, NULL, NULL, out, NULL);
}

/* Caller holds the lock. */
static vigil_family *find_locked(vigil_registry *reg, const char *name)
{
    vigil_family *fam = vigil__strmap_get(&reg->names, name);
    if (fam == (vigil_family *)(void *)reg) /* a self-metric name */
        return NULL;
    if (fam != NULL && strcmp(fam->name, name) != 0) {
        /* Only the family name or a counter's name_total find a family, not x_bucket etc. */
        size_t n = strlen(fam->name);
        if (!(fam->type == VIGIL_COUNTER && strcmp(name + n, "_total") == 0))
            fam = NULL;
    }
    return fam;
}

VIGIL_API vigil_family *vigil_registry_find(vigil_registry *reg, const char *name)
{
    if (reg == NULL || name == NULL)
        return NULL;
    pthread_mutex_lock(&reg->lock);
    vigil_family *fam = find_locked(reg, name);
    pthread_mutex_unlock(&reg->lock);
    return fam;
}

VIGIL_API vigil_status vigil_registry_unregister(vigil_registry *reg, const char *name)
{
    if (reg == NULL || name == NULL)
        return vigil__fail(VIGIL_ENOTFOUND, "no metric named \"%s\"", name ? name : "(null)");
    /* Found and unlinked under one hold of the lock: two threads unregistering the same name
     * must not both get the family (and free it twice). */
    pthread_mutex_lock(&reg->lock);
    vigil_family *fam = find_locked(reg, name);
    if (fam != NULL) {
        for (size_t i = 0; i < reg->family_count; i++) {
            if (reg->families[i] == fam) {
                memmove(&reg->families[i], &reg->families[i + 1],
                        (reg->family_count - i - 1) * sizeof *reg->families);
                reg->family_count--;
                break;
            }
        }
        release_names(reg, fam);
    }
    pthread_mutex_unlock(&reg->lock);
    if (fam == NULL)
        return vigil__fail(VIGIL_ENOTFOUND, "no metric named \"%s\"", name);
    vigil__family_destroy(fam);
    return VIGIL_OK;
}

static vigil_status single_child(vigil_registry *reg, vigil_metric_type type,
                                 const vigil_metric_opts *opts, vigil__child **out)
{
    if (out == NULL || opts == NULL)
        return vigil__fail(VIGIL_EINVAL, "options or result pointer is NULL");
    if (opts->label_count != 0)
        return vigil__fail(VIGIL_ELABELS, "metric \"%s\": use vigil_family_new for labelled "
                           "metrics", opts->name ? opts->name : "(null)");
    vigil_family *fam;
    return register_family(reg, type, opts, NULL, NULL, &fam, out);
}

VIGIL_API vigil_status vigil_counter_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                         vigil_counter **out)
{
    return single_child(reg, VIGIL_COUNTER, opts, (vigil__child **)out);
}

VIGIL_API vigil_status vigil_gauge_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                       vigil_gauge **out)
{
    return single_child(reg, VIGIL_GAUGE, opts, (vigil__child **)out);
}

VIGIL_API vigil_status vigil_histogram_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                           vigil_histogram **out)
{
    return single_child(reg, VIGIL_HISTOGRAM, opts, (vigil__child **)out);
}

VIGIL_API vigil_status vigil_summary_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                         vigil_summary **out)
{
    return single_child(reg, VIGIL_SUMMARY, opts, (vigil__child **)out);
}

static vigil_status func_new(vigil_registry *reg, vigil_metric_type type,
                             const vigil_metric_opts *opts, vigil_value_fn fn, void *user)
{
    if (fn == NULL)
        return vigil__fail(VIGIL_EINVAL, "callback is NULL");
    return register_family(reg, type, opts, fn, user, NULL, NULL);
}

VIGIL_API vigil_status vigil_gauge_func_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                            vigil_value_fn fn, void *user)
{
    return func_new(reg, VIGIL_GAUGE, opts, fn, user);
}

VIGIL_API vigil_status vigil_counter_func_new(vigil_registry *reg, const vigil_metric_opts *opts,
                                              vigil_value_fn fn, void *user)
{
    return func_new(reg, VIGIL_COUNTER, opts, fn, user);
}

/* --- collectors ----------------------------------------------------------------------------- */

VIGIL_API vigil_status vigil_registry_add_collector(vigil_registry *reg, const char *name,
                                                    vigil_collect_fn fn, void *user)
{
    if (reg == NULL || name == NULL || *name == '\0' || fn == NULL)
        return vigil__fail(VIGIL_EINVAL, "collector needs a registry, a name and a function");
    struct vigil__collector *c = vigil__calloc(1, sizeof *c);
    if (c == NULL || (c->name = vigil__strdup(name)) == NULL) {
        vigil__free(c);
        return vigil__fail(VIGIL_ENOMEM, "out of memory adding collector \"%s\"", name);
    }
    c->fn = fn;
    c->user = user;
    vigil_status st = VIGIL_OK;
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->collector_count; i++) {
        if (strcmp(reg->collectors[i]->name, name) == 0)
            st = vigil__fail(VIGIL_EEXIST, "a collector named \"%s\" is already registered",
                             name);
    }
    if (st == VIGIL_OK) {
        struct vigil__collector **nc =
            vigil__realloc(reg->collectors, (reg->collector_count + 1) * sizeof *nc);
        if (nc == NULL) {
            st = vigil__fail(VIGIL_ENOMEM, "out of memory adding collector \"%s\"", name);
        } else {
            reg->collectors = nc;
            reg->collectors[reg->collector_count++] = c;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    if (st != VIGIL_OK)
        free_collector(c);
    return st;
}

VIGIL_API vigil_status vigil_registry_remove_collector(vigil_registry *reg, const char *name)
{
    if (reg == NULL || name == NULL)
        return vigil__fail(VIGIL_EINVAL, "registry or name is NULL");
    struct vigil__collector *found = NULL;
    pthread_mutex_lock(&reg->lock);
    for (size_t i = 0; i < reg->collector_count; i++) {
        if (strcmp(reg->collectors[i]->name, name) == 0) {
            found = reg->collectors[i];
            memmove(&reg->collectors[i], &reg->collectors[i + 1],
                    (reg->collector_count - i - 1) * sizeof *reg->collectors);
            reg->collector_count--;
            break;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    if (found == NULL)
        return vigil__fail(VIGIL_ENOTFOUND, "no collector named \"%s\"", name);
    free_collector(found);
    return VIGIL_OK;
}
