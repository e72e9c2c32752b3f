/* test_wal_records.c — the WAL payload codecs: series and samples batches round-trip exactly
 * (values bit for bit: NaN payloads, the staleness marker, -0.0, extreme times and references),
 * a scrape-shaped batch costs about 10 bytes a sample, and the decoders reject every truncation,
 * trailing bytes, out-of-range references and random garbage without reading past the payload
 * (the ASan copy of this test checks the last part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "tsdb/walrec.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static double from_bits(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static uint64_t to_bits(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

static void encode_samples(vigil_buffer *b, const vigil__tsdb_walrec_sample *s, size_t n)
{
    vigil_buffer_init(b, 0);
    vigil_status st = vigil__tsdb_walrec_samples_encode(b, s, n);
    if (st != VIGIL_OK)
        fail_msg("encode: %s", vigil_errmsg());
}

/* Decodes into a fresh array and checks it equals want bit for bit. */
static void assert_samples_round_trip(const vigil__tsdb_walrec_sample *want, size_t n)
{
    vigil_buffer b;
    encode_samples(&b, want, n);
    const uint8_t *p = (const uint8_t *)b.data;
    size_t count = 99;
    assert_int_equal(vigil__tsdb_walrec_samples_count(p, b.len, &count), VIGIL_OK);
    assert_int_equal(count, n);
    vigil__tsdb_walrec_sample *got = calloc(n + 1, sizeof *got);
    size_t m = 0;
    vigil_status st = vigil__tsdb_walrec_samples_decode(p, b.len, got, n, &m);
    if (st != VIGIL_OK)
        fail_msg("decode: %s", vigil_errmsg());
    assert_int_equal(m, n);
    for (size_t i = 0; i < n; i++) {
        if (got[i].ref != want[i].ref || got[i].t != want[i].t ||
            to_bits(got[i].v) != to_bits(want[i].v))
            fail_msg("sample %zu: got (%u, %lld, %016llx), want (%u, %lld, %016llx)", i, got[i].ref,
                     (long long)got[i].t, (unsigned long long)to_bits(got[i].v), want[i].ref,
                     (long long)want[i].t, (unsigned long long)to_bits(want[i].v));
    }
    free(got);
    vigil_buffer_free(&b);
}

static void samples_round_trip_bit_exact_including_special_values(void **state)
{
    (void)state;
    const vigil__tsdb_walrec_sample s[] = {
        {1700000000000, 1.5, 7},
        {1700000000000, from_bits(UINT64_C(0x7ff0000000000002)), 8}, /* staleness marker */
        {1700000000015, -0.0, 9},
        {1700000000000, from_bits(UINT64_C(0x7ff8000000000001)), 3}, /* quiet NaN, payload 1 */
        {1699999999000, from_bits(UINT64_C(0xfff8deadbeef0001)), 3}, /* negative NaN */
        {INT64_MAX, 1.0 / 0.0, UINT32_MAX},
        {INT64_MIN, -1.0 / 0.0, 0},
        {-1, 4.9e-324, UINT32_MAX}, /* subnormal */
        {0, 1.7976931348623157e308, 12345},
        {INT64_MIN, 0.0, 0},
    };
    assert_samples_round_trip(s, sizeof s / sizeof s[0]);
}

static void samples_random_batches_round_trip(void **state)
{
    (void)state;
    enum { N = 5000 };
    vigil__tsdb_walrec_sample *s = calloc(N, sizeof *s);
    for (int round = 0; round < 20; round++) {
        size_t n = (size_t)(rnd() % N);
        for (size_t i = 0; i < n; i++) {
            s[i].ref = (uint32_t)rnd();
            s[i].t = (int64_t)rnd();
            s[i].v = from_bits(rnd());
        }
        assert_samples_round_trip(s, n);
    }
    assert_samples_round_trip(s, 0);
    free(s);
}

static void samples_scrape_batch_costs_about_ten_bytes_a_sample(void **state)
{
    (void)state;
    enum { N = 1000 };
    vigil__tsdb_walrec_sample s[N];
    for (int i = 0; i < N; i++)
        s[i] = (vigil__tsdb_walrec_sample){1700000000000 + (i % 3), i * 0.25, 1000 + (uint32_t)i};
    vigil_buffer b;
    encode_samples(&b, s, N);
    /* ref delta 1 byte, time delta 1 byte, value 8 bytes; the header takes a few more. */
    assert_true(b.len <= 10 * N + 16);
    assert_true(b.len <= vigil__tsdb_walrec_samples_bound(N));
    vigil_buffer_free(&b);
}

