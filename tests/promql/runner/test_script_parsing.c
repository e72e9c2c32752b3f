/* test_script_parsing.c — the parts of `vigil promql-test` that do not need the engine: Go's
 * number and duration syntax, series descriptions with their expanding values, the commands of
 * a script with test.go's line rules, the @-modifier rewrite, and the comparison of a result
 * with the expectations. Registered by hand in tests/CMakeLists.txt (the promql-test block) as
 * promql/runner_parses_test_scripts; it compiles the tool's own sources. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../../tools/promql_test.h"

static double number(const char *s)
{
    double v = -12345;
    assert_true(pt_parse_number(s, strlen(s), &v));
    return v;
}

static bool is_number(const char *s)
{
    double v;
    return pt_parse_number(s, strlen(s), &v);
}

static void numbers_follow_go_syntax(void **state)
{
    (void)state;
    assert_true(number("010") == 8);  /* base 0: a leading zero is octal */
    assert_true(number("019") == 19); /* not octal, so ParseFloat's decimal */
    assert_true(number("0x1F") == 31);
    assert_true(number("0b101") == 5);
    assert_true(number("1_000") == 1000);
    assert_true(number("0x1p-2") == 0.25);
    assert_true(number("1.") == 1);
    assert_true(number(".5") == 0.5);
    assert_true(number("-0.2e-6") == -0.2e-6);
    assert_true(number("12.34e+6") == 12340000);
    assert_true(isinf(number("+Inf")) && number("+Inf") > 0);
    assert_true(isinf(number("-inf")) && number("-inf") < 0);
    assert_true(isinf(number("Infinity")));
    assert_true(isnan(number("NaN")) && isnan(number("nan")));
    assert_false(is_number("+nan"));  /* Go signs infinities only */
    assert_false(is_number("1e400")); /* out of range is an error in Go, not infinity */
    assert_false(is_number("0x1.8")); /* a hex mantissa needs its p exponent */
    assert_false(is_number(" 1"));
    assert_false(is_number("1_"));
    assert_false(is_number("metric"));
    assert_false(is_number(""));
}

static int64_t duration(const char *s)
{
    int64_t ms = -1;
    assert_true(pt_parse_duration(s, strlen(s), &ms));
    return ms;
}

static bool is_duration(const char *s)
{
    int64_t ms;
    return pt_parse_duration(s, strlen(s), &ms);
}

static void durations_follow_prometheus_syntax(void **state)
{
    (void)state;
    assert_int_equal(duration("0"), 0);
    assert_int_equal(duration("5m"), 300000);
    assert_int_equal(duration("1h30m"), 5400000);
    assert_int_equal(duration("1s500ms"), 1500);
    assert_int_equal(duration("90s"), 90000);
    assert_int_equal(duration("2d"), 2 * 86400000LL);
    assert_int_equal(duration("1y"), 365 * 86400000LL);
    assert_false(is_duration(""));
    assert_false(is_duration("5"));
    assert_false(is_duration("1.5h"));
    assert_false(is_duration("30m1h")); /* units in decreasing order only */
    assert_false(is_duration("1m1m"));
    assert_false(is_duration("-5m"));
}

