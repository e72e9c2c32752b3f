/* eval_call.c — function calls whose arguments are instant vectors and scalars: the value
 * functions (abs ... clamp, round, the date functions), time(), pi(), scalar(), vector(),
 * timestamp(), absent(), sort(), sort_desc() and histogram_quantile(). Calls with a range
 * vector go to eval_range.c, the label functions to eval_label.c.
 *
 * What each function does to labels follows Prometheus 2.42's functions.go: value and date
 * functions, timestamp() and histogram_quantile() drop __name__ (so two inputs may now carry
 * the same labels, an error only where both have a value at the same step); sort keeps them;
 * absent() makes them from the selector's equality matchers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "eval.h"
#include "funcs.h"

/* ---- helpers -------------------------------------------------------------------------------- */

static vigil_status eval_arg(pq_eval *ev, const pq_node *node, size_t i, const pq_frame *f,
                             pq_value **out)
{
    return vigil__pq_eval(ev, node->u.call.args[i], f, out);
}

static vigil_status scalar_of(pq_eval *ev, const pq_frame *f, pq_value **out,
                              double (*fn)(int64_t t))
{
    vigil_status st = vigil__pq_scalar_new(ev, f, out);
    for (size_t k = 0; st == VIGIL_OK && k < f->n; k++)
        (*out)->scalar[k] = fn(pq_frame_t(f, k));
    return st;
}

static double time_of(int64_t t)
{
    return (double)t / 1000;
}

static double pi_of(int64_t t)
{
    (void)t;
    return M_PI;
}

/* A vector of one series with labels ls holding row at every step it has. */
static vigil_status row_vector(pq_eval *ev, pq_row *row, const pq_lset *ls, pq_value **out)
{
    pq_value *v;
    vigil_status st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st)
        st = vigil__pq_row_emit(ev, row, v, ls);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

/* ---- scalar(), vector(), time-based vectors ------------------------------------------------- */

/* scalar(v): the single value at each step, NaN when there are none or several. */
static vigil_status fn_scalar(pq_eval *ev, const pq_node *node, const pq_frame *f,
                              pq_value **out)
{
    pq_value *in, *s = NULL;
    vigil_status st = eval_arg(ev, node, 0, f, &in);
    if (st)
        return st;
    uint32_t *count = vigil__calloc(f->n, sizeof *count);
    if (count == NULL)
        st = vigil__pq_nomem("scalar()");
    if (!st)
        st = vigil__pq_scalar_new(ev, f, &s);
    for (size_t k = 0; !st && k < f->n; k++)
        s->scalar[k] = NAN;
    for (size_t i = 0; !st && i < in->ns; i++) {
        const pq_series *x = &in->s[i];
        for (size_t k = 0; k < x->n; k++) {
            if (x->ok != NULL && !pq_bit(x->ok, k))
                continue;
            if (count[x->lo + k]++ == 0)
                s->scalar[x->lo + k] = x->v[k];
            else
                s->scalar[x->lo + k] = NAN;
        }
    }
    vigil__free(count);
    vigil__pq_value_free(ev, in);
    if (st) {
        vigil__pq_value_free(ev, s);
        return st;
    }
    *out = s;
    return VIGIL_OK;
}

static vigil_status fn_vector(pq_eval *ev, const pq_node *node, const pq_frame *f,
                              pq_value **out)
{
    pq_value *in;
    vigil_status st = eval_arg(ev, node, 0, f, &in);
    if (st)
        return st;
    pq_row row;
    st = vigil__pq_row_init(&row, f->n);
    if (!st) {
        for (size_t k = 0; k < f->n; k++) {
            row.v[k] = in->scalar[k];
            pq_bit_set(row.ok, k);
        }
        const pq_lset *ls = vigil__pq_lset_empty(ev->arena);
        st = ls ? row_vector(ev, &row, ls, out) : vigil__pq_nomem("a label set");
        vigil__pq_row_free(&row);
    }
    vigil__pq_value_free(ev, in);
    return st;
}

/* A date function without argument: of vector(time()), in whole seconds. */
static vigil_status fn_date_now(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                pq_value **out)
{
    pq_row row;
    vigil_status st = vigil__pq_row_init(&row, f->n);
    if (st)
        return st;
    for (size_t k = 0; k < f->n; k++) {
        row.v[k] = vigil__pq_value_fn(node->u.call.fn->id, (double)(pq_frame_t(f, k) / 1000),
                                      NULL);
        pq_bit_set(row.ok, k);
    }
    const pq_lset *ls = vigil__pq_lset_empty(ev->arena);
    st = ls ? row_vector(ev, &row, ls, out) : vigil__pq_nomem("a label set");
    vigil__pq_row_free(&row);
    return st;
}

