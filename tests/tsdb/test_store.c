/* test_store.c — the store end to end through its public API: appends and queries (head and
 * sealed blocks, bit-exact), out-of-order refusal, staleness markers, persistence across a
 * close and reopen (WAL, blocks, checkpoints), retention, the self-scrape of a registry with
 * stale markers for removed series, label listings, and queries running while samples arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/vigil_test.h"
#include "vigil/tsdb.h"

#define MIN_MS 60000

static uint64_t bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static vigil_tsdb *open_mem(void)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    return db;
}

/* Each test's directory starts empty, whatever an earlier run of the suite left there. */
static void fresh_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static vigil_tsdb *open_dir(const char *dir)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.data_dir = dir;
    vigil_tsdb *db;
    vigil_status st = vigil_tsdb_open(&o, &db);
    if (st)
        fail_msg("open %s: %s", dir, vigil_errmsg());
    return db;
}

/* Reads the one series matching name=value over [mint, maxt] into t/v; returns the count. */
static size_t read_series(vigil_tsdb *db, const char *metric, int64_t mint, int64_t maxt,
                          int64_t *t, double *v, size_t cap)
{
    vigil_tsdb_querier *q;
    assert_int_equal(vigil_tsdb_querier_new(db, mint, maxt, &q), VIGIL_OK);
    vigil_matcher m = {VIGIL_MATCH_EQUAL, "__name__", metric};
    vigil_tsdb_series_set *set;
    assert_int_equal(vigil_tsdb_select(q, &m, 1, &set), VIGIL_OK);
    size_t n = 0;
    if (vigil_tsdb_series_next(set)) {
        const int64_t *ts;
        const double *vs;
        n = vigil_tsdb_series_samples(set, &ts, &vs);
        assert_true(n <= cap);
        memcpy(t, ts, n * sizeof *t);
        memcpy(v, vs, n * sizeof *v);
        assert_false(vigil_tsdb_series_next(set));
    }
    assert_int_equal(vigil_tsdb_series_set_status(set), VIGIL_OK);
    vigil_tsdb_series_set_free(set);
    vigil_tsdb_querier_free(q);
    return n;
}

/* A value sequence with every awkward bit pattern a store must keep. */
static double awkward(int i)
{
    switch (i % 9) {
    case 0: return i * 0.1;
    case 1: return -0.0;
    case 2: return from_bits(UINT64_C(0x7ff8000000000001)); /* Prometheus's NaN */
    case 3: return INFINITY;
    case 4: return 1e308;
    case 5: return 5e-324;
    case 6: return (double)(UINT64_C(1) << 53) + 2;
    case 7: return 0.1 + 0.2;
    default: return 42.0 + i;
    }
}

static void append_awkward(vigil_tsdb *db, const char *metric, int64_t t0, int n)
{
    vigil_label l[] = {{"__name__", metric}, {"job", "test"}};
    for (int i = 0; i < n; i++)
        assert_int_equal(vigil_tsdb_append(db, l, 2, t0 + (int64_t)i * 15000, awkward(i)),
                         VIGIL_OK);
}

static void check_awkward(vigil_tsdb *db, const char *metric, int64_t t0, int n)
{
    int64_t *t = calloc((size_t)n + 1, sizeof *t);
    double *v = calloc((size_t)n + 1, sizeof *v);
    size_t got = read_series(db, metric, t0, t0 + (int64_t)n * 15000, t, v, (size_t)n);
    assert_int_equal(got, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(t[i], t0 + (int64_t)i * 15000);
        assert_int_equal(bits(v[i]), bits(awkward(i)));
    }
    free(t);
    free(v);
}

static void test_samples_round_trip_bit_exactly_from_the_head(void **state)
{
    (void)state;
    vigil_tsdb *db = open_mem();
    append_awkward(db, "x", 1700000000000, 500);
    check_awkward(db, "x", 1700000000000, 500);
    vigil_tsdb_close(db);
}

static void test_samples_round_trip_bit_exactly_from_sealed_blocks(void **state)
{
    (void)state;
    vigil_tsdb *db = open_mem();
    append_awkward(db, "x", 1700000000000, 2000); /* > 8 h: several blocks */
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    vigil_tsdb_stats s;
    assert_int_equal(vigil_tsdb_get_stats(db, &s), VIGIL_OK);
    assert_true(s.blocks >= 4);
    assert_int_equal(s.head_samples, 0);
    assert_int_equal(s.block_samples, 2000);
    check_awkward(db, "x", 1700000000000, 2000);
    vigil_tsdb_close(db);
}

