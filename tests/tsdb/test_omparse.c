/* test_omparse.c — the tsdb's OpenMetrics import parser: every construct it accepts (metadata,
 * labels with escapes, value and timestamp forms, exemplars, # EOF), every error with its line
 * number, the caps, callbacks stopping the parse, files and pipes; a gen_series.py output checked
 * against a straightforward reading of the same file; generated files checked against
 * prometheus_client's OpenMetrics parser and against what promtool 2.42 stores from them (values
 * and millisecond timestamps); and a fuzz-style run of random and mutated inputs.
 *
 * Every input goes through run(), which parses it in one piece AND fed in small chunks (each
 * chunk an exact-size heap copy, so ASan sees any read past a chunk) and requires the same
 * status, message and callbacks: the streaming form is tested by every case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "tsdb/omparse.h"
#include "vigil/status.h"

/* --- a text record of what the parser reported ----------------------------------------------- */

typedef struct dump {
    char *s;
    size_t len, cap;
} dump;

static void dput(dump *d, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        size_t room = d->cap - d->len;
        va_start(ap, fmt);
        int n = vsnprintf(d->s ? d->s + d->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n >= 0 && (size_t)n < room) {
            d->len += (size_t)n;
            return;
        }
        d->cap = d->cap * 2 + (size_t)n + 64;
        d->s = realloc(d->s, d->cap);
        assert_non_null(d->s);
    }
}

static void dhex(dump *d, const char *p, size_t n)
{
    if (n == 0)
        dput(d, "-");
    for (size_t i = 0; i < n; i++)
        dput(d, "%02x", (unsigned char)p[i]);
}

/* C-style escaping, so a newline inside a value is visible in expected strings. */
static void desc(dump *d, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\n')
            dput(d, "\\n");
        else if (c == '\\')
            dput(d, "\\\\");
        else if (c == '"')
            dput(d, "\\\"");
        else if (c < 0x20 || c == 0x7f)
            dput(d, "\\x%02x", c);
        else
            dput(d, "%c", c);
    }
}

static void dump_free(dump *d)
{
    free(d->s);
    *d = (dump){0};
}

static const char *dstr(const dump *d)
{
    return d->s ? d->s : "";
}

static uint64_t bits_of(double v)
{
    uint64_t b;
    memcpy(&b, &v, sizeof b);
    return b;
}

/* --- recording callbacks --------------------------------------------------------------------- */

enum { FMT_TEXT, FMT_PY };

typedef struct rec {
    dump d;
    int fmt;
    size_t samples;
    size_t fail_at; /* on_sample returns VIGIL_ECALLBACK at this sample (1-based); 0: never */
    double last_value;
    int64_t last_t_ms;
} rec;

static const char *const kinds[] = {"TYPE", "HELP", "UNIT"};

static vigil_status on_meta(void *user, const vigil__tsdb_om_meta *m)
{
    rec *r = user;
    if (r->fmt == FMT_PY) {
        dput(&r->d, "M %s %.*s ", kinds[m->kind], (int)m->name_len, m->name);
        dhex(&r->d, m->text, m->text_len);
        dput(&r->d, "\n");
        return VIGIL_OK;
    }
    dput(&r->d, "%s %.*s ", kinds[m->kind], (int)m->name_len, m->name);
    desc(&r->d, m->text, m->text_len);
    if (m->kind == VIGIL__TSDB_OM_META_TYPE)
        dput(&r->d, " =%d", (int)m->type);
    dput(&r->d, " L%llu\n", (unsigned long long)m->line);
    return VIGIL_OK;
}

static bool is_name(const char *s, size_t n, bool metric)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (metric && c == ':') || (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}

/* Whatever the input, what reaches a callback must be well formed. */
static void check_sample_invariants(const vigil__tsdb_om_sample *s)
{
    assert_true(is_name(s->name, s->name_len, true));
    assert_true(s->nlabels <= VIGIL__TSDB_OM_MAX_LABELS);
    for (size_t i = 0; i < s->nlabels; i++) {
        const vigil__tsdb_om_label *l = &s->labels[i];
        assert_true(is_name(l->name, l->name_len, false));
        assert_null(memchr(l->value, '\0', l->value_len));
        for (size_t j = 0; j < i; j++)
            assert_false(s->labels[j].name_len == l->name_len &&
                         memcmp(s->labels[j].name, l->name, l->name_len) == 0);
    }
    assert_true(isnan(s->value) ? bits_of(s->value) == VIGIL__TSDB_OM_NAN_BITS : true);
}

static vigil_status on_sample(void *user, const vigil__tsdb_om_sample *s)
{
    rec *r = user;
    check_sample_invariants(s);
    r->samples++;
    r->last_value = s->value;
    r->last_t_ms = s->t_ms;
    if (r->fail_at != 0 && r->samples == r->fail_at)
        return VIGIL_ECALLBACK;
    if (r->fmt == FMT_PY) {
        dput(&r->d, "S ");
        dhex(&r->d, s->name, s->name_len);
        dput(&r->d, " %zu ", s->nlabels);
        if (s->nlabels == 0)
            dput(&r->d, "-");
        for (size_t i = 0; i < s->nlabels; i++) {
            dput(&r->d, i ? " " : "");
            dhex(&r->d, s->labels[i].name, s->labels[i].name_len);
            dput(&r->d, "=");
            dhex(&r->d, s->labels[i].value, s->labels[i].value_len);
        }
        if (isnan(s->value))
            dput(&r->d, " nan");
        else
            dput(&r->d, " %016llx", (unsigned long long)bits_of(s->value));
        dput(&r->d, " %lld\n", (long long)s->t_ms);
        return VIGIL_OK;
    }
    dput(&r->d, "%.*s{", (int)s->name_len, s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        dput(&r->d, "%s%.*s=\"", i ? "," : "", (int)s->labels[i].name_len, s->labels[i].name);
        desc(&r->d, s->labels[i].value, s->labels[i].value_len);
        dput(&r->d, "\"");
    }
    dput(&r->d, "} %.17g @%lld L%llu\n", s->value, (long long)s->t_ms, (unsigned long long)s->line);
    return VIGIL_OK;
}

static const vigil__tsdb_om_handlers handlers = {on_meta, on_sample};

/* --- running the parser ---------------------------------------------------------------------- */

typedef struct result {
    vigil_status st;
    char msg[512];
    rec r;
    vigil__tsdb_om_stats stats;
} result;

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t rnd(uint64_t *s, size_t n)
{
    return (size_t)(rng_next(s) % n);
}

/* One-shot parse of an exact-size heap copy of text. */
static void run_whole(const char *text, size_t len, int fmt, size_t fail_at, result *out)
{
    memset(out, 0, sizeof *out);
    out->r.fmt = fmt;
    out->r.fail_at = fail_at;
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    out->st = vigil__tsdb_om_parse(copy, len, &handlers, &out->r, &out->stats);
    snprintf(out->msg, sizeof out->msg, "%s", out->st ? vigil_errmsg() : "");
    free(copy);
}

/* The same through the streaming parser, in chunks of 1..max_chunk bytes drawn from seed. */
static void run_chunked(const char *text, size_t len, int fmt, size_t fail_at, uint64_t seed,
                        size_t max_chunk, result *out)
{
    memset(out, 0, sizeof *out);
    out->r.fmt = fmt;
    out->r.fail_at = fail_at;
    vigil__tsdb_om_parser *p;
    assert_int_equal(vigil__tsdb_om_parser_new(&handlers, &out->r, &p), VIGIL_OK);
    vigil_status st = VIGIL_OK;
    size_t off = 0;
    while (st == VIGIL_OK && off < len) {
        size_t n = max_chunk == 1 ? 1 : 1 + rnd(&seed, max_chunk);
        if (n > len - off)
            n = len - off;
        char *chunk = malloc(n);
        assert_non_null(chunk);
        memcpy(chunk, text + off, n);
        st = vigil__tsdb_om_parser_feed(p, chunk, n);
        free(chunk);
        off += n;
    }
    if (st == VIGIL_OK)
        st = vigil__tsdb_om_parser_finish(p);
    out->st = st;
    snprintf(out->msg, sizeof out->msg, "%s", st ? vigil_errmsg() : "");
    out->stats = *vigil__tsdb_om_parser_stats(p);
    vigil__tsdb_om_parser_free(p);
}

