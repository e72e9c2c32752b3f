/* test_checkpoint.c — what a checkpoint keeps and what the WAL must say after it. A checkpoint
 * holds only the series that still have samples in the head (after a flush: none, so it is a
 * bare segment header), and every series writes its record to the WAL again before its first
 * samples after a checkpoint or a restart: samples appended then, to series created long
 * before, survive a reopen — after a flush, after a tick's seal that left some series without
 * head samples, and after recovery, over several runs that flush or not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <dirent.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "../support/vigil_test.h"
#include "vigil/tsdb.h"

#define T0 INT64_C(1700000000000)
#define STEP 15000
#define NSERIES 40

static void fresh_dir(const char *dir)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static vigil_tsdb *open_dir(const char *dir, int64_t range_ms)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    o.data_dir = dir;
    if (range_ms)
        o.block_range_ms = range_ms;
    vigil_tsdb *db;
    vigil_status st = vigil_tsdb_open(&o, &db);
    if (st)
        fail_msg("open %s: %s", dir, vigil_errmsg());
    return db;
}

static void handles(vigil_tsdb *db, vigil_tsdb_ref *refs)
{
    for (int s = 0; s < NSERIES; s++) {
        char v[32];
        snprintf(v, sizeof v, "%d", s);
        vigil_label l[] = {{"__name__", "ckpt"}, {"s", v}};
        assert_int_equal(vigil_tsdb_series(db, l, 2, &refs[s]), VIGIL_OK);
    }
}

static double value_at(int s, int k)
{
    return k * 0.5 + s;
}

/* Appends scrapes [from, to) to series [first, last). */
static void append(vigil_tsdb *db, const vigil_tsdb_ref *refs, int first, int last, int from,
                   int to)
{
    for (int k = from; k < to; k++)
        for (int s = first; s < last; s++)
            assert_int_equal(
                vigil_tsdb_append_ref(db, refs[s], T0 + (int64_t)k * STEP, value_at(s, k)),
                VIGIL_OK);
}

/* Series s holds exactly scrapes [from, to), then nothing. */
static void expect(vigil_tsdb *db, int s, int from, int to)
{
    char v[32];
    snprintf(v, sizeof v, "%d", s);
    vigil_matcher m[] = {{VIGIL_MATCH_EQUAL, "__name__", "ckpt"}, {VIGIL_MATCH_EQUAL, "s", v}};
    vigil_tsdb_querier *q;
    assert_int_equal(vigil_tsdb_querier_new(db, INT64_MIN, INT64_MAX, &q), VIGIL_OK);
    vigil_tsdb_series_set *set;
    assert_int_equal(vigil_tsdb_select(q, m, 2, &set), VIGIL_OK);
    size_t n = 0;
    const int64_t *t = NULL;
    const double *val = NULL;
    if (vigil_tsdb_series_next(set))
        n = vigil_tsdb_series_samples(set, &t, &val);
    if (n != (size_t)(to - from))
        fail_msg("series %d: %zu samples, want %d (scrapes %d to %d)", s, n, to - from, from,
                 to - 1);
    for (size_t i = 0; i < n; i++) {
        int k = from + (int)i;
        assert_int_equal(t[i], T0 + (int64_t)k * STEP);
        assert_true(val[i] == value_at(s, k));
    }
    vigil_tsdb_series_set_free(set);
    vigil_tsdb_querier_free(q);
}

/* Bytes of the regular files in dir/checkpoint.N (the only checkpoint). */
static long checkpoint_bytes(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    long total = -1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "checkpoint.", 11) == 0) {
            char sub[512];
            snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name);
            DIR *c = opendir(sub);
            assert_non_null(c);
            total = 0;
            struct dirent *f;
            while ((f = readdir(c))) {
                char file[1024];
                struct stat sb;
                snprintf(file, sizeof file, "%s/%s", sub, f->d_name);
                if (f->d_name[0] != '.' && stat(file, &sb) == 0 && S_ISREG(sb.st_mode))
                    total += (long)sb.st_size;
            }
            closedir(c);
        }
    closedir(d);
    return total;
}

static void a_checkpoint_after_a_flush_holds_no_series(void **state)
{
    (void)state;
    const char *dir = "ckpt-flush";
    fresh_dir(dir);
    vigil_tsdb *db = open_dir(dir, 0);
    vigil_tsdb_ref refs[NSERIES];
    handles(db, refs);
    append(db, refs, 0, NSERIES, 0, 600);
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    /* a segment header (docs/formats.md), no records: every series' samples are in blocks */
    assert_int_equal(checkpoint_bytes(dir), 12);
    vigil_tsdb_close(db);
}

