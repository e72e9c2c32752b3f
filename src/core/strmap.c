/* strmap.c — string-keyed open-addressing map for the cold paths (family names, collectors,
 * names seen during one collection). Keys are copied; deletion uses backward shifting so no
 * tombstones accumulate. */
#include <string.h>

#include "core_int.h"

struct vigil__strmap_slot {
    char *key; /* NULL: empty */
    uint64_t hash;
    void *value;
};

void vigil__strmap_init(vigil__strmap *m)
{
    memset(m, 0, sizeof *m);
}

void vigil__strmap_free(vigil__strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        vigil__free(m->slots[i].key);
    vigil__free(m->slots);
    memset(m, 0, sizeof *m);
}

static size_t find_slot(const vigil__strmap *m, const char *key, uint64_t h)
{
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const struct vigil__strmap_slot *s = &m->slots[i];
        if (s->key == NULL || (s->hash == h && strcmp(s->key, key) == 0))
            return i;
    }
}

void *vigil__strmap_get(const vigil__strmap *m, const char *key)
{
    if (m->len == 0)
        return NULL;
    size_t i = find_slot(m, key, vigil__hash_str(key, 0));
    return m->slots[i].key ? m->slots[i].value : NULL;
}

static vigil_status grow(vigil__strmap *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 16;
    struct vigil__strmap_slot *ns = vigil__calloc(ncap, sizeof *ns);
    if (ns == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory growing a name table");
    vigil__strmap old = *m;
    m->slots = ns;
    m->cap = ncap;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.slots[i].key != NULL)
            m->slots[find_slot(m, old.slots[i].key, old.slots[i].hash)] = old.slots[i];
    }
    vigil__free(old.slots);
    return VIGIL_OK;
}

vigil_status vigil__strmap_put(vigil__strmap *m, const char *key, void *value)
{
    if ((m->len + 1) * 4 > m->cap * 3) {
        vigil_status st = grow(m);
        if (st != VIGIL_OK)
            return st;
    }
    uint64_t h = vigil__hash_str(key, 0);
    size_t i = find_slot(m, key, h);
    if (m->slots[i].key != NULL)
        return VIGIL_EEXIST;
    char *k = vigil__strdup(key);
    if (k == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory copying a name");
    m->slots[i] = (struct vigil__strmap_slot){k, h, value};
    m->len++;
    return VIGIL_OK;
}

/* Empties slot i and backward-shifts the run after it so lookups never stop early at the hole.
 * Entries only move towards i, never past the end of the run. */
static void del_at(vigil__strmap *m, size_t i)
{
    size_t mask = m->cap - 1;
    vigil__free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->len--;
    for (size_t j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t home = m->slots[j].hash & mask;
        bool movable = (i <= j) ? (home <= i || home > j) : (home <= i && home > j);
        if (movable) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
}

void *vigil__strmap_del(vigil__strmap *m, const char *key)
{
    if (m->len == 0)
        return NULL;
    size_t i = find_slot(m, key, vigil__hash_str(key, 0));
    if (m->slots[i].key == NULL)
        return NULL;
    void *value = m->slots[i].value;
    del_at(m, i);
    return value;
}

size_t vigil__strmap_del_value(vigil__strmap *m, const void *value)
{
    size_t removed = 0;
    /* A deletion can move a later entry into slot i, so i advances only past a kept entry.
     * Entries that wrap around into slots already passed were kept there, so none is missed. */
    for (size_t i = 0; i < m->cap && m->len > 0;) {
        if (m->slots[i].key != NULL && m->slots[i].value == value) {
            del_at(m, i);
            removed++;
        } else {
            i++;
        }
    }
    return removed;
}
