/* block.c — sealed blocks: an immutable time range of every series, in one byte image that is
 * both the in-memory form and the file on disk (docs/formats.md, "Block file").
 *
 * Timestamps: all distinct timestamp columns of the block go into one frame, so series scraped
 * together (which share their timestamps exactly) store them once. Values: one column per
 * series, in frames of FRAME_SERIES series in handle order, which keeps a family's series (and
 * a histogram's buckets) next to each other for the compressor. Label sets are stored too, so a
 * block can be loaded without the WAL; a loaded block maps them back to this run's handles.
 *
 * A block is reference counted: the store holds one reference, each querier one more, so
 * retention can drop a block that a query is still reading; the file is deleted when the last
 * reference goes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "column.h"
#include "tsdb_int.h"

#define MAGIC "VIGILBLK"
#define VERSION 1u
#define HEADER_SIZE 96u
#define SERIES_ENTRY 36u /* frame u32, column u32, ts_column u32, count u32, mint i64, maxt i64,
                            reserved u32 */
#define FRAME_SERIES 512
#define LABELS_ZSTD_LEVEL 9
#define BLOCK_CAP ((size_t)1 << 31)

struct vigil__tsdb_block {
    _Atomic int refs;
    bool doomed;
    char *path;                      /* NULL in memory mode */
    int64_t mint, maxt;              /* [mint, maxt) */
    uint64_t nsamples;
    uint8_t *bytes;                  /* the whole image */
    size_t len;
    vigil__tsdb_block_series *series; /* sorted by ref */
    uint32_t nseries;
    const uint8_t *ts_frame;
    size_t ts_frame_len;
    uint32_t nframes;
    const uint8_t **frames;
    size_t *frame_lens;
};

/* ---- little-endian helpers ------------------------------------------------------------------ */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static vigil_status buf_put(vigil_buffer *b, const void *data, size_t len)
{
    char *p;
    vigil_status st = vigil__buf_reserve(b, len, &p);
    if (st)
        return st;
    memcpy(p, data, len);
    b->len += len;
    return VIGIL_OK;
}

/* ---- accessors ------------------------------------------------------------------------------ */

int64_t vigil__tsdb_block_mint(const vigil__tsdb_block *b)
{
    return b->mint;
}
int64_t vigil__tsdb_block_maxt(const vigil__tsdb_block *b)
{
    return b->maxt;
}
uint64_t vigil__tsdb_block_samples(const vigil__tsdb_block *b)
{
    return b->nsamples;
}
uint64_t vigil__tsdb_block_bytes(const vigil__tsdb_block *b)
{
    return b->len;
}
size_t vigil__tsdb_block_nseries(const vigil__tsdb_block *b)
{
    return b->nseries;
}
const vigil__tsdb_block_series *vigil__tsdb_block_series_at(const vigil__tsdb_block *b, size_t i)
{
    return &b->series[i];
}

const vigil__tsdb_block_series *vigil__tsdb_block_find(const vigil__tsdb_block *b,
                                                       vigil_tsdb_ref ref)
{
    size_t lo = 0, hi = b->nseries;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (b->series[mid].ref < ref)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < b->nseries && b->series[lo].ref == ref ? &b->series[lo] : NULL;
}

void vigil__tsdb_block_ref(vigil__tsdb_block *b)
{
    atomic_fetch_add(&b->refs, 1);
}

void vigil__tsdb_block_doom(vigil__tsdb_block *b)
{
    b->doomed = true;
}

void vigil__tsdb_block_unref(vigil__tsdb_block *b)
{
    if (!b || atomic_fetch_sub(&b->refs, 1) != 1)
        return;
    if (b->doomed && b->path)
        unlink(b->path);
    vigil__free(b->path);
    vigil__free(b->bytes);
    vigil__free(b->series);
    vigil__free(b->frames);
    vigil__free(b->frame_lens);
    vigil__free(b);
}

/* ---- building ------------------------------------------------------------------------------- */

