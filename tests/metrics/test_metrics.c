/* test_metrics.c — counters, gauges and histograms, naming rules, registration and families:
 * what a single thread can observe through the public API (rendered output included where the
 * behaviour is only visible there, such as the cardinality guard's self-metric). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/vigil_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vigil/buffer.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

/* --- helpers --------------------------------------------------------------------------------- */

static vigil_metric_opts opts_named(const char *name)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = name;
    return o;
}

static void assert_line(vigil_registry *reg, const char *line)
{
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    if (!has_line(out, line))
        fail_msg("line not rendered: %s\n--- output ---\n%s", line, out);
    free(out);
}

static void assert_no_text(vigil_registry *reg, const char *text)
{
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    if (strstr(out, text) != NULL)
        fail_msg("unexpected text rendered: %s\n--- output ---\n%s", text, out);
    free(out);
}

static vigil_counter *new_counter(vigil_registry *reg, const char *name)
{
    vigil_metric_opts o = opts_named(name);
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(reg, &o, &c), VIGIL_OK);
    return c;
}

static vigil_family *new_family(vigil_registry *reg, vigil_metric_type type, const char *name,
                                size_t nlabels, const char *const *labels)
{
    vigil_metric_opts o = opts_named(name);
    o.label_names = labels;
    o.label_count = nlabels;
    vigil_family *f;
    vigil_status st = vigil_family_new(reg, type, &o, &f);
    if (st != VIGIL_OK)
        fail_msg("family %s: %s (%s)", name, vigil_strerror(st), vigil_errmsg());
    return f;
}

/* --- counters -------------------------------------------------------------------------------- */

static void test_counter_inc_add_and_add_u64_accumulate(void **state)
{
    vigil_counter *c = new_counter(*state, "events");
    assert_true(vigil_counter_value(c) == 0);
    vigil_counter_inc(c);
    vigil_counter_inc(c);
    vigil_counter_add_u64(c, 40);
    assert_int_equal(vigil_counter_add(c, 3), VIGIL_OK);
    assert_int_equal(vigil_counter_add(c, 0), VIGIL_OK);
    assert_true(vigil_counter_value(c) == 45);
    assert_line(*state, "events_total 45");
}

static void test_inline_and_out_of_line_counter_calls_agree(void **state)
{
    /* <vigil/metrics.h> may turn vigil_counter_inc/add_u64 into inline code; the parenthesised
     * names call the exported functions. Both must land in the same counter. */
    vigil_counter *c = new_counter(*state, "mixed_calls");
    vigil_counter_inc(c);
    (vigil_counter_inc)(c);
    vigil_counter_add_u64(c, 10);
    (vigil_counter_add_u64)(c, 100);
    assert_true(vigil_counter_value(c) == 112);
    assert_line(*state, "mixed_calls_total 112");
}

static void test_counter_rejects_negative_add(void **state)
{
    vigil_counter *c = new_counter(*state, "events");
    vigil_counter_add_u64(c, 5);
    assert_int_equal(vigil_counter_add(c, -1), VIGIL_ENEGATIVE);
    assert_true(strlen(vigil_errmsg()) > 0);
    assert_int_equal(vigil_counter_add(c, -0.5), VIGIL_ENEGATIVE);
    assert_int_equal(vigil_counter_add(c, -INFINITY), VIGIL_ENEGATIVE);
    assert_true(vigil_counter_value(c) == 5);
}

static void test_counter_rejects_nan_add(void **state)
{
    vigil_counter *c = new_counter(*state, "events");
    vigil_counter_inc(c);
    assert_int_equal(vigil_counter_add(c, NAN), VIGIL_ENEGATIVE);
    assert_true(vigil_counter_value(c) == 1);
    assert_line(*state, "events_total 1");
}

static void test_counter_accepts_fractional_adds(void **state)
{
    vigil_counter *c = new_counter(*state, "seconds_spent");
    assert_int_equal(vigil_counter_add(c, 0.25), VIGIL_OK);
    assert_int_equal(vigil_counter_add(c, 0.5), VIGIL_OK);
    vigil_counter_inc(c);
    assert_int_equal(vigil_counter_add(c, 2), VIGIL_OK);
    assert_true(vigil_counter_value(c) == 3.75);
    assert_line(*state, "seconds_spent_total 3.75");
    /* A whole number too large for the exact integer path still adds. */
    assert_int_equal(vigil_counter_add(c, 1e17), VIGIL_OK);
    assert_true(fabs(vigil_counter_value(c) - (1e17 + 3.75)) < 100);
}

static void test_counter_total_suffix_names_the_same_family(void **state)
{
    vigil_registry *reg = *state;
    vigil_counter *c = new_counter(reg, "jobs_total");
    vigil_counter_inc(c);
    vigil_family *f = vigil_registry_find(reg, "jobs");
    assert_non_null(f);
    assert_ptr_equal(vigil_registry_find(reg, "jobs_total"), f);
    assert_int_equal(vigil_family_type(f), VIGIL_COUNTER);
    vigil_metric_opts o = opts_named("jobs");
    vigil_counter *c2;
    assert_int_equal(vigil_counter_new(reg, &o, &c2), VIGIL_EEXIST);
    assert_line(reg, "jobs_total 1");
    assert_no_text(reg, "jobs_total_total");
}

/* --- gauges ---------------------------------------------------------------------------------- */

static void test_gauge_set_inc_dec_add_sub(void **state)
{
    vigil_metric_opts o = opts_named("temperature");
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(*state, &o, &g), VIGIL_OK);
    assert_true(vigil_gauge_value(g) == 0);
    vigil_gauge_set(g, 10);
    vigil_gauge_inc(g);
    assert_true(vigil_gauge_value(g) == 11);
    vigil_gauge_dec(g);
    vigil_gauge_dec(g);
    assert_true(vigil_gauge_value(g) == 9);
    vigil_gauge_add(g, 2.5);
    vigil_gauge_sub(g, 0.25);
    assert_true(vigil_gauge_value(g) == 11.25);
    vigil_gauge_sub(g, 20);
    assert_true(vigil_gauge_value(g) == -8.75);
    assert_line(*state, "temperature -8.75");
    vigil_gauge_set(g, NAN);
    assert_true(isnan(vigil_gauge_value(g)));
    assert_line(*state, "temperature NaN");
    vigil_gauge_set(g, -INFINITY);
    assert_line(*state, "temperature -Inf");
}

