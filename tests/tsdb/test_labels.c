/* test_labels.c — the tsdb symbol table and label sets: building (sorting, dropping empty
 * values, the Prometheus name rules, UTF-8, duplicates named in the message), interning (one
 * copy per string, pointers stable while the table grows, concurrent interning agreeing on one
 * pointer, the byte cap), hashing (independent of order and table), Prometheus's ordering, and
 * formatting with the exposition's escapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "tsdb/labels.h"
#include "vigil/alloc.h"

static vigil__tsdb_symtab *new_table(size_t max)
{
    vigil__tsdb_symtab *t = NULL;
    assert_int_equal(vigil__tsdb_symtab_new(max, &t), VIGIL_OK);
    return t;
}

static vigil__tsdb_labels *build(vigil__tsdb_symtab *t, const vigil_label *in, size_t n)
{
    vigil__tsdb_labels *ls = NULL;
    vigil_status st = vigil__tsdb_labels_build(t, in, n, &ls);
    if (st != VIGIL_OK)
        fail_msg("build: %s (%s)", vigil_strerror(st), vigil_errmsg());
    return ls;
}

static char *format(const vigil__tsdb_labels *ls)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil__tsdb_labels_format(ls, &b), VIGIL_OK);
    char *s = strdup(vigil_buffer_cstr(&b));
    vigil_buffer_free(&b);
    return s;
}

static void build_sorts_by_name_and_drops_empty_values(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    vigil_label in[] = {{"zone", "eu"}, {"job", ""}, {"__name__", "up"}, {"instance", "h:9"}};
    vigil__tsdb_labels *ls = build(t, in, 4);
    assert_int_equal(ls->n, 3);
    assert_string_equal(ls->l[0].name, "__name__");
    assert_string_equal(ls->l[1].name, "instance");
    assert_string_equal(ls->l[2].name, "zone");
    assert_null(vigil__tsdb_labels_get(ls, "job"));
    assert_string_equal(vigil__tsdb_labels_get(ls, "instance"), "h:9");
    vigil__tsdb_labels_free(ls);
    vigil__tsdb_symtab_free(t);
}

static void empty_value_is_the_same_series_as_no_label(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    vigil_label with[] = {{"__name__", "up"}, {"job", ""}};
    vigil_label without[] = {{"__name__", "up"}};
    vigil__tsdb_labels *a = build(t, with, 2), *b = build(t, without, 1);
    assert_true(vigil__tsdb_labels_equal(a, b));
    assert_int_equal(vigil__tsdb_labels_hash(a), vigil__tsdb_labels_hash(b));
    vigil__tsdb_labels_free(a);
    vigil__tsdb_labels_free(b);
    vigil__tsdb_symtab_free(t);
}

static void expect_build_error(vigil__tsdb_symtab *t, const vigil_label *in, size_t n,
                               vigil_status want, const char *msg_part)
{
    vigil__tsdb_labels *ls = (vigil__tsdb_labels *)0x1;
    vigil_status st = vigil__tsdb_labels_build(t, in, n, &ls);
    if (st != want)
        fail_msg("want %s, got %s (%s)", vigil_strerror(want), vigil_strerror(st), vigil_errmsg());
    assert_null(ls);
    if (strstr(vigil_errmsg(), msg_part) == NULL)
        fail_msg("message \"%s\" does not name \"%s\"", vigil_errmsg(), msg_part);
}

static void build_rejects_duplicate_names_naming_the_label(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    vigil_label dup[] = {{"__name__", "up"}, {"job", "a"}, {"zone", "x"}, {"job", "b"}};
    expect_build_error(t, dup, 4, VIGIL_ELABELS, "\"job\"");
    /* Even when one of them is empty: the caller said the same name twice. */
    vigil_label dup_empty[] = {{"env", ""}, {"env", "prod"}};
    expect_build_error(t, dup_empty, 2, VIGIL_ELABELS, "\"env\"");
    vigil__tsdb_symtab_free(t);
}

