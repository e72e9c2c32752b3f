/* bench_tsdb.c — the store's figures (shared/BENCHMARKS.md names):
 *
 *   tsdb_bytes_per_sample      data directory bytes ÷ samples after importing the default
 *                              gen_series.py dataset (blocks, WAL, checkpoint: everything)
 *   tsdb_mem_bytes_per_sample  sealed block bytes in memory ÷ their samples, same dataset
 *   tsdb_import_default        seconds to import that file (parse, append, seal, write)
 *   tsdb_decode_1t             Msamples/s decoding every series over the whole day, one thread
 *   tsdb_append_1t             Msamples/s appending batches into 10,000 existing series
 *   tsdb_selfscrape_100k       ms for one self-scrape of a 100,000-series registry
 *   tsdb_recovery_wal          s to reopen a store whose WAL holds 20 M samples (and the WAL
 *                              size), i.e. recovery after a crash with a large WAL
 *
 * The dataset is generated once into $TMPDIR (or taken from VIGIL_BENCH_DATASET) with
 * /usr/bin/python3 ../shared/datasets/gen_series.py. Each figure is the median of 5 runs.
 *
 * The decode figure is wall-clock time, as BENCHMARKS.md defines it. On a shared machine that
 * mostly measures the other load, so the program also prints (not as a BENCH line) the same
 * rate per second of the thread's own CPU time, which moves much less with the load.
 */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"

#define REPS 5
#define PROG "bench_tsdb"

static void rm_rf(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "%s: could not remove %s\n", PROG, path);
}

static const char *tmpdir(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* The default dataset file, generated when missing. */
static const char *dataset(void)
{
    static char path[4096];
    const char *given = getenv("VIGIL_BENCH_DATASET");
    if (given && *given)
        return given;
    snprintf(path, sizeof path, "%s/vigil-bench-gen_series-default.om", tmpdir());
    struct stat sb;
    if (stat(path, &sb) == 0 && sb.st_size > 0)
        return path;
    const char *src = getenv("VIGIL_SOURCE_DIR");
    char cmd[16800];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 '%s/../shared/datasets/gen_series.py' > '%s.tmp'"
             " && mv '%s.tmp' '%s'",
             src ? src : VIGIL_SOURCE_DIR, path, path, path);
    fprintf(stderr, "%s: generating the dataset: %s\n", PROG, cmd);
    if (system(cmd) != 0) {
        fprintf(stderr, "%s: could not generate the dataset\n", PROG);
        exit(1);
    }
    return path;
}

static double thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static vigil_tsdb *open_store(const char *dir)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.data_dir = dir;
    o.background = false;
    o.retention_ms = 0;
    vigil_tsdb *db;
    if (vigil_tsdb_open(&o, &db) != VIGIL_OK)
        BENCH_DIE(PROG, "open");
    return db;
}