static void test_older_samples_are_refused_and_counted(void **state)
{
    (void)state;
    vigil_tsdb *db = open_mem();
    vigil_label l[] = {{"__name__", "x"}};
    assert_int_equal(vigil_tsdb_append(db, l, 1, 1000, 1), VIGIL_OK);
    assert_int_equal(vigil_tsdb_append(db, l, 1, 1000, 2), VIGIL_EORDER);
    assert_int_equal(vigil_tsdb_append(db, l, 1, 999, 2), VIGIL_EORDER);
    assert_int_equal(vigil_tsdb_append(db, l, 1, 1001, 3), VIGIL_OK);
    vigil_tsdb_stats s;
    vigil_tsdb_get_stats(db, &s);
    assert_int_equal(s.out_of_order, 2);
    assert_int_equal(s.samples, 2);
    vigil_tsdb_close(db);
}

static void test_bad_labels_are_refused_with_a_message(void **state)
{
    (void)state;
    vigil_tsdb *db = open_mem();
    vigil_label no_name[] = {{"job", "x"}};
    assert_int_not_equal(vigil_tsdb_append(db, no_name, 1, 1, 1), VIGIL_OK);
    assert_non_null(strstr(vigil_errmsg(), "__name__"));
    vigil_label bad[] = {{"__name__", "x"}, {"1a", "v"}};
    assert_int_equal(vigil_tsdb_append(db, bad, 2, 1, 1), VIGIL_ENAME);
    vigil_tsdb_close(db);
}

/* Labels sort byte-wise, as in Prometheus: an upper-case name comes before __name__, and the
 * series is still a named series. */
static void test_label_names_sorting_before_the_metric_name_are_accepted(void **state)
{
    (void)state;
    vigil_tsdb *db = open_mem();
    vigil_label l[] = {{"__name__", "x"}, {"Zone", "eu"}};
    assert_int_equal(vigil_tsdb_append(db, l, 2, 1000, 7), VIGIL_OK);
    int64_t t[2];
    double v[2];
    assert_int_equal(read_series(db, "x", 0, 5000, t, v, 2), 1);
    assert_true(v[0] == 7);
    vigil_label unnamed[] = {{"Zone", "eu"}};
    assert_int_not_equal(vigil_tsdb_append(db, unnamed, 1, 1000, 1), VIGIL_OK);
    vigil_tsdb_close(db);
}

static void test_stale_marker_is_stored_and_recognized(void **state)
{
    (void)state;
    vigil_tsdb *db = open_mem();
    vigil_label l[] = {{"__name__", "x"}};
    vigil_tsdb_append(db, l, 1, 1000, 1);
    vigil_tsdb_append(db, l, 1, 2000, vigil_tsdb_stale_nan());
    int64_t t[4];
    double v[4];
    assert_int_equal(read_series(db, "x", 0, 5000, t, v, 4), 2);
    assert_true(vigil_tsdb_is_stale(v[1]));
    assert_false(vigil_tsdb_is_stale(v[0]));
    assert_false(vigil_tsdb_is_stale(NAN));
    vigil_tsdb_close(db);
}

static void test_data_survives_close_and_reopen(void **state)
{
    (void)state;
    const char *dir = "store-reopen";
    fresh_dir(dir);
    vigil_tsdb *db = open_dir(dir);
    append_awkward(db, "in_blocks", 1700000000000, 1500);
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK); /* blocks + a checkpoint */
    append_awkward(db, "in_wal", 1700000000000 + 1500 * 15000, 300);
    vigil_tsdb_close(db);

    db = open_dir(dir);
    assert_string_equal(vigil_tsdb_recovery_report(db), "");
    check_awkward(db, "in_blocks", 1700000000000, 1500);
    check_awkward(db, "in_wal", 1700000000000 + 1500 * 15000, 300);
    /* appends continue after recovery, and survive one more reopen */
    vigil_label l[] = {{"__name__", "in_wal"}, {"job", "test"}};
    assert_int_equal(vigil_tsdb_append(db, l, 2, 1700000000000 + 1800 * 15000, 7), VIGIL_OK);
    assert_int_equal(vigil_tsdb_append(db, l, 2, 1, 7), VIGIL_EORDER);
    vigil_tsdb_close(db);
    db = open_dir(dir);
    vigil_tsdb_stats s;
    vigil_tsdb_get_stats(db, &s);
    assert_int_equal(s.samples, 1500 + 300 + 1);
    assert_true(s.disk_bytes > 0);
    vigil_tsdb_close(db);
}

static void test_a_second_writer_is_refused(void **state)
{
    (void)state;
    fresh_dir("store-locked");
    vigil_tsdb *db = open_dir("store-locked");
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.data_dir = "store-locked";
    vigil_tsdb *second;
    assert_int_equal(vigil_tsdb_open(&o, &second), VIGIL_ESTATE);
    vigil_tsdb_close(db);
}

