/* test_runtime_events.c — the runtime serves an event bus's recent events next to the metrics
 * when options.events is set, and nothing at that path when it is not. */
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
    const char *vars[] = {"VIGIL_METRICS_ENABLED", "VIGIL_METRICS_ADDR",   "VIGIL_METRICS_PORT",
                          "VIGIL_METRICS_PATH",    "VIGIL_HEALTH_ENABLED", "VIGIL_HEALTH_PATH"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
}

static vigil_runtime *start_on(vigil_registry *reg, vigil_event_bus *bus, const char *path)
{
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_addr = "127.0.0.1:0";
    o.process_metrics = false;
    o.events = bus;
    if (path != NULL)
        o.events_path = path;
    vigil_runtime *rt = NULL;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
    return rt;
}

static void test_events_option_serves_the_bus_at_its_url(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_event_bus_options bo;
    vigil_event_bus_options_init(&bo);
    bo.synchronous = 1; /* delivered (and kept in the recent ring) before publish returns */
    vigil_event_bus *bus;
    assert_int_equal(vigil_event_bus_new(&bo, &bus), VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_connected(bus, "client-042"), VIGIL_OK);

    vigil_runtime *rt = start_on(reg, bus, NULL);
    unsigned port = vigil_http_server_port(vigil_runtime_http(rt));
    char want[80];
    snprintf(want, sizeof want, "http://127.0.0.1:%u/api/v1/events", port);
    assert_string_equal(vigil_runtime_events_url(rt), want);

    reply r;
    assert_true(http_get(port, "/api/v1/events", &r));
    assert_int_equal(r.status, 200);
    char buf[128];
    assert_non_null(reply_header(&r, "Content-Type", buf, sizeof buf));
    assert_string_equal(buf, "application/json");
    assert_non_null(memmem(r.body, r.body_len, "\"client\":\"client-042\"", 21));
    reply_free(&r);
    vigil_stop(rt);
    vigil_event_bus_free(bus);
    vigil_registry_free(reg);
}

static void test_events_path_option_moves_the_route(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_event_bus *bus;
    assert_int_equal(vigil_event_bus_new(NULL, &bus), VIGIL_OK);
    vigil_runtime *rt = start_on(reg, bus, "/ev");
    unsigned port = vigil_http_server_port(vigil_runtime_http(rt));
    reply r;
    assert_true(http_get(port, "/ev", &r));
    assert_int_equal(r.status, 200);
    reply_free(&r);
    assert_true(http_get(port, "/api/v1/events", &r));
    assert_int_equal(r.status, 404);
    reply_free(&r);
    vigil_stop(rt);
    vigil_event_bus_free(bus);
    vigil_registry_free(reg);
}

static void test_without_a_bus_no_events_route_and_empty_url(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_runtime *rt = start_on(reg, NULL, NULL);
    assert_string_equal(vigil_runtime_events_url(rt), "");
    reply r;
    assert_true(http_get(vigil_http_server_port(vigil_runtime_http(rt)), "/api/v1/events", &r));
    assert_int_equal(r.status, 404);
    reply_free(&r);
    vigil_stop(rt);
    vigil_registry_free(reg);
}

static void test_events_path_without_slash_is_refused(void **state)
{
    (void)state;
    clear_env();
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    vigil_event_bus *bus;
    assert_int_equal(vigil_event_bus_new(NULL, &bus), VIGIL_OK);
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_addr = "127.0.0.1:0";
    o.events = bus;
    o.events_path = "events";
    vigil_runtime *rt = (vigil_runtime *)&o;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_EINVAL);
    assert_null(rt);
    assert_non_null(strstr(vigil_errmsg(), "events path"));
    vigil_event_bus_free(bus);
    vigil_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_option_serves_the_bus_at_its_url),
        cmocka_unit_test(test_events_path_option_moves_the_route),
        cmocka_unit_test(test_without_a_bus_no_events_route_and_empty_url),
        cmocka_unit_test(test_events_path_without_slash_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
