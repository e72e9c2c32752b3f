/* vigil/collect.h — collectors of process and host facts under the names Prometheus users know
 * (process_cpu_seconds_total, process_resident_memory_bytes, node_cpu_seconds_total,
 * node_memory_MemAvailable_bytes, ...). They read /proc at collection time, never on a hot
 * path. docs/host-metrics.md lists every host family. */
#ifndef VIGIL_COLLECT_H
#define VIGIL_COLLECT_H

#include <stddef.h>

#include "vigil/export.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Adds the "process" collector to reg. It emits process_cpu_seconds_total,
 * process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
 * process_max_fds, process_start_time_seconds and process_threads for the calling process.
 * Errors: VIGIL_EEXIST (already added), VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_collect_process_register(vigil_registry *reg);

/* A snapshot of the same facts, for programs that want them without a registry. */
typedef struct vigil_process_stats {
    double cpu_seconds;           /* user + system */
    double resident_bytes;
    double virtual_bytes;
    double open_fds;
    double max_fds;               /* soft limit; -1 when unlimited */
    double start_time_seconds;    /* Unix time */
    double threads;
} vigil_process_stats;

/* Reads /proc/self. Errors: VIGIL_EIO with the file that failed. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_process_stats_read(vigil_process_stats *out);

/* --- host collector ----------------------------------------------------------------------------
 * node_exporter's families, names, types, labels and units for the machine vigil runs on, read
 * straight from /proc and statfs(2) (no processes spawned), plus a few vigil_host_* convenience
 * gauges. docs/host-metrics.md has the families, the exclusions and the differences. */

/* Subsystems of the host collector, named after the node_exporter collectors they mirror. */
#define VIGIL_HOST_CPU 0x01u        /* node_cpu_seconds_total, node_cpu_guest_seconds_total */
#define VIGIL_HOST_MEMINFO 0x02u    /* node_memory_* (every /proc/meminfo field) */
#define VIGIL_HOST_FILESYSTEM 0x04u /* node_filesystem_* */
#define VIGIL_HOST_DISKSTATS 0x08u  /* node_disk_* */
#define VIGIL_HOST_NETDEV 0x10u     /* node_network_{receive,transmit}_* */
#define VIGIL_HOST_LOADAVG 0x20u    /* node_load1, node_load5, node_load15 */
#define VIGIL_HOST_STAT 0x40u       /* node_boot_time_seconds, node_context_switches_total,
                                       node_intr_total, node_forks_total, node_procs_* */
#define VIGIL_HOST_USAGE 0x80u      /* vigil_host_cpu_usage_percent, vigil_host_memory_used_*,
                                       vigil_host_filesystem_used_* */
#define VIGIL_HOST_ALL 0xffu

/* Defaults of vigil_host_options (node_exporter 1.5's, as Debian 12 ships it). Patterns are
 * POSIX extended regular expressions, searched (not anchored) as Go's MatchString does. */
#define VIGIL_HOST_DEFAULT_MOUNT_POINTS_EXCLUDE                                                  \
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
#define VIGIL_HOST_DEFAULT_FS_TYPES_EXCLUDE                                                      \
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"     \
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"  \
    "sysfs|tracefs)$"
#define VIGIL_HOST_DEFAULT_DISK_DEVICES_EXCLUDE                                                  \
    "^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme[0-9]+n[0-9]+p)[0-9]+$"
#define VIGIL_HOST_DEFAULT_NET_DEVICES_EXCLUDE "^lo$"

typedef struct vigil_host_options {
    unsigned subsystems;                 /* VIGIL_HOST_* bits; default VIGIL_HOST_ALL */
    const char *proc_path;               /* default "/proc" (tests point it at a fixture tree) */
    const char *rootfs_path;             /* prefix for statfs(2) of mount points, as
                                            node_exporter's --path.rootfs; default "" */
    const char *udev_data_path;          /* udev database for node_disk_info; default
                                            "/run/udev/data" */
    const char *mount_points_exclude;    /* NULL: the default above; "": exclude none */
    const char *fs_types_exclude;        /* NULL: the default above; "": exclude none */
    const char *disk_devices_exclude;    /* NULL: the default above; "": exclude none */
    const char *net_devices_exclude;     /* NULL: the default above; "": exclude none */
    unsigned max_cpus;                   /* caps (0: the default): CPUs, default 1024 */
    unsigned max_filesystems;            /* filesystems after exclusions, default 256 */
    unsigned max_disks;                  /* block devices after exclusions, default 256 */
    unsigned max_net_devices;            /* network devices after exclusions, default 256 */
    size_t max_file_bytes;               /* largest /proc file read, default 4 MiB */
    const char *name;                    /* collector name in the registry; NULL: "host" */
} vigil_host_options;

