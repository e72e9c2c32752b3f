/* test_bus.c — the event bus end to end on one process: every event type reaching its hooks and
 * the catch-all with its fields, synchronous mode, drops when the ring is full, hook errors
 * counted, stop draining the ring, the log hook's lines, the last-N ring and its JSON (parsed by
 * Python's json module) and the metrics (checked by promtool). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/vigil_test.h"
#include "vigil/events.h"
#include "vigil/expo.h"

#define MAX_SEEN 64

typedef struct seen {
    vigil_event evs[MAX_SEEN];
    int count;
} seen;

static vigil_status record(const vigil_event *ev, void *user)
{
    seen *s = user;
    if (s->count < MAX_SEEN)
        s->evs[s->count] = *ev;
    s->count++;
    return VIGIL_OK;
}

static vigil_status failing(const vigil_event *ev, void *user)
{
    (void)ev;
    (void)user;
    return VIGIL_ECALLBACK;
}

static vigil_event_bus *new_bus(size_t capacity, size_t recent, int sync)
{
    vigil_event_bus_options o;
    vigil_event_bus_options_init(&o);
    o.capacity = capacity;
    o.recent = recent;
    o.synchronous = sync;
    vigil_event_bus *bus = NULL;
    assert_int_equal(vigil_event_bus_new(&o, &bus), VIGIL_OK);
    return bus;
}

static void publish_one_of_each(vigil_event_bus *bus)
{
    vigil_event_kv kv[2] = {{"room", "lobby"}, {"size", "3"}};
    assert_int_equal(vigil_event_publish_client_connected(bus, "client-001"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_disconnected(bus, "client-001", "timeout"),
                     VIGIL_OK);
    assert_int_equal(vigil_event_publish_heartbeat_sent(bus, "client-002"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_heartbeat_received(bus, "client-002"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_heartbeat_timeout(bus, "client-003"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_message_sent(bus, "msg-1", "client-004", 128), VIGIL_OK);
    assert_int_equal(vigil_event_publish_message_received(bus, "msg-2", "client-005", 64),
                     VIGIL_OK);
    assert_int_equal(vigil_event_publish_reconnect(bus, "client-006", 2), VIGIL_OK);
    assert_int_equal(vigil_event_publish_error(bus, "decode", "client-007"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_custom(bus, "room_joined", kv, 2), VIGIL_OK);
}

static void check_one_of_each(const seen *s)
{
    assert_int_equal(s->count, VIGIL_EVENT_TYPE_COUNT);
    for (int i = 0; i < VIGIL_EVENT_TYPE_COUNT; i++) {
        assert_int_equal(s->evs[i].type, i);
        assert_true(s->evs[i].time_ms > 1600000000000LL);
        assert_true(s->evs[i].mono_ns > 0);
        if (i > 0)
            assert_true(s->evs[i].seq > s->evs[i - 1].seq);
    }
    assert_string_equal(s->evs[0].client, "client-001");
    assert_string_equal(s->evs[1].reason, "timeout");
    assert_string_equal(s->evs[4].client, "client-003");
    assert_string_equal(s->evs[5].message_id, "msg-1");
    assert_string_equal(s->evs[5].client, "client-004");
    assert_int_equal(s->evs[5].bytes, 128);
    assert_int_equal(s->evs[6].bytes, 64);
    assert_int_equal(s->evs[7].attempt, 2);
    assert_string_equal(s->evs[8].kind, "decode");
    assert_string_equal(s->evs[9].name, "room_joined");
    assert_int_equal(s->evs[9].field_count, 2);
    assert_string_equal(s->evs[9].fields[1].key, "size");
    assert_string_equal(s->evs[9].fields[1].value, "3");
}

static void test_every_event_type_reaches_its_hooks_and_the_catch_all(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(64, 100, 0);
    seen per_type[VIGIL_EVENT_TYPE_COUNT] = {0};
    seen all = {0};
    for (int i = 0; i < VIGIL_EVENT_TYPE_COUNT; i++)
        assert_int_equal(vigil_event_hook_add(bus, (vigil_event_type)i, record, &per_type[i], NULL),
                         VIGIL_OK);
    uint64_t id = 0;
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, record, &all, &id), VIGIL_OK);
    assert_true(id != 0);
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK);
    publish_one_of_each(bus);
    vigil_event_bus_stop(bus);
    check_one_of_each(&all);
    for (int i = 0; i < VIGIL_EVENT_TYPE_COUNT; i++) {
        assert_int_equal(per_type[i].count, 1);
        assert_int_equal(per_type[i].evs[0].type, i);
        assert_int_equal(per_type[i].evs[0].seq, all.evs[i].seq);
    }
    vigil_event_bus_stats st;
    vigil_event_bus_stats_read(bus, &st);
    assert_int_equal(st.delivered, VIGIL_EVENT_TYPE_COUNT);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.published[VIGIL_EVENT_ERROR], 1);
    vigil_event_bus_free(bus);
}

static void test_sync_mode_runs_hooks_before_publish_returns(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(0, 10, 1);
    seen all = {0};
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, record, &all, NULL), VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_connected(bus, "client-001"), VIGIL_OK);
    assert_int_equal(all.count, 1); /* no start, no thread: already delivered */
    all.count = 0;
    publish_one_of_each(bus);
    check_one_of_each(&all);
    vigil_event_bus_free(bus);
}

