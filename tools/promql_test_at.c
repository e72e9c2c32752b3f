/* promql_test_at.c — the @-modifier variants of an eval, as test.go (v2.42.0) makes them.
 *
 * For every eval, test.go also pins each vector selector, range selector and subquery to the
 * eval's own time with `@ <t>` (leaving alone those that have an @ already, and everything
 * inside a subquery, whose own @ covers it), then evaluates the rewritten query at other times:
 * -10t, 0, t/5, t and 10t (or -1 s, 0 and 1 s when t is 0). A step-invariant query must give the
 * same result at all of them. Queries calling a function whose result depends on the evaluation
 * time itself (time(), timestamp(), the date functions, predict_linear) get no variants.
 * `@ start()` and `@ end()` are replaced by the time, as test.go's rewrite does.
 *
 * test.go rewrites the syntax tree and prints it back. The runner sees only the public API, so
 * the rewrite is textual: a small tokenizer and a parser that knows just enough of PromQL's
 * grammar to find where each selector chain (primary, range, subquery brackets, offset and @
 * modifiers) ends and what lies inside a subquery. Subquery brackets bind tighter than any
 * operator, so a chain is always a primary followed by postfixes. Anything the parser does not
 * recognise means no variants for that query rather than a wrong rewrite. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "promql_test.h"

typedef enum tok_kind {
    T_END,
    T_IDENT,
    T_NUMBER, /* numbers and durations alike */
    T_STRING,
    T_OP, /* arithmetic, comparison and matcher operators */
    T_LPAREN,
    T_RPAREN,
    T_LBRACE,
    T_RBRACE,
    T_LBRACKET,
    T_RBRACKET,
    T_COMMA,
    T_COLON,
    T_AT,
    T_BAD,
} tok_kind;

typedef struct token {
    tok_kind kind;
    size_t start, len;
} token;

/* An edit to the query text: delete `del` bytes at `at`, then insert the @ modifier there. */
typedef struct edit {
    size_t at, del;
} edit;

#define MAX_EDITS 256

typedef struct rewriter {
    const char *src;
    token *toks;
    size_t ntoks, pos;
    edit edits[MAX_EDITS];
    size_t nedits;
    unsigned unsafe_calls;
    bool failed;
} rewriter;

static const char *const aggregations[] = {
    "sum",    "avg",    "count", "min",     "max",          "group",
    "stddev", "stdvar", "topk",  "bottomk", "count_values", "quantile",
};

static const char *const time_dependent_functions[] = {
    "days_in_month", "day_of_month", "day_of_week",    "day_of_year", "hour",      "minute",
    "month",         "year",         "predict_linear", "time",        "timestamp",
};

/* ---- tokens --------------------------------------------------------------------------------- */

/* A ':' never starts an identifier here, so that a subquery's `[5m:1m]` reads as a colon (a
 * metric name starting with ':' then fails to parse, and the query gets no variants). */
static bool ident_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' ||
           (!first && (c == ':' || isdigit((unsigned char)c)));
}

static size_t scan_string(const char *s, size_t i)
{
    char quote = s[i++];
    while (s[i] && s[i] != quote) {
        if (s[i] == '\\' && quote != '`' && s[i + 1])
            i++;
        i++;
    }
    return s[i] ? i + 1 : 0; /* 0: unterminated */
}

static size_t scan_number(const char *s, size_t i)
{
    bool hex = s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X');
    size_t start = i;
    while (isalnum((unsigned char)s[i]) || s[i] == '.' || s[i] == '_') {
        bool exponent = !hex && (s[i] == 'e' || s[i] == 'E') && i > start;
        i++;
        if (exponent && (s[i] == '+' || s[i] == '-') && isdigit((unsigned char)s[i + 1]))
            i++;
    }
    return i;
}

static size_t scan_operator(const char *s, size_t i)
{
    static const char *const two[] = {"==", "!=", "<=", ">=", "=~", "!~"};
    for (size_t k = 0; k < sizeof two / sizeof *two; k++)
        if (strncmp(s + i, two[k], 2) == 0)
            return i + 2;
    return strchr("+-*/%^<>=", s[i]) ? i + 1 : 0;
}

static tok_kind punctuation(char c)
{
    switch (c) {
    case '(': return T_LPAREN;
    case ')': return T_RPAREN;
    case '{': return T_LBRACE;
    case '}': return T_RBRACE;
    case '[': return T_LBRACKET;
    case ']': return T_RBRACKET;
    case ',': return T_COMMA;
    case ':': return T_COLON;
    case '@': return T_AT;
    default: return T_BAD;
    }
}

