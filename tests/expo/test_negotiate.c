/* test_negotiate.c — choosing the format from Accept the way Prometheus's scrape expects, gzip
 * from Accept-Encoding (RFC 9110 rules: q=0 refuses, "*" covers codings not listed), and the
 * gzip stream itself, checked by inflating it with zlib. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "vigil/buffer.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#define PROMETHEUS_2_42_ACCEPT                                                               \
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;" \
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

static void expect_format(const char *accept, vigil_format want)
{
    vigil_format got = vigil_expo_negotiate(accept);
    if (got != want)
        fail_msg("Accept: %s\nwant %s, got %s", accept ? accept : "(null)",
                 want == VIGIL_FORMAT_TEXT ? "text" : "openmetrics",
                 got == VIGIL_FORMAT_TEXT ? "text" : "openmetrics");
}

static void test_prometheus_scrape_accept_header_gets_openmetrics(void **state)
{
    (void)state;
    expect_format(PROMETHEUS_2_42_ACCEPT, VIGIL_FORMAT_OPENMETRICS);
    /* Prometheus 3's default, with escaping parameters and lower q values. */
    expect_format("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
                  "application/openmetrics-text;version=0.0.1;q=0.4,"
                  "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
                  "text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
                  VIGIL_FORMAT_OPENMETRICS);
    /* Prometheus with scrape_protocols preferring text. */
    expect_format("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;version=1.0.0;"
                  "q=0.5",
                  VIGIL_FORMAT_TEXT);
}

static void test_text_plain_0_0_4_gets_text(void **state)
{
    (void)state;
    expect_format("text/plain;version=0.0.4", VIGIL_FORMAT_TEXT);
    expect_format("text/plain", VIGIL_FORMAT_TEXT);
    expect_format("text/plain; version=0.0.4; charset=utf-8", VIGIL_FORMAT_TEXT);
}

static void test_openmetrics_versions(void **state)
{
    (void)state;
    expect_format("application/openmetrics-text", VIGIL_FORMAT_OPENMETRICS);
    expect_format("application/openmetrics-text;version=1.0.0", VIGIL_FORMAT_OPENMETRICS);
    expect_format("application/openmetrics-text; version=0.0.1", VIGIL_FORMAT_OPENMETRICS);
    expect_format("APPLICATION/OpenMetrics-Text;VERSION=1.0.0", VIGIL_FORMAT_OPENMETRICS);
    expect_format("  application/openmetrics-text ; version=1.0.0 ; q=1  ",
                  VIGIL_FORMAT_OPENMETRICS);
    /* A version we cannot serve alone falls back to text. */
    expect_format("application/openmetrics-text;version=2.0.0", VIGIL_FORMAT_TEXT);
    expect_format("application/openmetrics-text;version=2.0.0,text/plain;q=0.1", VIGIL_FORMAT_TEXT);
}

static void test_q_zero_means_not_acceptable(void **state)
{
    (void)state;
    expect_format("application/openmetrics-text;version=1.0.0;q=0", VIGIL_FORMAT_TEXT);
    expect_format("application/openmetrics-text;q=0,text/plain;q=0.1", VIGIL_FORMAT_TEXT);
    expect_format("text/plain;q=0,application/openmetrics-text;q=0.1", VIGIL_FORMAT_OPENMETRICS);
    expect_format("application/openmetrics-text;q=0.0", VIGIL_FORMAT_TEXT);
}

static void test_highest_q_wins_and_first_listed_breaks_ties(void **state)
{
    (void)state;
    expect_format("text/plain;q=0.2,application/openmetrics-text;q=0.9", VIGIL_FORMAT_OPENMETRICS);
    expect_format("application/openmetrics-text;q=0.2,text/plain;q=0.9", VIGIL_FORMAT_TEXT);
    expect_format("text/plain,application/openmetrics-text", VIGIL_FORMAT_TEXT);
    expect_format("application/openmetrics-text,text/plain", VIGIL_FORMAT_OPENMETRICS);
    expect_format("application/json,application/openmetrics-text;q=0.1", VIGIL_FORMAT_OPENMETRICS);
}

static void test_empty_unknown_and_malformed_accept_gets_text(void **state)
{
    (void)state;
    expect_format(NULL, VIGIL_FORMAT_TEXT);
    expect_format("", VIGIL_FORMAT_TEXT);
    expect_format("   ", VIGIL_FORMAT_TEXT);
    expect_format("*/*", VIGIL_FORMAT_TEXT);
    expect_format("application/json", VIGIL_FORMAT_TEXT);
    expect_format(",,,;;;===", VIGIL_FORMAT_TEXT);
    expect_format("application/openmetrics-text;;;q", VIGIL_FORMAT_OPENMETRICS);
    expect_format("text/html;q=abc", VIGIL_FORMAT_TEXT);
    /* Oversized elements and parameters are cut, never overflowed. */
    char big[4096];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    expect_format(big, VIGIL_FORMAT_TEXT);
    char huge_param[700];
    snprintf(huge_param, sizeof huge_param, "application/openmetrics-text;%0500d=1;version=%080d",
             0, 0);
    expect_format(huge_param, VIGIL_FORMAT_TEXT);
}