static void test_gauge_set_to_current_time_reads_the_wall_clock(void **state)
{
    vigil_metric_opts o = opts_named("last_run_timestamp_seconds");
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(*state, &o, &g), VIGIL_OK);
    struct timespec a, b;
    clock_gettime(CLOCK_REALTIME, &a);
    vigil_gauge_set_to_current_time(g);
    clock_gettime(CLOCK_REALTIME, &b);
    double v = vigil_gauge_value(g);
    assert_true(v >= (double)a.tv_sec);
    assert_true(v <= (double)b.tv_sec + 1);
}

/* --- histograms ------------------------------------------------------------------------------ */

static void test_default_buckets_are_the_client_library_defaults(void **state)
{
    (void)state;
    size_t n = 0;
    const double *b = vigil_default_buckets(&n);
    static const double want[] = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
    assert_int_equal(n, 11);
    assert_memory_equal(b, want, sizeof want);
    assert_ptr_equal(vigil_default_buckets(NULL), b);
}

static void test_histogram_uses_default_buckets_without_a_list(void **state)
{
    vigil_metric_opts o = opts_named("wait_seconds");
    vigil_histogram *h;
    assert_int_equal(vigil_histogram_new(*state, &o, &h), VIGIL_OK);
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    assert_int_equal(s.bucket_count, 11);
    assert_true(s.bounds[0] == 0.005 && s.bounds[10] == 10);
    assert_int_equal(s.count, 0);
    assert_true(s.sum == 0);
}

