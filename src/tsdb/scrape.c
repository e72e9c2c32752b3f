/* scrape.c — self-scrape: the registry's current values written into the store as one batch.
 *
 * This is what Prometheus would store if it scraped the process's /metrics, produced without
 * text: collection streams samples into a sink (metrics/sink.h), the sink turns each into the
 * series key Prometheus would see (family name + suffix, labels, le/quantile), and a per-
 * registry cache maps that key to a series handle so a steady-state scrape does one hash and one
 * memcmp per series and no label-set work. All samples of one scrape share one timestamp, which
 * is what lets sealed blocks store a single timestamp column for them.
 *
 * Series that a scrape no longer returns get a staleness marker at the next scrape's time, as
 * Prometheus writes them, and leave the cache.
 *
 * The cache is keyed by the exact byte spelling "name\0l1\0v1\0l2\0v2..." in the registry's
 * label order; a family's label order is fixed, so the same series always spells the same key.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "metrics/sink.h"
#include "tsdb_int.h"

#define KEY_MAX 65536 /* one series' key; a registry refuses names and values this long anyway */
#define EMPTY_SLOT UINT32_MAX

typedef struct cache_entry {
    uint64_t hash;
    char *key;
    uint32_t key_len;
    vigil_tsdb_ref ref;
    uint64_t gen; /* the scrape that last saw this series */
} cache_entry;

struct vigil__tsdb_scrape_cache {
    vigil_registry *reg;
    cache_entry *entries; /* dense; slots index into it */
    size_t count, cap;
    uint32_t *slots; /* open addressing, power of two, EMPTY_SLOT when free */
    size_t nslots;
    uint64_t gen;
    size_t cursor; /* the entry the next sample probably is: collection order is stable */
    struct vigil__tsdb_scrape_cache *next;
};

typedef struct scrape_ctx {
    vigil_tsdb *db;
    vigil__tsdb_scrape_cache *cache;
    const char *family; /* the meta struct may not outlive begin(); its name does */
    char key[KEY_MAX];
    vigil_tsdb_ref *refs;
    double *values;
    size_t n, cap;
    vigil_status first_error; /* per-series problems: counted series are still written */
} scrape_ctx;

/* ---- the cache ------------------------------------------------------------------------------ */

static vigil_status cache_rehash(vigil__tsdb_scrape_cache *c, size_t nslots)
{
    uint32_t *slots = vigil__malloc(nslots * sizeof *slots);
    if (!slots)
        return vigil__fail(VIGIL_ENOMEM, "self-scrape cache of %zu slots", nslots);
    memset(slots, 0xff, nslots * sizeof *slots);
    for (size_t i = 0; i < c->count; i++) {
        size_t s = c->entries[i].hash & (nslots - 1);
        while (slots[s] != EMPTY_SLOT)
            s = (s + 1) & (nslots - 1);
        slots[s] = (uint32_t)i;
    }
    vigil__free(c->slots);
    c->slots = slots;
    c->nslots = nslots;
    return VIGIL_OK;
}

static cache_entry *cache_find(vigil__tsdb_scrape_cache *c, uint64_t hash, const char *key,
                               size_t len)
{
    if (c->nslots == 0)
        return NULL;
    for (size_t s = hash & (c->nslots - 1); c->slots[s] != EMPTY_SLOT;
         s = (s + 1) & (c->nslots - 1)) {
        cache_entry *e = &c->entries[c->slots[s]];
        if (e->hash == hash && e->key_len == len && memcmp(e->key, key, len) == 0)
            return e;
    }
    return NULL;
}

static vigil_status cache_add(vigil__tsdb_scrape_cache *c, uint64_t hash, const char *key,
                              size_t len, vigil_tsdb_ref ref)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 256;
        cache_entry *e = vigil__realloc(c->entries, cap * sizeof *e);
        if (!e)
            return vigil__fail(VIGIL_ENOMEM, "self-scrape cache of %zu series", cap);
        c->entries = e;
        c->cap = cap;
    }
    if ((c->count + 1) * 2 > c->nslots) {
        vigil_status st = cache_rehash(c, c->nslots ? c->nslots * 2 : 512);
        if (st)
            return st;
    }
    char *copy = vigil__malloc(len);
    if (!copy)
        return vigil__fail(VIGIL_ENOMEM, "self-scrape cache key");
    memcpy(copy, key, len);
    c->entries[c->count] = (cache_entry){hash, copy, (uint32_t)len, ref, c->gen};
    size_t s = hash & (c->nslots - 1);
    while (c->slots[s] != EMPTY_SLOT)
        s = (s + 1) & (c->nslots - 1);
    c->slots[s] = (uint32_t)c->count++;
    return VIGIL_OK;
}

