/* blocktab.c — a sealed block's series table (blocktab.h; layout in docs/formats.md, "Series
 * table"): built series by series while a block is sealed, decoded once when a block is loaded.
 *
 * The table is written as sections (timestamp columns, frame sizes, each series' timestamp
 * column, each series' value-column offset, the label sets) rather than record by record: the
 * block compresses the table with zstd, and runs of like numbers (a scrape target's series all
 * naming the same timestamp column, offsets that are nearly all 0) compress to almost nothing
 * when they sit together.
 *
 * The decoder trusts nothing: every count is checked against the block header's figures before it
 * sizes anything, and every series must fall inside the block's range.
 */
#include "blocktab.h"

#include <string.h>

#include "column.h"
#include "core/core_int.h"

/* ---- writing -------------------------------------------------------------------------------- */

static vigil_status put_uvarint(vigil_buffer *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    return vigil_buffer_append(b, tmp, n);
}

void vigil__tsdb_blocktab_init(vigil__tsdb_blocktab *t, int64_t mint, size_t cap)
{
    memset(t, 0, sizeof *t);
    vigil_buffer_init(&t->tscols, cap);
    vigil_buffer_init(&t->frames, cap);
    vigil_buffer_init(&t->ts_refs, cap);
    vigil_buffer_init(&t->col_back, cap);
    vigil_buffer_init(&t->labels, cap);
    t->mint = mint;
}

void vigil__tsdb_blocktab_free(vigil__tsdb_blocktab *t)
{
    vigil_buffer_free(&t->tscols);
    vigil_buffer_free(&t->frames);
    vigil_buffer_free(&t->ts_refs);
    vigil_buffer_free(&t->col_back);
    vigil_buffer_free(&t->labels);
}

vigil_status vigil__tsdb_blocktab_add_ts(vigil__tsdb_blocktab *t, uint32_t count, int64_t first,
                                         int64_t last)
{
    if (count == 0 || first < t->mint || last < first)
        return vigil__fail(VIGIL_EINVAL,
                           "block series table: bad timestamp column (%u samples, "
                           "%lld to %lld)",
                           count, (long long)first, (long long)last);
    vigil_status st = put_uvarint(&t->tscols, count);
    if (st == VIGIL_OK)
        st = put_uvarint(&t->tscols, (uint64_t)first - (uint64_t)t->mint);
    if (st == VIGIL_OK)
        st = put_uvarint(&t->tscols, (uint64_t)last - (uint64_t)first);
    if (st == VIGIL_OK)
        t->nts++;
    return st;
}

static vigil_status put_labels(vigil_buffer *b, const vigil__tsdb_labels *ls)
{
    vigil_status st = put_uvarint(b, ls->n);
    for (uint32_t i = 0; st == VIGIL_OK && i < ls->n; i++) {
        st = vigil_buffer_append(b, ls->l[i].name, strlen(ls->l[i].name) + 1);
        if (st == VIGIL_OK)
            st = vigil_buffer_append(b, ls->l[i].value, strlen(ls->l[i].value) + 1);
    }
    return st;
}

vigil_status vigil__tsdb_blocktab_add_series(vigil__tsdb_blocktab *t, uint32_t ts_column,
                                             uint32_t column, const vigil__tsdb_labels *ls)
{
    if (ts_column >= t->nts || column > t->in_frame)
        return vigil__fail(VIGIL_EINVAL,
                           "block series table: series %u names timestamp column "
                           "%u of %u, value column %u at position %u",
                           t->nseries, ts_column, t->nts, column, t->in_frame);
    vigil_status st = put_uvarint(&t->ts_refs, ts_column);
    if (st == VIGIL_OK)
        st = put_uvarint(&t->col_back, t->in_frame - column);
    if (st == VIGIL_OK)
        st = put_labels(&t->labels, ls);
    if (st == VIGIL_OK) {
        t->in_frame++;
        t->nseries++;
    }
    return st;
}

vigil_status vigil__tsdb_blocktab_end_frame(vigil__tsdb_blocktab *t)
{
    if (t->in_frame == 0)
        return VIGIL_OK;
    vigil_status st = put_uvarint(&t->frames, t->in_frame);
    if (st == VIGIL_OK) {
        t->nframes++;
        t->in_frame = 0;
    }
    return st;
}

vigil_status vigil__tsdb_blocktab_finish(const vigil__tsdb_blocktab *t, vigil_buffer *out)
{
    if (t->in_frame)
        return vigil__fail(VIGIL_EINVAL, "block series table: the last frame was not ended");
    const vigil_buffer *parts[] = {&t->tscols, &t->frames, &t->ts_refs, &t->col_back, &t->labels};
    vigil_status st = put_uvarint(out, t->nts);
    for (size_t i = 0; st == VIGIL_OK && i < sizeof parts / sizeof *parts; i++)
        st = vigil_buffer_append(out, parts[i]->data, parts[i]->len);
    return st;
}

vigil_status vigil__tsdb_blocktab_mark_shared(vigil__tsdb_block_series *e, uint32_t n)
{
    uint32_t top = 0;
    for (uint32_t i = 0; i < n; i++)
        top = e[i].column > top ? e[i].column : top;
    uint8_t *uses = vigil__calloc((size_t)top + 1, 1);
    if (uses == NULL)
        return vigil__fail(VIGIL_ENOMEM, "block series table (%u columns)", top + 1);
    for (uint32_t i = 0, first = 0; i < n; i++) {
        if (i > 0 && e[i].frame != e[i - 1].frame) {
            for (uint32_t j = first; j < i; j++)
                uses[e[j].column] = 0;
            first = i;
        }
        if (uses[e[i].column] < 2)
            uses[e[i].column]++;
        if (i + 1 == n || e[i + 1].frame != e[i].frame)
            for (uint32_t j = first; j <= i; j++)
                e[j].shared = uses[e[j].column] > 1;
    }
    vigil__free(uses);
    return VIGIL_OK;
}

