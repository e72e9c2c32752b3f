/* labels.c — the tsdb's symbol table and label sets.
 *
 * A store with millions of series repeats the same few hundred names and a bounded set of
 * values over and over, so every string is kept once: strings are packed back to back into
 * 64 KiB blocks (no per-string malloc header, and a block never moves, which is what makes the
 * pointers stable), and an open-addressing table of pointers with a 32-bit hash tag per slot
 * finds them. A label set is then one small allocation of pointer pairs, and comparing two sets
 * from the same table rarely needs to read a string.
 *
 * The table is guarded by a reader/writer lock: looking up an existing string (by far the common
 * case once a store is warm) only shares the lock; the write lock is taken for an insert, whose
 * rare rehash is the only long hold. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "tsdb/labels.h"

#define BLOCK_SIZE ((size_t)64 << 10)
/* A string longer than this gets a block of its own, so one big value cannot waste the rest of
 * a shared block. */
#define BLOCK_OWN_THRESHOLD (BLOCK_SIZE / 16)
#define HASH_SEED 0x7473646273796d73ull /* "tsdbsyms" */
#define LABELS_SEED 0x7473646c6162656cull

typedef struct block {
    struct block *next;
    size_t used;
    size_t cap;
    char data[];
} block;

struct vigil__tsdb_symtab {
    pthread_rwlock_t lock;
    /* Everything below is guarded by lock. */
    const char **slots; /* NULL: empty */
    uint32_t *tags;     /* high 32 bits of each slot's hash: most mismatches never touch memory */
    size_t cap;         /* power of two, or 0 before the first insert */
    size_t len;
    block *blocks; /* head: the block being filled; own-size blocks are linked after it */
    size_t bytes;
    size_t memory;
    size_t max_bytes;
};

/* ---- symbol table --------------------------------------------------------------------------- */

vigil_status vigil__tsdb_symtab_new(size_t max_bytes, vigil__tsdb_symtab **out)
{
    *out = NULL;
    vigil__tsdb_symtab *t = vigil__calloc(1, sizeof *t);
    if (t == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a symbol table");
    if (pthread_rwlock_init(&t->lock, NULL) != 0) {
        vigil__free(t);
        return vigil__fail(VIGIL_ENOMEM, "cannot create the symbol table's lock");
    }
    t->max_bytes = max_bytes ? max_bytes : VIGIL__TSDB_SYMTAB_DEFAULT_MAX;
    *out = t;
    return VIGIL_OK;
}

void vigil__tsdb_symtab_free(vigil__tsdb_symtab *t)
{
    if (t == NULL)
        return;
    for (block *b = t->blocks, *next; b != NULL; b = next) {
        next = b->next;
        vigil__free(b);
    }
    vigil__free(t->slots);
    vigil__free(t->tags);
    pthread_rwlock_destroy(&t->lock);
    vigil__free(t);
}

/* The slot holding s, or the empty slot where it would go. Requires cap > 0. */
static size_t probe(const vigil__tsdb_symtab *t, const char *s, size_t len, uint64_t h)
{
    size_t mask = t->cap - 1;
    uint32_t tag = (uint32_t)(h >> 32);
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const char *p = t->slots[i];
        if (p == NULL)
            return i;
        /* strncmp stops at p's terminator, so a shorter stored string is never over-read. */
        if (t->tags[i] == tag && strncmp(p, s, len) == 0 && p[len] == '\0')
            return i;
    }
}

static const char *find_locked(const vigil__tsdb_symtab *t, const char *s, size_t len, uint64_t h)
{
    if (t->len == 0)
        return NULL;
    return t->slots[probe(t, s, len, h)];
}

static vigil_status grow_slots(vigil__tsdb_symtab *t)
{
    size_t ncap = t->cap ? t->cap * 2 : 256;
    const char **slots = vigil__calloc(ncap, sizeof *slots);
    uint32_t *tags = vigil__calloc(ncap, sizeof *tags);
    if (slots == NULL || tags == NULL) {
        vigil__free(slots);
        vigil__free(tags);
        return vigil__fail(VIGIL_ENOMEM, "out of memory growing the symbol table to %zu slots",
                           ncap);
    }
    for (size_t i = 0; i < t->cap; i++) {
        const char *p = t->slots[i];
        if (p == NULL)
            continue;
        size_t j = (size_t)vigil__hash(p, strlen(p), HASH_SEED) & (ncap - 1);
        while (slots[j] != NULL)
            j = (j + 1) & (ncap - 1);
        slots[j] = p;
        tags[j] = t->tags[i];
    }
    vigil__free(t->slots);
    vigil__free(t->tags);
    t->memory += (ncap - t->cap) * (sizeof *slots + sizeof *tags);
    t->slots = slots;
    t->tags = tags;
    t->cap = ncap;
    return VIGIL_OK;
}

