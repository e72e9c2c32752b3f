/* test_core.c — the core module on its own: the status table and per-thread messages, the capped
 * buffer, the string map (including backward-shift deletion), UTF-8 validation and the number
 * formatting the exposition formats depend on. `le` formatting is checked against values
 * produced by Python's prometheus_client floatToGoString, the reference the OpenMetrics parsers
 * compare with. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "vigil/alloc.h"
#include "vigil/buffer.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

/* A small deterministic PRNG so failures reproduce. */
static uint64_t rng_state = 0x853c49e6748fea9bull;
static uint64_t rng(void)
{
    uint64_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

/* --- status ---------------------------------------------------------------------------------- */

static void test_strerror_gives_a_distinct_message_for_every_code(void **state)
{
    (void)state;
    const char *seen[VIGIL_ETIMEOUT + 1];
    for (int s = VIGIL_OK; s <= VIGIL_ETIMEOUT; s++) {
        const char *m = vigil_strerror((vigil_status)s);
        assert_non_null(m);
        assert_true(strlen(m) > 0);
        assert_string_not_equal(m, "unknown vigil status");
        for (int j = 0; j < s; j++)
            assert_string_not_equal(m, seen[j]);
        seen[s] = m;
    }
    assert_string_equal(vigil_strerror(VIGIL_OK), "ok");
    assert_string_equal(vigil_strerror(VIGIL_ENOMEM), "out of memory");
}

static void test_strerror_of_unknown_code_is_not_null(void **state)
{
    (void)state;
    assert_string_equal(vigil_strerror((vigil_status)(VIGIL_ETIMEOUT + 1)),
                        "unknown vigil status");
    assert_string_equal(vigil_strerror((vigil_status)-1), "unknown vigil status");
    assert_string_equal(vigil_strerror((vigil_status)100000), "unknown vigil status");
}

static void *errmsg_in_new_thread(void *arg)
{
    (void)arg;
    return (void *)(uintptr_t)(vigil_errmsg()[0] == '\0');
}

static void test_errmsg_is_set_by_a_failing_call_and_is_per_thread(void **state)
{
    (void)state;
    assert_int_equal(vigil_check_metric_name("9lives"), VIGIL_ENAME);
    assert_non_null(strstr(vigil_errmsg(), "9lives"));
    assert_int_equal(vigil__fail(VIGIL_EIO, "disk %d is %s", 3, "gone"), VIGIL_EIO);
    assert_string_equal(vigil_errmsg(), "disk 3 is gone");
    /* A successful call does not clear it. */
    assert_int_equal(vigil_check_metric_name("fine_name"), VIGIL_OK);
    assert_string_equal(vigil_errmsg(), "disk 3 is gone");
    /* Another thread has its own, empty message. */
    pthread_t t;
    void *empty;
    assert_int_equal(pthread_create(&t, NULL, errmsg_in_new_thread, NULL), 0);
    assert_int_equal(pthread_join(t, &empty), 0);
    assert_true((uintptr_t)empty);
}

static void test_errmsg_is_truncated_not_overflowed(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(vigil__fail(VIGIL_EINVAL, "%s", big), VIGIL_EINVAL);
    assert_true(strlen(vigil_errmsg()) < sizeof big - 1);
    assert_true(strlen(vigil_errmsg()) > 100);
}

/* --- buffer ---------------------------------------------------------------------------------- */

static void test_buffer_append_grows_and_stays_nul_terminated(void **state)
{
    (void)state;
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(b.limit, VIGIL_BUFFER_DEFAULT_LIMIT);
    assert_string_equal(vigil_buffer_cstr(&b), "");
    for (int i = 0; i < 1000; i++)
        assert_int_equal(vigil_buffer_append(&b, "abcdefghij", 10), VIGIL_OK);
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len);
    assert_int_equal(strlen(b.data), 10000);
    assert_memory_equal(b.data + 9990, "abcdefghij", 10);
    vigil_buffer_free(&b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    vigil_buffer_free(NULL);
}

static void test_buffer_limit_refuses_append_and_leaves_buffer_unchanged(void **state)
{
    (void)state;
    vigil_buffer b;
    vigil_buffer_init(&b, 10);
    assert_int_equal(vigil_buffer_append(&b, "12345678", 8), VIGIL_OK);
    char *data = b.data;
    size_t cap = b.cap;
    assert_int_equal(vigil_buffer_append(&b, "abc", 3), VIGIL_ELIMIT);
    assert_non_null(strstr(vigil_errmsg(), "10"));
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    /* Exactly up to the limit is fine. */
    assert_int_equal(vigil_buffer_append(&b, "ab", 2), VIGIL_OK);
    assert_string_equal(b.data, "12345678ab");
    assert_int_equal(vigil_buffer_append(&b, "c", 1), VIGIL_ELIMIT);
    assert_int_equal(vigil_buffer_append(&b, "", 0), VIGIL_OK);
    assert_int_equal(b.len, 10);
    /* A huge request cannot wrap around the size check. */
    assert_int_equal(vigil_buffer_append(&b, "x", SIZE_MAX), VIGIL_ELIMIT);
    assert_null(vigil_buffer_reserve(&b, SIZE_MAX - 3));
    assert_int_equal(b.len, 10);
    vigil_buffer_free(&b);
}

static void test_buffer_reserve_returns_write_position_and_null_past_limit(void **state)
{
    (void)state;
    vigil_buffer b;
    vigil_buffer_init(&b, 64);
    char *p = vigil_buffer_reserve(&b, 5);
    assert_non_null(p);
    memcpy(p, "hello", 5);
    b.len += 5;
    assert_string_equal(vigil_buffer_cstr(&b), "hello");
    assert_null(vigil_buffer_reserve(&b, 60));
    assert_non_null(strstr(vigil_errmsg(), "limit"));
    assert_int_equal(b.len, 5);
    char *w;
    assert_int_equal(vigil__buf_reserve(&b, 59, &w), VIGIL_OK);
    assert_ptr_equal(w, b.data + 5);
    assert_int_equal(vigil__buf_reserve(&b, 60, &w), VIGIL_ELIMIT);
    vigil_buffer_free(&b);
}

static int fail_allocations;
static void *maybe_malloc(size_t n, void *user)
{
    (void)user;
    return fail_allocations ? NULL : malloc(n);
}
static void *maybe_realloc(void *p, size_t n, void *user)
{
    (void)user;
    return fail_allocations ? NULL : realloc(p, n);
}
static void plain_free(void *p, void *user)
{
    (void)user;
    free(p);
}

static void test_buffer_append_reports_enomem_and_leaves_buffer_unchanged(void **state)
{
    (void)state;
    vigil_allocator a = {maybe_malloc, maybe_realloc, plain_free, NULL};
    vigil_set_allocator(&a);
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_buffer_append(&b, "abc", 3), VIGIL_OK);
    fail_allocations = 1;
    char big[1000] = {0};
    assert_int_equal(vigil_buffer_append(&b, big, sizeof big), VIGIL_ENOMEM);
    assert_int_equal(b.len, 3);
    assert_string_equal(b.data, "abc");
    fail_allocations = 0;
    vigil_buffer_free(&b);
    /* An empty buffer whose first allocation fails still yields a string. */
    fail_allocations = 1;
    vigil_buffer_init(&b, 0);
    assert_string_equal(vigil_buffer_cstr(&b), "");
    fail_allocations = 0;
    vigil_buffer_free(&b);
    vigil_set_allocator(NULL);
}

