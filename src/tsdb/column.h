/* column.h — dense sample columns for sealed blocks, and the frame that groups them.
 *
 * A sealed block stores each series' samples as two columns: a timestamp column, shared by every
 * series scraped together, and a value column. Columns are gathered into frames of a few hundred
 * series; a frame is checksummed and, when that saves space, zstd-compressed. Inside a frame a
 * column may lean on earlier ones (their symbol tables, the frame's usual sample count, a
 * neighbouring histogram bucket), so frame columns decode only through their frame; the
 * single-column functions below make self-contained columns. Byte layouts: docs/formats.md,
 * "Sample encodings".
 *
 * Every decoder checks what it reads against the input and the caller's capacity: corrupt input
 * gets VIGIL_ECORRUPT and a message, never a read out of bounds.
 *
 * Thread-safety: the functions share no state; a frame builder or reader belongs to one thread
 * at a time. Several readers may decode the same frame bytes at once. */
#ifndef VIGIL_TSDB_COLUMN_H
#define VIGIL_TSDB_COLUMN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/status.h"

/* Column kinds (the low 3 bits of an encoded column's first byte). */
enum {
    VIGIL__TSDB_COL_TS = 1,          /* int64 ms timestamps, strictly increasing */
    VIGIL__TSDB_COL_CONST = 2,       /* n copies of one float64 (any bits) */
    VIGIL__TSDB_COL_DECIMAL = 3,     /* float64 as scaled integers, exceptions kept raw */
    VIGIL__TSDB_COL_XOR = 4,         /* float64 XOR-coded (Gorilla) */
    VIGIL__TSDB_COL_RAW = 5,         /* float64 bits as they are */
    VIGIL__TSDB_COL_DECIMAL_REF = 6, /* DECIMAL as differences from an earlier column of its
                                        frame (in frames only) */
};

/* Most samples in one column (a 31-day block at a 1 s step is 2.7 M). */
#define VIGIL__TSDB_COLUMN_MAX_SAMPLES ((size_t)1 << 24)
/* Most columns in one frame, and most bytes in a frame's payload. */
#define VIGIL__TSDB_FRAME_MAX_COLUMNS ((uint32_t)1 << 20)
#define VIGIL__TSDB_FRAME_MAX_BYTES ((size_t)1 << 28)
/* Bytes before a frame's payload (magic, version, flags, sizes, CRC-32). */
#define VIGIL__TSDB_FRAME_HEADER 24u

/* --- self-contained columns ---------------------------------------------------------------- */

/* Appends the encoding of n timestamps to out. Errors: VIGIL_EINVAL (not strictly increasing, or
 * n above VIGIL__TSDB_COLUMN_MAX_SAMPLES), VIGIL_ELIMIT (out's cap; out is then unchanged),
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_tscol_encode(const int64_t *ts, size_t n, vigil_buffer *out);
/* Appends the encoding of n values to out; every float64 bit pattern round-trips (NaN payloads,
 * the staleness marker, -0.0, infinities, subnormals). Errors as vigil__tsdb_tscol_encode. */
vigil_status vigil__tsdb_valcol_encode(const double *v, size_t n, vigil_buffer *out);

/* Kind (VIGIL__TSDB_COL_*) and sample count of the column p[0..len). Errors: VIGIL_ECORRUPT
 * (not a column), VIGIL_EINVAL (a frame's column, which needs its frame). */
vigil_status vigil__tsdb_col_info(const uint8_t *p, size_t len, int *kind, size_t *n);
/* Decode into the caller's array of cap entries; *n gets the count. Errors: VIGIL_ECORRUPT,
 * VIGIL_EINVAL (a column of the other sort, or one that needs its frame), VIGIL_ELIMIT (more
 * than cap samples). */
vigil_status vigil__tsdb_tscol_decode(const uint8_t *p, size_t len, int64_t *ts, size_t cap,
                                      size_t *n);
vigil_status vigil__tsdb_valcol_decode(const uint8_t *p, size_t len, double *v, size_t cap,
                                       size_t *n);

/* For deduplicating timestamp columns outside a frame (a frame builder does it itself): equal
 * columns hash equal; confirm with _equal. */
uint64_t vigil__tsdb_tscol_hash(const int64_t *ts, size_t n);
bool vigil__tsdb_tscol_equal(const int64_t *a, size_t na, const int64_t *b, size_t nb);

/* --- frames ---------------------------------------------------------------------------------- */

