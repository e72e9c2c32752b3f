/* xor.h — Gorilla chunks for the head: delta-of-delta timestamps and XOR-coded float64 values
 * (Pelkonen et al., VLDB 2015; the layout is specified in docs/formats.md, "Sample encodings").
 *
 * A chunk is a byte buffer: a 2-byte big-endian sample count, then a big-endian bit stream. The
 * appender keeps the buffer complete after every append (no pending bits held elsewhere), so the
 * bytes handed out by vigil__tsdb_xor_bytes() always decode to exactly `count` samples.
 *
 * Thread-safety: a chunk belongs to one writer; readers that iterate while it is appended to
 * must be synchronised by the caller (the head publishes the count after the bytes). An
 * iterator reads only the bytes it was given and never writes. */
#ifndef VIGIL_TSDB_XOR_H
#define VIGIL_TSDB_XOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/status.h"

/* Samples a chunk can hold: the count field is 16 bits. */
#define VIGIL__TSDB_XOR_MAX_SAMPLES 65535u
/* The count field before the bit stream. */
#define VIGIL__TSDB_XOR_HEADER 2u
/* The most one append can write: a 4-bit timestamp control and 64 bits, then a 13-bit value
 * control and 64 bits (145 bits), rounded up to bytes. */
#define VIGIL__TSDB_XOR_MAX_SAMPLE_BYTES 19u
/* Zero bytes kept past the written bits: the writer stores whole 64-bit words. */
#define VIGIL__TSDB_XOR_SLACK 8u
/* Bytes a chunk of n samples needs in the worst case (the first sample is raw: 16 bytes). */
#define VIGIL__TSDB_XOR_WORST_BYTES(n) \
    (VIGIL__TSDB_XOR_HEADER + (size_t)(n)*VIGIL__TSDB_XOR_MAX_SAMPLE_BYTES + VIGIL__TSDB_XOR_SLACK)
/* What a chunk-owned buffer starts with for `hint` samples: ~10 bytes a sample covers noisy
 * decimal gauges (about 60 bits each) without growing; constant or integer series use far less. */
#define VIGIL__TSDB_XOR_HINT_BYTES(hint)                                                    \
    (VIGIL__TSDB_XOR_HEADER + 16u + (size_t)(hint)*10u + VIGIL__TSDB_XOR_MAX_SAMPLE_BYTES + \
     VIGIL__TSDB_XOR_SLACK)
/* The default and largest growth cap of a chunk-owned buffer: the worst case of a full chunk. */
#define VIGIL__TSDB_XOR_MAX_BYTES VIGIL__TSDB_XOR_WORST_BYTES(VIGIL__TSDB_XOR_MAX_SAMPLES)

typedef struct vigil__tsdb_xor_chunk {
    uint8_t *buf;    /* count (u16 BE), bit stream; every byte past the written bits is zero */
    size_t cap;      /* bytes in buf */
    size_t max_cap;  /* growth cap (== cap for a caller-owned buffer) */
    size_t byte;     /* bytes of the bit stream before the writer's window */
    uint64_t acc;    /* the window: bits from that byte on, left-aligned (also in buf) */
    uint8_t fill;    /* bits in the window */
    bool owned;      /* buf was allocated by the chunk and may grow */
    uint16_t count;  /* samples appended */
    uint8_t leading; /* XOR window of the last '11' value control; 0xff before the first */
    uint8_t trailing;
    int64_t t;       /* last timestamp */
    uint64_t tdelta; /* last timestamp delta (wrapping arithmetic) */
    uint64_t v;      /* last value's bits */
} vigil__tsdb_xor_chunk;

/* A chunk that owns its buffer, pre-sized for `hint` samples (0: 120) and allowed to grow up to
 * max_bytes (0: VIGIL__TSDB_XOR_MAX_BYTES). Errors: VIGIL_EINVAL (max_bytes too small for one
 * sample), VIGIL_ENOMEM. */
vigil_status vigil__tsdb_xor_init(vigil__tsdb_xor_chunk *c, size_t hint, size_t max_bytes);
/* A chunk writing into the caller's buffer of cap bytes (zeroed here; never grown, never freed).
 * Errors: VIGIL_EINVAL when cap cannot hold the header, one sample and the slack. */
vigil_status vigil__tsdb_xor_init_buffer(vigil__tsdb_xor_chunk *c, uint8_t *buf, size_t cap);
/* Releases a chunk-owned buffer; a caller-owned one is left alone. NULL is a no-op. */
void vigil__tsdb_xor_free(vigil__tsdb_xor_chunk *c);
/* Appends one sample; any int64 timestamp order round-trips, the head decides what it accepts.
 * Errors: VIGIL_ELIMIT when the chunk holds 65535 samples or the buffer is at its cap (the caller
 * cuts a new chunk; this one is unchanged), VIGIL_ENOMEM when growing failed. */
vigil_status vigil__tsdb_xor_append(vigil__tsdb_xor_chunk *c, int64_t t, double v);
/* The encoded chunk: header and the bytes holding the written bits. */
const uint8_t *vigil__tsdb_xor_bytes(const vigil__tsdb_xor_chunk *c, size_t *len);

/* Decoding. An iterator over encoded bytes; bounds are checked on every read, so truncated or
 * corrupted input ends the iteration with an error, never a read past len. */
typedef struct vigil__tsdb_xor_iter {
    const uint8_t *p; /* bit stream (after the header) */
    size_t len;       /* bytes in the bit stream */
    uint64_t bitpos;
    uint32_t count; /* samples in the chunk */
    uint32_t i;     /* samples returned so far */
    uint8_t leading;
    uint8_t trailing;
    bool err; /* the stream ended before count samples */
    int64_t t;
    uint64_t tdelta;
    uint64_t v;
} vigil__tsdb_xor_iter;

/* Errors: VIGIL_EINVAL (NULL bytes), VIGIL_ECORRUPT (shorter than the header). */
vigil_status vigil__tsdb_xor_iter_init(vigil__tsdb_xor_iter *it, const uint8_t *bytes, size_t len);
/* The next sample; false at the end or on corrupt input (then vigil__tsdb_xor_iter_status()
 * says which). */
bool vigil__tsdb_xor_iter_next(vigil__tsdb_xor_iter *it, int64_t *t, double *v);
/* VIGIL_OK, or VIGIL_ECORRUPT (with a message) when the stream was truncated or corrupt. */
vigil_status vigil__tsdb_xor_iter_status(const vigil__tsdb_xor_iter *it);
/* Decodes a whole chunk into t[]/v[] (cap entries each); *n gets the count. Errors:
 * VIGIL_ECORRUPT (corrupt or truncated), VIGIL_ELIMIT (more than cap samples). */
vigil_status vigil__tsdb_xor_decode(const uint8_t *bytes, size_t len, int64_t *t, double *v,
                                    size_t cap, size_t *n);

/* XOR coding of values alone, for sealed value columns that are not decimals (column.c):
 * n values as a bit stream appended to out (the first value raw, then the XOR controls above),
 * and back. vigil__tsdb_xor_values_decode reads at most len bytes and fails with VIGIL_ECORRUPT
 * when they do not hold n values. */
vigil_status vigil__tsdb_xor_values_encode(const double *v, size_t n, vigil_buffer *out);
vigil_status vigil__tsdb_xor_values_decode(const uint8_t *p, size_t len, double *v, size_t n);

#endif
