/* gauge.c — gauges: one atomic word holding the bits of a double. A gauge is "last write wins",
 * which per-thread cells cannot express, so set is a plain atomic store and add a
 * compare-and-swap loop (lock-free; it retries only when another thread wrote in between). */
#include "metrics/metrics_int.h"

#define CHILD(g) ((vigil__child *)(g))

VIGIL_API void vigil_gauge_set(vigil_gauge *g, double v)
{
    atomic_store_explicit(&CHILD(g)->word, vigil__d2u(v), memory_order_relaxed);
}

VIGIL_API void vigil_gauge_add(vigil_gauge *g, double v)
{
    vigil__atomic_add_double(&CHILD(g)->word, v);
}

VIGIL_API void vigil_gauge_sub(vigil_gauge *g, double v)
{
    vigil__atomic_add_double(&CHILD(g)->word, -v);
}

VIGIL_API void vigil_gauge_inc(vigil_gauge *g)
{
    vigil__atomic_add_double(&CHILD(g)->word, 1);
}

VIGIL_API void vigil_gauge_dec(vigil_gauge *g)
{
    vigil__atomic_add_double(&CHILD(g)->word, -1);
}

VIGIL_API void vigil_gauge_set_to_current_time(vigil_gauge *g)
{
    vigil_gauge_set(g, vigil__now_seconds());
}

VIGIL_API double vigil_gauge_value(const vigil_gauge *g)
{
    return vigil__u2d(atomic_load_explicit(&CHILD(g)->word, memory_order_relaxed));
}