/* --- string map ------------------------------------------------------------------------------ */

static void test_strmap_put_get_del(void **state)
{
    (void)state;
    vigil__strmap m;
    vigil__strmap_init(&m);
    int a, b;
    assert_null(vigil__strmap_get(&m, "x"));
    assert_null(vigil__strmap_del(&m, "x"));
    assert_int_equal(vigil__strmap_put(&m, "x", &a), VIGIL_OK);
    assert_int_equal(vigil__strmap_put(&m, "y", &b), VIGIL_OK);
    assert_int_equal(vigil__strmap_put(&m, "x", &b), VIGIL_EEXIST);
    assert_ptr_equal(vigil__strmap_get(&m, "x"), &a);
    assert_ptr_equal(vigil__strmap_get(&m, "y"), &b);
    assert_null(vigil__strmap_get(&m, "z"));
    assert_null(vigil__strmap_get(&m, ""));
    assert_int_equal(m.len, 2);
    assert_ptr_equal(vigil__strmap_del(&m, "x"), &a);
    assert_null(vigil__strmap_get(&m, "x"));
    assert_null(vigil__strmap_del(&m, "x"));
    assert_ptr_equal(vigil__strmap_get(&m, "y"), &b);
    assert_int_equal(m.len, 1);
    /* Keys are copied. */
    char key[8] = "dyn";
    assert_int_equal(vigil__strmap_put(&m, key, &a), VIGIL_OK);
    key[0] = 'X';
    assert_ptr_equal(vigil__strmap_get(&m, "dyn"), &a);
    vigil__strmap_free(&m);
    assert_int_equal(m.len, 0);
    vigil__strmap_free(&m); /* twice is harmless */
}

