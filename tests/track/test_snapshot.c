/* test_snapshot.c — the console snapshot: each item's label and value in the rendered block
 * (counter, gauge, latency percentiles, throughput on a fake clock, errors by kind, a callback
 * value), "no data" and never "nan", uptime, aligned values, and the printer thread (prints
 * every interval, a final print on request, prompt and idempotent stop). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vigil.h"

#define SEC 1000000000ull

typedef struct fake_clock {
    uint64_t ns;
} fake_clock;

static uint64_t fake_now(void *user)
{
    return ((fake_clock *)user)->ns;
}

static char *render(vigil_snapshot *s, vigil_buffer *b)
{
    vigil_buffer_init(b, 0);
    assert_int_equal(vigil_snapshot_render(s, b), VIGIL_OK);
    return (char *)vigil_buffer_cstr(b);
}

/* The text after "label:" and spaces on its line, copied into val. */
static void value_of(const char *text, const char *label, char *val, size_t n)
{
    char key[160];
    snprintf(key, sizeof key, "\n%s:", label);
    const char *p = strstr(text, key);
    if (p == NULL)
        fail_msg("no line for \"%s\" in:\n%s", label, text);
    p += strlen(key);
    while (*p == ' ')
        p++;
    size_t len = strcspn(p, "\n");
    if (len >= n)
        len = n - 1;
    memcpy(val, p, len);
    val[len] = '\0';
}

static void assert_no_nan(const char *text)
{
    for (const char *p = text; *p; p++) {
        if (strncasecmp(p, "nan", 3) == 0 || strncasecmp(p, "inf", 3) == 0)
            fail_msg("NaN or Inf printed:\n%s", text);
    }
}

/* Parses a duration the report prints ("12.3 ms") back to seconds. */
static double parse_duration(const char *s)
{
    char unit[8] = "";
    double v = 0;
    if (sscanf(s, "%lf %7s", &v, unit) != 2)
        fail_msg("not a duration: \"%s\"", s);
    unit[strcspn(unit, ",")] = '\0';
    if (strcmp(unit, "ns") == 0)
        return v * 1e-9;
    if (strcmp(unit, "µs") == 0)
        return v * 1e-6;
    if (strcmp(unit, "ms") == 0)
        return v * 1e-3;
    if (strcmp(unit, "s") == 0)
        return v;
    fail_msg("unknown unit in \"%s\"", s);
    return 0;
}

static double twelve(void *user)
{
    (void)user;
    return 12.0;
}

static double not_a_number(void *user)
{
    (void)user;
    return NAN;
}

static void test_snapshot_render_shows_each_item_with_its_value(void **state)
{
    (void)state;
    vigil_registry *reg = NULL;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "messages_sent_total";
    vigil_counter *sent = NULL;
    assert_int_equal(vigil_counter_new(reg, &o, &sent), VIGIL_OK);
    vigil_counter_add_u64(sent, 1234);
    o.name = "connected_clients";
    vigil_gauge *clients = NULL;
    assert_int_equal(vigil_gauge_new(reg, &o, &clients), VIGIL_OK);
    vigil_gauge_set(clients, 5);

    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("Metrics Snapshot", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_gauge(s, "Connected Clients", clients), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_counter(s, "Messages Sent", sent), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_value(s, "Queue", twelve, NULL, "items"), VIGIL_OK);

    vigil_buffer b;
    const char *text = render(s, &b);
    char v[128];
    assert_true(strncmp(text, "=== Metrics Snapshot ===\n", 25) == 0);
    value_of(text, "Connected Clients", v, sizeof v);
    assert_string_equal(v, "5");
    value_of(text, "Messages Sent", v, sizeof v);
    assert_string_equal(v, "1234");
    value_of(text, "Queue", v, sizeof v);
    assert_string_equal(v, "12 items");
    /* display order, then uptime, then a closing rule */
    const char *a = strstr(text, "Connected Clients:"), *c = strstr(text, "Messages Sent:");
    const char *u = strstr(text, "Uptime:");
    assert_true(a && c && u && a < c && c < u);
    assert_non_null(strstr(text, "\n========================\n"));
    vigil_buffer_free(&b);
    vigil_snapshot_free(s);
    vigil_registry_free(reg);
}

