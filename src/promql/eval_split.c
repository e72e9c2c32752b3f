/* eval_split.c — a long range query evaluated in parts on several threads, when the options
 * allow more than one (vigil_promql_options.threads: a library inside someone's application
 * takes no second core unless asked; `vigil serve` asks for two).
 *
 * PromQL steps are independent of each other: what a step yields depends on its own time and
 * on the data, never on which other steps the query asks for (subquery steps are aligned to
 * absolute time, @ pins absolute times, start() and end() are the whole query's). So
 * consecutive runs of the steps can be evaluated separately, each reading only the data its
 * own steps need, and the results joined series by series. Reading and decoding samples is
 * most of a long query's work, and this divides its wall time by the number of free cores.
 *
 * A few checks Prometheus makes look at the whole matrix rather than at each step (two series
 * left with equal labels after a range function or a unary minus dropped __name__, even at
 * different steps), and an aggregation over a pinned expression evaluates its parameter once
 * at the query's start. Queries that could meet those run on one thread, unchanged.
 *
 * The parts share the query's deadline and its sample budget (one counter, updated
 * atomically). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/core_int.h"
#include "eval.h"

/* Below this many steps a part costs more to start and join than it saves. */
#define PART_MIN_STEPS 100

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

/* Series b (of a later part, whose steps start at shift) appended to series a, or on its own
 * when a is NULL. */
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

/* a (over n_a steps) and b (the steps after them) as one value over n_a + n_b steps. */
static vigil_status join(pq_eval *ev, pq_value *a, pq_value *b, size_t n_a, size_t n_b,
                         pq_value **out)
{
    pq_value *v;
    vigil_status st = vigil__pq_value_new(ev, a->kind, &v);
    if (st)
        return st;
    if (a->kind == PQ_VAL_SCALAR) {
        v->scalar = vigil__pq_value_alloc(v, (n_a + n_b) * sizeof *v->scalar);
        if (v->scalar == NULL) {
            st = vigil__pq_nomem("a range query's result");
        } else {
            memcpy(v->scalar, a->scalar, n_a * sizeof *v->scalar);
            memcpy(v->scalar + n_a, b->scalar, n_b * sizeof *v->scalar);
        }
    } else {
        st = join_vectors(a, b, (uint32_t)n_a, v);
    }
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

/* ---- the threads ---------------------------------------------------------------------------- */

typedef struct part {
    pq_eval *ev;
    const pq_node *root;
    pq_frame f;
    pq_value *v;
    vigil_status st;
    char msg[1024]; /* the failure's message: vigil_errmsg() is per thread */
} part;

static void *run_part(void *arg)
{
    part *h = arg;
    h->st = vigil__pq_eval(h->ev, h->root, &h->f, &h->v);
    if (h->st)
        snprintf(h->msg, sizeof h->msg, "%s", vigil_errmsg());
    return NULL;
}

/* How many parts to split f into: no more than the options allow, the machine has processors
 * and f has PART_MIN_STEPS steps for. */
static size_t parts_for(const vigil_promql_options *opts, const pq_node *root, const pq_frame *f)
{
    size_t want = opts->threads > PQ_PAR_MAX ? PQ_PAR_MAX : opts->threads;
    if (want < 2 || f->n < 2 * PART_MIN_STEPS)
        return 1;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2 || !splittable(root))
        return 1;
    size_t parts = want < (size_t)cpus ? want : (size_t)cpus;
    return parts < f->n / PART_MIN_STEPS ? parts : f->n / PART_MIN_STEPS;
}

vigil_status vigil__pq_par_eval(pq_par *p, vigil_tsdb *db, const vigil_promql_options *opts,
                                const pq_node *root, const pq_frame *f, int64_t start,
                                int64_t end, pq_value **out)
{
    memset(p, 0, sizeof *p);
    size_t parts = parts_for(opts, root, f);
    p->used = (int)parts;
    for (size_t i = 0; i < parts; i++) {
        vigil__pq_arena_init(&p->arena[i]);
        vigil__pq_eval_init(&p->ev[i], db, &p->arena[i], opts, start, end);
        p->ev[i].samples = &p->samples;
    }
    if (parts == 1)
        return vigil__pq_eval(&p->ev[0], root, f, out);

    part h[PQ_PAR_MAX] = {{0}};
    pthread_t th[PQ_PAR_MAX];
    bool threaded[PQ_PAR_MAX] = {false};
    for (size_t i = 0; i < parts; i++) {
        size_t lo = f->n * i / parts, hi = f->n * (i + 1) / parts;
        h[i] = (part){.ev = &p->ev[i], .root = root,
                      .f = {pq_frame_t(f, lo), f->interval, hi - lo}};
    }
    for (size_t i = 1; i < parts; i++)
        threaded[i] = pthread_create(&th[i], NULL, run_part, &h[i]) == 0;
    run_part(&h[0]);
    for (size_t i = 1; i < parts; i++) {
        if (threaded[i])
            pthread_join(th[i], NULL);
        else
            run_part(&h[i]);
    }
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < parts && !st; i++)
        if (h[i].st)
            st = vigil__fail(h[i].st, "%s", h[i].msg);
    /* The parts joined in order, each join a value of ev[0]'s. */
    pq_value *acc = h[0].v;
    size_t n_acc = h[0].f.n;
    for (size_t i = 1; i < parts && !st; i++) {
        pq_value *joined;
        st = join(&p->ev[0], acc, h[i].v, n_acc, h[i].f.n, &joined);
        if (st)
            break;
        if (acc != h[0].v)
            vigil__pq_value_free(&p->ev[0], acc);
        acc = joined;
        n_acc += h[i].f.n;
    }
    if (acc != h[0].v && st)
        vigil__pq_value_free(&p->ev[0], acc);
    for (size_t i = 0; i < parts; i++)
        vigil__pq_value_free(&p->ev[i], h[i].v);
    if (!st)
        *out = acc;
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
