/* history.c — the runtime's self-scrape: a thread that snapshots the registry into the
 * runtime's store every scrape interval, the history the query API and rules read.
 *
 * The scrape runs on its own thread, never an application thread: it costs about 16 ms per
 * 100,000 series (docs/benchmarks.md) and takes the registry lock only for the collection, as
 * an HTTP scrape does. A scrape that fails is retried at the next interval; the store counts
 * what it refused.
 */
#include <pthread.h>
#include <time.h>

#include "core/core_int.h"
#include "runtime_int.h"

struct vigil__history {
    vigil_tsdb *db;
    vigil_registry *reg;
    unsigned interval_ms;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
};

static void *scrape_loop(void *arg)
{
    vigil__history *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stopping) {
        pthread_mutex_unlock(&h->mu);
        (void)vigil_tsdb_scrape(h->db, h->reg, vigil_tsdb_now_ms());
        pthread_mutex_lock(&h->mu);
        struct timespec until;
        vigil__deadline(&until, CLOCK_MONOTONIC, (uint64_t)h->interval_ms * 1000000u);
        while (!h->stopping && pthread_cond_timedwait(&h->cv, &h->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

static vigil_status open_store(const vigil_options *o, vigil_tsdb **db)
{
    vigil_tsdb_options to;
    vigil_tsdb_options_init(&to);
    to.data_dir = o->history_dir;
    to.retention_ms = o->history_retention_ms;
    return vigil_tsdb_open(&to, db);
}

vigil_status vigil__history_start(const vigil_options *o, vigil_registry *reg, vigil__history **out)
{
    *out = NULL;
    if (o->scrape_interval_ms < 1000 || o->scrape_interval_ms > 86400000)
        return vigil__fail(VIGIL_EINVAL, "scrape interval %u ms is outside [1000, 86400000]",
                           o->scrape_interval_ms);
    vigil__history *h = vigil__calloc(1, sizeof *h);
    if (!h)
        return vigil__fail(VIGIL_ENOMEM, "history");
    h->reg = reg;
    h->interval_ms = o->scrape_interval_ms;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    vigil_status st = open_store(o, &h->db);
    if (st == VIGIL_OK)
        st = vigil_tsdb_register_metrics(h->db, reg);
    if (st == VIGIL_OK && pthread_create(&h->thread, NULL, scrape_loop, h) != 0) {
        (void)vigil_registry_remove_collector(reg, "tsdb");
        st = vigil__fail(VIGIL_ENOMEM, "cannot start the self-scrape thread");
    }
    if (st) {
        vigil_tsdb_close(h->db);
        pthread_mutex_destroy(&h->mu);
        pthread_cond_destroy(&h->cv);
        vigil__free(h);
        return st;
    }
    *out = h;
    return VIGIL_OK;
}

void vigil__history_stop(vigil__history *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->thread, NULL);
    (void)vigil_registry_remove_collector(h->reg, "tsdb");
    vigil_tsdb_close(h->db);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    vigil__free(h);
}

vigil_tsdb *vigil__history_tsdb(const vigil__history *h)
{
    return h ? h->db : NULL;
}
