/* test_xor_chunk.c — the head's Gorilla chunks: samples round-trip bit for bit (every NaN payload,
 * the staleness marker, -0.0, infinities, subnormals, random bit patterns, timestamps from
 * jittered scrapes to the int64 extremes), the bytes decode to the samples appended so far after
 * every append, a chunk stops at 65535 samples and at its cap without losing what it holds,
 * appending 120 samples into a fresh chunk allocates nothing, millisecond scrape jitter costs
 * 9 bits of timestamp, and truncated or corrupted chunks end in an error, never in a read past
 * the bytes (the ASan copy checks that part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "tsdb/xor.h"
#include "vigil/alloc.h"

static uint64_t rng_state = 0x243f6a8885a308d3u;

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

#define STALE_NAN 0x7ff0000000000002ull

/* Appends every sample to a fresh chunk, then checks both decoders give them back exactly. */
static void assert_round_trip(const int64_t *t, const double *v, size_t n)
{
    vigil__tsdb_xor_chunk c;
    assert_int_equal(vigil__tsdb_xor_init(&c, 0, 0), VIGIL_OK);
    for (size_t i = 0; i < n; i++)
        if (vigil__tsdb_xor_append(&c, t[i], v[i]) != VIGIL_OK)
            fail_msg("append %zu: %s", i, vigil_errmsg());
    size_t len;
    const uint8_t *bytes = vigil__tsdb_xor_bytes(&c, &len);
    int64_t *gt = malloc((n + 1) * sizeof *gt);
    double *gv = malloc((n + 1) * sizeof *gv);
    size_t got = 0;
    assert_int_equal(vigil__tsdb_xor_decode(bytes, len, gt, gv, n, &got), VIGIL_OK);
    assert_int_equal(got, n);
    vigil__tsdb_xor_iter it;
    assert_int_equal(vigil__tsdb_xor_iter_init(&it, bytes, len), VIGIL_OK);
    for (size_t i = 0; i < n; i++) {
        int64_t tt;
        double vv;
        assert_true(vigil__tsdb_xor_iter_next(&it, &tt, &vv));
        if (gt[i] != t[i] || tt != t[i])
            fail_msg("sample %zu: timestamp %lld, want %lld", i, (long long)gt[i], (long long)t[i]);
        if (to_bits(gv[i]) != to_bits(v[i]) || to_bits(vv) != to_bits(v[i]))
            fail_msg("sample %zu: value bits %016llx, want %016llx", i,
                     (unsigned long long)to_bits(gv[i]), (unsigned long long)to_bits(v[i]));
    }
    int64_t tt;
    double vv;
    assert_false(vigil__tsdb_xor_iter_next(&it, &tt, &vv));
    assert_int_equal(vigil__tsdb_xor_iter_status(&it), VIGIL_OK);
    free(gt);
    free(gv);
    vigil__tsdb_xor_free(&c);
}

static void special_values_round_trip_bit_exact(void **state)
{
    (void)state;
    const uint64_t bits[] = {
        STALE_NAN,
        0x7ff8000000000000ull,
        0xfff8000000000001ull,
        0x7fffffffffffffffull,
        0xffffffffffffffffull,
        0x7ff0000000000001ull,
        0x8000000000000000ull, /* -0.0 */
        0x0000000000000000ull,
        0x7ff0000000000000ull,
        0xfff0000000000000ull,
        0x0000000000000001ull, /* the smallest subnormal */
        0x000fffffffffffffull, /* the largest subnormal */
        0x8000000000000001ull,
        0x7fefffffffffffffull,
        0x3fb999999999999aull, /* 0.1 */
        STALE_NAN,
        STALE_NAN,
        0x4059000000000000ull,
    };
    size_t n = sizeof bits / sizeof bits[0];
    int64_t t[32];
    double v[32];
    for (size_t i = 0; i < n; i++) {
        t[i] = 1767139215000 + 15000 * (int64_t)i + (int64_t)(rnd() % 4);
        v[i] = from_bits(bits[i]);
    }
    assert_round_trip(t, v, n);
    /* the staleness marker closing a series of ordinary values */
    for (size_t i = 0; i < 20; i++)
        v[i] = 20.0 + (double)i / 4;
    v[20] = from_bits(STALE_NAN);
    assert_round_trip(t, v, 21);
}

