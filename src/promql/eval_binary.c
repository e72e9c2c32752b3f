/* eval_binary.c — binary operators: arithmetic (+ - * / % ^ atan2), comparisons (filtering or
 * with `bool`) and the set operators (and, or, unless), between scalars, between a vector and
 * a scalar, and between two vectors with Prometheus's vector matching (on/ignoring,
 * group_left/group_right) and its errors.
 *
 * Two vectors are matched by signature: each series' signature (the labels named by on(), or
 * all but those named by ignoring() and __name__) is hashed once, series are grouped by it, and
 * each group is then worked through over all steps. A group of one series on each side, the
 * common case, is a plain loop over the steps both have; larger groups are checked step by
 * step for what Prometheus refuses (two series of the "one" side present at once, or two
 * matches of a one-to-one operation). Arithmetic is Go's: % is fmod (math.Mod), ^ follows
 * math.Pow, and comparisons with NaN are false. */
#include <math.h>
#include <string.h>

#include "core/core_int.h"
#include "eval.h"

/* ---- arithmetic ----------------------------------------------------------------------------- */

static bool odd_integer(double y)
{
    if (fabs(y) >= 9007199254740992.0) /* 2^53: every such double is even */
        return false;
    double i;
    return modf(y, &i) == 0 && fmod(i, 2) != 0;
}

/* Go's math.Pow: the special cases first, then x^y as exp(yf * log(x)) for the fractional
 * part times x^yi by repeated squaring with the exponent kept apart (frexp/ldexp), in Go's
 * order, so integer powers give Go's bits. */
double vigil__pq_go_pow(double x, double y)
{
    if (y == 0 || x == 1)
        return 1;
    if (y == 1)
        return x;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0) {
        if (y < 0)
            return signbit(x) && odd_integer(y) ? -INFINITY : INFINITY;
        return signbit(x) && odd_integer(y) ? x : 0;
    }
    if (isinf(y)) {
        if (x == -1)
            return 1;
        return (fabs(x) < 1) == (y > 0) ? 0 : INFINITY;
    }
    if (isinf(x)) {
        if (x < 0)
            return vigil__pq_go_pow(1 / x, -y); /* pow(-0, -y) */
        return y < 0 ? 0 : INFINITY;
    }
    if (y == 0.5)
        return sqrt(x);
    if (y == -0.5)
        return 1 / sqrt(x);

    double yi;
    double yf = modf(fabs(y), &yi);
    if (yf != 0 && x < 0)
        return NAN;
    if (yi >= 9223372036854775808.0) {
        if (x == -1)
            return 1;
        return (fabs(x) < 1) == (y > 0) ? 0 : INFINITY;
    }
    double a1 = 1;
    long ae = 0;
    if (yf != 0) {
        if (yf > 0.5) {
            yf--;
            yi++;
        }
        a1 = exp(yf * log(x));
    }
    int xe;
    double x1 = frexp(x, &xe);
    long xel = xe;
    for (int64_t i = (int64_t)yi; i != 0; i >>= 1) {
        if (xel < -(1L << 12) || (1L << 12) < xel) {
            ae += xel; /* catastrophic overflow: ldexp sorts it out */
            break;
        }
        if (i & 1) {
            a1 *= x1;
            ae += xel;
        }
        x1 *= x1;
        xel <<= 1;
        if (x1 < .5) {
            x1 += x1;
            xel--;
        }
    }
    if (y < 0) {
        a1 = 1 / a1;
        ae = -ae;
    }
    if (ae > 100000)
        ae = 100000;
    if (ae < -100000)
        ae = -100000;
    return ldexp(a1, (int)ae);
}

static bool drops_name(pq_binop op)
{
    switch (op) {
    case PQ_OP_ADD:
    case PQ_OP_SUB:
    case PQ_OP_MUL:
    case PQ_OP_DIV:
    case PQ_OP_POW:
    case PQ_OP_MOD: return true;
    default: return false;
    }
}

/* The result of l op r and, for comparisons, whether the pair passes (the value is then l). */
static inline double elem(pq_binop op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case PQ_OP_ADD: return l + r;
    case PQ_OP_SUB: return l - r;
    case PQ_OP_MUL: return l * r;
    case PQ_OP_DIV: return l / r;
    case PQ_OP_MOD: return fmod(l, r);
    case PQ_OP_POW: return vigil__pq_go_pow(l, r);
    case PQ_OP_ATAN2: return atan2(l, r);
    case PQ_OP_EQL: *keep = l == r; return l;
    case PQ_OP_NEQ: *keep = l != r; return l;
    case PQ_OP_GTR: *keep = l > r; return l;
    case PQ_OP_LSS: *keep = l < r; return l;
    case PQ_OP_GTE: *keep = l >= r; return l;
    case PQ_OP_LTE: *keep = l <= r; return l;
    default: *keep = false; return 0;
    }
}

