/* sketch.c — the relative-error quantile sketch (DDSketch, Masson et al., VLDB 2019) with the
 * bucket ratio γ = 2^(1/64), so that bucket indexes are Prometheus native-histogram indexes of
 * schema 6 and the worst relative error is (γ-1)/(γ+1) ≈ 0.54 %.
 *
 * Layout: a ring of VIGIL_SKETCH_BUCKETS atomic counts. The live index range [base, top] is one
 * 64-bit atomic word (both halves read together); index i lives in slot i mod K. Values below
 * base are counted in base (the low end collapses); a value above top moves the window up:
 *   1. publish (new base, old top): recorders now clamp low values to the new base and can only
 *      touch slots of [new base, old top], none of which is about to be recycled;
 *   2. wait until every record that could have read the old base has finished (the epochs of
 *      epoch.c: recorders announce with plain stores, the mover pays one membarrier);
 *   3. move the counts of the abandoned indexes into the new base bucket, zeroing their slots;
 *   4. publish (new base, new base + K - 1): the recycled slots become the new top.
 * So no count is ever lost or misplaced, the total count stays exact, and only the lowest
 * buckets lose resolution. The count is not stored: it is the sum of the buckets, which keeps a
 * record to two atomic read-modify-writes (its bucket and the sum). Readers copy the buckets
 * under a sequence number that every move bumps and retry a copy that overlapped a move, so a
 * read never sees counts in transit (or the inverted window of a jump wider than K).
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "metrics/metrics_int.h"
#include "vigil/sketch.h"

#define K VIGIL_SKETCH_BUCKETS
#define SUBBUCKETS 64 /* 2^schema */
#define UNANCHORED UINT64_MAX

struct vigil_sketch {
    _Atomic uint64_t window; /* base (low 32 bits) and top (high 32), as int32; UNANCHORED */
    _Atomic uint32_t moving; /* a sequence, odd while a thread moves the window (the movers'
                              * lock); a read that overlapped a move sees it change and retries */
    _Atomic uint64_t zero_count;
    _Atomic uint64_t rejected;
    _Atomic uint64_t sum_bits, min_bits, max_bits;
    _Atomic uint64_t buckets[K];
};

_Static_assert(sizeof(struct vigil_sketch) <= 16384, "a sketch must fit in 16 KiB");

/* --- bucket index (schema 6) ----------------------------------------------------------------- */

/* bounds[j] ≈ 2^(j/64) / 2: the mantissa fraction (in [0.5, 1)) where sub-bucket j ends.
 * These are Prometheus's own schema-6 bounds, copied from client_golang (nativeHistogramBounds),
 * not computed here: 37 of them are 1-2 ulps below the correctly rounded 2^(j/64) / 2 that
 * exp2 gives, and only the same doubles put a value that sits exactly on a boundary into the
 * same bucket as Prometheus does. bounds[64] = 1 is a sentinel no fraction reaches. */
static const double bounds[SUBBUCKETS + 1] = {
    0.5, 0.5054446430258502, 0.5109485743270583, 0.5165124395106142,
    0.5221368912137069, 0.5278225891802786, 0.5335702003384117, 0.5393803988785598,
    0.5452538663326288, 0.5511912916539204, 0.5571933712979462, 0.5632608093041209,
    0.5693943173783458, 0.5755946149764913, 0.5818624293887887, 0.5881984958251406,
    0.5946035575013605, 0.6010783657263515, 0.6076236799902344, 0.6142402680534349,
    0.620928906036742, 0.6276903785123455, 0.6345254785958666, 0.6414350080393891,
    0.6484197773255048, 0.6554806057623822, 0.6626183215798706, 0.6698337620266515,
    0.6771277734684463, 0.6845012114872953, 0.6919549409819159, 0.6994898362691555,
    0.7071067811865475, 0.7148066691959849, 0.7225904034885232, 0.7304588970903234,
    0.7384130729697496, 0.7464538641456323, 0.7545822137967112, 0.762799075372269,
    0.7711054127039704, 0.7795022001189185, 0.7879904225539431, 0.7965710756711334,
    0.805245165974627, 0.8140137109286738, 0.8228777390769823, 0.8318382901633681,
    0.8408964152537144, 0.8500531768592616, 0.8593096490612387, 0.8686669176368529,
    0.8781260801866495, 0.8876882462632604, 0.8973545375015533, 0.9071260877501991,
    0.9170040432046711, 0.9269895625416926, 0.9370838170551498, 0.9472879907934827,
    0.9576032806985735, 0.9680308967461471, 0.9785720620876999, 0.9892280131939752,
    1,
};
static uint8_t first_candidate[256];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
    /* For each top-8-bit mantissa slice [0.5 + m/512, 0.5 + (m+1)/512), the first sub-bucket
     * whose bound is >= the slice's start. A fraction in the slice belongs to it or to the next
     * one, never further: consecutive bounds are >= 0.5 (γ - 1) ≈ 0.0054 apart, more than a
     * slice (1/512 ≈ 0.002). */
    for (int m = 0; m < 256; m++) {
        double lo = 0.5 + (double)m / 512;
        int j = 0;
        while (j < SUBBUCKETS && bounds[j] < lo)
            j++;
        first_candidate[m] = (uint8_t)j;
    }
}

