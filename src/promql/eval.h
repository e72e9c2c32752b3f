/* eval.h — the PromQL evaluator's internals, shared by engine.c and the eval_*.c files.
 *
 * The evaluator works node by node over ALL the steps of a query at once, the way Prometheus's
 * rangeEval produces a matrix: a node evaluated over a frame (start, interval, n steps) yields
 * a scalar (n values), an instant vector (series, each holding values for a span of steps
 * with a presence bitmap), a range vector (series of raw samples, for instant queries and
 * function arguments) or a string. Each selector reads its series from the store once, while
 * the node that consumes them runs; label sets are hashed once per series, never per step.
 * A long range query runs as two halves of its steps on two threads (eval_split.c).
 *
 * Memory: label sets and small per-node tables live in the query's arena (pq_eval.arena);
 * the arrays of a value live in the value's own arena and are freed as soon as the parent node
 * has consumed them, so a query holds roughly one level of the tree at a time. Every value
 * counts its points against options.max_samples while it is alive. */
#ifndef VIGIL_PROMQL_EVAL_H
#define VIGIL_PROMQL_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/metrics.h"
#include "vigil/promql.h"
#include "vigil/tsdb.h"

#include "arena.h"
#include "ast.h"
#include "funcs.h"

/* ---- label sets (eval_labels.c) ------------------------------------------------------------ */

/* An immutable label set, sorted by name, hashed once. Strings belong to the store (through a
 * querier the query keeps open) or to the query arena. */
typedef struct pq_lset {
    uint64_t hash;
    uint32_t n;
    vigil_label l[];
} pq_lset;

/* Copies n labels (any order; empty values dropped) into a new set in a. NULL when out of
 * memory. */
const pq_lset *vigil__pq_lset_new(pq_arena *a, const vigil_label *l, size_t n);
const pq_lset *vigil__pq_lset_empty(pq_arena *a);
bool vigil__pq_lset_equal(const pq_lset *a, const pq_lset *b);
/* Prometheus's labels.Compare: name by name, value by value, then the shorter first. */
int vigil__pq_lset_compare(const pq_lset *a, const pq_lset *b);
/* The value of name, or NULL when the set has no such label. */
const char *vigil__pq_lset_get(const pq_lset *ls, const char *name);
/* Appends s quoted as Go's strconv.Quote does (label values are UTF-8). */
vigil_status vigil__pq_go_quote(vigil_buffer *out, const char *s);
/* Appends Prometheus's labels.String() form, {a="b", c="d"}, NUL-terminated. */
vigil_status vigil__pq_lset_format(const pq_lset *ls, vigil_buffer *out);

/* A mutable copy of a label set for Prometheus's labels.Builder operations. */
typedef struct pq_lbuilder {
    vigil_label *l;
    size_t n, cap;
} pq_lbuilder;

void vigil__pq_lb_init(pq_lbuilder *b);
void vigil__pq_lb_free(pq_lbuilder *b);
vigil_status vigil__pq_lb_reset(pq_lbuilder *b, const pq_lset *ls);
void vigil__pq_lb_del(pq_lbuilder *b, const char *name);
/* Sets name to value; an empty value deletes the label, as Prometheus's builder does. */
vigil_status vigil__pq_lb_set(pq_lbuilder *b, const char *name, const char *value);
/* Keeps only the labels named in names. */
void vigil__pq_lb_keep(pq_lbuilder *b, const char *const *names, size_t n);
const pq_lset *vigil__pq_lb_finish(pq_lbuilder *b, pq_arena *a);

/* The set without __name__ (the same pointer when it has none). NULL when out of memory. */
const pq_lset *vigil__pq_lset_drop_name(pq_arena *a, const pq_lset *ls);

/* Hash of a projection of a set: with on, only the labels named in names; otherwise every
 * label except those in names and __name__ (vector matching's signature and the grouping
 * key of `without`). */
