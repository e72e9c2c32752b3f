/* family.c — metric families: validation at registration, and the table of children.
 *
 * Children are found by the hash of their label values in an open-addressing table that lookups
 * read without a lock (the table pointer and slots are atomics; see epoch.c for why unlinked
 * memory is safe to read). Creation, removal and table rebuilds take the family lock, so writers
 * are serialised and readers never wait. A removed child's slot becomes a tombstone; the table is
 * rebuilt (into a fresh allocation, the old one retired) once live entries plus tombstones fill
 * half of it, so probes stay short under churn.
 */
#include <math.h>
#include <string.h>

#include "metrics/metrics_int.h"

#define TOMB ((vigil__child *)(uintptr_t)1)
#define MIN_TABLE 16

/* --- validation ----------------------------------------------------------------------------- */

static bool has_name(char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names[i], name) == 0)
            return true;
    }
    return false;
}

static vigil_status check_unit(const char *family, const char *unit)
{
    if (unit == NULL || *unit == '\0')
        return VIGIL_OK;
    for (const char *p = unit; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == ':'))
            return vigil__fail(VIGIL_ENAME, "unit \"%.100s\": must match [a-zA-Z0-9_:]+", unit);
    }
    size_t fl = strlen(family), ul = strlen(unit);
    if (fl <= ul + 1 || family[fl - ul - 1] != '_' || strcmp(family + fl - ul, unit) != 0)
        return vigil__fail(VIGIL_ENAME, "metric \"%.200s\" with unit \"%.100s\": the name must "
                           "end in \"_%.100s\" (OpenMetrics)", family, unit, unit);
    return VIGIL_OK;
}

static vigil_status check_text(const char *what, const char *s)
{
    if (s != NULL && !vigil__utf8_valid(s, strlen(s)))
        return vigil__fail(VIGIL_EINVAL, "%s is not valid UTF-8", what);
    return VIGIL_OK;
}

static vigil_status copy_strings(char ***out, const char *const *src, size_t n)
{
    *out = NULL;
    if (n == 0)
        return VIGIL_OK;
    char **v = vigil__calloc(n, sizeof *v);
    if (v == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory registering a metric");
    *out = v;
    for (size_t i = 0; i < n; i++) {
        v[i] = vigil__strdup(src[i]);
        if (v[i] == NULL)
            return vigil__fail(VIGIL_ENOMEM, "out of memory registering a metric");
    }
    return VIGIL_OK;
}

static void free_strings(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        vigil__free(v[i]);
    vigil__free(v);
}

static vigil_status check_labels(const vigil_family *fam, const vigil_metric_opts *opts,
                                 const vigil_registry *reg)
{
    if (opts->label_count > VIGIL_MAX_LABELS || (opts->label_count && !opts->label_names))
        return vigil__fail(VIGIL_ELABELS, "metric \"%s\": at most %d label names, not NULL",
                           fam->name, VIGIL_MAX_LABELS);
    if (opts->const_label_count > VIGIL_MAX_LABELS ||
        (opts->const_label_count && !opts->const_labels))
        return vigil__fail(VIGIL_ELABELS, "metric \"%s\": at most %d constant labels",
                           fam->name, VIGIL_MAX_LABELS);
    const char *all[2 * VIGIL_MAX_LABELS];
    size_t n = 0;
    for (size_t i = 0; i < opts->const_label_count; i++) {
        const vigil_label *l = &opts->const_labels[i];
        if (l->value == NULL)
            return vigil__fail(VIGIL_EINVAL, "metric \"%s\": constant label \"%s\" has no value",
                               fam->name, l->name ? l->name : "(null)");
        vigil_status st = vigil__check_label(l->name, fam->type);
        if (st == VIGIL_OK)
            st = check_text("constant label value", l->value);
        if (st != VIGIL_OK)
            return st;
        all[n++] = l->name;
    }
    for (size_t i = 0; i < opts->label_count; i++) {
        vigil_status st = vigil__check_label(opts->label_names[i], fam->type);
        if (st != VIGIL_OK)
            return st;
        all[n++] = opts->label_names[i];
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            if (strcmp(all[i], all[j]) == 0)
                return vigil__fail(VIGIL_ELABELS, "metric \"%s\": label \"%s\" appears twice",
                                   fam->name, all[i]);
        }
        if (reg != NULL && has_name(reg->global_names, reg->global_count, all[i]))
            return vigil__fail(VIGIL_ELABELS, "metric \"%s\": label \"%s\" is a global label of "
                               "the registry", fam->name, all[i]);
    }
    return VIGIL_OK;
}

