/* seal.c — moving the head's oldest range into an immutable block.
 *
 * A range [mint, maxt) is sealed in four steps: raise the minimum appendable time to maxt (so no
 * sample can enter the range any more), build the block from the head's copies of the range,
 * write it to disk and publish it (the head's visible start moves to maxt in the same critical
 * section, so a query sees every sample exactly once), then drop the head chunks below maxt and,
 * with a data directory, write a checkpoint so the WAL can shrink.
 *
 * Like Prometheus's head, the head keeps half a range beyond the sealed one: a range is sealed
 * once the head spans 1.5 ranges, leaving late scrapes time to land.
 */
#include <time.h>

#include "tsdb_int.h"

static int64_t floor_to(int64_t t, int64_t step)
{
    int64_t q = t / step;
    if (t % step != 0 && t < 0)
        q--;
    return q * step;
}

static void raise_min_append(vigil_tsdb *db, int64_t t)
{
    pthread_mutex_lock(&db->append_mu);
    if (db->min_append_t < t)
        db->min_append_t = t;
    pthread_mutex_unlock(&db->append_mu);
}

/* blocks_mu held: the head's visible start just moved to `below`. */
void vigil__tsdb_begin_generation(vigil_tsdb *db, int64_t below)
{
    db->pending_slot = (unsigned)(db->query_gen & 1);
    db->query_gen++;
    if (db->pending_truncate < below)
        db->pending_truncate = below;
}

static void truncate_head(vigil_tsdb *db, int64_t below)
{
    uint32_t end = atomic_load(&db->next_ref);
    for (uint32_t ref = 0; ref < end; ref++) {
        pthread_mutex_lock(&db->append_mu); /* per series: appends wait one trim at most */
        vigil__tsdb_series *s = vigil__tsdb_series_get(db, ref);
        if (s && s->head_samples)
            vigil__tsdb_head_truncate(db, s, below);
        pthread_mutex_unlock(&db->append_mu);
    }
    pthread_mutex_lock(&db->append_mu);
    if (db->head_first_t < below)
        db->head_first_t = below;
    pthread_mutex_unlock(&db->append_mu);
}

bool vigil__tsdb_truncate_pending(vigil_tsdb *db)
{
    pthread_mutex_lock(&db->blocks_mu);
    int64_t below = INT64_MIN;
    if (db->pending_truncate != INT64_MIN && db->active_by_gen[db->pending_slot] == 0) {
        below = db->pending_truncate;
        db->pending_truncate = INT64_MIN;
    }
    bool done = db->pending_truncate == INT64_MIN;
    pthread_mutex_unlock(&db->blocks_mu);
    if (below != INT64_MIN)
        truncate_head(db, below);
    return done;
}

/* Waits for the queriers of the previous generation (a flush must leave the head empty). */
static void drain_pending(vigil_tsdb *db)
{
    while (!vigil__tsdb_truncate_pending(db)) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
}

/* Seals [mint, maxt); checkpoint says whether to write a checkpoint afterwards. */
static vigil_status seal_range(vigil_tsdb *db, int64_t mint, int64_t maxt, bool checkpoint)
{
    raise_min_append(db, maxt);
    vigil__tsdb_block *b = NULL;
    vigil_status st = vigil__tsdb_block_build(db, mint, maxt, &b);
    if (st == VIGIL_OK && b && db->dir)
        st = vigil__tsdb_block_write(db, b);
    if (st) {
        vigil__tsdb_block_unref(b);
        return st; /* the head still has everything; the next tick retries */
    }
    if (b) {
        st = vigil__tsdb_publish_block(db, b);
        if (st) {
            vigil__tsdb_block_unref(b);
            return st;
        }
    } else {
        pthread_mutex_lock(&db->blocks_mu);
        if (db->head_mint < maxt)
            db->head_mint = maxt;
        vigil__tsdb_begin_generation(db, maxt);
        pthread_mutex_unlock(&db->blocks_mu);
    }
    (void)vigil__tsdb_truncate_pending(db); /* at once when no query is running */
    return checkpoint ? vigil__tsdb_checkpoint(db, maxt) : VIGIL_OK;
}

static void head_extent(vigil_tsdb *db, int64_t *first, int64_t *last)
{
    pthread_mutex_lock(&db->append_mu);
    *first = db->head_first_t;
    *last = db->head_maxt;
    pthread_mutex_unlock(&db->append_mu);
}

vigil_status vigil__tsdb_seal_due(vigil_tsdb *db)
{
    if (atomic_load(&db->importing))
        return VIGIL_OK;
    int64_t range = db->opts.block_range_ms;
    for (;;) {
        if (!vigil__tsdb_truncate_pending(db))
            return VIGIL_OK; /* a query still reads the last sealed range from the head */
        int64_t first, last;
        head_extent(db, &first, &last);
        if (first == INT64_MAX || last == INT64_MIN)
            return VIGIL_OK;
        int64_t mint = floor_to(first, range);
        if (last - mint < range + range / 2)
            return VIGIL_OK;
        vigil_status st = seal_range(db, mint, mint + range, true);
        if (st)
            return st;
    }
}

vigil_status vigil__tsdb_seal_all(vigil_tsdb *db)
{
    int64_t range = db->opts.block_range_ms;
    vigil_status st = VIGIL_OK;
    bool sealed = false;
    for (;;) {
        drain_pending(db);
        int64_t first, last;
        head_extent(db, &first, &last);
        if (first == INT64_MAX || last == INT64_MIN || first > last)
            break;
        int64_t mint = floor_to(first, range);
        int64_t maxt = mint + range;
        if (maxt > last + 1)
            maxt = last + 1; /* the newest block ends at the newest sample, not a range later */
        st = seal_range(db, mint, maxt, false);
        if (st)
            return st;
        sealed = true;
    }
    drain_pending(db);
    if (sealed)
        st = vigil__tsdb_checkpoint(db, db->min_append_t);
    return st;
}
