/* test_errors.c — the error-rate tracker: totals and rates, kinds beyond the cap counted under
 * the overflow kind with exact counts, invalid kinds never dropped, top-k ordering, and recent
 * rates on a fake clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vigil/track.h"

typedef struct fake_clock {
    uint64_t ns;
} fake_clock;

static uint64_t fake_now(void *user)
{
    return ((fake_clock *)user)->ns;
}

static vigil_errors *new_errors(size_t max_kinds, fake_clock *clk)
{
    vigil_errors_opts o;
    vigil_errors_opts_init(&o);
    o.max_kinds = max_kinds;
    if (clk != NULL) {
        o.clock = fake_now;
        o.clock_user = clk;
    }
    vigil_errors *t = NULL;
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_OK);
    return t;
}

static void test_errors_counts_and_rates(void **state)
{
    (void)state;
    vigil_errors *t = new_errors(0, NULL);
    vigil_errors_record_success(t);
    vigil_errors_record_success(t);
    vigil_errors_record_error(t, "NetworkTimeout");
    vigil_errors_record_success(t);
    vigil_errors_record_error(t, "NetworkTimeout");
    vigil_errors_record_error(t, "DatabaseError");
    vigil_errors_record_success(t);
    assert_int_equal(vigil_errors_requests(t), 7);
    assert_int_equal(vigil_errors_total(t), 3);
    assert_int_equal(vigil_errors_successes(t), 4);
    assert_true(fabs(vigil_errors_rate(t) - 3.0 / 7) < 1e-15);
    assert_true(fabs(vigil_errors_success_rate(t) - 4.0 / 7) < 1e-15);
    uint64_t c = 0;
    assert_string_equal(vigil_errors_most_common(t, &c), "NetworkTimeout");
    assert_int_equal(c, 2);
    assert_int_equal(vigil_errors_kind_count(t, "DatabaseError"), 1);
    assert_int_equal(vigil_errors_kind_count(t, "Nope"), 0);
    assert_int_equal(vigil_errors_kinds(t), 2);
    assert_int_equal(vigil_errors_overflowed(t), 0);
    vigil_errors_record_successes(t, 993);
    vigil_errors_record_errors(t, "DatabaseError", 4);
    assert_int_equal(vigil_errors_requests(t), 1004);
    assert_int_equal(vigil_errors_kind_count(t, "DatabaseError"), 5);
    vigil_errors_free(t);
}

static void test_errors_empty_tracker_has_no_rate_and_no_common_kind(void **state)
{
    (void)state;
    vigil_errors *t = new_errors(0, NULL);
    assert_int_equal(vigil_errors_requests(t), 0);
    assert_true(isnan(vigil_errors_rate(t)));
    assert_true(isnan(vigil_errors_success_rate(t)));
    assert_true(isnan(vigil_errors_recent_rate(t, 60)));
    uint64_t c = 99;
    assert_null(vigil_errors_most_common(t, &c));
    assert_int_equal(c, 0);
    vigil_error_count top[4];
    assert_int_equal(vigil_errors_top(t, top, 4), 0);
    /* successes only: rate 0, success rate 1 */
    vigil_errors_record_success(t);
    assert_true(vigil_errors_rate(t) == 0.0);
    assert_true(vigil_errors_success_rate(t) == 1.0);
    assert_null(vigil_errors_most_common(t, NULL));
    vigil_errors_free(t);
}

