/* parse.c — the PromQL grammar: a recursive-descent parser with precedence climbing that
 * builds the tree ast.h describes and accepts what Prometheus 2.42's yacc grammar
 * (generated_parser.y) accepts, with the same precedences (^ right-associative above
 * * / % atan2, then + -, comparisons, and/unless, or; a unary sign binds like *, and
 * offset, @ and [...] bind tightest) and the same syntax-error wording: yacc reports an
 * unexpected token "in" the innermost construct that has an error rule (aggregation, grouping
 * opts, label matching, offset, @, subquery), and so does this parser.
 *
 * Tokens are read lazily, one lookahead at most, and each construct's semantic checks run as
 * soon as its last token is read, the moment yacc would reduce it, so that when a query has
 * several problems the one reported is the one Prometheus reports first. Errors unwind with
 * longjmp: all memory is in the query's arena, so nothing needs releasing on the way out. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "parse_int.h"

#include "core/core_int.h"
#include "tsdb/matcher.h"
#include "vigil/promql.h"

/* ---------------------------------------------------------------- errors and memory */

_Noreturn void vigil__pq_parse_oom(pq_parser *p)
{
    p->status = VIGIL_ENOMEM;
    p->err_pos = 0;
    p->err_msg = "out of memory";
    longjmp(p->fail, 1);
}

_Noreturn void vigil__pq_parse_fail(pq_parser *p, uint32_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *msg = n < 0 ? NULL : vigil__pq_alloc(p->arena, (size_t)n + 1);
    if (msg == NULL)
        vigil__pq_parse_oom(p);
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);
    p->status = VIGIL_EINVAL;
    p->err_pos = pos;
    p->err_msg = msg;
    longjmp(p->fail, 1);
}

void *vigil__pq_parse_alloc(pq_parser *p, size_t size)
{
    void *m = vigil__pq_calloc(p->arena, 1, size);
    if (m == NULL)
        vigil__pq_parse_oom(p);
    return m;
}

static char *copy_text(pq_parser *p, const pq_token *t)
{
    char *s = vigil__pq_strndup(p->arena, p->in + t->pos, t->len);
    if (s == NULL)
        vigil__pq_parse_oom(p);
    return s;
}

/* ---------------------------------------------------------------- tokens */

static const pq_token *peek(pq_parser *p)
{
    if (!p->have_tok) {
        do
            vigil__pq_lex(&p->lx, &p->tok);
        while (p->tok.type == PQ_TOK_COMMENT);
        p->have_tok = true;
        if (p->tok.type == PQ_TOK_ERROR) {
            if (strcmp(p->tok.msg, "out of memory") == 0)
                vigil__pq_parse_oom(p);
            vigil__pq_parse_fail(p, p->tok.pos, "%s", p->tok.msg);
        }
    }
    return &p->tok;
}

static pq_token take(pq_parser *p)
{
    peek(p);
    p->have_tok = false;
    return p->tok;
}

static uint32_t tok_end(const pq_token *t)
{
    return t->pos + t->len;
}

/* "unexpected <token>[ in <context>][, expected <what>]", Prometheus's parser.unexpected. */
_Noreturn static void unexpected(pq_parser *p, const pq_token *t, const char *context,
                                 const char *expected)
{
    const char *d = vigil__pq_tok_desc(p->arena, p->in, t);
    if (d == NULL)
        vigil__pq_parse_oom(p);
    vigil__pq_parse_fail(p, t->pos, "unexpected %s%s%s%s%s", d, context != NULL ? " in " : "",
                         context != NULL ? context : "", expected != NULL ? ", expected " : "",
                         expected != NULL ? expected : "");
}

/* A token no rule expects where it stands: yacc falls back to the innermost aggregation. */
_Noreturn static void unexpected_here(pq_parser *p, const pq_token *t)
{
    unexpected(p, t, p->in_aggregation ? "aggregation" : NULL, NULL);
}

/* ---------------------------------------------------------------- nodes */

/* A subtree and its height: every walk over a tree recurses, so heights are bounded too. */
typedef struct sub {
    pq_node *n;
    unsigned h;
} sub;

static pq_node *new_node(pq_parser *p, pq_kind kind, pq_type type, uint32_t pos, uint32_t end)
{
    pq_node *n = vigil__pq_parse_alloc(p, sizeof *n);
    n->kind = kind;
    n->type = type;
    n->pos = pos;
    n->end = end;
    return n;
}