static vigil_status copy_buckets(vigil_family *fam, const vigil_metric_opts *opts)
{
    const double *b = opts->buckets;
    size_t n = opts->bucket_count;
    if (b == NULL)
        b = vigil_default_buckets(&n);
    if (n > 0 && isinf(b[n - 1]) && b[n - 1] > 0)
        n--; /* an explicit +Inf is the implied one */
    vigil_status st = vigil__check_buckets(b, n);
    if (st != VIGIL_OK)
        return st;
    fam->buckets = vigil__calloc(n, sizeof *fam->buckets);
    if (fam->buckets == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory copying buckets");
    memcpy(fam->buckets, b, n * sizeof *b);
    fam->bucket_count = n;
    fam->cells_per_child = n + 2;
    return VIGIL_OK;
}

vigil_status vigil__family_create(vigil_registry *reg, vigil_metric_type type,
                                  const vigil_metric_opts *opts, vigil_family **out)
{
    *out = NULL;
    if (opts == NULL)
        return vigil__fail(VIGIL_EINVAL, "metric options are NULL");
    if (type != VIGIL_COUNTER && type != VIGIL_GAUGE && type != VIGIL_HISTOGRAM &&
        type != VIGIL_SUMMARY)
        return vigil__fail(VIGIL_EINVAL, "metric type %d cannot be registered", (int)type);
    vigil_status st = vigil__check_name("metric name", opts->name);
    if (st == VIGIL_OK)
        st = check_text("help text", opts->help);
    if (st != VIGIL_OK)
        return st;
    vigil_family *fam = vigil__calloc(1, sizeof *fam);
    if (fam == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory registering a metric");
    fam->registry = reg;
    fam->type = type;
    fam->name = vigil__family_name(type, opts->name);
    fam->help = vigil__strdup(opts->help ? opts->help : "");
    fam->unit = (opts->unit && *opts->unit) ? vigil__strdup(opts->unit) : NULL;
    pthread_mutex_init(&fam->lock, NULL);
    if (fam->name == NULL || fam->help == NULL || (opts->unit && *opts->unit && !fam->unit))
        st = vigil__fail(VIGIL_ENOMEM, "out of memory registering a metric");
    if (st == VIGIL_OK)
        st = check_unit(fam->name, fam->unit);
    if (st == VIGIL_OK)
        st = check_labels(fam, opts, reg);
    /* Counts are set before copying so that vigil__family_destroy frees a partial copy. */
    if (st == VIGIL_OK) {
        fam->label_count = opts->label_count;
        st = copy_strings(&fam->label_names, opts->label_names, opts->label_count);
    }
    if (st == VIGIL_OK) {
        const char *names[VIGIL_MAX_LABELS], *values[VIGIL_MAX_LABELS];
        for (size_t i = 0; i < opts->const_label_count; i++) {
            names[i] = opts->const_labels[i].name;
            values[i] = opts->const_labels[i].value;
        }
        fam->const_count = opts->const_label_count;
        st = copy_strings(&fam->const_names, names, opts->const_label_count);
        if (st == VIGIL_OK)
            st = copy_strings(&fam->const_values, values, opts->const_label_count);
    }
    if (st == VIGIL_OK && type == VIGIL_HISTOGRAM)
        st = copy_buckets(fam, opts);
    if (st == VIGIL_OK && type == VIGIL_SUMMARY)
        st = vigil__summary_configure(fam, opts);
    if (type == VIGIL_COUNTER)
        fam->cells_per_child = 1;
    fam->max_children = opts->max_children ? opts->max_children
                        : (reg && reg->max_children ? reg->max_children
                                                    : VIGIL_DEFAULT_MAX_CHILDREN);
    if (st != VIGIL_OK) {
        vigil__family_destroy(fam);
        return st;
    }
    *out = fam;
    return VIGIL_OK;
}

/* --- the child table ------------------------------------------------------------------------ */

static uint64_t hash_values(size_t count, const char *const *values)
{
    uint64_t h = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < count; i++)
        h = vigil__hash(values[i], strlen(values[i]), h);
    return h;
}

static bool same_values(const vigil__child *c, size_t count, const char *const *values)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(c->values[i], values[i]) != 0)
            return false;
    }
    return true;
}