/* Room for n bytes that never moves: the head block when it has space, else a new block. */
static char *block_alloc(vigil__tsdb_symtab *t, size_t n)
{
    block *head = t->blocks;
    if (head != NULL && head->cap - head->used >= n) {
        char *p = head->data + head->used;
        head->used += n;
        return p;
    }
    size_t cap = n > BLOCK_OWN_THRESHOLD ? n : BLOCK_SIZE;
    block *b = vigil__malloc(sizeof *b + cap);
    if (b == NULL)
        return NULL;
    b->cap = cap;
    b->used = n;
    if (cap == n && head != NULL) {
        /* A string-sized block: keep filling the current head. */
        b->next = head->next;
        head->next = b;
    } else {
        b->next = head;
        t->blocks = b;
    }
    t->memory += sizeof *b + cap;
    return b->data;
}

static vigil_status insert_locked(vigil__tsdb_symtab *t, const char *s, size_t len, uint64_t h,
                                  const char **out)
{
    if (len + 1 > t->max_bytes - t->bytes)
        return vigil__fail(VIGIL_ELIMIT, "symbol table full: %zu bytes interned, cap %zu", t->bytes,
                           t->max_bytes);
    if ((t->len + 1) * 4 > t->cap * 3) {
        vigil_status st = grow_slots(t);
        if (st != VIGIL_OK)
            return st;
    }
    char *copy = block_alloc(t, len + 1);
    if (copy == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory interning a %zu-byte string", len);
    memcpy(copy, s, len);
    copy[len] = '\0';
    size_t i = probe(t, s, len, h);
    t->slots[i] = copy;
    t->tags[i] = (uint32_t)(h >> 32);
    t->len++;
    t->bytes += len + 1;
    *out = copy;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_symtab_intern(vigil__tsdb_symtab *t, const char *s, size_t len,
                                       const char **out)
{
    *out = NULL;
    if (len > VIGIL__TSDB_LABEL_MAX_LEN)
        return vigil__fail(VIGIL_ELIMIT, "string of %zu bytes: longer than the %zu-byte limit", len,
                           VIGIL__TSDB_LABEL_MAX_LEN);
    if (memchr(s, '\0', len) != NULL)
        return vigil__fail(VIGIL_EINVAL, "string contains a NUL byte");
    uint64_t h = vigil__hash(s, len, HASH_SEED);
    pthread_rwlock_rdlock(&t->lock);
    const char *found = find_locked(t, s, len, h);
    pthread_rwlock_unlock(&t->lock);
    if (found != NULL) {
        *out = found;
        return VIGIL_OK;
    }
    pthread_rwlock_wrlock(&t->lock);
    /* Another writer may have inserted it between the two locks. */
    found = find_locked(t, s, len, h);
    vigil_status st = VIGIL_OK;
    if (found != NULL)
        *out = found;
    else
        st = insert_locked(t, s, len, h, out);
    pthread_rwlock_unlock(&t->lock);
    return st;
}

const char *vigil__tsdb_symtab_find(vigil__tsdb_symtab *t, const char *s, size_t len)
{
    if (len > VIGIL__TSDB_LABEL_MAX_LEN || memchr(s, '\0', len) != NULL)
        return NULL;
    uint64_t h = vigil__hash(s, len, HASH_SEED);
    pthread_rwlock_rdlock(&t->lock);
    const char *found = find_locked(t, s, len, h);
    pthread_rwlock_unlock(&t->lock);
    return found;
}

void vigil__tsdb_symtab_get_stats(vigil__tsdb_symtab *t, vigil__tsdb_symtab_stats *out)
{
    pthread_rwlock_rdlock(&t->lock);
    out->strings = t->len;
    out->bytes = t->bytes;
    out->memory = t->memory;
    pthread_rwlock_unlock(&t->lock);
}

/* ---- names ---------------------------------------------------------------------------------- */

static bool name_chars_valid(const char *s, size_t len, bool colon_ok)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!(alpha || (colon_ok && c == ':') || (digit && i > 0)))
            return false;
    }
    return true;
}

bool vigil__tsdb_label_name_valid(const char *s, size_t len)
{
    return name_chars_valid(s, len, false);
}