/* Drops the entries not seen by the current scrape (after their stale markers were written). */
static vigil_status cache_sweep(vigil__tsdb_scrape_cache *c)
{
    size_t kept = 0;
    for (size_t i = 0; i < c->count; i++) {
        if (c->entries[i].gen == c->gen)
            c->entries[kept++] = c->entries[i];
        else
            vigil__free(c->entries[i].key);
    }
    if (kept == c->count)
        return VIGIL_OK;
    c->count = kept;
    size_t nslots = 512;
    while (kept * 2 > nslots)
        nslots *= 2;
    return cache_rehash(c, nslots);
}

void vigil__tsdb_scrape_caches_free(vigil__tsdb_scrape_cache *c)
{
    while (c) {
        vigil__tsdb_scrape_cache *next = c->next;
        for (size_t i = 0; i < c->count; i++)
            vigil__free(c->entries[i].key);
        vigil__free(c->entries);
        vigil__free(c->slots);
        vigil__free(c);
        c = next;
    }
}

/* ---- the sink ------------------------------------------------------------------------------- */

static vigil_status ctx_push(scrape_ctx *x, vigil_tsdb_ref ref, double v)
{
    if (x->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 1024;
        vigil_tsdb_ref *r = vigil__realloc(x->refs, cap * sizeof *r);
        if (!r)
            return vigil__fail(VIGIL_ENOMEM, "self-scrape batch of %zu samples", cap);
        x->refs = r;
        double *vals = vigil__realloc(x->values, cap * sizeof *vals);
        if (!vals)
            return vigil__fail(VIGIL_ENOMEM, "self-scrape batch of %zu samples", cap);
        x->values = vals;
        x->cap = cap;
    }
    x->refs[x->n] = ref;
    x->values[x->n++] = v;
    return VIGIL_OK;
}

/* Appends "s\0" to the key; false when the key would not fit. */
static bool key_put(char *key, size_t *len, const char *s, size_t n)
{
    if (*len + n + 1 > KEY_MAX)
        return false;
    memcpy(key + *len, s, n);
    key[*len + n] = '\0';
    *len += n + 1;
    return true;
}

static bool build_key(scrape_ctx *x, const vigil__sample *s, char *extra_text, size_t *len)
{
    const char *name = x->family, *sfx = vigil__suffix_text(s->suffix);
    size_t nl = strlen(name), sl = strlen(sfx);
    if (nl + sl + 1 > KEY_MAX)
        return false;
    memcpy(x->key, name, nl);
    memcpy(x->key + nl, sfx, sl);
    x->key[nl + sl] = '\0';
    *len = nl + sl + 1;
    for (size_t i = 0; i < s->nlabels; i++)
        if (!key_put(x->key, len, s->names[i], strlen(s->names[i])) ||
            !key_put(x->key, len, s->values[i], strlen(s->values[i])))
            return false;
    if (s->extra_name) {
        size_t el = vigil__fmt_label_float(extra_text, s->extra);
        if (!key_put(x->key, len, s->extra_name, strlen(s->extra_name)) ||
            !key_put(x->key, len, extra_text, el))
            return false;
    }
    return true;
}

/* Splits a key back into labels for creating the series (a cache miss only). */
static vigil_status create_series(scrape_ctx *x, const char *key, size_t len, vigil_tsdb_ref *ref)
{
    vigil_label labels[VIGIL__TSDB_LABELS_MAX];
    size_t n = 0;
    const char *p = key, *end = key + len;
    labels[n].name = "__name__";
    labels[n++].value = p;
    p += strlen(p) + 1;
    while (p < end) {
        if (n == VIGIL__TSDB_LABELS_MAX)
            return vigil__fail(VIGIL_ELIMIT, "series %s has more than %d labels", key,
                               VIGIL__TSDB_LABELS_MAX);
        labels[n].name = p;
        p += strlen(p) + 1;
        labels[n++].value = p;
        p += strlen(p) + 1;
    }
    return vigil_tsdb_series(x->db, labels, n, ref);
}

static vigil_status sink_begin(void *ctx, const vigil__family_meta *meta)
{
    scrape_ctx *x = ctx;
    x->family = meta->name;
    return vigil__tsdb_meta_set(x->db, meta->name, meta->type, meta->help, meta->unit);
}