static void test_linear_buckets_helper(void **state)
{
    (void)state;
    double b[4];
    assert_int_equal(vigil_buckets_linear(1, 0.5, 4, b), VIGIL_OK);
    assert_true(b[0] == 1 && b[1] == 1.5 && b[2] == 2 && b[3] == 2.5);
    assert_int_equal(vigil_buckets_linear(-10, 5, 3, b), VIGIL_OK);
    assert_true(b[0] == -10 && b[1] == -5 && b[2] == 0);
    assert_int_equal(vigil_buckets_linear(1, 1, 0, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_linear(1, 0, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_linear(1, -1, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_linear(NAN, 1, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_linear(1, NAN, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_linear(1, 1, VIGIL_MAX_BUCKETS + 1, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_linear(1, 1, 3, NULL), VIGIL_EBUCKETS);
    /* A width lost in rounding would repeat a bound. */
    assert_int_equal(vigil_buckets_linear(1e20, 1, 3, b), VIGIL_EBUCKETS);
}

static void test_exponential_buckets_helper(void **state)
{
    (void)state;
    double b[5];
    assert_int_equal(vigil_buckets_exponential(1, 2, 5, b), VIGIL_OK);
    assert_true(b[0] == 1 && b[1] == 2 && b[2] == 4 && b[3] == 8 && b[4] == 16);
    assert_int_equal(vigil_buckets_exponential(0.001, 10, 3, b), VIGIL_OK);
    assert_true(b[0] == 0.001 && fabs(b[2] - 0.1) < 1e-15);
    assert_int_equal(vigil_buckets_exponential(1, 2, 0, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_exponential(0, 2, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_exponential(-1, 2, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_exponential(1, 1, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_exponential(1, 0.5, 3, b), VIGIL_EBUCKETS);
    assert_int_equal(vigil_buckets_exponential(1, NAN, 3, b), VIGIL_EBUCKETS);
    /* Growth past the largest double gives +Inf inside the list. */
    assert_int_equal(vigil_buckets_exponential(1e300, 1e10, 3, b), VIGIL_EBUCKETS);
}

static vigil_status histogram_with(vigil_registry *reg, const char *name, const double *b, size_t n,
                                   vigil_histogram **out)
{
    vigil_metric_opts o = opts_named(name);
    o.buckets = b;
    o.bucket_count = n;
    return vigil_histogram_new(reg, &o, out);
}

static void test_histogram_refuses_invalid_bucket_lists(void **state)
{
    vigil_registry *reg = *state;
    vigil_histogram *h;
    static const double unsorted[] = {1, 3, 2};
    static const double duplicate[] = {1, 2, 2, 3};
    static const double with_nan[] = {1, NAN, 3};
    static const double inf_inside[] = {1, INFINITY, 3};
    static const double neg_inf[] = {-INFINITY, 1};
    static const double only_inf[] = {INFINITY};
    static const double empty[] = {1};
    assert_int_equal(histogram_with(reg, "h_empty", empty, 0, &h), VIGIL_EBUCKETS);
    assert_int_equal(histogram_with(reg, "h_unsorted", unsorted, 3, &h), VIGIL_EBUCKETS);
    assert_int_equal(histogram_with(reg, "h_dup", duplicate, 4, &h), VIGIL_EBUCKETS);
    assert_int_equal(histogram_with(reg, "h_nan", with_nan, 3, &h), VIGIL_EBUCKETS);
    assert_int_equal(histogram_with(reg, "h_inf", inf_inside, 3, &h), VIGIL_EBUCKETS);
    assert_int_equal(histogram_with(reg, "h_neginf", neg_inf, 2, &h), VIGIL_EBUCKETS);
    assert_int_equal(histogram_with(reg, "h_onlyinf", only_inf, 1, &h), VIGIL_EBUCKETS);
    double many[VIGIL_MAX_BUCKETS + 2];
    for (size_t i = 0; i < VIGIL_MAX_BUCKETS + 1; i++)
        many[i] = (double)i;
    assert_int_equal(histogram_with(reg, "h_many", many, VIGIL_MAX_BUCKETS + 1, &h),
                     VIGIL_EBUCKETS);
    /* Nothing was registered by the failures. */
    assert_null(vigil_registry_find(reg, "h_unsorted"));
    assert_int_equal(vigil_registry_child_count(reg), 0);
    /* The maximum is fine, and so is the maximum plus an explicit +Inf. */
    assert_int_equal(histogram_with(reg, "h_max", many, VIGIL_MAX_BUCKETS, &h), VIGIL_OK);
    many[VIGIL_MAX_BUCKETS] = INFINITY;
    assert_int_equal(histogram_with(reg, "h_max_inf", many, VIGIL_MAX_BUCKETS + 1, &h), VIGIL_OK);
    vigil_histogram_observe(h, 1e9);
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    assert_int_equal(s.bucket_count, VIGIL_MAX_BUCKETS);
    assert_int_equal(s.counts[VIGIL_MAX_BUCKETS], 1);
    assert_int_equal(s.counts[VIGIL_MAX_BUCKETS - 1], 0);
}

static void test_histogram_accepts_explicit_trailing_inf_once(void **state)
{
    static const double b[] = {0.5, 1, INFINITY};
    vigil_histogram *h;
    assert_int_equal(histogram_with(*state, "latency_seconds", b, 3, &h), VIGIL_OK);
    vigil_histogram_observe(h, 0.7);
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    assert_int_equal(s.bucket_count, 2);
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    const char *want = "# TYPE latency_seconds histogram\n"
                       "latency_seconds_bucket{le=\"0.5\"} 0\n"
                       "latency_seconds_bucket{le=\"1.0\"} 1\n"
                       "latency_seconds_bucket{le=\"+Inf\"} 1\n"
                       "latency_seconds_sum 0.7\n"
                       "latency_seconds_count 1\n";
    if (strstr(out, want) == NULL)
        fail_msg("want:\n%s\ngot:\n%s", want, out);
    free(out);
}

static void test_histogram_observation_on_a_bound_goes_into_that_bucket(void **state)
{
    static const double b[] = {1, 2, 5};
    vigil_histogram *h;
    assert_int_equal(histogram_with(*state, "size", b, 3, &h), VIGIL_OK);
    vigil_histogram_observe(h, 1);         /* le=1 */
    vigil_histogram_observe(h, 2);         /* le=2 */
    vigil_histogram_observe(h, 1.0000001); /* le=2 */
    vigil_histogram_observe(h, 5);         /* le=5 */
    vigil_histogram_observe(h, 5.0000001); /* +Inf */
    vigil_histogram_observe(h, -INFINITY); /* le=1 */
    vigil_histogram_observe(h, 0);         /* le=1 */
    vigil_histogram_observe(h, INFINITY);  /* +Inf */
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    assert_int_equal(s.bucket_count, 3);
    assert_int_equal(s.counts[0], 3);
    assert_int_equal(s.counts[1], 5);
    assert_int_equal(s.counts[2], 6);
    assert_int_equal(s.counts[3], 8);
    assert_int_equal(s.count, 8);
}

static void test_histogram_nan_observation_counts_in_inf_and_makes_sum_nan(void **state)
{
    static const double b[] = {1, 2};
    vigil_histogram *h;
    assert_int_equal(histogram_with(*state, "size", b, 2, &h), VIGIL_OK);
    vigil_histogram_observe(h, 1.5);
    vigil_histogram_observe(h, NAN);
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    assert_int_equal(s.counts[0], 0);
    assert_int_equal(s.counts[1], 1);
    assert_int_equal(s.counts[2], 2);
    assert_int_equal(s.count, 2);
    assert_true(isnan(s.sum));
    assert_line(*state, "size_sum NaN");
}

static void test_histogram_with_many_buckets_places_every_bound_exactly(void **state)
{
    double b[200];
    assert_int_equal(vigil_buckets_exponential(0.001, 1.1, 200, b), VIGIL_OK);
    vigil_histogram *h;
    assert_int_equal(histogram_with(*state, "spread", b, 200, &h), VIGIL_OK);
    for (size_t i = 0; i < 200; i++) {
        vigil_histogram_observe(h, b[i]);                      /* bucket i */
        vigil_histogram_observe(h, nextafter(b[i], INFINITY)); /* bucket i + 1 */
    }
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    /* Bucket 0 holds b[0]; bucket i>0 holds just-above-b[i-1] and b[i]. */
    assert_int_equal(s.counts[0], 1);
    for (size_t i = 1; i < 200; i++)
        assert_int_equal(s.counts[i] - s.counts[i - 1], 2);
    assert_int_equal(s.counts[200] - s.counts[199], 1);
    assert_int_equal(s.count, 400);
}

static void test_histogram_sum_and_count_follow_observations(void **state)
{
    static const double b[] = {10};
    vigil_histogram *h;
    assert_int_equal(histogram_with(*state, "req_size", b, 1, &h), VIGIL_OK);
    for (int i = 1; i <= 20; i++)
        vigil_histogram_observe(h, i);
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    assert_int_equal(s.count, 20);
    assert_int_equal(s.counts[0], 10);
    assert_int_equal(s.counts[1], 20);
    assert_true(s.sum == 210);
    assert_line(*state, "req_size_count 20");
    assert_line(*state, "req_size_sum 210");
    assert_line(*state, "req_size_bucket{le=\"10.0\"} 10");
}

/* --- names ----------------------------------------------------------------------------------- */

static void test_invalid_metric_names_are_refused(void **state)
{
    vigil_registry *reg = *state;
    static const char *const bad[] = {"",    "9lives",      "a-b",  "a b",
                                      "a.b", "caf\xc3\xa9", "a\nb", "x{}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vigil_check_metric_name(bad[i]), VIGIL_ENAME);
        vigil_metric_opts o = opts_named(bad[i]);
        vigil_gauge *g;
        assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_ENAME);
    }
    assert_int_equal(vigil_check_metric_name(NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_check_metric_name("__internal"), VIGIL_ERESERVED);
    static const char *const good[] = {"a", "_x", ":x", "a:b_c9", "A_Z", "x__y"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_int_equal(vigil_check_metric_name(good[i]), VIGIL_OK);
    vigil_metric_opts o = opts_named(NULL);
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_EINVAL);
}

static void test_invalid_label_names_are_refused(void **state)
{
    vigil_registry *reg = *state;
    static const char *const bad[] = {"", "9a", "a:b", "a-b", "\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vigil_check_label_name(bad[i]), VIGIL_ENAME);
        const char *labels[] = {bad[i]};
        vigil_metric_opts o = opts_named("m");
        o.label_names = labels;
        o.label_count = 1;
        vigil_family *f;
        assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_ENAME);
        assert_null(f);
    }
    assert_int_equal(vigil_check_label_name("__name__"), VIGIL_ERESERVED);
    assert_int_equal(vigil_check_label_name(NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_check_label_name("_ok9"), VIGIL_OK);
    const char *reserved[] = {"__x"};
    vigil_metric_opts o = opts_named("m");
    o.label_names = reserved;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &o, &f), VIGIL_ERESERVED);
    assert_null(vigil_registry_find(reg, "m"));
}

static void test_le_is_reserved_on_histograms_but_allowed_on_gauges(void **state)
{
    vigil_registry *reg = *state;
    const char *le[] = {"le"};
    vigil_metric_opts o = opts_named("h");
    o.label_names = le;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_HISTOGRAM, &o, &f), VIGIL_ERESERVED);
    vigil_label const_le[] = {{"le", "1"}};
    vigil_metric_opts oc = opts_named("h");
    oc.const_labels = const_le;
    oc.const_label_count = 1;
    assert_int_equal(vigil_family_new(reg, VIGIL_HISTOGRAM, &oc, &f), VIGIL_ERESERVED);
    o.name = "g";
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_OK);
    vigil_gauge *g;
    assert_int_equal(vigil_family_gauge(f, VIGIL_VALUES("0.5"), &g), VIGIL_OK);
    vigil_gauge_set(g, 1);
    assert_line(reg, "g{le=\"0.5\"} 1");
    o.name = "c";
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &o, &f), VIGIL_OK);
}

static void test_duplicate_label_names_are_refused(void **state)
{
    vigil_registry *reg = *state;
    const char *dup[] = {"a", "b", "a"};
    vigil_metric_opts o = opts_named("m");
    o.label_names = dup;
    o.label_count = 3;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_ELABELS);
    /* A label name that repeats a constant label. */
    const char *labels[] = {"zone"};
    vigil_label consts[] = {{"zone", "a"}};
    o.label_names = labels;
    o.label_count = 1;
    o.const_labels = consts;
    o.const_label_count = 1;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_ELABELS);
    /* Two constant labels with one name. */
    vigil_label consts2[] = {{"zone", "a"}, {"zone", "b"}};
    o.label_count = 0;
    o.const_labels = consts2;
    o.const_label_count = 2;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_ELABELS);
    assert_null(vigil_registry_find(reg, "m"));
}

