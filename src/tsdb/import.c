/* import.c — loading OpenMetrics text with timestamps (what `promtool tsdb create-blocks-from
 * openmetrics` reads) into the store, then sealing it into blocks.
 *
 * An import bypasses the WAL: it is re-runnable from its file, and logging 5 M samples only to
 * delete the log at the flush that follows would double the work. Automatic sealing is paused
 * while it runs, because a file lists each series' whole history before the next series, so the
 * head must hold the file's full time span until the end; the flush then seals it range by
 * range. Consecutive lines of one series (the common case) reuse the series found for the
 * previous line, so a label set is built once per series, not once per sample.
 */
#include <stdio.h>
#include <string.h>

#include "omparse.h"
#include "tsdb_int.h"

#define KEY_CAP (VIGIL__TSDB_OM_MAX_LINE + 16)

typedef struct import_ctx {
    vigil_tsdb *db;
    char *key, *prev_key;   /* "name\0l1\0v1\0..." of the current and the previous sample */
    size_t key_len, prev_len;
    vigil__tsdb_series *prev;
    uint8_t *seen;          /* one byte per ref: the series was imported into */
    size_t seen_cap;
    uint64_t series, samples;
    int64_t min_append;
} import_ctx;

static const char *type_word(vigil__tsdb_om_type t)
{
    static const char *const words[] = {"unknown", "counter", "gauge", "histogram",
                                        "gaugehistogram", "summary", "info", "stateset"};
    return (unsigned)t < sizeof words / sizeof *words ? words[t] : "unknown";
}

static vigil_status on_meta(void *user, const vigil__tsdb_om_meta *m)
{
    import_ctx *x = user;
    char text[4096];
    size_t n = m->text_len < sizeof text - 1 ? m->text_len : sizeof text - 1;
    memcpy(text, m->text, n);
    text[n] = '\0';
    switch (m->kind) {
    case VIGIL__TSDB_OM_META_TYPE:
        return vigil__tsdb_meta_set_text(x->db, m->name, m->name_len, type_word(m->type), NULL,
                                         NULL);
    case VIGIL__TSDB_OM_META_HELP:
        return vigil__tsdb_meta_set_text(x->db, m->name, m->name_len, NULL, text, NULL);
    default:
        return vigil__tsdb_meta_set_text(x->db, m->name, m->name_len, NULL, NULL, text);
    }
}

static void key_put(import_ctx *x, const char *s, size_t n)
{
    memcpy(x->key + x->key_len, s, n);
    x->key[x->key_len + n] = '\0';
    x->key_len += n + 1;
}

/* The key spells the sample's series; labels must not contain NUL (the parser refuses it). */
static void build_key(import_ctx *x, const vigil__tsdb_om_sample *s)
{
    x->key_len = 0;
    key_put(x, s->name, s->name_len);
    for (size_t i = 0; i < s->nlabels; i++) {
        key_put(x, s->labels[i].name, s->labels[i].name_len);
        key_put(x, s->labels[i].value, s->labels[i].value_len);
    }
}

static vigil_status find_series(import_ctx *x, const vigil__tsdb_om_sample *s,
                                vigil__tsdb_series **out)
{
    vigil_label pairs[VIGIL__TSDB_OM_MAX_LABELS + 1];
    const char *p = x->key;
    pairs[0] = (vigil_label){"__name__", p};
    p += s->name_len + 1;
    for (size_t i = 0; i < s->nlabels; i++) {
        pairs[i + 1].name = p;
        p += s->labels[i].name_len + 1;
        pairs[i + 1].value = p;
        p += s->labels[i].value_len + 1;
    }
    vigil_status st = vigil__tsdb_series_from_pairs(x->db, pairs, s->nlabels + 1, false, out);
    if (st)
        return vigil__fail(st, "line %llu: %s", (unsigned long long)s->line, vigil_errmsg());
    return VIGIL_OK;
}

static vigil_status mark_seen(import_ctx *x, vigil_tsdb_ref ref)
{
    if (ref >= x->seen_cap) {
        size_t cap = x->seen_cap ? x->seen_cap : 4096;
        while (cap <= ref)
            cap *= 2;
        uint8_t *s = vigil__realloc(x->seen, cap);
        if (!s)
            return vigil__fail(VIGIL_ENOMEM, "import series map");
        memset(s + x->seen_cap, 0, cap - x->seen_cap);
        x->seen = s;
        x->seen_cap = cap;
    }
    if (!x->seen[ref]) {
        x->seen[ref] = 1;
        x->series++;
    }
    return VIGIL_OK;
}

static vigil_status on_sample(void *user, const vigil__tsdb_om_sample *s)
{
    import_ctx *x = user;
    build_key(x, s);
    vigil_status st = VIGIL_OK;
    vigil__tsdb_series *series = x->prev;
    pthread_mutex_lock(&x->db->append_mu);
    if (!series || x->key_len != x->prev_len || memcmp(x->key, x->prev_key, x->key_len) != 0) {
        st = find_series(x, s, &series);
        if (st == VIGIL_OK)
            st = mark_seen(x, series->ref);
        if (st == VIGIL_OK) {
            char *swap = x->prev_key;
            x->prev_key = x->key;
            x->key = swap;
            x->prev_len = x->key_len;
            x->prev = series;
        }
    }
    if (st == VIGIL_OK) {
        st = vigil__tsdb_head_append(x->db, series, s->t_ms, s->value);
        if (st)
            st = vigil__fail(st, "line %llu: %s", (unsigned long long)s->line, vigil_errmsg());
    }
    pthread_mutex_unlock(&x->db->append_mu);
    if (st == VIGIL_OK)
        x->samples++;
    return st;
}

vigil_status vigil_tsdb_import_openmetrics(vigil_tsdb *db, const char *path,
                                           vigil_tsdb_import_stats *stats)
{
    if (stats)
        memset(stats, 0, sizeof *stats);
    if (!db || !path)
        return vigil__fail(VIGIL_EINVAL, "vigil_tsdb_import_openmetrics: NULL argument");
    if (db->opts.read_only)
        return vigil__fail(VIGIL_ESTATE, "the store was opened read-only");
    import_ctx x = {.db = db};
    x.key = vigil__malloc(KEY_CAP);
    x.prev_key = vigil__malloc(KEY_CAP);
    if (!x.key || !x.prev_key) {
        vigil__free(x.key);
        vigil__free(x.prev_key);
        return vigil__fail(VIGIL_ENOMEM, "import buffers");
    }
    atomic_fetch_add(&db->importing, 1);
    vigil__tsdb_om_handlers h = {on_meta, on_sample};
    vigil__tsdb_om_stats ps = {0};
    vigil_status st = vigil__tsdb_om_parse_file(path, &h, &x, &ps);
    char msg[512] = "";
    if (st)
        snprintf(msg, sizeof msg, "%s", vigil_errmsg());
    /* What was read before an error is kept: every sample of it was valid. */
    vigil_status fst = vigil_tsdb_flush(db);
    atomic_fetch_sub(&db->importing, 1);
    vigil__free(x.key);
    vigil__free(x.prev_key);
    vigil__free(x.seen);
    if (stats) {
        stats->samples = x.samples;
        stats->series = x.series;
        stats->lines = ps.lines;
    }
    if (st)
        return vigil__fail(st, "%s: %s", path, msg);
    return fst;
}
