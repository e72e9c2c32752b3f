/* test_index.c — the inverted index: Prometheus's selection semantics on a small corpus (a
 * table written from Prometheus's PostingsForMatchers rules: matchers that match "" select
 * series without the label, !=, =~ ".*" and newlines, literal sets, conflicting matchers),
 * the same selections cross-checked against a brute-force scan on random corpora and matcher
 * combinations, label names and values (sorted, restricted by matchers), batched deletion,
 * the add contract (increasing refs, cap, unchanged on error), readers running while a writer
 * adds and deletes, and the select speed on 100k series (printed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "tsdb/index.h"

typedef struct corpus {
    vigil__tsdb_symtab *syms;
    vigil__tsdb_index *ix;
    vigil__tsdb_labels **sets; /* sets[ref] */
    size_t cap;
} corpus;

static void corpus_init(corpus *c, size_t max_series)
{
    memset(c, 0, sizeof *c);
    assert_int_equal(vigil__tsdb_symtab_new(0, &c->syms), VIGIL_OK);
    assert_int_equal(vigil__tsdb_index_new(max_series, &c->ix), VIGIL_OK);
}

static vigil__tsdb_labels *corpus_labels(corpus *c, uint32_t ref, const vigil_label *l, size_t n)
{
    if (ref >= c->cap) {
        size_t ncap = ref * 2 + 16;
        c->sets = realloc(c->sets, ncap * sizeof *c->sets);
        memset(c->sets + c->cap, 0, (ncap - c->cap) * sizeof *c->sets);
        c->cap = ncap;
    }
    vigil__tsdb_labels *ls = NULL;
    assert_int_equal(vigil__tsdb_labels_build(c->syms, l, n, &ls), VIGIL_OK);
    c->sets[ref] = ls;
    return ls;
}

static void corpus_add(corpus *c, uint32_t ref, const vigil_label *l, size_t n)
{
    vigil__tsdb_labels *ls = corpus_labels(c, ref, l, n);
    vigil_status st = vigil__tsdb_index_add(c->ix, ref, ls);
    if (st != VIGIL_OK)
        fail_msg("add %u: %s (%s)", ref, vigil_strerror(st), vigil_errmsg());
}

static void corpus_free(corpus *c)
{
    vigil__tsdb_index_free(c->ix);
    for (size_t i = 0; i < c->cap; i++)
        vigil__tsdb_labels_free(c->sets[i]);
    free(c->sets);
    vigil__tsdb_symtab_free(c->syms);
}

/* Matchers written as {type, name, value}; up to 4 per selector. */
typedef struct mspec {
    vigil_match_type type;
    const char *name;
    const char *value;
} mspec;

static size_t compile(const mspec *spec, vigil__tsdb_matcher **ms)
{
    size_t n = 0;
    for (; n < 4 && spec[n].name != NULL; n++) {
        vigil_status st =
            vigil__tsdb_matcher_new(spec[n].type, spec[n].name, spec[n].value, &ms[n]);
        if (st != VIGIL_OK)
            fail_msg("matcher %s: %s", spec[n].value, vigil_errmsg());
    }
    return n;
}

static void free_matchers(vigil__tsdb_matcher **ms, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vigil__tsdb_matcher_free(ms[i]);
}

/* The refs selected, as "1,2,3". */
static void select_to_string(vigil__tsdb_index *ix, const mspec *spec, char *out, size_t size)
{
    vigil__tsdb_matcher *ms[4];
    size_t n = compile(spec, ms);
    vigil__tsdb_postings p;
    vigil__tsdb_postings_init(&p, 0);
    vigil_status st = vigil__tsdb_index_select(ix, (const vigil__tsdb_matcher *const *)ms, n, &p);
    if (st != VIGIL_OK)
        fail_msg("select: %s (%s)", vigil_strerror(st), vigil_errmsg());
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < p.len && o + 12 < size; i++)
        o += (size_t)snprintf(out + o, size - o, i ? ",%u" : "%u", p.refs[i]);
    vigil__tsdb_postings_free(&p);
    free_matchers(ms, n);
}

#define EQ VIGIL_MATCH_EQUAL
#define NEQ VIGIL_MATCH_NOT_EQUAL
#define RE VIGIL_MATCH_REGEX
#define NRE VIGIL_MATCH_NOT_REGEX