bool vigil__tsdb_metric_name_valid(const char *s, size_t len)
{
    return name_chars_valid(s, len, true);
}

/* ---- label sets ----------------------------------------------------------------------------- */

static vigil_status check_pair(const vigil_label *p)
{
    if (p->name == NULL)
        return vigil__fail(VIGIL_EINVAL, "label name is NULL");
    size_t nlen = strlen(p->name);
    if (!vigil__tsdb_label_name_valid(p->name, nlen))
        return vigil__fail(VIGIL_ENAME, "label name \"%.200s\": must match [a-zA-Z_][a-zA-Z0-9_]*",
                           p->name);
    if (p->value == NULL)
        return vigil__fail(VIGIL_EINVAL, "label \"%.200s\": value is NULL", p->name);
    size_t vlen = strlen(p->value);
    if (vlen > VIGIL__TSDB_LABEL_MAX_LEN)
        return vigil__fail(VIGIL_ELIMIT, "label \"%.200s\": value of %zu bytes is longer than %zu",
                           p->name, vlen, VIGIL__TSDB_LABEL_MAX_LEN);
    if (!vigil__utf8_valid(p->value, vlen))
        return vigil__fail(VIGIL_EINVAL, "label \"%.200s\": value is not valid UTF-8", p->name);
    if (vlen > 0 && strcmp(p->name, "__name__") == 0 &&
        !vigil__tsdb_metric_name_valid(p->value, vlen))
        return vigil__fail(VIGIL_ENAME,
                           "metric name \"%.200s\": must match "
                           "[a-zA-Z_:][a-zA-Z0-9_:]*",
                           p->value);
    return VIGIL_OK;
}

static int cmp_pair_name(const void *a, const void *b)
{
    return strcmp(((const vigil_label *)a)->name, ((const vigil_label *)b)->name);
}

static vigil__tsdb_labels *labels_alloc(size_t n)
{
    vigil__tsdb_labels *ls = vigil__malloc(sizeof *ls + n * sizeof ls->l[0]);
    if (ls != NULL)
        ls->n = (uint32_t)n;
    return ls;
}

