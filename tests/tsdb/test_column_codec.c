/* test_column_codec.c — the sealed-block columns and frames: timestamps and values round-trip bit
 * for bit (edge cases from n = 0 to stale markers, -0.0, 1e308, 0.1 + 0.2 and integers past
 * 2^53, plus randomized columns from fixed seeds, alone and inside frames), the encodings cost
 * what the data is worth (scrape jitter about 2 bits, a two-decimal gauge within a few percent
 * of its entropy, a constant next to nothing, a counter reset a few bytes), frames share
 * columns (timestamps, duplicated values, histogram buckets coded against their neighbour),
 * every corrupted or truncated frame is refused with VIGIL_ECORRUPT, garbage behind a valid checksum never makes a
 * decoder read out of bounds (the ASan copy checks), limits answer VIGIL_ELIMIT, and every
 * allocation failure surfaces as VIGIL_ENOMEM without a leak. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <zlib.h>

#include "../support/failing_alloc.h"
#include "core/core_int.h"
#include "tsdb/column.h"

static uint64_t rng_state = 0x13198a2e03707344u;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A roughly normal integer with standard deviation sd (sum of 12 uniforms). */
static int64_t gauss(double sd)
{
    double s = 0;
    for (int i = 0; i < 12; i++)
        s += (double)(rnd() >> 11) / 9007199254740992.0;
    return llround((s - 6) * sd);
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
#define CHECK(x)                                                              \
    do {                                                                      \
        vigil_status st_ = (x);                                               \
        if (st_ != VIGIL_OK)                                                  \
            fail_msg("%s: %s (%s)", #x, vigil_strerror(st_), vigil_errmsg()); \
    } while (0)

static void assert_same_values(const double *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (to_bits(got[i]) != to_bits(want[i]))
            fail_msg("value %zu of %zu: bits %016llx, want %016llx", i, n,
                     (unsigned long long)to_bits(got[i]), (unsigned long long)to_bits(want[i]));
}

/* Standalone encoding; returns its size and checks the round trip. */
static size_t values_round_trip(const double *v, size_t n)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    CHECK(vigil__tsdb_valcol_encode(v, n, &b));
    double *got = malloc((n + 1) * sizeof *got);
    size_t m = 12345;
    int kind;
    CHECK(vigil__tsdb_col_info((const uint8_t *)b.data, b.len, &kind, &m));
    assert_int_equal(m, n);
    CHECK(vigil__tsdb_valcol_decode((const uint8_t *)b.data, b.len, got, n, &m));
    assert_int_equal(m, n);
    assert_same_values(got, v, n);
    if (n > 0)
        assert_int_equal(vigil__tsdb_valcol_decode((const uint8_t *)b.data, b.len, got, n - 1, &m),
                         VIGIL_ELIMIT);
    free(got);
    size_t len = b.len;
    vigil_buffer_free(&b);
    return len;
}

static size_t ts_round_trip(const int64_t *ts, size_t n)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    CHECK(vigil__tsdb_tscol_encode(ts, n, &b));
    int64_t *got = malloc((n + 1) * sizeof *got);
    size_t m = 12345;
    CHECK(vigil__tsdb_tscol_decode((const uint8_t *)b.data, b.len, got, n, &m));
    assert_int_equal(m, n);
    if (n > 0)
        assert_memory_equal(got, ts, n * sizeof *ts);
    /* a timestamp column is not a value column, and the other way round */
    double *dv = malloc((n + 1) * sizeof *dv);
    assert_int_equal(vigil__tsdb_valcol_decode((const uint8_t *)b.data, b.len, dv, n, &m),
                     VIGIL_EINVAL);
    free(dv);
    free(got);
    size_t len = b.len;
    vigil_buffer_free(&b);
    return len;
}

/* A scrape grid with millisecond jitter. */
static void scrape_times(int64_t *ts, size_t n, int64_t start, int64_t step, int jitter)
{
    for (size_t i = 0; i < n; i++)
        ts[i] = start + (int64_t)i * step + (jitter ? (int64_t)(rnd() % (uint64_t)jitter) : 0);
}

static void timestamp_columns_round_trip(void **state)
{
    (void)state;
    int64_t ts[3000] = {0};
    for (size_t n = 0; n < 5; n++) {
        scrape_times(ts, n, 1767139215000, 15000, 4);
        ts_round_trip(ts, n);
    }
    scrape_times(ts, 720, 1767139215000, 15000, 4);
    ts_round_trip(ts, 720);
    /* a missed scrape, a restart with a new phase, a long pause */
    ts[300] += 15000;
    for (size_t i = 301; i < 720; i++)
        ts[i] += 15000 + 7321;
    ts_round_trip(ts, 720);
    const int64_t extreme[] = {INT64_MIN, INT64_MIN + 1, -5, 0, 3, INT64_MAX - 1, INT64_MAX};
    ts_round_trip(extreme, 7);
    for (int round = 0; round < 100; round++) {
        size_t n = rnd() % 3000;
        int64_t t = (int64_t)(rnd() >> 2) - (1ll << 61);
        for (size_t i = 0; i < n; i++) {
            t += 1 + (int64_t)(rnd() % (1ull << (rnd() % 36)));
            ts[i] = t;
        }
        ts_round_trip(ts, n);
    }
}

