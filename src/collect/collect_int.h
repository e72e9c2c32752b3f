/* collect_int.h — what the collect module's files share: bounded /proc readers (procfs.c) and the
 * /proc/<pid>/stat parser (process.c). Readers report failure through a small error record
 * instead of calling vigil__fail themselves, so that a collector reading several files can keep
 * going after one fails and still report the *first* failure as the thread's message.
 * Nothing here is exported from the shared object. */
#ifndef VIGIL_COLLECT_INT_H
#define VIGIL_COLLECT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/status.h"

/* Why a /proc read failed: the file, and either the errno of the failing call or, when errnum
 * is 0, a short description of what was wrong with the content. Strings are static. */
typedef struct vigil__procfs_error {
    const char *path;
    int errnum;
    const char *what;
} vigil__procfs_error;

/* Records the failure (path, errno text or content problem) with vigil__fail and returns
 * VIGIL_EIO. */
vigil_status vigil__procfs_fail(const vigil__procfs_error *e);

/* Reads a whole file into buf (cap bytes, NUL-terminated, so at most cap - 1 bytes of content)
 * with open/read. A file that does not fit is an error ("larger than the read buffer"), never
 * silently truncated. */
bool vigil__procfs_read(const char *path, char *buf, size_t cap, size_t *len,
                        vigil__procfs_error *e);

/* Streams a "key value..." file (e.g. /proc/stat) looking for the first line that starts with
 * key (which should include its separator, e.g. "btime "), and copies the rest of that line,
 * NUL-terminated, into val. Memory stays bounded whatever the lengths of the other lines (the
 * "intr" line of /proc/stat can run to tens of kilobytes). Errors: the key is missing, or its
 * line does not fit in val. */
bool vigil__procfs_find_key(const char *path, const char *key, char *val, size_t cap,
                            vigil__procfs_error *e);

/* Counts the entries of a directory other than "." and "..". */
bool vigil__procfs_count_dir(const char *path, long *count, vigil__procfs_error *e);

/* The fields of /proc/<pid>/stat the process collector uses (proc(5) numbering in comments). */
typedef struct vigil__proc_stat {
    uint64_t utime;      /* (14) user time, clock ticks */
    uint64_t stime;      /* (15) system time, clock ticks */
    int64_t num_threads; /* (20) */
    uint64_t starttime;  /* (22) start after boot, clock ticks */
    uint64_t vsize;      /* (23) virtual memory, bytes */
    int64_t rss;         /* (24) resident set, pages */
} vigil__proc_stat;

/* Parses the text of /proc/<pid>/stat. The command name (field 2) is in parentheses and may
 * itself contain spaces and ')', so fields are counted from the LAST ')'. On failure returns
 * false and sets *what to a static description. */
bool vigil__proc_stat_parse(const char *text, vigil__proc_stat *out, const char **what);

#endif
