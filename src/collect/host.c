/* host.c — the "host" collector: node_exporter's cpu, meminfo, filesystem, diskstats, netdev,
 * loadavg and stat collectors, under their exact names, types, labels and units, so dashboards
 * and alerts written for node_exporter work on vigil's /metrics unchanged; plus the
 * vigil_host_* convenience gauges (CPU, memory and filesystem usage).
 *
 * Shape. Each /proc file is opened once and kept open; a collection preads it from offset 0
 * (the kernel generates seq_file content afresh on every read from the start, and an open and a
 * close per file per scrape are saved) into a buffer the collector keeps (it grows on demand up
 * to max_file_bytes and is reused, so a steady state allocates nothing here), parses it with the
 * I/O-free parsers of host_parse.c into arrays that are also kept (each capped; items past a cap
 * are counted in vigil_host_dropped_total), then emits. The mount table, the most expensive file
 * for the kernel to generate, is parsed into a buffer of its own and kept until the kernel
 * signals a mount or unmount (POLLPRI on the mounts file). Filesystems are measured with
 * statfs(2), the call node_exporter makes (statvfs adds nothing and, on old kernels, reads
 * /proc/mounts again). No process is ever spawned, and no file other than the udev data files
 * (node_disk_info) is opened on a steady-state scrape.
 *
 * Agreement with node_exporter 1.5. Values are computed the way node_exporter computes them so
 * the two agree to the bit on constants: CPU ticks / USER_HZ, meminfo kB * 1024, sectors * 512,
 * milliseconds * 0.001, blocks * f_bsize. node_exporter keeps the last CPU counters and never
 * lets one go down (iowait can, on Linux), resetting a CPU whose idle time drops by 3 s or more
 * (a hotplug); this collector does the same, so node_cpu_seconds_total is a true counter.
 * Differences are listed in docs/host-metrics.md.
 *
 * Failure. A subsystem whose file cannot be read or parsed emits nothing for that collection
 * and reports node_scrape_collector_success{collector} 0, as node_exporter does; the collector
 * still returns VIGIL_OK so the other subsystems' output is kept (a collector that returns an
 * error has its whole output dropped). Only emitter failures (out of memory, output cap) are
 * returned.
 *
 * Threads. A registry runs its collectors under its own lock, but the state here has its own
 * mutex as well (h->lock), held for a whole collection, so it does not rely on that. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <linux/magic.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "collect/collect_int.h"
#include "collect/host_int.h"
#include "core/core_int.h"
#include "vigil/collect.h"

#define HOST_DEFAULT_MAX_CPUS 1024u
#define HOST_DEFAULT_MAX_FILESYSTEMS 256u
#define HOST_DEFAULT_MAX_DISKS 256u
#define HOST_DEFAULT_MAX_NET 256u
#define HOST_DEFAULT_MAX_FILE ((size_t)4 << 20)
#define HOST_INITIAL_BUFFER 16384u
#define HOST_MAX_MEMINFO 256u
/* node_exporter's cpu collector: an idle counter that drops by this much means a hotplug. */
#define CPU_JUMP_BACK_SECONDS 3.0
/* The usage gauge needs an interval of at least this many ticks per CPU (100 ms at USER_HZ
 * 100): scrapes closer together than that report the previous interval's value. */
#define CPU_USAGE_MIN_TICKS_PER_CPU 10u

/* Subsystems in the order they are collected; index = position in these tables. */
enum {
    SUB_CPU,
    SUB_MEMINFO,
    SUB_FILESYSTEM,
    SUB_DISKSTATS,
    SUB_NETDEV,
    SUB_LOADAVG,
    SUB_STAT,
    SUB_COUNT
};
static const char *const sub_names[SUB_COUNT] = {"cpu",    "meminfo", "filesystem", "diskstats",
                                                 "netdev", "loadavg", "stat"};
static const unsigned sub_bits[SUB_COUNT] = {
    VIGIL_HOST_CPU,    VIGIL_HOST_MEMINFO, VIGIL_HOST_FILESYSTEM, VIGIL_HOST_DISKSTATS,
    VIGIL_HOST_NETDEV, VIGIL_HOST_LOADAVG, VIGIL_HOST_STAT};

typedef struct host_regex {
    bool active; /* false: the pattern was "" (exclude nothing) */
    regex_t re;
} host_regex;

typedef struct host_fs {
    const vigil__host_mount *m; /* into h->mounts */
    bool ok;                    /* statfs succeeded */
    bool ro;
    double size, free, avail, files, files_free;
} host_fs;

typedef struct host_clamp {
    unsigned id;
    double v[VIGIL__CPU_FIELDS];
} host_clamp;

/* A /proc file kept open between collections: pread from offset 0 makes the kernel generate
 * its content afresh (seq_file restarts), and saves an open and a close per file per scrape. */
typedef struct host_file {
    char *path;
    int fd; /* -1: not open */
} host_file;

typedef struct host_buf {
    char *data;
    size_t cap, max;
} host_buf;

typedef struct host_state {
    struct host_state *next; /* the list of live collectors (hosts_lock) */
    vigil_registry *reg;     /* identity only, never dereferenced */
    char *name;

    pthread_mutex_t lock; /* guards everything below; held for a whole collection */
    unsigned subsystems;
    host_file f_stat, f_meminfo, f_loadavg, f_diskstats, f_netdev, f_mounts_init, f_mounts;
    char *rootfs, *udev;
    host_regex mp_ex, fstype_ex, disk_ex, net_ex;
    unsigned max_cpus, max_fs, max_disks, max_net;
    double hz;

    host_buf buf; /* the read buffer, reused by every file */

    vigil__host_stat stat;
    vigil__host_cpu *cpus;
    size_t cpus_cap, ncpus;
    bool stat_ok;

    /* Clamped CPU seconds, parallel to cpus[] (same ids in the same order), as node_exporter. */
    host_clamp *clamp;
    size_t clamp_cap, nclamp;

    /* vigil_host_cpu_usage_percent: the aggregate line at the start of the interval. */
    bool have_base;
    uint64_t base_total, base_busy;
    double cpu_usage; /* last value; NaN before the first interval */

    vigil__host_meminfo_field mem[HOST_MAX_MEMINFO];
    size_t nmem;

    /* The parsed mount table (fields point into mbuf), kept while the kernel reports no change. */
    host_buf mbuf;
    host_file *mounts_src; /* the file it came from: f_mounts_init or f_mounts */
    bool mounts_valid;     /* mounts[0..nmounts) reflect mounts_src */
    bool mounts_pollable;  /* mounts_src is on procfs, so POLLPRI reports changes */
    vigil__host_mount *mounts;
    size_t mounts_cap, nmounts, mounts_dropped;
    host_fs *fs;
    size_t fs_cap, nfs;

    vigil__host_disk *disks;
    size_t disks_cap, ndisks;

    vigil__host_netdev *nets;
    size_t nets_cap, nnets;

    uint64_t dropped[SUB_COUNT];
    double duration[SUB_COUNT];
    bool success[SUB_COUNT];
} host_state;

static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;
static host_state *hosts; /* every registered collector's state, so none is ever unreachable */

/* --- reading --------------------------------------------------------------------------------- */

