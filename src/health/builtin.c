/* builtin.c — the built-in host and process checks: memory, disk, CPU, file descriptors, load.
 *
 * Each reads the kernel's own accounting (/proc, statvfs, getrlimit) with the collect module's
 * bounded readers into stack buffers, compares against thresholds copied at registration, and
 * reports the measured values as details, so the JSON shows why a check said what it said.
 * Every threshold is applied the same way: each one that is crossed raises the status to its
 * level and adds its reason to the message; the worst wins. A source that cannot be read gives
 * UNKNOWN (we cannot tell), except the disk check, whose path not being there is itself the
 * problem (UNHEALTHY).
 *
 * The runner never runs two runs of one check at once, so the CPU check's previous sample needs
 * no lock. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "collect/collect_int.h"
#include "health/health_int.h"

/* --- shared helpers ------------------------------------------------------------------------ */

/* The worst status so far and the reasons for it, joined with "; ". */
typedef struct verdict {
    vigil_health_status status;
    char why[VIGIL_HEALTH_MESSAGE_SIZE];
    size_t len;
} verdict;

static void verdict_init(verdict *v)
{
    v->status = VIGIL_HEALTH_HEALTHY;
    v->why[0] = '\0';
    v->len = 0;
}

static void judge(verdict *v, vigil_health_status s, const char *fmt, ...) VIGIL_PRINTF(3, 4);
static void judge(verdict *v, vigil_health_status s, const char *fmt, ...)
{
    if (s > v->status)
        v->status = s;
    if (v->len + 3 >= sizeof v->why)
        return;
    if (v->len > 0) {
        memcpy(v->why + v->len, "; ", 3);
        v->len += 2;
    }
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(v->why + v->len, sizeof v->why - v->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        v->len += (size_t)n < sizeof v->why - v->len ? (size_t)n : sizeof v->why - v->len - 1;
}

/* Ends a check: the reasons when a threshold was crossed, else the healthy summary. */
static vigil_health_status conclude(vigil_health_result *res, const verdict *v, const char *summary)
{
    vigil_health_result_message(res, "%s", v->status == VIGIL_HEALTH_HEALTHY ? summary : v->why);
    return v->status;
}

/* Applies a "higher is worse" pair of thresholds (at or above). */
static void above(verdict *v, double value, double degraded, double unhealthy, const char *what,
                  const char *unit)
{
    if (value >= unhealthy)
        judge(v, VIGIL_HEALTH_UNHEALTHY, "%s %.4g%s at or above %.4g%s", what, value, unit,
              unhealthy, unit);
    else if (value >= degraded)
        judge(v, VIGIL_HEALTH_DEGRADED, "%s %.4g%s at or above %.4g%s", what, value, unit, degraded,
              unit);
}

/* Applies a "lower is worse" pair of thresholds (strictly below; 0 never triggers). */
static void below(verdict *v, double value, double degraded, double unhealthy, const char *what,
                  const char *unit)
{
    if (value < unhealthy)
        judge(v, VIGIL_HEALTH_UNHEALTHY, "%s %.4g%s below %.4g%s", what, value, unit, unhealthy,
              unit);
    else if (value < degraded)
        judge(v, VIGIL_HEALTH_DEGRADED, "%s %.4g%s below %.4g%s", what, value, unit, degraded,
              unit);
}

/* "1.5 GiB" */
static const char *human_bytes(char *out, size_t cap, double b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    size_t u = 0;
    while (b >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
        b /= 1024;
        u++;
    }
    snprintf(out, cap, u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    return out;
}

/* The message for a failed /proc read. */
static vigil_health_status unreadable(vigil_health_result *res, const vigil__procfs_error *e)
{
    char eb[128];
    const char *why = e->errnum ? strerror_r(e->errnum, eb, sizeof eb) : e->what;
    vigil_health_result_message(res, "cannot read %s: %s", e->path, why ? why : "failed");
    return VIGIL_HEALTH_UNKNOWN;
}

/* The number after `key` in a "Key:   123 kB" file (/proc/meminfo), in bytes. */
static bool meminfo_value(const char *text, const char *key, double *out)
{
    size_t klen = strlen(key);
    for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, key, klen) == 0) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p + klen, &end, 10);
            if (errno != 0 || end == p + klen)
                return false;
            while (*end == ' ')
                end++;
            *out = (double)v * (strncmp(end, "kB", 2) == 0 ? 1024.0 : 1.0);
            return true;
        }
    }
    return false;
}