static void extreme_timestamps_round_trip(void **state)
{
    (void)state;
    const int64_t t[] = {INT64_MIN,     INT64_MIN + 1, -1,       0, 1, 1000, 1000 + 64, 1000 + 8257,
                         1000 + 600000, INT64_MAX - 5, INT64_MAX};
    double v[sizeof t / sizeof t[0]];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        v[i] = (double)i;
    assert_round_trip(t, v, sizeof t / sizeof t[0]);
    /* out of order and repeated timestamps are the head's business; the chunk keeps them */
    const int64_t back[] = {5000, 4000, 4000, 9000000000000, -7};
    assert_round_trip(back, v, 5);
}

static void random_chunks_round_trip(void **state)
{
    (void)state;
    int64_t t[600];
    double v[600];
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + rnd() % 600;
        int64_t ts = (int64_t)(rnd() >> 20) - (1ll << 42);
        double walk = (double)(rnd() % 10000) / 100;
        int shape = round % 5;
        for (size_t i = 0; i < n; i++) {
            int64_t step = shape == 0 ? 15000 : (int64_t)(rnd() % (1ull << (rnd() % 40))) + 1;
            ts += step + (shape == 0 ? (int64_t)(rnd() % 7) - 3 : 0);
            t[i] = ts;
            switch (shape) {
            case 0:
                walk += (double)((int64_t)(rnd() % 61) - 30) / 100;
                v[i] = walk;
                break;
            case 1: v[i] = from_bits(rnd()); break; /* any bits, NaNs included */
            case 2: v[i] = (double)(rnd() % 3); break;
            case 3: v[i] = i % 7 == 0 ? from_bits(STALE_NAN) : (double)(rnd() >> 11); break;
            default: v[i] = from_bits(rnd() & 0x800fffffffffffffull); break; /* subnormals */
            }
        }
        assert_round_trip(t, v, n);
    }
}

/* What a reader sees between appends: the bytes always hold exactly the samples so far. */
static void bytes_decode_to_the_samples_appended_so_far(void **state)
{
    (void)state;
    vigil__tsdb_xor_chunk c;
    assert_int_equal(vigil__tsdb_xor_init(&c, 16, 0), VIGIL_OK); /* small, so it grows too */
    int64_t t[300], gt[300];
    double v[300], gv[300];
    for (size_t i = 0; i < 300; i++) {
        t[i] = 1000 * (int64_t)i * (int64_t)(1 + rnd() % 3);
        if (i > 0 && t[i] <= t[i - 1])
            t[i] = t[i - 1] + 1;
        v[i] = i % 11 == 0 ? from_bits(rnd()) : (double)(rnd() % 1000) / 8;
        assert_int_equal(vigil__tsdb_xor_append(&c, t[i], v[i]), VIGIL_OK);
        size_t len, got;
        const uint8_t *b = vigil__tsdb_xor_bytes(&c, &len);
        assert_int_equal(vigil__tsdb_xor_decode(b, len, gt, gv, 300, &got), VIGIL_OK);
        assert_int_equal(got, i + 1);
        assert_memory_equal(gt, t, (i + 1) * sizeof *t);
        assert_memory_equal(gv, v, (i + 1) * sizeof *v);
    }
    vigil__tsdb_xor_free(&c);
}

static void chunk_stops_at_65535_samples_and_keeps_them(void **state)
{
    (void)state;
    vigil__tsdb_xor_chunk c;
    assert_int_equal(vigil__tsdb_xor_init(&c, 120, 0), VIGIL_OK);
    for (int64_t i = 0; i < 65535; i++)
        assert_int_equal(vigil__tsdb_xor_append(&c, i * 15000, (double)(i % 100)), VIGIL_OK);
    assert_int_equal(vigil__tsdb_xor_append(&c, 65535 * 15000ll, 1.0), VIGIL_ELIMIT);
    assert_non_null(strstr(vigil_errmsg(), "65535"));
    size_t len, got;
    const uint8_t *b = vigil__tsdb_xor_bytes(&c, &len);
    int64_t *t = malloc(65535 * sizeof *t);
    double *v = malloc(65535 * sizeof *v);
    assert_int_equal(vigil__tsdb_xor_decode(b, len, t, v, 65534, &got), VIGIL_ELIMIT);
    assert_int_equal(vigil__tsdb_xor_decode(b, len, t, v, 65535, &got), VIGIL_OK);
    assert_int_equal(got, 65535);
    assert_int_equal(t[65534], 65534 * 15000ll);
    assert_true(v[65534] == (double)(65534 % 100));
    free(t);
    free(v);
    vigil__tsdb_xor_free(&c);
}

