/* wal.h — the tsdb write-ahead log: a directory of numbered segment files holding checksummed
 * records, appended through a user-space buffer, synced on the owner's schedule, replayed (and
 * repaired) on start. The byte layout is specified in docs/formats.md ("Write-ahead log").
 *
 * Life cycle, as the head uses it:
 *
 *     vigil__tsdb_wal_replay(dir, first, on_record, head, &rs);  // repairs a damaged tail
 *     vigil__tsdb_wal_open(dir, &opts, &wal);                    // writes into a NEW segment
 *     vigil__tsdb_wal_append(wal, type, payload, len);           // many times, any thread
 *     vigil__tsdb_wal_sync(wal, &took_ns);                       // every sync interval
 *     vigil__tsdb_wal_cut(wal, &n); checkpoint; vigil__tsdb_wal_remove_before(wal, n);
 *     vigil__tsdb_wal_close(wal);
 *
 * Replay must run before open: open continues after the highest segment present, so a damaged
 * tail left in place would later cost every record written after it. Only one writer may have a
 * directory open (the tsdb's data-directory lock guarantees it; the WAL takes no lock itself). */
#ifndef VIGIL_TSDB_WAL_H
#define VIGIL_TSDB_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/status.h"

/* Segment files are named by their number in this many decimal digits ("00000001"). */
#define VIGIL__TSDB_WAL_NAME_DIGITS 8
#define VIGIL__TSDB_WAL_SEGMENT_NUMBER_MAX 99999999u
/* Framing overhead: 12-byte segment header, 9-byte record header (formats.md). */
#define VIGIL__TSDB_WAL_SEGMENT_HEADER 12u
#define VIGIL__TSDB_WAL_RECORD_HEADER 9u
/* The largest record payload accepted: far above any batch the head writes, small enough that a
 * corrupted length can never make replay map or trust an absurd range. */
#define VIGIL__TSDB_WAL_RECORD_MAX ((uint32_t)64 << 20)
/* Bounds of the segment size option; a record larger than the segment size still gets a segment
 * of its own. */
#define VIGIL__TSDB_WAL_SEGMENT_MIN ((uint64_t)1 << 10)
#define VIGIL__TSDB_WAL_SEGMENT_MAX ((uint64_t)1 << 30)
#define VIGIL__TSDB_WAL_BUFFER_MIN ((size_t)1 << 10)
#define VIGIL__TSDB_WAL_BUFFER_MAX ((size_t)64 << 20)

typedef struct vigil__tsdb_wal vigil__tsdb_wal;

typedef struct vigil__tsdb_wal_options {
    uint64_t segment_size;     /* start a new segment past this many bytes; default 32 MiB */
    size_t buffer_size;        /* user-space write buffer (fixed, never grows); default 256 KiB */
    unsigned sync_interval_ms; /* what vigil__tsdb_wal_sync_due measures; default 1000 */
} vigil__tsdb_wal_options;

void vigil__tsdb_wal_options_init(vigil__tsdb_wal_options *opts);

/* Counters of an open WAL, for the store's self-metrics. */
typedef struct vigil__tsdb_wal_stats {
    uint64_t records;       /* appended since open */
    uint64_t bytes;         /* appended since open, framing and segment headers included */
    uint64_t syncs;         /* completed vigil__tsdb_wal_sync calls */
    uint64_t sync_ns_total; /* time spent in them (flush + fdatasync + directory fsync) */
    uint64_t last_sync_ns;  /* duration of the latest one */
    uint64_t segments_created;
    uint32_t segment; /* number of the segment being written */
} vigil__tsdb_wal_stats;

/* Creates dir if missing (its parent must exist) and a new segment numbered one past the highest
 * present (1 in an empty directory). Options may be NULL (defaults).
 * Errors: VIGIL_EINVAL (options out of range), VIGIL_EIO (directory or file not usable; the
 * message names the path and the system's reason), VIGIL_ELIMIT (segment numbers exhausted),
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_wal_open(const char *dir, const vigil__tsdb_wal_options *opts,
                                  vigil__tsdb_wal **out);

/* Flushes, syncs and closes; frees wal even when the final sync fails (its status is returned).
 * NULL is a no-op returning VIGIL_OK. No other call on wal may run during or after it. */
vigil_status vigil__tsdb_wal_close(vigil__tsdb_wal *wal);

/* Appends one record of type 1..255 (0 is reserved: it is what zero-filled pages read as).
 * The checksum is computed before the lock is taken; the bytes go to the user-space buffer
 * (written to the kernel when it fills, never fsynced here). Starts a new segment first when
 * the record would carry the current one past the segment size.
 * Errors: VIGIL_EINVAL (type 0, len > VIGIL__TSDB_WAL_RECORD_MAX), VIGIL_ESTATE (closed),
 * VIGIL_EIO (a write or a new segment failed; the record was not appended and the log stays
 * consistent, so a later append may succeed). Thread-safety: any thread (internal mutex). */