static void timestamps_must_increase_strictly(void **state)
{
    (void)state;
    const int64_t same[] = {1000, 2000, 2000, 3000};
    const int64_t back[] = {1000, 2000, 1999};
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil__tsdb_tscol_encode(same, 4, &b), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "increase strictly"));
    assert_int_equal(vigil__tsdb_tscol_encode(back, 3, &b), VIGIL_EINVAL);
    assert_int_equal(b.len, 0);
    assert_int_equal(vigil__tsdb_tscol_encode(NULL, VIGIL__TSDB_COLUMN_MAX_SAMPLES + 1, &b),
                     VIGIL_EINVAL);
    assert_int_equal(vigil__tsdb_valcol_encode(NULL, VIGIL__TSDB_COLUMN_MAX_SAMPLES + 1, &b),
                     VIGIL_EINVAL);
    vigil_buffer_free(&b);
}

static void scrape_jitter_costs_about_two_bits_a_timestamp(void **state)
{
    (void)state;
    int64_t ts[720];
    scrape_times(ts, 720, 1767139215000, 15000, 4); /* 0..3 ms: two bits of entropy */
    size_t len = ts_round_trip(ts, 720);
    print_message("720 jittered timestamps: %zu bytes\n", len);
    assert_true(len <= 720 * 23 / 80);              /* 2.3 bits a timestamp, everything included */
    scrape_times(ts, 720, 1767139215000, 15000, 0); /* a perfect grid: a few bytes */
    assert_true(ts_round_trip(ts, 720) <= 16);
}

/* Where the special value goes in the 50-value column: first, last, or the middle. */
static size_t j_pos(size_t i)
{
    return i % 3 == 0 ? 0 : i % 3 == 1 ? 49 : 25;
}

static void value_edge_cases_round_trip(void **state)
{
    (void)state;
    const uint64_t specials[] = {
        STALE_NAN,
        0x7ff8000000000000ull,
        0xfff8000000000001ull,
        0x7ff0000000000001ull,
        0x8000000000000000ull,
        0x0000000000000000ull,
        0x7ff0000000000000ull,
        0xfff0000000000000ull,
        0x0000000000000001ull,
        0x000fffffffffffffull,
        0x0010000000000000ull,
        0x7fefffffffffffffull,
        0xffefffffffffffffull,
    };
    double v[6000] = {0};
    values_round_trip(v, 0);
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        v[0] = from_bits(specials[i]);
        values_round_trip(v, 1); /* alone */
        for (size_t j = 0; j < 50; j++)
            v[j] = (double)(1000 + 3 * (int)j) / 100;
        v[j_pos(i)] = from_bits(specials[i]);
        values_round_trip(v, 50); /* inside a decimal column */
    }
    /* all NaN (one payload, then many), the staleness marker closing a series */
    for (size_t i = 0; i < 720; i++)
        v[i] = from_bits(STALE_NAN);
    assert_true(values_round_trip(v, 720) <= 16);
    for (size_t i = 0; i < 720; i++)
        v[i] = from_bits(0x7ff8000000000000ull | (rnd() & 0xfffffffffffffull));
    values_round_trip(v, 720);
    for (size_t i = 0; i < 720; i++)
        v[i] = 20 + (double)gauss(30) / 100;
    v[719] = from_bits(STALE_NAN);
    values_round_trip(v, 720);
    /* values that are decimals only at a high exponent, or not at all */
    const double odd[] = {0.1 + 0.2,
                          1.0 / 3,
                          1e308,
                          -1e308,
                          1e-300,
                          5e-324,
                          123456.789012,
                          9007199254740993.0,
                          9007199254740994.0,
                          1152921504606846976.0,
                          9223372036854775808.0,
                          -9223372036854775808.0,
                          1e20,
                          3e20,
                          1e22,
                          4.5e15,
                          -0.0,
                          0.0,
                          -17.25};
    size_t no = sizeof odd / sizeof odd[0];
    values_round_trip(odd, no);
    for (size_t i = 0; i < no; i++) {
        for (size_t j = 0; j < 64; j++)
            v[j] = odd[i] + (double)j; /* a column around each of them */
        values_round_trip(v, 64);
    }
    /* integers past 2^53, negative values, a counter with resets */
    for (size_t i = 0; i < 500; i++)
        v[i] = 9007199254740992.0 + 2.0 * (double)(rnd() % 1000000);
    values_round_trip(v, 500);
    double c = 0;
    for (size_t i = 0; i < 2000; i++) {
        c = rnd() % 500 == 0 ? 0 : c + (double)(rnd() % 40);
        v[i] = i % 2 ? -c : c;
    }
    values_round_trip(v, 2000);
}

