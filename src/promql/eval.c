/* eval.c — the evaluator's core: dispatch over the syntax tree, values and their memory, the
 * limits (deadline, sample budget), and the builders most nodes produce their output with.
 *
 * A node is evaluated once, over all the steps of its frame (see eval.h). Like Prometheus's
 * PreprocessExpr, a subtree whose value cannot change from step to step (literals, selectors
 * pinned with @, and what is computed from only those) is evaluated at the frame's first step
 * and copied to the others; this is what makes @ cheap in range queries. */
#include <string.h>

#include "core/core_int.h"
#include "eval.h"

void vigil__pq_eval_init(pq_eval *ev, vigil_tsdb *db, pq_arena *arena,
                         const vigil_promql_options *opts, int64_t start, int64_t end)
{
    memset(ev, 0, sizeof *ev);
    ev->db = db;
    ev->arena = arena;
    ev->lookback_ms = opts->lookback_ms > 0 ? opts->lookback_ms : 300000;
    ev->subquery_step_ms = opts->subquery_step_ms > 0 ? opts->subquery_step_ms : 60000;
    ev->max_samples = opts->max_samples;
    ev->samples = &ev->own_samples;
    ev->query_start = start;
    ev->query_end = end;
    if (opts->timeout_ms > 0)
        ev->deadline_ns = vigil__mono_ns() + (uint64_t)opts->timeout_ms * 1000000u;
    vigil__pq_lb_init(&ev->lb);
}

void vigil__pq_eval_done(pq_eval *ev)
{
    for (size_t i = 0; i < ev->nqueriers; i++)
        vigil_tsdb_querier_free(ev->queriers[i]);
    vigil__free(ev->queriers);
    ev->queriers = NULL;
    ev->nqueriers = 0;
    vigil__pq_lb_free(&ev->lb);
}

/* ---- limits and common failures ------------------------------------------------------------- */

vigil_status vigil__pq_check_time(pq_eval *ev)
{
    if (ev->deadline_ns != 0 && vigil__mono_ns() >= ev->deadline_ns)
        return vigil__fail(VIGIL_ETIMEOUT, "query timed out in expression evaluation");
    return VIGIL_OK;
}

vigil_status vigil__pq_too_many_samples(void)
{
    return vigil__fail(VIGIL_ELIMIT,
                       "query processing would load too many samples into memory in query "
                       "execution");
}

vigil_status vigil__pq_count(pq_eval *ev, size_t points)
{
    size_t now = __atomic_add_fetch(ev->samples, points, __ATOMIC_RELAXED);
    if (ev->max_samples != 0 && now > ev->max_samples)
        return vigil__pq_too_many_samples();
    return VIGIL_OK;
}

void vigil__pq_uncount(pq_eval *ev, size_t points)
{
    __atomic_sub_fetch(ev->samples, points, __ATOMIC_RELAXED);
}

vigil_status vigil__pq_dup_labelset(void)
{
    return vigil__fail(VIGIL_ESTATE, "vector cannot contain metrics with the same labelset");
}

vigil_status vigil__pq_nomem(const char *what)
{
    return vigil__fail(VIGIL_ENOMEM, "out of memory for %s", what);
}

int64_t vigil__pq_at_time(const pq_eval *ev, pq_at_kind at, int64_t at_ms)
{
    switch (at) {
    case PQ_AT_START: return ev->query_start;
    case PQ_AT_END: return ev->query_end;
    default: return at_ms;
    }
}

vigil_status vigil__pq_querier(pq_eval *ev, int64_t mint, int64_t maxt, vigil_tsdb_querier **q)
{
    if (ev->nqueriers == ev->cap_queriers) {
        size_t cap = ev->cap_queriers ? ev->cap_queriers * 2 : 8;
        vigil_tsdb_querier **nq = vigil__realloc(ev->queriers, cap * sizeof *nq);
        if (nq == NULL)
            return vigil__pq_nomem("the query's queriers");
        ev->queriers = nq;
        ev->cap_queriers = cap;
    }
    vigil_status st = vigil_tsdb_querier_new(ev->db, mint, maxt, q);
    if (st == VIGIL_OK)
        ev->queriers[ev->nqueriers++] = *q;
    return st;
}

vigil_status vigil__pq_series_lset(pq_eval *ev, vigil_tsdb_series_set *set, const pq_lset **out)
{
    const vigil_label *l;
    size_t n = vigil_tsdb_series_labels(set, &l);
    *out = vigil__pq_lset_new(ev->arena, l, n);
    return *out ? VIGIL_OK : vigil__pq_nomem("a label set");
}