static int open_ro(const char *path)
{
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

/* Reads a whole file from offset 0 into b (NUL-terminated), growing b by doubling up to b->max,
 * through a descriptor kept in f (opened when f->fd is -1). A descriptor that fails is closed
 * and the file opened again once (a /proc file can go stale, e.g. after a namespace change). On
 * failure e names the file and the errno (or "larger than max_file_bytes"). */
static bool file_read(host_buf *b, host_file *f, size_t *len, vigil__procfs_error *e)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (f->fd < 0) {
            f->fd = open_ro(f->path);
            if (f->fd < 0) {
                *e = (vigil__procfs_error){.path = f->path, .errnum = errno};
                return false;
            }
        }
        size_t used = 0;
        bool failed = false;
        for (;;) {
            if (b->cap - used < 2) {
                size_t ncap = b->cap ? b->cap * 2 : HOST_INITIAL_BUFFER;
                if (ncap > b->max)
                    ncap = b->max;
                char *nd = ncap > b->cap ? vigil__realloc(b->data, ncap) : NULL;
                if (nd == NULL) {
                    *e = (vigil__procfs_error){.path = f->path,
                                               .errnum = ncap > b->cap ? ENOMEM : 0,
                                               .what = "larger than max_file_bytes"};
                    return false; /* the descriptor is fine: keep it */
                }
                b->data = nd;
                b->cap = ncap;
            }
            ssize_t n = pread(f->fd, b->data + used, b->cap - used - 1, (off_t)used);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                *e = (vigil__procfs_error){.path = f->path, .errnum = errno};
                failed = true;
                break;
            }
            if (n == 0)
                break;
            used += (size_t)n;
        }
        if (!failed) {
            b->data[used] = '\0';
            *len = used;
            return true;
        }
        close(f->fd);
        f->fd = -1;
    }
    return false;
}

