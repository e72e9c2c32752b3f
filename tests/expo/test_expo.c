/* test_expo.c — the two encoders, byte for byte. A small registry with one family of each kind
 * (plus the awkward cases: escapes in HELP and label values, NaN and infinities, a labelled
 * family without children, a counter whose name ends in _total) is rendered in the Prometheus
 * text format 0.0.4 and in OpenMetrics 1.0.0 and compared with golden strings. The _created
 * timestamps are pinned through the private child struct so the golden output is fixed. Then
 * the render's buffer contract: a cap gives VIGIL_ELIMIT with the buffer as it was, and the
 * output is always NUL-terminated. */
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

#include "metrics/metrics_int.h"
#include "vigil/buffer.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

static void pin_created(void *handle, double t)
{
    ((vigil__child *)handle)->created = t;
}

/* Builds the registry every golden test renders. */
static int setup_golden(void **state)
{
    vigil_registry *reg;
    if (vigil_registry_new(&reg) != VIGIL_OK)
        return -1;
    vigil_metric_opts o;

    vigil_metric_opts_init(&o);
    o.name = "a_first_total";
    vigil_counter *first;
    assert_int_equal(vigil_counter_new(reg, &o, &first), VIGIL_OK);
    pin_created(first, 1700000000);

    const char *req_labels[] = {"method", "code"};
    vigil_metric_opts_init(&o);
    o.name = "http_requests";
    o.help = "Requests \"served\"\\ok\nline2";
    o.label_names = req_labels;
    o.label_count = 2;
    vigil_family *req;
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &o, &req), VIGIL_OK);
    vigil_counter *get, *post;
    assert_int_equal(vigil_family_counter(req, VIGIL_VALUES("GET", "200"), &get), VIGIL_OK);
    assert_int_equal(vigil_family_counter(req, VIGIL_VALUES("POST", "500"), &post), VIGIL_OK);
    vigil_counter_add_u64(get, 3);
    assert_int_equal(vigil_counter_add(post, 1.5), VIGIL_OK);
    pin_created(get, 1700000000.5);
    pin_created(post, 1700000001.25);

    static const double bounds[] = {0.1, 1, 1234567};
    vigil_metric_opts_init(&o);
    o.name = "latency_seconds";
    o.help = "Latency.";
    o.unit = "seconds";
    o.buckets = bounds;
    o.bucket_count = 3;
    vigil_histogram *lat;
    assert_int_equal(vigil_histogram_new(reg, &o, &lat), VIGIL_OK);
    vigil_histogram_observe(lat, 0.0625);
    vigil_histogram_observe(lat, 0.5);
    vigil_histogram_observe(lat, 2);
    pin_created(lat, 1700000002);

    const char *kind[] = {"kind"};
    vigil_metric_opts_init(&o);
    o.name = "special";
    o.label_names = kind;
    o.label_count = 1;
    vigil_family *special;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &special), VIGIL_OK);
    vigil_gauge *g;
    assert_int_equal(vigil_family_gauge(special, VIGIL_VALUES("nan"), &g), VIGIL_OK);
    vigil_gauge_set(g, NAN);
    assert_int_equal(vigil_family_gauge(special, VIGIL_VALUES("pinf"), &g), VIGIL_OK);
    vigil_gauge_set(g, INFINITY);
    assert_int_equal(vigil_family_gauge(special, VIGIL_VALUES("minf"), &g), VIGIL_OK);
    vigil_gauge_set(g, -INFINITY);

    vigil_label sensor[] = {{"sensor", "a\"b\\c\nd"}};
    vigil_metric_opts_init(&o);
    o.name = "temperature_celsius";
    o.help = "Temperature.";
    o.unit = "celsius";
    o.const_labels = sensor;
    o.const_label_count = 1;
    vigil_gauge *temp;
    assert_int_equal(vigil_gauge_new(reg, &o, &temp), VIGIL_OK);
    vigil_gauge_set(temp, -2.5);

    vigil_metric_opts_init(&o);
    o.name = "unused";
    o.help = "Never has children.";
    o.label_names = kind;
    o.label_count = 1;
    vigil_family *unused;
    assert_int_equal(vigil_family_new(reg, VIGIL_HISTOGRAM, &o, &unused), VIGIL_OK);

    *state = reg;
    return 0;
}

