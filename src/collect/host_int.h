/* host_int.h — what the host collector's files share: the parsers of the /proc files it reads
 * (host_parse.c), kept free of I/O and state so unit tests can drive them with any text, and the
 * records they fill. Records copy what they keep (device names) or point into the text they were
 * given (mount table fields); nothing is allocated by a parser. Nothing here is exported.
 *
 * Numbers are parsed the way node_exporter's Go code parses them so values agree to the bit:
 * counters as unsigned integers converted to double once, and decimals ("0.66" in
 * /proc/loadavg) as integer / 10^k, which is the correctly rounded double of the decimal, as
 * strconv.ParseFloat gives (and, unlike strtod, does not depend on the C locale). */
#ifndef VIGIL_HOST_INT_H
#define VIGIL_HOST_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- /proc/stat --------------------------------------------------------------------------- */

/* The columns of a "cpu" line, in kernel order (proc(5)). */
enum {
    VIGIL__CPU_USER,
    VIGIL__CPU_NICE,
    VIGIL__CPU_SYSTEM,
    VIGIL__CPU_IDLE,
    VIGIL__CPU_IOWAIT,
    VIGIL__CPU_IRQ,
    VIGIL__CPU_SOFTIRQ,
    VIGIL__CPU_STEAL,
    VIGIL__CPU_GUEST,
    VIGIL__CPU_GUEST_NICE,
    VIGIL__CPU_FIELDS
};

typedef struct vigil__host_cpu {
    unsigned id;                       /* N of "cpuN" */
    uint64_t ticks[VIGIL__CPU_FIELDS]; /* USER_HZ ticks; columns the kernel lacks are 0 */
} vigil__host_cpu;

typedef struct vigil__host_stat {
    bool has_total; /* the aggregate "cpu " line */
    uint64_t total[VIGIL__CPU_FIELDS];
    bool has_intr, has_ctxt, has_btime, has_processes, has_running, has_blocked;
    uint64_t intr, ctxt, btime, processes, procs_running, procs_blocked;
} vigil__host_stat;

/* Parses /proc/stat. Per-CPU lines go to cpus[0..cap) in file order; lines beyond cap are
 * counted in *dropped. Returns false (with *what) only when the text is not /proc/stat at all
 * (a malformed cpu line); unknown lines are ignored. text is not modified. */
bool vigil__host_parse_stat(const char *text, vigil__host_stat *out, vigil__host_cpu *cpus,
                            size_t cap, size_t *ncpus, size_t *dropped, const char **what);

/* --- /proc/meminfo ------------------------------------------------------------------------ */

/* A field under node_exporter's name: "Active(anon)" becomes "Active_anon", and fields given
 * in kB get "_bytes" and are multiplied by 1024. */
typedef struct vigil__host_meminfo_field {
    char name[64];
    uint64_t hash; /* of name, to find repeats without comparing every pair of names */
    double value;
} vigil__host_meminfo_field;

/* Parses /proc/meminfo into fields[0..cap). Lines that do not have the "Key: value [kB]" form
 * or whose key would not make a valid metric name, repeats of a key, and fields beyond cap are
 * counted in *dropped. Returns the number of fields. */
size_t vigil__host_parse_meminfo(const char *text, vigil__host_meminfo_field *fields, size_t cap,
                                 size_t *dropped);

/* The value of one field by node_exporter name ("MemTotal_bytes"), or NaN. */
double vigil__host_meminfo_get(const vigil__host_meminfo_field *fields, size_t n, const char *name);

/* --- /proc/loadavg ------------------------------------------------------------------------ */

bool vigil__host_parse_loadavg(const char *text, double load[3]);

/* --- /proc/diskstats ---------------------------------------------------------------------- */

/* The statistics after the device name (Documentation/admin-guide/iostats.rst): 11 before
 * Linux 4.18, 15 with discards, 17 with flushes. */
#define VIGIL__DISK_FIELDS 17

typedef struct vigil__host_disk {
    unsigned major, minor;
    char name[64];
    unsigned nfields; /* 11..17 */
    uint64_t f[VIGIL__DISK_FIELDS];
} vigil__host_disk;

/* Parses one line of /proc/diskstats (without its newline; len bytes). Returns false for a
 * line without major, minor, a name of at most 63 bytes and at least 11 statistics. */
bool vigil__host_parse_disk_line(const char *line, size_t len, vigil__host_disk *out);

/* --- /proc/net/dev ------------------------------------------------------------------------ */

/* receive: bytes packets errs drop fifo frame compressed multicast;
 * transmit: bytes packets errs drop fifo colls carrier compressed. */
#define VIGIL__NETDEV_FIELDS 16

typedef struct vigil__host_netdev {
    char name[64];
    uint64_t f[VIGIL__NETDEV_FIELDS];
} vigil__host_netdev;

/* Parses one device line of /proc/net/dev ("  eth0: 1 2 ..."); the name ends at the line's
 * last ':' (device names may contain ':'). Returns false for header lines and malformed ones. */
bool vigil__host_parse_netdev_line(const char *line, size_t len, vigil__host_netdev *out);

/* --- /proc/<pid>/mounts ------------------------------------------------------------------- */

typedef struct vigil__host_mount {
    char *device, *mountpoint, *fstype, *options;
} vigil__host_mount;

/* Splits one mounts line in place (line must be writable and NUL-terminated, without its
 * newline): fields are NUL-terminated where they lie, and "\040" and "\011" in the mount point
 * become a space and a tab, as node_exporter decodes them (other escapes are left as they are,
 * as there). Returns false for a line with fewer than four fields. */
bool vigil__host_parse_mount_line(char *line, vigil__host_mount *out);

/* True when options (comma-separated) contains "ro". */
bool vigil__host_mount_readonly(const char *options);

/* --- udev database (/run/udev/data/b<major>:<minor>) -------------------------------------- */

typedef struct vigil__host_udev {
    const char *path, *wwn, *model, *serial, *revision; /* never NULL; "" when absent */
} vigil__host_udev;

/* Picks ID_PATH, ID_WWN, ID_MODEL, SCSI_IDENT_SERIAL (else ID_SERIAL_SHORT) and ID_REVISION
 * from the "E:KEY=VALUE" lines of a udev data file, in place (text is modified). */
void vigil__host_parse_udev(char *text, vigil__host_udev *out);

/* --- numbers ------------------------------------------------------------------------------ */

/* Unsigned decimal in [s, end): false when empty, not all digits, or over UINT64_MAX. */
bool vigil__host_parse_u64(const char *s, const char *end, uint64_t *out);

/* Decimal "123", "0.66", "-1.5" in [s, end) as the correctly rounded double (up to 15
 * significant digits; longer input is refused). */
bool vigil__host_parse_decimal(const char *s, const char *end, double *out);

#endif