static void file_close(host_file *f)
{
    if (f->path != NULL && f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    vigil__free(f->path);
    f->path = NULL;
}

/* Grows an array to hold need elements (at most max); false when it cannot. */
static bool grow(void **arr, size_t *cap, size_t need, size_t elem, size_t max)
{
    if (need <= *cap)
        return true;
    if (need > max)
        need = max;
    if (need <= *cap)
        return false;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    if (ncap > max)
        ncap = max;
    void *n = vigil__realloc(*arr, ncap * elem);
    if (n == NULL)
        return false;
    *arr = n;
    *cap = ncap;
    return true;
}

static bool excluded(const host_regex *r, const char *s)
{
    return r->active && regexec(&r->re, s, 0, NULL, 0) == 0;
}

/* Decimal digits of v into out (at least 11 bytes). */
static void fmt_uint(char *out, unsigned v)
{
    char tmp[12];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* --- emitting -------------------------------------------------------------------------------- */

static vigil_status family(vigil_emitter *em, const char *name, const char *help,
                           vigil_metric_type type)
{
    vigil_family_desc d = {.name = name, .help = help, .unit = NULL, .type = type};
    return vigil_emit_family(em, &d);
}

#define TRY(expr)                      \
    do {                               \
        vigil_status try_st_ = (expr); \
        if (try_st_ != VIGIL_OK)       \
            return try_st_;            \
    } while (0)

static vigil_status single(vigil_emitter *em, const char *name, const char *help,
                           vigil_metric_type type, double v)
{
    TRY(family(em, name, help, type));
    return vigil_emit_sample(em, NULL, 0, v);
}

/* --- cpu and stat: /proc/stat ---------------------------------------------------------------- */

static bool read_stat(host_state *h, vigil__procfs_error *e)
{
    size_t len;
    if (!file_read(&h->buf, &h->f_stat, &len, e))
        return false;
    for (;;) {
        size_t dropped = 0;
        const char *what = NULL;
        if (!vigil__host_parse_stat(h->buf.data, &h->stat, h->cpus, h->cpus_cap, &h->ncpus,
                                    &dropped, &what)) {
            *e = (vigil__procfs_error){.path = h->f_stat.path, .what = what};
            return false;
        }
        if (dropped == 0 || !grow((void **)&h->cpus, &h->cpus_cap, h->ncpus + dropped,
                                  sizeof *h->cpus, h->max_cpus)) {
            h->dropped[SUB_CPU] += dropped;
            return true;
        }
    }
}

/* node_exporter's updateCPUStats: keep the largest value seen per CPU and mode; reset a CPU
 * whose idle time went back 3 s or more; reset all when the set of CPUs changes. Returns false
 * (report raw values) only when there is no memory for the history. */
static bool clamp_cpus(host_state *h)
{
    bool same = h->nclamp == h->ncpus;
    for (size_t i = 0; same && i < h->ncpus; i++)
        same = h->clamp[i].id == h->cpus[i].id;
    if (!same) {
        if (!grow((void **)&h->clamp, &h->clamp_cap, h->ncpus, sizeof *h->clamp, h->max_cpus)) {
            h->nclamp = 0;
            return false;
        }
        memset(h->clamp, 0, h->ncpus * sizeof *h->clamp);
        for (size_t i = 0; i < h->ncpus; i++)
            h->clamp[i].id = h->cpus[i].id;
        h->nclamp = h->ncpus;
    }
    for (size_t i = 0; i < h->ncpus; i++) {
        double *c = h->clamp[i].v;
        const uint64_t *t = h->cpus[i].ticks;
        if (c[VIGIL__CPU_IDLE] - (double)t[VIGIL__CPU_IDLE] / h->hz >= CPU_JUMP_BACK_SECONDS)
            memset(c, 0, sizeof h->clamp[i].v);
        for (int m = 0; m < VIGIL__CPU_FIELDS; m++) {
            double v = (double)t[m] / h->hz;
            if (v >= c[m])
                c[m] = v;
        }
    }
    return true;
}

static vigil_status emit_cpu(host_state *h, vigil_emitter *em)
{
    static const char *const modes[] = {"user",   "nice", "system",  "idle",
                                        "iowait", "irq",  "softirq", "steal"};
    if (h->ncpus == 0)
        return VIGIL_OK;
    bool clamped = clamp_cpus(h);
    char id[16];
    vigil_label l[2] = {{"cpu", id}, {"mode", NULL}};
    TRY(family(em, "node_cpu_guest_seconds",
               "Seconds the CPUs spent in guests (VMs) for each mode.", VIGIL_COUNTER));
    for (size_t i = 0; i < h->ncpus; i++) {
        fmt_uint(id, h->cpus[i].id);
        for (int g = 0; g < 2; g++) {
            int m = g == 0 ? VIGIL__CPU_GUEST_NICE : VIGIL__CPU_GUEST;
            l[1].value = g == 0 ? "nice" : "user";
            double v = clamped ? h->clamp[i].v[m] : (double)h->cpus[i].ticks[m] / h->hz;
            TRY(vigil_emit_sample(em, l, 2, v));
        }
    }
    TRY(family(em, "node_cpu_seconds", "Seconds the CPUs spent in each mode.", VIGIL_COUNTER));
    for (size_t i = 0; i < h->ncpus; i++) {
        fmt_uint(id, h->cpus[i].id);
        for (int m = 0; m <= VIGIL__CPU_STEAL; m++) {
            l[1].value = modes[m];
            double v = clamped ? h->clamp[i].v[m] : (double)h->cpus[i].ticks[m] / h->hz;
            TRY(vigil_emit_sample(em, l, 2, v));
        }
    }
    return VIGIL_OK;
}

/* Busy and total ticks of the aggregate line; guest time is already inside user and nice. */
static void cpu_busy_total(const uint64_t *t, uint64_t *busy, uint64_t *total)
{
    uint64_t sum = 0;
    for (int m = 0; m <= VIGIL__CPU_STEAL; m++)
        sum += t[m];
    *total = sum;
    uint64_t idle = t[VIGIL__CPU_IDLE] + t[VIGIL__CPU_IOWAIT];
    *busy = sum > idle ? sum - idle : 0;
}

static void update_cpu_usage(host_state *h)
{
    if (!h->stat.has_total)
        return;
    uint64_t busy, total;
    cpu_busy_total(h->stat.total, &busy, &total);
    uint64_t min_ticks = CPU_USAGE_MIN_TICKS_PER_CPU * (h->ncpus ? h->ncpus : 1);
    if (!h->have_base || total < h->base_total || busy < h->base_busy) {
        /* First look (or the counters went back): the average since boot, then intervals. */
        if (isnan(h->cpu_usage) && total > 0)
            h->cpu_usage = 100.0 * (double)busy / (double)total;
    } else if (total - h->base_total >= min_ticks) {
        double pct = 100.0 * (double)(busy - h->base_busy) / (double)(total - h->base_total);
        h->cpu_usage = pct < 0 ? 0 : pct > 100 ? 100 : pct;
    } else {
        /* Too short an interval: keep the baseline and the last value (or, before the first
         * interval, the average since boot). */
        if (isnan(h->cpu_usage) && total > 0)
            h->cpu_usage = 100.0 * (double)busy / (double)total;
        return;
    }
    h->have_base = true;
    h->base_total = total;
    h->base_busy = busy;
}

static vigil_status emit_stat(host_state *h, vigil_emitter *em)
{
    const vigil__host_stat *s = &h->stat;
    if (s->has_btime)
        TRY(single(em, "node_boot_time_seconds", "Node boot time, in unixtime.", VIGIL_GAUGE,
                   (double)s->btime));
    if (s->has_ctxt)
        TRY(single(em, "node_context_switches", "Total number of context switches.", VIGIL_COUNTER,
                   (double)s->ctxt));
    if (s->has_processes)
        TRY(single(em, "node_forks", "Total number of forks.", VIGIL_COUNTER,
                   (double)s->processes));
    if (s->has_intr)
        TRY(single(em, "node_intr", "Total number of interrupts serviced.", VIGIL_COUNTER,
                   (double)s->intr));
    if (s->has_blocked)
        TRY(single(em, "node_procs_blocked",
                   "Number of processes blocked waiting for I/O to complete.", VIGIL_GAUGE,
                   (double)s->procs_blocked));
    if (s->has_running)
        TRY(single(em, "node_procs_running", "Number of processes in runnable state.", VIGIL_GAUGE,
                   (double)s->procs_running));
    return VIGIL_OK;
}

/* --- meminfo --------------------------------------------------------------------------------- */

static bool read_meminfo(host_state *h, vigil__procfs_error *e)
{
    size_t len, dropped = 0;
    if (!file_read(&h->buf, &h->f_meminfo, &len, e))
        return false;
    h->nmem = vigil__host_parse_meminfo(h->buf.data, h->mem, HOST_MAX_MEMINFO, &dropped);
    h->dropped[SUB_MEMINFO] += dropped;
    if (h->nmem == 0) {
        *e = (vigil__procfs_error){.path = h->f_meminfo.path, .what = "no fields"};
        return false;
    }
    return true;
}

static vigil_status emit_meminfo(host_state *h, vigil_emitter *em)
{
    static const char np[] = "node_memory_", hp[] = "Memory information field ";
    char name[sizeof np + sizeof h->mem[0].name], help[sizeof hp + sizeof h->mem[0].name + 1];
    memcpy(name, np, sizeof np - 1);
    memcpy(help, hp, sizeof hp - 1);
    for (size_t i = 0; i < h->nmem; i++) {
        size_t n = strlen(h->mem[i].name); /* < sizeof name, by the parser */
        memcpy(name + sizeof np - 1, h->mem[i].name, n + 1);
        memcpy(help + sizeof hp - 1, h->mem[i].name, n);
        memcpy(help + sizeof hp - 1 + n, ".", 2);
        TRY(single(em, name, help, VIGIL_GAUGE, h->mem[i].value));
    }
    return VIGIL_OK;
}

/* MemAvailable, or its pre-3.14 approximation. */
static double mem_available(const vigil__host_meminfo_field *f, size_t n)
{
    double v = vigil__host_meminfo_get(f, n, "MemAvailable_bytes");
    if (isnan(v))
        v = vigil__host_meminfo_get(f, n, "MemFree_bytes") +
            vigil__host_meminfo_get(f, n, "Buffers_bytes") +
            vigil__host_meminfo_get(f, n, "Cached_bytes");
    return v;
}

static vigil_status emit_memory_usage(host_state *h, vigil_emitter *em)
{
    double total = vigil__host_meminfo_get(h->mem, h->nmem, "MemTotal_bytes");
    double avail = mem_available(h->mem, h->nmem);
    if (isnan(total) || isnan(avail) || total <= 0)
        return VIGIL_OK;
    double used = total - avail;
    TRY(single(em, "vigil_host_memory_used_bytes",
               "Memory in use: MemTotal - MemAvailable, in bytes.", VIGIL_GAUGE, used));
    return single(em, "vigil_host_memory_used_percent",
                  "Memory in use as a percentage of MemTotal: 100 * (MemTotal - MemAvailable) / "
                  "MemTotal.",
                  VIGIL_GAUGE, 100.0 * used / total);
}

/* --- filesystem ------------------------------------------------------------------------------ */

static bool fs_statfs(const host_state *h, const char *mountpoint, struct statfs *sf)
{
    char path[PATH_MAX];
    const char *p = mountpoint;
    if (h->rootfs[0] != '\0') {
        int n = snprintf(path, sizeof path, "%s%s", h->rootfs, mountpoint);
        if (n < 0 || (size_t)n >= sizeof path)
            return false;
        p = path;
    }
    int rc;
    do {
        rc = statfs(p, sf);
    } while (rc != 0 && errno == EINTR);
    return rc == 0;
}

/* The mount table changes rarely and costs the kernel the most to generate (one line per mount;
 * hundreds on a Kubernetes node), so its parsed form is kept: a /proc mounts file signals a
 * mount or unmount in its namespace with POLLPRI (proc(5)), and it is read and parsed again only
 * then. A file that is not on procfs (a test fixture) cannot signal and is read every time. */
static bool mounts_unchanged(host_state *h)
{
    if (!h->mounts_valid || !h->mounts_pollable || h->mounts_src == NULL || h->mounts_src->fd < 0)
        return false;
    struct pollfd p = {.fd = h->mounts_src->fd, .events = POLLPRI};
    int rc;
    do {
        rc = poll(&p, 1, 0);
    } while (rc < 0 && errno == EINTR);
    return rc == 0 || (rc > 0 && !(p.revents & (POLLPRI | POLLERR | POLLNVAL)));
}

static bool read_mounts(host_state *h, vigil__procfs_error *e)
{
    size_t len;
    host_file *src = &h->f_mounts_init;
    h->mounts_valid = false;
    if (!file_read(&h->mbuf, src, &len, e)) {
        /* /proc/1/mounts is hidden under hidepid (node_exporter falls back the same way). */
        src = &h->f_mounts;
        if (!file_read(&h->mbuf, src, &len, e))
            return false;
    }
    struct statfs sf;
    h->mounts_src = src;
    h->mounts_pollable = fstatfs(src->fd, &sf) == 0 && sf.f_type == PROC_SUPER_MAGIC;
    size_t nm = 0, dropped = 0;
    for (char *s = h->mbuf.data; *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = '\0';
        vigil__host_mount m;
        if (vigil__host_parse_mount_line(s, &m) && !excluded(&h->mp_ex, m.mountpoint) &&
            !excluded(&h->fstype_ex, m.fstype)) {
            bool dup = false;
            for (size_t i = 0; i < nm && !dup; i++) {
                const vigil__host_mount *o = &h->mounts[i];
                dup = strcmp(o->mountpoint, m.mountpoint) == 0 &&
                      strcmp(o->device, m.device) == 0 && strcmp(o->fstype, m.fstype) == 0;
            }
            if (!dup) {
                if (!vigil__utf8_valid(m.device, strlen(m.device)) ||
                    !vigil__utf8_valid(m.mountpoint, strlen(m.mountpoint)) ||
                    !vigil__utf8_valid(m.fstype, strlen(m.fstype)) ||
                    !grow((void **)&h->mounts, &h->mounts_cap, nm + 1, sizeof *h->mounts,
                          h->max_fs)) {
                    dropped++;
                } else {
                    h->mounts[nm++] = m;
                }
            }
        }
        if (nl == NULL)
            break;
        s = nl + 1;
    }
    if (!grow((void **)&h->fs, &h->fs_cap, nm, sizeof *h->fs, h->max_fs)) {
        *e = (vigil__procfs_error){.path = src->path, .errnum = ENOMEM};
        return false;
    }
    h->nmounts = nm;
    h->mounts_dropped = dropped;
    h->mounts_valid = true;
    return true;
}

static bool read_filesystems(host_state *h, vigil__procfs_error *e)
{
    h->nfs = 0;
    if (!mounts_unchanged(h) && !read_mounts(h, e))
        return false;
    h->dropped[SUB_FILESYSTEM] += h->mounts_dropped; /* counted per collection */
    for (size_t i = 0; i < h->nmounts; i++) {
        host_fs *f = &h->fs[i];
        struct statfs sf;
        f->m = &h->mounts[i];
        f->ok = fs_statfs(h, f->m->mountpoint, &sf);
        f->ro = vigil__host_mount_readonly(f->m->options);
        if (f->ok) {
            double bs = (double)sf.f_bsize;
            f->size = (double)sf.f_blocks * bs;
            f->free = (double)sf.f_bfree * bs;
            f->avail = (double)sf.f_bavail * bs;
            f->files = (double)sf.f_files;
            f->files_free = (double)sf.f_ffree;
        }
    }
    h->nfs = h->nmounts;
    return true;
}

static size_t fs_labels(const host_fs *f, vigil_label l[3])
{
    l[0] = (vigil_label){"device", f->m->device};
    l[1] = (vigil_label){"fstype", f->m->fstype};
    l[2] = (vigil_label){"mountpoint", f->m->mountpoint};
    return 3;
}

static vigil_status emit_fs_family(host_state *h, vigil_emitter *em, const char *name,
                                   const char *help, size_t offset)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nfs; i++)
        n += h->fs[i].ok;
    if (n == 0)
        return VIGIL_OK;
    TRY(family(em, name, help, VIGIL_GAUGE));
    for (size_t i = 0; i < h->nfs; i++) {
        const host_fs *f = &h->fs[i];
        if (!f->ok)
            continue;
        vigil_label l[3];
        double v;
        if (offset == (size_t)-1)
            v = f->ro ? 1 : 0;
        else
            memcpy(&v, (const char *)f + offset, sizeof v);
        TRY(vigil_emit_sample(em, l, fs_labels(f, l), v));
    }
    return VIGIL_OK;
}