/* ---- reading -------------------------------------------------------------------------------- */

typedef struct reader {
    const uint8_t *p, *end;
} reader;

static vigil_status bad(const char *what)
{
    return vigil__fail(VIGIL_ECORRUPT, "series table: %s", what);
}

/* The next uvarint, at most max; false when it is missing, overlong or above max. */
static bool get_uvarint(reader *r, uint64_t max, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && r->p < r->end; shift += 7) {
        uint8_t b = *r->p++;
        if (shift == 63 && b > 1)
            return false;
        x |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *v = x;
            return x <= max;
        }
    }
    return false;
}

/* The next NUL-terminated string; false when the table ends first. */
static bool get_string(reader *r, const char **s)
{
    const uint8_t *nul = memchr(r->p, 0, (size_t)(r->end - r->p));
    if (nul == NULL)
        return false;
    *s = (const char *)r->p;
    r->p = nul + 1;
    return true;
}

typedef struct tscol {
    uint32_t count;
    int64_t first, last;
} tscol;

static vigil_status read_tscols(reader *r, const vigil__tsdb_blocktab_expect *x, tscol *c,
                                uint32_t n)
{
    uint64_t range = (uint64_t)x->maxt - (uint64_t)x->mint; /* x->maxt > x->mint */
    for (uint32_t j = 0; j < n; j++) {
        uint64_t count, off, span;
        if (!get_uvarint(r, VIGIL__TSDB_COLUMN_MAX_SAMPLES, &count) || count == 0 ||
            !get_uvarint(r, range - 1, &off) || !get_uvarint(r, range - 1 - off, &span) ||
            count - 1 > span || (count == 1 && span != 0))
            return bad("timestamp column out of the block's range");
        c[j] = (tscol){(uint32_t)count, (int64_t)((uint64_t)x->mint + off),
                       (int64_t)((uint64_t)x->mint + off + span)};
    }
    return VIGIL_OK;
}

/* Frame sizes, then each series' timestamp column and value column, into entries. */
static vigil_status read_entries(reader *r, const vigil__tsdb_blocktab_expect *x, const tscol *c,
                                 uint32_t nts, vigil__tsdb_block_series *e)
{
    uint64_t total = 0;
    for (uint32_t f = 0, i = 0; f < x->nframes; f++) {
        uint64_t k;
        if (!get_uvarint(r, x->nseries - total, &k) || k == 0)
            return bad("frame sizes do not add up to the series count");
        for (uint32_t slot = 0; slot < k; slot++, i++)
            e[i] = (vigil__tsdb_block_series){0, f, slot, 0, 0, false, 0, 0};
        total += k;
    }
    if (total != x->nseries)
        return bad("frame sizes do not add up to the series count");
    uint64_t samples = 0;
    for (uint32_t i = 0; i < x->nseries; i++) {
        uint64_t ts;
        if (!get_uvarint(r, nts - 1, &ts))
            return bad("timestamp column out of range");
        e[i].ts_column = (uint32_t)ts;
        e[i].count = c[ts].count;
        e[i].mint = c[ts].first;
        e[i].maxt = c[ts].last;
        samples += c[ts].count;
    }
    if (samples != x->samples)
        return bad("series counts do not add up to the block's samples");
    for (uint32_t i = 0; i < x->nseries; i++) {
        uint64_t back;
        if (!get_uvarint(r, e[i].column, &back))
            return bad("value column out of range");
        e[i].column -= (uint32_t)back;
    }
    return VIGIL_OK;
}

static vigil_status read_labels(reader *r, uint32_t nseries, vigil__tsdb_blocktab_labels_fn fn,
                                void *user)
{
    vigil_label pairs[VIGIL__TSDB_LABELS_MAX];
    for (uint32_t i = 0; i < nseries; i++) {
        uint64_t n;
        if (!get_uvarint(r, VIGIL__TSDB_LABELS_MAX, &n) || n == 0)
            return bad("label count out of range");
        for (uint64_t k = 0; k < n; k++)
            if (!get_string(r, &pairs[k].name) || !get_string(r, &pairs[k].value))
                return bad("label set truncated");
        vigil_status st = fn(user, i, pairs, (size_t)n);
        if (st != VIGIL_OK)
            return st;
    }
    return VIGIL_OK;
}

vigil_status vigil__tsdb_blocktab_decode(const uint8_t *p, size_t len,
                                         const vigil__tsdb_blocktab_expect *x,
                                         vigil__tsdb_block_series *entries,
                                         vigil__tsdb_blocktab_labels_fn fn, void *user)
{
    reader r = {p, p + len};
    uint64_t nts;
    if (x->maxt <= x->mint || x->nseries == 0 || x->nframes == 0 || x->nframes > x->nseries)
        return bad("block header figures out of range");
    if (!get_uvarint(&r, x->nseries, &nts) || nts == 0)
        return bad("timestamp column count out of range");
    tscol *c = vigil__malloc(nts * sizeof *c);
    if (c == NULL)
        return vigil__fail(VIGIL_ENOMEM, "series table of %llu timestamp columns",
                           (unsigned long long)nts);
    vigil_status st = read_tscols(&r, x, c, (uint32_t)nts);
    if (st == VIGIL_OK)
        st = read_entries(&r, x, c, (uint32_t)nts, entries);
    vigil__free(c);
    if (st == VIGIL_OK)
        st = read_labels(&r, x->nseries, fn, user);
    if (st == VIGIL_OK && r.p != r.end)
        st = bad("trailing bytes");
    return st;
}
