/* fuzz_block.c — libFuzzer entry point for the sealed-block reader: an input is taken as a block
 * file (docs/formats.md, "Block file") and loaded into an in-memory store the way recovery loads
 * one, then every series it lists is read back through the query-side reader (block_read.c),
 * over the whole block and over part of it.
 *
 * A random input would never get past the block's and the frames' CRC-32s, so the target first
 * makes them right for whatever the bytes are (where the layout locates them): what is fuzzed is
 * everything behind the checksums, which only a damaged or hostile file would reach. A loaded
 * block must read without crashing or reading out of bounds; errors are expected.
 *
 * Build (clang):  clang -g -O1 -fsanitize=fuzzer,address,undefined -I include -I src -I BUILD/include \
 *                     tests/tsdb/fuzz_block.c BUILD/tests/libvigil_asan.a -lzstd -lpcre2-8 -lz -lm
 * A seed corpus: the block files of any data directory (bench_tsdb's, the tests'). The store's
 * series pile up across inputs, so it is replaced every FUZZ_STORE_RUNS inputs.
 * tests/tsdb/test_fuzz_inputs.c runs the same function on a fixed set of mutated blocks in every
 * ctest run (with VIGIL_FUZZ_NO_MAIN). */
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "tsdb/tsdb_int.h"

#define FUZZ_STORE_RUNS 1000
#define FUZZ_MAX_COUNT ((uint32_t)1 << 16) /* samples a series may claim before it is skipped */

static uint32_t fz_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fz_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* A frame's CRC-32 covers its bytes 0-19 and its payload from byte 24 on. */
static void fix_frame(uint8_t *f, uint64_t len)
{
    if (len < 24)
        return;
    uLong crc = crc32(0L, f, 20);
    crc = crc32(crc, f + 24, (uInt)(len - 24));
    fz_put32(f + 20, (uint32_t)crc);
}

static void fix_checksums(uint8_t *p, size_t len)
{
    if (len < 60)
        return;
    uint64_t nframes = fz_le32(p + 40), tlen = fz_le32(p + 44), tslen = fz_le32(p + 52);
    uint64_t ts_off = 56 + tlen, dir_len = 4 * nframes;
    if (ts_off + tslen + dir_len + 4 <= len) {
        fix_frame(p + ts_off, tslen);
        uint64_t off = ts_off + tslen, dir = len - 4 - dir_len;
        for (uint64_t i = 0; i < nframes; i++) {
            uint64_t l = fz_le32(p + dir + 4 * i);
            if (l > dir - off)
                break;
            fix_frame(p + off, l);
            off += l;
        }
    }
    fz_put32(p + len - 4, (uint32_t)crc32(0L, p, (uInt)(len - 4)));
}

static vigil_tsdb *fuzz_db;

/* Closes the store the inputs were loaded into (a later input opens another). */
void vigil_fuzz_block_cleanup(void);

void vigil_fuzz_block_cleanup(void)
{
    vigil_tsdb_close(fuzz_db);
    fuzz_db = NULL;
}

static vigil_tsdb *fuzz_store(void)
{
    vigil_tsdb *db = fuzz_db;
    static unsigned runs;
    if (db && ++runs % FUZZ_STORE_RUNS == 0) {
        vigil_tsdb_close(db);
        db = NULL;
    }
    if (!db) {
        vigil_tsdb_options o;
        vigil_tsdb_options_init(&o);
        o.background = false;
        if (vigil_tsdb_open(&o, &db) != VIGIL_OK)
            db = NULL;
    }
    fuzz_db = db;
    return db;
}

/* Reads every series of b through a fresh reader, over [mint, maxt]. */
static void read_all(const vigil__tsdb_block *b, int64_t mint, int64_t maxt)
{
    vigil__tsdb_block_reader *r;
    if (vigil__tsdb_block_reader_new(&r) != VIGIL_OK)
        return;
    int64_t *t = NULL;
    double *v = NULL;
    size_t cap = 0;
    for (size_t i = 0; i < vigil__tsdb_block_nseries(b); i++) {
        const vigil__tsdb_block_series *e = vigil__tsdb_block_series_at(b, i);
        size_t n = 0;
        if (e->count <= FUZZ_MAX_COUNT)
            (void)vigil__tsdb_block_read(r, b, e, mint, maxt, &t, &v, &n, &cap);
    }
    vigil__free(t);
    vigil__free(v);
    vigil__tsdb_block_reader_free(r);
}

int vigil_fuzz_block(const uint8_t *data, size_t size);

int vigil_fuzz_block(const uint8_t *data, size_t size)
{
    vigil_tsdb *db = fuzz_store();
    uint8_t *bytes = db ? vigil__malloc(size ? size : 1) : NULL;
    if (!bytes)
        return 0;
    if (size)
        memcpy(bytes, data, size);
    fix_checksums(bytes, size);
    vigil__tsdb_block *b;
    if (vigil__tsdb_block_from_image(db, bytes, size, NULL, &b) != VIGIL_OK)
        return 0;
    uint64_t mint = (uint64_t)vigil__tsdb_block_mint(b), maxt = (uint64_t)vigil__tsdb_block_maxt(b);
    uint64_t third = (maxt - mint) / 3; /* the header's range may span all of int64 */
    read_all(b, INT64_MIN, INT64_MAX);
    read_all(b, (int64_t)(mint + third), (int64_t)(maxt - third));
    vigil__tsdb_block_unref(b);
    return 0;
}

#ifndef VIGIL_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return vigil_fuzz_block(data, size);
}
#endif
