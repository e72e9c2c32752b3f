/* meta.c — metric family metadata (type, help, unit) as self-scrapes and imports report it, for
 * the query API's /api/v1/metadata. Kept in memory only: a self-scrape restates it every
 * interval and an import every time, so persisting it would buy little.
 */
#include <string.h>

#include "metrics/sink.h"
#include "tsdb_int.h"

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static vigil_status replace(char **slot, const char *text, size_t len)
{
    char *copy = vigil__malloc(len + 1);
    if (!copy)
        return vigil__fail(VIGIL_ENOMEM, "metadata text");
    memcpy(copy, text, len);
    copy[len] = '\0';
    vigil__free(*slot);
    *slot = copy;
    return VIGIL_OK;
}

static vigil__tsdb_meta *find_or_add(vigil_tsdb *db, const char *metric, size_t len)
{
    for (size_t i = 0; i < db->nmeta; i++)
        if (strlen(db->meta[i].metric) == len && memcmp(db->meta[i].metric, metric, len) == 0)
            return &db->meta[i];
    if (db->nmeta == db->capmeta) {
        size_t cap = db->capmeta ? db->capmeta * 2 : 32;
        vigil__tsdb_meta *m = vigil__realloc(db->meta, cap * sizeof *m);
        if (!m)
            return NULL;
        db->meta = m;
        db->capmeta = cap;
    }
    vigil__tsdb_meta *m = &db->meta[db->nmeta];
    memset(m, 0, sizeof *m);
    if (replace(&m->metric, metric, len) != VIGIL_OK)
        return NULL;
    db->nmeta++;
    return m;
}

vigil_status vigil__tsdb_meta_set_text(vigil_tsdb *db, const char *metric, size_t metric_len,
                                       const char *type, const char *help, const char *unit)
{
    pthread_mutex_lock(&db->meta_mu);
    vigil__tsdb_meta *m = find_or_add(db, metric, metric_len);
    vigil_status st = m ? VIGIL_OK : vigil__fail(VIGIL_ENOMEM, "metadata");
    if (st == VIGIL_OK && type && !same(m->type, type))
        st = replace(&m->type, type, strlen(type));
    if (st == VIGIL_OK && help && !same(m->help, help))
        st = replace(&m->help, help, strlen(help));
    if (st == VIGIL_OK && unit && !same(m->unit, unit))
        st = replace(&m->unit, unit, strlen(unit));
    pthread_mutex_unlock(&db->meta_mu);
    return st;
}

vigil_status vigil__tsdb_meta_set(vigil_tsdb *db, const char *metric, vigil_metric_type type,
                                  const char *help, const char *unit)
{
    return vigil__tsdb_meta_set_text(db, metric, strlen(metric), vigil__type_word(type), help,
                                     unit);
}

vigil_status vigil__tsdb_meta_copy(vigil_tsdb *db, vigil_tsdb_metadata **out, size_t *n,
                                   char **strings)
{
    pthread_mutex_lock(&db->meta_mu);
    size_t bytes = 0;
    for (size_t i = 0; i < db->nmeta; i++) {
        const vigil__tsdb_meta *m = &db->meta[i];
        bytes += strlen(m->metric) + 1 + (m->type ? strlen(m->type) : 7) + 1 +
                 (m->help ? strlen(m->help) : 0) + 1 + (m->unit ? strlen(m->unit) : 0) + 1;
    }
    vigil_tsdb_metadata *md = vigil__malloc(db->nmeta * sizeof *md + 1);
    char *s = vigil__malloc(bytes + 1);
    if (!md || !s) {
        pthread_mutex_unlock(&db->meta_mu);
        vigil__free(md);
        vigil__free(s);
        return vigil__fail(VIGIL_ENOMEM, "metadata copy");
    }
    char *p = s;
    for (size_t i = 0; i < db->nmeta; i++) {
        const vigil__tsdb_meta *m = &db->meta[i];
        const char *f[4] = {m->metric, m->type ? m->type : "unknown", m->help ? m->help : "",
                            m->unit ? m->unit : ""};
        const char *copies[4];
        for (int k = 0; k < 4; k++) {
            size_t l = strlen(f[k]) + 1;
            memcpy(p, f[k], l);
            copies[k] = p;
            p += l;
        }
        md[i] = (vigil_tsdb_metadata){copies[0], copies[1], copies[2], copies[3]};
    }
    *n = db->nmeta;
    pthread_mutex_unlock(&db->meta_mu);
    *out = md;
    *strings = s;
    return VIGIL_OK;
}

void vigil__tsdb_meta_free(vigil_tsdb *db)
{
    for (size_t i = 0; i < db->nmeta; i++) {
        vigil__free(db->meta[i].metric);
        vigil__free(db->meta[i].type);
        vigil__free(db->meta[i].help);
        vigil__free(db->meta[i].unit);
    }
    vigil__free(db->meta);
}
