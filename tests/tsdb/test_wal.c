/* test_wal.c — the WAL writer against its reader: records of every size come back in order
 * across many segments; segments roll over at their size and an oversized record gets one of
 * its own; reopening continues in a new segment; cut + remove_before drop what a checkpoint
 * covers; sync reports its duration and sync_due follows the interval; concurrent appenders
 * interleave whole records; a write failing part-way (file size limit) loses only the records
 * whose append failed; unusable directories fail with a message naming them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "tsdb/wal.h"

/* ---- helpers --------------------------------------------------------------------------------- */

typedef struct rec {
    uint32_t segment;
    uint8_t type;
    size_t len;
    uint8_t *data;
} rec;

typedef struct recs {
    rec *v;
    size_t n, cap;
} recs;

static vigil_status collect(void *user, uint32_t segment, uint8_t type, const uint8_t *p,
                            size_t len)
{
    recs *r = user;
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 256;
        r->v = realloc(r->v, r->cap * sizeof *r->v);
    }
    rec *x = &r->v[r->n++];
    x->segment = segment;
    x->type = type;
    x->len = len;
    x->data = malloc(len + 1);
    memcpy(x->data, p, len);
    return VIGIL_OK;
}

static void recs_free(recs *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].data);
    free(r->v);
    memset(r, 0, sizeof *r);
}

static void fresh_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Record i's payload: its length varies with i and every byte depends on i and the offset. */
static size_t payload_for(uint32_t i, uint8_t *out, size_t max)
{
    size_t len = (i * 37u) % (max + 1);
    for (size_t k = 0; k < len; k++)
        out[k] = (uint8_t)(i * 131u + k * 7u);
    return len;
}

static vigil__tsdb_wal *open_wal(const char *dir, uint64_t segment_size, size_t buffer)
{
    vigil__tsdb_wal_options o;
    vigil__tsdb_wal_options_init(&o);
    o.segment_size = segment_size;
    o.buffer_size = buffer;
    vigil__tsdb_wal *w = NULL;
    vigil_status st = vigil__tsdb_wal_open(dir, &o, &w);
    if (st != VIGIL_OK)
        fail_msg("open %s: %s", dir, vigil_errmsg());
    return w;
}

static void append_ok(vigil__tsdb_wal *w, uint8_t type, const void *p, size_t len)
{
    vigil_status st = vigil__tsdb_wal_append(w, type, p, len);
    if (st != VIGIL_OK)
        fail_msg("append: %s", vigil_errmsg());
}

static void replay_ok(const char *dir, uint32_t first, recs *r, vigil__tsdb_wal_replay_stats *s)
{
    vigil_status st = vigil__tsdb_wal_replay(dir, first, collect, r, s);
    if (st != VIGIL_OK)
        fail_msg("replay %s: %s", dir, vigil_errmsg());
}

static uint64_t file_size(const char *dir, uint32_t segment)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%08u", dir, segment);
    struct stat sb;
    if (stat(path, &sb) != 0)
        fail_msg("stat %s: %s", path, strerror(errno));
    return (uint64_t)sb.st_size;
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void records_round_trip_across_many_segments(void **state)
{
    (void)state;
    const char *dir = "wal_many";
    fresh_dir(dir);
    vigil__tsdb_wal *w = open_wal(dir, 4096, 1024);
    uint8_t buf[600];
    enum { N = 3000 };
    for (uint32_t i = 0; i < N; i++) {
        size_t len = payload_for(i, buf, sizeof buf);
        append_ok(w, (uint8_t)(1 + i % 255), buf, len);
    }
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);

    recs r = {0};
    vigil__tsdb_wal_replay_stats s;
    replay_ok(dir, 0, &r, &s);
    assert_false(s.damaged);
    assert_int_equal(r.n, N);
    assert_int_equal(s.records, N);
    for (uint32_t i = 0; i < N; i++) {
        size_t len = payload_for(i, buf, sizeof buf);
        assert_int_equal(r.v[i].type, 1 + i % 255);
        assert_int_equal(r.v[i].len, len);
        assert_memory_equal(r.v[i].data, buf, len);
        if (i > 0)
            assert_true(r.v[i].segment >= r.v[i - 1].segment);
    }
    uint32_t *nums;
    size_t n;
    assert_int_equal(vigil__tsdb_wal_list(dir, &nums, &n), VIGIL_OK);
    assert_true(n > 100); /* ~900 KB through 4 KiB segments */
    assert_int_equal(s.segments, n);
    assert_int_equal(s.first_segment, 1);
    assert_int_equal(s.last_segment, n);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(nums[i], i + 1);
        total += file_size(dir, nums[i]);
    }
    assert_int_equal(s.bytes, total);
    vigil__free(nums);
    recs_free(&r);
}

