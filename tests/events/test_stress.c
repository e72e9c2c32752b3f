/* test_stress.c — hooks added and removed while several threads publish: the hook's user data is
 * freed as soon as vigil_event_hook_remove returns, so a hook called after removal (or still
 * running) reads freed memory, which ASan (and, built by hand with -fsanitize=thread, TSan)
 * reports; a magic number catches it in the plain build. Every publish is accounted for: queued
 * and delivered, or dropped and counted. Runs on both a ring bus and a synchronous bus. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "vigil/events.h"

#define PUBLISHERS 4
#define PER_PUBLISHER 20000
#define MAGIC 0x5eedf00du

typedef struct hook_data {
    unsigned magic;
    _Atomic uint64_t calls;
} hook_data;

static _Atomic int bad_calls;
static _Atomic uint64_t churn_calls;

static vigil_status churn_hook(const vigil_event *ev, void *user)
{
    (void)ev;
    hook_data *d = user;
    if (d->magic != MAGIC)
        atomic_fetch_add(&bad_calls, 1);
    atomic_fetch_add_explicit(&d->calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&churn_calls, 1, memory_order_relaxed);
    return (ev->seq & 7) == 0 ? VIGIL_ECALLBACK : VIGIL_OK;
}

static _Atomic uint64_t steady_calls;
static vigil_status steady_hook(const vigil_event *ev, void *user)
{
    (void)ev;
    (void)user;
    atomic_fetch_add_explicit(&steady_calls, 1, memory_order_relaxed);
    return VIGIL_OK;
}

typedef struct ctx {
    vigil_event_bus *bus;
    _Atomic int publishing;
    _Atomic uint64_t ok;
    _Atomic uint64_t dropped;
} ctx;

static void *publisher(void *arg)
{
    ctx *c = arg;
    for (int i = 0; i < PER_PUBLISHER; i++) {
        vigil_status st;
        switch (i % 4) {
        case 0:
            st = vigil_event_publish_message_sent(c->bus, "m", "peer", (uint64_t)i);
            break;
        case 1:
            st = vigil_event_publish_heartbeat_received(c->bus, "client-1");
            break;
        case 2:
            st = vigil_event_publish_error(c->bus, "decode", NULL);
            break;
        default: {
            vigil_event_kv kv = {"i", "x"};
            st = vigil_event_publish_custom(c->bus, "tick", &kv, 1);
            break;
        }
        }
        if (st == VIGIL_OK)
            atomic_fetch_add(&c->ok, 1);
        else if (st == VIGIL_ELIMIT)
            atomic_fetch_add(&c->dropped, 1);
        else
            atomic_fetch_add(&bad_calls, 1);
    }
    return NULL;
}

static void *churner(void *arg)
{
    ctx *c = arg;
    static const vigil_event_type types[] = {VIGIL_EVENT_ANY, VIGIL_EVENT_MESSAGE_SENT,
                                             VIGIL_EVENT_ERROR, VIGIL_EVENT_CUSTOM};
    unsigned n = 0;
    while (atomic_load(&c->publishing)) {
        hook_data *d[3];
        uint64_t ids[3];
        for (int k = 0; k < 3; k++) {
            d[k] = calloc(1, sizeof *d[k]);
            d[k]->magic = MAGIC;
            if (vigil_event_hook_add(c->bus, types[(n + (unsigned)k) % 4], churn_hook, d[k],
                                     &ids[k]) != VIGIL_OK)
                atomic_fetch_add(&bad_calls, 1);
        }
        for (int k = 0; k < 3; k++) {
            if (vigil_event_hook_remove(c->bus, ids[k]) != VIGIL_OK)
                atomic_fetch_add(&bad_calls, 1);
            d[k]->magic = 0; /* a call after removal would see this (or ASan the free) */
            free(d[k]);
        }
        n++;
    }
    return NULL;
}

static void run_stress(int synchronous)
{
    atomic_store(&bad_calls, 0);
    atomic_store(&churn_calls, 0);
    atomic_store(&steady_calls, 0);
    vigil_event_bus_options o;
    vigil_event_bus_options_init(&o);
    o.capacity = 1024;
    o.synchronous = synchronous;
    ctx c = {0};
    assert_int_equal(vigil_event_bus_new(&o, &c.bus), VIGIL_OK);
    assert_int_equal(vigil_event_hook_add(c.bus, VIGIL_EVENT_ANY, steady_hook, NULL, NULL),
                     VIGIL_OK);
    assert_int_equal(vigil_event_bus_start(c.bus), VIGIL_OK);
    atomic_store(&c.publishing, 1);
    pthread_t churn, pubs[PUBLISHERS];
    assert_int_equal(pthread_create(&churn, NULL, churner, &c), 0);
    for (int i = 0; i < PUBLISHERS; i++)
        assert_int_equal(pthread_create(&pubs[i], NULL, publisher, &c), 0);
    for (int i = 0; i < PUBLISHERS; i++)
        pthread_join(pubs[i], NULL);
    vigil_event_bus_stop(c.bus); /* drains while hooks still churn */
    atomic_store(&c.publishing, 0);
    pthread_join(churn, NULL);

    assert_int_equal(atomic_load(&bad_calls), 0);
    uint64_t ok = atomic_load(&c.ok), dropped = atomic_load(&c.dropped);
    assert_int_equal(ok + dropped, (uint64_t)PUBLISHERS * PER_PUBLISHER);
    vigil_event_bus_stats st;
    vigil_event_bus_stats_read(c.bus, &st);
    assert_int_equal(st.dropped, dropped);
    assert_int_equal(st.delivered, ok);
    assert_int_equal(atomic_load(&steady_calls), ok);
    uint64_t published = 0;
    for (int i = 0; i < VIGIL_EVENT_TYPE_COUNT; i++)
        published += st.published[i];
    assert_int_equal(published, ok);
    print_message("%s: %llu delivered, %llu dropped, %llu churned-hook calls\n",
                  synchronous ? "sync" : "ring", (unsigned long long)ok,
                  (unsigned long long)dropped, (unsigned long long)atomic_load(&churn_calls));
    if (synchronous)
        assert_int_equal(dropped, 0);
    vigil_event_bus_free(c.bus);
}

static void test_hooks_removed_while_publishing_on_a_ring_bus(void **state)
{
    (void)state;
    run_stress(0);
}

static void test_hooks_removed_while_publishing_on_a_synchronous_bus(void **state)
{
    (void)state;
    run_stress(1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hooks_removed_while_publishing_on_a_ring_bus),
        cmocka_unit_test(test_hooks_removed_while_publishing_on_a_synchronous_bus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
