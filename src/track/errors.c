/* errors.c — the error-rate tracker: successes, errors by kind, and per-second rings for
 * "error rate over the last N seconds".
 *
 * Kinds live in a fixed open-addressing table sized at creation (a power of two at least twice
 * max_kinds + 1, so probing always ends at an empty slot). A slot's name pointer is published
 * once with a release store after its hash is written and is never changed or removed while the
 * tracker lives; so finding an existing kind is a hash and a probe with acquire loads, no lock,
 * and its count is one relaxed atomic add. Only the first error of a new kind takes the mutex,
 * to copy the name and claim a slot. Once max_kinds names are held, a `full` flag lets unknown
 * kinds go straight to the overflow slot without the mutex.
 *
 * The overflow kind ("other" by default) is an ordinary slot inserted at creation, so an error
 * the caller names "other" and an error redirected there are the same series. Every redirected
 * error is also counted in `overflowed`: nothing is dropped, and the caller can see how much
 * the cap hid.
 */
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "track/track_int.h"

#define HASH_SEED 0x7472616b6b696e64ull

struct kind_slot {
    _Atomic(char *) kind; /* NULL: empty; set once under lock (release) */
    uint64_t hash;        /* written before kind is published */
    _Atomic uint64_t count;
};

struct vigil_errors {
    struct kind_slot *slots; /* cap entries, fixed */
    size_t mask;             /* cap - 1 */
    size_t max_kinds;
    size_t overflow;      /* index of the overflow kind's slot */
    pthread_mutex_t lock; /* guards insertion: used, slot claims */
    size_t used;          /* named kinds held (not the overflow); guarded by lock */
    atomic_bool full;     /* used == max_kinds */
    _Atomic uint64_t successes;
    _Atomic uint64_t overflowed;
    vigil__clock clock;   /* fixed at creation */
    vigil__ring requests; /* successes + errors per second */
    vigil__ring errors;   /* errors per second */
    vigil__link link;
};

VIGIL_API void vigil_errors_opts_init(vigil_errors_opts *opts)
{
    if (opts != NULL)
        memset(opts, 0, sizeof *opts);
}

static bool kind_valid(const char *kind)
{
    if (kind == NULL)
        return false;
    size_t len = strnlen(kind, VIGIL_ERRORS_KIND_MAX + 1);
    return len > 0 && len <= VIGIL_ERRORS_KIND_MAX && vigil__utf8_valid(kind, len);
}

/* The slot holding kind, or the empty slot where it would go (its kind is then NULL). */
static size_t probe(const vigil_errors *t, const char *kind, uint64_t h, char **found)
{
    size_t i = (size_t)h & t->mask;
    for (;;) {
        char *k = atomic_load_explicit(&t->slots[i].kind, memory_order_acquire);
        if (k == NULL || (t->slots[i].hash == h && strcmp(k, kind) == 0)) {
            *found = k;
            return i;
        }
        i = (i + 1) & t->mask;
    }
}

/* Claims an empty slot for kind; lock held. Returns the slot index or SIZE_MAX. */
static size_t insert_locked(vigil_errors *t, const char *kind, uint64_t h)
{
    char *found;
    size_t i = probe(t, kind, h, &found);
    if (found != NULL)
        return i;
    char *copy = vigil__strdup(kind);
    if (copy == NULL)
        return SIZE_MAX;
    t->slots[i].hash = h;
    atomic_store_explicit(&t->slots[i].kind, copy, memory_order_release);
    return i;
}

static vigil_status collect(vigil_emitter *em, void *user);
static const char *const errors_suffixes[] = {"_requests_total", "_errors_total"};

