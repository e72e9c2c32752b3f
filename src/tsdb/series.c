/* series.c — the store's series table: handles (refs) to series objects, and label sets to
 * series.
 *
 * Refs index a two-level table whose pages never move once published, so a reader (a query,
 * an append through a handle) finds a series with two loads and no lock. Finding a series by its
 * labels goes through a chained hash table owned by the appenders (db->append_mu), and every new
 * series enters the inverted index, so queries can select it, and the WAL, so recovery can name
 * it. A checkpoint keeps only the series that still have samples in the head, so a series
 * writes its record to the WAL again before its first samples after a checkpoint (or after a
 * restart): every samples record is preceded by its series' record in the same WAL epoch. A
 * series object lives until the store closes or retention collects it.
 */
#include <string.h>

#include "tsdb_int.h"
#include "walrec.h"

vigil__tsdb_series *vigil__tsdb_series_get(const vigil_tsdb *db, vigil_tsdb_ref ref)
{
    uint32_t page = ref >> VIGIL__TSDB_PAGE_BITS;
    if (page >= VIGIL__TSDB_MAX_PAGES)
        return NULL;
    vigil__tsdb_series **p = atomic_load_explicit(&db->pages[page], memory_order_acquire);
    if (!p)
        return NULL;
    vigil__tsdb_series *s;
    __atomic_load(&p[ref & (VIGIL__TSDB_PAGE_SIZE - 1)], &s, __ATOMIC_ACQUIRE);
    return s;
}

static void table_set(vigil_tsdb *db, vigil_tsdb_ref ref, vigil__tsdb_series *s)
{
    vigil__tsdb_series **p =
        atomic_load_explicit(&db->pages[ref >> VIGIL__TSDB_PAGE_BITS], memory_order_relaxed);
    __atomic_store(&p[ref & (VIGIL__TSDB_PAGE_SIZE - 1)], &s, __ATOMIC_RELEASE);
}

static vigil_status ensure_page(vigil_tsdb *db, vigil_tsdb_ref ref)
{
    uint32_t page = ref >> VIGIL__TSDB_PAGE_BITS;
    if (page >= VIGIL__TSDB_MAX_PAGES)
        return vigil__fail(VIGIL_ECARDINALITY, "series handles exhausted (%u pages)",
                           VIGIL__TSDB_MAX_PAGES);
    if (atomic_load_explicit(&db->pages[page], memory_order_relaxed))
        return VIGIL_OK;
    vigil__tsdb_series **p = vigil__calloc(VIGIL__TSDB_PAGE_SIZE, sizeof *p);
    if (!p)
        return vigil__fail(VIGIL_ENOMEM, "series table page");
    atomic_store_explicit(&db->pages[page], p, memory_order_release);
    return VIGIL_OK;
}

static vigil_status grow_buckets(vigil_tsdb *db)
{
    size_t n = db->nbuckets ? db->nbuckets * 2 : 1024;
    vigil__tsdb_series **b = vigil__calloc(n, sizeof *b);
    if (!b)
        return vigil__fail(VIGIL_ENOMEM, "series hash table of %zu buckets", n);
    for (size_t i = 0; i < db->nbuckets; i++) {
        vigil__tsdb_series *s = db->by_hash[i];
        while (s) {
            vigil__tsdb_series *next = s->hash_next;
            s->hash_next = b[s->hash & (n - 1)];
            b[s->hash & (n - 1)] = s;
            s = next;
        }
    }
    vigil__free(db->by_hash);
    db->by_hash = b;
    db->nbuckets = n;
    return VIGIL_OK;
}

static vigil__tsdb_series *find_by_labels(vigil_tsdb *db, const vigil__tsdb_labels *ls,
                                          uint64_t hash)
{
    if (!db->nbuckets)
        return NULL;
    for (vigil__tsdb_series *s = db->by_hash[hash & (db->nbuckets - 1)]; s; s = s->hash_next)
        if (s->hash == hash && vigil__tsdb_labels_equal(s->labels, ls))
            return s;
    return NULL;
}

vigil_status vigil__tsdb_series_record(vigil_buffer *out, const vigil__tsdb_series *s)
{
    vigil_label pairs[VIGIL__TSDB_LABELS_MAX];
    for (uint32_t i = 0; i < s->labels->n; i++)
        pairs[i] = (vigil_label){s->labels->l[i].name, s->labels->l[i].value};
    vigil__tsdb_walrec_series rec = {s->ref, s->labels->n, pairs};
    out->len = 0;
    return vigil__tsdb_walrec_series_encode(out, &rec, 1);
}

vigil_status vigil__tsdb_wal_log_series(vigil_tsdb *db, vigil__tsdb_series *s)
{
    if (!db->wal)
        return VIGIL_OK;
    vigil_status st = vigil__tsdb_series_record(&db->walbuf, s);
    if (st == VIGIL_OK)
        st = vigil__tsdb_wal_append(db->wal, VIGIL__TSDB_WALREC_SERIES, db->walbuf.data,
                                    db->walbuf.len);
    if (st == VIGIL_OK)
        s->wal_epoch = db->wal_epoch;
    return st;
}

vigil_status vigil__tsdb_wal_ensure_series(vigil_tsdb *db, vigil__tsdb_series *s)
{
    if (!db->wal || s->wal_epoch == db->wal_epoch)
        return VIGIL_OK;
    return vigil__tsdb_wal_log_series(db, s);
}