static void bench_import(void)
{
    const char *file = dataset();
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/vigil-bench-tsdb-import", tmpdir());
    double secs[REPS], disk[REPS], mem[REPS], decode[REPS], decode_cpu[REPS];
    for (int r = 0; r < REPS; r++) {
        rm_rf(dir);
        vigil_tsdb *db = open_store(dir);
        vigil_tsdb_import_stats is;
        double t0 = now_ns();
        if (vigil_tsdb_import_openmetrics(db, file, &is) != VIGIL_OK)
            BENCH_DIE(PROG, "import");
        secs[r] = (now_ns() - t0) / 1e9;
        vigil_tsdb_stats s;
        vigil_tsdb_get_stats(db, &s);
        disk[r] = (double)s.disk_bytes / (double)s.samples;
        mem[r] = (double)s.block_bytes / (double)s.block_samples;

        vigil_tsdb_querier *q;
        vigil_tsdb_querier_new(db, INT64_MIN, INT64_MAX, &q);
        vigil_matcher all = {VIGIL_MATCH_REGEX, "__name__", ".+"};
        vigil_tsdb_series_set *set;
        t0 = now_ns();
        double c0 = thread_cpu_ns();
        if (vigil_tsdb_select(q, &all, 1, &set) != VIGIL_OK)
            BENCH_DIE(PROG, "select");
        uint64_t n = 0;
        while (vigil_tsdb_series_next(set)) {
            const int64_t *t;
            const double *v;
            n += vigil_tsdb_series_samples(set, &t, &v);
        }
        decode[r] = (double)n / ((now_ns() - t0) / 1e3);
        decode_cpu[r] = (double)n / ((thread_cpu_ns() - c0) / 1e3);
        if (n != s.samples)
            fprintf(stderr, "%s: decoded %llu of %llu samples\n", PROG, (unsigned long long)n,
                    (unsigned long long)s.samples);
        vigil_tsdb_series_set_free(set);
        vigil_tsdb_querier_free(q);
        fprintf(stderr,
                "%s: import %d: %.2f s, %llu samples, %.3f B/sample on disk; decode %.1f "
                "Msamples/s (%.1f per CPU second)\n",
                PROG, r, secs[r], (unsigned long long)is.samples, disk[r], decode[r],
                decode_cpu[r]);
        vigil_tsdb_close(db);
    }
    rm_rf(dir);
    printf("BENCH tsdb_bytes_per_sample %.3f bytes\n", median(disk, REPS));
    printf("BENCH tsdb_mem_bytes_per_sample %.3f bytes\n", median(mem, REPS));
    printf("BENCH tsdb_import_default %.2f s\n", median(secs, REPS));
    printf("BENCH tsdb_decode_1t %.1f Msamples/s\n", median(decode, REPS));
    printf("tsdb_decode_1t per CPU second %.1f Msamples/s (median; not a BENCH figure)\n",
           median(decode_cpu, REPS));
}

#define APPEND_SERIES 10000
#define APPEND_ROUNDS 200

static void bench_append(void)
{
    double rate[REPS];
    static vigil_tsdb_ref refs[APPEND_SERIES];
    static int64_t ts[APPEND_SERIES];
    static double vals[APPEND_SERIES];
    for (int r = 0; r < REPS; r++) {
        vigil_tsdb_options o;
        vigil_tsdb_options_init(&o);
        o.background = false;
        vigil_tsdb *db;
        vigil_tsdb_open(&o, &db);
        for (int i = 0; i < APPEND_SERIES; i++) {
            char v[16];
            snprintf(v, sizeof v, "%d", i);
            vigil_label l[] = {{"__name__", "bench_series"}, {"i", v}};
            if (vigil_tsdb_series(db, l, 2, &refs[i]) != VIGIL_OK)
                BENCH_DIE(PROG, "series");
        }
        double t0 = now_ns();
        for (int round = 0; round < APPEND_ROUNDS; round++) {
            for (int i = 0; i < APPEND_SERIES; i++) {
                ts[i] = 1700000000000 + (int64_t)round * 15000;
                vals[i] = (double)(round * 7 + i % 13);
            }
            if (vigil_tsdb_append_batch(db, refs, ts, vals, APPEND_SERIES, NULL) != VIGIL_OK)
                BENCH_DIE(PROG, "append");
        }
        rate[r] = (double)APPEND_SERIES * APPEND_ROUNDS / ((now_ns() - t0) / 1e3);
        vigil_tsdb_close(db);
    }
    printf("BENCH tsdb_append_1t %.1f Msamples/s\n", median(rate, REPS));
}

