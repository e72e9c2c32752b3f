/* walrec.h — payloads of the WAL records the head writes: series (a reference number and its
 * label set, written once when a series is created) and samples (reference, time, value), in
 * batches. Byte layouts in docs/formats.md ("Write-ahead log", "Record payloads").
 *
 * Encoders append to a capped vigil_buffer; decoders validate every byte and never read past the
 * payload, so a record whose checksum matched but whose payload is malformed (a bug, or another
 * format version) is an error, never a crash. Labels are plain vigil_label pairs; the index
 * interns them on replay. */
#ifndef VIGIL_TSDB_WALREC_H
#define VIGIL_TSDB_WALREC_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

/* WAL record types (the framing's type byte). 0 is reserved by the framing. */
#define VIGIL__TSDB_WALREC_SERIES 1
#define VIGIL__TSDB_WALREC_SAMPLES 2

typedef struct vigil__tsdb_walrec_series {
    uint32_t ref;
    uint32_t nlabels;          /* at least 1 */
    const vigil_label *labels; /* NUL-terminated strings; names non-empty */
} vigil__tsdb_walrec_series;

typedef struct vigil__tsdb_walrec_sample {
    int64_t t; /* milliseconds */
    double v;  /* stored bit-exactly, NaN payloads included */
    uint32_t ref;
} vigil__tsdb_walrec_sample;

/* ---- series ---------------------------------------------------------------------------------- */

/* Appends the series record payload for s[0..n) to out.
 * Errors: VIGIL_EINVAL (NULL, a series without labels, an empty name, a string over 1 MiB),
 * VIGIL_ELIMIT (out's cap), VIGIL_ENOMEM. out is unchanged on error. */
vigil_status vigil__tsdb_walrec_series_encode(vigil_buffer *out, const vigil__tsdb_walrec_series *s,
                                              size_t n);

/* A decoded series record: one allocation holding the series, their labels and NUL-terminated
 * copies of the strings, so it outlives the payload. */
typedef struct vigil__tsdb_walrec_series_batch {
    vigil__tsdb_walrec_series *series;
    size_t n;
    void *mem; /* the allocation behind everything above */
} vigil__tsdb_walrec_series_batch;

/* Decodes a series payload. Errors: VIGIL_ECORRUPT (malformed, truncated, trailing bytes, a
 * string containing NUL, a reference out of range; the message says what and at which byte),
 * VIGIL_ENOMEM. *out is empty on error. */
vigil_status vigil__tsdb_walrec_series_decode(const uint8_t *p, size_t len,
                                              vigil__tsdb_walrec_series_batch *out);
void vigil__tsdb_walrec_series_batch_free(vigil__tsdb_walrec_series_batch *b);

/* ---- samples --------------------------------------------------------------------------------- */

/* Upper bound of the payload size for n samples (what the encoder reserves). */
size_t vigil__tsdb_walrec_samples_bound(size_t n);

/* Appends the samples record payload for s[0..n) to out.
 * Errors: VIGIL_EINVAL (NULL with n > 0), VIGIL_ELIMIT, VIGIL_ENOMEM; out unchanged on error. */
vigil_status vigil__tsdb_walrec_samples_encode(vigil_buffer *out,
                                               const vigil__tsdb_walrec_sample *s, size_t n);

/* How many samples a payload holds (read from its header, checked against its length, so
 * allocating that many is bounded by the payload size). Errors: VIGIL_ECORRUPT. */
vigil_status vigil__tsdb_walrec_samples_count(const uint8_t *p, size_t len, size_t *n);

/* Decodes a samples payload into out[0..cap); *n receives the count.
 * Errors: VIGIL_ECORRUPT (malformed, truncated, trailing bytes, a reference out of range),
 * VIGIL_ELIMIT (cap smaller than the count). */
vigil_status vigil__tsdb_walrec_samples_decode(const uint8_t *p, size_t len,
                                               vigil__tsdb_walrec_sample *out, size_t cap,
                                               size_t *n);

#endif