static void test_full_ring_drops_counts_and_returns_elimit(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(4, 100, 0); /* not started: nothing drains */
    seen all = {0};
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, record, &all, NULL), VIGIL_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(vigil_event_publish_heartbeat_sent(bus, "c"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_heartbeat_sent(bus, "c"), VIGIL_ELIMIT);
    assert_int_equal(vigil_event_publish_error(bus, "x", NULL), VIGIL_ELIMIT);
    vigil_event_bus_stats st;
    vigil_event_bus_stats_read(bus, &st);
    assert_int_equal(st.dropped, 2);
    assert_int_equal(st.queued, 4);
    assert_int_equal(st.published[VIGIL_EVENT_HEARTBEAT_SENT], 4);
    assert_int_equal(st.published[VIGIL_EVENT_ERROR], 0);
    /* stop drains what is queued */
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK);
    vigil_event_bus_stop(bus);
    assert_int_equal(all.count, 4);
    vigil_event_bus_stats_read(bus, &st);
    assert_int_equal(st.queued, 0);
    /* and room again after draining */
    assert_int_equal(vigil_event_publish_heartbeat_sent(bus, "c"), VIGIL_OK);
    vigil_event_bus_free(bus); /* frees the queued event without delivering it */
}

static void test_stop_drains_queued_events(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(4096, 100, 0);
    seen all = {0};
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_MESSAGE_SENT, record, &all, NULL),
                     VIGIL_OK);
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK);
    for (int i = 0; i < 3000; i++)
        assert_int_equal(vigil_event_publish_message_sent(bus, "m", "p", (uint64_t)i), VIGIL_OK);
    vigil_event_bus_stop(bus);
    assert_int_equal(all.count, 3000);
    vigil_event_bus_stop(bus); /* idempotent */
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK); /* restartable */
    vigil_event_bus_free(bus);
}

static void test_hook_error_is_counted_and_dispatch_continues(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(16, 100, 0);
    seen after = {0};
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ERROR, failing, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ERROR, record, &after, NULL), VIGIL_OK);
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, failing, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK);
    assert_int_equal(vigil_event_publish_error(bus, "decode", NULL), VIGIL_OK);
    assert_int_equal(vigil_event_publish_error(bus, "encode", NULL), VIGIL_OK);
    assert_int_equal(vigil_event_publish_reconnect(bus, "c", 1), VIGIL_OK);
    vigil_event_bus_stop(bus);
    assert_int_equal(after.count, 2);
    vigil_event_bus_stats st;
    vigil_event_bus_stats_read(bus, &st);
    assert_int_equal(st.hook_errors[VIGIL_EVENT_ERROR], 4);
    assert_int_equal(st.hook_errors[VIGIL_EVENT_RECONNECT], 1);
    assert_int_equal(st.delivered, 3);
    vigil_event_bus_free(bus);
}

static void test_removed_hook_is_not_called_and_unknown_id_is_enotfound(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(0, 0, 1);
    seen a = {0};
    uint64_t id;
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, record, &a, &id), VIGIL_OK);
    assert_int_equal(vigil_event_publish_heartbeat_sent(bus, "c"), VIGIL_OK);
    assert_int_equal(vigil_event_hook_remove(bus, id), VIGIL_OK);
    assert_int_equal(vigil_event_publish_heartbeat_sent(bus, "c"), VIGIL_OK);
    assert_int_equal(a.count, 1);
    assert_int_equal(vigil_event_hook_remove(bus, id), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_event_hook_add(bus, (vigil_event_type)42, record, &a, NULL),
                     VIGIL_EINVAL);
    vigil_event_bus_free(bus);
}