/* Fills v with one of several shapes of column; the shapes cover each encoding path. */
static void random_column(double *v, size_t n, int shape)
{
    double walk = (double)(rnd() % 100000) / 100;
    int e = (int)(rnd() % 7);
    double scale = pow(10, e);
    double rate = (double)(rnd() % 2000);
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case 0: /* random walk with e decimals */
            walk += (double)gauss(30);
            v[i] = walk / scale;
            break;
        case 1: /* counter with resets, stepping in tens */
            walk = rnd() % 997 == 0 ? 0 : walk + 10 * (double)(rnd() % (uint64_t)(rate + 1));
            v[i] = walk;
            break;
        case 2: /* any bits */ v[i] = from_bits(rnd()); break;
        case 3: /* mostly constant with spikes */
            v[i] = rnd() % 50 ? 1.5 : (double)(rnd() % 1000);
            break;
        case 4: /* a decimal column sprinkled with specials */
            walk += (double)gauss(3) / 1000;
            v[i] = walk;
            if (rnd() % 40 == 0) {
                const uint64_t sp[] = {STALE_NAN, 0x8000000000000000ull, 0x7ff0000000000000ull,
                                       0x7ff8000000000000ull};
                v[i] = from_bits(sp[rnd() % 4]);
            }
            break;
        case 5: /* smooth trend */ v[i] = 1e6 + 37.5 * (double)i + (double)(i * i) / 4; break;
        default: /* wide integers */
            v[i] = (double)(int64_t)(rnd() >> (rnd() % 64)) * (rnd() % 2 ? 1 : -1);
            break;
        }
    }
}

static void random_columns_round_trip(void **state)
{
    (void)state;
    double *v = malloc(4000 * sizeof *v);
    for (int round = 0; round < 300; round++) {
        size_t n = round < 20 ? (size_t)round : rnd() % 4000;
        random_column(v, n, round % 7);
        values_round_trip(v, n);
    }
    free(v);
}

static void kinds_follow_the_data(void **state)
{
    (void)state;
    double v[720];
    vigil_buffer b;
    int kind;
    size_t n;
    for (size_t i = 0; i < 720; i++)
        v[i] = 1;
    vigil_buffer_init(&b, 0);
    CHECK(vigil__tsdb_valcol_encode(v, 720, &b));
    CHECK(vigil__tsdb_col_info((const uint8_t *)b.data, b.len, &kind, &n));
    assert_int_equal(kind, VIGIL__TSDB_COL_CONST);
    assert_true(b.len <= 12);
    vigil_buffer_free(&b);

    random_column(v, 720, 0);
    vigil_buffer_init(&b, 0);
    CHECK(vigil__tsdb_valcol_encode(v, 720, &b));
    CHECK(vigil__tsdb_col_info((const uint8_t *)b.data, b.len, &kind, &n));
    assert_int_equal(kind, VIGIL__TSDB_COL_DECIMAL);
    vigil_buffer_free(&b);

    random_column(v, 720, 2);
    vigil_buffer_init(&b, 0);
    CHECK(vigil__tsdb_valcol_encode(v, 720, &b));
    CHECK(vigil__tsdb_col_info((const uint8_t *)b.data, b.len, &kind, &n));
    assert_true(kind == VIGIL__TSDB_COL_XOR || kind == VIGIL__TSDB_COL_RAW);
    assert_true(b.len <= 720 * 8 + 8);
    vigil_buffer_free(&b);
}

static void decimal_gauge_costs_near_its_entropy(void **state)
{
    (void)state;
    for (int sd = 3; sd <= 300; sd *= 10) {
        int64_t m[5760];
        double v[5760];
        m[0] = 2345;
        for (size_t i = 1; i < 5760; i++)
            m[i] = m[i - 1] + gauss(sd);
        for (size_t i = 0; i < 5760; i++)
            v[i] = (double)m[i] / 100;
        /* a 2-hour block and a day, against the entropy of a normal distribution rounded to
         * integers: log2(sd * sqrt(2 pi e)) bits a difference */
        double h = log2(sd * sqrt(2 * M_PI * M_E)) / 8;
        double e720 = 719 * h, e5760 = 5759 * h;
        size_t b720 = values_round_trip(v, 720), b5760 = values_round_trip(v, 5760);
        print_message("sd %d: 720 samples %zu bytes (entropy %.0f), 5760 samples %zu bytes "
                      "(entropy %.0f)\n",
                      sd, b720, e720, b5760, e5760);
        assert_true((double)b720 <= e720 * 1.02 + 32);
        assert_true((double)b5760 <= e5760 * 1.02 + 32);
    }
}