static vigil__child *probe(const vigil__table *t, uint64_t h, size_t count,
                           const char *const *values)
{
    if (t == NULL)
        return NULL;
    for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
        vigil__child *c = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (c == NULL)
            return NULL;
        if (c != TOMB && c->hash == h && same_values(c, count, values))
            return c;
    }
}

static vigil__table *table_new(size_t cap)
{
    vigil__table *t = vigil__calloc(1, sizeof *t + cap * sizeof(t->slots[0]));
    if (t != NULL)
        t->mask = cap - 1;
    return t;
}

static void table_put(vigil__table *t, vigil__child *c)
{
    size_t i = c->hash & t->mask;
    for (;; i = (i + 1) & t->mask) {
        vigil__child *s = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
        if (s == NULL) {
            t->used++;
            break;
        }
        if (s == TOMB)
            break;
    }
    atomic_store_explicit(&t->slots[i], c, memory_order_release);
}

static void retire_table(vigil_family *fam, vigil__table *t)
{
    if (t == NULL)
        return;
    t->retired_tag = vigil__epoch_retire_tag();
    t->retired_next = fam->retired_tables;
    fam->retired_tables = t;
}

/* Publishes a fresh table holding the live children, sized for `live` more than we have. */
static vigil_status rebuild(vigil_family *fam, size_t live)
{
    size_t cap = MIN_TABLE;
    while (cap < live * 2 + 1)
        cap *= 2;
    vigil__table *nt = table_new(cap);
    if (nt == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory growing the children of \"%s\"",
                           fam->name);
    for (vigil__child *c = fam->head; c != NULL; c = c->next)
        table_put(nt, c);
    vigil__table *old = atomic_load_explicit(&fam->table, memory_order_relaxed);
    atomic_store_explicit(&fam->table, nt, memory_order_release);
    retire_table(fam, old);
    return VIGIL_OK;
}

static vigil_status insert(vigil_family *fam, vigil__child *c)
{
    vigil__table *t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    size_t live = atomic_load_explicit(&fam->child_count, memory_order_relaxed);
    if (t == NULL || (t->used + 1) * 2 > t->mask + 1) {
        vigil_status st = rebuild(fam, live + 1);
        if (st != VIGIL_OK)
            return st;
        t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    }
    table_put(t, c);
    return VIGIL_OK;
}

/* --- children ------------------------------------------------------------------------------- */

static void child_free(vigil_family *fam, vigil__child *c)
{
    if (fam->type == VIGIL_SUMMARY)
        vigil__summary_child_free(c);
    vigil__cells_release(c->cells, fam->cells_per_child);
    vigil__free(c);
}

static vigil__child *child_new(vigil_family *fam, uint64_t h, size_t count,
                               const char *const *values)
{
    size_t bytes = sizeof(vigil__child) + count * sizeof(char *);
    for (size_t i = 0; i < count; i++)
        bytes += strlen(values[i]) + 1;
    vigil__child *c = vigil__calloc(1, bytes);
    if (c == NULL)
        return NULL;
    char *p = (char *)&c->values[count];
    for (size_t i = 0; i < count; i++) {
        size_t n = strlen(values[i]) + 1;
        memcpy(p, values[i], n);
        c->values[i] = p;
        p += n;
    }
    c->hash = h;
    c->created = vigil__now_seconds();
    if (fam->type == VIGIL_HISTOGRAM)
        c->family = fam;
    if (fam->cells_per_child > 0) {
        c->cells = vigil__cells_alloc(fam->cells_per_child);
        if (c->cells == NULL) {
            vigil__free(c);
            return NULL;
        }
    }
    if (fam->type == VIGIL_SUMMARY && vigil__summary_child_init(fam, c) != VIGIL_OK) {
        child_free(fam, c);
        return NULL;
    }
    return c;
}

static vigil_status check_values(const vigil_family *fam, size_t count,
                                 const char *const *values)
{
    if (count != fam->label_count)
        return vigil__fail(VIGIL_ELABELS, "metric \"%s\" has %zu label names, got %zu values",
                           fam->name, fam->label_count, count);
    if (count > 0 && values == NULL)
        return vigil__fail(VIGIL_EINVAL, "metric \"%s\": label values are NULL", fam->name);
    for (size_t i = 0; i < count; i++) {
        if (values[i] == NULL)
            return vigil__fail(VIGIL_EINVAL, "metric \"%s\": value of label \"%s\" is NULL",
                               fam->name, fam->label_names[i]);
    }
    return VIGIL_OK;
}

