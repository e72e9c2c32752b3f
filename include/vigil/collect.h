/* vigil/collect.h — collectors of process (and, later, host) facts under the names Prometheus
 * users know (process_cpu_seconds_total, process_resident_memory_bytes, ...). They read /proc at
 * collection time, never on a hot path. */
#ifndef VIGIL_COLLECT_H
#define VIGIL_COLLECT_H

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

#ifdef __cplusplus
}
#endif
#endif
