/* test_matcher.c — label matchers against Prometheus 2.42's semantics: a table of
 * (operator, pattern, value) cases written from Prometheus's documentation and Go's RE2 syntax
 * (full anchoring, `.` and newlines, `$` at the very end, ASCII classes, Unicode folding,
 * UTF-8), which matchers match the empty string (and so select series without the label),
 * literal-set detection, the RE2 constructs PCRE2 would accept but Go refuses, error messages
 * with the pattern, reason and offset, the DFA fallback for catastrophic backtracking, and
 * concurrent matching from several threads. */
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

#include "tsdb/matcher.h"
#include "vigil/alloc.h"

#define EQ VIGIL_MATCH_EQUAL
#define NEQ VIGIL_MATCH_NOT_EQUAL
#define RE VIGIL_MATCH_REGEX
#define NRE VIGIL_MATCH_NOT_REGEX

static vigil__tsdb_matcher *matcher(vigil_match_type t, const char *v)
{
    vigil__tsdb_matcher *m = NULL;
    vigil_status st = vigil__tsdb_matcher_new(t, "label", v, &m);
    if (st != VIGIL_OK)
        fail_msg("matcher \"%s\": %s (%s)", v, vigil_strerror(st), vigil_errmsg());
    return m;
}

static const char *op(vigil_match_type t)
{
    return t == EQ ? "=" : t == NEQ ? "!=" : t == RE ? "=~" : "!~";
}

typedef struct mcase {
    vigil_match_type type;
    const char *pattern;
    const char *value;
    bool want;
} mcase;

static void run_cases(const mcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vigil__tsdb_matcher *m = matcher(cases[i].type, cases[i].pattern);
        bool got = vigil__tsdb_matcher_matches(m, cases[i].value);
        if (got != cases[i].want)
            fail_msg("case %zu: label%s\"%s\" on \"%s\": got %d, want %d", i, op(cases[i].type),
                     cases[i].pattern, cases[i].value, got, cases[i].want);
        vigil__tsdb_matcher_free(m);
    }
}