/* Prometheus's test corpus shape, plus a multi-line and a UTF-8 value. */
static void small_corpus(corpus *c)
{
    corpus_init(c, 0);
    vigil_label s1[] = {{"n", "1"}};
    vigil_label s2[] = {{"n", "1"}, {"i", "a"}};
    vigil_label s3[] = {{"n", "1"}, {"i", "b"}};
    vigil_label s4[] = {{"n", "2"}};
    vigil_label s5[] = {{"n", "2.5"}};
    vigil_label s6[] = {{"n", "3"}, {"i", "multi\nline"}};
    vigil_label s7[] = {{"n", "3"}, {"i", "\xe6\x9d\xb1\xe4\xba\xac"}}; /* 東京 */
    corpus_add(c, 1, s1, 1);
    corpus_add(c, 2, s2, 2);
    corpus_add(c, 3, s3, 2);
    corpus_add(c, 4, s4, 1);
    corpus_add(c, 5, s5, 1);
    corpus_add(c, 6, s6, 2);
    corpus_add(c, 7, s7, 2);
}

static void selection_follows_prometheus_semantics(void **state)
{
    (void)state;
    corpus c;
    small_corpus(&c);
    static const struct {
        mspec m[4];
        const char *want;
    } cases[] = {
        {{{EQ, "n", "1"}}, "1,2,3"},
        {{{EQ, "n", "1"}, {EQ, "i", "a"}}, "2"},
        {{{EQ, "n", "1"}, {EQ, "i", "missing"}}, ""},
        {{{EQ, "missing", ""}}, "1,2,3,4,5,6,7"},
        {{{NEQ, "n", "1"}}, "4,5,6,7"},
        {{{NEQ, "i", ""}}, "2,3,6,7"},
        {{{NEQ, "missing", ""}}, ""},
        {{{EQ, "n", "1"}, {NEQ, "i", "a"}}, "1,3"}, /* != keeps series without the label */
        {{{EQ, "n", "1"}, {NEQ, "i", ""}}, "2,3"},
        {{{RE, "n", "^1$"}}, "1,2,3"},
        {{{EQ, "n", "1"}, {RE, "i", "^a$"}}, "2"},
        {{{EQ, "n", "1"}, {RE, "i", "^a?$"}}, "1,2"},
        {{{RE, "i", "^$"}}, "1,4,5"},
        {{{EQ, "n", "1"}, {RE, "i", "^$"}}, "1"},
        {{{EQ, "n", "1"}, {RE, "i", "^.*$"}}, "1,2,3"},
        {{{EQ, "n", "1"}, {RE, "i", "^.+$"}}, "2,3"},
        {{{NRE, "n", "^1$"}}, "4,5,6,7"},
        {{{EQ, "n", "1"}, {NRE, "i", "^a$"}}, "1,3"},
        {{{EQ, "n", "1"}, {NRE, "i", "^a?$"}}, "3"},
        {{{EQ, "n", "1"}, {NRE, "i", "^$"}}, "2,3"},
        {{{EQ, "n", "1"}, {NRE, "i", "^.*$"}}, ""},
        {{{EQ, "n", "1"}, {NRE, "i", "^.+$"}}, "1"},
        {{{EQ, "n", "1"}, {NEQ, "i", ""}, {EQ, "i", "a"}}, "2"},
        {{{EQ, "n", "1"}, {NEQ, "i", "b"}, {RE, "i", "^(b|a).*$"}}, "2"},
        {{{RE, "n", "1|2"}}, "1,2,3,4"},
        {{{RE, "i", "a|b"}}, "2,3"},
        {{{RE, "n", "x1|2"}}, "4"},
        {{{RE, "n", "2|2\\.5"}}, "4,5"},
        {{{RE, "i", "c||d"}}, "1,4,5"},
        {{{NRE, "n", "1|2"}}, "5,6,7"},
        /* Go's `.` does not match \n in Prometheus 2.42: .* leaves the multi-line value out. */
        {{{RE, "i", ".*"}}, "1,2,3,4,5,7"},
        {{{RE, "i", "(?s).*"}}, "1,2,3,4,5,6,7"},
        {{{RE, "i", ".+"}}, "2,3,7"},
        {{{RE, "i", "\xe6\x9d\xb1.*"}}, "7"},
        {{{NRE, "i", "\xe6\x9d\xb1.*"}}, "1,2,3,4,5,6"},
        {{{RE, "i", "multi.line"}}, ""},
        {{{RE, "i", "multi\\nline"}}, "6"},
        {{{EQ, "n", "1"}, {EQ, "n", "2"}}, ""},
        {{{RE, "n", "1|2"}, {NEQ, "n", "1"}}, "4"},
        {{{RE, "n", "3"}, {NRE, "i", "(?s).*\\n.*"}}, "7"},
        {{{NEQ, "missing", "x"}}, "1,2,3,4,5,6,7"},
        {{{0, NULL, NULL}}, "1,2,3,4,5,6,7"}, /* no matcher: every series */
    };
    char got[256];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        select_to_string(c.ix, cases[i].m, got, sizeof got);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("case %zu (%s %s): got [%s], want [%s]", i, cases[i].m[0].name,
                     cases[i].m[0].value, got, cases[i].want);
    }
    corpus_free(&c);
}

