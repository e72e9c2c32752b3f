/* test_sketch_window.c — sliding windows of sketches (vigil_sketch_window).
 *
 * Time-based, but no test asserts a duration: values must be present when read right after
 * they were recorded (well inside max_age - period, the least history a read covers), and gone
 * after twice max_age. Each check allows a generous margin and, where a loaded machine could
 * stretch the time between record and read past the window, measures it and skips the
 * exactness check instead of failing (saying so). Sleeps are the only waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "vigil/sketch.h"
#include "vigil/status.h"

/* The sketch's worst relative error, (γ-1)/(γ+1) for γ = 2^(1/64) = 0.00541516, plus rounding
 * slack. Not VIGIL_SKETCH_REL_ERROR: the header's 0.005415 is that rounded *down* by 1.6e-7,
 * and any value on a bucket's edge (every power of two, e.g. 0.5 or 1) is reported with the
 * full (γ-1)/(γ+1). The header constant needs to be 0.0054152. */
#define GAMMA 1.0108892860517005
#define BOUND ((GAMMA - 1) / (GAMMA + 1) + 1e-12)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static vigil_sketch *new_sketch(void)
{
    vigil_sketch *s = NULL;
    assert_int_equal(vigil_sketch_new(&s), VIGIL_OK);
    return s;
}

static vigil_sketch_window *new_window(double max_age, unsigned buckets)
{
    vigil_sketch_window *w = NULL;
    assert_int_equal(vigil_sketch_window_new(max_age, buckets, &w), VIGIL_OK);
    assert_non_null(w);
    return w;
}

static void test_sketch_window_rejects_invalid_arguments(void **state)
{
    (void)state;
    vigil_sketch_window *w = (vigil_sketch_window *)&w; /* must stay untouched on error */
    vigil_sketch_window *const sentinel = w;
    assert_int_equal(vigil_sketch_window_new(0, 4, &w), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_window_new(-1, 4, &w), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_window_new(NAN, 4, &w), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_window_new(INFINITY, 4, &w), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_window_new(10, 0, &w), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_window_new(10, 61, &w), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_window_new(10, 4, NULL), VIGIL_EINVAL);
    assert_ptr_equal(w, sentinel);
    assert_int_equal(vigil_sketch_window_new(10, 60, &w), VIGIL_OK); /* the edges are valid */
    vigil_sketch_window_free(w);
    assert_int_equal(vigil_sketch_window_new(1e-3, 1, &w), VIGIL_OK);
    vigil_sketch *out = new_sketch();
    assert_int_equal(vigil_sketch_window_read(NULL, out), VIGIL_EINVAL);
    assert_int_equal(vigil_sketch_window_read(w, NULL), VIGIL_EINVAL);
    vigil_sketch_window_free(w);
    vigil_sketch_window_free(NULL);
    vigil_sketch_free(out);
}

static void test_sketch_window_has_values_right_after_recording(void **state)
{
    (void)state;
    vigil_sketch_window *w = new_window(0.4, 4);
    vigil_sketch *out = new_sketch();
    /* An empty window reads as an empty sketch. */
    assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
    assert_int_equal(vigil_sketch_count(out), 0);
    assert_true(isnan(vigil_sketch_quantile(out, 0.5)));

    double t0 = now_s();
    for (int i = 1; i <= 1000; i++)
        vigil_sketch_window_record(w, i * 1e-3);
    vigil_sketch_window_record(w, -1); /* rejected, and counted as such */
    vigil_sketch_window_record(w, 0);
    assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
    double elapsed = now_s() - t0;
    if (elapsed > 0.25) {
        print_message("skipped: %.3f s between record and read (window 0.4 s)\n", elapsed);
    } else {
        assert_int_equal(vigil_sketch_count(out), 1001);
        assert_int_equal(vigil_sketch_rejected(out), 1);
        assert_true(vigil_sketch_min(out) == 0 && vigil_sketch_max(out) == 1.0);
        assert_true(fabs(vigil_sketch_quantile(out, 0.5) - 0.5) / 0.5 <= BOUND);
        assert_true(fabs(vigil_sketch_sum(out) - 500.5) <= 1e-9);
    }
    /* `out` is emptied by every read, not accumulated into. */
    assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
    assert_true(vigil_sketch_count(out) <= 1001);
    vigil_sketch_window_free(w);
    vigil_sketch_free(out);
}

