/* eval_labels.c — label sets as the evaluator sees them: immutable, sorted, hashed once when
 * built, so that grouping, matching and merging cost one hash look-up per series and never a
 * string comparison per step. Also the small integer index those look-ups go through.
 *
 * The operations mirror Prometheus's labels package (Builder.Del/Set/Keep, Compare, String,
 * the signatures of vector matching and grouping) because their exact behaviour shows in
 * results: an empty value deletes a label, `without` never groups by __name__, a signature of
 * `ignoring` leaves __name__ out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "eval.h"

#define HASH_SEED UINT64_C(0x8f3a5c1d2b4e6079)

static uint64_t hash_label(uint64_t h, const vigil_label *l)
{
    h = vigil__hash(l->name, strlen(l->name), h);
    return vigil__hash(l->value, strlen(l->value), h ^ UINT64_C(0x9e3779b97f4a7c15));
}

static uint64_t hash_labels(const vigil_label *l, size_t n)
{
    uint64_t h = HASH_SEED;
    for (size_t i = 0; i < n; i++)
        h = hash_label(h, &l[i]);
    return h;
}

static void sort_labels(vigil_label *l, size_t n)
{
    /* Label sets come sorted almost always (the store keeps them so); insertion sort is then a
     * single pass. */
    for (size_t i = 1; i < n; i++) {
        vigil_label x = l[i];
        size_t j = i;
        while (j > 0 && strcmp(l[j - 1].name, x.name) > 0) {
            l[j] = l[j - 1];
            j--;
        }
        l[j] = x;
    }
}

static pq_lset *lset_alloc(pq_arena *a, size_t n)
{
    pq_lset *ls = vigil__pq_alloc(a, sizeof *ls + n * sizeof ls->l[0]);
    if (ls != NULL)
        ls->n = 0;
    return ls;
}

const pq_lset *vigil__pq_lset_new(pq_arena *a, const vigil_label *l, size_t n)
{
    pq_lset *ls = lset_alloc(a, n);
    if (ls == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (l[i].value[0] != '\0')
            ls->l[ls->n++] = l[i];
    sort_labels(ls->l, ls->n);
    ls->hash = hash_labels(ls->l, ls->n);
    return ls;
}

const pq_lset *vigil__pq_lset_empty(pq_arena *a)
{
    return vigil__pq_lset_new(a, NULL, 0);
}

bool vigil__pq_lset_equal(const pq_lset *a, const pq_lset *b)
{
    if (a == b)
        return true;
    if (a->hash != b->hash || a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        if (a->l[i].name != b->l[i].name && strcmp(a->l[i].name, b->l[i].name) != 0)
            return false;
        if (a->l[i].value != b->l[i].value && strcmp(a->l[i].value, b->l[i].value) != 0)
            return false;
    }
    return true;
}

int vigil__pq_lset_compare(const pq_lset *a, const pq_lset *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t i = 0; i < n; i++) {
        int c = strcmp(a->l[i].name, b->l[i].name);
        if (c != 0)
            return c;
        c = strcmp(a->l[i].value, b->l[i].value);
        if (c != 0)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n ? 1 : 0;
}

const char *vigil__pq_lset_get(const pq_lset *ls, const char *name)
{
    for (uint32_t i = 0; i < ls->n; i++)
        if (strcmp(ls->l[i].name, name) == 0)
            return ls->l[i].value;
    return NULL;
}

/* Go's strconv.Quote for the ASCII range; bytes from 0x80 on are passed through (label values
 * are valid UTF-8). */
vigil_status vigil__pq_go_quote(vigil_buffer *out, const char *s)
{
    vigil_status st = vigil_buffer_append(out, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; st == VIGIL_OK && *p; p++) {
        char esc[8];
        const char *e = NULL;
        switch (*p) {
        case '"': e = "\\\""; break;
        case '\\': e = "\\\\"; break;
        case '\a': e = "\\a"; break;
        case '\b': e = "\\b"; break;
        case '\f': e = "\\f"; break;
        case '\n': e = "\\n"; break;
        case '\r': e = "\\r"; break;
        case '\t': e = "\\t"; break;
        case '\v': e = "\\v"; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(esc, sizeof esc, "\\x%02x", *p);
                e = esc;
            }
        }
        st = e ? vigil_buffer_append(out, e, strlen(e)) : vigil_buffer_append(out, p, 1);
    }
    return st ? st : vigil_buffer_append(out, "\"", 1);
}

