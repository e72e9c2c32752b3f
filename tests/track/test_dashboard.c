/* test_dashboard.c — the health dashboard: status at and just past each threshold, recovery
 * once the window has passed (fake clock), p99 thresholds, the worst operation deciding the
 * service's status; the text report (aligned columns, units, "no data", never "nan") and the
 * JSON report (parsed by Python, nulls for missing figures, escaped strings). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "track/track_int.h"
#include "vigil/buffer.h"
#include "vigil/track.h"

#define SEC 1000000000ull

typedef struct fake_clock {
    uint64_t ns;
} fake_clock;

static uint64_t fake_now(void *user)
{
    return ((fake_clock *)user)->ns;
}

static vigil_dashboard *new_dash(const char *service, fake_clock *clk,
                                 void (*tweak)(vigil_dashboard_opts *))
{
    vigil_dashboard_opts o;
    vigil_dashboard_opts_init(&o);
    o.clock = fake_now;
    o.clock_user = clk;
    if (tweak)
        tweak(&o);
    vigil_dashboard *d = NULL;
    assert_int_equal(vigil_dashboard_new(service, &o, &d), VIGIL_OK);
    return d;
}

static vigil_operation *op_of(vigil_dashboard *d, const char *name)
{
    vigil_operation *op = NULL;
    assert_int_equal(vigil_dashboard_operation(d, name, &op), VIGIL_OK);
    return op;
}

static void record_n(vigil_operation *op, int n, double seconds, const char *kind)
{
    for (int i = 0; i < n; i++)
        vigil_operation_record(op, seconds, kind);
}

static char *text_of(vigil_dashboard *d, bool json)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    vigil_status st = json ? vigil_dashboard_report_json(d, &b) : vigil_dashboard_report(d, &b);
    if (st != VIGIL_OK)
        fail_msg("report: %s (%s)", vigil_strerror(st), vigil_errmsg());
    char *s = strdup(vigil_buffer_cstr(&b));
    vigil_buffer_free(&b);
    return s;
}

#define ASSERT_HAS(text, what)                                  \
    do {                                                        \
        if (strstr((text), (what)) == NULL)                     \
            fail_msg("missing \"%s\" in:\n%s", (what), (text)); \
    } while (0)
#define ASSERT_HAS_NOT(text, what)                                 \
    do {                                                           \
        if (strcasestr((text), (what)) != NULL)                    \
            fail_msg("unexpected \"%s\" in:\n%s", (what), (text)); \
    } while (0)

static void assert_no_nan(const char *text)
{
    ASSERT_HAS_NOT(text, "nan");
    ASSERT_HAS_NOT(text, "inf");
}

/* --- status -------------------------------------------------------------------------------- */

static void test_dashboard_error_rate_thresholds_are_strictly_greater(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, NULL);
    assert_int_equal(vigil_dashboard_status(d), VIGIL_HEALTHY); /* no operations */
    vigil_operation *op = op_of(d, "write");
    assert_int_equal(vigil_operation_status(op), VIGIL_HEALTHY); /* no data */
    record_n(op, 99, 0.001, NULL);
    record_n(op, 1, 0.001, "timeout"); /* exactly 1 %: not above */
    assert_int_equal(vigil_operation_status(op), VIGIL_HEALTHY);
    record_n(op, 1, 0.001, "timeout"); /* 2/101 */
    assert_int_equal(vigil_operation_status(op), VIGIL_DEGRADED);
    assert_int_equal(vigil_dashboard_status(d), VIGIL_DEGRADED);
    record_n(op, 3, 0.001, "timeout"); /* 5/104 = 4.8 % */
    assert_int_equal(vigil_operation_status(op), VIGIL_DEGRADED);
    record_n(op, 1, 0.001, "timeout"); /* 6/105 = 5.7 % */
    assert_int_equal(vigil_operation_status(op), VIGIL_UNHEALTHY);
    assert_int_equal(vigil_dashboard_status(d), VIGIL_UNHEALTHY);
    vigil_dashboard_free(d);
}

static void test_dashboard_exactly_five_percent_is_degraded_not_unhealthy(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, NULL);
    vigil_operation *op = op_of(d, "read");
    record_n(op, 95, 0.001, NULL);
    record_n(op, 5, 0.001, "e");
    assert_int_equal(vigil_operation_status(op), VIGIL_DEGRADED);
    vigil_dashboard_free(d);
}

