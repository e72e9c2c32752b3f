/* test_parse.c — the PromQL parser builds the tree Prometheus 2.42 builds: operator
 * precedence and associativity, every node kind with its fields, literals (numbers,
 * durations, strings with escapes), modifiers, and the printer that writes a tree back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"
#include "promql/ast.h"

typedef struct parsed {
    pq_arena arena;
    pq_node *root;
} parsed;

static pq_node *parse_ok(parsed *p, const char *q)
{
    vigil__pq_arena_init(&p->arena);
    vigil_status st = vigil__pq_parse(q, &p->arena, &p->root);
    if (st != VIGIL_OK)
        fail_msg("parse %s: %s", q, vigil_errmsg());
    return p->root;
}

static void done(parsed *p)
{
    vigil__pq_arena_free(&p->arena);
}

static void append(vigil_buffer *b, const char *s)
{
    vigil_buffer_append(b, s, strlen(s));
}

/* The tree with every operator application in parentheses, to show how it grouped. */
static void shape(const pq_node *n, vigil_buffer *b)
{
    switch (n->kind) {
    case PQ_BINARY:
        append(b, "(");
        shape(n->u.bin.lhs, b);
        append(b, " ");
        append(b, vigil__pq_binop_name(n->u.bin.op));
        append(b, " ");
        shape(n->u.bin.rhs, b);
        append(b, ")");
        return;
    case PQ_UNARY:
        append(b, "(-");
        shape(n->u.unary.expr, b);
        append(b, ")");
        return;
    case PQ_PAREN:
        append(b, "[");
        shape(n->u.paren.expr, b);
        append(b, "]");
        return;
    default: vigil__pq_format(n, b); return;
    }
}

static void assert_shape(const char *q, const char *want)
{
    parsed p;
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    shape(parse_ok(&p, q), &b);
    const char *got = vigil_buffer_cstr(&b);
    if (strcmp(got, want) != 0)
        fail_msg("%s grouped as %s, want %s", q, got, want);
    vigil_buffer_free(&b);
    done(&p);
}

static void assert_format(const char *q, const char *want)
{
    parsed p;
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil__pq_format(parse_ok(&p, q), &b), VIGIL_OK);
    if (strcmp(b.data, want) != 0)
        fail_msg("%s printed as %s, want %s", q, b.data, want);
    vigil_buffer_free(&b);
    done(&p);
}

static void binary_operators_follow_prometheus_precedence(void **state)
{
    (void)state;
    assert_shape("a + b * c", "(a + (b * c))");
    assert_shape("(a + b) * c", "([(a + b)] * c)");
    assert_shape("a * b + c", "((a * b) + c)");
    assert_shape("a - b - c", "((a - b) - c)");
    assert_shape("a / b % c atan2 d", "(((a / b) % c) atan2 d)");
    assert_shape("a + b atan2 c", "(a + (b atan2 c))");
    assert_shape("a > b + c", "(a > (b + c))");
    assert_shape("a == b != c", "((a == b) != c)");
    assert_shape("a and b > c", "(a and (b > c))");
    assert_shape("a or b and c", "(a or (b and c))");
    assert_shape("a or b unless c", "(a or (b unless c))");
    assert_shape("a and b unless c", "((a and b) unless c)");
    assert_shape("foo + bar or bla and blub", "((foo + bar) or (bla and blub))");
    assert_shape("foo and bar unless baz or qux", "(((foo and bar) unless baz) or qux)");
}

static void power_is_right_associative_and_binds_tighter_than_unary_minus(void **state)
{
    (void)state;
    assert_shape("2 ^ 3 ^ 2", "(2 ^ (3 ^ 2))");
    assert_shape("2 * 3 ^ 2", "(2 * (3 ^ 2))");
    assert_shape("-2 ^ 2", "(-(2 ^ 2))");
    assert_shape("-a * b", "((-a) * b)");
    assert_shape("a * -b + c", "((a * (-b)) + c)");
    assert_shape("a ^ -b ^ c", "(a ^ (-(b ^ c)))");
    assert_shape("- a + b", "((-a) + b)");
}