static void values_print_shortest_and_readable(void **state)
{
    (void)state;
    const struct {
        double v;
        const char *text;
    } cases[] = {
        {20, "20"},
        {0.1, "0.1"},
        {0.30000000000000004, "0.30000000000000004"},
        {12340000, "12340000"},
        {1e-05, "1e-05"},
        {-2e-7, "-2e-07"},
        {1.5e25, "1.5e+25"},
        {0.0001, "0.0001"},
        {NAN, "NaN"},
        {INFINITY, "+Inf"},
        {-INFINITY, "-Inf"},
        {0, "0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[40];
        pt_format_value(cases[i].v, buf, sizeof buf);
        assert_string_equal(buf, cases[i].text);
    }
}

/* ---- series descriptions -------------------------------------------------------------------- */

static pt_series series(const char *line)
{
    pt_series s;
    char err[PT_ERR_MAX];
    if (!pt_series_parse(line, &s, err, sizeof err))
        fail_msg("%s: %s", line, err);
    return s;
}

static void assert_values(const char *line, const double *want, size_t n)
{
    pt_series s = series(line);
    assert_int_equal(s.nvalues, n);
    for (size_t i = 0; i < n; i++) {
        assert_false(s.omitted[i]);
        if (isnan(want[i]))
            assert_true(isnan(s.values[i]));
        else if (s.values[i] != want[i])
            fail_msg("%s: value %zu is %.17g, expected %.17g", line, i, s.values[i], want[i]);
    }
    pt_series_free(&s);
}

static void series_values_expand_like_prometheus(void **state)
{
    (void)state;
    assert_values("m 1+2x3", (double[]){1, 3, 5, 7}, 4);
    assert_values("m 0-1x2", (double[]){0, -1, -2}, 3);
    assert_values("m -2+1x1", (double[]){-2, -1}, 2);
    assert_values("m 5x2", (double[]){5, 5, 5}, 3);
    assert_values("m 7x0", (double[]){7}, 1);
    assert_values("m 010 1e3 .5", (double[]){8, 1000, 0.5}, 3);
    assert_values("m 0x3", (double[]){0, 0, 0, 0}, 4); /* no hex here: 0 repeated */
    assert_values("m -Inf NaN inf", (double[]){-INFINITY, NAN, INFINITY}, 3);
    assert_values("m\t1\t \t2", (double[]){1, 2}, 2);
    /* Repeated addition, as Go does it, not first + i * step. */
    assert_values("m 0.1+0.1x2", (double[]){0.1, 0.1 + 0.1, 0.1 + 0.1 + 0.1}, 3);
}

static void blanks_and_stale_markers_are_kept(void **state)
{
    (void)state;
    pt_series s = series("m _x3 1 _ stale");
    assert_int_equal(s.nvalues, 6);
    for (size_t i = 0; i < 3; i++)
        assert_true(s.omitted[i]);
    assert_false(s.omitted[3]);
    assert_true(s.values[3] == 1);
    assert_true(s.omitted[4]);
    assert_false(s.omitted[5]);
    assert_true(vigil_tsdb_is_stale(s.values[5]));
    pt_series_free(&s);

    s = series("m _x0 1");
    assert_int_equal(s.nvalues, 1);
    pt_series_free(&s);
}

static void label_sets_are_read_and_sorted(void **state)
{
    (void)state;
    pt_series s = series("http_requests{job=\"api\", instance='0', path=`/a\\b`,} 1");
    assert_int_equal(s.nlabels, 4);
    assert_string_equal(s.labels[0].name, "__name__");
    assert_string_equal(s.labels[0].value, "http_requests");
    assert_string_equal(s.labels[1].name, "instance");
    assert_string_equal(s.labels[1].value, "0");
    assert_string_equal(s.labels[2].name, "job");
    assert_string_equal(s.labels[3].value, "/a\\b"); /* raw: no escapes */
    pt_series_free(&s);

    s = series("{a=\"q\\\"\\n\\u00e9\\x41\\101\"} 1");
    assert_int_equal(s.nlabels, 1);
    assert_string_equal(s.labels[0].value, "q\"\n\xc3\xa9"
                                           "AA");
    pt_series_free(&s);

    s = series("x{__name__=\"y\", a=\"1\"} 2"); /* the name before the braces wins */
    assert_string_equal(s.labels[0].value, "x");
    pt_series_free(&s);

    s = series("{} 3");
    assert_int_equal(s.nlabels, 0);
    pt_series_free(&s);

    s = series("metric:rate5m");
    assert_string_equal(s.labels[0].value, "metric:rate5m");
    assert_int_equal(s.nvalues, 0);
    pt_series_free(&s);
}

static void malformed_series_lines_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {
        "m 1+2",   /* an increment without xN */
        "m Infx3", /* the lexer reads Infx3 as one identifier */
        "m stalex2",     "m Stale",
        "m -stale",      "m 1x2.5",     /* repetition must be an integer */
        "m 1 2a",        "m{a=\"b\"}1", /* values start after a blank */
        "m {a=\"b\"} 1",                /* no blank between name and braces */
        "m{a=~\"b\"} 1", "m{a=\"b\",a=\"c\"} 1",
        "m{a=\"b} 1",    "m{a=\"\\q\"} 1",
        "m{a=b} 1",      "on 1", /* a keyword is not a metric name */
        "= 1",           "m 1 + 2x3",
        "m 5m",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pt_series s;
        char err[PT_ERR_MAX] = "";
        if (pt_series_parse(bad[i], &s, err, sizeof err))
            fail_msg("accepted: %s", bad[i]);
        assert_true(err[0] != '\0');
    }
}