typedef struct build_ctx {
    vigil__tsdb_frame_builder *ts, *vals;
    vigil_buffer frames;      /* value frames, back to back */
    vigil_buffer frame_dir;   /* (offset u64, length u64) per value frame, relative */
    vigil_buffer labels;      /* the label table, before compression */
    vigil_buffer series;      /* series entries */
    vigil__tsdb_block_series *entries;
    uint32_t nentries, capentries, nframes, in_frame;
    uint64_t nsamples;
    int64_t *t;
    double *v;
    size_t cap;
} build_ctx;

static vigil_status finish_value_frame(build_ctx *x)
{
    if (x->in_frame == 0)
        return VIGIL_OK;
    size_t off = x->frames.len;
    vigil_status st = vigil__tsdb_frame_finish(x->vals, &x->frames);
    if (st)
        return st;
    uint8_t d[16];
    put_u64(d, off);
    put_u64(d + 8, x->frames.len - off);
    x->nframes++;
    x->in_frame = 0;
    return buf_put(&x->frame_dir, d, sizeof d);
}

static vigil_status put_labels(build_ctx *x, const vigil__tsdb_labels *ls)
{
    uint8_t n[2] = {(uint8_t)ls->n, (uint8_t)(ls->n >> 8)};
    vigil_status st = buf_put(&x->labels, n, 2);
    for (uint32_t i = 0; st == VIGIL_OK && i < ls->n; i++) {
        st = buf_put(&x->labels, ls->l[i].name, strlen(ls->l[i].name) + 1);
        if (st == VIGIL_OK)
            st = buf_put(&x->labels, ls->l[i].value, strlen(ls->l[i].value) + 1);
    }
    return st;
}

static vigil_status add_series(build_ctx *x, const vigil__tsdb_series *s, size_t n)
{
    uint32_t ts_col, val_col;
    vigil_status st = vigil__tsdb_frame_add_ts(x->ts, x->t, n, &ts_col);
    if (st == VIGIL_OK)
        st = vigil__tsdb_frame_add_values(x->vals, x->v, n, &val_col);
    if (st == VIGIL_OK)
        st = put_labels(x, s->labels);
    if (st)
        return st;
    uint8_t e[SERIES_ENTRY] = {0};
    put_u32(e, x->nframes);
    put_u32(e + 4, val_col);
    put_u32(e + 8, ts_col);
    put_u32(e + 12, (uint32_t)n);
    put_u64(e + 16, (uint64_t)x->t[0]);
    put_u64(e + 24, (uint64_t)x->t[n - 1]);
    st = buf_put(&x->series, e, sizeof e);
    if (st)
        return st;
    if (x->nentries == x->capentries) {
        uint32_t cap = x->capentries ? x->capentries * 2 : 1024;
        vigil__tsdb_block_series *ne = vigil__realloc(x->entries, cap * sizeof *ne);
        if (!ne)
            return vigil__fail(VIGIL_ENOMEM, "block series table");
        x->entries = ne;
        x->capentries = cap;
    }
    x->entries[x->nentries++] =
        (vigil__tsdb_block_series){s->ref, x->nframes, val_col, ts_col, (uint32_t)n, x->t[0],
                                   x->t[n - 1]};
    x->nsamples += n;
    if (++x->in_frame == FRAME_SERIES)
        return finish_value_frame(x);
    return VIGIL_OK;
}

static vigil_status collect_series(vigil_tsdb *db, build_ctx *x, int64_t mint, int64_t maxt)
{
    uint32_t end = atomic_load(&db->next_ref);
    for (uint32_t ref = 0; ref < end; ref++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(db, ref);
        if (!s || s->head_samples == 0)
            continue;
        size_t n = 0;
        vigil_status st = vigil__tsdb_head_read(s, mint, maxt - 1, &x->t, &x->v, &n, &x->cap);
        if (st == VIGIL_OK && n)
            st = add_series(x, s, n);
        if (st)
            return st;
    }
    return finish_value_frame(x);
}

