/* test_query_api_runtime.c — the runtime's wiring of the query API: with history enabled the
 * metrics port answers Prometheus's API about the program's own metrics; the option, the
 * environment and a disabled history turn it off; bad settings stop vigil_start. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "vigil/metrics.h"
#include "vigil/runtime.h"

typedef struct reply {
    long code;
    char body[65536];
    size_t len;
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    reply *r = user;
    size_t k = size * n;
    size_t room = sizeof r->body - 1 - r->len;
    memcpy(r->body + r->len, p, k < room ? k : room);
    r->len += k < room ? k : room;
    r->body[r->len] = '\0';
    return k;
}

/* GET base + target, where base is the runtime's metrics URL without its path. */
static reply get(const vigil_runtime *rt, const char *target)
{
    reply r;
    memset(&r, 0, sizeof r);
    char url[1024];
    const char *m = vigil_runtime_metrics_url(rt);
    const char *path = strchr(m + strlen("http://"), '/');
    snprintf(url, sizeof url, "%.*s%s", (int)(path - m), m, target);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_easy_cleanup(c);
    return r;
}

typedef struct fixture {
    vigil_registry *reg;
    vigil_options o;
} fixture;

static int setup(void **state)
{
    static const char *const env[] = {"VIGIL_QUERY_API_ENABLED", "VIGIL_QUERY_API_PATH",
                                      "VIGIL_QUERY_TIMEOUT_MS",  "VIGIL_HISTORY_ENABLED",
                                      "VIGIL_METRICS_ADDR",      "VIGIL_METRICS_PORT",
                                      "VIGIL_METRICS_ENABLED",   "VIGIL_SCRAPE_INTERVAL_MS"};
    for (size_t i = 0; i < sizeof env / sizeof env[0]; i++)
        unsetenv(env[i]);
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(vigil_registry_new(&f->reg), VIGIL_OK);
    vigil_metric_opts mo;
    vigil_metric_opts_init(&mo);
    mo.name = "rt_api_test";
    mo.help = "Counted by the test.";
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(f->reg, &mo, &c), VIGIL_OK);
    vigil_counter_add_u64(c, 42);
    vigil_options_init(&f->o);
    f->o.registry = f->reg;
    f->o.metrics_addr = "127.0.0.1:0";
    f->o.process_metrics = false;
    f->o.health_enabled = false;
    f->o.history_enabled = true;
    f->o.scrape_interval_ms = 1000;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vigil_registry_free(f->reg);
    free(f);
    return 0;
}

#define SERIES "/api/v1/series?match%5B%5D=rt_api_test_total"
#define FOUND "{\"status\":\"success\",\"data\":[{\"__name__\":\"rt_api_test_total\"}]}"

/* Polls the series endpoint until the first self-scrape has landed (at most 10 s). */
static reply wait_for_scrape(const vigil_runtime *rt, const char *target)
{
    reply r;
    for (int i = 0; i < 200; i++) {
        r = get(rt, target);
        if (r.code != 200 || strcmp(r.body, "{\"status\":\"success\",\"data\":[]}") != 0)
            break;
        struct timespec pause = {0, 50 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    return r;
}

static void history_serves_the_query_api_on_the_metrics_port(void **state)
{
    fixture *f = *state;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_OK);
    reply r = wait_for_scrape(rt, SERIES);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, FOUND);
    char target[256], want[512];
    long long now = (long long)time(NULL) + 1;
    snprintf(target, sizeof target, "/api/v1/query?query=rt_api_test_total&time=%lld", now);
    snprintf(want, sizeof want,
             "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":"
             "{\"__name__\":\"rt_api_test_total\"},\"value\":[%lld,\"42\"]}]}}",
             now);
    r = get(rt, target);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, want);
    r = get(rt, "/api/v1/metadata?metric=rt_api_test");
    assert_string_equal(r.body, "{\"status\":\"success\",\"data\":{\"rt_api_test\":[{\"type\":"
                                "\"counter\",\"help\":\"Counted by the test.\",\"unit\":\"\"}]}}");
    vigil_stop(rt);
}

static void option_turns_the_query_api_off(void **state)
{
    fixture *f = *state;
    f->o.query_api_enabled = false;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_OK);
    assert_int_equal(get(rt, SERIES).code, 404);
    assert_int_equal(get(rt, "/metrics").code, 200);
    vigil_stop(rt);
}

static void environment_turns_it_off_or_moves_it(void **state)
{
    fixture *f = *state;
    vigil_runtime *rt;
    setenv("VIGIL_QUERY_API_ENABLED", "0", 1);
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_OK);
    assert_int_equal(get(rt, SERIES).code, 404);
    vigil_stop(rt);
    unsetenv("VIGIL_QUERY_API_ENABLED");
    setenv("VIGIL_QUERY_API_PATH", "/prom/api/v1", 1);
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_OK);
    assert_int_equal(get(rt, SERIES).code, 404);
    reply r = wait_for_scrape(rt, "/prom" SERIES);
    assert_string_equal(r.body, FOUND);
    vigil_stop(rt);
    unsetenv("VIGIL_QUERY_API_PATH");
}

static void without_history_there_is_no_query_api(void **state)
{
    fixture *f = *state;
    f->o.history_enabled = false;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_OK);
    assert_int_equal(get(rt, SERIES).code, 404);
    vigil_stop(rt);
}

static void bad_settings_stop_vigil_start(void **state)
{
    fixture *f = *state;
    vigil_runtime *rt = NULL;
    setenv("VIGIL_QUERY_TIMEOUT_MS", "0", 1);
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "VIGIL_QUERY_TIMEOUT_MS"));
    unsetenv("VIGIL_QUERY_TIMEOUT_MS");
    setenv("VIGIL_QUERY_API_PATH", "/api/v1/", 1);
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "VIGIL_QUERY_API_PATH"));
    unsetenv("VIGIL_QUERY_API_PATH");
    f->o.query_api_path = "api";
    assert_int_equal(vigil_start(&f->o, &rt), VIGIL_EINVAL);
    assert_null(rt);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(history_serves_the_query_api_on_the_metrics_port, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(option_turns_the_query_api_off, setup, teardown),
        cmocka_unit_test_setup_teardown(environment_turns_it_off_or_moves_it, setup, teardown),
        cmocka_unit_test_setup_teardown(without_history_there_is_no_query_api, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_settings_stop_vigil_start, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