static void assert_same(const result *a, const result *b, const char *what)
{
    if (a->st != b->st || strcmp(a->msg, b->msg) != 0 || strcmp(dstr(&a->r.d), dstr(&b->r.d)))
        fail_msg("%s differs from one-shot parse: status %d/%d, message \"%s\" / \"%s\"\n"
                 "--- one-shot ---\n%s--- %s ---\n%s",
                 what, a->st, b->st, a->msg, b->msg, dstr(&a->r.d), what, dstr(&b->r.d));
    assert_int_equal(a->stats.samples, b->stats.samples);
    assert_int_equal(a->stats.meta, b->stats.meta);
    assert_int_equal(a->stats.exemplars, b->stats.exemplars);
}

static void result_free(result *r)
{
    dump_free(&r->r.d);
}

/* Parses text whole and in chunks of 1 byte and of random sizes; all must agree. */
static void run_fmt(const char *text, size_t len, int fmt, size_t fail_at, result *out)
{
    result c;
    run_whole(text, len, fmt, fail_at, out);
    if (len < 4096) { /* byte by byte: every possible split point */
        run_chunked(text, len, fmt, fail_at, 0, 1, &c);
        assert_same(out, &c, "1-byte chunks");
        result_free(&c);
    }
    run_chunked(text, len, fmt, fail_at, 0x9e3779b97f4a7c15u ^ len, 13, &c);
    assert_same(out, &c, "random chunks");
    result_free(&c);
}

static void run(const char *text, result *out)
{
    run_fmt(text, strlen(text), FMT_TEXT, 0, out);
}

/* Parses text and requires success and exactly the expected record. */
static void expect_ok(const char *text, const char *want)
{
    result r;
    run(text, &r);
    if (r.st != VIGIL_OK)
        fail_msg("parse failed: %s\n--- input ---\n%s", r.msg, text);
    if (strcmp(dstr(&r.r.d), want) != 0)
        fail_msg("--- want ---\n%s--- got ---\n%s", want, dstr(&r.r.d));
    result_free(&r);
}

/* Parses text and requires status st with exactly the message msg. */
static void expect_error(const char *text, vigil_status st, const char *msg)
{
    result r;
    run(text, &r);
    if (r.st != st || strcmp(r.msg, msg) != 0)
        fail_msg("input:\n%s\nwant status %d \"%s\"\ngot  status %d \"%s\"", text, st, msg, r.st,
                 r.msg);
    result_free(&r);
}

/* The value (or timestamp) a one-sample document gives. */
static vigil_status parse_value(const char *value_tok, const char *ts_tok, double *v, int64_t *t)
{
    char doc[512];
    snprintf(doc, sizeof doc, "m %s %s\n# EOF\n", value_tok, ts_tok);
    result r;
    run(doc, &r);
    *v = r.r.last_value;
    *t = r.r.last_t_ms;
    vigil_status st = r.st;
    if (st == VIGIL_OK)
        assert_int_equal(r.r.samples, 1);
    result_free(&r);
    return st;
}

/* --- the accepted language ------------------------------------------------------------------- */

static void reports_samples_metadata_and_stats_of_a_small_document(void **state)
{
    (void)state;
    const char *doc = "# TYPE http_requests counter\n"
                      "# HELP http_requests Requests served.\n"
                      "# TYPE rpc_duration_seconds summary\n"
                      "# UNIT rpc_duration_seconds seconds\n"
                      "# HELP rpc_duration_seconds \n"
                      "http_requests_total{method=\"get\",code=\"200\"} 1027 1767225600.123\n"
                      "http_requests_total{} 3 1767225601\n"
                      "rpc_duration_seconds{quantile=\"0.5\"} 4.5e-3 1767225599.5\n"
                      "up 1 1.7672256e9\n"
                      "ns:metric_name:rate5m 0 0\n"
                      "# EOF\n";
    expect_ok(doc, "TYPE http_requests counter =1 L1\n"
                   "HELP http_requests Requests served. L2\n"
                   "TYPE rpc_duration_seconds summary =5 L3\n"
                   "UNIT rpc_duration_seconds seconds L4\n"
                   "HELP rpc_duration_seconds  L5\n"
                   "http_requests_total{method=\"get\",code=\"200\"} 1027 @1767225600123 L6\n"
                   "http_requests_total{} 3 @1767225601000 L7\n"
                   "rpc_duration_seconds{quantile=\"0.5\"} 0.0044999999999999997 @1767225599500 "
                   "L8\n"
                   "up{} 1 @1767225600000 L9\n"
                   "ns:metric_name:rate5m{} 0 @0 L10\n");
    vigil__tsdb_om_stats st;
    rec r = {0};
    assert_int_equal(vigil__tsdb_om_parse(doc, strlen(doc), &handlers, &r, &st), VIGIL_OK);
    dump_free(&r.d);
    assert_int_equal(st.samples, 5);
    assert_int_equal(st.meta, 5);
    assert_int_equal(st.lines, 11);
    assert_int_equal(st.bytes, strlen(doc));
    assert_int_equal(st.t_min_ms, 0);
    assert_int_equal(st.t_max_ms, 1767225601000);
}

static void maps_every_openmetrics_type(void **state)
{
    (void)state;
    expect_ok("# TYPE a unknown\n# TYPE b counter\n# TYPE c gauge\n# TYPE d histogram\n"
              "# TYPE e gaugehistogram\n# TYPE f summary\n# TYPE g info\n# TYPE h stateset\n"
              "# EOF\n",
              "TYPE a unknown =0 L1\nTYPE b counter =1 L2\nTYPE c gauge =2 L3\n"
              "TYPE d histogram =3 L4\nTYPE e gaugehistogram =4 L5\nTYPE f summary =5 L6\n"
              "TYPE g info =6 L7\nTYPE h stateset =7 L8\n");
}

static void unescapes_label_values_and_help_text(void **state)
{
    (void)state;
    /* Several escaped values on one line: later ones must not move earlier ones. */
    expect_ok("# HELP m A \\\"quoted\\\" \\\\ help\\nwith two lines\n"
              "m{a=\"q\\\"uote\",b=\"plain\",c=\"back\\\\slash\",d=\"new\\nline\",e=\"\"} 1 2\n"
              "# EOF\n",
              "HELP m A \\\"quoted\\\" \\\\ help\\nwith two lines L1\n"
              "m{a=\"q\\\"uote\",b=\"plain\",c=\"back\\\\slash\",d=\"new\\nline\",e=\"\"} 1 @2000 "
              "L2\n");
}