static void unary_minus_on_a_number_folds_into_the_literal(void **state)
{
    (void)state;
    parsed p;
    pq_node *n = parse_ok(&p, "-5");
    assert_int_equal(n->kind, PQ_NUMBER);
    assert_true(n->u.number == -5.0);
    assert_int_equal(n->pos, 0);
    done(&p);

    n = parse_ok(&p, "- -5");
    assert_int_equal(n->kind, PQ_NUMBER);
    assert_true(n->u.number == 5.0);
    done(&p);

    n = parse_ok(&p, "+5");
    assert_int_equal(n->kind, PQ_NUMBER);
    assert_true(n->u.number == 5.0);
    done(&p);

    n = parse_ok(&p, "-(5)"); /* a parenthesised number stays a unary minus */
    assert_int_equal(n->kind, PQ_UNARY);
    assert_int_equal(n->u.unary.expr->kind, PQ_PAREN);
    assert_int_equal(n->type, PQ_T_SCALAR);
    done(&p);

    n = parse_ok(&p, "+foo"); /* a unary plus on anything else disappears */
    assert_int_equal(n->kind, PQ_VECTOR_SELECTOR);
    done(&p);
}

static void numbers_are_read_as_go_reads_them(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        double v;
    } cases[] = {
        {"1", 1},        {".5", 0.5},
        {"5.", 5},       {"123.4567", 123.4567},
        {"5e-3", 0.005}, {"5E3", 5000},
        {"0xc", 12},     {"0XfF", 255},
        {"0755", 493},   {"08", 8},
        {"-0755", -493}, {"+5.5e-3", 0.0055},
        {"1e-400", 0},   {"9223372036854775808", 9223372036854775808.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        pq_node *n = parse_ok(&p, cases[i].q);
        assert_int_equal(n->kind, PQ_NUMBER);
        if (n->u.number != cases[i].v)
            fail_msg("%s read as %.17g, want %.17g", cases[i].q, n->u.number, cases[i].v);
        done(&p);
    }
    const char *inf[] = {"Inf", "inf", "+INF", "iNf"};
    for (size_t i = 0; i < 4; i++) {
        parsed p;
        pq_node *n = parse_ok(&p, inf[i]);
        assert_true(isinf(n->u.number) && n->u.number > 0);
        done(&p);
    }
    parsed p;
    assert_true(parse_ok(&p, "-Inf")->u.number < 0);
    done(&p);
    assert_true(isnan(parse_ok(&p, "NaN")->u.number));
    done(&p);
    assert_true(isnan(parse_ok(&p, "nan")->u.number));
    done(&p);
}

static int64_t range_of(const char *q)
{
    parsed p;
    pq_node *n = parse_ok(&p, q);
    assert_int_equal(n->kind, PQ_MATRIX_SELECTOR);
    int64_t r = n->u.ms.range_ms;
    done(&p);
    return r;
}

static void durations_combine_units_in_order(void **state)
{
    (void)state;
    assert_int_equal(range_of("x[1ms]"), 1);
    assert_int_equal(range_of("x[5s]"), 5000);
    assert_int_equal(range_of("x[5m]"), 300000);
    assert_int_equal(range_of("x[2h]"), 7200000);
    assert_int_equal(range_of("x[1d]"), 86400000);
    assert_int_equal(range_of("x[1w]"), 604800000);
    assert_int_equal(range_of("x[1y]"), INT64_C(31536000000));
    assert_int_equal(range_of("x[1h30m]"), 5400000);
    assert_int_equal(range_of("x[1y2w3d4h5m6s7ms]"), INT64_C(31536000000) + 2 * 604800000 +
                                                         3 * 86400000 + 4 * 3600000 + 5 * 60000 +
                                                         6000 + 7);
    assert_int_equal(range_of("x[ 5m]"), 300000);
    assert_int_equal(range_of("x[0h5m]"), 300000);
}

