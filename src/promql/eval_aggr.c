/* eval_aggr.c — aggregations: sum avg min max count group stddev stdvar quantile topk bottomk
 * count_values, with by/without grouping.
 *
 * A series' group never changes between steps (it depends on labels only), so groups are
 * formed once; then each group's members are folded in, member by member, into per-step
 * accumulators. Per step that is the same order Prometheus adds them in (input order), so sums
 * and means come out with its bits: avg keeps a running mean with its infinity rules, stddev
 * and stdvar use Welford's updates, min/max let a NaN be replaced. topk/bottomk replay Go's heap
 * so that ties and NaNs select and order as in Prometheus. count_values is the exception: its
 * groups depend on values, so it walks step by step.
 *
 * A folding aggregation directly over a range function (sum(rate(x[5m]))) never sees the
 * function's output as a value: the series are folded into their groups as the function
 * computes them (stream_aggregate), with the same groups, order and bits. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "eval.h"
#include "funcs.h"

typedef struct group {
    const pq_lset *ls;
    uint32_t lo, hi;     /* steps any member has */
    uint32_t first, n;   /* members in the member list */
} group;

typedef struct grouping {
    group *g;
    size_t ng;
    uint32_t *members;   /* input series indices, by group, in input order */
} grouping;

static const char *const name_label[] = {"__name__"};

/* The labels of a series' group: by keeps the listed labels, without drops them and __name__. */
static const pq_lset *group_labels(pq_eval *ev, const pq_node *node, const pq_lset *ls)
{
    pq_lbuilder *b = &ev->lb;
    if (vigil__pq_lb_reset(b, ls) != VIGIL_OK)
        return NULL;
    if (node->u.agg.without) {
        for (size_t i = 0; i < node->u.agg.n_grouping; i++)
            vigil__pq_lb_del(b, node->u.agg.grouping[i]);
        vigil__pq_lb_del(b, name_label[0]);
    } else {
        vigil__pq_lb_keep(b, node->u.agg.grouping, node->u.agg.n_grouping);
    }
    return vigil__pq_lb_finish(b, ev->arena);
}

static vigil_status form_groups(pq_eval *ev, const pq_node *node, const pq_value *in,
                                grouping *gr)
{
    const bool on = !node->u.agg.without;
    const char *const *names = node->u.agg.grouping;
    const size_t nn = node->u.agg.n_grouping;
    uint32_t *gid = vigil__malloc((in->ns + 1) * sizeof *gid);
    gr->g = vigil__malloc((in->ns + 1) * sizeof *gr->g);
    gr->members = vigil__malloc((in->ns + 1) * sizeof *gr->members);
    gr->ng = 0;
    pq_index ix;
    vigil__pq_index_init(&ix);
    vigil_status st = gid && gr->g && gr->members ? vigil__pq_index_reserve(&ix, in->ns)
                                                  : vigil__pq_nomem("an aggregation's groups");
    for (size_t i = 0; !st && i < in->ns; i++) {
        const pq_series *s = &in->s[i];
        uint64_t h = vigil__pq_lset_project_hash(s->ls, on, names, nn);
        size_t pos = 0;
        uint32_t g;
        bool found = false;
        while (!found && vigil__pq_index_next(&ix, h, &pos, &g))
            found = vigil__pq_lset_project_equal(gr->g[g].ls, s->ls, on, names, nn);
        if (!found) {
            const pq_lset *ls = group_labels(ev, node, s->ls);
            if (ls == NULL) {
                st = vigil__pq_nomem("a label set");
                break;
            }
            g = (uint32_t)gr->ng++;
            gr->g[g] = (group){ls, s->lo, s->lo + s->n, 0, 0};
            st = vigil__pq_index_put(&ix, h, g);
        }
        group *x = &gr->g[g];
        x->lo = s->lo < x->lo ? s->lo : x->lo;
        x->hi = s->lo + s->n > x->hi ? s->lo + s->n : x->hi;
        x->n++;
        gid[i] = g;
    }
    vigil__pq_index_free(&ix);
    if (!st) {
        uint32_t at = 0;
        for (size_t g = 0; g < gr->ng; g++) {
            gr->g[g].first = at;
            at += gr->g[g].n;
            gr->g[g].n = 0;
        }
        for (size_t i = 0; i < in->ns; i++) {
            group *x = &gr->g[gid[i]];
            gr->members[x->first + x->n++] = (uint32_t)i;
        }
    }
    vigil__free(gid);
    return st;
}