static void counter_reset_costs_a_few_bytes(void **state)
{
    (void)state;
    double v[720];
    double c = 123456;
    for (size_t i = 0; i < 720; i++) {
        c += (double)(300 + gauss(17));
        v[i] = c;
    }
    size_t plain = values_round_trip(v, 720);
    for (size_t i = 400; i < 720; i++)
        v[i] -= v[399] - 5; /* the process restarted */
    size_t reset = values_round_trip(v, 720);
    print_message("counter: %zu bytes, with a reset %zu\n", plain, reset);
    assert_true(reset <= plain + 24);
}

/* A frame builder fed like a block writer: a few scrape targets, each with its timestamps,
 * counters, gauges, a constant and a histogram (buckets, _sum, _count == the +Inf bucket). */
typedef struct fixture {
    size_t ncols;
    double *vals[200];
    size_t n[200];
    int is_ts[200];
    int64_t *ts[200];
    uint32_t index[200];
} fixture;

static void fixture_free(fixture *fx)
{
    for (size_t i = 0; i < fx->ncols; i++) {
        free(fx->vals[i]);
        free(fx->ts[i]);
    }
}

static void add_ts(fixture *fx, const int64_t *ts, size_t n)
{
    fx->is_ts[fx->ncols] = 1;
    fx->n[fx->ncols] = n;
    fx->ts[fx->ncols] = malloc((n + 1) * sizeof *ts);
    memcpy(fx->ts[fx->ncols], ts, n * sizeof *ts);
    fx->vals[fx->ncols++] = NULL;
}

static void add_vals(fixture *fx, const double *v, size_t n)
{
    fx->is_ts[fx->ncols] = 0;
    fx->n[fx->ncols] = n;
    fx->vals[fx->ncols] = malloc((n + 1) * sizeof *v);
    memcpy(fx->vals[fx->ncols], v, n * sizeof *v);
    fx->ts[fx->ncols++] = NULL;
}

static void fixture_make(fixture *fx, size_t n)
{
    memset(fx, 0, sizeof *fx);
    int64_t ts[2000];
    double v[2000];
    static const double le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    for (int target = 0; target < 3; target++) {
        scrape_times(ts, n, 1767139215000 + target * 1000, 15000, 4);
        add_ts(fx, ts, n);
        add_ts(fx, ts, n); /* the same timestamps again: stored once */
        for (int s = 0; s < 4; s++) {
            random_column(v, n, s % 2 ? 1 : 0);
            add_vals(fx, v, n);
        }
        for (size_t i = 0; i < n; i++)
            v[i] = 1;
        add_vals(fx, v, n);
        /* a histogram: cumulative buckets from one stream of observations */
        double counts[12][2000], sum[2000];
        double acc[12] = {0}, s = 0;
        for (size_t i = 0; i < n; i++) {
            int obs = (int)(rnd() % 60);
            for (int o = 0; o < obs; o++) {
                double x = exp((double)gauss(800) / 1000) * 0.1;
                s += x;
                for (int bkt = 0; bkt < 12; bkt++)
                    if (bkt == 11 || x <= le[bkt])
                        acc[bkt] += 1;
            }
            for (int bkt = 0; bkt < 12; bkt++)
                counts[bkt][i] = acc[bkt];
            sum[i] = round(s * 1e6) / 1e6;
        }
        for (int bkt = 0; bkt < 12; bkt++)
            add_vals(fx, counts[bkt], n);
        add_vals(fx, sum, n);
        add_vals(fx, counts[11], n); /* _count equals the +Inf bucket */
    }
    /* a shorter column, an empty one, random bits */
    random_column(v, n / 2, 0);
    add_vals(fx, v, n / 2);
    add_vals(fx, v, 0);
    random_column(v, n, 2);
    add_vals(fx, v, n);
}

static vigil_status fixture_build(fixture *fx, int level, vigil_buffer *out)
{
    vigil__tsdb_frame_builder *b;
    vigil_status st = vigil__tsdb_frame_builder_new(level, 0, &b);
    for (size_t i = 0; i < fx->ncols && st == VIGIL_OK; i++)
        st = fx->is_ts[i] ? vigil__tsdb_frame_add_ts(b, fx->ts[i], fx->n[i], &fx->index[i])
                          : vigil__tsdb_frame_add_values(b, fx->vals[i], fx->n[i], &fx->index[i]);
    if (st == VIGIL_OK)
        st = vigil__tsdb_frame_finish(b, out);
    vigil__tsdb_frame_builder_free(b);
    return st;
}

