/* test_postings.c — sorted series-ref lists: intersection, union and difference checked
 * against a bitmap oracle on random lists of alike and of very different sizes (the galloping
 * path), the edge cases (no list, empty lists, one list), in-place removal, appends that must
 * increase, and the cap on every output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsdb/postings.h"

#define UNIVERSE 200000u

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* A sorted list of about `want` distinct refs below UNIVERSE. */
static vigil__tsdb_plist random_list(size_t want)
{
    uint32_t *refs = malloc((want + 1) * sizeof *refs);
    size_t n = 0;
    for (uint32_t r = 0; r < UNIVERSE && n < want; r++) {
        if (rnd() % UNIVERSE < want)
            refs[n++] = r;
    }
    vigil__tsdb_plist l = {refs, n};
    return l;
}

static void mark(uint8_t *bits, vigil__tsdb_plist l, uint8_t flag)
{
    for (size_t i = 0; i < l.len; i++)
        bits[l.refs[i]] |= flag;
}

/* The refs whose bitmap byte satisfies keep(bits), in order, compared with got. */
static void assert_same_as_oracle_scaled(const uint8_t *bits, int (*keep)(uint8_t, int), int arg,
                                         const vigil__tsdb_postings *got, uint32_t stride)
{
    size_t k = 0;
    for (uint32_t r = 0; r < UNIVERSE; r++) {
        if (!keep(bits[r], arg))
            continue;
        if (k >= got->len || got->refs[k] != r * stride)
            fail_msg("ref %u missing or out of place at %zu (got %u)", r, k,
                     k < got->len ? got->refs[k] : 0);
        k++;
    }
    assert_int_equal(k, got->len);
}

static void assert_same_as_oracle(const uint8_t *bits, int (*keep)(uint8_t, int), int arg,
                                  const vigil__tsdb_postings *got)
{
    assert_same_as_oracle_scaled(bits, keep, arg, got, 1);
}

static int all_flags(uint8_t b, int n)
{
    return b == (uint8_t)((1u << n) - 1);
}

static int any_flag(uint8_t b, int n)
{
    (void)n;
    return b != 0;
}

static int first_not_second(uint8_t b, int n)
{
    (void)n;
    return b == 1;
}

static void check_intersection(const size_t *sizes, int n)
{
    vigil__tsdb_plist lists[8];
    uint8_t *bits = calloc(UNIVERSE, 1);
    for (int i = 0; i < n; i++) {
        lists[i] = random_list(sizes[i]);
        mark(bits, lists[i], (uint8_t)(1u << i));
    }
    vigil__tsdb_postings out;
    vigil__tsdb_postings_init(&out, 0);
    assert_int_equal(vigil__tsdb_postings_intersect(lists, (size_t)n, &out), VIGIL_OK);
    assert_true(vigil__tsdb_plist_is_sorted(vigil__tsdb_postings_view(&out)));
    assert_same_as_oracle(bits, all_flags, n, &out);
    vigil__tsdb_postings_free(&out);
    for (int i = 0; i < n; i++)
        free((void *)lists[i].refs);
    free(bits);
}

static void intersection_matches_the_oracle_for_alike_and_skewed_sizes(void **state)
{
    (void)state;
    const size_t alike[] = {50000, 60000, 40000};
    const size_t skewed[] = {150000, 30, 120000}; /* 30 vs 150k: galloping */
    const size_t tiny[] = {1, 190000};
    const size_t many[] = {100000, 90000, 110000, 95000, 5000, 120000};
    check_intersection(alike, 3);
    check_intersection(skewed, 3);
    check_intersection(tiny, 2);
    check_intersection(many, 6);
}

static void intersection_of_disjoint_or_empty_lists_is_empty(void **state)
{
    (void)state;
    uint32_t odd[] = {1, 3, 5, 7}, even[] = {0, 2, 4, 6, 8};
    vigil__tsdb_plist l[3] = {{odd, 4}, {even, 5}, {NULL, 0}};
    vigil__tsdb_postings out;
    vigil__tsdb_postings_init(&out, 0);
    assert_int_equal(vigil__tsdb_postings_intersect(l, 2, &out), VIGIL_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(vigil__tsdb_postings_intersect(l, 0, &out), VIGIL_OK);
    assert_int_equal(out.len, 0);
    vigil__tsdb_plist with_empty[2] = {{odd, 4}, {NULL, 0}};
    assert_int_equal(vigil__tsdb_postings_intersect(with_empty, 2, &out), VIGIL_OK);
    assert_int_equal(out.len, 0);
    assert_int_equal(vigil__tsdb_postings_intersect(l, 1, &out), VIGIL_OK);
    assert_int_equal(out.len, 4);
    assert_memory_equal(out.refs, odd, sizeof odd);
    vigil__tsdb_postings_free(&out);
}

/* Dense lists take the bitmap path, sparse ones (refs spread over 4e9 by `stride`) the heap;
 * two lists a plain merge. */
static void check_union(size_t n, uint32_t stride)
{
    vigil__tsdb_plist *lists = calloc(n + 1, sizeof *lists);
    uint8_t *bits = calloc(UNIVERSE, 1);
    for (size_t i = 0; i < n; i++) {
        /* overlapping lists, one of them empty, sizes from 0 to 30k */
        lists[i] = random_list(i == 2 ? 0 : (rnd() % 30000));
        mark(bits, lists[i], 1);
        for (size_t k = 0; k < lists[i].len; k++)
            ((uint32_t *)lists[i].refs)[k] *= stride;
    }
    vigil__tsdb_postings out;
    vigil__tsdb_postings_init(&out, 0);
    assert_int_equal(vigil__tsdb_postings_union(lists, n, &out), VIGIL_OK);
    assert_true(vigil__tsdb_plist_is_sorted(vigil__tsdb_postings_view(&out)));
    assert_same_as_oracle_scaled(bits, any_flag, 0, &out, stride);
    vigil__tsdb_postings_free(&out);
    for (size_t i = 0; i < n; i++)
        free((void *)lists[i].refs);
    free(lists);
    free(bits);
}

static void union_matches_the_oracle_and_lists_each_ref_once(void **state)
{
    (void)state;
    const size_t counts[] = {0, 1, 2, 3, 5, 60};
    for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
        check_union(counts[c], 1);
        check_union(counts[c], 20000);
    }
}

