/* ast.h — the PromQL syntax tree, the contract between the parser (parse.c, lex.c) and the
 * evaluator (eval*.c).
 *
 * Every node, string and array of a tree lives in the tree's arena (arena.h) and is freed with
 * it. Positions are byte offsets into the query text, for error messages ("1:12: ..."). The
 * parser type-checks as Prometheus 2.42 does, so the evaluator may rely on node->type and on
 * the argument types of every call. */
#ifndef VIGIL_PROMQL_AST_H
#define VIGIL_PROMQL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/status.h"
#include "vigil/tsdb.h" /* vigil_matcher */

#include "arena.h"

typedef enum pq_type {
    PQ_T_NONE = 0,
    PQ_T_SCALAR,
    PQ_T_VECTOR, /* instant vector */
    PQ_T_MATRIX, /* range vector */
    PQ_T_STRING,
} pq_type;

/* "scalar", "instant vector", "range vector", "string" — Prometheus's words in errors. */
const char *vigil__pq_type_name(pq_type t);

typedef enum pq_kind {
    PQ_NUMBER,
    PQ_STRING,
    PQ_VECTOR_SELECTOR,
    PQ_MATRIX_SELECTOR,
    PQ_SUBQUERY,
    PQ_PAREN,
    PQ_UNARY,
    PQ_BINARY,
    PQ_AGGREGATE,
    PQ_CALL,
} pq_kind;

typedef enum pq_binop {
    PQ_OP_ADD,
    PQ_OP_SUB,
    PQ_OP_MUL,
    PQ_OP_DIV,
    PQ_OP_MOD,
    PQ_OP_POW,
    PQ_OP_ATAN2,
    PQ_OP_EQL, /* == */
    PQ_OP_NEQ, /* != */
    PQ_OP_GTR, /* > */
    PQ_OP_LSS, /* < */
    PQ_OP_GTE, /* >= */
    PQ_OP_LTE, /* <= */
    PQ_OP_AND,
    PQ_OP_OR,
    PQ_OP_UNLESS,
} pq_binop;

bool vigil__pq_binop_is_comparison(pq_binop op);
bool vigil__pq_binop_is_set(pq_binop op); /* and, or, unless */
const char *vigil__pq_binop_name(pq_binop op); /* "+", "==", "and", "atan2", ... */

typedef enum pq_aggop {
    PQ_AGG_SUM,
    PQ_AGG_AVG,
    PQ_AGG_MIN,
    PQ_AGG_MAX,
    PQ_AGG_COUNT,
    PQ_AGG_STDDEV,
    PQ_AGG_STDVAR,
    PQ_AGG_GROUP,
    PQ_AGG_TOPK,        /* param: scalar k */
    PQ_AGG_BOTTOMK,     /* param: scalar k */
    PQ_AGG_QUANTILE,    /* param: scalar q */
    PQ_AGG_COUNT_VALUES, /* param: string, the output label name */
} pq_aggop;

const char *vigil__pq_aggop_name(pq_aggop op);

/* Every function of Prometheus 2.42. The three native-histogram ones (histogram_count,
 * histogram_sum, histogram_fraction) read only native histogram samples, which vigil does not
 * store: over float samples they return nothing, exactly as Prometheus does. */
typedef enum pq_fn_id {
    PQ_FN_ABS, PQ_FN_ABSENT, PQ_FN_ABSENT_OVER_TIME, PQ_FN_ACOS, PQ_FN_ACOSH, PQ_FN_ASIN,
    PQ_FN_ASINH, PQ_FN_ATAN, PQ_FN_ATANH, PQ_FN_AVG_OVER_TIME, PQ_FN_CEIL, PQ_FN_CHANGES,
    PQ_FN_CLAMP, PQ_FN_CLAMP_MAX, PQ_FN_CLAMP_MIN, PQ_FN_COS, PQ_FN_COSH,
    PQ_FN_COUNT_OVER_TIME, PQ_FN_DAYS_IN_MONTH, PQ_FN_DAY_OF_MONTH, PQ_FN_DAY_OF_WEEK,
    PQ_FN_DAY_OF_YEAR, PQ_FN_DEG, PQ_FN_DELTA, PQ_FN_DERIV, PQ_FN_EXP, PQ_FN_FLOOR,
    PQ_FN_HISTOGRAM_QUANTILE, PQ_FN_HOLT_WINTERS, PQ_FN_HOUR, PQ_FN_IDELTA, PQ_FN_INCREASE,
    PQ_FN_IRATE, PQ_FN_LABEL_REPLACE, PQ_FN_LABEL_JOIN, PQ_FN_LAST_OVER_TIME, PQ_FN_LN,
    PQ_FN_LOG10, PQ_FN_LOG2, PQ_FN_MAX_OVER_TIME, PQ_FN_MIN_OVER_TIME, PQ_FN_MINUTE,
    PQ_FN_MONTH, PQ_FN_PI, PQ_FN_PREDICT_LINEAR, PQ_FN_PRESENT_OVER_TIME,
    PQ_FN_QUANTILE_OVER_TIME, PQ_FN_RAD, PQ_FN_RATE, PQ_FN_RESETS, PQ_FN_ROUND, PQ_FN_SCALAR,
    PQ_FN_SGN, PQ_FN_SIN, PQ_FN_SINH, PQ_FN_SORT, PQ_FN_SORT_DESC, PQ_FN_SQRT,
    PQ_FN_STDDEV_OVER_TIME, PQ_FN_STDVAR_OVER_TIME, PQ_FN_SUM_OVER_TIME, PQ_FN_TAN, PQ_FN_TANH,
    PQ_FN_TIME, PQ_FN_TIMESTAMP, PQ_FN_VECTOR, PQ_FN_YEAR,
    PQ_FN_HISTOGRAM_COUNT, PQ_FN_HISTOGRAM_SUM, PQ_FN_HISTOGRAM_FRACTION,
    PQ_FN_COUNT_ /* number of functions */
} pq_fn_id;

