/* test_blocks.c — sealed blocks end to end through the public API, on data shaped like a real
 * scrape: several targets with their own jittered timestamps, counters, two-decimal gauges,
 * constant series, and histograms whose _count repeats the +Inf bucket and whose buckets sort
 * by label ("+Inf", "0.005", ..., "10", "2.5") in another order than they were created and
 * coded against each other. Every sample comes back bit for bit from blocks held in memory,
 * over the whole range and over ranges that cut blocks, through queries that visit the series
 * in label order and in other orders, and again after the store is reopened from its files;
 * a block file spends a few bytes a series besides its columns; a damaged block file stops the
 * open with VIGIL_ECORRUPT naming the file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/stat.h>
#include <zlib.h>

#include <cmocka.h>

#include "../support/vigil_test.h"
#include "vigil/tsdb.h"

#define T0 INT64_C(1700000000000)
#define STEP 15000
#define SCRAPES 330 /* 82.5 minutes: two full 30-minute blocks and a part */
#define RANGE (30 * 60 * 1000)
#define TARGETS 3
#define COUNTERS 90
#define GAUGES 70
#define CONSTANTS 5
#define BUCKETS 12
#define HISTOGRAMS 4
#define PER_TARGET (COUNTERS + GAUGES + CONSTANTS + HISTOGRAMS * (BUCKETS + 2))
#define SERIES (TARGETS * PER_TARGET) /* 663: more than one value frame */

static const char *const LE[BUCKETS] = {"0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                        "0.5",   "1",    "2.5",   "5",    "10",  "+Inf"};

static uint64_t bits(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* Scrape k of a target: its own few milliseconds of jitter, as real scrapes have. */
static int64_t time_of(int target, int k)
{
    return T0 + (int64_t)k * STEP + (int64_t)((k * 7 + target * 3) % 4);
}

/* A small deterministic hash, for values that look random but need no storing. */
static uint32_t h32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    return x ^ (x >> 16);
}

/* Series s (within its target) kind by kind: what it is called and its value at scrape k. */
typedef struct series_def {
    char name[64];
    char le[32];
    char idx[32];
} series_def;

static void define(int s, series_def *d)
{
    memset(d, 0, sizeof *d);
    if (s < COUNTERS) {
        snprintf(d->name, sizeof d->name, "requests_total");
        snprintf(d->idx, sizeof d->idx, "%d", s);
    } else if ((s -= COUNTERS) < GAUGES) {
        snprintf(d->name, sizeof d->name, "temperature_celsius");
        snprintf(d->idx, sizeof d->idx, "%d", s);
    } else if ((s -= GAUGES) < CONSTANTS) {
        snprintf(d->name, sizeof d->name, "build_info");
        snprintf(d->idx, sizeof d->idx, "%d", s);
    } else {
        s -= CONSTANTS;
        int h = s / (BUCKETS + 2), part = s % (BUCKETS + 2);
        snprintf(d->idx, sizeof d->idx, "%d", h);
        if (part < BUCKETS) {
            snprintf(d->name, sizeof d->name, "latency_seconds_bucket");
            snprintf(d->le, sizeof d->le, "%s", LE[part]);
        } else {
            snprintf(d->name, sizeof d->name,
                     part == BUCKETS ? "latency_seconds_count" : "latency_seconds_sum");
        }
    }
}

/* Observations of histogram h of a target up to scrape k in bucket b or below, computed once. */
static double bucket_at(int target, int h, int b, int k)
{
    static int64_t cum[TARGETS][HISTOGRAMS][BUCKETS][SCRAPES];
    static bool ready;
    if (!ready) {
        for (int t = 0; t < TARGETS; t++)
            for (int g = 0; g < HISTOGRAMS; g++)
                for (int j = 0; j < SCRAPES; j++) {
                    int64_t inc = h32((uint32_t)(t * 100000 + g * 1000 + j)) % 7;
                    for (int c = 0; c < BUCKETS; c++)
                        cum[t][g][c][j] = (j ? cum[t][g][c][j - 1] : 0) + inc * (c + 1) / BUCKETS;
                }
        ready = true;
    }
    return (double)cum[target][h][b][k];
}

static double value_of(int target, int s, int k)
{
    uint32_t seed = (uint32_t)(target * 10000 + s);
    if (s < COUNTERS) /* every ninth resets once */
        return (double)((k > 200 && s % 9 == 0 ? k - 200 : k) * (1 + s % 5) + h32(seed) % 1000);
    if ((s -= COUNTERS) < GAUGES)
        return (double)((int64_t)(h32(seed) % 3000) + (int64_t)(h32(seed + (uint32_t)k) % 200) -
                        100) /
               100.0;
    if ((s -= GAUGES) < CONSTANTS)
        return 1;
    s -= CONSTANTS;
    int h = s / (BUCKETS + 2), part = s % (BUCKETS + 2);
    if (part < BUCKETS)
        return bucket_at(target, h, part, k);
    if (part == BUCKETS)
        return bucket_at(target, h, BUCKETS - 1, k);    /* _count: the +Inf bucket, exactly */
    return bucket_at(target, h, BUCKETS - 1, k) * 0.25; /* _sum */
}

static vigil_tsdb *open_dir(const char *dir)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    o.block_range_ms = RANGE;
    o.data_dir = dir;
    vigil_tsdb *db;
    vigil_status st = vigil_tsdb_open(&o, &db);
    if (st)
        fail_msg("open %s: %s", dir, vigil_errmsg());
    return db;
}

