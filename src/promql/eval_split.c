/* eval_split.c — a long range query evaluated as two halves on two threads.
 *
 * PromQL steps are independent of each other: what a step yields depends on its own time and
 * on the data, never on which other steps the query asks for (subquery steps are aligned to
 * absolute time, @ pins absolute times, start() and end() are the whole query's). So the
 * first and the second half of the steps can be evaluated separately, each reading only the
 * data its own steps need, and the two results joined series by series. Reading and decoding
 * samples is most of a long query's work, and this halves its wall time on two cores.
 *
 * A few checks Prometheus makes look at the whole matrix rather than at each step (two series
 * left with equal labels after a range function or a unary minus dropped __name__, even at
 * different steps), and an aggregation over a pinned expression evaluates its parameter once
 * at the query's start. Queries that could meet those run on one thread, unchanged.
 *
 * The halves share the query's deadline and its sample budget (one counter, updated
 * atomically). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"
#include "eval.h"

/* Below this many steps a second thread costs more than it saves. */
#define SPLIT_MIN_STEPS 200

/* A selector naming exactly one metric cannot yield two series that differ only in
 * __name__. */
static bool one_metric(const pq_node *vs)
{
    for (size_t i = 0; i < vs->u.vs.n_matchers; i++)
        if (vs->u.vs.matchers[i].type == VIGIL_MATCH_EQUAL &&
            strcmp(vs->u.vs.matchers[i].name, "__name__") == 0)
            return true;
    return false;
}

static bool splittable(const pq_node *n)
{
    switch (n->kind) {
    case PQ_NUMBER:
    case PQ_STRING:
    case PQ_VECTOR_SELECTOR:
    case PQ_MATRIX_SELECTOR: return true;
    case PQ_SUBQUERY: return splittable(n->u.sq.expr);
    case PQ_PAREN: return splittable(n->u.paren.expr);
    case PQ_UNARY: return n->type == PQ_T_SCALAR && splittable(n->u.unary.expr);
    case PQ_BINARY: return splittable(n->u.bin.lhs) && splittable(n->u.bin.rhs);
    case PQ_AGGREGATE:
        if (n->u.agg.param != NULL &&
            (!splittable(n->u.agg.param) ||
             (vigil__pq_step_invariant(n->u.agg.expr) &&
              !vigil__pq_step_invariant(n->u.agg.param))))
            return false;
        return splittable(n->u.agg.expr);
    case PQ_CALL:
        for (size_t i = 0; i < n->u.call.n_args; i++) {
            const pq_node *a = vigil__pq_unparen(n->u.call.args[i]);
            if (a->type != PQ_T_MATRIX) {
                if (!splittable(a))
                    return false;
                continue;
            }
            pq_fn_id id = n->u.call.fn->id;
            bool keeps_labels = id == PQ_FN_LAST_OVER_TIME || id == PQ_FN_ABSENT_OVER_TIME;
            if (a->kind == PQ_SUBQUERY && !(keeps_labels && splittable(a)))
                return false;
            if (a->kind == PQ_MATRIX_SELECTOR && !keeps_labels && !one_metric(a->u.ms.vs))
                return false;
        }
        return true;
    }
    return false;
}

/* ---- joining the halves --------------------------------------------------------------------- */

/* Series b (of the second half, whose steps start at shift) appended to series a, or on its
 * own when a is NULL. */
static vigil_status join_series(pq_value *out, const pq_series *a, const pq_series *b,
                                uint32_t shift)
{
    pq_series *s;
    vigil_status st = vigil__pq_series_push(out, &s);
    if (st)
        return st;
    uint32_t lo = a ? a->lo : b->lo + shift;
    uint32_t hi = b ? b->lo + shift + b->n : a->lo + a->n;
    size_t n = hi - lo;
    s->ls = a ? a->ls : b->ls;
    s->lo = lo;
    s->n = (uint32_t)n;
    s->v = vigil__pq_value_alloc(out, n * sizeof *s->v);
    s->ok = vigil__pq_value_alloc(out, (pq_words(n) + 1) * sizeof *s->ok);
    if (s->v == NULL || s->ok == NULL)
        return vigil__pq_nomem("a range query's result");
    memset(s->ok, 0, (pq_words(n) + 1) * sizeof *s->ok);
    const pq_series *part[2] = {a, b};
    for (int p = 0; p < 2; p++) {
        const pq_series *x = part[p];
        if (x == NULL)
            continue;
        size_t base = x->lo + (p ? shift : 0) - lo;
        for (size_t k = 0; k < x->n; k++) {
            if (x->ok != NULL && !pq_bit(x->ok, k))
                continue;
            s->v[base + k] = x->v[k];
            pq_bit_set(s->ok, base + k);
        }
    }
    return VIGIL_OK;
}

