/* test_sketch.c — the quantile sketch (vigil/sketch.h) against exact answers.
 *
 * Accuracy is checked as a property: n samples from a seeded generator (splitmix64, never
 * rand()), sorted, and every reported quantile compared with the true samples at ranks
 * floor(q(n-1)) and ceil(q(n-1)); the reported value must be within (γ-1)/(γ+1) (+1e-12 for
 * floating-point slack; see BOUND on VIGIL_SKETCH_REL_ERROR) of one of them, and q = 0 / q = 1
 * must be exactly min / max.
 * The bucket index is compared with Prometheus's own schema-6 definition (its bounds table and
 * frexp) and with ceil(64 log2 v) in long double. Merging is compared bucket for bucket with the
 * sketch of the union, the classic-histogram export with counts taken from the raw samples, and
 * the movable window with streams that drift over 40 binary orders of magnitude.
 *
 * Sizes: the property tests use 10^6 samples per distribution in the plain build. The ASan+UBSan
 * copy (compiled with -fsanitize=address, so __SANITIZE_ADDRESS__ is defined) runs 10x-20x
 * slower and uses 10^5 samples, which keeps it well under a minute; the properties are the same.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/sketch.h"
#include "vigil/status.h"

#ifdef __SANITIZE_ADDRESS__
#define SAMPLES 100000
#define INDEX_VALUES 100000
#else
#define SAMPLES 1000000
#define INDEX_VALUES 1000000
#endif

#define K VIGIL_SKETCH_BUCKETS
/* The sketch's worst relative error, (γ-1)/(γ+1) for γ = 2^(1/64) = 0.00541516, plus rounding
 * slack. Not VIGIL_SKETCH_REL_ERROR: the header's 0.005415 is that rounded *down* by 1.6e-7,
 * and any value on a bucket's edge (every power of two, e.g. 0.5 or 1) is reported with the
 * full (γ-1)/(γ+1). The header constant needs to be 0.0054152. */
#define GAMMA 1.0108892860517005
#define BOUND ((GAMMA - 1) / (GAMMA + 1) + 1e-12)

/* --- helpers --------------------------------------------------------------------------------- */

static uint64_t rng_state;

static void seed(uint64_t s)
{
    rng_state = s;
}