/* ---- scripts -------------------------------------------------------------------------------- */

static pt_script script(const char *text)
{
    pt_script s;
    char err[PT_ERR_MAX];
    int line;
    if (!pt_script_parse(text, &s, &line, err, sizeof err))
        fail_msg("line %d: %s", line, err);
    return s;
}

static void script_commands_are_read_with_their_lines(void **state)
{
    (void)state;
    pt_script s = script("# a comment\n"
                         "load 5m\n"
                         "  a{x=\"1\"} 0+1x2\n"
                         "  a{x=\"2\"} 5\n"
                         "  a{x=\"1\"} 9\n" /* the same label set again replaces the first */
                         "\n"
                         "eval instant at 10m sum(a)\n"
                         "  {} 11\n"
                         "\n"
                         "eval_ordered instant at 1h30m  sort( a )  \n"
                         "  a{x=\"2\"} 5\n"
                         "  a{x=\"1\"} 9\n"
                         "  a{x=\"2\"} 5\n"
                         "\n"
                         "CLEAR everything\n"
                         "eval_fail instant at 0 nope(\n"
                         "\n"
                         "eval instant at 1m 1\n"
                         "  1.5\n"
                         "eval instant at 2m 2\n");
    assert_int_equal(s.ncmds, 7);
    pt_cmd *c = s.cmds;
    assert_int_equal(c[0].kind, PT_CMD_LOAD);
    assert_int_equal(c[0].line, 2);
    assert_int_equal(c[0].step_ms, 300000);
    assert_int_equal(c[0].nseries, 2);
    assert_int_equal(c[0].series[0].nvalues, 1);
    assert_true(c[0].series[0].values[0] == 9);

    assert_int_equal(c[1].kind, PT_CMD_EVAL);
    assert_int_equal(c[1].mode, PT_EVAL);
    assert_int_equal(c[1].line, 7);
    assert_int_equal(c[1].t_ms, 600000);
    assert_string_equal(c[1].expr, "sum(a)");
    assert_int_equal(c[1].nexpected, 1);
    assert_false(c[1].expects_scalar);

    assert_int_equal(c[2].mode, PT_EVAL_ORDERED);
    assert_int_equal(c[2].t_ms, 5400000);
    assert_string_equal(c[2].expr, "sort( a )");
    assert_int_equal(c[2].nexpected, 2);
    assert_int_equal(c[2].positions[0], 3); /* its later line's position */
    assert_int_equal(c[2].positions[1], 2);

    assert_int_equal(c[3].kind, PT_CMD_CLEAR);
    assert_int_equal(c[4].mode, PT_EVAL_FAIL);
    assert_string_equal(c[4].expr, "nope(");
    /* A bare number is a scalar expectation and ends its block: the next eval follows. */
    assert_int_equal(c[5].line, 18);
    assert_true(c[5].expects_scalar);
    assert_true(c[5].scalar == 1.5);
    assert_int_equal(c[6].line, 20);
    assert_string_equal(c[6].expr, "2");
    pt_script_free(&s);
}

