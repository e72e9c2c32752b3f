/* test_endpoints.c — the health endpoints end to end on a real server (127.0.0.1, port 0): the
 * status codes of /health, /health/live and /health/ready in every state, the JSON report
 * (parsed by Python's json module, names and messages with quotes, control characters and
 * invalid UTF-8 coming back escaped), /health answering while a check hangs, and the health
 * metrics rendered and passed through `promtool check metrics`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../http/http_client.h"
#include "health_test.h"
#include "vigil/expo.h"
#include "vigil/health.h"
#include "vigil/http.h"

typedef struct fixture {
    vigil_health_runner *runner;
    vigil_http_server *srv;
    unsigned port;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(vigil_health_runner_new(NULL, &f->runner), VIGIL_OK);
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    assert_int_equal(vigil_http_server_new(&o, &f->srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_health(f->srv, "/health", f->runner), VIGIL_OK);
    assert_int_equal(vigil_http_server_start(f->srv), VIGIL_OK);
    f->port = vigil_http_server_port(f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vigil_http_server_free(f->srv); /* first: its handlers read the runner */
    vigil_health_runner_free(f->runner);
    free(f);
    return 0;
}

/* GET path; returns the status code and leaves the reply in *r (free with reply_free). */
static int get(const fixture *f, const char *path, reply *r)
{
    if (!http_get(f->port, path, r))
        fail_msg("GET %s failed", path);
    return r->status;
}

static int code_of(const fixture *f, const char *path)
{
    reply r;
    int code = get(f, path, &r);
    reply_free(&r);
    return code;
}

static void expect_codes(const fixture *f, int health, int ready, const char *what)
{
    int h = code_of(f, "/health"), l = code_of(f, "/health/live"), rd = code_of(f, "/health/ready");
    if (h != health || l != 200 || rd != ready)
        fail_msg("%s: /health %d /health/live %d /health/ready %d, want %d 200 %d", what, h, l, rd,
                 health, ready);
}

static void test_status_codes_follow_the_rolled_up_status(void **state)
{
    fixture *f = *state;
    /* No checks: healthy and ready. */
    expect_codes(f, 200, 200, "no checks");

    scripted crit = {0}, other = {0};
    add_check(f->runner, "crit", scripted_fn, &crit, true, 60, 5);
    add_check(f->runner, "other", scripted_fn, &other, false, 60, 5);
    expect_codes(f, 503, 503, "no result yet (unknown)");

    atomic_store(&crit.status, VIGIL_HEALTH_HEALTHY);
    atomic_store(&other.status, VIGIL_HEALTH_HEALTHY);
    (void)vigil_health_runner_run_all(f->runner);
    expect_codes(f, 200, 200, "healthy");

    atomic_store(&other.status, VIGIL_HEALTH_UNHEALTHY);
    (void)vigil_health_runner_run_all(f->runner);
    expect_codes(f, 200, 200, "non-critical unhealthy (degraded)");

    atomic_store(&crit.status, VIGIL_HEALTH_UNHEALTHY);
    (void)vigil_health_runner_run_all(f->runner);
    expect_codes(f, 503, 503, "critical unhealthy");

    atomic_store(&crit.status, VIGIL_HEALTH_HEALTHY);
    atomic_store(&other.status, VIGIL_HEALTH_HEALTHY);
    (void)vigil_health_runner_run_all(f->runner);
    scripted late = {0};
    add_check(f->runner, "late", scripted_fn, &late, true, 60, 5);
    expect_codes(f, 200, 503, "a critical check without a result (degraded, not ready)");

    reply r;
    assert_int_equal(get(f, "/health/ready", &r), 503);
    assert_true(json_ok(r.body, r.body_len,
                        "assert doc['ready'] is False\n"
                        "assert doc['status'] == 'degraded'\n"
                        "assert 'late' in doc['reason']\n"));
    reply_free(&r);
    assert_int_equal(get(f, "/health/live", &r), 200);
    assert_true(json_ok(r.body, r.body_len, "assert doc == {'status': 'alive'}"));
    reply_free(&r);
}

