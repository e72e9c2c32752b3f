/* test_builtin.c — the built-in checks against the real machine: memory, disk, CPU, file
 * descriptors and load read this host's /proc and statvfs, with thresholds chosen to force each
 * status whatever the machine's state; the TCP check against a socket the test listens on and a
 * port nobody listens on; the HTTP check against a vigil_http_server route answering 200 or 500.
 * Every check is driven with vigil_health_runner_run_all, so results are deterministic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "health_test.h"
#include "vigil/health.h"
#include "vigil/http.h"

static int setup(void **state)
{
    vigil_health_runner *r;
    if (vigil_health_runner_new(NULL, &r) != VIGIL_OK)
        return -1;
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    vigil_health_runner_free(*state);
    return 0;
}

static vigil_health_check_opts named(const char *name)
{
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    o.name = name;
    return o;
}

/* Runs every check once and returns check `name`'s result. */
static vigil_health_result run(vigil_health_runner *r, const char *name)
{
    (void)vigil_health_runner_run_all(r);
    vigil_health_check_info info = info_of(r, name);
    if (!info.has_result)
        fail_msg("check %s has no result", name);
    print_message("%-16s %-9s %s\n", name, vigil_health_status_name(info.result.status),
                  info.result.message);
    return info.result;
}

static const char *detail(const vigil_health_result *res, const char *key)
{
    for (size_t i = 0; i < res->detail_count; i++)
        if (strcmp(res->details[i].key, key) == 0)
            return res->details[i].value;
    fail_msg("no detail %s", key);
    return NULL;
}

#define EXPECT(r, name, want_)                                                              \
    do {                                                                                    \
        vigil_health_result res_ = run((r), (name));                                        \
        if (res_.status != (want_))                                                         \
            fail_msg("%s: %s (%s), want %s", (name), vigil_health_status_name(res_.status), \
                     res_.message, vigil_health_status_name(want_));                        \
    } while (0)