static void full_buffer_refuses_and_keeps_what_it_holds(void **state)
{
    (void)state;
    /* a caller's buffer: never grown */
    uint8_t buf[VIGIL__TSDB_XOR_WORST_BYTES(4)];
    vigil__tsdb_xor_chunk c;
    assert_int_equal(vigil__tsdb_xor_init_buffer(&c, buf, 10), VIGIL_EINVAL);
    assert_int_equal(vigil__tsdb_xor_init_buffer(&c, buf, sizeof buf), VIGIL_OK);
    size_t n = 0;
    vigil_status st;
    while ((st = vigil__tsdb_xor_append(&c, (int64_t)n * 1000, from_bits(rnd()))) == VIGIL_OK)
        n++;
    assert_int_equal(st, VIGIL_ELIMIT);
    assert_true(n >= 4);
    size_t len, got;
    int64_t t[64];
    double v[64];
    const uint8_t *b = vigil__tsdb_xor_bytes(&c, &len);
    assert_true(len <= sizeof buf);
    assert_int_equal(vigil__tsdb_xor_decode(b, len, t, v, 64, &got), VIGIL_OK);
    assert_int_equal(got, n);
    assert_int_equal(t[n - 1], (int64_t)(n - 1) * 1000);
    vigil__tsdb_xor_free(&c); /* leaves the caller's buffer alone */

    /* a chunk-owned buffer grows up to its cap, then refuses */
    assert_int_equal(vigil__tsdb_xor_init(&c, 1, 200), VIGIL_OK);
    n = 0;
    while ((st = vigil__tsdb_xor_append(&c, (int64_t)n, from_bits(rnd()))) == VIGIL_OK)
        n++;
    assert_int_equal(st, VIGIL_ELIMIT);
    b = vigil__tsdb_xor_bytes(&c, &len);
    assert_true(len <= 200);
    assert_int_equal(vigil__tsdb_xor_decode(b, len, t, v, 64, &got), VIGIL_OK);
    assert_int_equal(got, n);
    vigil__tsdb_xor_free(&c);
    assert_int_equal(vigil__tsdb_xor_init(&c, 0, 20), VIGIL_EINVAL);
}

static size_t allocations;

static void *counting_malloc(size_t n, void *user)
{
    (void)user;
    allocations++;
    return malloc(n);
}

static void *counting_realloc(void *p, size_t n, void *user)
{
    (void)user;
    allocations++;
    return realloc(p, n);
}

static void counting_free(void *p, void *user)
{
    (void)user;
    free(p);
}

static void appending_a_scrape_chunk_allocates_nothing(void **state)
{
    (void)state;
    vigil_allocator a = {counting_malloc, counting_realloc, counting_free, NULL};
    vigil_set_allocator(&a);
    vigil__tsdb_xor_chunk c;
    assert_int_equal(vigil__tsdb_xor_init(&c, 120, 0), VIGIL_OK);
    size_t before = allocations;
    double walk = 40;
    for (int64_t i = 0; i < 120; i++) {
        walk += (double)((int64_t)(rnd() % 61) - 30) / 100; /* a noisy two-decimal gauge */
        assert_int_equal(vigil__tsdb_xor_append(&c, 1767139215000 + i * 15000, walk), VIGIL_OK);
    }
    assert_int_equal(allocations, before);
    vigil__tsdb_xor_free(&c);
    vigil_set_allocator(NULL);
}

static void scrape_jitter_costs_nine_bits_of_timestamp(void **state)
{
    (void)state;
    vigil__tsdb_xor_chunk c;
    assert_int_equal(vigil__tsdb_xor_init(&c, 120, 0), VIGIL_OK);
    /* a constant value leaves only timestamps: 128 bits, then ~9 bits a jittered sample */
    int64_t t = 1767139215000;
    for (int i = 0; i < 121; i++) {
        assert_int_equal(vigil__tsdb_xor_append(&c, t, 1.0), VIGIL_OK);
        t += 15000 + (int64_t)(rnd() % 4);
    }
    size_t len;
    vigil__tsdb_xor_bytes(&c, &len);
    /* header 2, first sample 16, the second's delta 3 bytes, then at most 9 + 1 bits each */
    assert_true(len <= 2 + 16 + 4 + (119 * 10 + 7) / 8);
    assert_true(len >= 2 + 16 + 119 / 8);
    vigil__tsdb_xor_free(&c);
}