/* Appends every series of every target, scrape by scrape, as the self-scrape would. */
static void fill(vigil_tsdb *db)
{
    static vigil_tsdb_ref refs[TARGETS][PER_TARGET];
    for (int t = 0; t < TARGETS; t++)
        for (int s = 0; s < PER_TARGET; s++) {
            series_def d;
            define(s, &d);
            char inst[32];
            snprintf(inst, sizeof inst, "node-%d", t);
            vigil_label l[] = {
                {"__name__", d.name}, {"instance", inst}, {"i", d.idx}, {"le", d.le}};
            assert_int_equal(vigil_tsdb_series(db, l, 4, &refs[t][s]), VIGIL_OK);
        }
    static int64_t ts[PER_TARGET];
    static double vs[PER_TARGET];
    for (int k = 0; k < SCRAPES; k++)
        for (int t = 0; t < TARGETS; t++) {
            for (int s = 0; s < PER_TARGET; s++) {
                ts[s] = time_of(t, k);
                vs[s] = value_of(t, s, k);
            }
            size_t done;
            assert_int_equal(vigil_tsdb_append_batch(db, refs[t], ts, vs, PER_TARGET, &done),
                             VIGIL_OK);
            assert_int_equal(done, PER_TARGET);
        }
}

/* Which series of which target a label set names. */
static void identify(const vigil_label *l, size_t n, int *target, int *s)
{
    const char *name = l[0].value, *inst = "", *idx = "", *le = "";
    for (size_t i = 1; i < n; i++) {
        if (strcmp(l[i].name, "instance") == 0)
            inst = l[i].value;
        else if (strcmp(l[i].name, "i") == 0)
            idx = l[i].value;
        else if (strcmp(l[i].name, "le") == 0)
            le = l[i].value;
    }
    *target = atoi(inst + 5);
    for (*s = 0; *s < PER_TARGET; (*s)++) {
        series_def d;
        define(*s, &d);
        if (strcmp(d.name, name) == 0 && strcmp(d.idx, idx) == 0 && strcmp(d.le, le) == 0)
            return;
    }
    fail_msg("no such series: %s{instance=%s, i=%s, le=%s}", name, inst, idx, le);
}

/* Checks every series matched over [mint, maxt] against the generator; returns the samples. */
static uint64_t check(vigil_tsdb *db, int64_t mint, int64_t maxt, const vigil_matcher *m, size_t nm)
{
    vigil_tsdb_querier *q;
    assert_int_equal(vigil_tsdb_querier_new(db, mint, maxt, &q), VIGIL_OK);
    vigil_tsdb_series_set *set;
    assert_int_equal(vigil_tsdb_select(q, m, nm, &set), VIGIL_OK);
    uint64_t total = 0;
    while (vigil_tsdb_series_next(set)) {
        const vigil_label *l;
        size_t nl = vigil_tsdb_series_labels(set, &l);
        int target, s;
        identify(l, nl, &target, &s);
        const int64_t *t;
        const double *v;
        size_t n = vigil_tsdb_series_samples(set, &t, &v);
        size_t at = 0;
        for (int k = 0; k < SCRAPES; k++) {
            int64_t tk = time_of(target, k);
            if (tk < mint || tk > maxt)
                continue;
            if (at >= n || t[at] != tk || bits(v[at]) != bits(value_of(target, s, k)))
                fail_msg("target %d series %d scrape %d: got %s t=%lld v=%.17g, want t=%lld "
                         "v=%.17g",
                         target, s, k, at < n ? "" : "nothing:", at < n ? (long long)t[at] : 0LL,
                         at < n ? v[at] : 0.0, (long long)tk, value_of(target, s, k));
            at++;
        }
        assert_int_equal(at, n);
        total += n;
    }
    assert_int_equal(vigil_tsdb_series_set_status(set), VIGIL_OK);
    vigil_tsdb_series_set_free(set);
    vigil_tsdb_querier_free(q);
    return total;
}

