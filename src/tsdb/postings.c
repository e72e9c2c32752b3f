/* postings.c — set operations on sorted series-ref lists.
 *
 * Every operation is "copy one list, then filter it in place against the others": intersection
 * keeps the refs found in each next list, difference keeps the ones not found. The filter walks
 * the running result and the other list together, linearly when their sizes are alike, and by
 * galloping (exponential then binary search, Bentley & Yao 1976; the usual choice for postings
 * since Demaine et al. 2000) when the other list is much longer, so `{__name__="rare",
 * job="huge"}` costs O(small · log(huge / small)) instead of O(huge). Intersections start from
 * the smallest list so the running result only shrinks. Unions merge the lists through a binary
 * heap keyed by each list's next ref, O(total · log k), or, when the refs are dense in their
 * range, through a bitmap of that range, O(total + range / 64). */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "tsdb/postings.h"

/* Gallop when the other list is this many times longer than the running result. */
#define GALLOP_RATIO 8

void vigil__tsdb_postings_init(vigil__tsdb_postings *p, size_t max)
{
    memset(p, 0, sizeof *p);
    p->max = max ? max : VIGIL__TSDB_POSTINGS_DEFAULT_MAX;
}

void vigil__tsdb_postings_free(vigil__tsdb_postings *p)
{
    if (p == NULL)
        return;
    vigil__free(p->refs);
    p->refs = NULL;
    p->len = p->cap = 0;
}

vigil__tsdb_plist vigil__tsdb_postings_view(const vigil__tsdb_postings *p)
{
    vigil__tsdb_plist v = {p->refs, p->len};
    return v;
}

static size_t max_of(const vigil__tsdb_postings *p)
{
    return p->max ? p->max : VIGIL__TSDB_POSTINGS_DEFAULT_MAX;
}