/* ---- values --------------------------------------------------------------------------------- */

vigil_status vigil__pq_value_new(pq_eval *ev, pq_vkind kind, pq_value **out)
{
    pq_value *v = vigil__pq_calloc(ev->arena, 1, sizeof *v);
    if (v == NULL)
        return vigil__pq_nomem("a value");
    v->kind = kind;
    vigil__pq_arena_init(&v->mem);
    *out = v;
    return VIGIL_OK;
}

void vigil__pq_value_free(pq_eval *ev, pq_value *v)
{
    if (v == NULL)
        return;
    vigil__pq_uncount(ev, v->points);
    vigil__pq_arena_free(&v->mem);
    v->s = NULL;
    v->r = NULL;
    v->scalar = NULL;
    v->ns = v->nr = v->cap_s = v->cap_r = v->points = 0;
}

void *vigil__pq_value_alloc(pq_value *v, size_t size)
{
    return vigil__pq_alloc(&v->mem, size);
}

vigil_status vigil__pq_scalar_new(pq_eval *ev, const pq_frame *f, pq_value **out)
{
    vigil_status st = vigil__pq_value_new(ev, PQ_VAL_SCALAR, out);
    if (st)
        return st;
    /* Counted before it is allocated: a huge frame fails on the budget, not on memory. */
    (*out)->points = f->n;
    if ((st = vigil__pq_count(ev, f->n)) != VIGIL_OK)
        return st;
    (*out)->scalar = vigil__pq_value_alloc(*out, f->n * sizeof(double));
    return (*out)->scalar ? VIGIL_OK : vigil__pq_nomem("a scalar");
}

vigil_status vigil__pq_series_push(pq_value *v, pq_series **out)
{
    if (v->ns == v->cap_s) {
        size_t cap = v->cap_s ? v->cap_s * 2 : 16;
        pq_series *s = vigil__pq_value_alloc(v, cap * sizeof *s);
        if (s == NULL)
            return vigil__pq_nomem("a vector");
        if (v->ns)
            memcpy(s, v->s, v->ns * sizeof *s);
        v->s = s;
        v->cap_s = cap;
    }
    *out = &v->s[v->ns++];
    memset(*out, 0, sizeof **out);
    return VIGIL_OK;
}

vigil_status vigil__pq_rseries_push(pq_value *v, pq_rseries **out)
{
    if (v->nr == v->cap_r) {
        size_t cap = v->cap_r ? v->cap_r * 2 : 16;
        pq_rseries *r = vigil__pq_value_alloc(v, cap * sizeof *r);
        if (r == NULL)
            return vigil__pq_nomem("a range vector");
        if (v->nr)
            memcpy(r, v->r, v->nr * sizeof *r);
        v->r = r;
        v->cap_r = cap;
    }
    *out = &v->r[v->nr++];
    memset(*out, 0, sizeof **out);
    return VIGIL_OK;
}

/* ---- rows ----------------------------------------------------------------------------------- */

vigil_status vigil__pq_row_init(pq_row *r, size_t n)
{
    r->n = n;
    r->v = vigil__malloc((n ? n : 1) * sizeof *r->v);
    r->ok = vigil__calloc(pq_words(n) + 1, sizeof *r->ok);
    if (r->v == NULL || r->ok == NULL) {
        vigil__pq_row_free(r);
        return vigil__pq_nomem("a row of values");
    }
    return VIGIL_OK;
}

void vigil__pq_row_free(pq_row *r)
{
    vigil__free(r->v);
    vigil__free(r->ok);
    r->v = NULL;
    r->ok = NULL;
}

void vigil__pq_row_clear(pq_row *r)
{
    memset(r->ok, 0, pq_words(r->n) * sizeof *r->ok);
}

