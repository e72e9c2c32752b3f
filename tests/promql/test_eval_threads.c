/* test_eval_threads.c — how many threads a query may use (vigil_promql_options.threads), and
 * answers that do not depend on how they were computed:
 *
 * - by default a query starts no thread (every allocation it makes is on the caller's thread);
 *   allowed more, a long range query is evaluated in parts on threads of their own;
 * - on 1, 2, 3 or 8 threads every series of every answer has the same labels and the same
 *   bits at the same steps;
 * - sum(rate(x[5m])) and the other folding aggregations fold the range function's output as
 *   it is computed, series by series, and give the bits of folding it as a value (`* 1` keeps
 *   every value and makes the function's output a value first), the same duplicate-labelset
 *   failure included;
 * - series scraped together (the same timestamps, with jitter) share their windows' layout,
 *   and a series that differs in one sample, in its count or in a staleness marker does not.
 *
 * The process installs an allocator that notes allocations made off the main thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vigil.h"
#include "vigil/promql.h"

/* ---- an allocator that counts allocations made off the main thread ------------------------- */

static pthread_t main_thread;
static atomic_size_t foreign_allocations;

static void note_thread(void)
{
    if (!pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&foreign_allocations, 1);
}

static void *counting_malloc(size_t size, void *user)
{
    (void)user;
    note_thread();
    return malloc(size);
}

static void *counting_realloc(void *ptr, size_t size, void *user)
{
    (void)user;
    note_thread();
    return realloc(ptr, size);
}

static void counting_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

/* ---- the store: targets scraped every 15 s with a few ms of jitter ------------------------- */

#define SCRAPE_MS 15000
#define SAMPLES 2400 /* ten hours */
#define END_MS ((int64_t)SAMPLES * SCRAPE_MS)

static void append(vigil_tsdb *db, const vigil_label *l, size_t n, int64_t t, double v)
{
    if (vigil_tsdb_append(db, l, n, t, v) != VIGIL_OK)
        fail_msg("append: %s", vigil_errmsg());
}

/* Deterministic noise in [0, 1). */
static double noise(uint64_t x)
{
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return (double)(x >> 11) / 9007199254740992.0;
}

/* Four instances; each scrapes its series at the same (jittered) times. Counters req{...}
 * with resets, gauges temp{...} with NaN and an infinity, one counter with a gap, one whose
 * count of samples differs in one place (a sample the others lack), one with a staleness
 * marker, one that starts late, one whose timestamps differ from its instance's by 1 ms and
 * one with one sample scraped late. */
static vigil_tsdb *scraped_store(void)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    static const char *const insts[] = {"a", "b", "c", "d"};
    static const char *const codes[] = {"200", "500"};
    static const char *const methods[] = {"get", "put"};
    for (int in = 0; in < 4; in++) {
        for (int series = 0; series < 4; series++) {
            vigil_label l[4] = {{"__name__", "req"},
                                {"code", codes[series / 2]},
                                {"inst", insts[in]},
                                {"method", methods[series % 2]}};
            double c = 100.0 * in + series;
            for (int i = 0; i < SAMPLES; i++) {
                int64_t jitter = (int64_t)(noise((uint64_t)(in * 100000 + i)) * 7) - 3;
                int64_t t = (int64_t)i * SCRAPE_MS + 1000 * in + jitter;
                if (in == 1 && series == 3)
                    t += 1; /* a target whose clock is a millisecond off */
                if (in == 3 && series == 0 && i == 1000)
                    t += 2000; /* one late scrape: as many samples, one time differs */
                c += floor(noise((uint64_t)(i * 16 + in * 4 + series)) * 20);
                if (i % 331 == 17 * (in + 1))
                    c = noise((uint64_t)i) * 5; /* a reset */
                if (in == 2 && series == 1 && i >= 900 && i < 960)
                    continue; /* a gap */
                if (in == 3 && series == 2 && i < 700)
                    continue; /* starts late */
                if (in == 0 && series == 1 && i == 1500) {
                    append(db, l, 4, t, vigil_tsdb_stale_nan());
                    continue;
                }
                append(db, l, 4, t, c);
                if (in == 2 && series == 2 && i == 1200)
                    append(db, l, 4, t + 5000, c); /* one sample the others lack */
            }
        }
        for (int sensor = 0; sensor < 3; sensor++) {
            char s[16];
            snprintf(s, sizeof s, "s%d", sensor);
            vigil_label l[3] = {{"__name__", "temp"}, {"inst", insts[in]}, {"sensor", s}};
            for (int i = 0; i < SAMPLES; i++) {
                int64_t jitter = (int64_t)(noise((uint64_t)(in * 100000 + i)) * 7) - 3;
                int64_t t = (int64_t)i * SCRAPE_MS + 1000 * in + jitter;
                double v = 20 + 5 * sin((double)i / 50 + sensor) +
                           floor(noise((uint64_t)(i + 7 * sensor)) * 100) / 100;
                if (in == 1 && sensor == 2 && i % 500 == 123)
                    v = NAN;
                if (in == 2 && sensor == 0 && i == 1777)
                    v = INFINITY;
                append(db, l, 3, t, v);
            }
        }
    }
    return db;
}