#define MANY 3000

static void test_strmap_backward_shift_deletion_keeps_every_key_reachable(void **state)
{
    (void)state;
    vigil__strmap m;
    vigil__strmap_init(&m);
    static char keys[MANY][16];
    static bool present[MANY];
    for (size_t i = 0; i < MANY; i++) {
        snprintf(keys[i], sizeof keys[i], "k%zu", i);
        assert_int_equal(vigil__strmap_put(&m, keys[i], keys[i]), VIGIL_OK);
        present[i] = true;
    }
    assert_int_equal(m.len, MANY);
    /* Delete in a pseudo-random order, checking every key after every few deletions. */
    size_t order[MANY];
    for (size_t i = 0; i < MANY; i++)
        order[i] = i;
    for (size_t i = MANY - 1; i > 0; i--) {
        size_t j = (size_t)(rng() % (i + 1));
        size_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (size_t d = 0; d < MANY; d++) {
        size_t k = order[d];
        assert_ptr_equal(vigil__strmap_del(&m, keys[k]), keys[k]);
        present[k] = false;
        if (d % 97 == 0 || d > MANY - 50) {
            for (size_t i = 0; i < MANY; i++) {
                if (present[i])
                    assert_ptr_equal(vigil__strmap_get(&m, keys[i]), keys[i]);
                else
                    assert_null(vigil__strmap_get(&m, keys[i]));
            }
        }
        /* Re-adding some keeps tables churning through wrapped-around runs. */
        if (d % 5 == 0 && d < MANY / 2) {
            assert_int_equal(vigil__strmap_put(&m, keys[k], keys[k]), VIGIL_OK);
            present[k] = true;
            assert_ptr_equal(vigil__strmap_del(&m, keys[k]), keys[k]);
            present[k] = false;
        }
    }
    assert_int_equal(m.len, 0);
    vigil__strmap_free(&m);
}

/* Small tables (16 slots, up to 12 keys) make long runs that wrap around the end, where the
 * backward-shift condition has its cyclic case. */
static void test_strmap_deletion_in_small_wrapping_tables(void **state)
{
    (void)state;
    for (int trial = 0; trial < 3000; trial++) {
        vigil__strmap m;
        vigil__strmap_init(&m);
        char keys[12][64];
        bool present[12];
        size_t n = 2 + (size_t)(rng() % 10);
        for (size_t i = 0; i < n; i++) {
            snprintf(keys[i], sizeof keys[i], "t%d_%zu_%u", trial, i, (unsigned)(rng() % 1000));
            vigil_status st = vigil__strmap_put(&m, keys[i], keys[i]);
            if (st == VIGIL_EEXIST) { /* the random suffix repeated: make it unique */
                keys[i][0] = 'u';
                st = vigil__strmap_put(&m, keys[i], keys[i]);
            }
            assert_int_equal(st, VIGIL_OK);
            present[i] = true;
        }
        assert_int_equal(m.cap, 16);
        for (size_t d = 0; d < n; d++) {
            size_t k;
            do
                k = (size_t)(rng() % n);
            while (!present[k]);
            assert_ptr_equal(vigil__strmap_del(&m, keys[k]), keys[k]);
            present[k] = false;
            for (size_t i = 0; i < n; i++) {
                if (present[i])
                    assert_ptr_equal(vigil__strmap_get(&m, keys[i]), keys[i]);
                else
                    assert_null(vigil__strmap_get(&m, keys[i]));
            }
        }
        vigil__strmap_free(&m);
    }
}

static void test_strmap_del_value_removes_every_key_of_one_value(void **state)
{
    (void)state;
    vigil__strmap m;
    vigil__strmap_init(&m);
    int a, b;
    char key[32];
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "name%d", i);
        assert_int_equal(vigil__strmap_put(&m, key, i % 3 == 0 ? (void *)&a : (void *)&b),
                         VIGIL_OK);
    }
    assert_int_equal(vigil__strmap_del_value(&m, &a), 167);
    assert_int_equal(m.len, 333);
    for (int i = 0; i < 500; i++) {
        snprintf(key, sizeof key, "name%d", i);
        if (i % 3 == 0)
            assert_null(vigil__strmap_get(&m, key));
        else
            assert_ptr_equal(vigil__strmap_get(&m, key), &b);
    }
    assert_int_equal(vigil__strmap_del_value(&m, &a), 0);
    assert_int_equal(vigil__strmap_del_value(&m, &b), 333);
    assert_int_equal(m.len, 0);
    vigil__strmap_free(&m);
    vigil__strmap_init(&m);
    assert_int_equal(vigil__strmap_del_value(&m, &a), 0); /* empty, never allocated */
    /* Small wrapping tables, values interleaved at random. */
    for (int trial = 0; trial < 2000; trial++) {
        int vals[3];
        char keys[12][32];
        int owner[12];
        size_t n = 1 + (size_t)(rng() % 12);
        for (size_t i = 0; i < n; i++) {
            snprintf(keys[i], sizeof keys[i], "w%d_%zu", trial, i);
            owner[i] = (int)(rng() % 3);
            assert_int_equal(vigil__strmap_put(&m, keys[i], &vals[owner[i]]), VIGIL_OK);
        }
        int victim = (int)(rng() % 3);
        (void)vigil__strmap_del_value(&m, &vals[victim]);
        for (size_t i = 0; i < n; i++) {
            if (owner[i] == victim)
                assert_null(vigil__strmap_get(&m, keys[i]));
            else
                assert_ptr_equal(vigil__strmap_get(&m, keys[i]), &vals[owner[i]]);
        }
        vigil__strmap_free(&m);
    }
}

