/* test_runtime.c — options and environment overrides, start/stop, the health runner the runtime
 * owns, and the name-based calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil.h>

#include "../http/http_client.h"

static void clear_env(void)
{
    const char *vars[] = {"VIGIL_METRICS_ENABLED", "VIGIL_METRICS_ADDR", "VIGIL_METRICS_PORT",
                          "VIGIL_METRICS_PATH",    "VIGIL_PROCESS_METRICS", "VIGIL_GLOBAL_LABELS", "VIGIL_HOST_METRICS",
                          "VIGIL_MAX_CHILDREN",    "VIGIL_HTTP_THREADS",
                          "VIGIL_HEALTH_ENABLED",  "VIGIL_HEALTH_PATH"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static void test_options_defaults_are_documented_values(void **state)
{
    (void)state;
    vigil_options o;
    vigil_options_init(&o);
    assert_true(o.metrics_enabled);
    assert_string_equal(o.metrics_addr, "127.0.0.1:9090");
    assert_string_equal(o.metrics_path, "/metrics");
    assert_true(o.process_metrics);
    assert_int_equal(o.http_threads, 2);
    assert_null(o.registry);
    assert_true(o.health_enabled);
    assert_string_equal(o.health_path, "/health");
}

static void test_environment_overrides_options(void **state)
{
    (void)state;
    clear_env();
    setenv("VIGIL_METRICS_ADDR", "127.0.0.1:19999", 1);
    setenv("VIGIL_METRICS_PATH", "/m", 1);
    setenv("VIGIL_METRICS_ENABLED", "false", 1);
    setenv("VIGIL_PROCESS_METRICS", "0", 1);
    setenv("VIGIL_GLOBAL_LABELS", "service=api,zone=eu-1", 1);
    setenv("VIGIL_MAX_CHILDREN", "77", 1);
    setenv("VIGIL_HTTP_THREADS", "3", 1);
    vigil_options o;
    vigil_options_init(&o);
    o.metrics_addr = "127.0.0.1:1";
    assert_int_equal(vigil_options_from_env(&o), VIGIL_OK);
    assert_string_equal(o.metrics_addr, "127.0.0.1:19999");
    assert_string_equal(o.metrics_path, "/m");
    assert_false(o.metrics_enabled);
    assert_false(o.process_metrics);
    assert_int_equal(o.global_label_count, 2);
    assert_string_equal(o.global_labels[1].name, "zone");
    assert_string_equal(o.global_labels[1].value, "eu-1");
    assert_int_equal(o.max_children, 77);
    assert_int_equal(o.http_threads, 3);
    clear_env();
}

static void test_port_variable_replaces_only_the_port(void **state)
{
    (void)state;
    clear_env();
    setenv("VIGIL_METRICS_PORT", "9200", 1);
    vigil_options o;
    vigil_options_init(&o);
    o.metrics_addr = "[::1]:9100";
    assert_int_equal(vigil_options_from_env(&o), VIGIL_OK);
    assert_string_equal(o.metrics_addr, "[::1]:9200");
    clear_env();
}

static void test_bad_environment_values_are_rejected_with_the_variable_named(void **state)
{
    (void)state;
    const char *cases[][2] = {{"VIGIL_METRICS_ENABLED", "maybe"},
                              {"VIGIL_MAX_CHILDREN", "-5"},
                              {"VIGIL_MAX_CHILDREN", "12abc"},
                              {"VIGIL_HTTP_THREADS", "0"},
                              {"VIGIL_METRICS_PATH", "metrics"},
                              {"VIGIL_GLOBAL_LABELS", "novalue"},
                              {"VIGIL_METRICS_PORT", "70000"},
                              {"VIGIL_HEALTH_ENABLED", "sometimes"},
                              {"VIGIL_HEALTH_PATH", "health"},
                              {"VIGIL_HEALTH_PATH", "/health/"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        clear_env();
        setenv(cases[i][0], cases[i][1], 1);
        vigil_options o;
        vigil_options_init(&o);
        assert_int_equal(vigil_options_from_env(&o), VIGIL_EINVAL);
        assert_non_null(strstr(vigil_errmsg(), cases[i][0]));
    }
    clear_env();
}

static void test_start_serves_registry_and_stop_frees_everything(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_addr = "127.0.0.1:0";
    vigil_label gl[] = {{"service", "test"}};
    o.global_labels = gl;
    o.global_label_count = 1;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
    assert_ptr_equal(vigil_runtime_registry(rt), reg);
    assert_non_null(vigil_runtime_http(rt));
    const char *url = vigil_runtime_metrics_url(rt);
    assert_true(strncmp(url, "http://127.0.0.1:", 17) == 0);
    assert_non_null(strstr(url, "/metrics"));
    assert_true(vigil_http_server_port(vigil_runtime_http(rt)) > 0);
    /* The process collector was added: its families are in the exposition. */
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
    assert_non_null(strstr(b.data, "process_cpu_seconds_total{service=\"test\"}"));
    vigil_buffer_free(&b);
    vigil_stop(rt);
    vigil_stop(NULL);
    vigil_registry_free(reg);
}