/* A function's signature, checked as Prometheus's parser does: with na = n_args - 1, a call
 * with variadic == 0 needs exactly n_args arguments; otherwise at least na, and at most
 * na + variadic when variadic > 0 (no upper bound when variadic < 0). Arguments past n_args
 * take the type of the last one. */
typedef struct pq_function {
    const char *name;
    pq_fn_id id;
    pq_type arg_types[4];
    unsigned n_args;
    int variadic;
    pq_type return_type;
} pq_function;

/* The function named name (exact, case-sensitive), or NULL. */
const pq_function *vigil__pq_function_lookup(const char *name);
const pq_function *vigil__pq_function(pq_fn_id id);

/* `@` modifier of a selector or subquery. */
typedef enum pq_at_kind {
    PQ_AT_NONE = 0,
    PQ_AT_TIME,  /* @ <number>: at_ms holds it */
    PQ_AT_START, /* @ start() */
    PQ_AT_END,   /* @ end() */
} pq_at_kind;

typedef struct pq_node pq_node;

/* on/ignoring/group_left/group_right of a binary operation between two vectors. */
typedef enum pq_cardinality {
    PQ_CARD_ONE_TO_ONE = 0,
    PQ_CARD_MANY_TO_ONE,  /* group_left */
    PQ_CARD_ONE_TO_MANY,  /* group_right */
    PQ_CARD_MANY_TO_MANY, /* and, or, unless */
} pq_cardinality;

typedef struct pq_vector_matching {
    pq_cardinality card;
    bool on;                    /* on(...) given; otherwise ignoring(...) or nothing */
    const char **labels;        /* the on/ignoring list, as written */
    size_t n_labels;
    const char **include;       /* group_left(...)/group_right(...) extra labels */
    size_t n_include;
} pq_vector_matching;

struct pq_node {
    pq_kind kind;
    pq_type type;     /* the value type this node evaluates to */
    uint32_t pos;     /* byte offset of the node's first character */
    uint32_t end;     /* byte offset just past its last character */
    union {
        double number; /* PQ_NUMBER */
        const char *string; /* PQ_STRING, unquoted and unescaped */
        struct {        /* PQ_VECTOR_SELECTOR */
            const char *name; /* metric name as written before `{`, or NULL */
            /* All matchers, a name written before `{` included as __name__="name" (first),
             * as Prometheus does. */
            vigil_matcher *matchers;
            size_t n_matchers;
            int64_t offset_ms; /* may be negative */
            pq_at_kind at;
            int64_t at_ms;
        } vs;
        struct {        /* PQ_MATRIX_SELECTOR: vs is a PQ_VECTOR_SELECTOR (holds offset and @) */
            pq_node *vs;
            int64_t range_ms;
        } ms;
        struct {        /* PQ_SUBQUERY: expr[range:step] offset ... @ ... */
            pq_node *expr;
            int64_t range_ms;
            int64_t step_ms; /* 0 = not given: the engine's default subquery step */
            int64_t offset_ms;
            pq_at_kind at;
            int64_t at_ms;
        } sq;
        struct {        /* PQ_PAREN */
            pq_node *expr;
        } paren;
        struct {        /* PQ_UNARY: only '-' is kept; a unary '+' is dropped by the parser */
            pq_node *expr;
        } unary;
        struct {        /* PQ_BINARY */
            pq_binop op;
            pq_node *lhs, *rhs;
            bool return_bool;             /* comparison with `bool` */
            pq_vector_matching *matching; /* set when both sides are vectors, else NULL */
        } bin;
        struct {        /* PQ_AGGREGATE */
            pq_aggop op;
            pq_node *expr;
            pq_node *param; /* topk/bottomk/quantile/count_values, else NULL */
            const char **grouping;
            size_t n_grouping;
            bool without;
        } agg;
        struct {        /* PQ_CALL */
            const pq_function *fn;
            pq_node **args;
            size_t n_args;
        } call;
    } u;
};

/* Parses and type-checks query into a tree allocated in arena. On error returns VIGIL_EINVAL
 * and records (vigil__fail) Prometheus's message: "<line>:<col>: parse error: <reason>", with
 * a 1-based line and a 1-based column counted in bytes, as Prometheus's ParseErr counts.
 * Limits: queries up to 1 MiB, nesting depth 1000. */
vigil_status vigil__pq_parse(const char *query, pq_arena *arena, pq_node **out);

/* Writes the expression back as PromQL (Prometheus's String() form), for errors and tests. */
vigil_status vigil__pq_format(const pq_node *node, struct vigil_buffer *out);

/* Strips parentheses: the first non-PQ_PAREN node at or under node. */
const pq_node *vigil__pq_unparen(const pq_node *node);

/* The type of argument i (0-based) of a call to fn: arg_types[i] for the declared arguments,
 * the last declared type for any after them (variadic functions, and label_replace, whose
 * five arguments do not fit arg_types[4]). Read argument types through this, never
 * arg_types[i] directly. */
pq_type vigil__pq_function_arg_type(const pq_function *fn, size_t i);

#endif