/* --- UTF-8 ----------------------------------------------------------------------------------- */

static bool utf8(const char *s)
{
    return vigil__utf8_valid(s, strlen(s));
}

static void test_utf8_accepts_ascii_and_valid_multibyte(void **state)
{
    (void)state;
    assert_true(vigil__utf8_valid("", 0));
    assert_true(utf8("plain ascii \x7f"));
    assert_true(utf8("caf\xc3\xa9"));            /* U+00E9 */
    assert_true(utf8("\xc2\x80"));               /* U+0080, smallest 2-byte */
    assert_true(utf8("\xdf\xbf"));               /* U+07FF */
    assert_true(utf8("\xe0\xa0\x80"));           /* U+0800, smallest 3-byte */
    assert_true(utf8("\xe2\x82\xac"));           /* euro sign */
    assert_true(utf8("\xed\x9f\xbf"));           /* U+D7FF, just below surrogates */
    assert_true(utf8("\xee\x80\x80"));           /* U+E000, just above */
    assert_true(utf8("\xef\xbf\xbf"));           /* U+FFFF */
    assert_true(utf8("\xf0\x90\x80\x80"));       /* U+10000 */
    assert_true(utf8("\xf0\x9f\x98\x80 smile")); /* U+1F600 */
    assert_true(utf8("\xf4\x8f\xbf\xbf"));       /* U+10FFFF, the largest */
    assert_true(vigil__utf8_valid("a\0b", 3));   /* NUL is a valid code point */
}