/* Every truncation and many random corruptions: an error or some samples, never a bad read. */
static void truncated_and_corrupted_chunks_fail_cleanly(void **state)
{
    (void)state;
    vigil__tsdb_xor_chunk c;
    assert_int_equal(vigil__tsdb_xor_init(&c, 120, 0), VIGIL_OK);
    for (int64_t i = 0; i < 120; i++)
        assert_int_equal(vigil__tsdb_xor_append(&c, i * 15000 + (int64_t)(rnd() % 5),
                                                i % 3 ? (double)i / 3 : from_bits(rnd())),
                         VIGIL_OK);
    size_t len;
    const uint8_t *orig = vigil__tsdb_xor_bytes(&c, &len);
    int64_t t[200];
    double v[200];
    size_t got;
    assert_int_equal(vigil__tsdb_xor_decode(orig, 1, t, v, 200, &got), VIGIL_ECORRUPT);
    for (size_t cut = 2; cut < len; cut++) {
        /* an exact-size copy, so that ASan sees any read past it */
        uint8_t *b = malloc(cut);
        memcpy(b, orig, cut);
        /* the last byte holds at least one bit of the last sample */
        assert_int_equal(vigil__tsdb_xor_decode(b, cut, t, v, 200, &got), VIGIL_ECORRUPT);
        free(b);
    }
    for (int round = 0; round < 2000; round++) {
        uint8_t *b = malloc(len);
        memcpy(b, orig, len);
        int flips = 1 + (int)(rnd() % 4);
        for (int f = 0; f < flips; f++)
            b[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
        vigil_status st = vigil__tsdb_xor_decode(b, len, t, v, 200, &got);
        assert_true(st == VIGIL_OK || st == VIGIL_ECORRUPT || st == VIGIL_ELIMIT);
        vigil__tsdb_xor_iter it;
        assert_int_equal(vigil__tsdb_xor_iter_init(&it, b, len), VIGIL_OK);
        int64_t tt;
        double vv;
        size_t k = 0;
        while (vigil__tsdb_xor_iter_next(&it, &tt, &vv))
            k++;
        assert_true(k <= 65535);
        free(b);
    }
    vigil__tsdb_xor_free(&c);
}

static void values_only_stream_round_trips(void **state)
{
    (void)state;
    double v[500];
    for (int round = 0; round < 50; round++) {
        size_t n = 1 + rnd() % 500;
        for (size_t i = 0; i < n; i++)
            v[i] = round % 2 ? from_bits(rnd()) : (double)(rnd() % 50) * 0.25;
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        assert_int_equal(vigil__tsdb_xor_values_encode(v, n, &b), VIGIL_OK);
        double got[500];
        assert_int_equal(vigil__tsdb_xor_values_decode((const uint8_t *)b.data, b.len, got, n),
                         VIGIL_OK);
        assert_memory_equal(got, v, n * sizeof *v);
        /* one byte short cannot hold them all: the last byte has a bit of the last value */
        assert_int_equal(vigil__tsdb_xor_values_decode((const uint8_t *)b.data, b.len - 1, got, n),
                         VIGIL_ECORRUPT);
        vigil_buffer_free(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(special_values_round_trip_bit_exact),
        cmocka_unit_test(extreme_timestamps_round_trip),
        cmocka_unit_test(random_chunks_round_trip),
        cmocka_unit_test(bytes_decode_to_the_samples_appended_so_far),
        cmocka_unit_test(chunk_stops_at_65535_samples_and_keeps_them),
        cmocka_unit_test(full_buffer_refuses_and_keeps_what_it_holds),
        cmocka_unit_test(appending_a_scrape_chunk_allocates_nothing),
        cmocka_unit_test(scrape_jitter_costs_nine_bits_of_timestamp),
        cmocka_unit_test(truncated_and_corrupted_chunks_fail_cleanly),
        cmocka_unit_test(values_only_stream_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