static void samples_decoder_rejects_every_truncation_and_trailing_bytes(void **state)
{
    (void)state;
    vigil__tsdb_walrec_sample s[40];
    for (int i = 0; i < 40; i++)
        s[i] = (vigil__tsdb_walrec_sample){(int64_t)rnd(), from_bits(rnd()), (uint32_t)rnd()};
    vigil_buffer b;
    encode_samples(&b, s, 40);
    vigil__tsdb_walrec_sample out[41];
    size_t n;
    for (size_t len = 0; len < b.len; len++) {
        /* a copy of exactly len bytes, so ASan sees any read past it */
        uint8_t *p = malloc(len + 1);
        memcpy(p, b.data, len);
        vigil_status st = vigil__tsdb_walrec_samples_decode(p, len, out, 41, &n);
        if (st != VIGIL_ECORRUPT)
            fail_msg("prefix of %zu/%zu bytes: status %d, want VIGIL_ECORRUPT", len, b.len, st);
        free(p);
    }
    uint8_t *longer = malloc(b.len + 1);
    memcpy(longer, b.data, b.len);
    longer[b.len] = 0;
    assert_int_equal(vigil__tsdb_walrec_samples_decode(longer, b.len + 1, out, 41, &n),
                     VIGIL_ECORRUPT);
    assert_non_null(strstr(vigil_errmsg(), "trailing"));
    assert_int_equal(vigil__tsdb_walrec_samples_decode(longer, b.len, out, 39, &n), VIGIL_ELIMIT);
    free(longer);
    vigil_buffer_free(&b);
}

static void samples_decoder_rejects_malformed_headers_and_references(void **state)
{
    (void)state;
    vigil__tsdb_walrec_sample out[4];
    size_t n;
    /* unknown version */
    const uint8_t v2[] = {2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vigil__tsdb_walrec_samples_decode(v2, sizeof v2, out, 4, &n), VIGIL_ECORRUPT);
    /* a count the payload cannot hold */
    const uint8_t big[] = {1, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vigil__tsdb_walrec_samples_count(big, sizeof big, &n), VIGIL_ECORRUPT);
    /* a varint longer than 64 bits */
    const uint8_t over[] = {1,    1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                            0x7f, 0, 0,    0,    0,    0,    0,    0,    0,    0,    0};
    assert_int_equal(vigil__tsdb_walrec_samples_decode(over, sizeof over, out, 4, &n),
                     VIGIL_ECORRUPT);
    /* a reference delta of -1 from 0: below the range */
    const uint8_t neg[] = {1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vigil__tsdb_walrec_samples_decode(neg, sizeof neg, out, 4, &n),
                     VIGIL_ECORRUPT);
    assert_non_null(strstr(vigil_errmsg(), "reference"));
    /* the same bytes with delta +1 decode: the check above is about the value, not the shape */
    const uint8_t pos[] = {1, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(vigil__tsdb_walrec_samples_decode(pos, sizeof pos, out, 4, &n), VIGIL_OK);
    assert_int_equal(n, 1);
    assert_int_equal(out[0].ref, 1);
    assert_int_equal(vigil__tsdb_walrec_samples_decode(pos, 0, out, 4, &n), VIGIL_ECORRUPT);
}

static void samples_decoder_survives_random_garbage(void **state)
{
    (void)state;
    vigil__tsdb_walrec_sample s[16];
    for (int i = 0; i < 16; i++)
        s[i] = (vigil__tsdb_walrec_sample){1000 + i, (double)i, (uint32_t)i * 3};
    vigil_buffer b;
    encode_samples(&b, s, 16);
    vigil__tsdb_walrec_sample out[64];
    int ok = 0, bad = 0;
    for (int round = 0; round < 20000; round++) {
        size_t len = b.len;
        uint8_t *p = malloc(len);
        memcpy(p, b.data, len);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++)
            p[rnd() % len] = (uint8_t)rnd();
        if (round % 4 == 0)
            len = (size_t)(rnd() % (len + 1));
        size_t n = 0;
        vigil_status st = vigil__tsdb_walrec_samples_decode(p, len, out, 64, &n);
        if (st == VIGIL_OK) {
            assert_true(n <= len / 10);
            ok++;
        } else {
            assert_true(st == VIGIL_ECORRUPT || st == VIGIL_ELIMIT);
            bad++;
        }
        free(p);
    }
    /* value bytes are not checked, so many mutations still decode; headers are, so many fail */
    assert_true(ok > 0 && bad > 0);
    vigil_buffer_free(&b);
}

