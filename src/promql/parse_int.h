/* parse_int.h — what the parser's files (parse.c: grammar; parse_lit.c: literals;
 * parse_check.c: type checking) share. Not used outside the parser. */
#ifndef VIGIL_PROMQL_PARSE_INT_H
#define VIGIL_PROMQL_PARSE_INT_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lex.h" /* before ast.h, which names struct vigil_buffer without including it */
#include "ast.h"

/* Queries longer than this are refused before lexing. */
#define PQ_MAX_QUERY_BYTES ((size_t)1 << 20)
/* Deepest nesting the parser follows, and the tallest tree it builds: everything that walks
 * a tree (type checking, printing, evaluation) recurses, so both are bounded. */
#define PQ_MAX_DEPTH 1000

typedef struct pq_parser {
    const char *in;
    size_t len;
    pq_arena *arena;
    pq_lexer lx;
    pq_token tok; /* the lookahead, valid when have_tok */
    bool have_tok;
    unsigned depth;      /* current recursion depth */
    bool in_aggregation; /* Prometheus names the aggregation in syntax errors inside one */
    /* The first error; Prometheus reports only its first one, and so does vigil. */
    vigil_status status;
    uint32_t err_pos;
    const char *err_msg;
    jmp_buf fail; /* errors unwind here: every allocation is in the arena, nothing leaks */
} pq_parser;

/* Records the error at byte offset pos and unwinds to vigil__pq_parse. */
_Noreturn void vigil__pq_parse_fail(pq_parser *p, uint32_t pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
_Noreturn void vigil__pq_parse_oom(pq_parser *p);
/* Arena allocation that unwinds with VIGIL_ENOMEM instead of returning NULL. */
void *vigil__pq_parse_alloc(pq_parser *p, size_t size);

/* --- literals (parse_lit.c) --- */
/* A NUMBER token's value as Prometheus reads it (Go's ParseInt with base prefixes, then
 * ParseFloat); fails with "error parsing number: ..." at the token. */
double vigil__pq_parse_number(pq_parser *p, const pq_token *t);
/* A DURATION token in milliseconds (model.ParseDuration, then "must be greater than 0"). */
int64_t vigil__pq_parse_duration(pq_parser *p, const pq_token *t);
/* A STRING token without its quotes and escapes (Prometheus's strutil.Unquote). */
const char *vigil__pq_parse_string(pq_parser *p, const pq_token *t);

/* --- type checking (parse_check.c) --- */
/* Checks the tree as Prometheus's checkAST does, in its order, so the first error is the one
 * Prometheus reports; fills in vector matching and drops unary '+' nodes. Returns the root
 * (which changes when it was a unary '+'). */
pq_node *vigil__pq_check(pq_parser *p, pq_node *root);

#endif
