/* test_track_exposition.c — trackers in a registry: the series each one exposes, names checked
 * when the tracker is created, the collector removed by _free, and an exposition holding every
 * kind of tracker (empty ones included) that `promtool check metrics` passes without findings
 * and that Python's strict OpenMetrics parser reads (each skipped when not installed). */
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
#include <sys/wait.h>

#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/track.h"

#define ASSERT_NO_TEXT(out, text)                                               \
    do {                                                                        \
        if (strstr((out), (text)) != NULL)                                      \
            fail_msg("unexpected text: %s\n--- output ---\n%s", (text), (out)); \
    } while (0)

typedef struct fake_clock {
    uint64_t ns;
} fake_clock;

static uint64_t fake_now(void *user)
{
    return ((fake_clock *)user)->ns;
}

static void test_latency_tracker_exposes_a_summary_with_min_and_max(void **state)
{
    vigil_registry *reg = *state;
    vigil_latency_opts o;
    vigil_latency_opts_init(&o);
    o.registry = reg;
    o.name = "db_query";
    o.help = "Time to run a database query.";
    vigil_latency *t;
    assert_int_equal(vigil_latency_new(&o, &t), VIGIL_OK);
    vigil_latency_record(t, 0.25);
    vigil_latency_record(t, 0.25);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "# HELP db_query_seconds Time to run a database query.");
    ASSERT_LINE(out, "# TYPE db_query_seconds summary");
    ASSERT_LINE(out, "db_query_seconds{quantile=\"0.5\"} 0.25");
    ASSERT_LINE(out, "db_query_seconds{quantile=\"0.95\"} 0.25");
    ASSERT_LINE(out, "db_query_seconds{quantile=\"0.99\"} 0.25");
    ASSERT_LINE(out, "db_query_seconds_sum 0.5");
    ASSERT_LINE(out, "db_query_seconds_count 2");
    ASSERT_LINE(out, "# TYPE db_query_min_seconds gauge");
    ASSERT_LINE(out, "db_query_min_seconds 0.25");
    ASSERT_LINE(out, "db_query_max_seconds 0.25");
    free(out);
    vigil_latency_free(t);
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_NO_TEXT(out, "db_query");
    free(out);
}

static void test_latency_base_name_ending_in_seconds_is_not_doubled(void **state)
{
    vigil_registry *reg = *state;
    vigil_latency_opts o;
    vigil_latency_opts_init(&o);
    o.registry = reg;
    o.name = "rpc_seconds";
    vigil_latency *t;
    assert_int_equal(vigil_latency_new(&o, &t), VIGIL_OK);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "# TYPE rpc_seconds summary");
    ASSERT_LINE(out, "rpc_seconds_count 0");
    ASSERT_LINE(out, "rpc_seconds{quantile=\"0.5\"} NaN");
    ASSERT_LINE(out, "rpc_min_seconds NaN");
    ASSERT_NO_TEXT(out, "rpc_seconds_seconds");
    free(out);
    vigil_latency_free(t);
}

static void test_error_tracker_exposes_requests_and_errors_by_kind(void **state)
{
    vigil_registry *reg = *state;
    vigil_errors_opts o;
    vigil_errors_opts_init(&o);
    o.registry = reg;
    o.name = "api";
    o.max_kinds = 1;
    vigil_errors *t;
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_OK);
    vigil_errors_record_successes(t, 3);
    vigil_errors_record_errors(t, "timeout", 2);
    vigil_errors_record_error(t, "refused"); /* over the cap */
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "# TYPE api_requests_total counter");
    ASSERT_LINE(out, "api_requests_total 6");
    ASSERT_LINE(out, "# TYPE api_errors_total counter");
    ASSERT_LINE(out, "api_errors_total{kind=\"timeout\"} 2");
    ASSERT_LINE(out, "api_errors_total{kind=\"other\"} 1");
    free(out);
    vigil_errors_free(t);
}

static void test_throughput_tracker_exposes_total_and_rate(void **state)
{
    vigil_registry *reg = *state;
    fake_clock clk = {0};
    vigil_throughput_opts o;
    vigil_throughput_opts_init(&o);
    o.registry = reg;
    o.name = "jobs";
    o.clock = fake_now;
    o.clock_user = &clk;
    o.export_window_seconds = 10;
    vigil_throughput *t;
    assert_int_equal(vigil_throughput_new(&o, &t), VIGIL_OK);
    vigil_throughput_record_n(t, 30);
    clk.ns = 3000000000ull;
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "jobs_operations_total 30");
    ASSERT_LINE(out, "# HELP jobs_operations_per_second Operations of jobs per second over the "
                     "last 10 s.");
    ASSERT_LINE(out, "jobs_operations_per_second 10");
    free(out);
    vigil_throughput_free(t);
}

