/* test_query_api_params.c — the query API's parameter grammar and JSON dialect, white-box:
 * which strings Go's ParseFloat, time.Parse(RFC3339Nano) and Prometheus's durations accept,
 * the millisecond Prometheus 2.42 evaluates an odd time at, and how values, timestamps and
 * strings are written. Expected values are what the real Prometheus 2.42 (Debian 12) answered
 * for the same inputs, or what Go's documentation specifies. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/api_int.h"

/* --- floats ------------------------------------------------------------------------------ */

static void float_grammar_is_gos(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        bool ok;
        double value;
    } cases[] = {
        {"1700000031", true, 1700000031},
        {"+5", true, 5},
        {".5", true, 0.5},
        {"5.", true, 5},
        {"1_0", true, 10},
        {"0x1p4", true, 16},
        {"1e3", true, 1000},
        {"-1.5", true, -1.5},
        {"1_000.5", true, 1000.5},
        {"0x10", false, 0},
        {" 1", false, 0},
        {"1 ", false, 0},
        {"1__0", false, 0},
        {"_1", false, 0},
        {"1_", false, 0},
        {"1e400", false, 0},
        {"", false, 0},
        {"x", false, 0},
        {"1e", false, 0},
        {"0x", false, 0},
        {"infin", false, 0},
        {"+nan", false, 0},
        {"1.2.3", false, 0},
        {"1e5.5", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = -12345;
        bool ok = vigil__api_parse_float(cases[i].text, &v);
        if (ok != cases[i].ok)
            fail_msg("\"%s\": accepted %d, want %d", cases[i].text, ok, cases[i].ok);
        if (ok && v != cases[i].value)
            fail_msg("\"%s\": %.17g, want %.17g", cases[i].text, v, cases[i].value);
    }
}

static void float_specials_any_case(void **state)
{
    (void)state;
    double v;
    assert_true(vigil__api_parse_float("NaN", &v) && isnan(v));
    assert_true(vigil__api_parse_float("nan", &v) && isnan(v));
    assert_true(vigil__api_parse_float("Inf", &v) && v == INFINITY);
    assert_true(vigil__api_parse_float("-inf", &v) && v == -INFINITY);
    assert_true(vigil__api_parse_float("+Infinity", &v) && v == INFINITY);
}

/* --- times ------------------------------------------------------------------------------- */

/* The millisecond the engine is asked for, or INT64_MIN when the text is refused. */
static int64_t engine_ms(const char *text)
{
    vigil__api_time t;
    return vigil__api_parse_time(text, &t) ? vigil__api_time_engine_ms(t) : INT64_MIN;
}

static void times_round_to_the_millisecond_as_prometheus(void **state)
{
    (void)state;
    assert_int_equal(engine_ms("1700000031.1234"), INT64_C(1700000031123));
    assert_int_equal(engine_ms("1700000031.1235"), INT64_C(1700000031124));
    assert_int_equal(engine_ms("1.0005"), 1000);
    assert_int_equal(engine_ms("1.0015"), 1002);
    assert_int_equal(engine_ms("-1.5"), -1500);
    assert_int_equal(engine_ms("-0.0005"), -1);
    assert_int_equal(engine_ms("0.0005"), 1);
    assert_int_equal(engine_ms("1e9"), INT64_C(1000000000000));
}

static void times_go_cannot_hold_wrap_as_in_prometheus(void **state)
{
    (void)state;
    /* What Prometheus 2.42 evaluated time() at for these inputs. */
    assert_int_equal(engine_ms("NaN"), INT64_C(-9223372036854));
    assert_int_equal(engine_ms("Inf"), INT64_C(-9223372036854));
    assert_int_equal(engine_ms("-Inf"), INT64_C(-9223372036854));
    assert_int_equal(engine_ms("1e20"), 0);
    assert_int_equal(engine_ms("9999-12-31T23:59:59Z"), INT64_C(-4852116232933));
}