static void test_errors_kinds_beyond_the_cap_count_as_other_exactly(void **state)
{
    (void)state;
    vigil_errors *t = new_errors(3, NULL);
    assert_string_equal(vigil_errors_overflow_kind(t), "other");
    vigil_errors_record_errors(t, "a", 2);
    vigil_errors_record_errors(t, "b", 2);
    vigil_errors_record_errors(t, "c", 2);
    vigil_errors_record_errors(t, "d", 3); /* the cap is reached: d and e go to "other" */
    vigil_errors_record_errors(t, "e", 4);
    vigil_errors_record_error(t, "a"); /* known kinds keep counting by name */
    assert_int_equal(vigil_errors_kinds(t), 3);
    assert_int_equal(vigil_errors_kind_count(t, "a"), 3);
    assert_int_equal(vigil_errors_kind_count(t, "d"), 0);
    assert_int_equal(vigil_errors_kind_count(t, "other"), 7);
    assert_int_equal(vigil_errors_overflowed(t), 7);
    assert_int_equal(vigil_errors_total(t), 14);
    uint64_t c;
    assert_string_equal(vigil_errors_most_common(t, &c), "other");
    assert_int_equal(c, 7);
    vigil_errors_free(t);
}

static void test_errors_kind_named_like_the_overflow_shares_its_count(void **state)
{
    (void)state;
    vigil_errors *t = new_errors(1, NULL);
    vigil_errors_record_error(t, "other"); /* a real kind called "other": not an overflow */
    vigil_errors_record_error(t, "x");
    vigil_errors_record_error(t, "y"); /* over the cap of 1 */
    assert_int_equal(vigil_errors_kind_count(t, "other"), 2);
    assert_int_equal(vigil_errors_overflowed(t), 1);
    assert_int_equal(vigil_errors_kinds(t), 1);
    assert_int_equal(vigil_errors_total(t), 3);
    vigil_errors_free(t);
}

static void test_errors_invalid_kinds_are_counted_not_dropped(void **state)
{
    (void)state;
    vigil_errors *t = new_errors(0, NULL);
    char longkind[VIGIL_ERRORS_KIND_MAX + 2];
    memset(longkind, 'k', sizeof longkind - 1);
    longkind[sizeof longkind - 1] = '\0';
    vigil_errors_record_error(t, NULL);
    vigil_errors_record_error(t, "");
    vigil_errors_record_error(t, longkind);
    vigil_errors_record_error(t, "bad\xff");
    assert_int_equal(vigil_errors_total(t), 4);
    assert_int_equal(vigil_errors_kind_count(t, "other"), 4);
    assert_int_equal(vigil_errors_overflowed(t), 4);
    assert_int_equal(vigil_errors_kinds(t), 0);
    /* the longest allowed kind is kept */
    longkind[VIGIL_ERRORS_KIND_MAX] = '\0';
    vigil_errors_record_error(t, longkind);
    assert_int_equal(vigil_errors_kind_count(t, longkind), 1);
    vigil_errors_free(t);
}

static void test_errors_custom_overflow_kind(void **state)
{
    (void)state;
    vigil_errors_opts o;
    vigil_errors_opts_init(&o);
    o.max_kinds = 1;
    o.overflow_kind = "too_many_kinds";
    vigil_errors *t;
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_OK);
    vigil_errors_record_error(t, "a");
    vigil_errors_record_error(t, "b");
    assert_int_equal(vigil_errors_kind_count(t, "too_many_kinds"), 1);
    assert_int_equal(vigil_errors_kind_count(t, "other"), 0);
    vigil_errors_free(t);
}

static void test_errors_top_k_orders_by_count_then_name(void **state)
{
    (void)state;
    vigil_errors *t = new_errors(0, NULL);
    vigil_errors_record_errors(t, "refused", 5);
    vigil_errors_record_errors(t, "timeout", 9);
    vigil_errors_record_errors(t, "dns", 5);
    vigil_errors_record_errors(t, "reset", 1);
    vigil_errors_record_errors(t, "tls", 7);
    vigil_error_count top[3];
    assert_int_equal(vigil_errors_top(t, top, 3), 3);
    assert_string_equal(top[0].kind, "timeout");
    assert_int_equal(top[0].count, 9);
    assert_string_equal(top[1].kind, "tls");
    assert_string_equal(top[2].kind, "dns"); /* ties with "refused": by name */
    assert_int_equal(top[2].count, 5);
    vigil_error_count all[10];
    assert_int_equal(vigil_errors_top(t, all, 10), 5); /* "other" is 0: not listed */
    assert_string_equal(all[3].kind, "refused");
    assert_string_equal(all[4].kind, "reset");
    assert_int_equal(vigil_errors_top(t, all, 0), 0);
    assert_int_equal(vigil_errors_top(t, NULL, 3), 0);
    vigil_errors_free(t);
}