/* ---- brute-force cross-check ---------------------------------------------------------------- */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 16) % n);
}

static bool brute_match(const vigil__tsdb_labels *ls, vigil__tsdb_matcher **ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = vigil__tsdb_labels_get(ls, vigil__tsdb_matcher_name(ms[i]));
        if (!vigil__tsdb_matcher_matches(ms[i], v != NULL ? v : ""))
            return false;
    }
    return true;
}

static void random_corpus(corpus *c, uint32_t nseries)
{
    static const char *const vals[] = {"a", "b", "c", "ab", "abc", "x\ny", "\xc3\xa9t\xc3\xa9"};
    corpus_init(c, 0);
    char buf[16];
    for (uint32_t r = 1; r <= nseries; r++) {
        vigil_label l[4];
        size_t n = 0;
        snprintf(buf, sizeof buf, "m%u", rnd(5));
        l[n++] = (vigil_label){"__name__", buf};
        if (rnd(4) != 0)
            l[n++] = (vigil_label){"p", vals[rnd(7)]};
        if (rnd(2) != 0)
            l[n++] = (vigil_label){"q", vals[rnd(7)]};
        if (rnd(8) == 0)
            l[n++] = (vigil_label){"rare", "yes"};
        corpus_add(c, r * 3, l, n); /* gaps between refs, as after deletions */
    }
}

static void selection_agrees_with_a_brute_force_scan(void **state)
{
    (void)state;
    static const mspec pool[] = {
        {EQ, "p", "a"},
        {EQ, "p", ""},
        {NEQ, "p", "a"},
        {NEQ, "q", ""},
        {RE, "p", "a.*"},
        {RE, "q", ".*"},
        {RE, "p", "a|b"},
        {NRE, "q", "a|b"},
        {RE, "q", "a?"},
        {NRE, "p", ".+"},
        {EQ, "rare", "yes"},
        {NEQ, "rare", "yes"},
        {RE, "__name__", "m[12]"},
        {EQ, "__name__", "m3"},
        {NRE, "__name__", "m0|m4"},
        {RE, "p", "(?s).*y"},
        {EQ, "none", ""},
        {NEQ, "none", ""},
        {RE, "q", "\xc3\xa9.*"},
        {RE, "p", "c||ab"},
    };
    corpus c;
    random_corpus(&c, 3000);
    vigil__tsdb_postings got;
    vigil__tsdb_postings_init(&got, 0);
    for (int round = 0; round < 300; round++) {
        mspec spec[5] = {{0}};
        size_t n = 1 + rnd(4);
        for (size_t i = 0; i < n; i++)
            spec[i] = pool[rnd(sizeof pool / sizeof pool[0])];
        vigil__tsdb_matcher *ms[4];
        size_t k = compile(spec, ms);
        assert_int_equal(
            vigil__tsdb_index_select(c.ix, (const vigil__tsdb_matcher *const *)ms, k, &got),
            VIGIL_OK);
        size_t j = 0;
        for (uint32_t r = 3; r <= 3 * 3000; r += 3) {
            if (!brute_match(c.sets[r], ms, k))
                continue;
            if (j >= got.len || got.refs[j] != r)
                fail_msg("round %d (%s%s...): series %u missing", round, spec[0].name,
                         spec[0].value, r);
            j++;
        }
        if (j != got.len)
            fail_msg("round %d (%s %s...): %zu extra series", round, spec[0].name, spec[0].value,
                     got.len - j);
        free_matchers(ms, k);
    }
    vigil__tsdb_postings_free(&got);
    corpus_free(&c);
}