vigil_status vigil__pq_row_emit(pq_eval *ev, pq_row *r, pq_value *out, const pq_lset *ls)
{
    size_t words = pq_words(r->n), first = SIZE_MAX, last = 0, count = 0;
    for (size_t w = 0; w < words; w++) {
        uint64_t b = r->ok[w];
        if (b == 0)
            continue;
        if (first == SIZE_MAX)
            first = w * 64 + (size_t)__builtin_ctzll(b);
        last = w * 64 + 63 - (size_t)__builtin_clzll(b);
        count += (size_t)__builtin_popcountll(b);
    }
    if (count == 0)
        return VIGIL_OK;
    size_t n = last - first + 1;
    pq_series *s;
    vigil_status st = vigil__pq_series_push(out, &s);
    if (st)
        return st;
    s->ls = ls;
    s->lo = (uint32_t)first;
    s->n = (uint32_t)n;
    s->v = vigil__pq_value_alloc(out, n * sizeof *s->v);
    if (s->v == NULL)
        return vigil__pq_nomem("a series");
    memcpy(s->v, r->v + first, n * sizeof *s->v);
    if (count != n) {
        s->ok = vigil__pq_value_alloc(out, pq_words(n) * sizeof *s->ok);
        if (s->ok == NULL)
            return vigil__pq_nomem("a series");
        memset(s->ok, 0, pq_words(n) * sizeof *s->ok);
        for (size_t i = first; i <= last; i++)
            if (pq_bit(r->ok, i))
                pq_bit_set(s->ok, i - first);
    }
    vigil__pq_row_clear(r);
    out->points += count;
    return vigil__pq_count(ev, count);
}

/* ---- merging outputs by label set ----------------------------------------------------------- */

vigil_status vigil__pq_merge_init(pq_merge *m, pq_eval *ev, pq_value *out)
{
    m->ev = ev;
    m->out = out;
    vigil__pq_index_init(&m->ix);
    return VIGIL_OK;
}

void vigil__pq_merge_free(pq_merge *m)
{
    vigil__pq_index_free(&m->ix);
}

vigil_status vigil__pq_merge_key(pq_merge *m, const pq_lset *ls, uint32_t lo, uint32_t n,
                                 uint32_t *idx)
{
    size_t pos = 0;
    uint32_t i;
    while (vigil__pq_index_next(&m->ix, ls->hash, &pos, &i)) {
        pq_series *s = &m->out->s[i];
        if (!vigil__pq_lset_equal(s->ls, ls))
            continue;
        uint32_t hi = s->lo + s->n > lo + n ? s->lo + s->n : lo + n;
        if (lo < s->lo)
            s->lo = lo;
        s->n = hi - s->lo;
        *idx = i;
        return VIGIL_OK;
    }
    pq_series *s;
    vigil_status st = vigil__pq_series_push(m->out, &s);
    if (st)
        return st;
    s->ls = ls;
    s->lo = lo;
    s->n = n;
    *idx = (uint32_t)(m->out->ns - 1);
    return vigil__pq_index_put(&m->ix, ls->hash, *idx);
}

vigil_status vigil__pq_merge_alloc(pq_merge *m)
{
    for (size_t i = 0; i < m->out->ns; i++) {
        pq_series *s = &m->out->s[i];
        size_t words = pq_words(s->n);
        s->v = vigil__pq_value_alloc(m->out, s->n * sizeof *s->v + 8);
        s->ok = vigil__pq_value_alloc(m->out, (words + 1) * sizeof *s->ok);
        if (s->v == NULL || s->ok == NULL)
            return vigil__pq_nomem("a vector");
        memset(s->ok, 0, (words + 1) * sizeof *s->ok);
    }
    return VIGIL_OK;
}

vigil_status vigil__pq_merge_put(pq_merge *m, uint32_t idx, size_t step, double v)
{
    pq_series *s = &m->out->s[idx];
    size_t i = step - s->lo;
    if (pq_bit(s->ok, i))
        return vigil__pq_dup_labelset();
    pq_bit_set(s->ok, i);
    s->v[i] = v;
    return VIGIL_OK;
}

vigil_status vigil__pq_merge_finish(pq_merge *m)
{
    pq_value *out = m->out;
    size_t k = 0, points = 0;
    for (size_t i = 0; i < out->ns; i++) {
        pq_series *s = &out->s[i];
        size_t count = 0;
        for (size_t w = 0; w < pq_words(s->n); w++)
            count += (size_t)__builtin_popcountll(s->ok[w]);
        if (count == 0)
            continue;
        if (count == s->n)
            s->ok = NULL;
        points += count;
        out->s[k++] = *s;
    }
    out->ns = k;
    out->points += points;
    return vigil__pq_count(m->ev, points);
}