static void test_sketch_window_forgets_values_after_max_age(void **state)
{
    (void)state;
    vigil_sketch_window *w = new_window(0.4, 4);
    vigil_sketch *out = new_sketch();
    for (int i = 0; i < 100; i++)
        vigil_sketch_window_record(w, 5.0);
    sleep_s(0.8); /* 2 x max_age */
    assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
    assert_int_equal(vigil_sketch_count(out), 0);
    assert_true(isnan(vigil_sketch_quantile(out, 0.99)));
    /* New values after the gap are there, the old ones still not. */
    double t0 = now_s();
    for (int i = 0; i < 10; i++)
        vigil_sketch_window_record(w, 7.0);
    assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
    if (now_s() - t0 <= 0.25) {
        assert_int_equal(vigil_sketch_count(out), 10);
        assert_true(vigil_sketch_quantile(out, 0) == 7.0);
    }
    sleep_s(0.8);
    assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
    assert_int_equal(vigil_sketch_count(out), 0);
    vigil_sketch_window_free(w);
    vigil_sketch_free(out);
}

/* A record after an idle period claims (resets) its period's sketch on first use; values from
 * before the gap that are still inside the window survive it. */
static void test_sketch_window_keeps_values_across_an_idle_period(void **state)
{
    (void)state;
    vigil_sketch_window *w = new_window(2.0, 4); /* periods of 0.5 s; reads cover >= 1.5 s */
    vigil_sketch *out = new_sketch();
    double t0 = now_s();
    vigil_sketch_window_record(w, 1.0);
    sleep_s(0.6); /* at least one period boundary with no record */
    vigil_sketch_window_record(w, 2.0);
    sleep_s(0.6);
    vigil_sketch_window_record(w, 3.0);
    assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
    double elapsed = now_s() - t0;
    if (elapsed > 1.45) {
        print_message("skipped: %.3f s between first record and read (window >= 1.5 s)\n", elapsed);
    } else {
        assert_int_equal(vigil_sketch_count(out), 3);
        assert_true(vigil_sketch_min(out) == 1.0 && vigil_sketch_max(out) == 3.0);
    }
    vigil_sketch_window_free(w);
    vigil_sketch_free(out);
}

/* --- concurrent records across period boundaries --------------------------------------------- */

#define THREADS 4

typedef struct recorder {
    vigil_sketch_window *w;
    double until; /* stop recording at this time */
    uint64_t recorded;
    pthread_barrier_t *start;
} recorder;

static void *record_until(void *p)
{
    recorder *r = p;
    pthread_barrier_wait(r->start);
    uint64_t n = 0;
    while (n % 256 != 0 || now_s() < r->until) {
        vigil_sketch_window_record(r->w, 1e-4 * (double)(1 + n % 10000));
        n++;
    }
    r->recorded = n;
    return NULL;
}

/* Four threads record for 0.45 s into a window of 2 s in periods of 0.1 s (so across four or
 * five period boundaries, each claimed by whichever thread gets there first, while the others
 * keep recording); read right after, every value must be there. Then threads start together
 * after an idle gap, so that the first records of a period race its reset. */
static void test_sketch_window_concurrent_records_lose_nothing_in_window(void **state)
{
    (void)state;
    vigil_sketch_window *w = new_window(2.0, 20);
    vigil_sketch *out = new_sketch();
    for (int round = 0; round < 2; round++) {
        if (round == 1)
            sleep_s(2.2); /* everything expired; the ring's sketches hold stale periods */
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, THREADS + 1);
        double t0 = now_s();
        recorder r[THREADS];
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++) {
            r[i] = (recorder){w, t0 + 0.45, 0, &start};
            assert_int_equal(pthread_create(&t[i], NULL, record_until, &r[i]), 0);
        }
        pthread_barrier_wait(&start);
        uint64_t total = 0;
        for (int i = 0; i < THREADS; i++) {
            assert_int_equal(pthread_join(t[i], NULL), 0);
            total += r[i].recorded;
        }
        pthread_barrier_destroy(&start);
        assert_int_equal(vigil_sketch_window_read(w, out), VIGIL_OK);
        double elapsed = now_s() - t0;
        if (elapsed > 1.7) {
            print_message("skipped: %.3f s of recording and reading (window >= 1.9 s)\n", elapsed);
            continue;
        }
        if (vigil_sketch_count(out) != total)
            fail_msg("round %d: window holds %llu of %llu values recorded in %.3f s", round,
                     (unsigned long long)vigil_sketch_count(out), (unsigned long long)total,
                     elapsed);
        assert_true(vigil_sketch_min(out) == 1e-4 * 1.0 && vigil_sketch_max(out) == 1e-4 * 10000.0);
        print_message("round %d: %llu values over %.2f s, all in the window\n", round,
                      (unsigned long long)total, elapsed);
    }
    vigil_sketch_window_free(w);
    vigil_sketch_free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sketch_window_rejects_invalid_arguments),
        cmocka_unit_test(test_sketch_window_has_values_right_after_recording),
        cmocka_unit_test(test_sketch_window_forgets_values_after_max_age),
        cmocka_unit_test(test_sketch_window_keeps_values_across_an_idle_period),
        cmocka_unit_test(test_sketch_window_concurrent_records_lose_nothing_in_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