static void equality_matchers_compare_whole_values(void **state)
{
    (void)state;
    static const mcase cases[] = {
        {EQ, "GET", "GET", true},   {EQ, "GET", "get", false}, {EQ, "GET", "GETX", false},
        {EQ, "", "", true},         {EQ, "", "x", false},      {NEQ, "GET", "GET", false},
        {NEQ, "GET", "POST", true}, {NEQ, "", "", false},      {NEQ, "", "x", true},
        {EQ, "a.b", "axb", false}, /* = is never a regex */
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void regexes_are_fully_anchored(void **state)
{
    (void)state;
    static const mcase cases[] = {
        {RE, "foo", "foo", true},
        {RE, "foo", "foobar", false},
        {RE, "foo", "xfoo", false},
        {RE, "foo.*", "foobar", true},
        {RE, ".*bar", "foobar", true},
        {RE, "o+", "foo", false},
        {RE, "^foo$", "foo", true}, /* explicit anchors are harmless */
        {RE, "a|b", "ab", false},   /* the alternation is anchored as a whole */
        {RE, "a|bc", "bc", true},
        {NRE, "foo", "foobar", true},
        {NRE, "foo", "foo", false},
        /* Prometheus concatenates "^(?:" + re + ")$" in Go; an unbalanced pattern leaks out
         * of the group the same way here: ^(?:a)|(b)$ is "starts with a" or "ends with b". */
        {RE, "a)|(b", "axx", true},
        {RE, "a)|(b", "xxb", true},
        {RE, "a)|(b", "xax", false},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void newlines_follow_go_re2(void **state)
{
    (void)state;
    static const mcase cases[] = {
        {RE, "a.c", "abc", true},
        {RE, "a.c", "a\nc", false},    /* `.` excludes \n ... */
        {RE, "(?s)a.c", "a\nc", true}, /* ... unless (?s) */
        {RE, "(?-s:a.)c", "a\nc", false},
        {RE, ".*", "one\ntwo", false}, /* so even .* refuses a multi-line value */
        {RE, ".+", "one\ntwo", false},
        {NRE, ".*", "one\ntwo", true},
        {RE, "foo$", "foo\n", false}, /* $ is the end of the text, not before a final \n */
        {RE, "foo$\\n", "foo\n", false},
        {RE, "foo", "foo\n", false},
        {RE, "foo\\n", "foo\n", true},
        {RE, "(?m)foo$\\n", "foo\n", true}, /* multi-line $ does stop before \n */
        {RE, "[^a]", "\n", true},           /* negated classes include \n, as in Go */
        {RE, "a\\vb", "a\vb", true},        /* \v is a vertical tab (PCRE2: a class) */
        {RE, "a\\vb", "a\nb", false},
        {RE, "[\\v]", "\r", false},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void classes_are_ascii_and_folding_is_unicode(void **state)
{
    (void)state;
    static const mcase cases[] = {
        {RE, "\\d+", "123", true},
        {RE, "\\d+", "\xd9\xa1\xd9\xa2", false}, /* Arabic-Indic digits: \d is ASCII in Go */
        {RE, "\\w+", "caf\xc3\xa9", false},
        {RE, "\\pL+", "caf\xc3\xa9", true},
        {RE, "\\p{Greek}+", "\xce\xb1\xce\xb2\xce\xb3", true}, /* αβγ */
        {RE, "(?i)\xcf\x83", "\xce\xa3", true},                /* σ folds to Σ */
        {RE, "(?i)get", "GeT", true},
        {RE, "get", "GET", false},
        {RE, "[[:alpha:]]+", "abcXYZ", true},
        {RE, "[[:alpha:]]+", "ab1", false},
        {RE, "\\bx\\b", "x", true},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void utf8_values_match_by_code_point(void **state)
{
    (void)state;
    static const mcase cases[] = {
        {RE, ".", "\xc3\xa9", true}, /* é is one code point, two bytes */
        {RE, "..", "\xc3\xa9", false},
        {RE, "\xe6\x9d\xb1.*", "\xe6\x9d\xb1\xe4\xba\xac", true}, /* 東.* on 東京 */
        {RE, "\\x{1F600}", "\xf0\x9f\x98\x80", true},
        {RE, "[\xc3\xa0-\xc3\xbf]", "\xc3\xa9", true}, /* [à-ÿ] on é */
        {EQ, "\xe6\x9d\xb1\xe4\xba\xac", "\xe6\x9d\xb1\xe4\xba\xac", true},
        {RE, ".*", "\xff", false}, /* a value that is not UTF-8 never matches a regex */
        {NRE, ".*", "\xff", true},
        {RE, "a.*", "a\xc3", false},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void go_syntax_beyond_literals_is_accepted(void **state)
{
    (void)state;
    static const mcase cases[] = {
        {RE, "(?P<verb>GET|POST)", "POST", true},
        {RE, "(?i:get)s", "GETs", true},
        {RE, "(?i:get)s", "GETS", false},
        {RE, "a{2,3}?", "aa", true},
        {RE, "a{2,3}", "aaaa", false},
        {RE, "a{2,}", "aaaaa", true},
        {RE, "a{,3}", "a{,3}", true}, /* not a repeat in Go: literal braces */
        {RE, "\\Qa.b|c\\E", "a.b|c", true},
        {RE, "\\Qa.b|c\\E", "axb|c", false},
        {RE, "[\\d\\-]+", "1-2", true},
        {RE, "[]a]+", "]a", true},
        {RE, "\\x41\\101", "AA", true}, /* hex and octal escapes */
        {RE, "\\.", ".", true},
        {RE, "\\A(?:x)\\z", "x", true},
        {RE, "(?U)a+", "aaa", true}, /* ungreedy changes nothing for a whole match */
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

static void matchers_know_whether_they_match_the_empty_string(void **state)
{
    (void)state;
    static const struct {
        vigil_match_type type;
        const char *pattern;
        bool empty;
    } cases[] = {
        {EQ, "", true},    {EQ, "x", false},   {NEQ, "", false},   {NEQ, "x", true},
        {RE, ".*", true},  {RE, ".+", false},  {RE, "a?", true},   {RE, "a", false},
        {RE, "", true},    {RE, "c||d", true}, {RE, "c|d", false}, {NRE, ".*", false},
        {NRE, ".+", true}, {NRE, "a", true},   {NRE, "", false},   {RE, "(a|)", true},
        {RE, "^$", true},  {RE, "x*", true},   {RE, "\\s*", true}, {NRE, "x*", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil__tsdb_matcher *m = matcher(cases[i].type, cases[i].pattern);
        if (vigil__tsdb_matcher_matches_empty(m) != cases[i].empty)
            fail_msg("label%s\"%s\": matches_empty should be %d", op(cases[i].type),
                     cases[i].pattern, cases[i].empty);
        assert_int_equal(vigil__tsdb_matcher_matches(m, ""), cases[i].empty);
        vigil__tsdb_matcher_free(m);
    }
}

static void literal_alternations_become_sorted_sets(void **state)
{
    (void)state;
    static const struct {
        vigil_match_type type;
        const char *pattern;
        const char *want; /* the set joined with ',' or NULL when not a set */
    } cases[] = {
        {RE, "PUT|GET|POST|GET", "GET,POST,PUT"},
        {NRE, "b|a", "a,b"},
        {RE, "foo\\.bar|baz", "baz,foo.bar"},
        {RE, "(a|b)", "a,b"},
        {RE, "(?:a|b)", "a,b"},
        {RE, "c||d", ",c,d"},
        {RE, "x", "x"},
        {EQ, "a.b", "a.b"},
        {NEQ, "", ""},
        {RE, "a.b", NULL},
        {RE, "(a)|(b)", NULL},
        {RE, "a|b*", NULL},
        {RE, ".*", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vigil__tsdb_matcher *m = matcher(cases[i].type, cases[i].pattern);
        const char *const *vals;
        size_t n;
        bool is_set = vigil__tsdb_matcher_literals(m, &vals, &n);
        if (is_set != (cases[i].want != NULL))
            fail_msg("\"%s\": literal set %d, expected %d", cases[i].pattern, is_set,
                     cases[i].want != NULL);
        char joined[128] = "";
        for (size_t k = 0; is_set && k < n; k++) {
            strcat(joined, k ? "," : "");
            strcat(joined, vals[k]);
        }
        if (is_set && strcmp(joined, cases[i].want) != 0)
            fail_msg("\"%s\": set \"%s\", expected \"%s\"", cases[i].pattern, joined,
                     cases[i].want);
        vigil__tsdb_matcher_free(m);
    }
    /* The set gives the same answers as the regex would. */
    static const mcase sets[] = {
        {RE, "GET|POST", "GET", true},           {RE, "GET|POST", "PUT", false},
        {RE, "GET|POST", "GETPOST", false},      {RE, "foo\\.bar|baz", "foo.bar", true},
        {RE, "foo\\.bar|baz", "fooxbar", false}, {NRE, "GET|POST", "POST", false},
        {NRE, "GET|POST", "PATCH", true},
    };
    run_cases(sets, sizeof sets / sizeof sets[0]);
}

static void expect_regex_error(const char *pattern, const char *reason, long offset)
{
    vigil__tsdb_matcher *m = (vigil__tsdb_matcher *)0x1;
    vigil_status st = vigil__tsdb_matcher_new(RE, "label", pattern, &m);
    if (st != VIGIL_EINVAL)
        fail_msg("\"%s\" should be refused, got %s", pattern, vigil_strerror(st));
    assert_null(m);
    const char *msg = vigil_errmsg();
    char head[300];
    snprintf(head, sizeof head, "regex \"%s\": ", pattern);
    if (strncmp(msg, head, strlen(head)) != 0 || strstr(msg, reason) == NULL)
        fail_msg("message \"%s\" should name the pattern and \"%s\"", msg, reason);
    if (offset >= 0) {
        char at[32];
        snprintf(at, sizeof at, "at offset %ld", offset);
        if (strstr(msg, at) == NULL)
            fail_msg("message \"%s\" should say \"%s\"", msg, at);
    }
}

static void bad_regexes_fail_with_pattern_reason_and_offset(void **state)
{
    (void)state;
    expect_regex_error("a(b", "missing closing parenthesis", 3);
    expect_regex_error("[a", "missing closing ]", 0);
    expect_regex_error("*a", "quantifier", 0);
    expect_regex_error("a{2,1}", "out of order", -1);
    expect_regex_error("ab\\", "trailing backslash", 2);
    expect_regex_error("\\p{NoSuchScript}", "unknown property", -1);
    expect_regex_error("caf\xc3", "not valid UTF-8", -1);
}

static void pcre_only_syntax_is_refused_like_go_does(void **state)
{
    (void)state;
    expect_regex_error("(a)\\1", "backreferences", 3);
    expect_regex_error("(?=a)a", "unsupported Perl syntax", 0);
    expect_regex_error("a(?!b)", "unsupported Perl syntax", 1);
    expect_regex_error("(?<=a)b", "unsupported Perl syntax", 0);
    expect_regex_error("(?>a+)", "unsupported Perl syntax", 0);
    expect_regex_error("(?<name>a)", "unsupported Perl syntax", 0); /* Go 1.22+ only */
    expect_regex_error("(?#comment)a", "unsupported Perl syntax", 0);
    expect_regex_error("(?x)a b", "unsupported Perl syntax", 0);
    expect_regex_error("(?R)", "unsupported Perl syntax", 0);
    expect_regex_error("a++", "nested repetition", 2); /* possessive in PCRE2 */
    expect_regex_error("a**", "nested repetition", 2);
    expect_regex_error("a*??", "nested repetition", 3);
    expect_regex_error("a{2}{3}", "nested repetition", 4);
    expect_regex_error("a{1001}", "repeat count", 1);
    expect_regex_error("x\\K", "escape", 1);
    expect_regex_error("\\h", "escape", 0);
    expect_regex_error("a\\Z", "escape", 1);
    expect_regex_error("\\R", "escape", 0);
    expect_regex_error("\\C", "escape", 0);
    expect_regex_error("[\\b]", "escape", 1);
    expect_regex_error("\\x4", "escape", 0);
    expect_regex_error("\\\xc3\xa9", "escape", 0);
    expect_regex_error("(*FAIL)", "repetition", 1);
}

static void error_offsets_point_into_the_users_pattern(void **state)
{
    (void)state;
    /* The \v rewrite lengthens what PCRE2 sees; offsets must still be the user's. Take the
     * offset PCRE2 gives a pattern, then prefix it with two \v and expect 4 more. */
    vigil__tsdb_matcher *m;
    assert_int_equal(vigil__tsdb_matcher_new(RE, "l", "(?P<1a>x)", &m), VIGIL_EINVAL);
    const char *at = strstr(vigil_errmsg(), "at offset ");
    assert_non_null(at);
    long base = strtol(at + 10, NULL, 10);
    assert_true(base > 0);
    expect_regex_error("\\v\\v(?P<1a>x)", "subpattern name", base + 4);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void catastrophic_backtracking_still_gets_the_right_answer(void **state)
{
    (void)state;
    /* The first branch backtracks exponentially on a run of x; the answer comes from the
     * second. The step limit stops the backtracking and the DFA engine answers instead. */
    char value[64];
    memset(value, 'x', 40);
    strcpy(value + 40, "z");
    vigil__tsdb_matcher *m = matcher(RE, "(x+x+)+y|x*z");
    double t0 = seconds();
    assert_true(vigil__tsdb_matcher_matches(m, value));
    value[40] = 'w';
    assert_false(vigil__tsdb_matcher_matches(m, value));
    double took = seconds() - t0;
    print_message("two pathological matches took %.1f ms\n", took * 1e3);
    assert_true(took < 2.0); /* unbounded backtracking would take hours */
    vigil__tsdb_matcher_free(m);
}

static void bad_arguments_are_refused(void **state)
{
    (void)state;
    vigil__tsdb_matcher *m;
    assert_int_equal(vigil__tsdb_matcher_new(EQ, NULL, "x", &m), VIGIL_EINVAL);
    assert_int_equal(vigil__tsdb_matcher_new(EQ, "a", NULL, &m), VIGIL_EINVAL);
    assert_int_equal(vigil__tsdb_matcher_new((vigil_match_type)9, "a", "x", &m), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "unknown type"));
    m = matcher(NRE, "a|b");
    assert_string_equal(vigil__tsdb_matcher_name(m), "label");
    assert_string_equal(vigil__tsdb_matcher_value(m), "a|b");
    assert_int_equal(vigil__tsdb_matcher_type(m), NRE);
    vigil__tsdb_matcher_free(m);
    vigil__tsdb_matcher_free(NULL);
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

static void allocation_failures_give_enomem_and_leak_nothing(void **state)
{
    (void)state;
    vigil__tsdb_matcher_free(matcher(RE, "warm.up")); /* PCRE2's process-wide set-up */
    const char *patterns[] = {"GET|POST", "api-[0-9]+|web", "x"};
    vigil_allocator failing = {failing_malloc, failing_realloc, plain_free, NULL};
    for (size_t p = 0; p < sizeof patterns / sizeof patterns[0]; p++) {
        int failures = 0;
        for (long k = 0;; k++) {
            vigil__tsdb_matcher *m = NULL;
            allocs_left = k;
            vigil_set_allocator(&failing);
            vigil_status st = vigil__tsdb_matcher_new(NRE, "label", patterns[p], &m);
            vigil_set_allocator(NULL);
            if (st == VIGIL_OK) {
                /* Whatever failed before, the matcher that finally came out is right. */
                assert_true(vigil__tsdb_matcher_matches_empty(m));
                assert_false(vigil__tsdb_matcher_matches(m, "GET") && p == 0);
                vigil__tsdb_matcher_free(m);
                break;
            }
            assert_int_equal(st, VIGIL_ENOMEM);
            assert_null(m);
            failures++;
        }
        assert_true(failures >= 2); /* at least the matcher and its copy of the name */
    }
}

typedef struct match_job {
    const vigil__tsdb_matcher *m;
    int wrong;
} match_job;

static void *match_many(void *arg)
{
    match_job *j = arg;
    char v[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "host-%d.example", i);
        bool want = i % 10 == 7;
        if (vigil__tsdb_matcher_matches(j->m, v) != want)
            j->wrong++;
    }
    return NULL;
}

static void one_matcher_serves_many_threads_at_once(void **state)
{
    (void)state;
    vigil__tsdb_matcher *m = matcher(RE, "host-[0-9]*7\\.(example|test)");
    match_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i].m = m;
        jobs[i].wrong = 0;
        assert_int_equal(pthread_create(&th[i], NULL, match_many, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(jobs[i].wrong, 0);
    }
    vigil__tsdb_matcher_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equality_matchers_compare_whole_values),
        cmocka_unit_test(regexes_are_fully_anchored),
        cmocka_unit_test(newlines_follow_go_re2),
        cmocka_unit_test(classes_are_ascii_and_folding_is_unicode),
        cmocka_unit_test(utf8_values_match_by_code_point),
        cmocka_unit_test(go_syntax_beyond_literals_is_accepted),
        cmocka_unit_test(matchers_know_whether_they_match_the_empty_string),
        cmocka_unit_test(literal_alternations_become_sorted_sets),
        cmocka_unit_test(bad_regexes_fail_with_pattern_reason_and_offset),
        cmocka_unit_test(pcre_only_syntax_is_refused_like_go_does),
        cmocka_unit_test(error_offsets_point_into_the_users_pattern),
        cmocka_unit_test(catastrophic_backtracking_still_gets_the_right_answer),
        cmocka_unit_test(bad_arguments_are_refused),
        cmocka_unit_test(allocation_failures_give_enomem_and_leak_nothing),
        cmocka_unit_test(one_matcher_serves_many_threads_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