/* ---- names and values ----------------------------------------------------------------------- */

static void assert_strings(const char **got, size_t n, const char *want)
{
    char joined[256] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(joined, i ? "|" : "");
        strcat(joined, got[i]);
    }
    if (strcmp(joined, want) != 0)
        fail_msg("got [%s], want [%s]", joined, want);
    assert_null(got[n]);
}

static void label_names_and_values_are_sorted_and_follow_matchers(void **state)
{
    (void)state;
    corpus c;
    small_corpus(&c);
    const char **v;
    size_t n;
    assert_int_equal(vigil__tsdb_index_label_names(c.ix, NULL, 0, &v, &n), VIGIL_OK);
    assert_strings(v, n, "i|n");
    vigil__free(v);
    assert_int_equal(vigil__tsdb_index_label_values(c.ix, "i", NULL, 0, &v, &n), VIGIL_OK);
    assert_strings(v, n, "a|b|multi\nline|\xe6\x9d\xb1\xe4\xba\xac"); /* byte order */
    vigil__free(v);
    assert_int_equal(vigil__tsdb_index_label_values(c.ix, "n", NULL, 0, &v, &n), VIGIL_OK);
    assert_strings(v, n, "1|2|2.5|3");
    vigil__free(v);
    assert_int_equal(vigil__tsdb_index_label_values(c.ix, "missing", NULL, 0, &v, &n), VIGIL_OK);
    assert_strings(v, n, "");
    vigil__free(v);

    vigil__tsdb_matcher *ms[4];
    mspec only_2[] = {{RE, "n", "2.*"}, {0}};
    size_t k = compile(only_2, ms);
    assert_int_equal(
        vigil__tsdb_index_label_names(c.ix, (const vigil__tsdb_matcher *const *)ms, k, &v, &n),
        VIGIL_OK);
    assert_strings(v, n, "n");
    vigil__free(v);
    free_matchers(ms, k);

    mspec n1[] = {{EQ, "n", "1"}, {0}};
    k = compile(n1, ms);
    assert_int_equal(vigil__tsdb_index_label_values(
                         c.ix, "i", (const vigil__tsdb_matcher *const *)ms, k, &v, &n),
                     VIGIL_OK);
    assert_strings(v, n, "a|b");
    vigil__free(v);
    assert_int_equal(
        vigil__tsdb_index_label_names(c.ix, (const vigil__tsdb_matcher *const *)ms, k, &v, &n),
        VIGIL_OK);
    assert_strings(v, n, "i|n");
    vigil__free(v);
    free_matchers(ms, k);
    assert_int_equal(vigil__tsdb_index_label_values(c.ix, NULL, NULL, 0, &v, &n), VIGIL_EINVAL);
    corpus_free(&c);
}

/* ---- adding and deleting -------------------------------------------------------------------- */

static void big_corpus(corpus *c, uint32_t n)
{
    char job[16], inst[16], name[16];
    for (uint32_t r = 1; r <= n; r++) {
        snprintf(job, sizeof job, "j%u", r % 10);
        snprintf(inst, sizeof inst, "i%u", r);
        snprintf(name, sizeof name, "m%u", r % 3);
        vigil_label l[] = {{"__name__", name}, {"job", job}, {"inst", inst}};
        corpus_add(c, r, l, 3);
    }
}