static vigil_status create_series(vigil_tsdb *db, vigil__tsdb_labels *ls, uint64_t hash,
                                  bool log_to_wal, vigil__tsdb_series **out)
{
    if (db->nseries >= db->opts.max_series)
        return vigil__fail(VIGIL_ECARDINALITY, "the store holds its maximum of %u series",
                           db->opts.max_series);
    if ((db->nseries + 1) * 2 > db->nbuckets) {
        vigil_status st = grow_buckets(db);
        if (st)
            return st;
    }
    vigil_tsdb_ref ref = atomic_load_explicit(&db->next_ref, memory_order_relaxed);
    vigil_status st = ensure_page(db, ref);
    if (st)
        return st;
    vigil__tsdb_series *s = vigil__calloc(1, sizeof *s);
    if (!s)
        return vigil__fail(VIGIL_ENOMEM, "series");
    atomic_flag_clear(&s->lock);
    s->ref = ref;
    s->hash = hash;
    s->last_t = INT64_MIN;
    s->open_mint = INT64_MAX;
    st = vigil__tsdb_labels_clone(ls, &s->labels);
    if (st == VIGIL_OK && log_to_wal)
        st = vigil__tsdb_wal_log_series(db, s);
    if (st == VIGIL_OK)
        st = vigil__tsdb_index_add(db->index, ref, s->labels);
    if (st) {
        vigil__tsdb_labels_free(s->labels);
        vigil__free(s);
        return st;
    }
    s->hash_next = db->by_hash[hash & (db->nbuckets - 1)];
    db->by_hash[hash & (db->nbuckets - 1)] = s;
    db->nseries++;
    table_set(db, ref, s);
    atomic_store_explicit(&db->next_ref, ref + 1, memory_order_release);
    *out = s;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_series_lookup_or_create(vigil_tsdb *db, vigil__tsdb_labels *ls,
                                                 bool log_to_wal, vigil__tsdb_series **out)
{
    uint64_t hash = vigil__tsdb_labels_hash(ls);
    vigil__tsdb_series *s = find_by_labels(db, ls, hash);
    if (s) {
        *out = s;
        return VIGIL_OK;
    }
    return create_series(db, ls, hash, log_to_wal, out);
}

vigil_status vigil__tsdb_series_from_pairs(vigil_tsdb *db, const vigil_label *labels, size_t count,
                                           bool log_to_wal, vigil__tsdb_series **out)
{
    vigil__tsdb_labels *ls;
    vigil_status st = vigil__tsdb_labels_build(db->syms, labels, count, &ls);
    if (st)
        return st;
    /* Sorted byte-wise as Prometheus sorts, so a name such as "Zone" comes before __name__. */
    if (vigil__tsdb_labels_get(ls, "__name__") == NULL) {
        vigil__tsdb_labels_free(ls);
        return vigil__fail(VIGIL_EINVAL, "a series needs a __name__ label");
    }
    st = vigil__tsdb_series_lookup_or_create(db, ls, log_to_wal, out);
    vigil__tsdb_labels_free(ls);
    return st;
}

static void unlink_hash(vigil_tsdb *db, vigil__tsdb_series *s)
{
    vigil__tsdb_series **pp = &db->by_hash[s->hash & (db->nbuckets - 1)];
    while (*pp != s)
        pp = &(*pp)->hash_next;
    *pp = s->hash_next;
}

/* Collects series with no data left whose last append is older than cutoff_ms. The caller holds
 * append_mu (no append can revive one meanwhile) and blocks_mu with no querier alive (queriers
 * hold series pointers; they register under blocks_mu, so none can start during a collection). */
vigil_status vigil__tsdb_series_gc(vigil_tsdb *db, int64_t cutoff_ms)
{
    uint32_t end = atomic_load(&db->next_ref);
    uint32_t *dead = NULL;
    size_t ndead = 0, cap = 0;
    vigil_status st = VIGIL_OK;
    for (uint32_t ref = 0; ref < end; ref++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(db, ref);
        if (!s || s->block_count || s->head_samples || s->last_append_ms >= cutoff_ms)
            continue;
        if (ndead == cap) {
            cap = cap ? cap * 2 : 64;
            uint32_t *d = vigil__realloc(dead, cap * sizeof *d);
            if (!d) {
                st = vigil__fail(VIGIL_ENOMEM, "series collection list");
                break;
            }
            dead = d;
        }
        dead[ndead++] = ref;
    }
    if (st == VIGIL_OK && ndead)
        st = vigil__tsdb_index_delete(db->index, dead, ndead, NULL);
    if (st == VIGIL_OK) {
        for (size_t i = 0; i < ndead; i++) {
            vigil__tsdb_series *s = vigil__tsdb_series_get(db, dead[i]);
            table_set(db, dead[i], NULL);
            unlink_hash(db, s);
            db->nseries--;
            vigil__tsdb_head_free_series(s);
            vigil__tsdb_labels_free(s->labels);
            vigil__free(s);
        }
    }
    vigil__free(dead);
    return st;
}

void vigil__tsdb_series_table_free(vigil_tsdb *db)
{
    for (uint32_t p = 0; p < VIGIL__TSDB_MAX_PAGES; p++) {
        vigil__tsdb_series **page = atomic_load(&db->pages[p]);
        if (!page)
            continue;
        for (uint32_t i = 0; i < VIGIL__TSDB_PAGE_SIZE; i++) {
            if (!page[i])
                continue;
            vigil__tsdb_head_free_series(page[i]);
            vigil__tsdb_labels_free(page[i]->labels);
            vigil__free(page[i]);
        }
        vigil__free(page);
    }
    vigil__free(db->by_hash);
}
