/* head.c — a series' recent samples: one open Gorilla chunk being appended to and a list of
 * closed ones, until sealing moves them into a block.
 *
 * Appends run under db->append_mu, so a series has one writer; the series spinlock is what a
 * reader takes to copy the chunks out, and all a writer does under it is one chunk append (or a
 * chunk close), so neither side waits for long. The open chunk starts small and grows, because a
 * self-scraping store holds one open chunk per series and most series compress to a few bytes
 * per sample; a closed chunk is copied to an exact-size buffer.
 */
#include <string.h>

#include "tsdb_int.h"

/* Open chunks start with room for this many samples and grow as needed. */
#define OPEN_HINT 16

vigil_status vigil__tsdb_samples_grow(int64_t **t, double **v, size_t *cap, size_t need)
{
    if (need <= *cap)
        return VIGIL_OK;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    int64_t *nt = vigil__realloc(*t, n * sizeof *nt);
    if (!nt)
        return vigil__fail(VIGIL_ENOMEM, "sample buffer of %zu samples", n);
    *t = nt;
    double *nv = vigil__realloc(*v, n * sizeof *nv);
    if (!nv)
        return vigil__fail(VIGIL_ENOMEM, "sample buffer of %zu samples", n);
    *v = nv;
    *cap = n;
    return VIGIL_OK;
}

static vigil_status close_open_chunk(vigil_tsdb *db, vigil__tsdb_series *s)
{
    if (s->nclosed == s->capclosed) {
        /* Not realloc: a reader may be copying from the old list under the series lock, so the
         * old list is freed only once the new one has been swapped in under that lock. Only
         * this writer changes the list, so copying it outside the lock is safe. */
        uint32_t cap = s->capclosed ? s->capclosed * 2 : 4;
        vigil__tsdb_chunk *c = vigil__malloc(cap * sizeof *c);
        if (!c)
            return vigil__fail(VIGIL_ENOMEM, "head chunk list");
        if (s->nclosed)
            memcpy(c, s->closed, s->nclosed * sizeof *c);
        vigil__tsdb_series_lock(s);
        vigil__tsdb_chunk *old = s->closed;
        s->closed = c;
        s->capclosed = cap;
        vigil__tsdb_series_unlock(s);
        vigil__free(old);
    }
    size_t len;
    const uint8_t *bytes = vigil__tsdb_xor_bytes(&s->open, &len);
    uint8_t *copy = vigil__malloc(len);
    if (!copy)
        return vigil__fail(VIGIL_ENOMEM, "head chunk of %zu bytes", len);
    memcpy(copy, bytes, len);
    vigil__tsdb_chunk c = {s->open_mint, s->last_t, s->open.count, (uint32_t)len, copy};
    size_t open_cap = s->open.cap;
    vigil__tsdb_series_lock(s);
    s->closed[s->nclosed++] = c;
    vigil__tsdb_xor_free(&s->open);
    memset(&s->open, 0, sizeof s->open);
    s->open_mint = INT64_MAX;
    vigil__tsdb_series_unlock(s);
    atomic_fetch_add_explicit(&db->head_bytes, len, memory_order_relaxed);
    atomic_fetch_sub_explicit(&db->head_bytes, open_cap, memory_order_relaxed);
    return VIGIL_OK;
}

static vigil_status start_open_chunk(vigil_tsdb *db, vigil__tsdb_series *s, int64_t t)
{
    vigil__tsdb_xor_chunk c;
    vigil_status st = vigil__tsdb_xor_init(&c, OPEN_HINT,
                                           VIGIL__TSDB_XOR_WORST_BYTES(VIGIL__TSDB_CHUNK_SAMPLES));
    if (st)
        return st;
    vigil__tsdb_series_lock(s);
    s->open = c;
    s->open_mint = t;
    vigil__tsdb_series_unlock(s);
    atomic_fetch_add_explicit(&db->head_bytes, c.cap, memory_order_relaxed);
    return VIGIL_OK;
}

vigil_status vigil__tsdb_head_append(vigil_tsdb *db, vigil__tsdb_series *s, int64_t t, double v)
{
    if (t <= s->last_t || t < db->min_append_t) {
        atomic_fetch_add_explicit(&db->out_of_order, 1, memory_order_relaxed);
        return t <= s->last_t
                   ? vigil__fail(VIGIL_EORDER, "sample at %lld is not newer than the series' "
                                 "last one at %lld", (long long)t, (long long)s->last_t)
                   : vigil__fail(VIGIL_EORDER, "sample at %lld is older than the sealed data "
                                 "(appends start at %lld)", (long long)t,
                                 (long long)db->min_append_t);
    }
    vigil_status st;
    if (s->open.count >= VIGIL__TSDB_CHUNK_SAMPLES && (st = close_open_chunk(db, s)))
        return st;
    if (s->open.buf == NULL && (st = start_open_chunk(db, s, t)))
        return st;
    vigil__tsdb_series_lock(s);
    size_t before = s->open.cap;
    st = vigil__tsdb_xor_append(&s->open, t, v);
    if (st == VIGIL_OK) {
        s->last_t = t;
        s->head_samples++;
    }
    size_t after = s->open.cap;
    vigil__tsdb_series_unlock(s);
    if (st)
        return st;
    if (after != before)
        atomic_fetch_add_explicit(&db->head_bytes, after - before, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->head_samples, 1, memory_order_relaxed);
    if (t > db->head_maxt)
        __atomic_store_n(&db->head_maxt, t, __ATOMIC_RELAXED);
    if (t < db->head_first_t)
        db->head_first_t = t;
    return VIGIL_OK;
}