/* ---- functions of each sample --------------------------------------------------------------- */

typedef struct value_call {
    pq_fn_id id;
    bool timestamp;    /* timestamp() of an expression: the step's time */
    const pq_frame *f;
    pq_value *args[2]; /* scalar arguments after the vector */
    size_t nargs;
} value_call;

/* Applies the function to every sample of in; the outputs lose __name__ and merge by labels. */
static vigil_status map_values(pq_eval *ev, value_call *c, pq_value *in, pq_value **out)
{
    pq_value *v;
    pq_merge m;
    uint32_t *idx = vigil__malloc((in->ns + 1) * sizeof *idx);
    vigil_status st = idx ? vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v)
                          : vigil__pq_nomem("a function's outputs");
    if (st) {
        vigil__free(idx);
        return st;
    }
    vigil__pq_merge_init(&m, ev, v);
    for (size_t i = 0; !st && i < in->ns; i++) {
        const pq_series *s = &in->s[i];
        const pq_lset *ls = vigil__pq_lset_drop_name(ev->arena, s->ls);
        st = ls ? vigil__pq_merge_key(&m, ls, s->lo, s->n, &idx[i])
                : vigil__pq_nomem("a label set");
    }
    if (!st)
        st = vigil__pq_merge_alloc(&m);
    double args[2];
    for (size_t i = 0; !st && i < in->ns; i++) {
        const pq_series *s = &in->s[i];
        for (size_t k = 0; !st && k < s->n; k++) {
            if (s->ok != NULL && !pq_bit(s->ok, k))
                continue;
            size_t step = s->lo + k;
            for (size_t j = 0; j < c->nargs; j++)
                args[j] = c->args[j]->scalar[step];
            double x;
            if (c->timestamp) {
                x = (double)pq_frame_t(c->f, step) / 1000;
            } else {
                if (c->nargs > 0 && vigil__pq_value_fn_drops(c->id, args))
                    continue;
                x = vigil__pq_value_fn(c->id, s->v[k], c->nargs ? args : NULL);
            }
            st = vigil__pq_merge_put(&m, idx[i], step, x);
        }
    }
    if (!st)
        st = vigil__pq_merge_finish(&m);
    vigil__pq_merge_free(&m);
    vigil__free(idx);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

static vigil_status fn_values(pq_eval *ev, const pq_node *node, const pq_frame *f,
                              bool timestamp, pq_value **out)
{
    value_call c = {.id = node->u.call.fn->id, .timestamp = timestamp, .f = f};
    pq_value *in;
    vigil_status st = eval_arg(ev, node, 0, f, &in);
    if (st)
        return st;
    for (size_t i = 1; !st && i < node->u.call.n_args && c.nargs < 2; i++) {
        st = eval_arg(ev, node, i, f, &c.args[c.nargs]);
        if (!st)
            c.nargs++;
    }
    if (!st)
        st = map_values(ev, &c, in, out);
    for (size_t i = 0; i < c.nargs; i++)
        vigil__pq_value_free(ev, c.args[i]);
    vigil__pq_value_free(ev, in);
    return st;
}

/* timestamp(): of a selector, the time of the sample each step sees; of anything else, the
 * step's own time (Prometheus's vectors carry the evaluation time there). */
static vigil_status fn_timestamp(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                 pq_value **out)
{
    const pq_node *arg = vigil__pq_unparen(node->u.call.args[0]);
    if (arg->kind == PQ_VECTOR_SELECTOR)
        return vigil__pq_eval_selector(ev, arg, f, true, out);
    return fn_values(ev, node, f, true, out);
}

/* ---- absent() ------------------------------------------------------------------------------- */

static bool has_label(const pq_lbuilder *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->l[i].name, name) == 0)
            return true;
    return false;
}

