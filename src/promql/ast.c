/* ast.c — names and predicates of the syntax tree's enums, the function table with
 * Prometheus 2.42's signatures (promql/parser/functions.go), and the printer that writes a
 * tree back as PromQL the way Prometheus's String() methods do (used in error messages such
 * as the subquery type error, and by the tests to show how a query was grouped). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lex.h" /* Go quoting; also declares struct vigil_buffer before ast.h uses it */
#include "ast.h"

#include "core/core_int.h"

const char *vigil__pq_type_name(pq_type t)
{
    switch (t) {
    case PQ_T_SCALAR: return "scalar";
    case PQ_T_VECTOR: return "instant vector";
    case PQ_T_MATRIX: return "range vector";
    case PQ_T_STRING: return "string";
    default: return "none";
    }
}

bool vigil__pq_binop_is_comparison(pq_binop op)
{
    return op >= PQ_OP_EQL && op <= PQ_OP_LTE;
}

bool vigil__pq_binop_is_set(pq_binop op)
{
    return op == PQ_OP_AND || op == PQ_OP_OR || op == PQ_OP_UNLESS;
}

const char *vigil__pq_binop_name(pq_binop op)
{
    static const char *const names[] = {
        [PQ_OP_ADD] = "+",  [PQ_OP_SUB] = "-",   [PQ_OP_MUL] = "*",       [PQ_OP_DIV] = "/",
        [PQ_OP_MOD] = "%",  [PQ_OP_POW] = "^",   [PQ_OP_ATAN2] = "atan2", [PQ_OP_EQL] = "==",
        [PQ_OP_NEQ] = "!=", [PQ_OP_GTR] = ">",   [PQ_OP_LSS] = "<",       [PQ_OP_GTE] = ">=",
        [PQ_OP_LTE] = "<=", [PQ_OP_AND] = "and", [PQ_OP_OR] = "or",       [PQ_OP_UNLESS] = "unless",
    };
    if ((unsigned)op >= sizeof names / sizeof names[0])
        return "?";
    return names[op];
}

const char *vigil__pq_aggop_name(pq_aggop op)
{
    static const char *const names[] = {
        [PQ_AGG_SUM] = "sum",           [PQ_AGG_AVG] = "avg",
        [PQ_AGG_MIN] = "min",           [PQ_AGG_MAX] = "max",
        [PQ_AGG_COUNT] = "count",       [PQ_AGG_STDDEV] = "stddev",
        [PQ_AGG_STDVAR] = "stdvar",     [PQ_AGG_GROUP] = "group",
        [PQ_AGG_TOPK] = "topk",         [PQ_AGG_BOTTOMK] = "bottomk",
        [PQ_AGG_QUANTILE] = "quantile", [PQ_AGG_COUNT_VALUES] = "count_values",
    };
    if ((unsigned)op >= sizeof names / sizeof names[0])
        return "?";
    return names[op];
}

/* ---------------------------------------------------------------- functions */

#define S PQ_T_SCALAR
#define V PQ_T_VECTOR
#define M PQ_T_MATRIX
#define T PQ_T_STRING

/* Indexed by pq_fn_id. label_replace takes five arguments, one more than arg_types holds:
 * its fifth has the type of the fourth (see vigil__pq_function_arg_type). */