static uint64_t next_u64(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unit(void) /* uniform in (0, 1) */
{
    return ((double)(next_u64() >> 11) + 0.5) * 0x1p-53;
}

static double normal(void)
{
    return sqrt(-2 * log(unit())) * cos(2 * M_PI * unit());
}

enum { UNIFORM, LOGNORMAL, PARETO, BIMODAL, CONSTANT, LOGUNIFORM_1NS_1DAY };

static double draw(int dist)
{
    switch (dist) {
    case UNIFORM: return 1000 * unit(); /* (0, 1000) */
    case LOGNORMAL:
        return exp(log(0.01) + 1.5 * normal());       /* median 10 ms, ~22 octaves over 10^6 */
    case PARETO: return 1e-3 / pow(unit(), 1 / 1.16); /* the "80/20" tail, x_m = 1 ms */
    case BIMODAL: /* 70 % fast around 1 ms, 30 % slow around 250 ms */
        return unit() < 0.7 ? exp(log(1e-3) + 0.1 * normal()) : exp(log(0.25) + 0.2 * normal());
    case CONSTANT: return 0.042;
    default: /* 1 ns .. 1 day in seconds: 46 octaves, wider than the window */
        return 1e-9 * exp(unit() * log(86400e9));
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static vigil_sketch *new_sketch(void)
{
    vigil_sketch *s = NULL;
    assert_int_equal(vigil_sketch_new(&s), VIGIL_OK);
    assert_non_null(s);
    return s;
}

/* Relative error of `got` against the better of the two samples the rank may mean. */
static double rank_error(const double *sorted, size_t n, double q, double got)
{
    double pos = q * (double)(n - 1);
    double lo = sorted[(size_t)floor(pos)], hi = sorted[(size_t)ceil(pos)];
    double e1 = lo == 0 ? (got == 0 ? 0 : INFINITY) : fabs(got - lo) / lo;
    double e2 = hi == 0 ? (got == 0 ? 0 : INFINITY) : fabs(got - hi) / hi;
    return e1 < e2 ? e1 : e2;
}

static void check_quantile(const char *what, const double *sorted, size_t n, double q, double got)
{
    if (q == 0) {
        if (got != sorted[0])
            fail_msg("%s: q=0 gave %.17g, min is %.17g", what, got, sorted[0]);
        return;
    }
    if (q == 1) {
        if (got != sorted[n - 1])
            fail_msg("%s: q=1 gave %.17g, max is %.17g", what, got, sorted[n - 1]);
        return;
    }
    double e = rank_error(sorted, n, q, got);
    if (!(e <= BOUND))
        fail_msg("%s: q=%g gave %.17g, true %.17g: relative error %.6g > %.6g", what, q, got,
                 sorted[(size_t)floor(q * (double)(n - 1))], e, BOUND);
}

/* Sum of the samples, compensated, in long double. */
static long double exact_sum(const double *v, size_t n)
{
    long double s = 0, c = 0;
    for (size_t i = 0; i < n; i++) {
        long double y = (long double)v[i] - c;
        long double t = s + y;
        c = (t - s) - y;
        s = t;
    }
    return s;
}

static void assert_sum_close(double got, long double want)
{
    long double err = fabsl((long double)got - want);
    if (!(err <= 1e-9L * fabsl(want)))
        fail_msg("sum %.17g, exact %.17Lg (relative error %Lg)", got, want, err / fabsl(want));
}

static const double QS[] = {0, 0.5, 0.9, 0.95, 0.99, 0.999, 1};
#define NQ (sizeof QS / sizeof QS[0])

/* Records n samples of a distribution; leaves them sorted in v. */
static vigil_sketch *fill(int dist, uint64_t s, double *v, size_t n)
{
    vigil_sketch *sk = new_sketch();
    seed(s);
    for (size_t i = 0; i < n; i++) {
        v[i] = draw(dist);
        vigil_sketch_record(sk, v[i]);
    }
    qsort(v, n, sizeof *v, cmp_double);
    return sk;
}

static void check_distribution(const char *name, int dist)
{
    double *v = malloc(SAMPLES * sizeof *v);
    assert_non_null(v);
    for (uint64_t s = 1; s <= 2; s++) {
        vigil_sketch *sk = fill(dist, s * 7919 + (uint64_t)dist, v, SAMPLES);
        assert_int_equal(vigil_sketch_count(sk), SAMPLES);
        assert_int_equal(vigil_sketch_rejected(sk), 0);
        assert_true(vigil_sketch_min(sk) == v[0]);
        assert_true(vigil_sketch_max(sk) == v[SAMPLES - 1]);
        assert_sum_close(vigil_sketch_sum(sk), exact_sum(v, SAMPLES));
        double got[NQ];
        vigil_sketch_quantiles(sk, QS, NQ, got);
        for (size_t k = 0; k < NQ; k++) {
            check_quantile(name, v, SAMPLES, QS[k], got[k]);
            assert_true(got[k] == vigil_sketch_quantile(sk, QS[k]));
        }
        vigil_sketch_free(sk);
    }
    free(v);
}

/* --- accuracy -------------------------------------------------------------------------------- */

static void test_sketch_quantiles_within_bound_uniform(void **state)
{
    (void)state;
    check_distribution("uniform", UNIFORM);
}

static void test_sketch_quantiles_within_bound_lognormal(void **state)
{
    (void)state;
    check_distribution("log-normal", LOGNORMAL);
}

static void test_sketch_quantiles_within_bound_pareto_heavy_tail(void **state)
{
    (void)state;
    check_distribution("pareto", PARETO);
}

static void test_sketch_quantiles_within_bound_bimodal(void **state)
{
    (void)state;
    check_distribution("bimodal", BIMODAL);
}

static void test_sketch_quantiles_exact_for_constant(void **state)
{
    (void)state;
    check_distribution("constant", CONSTANT);
    /* A constant stream is answered exactly: every quantile is clamped to [min, max]. */
    vigil_sketch *sk = new_sketch();
    vigil_sketch_record_n(sk, 0.042, 1000);
    for (size_t k = 0; k < NQ; k++)
        assert_true(vigil_sketch_quantile(sk, QS[k]) == 0.042);
    vigil_sketch_free(sk);
}

/* 1 ns .. 1 day is 46 octaves; the window holds 31 (K = 1984 buckets of 2^(1/64)). What holds:
 * every quantile whose true value lies above the collapse point max * 2^-(K-1)/64 (about
 * 4e-5 s here, i.e. q >= ~0.34 for this log-uniform stream), so all of q >= 0.5. The quantiles
 * below report the collapsed bucket: a value <= the collapse point. */
static void test_sketch_one_ns_to_one_day_keeps_upper_quantiles_in_bounded_memory(void **state)
{
    (void)state;
    assert_true(vigil_sketch_size() <= 16384);
    double *v = malloc(SAMPLES * sizeof *v);
    assert_non_null(v);
    vigil_sketch *sk = fill(LOGUNIFORM_1NS_1DAY, 1234, v, SAMPLES);
    assert_true(v[0] < 2e-9 && v[SAMPLES - 1] > 80000); /* the stream does span the range */
    assert_int_equal(vigil_sketch_count(sk), SAMPLES);
    assert_true(vigil_sketch_min(sk) == v[0]);
    assert_true(vigil_sketch_max(sk) == v[SAMPLES - 1]);
    assert_sum_close(vigil_sketch_sum(sk), exact_sum(v, SAMPLES));
    for (size_t k = 0; k < NQ; k++) {
        if (QS[k] == 0 || QS[k] >= 0.5)
            check_quantile("log-uniform 1ns..1day", v, SAMPLES, QS[k],
                           vigil_sketch_quantile(sk, QS[k]));
    }
    double collapse = vigil_sketch_bucket_upper(vigil_sketch_index(v[SAMPLES - 1]) - K + 1);
    int held = 0, collapsed = 0;
    double lowest_held = 1;
    for (int p = 1; p < 100; p++) {
        double q = p / 100.0, got = vigil_sketch_quantile(sk, q);
        double truth = v[(size_t)floor(q * (SAMPLES - 1))];
        if (truth > collapse) {
            check_quantile("log-uniform 1ns..1day", v, SAMPLES, q, got);
            held++;
            lowest_held = q < lowest_held ? q : lowest_held;
        } else {
            assert_true(got >= v[0] && got <= collapse * (1 + BOUND));
            collapsed++;
        }
    }
    print_message("1ns..1day: collapse point %.3g s; q >= %.2f within bound (%d of 99), %d "
                  "collapsed\n",
                  collapse, lowest_held, held, collapsed);
    assert_true(lowest_held <= 0.4);
    vigil_sketch_free(sk);
    free(v);
}

/* The bound is (γ-1)/(γ+1) and is reached: a sample on a bucket's upper edge, or just above its
 * lower edge, is reported at the bucket's centre (in relative terms). */
static void test_sketch_worst_case_error_is_gamma_bound(void **state)
{
    (void)state;
    const double gamma = exp2(1.0 / 64), exact = (gamma - 1) / (gamma + 1);
    assert_true(GAMMA == gamma);
    if (VIGIL_SKETCH_REL_ERROR < exact)
        print_message("note: VIGIL_SKETCH_REL_ERROR %.6g is below the reachable %.8g\n",
                      VIGIL_SKETCH_REL_ERROR, exact);
    double worst = 0;
    for (int32_t i = -200; i <= 200; i += 7) {
        vigil_sketch *sk = new_sketch();
        double low = nextafter(vigil_sketch_bucket_upper(i - 1), INFINITY);
        double high = vigil_sketch_bucket_upper(i);
        vigil_sketch_record(sk, vigil_sketch_bucket_upper(i - 3)); /* min, elsewhere */
        vigil_sketch_record_n(sk, low, 2);
        vigil_sketch_record(sk, vigil_sketch_bucket_upper(i + 3)); /* max, elsewhere */
        double e = fabs(vigil_sketch_quantile(sk, 0.5) - low) / low;
        assert_true(e <= exact + 1e-12);
        worst = e > worst ? e : worst;
        vigil_sketch_reset(sk);
        vigil_sketch_record(sk, vigil_sketch_bucket_upper(i - 3));
        vigil_sketch_record_n(sk, high, 2);
        vigil_sketch_record(sk, vigil_sketch_bucket_upper(i + 3));
        e = fabs(vigil_sketch_quantile(sk, 0.5) - high) / high;
        assert_true(e <= exact + 1e-12);
        worst = e > worst ? e : worst;
        vigil_sketch_free(sk);
    }
    assert_true(worst > exact - 1e-9); /* reached */
    assert_true(exact < 0.01);         /* the 1 % */
}

/* --- exact aggregates and edge cases --------------------------------------------------------- */

static void test_sketch_empty_gives_nan(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    assert_int_equal(vigil_sketch_count(sk), 0);
    assert_true(vigil_sketch_sum(sk) == 0);
    assert_true(isnan(vigil_sketch_min(sk)));
    assert_true(isnan(vigil_sketch_max(sk)));
    double got[NQ];
    vigil_sketch_quantiles(sk, QS, NQ, got);
    for (size_t k = 0; k < NQ; k++) {
        assert_true(isnan(got[k]));
        assert_true(isnan(vigil_sketch_quantile(sk, QS[k])));
    }
    /* Only rejected values: still empty. */
    vigil_sketch_record(sk, -1);
    assert_true(isnan(vigil_sketch_min(sk)) && isnan(vigil_sketch_quantile(sk, 0.5)));
    vigil_sketch_free(sk);
    vigil_sketch_free(NULL);
}

static void test_sketch_quantile_out_of_range_is_nan(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    vigil_sketch_record(sk, 1);
    vigil_sketch_record(sk, 2);
    assert_true(isnan(vigil_sketch_quantile(sk, -0.01)));
    assert_true(isnan(vigil_sketch_quantile(sk, 1.01)));
    assert_true(isnan(vigil_sketch_quantile(sk, NAN)));
    assert_true(vigil_sketch_quantile(sk, 0) == 1 && vigil_sketch_quantile(sk, 1) == 2);
    vigil_sketch_free(sk);
}

static void test_sketch_rejects_negative_nan_and_inf(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    vigil_sketch_record(sk, 1.5);
    vigil_sketch_record(sk, -1);
    vigil_sketch_record(sk, -1e-300);
    vigil_sketch_record(sk, NAN);
    vigil_sketch_record(sk, -NAN);
    vigil_sketch_record(sk, INFINITY);
    vigil_sketch_record(sk, -INFINITY);
    vigil_sketch_record_n(sk, -2, 10);
    assert_int_equal(vigil_sketch_rejected(sk), 6 + 10);
    assert_int_equal(vigil_sketch_count(sk), 1);
    assert_true(vigil_sketch_sum(sk) == 1.5);
    assert_true(vigil_sketch_min(sk) == 1.5 && vigil_sketch_max(sk) == 1.5);
    assert_true(vigil_sketch_quantile(sk, 0.5) == 1.5);
    vigil_sketch_free(sk);
}

static void test_sketch_counts_zero_values(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    vigil_sketch_record_n(sk, 0, 30);
    vigil_sketch_record(sk, -0.0); /* -0 is zero, and reported as +0 */
    for (int i = 1; i <= 69; i++)
        vigil_sketch_record(sk, i / 100.0);
    assert_int_equal(vigil_sketch_count(sk), 100);
    assert_int_equal(vigil_sketch_rejected(sk), 0);
    assert_true(vigil_sketch_min(sk) == 0 && !signbit(vigil_sketch_min(sk)));
    assert_true(vigil_sketch_max(sk) == 0.69);
    assert_true(vigil_sketch_quantile(sk, 0) == 0);
    assert_true(vigil_sketch_quantile(sk, 0.2) == 0);
    assert_true(vigil_sketch_quantile(sk, 0.3) == 0); /* rank 29: the 30th zero */
    double q5 = vigil_sketch_quantile(sk, 0.5);       /* rank 49: 0.19 */
    assert_true(fabs(q5 - 0.19) / 0.19 <= BOUND);
    /* Only zeros, the first of them -0. */
    vigil_sketch *z = new_sketch();
    vigil_sketch_record(z, -0.0);
    vigil_sketch_record_n(z, 0, 4);
    assert_int_equal(vigil_sketch_count(z), 5);
    assert_true(vigil_sketch_quantile(z, 0.5) == 0 && vigil_sketch_max(z) == 0);
    assert_true(!signbit(vigil_sketch_min(z)) && !signbit(vigil_sketch_max(z)));
    assert_true(vigil_sketch_sum(z) == 0 && !signbit(vigil_sketch_sum(z)));
    vigil_sketch_free(z);
    vigil_sketch_free(sk);
}

static void test_sketch_record_n_equals_repeated_record(void **state)
{
    (void)state;
    vigil_sketch *a = new_sketch(), *b = new_sketch();
    seed(99);
    for (int i = 0; i < 2000; i++) {
        double v = draw(LOGNORMAL);
        uint64_t n = 1 + next_u64() % 5;
        vigil_sketch_record_n(a, v, n);
        for (uint64_t k = 0; k < n; k++)
            vigil_sketch_record(b, v);
    }
    vigil_sketch_record_n(a, 3.0, 0); /* n = 0 records nothing, not even the extremes */
    vigil_sketch_record_n(a, 1e9, 0);
    assert_int_equal(vigil_sketch_count(a), vigil_sketch_count(b));
    assert_true(vigil_sketch_min(a) == vigil_sketch_min(b));
    assert_true(vigil_sketch_max(a) == vigil_sketch_max(b));
    assert_true(fabs(vigil_sketch_sum(a) - vigil_sketch_sum(b)) <= 1e-12 * vigil_sketch_sum(b));
    for (int p = 0; p <= 1000; p++)
        assert_true(vigil_sketch_quantile(a, p / 1000.0) == vigil_sketch_quantile(b, p / 1000.0));
    vigil_sketch_free(a);
    vigil_sketch_free(b);
}

static void test_sketch_reset_empties_and_reanchors(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    for (int i = 1; i <= 1000; i++)
        vigil_sketch_record(sk, 1e-6 * i);
    vigil_sketch_record(sk, -1);
    vigil_sketch_record(sk, 0);
    vigil_sketch_reset(sk);
    assert_int_equal(vigil_sketch_count(sk), 0);
    assert_int_equal(vigil_sketch_rejected(sk), 0);
    assert_true(vigil_sketch_sum(sk) == 0);
    assert_true(isnan(vigil_sketch_min(sk)) && isnan(vigil_sketch_max(sk)));
    assert_true(isnan(vigil_sketch_quantile(sk, 0.5)));
    /* A fresh window: values 2^40 times larger than before are all exact again. */
    double v[1000];
    for (int i = 0; i < 1000; i++) {
        v[i] = 1e6 * (i + 1);
        vigil_sketch_record(sk, v[i]);
    }
    vigil_sketch_record(sk, 10); /* 2^26.6 below the max: still inside one window */
    assert_int_equal(vigil_sketch_count(sk), 1001);
    assert_true(vigil_sketch_min(sk) == 10 && vigil_sketch_max(sk) == 1e9);
    assert_true(vigil_sketch_quantile(sk, 0.0005) == 10);                     /* rank 0 */
    assert_true(fabs(vigil_sketch_quantile(sk, 0.001) - 1e6) / 1e6 <= BOUND); /* rank 1 */
    assert_true(fabs(vigil_sketch_quantile(sk, 0.5) - 5e8) / 5e8 <= BOUND);
    vigil_sketch_free(sk);
}

static void test_sketch_quantiles_equal_repeated_quantile(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    seed(5);
    for (int i = 0; i < 100000; i++)
        vigil_sketch_record(sk, draw(i % 2 ? PARETO : BIMODAL));
    vigil_sketch_record_n(sk, 0, 100);
    enum { N = 1001 };
    double qs[N], got[N];
    for (int i = 0; i < N; i++)
        qs[i] = i / (double)(N - 1);
    vigil_sketch_quantiles(sk, qs, N, got);
    for (int i = 0; i < N; i++)
        assert_true(got[i] == vigil_sketch_quantile(sk, qs[i]));
    /* Non-decreasing in q. */
    for (int i = 1; i < N; i++)
        assert_true(got[i] >= got[i - 1]);
    vigil_sketch_free(sk);
}

/* --- index: Prometheus native histograms, schema 6 ------------------------------------------- */

/* client_golang's nativeHistogramBounds[6] (prometheus/histogram.go): the frexp fractions where
 * the 64 sub-buckets of an octave end. A value's index is SearchFloat64s(bounds, frac) +
 * (exp - 1) * 64 with frac, exp = Frexp(v). */
static const double PROM_SCHEMA6[64] = {
    0.5,
    0.5054446430258502,
    0.5109485743270583,
    0.5165124395106142,
    0.5221368912137069,
    0.5278225891802786,
    0.5335702003384117,
    0.5393803988785598,
    0.5452538663326288,
    0.5511912916539204,
    0.5571933712979462,
    0.5632608093041209,
    0.5693943173783458,
    0.5755946149764913,
    0.5818624293887887,
    0.5881984958251406,
    0.5946035575013605,
    0.6010783657263515,
    0.6076236799902344,
    0.6142402680534349,
    0.620928906036742,
    0.6276903785123455,
    0.6345254785958666,
    0.6414350080393891,
    0.6484197773255048,
    0.6554806057623822,
    0.6626183215798706,
    0.6698337620266515,
    0.6771277734684463,
    0.6845012114872953,
    0.6919549409819159,
    0.6994898362691555,
    0.7071067811865475,
    0.7148066691959849,
    0.7225904034885232,
    0.7304588970903234,
    0.7384130729697496,
    0.7464538641456323,
    0.7545822137967112,
    0.762799075372269,
    0.7711054127039704,
    0.7795022001189185,
    0.7879904225539431,
    0.7965710756711334,
    0.805245165974627,
    0.8140137109286738,
    0.8228777390769823,
    0.8318382901633681,
    0.8408964152537144,
    0.8500531768592616,
    0.8593096490612387,
    0.8686669176368529,
    0.8781260801866495,
    0.8876882462632604,
    0.8973545375015533,
    0.9071260877501991,
    0.9170040432046711,
    0.9269895625416926,
    0.9370838170551498,
    0.9472879907934827,
    0.9576032806985735,
    0.9680308967461471,
    0.9785720620876999,
    0.9892280131939752,
};

/* Prometheus's upper bound of bucket k, exactly (long double has the exponent range to scale
 * the table below the smallest normal double without rounding). */
static long double prom_upper(int32_t k)
{
    int32_t j = ((k % 64) + 64) % 64;
    int32_t e = (k - j) / 64;
    return ldexpl((long double)PROM_SCHEMA6[j] * 2, e);
}

/* The reference: ceil(64 log2 v) in long double, corrected at the boundaries. Prometheus's
 * bounds are doubles near 2^(k/64), not always the nearest (37 of the 64 are 1-2 ulps below the
 * correctly rounded value; prometheus_client for Python has yet other last digits), so a value
 * equal to a bound, or within 2 ulps of 2^(k/64), goes where Prometheus's bound puts it.
 * `adjusted` counts those corrections: they must stay rare and never exceed one bucket. */
static long adjusted;

static int32_t ref_index(double v)
{
    int32_t r = (int32_t)ceill(log2l((long double)v) * 64), r0 = r;
    if ((long double)v <= prom_upper(r - 1))
        r--;
    else if ((long double)v > prom_upper(r))
        r++;
    if (r != r0)
        adjusted++;
    assert_true((long double)v > prom_upper(r - 1) && (long double)v <= prom_upper(r));
    return r;
}

/* Prometheus's own computation: frexp and a binary search in the table. */
static int32_t prom_index(double v)
{
    int exp;
    double frac = frexp(v, &exp);
    int lo = 0, hi = 64;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (PROM_SCHEMA6[mid] < frac)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo + (exp - 1) * 64;
}

static void test_sketch_bucket_bounds_are_prometheus_schema6(void **state)
{
    (void)state;
    for (int j = 0; j < 64; j++) {
        if (vigil_sketch_bucket_upper(j) / 2 != PROM_SCHEMA6[j])
            fail_msg("bound %d: %.17g, Prometheus %.17g", j, vigil_sketch_bucket_upper(j) / 2,
                     PROM_SCHEMA6[j]);
    }
    /* Every normal-range bound is the table's times a power of two. */
    for (int32_t k = -1022 * 64; k < 1024 * 64; k++) {
        if ((long double)vigil_sketch_bucket_upper(k) != prom_upper(k))
            fail_msg("bucket_upper(%d) = %.17g, Prometheus %.17Lg", k, vigil_sketch_bucket_upper(k),
                     prom_upper(k));
    }
    assert_true(vigil_sketch_bucket_upper(0) == 1 && vigil_sketch_bucket_upper(64) == 2);
    assert_true(vigil_sketch_bucket_upper(-64) == 0.5);
}

static void check_index(double v)
{
    int32_t got = vigil_sketch_index(v), want = ref_index(v), prom = prom_index(v);
    if (got != want || got != prom)
        fail_msg("index(%.17g [%a]) = %d, reference %d, Prometheus %d", v, v, got, want, prom);
}

static void test_sketch_index_matches_prometheus_on_random_values(void **state)
{
    (void)state;
    seed(2024);
    for (int i = 0; i < INDEX_VALUES; i++) {
        /* Random bits: exponent uniform over subnormals .. 1e300, mantissa uniform. */
        uint64_t e = next_u64() % 1998; /* biased exponents 0 .. 1997 (2^974 ~ 1e293) */
        if (i % 16 == 0)
            e = next_u64() % 3; /* subnormals and the smallest normals, often */
        uint64_t bits = (e << 52) | (next_u64() & ((UINT64_C(1) << 52) - 1));
        double v;
        memcpy(&v, &bits, sizeof v);
        if (v == 0)
            continue;
        check_index(v);
        check_index(v * 1.0001 < 1e300 ? v * 1.0001 : v);
    }
    check_index(DBL_MIN);
    check_index(DBL_TRUE_MIN);
    check_index(nextafter(DBL_MIN, 0)); /* largest subnormal */
    check_index(1e300);
    check_index(DBL_MAX);
    assert_true(adjusted < INDEX_VALUES / 1000); /* the log was right but at the boundaries */
}

static void test_sketch_index_puts_each_boundary_in_its_bucket(void **state)
{
    (void)state;
    /* Normal range: v == bucket_upper(i) is in bucket i, the next double up in i + 1, the next
     * down in i. */
    const int32_t lo = -1022 * 64 + 1, hi = vigil_sketch_index(1e300);
    for (int32_t i = lo; i <= hi; i++) {
        double v = vigil_sketch_bucket_upper(i);
        if (vigil_sketch_index(v) != i)
            fail_msg("index(bucket_upper(%d) = %a) = %d", i, v, vigil_sketch_index(v));
        if (vigil_sketch_index(nextafter(v, INFINITY)) != i + 1)
            fail_msg("index(next above bucket_upper(%d)) = %d", i,
                     vigil_sketch_index(nextafter(v, INFINITY)));
        if (vigil_sketch_index(nextafter(v, 0)) != i)
            fail_msg("index(next below bucket_upper(%d)) = %d", i,
                     vigil_sketch_index(nextafter(v, 0)));
        if (i % 8 == 0) {
            check_index(v);
            check_index(nextafter(v, INFINITY));
            check_index(nextafter(v, 0));
        }
    }
    /* Subnormal range: bucket_upper(i) is rounded to the subnormal grid (as coarse as 2^-1074,
     * wider than many buckets), so it is not a boundary there; the index of those values still
     * agrees with Prometheus and with the reference. */
    for (int32_t i = vigil_sketch_index(DBL_TRUE_MIN); i < lo; i++) {
        double v = vigil_sketch_bucket_upper(i);
        if (v == 0)
            continue;
        check_index(v);
        check_index(nextafter(v, INFINITY));
    }
}

/* --- merge ----------------------------------------------------------------------------------- */

/* Equal bucket for bucket: the classic-histogram export at every bucket boundary from below
 * lowest to above highest (the positive values' range), plus count, min, max, rejected, 1000
 * quantiles; the sum up to floating-point addition order. */
static void assert_same_sketch(const vigil_sketch *a, const vigil_sketch *b, double lowest,
                               double highest)
{
    assert_int_equal(vigil_sketch_count(a), vigil_sketch_count(b));
    assert_int_equal(vigil_sketch_rejected(a), vigil_sketch_rejected(b));
    assert_true(vigil_sketch_min(a) == vigil_sketch_min(b));
    assert_true(vigil_sketch_max(a) == vigil_sketch_max(b));
    double sa = vigil_sketch_sum(a), sb = vigil_sketch_sum(b);
    assert_true(fabs(sa - sb) <= 1e-12 * fabs(sb));
    for (int p = 0; p <= 1000; p++) {
        double qa = vigil_sketch_quantile(a, p / 1000.0), qb = vigil_sketch_quantile(b, p / 1000.0);
        if (!(qa == qb))
            fail_msg("q=%g: %.17g vs %.17g", p / 1000.0, qa, qb);
    }
    int32_t lo = vigil_sketch_index(lowest) - 2, hi = vigil_sketch_index(highest) + 1;
    size_t n = (size_t)(hi - lo + 1);
    double *bounds = malloc(n * sizeof *bounds), *out = malloc(n * sizeof *out);
    uint64_t *ca = malloc(n * sizeof *ca), *cb = malloc(n * sizeof *cb);
    assert_true(bounds && out && ca && cb);
    for (size_t k = 0; k < n; k++)
        bounds[k] = vigil_sketch_bucket_upper(lo + (int32_t)k);
    assert_int_equal(vigil_sketch_to_histogram(a, bounds, n, out, ca), VIGIL_OK);
    assert_int_equal(vigil_sketch_to_histogram(b, bounds, n, out, cb), VIGIL_OK);
    for (size_t k = 0; k < n; k++) {
        if (ca[k] != cb[k])
            fail_msg("bucket %d: cumulative %llu vs %llu", lo + (int)k, (unsigned long long)ca[k],
                     (unsigned long long)cb[k]);
    }
    free(bounds);
    free(out);
    free(ca);
    free(cb);
}

static double log_uniform(double lo, double hi)
{
    return lo * exp(unit() * log(hi / lo));
}

/* a: values in [alo, ahi]; b: in [blo, bhi]; checks merge(a into b-copy), merge(b into a-copy),
 * merge of both into an empty sketch, all against sketches of the union in three orders. */
static void check_merge(double alo, double ahi, double blo, double bhi, size_t n)
{
    double *av = malloc(n * sizeof *av), *bv = malloc(n * sizeof *bv);
    assert_true(av && bv);
    seed((uint64_t)(alo * 1e9) + n);
    for (size_t i = 0; i < n; i++) {
        av[i] = log_uniform(alo, ahi);
        bv[i] = log_uniform(blo, bhi);
    }
    vigil_sketch *a = new_sketch(), *b = new_sketch();
    vigil_sketch *ab = new_sketch(), *ba = new_sketch(), *mix = new_sketch();
    for (size_t i = 0; i < n; i++) {
        vigil_sketch_record(a, av[i]);
        vigil_sketch_record(b, bv[i]);
        vigil_sketch_record(mix, i % 2 ? av[i] : bv[i]);
        vigil_sketch_record(mix, i % 2 ? bv[i] : av[i]);
    }
    vigil_sketch_record_n(a, 0, 3);
    vigil_sketch_record(b, -1);
    vigil_sketch_record_n(mix, 0, 3);
    vigil_sketch_record(mix, -1);
    for (size_t i = 0; i < n; i++)
        vigil_sketch_record(ab, av[i]);
    for (size_t i = 0; i < n; i++)
        vigil_sketch_record(ab, bv[i]);
    for (size_t i = 0; i < n; i++)
        vigil_sketch_record(ba, bv[i]);
    for (size_t i = 0; i < n; i++)
        vigil_sketch_record(ba, av[i]);
    vigil_sketch_record_n(ab, 0, 3);
    vigil_sketch_record(ab, -1);
    vigil_sketch_record_n(ba, 0, 3);
    vigil_sketch_record(ba, -1);
    const double lowest = alo < blo ? alo : blo, highest = ahi > bhi ? ahi : bhi;
    /* The sketch of the union does not depend on the order of the stream. */
    assert_same_sketch(ab, ba, lowest, highest);
    assert_same_sketch(ab, mix, lowest, highest);

    vigil_sketch *into_a = new_sketch(), *into_b = new_sketch(), *into_empty = new_sketch();
    assert_int_equal(vigil_sketch_merge(into_a, a), VIGIL_OK); /* a copy of a */
    assert_same_sketch(into_a, a, lowest, highest);
    assert_int_equal(vigil_sketch_merge(into_a, b), VIGIL_OK);
    assert_int_equal(vigil_sketch_merge(into_b, b), VIGIL_OK);
    assert_int_equal(vigil_sketch_merge(into_b, a), VIGIL_OK);
    assert_int_equal(vigil_sketch_merge(into_empty, b), VIGIL_OK);
    assert_int_equal(vigil_sketch_merge(into_empty, a), VIGIL_OK);
    assert_same_sketch(into_a, ab, lowest, highest);
    assert_same_sketch(into_b, ab, lowest, highest);
    assert_same_sketch(into_empty, ab, lowest, highest);
    /* The source is unchanged. */
    assert_int_equal(vigil_sketch_count(a), n + 3);
    vigil_sketch *sketches[] = {a, b, ab, ba, mix, into_a, into_b, into_empty};
    for (size_t i = 0; i < sizeof sketches / sizeof *sketches; i++)
        vigil_sketch_free(sketches[i]);
    free(av);
    free(bv);
}

static void test_sketch_merge_equals_union_overlapping(void **state)
{
    (void)state;
    check_merge(1e-3, 10, 0.5, 100, 20000);
}

static void test_sketch_merge_equals_union_disjoint_windows(void **state)
{
    (void)state;
    /* 1e-6..1 and 1e3..1e6: each fits a window, the union (40 octaves) does not. */
    check_merge(1e-6, 1, 1e3, 1e6, 20000);
    /* Each wider than half a window, the union within one: nothing may collapse. */
    check_merge(1e-6, 1e-1, 1e-3, 1e2, 20000);
}

static void test_sketch_merge_from_empty_and_into_self(void **state)
{
    (void)state;
    vigil_sketch *a = new_sketch(), *e = new_sketch();
    vigil_sketch_record(a, 2);
    assert_int_equal(vigil_sketch_merge(a, e), VIGIL_OK);
    assert_int_equal(vigil_sketch_count(a), 1);
    assert_true(vigil_sketch_min(a) == 2 && vigil_sketch_max(a) == 2);
    assert_int_equal(vigil_sketch_merge(a, a), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_merge(NULL, a), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_merge(a, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_merge(e, e), VIGIL_EINVAL);
    vigil_sketch_free(a);
    vigil_sketch_free(e);
}

/* --- classic histogram export ---------------------------------------------------------------- */

static uint64_t count_le(const double *sorted, size_t n, double bound)
{
    size_t lo = 0, hi = n; /* first index with sorted[i] > bound */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sorted[mid] <= bound)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void test_sketch_to_histogram_counts_exactly_at_snapped_bounds(void **state)
{
    (void)state;
    enum { N = 200000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    vigil_sketch *sk = new_sketch();
    seed(77);
    for (size_t i = 0; i < N; i++) {
        v[i] = i % 100 == 0 ? 0 : draw(i % 3 ? LOGNORMAL : BIMODAL);
        if (i % 1000 == 1)
            v[i] = vigil_sketch_bucket_upper(vigil_sketch_index(v[i])); /* on a boundary */
        vigil_sketch_record(sk, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_double);
    const double req[] = {1e-5,
                          1e-4,
                          5e-4,
                          1e-3,
                          0.0011,
                          0.005,
                          0.01,
                          0.025,
                          0.05,
                          0.1,
                          0.25,
                          0.5,
                          1,
                          2.5,
                          5,
                          10,
                          vigil_sketch_bucket_upper(400),
                          1e4};
    const size_t n = sizeof req / sizeof *req;
    double out[sizeof req / sizeof *req];
    uint64_t cum[sizeof req / sizeof *req];
    assert_int_equal(vigil_sketch_to_histogram(sk, req, n, out, cum), VIGIL_OK);
    const double gamma = exp2(1.0 / 64);
    for (size_t i = 0; i < n; i++) {
        /* Snapped up to the boundary of the bucket holding the request. */
        assert_true(out[i] >= req[i] && out[i] < req[i] * gamma);
        assert_true(out[i] == vigil_sketch_bucket_upper(vigil_sketch_index(req[i])));
        if (cum[i] != count_le(v, N, out[i]))
            fail_msg("le=%.17g: %llu, exact %llu", out[i], (unsigned long long)cum[i],
                     (unsigned long long)count_le(v, N, out[i]));
    }
    assert_true(out[n - 2] == req[n - 2] && out[2] > req[2]); /* on a boundary: unchanged */
    assert_true(cum[0] >= N / 100);                           /* the zeros */
    assert_int_equal(vigil_sketch_to_histogram(sk, NULL, 0, NULL, NULL), VIGIL_OK);
    /* Empty sketch: all zero. */
    vigil_sketch *e = new_sketch();
    assert_int_equal(vigil_sketch_to_histogram(e, req, n, out, cum), VIGIL_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(cum[i], 0);
    vigil_sketch_free(e);
    vigil_sketch_free(sk);
    free(v);
}

static void test_sketch_to_histogram_rejects_bad_bounds(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    vigil_sketch_record(sk, 1);
    double out[3];
    uint64_t cum[3];
    const double bad[][3] = {
        {0, 1, 2},
        {-1, 1, 2},
        {1, NAN, 2},
        {1, 2, INFINITY},
        {1, 2, 2},
        {1, 3, 2},
        {1e-3, 1.001, 1.0005},
        {1.0005, 1.001, 2}, /* increasing, but both in bucket 1: `le` would repeat */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (vigil_sketch_to_histogram(sk, bad[i], 3, out, cum) != VIGIL_EBUCKETS)
            fail_msg("bounds set %zu accepted", i);
    }
    const double good[3] = {0.5, 1, 2};
    assert_int_equal(vigil_sketch_to_histogram(sk, good, 3, NULL, cum), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_to_histogram(sk, good, 3, out, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_to_histogram(sk, NULL, 3, out, cum), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_to_histogram(sk, good, 3, out, cum), VIGIL_OK);
    assert_true(cum[0] == 0 && cum[1] == 1 && cum[2] == 1);
    vigil_sketch_free(sk);
}

/* --- the movable window ---------------------------------------------------------------------- */

/* A stream drifting across 40 octaves: count, min, max stay exact, and every quantile whose true
 * value is above the collapse point (max / 2^31) stays within the bound; below it the answer is
 * the collapsed bucket. */
static void check_drift(int direction)
{
    enum { N = SAMPLES / 2 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    vigil_sketch *sk = new_sketch();
    seed(31 + (uint64_t)direction);
    for (size_t i = 0; i < N; i++) {
        double t = (double)i / N; /* 0 .. 1 over the stream */
        double octave = direction > 0 ? -20 + 40 * t : 20 - 40 * t;
        v[i] = exp2(octave + 0.5 * (unit() - 0.5)); /* noisy, so the window also moves back */
        vigil_sketch_record(sk, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_double);
    assert_int_equal(vigil_sketch_count(sk), N);
    assert_true(vigil_sketch_min(sk) == v[0] && vigil_sketch_max(sk) == v[N - 1]);
    assert_sum_close(vigil_sketch_sum(sk), exact_sum(v, N));
    for (size_t k = 0; k < NQ; k++) {
        if (QS[k] == 0 || QS[k] >= 0.5)
            check_quantile(direction > 0 ? "rising" : "falling", v, N, QS[k],
                           vigil_sketch_quantile(sk, QS[k]));
    }
    double collapse = vigil_sketch_bucket_upper(vigil_sketch_index(v[N - 1]) - K + 1);
    int collapsed = 0;
    for (int p = 1; p < 1000; p++) {
        double q = p / 1000.0, got = vigil_sketch_quantile(sk, q);
        if (v[(size_t)floor(q * (N - 1))] > collapse) {
            check_quantile("drift", v, N, q, got);
        } else {
            assert_true(got >= v[0] && got <= collapse * (1 + BOUND));
            collapsed++;
        }
    }
    /* Only the lowest ~9 of the 40 octaves collapse (plus the noise): q < ~0.25. */
    assert_true(collapsed > 150 && collapsed < 300);
    vigil_sketch_free(sk);
    free(v);
}

static void test_sketch_window_follows_rising_stream(void **state)
{
    (void)state;
    check_drift(+1);
}

static void test_sketch_window_follows_falling_stream(void **state)
{
    (void)state;
    check_drift(-1);
}

static void test_sketch_wide_stream_collapses_only_the_low_end(void **state)
{
    (void)state;
    vigil_sketch *sk = new_sketch();
    /* 1e-12 .. 1e12 (80 octaves), ten values per bucket-ish, in random order. */
    enum { N = 200000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    seed(8);
    for (size_t i = 0; i < N; i++) {
        v[i] = log_uniform(1e-12, 1e12);
        vigil_sketch_record(sk, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_double);
    assert_int_equal(vigil_sketch_count(sk), N);
    double collapse = vigil_sketch_bucket_upper(vigil_sketch_index(v[N - 1]) - K + 1);
    /* The window is exactly the top K buckets: the last collapsed bucket ends ~2^31 below max. */
    assert_true(collapse < v[N - 1] * 0x1p-30 && collapse > v[N - 1] * 0x1p-32);
    uint64_t below = count_le(v, N, collapse);
    double out;
    uint64_t cum;
    assert_int_equal(vigil_sketch_to_histogram(sk, &collapse, 1, &out, &cum), VIGIL_OK);
    assert_int_equal(cum, below); /* exact at and above the collapse point */
    for (int p = 1; p < 100; p++) {
        double q = p / 100.0, got = vigil_sketch_quantile(sk, q);
        if (v[(size_t)floor(q * (N - 1))] > collapse)
            check_quantile("wide", v, N, q, got);
        else
            assert_true(got <= collapse * (1 + BOUND));
    }
    assert_true(vigil_sketch_quantile(sk, 0) == v[0]);
    vigil_sketch_free(sk);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_quantiles_within_bound_uniform),
        cmocka_unit_test(test_sketch_quantiles_within_bound_lognormal),
        cmocka_unit_test(test_sketch_quantiles_within_bound_pareto_heavy_tail),
        cmocka_unit_test(test_sketch_quantiles_within_bound_bimodal),
        cmocka_unit_test(test_sketch_quantiles_exact_for_constant),
        cmocka_unit_test(test_sketch_one_ns_to_one_day_keeps_upper_quantiles_in_bounded_memory),
        cmocka_unit_test(test_sketch_worst_case_error_is_gamma_bound),
        cmocka_unit_test(test_sketch_empty_gives_nan),
        cmocka_unit_test(test_sketch_quantile_out_of_range_is_nan),
        cmocka_unit_test(test_sketch_rejects_negative_nan_and_inf),
        cmocka_unit_test(test_sketch_counts_zero_values),
        cmocka_unit_test(test_sketch_record_n_equals_repeated_record),
        cmocka_unit_test(test_sketch_reset_empties_and_reanchors),
        cmocka_unit_test(test_sketch_quantiles_equal_repeated_quantile),
        cmocka_unit_test(test_sketch_bucket_bounds_are_prometheus_schema6),
        cmocka_unit_test(test_sketch_index_matches_prometheus_on_random_values),
        cmocka_unit_test(test_sketch_index_puts_each_boundary_in_its_bucket),
        cmocka_unit_test(test_sketch_merge_equals_union_overlapping),
        cmocka_unit_test(test_sketch_merge_equals_union_disjoint_windows),
        cmocka_unit_test(test_sketch_merge_from_empty_and_into_self),
        cmocka_unit_test(test_sketch_to_histogram_counts_exactly_at_snapped_bounds),
        cmocka_unit_test(test_sketch_to_histogram_rejects_bad_bounds),
        cmocka_unit_test(test_sketch_window_follows_rising_stream),
        cmocka_unit_test(test_sketch_window_follows_falling_stream),
        cmocka_unit_test(test_sketch_wide_stream_collapses_only_the_low_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