static void keeps_unknown_escapes_and_utf8_as_written(void **state)
{
    (void)state;
    /* \t is no OpenMetrics escape: Prometheus and prometheus_client keep both characters. */
    expect_ok("# HELP m caf\xc3\xa9 \\t end\\\n"
              "m{city=\"M\xc3\xbcnchen\",tab=\"a\\tb\",arrow=\"\xe2\x86\x92\"} 1 2\n# EOF\n",
              "HELP m caf\xc3\xa9 \\\\t end\\\\ L1\n"
              "m{city=\"M\xc3\xbcnchen\",tab=\"a\\\\tb\",arrow=\"\xe2\x86\x92\"} 1 @2000 L2\n");
    /* Label values may hold what is syntax elsewhere. */
    expect_ok("m{a=\"} 1 2 # {x=\\\"y\\\"} 3\",b=\"=,{\"} 1 2\n# EOF\n",
              "m{a=\"} 1 2 # {x=\\\"y\\\"} 3\",b=\"=,{\"} 1 @2000 L1\n");
}

/* --- numbers --------------------------------------------------------------------------------- */

static void expect_value_like_strtod(const char *tok)
{
    double v;
    int64_t t;
    if (parse_value(tok, "0", &v, &t) != VIGIL_OK)
        fail_msg("value %s refused: %s", tok, vigil_errmsg());
    double want = strtod(tok, NULL);
    if (bits_of(v) != bits_of(want))
        fail_msg("value %s: got %a (%016llx), strtod gives %a (%016llx)", tok, v,
                 (unsigned long long)bits_of(v), want, (unsigned long long)bits_of(want));
}

static void values_round_like_strtod_on_fixed_and_random_tokens(void **state)
{
    (void)state;
    static const char *const fixed[] = {
        "0",
        "-0",
        "+0",
        "1",
        "+1",
        "-1",
        "007",
        "1e3",
        "1E-3",
        "1e+3",
        ".5",
        "5.",
        "-.5e-2",
        "0.1",
        "0.30000000000000004",
        "123.456",
        "1767225600.123",
        "9007199254740993",
        "9007199254740992",
        "18446744073709551616",
        "123456789012345678901234567890",
        "0.000000000000000000000000000000000000001",
        "2.2250738585072011e-308",
        "2.2250738585072014e-308",
        "4.9e-324",
        "2.4703282292062327e-324",
        "2.4703282292062328e-324",
        "1e-400",
        "1.7976931348623157e308",
        "1.7976931348623158e308",
        "3.141592653589793238462643383279502884197169399375105820974944592307816406286",
        "1e22",
        "1e23",
        "8.98846567431158e307",
        "0e999999",
        "1e0000000000000000000000003",
        "100000000000000000000000000000000000000000000000000000000000000000000000000e-75",
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        expect_value_like_strtod(fixed[i]);

    uint64_t seed = 42;
    char tok[80];
    for (int i = 0; i < 3000; i++) {
        double d;
        uint64_t b = rng_next(&seed);
        memcpy(&d, &b, sizeof d);
        if (!isfinite(d))
            continue;
        switch (i % 4) {
        case 0: snprintf(tok, sizeof tok, "%.17g", d); break;
        case 1: snprintf(tok, sizeof tok, "%.*g", 1 + (int)rnd(&seed, 20), d); break;
        case 2: /* decimal text of the kind exporters write */
            snprintf(tok, sizeof tok, "%llu.%0*llu", (unsigned long long)rnd(&seed, 100000000),
                     1 + (int)rnd(&seed, 9), (unsigned long long)rnd(&seed, 1000000000));
            break;
        default: /* many digits and an exponent near the fast path's edges */
            snprintf(tok, sizeof tok, "%llu%llue%d", (unsigned long long)rng_next(&seed),
                     (unsigned long long)rnd(&seed, 1000), (int)rnd(&seed, 90) - 60);
        }
        expect_value_like_strtod(tok);
    }
}

static void specials_become_infinities_and_prometheus_nan(void **state)
{
    (void)state;
    static const struct {
        const char *tok;
        double want;
    } cases[] = {
        {"+Inf", HUGE_VAL},     {"-Inf", -HUGE_VAL},      {"inf", HUGE_VAL},
        {"Infinity", HUGE_VAL}, {"-infinity", -HUGE_VAL}, {"+INF", HUGE_VAL},
    };
    double v;
    int64_t t;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse_value(cases[i].tok, "1", &v, &t), VIGIL_OK);
        assert_true(bits_of(v) == bits_of(cases[i].want));
    }
    static const char *const nans[] = {"NaN", "nan", "NAN"};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(parse_value(nans[i], "1", &v, &t), VIGIL_OK);
        assert_true(bits_of(v) == VIGIL__TSDB_OM_NAN_BITS);
    }
    assert_int_equal(parse_value("-0", "1", &v, &t), VIGIL_OK);
    assert_true(v == 0 && signbit(v));
}

static void rejects_values_go_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *tok, *msg;
    } cases[] = {
        {"1e400", "line 1: value \"1e400\" out of range"},
        {"-1e400", "line 1: value \"-1e400\" out of range"},
        {"0x10", "line 1: invalid value \"0x10\""},
        {"0x1p3", "line 1: invalid value \"0x1p3\""},
        {"1_000", "line 1: invalid value \"1_000\""},
        {"1e", "line 1: invalid value \"1e\""},
        {"1e+", "line 1: invalid value \"1e+\""},
        {".", "line 1: invalid value \".\""},
        {"1.2.3", "line 1: invalid value \"1.2.3\""},
        {"--1", "line 1: invalid value \"--1\""},
        {"+nan", "line 1: invalid value \"+nan\""},
        {"nan(1)", "line 1: invalid value \"nan(1)\""},
        {"infin", "line 1: invalid value \"infin\""},
        {"1,5", "line 1: invalid value \"1,5\""},
        {"one", "line 1: invalid value \"one\""},
    };
    char doc[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(doc, sizeof doc, "m %s 1\n# EOF\n", cases[i].tok);
        expect_error(doc, VIGIL_EINVAL, cases[i].msg);
    }
}

static void converts_timestamps_like_prometheus_textparse(void **state)
{
    (void)state;
    /* int64(ts * 1000): the double product, truncated toward zero. 1.001 is 1.000999... as a
     * double and its product stays below 1001; sub-millisecond digits are cut, not rounded. */
    static const struct {
        const char *tok;
        int64_t ms;
    } cases[] = {
        {"1767225600.123", 1767225600123},
        {"1767225600", 1767225600000},
        {"1767225600.1239", 1767225600123},
        {"1.001", 1000},
        {"1.0019", 1001},
        {"-1.0019", -1001},
        {"1.5e9", 1500000000000},
        {"0", 0},
        {"-0.0001", 0},
        {"9.2e15", 9200000000000000000},
        {"1767225600123", 1767225600123000}, /* milliseconds written as seconds: kept */
    };
    double v;
    int64_t t;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(parse_value("1", cases[i].tok, &v, &t), VIGIL_OK);
        if (t != cases[i].ms)
            fail_msg("timestamp %s: got %lld ms, want %lld", cases[i].tok, (long long)t,
                     (long long)cases[i].ms);
    }
    /* The same rule on random decimal timestamps, against strtod and a C cast. */
    uint64_t seed = 7;
    char tok[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(tok, sizeof tok, "%s%llu.%0*llu", i % 5 == 0 ? "-" : "",
                 (unsigned long long)rnd(&seed, 4000000000u), 1 + (int)rnd(&seed, 6),
                 (unsigned long long)rnd(&seed, 1000000));
        assert_int_equal(parse_value("1", tok, &v, &t), VIGIL_OK);
        assert_int_equal(t, (int64_t)(strtod(tok, NULL) * 1000.0));
    }
    expect_error("m 1 NaN\n# EOF\n", VIGIL_EINVAL,
                 "line 1: timestamp \"NaN\" is not a finite number");
    expect_error("m 1 -Inf\n# EOF\n", VIGIL_EINVAL,
                 "line 1: timestamp \"-Inf\" is not a finite number");
    expect_error("m 1 9.3e15\n# EOF\n", VIGIL_EINVAL,
                 "line 1: timestamp \"9.3e15\" out of range (milliseconds do not fit in int64)");
    expect_error("m 1 12:00\n# EOF\n", VIGIL_EINVAL, "line 1: invalid timestamp \"12:00\"");
}

