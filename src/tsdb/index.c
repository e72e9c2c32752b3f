/* index.c — the in-memory inverted index of the tsdb head.
 *
 * Shape: a sorted array of label names (tens to hundreds: a binary search is as fast as a hash
 * and label_names comes out sorted for free); per name an open-addressing table of its values
 * (up to millions for an `id`-like label, so entries live in the table itself, 24 bytes each);
 * per value a postings list. Most values of high-cardinality labels belong to one or two series,
 * so up to two refs are stored inline in the entry and only longer lists get an allocation. The
 * list of every series (`all`) keeps, next to each ref, the series' label set: deletion finds
 * the lists to rebuild from it, and label names/values restricted by matchers read it.
 *
 * Refs arrive in increasing order, so adding a series appends to the end of each of its lists
 * and lists never need sorting. Adding reserves everything first (names, table room, list room)
 * and then commits without any step that can fail, so an allocation failure leaves the index
 * as it was.
 *
 * Selection (Prometheus's PostingsForMatchers, same answers): a matcher that does not match ""
 * contributes the union of the lists of the values it matches, and these are intersected; a
 * matcher that matches "" instead contributes the values it does NOT match, whose series are
 * subtracted at the end (from every series when nothing was intersected). `=`, `!=` and literal
 * alternations name their values directly; other matchers are run over a copy of the label's
 * values taken under the read lock and tested after releasing it, so a slow regex over a large
 * label never holds up a writer. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "tsdb/index.h"

#define INLINE_REFS 2
#define VALUE_SEED 0x7473646276616c73ull /* "tsdbvals" */

typedef struct ventry {
    const char *value; /* interned; NULL: empty slot */
    uint32_t len;
    uint32_t cap; /* <= INLINE_REFS: the refs are in u.one */
    union {
        uint32_t *many;
        uint32_t one[INLINE_REFS];
    } u;
} ventry;

typedef struct lname {
    const char *name; /* interned */
    ventry *slots;
    size_t cap; /* power of two, or 0 */
    size_t len; /* values; a name with none is removed */
} lname;

struct vigil__tsdb_index {
    pthread_rwlock_t lock;
    /* Everything below is guarded by lock. */
    lname **names; /* sorted by strcmp */
    size_t nnames;
    size_t names_cap;
    uint32_t *all;                   /* every indexed ref, increasing */
    const vigil__tsdb_labels **sets; /* sets[i]: the label set of all[i] (borrowed) */
    size_t nall;
    size_t all_cap;
    size_t max_series;
};

/* ---- postings of one value ------------------------------------------------------------------ */

static uint32_t *refs_of(ventry *e)
{
    return e->cap <= INLINE_REFS ? e->u.one : e->u.many;
}

static vigil__tsdb_plist view_of(const ventry *e)
{
    vigil__tsdb_plist v = {e->cap <= INLINE_REFS ? e->u.one : e->u.many, e->len};
    return v;
}