static int setup_empty(void **state)
{
    vigil_registry *reg;
    if (vigil_registry_new(&reg) != VIGIL_OK)
        return -1;
    *state = reg;
    return 0;
}

#define SELF_TEXT                                                                            \
    "# HELP vigil_series_refused_total Label sets refused because their family reached its " \
    "maximum number of children.\n"                                                          \
    "# TYPE vigil_series_refused_total counter\n"                                            \
    "# HELP vigil_collector_errors_total Collections in which a custom collector failed or " \
    "emitted invalid data.\n"                                                                \
    "# TYPE vigil_collector_errors_total counter\n"

#define SELF_OM                                                                                \
    "# HELP vigil_series_refused Label sets refused because their family reached its maximum " \
    "number of children.\n"                                                                    \
    "# TYPE vigil_series_refused counter\n"                                                    \
    "# HELP vigil_collector_errors Collections in which a custom collector failed or emitted " \
    "invalid data.\n"                                                                          \
    "# TYPE vigil_collector_errors counter\n"

static void test_text_format_golden_output(void **state)
{
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    assert_golden(out, "# TYPE a_first_total counter\n"
                       "a_first_total 0\n"
                       "# HELP http_requests_total Requests \"served\"\\\\ok\\nline2\n"
                       "# TYPE http_requests_total counter\n"
                       "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
                       "http_requests_total{method=\"POST\",code=\"500\"} 1.5\n"
                       "# HELP latency_seconds Latency.\n"
                       "# TYPE latency_seconds histogram\n"
                       "latency_seconds_bucket{le=\"0.1\"} 1\n"
                       "latency_seconds_bucket{le=\"1.0\"} 2\n"
                       "latency_seconds_bucket{le=\"1.234567e+06\"} 3\n"
                       "latency_seconds_bucket{le=\"+Inf\"} 3\n"
                       "latency_seconds_sum 2.5625\n"
                       "latency_seconds_count 3\n"
                       "# TYPE special gauge\n"
                       "special{kind=\"nan\"} NaN\n"
                       "special{kind=\"pinf\"} +Inf\n"
                       "special{kind=\"minf\"} -Inf\n"
                       "# HELP temperature_celsius Temperature.\n"
                       "# TYPE temperature_celsius gauge\n"
                       "temperature_celsius{sensor=\"a\\\"b\\\\c\\nd\"} -2.5\n" SELF_TEXT);
    free(out);
}

static void test_openmetrics_golden_output(void **state)
{
    char *out = render(*state, VIGIL_FORMAT_OPENMETRICS);
    assert_golden(out, "# TYPE a_first counter\n"
                       "a_first_total 0\n"
                       "a_first_created 1700000000\n"
                       "# HELP http_requests Requests \\\"served\\\"\\\\ok\\nline2\n"
                       "# TYPE http_requests counter\n"
                       "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
                       "http_requests_created{method=\"GET\",code=\"200\"} 1700000000.5\n"
                       "http_requests_total{method=\"POST\",code=\"500\"} 1.5\n"
                       "http_requests_created{method=\"POST\",code=\"500\"} 1700000001.25\n"
                       "# HELP latency_seconds Latency.\n"
                       "# TYPE latency_seconds histogram\n"
                       "# UNIT latency_seconds seconds\n"
                       "latency_seconds_bucket{le=\"0.1\"} 1\n"
                       "latency_seconds_bucket{le=\"1.0\"} 2\n"
                       "latency_seconds_bucket{le=\"1.234567e+06\"} 3\n"
                       "latency_seconds_bucket{le=\"+Inf\"} 3\n"
                       "latency_seconds_sum 2.5625\n"
                       "latency_seconds_count 3\n"
                       "latency_seconds_created 1700000002\n"
                       "# TYPE special gauge\n"
                       "special{kind=\"nan\"} NaN\n"
                       "special{kind=\"pinf\"} +Inf\n"
                       "special{kind=\"minf\"} -Inf\n"
                       "# HELP temperature_celsius Temperature.\n"
                       "# TYPE temperature_celsius gauge\n"
                       "# UNIT temperature_celsius celsius\n"
                       "temperature_celsius{sensor=\"a\\\"b\\\\c\\nd\"} -2.5\n" SELF_OM "# EOF\n");
    free(out);
}