vigil_status vigil__pq_lset_format(const pq_lset *ls, vigil_buffer *out)
{
    vigil_status st = vigil_buffer_append(out, "{", 1);
    for (uint32_t i = 0; st == VIGIL_OK && i < ls->n; i++) {
        if (i > 0)
            st = vigil_buffer_append(out, ", ", 2);
        if (!st)
            st = vigil_buffer_append(out, ls->l[i].name, strlen(ls->l[i].name));
        if (!st)
            st = vigil_buffer_append(out, "=", 1);
        if (!st)
            st = vigil__pq_go_quote(out, ls->l[i].value);
    }
    if (!st)
        st = vigil_buffer_append(out, "}", 1);
    if (!st)
        vigil_buffer_cstr(out);
    return st;
}

/* ---- builder -------------------------------------------------------------------------------- */

void vigil__pq_lb_init(pq_lbuilder *b)
{
    b->l = NULL;
    b->n = b->cap = 0;
}

void vigil__pq_lb_free(pq_lbuilder *b)
{
    vigil__free(b->l);
    vigil__pq_lb_init(b);
}

static vigil_status lb_reserve(pq_lbuilder *b, size_t n)
{
    if (n <= b->cap)
        return VIGIL_OK;
    size_t cap = b->cap ? b->cap : 16;
    while (cap < n)
        cap *= 2;
    vigil_label *l = vigil__realloc(b->l, cap * sizeof *l);
    if (l == NULL)
        return vigil__fail(VIGIL_ENOMEM, "label builder of %zu labels", n);
    b->l = l;
    b->cap = cap;
    return VIGIL_OK;
}

vigil_status vigil__pq_lb_reset(pq_lbuilder *b, const pq_lset *ls)
{
    vigil_status st = lb_reserve(b, ls->n + 1);
    if (st)
        return st;
    memcpy(b->l, ls->l, ls->n * sizeof *b->l);
    b->n = ls->n;
    return VIGIL_OK;
}

void vigil__pq_lb_del(pq_lbuilder *b, const char *name)
{
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->l[i].name, name) == 0) {
            memmove(&b->l[i], &b->l[i + 1], (b->n - i - 1) * sizeof *b->l);
            b->n--;
            return;
        }
    }
}

vigil_status vigil__pq_lb_set(pq_lbuilder *b, const char *name, const char *value)
{
    if (value[0] == '\0') {
        vigil__pq_lb_del(b, name);
        return VIGIL_OK;
    }
    size_t i = 0;
    while (i < b->n && strcmp(b->l[i].name, name) < 0)
        i++;
    if (i < b->n && strcmp(b->l[i].name, name) == 0) {
        b->l[i].value = value;
        return VIGIL_OK;
    }
    vigil_status st = lb_reserve(b, b->n + 1);
    if (st)
        return st;
    memmove(&b->l[i + 1], &b->l[i], (b->n - i) * sizeof *b->l);
    b->l[i] = (vigil_label){name, value};
    b->n++;
    return VIGIL_OK;
}

static bool in_names(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

void vigil__pq_lb_keep(pq_lbuilder *b, const char *const *names, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++)
        if (in_names(b->l[i].name, names, n))
            b->l[k++] = b->l[i];
    b->n = k;
}

const pq_lset *vigil__pq_lb_finish(pq_lbuilder *b, pq_arena *a)
{
    pq_lset *ls = lset_alloc(a, b->n);
    if (ls == NULL)
        return NULL;
    if (b->n > 0)
        memcpy(ls->l, b->l, b->n * sizeof *b->l);
    ls->n = (uint32_t)b->n;
    ls->hash = hash_labels(ls->l, ls->n);
    return ls;
}

