/* process.c — the "process" collector: CPU time, memory, file descriptors, start time and thread
 * count of the calling process, under the names and meanings the Prometheus Go client uses
 * (client_golang's process collector over the procfs package), so dashboards and alerts written
 * for Go services work unchanged.
 *
 * Everything is read from /proc at collection time (never on a hot path) into fixed-size stack
 * buffers: /proc/self/stat for CPU, memory, threads and start ticks; /proc/self/fd for the open
 * descriptor count (counted as read, so the descriptor used to list the directory is included,
 * as in client_golang); getrlimit for the descriptor limit; and the boot time from /proc/stat,
 * which never changes while the system is up and is therefore read once and cached in an atomic
 * (a racing first read stores the same value twice, which is harmless; a failed read is retried
 * at the next collection).
 *
 * A failing source does not hide the others: vigil_process_stats_read fills what it could read,
 * leaves the rest NaN, and reports the first failure. The collector emits the families it has
 * values for and returns that failure, so the registry counts the error. */
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "collect/collect_int.h"
#include "core/core_int.h"
#include "vigil/collect.h"

#define PROC_SELF_STAT "/proc/self/stat"
#define PROC_SELF_FD "/proc/self/fd"
#define PROC_STAT "/proc/stat"

/* /proc/<pid>/stat has 52 numeric fields (at most 20 digits each) after a command name of at most
 * 64 bytes, so 4 KiB leaves ample room; a file that did not fit would be reported, not cut. */
#define STAT_BUF_SIZE 4096

/* --- /proc/<pid>/stat parsing ---------------------------------------------------------------- */

static bool parse_u64(const char *s, const char *end, uint64_t *out)
{
    if (s == end)
        return false;
    uint64_t v = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static bool parse_i64(const char *s, const char *end, int64_t *out)
{
    bool neg = s < end && *s == '-';
    uint64_t mag;
    if (!parse_u64(s + neg, end, &mag))
        return false;
    if (mag > (uint64_t)INT64_MAX + neg)
        return false;
    *out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
    return true;
}

bool vigil__proc_stat_parse(const char *text, vigil__proc_stat *out, const char **what)
{
    /* Fields after the command name, 0-based: index i is proc(5) field i + 3. */
    enum { F_UTIME = 11, F_STIME = 12, F_THREADS = 17, F_START = 19, F_VSIZE = 20, F_RSS = 21 };

    const char *lparen = strchr(text, '(');
    const char *rparen = strrchr(text, ')');
    if (lparen == NULL || rparen == NULL || rparen < lparen) {
        *what = "no parenthesised command name";
        return false;
    }
    const char *p = rparen + 1;
    vigil__proc_stat st = {0};
    for (int i = 0; i <= F_RSS; i++) {
        if (*p != ' ') {
            *what = "too few fields";
            return false;
        }
        p++;
        const char *tok = p;
        while (*p != ' ' && *p != '\n' && *p != '\0')
            p++;
        bool ok = true;
        switch (i) {
        case F_UTIME: ok = parse_u64(tok, p, &st.utime); break;
        case F_STIME: ok = parse_u64(tok, p, &st.stime); break;
        case F_THREADS: ok = parse_i64(tok, p, &st.num_threads); break;
        case F_START: ok = parse_u64(tok, p, &st.starttime); break;
        case F_VSIZE: ok = parse_u64(tok, p, &st.vsize); break;
        case F_RSS: ok = parse_i64(tok, p, &st.rss); break;
        default: ok = tok != p; break;
        }
        if (!ok) {
            *what = "malformed field";
            return false;
        }
    }
    *out = st;
    return true;
}

/* --- sources --------------------------------------------------------------------------------- */

/* Boot time in Unix seconds; 0 means not read yet (no Linux system booted at the epoch). */
static _Atomic int64_t cached_btime;

static bool boot_time(int64_t *out, vigil__procfs_error *e)
{
    int64_t v = atomic_load_explicit(&cached_btime, memory_order_relaxed);
    if (v > 0) {
        *out = v;
        return true;
    }
    char val[64];
    if (!vigil__procfs_find_key(PROC_STAT, "btime ", val, sizeof val, e))
        return false;
    const char *s = val, *end = val + strlen(val);
    while (*s == ' ')
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\r'))
        end--;
    uint64_t bt;
    if (!parse_u64(s, end, &bt) || bt == 0 || bt > (uint64_t)INT64_MAX) {
        e->path = PROC_STAT;
        e->errnum = 0;
        e->what = "malformed btime line";
        return false;
    }
    atomic_store_explicit(&cached_btime, (int64_t)bt, memory_order_relaxed);
    *out = (int64_t)bt;
    return true;
}

static double clock_ticks_per_second(void)
{
    long t = sysconf(_SC_CLK_TCK);
    return t > 0 ? (double)t : 100.0; /* USER_HZ is 100 on every Linux ABI */
}

static double page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (double)p : 4096.0;
}

