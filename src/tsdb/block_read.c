/* block_read.c — decoding sealed blocks for queries.
 *
 * A query returns series in label order, which jumps between frames and blocks: reopening a
 * frame per series would decompress it hundreds of times. And some columns serve many series:
 * every series of one scrape target shares its block's timestamp column, and a frame stores
 * equal value columns once (a histogram's _count and its +Inf bucket, constant series). So a
 * reader, one per series set, keeps what it decoded: the frames it opened (decompressed, each
 * with the integers of its recently decoded columns), found through a small hash of (block,
 * frame), and the columns that more than one series uses, which it decodes once and copies to
 * each of them. A column only one series uses is decoded straight into the caller's array. Both
 * caches are bounded: READER_FRAMES frames, replaced oldest first, and READER_COL_SLOTS columns
 * of each sort (timestamps, values), two places for each column, the less recently used of the
 * two replaced (a collision only decodes again).
 *
 * A reader is used by one thread (its series set's); the blocks it reads are immutable and kept
 * alive by the querier's references, so their addresses identify them for the reader's life.
 */
#include <string.h>

#include "column.h"
#include "tsdb_int.h"

#define READER_FRAMES 256
#define FRAME_HINTS 1024 /* power of two */
#define READER_COL_SLOTS 2048

/* A decoded column: timestamps (frame VIGIL__TSDB_TS_FRAME) or values, 8 bytes a sample. */
typedef struct cached_col {
    const vigil__tsdb_block *block;
    uint32_t frame, column;
    size_t n, cap;
    void *data;
    uint64_t used; /* the reader's clock at the last use: the pair's older one is replaced */
} cached_col;

typedef struct cached_frame {
    const vigil__tsdb_block *block;
    uint32_t frame; /* VIGIL__TSDB_TS_FRAME for the block's timestamp frame */
    vigil__tsdb_frame *reader;
} cached_frame;

struct vigil__tsdb_block_reader {
    cached_frame frames[READER_FRAMES];
    size_t n, next_victim;
    uint16_t hint[FRAME_HINTS]; /* hash of (block, frame) -> where in frames it was last */
    cached_col ts[READER_COL_SLOTS], values[READER_COL_SLOTS]; /* apart: neither evicts the other */
    uint64_t clock;
};

vigil_status vigil__tsdb_block_reader_new(vigil__tsdb_block_reader **out)
{
    vigil__tsdb_block_reader *r = vigil__calloc(1, sizeof *r);
    if (!r)
        return vigil__fail(VIGIL_ENOMEM, "block reader");
    *out = r;
    return VIGIL_OK;
}

void vigil__tsdb_block_reader_free(vigil__tsdb_block_reader *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        vigil__tsdb_frame_reader_free(r->frames[i].reader);
    for (size_t i = 0; i < READER_COL_SLOTS; i++) {
        vigil__free(r->ts[i].data);
        vigil__free(r->values[i].data);
    }
    vigil__free(r);
}

/* A well-mixed hash of (block, frame, column): block structures sit close together in memory,
 * so their addresses differ in few bits, which a plain XOR with the numbers would cancel. */
static size_t mix(const vigil__tsdb_block *b, uint32_t frame, uint32_t column)
{
    uint64_t h = (uint64_t)(uintptr_t)b * UINT64_C(0x9E3779B97F4A7C15);
    h ^= ((uint64_t)frame << 32 | column) * UINT64_C(0xC2B2AE3D27D4EB4F);
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    return (size_t)(h ^ h >> 32);
}

static cached_frame *cache_lookup(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                                  uint32_t frame, uint16_t *hint)
{
    cached_frame *c = &r->frames[*hint];
    if (*hint < r->n && c->block == b && c->frame == frame)
        return c;
    for (size_t i = 0; i < r->n; i++)
        if (r->frames[i].block == b && r->frames[i].frame == frame) {
            *hint = (uint16_t)i;
            return &r->frames[i];
        }
    return NULL;
}

/* The open frame `frame` of b (VIGIL__TSDB_TS_FRAME: its timestamp frame), from the cache or
 * opened into it. */