static vigil_status sink_sample(void *ctx, const vigil__sample *s)
{
    scrape_ctx *x = ctx;
    if (s->suffix == VIGIL__SFX_CREATED)
        return VIGIL_OK; /* Prometheus 2.42 stores no _created series from a text scrape */
    char extra[VIGIL__FMT_MAX + 1];
    size_t len;
    if (!build_key(x, s, extra, &len)) {
        if (!x->first_error)
            x->first_error = vigil__fail(VIGIL_ELIMIT, "a series of %s has a key over %d bytes",
                                         x->family, KEY_MAX);
        return VIGIL_OK;
    }
    /* A registry yields its series in the same order every time, so the entry after the last
     * hit is almost always the one: checking it first turns a random probe (a few cache misses
     * per series at 100k series) into a sequential walk. */
    vigil__tsdb_scrape_cache *c = x->cache;
    cache_entry *e = NULL;
    uint64_t hash = 0;
    if (c->cursor < c->count && c->entries[c->cursor].key_len == len &&
        memcmp(c->entries[c->cursor].key, x->key, len) == 0) {
        e = &c->entries[c->cursor];
    } else {
        hash = vigil__hash(x->key, len, 0x5eed);
        e = cache_find(c, hash, x->key, len);
    }
    if (e)
        c->cursor = (size_t)(e - c->entries) + 1;
    vigil_tsdb_ref ref;
    if (e) {
        e->gen = x->cache->gen;
        ref = e->ref;
    } else {
        vigil_status st = create_series(x, x->key, len, &ref);
        if (st == VIGIL_ENOMEM)
            return st;
        if (st) {
            if (!x->first_error)
                x->first_error = st;
            return VIGIL_OK;
        }
        st = cache_add(x->cache, hash, x->key, len, ref);
        if (st)
            return st;
        x->cache->cursor = x->cache->count;
    }
    return ctx_push(x, ref, s->is_int ? (double)s->ivalue : s->value);
}

static vigil_status sink_end(void *ctx)
{
    (void)ctx;
    return VIGIL_OK;
}

static size_t sink_mark(void *ctx)
{
    return ((scrape_ctx *)ctx)->n;
}

/* A failing collector's samples are taken back; its series then look gone to this scrape and get
 * staleness markers, as Prometheus marks the series of a failed scrape. */
static void sink_rewind(void *ctx, size_t mark)
{
    ((scrape_ctx *)ctx)->n = mark;
}

/* ---- one scrape ----------------------------------------------------------------------------- */

static vigil_status push_stale_markers(scrape_ctx *x)
{
    vigil__tsdb_scrape_cache *c = x->cache;
    double stale = vigil_tsdb_stale_nan();
    for (size_t i = 0; i < c->count; i++) {
        if (c->entries[i].gen == c->gen - 1) {
            vigil_status st = ctx_push(x, c->entries[i].ref, stale);
            if (st)
                return st;
        }
    }
    return VIGIL_OK;
}

static vigil_status write_batch(scrape_ctx *x, int64_t t_ms)
{
    enum { CHUNK = 4096 };
    int64_t ts[CHUNK];
    for (size_t i = 0; i < CHUNK; i++)
        ts[i] = t_ms;
    for (size_t off = 0; off < x->n; off += CHUNK) {
        size_t n = x->n - off < CHUNK ? x->n - off : CHUNK;
        vigil_status st =
            vigil_tsdb_append_batch(x->db, x->refs + off, ts, x->values + off, n, NULL);
        if (st && st != VIGIL_EORDER)
            return st;
    }
    return VIGIL_OK;
}

vigil_status vigil__tsdb_scrape_run(vigil_tsdb *db, vigil__tsdb_scrape_cache *cache,
                                    vigil_registry *reg, int64_t t_ms)
{
    scrape_ctx *x = vigil__calloc(1, sizeof *x);
    if (!x)
        return vigil__fail(VIGIL_ENOMEM, "self-scrape context");
    x->db = db;
    x->cache = cache;
    cache->gen++;
    cache->cursor = 0;
    vigil__sink sink = {sink_begin, sink_sample, sink_end, sink_mark, sink_rewind, x};
    vigil_status st = vigil__registry_collect(reg, &sink);
    if (st == VIGIL_OK)
        st = push_stale_markers(x);
    if (st == VIGIL_OK)
        st = write_batch(x, t_ms);
    if (st == VIGIL_OK)
        st = cache_sweep(cache);
    if (st == VIGIL_OK)
        st = x->first_error;
    vigil__free(x->refs);
    vigil__free(x->values);
    vigil__free(x);
    return st;
}

vigil_status vigil__tsdb_scrape_cache_for(vigil__tsdb_scrape_cache **list, vigil_registry *reg,
                                          vigil__tsdb_scrape_cache **out)
{
    for (vigil__tsdb_scrape_cache *c = *list; c; c = c->next) {
        if (c->reg == reg) {
            *out = c;
            return VIGIL_OK;
        }
    }
    vigil__tsdb_scrape_cache *c = vigil__calloc(1, sizeof *c);
    if (!c)
        return vigil__fail(VIGIL_ENOMEM, "self-scrape cache");
    c->reg = reg;
    c->gen = 1;
    c->next = *list;
    *list = c;
    *out = c;
    return VIGIL_OK;
}