static void test_const_labels_are_checked_and_rendered_first(void **state)
{
    vigil_registry *reg = *state;
    vigil_label bad_value[] = {{"zone", "\xff"}};
    vigil_metric_opts o = opts_named("m");
    o.const_labels = bad_value;
    o.const_label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_EINVAL);
    vigil_label no_value[] = {{"zone", NULL}};
    o.const_labels = no_value;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_EINVAL);
    vigil_label bad_name[] = {{"9zone", "a"}};
    o.const_labels = bad_name;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_ENAME);
    vigil_label good[] = {{"zone", "a"}};
    const char *labels[] = {"host"};
    o.const_labels = good;
    o.label_names = labels;
    o.label_count = 1;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_OK);
    vigil_gauge *g;
    assert_int_equal(vigil_family_gauge(f, VIGIL_VALUES("h1"), &g), VIGIL_OK);
    vigil_gauge_set(g, 3);
    assert_line(reg, "m{zone=\"a\",host=\"h1\"} 3");
}

static void test_too_many_label_names_are_refused(void **state)
{
    const char *labels[VIGIL_MAX_LABELS + 1];
    char names[VIGIL_MAX_LABELS + 1][16];
    for (int i = 0; i <= VIGIL_MAX_LABELS; i++) {
        snprintf(names[i], sizeof names[i], "l%d", i);
        labels[i] = names[i];
    }
    vigil_metric_opts o = opts_named("m");
    o.label_names = labels;
    o.label_count = VIGIL_MAX_LABELS + 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(*state, VIGIL_GAUGE, &o, &f), VIGIL_ELABELS);
    o.label_count = VIGIL_MAX_LABELS;
    assert_int_equal(vigil_family_new(*state, VIGIL_GAUGE, &o, &f), VIGIL_OK);
    o.name = "n";
    o.label_names = NULL;
    o.label_count = 2;
    assert_int_equal(vigil_family_new(*state, VIGIL_GAUGE, &o, &f), VIGIL_ELABELS);
}

static void test_unit_must_end_the_name_and_help_must_be_utf8(void **state)
{
    vigil_registry *reg = *state;
    vigil_metric_opts o = opts_named("latency");
    o.unit = "seconds";
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_ENAME);
    o.name = "latencyseconds";
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_ENAME);
    o.name = "seconds";
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_ENAME);
    o.name = "latency_seconds";
    o.unit = "sec-onds";
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_ENAME);
    o.unit = "seconds";
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_OK);
    /* A counter's unit goes before _total. */
    vigil_metric_opts c = opts_named("read_bytes_total");
    c.unit = "bytes";
    vigil_counter *ctr;
    assert_int_equal(vigil_counter_new(reg, &c, &ctr), VIGIL_OK);
    vigil_metric_opts h = opts_named("bad_help");
    h.help = "caf\xc3";
    assert_int_equal(vigil_gauge_new(reg, &h, &g), VIGIL_EINVAL);
    h.help = "caf\xc3\xa9 \xe2\x82\xac";
    assert_int_equal(vigil_gauge_new(reg, &h, &g), VIGIL_OK);
}

/* --- registration ---------------------------------------------------------------------------- */

static void test_duplicate_registration_is_refused_with_eexist(void **state)
{
    vigil_registry *reg = *state;
    new_counter(reg, "x");
    vigil_metric_opts o = opts_named("x");
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(reg, &o, &c), VIGIL_EEXIST);
    assert_non_null(strstr(vigil_errmsg(), "x"));
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_EEXIST);
    vigil_histogram *h;
    assert_int_equal(vigil_histogram_new(reg, &o, &h), VIGIL_EEXIST);
}

static void test_cross_type_series_name_clash_is_refused(void **state)
{
    vigil_registry *reg = *state;
    vigil_gauge *g;
    vigil_counter *c;
    vigil_histogram *h;
    new_counter(reg, "x");
    static const char *const counter_taken[] = {"x_total", "x_created"};
    for (size_t i = 0; i < 2; i++) {
        vigil_metric_opts o = opts_named(counter_taken[i]);
        assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_EEXIST);
    }
    vigil_metric_opts oy = opts_named("y");
    assert_int_equal(vigil_histogram_new(reg, &oy, &h), VIGIL_OK);
    static const char *const histogram_taken[] = {"y_bucket", "y_count", "y_sum", "y_created"};
    for (size_t i = 0; i < 4; i++) {
        vigil_metric_opts o = opts_named(histogram_taken[i]);
        assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_EEXIST);
    }
    /* The other way round: a gauge takes a name a later histogram or counter would expose. */
    vigil_metric_opts oz = opts_named("z_count");
    assert_int_equal(vigil_gauge_new(reg, &oz, &g), VIGIL_OK);
    vigil_metric_opts z = opts_named("z");
    assert_int_equal(vigil_histogram_new(reg, &z, &h), VIGIL_EEXIST);
    vigil_metric_opts wt = opts_named("w_total");
    assert_int_equal(vigil_gauge_new(reg, &wt, &g), VIGIL_OK);
    vigil_metric_opts w = opts_named("w");
    assert_int_equal(vigil_counter_new(reg, &w, &c), VIGIL_EEXIST);
    /* A refused registration reserves nothing: "z" and "w" are still free for a gauge. */
    assert_int_equal(vigil_gauge_new(reg, &z, &g), VIGIL_OK);
    assert_int_equal(vigil_gauge_new(reg, &w, &g), VIGIL_OK);
    vigil_metric_opts zs = opts_named("z_sum");
    assert_int_equal(vigil_gauge_new(reg, &zs, &g), VIGIL_OK);
}