static void test_dashboard_exposes_operations_with_labels(void **state)
{
    vigil_registry *reg = *state;
    fake_clock clk = {0};
    vigil_dashboard_opts o;
    vigil_dashboard_opts_init(&o);
    o.registry = reg;
    o.name = "shop";
    o.clock = fake_now;
    o.clock_user = &clk;
    vigil_dashboard *d;
    assert_int_equal(vigil_dashboard_new("shop-api", &o, &d), VIGIL_OK);
    assert_int_equal(vigil_dashboard_record(d, "checkout", 0.5, NULL), VIGIL_OK);
    assert_int_equal(vigil_dashboard_record(d, "checkout", 0.5, "declined"), VIGIL_OK);
    assert_int_equal(vigil_dashboard_record(d, "browse", 0.01, NULL), VIGIL_OK);
    clk.ns = 2000000000ull;
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "# TYPE shop_duration_seconds summary");
    ASSERT_LINE(out, "shop_duration_seconds{operation=\"checkout\",quantile=\"0.5\"} 0.5");
    ASSERT_LINE(out, "shop_duration_seconds_count{operation=\"checkout\"} 2");
    ASSERT_LINE(out, "shop_duration_max_seconds{operation=\"browse\"} 0.01");
    ASSERT_LINE(out, "shop_operations_total{operation=\"checkout\"} 2");
    ASSERT_LINE(out, "shop_operations_per_second{operation=\"checkout\"} 1");
    ASSERT_LINE(out, "shop_errors_total{operation=\"checkout\",kind=\"declined\"} 1");
    ASSERT_LINE(out, "shop_errors_total{operation=\"browse\",kind=\"other\"} 0");
    ASSERT_LINE(out, "shop_operation_health_status{operation=\"checkout\"} 2");
    ASSERT_LINE(out, "shop_operation_health_status{operation=\"browse\"} 0");
    ASSERT_LINE(out, "shop_health_status 2");
    free(out);
    vigil_dashboard_free(d);
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_NO_TEXT(out, "shop_");
    free(out);
}

static void test_tracker_names_are_checked_at_creation(void **state)
{
    vigil_registry *reg = *state;
    vigil_metric_opts mo;
    vigil_metric_opts_init(&mo);
    mo.name = "taken_requests";
    mo.help = "x";
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(reg, &mo, &c), VIGIL_OK);

    vigil_errors_opts eo;
    vigil_errors_opts_init(&eo);
    eo.registry = reg;
    eo.name = "taken";
    vigil_errors *e = NULL;
    assert_int_equal(vigil_errors_new(&eo, &e), VIGIL_EEXIST);
    eo.name = "9lives";
    assert_int_equal(vigil_errors_new(&eo, &e), VIGIL_ENAME);
    eo.name = NULL;
    assert_int_equal(vigil_errors_new(&eo, &e), VIGIL_EINVAL);
    assert_null(e);

    vigil_latency_opts lo;
    vigil_latency_opts_init(&lo);
    lo.registry = reg;
    lo.name = "twice";
    vigil_latency *a, *b = NULL;
    assert_int_equal(vigil_latency_new(&lo, &a), VIGIL_OK);
    assert_int_equal(vigil_latency_new(&lo, &b), VIGIL_EEXIST); /* same collector name */
    assert_null(b);
    vigil_latency_free(a);
    assert_int_equal(vigil_latency_new(&lo, &b), VIGIL_OK); /* free released the name */
    vigil_latency_free(b);

    vigil_throughput_opts to;
    vigil_throughput_opts_init(&to);
    to.registry = reg;
    to.name = "bad name";
    vigil_throughput *t = NULL;
    assert_int_equal(vigil_throughput_new(&to, &t), VIGIL_ENAME);
    assert_null(t);

    vigil_dashboard_opts dopt;
    vigil_dashboard_opts_init(&dopt);
    dopt.registry = reg;
    vigil_dashboard *d = NULL;
    assert_int_equal(vigil_dashboard_new("svc", &dopt, &d), VIGIL_EINVAL); /* no base name */
    assert_null(d);
}

