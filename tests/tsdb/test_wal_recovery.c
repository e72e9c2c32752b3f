/* test_wal_recovery.c — replay of damaged logs: a last segment cut at every byte offset of its
 * last records recovers exactly the complete records and then takes new appends; a flipped byte
 * (every header byte, a stride through the records: each case costs fsyncs) stops the log at
 * the record holding it and deletes the later segments; zero-filled tails, torn and bad segment
 * headers and missing segments are repaired the same way; a segment of an unknown version and a
 * failing callback leave the directory untouched. Last, a child process that appends and syncs
 * is killed with SIGKILL at random moments: every record it reported as synced is replayed, as a
 * contiguous prefix, and the log keeps working.
 *
 * The cases above cost about two thousand fsyncs, which take seconds on a busy disk and prove
 * nothing a unit test can observe (a killed process loses no page cache). So the files live in a
 * scratch directory on tmpfs when /dev/shm exists, removed by the group teardown; elsewhere in
 * the test's working directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "tsdb/wal.h"

#define HDR VIGIL__TSDB_WAL_SEGMENT_HEADER
#define RHDR VIGIL__TSDB_WAL_RECORD_HEADER

/* ---- records: payload i is a function of i, so a replay can be checked without a copy ------- */

static size_t payload_len(uint32_t i)
{
    return 4 + (i * 7u) % 37u;
}

static void fill_payload(uint32_t i, uint8_t *out)
{
    memcpy(out, &i, 4);
    for (size_t k = 4; k < payload_len(i); k++)
        out[k] = (uint8_t)(i * 31u + k);
}

typedef struct seen {
    uint32_t n; /* records checked so far (record n is expected next) */
    uint32_t segment[512];
    bool bad;
    char why[200];
} seen;

static vigil_status check_record(void *user, uint32_t segment, uint8_t type, const uint8_t *p,
                                 size_t len)
{
    seen *s = user;
    uint8_t want[64];
    fill_payload(s->n, want);
    if (type != 1 + s->n % 200 || len != payload_len(s->n) || memcmp(p, want, len) != 0) {
        if (!s->bad)
            snprintf(s->why, sizeof s->why, "record %u: type %u len %zu differs", s->n, type, len);
        s->bad = true;
    }
    if (s->n < 512)
        s->segment[s->n] = segment;
    s->n++;
    return VIGIL_OK;
}

static void append_records(const char *dir, uint32_t from, uint32_t to, uint64_t segment_size)
{
    vigil__tsdb_wal_options o;
    vigil__tsdb_wal_options_init(&o);
    o.segment_size = segment_size;
    o.buffer_size = 1024;
    vigil__tsdb_wal *w;
    if (vigil__tsdb_wal_open(dir, &o, &w) != VIGIL_OK)
        fail_msg("open: %s", vigil_errmsg());
    uint8_t buf[64];
    for (uint32_t i = from; i < to; i++) {
        fill_payload(i, buf);
        if (vigil__tsdb_wal_append(w, (uint8_t)(1 + i % 200), buf, payload_len(i)) != VIGIL_OK)
            fail_msg("append: %s", vigil_errmsg());
    }
    assert_int_equal(vigil__tsdb_wal_close(w), VIGIL_OK);
}

static seen replay_dir(const char *dir, vigil__tsdb_wal_replay_stats *st)
{
    seen s = {0};
    vigil_status rc = vigil__tsdb_wal_replay(dir, 0, check_record, &s, st);
    if (rc != VIGIL_OK)
        fail_msg("replay: %s", vigil_errmsg());
    if (s.bad)
        fail_msg("replay delivered a wrong record: %s", s.why);
    return s;
}

/* ---- directory snapshots --------------------------------------------------------------------- */

typedef struct segfile {
    uint32_t num;
    uint8_t *data;
    size_t len;
} segfile;

typedef struct snapshot {
    segfile seg[64];
    size_t n;
} snapshot;

