/* promql_test_eval.c — one `eval` of a script, checked the way Prometheus v2.42.0's test.go
 * checks it:
 *
 *   1. the query as written, as an instant query at the eval's time;
 *   2. the same query as a range query from t-1m to t+1m with a 1m step, whose middle step must
 *      give the same result (skipped for eval_ordered: a range result has no order);
 *   3. the same two checks for each @-modifier variant (promql_test_at.c): every selector pinned
 *      to the eval's time, evaluated at other times, must still give the same result.
 * The first check that fails is the eval's verdict, as in test.go. Under eval_fail each instant
 * query must fail and nothing else is looked at.
 *
 * The engine options are test.go's: at most 10,000 samples in memory, a 100 s timeout, and a
 * 1 m step for subqueries written without one. */
#include <stdlib.h>
#include <string.h>

#include "promql_test.h"

static void engine_options(vigil_promql_options *o)
{
    vigil_promql_options_init(o);
    o->max_samples = 10000;
    o->timeout_ms = 100000;
    o->subquery_step_ms = 60000;
}

static void print_error(FILE *why, const char *what, vigil_status st)
{
    const char *msg = vigil_errmsg();
    fprintf(why, "%s: %s", what, msg[0] ? msg : vigil_strerror(st));
}

/* The samples of an instant result; false (with why written) when it is not a vector or a
 * scalar. */
static bool instant_samples(const vigil_promql_result *r, pt_sample **out, size_t *n,
                            bool *is_scalar, FILE *why)
{
    vigil_promql_value_type type = vigil_promql_result_type(r);
    if (type == VIGIL_PROMQL_MATRIX) {
        fputs("received range result on instant evaluation", why);
        return false;
    }
    if (type == VIGIL_PROMQL_STRING) {
        fprintf(why, "received string result \"%s\" on instant evaluation",
                vigil_promql_result_string(r));
        return false;
    }
    *is_scalar = type == VIGIL_PROMQL_SCALAR;
    *n = vigil_promql_result_series(r);
    *out = calloc(*n ? *n : 1, sizeof **out);
    if (!*out) {
        fputs("out of memory", why);
        return false;
    }
    for (size_t i = 0; i < *n; i++) {
        const int64_t *t;
        const double *v;
        (*out)[i].nlabels = vigil_promql_result_labels(r, i, &(*out)[i].labels);
        (*out)[i].value = vigil_promql_result_points(r, i, &t, &v) ? v[0] : 0;
    }
    return true;
}

/* The points at t_ms of a range result, one per series that has one there. */
static bool samples_at(const vigil_promql_result *r, int64_t t_ms, pt_sample **out, size_t *n,
                       FILE *why)
{
    size_t series = vigil_promql_result_series(r);
    *n = 0;
    *out = calloc(series ? series : 1, sizeof **out);
    if (!*out) {
        fputs("out of memory", why);
        return false;
    }
    for (size_t i = 0; i < series; i++) {
        const int64_t *t;
        const double *v;
        size_t points = vigil_promql_result_points(r, i, &t, &v);
        for (size_t k = 0; k < points; k++)
            if (t[k] == t_ms) {
                pt_sample *s = &(*out)[(*n)++];
                s->nlabels = vigil_promql_result_labels(r, i, &s->labels);
                s->value = v[k];
                break;
            }
    }
    return true;
}

/* pt_compare, with its differences (if any) written to why after prefix. */
static bool compare_prefixed(const pt_cmd *ev, const pt_sample *got, size_t n, bool is_scalar,
                             const char *prefix, FILE *why)
{
    char *text = NULL;
    size_t len = 0;
    FILE *buf = open_memstream(&text, &len);
    if (!buf) {
        fputs("out of memory", why);
        return false;
    }
    bool ok = pt_compare(ev, got, n, is_scalar, buf);
    fclose(buf);
    if (!ok)
        fprintf(why, "%s%s", prefix, text);
    free(text);
    return ok;
}

/* The range-mode check of one query; the instant result was a scalar when was_scalar. */
static bool check_range(vigil_tsdb *db, const pt_cmd *ev, const char *expr, int64_t t_ms,
                        bool was_scalar, FILE *why)
{
    vigil_promql_options o;
    engine_options(&o);
    vigil_promql_result *r = NULL;
    vigil_status st = vigil_promql_range(db, &o, expr, t_ms - 60000, t_ms + 60000, 60000, &r);
    if (st) {
        print_error(why, "range query failed", st);
        return false;
    }
    pt_sample *got = NULL;
    size_t n = 0;
    bool ok = true;
    if (ev->mode != PT_EVAL_ORDERED) {
        ok = samples_at(r, t_ms, &got, &n, why);
        if (ok && was_scalar && n == 0) {
            fputs("range query has no point at the eval's time", why);
            ok = false;
        } else if (ok) {
            /* test.go compares the first series' point against a scalar expectation. */
            ok = compare_prefixed(ev, got, was_scalar ? 1 : n, was_scalar, "in range mode: ", why);
        }
    }
    free(got);
    vigil_promql_result_free(r);
    return ok;
}

/* Instant and range checks of one query at one time. */
static bool check_query(vigil_tsdb *db, const pt_cmd *ev, const char *expr, int64_t t_ms, FILE *why)
{
    vigil_promql_options o;
    engine_options(&o);
    vigil_promql_result *r = NULL;
    vigil_status st = vigil_promql_instant(db, &o, expr, t_ms, &r);
    if (st) {
        if (ev->mode == PT_EVAL_FAIL)
            return true;
        print_error(why, "unexpected error", st);
        return false;
    }
    if (ev->mode == PT_EVAL_FAIL) {
        vigil_promql_result_free(r);
        fputs("expected failure did not happen", why);
        return false;
    }
    pt_sample *got = NULL;
    size_t n = 0;
    bool is_scalar = false;
    bool ok =
        instant_samples(r, &got, &n, &is_scalar, why) && pt_compare(ev, got, n, is_scalar, why);
    free(got);
    vigil_promql_result_free(r);
    return ok && check_range(db, ev, expr, t_ms, is_scalar, why);
}

static void print_time(FILE *f, int64_t ms)
{
    fprintf(f, "%s%lld.%03llds", ms < 0 ? "-" : "", (long long)(llabs(ms) / 1000),
            (long long)(llabs(ms) % 1000));
}

/* One @-modifier variant, its failure (if any) introduced by the rewritten query and time. */
static bool check_variant(vigil_tsdb *db, const pt_cmd *ev, const pt_variant *v, FILE *why)
{
    char *text = NULL;
    size_t len = 0;
    FILE *buf = open_memstream(&text, &len);
    if (!buf) {
        fputs("out of memory", why);
        return false;
    }
    bool ok = check_query(db, ev, v->expr, v->t_ms, buf);
    fclose(buf);
    if (!ok) {
        fprintf(why, "as `%s` at ", v->expr);
        print_time(why, v->t_ms);
        fprintf(why, ": %s", text);
    }
    free(text);
    return ok;
}

bool pt_eval_run(vigil_tsdb *db, const pt_cmd *ev, FILE *why)
{
    if (!check_query(db, ev, ev->expr, ev->t_ms, why))
        return false;
    pt_variant variants[5];
    size_t n = pt_at_variants(ev->expr, ev->t_ms, variants);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        ok = ok && check_variant(db, ev, &variants[i], why);
        free(variants[i].expr);
    }
    return ok;
}
