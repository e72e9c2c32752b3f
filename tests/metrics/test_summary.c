/* test_summary.c — registry-owned summaries: windowed quantiles from the sketch, _count and
 * _sum over all time, labels, both exposition formats, option checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../support/vigil_test.h"

#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "vigil/sketch.h"

static vigil_metric_opts summary_opts(const char *name)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = name;
    o.help = "Request latency.";
    return o;
}

static void test_summary_counts_sums_and_quantiles(void **state)
{
    vigil_metric_opts o = summary_opts("rpc_seconds");
    vigil_summary *s;
    assert_int_equal(vigil_summary_new(*state, &o, &s), VIGIL_OK);
    for (int i = 1; i <= 1000; i++)
        vigil_summary_observe(s, i / 1000.0);
    assert_int_equal(vigil_summary_count(s), 1000);
    assert_true(fabs(vigil_summary_sum(s) - 500.5) < 1e-9);
    /* Rank floor(q * 999) of 0.001 .. 1.000. */
    const double qs[] = {0.5, 0.9, 0.99};
    const double exact[] = {0.500, 0.900, 0.990};
    for (int k = 0; k < 3; k++) {
        double got = vigil_summary_quantile(s, qs[k]);
        assert_true(fabs(got - exact[k]) / exact[k] <= VIGIL_SKETCH_REL_ERROR + 0.0011);
    }
}

static void test_summary_renders_in_both_formats_with_default_quantiles(void **state)
{
    vigil_metric_opts o = summary_opts("rpc_seconds");
    o.unit = "seconds";
    const char *labels[] = {"method"};
    o.label_names = labels;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(*state, VIGIL_SUMMARY, &o, &f), VIGIL_OK);
    vigil_summary *get;
    assert_int_equal(vigil_family_summary(f, VIGIL_VALUES("GET"), &get), VIGIL_OK);
    vigil_summary_observe(get, 0.25);
    vigil_summary_observe(get, 0.25);

    char *text = render(*state, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(text, "# TYPE rpc_seconds summary");
    ASSERT_LINE(text, "rpc_seconds{method=\"GET\",quantile=\"0.5\"} 0.25");
    ASSERT_LINE(text, "rpc_seconds{method=\"GET\",quantile=\"0.9\"} 0.25");
    ASSERT_LINE(text, "rpc_seconds{method=\"GET\",quantile=\"0.99\"} 0.25");
    ASSERT_LINE(text, "rpc_seconds_sum{method=\"GET\"} 0.5");
    ASSERT_LINE(text, "rpc_seconds_count{method=\"GET\"} 2");
    assert_null(strstr(text, "_created"));
    free(text);

    char *om = render(*state, VIGIL_FORMAT_OPENMETRICS);
    ASSERT_LINE(om, "# UNIT rpc_seconds seconds");
    ASSERT_LINE(om, "rpc_seconds_count{method=\"GET\"} 2");
    assert_non_null(strstr(om, "rpc_seconds_created{method=\"GET\"} "));
    free(om);
}