static void script_errors_name_their_line(void **state)
{
    (void)state;
    const struct {
        const char *text;
        int line;
    } bad[] = {
        /* A comment ends the load block, so the next series line is not a command. */
        {"load 1m\n  a 1\n  # note\n  b 2\n", 4},
        {"load 1m\n  a 1\n  a{ 2\n", 3},
        {"LOAD 1m\n", 1},
        {"load\n", 1},
        {"load 1x\n", 1},
        {"\n\neval instant at 5m\n", 3},
        {"eval instant  sum(a)\n", 1}, /* matches without "at": an empty duration */
        {"eval instant at 5 a\n", 1},
        {"eval_foo instant at 1m a\n", 1},
        {"eval instantly at 1m a\n", 1},
        {"eval instant at 1m a\n  a 1 2\n", 2},
        {"eval instant at 1m a\n  a _\n", 2},
        {"eval instant at 1m a\n  a\n", 2},
        {"eval instant at 1m 1\n  1\n  2\n", 3}, /* the scalar ended the block */
        {"bogus\n", 1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        pt_script s;
        char err[PT_ERR_MAX] = "";
        int line = -1;
        if (pt_script_parse(bad[i].text, &s, &line, err, sizeof err))
            fail_msg("accepted: %s", bad[i].text);
        if (line != bad[i].line)
            fail_msg("%s: error on line %d (%s), expected line %d", bad[i].text, line, err,
                     bad[i].line);
        assert_true(err[0] != '\0');
    }
}

/* ---- @-modifier variants -------------------------------------------------------------------- */

static void assert_rewrite(const char *expr, const char *want)
{
    pt_variant v[5];
    size_t n = pt_at_variants(expr, 50000, v);
    if (!want) {
        if (n != 0)
            fail_msg("%s: rewritten as %s, expected no variants", expr, v[0].expr);
        return;
    }
    assert_int_equal(n, 5);
    if (strcmp(v[0].expr, want) != 0)
        fail_msg("%s: rewritten as %s, expected %s", expr, v[0].expr, want);
    for (size_t i = 0; i < n; i++)
        free(v[i].expr);
}

static void at_variants_pin_selectors_outside_subqueries(void **state)
{
    (void)state;
    assert_rewrite("x", "x @ 50.000");
    assert_rewrite("x{a=\"}\"}", "x{a=\"}\"} @ 50.000");
    assert_rewrite("rate(x[5m] offset 1m)", "rate(x[5m] offset 1m @ 50.000)");
    assert_rewrite("sum by (a) (x) / on(a) group_left(b) sum(y) without (c)",
                   "sum by (a) (x @ 50.000) / on(a) group_left(b) sum(y @ 50.000) without (c)");
    assert_rewrite("x and y or z unless w atan2 v",
                   "x @ 50.000 and y @ 50.000 or z @ 50.000 unless w @ 50.000 atan2 v @ 50.000");
    assert_rewrite("-x > bool 1", "-x @ 50.000 > bool 1");
    assert_rewrite("x @ 100", "x @ 100");
    assert_rewrite("x @ start() + y @ end()", "x @ 50.000 + y @ 50.000");
    assert_rewrite("max_over_time(rate(x[5m])[10m:1m])",
                   "max_over_time(rate(x[5m])[10m:1m] @ 50.000)");
    assert_rewrite("x[5m:][10m:]", "x[5m:][10m:] @ 50.000");
    assert_rewrite("sum(x)[5m:] @ 3", "sum(x)[5m:] @ 3");
    assert_rewrite("(a + b)[5m:] offset 1m", "(a + b)[5m:] offset 1m @ 50.000");
    assert_rewrite("label_replace(x, \"a\", \"$1\", \"b\", \"(.*)\")",
                   "label_replace(x @ 50.000, \"a\", \"$1\", \"b\", \"(.*)\")");
    assert_rewrite("1 + Inf", "1 + Inf");
    /* A time-dependent function outside a subquery: no variants; inside one, it is covered by
     * the subquery's @ (test.go does not look inside). */
    assert_rewrite("time()", NULL);
    assert_rewrite("timestamp(x)", NULL);
    assert_rewrite("predict_linear(x[5m], 60)", NULL);
    assert_rewrite("sum_over_time(timestamp(x)[5m:])", "sum_over_time(timestamp(x)[5m:] @ 50.000)");
    assert_rewrite("sum(", NULL);
}

static void at_variants_use_test_go_times(void **state)
{
    (void)state;
    pt_variant v[5];
    size_t n = pt_at_variants("x", 0, v);
    assert_int_equal(n, 3);
    const int64_t at_zero[] = {-1000, 0, 1000};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].t_ms, at_zero[i]);
        assert_string_equal(v[i].expr, "x @ 0.000");
        free(v[i].expr);
    }
    n = pt_at_variants("x", 7, v);
    assert_int_equal(n, 5);
    const int64_t at_seven[] = {-70, 0, 1, 7, 70};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(v[i].t_ms, at_seven[i]);
        assert_string_equal(v[i].expr, "x @ 0.007");
        free(v[i].expr);
    }
}

