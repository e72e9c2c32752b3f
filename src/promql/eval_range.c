/* eval_range.c — calls whose argument is a range vector: rate, increase, the *_over_time
 * family, deriv, predict_linear, holt_winters, changes, resets, absent_over_time.
 *
 * One series at a time, the window [t - offset - range, t - offset] (both ends included, as in
 * 2.42) slides over the series' samples with two moving indices, one step after the other, and
 * the numeric library (funcs.h) computes each window's value. The samples come straight from
 * the store's series set (or from a subquery's evaluation) and are never copied, except to
 * leave staleness markers out of a series that has some. Output series lose __name__ (but for
 * last_over_time), and then two of them with equal labels are an error, as Prometheus checks
 * the whole matrix. The output goes into a value, or series by series to a sink (an
 * aggregation folding it as it comes, eval_aggr.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/core_int.h"
#include "eval.h"
#include "funcs.h"

static inline bool is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b == VIGIL_TSDB_STALE_BITS;
}

/* Where the windows' samples come from: a range selector's series set or a subquery's value. */
typedef struct range_src {
    pq_eval *ev;
    vigil_tsdb_series_set *set;
    pq_value *sub;
    size_t pos;
    int64_t *t; /* a series' samples without its staleness markers */
    double *v;
    size_t cap;
} range_src;

typedef struct window_spec {
    int64_t range;
    int64_t offset;
    bool pinned;
    int64_t at_t;
} window_spec;

static vigil_status src_open(range_src *src, pq_eval *ev, const pq_node *arg, const pq_frame *f,
                             window_spec *w)
{
    memset(src, 0, sizeof *src);
    src->ev = ev;
    if (arg->kind == PQ_SUBQUERY) {
        w->range = arg->u.sq.range_ms;
        w->offset = arg->u.sq.offset_ms;
        w->pinned = arg->u.sq.at != PQ_AT_NONE;
        w->at_t = vigil__pq_at_time(ev, arg->u.sq.at, arg->u.sq.at_ms);
        return vigil__pq_eval_subquery(ev, arg, f, &src->sub);
    }
    const pq_node *vs = arg->u.ms.vs;
    w->range = arg->u.ms.range_ms;
    w->offset = vs->u.vs.offset_ms;
    w->pinned = vs->u.vs.at != PQ_AT_NONE;
    w->at_t = vigil__pq_at_time(ev, vs->u.vs.at, vs->u.vs.at_ms);
    int64_t maxt = (w->pinned ? w->at_t : pq_frame_end(f)) - w->offset;
    int64_t mint = (w->pinned ? w->at_t : f->start) - w->offset - w->range;
    vigil_tsdb_querier *q;
    vigil_status st = vigil__pq_querier(ev, mint, maxt, &q);
    if (st)
        return st;
    return vigil_tsdb_select(q, vs->u.vs.matchers, vs->u.vs.n_matchers, &src->set);
}

static void src_close(range_src *src)
{
    vigil_tsdb_series_set_free(src->set);
    vigil__pq_value_free(src->ev, src->sub);
    vigil__free(src->t);
    vigil__free(src->v);
}

/* Whether any of n values is NaN: eight at a time with SSE2 where there is SSE2. */
static bool any_nan(const double *v, size_t n)
{
    size_t i = 0;
    bool any = false;
#if defined(__SSE2__)
    __m128d acc = _mm_setzero_pd();
    for (; i + 8 <= n; i += 8) {
        __m128d a = _mm_loadu_pd(&v[i]), b = _mm_loadu_pd(&v[i + 2]);
        __m128d c = _mm_loadu_pd(&v[i + 4]), d = _mm_loadu_pd(&v[i + 6]);
        acc = _mm_or_pd(acc, _mm_or_pd(_mm_or_pd(_mm_cmpunord_pd(a, a), _mm_cmpunord_pd(b, b)),
                                       _mm_or_pd(_mm_cmpunord_pd(c, c), _mm_cmpunord_pd(d, d))));
    }
    any = _mm_movemask_pd(acc) != 0;
#endif
    for (; i < n && !any; i++)
        any = isnan(v[i]);
    return any;
}

/* Whether any of n values is a staleness marker. Every sample of every series passes through
 * this, so it first looks for any NaN at all (most series have none), and only a series with
 * one is checked value by value for the marker's bits. */