static void samples_encoder_leaves_buffer_unchanged_at_its_cap(void **state)
{
    (void)state;
    vigil__tsdb_walrec_sample s[100] = {{0}};
    vigil_buffer b;
    vigil_buffer_init(&b, 64);
    assert_int_equal(vigil__tsdb_walrec_samples_encode(&b, s, 100), VIGIL_ELIMIT);
    assert_int_equal(b.len, 0);
    vigil_buffer_free(&b);
}

/* ---- series ------------------------------------------------------------------------------- */

static void assert_series_equal(const vigil__tsdb_walrec_series *got,
                                const vigil__tsdb_walrec_series *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(got[i].ref, want[i].ref);
        assert_int_equal(got[i].nlabels, want[i].nlabels);
        for (uint32_t j = 0; j < want[i].nlabels; j++) {
            assert_string_equal(got[i].labels[j].name, want[i].labels[j].name);
            assert_string_equal(got[i].labels[j].value, want[i].labels[j].value);
        }
    }
}

static char long_value[3000];

static vigil_buffer encode_test_series(vigil__tsdb_walrec_series *s, size_t *n)
{
    static const vigil_label a[] = {
        {"__name__", "http_requests_total"}, {"code", "200"}, {"path", "/api/v1/query"}};
    static const vigil_label b[] = {{"__name__", "temperature_celsius"},
                                    {"empty", ""},
                                    {"room", "k\xc3\xbc"
                                             "che \"1\"\n"}};
    static vigil_label c[] = {{"__name__", "up"}, {"long", long_value}};
    memset(long_value, 'x', sizeof long_value - 1);
    s[0] = (vigil__tsdb_walrec_series){5, 3, a};
    s[1] = (vigil__tsdb_walrec_series){UINT32_MAX, 3, b};
    s[2] = (vigil__tsdb_walrec_series){0, 2, c};
    s[3] = (vigil__tsdb_walrec_series){6, 1, a};
    *n = 4;
    vigil_buffer buf;
    vigil_buffer_init(&buf, 0);
    vigil_status st = vigil__tsdb_walrec_series_encode(&buf, s, *n);
    if (st != VIGIL_OK)
        fail_msg("encode: %s", vigil_errmsg());
    return buf;
}

static void series_round_trip_with_copied_strings(void **state)
{
    (void)state;
    vigil__tsdb_walrec_series s[4];
    size_t n;
    vigil_buffer buf = encode_test_series(s, &n);
    /* decode from a copy that is destroyed afterwards: the batch must own its strings */
    uint8_t *copy = malloc(buf.len);
    memcpy(copy, buf.data, buf.len);
    vigil__tsdb_walrec_series_batch batch;
    vigil_status st = vigil__tsdb_walrec_series_decode(copy, buf.len, &batch);
    if (st != VIGIL_OK)
        fail_msg("decode: %s", vigil_errmsg());
    memset(copy, 0xee, buf.len);
    free(copy);
    assert_int_equal(batch.n, n);
    assert_series_equal(batch.series, s, n);
    vigil__tsdb_walrec_series_batch_free(&batch);
    assert_null(batch.mem);

    vigil_buffer_free(&buf);
    vigil_buffer_init(&buf, 0);
    assert_int_equal(vigil__tsdb_walrec_series_encode(&buf, NULL, 0), VIGIL_OK);
    assert_int_equal(vigil__tsdb_walrec_series_decode((uint8_t *)buf.data, buf.len, &batch),
                     VIGIL_OK);
    assert_int_equal(batch.n, 0);
    vigil__tsdb_walrec_series_batch_free(&batch);
    vigil_buffer_free(&buf);
}

static void series_decoder_rejects_every_truncation(void **state)
{
    (void)state;
    vigil__tsdb_walrec_series s[4];
    size_t n;
    vigil_buffer buf = encode_test_series(s, &n);
    vigil__tsdb_walrec_series_batch batch;
    for (size_t len = 0; len < buf.len; len++) {
        uint8_t *p = malloc(len + 1);
        memcpy(p, buf.data, len);
        vigil_status st = vigil__tsdb_walrec_series_decode(p, len, &batch);
        if (st != VIGIL_ECORRUPT)
            fail_msg("prefix of %zu/%zu bytes: status %d, want VIGIL_ECORRUPT", len, buf.len, st);
        assert_null(batch.mem);
        free(p);
    }
    vigil_buffer_free(&buf);
}

