/* engine.c — the PromQL engine's public face: options, instant and range queries, the result
 * object, and the mapping of failures to the HTTP API's error types.
 *
 * A query is parsed into a tree in its own arena, checked the way Prometheus's API and engine
 * check it (range limits first, then the expression's type), evaluated over one frame of steps
 * (eval.h), and the value is copied into a result that owns all its memory, so that the
 * queriers (whose label strings the evaluation borrowed) can be closed before returning. */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "eval.h"
#include "vigil/promql.h"

/* Prometheus's API refuses range queries with more points than this per series. */
#define MAX_POINTS_PER_SERIES 11000

typedef struct result_series {
    vigil_label *labels;
    size_t nlabels;
    int64_t *t;
    double *v;
    size_t n;
} result_series;

struct vigil_promql_result {
    vigil_promql_value_type type;
    int64_t time;
    result_series *s;
    size_t ns;
    const char *str;
    pq_arena mem;
};

VIGIL_API void vigil_promql_options_init(vigil_promql_options *opts)
{
    if (opts == NULL)
        return;
    opts->lookback_ms = 300000;
    opts->timeout_ms = 120000;
    opts->max_samples = 50000000;
    opts->subquery_step_ms = 60000;
    opts->threads = 1;
}

VIGIL_API vigil_promql_error_type vigil_promql_error_type_of(vigil_status status)
{
    switch (status) {
    case VIGIL_OK: return VIGIL_PROMQL_ERR_NONE;
    case VIGIL_EINVAL: return VIGIL_PROMQL_ERR_BAD_DATA;
    case VIGIL_ETIMEOUT: return VIGIL_PROMQL_ERR_TIMEOUT;
    case VIGIL_ESTATE:
    case VIGIL_ELIMIT: return VIGIL_PROMQL_ERR_EXECUTION;
    default: return VIGIL_PROMQL_ERR_INTERNAL;
    }
}

/* ---- results -------------------------------------------------------------------------------- */

static vigil_status result_new(vigil_promql_value_type type, int64_t t, size_t ns,
                               vigil_promql_result **out)
{
    vigil_promql_result *r = vigil__calloc(1, sizeof *r);
    if (r == NULL)
        return vigil__pq_nomem("a query result");
    r->type = type;
    r->time = t;
    vigil__pq_arena_init(&r->mem);
    r->s = vigil__pq_calloc(&r->mem, ns + 1, sizeof *r->s);
    if (r->s == NULL) {
        vigil__free(r);
        return vigil__pq_nomem("a query result");
    }
    *out = r;
    return VIGIL_OK;
}

static vigil_status copy_labels(vigil_promql_result *r, result_series *s, const pq_lset *ls)
{
    s->labels = vigil__pq_alloc(&r->mem, (ls->n + 1) * sizeof *s->labels);
    if (s->labels == NULL)
        return vigil__pq_nomem("a query result");
    for (uint32_t i = 0; i < ls->n; i++) {
        s->labels[i].name = vigil__pq_strdup(&r->mem, ls->l[i].name);
        s->labels[i].value = vigil__pq_strdup(&r->mem, ls->l[i].value);
        if (s->labels[i].name == NULL || s->labels[i].value == NULL)
            return vigil__pq_nomem("a query result");
    }
    s->nlabels = ls->n;
    return VIGIL_OK;
}

static vigil_status alloc_points(vigil_promql_result *r, result_series *s, size_t n)
{
    s->t = vigil__pq_alloc(&r->mem, (n + 1) * sizeof *s->t);
    s->v = vigil__pq_alloc(&r->mem, (n + 1) * sizeof *s->v);
    return s->t && s->v ? VIGIL_OK : vigil__pq_nomem("a query result");
}

static const pq_lset *series_labels(const pq_value *v, size_t i)
{
    return v->kind == PQ_VAL_MATRIX ? v->r[i].ls : v->s[i].ls;
}

/* qsort has no context argument in C11: the value being sorted, per thread. */
static _Thread_local const pq_value *sort_value;

static int by_labels(const void *a, const void *b)
{
    return vigil__pq_lset_compare(series_labels(sort_value, *(const size_t *)a),
                                  series_labels(sort_value, *(const size_t *)b));
}