static void segments_roll_over_at_their_size(void **state)
{
    (void)state;
    const char *dir = "wal_roll";
    fresh_dir(dir);
    vigil__tsdb_wal *w = open_wal(dir, 1024, 4096);
    uint8_t buf[100] = {0};
    for (int i = 0; i < 100; i++)
        append_ok(w, 1, buf, sizeof buf); /* 109 bytes framed: 9 per segment after the header */
    vigil__tsdb_wal_stats st;
    vigil__tsdb_wal_get_stats(w, &st);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    assert_int_equal(st.records, 100);
    assert_int_equal(st.segment, 12); /* ceil(100 / 9) */
    for (uint32_t seg = 1; seg <= 12; seg++) {
        uint64_t size = file_size(dir, seg);
        assert_true(size <= 1024);
        assert_int_equal((size - VIGIL__TSDB_WAL_SEGMENT_HEADER) % 109, 0);
        if (seg < 12)
            assert_int_equal(size, VIGIL__TSDB_WAL_SEGMENT_HEADER + 9 * 109);
    }
    assert_int_equal(st.bytes, 12 * VIGIL__TSDB_WAL_SEGMENT_HEADER + 100 * 109);
}

static void oversized_record_gets_a_segment_of_its_own(void **state)
{
    (void)state;
    const char *dir = "wal_big";
    fresh_dir(dir);
    vigil__tsdb_wal *w = open_wal(dir, 4096, 1024); /* the big one bypasses the buffer too */
    uint8_t small[10] = {1, 2, 3};
    size_t big_len = 20000;
    uint8_t *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (uint8_t)(i * 13);
    append_ok(w, 1, small, sizeof small);
    append_ok(w, 2, big, big_len);
    append_ok(w, 3, small, sizeof small);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    recs r = {0};
    replay_ok(dir, 0, &r, NULL);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.v[0].segment, 1);
    assert_int_equal(r.v[1].segment, 2);
    assert_int_equal(r.v[2].segment, 3);
    assert_int_equal(r.v[1].len, big_len);
    assert_memory_equal(r.v[1].data, big, big_len);
    assert_int_equal(file_size(dir, 2), VIGIL__TSDB_WAL_SEGMENT_HEADER + 9 + big_len);
    recs_free(&r);
    free(big);
}

static void reopening_continues_in_a_new_segment(void **state)
{
    (void)state;
    const char *dir = "wal_reopen";
    fresh_dir(dir);
    for (uint32_t round = 0; round < 3; round++) {
        vigil__tsdb_wal *w = open_wal(dir, 1 << 20, 1 << 16);
        vigil__tsdb_wal_stats st;
        vigil__tsdb_wal_get_stats(w, &st);
        assert_int_equal(st.segment, round + 1);
        append_ok(w, 7, &round, sizeof round);
        assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    }
    recs r = {0};
    replay_ok(dir, 0, &r, NULL);
    assert_int_equal(r.n, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(r.v[i].segment, i + 1);
        assert_memory_equal(r.v[i].data, &i, sizeof i);
    }
    recs_free(&r);
}

