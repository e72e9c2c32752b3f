/* lex.h — the PromQL lexer, token for token what Prometheus 2.42's lexer (promql/parser/lex.go)
 * produces, because the parser's error messages name tokens the way Prometheus does
 * (`unexpected <op:+>`, `unexpected identifier "foo"`) and some of the grammar's quirks live in
 * the lexer (keywords are case-insensitive, `[` switches to durations, parentheses are counted
 * here). Tokens point into the query text; nothing is copied except error messages, which go
 * to the arena. Positions are byte offsets. */
#ifndef VIGIL_PROMQL_LEX_H
#define VIGIL_PROMQL_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/status.h"

#include "arena.h"

/* Grouped as Prometheus groups them: the ranges decide how a token is described in errors. */
typedef enum pq_tok {
    PQ_TOK_EOF = 0,
    PQ_TOK_ERROR,
    PQ_TOK_COMMENT,
    PQ_TOK_IDENTIFIER,
    PQ_TOK_METRIC_IDENTIFIER, /* an identifier with a ':' */
    PQ_TOK_NUMBER,
    PQ_TOK_STRING,
    PQ_TOK_DURATION,
    PQ_TOK_LEFT_PAREN,
    PQ_TOK_RIGHT_PAREN,
    PQ_TOK_LEFT_BRACE,
    PQ_TOK_RIGHT_BRACE,
    PQ_TOK_LEFT_BRACKET,
    PQ_TOK_RIGHT_BRACKET,
    PQ_TOK_COMMA,
    PQ_TOK_EQL, /* = */
    PQ_TOK_COLON,

    PQ_TOK_OPERATORS_START_,
    PQ_TOK_ADD,
    PQ_TOK_SUB,
    PQ_TOK_MUL,
    PQ_TOK_DIV,
    PQ_TOK_MOD,
    PQ_TOK_POW,
    PQ_TOK_EQLC, /* == */
    PQ_TOK_NEQ,
    PQ_TOK_LTE,
    PQ_TOK_LSS,
    PQ_TOK_GTE,
    PQ_TOK_GTR,
    PQ_TOK_EQL_REGEX,
    PQ_TOK_NEQ_REGEX,
    PQ_TOK_AT,
    PQ_TOK_ATAN2,
    PQ_TOK_LAND,
    PQ_TOK_LOR,
    PQ_TOK_LUNLESS,
    PQ_TOK_OPERATORS_END_,

    PQ_TOK_AGGREGATORS_START_,
    PQ_TOK_AVG,
    PQ_TOK_BOTTOMK,
    PQ_TOK_COUNT,
    PQ_TOK_COUNT_VALUES,
    PQ_TOK_GROUP,
    PQ_TOK_MAX,
    PQ_TOK_MIN,
    PQ_TOK_QUANTILE,
    PQ_TOK_STDDEV,
    PQ_TOK_STDVAR,
    PQ_TOK_SUM,
    PQ_TOK_TOPK,
    PQ_TOK_AGGREGATORS_END_,

    PQ_TOK_KEYWORDS_START_,
    PQ_TOK_BOOL,
    PQ_TOK_BY,
    PQ_TOK_GROUP_LEFT,
    PQ_TOK_GROUP_RIGHT,
    PQ_TOK_IGNORING,
    PQ_TOK_OFFSET,
    PQ_TOK_ON,
    PQ_TOK_WITHOUT,
    PQ_TOK_KEYWORDS_END_,

    PQ_TOK_START, /* start(), end() of the @ modifier */
    PQ_TOK_END,
} pq_tok;

typedef struct pq_token {
    pq_tok type;
    uint32_t pos;    /* byte offset of the first character */
    uint32_t len;    /* bytes of text; for PQ_TOK_ERROR, 0 */
    const char *msg; /* PQ_TOK_ERROR: Prometheus's wording, e.g. "unclosed left parenthesis" */
} pq_token;

typedef enum pq_lex_state {
    PQ_LEX_STATEMENTS = 0,
    PQ_LEX_BRACES,   /* inside {...}: every word is a label name */
    PQ_LEX_DURATION, /* right after `[` */
    PQ_LEX_DONE,     /* after an error or the end */
} pq_lex_state;

typedef struct pq_lexer {
    const char *in;
    size_t len;
    size_t pos;   /* next byte to read */
    size_t start; /* first byte of the token being scanned */
    size_t width; /* bytes of the last rune read, for backup() */
    pq_lex_state state;
    int paren_depth;
    bool brace_open;
    bool bracket_open;
    bool got_colon;
    int32_t string_open; /* the quote of the string being read */
    pq_arena *arena;     /* error messages */
} pq_lexer;

void vigil__pq_lexer_init(pq_lexer *l, const char *in, size_t len, pq_arena *arena);
/* The next token, comments included. After an error token (or out of memory for its message,
 * when msg is "out of memory") every call returns PQ_TOK_EOF. */
void vigil__pq_lex(pq_lexer *l, pq_token *t);

bool vigil__pq_tok_is_operator(pq_tok t);
bool vigil__pq_tok_is_aggregator(pq_tok t);
bool vigil__pq_tok_is_keyword(pq_tok t);
/* How Prometheus names a token after "unexpected " (Item.desc()): `"("`, `<op:+>`,
 * `<aggr:sum>`, `<by>`, `identifier "foo"`, `number "1"`, `end of input`. Arena string, NULL
 * when out of memory. */
const char *vigil__pq_tok_desc(pq_arena *a, const char *query, const pq_token *t);

/* --- Go's quoting, which Prometheus's messages and String() use (%q) --- */

/* Appends s[0..n) as Go's strconv.Quote writes it (double quotes, \" \\ \n \x.. \u..), cut
 * to its first max_runes runes first (Go's %.Nq; SIZE_MAX for all). */
vigil_status vigil__pq_quote_append(vigil_buffer *b, const char *s, size_t n, size_t max_runes);
/* The same into the arena; NULL when out of memory. */
const char *vigil__pq_quote(pq_arena *a, const char *s, size_t n, size_t max_runes);
/* One rune as Go's %q prints a rune: '}' '\'' '\n' '\x00'; an invalid rune (or -1, the
 * end of input) as '\uFFFD' would print: '�'. out holds at least 16 bytes. */
void vigil__pq_quote_rune(char *out, int32_t r);
/* printf into the arena; NULL when out of memory. */
char *vigil__pq_sprintf(pq_arena *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* r as UTF-8 into out (room for 4 bytes); returns the length. A surrogate becomes U+FFFD, as
 * Go encodes it. */
size_t vigil__pq_put_utf8(char *out, uint32_t r);

#endif
