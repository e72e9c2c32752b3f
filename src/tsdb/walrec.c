/* walrec.c — encoders and decoders of the WAL record payloads (series and samples).
 *
 * Both are varint streams. References are coded as deltas from the previous entry, because the
 * head hands out references in creation order and a scrape writes its series in that order, so
 * a delta is usually one byte. Sample times are deltas from the batch's first time: one scrape
 * shares one timestamp, so those are one byte too. Values are the raw 8 bytes of the double,
 * not XOR-coded against the series' previous value: that would need per-series state on both
 * sides, and replay would then depend on every earlier record surviving. Compression is the
 * head's chunks' job; the WAL lives for minutes and has to be fast and self-contained.
 *
 * The sample encoder reserves the worst case once and then writes without bounds checks; the
 * decoder checks every byte against the end, with a one-byte fast path for the common varint. */
#include <string.h>

#include "core/core_int.h"
#include "tsdb/walrec.h"

#define FORMAT_VERSION 1
#define STRING_MAX ((size_t)1 << 20)  /* longest label name or value */
#define PAYLOAD_MAX ((size_t)1 << 30) /* keeps the decoders' size arithmetic far from overflow */
#define UVARINT_MAX 10
#define SAMPLE_MAX (5 + UVARINT_MAX + 8) /* a reference delta needs at most 5 bytes */

/* ---- varints --------------------------------------------------------------------------------- */

static inline uint64_t zigzag(int64_t x)
{
    return ((uint64_t)x << 1) ^ -((uint64_t)x >> 63);
}

static inline int64_t unzigzag(uint64_t u)
{
    return (int64_t)((u >> 1) ^ -(u & 1));
}

static inline uint8_t *put_uvarint(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static inline size_t uvarint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint8_t *put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
    return p + 8;
}

static inline uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Reads a varint of at most 64 bits; false when it runs past end or overflows. */
static inline bool get_uvarint(const uint8_t **pp, const uint8_t *end, uint64_t *v)
{
    const uint8_t *p = *pp;
    if (VIGIL_LIKELY(p < end && *p < 0x80)) {
        *v = *p;
        *pp = p + 1;
        return true;
    }
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        if (p == end)
            return false;
        uint8_t b = *p++;
        if (shift == 63 && b > 1)
            return false;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            *pp = p;
            return true;
        }
    }
    return false;
}

/* prev + the zigzag delta u, as a reference; false when it leaves uint32_t. */
static inline bool apply_ref_delta(uint32_t prev, uint64_t u, uint32_t *ref)
{
    int64_t d = unzigzag(u);
    if (d < -(int64_t)UINT32_MAX || d > (int64_t)UINT32_MAX)
        return false;
    int64_t r = (int64_t)prev + d;
    if (r < 0 || r > (int64_t)UINT32_MAX)
        return false;
    *ref = (uint32_t)r;
    return true;
}

static inline uint64_t ref_delta(uint32_t prev, uint32_t ref)
{
    return zigzag((int64_t)ref - (int64_t)prev);
}

/* Payload start: version byte and entry count. */
static vigil_status read_head(const char *what, const uint8_t **p, const uint8_t *end,
                              uint64_t *count)
{
    const uint8_t *start = *p;
    if ((size_t)(end - start) > PAYLOAD_MAX)
        return vigil__fail(VIGIL_ECORRUPT, "%s record: %zu bytes is over the limit", what,
                           (size_t)(end - start));
    if (start == end)
        return vigil__fail(VIGIL_ECORRUPT, "%s record: empty payload", what);
    if (*start != FORMAT_VERSION)
        return vigil__fail(VIGIL_ECORRUPT, "%s record: unknown format version %u", what, *start);
    (*p)++;
    if (!get_uvarint(p, end, count))
        return vigil__fail(VIGIL_ECORRUPT, "%s record: truncated count", what);
    return VIGIL_OK;
}

/* ---- series ---------------------------------------------------------------------------------- */