static void refuses_a_sample_without_timestamp(void **state)
{
    (void)state;
    const char *msg = "line 2: sample has no timestamp (an import needs one; promtool refuses "
                      "such samples too)";
    expect_error("a 1 1\nb{x=\"y\"} 2\n# EOF\n", VIGIL_EINVAL, msg);
    expect_error("a 1 1\nb_total 2 # {t=\"x\"} 1\n# EOF\n", VIGIL_EINVAL, msg);
}

static void skips_valid_exemplars_and_rejects_broken_ones(void **state)
{
    (void)state;
    const char *doc = "# TYPE c counter\n"
                      "c_total 3 10 # {trace_id=\"abc\",span=\"q\\\"\"} 0.5 9.5\n"
                      "c_total 4 11 # {} 1\n"
                      "c_total 5 12\n"
                      "# EOF\n";
    expect_ok(doc, "TYPE c counter =1 L1\nc_total{} 3 @10000 L2\nc_total{} 4 @11000 L3\n"
                   "c_total{} 5 @12000 L4\n");
    vigil__tsdb_om_stats st;
    rec r = {0};
    assert_int_equal(vigil__tsdb_om_parse(doc, strlen(doc), &handlers, &r, &st), VIGIL_OK);
    dump_free(&r.d);
    assert_int_equal(st.exemplars, 2);
    assert_int_equal(st.samples, 3);

    expect_error("c 1 2 # {a=\"b\"}\n# EOF\n", VIGIL_EINVAL,
                 "line 1: expected a space and a value after the exemplar's labels");
    expect_error("c 1 2 # {a=\"b\"} x\n# EOF\n", VIGIL_EINVAL,
                 "line 1: invalid exemplar value \"x\"");
    expect_error("c 1 2 # {a=\"b\"} 1 NaN\n# EOF\n", VIGIL_EINVAL,
                 "line 1: exemplar timestamp is not a finite number");
    expect_error("c 1 2 # {a=\"b\"} 1 2 3\n# EOF\n", VIGIL_EINVAL,
                 "line 1: unexpected text after the exemplar's timestamp");
    expect_error("c 1 2 # {1=\"b\"} 1\n# EOF\n", VIGIL_ENAME, "line 1: invalid label name \"1\"");
    expect_error("c 1 2 #{a=\"b\"} 1\n# EOF\n", VIGIL_EINVAL,
                 "line 1: unexpected text after the timestamp (only an exemplar \" # {labels} "
                 "value [timestamp]\" may follow)");
}

static void requires_eof_last_and_nothing_after(void **state)
{
    (void)state;
    expect_ok("a 1 2\n# EOF", "a{} 1 @2000 L1\n");
    expect_ok("# EOF\n", "");
    expect_error("", VIGIL_EINVAL,
                 "line 1: input ends without # EOF (OpenMetrics requires it as the last line)");
    expect_error("a 1 2\n", VIGIL_EINVAL,
                 "line 2: input ends without # EOF (OpenMetrics requires it as the last line)");
    expect_error("a 1 2", VIGIL_EINVAL,
                 "line 1: input ends without # EOF (and its last line has no newline)");
    expect_error("a 1 2\n# EOF\na 2 3\n", VIGIL_EINVAL, "line 3: data after # EOF");
    expect_error("a 1 2\n# EOF\n\n", VIGIL_EINVAL, "line 3: data after # EOF");
    expect_error("# EOF\nx", VIGIL_EINVAL, "line 2: data after # EOF");
    expect_error("# EOF \n", VIGIL_EINVAL, "line 1: unexpected text after # EOF");
    expect_error("# EOFX\n", VIGIL_EINVAL, "line 1: unexpected text after # EOF");
}

/* --- errors ---------------------------------------------------------------------------------- */