static void test_empty_registry_renders_only_self_metric_headers(void **state)
{
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    assert_golden(out, SELF_TEXT);
    free(out);
    out = render(*state, VIGIL_FORMAT_OPENMETRICS);
    assert_golden(out, SELF_OM "# EOF\n");
    free(out);
}

static void test_render_output_is_nul_terminated_in_a_reused_buffer(void **state)
{
    for (int f = 0; f < 2; f++) {
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        char *p = vigil_buffer_reserve(&b, 16384);
        assert_non_null(p);
        memset(b.data, 'X', b.cap); /* what a previous, longer output would leave */
        assert_int_equal(vigil_expo_render(*state, (vigil_format)f, &b), VIGIL_OK);
        assert_true(b.len > 0);
        assert_int_equal(b.data[b.len], '\0');
        assert_int_equal(strlen(b.data), b.len);
        vigil_buffer_free(&b);
    }
}

static void test_render_appends_after_existing_content(void **state)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_buffer_append(&b, "prefix\n", 7), VIGIL_OK);
    assert_int_equal(vigil_expo_render(*state, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
    char *alone = render(*state, VIGIL_FORMAT_TEXT);
    assert_int_equal(b.len, 7 + strlen(alone));
    assert_memory_equal(b.data, "prefix\n", 7);
    assert_string_equal(b.data + 7, alone);
    free(alone);
    vigil_buffer_free(&b);
}

static void test_render_into_a_small_buffer_fails_with_elimit_and_restores_length(void **state)
{
    char *full = render(*state, VIGIL_FORMAT_OPENMETRICS);
    size_t full_len = strlen(full);
    free(full);
    /* Every cap short of the full output fails cleanly, wherever the output is cut. */
    for (size_t limit = 8; limit < full_len + 8; limit += (limit < 200 ? 1 : 37)) {
        vigil_buffer b;
        vigil_buffer_init(&b, limit);
        assert_int_equal(vigil_buffer_append(&b, "keep", 4), VIGIL_OK);
        vigil_status st = vigil_expo_render(*state, VIGIL_FORMAT_OPENMETRICS, &b);
        if (4 + full_len <= limit) {
            assert_int_equal(st, VIGIL_OK);
        } else {
            assert_int_equal(st, VIGIL_ELIMIT);
            assert_int_equal(b.len, 4);
            assert_string_equal(vigil_buffer_cstr(&b), "keep");
        }
        vigil_buffer_free(&b);
    }
}

static void test_render_refuses_bad_arguments(void **state)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(NULL, VIGIL_FORMAT_TEXT, &b), VIGIL_EINVAL);
    assert_int_equal(vigil_expo_render(*state, VIGIL_FORMAT_TEXT, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_expo_render(*state, (vigil_format)7, &b), VIGIL_EINVAL);
    assert_int_equal(b.len, 0);
    vigil_buffer_free(&b);
}

static void test_refused_series_are_rendered_with_the_family_name(void **state)
{
    vigil_registry *reg = *state;
    const char *labels[] = {"user"};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "logins_total";
    o.label_names = labels;
    o.label_count = 1;
    o.max_children = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &o, &f), VIGIL_OK);
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("a"), &c), VIGIL_OK);
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("b"), &c), VIGIL_ECARDINALITY);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_non_null(strstr(out, "# TYPE vigil_series_refused_total counter\n"
                                "vigil_series_refused_total{metric=\"logins\"} 1\n"));
    free(out);
    out = render(reg, VIGIL_FORMAT_OPENMETRICS);
    assert_non_null(strstr(out, "# TYPE vigil_series_refused counter\n"
                                "vigil_series_refused_total{metric=\"logins\"} 1\n"));
    free(out);
}