/* Opens the frame and checks every column of the fixture comes back exactly. */
static vigil_status fixture_check(const fixture *fx, const uint8_t *bytes, size_t len, bool strict)
{
    vigil__tsdb_frame *f;
    vigil_status st = vigil__tsdb_frame_reader_new(&f);
    if (st == VIGIL_OK)
        st = vigil__tsdb_frame_open(f, bytes, len);
    double *v = malloc(2000 * sizeof *v);
    int64_t *ts = malloc(2000 * sizeof *ts);
    for (size_t i = 0; i < fx->ncols && st == VIGIL_OK; i++) {
        size_t n = 0;
        if (fx->is_ts[i]) {
            st = vigil__tsdb_frame_get_ts(f, fx->index[i], ts, 2000, &n);
            if (strict && st == VIGIL_OK &&
                (n != fx->n[i] || (n > 0 && memcmp(ts, fx->ts[i], n * 8) != 0)))
                fail_msg("timestamp column %zu differs", i);
        } else {
            st = vigil__tsdb_frame_get_values(f, fx->index[i], v, 2000, &n);
            if (strict && st == VIGIL_OK) {
                assert_int_equal(n, fx->n[i]);
                assert_same_values(v, fx->vals[i], n);
            }
        }
    }
    free(v);
    free(ts);
    vigil__tsdb_frame_reader_free(f);
    return st;
}

static void frames_round_trip_and_share_columns(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx, 720);
    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    CHECK(fixture_build(&fx, 0, &out));
    CHECK(fixture_check(&fx, (const uint8_t *)out.data, out.len, true));
    /* shared: repeated timestamps, and _count stored once with the +Inf bucket */
    size_t standalone = 0;
    for (size_t i = 0; i < fx.ncols; i++) {
        vigil_buffer one;
        vigil_buffer_init(&one, 0);
        if (fx.is_ts[i])
            CHECK(vigil__tsdb_tscol_encode(fx.ts[i], fx.n[i], &one));
        else
            CHECK(vigil__tsdb_valcol_encode(fx.vals[i], fx.n[i], &one));
        standalone += one.len;
        vigil_buffer_free(&one);
    }
    size_t per_target = 2 + 4 + 1 + 14;
    for (size_t t = 0; t < 3; t++) {
        size_t base = t * per_target;
        assert_int_equal(fx.index[base], fx.index[base + 1]);
        assert_int_equal(fx.index[base + 7 + 11], fx.index[base + 7 + 13]);
        assert_int_not_equal(fx.index[base + 7 + 11], fx.index[base + 7 + 12]);
    }
    /* histogram buckets are coded against their neighbour */
    vigil__tsdb_frame *f;
    CHECK(vigil__tsdb_frame_reader_new(&f));
    CHECK(vigil__tsdb_frame_open(f, (const uint8_t *)out.data, out.len));
    int refs = 0;
    for (uint32_t i = 0; i < vigil__tsdb_frame_ncols(f); i++) {
        int kind;
        size_t n;
        CHECK(vigil__tsdb_frame_column_info(f, i, &kind, &n));
        refs += kind == VIGIL__TSDB_COL_DECIMAL_REF;
    }
    print_message("%d columns coded against a neighbour\n", refs);
    assert_true(refs >= 3 * 11 / 2); /* most of the 33 that could be */
    print_message("frame %zu bytes, the same columns alone %zu, %d coded against a neighbour\n",
                  out.len, standalone, refs);
    assert_true(out.len < standalone * 9 / 10);
    vigil__tsdb_frame_reader_free(f);
    vigil_buffer_free(&out);
    fixture_free(&fx);
}

static void frames_of_every_size_round_trip(void **state)
{
    (void)state;
    vigil__tsdb_frame_builder *b;
    vigil__tsdb_frame *f;
    CHECK(vigil__tsdb_frame_builder_new(0, 0, &b));
    CHECK(vigil__tsdb_frame_reader_new(&f));
    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    CHECK(vigil__tsdb_frame_finish(b, &out)); /* an empty frame */
    CHECK(vigil__tsdb_frame_open(f, (const uint8_t *)out.data, out.len));
    assert_int_equal(vigil__tsdb_frame_ncols(f), 0);
    double v[3000], got[3000];
    for (int round = 0; round < 40; round++) {
        size_t ncols = 1 + rnd() % 40, n = rnd() % 3000;
        double *cols = malloc(ncols * n * sizeof *cols + 8);
        uint32_t idx[40];
        for (size_t c = 0; c < ncols; c++) {
            random_column(v, n, (int)(rnd() % 7));
            memcpy(cols + c * n, v, n * sizeof *v);
            CHECK(vigil__tsdb_frame_add_values(b, v, n, &idx[c]));
        }
        out.len = 0;
        CHECK(vigil__tsdb_frame_finish(b, &out));
        assert_int_equal(vigil__tsdb_frame_builder_columns(b), 0);
        CHECK(vigil__tsdb_frame_open(f, (const uint8_t *)out.data, out.len));
        /* read in a shuffled order: references must not depend on the order of reads */
        for (size_t k = 0; k < ncols; k++) {
            size_t c = (k * 7 + (size_t)round) % ncols, m;
            CHECK(vigil__tsdb_frame_get_values(f, idx[c], got, 3000, &m));
            assert_int_equal(m, n);
            assert_same_values(got, cols + c * n, n);
        }
        free(cols);
    }
    vigil_buffer_free(&out);
    vigil__tsdb_frame_reader_free(f);
    vigil__tsdb_frame_builder_free(b);
}