static void errors_name_the_line_and_the_reason(void **state)
{
    (void)state;
    static const struct {
        const char *doc;
        vigil_status st;
        const char *msg;
    } cases[] = {
        {"a 1 1\n\nb 1 1\n", VIGIL_EINVAL, "line 2: empty line (OpenMetrics allows none)"},
        {"# a free comment\n", VIGIL_EINVAL,
         "line 1: comment lines are not OpenMetrics (a line starting with # must be # TYPE, "
         "# HELP, # UNIT or # EOF)"},
        {"#HELP m x\n", VIGIL_EINVAL,
         "line 1: comment lines are not OpenMetrics (a line starting with # must be # TYPE, "
         "# HELP, # UNIT or # EOF)"},
        {"a 1 1\n# TYPE m untyped\n", VIGIL_EINVAL,
         "line 2: invalid metric type \"untyped\" (Prometheus text format; OpenMetrics calls it "
         "\"unknown\")"},
        {"# TYPE m Counter\n", VIGIL_EINVAL, "line 1: invalid metric type \"Counter\""},
        {"# TYPE m\n", VIGIL_EINVAL,
         "line 1: # TYPE \"m\": expected a space and text after the "
         "name"},
        {"# HELP 9m x\n", VIGIL_ENAME, "line 1: invalid metric name \"9m\" after # HELP"},
        {"# HELP  m x\n", VIGIL_ENAME,
         "line 1: missing metric name after # HELP (one space, then the name)"},
        {"# UNIT m_bytes seconds\n", VIGIL_EINVAL,
         "line 1: unit \"seconds\" is not a suffix of metric \"m_bytes\" (the name must end in "
         "_unit)"},
        {"# UNIT seconds seconds\n", VIGIL_EINVAL,
         "line 1: unit \"seconds\" is not a suffix of metric \"seconds\" (the name must end in "
         "_unit)"},
        {"# HELP m \xff\n", VIGIL_EINVAL, "line 1: HELP text is not valid UTF-8"},
        {"foo-bar 1 2\n", VIGIL_ENAME, "line 1: invalid metric name \"foo-bar\""},
        {"1foo 1 2\n", VIGIL_ENAME, "line 1: invalid metric name \"1foo\""},
        {" foo 1 2\n", VIGIL_EINVAL, "line 1: line starts with whitespace"},
        {"{__name__=\"m\"} 1 2\n", VIGIL_EINVAL,
         "line 1: line starts with '{' (quoted metric names are not supported; start with the "
         "metric name)"},
        {"m\n", VIGIL_EINVAL, "line 1: missing value and timestamp after \"m\""},
        {"a 1 1\nm{1a=\"x\"} 1 2\n", VIGIL_ENAME, "line 2: invalid label name \"1a\""},
        {"m{a-b=\"x\"} 1 2\n", VIGIL_ENAME, "line 1: invalid label name \"a-b\""},
        {"m{\"a\"=\"x\"} 1 2\n", VIGIL_ENAME, "line 1: invalid label name \"\\\"a\\\"\""},
        {"m{,a=\"x\"} 1 2\n", VIGIL_ENAME, "line 1: expected a label name, found \",\""},
        {"m{a} 1 2\n", VIGIL_EINVAL, "line 1: expected '=' after label name \"a\""},
        {"m{a=x} 1 2\n", VIGIL_EINVAL, "line 1: value of label \"a\" must be in double quotes"},
        {"m{a=\"x} 1 2\n", VIGIL_EINVAL,
         "line 1: unterminated value of label \"a\" (no closing quote)"},
        {"m{a=\"x\\\n", VIGIL_EINVAL,
         "line 1: unterminated value of label \"a\" (no closing quote)"},
        {"m{a=\"x\",} 1 2\n", VIGIL_EINVAL, "line 1: trailing comma before '}'"},
        {"m{a=\"x\" ,b=\"y\"} 1 2\n", VIGIL_EINVAL,
         "line 1: expected ',' or '}' after the value of label \"a\", found \" \" (no spaces "
         "inside braces)"},
        {"m{a=\"x\"b=\"y\"} 1 2\n", VIGIL_EINVAL,
         "line 1: expected ',' or '}' after the value of label \"a\", found \"b\""},
        {"m{a=\"x\",a=\"y\"} 1 2\n", VIGIL_ELABELS, "line 1: duplicate label name \"a\""},
        {"m{a=\"\xc3\x28\"} 1 2\n", VIGIL_EINVAL,
         "line 1: value of label \"a\" is not valid UTF-8"},
        {"m  1 2\n", VIGIL_EINVAL,
         "line 1: missing value (found a second space where it should "
         "start)"},
        {"m{a=\"b\"} \n", VIGIL_EINVAL,
         "line 1: missing value (found the end of the line where it should start)"},
        {"m\t1 2\n", VIGIL_EINVAL,
         "line 1: unexpected character after metric name (a tab: OpenMetrics separates fields "
         "by exactly one space)"},
        {"m 1\t2\n", VIGIL_EINVAL,
         "line 1: invalid value \"1\\t2\" (a tab: OpenMetrics separates fields by exactly one "
         "space)"},
        {"m 1 2\r\n", VIGIL_EINVAL,
         "line 1: invalid timestamp \"2\\r\" (a carriage return: CRLF line ends are not "
         "OpenMetrics)"},
        {"m 1 2 \n", VIGIL_EINVAL,
         "line 1: unexpected text after the timestamp (only an exemplar \" # {labels} value "
         "[timestamp]\" may follow)"},
        {"m 1 2 3\n", VIGIL_EINVAL,
         "line 1: unexpected text after the timestamp (only an exemplar \" # {labels} value "
         "[timestamp]\" may follow)"},
        {"m 1  2\n", VIGIL_EINVAL,
         "line 1: missing timestamp (found a second space where it should start)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].doc, cases[i].st, cases[i].msg);

    /* NUL bytes cannot go through a C string literal test: build them. */
    const char nul_value[] = "m{a=\"x\0y\"} 1 2\n# EOF\n";
    result r;
    run_fmt(nul_value, sizeof nul_value - 1, FMT_TEXT, 0, &r);
    assert_int_equal(r.st, VIGIL_EINVAL);
    assert_string_equal(r.msg, "line 1: value of label \"a\" contains a NUL byte");
    result_free(&r);
    const char nul_help[] = "# HELP m a\0b\n# EOF\n";
    run_fmt(nul_help, sizeof nul_help - 1, FMT_TEXT, 0, &r);
    assert_int_equal(r.st, VIGIL_EINVAL);
    assert_string_equal(r.msg, "line 1: HELP text contains a NUL byte");
    result_free(&r);
}

static void long_lines_and_many_labels_hit_the_caps(void **state)
{
    (void)state;
    /* A label value just under the line cap is fine; one byte more is not. */
    size_t cap = VIGIL__TSDB_OM_MAX_LINE;
    const char *head = "m{a=\"", *tail = "\"} 1 2";
    size_t fixed = strlen(head) + strlen(tail);
    char *doc = malloc(cap + 64);
    assert_non_null(doc);
    for (int over = 0; over <= 1; over++) {
        size_t vlen = cap - fixed + (size_t)over;
        size_t n = (size_t)sprintf(doc, "%s", head);
        memset(doc + n, 'v', vlen);
        n += vlen;
        n += (size_t)sprintf(doc + n, "%s\n# EOF\n", tail);
        /* one escape makes the value go through the scratch buffer too */
        doc[strlen(head) + 10] = '\\';
        doc[strlen(head) + 11] = 'n';
        result r;
        run_fmt(doc, n, FMT_TEXT, 0, &r);
        if (over) {
            assert_int_equal(r.st, VIGIL_ELIMIT);
            assert_string_equal(r.msg, "line 1: line longer than 1048576 bytes");
        } else {
            assert_int_equal(r.st, VIGIL_OK);
            assert_int_equal(r.r.samples, 1);
        }
        result_free(&r);
    }
    free(doc);

    /* VIGIL__TSDB_OM_MAX_LABELS labels pass, one more fails. */
    dump d = {0};
    for (int over = 0; over <= 1; over++) {
        d.len = 0;
        dput(&d, "m{");
        for (unsigned i = 0; i < VIGIL__TSDB_OM_MAX_LABELS + (unsigned)over; i++)
            dput(&d, "%sl%u=\"v%u\"", i ? "," : "", i, i);
        dput(&d, "} 1 2\n# EOF\n");
        result r;
        run_fmt(d.s, d.len, FMT_TEXT, 0, &r);
        assert_int_equal(r.st, over ? VIGIL_ELIMIT : VIGIL_OK);
        if (over)
            assert_string_equal(r.msg, "line 1: more than 256 labels");
        result_free(&r);
    }
    dump_free(&d);
}

static void callback_status_stops_the_parse(void **state)
{
    (void)state;
    const char *doc = "a 1 1\nb 2 2\nc 3 3\n# EOF\n";
    result r;
    run_fmt(doc, strlen(doc), FMT_TEXT, 2, &r);
    assert_int_equal(r.st, VIGIL_ECALLBACK);
    assert_int_equal(r.r.samples, 2);
    assert_int_equal(r.stats.samples, 1); /* the refused sample is not counted */
    result_free(&r);

    /* The parser stays stopped. */
    rec rc = {.fail_at = 1};
    vigil__tsdb_om_parser *p;
    assert_int_equal(vigil__tsdb_om_parser_new(&handlers, &rc, &p), VIGIL_OK);
    assert_int_equal(vigil__tsdb_om_parser_feed(p, doc, strlen(doc)), VIGIL_ECALLBACK);
    assert_int_equal(vigil__tsdb_om_parser_feed(p, "d 4 4\n", 6), VIGIL_ESTATE);
    assert_int_equal(vigil__tsdb_om_parser_finish(p), VIGIL_ESTATE);
    assert_string_equal(vigil_errmsg(), "OpenMetrics parser stopped at line 1 by an earlier error");
    vigil__tsdb_om_parser_free(p);
    dump_free(&rc.d);
    vigil__tsdb_om_parser_free(NULL);

    /* Callbacks may be NULL. */
    vigil__tsdb_om_handlers none = {0};
    vigil__tsdb_om_stats st;
    assert_int_equal(vigil__tsdb_om_parse(doc, strlen(doc), &none, NULL, &st), VIGIL_OK);
    assert_int_equal(st.samples, 3);
    assert_int_equal(vigil__tsdb_om_parse(doc, strlen(doc), NULL, NULL, NULL), VIGIL_EINVAL);
}

/* --- files ----------------------------------------------------------------------------------- */

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void parses_regular_files_and_pipes(void **state)
{
    (void)state;
    const char *doc = "# TYPE m gauge\nm{a=\"1\"} 1 1\nm{a=\"2\"} 2 2\n# EOF\n";
    write_file("plain.om", doc, strlen(doc));
    rec r = {0};
    vigil__tsdb_om_stats st;
    assert_int_equal(vigil__tsdb_om_parse_file("plain.om", &handlers, &r, &st), VIGIL_OK);
    assert_int_equal(st.samples, 2);
    assert_int_equal(st.bytes, strlen(doc));
    assert_string_equal(dstr(&r.d), "TYPE m gauge =2 L1\nm{a=\"1\"} 1 @1000 L2\n"
                                    "m{a=\"2\"} 2 @2000 L3\n");
    dump_free(&r.d);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    assert_int_equal(write(fds[1], doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fds[1]);
    char path[64];
    snprintf(path, sizeof path, "/dev/fd/%d", fds[0]);
    assert_int_equal(vigil__tsdb_om_parse_file(path, &handlers, &r, &st), VIGIL_OK);
    close(fds[0]);
    assert_int_equal(st.samples, 2);
    dump_free(&r.d);

    write_file("empty.om", "", 0);
    assert_int_equal(vigil__tsdb_om_parse_file("empty.om", &handlers, &r, &st), VIGIL_EINVAL);
    const char *bad = "m 1 1\nm 1\n# EOF\n";
    write_file("bad.om", bad, strlen(bad));
    assert_int_equal(vigil__tsdb_om_parse_file("bad.om", &handlers, &r, &st), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "line 2: sample has no timestamp"));
    assert_int_equal(vigil__tsdb_om_parse_file("missing.om", &handlers, &r, &st), VIGIL_EIO);
    assert_string_equal(vigil_errmsg(), "open missing.om: No such file or directory");
    dump_free(&r.d);
}

/* --- gen_series.py output against a straightforward reading ---------------------------------- */

static char *read_gz(const char *path, size_t *len)
{
    gzFile f = gzopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    int got;
    while ((got = gzread(f, buf + n, (unsigned)(cap - n))) > 0) {
        n += (size_t)got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
    }
    assert_true(got == 0);
    gzclose(f);
    *len = n;
    return buf;
}

/* What gen_series.py writes, read the obvious way: split at '{', '}' and spaces, strtod the
 * numbers, int64(ts * 1000). Returns the sample count; d gets one line per sample. */
static size_t read_plainly(const char *text, size_t len, dump *d, int64_t *tmin, int64_t *tmax)
{
    size_t n = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        if (*p != '#') {
            const char *lb = memchr(p, '{', (size_t)(nl - p));
            const char *rb = memchr(p, '}', (size_t)(nl - p));
            assert_true(lb != NULL && rb != NULL);
            char value[64], ts[64];
            assert_int_equal(sscanf(rb + 2, "%63s %63s", value, ts), 2);
            int64_t t = (int64_t)(strtod(ts, NULL) * 1000.0);
            dput(d, "%.*s|%.*s|%016llx|%lld\n", (int)(lb - p), p, (int)(rb - lb - 1), lb + 1,
                 (unsigned long long)bits_of(strtod(value, NULL)), (long long)t);
            if (n == 0 || t < *tmin)
                *tmin = t;
            if (n == 0 || t > *tmax)
                *tmax = t;
            n++;
        }
        p = nl + 1;
    }
    return n;
}

static vigil_status plain_sample(void *user, const vigil__tsdb_om_sample *s)
{
    dump *d = user;
    dput(d, "%.*s|", (int)s->name_len, s->name);
    for (size_t i = 0; i < s->nlabels; i++)
        dput(d, "%s%.*s=\"%.*s\"", i ? "," : "", (int)s->labels[i].name_len, s->labels[i].name,
             (int)s->labels[i].value_len, s->labels[i].value);
    dput(d, "|%016llx|%lld\n", (unsigned long long)bits_of(s->value), (long long)s->t_ms);
    return VIGIL_OK;
}

static void check_against_plain_reading(const char *text, size_t len, size_t min_samples)
{
    dump want = {0}, got = {0};
    int64_t tmin = 0, tmax = 0;
    size_t n = read_plainly(text, len, &want, &tmin, &tmax);
    assert_true(n >= min_samples);
    vigil__tsdb_om_handlers h = {NULL, plain_sample};
    vigil__tsdb_om_stats st;
    assert_int_equal(vigil__tsdb_om_parse(text, len, &h, &got, &st), VIGIL_OK);
    assert_int_equal(st.samples, n);
    assert_int_equal(st.meta, 8); /* TYPE and HELP of the four families */
    assert_int_equal(st.t_min_ms, tmin);
    assert_int_equal(st.t_max_ms, tmax);
    if (strcmp(dstr(&want), dstr(&got)) != 0) {
        size_t i = 0;
        while (want.s[i] == got.s[i])
            i++;
        fail_msg("differs at byte %zu:\nplain: %.120s\nparser: %.120s", i, want.s + i, got.s + i);
    }
    /* Fed in chunks the result is the same. */
    result whole, chunked;
    run_whole(text, len, FMT_PY, 0, &whole);
    run_chunked(text, len, FMT_PY, 0, 99, 4096, &chunked);
    assert_same(&whole, &chunked, "4 KiB chunks");
    result_free(&whole);
    result_free(&chunked);
    dump_free(&want);
    dump_free(&got);
}

static void gen_series_output_matches_a_straightforward_reading(void **state)
{
    (void)state;
    /* gen_series.py --series 20 --hours 0.5 (seed 1), kept compressed next to the test. */
    size_t len;
    char *text = read_gz(VIGIL_TEST_DATA_DIR "/omparse_data/gen_series_s20_h0.5.om.gz", &len);
    check_against_plain_reading(text, len, 20 * 120);
    /* spot checks, read off the file by eye */
    assert_non_null(strstr(text, "demo_requests_total{code=\"200\",instance=\"node-0\","
                                 "job=\"demo\",method=\"get\"} 825 1767223815.002\n"));
    rec r = {0};
    vigil__tsdb_om_stats st;
    assert_int_equal(vigil__tsdb_om_parse(text, len, &handlers, &r, &st), VIGIL_OK);
    assert_non_null(strstr(dstr(&r.d), "demo_requests_total{code=\"200\",instance=\"node-0\","
                                       "job=\"demo\",method=\"get\"} 825 @1767223815002 L3\n"));
    assert_int_equal(st.t_max_ms, 1767225600002);
    dump_free(&r.d);
    free(text);

    /* A fresh output of the generator, when it is at hand. */
    const char *gen = getenv("VIGIL_GEN_SERIES");
    if (gen == NULL)
        gen = "/work/shared/datasets/gen_series.py";
    if (access(gen, R_OK) != 0) {
        print_message("%s not found: fresh gen_series check skipped\n", gen);
        return;
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s --series 13 --hours 0.3 --seed 5 | gzip > fresh.om.gz", gen);
    assert_int_equal(system(cmd), 0);
    text = read_gz("fresh.om.gz", &len);
    check_against_plain_reading(text, len, 13 * 72);
    free(text);
}

/* --- generated documents: prometheus_client agrees; fuzz seeds ------------------------------- */

static const char *const label_pieces[] = {
    "a", "Z",   "node-1", " ", "\\\"", "\\\\", "\\n", "\\t", "\xc3\xbc", "\xe2\x86\x92",
    "#", " # ", "{",      "}", "=",    ",",    "0.5", "",
};

static void gen_string(uint64_t *seed, dump *out, size_t max_pieces)
{
    size_t n = rnd(seed, max_pieces + 1);
    for (size_t i = 0; i < n; i++)
        dput(out, "%s", label_pieces[rnd(seed, sizeof label_pieces / sizeof label_pieces[0])]);
}

static void gen_name(uint64_t *seed, dump *out, bool metric)
{
    static const char first[] = "abcxyzABZ_:";
    static const char rest[] = "abcdefz0189_:ABZ";
    size_t nf = metric ? sizeof first - 1 : sizeof first - 2; /* no ':' in label names */
    dput(out, "%c", first[rnd(seed, nf)]);
    size_t n = rnd(seed, 8);
    for (size_t i = 0; i < n; i++) {
        char c = rest[rnd(seed, sizeof rest - 1)];
        dput(out, "%c", !metric && c == ':' ? '_' : c);
    }
}

static void gen_value(uint64_t *seed, dump *out, bool counter, bool wild)
{
    switch (rnd(seed, wild ? 10 : 8)) {
    case 0: dput(out, "%llu", (unsigned long long)rnd(seed, 100000)); break;
    case 1: dput(out, "%.*f", (int)rnd(seed, 8), (double)rnd(seed, 1000000) / 7.0); break;
    case 2: dput(out, "%.17g", (double)rng_next(seed) / 3.0); break;
    case 3: dput(out, "%.3e", (double)rnd(seed, 1000) * 1e-9); break;
    case 4: dput(out, "%s", counter ? "+Inf" : rnd(seed, 2) ? "NaN" : "-Inf"); break;
    case 5: dput(out, ".%u", (unsigned)rnd(seed, 1000)); break;
    case 6: dput(out, "%u.", (unsigned)rnd(seed, 1000)); break;
    case 7: dput(out, "%s%u", counter ? "" : "-", (unsigned)rnd(seed, 1000) + 1); break;
    case 8: dput(out, "-0"); break;
    default:
        dput(out, "%llu%llu.%llue-30", (unsigned long long)rng_next(seed),
             (unsigned long long)rng_next(seed), (unsigned long long)rng_next(seed));
    }
}

static void gen_timestamp(uint64_t *seed, dump *out, bool wild)
{
    unsigned long long sec = 1000000000ull + rnd(seed, 1000000000ull);
    switch (rnd(seed, wild ? 5 : 4)) {
    case 0: dput(out, "%llu", sec); break;
    case 1:
        dput(out, "%llu.%0*llu", sec, 1 + (int)rnd(seed, 6), (unsigned long long)rnd(seed, 100000));
        break;
    case 2: /* prometheus_client misreads "1.1514798541e+09" (it keeps 9 digits after the
             * point, then sees an integer), so only the wild form has 10 */
        dput(out, wild ? "%.10e" : "%.6e", (double)sec + (double)rnd(seed, 1000) / 1000.0);
        break;
    case 3: dput(out, "%llu.%03u", sec, (unsigned)rnd(seed, 1000)); break;
    default: dput(out, "-%llu.%u", sec % 1000, (unsigned)rnd(seed, 10000));
    }
}

/* A valid document: families with TYPE, HELP and sometimes UNIT, distinct label sets, values and
 * timestamps in many forms, exemplars on counters. With wild, forms prometheus_client reads
 * differently from Prometheus (negative fractional timestamps, -0) are allowed too. */
static void gen_families(uint64_t *seed, dump *out, bool wild, size_t *family_no)
{
    static const char *const types[] = {"gauge", "unknown", "counter"};
    size_t families = 1 + rnd(seed, 6);
    for (size_t i = 0; i < families; i++) {
        size_t f = (*family_no)++;
        const char *type = types[rnd(seed, 3)];
        bool counter = strcmp(type, "counter") == 0;
        dump name = {0};
        gen_name(seed, &name, true);
        dput(&name, "_f%zu", f);
        bool unit = rnd(seed, 3) == 0;
        if (unit)
            dput(&name, "_seconds");
        dput(out, "# TYPE %s %s\n# HELP %s ", name.s, type, name.s);
        gen_string(seed, out, 6);
        dput(out, "\n");
        if (unit)
            dput(out, "# UNIT %s seconds\n", name.s);
        size_t samples = 1 + rnd(seed, 5);
        for (size_t s = 0; s < samples; s++) {
            dput(out, "%s%s{", name.s, counter ? "_total" : "");
            size_t nl = rnd(seed, 4);
            for (size_t l = 0; l < nl; l++) {
                gen_name(seed, out, false);
                dput(out, "_l%zu=\"", l); /* suffix keeps names distinct */
                gen_string(seed, out, 5);
                dput(out, "\",");
            }
            dput(out, "idx=\"%zu\"} ", s);
            gen_value(seed, out, counter, wild);
            dput(out, " ");
            gen_timestamp(seed, out, wild);
            if (counter && rnd(seed, 2))
                dput(out, " # {trace_id=\"%llx\"} %u", (unsigned long long)rng_next(seed),
                     (unsigned)rnd(seed, 10));
            dput(out, "\n");
        }
        dump_free(&name);
    }
}

static void gen_doc(uint64_t *seed, dump *out, bool wild)
{
    size_t family_no = 0;
    gen_families(seed, out, wild, &family_no);
    dput(out, "# EOF\n");
}

static bool python_client_available(void)
{
    return system("/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' "
                  ">/dev/null 2>&1") == 0;
}

static void agrees_with_prometheus_client_on_generated_files(void **state)
{
    (void)state;
    if (!python_client_available()) {
        print_message("prometheus_client not importable: comparison skipped\n");
        return;
    }
    uint64_t seed = 2024;
    dump merged = {0};
    size_t family_no = 0;
    for (int i = 0; i < 12; i++) /* many families in one file: one python start */
        gen_families(&seed, &merged, false, &family_no);
    dput(&merged, "# EOF\n");
    write_file("roundtrip.om", merged.s, merged.len);

    result mine;
    run_fmt(merged.s, merged.len, FMT_PY, 0, &mine);
    if (mine.st != VIGIL_OK)
        fail_msg("vigil refused the generated file: %s", mine.msg);
    assert_true(mine.r.samples > 40);

    int rc = system("/usr/bin/python3 " VIGIL_TEST_DATA_DIR "/omparse_data/om_dump.py "
                    "roundtrip.om > roundtrip.py.out");
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    FILE *f = fopen("roundtrip.py.out", "r");
    assert_non_null(f);
    dump py = {0};
    char line[4096];
    while (fgets(line, sizeof line, f) != NULL)
        dput(&py, "%s", line);
    fclose(f);
    if (strcmp(dstr(&py), dstr(&mine.r.d)) != 0) {
        size_t i = 0;
        while (py.s[i] == mine.r.d.s[i])
            i++;
        while (i > 0 && py.s[i - 1] != '\n')
            i--;
        fail_msg("prometheus_client and vigil disagree (roundtrip.om):\npython: %.300s\n"
                 "vigil:  %.300s",
                 py.s + i, mine.r.d.s + i);
    }
    result_free(&mine);
    dump_free(&py);
    dump_free(&merged);
}

/* The real thing: promtool 2.42 turns a file into a block, `promtool tsdb dump` prints every
 * sample, and each value and millisecond timestamp must be the one vigil read. Timestamps stay
 * within an hour (promtool writes one block per 2 h of the range). */
typedef struct by_idx {
    size_t n;
    uint64_t bits[400];
    int64_t t_ms[400];
    bool seen[400];
} by_idx;

static vigil_status index_sample(void *user, const vigil__tsdb_om_sample *s)
{
    by_idx *b = user;
    assert_int_equal(s->nlabels, 1);
    size_t i = (size_t)strtoul(s->labels[0].value, NULL, 10);
    assert_true(i < b->n);
    b->bits[i] = bits_of(s->value);
    b->t_ms[i] = s->t_ms;
    return VIGIL_OK;
}

static void gen_promtool_doc(uint64_t *seed, dump *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dput(out, "m_%zu{idx=\"%zu\"} ", i % 7, i);
        gen_value(seed, out, false, true);
        unsigned long long sec = 1767225600ull - rnd(seed, 3000);
        unsigned frac = (unsigned)rnd(seed, 1000000000);
        switch (rnd(seed, 4)) {
        case 0: dput(out, " %llu\n", sec); break;
        case 1: dput(out, " %llu.%0*u\n", sec, 1 + (int)rnd(seed, 9), frac % 1000000); break;
        case 2: dput(out, " %.*e\n", 9 + (int)rnd(seed, 6), (double)sec + frac / 1e9); break;
        default: dput(out, " %llu.%03u\n", sec, frac % 1000);
        }
    }
    dput(out, "# EOF\n");
}

static void agrees_with_promtool_on_values_and_timestamps(void **state)
{
    (void)state;
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("promtool not found (Debian: prometheus): comparison skipped\n");
        return;
    }
    uint64_t seed = 1234;
    dump doc = {0};
    by_idx *want = calloc(1, sizeof *want);
    assert_non_null(want);
    want->n = 400;
    gen_promtool_doc(&seed, &doc, want->n);
    write_file("promtool.om", doc.s, doc.len);
    vigil__tsdb_om_handlers h = {NULL, index_sample};
    assert_int_equal(vigil__tsdb_om_parse(doc.s, doc.len, &h, want, NULL), VIGIL_OK);

    int rc = system("rm -rf blocks && promtool tsdb create-blocks-from openmetrics promtool.om "
                    "blocks > promtool.log 2>&1 && mkdir -p blocks/wal && promtool tsdb dump "
                    "--min-time=0 --max-time=9000000000000 blocks > promtool.dump 2>>promtool.log");
    assert_true(WIFEXITED(rc) && WEXITSTATUS(rc) == 0);
    FILE *f = fopen("promtool.dump", "r");
    assert_non_null(f);
    char line[512];
    size_t lines = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        const char *idx = strstr(line, "idx=\"");
        char *ts = strrchr(line, ' ');
        assert_true(idx != NULL && ts != NULL);
        *ts++ = '\0';
        const char *val = strrchr(line, ' ') + 1;
        size_t i = (size_t)strtoul(idx + 5, NULL, 10);
        assert_true(i < want->n && !want->seen[i]);
        want->seen[i] = true;
        double v = strtod(val, NULL); /* Go prints the shortest form that reads back exactly */
        bool same =
            isnan(v) ? want->bits[i] == VIGIL__TSDB_OM_NAN_BITS : bits_of(v) == want->bits[i];
        if (!same || strtoll(ts, NULL, 10) != want->t_ms[i])
            fail_msg("sample %zu: promtool has %s @%s, vigil read %016llx @%lld", i, val, ts,
                     (unsigned long long)want->bits[i], (long long)want->t_ms[i]);
        lines++;
    }
    fclose(f);
    assert_int_equal(lines, want->n);
    free(want);
    dump_free(&doc);
}