/* ---- scalar op scalar ----------------------------------------------------------------------- */

static vigil_status scalar_scalar(pq_binop op, pq_value *l, pq_value *r, const pq_frame *f)
{
    bool cmp = vigil__pq_binop_is_comparison(op);
    for (size_t k = 0; k < f->n; k++) {
        bool keep;
        double v = elem(op, l->scalar[k], r->scalar[k], &keep);
        l->scalar[k] = cmp ? (keep ? 1 : 0) : v;
    }
    return VIGIL_OK;
}

/* ---- vector op scalar ----------------------------------------------------------------------- */

static vigil_status vector_scalar(pq_eval *ev, const pq_node *node, pq_value *vec,
                                  pq_value *sc, bool swap, pq_value *out)
{
    const pq_binop op = node->u.bin.op;
    const bool rbool = node->u.bin.return_bool;
    const bool cmp = vigil__pq_binop_is_comparison(op);
    const bool drop = drops_name(op) || rbool;
    pq_merge m;
    vigil__pq_merge_init(&m, ev, out);
    uint32_t *idx = vigil__malloc((vec->ns + 1) * sizeof *idx);
    vigil_status st = idx ? VIGIL_OK : vigil__pq_nomem("an operator's outputs");
    for (size_t i = 0; !st && i < vec->ns; i++) {
        const pq_lset *ls = drop ? vigil__pq_lset_drop_name(ev->arena, vec->s[i].ls)
                                 : vec->s[i].ls;
        st = ls ? vigil__pq_merge_key(&m, ls, vec->s[i].lo, vec->s[i].n, &idx[i])
                : vigil__pq_nomem("a label set");
    }
    if (!st)
        st = vigil__pq_merge_alloc(&m);
    for (size_t i = 0; !st && i < vec->ns; i++) {
        const pq_series *s = &vec->s[i];
        for (size_t k = 0; !st && k < s->n; k++) {
            if (s->ok != NULL && !pq_bit(s->ok, k))
                continue;
            size_t step = s->lo + k;
            double lv = s->v[k], rv = sc->scalar[step];
            if (swap) {
                lv = sc->scalar[step];
                rv = s->v[k];
            }
            bool keep;
            double v = elem(op, lv, rv, &keep);
            if (cmp && swap)
                v = rv; /* a filter keeps the vector's value whichever side it is on */
            if (rbool) {
                v = keep ? 1 : 0;
                keep = true;
            }
            if (keep)
                st = vigil__pq_merge_put(&m, idx[i], step, v);
        }
    }
    if (!st)
        st = vigil__pq_merge_finish(&m);
    vigil__pq_merge_free(&m);
    vigil__free(idx);
    return st;
}

/* ---- grouping two vectors by signature ------------------------------------------------------ */

typedef struct sig_group {
    const pq_lset *rep;      /* a series with this signature */
    uint32_t first[2], n[2]; /* members of side 0 (lhs) and 1 (rhs) in the member list */
} sig_group;

typedef struct matcher {
    pq_eval *ev;
    const pq_vector_matching *vm;
    pq_value *side[2];
    sig_group *g;
    size_t ng;
    uint32_t *members[2]; /* series indices, grouped */
} matcher;