vigil_status vigil__tsdb_postings_reserve(vigil__tsdb_postings *p, size_t extra)
{
    size_t max = max_of(p);
    if (extra > max || p->len > max - extra)
        return vigil__fail(VIGIL_ELIMIT, "postings list would exceed its cap of %zu refs", max);
    size_t need = p->len + extra;
    if (need <= p->cap)
        return VIGIL_OK;
    size_t ncap = p->cap ? p->cap : 8;
    while (ncap < need)
        ncap = ncap > max / 2 ? max : ncap * 2;
    if (ncap > max)
        ncap = max; /* so that `len == cap` is the only check an append needs */
    uint32_t *nr = vigil__realloc(p->refs, ncap * sizeof *nr);
    if (nr == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory growing a postings list to %zu refs", ncap);
    p->refs = nr;
    p->cap = ncap;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_postings_append(vigil__tsdb_postings *p, uint32_t ref)
{
    if (p->len > 0 && ref <= p->refs[p->len - 1])
        return vigil__fail(VIGIL_EINVAL, "postings: ref %u is not above the last ref %u", ref,
                           p->refs[p->len - 1]);
    if (p->len == p->cap) {
        vigil_status st = vigil__tsdb_postings_reserve(p, 1);
        if (st != VIGIL_OK)
            return st;
    }
    p->refs[p->len++] = ref;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_postings_assign(vigil__tsdb_postings *p, vigil__tsdb_plist src)
{
    p->len = 0;
    vigil_status st = vigil__tsdb_postings_reserve(p, src.len);
    if (st != VIGIL_OK)
        return st;
    if (src.len > 0)
        memcpy(p->refs, src.refs, src.len * sizeof *src.refs);
    p->len = src.len;
    return VIGIL_OK;
}

/* The first index >= lo whose ref is >= x (len when none): steps of 1, 2, 4, ... past lo, then
 * a binary search inside the last step. */
static size_t gallop(const uint32_t *a, size_t len, size_t lo, uint32_t x)
{
    size_t hi = lo, step = 1;
    while (hi < len && a[hi] < x) {
        lo = hi + 1;
        hi += step;
        step <<= 1;
    }
    if (hi > len)
        hi = len;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool vigil__tsdb_plist_contains(vigil__tsdb_plist l, uint32_t ref)
{
    size_t i = gallop(l.refs, l.len, 0, ref);
    return i < l.len && l.refs[i] == ref;
}

bool vigil__tsdb_plist_is_sorted(vigil__tsdb_plist l)
{
    for (size_t i = 1; i < l.len; i++) {
        if (l.refs[i - 1] >= l.refs[i])
            return false;
    }
    return true;
}

/* Filters res[0..len) in place: keeps the refs that are in `other` (keep_found) or that are not
 * (!keep_found). Returns the new length. */
static size_t filter(uint32_t *res, size_t len, vigil__tsdb_plist other, bool keep_found)
{
    size_t k = 0, j = 0;
    bool galloping = other.len / GALLOP_RATIO > len;
    for (size_t i = 0; i < len; i++) {
        uint32_t x = res[i];
        if (galloping) {
            j = gallop(other.refs, other.len, j, x);
        } else {
            while (j < other.len && other.refs[j] < x)
                j++;
        }
        bool found = j < other.len && other.refs[j] == x;
        if (found == keep_found)
            res[k++] = x;
        if (!keep_found && j == other.len) {
            /* Nothing left to subtract: the rest is kept as is. */
            memmove(res + k, res + i + 1, (len - i - 1) * sizeof *res);
            return k + (len - i - 1);
        }
        if (keep_found && j == other.len)
            break;
    }
    return k;
}

size_t vigil__tsdb_refs_remove(uint32_t *refs, size_t len, vigil__tsdb_plist del)
{
    return del.len == 0 ? len : filter(refs, len, del, false);
}

static int cmp_len(const void *a, const void *b)
{
    size_t x = ((const vigil__tsdb_plist *)a)->len, y = ((const vigil__tsdb_plist *)b)->len;
    return (x > y) - (x < y);
}

vigil_status vigil__tsdb_postings_intersect(const vigil__tsdb_plist *lists, size_t n,
                                            vigil__tsdb_postings *out)
{
    out->len = 0;
    if (n == 0)
        return VIGIL_OK;
    vigil__tsdb_plist local[16];
    vigil__tsdb_plist *order = n <= 16 ? local : vigil__malloc(n * sizeof *order);
    if (order == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory intersecting %zu postings lists", n);
    memcpy(order, lists, n * sizeof *order);
    qsort(order, n, sizeof *order, cmp_len);
    vigil_status st = vigil__tsdb_postings_assign(out, order[0]);
    for (size_t i = 1; st == VIGIL_OK && i < n && out->len > 0; i++)
        out->len = filter(out->refs, out->len, order[i], true);
    if (order != local)
        vigil__free(order);
    return st;
}

vigil_status vigil__tsdb_postings_subtract(vigil__tsdb_plist a, vigil__tsdb_plist b,
                                           vigil__tsdb_postings *out)
{
    vigil_status st = vigil__tsdb_postings_assign(out, a);
    if (st == VIGIL_OK)
        out->len = vigil__tsdb_refs_remove(out->refs, out->len, b);
    return st;
}

/* ---- union ---------------------------------------------------------------------------------- */

typedef struct cursor {
    uint32_t ref; /* the list's current ref: the heap key */
    const uint32_t *next;
    const uint32_t *end;
} cursor;

static void sift_down(cursor *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l < n && h[l].ref < h[m].ref)
            m = l;
        if (l + 1 < n && h[l + 1].ref < h[m].ref)
            m = l + 1;
        if (m == i)
            return;
        cursor t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

static vigil_status push_unique(vigil__tsdb_postings *out, uint32_t ref)
{
    if (out->len > 0 && out->refs[out->len - 1] == ref)
        return VIGIL_OK;
    if (out->len == out->cap) {
        vigil_status st = vigil__tsdb_postings_reserve(out, 1);
        if (st != VIGIL_OK)
            return st;
    }
    out->refs[out->len++] = ref;
    return VIGIL_OK;
}

static vigil_status heap_merge(cursor *h, size_t n, vigil__tsdb_postings *out)
{
    for (size_t i = n / 2; i-- > 0;)
        sift_down(h, n, i);
    while (n > 0) {
        vigil_status st = push_unique(out, h[0].ref);
        if (st != VIGIL_OK)
            return st;
        if (h[0].next < h[0].end)
            h[0].ref = *h[0].next++;
        else
            h[0] = h[--n];
        sift_down(h, n, 0);
    }
    return VIGIL_OK;
}

static vigil_status merge_two(vigil__tsdb_plist a, vigil__tsdb_plist b, vigil__tsdb_postings *out)
{
    size_t i = 0, j = 0;
    vigil_status st = VIGIL_OK;
    while (st == VIGIL_OK && (i < a.len || j < b.len)) {
        bool take_a = j == b.len || (i < a.len && a.refs[i] <= b.refs[j]);
        uint32_t r = take_a ? a.refs[i] : b.refs[j];
        i += take_a;
        j += j < b.len && b.refs[j] == r; /* a ref in both lists is taken once */
        st = push_unique(out, r);
    }
    return st;
}

/* Dense unions (many refs over a short range, e.g. every series of a few jobs): one bit per
 * ref of the range, then the set bits in order. O(total + range / 64), no comparisons. */
static vigil_status bitmap_union(const vigil__tsdb_plist *lists, size_t n, uint32_t lo, uint32_t hi,
                                 vigil__tsdb_postings *out)
{
    size_t words = ((size_t)(hi - lo) >> 6) + 1;
    uint64_t *bits = vigil__calloc(words, sizeof *bits);
    if (bits == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory merging %zu postings lists", n);
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < lists[i].len; k++) {
            uint32_t d = lists[i].refs[k] - lo;
            bits[d >> 6] |= (uint64_t)1 << (d & 63);
        }
    }
    size_t count = 0;
    for (size_t w = 0; w < words; w++)
        count += (size_t)__builtin_popcountll(bits[w]);
    vigil_status st = vigil__tsdb_postings_reserve(out, count);
    for (size_t w = 0; st == VIGIL_OK && w < words; w++) {
        for (uint64_t x = bits[w]; x != 0; x &= x - 1)
            out->refs[out->len++] = lo + (uint32_t)(w * 64 + (size_t)__builtin_ctzll(x));
    }
    vigil__free(bits);
    return st;
}

/* Sparse unions of many lists: a binary heap of cursors keyed by each list's next ref. */
static vigil_status heap_union(const vigil__tsdb_plist *lists, size_t n, size_t live,
                               vigil__tsdb_postings *out)
{
    cursor *h = vigil__malloc(live * sizeof *h);
    if (h == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory merging %zu postings lists", live);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (lists[i].len == 0)
            continue;
        h[k].ref = lists[i].refs[0];
        h[k].next = lists[i].refs + 1;
        h[k].end = lists[i].refs + lists[i].len;
        k++;
    }
    vigil_status st = heap_merge(h, k, out);
    vigil__free(h);
    return st;
}

vigil_status vigil__tsdb_postings_union(const vigil__tsdb_plist *lists, size_t n,
                                        vigil__tsdb_postings *out)
{
    out->len = 0;
    size_t total = 0, live = 0, first = 0, second = 0;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < n; i++) {
        if (lists[i].len == 0)
            continue;
        second = live == 1 ? i : second;
        first = live == 0 ? i : first;
        live++;
        total += lists[i].len;
        lo = lists[i].refs[0] < lo ? lists[i].refs[0] : lo;
        hi = lists[i].refs[lists[i].len - 1] > hi ? lists[i].refs[lists[i].len - 1] : hi;
    }
    if (live == 0)
        return VIGIL_OK;
    if (live == 1)
        return vigil__tsdb_postings_assign(out, lists[first]);
    if (live > 2 && ((size_t)(hi - lo) >> 6) <= total)
        return bitmap_union(lists, n, lo, hi, out);
    /* Room for everything up front (within the cap): the merge then never reallocates. */
    size_t room = total < max_of(out) ? total : max_of(out);
    vigil_status st = vigil__tsdb_postings_reserve(out, room);
    if (st != VIGIL_OK)
        return st;
    return live == 2 ? merge_two(lists[first], lists[second], out)
                     : heap_union(lists, n, live, out);
}