static vigil_status join_vectors(pq_value *a, pq_value *b, uint32_t shift, pq_value *out)
{
    pq_index ix;
    vigil__pq_index_init(&ix);
    bool *taken = vigil__calloc(b->ns + 1, sizeof *taken);
    vigil_status st = taken ? vigil__pq_index_reserve(&ix, b->ns)
                            : vigil__pq_nomem("a range query's result");
    for (size_t j = 0; !st && j < b->ns; j++)
        st = vigil__pq_index_put(&ix, b->s[j].ls->hash, (uint32_t)j);
    for (size_t i = 0; !st && i < a->ns; i++) {
        size_t pos = 0;
        uint32_t j;
        const pq_series *match = NULL;
        while (match == NULL && vigil__pq_index_next(&ix, a->s[i].ls->hash, &pos, &j))
            if (vigil__pq_lset_equal(a->s[i].ls, b->s[j].ls))
                match = &b->s[j];
        if (match != NULL)
            taken[match - b->s] = true;
        st = join_series(out, &a->s[i], match, shift);
    }
    for (size_t j = 0; !st && j < b->ns; j++)
        if (!taken[j])
            st = join_series(out, NULL, &b->s[j], shift);
    vigil__free(taken);
    vigil__pq_index_free(&ix);
    return st;
}

static vigil_status join(pq_eval *ev, pq_value *a, pq_value *b, const pq_frame *f,
                         uint32_t shift, pq_value **out)
{
    pq_value *v;
    vigil_status st = vigil__pq_value_new(ev, a->kind, &v);
    if (st)
        return st;
    if (a->kind == PQ_VAL_SCALAR) {
        v->scalar = vigil__pq_value_alloc(v, f->n * sizeof *v->scalar);
        if (v->scalar == NULL) {
            st = vigil__pq_nomem("a range query's result");
        } else {
            memcpy(v->scalar, a->scalar, shift * sizeof *v->scalar);
            memcpy(v->scalar + shift, b->scalar, (f->n - shift) * sizeof *v->scalar);
        }
    } else {
        st = join_vectors(a, b, shift, v);
    }
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

/* ---- the two threads ------------------------------------------------------------------------ */

typedef struct half {
    pq_eval *ev;
    const pq_node *root;
    pq_frame f;
    pq_value *v;
    vigil_status st;
    char msg[1024]; /* the failure's message: vigil_errmsg() is per thread */
} half;

static void *run_half(void *arg)
{
    half *h = arg;
    h->st = vigil__pq_eval(h->ev, h->root, &h->f, &h->v);
    if (h->st)
        snprintf(h->msg, sizeof h->msg, "%s", vigil_errmsg());
    return NULL;
}

vigil_status vigil__pq_par_eval(pq_par *p, vigil_tsdb *db, const vigil_promql_options *opts,
                                const pq_node *root, const pq_frame *f, int64_t start,
                                int64_t end, pq_value **out)
{
    memset(p, 0, sizeof *p);
    bool two = f->n >= SPLIT_MIN_STEPS && sysconf(_SC_NPROCESSORS_ONLN) > 1 && splittable(root);
    p->used = two ? 2 : 1;
    for (int i = 0; i < p->used; i++) {
        vigil__pq_arena_init(&p->arena[i]);
        vigil__pq_eval_init(&p->ev[i], db, &p->arena[i], opts, start, end);
        p->ev[i].samples = &p->samples;
    }
    if (!two)
        return vigil__pq_eval(&p->ev[0], root, f, out);

    size_t first = f->n / 2;
    half h[2] = {{.ev = &p->ev[0], .root = root, .f = {f->start, f->interval, first}},
                 {.ev = &p->ev[1], .root = root,
                  .f = {pq_frame_t(f, first), f->interval, f->n - first}}};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, run_half, &h[1]) == 0;
    run_half(&h[0]);
    if (threaded)
        pthread_join(th, NULL);
    else
        run_half(&h[1]);
    vigil_status st = VIGIL_OK;
    for (int i = 0; i < 2 && !st; i++)
        if (h[i].st)
            st = vigil__fail(h[i].st, "%s", h[i].msg);
    if (!st)
        st = join(&p->ev[0], h[0].v, h[1].v, f, (uint32_t)first, out);
    vigil__pq_value_free(&p->ev[0], h[0].v);
    vigil__pq_value_free(&p->ev[1], h[1].v);
    return st;
}

void vigil__pq_par_done(pq_par *p, pq_value *v)
{
    if (p->used > 0)
        vigil__pq_value_free(&p->ev[0], v);
    for (int i = 0; i < p->used; i++) {
        vigil__pq_eval_done(&p->ev[i]);
        vigil__pq_arena_free(&p->arena[i]);
    }
    p->used = 0;
}
