/* test_process.c — the process collector against the live process: each test changes one fact
 * about this process (burns CPU, opens descriptors, touches memory, starts a thread, lowers a
 * limit) and checks that vigil_process_stats_read follows, then checks the registry output
 * carries the seven Prometheus-standard families. The /proc parsers are also driven directly
 * with crafted input (awkward command names, a /proc/stat whose "intr" line is huge) because the
 * live files never exercise those edges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "collect/collect_int.h"
#include "vigil/collect.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

static time_t test_started_at;

static vigil_process_stats read_stats(void)
{
    vigil_process_stats st;
    vigil_status s = vigil_process_stats_read(&st);
    if (s != VIGIL_OK)
        fail_msg("vigil_process_stats_read: %s (%s)", vigil_strerror(s), vigil_errmsg());
    return st;
}

static double cpu_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void burn_cpu(double seconds)
{
    volatile uint64_t x = 1;
    double until = cpu_time_now() + seconds;
    while (cpu_time_now() < until)
        for (int i = 0; i < 10000; i++)
            x = x * 6364136223846793005u + 1442695040888963407u;
}

/* Writes content to a fresh temporary file; the caller unlinks path. */
static void write_temp_file(char *path, size_t cap, const char *content, size_t len)
{
    snprintf(path, cap, "/tmp/vigil_test_process_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, content + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    close(fd);
}

/* --- vigil_process_stats_read ---------------------------------------------------------------- */

static void test_stats_read_fills_every_field_with_a_sane_value(void **state)
{
    (void)state;
    vigil_process_stats st = read_stats();
    assert_true(st.cpu_seconds >= 0);
    assert_true(st.resident_bytes > 0);
    assert_true(st.virtual_bytes >= st.resident_bytes);
    assert_true(st.open_fds >= 3); /* stdin, stdout, stderr */
    assert_true(st.max_fds == -1 || st.max_fds >= st.open_fds);
    assert_true(st.start_time_seconds > 1e9);
    assert_true(st.threads >= 1);
}

static void test_stats_read_rejects_null(void **state)
{
    (void)state;
    assert_int_equal(vigil_process_stats_read(NULL), VIGIL_EINVAL);
}

static void test_stats_cpu_seconds_grow_with_work(void **state)
{
    (void)state;
    double before = read_stats().cpu_seconds;
    burn_cpu(0.05);
    double after = read_stats().cpu_seconds;
    /* Accounting is in clock ticks; give it more work rather than flake on a slow tick. */
    for (int i = 0; i < 20 && after <= before; i++) {
        burn_cpu(0.05);
        after = read_stats().cpu_seconds;
    }
    assert_true(after > before);
    assert_true(after - before < 10.0);
}

static void test_stats_open_fds_counts_new_descriptors(void **state)
{
    (void)state;
    double before = read_stats().open_fds;
    int fds[3];
    for (int i = 0; i < 3; i++) {
        fds[i] = open("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true(fds[i] >= 0);
    }
    double during = read_stats().open_fds;
    for (int i = 0; i < 3; i++)
        close(fds[i]);
    double after = read_stats().open_fds;
    assert_true(during == before + 3);
    assert_true(after == before);
}

static void test_stats_resident_memory_grows_after_touching_pages(void **state)
{
    (void)state;
    const size_t size = (size_t)64 << 20;
    double before = read_stats().resident_bytes;
    unsigned char *volatile p = malloc(size);
    assert_non_null(p);
    memset(p, 0xa5, size);
    double after = read_stats().resident_bytes;
    assert_int_equal(p[size - 1], 0xa5); /* keeps the stores alive */
    free(p);
    assert_true(after - before >= (double)((size_t)32 << 20));
}

static void test_stats_virtual_memory_grows_after_mapping(void **state)
{
    (void)state;
    const size_t size = (size_t)256 << 20;
    double before = read_stats().virtual_bytes;
    void *m = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    assert_true(m != MAP_FAILED);
    double after = read_stats().virtual_bytes;
    munmap(m, size);
    assert_true(after - before >= (double)size);
}

static void test_stats_start_time_is_recent_and_not_in_future(void **state)
{
    (void)state;
    double start = read_stats().start_time_seconds;
    /* The process started before main() ran; boot time is whole seconds, so allow 1 s slack. */
    assert_true(start <= (double)test_started_at + 1.0);
    assert_true(start <= (double)time(NULL) + 1.0);
    assert_true(start >= (double)test_started_at - 3600.0);
    /* Cached boot time must give the same answer on the next read. */
    assert_true(read_stats().start_time_seconds == start);
}

static int thread_pipe[2];

static void *parked_thread(void *arg)
{
    (void)arg;
    char c;
    while (read(thread_pipe[0], &c, 1) < 0 && errno == EINTR) {
    }
    return NULL;
}

static void test_stats_threads_counts_a_new_thread(void **state)
{
    (void)state;
    assert_int_equal(pipe(thread_pipe), 0);
    double before = read_stats().threads;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, parked_thread, NULL), 0);
    double during = read_stats().threads;
    assert_int_equal(write(thread_pipe[1], "x", 1), 1);
    assert_int_equal(pthread_join(t, NULL), 0);
    close(thread_pipe[0]);
    close(thread_pipe[1]);
    assert_true(during == before + 1);
}