/* Fills defaults (every subsystem, the paths and patterns above, the caps).
 * Thread-safety: any thread. */
VIGIL_API void vigil_host_options_init(vigil_host_options *opts);

/* Adds the host collector to reg; opts NULL means the defaults. Strings are copied and patterns
 * compiled here, so a bad pattern fails now, not at scrape time. Items beyond a cap, and items
 * that cannot be represented (a mount point that is not UTF-8), are left out and counted in
 * vigil_host_dropped_total{subsystem}. A subsystem whose file cannot be read is skipped for that
 * collection and shows node_scrape_collector_success{collector} 0; the rest is still exposed.
 * The collector keeps a little state (a read buffer, per-CPU counters for the usage gauge and
 * the monotonic CPU clamp), freed by vigil_collect_host_unregister.
 * Errors: VIGIL_EINVAL (reg NULL, a pattern that does not compile), VIGIL_EEXIST (a
 * collector of that name is already added), VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_collect_host_register(vigil_registry *reg,
                                                   const vigil_host_options *opts);

/* Removes the host collector named name (NULL: "host") from reg and frees its state. The
 * registry does not free collector state itself, so call this before vigil_registry_free when
 * registries come and go; a program that keeps its registry for its lifetime need not.
 * Errors: VIGIL_EINVAL, VIGIL_ENOTFOUND. Thread-safety: any thread; waits for a collection in
 * progress. */
VIGIL_API vigil_status vigil_collect_host_unregister(vigil_registry *reg, const char *name);

/* A few host facts without a registry, for health checks and programs that want numbers. CPU
 * times are sums over all CPUs since boot; take two reads and divide the differences for a
 * utilisation over a window (busy = total - idle - iowait). */
typedef struct vigil_host_stats {
    double cpu_total_seconds;   /* user+nice+system+idle+iowait+irq+softirq+steal, all CPUs */
    double cpu_idle_seconds;    /* idle, all CPUs */
    double cpu_iowait_seconds;  /* iowait, all CPUs */
    unsigned cpus;              /* CPUs listed in /proc/stat (online) */
    double mem_total_bytes;     /* MemTotal */
    double mem_available_bytes; /* MemAvailable (MemFree+Buffers+Cached before Linux 3.14) */
    double mem_free_bytes;      /* MemFree */
    double swap_total_bytes;    /* SwapTotal */
    double swap_free_bytes;     /* SwapFree */
    double load1, load5, load15;
    double boot_time_seconds;   /* Unix time */
} vigil_host_stats;

/* Reads /proc/stat, /proc/meminfo and /proc/loadavg under proc_path (NULL: "/proc"). Fields
 * whose source failed are NaN and the first failure is returned. Errors: VIGIL_EINVAL,
 * VIGIL_EIO. Thread-safety: any thread (no shared state). */
VIGIL_API vigil_status vigil_host_stats_read(const char *proc_path, vigil_host_stats *out);

/* Space on the filesystem holding path, as node_filesystem_* and df see it. */
typedef struct vigil_host_fs_usage {
    double size_bytes;   /* f_blocks * f_bsize */
    double free_bytes;   /* f_bfree * f_bsize (includes the root reserve) */
    double avail_bytes;  /* f_bavail * f_bsize (what unprivileged users may still use) */
    double used_bytes;   /* size - free */
    double used_percent; /* used / (used + avail) * 100, df's Use% before rounding */
    double files, files_free;
} vigil_host_fs_usage;

/* statfs(2) on path. Errors: VIGIL_EINVAL, VIGIL_EIO (with path and reason).
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_host_fs_usage_read(const char *path, vigil_host_fs_usage *out);

#ifdef __cplusplus
}
#endif
#endif
