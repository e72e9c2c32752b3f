/* bus.c — the event bus: a bounded multi-producer ring (Dmitry Vyukov's MPMC queue with a
 * sequence number per slot), one dispatcher thread, and the hook lists.
 *
 * Publishers only CAS a position and copy the event into a slot, so publishing never blocks on
 * another publisher's hook or on the dispatcher, and never allocates: the ring is taken at
 * creation. A full ring is a drop, counted, never a wait. The dispatcher is woken through a
 * semaphore only when it said it was about to sleep, so a busy bus costs no syscall per event.
 *
 * Hooks live in one list per type plus a catch-all list under hooks_lock, which is never held
 * while a hook runs. A running hook is pinned by its `running` count: removal marks it, waits
 * for the count to reach zero and only then unlinks and frees it, so an iterator that released
 * the lock around a call can always continue from the hook it called. That is what lets
 * vigil_event_hook_remove promise that the hook is no longer running when it returns. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "events/events_int.h"

#define CAPACITY_MAX ((size_t)1 << 24)
#define RECENT_MAX ((size_t)1 << 20)
#define IDLE_WAIT_NS 100000000L /* the dispatcher re-checks the ring at least every 100 ms */

/* The hook calls in progress on this thread, innermost first: a hook that removes itself (or a
 * hook that encloses it, on a synchronous bus) must not wait for its own call to end. */
typedef struct call_frame {
    const vigil__event_hook *hook;
    const struct call_frame *up;
} call_frame;
static __thread const call_frame *current_calls;

static bool called_here(const vigil__event_hook *h)
{
    for (const call_frame *f = current_calls; f != NULL; f = f->up)
        if (f->hook == h)
            return true;
    return false;
}

VIGIL_API void vigil_event_bus_options_init(vigil_event_bus_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->capacity = 4096;
    opts->recent = 100;
}

VIGIL_API vigil_status vigil_event_bus_new(const vigil_event_bus_options *opts,
                                           vigil_event_bus **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "event bus: out is NULL");
    *out = NULL;
    vigil_event_bus_options o;
    vigil_event_bus_options_init(&o);
    if (opts != NULL)
        o = *opts;
    if (!o.synchronous && (o.capacity < 2 || (o.capacity & (o.capacity - 1)) != 0 ||
                           o.capacity > CAPACITY_MAX))
        return vigil__fail(VIGIL_EINVAL,
                           "event bus: capacity %zu must be a power of two in 2..%zu",
                           o.capacity, CAPACITY_MAX);
    if (o.recent > RECENT_MAX)
        return vigil__fail(VIGIL_EINVAL, "event bus: recent %zu exceeds %zu", o.recent,
                           RECENT_MAX);

    vigil_event_bus *bus = vigil__calloc(1, sizeof *bus);
    if (bus == NULL)
        return vigil__fail(VIGIL_ENOMEM, "event bus: out of memory");
    bus->synchronous = o.synchronous != 0;
    if (!bus->synchronous) {
        bus->slots = vigil__calloc(o.capacity, sizeof *bus->slots);
        if (bus->slots == NULL)
            goto nomem;
        bus->mask = o.capacity - 1;
        for (size_t i = 0; i < o.capacity; i++)
            atomic_init(&bus->slots[i].seq, i);
    }
    if (o.recent > 0) {
        bus->recent = vigil__calloc(o.recent, sizeof *bus->recent);
        if (bus->recent == NULL)
            goto nomem;
        bus->recent_cap = o.recent;
    }
    atomic_init(&bus->next_seq, 1);
    bus->next_hook_id = 1;
    if (sem_init(&bus->wake, 0, 0) != 0)
        goto nomem;
    pthread_mutex_init(&bus->hooks_lock, NULL);
    pthread_cond_init(&bus->hooks_idle, NULL);
    pthread_mutex_init(&bus->recent_lock, NULL);
    *out = bus;
    return VIGIL_OK;
nomem:
    vigil__free(bus->recent);
    vigil__free(bus->slots);
    vigil__free(bus);
    return vigil__fail(VIGIL_ENOMEM, "event bus: out of memory");
}

/* --- ring ------------------------------------------------------------------------------------ */