static void deleting_a_batch_rebuilds_lists_and_drops_empty_values(void **state)
{
    (void)state;
    corpus c;
    corpus_init(&c, 0);
    big_corpus(&c, 1000);
    vigil__tsdb_index_stats before;
    vigil__tsdb_index_get_stats(c.ix, &before);
    assert_int_equal(before.series, 1000);
    assert_int_equal(before.pairs, 3 + 10 + 1000);
    assert_int_equal(before.postings, 3000);

    uint32_t del[600];
    size_t nd = 0;
    for (uint32_t r = 1000; r >= 2; r -= 2) /* every even ref, in descending order */
        del[nd++] = r;
    del[nd++] = 4;    /* a duplicate */
    del[nd++] = 5000; /* never indexed */
    size_t removed = 0;
    assert_int_equal(vigil__tsdb_index_delete(c.ix, del, nd, &removed), VIGIL_OK);
    assert_int_equal(removed, 500);

    vigil__tsdb_index_stats after;
    vigil__tsdb_index_get_stats(c.ix, &after);
    assert_int_equal(after.series, 500);
    assert_int_equal(after.names, 3);
    assert_int_equal(after.pairs, 3 + 5 + 500);
    assert_int_equal(after.postings, 1500);
    assert_true(after.memory < before.memory);

    char got[4096];
    mspec even_job[] = {{EQ, "job", "j2"}, {0}};
    select_to_string(c.ix, even_job, got, sizeof got);
    assert_string_equal(got, "");
    mspec inst[] = {{RE, "inst", "i99[0-9]"}, {0}};
    select_to_string(c.ix, inst, got, sizeof got);
    assert_string_equal(got, "991,993,995,997,999");
    const char **v;
    size_t n;
    assert_int_equal(vigil__tsdb_index_label_values(c.ix, "job", NULL, 0, &v, &n), VIGIL_OK);
    assert_strings(v, n, "j1|j3|j5|j7|j9");
    vigil__free(v);

    /* Deleting again changes nothing; refs keep increasing past the deleted ones. */
    assert_int_equal(vigil__tsdb_index_delete(c.ix, del, nd, &removed), VIGIL_OK);
    assert_int_equal(removed, 0);
    vigil_label again[] = {{"__name__", "m0"}, {"job", "j2"}};
    corpus_add(&c, 1001, again, 2);
    select_to_string(c.ix, even_job, got, sizeof got);
    assert_string_equal(got, "1001");
    corpus_free(&c);
}

static void deleting_every_series_of_a_name_removes_the_name(void **state)
{
    (void)state;
    corpus c;
    small_corpus(&c);
    uint32_t with_i[] = {2, 3, 6, 7};
    assert_int_equal(vigil__tsdb_index_delete(c.ix, with_i, 4, NULL), VIGIL_OK);
    const char **v;
    size_t n;
    assert_int_equal(vigil__tsdb_index_label_names(c.ix, NULL, 0, &v, &n), VIGIL_OK);
    assert_strings(v, n, "n");
    vigil__free(v);
    char got[64];
    mspec no_i[] = {{EQ, "i", ""}, {0}};
    select_to_string(c.ix, no_i, got, sizeof got);
    assert_string_equal(got, "1,4,5");
    uint32_t rest[] = {1, 4, 5};
    assert_int_equal(vigil__tsdb_index_delete(c.ix, rest, 3, NULL), VIGIL_OK);
    vigil__tsdb_index_stats s;
    vigil__tsdb_index_get_stats(c.ix, &s);
    assert_int_equal(s.series + s.names + s.pairs + s.postings, 0);
    corpus_free(&c);
}

static void add_requires_increasing_refs_and_respects_the_cap(void **state)
{
    (void)state;
    corpus c;
    corpus_init(&c, 3);
    vigil_label l[] = {{"__name__", "up"}};
    corpus_add(&c, 5, l, 1);
    vigil__tsdb_labels *ls = corpus_labels(&c, 5 + 100, l, 1);
    assert_int_equal(vigil__tsdb_index_add(c.ix, 5, ls), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "ref 5"));
    assert_int_equal(vigil__tsdb_index_add(c.ix, 4, ls), VIGIL_EINVAL);
    corpus_add(&c, 6, l, 1);
    corpus_add(&c, 9, l, 1);
    vigil_label other[] = {{"__name__", "new_name"}, {"job", "x"}};
    vigil__tsdb_labels *full = corpus_labels(&c, 10, other, 2);
    assert_int_equal(vigil__tsdb_index_add(c.ix, 10, full), VIGIL_ELIMIT);
    /* Refused: nothing of it is in the index. */
    const char **v;
    size_t n;
    assert_int_equal(vigil__tsdb_index_label_names(c.ix, NULL, 0, &v, &n), VIGIL_OK);
    assert_strings(v, n, "__name__");
    vigil__free(v);
    char got[64];
    mspec all[] = {{0}};
    select_to_string(c.ix, all, got, sizeof got);
    assert_string_equal(got, "5,6,9");
    assert_int_equal(vigil__tsdb_index_add(c.ix, 11, NULL), VIGIL_EINVAL);
    corpus_free(&c);
}

