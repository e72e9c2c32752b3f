/* cells.c — the arena that holds counter and histogram cells for every shard.
 *
 * A block holds VIGIL__BLOCK_SLOTS cells for each of the vigil__shards shards, shard-major:
 * a metric's cell for shard s sits s * VIGIL__BLOCK_SLOTS cells after its shard-0 cell. So one
 * thread's cells for many metrics share cache lines (good: only that thread writes them) while
 * two threads' cells for the same metric never do. The hot path computes its cell as
 * `cell0 + thread offset`, one add. Blocks are never returned to the system while the process
 * runs: a late write through a stale handle lands in zeroed, owned memory rather than in freed
 * memory. Released ranges are reused by size.
 */
#include <pthread.h>
#include <string.h>

#include "metrics/metrics_int.h"

typedef struct block {
    struct block *next;
    size_t used;
    _Atomic uint64_t *cells; /* 64-byte aligned, vigil__shards * VIGIL__BLOCK_SLOTS */
    void *raw;
} block;

typedef struct free_list {
    size_t n;        /* range length */
    size_t count, cap;
    _Atomic uint64_t **items;
} free_list;

static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static block *current;
static free_list *free_lists;
static size_t free_list_count;
static size_t arena_bytes;

static free_list *list_for(size_t n, bool create)
{
    for (size_t i = 0; i < free_list_count; i++) {
        if (free_lists[i].n == n)
            return &free_lists[i];
    }
    if (!create)
        return NULL;
    free_list *nl = vigil__realloc(free_lists, (free_list_count + 1) * sizeof *nl);
    if (nl == NULL)
        return NULL;
    free_lists = nl;
    free_lists[free_list_count] = (free_list){.n = n};
    return &free_lists[free_list_count++];
}

static block *new_block(void)
{
    size_t bytes = sizeof(_Atomic uint64_t) * vigil__shards * VIGIL__BLOCK_SLOTS;
    block *b = vigil__calloc(1, sizeof *b);
    void *raw = b ? vigil__calloc(1, bytes + 64) : NULL;
    if (raw == NULL) {
        vigil__free(b);
        return NULL;
    }
    b->raw = raw;
    b->cells = (_Atomic uint64_t *)(((uintptr_t)raw + 63) & ~(uintptr_t)63);
    b->next = current;
    arena_bytes += bytes + 64 + sizeof *b;
    return b;
}

_Atomic uint64_t *vigil__cells_alloc(size_t n)
{
    if (n == 0 || n > VIGIL__BLOCK_SLOTS)
        return NULL;
    _Atomic uint64_t *cell0 = NULL;
    vigil__shards_init(); /* fixes the block layout before the first block exists */
    pthread_mutex_lock(&arena_lock);
    free_list *fl = list_for(n, false);
    if (fl != NULL && fl->count > 0) {
        cell0 = fl->items[--fl->count];
    } else {
        if (current == NULL || current->used + n > VIGIL__BLOCK_SLOTS) {
            block *b = new_block();
            if (b != NULL)
                current = b;
        }
        if (current != NULL && current->used + n <= VIGIL__BLOCK_SLOTS) {
            cell0 = current->cells + current->used;
            current->used += n;
        }
    }
    pthread_mutex_unlock(&arena_lock);
    return cell0;
}

void vigil__cells_release(_Atomic uint64_t *cell0, size_t n)
{
    if (cell0 == NULL)
        return;
    for (size_t s = 0; s < vigil__shards; s++) {
        for (size_t i = 0; i < n; i++)
            atomic_store_explicit(cell0 + s * VIGIL__BLOCK_SLOTS + i, 0, memory_order_relaxed);
    }
    pthread_mutex_lock(&arena_lock);
    free_list *fl = list_for(n, true);
    if (fl != NULL && fl->count == fl->cap) {
        size_t ncap = fl->cap ? fl->cap * 2 : 64;
        _Atomic uint64_t **ni = vigil__realloc(fl->items, ncap * sizeof *ni);
        if (ni != NULL) {
            fl->items = ni;
            fl->cap = ncap;
        }
    }
    /* Out of memory for the free list only means these cells are not reused. */
    if (fl != NULL && fl->count < fl->cap)
        fl->items[fl->count++] = cell0;
    pthread_mutex_unlock(&arena_lock);
}

uint64_t vigil__cells_sum(const _Atomic uint64_t *cell0)
{
    uint64_t sum = 0;
    for (size_t s = 0; s < vigil__shards; s++)
        sum += atomic_load_explicit(cell0 + s * VIGIL__BLOCK_SLOTS, memory_order_relaxed);
    return sum;
}

double vigil__cells_sum_double(const _Atomic uint64_t *cell0)
{
    double sum = 0;
    for (size_t s = 0; s < vigil__shards; s++)
        sum += vigil__u2d(atomic_load_explicit(cell0 + s * VIGIL__BLOCK_SLOTS,
                                               memory_order_relaxed));
    return sum;
}

size_t vigil__cells_bytes(void)
{
    pthread_mutex_lock(&arena_lock);
    size_t b = arena_bytes;
    pthread_mutex_unlock(&arena_lock);
    return b;
}