static void test_utf8_refuses_overlong_surrogate_truncated_and_out_of_range(void **state)
{
    (void)state;
    assert_false(utf8("\xc0\x80"));         /* overlong NUL */
    assert_false(utf8("\xc1\xbf"));         /* overlong U+007F */
    assert_false(utf8("\xe0\x80\x80"));     /* overlong 3-byte */
    assert_false(utf8("\xe0\x9f\xbf"));     /* overlong U+07FF */
    assert_false(utf8("\xf0\x80\x80\x80")); /* overlong 4-byte */
    assert_false(utf8("\xf0\x8f\xbf\xbf")); /* overlong U+FFFF */
    assert_false(utf8("\xed\xa0\x80"));     /* U+D800 */
    assert_false(utf8("\xed\xbf\xbf"));     /* U+DFFF */
    assert_false(utf8("\xf4\x90\x80\x80")); /* U+110000 */
    assert_false(utf8("\xf5\x80\x80\x80")); /* lead byte beyond F4 */
    assert_false(utf8("\xff"));
    assert_false(utf8("\x80")); /* stray continuation */
    assert_false(utf8("a\xbf"
                      "b"));
    assert_false(utf8("\xc3")); /* truncated 2-byte */
    assert_false(utf8("caf\xc3"));
    assert_false(utf8("\xe2\x82"));     /* truncated 3-byte */
    assert_false(utf8("\xf0\x9f\x98")); /* truncated 4-byte */
    assert_false(utf8("\xe2\x28\xa1")); /* bad continuation */
    assert_false(utf8("\xc3\x28"));
    /* The length bounds the check, not a NUL: a sequence cut by len is truncated. */
    assert_false(vigil__utf8_valid("\xc3\xa9", 1));
    assert_true(vigil__utf8_valid("\xc3\xa9\xff", 2));
}

/* --- number formatting ----------------------------------------------------------------------- */

static const char *fmt_d(double v)
{
    static char out[VIGIL__FMT_MAX + 8];
    size_t n = vigil__fmt_double(out, v);
    assert_int_equal(n, strlen(out));
    assert_true(n < VIGIL__FMT_MAX);
    return out;
}

static const char *fmt_le(double v)
{
    static char out[VIGIL__FMT_MAX + 8];
    size_t n = vigil__fmt_label_float(out, v);
    assert_int_equal(n, strlen(out));
    assert_true(n < VIGIL__FMT_MAX);
    return out;
}

static void test_fmt_double_prints_integers_specials_and_fractions(void **state)
{
    (void)state;
    assert_string_equal(fmt_d(0), "0");
    assert_string_equal(fmt_d(1), "1");
    assert_string_equal(fmt_d(-1), "-1");
    assert_string_equal(fmt_d(42), "42");
    assert_string_equal(fmt_d(123456789012345.0), "123456789012345");
    assert_string_equal(fmt_d(-2.5), "-2.5");
    assert_string_equal(fmt_d(0.1), "0.1");
    assert_string_equal(fmt_d(0.5), "0.5");
    assert_string_equal(fmt_d(1e300), "1e+300");
    assert_string_equal(fmt_d(-1e300), "-1e+300");
    assert_string_equal(fmt_d(1e15), "1e+15");
    assert_string_equal(fmt_d(NAN), "NaN");
    assert_string_equal(fmt_d(-NAN), "NaN");
    assert_string_equal(fmt_d(INFINITY), "+Inf");
    assert_string_equal(fmt_d(-INFINITY), "-Inf");
    assert_string_equal(fmt_d(0.1 + 0.2), "0.30000000000000004");
    assert_string_equal(fmt_d(1.7976931348623157e308), "1.7976931348623157e+308");
    assert_true(strtod(fmt_d(5e-324), NULL) == 5e-324);
    assert_true(strtod(fmt_d(-0.0), NULL) == 0);
    /* Beyond int64_t (no undefined conversion on the way). */
    assert_true(strtod(fmt_d(9.3e18), NULL) == 9.3e18);
    assert_true(strtod(fmt_d(-9.3e18), NULL) == -9.3e18);
    assert_true(strtod(fmt_d(18446744073709551616.0), NULL) == 18446744073709551616.0);
}

