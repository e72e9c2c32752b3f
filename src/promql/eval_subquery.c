/* eval_subquery.c — `expr[range:step] offset o @ t`: the inner expression evaluated over its own
 * frame of steps, turned into a range vector whose windows the outer node slides over.
 *
 * The inner steps are aligned to multiples of the step in absolute time (Prometheus starts at
 * the first multiple at or after the earliest window's start), so every outer step sees the
 * same inner timestamps whatever the query's start; one inner evaluation covers the windows of
 * all outer steps at once. */
#include <string.h>

#include "core/core_int.h"
#include "eval.h"

/* Most inner steps one subquery may have: a frame's step index must fit in 32 bits. */
#define MAX_INNER_STEPS ((size_t)1 << 31)

/* The first multiple of step at or after t (Go's truncating division, then one step up when
 * that fell below t, exactly as Prometheus computes it). */
static int64_t align_up(int64_t t, int64_t step)
{
    int64_t s = step * (t / step);
    return s < t ? s + step : s;
}

static vigil_status to_range_vector(pq_eval *ev, pq_value *in, const pq_frame *inner,
                                    pq_value *out)
{
    for (size_t i = 0; i < in->ns; i++) {
        const pq_series *s = &in->s[i];
        size_t count = 0;
        for (size_t k = 0; k < s->n; k++)
            count += s->ok == NULL || pq_bit(s->ok, k);
        if (count == 0)
            continue;
        pq_rseries *r;
        vigil_status st = vigil__pq_rseries_push(out, &r);
        if (st)
            return st;
        r->ls = s->ls;
        r->t = vigil__pq_value_alloc(out, count * sizeof *r->t);
        r->v = vigil__pq_value_alloc(out, count * sizeof *r->v);
        if (r->t == NULL || r->v == NULL)
            return vigil__pq_nomem("a subquery's range vector");
        for (size_t k = 0; k < s->n; k++) {
            if (s->ok != NULL && !pq_bit(s->ok, k))
                continue;
            r->t[r->n] = pq_frame_t(inner, s->lo + k);
            r->v[r->n++] = s->v[k];
        }
        out->points += count;
        if ((st = vigil__pq_count(ev, count)) != VIGIL_OK)
            return st;
    }
    return VIGIL_OK;
}

vigil_status vigil__pq_eval_subquery(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                     pq_value **out)
{
    const int64_t step = node->u.sq.step_ms > 0 ? node->u.sq.step_ms : ev->subquery_step_ms;
    const bool pinned = node->u.sq.at != PQ_AT_NONE;
    const int64_t at_t = vigil__pq_at_time(ev, node->u.sq.at, node->u.sq.at_ms);
    const int64_t first_end = (pinned ? at_t : f->start) - node->u.sq.offset_ms;
    const int64_t last_end = (pinned ? at_t : pq_frame_end(f)) - node->u.sq.offset_ms;

    pq_value *v;
    vigil_status st = vigil__pq_value_new(ev, PQ_VAL_MATRIX, &v);
    if (st)
        return st;
    pq_frame inner = {align_up(first_end - node->u.sq.range_ms, step), step, 0};
    if (inner.start <= last_end) {
        uint64_t n = (uint64_t)(last_end - inner.start) / (uint64_t)step + 1;
        /* A frame with more steps than the sample budget could not hold one series, and its
         * scratch rows alone would be that large: refuse it before allocating anything. */
        if (n > MAX_INNER_STEPS || (ev->max_samples != 0 && n > ev->max_samples)) {
            vigil__pq_value_free(ev, v);
            return vigil__pq_too_many_samples();
        }
        inner.n = (size_t)n;
        pq_value *in;
        st = vigil__pq_eval(ev, node->u.sq.expr, &inner, &in);
        if (st == VIGIL_OK) {
            st = to_range_vector(ev, in, &inner, v);
            vigil__pq_value_free(ev, in);
        }
    }
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}