static void test_dashboard_recovers_once_errors_leave_the_window(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, NULL);
    vigil_operation *op = op_of(d, "read");
    record_n(op, 10, 0.001, "e");
    assert_int_equal(vigil_dashboard_status(d), VIGIL_UNHEALTHY);
    clk.ns += 30 * SEC;
    assert_int_equal(vigil_dashboard_status(d), VIGIL_UNHEALTHY); /* still in the last 60 s */
    record_n(op, 990, 0.001, NULL); /* 10 / 1000 = 1 %: healthy again even inside */
    assert_int_equal(vigil_dashboard_status(d), VIGIL_HEALTHY);
    clk.ns += 31 * SEC; /* the errors' second has left the window, the successes' not */
    assert_int_equal(vigil_dashboard_status(d), VIGIL_HEALTHY);
    clk.ns += 61 * SEC;          /* an empty window */
    record_n(op, 1, 0.001, "e"); /* 1/1 */
    assert_int_equal(vigil_dashboard_status(d), VIGIL_UNHEALTHY);
    clk.ns += 61 * SEC;
    assert_int_equal(vigil_dashboard_status(d), VIGIL_HEALTHY);
    /* all-time figures are kept */
    assert_int_equal(vigil_errors_total(vigil_operation_errors(op)), 11);
    vigil_dashboard_free(d);
}

static void min_requests_10(vigil_dashboard_opts *o)
{
    o->min_requests = 10;
}

static void test_dashboard_min_requests_defers_the_error_verdict(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, min_requests_10);
    vigil_operation *op = op_of(d, "read");
    record_n(op, 1, 0.001, "e");
    assert_int_equal(vigil_operation_status(op), VIGIL_HEALTHY);
    record_n(op, 8, 0.001, NULL);
    assert_int_equal(vigil_operation_status(op), VIGIL_HEALTHY); /* 9 requests */
    record_n(op, 1, 0.001, NULL);
    assert_int_equal(vigil_operation_status(op), VIGIL_UNHEALTHY); /* 1/10 */
    vigil_dashboard_free(d);
}

static void custom_thresholds(vigil_dashboard_opts *o)
{
    o->degraded_error_rate = 0.2;
    o->unhealthy_error_rate = 0.5;
    o->degraded_p99_seconds = 0.1;
    o->unhealthy_p99_seconds = 0.5;
}

static void test_dashboard_p99_thresholds(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, custom_thresholds);
    vigil_operation *op = op_of(d, "query");
    record_n(op, 100, 0.01, NULL);
    assert_int_equal(vigil_operation_status(op), VIGIL_HEALTHY);
    record_n(op, 10, 0.2, NULL); /* p99 (rank 108 of 110) is 0.2 s > 0.1 */
    assert_int_equal(vigil_operation_status(op), VIGIL_DEGRADED);
    record_n(op, 10, 1.0, NULL); /* p99 1.0 s > 0.5 */
    assert_int_equal(vigil_operation_status(op), VIGIL_UNHEALTHY);
    /* per-operation thresholds override the dashboard's; 0 switches the check off */
    assert_int_equal(vigil_operation_set_p99_thresholds(op, 2.0, 0), VIGIL_OK);
    assert_int_equal(vigil_operation_status(op), VIGIL_HEALTHY);
    assert_int_equal(vigil_operation_set_p99_thresholds(op, 0.5, 0.9), VIGIL_OK);
    assert_int_equal(vigil_operation_status(op), VIGIL_UNHEALTHY);
    assert_int_equal(vigil_operation_set_p99_thresholds(op, -1, 0), VIGIL_EINVAL);
    assert_int_equal(vigil_operation_set_p99_thresholds(op, NAN, 0), VIGIL_EINVAL);
    /* the custom error thresholds: 15 % is fine, 30 % degraded, 60 % unhealthy */
    vigil_operation *w = op_of(d, "write");
    record_n(w, 85, 0.001, NULL);
    record_n(w, 15, 0.001, "x");
    assert_int_equal(vigil_operation_status(w), VIGIL_HEALTHY);
    record_n(w, 30, 0.001, "x"); /* 45/130 */
    assert_int_equal(vigil_operation_status(w), VIGIL_DEGRADED);
    record_n(w, 100, 0.001, "x"); /* 145/230 */
    assert_int_equal(vigil_operation_status(w), VIGIL_UNHEALTHY);
    vigil_dashboard_free(d);
}