static void test_retention_by_samples_drops_oldest_blocks(void **state)
{
    (void)state;
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_samples = 1000;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    append_awkward(db, "x", 1700000000000, 3000);
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    assert_int_equal(vigil_tsdb_tick(db, vigil_tsdb_now_ms()), VIGIL_OK);
    vigil_tsdb_stats s;
    vigil_tsdb_get_stats(db, &s);
    assert_true(s.samples <= 1000);
    assert_true(s.samples > 500); /* whole 2 h blocks (480 samples) go, not more */
    assert_int_equal(s.retention_dropped, 3000 - s.samples);
    int64_t t[1000];
    double v[1000];
    size_t n = read_series(db, "x", 0, INT64_MAX, t, v, 1000);
    assert_int_equal(n, s.samples);
    assert_int_equal(t[n - 1], 1700000000000 + 2999 * 15000); /* the newest are kept */
    vigil_tsdb_close(db);
}

static void test_retention_by_age_keeps_recent_data(void **state)
{
    (void)state;
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 6 * 3600 * 1000;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    append_awkward(db, "x", 1700000000000, 24 * 240); /* a day at 15 s */
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    assert_int_equal(vigil_tsdb_tick(db, vigil_tsdb_now_ms()), VIGIL_OK);
    vigil_tsdb_stats s;
    vigil_tsdb_get_stats(db, &s);
    int64_t newest = 1700000000000 + (24 * 240 - 1) * 15000;
    assert_true(s.min_time >= newest - 8 * 3600 * 1000);
    assert_true(s.min_time <= newest - 6 * 3600 * 1000);
    vigil_tsdb_close(db);
}

static void test_self_scrape_writes_registry_and_stale_markers(void **state)
{
    (void)state;
    vigil_registry *reg;
    vigil_registry_new(&reg);
    vigil_family *fam;
    const char *names[] = {"path"};
    vigil_metric_opts mo;
    vigil_metric_opts_init(&mo);
    mo.name = "req";
    mo.help = "Requests.";
    mo.label_names = names;
    mo.label_count = 1;
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &mo, &fam), VIGIL_OK);
    vigil_counter *a, *b;
    const char *va[] = {"/a"}, *vb[] = {"/b"};
    vigil_family_counter(fam, 1, va, &a);
    vigil_family_counter(fam, 1, vb, &b);
    vigil_counter_add(a, 5);
    vigil_tsdb *db = open_mem();
    assert_int_equal(vigil_tsdb_scrape(db, reg, 10000), VIGIL_OK);
    vigil_counter_add(a, 2);
    vigil_family_remove(fam, 1, vb);
    assert_int_equal(vigil_tsdb_scrape(db, reg, 25000), VIGIL_OK);

    vigil_tsdb_querier *q;
    vigil_tsdb_querier_new(db, 0, 30000, &q);
    vigil_matcher m = {VIGIL_MATCH_EQUAL, "__name__", "req_total"};
    vigil_tsdb_series_set *set;
    assert_int_equal(vigil_tsdb_select(q, &m, 1, &set), VIGIL_OK);
    const vigil_label *labels;
    const int64_t *t;
    const double *v;
    assert_true(vigil_tsdb_series_next(set));
    assert_int_equal(vigil_tsdb_series_labels(set, &labels), 2);
    assert_string_equal(labels[0].name, "__name__");
    assert_string_equal(labels[1].value, "/a");
    assert_int_equal(vigil_tsdb_series_samples(set, &t, &v), 2);
    assert_true(t[0] == 10000 && v[0] == 5 && t[1] == 25000 && v[1] == 7);
    assert_true(vigil_tsdb_series_next(set));
    assert_int_equal(vigil_tsdb_series_samples(set, &t, &v), 2);
    assert_true(v[0] == 0 && vigil_tsdb_is_stale(v[1]) && t[1] == 25000);
    assert_false(vigil_tsdb_series_next(set));
    vigil_tsdb_series_set_free(set);

    const vigil_tsdb_metadata *md;
    size_t nmd;
    assert_int_equal(vigil_tsdb_metadata_list(q, &md, &nmd), VIGIL_OK);
    bool found = false;
    for (size_t i = 0; i < nmd; i++)
        if (strcmp(md[i].metric, "req") == 0)
            found = strcmp(md[i].type, "counter") == 0 && strcmp(md[i].help, "Requests.") == 0;
    assert_true(found);
    vigil_tsdb_querier_free(q);
    vigil_tsdb_close(db);
    vigil_registry_free(reg);
}