static const pq_function functions[PQ_FN_COUNT_] = {
#define F(id, nm, ret, variadic, n, ...) [id] = {nm, id, {__VA_ARGS__}, n, variadic, ret}
    F(PQ_FN_ABS, "abs", V, 0, 1, V),
    F(PQ_FN_ABSENT, "absent", V, 0, 1, V),
    F(PQ_FN_ABSENT_OVER_TIME, "absent_over_time", V, 0, 1, M),
    F(PQ_FN_ACOS, "acos", V, 0, 1, V),
    F(PQ_FN_ACOSH, "acosh", V, 0, 1, V),
    F(PQ_FN_ASIN, "asin", V, 0, 1, V),
    F(PQ_FN_ASINH, "asinh", V, 0, 1, V),
    F(PQ_FN_ATAN, "atan", V, 0, 1, V),
    F(PQ_FN_ATANH, "atanh", V, 0, 1, V),
    F(PQ_FN_AVG_OVER_TIME, "avg_over_time", V, 0, 1, M),
    F(PQ_FN_CEIL, "ceil", V, 0, 1, V),
    F(PQ_FN_CHANGES, "changes", V, 0, 1, M),
    F(PQ_FN_CLAMP, "clamp", V, 0, 3, V, S, S),
    F(PQ_FN_CLAMP_MAX, "clamp_max", V, 0, 2, V, S),
    F(PQ_FN_CLAMP_MIN, "clamp_min", V, 0, 2, V, S),
    F(PQ_FN_COS, "cos", V, 0, 1, V),
    F(PQ_FN_COSH, "cosh", V, 0, 1, V),
    F(PQ_FN_COUNT_OVER_TIME, "count_over_time", V, 0, 1, M),
    F(PQ_FN_DAYS_IN_MONTH, "days_in_month", V, 1, 1, V),
    F(PQ_FN_DAY_OF_MONTH, "day_of_month", V, 1, 1, V),
    F(PQ_FN_DAY_OF_WEEK, "day_of_week", V, 1, 1, V),
    F(PQ_FN_DAY_OF_YEAR, "day_of_year", V, 1, 1, V),
    F(PQ_FN_DEG, "deg", V, 0, 1, V),
    F(PQ_FN_DELTA, "delta", V, 0, 1, M),
    F(PQ_FN_DERIV, "deriv", V, 0, 1, M),
    F(PQ_FN_EXP, "exp", V, 0, 1, V),
    F(PQ_FN_FLOOR, "floor", V, 0, 1, V),
    F(PQ_FN_HISTOGRAM_QUANTILE, "histogram_quantile", V, 0, 2, S, V),
    F(PQ_FN_HISTOGRAM_COUNT, "histogram_count", V, 0, 1, V),
    F(PQ_FN_HISTOGRAM_SUM, "histogram_sum", V, 0, 1, V),
    F(PQ_FN_HISTOGRAM_FRACTION, "histogram_fraction", V, 0, 3, S, S, V),
    F(PQ_FN_HOLT_WINTERS, "holt_winters", V, 0, 3, M, S, S),
    F(PQ_FN_HOUR, "hour", V, 1, 1, V),
    F(PQ_FN_IDELTA, "idelta", V, 0, 1, M),
    F(PQ_FN_INCREASE, "increase", V, 0, 1, M),
    F(PQ_FN_IRATE, "irate", V, 0, 1, M),
    F(PQ_FN_LABEL_REPLACE, "label_replace", V, 0, 5, V, T, T, T),
    F(PQ_FN_LABEL_JOIN, "label_join", V, -1, 4, V, T, T, T),
    F(PQ_FN_LAST_OVER_TIME, "last_over_time", V, 0, 1, M),
    F(PQ_FN_LN, "ln", V, 0, 1, V),
    F(PQ_FN_LOG10, "log10", V, 0, 1, V),
    F(PQ_FN_LOG2, "log2", V, 0, 1, V),
    F(PQ_FN_MAX_OVER_TIME, "max_over_time", V, 0, 1, M),
    F(PQ_FN_MIN_OVER_TIME, "min_over_time", V, 0, 1, M),
    F(PQ_FN_MINUTE, "minute", V, 1, 1, V),
    F(PQ_FN_MONTH, "month", V, 1, 1, V),
    F(PQ_FN_PI, "pi", S, 0, 0, PQ_T_NONE),
    F(PQ_FN_PREDICT_LINEAR, "predict_linear", V, 0, 2, M, S),
    F(PQ_FN_PRESENT_OVER_TIME, "present_over_time", V, 0, 1, M),
    F(PQ_FN_QUANTILE_OVER_TIME, "quantile_over_time", V, 0, 2, S, M),
    F(PQ_FN_RAD, "rad", V, 0, 1, V),
    F(PQ_FN_RATE, "rate", V, 0, 1, M),
    F(PQ_FN_RESETS, "resets", V, 0, 1, M),
    F(PQ_FN_ROUND, "round", V, 1, 2, V, S),
    F(PQ_FN_SCALAR, "scalar", S, 0, 1, V),
    F(PQ_FN_SGN, "sgn", V, 0, 1, V),
    F(PQ_FN_SIN, "sin", V, 0, 1, V),
    F(PQ_FN_SINH, "sinh", V, 0, 1, V),
    F(PQ_FN_SORT, "sort", V, 0, 1, V),
    F(PQ_FN_SORT_DESC, "sort_desc", V, 0, 1, V),
    F(PQ_FN_SQRT, "sqrt", V, 0, 1, V),
    F(PQ_FN_STDDEV_OVER_TIME, "stddev_over_time", V, 0, 1, M),
    F(PQ_FN_STDVAR_OVER_TIME, "stdvar_over_time", V, 0, 1, M),
    F(PQ_FN_SUM_OVER_TIME, "sum_over_time", V, 0, 1, M),
    F(PQ_FN_TAN, "tan", V, 0, 1, V),
    F(PQ_FN_TANH, "tanh", V, 0, 1, V),
    F(PQ_FN_TIME, "time", S, 0, 0, PQ_T_NONE),
    F(PQ_FN_TIMESTAMP, "timestamp", V, 0, 1, V),
    F(PQ_FN_VECTOR, "vector", V, 0, 1, S),
    F(PQ_FN_YEAR, "year", V, 1, 1, V),
#undef F
};

