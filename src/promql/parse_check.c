/* parse_check.c — type checking, Prometheus 2.42's checkAST: the same rules, the same
 * messages, and the same order of visiting (children before the node's own checks, call
 * arguments left to right), because Prometheus reports the first error it records and a
 * query with two problems must be reported the same way. Besides checking, this pass sets
 * what the evaluator relies on: vector matching only between two instant vectors (and
 * many-to-many for and/or/unless), and no unary '+' nodes left in the tree. */
#include <string.h>

#include "parse_int.h"

#include "core/core_int.h"
#include "tsdb/matcher.h"

/* Prometheus's ValueType strings, which the subquery error prints instead of the documented
 * names. */
static const char *value_type_word(pq_type t)
{
    switch (t) {
    case PQ_T_SCALAR: return "scalar";
    case PQ_T_VECTOR: return "vector";
    case PQ_T_MATRIX: return "matrix";
    case PQ_T_STRING: return "string";
    default: return "none";
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where Prometheus points at a binary operator: the first non-space after the left side. */
static uint32_t operator_pos(const pq_parser *p, const pq_node *n)
{
    uint32_t i = n->u.bin.lhs->end;
    while (i < p->len && is_space(p->in[i]))
        i++;
    return i;
}

static pq_type check(pq_parser *p, pq_node **np);

static void expect_type(pq_parser *p, pq_node **np, pq_type want, const char *context)
{
    uint32_t pos = (*np)->pos; /* before a unary '+' is dropped: Prometheus points at it */
    pq_type t = check(p, np);
    if (t != want)
        vigil__pq_parse_fail(p, pos, "expected type %s in %s, got %s", vigil__pq_type_name(want),
                             context, vigil__pq_type_name(t));
}

static bool matches_empty(pq_parser *p, const vigil_matcher *m)
{
    switch (m->type) {
    case VIGIL_MATCH_EQUAL: return m->value[0] == '\0';
    case VIGIL_MATCH_NOT_EQUAL: return m->value[0] != '\0';
    default: break;
    }
    vigil__tsdb_matcher *compiled = NULL;
    vigil_status st = vigil__tsdb_matcher_new(m->type, m->name, m->value, &compiled);
    if (st != VIGIL_OK) /* it compiled while parsing, so only memory can fail here */
        vigil__pq_parse_oom(p);
    bool empty = vigil__tsdb_matcher_matches_empty(compiled);
    vigil__tsdb_matcher_free(compiled);
    return empty;
}

static void check_selector(pq_parser *p, const pq_node *n)
{
    bool not_empty = false;
    for (size_t i = 0; i < n->u.vs.n_matchers && !not_empty; i++)
        not_empty = !matches_empty(p, &n->u.vs.matchers[i]);
    if (!not_empty)
        vigil__pq_parse_fail(p, n->pos,
                             "vector selector must contain at least one non-empty matcher");
    if (n->u.vs.name == NULL)
        return;
    for (size_t i = 1; i < n->u.vs.n_matchers; i++) { /* matchers[0] is the name itself */
        const vigil_matcher *m = &n->u.vs.matchers[i];
        if (strcmp(m->name, "__name__") != 0)
            continue;
        const char *a = vigil__pq_quote(p->arena, n->u.vs.name, strlen(n->u.vs.name), SIZE_MAX);
        const char *b = vigil__pq_quote(p->arena, m->value, strlen(m->value), SIZE_MAX);
        if (a == NULL || b == NULL)
            vigil__pq_parse_oom(p);
        vigil__pq_parse_fail(p, n->pos, "metric name must not be set twice: %s or %s", a, b);
    }
}

static bool labels_overlap(const pq_vector_matching *vm, const char **label)
{
    for (size_t i = 0; i < vm->n_labels; i++)
        for (size_t j = 0; j < vm->n_include; j++)
            if (strcmp(vm->labels[i], vm->include[j]) == 0) {
                *label = vm->labels[i];
                return true;
            }
    return false;
}

static const char *quoted(pq_parser *p, const char *s)
{
    const char *q = vigil__pq_quote(p->arena, s, strlen(s), SIZE_MAX);
    if (q == NULL)
        vigil__pq_parse_oom(p);
    return q;
}

static void check_binary(pq_parser *p, pq_node *n)
{
    uint32_t lhs_pos = n->u.bin.lhs->pos, rhs_pos = n->u.bin.rhs->pos;
    pq_type lt = check(p, &n->u.bin.lhs);
    pq_type rt = check(p, &n->u.bin.rhs);
    pq_binop op = n->u.bin.op;
    pq_vector_matching *vm = n->u.bin.matching;
    bool cmp = vigil__pq_binop_is_comparison(op), set = vigil__pq_binop_is_set(op);
    const char *label;

    if (n->u.bin.return_bool && !cmp)
        vigil__pq_parse_fail(p, operator_pos(p, n),
                             "bool modifier can only be used on comparison operators");
    if (cmp && !n->u.bin.return_bool && lt == PQ_T_SCALAR && rt == PQ_T_SCALAR)
        vigil__pq_parse_fail(p, operator_pos(p, n),
                             "comparisons between scalars must use BOOL modifier");
    if (set && vm->card == PQ_CARD_ONE_TO_ONE)
        vm->card = PQ_CARD_MANY_TO_MANY;
    if (vm->on && labels_overlap(vm, &label))
        vigil__pq_parse_fail(p, operator_pos(p, n),
                             "label %s must not occur in ON and GROUP clause at once",
                             quoted(p, label));
    if (lt != PQ_T_SCALAR && lt != PQ_T_VECTOR)
        vigil__pq_parse_fail(p, lhs_pos,
                             "binary expression must contain only scalar and instant vector types");
    if (rt != PQ_T_SCALAR && rt != PQ_T_VECTOR)
        vigil__pq_parse_fail(p, rhs_pos,
                             "binary expression must contain only scalar and instant vector types");
    if (lt != PQ_T_VECTOR || rt != PQ_T_VECTOR) {
        if (vm->n_labels > 0)
            vigil__pq_parse_fail(p, n->pos, "vector matching only allowed between instant vectors");
        n->u.bin.matching = NULL;
    } else if (set) {
        if (vm->card == PQ_CARD_ONE_TO_MANY || vm->card == PQ_CARD_MANY_TO_ONE)
            vigil__pq_parse_fail(p, n->pos, "no grouping allowed for %s operation",
                                 quoted(p, vigil__pq_binop_name(op)));
        if (vm->card != PQ_CARD_MANY_TO_MANY)
            vigil__pq_parse_fail(p, n->pos, "set operations must always be many-to-many");
    }
    if ((lt == PQ_T_SCALAR || rt == PQ_T_SCALAR) && set)
        vigil__pq_parse_fail(p, n->pos, "set operator %s not allowed in binary scalar expression",
                             quoted(p, vigil__pq_binop_name(op)));
}

static void check_call(pq_parser *p, pq_node *n)
{
    const pq_function *fn = n->u.call.fn;
    size_t nargs = fn->n_args, got = n->u.call.n_args;
    const char *name = quoted(p, fn->name);
    if (fn->variadic == 0) {
        if (nargs != got)
            vigil__pq_parse_fail(p, n->pos, "expected %zu argument(s) in call to %s, got %zu",
                                 nargs, name, got);
    } else {
        size_t na = nargs - 1;
        if (na > got)
            vigil__pq_parse_fail(p, n->pos,
                                 "expected at least %zu argument(s) in call to %s, got %zu", na,
                                 name, got);
        if (fn->variadic > 0 && na + (size_t)fn->variadic < got)
            vigil__pq_parse_fail(p, n->pos,
                                 "expected at most %zu argument(s) in call to %s, got %zu",
                                 na + (size_t)fn->variadic, name, got);
    }
    const char *context = vigil__pq_sprintf(p->arena, "call to function %s", name);
    if (context == NULL)
        vigil__pq_parse_oom(p);
    for (size_t i = 0; i < got; i++) {
        if (i >= nargs && fn->variadic == 0)
            break;
        expect_type(p, &n->u.call.args[i], vigil__pq_function_arg_type(fn, i), context);
    }
}

static void check_aggregate(pq_parser *p, pq_node *n)
{
    expect_type(p, &n->u.agg.expr, PQ_T_VECTOR, "aggregation expression");
    pq_aggop op = n->u.agg.op;
    if (op == PQ_AGG_TOPK || op == PQ_AGG_BOTTOMK || op == PQ_AGG_QUANTILE)
        expect_type(p, &n->u.agg.param, PQ_T_SCALAR, "aggregation parameter");
    if (op == PQ_AGG_COUNT_VALUES)
        expect_type(p, &n->u.agg.param, PQ_T_STRING, "aggregation parameter");
}

static void check_subquery(pq_parser *p, pq_node *n)
{
    pq_type t = check(p, &n->u.sq.expr);
    if (t == PQ_T_VECTOR)
        return;
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    const char *text = NULL;
    if (vigil__pq_format(n, &b) == VIGIL_OK)
        text = vigil__pq_quote(p->arena, b.data, b.len, SIZE_MAX);
    vigil_buffer_free(&b);
    if (text == NULL)
        vigil__pq_parse_oom(p);
    vigil__pq_parse_fail(p, n->pos,
                         "subquery is only allowed on instant vector, got %s in %s instead",
                         value_type_word(t), text);
}

/* Checks *np and returns its type; a unary '+' is replaced by its operand. */
static pq_type check(pq_parser *p, pq_node **np)
{
    pq_node *n = *np;
    switch (n->kind) {
    case PQ_NUMBER:
    case PQ_STRING: break;
    case PQ_VECTOR_SELECTOR: check_selector(p, n); break;
    case PQ_MATRIX_SELECTOR: check_selector(p, n->u.ms.vs); break;
    case PQ_SUBQUERY: check_subquery(p, n); break;
    case PQ_PAREN: check(p, &n->u.paren.expr); break;
    case PQ_UNARY: {
        pq_type t = check(p, &n->u.unary.expr);
        if (t != PQ_T_SCALAR && t != PQ_T_VECTOR)
            vigil__pq_parse_fail(p, n->pos,
                                 "unary expression only allowed on expressions of type scalar or "
                                 "instant vector, got %s",
                                 quoted(p, vigil__pq_type_name(t)));
        if (p->in[n->pos] == '+')
            *np = n->u.unary.expr;
        break;
    }
    case PQ_BINARY: check_binary(p, n); break;
    case PQ_AGGREGATE: check_aggregate(p, n); break;
    case PQ_CALL: check_call(p, n); break;
    }
    return n->type;
}

pq_node *vigil__pq_check(pq_parser *p, pq_node *root)
{
    check(p, &root);
    return root;
}