static bool bad_threshold(double v)
{
    return isnan(v) || v < 0;
}

static void *copy_state(const void *src, size_t size)
{
    void *p = vigil__malloc(size);
    if (p != NULL)
        memcpy(p, src, size);
    return p;
}

static vigil_status no_memory(const char *kind)
{
    return vigil__fail(VIGIL_ENOMEM, "out of memory adding the %s health check", kind);
}

/* --- memory ---------------------------------------------------------------------------------- */

VIGIL_API void vigil_health_memory_opts_init(vigil_health_memory_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->available_degraded_percent = 10;
    o->available_unhealthy_percent = 5;
}

static vigil_health_status memory_check(vigil_health_result *res, void *user)
{
    const vigil_health_memory_opts *o = user;
    char buf[8192];
    size_t len;
    vigil__procfs_error e;
    if (!vigil__procfs_read("/proc/meminfo", buf, sizeof buf, &len, &e))
        return unreadable(res, &e);
    double total, avail;
    if (!meminfo_value(buf, "MemTotal:", &total) || !meminfo_value(buf, "MemAvailable:", &avail) ||
        total <= 0) {
        vigil_health_result_message(res, "/proc/meminfo has no MemTotal or MemAvailable");
        return VIGIL_HEALTH_UNKNOWN;
    }
    char statm[256];
    if (!vigil__procfs_read("/proc/self/statm", statm, sizeof statm, &len, &e))
        return unreadable(res, &e);
    unsigned long long pages_total = 0, pages_rss = 0;
    if (sscanf(statm, "%llu %llu", &pages_total, &pages_rss) != 2) {
        vigil_health_result_message(res, "/proc/self/statm: unexpected content");
        return VIGIL_HEALTH_UNKNOWN;
    }
    double rss = (double)pages_rss * (double)sysconf(_SC_PAGESIZE);
    double pct = avail / total * 100.0;

    verdict v;
    verdict_init(&v);
    below(&v, pct, o->available_degraded_percent, o->available_unhealthy_percent,
          "available memory", "%");
    if (o->rss_unhealthy_bytes > 0 && rss >= o->rss_unhealthy_bytes)
        judge(&v, VIGIL_HEALTH_UNHEALTHY, "resident set %.0f bytes at or above %.0f", rss,
              o->rss_unhealthy_bytes);
    else if (o->rss_degraded_bytes > 0 && rss >= o->rss_degraded_bytes)
        judge(&v, VIGIL_HEALTH_DEGRADED, "resident set %.0f bytes at or above %.0f", rss,
              o->rss_degraded_bytes);

    (void)vigil_health_result_detail(res, "mem_total_bytes", "%.0f", total);
    (void)vigil_health_result_detail(res, "mem_available_bytes", "%.0f", avail);
    (void)vigil_health_result_detail(res, "available_percent", "%.2f", pct);
    (void)vigil_health_result_detail(res, "process_resident_bytes", "%.0f", rss);
    char a[32], t[32], r[32], summary[160];
    snprintf(summary, sizeof summary, "%.1f%% of memory available (%s of %s); resident set %s", pct,
             human_bytes(a, sizeof a, avail), human_bytes(t, sizeof t, total),
             human_bytes(r, sizeof r, rss));
    return conclude(res, &v, summary);
}

VIGIL_API vigil_status vigil_health_runner_add_memory(vigil_health_runner *r,
                                                      const vigil_health_check_opts *check,
                                                      const vigil_health_memory_opts *opts)
{
    vigil_health_memory_opts o;
    if (opts != NULL)
        o = *opts;
    else
        vigil_health_memory_opts_init(&o);
    if (bad_threshold(o.available_degraded_percent) ||
        bad_threshold(o.available_unhealthy_percent) || bad_threshold(o.rss_degraded_bytes) ||
        bad_threshold(o.rss_unhealthy_bytes))
        return vigil__fail(VIGIL_EINVAL, "memory health check: thresholds must be >= 0");
    void *state = copy_state(&o, sizeof o);
    if (state == NULL)
        return no_memory("memory");
    return vigil__health_add_builtin(r, check, "memory", memory_check, state, vigil__free);
}

/* --- disk ------------------------------------------------------------------------------------ */

typedef struct disk_state {
    vigil_health_disk_opts o;
    char path[]; /* o.path points here */
} disk_state;