static vigil_status group_sides(matcher *mt)
{
    const pq_vector_matching *vm = mt->vm;
    size_t total = mt->side[0]->ns + mt->side[1]->ns;
    uint32_t *gid = vigil__malloc((total + 1) * sizeof *gid);
    mt->g = vigil__malloc((total + 1) * sizeof *mt->g);
    mt->members[0] = vigil__malloc((mt->side[0]->ns + 1) * sizeof(uint32_t));
    mt->members[1] = vigil__malloc((mt->side[1]->ns + 1) * sizeof(uint32_t));
    pq_index ix;
    vigil__pq_index_init(&ix);
    vigil_status st = gid && mt->g && mt->members[0] && mt->members[1]
                          ? vigil__pq_index_reserve(&ix, total)
                          : vigil__pq_nomem("vector matching");
    size_t at = 0;
    for (int side = 0; side < 2 && !st; side++) {
        for (size_t i = 0; i < mt->side[side]->ns && !st; i++, at++) {
            const pq_lset *ls = mt->side[side]->s[i].ls;
            uint64_t h = vigil__pq_lset_project_hash(ls, vm->on, vm->labels, vm->n_labels);
            size_t pos = 0;
            uint32_t g;
            bool found = false;
            while (!found && vigil__pq_index_next(&ix, h, &pos, &g))
                found = vigil__pq_lset_project_equal(mt->g[g].rep, ls, vm->on, vm->labels,
                                                     vm->n_labels);
            if (!found) {
                g = (uint32_t)mt->ng++;
                mt->g[g] = (sig_group){ls, {0, 0}, {0, 0}};
                st = vigil__pq_index_put(&ix, h, g);
            }
            gid[at] = g;
            mt->g[g].n[side]++;
        }
    }
    vigil__pq_index_free(&ix);
    if (!st) {
        uint32_t next[2] = {0, 0};
        for (size_t g = 0; g < mt->ng; g++) {
            for (int side = 0; side < 2; side++) {
                mt->g[g].first[side] = next[side];
                next[side] += mt->g[g].n[side];
                mt->g[g].n[side] = 0;
            }
        }
        at = 0;
        for (int side = 0; side < 2; side++) {
            for (size_t i = 0; i < mt->side[side]->ns; i++, at++) {
                sig_group *gr = &mt->g[gid[at]];
                mt->members[side][gr->first[side] + gr->n[side]++] = (uint32_t)i;
            }
        }
    }
    vigil__free(gid);
    return st;
}

static void matcher_free(matcher *mt)
{
    vigil__free(mt->g);
    vigil__free(mt->members[0]);
    vigil__free(mt->members[1]);
}

static const pq_series *member(const matcher *mt, const sig_group *g, int side, uint32_t j)
{
    return &mt->side[side]->s[mt->members[side][g->first[side] + j]];
}

/* Steps at which any member of one side of a group has a value, as a frame-wide bitmap. */
static void presence(const matcher *mt, const sig_group *g, int side, uint64_t *bits,
                     size_t words)
{
    memset(bits, 0, words * sizeof *bits);
    for (uint32_t j = 0; j < g->n[side]; j++) {
        const pq_series *s = member(mt, g, side, j);
        for (size_t k = 0; k < s->n; k++)
            if (s->ok == NULL || pq_bit(s->ok, k))
                pq_bit_set(bits, s->lo + k);
    }
}

/* ---- and, or, unless ------------------------------------------------------------------------ */

/* Copies series s where keep(step) holds into the merge output idx. */
static vigil_status put_where(pq_merge *m, uint32_t idx, const pq_series *s,
                              const uint64_t *other, bool want)
{
    for (size_t k = 0; k < s->n; k++) {
        if (s->ok != NULL && !pq_bit(s->ok, k))
            continue;
        size_t step = s->lo + k;
        if ((other != NULL && pq_bit(other, step)) != want)
            continue;
        vigil_status st = vigil__pq_merge_put(m, idx, step, s->v[k]);
        if (st)
            return st;
    }
    return VIGIL_OK;
}

static vigil_status set_op(matcher *mt, pq_binop op, const pq_frame *f, pq_value *out)
{
    pq_eval *ev = mt->ev;
    size_t words = pq_words(f->n);
    uint64_t *bits = vigil__malloc((words + 1) * sizeof *bits);
    pq_merge m;
    vigil__pq_merge_init(&m, ev, out);
    vigil_status st = bits ? VIGIL_OK : vigil__pq_nomem("a set operation");
    uint32_t idx;
    /* Pass 1: keys, in Prometheus's output order (left side, then the right side for or). */
    for (int side = 0; side < (op == PQ_OP_OR ? 2 : 1) && !st; side++)
        for (size_t i = 0; i < mt->side[side]->ns && !st; i++)
            st = vigil__pq_merge_key(&m, mt->side[side]->s[i].ls, mt->side[side]->s[i].lo,
                                     mt->side[side]->s[i].n, &idx);
    if (!st)
        st = vigil__pq_merge_alloc(&m);
    for (size_t g = 0; g < mt->ng && !st; g++) {
        sig_group *gr = &mt->g[g];
        int filter = op == PQ_OP_OR ? 0 : 1; /* the side whose presence filters the other */
        presence(mt, gr, filter, bits, words);
        for (int side = 0; side < 2 && !st; side++) {
            if (side == 1 && op != PQ_OP_OR)
                break;
            for (uint32_t j = 0; j < gr->n[side] && !st; j++) {
                const pq_series *s = member(mt, gr, side, j);
                st = vigil__pq_merge_key(&m, s->ls, s->lo, s->n, &idx);
                if (st)
                    break;
                if (op == PQ_OP_OR)
                    st = put_where(&m, idx, s, side == 0 ? NULL : bits, false);
                else
                    st = put_where(&m, idx, s, gr->n[1] ? bits : NULL, op == PQ_OP_AND);
            }
        }
    }
    if (!st)
        st = vigil__pq_merge_finish(&m);
    vigil__pq_merge_free(&m);
    vigil__free(bits);
    return st;
}