VIGIL_API vigil_status vigil_errors_new(const vigil_errors_opts *opts, vigil_errors **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "out is NULL");
    vigil_errors_opts def;
    if (opts == NULL) {
        vigil_errors_opts_init(&def);
        opts = &def;
    }
    size_t max_kinds = opts->max_kinds ? opts->max_kinds : VIGIL_ERRORS_DEFAULT_MAX_KINDS;
    if (max_kinds > VIGIL_ERRORS_MAX_KINDS)
        return vigil__fail(VIGIL_EINVAL, "max_kinds %zu is above %d", max_kinds,
                           VIGIL_ERRORS_MAX_KINDS);
    const char *overflow = opts->overflow_kind ? opts->overflow_kind : "other";
    if (!kind_valid(overflow))
        return vigil__fail(VIGIL_EINVAL, "the overflow kind must be 1..%d bytes of UTF-8",
                           VIGIL_ERRORS_KIND_MAX);
    unsigned window = opts->window_seconds ? opts->window_seconds : VIGIL_TRACK_DEFAULT_WINDOW;

    vigil_errors *t = vigil__calloc(1, sizeof *t);
    if (t == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating an error tracker");
    size_t cap = 4;
    while (cap < 2 * (max_kinds + 1))
        cap *= 2;
    t->mask = cap - 1;
    t->max_kinds = max_kinds;
    pthread_mutex_init(&t->lock, NULL);
    vigil__clock_init(&t->clock, opts->clock, opts->clock_user);
    vigil_status st = VIGIL_OK;
    t->slots = vigil__calloc(cap, sizeof *t->slots);
    if (t->slots == NULL)
        st = vigil__fail(VIGIL_ENOMEM, "out of memory creating an error tracker");
    if (st == VIGIL_OK)
        st = vigil__ring_init(&t->requests, window);
    if (st == VIGIL_OK)
        st = vigil__ring_init(&t->errors, window);
    if (st == VIGIL_OK) {
        t->overflow = insert_locked(t, overflow, vigil__hash_str(overflow, HASH_SEED));
        if (t->overflow == SIZE_MAX)
            st = vigil__fail(VIGIL_ENOMEM, "out of memory creating an error tracker");
    }
    if (st == VIGIL_OK && opts->registry != NULL)
        st = vigil__link_add(&t->link, opts->registry, "errors", opts->name, opts->help,
                             errors_suffixes, 2, collect, t);
    if (st != VIGIL_OK) {
        vigil_errors_free(t);
        return st;
    }
    *out = t;
    return VIGIL_OK;
}

VIGIL_API void vigil_errors_free(vigil_errors *t)
{
    if (t == NULL)
        return;
    vigil__link_remove(&t->link);
    if (t->slots != NULL) {
        for (size_t i = 0; i <= t->mask; i++)
            vigil__free(atomic_load_explicit(&t->slots[i].kind, memory_order_relaxed));
    }
    vigil__free(t->slots);
    vigil__ring_free(&t->requests);
    vigil__ring_free(&t->errors);
    pthread_mutex_destroy(&t->lock);
    vigil__free(t);
}

uint64_t vigil__errors_now_sec(const vigil_errors *t)
{
    return vigil__clock_elapsed_ns(&t->clock) / 1000000000u;
}

VIGIL_API void vigil_errors_record_successes(vigil_errors *t, uint64_t n)
{
    atomic_fetch_add_explicit(&t->successes, n, memory_order_relaxed);
    vigil__ring_add(&t->requests, vigil__errors_now_sec(t), n);
}

VIGIL_API void vigil_errors_record_success(vigil_errors *t)
{
    vigil_errors_record_successes(t, 1);
}