static void test_self_metric_names_are_reserved(void **state)
{
    vigil_metric_opts o = opts_named("vigil_series_refused");
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(*state, &o, &c), VIGIL_EEXIST);
    o.name = "vigil_collector_errors_total";
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(*state, &o, &g), VIGIL_EEXIST);
    assert_null(vigil_registry_find(*state, "vigil_series_refused"));
}

static void test_bad_arguments_to_registration_are_einval(void **state)
{
    vigil_registry *reg = *state;
    vigil_metric_opts o = opts_named("m");
    vigil_family *f;
    const double unordered[] = {0.9, 0.5};
    o.quantiles = unordered;
    o.quantile_count = 2;
    assert_int_equal(vigil_family_new(reg, VIGIL_SUMMARY, &o, &f), VIGIL_EINVAL);
    o.quantiles = NULL;
    o.quantile_count = 0;
    assert_int_equal(vigil_family_new(reg, VIGIL_UNTYPED, &o, &f), VIGIL_EINVAL);
    assert_int_equal(vigil_family_new(reg, (vigil_metric_type)42, &o, &f), VIGIL_EINVAL);
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, NULL, &f), VIGIL_EINVAL);
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_family_new(NULL, VIGIL_GAUGE, &o, &f), VIGIL_EINVAL);
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, NULL, &g), VIGIL_EINVAL);
    assert_int_equal(vigil_gauge_new(reg, &o, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_registry_new(NULL), VIGIL_EINVAL);
    assert_null(vigil_registry_find(reg, "m"));
    vigil_registry_free(NULL);
}

static void test_unlabelled_shortcut_refuses_label_names(void **state)
{
    const char *labels[] = {"a"};
    vigil_metric_opts o = opts_named("m");
    o.label_names = labels;
    o.label_count = 1;
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(*state, &o, &c), VIGIL_ELABELS);
    assert_null(vigil_registry_find(*state, "m"));
}

static void test_registry_find_by_family_name_and_counter_total_name(void **state)
{
    vigil_registry *reg = *state;
    new_counter(reg, "x");
    vigil_metric_opts o = opts_named("y");
    vigil_histogram *h;
    assert_int_equal(vigil_histogram_new(reg, &o, &h), VIGIL_OK);
    vigil_family *x = vigil_registry_find(reg, "x");
    assert_non_null(x);
    assert_ptr_equal(vigil_registry_find(reg, "x_total"), x);
    assert_null(vigil_registry_find(reg, "x_created"));
    vigil_family *y = vigil_registry_find(reg, "y");
    assert_non_null(y);
    assert_int_equal(vigil_family_type(y), VIGIL_HISTOGRAM);
    assert_null(vigil_registry_find(reg, "y_bucket"));
    assert_null(vigil_registry_find(reg, "y_total"));
    assert_null(vigil_registry_find(reg, "missing"));
    assert_null(vigil_registry_find(reg, NULL));
    assert_null(vigil_registry_find(NULL, "x"));
}

static void test_unregister_removes_the_family_and_frees_its_names(void **state)
{
    vigil_registry *reg = *state;
    vigil_counter *c = new_counter(reg, "x");
    vigil_counter_inc(c);
    assert_int_equal(vigil_registry_unregister(reg, "x_total"), VIGIL_OK);
    assert_null(vigil_registry_find(reg, "x"));
    assert_no_text(reg, "x_total");
    assert_int_equal(vigil_registry_unregister(reg, "x"), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_registry_unregister(reg, "nothing"), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_registry_unregister(reg, NULL), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_registry_unregister(reg, "vigil_series_refused"), VIGIL_ENOTFOUND);
    /* Every series name is free again, for any type. */
    vigil_metric_opts o = opts_named("x_total");
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_OK);
    o.name = "x_created";
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_OK);
    c = new_counter(reg, "fresh");
    assert_true(vigil_counter_value(c) == 0);
}

static void test_families_are_rendered_sorted_by_name(void **state)
{
    vigil_registry *reg = *state;
    static const char *const names[] = {"m_c", "m_a", "m_d", "m_b"};
    for (size_t i = 0; i < 4; i++) {
        vigil_metric_opts o = opts_named(names[i]);
        vigil_gauge *g;
        assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_OK);
    }
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    const char *a = strstr(out, "\nm_a 0"), *b = strstr(out, "\nm_b 0");
    const char *c = strstr(out, "\nm_c 0"), *d = strstr(out, "\nm_d 0");
    assert_non_null(a);
    assert_true(a < b && b < c && c < d);
    free(out);
}

/* --- families and children ------------------------------------------------------------------- */

static void test_family_accessors_describe_the_family(void **state)
{
    const char *labels[] = {"method", "code"};
    vigil_family *f = new_family(*state, VIGIL_COUNTER, "requests", 2, labels);
    assert_int_equal(vigil_family_type(f), VIGIL_COUNTER);
    assert_int_equal(vigil_family_label_count(f), 2);
    assert_string_equal(vigil_family_label_name(f, 0), "method");
    assert_string_equal(vigil_family_label_name(f, 1), "code");
    assert_null(vigil_family_label_name(f, 2));
    assert_int_equal(vigil_family_child_count(f), 0);
    assert_int_equal(vigil_family_refused(f), 0);
}

static void test_label_count_mismatch_is_refused(void **state)
{
    const char *labels[] = {"method", "code"};
    vigil_family *f = new_family(*state, VIGIL_COUNTER, "requests", 2, labels);
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("GET"), &c), VIGIL_ELABELS);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("GET", "200", "x"), &c), VIGIL_ELABELS);
    assert_int_equal(vigil_family_counter(f, 0, NULL, &c), VIGIL_ELABELS);
    assert_int_equal(vigil_family_counter(f, 2, NULL, &c), VIGIL_EINVAL);
    const char *with_null[] = {"GET", NULL};
    assert_int_equal(vigil_family_counter(f, 2, with_null, &c), VIGIL_EINVAL);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("GET", "200"), NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_family_counter(NULL, VIGIL_VALUES("GET", "200"), &c), VIGIL_EINVAL);
    assert_int_equal(vigil_family_child_count(f), 0);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("GET", "200"), &c), VIGIL_OK);
    assert_int_equal(vigil_family_child_count(f), 1);
}