/* Columns of histogram-bucket shape: each the one before plus a little, so the frame codes
 * them against each other in chains (as long as the coder allows, then a new chain). */
static size_t bucket_frame(vigil__tsdb_frame_builder *b, size_t ncols, size_t n, double *cols,
                           uint32_t *idx, vigil_buffer *out, uint64_t seed)
{
    uint64_t saved = rng_state; /* the tests after this one keep their stream */
    rng_state = seed;
    for (size_t i = 0; i < n; i++)
        cols[i] = (double)(rnd() % 50);
    for (size_t c = 1; c < ncols; c++)
        for (size_t i = 0; i < n; i++)
            cols[c * n + i] = cols[(c - 1) * n + i] + (double)(rnd() % 3);
    rng_state = saved;
    for (size_t c = 0; c < ncols; c++)
        CHECK(vigil__tsdb_frame_add_values(b, cols + c * n, n, &idx[c]));
    out->len = 0;
    CHECK(vigil__tsdb_frame_finish(b, out));
    return out->len;
}

static void reference_chains_decode_in_any_order_and_frames_never_mix(void **state)
{
    (void)state;
    enum { NCOLS = 60, N = 300 };
    vigil__tsdb_frame_builder *b;
    vigil__tsdb_frame *f;
    CHECK(vigil__tsdb_frame_builder_new(0, 0, &b));
    CHECK(vigil__tsdb_frame_reader_new(&f));
    double *a = malloc(NCOLS * N * sizeof *a), *c = malloc(NCOLS * N * sizeof *c);
    double got[N];
    uint32_t ia[NCOLS], ic[NCOLS];
    vigil_buffer fa, fc;
    vigil_buffer_init(&fa, 0);
    vigil_buffer_init(&fc, 0);
    bucket_frame(b, NCOLS, N, a, ia, &fa, 11);
    bucket_frame(b, NCOLS, N, c, ic, &fc, 12); /* same shape, other values */
    CHECK(vigil__tsdb_frame_open(f, (const uint8_t *)fa.data, fa.len));
    int refs = 0;
    for (uint32_t i = 0; i < NCOLS; i++) {
        int kind;
        size_t n;
        CHECK(vigil__tsdb_frame_column_info(f, i, &kind, &n));
        refs += kind == VIGIL__TSDB_COL_DECIMAL_REF;
    }
    assert_true(refs >= NCOLS * 3 / 4); /* chains longer than the decoder's cache of 16 */
    /* orders: backwards (each column before the ones it leans on), strided, and alternating
     * between the two frames in one reader, which must forget a frame's columns when it
     * opens the other */
    for (int order = 0; order < 3; order++)
        for (size_t k = 0; k < NCOLS; k++) {
            size_t col = order == 0 ? NCOLS - 1 - k : order == 1 ? (k * 17) % NCOLS : k;
            for (int which = 0; which < (order == 2 ? 2 : 1); which++) {
                vigil_buffer *fb = which ? &fc : &fa;
                if (order == 2 || k == 0)
                    CHECK(vigil__tsdb_frame_open(f, (const uint8_t *)fb->data, fb->len));
                size_t m;
                CHECK(vigil__tsdb_frame_get_values(f, which ? ic[col] : ia[col], got, N, &m));
                assert_int_equal(m, N);
                assert_same_values(got, (which ? c : a) + col * N, N);
            }
        }
    vigil_buffer_free(&fa);
    vigil_buffer_free(&fc);
    free(a);
    free(c);
    vigil__tsdb_frame_reader_free(f);
    vigil__tsdb_frame_builder_free(b);
}