/* The slot an error of this kind is counted in; takes the lock only for a new kind. */
static size_t slot_for(vigil_errors *t, const char *kind, bool *redirected)
{
    *redirected = false;
    if (VIGIL_LIKELY(kind != NULL)) {
        uint64_t h = vigil__hash_str(kind, HASH_SEED);
        char *found;
        size_t i = probe(t, kind, h, &found);
        if (VIGIL_LIKELY(found != NULL))
            return i;
        if (!atomic_load_explicit(&t->full, memory_order_relaxed) && kind_valid(kind)) {
            pthread_mutex_lock(&t->lock);
            size_t j = SIZE_MAX;
            i = probe(t, kind, h, &found);
            if (found != NULL) {
                j = i;
            } else if (t->used < t->max_kinds) {
                j = insert_locked(t, kind, h);
                if (j != SIZE_MAX && ++t->used == t->max_kinds)
                    atomic_store_explicit(&t->full, true, memory_order_relaxed);
            }
            pthread_mutex_unlock(&t->lock);
            if (j != SIZE_MAX)
                return j;
        }
    }
    *redirected = true;
    return t->overflow;
}

VIGIL_API void vigil_errors_record_errors(vigil_errors *t, const char *kind, uint64_t n)
{
    bool redirected;
    size_t i = slot_for(t, kind, &redirected);
    atomic_fetch_add_explicit(&t->slots[i].count, n, memory_order_relaxed);
    if (redirected)
        atomic_fetch_add_explicit(&t->overflowed, n, memory_order_relaxed);
    uint64_t sec = vigil__errors_now_sec(t);
    vigil__ring_add(&t->errors, sec, n);
    vigil__ring_add(&t->requests, sec, n);
}

VIGIL_API void vigil_errors_record_error(vigil_errors *t, const char *kind)
{
    vigil_errors_record_errors(t, kind, 1);
}

/* --- reads --------------------------------------------------------------------------------- */

VIGIL_API uint64_t vigil_errors_successes(const vigil_errors *t)
{
    return atomic_load_explicit(&t->successes, memory_order_relaxed);
}

VIGIL_API uint64_t vigil_errors_total(const vigil_errors *t)
{
    uint64_t sum = 0;
    for (size_t i = 0; i <= t->mask; i++)
        sum += atomic_load_explicit(&t->slots[i].count, memory_order_relaxed);
    return sum;
}

VIGIL_API uint64_t vigil_errors_requests(const vigil_errors *t)
{
    return vigil_errors_successes(t) + vigil_errors_total(t);
}

VIGIL_API double vigil_errors_rate(const vigil_errors *t)
{
    uint64_t e = vigil_errors_total(t), s = vigil_errors_successes(t);
    return e + s ? (double)e / (double)(e + s) : NAN;
}

VIGIL_API double vigil_errors_success_rate(const vigil_errors *t)
{
    uint64_t e = vigil_errors_total(t), s = vigil_errors_successes(t);
    return e + s ? (double)s / (double)(e + s) : NAN;
}

VIGIL_API void vigil_errors_recent(const vigil_errors *t, unsigned seconds, uint64_t *requests,
                                   uint64_t *errors)
{
    uint64_t now = vigil__errors_now_sec(t);
    /* Errors first: an error recorded between the two reads then counts as a request without
     * counting as an error, never the other way round (errors <= requests). */
    uint64_t e = vigil__ring_sum(&t->errors, now, seconds);
    uint64_t r = vigil__ring_sum(&t->requests, now, seconds);
    if (e > r)
        r = e;
    if (requests != NULL)
        *requests = r;
    if (errors != NULL)
        *errors = e;
}

VIGIL_API double vigil_errors_recent_rate(const vigil_errors *t, unsigned seconds)
{
    uint64_t r, e;
    vigil_errors_recent(t, seconds, &r, &e);
    return r ? (double)e / (double)r : NAN;
}

VIGIL_API uint64_t vigil_errors_kind_count(const vigil_errors *t, const char *kind)
{
    if (kind == NULL)
        return 0;
    char *found;
    size_t i = probe(t, kind, vigil__hash_str(kind, HASH_SEED), &found);
    return found ? atomic_load_explicit(&t->slots[i].count, memory_order_relaxed) : 0;
}

VIGIL_API size_t vigil_errors_kinds(const vigil_errors *t)
{
    size_t n = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        if (i != t->overflow && atomic_load_explicit(&t->slots[i].kind, memory_order_acquire))
            n++;
    }
    return n;
}

