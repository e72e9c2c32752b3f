/* column.c — dense columns for sealed blocks: timestamps and values as integer sequences coded
 * close to their entropy, grouped into checksummed frames.
 *
 * Why this shape. Sealed data is read far more often than it is written, and what a
 * self-scraping store holds is mostly decimals (gauges with two decimals, integer counters):
 * turned into scaled integers m = v * 10^e, their differences are small numbers whose spread
 * is all the information there is. So every column becomes an integer sequence, transformed by
 * whichever of "offset from a line" (order 0: scrape timestamps around their grid), "delta"
 * (order 1: counters, random walks) or "delta of delta" (order 2: smooth trends) leaves the
 * least to code, after dividing by the differences' common factor (counters stepping by 10 or
 * 4096) and removing their median. The residuals are coded with a static rANS entropy coder per
 * column: the high part of each residual through a small table of quantised probabilities, the
 * low k bits, which are noise, raw. A general-purpose compressor on bytes cannot get there: its
 * Huffman codes cost at least one bit per byte and share one table across columns of very
 * different spread, which on the reference dataset left us 7% above the entropy where this
 * coder is within 1-3%, and it decodes at a few ns a sample.
 *
 * With 720 samples a column (a 2-hour block), what each column carries besides its residuals
 * matters as much as the coding, so a column in a frame leans on the frame: it may borrow an
 * earlier column's table, omit the frame's usual sample count, and (histogram buckets) code its
 * integers as differences from the previous column's. The rANS states, which must be flushed at
 * the end, start out carrying the last raw bits of the column, so the flush costs little.
 *
 * Values that are not decimals at the column's exponent (NaN and stale markers, infinities,
 * -0.0, values beyond 2^62) are kept raw in an exception list; a column where such values win
 * falls back to Gorilla XOR coding (xor.c) or raw bits, whichever is smaller. A column of one
 * repeated bit pattern is a constant. Every decoder checks each read against its input, and
 * the frame carries a CRC-32 over header and payload.
 *
 * The frame runs zstd over the concatenated columns only when that saves space (the entropy
 * coded residuals are incompressible; XOR and raw columns sometimes are not). */
#include "tsdb/column.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/core_int.h"
#include "tsdb/xor.h"

/* zstd level of the frame pass: higher levels gain nothing on entropy-coded columns. */
#define DEFAULT_ZSTD_LEVEL 3
/* A frame is stored compressed only when zstd saves at least 1/32 of the payload. */
#define ZSTD_MIN_GAIN_SHIFT 5

/* rANS: 32-bit state kept in [2^23, 2^31), renormalised a byte at a time (at most two a symbol,
 * read without a branch), probabilities in 1/4096. */
#define RANS_L (1u << 23)
#define SCALE_BITS 12
#define SCALE (1u << SCALE_BITS)
/* Quotients 0..31 are symbols of their own; 32 escapes to an explicit value in the raw bits. */
#define ESCAPE 32u
#define MAX_SYMS 33u
/* Raw bits carried by each rANS state's start value: 2^30 | bits << (30 - n) | 2^(29 - n). */
#define TAIL_BITS 29u

/* Residual block byte: k in bits 0-5, the mode in bits 6-7. */
#define BLOCK_K_MASK 0x3f
#define BLOCK_MODE_SHIFT 6
#define MODE_QZERO 0   /* every quotient is 0: no table, no rANS stream, only raw bits */
#define MODE_STATES2 1 /* two interleaved rANS states */
#define MODE_STATES4 2 /* four */
#define MAX_STATES 4
/* Own tables of earlier columns a block may borrow (the most recent ones of its frame). */
#define MAX_CANDS 16

/* Column head byte: the kind in bits 0-2, then flags. */
#define HEAD_KIND 0x07
#define HEAD_NDEF 0x08     /* n is the frame's default, not written */
#define HEAD_ORDER_SHIFT 4 /* bits 4-5: the integer sequence's order */
#define HEAD_BODY 0x40     /* residuals follow (otherwise every residual is 0) */
#define HEAD_GCD 0x80      /* the differences' common factor is written (otherwise 1) */
/* Outside a frame there is no default sample count. */
#define NO_NDEF SIZE_MAX

#define FRAME_MAGIC "VGTF"
#define FRAME_VERSION 1
#define FRAME_ZSTD 0x01
/* Longest chain of columns referring to earlier ones: bounds the work of decoding one. */
#define MAX_REF_DEPTH 16

/* Exact powers of ten: 10^22 is the largest that a double holds exactly. */
static const double P10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
#define EXP_MIN (-22)
#define EXP_MAX 18

/* Symbol weights from their 6-bit codes: code c weighs 16 * 2^((c-1)/4) (quarter-bit steps),
 * code 0 marks an absent symbol. Integers, so that encoder and decoder normalise identically. */
static const uint32_t WEIGHT[64] = {
    0,      16,     19,     23,     27,     32,     38,     45,     54,     64,     76,
    91,     108,    128,    152,    181,    215,    256,    304,    362,    431,    512,
    609,    724,    861,    1024,   1218,   1448,   1722,   2048,   2435,   2896,   3444,
    4096,   4871,   5793,   6889,   8192,   9742,   11585,  13777,  16384,  19484,  23170,
    27554,  32768,  38968,  46341,  55109,  65536,  77936,  92682,  110218, 131072, 155872,
    185364, 220436, 262144, 311744, 370728, 440872, 524288, 623487, 741455};

/* --- small helpers --------------------------------------------------------------------------- */

static inline uint64_t zz(int64_t x)
{
    return ((uint64_t)x << 1) ^ (0 - ((uint64_t)x >> 63)); /* no signed shift: portable */
}

static inline int64_t unzz(uint64_t z)
{
    return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
}

static inline int64_t wadd(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static inline int64_t wsub(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a - (uint64_t)b);
}

static inline int64_t wmul(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

static inline unsigned bitlen(uint64_t x)
{
    return x ? 64u - (unsigned)__builtin_clzll(x) : 0u;
}

static inline uint64_t dbits(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    return w;
}

static inline void store_le64(uint8_t *p, uint64_t w)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap64(w);
#endif
    memcpy(p, &w, 8);
}

