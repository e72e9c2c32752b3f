/* epoch.c — epoch-based reclamation for the lock-free child lookup.
 *
 * Lookups read a family's child table without a lock while another thread may replace the table
 * or remove a child. A reader announces the global epoch it started in; a writer tags what it
 * unlinks with the epoch it advanced from, and frees it only when no reader still announces an
 * epoch at or before that tag. Threads with an exclusive shard announce in their own cache line
 * with plain stores (so concurrent lookups never share a written line); threads on the shared
 * shard count themselves in one atomic counter, which blocks reclamation while non-zero — memory
 * then waits, it is never freed early.
 *
 * The reader's announcement must be visible before it reads the table (a store-load order that
 * normally needs a full fence, ~10 ns). Where the kernel offers membarrier(2), the reclaiming
 * writer pays instead: one expedited process-wide barrier per reclamation pass (a cold path)
 * lets every lookup go without a fence, as liburcu does. Without membarrier readers fence.
 */
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "metrics/metrics_int.h"

typedef struct {
    _Alignas(64) _Atomic uint64_t epoch; /* 0: not in a lookup */
} announce_slot;

static announce_slot announce[VIGIL__MAX_SHARDS];
static _Alignas(64) _Atomic uint64_t overflow_readers;
static _Alignas(64) _Atomic uint64_t global_epoch = 1;
static bool readers_fence = true; /* set once in vigil__epoch_init, before any lookup */

void vigil__epoch_init(void)
{
    long r = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
    readers_fence = r != 0;
}

_Atomic uint64_t *vigil__epoch_enter(void)
{
    unsigned s = vigil__shard_index();
    if (s == 0) {
        atomic_fetch_add_explicit(&overflow_readers, 1, memory_order_seq_cst);
        return NULL;
    }
    uint64_t e = atomic_load_explicit(&global_epoch, memory_order_acquire);
    atomic_store_explicit(&announce[s].epoch, e, memory_order_relaxed);
    if (readers_fence)
        atomic_thread_fence(memory_order_seq_cst);
    else
        atomic_signal_fence(memory_order_seq_cst); /* the writer's membarrier orders us */
    return &announce[s].epoch;
}

void vigil__epoch_exit_shared(void)
{
    atomic_fetch_sub_explicit(&overflow_readers, 1, memory_order_release);
}

void vigil__epoch_thread_exit(unsigned shard)
{
    if (shard > 0 && shard < VIGIL__MAX_SHARDS)
        atomic_store_explicit(&announce[shard].epoch, 0, memory_order_release);
}

uint64_t vigil__epoch_retire_tag(void)
{
    return atomic_fetch_add_explicit(&global_epoch, 1, memory_order_seq_cst);
}

void vigil__epoch_sync(void)
{
    if (!readers_fence)
        (void)syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0);
    atomic_thread_fence(memory_order_seq_cst);
}

bool vigil__epoch_safe(uint64_t tag)
{
    if (atomic_load_explicit(&overflow_readers, memory_order_acquire) != 0)
        return false;
    for (unsigned s = 1; s < vigil__shards; s++) {
        uint64_t e = atomic_load_explicit(&announce[s].epoch, memory_order_acquire);
        if (e != 0 && e <= tag)
            return false;
    }
    return true;
}
