/* eval_select.c — selectors: reading series from the store for an instant vector selector
 * (the value at or before each step, within the lookback window, unless it is a staleness
 * marker) and for a range vector evaluated on its own (`x[5m]` in an instant query).
 *
 * Each selector opens one querier over exactly the time its steps need and reads each series
 * once; the samples are consumed while the series set still holds them, so nothing is copied
 * except the values the node keeps. Boundaries are Prometheus 2.42's: the lookback window
 * [t - lookback, t] and a range window [t - range, t] include both ends (3.x made them
 * left-open). */
#include <string.h>

#include "core/core_int.h"
#include "eval.h"

static inline bool is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == VIGIL_TSDB_STALE_BITS;
}

/* The sample a step sees: the last one at or before ref, if it is within the lookback window
 * and not a staleness marker. *j is the number of samples at or before the previous ref
 * (refs only grow). */
static bool sample_at(const int64_t *t, const double *v, size_t n, size_t *j, int64_t ref,
                      int64_t lookback, size_t *hit)
{
    while (*j < n && t[*j] <= ref)
        (*j)++;
    if (*j == 0)
        return false;
    size_t i = *j - 1;
    if (t[i] < ref - lookback || is_stale(v[i]))
        return false;
    *hit = i;
    return true;
}

static void fill_row(pq_row *row, const pq_frame *f, const pq_node *node, int64_t at_t,
                     int64_t lookback, bool timestamps, const int64_t *t, const double *v,
                     size_t n)
{
    const int64_t offset = node->u.vs.offset_ms;
    const bool pinned = node->u.vs.at != PQ_AT_NONE;
    size_t j = 0, hit;
    if (pinned) {
        if (!sample_at(t, v, n, &j, at_t - offset, lookback, &hit))
            return;
        double x = timestamps ? (double)t[hit] / 1000 : v[hit];
        for (size_t k = 0; k < f->n; k++) {
            row->v[k] = x;
            pq_bit_set(row->ok, k);
        }
        return;
    }
    for (size_t k = 0; k < f->n; k++) {
        if (!sample_at(t, v, n, &j, pq_frame_t(f, k) - offset, lookback, &hit))
            continue;
        row->v[k] = timestamps ? (double)t[hit] / 1000 : v[hit];
        pq_bit_set(row->ok, k);
    }
}

static vigil_status select_series(pq_eval *ev, const pq_node *vs, int64_t mint, int64_t maxt,
                                  vigil_tsdb_series_set **set)
{
    vigil_tsdb_querier *q;
    vigil_status st = vigil__pq_querier(ev, mint, maxt, &q);
    if (st)
        return st;
    return vigil_tsdb_select(q, vs->u.vs.matchers, vs->u.vs.n_matchers, set);
}

vigil_status vigil__pq_eval_selector(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                     bool timestamps, pq_value **out)
{
    const bool pinned = node->u.vs.at != PQ_AT_NONE;
    const int64_t at_t = vigil__pq_at_time(ev, node->u.vs.at, node->u.vs.at_ms);
    const int64_t offset = node->u.vs.offset_ms;
    int64_t first = (pinned ? at_t : f->start) - offset;
    int64_t last = (pinned ? at_t : pq_frame_end(f)) - offset;

    vigil_tsdb_series_set *set = NULL;
    pq_value *v = NULL;
    pq_row row = {0};
    vigil_status st = select_series(ev, node, first - ev->lookback_ms, last, &set);
    if (!st)
        st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st)
        st = vigil__pq_row_init(&row, f->n);
    for (size_t i = 0; !st && vigil_tsdb_series_next(set); i++) {
        if (i % 64 == 63 && (st = vigil__pq_check_time(ev)) != VIGIL_OK)
            break;
        const int64_t *t;
        const double *x;
        size_t n = vigil_tsdb_series_samples(set, &t, &x);
        fill_row(&row, f, node, at_t, ev->lookback_ms, timestamps, t, x, n);
        const pq_lset *ls;
        st = vigil__pq_series_lset(ev, set, &ls);
        if (!st && timestamps && (ls = vigil__pq_lset_drop_name(ev->arena, ls)) == NULL)
            st = vigil__pq_nomem("a label set");
        if (!st)
            st = vigil__pq_row_emit(ev, &row, v, ls);
    }
    if (!st && set)
        st = vigil_tsdb_series_set_status(set);
    vigil_tsdb_series_set_free(set);
    vigil__pq_row_free(&row);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

/* The samples of one series in [mint, maxt], staleness markers left out, copied into the
 * value. */
static vigil_status keep_window(pq_eval *ev, pq_value *v, const pq_lset *ls, const int64_t *t,
                                const double *x, size_t n, int64_t mint, int64_t maxt)
{
    size_t a = 0, b = n;
    while (a < n && t[a] < mint)
        a++;
    while (b > a && t[b - 1] > maxt)
        b--;
    size_t keep = 0;
    for (size_t i = a; i < b; i++)
        keep += !is_stale(x[i]);
    if (keep == 0)
        return VIGIL_OK;
    pq_rseries *r;
    vigil_status st = vigil__pq_rseries_push(v, &r);
    if (st)
        return st;
    r->ls = ls;
    r->t = vigil__pq_value_alloc(v, keep * sizeof *r->t);
    r->v = vigil__pq_value_alloc(v, keep * sizeof *r->v);
    if (r->t == NULL || r->v == NULL)
        return vigil__pq_nomem("a range vector");
    for (size_t i = a; i < b; i++) {
        if (is_stale(x[i]))
            continue;
        r->t[r->n] = t[i];
        r->v[r->n++] = x[i];
    }
    v->points += keep;
    return vigil__pq_count(ev, keep);
}

static vigil_status matrix_selector(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                    pq_value **out)
{
    const pq_node *vs = node->u.ms.vs;
    const bool pinned = vs->u.vs.at != PQ_AT_NONE;
    const int64_t at_t = vigil__pq_at_time(ev, vs->u.vs.at, vs->u.vs.at_ms);
    int64_t maxt = (pinned ? at_t : pq_frame_end(f)) - vs->u.vs.offset_ms;
    int64_t mint = (pinned ? at_t : f->start) - vs->u.vs.offset_ms - node->u.ms.range_ms;

    vigil_tsdb_series_set *set = NULL;
    pq_value *v = NULL;
    vigil_status st = select_series(ev, vs, mint, maxt, &set);
    if (!st)
        st = vigil__pq_value_new(ev, PQ_VAL_MATRIX, &v);
    for (size_t i = 0; !st && vigil_tsdb_series_next(set); i++) {
        if (i % 64 == 63 && (st = vigil__pq_check_time(ev)) != VIGIL_OK)
            break;
        const int64_t *t;
        const double *x;
        size_t n = vigil_tsdb_series_samples(set, &t, &x);
        const pq_lset *ls;
        st = vigil__pq_series_lset(ev, set, &ls);
        if (!st)
            st = keep_window(ev, v, ls, t, x, n, mint, maxt);
    }
    if (!st && set)
        st = vigil_tsdb_series_set_status(set);
    vigil_tsdb_series_set_free(set);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

vigil_status vigil__pq_eval_range_vector(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                         pq_value **out)
{
    if (node->kind == PQ_SUBQUERY)
        return vigil__pq_eval_subquery(ev, node, f, out);
    return matrix_selector(ev, node, f, out);
}
