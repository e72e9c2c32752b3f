/* metrics.c — the store's own metrics, read at scrape time from vigil_tsdb_get_stats, so a
 * dashboard shows how much history a process keeps and what it costs. */
#include "tsdb_int.h"


static vigil_status emit_one(vigil_emitter *em, const char *name, const char *help,
                             vigil_metric_type type, double v)
{
    vigil_family_desc d = {name, help, NULL, type};
    vigil_status st = vigil_emit_family(em, &d);
    return st ? st : vigil_emit_sample(em, NULL, 0, v);
}

static vigil_status collect_tsdb(vigil_emitter *em, void *user)
{
    vigil_tsdb_stats s;
    vigil_status st = vigil_tsdb_get_stats(user, &s);
    const struct {
        const char *name, *help;
        vigil_metric_type type;
        double v;
    } rows[] = {
        {"vigil_tsdb_series", "Series in the store.", VIGIL_GAUGE, (double)s.series},
        {"vigil_tsdb_head_samples", "Samples in the head (not yet sealed).", VIGIL_GAUGE,
         (double)s.head_samples},
        {"vigil_tsdb_head_chunk_bytes", "Bytes of head chunks.", VIGIL_GAUGE,
         (double)s.head_bytes},
        {"vigil_tsdb_blocks", "Sealed blocks.", VIGIL_GAUGE, (double)s.blocks},
        {"vigil_tsdb_block_samples", "Samples in sealed blocks.", VIGIL_GAUGE,
         (double)s.block_samples},
        {"vigil_tsdb_block_bytes", "Bytes of sealed blocks (in memory and on disk).", VIGIL_GAUGE,
         (double)s.block_bytes},
        {"vigil_tsdb_storage_bytes", "Bytes of the data directory (blocks, WAL, checkpoint).",
         VIGIL_GAUGE, (double)s.disk_bytes},
        {"vigil_tsdb_wal_bytes", "Bytes of WAL segments.", VIGIL_GAUGE, (double)s.wal_bytes},
        {"vigil_tsdb_out_of_order_samples", "Samples refused for being older than their series.",
         VIGIL_COUNTER, (double)s.out_of_order},
        {"vigil_tsdb_wal_corruptions", "Damaged WAL tails truncated at recovery.", VIGIL_COUNTER,
         (double)s.wal_corruptions},
        {"vigil_tsdb_wal_fsyncs", "WAL syncs.", VIGIL_COUNTER, (double)s.wal_syncs},
        {"vigil_tsdb_wal_fsync_duration_seconds", "Time spent syncing the WAL.", VIGIL_COUNTER,
         s.wal_sync_seconds},
        {"vigil_tsdb_retention_dropped_samples", "Samples dropped by retention.", VIGIL_COUNTER,
         (double)s.retention_dropped},
    };
    for (size_t i = 0; st == VIGIL_OK && i < sizeof rows / sizeof *rows; i++)
        st = emit_one(em, rows[i].name, rows[i].help, rows[i].type, rows[i].v);
    return st;
}

vigil_status vigil_tsdb_register_metrics(vigil_tsdb *db, vigil_registry *reg)
{
    if (!db || !reg)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_register_metrics: NULL argument");
    return vigil_registry_add_collector(reg, "tsdb", collect_tsdb, db);
}