uint64_t vigil__pq_lset_project_hash(const pq_lset *ls, bool on, const char *const *names,
                                     size_t n);
/* True when a and b agree on that projection. */
bool vigil__pq_lset_project_equal(const pq_lset *a, const pq_lset *b, bool on,
                                  const char *const *names, size_t n);

/* An open-addressing index from 64-bit keys to small integers, for grouping by label set or by
 * signature: collisions are resolved by the caller's equality test on the entries found. */
typedef struct pq_index {
    uint64_t *keys;
    uint32_t *vals;
    size_t cap, len;
} pq_index;

void vigil__pq_index_init(pq_index *ix);
void vigil__pq_index_free(pq_index *ix);
vigil_status vigil__pq_index_reserve(pq_index *ix, size_t n);
/* Iterates the values stored under key: start with *pos = 0; false at the end. */
bool vigil__pq_index_next(const pq_index *ix, uint64_t key, size_t *pos, uint32_t *val);
vigil_status vigil__pq_index_put(pq_index *ix, uint64_t key, uint32_t val);

/* ---- frames and values (eval.c) ------------------------------------------------------------ */

/* The steps a node is evaluated at: start, start + interval, ..., n of them. An instant query
 * is a frame of one step with interval 1, as in Prometheus. */
typedef struct pq_frame {
    int64_t start;
    int64_t interval;
    size_t n;
} pq_frame;

static inline int64_t pq_frame_t(const pq_frame *f, size_t i)
{
    return f->start + (int64_t)i * f->interval;
}

static inline int64_t pq_frame_end(const pq_frame *f)
{
    return pq_frame_t(f, f->n - 1);
}

/* One series of an instant vector over a frame: values for steps [lo, lo + n), with bit i of
 * ok telling whether step lo + i has one (ok == NULL: every step of the span has). */
typedef struct pq_series {
    const pq_lset *ls;
    uint32_t lo, n;
    double *v;
    uint64_t *ok;
} pq_series;

/* One series of a range vector: samples with their own timestamps, oldest first. */
typedef struct pq_rseries {
    const pq_lset *ls;
    int64_t *t;
    double *v;
    size_t n;
} pq_rseries;

typedef enum pq_vkind {
    PQ_VAL_SCALAR,
    PQ_VAL_VECTOR,
    PQ_VAL_MATRIX,
    PQ_VAL_STRING,
} pq_vkind;

typedef struct pq_value {
    pq_vkind kind;
    pq_arena mem;     /* the value's arrays; freed with it */
    size_t points;    /* counted against max_samples while the value lives */
    double *scalar;   /* PQ_VAL_SCALAR: one per step */
    pq_series *s;     /* PQ_VAL_VECTOR */
    size_t ns, cap_s;
    pq_rseries *r;    /* PQ_VAL_MATRIX */
    size_t nr, cap_r;
    const char *str;  /* PQ_VAL_STRING */
} pq_value;

static inline bool pq_bit(const uint64_t *b, size_t i)
{
    return (b[i >> 6] >> (i & 63)) & 1;
}

