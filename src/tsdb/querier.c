/* querier.c — reading the store: a querier pins a consistent view (the block list and the
 * head's start, taken together under blocks_mu), selects series through the inverted index and
 * decodes each series' samples from its blocks, then its head chunks, into arrays.
 *
 * A querier holds a reference on each block it saw, so retention may drop a block under a
 * running query without pulling the bytes away; and it counts as active, which keeps series
 * collection from freeing series objects it may still touch.
 */
#include <stdlib.h>
#include <string.h>

#include "column.h"
#include "tsdb_int.h"

struct vigil_tsdb_querier {
    vigil_tsdb *db;
    int64_t mint, maxt;
    int64_t head_mint;
    vigil__tsdb_block **blocks; /* overlapping [mint, maxt], by time */
    size_t nblocks;
    unsigned slot;
    vigil_tsdb_metadata *meta;
    size_t nmeta;
    char *meta_strings;
};

struct vigil_tsdb_series_set {
    vigil_tsdb_querier *q;
    vigil__tsdb_series **series; /* selected, sorted by labels */
    size_t n, pos;
    vigil__tsdb_block_reader *reader;
    vigil_label labels[VIGIL__TSDB_LABELS_MAX];
    size_t nlabels;
    int64_t *t;
    double *v;
    size_t count, cap;
    vigil_status status;
};

vigil_status vigil_tsdb_querier_new(vigil_tsdb *db, int64_t mint, int64_t maxt,
                                    vigil_tsdb_querier **out)
{
    if (!db || !out)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_querier_new: NULL argument");
    if (mint > maxt)
        return vigil__fail(VIGIL_EINVAL, "query range start %lld is after its end %lld",
                           (long long)mint, (long long)maxt);
    vigil_tsdb_querier *q = vigil__calloc(1, sizeof *q);
    if (!q)
        return vigil__fail(VIGIL_ENOMEM, "querier");
    q->db = db;
    q->mint = mint;
    q->maxt = maxt;
    pthread_mutex_lock(&db->blocks_mu);
    q->blocks = vigil__malloc((db->nblocks + 1) * sizeof *q->blocks);
    if (!q->blocks) {
        pthread_mutex_unlock(&db->blocks_mu);
        vigil__free(q);
        return vigil__fail(VIGIL_ENOMEM, "querier block list");
    }
    for (size_t i = 0; i < db->nblocks; i++) {
        vigil__tsdb_block *b = db->blocks[i];
        if (vigil__tsdb_block_maxt(b) <= mint || vigil__tsdb_block_mint(b) > maxt)
            continue;
        vigil__tsdb_block_ref(b);
        q->blocks[q->nblocks++] = b;
    }
    q->head_mint = db->head_mint;
    q->slot = (unsigned)(db->query_gen & 1);
    db->active_by_gen[q->slot]++;
    db->active_queriers++;
    pthread_mutex_unlock(&db->blocks_mu);
    *out = q;
    return VIGIL_OK;
}

void vigil_tsdb_querier_free(vigil_tsdb_querier *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&q->db->blocks_mu);
    q->db->active_queriers--;
    q->db->active_by_gen[q->slot]--;
    pthread_mutex_unlock(&q->db->blocks_mu);
    for (size_t i = 0; i < q->nblocks; i++)
        vigil__tsdb_block_unref(q->blocks[i]);
    vigil__free(q->blocks);
    vigil__free(q->meta);
    vigil__free(q->meta_strings);
    vigil__free(q);
}

/* ---- matchers ------------------------------------------------------------------------------- */

static void free_matchers(vigil__tsdb_matcher **ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vigil__tsdb_matcher_free(ms[i]);
    vigil__free(ms);
}

static vigil_status compile_matchers(const vigil_matcher *in, size_t n, vigil__tsdb_matcher ***out)
{
    *out = NULL;
    if (n == 0)
        return VIGIL_OK;
    if (!in)
        return vigil__fail(VIGIL_EINVAL, "matchers are NULL");
    vigil__tsdb_matcher **ms = vigil__calloc(n, sizeof *ms);
    if (!ms)
        return vigil__fail(VIGIL_ENOMEM, "matchers");
    for (size_t i = 0; i < n; i++) {
        vigil_status st = vigil__tsdb_matcher_new(in[i].type, in[i].name, in[i].value, &ms[i]);
        if (st) {
            free_matchers(ms, n);
            return st;
        }
    }
    *out = ms;
    return VIGIL_OK;
}

/* ---- selection ------------------------------------------------------------------------------ */

