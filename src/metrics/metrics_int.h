/* metrics_int.h — the metrics module's private structures.
 *
 * Locks, and what each guards (none is ever taken on the hot path):
 *   registry->lock  the family list and name table, collectors, global labels; held for a
 *                   whole collection so registration waits for a scrape in progress.
 *   family->lock    the child list, the child table's contents and the retire list; lookups of
 *                   existing children read the table without it (see epoch.c).
 */
#ifndef VIGIL_METRICS_INT_H
#define VIGIL_METRICS_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core_int.h"
#include "metrics/sink.h"
#include "vigil/metrics.h"

/* --- per-thread shards (shard.c) ------------------------------------------------------------
 * Counters and histograms keep one cell per shard. Shard 0 is shared and updated with atomic
 * read-modify-writes; shards 1..vigil__shards-1 are each owned by one thread at a time, which
 * updates its cells with a plain load and store: no lock prefix, no cache-line sharing. A thread
 * claims a shard on its first update and gives it back when it exits; threads beyond the shard
 * count use shard 0. Readers sum all shards. The shard count is fixed at first use from the
 * number of CPUs (see shard.c), since that bounds how many threads can really write at once. */
#define VIGIL__MAX_SHARDS 32
#define VIGIL__BLOCK_SLOTS 512 /* cells per shard in one block: 4 KiB */

/* Number of shards including the shared one; valid after vigil__shards_init(). */
extern unsigned vigil__shards;
void vigil__shards_init(void);

/* This thread's offset (in cells) from a cell's shard-0 address to its own shard's cell;
 * 0 means shard 0 (shared), -1 not yet claimed. */
VIGIL_API extern _Thread_local long vigil__shard_offset
    __attribute__((tls_model("initial-exec")));
long vigil__shard_claim(void);
/* Index of this thread's shard (0 for the shared one), claiming if needed. */
unsigned vigil__shard_index(void);
/* The rare cases of vigil__cell_add: not yet claimed, or on the shared shard. Kept out of line
 * so the common path is a handful of instructions with no stack frame. */
VIGIL_API void vigil__cell_add_slow(_Atomic uint64_t *cell0, uint64_t n);

static inline long vigil__shard(void)
{
    long off = vigil__shard_offset;
    if (VIGIL_UNLIKELY(off < 0))
        off = vigil__shard_claim();
    return off;
}

