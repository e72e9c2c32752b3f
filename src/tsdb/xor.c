/* xor.c — Gorilla chunks for the head (delta-of-delta timestamps, XOR-coded values) and the same
 * value coder for sealed columns that are not decimals.
 *
 * The writer collects bits in a 64-bit window and stores it whole, so an append is a handful of
 * shifts with no per-bit loop; the window is also stored at the end of every append, so the
 * buffer is complete after each one and a reader can take it as is. The one capacity check per
 * append covers the worst case of a sample (19 bytes), so the common path neither allocates nor
 * checks again. Timestamp buckets are tuned for millisecond scrapes:
 * a jitter of a few milliseconds costs 9 bits (Prometheus's smallest bucket costs 16).
 *
 * The reader checks every read against the stream length and reports truncation instead of
 * reading past the end, because chunk bytes may come back from disk. */
#include "tsdb/xor.h"

#include <string.h>

#include "core/core_int.h"

#define DEFAULT_HINT 120u

/* --- bit stream primitives ------------------------------------------------------------------ */

static inline uint64_t load_be64(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, 8);
    return __builtin_bswap64(w);
}

static inline void store_be64(uint8_t *p, uint64_t w)
{
    w = __builtin_bswap64(w);
    memcpy(p, &w, 8);
}

/* Bits collect in acc, a big-endian window whose first byte is s[byte]; full bytes are
 * committed when the window fills. Nothing is read back from memory, so no store has to be
 * forwarded to a later load at an overlapping address (which stalls). */
typedef struct writer {
    uint8_t *s;    /* start of the bit stream; zero past the written bits, 8 bytes of slack */
    size_t byte;   /* where acc goes */
    uint64_t acc;  /* the bits from s[byte] on, left-aligned */
    unsigned fill; /* bits in acc */
} writer;

/* Stores the window (its tail is zeros) and moves past its full bytes. */
static inline void commit(writer *w)
{
    store_be64(w->s + w->byte, w->acc);
    unsigned full = w->fill >> 3;
    w->byte += full;
    w->acc = full == 8 ? 0 : w->acc << (8 * full);
    w->fill &= 7;
}

/* n in 1..57 and bits < 2^n. */
static inline void put(writer *w, uint64_t bits, unsigned n)
{
    if (n > 64 - w->fill)
        commit(w); /* leaves at most 7 bits, so room for 57 */
    w->acc |= bits << (64 - w->fill - n);
    w->fill += n;
}

/* n in 1..64. */
static inline void put64(writer *w, uint64_t bits, unsigned n)
{
    if (n > 32) {
        put(w, bits >> 32, n - 32);
        bits &= 0xffffffffu;
        n = 32;
    }
    put(w, bits, n);
}

static inline uint64_t written_bits(const writer *w)
{
    return (uint64_t)w->byte * 8 + w->fill;
}

typedef struct reader {
    const uint8_t *p;
    size_t len; /* bytes */
    uint64_t bitpos;
    bool err;
} reader;

/* The next 64 bits from bitpos (zeros past the end); callers check the length separately. */
static inline uint64_t window(const reader *r)
{
    size_t byte = (size_t)(r->bitpos >> 3);
    uint64_t w;
    if (VIGIL_LIKELY(byte + 8 <= r->len)) {
        w = load_be64(r->p + byte);
    } else {
        uint8_t tmp[8] = {0};
        if (byte < r->len)
            memcpy(tmp, r->p + byte, r->len - byte);
        w = load_be64(tmp);
    }
    return w << (r->bitpos & 7);
}

static inline bool has(reader *r, unsigned n)
{
    if (VIGIL_LIKELY(r->bitpos + n <= (uint64_t)r->len * 8))
        return true;
    r->err = true;
    return false;
}

/* n in 1..57. */
static inline uint64_t get(reader *r, unsigned n)
{
    if (!has(r, n))
        return 0;
    uint64_t v = window(r) >> (64 - n);
    r->bitpos += n;
    return v;
}