static vigil_status intern_sorted(vigil__tsdb_symtab *t, const vigil_label *sorted, size_t n,
                                  vigil__tsdb_labels *ls)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (sorted[i].value[0] == '\0')
            continue; /* an empty value is no label at all */
        vigil__tsdb_label *l = &ls->l[k++];
        vigil_status st =
            vigil__tsdb_symtab_intern(t, sorted[i].name, strlen(sorted[i].name), &l->name);
        if (st == VIGIL_OK)
            st = vigil__tsdb_symtab_intern(t, sorted[i].value, strlen(sorted[i].value), &l->value);
        if (st != VIGIL_OK)
            return st;
    }
    ls->n = (uint32_t)k;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_labels_build(vigil__tsdb_symtab *t, const vigil_label *pairs, size_t n,
                                      vigil__tsdb_labels **out)
{
    *out = NULL;
    if (n > VIGIL__TSDB_LABELS_MAX)
        return vigil__fail(VIGIL_ELIMIT, "%zu labels: more than the limit of %d", n,
                           VIGIL__TSDB_LABELS_MAX);
    if (n > 0 && pairs == NULL)
        return vigil__fail(VIGIL_EINVAL, "labels: NULL array of %zu pairs", n);
    /* Checked in the caller's order, so the message names the first bad label as given. */
    for (size_t i = 0; i < n; i++) {
        vigil_status st = check_pair(&pairs[i]);
        if (st != VIGIL_OK)
            return st;
    }
    vigil_label sorted[VIGIL__TSDB_LABELS_MAX];
    size_t nonempty = 0;
    for (size_t i = 0; i < n; i++) {
        sorted[i] = pairs[i];
        nonempty += pairs[i].value[0] != '\0';
    }
    if (n > 1)
        qsort(sorted, n, sizeof sorted[0], cmp_pair_name);
    for (size_t i = 1; i < n; i++) {
        if (strcmp(sorted[i - 1].name, sorted[i].name) == 0)
            return vigil__fail(VIGIL_ELABELS, "duplicate label name \"%.200s\"", sorted[i].name);
    }
    vigil__tsdb_labels *ls = labels_alloc(nonempty);
    if (ls == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory building a set of %zu labels", nonempty);
    vigil_status st = intern_sorted(t, sorted, n, ls);
    if (st != VIGIL_OK) {
        vigil__free(ls);
        return st;
    }
    *out = ls;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_labels_clone(const vigil__tsdb_labels *ls, vigil__tsdb_labels **out)
{
    *out = labels_alloc(ls->n);
    if (*out == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory copying a set of %u labels", ls->n);
    memcpy((*out)->l, ls->l, ls->n * sizeof ls->l[0]);
    return VIGIL_OK;
}

void vigil__tsdb_labels_free(vigil__tsdb_labels *ls)
{
    vigil__free(ls);
}

const char *vigil__tsdb_labels_get(const vigil__tsdb_labels *ls, const char *name)
{
    size_t lo = 0, hi = ls->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *m = ls->l[mid].name;
        int c = m == name ? 0 : strcmp(m, name);
        if (c == 0)
            return ls->l[mid].value;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

uint64_t vigil__tsdb_labels_hash(const vigil__tsdb_labels *ls)
{
    /* Chained: each call mixes in its string's length, so ("ab","c") and ("a","bc") differ. */
    uint64_t h = LABELS_SEED;
    for (uint32_t i = 0; i < ls->n; i++) {
        h = vigil__hash(ls->l[i].name, strlen(ls->l[i].name), h);
        h = vigil__hash(ls->l[i].value, strlen(ls->l[i].value), h);
    }
    return h;
}

static int str_cmp(const char *a, const char *b)
{
    return a == b ? 0 : strcmp(a, b);
}

int vigil__tsdb_labels_compare(const vigil__tsdb_labels *a, const vigil__tsdb_labels *b)
{
    uint32_t n = a->n < b->n ? a->n : b->n;
    for (uint32_t i = 0; i < n; i++) {
        int c = str_cmp(a->l[i].name, b->l[i].name);
        if (c == 0)
            c = str_cmp(a->l[i].value, b->l[i].value);
        if (c != 0)
            return c;
    }
    return (a->n > b->n) - (a->n < b->n);
}

bool vigil__tsdb_labels_equal(const vigil__tsdb_labels *a, const vigil__tsdb_labels *b)
{
    if (a->n != b->n)
        return false;
    for (uint32_t i = 0; i < a->n; i++) {
        if (str_cmp(a->l[i].name, b->l[i].name) != 0 || str_cmp(a->l[i].value, b->l[i].value) != 0)
            return false;
    }
    return true;
}

static vigil_status append_str(vigil_buffer *out, const char *s)
{
    return vigil_buffer_append(out, s, strlen(s));
}

/* The value with the exposition's three escapes, copied run by run. */
static vigil_status append_escaped(vigil_buffer *out, const char *v)
{
    vigil_status st = VIGIL_OK;
    const char *run = v;
    for (const char *p = v; *p != '\0' && st == VIGIL_OK; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (esc == NULL)
            continue;
        st = vigil_buffer_append(out, run, (size_t)(p - run));
        if (st == VIGIL_OK)
            st = vigil_buffer_append(out, esc, 2);
        run = p + 1;
    }
    return st != VIGIL_OK ? st : append_str(out, run);
}

/* Appends `name="value"`, preceded by a comma unless first. */
static vigil_status append_pair(vigil_buffer *out, const vigil__tsdb_label *l, bool first)
{
    vigil_status st = first ? VIGIL_OK : vigil_buffer_append(out, ",", 1);
    if (st == VIGIL_OK)
        st = append_str(out, l->name);
    if (st == VIGIL_OK)
        st = vigil_buffer_append(out, "=\"", 2);
    if (st == VIGIL_OK)
        st = append_escaped(out, l->value);
    return st != VIGIL_OK ? st : vigil_buffer_append(out, "\"", 1);
}

vigil_status vigil__tsdb_labels_format(const vigil__tsdb_labels *ls, vigil_buffer *out)
{
    const char *metric = vigil__tsdb_labels_get(ls, "__name__");
    vigil_status st = metric != NULL ? append_str(out, metric) : VIGIL_OK;
    if (st != VIGIL_OK || (metric != NULL && ls->n == 1))
        return st;
    st = vigil_buffer_append(out, "{", 1);
    bool first = true;
    for (uint32_t i = 0; i < ls->n && st == VIGIL_OK; i++) {
        if (metric != NULL && strcmp(ls->l[i].name, "__name__") == 0)
            continue;
        st = append_pair(out, &ls->l[i], first);
        first = false;
    }
    return st != VIGIL_OK ? st : vigil_buffer_append(out, "}", 1);
}