/* A copy of one chunk, taken under the series lock and decoded after it is released. */
typedef struct chunk_copy {
    uint8_t *bytes;
    size_t len;
} chunk_copy;

static vigil_status decode_into(const chunk_copy *c, int64_t mint, int64_t maxt, int64_t **t,
                                double **v, size_t *n, size_t *cap)
{
    vigil__tsdb_xor_iter it;
    vigil_status st = vigil__tsdb_xor_iter_init(&it, c->bytes, c->len);
    if (st)
        return st;
    st = vigil__tsdb_samples_grow(t, v, cap, *n + it.count);
    if (st)
        return st;
    int64_t ts;
    double val;
    while (vigil__tsdb_xor_iter_next(&it, &ts, &val)) {
        if (ts < mint)
            continue;
        if (ts > maxt)
            break;
        (*t)[*n] = ts;
        (*v)[(*n)++] = val;
    }
    return vigil__tsdb_xor_iter_status(&it);
}

/* Copies the chunks overlapping [mint, maxt] under the lock; a chunk's bytes are immutable once
 * closed, and the open chunk's bytes up to its count never change, so a byte copy is a
 * consistent snapshot. */
static vigil_status copy_chunks(vigil__tsdb_series *s, int64_t mint, int64_t maxt,
                                chunk_copy **out, size_t *nout)
{
    vigil__tsdb_series_lock(s);
    size_t n = 0, bytes = 0;
    for (uint32_t i = 0; i < s->nclosed; i++)
        if (s->closed[i].maxt >= mint && s->closed[i].mint <= maxt) {
            n++;
            bytes += s->closed[i].nbytes;
        }
    size_t open_len = 0;
    const uint8_t *open = NULL;
    if (s->open.count && s->open_mint <= maxt && s->last_t >= mint) {
        open = vigil__tsdb_xor_bytes(&s->open, &open_len);
        n++;
        bytes += open_len;
    }
    chunk_copy *cc = n ? vigil__malloc(n * sizeof *cc + bytes) : NULL;
    if (n && !cc) {
        vigil__tsdb_series_unlock(s);
        return vigil__fail(VIGIL_ENOMEM, "copy of %zu head chunks", n);
    }
    uint8_t *p = (uint8_t *)(cc + n);
    size_t k = 0;
    for (uint32_t i = 0; i < s->nclosed; i++) {
        const vigil__tsdb_chunk *c = &s->closed[i];
        if (c->maxt < mint || c->mint > maxt)
            continue;
        memcpy(p, c->bytes, c->nbytes);
        cc[k++] = (chunk_copy){p, c->nbytes};
        p += c->nbytes;
    }
    if (open) {
        memcpy(p, open, open_len);
        cc[k++] = (chunk_copy){p, open_len};
    }
    vigil__tsdb_series_unlock(s);
    *out = cc;
    *nout = n;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_head_read(vigil__tsdb_series *s, int64_t mint, int64_t maxt,
                                   int64_t **t, double **v, size_t *n, size_t *cap)
{
    chunk_copy *cc = NULL;
    size_t ncc = 0;
    vigil_status st = copy_chunks(s, mint, maxt, &cc, &ncc);
    for (size_t i = 0; st == VIGIL_OK && i < ncc; i++)
        st = decode_into(&cc[i], mint, maxt, t, v, n, cap);
    vigil__free(cc);
    return st;
}

/* Re-encodes the samples of bytes[0..len) at or after `below` into a fresh chunk c (whose
 * buffer the caller then owns). *kept receives their number, *first the oldest kept time. */
static vigil_status recode_from(const uint8_t *bytes, size_t len, int64_t below,
                                vigil__tsdb_xor_chunk *c, uint32_t *kept, int64_t *first)
{
    int64_t t[VIGIL__TSDB_CHUNK_SAMPLES];
    double v[VIGIL__TSDB_CHUNK_SAMPLES];
    size_t n;
    vigil_status st = vigil__tsdb_xor_decode(bytes, len, t, v, VIGIL__TSDB_CHUNK_SAMPLES, &n);
    if (st == VIGIL_OK)
        st = vigil__tsdb_xor_init(c, OPEN_HINT,
                                  VIGIL__TSDB_XOR_WORST_BYTES(VIGIL__TSDB_CHUNK_SAMPLES));
    *kept = 0;
    *first = INT64_MAX;
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        if (t[i] < below)
            continue;
        if (*kept == 0)
            *first = t[i];
        st = vigil__tsdb_xor_append(c, t[i], v[i]);
        (*kept)++;
    }
    return st;
}