VIGIL_API void vigil_health_disk_opts_init(vigil_health_disk_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->path = "/";
    o->free_degraded_percent = 10;
    o->free_unhealthy_percent = 5;
}

static vigil_health_status disk_check(vigil_health_result *res, void *user)
{
    const disk_state *d = user;
    const vigil_health_disk_opts *o = &d->o;
    (void)vigil_health_result_detail(res, "path", "%s", d->path);
    struct statvfs sv;
    if (statvfs(d->path, &sv) != 0) {
        char eb[128];
        vigil_health_result_message(res, "statvfs %s: %s", d->path,
                                    strerror_r(errno, eb, sizeof eb));
        return VIGIL_HEALTH_UNHEALTHY;
    }
    double frsize = sv.f_frsize ? (double)sv.f_frsize : (double)sv.f_bsize;
    double size = (double)sv.f_blocks * frsize;
    double avail = (double)sv.f_bavail * frsize;
    double pct = size > 0 ? avail / size * 100.0 : NAN;

    verdict v;
    verdict_init(&v);
    if (!isnan(pct))
        below(&v, pct, o->free_degraded_percent, o->free_unhealthy_percent, "free space", "%");
    if (avail < o->free_unhealthy_bytes)
        judge(&v, VIGIL_HEALTH_UNHEALTHY, "free space %.0f bytes below %.0f", avail,
              o->free_unhealthy_bytes);
    else if (avail < o->free_degraded_bytes)
        judge(&v, VIGIL_HEALTH_DEGRADED, "free space %.0f bytes below %.0f", avail,
              o->free_degraded_bytes);

    (void)vigil_health_result_detail(res, "size_bytes", "%.0f", size);
    (void)vigil_health_result_detail(res, "avail_bytes", "%.0f", avail);
    if (!isnan(pct))
        (void)vigil_health_result_detail(res, "free_percent", "%.2f", pct);
    char a[32], t[32], summary[VIGIL_HEALTH_MESSAGE_SIZE];
    snprintf(summary, sizeof summary, "%.1f%% free on %.100s (%s of %s)", isnan(pct) ? 100 : pct,
             d->path, human_bytes(a, sizeof a, avail), human_bytes(t, sizeof t, size));
    return conclude(res, &v, summary);
}

VIGIL_API vigil_status vigil_health_runner_add_disk(vigil_health_runner *r,
                                                    const vigil_health_check_opts *check,
                                                    const vigil_health_disk_opts *opts)
{
    vigil_health_disk_opts o;
    if (opts != NULL)
        o = *opts;
    else
        vigil_health_disk_opts_init(&o);
    if (o.path == NULL || o.path[0] == '\0' || strlen(o.path) >= PATH_MAX)
        return vigil__fail(VIGIL_EINVAL, "disk health check: path must be a non-empty path");
    if (bad_threshold(o.free_degraded_percent) || bad_threshold(o.free_unhealthy_percent) ||
        bad_threshold(o.free_degraded_bytes) || bad_threshold(o.free_unhealthy_bytes))
        return vigil__fail(VIGIL_EINVAL, "disk health check: thresholds must be >= 0");
    size_t plen = strlen(o.path) + 1;
    disk_state *d = vigil__malloc(sizeof *d + plen);
    if (d == NULL)
        return no_memory("disk");
    memcpy(d->path, o.path, plen);
    d->o = o;
    d->o.path = d->path;
    return vigil__health_add_builtin(r, check, "disk", disk_check, d, vigil__free);
}

/* --- CPU ------------------------------------------------------------------------------------- */

typedef struct cpu_sample {
    uint64_t busy; /* every non-idle state, in ticks */
    uint64_t total;
    uint64_t at_ns; /* monotonic */
} cpu_sample;

typedef struct cpu_state {
    vigil_health_cpu_opts o;
    bool have_prev; /* the runner's one-run-at-a-time rule guards these */
    cpu_sample prev;
} cpu_state;

VIGIL_API void vigil_health_cpu_opts_init(vigil_health_cpu_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->degraded_percent = 90;
    o->unhealthy_percent = 101;
    o->min_window_seconds = 0.25;
}

/* The aggregate "cpu" line of /proc/stat: user nice system idle iowait irq softirq steal
 * (guest time is already inside user and nice, so it is not added again). */