static void rfc3339_as_go_parses_it(void **state)
{
    (void)state;
    assert_int_equal(engine_ms("2023-11-14T22:13:51Z"), INT64_C(1700000031000));
    assert_int_equal(engine_ms("2023-11-14T23:13:51.5+01:00"), INT64_C(1700000031500));
    assert_int_equal(engine_ms("2023-11-14T22:13:51+01:00"), INT64_C(1699996431000));
    assert_int_equal(engine_ms("2023-11-14T21:13:51-01:00"), INT64_C(1700000031000));
    assert_int_equal(engine_ms("2023-11-14T22:13:51.123456789Z"), INT64_C(1700000031123));
    assert_int_equal(engine_ms("2023-11-14T22:13:51,25Z"), INT64_C(1700000031250));
    assert_int_equal(engine_ms("2023-11-14T2:13:51Z"), INT64_C(1699928031000));
    assert_int_equal(engine_ms("2024-02-29T00:00:00Z"), INT64_C(1709164800000));
    assert_int_equal(engine_ms("1969-12-31T23:59:59.9995Z"), 0);
    static const char *const refused[] = {
        "2023-11-14t22:13:51z",     "2023-11-14T22:13:51.1234567891Z",
        "2023-11-14T22:13:51.Z",    "2023-02-30T22:13:51Z",
        "2023-11-14T24:00:00Z",     "2023-11-14T22:13:60Z",
        "2023-11-14T22:13:51+0100", "2023-11-14",
        "2023-13-01T00:00:00Z",     "2023-11-14T22:13:51",
        "2023-11-14T22:13:51Z ",    "23-11-14T22:13:51Z",
        "2023-11-14T22:1:51Z",      "2023-11-14T22:13:51+01",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (engine_ms(refused[i]) != INT64_MIN)
            fail_msg("\"%s\" was accepted", refused[i]);
    }
}

static void prometheus_time_limits_are_accepted_by_name(void **state)
{
    (void)state;
    vigil__api_time t;
    assert_true(vigil__api_parse_time("-292273086-05-16T16:47:06Z", &t));
    assert_int_equal(vigil__api_time_ms(t), INT64_C(-9223309901257974000));
    assert_true(vigil__api_parse_time("292277025-08-18T07:12:54.999999999Z", &t));
    assert_int_equal(vigil__api_time_ms(t), INT64_C(9223309901257974999));
    assert_false(vigil__api_parse_time("292277025-08-18T07:12:54Z", &t));
}

static void store_and_engine_milliseconds_differ_only_before_1970(void **state)
{
    (void)state;
    vigil__api_time t;
    assert_true(vigil__api_parse_time("1969-12-31T23:59:59.9995Z", &t));
    assert_int_equal(vigil__api_time_ms(t), -1);       /* timestamp.FromTime */
    assert_int_equal(vigil__api_time_engine_ms(t), 0); /* UnixNano() / 1e6 */
    assert_true(vigil__api_parse_time("1700000031.5", &t));
    assert_int_equal(vigil__api_time_ms(t), vigil__api_time_engine_ms(t));
}

static void time_comparison_and_difference(void **state)
{
    (void)state;
    vigil__api_time a, b;
    assert_true(vigil__api_parse_time("1700000000", &a));
    assert_true(vigil__api_parse_time("2023-11-14T22:13:20.000000001Z", &b));
    assert_true(vigil__api_time_cmp(a, b) < 0);
    assert_true(vigil__api_time_cmp(b, a) > 0);
    assert_int_equal(vigil__api_time_cmp(a, a), 0);
    assert_int_equal(vigil__api_time_sub(b, a), 1);
    assert_int_equal(vigil__api_time_sub(vigil__api_time_max(), vigil__api_time_min()), INT64_MAX);
    assert_int_equal(vigil__api_time_sub(vigil__api_time_min(), vigil__api_time_max()), INT64_MIN);
}

/* --- durations --------------------------------------------------------------------------- */