static void check_difference(size_t na, size_t nb)
{
    vigil__tsdb_plist a = random_list(na), b = random_list(nb);
    uint8_t *bits = calloc(UNIVERSE, 1);
    mark(bits, a, 1);
    mark(bits, b, 2);
    vigil__tsdb_postings out;
    vigil__tsdb_postings_init(&out, 0);
    assert_int_equal(vigil__tsdb_postings_subtract(a, b, &out), VIGIL_OK);
    assert_same_as_oracle(bits, first_not_second, 0, &out);
    /* The in-place form gives the same answer. */
    uint32_t *copy = malloc((a.len + 1) * sizeof *copy);
    memcpy(copy, a.refs, a.len * sizeof *copy);
    size_t len = vigil__tsdb_refs_remove(copy, a.len, b);
    assert_int_equal(len, out.len);
    assert_memory_equal(copy, out.refs, len * sizeof *copy);
    free(copy);
    vigil__tsdb_postings_free(&out);
    free((void *)a.refs);
    free((void *)b.refs);
    free(bits);
}

static void difference_matches_the_oracle_whichever_side_is_larger(void **state)
{
    (void)state;
    check_difference(50000, 50000);
    check_difference(20, 150000); /* galloping through the subtrahend */
    check_difference(150000, 20); /* few to remove: the tail is kept as a block */
    check_difference(1000, 0);
    check_difference(0, 1000);
}

static void removing_the_last_refs_keeps_the_rest(void **state)
{
    (void)state;
    uint32_t refs[] = {2, 4, 6, 8, 10};
    uint32_t del[] = {1, 4, 10, 11};
    vigil__tsdb_plist d = {del, 4};
    size_t len = vigil__tsdb_refs_remove(refs, 5, d);
    assert_int_equal(len, 3);
    assert_int_equal(refs[0], 2);
    assert_int_equal(refs[1], 6);
    assert_int_equal(refs[2], 8);
    assert_true(vigil__tsdb_plist_contains(d, 10));
    assert_false(vigil__tsdb_plist_contains(d, 9));
}

static void append_requires_increasing_refs(void **state)
{
    (void)state;
    vigil__tsdb_postings p;
    vigil__tsdb_postings_init(&p, 0);
    for (uint32_t r = 0; r < 1000; r += 3)
        assert_int_equal(vigil__tsdb_postings_append(&p, r), VIGIL_OK);
    assert_int_equal(vigil__tsdb_postings_append(&p, 999), VIGIL_EINVAL);
    assert_int_equal(vigil__tsdb_postings_append(&p, 500), VIGIL_EINVAL);
    assert_int_equal(p.len, 334);
    assert_true(vigil__tsdb_plist_is_sorted(vigil__tsdb_postings_view(&p)));
    vigil__tsdb_postings_free(&p);
}

static void every_output_stops_at_its_cap(void **state)
{
    (void)state;
    vigil__tsdb_postings p;
    vigil__tsdb_postings_init(&p, 4);
    for (uint32_t r = 0; r < 4; r++)
        assert_int_equal(vigil__tsdb_postings_append(&p, r), VIGIL_OK);
    assert_int_equal(vigil__tsdb_postings_append(&p, 9), VIGIL_ELIMIT);
    assert_int_equal(p.len, 4);
    uint32_t a[] = {1, 2, 3}, b[] = {4, 5, 6};
    vigil__tsdb_plist l[2] = {{a, 3}, {b, 3}};
    assert_int_equal(vigil__tsdb_postings_union(l, 2, &p), VIGIL_ELIMIT);
    /* A union whose inputs add up past the cap but whose result fits is fine. */
    vigil__tsdb_plist same[2] = {{a, 3}, {a, 3}};
    assert_int_equal(vigil__tsdb_postings_union(same, 2, &p), VIGIL_OK);
    assert_int_equal(p.len, 3);
    vigil__tsdb_postings small;
    vigil__tsdb_postings_init(&small, 2);
    assert_int_equal(vigil__tsdb_postings_intersect(same, 2, &small), VIGIL_ELIMIT);
    assert_int_equal(vigil__tsdb_postings_subtract(l[0], l[1], &small), VIGIL_ELIMIT);
    vigil__tsdb_postings_free(&small);
    vigil__tsdb_postings_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(intersection_matches_the_oracle_for_alike_and_skewed_sizes),
        cmocka_unit_test(intersection_of_disjoint_or_empty_lists_is_empty),
        cmocka_unit_test(union_matches_the_oracle_and_lists_each_ref_once),
        cmocka_unit_test(difference_matches_the_oracle_whichever_side_is_larger),
        cmocka_unit_test(removing_the_last_refs_keeps_the_rest),
        cmocka_unit_test(append_requires_increasing_refs),
        cmocka_unit_test(every_output_stops_at_its_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