static bool ring_push(vigil_event_bus *bus, const vigil_event *ev)
{
    size_t pos = atomic_load_explicit(&bus->enqueue_pos, memory_order_relaxed);
    vigil__event_slot *slot;
    for (;;) {
        slot = &bus->slots[pos & bus->mask];
        size_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)pos;
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&bus->enqueue_pos, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return false; /* the slot still holds an event from the previous lap: full */
        } else {
            pos = atomic_load_explicit(&bus->enqueue_pos, memory_order_relaxed);
        }
    }
    memcpy(&slot->ev, ev, sizeof *ev);
    atomic_store_explicit(&slot->seq, pos + 1, memory_order_release);
    return true;
}

static bool ring_pop(vigil_event_bus *bus, vigil_event *ev)
{
    size_t pos = atomic_load_explicit(&bus->dequeue_pos, memory_order_relaxed);
    vigil__event_slot *slot;
    for (;;) {
        slot = &bus->slots[pos & bus->mask];
        size_t seq = atomic_load_explicit(&slot->seq, memory_order_acquire);
        intptr_t diff = (intptr_t)seq - (intptr_t)(pos + 1);
        if (diff == 0) {
            if (atomic_compare_exchange_weak_explicit(&bus->dequeue_pos, &pos, pos + 1,
                                                      memory_order_relaxed,
                                                      memory_order_relaxed))
                break;
        } else if (diff < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&bus->dequeue_pos, memory_order_relaxed);
        }
    }
    memcpy(ev, &slot->ev, sizeof *ev);
    atomic_store_explicit(&slot->seq, pos + bus->mask + 1, memory_order_release);
    return true;
}

static bool ring_ready(vigil_event_bus *bus)
{
    size_t pos = atomic_load_explicit(&bus->dequeue_pos, memory_order_relaxed);
    size_t seq = atomic_load_explicit(&bus->slots[pos & bus->mask].seq, memory_order_acquire);
    return seq == pos + 1;
}

/* --- hooks ----------------------------------------------------------------------------------- */

static size_t list_index(vigil_event_type type)
{
    return type == VIGIL_EVENT_ANY ? VIGIL_EVENT_TYPE_COUNT : (size_t)type;
}

VIGIL_API vigil_status vigil_event_hook_add(vigil_event_bus *bus, vigil_event_type type,
                                            vigil_event_hook_fn fn, void *user, uint64_t *id)
{
    if (bus == NULL || fn == NULL)
        return vigil__fail(VIGIL_EINVAL, "event hook: bus or function is NULL");
    if (type != VIGIL_EVENT_ANY && (type < 0 || type >= VIGIL_EVENT_TYPE_COUNT))
        return vigil__fail(VIGIL_EINVAL, "event hook: unknown event type %d", (int)type);
    vigil__event_hook *h = vigil__calloc(1, sizeof *h);
    if (h == NULL)
        return vigil__fail(VIGIL_ENOMEM, "event hook: out of memory");
    h->fn = fn;
    h->user = user;
    pthread_mutex_lock(&bus->hooks_lock);
    h->id = bus->next_hook_id++;
    vigil__event_hook **p = &bus->hooks[list_index(type)];
    while (*p != NULL)
        p = &(*p)->next;
    *p = h;
    pthread_mutex_unlock(&bus->hooks_lock);
    if (id != NULL)
        *id = h->id;
    return VIGIL_OK;
}

/* hooks_lock held; h has running == 0, so no iterator points at it. */
static void unlink_hook(vigil_event_bus *bus, vigil__event_hook *h)
{
    for (size_t i = 0; i <= VIGIL_EVENT_TYPE_COUNT; i++)
        for (vigil__event_hook **p = &bus->hooks[i]; *p != NULL; p = &(*p)->next)
            if (*p == h) {
                *p = h->next;
                vigil__free(h);
                return;
            }
}

VIGIL_API vigil_status vigil_event_hook_remove(vigil_event_bus *bus, uint64_t id)
{
    if (bus == NULL)
        return vigil__fail(VIGIL_EINVAL, "event hook: bus is NULL");
    pthread_mutex_lock(&bus->hooks_lock);
    vigil__event_hook *h = NULL;
    for (size_t i = 0; i <= VIGIL_EVENT_TYPE_COUNT && h == NULL; i++)
        for (vigil__event_hook *q = bus->hooks[i]; q != NULL; q = q->next)
            if (q->id == id && !q->removed) {
                h = q;
                break;
            }
    if (h == NULL) {
        pthread_mutex_unlock(&bus->hooks_lock);
        return vigil__fail(VIGIL_ENOTFOUND, "event hook %llu: not registered",
                           (unsigned long long)id);
    }
    h->removed = true;
    if (called_here(h)) {
        h->orphan = true; /* its last running call frees it */
    } else {
        while (h->running > 0)
            pthread_cond_wait(&bus->hooks_idle, &bus->hooks_lock);
        unlink_hook(bus, h);
    }
    pthread_mutex_unlock(&bus->hooks_lock);
    return VIGIL_OK;
}

