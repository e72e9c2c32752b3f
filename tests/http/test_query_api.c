/* test_query_api.c — the Prometheus query API end to end: a store filled from an OpenMetrics
 * file, served on 127.0.0.1 port 0, requested with libcurl (GET and POST forms), every response
 * compared byte for byte. The expected bodies are what the real Prometheus 2.42 (Debian 12)
 * answered over the same data (the file below imported with `promtool tsdb
 * create-blocks-from openmetrics`), so a difference here is a difference a Grafana dashboard or
 * a script written against Prometheus would see. */
#include <math.h>
#include <pthread.h>
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

#include "../support/failing_alloc.h"
#include "vigil/http.h"
#include "vigil/promql.h"
#include "vigil/tsdb.h"
#include "vigil/version.h"

/* The data both Prometheus and this test serve. */
static const char DATA[] = "# TYPE api_requests counter\n"
                           "# HELP api_requests Requests served.\n"
                           "api_requests_total{code=\"200\",path=\"/a\"} 1 1700000000\n"
                           "api_requests_total{code=\"200\",path=\"/a\"} 5 1700000015\n"
                           "api_requests_total{code=\"200\",path=\"/a\"} 9 1700000030.5\n"
                           "api_requests_total{code=\"500\",path=\"/a\"} 2 1700000000\n"
                           "api_requests_total{code=\"500\",path=\"/a\"} 3 1700000015\n"
                           "# TYPE api_temp gauge\n"
                           "# HELP api_temp Temperature.\n"
                           "api_temp{room=\"x<&>\\\"\\\\\\n\\tq\"} 0.0000001 1700000000\n"
                           "api_temp{room=\"big\"} 1e21 1700000000\n"
                           "api_temp{room=\"nan\"} NaN 1700000000\n"
                           "api_temp{room=\"inf\"} +Inf 1700000000\n"
                           "api_temp{room=\"ninf\"} -Inf 1700000000\n"
                           "api_temp{room=\"neg\"} -2.5 1700000000\n"
                           "api_temp{room=\"caps\"} 123456789012 1700000000\n"
                           "# EOF\n";

/* Series enough that SLOW_QUERY over them runs for seconds (quantile_over_time sorts every
 * window; 2 s on the reference VM): timeouts and concurrency. */
#define HEAVY_SERIES 400
#define HEAVY_SAMPLES 720
#define SLOW_QUERY                                                                         \
    "query=sum(quantile_over_time(0.5,heavy_total%5B2h%5D))%2Bsum(quantile_over_time(0.9," \
    "heavy_total%5B2h%5D))&start=1700000000&end=1700007200&step=1"

typedef struct fixture {
    vigil_tsdb *db, *heavy;
    vigil_query_api *api, *capped;
    vigil_http_server *srv;
    unsigned port;
} fixture;

static fixture *F;

/* --- HTTP client --------------------------------------------------------------------------- */

typedef struct reply {
    long code;
    char *body;
    size_t len;
    char headers[8192];
    size_t hlen;
    double seconds;
} reply;

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
    reply *r = user;
    size_t k = size * n;
    r->body = realloc(r->body, r->len + k + 1);
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t size, size_t n, void *user)
{
    reply *r = user;
    size_t k = size * n;
    if (r->hlen + k < sizeof r->headers) {
        memcpy(r->headers + r->hlen, p, k);
        r->hlen += k;
        r->headers[r->hlen] = '\0';
    }
    return k;
}

/* One request: target is the path with its query string; post_body NULL means GET. */
static reply request(const char *target, const char *post_body, const char *header)
{
    reply r;
    memset(&r, 0, sizeof r);
    r.body = calloc(1, 1);
    char url[16384];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", F->port, target);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = header ? curl_slist_append(NULL, header) : NULL;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    if (post_body != NULL)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post_body);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK)
        fail_msg("%s: %s", target, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r.seconds);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    return r;
}

/* "k=v&k2=v2" from NULL-terminated name, value pairs, each percent-encoded. */
static char *form(const char *first, va_list ap)
{
    size_t cap = 16384, len = 0;
    char *out = calloc(1, cap);
    for (const char *name = first; name != NULL; name = va_arg(ap, const char *)) {
        const char *value = va_arg(ap, const char *);
        char *n = curl_easy_escape(NULL, name, 0), *v = curl_easy_escape(NULL, value, 0);
        len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", len ? "&" : "", n, v);
        curl_free(n);
        curl_free(v);
    }
    return out;
}

/* GET path?<pairs>, expecting the code and the exact body. */
static void get_expect(long code, const char *want, const char *path, ...)
{
    va_list ap;
    va_start(ap, path);
    const char *first = va_arg(ap, const char *);
    char *q = form(first, ap);
    va_end(ap);
    char target[16384];
    snprintf(target, sizeof target, "%s%s%s", path, q[0] ? "?" : "", q);
    reply r = request(target, NULL, NULL);
    bool same = r.code == code && strcmp(r.body, want) == 0;
    if (!same)
        print_error("GET %s\n got %ld %s\nwant %ld %s\n", target, r.code, r.body, code, want);
    free(q);
    free(r.body);
    if (!same)
        fail();
}