/* n in 1..64. */
static inline uint64_t get64(reader *r, unsigned n)
{
    if (n > 32) {
        uint64_t hi = get(r, n - 32);
        return (hi << 32) | get(r, 32);
    }
    return get(r, n);
}

/* --- values: Gorilla's XOR coding ----------------------------------------------------------- */

typedef struct xorstate {
    uint64_t v;
    uint8_t leading; /* 0xff: no window yet */
    uint8_t trailing;
} xorstate;

/* '0': same bits; '10': the XOR fits the last window, meaningful bits follow; '11': a new
 * window, 5 bits of leading zeros (capped at 31), 6 bits of (meaningful bits - 1), the bits. */
static inline void put_value(writer *w, xorstate *st, uint64_t vb)
{
    uint64_t x = vb ^ st->v;
    st->v = vb;
    if (x == 0) {
        put(w, 0, 1);
        return;
    }
    unsigned lz = (unsigned)__builtin_clzll(x);
    unsigned tz = (unsigned)__builtin_ctzll(x);
    if (lz > 31)
        lz = 31;
    if (st->leading != 0xff && lz >= st->leading && tz >= st->trailing) {
        unsigned sig = 64u - st->leading - st->trailing;
        if (sig <= 55) {
            put(w, (2ull << sig) | (x >> st->trailing), sig + 2);
        } else {
            put(w, 2, 2);
            put64(w, x >> st->trailing, sig);
        }
        return;
    }
    unsigned sig = 64u - lz - tz;
    put(w, (3ull << 11) | ((uint64_t)lz << 6) | (sig - 1), 13);
    put64(w, x >> tz, sig);
    st->leading = (uint8_t)lz;
    st->trailing = (uint8_t)tz;
}

static inline uint64_t get_value(reader *r, xorstate *st)
{
    if (!has(r, 1))
        return st->v;
    uint64_t ctl = window(r) >> 62;
    if (ctl < 2) {
        r->bitpos += 1;
        return st->v;
    }
    if (!has(r, 2))
        return st->v;
    r->bitpos += 2;
    unsigned lead, sig;
    if (ctl == 2) {
        if (st->leading == 0xff) {
            r->err = true; /* '10' before any window: not something the writer produces */
            return st->v;
        }
        lead = st->leading;
        sig = 64u - st->leading - st->trailing;
    } else {
        uint64_t h = get(r, 11);
        lead = (unsigned)(h >> 6);
        sig = (unsigned)(h & 63) + 1;
        if (lead + sig > 64) {
            r->err = true;
            return st->v;
        }
        st->leading = (uint8_t)lead;
        st->trailing = (uint8_t)(64 - lead - sig);
    }
    uint64_t x = get64(r, sig) << st->trailing;
    st->v ^= x;
    return st->v;
}

/* --- timestamps: delta of delta ------------------------------------------------------------- */

/* Whether dod fits an n-bit bucket, which holds -(2^(n-1) - 1) .. 2^(n-1). */
static inline bool fits(int64_t dod, unsigned n)
{
    int64_t half = (int64_t)1 << (n - 1);
    return dod >= -half + 1 && dod <= half;
}

static inline void put_dod(writer *w, int64_t dod)
{
    uint64_t u = (uint64_t)dod;
    if (dod == 0)
        put(w, 0, 1);
    else if (fits(dod, 7))
        put(w, (2ull << 7) | (u & 0x7f), 9);
    else if (fits(dod, 14))
        put(w, (6ull << 14) | (u & 0x3fff), 17);
    else if (fits(dod, 20))
        put(w, (14ull << 20) | (u & 0xfffff), 24);
    else {
        put(w, 15, 4);
        put64(w, u, 64);
    }
}