static vigil_status create_locked(vigil_family *fam, uint64_t h, size_t count,
                                  const char *const *values, vigil__child **out)
{
    for (size_t i = 0; i < count; i++) {
        if (!vigil__utf8_valid(values[i], strlen(values[i])))
            return vigil__fail(VIGIL_ELABELS, "metric \"%s\": value of label \"%s\" is not "
                               "valid UTF-8", fam->name, fam->label_names[i]);
    }
    if (atomic_load_explicit(&fam->child_count, memory_order_relaxed) >= fam->max_children) {
        atomic_fetch_add_explicit(&fam->refused, 1, memory_order_relaxed);
        return vigil__fail(VIGIL_ECARDINALITY, "metric \"%s\" already has its maximum of %zu "
                           "label sets; new ones are refused and counted in "
                           "vigil_series_refused_total", fam->name, fam->max_children);
    }
    vigil__child *c = child_new(fam, h, count, values);
    if (c == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a child of \"%s\"", fam->name);
    vigil_status st = insert(fam, c);
    if (st != VIGIL_OK) {
        child_free(fam, c);
        return st;
    }
    c->prev = fam->tail;
    if (fam->tail)
        fam->tail->next = c;
    else
        fam->head = c;
    fam->tail = c;
    atomic_fetch_add_explicit(&fam->child_count, 1, memory_order_relaxed);
    *out = c;
    return VIGIL_OK;
}

vigil_status vigil__family_child(vigil_family *fam, size_t count, const char *const *values,
                                 vigil__child **out)
{
    vigil_status st = check_values(fam, count, values);
    if (st != VIGIL_OK)
        return st;
    uint64_t h = hash_values(count, values);
    _Atomic uint64_t *announced = vigil__epoch_enter();
    vigil__child *c = probe(atomic_load_explicit(&fam->table, memory_order_acquire), h, count,
                            values);
    vigil__epoch_exit(announced);
    if (VIGIL_LIKELY(c != NULL)) {
        *out = c;
        return VIGIL_OK;
    }
    pthread_mutex_lock(&fam->lock);
    c = probe(atomic_load_explicit(&fam->table, memory_order_relaxed), h, count, values);
    st = c ? VIGIL_OK : create_locked(fam, h, count, values, &c);
    vigil__family_reclaim(fam);
    pthread_mutex_unlock(&fam->lock);
    if (st == VIGIL_OK)
        *out = c;
    return st;
}

static void unlink_child(vigil_family *fam, vigil__child *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        fam->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    else
        fam->tail = c->prev;
    c->retired_tag = vigil__epoch_retire_tag();
    c->next = fam->retired_children;
    fam->retired_children = c;
    fam->retired_count++;
    atomic_fetch_sub_explicit(&fam->child_count, 1, memory_order_relaxed);
}

VIGIL_API vigil_status vigil_family_remove(vigil_family *fam, size_t count,
                                           const char *const *values)
{
    if (fam == NULL)
        return vigil__fail(VIGIL_EINVAL, "family is NULL");
    vigil_status st = check_values(fam, count, values);
    if (st != VIGIL_OK)
        return st;
    uint64_t h = hash_values(count, values);
    pthread_mutex_lock(&fam->lock);
    vigil__table *t = atomic_load_explicit(&fam->table, memory_order_relaxed);
    st = VIGIL_ENOTFOUND;
    for (size_t i = t ? h & t->mask : 0; t != NULL; i = (i + 1) & t->mask) {
        vigil__child *c = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
        if (c == NULL)
            break;
        if (c != TOMB && c->hash == h && same_values(c, count, values)) {
            atomic_store_explicit(&t->slots[i], TOMB, memory_order_release);
            unlink_child(fam, c);
            st = VIGIL_OK;
            break;
        }
    }
    vigil__family_reclaim(fam);
    pthread_mutex_unlock(&fam->lock);
    if (st == VIGIL_ENOTFOUND)
        vigil__fail(st, "metric \"%s\" has no child with those label values", fam->name);
    return st;
}

VIGIL_API void vigil_family_clear(vigil_family *fam)
{
    if (fam == NULL)
        return;
    pthread_mutex_lock(&fam->lock);
    vigil__table *old = atomic_load_explicit(&fam->table, memory_order_relaxed);
    atomic_store_explicit(&fam->table, NULL, memory_order_release);
    retire_table(fam, old);
    while (fam->head != NULL)
        unlink_child(fam, fam->head);
    vigil__family_reclaim(fam);
    pthread_mutex_unlock(&fam->lock);
}