static void test_stats_max_fds_matches_getrlimit(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    double expect = rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur;
    assert_true(read_stats().max_fds == expect);

    /* Follows a change of the soft limit (lowering it needs no privilege). */
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 256) {
        struct rlimit lower = {.rlim_cur = rl.rlim_cur - 1, .rlim_max = rl.rlim_max};
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &lower), 0);
        double seen = read_stats().max_fds;
        assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        assert_true(seen == (double)lower.rlim_cur);
    }
}

/* --- /proc parsing --------------------------------------------------------------------------- */

static void test_stat_parser_handles_spaces_and_parens_in_comm(void **state)
{
    (void)state;
    const char *text = "42 (we) ird) (x) S 1 2 3 0 -1 4194304 10 0 0 0 250 75 0 0 20 0 3 0 9876 "
                       "123456789 321 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n";
    vigil__proc_stat st;
    const char *what = NULL;
    assert_true(vigil__proc_stat_parse(text, &st, &what));
    assert_int_equal(st.utime, 250);
    assert_int_equal(st.stime, 75);
    assert_int_equal(st.num_threads, 3);
    assert_int_equal(st.starttime, 9876);
    assert_int_equal(st.vsize, 123456789);
    assert_int_equal(st.rss, 321);
}

static void test_stat_parser_rejects_malformed_lines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "42 x S 1 2 3",                                     /* no command name */
        "42 (x) S 1 2 3 0 -1 4194304 10 0 0 0 250 75\n",    /* truncated */
        "42 (x) S 1 2 3 0 -1 4194304 10 0 0 0 2x0 75 0 0 20 0 3 0 9876 1 1\n", /* bad utime */
        "42 (x) S 1 2 3 0 -1 4194304 10 0 0 0 250 75 0 0 20 0 3 0 9876 1\n",   /* no rss */
        "42 (x) S 1 2 3 0 -1 4194304 10 0 0 0 99999999999999999999 75 0 0 20 0 3 0 9 1 1\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vigil__proc_stat st;
        const char *what = NULL;
        assert_false(vigil__proc_stat_parse(bad[i], &st, &what));
        assert_non_null(what);
    }
}

static void test_stat_parser_accepts_the_live_file(void **state)
{
    (void)state;
    char buf[4096];
    size_t len;
    vigil__procfs_error e = {0};
    assert_true(vigil__procfs_read("/proc/self/stat", buf, sizeof buf, &len, &e));
    assert_true(len > 0 && buf[len] == '\0');
    vigil__proc_stat st;
    const char *what = NULL;
    assert_true(vigil__proc_stat_parse(buf, &st, &what));
    assert_true(st.num_threads >= 1 && st.rss > 0 && st.vsize > 0);
}