static void build_rejects_label_names_outside_the_prometheus_rule(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    const char *bad[] = {"1abc", "a-b", "", "a:b", "caf\xc3\xa9", "a b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vigil_label in[] = {{"__name__", "up"}, {bad[i], "v"}};
        char want[64];
        snprintf(want, sizeof want, "label name \"%s\"", bad[i]);
        expect_build_error(t, in, 2, VIGIL_ENAME, want);
    }
    vigil_label ok[] = {{"_x9", "v"}, {"__reserved__", "v"}, {"A", "v"}};
    vigil__tsdb_labels *ls = build(t, ok, 3);
    assert_int_equal(ls->n, 3);
    vigil__tsdb_labels_free(ls);
    vigil__tsdb_symtab_free(t);
}

static void build_checks_the_metric_name_rule_on_name_values(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    const char *bad[] = {"1up", "up-time", "up time", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vigil_label in[] = {{"__name__", bad[i]}};
        char want[64];
        snprintf(want, sizeof want, "metric name \"%s\"", bad[i]);
        expect_build_error(t, in, 1, VIGIL_ENAME, want);
    }
    /* Colons are allowed in metric names (recording rules) but not in label names. */
    vigil_label ok[] = {{"__name__", "job:up:sum"}, {"other", "1up-time"}};
    vigil__tsdb_labels *ls = build(t, ok, 2);
    assert_string_equal(vigil__tsdb_labels_get(ls, "__name__"), "job:up:sum");
    vigil__tsdb_labels_free(ls);
    vigil__tsdb_symtab_free(t);
}

static void build_rejects_values_that_are_not_utf8(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    const char *bad[] = {"\xc0\xaf", "\x80", "ok\xff", "\xed\xa0\x80", "\xe6\x97"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vigil_label in[] = {{"__name__", "up"}, {"path", bad[i]}};
        expect_build_error(t, in, 2, VIGIL_EINVAL, "label \"path\": value is not valid UTF-8");
    }
    vigil_label ok[] = {{"city", "\xe6\x9d\xb1\xe4\xba\xac"}, {"face", "\xf0\x9f\x98\x80"}};
    vigil__tsdb_labels *ls = build(t, ok, 2);
    assert_string_equal(vigil__tsdb_labels_get(ls, "city"), "東京");
    vigil__tsdb_labels_free(ls);
    vigil__tsdb_symtab_free(t);
}

static void build_refuses_too_many_labels_and_null_strings(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    static vigil_label many[VIGIL__TSDB_LABELS_MAX + 1];
    static char names[VIGIL__TSDB_LABELS_MAX + 1][16];
    for (int i = 0; i <= VIGIL__TSDB_LABELS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "l%d", i);
        many[i].name = names[i];
        many[i].value = "v";
    }
    expect_build_error(t, many, VIGIL__TSDB_LABELS_MAX + 1, VIGIL_ELIMIT, "labels");
    vigil__tsdb_labels *ls = build(t, many, VIGIL__TSDB_LABELS_MAX);
    assert_int_equal(ls->n, VIGIL__TSDB_LABELS_MAX);
    vigil__tsdb_labels_free(ls);
    vigil_label null_value[] = {{"job", NULL}};
    expect_build_error(t, null_value, 1, VIGIL_EINVAL, "\"job\"");
    vigil_label null_name[] = {{NULL, "x"}};
    expect_build_error(t, null_name, 1, VIGIL_EINVAL, "NULL");
    vigil__tsdb_symtab_free(t);
}

static void interning_keeps_one_copy_per_string(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    vigil_label a[] = {{"__name__", "up"}, {"job", "api"}};
    char job[] = "job", api[] = "api"; /* different addresses, same bytes */
    vigil_label b[] = {{job, api}, {"__name__", "up"}};
    vigil__tsdb_labels *x = build(t, a, 2), *y = build(t, b, 2);
    assert_ptr_equal(x->l[1].name, y->l[1].name);
    assert_ptr_equal(x->l[1].value, y->l[1].value);
    assert_ptr_not_equal(x->l[1].value, api);
    assert_ptr_equal(vigil__tsdb_symtab_find(t, "api", 3), x->l[1].value);
    assert_null(vigil__tsdb_symtab_find(t, "ap", 2));
    assert_null(vigil__tsdb_symtab_find(t, "apix", 4));
    vigil__tsdb_symtab_stats s;
    vigil__tsdb_symtab_get_stats(t, &s);
    assert_int_equal(s.strings, 4); /* __name__, up, job, api */
    assert_int_equal(s.bytes, sizeof "__name__" + sizeof "up" + sizeof "job" + sizeof "api");
    vigil__tsdb_labels_free(x);
    vigil__tsdb_labels_free(y);
    vigil__tsdb_symtab_free(t);
}

