/* test_parse_errors.c — a query PromQL rejects is rejected with Prometheus 2.42's message and
 * position ("<line>:<column>: parse error: <reason>", the column counted in bytes as
 * Prometheus counts it): type errors from its checkAST, syntax errors from its grammar and
 * lexer, literal errors, and vigil's own limits on size and nesting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"
#include "promql/ast.h"

typedef struct bad {
    const char *query;
    const char *message; /* the whole message vigil_errmsg() must hold */
} bad;

static void assert_rejects(const bad *cases, size_t n)
{
    size_t failures = 0;
    for (size_t i = 0; i < n; i++) {
        pq_arena arena;
        pq_node *root = (pq_node *)&arena; /* must be reset to NULL on failure */
        vigil__pq_arena_init(&arena);
        vigil_status st = vigil__pq_parse(cases[i].query, &arena, &root);
        if (st != VIGIL_EINVAL || root != NULL || strcmp(vigil_errmsg(), cases[i].message) != 0) {
            print_error("query %s\n   got: %s (%s)\n  want: %s\n", cases[i].query,
                        st == VIGIL_OK ? "accepted" : vigil_errmsg(), vigil_strerror(st),
                        cases[i].message);
            failures++;
        }
        vigil__pq_arena_free(&arena);
    }
    assert_int_equal(failures, 0);
}

#define REJECTS(...)                                              \
    do {                                                          \
        static const bad cases_[] = {__VA_ARGS__};                \
        assert_rejects(cases_, sizeof cases_ / sizeof cases_[0]); \
    } while (0)

static void function_arguments_are_type_checked(void **state)
{
    (void)state;
    REJECTS(
        {"rate(foo)", "1:6: parse error: expected type range vector in call to function \"rate\", "
                      "got instant vector"},
        {"abs(foo[5m])", "1:5: parse error: expected type instant vector in call to function "
                         "\"abs\", got range vector"},
        {"histogram_quantile(foo, bar)", "1:20: parse error: expected type scalar in call to "
                                         "function \"histogram_quantile\", got instant vector"},
        {"label_replace(a, \"b\", \"c\", \"d\", 1)",
         "1:33: parse error: expected type string in call to function \"label_replace\", got "
         "scalar"},
        {"label_join(a, \"b\", \"c\", \"d\", \"e\", f)",
         "1:35: parse error: expected type string in call to function \"label_join\", got "
         "instant vector"},
        {"rate(+foo)", "1:6: parse error: expected type range vector in call to function "
                       "\"rate\", got instant vector"},
        {"vector(\"s\")", "1:8: parse error: expected type scalar in call to function \"vector\", "
                          "got string"});
}