static void test_snapshot_values_are_aligned(void **state)
{
    (void)state;
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("t", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_value(s, "A", twelve, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_value(s, "Much Longer Label", twelve, NULL, ""), VIGIL_OK);
    vigil_buffer b;
    const char *text = render(s, &b);
    assert_non_null(strstr(text, "\nA:                 12\n"));
    assert_non_null(strstr(text, "\nMuch Longer Label: 12\n"));
    assert_non_null(strstr(text, "\nUptime:            "));
    vigil_buffer_free(&b);
    vigil_snapshot_free(s);
}

static void test_snapshot_latency_shows_percentiles_in_human_units(void **state)
{
    (void)state;
    vigil_latency *lat = NULL;
    assert_int_equal(vigil_latency_new(NULL, &lat), VIGIL_OK);
    for (int i = 1; i <= 1000; i++)
        vigil_latency_record(lat, i * 1e-4); /* 0.1 ms .. 100 ms */
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("svc", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_latency(s, "Request Latency", lat), VIGIL_OK);
    vigil_buffer b;
    const char *text = render(s, &b);
    char v[160];
    value_of(text, "Request Latency", v, sizeof v);
    const char *want[] = {"avg ", "p50 ", "p95 ", "p99 "};
    const double expect[] = {0.05005, 0.050, 0.095, 0.099};
    for (size_t i = 0; i < 4; i++) {
        const char *p = strstr(v, want[i]);
        if (p == NULL)
            fail_msg("no %s in \"%s\"", want[i], v);
        double got = parse_duration(p + 4);
        /* sketch error (0.55 %), rank rounding (1 %) and one printed decimal */
        if (fabs(got - expect[i]) > 0.02 * expect[i])
            fail_msg("%s: got %g s, want %g s (\"%s\")", want[i], got, expect[i], v);
    }
    assert_non_null(strstr(v, " ms"));
    assert_no_nan(text);
    vigil_buffer_free(&b);
    vigil_snapshot_free(s);
    vigil_latency_free(lat);
}

static void test_snapshot_empty_latency_says_no_data_and_never_nan(void **state)
{
    (void)state;
    vigil_latency *lat = NULL;
    assert_int_equal(vigil_latency_new(NULL, &lat), VIGIL_OK);
    vigil_errors *errs = NULL;
    assert_int_equal(vigil_errors_new(NULL, &errs), VIGIL_OK);
    vigil_throughput *tp = NULL;
    assert_int_equal(vigil_throughput_new(NULL, &tp), VIGIL_OK);
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("empty", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_latency(s, "Latency", lat), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_errors(s, "Errors", errs), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_throughput(s, "Throughput", tp, 0), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_value(s, "Broken", not_a_number, NULL, "x"), VIGIL_OK);
    vigil_buffer b;
    const char *text = render(s, &b);
    char v[128];
    value_of(text, "Latency", v, sizeof v);
    assert_string_equal(v, "no data");
    value_of(text, "Errors", v, sizeof v);
    assert_string_equal(v, "0 of 0 requests");
    value_of(text, "Broken", v, sizeof v);
    assert_string_equal(v, "- x");
    assert_no_nan(text);
    vigil_buffer_free(&b);
    vigil_snapshot_free(s);
    vigil_throughput_free(tp);
    vigil_errors_free(errs);
    vigil_latency_free(lat);
}

static void test_snapshot_errors_show_total_and_kinds_most_common_first(void **state)
{
    (void)state;
    vigil_errors *errs = NULL;
    assert_int_equal(vigil_errors_new(NULL, &errs), VIGIL_OK);
    vigil_errors_record_successes(errs, 94);
    vigil_errors_record_errors(errs, "decode", 1);
    vigil_errors_record_errors(errs, "timeout", 4);
    vigil_errors_record_errors(errs, "network", 1);
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("svc", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_errors(s, "Errors", errs), VIGIL_OK);
    vigil_buffer b;
    const char *text = render(s, &b);
    char v[160];
    value_of(text, "Errors", v, sizeof v);
    assert_string_equal(v, "6 of 100 requests (timeout 4, decode 1, network 1)");
    vigil_buffer_free(&b);
    vigil_snapshot_free(s);
    vigil_errors_free(errs);
}

static void test_snapshot_throughput_is_ops_per_second_over_last_seconds(void **state)
{
    (void)state;
    fake_clock clk = {100 * SEC};
    vigil_throughput_opts o;
    vigil_throughput_opts_init(&o);
    o.clock = fake_now;
    o.clock_user = &clk;
    vigil_throughput *tp = NULL;
    assert_int_equal(vigil_throughput_new(&o, &tp), VIGIL_OK);
    for (int sec = 0; sec < 20; sec++) {
        vigil_throughput_record_n(tp, 150);
        clk.ns += SEC;
    }
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("svc", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_throughput(s, "Throughput", tp, 10), VIGIL_OK);
    vigil_buffer b;
    const char *text = render(s, &b);
    char v[128];
    value_of(text, "Throughput", v, sizeof v);
    /* want: vigil_throughput_recent_rate, formatted as the dashboard formats rates */
    char want[128];
    snprintf(want, sizeof want, "%.1f ops/s (last 10 s)", vigil_throughput_recent_rate(tp, 10));
    assert_string_equal(v, want);
    double rate = 0;
    assert_int_equal(sscanf(v, "%lf", &rate), 1);
    assert_true(rate >= 130 && rate <= 150);
    vigil_buffer_free(&b);
    vigil_snapshot_free(s);
    vigil_throughput_free(tp);
}

static void test_snapshot_uptime_is_always_present(void **state)
{
    (void)state;
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("bare", &s), VIGIL_OK);
    vigil_buffer b;
    const char *text = render(s, &b);
    char v[64];
    value_of(text, "Uptime", v, sizeof v);
    assert_true(parse_duration(v) >= 0 && parse_duration(v) < 60);
    assert_string_equal(strstr(text, "\n=") + 1, "============\n"); /* "=== bare ===" */
    vigil_buffer_free(&b);
    vigil_snapshot_free(s);
}