static inline void pq_bit_set(uint64_t *b, size_t i)
{
    b[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline size_t pq_words(size_t bits)
{
    return (bits + 63) / 64;
}

/* Does series s have a value at frame step i? */
static inline bool pq_has(const pq_series *s, size_t i)
{
    if (i < s->lo || i - s->lo >= s->n)
        return false;
    return s->ok == NULL || pq_bit(s->ok, i - s->lo);
}

static inline double pq_at(const pq_series *s, size_t i)
{
    return s->v[i - s->lo];
}

/* What one query evaluation needs: the store, the limits and the queriers it keeps open. */
typedef struct pq_eval {
    vigil_tsdb *db;
    pq_arena *arena;
    int64_t lookback_ms;
    int64_t subquery_step_ms;
    int64_t query_start, query_end; /* what @ start() and @ end() resolve to */
    uint64_t deadline_ns;           /* monotonic; 0 = none */
    size_t max_samples;
    size_t *samples;                /* points held now, shared by the threads of one query */
    size_t own_samples;             /* what samples points to when nothing is shared */
    /* Queriers stay open until the result has been copied out: label strings of selected
     * series belong to the store and stay valid while one is open. */
    vigil_tsdb_querier **queriers;
    size_t nqueriers, cap_queriers;
    pq_lbuilder lb;                 /* scratch label builder */
} pq_eval;

void vigil__pq_eval_init(pq_eval *ev, vigil_tsdb *db, pq_arena *arena,
                         const vigil_promql_options *opts, int64_t start, int64_t end);
/* Evaluates root over f, in up to opts->threads parts of its steps on as many threads when f
 * has many steps and nothing in root depends on which steps are evaluated together
 * (eval_split.c); *out is then one value over all of f. Every part's evaluation must stay alive
 * (label strings) until the value has been used: vigil__pq_par_done releases them. */
#define PQ_PAR_MAX 8
typedef struct pq_par {
    pq_arena arena[PQ_PAR_MAX];
    pq_eval ev[PQ_PAR_MAX];
    int used;
    size_t samples;
} pq_par;
vigil_status vigil__pq_par_eval(pq_par *p, vigil_tsdb *db, const vigil_promql_options *opts,
                                const pq_node *root, const pq_frame *f, int64_t start,
                                int64_t end, pq_value **out);
void vigil__pq_par_done(pq_par *p, pq_value *v);
void vigil__pq_eval_done(pq_eval *ev);

/* True when node's value is the same at every step (Prometheus's PreprocessExpr decision). */
bool vigil__pq_step_invariant(const pq_node *node);

/* Evaluates node over frame f. */
vigil_status vigil__pq_eval(pq_eval *ev, const pq_node *node, const pq_frame *f, pq_value **out);

/* Checks the deadline: VIGIL_ETIMEOUT with Prometheus's message once it has passed. */
vigil_status vigil__pq_check_time(pq_eval *ev);
/* Adds points to the query's live sample count: VIGIL_ELIMIT past max_samples. */
vigil_status vigil__pq_count(pq_eval *ev, size_t points);
void vigil__pq_uncount(pq_eval *ev, size_t points);
vigil_status vigil__pq_too_many_samples(void);
/* Prometheus's "vector cannot contain metrics with the same labelset". */
vigil_status vigil__pq_dup_labelset(void);
/* An out-of-memory failure naming what was being built. */
vigil_status vigil__pq_nomem(const char *what);

vigil_status vigil__pq_value_new(pq_eval *ev, pq_vkind kind, pq_value **out);
void vigil__pq_value_free(pq_eval *ev, pq_value *v);
/* size bytes in the value's arena. */
void *vigil__pq_value_alloc(pq_value *v, size_t size);
/* A scalar of f->n steps (values uninitialised). */
vigil_status vigil__pq_scalar_new(pq_eval *ev, const pq_frame *f, pq_value **out);
/* Appends a series slot to a vector value (fields zeroed). */
vigil_status vigil__pq_series_push(pq_value *v, pq_series **out);
vigil_status vigil__pq_rseries_push(pq_value *v, pq_rseries **out);

/* A dense row of values over a whole frame, the scratch most nodes compute one series into
 * before keeping only the span that has values. */
typedef struct pq_row {
    double *v;
    uint64_t *ok;
    size_t n;
} pq_row;

vigil_status vigil__pq_row_init(pq_row *r, size_t n);
void vigil__pq_row_free(pq_row *r);
void vigil__pq_row_clear(pq_row *r);
/* Appends the row's values as a series with labels ls to out (nothing when the row is empty),
 * counting its points; clears the row. */
vigil_status vigil__pq_row_emit(pq_eval *ev, pq_row *r, pq_value *out, const pq_lset *ls);

/* Output series keyed by label set, for nodes whose outputs may merge several inputs (binary
 * operators, label functions, functions that drop __name__): first every contribution's key
 * and step span (pass 1), then the arrays (alloc), then the values, where a second value for
 * the same labels at the same step is Prometheus's "vector cannot contain metrics with the
 * same labelset". Outputs keep the order in which their keys first appeared. */
typedef struct pq_merge {
    pq_eval *ev;
    pq_value *out;
    pq_index ix;
} pq_merge;

vigil_status vigil__pq_merge_init(pq_merge *m, pq_eval *ev, pq_value *out);
void vigil__pq_merge_free(pq_merge *m);
/* The output index for ls, its span widened to [lo, lo + n). */
vigil_status vigil__pq_merge_key(pq_merge *m, const pq_lset *ls, uint32_t lo, uint32_t n,
                                 uint32_t *idx);
vigil_status vigil__pq_merge_alloc(pq_merge *m);
vigil_status vigil__pq_merge_put(pq_merge *m, uint32_t idx, size_t step, double v);
/* Drops outputs without values, counts points, marks full spans. */
vigil_status vigil__pq_merge_finish(pq_merge *m);

/* Fails with "vector cannot contain metrics with the same labelset" when two series of a
 * vector value have equal labels (Prometheus's check on whole matrices). */
vigil_status vigil__pq_check_unique(const pq_value *v);
/* The same check over n label sets. */
vigil_status vigil__pq_check_unique_lsets(const pq_lset *const *ls, size_t n);

/* The time an @ modifier pins a selector or subquery to. */
int64_t vigil__pq_at_time(const pq_eval *ev, pq_at_kind at, int64_t at_ms);

/* Opens a querier over [mint, maxt] that stays open until the evaluation ends. */
vigil_status vigil__pq_querier(pq_eval *ev, int64_t mint, int64_t maxt, vigil_tsdb_querier **q);

/* Copies a series set's current labels into a set in the query arena. */
vigil_status vigil__pq_series_lset(pq_eval *ev, vigil_tsdb_series_set *set, const pq_lset **out);

/* ---- nodes (eval_*.c) ---------------------------------------------------------------------- */

/* eval_select.c: an instant vector selector; with timestamps the values are the sample times
 * in seconds (timestamp() of a selector). */
vigil_status vigil__pq_eval_selector(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                     bool timestamps, pq_value **out);
/* eval_select.c: a range selector or subquery evaluated on its own (an instant query). */
vigil_status vigil__pq_eval_range_vector(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                         pq_value **out);

/* eval_subquery.c: the subquery's inner expression over the steps every outer step's window
 * needs, as a range vector. */
vigil_status vigil__pq_eval_subquery(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                     pq_value **out);

/* eval_range.c: a call with a range-vector argument (rate, *_over_time, absent_over_time...). */
vigil_status vigil__pq_eval_range_call(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                       pq_value **out);
/* What receives a node's output series one at a time instead of a value holding them all:
 * an aggregation folding a range function's output as it is computed, so that a day of rates
 * over hundreds of series is never materialised. put gets each series' row over the whole
 * frame (count > 0 steps set) and its labels, and leaves the row cleared; it counts the
 * points against max_samples as keeping them would (the caller uncounts them when it is done
 * with them), so that the limit fails exactly where it fails without streaming. */
typedef struct pq_sink pq_sink;
struct pq_sink {
    vigil_status (*put)(pq_sink *k, pq_row *row, const pq_lset *ls, size_t count);
};

/* eval_range.c: vigil__pq_eval_range_call with its output series passed to sink in the order
 * they would have in the value, after the same checks. Not for absent_over_time, whose
 * output is not its series. */
vigil_status vigil__pq_eval_range_call_sink(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                            pq_sink *sink);
/* eval_call.c: every other function call. */
vigil_status vigil__pq_eval_call(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                 pq_value **out);
/* eval_call.c: the labels absent() and absent_over_time() give their output, taken from the
 * equality matchers of a selector argument (none for any other argument). */
vigil_status vigil__pq_absent_labels(pq_eval *ev, const pq_node *arg, const pq_lset **out);
/* eval_label.c: label_replace and label_join. */
vigil_status vigil__pq_eval_label_fn(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                     pq_value **out);
/* eval_binary.c */
vigil_status vigil__pq_eval_binary(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                   pq_value **out);
/* eval_aggr.c */
vigil_status vigil__pq_eval_aggregate(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                      pq_value **out);

/* eval_window.c: rate, increase, delta and sum/avg/count_over_time over overlapping windows
 * in O(1) each: prefix sums for the sums, incrementally counted resets and memoised
 * extrapolation factors for the rates. */
#define PQ_SLIDE_MEMO 1024

struct factor_memo;

/* What the windows of one series are, given only its timestamps: series scraped together
 * (every series of one target) have the same timestamps, so the windows' sample ranges and
 * rate's extrapolation factors are worked out once for all of them. A call keeps the plans of
 * the last few dozen distinct timestamp arrays it met (PQ_PLAN_BYTES of them at most), as a
 * selector's series come sorted by labels and a target's series need not be next to each
 * other. */
#define PQ_PLANS_MAX 64
#define PQ_PLAN_BYTES ((size_t)4 << 20)

typedef struct pq_window_plan {
    int64_t *t;                /* the timestamps it was made for */
    size_t n, t_cap;
    int64_t first_end, interval, range;
    size_t steps, steps_cap;
    uint32_t *a, *b;           /* window k holds samples [a[k], b[k]) */
    double *factor;            /* rate-like: window k's extrapolation factor... */
    uint64_t *near;            /* ...valid unless bit k is clear and a counter's zero point
                                  could move the window's start (see rate_value) */
    size_t widest;
    uint64_t used;             /* when it was last used, for evicting the oldest */
} pq_window_plan;

typedef struct pq_slide {
    pq_fn_id id;
    double *hi, *lo;           /* double-double sum of the finite samples before i */
    uint32_t *odd;             /* NaN and infinite samples before i */
    size_t cap;
    struct factor_memo *memo;  /* rate's extrapolation factors by window layout */
    size_t *resets;            /* indices i where v[i] < v[i - 1] (counters) */
    size_t nresets, reset_cap;
    pq_window_plan *plans;     /* the windows of recent series' timestamps */
    size_t nplans;
    size_t last;               /* the plan used last */
    uint64_t clock;
} pq_slide;

bool vigil__pq_slide_fn(pq_fn_id id);
void vigil__pq_slide_init(pq_slide *s, pq_fn_id id);
void vigil__pq_slide_free(pq_slide *s);
vigil_status vigil__pq_slide_prepare(pq_slide *s, const int64_t *t, const double *v, size_t n);

/* The steps of a sliding evaluation: window k is [first_end + k * interval - range,
 * first_end + k * interval]. */
typedef struct pq_slide_steps {
    int64_t first_end;
    int64_t interval;
    int64_t range;
    size_t n;
} pq_slide_steps;

/* Every window of one prepared series at once: values into out/ok (bit k per step), and the
 * steps the library must compute into redo. Returns the largest window. */
size_t vigil__pq_slide_row(pq_slide *s, const pq_slide_steps *st, const int64_t *t,
                           const double *v, size_t n, double *out, uint64_t *ok, uint64_t *redo);

/* Go's math.Pow, operation for operation on integer exponents (repeated squaring), so that
 * `^` gives Prometheus's bits. */
double vigil__pq_go_pow(double x, double y);

/* Sorts a vector value's series by value as sort() (desc false) and sort_desc() (desc true)
 * do at one step, NaN last. Only meaningful for one-step frames. */
void vigil__pq_sort_by_value(pq_value *v, bool desc);

#endif