static bool has_stale(const double *v, size_t n)
{
    if (!any_nan(v, n))
        return false;
    for (size_t i = 0; i < n; i++)
        if (is_stale(v[i]))
            return true;
    return false;
}

/* Copies the samples without staleness markers when there are any. */
static vigil_status drop_stale(range_src *src, const int64_t **t, const double **v, size_t *n)
{
    if (!has_stale(*v, *n))
        return VIGIL_OK;
    if (src->cap < *n) {
        vigil__free(src->t);
        vigil__free(src->v);
        src->t = vigil__malloc(*n * sizeof *src->t);
        src->v = vigil__malloc(*n * sizeof *src->v);
        src->cap = *n;
        if (src->t == NULL || src->v == NULL) {
            src->cap = 0;
            return vigil__pq_nomem("a series' samples");
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (is_stale((*v)[i]))
            continue;
        src->t[k] = (*t)[i];
        src->v[k++] = (*v)[i];
    }
    *t = src->t;
    *v = src->v;
    *n = k;
    return VIGIL_OK;
}

/* The next series: false at the end (*st tells whether that was an error). */
static bool src_next(range_src *src, const pq_lset **ls, const int64_t **t, const double **v,
                     size_t *n, vigil_status *st)
{
    *st = VIGIL_OK;
    if (src->sub != NULL) {
        if (src->pos >= src->sub->nr)
            return false;
        const pq_rseries *r = &src->sub->r[src->pos++];
        *ls = r->ls;
        *t = r->t;
        *v = r->v;
        *n = r->n;
        return true;
    }
    if (!vigil_tsdb_series_next(src->set)) {
        *st = vigil_tsdb_series_set_status(src->set);
        return false;
    }
    *n = vigil_tsdb_series_samples(src->set, t, v);
    *st = drop_stale(src, t, v, n);
    if (*st == VIGIL_OK)
        *st = vigil__pq_series_lset(src->ev, src->set, ls);
    return *st == VIGIL_OK;
}

/* The numeric library reports bad arguments as VIGIL_EINVAL; at evaluation time Prometheus
 * calls that an execution error. */
static vigil_status as_execution_error(vigil_status st)
{
    if (st != VIGIL_EINVAL)
        return st;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", vigil_errmsg());
    return vigil__fail(VIGIL_ESTATE, "%s", msg);
}

typedef struct range_call {
    pq_fn_id id;
    const pq_frame *f;
    window_spec w;
    pq_value *args[3]; /* scalar arguments in call order, without the range vector */
    size_t nargs;
    double *scratch;   /* quantile_over_time's sort buffer */
    size_t scratch_cap;
    bool sliding;      /* windows overlap: answer them from prefix tables */
    pq_slide slide;
    uint64_t *redo;    /* steps whose windows the prefix tables cannot answer */
} range_call;

static bool any_bit(const uint64_t *b, size_t bits)
{
    for (size_t i = 0; i < pq_words(bits); i++)
        if (b[i])
            return true;
    return false;
}

/* The first index in t[0, n) whose time is >= x (> x with after). */
static size_t bound(const int64_t *t, size_t n, int64_t x, bool after)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] < x || (after && t[mid] == x))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The windows the prefix tables left to the numeric library (a counter reset inside, a
 * non-finite value), each found by binary search. */
static vigil_status redo_windows(range_call *c, const int64_t *t, const double *v, size_t n,
                                 pq_row *row)
{
    const pq_frame *f = c->f;
    for (size_t k = 0; k < f->n; k++) {
        if (!pq_bit(c->redo, k))
            continue;
        int64_t end = pq_frame_t(f, k) - c->w.offset, start = end - c->w.range;
        size_t a = bound(t, n, start, false), b = bound(t, n, end, true);
        pq_window w = {t + a, v + a, b - a, start, end, pq_frame_t(f, k)};
        vigil_status st = VIGIL_OK;
        double x;
        if (vigil__pq_range_fn_scratch(c->id, &w, NULL, c->scratch, &x, &st)) {
            row->v[k] = x;
            pq_bit_set(row->ok, k);
        } else if (st) {
            return as_execution_error(st);
        }
    }
    return VIGIL_OK;
}