/* The image: header, compressed labels, series entries, timestamp frame, value frames, frame
 * directory, then a CRC-32 of everything before it. */
static vigil_status assemble(build_ctx *x, int64_t mint, int64_t maxt, vigil_buffer *img)
{
    vigil_buffer tsf;
    vigil_buffer_init(&tsf, BLOCK_CAP);
    vigil_status st = vigil__tsdb_frame_finish(x->ts, &tsf);
    size_t zcap = ZSTD_compressBound(x->labels.len);
    uint8_t *z = st ? NULL : vigil__malloc(zcap);
    if (!st && !z)
        st = vigil__fail(VIGIL_ENOMEM, "block label table");
    size_t zlen = 0;
    if (!st) {
        zlen = ZSTD_compress(z, zcap, x->labels.data, x->labels.len, LABELS_ZSTD_LEVEL);
        if (ZSTD_isError(zlen))
            st = vigil__fail(VIGIL_EIO, "zstd: %s", ZSTD_getErrorName(zlen));
    }
    uint8_t h[HEADER_SIZE] = {0};
    if (!st) {
        uint64_t off = HEADER_SIZE;
        memcpy(h, MAGIC, 8);
        put_u32(h + 8, VERSION);
        put_u64(h + 16, (uint64_t)mint);
        put_u64(h + 24, (uint64_t)maxt);
        put_u64(h + 32, x->nsamples);
        put_u32(h + 40, x->nentries);
        put_u32(h + 44, x->nframes);
        put_u64(h + 48, off); /* labels */
        put_u64(h + 56, zlen);
        put_u64(h + 64, x->labels.len);
        off += zlen;
        put_u64(h + 72, off); /* series entries */
        off += x->series.len;
        put_u64(h + 80, off); /* timestamp frame, then value frames, then the directory */
        put_u64(h + 88, tsf.len);
        st = buf_put(img, h, sizeof h);
    }
    if (!st)
        st = buf_put(img, z, zlen);
    if (!st)
        st = buf_put(img, x->series.data, x->series.len);
    if (!st)
        st = buf_put(img, tsf.data, tsf.len);
    if (!st)
        st = buf_put(img, x->frames.data, x->frames.len);
    if (!st)
        st = buf_put(img, x->frame_dir.data, x->frame_dir.len);
    if (!st) {
        uint8_t crc[4];
        put_u32(crc, (uint32_t)crc32(0, (const Bytef *)img->data, (uInt)img->len));
        st = buf_put(img, crc, 4);
    }
    vigil__free(z);
    vigil_buffer_free(&tsf);
    return st;
}

static void build_free(build_ctx *x)
{
    vigil__tsdb_frame_builder_free(x->ts);
    vigil__tsdb_frame_builder_free(x->vals);
    vigil_buffer_free(&x->frames);
    vigil_buffer_free(&x->frame_dir);
    vigil_buffer_free(&x->labels);
    vigil_buffer_free(&x->series);
    vigil__free(x->entries);
    vigil__free(x->t);
    vigil__free(x->v);
}

static vigil_status parse_image(vigil__tsdb_block *b, bool with_entries);

vigil_status vigil__tsdb_block_build(vigil_tsdb *db, int64_t mint, int64_t maxt,
                                     vigil__tsdb_block **out)
{
    *out = NULL;
    build_ctx x = {0};
    vigil_buffer_init(&x.frames, BLOCK_CAP);
    vigil_buffer_init(&x.frame_dir, BLOCK_CAP);
    vigil_buffer_init(&x.labels, BLOCK_CAP);
    vigil_buffer_init(&x.series, BLOCK_CAP);
    vigil_status st = vigil__tsdb_frame_builder_new(0, 0, &x.ts);
    if (!st)
        st = vigil__tsdb_frame_builder_new(0, 0, &x.vals);
    if (!st)
        st = collect_series(db, &x, mint, maxt);
    vigil__tsdb_block *b = NULL;
    if (!st && x.nentries) {
        vigil_buffer img;
        vigil_buffer_init(&img, BLOCK_CAP);
        st = assemble(&x, mint, maxt, &img);
        b = st ? NULL : vigil__calloc(1, sizeof *b);
        if (!st && !b)
            st = vigil__fail(VIGIL_ENOMEM, "block");
        if (!st) {
            atomic_init(&b->refs, 1);
            b->bytes = (uint8_t *)img.data; /* the buffer's storage becomes the block's */
            b->len = img.len;
            b->series = x.entries;
            b->nseries = x.nentries;
            x.entries = NULL;
            st = parse_image(b, false);
        } else {
            vigil_buffer_free(&img);
        }
    }
    build_free(&x);
    if (st) {
        vigil__tsdb_block_unref(b);
        return st;
    }
    *out = b;
    return VIGIL_OK;
}