static vigil_status series_size(const vigil__tsdb_walrec_series *s, size_t n, size_t *out)
{
    size_t size = 1 + uvarint_size(n);
    uint32_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].nlabels == 0 || s[i].labels == NULL)
            return vigil__fail(VIGIL_EINVAL, "series record: series ref %u has no labels",
                               s[i].ref);
        size += uvarint_size(ref_delta(prev, s[i].ref)) + uvarint_size(s[i].nlabels);
        prev = s[i].ref;
        for (uint32_t j = 0; j < s[i].nlabels; j++) {
            const vigil_label *l = &s[i].labels[j];
            if (l->name == NULL || l->value == NULL || l->name[0] == '\0')
                return vigil__fail(VIGIL_EINVAL,
                                   "series record: series ref %u, label %u: empty or NULL",
                                   s[i].ref, j);
            size_t nl = strlen(l->name), vl = strlen(l->value);
            if (nl > STRING_MAX || vl > STRING_MAX)
                return vigil__fail(VIGIL_EINVAL,
                                   "series record: series ref %u, label %s: over %zu bytes",
                                   s[i].ref, l->name, STRING_MAX);
            size += uvarint_size(nl) + nl + uvarint_size(vl) + vl;
        }
        if (size > PAYLOAD_MAX)
            return vigil__fail(VIGIL_ELIMIT, "series record: batch over %zu bytes", PAYLOAD_MAX);
    }
    *out = size;
    return VIGIL_OK;
}

static uint8_t *put_string(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p = put_uvarint(p, n);
    memcpy(p, s, n);
    return p + n;
}

vigil_status vigil__tsdb_walrec_series_encode(vigil_buffer *out, const vigil__tsdb_walrec_series *s,
                                              size_t n)
{
    if (out == NULL || (s == NULL && n > 0))
        return vigil__fail(VIGIL_EINVAL, "series record: NULL argument");
    size_t size = 0;
    vigil_status st = series_size(s, n, &size);
    if (st != VIGIL_OK)
        return st;
    char *w;
    if ((st = vigil__buf_reserve(out, size, &w)) != VIGIL_OK)
        return st;
    uint8_t *p = (uint8_t *)w;
    *p++ = FORMAT_VERSION;
    p = put_uvarint(p, n);
    uint32_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        p = put_uvarint(p, ref_delta(prev, s[i].ref));
        prev = s[i].ref;
        p = put_uvarint(p, s[i].nlabels);
        for (uint32_t j = 0; j < s[i].nlabels; j++) {
            p = put_string(p, s[i].labels[j].name);
            p = put_string(p, s[i].labels[j].value);
        }
    }
    out->len += (size_t)(p - (uint8_t *)w);
    return VIGIL_OK;
}

/* Walks a series payload. Without a destination it only validates and counts; with one it
 * fills the series, labels and string copies (the payload was validated by the first walk). */
typedef struct series_walk {
    size_t nseries;
    size_t nlabels;
    size_t nbytes; /* string bytes, NULs included */
    vigil__tsdb_walrec_series *series;
    vigil_label *labels;
    char *strings;
} series_walk;

static bool read_string(const uint8_t **p, const uint8_t *end, series_walk *w, bool name,
                        const char **dst)
{
    uint64_t n;
    if (!get_uvarint(p, end, &n) || n > STRING_MAX || n > (uint64_t)(end - *p))
        return false;
    if ((name && n == 0) || memchr(*p, '\0', (size_t)n) != NULL)
        return false;
    if (w->strings != NULL) {
        char *s = w->strings + w->nbytes;
        memcpy(s, *p, (size_t)n);
        s[n] = '\0';
        *dst = s;
    }
    w->nbytes += (size_t)n + 1;
    *p += n;
    return true;
}