static inline int64_t bucket(reader *r, unsigned n)
{
    uint64_t u = get(r, n);
    uint64_t half = 1ull << (n - 1);
    return u > half ? (int64_t)u - ((int64_t)1 << n) : (int64_t)u;
}

static inline int64_t get_dod(reader *r)
{
    if (!has(r, 1))
        return 0;
    uint64_t ctl = window(r) >> 60; /* four control bits, zeros past the end */
    if (!(ctl & 8)) {
        r->bitpos += 1;
        return 0;
    }
    unsigned used = (ctl & 4) == 0 ? 2 : (ctl & 2) == 0 ? 3 : 4;
    if (!has(r, used))
        return 0;
    r->bitpos += used;
    if (used == 2)
        return bucket(r, 7);
    if (used == 3)
        return bucket(r, 14);
    if (!(ctl & 1))
        return bucket(r, 20);
    return (int64_t)get64(r, 64);
}

/* --- chunk appender -------------------------------------------------------------------------- */

static uint64_t dbits(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b;
}

static double bitsd(uint64_t b)
{
    double v;
    memcpy(&v, &b, 8);
    return v;
}

static void reset(vigil__tsdb_xor_chunk *c)
{
    c->byte = 0;
    c->acc = 0;
    c->fill = 0;
    c->count = 0;
    c->leading = 0xff;
    c->trailing = 0;
    c->t = 0;
    c->tdelta = 0;
    c->v = 0;
}