static bool tokenize(rewriter *rw)
{
    const char *s = rw->src;
    size_t cap = strlen(s) + 1, i = 0;
    rw->toks = malloc(cap * sizeof *rw->toks);
    if (!rw->toks)
        return false;
    for (;;) {
        while (isspace((unsigned char)s[i]))
            i++;
        if (s[i] == '#') { /* a comment runs to the end of its line */
            while (s[i] && s[i] != '\n')
                i++;
            continue;
        }
        token *t = &rw->toks[rw->ntoks++];
        t->start = i;
        if (!s[i]) {
            t->kind = T_END;
            t->len = 0;
            return true;
        }
        size_t end = 0;
        if (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
            t->kind = T_STRING;
            end = scan_string(s, i);
        } else if (isdigit((unsigned char)s[i]) ||
                   (s[i] == '.' && isdigit((unsigned char)s[i + 1]))) {
            t->kind = T_NUMBER;
            end = scan_number(s, i);
        } else if (ident_char(s[i], true)) {
            t->kind = T_IDENT;
            for (end = i; ident_char(s[end], end == i);)
                end++;
        } else if ((end = scan_operator(s, i)) != 0) {
            t->kind = T_OP;
        } else {
            t->kind = punctuation(s[i]);
            end = i + 1;
        }
        if (t->kind == T_BAD || end == 0)
            return false;
        t->len = end - i;
        i = end;
    }
}

/* ---- parsing -------------------------------------------------------------------------------- */

static const token *peek(const rewriter *rw, size_t ahead)
{
    size_t k = rw->pos + ahead;
    return &rw->toks[k < rw->ntoks ? k : rw->ntoks - 1];
}

static bool is_word(const rewriter *rw, const token *t, const char *word)
{
    return t->kind == T_IDENT && t->len == strlen(word) &&
           strncasecmp(rw->src + t->start, word, t->len) == 0;
}

static bool is_op(const rewriter *rw, const token *t, const char *op)
{
    return t->kind == T_OP && t->len == strlen(op) && strncmp(rw->src + t->start, op, t->len) == 0;
}

static bool in_list(const rewriter *rw, const token *t, const char *const *list, size_t n,
                    bool fold_case)
{
    for (size_t k = 0; k < n; k++)
        if (t->kind == T_IDENT && t->len == strlen(list[k]) &&
            (fold_case ? strncasecmp(rw->src + t->start, list[k], t->len)
                       : strncmp(rw->src + t->start, list[k], t->len)) == 0)
            return true;
    return false;
}

static bool expect(rewriter *rw, tok_kind kind)
{
    if (peek(rw, 0)->kind != kind) {
        rw->failed = true;
        return false;
    }
    rw->pos++;
    return true;
}

/* Skips a balanced (...) or {...} group whose insides need no look: label lists, matchers. */
static bool skip_group(rewriter *rw, tok_kind open, tok_kind close)
{
    if (!expect(rw, open))
        return false;
    int depth = 1;
    while (depth > 0) {
        tok_kind k = peek(rw, 0)->kind;
        if (k == T_END) {
            rw->failed = true;
            return false;
        }
        depth += k == open ? 1 : k == close ? -1 : 0;
        rw->pos++;
    }
    return true;
}

static bool parse_expr(rewriter *rw);

static bool parse_args(rewriter *rw)
{
    if (!expect(rw, T_LPAREN))
        return false;
    if (peek(rw, 0)->kind == T_RPAREN) {
        rw->pos++;
        return true;
    }
    for (;;) {
        if (!parse_expr(rw))
            return false;
        if (peek(rw, 0)->kind != T_COMMA)
            break;
        rw->pos++;
    }
    return expect(rw, T_RPAREN);
}

static bool grouping_clause(rewriter *rw)
{
    const token *t = peek(rw, 0);
    if (!is_word(rw, t, "by") && !is_word(rw, t, "without"))
        return true;
    rw->pos++;
    return skip_group(rw, T_LPAREN, T_RPAREN);
}

/* `sum by (l) (x)` or `sum (x) by (l)`, any aggregation, the clause before or after. */
static bool parse_aggregation(rewriter *rw)
{
    rw->pos++;
    const token *before = peek(rw, 0);
    bool clause_first = is_word(rw, before, "by") || is_word(rw, before, "without");
    if (!grouping_clause(rw) || !parse_args(rw))
        return false;
    return clause_first || grouping_clause(rw);
}