static void compressible_frames_use_zstd(void **state)
{
    (void)state;
    /* random bit patterns from a small set: not decimals, but repetitive bytes */
    uint64_t pats[3] = {rnd(), rnd(), rnd()};
    double v[1000], got[1000];
    vigil__tsdb_frame_builder *b;
    CHECK(vigil__tsdb_frame_builder_new(0, 0, &b));
    uint32_t idx[20];
    for (int c = 0; c < 20; c++) {
        for (size_t i = 0; i < 1000; i++)
            v[i] = from_bits(pats[(i * (size_t)(c + 1) / 7) % 3] ^ (uint64_t)c);
        CHECK(vigil__tsdb_frame_add_values(b, v, 1000, &idx[c]));
    }
    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    CHECK(vigil__tsdb_frame_finish(b, &out));
    assert_true(((const uint8_t *)out.data)[5] & 1); /* the zstd flag */
    vigil__tsdb_frame *f;
    CHECK(vigil__tsdb_frame_reader_new(&f));
    CHECK(vigil__tsdb_frame_open(f, (const uint8_t *)out.data, out.len));
    for (int c = 0; c < 20; c++) {
        for (size_t i = 0; i < 1000; i++)
            v[i] = from_bits(pats[(i * (size_t)(c + 1) / 7) % 3] ^ (uint64_t)c);
        size_t n;
        CHECK(vigil__tsdb_frame_get_values(f, idx[c], got, 1000, &n));
        assert_same_values(got, v, 1000);
    }
    vigil__tsdb_frame_reader_free(f);
    vigil__tsdb_frame_builder_free(b);
    vigil_buffer_free(&out);
}

static uint32_t crc_of(const uint8_t *frame, size_t len)
{
    uLong crc = crc32(0L, frame, 20);
    return (uint32_t)crc32(crc, frame + 24, (uInt)(len - 24));
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void corrupted_frames_are_refused(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx, 64);
    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    CHECK(fixture_build(&fx, 0, &out));
    size_t len = out.len;
    uint8_t *copy = malloc(len);
    vigil__tsdb_frame *f;
    CHECK(vigil__tsdb_frame_reader_new(&f));
    /* every byte changed, one at a time: CRC-32 catches every burst of up to 32 bits */
    for (size_t i = 0; i < len; i++) {
        memcpy(copy, out.data, len);
        copy[i] ^= (uint8_t)(1 + rnd() % 255);
        assert_int_equal(vigil__tsdb_frame_open(f, copy, len), VIGIL_ECORRUPT);
        assert_int_equal(vigil__tsdb_frame_ncols(f), 0);
    }
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *t = malloc(cut + 1);
        memcpy(t, out.data, cut);
        assert_int_equal(vigil__tsdb_frame_open(f, t, cut), VIGIL_ECORRUPT);
        free(t);
    }
    /* a later version, checksum and all, is refused by name */
    memcpy(copy, out.data, len);
    copy[4] = 2;
    put32(copy + 20, crc_of(copy, len));
    assert_int_equal(vigil__tsdb_frame_open(f, copy, len), VIGIL_ECORRUPT);
    assert_non_null(strstr(vigil_errmsg(), "version"));
    memcpy(copy, out.data, len);
    assert_int_equal(vigil__tsdb_frame_open(f, copy, len), VIGIL_OK);
    assert_int_equal(vigil__tsdb_frame_get_values(f, 99999, NULL, 0, &(size_t){0}), VIGIL_EINVAL);
    free(copy);
    vigil__tsdb_frame_reader_free(f);
    vigil_buffer_free(&out);
    fixture_free(&fx);
}

/* Garbage behind a valid checksum (what a bug, not a disk, would write): the decoders may refuse
 * or return other numbers, but never read outside the frame or loop forever. */
static void garbage_with_a_valid_checksum_never_crashes(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx, 300);
    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    CHECK(fixture_build(&fx, -1, &out)); /* uncompressed, so mutations reach the columns */
    size_t len = out.len;
    int refused = 0;
    for (int round = 0; round < 1500; round++) {
        uint8_t *copy = malloc(len);
        memcpy(copy, out.data, len);
        int flips = 1 + (int)(rnd() % 3);
        for (int k = 0; k < flips; k++) {
            size_t at = 24 + rnd() % (len - 24);
            copy[at] = rnd() % 2 ? copy[at] ^ (uint8_t)(1u << (rnd() % 8)) : (uint8_t)rnd();
        }
        put32(copy + 20, crc_of(copy, len));
        vigil_status st = fixture_check(&fx, copy, len, false);
        /* EINVAL: a column's kind byte now says the other sort (timestamps for values), which
         * a frame cannot tell from a caller asking for the wrong column */
        if (st != VIGIL_OK && st != VIGIL_ECORRUPT && st != VIGIL_ELIMIT && st != VIGIL_EINVAL)
            fail_msg("round %d: %s (%s)", round, vigil_strerror(st), vigil_errmsg());
        refused += st != VIGIL_OK;
        free(copy);
    }
    print_message("%d of 1500 corrupted frames refused by the decoders themselves\n", refused);
    assert_true(refused > 0);
    /* single columns, mutated and truncated */
    double v[500], got[500];
    for (int round = 0; round < 1500; round++) {
        random_column(v, 500, round % 7);
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        CHECK(vigil__tsdb_valcol_encode(v, 500, &b));
        size_t cut = round % 4 == 0 ? rnd() % b.len : b.len;
        uint8_t *copy = malloc(cut + 1);
        memcpy(copy, b.data, cut);
        if (cut > 0 && round % 4 != 0)
            copy[rnd() % cut] ^= (uint8_t)(1 + rnd() % 255);
        size_t n;
        vigil_status st = vigil__tsdb_valcol_decode(copy, cut, got, 500, &n);
        /* EINVAL: the garbage now claims another kind, or a frame's sample count */
        assert_true(st == VIGIL_OK || st == VIGIL_ECORRUPT || st == VIGIL_ELIMIT ||
                    st == VIGIL_EINVAL);
        free(copy);
        vigil_buffer_free(&b);
    }
    vigil_buffer_free(&out);
    fixture_free(&fx);
}