static void interned_pointers_survive_table_growth(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    enum { N = 50000 };
    const char **ptrs = malloc(N * sizeof *ptrs);
    char buf[32];
    size_t bytes = 0;
    for (int i = 0; i < N; i++) {
        int len = snprintf(buf, sizeof buf, "value-%d", i);
        assert_int_equal(vigil__tsdb_symtab_intern(t, buf, (size_t)len, &ptrs[i]), VIGIL_OK);
        bytes += (size_t)len + 1;
    }
    /* A long string gets its own block and must not disturb the shared ones. */
    char *big = malloc(20000);
    memset(big, 'x', 19999);
    big[19999] = '\0';
    const char *bigp;
    assert_int_equal(vigil__tsdb_symtab_intern(t, big, 19999, &bigp), VIGIL_OK);
    for (int i = 0; i < N; i++) {
        int len = snprintf(buf, sizeof buf, "value-%d", i);
        assert_string_equal(ptrs[i], buf);
        assert_ptr_equal(vigil__tsdb_symtab_find(t, buf, (size_t)len), ptrs[i]);
    }
    assert_ptr_equal(vigil__tsdb_symtab_find(t, big, 19999), bigp);
    vigil__tsdb_symtab_stats s;
    vigil__tsdb_symtab_get_stats(t, &s);
    assert_int_equal(s.strings, N + 1);
    assert_int_equal(s.bytes, bytes + 20000);
    assert_true(s.memory > s.bytes);
    free(big);
    free(ptrs);
    vigil__tsdb_symtab_free(t);
}

static void symtab_refuses_to_grow_past_its_cap(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(64);
    const char *p;
    assert_int_equal(vigil__tsdb_symtab_intern(t, "0123456789012345678901234567890", 31, &p),
                     VIGIL_OK);
    assert_int_equal(vigil__tsdb_symtab_intern(t, "abcdefghijabcdefghijabcdefghij", 30, &p),
                     VIGIL_OK);
    assert_int_equal(vigil__tsdb_symtab_intern(t, "more", 4, &p), VIGIL_ELIMIT);
    assert_non_null(strstr(vigil_errmsg(), "symbol table full"));
    /* Existing strings are still found without any room. */
    assert_int_equal(vigil__tsdb_symtab_intern(t, "abcdefghijabcdefghijabcdefghij", 30, &p),
                     VIGIL_OK);
    vigil__tsdb_symtab_free(t);
}

typedef struct intern_job {
    vigil__tsdb_symtab *t;
    const char *got[500];
    int offset;
} intern_job;

static void *intern_many(void *arg)
{
    intern_job *j = arg;
    char buf[32];
    for (int k = 0; k < 500; k++) {
        int i = (k + j->offset) % 500; /* every thread in a different order */
        int len = snprintf(buf, sizeof buf, "shared-%d", i);
        if (vigil__tsdb_symtab_intern(j->t, buf, (size_t)len, &j->got[i]) != VIGIL_OK)
            j->got[i] = NULL;
    }
    return NULL;
}

static void concurrent_interning_agrees_on_one_pointer(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    intern_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].t = t;
        jobs[i].offset = i * 137;
        assert_int_equal(pthread_create(&th[i], NULL, intern_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int k = 0; k < 500; k++) {
        assert_non_null(jobs[0].got[k]);
        for (int i = 1; i < 4; i++)
            assert_ptr_equal(jobs[i].got[k], jobs[0].got[k]);
    }
    vigil__tsdb_symtab_stats s;
    vigil__tsdb_symtab_get_stats(t, &s);
    assert_int_equal(s.strings, 500);
    vigil__tsdb_symtab_free(t);
}