static void durations_as_prometheus_reads_them(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        vigil__api_dur_result result;
        int64_t ns;
    } cases[] = {
        {"15", VIGIL__API_DUR_OK, INT64_C(15000000000)},
        {"0.5", VIGIL__API_DUR_OK, 500000000},
        {"-1", VIGIL__API_DUR_OK, INT64_C(-1000000000)},
        {"1h30m", VIGIL__API_DUR_OK, INT64_C(5400000000000)},
        {"5ms", VIGIL__API_DUR_OK, 5000000},
        {"1m5ms", VIGIL__API_DUR_OK, INT64_C(60005000000)},
        {"1y2w3d4h5m6s7ms", VIGIL__API_DUR_OK, INT64_C(33019506007000000)},
        {"0", VIGIL__API_DUR_OK, 0},
        {"0s", VIGIL__API_DUR_OK, 0},
        {"", VIGIL__API_DUR_BAD, 0},
        {"-1m", VIGIL__API_DUR_BAD, 0},
        {"1ns", VIGIL__API_DUR_BAD, 0},
        {"1m1h", VIGIL__API_DUR_BAD, 0},
        {"5ms3s", VIGIL__API_DUR_BAD, 0},
        {"1h1h", VIGIL__API_DUR_BAD, 0},
        {"m", VIGIL__API_DUR_BAD, 0},
        {"1.5m", VIGIL__API_DUR_BAD, 0},
        {"300y", VIGIL__API_DUR_BAD, 0},
        {"1e300", VIGIL__API_DUR_OVERFLOW, 0},
        {"-1e300", VIGIL__API_DUR_OVERFLOW, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ns = -7;
        vigil__api_dur_result r = vigil__api_parse_duration(cases[i].text, &ns);
        if (r != cases[i].result)
            fail_msg("\"%s\": result %d, want %d", cases[i].text, r, cases[i].result);
        if (r == VIGIL__API_DUR_OK && ns != cases[i].ns)
            fail_msg("\"%s\": %lld ns, want %lld", cases[i].text, (long long)ns,
                     (long long)cases[i].ns);
    }
}

static void limits_and_label_names(void **state)
{
    (void)state;
    int64_t v;
    assert_true(vigil__api_parse_int("-1", &v) && v == -1);
    assert_true(vigil__api_parse_int("+7", &v) && v == 7);
    assert_true(vigil__api_parse_int("9223372036854775807", &v) && v == INT64_MAX);
    assert_true(vigil__api_parse_int("-9223372036854775808", &v) && v == INT64_MIN);
    assert_false(vigil__api_parse_int("9223372036854775808", &v));
    assert_false(vigil__api_parse_int("1.5", &v));
    assert_false(vigil__api_parse_int("1_0", &v));
    assert_false(vigil__api_parse_int("x", &v));
    assert_false(vigil__api_parse_int("-", &v));
    assert_true(vigil__api_label_name_valid("__name__"));
    assert_true(vigil__api_label_name_valid("Zed_9"));
    assert_false(vigil__api_label_name_valid("bad-name"));
    assert_false(vigil__api_label_name_valid("1x"));
    assert_false(vigil__api_label_name_valid("a:b"));
    assert_false(vigil__api_label_name_valid(""));
}

/* --- JSON -------------------------------------------------------------------------------- */

typedef vigil_status (*writer)(vigil_buffer *);

static double value_arg;
static int64_t time_arg;
static const char *string_arg;

static vigil_status write_value(vigil_buffer *b)
{
    return vigil__api_json_value(b, value_arg);
}

static vigil_status write_time(vigil_buffer *b)
{
    return vigil__api_json_time(b, time_arg);
}

static vigil_status write_string(vigil_buffer *b)
{
    return vigil__api_json_string(b, string_arg);
}

static vigil_status write_quote(vigil_buffer *b)
{
    return vigil__api_go_quote(b, string_arg);
}

static void expect(writer w, const char *want)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(w(&b), VIGIL_OK);
    assert_string_equal(vigil_buffer_cstr(&b), want);
    vigil_buffer_free(&b);
}