static void test_dashboard_status_is_the_worst_operation(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, NULL);
    record_n(op_of(d, "a"), 100, 0.001, NULL);
    record_n(op_of(d, "b"), 100, 0.001, NULL);
    assert_int_equal(vigil_dashboard_status(d), VIGIL_HEALTHY);
    record_n(op_of(d, "b"), 3, 0.001, "e");
    assert_int_equal(vigil_dashboard_status(d), VIGIL_DEGRADED);
    record_n(op_of(d, "c"), 1, 0.001, "e");
    assert_int_equal(vigil_dashboard_status(d), VIGIL_UNHEALTHY);
    assert_int_equal(vigil_dashboard_operation_count(d), 3);
    assert_string_equal(vigil_health_name(VIGIL_DEGRADED), "degraded");
    assert_string_equal(vigil_health_name((vigil_health)9), "unknown");
    vigil_dashboard_free(d);
}

static void two_ops(vigil_dashboard_opts *o)
{
    o->max_operations = 2;
}

static void test_dashboard_operations_are_found_by_name_and_capped(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, two_ops);
    vigil_operation *a = op_of(d, "a");
    assert_ptr_equal(op_of(d, "a"), a);
    assert_string_equal(vigil_operation_name(a), "a");
    assert_non_null(vigil_operation_latency(a));
    assert_non_null(vigil_operation_throughput(a));
    assert_int_equal(vigil_dashboard_record(d, "b", 0.5, NULL), VIGIL_OK);
    vigil_operation *c = NULL;
    assert_int_equal(vigil_dashboard_operation(d, "c", &c), VIGIL_ELIMIT);
    assert_int_equal(vigil_dashboard_record(d, "c", 0.5, NULL), VIGIL_ELIMIT);
    assert_int_equal(vigil_dashboard_operation(d, "", &c), VIGIL_EINVAL);
    assert_int_equal(vigil_dashboard_operation(d, "\xc3", &c), VIGIL_EINVAL);
    assert_int_equal(vigil_throughput_total(vigil_operation_throughput(op_of(d, "b"))), 1);
    vigil_dashboard_free(d);

    vigil_dashboard_opts o;
    vigil_dashboard_opts_init(&o);
    o.unhealthy_error_rate = -0.1;
    assert_int_equal(vigil_dashboard_new("svc", &o, &d), VIGIL_EINVAL);
    vigil_dashboard_opts_init(&o);
    o.max_operations = VIGIL_DASHBOARD_MAX_OPERATIONS + 1;
    assert_int_equal(vigil_dashboard_new("svc", &o, &d), VIGIL_EINVAL);
    assert_int_equal(vigil_dashboard_new("", NULL, &d), VIGIL_EINVAL);
    assert_int_equal(vigil_dashboard_new(NULL, NULL, &d), VIGIL_EINVAL);
    vigil_dashboard_free(NULL);
}

/* --- text report --------------------------------------------------------------------------- */

static void test_report_of_an_empty_dashboard_says_no_data(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("empty-svc", &clk, NULL);
    char *t = text_of(d, false);
    ASSERT_HAS(t, "empty-svc");
    ASSERT_HAS(t, "HEALTHY");
    ASSERT_HAS(t, "no data");
    assert_no_nan(t);
    free(t);
    /* an operation that exists but recorded nothing */
    op_of(d, "idle");
    t = text_of(d, false);
    ASSERT_HAS(t, "idle");
    ASSERT_HAS(t, "no data");
    ASSERT_HAS(t, "latency no data");
    assert_no_nan(t);
    free(t);
    vigil_dashboard_free(d);
}

/* Display width of one line (code points). */
static size_t line_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