static void test_summary_with_no_observation_in_window_reports_nan(void **state)
{
    vigil_metric_opts o = summary_opts("idle_seconds");
    vigil_summary *s;
    assert_int_equal(vigil_summary_new(*state, &o, &s), VIGIL_OK);
    char *text = render(*state, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(text, "idle_seconds{quantile=\"0.5\"} NaN");
    ASSERT_LINE(text, "idle_seconds_count 0");
    free(text);
    assert_true(isnan(vigil_summary_quantile(s, 0.5)));
}

static void test_summary_window_forgets_old_observations(void **state)
{
    vigil_metric_opts o = summary_opts("short_seconds");
    o.max_age_seconds = 0.3;
    o.age_buckets = 3;
    vigil_summary *s;
    assert_int_equal(vigil_summary_new(*state, &o, &s), VIGIL_OK);
    vigil_summary_observe(s, 5);
    assert_true(vigil_summary_quantile(s, 0.5) == 5);
    usleep(700 * 1000); /* more than twice the window */
    assert_true(isnan(vigil_summary_quantile(s, 0.5)));
    vigil_summary_observe(s, 2);
    assert_true(vigil_summary_quantile(s, 0.5) == 2);
    assert_int_equal(vigil_summary_count(s), 2); /* count and sum are over all time */
    assert_true(vigil_summary_sum(s) == 7);
}

static void test_summary_negative_observations_count_but_have_no_quantile(void **state)
{
    vigil_metric_opts o = summary_opts("delta");
    vigil_summary *s;
    assert_int_equal(vigil_summary_new(*state, &o, &s), VIGIL_OK);
    vigil_summary_observe(s, -3);
    vigil_summary_observe(s, 1);
    assert_int_equal(vigil_summary_count(s), 2);
    assert_true(vigil_summary_sum(s) == -2);
    assert_true(vigil_summary_quantile(s, 0.5) == 1);
    /* OpenMetrics forbids a negative _sum: both _sum and _count are left out there. */
    char *om = render(*state, VIGIL_FORMAT_OPENMETRICS);
    assert_null(strstr(om, "delta_sum"));
    assert_null(strstr(om, "delta_count"));
    free(om);
}

static void test_summary_custom_quantiles_and_bad_options(void **state)
{
    vigil_metric_opts o = summary_opts("custom");
    const double qs[] = {0, 0.25, 1};
    o.quantiles = qs;
    o.quantile_count = 3;
    vigil_summary *s;
    assert_int_equal(vigil_summary_new(*state, &o, &s), VIGIL_OK);
    vigil_summary_observe(s, 4);
    vigil_summary_observe(s, 8);
    char *text = render(*state, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(text, "custom{quantile=\"0.0\"} 4");
    ASSERT_LINE(text, "custom{quantile=\"1.0\"} 8");
    free(text);

    vigil_summary *bad;
    const double out_of_range[] = {0.5, 1.5};
    o.name = "bad1";
    o.quantiles = out_of_range;
    o.quantile_count = 2;
    assert_int_equal(vigil_summary_new(*state, &o, &bad), VIGIL_EINVAL);
    o.name = "bad2";
    o.quantiles = NULL;
    o.quantile_count = 0;
    o.max_age_seconds = -1;
    assert_int_equal(vigil_summary_new(*state, &o, &bad), VIGIL_EINVAL);
    o.max_age_seconds = 0;
    o.age_buckets = 61;
    assert_int_equal(vigil_summary_new(*state, &o, &bad), VIGIL_EINVAL);
    o.name = "withquantile";
    o.age_buckets = 0;
    const char *labels[] = {"quantile"};
    o.label_names = labels;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(*state, VIGIL_SUMMARY, &o, &f), VIGIL_ERESERVED);
}

static void test_summary_exposition_is_accepted_by_promtool_and_openmetrics_parser(void **state)
{
    vigil_metric_opts o = summary_opts("job_duration_seconds");
    o.unit = "seconds";
    const char *labels[] = {"queue"};
    o.label_names = labels;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(*state, VIGIL_SUMMARY, &o, &f), VIGIL_OK);
    const char *queues[] = {"fast", "slow \"q\"\\\n", "empty"};
    for (int q = 0; q < 3; q++) {
        vigil_summary *s;
        assert_int_equal(vigil_family_summary(f, VIGIL_VALUES(queues[q]), &s), VIGIL_OK);
        for (int i = 0; q < 2 && i < 100; i++)
            vigil_summary_observe(s, (q + 1) * 0.001 * i);
    }
    char *text = render(*state, VIGIL_FORMAT_TEXT);
    assert_promtool_clean(text);
    free(text);
    char *om = render(*state, VIGIL_FORMAT_OPENMETRICS);
    assert_openmetrics_parses(om);
    free(om);
}

static void test_summary_children_are_removed_and_freed(void **state)
{
    vigil_metric_opts o = summary_opts("per_user_seconds");
    const char *labels[] = {"user"};
    o.label_names = labels;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(*state, VIGIL_SUMMARY, &o, &f), VIGIL_OK);
    char v[16];
    for (int i = 0; i < 50; i++) {
        snprintf(v, sizeof v, "u%d", i);
        vigil_summary *s;
        assert_int_equal(vigil_family_summary(f, VIGIL_VALUES(v), &s), VIGIL_OK);
        vigil_summary_observe(s, i);
    }
    for (int i = 0; i < 50; i += 2) {
        snprintf(v, sizeof v, "u%d", i);
        assert_int_equal(vigil_family_remove(f, VIGIL_VALUES(v)), VIGIL_OK);
    }
    assert_int_equal(vigil_family_child_count(f), 25);
    vigil_gauge *g;
    assert_int_equal(vigil_family_gauge(f, VIGIL_VALUES("x"), &g), VIGIL_ETYPE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_summary_counts_sums_and_quantiles, setup_registry,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_summary_renders_in_both_formats_with_default_quantiles,
                                        setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(test_summary_with_no_observation_in_window_reports_nan,
                                        setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(test_summary_window_forgets_old_observations,
                                        setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(
            test_summary_negative_observations_count_but_have_no_quantile, setup_registry,
            teardown_registry),
        cmocka_unit_test_setup_teardown(test_summary_custom_quantiles_and_bad_options,
                                        setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(
            test_summary_exposition_is_accepted_by_promtool_and_openmetrics_parser,
            setup_registry, teardown_registry),
        cmocka_unit_test_setup_teardown(test_summary_children_are_removed_and_freed,
                                        setup_registry, teardown_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