static void cut_then_remove_before_drops_only_older_segments(void **state)
{
    (void)state;
    const char *dir = "wal_cut";
    fresh_dir(dir);
    vigil__tsdb_wal *w = open_wal(dir, 1 << 20, 1 << 16);
    uint32_t a = 1, b = 2, c = 3, seg = 0;
    append_ok(w, 1, &a, sizeof a);
    assert_int_equal(vigil__tsdb_wal_cut(w, &seg), VIGIL_OK);
    assert_int_equal(seg, 2);
    append_ok(w, 1, &b, sizeof b);
    assert_int_equal(vigil__tsdb_wal_cut(w, &seg), VIGIL_OK);
    assert_int_equal(seg, 3);
    append_ok(w, 1, &c, sizeof c);
    assert_int_equal(vigil__tsdb_wal_remove_before(w, 4), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "beyond"));
    assert_int_equal(vigil__tsdb_wal_remove_before(w, 2), VIGIL_OK);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);

    uint32_t *nums;
    size_t n;
    assert_int_equal(vigil__tsdb_wal_list(dir, &nums, &n), VIGIL_OK);
    assert_int_equal(n, 2);
    assert_int_equal(nums[0], 2);
    assert_int_equal(nums[1], 3);
    vigil__free(nums);

    recs r = {0};
    replay_ok(dir, 0, &r, NULL);
    assert_int_equal(r.n, 2);
    assert_memory_equal(r.v[0].data, &b, sizeof b);
    assert_memory_equal(r.v[1].data, &c, sizeof c);
    recs_free(&r);
    /* a replay from a checkpoint's segment skips the older ones still present */
    replay_ok(dir, 3, &r, NULL);
    assert_int_equal(r.n, 1);
    assert_memory_equal(r.v[0].data, &c, sizeof c);
    recs_free(&r);
}

static void sync_reports_its_duration_and_sync_due_follows_the_interval(void **state)
{
    (void)state;
    const char *dir = "wal_sync";
    fresh_dir(dir);
    vigil__tsdb_wal_options o;
    vigil__tsdb_wal_options_init(&o);
    assert_int_equal(o.sync_interval_ms, 1000);
    assert_int_equal(o.segment_size, 32u << 20);
    vigil__tsdb_wal *w = NULL;
    assert_int_equal(vigil__tsdb_wal_open(dir, &o, &w), VIGIL_OK);
    uint64_t now = vigil__mono_ns(), second = 1000000000u;
    assert_false(vigil__tsdb_wal_sync_due(w, now));             /* the interval has not passed */
    assert_true(vigil__tsdb_wal_sync_due(w, now + 2 * second)); /* new segment: unsynced */
    uint64_t took = 0;
    assert_int_equal(vigil__tsdb_wal_sync(w, &took), VIGIL_OK);
    assert_true(took > 0);
    now = vigil__mono_ns();
    assert_false(vigil__tsdb_wal_sync_due(w, now + 2 * second)); /* nothing new */
    append_ok(w, 1, "x", 1);
    assert_false(vigil__tsdb_wal_sync_due(w, now));
    assert_true(vigil__tsdb_wal_sync_due(w, now + 2 * second));
    assert_int_equal(vigil__tsdb_wal_sync(w, &took), VIGIL_OK);
    vigil__tsdb_wal_stats st;
    vigil__tsdb_wal_get_stats(w, &st);
    assert_int_equal(st.syncs, 2);
    assert_int_equal(st.last_sync_ns, took);
    assert_true(st.sync_ns_total >= took);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
}

static void flush_hands_records_to_the_kernel(void **state)
{
    (void)state;
    const char *dir = "wal_flush";
    fresh_dir(dir);
    vigil__tsdb_wal *w = open_wal(dir, 1 << 20, 1 << 16);
    append_ok(w, 1, "hello", 5);
    assert_int_equal(file_size(dir, 1), VIGIL__TSDB_WAL_SEGMENT_HEADER); /* still buffered */
    assert_int_equal(vigil__tsdb_wal_flush(w), VIGIL_OK);
    assert_int_equal(file_size(dir, 1), VIGIL__TSDB_WAL_SEGMENT_HEADER + 9 + 5);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
}

static void append_rejects_reserved_type_and_oversized_records(void **state)
{
    (void)state;
    const char *dir = "wal_reject";
    fresh_dir(dir);
    vigil__tsdb_wal *w = open_wal(dir, 1 << 20, 1 << 16);
    assert_int_equal(vigil__tsdb_wal_append(w, 0, "x", 1), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "type 0"));
    assert_int_equal(vigil__tsdb_wal_append(w, 1, "x", (size_t)VIGIL__TSDB_WAL_RECORD_MAX + 1),
                     VIGIL_EINVAL);
    append_ok(w, 1, NULL, 0); /* an empty payload is a valid record */
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    recs r = {0};
    replay_ok(dir, 0, &r, NULL);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.v[0].len, 0);
    recs_free(&r);

    vigil__tsdb_wal_options o;
    vigil__tsdb_wal_options_init(&o);
    o.segment_size = 100;
    assert_int_equal(vigil__tsdb_wal_open(dir, &o, &w), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "segment_size"));
}