/* ---- reading an image ----------------------------------------------------------------------- */

static vigil_status corrupt(const vigil__tsdb_block *b, const char *what)
{
    return vigil__fail(VIGIL_ECORRUPT, "block %s: %s", b->path ? b->path : "(memory)", what);
}

/* Checks the header and the section bounds and points the frame table into the image; with
 * with_entries, also decodes the series entries (refs are filled in by the loader). */
static vigil_status parse_image(vigil__tsdb_block *b, bool with_entries)
{
    const uint8_t *p = b->bytes;
    if (b->len < HEADER_SIZE + 4 || memcmp(p, MAGIC, 8) != 0)
        return corrupt(b, "not a vigil block (bad magic or too short)");
    if (get_u32(p + 8) != VERSION)
        return corrupt(b, "unknown format version");
    if (get_u32(p + b->len - 4) != (uint32_t)crc32(0, p, (uInt)(b->len - 4)))
        return corrupt(b, "checksum mismatch");
    b->mint = (int64_t)get_u64(p + 16);
    b->maxt = (int64_t)get_u64(p + 24);
    b->nsamples = get_u64(p + 32);
    uint32_t nseries = get_u32(p + 40);
    b->nframes = get_u32(p + 44);
    uint64_t series_off = get_u64(p + 72), ts_off = get_u64(p + 80), ts_len = get_u64(p + 88);
    uint64_t body_end = b->len - 4, dir_len = (uint64_t)b->nframes * 16;
    if (series_off > body_end || (uint64_t)nseries * SERIES_ENTRY > body_end - series_off ||
        ts_off != series_off + (uint64_t)nseries * SERIES_ENTRY || ts_len > body_end - ts_off ||
        dir_len > body_end - ts_off - ts_len)
        return corrupt(b, "section bounds out of range");
    b->ts_frame = p + ts_off;
    b->ts_frame_len = ts_len;
    uint64_t frames_off = ts_off + ts_len, dir_off = body_end - dir_len;
    b->frames = vigil__calloc(b->nframes + 1, sizeof *b->frames);
    b->frame_lens = vigil__calloc(b->nframes + 1, sizeof *b->frame_lens);
    if (!b->frames || !b->frame_lens)
        return vigil__fail(VIGIL_ENOMEM, "block frame table");
    for (uint32_t i = 0; i < b->nframes; i++) {
        uint64_t off = get_u64(p + dir_off + 16 * i), len = get_u64(p + dir_off + 16 * i + 8);
        if (off > dir_off - frames_off || len > dir_off - frames_off - off)
            return corrupt(b, "frame directory out of range");
        b->frames[i] = p + frames_off + off;
        b->frame_lens[i] = len;
    }
    if (!with_entries)
        return VIGIL_OK;
    b->series = vigil__calloc(nseries + 1, sizeof *b->series);
    if (!b->series)
        return vigil__fail(VIGIL_ENOMEM, "block series table");
    b->nseries = nseries;
    for (uint32_t i = 0; i < nseries; i++) {
        const uint8_t *e = p + series_off + (uint64_t)i * SERIES_ENTRY;
        b->series[i] = (vigil__tsdb_block_series){0, get_u32(e), get_u32(e + 4), get_u32(e + 8),
                                                   get_u32(e + 12), (int64_t)get_u64(e + 16),
                                                   (int64_t)get_u64(e + 24)};
        if (b->series[i].frame >= b->nframes || b->series[i].count == 0)
            return corrupt(b, "series entry out of range");
    }
    return VIGIL_OK;
}