static vigil_status emit_filesystems(host_state *h, vigil_emitter *em)
{
    if (h->nfs == 0)
        return VIGIL_OK;
    TRY(emit_fs_family(h, em, "node_filesystem_avail_bytes",
                       "Filesystem space available to non-root users in bytes.",
                       offsetof(host_fs, avail)));
    TRY(family(em, "node_filesystem_device_error",
               "Whether an error occurred while getting statistics for the given device.",
               VIGIL_GAUGE));
    for (size_t i = 0; i < h->nfs; i++) {
        vigil_label l[3];
        TRY(vigil_emit_sample(em, l, fs_labels(&h->fs[i], l), h->fs[i].ok ? 0 : 1));
    }
    TRY(emit_fs_family(h, em, "node_filesystem_files", "Filesystem total file nodes.",
                       offsetof(host_fs, files)));
    TRY(emit_fs_family(h, em, "node_filesystem_files_free", "Filesystem total free file nodes.",
                       offsetof(host_fs, files_free)));
    TRY(emit_fs_family(h, em, "node_filesystem_free_bytes", "Filesystem free space in bytes.",
                       offsetof(host_fs, free)));
    TRY(emit_fs_family(h, em, "node_filesystem_readonly", "Filesystem read-only status.",
                       (size_t)-1));
    return emit_fs_family(h, em, "node_filesystem_size_bytes", "Filesystem size in bytes.",
                          offsetof(host_fs, size));
}

static vigil_status emit_filesystem_usage(host_state *h, vigil_emitter *em)
{
    size_t n = 0;
    for (size_t i = 0; i < h->nfs; i++)
        n += h->fs[i].ok && h->fs[i].size > 0;
    if (n == 0)
        return VIGIL_OK;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            TRY(family(em, "vigil_host_filesystem_used_bytes",
                       "Filesystem space in use (size - free), in bytes.", VIGIL_GAUGE));
        else
            TRY(family(em, "vigil_host_filesystem_used_percent",
                       "Filesystem space in use as df's Use%: 100 * used / (used + avail).",
                       VIGIL_GAUGE));
        for (size_t i = 0; i < h->nfs; i++) {
            const host_fs *f = &h->fs[i];
            if (!f->ok || !(f->size > 0))
                continue;
            double used = f->size - f->free;
            double v = used;
            if (pass == 1)
                v = used + f->avail > 0 ? 100.0 * used / (used + f->avail) : 0;
            vigil_label l[3];
            TRY(vigil_emit_sample(em, l, fs_labels(f, l), v));
        }
    }
    return VIGIL_OK;
}

/* --- diskstats ------------------------------------------------------------------------------- */