static void grouping_free(grouping *gr)
{
    vigil__free(gr->g);
    vigil__free(gr->members);
}

/* ---- the folding aggregations --------------------------------------------------------------- */

typedef struct fold {
    double *val, *mean, *cnt;
    uint64_t *has;
} fold;

/* Which accumulators an operation reads besides val. */
static inline bool uses_mean(pq_aggop op)
{
    return op == PQ_AGG_AVG || op == PQ_AGG_STDDEV || op == PQ_AGG_STDVAR;
}

static inline bool uses_cnt(pq_aggop op)
{
    return uses_mean(op) || op == PQ_AGG_COUNT;
}

static inline void fold_first(pq_aggop op, fold *a, size_t i, double v)
{
    a->val[i] = op == PQ_AGG_GROUP ? 1 : (op == PQ_AGG_STDDEV || op == PQ_AGG_STDVAR) ? 0 : v;
    if (uses_mean(op))
        a->mean[i] = v;
    if (uses_cnt(op))
        a->cnt[i] = 1;
    pq_bit_set(a->has, i);
}

static inline void fold_next(pq_aggop op, fold *a, size_t i, double v)
{
    switch (op) {
    case PQ_AGG_SUM: a->val[i] += v; break;
    case PQ_AGG_AVG: {
        double n = ++a->cnt[i], mean = a->mean[i];
        if (isinf(mean)) {
            if (isinf(v) && (mean > 0) == (v > 0))
                break; /* infinities of one sign: the mean stays */
            if (!isinf(v) && !isnan(v))
                break; /* a finite value cannot move an infinite mean */
        }
        a->mean[i] = mean + (v / n - mean / n);
        break;
    }
    case PQ_AGG_MAX:
        if (a->val[i] < v || isnan(a->val[i]))
            a->val[i] = v;
        break;
    case PQ_AGG_MIN:
        if (a->val[i] > v || isnan(a->val[i]))
            a->val[i] = v;
        break;
    case PQ_AGG_COUNT: a->cnt[i]++; break;
    case PQ_AGG_STDDEV:
    case PQ_AGG_STDVAR: {
        double n = ++a->cnt[i];
        double delta = v - a->mean[i];
        a->mean[i] += delta / n;
        a->val[i] += delta * (v - a->mean[i]);
        break;
    }
    default: break;
    }
}

static inline double fold_result(pq_aggop op, const fold *a, size_t i)
{
    switch (op) {
    case PQ_AGG_AVG: return a->mean[i];
    case PQ_AGG_COUNT: return a->cnt[i];
    case PQ_AGG_STDVAR: return a->val[i] / a->cnt[i];
    case PQ_AGG_STDDEV: return sqrt(a->val[i] / a->cnt[i]);
    default: return a->val[i];
    }
}

static vigil_status fold_group(pq_eval *ev, pq_aggop op, const pq_value *in, const grouping *gr,
                               const group *g, pq_value *out)
{
    size_t n = g->hi - g->lo;
    pq_series *o;
    vigil_status st = vigil__pq_series_push(out, &o);
    if (st)
        return st;
    fold a;
    a.val = vigil__pq_value_alloc(out, n * sizeof *a.val);
    a.has = vigil__pq_value_alloc(out, pq_words(n) * sizeof *a.has);
    a.mean = vigil__malloc(n * sizeof *a.mean);
    a.cnt = vigil__malloc(n * sizeof *a.cnt);
    if (!a.val || !a.has || !a.mean || !a.cnt) {
        vigil__free(a.mean);
        vigil__free(a.cnt);
        return vigil__pq_nomem("an aggregation");
    }
    memset(a.has, 0, pq_words(n) * sizeof *a.has);
    /* [full_lo, full_hi): steps known to have a value already, so that a member without gaps
     * inside it is folded in by a plain loop. */
    size_t full_lo = 0, full_hi = 0;
    for (uint32_t j = 0; j < g->n; j++) {
        const pq_series *s = &in->s[gr->members[g->first + j]];
        size_t base = s->lo - g->lo;
        if (s->ok == NULL && j == 0) {
            for (size_t k = 0; k < s->n; k++)
                fold_first(op, &a, base + k, s->v[k]);
            full_lo = base;
            full_hi = base + s->n;
            continue;
        }
        if (s->ok == NULL && base >= full_lo && base + s->n <= full_hi) {
            if (op == PQ_AGG_SUM)
                for (size_t k = 0; k < s->n; k++)
                    a.val[base + k] += s->v[k];
            else
                for (size_t k = 0; k < s->n; k++)
                    fold_next(op, &a, base + k, s->v[k]);
            continue;
        }
        for (size_t k = 0; k < s->n; k++) {
            if (s->ok != NULL && !pq_bit(s->ok, k))
                continue;
            if (pq_bit(a.has, base + k))
                fold_next(op, &a, base + k, s->v[k]);
            else
                fold_first(op, &a, base + k, s->v[k]);
        }
    }
    size_t points = 0;
    for (size_t i = 0; i < n; i++) {
        if (!pq_bit(a.has, i))
            continue;
        a.val[i] = fold_result(op, &a, i);
        points++;
    }
    vigil__free(a.mean);
    vigil__free(a.cnt);
    *o = (pq_series){g->ls, g->lo, (uint32_t)n, a.val, points == n ? NULL : a.has};
    out->points += points;
    return vigil__pq_count(ev, points);
}