/* POST path with <pairs> as an application/x-www-form-urlencoded body. */
static void post_expect(long code, const char *want, const char *path, ...)
{
    va_list ap;
    va_start(ap, path);
    const char *first = va_arg(ap, const char *);
    char *body = form(first, ap);
    va_end(ap);
    reply r = request(path, body, NULL);
    bool same = r.code == code && strcmp(r.body, want) == 0;
    if (!same)
        print_error("POST %s %s\n got %ld %s\nwant %ld %s\n", path, body, r.code, r.body, code,
                    want);
    free(body);
    free(r.body);
    if (!same)
        fail();
}

static char *bad_data(const char *msg)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"%s\"}",
             msg);
    return buf;
}

/* --- fixture ------------------------------------------------------------------------------- */

static vigil_tsdb *open_store(void)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    return db;
}

static void fill_heavy(vigil_tsdb *db)
{
    for (int s = 0; s < HEAVY_SERIES; s++) {
        char id[16];
        snprintf(id, sizeof id, "%d", s);
        vigil_label l[] = {{"__name__", "heavy_total"}, {"id", id}};
        vigil_tsdb_ref ref;
        assert_int_equal(vigil_tsdb_series(db, l, 2, &ref), VIGIL_OK);
        for (int i = 0; i < HEAVY_SAMPLES; i++)
            assert_int_equal(vigil_tsdb_append_ref(db, ref, INT64_C(1700000000000) + i * 10000,
                                                   (double)(i * (s + 1))),
                             VIGIL_OK);
    }
}

static int setup(void **state)
{
    (void)state;
    curl_global_init(CURL_GLOBAL_ALL);
    F = calloc(1, sizeof *F);
    FILE *f = fopen("api_data.om", "w");
    assert_non_null(f);
    fputs(DATA, f);
    fclose(f);
    F->db = open_store();
    assert_int_equal(vigil_tsdb_import_openmetrics(F->db, "api_data.om", NULL), VIGIL_OK);
    F->heavy = open_store();
    fill_heavy(F->heavy);
    assert_int_equal(vigil_query_api_new(F->db, NULL, &F->api), VIGIL_OK);
    vigil_promql_options po;
    vigil_promql_options_init(&po);
    po.timeout_ms = 10;
    assert_int_equal(vigil_query_api_new(F->heavy, &po, &F->capped), VIGIL_OK);
    vigil_http_options ho;
    vigil_http_options_init(&ho);
    ho.listen = "127.0.0.1:0";
    ho.threads = 4;
    assert_int_equal(vigil_http_server_new(&ho, &F->srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_query_api(F->srv, "/api/v1", F->api), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_query_api(F->srv, "/capped/api/v1", F->capped),
                     VIGIL_OK);
    vigil_query_api *heavy_api;
    assert_int_equal(vigil_query_api_new(F->heavy, NULL, &heavy_api), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_query_api(F->srv, "/heavy/api/v1", heavy_api),
                     VIGIL_OK);
    assert_int_equal(vigil_http_server_start(F->srv), VIGIL_OK);
    F->port = vigil_http_server_port(F->srv);
    *state = heavy_api;
    return 0;
}

static int teardown(void **state)
{
    vigil_http_server_free(F->srv);
    vigil_query_api_free(*state);
    vigil_query_api_free(F->api);
    vigil_query_api_free(F->capped);
    vigil_tsdb_close(F->db);
    vigil_tsdb_close(F->heavy);
    free(F);
    curl_global_cleanup();
    return 0;
}

/* --- /query -------------------------------------------------------------------------------- */

#define REQUESTS_AT_31                                                                      \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{" \
    "\"__name__\":\"api_requests_total\",\"code\":\"200\",\"path\":\"/a\"},\"value\":["     \
    "1700000031,\"9\"]},{\"metric\":{\"__name__\":\"api_requests_total\",\"code\":\"500\"," \
    "\"path\":\"/a\"},\"value\":[1700000031,\"3\"]}]}}"

static void instant_query_returns_prometheus_vector(void **state)
{
    (void)state;
    get_expect(200, REQUESTS_AT_31, "/api/v1/query", "query", "api_requests_total", "time",
               "1700000031", NULL);
}

static void instant_query_accepts_rfc3339_times(void **state)
{
    (void)state;
    get_expect(200, REQUESTS_AT_31, "/api/v1/query", "query", "api_requests_total", "time",
               "2023-11-14T22:13:51Z", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":["
               "1700000031.5,\"1700000031.5\"]}}",
               "/api/v1/query", "query", "time()", "time", "2023-11-14T23:13:51.5+01:00", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":["
               "1700000031.124,\"1700000031.124\"]}}",
               "/api/v1/query", "query", "time()", "time", "1700000031.1235", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":["
               "-1.5,\"-1.5\"]}}",
               "/api/v1/query", "query", "time()", "time", "-1.5", NULL);
}

static void instant_query_without_time_evaluates_now(void **state)
{
    (void)state;
    double before = (double)time(NULL);
    reply r = request("/api/v1/query?query=time()", NULL, NULL);
    double after = (double)time(NULL) + 1;
    double t = 0;
    assert_int_equal(r.code, 200);
    assert_int_equal(sscanf(r.body,
                            "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\","
                            "\"result\":[%lf,",
                            &t),
                     1);
    assert_true(t >= before && t <= after);
    free(r.body);
}

static void matrix_scalar_and_string_results(void **state)
{
    (void)state;
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{"
               "\"metric\":{\"__name__\":\"api_requests_total\",\"code\":\"200\",\"path\":\"/a\"}"
               ",\"values\":[[1700000015,\"5\"],[1700000030.500,\"9\"]]},{\"metric\":{"
               "\"__name__\":\"api_requests_total\",\"code\":\"500\",\"path\":\"/a\"},\"values\":"
               "[[1700000015,\"3\"]]}]}}",
               "/api/v1/query", "query", "api_requests_total[20s]", "time", "1700000031", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":["
               "1700000031.25,\"1.5\"]}}",
               "/api/v1/query", "query", "1.5", "time", "1700000031.25", NULL);
    /* A scalar's value is written positionally, unlike a vector's. */
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":["
               "1700000031.25,\"0.0000001\"]}}",
               "/api/v1/query", "query", "1e-7", "time", "1700000031.25", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":["
               "1700000031.25,\"1000000000000000000000\"]}}",
               "/api/v1/query", "query", "1e21", "time", "1700000031.25", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"string\",\"result\":["
               "1700000031.001,\"hello \\\"x\\\"\"]}}",
               "/api/v1/query", "query", "\"hello \\\"x\\\"\"", "time", "1700000031.001", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
               "/api/v1/query", "query", "nothing_here", "time", "1700000031", NULL);
}