static bool read_diskstats(host_state *h, vigil__procfs_error *e)
{
    size_t len;
    if (!file_read(&h->buf, &h->f_diskstats, &len, e))
        return false;
    size_t n = 0;
    for (const char *s = h->buf.data; *s;) {
        const char *nl = strchr(s, '\n');
        size_t ll = nl ? (size_t)(nl - s) : strlen(s);
        vigil__host_disk d;
        if (vigil__host_parse_disk_line(s, ll, &d) && !excluded(&h->disk_ex, d.name)) {
            bool dup = false;
            for (size_t i = 0; i < n && !dup; i++)
                dup = strcmp(h->disks[i].name, d.name) == 0;
            if (dup) {
                /* the same name twice cannot be two series; keep the first */
            } else if (!vigil__utf8_valid(d.name, strlen(d.name)) ||
                       !grow((void **)&h->disks, &h->disks_cap, n + 1, sizeof *h->disks,
                             h->max_disks)) {
                h->dropped[SUB_DISKSTATS]++;
            } else {
                h->disks[n++] = d;
            }
        }
        if (nl == NULL)
            break;
        s = nl + 1;
    }
    h->ndisks = n;
    return true;
}

static const struct {
    const char *name, *help;
    vigil_metric_type type;
    double scale; /* 1, 512 (sectors to bytes) or 0.001 (ms to s) */
} disk_families[VIGIL__DISK_FIELDS] = {
    {"node_disk_reads_completed", "The total number of reads completed successfully.",
     VIGIL_COUNTER, 1},
    {"node_disk_reads_merged", "The total number of reads merged.", VIGIL_COUNTER, 1},
    {"node_disk_read_bytes", "The total number of bytes read successfully.", VIGIL_COUNTER, 512},
    {"node_disk_read_time_seconds", "The total number of seconds spent by all reads.",
     VIGIL_COUNTER, 0.001},
    {"node_disk_writes_completed", "The total number of writes completed successfully.",
     VIGIL_COUNTER, 1},
    {"node_disk_writes_merged", "The number of writes merged.", VIGIL_COUNTER, 1},
    {"node_disk_written_bytes", "The total number of bytes written successfully.", VIGIL_COUNTER,
     512},
    {"node_disk_write_time_seconds", "This is the total number of seconds spent by all writes.",
     VIGIL_COUNTER, 0.001},
    {"node_disk_io_now", "The number of I/Os currently in progress.", VIGIL_GAUGE, 1},
    {"node_disk_io_time_seconds", "Total seconds spent doing I/Os.", VIGIL_COUNTER, 0.001},
    {"node_disk_io_time_weighted_seconds", "The weighted # of seconds spent doing I/Os.",
     VIGIL_COUNTER, 0.001},
    {"node_disk_discards_completed", "The total number of discards completed successfully.",
     VIGIL_COUNTER, 1},
    {"node_disk_discards_merged", "The total number of discards merged.", VIGIL_COUNTER, 1},
    {"node_disk_discarded_sectors", "The total number of sectors discarded successfully.",
     VIGIL_COUNTER, 1},
    {"node_disk_discard_time_seconds", "This is the total number of seconds spent by all discards.",
     VIGIL_COUNTER, 0.001},
    {"node_disk_flush_requests", "The total number of flush requests completed successfully",
     VIGIL_COUNTER, 1},
    {"node_disk_flush_requests_time_seconds",
     "This is the total number of seconds spent by all flush requests.", VIGIL_COUNTER, 0.001},
};

static vigil_status emit_disk_info(host_state *h, vigil_emitter *em)
{
    TRY(family(em, "node_disk_info", "Info of /sys/block/<block_device>.", VIGIL_GAUGE));
    for (size_t i = 0; i < h->ndisks; i++) {
        const vigil__host_disk *d = &h->disks[i];
        char major[16], minor[16], path[PATH_MAX];
        fmt_uint(major, d->major);
        fmt_uint(minor, d->minor);
        vigil__host_udev u = {"", "", "", "", ""};
        int pn = snprintf(path, sizeof path, "%s/b%u:%u", h->udev, d->major, d->minor);
        size_t len;
        vigil__procfs_error e;
        host_file f = {.path = path, .fd = -1}; /* udev data changes: not kept open */
        bool ok = pn > 0 && (size_t)pn < sizeof path && file_read(&h->buf, &f, &len, &e);
        if (f.fd >= 0)
            close(f.fd);
        if (ok) {
            vigil__host_parse_udev(h->buf.data, &u);
            const char **v[] = {&u.path, &u.wwn, &u.model, &u.serial, &u.revision};
            for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
                if (!vigil__utf8_valid(*v[k], strlen(*v[k])))
                    *v[k] = "";
            }
        }
        vigil_label l[8] = {{"device", d->name},  {"major", major}, {"minor", minor},
                            {"model", u.model},   {"path", u.path}, {"revision", u.revision},
                            {"serial", u.serial}, {"wwn", u.wwn}};
        TRY(vigil_emit_sample(em, l, 8, 1));
    }
    return VIGIL_OK;
}

static vigil_status emit_diskstats(host_state *h, vigil_emitter *em)
{
    if (h->ndisks == 0)
        return VIGIL_OK;
    TRY(emit_disk_info(h, em));
    for (unsigned k = 0; k < VIGIL__DISK_FIELDS; k++) {
        bool any = false;
        for (size_t i = 0; i < h->ndisks && !any; i++)
            any = k < h->disks[i].nfields;
        if (!any)
            continue;
        TRY(family(em, disk_families[k].name, disk_families[k].help, disk_families[k].type));
        for (size_t i = 0; i < h->ndisks; i++) {
            const vigil__host_disk *d = &h->disks[i];
            if (k >= d->nfields)
                continue;
            vigil_label l = {"device", d->name};
            double v = (double)d->f[k];
            if (disk_families[k].scale != 1)
                v *= disk_families[k].scale;
            TRY(vigil_emit_sample(em, &l, 1, v));
        }
    }
    return VIGIL_OK;
}

/* --- netdev ---------------------------------------------------------------------------------- */

static bool read_netdev(host_state *h, vigil__procfs_error *e)
{
    size_t len;
    if (!file_read(&h->buf, &h->f_netdev, &len, e))
        return false;
    size_t n = 0;
    for (const char *s = h->buf.data; *s;) {
        const char *nl = strchr(s, '\n');
        size_t ll = nl ? (size_t)(nl - s) : strlen(s);
        vigil__host_netdev d;
        if (vigil__host_parse_netdev_line(s, ll, &d) && !excluded(&h->net_ex, d.name)) {
            bool dup = false;
            for (size_t i = 0; i < n && !dup; i++)
                dup = strcmp(h->nets[i].name, d.name) == 0;
            if (dup) {
                /* keep the first */
            } else if (!vigil__utf8_valid(d.name, strlen(d.name)) ||
                       !grow((void **)&h->nets, &h->nets_cap, n + 1, sizeof *h->nets, h->max_net)) {
                h->dropped[SUB_NETDEV]++;
            } else {
                h->nets[n++] = d;
            }
        }
        if (nl == NULL)
            break;
        s = nl + 1;
    }
    h->nnets = n;
    return true;
}

