/* test_throughput.c — the throughput tracker on a fake clock: total and average since start,
 * ops/s over the last N seconds (current partial second included), idle gaps that read as 0
 * (a slot reused a ring later is never taken for the current second), windows up to 300 s and
 * beyond, and the ring's stale-writer and saturation rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "track/track_int.h"
#include "vigil/track.h"

#define SEC 1000000000ull

typedef struct fake_clock {
    uint64_t ns;
} fake_clock;

static uint64_t fake_now(void *user)
{
    return ((fake_clock *)user)->ns;
}

static vigil_throughput *new_tp(fake_clock *clk, unsigned window)
{
    vigil_throughput_opts o;
    vigil_throughput_opts_init(&o);
    o.clock = fake_now;
    o.clock_user = clk;
    o.window_seconds = window;
    vigil_throughput *t = NULL;
    assert_int_equal(vigil_throughput_new(&o, &t), VIGIL_OK);
    return t;
}

static void assert_close(double got, double want)
{
    if (!(fabs(got - want) <= 1e-9 * fabs(want) + 1e-12))
        fail_msg("got %.17g, want %.17g", got, want);
}

static void test_throughput_total_and_average_since_start(void **state)
{
    (void)state;
    fake_clock clk = {777 * SEC}; /* any epoch: time counts from creation */
    vigil_throughput *t = new_tp(&clk, 0);
    assert_true(vigil_throughput_rate(t) == 0.0); /* no time has passed */
    for (int i = 0; i < 1000; i++) {
        clk.ns += SEC / 100;
        vigil_throughput_record(t);
    }
    assert_int_equal(vigil_throughput_total(t), 1000);
    assert_close(vigil_throughput_uptime(t), 10.0);
    assert_close(vigil_throughput_rate(t), 100.0);
    vigil_throughput_record_n(t, 500);
    assert_int_equal(vigil_throughput_total(t), 1500);
    vigil_throughput_free(t);
}

static void test_throughput_recent_rate_counts_the_current_second(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_throughput *t = new_tp(&clk, 0);
    for (int s = 0; s < 20; s++) {
        clk.ns = (uint64_t)s * SEC + SEC / 2; /* 10 ops in the middle of each second */
        vigil_throughput_record_n(t, 10);
    }
    /* now 19.5 s: the last 10 seconds are 10..19, spanning 9.5 s */
    assert_int_equal(vigil_throughput_recent_count(t, 10), 100);
    assert_close(vigil_throughput_recent_rate(t, 10), 100 / 9.5);
    assert_int_equal(vigil_throughput_recent_count(t, 1), 10);
    assert_close(vigil_throughput_recent_rate(t, 1), 10 / 0.5);
    /* a window longer than the tracker's life divides by its uptime */
    assert_int_equal(vigil_throughput_recent_count(t, 60), 200);
    assert_close(vigil_throughput_recent_rate(t, 60), 200 / 19.5);
    vigil_throughput_free(t);
}

static void test_throughput_idle_gap_reads_zero_not_stale_slots(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_throughput *t = new_tp(&clk, 300); /* 301 slots */
    clk.ns = SEC / 2;
    vigil_throughput_record_n(t, 50); /* second 0 */
    clk.ns = 5 * SEC + SEC / 2;
    vigil_throughput_record_n(t, 7); /* second 5 */
    /* exactly one ring later, second 301 maps to the slot of second 0: the window 2..301 holds
     * second 5 but not second 0's old count */
    clk.ns = 301 * SEC + SEC / 2;
    assert_int_equal(vigil_throughput_recent_count(t, 300), 7);
    assert_int_equal(vigil_throughput_recent_count(t, 1), 0);
    assert_close(vigil_throughput_recent_rate(t, 300), 7 / 299.5);
    /* second 306 maps to second 5's slot: also not current */
    clk.ns = 306 * SEC + SEC / 4;
    assert_int_equal(vigil_throughput_recent_count(t, 300), 0);
    vigil_throughput_record(t); /* reuses the slot of second 5 */
    assert_int_equal(vigil_throughput_recent_count(t, 300), 1);
    assert_int_equal(vigil_throughput_recent_count(t, 1), 1);
    /* many rings later */
    clk.ns = 306 * SEC + 1000 * 301 * SEC;
    assert_int_equal(vigil_throughput_recent_count(t, 300), 0);
    assert_int_equal(vigil_throughput_total(t), 58);
    vigil_throughput_free(t);
}