/* Does the series have data in the querier's view? */
static bool has_data(const vigil_tsdb_querier *q, vigil__tsdb_series *s)
{
    for (size_t i = 0; i < q->nblocks; i++) {
        const vigil__tsdb_block_series *e = vigil__tsdb_block_find(q->blocks[i], s->ref);
        if (e && e->maxt >= q->mint && e->mint <= q->maxt)
            return true;
    }
    int64_t lo = q->mint > q->head_mint ? q->mint : q->head_mint;
    vigil__tsdb_series_lock(s);
    bool in_head = s->head_samples && s->last_t >= lo &&
                   (s->nclosed ? s->closed[0].mint : s->open_mint) <= q->maxt;
    vigil__tsdb_series_unlock(s);
    return in_head;
}

static int compare_series(const void *a, const void *b)
{
    const vigil__tsdb_series *x = *(vigil__tsdb_series *const *)a;
    const vigil__tsdb_series *y = *(vigil__tsdb_series *const *)b;
    return vigil__tsdb_labels_compare(x->labels, y->labels);
}

static vigil_status select_refs(vigil_tsdb_querier *q, const vigil_matcher *matchers,
                                size_t count, vigil__tsdb_postings *out)
{
    vigil__tsdb_matcher **ms;
    vigil_status st = compile_matchers(matchers, count, &ms);
    if (st)
        return st;
    st = vigil__tsdb_index_select(q->db->index, (const vigil__tsdb_matcher *const *)ms, count,
                                  out);
    free_matchers(ms, count);
    return st;
}

vigil_status vigil_tsdb_select(vigil_tsdb_querier *q, const vigil_matcher *matchers, size_t count,
                               vigil_tsdb_series_set **out)
{
    if (!q || !out)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_select: NULL argument");
    *out = NULL;
    vigil__tsdb_postings refs;
    vigil__tsdb_postings_init(&refs, 0);
    vigil_status st = select_refs(q, matchers, count, &refs);
    vigil_tsdb_series_set *set = st ? NULL : vigil__calloc(1, sizeof *set);
    if (!st && !set)
        st = vigil__fail(VIGIL_ENOMEM, "series set");
    if (!st) {
        set->q = q;
        set->series = vigil__malloc((refs.len + 1) * sizeof *set->series);
        if (!set->series)
            st = vigil__fail(VIGIL_ENOMEM, "series set of %zu series", refs.len);
    }
    for (size_t i = 0; !st && i < refs.len; i++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(q->db, refs.refs[i]);
        if (s && has_data(q, s))
            set->series[set->n++] = s;
    }
    vigil__tsdb_postings_free(&refs);
    if (!st)
        st = vigil__tsdb_block_reader_new(&set->reader);
    if (st) {
        vigil_tsdb_series_set_free(set);
        return st;
    }
    qsort(set->series, set->n, sizeof *set->series, compare_series);
    *out = set;
    return VIGIL_OK;
}

void vigil_tsdb_series_set_free(vigil_tsdb_series_set *set)
{
    if (!set)
        return;
    vigil__tsdb_block_reader_free(set->reader);
    vigil__free(set->series);
    vigil__free(set->t);
    vigil__free(set->v);
    vigil__free(set);
}

static vigil_status load_samples(vigil_tsdb_series_set *set, vigil__tsdb_series *s)
{
    vigil_tsdb_querier *q = set->q;
    set->count = 0;
    for (size_t i = 0; i < q->nblocks; i++) {
        const vigil__tsdb_block_series *e = vigil__tsdb_block_find(q->blocks[i], s->ref);
        if (!e)
            continue;
        vigil_status st = vigil__tsdb_block_read(set->reader, q->blocks[i], e, q->mint, q->maxt,
                                                 &set->t, &set->v, &set->count, &set->cap);
        if (st)
            return st;
    }
    int64_t lo = q->mint > q->head_mint ? q->mint : q->head_mint;
    return lo <= q->maxt ? vigil__tsdb_head_read(s, lo, q->maxt, &set->t, &set->v, &set->count,
                                                 &set->cap)
                         : VIGIL_OK;
}

bool vigil_tsdb_series_next(vigil_tsdb_series_set *set)
{
    if (!set || set->status || set->pos >= set->n)
        return false;
    vigil__tsdb_series *s = set->series[set->pos++];
    set->nlabels = s->labels->n;
    for (uint32_t i = 0; i < s->labels->n; i++)
        set->labels[i] = (vigil_label){s->labels->l[i].name, s->labels->l[i].value};
    set->status = load_samples(set, s);
    return set->status == VIGIL_OK;
}