static void hash_depends_on_content_not_on_order_or_table(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t1 = new_table(0), *t2 = new_table(0);
    vigil_label a[] = {{"__name__", "up"}, {"job", "api"}, {"zone", "eu"}};
    vigil_label b[] = {{"zone", "eu"}, {"__name__", "up"}, {"job", "api"}};
    vigil_label shifted1[] = {{"a", "bc"}, {"d", "e"}};
    vigil_label shifted2[] = {{"a", "b"}, {"d", "ce"}};
    vigil_label other[] = {{"__name__", "up"}, {"job", "apj"}, {"zone", "eu"}};
    vigil__tsdb_labels *x = build(t1, a, 3), *y = build(t2, b, 3);
    vigil__tsdb_labels *s1 = build(t1, shifted1, 2), *s2 = build(t1, shifted2, 2);
    vigil__tsdb_labels *o = build(t1, other, 3);
    assert_ptr_not_equal(x->l[1].value, y->l[1].value);
    assert_true(vigil__tsdb_labels_hash(x) == vigil__tsdb_labels_hash(y));
    assert_true(vigil__tsdb_labels_equal(x, y));
    assert_true(vigil__tsdb_labels_hash(s1) != vigil__tsdb_labels_hash(s2));
    assert_true(vigil__tsdb_labels_hash(x) != vigil__tsdb_labels_hash(o));
    assert_false(vigil__tsdb_labels_equal(x, o));
    vigil__tsdb_labels *c;
    assert_int_equal(vigil__tsdb_labels_clone(x, &c), VIGIL_OK);
    assert_true(vigil__tsdb_labels_equal(x, c));
    assert_true(vigil__tsdb_labels_hash(c) == vigil__tsdb_labels_hash(x));
    vigil__tsdb_labels_free(c);
    vigil__tsdb_labels_free(x);
    vigil__tsdb_labels_free(y);
    vigil__tsdb_labels_free(s1);
    vigil__tsdb_labels_free(s2);
    vigil__tsdb_labels_free(o);
    vigil__tsdb_symtab_free(t1);
    vigil__tsdb_symtab_free(t2);
}

static int sign(int v)
{
    return (v > 0) - (v < 0);
}