static void test_snapshot_rejects_bad_arguments(void **state)
{
    (void)state;
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("", &s), VIGIL_EINVAL);
    assert_null(s);
    assert_int_equal(vigil_snapshot_new(NULL, &s), VIGIL_EINVAL);
    assert_int_equal(vigil_snapshot_new("ok", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_add_counter(s, "c", NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_snapshot_add_value(s, "", twelve, NULL, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_snapshot_add_value(s, "v", NULL, NULL, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_snapshot_start(s, -1, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_snapshot_start(s, NAN, NULL), VIGIL_EINVAL);
    assert_false(vigil_snapshot_running(s));
    vigil_snapshot_free(s);
}

static void test_snapshot_free_null_is_noop(void **state)
{
    (void)state;
    vigil_snapshot_free(NULL);
    vigil_snapshot_stop(NULL, true);
}

static size_t count_of(FILE *f, const char *needle)
{
    fflush(f);
    long end = ftell(f);
    char *text = calloc(1, (size_t)end + 1);
    assert_non_null(text);
    rewind(f);
    assert_int_equal(fread(text, 1, (size_t)end, f), (size_t)end);
    fseek(f, 0, SEEK_END);
    size_t n = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    free(text);
    return n;
}

static void sleep_seconds(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_snapshot_printer_writes_every_interval(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("printer", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_start(s, 0.1, f), VIGIL_OK);
    assert_true(vigil_snapshot_running(s));
    assert_int_equal(vigil_snapshot_start(s, 0.1, f), VIGIL_ESTATE);
    /* adding while the printer runs is safe */
    for (int i = 0; i < 50; i++) {
        char label[32];
        snprintf(label, sizeof label, "Item %d", i);
        assert_int_equal(vigil_snapshot_add_value(s, label, twelve, NULL, NULL), VIGIL_OK);
    }
    sleep_seconds(0.35);
    vigil_snapshot_stop(s, false);
    assert_false(vigil_snapshot_running(s));
    assert_true(count_of(f, "=== printer ===") >= 2);
    vigil_snapshot_free(s);
    fclose(f);
}

static void test_snapshot_stop_prints_a_final_snapshot_when_asked(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("final", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_start(s, 3600, f), VIGIL_OK);
    vigil_snapshot_stop(s, true);
    assert_int_equal(count_of(f, "=== final ==="), 1);
    /* without the flag: nothing more */
    assert_int_equal(vigil_snapshot_start(s, 3600, f), VIGIL_OK);
    vigil_snapshot_stop(s, false);
    assert_int_equal(count_of(f, "=== final ==="), 1);
    vigil_snapshot_free(s);
    fclose(f);
}

static void test_snapshot_stop_is_prompt_and_idempotent(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("prompt", &s), VIGIL_OK);
    vigil_snapshot_stop(s, true); /* never started: nothing happens */
    assert_int_equal(vigil_snapshot_start(s, 0, f), VIGIL_OK); /* default: 10 s */
    double t0 = now_seconds();
    vigil_snapshot_stop(s, false);
    assert_true(now_seconds() - t0 < 5.0); /* woken, not waiting out the 10 s interval */
    vigil_snapshot_stop(s, true);
    vigil_snapshot_stop(s, false);
    assert_int_equal(count_of(f, "=== prompt ==="), 0);
    vigil_snapshot_free(s);
    fclose(f);
}

static void test_snapshot_free_stops_a_running_printer(void **state)
{
    (void)state;
    FILE *f = tmpfile();
    assert_non_null(f);
    vigil_snapshot *s = NULL;
    assert_int_equal(vigil_snapshot_new("freed", &s), VIGIL_OK);
    assert_int_equal(vigil_snapshot_start(s, 0.05, f), VIGIL_OK);
    vigil_snapshot_free(s);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_render_shows_each_item_with_its_value),
        cmocka_unit_test(test_snapshot_values_are_aligned),
        cmocka_unit_test(test_snapshot_latency_shows_percentiles_in_human_units),
        cmocka_unit_test(test_snapshot_empty_latency_says_no_data_and_never_nan),
        cmocka_unit_test(test_snapshot_errors_show_total_and_kinds_most_common_first),
        cmocka_unit_test(test_snapshot_throughput_is_ops_per_second_over_last_seconds),
        cmocka_unit_test(test_snapshot_uptime_is_always_present),
        cmocka_unit_test(test_snapshot_rejects_bad_arguments),
        cmocka_unit_test(test_snapshot_free_null_is_noop),
        cmocka_unit_test(test_snapshot_printer_writes_every_interval),
        cmocka_unit_test(test_snapshot_stop_prints_a_final_snapshot_when_asked),
        cmocka_unit_test(test_snapshot_stop_is_prompt_and_idempotent),
        cmocka_unit_test(test_snapshot_free_stops_a_running_printer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