static void values_and_labels_are_written_as_prometheus_writes_them(void **state)
{
    (void)state;
    static const struct {
        const char *query;
        const char *series;
    } cases[] = {
        {"api_temp{room=\"big\"}", "{\"__name__\":\"api_temp\",\"room\":\"big\"},\"value\":["
                                   "1700000010,\"1e+21\"]"},
        {"api_temp{room=\"nan\"}", "{\"__name__\":\"api_temp\",\"room\":\"nan\"},\"value\":["
                                   "1700000010,\"NaN\"]"},
        {"api_temp{room=\"inf\"}", "{\"__name__\":\"api_temp\",\"room\":\"inf\"},\"value\":["
                                   "1700000010,\"+Inf\"]"},
        {"api_temp{room=\"ninf\"}", "{\"__name__\":\"api_temp\",\"room\":\"ninf\"},\"value\":["
                                    "1700000010,\"-Inf\"]"},
        {"api_temp{room=\"neg\"}", "{\"__name__\":\"api_temp\",\"room\":\"neg\"},\"value\":["
                                   "1700000010,\"-2.5\"]"},
        {"api_temp{room=\"caps\"}", "{\"__name__\":\"api_temp\",\"room\":\"caps\"},\"value\":["
                                    "1700000010,\"123456789012\"]"},
        {"api_temp{room=~\"(?s)x.*\"}",
         "{\"__name__\":\"api_temp\",\"room\":\"x\\u003c\\u0026\\u003e\\\"\\\\\\n\\\\tq\"},"
         "\"value\":[1700000010,\"1e-07\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char want[1024];
        snprintf(want, sizeof want,
                 "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{"
                 "\"metric\":%s}]}}",
                 cases[i].series);
        get_expect(200, want, "/api/v1/query", "query", cases[i].query, "time", "1700000010", NULL);
    }
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\""
               ":{\"code\":\"200\",\"path\":\"/a\"},\"value\":[1700000031,\"1.2857142857142858\"]}"
               ",{\"metric\":{\"code\":\"500\",\"path\":\"/a\"},\"value\":[1700000031,"
               "\"0.42857142857142855\"]}]}}",
               "/api/v1/query", "query", "api_requests_total / 7", "time", "1700000031", NULL);
}

static void query_takes_post_forms_with_the_body_first(void **state)
{
    (void)state;
    post_expect(200, REQUESTS_AT_31, "/api/v1/query", "query", "api_requests_total", "time",
                "1700000031", NULL);
    /* '+' is a space and %XX a byte in a form body. */
    reply r = request("/api/v1/query",
                      "query=sum+by+%28code%29+%28api_requests_total%29&time=1700000031", NULL);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body,
                        "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{"
                        "\"metric\":{\"code\":\"200\"},\"value\":[1700000031,\"9\"]},{\"metric\":{"
                        "\"code\":\"500\"},\"value\":[1700000031,\"3\"]}]}}");
    free(r.body);
    /* Go's r.FormValue: a parameter in both the body and the URL is taken from the body. */
    r = request("/api/v1/query?query=nothing&time=1", "query=api_requests_total&time=1700000031",
                NULL);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, REQUESTS_AT_31);
    free(r.body);
}