/* ---- folding a range function's output as it is computed ----------------------------------- */

/* sum(rate(x[5m])) and the like: the range function hands its series over one at a time
 * (pq_sink) and each is folded into its group's accumulators at once, instead of the whole
 * output being kept as a value and walked afterwards. The groups, their order, each step's
 * order of folding (input order) and the counts against max_samples are those of the path
 * through a value, so are the answers, bit for bit; what is saved is writing and reading back
 * the function's whole output (a day of rates over 450 series at one-minute steps is 5 MB). */

typedef struct stream_group {
    const pq_lset *ls;
    fold a; /* over the whole frame */
} stream_group;

typedef struct stream_fold {
    pq_sink sink;
    pq_eval *ev;
    const pq_node *node;
    size_t nsteps;
    pq_index ix;
    stream_group *g;
    size_t ng, cap;
    size_t points; /* the input's points, counted as a value holding them would be */
} stream_fold;

static void stream_fold_free(stream_fold *sf)
{
    for (size_t i = 0; i < sf->ng; i++) {
        vigil__free(sf->g[i].a.val);
        vigil__free(sf->g[i].a.mean);
        vigil__free(sf->g[i].a.cnt);
        vigil__free(sf->g[i].a.has);
    }
    vigil__free(sf->g);
    vigil__pq_index_free(&sf->ix);
}

/* The group of a series with labels ls, created (accumulators and all) when new. */
static vigil_status stream_group_of(stream_fold *sf, const pq_lset *ls, stream_group **out)
{
    const pq_node *node = sf->node;
    const bool on = !node->u.agg.without;
    uint64_t h = vigil__pq_lset_project_hash(ls, on, node->u.agg.grouping,
                                             node->u.agg.n_grouping);
    size_t pos = 0;
    uint32_t g;
    while (vigil__pq_index_next(&sf->ix, h, &pos, &g)) {
        if (vigil__pq_lset_project_equal(sf->g[g].ls, ls, on, node->u.agg.grouping,
                                         node->u.agg.n_grouping)) {
            *out = &sf->g[g];
            return VIGIL_OK;
        }
    }
    if (sf->ng == sf->cap) {
        size_t cap = sf->cap ? sf->cap * 2 : 16;
        stream_group *n = vigil__realloc(sf->g, cap * sizeof *n);
        if (n == NULL)
            return vigil__pq_nomem("an aggregation's groups");
        sf->g = n;
        sf->cap = cap;
    }
    stream_group *x = &sf->g[sf->ng];
    memset(x, 0, sizeof *x);
    x->ls = group_labels(sf->ev, node, ls);
    pq_aggop op = node->u.agg.op;
    size_t n = sf->nsteps;
    x->a.val = vigil__malloc(n * sizeof *x->a.val);
    x->a.has = vigil__calloc(pq_words(n) + 1, sizeof *x->a.has);
    x->a.mean = uses_mean(op) ? vigil__malloc(n * sizeof *x->a.mean) : NULL;
    x->a.cnt = uses_cnt(op) ? vigil__malloc(n * sizeof *x->a.cnt) : NULL;
    sf->ng++; /* freed with the others from here on */
    if (x->ls == NULL || x->a.val == NULL || x->a.has == NULL ||
        (uses_mean(op) && x->a.mean == NULL) || (uses_cnt(op) && x->a.cnt == NULL))
        return vigil__pq_nomem("an aggregation");
    *out = x;
    return vigil__pq_index_put(&sf->ix, h, (uint32_t)(sf->ng - 1));
}