static void test_invalid_utf8_label_value_is_refused(void **state)
{
    const char *labels[] = {"path"};
    vigil_family *f = new_family(*state, VIGIL_COUNTER, "hits", 1, labels);
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("/caf\xc3"), &c), VIGIL_ELABELS);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("\xed\xa0\x80"), &c), VIGIL_ELABELS);
    assert_int_equal(vigil_family_child_count(f), 0);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("/caf\xc3\xa9"), &c), VIGIL_OK);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES(""), &c), VIGIL_OK);
    assert_int_equal(vigil_family_child_count(f), 2);
}

static void test_family_of_another_type_is_refused_with_etype(void **state)
{
    const char *labels[] = {"a"};
    vigil_family *f = new_family(*state, VIGIL_COUNTER, "m", 1, labels);
    vigil_gauge *g;
    vigil_histogram *h;
    assert_int_equal(vigil_family_gauge(f, VIGIL_VALUES("x"), &g), VIGIL_ETYPE);
    assert_int_equal(vigil_family_histogram(f, VIGIL_VALUES("x"), &h), VIGIL_ETYPE);
    assert_int_equal(vigil_family_child_count(f), 0);
}

static void test_child_handle_is_stable_across_lookups_and_table_growth(void **state)
{
    const char *labels[] = {"id"};
    vigil_family *f = new_family(*state, VIGIL_COUNTER, "items", 1, labels);
    enum { N = 5000 };
    static vigil_counter *handles[N];
    char v[16];
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof v, "id%d", i);
        const char *vals[] = {v};
        assert_int_equal(vigil_family_counter(f, 1, vals, &handles[i]), VIGIL_OK);
        vigil_counter_add_u64(handles[i], (uint64_t)i);
        /* The first child survives every table rebuild. */
        vigil_counter *first;
        assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("id0"), &first), VIGIL_OK);
        assert_ptr_equal(first, handles[0]);
    }
    assert_int_equal(vigil_family_child_count(f), N);
    for (int i = 0; i < N; i++) {
        snprintf(v, sizeof v, "id%d", i);
        const char *vals[] = {v};
        vigil_counter *again;
        assert_int_equal(vigil_family_counter(f, 1, vals, &again), VIGIL_OK);
        assert_ptr_equal(again, handles[i]);
        assert_true(vigil_counter_value(again) == i);
    }
    assert_int_equal(vigil_family_child_count(f), N);
}

static void test_children_with_different_values_are_different(void **state)
{
    const char *labels[] = {"a", "b"};
    vigil_family *f = new_family(*state, VIGIL_GAUGE, "m", 2, labels);
    vigil_gauge *g1, *g2, *g3;
    /* Same concatenation, different split. */
    assert_int_equal(vigil_family_gauge(f, VIGIL_VALUES("ab", "c"), &g1), VIGIL_OK);
    assert_int_equal(vigil_family_gauge(f, VIGIL_VALUES("a", "bc"), &g2), VIGIL_OK);
    assert_int_equal(vigil_family_gauge(f, VIGIL_VALUES("c", "ab"), &g3), VIGIL_OK);
    assert_ptr_not_equal(g1, g2);
    assert_ptr_not_equal(g1, g3);
    assert_ptr_not_equal(g2, g3);
    assert_int_equal(vigil_family_child_count(f), 3);
}

static void test_children_are_rendered_in_creation_order(void **state)
{
    const char *labels[] = {"k"};
    vigil_family *f = new_family(*state, VIGIL_GAUGE, "m", 1, labels);
    static const char *const order[] = {"zeta", "alpha", "mid", "beta"};
    for (size_t i = 0; i < 4; i++) {
        vigil_gauge *g;
        assert_int_equal(vigil_family_gauge(f, 1, &order[i], &g), VIGIL_OK);
        vigil_gauge_set(g, (double)i);
    }
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    const char *want = "m{k=\"zeta\"} 0\nm{k=\"alpha\"} 1\nm{k=\"mid\"} 2\nm{k=\"beta\"} 3\n";
    if (strstr(out, want) == NULL)
        fail_msg("want:\n%s\ngot:\n%s", want, out);
    free(out);
}

static void test_removed_child_is_recreated_from_zero(void **state)
{
    const char *labels[] = {"k"};
    vigil_family *f = new_family(*state, VIGIL_COUNTER, "m", 1, labels);
    vigil_counter *c, *other;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("a"), &c), VIGIL_OK);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("b"), &other), VIGIL_OK);
    vigil_counter_add_u64(c, 5);
    assert_int_equal(vigil_counter_add(c, 0.5), VIGIL_OK);
    vigil_counter_inc(other);
    assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("a")), VIGIL_OK);
    assert_int_equal(vigil_family_child_count(f), 1);
    assert_no_text(*state, "m_total{k=\"a\"}");
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("a"), &c), VIGIL_OK);
    assert_true(vigil_counter_value(c) == 0);
    assert_true(vigil_counter_value(other) == 1);
    assert_line(*state, "m_total{k=\"a\"} 0");
    /* The recreated child is now last. */
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    assert_true(strstr(out, "k=\"b\"") < strstr(out, "k=\"a\""));
    free(out);
    /* Many create/remove cycles keep starting from zero. */
    for (int i = 0; i < 500; i++) {
        assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("cycle"), &c), VIGIL_OK);
        assert_true(vigil_counter_value(c) == 0);
        vigil_counter_add_u64(c, 7);
        assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("cycle")), VIGIL_OK);
    }
    assert_int_equal(vigil_family_child_count(f), 2);
}

static void test_removed_histogram_and_gauge_children_start_from_zero(void **state)
{
    const char *labels[] = {"k"};
    vigil_family *hf = new_family(*state, VIGIL_HISTOGRAM, "h", 1, labels);
    vigil_family *gf = new_family(*state, VIGIL_GAUGE, "g", 1, labels);
    for (int i = 0; i < 100; i++) {
        vigil_histogram *h;
        vigil_gauge *g;
        assert_int_equal(vigil_family_histogram(hf, VIGIL_VALUES("x"), &h), VIGIL_OK);
        assert_int_equal(vigil_family_gauge(gf, VIGIL_VALUES("x"), &g), VIGIL_OK);
        vigil_histogram_snapshot s;
        vigil_histogram_snapshot_read(h, &s);
        assert_int_equal(s.count, 0);
        assert_true(s.sum == 0);
        assert_true(vigil_gauge_value(g) == 0);
        vigil_histogram_observe(h, 0.3);
        vigil_gauge_set(g, 9);
        assert_int_equal(vigil_family_remove(hf, VIGIL_VALUES("x")), VIGIL_OK);
        assert_int_equal(vigil_family_remove(gf, VIGIL_VALUES("x")), VIGIL_OK);
    }
}