static vigil_status walk_series(const uint8_t *start, const uint8_t *end, series_walk *w)
{
    const uint8_t *p = start;
    uint64_t count;
    vigil_status st = read_head("series", &p, end, &count);
    if (st != VIGIL_OK)
        return st;
    if (count > (uint64_t)(end - p) / 4) /* an entry takes at least 4 bytes */
        return vigil__fail(VIGIL_ECORRUPT, "series record: count %llu cannot fit in %zu bytes",
                           (unsigned long long)count, (size_t)(end - start));
    uint32_t prev = 0;
    w->nseries = w->nlabels = w->nbytes = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t u, nl;
        uint32_t ref;
        size_t at = (size_t)(p - start);
        if (!get_uvarint(&p, end, &u) || !apply_ref_delta(prev, u, &ref))
            return vigil__fail(VIGIL_ECORRUPT, "series record: bad reference at byte %zu", at);
        if (!get_uvarint(&p, end, &nl) || nl == 0 || nl > (uint64_t)(end - p) / 3)
            return vigil__fail(VIGIL_ECORRUPT, "series record: bad label count at byte %zu", at);
        prev = ref;
        vigil_label *labels = w->labels != NULL ? w->labels + w->nlabels : NULL;
        for (uint64_t j = 0; j < nl; j++) {
            const char *name = NULL, *value = NULL;
            if (!read_string(&p, end, w, true, &name) || !read_string(&p, end, w, false, &value))
                return vigil__fail(
                    VIGIL_ECORRUPT, "series record: bad label %llu of series %llu (byte %zu)",
                    (unsigned long long)j, (unsigned long long)i, (size_t)(p - start));
            if (labels != NULL)
                labels[j] = (vigil_label){name, value};
        }
        if (w->series != NULL)
            w->series[i] = (vigil__tsdb_walrec_series){ref, (uint32_t)nl, labels};
        w->nlabels += (size_t)nl;
        w->nseries++;
    }
    if (p != end)
        return vigil__fail(VIGIL_ECORRUPT, "series record: %zu trailing bytes", (size_t)(end - p));
    return VIGIL_OK;
}

vigil_status vigil__tsdb_walrec_series_decode(const uint8_t *p, size_t len,
                                              vigil__tsdb_walrec_series_batch *out)
{
    if (out == NULL || (p == NULL && len > 0))
        return vigil__fail(VIGIL_EINVAL, "series record: NULL argument");
    memset(out, 0, sizeof *out);
    series_walk w = {0};
    vigil_status st = walk_series(p, p + len, &w);
    if (st != VIGIL_OK)
        return st;
    /* Every count is bounded by the payload length, so the allocation is too. */
    size_t series_bytes = w.nseries * sizeof *w.series;
    size_t label_bytes = w.nlabels * sizeof *w.labels;
    char *mem = vigil__malloc(series_bytes + label_bytes + w.nbytes + 1);
    if (mem == NULL)
        return vigil__fail(VIGIL_ENOMEM, "series record: %zu series", w.nseries);
    w.series = (vigil__tsdb_walrec_series *)(void *)mem;
    w.labels = (vigil_label *)(void *)(mem + series_bytes);
    w.strings = mem + series_bytes + label_bytes;
    if ((st = walk_series(p, p + len, &w)) != VIGIL_OK) {
        vigil__free(mem);
        return st;
    }
    out->series = w.series;
    out->n = w.nseries;
    out->mem = mem;
    return VIGIL_OK;
}

void vigil__tsdb_walrec_series_batch_free(vigil__tsdb_walrec_series_batch *b)
{
    if (b == NULL)
        return;
    vigil__free(b->mem);
    memset(b, 0, sizeof *b);
}

/* ---- samples --------------------------------------------------------------------------------- */

size_t vigil__tsdb_walrec_samples_bound(size_t n)
{
    return 1 + 2 * UVARINT_MAX + n * SAMPLE_MAX;
}

