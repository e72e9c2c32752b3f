/* db.c — the store's life cycle and its append API: open (with recovery), close, appends by
 * label set, by handle and in batches, and the maintenance tick with its optional thread.
 *
 * Appends take one mutex (db->append_mu) for a whole batch: the head has one writer at a time,
 * which is what lets a chunk append be a handful of plain stores, and a batch of one scrape is
 * one WAL record. See docs/tsdb.md for the whole design.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tsdb_int.h"
#include "walrec.h"

#define DAY_MS (24 * 3600 * INT64_C(1000))
#define TICK_MS 250
#define WALBUF_CAP ((size_t)64 << 20)

bool vigil_tsdb_is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == VIGIL_TSDB_STALE_BITS;
}

double vigil_tsdb_stale_nan(void)
{
    uint64_t bits = VIGIL_TSDB_STALE_BITS;
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

int64_t vigil_tsdb_now_ms(void)
{
    return vigil__now_ms();
}

void vigil_tsdb_options_init(vigil_tsdb_options *o)
{
    memset(o, 0, sizeof *o);
    o->retention_ms = 15 * DAY_MS;
    o->block_range_ms = 2 * 3600 * INT64_C(1000);
    o->wal_sync_interval_ms = 1000;
    o->max_series = 10000000;
    o->background = true;
}

static vigil_status check_options(const vigil_tsdb_options *o)
{
    if (o->retention_ms < 0)
        return vigil__fail(VIGIL_EINVAL, "retention_ms is negative (%lld)",
                           (long long)o->retention_ms);
    if (o->block_range_ms < 1000 || o->block_range_ms > 31 * DAY_MS)
        return vigil__fail(VIGIL_EINVAL, "block_range_ms %lld is outside [1 s, 31 days]",
                           (long long)o->block_range_ms);
    if (o->max_series == 0 || o->max_series > VIGIL__TSDB_MAX_PAGES * VIGIL__TSDB_PAGE_SIZE)
        return vigil__fail(VIGIL_EINVAL, "max_series %u is outside [1, %u]", o->max_series,
                           VIGIL__TSDB_MAX_PAGES * VIGIL__TSDB_PAGE_SIZE);
    if (o->read_only && !o->data_dir)
        return vigil__fail(VIGIL_EINVAL, "read_only needs a data_dir");
    return VIGIL_OK;
}

static void *tick_thread(void *arg)
{
    vigil_tsdb *db = arg;
    (void)vigil_tsdb_tick(db, vigil__now_ms()); /* recovered data may already be due */
    pthread_mutex_lock(&db->stop_mu);
    while (!db->stopping) {
        struct timespec until;
        vigil__deadline(&until, CLOCK_REALTIME, TICK_MS * UINT64_C(1000000));
        pthread_cond_timedwait(&db->stop_cv, &db->stop_mu, &until);
        if (db->stopping)
            break;
        pthread_mutex_unlock(&db->stop_mu);
        (void)vigil_tsdb_tick(db, vigil__now_ms()); /* failures are counted; retried next tick */
        pthread_mutex_lock(&db->stop_mu);
    }
    pthread_mutex_unlock(&db->stop_mu);
    return NULL;
}

static void init_locks(vigil_tsdb *db)
{
    pthread_mutex_init(&db->append_mu, NULL);
    pthread_mutex_init(&db->blocks_mu, NULL);
    pthread_mutex_init(&db->tick_mu, NULL);
    pthread_mutex_init(&db->meta_mu, NULL);
    pthread_mutex_init(&db->scrape_mu, NULL);
    pthread_mutex_init(&db->stop_mu, NULL);
    pthread_cond_init(&db->stop_cv, NULL); /* CLOCK_REALTIME deadlines, the default */
}

static vigil_status open_parts(vigil_tsdb *db)
{
    vigil_status st = vigil__tsdb_symtab_new(0, &db->syms);
    if (st == VIGIL_OK)
        st = vigil__tsdb_index_new(0, &db->index);
    if (st == VIGIL_OK && db->dir)
        st = vigil__tsdb_dir_open(db);
    if (st == VIGIL_OK && db->dir)
        st = vigil__tsdb_recover(db);
    if (st == VIGIL_OK && db->opts.background && !db->opts.read_only) {
        if (pthread_create(&db->thread, NULL, tick_thread, db) != 0)
            st = vigil__fail(VIGIL_ENOMEM, "cannot start the store's maintenance thread");
        else
            db->thread_running = true;
    }
    return st;
}