/* Subnormals (and 0): frexp normalises them. Kept out of line, off the hot path. */
static __attribute__((noinline)) int32_t index_of_subnormal(double v)
{
    int exp;
    double frac = frexp(v, &exp); /* v = frac * 2^exp, frac in [0.5, 1) */
    uint64_t bits;
    memcpy(&bits, &frac, sizeof bits);
    int j = first_candidate[(bits >> 44) & 0xFF];
    j += bounds[j] < frac;
    return (int32_t)j + (int32_t)(exp - 1) * SUBBUCKETS;
}

/* The bucket of |v| (v finite; +-Inf and NaN land above every finite value). The exponent and
 * mantissa are read from the bits: v = frac * 2^(e - 1022) with frac = 0.mantissa in [0.5, 1),
 * which is what frexp returns for normal numbers, without its call. */
static inline int32_t index_of(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bits &= ~(UINT64_C(1) << 63);
    int32_t e = (int32_t)(bits >> 52);
    if (VIGIL_UNLIKELY(e == 0))
        return index_of_subnormal(v);
    uint64_t mant = bits & ((UINT64_C(1) << 52) - 1);
    uint64_t frac_bits = mant | UINT64_C(0x3FE0000000000000);
    double frac;
    memcpy(&frac, &frac_bits, sizeof frac);
    int32_t j = first_candidate[mant >> 44];
    j += bounds[j] < frac;
    return j + (e - 1023) * SUBBUCKETS;
}

VIGIL_API int32_t vigil_sketch_index(double v)
{
    pthread_once(&tables_once, make_tables);
    return index_of(v);
}

VIGIL_API double vigil_sketch_bucket_upper(int32_t index)
{
    int32_t j = (int32_t)(((int64_t)index % SUBBUCKETS + SUBBUCKETS) % SUBBUCKETS);
    int32_t octave = (int32_t)(((int64_t)index - j) / SUBBUCKETS);
    return ldexp(2 * bounds[j], octave);
}

/* The value reported for bucket i: equally far, in relative terms, from both its ends. */
static double representative(int32_t i)
{
    static const double gamma_ = 1.0108892860517005; /* 2^(1/64) */
    return 2 * vigil_sketch_bucket_upper(i) / (gamma_ + 1);
}

/* --- window ---------------------------------------------------------------------------------- */

static inline uint64_t pack(int32_t base, int32_t top)
{
    return (uint64_t)(uint32_t)base | ((uint64_t)(uint32_t)top << 32);
}

static inline int32_t base_of(uint64_t w)
{
    return (int32_t)(uint32_t)w;
}

static inline int32_t top_of(uint64_t w)
{
    return (int32_t)(uint32_t)(w >> 32);
}

/* i mod K, as a non-negative slot. Every index a window can hold is within 2^17 of 0 (doubles
 * span -68736 .. 65536, windows reach K beyond), so adding a multiple of K that is larger keeps
 * the congruence and makes an unsigned modulo by a constant: a multiply and a shift, not the
 * signed division's fix-ups (~1 ns a record). */
static inline size_t slot_of(int32_t i)
{
    return (uint32_t)(i + 128 * K) % K;
}

/* Takes the movers' lock by making the sequence odd. Every bucket or window write of a move is a
 * release and readers load buckets and window with acquire, so a reader that sees any of them
 * also sees the sequence changed (a seqlock without fences, which GCC's ThreadSanitizer would
 * refuse; on x86 those orders cost nothing). Readers never block recorders, and a move never
 * waits for readers. */