/* ---- comparing answers bit for bit -------------------------------------------------------- */

static void assert_same_answer(const vigil_promql_result *a, const vigil_promql_result *b,
                               const char *what)
{
    if (vigil_promql_result_type(a) != vigil_promql_result_type(b))
        fail_msg("%s: result types differ", what);
    size_t n = vigil_promql_result_series(a);
    if (n != vigil_promql_result_series(b))
        fail_msg("%s: %zu series against %zu", what, n, vigil_promql_result_series(b));
    for (size_t i = 0; i < n; i++) {
        const vigil_label *la, *lb;
        size_t nla = vigil_promql_result_labels(a, i, &la);
        size_t nlb = vigil_promql_result_labels(b, i, &lb);
        if (nla != nlb)
            fail_msg("%s: series %zu: %zu labels against %zu", what, i, nla, nlb);
        for (size_t j = 0; j < nla; j++)
            if (strcmp(la[j].name, lb[j].name) != 0 || strcmp(la[j].value, lb[j].value) != 0)
                fail_msg("%s: series %zu: label %s=%s against %s=%s", what, i, la[j].name,
                         la[j].value, lb[j].name, lb[j].value);
        const int64_t *ta, *tb;
        const double *va, *vb;
        size_t np = vigil_promql_result_points(a, i, &ta, &va);
        if (np != vigil_promql_result_points(b, i, &tb, &vb))
            fail_msg("%s: series %zu: point counts differ", what, i);
        for (size_t k = 0; k < np; k++)
            if (ta[k] != tb[k] || memcmp(&va[k], &vb[k], sizeof va[k]) != 0)
                fail_msg("%s: series %zu point %zu: %lld %.17g against %lld %.17g", what, i, k,
                         (long long)ta[k], va[k], (long long)tb[k], vb[k]);
    }
}

static vigil_promql_result *range_on(vigil_tsdb *db, unsigned threads, const char *q,
                                     int64_t start, int64_t end, int64_t step)
{
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    o.threads = threads;
    vigil_promql_result *r = NULL;
    if (vigil_promql_range(db, &o, q, start, end, step, &r) != VIGIL_OK)
        fail_msg("%s on %u threads: %s", q, threads, vigil_errmsg());
    return r;
}

static vigil_promql_result *instant(vigil_tsdb *db, const char *q, int64_t t)
{
    vigil_promql_result *r = NULL;
    if (vigil_promql_instant(db, NULL, q, t, &r) != VIGIL_OK)
        fail_msg("%s: %s", q, vigil_errmsg());
    return r;
}

/* ---- tests ---------------------------------------------------------------------------------- */

static void test_a_query_starts_no_thread_unless_allowed(void **state)
{
    (void)state;
    vigil_tsdb *db = scraped_store();
    const char *q = "sum by (code) (rate(req[5m]))"; /* 600 steps: long enough to split */
    atomic_store(&foreign_allocations, 0);
    vigil_promql_result *r = NULL;
    assert_int_equal(vigil_promql_range(db, NULL, q, 0, END_MS, 60000, &r), VIGIL_OK);
    vigil_promql_result_free(r);
    vigil_promql_result_free(range_on(db, 0, q, 0, END_MS, 60000));
    vigil_promql_result_free(range_on(db, 1, q, 0, END_MS, 60000));
    assert_int_equal(atomic_load(&foreign_allocations), 0);
    vigil_promql_options o;
    vigil_promql_options_init(&o);
    assert_int_equal(o.threads, 1);
    if (sysconf(_SC_NPROCESSORS_ONLN) > 1) {
        vigil_promql_result_free(range_on(db, 2, q, 0, END_MS, 60000));
        assert_true(atomic_load(&foreign_allocations) > 0);
    }
    vigil_tsdb_close(db);
}

static const char *const queries[] = {
    "sum(rate(req[5m]))",
    "sum by (code) (rate(req[5m]))",
    "sum by (inst) (increase(req[10m]))",
    "avg without (method) (rate(req[2m]))",
    "max by (code) (delta(temp[15m]))",
    "min(avg_over_time(temp[1h]))",
    "count by (inst) (count_over_time(req[7m]))",
    "stddev by (inst) (sum_over_time(temp[30m]))",
    "group by (method) (rate(req[5m]))",
    "rate(req[5m])",
    "avg_over_time(temp[1h])",
    "irate(req[1m])",
    "quantile_over_time(0.9, temp[20m])",
    "histogram_quantile(0.5, sum by (le) (label_replace(rate(req[5m]), \"le\", \"$1\", "
    "\"code\", \"(.*)\")))",
    "topk(2, rate(req[5m]))",
    "req / on (code, inst, method) group_left req offset 1h",
    "sum(rate(req[5m])) / sum(rate(req[5m] offset 10m))",
    "last_over_time(temp[5m])",
    "absent_over_time(req{inst=\"d\", method=\"put\", code=\"500\"}[1m])",
    "temp",
    "time()",
};