static void test_content_types(void **state)
{
    (void)state;
    assert_string_equal(vigil_expo_content_type(VIGIL_FORMAT_TEXT),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_string_equal(vigil_expo_content_type(VIGIL_FORMAT_OPENMETRICS),
                        "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

static void expect_gzip(const char *accept_encoding, bool want)
{
    if (vigil_expo_accepts_gzip(accept_encoding) != want)
        fail_msg("Accept-Encoding: %s: want %s", accept_encoding ? accept_encoding : "(null)",
                 want ? "gzip" : "no gzip");
}

static void test_accepts_gzip(void **state)
{
    (void)state;
    expect_gzip("gzip", true);
    expect_gzip("GZIP", true);
    expect_gzip("gzip;q=0", false);
    expect_gzip("gzip; q=0.000", false);
    expect_gzip("deflate, gzip;q=0.5", true);
    expect_gzip("br, deflate", false);
    expect_gzip(" gzip ; q=1.0 ", true);
    expect_gzip("identity", false);
    expect_gzip("*", true);
    expect_gzip("*;q=0", false);
    expect_gzip("deflate, *;q=0.1", true);
    expect_gzip(NULL, false);
    expect_gzip("", false);
    /* "*" only covers codings not named: an explicit refusal of gzip stands. */
    expect_gzip("gzip;q=0, *", false);
    expect_gzip("*, gzip;q=0", false);
    expect_gzip("*;q=0, gzip", true);
}

/* Inflates a gzip stream into a malloc'd string. */
static char *gunzip(const void *data, size_t len, size_t *out_len)
{
    z_stream zs = {0};
    assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
    size_t cap = 1024, n = 0;
    char *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    int zr;
    do {
        if (n == cap) {
            cap *= 2;
            out = realloc(out, cap);
        }
        zs.next_out = (Bytef *)out + n;
        zs.avail_out = (uInt)(cap - n);
        zr = inflate(&zs, Z_NO_FLUSH);
        n = cap - zs.avail_out;
        if (zr != Z_OK && zr != Z_STREAM_END)
            fail_msg("inflate: %d", zr);
    } while (zr != Z_STREAM_END);
    assert_int_equal(zs.avail_in, 0); /* nothing after the stream */
    inflateEnd(&zs);
    out = realloc(out, n + 1);
    out[n] = '\0';
    *out_len = n;
    return out;
}

static void test_gzip_round_trips_a_rendered_registry(void **state)
{
    (void)state;
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    const char *labels[] = {"id"};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "items";
    o.label_names = labels;
    o.label_count = 1;
    vigil_family *f;
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &o, &f), VIGIL_OK);
    for (int i = 0; i < 3000; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        const char *vals[] = {v};
        vigil_counter *c;
        assert_int_equal(vigil_family_counter(f, 1, vals, &c), VIGIL_OK);
        vigil_counter_add_u64(c, (uint64_t)i * 7919);
    }
    vigil_buffer plain, gz;
    vigil_buffer_init(&plain, 0);
    vigil_buffer_init(&gz, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_OPENMETRICS, &plain), VIGIL_OK);
    assert_int_equal(vigil_buffer_append(&gz, "HDR", 3), VIGIL_OK);
    assert_int_equal(vigil_expo_gzip(plain.data, plain.len, &gz), VIGIL_OK);
    assert_memory_equal(gz.data, "HDR", 3);
    assert_int_equal((unsigned char)gz.data[3], 0x1f); /* gzip magic */
    assert_int_equal((unsigned char)gz.data[4], 0x8b);
    assert_true(gz.len - 3 < plain.len / 3);
    size_t n;
    char *back = gunzip(gz.data + 3, gz.len - 3, &n);
    assert_int_equal(n, plain.len);
    assert_memory_equal(back, plain.data, n);
    free(back);
    vigil_buffer_free(&plain);
    vigil_buffer_free(&gz);
    vigil_registry_free(reg);
}

static void test_gzip_of_empty_input_is_a_valid_empty_stream(void **state)
{
    (void)state;
    vigil_buffer gz;
    vigil_buffer_init(&gz, 0);
    assert_int_equal(vigil_expo_gzip(NULL, 0, &gz), VIGIL_OK);
    assert_true(gz.len >= 18); /* header and trailer */
    size_t n;
    char *back = gunzip(gz.data, gz.len, &n);
    assert_int_equal(n, 0);
    free(back);
    vigil_buffer_free(&gz);
    assert_int_equal(vigil_expo_gzip(NULL, 5, &gz), VIGIL_EINVAL);
    assert_int_equal(vigil_expo_gzip("x", 1, NULL), VIGIL_EINVAL);
}

static void test_gzip_into_a_small_buffer_fails_with_elimit_and_restores_length(void **state)
{
    (void)state;
    char data[4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)('a' + (i * 7) % 26);
    vigil_buffer gz;
    vigil_buffer_init(&gz, 64);
    assert_int_equal(vigil_buffer_append(&gz, "keep", 4), VIGIL_OK);
    assert_int_equal(vigil_expo_gzip(data, sizeof data, &gz), VIGIL_ELIMIT);
    assert_int_equal(gz.len, 4);
    assert_string_equal(vigil_buffer_cstr(&gz), "keep");
    vigil_buffer_free(&gz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_scrape_accept_header_gets_openmetrics),
        cmocka_unit_test(test_text_plain_0_0_4_gets_text),
        cmocka_unit_test(test_openmetrics_versions),
        cmocka_unit_test(test_q_zero_means_not_acceptable),
        cmocka_unit_test(test_highest_q_wins_and_first_listed_breaks_ties),
        cmocka_unit_test(test_empty_unknown_and_malformed_accept_gets_text),
        cmocka_unit_test(test_content_types),
        cmocka_unit_test(test_accepts_gzip),
        cmocka_unit_test(test_gzip_round_trips_a_rendered_registry),
        cmocka_unit_test(test_gzip_of_empty_input_is_a_valid_empty_stream),
        cmocka_unit_test(test_gzip_into_a_small_buffer_fails_with_elimit_and_restores_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