/* A closed chunk straddling `below` keeps only its samples from `below` on. */
static void trim_closed(vigil__tsdb_chunk *c, int64_t below, uint64_t *samples, int64_t *bytes)
{
    vigil__tsdb_xor_chunk nc;
    uint32_t kept;
    int64_t first;
    if (recode_from(c->bytes, c->nbytes, below, &nc, &kept, &first) != VIGIL_OK) {
        vigil__tsdb_xor_free(&nc);
        return; /* out of memory: keep the whole chunk, queries still filter by time */
    }
    size_t len;
    const uint8_t *nb = vigil__tsdb_xor_bytes(&nc, &len);
    uint8_t *copy = vigil__malloc(len);
    if (copy) {
        memcpy(copy, nb, len);
        *samples += c->count - kept;
        *bytes += (int64_t)c->nbytes - (int64_t)len;
        vigil__free(c->bytes);
        *c = (vigil__tsdb_chunk){first, c->maxt, kept, (uint32_t)len, copy};
    }
    vigil__tsdb_xor_free(&nc);
}

/* The open chunk straddling `below` likewise; series lock held. */
static void trim_open(vigil__tsdb_series *s, int64_t below, uint64_t *samples, int64_t *bytes)
{
    size_t len;
    const uint8_t *ob = vigil__tsdb_xor_bytes(&s->open, &len);
    vigil__tsdb_xor_chunk nc;
    uint32_t kept;
    int64_t first;
    if (recode_from(ob, len, below, &nc, &kept, &first) != VIGIL_OK) {
        vigil__tsdb_xor_free(&nc);
        return;
    }
    *samples += s->open.count - kept;
    *bytes += (int64_t)s->open.cap - (int64_t)nc.cap;
    vigil__tsdb_xor_free(&s->open);
    s->open = nc;
    s->open_mint = first;
}

/* append_mu held: nothing else changes the series' chunks meanwhile. */
void vigil__tsdb_head_truncate(vigil_tsdb *db, vigil__tsdb_series *s, int64_t below)
{
    uint64_t samples = 0;
    int64_t bytes = 0;
    vigil__tsdb_series_lock(s);
    uint32_t drop = 0;
    while (drop < s->nclosed && s->closed[drop].maxt < below) {
        samples += s->closed[drop].count;
        bytes += s->closed[drop].nbytes;
        vigil__free(s->closed[drop].bytes);
        drop++;
    }
    if (drop) {
        memmove(s->closed, s->closed + drop, (s->nclosed - drop) * sizeof *s->closed);
        s->nclosed -= drop;
    }
    if (s->nclosed && s->closed[0].mint < below)
        trim_closed(&s->closed[0], below, &samples, &bytes);
    if (s->open.count && s->last_t < below) {
        samples += s->open.count;
        bytes += (int64_t)s->open.cap;
        vigil__tsdb_xor_free(&s->open);
        memset(&s->open, 0, sizeof s->open);
        s->open_mint = INT64_MAX;
    } else if (s->open.count && s->open_mint < below) {
        trim_open(s, below, &samples, &bytes);
    }
    s->head_samples -= samples;
    vigil__tsdb_series_unlock(s);
    atomic_fetch_sub_explicit(&db->head_samples, samples, memory_order_relaxed);
    atomic_fetch_sub_explicit(&db->head_bytes, (uint64_t)bytes, memory_order_relaxed);
}

void vigil__tsdb_head_free_series(vigil__tsdb_series *s)
{
    for (uint32_t i = 0; i < s->nclosed; i++)
        vigil__free(s->closed[i].bytes);
    vigil__free(s->closed);
    s->closed = NULL;
    s->nclosed = s->capclosed = 0;
    vigil__tsdb_xor_free(&s->open);
    memset(&s->open, 0, sizeof s->open);
}

/* append_mu held: the oldest and newest head samples (only raised by at most min/max). */
void vigil__tsdb_head_bounds(vigil_tsdb *db, int64_t *min, int64_t *max)
{
    if (atomic_load_explicit(&db->head_samples, memory_order_relaxed) == 0)
        return;
    int64_t first = db->head_first_t;
    if (first < db->head_mint)
        first = db->head_mint;
    if (first < *min)
        *min = first;
    if (db->head_maxt > *max)
        *max = db->head_maxt;
}