static int compare_entries(const void *a, const void *b)
{
    const vigil__tsdb_block_series *x = a, *y = b;
    return x->ref < y->ref ? -1 : x->ref > y->ref;
}

/* Resolves the block's label table to this run's series (creating them), entry by entry. */
static vigil_status resolve_series(vigil_tsdb *db, vigil__tsdb_block *b)
{
    const uint8_t *p = b->bytes;
    uint64_t zoff = get_u64(p + 48), zlen = get_u64(p + 56), rawlen = get_u64(p + 64);
    if (zoff != HEADER_SIZE || zlen > b->len || rawlen > ((uint64_t)1 << 32))
        return corrupt(b, "label table out of range");
    char *raw = vigil__malloc(rawlen + 1);
    if (!raw)
        return vigil__fail(VIGIL_ENOMEM, "block label table");
    size_t got = ZSTD_decompress(raw, rawlen, p + zoff, zlen);
    vigil_status st = ZSTD_isError(got) || got != rawlen ? corrupt(b, "label table damaged")
                                                         : VIGIL_OK;
    const char *q = raw, *end = raw + rawlen;
    raw[rawlen] = '\0';
    for (uint32_t i = 0; st == VIGIL_OK && i < b->nseries; i++) {
        vigil_label pairs[VIGIL__TSDB_LABELS_MAX];
        if (end - q < 2) {
            st = corrupt(b, "label table truncated");
            break;
        }
        size_t n = (uint8_t)q[0] | (size_t)(uint8_t)q[1] << 8;
        q += 2;
        for (size_t k = 0; st == VIGIL_OK && k < n; k++) {
            if (k >= VIGIL__TSDB_LABELS_MAX || q >= end) {
                st = corrupt(b, "label table truncated");
                break;
            }
            pairs[k].name = q;
            q += strnlen(q, (size_t)(end - q)) + 1;
            pairs[k].value = q < end ? q : "";
            q += q < end ? strnlen(q, (size_t)(end - q)) + 1 : 0;
            if (q > end)
                st = corrupt(b, "label table truncated");
        }
        vigil__tsdb_series *s;
        if (st == VIGIL_OK)
            st = vigil__tsdb_series_from_pairs(db, pairs, n, false, &s);
        if (st == VIGIL_OK)
            b->series[i].ref = s->ref;
    }
    vigil__free(raw);
    if (st == VIGIL_OK)
        qsort(b->series, b->nseries, sizeof *b->series, compare_entries);
    return st;
}

vigil_status vigil__tsdb_block_load(vigil_tsdb *db, const char *path, vigil__tsdb_block **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return vigil__fail(VIGIL_EIO, "cannot open block %s: %s", path, strerror(errno));
    struct stat sb;
    vigil__tsdb_block *b = vigil__calloc(1, sizeof *b);
    vigil_status st = b ? VIGIL_OK : vigil__fail(VIGIL_ENOMEM, "block");
    if (!st && fstat(fd, &sb) != 0)
        st = vigil__fail(VIGIL_EIO, "cannot stat block %s: %s", path, strerror(errno));
    if (!st) {
        atomic_init(&b->refs, 1);
        b->len = (size_t)sb.st_size;
        b->bytes = vigil__malloc(b->len ? b->len : 1);
        b->path = vigil__strdup(path);
        if (!b->bytes || !b->path)
            st = vigil__fail(VIGIL_ENOMEM, "block of %zu bytes", b->len);
    }
    if (!st && pread(fd, b->bytes, b->len, 0) != (ssize_t)b->len)
        st = vigil__fail(VIGIL_EIO, "cannot read block %s", path);
    close(fd);
    if (!st)
        st = parse_image(b, true);
    if (!st)
        st = resolve_series(db, b);
    if (st) {
        vigil__tsdb_block_unref(b);
        return st;
    }
    *out = b;
    return VIGIL_OK;
}