static void test_label_names_and_values_follow_matchers(void **state)
{
    (void)state;
    vigil_tsdb *db = open_mem();
    vigil_label a[] = {{"__name__", "up"}, {"job", "api"}, {"zone", "eu"}};
    vigil_label b[] = {{"__name__", "up"}, {"job", "db"}};
    vigil_label c[] = {{"__name__", "other"}, {"job", "api"}};
    vigil_tsdb_append(db, a, 3, 1000, 1);
    vigil_tsdb_append(db, b, 2, 1000, 1);
    vigil_tsdb_append(db, c, 2, 1000, 1);
    vigil_tsdb_querier *q;
    vigil_tsdb_querier_new(db, 0, 2000, &q);
    const char **names;
    size_t n;
    assert_int_equal(vigil_tsdb_label_names(q, NULL, 0, &names, &n), VIGIL_OK);
    assert_int_equal(n, 3);
    assert_string_equal(names[0], "__name__");
    assert_string_equal(names[2], "zone");
    vigil_tsdb_strings_free(names);
    vigil_matcher m = {VIGIL_MATCH_REGEX, "job", "a.*"};
    assert_int_equal(vigil_tsdb_label_values(q, "__name__", &m, 1, &names, &n), VIGIL_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "other");
    assert_string_equal(names[1], "up");
    vigil_tsdb_strings_free(names);
    vigil_matcher bad = {VIGIL_MATCH_REGEX, "job", "a("};
    vigil_tsdb_series_set *set;
    assert_int_equal(vigil_tsdb_select(q, &bad, 1, &set), VIGIL_EINVAL);
    vigil_tsdb_querier_free(q);
    /* a range without data selects nothing */
    vigil_tsdb_querier_new(db, 5000, 6000, &q);
    assert_int_equal(vigil_tsdb_label_names(q, NULL, 0, &names, &n), VIGIL_OK);
    assert_int_equal(n, 0);
    vigil_tsdb_strings_free(names);
    vigil_tsdb_querier_free(q);
    vigil_tsdb_close(db);
}

typedef struct ingest {
    vigil_tsdb *db;
    int samples;
} ingest;

static void *ingest_thread(void *arg)
{
    ingest *in = arg;
    vigil_tsdb_ref refs[50];
    for (int s = 0; s < 50; s++) {
        char v[16];
        snprintf(v, sizeof v, "%d", s);
        vigil_label l[] = {{"__name__", "load"}, {"i", v}};
        vigil_tsdb_series(in->db, l, 2, &refs[s]);
    }
    for (int i = 0; i < in->samples; i++)
        for (int s = 0; s < 50; s++)
            vigil_tsdb_append_ref(in->db, refs[s], 1700000000000 + (int64_t)i * 1000, i);
    return NULL;
}

static void test_queries_while_ingesting_see_consistent_prefixes(void **state)
{
    (void)state;
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.block_range_ms = 60 * 1000; /* seal every minute of data: blocks move under the queries */
    o.background = true;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    ingest in = {db, 3000};
    pthread_t th;
    pthread_create(&th, NULL, ingest_thread, &in);
    int rounds = 0;
    for (; rounds < 400; rounds++) {
        vigil_tsdb_querier *q;
        assert_int_equal(vigil_tsdb_querier_new(db, 0, INT64_MAX, &q), VIGIL_OK);
        vigil_matcher m = {VIGIL_MATCH_EQUAL, "__name__", "load"};
        vigil_tsdb_series_set *set;
        assert_int_equal(vigil_tsdb_select(q, &m, 1, &set), VIGIL_OK);
        while (vigil_tsdb_series_next(set)) {
            const int64_t *t;
            const double *v;
            size_t n = vigil_tsdb_series_samples(set, &t, &v);
            for (size_t i = 0; i < n; i++) { /* every sample once, in order, none missing */
                assert_int_equal(t[i], 1700000000000 + (int64_t)i * 1000);
                assert_true(v[i] == (double)i);
            }
        }
        assert_int_equal(vigil_tsdb_series_set_status(set), VIGIL_OK);
        vigil_tsdb_series_set_free(set);
        vigil_tsdb_querier_free(q);
    }
    pthread_join(th, NULL);
    vigil_tsdb_stats s;
    vigil_tsdb_get_stats(db, &s);
    assert_int_equal(s.samples, 50 * 3000);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples_round_trip_bit_exactly_from_the_head),
        cmocka_unit_test(test_samples_round_trip_bit_exactly_from_sealed_blocks),
        cmocka_unit_test(test_older_samples_are_refused_and_counted),
        cmocka_unit_test(test_bad_labels_are_refused_with_a_message),
        cmocka_unit_test(test_label_names_sorting_before_the_metric_name_are_accepted),
        cmocka_unit_test(test_stale_marker_is_stored_and_recognized),
        cmocka_unit_test(test_data_survives_close_and_reopen),
        cmocka_unit_test(test_a_second_writer_is_refused),
        cmocka_unit_test(test_retention_by_samples_drops_oldest_blocks),
        cmocka_unit_test(test_retention_by_age_keeps_recent_data),
        cmocka_unit_test(test_self_scrape_writes_registry_and_stale_markers),
        cmocka_unit_test(test_label_names_and_values_follow_matchers),
        cmocka_unit_test(test_queries_while_ingesting_see_consistent_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