static void query_parameter_errors_use_prometheus_wording(void **state)
{
    (void)state;
    get_expect(400,
               bad_data("invalid parameter \\\"time\\\": Invalid time value for 'time': cannot "
                        "parse \\\"x\\\" to a valid timestamp"),
               "/api/v1/query", "query", "1", "time", "x", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"time\\\": Invalid time value for 'time': cannot "
                        "parse \\\"2023-11-14t22:13:51z\\\" to a valid timestamp"),
               "/api/v1/query", "query", "1", "time", "2023-11-14t22:13:51z", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"timeout\\\": cannot parse \\\"x\\\" to a valid "
                        "duration"),
               "/api/v1/query", "query", "1", "timeout", "x", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"timeout\\\": cannot parse \\\"1ns\\\" to a valid "
                        "duration"),
               "/api/v1/query", "query", "1", "timeout", "1ns", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"timeout\\\": cannot parse \\\"1e300\\\" to a "
                        "valid duration. It overflows int64"),
               "/api/v1/query", "query", "1", "timeout", "1e300", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"query\\\": 1:5: parse error: unclosed left "
                        "parenthesis"),
               "/api/v1/query", "query", "sum(", "time", "1", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"query\\\": 1:1: parse error: no expression found "
                        "in input"),
               "/api/v1/query", "time", "1", NULL);
}

static void query_errors_map_to_prometheus_types_and_codes(void **state)
{
    (void)state;
    get_expect(422,
               "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"vector cannot "
               "contain metrics with the same labelset\"}",
               "/api/v1/query", "query",
               "label_replace(api_requests_total, \"code\", \"x\", \"\", "
               "\"\")",
               "time", "1700000031", NULL);
    /* A timeout of zero has passed before evaluation starts... */
    get_expect(503,
               "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query timed out in "
               "query execution\"}",
               "/api/v1/query", "query", "api_requests_total", "timeout", "0", NULL);
    /* ...but a query that does not parse is still reported as such first. */
    get_expect(400,
               bad_data("invalid parameter \\\"query\\\": 1:5: parse error: unclosed left "
                        "parenthesis"),
               "/api/v1/query", "query", "sum(", "timeout", "0", NULL);
}

static void slow_query_times_out_with_503(void **state)
{
    (void)state;
    reply r = request("/heavy/api/v1/query_range?" SLOW_QUERY "&timeout=0.001", NULL, NULL);
    assert_int_equal(r.code, 503);
    assert_string_equal(r.body, "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":"
                                "\"query timed out in expression evaluation\"}");
    free(r.body);
}

static void configured_timeout_caps_the_requested_one(void **state)
{
    (void)state;
    reply r = request("/capped/api/v1/query_range?" SLOW_QUERY "&timeout=1h", NULL, NULL);
    assert_int_equal(r.code, 503);
    assert_non_null(strstr(r.body, "\"errorType\":\"timeout\""));
    assert_true(r.seconds < 10);
    free(r.body);
}

/* Allocation failures inside the engine are Prometheus's "internal" errors. The request's own
 * first allocation (the server's request record) succeeds; the next, the engine's, fails. The
 * failing allocator is installed by main, before any vigil call, and armed only here. */
static void engine_allocation_failure_is_an_internal_error(void **state)
{
    (void)state;
    inj.persistent = false;
    inj.budget = 1;
    reply r = request("/api/v1/query?query=api_requests_total&time=1700000031", NULL, NULL);
    inj.budget = -1;
    assert_int_equal(inj.failed, 1);
    assert_int_equal(r.code, 500);
    static const char head[] = "{\"status\":\"error\",\"errorType\":\"internal\",\"error\":\"";
    if (strncmp(r.body, head, sizeof head - 1) != 0)
        fail_msg("got %s", r.body);
    free(r.body);
}

/* --- /query_range -------------------------------------------------------------------------- */

#define RANGE_0_30                                                                              \
    "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{\"metric\":{"     \
    "\"__name__\":\"api_requests_total\",\"code\":\"200\",\"path\":\"/a\"},\"values\":[["       \
    "1700000000,\"1\"],[1700000015,\"5\"],[1700000030,\"5\"]]},{\"metric\":{\"__name__\":"      \
    "\"api_requests_total\",\"code\":\"500\",\"path\":\"/a\"},\"values\":[[1700000000,\"2\"],[" \
    "1700000015,\"3\"],[1700000030,\"3\"]]}]}}"