static void lock_moving(vigil_sketch *s)
{
    uint32_t seq = atomic_load_explicit(&s->moving, memory_order_relaxed);
    for (;;) {
        if (seq & 1) {
            sched_yield();
            seq = atomic_load_explicit(&s->moving, memory_order_relaxed);
        } else if (atomic_compare_exchange_weak_explicit(&s->moving, &seq, seq + 1,
                                                         memory_order_acquire,
                                                         memory_order_relaxed)) {
            break;
        }
    }
}

static void unlock_moving(vigil_sketch *s)
{
    atomic_fetch_add_explicit(&s->moving, 1, memory_order_release);
}

/* A read of the buckets that must not overlap a move (during one, counts are in transit between
 * slots and the window may even be inverted): read_begin waits out a move in progress,
 * read_retry says whether one happened since. */
static uint32_t read_begin(const vigil_sketch *s)
{
    for (;;) {
        uint32_t seq = atomic_load_explicit(&s->moving, memory_order_acquire);
        if (!(seq & 1))
            return seq;
        sched_yield();
    }
}

/* (The acquire loads before it keep this load after them.) */
static bool read_retry(const vigil_sketch *s, uint32_t seq)
{
    return atomic_load_explicit(&s->moving, memory_order_relaxed) != seq;
}

/* Waits until no record that started before now can still be running. */
static void wait_for_records(void)
{
    uint64_t tag = vigil__epoch_retire_tag();
    for (;;) {
        vigil__epoch_sync();
        if (vigil__epoch_safe(tag))
            return;
        sched_yield();
    }
}

/* Recycles the slots of indexes [from, to) after a move: waits until no record can still be
 * writing to them under the old window, then returns their counts (zeroing them). */
static uint64_t drain(vigil_sketch *s, int32_t from, int32_t to)
{
    wait_for_records();
    uint64_t moved = 0;
    if ((int64_t)to - from >= K) {
        for (size_t k = 0; k < K; k++)
            moved += atomic_exchange_explicit(&s->buckets[k], 0, memory_order_release);
        return moved;
    }
    for (int32_t j = from; j < to; j++)
        moved += atomic_exchange_explicit(&s->buckets[slot_of(j)], 0, memory_order_release);
    return moved;
}

/* Moves the window up so that it ends at i; the counts below the new base collapse into it. */
static void move_up(vigil_sketch *s, uint64_t w, int32_t i)
{
    int32_t old_base = base_of(w), new_base = i - K + 1;
    atomic_store_explicit(&s->window, pack(new_base, top_of(w)), memory_order_release);
    uint64_t moved = drain(s, old_base, new_base);
    atomic_fetch_add_explicit(&s->buckets[slot_of(new_base)], moved, memory_order_release);
    atomic_store_explicit(&s->window, pack(new_base, new_base + K - 1), memory_order_release);
}

/* Moves the window down to start at i, provided nothing above the new top was recorded. */
static void move_down(vigil_sketch *s, uint64_t w, int32_t i)
{
    int32_t new_top = i + K - 1;
    /* Records above new_top now wait for us (they must extend the window, which we hold). */
    atomic_store_explicit(&s->window, pack(base_of(w), new_top), memory_order_release);
    wait_for_records();
    for (int32_t j = new_top + 1; j <= top_of(w); j++) {
        if (atomic_load_explicit(&s->buckets[slot_of(j)], memory_order_relaxed) != 0) {
            /* A value above new_top got in before the maximum showed it: keep the window. */
            atomic_store_explicit(&s->window, w, memory_order_release);
            return;
        }
    }
    /* Those slots are empty and nobody can write them: they become [i, old base). */
    atomic_store_explicit(&s->window, pack(i, new_top), memory_order_release);
}

/* True when the highest value recorded leaves room to move the window down. (A record sets the
 * maximum before it adds to its bucket, so a value still on its way is already counted here.) */
static bool room_below(const vigil_sketch *s, uint64_t w)
{
    double max = vigil__u2d(atomic_load_explicit(&s->max_bits, memory_order_relaxed));
    return max > 0 && index_of(max) < top_of(w);
}

/* Makes index i part of the window: anchors an empty sketch around it, moves the window up to
 * it, or down to it while the highest value recorded still fits. */