static inline uint32_t load_le16(const uint8_t *p)
{
    uint16_t w;
    memcpy(&w, p, 2);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    w = __builtin_bswap16(w);
#endif
    return w;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline int64_t ld(const uint8_t *p)
{
    int64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline void st8(uint8_t *p, int64_t v)
{
    memcpy(p, &v, 8);
}

static size_t put_uvarint(uint8_t *p, uint64_t v)
{
    size_t i = 0;
    while (v >= 0x80) {
        p[i++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[i++] = (uint8_t)v;
    return i;
}

/* A read cursor over p[0..end): every getter fails instead of reading past end. */
typedef struct cursor {
    const uint8_t *p;
    const uint8_t *end;
} cursor;

static bool get_uvarint(cursor *c, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (c->p == c->end)
            return false;
        uint8_t b = *c->p++;
        if (shift == 63 && b > 1)
            return false;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return true;
        }
    }
    return false;
}

static bool get_byte(cursor *c, uint8_t *b)
{
    if (c->p == c->end)
        return false;
    *b = *c->p++;
    return true;
}

/* Appends up to 10 bytes of uvarint. */
static vigil_status emit_uvarint(vigil_buffer *out, uint64_t v)
{
    uint8_t tmp[10];
    return vigil_buffer_append(out, tmp, put_uvarint(tmp, v));
}

static vigil_status emit_byte(vigil_buffer *out, uint8_t b)
{
    return vigil_buffer_append(out, &b, 1);
}

static vigil_status nomem(const char *what, size_t n)
{
    return vigil__fail(VIGIL_ENOMEM, "tsdb column: out of memory for %s (%zu samples)", what, n);
}

static vigil_status corrupt(const char *what)
{
    return vigil__fail(VIGIL_ECORRUPT, "tsdb column: corrupt %s", what);
}

/* --- raw bit streams (LSB first) ------------------------------------------------------------- */

typedef struct bitw {
    uint8_t *p; /* reserved space, large enough for everything written */
    size_t len;
    uint64_t acc;
    unsigned n; /* bits in acc, < 8 between calls */
} bitw;

static void bitw_put(bitw *w, uint64_t bits, unsigned nb)
{
    while (nb > 0) {
        unsigned take = nb > 32 ? 32 : nb;
        uint64_t part = take == 64 ? bits : bits & ((1ull << take) - 1);
        w->acc |= part << w->n;
        w->n += take;
        bits = take == 64 ? 0 : bits >> take;
        nb -= take;
        while (w->n >= 8) {
            w->p[w->len++] = (uint8_t)w->acc;
            w->acc >>= 8;
            w->n -= 8;
        }
    }
}

static void bitw_flush(bitw *w)
{
    if (w->n > 0)
        w->p[w->len++] = (uint8_t)w->acc;
    w->acc = 0;
    w->n = 0;
}

typedef struct bitr {
    const uint8_t *p;
    const uint8_t *end;
    uint64_t buf;
    unsigned cnt;
    uint64_t extra[2]; /* bits that follow the bytes (a residual block's tail, carried by */
    unsigned xn[2];    /* the rANS states), fed in once the bytes are used up */
} bitr;

/* Tops buf up to at least 56 bits while input lasts. The 8-byte load may place bits of a byte it
 * does not consume above cnt; the next load ORs that same byte into the same place. */
static inline void bitr_refill(bitr *r)
{
    if (VIGIL_LIKELY(r->end - r->p >= 8)) {
        r->buf |= load_le64(r->p) << r->cnt;
        r->p += (63 - r->cnt) >> 3;
        r->cnt |= 56;
        return;
    }
    while (r->cnt <= 56 && r->p < r->end) {
        r->buf |= (uint64_t)*r->p++ << r->cnt;
        r->cnt += 8;
    }
    for (int j = 0; j < 2; j++) {
        while (r->cnt <= 56 && r->xn[j] > 0) {
            unsigned take = r->xn[j] < 8 ? r->xn[j] : 8;
            r->buf |= (r->extra[j] & ((1ull << take) - 1)) << r->cnt;
            r->extra[j] >>= take;
            r->xn[j] -= take;
            r->cnt += take;
        }
        if (r->xn[j] > 0)
            break;
    }
}

/* nb in 0..56; false when the input ran out. */
static inline bool bitr_get(bitr *r, unsigned nb, uint64_t *v)
{
    if (r->cnt < nb) {
        bitr_refill(r);
        if (r->cnt < nb)
            return false;
    }
    *v = r->buf & ((1ull << nb) - 1);
    r->buf >>= nb;
    r->cnt -= nb;
    return true;
}

/* Every bit of the input (bytes and extra) was read. */
static bool bitr_done(const bitr *r)
{
    return r->p == r->end && r->cnt == 0 && r->xn[0] == 0 && r->xn[1] == 0;
}

static inline bool bitr_get64(bitr *r, unsigned nb, uint64_t *v)
{
    if (nb <= 56)
        return bitr_get(r, nb, v);
    uint64_t lo, hi;
    if (!bitr_get(r, 32, &lo) || !bitr_get(r, nb - 32, &hi))
        return false;
    *v = lo | hi << 32;
    return true;
}

typedef struct dechead {
    int e;
    size_t nexc;
    const uint8_t *pos; /* nexc uvarint gaps */
    const uint8_t *raw; /* nexc * 8 bytes */
    uint32_t distance;  /* DECIMAL_REF: how many columns back the reference is */
} dechead;

/* What a column's first bytes say; decoders continue from rest. */
struct colhead {
    int kind;
    size_t n;
    unsigned order;
    bool body;
    bool gcd;
    dechead dec; /* DECIMAL and DECIMAL_REF */
    cursor rest; /* the integer sequence, or the payload of the other kinds */
};
typedef struct colhead colhead;

/* --- residual blocks: quotients through rANS, low bits raw ------------------------------------ */

/* Normalises the weight codes of nsym symbols to frequencies summing to SCALE. Shared by encoder
 * and decoder, integers only. False when the codes describe no usable table. */
static bool build_freqs(const uint8_t *codes, unsigned nsym, uint32_t *freq, uint32_t *cum)
{
    uint64_t total = 0;
    for (unsigned s = 0; s < nsym; s++)
        total += WEIGHT[codes[s] & 63];
    if (total == 0)
        return false;
    uint32_t sum = 0, best = 0;
    for (unsigned s = 0; s < nsym; s++) {
        uint32_t f = 0;
        if (codes[s] != 0) {
            f = (uint32_t)((uint64_t)WEIGHT[codes[s]] * SCALE / total);
            if (f == 0)
                f = 1;
        }
        freq[s] = f;
        sum += f;
        if (f > freq[best])
            best = s;
    }
    int64_t fix = (int64_t)SCALE - sum;
    if ((int64_t)freq[best] + fix < 1)
        return false;
    freq[best] = (uint32_t)((int64_t)freq[best] + fix);
    uint32_t c = 0;
    for (unsigned s = 0; s < nsym; s++) {
        cum[s] = c;
        c += freq[s];
    }
    return true;
}

/* Quarter-bit log weights relative to the most frequent symbol. */
static void weight_codes(const uint32_t *count, unsigned nsym, uint8_t *codes)
{
    uint32_t top = 0;
    for (unsigned s = 0; s < nsym; s++)
        if (count[s] > top)
            top = count[s];
    for (unsigned s = 0; s < nsym; s++) {
        if (count[s] == 0) {
            codes[s] = 0;
            continue;
        }
        long c = 63 - lround(4.0 * log2((double)top / count[s]));
        codes[s] = (uint8_t)(c < 1 ? 1 : c);
    }
}

static unsigned sym_of(uint64_t q)
{
    return q < ESCAPE ? (unsigned)q : ESCAPE;
}

/* The table: 6 bits nsym - 1, 6 bits code[0], then each further code as the Exp-Golomb code of
 * its zigzagged difference from a linear prediction (quantised log-probabilities of a smooth
 * distribution lie on a smooth curve, so the differences are mostly 0 or +-1). */
static int predict_code(const uint8_t *codes, unsigned s)
{
    if (s == 1)
        return codes[0];
    int p = 2 * codes[s - 1] - codes[s - 2];
    return p < 0 ? 0 : p > 63 ? 63 : p;
}

static uint32_t zz32(int v)
{
    return v < 0 ? (uint32_t)(-2 * v - 1) : (uint32_t)(2 * v);
}

static unsigned eg_bits(uint32_t v)
{
    return 2 * bitlen((uint64_t)v + 1) - 1;
}

/* Trades table bits for coding bits: each code, in order, may move towards its prediction (whose
 * difference costs fewer table bits) when the extra cost of coding the data with the changed
 * probability is smaller than the bits saved. count[] has the symbols' occurrences. */
static void smooth_codes(const uint32_t *count, unsigned nsym, uint8_t *codes)
{
    double n = 0, w = 0;
    for (unsigned s = 0; s < nsym; s++) {
        n += count[s];
        w += WEIGHT[codes[s]];
    }
    for (unsigned s = 1; s < nsym; s++) {
        int pred = predict_code(codes, s), cur = codes[s];
        int lo = pred < cur ? pred : cur, hi = pred < cur ? cur : pred;
        double best = eg_bits(zz32(cur - pred));
        int pick = cur;
        for (int c = lo; c <= hi; c++) {
            if (c == cur || (c == 0 && count[s] > 0))
                continue;
            double w2 = w - WEIGHT[cur] + WEIGHT[c];
            double data = n * log2(w2 / w);
            if (count[s] > 0)
                data += count[s] * log2((double)WEIGHT[cur] / WEIGHT[c]);
            double bits = eg_bits(zz32(c - pred)) + data;
            if (bits < best) {
                best = bits;
                pick = c;
            }
        }
        w += (double)WEIGHT[pick] - WEIGHT[cur];
        codes[s] = (uint8_t)pick;
    }
}

static unsigned table_bits(const uint8_t *codes, unsigned nsym)
{
    unsigned bits = 12;
    for (unsigned s = 1; s < nsym; s++)
        bits += eg_bits(zz32(codes[s] - predict_code(codes, s)));
    return bits;
}

/* Estimated bits to code c zigzagged residuals with k raw bits: entropy of the quotients plus
 * raw bits, escapes, table and stream overhead. */
static double block_bits(const uint64_t *z, size_t c, unsigned k)
{
    uint32_t count[MAX_SYMS] = {0};
    double raw = (double)c * k;
    for (size_t i = 0; i < c; i++) {
        uint64_t q = z[i] >> k;
        unsigned s = sym_of(q);
        count[s]++;
        if (s == ESCAPE)
            raw += 6 + bitlen(q - ESCAPE) + (q == ESCAPE);
    }
    if (count[0] == c)
        return raw + 8;
    unsigned nsym = 0;
    double ent = 0;
    for (unsigned s = 0; s < MAX_SYMS; s++) {
        if (count[s] == 0)
            continue;
        nsym = s + 1;
        ent += count[s] * log2((double)c / count[s]);
    }
    uint8_t codes[MAX_SYMS];
    weight_codes(count, nsym, codes);
    /* two 32-bit states flushed, up to 58 raw bits carried back by them */
    return raw + ent + 8 + 1 + table_bits(codes, nsym) + (raw >= 58 ? 6 : 64 - raw);
}

/* The k in a window around the residuals' typical size that codes them in the fewest bits. */
static unsigned choose_k(const uint64_t *z, size_t c, double *bits)
{
    uint64_t zmax = 0;
    double sum = 0;
    for (size_t i = 0; i < c; i++) {
        if (z[i] > zmax)
            zmax = z[i];
        sum += (double)z[i];
    }
    if (zmax == 0) {
        *bits = 0;
        return 0;
    }
    double mean = sum / (double)c;
    unsigned typical = mean >= 0x1p63 ? 64 : bitlen((uint64_t)mean);
    unsigned lo = typical > 6 ? typical - 6 : 0;
    unsigned hi = typical + 1 < bitlen(zmax) ? typical + 1 : bitlen(zmax);
    if (hi > 63)
        hi = 63;
    unsigned best = lo;
    double best_bits = -1;
    for (unsigned k = lo; k <= hi; k++) {
        double b = block_bits(z, c, k);
        if (best_bits < 0 || b < best_bits) {
            best_bits = b;
            best = k;
        }
    }
    *bits = best_bits;
    return best;
}

static void put_eg(bitw *w, uint32_t v)
{
    uint64_t x = (uint64_t)v + 1;
    unsigned n = bitlen(x);
    bitw_put(w, 1ull << (n - 1), n); /* n - 1 zeros, then the leading 1 */
    bitw_put(w, x, n - 1);           /* the bits below it */
}

static bool get_eg(bitr *r, uint32_t *v)
{
    unsigned zeros = 0;
    for (;;) {
        uint64_t b;
        if (!bitr_get(r, 1, &b))
            return false;
        if (b)
            break;
        if (++zeros > 16)
            return false;
    }
    uint64_t rest = 0;
    if (zeros && !bitr_get(r, zeros, &rest))
        return false;
    *v = (uint32_t)(((1ull << zeros) | rest) - 1);
    return true;
}

/* An own table (after its 0 flag bit): 6 bits nsym - 1, 6 bits code[0], Exp-Golomb diffs. */
static bool read_own_table(bitr *r, uint8_t *codes, unsigned *nsym)
{
    uint64_t n, c0;
    if (!bitr_get(r, 6, &n) || n + 1 > MAX_SYMS || !bitr_get(r, 6, &c0))
        return false;
    *nsym = (unsigned)n + 1;
    codes[0] = (uint8_t)c0;
    for (unsigned s = 1; s < *nsym; s++) {
        uint32_t d;
        if (!get_eg(r, &d))
            return false;
        int c = predict_code(codes, s) + ((d & 1) ? -(int)((d + 1) / 2) : (int)(d / 2));
        if (c < 0 || c > 63)
            return false;
        codes[s] = (uint8_t)c;
    }
    return true;
}

/* Numbers in a raw bit stream: 6 bits of (bit length - 1), then the bits. */
static void put_bitvar(bitw *w, uint64_t v)
{
    unsigned len = v ? bitlen(v) : 1;
    bitw_put(w, len - 1, 6);
    bitw_put(w, v, len);
}

static bool get_bitvar(bitr *r, uint64_t *v)
{
    uint64_t len;
    return bitr_get(r, 6, &len) && bitr_get64(r, (unsigned)len + 1, v);
}

static unsigned bitvar_bits(uint64_t v)
{
    return 6 + (v ? bitlen(v) : 1);
}

/* --- context: what a column in a frame may use from the rest of the frame ---------------------- */

/* Columns laid out in a payload: column i is payload[offs[i] .. offs[i + 1]). */
typedef struct colview {
    const uint8_t *payload;
    const size_t *offs;
    uint32_t ncols;
    size_t ndef; /* the frame's default sample count (NO_NDEF: none) */
} colview;

/* A table a block can borrow: column col of the frame carries it. */
typedef struct tabcand {
    uint32_t col;
    unsigned nsym;
    uint32_t freq[MAX_SYMS];
    uint32_t cum[MAX_SYMS];
} tabcand;

typedef struct encctx {
    size_t ndef;         /* default sample count of the frame (NO_NDEF outside one) */
    const tabcand *cand; /* own tables of earlier columns of the frame */
    unsigned ncand;
    uint32_t index; /* the column's index in its frame */
    bool own;       /* out: the column's block carries a table of its own, ... */
    tabcand mine;   /* ... this one */
} encctx;

static const encctx NO_FRAME = {NO_NDEF, NULL, 0, 0, false, {0, 0, {0}, {0}}};

/* Symbol tables of a frame's columns, kept by the column that carries each: most columns
 * borrow an earlier column's table, and finding and reading it again (that column's head, its
 * table bits, the normalisation) costs as much as a short column's residuals. Direct-mapped by
 * that column's index; valid for one open frame. */
#define TAB_SLOTS 64

typedef struct tabslot {
    uint32_t owner;
    uint8_t nsym;
    bool valid;
    uint32_t freq[MAX_SYMS], cum[MAX_SYMS];
} tabslot;

typedef struct tabcache {
    tabslot slot[TAB_SLOTS];
} tabcache;

typedef struct decctx {
    const colview *cv; /* NULL outside a frame */
    uint32_t index;
    tabcache *tc; /* NULL: no cache */
} decctx;

/* --- residual blocks: quotients through rANS, low bits raw ------------------------------------ */

/* How many raw bits each of the ns rANS states carries (see rans_encode): at most TAIL_BITS
 * each, all of them when they fit, and what is left for the stored bytes a whole number of
 * bytes. */
static void tail_split(size_t total, unsigned ns, unsigned *n)
{
    for (unsigned j = 0; j < ns; j++) {
        if (j + 1 < ns || total <= TAIL_BITS)
            n[j] = total < TAIL_BITS ? (unsigned)total : TAIL_BITS;
        else
            n[j] = TAIL_BITS - 7 + (unsigned)((total - (TAIL_BITS - 7)) % 8);
        total -= n[j];
    }
}

static uint32_t tail_state(uint64_t bits, unsigned n)
{
    return (1u << 30) | (uint32_t)(bits << (30 - n)) | (1u << (29 - n));
}

/* A final state back to the raw bits it carries. */
static bool tail_of(uint32_t x, uint64_t *bits, unsigned *n)
{
    if ((x >> 30) != 1 || (x << 2) == 0)
        return false;
    unsigned low = (unsigned)__builtin_ctz(x); /* the marker bit, 29 - n */
    *n = 29 - low;
    *bits = (x & ~(1u << 30)) >> (low + 1);
    return true;
}

/* ns (2 or 4) interleaved rANS states, symbol i going to state i % ns, so that decoding has ns
 * independent dependency chains. The encoder runs backwards over the symbols and appends
 * renormalisation bytes; the decoder reads them back from the end of the column. Each state
 * starts as 2^30 | t << (30 - n) | 2^(29 - n), carrying n <= 29 bits of the raw stream's end:
 * the decoder finds them in its final states, which pays back most of the 4 bytes a state
 * costs to flush. */
static vigil_status rans_encode(const uint8_t *sym, size_t c, const uint32_t *freq,
                                const uint32_t *cum, unsigned ns, const uint32_t *init,
                                vigil_buffer *out)
{
    char *dst;
    vigil_status st = vigil__buf_reserve(out, 2 * c + 4 * ns, &dst);
    if (st != VIGIL_OK)
        return st;
    uint8_t *p = (uint8_t *)dst;
    uint32_t x[MAX_STATES];
    memcpy(x, init, ns * sizeof *x);
    for (size_t i = c; i-- > 0;) {
        uint32_t *xs = &x[i & (ns - 1)];
        uint32_t f = freq[sym[i]];
        uint32_t xmax = ((RANS_L >> SCALE_BITS) << 8) * f;
        while (*xs >= xmax) {
            *p++ = (uint8_t)*xs;
            *xs >>= 8;
        }
        *xs = ((*xs / f) << SCALE_BITS) + (*xs % f) + cum[sym[i]];
    }
    for (unsigned j = ns; j-- > 0;) {
        store_le32(p, x[j]);
        p += 4;
    }
    out->len += (size_t)(p - (uint8_t *)dst);
    return VIGIL_OK;
}

/* The raw stream: per residual an escaped quotient (as a bitvar) and its low k bits, then the
 * integer sequence's fields. Putting the fields last lets the rANS states carry them when the
 * residuals leave few raw bits. Returns the number of bits written to dst. */
static size_t raw_encode(const uint64_t *z, const uint8_t *sym, size_t c, unsigned k,
                         const uint64_t *fields, unsigned nfields, uint8_t *dst)
{
    bitw w = {dst, 0, 0, 0};
    for (size_t i = 0; i < c; i++) {
        if (sym[i] == ESCAPE)
            put_bitvar(&w, (z[i] >> k) - ESCAPE);
        bitw_put(&w, z[i], k);
    }
    for (unsigned j = 0; j < nfields; j++)
        put_bitvar(&w, fields[j]);
    size_t bits = w.len * 8 + w.n;
    bitw_flush(&w);
    return bits;
}

/* Bits to code symbols of these counts with these frequencies. */
static double coded_bits(const uint32_t *count, unsigned nsym, const uint32_t *freq)
{
    double bits = 0;
    for (unsigned s = 0; s < nsym; s++) {
        if (count[s] == 0)
            continue;
        if (freq[s] == 0)
            return -1; /* the table cannot code this symbol */
        bits += count[s] * log2((double)SCALE / freq[s]);
    }
    return bits;
}

/* The table stream: a flag bit, then either the distance back to the column whose table is
 * borrowed, or an own table. Picks whichever codes these counts in fewer bits; fills freq/cum. */
static size_t table_encode(const uint32_t *count, unsigned nsym, encctx *ec, uint8_t *dst,
                           uint32_t *freq, uint32_t *cum)
{
    uint8_t codes[MAX_SYMS] = {0};
    weight_codes(count, nsym, codes);
    smooth_codes(count, nsym, codes);
    build_freqs(codes, nsym, freq, cum); /* cannot fail: symbols that occur keep a code */
    double best = 1 + table_bits(codes, nsym) + coded_bits(count, nsym, freq);
    const tabcand *pick = NULL;
    for (unsigned j = 0; ec != NULL && j < ec->ncand; j++) {
        const tabcand *t = &ec->cand[j];
        if (t->nsym < nsym)
            continue;
        double bits = coded_bits(count, nsym, t->freq);
        if (bits < 0)
            continue;
        bits += 1 + eg_bits(ec->index - t->col - 1);
        if (bits < best) {
            best = bits;
            pick = t;
        }
    }
    bitw w = {dst, 0, 0, 0};
    if (pick != NULL) {
        bitw_put(&w, 1, 1);
        put_eg(&w, ec->index - pick->col - 1);
        memcpy(freq, pick->freq, sizeof pick->freq);
        memcpy(cum, pick->cum, sizeof pick->cum);
    } else {
        bitw_put(&w, 0, 1);
        bitw_put(&w, nsym - 1, 6);
        bitw_put(&w, codes[0], 6);
        for (unsigned s = 1; s < nsym; s++)
            put_eg(&w, zz32(codes[s] - predict_code(codes, s)));
        if (ec != NULL) {
            ec->own = true;
            ec->mine.nsym = nsym;
            memcpy(ec->mine.freq, freq, nsym * sizeof *freq);
            memcpy(ec->mine.cum, cum, nsym * sizeof *cum);
        }
    }
    bitw_flush(&w);
    return w.len;
}

/* Writes c residuals (zigzagged in z) with k raw bits, followed by the sequence's fields. */
static vigil_status block_encode(const uint64_t *z, size_t c, unsigned k, const uint64_t *fields,
                                 unsigned nfields, encctx *ec, vigil_buffer *out)
{
    uint32_t count[MAX_SYMS] = {0};
    uint8_t *sym = vigil__malloc(c ? c : 1);
    if (sym == NULL)
        return nomem("residual symbols", c);
    size_t rawmax = 0;
    for (size_t i = 0; i < c; i++) {
        sym[i] = (uint8_t)sym_of(z[i] >> k);
        count[sym[i]]++;
        rawmax += k + (sym[i] == ESCAPE ? 6 + 64 : 0);
    }
    for (unsigned j = 0; j < nfields; j++)
        rawmax += bitvar_bits(fields[j]);
    /* Four states decode faster: each step of the decoder waits on the one before of the same
     * state, so four give the processor twice the independent work of two. From 256 residuals
     * on that is worth their flush (8 more bytes, less the raw bits they carry): 0.8% of the
     * reference dataset's size for 5-8% of a query's time. */
    unsigned mode = count[0] == c ? MODE_QZERO : c >= 256 ? MODE_STATES4 : MODE_STATES2;
    unsigned ns = mode == MODE_STATES4 ? 4 : 2;
    if (ec != NULL)
        ec->own = false;
    vigil_status st = emit_byte(out, (uint8_t)(k | mode << BLOCK_MODE_SHIFT));
    uint32_t freq[MAX_SYMS], cum[MAX_SYMS];
    if (st == VIGIL_OK && mode != MODE_QZERO) {
        unsigned nsym = MAX_SYMS;
        while (count[nsym - 1] == 0)
            nsym--;
        uint8_t packed[MAX_SYMS * 4 + 8] = {0};
        size_t tlen = table_encode(count, nsym, ec, packed, freq, cum);
        st = vigil_buffer_append(out, packed, tlen);
    }
    char *raw = NULL;
    if (st == VIGIL_OK)
        st = vigil__buf_reserve(out, rawmax / 8 + 16, &raw);
    if (st == VIGIL_OK) {
        size_t bits = raw_encode(z, sym, c, k, fields, nfields, (uint8_t *)raw);
        if (mode == MODE_QZERO) {
            out->len += (bits + 7) / 8;
        } else {
            unsigned n[MAX_STATES];
            tail_split(bits, ns, n);
            size_t tail = 0;
            for (unsigned j = 0; j < ns; j++)
                tail += n[j];
            size_t stored = (bits - tail) / 8; /* exact by tail_split's choice */
            bitr tr = {(const uint8_t *)raw + stored,
                       (const uint8_t *)raw + (bits + 7) / 8,
                       0,
                       0,
                       {0, 0},
                       {0, 0}};
            uint32_t init[MAX_STATES];
            for (unsigned j = 0; j < ns; j++) {
                uint64_t t = 0;
                bitr_get(&tr, n[j], &t);
                init[j] = tail_state(t, n[j]);
            }
            out->len += stored;
            st = rans_encode(sym, c, freq, cum, ns, init, out);
        }
    }
    vigil__free(sym);
    return st;
}

/* The slot -> symbol map, and per symbol its frequency (low 16 bits) and cumulative frequency
 * (high 16 bits). Filling the map is a memset a symbol, which matters for short columns. */
typedef struct rans_table {
    uint32_t fc[MAX_SYMS];
    uint8_t lut[SCALE];
} rans_table;

static void rans_table_build(rans_table *t, const uint32_t *freq, const uint32_t *cum,
                             unsigned nsym)
{
    for (unsigned s = 0; s < nsym; s++) {
        t->fc[s] = freq[s] | cum[s] << 16;
        memset(t->lut + cum[s], (int)s, freq[s]);
    }
}

#define RANS_STEP_CHECKED(x, sym)                                         \
    do {                                                                  \
        uint32_t slot_ = (x) & (SCALE - 1);                               \
        (sym) = t->lut[slot_];                                            \
        uint32_t fc_ = t->fc[(sym)];                                      \
        (x) = (fc_ & 0xffff) * ((x) >> SCALE_BITS) + slot_ - (fc_ >> 16); \
        while ((x) < RANS_L) {                                            \
            if (rp == lo)                                                 \
                return false;                                             \
            (x) = ((x) << 8) | *--rp;                                     \
        }                                                                 \
    } while (0)

/* One decoding step without a branch: after it the state needs n = 0, 1 or 2 more bytes, and
 * the two bytes below rp are loaded whether or not they are needed (the caller keeps room), so
 * the load does not wait for the comparison: (x << 16 | bytes) >> (16 - 8n) covers all three
 * cases. */
#define RANS_STEP(x, sym)                                                 \
    do {                                                                  \
        uint32_t slot_ = (x) & (SCALE - 1);                               \
        (sym) = t->lut[slot_];                                            \
        uint32_t fc_ = t->fc[(sym)];                                      \
        (x) = (fc_ & 0xffff) * ((x) >> SCALE_BITS) + slot_ - (fc_ >> 16); \
        uint64_t w_ = (uint64_t)(x) << 16 | load_le16(rp - 2);            \
        unsigned n_ = ((x) < RANS_L) + ((x) < (RANS_L >> 8));             \
        (x) = (uint32_t)(w_ >> (16 - 8 * n_));                            \
        rp -= n_;                                                         \
    } while (0)

/* Pass 1: the symbols of c residuals into sym[0..c), one byte each, reading the rANS words
 * backwards from *hi down to no further than lo; *hi ends at the first rANS byte, x[] at the
 * final states. A byte a symbol (four stored at once) rather than a word keeps the stores from
 * competing with the loads of the decoding steps. */
static bool rans_decode(const rans_table *t, const uint8_t *lo, const uint8_t **hi, uint32_t *x,
                        unsigned ns, size_t c, uint8_t *sym)
{
    const uint8_t *rp = *hi;
    size_t i = 0;
    if (ns == 4) {
        uint32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
        for (; i + 3 < c && rp - lo >= 8; i += 4) {
            unsigned s0, s1, s2, s3;
            RANS_STEP(x0, s0);
            RANS_STEP(x1, s1);
            RANS_STEP(x2, s2);
            RANS_STEP(x3, s3);
            uint32_t four = s0 | s1 << 8 | s2 << 16 | s3 << 24;
            store_le32(sym + i, four);
        }
        x[0] = x0;
        x[1] = x1;
        x[2] = x2;
        x[3] = x3;
    } else {
        uint32_t x0 = x[0], x1 = x[1];
        for (; i + 1 < c && rp - lo >= 4; i += 2) {
            unsigned s0, s1;
            RANS_STEP(x0, s0);
            RANS_STEP(x1, s1);
            sym[i] = (uint8_t)s0;
            sym[i + 1] = (uint8_t)s1;
        }
        x[0] = x0;
        x[1] = x1;
    }
    /* the rest (near the start of the words, or the last few symbols) with explicit checks */
    for (; i < c; i++) {
        unsigned sy;
        uint32_t xs = x[i & (ns - 1)];
        RANS_STEP_CHECKED(xs, sy);
        x[i & (ns - 1)] = xs;
        sym[i] = (uint8_t)sy;
    }
    *hi = rp;
    return true;
}

/* Pass 2, general case: escapes, k > 56, the last bits (which may come from the states). */
static bool raw_pass_slow(uint8_t *dst, const uint8_t *sym, size_t i, size_t c, unsigned k, bitr *r,
                          bool escapes)
{
    for (; i < c; i++) {
        uint64_t q = sym[i], low = 0;
        if (escapes && q == ESCAPE) {
            uint64_t e;
            if (!get_bitvar(r, &e))
                return false;
            q = ESCAPE + e;
        }
        if (!bitr_get64(r, k, &low))
            return false;
        st8(dst + 8 * i, unzz((q << k) | low));
    }
    return true;
}

/* Pass 2: each symbol becomes its residual in dst (as int64 bits): the escaped quotient and the
 * low k bits come from the raw stream. sym may be the last c bytes of dst's 8c: residual i is
 * stored after symbol i is read and before symbol i + 1 is, and never reaches beyond it. The
 * common case (no escapes, k <= 56, 8 bytes of input ahead) keeps the bit buffer in locals so
 * that it lives in registers. */
static bool raw_pass(uint8_t *dst, const uint8_t *sym, size_t c, unsigned k, bitr *br, bool escapes)
{
    if (k == 0 && !escapes) {
        for (size_t i = 0; i < c; i++)
            st8(dst + 8 * i, unzz(sym[i]));
        return true;
    }
    size_t i = 0;
    if (!escapes && k <= 56) {
        uint64_t buf = br->buf, mask = (1ull << k) - 1;
        unsigned cnt = br->cnt;
        const uint8_t *p = br->p, *end = br->end;
        for (; i < c; i++) {
            if (cnt < k) {
                if (end - p < 8)
                    break;
                buf |= load_le64(p) << cnt;
                p += (63 - cnt) >> 3;
                cnt |= 56;
            }
            st8(dst + 8 * i, unzz(((uint64_t)sym[i] << k) | (buf & mask)));
            buf >>= k;
            cnt -= k;
        }
        br->buf = buf;
        br->cnt = cnt;
        br->p = p;
    }
    return raw_pass_slow(dst, sym, i, c, k, br, escapes);
}

static bool parse_head(const uint8_t *p, const uint8_t *end, size_t ndef, colhead *h);

/* The table of column index - d, which must carry its own. */
static bool borrowed_table(const decctx *dc, uint64_t d, uint32_t *freq, uint32_t *cum,
                           unsigned *nsym)
{
    if (dc == NULL || dc->cv == NULL || d == 0 || d > dc->index)
        return false;
    uint32_t j = dc->index - (uint32_t)d;
    const colview *cv = dc->cv;
    colhead h;
    if (!parse_head(cv->payload + cv->offs[j], cv->payload + cv->offs[j + 1], cv->ndef, &h))
        return false;
    cursor *cur = &h.rest;
    uint8_t head;
    if (!h.body || !get_byte(cur, &head) || (head >> BLOCK_MODE_SHIFT) == MODE_QZERO)
        return false;
    bitr r = {cur->p, cur->end, 0, 0, {0, 0}, {0, 0}};
    uint64_t shared;
    uint8_t codes[MAX_SYMS];
    return bitr_get(&r, 1, &shared) && !shared && read_own_table(&r, codes, nsym) &&
           build_freqs(codes, *nsym, freq, cum);
}

static void remember_table(const decctx *dc, uint32_t owner, const uint32_t *freq,
                           const uint32_t *cum, unsigned nsym)
{
    if (dc == NULL || dc->tc == NULL)
        return;
    tabslot *t = &dc->tc->slot[owner % TAB_SLOTS];
    t->owner = owner;
    t->nsym = (uint8_t)nsym;
    memcpy(t->freq, freq, nsym * sizeof *freq);
    memcpy(t->cum, cum, nsym * sizeof *cum);
    t->valid = true;
}

/* The table of column index - d (which must carry its own), from the cache when it is there. */
static bool borrowed_cached(const decctx *dc, uint64_t d, uint32_t *freq, uint32_t *cum,
                            unsigned *nsym)
{
    if (dc == NULL || dc->cv == NULL || d == 0 || d > dc->index)
        return false;
    uint32_t owner = dc->index - (uint32_t)d;
    const tabslot *t = dc->tc ? &dc->tc->slot[owner % TAB_SLOTS] : NULL;
    if (t && t->valid && t->owner == owner) {
        *nsym = t->nsym;
        memcpy(freq, t->freq, t->nsym * sizeof *freq);
        memcpy(cum, t->cum, t->nsym * sizeof *cum);
        return true;
    }
    if (!borrowed_table(dc, d, freq, cum, nsym))
        return false;
    remember_table(dc, owner, freq, cum, *nsym);
    return true;
}

/* The table stream at cur: an own table or one borrowed from an earlier column. */
static bool block_table(cursor *cur, const decctx *dc, uint32_t *freq, uint32_t *cum,
                        unsigned *nsym)
{
    bitr r = {cur->p, cur->end, 0, 0, {0, 0}, {0, 0}};
    uint64_t shared;
    bool ok;
    if (!bitr_get(&r, 1, &shared))
        return false;
    if (shared) {
        uint32_t d;
        ok = get_eg(&r, &d) && borrowed_cached(dc, (uint64_t)d + 1, freq, cum, nsym);
    } else {
        uint8_t codes[MAX_SYMS];
        ok = read_own_table(&r, codes, nsym) && build_freqs(codes, *nsym, freq, cum);
        if (ok && dc != NULL)
            remember_table(dc, dc->index, freq, cum, *nsym);
    }
    size_t used = (size_t)(r.p - cur->p) * 8 - r.cnt;
    cur->p += (used + 7) / 8;
    return ok;
}

/* Decodes c residuals from the block at cur (to its end) into r[0..c) as int64 bits, stored
 * with memcpy so that r may be the caller's double array, and the nfields fields after them. */
static vigil_status block_decode(cursor *cur, size_t c, void *r, uint64_t *fields, unsigned nfields,
                                 const decctx *dc)
{
    uint8_t head;
    if (!get_byte(cur, &head) || (head >> BLOCK_MODE_SHIFT) > MODE_STATES4)
        return corrupt("residual block header");
    unsigned k = head & BLOCK_K_MASK, mode = head >> BLOCK_MODE_SHIFT;
    uint8_t *dst = r, *sym = dst + 7 * c; /* the symbols, a byte each, in dst's last c bytes */
    bitr br = {cur->p, cur->end, 0, 0, {0, 0}, {0, 0}};
    bool escapes = false;
    if (mode == MODE_QZERO) {
        memset(sym, 0, c);
    } else {
        rans_table t;
        uint32_t freq[MAX_SYMS], cum[MAX_SYMS];
        unsigned nsym;
        if (!block_table(cur, dc, freq, cum, &nsym))
            return corrupt("symbol table");
        escapes = nsym > ESCAPE;
        rans_table_build(&t, freq, cum, nsym);
        unsigned ns = mode == MODE_STATES4 ? 4 : 2;
        if ((size_t)(cur->end - cur->p) < 4 * ns)
            return corrupt("rANS stream (truncated)");
        const uint8_t *hi = cur->end;
        uint32_t x[MAX_STATES];
        for (unsigned j = 0; j < ns; j++) {
            hi -= 4;
            x[j] = load_le32(hi);
        }
        if (!rans_decode(&t, cur->p, &hi, x, ns, c, sym))
            return corrupt("rANS stream (truncated)");
        br.p = cur->p;
        br.end = hi;
        for (unsigned j = 0; j < ns; j++) {
            uint64_t bits;
            unsigned n;
            if (!tail_of(x[j], &bits, &n))
                return corrupt("rANS stream (does not end in a start state)");
            br.extra[j / 2] |= bits << br.xn[j / 2];
            br.xn[j / 2] += n;
        }
    }
    if (!raw_pass(dst, sym, c, k, &br, escapes))
        return corrupt("raw residual bits (truncated)");
    for (unsigned j = 0; j < nfields; j++)
        if (!get_bitvar(&br, &fields[j]))
            return corrupt("integer sequence fields");
    bool done = mode == MODE_QZERO ? br.p == br.end && br.cnt < 8 : bitr_done(&br);
    if (!done)
        return corrupt("residual block (bits left over)");
    cur->p = cur->end;
    return VIGIL_OK;
}

/* --- integer sequences ------------------------------------------------------------------------ */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void swap64(int64_t *a, int64_t *b)
{
    int64_t t = *a;
    *a = *b;
    *b = t;
}

/* Median of a[0..n) (reorders a). Robust where a mean is not: one counter reset would move the
 * mean of a whole column of deltas. Quickselect with a median-of-three pivot; after 64 rounds
 * (adversarial input) the rest is sorted, so the worst case stays O(n log n). */
static int64_t median(int64_t *a, size_t n)
{
    if (n == 0)
        return 0;
    size_t lo = 0, hi = n - 1, want = (n - 1) / 2;
    for (int round = 0; lo < hi; round++) {
        if (round == 64) {
            qsort(a + lo, hi - lo + 1, sizeof *a, cmp_i64);
            break;
        }
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo])
            swap64(&a[mid], &a[lo]);
        if (a[hi] < a[lo])
            swap64(&a[hi], &a[lo]);
        if (a[hi] < a[mid])
            swap64(&a[hi], &a[mid]);
        int64_t pivot = a[mid];
        size_t i = lo, j = hi;
        while (i <= j) { /* Hoare partition: [lo, j] <= pivot <= [i, hi] */
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                swap64(&a[i], &a[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (want <= j)
            hi = j;
        else if (want >= i)
            lo = i;
        else
            break; /* a[want] equals the pivot */
    }
    return a[want];
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Residuals of order `order` from the scaled differences u[1..n) (u[0] unused), into r; returns
 * their count, the removed median in *mu and, for order 0, the intercept in *b. tmp has n
 * entries. Order 0 codes every value, i = 0 included, as its offset from the line
 * b + i * mu, so that the offsets are centred whatever the first value's own offset. */
static size_t residuals(const int64_t *u, size_t n, unsigned order, int64_t *r, int64_t *tmp,
                        int64_t *mu, int64_t *b)
{
    size_t c = order == 2 ? n - 2 : order == 1 ? n - 1 : n;
    *b = 0;
    if (order == 2) {
        for (size_t i = 2; i < n; i++)
            tmp[i - 2] = wsub(u[i], u[i - 1]);
        memcpy(r, tmp, c * sizeof *r);
    } else {
        memcpy(tmp, u + 1, (n - 1) * sizeof *tmp);
        memcpy(r, tmp, (n - 1) * sizeof *r);
    }
    *mu = median(tmp, order == 0 ? n - 1 : c);
    if (order == 0) {
        int64_t s = 0;
        r[0] = 0;
        for (size_t i = 1; i < n; i++) {
            s = wadd(s, u[i]);
            r[i] = wsub(s, wmul((int64_t)i, *mu));
        }
        memcpy(tmp, r, n * sizeof *r);
        *b = median(tmp, n);
    }
    for (size_t i = 0; i < c; i++)
        r[i] = wsub(r[i], order == 0 ? *b : *mu);
    return c;
}

/* The fields of a sequence of n >= 1 integers: the first value (order 0: the line's value at
 * i = 0), then for n >= 2 the second difference seed (order 2), the common factor minus one
 * (when not 1) and the removed median (order 0: the line's slope). */
static unsigned seq_fields(size_t n, unsigned order, bool gcd, int64_t m0, int64_t u1, uint64_t g,
                           int64_t mu, uint64_t *f)
{
    unsigned nf = 0;
    f[nf++] = zz(m0);
    if (n < 2)
        return nf;
    if (order == 2)
        f[nf++] = zz(u1);
    if (gcd)
        f[nf++] = g - 1;
    f[nf++] = zz(mu);
    return nf;
}

static unsigned seq_nfields(size_t n, unsigned order, bool gcd)
{
    return n < 2 ? 1 : 2 + (order == 2) + gcd;
}

/* Appends the sequence m[0..n) (see docs/formats.md, "Integer sequence") and returns in *shape
 * the bits the column head byte carries for it (order, body, gcd). */
static vigil_status intseq_encode(const int64_t *m, size_t n, encctx *ec, vigil_buffer *out,
                                  uint8_t *shape)
{
    *shape = 0;
    if (ec != NULL)
        ec->own = false;
    if (n == 0)
        return VIGIL_OK;
    if (n == 1)
        return emit_uvarint(out, zz(m[0]));
    int64_t *u = vigil__malloc(3 * n * sizeof *u);
    if (u == NULL)
        return nomem("an integer column", n);
    int64_t *r = u + n, *tmp = r + n;
    uint64_t *z = (uint64_t *)tmp; /* reused once the residuals are chosen */
    uint64_t g = 0;
    for (size_t i = 1; i < n; i++) {
        int64_t d = wsub(m[i], m[i - 1]);
        g = gcd64(g, d < 0 ? 0 - (uint64_t)d : (uint64_t)d);
    }
    if (g == 0 || g > ((uint64_t)1 << 62))
        g = 1;
    u[0] = 0;
    for (size_t i = 1; i < n; i++)
        u[i] = wsub(m[i], m[i - 1]) / (int64_t)g;

    unsigned best = 1;
    double best_bits = -1;
    for (unsigned order = 0; order <= 2; order++) {
        if (order == 2 && n < 3)
            continue;
        int64_t mu, b0;
        size_t c = residuals(u, n, order, r, tmp, &mu, &b0);
        for (size_t i = 0; i < c; i++)
            z[i] = zz(r[i]);
        double bits;
        choose_k(z, c, &bits);
        if (best_bits < 0 || bits < best_bits) {
            best_bits = bits;
            best = order;
        }
    }
    int64_t mu, b0;
    size_t c = residuals(u, n, best, r, tmp, &mu, &b0);
    bool body = false;
    for (size_t i = 0; i < c; i++) {
        z[i] = zz(r[i]);
        body |= z[i] != 0;
    }
    double bits;
    unsigned k = choose_k(z, c, &bits);
    uint64_t f[4];
    int64_t first = best == 0 ? wadd(m[0], wmul(b0, (int64_t)g)) : m[0];
    unsigned nf = seq_fields(n, best, g != 1, first, u[1], g, mu, f);
    *shape = (uint8_t)(best << HEAD_ORDER_SHIFT | (body ? HEAD_BODY : 0) | (g != 1 ? HEAD_GCD : 0));
    vigil_status st = VIGIL_OK;
    if (body) {
        st = block_encode(z, c, k, f, nf, ec, out);
    } else {
        for (unsigned j = 0; j < nf && st == VIGIL_OK; j++)
            st = emit_uvarint(out, f[j]);
    }
    vigil__free(u);
    return st;
}

/* --- column heads ------------------------------------------------------------------------------ */

/* After the head and n of a decimal column: [reference distance,] the exponent and the
 * exception count in one uvarint (zz(e) + 64 * count), the exception positions as gaps, their
 * raw bits. Leaves cur at the integer sequence. */
static bool parse_decimal(cursor *cur, int kind, size_t n, dechead *h)
{
    uint64_t dist = 0, x;
    if (kind == VIGIL__TSDB_COL_DECIMAL_REF &&
        (!get_uvarint(cur, &dist) || dist == 0 || dist >= VIGIL__TSDB_FRAME_MAX_COLUMNS))
        return false;
    if (!get_uvarint(cur, &x) || unzz(x & 63) < EXP_MIN || unzz(x & 63) > EXP_MAX || (x >> 6) > n)
        return false;
    h->distance = (uint32_t)dist;
    h->e = (int)unzz(x & 63);
    h->nexc = (size_t)(x >> 6);
    h->pos = cur->p;
    uint64_t pos = 0;
    for (size_t j = 0; j < h->nexc; j++) {
        uint64_t gap;
        if (!get_uvarint(cur, &gap) || gap >= n || (pos += gap + (j > 0)) >= n)
            return false;
    }
    if ((uint64_t)(cur->end - cur->p) < (uint64_t)h->nexc * 8)
        return false;
    h->raw = cur->p;
    cur->p += h->nexc * 8;
    return true;
}

static bool has_seq(int kind)
{
    return kind == VIGIL__TSDB_COL_TS || kind == VIGIL__TSDB_COL_DECIMAL ||
           kind == VIGIL__TSDB_COL_DECIMAL_REF;
}

/* Reads the head; false when the bytes are not a column (or need a frame they do not have). */
static bool parse_head(const uint8_t *p, const uint8_t *end, size_t ndef, colhead *h)
{
    cursor cur = {p, end};
    uint8_t b;
    uint64_t n;
    memset(h, 0, sizeof *h);
    if (!get_byte(&cur, &b))
        return false;
    h->kind = b & HEAD_KIND;
    if (h->kind < VIGIL__TSDB_COL_TS || h->kind > VIGIL__TSDB_COL_DECIMAL_REF)
        return false;
    if (b & HEAD_NDEF) {
        if (ndef == NO_NDEF)
            return false;
        n = ndef;
    } else if (!get_uvarint(&cur, &n)) {
        return false;
    }
    if (n > VIGIL__TSDB_COLUMN_MAX_SAMPLES)
        return false;
    h->n = (size_t)n;
    h->order = (b >> HEAD_ORDER_SHIFT) & 3;
    h->body = b & HEAD_BODY;
    h->gcd = b & HEAD_GCD;
    if (!has_seq(h->kind) && (b & 0xf0))
        return false;
    if (h->order == 3 || (h->order == 2 && h->n < 3) || (h->n < 2 && (b & 0xf0)))
        return false;
    if ((h->kind == VIGIL__TSDB_COL_DECIMAL || h->kind == VIGIL__TSDB_COL_DECIMAL_REF) &&
        !parse_decimal(&cur, h->kind, h->n, &h->dec))
        return false;
    h->rest = cur;
    return true;
}

/* Decodes the integer sequence of a parsed head into out[0..n) as int64 bits (memcpy'd). */
static vigil_status intseq_decode(colhead *h, void *out, const decctx *dc)
{
    size_t n = h->n;
    cursor *cur = &h->rest;
    uint8_t *o = out;
    if (n == 0)
        return cur->p == cur->end ? VIGIL_OK : corrupt("empty integer sequence");
    unsigned nf = seq_nfields(n, h->order, h->gcd);
    uint64_t f[4] = {0};
    size_t first = h->order == 2 ? 2 : h->order == 1 ? 1 : 0;
    if (n >= 2 && h->body) {
        vigil_status st = block_decode(cur, n - first, o + 8 * first, f, nf, dc);
        if (st != VIGIL_OK)
            return st;
    } else {
        for (unsigned j = 0; j < nf; j++)
            if (!get_uvarint(cur, &f[j]))
                return corrupt("integer sequence fields");
        if (cur->p != cur->end)
            return corrupt("integer sequence (trailing bytes)");
        if (n >= 2)
            memset(o + 8 * first, 0, 8 * (n - first));
    }
    int64_t m = unzz(f[0]);
    if (n == 1) {
        st8(o, m);
        return VIGIL_OK;
    }
    unsigned j = 1;
    int64_t uu = h->order == 2 ? unzz(f[j++]) : 0;
    if (h->gcd && f[j] >= ((uint64_t)1 << 62))
        return corrupt("integer sequence common factor");
    int64_t g = h->gcd ? (int64_t)f[j++] + 1 : 1;
    int64_t mu = unzz(f[j]);
    if (h->order == 1) {
        st8(o, m);
        for (size_t i = 1; i < n; i++) {
            m = wadd(m, wmul(wadd(ld(o + 8 * i), mu), g));
            st8(o + 8 * i, m);
        }
    } else if (h->order == 2) {
        st8(o, m);
        m = wadd(m, wmul(uu, g));
        st8(o + 8, m);
        for (size_t i = 2; i < n; i++) {
            uu = wadd(uu, wadd(ld(o + 8 * i), mu));
            m = wadd(m, wmul(uu, g));
            st8(o + 8 * i, m);
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            int64_t s = wadd(ld(o + 8 * i), wmul((int64_t)i, mu));
            st8(o + 8 * i, wadd(m, wmul(s, g)));
        }
    }
    return VIGIL_OK;
}

/* --- writing columns --------------------------------------------------------------------------- */

static vigil_status check_n(size_t n)
{
    if (n > VIGIL__TSDB_COLUMN_MAX_SAMPLES)
        return vigil__fail(VIGIL_EINVAL, "tsdb column: %zu samples is more than the %zu allowed", n,
                           VIGIL__TSDB_COLUMN_MAX_SAMPLES);
    return VIGIL_OK;
}

/* Head byte and n; *at gets the head's offset for the sequence's bits to be added later. */
static vigil_status emit_head(vigil_buffer *out, int kind, size_t n, const encctx *ec, size_t *at)
{
    bool ndef = ec != NULL && ec->ndef == n;
    if (at != NULL)
        *at = out->len;
    vigil_status st = emit_byte(out, (uint8_t)(kind | (ndef ? HEAD_NDEF : 0)));
    return st == VIGIL_OK && !ndef ? emit_uvarint(out, n) : st;
}

/* Sequence columns: the head, kind fields written by the caller, then the sequence. */
static vigil_status seq_finish(const int64_t *m, size_t n, size_t at, encctx *ec, vigil_buffer *out)
{
    uint8_t shape;
    vigil_status st = intseq_encode(m, n, ec, out, &shape);
    if (st == VIGIL_OK)
        out->data[at] = (char)((uint8_t)out->data[at] | shape);
    return st;
}

static vigil_status tscol_encode(const int64_t *ts, size_t n, encctx *ec, vigil_buffer *out)
{
    vigil_status st = check_n(n);
    if (st != VIGIL_OK)
        return st;
    for (size_t i = 1; i < n; i++)
        if (ts[i] <= ts[i - 1])
            return vigil__fail(VIGIL_EINVAL,
                               "tsdb column: timestamps must increase strictly (%lld at %zu "
                               "follows %lld)",
                               (long long)ts[i], i, (long long)ts[i - 1]);
    size_t at;
    st = emit_head(out, VIGIL__TSDB_COL_TS, n, ec, &at);
    return st == VIGIL_OK ? seq_finish(ts, n, at, ec, out) : st;
}

/* The public encoders write through a scratch buffer: the encoders reserve room for the worst
 * case, which must not count against the caller's cap. */
static vigil_status via_scratch(vigil_buffer *out, vigil_status st, vigil_buffer *tmp)
{
    if (st == VIGIL_OK)
        st = vigil_buffer_append(out, tmp->data, tmp->len);
    vigil_buffer_free(tmp);
    return st;
}

vigil_status vigil__tsdb_tscol_encode(const int64_t *ts, size_t n, vigil_buffer *out)
{
    encctx ec = NO_FRAME;
    vigil_buffer tmp;
    vigil_buffer_init(&tmp, 0);
    return via_scratch(out, tscol_encode(ts, n, &ec, &tmp), &tmp);
}

uint64_t vigil__tsdb_tscol_hash(const int64_t *ts, size_t n)
{
    return vigil__hash(ts, n * sizeof *ts, 0x7473636f6cull ^ n);
}

bool vigil__tsdb_tscol_equal(const int64_t *a, size_t na, const int64_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

/* m with decode(m, e) bit-identical to v, decode being exactly what the decoder computes. */
static bool dec_at(double v, int e, int64_t *m)
{
    double x = e >= 0 ? v * P10[e] : v / P10[-e];
    if (!(fabs(x) < 0x1p62))
        return false;
    int64_t q = llrint(x);
    double back = e >= 0 ? (double)q / P10[e] : (double)q * P10[-e];
    if (dbits(back) != dbits(v))
        return false;
    *m = q;
    return true;
}

/* The exponents at which v is a decimal: [*lo, *hi]; false when there are none. Above lo, an
 * exponent works while |m| <= 2^53, because m / 10^e is then the correctly rounded quotient of
 * the same rational. hint (the previous value's lo) avoids the search in the common case. */
static bool exp_range(double v, int hint, int *lo, int *hi)
{
    int64_t m;
    if (v == 0 && !signbit(v)) {
        *lo = EXP_MIN;
        *hi = EXP_MAX;
        return true;
    }
    double a = fabs(v);
    if (!(a < 0x1p62)) {
        if (!(a < INFINITY))
            return false;
        for (int e = -1; e >= EXP_MIN; e--)
            if (dec_at(v, e, &m)) {
                *lo = *hi = e;
                return true;
            }
        return false;
    }
    int found = -1;
    if (hint >= 0 && hint <= EXP_MAX && dec_at(v, hint, &m) &&
        (hint == 0 || !dec_at(v, hint - 1, &m)))
        found = hint;
    for (int e = 0; found < 0 && e <= EXP_MAX; e++)
        if (dec_at(v, e, &m))
            found = e;
    if (found < 0)
        return false;
    double room = log10(0x1p53 / a); /* digits left below 2^53 (inf for subnormals) */
    int top = room >= EXP_MAX ? EXP_MAX : (int)floor(room);
    *lo = found;
    *hi = top > found ? top : found;
    return true;
}

/* The column exponent: most values covered, each extra digit costing ~3.3 bits a sample and each
 * exception ~80 bits. Returns false when no value is a decimal. */
static bool choose_exp(const int8_t *lo, const int8_t *hi, size_t n, int *out)
{
    bool seen[EXP_MAX - EXP_MIN + 1] = {false};
    int emin = EXP_MAX + 1;
    for (size_t i = 0; i < n; i++) {
        if (lo[i] == INT8_MIN || (lo[i] == EXP_MIN && hi[i] == EXP_MAX))
            continue; /* no decimal, or +0.0 which fits any exponent */
        seen[lo[i] - EXP_MIN] = true;
        if (lo[i] < emin)
            emin = lo[i];
    }
    if (emin > EXP_MAX) {
        bool any = false;
        for (size_t i = 0; i < n && !any; i++)
            any = lo[i] != INT8_MIN;
        *out = 0;
        return any;
    }
    double best = -1;
    for (int e = EXP_MIN; e <= EXP_MAX; e++) {
        if (!seen[e - EXP_MIN])
            continue;
        size_t miss = 0;
        for (size_t i = 0; i < n; i++)
            miss += lo[i] == INT8_MIN || e < lo[i] || e > hi[i];
        double cost = 80.0 * (double)miss + 3.32 * (double)n * (e - emin);
        if (best < 0 || cost < best) {
            best = cost;
            *out = e;
        }
    }
    return true;
}

typedef struct decimal {
    int e;
    size_t nexc;
    size_t *pos; /* exception positions, increasing */
    int64_t *m;  /* n scaled integers; exceptions hold their neighbour's */
} decimal;

static void decimal_free(decimal *d)
{
    vigil__free(d->pos);
    vigil__free(d->m);
    d->pos = NULL;
    d->m = NULL;
}

/* Converts v to scaled integers at the best exponent. false: not worth it (no decimals). */
static vigil_status decimal_convert(const double *v, size_t n, decimal *d, bool *ok)
{
    memset(d, 0, sizeof *d);
    *ok = false;
    int8_t *lo = vigil__malloc(2 * n);
    d->m = vigil__malloc(n * sizeof *d->m);
    d->pos = vigil__malloc(n * sizeof *d->pos);
    if (lo == NULL || d->m == NULL || d->pos == NULL) {
        vigil__free(lo);
        decimal_free(d);
        return nomem("a decimal column", n);
    }
    int8_t *hi = lo + n;
    int hint = 0;
    for (size_t i = 0; i < n; i++) {
        int l, h;
        if (exp_range(v[i], hint, &l, &h)) {
            lo[i] = (int8_t)l;
            hi[i] = (int8_t)h;
            if (l >= 0)
                hint = l;
        } else {
            lo[i] = hi[i] = INT8_MIN;
        }
    }
    if (choose_exp(lo, hi, n, &d->e)) {
        size_t last_ok = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            if (dec_at(v[i], d->e, &d->m[i])) {
                if (last_ok == SIZE_MAX) /* leading exceptions take the first decimal's value */
                    for (size_t j = 0; j < i; j++)
                        d->m[j] = d->m[i];
                last_ok = i;
            } else {
                d->pos[d->nexc++] = i;
                d->m[i] = last_ok == SIZE_MAX ? 0 : d->m[last_ok];
            }
        }
        *ok = last_ok != SIZE_MAX;
    }
    vigil__free(lo);
    return VIGIL_OK;
}

/* The exponent and exception count, positions and raw bits. */
static vigil_status decimal_fields(const double *v, const decimal *d, vigil_buffer *out)
{
    vigil_status st = emit_uvarint(out, zz(d->e) + 64 * (uint64_t)d->nexc);
    for (size_t j = 0; j < d->nexc && st == VIGIL_OK; j++)
        st = emit_uvarint(out, j == 0 ? d->pos[0] : d->pos[j] - d->pos[j - 1] - 1);
    for (size_t j = 0; j < d->nexc && st == VIGIL_OK; j++) {
        uint8_t raw[8];
        store_le64(raw, dbits(v[d->pos[j]]));
        st = vigil_buffer_append(out, raw, 8);
    }
    return st;
}

static vigil_status decimal_emit(const double *v, size_t n, const decimal *d, encctx *ec,
                                 vigil_buffer *out)
{
    size_t at;
    vigil_status st = emit_head(out, VIGIL__TSDB_COL_DECIMAL, n, ec, &at);
    if (st == VIGIL_OK)
        st = decimal_fields(v, d, out);
    return st == VIGIL_OK ? seq_finish(d->m, n, at, ec, out) : st;
}

/* The same column as differences from the integers of the column `distance` places earlier in
 * its frame: cumulative histogram buckets differ from their neighbour by one bucket's share. */
static vigil_status decimal_ref_emit(const double *v, size_t n, const decimal *d,
                                     const int64_t *ref, uint32_t distance, encctx *ec,
                                     vigil_buffer *out)
{
    int64_t *diff = vigil__malloc(n * sizeof *diff);
    if (diff == NULL)
        return nomem("a referencing column", n);
    for (size_t i = 0; i < n; i++)
        diff[i] = wsub(d->m[i], ref[i]);
    size_t at;
    vigil_status st = emit_head(out, VIGIL__TSDB_COL_DECIMAL_REF, n, ec, &at);
    if (st == VIGIL_OK)
        st = emit_uvarint(out, distance);
    if (st == VIGIL_OK)
        st = decimal_fields(v, d, out);
    if (st == VIGIL_OK)
        st = seq_finish(diff, n, at, ec, out);
    vigil__free(diff);
    return st;
}

static vigil_status raw_emit(const double *v, size_t n, encctx *ec, vigil_buffer *out)
{
    vigil_status st = emit_head(out, VIGIL__TSDB_COL_RAW, n, ec, NULL);
    for (size_t i = 0; i < n && st == VIGIL_OK; i++) {
        uint8_t raw[8];
        store_le64(raw, dbits(v[i]));
        st = vigil_buffer_append(out, raw, 8);
    }
    return st;
}

static vigil_status xor_emit(const double *v, size_t n, encctx *ec, vigil_buffer *out)
{
    vigil_status st = emit_head(out, VIGIL__TSDB_COL_XOR, n, ec, NULL);
    return st == VIGIL_OK ? vigil__tsdb_xor_values_encode(v, n, out) : st;
}

static bool constant(const double *v, size_t n)
{
    uint64_t b = dbits(v[0]);
    for (size_t i = 1; i < n; i++)
        if (dbits(v[i]) != b)
            return false;
    return true;
}

static vigil_status const_emit(const double *v, size_t n, encctx *ec, vigil_buffer *out)
{
    uint8_t raw[8];
    store_le64(raw, dbits(v[0]));
    vigil_status st = emit_head(out, VIGIL__TSDB_COL_CONST, n, ec, NULL);
    return st == VIGIL_OK ? vigil_buffer_append(out, raw, 8) : st;
}

typedef vigil_status (*emit_fn)(const double *v, size_t n, encctx *ec, vigil_buffer *out);

/* Encodes with emit aside and puts the result in out (from start) when out holds no encoding yet
 * or a larger one; *replaced says whether it did. */
static vigil_status keep_smaller(emit_fn emit, const double *v, size_t n, encctx *ec,
                                 vigil_buffer *out, size_t start, bool *have, bool *replaced)
{
    vigil_buffer tmp;
    vigil_buffer_init(&tmp, out->limit);
    vigil_status st = emit(v, n, ec, &tmp);
    *replaced = false;
    if (st == VIGIL_OK && (!*have || tmp.len < out->len - start)) {
        out->len = start;
        st = vigil_buffer_append(out, tmp.data, tmp.len);
        *have = *replaced = st == VIGIL_OK;
    } else if (st == VIGIL_ELIMIT) {
        st = VIGIL_OK; /* a loser may overflow the cap */
    }
    vigil_buffer_free(&tmp);
    return st;
}

/* The smallest of the standalone encodings of a column that is not constant, given its decimal
 * form (ok: some values are decimals). ec->own tells whether the chosen one carries a table. */
static vigil_status valcol_emit(const double *v, size_t n, const decimal *d, bool ok, encctx *ec,
                                vigil_buffer *out)
{
    if (ok && d->nexc == 0)
        return decimal_emit(v, n, d, ec, out);
    size_t start = out->len;
    encctx dec_ec = *ec;
    vigil_status st = VIGIL_OK;
    bool have = false, replaced = false;
    if (ok) {
        st = decimal_emit(v, n, d, &dec_ec, out);
        have = st == VIGIL_OK;
        if (st != VIGIL_OK)
            out->len = start;
        if (st == VIGIL_ELIMIT)
            st = VIGIL_OK;
    }
    /* the alternatives carry no table */
    if (st == VIGIL_OK)
        st = keep_smaller(xor_emit, v, n, ec, out, start, &have, &replaced);
    if (replaced)
        dec_ec.own = false;
    if (st == VIGIL_OK)
        st = keep_smaller(raw_emit, v, n, ec, out, start, &have, &replaced);
    if (replaced)
        dec_ec.own = false;
    if (st == VIGIL_OK && !have)
        st = vigil__fail(VIGIL_ELIMIT, "tsdb column: %zu values exceed the output cap", n);
    ec->own = dec_ec.own;
    ec->mine = dec_ec.mine;
    return st;
}

static vigil_status valcol_encode(const double *v, size_t n, encctx *ec, vigil_buffer *out)
{
    vigil_status st = check_n(n);
    ec->own = false;
    if (st != VIGIL_OK)
        return st;
    if (n == 0)
        return emit_head(out, VIGIL__TSDB_COL_RAW, 0, ec, NULL);
    if (constant(v, n))
        return const_emit(v, n, ec, out);
    decimal d;
    bool ok;
    st = decimal_convert(v, n, &d, &ok);
    if (st == VIGIL_OK)
        st = valcol_emit(v, n, &d, ok, ec, out);
    decimal_free(&d);
    return st;
}

vigil_status vigil__tsdb_valcol_encode(const double *v, size_t n, vigil_buffer *out)
{
    encctx ec = NO_FRAME;
    vigil_buffer tmp;
    vigil_buffer_init(&tmp, 0);
    return via_scratch(out, valcol_encode(v, n, &ec, &tmp), &tmp);
}

/* --- reading columns --------------------------------------------------------------------------- */

/* (double)m without cvtsi2sd, whose partial register write chains each conversion (and the
 * division after it) to the previous one: below 2^51 in magnitude, m added to the bits of
 * 1.5 * 2^52 is exact, and subtracting 1.5 * 2^52 leaves exactly m. */
static inline double i2d(int64_t m)
{
    if ((uint64_t)m + (1ull << 51) < (1ull << 52)) {
        uint64_t b = 0x4338000000000000ull + (uint64_t)m;
        double d;
        memcpy(&d, &b, 8);
        return d - 6755399441055744.0;
    }
    return (double)m;
}

/* m / p for n integers (int64 bits at src, which may be v), two at a time: divsd is the slowest
 * step of decoding and divpd does two for the price of one. The vector types are GCC's
 * extensions (SSE2 on x86-64, plain scalar code where there is no vector unit). */
typedef double v2d __attribute__((vector_size(16)));
typedef uint64_t v2u __attribute__((vector_size(16)));

static void scale_down(const uint8_t *o, double *v, size_t n, double p)
{
    const v2u bias = {1ull << 51, 1ull << 51};
    const v2u magic = {0x4338000000000000ull, 0x4338000000000000ull};
    const v2d magicd = {6755399441055744.0, 6755399441055744.0}, pv = {p, p};
    size_t i = 0;
    for (; i + 2 <= n; i += 2) {
        v2u m;
        memcpy(&m, o + 8 * i, 16);
        v2u t = m + bias;
        if (VIGIL_UNLIKELY((t[0] | t[1]) >> 52)) { /* beyond 2^51: one at a time */
            v[i] = (double)(int64_t)m[0] / p;
            v[i + 1] = (double)(int64_t)m[1] / p;
            continue;
        }
        v2u b = m + magic;
        v2d d;
        memcpy(&d, &b, 16);
        d = (d - magicd) / pv;
        memcpy(&v[i], &d, 16);
    }
    for (; i < n; i++)
        v[i] = i2d(ld(o + 8 * i)) / p;
}

/* Values from n integers (int64 bits at src, which may be v itself) and the exceptions. */
static void decimal_finish(const dechead *h, const void *src, double *v, size_t n)
{
    const uint8_t *o = src;
    if (h->e == 0) {
        for (size_t i = 0; i < n; i++)
            v[i] = i2d(ld(o + 8 * i));
    } else if (h->e > 0) {
        scale_down(o, v, n, P10[h->e]);
    } else {
        double p = P10[-h->e];
        for (size_t i = 0; i < n; i++)
            v[i] = i2d(ld(o + 8 * i)) * p;
    }
    cursor pc = {h->pos, h->raw};
    uint64_t pos = 0;
    for (size_t j = 0; j < h->nexc; j++) {
        uint64_t gap = 0;
        get_uvarint(&pc, &gap); /* validated by parse_decimal */
        pos += gap + (j > 0);
        uint64_t b = load_le64(h->raw + 8 * j);
        memcpy(&v[pos], &b, 8);
    }
}

static vigil_status open_head(const uint8_t *p, size_t len, size_t ndef, size_t cap, colhead *h)
{
    if (p == NULL)
        return vigil__fail(VIGIL_EINVAL, "tsdb column: NULL bytes");
    if (!parse_head(p, p + len, ndef, h)) {
        if (len > 0 && (p[0] & HEAD_NDEF) && ndef == NO_NDEF)
            return vigil__fail(VIGIL_EINVAL, "tsdb column: takes its sample count from its "
                                             "frame; decode it through the frame");
        return corrupt("column header");
    }
    if (h->n > cap)
        return vigil__fail(VIGIL_ELIMIT, "tsdb column: %zu samples do not fit %zu entries", h->n,
                           cap);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_col_info(const uint8_t *p, size_t len, int *kind, size_t *n)
{
    colhead h;
    vigil_status st = open_head(p, len, NO_NDEF, SIZE_MAX, &h);
    if (st == VIGIL_OK) {
        *kind = h.kind;
        *n = h.n;
    }
    return st;
}

static vigil_status ts_decode(colhead *h, int64_t *ts, size_t *n, const decctx *dc)
{
    if (h->kind != VIGIL__TSDB_COL_TS)
        return vigil__fail(VIGIL_EINVAL, "tsdb column: kind %d is not a timestamp column", h->kind);
    vigil_status st = intseq_decode(h, ts, dc);
    if (st == VIGIL_OK)
        *n = h->n;
    return st;
}

vigil_status vigil__tsdb_tscol_decode(const uint8_t *p, size_t len, int64_t *ts, size_t cap,
                                      size_t *n)
{
    colhead h;
    decctx dc = {NULL, 0, NULL};
    *n = 0;
    vigil_status st = open_head(p, len, NO_NDEF, cap, &h);
    return st == VIGIL_OK ? ts_decode(&h, ts, n, &dc) : st;
}

/* Value kinds other than DECIMAL_REF (which needs its frame's other columns). */
static vigil_status values_decode(colhead *h, double *v, size_t *n, const decctx *dc)
{
    cursor *cur = &h->rest;
    size_t left = (size_t)(cur->end - cur->p), cnt = h->n;
    vigil_status st = VIGIL_OK;
    switch (h->kind) {
    case VIGIL__TSDB_COL_CONST:
        if (left != 8)
            return corrupt("constant column");
        for (size_t i = 0; i < cnt; i++) {
            uint64_t b = load_le64(cur->p);
            memcpy(&v[i], &b, 8);
        }
        break;
    case VIGIL__TSDB_COL_DECIMAL:
        st = intseq_decode(h, v, dc);
        if (st == VIGIL_OK)
            decimal_finish(&h->dec, v, v, cnt);
        break;
    case VIGIL__TSDB_COL_XOR: st = vigil__tsdb_xor_values_decode(cur->p, left, v, cnt); break;
    case VIGIL__TSDB_COL_RAW:
        if (left != cnt * 8)
            return corrupt("raw column");
        for (size_t i = 0; i < cnt; i++) {
            uint64_t b = load_le64(cur->p + 8 * i);
            memcpy(&v[i], &b, 8);
        }
        break;
    case VIGIL__TSDB_COL_DECIMAL_REF:
        return vigil__fail(VIGIL_EINVAL, "tsdb column: a column that refers to another one "
                                         "decodes only through its frame");
    default:
        return vigil__fail(VIGIL_EINVAL, "tsdb column: kind %d is not a value column", h->kind);
    }
    if (st == VIGIL_OK)
        *n = cnt;
    return st;
}

vigil_status vigil__tsdb_valcol_decode(const uint8_t *p, size_t len, double *v, size_t cap,
                                       size_t *n)
{
    colhead h;
    decctx dc = {NULL, 0, NULL};
    *n = 0;
    vigil_status st = open_head(p, len, NO_NDEF, cap, &h);
    return st == VIGIL_OK ? values_decode(&h, v, n, &dc) : st;
}

/* --- columns of a frame ------------------------------------------------------------------------ */

/* What a frame reader keeps between columns: the integers of recently decoded decimal columns,
 * and the symbol tables (tabcache above). Integers are kept because a column may be coded
 * against an earlier one: a histogram's buckets form a chain, each bucket the differences from
 * the one before. A reader that visits a chain out of order (a query returns series sorted by
 * labels, and le="10" sorts before le="2.5") would decode the chain's head again for every
 * member with one cached column; with a slot per column index modulo the slot count, a chain of
 * consecutive columns as long as the slot count stays decoded, so reading it in any order
 * decodes each of its columns once. Slots get memory when first used; long columns use fewer
 * slots, so that the cache stays within INT_CACHE_BYTES (but always has one). */
#define INT_SLOTS 16
#define INT_CACHE_BYTES ((size_t)1 << 20)

typedef struct intslot {
    int64_t *m; /* integers of column `index` */
    size_t cap; /* entries in m */
    size_t n;
    uint32_t index;
    bool valid;
} intslot;

typedef struct intcache {
    intslot slot[INT_SLOTS];
    int64_t *tmp; /* a referencing column's differences, when it shares its reference's slot */
    size_t tmp_cap;
    tabcache tabs; /* the frame's symbol tables */
} intcache;

static void cache_free(intcache *c)
{
    for (unsigned s = 0; s < INT_SLOTS; s++)
        vigil__free(c->slot[s].m);
    vigil__free(c->tmp);
    memset(c, 0, sizeof *c);
}

static void cache_invalidate(intcache *c)
{
    for (unsigned s = 0; s < INT_SLOTS; s++)
        c->slot[s].valid = false;
    for (unsigned s = 0; s < TAB_SLOTS; s++)
        c->tabs.slot[s].valid = false;
}

static intslot *cache_slot(intcache *c, uint32_t i, size_t n)
{
    size_t nslots = INT_CACHE_BYTES / (n * sizeof(int64_t) + 1);
    nslots = nslots < 1 ? 1 : nslots > INT_SLOTS ? INT_SLOTS : nslots;
    return &c->slot[i % nslots];
}

static vigil_status ints_reserve(int64_t **m, size_t *cap, size_t n)
{
    if (n <= *cap)
        return VIGIL_OK;
    int64_t *nm = vigil__realloc(*m, (n ? n : 1) * sizeof *nm);
    if (nm == NULL)
        return nomem("decoding a frame column", n);
    *m = nm;
    *cap = n;
    return VIGIL_OK;
}

static vigil_status view_head(const colview *cv, uint32_t i, size_t cap, colhead *h)
{
    if (i >= cv->ncols)
        return vigil__fail(VIGIL_EINVAL, "tsdb frame: no column %u (the frame has %u)", (unsigned)i,
                           (unsigned)cv->ncols);
    const uint8_t *p = cv->payload + cv->offs[i];
    return open_head(p, cv->offs[i + 1] - cv->offs[i], cv->ndef, cap, h);
}

/* m[j] += d[j] for n integers (modulo 2^64); m is int64 bits, possibly inside a double array. */
static void add_ints(void *m, const int64_t *d, size_t n)
{
    uint8_t *o = m;
    for (size_t j = 0; j < n; j++)
        st8(o + 8 * j, wadd(ld(o + 8 * j), d[j]));
}

static vigil_status view_ints(const colview *cv, intcache *ic, uint32_t i, colhead *h,
                              unsigned depth, const int64_t **out);

/* The integers of the column that DECIMAL_REF column i (head h) refers to. */
static vigil_status ref_ints(const colview *cv, intcache *ic, uint32_t i, const colhead *h,
                             unsigned depth, const int64_t **ref)
{
    if (h->dec.distance > i)
        return corrupt("column reference (before the first column)");
    colhead rh;
    vigil_status st = view_head(cv, i - h->dec.distance, SIZE_MAX, &rh);
    if (st == VIGIL_OK && rh.n != h->n)
        st = corrupt("column reference (to a column of another length)");
    if (st == VIGIL_OK)
        st = view_ints(cv, ic, i - h->dec.distance, &rh, depth + 1, ref);
    return st;
}

/* The differences of the referencing column h (column i) added to its reference's integers ref,
 * into slot s, which may be the slot ref lives in. */
static vigil_status apply_ref(const colview *cv, intcache *ic, uint32_t i, colhead *h,
                              const int64_t *ref, intslot *s)
{
    decctx dc = {cv, i, &ic->tabs};
    vigil_status st;
    if (ref == s->m) {
        st = ints_reserve(&ic->tmp, &ic->tmp_cap, h->n);
        s->valid = false;
        if (st == VIGIL_OK)
            st = intseq_decode(h, ic->tmp, &dc);
        if (st == VIGIL_OK)
            add_ints(s->m, ic->tmp, h->n);
        return st;
    }
    s->valid = false;
    st = ints_reserve(&s->m, &s->cap, h->n);
    if (st == VIGIL_OK)
        st = intseq_decode(h, s->m, &dc);
    if (st == VIGIL_OK)
        add_ints(s->m, ref, h->n);
    return st;
}

/* The integers of decimal column i (its parsed head h) from the cache, decoding them (and the
 * columns they refer to, back through the frame) when missing. *out points into the cache and
 * stays valid until the next call on it. */
static vigil_status view_ints(const colview *cv, intcache *ic, uint32_t i, colhead *h,
                              unsigned depth, const int64_t **out)
{
    intslot *s = cache_slot(ic, i, h->n);
    if (s->valid && s->index == i) {
        *out = s->m;
        return VIGIL_OK;
    }
    if (depth > MAX_REF_DEPTH)
        return corrupt("frame (column references nest too deep)");
    if (h->kind != VIGIL__TSDB_COL_DECIMAL && h->kind != VIGIL__TSDB_COL_DECIMAL_REF)
        return corrupt("frame (a column refers to one that is not decimal)");
    vigil_status st;
    if (h->kind == VIGIL__TSDB_COL_DECIMAL) {
        decctx dc = {cv, i, &ic->tabs};
        s->valid = false;
        st = ints_reserve(&s->m, &s->cap, h->n);
        if (st == VIGIL_OK)
            st = intseq_decode(h, s->m, &dc);
    } else {
        const int64_t *ref = NULL;
        st = ref_ints(cv, ic, i, h, depth, &ref);
        if (st == VIGIL_OK)
            st = apply_ref(cv, ic, i, h, ref, s);
    }
    if (st != VIGIL_OK)
        return st;
    s->n = h->n;
    s->index = i;
    s->valid = true;
    *out = s->m;
    return VIGIL_OK;
}

/* Whether the column after i refers back (the encoder only ever refers to the column just
 * before). Such a column's integers go to the cache; any other decodes straight into the
 * caller's array, which saves a pass through memory that a query would feel. */
static bool next_refers(const colview *cv, uint32_t i)
{
    return i + 1 < cv->ncols && cv->offs[i + 1] < cv->offs[i + 2] &&
           (cv->payload[cv->offs[i + 1]] & HEAD_KIND) == VIGIL__TSDB_COL_DECIMAL_REF;
}

/* The integers of decimal column i (head h) as int64 bits in v, without the cache. */
static vigil_status ints_into(const colview *cv, intcache *ic, uint32_t i, colhead *h, double *v)
{
    decctx dc = {cv, i, &ic->tabs};
    const int64_t *ref = NULL;
    vigil_status st = VIGIL_OK;
    if (h->kind == VIGIL__TSDB_COL_DECIMAL_REF)
        st = ref_ints(cv, ic, i, h, 0, &ref);
    if (st == VIGIL_OK)
        st = intseq_decode(h, v, &dc);
    if (st == VIGIL_OK && ref)
        add_ints(v, ref, h->n);
    return st;
}

static vigil_status view_values(const colview *cv, intcache *ic, uint32_t i, double *v, size_t cap,
                                size_t *n)
{
    colhead h;
    decctx dc = {cv, i, &ic->tabs};
    *n = 0;
    vigil_status st = view_head(cv, i, cap, &h);
    if (st != VIGIL_OK)
        return st;
    if (h.kind != VIGIL__TSDB_COL_DECIMAL && h.kind != VIGIL__TSDB_COL_DECIMAL_REF)
        return values_decode(&h, v, n, &dc);
    const intslot *s = cache_slot(ic, i, h.n);
    if ((s->valid && s->index == i) || next_refers(cv, i)) {
        const int64_t *m;
        st = view_ints(cv, ic, i, &h, 0, &m);
        if (st == VIGIL_OK)
            decimal_finish(&h.dec, m, v, h.n);
    } else {
        st = ints_into(cv, ic, i, &h, v);
        if (st == VIGIL_OK)
            decimal_finish(&h.dec, v, v, h.n);
    }
    if (st == VIGIL_OK)
        *n = h.n;
    return st;
}

static vigil_status view_ts(const colview *cv, uint32_t i, int64_t *ts, size_t cap, size_t *n)
{
    colhead h;
    decctx dc = {cv, i, NULL};
    *n = 0;
    vigil_status st = view_head(cv, i, cap, &h);
    return st == VIGIL_OK ? ts_decode(&h, ts, n, &dc) : st;
}

/* --- frame builder ------------------------------------------------------------------------------ */

struct vigil__tsdb_frame_builder {
    vigil_buffer payload; /* encoded columns, concatenated; capped at max_bytes */
    vigil_buffer scratch; /* the column being encoded: encoders reserve for the worst case,
                             so only the result is held against the cap */
    size_t *offs;         /* ncols + 1 offsets into payload */
    uint64_t *hashes;     /* per column: hash of its input (timestamps or value bits) */
    bool *is_ts;
    uint32_t ncols;
    uint32_t cap;
    int level;
    size_t max_bytes;
    size_t ndef; /* the first column's n: later columns of that length omit theirs */
    /* Own tables of recent columns, for later columns to borrow (a ring). */
    tabcand cands[MAX_CANDS];
    unsigned ncands;
    unsigned cand_next;
    /* The last decimal value column: the candidate reference for the next one. */
    int64_t *prev_m;
    size_t prev_cap;
    size_t prev_n;
    int prev_e;
    uint32_t prev_index;
    unsigned prev_depth;
    bool prev_valid;
    /* Decoding earlier columns to confirm that a hash match is a real duplicate. */
    intcache check;
    void *checkbuf;
    size_t checkbuf_cap;
};

static void builder_reset(vigil__tsdb_frame_builder *b)
{
    b->payload.len = 0;
    b->ncols = 0;
    b->ndef = NO_NDEF;
    b->ncands = 0;
    b->cand_next = 0;
    b->prev_valid = false;
    cache_invalidate(&b->check);
}

vigil_status vigil__tsdb_frame_builder_new(int zstd_level, size_t max_bytes,
                                           vigil__tsdb_frame_builder **out)
{
    *out = NULL;
    if (max_bytes == 0 || max_bytes > VIGIL__TSDB_FRAME_MAX_BYTES)
        max_bytes = VIGIL__TSDB_FRAME_MAX_BYTES;
    if (zstd_level > ZSTD_maxCLevel())
        return vigil__fail(VIGIL_EINVAL, "tsdb frame: zstd level %d is above the maximum %d",
                           zstd_level, ZSTD_maxCLevel());
    vigil__tsdb_frame_builder *b = vigil__calloc(1, sizeof *b);
    if (b == NULL)
        return vigil__fail(VIGIL_ENOMEM, "tsdb frame: out of memory for a builder");
    vigil_buffer_init(&b->payload, max_bytes);
    vigil_buffer_init(&b->scratch, 0);
    b->level = zstd_level == 0 ? DEFAULT_ZSTD_LEVEL : zstd_level;
    b->max_bytes = max_bytes;
    builder_reset(b);
    *out = b;
    return VIGIL_OK;
}

void vigil__tsdb_frame_builder_free(vigil__tsdb_frame_builder *b)
{
    if (b == NULL)
        return;
    vigil_buffer_free(&b->payload);
    vigil_buffer_free(&b->scratch);
    vigil__free(b->offs);
    vigil__free(b->hashes);
    vigil__free(b->is_ts);
    vigil__free(b->prev_m);
    vigil__free(b->checkbuf);
    cache_free(&b->check);
    vigil__free(b);
}

uint32_t vigil__tsdb_frame_builder_columns(const vigil__tsdb_frame_builder *b)
{
    return b->ncols;
}

static vigil_status grow_columns(vigil__tsdb_frame_builder *b)
{
    if (b->ncols == VIGIL__TSDB_FRAME_MAX_COLUMNS)
        return vigil__fail(VIGIL_ELIMIT, "tsdb frame: %u columns is the most a frame holds",
                           (unsigned)VIGIL__TSDB_FRAME_MAX_COLUMNS);
    if (b->ncols + 1 < b->cap)
        return VIGIL_OK;
    uint32_t ncap = b->cap ? b->cap * 2 : 64;
    size_t *no = vigil__realloc(b->offs, ((size_t)ncap + 1) * sizeof *no);
    if (no != NULL)
        b->offs = no;
    uint64_t *nh = no ? vigil__realloc(b->hashes, ncap * sizeof *nh) : NULL;
    if (nh != NULL)
        b->hashes = nh;
    bool *nt = nh ? vigil__realloc(b->is_ts, ncap * sizeof *nt) : NULL;
    if (nt == NULL)
        return vigil__fail(VIGIL_ENOMEM, "tsdb frame: out of memory for %u columns",
                           (unsigned)ncap);
    b->is_ts = nt;
    b->cap = ncap;
    return VIGIL_OK;
}

/* The context for encoding the next column. */
static encctx builder_ctx(const vigil__tsdb_frame_builder *b, size_t n)
{
    encctx ec = NO_FRAME;
    ec.ndef = b->ndef == NO_NDEF ? n : b->ndef;
    ec.cand = b->cands;
    ec.ncand = b->ncands;
    ec.index = b->ncols;
    return ec;
}

/* Appends the column encoded in scratch to the payload and registers it. */
static vigil_status push_column(vigil__tsdb_frame_builder *b, size_t n, uint64_t h, bool is_ts,
                                const encctx *ec, uint32_t *index)
{
    size_t start = b->payload.len;
    vigil_status st = vigil_buffer_append(&b->payload, b->scratch.data, b->scratch.len);
    if (st != VIGIL_OK)
        return st;
    if (b->ndef == NO_NDEF)
        b->ndef = n;
    b->offs[b->ncols] = start;
    b->offs[b->ncols + 1] = b->payload.len;
    b->hashes[b->ncols] = h;
    b->is_ts[b->ncols] = is_ts;
    if (ec->own) {
        b->cands[b->cand_next] = ec->mine;
        b->cands[b->cand_next].col = b->ncols;
        b->cand_next = (b->cand_next + 1) % MAX_CANDS;
        if (b->ncands < MAX_CANDS)
            b->ncands++;
    }
    *index = b->ncols++;
    return VIGIL_OK;
}

static bool check_room(vigil__tsdb_frame_builder *b, size_t bytes)
{
    if (bytes <= b->checkbuf_cap)
        return true;
    void *nb = vigil__realloc(b->checkbuf, bytes);
    if (nb == NULL)
        return false;
    b->checkbuf = nb;
    b->checkbuf_cap = bytes;
    return true;
}

/* An earlier column holding exactly these samples (a hash match confirmed by decoding it). */
static bool find_column(vigil__tsdb_frame_builder *b, const void *data, size_t n, uint64_t h,
                        bool is_ts, uint32_t *index)
{
    colview cv = {(const uint8_t *)b->payload.data, b->offs, b->ncols, b->ndef};
    for (uint32_t i = 0; i < b->ncols; i++) {
        if (b->is_ts[i] != is_ts || b->hashes[i] != h)
            continue;
        if (!check_room(b, n * 8 + 8))
            return false; /* no memory to confirm: store the column again */
        size_t got;
        vigil_status st = is_ts ? view_ts(&cv, i, b->checkbuf, n, &got)
                                : view_values(&cv, &b->check, i, b->checkbuf, n, &got);
        if (st == VIGIL_OK && got == n && (n == 0 || memcmp(b->checkbuf, data, n * 8) == 0)) {
            *index = i;
            return true;
        }
    }
    return false;
}

vigil_status vigil__tsdb_frame_add_ts(vigil__tsdb_frame_builder *b, const int64_t *ts, size_t n,
                                      uint32_t *index)
{
    uint64_t h = vigil__tsdb_tscol_hash(ts, n);
    if (find_column(b, ts, n, h, true, index))
        return VIGIL_OK;
    vigil_status st = grow_columns(b);
    encctx ec = builder_ctx(b, n);
    b->scratch.len = 0;
    if (st == VIGIL_OK)
        st = tscol_encode(ts, n, &ec, &b->scratch);
    return st == VIGIL_OK ? push_column(b, n, h, true, &ec, index) : st;
}

/* Encodes a non-constant column, as a reference to the previous decimal column when that is
 * smaller. *is_decimal: stored as DECIMAL or DECIMAL_REF (its integers are d->m). */
static vigil_status encode_values(vigil__tsdb_frame_builder *b, const double *v, size_t n,
                                  decimal *d, encctx *ec, bool *is_decimal, bool *used_ref)
{
    bool ok;
    vigil_buffer *out = &b->scratch;
    *is_decimal = *used_ref = false;
    vigil_status st = decimal_convert(v, n, d, &ok);
    if (st == VIGIL_OK)
        st = valcol_emit(v, n, d, ok, ec, out);
    if (st != VIGIL_OK || ((uint8_t)out->data[0] & HEAD_KIND) != VIGIL__TSDB_COL_DECIMAL)
        return st;
    *is_decimal = true;
    if (!b->prev_valid || b->prev_n != n || b->prev_e != d->e || b->prev_depth >= MAX_REF_DEPTH)
        return VIGIL_OK;
    vigil_buffer tmp;
    vigil_buffer_init(&tmp, 0);
    encctx ref_ec = *ec;
    st = decimal_ref_emit(v, n, d, b->prev_m, b->ncols - b->prev_index, &ref_ec, &tmp);
    if (st == VIGIL_OK && tmp.len < out->len) {
        vigil_buffer t = *out; /* keep the smaller: swap the buffers */
        *out = tmp;
        tmp = t;
        *used_ref = true;
        *ec = ref_ec;
    }
    vigil_buffer_free(&tmp);
    return st;
}

static void remember_decimal(vigil__tsdb_frame_builder *b, const decimal *d, size_t n,
                             uint32_t index, bool used_ref)
{
    if (n > b->prev_cap) {
        int64_t *nm = vigil__realloc(b->prev_m, n * sizeof *nm);
        if (nm == NULL) {
            b->prev_valid = false; /* only a missed chance to save space */
            return;
        }
        b->prev_m = nm;
        b->prev_cap = n;
    }
    memcpy(b->prev_m, d->m, n * sizeof *d->m);
    b->prev_depth = used_ref ? b->prev_depth + 1 : 0;
    b->prev_n = n;
    b->prev_e = d->e;
    b->prev_index = index;
    b->prev_valid = true;
}

vigil_status vigil__tsdb_frame_add_values(vigil__tsdb_frame_builder *b, const double *v, size_t n,
                                          uint32_t *index)
{
    vigil_status st = check_n(n);
    if (st != VIGIL_OK)
        return st;
    uint64_t h = vigil__hash(v, n * sizeof *v, 0x76616cull ^ n);
    if (find_column(b, v, n, h, false, index))
        return VIGIL_OK;
    st = grow_columns(b);
    if (st != VIGIL_OK)
        return st;
    decimal d;
    memset(&d, 0, sizeof d);
    bool is_decimal = false, used_ref = false;
    encctx ec = builder_ctx(b, n);
    b->scratch.len = 0;
    if (n == 0 || constant(v, n))
        st = valcol_encode(v, n, &ec, &b->scratch);
    else
        st = encode_values(b, v, n, &d, &ec, &is_decimal, &used_ref);
    if (st == VIGIL_OK)
        st = push_column(b, n, h, false, &ec, index);
    if (st == VIGIL_OK) {
        if (is_decimal)
            remember_decimal(b, &d, n, *index, used_ref);
        else
            b->prev_valid = false;
    }
    decimal_free(&d);
    return st;
}

static void put_le32(uint8_t *p, size_t v)
{
    store_le32(p, (uint32_t)v);
}

vigil_status vigil__tsdb_frame_finish(vigil__tsdb_frame_builder *b, vigil_buffer *out)
{
    /* The payload is the directory (default sample count + 1 or 0, column lengths) followed by
     * the columns. */
    vigil_buffer raw;
    vigil_buffer_init(&raw, b->max_bytes);
    vigil_status st = emit_uvarint(&raw, b->ndef == NO_NDEF ? 0 : (uint64_t)b->ndef + 1);
    for (uint32_t i = 0; i < b->ncols && st == VIGIL_OK; i++)
        st = emit_uvarint(&raw, b->offs[i + 1] - b->offs[i]);
    if (st == VIGIL_OK && b->payload.len > 0)
        st = vigil_buffer_append(&raw, b->payload.data, b->payload.len);
    uint8_t *zbuf = NULL;
    size_t zlen = 0;
    if (st == VIGIL_OK && b->level > 0 && raw.len > 0) {
        size_t bound = ZSTD_compressBound(raw.len);
        zbuf = vigil__malloc(bound);
        if (zbuf == NULL) {
            st = vigil__fail(VIGIL_ENOMEM, "tsdb frame: out of memory compressing %zu bytes",
                             raw.len);
        } else {
            zlen = ZSTD_compress(zbuf, bound, raw.data, raw.len, b->level);
            if (ZSTD_isError(zlen))
                st = vigil__fail(VIGIL_EIO, "tsdb frame: zstd: %s", ZSTD_getErrorName(zlen));
        }
    }
    bool packed =
        zbuf != NULL && st == VIGIL_OK && zlen < raw.len - (raw.len >> ZSTD_MIN_GAIN_SHIFT);
    const uint8_t *stored = packed ? zbuf : (const uint8_t *)raw.data;
    size_t stored_len = packed ? zlen : raw.len;
    char *dst = NULL;
    if (st == VIGIL_OK)
        st = vigil__buf_reserve(out, VIGIL__TSDB_FRAME_HEADER + stored_len, &dst);
    if (st == VIGIL_OK) {
        uint8_t *h = (uint8_t *)dst;
        memcpy(h, FRAME_MAGIC, 4);
        h[4] = FRAME_VERSION;
        h[5] = packed ? FRAME_ZSTD : 0;
        h[6] = h[7] = 0;
        put_le32(h + 8, b->ncols);
        put_le32(h + 12, raw.len);
        put_le32(h + 16, stored_len);
        if (stored_len > 0)
            memcpy(h + VIGIL__TSDB_FRAME_HEADER, stored, stored_len);
        uLong crc = crc32(0L, h, 20);
        crc = crc32(crc, h + VIGIL__TSDB_FRAME_HEADER, (uInt)stored_len);
        put_le32(h + 20, crc);
        out->len += VIGIL__TSDB_FRAME_HEADER + stored_len;
        builder_reset(b);
    }
    vigil__free(zbuf);
    vigil_buffer_free(&raw);
    return st;
}

/* --- frame reader ------------------------------------------------------------------------------- */

struct vigil__tsdb_frame {
    colview view; /* the open frame's columns; ncols 0 when none is open */
    size_t *offs; /* view.offs, ncols + 1 entries */
    uint32_t offs_cap;
    uint8_t *buf; /* decompressed payloads land here; reused across frames */
    size_t buf_cap;
    intcache ints;
};

vigil_status vigil__tsdb_frame_reader_new(vigil__tsdb_frame **out)
{
    *out = vigil__calloc(1, sizeof **out);
    return *out ? VIGIL_OK : vigil__fail(VIGIL_ENOMEM, "tsdb frame: out of memory for a reader");
}

void vigil__tsdb_frame_reader_free(vigil__tsdb_frame *f)
{
    if (f == NULL)
        return;
    vigil__free(f->offs);
    vigil__free(f->buf);
    cache_free(&f->ints);
    vigil__free(f);
}

static vigil_status bad_frame(const char *why)
{
    return vigil__fail(VIGIL_ECORRUPT, "tsdb frame: %s", why);
}

static vigil_status frame_payload(vigil__tsdb_frame *f, const uint8_t *h, size_t raw_len,
                                  size_t stored_len, const uint8_t **payload)
{
    const uint8_t *stored = h + VIGIL__TSDB_FRAME_HEADER;
    if (h[5] == 0) {
        if (raw_len != stored_len)
            return bad_frame("stored and raw sizes differ in an uncompressed frame");
        *payload = stored;
        return VIGIL_OK;
    }
    unsigned long long declared = ZSTD_getFrameContentSize(stored, stored_len);
    if (declared != raw_len)
        return bad_frame("zstd content size does not match the header");
    if (raw_len > f->buf_cap) {
        uint8_t *nb = vigil__realloc(f->buf, raw_len);
        if (nb == NULL)
            return vigil__fail(VIGIL_ENOMEM, "tsdb frame: out of memory for %zu bytes", raw_len);
        f->buf = nb;
        f->buf_cap = raw_len;
    }
    size_t got = ZSTD_decompress(f->buf, raw_len, stored, stored_len);
    if (ZSTD_isError(got) || got != raw_len)
        return bad_frame("zstd payload does not decompress to its declared size");
    *payload = f->buf;
    return VIGIL_OK;
}

static vigil_status frame_directory(vigil__tsdb_frame *f, const uint8_t *payload, size_t raw_len,
                                    uint32_t ncols)
{
    if (ncols + 1 > f->offs_cap) {
        size_t *no = vigil__realloc(f->offs, ((size_t)ncols + 1) * sizeof *no);
        if (no == NULL)
            return vigil__fail(VIGIL_ENOMEM, "tsdb frame: out of memory for %u columns",
                               (unsigned)ncols);
        f->offs = no;
        f->offs_cap = ncols + 1;
    }
    cursor cur = {payload, payload + raw_len};
    size_t total = 0;
    uint64_t ndef;
    if (raw_len > 0 && (!get_uvarint(&cur, &ndef) || ndef > VIGIL__TSDB_COLUMN_MAX_SAMPLES + 1))
        return bad_frame("bad default sample count");
    f->view.ndef = raw_len == 0 || ndef == 0 ? NO_NDEF : (size_t)ndef - 1;
    for (uint32_t i = 0; i < ncols; i++) {
        uint64_t len;
        if (!get_uvarint(&cur, &len) || len > raw_len || total + len > raw_len)
            return bad_frame("column directory overruns the payload");
        f->offs[i] = total;
        total += len;
    }
    if (total != (size_t)(cur.end - cur.p))
        return bad_frame("column directory does not add up to the payload");
    f->offs[ncols] = total;
    f->view.payload = cur.p;
    f->view.offs = f->offs;
    f->view.ncols = ncols;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_frame_open(vigil__tsdb_frame *f, const uint8_t *bytes, size_t len)
{
    return vigil__tsdb_frame_open_checked(f, bytes, len, true);
}

vigil_status vigil__tsdb_frame_open_checked(vigil__tsdb_frame *f, const uint8_t *bytes, size_t len,
                                            bool verify_crc)
{
    f->view.ncols = 0;
    cache_invalidate(&f->ints);
    if (bytes == NULL)
        return vigil__fail(VIGIL_EINVAL, "tsdb frame: NULL bytes");
    if (len < VIGIL__TSDB_FRAME_HEADER)
        return bad_frame("shorter than its 24-byte header");
    if (memcmp(bytes, FRAME_MAGIC, 4) != 0)
        return bad_frame("bad magic");
    if (bytes[4] != FRAME_VERSION)
        return vigil__fail(VIGIL_ECORRUPT, "tsdb frame: version %u is not supported (want %u)",
                           bytes[4], FRAME_VERSION);
    if ((bytes[5] & ~FRAME_ZSTD) || bytes[6] || bytes[7])
        return bad_frame("unknown flags");
    uint32_t ncols = load_le32(bytes + 8);
    size_t raw_len = load_le32(bytes + 12), stored_len = load_le32(bytes + 16);
    if (stored_len != len - VIGIL__TSDB_FRAME_HEADER)
        return bad_frame("stored size does not match the frame length");
    if (ncols > VIGIL__TSDB_FRAME_MAX_COLUMNS || raw_len > VIGIL__TSDB_FRAME_MAX_BYTES)
        return bad_frame("column count or payload size above the limits");
    if (verify_crc) {
        uLong crc = crc32(0L, bytes, 20);
        crc = crc32(crc, bytes + VIGIL__TSDB_FRAME_HEADER, (uInt)stored_len);
        if ((uint32_t)crc != load_le32(bytes + 20))
            return bad_frame("checksum mismatch");
    }
    const uint8_t *payload = NULL;
    vigil_status st = frame_payload(f, bytes, raw_len, stored_len, &payload);
    return st == VIGIL_OK ? frame_directory(f, payload, raw_len, ncols) : st;
}

uint32_t vigil__tsdb_frame_ncols(const vigil__tsdb_frame *f)
{
    return f->view.ncols;
}

vigil_status vigil__tsdb_frame_column_info(const vigil__tsdb_frame *f, uint32_t i, int *kind,
                                           size_t *n)
{
    colhead h;
    vigil_status st = view_head(&f->view, i, SIZE_MAX, &h);
    if (st == VIGIL_OK) {
        *kind = h.kind;
        *n = h.n;
    }
    return st;
}

vigil_status vigil__tsdb_frame_column_bytes(const vigil__tsdb_frame *f, uint32_t i, size_t *len)
{
    if (i >= f->view.ncols)
        return vigil__fail(VIGIL_EINVAL, "tsdb frame: no column %u (the frame has %u)", (unsigned)i,
                           (unsigned)f->view.ncols);
    *len = f->view.offs[i + 1] - f->view.offs[i];
    return VIGIL_OK;
}

vigil_status vigil__tsdb_frame_get_ts(vigil__tsdb_frame *f, uint32_t i, int64_t *ts, size_t cap,
                                      size_t *n)
{
    return view_ts(&f->view, i, ts, cap, n);
}

vigil_status vigil__tsdb_frame_get_values(vigil__tsdb_frame *f, uint32_t i, double *v, size_t cap,
                                          size_t *n)
{
    return view_values(&f->view, &f->ints, i, v, cap, n);
}