/* Folds the steps set in row into a; steps in a 64-step word that every earlier member has
 * too, all of them, are summed by a plain loop. */
static void fold_row(pq_aggop op, fold *a, const pq_row *row)
{
    for (size_t w = 0; w < pq_words(row->n); w++) {
        uint64_t bits = row->ok[w], have = a->has[w];
        if (bits == 0)
            continue;
        size_t base = w * 64;
        if (op == PQ_AGG_SUM && bits == UINT64_MAX && have == UINT64_MAX) {
            for (size_t i = base; i < base + 64; i++)
                a->val[i] += row->v[i];
            continue;
        }
        for (uint64_t b = bits & have; b != 0; b &= b - 1) {
            size_t i = base + (size_t)__builtin_ctzll(b);
            fold_next(op, a, i, row->v[i]);
        }
        for (uint64_t b = bits & ~have; b != 0; b &= b - 1) {
            size_t i = base + (size_t)__builtin_ctzll(b);
            fold_first(op, a, i, row->v[i]);
        }
    }
}

static vigil_status stream_put(pq_sink *k, pq_row *row, const pq_lset *ls, size_t count)
{
    stream_fold *sf = (stream_fold *)k;
    stream_group *g = NULL;
    vigil_status st = stream_group_of(sf, ls, &g);
    if (!st)
        fold_row(sf->node->u.agg.op, &g->a, row);
    vigil__pq_row_clear(row);
    if (st)
        return st;
    sf->points += count;
    return vigil__pq_count(sf->ev, count);
}

/* Each group's result as an output series, in the order the groups appeared. */
static vigil_status stream_emit(stream_fold *sf, pq_value *out)
{
    pq_aggop op = sf->node->u.agg.op;
    vigil_status st = VIGIL_OK;
    for (size_t g = 0; !st && g < sf->ng; g++) {
        fold *a = &sf->g[g].a;
        for (size_t w = 0; w < pq_words(sf->nsteps); w++)
            for (uint64_t b = a->has[w]; b != 0; b &= b - 1) {
                size_t i = w * 64 + (size_t)__builtin_ctzll(b);
                a->val[i] = fold_result(op, a, i);
            }
        pq_row r = {a->val, a->has, sf->nsteps};
        st = vigil__pq_row_emit(sf->ev, &r, out, sf->g[g].ls);
    }
    return st;
}

static bool folding_op(pq_aggop op)
{
    switch (op) {
    case PQ_AGG_SUM:
    case PQ_AGG_AVG:
    case PQ_AGG_MIN:
    case PQ_AGG_MAX:
    case PQ_AGG_COUNT:
    case PQ_AGG_GROUP:
    case PQ_AGG_STDDEV:
    case PQ_AGG_STDVAR: return true;
    default: return false;
    }
}

/* The call under an aggregation whose output can be folded as it comes: a range function
 * (other than absent_over_time, whose output is not its series). */
static const pq_node *streamed_call(const pq_node *node)
{
    if (!folding_op(node->u.agg.op) || node->u.agg.param != NULL)
        return NULL;
    const pq_node *e = vigil__pq_unparen(node->u.agg.expr);
    if (e->kind != PQ_CALL || e->u.call.fn->id == PQ_FN_ABSENT_OVER_TIME)
        return NULL;
    for (size_t i = 0; i < e->u.call.n_args; i++)
        if (e->u.call.args[i]->type == PQ_T_MATRIX)
            return e;
    return NULL;
}

static vigil_status stream_aggregate(pq_eval *ev, const pq_node *node, const pq_node *call,
                                     const pq_frame *f, pq_value **out)
{
    stream_fold sf = {.sink = {stream_put}, .ev = ev, .node = node, .nsteps = f->n};
    vigil__pq_index_init(&sf.ix);
    pq_value *v = NULL;
    /* What evaluating the expression through vigil__pq_eval would check first. */
    vigil_status st = vigil__pq_check_time(ev);
    if (!st)
        st = vigil__pq_eval_range_call_sink(ev, call, f, &sf.sink);
    if (!st)
        st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st)
        st = stream_emit(&sf, v);
    vigil__pq_uncount(ev, sf.points);
    stream_fold_free(&sf);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