/* ---- arithmetic and comparisons between vectors --------------------------------------------- */

typedef struct binop {
    matcher mt;
    pq_binop op;
    bool rbool;
    pq_cardinality card;
    pq_merge m;
    const pq_frame *f;
} binop;

/* Prometheus's resultMetric: the many side's labels (less __name__ for arithmetic; only or
 * without the matching labels one-to-one), with group_x's extra labels from the one side. */
static vigil_status result_labels(binop *b, const pq_lset *l, const pq_lset *r,
                                  const pq_lset **out)
{
    pq_eval *ev = b->mt.ev;
    const pq_vector_matching *vm = b->mt.vm;
    pq_lbuilder *lb = &ev->lb;
    vigil_status st = vigil__pq_lb_reset(lb, l);
    if (st)
        return st;
    if (drops_name(b->op))
        vigil__pq_lb_del(lb, "__name__");
    if (b->card == PQ_CARD_ONE_TO_ONE) {
        if (vm->on)
            vigil__pq_lb_keep(lb, vm->labels, vm->n_labels);
        else
            for (size_t i = 0; i < vm->n_labels; i++)
                vigil__pq_lb_del(lb, vm->labels[i]);
    }
    for (size_t i = 0; i < vm->n_include && !st; i++) {
        const char *v = vigil__pq_lset_get(r, vm->include[i]);
        if (v != NULL)
            st = vigil__pq_lb_set(lb, vm->include[i], v);
        else
            vigil__pq_lb_del(lb, vm->include[i]);
    }
    if (st)
        return st;
    const pq_lset *ls = vigil__pq_lb_finish(lb, ev->arena);
    if (ls != NULL && b->rbool)
        ls = vigil__pq_lset_drop_name(ev->arena, ls);
    *out = ls;
    return ls ? VIGIL_OK : vigil__pq_nomem("a label set");
}

/* The labels two series have in common for the error message: Prometheus's MatchLabels. */
static vigil_status matched_labels(pq_eval *ev, const pq_vector_matching *vm, const pq_lset *ls,
                                   const pq_lset **out)
{
    pq_lbuilder *lb = &ev->lb;
    vigil_status st = vigil__pq_lb_reset(lb, ls);
    if (st)
        return st;
    if (vm->on) {
        vigil__pq_lb_keep(lb, vm->labels, vm->n_labels);
    } else {
        vigil__pq_lb_del(lb, "__name__");
        for (size_t i = 0; i < vm->n_labels; i++)
            vigil__pq_lb_del(lb, vm->labels[i]);
    }
    *out = vigil__pq_lb_finish(lb, ev->arena);
    return *out ? VIGIL_OK : vigil__pq_nomem("a label set");
}

static vigil_status duplicate_one_side(binop *b, const pq_lset *later, const pq_lset *earlier)
{
    const pq_lset *match;
    vigil_status st = matched_labels(b->mt.ev, b->mt.vm, later, &match);
    if (st)
        return st;
    vigil_buffer mb, lb, eb;
    vigil_buffer_init(&mb, 0);
    vigil_buffer_init(&lb, 0);
    vigil_buffer_init(&eb, 0);
    st = vigil__pq_lset_format(match, &mb);
    if (!st)
        st = vigil__pq_lset_format(later, &lb);
    if (!st)
        st = vigil__pq_lset_format(earlier, &eb);
    if (!st)
        st = vigil__fail(VIGIL_ESTATE,
                         "found duplicate series for the match group %s on the %s hand-side of "
                         "the operation: [%s, %s];many-to-many matching not allowed: matching "
                         "labels must be unique on one side",
                         mb.data, b->card == PQ_CARD_ONE_TO_MANY ? "left" : "right", lb.data,
                         eb.data);
    vigil_buffer_free(&mb);
    vigil_buffer_free(&lb);
    vigil_buffer_free(&eb);
    return st;
}