static void strings_unescape_as_go_does(void **state)
{
    (void)state;
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"\"plain\"", "plain"},
        {"'single'", "single"},
        {"`raw\\n`", "raw\\n"},
        {"\"a\\nb\\tc\"", "a\nb\tc"},
        {"\"\\a\\b\\f\\r\\v\\\\\"", "\a\b\f\r\v\\"},
        {"\"q\\\"q\"", "q\"q"},
        {"'q\\'q'", "q'q"},
        {"'dq\"'", "dq\""},
        {"\"\\x41\\101\\u00e9\\U0001F600\"", "AA\xc3\xa9\xf0\x9f\x98\x80"},
        {"\"\\ud800\"", "\xef\xbf\xbd"},
        {"\"h\xc3\xa9\"", "h\xc3\xa9"},
        {"`multi\nline`", "multi\nline"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        parsed p;
        pq_node *n = parse_ok(&p, cases[i].q);
        assert_int_equal(n->kind, PQ_STRING);
        assert_int_equal(n->type, PQ_T_STRING);
        if (strcmp(n->u.string, cases[i].want) != 0)
            fail_msg("%s unquoted to \"%s\"", cases[i].q, n->u.string);
        done(&p);
    }
}

static void selectors_hold_every_matcher_kind(void **state)
{
    (void)state;
    parsed p;
    pq_node *n = parse_ok(&p, "http_requests{job=\"api\", code!=\"500\", path=~\"/a.*\", "
                              "method!~'GET|HEAD',}");
    assert_int_equal(n->kind, PQ_VECTOR_SELECTOR);
    assert_int_equal(n->type, PQ_T_VECTOR);
    assert_string_equal(n->u.vs.name, "http_requests");
    assert_int_equal(n->u.vs.n_matchers, 5);
    static const vigil_match_type types[] = {VIGIL_MATCH_EQUAL, VIGIL_MATCH_EQUAL,
                                             VIGIL_MATCH_NOT_EQUAL, VIGIL_MATCH_REGEX,
                                             VIGIL_MATCH_NOT_REGEX};
    static const char *names[] = {"__name__", "job", "code", "path", "method"};
    static const char *values[] = {"http_requests", "api", "500", "/a.*", "GET|HEAD"};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(n->u.vs.matchers[i].type, types[i]);
        assert_string_equal(n->u.vs.matchers[i].name, names[i]);
        assert_string_equal(n->u.vs.matchers[i].value, values[i]);
    }
    assert_int_equal(n->pos, 0);
    assert_int_equal(n->end, strlen(p.root == n ? "http_requests{job=\"api\", code!=\"500\", "
                                                  "path=~\"/a.*\", method!~'GET|HEAD',}"
                                                : ""));
    done(&p);

    n = parse_ok(&p, "{__name__=~\"job:.*\"}");
    assert_null(n->u.vs.name);
    assert_int_equal(n->u.vs.n_matchers, 1);
    assert_int_equal(n->u.vs.matchers[0].type, VIGIL_MATCH_REGEX);
    done(&p);

    n = parse_ok(&p, "{a!=\"\"}"); /* != "" does not match the empty string */
    assert_int_equal(n->u.vs.n_matchers, 1);
    done(&p);

    n = parse_ok(&p, "job:request_rate:5m");
    assert_string_equal(n->u.vs.name, "job:request_rate:5m");
    done(&p);
}

static void keywords_serve_as_metric_and_label_names(void **state)
{
    (void)state;
    assert_format("sum", "sum");
    assert_format("by + offset", "by + offset");
    assert_format("and", "and");
    assert_format("start + end", "start + end");
    assert_format("foo{on=\"x\", by=\"y\", sum=\"z\"}", "foo{by=\"y\",on=\"x\",sum=\"z\"}");
    assert_format("sum by (and, by, avg, count, alert, annotations, bool, on, offset, start) (m)",
                  "sum by(and, by, avg, count, alert, annotations, bool, on, offset, start) (m)");
    assert_format("SUM BY (job) (m)", "sum by(job) (m)");
    assert_format("foo AND bar", "foo and bar");
}