static vigil_status open_frame(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                               uint32_t frame, vigil__tsdb_frame **out)
{
    uint16_t *hint = &r->hint[mix(b, frame, 0) & (FRAME_HINTS - 1)];
    cached_frame *c = cache_lookup(r, b, frame, hint);
    if (c) {
        *out = c->reader;
        return VIGIL_OK;
    }
    if (r->n < READER_FRAMES) {
        c = &r->frames[r->n];
        vigil_status st = vigil__tsdb_frame_reader_new(&c->reader);
        if (st)
            return st;
        r->n++;
    } else {
        c = &r->frames[r->next_victim];
        r->next_victim = (r->next_victim + 1) % READER_FRAMES;
    }
    c->block = NULL;
    const uint8_t *bytes;
    size_t len;
    vigil__tsdb_block_frame(b, frame, &bytes, &len);
    /* the block's CRC-32, checked when it was loaded (or built here), covers the frame's */
    if (vigil__tsdb_frame_open_checked(c->reader, bytes, len, false) != VIGIL_OK)
        return vigil__tsdb_block_corrupt(b, vigil_errmsg());
    c->block = b;
    c->frame = frame;
    *hint = (uint16_t)(c - r->frames);
    *out = c->reader;
    return VIGIL_OK;
}

/* Column `column` of frame `frame` of b (timestamps for VIGIL__TSDB_TS_FRAME) into out, which
 * has room for count samples, the column's length. */
static vigil_status decode_column(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                                  uint32_t frame, uint32_t column, void *out, size_t count)
{
    vigil__tsdb_frame *f = NULL;
    size_t n = 0;
    vigil_status st = open_frame(r, b, frame, &f);
    if (st)
        return st;
    st = frame == VIGIL__TSDB_TS_FRAME ? vigil__tsdb_frame_get_ts(f, column, out, count, &n)
                                       : vigil__tsdb_frame_get_values(f, column, out, count, &n);
    if (st == VIGIL_ECORRUPT || st == VIGIL_ELIMIT || st == VIGIL_EINVAL)
        return vigil__tsdb_block_corrupt(b, vigil_errmsg());
    if (!st && n != count)
        return vigil__tsdb_block_corrupt(b, "column length differs from the series entry");
    return st;
}

/* The same through the column cache: decoded once while it keeps its slot, then copied. */
static vigil_status read_column(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                                uint32_t frame, uint32_t column, void *out, size_t count)
{
    cached_col *slots = frame == VIGIL__TSDB_TS_FRAME ? r->ts : r->values;
    size_t at = mix(b, frame, column) % READER_COL_SLOTS;
    cached_col *c = &slots[at], *other = &slots[at ^ 1];
    if (other->block == b && other->frame == frame && other->column == column)
        c = other;
    else if (!(c->block == b && c->frame == frame && c->column == column) && other->used < c->used)
        c = other;
    c->used = ++r->clock;
    if (c->block != b || c->frame != frame || c->column != column) {
        if (c->cap < count) {
            void *d = vigil__realloc(c->data, count * 8);
            if (!d) /* no room to keep it: decode straight into the output */
                return decode_column(r, b, frame, column, out, count);
            c->data = d;
            c->cap = count;
        }
        c->block = NULL;
        vigil_status st = decode_column(r, b, frame, column, c->data, count);
        if (st)
            return st;
        c->block = b;
        c->frame = frame;
        c->column = column;
        c->n = count;
    }
    if (c->n != count)
        return vigil__tsdb_block_corrupt(b, "series entries disagree on a column's length");
    memcpy(out, c->data, count * 8);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_block_read(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                                    const vigil__tsdb_block_series *e, int64_t mint, int64_t maxt,
                                    int64_t **t, double **v, size_t *n, size_t *cap)
{
    if (e->maxt < mint || e->mint > maxt)
        return VIGIL_OK;
    vigil_status st = vigil__tsdb_samples_grow(t, v, cap, *n + e->count);
    if (!st)
        st = read_column(r, b, VIGIL__TSDB_TS_FRAME, e->ts_column, *t + *n, e->count);
    if (!st && e->shared)
        st = read_column(r, b, e->frame, e->column, *v + *n, e->count);
    else if (!st)
        st = decode_column(r, b, e->frame, e->column, *v + *n, e->count);
    if (st)
        return st;
    int64_t *ts = *t + *n;
    double *vs = *v + *n;
    if (e->mint >= mint && e->maxt <= maxt) {
        *n += e->count;
        return VIGIL_OK;
    }
    size_t k = 0;
    for (size_t i = 0; i < e->count; i++) {
        if (ts[i] < mint || ts[i] > maxt)
            continue;
        ts[k] = ts[i];
        vs[k++] = vs[i];
    }
    *n += k;
    return VIGIL_OK;
}