vigil_status vigil__tsdb_wal_append(vigil__tsdb_wal *wal, uint8_t type, const void *payload,
                                    size_t len);

/* Writes the buffer to the kernel (no fsync): enough to survive the process being killed, not
 * a power cut. Errors: VIGIL_EIO. Thread-safety: any thread. */
vigil_status vigil__tsdb_wal_flush(vigil__tsdb_wal *wal);

/* Flushes, then fdatasyncs every segment written since the last sync and fsyncs the directory
 * when segments were created: when it returns VIGIL_OK, every record appended before the call
 * survives a crash. The fsyncs run outside the append lock, so appends continue meanwhile.
 * *took_ns (may be NULL) receives the duration, for the caller to export.
 * Errors: VIGIL_EIO (records since the previous sync may be lost; the message says which file).
 * Thread-safety: any thread; concurrent syncs are serialized. */
vigil_status vigil__tsdb_wal_sync(vigil__tsdb_wal *wal, uint64_t *took_ns);

/* True when something was appended since the last sync and the sync interval has passed since
 * it (now_ns on the vigil__mono_ns clock). A scheduler calls this each tick, then sync.
 * Thread-safety: any thread. */
bool vigil__tsdb_wal_sync_due(vigil__tsdb_wal *wal, uint64_t now_ns);

/* Starts a new segment now and returns its number: every record appended before the call is in
 * a segment numbered below it (what a checkpoint covers). Errors: VIGIL_EIO, VIGIL_ELIMIT.
 * Thread-safety: any thread. */
vigil_status vigil__tsdb_wal_cut(vigil__tsdb_wal *wal, uint32_t *segment);

/* Deletes the segments numbered below `segment` (after a checkpoint made them redundant).
 * Errors: VIGIL_EINVAL (segment above the one being written), VIGIL_EIO.
 * Thread-safety: any thread; appends are not blocked while files are deleted. */
vigil_status vigil__tsdb_wal_remove_before(vigil__tsdb_wal *wal, uint32_t segment);

/* Fills *out. Thread-safety: any thread. */
void vigil__tsdb_wal_get_stats(vigil__tsdb_wal *wal, vigil__tsdb_wal_stats *out);

/* The segment numbers present in dir, ascending; other file names are ignored. *numbers is
 * allocated with vigil__malloc (free with vigil__free), NULL when *count is 0. A missing
 * directory has no segments. Errors: VIGIL_EIO, VIGIL_ELIMIT (over a million segments),
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_wal_list(const char *dir, uint32_t **numbers, size_t *count);

/* ---- replay ---------------------------------------------------------------------------------- */

/* Called once per intact record, in log order. payload points into a read-only mapping valid
 * only during the call. A status other than VIGIL_OK stops the replay, which returns it
 * unchanged and leaves the log untouched. */
typedef vigil_status (*vigil__tsdb_wal_record_fn)(void *user, uint32_t segment, uint8_t type,
                                                  const uint8_t *payload, size_t len);

typedef struct vigil__tsdb_wal_replay_stats {
    uint64_t records;       /* delivered to the callback */
    uint64_t bytes;         /* of segments read, up to the damage */
    uint32_t segments;      /* segments read (the damaged one included) */
    uint32_t first_segment; /* first and last segment read; 0 when none */
    uint32_t last_segment;
    bool damaged; /* the rest describes what recovery found and did */
    uint32_t damaged_segment;
    uint64_t damaged_offset;   /* where the last intact record ended in it */
    uint64_t truncated_bytes;  /* cut off the damaged segment (all of it when it was deleted) */
    uint32_t removed_segments; /* files deleted: those after the damage, and the damaged one
                                  when its header was unusable */
    uint64_t removed_bytes;    /* sizes of the segments deleted after the damaged one */
    char description[320];     /* e.g. "segment 00000003 at offset 4096: checksum mismatch ..." */
} vigil__tsdb_wal_replay_stats;

/* Reads the segments of dir numbered from first_segment on (lower ones, already covered by a
 * checkpoint, are not read) and calls fn for every intact record. At the first damage — a torn
 * or zero-filled tail, a checksum mismatch, an impossible length or type, a bad segment header,
 * a missing segment number — it stops: the damaged segment is truncated after its last intact
 * record (deleted when its header is unusable), every later segment is deleted, both made
 * durable, and *stats says what was found where. Damage is never an error; the library does not
 * print, the caller logs stats->description and counts it. A missing directory replays nothing.
 * stats may be NULL.
 * Errors: VIGIL_EIO (directory or file unreadable, or the repair could not be written),
 * VIGIL_ECORRUPT (a segment with an intact header of an unknown format version: a newer vigil
 * wrote it, and deleting it would lose data), fn's status, VIGIL_ENOMEM.
 * Thread-safety: no writer may have dir open meanwhile. */
vigil_status vigil__tsdb_wal_replay(const char *dir, uint32_t first_segment,
                                    vigil__tsdb_wal_record_fn fn, void *user,
                                    vigil__tsdb_wal_replay_stats *stats);

#endif