/* The value of a matched pair at one step; false when a filter drops it. */
static inline bool pair_value(const binop *b, double many, double one, double *out)
{
    double vl = many, vr = one;
    if (b->card == PQ_CARD_ONE_TO_MANY) {
        vl = one;
        vr = many;
    }
    bool keep;
    double v = elem(b->op, vl, vr, &keep);
    if (b->rbool) {
        *out = keep ? 1 : 0;
        return true;
    }
    *out = v;
    return keep;
}

/* A group with one series on each side: the pair at every step both have. */
static vigil_status simple_pair(binop *b, const pq_series *l, const pq_series *r, bool keys)
{
    uint32_t lo = l->lo > r->lo ? l->lo : r->lo;
    uint32_t hi = l->lo + l->n < r->lo + r->n ? l->lo + l->n : r->lo + r->n;
    if (lo >= hi)
        return VIGIL_OK;
    const pq_lset *ls;
    vigil_status st = result_labels(b, l->ls, r->ls, &ls);
    uint32_t idx;
    if (!st)
        st = vigil__pq_merge_key(&b->m, ls, lo, hi - lo, &idx);
    if (st || keys)
        return st;
    for (size_t step = lo; step < hi && !st; step++) {
        if (!pq_has(l, step) || !pq_has(r, step))
            continue;
        double v;
        if (pair_value(b, pq_at(l, step), pq_at(r, step), &v))
            st = vigil__pq_merge_put(&b->m, idx, step, v);
    }
    return st;
}

/* Per member of a group's many side: the one-side series it was last paired with and the
 * output that pair goes to, so labels are worked out once per pair, not once per step. */
typedef struct pair_cache {
    const pq_series *one;
    uint32_t idx;
} pair_cache;

static vigil_status pair_output(binop *b, pair_cache *c, const pq_series *l,
                                const pq_series *one, uint32_t *idx)
{
    if (c->one == one) {
        *idx = c->idx;
        return VIGIL_OK;
    }
    const pq_lset *ls;
    vigil_status st = result_labels(b, l->ls, one->ls, &ls);
    if (!st)
        st = vigil__pq_merge_key(&b->m, ls, l->lo, l->n, &c->idx);
    c->one = one;
    *idx = c->idx;
    return st;
}

/* The general group: step by step, the one side must have at most one series present, and a
 * one-to-one operation at most one match. keys: only register the outputs. */
static vigil_status general_group(binop *b, const sig_group *g, bool keys, pair_cache *cache,
                                  uint32_t *written, const uint64_t *many_any)
{
    const matcher *mt = &b->mt;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t j = 0; j < g->n[1]; j++) {
        const pq_series *r = member(mt, g, 1, j);
        lo = r->lo < lo ? r->lo : lo;
        hi = r->lo + r->n > hi ? r->lo + r->n : hi;
    }
    for (uint32_t j = 0; j < g->n[0]; j++)
        cache[j].one = NULL;
    vigil_status st = VIGIL_OK;
    for (size_t step = lo; step < hi && !st; step++) {
        const pq_series *one = NULL;
        for (uint32_t j = 0; j < g->n[1] && !st; j++) {
            const pq_series *r = member(mt, g, 1, j);
            if (!pq_has(r, step))
                continue;
            /* Prometheus indexes the one side at every step the other side has anything. */
            if (one != NULL && pq_bit(many_any, step))
                st = duplicate_one_side(b, r->ls, one->ls);
            one = r;
        }
        if (st || one == NULL)
            continue;
        uint32_t nwritten = 0;
        for (uint32_t j = 0; j < g->n[0] && !st; j++) {
            const pq_series *l = member(mt, g, 0, j);
            if (!pq_has(l, step))
                continue;
            uint32_t idx;
            double v;
            if ((st = pair_output(b, &cache[j], l, one, &idx)) != VIGIL_OK || keys ||
                !pair_value(b, pq_at(l, step), pq_at(one, step), &v))
                continue;
            if (b->card == PQ_CARD_ONE_TO_ONE && nwritten > 0) {
                st = vigil__fail(VIGIL_ESTATE, "multiple matches for labels: many-to-one "
                                               "matching must be explicit (group_left/group_right)");
                break;
            }
            for (uint32_t w = 0; w < nwritten && !st; w++)
                if (written[w] == idx)
                    st = vigil__fail(VIGIL_ESTATE, "multiple matches for labels: grouping labels "
                                                   "must ensure unique matches");
            written[nwritten++] = idx;
            if (!st)
                st = vigil__pq_merge_put(&b->m, idx, step, v);
        }
    }
    return st;
}