/* In name order (the order node_exporter exposes them); idx is the /proc/net/dev column. */
static const struct {
    const char *name, *help;
    unsigned idx;
} net_families[VIGIL__NETDEV_FIELDS] = {
    {"node_network_receive_bytes", "Network device statistic receive_bytes.", 0},
    {"node_network_receive_compressed", "Network device statistic receive_compressed.", 6},
    {"node_network_receive_drop", "Network device statistic receive_drop.", 3},
    {"node_network_receive_errs", "Network device statistic receive_errs.", 2},
    {"node_network_receive_fifo", "Network device statistic receive_fifo.", 4},
    {"node_network_receive_frame", "Network device statistic receive_frame.", 5},
    {"node_network_receive_multicast", "Network device statistic receive_multicast.", 7},
    {"node_network_receive_packets", "Network device statistic receive_packets.", 1},
    {"node_network_transmit_bytes", "Network device statistic transmit_bytes.", 8},
    {"node_network_transmit_carrier", "Network device statistic transmit_carrier.", 14},
    {"node_network_transmit_colls", "Network device statistic transmit_colls.", 13},
    {"node_network_transmit_compressed", "Network device statistic transmit_compressed.", 15},
    {"node_network_transmit_drop", "Network device statistic transmit_drop.", 11},
    {"node_network_transmit_errs", "Network device statistic transmit_errs.", 10},
    {"node_network_transmit_fifo", "Network device statistic transmit_fifo.", 12},
    {"node_network_transmit_packets", "Network device statistic transmit_packets.", 9},
};

static vigil_status emit_netdev(host_state *h, vigil_emitter *em)
{
    if (h->nnets == 0)
        return VIGIL_OK;
    for (unsigned k = 0; k < VIGIL__NETDEV_FIELDS; k++) {
        TRY(family(em, net_families[k].name, net_families[k].help, VIGIL_COUNTER));
        for (size_t i = 0; i < h->nnets; i++) {
            vigil_label l = {"device", h->nets[i].name};
            TRY(vigil_emit_sample(em, &l, 1, (double)h->nets[i].f[net_families[k].idx]));
        }
    }
    return VIGIL_OK;
}

/* --- loadavg --------------------------------------------------------------------------------- */

static vigil_status emit_loadavg(host_state *h, vigil_emitter *em, bool *ok, vigil__procfs_error *e)
{
    size_t len;
    double load[3];
    *ok = file_read(&h->buf, &h->f_loadavg, &len, e);
    if (*ok && !vigil__host_parse_loadavg(h->buf.data, load)) {
        *e = (vigil__procfs_error){.path = h->f_loadavg.path, .what = "malformed"};
        *ok = false;
    }
    if (!*ok)
        return VIGIL_OK;
    TRY(single(em, "node_load1", "1m load average.", VIGIL_GAUGE, load[0]));
    TRY(single(em, "node_load15", "15m load average.", VIGIL_GAUGE, load[2]));
    return single(em, "node_load5", "5m load average.", VIGIL_GAUGE, load[1]);
}

/* --- the collector --------------------------------------------------------------------------- */

static vigil_status emit_self(host_state *h, vigil_emitter *em)
{
    if (!(h->subsystems & (VIGIL_HOST_ALL & ~VIGIL_HOST_USAGE)))
        return VIGIL_OK; /* only the usage gauges: no node_exporter collector to report on */
    vigil_label l = {"collector", NULL};
    TRY(family(em, "node_scrape_collector_duration_seconds",
               "node_exporter: Duration of a collector scrape.", VIGIL_GAUGE));
    for (int i = 0; i < SUB_COUNT; i++) {
        if (!(h->subsystems & sub_bits[i]))
            continue;
        l.value = sub_names[i];
        TRY(vigil_emit_sample(em, &l, 1, h->duration[i]));
    }
    TRY(family(em, "node_scrape_collector_success", "node_exporter: Whether a collector succeeded.",
               VIGIL_GAUGE));
    for (int i = 0; i < SUB_COUNT; i++) {
        if (!(h->subsystems & sub_bits[i]))
            continue;
        l.value = sub_names[i];
        TRY(vigil_emit_sample(em, &l, 1, h->success[i] ? 1 : 0));
    }
    if (!(h->subsystems & (VIGIL_HOST_CPU | VIGIL_HOST_MEMINFO | VIGIL_HOST_FILESYSTEM |
                           VIGIL_HOST_DISKSTATS | VIGIL_HOST_NETDEV)))
        return VIGIL_OK;
    vigil_label d = {"subsystem", NULL};
    TRY(family(em, "vigil_host_dropped",
               "Items (CPUs, filesystems, devices, meminfo fields) the host collector left out: "
               "over its cap, or not representable.",
               VIGIL_COUNTER));
    for (int i = 0; i < SUB_COUNT; i++) {
        if (i == SUB_LOADAVG || i == SUB_STAT || !(h->subsystems & sub_bits[i]))
            continue;
        d.value = sub_names[i];
        TRY(vigil_emit_sample(em, &d, 1, (double)h->dropped[i]));
    }
    return VIGIL_OK;
}

static double seconds_since(uint64_t t0)
{
    return (double)(vigil__mono_ns() - t0) / 1e9;
}

static vigil_status collect_locked(host_state *h, vigil_emitter *em)
{
    unsigned want = h->subsystems;
    bool usage = want & VIGIL_HOST_USAGE;
    vigil__procfs_error e;
    uint64_t t0;
    for (int i = 0; i < SUB_COUNT; i++) {
        h->success[i] = false;
        h->duration[i] = 0;
    }

    /* /proc/stat feeds cpu, stat and the CPU usage gauge. */
    if (want & (VIGIL_HOST_CPU | VIGIL_HOST_STAT | VIGIL_HOST_USAGE)) {
        t0 = vigil__mono_ns();
        h->stat_ok = read_stat(h, &e);
        if (h->stat_ok) {
            if (want & VIGIL_HOST_CPU)
                TRY(emit_cpu(h, em));
            if (usage) {
                update_cpu_usage(h);
                if (!isnan(h->cpu_usage))
                    TRY(single(em, "vigil_host_cpu_usage_percent",
                               "Share of CPU time, all CPUs together, not idle or waiting for "
                               "I/O over the interval since the previous collection, in percent.",
                               VIGIL_GAUGE, h->cpu_usage));
            }
        }
        h->success[SUB_CPU] = h->stat_ok;
        h->duration[SUB_CPU] = seconds_since(t0);
        if (h->stat_ok && (want & VIGIL_HOST_STAT)) {
            t0 = vigil__mono_ns();
            TRY(emit_stat(h, em));
            h->duration[SUB_STAT] = seconds_since(t0);
        }
        h->success[SUB_STAT] = h->stat_ok;
    }
    if (want & (VIGIL_HOST_MEMINFO | VIGIL_HOST_USAGE)) {
        t0 = vigil__mono_ns();
        bool ok = read_meminfo(h, &e);
        if (ok && (want & VIGIL_HOST_MEMINFO))
            TRY(emit_meminfo(h, em));
        if (ok && usage)
            TRY(emit_memory_usage(h, em));
        h->success[SUB_MEMINFO] = ok;
        h->duration[SUB_MEMINFO] = seconds_since(t0);
    }
    if (want & (VIGIL_HOST_FILESYSTEM | VIGIL_HOST_USAGE)) {
        t0 = vigil__mono_ns();
        bool ok = read_filesystems(h, &e);
        if (ok && (want & VIGIL_HOST_FILESYSTEM))
            TRY(emit_filesystems(h, em));
        if (ok && usage)
            TRY(emit_filesystem_usage(h, em));
        h->success[SUB_FILESYSTEM] = ok;
        h->duration[SUB_FILESYSTEM] = seconds_since(t0);
    }
    if (want & VIGIL_HOST_DISKSTATS) {
        t0 = vigil__mono_ns();
        bool ok = read_diskstats(h, &e);
        if (ok)
            TRY(emit_diskstats(h, em));
        h->success[SUB_DISKSTATS] = ok;
        h->duration[SUB_DISKSTATS] = seconds_since(t0);
    }
    if (want & VIGIL_HOST_NETDEV) {
        t0 = vigil__mono_ns();
        bool ok = read_netdev(h, &e);
        if (ok)
            TRY(emit_netdev(h, em));
        h->success[SUB_NETDEV] = ok;
        h->duration[SUB_NETDEV] = seconds_since(t0);
    }
    if (want & VIGIL_HOST_LOADAVG) {
        t0 = vigil__mono_ns();
        bool ok;
        TRY(emit_loadavg(h, em, &ok, &e));
        h->success[SUB_LOADAVG] = ok;
        h->duration[SUB_LOADAVG] = seconds_since(t0);
    }
    return emit_self(h, em);
}