static void test_start_fails_cleanly_on_a_taken_port(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_addr = "127.0.0.1:0";
    o.process_metrics = false;
    vigil_runtime *first, *second = (vigil_runtime *)&o;
    assert_int_equal(vigil_start(&o, &first), VIGIL_OK);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", vigil_http_server_port(vigil_runtime_http(first)));
    o.metrics_addr = addr;
    assert_int_equal(vigil_start(&o, &second), VIGIL_EADDR);
    assert_null(second);
    vigil_stop(first);
    vigil_registry_free(reg);
}

static void test_host_metrics_option_adds_and_stop_removes_the_host_collector(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    assert_false(o.host_metrics);
    setenv("VIGIL_HOST_METRICS", "1", 1);
    o.registry = reg;
    o.metrics_enabled = false;
    o.health_enabled = false;
    o.process_metrics = false;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
    assert_non_null(strstr(b.data, "# TYPE node_cpu_seconds_total counter"));
    assert_non_null(strstr(b.data, "node_memory_MemTotal_bytes "));
    vigil_buffer_free(&b);
    vigil_stop(rt);
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
    assert_null(strstr(b.data, "node_cpu_seconds_total"));
    vigil_buffer_free(&b);
    vigil_registry_free(reg);
    clear_env();
}

static void test_disabled_metrics_start_no_server(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_enabled = false;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
    assert_null(vigil_runtime_http(rt));
    assert_string_equal(vigil_runtime_metrics_url(rt), "");
    vigil_stop(rt);
    vigil_registry_free(reg);
}

static void test_health_environment_overrides_options(void **state)
{
    (void)state;
    clear_env();
    setenv("VIGIL_HEALTH_ENABLED", "off", 1);
    setenv("VIGIL_HEALTH_PATH", "/hc", 1);
    vigil_options o;
    vigil_options_init(&o);
    assert_int_equal(vigil_options_from_env(&o), VIGIL_OK);
    assert_false(o.health_enabled);
    assert_string_equal(o.health_path, "/hc");
    setenv("VIGIL_HEALTH_ENABLED", "1", 1);
    o.health_enabled = false;
    assert_int_equal(vigil_options_from_env(&o), VIGIL_OK);
    assert_true(o.health_enabled);
    clear_env();
}

static vigil_health_status always_healthy(vigil_health_result *res, void *user)
{
    (void)user;
    vigil_health_result_message(res, "fine");
    return VIGIL_HEALTH_HEALTHY;
}

static int get_code(unsigned port, const char *path)
{
    reply r;
    int code = http_get(port, path, &r) ? r.status : -1;
    reply_free(&r);
    return code;
}