static void range_selectors_carry_offset_and_at_on_their_selector(void **state)
{
    (void)state;
    parsed p;
    pq_node *n = parse_ok(&p, "foo[5m] offset 1h @ 1609746000");
    assert_int_equal(n->kind, PQ_MATRIX_SELECTOR);
    assert_int_equal(n->type, PQ_T_MATRIX);
    assert_int_equal(n->u.ms.range_ms, 300000);
    assert_int_equal(n->u.ms.vs->kind, PQ_VECTOR_SELECTOR);
    assert_int_equal(n->u.ms.vs->u.vs.offset_ms, 3600000);
    assert_int_equal(n->u.ms.vs->u.vs.at, PQ_AT_TIME);
    assert_int_equal(n->u.ms.vs->u.vs.at_ms, INT64_C(1609746000000));
    done(&p);

    n = parse_ok(&p, "foo offset -5m @ end()");
    assert_int_equal(n->u.vs.offset_ms, -300000);
    assert_int_equal(n->u.vs.at, PQ_AT_END);
    done(&p);

    n = parse_ok(&p, "foo @ start()");
    assert_int_equal(n->u.vs.at, PQ_AT_START);
    done(&p);

    n = parse_ok(&p, "foo @ -1.5");
    assert_int_equal(n->u.vs.at_ms, -1500);
    done(&p);

    n = parse_ok(&p, "foo @ 0.0005"); /* rounds half away from zero, like Go's math.Round */
    assert_int_equal(n->u.vs.at_ms, 1);
    done(&p);
}

static void subqueries_keep_range_step_offset_and_at(void **state)
{
    (void)state;
    parsed p;
    pq_node *n = parse_ok(&p, "rate(foo[5m])[1h:30s] offset 10m @ 100");
    assert_int_equal(n->kind, PQ_SUBQUERY);
    assert_int_equal(n->type, PQ_T_MATRIX);
    assert_int_equal(n->u.sq.range_ms, 3600000);
    assert_int_equal(n->u.sq.step_ms, 30000);
    assert_int_equal(n->u.sq.offset_ms, 600000);
    assert_int_equal(n->u.sq.at, PQ_AT_TIME);
    assert_int_equal(n->u.sq.at_ms, 100000);
    assert_int_equal(n->u.sq.expr->kind, PQ_CALL);
    done(&p);

    n = parse_ok(&p, "foo[5m:]");
    assert_int_equal(n->kind, PQ_SUBQUERY);
    assert_int_equal(n->u.sq.step_ms, 0);
    assert_int_equal(n->u.sq.expr->kind, PQ_VECTOR_SELECTOR);
    done(&p);

    n = parse_ok(&p, "(a + b)[5m:1m]");
    assert_int_equal(n->u.sq.expr->kind, PQ_PAREN);
    done(&p);
}

static void binary_nodes_carry_bool_and_vector_matching(void **state)
{
    (void)state;
    parsed p;
    pq_node *n = parse_ok(&p, "a > bool on(x, y) group_left(z) b");
    assert_int_equal(n->kind, PQ_BINARY);
    assert_int_equal(n->u.bin.op, PQ_OP_GTR);
    assert_true(n->u.bin.return_bool);
    pq_vector_matching *vm = n->u.bin.matching;
    assert_non_null(vm);
    assert_true(vm->on);
    assert_int_equal(vm->card, PQ_CARD_MANY_TO_ONE);
    assert_int_equal(vm->n_labels, 2);
    assert_string_equal(vm->labels[0], "x");
    assert_string_equal(vm->labels[1], "y");
    assert_int_equal(vm->n_include, 1);
    assert_string_equal(vm->include[0], "z");
    done(&p);

    n = parse_ok(&p, "a / ignoring(x) group_right b");
    assert_false(n->u.bin.matching->on);
    assert_int_equal(n->u.bin.matching->card, PQ_CARD_ONE_TO_MANY);
    assert_int_equal(n->u.bin.matching->n_include, 0);
    done(&p);

    n = parse_ok(&p, "a unless b");
    assert_int_equal(n->u.bin.matching->card, PQ_CARD_MANY_TO_MANY);
    done(&p);

    n = parse_ok(&p, "a and on() b");
    assert_int_equal(n->u.bin.matching->card, PQ_CARD_MANY_TO_MANY);
    assert_true(n->u.bin.matching->on);
    assert_int_equal(n->u.bin.matching->n_labels, 0);
    done(&p);

    n = parse_ok(&p, "a * 2"); /* vector matching exists only between two vectors */
    assert_null(n->u.bin.matching);
    assert_int_equal(n->type, PQ_T_VECTOR);
    done(&p);

    n = parse_ok(&p, "1 + 2 > bool 3");
    assert_null(n->u.bin.matching);
    assert_int_equal(n->type, PQ_T_SCALAR);
    done(&p);
}