vigil_status vigil__pq_absent_labels(pq_eval *ev, const pq_node *arg, const pq_lset **out)
{
    arg = vigil__pq_unparen(arg);
    if (arg->kind == PQ_MATRIX_SELECTOR)
        arg = arg->u.ms.vs;
    pq_lbuilder *b = &ev->lb;
    b->n = 0;
    if (arg->kind == PQ_VECTOR_SELECTOR) {
        const vigil_matcher *m = arg->u.vs.matchers;
        size_t n = arg->u.vs.n_matchers;
        /* An equality sets its label unless the label is already set; every other matcher
         * (a later equality on the same name included) removes its label in the end. */
        bool *drop = vigil__calloc(n + 1, sizeof *drop);
        if (drop == NULL)
            return vigil__pq_nomem("absent()'s labels");
        vigil_status st = VIGIL_OK;
        for (size_t i = 0; !st && i < n; i++) {
            if (strcmp(m[i].name, "__name__") == 0)
                continue;
            if (m[i].type == VIGIL_MATCH_EQUAL && !has_label(b, m[i].name))
                st = vigil__pq_lb_set(b, m[i].name, m[i].value);
            else
                drop[i] = true;
        }
        for (size_t i = 0; i < n; i++)
            if (drop[i])
                vigil__pq_lb_del(b, m[i].name);
        vigil__free(drop);
        if (st)
            return st;
    }
    *out = vigil__pq_lb_finish(b, ev->arena);
    return *out ? VIGIL_OK : vigil__pq_nomem("a label set");
}

static vigil_status fn_absent(pq_eval *ev, const pq_node *node, const pq_frame *f,
                              pq_value **out)
{
    pq_value *in;
    vigil_status st = eval_arg(ev, node, 0, f, &in);
    if (st)
        return st;
    pq_row row;
    st = vigil__pq_row_init(&row, f->n);
    if (!st) {
        for (size_t k = 0; k < f->n; k++) {
            row.v[k] = 1;
            pq_bit_set(row.ok, k);
        }
        for (size_t i = 0; i < in->ns; i++) {
            const pq_series *s = &in->s[i];
            for (size_t k = 0; k < s->n; k++)
                if (s->ok == NULL || pq_bit(s->ok, k))
                    row.ok[(s->lo + k) >> 6] &= ~((uint64_t)1 << ((s->lo + k) & 63));
        }
        const pq_lset *ls;
        st = vigil__pq_absent_labels(ev, node->u.call.args[0], &ls);
        if (!st)
            st = row_vector(ev, &row, ls, out);
        vigil__pq_row_free(&row);
    }
    vigil__pq_value_free(ev, in);
    return st;
}

/* ---- sort(), sort_desc() -------------------------------------------------------------------- */

static bool sorts_before(double a, double b, bool desc)
{
    if (isnan(a))
        return false;
    return isnan(b) || (desc ? a > b : a < b);
}

void vigil__pq_sort_by_value(pq_value *v, bool desc)
{
    /* Insertion sort: stable, and what Go's sort does for the short vectors this sees; the
     * steps of a one-step frame are all at index 0. */
    for (size_t i = 1; i < v->ns; i++) {
        pq_series x = v->s[i];
        size_t j = i;
        while (j > 0 && sorts_before(x.v[0], v->s[j - 1].v[0], desc)) {
            v->s[j] = v->s[j - 1];
            j--;
        }
        v->s[j] = x;
    }
}

static int by_value_asc(const void *a, const void *b)
{
    double x = ((const pq_series *)a)->v[0], y = ((const pq_series *)b)->v[0];
    return sorts_before(x, y, false) ? -1 : sorts_before(y, x, false) ? 1 : 0;
}

static int by_value_desc(const void *a, const void *b)
{
    double x = ((const pq_series *)a)->v[0], y = ((const pq_series *)b)->v[0];
    return sorts_before(x, y, true) ? -1 : sorts_before(y, x, true) ? 1 : 0;
}

static vigil_status fn_sort(pq_eval *ev, const pq_node *node, const pq_frame *f, bool desc,
                            pq_value **out)
{
    vigil_status st = eval_arg(ev, node, 0, f, out);
    if (st || f->n != 1)
        return st; /* a range query's result is sorted by labels in the end */
    if ((*out)->ns <= 64)
        vigil__pq_sort_by_value(*out, desc);
    else
        qsort((*out)->s, (*out)->ns, sizeof *(*out)->s, desc ? by_value_desc : by_value_asc);
    return VIGIL_OK;
}

/* ---- histogram_quantile() ------------------------------------------------------------------- */

/* Go's strconv.ParseFloat for a bucket bound: the whole string, no leading space, finite or
 * infinite but not out of range. */