static void values_are_written_as_prometheus_writes_them(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {9, "\"9\""},
        {-2.5, "\"-2.5\""},
        {0.1, "\"0.1\""},
        {123456789012, "\"123456789012\""},
        {1e-7, "\"1e-07\""},
        {1.5e-7, "\"1.5e-07\""},
        {1e-6, "\"0.000001\""},
        {1e21, "\"1e+21\""},
        {1.2345e22, "\"1.2345e+22\""},
        {1e20, "\"100000000000000000000\""},
        {9007199254740993.0, "\"9007199254740992\""},
        {1.7976931348623157e308, "\"1.7976931348623157e+308\""},
        {5e-324, "\"5e-324\""},
        {-0.0, "\"-0\""},
        {0, "\"0\""},
        {NAN, "\"NaN\""},
        {INFINITY, "\"+Inf\""},
        {-INFINITY, "\"-Inf\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        value_arg = cases[i].v;
        expect(write_value, cases[i].want);
    }
}

/* A matrix's points are written straight into the response buffer: the bytes are those of
 * writing each time and value on its own, and the buffer's limit holds to the byte, however
 * close to it the answer comes. */
static void matrix_points_are_written_as_each_alone(void **state)
{
    (void)state;
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    static const double odd[] = {0, -0.0, 1e-7, 1.5e300, 12345678901234567890.0, NAN, -INFINITY,
                                 0.1, 2.0 / 3, -5, 1e21, 4.9e-324, 100, 7.25};
    vigil_label l[2] = {{"__name__", "m"}, {"k", "v"}};
    for (int i = 0; i < 3000; i++) {
        double v = i % 3 ? odd[i % 14] : (double)i / 7;
        assert_int_equal(vigil_tsdb_append(db, l, 2, INT64_C(1700000000000) + i * 1500, v),
                         VIGIL_OK);
    }
    vigil_promql_result *r;
    assert_int_equal(vigil_promql_range(db, NULL, "m", INT64_C(1700000000000),
                                        INT64_C(1700004000000), 1333, &r),
                     VIGIL_OK);
    vigil_buffer want, got;
    vigil_buffer_init(&want, 0);
    vigil_buffer_init(&got, 0);
    assert_int_equal(vigil_buffer_append(&want, "{\"resultType\":\"matrix\",\"result\":[", 33),
                     VIGIL_OK);
    assert_int_equal(vigil_buffer_append(&want, "{\"metric\":", 10), VIGIL_OK);
    const vigil_label *ls;
    size_t nl = vigil_promql_result_labels(r, 0, &ls);
    assert_int_equal(vigil__api_json_labels(&want, ls, nl), VIGIL_OK);
    assert_int_equal(vigil_buffer_append(&want, ",\"values\":[", 11), VIGIL_OK);
    const int64_t *t;
    const double *v;
    size_t n = vigil_promql_result_points(r, 0, &t, &v);
    assert_true(n > 2000);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(vigil_buffer_append(&want, i ? ",[" : "[", i ? 2 : 1), VIGIL_OK);
        assert_int_equal(vigil__api_json_time(&want, t[i]), VIGIL_OK);
        assert_int_equal(vigil_buffer_append(&want, ",", 1), VIGIL_OK);
        assert_int_equal(vigil__api_json_value(&want, v[i]), VIGIL_OK);
        assert_int_equal(vigil_buffer_append(&want, "]", 1), VIGIL_OK);
    }
    assert_int_equal(vigil_buffer_append(&want, "]}]}", 4), VIGIL_OK);
    assert_int_equal(vigil__api_json_result(&got, r), VIGIL_OK);
    assert_string_equal(vigil_buffer_cstr(&got), vigil_buffer_cstr(&want));
    size_t len = got.len;
    vigil_buffer_free(&got);
    for (size_t limit = len - 600; limit <= len + 1; limit++) {
        vigil_buffer_init(&got, limit);
        vigil_status st = vigil__api_json_result(&got, r);
        if (limit >= len) {
            assert_int_equal(st, VIGIL_OK);
            assert_int_equal(got.len, len);
        } else {
            assert_int_equal(st, VIGIL_ELIMIT);
            assert_true(got.len <= limit);
        }
        vigil_buffer_free(&got);
    }
    vigil_buffer_free(&want);
    vigil_promql_result_free(r);
    vigil_tsdb_close(db);
}