typedef struct self_remover {
    vigil_event_bus *bus;
    uint64_t id;
    int calls;
} self_remover;

static vigil_status remove_self(const vigil_event *ev, void *user)
{
    (void)ev;
    self_remover *r = user;
    r->calls++;
    return vigil_event_hook_remove(r->bus, r->id);
}

static void test_hook_can_remove_itself(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(16, 0, 0);
    self_remover r = {bus, 0, 0};
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, remove_self, &r, &r.id), VIGIL_OK);
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal(vigil_event_publish_heartbeat_sent(bus, "c"), VIGIL_OK);
    vigil_event_bus_stop(bus);
    assert_int_equal(r.calls, 1);
    vigil_event_bus_stats st;
    vigil_event_bus_stats_read(bus, &st);
    assert_int_equal(st.hook_errors[VIGIL_EVENT_HEARTBEAT_SENT], 0);
    vigil_event_bus_free(bus);
}

static void test_strings_are_cut_and_too_many_fields_refused(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(0, 4, 1);
    seen a = {0};
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, record, &a, NULL), VIGIL_OK);
    char long_id[200];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(vigil_event_publish_client_connected(bus, long_id), VIGIL_OK);
    assert_int_equal(strlen(a.evs[0].client), VIGIL_EVENT_STR_MAX - 1);
    vigil_event_kv kv[VIGIL_EVENT_FIELDS_MAX + 1];
    for (size_t i = 0; i < VIGIL_EVENT_FIELDS_MAX + 1; i++)
        kv[i] = (vigil_event_kv){"k", "v"};
    assert_int_equal(vigil_event_publish_custom(bus, "n", kv, VIGIL_EVENT_FIELDS_MAX + 1),
                     VIGIL_EINVAL);
    assert_int_equal(vigil_event_publish_custom(bus, "n", kv, VIGIL_EVENT_FIELDS_MAX), VIGIL_OK);
    assert_int_equal(a.count, 2);
    vigil_event_bus_options o;
    vigil_event_bus_options_init(&o);
    o.capacity = 1000;
    vigil_event_bus *bad = NULL;
    assert_int_equal(vigil_event_bus_new(&o, &bad), VIGIL_EINVAL);
    assert_null(bad);
    vigil_event_bus_free(NULL);
    vigil_event_bus_free(bus);
}

static void test_log_hook_prints_hook_lines(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(0, 0, 1);
    FILE *f = tmpfile();
    assert_non_null(f);
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_ANY, vigil_event_log_hook, f, NULL),
                     VIGIL_OK);
    publish_one_of_each(bus);
    rewind(f);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    assert_true(has_line(text, "[HOOK] Client connected: client-001"));
    assert_true(has_line(text, "[HOOK] Client disconnected: client-001 (reason: timeout)"));
    assert_true(has_line(text, "[HOOK] Heartbeat timed out: client-003"));
    assert_true(has_line(text, "[HOOK] Message sent: msg-1 to client-004 (128 bytes)"));
    assert_true(has_line(text, "[HOOK] Reconnect: client-006 (attempt 2)"));
    assert_true(has_line(text, "[HOOK] Error: decode (client client-007)"));
    assert_true(has_line(text, "[HOOK] Event room_joined room=lobby size=3"));
    vigil_event_bus_free(bus);
}

/* Runs `script` on the JSON with Python's json module; true when it exits 0. */
static bool json_ok(const char *json, const char *script)
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
    fputs(json, p);
    int rc = pclose(p);
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)) {
        print_message("JSON check failed on:\n%s\n", json);
        return false;
    }
    return true;
}