static void test_answers_are_the_same_bits_on_any_number_of_threads(void **state)
{
    (void)state;
    vigil_tsdb *db = scraped_store();
    static const int64_t steps[] = {60000, 37000, 300000};
    for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
        for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
            vigil_promql_result *one = range_on(db, 1, queries[q], 7000, END_MS, steps[s]);
            static const unsigned counts[] = {2, 3, 8};
            for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
                vigil_promql_result *many =
                    range_on(db, counts[c], queries[q], 7000, END_MS, steps[s]);
                char what[512];
                snprintf(what, sizeof what, "%s step %lld on %u threads", queries[q],
                         (long long)steps[s], counts[c]);
                assert_same_answer(one, many, what);
                vigil_promql_result_free(many);
            }
            vigil_promql_result_free(one);
        }
    }
    vigil_tsdb_close(db);
}

static void test_folding_aggregations_match_folding_a_value(void **state)
{
    (void)state;
    vigil_tsdb *db = scraped_store();
    static const char *const ops[] = {"sum", "avg", "min", "max", "count", "group", "stddev",
                                      "stdvar"};
    static const char *const groupings[] = {"", " by (code)", " without (method)",
                                            " by (inst, method)", " by (nothing)"};
    static const char *const inner[] = {
        "rate(req[5m])", "increase(req[1m])", "delta(temp[10m])", "avg_over_time(temp[1h])",
        "sum_over_time(req[3m])", "max_over_time(temp[17m])", "last_over_time(req[5m])",
        "resets(req[30m])", "holt_winters(temp[10m], 0.5, 0.5)",
        "rate(req[5m:1m])", "changes(temp[20m] offset 3m)", "rate(req[5m] @ 3600)",
        "increase(req[15m] @ end())", "quantile_over_time(0.25, temp[30m])",
        "predict_linear(temp[10m], 600)", "deriv(req[7m])",
    };
    for (size_t o = 0; o < sizeof ops / sizeof *ops; o++) {
        for (size_t g = 0; g < sizeof groupings / sizeof *groupings; g++) {
            for (size_t i = 0; i < sizeof inner / sizeof *inner; i++) {
                char streamed[256], valued[256];
                snprintf(streamed, sizeof streamed, "%s%s ((%s))", ops[o], groupings[g],
                         inner[i]);
                snprintf(valued, sizeof valued, "%s%s (%s * 1)", ops[o], groupings[g],
                         inner[i]);
                vigil_promql_result *a = range_on(db, 1, streamed, 0, END_MS, 60000);
                vigil_promql_result *b = range_on(db, 1, valued, 0, END_MS, 60000);
                assert_same_answer(a, b, streamed);
                vigil_promql_result_free(a);
                vigil_promql_result_free(b);
                for (int64_t t = 3600000; t <= END_MS; t += 7 * 3600000) {
                    a = instant(db, streamed, t);
                    b = instant(db, valued, t);
                    assert_same_answer(a, b, streamed);
                    vigil_promql_result_free(a);
                    vigil_promql_result_free(b);
                }
            }
        }
    }
    vigil_tsdb_close(db);
}

static void assert_duplicate_labelset(vigil_tsdb *db, const char *q)
{
    vigil_promql_result *r = NULL;
    vigil_status st = vigil_promql_range(db, NULL, q, 0, END_MS, 60000, &r);
    assert_null(r);
    if (st != VIGIL_ESTATE ||
        strstr(vigil_errmsg(), "vector cannot contain metrics with the same labelset") == NULL)
        fail_msg("%s: %s (%s)", q, vigil_strerror(st), vigil_errmsg());
}

static void test_duplicate_labelsets_fail_streamed_or_not(void **state)
{
    (void)state;
    vigil_tsdb *db = scraped_store();
    /* rate drops __name__: req and its copy req2 then collide, at different steps too. */
    vigil_label l[4] = {{"__name__", "req2"}, {"code", "200"}, {"inst", "a"}, {"method", "get"}};
    append(db, l, 4, END_MS - 600000, 1);
    append(db, l, 4, END_MS - 540000, 2);
    assert_duplicate_labelset(db, "sum(rate({__name__=~\"req2?\"}[5m]))");
    assert_duplicate_labelset(db, "sum(rate({__name__=~\"req2?\"}[5m]) * 1)");
    assert_duplicate_labelset(db, "avg by (code) (rate({__name__=~\"req2?\"}[5m]))");
    vigil_tsdb_close(db);
}