static void test_errors_recent_rate_follows_the_window(void **state)
{
    (void)state;
    fake_clock clk = {5000000000000ull};
    vigil_errors *t = new_errors(0, &clk);
    vigil_errors_record_successes(t, 10);
    vigil_errors_record_errors(t, "boom", 10);
    clk.ns += 5000000000ull; /* t = 5 s */
    vigil_errors_record_successes(t, 80);
    uint64_t r, e;
    vigil_errors_recent(t, 10, &r, &e);
    assert_int_equal(r, 100);
    assert_int_equal(e, 10);
    assert_true(fabs(vigil_errors_recent_rate(t, 10) - 0.1) < 1e-15);
    /* a window of 1 s only sees the current second */
    assert_true(vigil_errors_recent_rate(t, 1) == 0.0);

    clk.ns += 5500000000ull; /* t = 10.5 s: the window of 10 s covers seconds 1..10 */
    vigil_errors_recent(t, 10, &r, &e);
    assert_int_equal(r, 80);
    assert_int_equal(e, 0);

    clk.ns += 400000000000ull; /* long idle: nothing recent, totals intact */
    vigil_errors_recent(t, 300, &r, &e);
    assert_int_equal(r, 0);
    assert_true(isnan(vigil_errors_recent_rate(t, 300)));
    assert_int_equal(vigil_errors_requests(t), 100);
    assert_true(fabs(vigil_errors_rate(t) - 0.1) < 1e-15);
    vigil_errors_recent(t, 60, NULL, NULL);
    vigil_errors_free(t);
}

static void test_errors_rejects_bad_options(void **state)
{
    (void)state;
    vigil_errors_opts o;
    vigil_errors *t = NULL;
    vigil_errors_opts_init(&o);
    o.max_kinds = VIGIL_ERRORS_MAX_KINDS + 1;
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_EINVAL);
    vigil_errors_opts_init(&o);
    o.overflow_kind = "";
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_EINVAL);
    vigil_errors_opts_init(&o);
    o.window_seconds = VIGIL_TRACK_MAX_WINDOW + 1;
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_EINVAL);
    assert_null(t);
    o.window_seconds = VIGIL_TRACK_MAX_WINDOW;
    o.max_kinds = VIGIL_ERRORS_MAX_KINDS;
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_OK);
    char kind[16];
    for (int i = 0; i < VIGIL_ERRORS_MAX_KINDS + 10; i++) {
        snprintf(kind, sizeof kind, "k%d", i);
        vigil_errors_record_error(t, kind);
    }
    assert_int_equal(vigil_errors_kinds(t), VIGIL_ERRORS_MAX_KINDS);
    assert_int_equal(vigil_errors_overflowed(t), 10);
    assert_int_equal(vigil_errors_total(t), VIGIL_ERRORS_MAX_KINDS + 10);
    vigil_errors_free(t);
    vigil_errors_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors_counts_and_rates),
        cmocka_unit_test(test_errors_empty_tracker_has_no_rate_and_no_common_kind),
        cmocka_unit_test(test_errors_kinds_beyond_the_cap_count_as_other_exactly),
        cmocka_unit_test(test_errors_kind_named_like_the_overflow_shares_its_count),
        cmocka_unit_test(test_errors_invalid_kinds_are_counted_not_dropped),
        cmocka_unit_test(test_errors_custom_overflow_kind),
        cmocka_unit_test(test_errors_top_k_orders_by_count_then_name),
        cmocka_unit_test(test_errors_recent_rate_follows_the_window),
        cmocka_unit_test(test_errors_rejects_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
