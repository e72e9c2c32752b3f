/* test_serve_metrics.c — the scrape route end to end: a real registry behind
 * vigil_http_server_serve_metrics, scraped over a raw socket with the Accept and Accept-Encoding
 * headers Prometheus sends. Kept apart from test_http.c, which needs no exposition code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <zlib.h>

#include "http_client.h"
#include "vigil/expo.h"
#include "vigil/http.h"
#include "vigil/metrics.h"

typedef struct fixture {
    vigil_registry *reg;
    vigil_http_server *srv;
    unsigned port;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_int_equal(vigil_registry_new(&f->reg), VIGIL_OK);
    vigil_metric_opts mo;
    vigil_metric_opts_init(&mo);
    mo.name = "scrape_test_requests_total";
    mo.help = "Requests seen by the test.";
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(f->reg, &mo, &c), VIGIL_OK);
    vigil_counter_add_u64(c, 42);
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    assert_int_equal(vigil_http_server_new(&o, &f->srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_serve_metrics(f->srv, "/metrics", f->reg), VIGIL_OK);
    assert_int_equal(vigil_http_server_start(f->srv), VIGIL_OK);
    f->port = vigil_http_server_port(f->srv);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    vigil_http_server_free(f->srv);
    vigil_registry_free(f->reg);
    free(f);
    return 0;
}

static bool body_has(const reply *r, const char *s)
{
    return memmem(r->body, r->body_len, s, strlen(s)) != NULL;
}

static void test_plain_scrape_returns_text_format(void **state)
{
    fixture *f = *state;
    reply r;
    assert_true(http_get(f->port, "/metrics", &r));
    assert_int_equal(r.status, 200);
    char v[128];
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v),
                        vigil_expo_content_type(VIGIL_FORMAT_TEXT));
    assert_string_equal(reply_header(&r, "Vary", v, sizeof v), "Accept-Encoding");
    assert_null(reply_header(&r, "Content-Encoding", v, sizeof v));
    assert_true(body_has(&r, "scrape_test_requests_total 42\n"));
    reply_free(&r);
}

static void test_openmetrics_accept_gets_openmetrics(void **state)
{
    fixture *f = *state;
    reply r;
    assert_true(http_call(AF_INET, f->port, "GET", "/metrics",
                          "Accept: application/openmetrics-text;version=1.0.0;q=0.5,"
                          "text/plain;version=0.0.4;q=0.4,*/*;q=0.1\r\n",
                          NULL, &r));
    assert_int_equal(r.status, 200);
    char v[128];
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v),
                        vigil_expo_content_type(VIGIL_FORMAT_OPENMETRICS));
    assert_true(r.body_len >= 6 && memcmp(r.body + r.body_len - 6, "# EOF\n", 6) == 0);
    reply_free(&r);
}

static void test_gzip_scrape_decompresses_to_plain_body(void **state)
{
    fixture *f = *state;
    reply plain, gz;
    assert_true(http_get(f->port, "/metrics", &plain));
    assert_true(http_call(AF_INET, f->port, "GET", "/metrics", "Accept-Encoding: gzip\r\n", NULL,
                          &gz));
    assert_int_equal(gz.status, 200);
    char v[128];
    assert_string_equal(reply_header(&gz, "Content-Encoding", v, sizeof v), "gzip");
    assert_string_equal(reply_header(&gz, "Vary", v, sizeof v), "Accept-Encoding");
    assert_true(gz.body_len >= 2 && (unsigned char)gz.body[0] == 0x1f &&
                (unsigned char)gz.body[1] == 0x8b);

    z_stream zs = {0};
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = plain.body_len + 1024;
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)gz.body;
    zs.avail_in = (uInt)gz.body_len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
    /* A self-metric may differ between two scrapes; the test counter line must not. */
    assert_non_null(memmem(out, zs.total_out, "scrape_test_requests_total 42\n", 30));
    inflateEnd(&zs);
    free(out);
    reply_free(&plain);
    reply_free(&gz);
}

static void test_head_scrape_has_no_body(void **state)
{
    fixture *f = *state;
    reply r;
    assert_true(http_call(AF_INET, f->port, "HEAD", "/metrics", NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    char v[64];
    assert_non_null(reply_header(&r, "Content-Length", v, sizeof v));
    assert_true(atoi(v) > 0);
    assert_int_equal(r.body_len, 0);
    reply_free(&r);
}

static void test_post_to_metrics_is_405(void **state)
{
    fixture *f = *state;
    reply r;
    assert_true(http_call(AF_INET, f->port, "POST", "/metrics", NULL, "x", &r));
    assert_int_equal(r.status, 405);
    reply_free(&r);
}

static void test_serve_metrics_requires_registry(void **state)
{
    fixture *f = *state;
    vigil_http_server_stop(f->srv);
    assert_int_equal(vigil_http_server_serve_metrics(f->srv, "/other", NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_serve_metrics(f->srv, "/metrics", f->reg), VIGIL_EEXIST);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_scrape_returns_text_format, setup, teardown),
        cmocka_unit_test_setup_teardown(test_openmetrics_accept_gets_openmetrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_gzip_scrape_decompresses_to_plain_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_head_scrape_has_no_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_to_metrics_is_405, setup, teardown),
        cmocka_unit_test_setup_teardown(test_serve_metrics_requires_registry, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