/* ---- writing -------------------------------------------------------------------------------- */

static vigil_status write_all(int fd, const uint8_t *p, size_t len, const char *path)
{
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return vigil__fail(VIGIL_EIO, "cannot write %s: %s", path, strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return VIGIL_OK;
}

vigil_status vigil__tsdb_block_write(vigil_tsdb *db, vigil__tsdb_block *b)
{
    char path[4096], tmp[4200];
    vigil__tsdb_path(db, path, "blocks/%015lld-%015lld.vgb", (long long)b->mint,
                     (long long)b->maxt);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return vigil__fail(VIGIL_EIO, "cannot create %s: %s", tmp, strerror(errno));
    vigil_status st = write_all(fd, b->bytes, b->len, tmp);
    if (!st && fsync(fd) != 0)
        st = vigil__fail(VIGIL_EIO, "cannot sync %s: %s", tmp, strerror(errno));
    close(fd);
    if (!st && rename(tmp, path) != 0)
        st = vigil__fail(VIGIL_EIO, "cannot rename %s: %s", tmp, strerror(errno));
    char dir[4096];
    vigil__tsdb_path(db, dir, "blocks");
    if (!st)
        st = vigil__tsdb_fsync_dir(dir);
    if (st) {
        unlink(tmp);
        return st;
    }
    b->path = vigil__strdup(path);
    return b->path ? VIGIL_OK : vigil__fail(VIGIL_ENOMEM, "block path");
}

vigil_status vigil__tsdb_publish_block(vigil_tsdb *db, vigil__tsdb_block *b)
{
    pthread_mutex_lock(&db->append_mu);
    if (db->min_append_t < b->maxt)
        db->min_append_t = b->maxt;
    pthread_mutex_lock(&db->blocks_mu);
    vigil_status st = VIGIL_OK;
    if (db->nblocks == db->capblocks) {
        size_t cap = db->capblocks ? db->capblocks * 2 : 16;
        vigil__tsdb_block **nb = vigil__realloc(db->blocks, cap * sizeof *nb);
        if (!nb)
            st = vigil__fail(VIGIL_ENOMEM, "block list");
        else {
            db->blocks = nb;
            db->capblocks = cap;
        }
    }
    if (!st) {
        size_t at = db->nblocks;
        while (at > 0 && db->blocks[at - 1]->mint > b->mint)
            at--;
        memmove(db->blocks + at + 1, db->blocks + at, (db->nblocks - at) * sizeof *db->blocks);
        db->blocks[at] = b;
        db->nblocks++;
        if (db->head_mint < b->maxt)
            db->head_mint = b->maxt;
        vigil__tsdb_begin_generation(db, b->maxt);
        for (uint32_t i = 0; i < b->nseries; i++) {
            vigil__tsdb_series *s = vigil__tsdb_series_get(db, b->series[i].ref);
            if (s)
                s->block_count++;
        }
    }
    pthread_mutex_unlock(&db->blocks_mu);
    pthread_mutex_unlock(&db->append_mu);
    return st;
}

/* ---- decoding for queries ------------------------------------------------------------------- */

/* Opened (decompressed) frames, kept for the life of the reader: a query visits series in
 * label order, which jumps between frames and blocks, and reopening a frame per series would
 * decompress it hundreds of times. READER_FRAMES bounds the memory; beyond it the oldest frame
 * is reused (FIFO). */
#define READER_FRAMES 256
#define TS_FRAME UINT32_MAX

/* Decoded timestamp columns: every series of one scrape shares its block's column, so a query
 * decodes each once and copies it for the others (direct-mapped; a collision just decodes). */
#define READER_TS_SLOTS 1024

typedef struct cached_ts {
    const vigil__tsdb_block *block;
    uint32_t column;
    size_t n, cap;
    int64_t *ts;
} cached_ts;

typedef struct cached_frame {
    const vigil__tsdb_block *block;
    uint32_t frame; /* TS_FRAME for the block's timestamp frame */
    vigil__tsdb_frame *reader;
} cached_frame;

struct vigil__tsdb_block_reader {
    cached_frame frames[READER_FRAMES];
    size_t n, next_victim, last_hit;
    cached_ts ts[READER_TS_SLOTS];
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
    for (size_t i = 0; i < READER_TS_SLOTS; i++)
        vigil__free(r->ts[i].ts);
    vigil__free(r);
}

static cached_frame *cache_lookup(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                                  uint32_t frame)
{
    if (r->last_hit < r->n && r->frames[r->last_hit].block == b &&
        r->frames[r->last_hit].frame == frame)
        return &r->frames[r->last_hit];
    for (size_t i = 0; i < r->n; i++)
        if (r->frames[i].block == b && r->frames[i].frame == frame) {
            r->last_hit = i;
            return &r->frames[i];
        }
    return NULL;
}

static vigil_status open_frame(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                               uint32_t frame, vigil__tsdb_frame **out)
{
    cached_frame *c = cache_lookup(r, b, frame);
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
    const uint8_t *bytes = frame == TS_FRAME ? b->ts_frame : b->frames[frame];
    size_t len = frame == TS_FRAME ? b->ts_frame_len : b->frame_lens[frame];
    if (vigil__tsdb_frame_open(c->reader, bytes, len) != VIGIL_OK)
        return corrupt(b, vigil_errmsg());
    c->block = b;
    c->frame = frame;
    r->last_hit = (size_t)(c - r->frames);
    *out = c->reader;
    return VIGIL_OK;
}

/* The timestamps of entry e into out (room for e->count), from the cache when it has them. */
static vigil_status read_ts(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                            vigil__tsdb_frame *tsf, const vigil__tsdb_block_series *e,
                            int64_t *out, size_t *n)
{
    cached_ts *c = &r->ts[((uintptr_t)b / 64 * 31 + e->ts_column) % READER_TS_SLOTS];
    if (c->block != b || c->column != e->ts_column) {
        if (c->cap < e->count) {
            int64_t *ts = vigil__realloc(c->ts, e->count * sizeof *ts);
            if (!ts)
                return vigil__tsdb_frame_get_ts(tsf, e->ts_column, out, e->count, n);
            c->ts = ts;
            c->cap = e->count;
        }
        c->block = NULL;
        vigil_status st = vigil__tsdb_frame_get_ts(tsf, e->ts_column, c->ts, c->cap, &c->n);
        if (st)
            return st;
        c->block = b;
        c->column = e->ts_column;
    }
    *n = c->n < e->count ? c->n : e->count;
    memcpy(out, c->ts, *n * sizeof *out);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_block_read(vigil__tsdb_block_reader *r, const vigil__tsdb_block *b,
                                    const vigil__tsdb_block_series *e, int64_t mint, int64_t maxt,
                                    int64_t **t, double **v, size_t *n, size_t *cap)
{
    if (e->maxt < mint || e->mint > maxt)
        return VIGIL_OK;
    vigil__tsdb_frame *tsf = NULL, *vf = NULL;
    vigil_status st = open_frame(r, b, TS_FRAME, &tsf);
    if (!st)
        st = open_frame(r, b, e->frame, &vf);
    if (!st)
        st = vigil__tsdb_samples_grow(t, v, cap, *n + e->count);
    size_t nt = 0, nv = 0;
    if (!st)
        st = read_ts(r, b, tsf, e, *t + *n, &nt);
    if (!st)
        st = vigil__tsdb_frame_get_values(vf, e->column, *v + *n, e->count, &nv);
    if (!st && (nt != e->count || nv != e->count))
        st = corrupt(b, "column length differs from the series entry");
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