/* ---- quantile ------------------------------------------------------------------------------- */

static vigil_status quantile_group(pq_eval *ev, const pq_value *q, const pq_value *in,
                                   const grouping *gr, const group *g, pq_row *row,
                                   double *vals, pq_value *out)
{
    for (size_t step = g->lo; step < g->hi; step++) {
        size_t nv = 0;
        for (uint32_t j = 0; j < g->n; j++) {
            const pq_series *s = &in->s[gr->members[g->first + j]];
            if (pq_has(s, step))
                vals[nv++] = pq_at(s, step);
        }
        if (nv == 0)
            continue;
        row->v[step] = vigil__pq_quantile(q->scalar[step], vals, nv);
        pq_bit_set(row->ok, step);
    }
    return vigil__pq_row_emit(ev, row, out, g->ls);
}

/* ---- topk, bottomk -------------------------------------------------------------------------- */

typedef struct kheap {
    uint32_t *m;   /* input series indices */
    double *v;
    size_t n;
    bool bottom;
} kheap;

/* Go's vectorByValueHeap (topk) and vectorByReverseValueHeap (bottomk): NaN is "less" than
 * anything, so it is the first to be pushed out of the heap and the last in the output. */
static inline bool kless(const kheap *h, size_t i, size_t j)
{
    if (isnan(h->v[i]))
        return true;
    return h->bottom ? h->v[i] > h->v[j] : h->v[i] < h->v[j];
}

static inline void kswap(kheap *h, size_t i, size_t j)
{
    uint32_t m = h->m[i];
    double v = h->v[i];
    h->m[i] = h->m[j];
    h->v[i] = h->v[j];
    h->m[j] = m;
    h->v[j] = v;
}

static void kup(kheap *h, size_t j)
{
    while (j > 0) {
        size_t i = (j - 1) / 2;
        if (!kless(h, j, i))
            break;
        kswap(h, i, j);
        j = i;
    }
}

static void kdown(kheap *h, size_t i, size_t n)
{
    for (;;) {
        size_t j = 2 * i + 1;
        if (j >= n)
            break;
        if (j + 1 < n && kless(h, j + 1, j))
            j++;
        if (!kless(h, j, i))
            break;
        kswap(h, i, j);
        i = j;
    }
}

static void kadd(kheap *h, int64_t k, uint32_t m, double v)
{
    if (h->n == 0) {
        h->m[0] = m;
        h->v[0] = v;
        h->n = 1;
        return;
    }
    bool better = h->bottom ? h->v[0] > v : h->v[0] < v;
    if ((int64_t)h->n < k || better || isnan(h->v[0])) {
        if ((int64_t)h->n == k) {
            if (k == 1) {
                h->m[0] = m;
                h->v[0] = v;
                return;
            }
            /* heap.Pop: the top goes to the end, is sifted out, and dropped. */
            kswap(h, 0, h->n - 1);
            kdown(h, 0, h->n - 1);
            h->n--;
        }
        h->m[h->n] = m;
        h->v[h->n] = v;
        kup(h, h->n++);
    }
}

/* sort.Sort(sort.Reverse(heap)) for the short heaps Go sorts by insertion. */
static void ksort(kheap *h)
{
    for (size_t i = 1; i < h->n; i++)
        for (size_t j = i; j > 0 && kless(h, j - 1, j); j--)
            kswap(h, j, j - 1);
}

static vigil_status k_of(const pq_value *param, size_t step, int64_t *k)
{
    double f = param->scalar[step];
    if (!(f <= 9223372036854774784.0 && f >= -9223372036854775808.0)) {
        char num[64];
        if (isnan(f)) {
            snprintf(num, sizeof num, "NaN");
        } else if (isinf(f)) {
            snprintf(num, sizeof num, "%sInf", f > 0 ? "+" : "-");
        } else {
            /* Go's %v: the shortest digits that read back, in exponent form (|f| >= 1e6). */
            for (int p = 0; p < 17; p++) {
                snprintf(num, sizeof num, "%.*e", p, f);
                if (strtod(num, NULL) == f)
                    break;
            }
        }
        return vigil__fail(VIGIL_ESTATE, "Scalar value %s overflows int64", num);
    }
    *k = (int64_t)f;
    return VIGIL_OK;
}