static void test_report_lists_operations_in_aligned_columns(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("payments", &clk, NULL);
    vigil_operation *a = op_of(d, "authorize");
    vigil_operation *c = op_of(d, "capture_with_a_long_name");
    clk.ns = 2 * SEC;
    /* one duration per operation: every quantile is then exact (clamped to min = max) */
    record_n(a, 200, 0.0123, NULL);
    record_n(a, 2, 0.0123, "declined");
    record_n(c, 10, 1.5, NULL);
    record_n(c, 1, 1.5, "timeout");
    clk.ns = 4 * SEC;
    char *t = text_of(d, false);
    ASSERT_HAS(t, "service: payments");
    ASSERT_HAS(t, "status:  UNHEALTHY"); /* capture: 1/11 errors */
    ASSERT_HAS(t, "12.3 ms");
    ASSERT_HAS(t, "1.50 s");
    ASSERT_HAS(t, "0.99%"); /* authorize: 2/202 */
    ASSERT_HAS(t, "9.09%");
    ASSERT_HAS(t, "window: last 60 s");
    ASSERT_HAS(t, "since start: 213 ops");
    ASSERT_HAS(t, "top errors: authorize/declined 2, capture_with_a_long_name/timeout 1");
    assert_no_nan(t);

    /* every table row (between the header and the overall row) has the header's width, and
     * each column ends at the same place */
    const char *head = strstr(t, "  operation");
    assert_non_null(head);
    size_t head_w = line_width(head, (size_t)(strchr(head, '\n') - head));
    int rows = 0;
    for (const char *p = strchr(head, '\n') + 1; *p && *p != '-'; p = strchr(p, '\n') + 1) {
        size_t len = (size_t)(strchr(p, '\n') - p);
        assert_int_equal(line_width(p, len), head_w);
        rows++;
    }
    assert_int_equal(rows, 2);
    const char *overall = strstr(t, "  overall");
    assert_non_null(overall);
    assert_int_equal(line_width(overall, (size_t)(strchr(overall, '\n') - overall)), head_w);
    free(t);
    vigil_dashboard_free(d);
}

static void test_report_one_sample_and_huge_values(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, NULL);
    vigil_operation *one = op_of(d, "one");
    vigil_operation_record(one, 0.000042, NULL);
    vigil_operation *huge = op_of(d, "huge");
    vigil_operation_record(huge, 1e12, NULL);
    vigil_operation_record(huge, 1e300, NULL);
    vigil_operation_record(huge, NAN, NULL); /* rejected by latency, counted as an op */
    vigil_operation_record(huge, INFINITY, NULL);
    vigil_errors_record_errors(vigil_operation_errors(huge), "burst", UINT64_C(1) << 62);
    clk.ns = 3 * SEC;
    char *t = text_of(d, false);
    ASSERT_HAS(t, "42.0 µs");
    ASSERT_HAS(t, " d");
    assert_no_nan(t);
    free(t);
    t = text_of(d, true);
    assert_no_nan(t);
    free(t);
    vigil_dashboard_free(d);
}

static void test_duration_format_picks_a_human_unit(void **state)
{
    (void)state;
    static const struct {
        double s;
        const char *want;
    } cases[] = {
        {0, "0 s"},           {5e-10, "0.5 ns"},      {42e-9, "42.0 ns"},
        {850e-6, "850.0 µs"}, {999.97e-6, "1.0 ms"},  {0.0123, "12.3 ms"},
        {1.5, "1.50 s"},      {59.999, "1.0 min"},    {90, "1.5 min"},
        {7200, "2.0 h"},      {86400 * 3.0, "3.0 d"}, {1e12, "1.16e+07 d"},
        {NAN, "-"},           {INFINITY, "-"},        {-1, "-"},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil__fmt_duration(out, sizeof out, cases[i].s);
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%g s: got \"%s\", want \"%s\"", cases[i].s, out, cases[i].want);
    }
}

static void test_report_keeps_the_buffer_on_failure(void **state)
{
    (void)state;
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("svc", &clk, NULL);
    record_n(op_of(d, "a"), 3, 0.01, NULL);
    vigil_buffer b;
    vigil_buffer_init(&b, 64);
    assert_int_equal(vigil_buffer_append(&b, "keep", 4), VIGIL_OK);
    assert_int_equal(vigil_dashboard_report(d, &b), VIGIL_ELIMIT);
    assert_string_equal(vigil_buffer_cstr(&b), "keep");
    assert_int_equal(vigil_dashboard_report_json(d, &b), VIGIL_ELIMIT);
    assert_string_equal(vigil_buffer_cstr(&b), "keep");
    vigil_buffer_free(&b);
    assert_int_equal(vigil_dashboard_report(NULL, &b), VIGIL_EINVAL);
    vigil_dashboard_free(d);
}

/* --- JSON ---------------------------------------------------------------------------------- */

/* Runs python3 with a script that reads the JSON from stdin; true when it exits 0. */
static bool python_accepts(const char *json, const char *script)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "python3 -c '%s'", script);
    FILE *p = popen(cmd, "w");
    if (p == NULL)
        return false;
    fputs(json, p);
    int rc = pclose(p);
    return WIFEXITED(rc) && WEXITSTATUS(rc) == 0;
}