static void test_defaults_give_each_builtin_its_kind_as_name(void **state)
{
    vigil_health_runner *r = *state;
    assert_int_equal(vigil_health_runner_add_memory(r, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_health_runner_add_disk(r, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_health_runner_add_cpu(r, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_health_runner_add_fds(r, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_health_runner_add_load(r, NULL, NULL), VIGIL_OK);
    assert_int_equal(vigil_health_runner_add_memory(r, NULL, NULL), VIGIL_EEXIST);
    assert_int_equal(vigil_health_runner_count(r), 5);
    assert_int_equal(vigil_health_runner_run_all(r), 5);
    const char *names[] = {"memory", "disk", "cpu", "fds", "load"};
    for (size_t i = 0; i < 5; i++) {
        vigil_health_check_info info = info_of(r, names[i]);
        assert_true(info.has_result);
        assert_true(info.critical);
        assert_true(info.result.status != VIGIL_HEALTH_UNKNOWN);
        assert_true(info.result.message[0] != '\0');
        assert_true(info.result.detail_count > 0);
    }
}

static void test_memory_check_applies_available_and_rss_thresholds(void **state)
{
    vigil_health_runner *r = *state;
    vigil_health_memory_opts m;
    const struct {
        const char *name;
        double avail_deg, avail_unh, rss_deg, rss_unh;
        vigil_health_status want;
    } cases[] = {
        {"mem_off", 0, 0, 0, 0, VIGIL_HEALTH_HEALTHY},
        {"mem_avail_deg", 101, 0, 0, 0, VIGIL_HEALTH_DEGRADED},
        {"mem_avail_unh", 101, 101, 0, 0, VIGIL_HEALTH_UNHEALTHY},
        {"mem_rss_deg", 0, 0, 1, 0, VIGIL_HEALTH_DEGRADED},
        {"mem_rss_unh", 0, 0, 1, 1, VIGIL_HEALTH_UNHEALTHY},
        {"mem_rss_high", 0, 0, 1e18, 1e18, VIGIL_HEALTH_HEALTHY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil_health_memory_opts_init(&m);
        m.available_degraded_percent = cases[i].avail_deg;
        m.available_unhealthy_percent = cases[i].avail_unh;
        m.rss_degraded_bytes = cases[i].rss_deg;
        m.rss_unhealthy_bytes = cases[i].rss_unh;
        vigil_health_check_opts o = named(cases[i].name);
        assert_int_equal(vigil_health_runner_add_memory(r, &o, &m), VIGIL_OK);
        EXPECT(r, cases[i].name, cases[i].want);
    }
    vigil_health_result res = run(r, "mem_avail_unh");
    assert_non_null(strstr(res.message, "available memory"));
    double total = atof(detail(&res, "mem_total_bytes"));
    double avail = atof(detail(&res, "mem_available_bytes"));
    assert_true(total > 0 && avail > 0 && avail <= total);
    assert_true(atof(detail(&res, "process_resident_bytes")) > 0);
    vigil_health_memory_opts_init(&m);
    m.rss_degraded_bytes = -1;
    assert_int_equal(vigil_health_runner_add_memory(r, NULL, &m), VIGIL_EINVAL);
}

static void test_disk_check_applies_percent_and_byte_thresholds(void **state)
{
    vigil_health_runner *r = *state;
    vigil_health_disk_opts d;
    const struct {
        const char *name;
        double pct_deg, pct_unh, bytes_deg, bytes_unh;
        vigil_health_status want;
    } cases[] = {
        {"disk_off", 0, 0, 0, 0, VIGIL_HEALTH_HEALTHY},
        {"disk_pct_deg", 101, 0, 0, 0, VIGIL_HEALTH_DEGRADED},
        {"disk_pct_unh", 101, 101, 0, 0, VIGIL_HEALTH_UNHEALTHY},
        {"disk_bytes_deg", 0, 0, 1e30, 0, VIGIL_HEALTH_DEGRADED},
        {"disk_bytes_unh", 0, 0, 0, 1e30, VIGIL_HEALTH_UNHEALTHY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil_health_disk_opts_init(&d);
        d.free_degraded_percent = cases[i].pct_deg;
        d.free_unhealthy_percent = cases[i].pct_unh;
        d.free_degraded_bytes = cases[i].bytes_deg;
        d.free_unhealthy_bytes = cases[i].bytes_unh;
        vigil_health_check_opts o = named(cases[i].name);
        assert_int_equal(vigil_health_runner_add_disk(r, &o, &d), VIGIL_OK);
        EXPECT(r, cases[i].name, cases[i].want);
    }
    vigil_health_result res = run(r, "disk_off");
    assert_string_equal(detail(&res, "path"), "/");
    assert_true(atof(detail(&res, "size_bytes")) > 0);
    double pct = atof(detail(&res, "free_percent"));
    assert_true(pct >= 0 && pct <= 100);

    vigil_health_disk_opts_init(&d);
    d.path = "/no/such/dir/for/vigil";
    vigil_health_check_opts o = named("disk_missing");
    assert_int_equal(vigil_health_runner_add_disk(r, &o, &d), VIGIL_OK);
    EXPECT(r, "disk_missing", VIGIL_HEALTH_UNHEALTHY);
    res = run(r, "disk_missing");
    assert_non_null(strstr(res.message, "statvfs /no/such/dir/for/vigil"));
    d.path = "";
    assert_int_equal(vigil_health_runner_add_disk(r, NULL, &d), VIGIL_EINVAL);
}

static void test_cpu_check_measures_utilisation_between_runs(void **state)
{
    vigil_health_runner *r = *state;
    vigil_health_cpu_opts c;
    const struct {
        const char *name;
        double deg, unh;
        vigil_health_status want;
    } cases[] = {
        {"cpu_off", 101, 101, VIGIL_HEALTH_HEALTHY},
        {"cpu_deg", 0, 101, VIGIL_HEALTH_DEGRADED},
        {"cpu_unh", 0, 0, VIGIL_HEALTH_UNHEALTHY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil_health_cpu_opts_init(&c);
        c.degraded_percent = cases[i].deg;
        c.unhealthy_percent = cases[i].unh;
        c.min_window_seconds = 0.05;
        vigil_health_check_opts o = named(cases[i].name);
        assert_int_equal(vigil_health_runner_add_cpu(r, &o, &c), VIGIL_OK);
    }
    /* First run: measured over its own short window; later runs: since the previous run. */
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            EXPECT(r, cases[i].name, cases[i].want);
        usleep(60000);
    }
    vigil_health_result res = run(r, "cpu_off");
    double pct = atof(detail(&res, "usage_percent"));
    assert_true(pct >= 0 && pct <= 100);
    assert_true(atof(detail(&res, "window_seconds")) >= 0.05);
    vigil_health_cpu_opts_init(&c);
    c.min_window_seconds = 0;
    assert_int_equal(vigil_health_runner_add_cpu(r, NULL, &c), VIGIL_EINVAL);
}

static void test_fds_check_compares_open_descriptors_with_the_limit(void **state)
{
    vigil_health_runner *r = *state;
    vigil_health_fds_opts f;
    const struct {
        const char *name;
        double deg, unh;
        vigil_health_status want;
    } cases[] = {
        {"fds_off", 101, 101, VIGIL_HEALTH_HEALTHY},
        {"fds_deg", 0, 101, VIGIL_HEALTH_DEGRADED},
        {"fds_unh", 0, 0, VIGIL_HEALTH_UNHEALTHY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil_health_fds_opts_init(&f);
        f.degraded_percent = cases[i].deg;
        f.unhealthy_percent = cases[i].unh;
        vigil_health_check_opts o = named(cases[i].name);
        assert_int_equal(vigil_health_runner_add_fds(r, &o, &f), VIGIL_OK);
        EXPECT(r, cases[i].name, cases[i].want);
    }
    vigil_health_result res = run(r, "fds_off");
    assert_true(atoi(detail(&res, "open")) >= 3); /* stdin, stdout, stderr at least */
    assert_non_null(detail(&res, "limit"));
}

static void test_load_check_normalises_by_cpu_count(void **state)
{
    vigil_health_runner *r = *state;
    vigil_health_load_opts l;
    const struct {
        const char *name;
        unsigned minutes;
        double deg, unh;
        vigil_health_status want;
    } cases[] = {
        {"load_off", 1, HUGE_VAL, HUGE_VAL, VIGIL_HEALTH_HEALTHY},
        {"load_deg", 5, 0, HUGE_VAL, VIGIL_HEALTH_DEGRADED},
        {"load_unh", 15, 0, 0, VIGIL_HEALTH_UNHEALTHY},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil_health_load_opts_init(&l);
        l.minutes = cases[i].minutes;
        l.degraded_per_cpu = cases[i].deg;
        l.unhealthy_per_cpu = cases[i].unh;
        vigil_health_check_opts o = named(cases[i].name);
        assert_int_equal(vigil_health_runner_add_load(r, &o, &l), VIGIL_OK);
        EXPECT(r, cases[i].name, cases[i].want);
    }
    vigil_health_result res = run(r, "load_off");
    long cpus = atol(detail(&res, "cpus"));
    assert_true(cpus >= 1);
    double load1 = atof(detail(&res, "load1"));
    assert_true(fabs(atof(detail(&res, "per_cpu")) - load1 / (double)cpus) < 0.01);
    vigil_health_load_opts_init(&l);
    l.minutes = 7;
    assert_int_equal(vigil_health_runner_add_load(r, NULL, &l), VIGIL_EINVAL);
}

/* --- TCP ------------------------------------------------------------------------------------ */

/* A listening socket on 127.0.0.1 (its port in *port), or with listen_too false, a port that
 * was just bound and released, so nobody listens on it. */
static int tcp_socket(bool listen_too, unsigned *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    if (listen_too) {
        assert_int_equal(listen(fd, SOMAXCONN), 0); /* never accepted: room for every probe */
        return fd;
    }
    close(fd);
    return -1;
}

static void test_tcp_check_connects_to_a_listener_and_fails_on_a_closed_port(void **state)
{
    vigil_health_runner *r = *state;
    unsigned open_port, closed_port;
    int lfd = tcp_socket(true, &open_port);
    (void)tcp_socket(false, &closed_port);

    vigil_health_tcp_opts t;
    vigil_health_tcp_opts_init(&t);
    t.host = "127.0.0.1";
    t.port = open_port;
    vigil_health_check_opts o = named("tcp_open");
    assert_int_equal(vigil_health_runner_add_tcp(r, &o, &t), VIGIL_OK);
    t.host = "localhost";
    o = named("tcp_by_name");
    assert_int_equal(vigil_health_runner_add_tcp(r, &o, &t), VIGIL_OK);
    t.host = "127.0.0.1";
    t.slow_seconds = 1e-9; /* every connection is "slow" */
    o = named("tcp_slow");
    assert_int_equal(vigil_health_runner_add_tcp(r, &o, &t), VIGIL_OK);
    t.slow_seconds = 0;
    t.port = closed_port;
    o = named("tcp_closed");
    assert_int_equal(vigil_health_runner_add_tcp(r, &o, &t), VIGIL_OK);

    EXPECT(r, "tcp_open", VIGIL_HEALTH_HEALTHY);
    vigil_health_result res = run(r, "tcp_open");
    char want[64];
    snprintf(want, sizeof want, "127.0.0.1:%u", open_port);
    assert_string_equal(detail(&res, "address"), want);
    assert_true(atof(detail(&res, "connect_seconds")) >= 0);
    EXPECT(r, "tcp_by_name", VIGIL_HEALTH_HEALTHY);
    EXPECT(r, "tcp_slow", VIGIL_HEALTH_DEGRADED);
    EXPECT(r, "tcp_closed", VIGIL_HEALTH_UNHEALTHY);
    res = run(r, "tcp_closed");
    assert_non_null(strstr(res.message, "refused"));
    close(lfd);

    t.port = 0;
    assert_int_equal(vigil_health_runner_add_tcp(r, NULL, &t), VIGIL_EINVAL);
    assert_int_equal(vigil_health_runner_add_tcp(r, NULL, NULL), VIGIL_EINVAL);
}

static void test_tcp_check_reports_an_unresolvable_host(void **state)
{
    vigil_health_runner *r = *state;
    vigil_health_tcp_opts t;
    vigil_health_tcp_opts_init(&t);
    t.host = "no-such-host.invalid"; /* RFC 6761: never resolves */
    t.port = 80;
    vigil_health_check_opts o = named("tcp_unresolvable");
    o.timeout_seconds = 2;
    assert_int_equal(vigil_health_runner_add_tcp(r, &o, &t), VIGIL_OK);
    /* On the runner's threads: a resolver that takes longer than the timeout (no DNS server
     * answering) is reported by the runner instead; unhealthy either way. */
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    WAIT_FOR(info_of(r, "tcp_unresolvable").has_result, 10);
    vigil_health_check_info info = info_of(r, "tcp_unresolvable");
    print_message("tcp_unresolvable: %s\n", info.result.message);
    assert_int_equal(info.result.status, VIGIL_HEALTH_UNHEALTHY);
    assert_true(strstr(info.result.message, "resolve no-such-host.invalid") != NULL ||
                info.result.timed_out);
}

/* --- HTTP ----------------------------------------------------------------------------------- */

static vigil_status answer(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    (void)req;
    unsigned code = (unsigned)(uintptr_t)user;
    vigil_http_response_status(resp, code);
    return vigil_http_response_append(resp, "body\n", 5);
}

static void add_http(vigil_health_runner *r, const char *name, unsigned port, const char *path,
                     unsigned expected)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    vigil_health_http_opts h;
    vigil_health_http_opts_init(&h);
    h.url = url;
    h.expected_status = expected;
    vigil_health_check_opts o = named(name);
    o.timeout_seconds = 3;
    assert_int_equal(vigil_health_runner_add_http(r, &o, &h), VIGIL_OK);
}

static void test_http_check_compares_the_status_with_the_expected_one(void **state)
{
    vigil_health_runner *r = *state;
    vigil_http_options ho;
    vigil_http_options_init(&ho);
    ho.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    assert_int_equal(vigil_http_server_new(&ho, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/ok", false, answer, (void *)(uintptr_t)200),
                     VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/fail", false, answer, (void *)(uintptr_t)500),
                     VIGIL_OK);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    unsigned port = vigil_http_server_port(srv);
    unsigned closed_port;
    (void)tcp_socket(false, &closed_port);

    add_http(r, "http_ok", port, "/ok", 200);
    add_http(r, "http_any_2xx", port, "/ok", 0);
    add_http(r, "http_fail", port, "/fail", 200);
    add_http(r, "http_fail_expected", port, "/fail", 500);
    add_http(r, "http_missing", port, "/nope", 200);
    add_http(r, "http_mismatch", port, "/ok", 204);
    add_http(r, "http_closed", closed_port, "/ok", 200);

    EXPECT(r, "http_ok", VIGIL_HEALTH_HEALTHY);
    vigil_health_result res = run(r, "http_ok");
    assert_string_equal(detail(&res, "status_code"), "200");
    assert_true(atof(detail(&res, "response_seconds")) >= 0);
    EXPECT(r, "http_any_2xx", VIGIL_HEALTH_HEALTHY);
    EXPECT(r, "http_fail", VIGIL_HEALTH_UNHEALTHY);
    res = run(r, "http_fail");
    assert_non_null(strstr(res.message, "status 500, expected 200"));
    EXPECT(r, "http_fail_expected", VIGIL_HEALTH_HEALTHY);
    EXPECT(r, "http_missing", VIGIL_HEALTH_UNHEALTHY);
    EXPECT(r, "http_mismatch", VIGIL_HEALTH_UNHEALTHY);
    res = run(r, "http_mismatch");
    assert_non_null(strstr(res.message, "status 200, expected 204"));
    EXPECT(r, "http_closed", VIGIL_HEALTH_UNHEALTHY);

    /* The same checks on the runner's own threads. */
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    vigil_health_runner_stop(r);
    vigil_http_server_free(srv);

    vigil_health_http_opts h;
    vigil_health_http_opts_init(&h);
    h.url = "ftp://example.com/";
    assert_int_equal(vigil_health_runner_add_http(r, NULL, &h), VIGIL_EINVAL);
    h.url = "http://127.0.0.1/";
    h.expected_status = 42;
    assert_int_equal(vigil_health_runner_add_http(r, NULL, &h), VIGIL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_defaults_give_each_builtin_its_kind_as_name, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_memory_check_applies_available_and_rss_thresholds,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_check_applies_percent_and_byte_thresholds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cpu_check_measures_utilisation_between_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fds_check_compares_open_descriptors_with_the_limit,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_check_normalises_by_cpu_count, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_tcp_check_connects_to_a_listener_and_fails_on_a_closed_port, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tcp_check_reports_an_unresolvable_host, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_http_check_compares_the_status_with_the_expected_one,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