static vigil_status collect_host(vigil_emitter *em, void *user)
{
    host_state *h = user;
    pthread_mutex_lock(&h->lock);
    vigil_status st = collect_locked(h, em);
    pthread_mutex_unlock(&h->lock);
    return st;
}

/* --- registration ---------------------------------------------------------------------------- */

VIGIL_API void vigil_host_options_init(vigil_host_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->subsystems = VIGIL_HOST_ALL;
    o->proc_path = "/proc";
    o->rootfs_path = "";
    o->udev_data_path = "/run/udev/data";
    o->mount_points_exclude = VIGIL_HOST_DEFAULT_MOUNT_POINTS_EXCLUDE;
    o->fs_types_exclude = VIGIL_HOST_DEFAULT_FS_TYPES_EXCLUDE;
    o->disk_devices_exclude = VIGIL_HOST_DEFAULT_DISK_DEVICES_EXCLUDE;
    o->net_devices_exclude = VIGIL_HOST_DEFAULT_NET_DEVICES_EXCLUDE;
    o->max_cpus = HOST_DEFAULT_MAX_CPUS;
    o->max_filesystems = HOST_DEFAULT_MAX_FILESYSTEMS;
    o->max_disks = HOST_DEFAULT_MAX_DISKS;
    o->max_net_devices = HOST_DEFAULT_MAX_NET;
    o->max_file_bytes = HOST_DEFAULT_MAX_FILE;
    o->name = "host";
}

static void regex_free(host_regex *r)
{
    if (r->active)
        regfree(&r->re);
    r->active = false;
}

static vigil_status regex_init(host_regex *r, const char *pattern, const char *fallback,
                               const char *what)
{
    if (pattern == NULL)
        pattern = fallback;
    r->active = false;
    if (*pattern == '\0')
        return VIGIL_OK;
    int rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);
    if (rc != 0) {
        char msg[128];
        regerror(rc, &r->re, msg, sizeof msg);
        return vigil__fail(VIGIL_EINVAL, "host collector: %s pattern \"%.200s\": %s", what, pattern,
                           msg);
    }
    r->active = true;
    return VIGIL_OK;
}

static void state_free(host_state *h)
{
    if (h == NULL)
        return;
    host_file *files[] = {&h->f_stat,   &h->f_meminfo,     &h->f_loadavg, &h->f_diskstats,
                          &h->f_netdev, &h->f_mounts_init, &h->f_mounts};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        file_close(files[i]);
    vigil__free(h->name);
    vigil__free(h->rootfs);
    vigil__free(h->udev);
    regex_free(&h->mp_ex);
    regex_free(&h->fstype_ex);
    regex_free(&h->disk_ex);
    regex_free(&h->net_ex);
    vigil__free(h->buf.data);
    vigil__free(h->mbuf.data);
    vigil__free(h->cpus);
    vigil__free(h->clamp);
    vigil__free(h->mounts);
    vigil__free(h->fs);
    vigil__free(h->disks);
    vigil__free(h->nets);
    pthread_mutex_destroy(&h->lock);
    vigil__free(h);
}

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--; /* "/proc/" and "/proc" name the same files */
    char *s = vigil__malloc(la + lb + 1);
    if (s) {
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
    }
    return s;
}