static void test_responses_are_json_and_never_cached(void **state)
{
    fixture *f = *state;
    const char *paths[] = {"/health", "/health/live", "/health/ready"};
    for (size_t i = 0; i < 3; i++) {
        reply r;
        (void)get(f, paths[i], &r);
        char v[128];
        assert_non_null(reply_header(&r, "Content-Type", v, sizeof v));
        assert_string_equal(v, "application/json");
        assert_non_null(reply_header(&r, "Cache-Control", v, sizeof v));
        assert_string_equal(v, "no-store");
        assert_true(json_ok(r.body, r.body_len, NULL));
        reply_free(&r);
    }
    reply r;
    assert_true(http_call(AF_INET, f->port, "HEAD", "/health", NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    reply_free(&r);
    assert_true(http_call(AF_INET, f->port, "POST", "/health", NULL, "x", &r));
    assert_int_equal(r.status, 405);
    reply_free(&r);
}

static vigil_health_status awkward_fn(vigil_health_result *res, void *user)
{
    (void)user;
    vigil_health_result_message(res, "quote \" backslash \\ newline \n tab \t bad \xff byte");
    (void)vigil_health_result_detail(res, "path", "C:\\tmp\\\"x\"");
    (void)vigil_health_result_detail(res, "ctrl", "bell\a");
    return VIGIL_HEALTH_DEGRADED;
}

static void test_report_is_valid_json_with_every_field_escaped(void **state)
{
    fixture *f = *state;
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    o.name = "we\"ird\\name é";
    o.fn = awkward_fn;
    o.critical = false;
    o.interval_seconds = 30;
    o.timeout_seconds = 2;
    assert_int_equal(vigil_health_runner_add(f->runner, &o), VIGIL_OK);
    scripted pending = {0};
    add_check(f->runner, "pending", scripted_fn, &pending, false, 60, 5);
    (void)vigil_health_runner_run_all(f->runner);
    assert_int_equal(vigil_health_runner_remove(f->runner, "pending"), VIGIL_OK);
    add_check(f->runner, "pending", scripted_fn, &pending, false, 60, 5);

    reply r;
    assert_int_equal(get(f, "/health", &r), 200);
    const char *script =
        "assert doc['status'] == 'degraded', doc\n"
        "assert doc['ready'] is True\n"
        "c = doc['checks'][0]\n"
        "assert c['name'] == 'we\"ird\\\\name \\u00e9', c['name']\n"
        "assert c['status'] == 'degraded'\n"
        "assert c['critical'] is False\n"
        "assert c['message'] == 'quote \" backslash \\\\ newline \\n tab \\t bad \\ufffd byte', "
        "c['message']\n"
        "assert c['details'] == {'path': 'C:\\\\tmp\\\\\"x\"', 'ctrl': 'bell\\x07'}, c['details']\n"
        "assert isinstance(c['duration_seconds'], float) or c['duration_seconds'] == 0\n"
        "import re\n"
        "assert re.fullmatch(r'\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z', "
        "c['last_run']), c['last_run']\n"
        "assert c['timed_out'] is False and c['running'] is False\n"
        "assert c['interval_seconds'] == 30 and c['timeout_seconds'] == 2\n"
        "assert c['runs'] == 1 and c['timeouts'] == 0\n"
        "p = doc['checks'][1]\n"
        "assert p['name'] == 'pending' and p['status'] == 'unknown'\n"
        "assert p['duration_seconds'] is None and p['last_run'] is None\n"
        "assert p['details'] == {}\n";
    assert_true(json_ok(r.body, r.body_len, script));
    reply_free(&r);
}

static void test_health_answers_while_a_check_hangs(void **state)
{
    fixture *f = *state;
    gate g;
    gate_init(&g);
    scripted fast = {0};
    add_check(f->runner, "hangs", gate_fn, &g, true, 60, 30); /* long timeout: still running */
    add_check(f->runner, "fast", scripted_fn, &fast, false, 60, 5);
    assert_int_equal(vigil_health_runner_start(f->runner), VIGIL_OK);
    WAIT_FOR(atomic_load(&g.entered) == 1 && atomic_load(&fast.runs) == 1, 10);
    assert_int_equal(atomic_load(&g.entered), 1);

    for (int i = 0; i < 3; i++) {
        reply r;
        /* The check is blocked (and far from its timeout) while these requests complete. */
        int code = get(f, "/health", &r);
        assert_int_equal(atomic_load(&g.returned), 0);
        assert_int_equal(code, 200); /* degraded: the critical check has no result yet */
        assert_true(json_ok(r.body, r.body_len,
                            "h = [c for c in doc['checks'] if c['name'] == 'hangs'][0]\n"
                            "assert h['running'] is True and h['status'] == 'unknown'\n"));
        reply_free(&r);
        assert_int_equal(code_of(f, "/health/ready"), 503);
        assert_int_equal(code_of(f, "/health/live"), 200);
    }
    gate_release(&g);
    WAIT_FOR(info_of(f->runner, "hangs").has_result, 10);
    assert_int_equal(code_of(f, "/health/ready"), 200);
    vigil_health_runner_stop(f->runner);
    gate_destroy(&g);
}

static void test_serve_health_validates_its_prefix(void **state)
{
    fixture *f = *state;
    vigil_http_server *srv;
    assert_int_equal(vigil_http_server_new(NULL, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_health(srv, "health", f->runner), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_serve_health(srv, "/health/", f->runner), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_serve_health(srv, "/", f->runner), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_serve_health(srv, "/hc", NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_serve_health(srv, "/hc", f->runner), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_health(srv, "/hc", f->runner), VIGIL_EEXIST);
    vigil_http_server_free(srv);
}

/* --- metrics ------------------------------------------------------------------------------- */

static char *render_text(vigil_registry *reg)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    if (vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b) != VIGIL_OK)
        fail_msg("render: %s", vigil_errmsg());
    char *s = strdup(vigil_buffer_cstr(&b));
    vigil_buffer_free(&b);
    return s;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

#define ASSERT_LINE(out, line)                                                    \
    do {                                                                          \
        if (!has_line((out), (line)))                                             \
            fail_msg("line not rendered: %s\n--- output ---\n%s", (line), (out)); \
    } while (0)

static void promtool_clean(const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("promtool not found (Debian: prometheus): check skipped\n");
        return;
    }
    FILE *f = fopen("health.prom", "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    int rc = system("promtool check metrics < health.prom > promtool.out 2>&1");
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)) {
        (void)system("cat promtool.out");
        fail_msg("promtool check metrics failed (exit %d)", rc);
    }
    f = fopen("promtool.out", "r");
    assert_non_null(f);
    char line[512];
    bool findings = false;
    while (fgets(line, sizeof line, f) != NULL) {
        print_message("promtool: %s", line);
        findings = true;
    }
    fclose(f);
    assert_false(findings); /* promtool exits 0 on lint findings too: require none */
}

static void test_metrics_render_every_check_and_pass_promtool(void **state)
{
    fixture *f = *state;
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    assert_int_equal(vigil_health_runner_register_metrics(f->runner, reg), VIGIL_OK);
    assert_int_equal(vigil_health_runner_register_metrics(f->runner, reg), VIGIL_ESTATE);

    char *out = render_text(reg); /* no checks: healthy, empty families */
    ASSERT_LINE(out, "vigil_health_status 0");
    free(out);

    scripted db = {0}, cache = {0}, pending = {0};
    atomic_store(&db.status, VIGIL_HEALTH_UNHEALTHY);
    atomic_store(&cache.status, VIGIL_HEALTH_DEGRADED);
    add_check(f->runner, "db", scripted_fn, &db, true, 60, 5);
    add_check(f->runner, "cache", scripted_fn, &cache, false, 60, 5);
    (void)vigil_health_runner_run_all(f->runner);
    add_check(f->runner, "pending", scripted_fn, &pending, false, 60, 5);
    out = render_text(reg);
    ASSERT_LINE(out, "vigil_health_check_status{check=\"pending\"} 3");
    ASSERT_LINE(out, "vigil_health_check_runs_total{check=\"pending\"} 0");
    assert_null(strstr(out, "vigil_health_check_duration_seconds{check=\"pending\"}"));
    assert_null(strstr(out, "vigil_health_check_last_run_timestamp_seconds{check=\"pending\"}"));
    promtool_clean(out);
    free(out);

    gate g;
    gate_init(&g);
    add_check(f->runner, "hangs", gate_fn, &g, false, 60, 0.05);
    assert_int_equal(vigil_health_runner_start(f->runner), VIGIL_OK);
    WAIT_FOR(info_of(f->runner, "hangs").result.timed_out, 10);

    out = render_text(reg);
    ASSERT_LINE(out, "# TYPE vigil_health_status gauge");
    ASSERT_LINE(out, "vigil_health_status 2");
    ASSERT_LINE(out, "vigil_health_check_status{check=\"db\"} 2");
    ASSERT_LINE(out, "vigil_health_check_status{check=\"cache\"} 1");
    ASSERT_LINE(out, "vigil_health_check_status{check=\"hangs\"} 1");
    ASSERT_LINE(out, "# TYPE vigil_health_check_timeouts_total counter");
    ASSERT_LINE(out, "vigil_health_check_timeouts_total{check=\"hangs\"} 1");
    ASSERT_LINE(out, "vigil_health_check_timeouts_total{check=\"db\"} 0");
    ASSERT_LINE(out, "# TYPE vigil_health_check_duration_seconds gauge");
    assert_non_null(strstr(out, "vigil_health_check_duration_seconds{check=\"db\"} "));
    assert_non_null(strstr(out, "vigil_health_check_last_run_timestamp_seconds{check=\"db\"} "));
    assert_non_null(strstr(out, "vigil_health_check_runs_total{check=\"db\"} "));
    promtool_clean(out);
    free(out);

    gate_release(&g);
    WAIT_FOR(atomic_load(&g.returned) == 1, 10);
    vigil_health_runner_stop(f->runner);
    gate_destroy(&g);
    /* The runner removes its collector when freed (teardown), so the registry goes last. */
    vigil_http_server_free(f->srv);
    f->srv = NULL;
    vigil_health_runner_free(f->runner);
    f->runner = NULL;
    out = render_text(reg);
    assert_null(strstr(out, "vigil_health"));
    free(out);
    vigil_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_status_codes_follow_the_rolled_up_status, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_responses_are_json_and_never_cached, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_is_valid_json_with_every_field_escaped, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_health_answers_while_a_check_hangs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_health_validates_its_prefix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_render_every_check_and_pass_promtool, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