/* --- fuzz-style robustness ------------------------------------------------------------------- */

static const char *const insertions[] = {
    " ",       "\n",      "{",         "}",   "\"",    "\\",   "=",       ",",   "#",    " # {",
    "# EOF\n", "# TYPE ", "# HELP m ", "NaN", "1e999", "+Inf", "\t",      "\r",  "\xc3", "\xff",
    "0",       "9",       ".",         "e",   "-",     "_",    "a=\"b\"", "\\n", "\n\n", "}} 1 2\n",
};

static void mutate(uint64_t *seed, dump *d)
{
    size_t ops = 1 + rnd(seed, 4);
    for (size_t k = 0; k < ops && d->len > 0; k++) {
        size_t at = rnd(seed, d->len);
        switch (rnd(seed, 5)) {
        case 0: /* overwrite one byte */ d->s[at] = (char)rng_next(seed); break;
        case 1: { /* delete a range */
            size_t n = 1 + rnd(seed, 8);
            if (n > d->len - at)
                n = d->len - at;
            memmove(d->s + at, d->s + at + n, d->len - at - n);
            d->len -= n;
            break;
        }
        case 2: { /* insert a grammar token */
            const char *ins = insertions[rnd(seed, sizeof insertions / sizeof insertions[0])];
            size_t n = strlen(ins);
            dput(d, "%*s", (int)n, ""); /* grow */
            memmove(d->s + at + n, d->s + at, d->len - n - at);
            memcpy(d->s + at, ins, n);
            break;
        }
        case 3: /* truncate */ d->len = at; break;
        default: { /* duplicate a range */
            size_t n = 1 + rnd(seed, 40);
            if (n > d->len - at)
                n = d->len - at;
            char tmp[64];
            memcpy(tmp, d->s + at, n);
            dput(d, "%*s", (int)n, "");
            memmove(d->s + at + n, d->s + at, d->len - n - at);
            memcpy(d->s + at, tmp, n);
        }
        }
    }
}