static void bench_selfscrape(void)
{
    vigil_registry *reg;
    vigil_registry_new(&reg);
    vigil_registry_set_max_children(reg, 1000);
    char name[64];
    const char *label_names[] = {"k"};
    for (int f = 0; f < 100; f++) {
        snprintf(name, sizeof name, "bench_family_%d", f);
        vigil_metric_opts mo;
        vigil_metric_opts_init(&mo);
        mo.name = name;
        mo.label_names = label_names;
        mo.label_count = 1;
        vigil_family *fam;
        if (vigil_family_new(reg, VIGIL_COUNTER, &mo, &fam) != VIGIL_OK)
            BENCH_DIE(PROG, "family");
        for (int c = 0; c < 1000; c++) {
            char v[16];
            snprintf(v, sizeof v, "%d", c);
            const char *values[] = {v};
            vigil_counter *ctr;
            if (vigil_family_counter(fam, 1, values, &ctr) != VIGIL_OK)
                BENCH_DIE(PROG, "child");
            vigil_counter_add(ctr, c);
        }
    }
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    vigil_tsdb *db;
    vigil_tsdb_open(&o, &db);
    int64_t t = 1700000000000;
    if (vigil_tsdb_scrape(db, reg, t) != VIGIL_OK) /* creates the series */
        BENCH_DIE(PROG, "scrape");
    double ms[64];
    int reps = getenv("VIGIL_BENCH_SCRAPES") ? atoi(getenv("VIGIL_BENCH_SCRAPES")) : REPS;
    reps = reps < REPS ? REPS : reps > 64 ? 64 : reps;
    for (int r = 0; r < reps; r++) {
        t += 15000;
        double t0 = now_ns();
        if (vigil_tsdb_scrape(db, reg, t) != VIGIL_OK)
            BENCH_DIE(PROG, "scrape");
        ms[r] = (now_ns() - t0) / 1e6;
    }
    vigil_tsdb_stats s;
    vigil_tsdb_get_stats(db, &s);
    fprintf(stderr, "%s: self-scrape stored %llu series\n", PROG, (unsigned long long)s.series);
    printf("BENCH tsdb_selfscrape_100k %.1f ms\n", median(ms, reps));
    vigil_tsdb_close(db);
    vigil_registry_free(reg);
}

#define WAL_SERIES 20000
#define WAL_ROUNDS 1000

static void bench_recovery(void)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/vigil-bench-tsdb-wal", tmpdir());
    rm_rf(dir);
    vigil_tsdb *db = open_store(dir);
    static vigil_tsdb_ref refs[WAL_SERIES];
    static int64_t ts[WAL_SERIES];
    static double vals[WAL_SERIES];
    for (int i = 0; i < WAL_SERIES; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        vigil_label l[] = {{"__name__", "wal_series"}, {"i", v}};
        vigil_tsdb_series(db, l, 2, &refs[i]);
    }
    /* 1,000 scrapes at 1 s: within one block range, so everything stays in the head and WAL */
    for (int round = 0; round < WAL_ROUNDS; round++) {
        for (int i = 0; i < WAL_SERIES; i++) {
            ts[i] = 1700000000000 + (int64_t)round * 1000;
            vals[i] = (double)(round * 3 + i % 17) * 0.25;
        }
        vigil_tsdb_append_batch(db, refs, ts, vals, WAL_SERIES, NULL);
    }
    vigil_tsdb_close(db);
    double secs[REPS];
    vigil_tsdb_stats s;
    for (int r = 0; r < REPS; r++) {
        double t0 = now_ns();
        db = open_store(dir);
        secs[r] = (now_ns() - t0) / 1e9;
        vigil_tsdb_get_stats(db, &s);
        vigil_tsdb_close(db);
    }
    fprintf(stderr, "%s: recovered %llu samples from a %.1f MB WAL\n", PROG,
            (unsigned long long)s.samples, (double)s.wal_bytes / 1e6);
    rm_rf(dir);
    printf("BENCH tsdb_recovery_wal_20m %.2f s\n", median(secs, REPS));
}

/* No argument: every figure. Otherwise the named parts only (append, selfscrape, recovery,
 * import), for profiling one of them. */
int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } parts[] = {{"append", bench_append},
                 {"selfscrape", bench_selfscrape},
                 {"recovery", bench_recovery},
                 {"import", bench_import}};
    for (size_t i = 0; i < sizeof parts / sizeof *parts; i++) {
        bool wanted = argc < 2;
        for (int a = 1; a < argc; a++)
            wanted |= strcmp(argv[a], parts[i].name) == 0;
        if (wanted)
            parts[i].run();
    }
    return 0;
}
