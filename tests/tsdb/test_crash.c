/* test_crash.c — kill -9 at random moments, then recover: a child process appends to a
 * persistent store (background maintenance on, a 1 s block range so blocks, checkpoints and
 * WAL truncation happen all the time) and reports through a pipe the last sample it knows was
 * synced. The parent kills it at a random moment, reopens the store, and checks that the open
 * succeeds, that every synced sample is there with its value, and that what survived is an
 * unbroken prefix of what was written. The next child continues where recovery left off, in the
 * same directory, so damage from one crash meets the next recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/vigil_test.h"
#include "vigil/tsdb.h"

#define DIR_NAME "crash-store"
#define ROUNDS 25
#define SERIES 20
#define T0 INT64_C(1700000000000)
#define STEP_MS 100 /* 10 samples per second of data: a block every 10 rounds of appends */

static vigil_tsdb *open_store(void)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.data_dir = DIR_NAME;
    o.block_range_ms = 1000;
    o.retention_ms = 0;
    o.wal_sync_interval_ms = 50;
    vigil_tsdb *db;
    vigil_status st = vigil_tsdb_open(&o, &db);
    if (st) {
        fprintf(stderr, "open: %s\n", vigil_errmsg());
        return NULL;
    }
    return db;
}

static double value_at(int64_t i, int s)
{
    return (double)i * 0.25 + s;
}

/* The index of the last sample present in every series, -1 when empty; fails the test when a
 * series has a hole or a wrong value. */
static int64_t check_prefix(vigil_tsdb *db)
{
    vigil_tsdb_querier *q;
    assert_int_equal(vigil_tsdb_querier_new(db, INT64_MIN, INT64_MAX, &q), VIGIL_OK);
    vigil_matcher m = {VIGIL_MATCH_EQUAL, "__name__", "crash_test"};
    vigil_tsdb_series_set *set;
    assert_int_equal(vigil_tsdb_select(q, &m, 1, &set), VIGIL_OK);
    int64_t common = INT64_MAX;
    int nseries = 0;
    while (vigil_tsdb_series_next(set)) {
        const vigil_label *l;
        size_t nl = vigil_tsdb_series_labels(set, &l);
        int s = atoi(l[nl - 1].value);
        const int64_t *t;
        const double *v;
        size_t n = vigil_tsdb_series_samples(set, &t, &v);
        for (size_t i = 0; i < n; i++) {
            if (t[i] != T0 + (int64_t)i * STEP_MS || v[i] != value_at((int64_t)i, s))
                fail_msg("series %d sample %zu: t=%lld v=%g (a hole or a wrong value)", s, i,
                         (long long)t[i], v[i]);
        }
        if ((int64_t)n - 1 < common)
            common = (int64_t)n - 1;
        nseries++;
    }
    assert_int_equal(vigil_tsdb_series_set_status(set), VIGIL_OK);
    vigil_tsdb_series_set_free(set);
    vigil_tsdb_querier_free(q);
    return nseries == SERIES ? common : -1;
}

/* The child: appends round after round from `from`, syncing after each and reporting the index
 * of the last synced round on the pipe, until killed. */
static void child(int fd, int64_t from)
{
    vigil_tsdb *db = open_store();
    if (!db)
        _exit(3);
    vigil_tsdb_ref refs[SERIES];
    for (int s = 0; s < SERIES; s++) {
        char v[16];
        snprintf(v, sizeof v, "%d", s);
        vigil_label l[] = {{"__name__", "crash_test"}, {"s", v}};
        if (vigil_tsdb_series(db, l, 2, &refs[s]))
            _exit(4);
    }
    for (int64_t i = from;; i++) {
        for (int s = 0; s < SERIES; s++) {
            vigil_status st = vigil_tsdb_append_ref(db, refs[s], T0 + i * STEP_MS, value_at(i, s));
            if (st && st != VIGIL_EORDER) { /* EORDER: already recovered from the WAL */
                fprintf(stderr, "child: append: %s\n", vigil_errmsg());
                _exit(5);
            }
        }
        if (i % 7 == 0) {
            if (vigil_tsdb_sync(db)) {
                fprintf(stderr, "child: sync: %s\n", vigil_errmsg());
                _exit(6);
            }
            if (write(fd, &i, sizeof i) != sizeof i)
                _exit(7);
        }
    }
}

static void test_kill_9_loses_nothing_that_was_synced(void **state)
{
    (void)state;
    assert_int_equal(system("rm -rf " DIR_NAME), 0);
    srand(12345);
    int64_t resume = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child(p[1], resume);
        }
        close(p[1]);
        struct timespec nap = {0, (long)(50 + rand() % 250) * 1000000L};
        nanosleep(&nap, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        if (!WIFSIGNALED(status)) /* it stopped early on an error of its own */
            fail_msg("round %d: the child exited with %d", round, WEXITSTATUS(status));
        int64_t synced = -1, got;
        while (read(p[0], &got, sizeof got) == sizeof got)
            synced = got;
        close(p[0]);

        vigil_tsdb *db = open_store();
        assert_non_null(db); /* recovery never refuses to start */
        int64_t last = check_prefix(db);
        if (last < synced)
            fail_msg("round %d: synced up to %lld but only %lld recovered (%s)", round,
                     (long long)synced, (long long)last, vigil_tsdb_recovery_report(db));
        vigil_tsdb_close(db);
        resume = last + 1;
    }
    fprintf(stderr, "%lld rounds of %d samples survived %d crashes\n", (long long)resume,
            SERIES, ROUNDS);
    assert_true(resume > 100); /* the children did get work done */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_loses_nothing_that_was_synced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