/* Every tracker in one registry, some empty, some with data. */
static void fill_registry(vigil_registry *reg, vigil_latency **l1, vigil_latency **l2,
                          vigil_errors **e, vigil_throughput **t, vigil_dashboard **d)
{
    vigil_latency_opts lo;
    vigil_latency_opts_init(&lo);
    lo.registry = reg;
    lo.name = "http_request";
    lo.help = "HTTP request latency.";
    assert_int_equal(vigil_latency_new(&lo, l1), VIGIL_OK);
    for (int i = 1; i <= 100; i++)
        vigil_latency_record(*l1, i * 0.001);
    lo.name = "idle_task";
    lo.help = NULL;
    assert_int_equal(vigil_latency_new(&lo, l2), VIGIL_OK);

    vigil_errors_opts eo;
    vigil_errors_opts_init(&eo);
    eo.registry = reg;
    eo.name = "http";
    eo.help = "HTTP requests that failed, by kind.";
    assert_int_equal(vigil_errors_new(&eo, e), VIGIL_OK);
    vigil_errors_record_successes(*e, 10);
    vigil_errors_record_error(*e, "timeout");
    vigil_errors_record_error(*e, "quote\"back\\slash\nnewline");

    vigil_throughput_opts to;
    vigil_throughput_opts_init(&to);
    to.registry = reg;
    to.name = "http";
    assert_int_equal(vigil_throughput_new(&to, t), VIGIL_OK);
    vigil_throughput_record_n(*t, 12);

    vigil_dashboard_opts dopt;
    vigil_dashboard_opts_init(&dopt);
    dopt.registry = reg;
    dopt.name = "api";
    assert_int_equal(vigil_dashboard_new("api", &dopt, d), VIGIL_OK);
    vigil_operation *op;
    assert_int_equal(vigil_dashboard_operation(*d, "empty", &op), VIGIL_OK);
    assert_int_equal(vigil_dashboard_record(*d, "login", 0.02, NULL), VIGIL_OK);
    assert_int_equal(vigil_dashboard_record(*d, "login", 0.03, "bad_password"), VIGIL_OK);
}

static bool write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

static void test_exposition_of_every_tracker_passes_promtool(void **state)
{
    vigil_registry *reg = *state;
    vigil_latency *l1, *l2;
    vigil_errors *e;
    vigil_throughput *t;
    vigil_dashboard *d;
    fill_registry(reg, &l1, &l2, &e, &t, &d);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_true(write_file("track.prom", out));
    /* every collector emitted everything it meant to: no collector error counted */
    for (const char *p = out; (p = strstr(p, "\nvigil_collector_errors_total{")) != NULL; p++) {
        const char *eol = strchr(p + 1, '\n');
        assert_non_null(eol);
        if (!(eol[-1] == '0' && eol[-2] == ' '))
            fail_msg("a collector failed: %.*s", (int)(eol - p - 1), p + 1);
    }
    free(out);
    out = render(reg, VIGIL_FORMAT_OPENMETRICS);
    assert_true(write_file("track.om", out));
    free(out);

    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("promtool not found (Debian: prometheus): check skipped\n");
    } else {
        int rc = system("promtool check metrics < track.prom > promtool.out 2>&1");
        if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)) {
            (void)system("cat promtool.out track.prom");
            fail_msg("promtool check metrics failed (exit %d)", rc);
        }
        /* promtool exits 0 on some findings too: require none */
        FILE *f = fopen("promtool.out", "r");
        assert_non_null(f);
        char line[512];
        bool findings = false;
        while (fgets(line, sizeof line, f) != NULL) {
            print_message("promtool: %s", line);
            findings = true;
        }
        fclose(f);
        assert_false(findings);
    }

    const char *py = "/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' "
                     ">/dev/null 2>&1";
    if (system(py) != 0) {
        print_message("prometheus_client not importable: OpenMetrics parse skipped\n");
    } else {
        int rc = system("/usr/bin/python3 -c '"
                        "import sys\n"
                        "from prometheus_client.openmetrics.parser import "
                        "text_string_to_metric_families as p\n"
                        "fams = {f.name: f for f in p(open(\"track.om\").read())}\n"
                        "assert fams[\"http_request_seconds\"].type == \"summary\"\n"
                        "assert fams[\"http_request_seconds\"].unit == \"seconds\"\n"
                        "assert fams[\"http_errors\"].type == \"counter\"\n"
                        "assert fams[\"api_operation_health_status\"].type == \"gauge\"\n"
                        "kinds = [s.labels[\"kind\"] for s in fams[\"http_errors\"].samples "
                        "if s.name == \"http_errors_total\"]\n"
                        "assert \"quote\\\"back\\\\slash\\nnewline\" in kinds, kinds\n"
                        "' 2>&1");
        assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    }
    vigil_latency_free(l1);
    vigil_latency_free(l2);
    vigil_errors_free(e);
    vigil_throughput_free(t);
    vigil_dashboard_free(d);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_registry, teardown_registry)
    const struct CMUnitTest tests[] = {
        T(test_latency_tracker_exposes_a_summary_with_min_and_max),
        T(test_latency_base_name_ending_in_seconds_is_not_doubled),
        T(test_error_tracker_exposes_requests_and_errors_by_kind),
        T(test_throughput_tracker_exposes_total_and_rate),
        T(test_dashboard_exposes_operations_with_labels),
        T(test_tracker_names_are_checked_at_creation),
        T(test_exposition_of_every_tracker_passes_promtool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
