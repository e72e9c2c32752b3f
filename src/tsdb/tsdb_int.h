/* tsdb_int.h — what the store's files share: the store object, its series table, head chunks,
 * sealed blocks and the hand-offs between them. The pieces with an interface of their own
 * (labels, postings, matchers, index, XOR chunks, columns, WAL, OpenMetrics parser) have their
 * own headers; this one ties them into a database.
 *
 * Locks, in the order they may be taken:
 *   db->append_mu   serializes appends, series creation, WAL writes and the seal's switch-over
 *   db->blocks_mu   guards the block list and head_mint (readers copy both under it)
 *   series->lock    a spinlock guarding one series' head chunks; held for a copy at most
 * The index has its own rwlock and the symbol table its own; both are leaves.
 */
#ifndef VIGIL_TSDB_INT_H
#define VIGIL_TSDB_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "blocktab.h"
#include "core/core_int.h"
#include "index.h"
#include "labels.h"
#include "vigil/tsdb.h"
#include "wal.h"
#include "xor.h"
#include "matcher.h"

#define VIGIL__TSDB_CHUNK_SAMPLES 120
/* The series table: 1,024 pages of 16,384 series (16.7 M series, above the max_series cap). */
#define VIGIL__TSDB_PAGE_BITS 14
#define VIGIL__TSDB_PAGE_SIZE (1u << VIGIL__TSDB_PAGE_BITS)
#define VIGIL__TSDB_MAX_PAGES 1024u

/* ---- head ----------------------------------------------------------------------------------- */

typedef struct vigil__tsdb_chunk {
    int64_t mint, maxt;
    uint32_t count;
    uint32_t nbytes;
    uint8_t *bytes; /* closed Gorilla chunk, owned */
} vigil__tsdb_chunk;

typedef struct vigil__tsdb_series {
    vigil_tsdb_ref ref;
    uint64_t hash;
    vigil__tsdb_labels *labels;
    struct vigil__tsdb_series *hash_next; /* db->by_hash chain; append_mu */
    atomic_flag lock;                     /* guards everything below */
    vigil__tsdb_chunk *closed;            /* oldest first */
    uint32_t nclosed, capclosed;
    vigil__tsdb_xor_chunk open;                /* the chunk being appended to */
    int64_t open_mint;
    int64_t last_t;                       /* INT64_MIN before the first sample */
    uint64_t head_samples;                /* closed + open */
    uint32_t block_count;                 /* live blocks holding this series; blocks_mu */
    int64_t last_append_ms;               /* wall clock of the latest append (retention GC) */
    uint32_t wal_epoch;                   /* db->wal_epoch when its series record was last
                                             written to the WAL; append_mu */
} vigil__tsdb_series;

/* ---- blocks --------------------------------------------------------------------------------- */

typedef struct vigil__tsdb_block vigil__tsdb_block;


/* ---- metadata of families ------------------------------------------------------------------- */

typedef struct vigil__tsdb_meta {
    char *metric, *type, *help, *unit;
} vigil__tsdb_meta;

typedef struct vigil__tsdb_scrape_cache vigil__tsdb_scrape_cache;

/* ---- the store ------------------------------------------------------------------------------ */

struct vigil_tsdb {
    vigil_tsdb_options opts;
    char *dir; /* NULL in memory mode */
    int lock_fd;

    vigil__tsdb_symtab *syms;
    vigil__tsdb_index *index;

    /* series table: pages of pointers indexed by ref; pages never move */
    _Atomic(vigil__tsdb_series **) pages[VIGIL__TSDB_MAX_PAGES];
    _Atomic uint32_t next_ref;
    vigil__tsdb_series **by_hash; /* chained hash table; append_mu */
    size_t nbuckets, nseries;

    pthread_mutex_t append_mu;
    vigil__tsdb_wal *wal;            /* NULL in memory mode or read-only */
    vigil_buffer walbuf;             /* record payload scratch; append_mu */
    /* Series records written before the current epoch may be gone: a checkpoint dropped their
     * segments (it keeps only series with head samples), or an earlier run wrote them. A
     * series therefore writes its record again before its first samples of an epoch. Bumped
     * with every checkpoint's cut; starts at 1, so recovered series (0) log themselves. */
    uint32_t wal_epoch;              /* append_mu */
    int64_t min_append_t;            /* samples below are refused; append_mu */
    int64_t head_maxt;               /* newest sample in the head; append_mu (atomic reads) */
    int64_t head_first_t;            /* no head sample is older; append_mu */
    _Atomic int importing;           /* > 0: no automatic sealing */
    _Atomic uint64_t head_samples, head_bytes;