vigil_status vigil__tsdb_xor_init(vigil__tsdb_xor_chunk *c, size_t hint, size_t max_bytes)
{
    memset(c, 0, sizeof *c);
    if (max_bytes == 0 || max_bytes > VIGIL__TSDB_XOR_MAX_BYTES)
        max_bytes = VIGIL__TSDB_XOR_MAX_BYTES;
    if (max_bytes < VIGIL__TSDB_XOR_WORST_BYTES(1))
        return vigil__fail(VIGIL_EINVAL, "xor chunk: a cap of %zu bytes cannot hold one sample",
                           max_bytes);
    if (hint == 0)
        hint = DEFAULT_HINT;
    if (hint > VIGIL__TSDB_XOR_MAX_SAMPLES)
        hint = VIGIL__TSDB_XOR_MAX_SAMPLES;
    size_t cap = VIGIL__TSDB_XOR_HINT_BYTES(hint);
    if (cap > max_bytes)
        cap = max_bytes;
    c->buf = vigil__calloc(1, cap);
    if (c->buf == NULL)
        return vigil__fail(VIGIL_ENOMEM, "xor chunk: out of memory allocating %zu bytes", cap);
    c->cap = cap;
    c->max_cap = max_bytes;
    c->owned = true;
    reset(c);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_xor_init_buffer(vigil__tsdb_xor_chunk *c, uint8_t *buf, size_t cap)
{
    memset(c, 0, sizeof *c);
    if (buf == NULL || cap < VIGIL__TSDB_XOR_WORST_BYTES(1))
        return vigil__fail(VIGIL_EINVAL,
                           "xor chunk: a caller buffer needs at least %zu bytes, got %zu",
                           (size_t)VIGIL__TSDB_XOR_WORST_BYTES(1), buf == NULL ? 0 : cap);
    memset(buf, 0, cap);
    c->buf = buf;
    c->cap = c->max_cap = cap;
    reset(c);
    return VIGIL_OK;
}

void vigil__tsdb_xor_free(vigil__tsdb_xor_chunk *c)
{
    if (c == NULL)
        return;
    if (c->owned)
        vigil__free(c->buf);
    c->buf = NULL;
    c->cap = c->max_cap = 0;
}

static vigil_status grow(vigil__tsdb_xor_chunk *c, size_t need)
{
    if (!c->owned || need > c->max_cap)
        return vigil__fail(VIGIL_ELIMIT, "xor chunk: full at %u samples (%zu bytes, cap %zu)",
                           (unsigned)c->count, c->cap, c->max_cap);
    size_t ncap = c->cap * 2 > need ? c->cap * 2 : need;
    if (ncap > c->max_cap)
        ncap = c->max_cap;
    uint8_t *nb = vigil__realloc(c->buf, ncap);
    if (nb == NULL)
        return vigil__fail(VIGIL_ENOMEM, "xor chunk: out of memory growing to %zu bytes", ncap);
    memset(nb + c->cap, 0, ncap - c->cap);
    c->buf = nb;
    c->cap = ncap;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_xor_append(vigil__tsdb_xor_chunk *c, int64_t t, double v)
{
    if (VIGIL_UNLIKELY(c->count == VIGIL__TSDB_XOR_MAX_SAMPLES))
        return vigil__fail(VIGIL_ELIMIT, "xor chunk: %u samples is the most a chunk holds",
                           VIGIL__TSDB_XOR_MAX_SAMPLES);
    size_t need =
        VIGIL__TSDB_XOR_HEADER + c->byte + VIGIL__TSDB_XOR_MAX_SAMPLE_BYTES + VIGIL__TSDB_XOR_SLACK;
    if (VIGIL_UNLIKELY(need > c->cap)) {
        vigil_status st = grow(c, need);
        if (st != VIGIL_OK)
            return st;
    }
    writer w = {c->buf + VIGIL__TSDB_XOR_HEADER, c->byte, c->acc, c->fill};
    uint64_t vb = dbits(v);
    if (c->count == 0) {
        put64(&w, (uint64_t)t, 64);
        put64(&w, vb, 64);
        c->v = vb;
    } else {
        uint64_t delta = (uint64_t)t - (uint64_t)c->t;
        put_dod(&w, (int64_t)(delta - c->tdelta));
        c->tdelta = delta;
        xorstate st = {c->v, c->leading, c->trailing};
        put_value(&w, &st, vb);
        c->v = st.v;
        c->leading = st.leading;
        c->trailing = st.trailing;
    }
    store_be64(w.s + w.byte, w.acc); /* the buffer holds every bit after every append */
    c->t = t;
    c->byte = w.byte;
    c->acc = w.acc;
    c->fill = (uint8_t)w.fill;
    c->count++;
    c->buf[0] = (uint8_t)(c->count >> 8);
    c->buf[1] = (uint8_t)c->count;
    return VIGIL_OK;
}

const uint8_t *vigil__tsdb_xor_bytes(const vigil__tsdb_xor_chunk *c, size_t *len)
{
    *len = VIGIL__TSDB_XOR_HEADER + c->byte + (c->fill + 7u) / 8;
    return c->buf;
}

/* --- chunk iterator -------------------------------------------------------------------------- */

vigil_status vigil__tsdb_xor_iter_init(vigil__tsdb_xor_iter *it, const uint8_t *bytes, size_t len)
{
    memset(it, 0, sizeof *it);
    if (bytes == NULL)
        return vigil__fail(VIGIL_EINVAL, "xor chunk: NULL bytes");
    if (len < VIGIL__TSDB_XOR_HEADER)
        return vigil__fail(VIGIL_ECORRUPT, "xor chunk: %zu bytes cannot hold the 2-byte header",
                           len);
    it->count = ((uint32_t)bytes[0] << 8) | bytes[1];
    it->p = bytes + VIGIL__TSDB_XOR_HEADER;
    it->len = len - VIGIL__TSDB_XOR_HEADER;
    it->leading = 0xff;
    return VIGIL_OK;
}

bool vigil__tsdb_xor_iter_next(vigil__tsdb_xor_iter *it, int64_t *t, double *v)
{
    if (it->i >= it->count || it->err)
        return false;
    reader r = {it->p, it->len, it->bitpos, false};
    xorstate st = {it->v, it->leading, it->trailing};
    if (it->i == 0) {
        it->t = (int64_t)get64(&r, 64);
        st.v = get64(&r, 64);
    } else {
        it->tdelta += (uint64_t)get_dod(&r);
        it->t = (int64_t)((uint64_t)it->t + it->tdelta);
        get_value(&r, &st);
    }
    if (r.err) {
        it->err = true;
        return false;
    }
    it->bitpos = r.bitpos;
    it->v = st.v;
    it->leading = st.leading;
    it->trailing = st.trailing;
    it->i++;
    *t = it->t;
    *v = bitsd(st.v);
    return true;
}

vigil_status vigil__tsdb_xor_iter_status(const vigil__tsdb_xor_iter *it)
{
    if (it->err)
        return vigil__fail(VIGIL_ECORRUPT,
                           "xor chunk: corrupt or truncated after %u of %u samples (%zu bytes)",
                           (unsigned)it->i, (unsigned)it->count, it->len);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_xor_decode(const uint8_t *bytes, size_t len, int64_t *t, double *v,
                                    size_t cap, size_t *n)
{
    vigil__tsdb_xor_iter it;
    vigil_status st = vigil__tsdb_xor_iter_init(&it, bytes, len);
    *n = 0;
    if (st != VIGIL_OK)
        return st;
    if (it.count > cap)
        return vigil__fail(VIGIL_ELIMIT, "xor chunk: %u samples do not fit %zu entries",
                           (unsigned)it.count, cap);
    if (it.count == 0)
        return VIGIL_OK;
    reader r = {it.p, it.len, 0, false};
    xorstate xs = {0, 0xff, 0};
    int64_t tt = (int64_t)get64(&r, 64);
    uint64_t delta = 0;
    xs.v = get64(&r, 64);
    t[0] = tt;
    v[0] = bitsd(xs.v);
    for (uint32_t i = 1; i < it.count && !r.err; i++) {
        delta += (uint64_t)get_dod(&r);
        tt = (int64_t)((uint64_t)tt + delta);
        t[i] = tt;
        v[i] = bitsd(get_value(&r, &xs));
    }
    if (r.err)
        return vigil__fail(VIGIL_ECORRUPT,
                           "xor chunk: corrupt or truncated (%u samples in %zu bytes)",
                           (unsigned)it.count, it.len);
    *n = it.count;
    return VIGIL_OK;
}

/* --- values alone (sealed columns) ----------------------------------------------------------- */

vigil_status vigil__tsdb_xor_values_encode(const double *v, size_t n, vigil_buffer *out)
{
    if (n == 0)
        return VIGIL_OK;
    if (n > (SIZE_MAX - 16) / 10)
        return vigil__fail(VIGIL_EINVAL, "xor values: %zu values is too many", n);
    size_t worst = 8 + ((n - 1) * 77 + 7) / 8 + VIGIL__TSDB_XOR_SLACK;
    char *p;
    vigil_status st = vigil__buf_reserve(out, worst, &p);
    if (st != VIGIL_OK)
        return st;
    memset(p, 0, worst);
    writer w = {(uint8_t *)p, 0, 0, 0};
    xorstate xs = {dbits(v[0]), 0xff, 0};
    put64(&w, xs.v, 64);
    for (size_t i = 1; i < n; i++)
        put_value(&w, &xs, dbits(v[i]));
    store_be64(w.s + w.byte, w.acc);
    out->len += (size_t)((written_bits(&w) + 7) >> 3);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_xor_values_decode(const uint8_t *p, size_t len, double *v, size_t n)
{
    if (n == 0)
        return VIGIL_OK;
    reader r = {p, len, 0, false};
    xorstate xs = {get64(&r, 64), 0xff, 0};
    v[0] = bitsd(xs.v);
    for (size_t i = 1; i < n && !r.err; i++)
        v[i] = bitsd(get_value(&r, &xs));
    if (r.err)
        return vigil__fail(VIGIL_ECORRUPT, "xor values: %zu bytes do not hold %zu values", len, n);
    return VIGIL_OK;
}