static void series_log_themselves_again_after_a_flush(void **state)
{
    (void)state;
    const char *dir = "ckpt-after-flush";
    fresh_dir(dir);
    vigil_tsdb *db = open_dir(dir, 0);
    vigil_tsdb_ref refs[NSERIES];
    handles(db, refs);
    append(db, refs, 0, NSERIES, 0, 100);
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    /* the WAL that named these series is gone, and the checkpoint names none of them */
    append(db, refs, 0, NSERIES / 2, 100, 130);
    vigil_tsdb_close(db);
    db = open_dir(dir, 0);
    for (int s = 0; s < NSERIES; s++)
        expect(db, s, 0, s < NSERIES / 2 ? 130 : 100);
    vigil_tsdb_close(db);
}

static void series_without_head_samples_log_themselves_after_a_tick(void **state)
{
    (void)state;
    const char *dir = "ckpt-tick";
    fresh_dir(dir);
    int64_t range = 60 * 60 * 1000;
    vigil_tsdb *db = open_dir(dir, range);
    vigil_tsdb_ref refs[NSERIES];
    handles(db, refs);
    /* the first half stops after 20 minutes; the rest runs on to 100 minutes, so the tick seals
     * the first hour and checkpoints a head in which the first half has nothing */
    append(db, refs, 0, NSERIES, 0, 80);
    append(db, refs, NSERIES / 2, NSERIES, 80, 400);
    assert_int_equal(vigil_tsdb_tick(db, vigil_tsdb_now_ms()), VIGIL_OK);
    vigil_tsdb_stats st;
    vigil_tsdb_get_stats(db, &st);
    assert_true(st.blocks >= 1);
    long ckpt = checkpoint_bytes(dir);
    assert_true(ckpt > 12); /* the second half's head samples are in it */
    append(db, refs, 0, NSERIES / 2, 400, 410);
    vigil_tsdb_close(db);
    db = open_dir(dir, range);
    for (int s = 0; s < NSERIES; s++)
        if (s < NSERIES / 2) {
            /* scrapes 0..79, then 400..409: two runs of samples */
            char v[32];
            snprintf(v, sizeof v, "%d", s);
            vigil_matcher m[] = {{VIGIL_MATCH_EQUAL, "__name__", "ckpt"},
                                 {VIGIL_MATCH_EQUAL, "s", v}};
            vigil_tsdb_querier *q;
            assert_int_equal(vigil_tsdb_querier_new(db, T0 + 400 * STEP, INT64_MAX, &q), VIGIL_OK);
            vigil_tsdb_series_set *set;
            assert_int_equal(vigil_tsdb_select(q, m, 2, &set), VIGIL_OK);
            assert_true(vigil_tsdb_series_next(set));
            const int64_t *t;
            const double *val;
            assert_int_equal(vigil_tsdb_series_samples(set, &t, &val), 10);
            assert_int_equal(t[9], T0 + 409 * STEP);
            assert_true(val[9] == value_at(s, 409));
            vigil_tsdb_series_set_free(set);
            vigil_tsdb_querier_free(q);
        } else {
            expect(db, s, 0, 400);
        }
    vigil_tsdb_close(db);
}

static void series_log_themselves_again_in_every_run(void **state)
{
    (void)state;
    const char *dir = "ckpt-runs";
    fresh_dir(dir);
    int k = 0;
    for (int run = 0; run < 5; run++) {
        vigil_tsdb *db = open_dir(dir, 0);
        vigil_tsdb_ref refs[NSERIES];
        handles(db, refs);
        append(db, refs, 0, NSERIES, k, k + 25);
        k += 25;
        /* every other run flushes: the next run's WAL is all there is to name its series */
        if (run % 2 == 0)
            assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
        vigil_tsdb_close(db);
    }
    vigil_tsdb *db = open_dir(dir, 0);
    for (int s = 0; s < NSERIES; s++)
        expect(db, s, 0, k);
    vigil_tsdb_close(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_checkpoint_after_a_flush_holds_no_series),
        cmocka_unit_test(series_log_themselves_again_after_a_flush),
        cmocka_unit_test(series_without_head_samples_log_themselves_after_a_tick),
        cmocka_unit_test(series_log_themselves_again_in_every_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