vigil_status vigil_tsdb_open(const vigil_tsdb_options *opts, vigil_tsdb **out)
{
    if (!out)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_open: out is NULL");
    *out = NULL;
    vigil_tsdb_options o;
    if (opts)
        o = *opts;
    else
        vigil_tsdb_options_init(&o);
    vigil_status st = check_options(&o);
    if (st)
        return st;
    vigil_tsdb *db = vigil__calloc(1, sizeof *db);
    if (!db)
        return vigil__fail(VIGIL_ENOMEM, "store");
    db->opts = o;
    db->lock_fd = -1;
    db->min_append_t = INT64_MIN;
    db->head_maxt = INT64_MIN;
    db->head_mint = INT64_MIN;
    db->head_first_t = INT64_MAX;
    db->pending_truncate = INT64_MIN;
    db->wal_epoch = 1;
    vigil_buffer_init(&db->walbuf, WALBUF_CAP);
    init_locks(db);
    if (o.data_dir && !(db->dir = vigil__strdup(o.data_dir))) {
        vigil_tsdb_close(db);
        return vigil__fail(VIGIL_ENOMEM, "store directory name");
    }
    db->opts.data_dir = db->dir;
    st = open_parts(db);
    if (st) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", vigil_errmsg());
        vigil_tsdb_close(db);
        return vigil__fail(st, "%s", msg);
    }
    *out = db;
    return VIGIL_OK;
}

static void free_blocks(vigil_tsdb *db)
{
    for (size_t i = 0; i < db->nblocks; i++)
        vigil__tsdb_block_unref(db->blocks[i]);
    vigil__free(db->blocks);
}

void vigil_tsdb_close(vigil_tsdb *db)
{
    if (!db)
        return;
    if (db->thread_running) {
        pthread_mutex_lock(&db->stop_mu);
        db->stopping = true;
        pthread_cond_broadcast(&db->stop_cv);
        pthread_mutex_unlock(&db->stop_mu);
        pthread_join(db->thread, NULL);
    }
    if (db->wal)
        (void)vigil__tsdb_wal_close(db->wal);
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    vigil__tsdb_scrape_caches_free(db->scrapes);
    free_blocks(db);
    vigil__tsdb_series_table_free(db);
    vigil__tsdb_index_free(db->index);
    vigil__tsdb_symtab_free(db->syms);
    vigil__tsdb_meta_free(db);
    vigil_buffer_free(&db->walbuf);
    pthread_mutex_destroy(&db->append_mu);
    pthread_mutex_destroy(&db->blocks_mu);
    pthread_mutex_destroy(&db->tick_mu);
    pthread_mutex_destroy(&db->meta_mu);
    pthread_mutex_destroy(&db->scrape_mu);
    pthread_mutex_destroy(&db->stop_mu);
    pthread_cond_destroy(&db->stop_cv);
    vigil__free(db->dir);
    vigil__free(db);
}

const char *vigil_tsdb_recovery_report(const vigil_tsdb *db)
{
    return db ? db->recovery : "";
}

/* ---- appends -------------------------------------------------------------------------------- */

static vigil_status writable(const vigil_tsdb *db)
{
    if (db->opts.read_only)
        return vigil__fail(VIGIL_ESTATE, "the store was opened read-only");
    return VIGIL_OK;
}

/* One samples record for what was just appended; the head already has the samples, so a WAL
 * failure is reported but not undone (the next sync or checkpoint will carry them). */
static vigil_status log_samples(vigil_tsdb *db, const vigil__tsdb_walrec_sample *s, size_t n)
{
    if (!db->wal || n == 0)
        return VIGIL_OK;
    db->walbuf.len = 0;
    vigil_status st = vigil__tsdb_walrec_samples_encode(&db->walbuf, s, n);
    if (st == VIGIL_OK)
        st = vigil__tsdb_wal_append(db->wal, VIGIL__TSDB_WALREC_SAMPLES, db->walbuf.data,
                                    db->walbuf.len);
    if (st == VIGIL_OK && db->opts.wal_sync_interval_ms == 0)
        st = vigil__tsdb_wal_sync(db->wal, NULL);
    return st;
}

static vigil_status append_locked(vigil_tsdb *db, vigil__tsdb_series *s, int64_t t, double v)
{
    vigil_status st = vigil__tsdb_head_append(db, s, t, v);
    if (st == VIGIL_OK) {
        s->last_append_ms = vigil__now_ms();
        st = vigil__tsdb_wal_ensure_series(db, s);
    }
    if (st == VIGIL_OK) {
        vigil__tsdb_walrec_sample rec = {t, v, s->ref};
        st = log_samples(db, &rec, 1);
    }
    return st;
}