static void limits_answer_elimit(void **state)
{
    (void)state;
    double v[720];
    for (size_t i = 0; i < 720; i++)
        v[i] = 20 + (double)(i % 7) / 4; /* a few hundred bytes */
    vigil__tsdb_frame_builder *b;
    CHECK(vigil__tsdb_frame_builder_new(0, 1000, &b));
    uint32_t idx;
    CHECK(vigil__tsdb_frame_add_values(b, v, 720, &idx));
    random_column(v, 720, 2);
    assert_int_equal(vigil__tsdb_frame_add_values(b, v, 720, &idx), VIGIL_ELIMIT);
    assert_int_equal(vigil__tsdb_frame_builder_columns(b), 1); /* the frame is as it was */
    vigil_buffer small;
    vigil_buffer_init(&small, 100); /* a caller's cap counts the result, not the working room */
    assert_int_equal(vigil__tsdb_valcol_encode(v, 720, &small), VIGIL_ELIMIT);
    assert_int_equal(small.len, 0);
    for (size_t i = 0; i < 720; i++)
        v[i] = 42;
    CHECK(vigil__tsdb_valcol_encode(v, 720, &small));
    vigil_buffer_free(&small);
    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    CHECK(vigil__tsdb_frame_finish(b, &out));
    vigil__tsdb_frame *f;
    CHECK(vigil__tsdb_frame_reader_new(&f));
    CHECK(vigil__tsdb_frame_open(f, (const uint8_t *)out.data, out.len));
    size_t n;
    assert_int_equal(vigil__tsdb_frame_get_values(f, 0, v, 719, &n), VIGIL_ELIMIT);
    vigil__tsdb_frame_builder_free(b);
    assert_int_equal(vigil__tsdb_frame_builder_new(99, 0, &b), VIGIL_EINVAL);
    assert_null(b);
    vigil__tsdb_frame_builder_free(NULL);
    vigil__tsdb_frame_reader_free(NULL);
    vigil__tsdb_frame_reader_free(f);
    vigil_buffer_free(&out);
}

static void every_allocation_failure_is_enomem_without_leaks(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx, 40);
    vigil_allocator a = {inj_malloc, inj_realloc, inj_free, NULL};
    vigil_set_allocator(&a);
    bool done = false;
    for (long budget = 0; !done && budget < 100000; budget++) {
        inj.budget = budget;
        inj.persistent = false;
        vigil_buffer out;
        vigil_buffer_init(&out, 0);
        vigil_status st = fixture_build(&fx, 0, &out);
        if (st == VIGIL_OK) {
            /* a builder that ran out of memory confirming a duplicate stores it twice: the
             * frame is bigger, never wrong */
            inj.budget = -1;
            CHECK(fixture_check(&fx, (const uint8_t *)out.data, out.len, true));
            done = budget > 0 && inj.failed == 0;
        } else {
            assert_int_equal(st, VIGIL_ENOMEM);
        }
        vigil_buffer_free(&out);
        inj.budget = -1;
        assert_int_equal(inj.live, 0);
        inj.failed = 0;
    }
    assert_true(done);
    vigil_set_allocator(NULL);
    fixture_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(timestamp_columns_round_trip),
        cmocka_unit_test(timestamps_must_increase_strictly),
        cmocka_unit_test(scrape_jitter_costs_about_two_bits_a_timestamp),
        cmocka_unit_test(value_edge_cases_round_trip),
        cmocka_unit_test(random_columns_round_trip),
        cmocka_unit_test(kinds_follow_the_data),
        cmocka_unit_test(decimal_gauge_costs_near_its_entropy),
        cmocka_unit_test(counter_reset_costs_a_few_bytes),
        cmocka_unit_test(frames_round_trip_and_share_columns),
        cmocka_unit_test(frames_of_every_size_round_trip),
        cmocka_unit_test(reference_chains_decode_in_any_order_and_frames_never_mix),
        cmocka_unit_test(compressible_frames_use_zstd),
        cmocka_unit_test(corrupted_frames_are_refused),
        cmocka_unit_test(garbage_with_a_valid_checksum_never_crashes),
        cmocka_unit_test(limits_answer_elimit),
        cmocka_unit_test(every_allocation_failure_is_enomem_without_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