/* Computes one series' values at every step into row; returns the largest window seen. */
static vigil_status series_row(range_call *c, const int64_t *t, const double *v, size_t n,
                               pq_row *row, size_t *widest)
{
    const pq_frame *f = c->f;
    size_t a = 0, b = 0;
    double args[3];
    *widest = 0;
    if (c->id == PQ_FN_QUANTILE_OVER_TIME && c->scratch_cap < n) {
        vigil__free(c->scratch);
        c->scratch = vigil__malloc(n * sizeof *c->scratch);
        c->scratch_cap = c->scratch ? n : 0;
        if (c->scratch == NULL)
            return vigil__pq_nomem("quantile_over_time's window");
    }
    if (c->sliding) {
        vigil_status st = vigil__pq_slide_prepare(&c->slide, t, v, n);
        if (st)
            return st;
        memset(c->redo, 0, pq_words(f->n) * sizeof *c->redo);
        pq_slide_steps steps = {f->start - c->w.offset, f->interval, c->w.range, f->n};
        *widest = vigil__pq_slide_row(&c->slide, &steps, t, v, n, row->v, row->ok, c->redo);
        return any_bit(c->redo, f->n) ? redo_windows(c, t, v, n, row) : VIGIL_OK;
    }
    for (size_t k = 0; k < f->n; k++) {
        int64_t end = (c->w.pinned ? c->w.at_t : pq_frame_t(f, k)) - c->w.offset;
        int64_t start = end - c->w.range;
        while (a < n && t[a] < start)
            a++;
        if (b < a)
            b = a;
        while (b < n && t[b] <= end)
            b++;
        if (b == a)
            continue;
        if (b - a > *widest)
            *widest = b - a;
        if (c->id == PQ_FN_ABSENT_OVER_TIME) {
            row->v[k] = 1;
            pq_bit_set(row->ok, k);
            continue;
        }
        for (size_t j = 0; j < c->nargs; j++)
            args[j] = c->args[j]->scalar[k];
        pq_window w = {t + a, v + a, b - a, start, end, pq_frame_t(f, k)};
        vigil_status st = VIGIL_OK;
        double x;
        if (vigil__pq_range_fn_scratch(c->id, &w, args, c->scratch, &x, &st)) {
            row->v[k] = x;
            pq_bit_set(row->ok, k);
        } else if (st) {
            return as_execution_error(st);
        }
    }
    return VIGIL_OK;
}

/* absent_over_time: 1 at the steps where no series had a sample in its window. */
static vigil_status absent_steps(pq_eval *ev, const pq_node *arg, const pq_value *seen,
                                 const pq_frame *f, pq_value **out)
{
    pq_row row;
    vigil_status st = vigil__pq_row_init(&row, f->n);
    if (st)
        return st;
    for (size_t k = 0; k < f->n; k++) {
        row.v[k] = 1;
        pq_bit_set(row.ok, k);
    }
    for (size_t i = 0; i < seen->ns; i++) {
        const pq_series *s = &seen->s[i];
        for (size_t k = 0; k < s->n; k++)
            if (s->ok == NULL || pq_bit(s->ok, k))
                row.ok[(s->lo + k) >> 6] &= ~((uint64_t)1 << ((s->lo + k) & 63));
    }
    pq_value *v = NULL;
    const pq_lset *ls = NULL;
    st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st)
        st = vigil__pq_absent_labels(ev, arg, &ls);
    if (!st)
        st = vigil__pq_row_emit(ev, &row, v, ls);
    vigil__pq_row_free(&row);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

static vigil_status eval_args(pq_eval *ev, const pq_node *node, const pq_frame *f, size_t mi,
                              range_call *c)
{
    for (size_t i = 0; i < node->u.call.n_args; i++) {
        if (i == mi)
            continue;
        vigil_status st = vigil__pq_eval(ev, node->u.call.args[i], f, &c->args[c->nargs]);
        if (st)
            return st;
        c->nargs++;
    }
    return VIGIL_OK;
}

/* The output series' labels, for the duplicate check of a streamed call. */
typedef struct lset_list {
    const pq_lset **ls;
    size_t n, cap;
} lset_list;

static vigil_status lset_list_add(lset_list *l, const pq_lset *ls)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        const pq_lset **n = vigil__realloc(l->ls, cap * sizeof *n);
        if (n == NULL)
            return vigil__pq_nomem("a range vector's labels");
        l->ls = n;
        l->cap = cap;
    }
    l->ls[l->n++] = ls;
    return VIGIL_OK;
}

static size_t row_count(const pq_row *row)
{
    size_t count = 0;
    for (size_t w = 0; w < pq_words(row->n); w++)
        count += (size_t)__builtin_popcountll(row->ok[w]);
    return count;
}