static void range_query_returns_prometheus_matrix(void **state)
{
    (void)state;
    get_expect(200, RANGE_0_30, "/api/v1/query_range", "query", "api_requests_total", "start",
               "1700000000", "end", "1700000030", "step", "15", NULL);
    post_expect(200, RANGE_0_30, "/api/v1/query_range", "query", "api_requests_total", "start",
                "2023-11-14T22:13:20Z", "end", "1700000030", "step", "15s", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[{"
               "\"metric\":{},\"values\":[[1700000000,\"2\"],[1700000000.500,\"2\"],[1700000001,"
               "\"2\"]]}]}}",
               "/api/v1/query_range", "query", "2", "start", "1700000000", "end", "1700000001",
               "step", "0.5", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":[]}}",
               "/api/v1/query_range", "query", "nothing_here", "start", "1700000000", "end",
               "1700000030", "step", "1m", NULL);
}

static void range_parameter_errors_use_prometheus_wording(void **state)
{
    (void)state;
    const char *p = "/api/v1/query_range";
    get_expect(400,
               bad_data("invalid parameter \\\"start\\\": cannot parse \\\"x\\\" to a valid "
                        "timestamp"),
               p, "query", "1", "start", "x", "end", "1700000030", "step", "15", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"start\\\": cannot parse \\\"\\\" to a valid "
                        "timestamp"),
               p, "query", "1", "end", "1700000030", "step", "15", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"end\\\": cannot parse \\\"y\\\" to a valid "
                        "timestamp"),
               p, "query", "1", "start", "1700000000", "end", "y", "step", "15", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"end\\\": end timestamp must not be before start "
                        "time"),
               p, "query", "1", "start", "1700000000", "end", "1699999999", "step", "15", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"step\\\": cannot parse \\\"\\\" to a valid "
                        "duration"),
               p, "query", "1", "start", "1700000000", "end", "1700000030", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"step\\\": zero or negative query resolution step "
                        "widths are not accepted. Try a positive integer"),
               p, "query", "1", "start", "1700000000", "end", "1700000030", "step", "0", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"step\\\": zero or negative query resolution step "
                        "widths are not accepted. Try a positive integer"),
               p, "query", "1", "start", "1700000000", "end", "1700000030", "step", "-1", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"step\\\": cannot parse \\\"-1m\\\" to a valid "
                        "duration"),
               p, "query", "1", "start", "1700000000", "end", "1700000030", "step", "-1m", NULL);
    get_expect(400,
               bad_data("exceeded maximum resolution of 11,000 points per timeseries. Try "
                        "decreasing the query resolution (?step=XX)"),
               p, "query", "1", "start", "1700000000", "end", "1700011001", "step", "1", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"timeout\\\": cannot parse \\\"zz\\\" to a valid "
                        "duration"),
               p, "query", "1", "start", "1700000000", "end", "1700000030", "step", "15", "timeout",
               "zz", NULL);
}

static void range_query_errors_use_prometheus_wording(void **state)
{
    (void)state;
    const char *p = "/api/v1/query_range";
    get_expect(400, bad_data("1:5: parse error: unclosed left parenthesis"), p, "query", "sum(",
               "start", "1700000000", "end", "1700000030", "step", "15", NULL);
    get_expect(400,
               bad_data("invalid expression type \\\"range vector\\\" for range query, must be "
                        "Scalar or instant Vector"),
               p, "query", "api_requests_total[1m]", "start", "1700000000", "end", "1700000030",
               "step", "15", NULL);
    get_expect(422,
               "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"vector cannot "
               "contain metrics with the same labelset\"}",
               p, "query", "label_replace(api_requests_total, \"code\", \"x\", \"\", \"\")",
               "start", "1700000000", "end", "1700000030", "step", "15", NULL);
    get_expect(422,
               "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"unexpected error: "
               "runtime error: integer divide by zero\"}",
               p, "query", "1", "start", "1700000000", "end", "1700000001", "step", "0.0005", NULL);
}

/* --- /series, /labels, /label/<name>/values ------------------------------------------------ */

static void series_merges_every_match(void **state)
{
    (void)state;
    static const char want[] =
        "{\"status\":\"success\",\"data\":[{\"__name__\":\"api_requests_total\",\"code\":\"500\","
        "\"path\":\"/a\"},{\"__name__\":\"api_temp\",\"room\":\"nan\"},{\"__name__\":\"api_temp\","
        "\"room\":\"neg\"},{\"__name__\":\"api_temp\",\"room\":\"ninf\"}]}";
    get_expect(200, want, "/api/v1/series", "match[]", "api_temp{room=~\"n.*\"}", "match[]",
               "{code=\"500\"}", "match[]", "{room=\"neg\"}", NULL);
    post_expect(200, want, "/api/v1/series", "match[]", "api_temp{room=~\"n.*\"}", "match[]",
                "{code=\"500\"}", "match[]", "{room=\"neg\"}", NULL);
    /* Body and URL values together, the body's first. */
    reply r = request("/api/v1/series?match%5B%5D=api_temp%7Broom%3D%22neg%22%7D",
                      "match%5B%5D=api_requests_total", NULL);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body,
                        "{\"status\":\"success\",\"data\":[{\"__name__\":\"api_requests_total\","
                        "\"code\":\"200\",\"path\":\"/a\"},{\"__name__\":\"api_requests_total\","
                        "\"code\":\"500\",\"path\":\"/a\"},{\"__name__\":\"api_temp\",\"room\":"
                        "\"neg\"}]}");
    free(r.body);
    get_expect(200,
               "{\"status\":\"success\",\"data\":[{\"__name__\":\"api_requests_total\",\"code\":"
               "\"200\",\"path\":\"/a\"},{\"__name__\":\"api_requests_total\",\"code\":\"500\","
               "\"path\":\"/a\"},{\"__name__\":\"api_temp\",\"room\":\"big\"},{\"__name__\":"
               "\"api_temp\",\"room\":\"caps\"},{\"__name__\":\"api_temp\",\"room\":"
               "\"inf\"},{\"__name__\":\"api_temp\",\"room\":\"nan\"},{\"__name__\":\"api_temp\","
               "\"room\":\"neg\"},{\"__name__\":\"api_temp\",\"room\":\"ninf\"},{\"__name__\":"
               "\"api_temp\",\"room\":\"x\\u003c\\u0026\\u003e\\\"\\\\\\n\\\\tq\"}]}",
               "/api/v1/series", "match[]", "{__name__=~\"a.*\"}", NULL);
}

