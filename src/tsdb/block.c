/* block.c — sealed blocks: an immutable time range of every series, in one byte image that is
 * both the in-memory form and the file on disk (docs/formats.md, "Block file").
 *
 * Timestamps: all distinct timestamp columns of the block go into one frame, so series scraped
 * together (which share their timestamps exactly) store them once. Values: one column per
 * series, in frames of FRAME_SERIES series in handle order, which keeps a family's series (and
 * a histogram's buckets) next to each other for the compressor. The series table (blocktab.c)
 * says where each series' columns are and what its labels are, so a block can be loaded without
 * the WAL; a loaded block maps the label sets back to this run's handles. Decoding for queries
 * is in block_read.c.
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
#define VERSION 2u
#define HEADER_SIZE 56u
#define FRAME_SERIES 512
#define TABLE_ZSTD_LEVEL 9 /* higher levels save ~1% of the table for 20x the time */
#define BLOCK_CAP ((size_t)1 << 31)
#define TABLE_RAW_MAX ((size_t)1 << 30)
/* Bytes a series takes in the series table at least: its timestamp column, its column offset,
 * its label count and one label ("x" NUL NUL). */
#define MIN_SERIES_BYTES 6u

struct vigil__tsdb_block {
    _Atomic int refs;
    bool doomed;
    char *path;         /* NULL in memory mode */
    int64_t mint, maxt; /* [mint, maxt) */
    uint64_t nsamples;
    uint8_t *bytes; /* the whole image */
    size_t len;
    vigil__tsdb_block_series *series; /* sorted by ref */
    uint32_t nseries;
    const uint8_t *table; /* the series table, zstd-compressed */
    size_t table_len, table_raw_len;
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
    /* Handles are dense and a block holds most series, so the entry is usually where the
     * handle's distance from the first one says; a search otherwise. */
    if (b->nseries && ref >= b->series[0].ref) {
        size_t guess = ref - b->series[0].ref;
        if (guess < b->nseries && b->series[guess].ref == ref)
            return &b->series[guess];
    }
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

void vigil__tsdb_block_frame(const vigil__tsdb_block *b, uint32_t frame, const uint8_t **bytes,
                             size_t *len)
{
    *bytes = frame == VIGIL__TSDB_TS_FRAME ? b->ts_frame : b->frames[frame];
    *len = frame == VIGIL__TSDB_TS_FRAME ? b->ts_frame_len : b->frame_lens[frame];
}

vigil_status vigil__tsdb_block_corrupt(const vigil__tsdb_block *b, const char *what)
{
    char copy[512]; /* what may be the message buffer that vigil__fail writes */
    snprintf(copy, sizeof copy, "%s", what);
    return vigil__fail(VIGIL_ECORRUPT, "block %s: %s", b->path ? b->path : "(memory)", copy);
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
    vigil__tsdb_blocktab tab;
    vigil_buffer frames;    /* value frames, back to back */
    vigil_buffer frame_dir; /* u32 length per value frame */
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
    if (st == VIGIL_OK)
        st = vigil__tsdb_blocktab_end_frame(&x->tab);
    if (st)
        return st;
    uint8_t d[4];
    put_u32(d, (uint32_t)(x->frames.len - off));
    x->nframes++;
    x->in_frame = 0;
    return buf_put(&x->frame_dir, d, sizeof d);
}

static vigil_status push_entry(build_ctx *x, const vigil__tsdb_block_series *e)
{
    if (x->nentries == x->capentries) {
        uint32_t cap = x->capentries ? x->capentries * 2 : 1024;
        vigil__tsdb_block_series *ne = vigil__realloc(x->entries, cap * sizeof *ne);
        if (!ne)
            return vigil__fail(VIGIL_ENOMEM, "block series table");
        x->entries = ne;
        x->capentries = cap;
    }
    x->entries[x->nentries++] = *e;
    return VIGIL_OK;
}

/* The n samples of s in x->t / x->v become the next series of the block. */
static vigil_status add_series(build_ctx *x, const vigil__tsdb_series *s, size_t n)
{
    uint32_t ts_col = 0, val_col = 0;
    vigil_status st = vigil__tsdb_frame_add_ts(x->ts, x->t, n, &ts_col);
    if (st == VIGIL_OK && ts_col == x->tab.nts) /* a timestamp column not seen before */
        st = vigil__tsdb_blocktab_add_ts(&x->tab, (uint32_t)n, x->t[0], x->t[n - 1]);
    if (st == VIGIL_OK)
        st = vigil__tsdb_frame_add_values(x->vals, x->v, n, &val_col);
    if (st == VIGIL_OK)
        st = vigil__tsdb_blocktab_add_series(&x->tab, ts_col, val_col, s->labels);
    vigil__tsdb_block_series e = {s->ref,      x->nframes, val_col, ts_col,
                                  (uint32_t)n, false,      x->t[0], x->t[n - 1]};
    if (st == VIGIL_OK)
        st = push_entry(x, &e);
    if (st)
        return st;
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

/* The series table, zstd-compressed, into z (allocated). */
static vigil_status pack_table(build_ctx *x, uint8_t **z, size_t *zlen, size_t *rawlen)
{
    vigil_buffer raw;
    vigil_buffer_init(&raw, BLOCK_CAP);
    vigil_status st = vigil__tsdb_blocktab_finish(&x->tab, &raw);
    size_t zcap = ZSTD_compressBound(raw.len);
    *z = st ? NULL : vigil__malloc(zcap);
    if (!st && !*z)
        st = vigil__fail(VIGIL_ENOMEM, "block series table");
    if (!st) {
        *zlen = ZSTD_compress(*z, zcap, raw.data, raw.len, TABLE_ZSTD_LEVEL);
        if (ZSTD_isError(*zlen))
            st = vigil__fail(VIGIL_EIO, "zstd: %s", ZSTD_getErrorName(*zlen));
    }
    *rawlen = raw.len;
    vigil_buffer_free(&raw);
    return st;
}

static void put_header(uint8_t *h, const build_ctx *x, int64_t mint, int64_t maxt, size_t zlen,
                       size_t rawlen, size_t tslen)
{
    memset(h, 0, HEADER_SIZE);
    memcpy(h, MAGIC, 8);
    put_u32(h + 8, VERSION);
    put_u32(h + 12, x->nentries);
    put_u64(h + 16, (uint64_t)mint);
    put_u64(h + 24, (uint64_t)maxt);
    put_u64(h + 32, x->nsamples);
    put_u32(h + 40, x->nframes);
    put_u32(h + 44, (uint32_t)zlen);
    put_u32(h + 48, (uint32_t)rawlen);
    put_u32(h + 52, (uint32_t)tslen);
}

/* The image: header, series table, timestamp frame, value frames, frame directory, then a CRC-32
 * of everything before it. */
static vigil_status assemble(build_ctx *x, int64_t mint, int64_t maxt, vigil_buffer *img)
{
    vigil_buffer tsf;
    vigil_buffer_init(&tsf, BLOCK_CAP);
    uint8_t *z = NULL;
    size_t zlen = 0, rawlen = 0;
    vigil_status st = vigil__tsdb_frame_finish(x->ts, &tsf);
    if (!st)
        st = pack_table(x, &z, &zlen, &rawlen);
    if (!st && (zlen > UINT32_MAX || rawlen > UINT32_MAX || tsf.len > UINT32_MAX))
        st = vigil__fail(VIGIL_ELIMIT, "block sections above 4 GiB");
    uint8_t h[HEADER_SIZE];
    if (!st) {
        put_header(h, x, mint, maxt, zlen, rawlen, tsf.len);
        st = buf_put(img, h, sizeof h);
    }
    if (!st)
        st = buf_put(img, z, zlen);
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
    vigil__tsdb_blocktab_free(&x->tab);
    vigil_buffer_free(&x->frames);
    vigil_buffer_free(&x->frame_dir);
    vigil__free(x->entries);
    vigil__free(x->t);
    vigil__free(x->v);
}

static vigil_status parse_image(vigil__tsdb_block *b);

/* A block of the built image img with the entries of x (taken over). */
static vigil_status make_block(build_ctx *x, vigil_buffer *img, vigil__tsdb_block **out)
{
    vigil__tsdb_block *b = vigil__calloc(1, sizeof *b);
    if (!b) {
        vigil_buffer_free(img);
        return vigil__fail(VIGIL_ENOMEM, "block");
    }
    atomic_init(&b->refs, 1);
    b->bytes = (uint8_t *)img->data; /* the buffer's storage becomes the block's */
    b->len = img->len;
    b->series = x->entries; /* built in handle order, as the block keeps them */
    b->nseries = x->nentries;
    x->entries = NULL;
    vigil_status st = vigil__tsdb_blocktab_mark_shared(b->series, b->nseries);
    if (!st)
        st = parse_image(b);
    if (st) {
        vigil__tsdb_block_unref(b);
        return st;
    }
    *out = b;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_block_build(vigil_tsdb *db, int64_t mint, int64_t maxt,
                                     vigil__tsdb_block **out)
{
    *out = NULL;
    build_ctx x = {0};
    vigil__tsdb_blocktab_init(&x.tab, mint, BLOCK_CAP);
    vigil_buffer_init(&x.frames, BLOCK_CAP);
    vigil_buffer_init(&x.frame_dir, BLOCK_CAP);
    vigil_status st = vigil__tsdb_frame_builder_new(0, 0, &x.ts);
    if (!st)
        st = vigil__tsdb_frame_builder_new(0, 0, &x.vals);
    if (!st)
        st = collect_series(db, &x, mint, maxt);
    if (!st && x.nentries) {
        vigil_buffer img;
        vigil_buffer_init(&img, BLOCK_CAP);
        st = assemble(&x, mint, maxt, &img);
        if (!st)
            st = make_block(&x, &img, out);
        else
            vigil_buffer_free(&img);
    }
    build_free(&x);
    return st;
}

/* ---- reading an image ----------------------------------------------------------------------- */

/* The value frames, located through the directory at the end of the image: back to back from
 * frames_off, nothing between the last one and the directory. */
static vigil_status locate_frames(vigil__tsdb_block *b, uint64_t frames_off, uint64_t dir_off)
{
    b->frames = vigil__calloc(b->nframes + 1, sizeof *b->frames);
    b->frame_lens = vigil__calloc(b->nframes + 1, sizeof *b->frame_lens);
    if (!b->frames || !b->frame_lens)
        return vigil__fail(VIGIL_ENOMEM, "block frame table");
    uint64_t off = frames_off;
    for (uint32_t i = 0; i < b->nframes; i++) {
        uint64_t len = get_u32(b->bytes + dir_off + 4 * (uint64_t)i);
        if (len > dir_off - off)
            return vigil__tsdb_block_corrupt(b, "frame directory out of range");
        b->frames[i] = b->bytes + off;
        b->frame_lens[i] = len;
        off += len;
    }
    return off == dir_off ? VIGIL_OK
                          : vigil__tsdb_block_corrupt(b, "frame directory does not add up");
}

/* Checks the header, the checksum and the section bounds, and points the section pointers into
 * the image. The series entries are the caller's (built, or decoded from the table). */
static vigil_status parse_image(vigil__tsdb_block *b)
{
    const uint8_t *p = b->bytes;
    if (b->len < HEADER_SIZE + 4 || memcmp(p, MAGIC, 8) != 0)
        return vigil__tsdb_block_corrupt(b, "not a vigil block (bad magic or too short)");
    if (get_u32(p + 8) != VERSION)
        return vigil__tsdb_block_corrupt(b, "unknown format version");
    if (get_u32(p + b->len - 4) != (uint32_t)crc32(0, p, (uInt)(b->len - 4)))
        return vigil__tsdb_block_corrupt(b, "checksum mismatch");
    b->mint = (int64_t)get_u64(p + 16);
    b->maxt = (int64_t)get_u64(p + 24);
    b->nsamples = get_u64(p + 32);
    b->nframes = get_u32(p + 40);
    uint64_t zlen = get_u32(p + 44), tslen = get_u32(p + 52);
    uint64_t body_end = b->len - 4, dir_len = (uint64_t)b->nframes * 4;
    if (b->maxt <= b->mint || get_u32(p + 12) == 0 || b->nframes == 0 ||
        HEADER_SIZE + zlen + tslen + dir_len > body_end)
        return vigil__tsdb_block_corrupt(b, "header out of range");
    b->table = p + HEADER_SIZE;
    b->table_len = zlen;
    b->table_raw_len = get_u32(p + 48);
    b->ts_frame = b->table + zlen;
    b->ts_frame_len = tslen;
    return locate_frames(b, HEADER_SIZE + zlen + tslen, body_end - dir_len);
}

static int compare_entries(const void *a, const void *b)
{
    const vigil__tsdb_block_series *x = a, *y = b;
    return x->ref < y->ref ? -1 : x->ref > y->ref;
}

typedef struct resolve_ctx {
    vigil_tsdb *db;
    vigil__tsdb_block_series *entries;
} resolve_ctx;

static vigil_status resolve_one(void *user, uint32_t i, const vigil_label *labels, size_t n)
{
    resolve_ctx *r = user;
    vigil__tsdb_series *s;
    vigil_status st = vigil__tsdb_series_from_pairs(r->db, labels, n, false, &s);
    if (st == VIGIL_OK)
        r->entries[i].ref = s->ref;
    return st;
}

/* Decodes the series table into the block's entries, resolving each label set to this run's
 * series (creating them), then sorts the entries by handle. */
static vigil_status load_series(vigil_tsdb *db, vigil__tsdb_block *b)
{
    /* Sizes are checked before they size anything: a damaged header must not make the store
     * allocate gigabytes. The table declares its size in its zstd frame too, and a series
     * takes at least MIN_SERIES_BYTES of it. */
    uint32_t nseries = get_u32(b->bytes + 12);
    size_t raw_len = b->table_raw_len;
    if (ZSTD_getFrameContentSize(b->table, b->table_len) != raw_len || raw_len > TABLE_RAW_MAX)
        return vigil__tsdb_block_corrupt(b, "series table size out of range");
    if ((uint64_t)nseries * MIN_SERIES_BYTES > raw_len)
        return vigil__tsdb_block_corrupt(b, "more series than the series table can hold");
    char *raw = vigil__malloc(raw_len ? raw_len : 1);
    b->series = vigil__calloc(nseries, sizeof *b->series);
    if (!raw || !b->series) {
        vigil__free(raw);
        return vigil__fail(VIGIL_ENOMEM, "block series table of %u series", nseries);
    }
    size_t got = ZSTD_decompress(raw, raw_len, b->table, b->table_len);
    vigil_status st = ZSTD_isError(got) || got != raw_len
                          ? vigil__tsdb_block_corrupt(b, "series table damaged")
                          : VIGIL_OK;
    vigil__tsdb_blocktab_expect x = {b->mint, b->maxt, b->nsamples, nseries, b->nframes};
    resolve_ctx rc = {db, b->series};
    if (st == VIGIL_OK) {
        st = vigil__tsdb_blocktab_decode((const uint8_t *)raw, raw_len, &x, b->series, resolve_one,
                                         &rc);
        if (st == VIGIL_ECORRUPT)
            st = vigil__tsdb_block_corrupt(b, vigil_errmsg());
    }
    vigil__free(raw);
    if (st == VIGIL_OK)
        st = vigil__tsdb_blocktab_mark_shared(b->series, nseries);
    if (st)
        return st;
    b->nseries = nseries;
    qsort(b->series, b->nseries, sizeof *b->series, compare_entries);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_block_from_image(vigil_tsdb *db, uint8_t *bytes, size_t len,
                                          const char *path, vigil__tsdb_block **out)
{
    *out = NULL;
    vigil__tsdb_block *b = vigil__calloc(1, sizeof *b);
    char *copy = path ? vigil__strdup(path) : NULL;
    if (!b || (path && !copy)) {
        vigil__free(b);
        vigil__free(copy);
        vigil__free(bytes);
        return vigil__fail(VIGIL_ENOMEM, "block");
    }
    atomic_init(&b->refs, 1);
    b->bytes = bytes;
    b->len = len;
    b->path = copy;
    vigil_status st = parse_image(b);
    if (!st)
        st = load_series(db, b);
    if (st) {
        vigil__tsdb_block_unref(b);
        return st;
    }
    *out = b;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_block_load(vigil_tsdb *db, const char *path, vigil__tsdb_block **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return vigil__fail(VIGIL_EIO, "cannot open block %s: %s", path, strerror(errno));
    struct stat sb;
    uint8_t *bytes = NULL;
    size_t len = 0;
    vigil_status st = VIGIL_OK;
    if (fstat(fd, &sb) != 0)
        st = vigil__fail(VIGIL_EIO, "cannot stat block %s: %s", path, strerror(errno));
    if (!st) {
        len = (size_t)sb.st_size;
        bytes = vigil__malloc(len ? len : 1);
        if (!bytes)
            st = vigil__fail(VIGIL_ENOMEM, "block of %zu bytes", len);
    }
    if (!st && pread(fd, bytes, len, 0) != (ssize_t)len)
        st = vigil__fail(VIGIL_EIO, "cannot read block %s", path);
    close(fd);
    if (st) {
        vigil__free(bytes);
        return st;
    }
    return vigil__tsdb_block_from_image(db, bytes, len, path, out);
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
