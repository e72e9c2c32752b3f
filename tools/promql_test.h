/* promql_test.h — what the files of `vigil promql-test` share: the parsed form of a PromQL test
 * script (Prometheus v2.42.0's promql/test.go format) and the steps between reading a script and
 * printing its verdicts. The command is split by concept: number and duration syntax, series
 * descriptions, the script's commands, the @-modifier variants, comparing a result with what a
 * script expects, and running a script against a store. Everything here is private to the tool
 * and uses the public vigil API only. */
#ifndef VIGIL_TOOLS_PROMQL_TEST_H
#define VIGIL_TOOLS_PROMQL_TEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <vigil.h>

/* Room for one error message about a script (what is wrong, with the offending text). */
#define PT_ERR_MAX 512

/* ---- Go's number and duration syntax (promql_test_number.c) -------------------------------- */

/* Parses s whole as Go's strconv.ParseInt(s, 0, 64) would, and failing that as
 * strconv.ParseFloat(s, 64): what test.go accepts as a scalar expectation and the PromQL parser
 * as a number in a series description ("010" is octal 8, "0x1p-2", "1_000", "+Inf", "nan"). */
bool pt_parse_number(const char *s, size_t len, double *out);

/* Parses a Prometheus duration (prometheus/common model.ParseDuration: "0", or units y w d h m s
 * ms, each at most once and in that order) into milliseconds. */
bool pt_parse_duration(const char *s, size_t len, int64_t *out_ms);

/* Writes v as the shortest decimal that reads back as the same double ("NaN", "+Inf", "-Inf"
 * for the special values, as Prometheus prints them). */
void pt_format_value(double v, char *buf, size_t size);

/* ---- series descriptions: `metric{l="v"} 1+2x3 _ stale` (promql_test_series.c) ------------- */

/* A label set with its values expanded. Labels are sorted by name and own their strings. */
typedef struct pt_series {
    vigil_label *labels;
    size_t nlabels;
    double *values;
    bool *omitted; /* `_`: no sample at that step */
    size_t nvalues;
} pt_series;

/* Parses one series description line as the PromQL parser's ParseSeriesDesc does. On failure
 * returns false with the reason in err. */
bool pt_series_parse(const char *line, pt_series *out, char *err, size_t errlen);
void pt_series_free(pt_series *s);

/* Orders label sets by name then value, label by label (Prometheus's labels.Compare). */
int pt_labels_compare(const vigil_label *a, size_t na, const vigil_label *b, size_t nb);
/* Prints a label set as `name{l="v", ...}` (or `{l="v"}` without a name) to f. */
void pt_labels_print(FILE *f, const vigil_label *labels, size_t n);

/* ---- the script (promql_test_script.c) ----------------------------------------------------- */

typedef enum pt_cmd_kind { PT_CMD_LOAD, PT_CMD_CLEAR, PT_CMD_EVAL } pt_cmd_kind;
typedef enum pt_eval_mode { PT_EVAL, PT_EVAL_FAIL, PT_EVAL_ORDERED } pt_eval_mode;

typedef struct pt_cmd {
    pt_cmd_kind kind;
    int line; /* 1-based line of the command in its file */
    /* load */
    int64_t step_ms;
    pt_series *series; /* in file order, a repeated label set replacing the earlier line's */
    size_t nseries;
    /* eval */
    pt_eval_mode mode;
    int64_t t_ms;
    char *expr;
    pt_series *expected; /* each with exactly one value */
    size_t *positions;   /* of each expected series among the block's lines, from 1 */
    size_t nexpected;
    bool expects_scalar; /* a bare number line */
    double scalar;
} pt_cmd;

typedef struct pt_script {
    pt_cmd *cmds;
    size_t ncmds;
} pt_script;

/* Parses a whole script. On failure returns false with the 1-based line and what is wrong. */
bool pt_script_parse(const char *text, pt_script *out, int *err_line, char *err, size_t errlen);
void pt_script_free(pt_script *s);

/* ---- @-modifier variants (promql_test_at.c) ------------------------------------------------ */

/* A rewritten query and the time to evaluate it at. */
typedef struct pt_variant {
    char *expr;
    int64_t t_ms;
} pt_variant;

/* test.go's step-invariance check: the query with `@ <t>` pinned on every selector and subquery
 * outside a subquery (unless it has one already), to be evaluated at other times with the same
 * expected result. Returns the number of variants written to out (at most 5, each expr owned
 * by the caller), 0 when the query calls a function whose result depends on the evaluation time
 * or is not understood well enough to rewrite safely. */
size_t pt_at_variants(const char *expr, int64_t t_ms, pt_variant out[5]);

/* ---- comparing a result with the expectations (promql_test_compare.c) --------------------- */

/* One observed sample: the labels are borrowed from a query result. */
typedef struct pt_sample {
    const vigil_label *labels;
    size_t nlabels;
    double value;
} pt_sample;

/* Compares observed samples (a vector, or the one value of a scalar when is_scalar) with what
 * the eval expects, as test.go does but reporting every difference: unexpected series, missing
 * series, values that differ beyond Prometheus's relative epsilon (NaN equals NaN), and for
 * eval_ordered series out of place. Writes the differences, separated by "; ", to why and
 * returns true when there are none. */
bool pt_compare(const pt_cmd *ev, const pt_sample *got, size_t n, bool is_scalar, FILE *why);

/* test.go's almostEqual. */
bool pt_almost_equal(double a, double b);

/* ---- one eval (promql_test_eval.c) --------------------------------------------------------- */

/* Checks one eval against the store: instant query, range query, @-modifier variants. Returns
 * true when it passes; otherwise writes why it failed to why. */
bool pt_eval_run(vigil_tsdb *db, const pt_cmd *ev, FILE *why);

/* ---- running (promql_test_run.c) ----------------------------------------------------------- */

typedef struct pt_totals {
    unsigned passed, failed;
} pt_totals;

/* Runs every command of a parsed script against a fresh in-memory store, printing
 * `FILE:LINE: <expr>: <why>` to out for each failing eval (and each load the store refused). */
void pt_script_run(const pt_script *script, const char *file, FILE *out, pt_totals *totals);

#endif