static void path_of(char *out, size_t cap, const char *dir, uint32_t num)
{
    snprintf(out, cap, "%s/%08u", dir, num);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        *len = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)n + 1);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *path, const uint8_t *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

static void take_snapshot(const char *dir, snapshot *s)
{
    uint32_t *nums;
    size_t n;
    assert_int_equal(vigil__tsdb_wal_list(dir, &nums, &n), VIGIL_OK);
    assert_true(n <= 64);
    char path[512];
    for (size_t i = 0; i < n; i++) {
        path_of(path, sizeof path, dir, nums[i]);
        s->seg[i].num = nums[i];
        s->seg[i].data = read_file(path, &s->seg[i].len);
    }
    s->n = n;
    vigil__free(nums);
}

static void free_snapshot(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->seg[i].data);
    s->n = 0;
}

/* Writes the snapshot into a fresh dir, segment `which` replaced by (data, len). */
static void restore(const char *dir, const snapshot *s, size_t which, const uint8_t *data,
                    size_t len)
{
    remove_dir(dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[512];
    for (size_t i = 0; i < s->n; i++) {
        path_of(path, sizeof path, dir, s->seg[i].num);
        if (i == which)
            write_file(path, data, len);
        else
            write_file(path, s->seg[i].data, s->seg[i].len);
    }
}

static size_t count_segments(const char *dir)
{
    uint32_t *nums;
    size_t n;
    assert_int_equal(vigil__tsdb_wal_list(dir, &nums, &n), VIGIL_OK);
    vigil__free(nums);
    return n;
}

static uint64_t size_of(const char *dir, uint32_t num)
{
    char path[512];
    path_of(path, sizeof path, dir, num);
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : UINT64_MAX;
}

/* Builds the reference log in "ref": N records through small segments. */
enum { N = 120 };

static void build_reference(snapshot *s, uint64_t segment_size)
{
    remove_dir("ref");
    append_records("ref", 0, N, segment_size);
    take_snapshot("ref", s);
    assert_true(s->n >= 3);
}

/* Record k starts at offset starts[k] of its segment. */
static void record_offsets(const seen *all, uint64_t *starts)
{
    uint64_t off = HDR;
    for (uint32_t k = 0; k < all->n; k++) {
        if (k > 0 && all->segment[k] != all->segment[k - 1])
            off = HDR;
        starts[k] = off;
        off += RHDR + payload_len(k);
    }
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void cut_at_every_offset_recovers_the_complete_prefix_and_appends_after_it(void **state)
{
    (void)state;
    snapshot s = {0};
    build_reference(&s, 1024);
    vigil__tsdb_wal_replay_stats st;
    seen all = replay_dir("ref", &st);
    assert_int_equal(all.n, N);
    uint64_t starts[N];
    record_offsets(&all, starts);
    size_t last = s.n - 1;
    uint32_t last_num = s.seg[last].num;
    uint32_t first_in_last = N;
    while (first_in_last > 0 && all.segment[first_in_last - 1] == last_num)
        first_in_last--;
    assert_true(N - first_in_last >= 3);
    uint64_t from = starts[N - 3];
    uint64_t cuts = 0;
    for (uint64_t cut = 0; cut <= s.seg[last].len; cut++) {
        if (cut > HDR && cut < from)
            continue; /* the segment header, then the last three records byte by byte */
        restore("cut", &s, last, s.seg[last].data, (size_t)cut);
        /* complete records: those that end at or before the cut */
        uint32_t want = first_in_last;
        uint64_t boundary = HDR;
        while (want < N && starts[want] + RHDR + payload_len(want) <= cut) {
            boundary = starts[want] + RHDR + payload_len(want);
            want++;
        }
        seen got = replay_dir("cut", &st);
        if (got.n != want)
            fail_msg("cut at %llu: %u records, want %u", (unsigned long long)cut, got.n, want);
        if (cut < HDR) {
            assert_true(st.damaged);
            assert_int_equal(st.removed_segments, 1); /* a torn header: the file goes */
            assert_int_equal(size_of("cut", last_num), UINT64_MAX);
        } else if (cut == boundary) {
            assert_false(st.damaged);
        } else {
            assert_true(st.damaged);
            assert_int_equal(st.damaged_segment, last_num);
            assert_int_equal(st.damaged_offset, boundary);
            assert_int_equal(st.truncated_bytes, cut - boundary);
            assert_int_equal(size_of("cut", last_num), boundary);
            assert_true(strlen(st.description) > 0);
        }
        /* the repaired log takes appends and replays whole */
        append_records("cut", want, want + 2, 1024);
        got = replay_dir("cut", &st);
        assert_false(st.damaged);
        assert_int_equal(got.n, want + 2);
        cuts++;
    }
    assert_true(cuts > 3 * RHDR);
    remove_dir("cut");
    free_snapshot(&s);
}

/* The record holding byte `off` of segment index `si` (or the segment's first record when the
 * byte is in the segment header): replay must deliver exactly the records before it. */
static uint32_t first_damaged(const seen *all, const uint64_t *starts, uint32_t num, uint64_t off)
{
    uint32_t k = 0;
    while (k < all->n && all->segment[k] < num)
        k++;
    while (k + 1 < all->n && all->segment[k + 1] == num && starts[k + 1] <= off)
        k++;
    return k;
}

static void flipped_byte_anywhere_ends_the_log_at_its_record(void **state)
{
    (void)state;
    snapshot s = {0};
    build_reference(&s, 1024);
    vigil__tsdb_wal_replay_stats st;
    seen all = replay_dir("ref", &st);
    uint64_t starts[N];
    record_offsets(&all, starts);
    uint64_t seed = 12345;
    uint8_t *copy = malloc(4096);
    int checked = 0;
    for (size_t si = 0; si < s.n; si++) {
        for (uint64_t off = 0; off < s.seg[si].len; off++) {
            /* every byte of the headers and the first record, then a stride through the rest
             * (each case costs two fsyncs) */
            if (off >= HDR + 2 * RHDR && off % 13 != si % 13)
                continue;
            seed = seed * 6364136223846793005u + 1442695040888963407u;
            uint8_t x = (uint8_t)(1 + (seed >> 33) % 255);
            memcpy(copy, s.seg[si].data, s.seg[si].len);
            copy[off] ^= x;
            restore("flip", &s, si, copy, s.seg[si].len);
            uint32_t num = s.seg[si].num;
            uint32_t want = first_damaged(&all, starts, num, off);
            seen got = replay_dir("flip", &st);
            if (got.n != want || !st.damaged)
                fail_msg("segment %u byte %llu ^= %02x: %u records (want %u), damaged %d: %s", num,
                         (unsigned long long)off, x, got.n, want, st.damaged, st.description);
            assert_int_equal(st.damaged_segment, num);
            /* later segments are gone; a damaged header takes its own segment with it */
            size_t left = count_segments("flip");
            assert_int_equal(left, off < HDR ? si : si + 1);
            assert_int_equal(st.removed_segments, s.n - left);
            got = replay_dir("flip", &st);
            assert_false(st.damaged);
            assert_int_equal(got.n, want);
            checked++;
        }
    }
    assert_true(checked > 150);
    free(copy);
    remove_dir("flip");
    free_snapshot(&s);
}

static void zero_filled_tails_are_truncated(void **state)
{
    (void)state;
    snapshot s = {0};
    build_reference(&s, 1024);
    vigil__tsdb_wal_replay_stats st;
    seen all = replay_dir("ref", &st);
    uint64_t starts[N];
    record_offsets(&all, starts);
    size_t last = s.n - 1;
    size_t len = s.seg[last].len;
    uint8_t *p = calloc(1, len + 8192);
    memcpy(p, s.seg[last].data, len);

    /* preallocated pages after the last record */
    restore("zero", &s, last, p, len + 8192);
    seen got = replay_dir("zero", &st);
    assert_int_equal(got.n, N);
    assert_true(st.damaged);
    assert_int_equal(st.truncated_bytes, 8192);
    assert_non_null(strstr(st.description, "zero-filled"));
    assert_int_equal(size_of("zero", s.seg[last].num), len);

    /* the last two records never reached the disk: their pages read as zeros */
    memset(p + starts[N - 2], 0, len + 8192 - starts[N - 2]);
    restore("zero", &s, last, p, len + 4096);
    got = replay_dir("zero", &st);
    assert_int_equal(got.n, N - 2);
    assert_non_null(strstr(st.description, "zero-filled"));
    assert_int_equal(st.damaged_offset, starts[N - 2]);

    /* a page that was half written: the record's header survived, its payload did not */
    memcpy(p, s.seg[last].data, len);
    memset(p + starts[N - 1] + RHDR + 2, 0, len + 8192 - (starts[N - 1] + RHDR + 2));
    restore("zero", &s, last, p, len + 4096);
    got = replay_dir("zero", &st);
    assert_int_equal(got.n, N - 1);
    assert_true(st.damaged);
    assert_int_equal(st.damaged_offset, starts[N - 1]);

    /* a whole segment of zeros (created, never written) */
    memset(p, 0, 4096);
    restore("zero", &s, last, p, 4096);
    got = replay_dir("zero", &st);
    uint32_t before_last = 0;
    while (before_last < N && all.segment[before_last] != s.seg[last].num)
        before_last++;
    assert_int_equal(got.n, before_last);
    assert_non_null(strstr(st.description, "zero-filled segment"));
    assert_int_equal(count_segments("zero"), s.n - 1);
    free(p);
    remove_dir("zero");
    free_snapshot(&s);
}

static void damage_in_an_older_segment_drops_every_later_one(void **state)
{
    (void)state;
    snapshot s = {0};
    build_reference(&s, 1024);
    vigil__tsdb_wal_replay_stats st;
    seen all = replay_dir("ref", &st);
    uint64_t starts[N];
    record_offsets(&all, starts);
    /* the third record of segment 1 gets a wrong checksum */
    uint8_t *p = malloc(s.seg[0].len);
    memcpy(p, s.seg[0].data, s.seg[0].len);
    p[starts[2] + 5] ^= 0x01;
    restore("older", &s, 0, p, s.seg[0].len);
    uint64_t later = 0;
    for (size_t i = 1; i < s.n; i++)
        later += s.seg[i].len;
    seen got = replay_dir("older", &st);
    assert_int_equal(got.n, 2);
    assert_true(st.damaged);
    assert_int_equal(st.damaged_segment, 1);
    assert_int_equal(st.damaged_offset, starts[2]);
    assert_int_equal(st.truncated_bytes, s.seg[0].len - starts[2]);
    assert_int_equal(st.removed_segments, s.n - 1);
    assert_int_equal(st.removed_bytes, later);
    assert_non_null(strstr(st.description, "checksum mismatch"));
    assert_non_null(strstr(st.description, "00000001"));
    assert_int_equal(count_segments("older"), 1);
    free(p);
    remove_dir("older");
    free_snapshot(&s);
}

static void missing_segment_ends_the_log_before_the_gap(void **state)
{
    (void)state;
    snapshot s = {0};
    build_reference(&s, 1024);
    vigil__tsdb_wal_replay_stats st;
    seen all = replay_dir("ref", &st);
    restore("gap", &s, SIZE_MAX, NULL, 0);
    char path[512];
    path_of(path, sizeof path, "gap", s.seg[1].num);
    assert_int_equal(unlink(path), 0);
    uint32_t in_first = 0;
    while (all.segment[in_first] == s.seg[0].num)
        in_first++;
    seen got = replay_dir("gap", &st);
    assert_int_equal(got.n, in_first);
    assert_true(st.damaged);
    assert_non_null(strstr(st.description, "missing"));
    assert_int_equal(st.removed_segments, s.n - 2);
    assert_int_equal(count_segments("gap"), 1);
    remove_dir("gap");
    free_snapshot(&s);
}

static void segment_of_unknown_version_is_refused_and_left_alone(void **state)
{
    (void)state;
    snapshot s = {0};
    build_reference(&s, 1024);
    uint8_t *p = malloc(s.seg[1].len);
    memcpy(p, s.seg[1].data, s.seg[1].len);
    p[4] = 2; /* a newer format, with a valid header checksum */
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, 8);
    for (int i = 0; i < 4; i++)
        p[8 + i] = (uint8_t)(crc >> (8 * i));
    restore("version", &s, 1, p, s.seg[1].len);
    seen got = {0};
    assert_int_equal(vigil__tsdb_wal_replay("version", 0, check_record, &got, NULL),
                     VIGIL_ECORRUPT);
    assert_non_null(strstr(vigil_errmsg(), "version 2"));
    assert_int_equal(count_segments("version"), s.n);
    for (size_t i = 0; i < s.n; i++)
        assert_int_equal(size_of("version", s.seg[i].num), s.seg[i].len);
    free(p);
    remove_dir("version");
    free_snapshot(&s);
}

static vigil_status fail_at_third(void *user, uint32_t segment, uint8_t type, const uint8_t *p,
                                  size_t len)
{
    seen *s = user;
    if (s->n == 2)
        return VIGIL_ECALLBACK;
    return check_record(user, segment, type, p, len);
}

static void failing_callback_leaves_the_log_untouched(void **state)
{
    (void)state;
    snapshot s = {0};
    build_reference(&s, 1024);
    size_t last = s.n - 1;
    restore("cb", &s, last, s.seg[last].data, s.seg[last].len - 3); /* a torn tail */
    seen got = {0};
    assert_int_equal(vigil__tsdb_wal_replay("cb", 0, fail_at_third, &got, NULL), VIGIL_ECALLBACK);
    assert_int_equal(got.n, 2);
    assert_int_equal(count_segments("cb"), s.n);
    assert_int_equal(size_of("cb", s.seg[last].num), s.seg[last].len - 3);
    remove_dir("cb");
    free_snapshot(&s);
}

/* ---- kill -9 ----------------------------------------------------------------------------------- */

/* The child: appends records numbered from `from`, syncs after each batch and then reports the
 * highest synced number through the pipe (8 bytes: atomic on a pipe). Runs until killed. */
static void crash_child(const char *dir, uint32_t from, int out, uint64_t seed)
{
    vigil__tsdb_wal_options o;
    vigil__tsdb_wal_options_init(&o);
    o.segment_size = 4096;
    o.buffer_size = 2048;
    vigil__tsdb_wal *w;
    if (vigil__tsdb_wal_open(dir, &o, &w) != VIGIL_OK)
        _exit(2);
    uint8_t buf[64];
    uint32_t next = from;
    for (;;) {
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        uint32_t batch = 1 + (uint32_t)(seed >> 33) % 40;
        for (uint32_t k = 0; k < batch; k++, next++) {
            fill_payload(next, buf);
            if (vigil__tsdb_wal_append(w, (uint8_t)(1 + next % 200), buf, payload_len(next)))
                _exit(3);
        }
        if (vigil__tsdb_wal_sync(w, NULL) != VIGIL_OK)
            _exit(4);
        uint64_t synced = next; /* records [0, next) are durable */
        if (write(out, &synced, sizeof synced) != (ssize_t)sizeof synced)
            _exit(5);
        if (next - from > 50000) /* enough for one iteration: wait for the kill */
            for (;;)
                pause();
        if ((seed >> 20) & 1) { /* on tmpfs a sync is free: pace the log's growth */
            struct timespec ts = {0, 50000 + (long)((seed >> 24) % 200000)};
            nanosleep(&ts, NULL);
        }
    }
}

typedef struct count_only {
    uint32_t n;
    bool bad;
} count_only;

static vigil_status check_sequence(void *user, uint32_t segment, uint8_t type, const uint8_t *p,
                                   size_t len)
{
    (void)segment;
    count_only *c = user;
    uint8_t want[64];
    fill_payload(c->n, want);
    if (type != 1 + c->n % 200 || len != payload_len(c->n) || memcmp(p, want, len) != 0)
        c->bad = true;
    c->n++;
    return VIGIL_OK;
}

static void kill_9_loses_nothing_that_was_synced(void **state)
{
    (void)state;
    const char *dir = "crash";
    remove_dir(dir);
    uint64_t seed = 20240611;
    uint64_t synced = 0;
    int damaged = 0;
    for (int iter = 0; iter < 20; iter++) {
        count_only c = {0};
        vigil__tsdb_wal_replay_stats st;
        assert_int_equal(vigil__tsdb_wal_replay(dir, 0, check_sequence, &c, &st), VIGIL_OK);
        if (c.bad)
            fail_msg("iteration %d: records are not a contiguous prefix", iter);
        if (c.n < synced)
            fail_msg("iteration %d: %u records replayed, %llu were synced", iter, c.n,
                     (unsigned long long)synced);
        damaged += st.damaged;
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        seed = seed * 6364136223846793005u + 1442695040888963407u;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            crash_child(dir, c.n, fds[1], seed);
        }
        close(fds[1]);
        struct timespec ts = {0, (long)(2 + (seed >> 40) % 40) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status))
            fail_msg("child exited with %d before the kill", WEXITSTATUS(status));
        uint64_t v;
        while (read(fds[0], &v, sizeof v) == (ssize_t)sizeof v)
            synced = v;
        close(fds[0]);
    }
    count_only c = {0};
    assert_int_equal(vigil__tsdb_wal_replay(dir, 0, check_sequence, &c, NULL), VIGIL_OK);
    assert_false(c.bad);
    assert_true(c.n >= synced);
    assert_true(synced > 0);
    print_message("kill -9: %llu records synced, %u replayed, %d damaged tails repaired\n",
                  (unsigned long long)synced, c.n, damaged);
    /* and the log goes on */
    append_records(dir, c.n, c.n + 10, 4096);
    count_only after = {0};
    assert_int_equal(vigil__tsdb_wal_replay(dir, 0, check_sequence, &after, NULL), VIGIL_OK);
    assert_false(after.bad);
    assert_int_equal(after.n, c.n + 10);
    remove_dir(dir);
}