static void test_recent_ring_keeps_last_n_newest_last_as_valid_json(void **state)
{
    (void)state;
    vigil_event_bus *bus = new_bus(0, 5, 1);
    for (int i = 0; i < 8; i++) {
        char id[16];
        snprintf(id, sizeof id, "msg-%d", i);
        assert_int_equal(vigil_event_publish_message_received(bus, id, "p", (uint64_t)i),
                         VIGIL_OK);
    }
    vigil_event last[10];
    assert_int_equal(vigil_event_bus_recent(bus, last, 10), 5);
    assert_string_equal(last[0].message_id, "msg-3");
    assert_string_equal(last[4].message_id, "msg-7");
    assert_int_equal(vigil_event_bus_recent(bus, last, 2), 2);
    assert_string_equal(last[1].message_id, "msg-7"); /* the newest two */

    vigil_event_kv kv[2] = {{"quote\"d", "tab\there"}, {"bad", "\xff\xfe"}};
    assert_int_equal(vigil_event_publish_custom(bus, "odd \"name\"\n", kv, 2), VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_disconnected(bus, "c\\1", "bye"), VIGIL_OK);
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_event_bus_recent_json(bus, &b), VIGIL_OK);
    assert_true(json_ok(vigil_buffer_cstr(&b),
                        "e = doc['events']\n"
                        "assert len(e) == 5, e\n"
                        "assert doc['dropped'] == 0\n"
                        "assert [x['seq'] for x in e] == sorted(x['seq'] for x in e)\n"
                        "assert e[0]['type'] == 'message_received' and e[0]['id'] == 'msg-5'\n"
                        "assert e[0]['peer'] == 'p' and e[0]['bytes'] == 5\n"
                        "assert e[3]['type'] == 'custom' and e[3]['name'] == 'odd \"name\"\\n'\n"
                        "assert e[3]['fields']['quote\"d'] == 'tab\\there'\n"
                        "assert e[3]['fields']['bad'] == '\\ufffd\\ufffd'\n"
                        "assert e[4] ['type'] == 'client_disconnected'\n"
                        "assert e[4]['client'] == 'c\\\\1' and e[4]['reason'] == 'bye'\n"
                        "assert all(x['time_ms'] > 1600000000000 for x in e)\n"));
    vigil_buffer_free(&b);

    vigil_event_bus *none = new_bus(8, 0, 0);
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_event_bus_recent_json(none, &b), VIGIL_OK);
    assert_true(json_ok(vigil_buffer_cstr(&b), "assert doc == {'events': [], 'dropped': 0}"));
    vigil_buffer_free(&b);
    vigil_event_bus_free(none);
    vigil_event_bus_free(bus);
}

static void test_metrics_render_and_pass_promtool(void **state)
{
    vigil_registry *reg = *state;
    vigil_event_bus *bus = new_bus(2, 10, 0);
    assert_int_equal(vigil_event_bus_register_metrics(bus, reg), VIGIL_OK);
    assert_int_equal(vigil_event_hook_add(bus, VIGIL_EVENT_CLIENT_CONNECTED, failing, NULL, NULL),
                     VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_connected(bus, "a"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_connected(bus, "b"), VIGIL_OK);
    assert_int_equal(vigil_event_publish_client_connected(bus, "c"), VIGIL_ELIMIT);
    char *text = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(text, "vigil_events_total{type=\"client_connected\"} 2");
    ASSERT_LINE(text, "vigil_events_total{type=\"custom\"} 0");
    ASSERT_LINE(text, "vigil_events_dropped_total 1");
    ASSERT_LINE(text, "vigil_events_queued 2");
    ASSERT_LINE(text, "# TYPE vigil_event_hook_errors_total counter");
    assert_promtool_clean(text);
    free(text);
    assert_int_equal(vigil_event_bus_start(bus), VIGIL_OK);
    vigil_event_bus_stop(bus);
    text = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(text, "vigil_event_hook_errors_total{type=\"client_connected\"} 2");
    ASSERT_LINE(text, "vigil_events_queued 0");
    free(text);
    text = render(reg, VIGIL_FORMAT_OPENMETRICS);
    assert_openmetrics_parses(text);
    free(text);
    assert_int_equal(vigil_event_bus_unregister_metrics(bus, reg), VIGIL_OK);
    vigil_event_bus_free(bus);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_event_type_reaches_its_hooks_and_the_catch_all),
        cmocka_unit_test(test_sync_mode_runs_hooks_before_publish_returns),
        cmocka_unit_test(test_full_ring_drops_counts_and_returns_elimit),
        cmocka_unit_test(test_stop_drains_queued_events),
        cmocka_unit_test(test_hook_error_is_counted_and_dispatch_continues),
        cmocka_unit_test(test_removed_hook_is_not_called_and_unknown_id_is_enotfound),
        cmocka_unit_test(test_hook_can_remove_itself),
        cmocka_unit_test(test_strings_are_cut_and_too_many_fields_refused),
        cmocka_unit_test(test_log_hook_prints_hook_lines),
        cmocka_unit_test(test_recent_ring_keeps_last_n_newest_last_as_valid_json),
        cmocka_unit_test_setup_teardown(test_metrics_render_and_pass_promtool, setup_registry,
                                        teardown_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