static bool parse_le(const char *s, double *out)
{
    if (s == NULL || *s == '\0' || *s == ' ' || *s == '\t' || *s == '\n')
        return false;
    const char *p = s + (*s == '+' || *s == '-');
    if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && strpbrk(p, "pP") == NULL) ||
        strchr(s, '(') != NULL)
        return false; /* hex needs an exponent; NaN payloads are C-only */
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end != '\0' || end == s)
        return false;
    if (errno == ERANGE && isinf(v))
        return false;
    *out = v;
    return true;
}

typedef struct hist_group {
    const pq_lset *ls;      /* the labels without le and __name__ */
    const char *name;       /* the metric name, part of the group's identity */
    uint32_t out;           /* output series */
    uint32_t first, count;  /* members in the member list */
} hist_group;

typedef struct hist_member {
    uint32_t series;
    uint32_t group;
    double le;
} hist_member;

static vigil_status hist_groups(pq_eval *ev, pq_value *in, pq_merge *m, hist_group **groups,
                                size_t *ngroups, hist_member **members, size_t *nmembers)
{
    hist_group *g = vigil__malloc((in->ns + 1) * sizeof *g);
    hist_member *mem = vigil__malloc((in->ns + 1) * sizeof *mem);
    pq_index ix;
    vigil__pq_index_init(&ix);
    *groups = g;
    *members = mem;
    *ngroups = *nmembers = 0;
    if (g == NULL || mem == NULL)
        return vigil__pq_nomem("histogram_quantile()'s groups");
    static const char *const le_name[] = {"le"};
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; !st && i < in->ns; i++) {
        const pq_series *s = &in->s[i];
        double le;
        if (!parse_le(vigil__pq_lset_get(s->ls, "le"), &le))
            continue;
        const char *name = vigil__pq_lset_get(s->ls, "__name__");
        uint64_t key = vigil__pq_lset_project_hash(s->ls, false, le_name, 1) ^
                       vigil__hash_str(name ? name : "", 7);
        size_t pos = 0;
        uint32_t gi;
        bool found = false;
        while (!found && vigil__pq_index_next(&ix, key, &pos, &gi))
            found = vigil__pq_lset_project_equal(g[gi].ls, s->ls, false, le_name, 1) &&
                    strcmp(g[gi].name, name ? name : "") == 0;
        if (!found) {
            gi = (uint32_t)*ngroups;
            pq_lbuilder *b = &ev->lb;
            st = vigil__pq_lb_reset(b, s->ls);
            if (st)
                break;
            vigil__pq_lb_del(b, "le");
            vigil__pq_lb_del(b, "__name__");
            const pq_lset *ls = vigil__pq_lb_finish(b, ev->arena);
            if (ls == NULL) {
                st = vigil__pq_nomem("a label set");
                break;
            }
            g[gi] = (hist_group){ls, name ? name : "", 0, 0, 0};
            (*ngroups)++;
            st = vigil__pq_index_put(&ix, key, gi);
            if (!st)
                st = vigil__pq_merge_key(m, ls, s->lo, s->n, &g[gi].out);
        } else {
            st = vigil__pq_merge_key(m, g[gi].ls, s->lo, s->n, &g[gi].out);
        }
        mem[(*nmembers)++] = (hist_member){(uint32_t)i, gi, le};
        g[gi].count++;
    }
    vigil__pq_index_free(&ix);
    if (st)
        return st;
    /* Members grouped together, in input order within a group. */
    hist_member *sorted = vigil__malloc((*nmembers + 1) * sizeof *sorted);
    if (sorted == NULL)
        return vigil__pq_nomem("histogram_quantile()'s groups");
    uint32_t at = 0;
    for (size_t i = 0; i < *ngroups; i++) {
        g[i].first = at;
        at += g[i].count;
        g[i].count = 0;
    }
    for (size_t i = 0; i < *nmembers; i++) {
        hist_group *gr = &g[mem[i].group];
        sorted[gr->first + gr->count++] = mem[i];
    }
    vigil__free(mem);
    *members = sorted;
    return VIGIL_OK;
}

static vigil_status hist_quantiles(pq_value *q, pq_value *in, pq_merge *m, hist_group *g,
                                   size_t ng, hist_member *mem)
{
    size_t widest = 0;
    for (size_t i = 0; i < ng; i++)
        widest = g[i].count > widest ? g[i].count : widest;
    pq_bucket *b = vigil__malloc((widest + 1) * sizeof *b);
    if (b == NULL)
        return vigil__pq_nomem("histogram_quantile()'s buckets");
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; !st && i < ng; i++) {
        const pq_series *out = &m->out->s[g[i].out];
        for (size_t step = out->lo; !st && step < out->lo + out->n; step++) {
            size_t nb = 0;
            for (uint32_t j = g[i].first; j < g[i].first + g[i].count; j++) {
                const pq_series *s = &in->s[mem[j].series];
                if (pq_has(s, step))
                    b[nb++] = (pq_bucket){mem[j].le, pq_at(s, step)};
            }
            if (nb > 0)
                st = vigil__pq_merge_put(m, g[i].out, step,
                                         vigil__pq_bucket_quantile(q->scalar[step], b, nb));
        }
    }
    vigil__free(b);
    return st;
}