/* ---- allocation failures -------------------------------------------------------------------- */

static long allocs_left; /* the allocation that finds it at 0 fails */

static void *failing_malloc(size_t n, void *user)
{
    (void)user;
    return allocs_left-- == 0 ? NULL : malloc(n);
}

static void *failing_realloc(void *p, size_t n, void *user)
{
    (void)user;
    return allocs_left-- == 0 ? NULL : realloc(p, n);
}

static void plain_free(void *p, void *user)
{
    (void)user;
    free(p);
}

/* Everything observable about the small corpus, as one string. */
static void snapshot(corpus *c, char *out, size_t size)
{
    const char **v;
    size_t n;
    assert_int_equal(vigil__tsdb_index_label_names(c->ix, NULL, 0, &v, &n), VIGIL_OK);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        o += (size_t)snprintf(out + o, size - o, "name %s: ", v[i]);
        const char **vals;
        size_t nv;
        assert_int_equal(vigil__tsdb_index_label_values(c->ix, v[i], NULL, 0, &vals, &nv),
                         VIGIL_OK);
        for (size_t k = 0; k < nv; k++) {
            char sel[512];
            mspec m[] = {{EQ, v[i], vals[k]}, {0}};
            select_to_string(c->ix, m, sel, sizeof sel);
            o += (size_t)snprintf(out + o, size - o, "%s=%s:[%s] ", v[i], vals[k], sel);
        }
        vigil__free(vals);
    }
    vigil__free(v);
    vigil__tsdb_index_stats st;
    vigil__tsdb_index_get_stats(c->ix, &st);
    snprintf(out + o, size - o, "names=%zu series=%zu pairs=%zu postings=%zu", st.names, st.series,
             st.pairs, st.postings);
}