static vigil_status emit_untyped_and_summary(vigil_emitter *em, void *user)
{
    (void)user;
    vigil_family_desc u = {"legacy", "Quote \" and backslash \\.", NULL, VIGIL_UNTYPED};
    vigil_status st = vigil_emit_family(em, &u);
    vigil_label l[] = {{"path", "C:\\dir \"x\""}};
    if (st == VIGIL_OK)
        st = vigil_emit_sample(em, l, 1, 0.5);
    vigil_family_desc s = {"rpc_seconds", NULL, "seconds", VIGIL_SUMMARY};
    if (st == VIGIL_OK)
        st = vigil_emit_family(em, &s);
    double q[] = {0, 0.5, 1}, qv[] = {0.001, 0.01, 0.1};
    if (st == VIGIL_OK)
        st = vigil_emit_summary(em, NULL, 0, 3, q, qv, 12, 0.25);
    return st;
}

static void test_collector_untyped_and_summary_are_encoded_per_format(void **state)
{
    assert_int_equal(vigil_registry_add_collector(*state, "c", emit_untyped_and_summary, NULL),
                     VIGIL_OK);
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    const char *want_text = "# HELP legacy Quote \" and backslash \\\\.\n"
                            "# TYPE legacy untyped\n"
                            "legacy{path=\"C:\\\\dir \\\"x\\\"\"} 0.5\n"
                            "# TYPE rpc_seconds summary\n"
                            "rpc_seconds{quantile=\"0.0\"} 0.001\n"
                            "rpc_seconds{quantile=\"0.5\"} 0.01\n"
                            "rpc_seconds{quantile=\"1.0\"} 0.1\n"
                            "rpc_seconds_sum 0.25\n"
                            "rpc_seconds_count 12\n";
    if (strstr(out, want_text) == NULL)
        fail_msg("want:\n%s\n--- got ---\n%s", want_text, out);
    free(out);
    out = render(*state, VIGIL_FORMAT_OPENMETRICS);
    const char *want_om = "# HELP legacy Quote \\\" and backslash \\\\.\n"
                          "# TYPE legacy unknown\n"
                          "legacy{path=\"C:\\\\dir \\\"x\\\"\"} 0.5\n"
                          "# TYPE rpc_seconds summary\n"
                          "# UNIT rpc_seconds seconds\n"
                          "rpc_seconds{quantile=\"0.0\"} 0.001\n";
    if (strstr(out, want_om) == NULL)
        fail_msg("want:\n%s\n--- got ---\n%s", want_om, out);
    free(out);
}

static void test_global_labels_follow_child_labels_and_precede_le(void **state)
{
    vigil_registry *reg = *state;
    vigil_label g[] = {{"service", "api"}};
    assert_int_equal(vigil_registry_set_global_labels(reg, g, 1), VIGIL_OK);
    const char *labels[] = {"route"};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "rt";
    o.label_names = labels;
    o.label_count = 1;
    static const double b[] = {1};
    o.buckets = b;
    o.bucket_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_HISTOGRAM, &o, &f), VIGIL_OK);
    vigil_histogram *h;
    assert_int_equal(vigil_family_histogram(f, VIGIL_VALUES("/x"), &h), VIGIL_OK);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_non_null(strstr(out, "rt_bucket{route=\"/x\",service=\"api\",le=\"1.0\"} 0\n"
                                "rt_bucket{route=\"/x\",service=\"api\",le=\"+Inf\"} 0\n"
                                "rt_sum{route=\"/x\",service=\"api\"} 0\n"
                                "rt_count{route=\"/x\",service=\"api\"} 0\n"));
    free(out);
}