VIGIL_API uint64_t vigil_errors_overflowed(const vigil_errors *t)
{
    return atomic_load_explicit(&t->overflowed, memory_order_relaxed);
}

VIGIL_API const char *vigil_errors_overflow_kind(const vigil_errors *t)
{
    return atomic_load_explicit(&t->slots[t->overflow].kind, memory_order_relaxed);
}

static bool ranks_before(const vigil_error_count *a, const vigil_error_count *b)
{
    return a->count > b->count || (a->count == b->count && strcmp(a->kind, b->kind) < 0);
}

VIGIL_API size_t vigil_errors_top(const vigil_errors *t, vigil_error_count *out, size_t k)
{
    if (out == NULL || k == 0)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i <= t->mask; i++) {
        const char *kind = atomic_load_explicit(&t->slots[i].kind, memory_order_acquire);
        uint64_t c = atomic_load_explicit(&t->slots[i].count, memory_order_relaxed);
        if (kind == NULL || c == 0)
            continue;
        vigil_error_count e = {kind, c};
        if (n == k && !ranks_before(&e, &out[k - 1]))
            continue;
        size_t j = n < k ? n++ : k - 1; /* insertion sort into the bounded list */
        while (j > 0 && ranks_before(&e, &out[j - 1])) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = e;
    }
    return n;
}

VIGIL_API const char *vigil_errors_most_common(const vigil_errors *t, uint64_t *count)
{
    vigil_error_count top;
    size_t n = vigil_errors_top(t, &top, 1);
    if (count != NULL)
        *count = n ? top.count : 0;
    return n ? top.kind : NULL;
}

vigil_status vigil__errors_each(const vigil_errors *t, vigil__kind_visit fn, void *ctx)
{
    for (size_t i = 0; i <= t->mask; i++) {
        const char *kind = atomic_load_explicit(&t->slots[i].kind, memory_order_acquire);
        if (kind == NULL)
            continue;
        vigil_status st =
            fn(ctx, kind, atomic_load_explicit(&t->slots[i].count, memory_order_relaxed));
        if (st != VIGIL_OK)
            return st;
    }
    return VIGIL_OK;
}

/* --- exposition ---------------------------------------------------------------------------- */

struct emit_kinds {
    vigil_emitter *em;
};

static vigil_status emit_kind(void *ctx, const char *kind, uint64_t count)
{
    struct emit_kinds *e = ctx;
    vigil_label l = {"kind", kind};
    return vigil_emit_sample(e->em, &l, 1, (double)count);
}

static vigil_status collect(vigil_emitter *em, void *user)
{
    vigil_errors *t = user;
    const char *base = t->link.base;
    char name[256], help[512];
    /* Errors are read before successes so that requests >= errors in the same scrape. */
    uint64_t errors = vigil_errors_total(t);
    uint64_t requests = errors + vigil_errors_successes(t);
    vigil__join(name, sizeof name, base, "_requests");
    snprintf(help, sizeof help, "Requests of %s recorded, successful or not.", base);
    vigil_family_desc req = {name, help, NULL, VIGIL_COUNTER};
    vigil_status st = vigil_emit_family(em, &req);
    if (st == VIGIL_OK)
        st = vigil_emit_sample(em, NULL, 0, (double)requests);
    if (st != VIGIL_OK)
        return st;
    vigil__join(name, sizeof name, base, "_errors");
    if (t->link.help == NULL)
        snprintf(help, sizeof help,
                 "Failed requests of %s by error kind (kinds beyond the cap "
                 "are counted as \"%s\").",
                 base, vigil_errors_overflow_kind(t));
    vigil_family_desc err = {name, t->link.help ? t->link.help : help, NULL, VIGIL_COUNTER};
    st = vigil_emit_family(em, &err);
    struct emit_kinds ctx = {em};
    return st == VIGIL_OK ? vigil__errors_each(t, emit_kind, &ctx) : st;
}