VIGIL_API vigil_status vigil_process_stats_read(vigil_process_stats *out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_process_stats_read: out is NULL");

    out->cpu_seconds = out->resident_bytes = out->virtual_bytes = NAN;
    out->open_fds = out->max_fds = out->start_time_seconds = out->threads = NAN;

    vigil__procfs_error first = {0}, e = {0};
    bool failed = false;
#define NOTE_FAILURE()                                                                          \
    do {                                                                                        \
        if (!failed) {                                                                          \
            first = e;                                                                          \
            failed = true;                                                                      \
        }                                                                                       \
    } while (0)

    char buf[STAT_BUF_SIZE];
    vigil__proc_stat st;
    const char *what = NULL;
    if (!vigil__procfs_read(PROC_SELF_STAT, buf, sizeof buf, NULL, &e)) {
        NOTE_FAILURE();
    } else if (!vigil__proc_stat_parse(buf, &st, &what)) {
        e = (vigil__procfs_error){.path = PROC_SELF_STAT, .errnum = 0, .what = what};
        NOTE_FAILURE();
    } else {
        double hz = clock_ticks_per_second();
        out->cpu_seconds = ((double)st.utime + (double)st.stime) / hz;
        out->virtual_bytes = (double)st.vsize;
        out->resident_bytes = (double)st.rss * page_size();
        out->threads = (double)st.num_threads;
        int64_t btime;
        if (boot_time(&btime, &e))
            out->start_time_seconds = (double)btime + (double)st.starttime / hz;
        else
            NOTE_FAILURE();
    }

    long fds;
    if (vigil__procfs_count_dir(PROC_SELF_FD, &fds, &e))
        out->open_fds = (double)fds;
    else
        NOTE_FAILURE();

    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        out->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1.0 : (double)rl.rlim_cur;
    } else {
        e = (vigil__procfs_error){.path = "getrlimit(RLIMIT_NOFILE)", .errnum = errno};
        NOTE_FAILURE();
    }
#undef NOTE_FAILURE

    return failed ? vigil__procfs_fail(&first) : VIGIL_OK;
}

/* --- the collector --------------------------------------------------------------------------- */

/* In name order, the order client_golang's Gather exposes them in. The counter is named without
 * "_total"; the encoders add the suffix (metrics.h accepts either form). No unit is set: the Go
 * client sets none, and some parsers reject a unit the name does not spell exactly. */
static const struct {
    const char *name;
    const char *help;
    vigil_metric_type type;
    size_t offset;
} process_families[] = {
    {"process_cpu_seconds", "User plus system CPU time used by the process, in seconds.",
     VIGIL_COUNTER, offsetof(vigil_process_stats, cpu_seconds)},
    {"process_max_fds", "Soft limit on the number of open file descriptors (-1: unlimited).",
     VIGIL_GAUGE, offsetof(vigil_process_stats, max_fds)},
    {"process_open_fds", "Number of file descriptors the process has open.", VIGIL_GAUGE,
     offsetof(vigil_process_stats, open_fds)},
    {"process_resident_memory_bytes", "Resident set size of the process, in bytes.",
     VIGIL_GAUGE, offsetof(vigil_process_stats, resident_bytes)},
    {"process_start_time_seconds", "When the process started, in seconds since the Unix epoch.",
     VIGIL_GAUGE, offsetof(vigil_process_stats, start_time_seconds)},
    {"process_threads", "Number of operating-system threads in the process.", VIGIL_GAUGE,
     offsetof(vigil_process_stats, threads)},
    {"process_virtual_memory_bytes", "Size of the process's virtual address space, in bytes.",
     VIGIL_GAUGE, offsetof(vigil_process_stats, virtual_bytes)},
};

static vigil_status collect_process(vigil_emitter *em, void *user)
{
    (void)user;
    vigil_process_stats st;
    vigil_status read_status = vigil_process_stats_read(&st);

    for (size_t i = 0; i < sizeof process_families / sizeof process_families[0]; i++) {
        double v;
        memcpy(&v, (const char *)&st + process_families[i].offset, sizeof v);
        if (isnan(v))
            continue; /* its source failed; read_status says which */
        vigil_family_desc desc = {
            .name = process_families[i].name,
            .help = process_families[i].help,
            .unit = NULL,
            .type = process_families[i].type,
        };
        vigil_status s = vigil_emit_family(em, &desc);
        if (s == VIGIL_OK)
            s = vigil_emit_sample(em, NULL, 0, v);
        if (s != VIGIL_OK)
            return s;
    }
    return read_status;
}

VIGIL_API vigil_status vigil_collect_process_register(vigil_registry *reg)
{
    if (reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_collect_process_register: reg is NULL");
    return vigil_registry_add_collector(reg, "process", collect_process, NULL);
}