static void test_long_label_values_and_help_are_rendered_whole(void **state)
{
    vigil_registry *reg = *state;
    size_t n = 100000;
    char *big = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        big[i] = (i % 1000 == 999) ? '\n' : (i % 7 == 0 ? '"' : 'v');
    big[n] = '\0';
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "big";
    o.help = big;
    const char *labels[] = {"v"};
    o.label_names = labels;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_GAUGE, &o, &f), VIGIL_OK);
    vigil_gauge *g;
    const char *vals[] = {big};
    assert_int_equal(vigil_family_gauge(f, 1, vals, &g), VIGIL_OK);
    for (int fmt = 0; fmt < 2; fmt++) {
        char *out = render(reg, (vigil_format)fmt);
        /* Every quote in the value is escaped, every newline too. */
        assert_true(strlen(out) > 2 * n);
        assert_non_null(strstr(out, "\"} 0\n"));
        free(out);
    }
    free(big);
}

static void test_openmetrics_omits_sum_of_histograms_with_negative_observations(void **state)
{
    vigil_registry *reg = *state;
    const double neg[] = {-1, 0, 1};
    const double pos[] = {1, 2};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "neg_bounds";
    o.buckets = neg;
    o.bucket_count = 3;
    vigil_histogram *a, *b;
    assert_int_equal(vigil_histogram_new(reg, &o, &a), VIGIL_OK);
    vigil_histogram_observe(a, 5); /* sum positive, but the bounds allow negatives */
    o.name = "neg_sum";
    o.buckets = pos;
    o.bucket_count = 2;
    assert_int_equal(vigil_histogram_new(reg, &o, &b), VIGIL_OK);
    vigil_histogram_observe(b, -3);
    char *om = render(reg, VIGIL_FORMAT_OPENMETRICS);
    assert_null(strstr(om, "neg_bounds_sum"));
    assert_null(strstr(om, "neg_sum_sum"));
    assert_null(strstr(om, "neg_sum_count"));
    assert_non_null(strstr(om, "neg_sum_bucket{le=\"+Inf\"} 1\n"));
    free(om);
    char *text = render(reg, VIGIL_FORMAT_TEXT);
    assert_non_null(strstr(text, "neg_bounds_sum 5\n"));
    assert_non_null(strstr(text, "neg_sum_sum -3\n"));
    free(text);
}

static void test_negative_zero_keeps_its_sign(void **state)
{
    vigil_registry *reg = *state;
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "minus_zero";
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_OK);
    vigil_gauge_set(g, -0.0);
    char *text = render(reg, VIGIL_FORMAT_TEXT);
    assert_non_null(strstr(text, "minus_zero -0\n"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_format_golden_output, setup_golden,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_openmetrics_golden_output, setup_golden,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_empty_registry_renders_only_self_metric_headers,
                                        setup_empty, teardown_registry),
        cmocka_unit_test_setup_teardown(test_render_output_is_nul_terminated_in_a_reused_buffer,
                                        setup_empty, teardown_registry),
        cmocka_unit_test_setup_teardown(test_render_appends_after_existing_content, setup_golden,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(
            test_render_into_a_small_buffer_fails_with_elimit_and_restores_length, setup_golden,
            teardown_registry),
        cmocka_unit_test_setup_teardown(test_render_refuses_bad_arguments, setup_empty,
                                        teardown_registry),
        cmocka_unit_test_setup_teardown(test_refused_series_are_rendered_with_the_family_name,
                                        setup_empty, teardown_registry),
        cmocka_unit_test_setup_teardown(test_collector_untyped_and_summary_are_encoded_per_format,
                                        setup_empty, teardown_registry),
        cmocka_unit_test_setup_teardown(test_global_labels_follow_child_labels_and_precede_le,
                                        setup_empty, teardown_registry),
        cmocka_unit_test_setup_teardown(test_long_label_values_and_help_are_rendered_whole,
                                        setup_empty, teardown_registry),
        cmocka_unit_test_setup_teardown(
            test_openmetrics_omits_sum_of_histograms_with_negative_observations, setup_empty,
            teardown_registry),
        cmocka_unit_test_setup_teardown(test_negative_zero_keeps_its_sign, setup_empty,
                                        teardown_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