vigil_status vigil_tsdb_series(vigil_tsdb *db, const vigil_label *labels, size_t count,
                               vigil_tsdb_ref *out)
{
    if (!db || !out || (count && !labels))
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_series: NULL argument");
    vigil_status st = writable(db);
    if (st)
        return st;
    pthread_mutex_lock(&db->append_mu);
    vigil__tsdb_series *s;
    st = vigil__tsdb_series_from_pairs(db, labels, count, true, &s);
    if (st == VIGIL_OK) {
        if (s->last_append_ms == 0)
            s->last_append_ms = vigil__now_ms(); /* a fresh handle survives collection a while */
        *out = s->ref;
    }
    pthread_mutex_unlock(&db->append_mu);
    return st;
}

vigil_status vigil_tsdb_append(vigil_tsdb *db, const vigil_label *labels, size_t count,
                               int64_t t_ms, double value)
{
    if (!db || (count && !labels))
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_append: NULL argument");
    vigil_status st = writable(db);
    if (st)
        return st;
    pthread_mutex_lock(&db->append_mu);
    vigil__tsdb_series *s;
    st = vigil__tsdb_series_from_pairs(db, labels, count, true, &s);
    if (st == VIGIL_OK)
        st = append_locked(db, s, t_ms, value);
    pthread_mutex_unlock(&db->append_mu);
    return st;
}

static vigil_status unknown_ref(vigil_tsdb_ref ref)
{
    return vigil__fail(VIGIL_ENOTFOUND,
                       "no series with handle %u (collected by retention, or "
                       "from another store)",
                       ref);
}

vigil_status vigil_tsdb_append_ref(vigil_tsdb *db, vigil_tsdb_ref ref, int64_t t_ms, double value)
{
    if (!db)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_append_ref: NULL store");
    vigil_status st = writable(db);
    if (st)
        return st;
    pthread_mutex_lock(&db->append_mu);
    vigil__tsdb_series *s = vigil__tsdb_series_get(db, ref);
    st = s ? append_locked(db, s, t_ms, value) : unknown_ref(ref);
    pthread_mutex_unlock(&db->append_mu);
    return st;
}

/* The batch's WAL record is built in slices so its scratch array stays on the stack. */
#define BATCH_SLICE 1024

static vigil_status append_slice(vigil_tsdb *db, const vigil_tsdb_ref *refs, const int64_t *t,
                                 const double *v, size_t n, size_t *appended, bool *hard_error)
{
    vigil__tsdb_walrec_sample rec[BATCH_SLICE];
    size_t nrec = 0, stored = 0;
    vigil_status first = VIGIL_OK;
    int64_t now = vigil__now_ms();
    for (size_t i = 0; i < n; i++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(db, refs[i]);
        vigil_status st = s ? vigil__tsdb_head_append(db, s, t[i], v[i]) : unknown_ref(refs[i]);
        if (st == VIGIL_OK) {
            s->last_append_ms = now;
            stored++;
            /* a sample whose series record could not be written must not be logged either */
            st = vigil__tsdb_wal_ensure_series(db, s);
            if (st == VIGIL_OK) {
                rec[nrec++] = (vigil__tsdb_walrec_sample){t[i], v[i], refs[i]};
                continue;
            }
        }
        if (!first)
            first = st;
        if (st != VIGIL_EORDER && st != VIGIL_ENOTFOUND) {
            *hard_error = true;
            break;
        }
    }
    *appended += stored;
    vigil_status st = log_samples(db, rec, nrec);
    return st ? st : first;
}

vigil_status vigil_tsdb_append_batch(vigil_tsdb *db, const vigil_tsdb_ref *refs,
                                     const int64_t *t_ms, const double *values, size_t n,
                                     size_t *appended)
{
    size_t done = 0;
    if (appended)
        *appended = 0;
    if (!db || (n && (!refs || !t_ms || !values)))
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_append_batch: NULL argument");
    vigil_status st = writable(db);
    if (st)
        return st;
    vigil_status first = VIGIL_OK;
    bool hard = false;
    pthread_mutex_lock(&db->append_mu);
    for (size_t off = 0; off < n && !hard; off += BATCH_SLICE) {
        size_t k = n - off < BATCH_SLICE ? n - off : BATCH_SLICE;
        st = append_slice(db, refs + off, t_ms + off, values + off, k, &done, &hard);
        if (st && !first)
            first = st;
    }
    pthread_mutex_unlock(&db->append_mu);
    if (appended)
        *appended = done;
    return first;
}

