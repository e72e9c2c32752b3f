/* test_latency.c — the latency tracker: statistics against an exact computation (count, sum,
 * min, max exact; quantiles within the sketch's relative error of the sample at that rank), the
 * ns/µs helpers, the start/stop timer, rejected values, and a recent window that forgets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/sketch.h"
#include "vigil/track.h"

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The sample at rank floor(q (n - 1)) of sorted values: what the sketch promises to match. */
static double exact_quantile(const double *sorted, size_t n, double q)
{
    return sorted[(size_t)floor(q * (double)(n - 1))];
}

static void assert_within_rel(double got, double want)
{
    double tol = VIGIL_SKETCH_REL_ERROR * fabs(want) + 1e-15;
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (relative error %.3g%% allowed)", got, want,
                 VIGIL_SKETCH_REL_ERROR * 100);
}

static vigil_latency *new_latency(double window, unsigned buckets)
{
    vigil_latency_opts o;
    vigil_latency_opts_init(&o);
    o.window_seconds = window;
    o.window_buckets = buckets;
    vigil_latency *t = NULL;
    assert_int_equal(vigil_latency_new(&o, &t), VIGIL_OK);
    return t;
}

/* Deterministic xorshift so that the test data is the same on every run. */
static uint64_t rng_state = 88172645463325252ull;
static double uniform01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((double)(rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static void test_latency_stats_match_exact_computation(void **state)
{
    (void)state;
    enum { N = 20000 };
    double *v = malloc(N * sizeof *v);
    assert_non_null(v);
    vigil_latency *t = new_latency(0, 0);
    double sum = 0;
    for (size_t i = 0; i < N; i++) {
        /* log-normal around 2 ms with a heavy tail, plus a slow mode */
        double z = sqrt(-2 * log(uniform01())) * cos(6.283185307179586 * uniform01());
        v[i] = 0.002 * exp(0.8 * z) * (i % 50 == 0 ? 40.0 : 1.0);
        sum += v[i];
        vigil_latency_record(t, v[i]);
    }
    qsort(v, N, sizeof *v, cmp_double);

    vigil_latency_stats s;
    assert_int_equal(vigil_latency_read(t, VIGIL_SCOPE_ALL, &s), VIGIL_OK);
    assert_int_equal(s.count, N);
    assert_int_equal(vigil_latency_count(t), N);
    assert_true(fabs(s.sum - sum) <= 1e-9 * sum);
    assert_true(fabs(s.avg - sum / N) <= 1e-9 * sum / N);
    assert_true(fabs(vigil_latency_avg(t) - sum / N) <= 1e-9 * sum / N);
    assert_true(s.min == v[0] && vigil_latency_min(t) == v[0]);
    assert_true(s.max == v[N - 1] && vigil_latency_max(t) == v[N - 1]);
    assert_within_rel(s.p50, exact_quantile(v, N, 0.50));
    assert_within_rel(s.p95, exact_quantile(v, N, 0.95));
    assert_within_rel(s.p99, exact_quantile(v, N, 0.99));

    static const double qs[] = {0.999, 0.1, 0.75, 0.0, 1.0};
    double out[5];
    assert_int_equal(vigil_latency_quantiles(t, VIGIL_SCOPE_ALL, qs, 5, out), VIGIL_OK);
    for (int i = 0; i < 5; i++) {
        assert_within_rel(out[i], exact_quantile(v, N, qs[i]));
        assert_within_rel(vigil_latency_quantile(t, qs[i]), exact_quantile(v, N, qs[i]));
    }
    /* The recent window holds the same samples (they were all recorded just now). */
    vigil_latency_stats r;
    assert_int_equal(vigil_latency_read(t, VIGIL_SCOPE_RECENT, &r), VIGIL_OK);
    assert_int_equal(r.count, N);
    assert_within_rel(r.p99, exact_quantile(v, N, 0.99));
    assert_true(r.max == v[N - 1]);
    vigil_latency_free(t);
    free(v);
}

static void test_latency_ns_and_us_helpers_record_seconds(void **state)
{
    (void)state;
    vigil_latency *t = new_latency(0, 0);
    vigil_latency_record_us(t, 1500);
    vigil_latency_record_us(t, 2300);
    vigil_latency_record_us(t, 980);
    vigil_latency_record_us(t, 1200);
    vigil_latency_record_ns(t, 5500000);
    assert_int_equal(vigil_latency_count(t), 5);
    assert_true(vigil_latency_min(t) == 980e-6);
    assert_true(vigil_latency_max(t) == 5500e-6);
    assert_true(fabs(vigil_latency_avg(t) - 2296e-6) < 1e-12);
    /* sorted: 0.98 1.2 1.5 2.3 5.5 ms; p50 is rank 2, p95 and p99 rank 3 */
    assert_within_rel(vigil_latency_quantile(t, 0.5), 1500e-6);
    assert_within_rel(vigil_latency_quantile(t, 0.99), 2300e-6);
    assert_true(vigil_latency_quantile(t, 1.0) == 5500e-6);
    vigil_latency_free(t);
}

static void test_latency_one_sample_is_every_statistic(void **state)
{
    (void)state;
    vigil_latency *t = new_latency(0, 0);
    vigil_latency_record(t, 0.0421);
    vigil_latency_stats s;
    for (int scope = 0; scope < 2; scope++) {
        assert_int_equal(vigil_latency_read(t, (vigil_scope)scope, &s), VIGIL_OK);
        assert_int_equal(s.count, 1);
        assert_true(s.sum == 0.0421 && s.avg == 0.0421 && s.min == 0.0421 && s.max == 0.0421);
        /* quantiles are clamped to [min, max], so with one sample they are exact */
        assert_true(s.p50 == 0.0421 && s.p95 == 0.0421 && s.p99 == 0.0421);
    }
    vigil_latency_free(t);
}

static void test_latency_empty_reads_nan_with_zero_count(void **state)
{
    (void)state;
    vigil_latency *t = new_latency(0, 0);
    vigil_latency_stats s;
    for (int scope = 0; scope < 2; scope++) {
        assert_int_equal(vigil_latency_read(t, (vigil_scope)scope, &s), VIGIL_OK);
        assert_int_equal(s.count, 0);
        assert_true(isnan(s.sum) && isnan(s.avg) && isnan(s.min) && isnan(s.max));
        assert_true(isnan(s.p50) && isnan(s.p95) && isnan(s.p99));
    }
    assert_int_equal(vigil_latency_count(t), 0);
    assert_true(isnan(vigil_latency_avg(t)));
    assert_true(isnan(vigil_latency_quantile(t, 0.5)));
    assert_true(vigil_latency_window(t) == VIGIL_LATENCY_DEFAULT_WINDOW);
    vigil_latency_free(t);
}

static void test_latency_rejects_negative_nan_and_infinite(void **state)
{
    (void)state;
    vigil_latency *t = new_latency(0, 0);
    vigil_latency_record(t, -1);
    vigil_latency_record(t, NAN);
    vigil_latency_record(t, INFINITY);
    vigil_latency_record(t, 0);
    assert_int_equal(vigil_latency_count(t), 1);
    assert_int_equal(vigil_latency_rejected(t), 3);
    vigil_latency_stats r;
    assert_int_equal(vigil_latency_read(t, VIGIL_SCOPE_RECENT, &r), VIGIL_OK);
    assert_int_equal(r.count, 1);
    assert_true(r.max == 0);
    vigil_latency_free(t);
}

static void test_latency_huge_and_tiny_values_keep_exact_extremes(void **state)
{
    (void)state;
    vigil_latency *t = new_latency(0, 0);
    vigil_latency_record(t, 1e-9);
    vigil_latency_record(t, 86400.0 * 365);
    vigil_latency_record(t, 1e12);
    assert_true(vigil_latency_min(t) == 1e-9);
    assert_true(vigil_latency_max(t) == 1e12);
    assert_true(vigil_latency_quantile(t, 1.0) == 1e12);
    assert_within_rel(vigil_latency_quantile(t, 0.5), 86400.0 * 365);
    vigil_latency_free(t);
}

static void test_timer_stop_records_the_elapsed_time(void **state)
{
    (void)state;
    vigil_latency *t = new_latency(0, 0);
    vigil_timer timer = vigil_timer_start();
    sleep_s(0.002);
    double e = vigil_timer_stop(&timer, t);
    assert_true(e >= 0.002);
    assert_int_equal(vigil_latency_count(t), 1);
    assert_true(vigil_latency_min(t) == e);
    /* the timer is not consumed: elapsed keeps growing from the same start */
    assert_true(vigil_timer_elapsed(&timer) >= e);
    assert_true(vigil_timer_elapsed_ns(&timer) >= 2000000u);
    /* stop without a tracker only measures */
    double e2 = vigil_timer_stop(&timer, NULL);
    assert_true(e2 >= e);
    assert_int_equal(vigil_latency_count(t), 1);
    vigil_latency_free(t);
}

static void test_latency_recent_window_forgets_old_samples(void **state)
{
    (void)state;
    vigil_latency *t = new_latency(0.2, 4);
    for (int i = 0; i < 100; i++)
        vigil_latency_record(t, 0.001);
    vigil_latency_stats r;
    assert_int_equal(vigil_latency_read(t, VIGIL_SCOPE_RECENT, &r), VIGIL_OK);
    assert_int_equal(r.count, 100);

    sleep_s(0.3);
    assert_int_equal(vigil_latency_read(t, VIGIL_SCOPE_RECENT, &r), VIGIL_OK);
    assert_int_equal(r.count, 0);
    assert_true(isnan(r.p99));
    double q = 0;
    assert_int_equal(vigil_latency_quantiles(t, VIGIL_SCOPE_RECENT, (double[]){0.5}, 1, &q),
                     VIGIL_OK);
    assert_true(isnan(q));

    vigil_latency_record(t, 0.005);
    assert_int_equal(vigil_latency_read(t, VIGIL_SCOPE_RECENT, &r), VIGIL_OK);
    assert_int_equal(r.count, 1);
    assert_true(r.p50 == 0.005);
    /* all time still has everything */
    assert_int_equal(vigil_latency_count(t), 101);
    assert_true(vigil_latency_max(t) == 0.005);
    vigil_latency_free(t);
}

static void test_latency_rejects_bad_options(void **state)
{
    (void)state;
    vigil_latency_opts o;
    vigil_latency *t = NULL;
    vigil_latency_opts_init(&o);
    o.window_seconds = -1;
    assert_int_equal(vigil_latency_new(&o, &t), VIGIL_EINVAL);
    o.window_seconds = NAN;
    assert_int_equal(vigil_latency_new(&o, &t), VIGIL_EINVAL);
    o.window_seconds = 10;
    o.window_buckets = 61;
    assert_int_equal(vigil_latency_new(&o, &t), VIGIL_EINVAL);
    assert_null(t);
    assert_int_equal(vigil_latency_new(NULL, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_latency_new(NULL, &t), VIGIL_OK);
    vigil_latency_stats s;
    assert_int_equal(vigil_latency_read(t, (vigil_scope)7, &s), VIGIL_EINVAL);
    vigil_latency_free(t);
    vigil_latency_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_latency_stats_match_exact_computation),
        cmocka_unit_test(test_latency_ns_and_us_helpers_record_seconds),
        cmocka_unit_test(test_latency_one_sample_is_every_statistic),
        cmocka_unit_test(test_latency_empty_reads_nan_with_zero_count),
        cmocka_unit_test(test_latency_rejects_negative_nan_and_infinite),
        cmocka_unit_test(test_latency_huge_and_tiny_values_keep_exact_extremes),
        cmocka_unit_test(test_timer_stop_records_the_elapsed_time),
        cmocka_unit_test(test_latency_recent_window_forgets_old_samples),
        cmocka_unit_test(test_latency_rejects_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