static void timestamps_keep_three_fraction_digits(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {INT64_C(1700000031000), "1700000031"},
        {INT64_C(1700000030500), "1700000030.500"},
        {INT64_C(1700000031001), "1700000031.001"},
        {-1500, "-1.500"},
        {0, "0"},
        {5, "0.005"},
        {-5, "-0.005"},
        {INT64_C(-9223372036854), "-9223372036.854"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        time_arg = cases[i].ms;
        expect(write_time, cases[i].want);
    }
}

static void strings_are_escaped_as_go_escapes_them(void **state)
{
    (void)state;
    string_arg = "x<&>\"\\\n\\tq";
    expect(write_string, "\"x\\u003c\\u0026\\u003e\\\"\\\\\\n\\\\tq\"");
    string_arg = "\t\r\b\x01\x7f";
    expect(write_string, "\"\\t\\r\\u0008\\u0001\x7f\"");
    string_arg = "caf\xc3\xa9 \xe2\x80\xa8\xe2\x80\xa9";
    expect(write_string, "\"caf\xc3\xa9 \\u2028\\u2029\"");
    string_arg = "bad \xff\xc3 \xed\xa0\x80!";
    expect(write_string, "\"bad \\ufffd\\ufffd \\ufffd\\ufffd\\ufffd!\"");
}

static void error_values_are_quoted_as_go_quotes_them(void **state)
{
    (void)state;
    string_arg = "x";
    expect(write_quote, "\"x\"");
    string_arg = "a\"b\\c\n\x01\x7f\xff\xc3\xa9";
    expect(write_quote, "\"a\\\"b\\\\c\\n\\x01\\x7f\\xff\xc3\xa9\"");
}

static void label_sets_are_written_in_byte_order(void **state)
{
    (void)state;
    vigil_label l[] = {{"__name__", "api_temp"}, {"room", "caps"}, {"Zed", "1"}};
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil__api_json_labels(&b, l, 3), VIGIL_OK);
    assert_string_equal(vigil_buffer_cstr(&b),
                        "{\"Zed\":\"1\",\"__name__\":\"api_temp\",\"room\":\"caps\"}");
    b.len = 0;
    assert_int_equal(vigil__api_json_labels(&b, l, 0), VIGIL_OK);
    assert_string_equal(vigil_buffer_cstr(&b), "{}");
    vigil_buffer_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float_grammar_is_gos),
        cmocka_unit_test(float_specials_any_case),
        cmocka_unit_test(times_round_to_the_millisecond_as_prometheus),
        cmocka_unit_test(times_go_cannot_hold_wrap_as_in_prometheus),
        cmocka_unit_test(rfc3339_as_go_parses_it),
        cmocka_unit_test(prometheus_time_limits_are_accepted_by_name),
        cmocka_unit_test(store_and_engine_milliseconds_differ_only_before_1970),
        cmocka_unit_test(time_comparison_and_difference),
        cmocka_unit_test(durations_as_prometheus_reads_them),
        cmocka_unit_test(limits_and_label_names),
        cmocka_unit_test(values_are_written_as_prometheus_writes_them),
        cmocka_unit_test(timestamps_keep_three_fraction_digits),
        cmocka_unit_test(matrix_points_are_written_as_each_alone),
        cmocka_unit_test(strings_are_escaped_as_go_escapes_them),
        cmocka_unit_test(error_values_are_quoted_as_go_quotes_them),
        cmocka_unit_test(label_sets_are_written_in_byte_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