static void test_fmt_double_round_trips_random_doubles(void **state)
{
    (void)state;
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = rng();
        double v;
        memcpy(&v, &bits, sizeof v);
        if (i % 3 == 1)
            v = (double)(int64_t)(rng() % 2000000) / 1000.0 - 1000.0; /* typical values */
        if (i % 3 == 2)
            v = ldexp((double)(rng() % 1000000), (int)(rng() % 200) - 100);
        if (!isfinite(v))
            continue;
        const char *s = fmt_d(v);
        char *end;
        double back = strtod(s, &end);
        if (back != v || *end != '\0')
            fail_msg("%a printed as \"%s\" reads back as %a", v, s, back);
    }
}

static void test_fmt_label_float_matches_python_float_to_go_string(void **state)
{
    (void)state;
    /* Expected strings from /usr/bin/python3:
     *   from prometheus_client.utils import floatToGoString as f; print(f(v)) */
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.005, "0.005"},
        {0.01, "0.01"},
        {1, "1.0"},
        {2.5, "2.5"},
        {10, "10.0"},
        {100, "100.0"},
        {1e-05, "1e-05"},
        {0.0001, "0.0001"},
        {123456.0, "123456.0"},
        {1234567.0, "1.234567e+06"},
        {1e16, "1e+16"},
        {1.5e300, "1.5e+300"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {NAN, "NaN"},
        {0.1, "0.1"},
        {0.25, "0.25"},
        {1e15, "1e+015"},
        {12345678.9, "1.23456789e+07"},
        {9007199254740992.0, "9.007199254740992e+015"},
        {1e21, "1e+21"},
        {5e-324, "5e-324"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        /* Powers of two where the rounded 16 digits miss and Python takes the next decimal up. */
        {0x1p+345, "7.167183174968974e+103"},
        {0x1p-77, "6.617444900424222e-24"},
        {0x1p+122, "5.316911983139664e+36"},
        {-2.5, "-2.5"},
        {0.0, "0.0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = fmt_le(cases[i].v);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("%a: want \"%s\", got \"%s\"", cases[i].v, cases[i].want, got);
    }
}

static void test_fmt_label_float_reads_back_for_random_positive_doubles(void **state)
{
    (void)state;
    for (int i = 0; i < 100000; i++) {
        double v = ldexp((double)(rng() >> 11), (int)(rng() % 600) - 330);
        if (v == 0 || !isfinite(v))
            continue;
        const char *s = fmt_le(v);
        if (strtod(s, NULL) != v)
            fail_msg("%a printed as \"%s\"", v, s);
    }
}

static void test_fmt_u64_prints_full_range(void **state)
{
    (void)state;
    char out[24];
    assert_int_equal(vigil__fmt_u64(out, 0), 1);
    assert_string_equal(out, "0");
    assert_int_equal(vigil__fmt_u64(out, 1234567890), 10);
    assert_string_equal(out, "1234567890");
    assert_int_equal(vigil__fmt_u64(out, UINT64_MAX), 20);
    assert_string_equal(out, "18446744073709551615");
}

/* --- hashing and clocks ---------------------------------------------------------------------- */

static void test_hash_depends_on_bytes_length_and_seed(void **state)
{
    (void)state;
    assert_true(vigil__hash("abc", 3, 0) == vigil__hash_str("abc", 0));
    assert_true(vigil__hash("abc", 3, 0) != vigil__hash("abc", 3, 1));
    assert_true(vigil__hash("abc", 3, 0) != vigil__hash("abd", 3, 0));
    assert_true(vigil__hash("", 0, 0) != vigil__hash("\0", 1, 0));
    assert_true(vigil__hash("0123456789abcdef", 16, 7) != vigil__hash("0123456789abcdeg", 16, 7));
}