/* Windows laid out once for series with the same timestamps must not be reused for a series
 * whose timestamps differ anywhere: each series' rate equals its own instant rates. */
static void test_shared_window_layouts_only_for_equal_timestamps(void **state)
{
    (void)state;
    vigil_tsdb *db = scraped_store();
    vigil_promql_result *r = range_on(db, 1, "rate(req[5m])", 0, END_MS, 60000);
    for (size_t i = 0; i < vigil_promql_result_series(r); i++) {
        const vigil_label *l;
        size_t nl = vigil_promql_result_labels(r, i, &l);
        char sel[256] = "rate(req{";
        for (size_t j = 0; j < nl; j++)
            snprintf(sel + strlen(sel), sizeof sel - strlen(sel), "%s%s=\"%s\"", j ? "," : "",
                     l[j].name, l[j].value);
        snprintf(sel + strlen(sel), sizeof sel - strlen(sel), "}[5m])");
        const int64_t *t;
        const double *v;
        size_t n = vigil_promql_result_points(r, i, &t, &v);
        for (size_t k = 0; k < n; k++) {
            vigil_promql_result *one = instant(db, sel, t[k]);
            const int64_t *t1;
            const double *v1;
            assert_int_equal(vigil_promql_result_series(one), 1);
            assert_int_equal(vigil_promql_result_points(one, 0, &t1, &v1), 1);
            if (memcmp(&v1[0], &v[k], sizeof v[k]) != 0)
                fail_msg("%s at %lld: range %.17g, instant %.17g", sel, (long long)t[k], v[k],
                         v1[0]);
            vigil_promql_result_free(one);
        }
    }
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

/* More scrape targets than a call keeps plans for, each target's series apart from each other
 * in label order, and a few targets scraped every second among them (their plans take more
 * room, so fewer are kept): plans are evicted and rebuilt, and every rate is still its own. */
static void test_many_targets_evict_plans_without_mixing_them_up(void **state)
{
    (void)state;
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    const int64_t end = 3 * 3600000;
    for (int in = 0; in < 90; in++) {
        char inst[16];
        snprintf(inst, sizeof inst, "i%02d", in);
        bool dense = in % 30 == 7;
        int64_t every = dense ? 1000 : SCRAPE_MS;
        for (int code = 0; code < 2; code++) {
            vigil_label l[3] = {{"__name__", "hits"}, {"code", code ? "500" : "200"},
                                {"inst", inst}};
            double c = in;
            for (int64_t i = 0; i * every <= end; i++) {
                int64_t t = i * every + 37 * in + (int64_t)(noise((uint64_t)(in * 7919 + i)) * 5);
                c += floor(noise((uint64_t)(i * 3 + code + 11 * in)) * 9);
                append(db, l, 3, t, c);
            }
        }
    }
    vigil_promql_result *r = range_on(db, 1, "rate(hits[3m])", 600000, end, 60000);
    assert_int_equal(vigil_promql_result_series(r), 180);
    for (size_t i = 0; i < vigil_promql_result_series(r); i++) {
        const vigil_label *l;
        vigil_promql_result_labels(r, i, &l);
        char sel[128];
        snprintf(sel, sizeof sel, "rate(hits{code=\"%s\",inst=\"%s\"}[3m])", l[0].value,
                 l[1].value);
        const int64_t *t;
        const double *v;
        size_t n = vigil_promql_result_points(r, i, &t, &v);
        for (size_t k = i % 5; k < n; k += 5) {
            vigil_promql_result *one = instant(db, sel, t[k]);
            const int64_t *t1;
            const double *v1;
            assert_int_equal(vigil_promql_result_points(one, 0, &t1, &v1), 1);
            if (memcmp(&v1[0], &v[k], sizeof v[k]) != 0)
                fail_msg("%s at %lld: range %.17g, instant %.17g", sel, (long long)t[k], v[k],
                         v1[0]);
            vigil_promql_result_free(one);
        }
    }
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

int main(void)
{
    main_thread = pthread_self();
    vigil_allocator a = {counting_malloc, counting_realloc, counting_free, NULL};
    vigil_set_allocator(&a);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_query_starts_no_thread_unless_allowed),
        cmocka_unit_test(test_answers_are_the_same_bits_on_any_number_of_threads),
        cmocka_unit_test(test_folding_aggregations_match_folding_a_value),
        cmocka_unit_test(test_duplicate_labelsets_fail_streamed_or_not),
        cmocka_unit_test(test_shared_window_layouts_only_for_equal_timestamps),
        cmocka_unit_test(test_many_targets_evict_plans_without_mixing_them_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