#undef S
#undef V
#undef M
#undef T

const pq_function *vigil__pq_function_lookup(const char *name)
{
    for (size_t i = 0; i < PQ_FN_COUNT_; i++)
        if (functions[i].name != NULL && strcmp(functions[i].name, name) == 0)
            return &functions[i];
    return NULL;
}

const pq_function *vigil__pq_function(pq_fn_id id)
{
    if ((unsigned)id >= PQ_FN_COUNT_)
        return NULL;
    return &functions[id];
}

pq_type vigil__pq_function_arg_type(const pq_function *fn, size_t i)
{
    size_t declared = fn->n_args < 4 ? fn->n_args : 4;
    if (declared == 0)
        return PQ_T_NONE;
    return fn->arg_types[i < declared ? i : declared - 1];
}

const pq_node *vigil__pq_unparen(const pq_node *node)
{
    while (node != NULL && node->kind == PQ_PAREN)
        node = node->u.paren.expr;
    return node;
}

/* ---------------------------------------------------------------- printing */

static vigil_status put(vigil_buffer *b, const char *s)
{
    return vigil_buffer_append(b, s, strlen(s));
}

/* model.Duration's String(): 1h30m, 90d (weeks and years only when exact), 0s. */
static vigil_status put_duration(vigil_buffer *b, int64_t ms)
{
    static const struct {
        const char *unit;
        int64_t mult;
        bool exact;
    } units[] = {
        {"y", INT64_C(1000) * 60 * 60 * 24 * 365, true},
        {"w", INT64_C(1000) * 60 * 60 * 24 * 7, true},
        {"d", INT64_C(1000) * 60 * 60 * 24, false},
        {"h", INT64_C(1000) * 60 * 60, false},
        {"m", INT64_C(1000) * 60, false},
        {"s", 1000, false},
        {"ms", 1, false},
    };
    if (ms == 0)
        return put(b, "0s");
    char tmp[32];
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < sizeof units / sizeof units[0] && st == VIGIL_OK; i++) {
        if (units[i].exact && ms % units[i].mult != 0)
            continue;
        int64_t v = ms / units[i].mult;
        if (v > 0) {
            snprintf(tmp, sizeof tmp, "%lld%s", (long long)v, units[i].unit);
            st = put(b, tmp);
            ms -= v * units[i].mult;
        }
    }
    return st;
}