static void function_argument_counts_are_checked(void **state)
{
    (void)state;
    REJECTS({"rate()", "1:1: parse error: expected 1 argument(s) in call to \"rate\", got 0"},
            {"time(1)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
            {"clamp(a, 1)", "1:1: parse error: expected 3 argument(s) in call to \"clamp\", got 2"},
            {"round()", "1:1: parse error: expected at least 1 argument(s) in call to \"round\", "
                        "got 0"},
            {"round(a, 1, 2)", "1:1: parse error: expected at most 2 argument(s) in call to "
                               "\"round\", got 3"},
            {"year(a, b)", "1:1: parse error: expected at most 1 argument(s) in call to \"year\", "
                           "got 2"},
            {"label_join(a, \"b\")", "1:1: parse error: expected at least 3 argument(s) in call "
                                     "to \"label_join\", got 2"},
            {"x + unknown(x)", "1:5: parse error: unknown function with name \"unknown\""},
            {"Rate(x[5m])", "1:1: parse error: unknown function with name \"Rate\""},
            {"rate(a,)", "1:7: parse error: trailing commas not allowed in function call args"});
}

static void binary_operators_are_type_checked(void **state)
{
    (void)state;
    REJECTS(
        {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
        {"(1) >  2", "1:5: parse error: comparisons between scalars must use BOOL modifier"},
        {"a + bool b", "1:3: parse error: bool modifier can only be used on comparison "
                       "operators"},
        {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar "
                    "expression"},
        {"foo or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar "
                     "expression"},
        {"foo[5m] + 1", "1:1: parse error: binary expression must contain only scalar and "
                        "instant vector types"},
        {"1 + foo[5m]", "1:5: parse error: binary expression must contain only scalar and "
                        "instant vector types"},
        {"\"a\" * foo", "1:1: parse error: binary expression must contain only scalar and "
                        "instant vector types"},
        {"1 + on(a) foo", "1:1: parse error: vector matching only allowed between instant "
                          "vectors"},
        {"foo * ignoring(a) 2", "1:1: parse error: vector matching only allowed between instant "
                                "vectors"},
        {"a and on(b) group_left c", "1:1: parse error: no grouping allowed for \"and\" "
                                     "operation"},
        {"a unless ignoring(b) group_right(c) d", "1:1: parse error: no grouping allowed for "
                                                  "\"unless\" operation"},
        {"a + on(x) group_left(y, x) b", "1:3: parse error: label \"x\" must not occur in ON and "
                                         "GROUP clause at once"});
}

static void aggregations_are_type_checked(void **state)
{
    (void)state;
    REJECTS({"sum(foo[5m])", "1:5: parse error: expected type instant vector in aggregation "
                             "expression, got range vector"},
            {"topk(\"a\", foo)", "1:6: parse error: expected type scalar in aggregation parameter, "
                                 "got string"},
            {"quantile(foo, foo)", "1:10: parse error: expected type scalar in aggregation "
                                   "parameter, got instant vector"},
            {"count_values(1, foo)", "1:14: parse error: expected type string in aggregation "
                                     "parameter, got scalar"},
            {"topk(foo)", "1:1: parse error: wrong number of arguments for aggregate expression "
                          "provided, expected 2, got 1"},
            {"sum(a, b)", "1:1: parse error: wrong number of arguments for aggregate expression "
                          "provided, expected 1, got 2"},
            {"sum()", "1:1: parse error: no arguments for aggregate expression provided"},
            {"sum () by (test)", "1:1: parse error: no arguments for aggregate expression "
                                 "provided"});
}

static void selectors_ranges_and_subqueries_are_checked(void **state)
{
    (void)state;
    REJECTS(
        {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"x + {a=\"\"}", "1:5: parse error: vector selector must contain at least one non-empty "
                         "matcher"},
        {"{a=~\".*\", b!~\"x\", c!=\"y\"}",
         "1:1: parse error: vector selector must contain at least one non-empty matcher"},
        {"foo{__name__=\"bar\"}", "1:1: parse error: metric name must not be set twice: \"foo\" "
                                  "or \"bar\""},
        {"(foo)[5m]", "1:6: parse error: ranges only allowed for vector selectors"},
        {"foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"},
        {"foo offset 5m [5m]", "1:15: parse error: no offset modifiers allowed before range"},
        {"foo @ 1 [5m]", "1:9: parse error: no @ modifiers allowed before range"},
        {"foo[5m][1h:]", "1:1: parse error: subquery is only allowed on instant vector, got "
                         "matrix in \"foo[5m][1h:]\" instead"},
        {"1[5m:1m]", "1:1: parse error: subquery is only allowed on instant vector, got scalar "
                     "in \"1[5m:1m]\" instead"},
        {"-\"string\"", "1:1: parse error: unary expression only allowed on expressions of type "
                        "scalar or instant vector, got \"string\""},
        {"-test[5m]", "1:1: parse error: unary expression only allowed on expressions of type "
                      "scalar or instant vector, got \"range vector\""},
        {"+test[5m]", "1:1: parse error: unary expression only allowed on expressions of type "
                      "scalar or instant vector, got \"range vector\""});
}

static void modifiers_are_checked(void **state)
{
    (void)state;
    REJECTS(
        {"1 offset 1d", "1:1: parse error: offset modifier must be preceded by an instant vector "
                        "selector or range vector selector or a subquery"},
        {"sum(x) @ 1", "1:1: parse error: @ modifier must be preceded by an instant vector "
                       "selector or range vector selector or a subquery"},
        {"foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
        {"foo[5m] offset 1s offset -2s", "1:1: parse error: offset may not be set multiple "
                                         "times"},
        {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
        {"foo @ start() @ end()", "1:1: parse error: @ <timestamp> may not be set multiple times"},
        {"foo @ Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
        {"foo @ -NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
        {"foo @ 1e19", "1:1: parse error: timestamp out of bounds for @ modifier: "
                       "10000000000000000000.000000"},
        {"foo offset 5", "1:12: parse error: unexpected number \"5\" in offset, expected "
                         "duration"},
        {"foo offset - bar", "1:14: parse error: unexpected identifier \"bar\" in offset, "
                             "expected duration"},
        {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
        {"foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"},
        {"foo @ end(1)", "1:11: parse error: unexpected number \"1\" in @, expected timestamp"});
}

static void syntax_errors_name_the_unexpected_token(void **state)
{
    (void)state;
    REJECTS(
        {"", "1:1: parse error: no expression found in input"},
        {"# just a comment\n\n", "1:1: parse error: no expression found in input"},
        {"1 +", "1:4: parse error: unexpected end of input"},
        {"foo bar", "1:5: parse error: unexpected identifier \"bar\""},
        {"*1", "1:1: parse error: unexpected <op:*>"},
        {"foo = 1", "1:5: parse error: unexpected \"=\""},
        {"()", "1:2: parse error: unexpected \")\""},
        {"start()", "1:6: parse error: unexpected \"(\""},
        {"a + group_left b", "1:5: parse error: unexpected <group_left>"},
        {"a + on(b) bool c", "1:11: parse error: unexpected <bool>"},
        {"foo by (a)", "1:5: parse error: unexpected <by>"},
        {"a sum", "1:3: parse error: unexpected <aggr:sum>"},
        {"a \"a long string literal\"", "1:3: parse error: unexpected string \"\\\"a long st\"..."},
        {"sum some_metric by (test)", "1:5: parse error: unexpected identifier \"some_metric\""},
        {"sum(foo bar)", "1:9: parse error: unexpected identifier \"bar\" in aggregation"},
        {"sum(rate(foo[5m] 1))", "1:18: parse error: unexpected number \"1\" in aggregation"},
        {"sum by (a) 5", "1:12: parse error: unexpected number \"5\" in aggregation"},
        {"sum(x) by b", "1:11: parse error: unexpected identifier \"b\" in grouping opts, "
                        "expected \"(\""},
        {"sum(x) by (a b)", "1:14: parse error: unexpected identifier \"b\" in grouping opts, "
                            "expected \",\" or \")\""},
        {"sum without(==)(some_metric)", "1:13: parse error: unexpected <op:==> in grouping "
                                         "opts, expected label"},
        {"sum without(foo,,)(some_metric)", "1:17: parse error: unexpected \",\" in grouping "
                                            "opts, expected label"},
        {"sum(x) by (a:b)", "1:12: parse error: unexpected metric identifier \"a:b\" in "
                            "grouping opts, expected label"},
        {"a + on b", "1:8: parse error: unexpected identifier \"b\" in grouping opts, expected "
                     "\"(\""});
}

static void label_matcher_errors_say_what_was_expected(void **state)
{
    (void)state;
    REJECTS(
        {"foo{a}", "1:6: parse error: unexpected \"}\" in label matching, expected label "
                   "matching operator"},
        {"foo{a=}", "1:7: parse error: unexpected \"}\" in label matching, expected string"},
        {"foo{a=\"b\" c=\"d\"}", "1:11: parse error: unexpected identifier \"c\" in label "
                                 "matching, expected \",\" or \"}\""},
        {"foo{=}", "1:5: parse error: unexpected \"=\" in label matching, expected identifier or "
                   "\"}\""},
        {"foo{a=\"b\",,}", "1:11: parse error: unexpected \",\" in label matching, expected "
                           "identifier or \"}\""},
        {"foo{a=\"b\"", "1:10: parse error: unexpected end of input inside braces"},
        {"foo{a.b=\"c\"}", "1:6: parse error: unexpected character inside braces: '.'"},
        {"foo{a!b}", "1:6: parse error: unexpected character after '!' inside braces: 'b'"},
        {"foo{{", "1:5: parse error: unexpected left brace '{'"},
        {"foo{a=\"\\q\"}", "1:7: parse error: error unquoting string \"\\\"\\\\q\\\"\": invalid "
                           "syntax"});
}

static void lexical_errors_use_prometheus_wording(void **state)
{
    (void)state;
    REJECTS(
        {"(foo", "1:5: parse error: unclosed left parenthesis"},
        {"sum(rate(x[5m])", "1:16: parse error: unclosed left parenthesis"},
        {"foo)", "1:5: parse error: unexpected right parenthesis ')'"},
        {"foo]", "1:4: parse error: unexpected right bracket ']'"},
        {"foo}", "1:4: parse error: unexpected character: '}'"},
        {".", "1:1: parse error: unexpected character: '.'"},
        {"2.5.", "1:4: parse error: unexpected character: '.'"},
        {"foo =~ 1", "1:5: parse error: unexpected character after '=': '~'"},
        {"foo ! 1", "1:5: parse error: unexpected character after '!': ' '"},
        {"foo !", "1:5: parse error: unexpected character after '!': '\xef\xbf\xbd'"},
        {"\"abc", "1:1: parse error: unterminated quoted string"},
        {"'a\nb'", "1:1: parse error: unterminated quoted string"},
        {"`abc", "1:1: parse error: unterminated raw string"},
        {"\"\\x\"", "1:1: parse error: unterminated quoted string"},
        {"\"\xff\"", "1:1: parse error: invalid UTF-8 rune"},
        {"\"\\q\"", "1:1: parse error: error unquoting string \"\\\"\\\\q\\\"\": invalid syntax"},
        {"'\\\"'", "1:1: parse error: error unquoting string \"'\\\\\\\"'\": invalid syntax"},
        {"\"\\400\"", "1:1: parse error: error unquoting string \"\\\"\\\\400\\\"\": invalid "
                      "syntax"},
        {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
        {"1_000", "1:1: parse error: bad number or duration syntax: \"1\""},
        {"1e", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e\": "
               "invalid syntax"},
        {"0x1.8", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"0x1.8\": "
                  "invalid syntax"},
        {"1e999", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e999\": "
                  "value out of range"},
        {"foo @ 1 ; x", "1:9: parse error: unexpected character: ';'"});
}

static void duration_errors_follow_model_parse_duration(void **state)
{
    (void)state;
    REJECTS({"foo[5]", "1:5: parse error: missing unit character in duration"},
            {"foo[]", "1:5: parse error: missing unit character in duration"},
            {"foo[5x]", "1:5: parse error: bad duration syntax: \"5\""},
            {"foo[5mm]", "1:5: parse error: bad duration syntax: \"5mm\""},
            {"foo[5m", "1:7: parse error: unclosed left bracket"},
            {"x[0s]", "1:3: parse error: duration must be greater than 0"},
            {"x[5m:0s]", "1:6: parse error: duration must be greater than 0"},
            {"x offset 0m", "1:10: parse error: duration must be greater than 0"},
            {"x[1m1h]", "1:3: parse error: not a valid duration string: \"1m1h\""},
            {"x[1h1h]", "1:3: parse error: not a valid duration string: \"1h1h\""},
            {"x[1.5m]", "1:3: parse error: not a valid duration string: \"1.5m\""},
            {"x[99999999999999999999y]", "1:3: parse error: duration out of range"},
            {"x[300y]", "1:3: parse error: duration out of range"},
            {"foo[5m 1m]", "1:8: parse error: unexpected duration \"1m\" in subquery or range, "
                           "expected \":\" or \"]\""},
            {"foo[5m:1m 1m]", "1:11: parse error: unexpected duration \"1m\" in subquery selector, "
                              "expected \"]\""},
            {"foo[5m:1]",
             "1:8: parse error: unexpected number \"1\" in subquery selector, expected "
             "duration or \"]\""},
            {"foo[5m:1m:]", "1:10: parse error: unexpected colon ':'"},
            {"foo[5m[", "1:7: parse error: unexpected left bracket '['"});
}

static void positions_count_lines_and_bytes(void **state)
{
    (void)state;
    REJECTS({"sum(\n  rate(x[5m])\n  +\n  foo[5m]\n)", "4:3: parse error: binary expression must "
                                                       "contain only scalar and instant vector "
                                                       "types"},
            {"x{a=\"\xc3\xa9\"} + x[5m]", "1:13: parse error: binary expression must contain only "
                                          "scalar and instant vector types"},
            {"1\n\n  == 1", "3:3: parse error: comparisons between scalars must use BOOL modifier"},
            {"foo # comment\n  bar", "2:3: parse error: unexpected identifier \"bar\""},
            {"foo +\n", "2:1: parse error: unexpected end of input"});
}

/* Nested n deep: "(((...1...)))" */
static char *nested(size_t n)
{
    char *q = malloc(2 * n + 2);
    memset(q, '(', n);
    q[n] = '1';
    memset(q + n + 1, ')', n);
    q[2 * n + 1] = '\0';
    return q;
}

static void nesting_and_size_are_bounded(void **state)
{
    (void)state;
    pq_arena arena;
    pq_node *root;

    char *q = nested(900);
    vigil__pq_arena_init(&arena);
    assert_int_equal(vigil__pq_parse(q, &arena, &root), VIGIL_OK);
    vigil__pq_arena_free(&arena);
    free(q);

    q = nested(100000);
    vigil__pq_arena_init(&arena);
    assert_int_equal(vigil__pq_parse(q, &arena, &root), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "parse error: expression nested too deeply"));
    vigil__pq_arena_free(&arena);
    free(q);

    /* a long left-associative chain builds a tall tree without recursing while parsing */
    size_t terms = 5000;
    q = malloc(terms * 4 + 1);
    char *w = q;
    for (size_t i = 0; i < terms; i++)
        w += sprintf(w, i == 0 ? "a" : " + a");
    vigil__pq_arena_init(&arena);
    assert_int_equal(vigil__pq_parse(q, &arena, &root), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "expression nested too deeply"));
    vigil__pq_arena_free(&arena);
    free(q);

    size_t big = ((size_t)1 << 20) + 1;
    q = malloc(big + 1);
    memset(q, ' ', big);
    q[0] = '1';
    q[big] = '\0';
    vigil__pq_arena_init(&arena);
    assert_int_equal(vigil__pq_parse(q, &arena, &root), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "longer than the limit"));
    q[big - 1] = '\0'; /* exactly 1 MiB is accepted */
    assert_int_equal(vigil__pq_parse(q, &arena, &root), VIGIL_OK);
    vigil__pq_arena_free(&arena);
    free(q);
}

static void public_check_reports_the_parse_error(void **state)
{
    (void)state;
    assert_int_equal(vigil_promql_check("sum by (job) (rate(http_requests_total[5m]))"), VIGIL_OK);
    assert_int_equal(vigil_promql_check("sum(rate(x[5m])"), VIGIL_EINVAL);
    assert_string_equal(vigil_errmsg(), "1:16: parse error: unclosed left parenthesis");
    assert_int_equal(vigil_promql_check(NULL), VIGIL_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(function_arguments_are_type_checked),
        cmocka_unit_test(function_argument_counts_are_checked),
        cmocka_unit_test(binary_operators_are_type_checked),
        cmocka_unit_test(aggregations_are_type_checked),
        cmocka_unit_test(selectors_ranges_and_subqueries_are_checked),
        cmocka_unit_test(modifiers_are_checked),
        cmocka_unit_test(syntax_errors_name_the_unexpected_token),
        cmocka_unit_test(label_matcher_errors_say_what_was_expected),
        cmocka_unit_test(lexical_errors_use_prometheus_wording),
        cmocka_unit_test(duration_errors_follow_model_parse_duration),
        cmocka_unit_test(positions_count_lines_and_bytes),
        cmocka_unit_test(nesting_and_size_are_bounded),
        cmocka_unit_test(public_check_reports_the_parse_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
