/* test_lex.c — the PromQL lexer cuts a query into the tokens Prometheus 2.42's lexer
 * produces (keywords in any case, numbers versus durations, strings in three quotes,
 * comments, the switch to durations after `[`), and names them as Prometheus's errors do;
 * Go's quoting, which the messages and the printer use, escapes as strconv.Quote does. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "vigil.h"
#include "promql/lex.h"

typedef struct expect {
    pq_tok type;
    const char *text; /* the token's bytes */
} expect;

static void assert_tokens(const char *query, const expect *want, size_t n)
{
    pq_arena arena;
    pq_lexer l;
    pq_token t;
    vigil__pq_arena_init(&arena);
    vigil__pq_lexer_init(&l, query, strlen(query), &arena);
    for (size_t i = 0; i < n; i++) {
        vigil__pq_lex(&l, &t);
        if (t.type != want[i].type || t.len != strlen(want[i].text) ||
            memcmp(query + t.pos, want[i].text, t.len) != 0)
            fail_msg("%s: token %zu is type %d \"%.*s\", want type %d \"%s\"", query, i,
                     (int)t.type, (int)t.len, query + t.pos, (int)want[i].type, want[i].text);
    }
    vigil__pq_lex(&l, &t);
    assert_int_equal(t.type, PQ_TOK_EOF);
    vigil__pq_arena_free(&arena);
}

#define TOKENS(q, ...)                                           \
    do {                                                         \
        static const expect want_[] = {__VA_ARGS__};             \
        assert_tokens(q, want_, sizeof want_ / sizeof want_[0]); \
    } while (0)

static void operators_and_punctuation_are_tokens(void **state)
{
    (void)state;
    TOKENS("+-*/%^==!=<=<>=>@,()", {PQ_TOK_ADD, "+"}, {PQ_TOK_SUB, "-"}, {PQ_TOK_MUL, "*"},
           {PQ_TOK_DIV, "/"}, {PQ_TOK_MOD, "%"}, {PQ_TOK_POW, "^"}, {PQ_TOK_EQLC, "=="},
           {PQ_TOK_NEQ, "!="}, {PQ_TOK_LTE, "<="}, {PQ_TOK_LSS, "<"}, {PQ_TOK_GTE, ">="},
           {PQ_TOK_GTR, ">"}, {PQ_TOK_AT, "@"}, {PQ_TOK_COMMA, ","}, {PQ_TOK_LEFT_PAREN, "("},
           {PQ_TOK_RIGHT_PAREN, ")"});
}

static void keywords_match_in_any_case(void **state)
{
    (void)state;
    TOKENS("SUM by Without AND or UnLess atan2 BOOL on ignoring group_LEFT group_right offset "
           "start END count_values",
           {PQ_TOK_SUM, "SUM"}, {PQ_TOK_BY, "by"}, {PQ_TOK_WITHOUT, "Without"},
           {PQ_TOK_LAND, "AND"}, {PQ_TOK_LOR, "or"}, {PQ_TOK_LUNLESS, "UnLess"},
           {PQ_TOK_ATAN2, "atan2"}, {PQ_TOK_BOOL, "BOOL"}, {PQ_TOK_ON, "on"},
           {PQ_TOK_IGNORING, "ignoring"}, {PQ_TOK_GROUP_LEFT, "group_LEFT"},
           {PQ_TOK_GROUP_RIGHT, "group_right"}, {PQ_TOK_OFFSET, "offset"}, {PQ_TOK_START, "start"},
           {PQ_TOK_END, "END"}, {PQ_TOK_COUNT_VALUES, "count_values"});
    TOKENS("Inf NaN infinity summary", {PQ_TOK_NUMBER, "Inf"}, {PQ_TOK_NUMBER, "NaN"},
           {PQ_TOK_IDENTIFIER, "infinity"}, {PQ_TOK_IDENTIFIER, "summary"});
}