/* Go's fmt %v of a float64, which is how Prometheus 2.42 prints a number literal: the
 * shortest decimal that reads back to v, in exponent form ("1e+06", "1e-05") when the decimal
 * exponent is below -4 or at least 6. */
static void go_float(char *out, size_t cap, double v)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* shortest round-trip digits */
    char e[40];
    int prec;
    for (prec = 1; prec <= 17; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, v);
        if (strtod(e, NULL) == v)
            break;
    }
    /* e is like "-1.2345e+06": split digits and exponent */
    char digits[24];
    size_t nd = 0;
    const char *s = e;
    bool neg = false;
    if (*s == '-') {
        neg = true;
        s++;
    }
    for (; *s != 'e'; s++)
        if (*s != '.')
            digits[nd++] = *s;
    digits[nd] = '\0';
    int exp = atoi(s + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        digits[--nd] = '\0';
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    if (exp < -4 || exp >= 6) {
        out[o++] = digits[0];
        if (nd > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, nd - 1);
            o += nd - 1;
        }
        snprintf(out + o, cap - o, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
        return;
    }
    if (exp < 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = -1; i > exp; i--)
            out[o++] = '0';
        memcpy(out + o, digits, nd);
        o += nd;
    } else {
        for (int i = 0; i <= exp || (size_t)i < nd; i++) {
            if (i == exp + 1)
                out[o++] = '.';
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        }
    }
    out[o] = '\0';
}

static vigil_status put_quoted(vigil_buffer *b, const char *s)
{
    return vigil__pq_quote_append(b, s, strlen(s), SIZE_MAX);
}

static vigil_status put_list(vigil_buffer *b, const char *const *items, size_t n)
{
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < n && st == VIGIL_OK; i++) {
        if (i > 0)
            st = put(b, ", ");
        if (st == VIGIL_OK)
            st = put(b, items[i]);
    }
    return st;
}

static vigil_status put_at_offset(vigil_buffer *b, pq_at_kind at, int64_t at_ms, int64_t offset_ms)
{
    char tmp[64];
    vigil_status st = VIGIL_OK;
    if (at == PQ_AT_TIME) {
        snprintf(tmp, sizeof tmp, " @ %.3f", (double)at_ms / 1000.0);
        st = put(b, tmp);
    } else if (at == PQ_AT_START) {
        st = put(b, " @ start()");
    } else if (at == PQ_AT_END) {
        st = put(b, " @ end()");
    }
    if (st == VIGIL_OK && offset_ms > 0) {
        st = put(b, " offset ");
        if (st == VIGIL_OK)
            st = put_duration(b, offset_ms);
    } else if (st == VIGIL_OK && offset_ms < 0) {
        st = put(b, " offset -");
        if (st == VIGIL_OK)
            st = put_duration(b, -offset_ms);
    }
    return st;
}

static const char *const match_ops[] = {"=", "!=", "=~", "!~"};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Matchers as `name<op>"value"`, sorted as strings, the one that repeats the metric name
 * left out, as Prometheus prints them. The texts are built NUL-separated in one buffer. */