static void series_respects_the_time_range(void **state)
{
    (void)state;
    get_expect(200,
               "{\"status\":\"success\",\"data\":[{\"__name__\":\"api_requests_total\",\"code\":"
               "\"200\",\"path\":\"/a\"}]}",
               "/api/v1/series", "match[]", "api_requests_total", "start", "1700000020", "end",
               "1700000031", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":[]}", "/api/v1/series", "match[]", "api_temp",
               "end", "1600000000", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":[]}", "/api/v1/series", "match[]", "api_temp",
               "start", "1700000001", "end", "1600000000", NULL);
}

static void series_parameter_errors_use_prometheus_wording(void **state)
{
    (void)state;
    const char *p = "/api/v1/series";
    get_expect(400, bad_data("no match[] parameter provided"), p, NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"match[]\\\": match[] must contain at least one "
                        "non-empty matcher"),
               p, "match[]", "{room=\"\"}", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"match[]\\\": match[] must contain at least one "
                        "non-empty matcher"),
               p, "match[]", "{}", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"start\\\": Invalid time value for 'start': cannot "
                        "parse \\\"x\\\" to a valid timestamp"),
               p, "match[]", "api_temp", "start", "x", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"end\\\": Invalid time value for 'end': cannot "
                        "parse \\\"x\\\" to a valid timestamp"),
               p, "match[]", "api_temp", "end", "x", NULL);
}

/* What Prometheus says about a match[] that is PromQL but not a bare selector. */
static void match_that_is_not_a_selector_is_named_like_prometheus(void **state)
{
    (void)state;
    static const struct {
        const char *match;
        const char *error;
    } cases[] = {
        {"api_temp[5m]", "1:9: parse error: unexpected \\\"[\\\""},
        {"a{b=\"c\"}[5m]", "1:9: parse error: unexpected \\\"[\\\""},
        {"a  [5m]", "1:4: parse error: unexpected \\\"[\\\""},
        {"sum(x)", "1:4: parse error: unexpected \\\"(\\\""},
        {"rate(x[5m])", "1:5: parse error: unexpected \\\"(\\\""},
        {"count_values(\"a\", x)", "1:13: parse error: unexpected \\\"(\\\""},
        {"sum by (a) (x)", "1:5: parse error: unexpected \\u003cby\\u003e"},
        {"1", "1:1: parse error: unexpected number \\\"1\\\""},
        {"1.5e3", "1:1: parse error: unexpected number \\\"1.5e3\\\""},
        {"Inf", "1:1: parse error: unexpected number \\\"Inf\\\""},
        {"\"str\"", "1:1: parse error: unexpected string \\\"\\\\\\\"str\\\\\\\"\\\""},
        {"-a", "1:1: parse error: unexpected \\u003cop:-\\u003e"},
        {"(a)", "1:1: parse error: unexpected \\\"(\\\""},
        {"api_temp offset 5m", "1:10: parse error: unexpected \\u003coffset\\u003e"},
        {"a OFFSET 5m", "1:3: parse error: unexpected \\u003cOFFSET\\u003e"},
        {"a @ 5", "1:3: parse error: unexpected \\\"\\u003cItem 57385\\u003e\\\" "
                  "\\u003cop:@\\u003e"},
        {"a + b", "1:3: parse error: unexpected \\u003cop:+\\u003e"},
        {"a*b", "1:2: parse error: unexpected \\u003cop:*\\u003e"},
        {"a == 1", "1:3: parse error: unexpected \\u003cop:==\\u003e"},
        {"a>=b", "1:2: parse error: unexpected \\u003cop:\\u003e=\\u003e"},
        {"a ^ 2", "1:3: parse error: unexpected \\u003cop:^\\u003e"},
        {"a or b", "1:3: parse error: unexpected \\u003cop:or\\u003e"},
        {"a AND b", "1:3: parse error: unexpected \\u003cop:AND\\u003e"},
        {"a atan2 b", "1:3: parse error: unexpected \\u003cop:atan2\\u003e"},
        {"a\n + b", "2:2: parse error: unexpected \\u003cop:+\\u003e"},
        {"a{b=\"\xc3\xa4\"} + b", "1:11: parse error: unexpected \\u003cop:+\\u003e"},
        {"a{b=\"}\"} + 1", "1:10: parse error: unexpected \\u003cop:+\\u003e"},
        {"", "1:1: parse error: unexpected end of input"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char msg[512];
        snprintf(msg, sizeof msg, "invalid parameter \\\"match[]\\\": %s", cases[i].error);
        get_expect(400, bad_data(msg), "/api/v1/series", "match[]", cases[i].match, NULL);
    }
}

static void labels_and_label_values(void **state)
{
    (void)state;
    get_expect(200, "{\"status\":\"success\",\"data\":[\"__name__\",\"code\",\"path\",\"room\"]}",
               "/api/v1/labels", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":[\"__name__\",\"code\",\"path\"]}",
               "/api/v1/labels", "match[]", "api_requests_total", NULL);
    post_expect(200, "{\"status\":\"success\",\"data\":[\"__name__\",\"code\",\"path\",\"room\"]}",
                "/api/v1/labels", "match[]", "api_requests_total", "match[]", "{room=\"caps\"}",
                NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":[]}", "/api/v1/labels", "start", "1800000000",
               NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":[\"big\",\"caps\",\"inf\",\"nan\",\"neg\","
               "\"ninf\",\"x\\u003c\\u0026\\u003e\\\"\\\\\\n\\\\tq\"]}",
               "/api/v1/label/room/values", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":[\"api_requests_total\",\"api_temp\"]}",
               "/api/v1/label/__name__/values", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":[\"nan\",\"neg\",\"ninf\"]}",
               "/api/v1/label/room/values", "match[]", "{room=~\"n.*\"}", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":[]}", "/api/v1/label/nope/values", NULL);
}

static void label_errors_use_prometheus_wording(void **state)
{
    (void)state;
    get_expect(400, bad_data("match[] must contain at least one non-empty matcher"),
               "/api/v1/labels", "match[]", "{room=\"\"}", NULL);
    get_expect(400, bad_data("1:3: parse error: unexpected end of input inside braces"),
               "/api/v1/labels", "match[]", "x{", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"start\\\": Invalid time value for 'start': cannot "
                        "parse \\\"x\\\" to a valid timestamp"),
               "/api/v1/labels", "start", "x", NULL);
    get_expect(400, bad_data("invalid label name: \\\"bad-name\\\""),
               "/api/v1/label/bad-name/values", NULL);
    get_expect(400, bad_data("invalid label name: \\\"1x\\\""), "/api/v1/label/1x/values", NULL);
    get_expect(400,
               bad_data("invalid parameter \\\"end\\\": Invalid time value for 'end': cannot "
                        "parse \\\"x\\\" to a valid timestamp"),
               "/api/v1/label/room/values", "end", "x", NULL);
    get_expect(400, bad_data("1:3: parse error: unexpected end of input inside braces"),
               "/api/v1/label/room/values", "match[]", "x{", NULL);
    /* Only <prefix>/label/<name>/values is an endpoint. */
    get_expect(404,
               "{\"status\":\"error\",\"error\":\"not found\",\"path\":\"/api/v1/label/room\"}\n",
               "/api/v1/label/room", NULL);
    get_expect(404,
               "{\"status\":\"error\",\"error\":\"not found\",\"path\":\"/api/v1/label/x/room/"
               "values\"}\n",
               "/api/v1/label/x/room/values", NULL);
}