static vigil_status fn_histogram_quantile(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                          pq_value **out)
{
    pq_value *q = NULL, *in = NULL, *v = NULL;
    hist_group *g = NULL;
    hist_member *mem = NULL;
    size_t ng = 0, nm = 0;
    pq_merge m;
    vigil_status st = eval_arg(ev, node, 0, f, &q);
    if (!st)
        st = eval_arg(ev, node, 1, f, &in);
    if (!st)
        st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st) {
        vigil__pq_merge_init(&m, ev, v);
        st = hist_groups(ev, in, &m, &g, &ng, &mem, &nm);
        if (!st)
            st = vigil__pq_merge_alloc(&m);
        if (!st)
            st = hist_quantiles(q, in, &m, g, ng, mem);
        if (!st)
            st = vigil__pq_merge_finish(&m);
        vigil__pq_merge_free(&m);
    }
    vigil__free(g);
    vigil__free(mem);
    vigil__pq_value_free(ev, q);
    vigil__pq_value_free(ev, in);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------- */

/* histogram_count/sum/fraction look only at native histogram samples; vigil stores floats
 * only, so, as Prometheus over float series, they yield an empty vector. The arguments are
 * still evaluated: their errors and limits apply as in Prometheus. */
static vigil_status fn_native_histogram(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                        pq_value **out)
{
    for (size_t i = 0; i < node->u.call.n_args; i++) {
        pq_value *arg;
        vigil_status st = eval_arg(ev, node, i, f, &arg);
        if (st)
            return st;
        vigil__pq_value_free(ev, arg);
    }
    return vigil__pq_value_new(ev, PQ_VAL_VECTOR, out);
}

static bool has_range_arg(const pq_node *node)
{
    for (size_t i = 0; i < node->u.call.n_args; i++)
        if (node->u.call.args[i]->type == PQ_T_MATRIX)
            return true;
    return false;
}

vigil_status vigil__pq_eval_call(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                 pq_value **out)
{
    if (has_range_arg(node))
        return vigil__pq_eval_range_call(ev, node, f, out);
    pq_fn_id id = node->u.call.fn->id;
    switch (id) {
    case PQ_FN_TIME: return scalar_of(ev, f, out, time_of);
    case PQ_FN_PI: return scalar_of(ev, f, out, pi_of);
    case PQ_FN_SCALAR: return fn_scalar(ev, node, f, out);
    case PQ_FN_VECTOR: return fn_vector(ev, node, f, out);
    case PQ_FN_TIMESTAMP: return fn_timestamp(ev, node, f, out);
    case PQ_FN_ABSENT: return fn_absent(ev, node, f, out);
    case PQ_FN_SORT: return fn_sort(ev, node, f, false, out);
    case PQ_FN_SORT_DESC: return fn_sort(ev, node, f, true, out);
    case PQ_FN_HISTOGRAM_QUANTILE: return fn_histogram_quantile(ev, node, f, out);
    case PQ_FN_HISTOGRAM_COUNT:
    case PQ_FN_HISTOGRAM_SUM:
    case PQ_FN_HISTOGRAM_FRACTION: return fn_native_histogram(ev, node, f, out);
    case PQ_FN_LABEL_REPLACE:
    case PQ_FN_LABEL_JOIN: return vigil__pq_eval_label_fn(ev, node, f, out);
    case PQ_FN_MINUTE:
    case PQ_FN_HOUR:
    case PQ_FN_DAY_OF_WEEK:
    case PQ_FN_DAY_OF_MONTH:
    case PQ_FN_DAY_OF_YEAR:
    case PQ_FN_DAYS_IN_MONTH:
    case PQ_FN_MONTH:
    case PQ_FN_YEAR:
        if (node->u.call.n_args == 0)
            return fn_date_now(ev, node, f, out);
        return fn_values(ev, node, f, false, out);
    default: return fn_values(ev, node, f, false, out);
    }
}