static void test_clocks_are_plausible(void **state)
{
    (void)state;
    double s = vigil__now_seconds();
    int64_t ms = vigil__now_ms();
    assert_true(s > 1.6e9);
    assert_true(llabs(ms - (int64_t)(s * 1000)) < 5000);
    uint64_t a = vigil__mono_ns(), b = vigil__mono_ns();
    assert_true(b >= a);
}

/* --- allocator ------------------------------------------------------------------------------- */

static size_t counted_mallocs;
static void *counting_malloc(size_t n, void *user)
{
    (*(size_t *)user)++;
    return malloc(n);
}
static void *counting_realloc(void *p, size_t n, void *user)
{
    (*(size_t *)user)++;
    return realloc(p, n);
}

static void test_set_allocator_routes_allocations_and_null_restores_libc(void **state)
{
    (void)state;
    vigil_allocator a = {counting_malloc, counting_realloc, plain_free, &counted_mallocs};
    vigil_set_allocator(&a);
    char *p = vigil__strdup("hello");
    assert_string_equal(p, "hello");
    assert_int_equal(counted_mallocs, 1);
    int *z = vigil__calloc(4, sizeof *z);
    assert_int_equal(counted_mallocs, 2);
    assert_int_equal(z[0] | z[1] | z[2] | z[3], 0);
    vigil_free(z);
    vigil_free(p);
    vigil_free(NULL);
    assert_null(vigil__calloc(SIZE_MAX / 2, 4)); /* overflow refused before allocating */
    assert_int_equal(counted_mallocs, 2);
    vigil_set_allocator(NULL);
    p = vigil__malloc(0); /* size 0 still gives a pointer */
    assert_non_null(p);
    vigil__free(p);
    assert_int_equal(counted_mallocs, 2);
    /* An allocator with a missing function is treated as NULL. */
    vigil_allocator partial = {counting_malloc, NULL, plain_free, &counted_mallocs};
    vigil_set_allocator(&partial);
    vigil__free(vigil__malloc(8));
    assert_int_equal(counted_mallocs, 2);
    vigil_set_allocator(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strerror_gives_a_distinct_message_for_every_code),
        cmocka_unit_test(test_strerror_of_unknown_code_is_not_null),
        cmocka_unit_test(test_errmsg_is_set_by_a_failing_call_and_is_per_thread),
        cmocka_unit_test(test_errmsg_is_truncated_not_overflowed),
        cmocka_unit_test(test_buffer_append_grows_and_stays_nul_terminated),
        cmocka_unit_test(test_buffer_limit_refuses_append_and_leaves_buffer_unchanged),
        cmocka_unit_test(test_buffer_reserve_returns_write_position_and_null_past_limit),
        cmocka_unit_test(test_buffer_append_reports_enomem_and_leaves_buffer_unchanged),
        cmocka_unit_test(test_strmap_put_get_del),
        cmocka_unit_test(test_strmap_backward_shift_deletion_keeps_every_key_reachable),
        cmocka_unit_test(test_strmap_deletion_in_small_wrapping_tables),
        cmocka_unit_test(test_strmap_del_value_removes_every_key_of_one_value),
        cmocka_unit_test(test_utf8_accepts_ascii_and_valid_multibyte),
        cmocka_unit_test(test_utf8_refuses_overlong_surrogate_truncated_and_out_of_range),
        cmocka_unit_test(test_fmt_double_prints_integers_specials_and_fractions),
        cmocka_unit_test(test_fmt_double_round_trips_random_doubles),
        cmocka_unit_test(test_fmt_label_float_matches_python_float_to_go_string),
        cmocka_unit_test(test_fmt_label_float_reads_back_for_random_positive_doubles),
        cmocka_unit_test(test_fmt_u64_prints_full_range),
        cmocka_unit_test(test_hash_depends_on_bytes_length_and_seed),
        cmocka_unit_test(test_clocks_are_plausible),
        cmocka_unit_test(test_set_allocator_routes_allocations_and_null_restores_libc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