static void extend_to(vigil_sketch *s, int32_t i)
{
    lock_moving(s);
    uint64_t w = atomic_load_explicit(&s->window, memory_order_acquire);
    if (w == UNANCHORED) {
        int32_t base = i - K / 2;
        atomic_store_explicit(&s->window, pack(base, base + K - 1), memory_order_release);
    } else if (i > top_of(w)) {
        move_up(s, w, i);
    } else if (i < base_of(w) && room_below(s, w)) {
        int32_t highest = index_of(vigil__u2d(atomic_load_explicit(&s->max_bits,
                                                                   memory_order_acquire)));
        /* The maximum collapsed into base (it raced the anchoring record): base has counts. */
        if (highest < base_of(w))
            highest = base_of(w);
        int32_t lowest_possible = highest - K + 1;
        int32_t target = i > lowest_possible ? i : lowest_possible;
        if (target < base_of(w))
            move_down(s, w, target);
    }
    unlock_moving(s);
}

/* The rare cases of add_at: an empty sketch, a value below the window (collapse, or move the
 * window down) or above it (move it up). */
static __attribute__((noinline)) void add_outside(vigil_sketch *s, int32_t i, uint64_t n)
{
    for (;;) {
        _Atomic uint64_t *announced = vigil__epoch_enter();
        uint64_t w = atomic_load_explicit(&s->window, memory_order_acquire);
        if (VIGIL_LIKELY(w != UNANCHORED && i <= top_of(w))) {
            int32_t at = i;
            if (VIGIL_UNLIKELY(i < base_of(w)) && !room_below(s, w)) {
                at = base_of(w); /* the range is wider than the window: collapse */
            } else if (VIGIL_UNLIKELY(i < base_of(w))) {
                vigil__epoch_exit(announced);
                extend_to(s, i);
                continue;
            }
            atomic_fetch_add_explicit(&s->buckets[slot_of(at)], n, memory_order_relaxed);
            vigil__epoch_exit(announced);
            return;
        }
        vigil__epoch_exit(announced);
        extend_to(s, i);
    }
}

/* Adds n to bucket i, collapsing below the window and moving it up above. The common case, i
 * inside the window, is inlined into record. */
static inline void add_at(vigil_sketch *s, int32_t i, uint64_t n)
{
    _Atomic uint64_t *announced = vigil__epoch_enter();
    uint64_t w = atomic_load_explicit(&s->window, memory_order_acquire);
    if (VIGIL_LIKELY(w != UNANCHORED && i >= base_of(w) && i <= top_of(w))) {
        atomic_fetch_add_explicit(&s->buckets[slot_of(i)], n, memory_order_relaxed);
        vigil__epoch_exit(announced);
        return;
    }
    vigil__epoch_exit(announced);
    add_outside(s, i, n);
}