static void test_throughput_windows_up_to_300_seconds(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_throughput *t = new_tp(&clk, 0); /* default: 300 s */
    for (int s = 0; s < 600; s++) {
        clk.ns = (uint64_t)s * SEC;
        vigil_throughput_record_n(t, (uint64_t)(s % 2 ? 3 : 1)); /* 1, 3, 1, 3, ... */
    }
    clk.ns = 599 * SEC + SEC / 2;
    assert_int_equal(vigil_throughput_recent_count(t, 300), 600);
    assert_int_equal(vigil_throughput_recent_count(t, 60), 120);
    assert_int_equal(vigil_throughput_recent_count(t, 2), 4);
    assert_close(vigil_throughput_recent_rate(t, 300), 600 / 299.5);
    /* beyond the ring: clamped to the longest window */
    assert_int_equal(vigil_throughput_recent_count(t, 1000), 600);
    assert_int_equal(vigil_throughput_recent_count(t, 0), 3);
    assert_close(vigil_throughput_rate(t), 1200 / 599.5);
    vigil_throughput_free(t);

    /* a longer ring */
    clk.ns = 0;
    t = new_tp(&clk, VIGIL_TRACK_MAX_WINDOW);
    for (int s = 0; s < 4000; s++) {
        clk.ns = (uint64_t)s * SEC;
        vigil_throughput_record(t);
    }
    assert_int_equal(vigil_throughput_recent_count(t, 3600), 3600);
    vigil_throughput_free(t);
}

static void test_throughput_rejects_bad_windows(void **state)
{
    (void)state;
    vigil_throughput_opts o;
    vigil_throughput *t = NULL;
    vigil_throughput_opts_init(&o);
    o.window_seconds = VIGIL_TRACK_MAX_WINDOW + 1;
    assert_int_equal(vigil_throughput_new(&o, &t), VIGIL_EINVAL);
    o.window_seconds = 30;
    o.export_window_seconds = 31;
    assert_int_equal(vigil_throughput_new(&o, &t), VIGIL_EINVAL);
    assert_null(t);
    assert_int_equal(vigil_throughput_new(NULL, &t), VIGIL_OK);
    vigil_throughput_free(t);
    vigil_throughput_free(NULL);
}

static void test_ring_stale_writer_leaves_a_newer_second_alone(void **state)
{
    (void)state;
    vigil__ring r;
    assert_int_equal(vigil__ring_init(&r, 10), VIGIL_OK);
    vigil__ring_add(&r, 11, 5); /* slot 0 now belongs to second 11 */
    vigil__ring_add(&r, 0, 7);  /* a writer delayed by a whole ring */
    assert_int_equal(vigil__ring_sum(&r, 11, 1), 5);
    assert_int_equal(vigil__ring_sum(&r, 0, 1), 0);
    vigil__ring_add(&r, 22, 1); /* a newer second replaces it */
    assert_int_equal(vigil__ring_sum(&r, 22, 10), 1);
    vigil__ring_free(&r);
}

static void test_ring_slot_saturates_but_total_stays_exact(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_throughput *t = new_tp(&clk, 10);
    vigil_throughput_record_n(t, VIGIL__RING_COUNT_MAX);
    vigil_throughput_record_n(t, 10);
    assert_int_equal(vigil_throughput_recent_count(t, 1), VIGIL__RING_COUNT_MAX);
    assert_int_equal(vigil_throughput_total(t), VIGIL__RING_COUNT_MAX + 10);
    vigil_throughput_free(t);
}

static void test_ring_span_covers_the_partial_current_second(void **state)
{
    (void)state;
    assert_close(vigil__ring_span(10 * SEC + SEC / 4, 5), 4.25);
    assert_close(vigil__ring_span(2 * SEC, 5), 2.0); /* younger than the window */
    assert_close(vigil__ring_span(0, 5), 0.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_throughput_total_and_average_since_start),
        cmocka_unit_test(test_throughput_recent_rate_counts_the_current_second),
        cmocka_unit_test(test_throughput_idle_gap_reads_zero_not_stale_slots),
        cmocka_unit_test(test_throughput_windows_up_to_300_seconds),
        cmocka_unit_test(test_throughput_rejects_bad_windows),
        cmocka_unit_test(test_ring_stale_writer_leaves_a_newer_second_alone),
        cmocka_unit_test(test_ring_slot_saturates_but_total_stays_exact),
        cmocka_unit_test(test_ring_span_covers_the_partial_current_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