typedef struct writer_arg {
    vigil__tsdb_wal *w;
    uint32_t id;
} writer_arg;

enum { WRITERS = 4, PER_WRITER = 5000 };

static void *writer(void *p)
{
    writer_arg *a = p;
    for (uint32_t i = 0; i < PER_WRITER; i++) {
        uint32_t v[8] = {a->id, i, a->id ^ i, 0, 0, 0, 0, 0};
        if (vigil__tsdb_wal_append(a->w, (uint8_t)(1 + a->id), v, 12 + (i % 5) * 4) != VIGIL_OK)
            return (void *)1;
        if (i % 1000 == 0 && vigil__tsdb_wal_sync(a->w, NULL) != VIGIL_OK)
            return (void *)1;
    }
    return NULL;
}

static void concurrent_appenders_interleave_whole_records(void **state)
{
    (void)state;
    const char *dir = "wal_threads";
    fresh_dir(dir);
    vigil__tsdb_wal *w = open_wal(dir, 16384, 2048);
    pthread_t t[WRITERS];
    writer_arg args[WRITERS];
    for (uint32_t i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg){w, i};
        assert_int_equal(pthread_create(&t[i], NULL, writer, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        assert_null(ret);
    }
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    recs r = {0};
    replay_ok(dir, 0, &r, NULL);
    assert_int_equal(r.n, WRITERS * PER_WRITER);
    uint32_t next[WRITERS] = {0};
    for (size_t k = 0; k < r.n; k++) {
        uint32_t v[8];
        memcpy(v, r.v[k].data, 12);
        assert_true(v[0] < WRITERS);
        assert_int_equal(r.v[k].type, 1 + v[0]);
        assert_int_equal(v[1], next[v[0]]); /* each writer's records in its own order */
        assert_int_equal(v[2], v[0] ^ v[1]);
        assert_int_equal(r.v[k].len, 12 + (v[1] % 5) * 4);
        next[v[0]]++;
    }
    recs_free(&r);
}

/* RLIMIT_FSIZE makes write() stop part-way (then fail with EFBIG): the records whose append
 * failed are lost, every record whose append succeeded survives, and the log stays intact. */
static void failed_writes_lose_only_the_failed_appends(void **state)
{
    (void)state;
    const char *dir = "wal_efbig";
    fresh_dir(dir);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    vigil__tsdb_wal *w = open_wal(dir, 1 << 20, 1024);
    lim = old;
    lim.rlim_cur = 5000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint8_t buf[1500];
    uint32_t ok[64];
    size_t nok = 0;
    int failures = 0;
    for (uint32_t i = 0; i < 40; i++) {
        size_t len = 100 + (i * 97) % 1400; /* some fit the buffer, some are written directly */
        memset(buf, (int)i, len);
        memcpy(buf, &i, sizeof i);
        vigil_status st = vigil__tsdb_wal_append(w, 1, buf, len);
        if (st == VIGIL_OK)
            ok[nok++] = i;
        else {
            assert_int_equal(st, VIGIL_EIO);
            failures++;
        }
        if (i == 25) { /* the disk has room again */
            assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        }
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    signal(SIGXFSZ, prev);
    assert_true(failures > 0);
    recs r = {0};
    vigil__tsdb_wal_replay_stats s;
    replay_ok(dir, 0, &r, &s);
    assert_false(s.damaged);
    assert_int_equal(r.n, nok);
    for (size_t k = 0; k < nok; k++) {
        uint32_t id;
        memcpy(&id, r.v[k].data, sizeof id);
        assert_int_equal(id, ok[k]);
        assert_int_equal(r.v[k].len, 100 + (id * 97) % 1400);
    }
    recs_free(&r);
}

/* A record larger than the buffer is written straight to the file; when that write stops
 * part-way the file is cut back to the previous record, so later records stay reachable. */
static void failed_direct_write_is_cut_back_to_the_last_record(void **state)
{
    (void)state;
    const char *dir = "wal_efbig_direct";
    fresh_dir(dir);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    vigil__tsdb_wal *w = open_wal(dir, 1 << 20, 1024);
    uint8_t buf[1500];
    lim = old;
    lim.rlim_cur = VIGIL__TSDB_WAL_SEGMENT_HEADER + 3 * (9 + sizeof buf) + 600;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    vigil_status sts[6];
    for (uint32_t i = 0; i < 6; i++) {
        memset(buf, (int)i + 1, sizeof buf);
        if (i == 5)
            assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
        sts[i] = vigil__tsdb_wal_append(w, 1, buf, sizeof buf);
    }
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    /* three fit, the fourth stops 600 bytes in, the fifth finds no room, the sixth fits again */
    const vigil_status want[6] = {VIGIL_OK, VIGIL_OK, VIGIL_OK, VIGIL_EIO, VIGIL_EIO, VIGIL_OK};
    for (int i = 0; i < 6; i++)
        assert_int_equal(sts[i], want[i]);
    recs r = {0};
    vigil__tsdb_wal_replay_stats s;
    replay_ok(dir, 0, &r, &s);
    assert_false(s.damaged);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.v[3].data[0], 6);
    recs_free(&r);
}

static void unusable_directory_fails_with_a_message_naming_it(void **state)
{
    (void)state;
    FILE *f = fopen("plain_file", "w");
    assert_non_null(f);
    fclose(f);
    vigil__tsdb_wal *w = NULL;
    assert_int_equal(vigil__tsdb_wal_open("plain_file", NULL, &w), VIGIL_EIO);
    assert_non_null(strstr(vigil_errmsg(), "plain_file"));
    assert_non_null(strstr(vigil_errmsg(), strerror(ENOTDIR)));
    assert_null(w);
    assert_int_equal(vigil__tsdb_wal_open("no_such_parent/wal", NULL, &w), VIGIL_EIO);
    assert_non_null(strstr(vigil_errmsg(), "no_such_parent/wal"));
    recs r = {0};
    assert_int_equal(vigil__tsdb_wal_replay("plain_file", 0, collect, &r, NULL), VIGIL_EIO);
    assert_non_null(strstr(vigil_errmsg(), "plain_file"));
    /* a directory that does not exist yet is a fresh start, not an error */
    vigil__tsdb_wal_replay_stats s;
    assert_int_equal(vigil__tsdb_wal_replay("not_created_yet", 0, collect, &r, &s), VIGIL_OK);
    assert_int_equal(s.records, 0);

    if (geteuid() == 0) {
        print_message("running as root: the permission-denied case cannot be provoked\n");
        return;
    }
    const char *dir = "wal_noperm";
    fresh_dir(dir);
    w = open_wal(dir, 1 << 20, 1 << 16);
    append_ok(w, 1, "x", 1);
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
    assert_int_equal(chmod(dir, 0), 0);
    vigil_status st = vigil__tsdb_wal_replay(dir, 0, collect, &r, NULL);
    chmod(dir, 0755);
    assert_int_equal(st, VIGIL_EIO);
    assert_non_null(strstr(vigil_errmsg(), strerror(EACCES)));
    recs_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(records_round_trip_across_many_segments),
        cmocka_unit_test(segments_roll_over_at_their_size),
        cmocka_unit_test(oversized_record_gets_a_segment_of_its_own),
        cmocka_unit_test(reopening_continues_in_a_new_segment),
        cmocka_unit_test(cut_then_remove_before_drops_only_older_segments),
        cmocka_unit_test(sync_reports_its_duration_and_sync_due_follows_the_interval),
        cmocka_unit_test(flush_hands_records_to_the_kernel),
        cmocka_unit_test(append_rejects_reserved_type_and_oversized_records),
        cmocka_unit_test(concurrent_appenders_interleave_whole_records),
        cmocka_unit_test(failed_writes_lose_only_the_failed_appends),
        cmocka_unit_test(failed_direct_write_is_cut_back_to_the_last_record),
        cmocka_unit_test(unusable_directory_fails_with_a_message_naming_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