static void test_remove_unknown_child_is_enotfound(void **state)
{
    const char *labels[] = {"k"};
    vigil_family *f = new_family(*state, VIGIL_COUNTER, "m", 1, labels);
    assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("nope")), VIGIL_ENOTFOUND);
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("a"), &c), VIGIL_OK);
    assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("nope")), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("a", "b")), VIGIL_ELABELS);
    assert_int_equal(vigil_family_remove(NULL, VIGIL_VALUES("a")), VIGIL_EINVAL);
    assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("a")), VIGIL_OK);
    assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("a")), VIGIL_ENOTFOUND);
}

static void test_clear_removes_every_child(void **state)
{
    vigil_registry *reg = *state;
    const char *labels[] = {"k"};
    vigil_family *f = new_family(reg, VIGIL_COUNTER, "m", 1, labels);
    char v[16];
    for (int i = 0; i < 100; i++) {
        snprintf(v, sizeof v, "%d", i);
        const char *vals[] = {v};
        vigil_counter *c;
        assert_int_equal(vigil_family_counter(f, 1, vals, &c), VIGIL_OK);
        vigil_counter_inc(c);
    }
    assert_int_equal(vigil_registry_child_count(reg), 100);
    vigil_family_clear(f);
    vigil_family_clear(NULL);
    assert_int_equal(vigil_family_child_count(f), 0);
    assert_int_equal(vigil_registry_child_count(reg), 0);
    /* A labelled family without children is not rendered at all. */
    assert_no_text(reg, "m_total");
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("5"), &c), VIGIL_OK);
    assert_true(vigil_counter_value(c) == 0);
    assert_line(reg, "m_total{k=\"5\"} 0");
    vigil_family_clear(f);
    vigil_family_clear(f);
    assert_int_equal(vigil_family_child_count(f), 0);
}

static void test_cardinality_guard_refuses_label_sets_past_max_children(void **state)
{
    vigil_registry *reg = *state;
    const char *labels[] = {"user"};
    vigil_metric_opts o = opts_named("logins");
    o.label_names = labels;
    o.label_count = 1;
    o.max_children = 3;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &o, &f), VIGIL_OK);
    vigil_counter *a, *b, *c, *d;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("a"), &a), VIGIL_OK);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("b"), &b), VIGIL_OK);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("c"), &c), VIGIL_OK);
    assert_no_text(reg, "vigil_series_refused_total{");
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("d"), &d), VIGIL_ECARDINALITY);
    assert_non_null(strstr(vigil_errmsg(), "logins"));
    assert_int_equal(vigil_family_refused(f), 1);
    assert_int_equal(vigil_family_child_count(f), 3);
    /* Existing children are still found. */
    vigil_counter *again;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("b"), &again), VIGIL_OK);
    assert_ptr_equal(again, b);
    assert_int_equal(vigil_family_refused(f), 1);
    assert_line(reg, "vigil_series_refused_total{metric=\"logins\"} 1");
    assert_no_text(reg, "user=\"d\"");
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("e"), &d), VIGIL_ECARDINALITY);
    assert_line(reg, "vigil_series_refused_total{metric=\"logins\"} 2");
    /* Removing one makes room. */
    assert_int_equal(vigil_family_remove(f, VIGIL_VALUES("a")), VIGIL_OK);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("d"), &d), VIGIL_OK);
    assert_int_equal(vigil_family_refused(f), 2);
}

static void test_registry_max_children_applies_to_later_families(void **state)
{
    vigil_registry *reg = *state;
    const char *labels[] = {"k"};
    vigil_family *before = new_family(reg, VIGIL_GAUGE, "before", 1, labels);
    vigil_registry_set_max_children(reg, 2);
    vigil_family *after = new_family(reg, VIGIL_GAUGE, "after", 1, labels);
    vigil_gauge *g;
    static const char *const vals[] = {"1", "2", "3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(vigil_family_gauge(before, 1, &vals[i], &g), VIGIL_OK);
    assert_int_equal(vigil_family_gauge(after, 1, &vals[0], &g), VIGIL_OK);
    assert_int_equal(vigil_family_gauge(after, 1, &vals[1], &g), VIGIL_OK);
    assert_int_equal(vigil_family_gauge(after, 1, &vals[2], &g), VIGIL_ECARDINALITY);
    vigil_registry_set_max_children(reg, 0);
    vigil_family *restored = new_family(reg, VIGIL_GAUGE, "restored", 1, labels);
    for (int i = 0; i < 3; i++)
        assert_int_equal(vigil_family_gauge(restored, 1, &vals[i], &g), VIGIL_OK);
}

/* --- global labels --------------------------------------------------------------------------- */

static void test_global_labels_are_added_to_every_series(void **state)
{
    vigil_registry *reg = *state;
    vigil_label globals[] = {{"service", "api"}, {"region", "eu-1"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, globals, 2), VIGIL_OK);
    const char *labels[] = {"code"};
    vigil_family *f = new_family(reg, VIGIL_COUNTER, "requests", 1, labels);
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("200"), &c), VIGIL_OK);
    vigil_counter_inc(c);
    vigil_metric_opts o = opts_named("up");
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_OK);
    vigil_gauge_set(g, 1);
    assert_line(reg, "requests_total{code=\"200\",service=\"api\",region=\"eu-1\"} 1");
    assert_line(reg, "up{service=\"api\",region=\"eu-1\"} 1");
    /* Replacing them takes effect at the next render. */
    vigil_label one[] = {{"service", "web"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, one, 1), VIGIL_OK);
    assert_line(reg, "up{service=\"web\"} 1");
    assert_int_equal(vigil_registry_set_global_labels(reg, NULL, 0), VIGIL_OK);
    assert_line(reg, "up 1");
}