/* ---- comparing ------------------------------------------------------------------------------ */

static char *compare(const pt_cmd *ev, const pt_sample *got, size_t n, bool is_scalar, bool *ok)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    *ok = pt_compare(ev, got, n, is_scalar, f);
    fclose(f);
    return text;
}

static void comparison_reports_every_difference(void **state)
{
    (void)state;
    pt_script s = script("eval instant at 0 x\n"
                         "  x{a=\"1\"} 1\n"
                         "  x{a=\"2\"} NaN\n"
                         "  x{a=\"3\"} 3\n");
    const vigil_label l1[] = {{"__name__", "x"}, {"a", "1"}},
                      l2[] = {{"__name__", "x"}, {"a", "2"}},
                      l4[] = {{"__name__", "x"}, {"a", "4"}};
    pt_sample right[] = {{l2, 2, NAN}, {l1, 2, 1.0000001}};
    bool ok;
    char *why = compare(&s.cmds[0], right, 2, false, &ok);
    assert_false(ok); /* x{a="3"} is missing */
    assert_string_equal(why, "missing series x{a=\"3\"} 3");
    free(why);

    pt_sample wrong[] = {{l4, 2, 4}, {l2, 2, 2}, {l1, 2, 1.1}};
    why = compare(&s.cmds[0], wrong, 3, false, &ok);
    assert_false(ok);
    assert_string_equal(why, "value mismatch for x{a=\"1\"}: expected 1, got 1.1; "
                             "value mismatch for x{a=\"2\"}: expected NaN, got 2; "
                             "unexpected series x{a=\"4\"} 4; missing series x{a=\"3\"} 3");
    free(why);

    why = compare(&s.cmds[0], wrong, 1, true, &ok);
    assert_false(ok);
    assert_string_equal(why, "expected a vector, got scalar 4");
    free(why);
    pt_script_free(&s);
}

static void almost_equal_is_test_go_s(void **state)
{
    (void)state;
    assert_true(pt_almost_equal(NAN, NAN));
    assert_true(pt_almost_equal(INFINITY, INFINITY));
    assert_false(pt_almost_equal(INFINITY, -INFINITY));
    assert_false(pt_almost_equal(NAN, 1));
    assert_true(pt_almost_equal(1, 1.0000001));
    assert_false(pt_almost_equal(1, 1.00001));
    assert_false(pt_almost_equal(0, 1e-300)); /* against zero only a subnormal gap passes */
    assert_true(pt_almost_equal(0, 1e-320));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numbers_follow_go_syntax),
        cmocka_unit_test(durations_follow_prometheus_syntax),
        cmocka_unit_test(values_print_shortest_and_readable),
        cmocka_unit_test(series_values_expand_like_prometheus),
        cmocka_unit_test(blanks_and_stale_markers_are_kept),
        cmocka_unit_test(label_sets_are_read_and_sorted),
        cmocka_unit_test(malformed_series_lines_are_refused),
        cmocka_unit_test(script_commands_are_read_with_their_lines),
        cmocka_unit_test(script_errors_name_their_line),
        cmocka_unit_test(at_variants_pin_selectors_outside_subqueries),
        cmocka_unit_test(at_variants_use_test_go_times),
        cmocka_unit_test(comparison_reports_every_difference),
        cmocka_unit_test(almost_equal_is_test_go_s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