static void test_find_key_finds_a_line_after_a_very_long_line(void **state)
{
    (void)state;
    /* Like /proc/stat on a big machine: an "intr" line far longer than any read buffer, and a
     * decoy whose prefix nearly matches. */
    const size_t intr_len = 200000;
    size_t cap = intr_len + 256;
    char *content = malloc(cap);
    assert_non_null(content);
    size_t n = (size_t)snprintf(content, cap, "cpu 1 2 3\nintr");
    for (; n < intr_len; n++)
        content[n] = (n % 2) ? ' ' : '7';
    n += (size_t)snprintf(content + n, cap - n, "\nbtim 5\nbtimex 6\nbtime 1700000000\nctxt 9\n");

    char path[64];
    write_temp_file(path, sizeof path, content, n);
    free(content);

    char val[64], first[32], none[16];
    vigil__procfs_error e = {0};
    bool ok = vigil__procfs_find_key(path, "btime ", val, sizeof val, &e);
    bool first_ok = vigil__procfs_find_key(path, "cpu ", first, sizeof first, &e);
    vigil__procfs_error missing = {0};
    bool absent = vigil__procfs_find_key(path, "nosuch ", none, sizeof none, &missing);
    unlink(path);

    assert_true(ok);
    assert_string_equal(val, "1700000000");
    assert_true(first_ok);
    assert_string_equal(first, "1 2 3");
    assert_false(absent);
    assert_non_null(missing.what);
}

static void test_find_key_reads_a_last_line_without_newline(void **state)
{
    (void)state;
    char path[64];
    const char *content = "a 1\nbtime 12345";
    write_temp_file(path, sizeof path, content, strlen(content));
    char val[16];
    vigil__procfs_error e = {0};
    bool ok = vigil__procfs_find_key(path, "btime ", val, sizeof val, &e);
    char tiny[4];
    vigil__procfs_error too_long = {0};
    bool fits = vigil__procfs_find_key(path, "btime ", tiny, sizeof tiny, &too_long);
    unlink(path);
    assert_true(ok);
    assert_string_equal(val, "12345");
    assert_false(fits);
    assert_non_null(too_long.what);
}

static void test_procfs_read_refuses_a_file_larger_than_its_buffer(void **state)
{
    (void)state;
    char path[64];
    char content[100];
    memset(content, 'z', sizeof content);
    write_temp_file(path, sizeof path, content, sizeof content);

    char big[101], small[100];
    size_t len = 0;
    vigil__procfs_error e = {0};
    bool fits = vigil__procfs_read(path, big, sizeof big, &len, &e);
    vigil__procfs_error overflow = {0};
    bool overflows = vigil__procfs_read(path, small, sizeof small, NULL, &overflow);
    unlink(path);

    assert_true(fits);
    assert_int_equal(len, 100);
    assert_int_equal(big[100], '\0');
    assert_false(overflows);
    assert_non_null(overflow.what);
}

static void test_procfs_failure_names_the_file_and_errno_text(void **state)
{
    (void)state;
    char buf[16];
    vigil__procfs_error e = {0};
    assert_false(vigil__procfs_read("/nonexistent/vigil/file", buf, sizeof buf, NULL, &e));
    assert_int_equal(e.errnum, ENOENT);
    assert_int_equal(vigil__procfs_fail(&e), VIGIL_EIO);
    assert_non_null(strstr(vigil_errmsg(), "/nonexistent/vigil/file"));
    assert_non_null(strstr(vigil_errmsg(), strerror(ENOENT)));

    long count;
    assert_false(vigil__procfs_count_dir("/nonexistent/vigil/dir", &count, &e));
    assert_int_equal(e.errnum, ENOENT);
}

/* --- the collector --------------------------------------------------------------------------- */

static void test_register_rejects_null_registry(void **state)
{
    (void)state;
    assert_int_equal(vigil_collect_process_register(NULL), VIGIL_EINVAL);
}

static void test_register_twice_is_refused(void **state)
{
    (void)state;
    vigil_registry *reg = NULL;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    assert_int_equal(vigil_collect_process_register(reg), VIGIL_OK);
    assert_int_equal(vigil_collect_process_register(reg), VIGIL_EEXIST);
    vigil_registry_free(reg);
}