    pthread_mutex_t blocks_mu;
    vigil__tsdb_block **blocks;      /* by mint */
    size_t nblocks, capblocks;
    int64_t head_mint;               /* the head serves samples >= this; blocks below */
    size_t active_queriers;          /* series objects are collected only when 0 */
    /* A sealed range leaves the head only after every querier that may still read it there
     * (one that started before the block was published) is gone: queriers count themselves in
     * the slot of the generation they started in; publishing a block starts a new generation
     * and leaves a pending truncation for the old slot to drain. */
    uint64_t query_gen;
    size_t active_by_gen[2];
    int64_t pending_truncate;        /* INT64_MIN: none */
    unsigned pending_slot;

    pthread_mutex_t tick_mu;         /* one maintenance pass at a time */
    uint64_t last_sync_ns;
    uint32_t checkpoint_segment;     /* newest checkpoint covers WAL segments below this */
    int64_t last_gc_ms;              /* wall clock of the last series collection; tick_mu */

    pthread_mutex_t meta_mu;
    vigil__tsdb_meta *meta;
    size_t nmeta, capmeta;

    pthread_mutex_t scrape_mu;
    vigil__tsdb_scrape_cache *scrapes;

    /* statistics */
    _Atomic uint64_t out_of_order, wal_corruptions, retention_dropped, wal_syncs, wal_sync_ns;
    char recovery[512];

    pthread_t thread;
    bool thread_running;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
};

/* series.c */
vigil__tsdb_series *vigil__tsdb_series_get(const vigil_tsdb *db, vigil_tsdb_ref ref);
vigil_status vigil__tsdb_series_lookup_or_create(vigil_tsdb *db, vigil__tsdb_labels *ls,
                                                 bool log_to_wal, vigil__tsdb_series **out);
vigil_status vigil__tsdb_series_from_pairs(vigil_tsdb *db, const vigil_label *labels,
                                           size_t count, bool log_to_wal,
                                           vigil__tsdb_series **out);
void vigil__tsdb_series_table_free(vigil_tsdb *db);
/* The WAL series record of s (its ref and labels) in out, replacing out's contents. */
vigil_status vigil__tsdb_series_record(vigil_buffer *out, const vigil__tsdb_series *s);
/* Removes series without data whose last append is older than cutoff (wall clock ms); caller
 * holds append_mu and blocks_mu, with no querier alive. */
vigil_status vigil__tsdb_series_gc(vigil_tsdb *db, int64_t cutoff_ms);

static inline void vigil__tsdb_series_lock(vigil__tsdb_series *s)
{
    while (atomic_flag_test_and_set_explicit(&s->lock, memory_order_acquire))
        ;
}
static inline void vigil__tsdb_series_unlock(vigil__tsdb_series *s)
{
    atomic_flag_clear_explicit(&s->lock, memory_order_release);
}

/* head.c: append_mu held by the caller */
vigil_status vigil__tsdb_head_append(vigil_tsdb *db, vigil__tsdb_series *s, int64_t t, double v);
/* Copies the samples of s with t in [mint, maxt] from the head into growing arrays. */
vigil_status vigil__tsdb_head_read(vigil__tsdb_series *s, int64_t mint, int64_t maxt,
                                   int64_t **t, double **v, size_t *n, size_t *cap);
/* Drops closed chunks entirely below t. */
void vigil__tsdb_head_truncate(vigil_tsdb *db, vigil__tsdb_series *s, int64_t below);
void vigil__tsdb_head_free_series(vigil__tsdb_series *s);
vigil_status vigil__tsdb_samples_grow(int64_t **t, double **v, size_t *cap, size_t need);

/* block.c */
vigil_status vigil__tsdb_block_build(vigil_tsdb *db, int64_t mint, int64_t maxt,
                                     vigil__tsdb_block **out);
vigil_status vigil__tsdb_block_write(vigil_tsdb *db, vigil__tsdb_block *b);
vigil_status vigil__tsdb_block_load(vigil_tsdb *db, const char *path, vigil__tsdb_block **out);
/* A block of the image bytes[0..len) (taken over, freed with the block or on failure), its label
 * sets resolved to db's series; path (may be NULL) names it in messages and is its file. */
vigil_status vigil__tsdb_block_from_image(vigil_tsdb *db, uint8_t *bytes, size_t len,
                                          const char *path, vigil__tsdb_block **out);
void vigil__tsdb_block_ref(vigil__tsdb_block *b);
void vigil__tsdb_block_unref(vigil__tsdb_block *b);
int64_t vigil__tsdb_block_mint(const vigil__tsdb_block *b);
int64_t vigil__tsdb_block_maxt(const vigil__tsdb_block *b);
uint64_t vigil__tsdb_block_samples(const vigil__tsdb_block *b);
uint64_t vigil__tsdb_block_bytes(const vigil__tsdb_block *b);
size_t vigil__tsdb_block_nseries(const vigil__tsdb_block *b);
const vigil__tsdb_block_series *vigil__tsdb_block_series_at(const vigil__tsdb_block *b, size_t i);
const vigil__tsdb_block_series *vigil__tsdb_block_find(const vigil__tsdb_block *b,
                                                       vigil_tsdb_ref ref);