static vigil_status put_matchers(vigil_buffer *b, const pq_node *n)
{
    size_t count = 0;
    vigil_buffer all;
    vigil_buffer_init(&all, 0);
    size_t *offsets = vigil__calloc(n->u.vs.n_matchers + 1, sizeof *offsets);
    const char **items = vigil__calloc(n->u.vs.n_matchers + 1, sizeof *items);
    vigil_status st = offsets != NULL && items != NULL ? VIGIL_OK : VIGIL_ENOMEM;
    for (size_t i = 0; i < n->u.vs.n_matchers && st == VIGIL_OK; i++) {
        const vigil_matcher *m = &n->u.vs.matchers[i];
        if (n->u.vs.name != NULL && m->type == VIGIL_MATCH_EQUAL &&
            strcmp(m->name, "__name__") == 0 && strcmp(m->value, n->u.vs.name) == 0)
            continue;
        offsets[count++] = all.len;
        st = put(&all, m->name);
        if (st == VIGIL_OK)
            st = put(&all, match_ops[(unsigned)m->type < 4 ? m->type : 0]);
        if (st == VIGIL_OK)
            st = put_quoted(&all, m->value);
        if (st == VIGIL_OK)
            st = vigil_buffer_append(&all, "", 1);
    }
    if (st == VIGIL_OK && count > 0) {
        for (size_t i = 0; i < count; i++)
            items[i] = all.data + offsets[i];
        qsort(items, count, sizeof *items, cmp_str);
        st = put(b, "{");
        for (size_t i = 0; i < count && st == VIGIL_OK; i++) {
            if (i > 0)
                st = put(b, ",");
            if (st == VIGIL_OK)
                st = put(b, items[i]);
        }
        if (st == VIGIL_OK)
            st = put(b, "}");
    }
    vigil__free(offsets);
    vigil__free(items);
    vigil_buffer_free(&all);
    return st;
}

static vigil_status format(const pq_node *n, vigil_buffer *b);

static vigil_status format_selector(const pq_node *n, vigil_buffer *b, bool modifiers)
{
    vigil_status st = put(b, n->u.vs.name != NULL ? n->u.vs.name : "");
    if (st == VIGIL_OK)
        st = put_matchers(b, n);
    if (st == VIGIL_OK && modifiers)
        st = put_at_offset(b, n->u.vs.at, n->u.vs.at_ms, n->u.vs.offset_ms);
    return st;
}

static vigil_status format_binary(const pq_node *n, vigil_buffer *b)
{
    vigil_status st = format(n->u.bin.lhs, b);
    if (st == VIGIL_OK)
        st = put(b, " ");
    if (st == VIGIL_OK)
        st = put(b, vigil__pq_binop_name(n->u.bin.op));
    if (st == VIGIL_OK && n->u.bin.return_bool)
        st = put(b, " bool");
    const pq_vector_matching *vm = n->u.bin.matching;
    if (st == VIGIL_OK && vm != NULL && (vm->n_labels > 0 || vm->on)) {
        st = put(b, vm->on ? " on(" : " ignoring(");
        if (st == VIGIL_OK)
            st = put_list(b, vm->labels, vm->n_labels);
        if (st == VIGIL_OK)
            st = put(b, ")");
        if (st == VIGIL_OK &&
            (vm->card == PQ_CARD_MANY_TO_ONE || vm->card == PQ_CARD_ONE_TO_MANY)) {
            st = put(b, vm->card == PQ_CARD_MANY_TO_ONE ? " group_left(" : " group_right(");
            if (st == VIGIL_OK)
                st = put_list(b, vm->include, vm->n_include);
            if (st == VIGIL_OK)
                st = put(b, ")");
        }
    }
    if (st == VIGIL_OK)
        st = put(b, " ");
    if (st == VIGIL_OK)
        st = format(n->u.bin.rhs, b);
    return st;
}