/* Finds the sample line "<name> <value>" (no labels) and returns its value, or NaN. */
static double sample_value(const char *text, const char *name)
{
    size_t nlen = strlen(name);
    const char *line = text;
    while (*line) {
        if (strncmp(line, name, nlen) == 0 && line[nlen] == ' ') {
            char *end;
            double v = strtod(line + nlen + 1, &end);
            if (end != line + nlen + 1 && (*end == '\n' || *end == '\0' || *end == ' '))
                return v;
        }
        const char *nl = strchr(line, '\n');
        if (nl == NULL)
            break;
        line = nl + 1;
    }
    return NAN;
}

static void test_rendered_exposition_contains_process_families(void **state)
{
    (void)state;
    vigil_registry *reg = NULL;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    assert_int_equal(vigil_collect_process_register(reg), VIGIL_OK);

    vigil_buffer buf;
    vigil_buffer_init(&buf, 0);
    vigil_status s = vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &buf);
    if (s != VIGIL_OK)
        fail_msg("render: %s (%s)", vigil_strerror(s), vigil_errmsg());
    const char *text = vigil_buffer_cstr(&buf);

    static const struct {
        const char *name;
        const char *type;
        double min, max;
    } want[] = {
        {"process_cpu_seconds_total", "counter", 0, 1e6},
        {"process_max_fds", "gauge", -1, 1e12},
        {"process_open_fds", "gauge", 3, 1e9},
        {"process_resident_memory_bytes", "gauge", 4096, 1e15},
        {"process_start_time_seconds", "gauge", 1e9, 1e11},
        {"process_threads", "gauge", 1, 1e7},
        {"process_virtual_memory_bytes", "gauge", 4096, 1e19},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        char type_line[128], help_line[128];
        snprintf(type_line, sizeof type_line, "# TYPE %s %s\n", want[i].name, want[i].type);
        snprintf(help_line, sizeof help_line, "# HELP %s ", want[i].name);
        if (strstr(text, type_line) == NULL || strstr(text, help_line) == NULL)
            fail_msg("missing TYPE/HELP for %s in:\n%s", want[i].name, text);
        double v = sample_value(text, want[i].name);
        if (!(v >= want[i].min && v <= want[i].max))
            fail_msg("implausible %s = %g in:\n%s", want[i].name, v, text);
    }
    assert_null(strstr(text, "_total_total"));
    assert_null(strstr(text, "# UNIT"));

    vigil_buffer_free(&buf);
    vigil_registry_free(reg);
}

int main(void)
{
    test_started_at = time(NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_read_fills_every_field_with_a_sane_value),
        cmocka_unit_test(test_stats_read_rejects_null),
        cmocka_unit_test(test_stats_cpu_seconds_grow_with_work),
        cmocka_unit_test(test_stats_open_fds_counts_new_descriptors),
        cmocka_unit_test(test_stats_resident_memory_grows_after_touching_pages),
        cmocka_unit_test(test_stats_virtual_memory_grows_after_mapping),
        cmocka_unit_test(test_stats_start_time_is_recent_and_not_in_future),
        cmocka_unit_test(test_stats_threads_counts_a_new_thread),
        cmocka_unit_test(test_stats_max_fds_matches_getrlimit),
        cmocka_unit_test(test_stat_parser_handles_spaces_and_parens_in_comm),
        cmocka_unit_test(test_stat_parser_rejects_malformed_lines),
        cmocka_unit_test(test_stat_parser_accepts_the_live_file),
        cmocka_unit_test(test_find_key_finds_a_line_after_a_very_long_line),
        cmocka_unit_test(test_find_key_reads_a_last_line_without_newline),
        cmocka_unit_test(test_procfs_read_refuses_a_file_larger_than_its_buffer),
        cmocka_unit_test(test_procfs_failure_names_the_file_and_errno_text),
        cmocka_unit_test(test_register_rejects_null_registry),
        cmocka_unit_test(test_register_twice_is_refused),
        cmocka_unit_test(test_rendered_exposition_contains_process_families),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