static vigil_status vector_vector(binop *b, pq_value *out)
{
    matcher *mt = &b->mt;
    uint32_t widest = 1;
    for (size_t g = 0; g < mt->ng; g++)
        widest = mt->g[g].n[0] > widest ? mt->g[g].n[0] : widest;
    uint32_t *written = vigil__malloc(widest * sizeof *written);
    pair_cache *cache = vigil__malloc(widest * sizeof *cache);
    uint64_t *many_any = vigil__calloc(pq_words(b->f->n) + 1, sizeof *many_any);
    vigil__pq_merge_init(&b->m, mt->ev, out);
    vigil_status st = written && cache && many_any ? VIGIL_OK : vigil__pq_nomem("vector matching");
    for (size_t i = 0; !st && i < mt->side[0]->ns; i++) {
        const pq_series *s = &mt->side[0]->s[i];
        for (size_t k = 0; k < s->n; k++)
            if (s->ok == NULL || pq_bit(s->ok, k))
                pq_bit_set(many_any, s->lo + k);
    }
    for (int pass = 0; pass < 2 && !st; pass++) {
        bool keys = pass == 0;
        for (size_t g = 0; g < mt->ng && !st; g++) {
            const sig_group *gr = &mt->g[g];
            if (gr->n[1] == 0 || (gr->n[0] == 0 && gr->n[1] == 1))
                continue;
            if (gr->n[0] == 1 && gr->n[1] == 1)
                st = simple_pair(b, member(mt, gr, 0, 0), member(mt, gr, 1, 0), keys);
            else
                st = general_group(b, gr, keys, cache, written, many_any);
            if (g % 64 == 63 && !st)
                st = vigil__pq_check_time(mt->ev);
        }
        if (keys && !st)
            st = vigil__pq_merge_alloc(&b->m);
    }
    if (!st)
        st = vigil__pq_merge_finish(&b->m);
    vigil__pq_merge_free(&b->m);
    vigil__free(written);
    vigil__free(cache);
    vigil__free(many_any);
    return st;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

static vigil_status two_vectors(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                pq_value *l, pq_value *r, pq_value *out)
{
    static const pq_vector_matching none = {PQ_CARD_ONE_TO_ONE, false, NULL, 0, NULL, 0};
    const pq_vector_matching *vm = node->u.bin.matching ? node->u.bin.matching : &none;
    binop b = {.op = node->u.bin.op, .rbool = node->u.bin.return_bool, .card = vm->card, .f = f};
    b.mt.ev = ev;
    b.mt.vm = vm;
    bool set = vigil__pq_binop_is_set(b.op);
    bool swap = !set && vm->card == PQ_CARD_ONE_TO_MANY;
    b.mt.side[0] = swap ? r : l; /* side 0 is the "many" side, side 1 the "one" side */
    b.mt.side[1] = swap ? l : r;
    vigil_status st = group_sides(&b.mt);
    if (!st)
        st = set ? set_op(&b.mt, b.op, f, out) : vector_vector(&b, out);
    matcher_free(&b.mt);
    return st;
}

vigil_status vigil__pq_eval_binary(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                   pq_value **out)
{
    pq_value *l = NULL, *r = NULL, *v = NULL;
    vigil_status st = vigil__pq_eval(ev, node->u.bin.lhs, f, &l);
    if (!st)
        st = vigil__pq_eval(ev, node->u.bin.rhs, f, &r);
    if (!st && l->kind == PQ_VAL_SCALAR && r->kind == PQ_VAL_SCALAR) {
        st = scalar_scalar(node->u.bin.op, l, r, f);
        vigil__pq_value_free(ev, r);
        if (st) {
            vigil__pq_value_free(ev, l);
            return st;
        }
        *out = l;
        return VIGIL_OK;
    }
    if (!st)
        st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st) {
        if (l->kind == PQ_VAL_SCALAR)
            st = vector_scalar(ev, node, r, l, true, v);
        else if (r->kind == PQ_VAL_SCALAR)
            st = vector_scalar(ev, node, l, r, false, v);
        else
            st = two_vectors(ev, node, f, l, r, v);
    }
    vigil__pq_value_free(ev, l);
    vigil__pq_value_free(ev, r);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}