static void update_extremes(vigil_sketch *s, double v)
{
    uint64_t old = atomic_load_explicit(&s->min_bits, memory_order_relaxed);
    while (v < vigil__u2d(old) &&
           !atomic_compare_exchange_weak_explicit(&s->min_bits, &old, vigil__d2u(v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
    old = atomic_load_explicit(&s->max_bits, memory_order_relaxed);
    while (v > vigil__u2d(old) &&
           !atomic_compare_exchange_weak_explicit(&s->max_bits, &old, vigil__d2u(v),
                                                  memory_order_relaxed, memory_order_relaxed)) {
    }
}

/* --- public API ------------------------------------------------------------------------------ */

/* (The movers' sequence is left alone: zeroing it under a racing move would let a second mover
 * in, and a reader would miss the move.) */
VIGIL_API void vigil_sketch_reset(vigil_sketch *s)
{
    atomic_store_explicit(&s->window, UNANCHORED, memory_order_relaxed);
    atomic_store_explicit(&s->zero_count, 0, memory_order_relaxed);
    atomic_store_explicit(&s->rejected, 0, memory_order_relaxed);
    atomic_store_explicit(&s->sum_bits, vigil__d2u(0), memory_order_relaxed);
    atomic_store_explicit(&s->min_bits, vigil__d2u(INFINITY), memory_order_relaxed);
    atomic_store_explicit(&s->max_bits, vigil__d2u(-INFINITY), memory_order_relaxed);
    for (size_t k = 0; k < K; k++)
        atomic_store_explicit(&s->buckets[k], 0, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
}

VIGIL_API vigil_status vigil_sketch_new(vigil_sketch **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "result pointer is NULL");
    pthread_once(&tables_once, make_tables);
    vigil__shards_init();
    vigil_sketch *s = vigil__malloc(sizeof *s);
    if (s == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a sketch");
    atomic_init(&s->moving, 0);
    vigil_sketch_reset(s);
    *out = s;
    return VIGIL_OK;
}

VIGIL_API void vigil_sketch_free(vigil_sketch *s)
{
    vigil__free(s);
}

VIGIL_API size_t vigil_sketch_size(void)
{
    return sizeof(struct vigil_sketch);
}

/* The extremes come first: their loads then overlap the index computation instead of waiting
 * behind the locked adds (~2 ns a record), and the window logic knows a value's maximum no later
 * than its bucket (see room_below). A concurrent read may so see a maximum whose count it does
 * not see yet; quantiles are clamped to [min, max] either way. */
static inline void record(vigil_sketch *s, double v, uint64_t n)
{
    if (VIGIL_UNLIKELY(!(v >= 0) || v == INFINITY)) {
        atomic_fetch_add_explicit(&s->rejected, n, memory_order_relaxed);
        return;
    }
    if (VIGIL_UNLIKELY(n == 0))
        return;
    if (VIGIL_UNLIKELY(v == 0)) {
        update_extremes(s, 0.0); /* -0 is recorded as +0 */
        atomic_fetch_add_explicit(&s->zero_count, n, memory_order_relaxed);
        return;
    }
    update_extremes(s, v);
    add_at(s, index_of(v), n);
    vigil__atomic_add_double(&s->sum_bits, v * (double)n);
}

VIGIL_API void vigil_sketch_record_n(vigil_sketch *s, double v, uint64_t n)
{
    record(s, v, n);
}

VIGIL_API void vigil_sketch_record(vigil_sketch *s, double v)
{
    record(s, v, 1);
}

/* A copy of the counts in index order, so one read answers consistently. */
typedef struct snapshot {
    int32_t base;
    size_t n; /* live buckets */
    uint64_t zero;
    uint64_t total;
    uint64_t counts[K];
} snapshot;

static void take_snapshot(const vigil_sketch *s, snapshot *snap)
{
    uint32_t seq;
    do {
        seq = read_begin(s);
        uint64_t w = atomic_load_explicit(&s->window, memory_order_acquire);
        snap->zero = atomic_load_explicit(&s->zero_count, memory_order_relaxed);
        snap->total = snap->zero;
        snap->n = 0;
        snap->base = 0;
        if (w == UNANCHORED || top_of(w) < base_of(w)) /* (inverted only inside a move) */
            continue;
        snap->base = base_of(w);
        snap->n = (size_t)((int64_t)top_of(w) - base_of(w) + 1);
        if (snap->n > K)
            snap->n = K;
        for (size_t k = 0; k < snap->n; k++) {
            snap->counts[k] = atomic_load_explicit(
                &s->buckets[slot_of(snap->base + (int32_t)k)], memory_order_acquire);
            snap->total += snap->counts[k];
        }
    } while (read_retry(s, seq));
}

VIGIL_API uint64_t vigil_sketch_count(const vigil_sketch *s)
{
    uint64_t n;
    uint32_t seq;
    do {
        seq = read_begin(s);
        n = atomic_load_explicit(&s->zero_count, memory_order_relaxed);
        for (size_t k = 0; k < K; k++)
            n += atomic_load_explicit(&s->buckets[k], memory_order_acquire);
    } while (read_retry(s, seq));
    return n;
}

VIGIL_API double vigil_sketch_sum(const vigil_sketch *s)
{
    return vigil__u2d(atomic_load_explicit(&s->sum_bits, memory_order_relaxed));
}

static double extreme(const vigil_sketch *s, const _Atomic uint64_t *bits)
{
    double v = vigil__u2d(atomic_load_explicit(bits, memory_order_relaxed));
    return isinf(v) && vigil_sketch_count(s) == 0 ? NAN : v;
}

VIGIL_API double vigil_sketch_min(const vigil_sketch *s)
{
    return extreme(s, &s->min_bits);
}

VIGIL_API double vigil_sketch_max(const vigil_sketch *s)
{
    return extreme(s, &s->max_bits);
}

VIGIL_API uint64_t vigil_sketch_rejected(const vigil_sketch *s)
{
    return atomic_load_explicit(&s->rejected, memory_order_relaxed);
}

VIGIL_API void vigil_sketch_quantiles(const vigil_sketch *s, const double *qs, size_t nq,
                                      double *out)
{
    snapshot *snap = vigil__malloc(sizeof *snap);
    if (snap == NULL) {
        for (size_t i = 0; i < nq; i++)
            out[i] = NAN;
        return;
    }
    take_snapshot(s, snap);
    double lo = vigil__u2d(atomic_load_explicit(&s->min_bits, memory_order_relaxed));
    double hi = vigil__u2d(atomic_load_explicit(&s->max_bits, memory_order_relaxed));
    uint64_t cum = snap->zero;
    size_t k = 0;
    for (size_t i = 0; i < nq; i++) {
        double q = qs[i];
        if (snap->total == 0 || !(q >= 0 && q <= 1)) {
            out[i] = NAN;
            continue;
        }
        uint64_t rank = (uint64_t)floor(q * (double)(snap->total - 1));
        double v;
        if (rank == 0 || rank + 1 == snap->total) {
            out[i] = rank == 0 ? (snap->zero ? 0 : lo) : hi; /* the extremes are kept exactly */
            continue;
        }
        if (rank < snap->zero) {
            v = 0;
        } else {
            while (k < snap->n && cum + snap->counts[k] <= rank)
                cum += snap->counts[k++];
            v = k < snap->n ? representative(snap->base + (int32_t)k) : hi;
        }
        out[i] = v < lo ? lo : (v > hi ? hi : v);
    }
    vigil__free(snap);
}

VIGIL_API double vigil_sketch_quantile(const vigil_sketch *s, double q)
{
    double v;
    vigil_sketch_quantiles(s, &q, 1, &v);
    return v;
}

VIGIL_API vigil_status vigil_sketch_merge(vigil_sketch *dst, const vigil_sketch *src)
{
    if (dst == NULL || src == NULL || dst == src)
        return vigil__fail(VIGIL_EINVAL, "merge needs two different sketches");
    snapshot *snap = vigil__malloc(sizeof *snap);
    if (snap == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory merging sketches");
    take_snapshot(src, snap);
    /* The extremes first, as a record does: with dst's maximum already src's, low buckets move
     * dst's window down as the union's would, instead of collapsing into a window anchored
     * around src's highest bucket (which made a merge into an empty sketch lose the low end). */
    if (snap->total > 0) {
        update_extremes(dst, vigil__u2d(atomic_load_explicit(&src->min_bits,
                                                             memory_order_relaxed)));
        update_extremes(dst, vigil__u2d(atomic_load_explicit(&src->max_bits,
                                                             memory_order_relaxed)));
    }
    /* The highest bucket first, then from the lowest up: the window moves at most once up and
     * once down, not once per bucket. */
    size_t used = snap->n;
    while (used > 0 && snap->counts[used - 1] == 0)
        used--;
    if (used > 0) {
        add_at(dst, snap->base + (int32_t)(used - 1), snap->counts[used - 1]);
        for (size_t k = 0; k + 1 < used; k++) {
            if (snap->counts[k] != 0)
                add_at(dst, snap->base + (int32_t)k, snap->counts[k]);
        }
    }
    if (snap->zero)
        atomic_fetch_add_explicit(&dst->zero_count, snap->zero, memory_order_relaxed);
    atomic_fetch_add_explicit(&dst->rejected, vigil_sketch_rejected(src), memory_order_relaxed);
    vigil__atomic_add_double(&dst->sum_bits, vigil_sketch_sum(src));
    vigil__free(snap);
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_sketch_to_histogram(const vigil_sketch *s, const double *req,
                                                 size_t n, double *bounds_out,
                                                 uint64_t *cumulative)
{
    if (n > 0 && (req == NULL || bounds_out == NULL || cumulative == NULL))
        return vigil__fail(VIGIL_EINVAL, "bounds or outputs are NULL");
    pthread_once(&tables_once, make_tables);
    for (size_t i = 0; i < n; i++) {
        if (!(req[i] > 0) || !isfinite(req[i]) || (i > 0 && !(req[i] > req[i - 1])))
            return vigil__fail(VIGIL_EBUCKETS, "bounds must be positive, finite and increasing");
        /* Two bounds in one bucket would both snap to its boundary: `le` would repeat. */
        if (i > 0 && index_of(req[i]) == index_of(req[i - 1]))
            return vigil__fail(VIGIL_EBUCKETS,
                               "bounds %g and %g fall in the same sketch bucket (ratio 2^(1/64))",
                               req[i - 1], req[i]);
    }
    snapshot *snap = vigil__malloc(sizeof *snap);
    if (snap == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory exporting a sketch");
    take_snapshot(s, snap);
    uint64_t cum = snap->zero;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t idx = index_of(req[i]);
        bounds_out[i] = vigil_sketch_bucket_upper(idx);
        while (k < snap->n && snap->base + (int32_t)k <= idx)
            cum += snap->counts[k++];
        cumulative[i] = cum;
    }
    vigil__free(snap);
    return VIGIL_OK;
}
