/* retention.c — keeping the store within its limits: age, sample count and block bytes.
 *
 * Whole blocks are dropped, oldest first, as Prometheus does: a block is immutable, so trimming
 * one would mean rewriting it, and a block range (2 h by default) is fine-grained enough for
 * limits measured in days or millions of samples. Age is measured from the newest sample in the
 * store, not the wall clock, so history imported from the past is not dropped on arrival.
 * Series left with no data are then collected from the index (series.c), after a grace period
 * of one block range since their last append so a series that merely paused keeps its handle.
 */
#include <string.h>

#include "tsdb_int.h"

#define GC_EVERY_MS (60 * 1000)

static int64_t newest_time(const vigil_tsdb *db)
{
    int64_t t = __atomic_load_n(&db->head_maxt, __ATOMIC_RELAXED);
    if (db->nblocks) {
        int64_t b = vigil__tsdb_block_maxt(db->blocks[db->nblocks - 1]) - 1;
        if (b > t)
            t = b;
    }
    return t;
}

/* blocks_mu held. */
static void drop_oldest(vigil_tsdb *db)
{
    vigil__tsdb_block *b = db->blocks[0];
    for (size_t i = 0; i < vigil__tsdb_block_nseries(b); i++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(db, vigil__tsdb_block_series_at(b, i)->ref);
        if (s && s->block_count)
            s->block_count--;
    }
    atomic_fetch_add(&db->retention_dropped, vigil__tsdb_block_samples(b));
    db->nblocks--;
    memmove(db->blocks, db->blocks + 1, db->nblocks * sizeof *db->blocks);
    vigil__tsdb_block_doom(b);
    vigil__tsdb_block_unref(b); /* the file goes when the last querier lets go */
}

static bool over_limits(const vigil_tsdb *db)
{
    if (!db->nblocks)
        return false;
    const vigil_tsdb_options *o = &db->opts;
    if (o->retention_ms > 0 &&
        vigil__tsdb_block_maxt(db->blocks[0]) <= newest_time(db) - o->retention_ms)
        return true;
    uint64_t samples = atomic_load(&db->head_samples), bytes = 0;
    for (size_t i = 0; i < db->nblocks; i++) {
        samples += vigil__tsdb_block_samples(db->blocks[i]);
        bytes += vigil__tsdb_block_bytes(db->blocks[i]);
    }
    return (o->retention_samples && samples > o->retention_samples) ||
           (o->retention_bytes && bytes > o->retention_bytes);
}

vigil_status vigil__tsdb_retention(vigil_tsdb *db, int64_t now_ms)
{
    pthread_mutex_lock(&db->blocks_mu);
    bool dropped = false;
    while (over_limits(db)) {
        drop_oldest(db);
        dropped = true;
    }
    pthread_mutex_unlock(&db->blocks_mu);
    if (!dropped && now_ms - db->last_gc_ms < GC_EVERY_MS)
        return VIGIL_OK;
    vigil_status st = VIGIL_OK;
    pthread_mutex_lock(&db->append_mu);
    pthread_mutex_lock(&db->blocks_mu);
    if (db->active_queriers == 0) {
        st = vigil__tsdb_series_gc(db, now_ms - db->opts.block_range_ms);
        db->last_gc_ms = now_ms;
    }
    pthread_mutex_unlock(&db->blocks_mu);
    pthread_mutex_unlock(&db->append_mu);
    return st;
}