vigil_status vigil__tsdb_walrec_samples_encode(vigil_buffer *out,
                                               const vigil__tsdb_walrec_sample *s, size_t n)
{
    if (out == NULL || (s == NULL && n > 0))
        return vigil__fail(VIGIL_EINVAL, "samples record: NULL argument");
    if (n > (PAYLOAD_MAX - 1 - 2 * UVARINT_MAX) / SAMPLE_MAX)
        return vigil__fail(VIGIL_ELIMIT, "samples record: %zu samples in one batch", n);
    char *w;
    vigil_status st = vigil__buf_reserve(out, vigil__tsdb_walrec_samples_bound(n), &w);
    if (st != VIGIL_OK)
        return st;
    uint8_t *p = (uint8_t *)w;
    *p++ = FORMAT_VERSION;
    p = put_uvarint(p, n);
    if (n > 0) {
        const int64_t t0 = s[0].t;
        uint32_t prev = 0;
        p = put_uvarint(p, zigzag(t0));
        for (size_t i = 0; i < n; i++) {
            uint64_t bits;
            memcpy(&bits, &s[i].v, sizeof bits);
            p = put_uvarint(p, ref_delta(prev, s[i].ref));
            /* Unsigned difference: wraps for extreme times and wraps back on decoding. */
            p = put_uvarint(p, zigzag((int64_t)((uint64_t)s[i].t - (uint64_t)t0)));
            p = put_u64(p, bits);
            prev = s[i].ref;
        }
    }
    out->len += (size_t)(p - (uint8_t *)w);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_walrec_samples_count(const uint8_t *p, size_t len, size_t *n)
{
    if (n == NULL || (p == NULL && len > 0))
        return vigil__fail(VIGIL_EINVAL, "samples record: NULL argument");
    *n = 0;
    const uint8_t *q = p, *end = p + len;
    uint64_t count;
    vigil_status st = read_head("samples", &q, end, &count);
    if (st != VIGIL_OK)
        return st;
    if (count > (uint64_t)(end - q) / 10) /* a sample takes at least 1 + 1 + 8 bytes */
        return vigil__fail(VIGIL_ECORRUPT, "samples record: count %llu cannot fit in %zu bytes",
                           (unsigned long long)count, len);
    *n = (size_t)count;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_walrec_samples_decode(const uint8_t *p, size_t len,
                                               vigil__tsdb_walrec_sample *out, size_t cap,
                                               size_t *n)
{
    if (n == NULL || (out == NULL && cap > 0))
        return vigil__fail(VIGIL_EINVAL, "samples record: NULL argument");
    size_t count;
    vigil_status st = vigil__tsdb_walrec_samples_count(p, len, &count);
    *n = 0;
    if (st != VIGIL_OK)
        return st;
    if (count > cap)
        return vigil__fail(VIGIL_ELIMIT, "samples record: %zu samples, room for %zu", count, cap);
    const uint8_t *q = p + 1, *end = p + len;
    uint64_t u;
    get_uvarint(&q, end, &u); /* the count, validated above */
    uint64_t t0 = 0;
    if (count > 0 && !get_uvarint(&q, end, &t0))
        return vigil__fail(VIGIL_ECORRUPT, "samples record: truncated base time");
    t0 = (uint64_t)unzigzag(t0);
    uint32_t prev = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t dref, dt;
        if (VIGIL_UNLIKELY(!get_uvarint(&q, end, &dref) || !get_uvarint(&q, end, &dt) ||
                           end - q < 8))
            return vigil__fail(VIGIL_ECORRUPT, "samples record: truncated at sample %zu", i);
        if (VIGIL_UNLIKELY(!apply_ref_delta(prev, dref, &out[i].ref)))
            return vigil__fail(VIGIL_ECORRUPT,
                               "samples record: reference out of range at sample %zu", i);
        prev = out[i].ref;
        out[i].t = (int64_t)(t0 + (uint64_t)unzigzag(dt));
        uint64_t bits = get_u64(q);
        memcpy(&out[i].v, &bits, sizeof bits);
        q += 8;
    }
    if (q != end)
        return vigil__fail(VIGIL_ECORRUPT, "samples record: %zu trailing bytes", (size_t)(end - q));
    *n = count;
    return VIGIL_OK;
}