static void compare_orders_like_prometheus(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    /* Cases in the spirit of Prometheus's TestLabels_Compare: name first, then value, then
     * the shorter set first. */
    struct {
        vigil_label a[3];
        size_t na;
        vigil_label b[3];
        size_t nb;
        int want;
    } cases[] = {
        {{{"aaa", "111"}, {"bbb", "222"}}, 2, {{"aaa", "111"}, {"bbb", "222"}}, 2, 0},
        {{{"aaa", "111"}, {"bbb", "222"}}, 2, {{"aaa", "111"}, {"bbb", "233"}}, 2, -1},
        {{{"aaa", "111"}, {"bbb", "222"}}, 2, {{"aaa", "111"}, {"bar", "222"}}, 2, 1},
        {{{"aaa", "111"}, {"bbb", "222"}}, 2, {{"aaa", "111"}}, 1, 1},
        {{{"aaa", "111"}}, 1, {{"aaa", "111"}, {"aab", "0"}}, 2, -1},
        {{{"aaa", "111"}, {"ccc", "0"}}, 2, {{"aaa", "111"}, {"bbb", "999"}}, 2, 1},
        {{{"aaa", "2"}}, 1, {{"aaa", "10"}}, 1, 1},   /* byte order, not numeric */
        {{{"a", "\xc3\xa9"}}, 1, {{"a", "z"}}, 1, 1}, /* UTF-8 sorts after ASCII */
        {{{"x", "1"}}, 0, {{"x", "1"}}, 1, -1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil__tsdb_labels *a = build(t, cases[i].a, cases[i].na);
        vigil__tsdb_labels *b = build(t, cases[i].b, cases[i].nb);
        if (sign(vigil__tsdb_labels_compare(a, b)) != cases[i].want ||
            sign(vigil__tsdb_labels_compare(b, a)) != -cases[i].want)
            fail_msg("case %zu: compare gave %d, want sign %d", i, vigil__tsdb_labels_compare(a, b),
                     cases[i].want);
        assert_int_equal(vigil__tsdb_labels_equal(a, b), cases[i].want == 0);
        vigil__tsdb_labels_free(a);
        vigil__tsdb_labels_free(b);
    }
    vigil__tsdb_symtab_free(t);
}

static void format_escapes_like_the_exposition(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    vigil_label in[] = {{"path", "C:\\tmp"},
                        {"__name__", "http_requests_total"},
                        {"msg", "say \"hi\"\nbye"},
                        {"city", "東京"}};
    vigil__tsdb_labels *ls = build(t, in, 4);
    char *s = format(ls);
    assert_string_equal(s, "http_requests_total{city=\"東京\",msg=\"say \\\"hi\\\"\\nbye\","
                           "path=\"C:\\\\tmp\"}");
    free(s);
    vigil__tsdb_labels_free(ls);

    vigil_label only_name[] = {{"__name__", "up"}};
    ls = build(t, only_name, 1);
    s = format(ls);
    assert_string_equal(s, "up");
    free(s);
    vigil__tsdb_labels_free(ls);

    vigil_label no_name[] = {{"job", "a"}, {"env", "b"}};
    ls = build(t, no_name, 2);
    s = format(ls);
    assert_string_equal(s, "{env=\"b\",job=\"a\"}");
    free(s);
    vigil__tsdb_labels_free(ls);

    ls = build(t, NULL, 0);
    s = format(ls);
    assert_string_equal(s, "{}");
    free(s);
    vigil__tsdb_labels_free(ls);
    vigil__tsdb_symtab_free(t);
}

static void format_stops_at_the_buffer_cap(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    vigil_label in[] = {{"__name__", "up"}, {"job", "a-rather-long-value"}};
    vigil__tsdb_labels *ls = build(t, in, 2);
    vigil_buffer b;
    vigil_buffer_init(&b, 10);
    assert_int_equal(vigil__tsdb_labels_format(ls, &b), VIGIL_ELIMIT);
    vigil_buffer_free(&b);
    vigil__tsdb_labels_free(ls);
    vigil__tsdb_symtab_free(t);
}

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

static void allocation_failures_give_enomem_and_keep_the_table_usable(void **state)
{
    (void)state;
    vigil__tsdb_symtab *t = new_table(0);
    vigil_label in[] = {{"__name__", "up"}, {"job", "api"}, {"zone", "eu-west-1"}};
    vigil_allocator failing = {failing_malloc, failing_realloc, plain_free, NULL};
    int failures = 0;
    for (long k = 0;; k++) {
        vigil__tsdb_labels *ls = NULL;
        allocs_left = k;
        vigil_set_allocator(&failing);
        vigil_status st = vigil__tsdb_labels_build(t, in, 3, &ls);
        vigil_set_allocator(NULL);
        if (st == VIGIL_OK) {
            char *s = format(ls);
            assert_string_equal(s, "up{job=\"api\",zone=\"eu-west-1\"}");
            free(s);
            vigil__tsdb_labels_free(ls);
            break;
        }
        assert_int_equal(st, VIGIL_ENOMEM);
        assert_null(ls);
        failures++;
    }
    assert_true(failures >= 3); /* the set, the first slots, the first string block */
    vigil__tsdb_symtab_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(build_sorts_by_name_and_drops_empty_values),
        cmocka_unit_test(empty_value_is_the_same_series_as_no_label),
        cmocka_unit_test(build_rejects_duplicate_names_naming_the_label),
        cmocka_unit_test(build_rejects_label_names_outside_the_prometheus_rule),
        cmocka_unit_test(build_checks_the_metric_name_rule_on_name_values),
        cmocka_unit_test(build_rejects_values_that_are_not_utf8),
        cmocka_unit_test(build_refuses_too_many_labels_and_null_strings),
        cmocka_unit_test(interning_keeps_one_copy_per_string),
        cmocka_unit_test(interned_pointers_survive_table_growth),
        cmocka_unit_test(symtab_refuses_to_grow_past_its_cap),
        cmocka_unit_test(concurrent_interning_agrees_on_one_pointer),
        cmocka_unit_test(hash_depends_on_content_not_on_order_or_table),
        cmocka_unit_test(compare_orders_like_prometheus),
        cmocka_unit_test(format_escapes_like_the_exposition),
        cmocka_unit_test(format_stops_at_the_buffer_cap),
        cmocka_unit_test(allocation_failures_give_enomem_and_keep_the_table_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