static vigil__event_hook *first_live(vigil__event_hook *h)
{
    while (h != NULL && h->removed)
        h = h->next;
    return h;
}

static void run_hooks(vigil_event_bus *bus, size_t list, const vigil_event *ev)
{
    pthread_mutex_lock(&bus->hooks_lock);
    vigil__event_hook *h = first_live(bus->hooks[list]);
    while (h != NULL) {
        h->running++;
        pthread_mutex_unlock(&bus->hooks_lock);

        call_frame frame = {h, current_calls};
        current_calls = &frame;
        vigil_status st = h->fn(ev, h->user);
        current_calls = frame.up;
        if (st != VIGIL_OK)
            atomic_fetch_add_explicit(&bus->hook_errors[ev->type], 1, memory_order_relaxed);

        pthread_mutex_lock(&bus->hooks_lock);
        h->running--;
        vigil__event_hook *next = first_live(h->next);
        if (h->removed && h->running == 0) {
            if (h->orphan)
                unlink_hook(bus, h);
            else
                pthread_cond_broadcast(&bus->hooks_idle);
        }
        h = next;
    }
    pthread_mutex_unlock(&bus->hooks_lock);
}

static void remember(vigil_event_bus *bus, const vigil_event *ev)
{
    if (bus->recent_cap == 0)
        return;
    pthread_mutex_lock(&bus->recent_lock);
    bus->recent[bus->recent_head] = *ev;
    bus->recent_head = (bus->recent_head + 1) % bus->recent_cap;
    if (bus->recent_len < bus->recent_cap)
        bus->recent_len++;
    pthread_mutex_unlock(&bus->recent_lock);
}

static void dispatch(vigil_event_bus *bus, const vigil_event *ev)
{
    remember(bus, ev);
    run_hooks(bus, (size_t)ev->type, ev);
    run_hooks(bus, VIGIL_EVENT_TYPE_COUNT, ev);
    atomic_fetch_add_explicit(&bus->delivered, 1, memory_order_relaxed);
}

VIGIL_API size_t vigil_event_bus_recent(vigil_event_bus *bus, vigil_event *out, size_t cap)
{
    if (bus == NULL || out == NULL)
        return 0;
    pthread_mutex_lock(&bus->recent_lock);
    size_t n = bus->recent_len < cap ? bus->recent_len : cap;
    /* the newest n, oldest first */
    size_t start = (bus->recent_head + bus->recent_cap - n) % (bus->recent_cap ? bus->recent_cap : 1);
    for (size_t i = 0; i < n; i++)
        out[i] = bus->recent[(start + i) % bus->recent_cap];
    pthread_mutex_unlock(&bus->recent_lock);
    return n;
}

/* --- dispatcher ------------------------------------------------------------------------------ */

static void *dispatcher_main(void *arg)
{
    vigil_event_bus *bus = arg;
    vigil_event ev;
    for (;;) {
        if (ring_pop(bus, &ev)) {
            dispatch(bus, &ev);
            continue;
        }
        if (atomic_load(&bus->stopping))
            break;
        atomic_store(&bus->sleeping, 1);
        atomic_thread_fence(memory_order_seq_cst);
        if (ring_ready(bus) || atomic_load(&bus->stopping)) {
            atomic_store(&bus->sleeping, 0);
            continue;
        }
        struct timespec until;
        vigil__deadline(&until, CLOCK_REALTIME, IDLE_WAIT_NS);
        while (sem_timedwait(&bus->wake, &until) != 0 && errno == EINTR)
            ;
        atomic_store(&bus->sleeping, 0);
    }
    return NULL;
}

static void wake_dispatcher(vigil_event_bus *bus)
{
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load_explicit(&bus->sleeping, memory_order_relaxed) &&
        atomic_exchange(&bus->sleeping, 0))
        sem_post(&bus->wake);
}

