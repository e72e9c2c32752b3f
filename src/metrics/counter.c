/* counter.c — counters: whole-number adds go to the calling thread's cell (see shard.c), so
 * threads never contend on one; fractional adds accumulate in one atomic double next to them,
 * since a per-thread double per counter would double the memory of every counter for a rare
 * use. The value is the sum of both. */
#include <math.h>
#include <stddef.h>

#include "metrics/metrics_int.h"

#define CHILD(c) ((vigil__child *)(c))

_Static_assert(offsetof(vigil__child, cells) == 0, "vigil.h inlines: cells is a counter's first word");

VIGIL_API void vigil_counter_inc(vigil_counter *c)
{
    vigil__cell_add(CHILD(c)->cells, 1);
}

VIGIL_API void vigil_counter_add_u64(vigil_counter *c, uint64_t n)
{
    vigil__cell_add(CHILD(c)->cells, n);
}

VIGIL_API vigil_status vigil_counter_add(vigil_counter *c, double v)
{
    if (VIGIL_UNLIKELY(!(v >= 0)))
        return vigil__fail(VIGIL_ENEGATIVE, "counters only go up: cannot add %g", v);
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v) {
        vigil__cell_add(CHILD(c)->cells, (uint64_t)v);
        return VIGIL_OK;
    }
    vigil__atomic_add_double(&CHILD(c)->word, v);
    return VIGIL_OK;
}

double vigil__counter_read(const vigil__child *ch, bool *is_int, uint64_t *ivalue)
{
    uint64_t whole = vigil__cells_sum(ch->cells);
    double frac = vigil__u2d(atomic_load_explicit(&ch->word, memory_order_relaxed));
    *is_int = frac == 0;
    *ivalue = whole;
    return (double)whole + frac;
}

VIGIL_API double vigil_counter_value(const vigil_counter *c)
{
    bool is_int;
    uint64_t iv;
    return vigil__counter_read(CHILD(c), &is_int, &iv);
}
