/* demo.h — the two small things every part of the demo shares: a monotonic clock and a stop
 * signal that a thread can both test and wait on in poll(). */
#ifndef DEMO_H
#define DEMO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static inline uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Milliseconds from now until deadline_ns for poll(): 0 when past, at most cap_ms. */
static inline int ms_until(uint64_t deadline_ns, uint64_t now_ns, int cap_ms)
{
    if (deadline_ns <= now_ns)
        return 0;
    uint64_t ms = (deadline_ns - now_ns + 999999) / 1000000;
    return ms > (uint64_t)cap_ms ? cap_ms : (int)ms;
}

/* A stop signal: an eventfd that becomes readable (for good) when raised, so threads blocked
 * in poll() wake at once, plus a flag for threads that only need to look. */
typedef struct demo_stop {
    int fd;
    atomic_bool raised;
} demo_stop;

static inline int stop_init(demo_stop *s)
{
    atomic_init(&s->raised, false);
    s->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return s->fd < 0 ? -1 : 0;
}

static inline void stop_raise(demo_stop *s)
{
    atomic_store(&s->raised, true);
    uint64_t one = 1;
    ssize_t n = write(s->fd, &one, sizeof one);
    (void)n; /* only fails when the counter would overflow: it is readable already */
}

static inline bool stop_raised(demo_stop *s)
{
    return atomic_load(&s->raised);
}

static inline void stop_destroy(demo_stop *s)
{
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

#endif