static bool have_python(void)
{
    return system("python3 -c pass >/dev/null 2>&1") == 0;
}

static void test_json_report_is_valid_with_nulls_for_missing_figures(void **state)
{
    (void)state;
    if (!have_python()) {
        print_message("python3 not found: JSON is only checked for NaN\n");
    }
    fake_clock clk = {0};
    vigil_dashboard *d = new_dash("we\"ird\\svc\n\x01", &clk, NULL);
    char *j = text_of(d, true);
    assert_no_nan(j);
    if (have_python())
        assert_true(python_accepts(
            j, "import json,sys\n"
               "d = json.load(sys.stdin)\n"
               "assert d[\"service\"] == \"we\\\"ird\\\\svc\\n\\x01\"\n"
               "assert d[\"operations\"] == []\n"
               "assert d[\"status\"] == \"healthy\"\n"
               "assert d[\"overall\"][\"total\"][\"error_rate\"] is None\n"
               "assert d[\"overall\"][\"total\"][\"latency_seconds\"][\"p99\"] is None\n"));
    free(j);

    op_of(d, "idle");
    vigil_operation *q = op_of(d, "query \"x\"");
    clk.ns = SEC;
    record_n(q, 98, 0.002, NULL);
    record_n(q, 2, 0.004, "time\"out");
    assert_int_equal(vigil_operation_set_p99_thresholds(q, 0.5, 0), VIGIL_OK);
    clk.ns = 2 * SEC;
    j = text_of(d, true);
    assert_no_nan(j);
    if (have_python())
        assert_true(python_accepts(
            j, "import json,sys\n"
               "d = json.load(sys.stdin)\n"
               "assert d[\"status\"] == \"degraded\", d[\"status\"]\n"
               "assert d[\"window_seconds\"] == 60\n"
               "idle, q = d[\"operations\"]\n"
               "assert idle[\"name\"] == \"idle\"\n"
               "assert idle[\"total\"][\"error_rate\"] is None\n"
               "assert idle[\"recent\"][\"latency_seconds\"][\"avg\"] is None\n"
               "assert idle[\"total\"][\"latency_seconds\"][\"count\"] == 0\n"
               "assert q[\"name\"] == \"query \\\"x\\\"\"\n"
               "assert q[\"total\"][\"operations\"] == 100\n"
               "assert q[\"total\"][\"errors\"] == 2\n"
               "assert abs(q[\"total\"][\"error_rate\"] - 0.02) < 1e-12\n"
               "assert abs(q[\"recent\"][\"ops_per_second\"] - 50) < 1e-9\n"
               "assert q[\"error_kinds\"] == [{\"kind\": \"time\\\"out\", \"count\": 2}]\n"
               "assert q[\"p99_thresholds_seconds\"] == {\"degraded\": 0.5, \"unhealthy\": None}\n"
               "lat = q[\"total\"][\"latency_seconds\"]\n"
               "assert lat[\"count\"] == 100 and lat[\"min\"] == 0.002 and lat[\"max\"] == 0.004\n"
               "assert abs(lat[\"p99\"] - 0.004) <= 0.004 * 0.0055\n"
               "assert d[\"overall\"][\"total\"][\"operations\"] == 100\n"));
    free(j);
    vigil_dashboard_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dashboard_error_rate_thresholds_are_strictly_greater),
        cmocka_unit_test(test_dashboard_exactly_five_percent_is_degraded_not_unhealthy),
        cmocka_unit_test(test_dashboard_recovers_once_errors_leave_the_window),
        cmocka_unit_test(test_dashboard_min_requests_defers_the_error_verdict),
        cmocka_unit_test(test_dashboard_p99_thresholds),
        cmocka_unit_test(test_dashboard_status_is_the_worst_operation),
        cmocka_unit_test(test_dashboard_operations_are_found_by_name_and_capped),
        cmocka_unit_test(test_report_of_an_empty_dashboard_says_no_data),
        cmocka_unit_test(test_report_lists_operations_in_aligned_columns),
        cmocka_unit_test(test_report_one_sample_and_huge_values),
        cmocka_unit_test(test_duration_format_picks_a_human_unit),
        cmocka_unit_test(test_report_keeps_the_buffer_on_failure),
        cmocka_unit_test(test_json_report_is_valid_with_nulls_for_missing_figures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
