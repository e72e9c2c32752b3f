/* test_funcs_quantile.c — histogram_quantile's bucket interpolation with the cases of
 * Prometheus 2.42's histograms.test (its bucket series rebuilt at the evaluation time) and the
 * rules of quantile.go (sorting, the +Inf bucket, coalescing, monotonic counts, the lowest
 * bucket), and the value quantile of `quantile` / quantile_over_time, whose selection-based
 * ordering is checked against a full sort. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "promql/funcs.h"

static void assert_same(double expected, double actual)
{
    if (isnan(expected) && isnan(actual))
        return;
    if (memcmp(&expected, &actual, sizeof expected) != 0)
        fail_msg("expected %.17g, got %.17g", expected, actual);
}

static void assert_near(double expected, double actual)
{
    if (isinf(expected) || expected == 0 || isnan(expected)) {
        assert_same(expected, actual);
        return;
    }
    if (!(fabs(actual - expected) <= 1e-12 * fabs(expected)))
        fail_msg("expected %.17g, got %.17g", expected, actual);
}

/* histogram_quantile(q) of a copy of b, so every call sees the buckets as given. */
static double hq(double q, const pq_bucket *b, size_t n)
{
    pq_bucket copy[16];
    assert_true(n <= 16);
    memcpy(copy, b, n * sizeof *b);
    return vigil__pq_bucket_quantile(q, copy, n);
}

/* testhistogram_bucket at 50m: each bucket's `0+kx10` has reached 10k. Listed out of order,
 * as series arrive. */
static const pq_bucket positive[] = {{1, 110}, {0.1, 50}, {INFINITY, 120}, {0.2, 70}};
static const pq_bucket negative[] = {{0.3, 20}, {INFINITY, 30}, {-0.2, 10}, {-0.1, 20}};

static void histogram_quantile_as_in_histograms_test(void **state)
{
    (void)state;
    static const struct {
        double q, pos, neg;
    } cases[] = {
        {-0.1, -INFINITY, -INFINITY},
        {1.01, INFINITY, INFINITY},
        {NAN, NAN, NAN},
        {0, 0, -0.2},
        {1, 1, 0.3},
        {0.2, 0.048, -0.2},
        {0.5, 0.15, -0.15},
        {0.8, 0.72, 0.3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_near(cases[i].pos, hq(cases[i].q, positive, 4));
        assert_near(cases[i].neg, hq(cases[i].q, negative, 4));
    }
}

/* testhistogram2 at 7m (each `0+kx10` at its second sample, k): quantiles mid-bucket. */
static void histogram_quantile_in_the_middle_of_buckets(void **state)
{
    (void)state;
    static const pq_bucket b[] = {{0, 0}, {2, 1}, {4, 2}, {6, 3}, {INFINITY, 3}};
    assert_near(1, hq(1. / 6., b, 5));
    assert_near(3, hq(0.5, b, 5));
    assert_near(5, hq(5. / 6., b, 5));
}

/* By hand: 1 observation at or below 1, 2 more up to 2, 1 more above. */
static void histogram_quantile_interpolates_linearly_inside_a_bucket(void **state)
{
    (void)state;
    static const pq_bucket b[] = {{1, 1}, {2, 3}, {INFINITY, 4}};
    /* rank 2 is the first of the (1, 2] bucket's 2: halfway through it. */
    assert_same(1 + (2 - 1) * ((2.0 - 1) / (3 - 1)), hq(0.5, b, 3));
    /* rank 0.4 in the lowest bucket, which starts at 0 because its bound is positive. */
    assert_same(0 + (1 - 0) * (0.4 / 1), hq(0.1, b, 3));
    /* rank 3.96 is in the +Inf bucket: the largest finite bound is the answer. */
    assert_same(2, hq(0.99, b, 3));
}

static void histogram_quantile_needs_an_inf_bucket_and_observations(void **state)
{
    (void)state;
    static const pq_bucket no_inf[] = {{1, 1}, {2, 3}};
    static const pq_bucket only_inf[] = {{INFINITY, 3}};
    static const pq_bucket empty[] = {{1, 0}, {2, 0}, {INFINITY, 0}};
    assert_true(isnan(hq(0.5, no_inf, 2)));
    assert_true(isnan(hq(0.5, only_inf, 1)));
    assert_true(isnan(hq(0.5, empty, 3)));
    assert_true(isnan(vigil__pq_bucket_quantile(0.5, NULL, 0)));
    /* q out of range wins over malformed buckets, as the checks come first in Prometheus. */
    assert_same(INFINITY, hq(2, no_inf, 2));
    assert_same(-INFINITY, hq(-1, no_inf, 2));
}

/* mixed_bucket: 0.2 written three ways is one bucket; the counts add up (1 + 1 + 1 = 3) and
 * the +Inf bucket written twice is one too. */
static void buckets_with_equal_bounds_are_coalesced(void **state)
{
    (void)state;
    static const pq_bucket mixed[] = {{0.1, 1}, {0.2, 1}, {0.2, 1}, {0.2, 1}, {INFINITY, 4}};
    static const pq_bucket same_total[] = {{0.1, 1}, {0.2, 3}, {INFINITY, 4}};
    for (double q = 0; q <= 1; q += 0.125)
        assert_same(hq(q, same_total, 3), hq(q, mixed, 5));
    static const pq_bucket zeros[] = {{INFINITY, 0}, {INFINITY, 0}};
    assert_true(isnan(hq(0.5, zeros, 2)));
}

/* A count below the one before it (buckets scraped a moment apart) is raised to it. */
static void non_monotonic_counts_are_made_monotonic(void **state)
{
    (void)state;
    static const pq_bucket dip[] = {{1, 5}, {2, 3}, {3, 8}, {INFINITY, 10}};
    static const pq_bucket fixed[] = {{1, 5}, {2, 5}, {3, 8}, {INFINITY, 10}};
    for (double q = 0; q <= 1; q += 0.1)
        assert_same(hq(q, fixed, 4), hq(q, dip, 4));
    /* rank 5 is reached in the first bucket once the dip is raised to 5. */
    assert_same(1, hq(0.5, dip, 4));
}

static void the_lowest_bucket_has_no_lower_bound_when_not_positive(void **state)
{
    (void)state;
    static const pq_bucket b[] = {{-1, 2}, {0, 4}, {INFINITY, 4}};
    assert_same(-1, hq(0.25, b, 3));
    assert_same(-1, hq(0, b, 3));
    /* In the second bucket the first bound is the lower one: halfway from -1 to 0. */
    assert_same(-1 + (0 - -1) * ((3.0 - 2) / (4 - 2)), hq(0.75, b, 3));
}

/* --- the value quantile --------------------------------------------------------------------- */

static double vq(double q, const double *v, size_t n)
{
    double copy[64];
    assert_true(n <= 64);
    memcpy(copy, v, n * sizeof *v);
    return vigil__pq_quantile(q, copy, n);
}

static void quantile_interpolates_between_closest_ranks(void **state)
{
    (void)state;
    static const double v[] = {4, 0, 1};
    assert_same(0, vq(0, v, 3));
    assert_same(1, vq(0.5, v, 3));
    assert_same(1 * (1 - 0.5) + 4 * 0.5, vq(0.75, v, 3));
    assert_same(4, vq(1, v, 3));
    assert_same(-INFINITY, vq(-0.01, v, 3));
    assert_same(INFINITY, vq(1.01, v, 3));
    assert_true(isnan(vq(NAN, v, 3)));
    assert_true(isnan(vigil__pq_quantile(0.5, NULL, 0)));
    assert_same(7, vq(0.3, (const double[]){7}, 1));
}

/* Prometheus computes lower*(1-w) + upper*w even when w is 0, so an infinite value at or
 * next to an exact rank gives NaN (Inf * 0), even quantile 1 of a set holding +Inf. */
static void quantile_keeps_prometheus_s_arithmetic_with_infinities(void **state)
{
    (void)state;
    static const double v[] = {INFINITY, 1, 2};
    assert_true(isnan(vq(0.5, v, 3)));
    assert_true(isnan(vq(1, v, 3)));
    assert_same(1, vq(0, v, 3));
    static const double w[] = {-INFINITY, 1, 2};
    assert_same(-INFINITY, vq(0, w, 3));
    assert_same(-INFINITY, vq(0.25, w, 3));
}

/* NaN sorts below every number: it is the answer at the low ranks. */
static void nan_counts_as_the_smallest_value(void **state)
{
    (void)state;
    static const double v[] = {3, NAN, 1};
    assert_true(isnan(vq(0, v, 3)));
    assert_same(1 * (1 - 0.5) + 3 * 0.5, vq(0.75, v, 3));
    assert_same(3, vq(1, v, 3));
}

static int cmp_nan_first(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y))
        return isnan(y) - isnan(x);
    return (x > y) - (x < y);
}