static void test_start_runs_health_checks_and_serves_their_endpoints(void **state)
{
    (void)state;
    clear_env();
    setenv("VIGIL_HEALTH_PATH", "/hc", 1);
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_addr = "127.0.0.1:0";
    o.process_metrics = false;
    for (int round = 0; round < 3; round++) { /* start/stop repeatedly on one registry */
        vigil_runtime *rt;
        assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
        vigil_health_runner *hr = vigil_runtime_health(rt);
        assert_non_null(hr);
        unsigned port = vigil_http_server_port(vigil_runtime_http(rt));
        char want[64];
        snprintf(want, sizeof want, "http://127.0.0.1:%u/hc", port);
        assert_string_equal(vigil_runtime_health_url(rt), want);
        assert_int_equal(get_code(port, "/hc"), 200); /* no checks yet: healthy */
        vigil_health_check_opts c;
        vigil_health_check_opts_init(&c);
        c.name = "always";
        c.fn = always_healthy;
        c.interval_seconds = 0.05;
        assert_int_equal(vigil_health_runner_add(hr, &c), VIGIL_OK);
        /* The runner is running: the check gets a result without anyone asking. */
        vigil_health_check_info info;
        for (int i = 0; i < 2000; i++) {
            assert_int_equal(vigil_health_runner_check(hr, "always", &info), VIGIL_OK);
            if (info.has_result)
                break;
            usleep(5000);
        }
        assert_true(info.has_result);
        assert_int_equal(get_code(port, "/hc"), 200);
        assert_int_equal(get_code(port, "/hc/live"), 200);
        assert_int_equal(get_code(port, "/hc/ready"), 200);
        assert_int_equal(get_code(port, "/health"), 404);
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
        assert_non_null(strstr(b.data, "vigil_health_status 0\n"));
        assert_non_null(strstr(b.data, "vigil_health_check_status{check=\"always\"} 0\n"));
        vigil_buffer_free(&b);
        vigil_stop(rt);
        /* Stopped: the runner's collector left the registry with it. */
        vigil_buffer_init(&b, 0);
        assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
        assert_null(strstr(vigil_buffer_cstr(&b), "vigil_health"));
        vigil_buffer_free(&b);
    }
    vigil_registry_free(reg);
    clear_env();
}

static void test_health_disabled_starts_no_runner_and_serves_no_endpoints(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_addr = "127.0.0.1:0";
    o.health_enabled = false;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
    assert_null(vigil_runtime_health(rt));
    assert_string_equal(vigil_runtime_health_url(rt), "");
    assert_int_equal(get_code(vigil_http_server_port(vigil_runtime_http(rt)), "/health"), 404);
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
    assert_null(strstr(b.data, "vigil_health"));
    vigil_buffer_free(&b);
    vigil_stop(rt);

    /* Health without an HTTP server: the runner still runs and reports into the registry. */
    o.health_enabled = true;
    o.metrics_enabled = false;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
    assert_non_null(vigil_runtime_health(rt));
    assert_null(vigil_runtime_http(rt));
    vigil_stop(rt);
    vigil_registry_free(reg);
}

static void test_second_runtime_with_health_on_one_registry_is_refused(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_addr = "127.0.0.1:0";
    o.process_metrics = false;
    vigil_runtime *a, *b;
    assert_int_equal(vigil_start(&o, &a), VIGIL_OK);
    assert_int_equal(vigil_start(&o, &b), VIGIL_EEXIST);
    assert_non_null(strstr(vigil_errmsg(), "health"));
    o.health_enabled = false;
    assert_int_equal(vigil_start(&o, &b), VIGIL_OK);
    vigil_stop(b);
    vigil_stop(a);
    vigil_registry_free(reg);
}