vigil_status vigil__pq_check_unique_lsets(const pq_lset *const *ls, size_t n)
{
    pq_index ix;
    vigil__pq_index_init(&ix);
    vigil_status st = vigil__pq_index_reserve(&ix, n);
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        size_t pos = 0;
        uint32_t j;
        while (st == VIGIL_OK && vigil__pq_index_next(&ix, ls[i]->hash, &pos, &j))
            if (vigil__pq_lset_equal(ls[j], ls[i]))
                st = vigil__pq_dup_labelset();
        if (st == VIGIL_OK)
            st = vigil__pq_index_put(&ix, ls[i]->hash, (uint32_t)i);
    }
    vigil__pq_index_free(&ix);
    return st;
}

vigil_status vigil__pq_check_unique(const pq_value *v)
{
    pq_index ix;
    vigil__pq_index_init(&ix);
    vigil_status st = vigil__pq_index_reserve(&ix, v->ns);
    for (size_t i = 0; st == VIGIL_OK && i < v->ns; i++) {
        size_t pos = 0;
        uint32_t j;
        while (st == VIGIL_OK && vigil__pq_index_next(&ix, v->s[i].ls->hash, &pos, &j))
            if (vigil__pq_lset_equal(v->s[j].ls, v->s[i].ls))
                st = vigil__pq_dup_labelset();
        if (st == VIGIL_OK)
            st = vigil__pq_index_put(&ix, v->s[i].ls->hash, (uint32_t)i);
    }
    vigil__pq_index_free(&ix);
    return st;
}

/* ---- step invariance ------------------------------------------------------------------------ */

/* Functions whose value changes with the evaluation time even when their arguments do not
 * (Prometheus's AtModifierUnsafeFunctions). */
static bool time_dependent(pq_fn_id id)
{
    switch (id) {
    case PQ_FN_DAYS_IN_MONTH:
    case PQ_FN_DAY_OF_MONTH:
    case PQ_FN_DAY_OF_WEEK:
    case PQ_FN_DAY_OF_YEAR:
    case PQ_FN_HOUR:
    case PQ_FN_MINUTE:
    case PQ_FN_MONTH:
    case PQ_FN_YEAR:
    case PQ_FN_PREDICT_LINEAR:
    case PQ_FN_TIME:
    case PQ_FN_TIMESTAMP: return true;
    default: return false;
    }
}

/* The same decision as Prometheus's preprocessExprHelper: the value of node is the same at
 * every step. (An aggregation looks only at its expression, not at its parameter, as there.) */
bool vigil__pq_step_invariant(const pq_node *n)
{
    switch (n->kind) {
    case PQ_NUMBER:
    case PQ_STRING: return true;
    case PQ_VECTOR_SELECTOR: return n->u.vs.at != PQ_AT_NONE;
    case PQ_MATRIX_SELECTOR: return n->u.ms.vs->u.vs.at != PQ_AT_NONE;
    case PQ_SUBQUERY: return n->u.sq.at != PQ_AT_NONE;
    case PQ_PAREN: return vigil__pq_step_invariant(n->u.paren.expr);
    case PQ_UNARY: return vigil__pq_step_invariant(n->u.unary.expr);
    case PQ_AGGREGATE: return vigil__pq_step_invariant(n->u.agg.expr);
    case PQ_BINARY: return vigil__pq_step_invariant(n->u.bin.lhs) && vigil__pq_step_invariant(n->u.bin.rhs);
    case PQ_CALL:
        if (time_dependent(n->u.call.fn->id))
            return false;
        for (size_t i = 0; i < n->u.call.n_args; i++)
            if (!vigil__pq_step_invariant(n->u.call.args[i]))
                return false;
        return true;
    }
    return false;
}

/* Copies a one-step vector or scalar to every step of f. */
static vigil_status broadcast(pq_eval *ev, pq_value *one, const pq_frame *f, pq_value **out)
{
    if (one->kind == PQ_VAL_SCALAR) {
        pq_value *s;
        vigil_status st = vigil__pq_scalar_new(ev, f, &s);
        for (size_t i = 0; st == VIGIL_OK && i < f->n; i++)
            s->scalar[i] = one->scalar[0];
        vigil__pq_value_free(ev, one);
        *out = s;
        return st;
    }
    if (one->kind != PQ_VAL_VECTOR) {
        *out = one;
        return VIGIL_OK;
    }
    pq_value *v = NULL;
    vigil_status st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    for (size_t i = 0; st == VIGIL_OK && i < one->ns; i++) {
        pq_series *s;
        st = vigil__pq_series_push(v, &s);
        if (st)
            break;
        s->ls = one->s[i].ls;
        s->lo = 0;
        s->n = (uint32_t)f->n;
        s->v = vigil__pq_value_alloc(v, f->n * sizeof *s->v);
        if (s->v == NULL) {
            st = vigil__pq_nomem("a vector");
            break;
        }
        for (size_t k = 0; k < f->n; k++)
            s->v[k] = one->s[i].v[0];
        v->points += f->n;
        st = vigil__pq_count(ev, f->n);
    }
    vigil__pq_value_free(ev, one);
    *out = v;
    return st;
}