typedef enum primary_kind { P_OTHER, P_SELECTOR } primary_kind;

static bool parse_primary(rewriter *rw, primary_kind *kind)
{
    const token *t = peek(rw, 0);
    *kind = P_OTHER;
    switch (t->kind) {
    case T_LPAREN: rw->pos++; return parse_expr(rw) && expect(rw, T_RPAREN);
    case T_NUMBER:
    case T_STRING: rw->pos++; return true;
    case T_LBRACE: *kind = P_SELECTOR; return skip_group(rw, T_LBRACE, T_RBRACE);
    case T_IDENT: break;
    default: rw->failed = true; return false;
    }
    const token *next = peek(rw, 1);
    bool aggregation =
        in_list(rw, t, aggregations, sizeof aggregations / sizeof *aggregations, true);
    if (aggregation &&
        (next->kind == T_LPAREN || is_word(rw, next, "by") || is_word(rw, next, "without")))
        return parse_aggregation(rw);
    if (next->kind == T_LPAREN) {
        if (in_list(rw, t, time_dependent_functions,
                    sizeof time_dependent_functions / sizeof *time_dependent_functions, false))
            rw->unsafe_calls++;
        rw->pos++;
        return parse_args(rw);
    }
    rw->pos++;
    if (is_word(rw, t, "inf") || is_word(rw, t, "nan"))
        return true;
    *kind = P_SELECTOR;
    return peek(rw, 0)->kind != T_LBRACE || skip_group(rw, T_LBRACE, T_RBRACE);
}

/* What a chain's target (its selector, or its outermost subquery) carries as @ modifier. */
typedef enum at_kind { AT_NONE, AT_FIXED, AT_START_END } at_kind;

typedef struct chain_target {
    at_kind at;
    size_t at_start, at_end; /* the `@ start()` text to replace */
} chain_target;

/* `[5m]` or `[5m:1m]`; true in *subquery for the latter. */
static bool parse_brackets(rewriter *rw, bool *subquery)
{
    *subquery = false;
    if (!expect(rw, T_LBRACKET))
        return false;
    while (peek(rw, 0)->kind != T_RBRACKET) {
        tok_kind k = peek(rw, 0)->kind;
        if (k != T_NUMBER && k != T_COLON) {
            rw->failed = true;
            return false;
        }
        *subquery = *subquery || k == T_COLON;
        rw->pos++;
    }
    rw->pos++;
    return true;
}

static bool parse_at(rewriter *rw, chain_target *target)
{
    size_t start = peek(rw, 0)->start;
    rw->pos++; /* '@' */
    if (is_op(rw, peek(rw, 0), "+") || is_op(rw, peek(rw, 0), "-"))
        rw->pos++;
    if (peek(rw, 0)->kind == T_NUMBER) {
        rw->pos++;
        target->at = AT_FIXED;
        return true;
    }
    if (!is_word(rw, peek(rw, 0), "start") && !is_word(rw, peek(rw, 0), "end")) {
        rw->failed = true;
        return false;
    }
    rw->pos++;
    if (!expect(rw, T_LPAREN) || !expect(rw, T_RPAREN))
        return false;
    const token *close = &rw->toks[rw->pos - 1];
    target->at = AT_START_END;
    target->at_start = start;
    target->at_end = close->start + close->len;
    return true;
}

static bool parse_offset(rewriter *rw)
{
    rw->pos++; /* offset */
    if (is_op(rw, peek(rw, 0), "+") || is_op(rw, peek(rw, 0), "-"))
        rw->pos++;
    return expect(rw, T_NUMBER);
}

static void add_edit(rewriter *rw, size_t at, size_t del)
{
    if (rw->nedits == MAX_EDITS) {
        rw->failed = true;
        return;
    }
    rw->edits[rw->nedits++] = (edit){at, del};
}

/* A primary and its postfixes. Edits made inside a subquery's operand are taken back: only the
 * outermost subquery of a chain is pinned. */
