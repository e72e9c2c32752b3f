/* test_events_route.c — GET /api/v1/events on a real server (127.0.0.1, port 0): the recent
 * events as JSON, newest last, parsed by Python's json module, with the JSON content type; and
 * a 404 next door. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "../http/http_client.h"
#include "vigil/events.h"
#include "vigil/http.h"

static bool json_ok(const char *json, size_t len, const char *script)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        print_message("/usr/bin/python3 not found: JSON check skipped\n");
        return true;
    }
    FILE *f = fopen("check_json.py", "w");
    if (f == NULL)
        return false;
    fprintf(f, "import json, sys\ndoc = json.load(sys.stdin)\n%s\n", script);
    fclose(f);
    FILE *p = popen("/usr/bin/python3 check_json.py", "w");
    if (p == NULL)
        return false;
    fwrite(json, 1, len, p);
    int rc = pclose(p);
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)) {
        print_message("JSON check failed on:\n%.*s\n", (int)len, json);
        return false;
    }
    return true;
}

static void test_events_route_serves_recent_events_as_json(void **state)
{
    (void)state;
    vigil_event_bus_options bo;
    vigil_event_bus_options_init(&bo);
    bo.recent = 3;
    vigil_event_bus *bus;
    assert_int_equal(vigil_event_bus_new(&bo, &bus), VIGIL_OK);
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK);

    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_events(srv, "/api/v1/events", bus), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_events(srv, "/api/v1/events", bus), VIGIL_EEXIST);
    assert_int_equal(vigil_http_server_serve_events(srv, "/x", NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    unsigned port = vigil_http_server_port(srv);

    reply r;
    assert_true(http_get(port, "/api/v1/events", &r));
    assert_int_equal(r.status, 200);
    assert_true(json_ok(r.body, r.body_len, "assert doc['events'] == []"));
    reply_free(&r);

    assert_int_equal(vigil_event_publish_client_connected(bus, "client-001"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_message_sent(bus, "msg-1", "client-001", 42), VIGIL_OK);
    assert_int_equal(vigil_event_publish_heartbeat_timeout(bus, "client-001"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_disconnected(bus, "client-001", "heartbeat"),
                     VIGIL_OK);
    vigil_event_bus_stop(bus); /* delivered, so in the recent ring */

    assert_true(http_get(port, "/api/v1/events", &r));
    assert_int_equal(r.status, 200);
    char v[128];
    assert_non_null(reply_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    assert_true(json_ok(r.body, r.body_len,
                        "e = doc['events']\n"
                        "assert [x['type'] for x in e] == ['message_sent', 'heartbeat_timeout',"
                        " 'client_disconnected'], e\n"
                        "assert e[0]['id'] == 'msg-1' and e[0]['bytes'] == 42\n"
                        "assert e[2]['reason'] == 'heartbeat'\n"
                        "assert e[0]['seq'] < e[1]['seq'] < e[2]['seq']\n"));
    reply_free(&r);

    assert_true(http_get(port, "/api/v1/event", &r));
    assert_int_equal(r.status, 404);
    reply_free(&r);

    vigil_http_server_free(srv); /* first: its handler reads the bus */
    vigil_event_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_route_serves_recent_events_as_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