static inline void vigil__cell_add(_Atomic uint64_t *cell0, uint64_t n)
{
    long off = vigil__shard_offset;
    if (VIGIL_UNLIKELY(off <= 0)) {
        vigil__cell_add_slow(cell0, n);
        return;
    }
    _Atomic uint64_t *c = cell0 + off;
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline uint64_t vigil__d2u(double d)
{
    union { double d; uint64_t u; } x = {.d = d};
    return x.u;
}

static inline double vigil__u2d(uint64_t u)
{
    union { uint64_t u; double d; } x = {.u = u};
    return x.d;
}

/* Adds to a double kept as bits in a cell (CAS on the shared shard, plain on an owned one). */
static inline void vigil__cell_add_double(_Atomic uint64_t *cell0, double v)
{
    long off = vigil__shard();
    _Atomic uint64_t *c = cell0 + off;
    uint64_t old = atomic_load_explicit(c, memory_order_relaxed);
    if (VIGIL_LIKELY(off != 0)) {
        atomic_store_explicit(c, vigil__d2u(vigil__u2d(old) + v), memory_order_relaxed);
        return;
    }
    while (!atomic_compare_exchange_weak_explicit(c, &old, vigil__d2u(vigil__u2d(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* Adds to a double kept as bits in one atomic word (gauges, fractional counter adds). */
static inline void vigil__atomic_add_double(_Atomic uint64_t *w, double v)
{
    uint64_t old = atomic_load_explicit(w, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(w, &old, vigil__d2u(vigil__u2d(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* --- cell arena (cells.c) ------------------------------------------------------------------ */
/* Allocates n (1..VIGIL__BLOCK_SLOTS) consecutive zeroed cells in every shard; returns the
 * shard-0 address of the first, or NULL (ENOMEM). */
_Atomic uint64_t *vigil__cells_alloc(size_t n);
/* Zeroes the cells in every shard and makes them available again. */
void vigil__cells_release(_Atomic uint64_t *cell0, size_t n);
/* The sum over all shards of one cell. */
uint64_t vigil__cells_sum(const _Atomic uint64_t *cell0);
double vigil__cells_sum_double(const _Atomic uint64_t *cell0);
/* Bytes of cell memory allocated so far (for the memory figures). */
size_t vigil__cells_bytes(void);

/* --- epochs (epoch.c): safe memory reclamation for lock-free child lookups -----------------
 * A lookup brackets its reads with enter/exit; memory unlinked by a writer is "retired" with the
 * current epoch and freed only once every thread inside a lookup entered after that epoch. */
/* Returns the caller's announcement word, or NULL for a thread on the shared shard; pass it to
 * vigil__epoch_exit. */
_Atomic uint64_t *vigil__epoch_enter(void);
void vigil__epoch_exit_shared(void);
static inline void vigil__epoch_exit(_Atomic uint64_t *announced)
{
    if (VIGIL_LIKELY(announced != NULL))
        atomic_store_explicit(announced, 0, memory_order_release);
    else
        vigil__epoch_exit_shared();
}
/* Advances the global epoch and returns the epoch that retired items must be tagged with. */
uint64_t vigil__epoch_retire_tag(void);
/* Makes every lookup's announcement visible to this thread; call before vigil__epoch_safe. */
void vigil__epoch_sync(void);
/* True when nothing retired at `tag` can still be read by a lookup. */
bool vigil__epoch_safe(uint64_t tag);

/* --- children and families ---------------------------------------------------------------- */
typedef struct vigil__child {
    /* Family order (creation), guarded by family->lock. Once the child is unlinked and retired
     * no list walk can reach it, so `next` then chains the retire list. */
    _Atomic uint64_t *cells; /* first, by ABI: counter: 1 cell; histogram: buckets+1, 1 sum */
    struct vigil__child *next, *prev;
    uint64_t hash;           /* of the label values; read by lock-free lookups */
    union {
        _Atomic uint64_t word;             /* gauge value / counter fractional part (bits) */
        const struct vigil_family *family; /* histograms: their bounds live in the family */
        struct vigil_sketch_window *window; /* summaries: the quantile window */
    };
    union {
        double created;       /* Unix seconds, for _created, while linked */
        uint64_t retired_tag; /* epoch of retirement, once unlinked */
    };
    const char *values[];     /* label values, then the strings themselves */
} vigil__child;

typedef struct vigil__table {
    size_t mask;
    size_t used; /* live + tombstones, guarded by family->lock */
    struct vigil__table *retired_next;
    uint64_t retired_tag;
    _Atomic(vigil__child *) slots[];
} vigil__table;

struct vigil_family {
    vigil_registry *registry;
    vigil_metric_type type;
    char *name;   /* family name (a counter's without _total) */
    char *help;
    char *unit;
    size_t label_count;
    char **label_names;
    size_t const_count;
    char **const_names;
    char **const_values;
    size_t bucket_count;
    double *buckets;
    size_t quantile_count;  /* summaries */
    double *quantiles;
    double max_age;
    unsigned age_buckets;
    size_t cells_per_child; /* counter 1, histogram bucket_count + 2, summary 2, gauge 0 */
    size_t max_children;
    vigil_value_fn fn;      /* callback-backed: read at collection */
    void *fn_user;

    pthread_mutex_t lock;
    _Atomic(vigil__table *) table;
    vigil__table *retired_tables;
    vigil__child *retired_children;
    size_t retired_count;
    vigil__child *head, *tail;
    _Atomic size_t child_count;
    _Atomic uint64_t refused;
};

struct vigil__collector {
    char *name;
    vigil_collect_fn fn;
    void *user;
    uint64_t errors;
};

struct vigil_registry {
    pthread_mutex_t lock;
    vigil_family **families; /* sorted by name */
    size_t family_count, family_cap;
    vigil__strmap names;     /* every exposed name (family and series names) -> family */
    struct vigil__collector **collectors;
    size_t collector_count;
    size_t global_count;
    char **global_names;
    char **global_values;
    size_t max_children;
};

/* family.c */
vigil_status vigil__family_create(vigil_registry *reg, vigil_metric_type type,
                                  const vigil_metric_opts *opts, vigil_family **out);
void vigil__family_destroy(vigil_family *fam);
vigil_status vigil__family_child(vigil_family *fam, size_t count, const char *const *values,
                                 vigil__child **out);
/* Frees retired children and tables that no lookup can still see. Caller holds fam->lock. */
void vigil__family_reclaim(vigil_family *fam);

/* names.c */
vigil_status vigil__check_name(const char *what, const char *name);
vigil_status vigil__check_label(const char *name, vigil_metric_type type);
/* The family name for a registration: strips a counter's "_total". Returns a new string. */
char *vigil__family_name(vigil_metric_type type, const char *name);

/* histogram.c */
vigil_status vigil__check_buckets(const double *b, size_t n);
void vigil__histogram_read(const vigil_family *fam, const vigil__child *ch,
                           vigil_histogram_snapshot *out);

/* summary.c */
vigil_status vigil__summary_configure(vigil_family *fam, const vigil_metric_opts *opts);
vigil_status vigil__summary_child_init(const vigil_family *fam, vigil__child *c);
void vigil__summary_child_free(vigil__child *c);
struct vigil_sketch;
/* Fills values[] with the family's quantiles over c's window; scratch is a caller's sketch. */
void vigil__summary_read(const vigil_family *fam, const vigil__child *c,
                         struct vigil_sketch *scratch, double *values, uint64_t *count,
                         double *sum);

/* counter.c */
double vigil__counter_read(const vigil__child *ch, bool *is_int, uint64_t *ivalue);

/* collect.c */
vigil_status vigil__collect_collectors(vigil_registry *reg, const vigil__sink *sink,
                                       vigil__strmap *seen);

#endif