static void fresh_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void every_sample_comes_back_from_blocks_and_their_files(void **state)
{
    (void)state;
    const char *dir = "blocks-many";
    fresh_dir(dir);
    vigil_tsdb *db = open_dir(dir);
    fill(db);
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    vigil_tsdb_stats st;
    vigil_tsdb_get_stats(db, &st);
    assert_int_equal(st.head_samples, 0);
    assert_true(st.blocks >= 3);
    vigil_matcher all = {VIGIL_MATCH_REGEX, "__name__", ".+"};
    vigil_matcher buckets = {VIGIL_MATCH_EQUAL, "__name__", "latency_seconds_bucket"};
    vigil_matcher counts = {VIGIL_MATCH_REGEX, "__name__", "latency_seconds_(count|bucket)"};
    int64_t end = T0 + (int64_t)SCRAPES * STEP;
    for (int round = 0; round < 2; round++) { /* blocks as built, then as loaded */
        assert_int_equal(check(db, INT64_MIN, INT64_MAX, &all, 1), (uint64_t)SERIES * SCRAPES);
        /* ranges that start and end inside blocks */
        check(db, T0 + RANGE / 2 + 1, end - RANGE / 3, &all, 1);
        check(db, T0 + 7 * STEP, T0 + 7 * STEP + 2, &all, 1);
        /* subsets: the buckets alone (each read before the columns it is coded against), and
         * the _count series right after them (the same column as the +Inf bucket) */
        check(db, INT64_MIN, INT64_MAX, &buckets, 1);
        check(db, T0 + RANGE, INT64_MAX, &counts, 1);
        vigil_tsdb_close(db);
        db = open_dir(dir);
        assert_string_equal(vigil_tsdb_recovery_report(db), "");
    }
    vigil_tsdb_close(db);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *p = malloc(*len + 1);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

static void spill(const char *path, const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

/* The block files of dir/blocks, sorted; returns how many (at most 16). */
static int block_files(const char *dir, char names[16][512])
{
    char path[256];
    snprintf(path, sizeof path, "%s/blocks", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 16)
        if (strstr(e->d_name, ".vgb"))
            snprintf(names[n++], 512, "%s/%s", path, e->d_name);
    closedir(d);
    return n;
}

static void block_files_spend_a_few_bytes_a_series_besides_columns(void **state)
{
    (void)state;
    const char *dir = "blocks-overhead";
    fresh_dir(dir);
    vigil_tsdb *db = open_dir(dir);
    fill(db);
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    vigil_tsdb_close(db);
    char names[16][512];
    int n = block_files(dir, names);
    assert_true(n >= 3);
    for (int i = 0; i < n; i++) {
        size_t len;
        uint8_t *p = slurp(names[i], &len);
        /* docs/formats.md, "Block file": header, series table, timestamp frame, value frames,
         * directory, CRC */
        assert_memory_equal(p, "VIGILBLK", 8);
        uint32_t nseries = le32(p + 12), nframes = le32(p + 40), table = le32(p + 44);
        uint64_t frames = le32(p + 52);
        for (uint32_t f = 0; f < nframes; f++)
            frames += le32(p + len - 4 - 4 * (nframes - f));
        size_t overhead = len - frames;
        print_message("%s: %u series, %zu bytes besides frames (%u of them the series table)\n",
                      names[i], nseries, overhead, table);
        assert_int_equal(nseries, SERIES);
        assert_true(56 + table + 4 * nframes + 4 == overhead);
        assert_true(overhead < (size_t)SERIES * 6); /* labels included; was 36 + labels */
        free(p);
    }
}

static void a_damaged_block_file_stops_the_open_naming_it(void **state)
{
    (void)state;
    const char *dir = "blocks-damaged";
    fresh_dir(dir);
    vigil_tsdb *db = open_dir(dir);
    fill(db);
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    vigil_tsdb_close(db);
    char names[16][512];
    assert_true(block_files(dir, names) >= 1);
    size_t len;
    uint8_t *p = slurp(names[0], &len);
    /* damage the series table and fix the checksum, so that only its own checks can tell */
    uint32_t table = le32(p + 44);
    for (uint32_t i = 0; i < table; i += 5)
        p[56 + i] ^= 0x5a;
    uint32_t crc = (uint32_t)crc32(0, p, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        p[len - 4 + i] = (uint8_t)(crc >> (8 * i));
    spill(names[0], p, len);
    free(p);
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.data_dir = dir;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_ECORRUPT);
    assert_non_null(strstr(vigil_errmsg(), strrchr(names[0], '/') + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_sample_comes_back_from_blocks_and_their_files),
        cmocka_unit_test(block_files_spend_a_few_bytes_a_series_besides_columns),
        cmocka_unit_test(a_damaged_block_file_stops_the_open_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
