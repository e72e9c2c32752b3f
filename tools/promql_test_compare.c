/* promql_test_compare.c — does a query's result match what a script expects?
 *
 * The rules are test.go's (v2.42.0): a vector is compared as a set of label sets, each value
 * within a relative error of 1e-6 (almostEqual, with NaN equal to NaN), and under eval_ordered
 * each series must also sit at the position of its line. test.go stops at the first
 * difference; here every difference is listed (up to a cap), so one run shows the whole story,
 * in a fixed order: the result's series sorted by labels (in result order for eval_ordered),
 * then the expected series that never showed up, in script order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql_test.h"

/* Differences listed for one eval before the rest are only counted. */
#define PT_MAX_LISTED 10

/* test.go's relative tolerance, and the float64 below which differences count as absolute. */
static const double epsilon = 0.000001;
static const double min_normal = 2.2250738585072014e-308; /* 0x0010000000000000 */

bool pt_almost_equal(double a, double b)
{
    if (isnan(a) && isnan(b))
        return true;
    if (a == b)
        return true;
    double diff = fabs(a - b);
    if (a == 0 || b == 0 || diff < min_normal)
        return diff < epsilon * min_normal;
    return diff / (fabs(a) + fabs(b)) < epsilon;
}

typedef struct report {
    FILE *why;
    unsigned count;
} report;

/* Starts the next difference; false once the cap is reached (the caller then writes nothing). */
static bool next_difference(report *r)
{
    r->count++;
    if (r->count > PT_MAX_LISTED)
        return false;
    if (r->count > 1)
        fputs("; ", r->why);
    return true;
}

static void print_value(FILE *f, double v)
{
    char buf[40];
    pt_format_value(v, buf, sizeof buf);
    fputs(buf, f);
}

static int by_labels(const void *a, const void *b, void *samples)
{
    const pt_sample *base = samples;
    const pt_sample *x = &base[*(const size_t *)a], *y = &base[*(const size_t *)b];
    return pt_labels_compare(x->labels, x->nlabels, y->labels, y->nlabels);
}

static size_t find_expected(const pt_cmd *ev, const pt_sample *s)
{
    for (size_t k = 0; k < ev->nexpected; k++)
        if (pt_labels_compare(ev->expected[k].labels, ev->expected[k].nlabels, s->labels,
                              s->nlabels) == 0)
            return k;
    return ev->nexpected;
}

static void compare_one(const pt_cmd *ev, const pt_sample *s, size_t position, bool *seen,
                        report *r)
{
    size_t k = find_expected(ev, s);
    if (k == ev->nexpected) {
        if (next_difference(r)) {
            fputs("unexpected series ", r->why);
            pt_labels_print(r->why, s->labels, s->nlabels);
            fputc(' ', r->why);
            print_value(r->why, s->value);
        }
        return;
    }
    seen[k] = true;
    if (ev->mode == PT_EVAL_ORDERED && ev->positions[k] != position && next_difference(r)) {
        fputs("series ", r->why);
        pt_labels_print(r->why, s->labels, s->nlabels);
        fprintf(r->why, " at position %zu, expected at %zu", position, ev->positions[k]);
    }
    double want = ev->expected[k].values[0];
    if (!pt_almost_equal(want, s->value) && next_difference(r)) {
        fputs("value mismatch for ", r->why);
        pt_labels_print(r->why, s->labels, s->nlabels);
        fputs(": expected ", r->why);
        print_value(r->why, want);
        fputs(", got ", r->why);
        print_value(r->why, s->value);
    }
}

static void compare_vector(const pt_cmd *ev, const pt_sample *got, size_t n, report *r)
{
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    bool *seen = calloc(ev->nexpected ? ev->nexpected : 1, sizeof *seen);
    if (!order || !seen) {
        free(order);
        free(seen);
        if (next_difference(r))
            fputs("out of memory while comparing", r->why);
        return;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (ev->mode != PT_EVAL_ORDERED)
        qsort_r(order, n, sizeof *order, by_labels, (void *)got);
    for (size_t i = 0; i < n; i++)
        compare_one(ev, &got[order[i]], order[i] + 1, seen, r);
    for (size_t k = 0; k < ev->nexpected; k++)
        if (!seen[k] && next_difference(r)) {
            fputs("missing series ", r->why);
            pt_labels_print(r->why, ev->expected[k].labels, ev->expected[k].nlabels);
            fputc(' ', r->why);
            print_value(r->why, ev->expected[k].values[0]);
        }
    free(order);
    free(seen);
}

bool pt_compare(const pt_cmd *ev, const pt_sample *got, size_t n, bool is_scalar, FILE *why)
{
    report r = {why, 0};
    if (is_scalar) {
        double v = n ? got[0].value : NAN;
        if (!ev->expects_scalar) {
            if (next_difference(&r)) {
                fputs("expected a vector, got scalar ", why);
                print_value(why, v);
            }
        } else if (!pt_almost_equal(ev->scalar, v) && next_difference(&r)) {
            fputs("expected scalar ", why);
            print_value(why, ev->scalar);
            fputs(", got ", why);
            print_value(why, v);
        }
    } else if (ev->expects_scalar) {
        if (next_difference(&r)) {
            fputs("expected scalar ", why);
            print_value(why, ev->scalar);
            fprintf(why, ", got a vector of %zu series", n);
        }
    } else {
        compare_vector(ev, got, n, &r);
    }
    if (r.count > PT_MAX_LISTED)
        fprintf(why, "; and %u more differences", r.count - PT_MAX_LISTED);
    return r.count == 0;
}