static void identifiers_with_colons_are_metric_identifiers(void **state)
{
    (void)state;
    TOKENS("job:rate5m foo_bar :x", {PQ_TOK_METRIC_IDENTIFIER, "job:rate5m"},
           {PQ_TOK_IDENTIFIER, "foo_bar"}, {PQ_TOK_METRIC_IDENTIFIER, ":x"});
}

static void numbers_and_durations_are_told_apart(void **state)
{
    (void)state;
    TOKENS("1 1.5 .5 5. 1e3 1E-3 0x1F 5m 1h30m 5ms 1y", {PQ_TOK_NUMBER, "1"},
           {PQ_TOK_NUMBER, "1.5"}, {PQ_TOK_NUMBER, ".5"}, {PQ_TOK_NUMBER, "5."},
           {PQ_TOK_NUMBER, "1e3"}, {PQ_TOK_NUMBER, "1E-3"}, {PQ_TOK_NUMBER, "0x1F"},
           {PQ_TOK_DURATION, "5m"}, {PQ_TOK_DURATION, "1h30m"}, {PQ_TOK_DURATION, "5ms"},
           {PQ_TOK_DURATION, "1y"});
}

static void brackets_switch_to_durations_and_colons(void **state)
{
    (void)state;
    TOKENS("x[ 5m:1m]", {PQ_TOK_IDENTIFIER, "x"}, {PQ_TOK_LEFT_BRACKET, "["},
           {PQ_TOK_DURATION, "5m"}, {PQ_TOK_COLON, ":"}, {PQ_TOK_DURATION, "1m"},
           {PQ_TOK_RIGHT_BRACKET, "]"});
}

static void braces_read_every_word_as_a_label_name(void **state)
{
    (void)state;
    TOKENS("{sum=\"a\",by!='b',on=~`c`,x!~\"d\"}", {PQ_TOK_LEFT_BRACE, "{"},
           {PQ_TOK_IDENTIFIER, "sum"}, {PQ_TOK_EQL, "="}, {PQ_TOK_STRING, "\"a\""},
           {PQ_TOK_COMMA, ","}, {PQ_TOK_IDENTIFIER, "by"}, {PQ_TOK_NEQ, "!="},
           {PQ_TOK_STRING, "'b'"}, {PQ_TOK_COMMA, ","}, {PQ_TOK_IDENTIFIER, "on"},
           {PQ_TOK_EQL_REGEX, "=~"}, {PQ_TOK_STRING, "`c`"}, {PQ_TOK_COMMA, ","},
           {PQ_TOK_IDENTIFIER, "x"}, {PQ_TOK_NEQ_REGEX, "!~"}, {PQ_TOK_STRING, "\"d\""},
           {PQ_TOK_RIGHT_BRACE, "}"});
}

static void comments_run_to_the_end_of_the_line(void **state)
{
    (void)state;
    TOKENS("a # one\n+ b #two", {PQ_TOK_IDENTIFIER, "a"}, {PQ_TOK_COMMENT, "# one"},
           {PQ_TOK_ADD, "+"}, {PQ_TOK_IDENTIFIER, "b"}, {PQ_TOK_COMMENT, "#two"});
}

static void strings_keep_their_quotes_and_escapes(void **state)
{
    (void)state;
    TOKENS("\"a\\\"b\" 'c\\'d' `e\\`", {PQ_TOK_STRING, "\"a\\\"b\""}, {PQ_TOK_STRING, "'c\\'d'"},
           {PQ_TOK_STRING, "`e\\`"});
}

static void an_error_ends_the_token_stream(void **state)
{
    (void)state;
    pq_arena arena;
    pq_lexer l;
    pq_token t;
    const char *q = "a $ b";
    vigil__pq_arena_init(&arena);
    vigil__pq_lexer_init(&l, q, strlen(q), &arena);
    vigil__pq_lex(&l, &t);
    assert_int_equal(t.type, PQ_TOK_IDENTIFIER);
    vigil__pq_lex(&l, &t);
    assert_int_equal(t.type, PQ_TOK_ERROR);
    assert_int_equal(t.pos, 2);
    assert_string_equal(t.msg, "unexpected character: '$'");
    vigil__pq_lex(&l, &t);
    assert_int_equal(t.type, PQ_TOK_EOF);
    vigil__pq_arena_free(&arena);
}