vigil_status vigil_tsdb_scrape(vigil_tsdb *db, vigil_registry *reg, int64_t t_ms)
{
    if (!db || !reg)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_scrape: NULL argument");
    vigil_status st = writable(db);
    if (st)
        return st;
    pthread_mutex_lock(&db->scrape_mu);
    vigil__tsdb_scrape_cache *cache;
    st = vigil__tsdb_scrape_cache_for(&db->scrapes, reg, &cache);
    if (st == VIGIL_OK)
        st = vigil__tsdb_scrape_run(db, cache, reg, t_ms);
    pthread_mutex_unlock(&db->scrape_mu);
    return st;
}

/* ---- maintenance ---------------------------------------------------------------------------- */

vigil_status vigil_tsdb_sync(vigil_tsdb *db)
{
    if (!db)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_sync: NULL store");
    if (!db->wal)
        return VIGIL_OK;
    uint64_t took = 0;
    vigil_status st = vigil__tsdb_wal_sync(db->wal, &took);
    if (st == VIGIL_OK) {
        atomic_fetch_add_explicit(&db->wal_syncs, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&db->wal_sync_ns, took, memory_order_relaxed);
    }
    return st;
}

vigil_status vigil_tsdb_tick(vigil_tsdb *db, int64_t now_ms)
{
    if (!db)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_tick: NULL store");
    if (db->opts.read_only)
        return VIGIL_OK;
    pthread_mutex_lock(&db->tick_mu);
    vigil_status st = VIGIL_OK;
    if (db->wal && vigil__tsdb_wal_sync_due(db->wal, vigil__mono_ns()))
        st = vigil_tsdb_sync(db);
    vigil_status st2 = vigil__tsdb_seal_due(db);
    if (!st)
        st = st2;
    st2 = vigil__tsdb_retention(db, now_ms);
    if (!st)
        st = st2;
    pthread_mutex_unlock(&db->tick_mu);
    return st;
}

vigil_status vigil_tsdb_flush(vigil_tsdb *db)
{
    if (!db)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_flush: NULL store");
    vigil_status st = writable(db);
    if (st)
        return st;
    pthread_mutex_lock(&db->tick_mu);
    st = vigil__tsdb_seal_all(db);
    pthread_mutex_unlock(&db->tick_mu);
    return st;
}

/* ---- statistics ----------------------------------------------------------------------------- */

static uint64_t dir_bytes(const vigil_tsdb *db, uint64_t *wal_bytes);

vigil_status vigil_tsdb_get_stats(vigil_tsdb *db, vigil_tsdb_stats *out)
{
    if (!db || !out)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_get_stats: NULL argument");
    memset(out, 0, sizeof *out);
    /* a sealed range still waiting for old queriers would be counted twice */
    (void)vigil__tsdb_truncate_pending(db);
    out->min_time = INT64_MAX;
    out->max_time = INT64_MIN;
    pthread_mutex_lock(&db->blocks_mu);
    out->blocks = db->nblocks;
    for (size_t i = 0; i < db->nblocks; i++) {
        out->block_samples += vigil__tsdb_block_samples(db->blocks[i]);
        out->block_bytes += vigil__tsdb_block_bytes(db->blocks[i]);
    }
    if (db->nblocks) {
        out->min_time = vigil__tsdb_block_mint(db->blocks[0]);
        out->max_time = vigil__tsdb_block_maxt(db->blocks[db->nblocks - 1]) - 1;
    }
    pthread_mutex_unlock(&db->blocks_mu);
    pthread_mutex_lock(&db->append_mu);
    out->series = db->nseries;
    vigil__tsdb_head_bounds(db, &out->min_time, &out->max_time);
    pthread_mutex_unlock(&db->append_mu);
    out->head_samples = atomic_load(&db->head_samples);
    out->head_bytes = atomic_load(&db->head_bytes);
    out->samples = out->head_samples + out->block_samples;
    out->out_of_order = atomic_load(&db->out_of_order);
    out->wal_corruptions = atomic_load(&db->wal_corruptions);
    out->wal_syncs = atomic_load(&db->wal_syncs);
    out->wal_sync_seconds = (double)atomic_load(&db->wal_sync_ns) / 1e9;
    out->retention_dropped = atomic_load(&db->retention_dropped);
    if (db->dir)
        out->disk_bytes = dir_bytes(db, &out->wal_bytes);
    return VIGIL_OK;
}

static uint64_t dir_bytes(const vigil_tsdb *db, uint64_t *wal_bytes)
{
    uint64_t total = 0;
    *wal_bytes = vigil__tsdb_dir_size(db, "wal");
    total += *wal_bytes;
    total += vigil__tsdb_dir_size(db, "blocks");
    total += vigil__tsdb_dir_size(db, NULL);
    return total;
}