static void aggregations_accept_grouping_before_or_after(void **state)
{
    (void)state;
    parsed p;
    pq_node *n = parse_ok(&p, "sum without (instance) (rate(x[5m]))");
    assert_int_equal(n->kind, PQ_AGGREGATE);
    assert_int_equal(n->u.agg.op, PQ_AGG_SUM);
    assert_true(n->u.agg.without);
    assert_int_equal(n->u.agg.n_grouping, 1);
    assert_string_equal(n->u.agg.grouping[0], "instance");
    assert_null(n->u.agg.param);
    done(&p);

    n = parse_ok(&p, "topk(5, x) by (job, le,)");
    assert_int_equal(n->u.agg.op, PQ_AGG_TOPK);
    assert_false(n->u.agg.without);
    assert_int_equal(n->u.agg.n_grouping, 2);
    assert_int_equal(n->u.agg.param->kind, PQ_NUMBER);
    assert_int_equal(n->u.agg.expr->kind, PQ_VECTOR_SELECTOR);
    assert_int_equal(n->end, strlen("topk(5, x) by (job, le,)"));
    done(&p);

    n = parse_ok(&p, "count_values(\"value\", x)");
    assert_int_equal(n->u.agg.op, PQ_AGG_COUNT_VALUES);
    assert_int_equal(n->u.agg.param->kind, PQ_STRING);
    done(&p);

    static const char *ops[] = {"sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"};
    for (size_t i = 0; i < 8; i++) {
        char q[64];
        snprintf(q, sizeof q, "%s(x)", ops[i]);
        n = parse_ok(&p, q);
        assert_int_equal(n->kind, PQ_AGGREGATE);
        assert_string_equal(vigil__pq_aggop_name(n->u.agg.op), ops[i]);
        done(&p);
    }
    n = parse_ok(&p, "quantile(0.9, x)");
    assert_int_equal(n->u.agg.op, PQ_AGG_QUANTILE);
    done(&p);
    n = parse_ok(&p, "bottomk by (a) (1, x)");
    assert_int_equal(n->u.agg.op, PQ_AGG_BOTTOMK);
    done(&p);
}

static void calls_resolve_functions_and_their_types(void **state)
{
    (void)state;
    parsed p;
    pq_node *n = parse_ok(&p, "label_join(up, \"d\", \",\", \"a\", \"b\", \"c\")");
    assert_int_equal(n->kind, PQ_CALL);
    assert_int_equal(n->u.call.fn->id, PQ_FN_LABEL_JOIN);
    assert_int_equal(n->u.call.n_args, 6);
    done(&p);

    n = parse_ok(&p, "time()");
    assert_int_equal(n->type, PQ_T_SCALAR);
    assert_int_equal(n->u.call.n_args, 0);
    done(&p);

    n = parse_ok(&p, "scalar(up) * vector(1)");
    assert_int_equal(n->u.bin.lhs->type, PQ_T_SCALAR);
    assert_int_equal(n->u.bin.rhs->type, PQ_T_VECTOR);
    done(&p);

    n = parse_ok(&p, "round(x)");
    assert_int_equal(n->u.call.n_args, 1);
    done(&p);
    n = parse_ok(&p, "round(x, 5)");
    assert_int_equal(n->u.call.n_args, 2);
    done(&p);
    n = parse_ok(&p, "hour()");
    assert_int_equal(n->u.call.fn->id, PQ_FN_HOUR);
    done(&p);
}