/* Room for one more ref in e. */
static vigil_status entry_reserve(ventry *e)
{
    if (e->len < e->cap)
        return VIGIL_OK;
    uint32_t ncap = e->cap <= INLINE_REFS ? 8 : e->cap > UINT32_MAX / 2 ? UINT32_MAX : e->cap * 2;
    uint32_t *nr = vigil__malloc((size_t)ncap * sizeof *nr);
    if (nr == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory growing the postings of a label value");
    memcpy(nr, refs_of(e), e->len * sizeof *nr);
    if (e->cap > INLINE_REFS)
        vigil__free(e->u.many);
    e->u.many = nr;
    e->cap = ncap;
    return VIGIL_OK;
}

/* After deletions: back inline when it fits, halve when three quarters are unused. */
static void entry_shrink(ventry *e)
{
    if (e->cap <= INLINE_REFS)
        return;
    if (e->len <= INLINE_REFS) {
        uint32_t *many = e->u.many;
        memcpy(e->u.one, many, e->len * sizeof *many);
        vigil__free(many);
        e->cap = INLINE_REFS;
    } else if (e->len < e->cap / 4) {
        uint32_t *nr = vigil__realloc(e->u.many, (size_t)(e->cap / 2) * sizeof *nr);
        if (nr != NULL) {
            e->u.many = nr;
            e->cap /= 2;
        }
    }
}

/* ---- values of one name: open addressing, backward-shift deletion --------------------------- */

static size_t vhash(const char *v)
{
    return (size_t)vigil__hash(v, strlen(v), VALUE_SEED);
}

/* The slot holding v, or the empty slot where it would go. Requires cap > 0. */
static size_t value_probe(const lname *n, const char *v)
{
    size_t mask = n->cap - 1;
    for (size_t i = vhash(v) & mask;; i = (i + 1) & mask) {
        const char *s = n->slots[i].value;
        if (s == NULL || s == v || strcmp(s, v) == 0)
            return i;
    }
}

static ventry *value_find(const lname *n, const char *v)
{
    if (n == NULL || n->len == 0)
        return NULL;
    ventry *e = &n->slots[value_probe(n, v)];
    return e->value != NULL ? e : NULL;
}

static vigil_status value_table_reserve(lname *n)
{
    if ((n->len + 1) * 4 <= n->cap * 3)
        return VIGIL_OK;
    size_t ncap = n->cap ? n->cap * 2 : 8;
    ventry *slots = vigil__calloc(ncap, sizeof *slots);
    if (slots == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory growing the values of label \"%.200s\"",
                           n->name);
    for (size_t i = 0; i < n->cap; i++) {
        if (n->slots[i].value == NULL)
            continue;
        size_t j = vhash(n->slots[i].value) & (ncap - 1);
        while (slots[j].value != NULL)
            j = (j + 1) & (ncap - 1);
        slots[j] = n->slots[i];
    }
    vigil__free(n->slots);
    n->slots = slots;
    n->cap = ncap;
    return VIGIL_OK;
}

/* Requires room (value_table_reserve) and v absent. */
static ventry *value_insert(lname *n, const char *v)
{
    ventry *e = &n->slots[value_probe(n, v)];
    e->value = v;
    e->len = 0;
    e->cap = INLINE_REFS;
    n->len++;
    return e;
}

static void value_remove(lname *n, ventry *e)
{
    if (e->cap > INLINE_REFS)
        vigil__free(e->u.many);
    size_t mask = n->cap - 1, hole = (size_t)(e - n->slots);
    for (size_t j = (hole + 1) & mask; n->slots[j].value != NULL; j = (j + 1) & mask) {
        size_t home = vhash(n->slots[j].value) & mask;
        /* j's entry may fill the hole unless its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (!stays) {
            n->slots[hole] = n->slots[j];
            hole = j;
        }
    }
    n->slots[hole].value = NULL;
    n->len--;
}

/* ---- names ---------------------------------------------------------------------------------- */

/* Where name is, or would be inserted, in the sorted names array. */
static size_t name_pos(const vigil__tsdb_index *ix, const char *name, bool *found)
{
    size_t lo = 0, hi = ix->nnames;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = ix->names[mid]->name;
        int c = m == name ? 0 : strcmp(m, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static lname *name_find(const vigil__tsdb_index *ix, const char *name)
{
    bool found;
    size_t pos = name_pos(ix, name, &found);
    return found ? ix->names[pos] : NULL;
}

static vigil_status name_get_or_add(vigil__tsdb_index *ix, const char *name, lname **out)
{
    bool found;
    size_t pos = name_pos(ix, name, &found);
    if (found) {
        *out = ix->names[pos];
        return VIGIL_OK;
    }
    if (ix->nnames == ix->names_cap) {
        size_t ncap = ix->names_cap ? ix->names_cap * 2 : 16;
        lname **nn = vigil__realloc(ix->names, ncap * sizeof *nn);
        if (nn == NULL)
            return vigil__fail(VIGIL_ENOMEM, "out of memory adding label name \"%.200s\"", name);
        ix->names = nn;
        ix->names_cap = ncap;
    }
    lname *n = vigil__calloc(1, sizeof *n);
    if (n == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory adding label name \"%.200s\"", name);
    n->name = name;
    memmove(ix->names + pos + 1, ix->names + pos, (ix->nnames - pos) * sizeof *ix->names);
    ix->names[pos] = n;
    ix->nnames++;
    *out = n;
    return VIGIL_OK;
}

static void name_free(lname *n)
{
    for (size_t i = 0; i < n->cap; i++) {
        if (n->slots[i].value != NULL && n->slots[i].cap > INLINE_REFS)
            vigil__free(n->slots[i].u.many);
    }
    vigil__free(n->slots);
    vigil__free(n);
}

/* Drops name from the index when no value is left under it. */
static void name_drop_if_empty(vigil__tsdb_index *ix, const char *name)
{
    bool found;
    size_t pos = name_pos(ix, name, &found);
    if (!found || ix->names[pos]->len > 0)
        return;
    name_free(ix->names[pos]);
    memmove(ix->names + pos, ix->names + pos + 1, (ix->nnames - pos - 1) * sizeof *ix->names);
    ix->nnames--;
}

/* ---- life cycle ----------------------------------------------------------------------------- */

vigil_status vigil__tsdb_index_new(size_t max_series, vigil__tsdb_index **out)
{
    *out = NULL;
    vigil__tsdb_index *ix = vigil__calloc(1, sizeof *ix);
    if (ix == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating an index");
    if (pthread_rwlock_init(&ix->lock, NULL) != 0) {
        vigil__free(ix);
        return vigil__fail(VIGIL_ENOMEM, "cannot create the index's lock");
    }
    ix->max_series = max_series ? max_series : VIGIL__TSDB_INDEX_DEFAULT_MAX_SERIES;
    if (ix->max_series > UINT32_MAX)
        ix->max_series = UINT32_MAX;
    *out = ix;
    return VIGIL_OK;
}

void vigil__tsdb_index_free(vigil__tsdb_index *ix)
{
    if (ix == NULL)
        return;
    for (size_t i = 0; i < ix->nnames; i++)
        name_free(ix->names[i]);
    vigil__free(ix->names);
    vigil__free(ix->all);
    vigil__free(ix->sets);
    pthread_rwlock_destroy(&ix->lock);
    vigil__free(ix);
}

/* ---- adding --------------------------------------------------------------------------------- */

static vigil_status all_reserve(vigil__tsdb_index *ix)
{
    if (ix->nall < ix->all_cap)
        return VIGIL_OK;
    size_t ncap = ix->all_cap ? ix->all_cap * 2 : 64;
    if (ncap > ix->max_series)
        ncap = ix->max_series;
    uint32_t *all = vigil__realloc(ix->all, ncap * sizeof *all);
    if (all != NULL)
        ix->all = all;
    const vigil__tsdb_labels **sets = all ? vigil__realloc(ix->sets, ncap * sizeof *sets) : NULL;
    if (sets == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory growing the index to %zu series", ncap);
    ix->sets = sets;
    ix->all_cap = ncap;
    return VIGIL_OK;
}

static vigil_status check_set(const vigil__tsdb_labels *ls)
{
    if (ls == NULL)
        return vigil__fail(VIGIL_EINVAL, "index: label set is NULL");
    for (uint32_t i = 0; i < ls->n; i++) {
        if (ls->l[i].value[0] == '\0' || (i > 0 && strcmp(ls->l[i - 1].name, ls->l[i].name) >= 0))
            return vigil__fail(VIGIL_EINVAL,
                               "index: label set not built by labels_build "
                               "(unsorted, duplicate or empty at \"%.200s\")",
                               ls->l[i].name);
    }
    return VIGIL_OK;
}

/* Every allocation the commit will need: names, table room, list room. */
static vigil_status reserve_labels(vigil__tsdb_index *ix, const vigil__tsdb_labels *ls)
{
    for (uint32_t i = 0; i < ls->n; i++) {
        lname *n = NULL;
        vigil_status st = name_get_or_add(ix, ls->l[i].name, &n);
        if (st == VIGIL_OK)
            st = value_table_reserve(n);
        ventry *e = st == VIGIL_OK ? value_find(n, ls->l[i].value) : NULL;
        if (e != NULL)
            st = entry_reserve(e);
        if (st != VIGIL_OK)
            return st;
    }
    return VIGIL_OK;
}

static vigil_status add_locked(vigil__tsdb_index *ix, uint32_t ref, const vigil__tsdb_labels *ls)
{
    if (ix->nall > 0 && ref <= ix->all[ix->nall - 1])
        return vigil__fail(VIGIL_EINVAL, "index: series ref %u is not above the last ref %u", ref,
                           ix->all[ix->nall - 1]);
    if (ix->nall >= ix->max_series)
        return vigil__fail(VIGIL_ELIMIT, "index: %zu series, the maximum", ix->max_series);
    vigil_status st = all_reserve(ix);
    if (st == VIGIL_OK)
        st = reserve_labels(ix, ls);
    if (st != VIGIL_OK) {
        for (uint32_t i = 0; i < ls->n; i++)
            name_drop_if_empty(ix, ls->l[i].name); /* names this call created */
        return st;
    }
    for (uint32_t i = 0; i < ls->n; i++) {
        lname *n = name_find(ix, ls->l[i].name);
        ventry *e = value_find(n, ls->l[i].value);
        if (e == NULL)
            e = value_insert(n, ls->l[i].value);
        refs_of(e)[e->len++] = ref;
    }
    ix->all[ix->nall] = ref;
    ix->sets[ix->nall] = ls;
    ix->nall++;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_index_add(vigil__tsdb_index *ix, uint32_t ref,
                                   const vigil__tsdb_labels *ls)
{
    vigil_status st = check_set(ls);
    if (st != VIGIL_OK)
        return st;
    pthread_rwlock_wrlock(&ix->lock);
    st = add_locked(ix, ref, ls);
    pthread_rwlock_unlock(&ix->lock);
    return st;
}

/* ---- deleting ------------------------------------------------------------------------------- */

/* Position of ref in all[], or SIZE_MAX. */
static size_t all_find(const vigil__tsdb_index *ix, uint32_t ref)
{
    size_t lo = 0, hi = ix->nall;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->all[mid] < ref)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < ix->nall && ix->all[lo] == ref ? lo : SIZE_MAX;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_label_ptrs(const void *a, const void *b)
{
    const vigil__tsdb_label *x = a, *y = b;
    uintptr_t xn = (uintptr_t)x->name, yn = (uintptr_t)y->name;
    uintptr_t xv = (uintptr_t)x->value, yv = (uintptr_t)y->value;
    if (xn != yn)
        return xn < yn ? -1 : 1;
    return (xv > yv) - (xv < yv);
}

/* The distinct (name, value) pairs of the series in del that the index holds. */
static vigil_status affected_pairs(const vigil__tsdb_index *ix, vigil__tsdb_plist del,
                                   vigil__tsdb_label **out, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < del.len; i++) {
        size_t pos = all_find(ix, del.refs[i]);
        total += pos == SIZE_MAX ? 0 : ix->sets[pos]->n;
    }
    *out = NULL;
    *n = 0;
    if (total == 0)
        return VIGIL_OK;
    vigil__tsdb_label *pairs = vigil__malloc(total * sizeof *pairs);
    if (pairs == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory deleting %zu series", del.len);
    size_t k = 0;
    for (size_t i = 0; i < del.len; i++) {
        size_t pos = all_find(ix, del.refs[i]);
        for (uint32_t j = 0; pos != SIZE_MAX && j < ix->sets[pos]->n; j++)
            pairs[k++] = ix->sets[pos]->l[j];
    }
    qsort(pairs, k, sizeof *pairs, cmp_label_ptrs);
    size_t u = 0;
    for (size_t i = 0; i < k; i++) {
        if (u == 0 || cmp_label_ptrs(&pairs[u - 1], &pairs[i]) != 0)
            pairs[u++] = pairs[i];
    }
    *out = pairs;
    *n = u;
    return VIGIL_OK;
}

static void rebuild_pair(vigil__tsdb_index *ix, const vigil__tsdb_label *p, vigil__tsdb_plist del)
{
    lname *n = name_find(ix, p->name);
    ventry *e = value_find(n, p->value);
    if (e == NULL)
        return;
    e->len = (uint32_t)vigil__tsdb_refs_remove(refs_of(e), e->len, del);
    if (e->len > 0) {
        entry_shrink(e);
        return;
    }
    value_remove(n, e);
    name_drop_if_empty(ix, p->name);
}

/* Removes del from all[] and sets[] together; returns how many went. */
static size_t compact_all(vigil__tsdb_index *ix, vigil__tsdb_plist del)
{
    size_t k = 0, j = 0;
    for (size_t i = 0; i < ix->nall; i++) {
        while (j < del.len && del.refs[j] < ix->all[i])
            j++;
        if (j < del.len && del.refs[j] == ix->all[i])
            continue;
        ix->all[k] = ix->all[i];
        ix->sets[k] = ix->sets[i];
        k++;
    }
    size_t removed = ix->nall - k;
    ix->nall = k;
    return removed;
}

static vigil_status delete_locked(vigil__tsdb_index *ix, vigil__tsdb_plist del, size_t *removed)
{
    vigil__tsdb_label *pairs;
    size_t npairs;
    vigil_status st = affected_pairs(ix, del, &pairs, &npairs);
    if (st != VIGIL_OK)
        return st;
    for (size_t i = 0; i < npairs; i++)
        rebuild_pair(ix, &pairs[i], del);
    vigil__free(pairs);
    *removed = compact_all(ix, del);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_index_delete(vigil__tsdb_index *ix, const uint32_t *refs, size_t n,
                                      size_t *removed)
{
    size_t dummy = 0;
    removed = removed != NULL ? removed : &dummy;
    *removed = 0;
    if (n == 0)
        return VIGIL_OK;
    uint32_t *sorted = vigil__malloc(n * sizeof *sorted);
    if (sorted == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory deleting %zu series", n);
    memcpy(sorted, refs, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_u32);
    size_t u = 0;
    for (size_t i = 0; i < n; i++) {
        if (u == 0 || sorted[u - 1] != sorted[i])
            sorted[u++] = sorted[i];
    }
    vigil__tsdb_plist del = {sorted, u};
    pthread_rwlock_wrlock(&ix->lock);
    vigil_status st = delete_locked(ix, del, removed);
    pthread_rwlock_unlock(&ix->lock);
    vigil__free(sorted);
    return st;
}

/* ---- selecting ------------------------------------------------------------------------------ */

/* What one matcher contributes: the series of `values` under its name, intersected with the
 * rest (subtract false) or taken away from it (subtract true). */
typedef struct plan {
    const vigil__tsdb_matcher *m;
    bool subtract;
    bool direct; /* values are the matcher's literals; else a filtered copy of the label's */
    const char *const *values;
    size_t nvalues;
    const char **copy; /* owned when !direct */
} plan;

static void plan_init(plan *p, const vigil__tsdb_matcher *m)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->subtract = vigil__tsdb_matcher_matches_empty(m);
    vigil_match_type t = vigil__tsdb_matcher_type(m);
    bool negative = t == VIGIL_MATCH_NOT_EQUAL || t == VIGIL_MATCH_NOT_REGEX;
    /* A positive matcher keeps its literals, a negative one takes its literals away; the two
     * other combinations (`=""`, `!=""`, `=~"a|"`) need the label's other values. */
    p->direct = negative == p->subtract && vigil__tsdb_matcher_literals(m, &p->values, &p->nvalues);
}

/* Under the read lock: the label's current values, for testing outside the lock. */
static vigil_status plan_copy_values(const vigil__tsdb_index *ix, plan *p)
{
    const lname *n = name_find(ix, vigil__tsdb_matcher_name(p->m));
    if (n == NULL || n->len == 0)
        return VIGIL_OK;
    p->copy = vigil__malloc(n->len * sizeof *p->copy);
    if (p->copy == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory copying %zu values of label \"%.200s\"",
                           n->len, n->name);
    for (size_t i = 0; i < n->cap; i++) {
        if (n->slots[i].value != NULL)
            p->copy[p->nvalues++] = n->slots[i].value;
    }
    p->values = p->copy;
    return VIGIL_OK;
}

/* Outside the lock: keep the values whose series this plan selects (or subtracts). */
static void plan_filter(plan *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nvalues; i++) {
        if (vigil__tsdb_matcher_matches(p->m, p->copy[i]) != p->subtract)
            p->copy[k++] = p->copy[i];
    }
    p->nvalues = k;
}

/* Under the read lock: true when a direct positive plan names no value the index holds, so
 * the whole selection is empty and nothing else needs computing. */
static bool plan_is_void(const vigil__tsdb_index *ix, const plan *p)
{
    if (p->subtract)
        return false;
    const lname *n = name_find(ix, vigil__tsdb_matcher_name(p->m));
    for (size_t i = 0; n != NULL && i < p->nvalues; i++) {
        if (value_find(n, p->values[i]) != NULL)
            return false;
    }
    return true;
}

typedef struct selection {
    plan *plans;
    size_t n;
    vigil__tsdb_plist *views;     /* scratch, as long as the longest plan's value list */
    vigil__tsdb_postings *unions; /* one per plan, used when it has several lists */
    vigil__tsdb_plist *keep;      /* one per non-subtracting plan */
} selection;

/* Under the read lock: one view of the series a plan names (a union when several). */
static vigil_status plan_view(const vigil__tsdb_index *ix, selection *s, size_t i,
                              vigil__tsdb_plist *out)
{
    const plan *p = &s->plans[i];
    const lname *n = name_find(ix, vigil__tsdb_matcher_name(p->m));
    size_t k = 0;
    for (size_t j = 0; n != NULL && j < p->nvalues; j++) {
        const ventry *e = value_find(n, p->values[j]);
        if (e != NULL)
            s->views[k++] = view_of(e);
    }
    out->refs = NULL;
    out->len = 0;
    if (k == 1)
        *out = s->views[0];
    if (k <= 1)
        return VIGIL_OK;
    vigil_status st = vigil__tsdb_postings_union(s->views, k, &s->unions[i]);
    *out = vigil__tsdb_postings_view(&s->unions[i]);
    return st;
}

static vigil_status combine_locked(const vigil__tsdb_index *ix, selection *s,
                                   vigil__tsdb_postings *out)
{
    size_t nkeep = 0;
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < s->n && st == VIGIL_OK; i++) {
        if (!s->plans[i].subtract)
            st = plan_view(ix, s, i, &s->keep[nkeep++]);
    }
    vigil__tsdb_plist all = {ix->all, ix->nall};
    if (st == VIGIL_OK)
        st = nkeep > 0 ? vigil__tsdb_postings_intersect(s->keep, nkeep, out)
                       : vigil__tsdb_postings_assign(out, all);
    for (size_t i = 0; i < s->n && st == VIGIL_OK && out->len > 0; i++) {
        vigil__tsdb_plist gone;
        if (s->plans[i].subtract && (st = plan_view(ix, s, i, &gone)) == VIGIL_OK)
            out->len = vigil__tsdb_refs_remove(out->refs, out->len, gone);
    }
    return st;
}

static void selection_free(selection *s)
{
    for (size_t i = 0; s->plans != NULL && i < s->n; i++) {
        vigil__free(s->plans[i].copy);
        if (s->unions != NULL)
            vigil__tsdb_postings_free(&s->unions[i]);
    }
    vigil__free(s->plans);
    vigil__free(s->views);
    vigil__free(s->unions);
    vigil__free(s->keep);
}

static vigil_status selection_alloc(selection *s, const vigil__tsdb_index *ix)
{
    size_t longest = 1;
    for (size_t i = 0; i < s->n; i++)
        longest = s->plans[i].nvalues > longest ? s->plans[i].nvalues : longest;
    s->views = vigil__malloc(longest * sizeof *s->views);
    s->unions = vigil__malloc(s->n * sizeof *s->unions);
    s->keep = vigil__malloc(s->n * sizeof *s->keep);
    if (s->views == NULL || s->unions == NULL || s->keep == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory selecting series");
    for (size_t i = 0; i < s->n; i++)
        vigil__tsdb_postings_init(&s->unions[i], ix->max_series);
    return VIGIL_OK;
}

/* Phase 1 (read lock): copy the values regex-like plans must test; spot a void selection. */
static vigil_status gather_locked(const vigil__tsdb_index *ix, selection *s, bool *empty)
{
    for (size_t i = 0; i < s->n; i++) {
        plan *p = &s->plans[i];
        if (p->direct) {
            *empty = *empty || plan_is_void(ix, p);
            continue;
        }
        vigil_status st = plan_copy_values(ix, p);
        if (st != VIGIL_OK)
            return st;
    }
    return VIGIL_OK;
}

static vigil_status select_plans(vigil__tsdb_index *ix, selection *s, vigil__tsdb_postings *out)
{
    bool empty = false;
    pthread_rwlock_rdlock(&ix->lock);
    vigil_status st = gather_locked(ix, s, &empty);
    pthread_rwlock_unlock(&ix->lock);
    if (st != VIGIL_OK || empty)
        return st;
    for (size_t i = 0; i < s->n; i++) { /* phase 2: the regexes, without the lock */
        if (!s->plans[i].direct)
            plan_filter(&s->plans[i]);
        if (!s->plans[i].subtract && s->plans[i].nvalues == 0)
            return VIGIL_OK;
    }
    st = selection_alloc(s, ix);
    if (st != VIGIL_OK)
        return st;
    pthread_rwlock_rdlock(&ix->lock); /* phase 3: combine the lists */
    st = combine_locked(ix, s, out);
    pthread_rwlock_unlock(&ix->lock);
    return st;
}

vigil_status vigil__tsdb_index_select(vigil__tsdb_index *ix, const vigil__tsdb_matcher *const *ms,
                                      size_t n, vigil__tsdb_postings *out)
{
    out->len = 0;
    selection s = {.n = n};
    s.plans = vigil__malloc((n ? n : 1) * sizeof *s.plans);
    if (s.plans == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory selecting series");
    for (size_t i = 0; i < n; i++)
        plan_init(&s.plans[i], ms[i]);
    vigil_status st = select_plans(ix, &s, out);
    if (st != VIGIL_OK)
        out->len = 0;
    selection_free(&s);
    return st;
}

/* ---- label names and values ----------------------------------------------------------------- */

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorts, drops duplicates and NULL-terminates v[0..*n) (allocated with room for n + 1). */
static void sort_unique(const char **v, size_t *n)
{
    qsort(v, *n, sizeof *v, cmp_cstr);
    size_t u = 0;
    for (size_t i = 0; i < *n; i++) {
        if (u == 0 || (v[u - 1] != v[i] && strcmp(v[u - 1], v[i]) != 0))
            v[u++] = v[i];
    }
    v[u] = NULL;
    *n = u;
}

static vigil_status strings_alloc(size_t n, const char ***out)
{
    *out = vigil__malloc((n + 1) * sizeof **out);
    return *out != NULL ? VIGIL_OK
                        : vigil__fail(VIGIL_ENOMEM, "out of memory listing %zu strings", n);
}

/* Under the read lock: the names, or values of `name`, of the series in sel. */
static vigil_status collect_locked(const vigil__tsdb_index *ix, const char *name,
                                   vigil__tsdb_plist sel, const char ***out, size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < sel.len; i++) {
        size_t pos = all_find(ix, sel.refs[i]);
        total += pos == SIZE_MAX ? 0 : name != NULL ? 1 : ix->sets[pos]->n;
    }
    vigil_status st = strings_alloc(total, out);
    for (size_t i = 0; st == VIGIL_OK && i < sel.len; i++) {
        size_t pos = all_find(ix, sel.refs[i]);
        const vigil__tsdb_labels *ls = pos == SIZE_MAX ? NULL : ix->sets[pos];
        const char *v = ls != NULL && name != NULL ? vigil__tsdb_labels_get(ls, name) : NULL;
        if (v != NULL)
            (*out)[(*count)++] = v;
        for (uint32_t j = 0; ls != NULL && name == NULL && j < ls->n; j++)
            (*out)[(*count)++] = ls->l[j].name;
    }
    return st;
}

/* The names, or values of `name`, over the series the matchers select. */
static vigil_status collect_matching(vigil__tsdb_index *ix, const char *name,
                                     const vigil__tsdb_matcher *const *ms, size_t n,
                                     const char ***out, size_t *count)
{
    vigil__tsdb_postings sel;
    vigil__tsdb_postings_init(&sel, ix->max_series);
    vigil_status st = vigil__tsdb_index_select(ix, ms, n, &sel);
    if (st == VIGIL_OK) {
        pthread_rwlock_rdlock(&ix->lock);
        st = collect_locked(ix, name, vigil__tsdb_postings_view(&sel), out, count);
        pthread_rwlock_unlock(&ix->lock);
    }
    vigil__tsdb_postings_free(&sel);
    return st;
}

static vigil_status all_names_locked(const vigil__tsdb_index *ix, const char ***out, size_t *count)
{
    vigil_status st = strings_alloc(ix->nnames, out);
    for (size_t i = 0; st == VIGIL_OK && i < ix->nnames; i++)
        (*out)[(*count)++] = ix->names[i]->name;
    return st;
}

static vigil_status all_values_locked(const vigil__tsdb_index *ix, const char *name,
                                      const char ***out, size_t *count)
{
    const lname *n = name_find(ix, name);
    vigil_status st = strings_alloc(n != NULL ? n->len : 0, out);
    for (size_t i = 0; st == VIGIL_OK && n != NULL && i < n->cap; i++) {
        if (n->slots[i].value != NULL)
            (*out)[(*count)++] = n->slots[i].value;
    }
    return st;
}

vigil_status vigil__tsdb_index_label_names(vigil__tsdb_index *ix,
                                           const vigil__tsdb_matcher *const *ms, size_t n,
                                           const char ***names, size_t *count)
{
    *names = NULL;
    *count = 0;
    vigil_status st;
    if (n > 0) {
        st = collect_matching(ix, NULL, ms, n, names, count);
    } else {
        pthread_rwlock_rdlock(&ix->lock);
        st = all_names_locked(ix, names, count);
        pthread_rwlock_unlock(&ix->lock);
    }
    if (st == VIGIL_OK)
        sort_unique(*names, count);
    return st;
}

vigil_status vigil__tsdb_index_label_values(vigil__tsdb_index *ix, const char *name,
                                            const vigil__tsdb_matcher *const *ms, size_t n,
                                            const char ***values, size_t *count)
{
    *values = NULL;
    *count = 0;
    if (name == NULL)
        return vigil__fail(VIGIL_EINVAL, "label values: name is NULL");
    vigil_status st;
    if (n > 0) {
        st = collect_matching(ix, name, ms, n, values, count);
    } else {
        pthread_rwlock_rdlock(&ix->lock);
        st = all_values_locked(ix, name, values, count);
        pthread_rwlock_unlock(&ix->lock);
    }
    if (st == VIGIL_OK)
        sort_unique(*values, count); /* sorting happens outside the lock */
    return st;
}

/* ---- statistics ----------------------------------------------------------------------------- */

void vigil__tsdb_index_get_stats(vigil__tsdb_index *ix, vigil__tsdb_index_stats *out)
{
    memset(out, 0, sizeof *out);
    pthread_rwlock_rdlock(&ix->lock);
    out->series = ix->nall;
    out->names = ix->nnames;
    out->memory = sizeof *ix + ix->names_cap * sizeof *ix->names +
                  ix->all_cap * (sizeof *ix->all + sizeof *ix->sets);
    for (size_t i = 0; i < ix->nnames; i++) {
        const lname *n = ix->names[i];
        out->pairs += n->len;
        out->memory += sizeof *n + n->cap * sizeof *n->slots;
        for (size_t j = 0; j < n->cap; j++) {
            const ventry *e = &n->slots[j];
            out->postings += e->value != NULL ? e->len : 0;
            out->memory += e->value != NULL && e->cap > INLINE_REFS ? e->cap * sizeof(uint32_t) : 0;
        }
    }
    pthread_rwlock_unlock(&ix->lock);
}