/* Computes every series' row and hands it to v (as a series) or to sink. */
static vigil_status run(pq_eval *ev, range_call *c, range_src *src, pq_value *v, pq_sink *sink)
{
    const bool keep_name = c->id == PQ_FN_LAST_OVER_TIME;
    bool renamed = false;
    lset_list emitted = {0};
    pq_row row;
    vigil_status st = vigil__pq_row_init(&row, c->f->n);
    const pq_lset *ls;
    const int64_t *t;
    const double *x;
    size_t n;
    for (size_t i = 0; !st && src_next(src, &ls, &t, &x, &n, &st); i++) {
        if (i % 64 == 63 && (st = vigil__pq_check_time(ev)) != VIGIL_OK)
            break;
        size_t widest;
        st = series_row(c, t, x, n, &row, &widest);
        /* The window's samples are held while the function runs. */
        if (!st && (st = vigil__pq_count(ev, widest)) == VIGIL_OK)
            vigil__pq_uncount(ev, widest);
        if (!st && !keep_name) {
            const pq_lset *dropped = vigil__pq_lset_drop_name(ev->arena, ls);
            if (dropped == NULL)
                st = vigil__pq_nomem("a label set");
            renamed |= dropped != ls;
            ls = dropped;
        }
        if (st)
            break;
        if (sink == NULL) {
            st = vigil__pq_row_emit(ev, &row, v, ls);
            continue;
        }
        size_t count = row_count(&row);
        if (count == 0)
            continue;
        if (!keep_name)
            st = lset_list_add(&emitted, ls);
        if (!st)
            st = sink->put(sink, &row, ls, count);
    }
    vigil__pq_row_free(&row);
    if (!st && renamed && c->id != PQ_FN_ABSENT_OVER_TIME)
        st = sink == NULL ? vigil__pq_check_unique(v)
                          : vigil__pq_check_unique_lsets(emitted.ls, emitted.n);
    vigil__free(emitted.ls);
    return st;
}

/* Everything but what is done with the output: src and c are set up for the call (c->f = f). */
static vigil_status range_call_run(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                   pq_value *v, pq_sink *sink)
{
    range_call c = {.id = node->u.call.fn->id, .f = f};
    size_t mi = 0;
    while (mi < node->u.call.n_args && node->u.call.args[mi]->type != PQ_T_MATRIX)
        mi++;
    const pq_node *arg = vigil__pq_unparen(node->u.call.args[mi]);

    range_src src;
    vigil__pq_slide_init(&c.slide, c.id);
    vigil_status st = eval_args(ev, node, f, mi, &c);
    if (!st)
        st = src_open(&src, ev, arg, f, &c.w);
    else
        memset(&src, 0, sizeof src);
    /* Prefix tables pay off once each sample is in several windows. */
    c.sliding = vigil__pq_slide_fn(c.id) && f->n > 1 && !c.w.pinned && c.w.range > f->interval;
    if (c.sliding && (c.redo = vigil__malloc((pq_words(f->n) + 1) * sizeof *c.redo)) == NULL)
        c.sliding = false;
    if (!st)
        st = run(ev, &c, &src, v, sink);
    src_close(&src);
    for (size_t i = 0; i < c.nargs; i++)
        vigil__pq_value_free(ev, c.args[i]);
    vigil__free(c.scratch);
    vigil__pq_slide_free(&c.slide);
    vigil__free(c.redo);
    return st;
}

vigil_status vigil__pq_eval_range_call_sink(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                            pq_sink *sink)
{
    if (node->u.call.fn->id == PQ_FN_ABSENT_OVER_TIME)
        return vigil__fail(VIGIL_EINVAL, "absent_over_time cannot stream its output");
    return range_call_run(ev, node, f, NULL, sink);
}

vigil_status vigil__pq_eval_range_call(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                       pq_value **out)
{
    pq_value *v = NULL;
    vigil_status st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st)
        st = range_call_run(ev, node, f, v, NULL);
    if (!st && node->u.call.fn->id == PQ_FN_ABSENT_OVER_TIME) {
        size_t mi = 0;
        while (mi < node->u.call.n_args && node->u.call.args[mi]->type != PQ_T_MATRIX)
            mi++;
        pq_value *seen = v;
        st = absent_steps(ev, vigil__pq_unparen(node->u.call.args[mi]), seen, f, &v);
        vigil__pq_value_free(ev, seen);
        if (st)
            v = NULL;
    }
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}