static void series_decoder_rejects_nul_empty_names_and_labelless_series(void **state)
{
    (void)state;
    vigil__tsdb_walrec_series_batch batch;
    /* version 1, 1 series, ref +1, 1 label: name "a\0", value "" */
    const uint8_t nul[] = {1, 1, 2, 1, 2, 'a', 0, 0};
    assert_int_equal(vigil__tsdb_walrec_series_decode(nul, sizeof nul, &batch), VIGIL_ECORRUPT);
    const uint8_t empty_name[] = {1, 1, 2, 1, 0, 1, 'v'};
    assert_int_equal(vigil__tsdb_walrec_series_decode(empty_name, sizeof empty_name, &batch),
                     VIGIL_ECORRUPT);
    const uint8_t no_labels[] = {1, 1, 2, 0, 0, 0, 0};
    assert_int_equal(vigil__tsdb_walrec_series_decode(no_labels, sizeof no_labels, &batch),
                     VIGIL_ECORRUPT);
    /* the well-formed neighbour of the cases above decodes */
    const uint8_t good[] = {1, 1, 2, 1, 1, 'a', 1, 'v'};
    assert_int_equal(vigil__tsdb_walrec_series_decode(good, sizeof good, &batch), VIGIL_OK);
    assert_int_equal(batch.n, 1);
    assert_int_equal(batch.series[0].ref, 1);
    assert_string_equal(batch.series[0].labels[0].name, "a");
    assert_string_equal(batch.series[0].labels[0].value, "v");
    vigil__tsdb_walrec_series_batch_free(&batch);
}

static void series_encoder_rejects_labelless_series_and_empty_names(void **state)
{
    (void)state;
    vigil_buffer buf;
    vigil_buffer_init(&buf, 0);
    const vigil_label empty[] = {{"", "x"}};
    vigil__tsdb_walrec_series s = {1, 0, empty};
    assert_int_equal(vigil__tsdb_walrec_series_encode(&buf, &s, 1), VIGIL_EINVAL);
    s.nlabels = 1;
    assert_int_equal(vigil__tsdb_walrec_series_encode(&buf, &s, 1), VIGIL_EINVAL);
    assert_int_equal(buf.len, 0);
    vigil_buffer_free(&buf);
}

static void series_decoder_survives_random_garbage(void **state)
{
    (void)state;
    vigil__tsdb_walrec_series s[4];
    size_t n;
    vigil_buffer buf = encode_test_series(s, &n);
    int ok = 0, bad = 0;
    for (int round = 0; round < 3000; round++) {
        size_t len = buf.len;
        uint8_t *p = malloc(len);
        memcpy(p, buf.data, len);
        int flips = 1 + (int)(rnd() % 3);
        for (int f = 0; f < flips; f++)
            p[rnd() % 64] = (uint8_t)rnd(); /* the structure lives in the first bytes */
        vigil__tsdb_walrec_series_batch batch;
        vigil_status st = vigil__tsdb_walrec_series_decode(p, len, &batch);
        if (st == VIGIL_OK) {
            for (size_t i = 0; i < batch.n; i++)
                for (uint32_t j = 0; j < batch.series[i].nlabels; j++)
                    assert_true(strlen(batch.series[i].labels[j].name) > 0);
            ok++;
        } else {
            assert_int_equal(st, VIGIL_ECORRUPT);
            bad++;
        }
        vigil__tsdb_walrec_series_batch_free(&batch);
        free(p);
    }
    assert_true(ok > 0 && bad > 0);
    vigil_buffer_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(samples_round_trip_bit_exact_including_special_values),
        cmocka_unit_test(samples_random_batches_round_trip),
        cmocka_unit_test(samples_scrape_batch_costs_about_ten_bytes_a_sample),
        cmocka_unit_test(samples_decoder_rejects_every_truncation_and_trailing_bytes),
        cmocka_unit_test(samples_decoder_rejects_malformed_headers_and_references),
        cmocka_unit_test(samples_decoder_survives_random_garbage),
        cmocka_unit_test(samples_encoder_leaves_buffer_unchanged_at_its_cap),
        cmocka_unit_test(series_round_trip_with_copied_strings),
        cmocka_unit_test(series_decoder_rejects_every_truncation),
        cmocka_unit_test(series_decoder_rejects_nul_empty_names_and_labelless_series),
        cmocka_unit_test(series_encoder_rejects_labelless_series_and_empty_names),
        cmocka_unit_test(series_decoder_survives_random_garbage),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