typedef struct vigil__tsdb_frame_builder vigil__tsdb_frame_builder;

/* zstd_level: 0 for the default (3), negative to never compress. max_bytes caps the payload
 * (0: VIGIL__TSDB_FRAME_MAX_BYTES). Errors: VIGIL_EINVAL (level above zstd's maximum),
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_frame_builder_new(int zstd_level, size_t max_bytes,
                                           vigil__tsdb_frame_builder **out);
/* NULL is a no-op. */
void vigil__tsdb_frame_builder_free(vigil__tsdb_frame_builder *b);
/* Encodes a column into the frame; *index is its position for the reader. A column equal to one
 * already in the frame (same timestamps, or the same value bits) is not stored again: *index is
 * the earlier one's. Add a histogram's buckets one after the other: a bucket is coded against
 * the previous value column when that is smaller. Errors: as the column encoders; VIGIL_ELIMIT
 * (max_bytes or VIGIL__TSDB_FRAME_MAX_COLUMNS reached: the frame is as it was, finish it and
 * start the next). */
vigil_status vigil__tsdb_frame_add_ts(vigil__tsdb_frame_builder *b, const int64_t *ts, size_t n,
                                      uint32_t *index);
vigil_status vigil__tsdb_frame_add_values(vigil__tsdb_frame_builder *b, const double *v, size_t n,
                                          uint32_t *index);
/* Columns stored so far. */
uint32_t vigil__tsdb_frame_builder_columns(const vigil__tsdb_frame_builder *b);
/* Appends the frame to out and empties the builder for the next frame. Errors: VIGIL_ELIMIT
 * (out's cap), VIGIL_ENOMEM, VIGIL_EIO (zstd failed). */
vigil_status vigil__tsdb_frame_finish(vigil__tsdb_frame_builder *b, vigil_buffer *out);

typedef struct vigil__tsdb_frame vigil__tsdb_frame;

/* A reader with no frame open; vigil__tsdb_frame_open() loads one and may be called again on the
 * same reader (its buffers are reused, so a scan over many frames allocates once). While a frame
 * is open the reader keeps the integers of the columns it decoded that others are coded against
 * (a histogram's buckets, in a chain), so a chain read in any order is decoded once, and the
 * symbol tables that columns borrow from each other. */
vigil_status vigil__tsdb_frame_reader_new(vigil__tsdb_frame **out);
/* NULL is a no-op. */
void vigil__tsdb_frame_reader_free(vigil__tsdb_frame *f);
/* Verifies the checksum, decompresses and indexes the frame in bytes[0..len) (exactly one
 * frame). An uncompressed payload is read in place: bytes must then outlive the reader's use
 * of this frame. Errors: VIGIL_ECORRUPT (magic, version, checksum, sizes or directory),
 * VIGIL_EINVAL (NULL), VIGIL_ENOMEM. After a failure the reader holds no frame. */
vigil_status vigil__tsdb_frame_open(vigil__tsdb_frame *f, const uint8_t *bytes, size_t len);
/* The same; without verify_crc the checksum is not computed, for bytes that a larger checksum
 * already vouched for (a block's, checked when it was loaded). Every other check still runs. */
vigil_status vigil__tsdb_frame_open_checked(vigil__tsdb_frame *f, const uint8_t *bytes, size_t len,
                                            bool verify_crc);
/* Columns in the open frame (0 when none is open). */
uint32_t vigil__tsdb_frame_ncols(const vigil__tsdb_frame *f);
/* Kind (VIGIL__TSDB_COL_*) and sample count of column i; its size in bytes. Errors:
 * VIGIL_EINVAL (i out of range), VIGIL_ECORRUPT. */
vigil_status vigil__tsdb_frame_column_info(const vigil__tsdb_frame *f, uint32_t i, int *kind,
                                           size_t *n);
vigil_status vigil__tsdb_frame_column_bytes(const vigil__tsdb_frame *f, uint32_t i, size_t *len);
/* Decodes column i into the caller's array of cap entries; *n gets the count. Errors: as the
 * column decoders, VIGIL_EINVAL (i out of range). */
vigil_status vigil__tsdb_frame_get_ts(vigil__tsdb_frame *f, uint32_t i, int64_t *ts, size_t cap,
                                      size_t *n);
vigil_status vigil__tsdb_frame_get_values(vigil__tsdb_frame *f, uint32_t i, double *v, size_t cap,
                                          size_t *n);

#endif