/* --- /metadata and /status/buildinfo ------------------------------------------------------- */

static void metadata_lists_families_from_the_store(void **state)
{
    (void)state;
    const char *p = "/api/v1/metadata";
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"api_requests\":[{\"type\":\"counter\","
               "\"help\":\"Requests served.\",\"unit\":\"\"}],\"api_temp\":[{\"type\":\"gauge\","
               "\"help\":\"Temperature.\",\"unit\":\"\"}]}}",
               p, NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"api_temp\":[{\"type\":\"gauge\",\"help\":"
               "\"Temperature.\",\"unit\":\"\"}]}}",
               p, "metric", "api_temp", NULL);
    get_expect(200,
               "{\"status\":\"success\",\"data\":{\"api_requests\":[{\"type\":\"counter\","
               "\"help\":\"Requests served.\",\"unit\":\"\"}]}}",
               p, "limit", "1", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":{}}", p, "limit", "0", NULL);
    get_expect(200, "{\"status\":\"success\",\"data\":{}}", p, "metric", "x", NULL);
    get_expect(400, bad_data("limit must be a number"), p, "limit", "x", NULL);
    get_expect(400, bad_data("limit must be a number"), p, "limit", "1.5", NULL);
}

static void buildinfo_reports_vigils_version(void **state)
{
    (void)state;
    char want[512];
    snprintf(want, sizeof want,
             "{\"status\":\"success\",\"data\":{\"version\":\"%s\",\"revision\":\"\",\"branch\":"
             "\"\",\"buildUser\":\"\",\"buildDate\":\"\",\"goVersion\":\"\"}}",
             vigil_version());
    get_expect(200, want, "/api/v1/status/buildinfo", NULL);
}

/* --- headers, compression, concurrency ----------------------------------------------------- */

static void responses_are_json_with_cors_for_browsers(void **state)
{
    (void)state;
    reply r = request("/api/v1/status/buildinfo", NULL, "Origin: http://grafana.example");
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.headers, "Content-Type: application/json\r\n"));
    assert_non_null(strstr(r.headers, "Access-Control-Allow-Origin: *\r\n"));
    assert_non_null(strstr(r.headers, "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"));
    assert_non_null(strstr(r.headers, "Vary: Origin\r\n"));
    free(r.body);
    r = request("/api/v1/status/buildinfo", NULL, NULL);
    assert_null(strstr(r.headers, "Access-Control-Allow-Origin"));
    free(r.body);
}

