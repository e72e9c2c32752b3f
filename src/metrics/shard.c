/* shard.c — which per-thread shard the calling thread writes to.
 *
 * A thread claims one of the exclusive shards 1..VIGIL__SHARDS-1 on its first counter or
 * histogram update (a compare-and-swap on a bitmap: no lock, no allocation, no system call) and
 * releases it from a thread-specific-data destructor when it exits, so the next thread can take
 * it over. Values already written stay in the shard and keep counting towards the total: the new
 * owner continues from them. When every exclusive shard is taken, a thread uses shard 0 with
 * atomic adds, which is still lock-free, only shared.
 */
#include <pthread.h>

#include "metrics/metrics_int.h"

_Thread_local long vigil__shard_offset __attribute__((tls_model("initial-exec"))) = -1;
static _Thread_local unsigned shard_index;

static _Atomic uint32_t claimed; /* bit i: exclusive shard i is owned by a live thread */
static pthread_key_t release_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

_Static_assert(VIGIL__SHARDS <= 32, "shard bitmap is 32 bits wide");

void vigil__epoch_thread_exit(unsigned shard);

static void release_shard(void *arg)
{
    unsigned i = (unsigned)(uintptr_t)arg;
    vigil__epoch_thread_exit(i);
    vigil__shard_offset = -1;
    shard_index = 0;
    atomic_fetch_and_explicit(&claimed, ~(1u << i), memory_order_release);
}

static void make_key(void)
{
    (void)pthread_key_create(&release_key, release_shard);
}

long vigil__shard_claim(void)
{
    pthread_once(&key_once, make_key);
    uint32_t bits = atomic_load_explicit(&claimed, memory_order_relaxed);
    for (;;) {
        unsigned i = 1;
        while (i < VIGIL__SHARDS && (bits & (1u << i)))
            i++;
        if (i == VIGIL__SHARDS) {
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