/* ---- simple nodes --------------------------------------------------------------------------- */

static vigil_status eval_number(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                pq_value **out)
{
    vigil_status st = vigil__pq_scalar_new(ev, f, out);
    for (size_t i = 0; st == VIGIL_OK && i < f->n; i++)
        (*out)->scalar[i] = node->u.number;
    return st;
}

static vigil_status eval_string(pq_eval *ev, const pq_node *node, pq_value **out)
{
    vigil_status st = vigil__pq_value_new(ev, PQ_VAL_STRING, out);
    if (st == VIGIL_OK)
        (*out)->str = node->u.string;
    return st;
}

/* -x: negates; a vector loses __name__, and two series left with the same labels are an
 * error even at different steps (Prometheus checks the whole matrix here). */
static vigil_status eval_unary(pq_eval *ev, const pq_node *node, const pq_frame *f,
                               pq_value **out)
{
    pq_value *v;
    vigil_status st = vigil__pq_eval(ev, node->u.unary.expr, f, &v);
    if (st)
        return st;
    if (v->kind == PQ_VAL_SCALAR) {
        for (size_t i = 0; i < f->n; i++)
            v->scalar[i] = -v->scalar[i];
        *out = v;
        return VIGIL_OK;
    }
    bool renamed = false;
    for (size_t i = 0; i < v->ns; i++) {
        pq_series *s = &v->s[i];
        const pq_lset *ls = vigil__pq_lset_drop_name(ev->arena, s->ls);
        if (ls == NULL) {
            vigil__pq_value_free(ev, v);
            return vigil__pq_nomem("a label set");
        }
        renamed |= ls != s->ls;
        s->ls = ls;
        for (size_t k = 0; k < s->n; k++)
            s->v[k] = -s->v[k];
    }
    st = renamed ? vigil__pq_check_unique(v) : VIGIL_OK;
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

static vigil_status dispatch(pq_eval *ev, const pq_node *node, const pq_frame *f,
                             pq_value **out)
{
    switch (node->kind) {
    case PQ_NUMBER: return eval_number(ev, node, f, out);
    case PQ_STRING: return eval_string(ev, node, out);
    case PQ_PAREN: return vigil__pq_eval(ev, node->u.paren.expr, f, out);
    case PQ_UNARY: return eval_unary(ev, node, f, out);
    case PQ_VECTOR_SELECTOR: return vigil__pq_eval_selector(ev, node, f, false, out);
    case PQ_MATRIX_SELECTOR:
    case PQ_SUBQUERY: return vigil__pq_eval_range_vector(ev, node, f, out);
    case PQ_BINARY: return vigil__pq_eval_binary(ev, node, f, out);
    case PQ_AGGREGATE: return vigil__pq_eval_aggregate(ev, node, f, out);
    case PQ_CALL: return vigil__pq_eval_call(ev, node, f, out);
    }
    return vigil__fail(VIGIL_EINVAL, "unknown syntax tree node %d", (int)node->kind);
}

vigil_status vigil__pq_eval(pq_eval *ev, const pq_node *node, const pq_frame *f, pq_value **out)
{
    *out = NULL;
    vigil_status st = vigil__pq_check_time(ev);
    if (st)
        return st;
    bool ranged = node->kind == PQ_MATRIX_SELECTOR || node->kind == PQ_SUBQUERY;
    if (f->n > 1 && !ranged && node->kind != PQ_NUMBER && node->kind != PQ_STRING &&
        vigil__pq_step_invariant(node)) {
        pq_frame one = {f->start, f->interval, 1};
        pq_value *v;
        st = dispatch(ev, node, &one, &v);
        if (st)
            return st;
        return broadcast(ev, v, f, out);
    }
    st = dispatch(ev, node, f, out);
    if (st && *out) {
        vigil__pq_value_free(ev, *out);
        *out = NULL;
    }
    return st;
}
