/* events_int.h — the event bus as its two files see it: bus.c (ring, dispatcher, hooks,
 * publishing) and view.c (names, formatting, the log hook, JSON and metrics of what the bus has
 * seen). Nothing here is exported. */
#ifndef VIGIL_EVENTS_INT_H
#define VIGIL_EVENTS_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "vigil/events.h"

#define VIGIL__CACHE_LINE 64

/* One ring slot (Vyukov's bounded MPMC queue): seq == index when free for the producer of lap
 * `index`, index + 1 once filled, index + capacity once consumed. */
typedef struct vigil__event_slot {
    _Atomic size_t seq;
    vigil_event ev;
} vigil__event_slot;

typedef struct vigil__event_hook {
    struct vigil__event_hook *next; /* hooks_lock */
    uint64_t id;
    vigil_event_hook_fn fn;
    void *user;
    unsigned running; /* hooks_lock: calls in progress */
    bool removed;     /* hooks_lock: no new calls; freed when running drops to 0 */
    bool orphan;      /* hooks_lock: removed from inside itself; the last caller frees it */
} vigil__event_hook;

struct vigil_event_bus {
    /* Producers and the consumer each own one cache line of position. */
    _Alignas(VIGIL__CACHE_LINE) _Atomic size_t enqueue_pos;
    _Alignas(VIGIL__CACHE_LINE) _Atomic size_t dequeue_pos;
    _Alignas(VIGIL__CACHE_LINE) _Atomic uint64_t next_seq;
    _Atomic uint64_t published[VIGIL_EVENT_TYPE_COUNT];
    _Atomic uint64_t hook_errors[VIGIL_EVENT_TYPE_COUNT];
    _Atomic uint64_t dropped;
    _Atomic uint64_t delivered;

    vigil__event_slot *slots; /* immutable after new; NULL when synchronous */
    size_t mask;              /* capacity - 1 */
    bool synchronous;

    /* Dispatcher wake-up: the dispatcher sets `sleeping` before it waits on `wake`; a producer
     * that swaps it back to 0 posts once. sem_post neither blocks nor allocates. */
    _Atomic int sleeping;
    _Atomic int stopping;
    sem_t wake;
    pthread_t thread;
    bool running; /* only _start/_stop/_free, which the caller serialises */

    pthread_mutex_t hooks_lock;
    pthread_cond_t hooks_idle; /* broadcast when a removed hook's running count reaches 0 */
    vigil__event_hook *hooks[VIGIL_EVENT_TYPE_COUNT + 1]; /* [TYPE_COUNT] is the catch-all */
    uint64_t next_hook_id;                                /* hooks_lock */

    pthread_mutex_t recent_lock;
    vigil_event *recent; /* recent_lock: ring of recent_cap events */
    size_t recent_cap;
    size_t recent_head; /* recent_lock: next index written */
    size_t recent_len;  /* recent_lock */
};

#endif