/* Marks the block's file for deletion when the last reference goes. */
void vigil__tsdb_block_doom(vigil__tsdb_block *b);
/* The bytes of value frame `frame` of b, or of its timestamp frame for VIGIL__TSDB_TS_FRAME. */
#define VIGIL__TSDB_TS_FRAME UINT32_MAX
void vigil__tsdb_block_frame(const vigil__tsdb_block *b, uint32_t frame, const uint8_t **bytes,
                             size_t *len);
/* VIGIL_ECORRUPT with a message naming the block (what may be vigil_errmsg()). */
vigil_status vigil__tsdb_block_corrupt(const vigil__tsdb_block *b, const char *what);

/* block_read.c: block reading with a cache of decoded frames and timestamps, one per reader */
typedef struct vigil__tsdb_block_reader vigil__tsdb_block_reader;
vigil_status vigil__tsdb_block_reader_new(vigil__tsdb_block_reader **out);
void vigil__tsdb_block_reader_free(vigil__tsdb_block_reader *r);
/* Appends the samples of entry e with t in [mint, maxt] to the growing arrays. */
vigil_status vigil__tsdb_block_read(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                                    const vigil__tsdb_block_series *e, int64_t mint, int64_t maxt,
                                    int64_t **t, double **v, size_t *n, size_t *cap);

/* seal.c */
/* Performs a pending head truncation once its queriers are gone; true when none is left. */
bool vigil__tsdb_truncate_pending(vigil_tsdb *db);
/* blocks_mu held: starts a query generation after the head start moved to below. */
void vigil__tsdb_begin_generation(vigil_tsdb *db, int64_t below);
vigil_status vigil__tsdb_seal_due(vigil_tsdb *db);
vigil_status vigil__tsdb_seal_all(vigil_tsdb *db);

/* persist.c: data directory, checkpoint, recovery */
vigil_status vigil__tsdb_dir_open(vigil_tsdb *db);
vigil_status vigil__tsdb_recover(vigil_tsdb *db);
/* Cuts the WAL and writes the head's samples from `from` on as a checkpoint. */
vigil_status vigil__tsdb_checkpoint(vigil_tsdb *db, int64_t from);
vigil_status vigil__tsdb_fsync_dir(const char *path);
void vigil__tsdb_path(const vigil_tsdb *db, char *out, const char *fmt, ...)
    VIGIL_PRINTF(3, 4);
uint64_t vigil__tsdb_dir_size(const vigil_tsdb *db, const char *sub);
void vigil__tsdb_head_bounds(vigil_tsdb *db, int64_t *min, int64_t *max);
/* series.c, append_mu held: writes the series record of s to the WAL (no-op in memory mode). */
vigil_status vigil__tsdb_wal_log_series(vigil_tsdb *db, vigil__tsdb_series *s);
/* The same, unless s was already logged in the current WAL epoch: call before logging samples
 * of s. */
vigil_status vigil__tsdb_wal_ensure_series(vigil_tsdb *db, vigil__tsdb_series *s);
vigil_status vigil__tsdb_publish_block(vigil_tsdb *db, vigil__tsdb_block *b);

/* retention.c */
vigil_status vigil__tsdb_retention(vigil_tsdb *db, int64_t now_ms);

/* meta.c */
vigil_status vigil__tsdb_meta_set(vigil_tsdb *db, const char *metric, vigil_metric_type type,
                                  const char *help, const char *unit);
vigil_status vigil__tsdb_meta_set_text(vigil_tsdb *db, const char *metric, size_t metric_len,
                                       const char *type, const char *help, const char *unit);
void vigil__tsdb_meta_free(vigil_tsdb *db);
/* A copy of all metadata: the array and one block of strings, both freed with vigil__free. */
vigil_status vigil__tsdb_meta_copy(vigil_tsdb *db, vigil_tsdb_metadata **out, size_t *n,
                                   char **strings);

/* scrape.c */
vigil_status vigil__tsdb_scrape_cache_for(vigil__tsdb_scrape_cache **list, vigil_registry *reg,
                                          vigil__tsdb_scrape_cache **out);
vigil_status vigil__tsdb_scrape_run(vigil_tsdb *db, vigil__tsdb_scrape_cache *cache,
                                    vigil_registry *reg, int64_t t_ms);
void vigil__tsdb_scrape_caches_free(vigil__tsdb_scrape_cache *c);

#endif
