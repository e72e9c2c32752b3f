/* shard.c — which per-thread shard the calling thread writes to.
 *
 * A thread claims one of the exclusive shards 1..vigil__shards-1 on its first counter or
 * histogram update (a compare-and-swap on a bitmap: no lock, no allocation, no system call) and
 * releases it from a thread-specific-data destructor when it exits, so the next thread can take
 * it over. Values already written stay in the shard and keep counting towards the total: the new
 * owner continues from them. When every exclusive shard is taken, a thread uses shard 0 with
 * atomic adds, which is still lock-free, only shared.
 *
 * How many shards: every shard costs 8 bytes per counter, and no more threads than CPUs can
 * write at the same instant, so we take twice the CPU count (threads outnumber CPUs, and an idle
 * thread keeps its shard), at least 3 and at most 31 exclusive ones.
 */
#include <pthread.h>
#include <unistd.h>

#include "metrics/metrics_int.h"

VIGIL_API _Thread_local long vigil__shard_offset __attribute__((tls_model("initial-exec"))) = -1;
static _Thread_local unsigned shard_index __attribute__((tls_model("initial-exec")));

unsigned vigil__shards = 4;
static _Atomic uint32_t claimed; /* bit i: exclusive shard i is owned by a live thread */
static pthread_key_t release_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

_Static_assert(VIGIL__MAX_SHARDS <= 32, "shard bitmap is 32 bits wide");

void vigil__epoch_thread_exit(unsigned shard);
void vigil__epoch_init(void);

static void release_shard(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    vigil__epoch_thread_exit(i);
    vigil__shard_offset = -1;
    shard_index = 0;
    atomic_fetch_and_explicit(&claimed, ~(1u << i), memory_order_release);
}

static void init(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    long exclusive = cpus > 0 ? 2 * cpus : 3;
    if (exclusive < 3)
        exclusive = 3;
    if (exclusive > VIGIL__MAX_SHARDS - 1)
        exclusive = VIGIL__MAX_SHARDS - 1;
    vigil__shards = (unsigned)exclusive + 1;
    (void)pthread_key_create(&release_key, release_shard);
    vigil__epoch_init();
}

void vigil__shards_init(void)
{
    pthread_once(&init_once, init);
}

long vigil__shard_claim(void)
{
    vigil__shards_init();
    uint32_t bits = atomic_load_explicit(&claimed, memory_order_relaxed);
    for (;;) {
        unsigned i = 1;
        while (i < vigil__shards && (bits & (1u << i)))
            i++;
        if (i == vigil__shards) {
            shard_index = 0;
            vigil__shard_offset = 0;
            return 0;
        }
        /* Acquire pairs with the release in release_shard: the previous owner's plain writes
         * to this shard happen before ours. */
        if (atomic_compare_exchange_weak_explicit(&claimed, &bits, bits | (1u << i),
                                                  memory_order_acquire, memory_order_relaxed)) {
            shard_index = i;
            vigil__shard_offset = (long)i * VIGIL__BLOCK_SLOTS;
            (void)pthread_setspecific(release_key, (void *)(uintptr_t)i);
            return vigil__shard_offset;
        }
    }
}

unsigned vigil__shard_index(void)
{
    (void)vigil__shard();
    return shard_index;
}

VIGIL_API void vigil__cell_add_slow(_Atomic uint64_t *cell0, uint64_t n)
{
    long off = vigil__shard();
    if (off == 0) {
        atomic_fetch_add_explicit(cell0, n, memory_order_relaxed);
        return;
    }
    _Atomic uint64_t *c = cell0 + off;
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