static bool parse_chain(rewriter *rw)
{
    size_t edits_before = rw->nedits;
    unsigned unsafe_before = rw->unsafe_calls;
    primary_kind kind;
    if (!parse_primary(rw, &kind))
        return false;
    chain_target target = {AT_NONE, 0, 0};
    bool pinnable = kind == P_SELECTOR;
    for (;;) {
        const token *t = peek(rw, 0);
        if (t->kind == T_LBRACKET) {
            bool subquery;
            if (!parse_brackets(rw, &subquery))
                return false;
            if (subquery) {
                rw->nedits = edits_before;
                rw->unsafe_calls = unsafe_before;
                pinnable = true;
                target.at = AT_NONE; /* the new outermost subquery's own modifiers follow */
            }
        } else if (t->kind == T_AT) {
            if (!parse_at(rw, &target))
                return false;
        } else if (is_word(rw, t, "offset")) {
            if (!parse_offset(rw))
                return false;
        } else {
            break;
        }
    }
    if (!pinnable || target.at == AT_FIXED)
        return true;
    if (target.at == AT_START_END) {
        add_edit(rw, target.at_start, target.at_end - target.at_start);
    } else {
        const token *last = &rw->toks[rw->pos - 1];
        add_edit(rw, last->start + last->len, 0);
    }
    return !rw->failed;
}

static bool is_binary_operator(const rewriter *rw, const token *t)
{
    static const char *const ops[] = {"+",  "-",  "*", "/", "%",  "^",
                                      "==", "!=", "<", ">", "<=", ">="};
    static const char *const words[] = {"and", "or", "unless", "atan2"};
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++)
        if (is_op(rw, t, ops[k]))
            return true;
    return in_list(rw, t, words, sizeof words / sizeof *words, true);
}

/* bool, on(...)/ignoring(...), group_left/group_right with an optional label list. */
static bool parse_binary_modifiers(rewriter *rw)
{
    if (is_word(rw, peek(rw, 0), "bool"))
        rw->pos++;
    if (is_word(rw, peek(rw, 0), "on") || is_word(rw, peek(rw, 0), "ignoring")) {
        rw->pos++;
        if (!skip_group(rw, T_LPAREN, T_RPAREN))
            return false;
    }
    if (is_word(rw, peek(rw, 0), "group_left") || is_word(rw, peek(rw, 0), "group_right")) {
        rw->pos++;
        if (peek(rw, 0)->kind == T_LPAREN && !skip_group(rw, T_LPAREN, T_RPAREN))
            return false;
    }
    return true;
}

/* Operands joined by binary operators; precedence does not matter for finding chains. */
static bool parse_expr(rewriter *rw)
{
    for (;;) {
        while (is_op(rw, peek(rw, 0), "+") || is_op(rw, peek(rw, 0), "-"))
            rw->pos++;
        if (!parse_chain(rw))
            return false;
        if (!is_binary_operator(rw, peek(rw, 0)))
            return true;
        rw->pos++;
        if (!parse_binary_modifiers(rw))
            return false;
    }
}

/* ---- the variants --------------------------------------------------------------------------- */

static int by_position(const void *a, const void *b)
{
    const edit *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

static char *apply_edits(const rewriter *rw, const char *modifier)
{
    size_t len = strlen(rw->src), mlen = strlen(modifier);
    char *out = malloc(len + rw->nedits * (mlen + 1) + 1);
    if (!out)
        return NULL;
    size_t from = 0, n = 0;
    for (size_t k = 0; k < rw->nedits; k++) {
        const edit *e = &rw->edits[k];
        memcpy(out + n, rw->src + from, e->at - from);
        n += e->at - from;
        if (e->del == 0)
            out[n++] = ' ';
        memcpy(out + n, modifier, mlen);
        n += mlen;
        from = e->at + e->del;
    }
    memcpy(out + n, rw->src + from, len - from);
    out[n + len - from] = '\0';
    return out;
}

size_t pt_at_variants(const char *expr, int64_t t_ms, pt_variant out[5])
{
    rewriter rw = {.src = expr};
    bool ok = tokenize(&rw) && parse_expr(&rw) && peek(&rw, 0)->kind == T_END && !rw.failed;
    size_t n = 0;
    if (ok && rw.unsafe_calls == 0) {
        qsort(rw.edits, rw.nedits, sizeof *rw.edits, by_position);
        char modifier[48];
        long long t = t_ms;
        snprintf(modifier, sizeof modifier, "@ %s%lld.%03lld", t < 0 ? "-" : "", llabs(t) / 1000,
                 llabs(t) % 1000);
        int64_t times[5] = {-1000, 0, 1000};
        size_t ntimes = 3;
        if (t_ms != 0) {
            int64_t others[5] = {-10 * t_ms, 0, t_ms / 5, t_ms, 10 * t_ms};
            memcpy(times, others, sizeof others);
            ntimes = 5;
        }
        for (size_t k = 0; k < ntimes; k++) {
            out[n].expr = apply_edits(&rw, modifier);
            if (!out[n].expr)
                break;
            out[n++].t_ms = times[k];
        }
    }
    free(rw.toks);
    return n;
}