VIGIL_API vigil_status vigil_event_bus_start(vigil_event_bus *bus)
{
    if (bus == NULL)
        return vigil__fail(VIGIL_EINVAL, "event bus: NULL");
    if (bus->synchronous)
        return VIGIL_OK;
    if (bus->running)
        return vigil__fail(VIGIL_ESTATE, "event bus: already started");
    atomic_store(&bus->stopping, 0);
    int rc = pthread_create(&bus->thread, NULL, dispatcher_main, bus);
    if (rc != 0)
        return vigil__fail(VIGIL_EIO, "event bus: cannot start the dispatcher: %s",
                           strerror(rc));
    bus->running = true;
    return VIGIL_OK;
}

VIGIL_API void vigil_event_bus_stop(vigil_event_bus *bus)
{
    if (bus == NULL || !bus->running)
        return;
    atomic_store(&bus->stopping, 1);
    sem_post(&bus->wake);
    pthread_join(bus->thread, NULL);
    bus->running = false;
}

VIGIL_API void vigil_event_bus_free(vigil_event_bus *bus)
{
    if (bus == NULL)
        return;
    vigil_event_bus_stop(bus);
    for (size_t i = 0; i <= VIGIL_EVENT_TYPE_COUNT; i++) {
        vigil__event_hook *h = bus->hooks[i];
        while (h != NULL) {
            vigil__event_hook *next = h->next;
            vigil__free(h);
            h = next;
        }
    }
    sem_destroy(&bus->wake);
    pthread_mutex_destroy(&bus->hooks_lock);
    pthread_cond_destroy(&bus->hooks_idle);
    pthread_mutex_destroy(&bus->recent_lock);
    vigil__free(bus->recent);
    vigil__free(bus->slots);
    vigil__free(bus);
}

/* --- publishing ------------------------------------------------------------------------------ */

VIGIL_API vigil_status vigil_event_publish(vigil_event_bus *bus, const vigil_event *src)
{
    if (bus == NULL || src == NULL)
        return vigil__fail(VIGIL_EINVAL, "event publish: NULL argument");
    if (src->type < 0 || src->type >= VIGIL_EVENT_TYPE_COUNT)
        return vigil__fail(VIGIL_EINVAL, "event publish: unknown event type %d", (int)src->type);
    if (src->field_count > VIGIL_EVENT_FIELDS_MAX)
        return vigil__fail(VIGIL_EINVAL, "event publish: %u fields, at most %d",
                           (unsigned)src->field_count, VIGIL_EVENT_FIELDS_MAX);
    vigil_event ev = *src;
    ev.time_ms = vigil__now_ms();
    ev.mono_ns = vigil__mono_ns();
    ev.seq = atomic_fetch_add_explicit(&bus->next_seq, 1, memory_order_relaxed);
    if (bus->synchronous) {
        atomic_fetch_add_explicit(&bus->published[ev.type], 1, memory_order_relaxed);
        dispatch(bus, &ev);
        return VIGIL_OK;
    }
    if (!ring_push(bus, &ev)) {
        atomic_fetch_add_explicit(&bus->dropped, 1, memory_order_relaxed);
        return vigil__fail(VIGIL_ELIMIT, "event %s dropped: the ring of %zu events is full",
                           vigil_event_type_name(ev.type), bus->mask + 1);
    }
    atomic_fetch_add_explicit(&bus->published[ev.type], 1, memory_order_relaxed);
    wake_dispatcher(bus);
    return VIGIL_OK;
}

VIGIL_API void vigil_event_bus_stats_read(vigil_event_bus *bus, vigil_event_bus_stats *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (bus == NULL)
        return;
    for (size_t i = 0; i < VIGIL_EVENT_TYPE_COUNT; i++) {
        out->published[i] = atomic_load_explicit(&bus->published[i], memory_order_relaxed);
        out->hook_errors[i] = atomic_load_explicit(&bus->hook_errors[i], memory_order_relaxed);
    }
    out->dropped = atomic_load_explicit(&bus->dropped, memory_order_relaxed);
    out->delivered = atomic_load_explicit(&bus->delivered, memory_order_relaxed);
    if (!bus->synchronous) {
        size_t in = atomic_load_explicit(&bus->enqueue_pos, memory_order_relaxed);
        size_t outp = atomic_load_explicit(&bus->dequeue_pos, memory_order_relaxed);
        out->queued = in >= outp ? in - outp : 0;
    }
}