static vigil_status format_aggregate(const pq_node *n, vigil_buffer *b)
{
    vigil_status st = put(b, vigil__pq_aggop_name(n->u.agg.op));
    if (st == VIGIL_OK && (n->u.agg.without || n->u.agg.n_grouping > 0)) {
        st = put(b, n->u.agg.without ? " without(" : " by(");
        if (st == VIGIL_OK)
            st = put_list(b, n->u.agg.grouping, n->u.agg.n_grouping);
        if (st == VIGIL_OK)
            st = put(b, ") ");
    }
    if (st == VIGIL_OK)
        st = put(b, "(");
    if (st == VIGIL_OK && n->u.agg.param != NULL) {
        st = format(n->u.agg.param, b);
        if (st == VIGIL_OK)
            st = put(b, ", ");
    }
    if (st == VIGIL_OK && n->u.agg.expr != NULL)
        st = format(n->u.agg.expr, b);
    if (st == VIGIL_OK)
        st = put(b, ")");
    return st;
}

static vigil_status format_call(const pq_node *n, vigil_buffer *b)
{
    vigil_status st = put(b, n->u.call.fn->name);
    if (st == VIGIL_OK)
        st = put(b, "(");
    for (size_t i = 0; i < n->u.call.n_args && st == VIGIL_OK; i++) {
        if (i > 0)
            st = put(b, ", ");
        if (st == VIGIL_OK)
            st = format(n->u.call.args[i], b);
    }
    if (st == VIGIL_OK)
        st = put(b, ")");
    return st;
}

static vigil_status format_range(const pq_node *n, vigil_buffer *b)
{
    vigil_status st;
    if (n->kind == PQ_MATRIX_SELECTOR) {
        const pq_node *vs = n->u.ms.vs;
        st = format_selector(vs, b, false);
        if (st == VIGIL_OK)
            st = put(b, "[");
        if (st == VIGIL_OK)
            st = put_duration(b, n->u.ms.range_ms);
        if (st == VIGIL_OK)
            st = put(b, "]");
        if (st == VIGIL_OK)
            st = put_at_offset(b, vs->u.vs.at, vs->u.vs.at_ms, vs->u.vs.offset_ms);
        return st;
    }
    st = format(n->u.sq.expr, b);
    if (st == VIGIL_OK)
        st = put(b, "[");
    if (st == VIGIL_OK)
        st = put_duration(b, n->u.sq.range_ms);
    if (st == VIGIL_OK)
        st = put(b, ":");
    if (st == VIGIL_OK && n->u.sq.step_ms != 0)
        st = put_duration(b, n->u.sq.step_ms);
    if (st == VIGIL_OK)
        st = put(b, "]");
    if (st == VIGIL_OK)
        st = put_at_offset(b, n->u.sq.at, n->u.sq.at_ms, n->u.sq.offset_ms);
    return st;
}

static vigil_status format(const pq_node *n, vigil_buffer *b)
{
    char num[64];
    vigil_status st;
    switch (n->kind) {
    case PQ_NUMBER: go_float(num, sizeof num, n->u.number); return put(b, num);
    case PQ_STRING: return put_quoted(b, n->u.string);
    case PQ_VECTOR_SELECTOR: return format_selector(n, b, true);
    case PQ_MATRIX_SELECTOR:
    case PQ_SUBQUERY: return format_range(n, b);
    case PQ_PAREN:
        st = put(b, "(");
        if (st == VIGIL_OK)
            st = format(n->u.paren.expr, b);
        if (st == VIGIL_OK)
            st = put(b, ")");
        return st;
    case PQ_UNARY:
        st = put(b, "-");
        if (st == VIGIL_OK)
            st = format(n->u.unary.expr, b);
        return st;
    case PQ_BINARY: return format_binary(n, b);
    case PQ_AGGREGATE: return format_aggregate(n, b);
    case PQ_CALL: return format_call(n, b);
    }
    return VIGIL_EINVAL;
}

vigil_status vigil__pq_format(const pq_node *node, vigil_buffer *out)
{
    if (node == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil__pq_format: NULL argument");
    vigil_status st = format(node, out);
    if (st != VIGIL_OK)
        return vigil__fail(st, "cannot print a PromQL expression: %s", vigil_strerror(st));
    vigil_buffer_cstr(out);
    return VIGIL_OK;
}