static void a_failed_allocation_leaves_the_index_unchanged(void **state)
{
    (void)state;
    corpus c;
    small_corpus(&c);
    for (uint32_t r = 8; r < 12; r++) { /* grow n="1" past its inline room */
        vigil_label l[] = {{"n", "1"}};
        corpus_add(&c, r, l, 1);
    }
    char before[2048], after[2048];
    snapshot(&c, before, sizeof before);
    vigil_label l[] = {{"n", "1"}, {"brand_new", "x"}, {"i", "fresh"}};
    vigil__tsdb_labels *ls = corpus_labels(&c, 100, l, 3);
    vigil_allocator failing = {failing_malloc, failing_realloc, plain_free, NULL};
    int failures = 0;
    for (long k = 0;; k++) {
        allocs_left = k;
        vigil_set_allocator(&failing);
        vigil_status st = vigil__tsdb_index_add(c.ix, 100, ls);
        vigil_set_allocator(NULL);
        if (st == VIGIL_OK)
            break;
        assert_int_equal(st, VIGIL_ENOMEM);
        failures++;
        snapshot(&c, after, sizeof after);
        assert_string_equal(after, before);
    }
    print_message("add survived %d injected allocation failures\n", failures);
    assert_true(failures >= 2); /* at least the new name and its value table */
    uint32_t del[] = {2, 9, 100};
    for (long k = 0;; k++) {
        allocs_left = k;
        vigil_set_allocator(&failing);
        vigil_status st = vigil__tsdb_index_delete(c.ix, del, 3, NULL);
        vigil_set_allocator(NULL);
        if (st == VIGIL_OK)
            break;
        assert_int_equal(st, VIGIL_ENOMEM);
    }
    char got[64];
    mspec brand[] = {{EQ, "brand_new", "x"}, {0}};
    select_to_string(c.ix, brand, got, sizeof got);
    assert_string_equal(got, "");
    corpus_free(&c);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

#define CONC_SERIES 20000u

typedef struct shared {
    corpus *c;
    int done;
    uint32_t deleted_upto; /* every ref r <= this with r % 3 == 0 has been deleted */
    int bad;
    long selects;
} shared;

static void *writer(void *arg)
{
    shared *s = arg;
    for (uint32_t r = 1; r <= CONC_SERIES; r++) {
        vigil__tsdb_labels *ls = s->c->sets[r];
        if (vigil__tsdb_index_add(s->c->ix, r, ls) != VIGIL_OK)
            __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
        if (r % 2000 == 0) { /* drop every third series added so far, in one batch */
            uint32_t del[700];
            size_t n = 0;
            for (uint32_t d = r - 1999; d <= r; d++) {
                if (d % 3 == 0)
                    del[n++] = d;
            }
            if (vigil__tsdb_index_delete(s->c->ix, del, n, NULL) != VIGIL_OK)
                __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
            __atomic_store_n(&s->deleted_upto, r, __ATOMIC_RELEASE);
        }
    }
    __atomic_store_n(&s->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void check_selection(shared *s, const vigil__tsdb_matcher *const *ms, size_t n,
                            vigil__tsdb_postings *p, uint32_t mod_a, uint32_t mod_b)
{
    uint32_t gone = __atomic_load_n(&s->deleted_upto, __ATOMIC_ACQUIRE);
    if (vigil__tsdb_index_select(s->c->ix, ms, n, p) != VIGIL_OK) {
        __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
        return;
    }
    for (size_t i = 0; i < p->len; i++) {
        uint32_t r = p->refs[i];
        bool ok = (i == 0 || p->refs[i - 1] < r) && (r % 3 != 0 || r > gone) && r <= CONC_SERIES &&
                  (r % 10 == mod_a || r % 10 == mod_b);
        if (!ok)
            __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
    }
}

static void *reader(void *arg)
{
    shared *s = arg;
    vigil__tsdb_matcher *ms[3] = {NULL, NULL, NULL};
    /* No cmocka assertions off the main thread: failures are counted in s->bad. */
    if (vigil__tsdb_matcher_new(EQ, "job", "j3", &ms[0]) != VIGIL_OK ||
        vigil__tsdb_matcher_new(RE, "job", "j[37]", &ms[1]) != VIGIL_OK ||
        vigil__tsdb_matcher_new(NRE, "inst", "i1.*", &ms[2]) != VIGIL_OK) {
        __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
        free_matchers(ms, 3);
        return NULL;
    }
    vigil__tsdb_postings p;
    vigil__tsdb_postings_init(&p, 0);
    long count = 0;
    while (!__atomic_load_n(&s->done, __ATOMIC_ACQUIRE) || count < 5) {
        check_selection(s, (const vigil__tsdb_matcher *const *)ms, 1, &p, 3, 3);
        check_selection(s, (const vigil__tsdb_matcher *const *)ms + 1, 2, &p, 3, 7);
        const char **v;
        size_t n;
        if (vigil__tsdb_index_label_values(s->c->ix, "job", NULL, 0, &v, &n) != VIGIL_OK || n > 10)
            __atomic_add_fetch(&s->bad, 1, __ATOMIC_RELAXED);
        else
            vigil__free(v);
        count++;
    }
    __atomic_add_fetch(&s->selects, count, __ATOMIC_RELAXED);
    vigil__tsdb_postings_free(&p);
    free_matchers(ms, 3);
    return NULL;
}

static void readers_see_consistent_results_while_a_writer_adds_and_deletes(void **state)
{
    (void)state;
    corpus c;
    corpus_init(&c, 0);
    char job[16], inst[16];
    for (uint32_t r = 1; r <= CONC_SERIES; r++) { /* label sets first; indexing in the thread */
        snprintf(job, sizeof job, "j%u", r % 10);
        snprintf(inst, sizeof inst, "i%u", r);
        vigil_label l[] = {{"__name__", "up"}, {"job", job}, {"inst", inst}};
        corpus_labels(&c, r, l, 3);
    }
    shared s = {.c = &c};
    pthread_t w, rd[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_create(&rd[i], NULL, reader, &s), 0);
    assert_int_equal(pthread_create(&w, NULL, writer, &s), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(rd[i], NULL);
    print_message("%ld selections ran during the writes\n", s.selects);
    assert_int_equal(s.bad, 0);
    mspec j3[] = {{EQ, "job", "j3"}, {0}};
    vigil__tsdb_postings p;
    vigil__tsdb_postings_init(&p, 0);
    vigil__tsdb_matcher *m;
    size_t k = compile(j3, &m);
    assert_int_equal(vigil__tsdb_index_select(c.ix, (const vigil__tsdb_matcher *const *)&m, k, &p),
                     VIGIL_OK);
    size_t want = 0;
    for (uint32_t r = 1; r <= CONC_SERIES; r++)
        want += r % 10 == 3 && r % 3 != 0;
    assert_int_equal(p.len, want);
    vigil__tsdb_postings_free(&p);
    free_matchers(&m, k);
    corpus_free(&c);
}

/* ---- speed ---------------------------------------------------------------------------------- */

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Per-selection time in microseconds over `iters` runs; checks the count every time. */
static double time_select(vigil__tsdb_index *ix, const mspec *spec, size_t want, int iters)
{
    vigil__tsdb_matcher *ms[4];
    size_t n = compile(spec, ms);
    vigil__tsdb_postings p;
    vigil__tsdb_postings_init(&p, 0);
    double t0 = seconds();
    for (int i = 0; i < iters; i++) {
        assert_int_equal(
            vigil__tsdb_index_select(ix, (const vigil__tsdb_matcher *const *)ms, n, &p), VIGIL_OK);
        if (p.len != want)
            fail_msg("selection gave %zu series, want %zu", p.len, want);
    }
    double us = (seconds() - t0) / iters * 1e6;
    vigil__tsdb_postings_free(&p);
    free_matchers(ms, n);
    return us;
}

static void selecting_among_100k_series_takes_microseconds(void **state)
{
    (void)state;
    /* 10 jobs x 100 instances x 100 metrics, created target by target as scrapes would. */
    corpus c;
    corpus_init(&c, 0);
    char name[24], job[16], inst[24];
    double t0 = seconds();
    uint32_t ref = 0;
    for (int j = 0; j < 10; j++) {
        for (int i = 0; i < 100; i++) {
            for (int m = 0; m < 100; m++) {
                snprintf(name, sizeof name, "metric_%d", m);
                snprintf(job, sizeof job, "job_%d", j);
                snprintf(inst, sizeof inst, "host-%d:9100", i);
                vigil_label l[] = {{"__name__", name}, {"job", job}, {"instance", inst}};
                corpus_add(&c, ++ref, l, 3);
            }
        }
    }
    double build = seconds() - t0;
    vigil__tsdb_index_stats st;
    vigil__tsdb_index_get_stats(c.ix, &st);
    print_message("100k series indexed in %.0f ms (%.2f us each), index %zu bytes (%.1f per "
                  "series)\n",
                  build * 1e3, build / 1e5 * 1e6, st.memory, (double)st.memory / 1e5);
    static const struct {
        const char *what;
        mspec m[4];
        size_t want;
    } q[] = {
        {"{__name__=\"metric_7\",job=\"job_3\"}",
         {{EQ, "__name__", "metric_7"}, {EQ, "job", "job_3"}},
         100},
        {"{__name__=\"metric_7\"}", {{EQ, "__name__", "metric_7"}}, 1000},
        {"{__name__=\"metric_7\",instance=\"host-42:9100\",job=\"job_3\"}",
         {{EQ, "__name__", "metric_7"}, {EQ, "instance", "host-42:9100"}, {EQ, "job", "job_3"}},
         1},
        {"{__name__=\"metric_7\",job!=\"job_3\"}",
         {{EQ, "__name__", "metric_7"}, {NEQ, "job", "job_3"}},
         900},
        {"{__name__=\"metric_7\",instance=~\"host-1.*\"}",
         {{EQ, "__name__", "metric_7"}, {RE, "instance", "host-1.*"}},
         110},
        {"{__name__=~\"metric_1.*\",job=~\"job_1|job_2\"}",
         {{RE, "__name__", "metric_1.*"}, {RE, "job", "job_1|job_2"}},
         2200},
    };
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        double us = time_select(c.ix, q[i].m, q[i].want, 200);
        print_message("select %-58s %6zu series %9.1f us\n", q[i].what, q[i].want, us);
    }
    corpus_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(selection_follows_prometheus_semantics),
        cmocka_unit_test(selection_agrees_with_a_brute_force_scan),
        cmocka_unit_test(label_names_and_values_are_sorted_and_follow_matchers),
        cmocka_unit_test(deleting_a_batch_rebuilds_lists_and_drops_empty_values),
        cmocka_unit_test(deleting_every_series_of_a_name_removes_the_name),
        cmocka_unit_test(add_requires_increasing_refs_and_respects_the_cap),
        cmocka_unit_test(a_failed_allocation_leaves_the_index_unchanged),
        cmocka_unit_test(readers_see_consistent_results_while_a_writer_adds_and_deletes),
        cmocka_unit_test(selecting_among_100k_series_takes_microseconds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