static void every_function_is_in_the_table_under_its_name(void **state)
{
    (void)state;
    for (int id = 0; id < PQ_FN_COUNT_; id++) {
        const pq_function *fn = vigil__pq_function((pq_fn_id)id);
        assert_non_null(fn);
        assert_non_null(fn->name);
        assert_int_equal(fn->id, id);
        assert_ptr_equal(vigil__pq_function_lookup(fn->name), fn);
        assert_true(fn->return_type == PQ_T_VECTOR || fn->return_type == PQ_T_SCALAR);
    }
    assert_null(vigil__pq_function_lookup("RATE"));
    assert_null(vigil__pq_function_lookup("histogram_counts"));
    assert_int_equal(vigil__pq_function_lookup("histogram_fraction")->n_args, 3);
    assert_null(vigil__pq_function(PQ_FN_COUNT_));
    const pq_function *lr = vigil__pq_function_lookup("label_replace");
    assert_int_equal(lr->n_args, 5);
    assert_int_equal(vigil__pq_function_arg_type(lr, 0), PQ_T_VECTOR);
    assert_int_equal(vigil__pq_function_arg_type(lr, 4), PQ_T_STRING);
    const pq_function *hw = vigil__pq_function_lookup("holt_winters");
    assert_int_equal(vigil__pq_function_arg_type(hw, 0), PQ_T_MATRIX);
    assert_int_equal(vigil__pq_function_arg_type(hw, 2), PQ_T_SCALAR);
    assert_int_equal(vigil__pq_function_lookup("label_join")->variadic, -1);
    assert_int_equal(vigil__pq_function_lookup("day_of_week")->variadic, 1);
}

static void comments_and_newlines_are_whitespace(void **state)
{
    (void)state;
    assert_format("sum(# the total\n  rate(x[5m]) # per second\n)\n# end", "sum(rate(x[5m]))");
    assert_format("foo{a=\"b\", # comment inside braces\n c=\"d\"}", "foo{a=\"b\",c=\"d\"}");
}

static void printing_matches_prometheus_string_form(void **state)
{
    (void)state;
    assert_format("1000000", "1e+06");
    assert_format("123456", "123456");
    assert_format("0.00001", "1e-05");
    assert_format("0.0001", "0.0001");
    assert_format("-Inf + NaN", "-Inf + NaN");
    assert_format("foo{b=\"1\",a=\"2\"}", "foo{a=\"2\",b=\"1\"}");
    assert_format("{__name__=\"foo\"}", "{__name__=\"foo\"}");
    assert_format("foo[90d] offset 14d", "foo[90d] offset 2w");
    assert_format("foo[7200s] offset 1y", "foo[2h] offset 1y");
    assert_format("foo[1h30m] @ 100 offset -1d", "foo[1h30m] @ 100.000 offset -1d");
    assert_format("foo offset 5m @ start()", "foo @ start() offset 5m");
    assert_format("x[5m:] @ end()", "x[5m:] @ end()");
    assert_format("a + on(b) group_right c", "a + on(b) group_right() c");
    assert_format("a + ignoring(b) c", "a + ignoring(b) c");
    assert_format("sum without () (x)", "sum without() (x)");
    assert_format("sum by () (x)", "sum(x)");
    assert_format("\"a\\\"b\\x00c\\u00e9\"", "\"a\\\"b\"");
    assert_format("'tab\\t'", "\"tab\\t\"");
    assert_format("-foo", "-foo");
    assert_format("((1))", "((1))");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(binary_operators_follow_prometheus_precedence),
        cmocka_unit_test(power_is_right_associative_and_binds_tighter_than_unary_minus),
        cmocka_unit_test(unary_minus_on_a_number_folds_into_the_literal),
        cmocka_unit_test(numbers_are_read_as_go_reads_them),
        cmocka_unit_test(durations_combine_units_in_order),
        cmocka_unit_test(strings_unescape_as_go_does),
        cmocka_unit_test(selectors_hold_every_matcher_kind),
        cmocka_unit_test(keywords_serve_as_metric_and_label_names),
        cmocka_unit_test(range_selectors_carry_offset_and_at_on_their_selector),
        cmocka_unit_test(subqueries_keep_range_step_offset_and_at),
        cmocka_unit_test(binary_nodes_carry_bool_and_vector_matching),
        cmocka_unit_test(aggregations_accept_grouping_before_or_after),
        cmocka_unit_test(calls_resolve_functions_and_their_types),
        cmocka_unit_test(every_function_is_in_the_table_under_its_name),
        cmocka_unit_test(comments_and_newlines_are_whitespace),
        cmocka_unit_test(printing_matches_prometheus_string_form),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