typedef struct kpick {
    uint64_t **chosen;  /* per input series: frame-wide bits of the steps it is selected at */
    uint32_t *order;    /* one-step frames: the output order */
    size_t norder;
} kpick;

static vigil_status topk_group(const pq_value *param, const pq_value *in, const grouping *gr,
                               const group *g, bool bottom, kheap *h, kpick *pick, size_t nsteps)
{
    h->bottom = bottom;
    for (size_t step = g->lo; step < g->hi; step++) {
        int64_t k;
        vigil_status st = k_of(param, step, &k);
        if (st)
            return st;
        if (k < 1)
            continue;
        h->n = 0;
        for (uint32_t j = 0; j < g->n; j++) {
            uint32_t m = gr->members[g->first + j];
            if (pq_has(&in->s[m], step))
                kadd(h, k, m, pq_at(&in->s[m], step));
        }
        if (nsteps == 1)
            ksort(h);
        for (size_t i = 0; i < h->n; i++) {
            pq_bit_set(pick->chosen[h->m[i]], step);
            if (nsteps == 1)
                pick->order[pick->norder++] = h->m[i];
        }
    }
    return VIGIL_OK;
}

static vigil_status emit_picked(pq_eval *ev, const pq_value *in, kpick *pick, size_t nsteps,
                                pq_value *out)
{
    pq_row row;
    vigil_status st = vigil__pq_row_init(&row, nsteps);
    size_t count = nsteps == 1 ? pick->norder : in->ns;
    for (size_t o = 0; !st && o < count; o++) {
        uint32_t i = nsteps == 1 ? pick->order[o] : (uint32_t)o;
        const pq_series *s = &in->s[i];
        for (size_t k = 0; k < s->n; k++) {
            if ((s->ok != NULL && !pq_bit(s->ok, k)) || !pq_bit(pick->chosen[i], s->lo + k))
                continue;
            row.v[s->lo + k] = s->v[k];
            pq_bit_set(row.ok, s->lo + k);
        }
        st = vigil__pq_row_emit(ev, &row, out, s->ls);
    }
    vigil__pq_row_free(&row);
    return st;
}

static vigil_status topk(pq_eval *ev, const pq_node *node, const pq_value *param,
                         const pq_value *in, const grouping *gr, size_t nsteps, pq_value *out)
{
    bool bottom = node->u.agg.op == PQ_AGG_BOTTOMK;
    for (size_t step = 0; step < nsteps; step++) {
        int64_t k; /* Prometheus checks k at every step, with or without input */
        vigil_status st = k_of(param, step, &k);
        if (st)
            return st;
    }
    size_t widest = 1;
    for (size_t g = 0; g < gr->ng; g++)
        widest = gr->g[g].n > widest ? gr->g[g].n : widest;
    kheap h = {vigil__malloc(widest * sizeof *h.m), vigil__malloc(widest * sizeof *h.v), 0, 0};
    kpick pick = {vigil__calloc(in->ns + 1, sizeof *pick.chosen),
                  vigil__malloc((in->ns + 1) * sizeof *pick.order), 0};
    size_t words = pq_words(nsteps);
    uint64_t *bits = vigil__calloc(in->ns * words + 1, sizeof *bits);
    vigil_status st = h.m && h.v && pick.chosen && pick.order && bits
                          ? VIGIL_OK
                          : vigil__pq_nomem("topk/bottomk");
    for (size_t i = 0; !st && i < in->ns; i++)
        pick.chosen[i] = bits + i * words;
    for (size_t g = 0; !st && g < gr->ng; g++)
        st = topk_group(param, in, gr, &gr->g[g], bottom, &h, &pick, nsteps);
    if (!st)
        st = emit_picked(ev, in, &pick, nsteps, out);
    vigil__free(h.m);
    vigil__free(h.v);
    vigil__free(pick.chosen);
    vigil__free(pick.order);
    vigil__free(bits);
    return st;
}

/* ---- count_values --------------------------------------------------------------------------- */