static void test_record_by_name_creates_on_first_use_and_accumulates(void **state)
{
    (void)state;
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_label l[] = {{"method", "GET"}, {"code", "200"}};
    assert_int_equal(vigil_record_counter(reg, "requests_total", 1, l, 2), VIGIL_OK);
    assert_int_equal(vigil_record_counter(reg, "requests_total", 2, l, 2), VIGIL_OK);
    assert_int_equal(vigil_record_gauge(reg, "queue_depth", 7, NULL, 0), VIGIL_OK);
    assert_int_equal(vigil_record_histogram(reg, "latency_seconds", 0.3, NULL, 0), VIGIL_OK);
    vigil_family *f = vigil_registry_find(reg, "requests_total");
    assert_non_null(f);
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(f, VIGIL_VALUES("GET", "200"), &c), VIGIL_OK);
    assert_true(vigil_counter_value(c) == 3.0);
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
    assert_non_null(strstr(b.data, "queue_depth 7\n"));
    assert_non_null(strstr(b.data, "latency_seconds_bucket{le=\"0.5\"} 1\n"));
    vigil_buffer_free(&b);
    vigil_registry_free(reg);
}

static void test_record_by_name_refuses_another_shape(void **state)
{
    (void)state;
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_label l[] = {{"a", "1"}};
    vigil_label other[] = {{"b", "1"}};
    assert_int_equal(vigil_record_counter(reg, "x_total", 1, l, 1), VIGIL_OK);
    assert_int_equal(vigil_record_gauge(reg, "x_total", 1, l, 1), VIGIL_ETYPE);
    assert_int_equal(vigil_record_counter(reg, "x_total", 1, other, 1), VIGIL_ETYPE);
    assert_int_equal(vigil_record_counter(reg, "x_total", 1, NULL, 0), VIGIL_ETYPE);
    assert_int_equal(vigil_record_counter(reg, "x_total", -1, l, 1), VIGIL_ENEGATIVE);
    assert_int_equal(vigil_record_counter(reg, "9bad", 1, NULL, 0), VIGIL_ENAME);
    vigil_registry_free(reg);
}

static void test_record_by_name_respects_cardinality_guard(void **state)
{
    (void)state;
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_registry_set_max_children(reg, 2);
    char v[16];
    for (int i = 0; i < 2; i++) {
        snprintf(v, sizeof v, "%d", i);
        vigil_label l[] = {{"user", v}};
        assert_int_equal(vigil_record_counter(reg, "logins_total", 1, l, 1), VIGIL_OK);
    }
    vigil_label l[] = {{"user", "overflow"}};
    assert_int_equal(vigil_record_counter(reg, "logins_total", 1, l, 1), VIGIL_ECARDINALITY);
    assert_int_equal(vigil_family_refused(vigil_registry_find(reg, "logins_total")), 1);
    vigil_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_defaults_are_documented_values),
        cmocka_unit_test(test_environment_overrides_options),
        cmocka_unit_test(test_port_variable_replaces_only_the_port),
        cmocka_unit_test(test_bad_environment_values_are_rejected_with_the_variable_named),
        cmocka_unit_test(test_start_serves_registry_and_stop_frees_everything),
        cmocka_unit_test(test_start_fails_cleanly_on_a_taken_port),
        cmocka_unit_test(test_disabled_metrics_start_no_server),
        cmocka_unit_test(test_host_metrics_option_adds_and_stop_removes_the_host_collector),
        cmocka_unit_test(test_health_environment_overrides_options),
        cmocka_unit_test(test_start_runs_health_checks_and_serves_their_endpoints),
        cmocka_unit_test(test_health_disabled_starts_no_runner_and_serves_no_endpoints),
        cmocka_unit_test(test_second_runtime_with_health_on_one_registry_is_refused),
        cmocka_unit_test(test_record_by_name_creates_on_first_use_and_accumulates),
        cmocka_unit_test(test_record_by_name_refuses_another_shape),
        cmocka_unit_test(test_record_by_name_respects_cardinality_guard),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
