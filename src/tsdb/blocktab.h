/* blocktab.h — a sealed block's series table: where each series' columns are and what its labels
 * are, coded as small integers (docs/formats.md, "Series table").
 *
 * A block of a thousand series once spent 36 fixed bytes a series on frame, column, timestamp
 * column, count and time range, more than its label table and a tenth of its samples. Most of
 * that follows from the rest: series are stored in frame order, so the frame is implied by the
 * series counts of the frames; a series' value column is almost always its position in the frame
 * (earlier only when an equal column was stored once), so the difference is 0; and the count and
 * time range belong to the timestamp column, which a whole scrape target shares. The table
 * therefore keeps per timestamp column its count and range, per frame its series count, and per
 * series two small numbers and its label set, all as uvarints; the block compresses it.
 *
 * Thread-safety: a table being built belongs to one thread; decoding shares no state. */
#ifndef VIGIL_TSDB_BLOCKTAB_H
#define VIGIL_TSDB_BLOCKTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "labels.h"
#include "vigil/buffer.h"
#include "vigil/status.h"
#include "vigil/tsdb.h"

/* One series inside a block: where its columns are. */
typedef struct vigil__tsdb_block_series {
    vigil_tsdb_ref ref; /* the series in this process run */
    uint32_t frame;     /* value frame index */
    uint32_t column;    /* column inside that frame */
    uint32_t ts_column; /* column inside the block's timestamp frame */
    uint32_t count;
    bool shared; /* another series of the block has the same value column (its frame
                           stored equal columns once): worth keeping once decoded */
    int64_t mint, maxt;
} vigil__tsdb_block_series;

typedef struct vigil__tsdb_blocktab {
    vigil_buffer tscols;   /* per timestamp column: count, first - block mint, last - first */
    vigil_buffer frames;   /* per value frame: its number of series */
    vigil_buffer ts_refs;  /* per series: its timestamp column */
    vigil_buffer col_back; /* per series: its position in its frame minus its value column */
    vigil_buffer labels;   /* per series: label count, then name NUL value NUL per label */
    int64_t mint;
    uint32_t nts, nseries, nframes, in_frame;
} vigil__tsdb_blocktab;

/* An empty table for a block starting at mint; buffers capped at cap bytes each. */
void vigil__tsdb_blocktab_init(vigil__tsdb_blocktab *t, int64_t mint, size_t cap);
void vigil__tsdb_blocktab_free(vigil__tsdb_blocktab *t);
/* Registers the next timestamp column of the block's timestamp frame (columns are numbered in
 * the order they are added): count samples from first to last, first >= the block's mint.
 * Errors: VIGIL_ELIMIT (cap), VIGIL_ENOMEM. */
vigil_status vigil__tsdb_blocktab_add_ts(vigil__tsdb_blocktab *t, uint32_t count, int64_t first,
                                         int64_t last);
/* The next series of the current value frame: its timestamp column, its value column in the frame
 * (at most its position there) and its labels. Errors: VIGIL_EINVAL (a column out of order),
 * VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__tsdb_blocktab_add_series(vigil__tsdb_blocktab *t, uint32_t ts_column,
                                             uint32_t column, const vigil__tsdb_labels *ls);
/* Ends the current value frame (no-op when it has no series). */
vigil_status vigil__tsdb_blocktab_end_frame(vigil__tsdb_blocktab *t);
/* Appends the table's bytes to out. Errors: VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__tsdb_blocktab_finish(const vigil__tsdb_blocktab *t, vigil_buffer *out);

/* Sets the shared flag of n entries in frame order (a frame's entries together). Errors:
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_blocktab_mark_shared(vigil__tsdb_block_series *e, uint32_t n);

/* Called for series i of a table being decoded with its labels (valid during the call only). */
typedef vigil_status (*vigil__tsdb_blocktab_labels_fn)(void *user, uint32_t i,
                                                       const vigil_label *labels, size_t n);

/* What a decoder checks the table against: the block header's figures. */
typedef struct vigil__tsdb_blocktab_expect {
    int64_t mint, maxt; /* the block's range, [mint, maxt) */
    uint64_t samples;
    uint32_t nseries, nframes;
} vigil__tsdb_blocktab_expect;

/* Decodes the table p[0..len) into entries[0..nseries) (refs 0) and hands each label set to fn.
 * Errors: VIGIL_ECORRUPT with what is wrong (anything out of range or inconsistent with x, a
 * varint past the end, trailing bytes), or what fn returns. */
vigil_status vigil__tsdb_blocktab_decode(const uint8_t *p, size_t len,
                                         const vigil__tsdb_blocktab_expect *x,
                                         vigil__tsdb_block_series *entries,
                                         vigil__tsdb_blocktab_labels_fn fn, void *user);

#endif