static bool cpu_read(cpu_sample *s, vigil__procfs_error *e)
{
    char line[512];
    if (!vigil__procfs_find_key("/proc/stat", "cpu ", line, sizeof line, e))
        return false;
    unsigned long long f[8] = {0};
    int n = sscanf(line, "%llu %llu %llu %llu %llu %llu %llu %llu", &f[0], &f[1], &f[2], &f[3],
                   &f[4], &f[5], &f[6], &f[7]);
    if (n < 4) {
        e->path = "/proc/stat";
        e->errnum = 0;
        e->what = "the cpu line has fewer than 4 fields";
        return false;
    }
    uint64_t total = 0;
    for (int i = 0; i < 8; i++)
        total += f[i];
    s->total = total;
    s->busy = total - f[3] - f[4]; /* idle and iowait are idle */
    s->at_ns = vigil__mono_ns();
    return true;
}

static void sleep_seconds(double s)
{
    struct timespec ts;
    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static vigil_health_status cpu_check(vigil_health_result *res, void *user)
{
    cpu_state *st = user;
    const vigil_health_cpu_opts *o = &st->o;
    vigil__procfs_error e;
    cpu_sample now;
    if (!cpu_read(&now, &e))
        return unreadable(res, &e);
    double window = o->min_window_seconds;
    if (window > res->timeout_seconds / 2)
        window = res->timeout_seconds / 2;
    cpu_sample base = st->prev;
    if (!st->have_prev || (double)(now.at_ns - base.at_ns) / 1e9 < window ||
        now.total <= base.total) {
        /* No usable previous sample: measure over a short window of our own. */
        base = now;
        sleep_seconds(window);
        if (!cpu_read(&now, &e))
            return unreadable(res, &e);
    }
    st->prev = now;
    st->have_prev = true;
    if (now.total <= base.total || now.busy < base.busy) {
        vigil_health_result_message(res, "no CPU time passed in the window");
        return VIGIL_HEALTH_UNKNOWN;
    }
    double pct = (double)(now.busy - base.busy) / (double)(now.total - base.total) * 100.0;
    double secs = (double)(now.at_ns - base.at_ns) / 1e9;

    verdict v;
    verdict_init(&v);
    above(&v, pct, o->degraded_percent, o->unhealthy_percent, "CPU utilisation", "%");
    (void)vigil_health_result_detail(res, "usage_percent", "%.2f", pct);
    (void)vigil_health_result_detail(res, "window_seconds", "%.3f", secs);
    (void)vigil_health_result_detail(res, "cpus", "%ld", sysconf(_SC_NPROCESSORS_ONLN));
    char summary[128];
    snprintf(summary, sizeof summary, "CPU %.1f%% busy over the last %.2f s", pct, secs);
    return conclude(res, &v, summary);
}

VIGIL_API vigil_status vigil_health_runner_add_cpu(vigil_health_runner *r,
                                                   const vigil_health_check_opts *check,
                                                   const vigil_health_cpu_opts *opts)
{
    cpu_state s;
    memset(&s, 0, sizeof s);
    if (opts != NULL)
        s.o = *opts;
    else
        vigil_health_cpu_opts_init(&s.o);
    if (isnan(s.o.degraded_percent) || isnan(s.o.unhealthy_percent))
        return vigil__fail(VIGIL_EINVAL, "cpu health check: thresholds must be numbers");
    if (!(s.o.min_window_seconds > 0 && s.o.min_window_seconds <= 60))
        return vigil__fail(VIGIL_EINVAL,
                           "cpu health check: min_window_seconds must be in "
                           "(0, 60], not %g",
                           s.o.min_window_seconds);
    void *state = copy_state(&s, sizeof s);
    if (state == NULL)
        return no_memory("cpu");
    return vigil__health_add_builtin(r, check, "cpu", cpu_check, state, vigil__free);
}

/* --- file descriptors -------------------------------------------------------------------------- */

VIGIL_API void vigil_health_fds_opts_init(vigil_health_fds_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->degraded_percent = 80;
    o->unhealthy_percent = 95;
}

static vigil_health_status fds_check(vigil_health_result *res, void *user)
{
    const vigil_health_fds_opts *o = user;
    vigil__procfs_error e;
    long open_fds;
    if (!vigil__procfs_count_dir("/proc/self/fd", &open_fds, &e))
        return unreadable(res, &e);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        char eb[128];
        vigil_health_result_message(res, "getrlimit(RLIMIT_NOFILE): %s",
                                    strerror_r(errno, eb, sizeof eb));
        return VIGIL_HEALTH_UNKNOWN;
    }
    (void)vigil_health_result_detail(res, "open", "%ld", open_fds);
    if (rl.rlim_cur == RLIM_INFINITY) {
        (void)vigil_health_result_detail(res, "limit", "unlimited");
        vigil_health_result_message(res, "%ld file descriptors open, no limit", open_fds);
        return VIGIL_HEALTH_HEALTHY;
    }
    double limit = (double)rl.rlim_cur;
    double pct = limit > 0 ? (double)open_fds / limit * 100.0 : 100.0;
    (void)vigil_health_result_detail(res, "limit", "%.0f", limit);
    (void)vigil_health_result_detail(res, "used_percent", "%.2f", pct);
    verdict v;
    verdict_init(&v);
    above(&v, pct, o->degraded_percent, o->unhealthy_percent, "file descriptors in use", "%");
    char summary[128];
    snprintf(summary, sizeof summary, "%ld of %.0f file descriptors open (%.1f%%)", open_fds, limit,
             pct);
    return conclude(res, &v, summary);
}