void vigil__family_reclaim(vigil_family *fam)
{
    /* Checking costs a process-wide memory barrier (see epoch.c): batch it. */
    if (fam->retired_count < 64 && fam->retired_tables == NULL)
        return;
    vigil__epoch_sync();
    for (vigil__child **pc = &fam->retired_children; *pc != NULL;) {
        vigil__child *c = *pc;
        if (vigil__epoch_safe(c->retired_tag)) {
            *pc = c->next;
            child_free(fam, c);
            fam->retired_count--;
        } else {
            pc = &c->next;
        }
    }
    for (vigil__table **pt = &fam->retired_tables; *pt != NULL;) {
        vigil__table *t = *pt;
        if (vigil__epoch_safe(t->retired_tag)) {
            *pt = t->retired_next;
            vigil__free(t);
        } else {
            pt = &t->retired_next;
        }
    }
}

void vigil__family_destroy(vigil_family *fam)
{
    if (fam == NULL)
        return;
    for (vigil__child *c = fam->head, *n; c != NULL; c = n) {
        n = c->next;
        child_free(fam, c);
    }
    for (vigil__child *c = fam->retired_children, *n; c != NULL; c = n) {
        n = c->next;
        child_free(fam, c);
    }
    for (vigil__table *t = fam->retired_tables, *n; t != NULL; t = n) {
        n = t->retired_next;
        vigil__free(t);
    }
    vigil__free(atomic_load_explicit(&fam->table, memory_order_relaxed));
    free_strings(fam->label_names, fam->label_count);
    free_strings(fam->const_names, fam->const_count);
    free_strings(fam->const_values, fam->const_count);
    vigil__free(fam->buckets);
    vigil__free(fam->quantiles);
    vigil__free(fam->name);
    vigil__free(fam->help);
    vigil__free(fam->unit);
    pthread_mutex_destroy(&fam->lock);
    vigil__free(fam);
}

/* --- public accessors ----------------------------------------------------------------------- */

VIGIL_API vigil_metric_type vigil_family_type(const vigil_family *fam)
{
    return fam->type;
}

VIGIL_API size_t vigil_family_label_count(const vigil_family *fam)
{
    return fam->label_count;
}

VIGIL_API const char *vigil_family_label_name(const vigil_family *fam, size_t i)
{
    return i < fam->label_count ? fam->label_names[i] : NULL;
}

VIGIL_API size_t vigil_family_child_count(vigil_family *fam)
{
    return atomic_load_explicit(&fam->child_count, memory_order_relaxed);
}

VIGIL_API uint64_t vigil_family_refused(vigil_family *fam)
{
    return atomic_load_explicit(&fam->refused, memory_order_relaxed);
}

static vigil_status typed_child(vigil_family *fam, vigil_metric_type type, size_t count,
                                const char *const *values, vigil__child **out)
{
    if (fam == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "family or result pointer is NULL");
    if (fam->type != type || fam->fn != NULL)
        return vigil__fail(VIGIL_ETYPE, "metric \"%s\" is not a %s family", fam->name,
                           type == VIGIL_COUNTER ? "counter"
                           : type == VIGIL_GAUGE ? "gauge"
                           : type == VIGIL_HISTOGRAM ? "histogram" : "summary");
    return vigil__family_child(fam, count, values, out);
}

VIGIL_API vigil_status vigil_family_counter(vigil_family *fam, size_t count,
                                            const char *const *values, vigil_counter **out)
{
    return typed_child(fam, VIGIL_COUNTER, count, values, (vigil__child **)out);
}

VIGIL_API vigil_status vigil_family_gauge(vigil_family *fam, size_t count,
                                          const char *const *values, vigil_gauge **out)
{
    return typed_child(fam, VIGIL_GAUGE, count, values, (vigil__child **)out);
}

VIGIL_API vigil_status vigil_family_histogram(vigil_family *fam, size_t count,
                                              const char *const *values, vigil_histogram **out)
{
    return typed_child(fam, VIGIL_HISTOGRAM, count, values, (vigil__child **)out);
}

VIGIL_API vigil_status vigil_family_summary(vigil_family *fam, size_t count,
                                            const char *const *values, vigil_summary **out)
{
    return typed_child(fam, VIGIL_SUMMARY, count, values, (vigil__child **)out);
}