static const char *desc_of(pq_arena *a, const char *q)
{
    pq_lexer l;
    pq_token t;
    vigil__pq_lexer_init(&l, q, strlen(q), a);
    vigil__pq_lex(&l, &t);
    return vigil__pq_tok_desc(a, q, &t);
}

static void tokens_are_described_as_prometheus_describes_them(void **state)
{
    (void)state;
    pq_arena a;
    vigil__pq_arena_init(&a);
    assert_string_equal(desc_of(&a, "("), "\"(\"");
    assert_string_equal(desc_of(&a, "+"), "<op:+>");
    assert_string_equal(desc_of(&a, "AND"), "<op:AND>");
    assert_string_equal(desc_of(&a, "sum"), "<aggr:sum>");
    assert_string_equal(desc_of(&a, "by"), "<by>");
    assert_string_equal(desc_of(&a, "start"), "\"start\"");
    assert_string_equal(desc_of(&a, "foo"), "identifier \"foo\"");
    assert_string_equal(desc_of(&a, "a:b"), "metric identifier \"a:b\"");
    assert_string_equal(desc_of(&a, "42"), "number \"42\"");
    assert_string_equal(desc_of(&a, "12345678901234"), "number \"1234567890\"...");
    assert_string_equal(desc_of(&a, "5m"), "duration \"5m\"");
    assert_string_equal(desc_of(&a, "'x'"), "string \"'x'\"");
    assert_string_equal(desc_of(&a, ""), "end of input");
    vigil__pq_arena_free(&a);
}

static void quoting_follows_go_strconv(void **state)
{
    (void)state;
    pq_arena a;
    vigil__pq_arena_init(&a);
    assert_string_equal(vigil__pq_quote(&a, "plain", 5, SIZE_MAX), "\"plain\"");
    assert_string_equal(vigil__pq_quote(&a, "q\"b\\", 4, SIZE_MAX), "\"q\\\"b\\\\\"");
    assert_string_equal(vigil__pq_quote(&a, "\n\t\x01\x7f", 4, SIZE_MAX), "\"\\n\\t\\x01\\x7f\"");
    assert_string_equal(vigil__pq_quote(&a, "\xc3\xa9\xff", 3, SIZE_MAX), "\"\xc3\xa9\\xff\"");
    assert_string_equal(vigil__pq_quote(&a, "\xc2\xa0", 2, SIZE_MAX), "\"\\u00a0\"");
    assert_string_equal(vigil__pq_quote(&a, "abcdef", 6, 3), "\"abc\"");
    char r[16];
    vigil__pq_quote_rune(r, '}');
    assert_string_equal(r, "'}'");
    vigil__pq_quote_rune(r, '\'');
    assert_string_equal(r, "'\\''");
    vigil__pq_quote_rune(r, '\n');
    assert_string_equal(r, "'\\n'");
    vigil__pq_quote_rune(r, -1);
    assert_string_equal(r, "'\xef\xbf\xbd'");
    vigil__pq_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(operators_and_punctuation_are_tokens),
        cmocka_unit_test(keywords_match_in_any_case),
        cmocka_unit_test(identifiers_with_colons_are_metric_identifiers),
        cmocka_unit_test(numbers_and_durations_are_told_apart),
        cmocka_unit_test(brackets_switch_to_durations_and_colons),
        cmocka_unit_test(braces_read_every_word_as_a_label_name),
        cmocka_unit_test(comments_run_to_the_end_of_the_line),
        cmocka_unit_test(strings_keep_their_quotes_and_escapes),
        cmocka_unit_test(an_error_ends_the_token_stream),
        cmocka_unit_test(tokens_are_described_as_prometheus_describes_them),
        cmocka_unit_test(quoting_follows_go_strconv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