static vigil_status state_new(const vigil_host_options *o, host_state **out)
{
    host_state *h = vigil__calloc(1, sizeof *h);
    if (h == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating the host collector");
    pthread_mutex_init(&h->lock, NULL);
    const char *proc = o->proc_path && *o->proc_path ? o->proc_path : "/proc";
    h->subsystems = o->subsystems ? o->subsystems & VIGIL_HOST_ALL : VIGIL_HOST_ALL;
    h->name = vigil__strdup(o->name && *o->name ? o->name : "host");
    struct {
        host_file *f;
        const char *rel;
    } files[] = {{&h->f_stat, "/stat"},       {&h->f_meminfo, "/meminfo"},
                 {&h->f_loadavg, "/loadavg"}, {&h->f_diskstats, "/diskstats"},
                 {&h->f_netdev, "/net/dev"},  {&h->f_mounts_init, "/1/mounts"},
                 {&h->f_mounts, "/mounts"}};
    bool paths_ok = true;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        files[i].f->fd = -1;
        files[i].f->path = join(proc, files[i].rel);
        paths_ok = paths_ok && files[i].f->path != NULL;
    }
    h->rootfs = vigil__strdup(o->rootfs_path ? o->rootfs_path : "");
    if (h->rootfs) {
        size_t n = strlen(h->rootfs);
        while (n > 0 && h->rootfs[n - 1] == '/')
            h->rootfs[--n] = '\0'; /* "/" and "" both mean the real root */
    }
    h->udev = vigil__strdup(o->udev_data_path && *o->udev_data_path ? o->udev_data_path
                                                                    : "/run/udev/data");
    if (!h->name || !paths_ok || !h->rootfs || !h->udev) {
        state_free(h);
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating the host collector");
    }
    vigil_status st = regex_init(&h->mp_ex, o->mount_points_exclude,
                                 VIGIL_HOST_DEFAULT_MOUNT_POINTS_EXCLUDE, "mount_points_exclude");
    if (st == VIGIL_OK)
        st = regex_init(&h->fstype_ex, o->fs_types_exclude, VIGIL_HOST_DEFAULT_FS_TYPES_EXCLUDE,
                        "fs_types_exclude");
    if (st == VIGIL_OK)
        st = regex_init(&h->disk_ex, o->disk_devices_exclude,
                        VIGIL_HOST_DEFAULT_DISK_DEVICES_EXCLUDE, "disk_devices_exclude");
    if (st == VIGIL_OK)
        st = regex_init(&h->net_ex, o->net_devices_exclude, VIGIL_HOST_DEFAULT_NET_DEVICES_EXCLUDE,
                        "net_devices_exclude");
    if (st != VIGIL_OK) {
        state_free(h);
        return st;
    }
    h->max_cpus = o->max_cpus ? o->max_cpus : HOST_DEFAULT_MAX_CPUS;
    h->max_fs = o->max_filesystems ? o->max_filesystems : HOST_DEFAULT_MAX_FILESYSTEMS;
    h->max_disks = o->max_disks ? o->max_disks : HOST_DEFAULT_MAX_DISKS;
    h->max_net = o->max_net_devices ? o->max_net_devices : HOST_DEFAULT_MAX_NET;
    h->buf.max = o->max_file_bytes ? o->max_file_bytes : HOST_DEFAULT_MAX_FILE;
    if (h->buf.max < 64)
        h->buf.max = 64;
    h->mbuf.max = h->buf.max;
    long hz = sysconf(_SC_CLK_TCK);
    h->hz = hz > 0 ? (double)hz : 100.0; /* USER_HZ is 100 on every Linux ABI */
    h->cpu_usage = NAN;
    *out = h;
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_collect_host_register(vigil_registry *reg,
                                                   const vigil_host_options *opts)
{
    if (reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_collect_host_register: reg is NULL");
    vigil_host_options defaults;
    if (opts == NULL) {
        vigil_host_options_init(&defaults);
        opts = &defaults;
    }
    host_state *h;
    vigil_status st = state_new(opts, &h);
    if (st != VIGIL_OK)
        return st;
    h->reg = reg;
    /* The CPU usage gauge measures from here, so the first scrape already has an interval. */
    if (h->subsystems & VIGIL_HOST_USAGE) {
        vigil__procfs_error e;
        if (read_stat(h, &e) && h->stat.has_total) {
            cpu_busy_total(h->stat.total, &h->base_busy, &h->base_total);
            h->have_base = true;
        }
        h->dropped[SUB_CPU] = 0; /* counted per collection, and this was not one */
    }
    st = vigil_registry_add_collector(reg, h->name, collect_host, h);
    if (st != VIGIL_OK) {
        state_free(h);
        return st;
    }
    pthread_mutex_lock(&hosts_lock);
    h->next = hosts;
    hosts = h;
    pthread_mutex_unlock(&hosts_lock);
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_collect_host_unregister(vigil_registry *reg, const char *name)
{
    if (reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_collect_host_unregister: reg is NULL");
    if (name == NULL || *name == '\0')
        name = "host";
    pthread_mutex_lock(&hosts_lock);
    host_state **pp = &hosts;
    while (*pp && !((*pp)->reg == reg && strcmp((*pp)->name, name) == 0))
        pp = &(*pp)->next;
    host_state *h = *pp;
    if (h)
        *pp = h->next;
    pthread_mutex_unlock(&hosts_lock);
    if (h == NULL)
        return vigil__fail(VIGIL_ENOTFOUND, "no host collector \"%s\" on this registry", name);
    /* Waits for a collection in progress; after it, nothing calls collect_host with h. */
    vigil_status st = vigil_registry_remove_collector(reg, name);
    state_free(h);
    return st;
}

/* --- snapshots without a registry ------------------------------------------------------------ */

VIGIL_API vigil_status vigil_host_stats_read(const char *proc_path, vigil_host_stats *out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_host_stats_read: out is NULL");
    double *all[] = {&out->cpu_total_seconds,
                     &out->cpu_idle_seconds,
                     &out->cpu_iowait_seconds,
                     &out->mem_total_bytes,
                     &out->mem_available_bytes,
                     &out->mem_free_bytes,
                     &out->swap_total_bytes,
                     &out->swap_free_bytes,
                     &out->load1,
                     &out->load5,
                     &out->load15,
                     &out->boot_time_seconds};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        *all[i] = NAN;
    out->cpus = 0;

    vigil_host_options o;
    vigil_host_options_init(&o);
    o.subsystems = VIGIL_HOST_CPU;
    o.proc_path = proc_path;
    /* No devices or mounts are read here: skip compiling the exclusion patterns. */
    o.mount_points_exclude = o.fs_types_exclude = "";
    o.disk_devices_exclude = o.net_devices_exclude = "";
    host_state *h;
    vigil_status st = state_new(&o, &h);
    if (st != VIGIL_OK)
        return st;
    vigil__procfs_error e = {0}, first = {0};
    bool failed = false;
    if (read_stat(h, &e) && h->stat.has_total) {
        uint64_t busy, total;
        cpu_busy_total(h->stat.total, &busy, &total);
        out->cpu_total_seconds = (double)total / h->hz;
        out->cpu_idle_seconds = (double)h->stat.total[VIGIL__CPU_IDLE] / h->hz;
        out->cpu_iowait_seconds = (double)h->stat.total[VIGIL__CPU_IOWAIT] / h->hz;
        out->cpus = (unsigned)(h->ncpus + h->dropped[SUB_CPU]);
        if (h->stat.has_btime)
            out->boot_time_seconds = (double)h->stat.btime;
    } else {
        if (e.path == NULL)
            e = (vigil__procfs_error){.path = h->f_stat.path, .what = "no aggregate cpu line"};
        first = e;
        failed = true;
    }
    if (read_meminfo(h, &e)) {
        out->mem_total_bytes = vigil__host_meminfo_get(h->mem, h->nmem, "MemTotal_bytes");
        out->mem_available_bytes = mem_available(h->mem, h->nmem);
        out->mem_free_bytes = vigil__host_meminfo_get(h->mem, h->nmem, "MemFree_bytes");
        out->swap_total_bytes = vigil__host_meminfo_get(h->mem, h->nmem, "SwapTotal_bytes");
        out->swap_free_bytes = vigil__host_meminfo_get(h->mem, h->nmem, "SwapFree_bytes");
    } else if (!failed) {
        first = e;
        failed = true;
    }
    size_t len;
    double load[3];
    if (file_read(&h->buf, &h->f_loadavg, &len, &e) &&
        vigil__host_parse_loadavg(h->buf.data, load)) {
        out->load1 = load[0];
        out->load5 = load[1];
        out->load15 = load[2];
    } else if (!failed) {
        first = e.path ? e : (vigil__procfs_error){.path = h->f_loadavg.path, .what = "malformed"};
        failed = true;
    }
    /* The message must be formatted while the paths (in h) are still alive. */
    st = failed ? vigil__procfs_fail(&first) : VIGIL_OK;
    state_free(h);
    return st;
}

VIGIL_API vigil_status vigil_host_fs_usage_read(const char *path, vigil_host_fs_usage *out)
{
    if (path == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_host_fs_usage_read: path or out is NULL");
    struct statfs sf;
    int rc;
    do {
        rc = statfs(path, &sf);
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
        vigil__procfs_error e = {.path = path, .errnum = errno};
        return vigil__procfs_fail(&e);
    }
    double bs = (double)sf.f_bsize;
    out->size_bytes = (double)sf.f_blocks * bs;
    out->free_bytes = (double)sf.f_bfree * bs;
    out->avail_bytes = (double)sf.f_bavail * bs;
    out->used_bytes = out->size_bytes - out->free_bytes;
    double denom = out->used_bytes + out->avail_bytes;
    out->used_percent = denom > 0 ? 100.0 * out->used_bytes / denom : 0;
    out->files = (double)sf.f_files;
    out->files_free = (double)sf.f_ffree;
    return VIGIL_OK;
}