/* Series indices of v in Prometheus's matrix order (sorted by labels) or as they are. */
static size_t *series_order(const pq_value *v, size_t n, bool sorted)
{
    size_t *order = vigil__malloc((n + 1) * sizeof *order);
    if (order == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (sorted && n > 1) {
        sort_value = v;
        qsort(order, n, sizeof *order, by_labels);
    }
    return order;
}

static vigil_status vector_points(vigil_promql_result *r, result_series *out, const pq_series *s,
                                  const pq_frame *f)
{
    size_t n = 0;
    for (size_t k = 0; k < s->n; k++)
        n += s->ok == NULL || pq_bit(s->ok, k);
    vigil_status st = alloc_points(r, out, n);
    for (size_t k = 0; !st && k < s->n; k++) {
        if (s->ok != NULL && !pq_bit(s->ok, k))
            continue;
        out->t[out->n] = pq_frame_t(f, s->lo + k);
        out->v[out->n++] = s->v[k];
    }
    return st;
}

/* Copies the value into a result: a one-step vector as an instant vector at t, a range
 * evaluation's vector as a matrix sorted by labels, scalars and strings as they are. */
static vigil_status to_result(const pq_value *v, const pq_frame *f, bool instant,
                              vigil_promql_result **out)
{
    vigil_promql_result *r = NULL;
    vigil_status st;
    if (v->kind == PQ_VAL_STRING) {
        st = result_new(VIGIL_PROMQL_STRING, f->start, 0, &r);
        if (!st && (r->str = vigil__pq_strdup(&r->mem, v->str)) == NULL)
            st = vigil__pq_nomem("a query result");
    } else if (v->kind == PQ_VAL_SCALAR) {
        st = result_new(instant ? VIGIL_PROMQL_SCALAR : VIGIL_PROMQL_MATRIX, f->start, 1, &r);
        if (!st) {
            r->ns = 1;
            r->s[0].labels = NULL;
            st = alloc_points(r, &r->s[0], f->n);
            for (size_t k = 0; !st && k < f->n; k++) {
                r->s[0].t[k] = pq_frame_t(f, k);
                r->s[0].v[k] = v->scalar[k];
            }
            r->s[0].n = f->n;
        }
    } else {
        size_t n = v->kind == PQ_VAL_MATRIX ? v->nr : v->ns;
        bool matrix = v->kind == PQ_VAL_MATRIX || !instant;
        st = result_new(matrix ? VIGIL_PROMQL_MATRIX : VIGIL_PROMQL_VECTOR, f->start, n, &r);
        size_t *order = st ? NULL : series_order(v, n, matrix);
        if (!st && order == NULL)
            st = vigil__pq_nomem("a query result");
        for (size_t i = 0; !st && i < n; i++) {
            result_series *s = &r->s[r->ns++];
            st = copy_labels(r, s, series_labels(v, order[i]));
            if (st)
                break;
            if (v->kind == PQ_VAL_MATRIX) {
                const pq_rseries *x = &v->r[order[i]];
                st = alloc_points(r, s, x->n);
                if (!st) {
                    memcpy(s->t, x->t, x->n * sizeof *s->t);
                    memcpy(s->v, x->v, x->n * sizeof *s->v);
                    s->n = x->n;
                }
            } else {
                st = vector_points(r, s, &v->s[order[i]], f);
            }
        }
        vigil__free(order);
    }
    if (st) {
        vigil_promql_result_free(r);
        return st;
    }
    *out = r;
    return VIGIL_OK;
}

/* ---- queries -------------------------------------------------------------------------------- */

/* end is the query's end as asked, which @ end() means even when the last step falls short of
 * it. */
static vigil_status run(vigil_tsdb *db, const vigil_promql_options *opts, const pq_node *root,
                        const pq_frame *f, int64_t end, bool instant, vigil_promql_result **out)
{
    pq_par par;
    pq_value *v = NULL;
    vigil_status st = vigil__pq_par_eval(&par, db, opts, root, f, f->start, end, &v);
    if (!st)
        st = vigil__pq_check_time(&par.ev[0]);
    if (!st)
        st = to_result(v, f, instant, out);
    vigil__pq_par_done(&par, v);
    return st;
}

static vigil_status parse(const char *query, pq_arena *arena, pq_node **root)
{
    if (query == NULL)
        return vigil__fail(VIGIL_EINVAL, "query is NULL");
    return vigil__pq_parse(query, arena, root);
}

VIGIL_API vigil_status vigil_promql_instant(vigil_tsdb *db, const vigil_promql_options *opts,
                                            const char *query, int64_t t_ms,
                                            vigil_promql_result **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_promql_instant: out is NULL");
    *out = NULL;
    if (db == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_promql_instant: db is NULL");
    vigil_promql_options defaults;
    if (opts == NULL) {
        vigil_promql_options_init(&defaults);
        opts = &defaults;
    }
    pq_arena tree;
    vigil__pq_arena_init(&tree);
    pq_node *root;
    vigil_status st = parse(query, &tree, &root);
    if (!st) {
        pq_frame f = {t_ms, 1, 1};
        st = run(db, opts, root, &f, t_ms, true, out);
    }
    vigil__pq_arena_free(&tree);
    return st;
}

VIGIL_API vigil_status vigil_promql_range(vigil_tsdb *db, const vigil_promql_options *opts,
                                          const char *query, int64_t start_ms, int64_t end_ms,
                                          int64_t step_ms, vigil_promql_result **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_promql_range: out is NULL");
    *out = NULL;
    if (db == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_promql_range: db is NULL");
    if (end_ms < start_ms)
        return vigil__fail(VIGIL_EINVAL, "end timestamp must not be before start time");
    if (step_ms <= 0)
        return vigil__fail(VIGIL_EINVAL, "zero or negative query resolution step widths are not "
                                         "accepted. Try a positive integer");
    if ((uint64_t)(end_ms - start_ms) / (uint64_t)step_ms > MAX_POINTS_PER_SERIES)
        return vigil__fail(VIGIL_EINVAL, "exceeded maximum resolution of 11,000 points per "
                                         "timeseries. Try decreasing the query resolution "
                                         "(?step=XX)");
    vigil_promql_options defaults;
    if (opts == NULL) {
        vigil_promql_options_init(&defaults);
        opts = &defaults;
    }
    pq_arena tree;
    vigil__pq_arena_init(&tree);
    pq_node *root;
    vigil_status st = parse(query, &tree, &root);
    if (!st && root->type != PQ_T_VECTOR && root->type != PQ_T_SCALAR)
        st = vigil__fail(VIGIL_EINVAL,
                         "invalid expression type \"%s\" for range query, must be Scalar or "
                         "instant Vector",
                         vigil__pq_type_name(root->type));
    if (!st) {
        pq_frame f = {start_ms, step_ms, (size_t)((end_ms - start_ms) / step_ms) + 1};
        st = run(db, opts, root, &f, end_ms, false, out);
    }
    vigil__pq_arena_free(&tree);
    return st;
}

/* ---- result accessors ----------------------------------------------------------------------- */

VIGIL_API vigil_promql_value_type vigil_promql_result_type(const vigil_promql_result *r)
{
    return r ? r->type : VIGIL_PROMQL_SCALAR;
}

VIGIL_API size_t vigil_promql_result_series(const vigil_promql_result *r)
{
    return r ? r->ns : 0;
}

VIGIL_API size_t vigil_promql_result_labels(const vigil_promql_result *r, size_t i,
                                            const vigil_label **labels)
{
    if (r == NULL || i >= r->ns) {
        *labels = NULL;
        return 0;
    }
    *labels = r->s[i].labels;
    return r->s[i].nlabels;
}

VIGIL_API size_t vigil_promql_result_points(const vigil_promql_result *r, size_t i,
                                            const int64_t **t_ms, const double **values)
{
    if (r == NULL || i >= r->ns) {
        *t_ms = NULL;
        *values = NULL;
        return 0;
    }
    *t_ms = r->s[i].t;
    *values = r->s[i].v;
    return r->s[i].n;
}

VIGIL_API const char *vigil_promql_result_string(const vigil_promql_result *r)
{
    return r && r->type == VIGIL_PROMQL_STRING ? r->str : NULL;
}

VIGIL_API int64_t vigil_promql_result_time(const vigil_promql_result *r)
{
    return r ? r->time : 0;
}

VIGIL_API void vigil_promql_result_free(vigil_promql_result *r)
{
    if (r == NULL)
        return;
    vigil__pq_arena_free(&r->mem);
    vigil__free(r);
}