vigil_status vigil_tsdb_series_set_status(const vigil_tsdb_series_set *set)
{
    return set ? set->status : VIGIL_EINVAL;
}

size_t vigil_tsdb_series_labels(const vigil_tsdb_series_set *set, const vigil_label **labels)
{
    *labels = set->labels;
    return set->nlabels;
}

size_t vigil_tsdb_series_samples(vigil_tsdb_series_set *set, const int64_t **t_ms,
                                 const double **values)
{
    *t_ms = set->t;
    *values = set->v;
    return set->count;
}

/* ---- label names and values ----------------------------------------------------------------- */

/* The refs matching the matchers that have data in the view, for restricting label listings to
 * the query's time range as Prometheus does. Returns the narrowed matchers' result in out. */
static vigil_status refs_with_data(vigil_tsdb_querier *q, const vigil_matcher *matchers,
                                   size_t count, vigil__tsdb_postings *out)
{
    vigil__tsdb_postings all;
    vigil__tsdb_postings_init(&all, 0);
    vigil_status st = select_refs(q, matchers, count, &all);
    for (size_t i = 0; !st && i < all.len; i++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(q->db, all.refs[i]);
        if (s && has_data(q, s))
            st = vigil__tsdb_postings_append(out, all.refs[i]);
    }
    vigil__tsdb_postings_free(&all);
    return st;
}

static int compare_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Collects the distinct names (value == NULL) or values of `name` over the series in refs. */
static vigil_status gather(vigil_tsdb_querier *q, const vigil__tsdb_postings *refs,
                           const char *name, const char ***out, size_t *n)
{
    size_t cap = 64, len = 0;
    const char **v = vigil__malloc(cap * sizeof *v);
    if (!v)
        return vigil__fail(VIGIL_ENOMEM, "label list");
    for (size_t i = 0; i < refs->len; i++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(q->db, refs->refs[i]);
        for (uint32_t k = 0; s && k < s->labels->n; k++) {
            const char *item = name ? NULL : s->labels->l[k].name;
            if (name && strcmp(s->labels->l[k].name, name) == 0)
                item = s->labels->l[k].value;
            if (!item)
                continue;
            if (len + 1 >= cap) {
                cap *= 2;
                const char **nv = vigil__realloc(v, cap * sizeof *nv);
                if (!nv) {
                    vigil__free(v);
                    return vigil__fail(VIGIL_ENOMEM, "label list");
                }
                v = nv;
            }
            v[len++] = item;
        }
    }
    qsort(v, len, sizeof *v, compare_str);
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (k == 0 || v[i] != v[k - 1]) /* interned: equal strings are the same pointer */
            v[k++] = v[i];
    v[k] = NULL;
    *out = v;
    *n = k;
    return VIGIL_OK;
}

vigil_status vigil_tsdb_label_names(vigil_tsdb_querier *q, const vigil_matcher *matchers,
                                    size_t count, const char ***names, size_t *n)
{
    if (!q || !names || !n)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_label_names: NULL argument");
    vigil__tsdb_postings refs;
    vigil__tsdb_postings_init(&refs, 0);
    vigil_status st = refs_with_data(q, matchers, count, &refs);
    if (!st)
        st = gather(q, &refs, NULL, names, n);
    vigil__tsdb_postings_free(&refs);
    return st;
}

vigil_status vigil_tsdb_label_values(vigil_tsdb_querier *q, const char *name,
                                     const vigil_matcher *matchers, size_t count,
                                     const char ***values, size_t *n)
{
    if (!q || !name || !values || !n)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_label_values: NULL argument");
    vigil__tsdb_postings refs;
    vigil__tsdb_postings_init(&refs, 0);
    vigil_status st = refs_with_data(q, matchers, count, &refs);
    if (!st)
        st = gather(q, &refs, name, values, n);
    vigil__tsdb_postings_free(&refs);
    return st;
}

void vigil_tsdb_strings_free(const char **strings)
{
    vigil__free((void *)strings);
}

vigil_status vigil_tsdb_metadata_list(vigil_tsdb_querier *q, const vigil_tsdb_metadata **out,
                                      size_t *n)
{
    if (!q || !out || !n)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_metadata_list: NULL argument");
    if (!q->meta) {
        vigil_status st = vigil__tsdb_meta_copy(q->db, &q->meta, n, &q->meta_strings);
        if (st)
            return st;
        q->nmeta = *n;
    }
    *out = q->meta;
    *n = q->nmeta;
    return VIGIL_OK;
}