const pq_lset *vigil__pq_lset_drop_name(pq_arena *a, const pq_lset *ls)
{
    uint32_t at = ls->n;
    for (uint32_t i = 0; i < ls->n; i++)
        if (strcmp(ls->l[i].name, "__name__") == 0)
            at = i;
    if (at == ls->n)
        return ls;
    pq_lset *out = lset_alloc(a, ls->n - 1);
    if (out == NULL)
        return NULL;
    memcpy(out->l, ls->l, at * sizeof *ls->l);
    memcpy(out->l + at, ls->l + at + 1, (ls->n - at - 1) * sizeof *ls->l);
    out->n = ls->n - 1;
    out->hash = hash_labels(out->l, out->n);
    return out;
}

static bool projected(const char *name, bool on, const char *const *names, size_t n)
{
    if (on)
        return in_names(name, names, n);
    return strcmp(name, "__name__") != 0 && !in_names(name, names, n);
}

uint64_t vigil__pq_lset_project_hash(const pq_lset *ls, bool on, const char *const *names,
                                     size_t n)
{
    uint64_t h = HASH_SEED;
    for (uint32_t i = 0; i < ls->n; i++)
        if (projected(ls->l[i].name, on, names, n))
            h = hash_label(h, &ls->l[i]);
    return h;
}

bool vigil__pq_lset_project_equal(const pq_lset *a, const pq_lset *b, bool on,
                                  const char *const *names, size_t n)
{
    uint32_t i = 0, j = 0;
    for (;;) {
        while (i < a->n && !projected(a->l[i].name, on, names, n))
            i++;
        while (j < b->n && !projected(b->l[j].name, on, names, n))
            j++;
        if (i == a->n || j == b->n)
            return i == a->n && j == b->n;
        if (strcmp(a->l[i].name, b->l[j].name) != 0 || strcmp(a->l[i].value, b->l[j].value) != 0)
            return false;
        i++;
        j++;
    }
}

/* ---- index ---------------------------------------------------------------------------------- */

void vigil__pq_index_init(pq_index *ix)
{
    ix->keys = NULL;
    ix->vals = NULL;
    ix->cap = ix->len = 0;
}

void vigil__pq_index_free(pq_index *ix)
{
    vigil__free(ix->keys);
    vigil__free(ix->vals);
    vigil__pq_index_init(ix);
}

static vigil_status index_grow(pq_index *ix, size_t cap)
{
    uint64_t *keys = vigil__malloc(cap * sizeof *keys);
    uint32_t *vals = vigil__calloc(cap, sizeof *vals);
    if (keys == NULL || vals == NULL) {
        vigil__free(keys);
        vigil__free(vals);
        return vigil__fail(VIGIL_ENOMEM, "index of %zu entries", cap);
    }
    for (size_t i = 0; i < ix->cap; i++) {
        if (ix->vals[i] == 0)
            continue;
        size_t s = ix->keys[i] & (cap - 1);
        while (vals[s] != 0)
            s = (s + 1) & (cap - 1);
        keys[s] = ix->keys[i];
        vals[s] = ix->vals[i];
    }
    vigil__free(ix->keys);
    vigil__free(ix->vals);
    ix->keys = keys;
    ix->vals = vals;
    ix->cap = cap;
    return VIGIL_OK;
}

vigil_status vigil__pq_index_reserve(pq_index *ix, size_t n)
{
    size_t cap = ix->cap ? ix->cap : 16;
    while (cap < 2 * n + 2)
        cap *= 2;
    return cap > ix->cap ? index_grow(ix, cap) : VIGIL_OK;
}

bool vigil__pq_index_next(const pq_index *ix, uint64_t key, size_t *pos, uint32_t *val)
{
    if (ix->cap == 0)
        return false;
    size_t mask = ix->cap - 1;
    for (size_t s = (key + *pos) & mask; ix->vals[s] != 0; s = (s + 1) & mask) {
        (*pos)++;
        if (ix->keys[s] == key) {
            *val = ix->vals[s] - 1;
            return true;
        }
    }
    return false;
}

vigil_status vigil__pq_index_put(pq_index *ix, uint64_t key, uint32_t val)
{
    vigil_status st = vigil__pq_index_reserve(ix, ix->len + 1);
    if (st)
        return st;
    size_t mask = ix->cap - 1;
    size_t s = key & mask;
    while (ix->vals[s] != 0)
        s = (s + 1) & mask;
    ix->keys[s] = key;
    ix->vals[s] = val + 1;
    ix->len++;
    return VIGIL_OK;
}