static bool valid_label_name(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

typedef struct cv_group {
    const pq_lset *ls;
    uint32_t *steps; /* steps with a count, ascending */
    double *counts;
    size_t n, cap;
} cv_group;

typedef struct cv_state {
    pq_eval *ev;
    const pq_node *node;
    const char *label;
    const char **keep; /* by: the grouping labels and the value label */
    size_t nkeep;
    cv_group *g;
    size_t ng, capg;
    pq_index ix;
    uint64_t *last_bits; /* per input series: the last value seen and its group */
    uint32_t *last_group;
} cv_state;

static vigil_status cv_labels(cv_state *cs, const pq_lset *in, double v, const pq_lset **out)
{
    char buf[400];
    vigil__pq_format_value_label(buf, v);
    const char *value = vigil__pq_strdup(cs->ev->arena, buf);
    pq_lbuilder *b = &cs->ev->lb;
    vigil_status st = value ? vigil__pq_lb_reset(b, in) : vigil__pq_nomem("a label value");
    if (!st)
        st = vigil__pq_lb_set(b, cs->label, value);
    if (st)
        return st;
    if (cs->node->u.agg.without) {
        for (size_t i = 0; i < cs->node->u.agg.n_grouping; i++)
            vigil__pq_lb_del(b, cs->node->u.agg.grouping[i]);
        vigil__pq_lb_del(b, name_label[0]);
    } else {
        vigil__pq_lb_keep(b, cs->keep, cs->nkeep);
    }
    *out = vigil__pq_lb_finish(b, cs->ev->arena);
    return *out ? VIGIL_OK : vigil__pq_nomem("a label set");
}

static vigil_status cv_group_of(cv_state *cs, const pq_lset *ls, uint32_t *gi)
{
    size_t pos = 0;
    uint32_t g;
    while (vigil__pq_index_next(&cs->ix, ls->hash, &pos, &g)) {
        if (vigil__pq_lset_equal(cs->g[g].ls, ls)) {
            *gi = g;
            return VIGIL_OK;
        }
    }
    if (cs->ng == cs->capg) {
        size_t cap = cs->capg ? cs->capg * 2 : 16;
        cv_group *ng = vigil__realloc(cs->g, cap * sizeof *ng);
        if (ng == NULL)
            return vigil__pq_nomem("count_values()'s groups");
        cs->g = ng;
        cs->capg = cap;
    }
    *gi = (uint32_t)cs->ng;
    cs->g[cs->ng++] = (cv_group){ls, NULL, NULL, 0, 0};
    return vigil__pq_index_put(&cs->ix, ls->hash, *gi);
}

static vigil_status cv_count(cv_group *g, uint32_t step)
{
    if (g->n > 0 && g->steps[g->n - 1] == step) {
        g->counts[g->n - 1]++;
        return VIGIL_OK;
    }
    if (g->n == g->cap) {
        size_t cap = g->cap ? g->cap * 2 : 8;
        uint32_t *s = vigil__realloc(g->steps, cap * sizeof *s);
        if (s != NULL)
            g->steps = s;
        double *c = vigil__realloc(g->counts, cap * sizeof *c);
        if (c != NULL)
            g->counts = c;
        if (s == NULL || c == NULL)
            return vigil__pq_nomem("count_values()'s counts");
        g->cap = cap;
    }
    g->steps[g->n] = step;
    g->counts[g->n++] = 1;
    return VIGIL_OK;
}

static vigil_status cv_walk(cv_state *cs, const pq_value *in, size_t nsteps)
{
    vigil_status st = VIGIL_OK;
    for (size_t step = 0; !st && step < nsteps; step++) {
        for (size_t i = 0; !st && i < in->ns; i++) {
            const pq_series *s = &in->s[i];
            if (!pq_has(s, step))
                continue;
            double v = pq_at(s, step);
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            if (cs->last_group[i] == UINT32_MAX || cs->last_bits[i] != bits) {
                const pq_lset *ls;
                st = cv_labels(cs, s->ls, v, &ls);
                if (!st)
                    st = cv_group_of(cs, ls, &cs->last_group[i]);
                cs->last_bits[i] = bits;
            }
            if (!st)
                st = cv_count(&cs->g[cs->last_group[i]], (uint32_t)step);
        }
        if (step % 64 == 63 && !st)
            st = vigil__pq_check_time(cs->ev);
    }
    return st;
}

static vigil_status count_values(pq_eval *ev, const pq_node *node, const pq_value *in,
                                 size_t nsteps, pq_value *out)
{
    const pq_node *p = vigil__pq_unparen(node->u.agg.param);
    cv_state cs = {.ev = ev, .node = node, .label = p->kind == PQ_STRING ? p->u.string : ""};
    if (!valid_label_name(cs.label)) {
        vigil_buffer q;
        vigil_buffer_init(&q, 0);
        vigil_status st = vigil__pq_go_quote(&q, cs.label);
        if (!st)
            st = vigil__fail(VIGIL_ESTATE, "invalid label name %s", vigil_buffer_cstr(&q));
        vigil_buffer_free(&q);
        return st;
    }
    vigil__pq_index_init(&cs.ix);
    cs.keep = vigil__malloc((node->u.agg.n_grouping + 1) * sizeof *cs.keep);
    cs.last_bits = vigil__malloc((in->ns + 1) * sizeof *cs.last_bits);
    cs.last_group = vigil__malloc((in->ns + 1) * sizeof *cs.last_group);
    vigil_status st = cs.keep && cs.last_bits && cs.last_group
                          ? VIGIL_OK
                          : vigil__pq_nomem("count_values()");
    if (!st) {
        for (size_t i = 0; i < node->u.agg.n_grouping; i++)
            cs.keep[i] = node->u.agg.grouping[i];
        cs.keep[node->u.agg.n_grouping] = cs.label;
        cs.nkeep = node->u.agg.n_grouping + 1;
        memset(cs.last_group, 0xff, (in->ns + 1) * sizeof *cs.last_group);
        st = cv_walk(&cs, in, nsteps);
    }
    pq_row row = {0};
    if (!st)
        st = vigil__pq_row_init(&row, nsteps);
    for (size_t g = 0; !st && g < cs.ng; g++) {
        for (size_t j = 0; j < cs.g[g].n; j++) {
            row.v[cs.g[g].steps[j]] = cs.g[g].counts[j];
            pq_bit_set(row.ok, cs.g[g].steps[j]);
        }
        st = vigil__pq_row_emit(ev, &row, out, cs.g[g].ls);
    }
    vigil__pq_row_free(&row);
    for (size_t g = 0; g < cs.ng; g++) {
        vigil__free(cs.g[g].steps);
        vigil__free(cs.g[g].counts);
    }
    vigil__free(cs.g);
    vigil__free(cs.keep);
    vigil__free(cs.last_bits);
    vigil__free(cs.last_group);
    vigil__pq_index_free(&cs.ix);
    return st;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static vigil_status aggregate(pq_eval *ev, const pq_node *node, const pq_frame *f,
                              pq_value *param, pq_value *in, pq_value *out)
{
    pq_aggop op = node->u.agg.op;
    if (op == PQ_AGG_COUNT_VALUES)
        return count_values(ev, node, in, f->n, out);
    grouping gr = {0};
    vigil_status st = form_groups(ev, node, in, &gr);
    if (!st && (op == PQ_AGG_TOPK || op == PQ_AGG_BOTTOMK)) {
        st = topk(ev, node, param, in, &gr, f->n, out);
    } else if (!st && op == PQ_AGG_QUANTILE) {
        pq_row row = {0};
        double *vals = vigil__malloc((in->ns + 1) * sizeof *vals);
        st = vals ? vigil__pq_row_init(&row, f->n) : vigil__pq_nomem("quantile()");
        for (size_t g = 0; !st && g < gr.ng; g++)
            st = quantile_group(ev, param, in, &gr, &gr.g[g], &row, vals, out);
        vigil__pq_row_free(&row);
        vigil__free(vals);
    } else {
        for (size_t g = 0; !st && g < gr.ng; g++)
            st = fold_group(ev, op, in, &gr, &gr.g[g], out);
    }
    grouping_free(&gr);
    return st;
}

vigil_status vigil__pq_eval_aggregate(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                      pq_value **out)
{
    const pq_node *call = streamed_call(node);
    if (call != NULL)
        return stream_aggregate(ev, node, call, f, out);
    pq_value *param = NULL, *in = NULL, *v = NULL;
    vigil_status st = VIGIL_OK;
    if (node->u.agg.param != NULL && node->u.agg.op != PQ_AGG_COUNT_VALUES)
        st = vigil__pq_eval(ev, node->u.agg.param, f, &param);
    if (!st)
        st = vigil__pq_eval(ev, node->u.agg.expr, f, &in);
    if (!st)
        st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st)
        st = aggregate(ev, node, f, param, in, v);
    vigil__pq_value_free(ev, param);
    vigil__pq_value_free(ev, in);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}