static char scratch[64];
static char home[4096];

static int enter_scratch(void **state)
{
    (void)state;
    if (getcwd(home, sizeof home) == NULL)
        return -1;
    strcpy(scratch, "/dev/shm/vigil-test-wal-XXXXXX");
    if (mkdtemp(scratch) == NULL) {
        scratch[0] = '\0'; /* no tmpfs: stay in the working directory */
        return 0;
    }
    return chdir(scratch);
}

static int leave_scratch(void **state)
{
    (void)state;
    if (scratch[0] == '\0')
        return 0;
    if (chdir(home) != 0)
        return -1;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cut_at_every_offset_recovers_the_complete_prefix_and_appends_after_it),
        cmocka_unit_test(flipped_byte_anywhere_ends_the_log_at_its_record),
        cmocka_unit_test(zero_filled_tails_are_truncated),
        cmocka_unit_test(damage_in_an_older_segment_drops_every_later_one),
        cmocka_unit_test(missing_segment_ends_the_log_before_the_gap),
        cmocka_unit_test(segment_of_unknown_version_is_refused_and_left_alone),
        cmocka_unit_test(failing_callback_leaves_the_log_untouched),
        cmocka_unit_test(kill_9_loses_nothing_that_was_synced),
    };
    return cmocka_run_group_tests(tests, enter_scratch, leave_scratch);
}