static void random_bytes(uint64_t *seed, dump *d)
{
    static const char alphabet[] = "m_:a1 .e-+#{}=,\"\\\n\t\rxNIf09";
    size_t n = rnd(seed, 120);
    for (size_t i = 0; i < n; i++) {
        if (rnd(seed, 8) == 0)
            dput(d, "%s", insertions[rnd(seed, sizeof insertions / sizeof insertions[0])]);
        else
            dput(d, "%c", alphabet[rnd(seed, sizeof alphabet - 1)]);
    }
}

static void survives_random_and_mutated_inputs(void **state)
{
    (void)state;
    uint64_t seed = 0x5eed;
    size_t ok = 0, failed = 0;
    for (int i = 0; i < 4000; i++) {
        dump d = {0};
        if (i % 4 == 0) {
            random_bytes(&seed, &d);
        } else {
            gen_doc(&seed, &d, true);
            if (i % 4 != 1)
                mutate(&seed, &d);
        }
        result whole, chunked;
        run_whole(d.s ? d.s : "", d.len, FMT_TEXT, 0, &whole);
        run_chunked(d.s ? d.s : "", d.len, FMT_TEXT, 0, seed, 1 + rnd(&seed, 32), &chunked);
        assert_same(&whole, &chunked, "random chunks");
        if (i % 4 == 1 && whole.st != VIGIL_OK)
            fail_msg("generated document refused: %s\n%.*s", whole.msg, (int)d.len, d.s);
        if (whole.st == VIGIL_OK)
            ok++;
        else
            failed++;
        /* every failure says where */
        if (whole.st != VIGIL_OK && strncmp(whole.msg, "line ", 5) != 0)
            fail_msg("message without a line number: %s", whole.msg);
        result_free(&whole);
        result_free(&chunked);
        dump_free(&d);
    }
    /* both outcomes must be exercised for the run to mean anything */
    assert_true(ok >= 1000);
    assert_true(failed >= 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reports_samples_metadata_and_stats_of_a_small_document),
        cmocka_unit_test(maps_every_openmetrics_type),
        cmocka_unit_test(unescapes_label_values_and_help_text),
        cmocka_unit_test(keeps_unknown_escapes_and_utf8_as_written),
        cmocka_unit_test(values_round_like_strtod_on_fixed_and_random_tokens),
        cmocka_unit_test(specials_become_infinities_and_prometheus_nan),
        cmocka_unit_test(rejects_values_go_refuses),
        cmocka_unit_test(converts_timestamps_like_prometheus_textparse),
        cmocka_unit_test(refuses_a_sample_without_timestamp),
        cmocka_unit_test(skips_valid_exemplars_and_rejects_broken_ones),
        cmocka_unit_test(requires_eof_last_and_nothing_after),
        cmocka_unit_test(errors_name_the_line_and_the_reason),
        cmocka_unit_test(long_lines_and_many_labels_hit_the_caps),
        cmocka_unit_test(callback_status_stops_the_parse),
        cmocka_unit_test(parses_regular_files_and_pipes),
        cmocka_unit_test(gen_series_output_matches_a_straightforward_reading),
        cmocka_unit_test(agrees_with_prometheus_client_on_generated_files),
        cmocka_unit_test(agrees_with_promtool_on_values_and_timestamps),
        cmocka_unit_test(survives_random_and_mutated_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