static void test_global_labels_are_validated(void **state)
{
    vigil_registry *reg = *state;
    vigil_label le[] = {{"le", "1"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, le, 1), VIGIL_ERESERVED);
    vigil_label quantile[] = {{"quantile", "1"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, quantile, 1), VIGIL_ERESERVED);
    vigil_label bad_name[] = {{"a-b", "1"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, bad_name, 1), VIGIL_ENAME);
    vigil_label reserved[] = {{"__a", "1"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, reserved, 1), VIGIL_ERESERVED);
    vigil_label dup[] = {{"a", "1"}, {"a", "2"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, dup, 2), VIGIL_ELABELS);
    vigil_label bad_value[] = {{"a", "\xc3"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, bad_value, 1), VIGIL_ELABELS);
    vigil_label no_value[] = {{"a", NULL}};
    assert_int_equal(vigil_registry_set_global_labels(reg, no_value, 1), VIGIL_ELABELS);
    assert_int_equal(vigil_registry_set_global_labels(reg, NULL, 1), VIGIL_ELABELS);
    assert_int_equal(vigil_registry_set_global_labels(NULL, NULL, 0), VIGIL_EINVAL);
    /* A global label must not clash with a registered family's labels, either way round. */
    const char *labels[] = {"zone"};
    new_family(reg, VIGIL_GAUGE, "m", 1, labels);
    vigil_label zone[] = {{"zone", "a"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, zone, 1), VIGIL_ELABELS);
    vigil_label host[] = {{"host", "h1"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, host, 1), VIGIL_OK);
    const char *host_label[] = {"host"};
    vigil_metric_opts o = opts_named("n");
    o.label_names = host_label;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_ELABELS);
    vigil_label const_host[] = {{"host", "h2"}};
    vigil_metric_opts oc = opts_named("n");
    oc.const_labels = const_host;
    oc.const_label_count = 1;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &oc, &f), VIGIL_ELABELS);
    /* A refused change keeps the previous labels. */
    vigil_metric_opts og = opts_named("up");
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &og, &g), VIGIL_OK);
    assert_line(reg, "up{host=\"h1\"} 0");
}

/* --- callbacks ------------------------------------------------------------------------------- */

static double count_calls(void *user)
{
    return (double)++*(int *)user;
}

static double half(void *user)
{
    return *(double *)user / 2;
}

static void test_callback_gauge_and_counter_are_read_at_collect(void **state)
{
    vigil_registry *reg = *state;
    int calls = 0;
    double depth = 9;
    vigil_metric_opts o = opts_named("renders");
    o.help = "Times the callback was read.";
    assert_int_equal(vigil_counter_func_new(reg, &o, count_calls, &calls), VIGIL_OK);
    vigil_metric_opts og = opts_named("queue_depth");
    assert_int_equal(vigil_gauge_func_new(reg, &og, half, &depth), VIGIL_OK);
    assert_int_equal(calls, 0);
    assert_line(reg, "renders_total 1");
    assert_line(reg, "queue_depth 4.5");
    depth = 3;
    assert_line(reg, "renders_total 3");
    assert_line(reg, "queue_depth 1.5");
    assert_int_equal(vigil_registry_child_count(reg), 2);
    /* A callback family has no children to hand out. */
    vigil_family *f = vigil_registry_find(reg, "queue_depth");
    assert_non_null(f);
    vigil_gauge *g;
    assert_int_equal(vigil_family_gauge(f, 0, NULL, &g), VIGIL_ETYPE);
    /* Names are checked as for any registration. */
    assert_int_equal(vigil_gauge_func_new(reg, &og, half, &depth), VIGIL_EEXIST);
    assert_int_equal(vigil_gauge_func_new(reg, &og, NULL, &depth), VIGIL_EINVAL);
    const char *labels[] = {"a"};
    vigil_metric_opts ol = opts_named("labelled_cb");
    ol.label_names = labels;
    ol.label_count = 1;
    assert_int_equal(vigil_gauge_func_new(reg, &ol, half, &depth), VIGIL_ELABELS);
    assert_null(vigil_registry_find(reg, "labelled_cb"));
    vigil_label consts[] = {{"pool", "main"}};
    vigil_metric_opts oc = opts_named("pool_size");
    oc.const_labels = consts;
    oc.const_label_count = 1;
    assert_int_equal(vigil_gauge_func_new(reg, &oc, half, &depth), VIGIL_OK);
    assert_line(reg, "pool_size{pool=\"main\"} 1.5");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_registry, teardown_registry)
    const struct CMUnitTest tests[] = {
        T(test_counter_inc_add_and_add_u64_accumulate),
        T(test_inline_and_out_of_line_counter_calls_agree),
        T(test_counter_rejects_negative_add),
        T(test_counter_rejects_nan_add),
        T(test_counter_accepts_fractional_adds),
        T(test_counter_total_suffix_names_the_same_family),
        T(test_gauge_set_inc_dec_add_sub),
        T(test_gauge_set_to_current_time_reads_the_wall_clock),
        T(test_default_buckets_are_the_client_library_defaults),
        T(test_histogram_uses_default_buckets_without_a_list),
        T(test_linear_buckets_helper),
        T(test_exponential_buckets_helper),
        T(test_histogram_refuses_invalid_bucket_lists),
        T(test_histogram_accepts_explicit_trailing_inf_once),
        T(test_histogram_observation_on_a_bound_goes_into_that_bucket),
        T(test_histogram_nan_observation_counts_in_inf_and_makes_sum_nan),
        T(test_histogram_with_many_buckets_places_every_bound_exactly),
        T(test_histogram_sum_and_count_follow_observations),
        T(test_invalid_metric_names_are_refused),
        T(test_invalid_label_names_are_refused),
        T(test_le_is_reserved_on_histograms_but_allowed_on_gauges),
        T(test_duplicate_label_names_are_refused),
        T(test_const_labels_are_checked_and_rendered_first),
        T(test_too_many_label_names_are_refused),
        T(test_unit_must_end_the_name_and_help_must_be_utf8),
        T(test_duplicate_registration_is_refused_with_eexist),
        T(test_cross_type_series_name_clash_is_refused),
        T(test_self_metric_names_are_reserved),
        T(test_bad_arguments_to_registration_are_einval),
        T(test_unlabelled_shortcut_refuses_label_names),
        T(test_registry_find_by_family_name_and_counter_total_name),
        T(test_unregister_removes_the_family_and_frees_its_names),
        T(test_families_are_rendered_sorted_by_name),
        T(test_family_accessors_describe_the_family),
        T(test_label_count_mismatch_is_refused),
        T(test_invalid_utf8_label_value_is_refused),
        T(test_family_of_another_type_is_refused_with_etype),
        T(test_child_handle_is_stable_across_lookups_and_table_growth),
        T(test_children_with_different_values_are_different),
        T(test_children_are_rendered_in_creation_order),
        T(test_removed_child_is_recreated_from_zero),
        T(test_removed_histogram_and_gauge_children_start_from_zero),
        T(test_remove_unknown_child_is_enotfound),
        T(test_clear_removes_every_child),
        T(test_cardinality_guard_refuses_label_sets_past_max_children),
        T(test_registry_max_children_applies_to_later_families),
        T(test_global_labels_are_added_to_every_series),
        T(test_global_labels_are_validated),
        T(test_callback_gauge_and_counter_are_read_at_collect),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