/* Selection must give what Prometheus's full sort gives, whatever the order, duplicates and
 * NaNs: compare with a reference that sorts. */
static void quantile_agrees_with_a_full_sort(void **state)
{
    (void)state;
    uint64_t seed = 0x9E3779B97F4A7C15u;
    double v[64], sorted[64];
    for (int round = 0; round < 3000; round++) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        size_t n = 1 + (size_t)(seed >> 58); /* 1..64 */
        int kind = (int)((seed >> 40) & 3);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            uint32_t r = (uint32_t)(seed >> 32);
            if (kind == 0)
                v[i] = (double)(r % 7); /* many duplicates */
            else if (kind == 1)
                v[i] = (double)i; /* already sorted, as a counter's window */
            else if (kind == 2 && r % 17 == 0)
                v[i] = NAN;
            else
                v[i] = (double)r / 4096.0 - 500000.0;
        }
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        double q = (double)(seed >> 11) / 9007199254740992.0;
        memcpy(sorted, v, n * sizeof *v);
        qsort(sorted, n, sizeof *sorted, cmp_nan_first);
        double rank = q * (double)(n - 1);
        double lo = floor(rank), w = rank - floor(rank);
        size_t up = (size_t)lo + 1 < n ? (size_t)lo + 1 : n - 1;
        double want = sorted[(size_t)lo] * (1 - w) + sorted[up] * w;
        assert_same(want, vigil__pq_quantile(q, v, n));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(histogram_quantile_as_in_histograms_test),
        cmocka_unit_test(histogram_quantile_in_the_middle_of_buckets),
        cmocka_unit_test(histogram_quantile_interpolates_linearly_inside_a_bucket),
        cmocka_unit_test(histogram_quantile_needs_an_inf_bucket_and_observations),
        cmocka_unit_test(buckets_with_equal_bounds_are_coalesced),
        cmocka_unit_test(non_monotonic_counts_are_made_monotonic),
        cmocka_unit_test(the_lowest_bucket_has_no_lower_bound_when_not_positive),
        cmocka_unit_test(quantile_interpolates_between_closest_ranks),
        cmocka_unit_test(quantile_keeps_prometheus_s_arithmetic_with_infinities),
        cmocka_unit_test(nan_counts_as_the_smallest_value),
        cmocka_unit_test(quantile_agrees_with_a_full_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