VIGIL_API vigil_status vigil_health_runner_add_fds(vigil_health_runner *r,
                                                   const vigil_health_check_opts *check,
                                                   const vigil_health_fds_opts *opts)
{
    vigil_health_fds_opts o;
    if (opts != NULL)
        o = *opts;
    else
        vigil_health_fds_opts_init(&o);
    if (isnan(o.degraded_percent) || isnan(o.unhealthy_percent))
        return vigil__fail(VIGIL_EINVAL, "fds health check: thresholds must be numbers");
    void *state = copy_state(&o, sizeof o);
    if (state == NULL)
        return no_memory("fds");
    return vigil__health_add_builtin(r, check, "fds", fds_check, state, vigil__free);
}

/* --- load average ---------------------------------------------------------------------------- */

VIGIL_API void vigil_health_load_opts_init(vigil_health_load_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->minutes = 5;
    o->degraded_per_cpu = 2;
    o->unhealthy_per_cpu = 4;
}

static vigil_health_status load_check(vigil_health_result *res, void *user)
{
    const vigil_health_load_opts *o = user;
    char buf[256];
    size_t len;
    vigil__procfs_error e;
    if (!vigil__procfs_read("/proc/loadavg", buf, sizeof buf, &len, &e))
        return unreadable(res, &e);
    double l1, l5, l15;
    if (sscanf(buf, "%lf %lf %lf", &l1, &l5, &l15) != 3) {
        vigil_health_result_message(res, "/proc/loadavg: unexpected content");
        return VIGIL_HEALTH_UNKNOWN;
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    double load = o->minutes == 1 ? l1 : o->minutes == 15 ? l15 : l5;
    double per_cpu = load / (double)cpus;
    (void)vigil_health_result_detail(res, "load1", "%.2f", l1);
    (void)vigil_health_result_detail(res, "load5", "%.2f", l5);
    (void)vigil_health_result_detail(res, "load15", "%.2f", l15);
    (void)vigil_health_result_detail(res, "cpus", "%ld", cpus);
    (void)vigil_health_result_detail(res, "per_cpu", "%.3f", per_cpu);
    verdict v;
    verdict_init(&v);
    char what[48];
    snprintf(what, sizeof what, "%u-minute load per CPU", o->minutes);
    above(&v, per_cpu, o->degraded_per_cpu, o->unhealthy_per_cpu, what, "");
    char summary[128];
    snprintf(summary, sizeof summary, "%u-minute load %.2f on %ld CPUs (%.2f per CPU)", o->minutes,
             load, cpus, per_cpu);
    return conclude(res, &v, summary);
}

VIGIL_API vigil_status vigil_health_runner_add_load(vigil_health_runner *r,
                                                    const vigil_health_check_opts *check,
                                                    const vigil_health_load_opts *opts)
{
    vigil_health_load_opts o;
    if (opts != NULL)
        o = *opts;
    else
        vigil_health_load_opts_init(&o);
    if (o.minutes != 1 && o.minutes != 5 && o.minutes != 15)
        return vigil__fail(VIGIL_EINVAL, "load health check: minutes must be 1, 5 or 15, not %u",
                           o.minutes);
    if (isnan(o.degraded_per_cpu) || isnan(o.unhealthy_per_cpu))
        return vigil__fail(VIGIL_EINVAL, "load health check: thresholds must be numbers");
    void *state = copy_state(&o, sizeof o);
    if (state == NULL)
        return no_memory("load");
    return vigil__health_add_builtin(r, check, "load", load_check, state, vigil__free);
}