static sub make(pq_parser *p, pq_node *n, unsigned h)
{
    if (h > PQ_MAX_DEPTH)
        vigil__pq_parse_fail(p, n->pos, "expression nested too deeply (more than %d levels)",
                             PQ_MAX_DEPTH);
    return (sub){n, h};
}

static unsigned max_u(unsigned a, unsigned b)
{
    return a > b ? a : b;
}

/* A growable array of pointers in the arena (the old copies stay there until the query ends). */
typedef struct ptr_list {
    void **items;
    size_t n, cap;
} ptr_list;

static void list_push(pq_parser *p, ptr_list *l, void *item)
{
    if (l->n == l->cap) {
        size_t cap = l->cap == 0 ? 4 : l->cap * 2;
        void **items = vigil__pq_parse_alloc(p, cap * sizeof *items);
        if (l->n > 0)
            memcpy(items, l->items, l->n * sizeof *items);
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = item;
}

/* ---------------------------------------------------------------- grammar */

static sub parse_expr(pq_parser *p, int min_prec);

static int binop_prec(pq_tok t)
{
    switch (t) {
    case PQ_TOK_LOR: return 1;
    case PQ_TOK_LAND:
    case PQ_TOK_LUNLESS: return 2;
    case PQ_TOK_EQLC:
    case PQ_TOK_NEQ:
    case PQ_TOK_LTE:
    case PQ_TOK_LSS:
    case PQ_TOK_GTE:
    case PQ_TOK_GTR: return 3;
    case PQ_TOK_ADD:
    case PQ_TOK_SUB: return 4;
    case PQ_TOK_MUL:
    case PQ_TOK_DIV:
    case PQ_TOK_MOD:
    case PQ_TOK_ATAN2: return 5;
    case PQ_TOK_POW: return 6;
    default: return 0;
    }
}
#define PREC_LOWEST 1
#define PREC_POW 6 /* a unary sign's operand: only ^ binds tighter than the sign */

static pq_binop binop_of(pq_tok t)
{
    switch (t) {
    case PQ_TOK_ADD: return PQ_OP_ADD;
    case PQ_TOK_SUB: return PQ_OP_SUB;
    case PQ_TOK_MUL: return PQ_OP_MUL;
    case PQ_TOK_DIV: return PQ_OP_DIV;
    case PQ_TOK_MOD: return PQ_OP_MOD;
    case PQ_TOK_POW: return PQ_OP_POW;
    case PQ_TOK_ATAN2: return PQ_OP_ATAN2;
    case PQ_TOK_EQLC: return PQ_OP_EQL;
    case PQ_TOK_NEQ: return PQ_OP_NEQ;
    case PQ_TOK_GTR: return PQ_OP_GTR;
    case PQ_TOK_LSS: return PQ_OP_LSS;
    case PQ_TOK_GTE: return PQ_OP_GTE;
    case PQ_TOK_LTE: return PQ_OP_LTE;
    case PQ_TOK_LAND: return PQ_OP_AND;
    case PQ_TOK_LOR: return PQ_OP_OR;
    default: return PQ_OP_UNLESS;
    }
}

static pq_aggop aggop_of(pq_tok t)
{
    switch (t) {
    case PQ_TOK_AVG: return PQ_AGG_AVG;
    case PQ_TOK_BOTTOMK: return PQ_AGG_BOTTOMK;
    case PQ_TOK_COUNT: return PQ_AGG_COUNT;
    case PQ_TOK_COUNT_VALUES: return PQ_AGG_COUNT_VALUES;
    case PQ_TOK_GROUP: return PQ_AGG_GROUP;
    case PQ_TOK_MAX: return PQ_AGG_MAX;
    case PQ_TOK_MIN: return PQ_AGG_MIN;
    case PQ_TOK_QUANTILE: return PQ_AGG_QUANTILE;
    case PQ_TOK_STDDEV: return PQ_AGG_STDDEV;
    case PQ_TOK_STDVAR: return PQ_AGG_STDVAR;
    case PQ_TOK_TOPK: return PQ_AGG_TOPK;
    default: return PQ_AGG_SUM;
    }
}

/* Words that name a metric where a selector may start (Prometheus's metric_identifier). */
static bool is_metric_identifier(pq_tok t)
{
    switch (t) {
    case PQ_TOK_IDENTIFIER:
    case PQ_TOK_METRIC_IDENTIFIER:
    case PQ_TOK_BY:
    case PQ_TOK_LAND:
    case PQ_TOK_LOR:
    case PQ_TOK_LUNLESS:
    case PQ_TOK_OFFSET:
    case PQ_TOK_WITHOUT:
    case PQ_TOK_START:
    case PQ_TOK_END: return true;
    default: return vigil__pq_tok_is_aggregator(t);
    }
}

/* Words accepted as label names in by/without/on/ignoring/group_x lists (maybe_label). */
static bool is_maybe_label(pq_tok t)
{
    switch (t) {
    case PQ_TOK_IDENTIFIER:
    case PQ_TOK_METRIC_IDENTIFIER:
    case PQ_TOK_LAND:
    case PQ_TOK_LOR:
    case PQ_TOK_LUNLESS:
    case PQ_TOK_ATAN2:
    case PQ_TOK_START:
    case PQ_TOK_END: return true;
    default: return vigil__pq_tok_is_aggregator(t) || vigil__pq_tok_is_keyword(t);
    }
}

/* `(label, ...)` of by/without/on/ignoring/group_left/group_right. */
static const char **parse_grouping_labels(pq_parser *p, size_t *n, uint32_t *end)
{
    ptr_list labels = {0};
    pq_token t = take(p);
    if (t.type != PQ_TOK_LEFT_PAREN)
        unexpected(p, &t, "grouping opts", "\"(\"");
    if (peek(p)->type == PQ_TOK_RIGHT_PAREN) {
        t = take(p);
    } else {
        for (;;) {
            t = take(p);
            /* a name with ':' is a metric identifier, not a label */
            if (!is_maybe_label(t.type) || t.type == PQ_TOK_METRIC_IDENTIFIER)
                unexpected(p, &t, "grouping opts", "label");
            list_push(p, &labels, copy_text(p, &t));
            t = take(p);
            if (t.type == PQ_TOK_RIGHT_PAREN)
                break;
            if (t.type != PQ_TOK_COMMA)
                unexpected(p, &t, "grouping opts", "\",\" or \")\"");
            if (peek(p)->type == PQ_TOK_RIGHT_PAREN) {
                t = take(p);
                break;
            }
        }
    }
    *end = tok_end(&t);
    *n = labels.n;
    if (labels.items == NULL) /* an empty list is not "no list" */
        labels.items = vigil__pq_parse_alloc(p, sizeof(void *));
    return (const char **)labels.items;
}

/* `(arg, ...)` of a call or aggregation. */
static void parse_call_args(pq_parser *p, ptr_list *args, unsigned *h, uint32_t *end)
{
    pq_token t = take(p);
    if (t.type != PQ_TOK_LEFT_PAREN)
        unexpected_here(p, &t);
    *h = 0;
    if (peek(p)->type == PQ_TOK_RIGHT_PAREN) {
        t = take(p);
        *end = tok_end(&t);
        return;
    }
    for (;;) {
        sub a = parse_expr(p, PREC_LOWEST);
        list_push(p, args, a.n);
        *h = max_u(*h, a.h);
        t = take(p);
        if (t.type == PQ_TOK_RIGHT_PAREN)
            break;
        if (t.type != PQ_TOK_COMMA)
            unexpected_here(p, &t);
        if (peek(p)->type == PQ_TOK_RIGHT_PAREN)
            vigil__pq_parse_fail(p, t.pos, "trailing commas not allowed in function call args");
    }
    *end = tok_end(&t);
}

static sub parse_call(pq_parser *p, const pq_token *name)
{
    ptr_list args = {0};
    unsigned h;
    uint32_t end;
    parse_call_args(p, &args, &h, &end);
    char *fname = copy_text(p, name);
    const pq_function *fn = vigil__pq_function_lookup(fname);
    if (fn == NULL) {
        const char *q = vigil__pq_quote(p->arena, fname, name->len, SIZE_MAX);
        if (q == NULL)
            vigil__pq_parse_oom(p);
        vigil__pq_parse_fail(p, name->pos, "unknown function with name %s", q);
    }
    pq_node *n = new_node(p, PQ_CALL, fn->return_type, name->pos, end);
    n->u.call.fn = fn;
    n->u.call.args = (pq_node **)args.items;
    n->u.call.n_args = args.n;
    return make(p, n, h + 1);
}

static bool aggregation_has_param(pq_aggop op)
{
    return op == PQ_AGG_TOPK || op == PQ_AGG_BOTTOMK || op == PQ_AGG_QUANTILE ||
           op == PQ_AGG_COUNT_VALUES;
}

static void parse_aggregate_modifier(pq_parser *p, pq_node *n, uint32_t *end)
{
    pq_token t = take(p);
    n->u.agg.without = t.type == PQ_TOK_WITHOUT;
    n->u.agg.grouping = parse_grouping_labels(p, &n->u.agg.n_grouping, end);
}

/* sum(...), sum by (l) (...), sum(...) without (l), topk(k, ...), ... */
static sub parse_aggregate(pq_parser *p, const pq_token *op)
{
    bool outer = p->in_aggregation;
    p->in_aggregation = true;
    pq_node *n = new_node(p, PQ_AGGREGATE, PQ_T_VECTOR, op->pos, 0);
    n->u.agg.op = aggop_of(op->type);
    ptr_list args = {0};
    unsigned h;
    uint32_t end, mod_end = 0;
    pq_tok next = peek(p)->type;
    bool modifier_first = next == PQ_TOK_BY || next == PQ_TOK_WITHOUT;
    if (modifier_first)
        parse_aggregate_modifier(p, n, &mod_end);
    parse_call_args(p, &args, &h, &end);
    next = peek(p)->type;
    if (!modifier_first && (next == PQ_TOK_BY || next == PQ_TOK_WITHOUT))
        parse_aggregate_modifier(p, n, &end);
    p->in_aggregation = outer;
    n->end = end;
    if (args.n == 0)
        vigil__pq_parse_fail(p, op->pos, "no arguments for aggregate expression provided");
    size_t want = aggregation_has_param(n->u.agg.op) ? 2 : 1;
    if (args.n != want)
        vigil__pq_parse_fail(p, op->pos,
                             "wrong number of arguments for aggregate expression provided, "
                             "expected %zu, got %zu",
                             want, args.n);
    if (want == 2)
        n->u.agg.param = args.items[0];
    n->u.agg.expr = args.items[want - 1];
    return make(p, n, h + 1);
}

static bool matcher_op(pq_tok t, vigil_match_type *type)
{
    switch (t) {
    case PQ_TOK_EQL: *type = VIGIL_MATCH_EQUAL; return true;
    case PQ_TOK_NEQ: *type = VIGIL_MATCH_NOT_EQUAL; return true;
    case PQ_TOK_EQL_REGEX: *type = VIGIL_MATCH_REGEX; return true;
    case PQ_TOK_NEQ_REGEX: *type = VIGIL_MATCH_NOT_REGEX; return true;
    default: return false;
    }
}

/* A regex matcher must compile, as labels.NewMatcher requires. */
static void check_regex(pq_parser *p, const vigil_matcher *m, uint32_t pos)
{
    vigil__tsdb_matcher *compiled = NULL;
    vigil_status st = vigil__tsdb_matcher_new(m->type, m->name, m->value, &compiled);
    if (st == VIGIL_ENOMEM)
        vigil__pq_parse_oom(p);
    if (st != VIGIL_OK)
        vigil__pq_parse_fail(p, pos, "error parsing regexp: %s", vigil_errmsg());
    vigil__tsdb_matcher_free(compiled);
}

/* One `name op "value"` inside braces; the string is read and checked before anything
 * after it, as Prometheus's reduction of label_matcher does. */
static vigil_matcher *parse_matcher(pq_parser *p)
{
    pq_token name = take(p);
    if (name.type != PQ_TOK_IDENTIFIER)
        unexpected(p, &name, "label matching", "identifier or \"}\"");
    pq_token op = take(p);
    vigil_matcher *m = vigil__pq_parse_alloc(p, sizeof *m);
    if (!matcher_op(op.type, &m->type))
        unexpected(p, &op, "label matching", "label matching operator");
    pq_token value = take(p);
    if (value.type != PQ_TOK_STRING)
        unexpected(p, &value, "label matching", "string");
    m->name = copy_text(p, &name);
    m->value = vigil__pq_parse_string(p, &value);
    if (m->type == VIGIL_MATCH_REGEX || m->type == VIGIL_MATCH_NOT_REGEX)
        check_regex(p, m, name.pos);
    return m;
}

/* {...}; returns the offset just past the closing brace. */
static uint32_t parse_label_matchers(pq_parser *p, ptr_list *matchers)
{
    pq_token t = take(p); /* '{' */
    if (peek(p)->type == PQ_TOK_RIGHT_BRACE) {
        t = take(p);
        return tok_end(&t);
    }
    for (;;) {
        list_push(p, matchers, parse_matcher(p));
        t = take(p);
        if (t.type == PQ_TOK_RIGHT_BRACE)
            break;
        if (t.type != PQ_TOK_COMMA)
            unexpected(p, &t, "label matching", "\",\" or \"}\"");
        if (peek(p)->type == PQ_TOK_RIGHT_BRACE) {
            t = take(p);
            break;
        }
    }
    return tok_end(&t);
}

/* name, name{...} or {...}; the name becomes the first matcher, __name__="name". */
static sub parse_selector(pq_parser *p, const pq_token *name)
{
    ptr_list ms = {0};
    vigil_matcher *name_matcher = NULL;
    uint32_t pos, end;
    if (name != NULL) {
        name_matcher = vigil__pq_parse_alloc(p, sizeof *name_matcher);
        name_matcher->type = VIGIL_MATCH_EQUAL;
        name_matcher->name = "__name__";
        name_matcher->value = copy_text(p, name);
        list_push(p, &ms, name_matcher);
        pos = name->pos;
        end = tok_end(name);
        if (peek(p)->type == PQ_TOK_LEFT_BRACE)
            end = parse_label_matchers(p, &ms);
    } else {
        pos = peek(p)->pos;
        end = parse_label_matchers(p, &ms);
    }
    pq_node *n = new_node(p, PQ_VECTOR_SELECTOR, PQ_T_VECTOR, pos, end);
    n->u.vs.name = name_matcher != NULL ? name_matcher->value : NULL;
    n->u.vs.matchers = vigil__pq_parse_alloc(p, (ms.n + 1) * sizeof(vigil_matcher));
    for (size_t i = 0; i < ms.n; i++)
        n->u.vs.matchers[i] = *(vigil_matcher *)ms.items[i];
    n->u.vs.n_matchers = ms.n;
    return make(p, n, 1);
}

static sub parse_paren(pq_parser *p)
{
    pq_token open = take(p);
    sub inner = parse_expr(p, PREC_LOWEST);
    pq_token close = take(p);
    if (close.type != PQ_TOK_RIGHT_PAREN)
        unexpected_here(p, &close);
    pq_node *n = new_node(p, PQ_PAREN, inner.n->type, open.pos, tok_end(&close));
    n->u.paren.expr = inner.n;
    return make(p, n, inner.h + 1);
}

static sub parse_primary(pq_parser *p)
{
    pq_tok type = peek(p)->type;
    if (type == PQ_TOK_LEFT_PAREN)
        return parse_paren(p);
    if (type == PQ_TOK_LEFT_BRACE)
        return parse_selector(p, NULL);
    pq_token t = take(p);
    pq_node *n;
    switch (t.type) {
    case PQ_TOK_NUMBER:
        n = new_node(p, PQ_NUMBER, PQ_T_SCALAR, t.pos, tok_end(&t));
        n->u.number = vigil__pq_parse_number(p, &t);
        return make(p, n, 1);
    case PQ_TOK_STRING:
        n = new_node(p, PQ_STRING, PQ_T_STRING, t.pos, tok_end(&t));
        n->u.string = vigil__pq_parse_string(p, &t);
        return make(p, n, 1);
    case PQ_TOK_IDENTIFIER:
        if (peek(p)->type == PQ_TOK_LEFT_PAREN)
            return parse_call(p, &t);
        return parse_selector(p, &t);
    default: break;
    }
    if (vigil__pq_tok_is_aggregator(t.type)) {
        pq_tok next = peek(p)->type;
        if (next == PQ_TOK_LEFT_PAREN || next == PQ_TOK_BY || next == PQ_TOK_WITHOUT)
            return parse_aggregate(p, &t);
    }
    if (is_metric_identifier(t.type))
        return parse_selector(p, &t);
    unexpected_here(p, &t);
}

/* ---------------------------------------------------------------- [range], offset, @ */

/* x[range] or x[range:step]; Prometheus checks a range selector when it reads the ']'. */
static sub parse_range(pq_parser *p, sub e)
{
    pq_token open = take(p);
    pq_token t = take(p);
    if (t.type != PQ_TOK_DURATION)
        unexpected(p, &t, "subquery selector", "duration");
    int64_t range = vigil__pq_parse_duration(p, &t);
    t = take(p);
    if (t.type == PQ_TOK_RIGHT_BRACKET) {
        if (e.n->kind != PQ_VECTOR_SELECTOR)
            vigil__pq_parse_fail(p, open.pos, "ranges only allowed for vector selectors");
        if (e.n->u.vs.offset_ms != 0)
            vigil__pq_parse_fail(p, open.pos, "no offset modifiers allowed before range");
        if (e.n->u.vs.at == PQ_AT_TIME) /* start() and end() pass, as in Prometheus */
            vigil__pq_parse_fail(p, open.pos, "no @ modifiers allowed before range");
        pq_node *n = new_node(p, PQ_MATRIX_SELECTOR, PQ_T_MATRIX, e.n->pos, tok_end(&t));
        n->u.ms.vs = e.n;
        n->u.ms.range_ms = range;
        return make(p, n, e.h + 1);
    }
    if (t.type != PQ_TOK_COLON)
        unexpected(p, &t, "subquery or range", "\":\" or \"]\"");
    int64_t step = 0;
    t = take(p);
    if (t.type == PQ_TOK_DURATION) {
        step = vigil__pq_parse_duration(p, &t);
        t = take(p);
        if (t.type != PQ_TOK_RIGHT_BRACKET)
            unexpected(p, &t, "subquery selector", "\"]\"");
    } else if (t.type != PQ_TOK_RIGHT_BRACKET) {
        unexpected(p, &t, "subquery selector", "duration or \"]\"");
    }
    pq_node *n = new_node(p, PQ_SUBQUERY, PQ_T_MATRIX, e.n->pos, tok_end(&t));
    n->u.sq.expr = e.n;
    n->u.sq.range_ms = range;
    n->u.sq.step_ms = step;
    return make(p, n, e.h + 1);
}

/* Where offset and @ of node e are kept; fails as Prometheus does for other nodes. */
static void modifier_slots(pq_parser *p, pq_node *e, const char *what, int64_t **offset,
                           pq_at_kind **at, int64_t **at_ms)
{
    pq_node *vs = e->kind == PQ_MATRIX_SELECTOR ? e->u.ms.vs : e;
    if (vs->kind == PQ_VECTOR_SELECTOR) {
        *offset = &vs->u.vs.offset_ms;
        *at = &vs->u.vs.at;
        *at_ms = &vs->u.vs.at_ms;
    } else if (e->kind == PQ_SUBQUERY) {
        *offset = &e->u.sq.offset_ms;
        *at = &e->u.sq.at;
        *at_ms = &e->u.sq.at_ms;
    } else {
        vigil__pq_parse_fail(p, e->pos,
                             "%s modifier must be preceded by an instant vector selector or "
                             "range vector selector or a subquery",
                             what);
    }
}

/* offset 5m, offset -5m */
static void parse_offset(pq_parser *p, pq_node *e)
{
    take(p); /* offset */
    pq_token t = take(p);
    bool negative = t.type == PQ_TOK_SUB;
    if (negative)
        t = take(p);
    if (t.type != PQ_TOK_DURATION)
        unexpected(p, &t, "offset", "duration");
    int64_t d = vigil__pq_parse_duration(p, &t);
    int64_t *offset, *at_ms;
    pq_at_kind *at;
    modifier_slots(p, e, "offset", &offset, &at, &at_ms);
    if (*offset != 0)
        vigil__pq_parse_fail(p, e->pos, "offset may not be set multiple times");
    *offset = negative ? -d : d;
    e->end = tok_end(&t);
}

/* Go's int64(math.Round(seconds * 1000)); out-of-range values give what amd64 Go gives. */
static int64_t seconds_to_ms(double ts)
{
    double ms = round(ts * 1000.0);
    if (!(ms >= -9223372036854775808.0 && ms < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)ms;
}

static void set_at(pq_parser *p, pq_node *e, pq_at_kind kind, int64_t ms, uint32_t end)
{
    int64_t *offset, *at_ms;
    pq_at_kind *at;
    modifier_slots(p, e, "@", &offset, &at, &at_ms);
    if (*at != PQ_AT_NONE)
        vigil__pq_parse_fail(p, e->pos, "@ <timestamp> may not be set multiple times");
    *at = kind;
    *at_ms = ms;
    e->end = end;
}

static void format_go_f(char *out, size_t cap, double v)
{
    if (isnan(v))
        snprintf(out, cap, "NaN");
    else if (isinf(v))
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, cap, "%f", v);
}

/* @ <number>, @ start(), @ end() */
static void parse_at(pq_parser *p, pq_node *e)
{
    take(p); /* @ */
    pq_token t = take(p);
    if (t.type == PQ_TOK_START || t.type == PQ_TOK_END) {
        pq_at_kind kind = t.type == PQ_TOK_START ? PQ_AT_START : PQ_AT_END;
        t = take(p);
        if (t.type != PQ_TOK_LEFT_PAREN)
            unexpected(p, &t, "@", "timestamp");
        t = take(p);
        if (t.type != PQ_TOK_RIGHT_PAREN)
            unexpected(p, &t, "@", "timestamp");
        set_at(p, e, kind, 0, tok_end(&t));
        return;
    }
    double sign = 1;
    if (t.type == PQ_TOK_ADD || t.type == PQ_TOK_SUB) {
        sign = t.type == PQ_TOK_SUB ? -1 : 1;
        t = take(p);
    }
    if (t.type != PQ_TOK_NUMBER)
        unexpected(p, &t, "@", "timestamp");
    double ts = sign * vigil__pq_parse_number(p, &t);
    if (!isfinite(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0) {
        char num[400];
        format_go_f(num, sizeof num, ts);
        vigil__pq_parse_fail(p, e->pos, "timestamp out of bounds for @ modifier: %s", num);
    }
    set_at(p, e, PQ_AT_TIME, seconds_to_ms(ts), tok_end(&t));
}

static sub parse_postfix(pq_parser *p, sub e)
{
    for (;;) {
        pq_tok t = peek(p)->type;
        if (t == PQ_TOK_LEFT_BRACKET)
            e = parse_range(p, e);
        else if (t == PQ_TOK_OFFSET)
            parse_offset(p, e.n);
        else if (t == PQ_TOK_AT)
            parse_at(p, e.n);
        else
            return e;
    }
}

/* ---------------------------------------------------------------- operators */

/* A leading + or -, or a primary with its modifiers. A sign on a number literal is folded
 * into it, as Prometheus does; a '+' on anything else is kept until type checking, which
 * needs it for its error and then drops it. */
static sub parse_operand(pq_parser *p)
{
    const pq_token *t = peek(p);
    if (++p->depth > PQ_MAX_DEPTH)
        vigil__pq_parse_fail(p, t->pos, "expression nested too deeply (more than %d levels)",
                             PQ_MAX_DEPTH);
    sub r;
    if (t->type == PQ_TOK_ADD || t->type == PQ_TOK_SUB) {
        pq_token op = take(p);
        sub e = parse_expr(p, PREC_POW);
        if (e.n->kind == PQ_NUMBER) {
            if (op.type == PQ_TOK_SUB)
                e.n->u.number = -e.n->u.number;
            e.n->pos = op.pos;
            r = e;
        } else {
            pq_node *n = new_node(p, PQ_UNARY, e.n->type, op.pos, e.n->end);
            n->u.unary.expr = e.n;
            r = make(p, n, e.h + 1);
        }
    } else {
        r = parse_postfix(p, parse_primary(p));
    }
    p->depth--;
    return r;
}

/* bool, on(...)/ignoring(...), group_left(...)/group_right(...) after a binary operator. */
static pq_vector_matching *parse_bin_modifiers(pq_parser *p, bool *return_bool)
{
    pq_vector_matching *vm = vigil__pq_parse_alloc(p, sizeof *vm);
    uint32_t end;
    vm->card = PQ_CARD_ONE_TO_ONE;
    *return_bool = false;
    if (peek(p)->type == PQ_TOK_BOOL) {
        take(p);
        *return_bool = true;
    }
    pq_tok t = peek(p)->type;
    if (t != PQ_TOK_ON && t != PQ_TOK_IGNORING)
        return vm;
    take(p);
    vm->on = t == PQ_TOK_ON;
    vm->labels = parse_grouping_labels(p, &vm->n_labels, &end);
    t = peek(p)->type;
    if (t != PQ_TOK_GROUP_LEFT && t != PQ_TOK_GROUP_RIGHT)
        return vm;
    take(p);
    vm->card = t == PQ_TOK_GROUP_LEFT ? PQ_CARD_MANY_TO_ONE : PQ_CARD_ONE_TO_MANY;
    if (peek(p)->type == PQ_TOK_LEFT_PAREN) {
        vm->include = parse_grouping_labels(p, &vm->n_include, &end);
    } else {
        vm->include = vigil__pq_parse_alloc(p, sizeof(char *));
        vm->n_include = 0;
    }
    return vm;
}

/* Precedence climbing: operators of at least min_prec; ^ groups to the right. */
static sub parse_expr(pq_parser *p, int min_prec)
{
    sub lhs = parse_operand(p);
    for (;;) {
        const pq_token *t = peek(p);
        int prec = binop_prec(t->type);
        if (prec == 0 || prec < min_prec)
            return lhs;
        pq_token op = take(p);
        bool return_bool;
        pq_vector_matching *vm = parse_bin_modifiers(p, &return_bool);
        p->depth++;
        sub rhs = parse_expr(p, op.type == PQ_TOK_POW ? prec : prec + 1);
        p->depth--;
        pq_type type =
            lhs.n->type == PQ_T_SCALAR && rhs.n->type == PQ_T_SCALAR ? PQ_T_SCALAR : PQ_T_VECTOR;
        pq_node *n = new_node(p, PQ_BINARY, type, lhs.n->pos, rhs.n->end);
        n->u.bin.op = binop_of(op.type);
        n->u.bin.lhs = lhs.n;
        n->u.bin.rhs = rhs.n;
        n->u.bin.return_bool = return_bool;
        n->u.bin.matching = vm;
        lhs = make(p, n, max_u(lhs.h, rhs.h) + 1);
    }
}

/* ---------------------------------------------------------------- entry points */

static void report(const pq_parser *p)
{
    if (p->status == VIGIL_ENOMEM) {
        vigil__fail(VIGIL_ENOMEM, "out of memory parsing a PromQL query");
        return;
    }
    /* line and column as Prometheus counts them: 1-based, the column in bytes */
    unsigned line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < p->err_pos && i < p->len; i++) {
        if (p->in[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    }
    vigil__fail(VIGIL_EINVAL, "%u:%zu: parse error: %s", line, (size_t)p->err_pos - line_start + 1,
                p->err_msg);
}

vigil_status vigil__pq_parse(const char *query, pq_arena *arena, pq_node **out)
{
    if (out != NULL)
        *out = NULL;
    if (query == NULL || arena == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil__pq_parse: NULL argument");
    size_t len = strlen(query);
    if (len > PQ_MAX_QUERY_BYTES)
        return vigil__fail(VIGIL_EINVAL,
                           "1:1: parse error: query of %zu bytes is longer than the limit of "
                           "%zu bytes",
                           len, PQ_MAX_QUERY_BYTES);
    pq_parser *p = vigil__pq_calloc(arena, 1, sizeof *p);
    if (p == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory parsing a PromQL query");
    p->in = query;
    p->len = len;
    p->arena = arena;
    vigil__pq_lexer_init(&p->lx, query, len, arena);
    if (setjmp(p->fail) != 0) {
        report(p);
        return p->status;
    }
    if (peek(p)->type == PQ_TOK_EOF)
        vigil__pq_parse_fail(p, 0, "no expression found in input");
    sub root = parse_expr(p, PREC_LOWEST);
    pq_token t = take(p);
    if (t.type != PQ_TOK_EOF)
        unexpected_here(p, &t);
    *out = vigil__pq_check(p, root.n);
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_promql_check(const char *query)
{
    pq_arena arena;
    pq_node *root;
    vigil__pq_arena_init(&arena);
    vigil_status st = vigil__pq_parse(query, &arena, &root);
    vigil__pq_arena_free(&arena);
    return st;
}