static void responses_are_gzipped_when_accepted(void **state)
{
    (void)state;
    reply plain = request("/api/v1/query_range?query=api_requests_total&start=1700000000"
                          "&end=1700000030&step=15",
                          NULL, NULL);
    reply gz = request("/api/v1/query_range?query=api_requests_total&start=1700000000"
                       "&end=1700000030&step=15",
                       NULL, "Accept-Encoding: gzip");
    assert_null(strstr(plain.headers, "Content-Encoding"));
    assert_non_null(strstr(gz.headers, "Content-Encoding: gzip\r\n"));
    assert_true(gz.len >= 2 && (unsigned char)gz.body[0] == 0x1f &&
                (unsigned char)gz.body[1] == 0x8b);
    free(plain.body);
    free(gz.body);
    /* And a client that decodes it reads the same bytes. */
    char url[256];
    snprintf(url, sizeof url,
             "http://127.0.0.1:%u/api/v1/query_range?query=api_requests_total"
             "&start=1700000000&end=1700000030&step=15",
             F->port);
    reply dec;
    memset(&dec, 0, sizeof dec);
    dec.body = calloc(1, 1);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &dec);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_cleanup(c);
    assert_string_equal(dec.body, RANGE_0_30);
    free(dec.body);
}

typedef struct slow_call {
    reply r;
    double started, ended;
} slow_call;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run_slow_query(void *arg)
{
    slow_call *c = arg;
    c->started = now_s();
    c->r = request("/heavy/api/v1/query_range?" SLOW_QUERY "&timeout=10", NULL, NULL);
    c->ended = now_s();
    return NULL;
}

/* While a query is evaluated on one server thread, another request is answered by another
 * and the store keeps taking samples (what the self-scrape does for an application). The
 * query only has to outlast the 20 ms head start it gets; it takes seconds. */
static void a_running_query_holds_up_neither_requests_nor_appends(void **state)
{
    (void)state;
    slow_call c;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, run_slow_query, &c), 0);
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    reply quick = request("/api/v1/status/buildinfo", NULL, NULL);
    double quick_done = now_s();
    vigil_label l[] = {{"__name__", "hot_path_total"}};
    double append_start = now_s();
    for (int i = 0; i < 100; i++)
        assert_int_equal(vigil_tsdb_append(F->heavy, l, 1, INT64_C(1700000000000) + i, i),
                         VIGIL_OK);
    double append_done = now_s();
    pthread_join(t, NULL);
    assert_int_equal(quick.code, 200);
    assert_true(c.r.code == 200 || c.r.code == 503);
    assert_true(quick_done < c.ended);
    assert_true(append_done < c.ended);
    assert_true(quick.seconds < (c.ended - c.started) / 2);
    assert_true(append_done - append_start < (c.ended - c.started) / 2);
    free(quick.body);
    free(c.r.body);
}

int main(void)
{
    static const vigil_allocator counting = {inj_malloc, inj_realloc, inj_free, NULL};
    vigil_set_allocator(&counting);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(instant_query_returns_prometheus_vector),
        cmocka_unit_test(instant_query_accepts_rfc3339_times),
        cmocka_unit_test(instant_query_without_time_evaluates_now),
        cmocka_unit_test(matrix_scalar_and_string_results),
        cmocka_unit_test(values_and_labels_are_written_as_prometheus_writes_them),
        cmocka_unit_test(query_takes_post_forms_with_the_body_first),
        cmocka_unit_test(query_parameter_errors_use_prometheus_wording),
        cmocka_unit_test(query_errors_map_to_prometheus_types_and_codes),
        cmocka_unit_test(slow_query_times_out_with_503),
        cmocka_unit_test(configured_timeout_caps_the_requested_one),
        cmocka_unit_test(engine_allocation_failure_is_an_internal_error),
        cmocka_unit_test(range_query_returns_prometheus_matrix),
        cmocka_unit_test(range_parameter_errors_use_prometheus_wording),
        cmocka_unit_test(range_query_errors_use_prometheus_wording),
        cmocka_unit_test(series_merges_every_match),
        cmocka_unit_test(series_respects_the_time_range),
        cmocka_unit_test(series_parameter_errors_use_prometheus_wording),
        cmocka_unit_test(match_that_is_not_a_selector_is_named_like_prometheus),
        cmocka_unit_test(labels_and_label_values),
        cmocka_unit_test(label_errors_use_prometheus_wording),
        cmocka_unit_test(metadata_lists_families_from_the_store),
        cmocka_unit_test(buildinfo_reports_vigils_version),
        cmocka_unit_test(responses_are_json_with_cors_for_browsers),
        cmocka_unit_test(responses_are_gzipped_when_accepted),
        cmocka_unit_test(a_running_query_holds_up_neither_requests_nor_appends),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
