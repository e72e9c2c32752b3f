/* test_collector.c — custom collectors and the validating emitter: what a collector emits is
 * rendered after the registry's own families; anything that would make the exposition invalid
 * (a name the registry or an earlier collector exposes, a repeated label set, non-cumulative
 * buckets, a sample outside a family) is refused and counted in vigil_collector_errors_total,
 * and a collector that fails has its whole output for that scrape dropped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/vigil_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/buffer.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#define ASSERT_NO_TEXT(out, text)                                               \
    do {                                                                        \
        if (strstr((out), (text)) != NULL)                                      \
            fail_msg("unexpected text: %s\n--- output ---\n%s", (text), (out)); \
    } while (0)

/* What each collector saw back from the emitter, for the assertions. */
typedef struct record {
    vigil_status st[16];
    int n;
} record;

static void note(record *r, vigil_status st)
{
    if (r != NULL && r->n < 16)
        r->st[r->n++] = st;
}

/* --- a well-behaved collector ---------------------------------------------------------------- */

static vigil_status emit_everything(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc g = {"pool_connections", "Open connections.", NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &g));
    vigil_label l1[] = {{"pool", "main"}, {"state", "idle"}};
    vigil_label l2[] = {{"pool", "main"}, {"state", "busy"}};
    note(r, vigil_emit_sample(em, l1, 2, 4));
    note(r, vigil_emit_sample(em, l2, 2, 2.5));
    vigil_family_desc c = {"pool_acquired", "Connections handed out.", NULL, VIGIL_COUNTER};
    note(r, vigil_emit_family(em, &c));
    note(r, vigil_emit_sample(em, NULL, 0, 17));
    vigil_family_desc h = {"pool_wait_seconds", NULL, "seconds", VIGIL_HISTOGRAM};
    note(r, vigil_emit_family(em, &h));
    double bounds[] = {0.01, 0.1};
    uint64_t cum[] = {3, 5};
    note(r, vigil_emit_histogram(em, NULL, 0, 2, bounds, cum, 6, 0.42));
    vigil_family_desc s = {"pool_size", NULL, NULL, VIGIL_SUMMARY};
    note(r, vigil_emit_family(em, &s));
    double q[] = {0.5, 0.99}, qv[] = {10, 20};
    note(r, vigil_emit_summary(em, NULL, 0, 2, q, qv, 7, 80));
    vigil_family_desc u = {"pool_mystery", NULL, NULL, VIGIL_UNTYPED};
    note(r, vigil_emit_family(em, &u));
    note(r, vigil_emit_sample(em, NULL, 0, -1));
    return VIGIL_OK;
}

static void test_collector_families_are_rendered_after_the_registry(void **state)
{
    vigil_registry *reg = *state;
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "zzz_last_by_name";
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &o, &g), VIGIL_OK);
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(reg, "pool", emit_everything, &r), VIGIL_OK);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    for (int i = 0; i < r.n; i++)
        assert_int_equal(r.st[i], VIGIL_OK);
    const char *want = "# HELP pool_connections Open connections.\n"
                       "# TYPE pool_connections gauge\n"
                       "pool_connections{pool=\"main\",state=\"idle\"} 4\n"
                       "pool_connections{pool=\"main\",state=\"busy\"} 2.5\n"
                       "# HELP pool_acquired_total Connections handed out.\n"
                       "# TYPE pool_acquired_total counter\n"
                       "pool_acquired_total 17\n"
                       "# TYPE pool_wait_seconds histogram\n"
                       "pool_wait_seconds_bucket{le=\"0.01\"} 3\n"
                       "pool_wait_seconds_bucket{le=\"0.1\"} 5\n"
                       "pool_wait_seconds_bucket{le=\"+Inf\"} 6\n"
                       "pool_wait_seconds_sum 0.42\n"
                       "pool_wait_seconds_count 6\n"
                       "# TYPE pool_size summary\n"
                       "pool_size{quantile=\"0.5\"} 10\n"
                       "pool_size{quantile=\"0.99\"} 20\n"
                       "pool_size_sum 80\n"
                       "pool_size_count 7\n"
                       "# TYPE pool_mystery untyped\n"
                       "pool_mystery -1\n";
    if (strstr(out, want) == NULL)
        fail_msg("want:\n%s\n--- got ---\n%s", want, out);
    assert_true(strstr(out, "zzz_last_by_name") < strstr(out, "pool_connections"));
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"pool\"} 0");
    free(out);
    out = render(reg, VIGIL_FORMAT_OPENMETRICS);
    ASSERT_LINE(out, "# TYPE pool_acquired counter");
    ASSERT_LINE(out, "# UNIT pool_wait_seconds seconds");
    ASSERT_LINE(out, "# TYPE pool_mystery unknown");
    free(out);
}

/* --- refusals -------------------------------------------------------------------------------- */

static vigil_status emit_registry_name(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc clash = {"requests", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &clash));
    note(r, vigil_emit_sample(em, NULL, 0, 1)); /* outside a family: refused */
    vigil_family_desc series_clash = {"requests_total", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &series_clash));
    vigil_family_desc ok = {"custom_ok", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &ok));
    note(r, vigil_emit_sample(em, NULL, 0, 1));
    return VIGIL_OK;
}

static void test_collector_family_clashing_with_registry_is_refused_and_counted(void **state)
{
    vigil_registry *reg = *state;
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "requests";
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(reg, &o, &c), VIGIL_OK);
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(reg, "clash", emit_registry_name, &r), VIGIL_OK);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_int_equal(r.n, 5);
    assert_int_equal(r.st[0], VIGIL_EEXIST);
    assert_int_equal(r.st[1], VIGIL_ESTATE);
    assert_int_equal(r.st[2], VIGIL_EEXIST);
    assert_int_equal(r.st[3], VIGIL_OK);
    assert_int_equal(r.st[4], VIGIL_OK);
    ASSERT_NO_TEXT(out, "TYPE requests gauge");
    ASSERT_NO_TEXT(out, "requests_total 1");
    ASSERT_LINE(out, "requests_total 0");
    ASSERT_LINE(out, "custom_ok 1");
    /* One failing collection counts once, however many items it had refused. */
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"clash\"} 1");
    free(out);
    r.n = 0;
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"clash\"} 2");
    free(out);
}

static vigil_status emit_self_metric_name(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc d = {"vigil_series_refused", NULL, NULL, VIGIL_COUNTER};
    note(r, vigil_emit_family(em, &d));
    return VIGIL_OK;
}

static void test_collector_cannot_emit_a_self_metric_name(void **state)
{
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(*state, "s", emit_self_metric_name, &r),
                     VIGIL_OK);
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    assert_int_equal(r.st[0], VIGIL_EEXIST);
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"s\"} 1");
    free(out);
}

static vigil_status emit_shared_name(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc d = {"shared_thing", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &d));
    note(r, vigil_emit_sample(em, NULL, 0, r->n));
    return VIGIL_OK;
}

static void test_second_collector_emitting_the_same_family_is_refused(void **state)
{
    vigil_registry *reg = *state;
    record r1 = {0}, r2 = {0};
    assert_int_equal(vigil_registry_add_collector(reg, "first", emit_shared_name, &r1), VIGIL_OK);
    assert_int_equal(vigil_registry_add_collector(reg, "second", emit_shared_name, &r2), VIGIL_OK);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_int_equal(r1.st[0], VIGIL_OK);
    assert_int_equal(r2.st[0], VIGIL_EEXIST);
    assert_int_equal(r2.st[1], VIGIL_ESTATE);
    const char *first = strstr(out, "# TYPE shared_thing gauge");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE shared_thing gauge"));
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"first\"} 0");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"second\"} 1");
    free(out);
    /* Every scrape starts afresh: the first collector keeps its name. */
    r1.n = r2.n = 0;
    out = render(reg, VIGIL_FORMAT_TEXT);
    assert_int_equal(r1.st[0], VIGIL_OK);
    free(out);
}

static vigil_status emit_duplicate_label_sets(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc d = {"dups", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &d));
    vigil_label ab[] = {{"a", "1"}, {"b", "2"}};
    vigil_label ba[] = {{"b", "2"}, {"a", "1"}};
    vigil_label other[] = {{"a", "1"}, {"b", "3"}};
    note(r, vigil_emit_sample(em, ab, 2, 1));
    note(r, vigil_emit_sample(em, ab, 2, 2));    /* same set */
    note(r, vigil_emit_sample(em, ba, 2, 3));    /* same set, other order */
    note(r, vigil_emit_sample(em, other, 2, 4)); /* a different set */
    note(r, vigil_emit_sample(em, NULL, 0, 5));
    note(r, vigil_emit_sample(em, NULL, 0, 6)); /* the empty set twice */
    /* The same set in another family is fine. */
    vigil_family_desc d2 = {"dups_too", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &d2));
    note(r, vigil_emit_sample(em, ab, 2, 7));
    return VIGIL_OK;
}

static void test_collector_duplicate_label_set_is_refused(void **state)
{
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(*state, "d", emit_duplicate_label_sets, &r),
                     VIGIL_OK);
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    static const vigil_status want[] = {VIGIL_OK,     VIGIL_OK, VIGIL_EEXIST,
                                        VIGIL_EEXIST, VIGIL_OK, VIGIL_OK,
                                        VIGIL_EEXIST, VIGIL_OK, VIGIL_OK};
    assert_int_equal(r.n, 9);
    for (int i = 0; i < 9; i++) {
        if (r.st[i] != want[i])
            fail_msg("call %d: want %s, got %s", i, vigil_strerror(want[i]),
                     vigil_strerror(r.st[i]));
    }
    ASSERT_LINE(out, "dups{a=\"1\",b=\"2\"} 1");
    ASSERT_LINE(out, "dups{a=\"1\",b=\"3\"} 4");
    ASSERT_LINE(out, "dups 5");
    ASSERT_NO_TEXT(out, "dups 6");
    ASSERT_NO_TEXT(out, "} 2\n");
    ASSERT_NO_TEXT(out, "} 3\n");
    ASSERT_LINE(out, "dups_too{a=\"1\",b=\"2\"} 7");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"d\"} 1");
    free(out);
}

static vigil_status emit_then_fail(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc d = {"doomed", "Never seen.", NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &d));
    note(r, vigil_emit_sample(em, NULL, 0, 1));
    vigil_family_desc d2 = {"doomed_too", NULL, NULL, VIGIL_COUNTER};
    note(r, vigil_emit_family(em, &d2));
    note(r, vigil_emit_sample(em, NULL, 0, 2));
    return VIGIL_ECALLBACK;
}

static vigil_status emit_fine(vigil_emitter *em, void *user)
{
    (void)user;
    vigil_family_desc d = {"after_doomed", NULL, NULL, VIGIL_GAUGE};
    vigil_status st = vigil_emit_family(em, &d);
    if (st == VIGIL_OK)
        st = vigil_emit_sample(em, NULL, 0, 3);
    return st;
}

static void test_failing_collector_output_is_dropped_and_counted(void **state)
{
    vigil_registry *reg = *state;
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(reg, "doomed", emit_then_fail, &r), VIGIL_OK);
    assert_int_equal(vigil_registry_add_collector(reg, "fine", emit_fine, NULL), VIGIL_OK);
    for (int format = 0; format < 2; format++) {
        char *out = render(reg, (vigil_format)format);
        for (int i = 0; i < r.n; i++)
            assert_int_equal(r.st[i], VIGIL_OK);
        ASSERT_NO_TEXT(out, "TYPE doomed");
        ASSERT_NO_TEXT(out, "\ndoomed 1");
        ASSERT_NO_TEXT(out, "doomed_too");
        ASSERT_NO_TEXT(out, "Never seen");
        ASSERT_LINE(out, "after_doomed 3");
        free(out);
        r.n = 0;
    }
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"doomed\"} 3");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"fine\"} 0");
    free(out);
}

static vigil_status emit_shared_then_fail(vigil_emitter *em, void *user)
{
    (void)user;
    vigil_family_desc d = {"shared_thing", NULL, NULL, VIGIL_GAUGE};
    vigil_status st = vigil_emit_family(em, &d);
    if (st == VIGIL_OK)
        st = vigil_emit_sample(em, NULL, 0, 1);
    return st == VIGIL_OK ? VIGIL_EIO : st;
}

static void test_failed_collector_does_not_keep_its_names_from_later_collectors(void **state)
{
    vigil_registry *reg = *state;
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(reg, "fails", emit_shared_then_fail, NULL),
                     VIGIL_OK);
    assert_int_equal(vigil_registry_add_collector(reg, "later", emit_shared_name, &r), VIGIL_OK);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_int_equal(r.st[0], VIGIL_OK);
    assert_int_equal(r.st[1], VIGIL_OK);
    ASSERT_LINE(out, "shared_thing 1");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"fails\"} 1");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"later\"} 0");
    free(out);
}

static vigil_status emit_bad_histograms(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc d = {"bad_hist", NULL, NULL, VIGIL_HISTOGRAM};
    note(r, vigil_emit_family(em, &d));
    double bounds[] = {1, 2};
    uint64_t not_cumulative[] = {5, 3};
    note(r, vigil_emit_histogram(em, NULL, 0, 2, bounds, not_cumulative, 6, 1));
    uint64_t above_total[] = {1, 7};
    note(r, vigil_emit_histogram(em, NULL, 0, 2, bounds, above_total, 6, 1));
    double unsorted[] = {2, 1};
    uint64_t ok_counts[] = {1, 2};
    note(r, vigil_emit_histogram(em, NULL, 0, 2, unsorted, ok_counts, 6, 1));
    vigil_label le[] = {{"le", "1"}};
    note(r, vigil_emit_histogram(em, le, 1, 2, bounds, ok_counts, 6, 1));
    note(r, vigil_emit_sample(em, NULL, 0, 1)); /* a plain sample in a histogram family */
    vigil_label good[] = {{"kind", "ok"}};
    note(r, vigil_emit_histogram(em, good, 1, 2, bounds, ok_counts, 6, 1.5));
    return VIGIL_OK;
}

static void test_collector_non_cumulative_histogram_is_refused(void **state)
{
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(*state, "h", emit_bad_histograms, &r), VIGIL_OK);
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    static const vigil_status want[] = {VIGIL_OK,       VIGIL_EBUCKETS,  VIGIL_EBUCKETS,
                                        VIGIL_EBUCKETS, VIGIL_ERESERVED, VIGIL_ETYPE,
                                        VIGIL_OK};
    assert_int_equal(r.n, 7);
    for (int i = 0; i < 7; i++) {
        if (r.st[i] != want[i])
            fail_msg("call %d: want %s, got %s", i, vigil_strerror(want[i]),
                     vigil_strerror(r.st[i]));
    }
    const char *want_out = "# TYPE bad_hist histogram\n"
                           "bad_hist_bucket{kind=\"ok\",le=\"1.0\"} 1\n"
                           "bad_hist_bucket{kind=\"ok\",le=\"2.0\"} 2\n"
                           "bad_hist_bucket{kind=\"ok\",le=\"+Inf\"} 6\n"
                           "bad_hist_sum{kind=\"ok\"} 1.5\n"
                           "bad_hist_count{kind=\"ok\"} 6\n"
                           "# HELP vigil_series_refused_total";
    if (strstr(out, want_out) == NULL)
        fail_msg("want:\n%s\n--- got ---\n%s", want_out, out);
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"h\"} 1");
    free(out);
}

static vigil_status emit_bad_items(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc total = {"jobs_total", NULL, NULL, VIGIL_COUNTER};
    note(r, vigil_emit_family(em, &total)); /* 0: ENAME, the exposition adds it */
    vigil_family_desc bad = {"9bad", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &bad)); /* 1: ENAME */
    vigil_family_desc unit = {"latency", NULL, "seconds", VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &unit)); /* 2: ENAME */
    vigil_family_desc help = {"bad_help", "\xc3", NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &help)); /* 3: EINVAL */
    vigil_family_desc type = {"bad_type", NULL, NULL, (vigil_metric_type)9};
    note(r, vigil_emit_family(em, &type)); /* 4: EINVAL */
    vigil_family_desc jobs = {"jobs", NULL, NULL, VIGIL_COUNTER};
    note(r, vigil_emit_family(em, &jobs));        /* 5: OK */
    note(r, vigil_emit_sample(em, NULL, 0, -1));  /* 6: ENEGATIVE */
    note(r, vigil_emit_sample(em, NULL, 0, NAN)); /* 7: ENEGATIVE */
    vigil_label bad_value[] = {{"a", "\xff"}};
    note(r, vigil_emit_sample(em, bad_value, 1, 1)); /* 8: ELABELS */
    vigil_label bad_label[] = {{"a-b", "x"}};
    note(r, vigil_emit_sample(em, bad_label, 1, 1)); /* 9: ENAME */
    vigil_label twice[] = {{"a", "x"}, {"a", "y"}};
    note(r, vigil_emit_sample(em, twice, 2, 1)); /* 10: ELABELS */
    double b[] = {1};
    uint64_t cum[] = {1};
    note(r, vigil_emit_histogram(em, NULL, 0, 1, b, cum, 1, 1)); /* 11: ETYPE */
    note(r, vigil_emit_sample(em, NULL, 0, 2));                  /* 12: OK */
    note(r, vigil_emit_family(NULL, &jobs));                     /* 13: EINVAL */
    return VIGIL_OK;
}

static void test_collector_invalid_names_labels_and_values_are_refused(void **state)
{
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(*state, "bad", emit_bad_items, &r), VIGIL_OK);
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    static const vigil_status want[] = {
        VIGIL_ENAME,   VIGIL_ENAME,     VIGIL_ENAME,     VIGIL_EINVAL,  VIGIL_EINVAL,
        VIGIL_OK,      VIGIL_ENEGATIVE, VIGIL_ENEGATIVE, VIGIL_ELABELS, VIGIL_ENAME,
        VIGIL_ELABELS, VIGIL_ETYPE,     VIGIL_OK,        VIGIL_EINVAL};
    assert_int_equal(r.n, 14);
    for (int i = 0; i < 14; i++) {
        if (r.st[i] != want[i])
            fail_msg("call %d: want %s, got %s (%s)", i, vigil_strerror(want[i]),
                     vigil_strerror(r.st[i]), vigil_errmsg());
    }
    ASSERT_LINE(out, "jobs_total 2");
    ASSERT_NO_TEXT(out, "jobs_total_total");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"bad\"} 1");
    free(out);
}

static vigil_status emit_with_global_clash(vigil_emitter *em, void *user)
{
    record *r = user;
    vigil_family_desc d = {"g_things", NULL, NULL, VIGIL_GAUGE};
    note(r, vigil_emit_family(em, &d));
    vigil_label clash[] = {{"service", "other"}};
    note(r, vigil_emit_sample(em, clash, 1, 1));
    vigil_label fine[] = {{"kind", "a"}};
    note(r, vigil_emit_sample(em, fine, 1, 2));
    return VIGIL_OK;
}

static void test_collector_samples_carry_global_labels(void **state)
{
    vigil_label globals[] = {{"service", "api"}};
    assert_int_equal(vigil_registry_set_global_labels(*state, globals, 1), VIGIL_OK);
    record r = {0};
    assert_int_equal(vigil_registry_add_collector(*state, "g", emit_with_global_clash, &r),
                     VIGIL_OK);
    char *out = render(*state, VIGIL_FORMAT_TEXT);
    assert_int_equal(r.st[1], VIGIL_ELABELS);
    assert_int_equal(r.st[2], VIGIL_OK);
    ASSERT_LINE(out, "g_things{kind=\"a\",service=\"api\"} 2");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"g\",service=\"api\"} 1");
    free(out);
}

static vigil_status count_calls(vigil_emitter *em, void *user)
{
    (void)em;
    ++*(int *)user;
    return VIGIL_OK;
}

static void test_collectors_are_added_once_and_removed_by_name(void **state)
{
    vigil_registry *reg = *state;
    int calls = 0;
    assert_int_equal(vigil_registry_add_collector(reg, "c", count_calls, &calls), VIGIL_OK);
    assert_int_equal(vigil_registry_add_collector(reg, "c", count_calls, &calls), VIGIL_EEXIST);
    assert_int_equal(vigil_registry_add_collector(reg, "", count_calls, &calls), VIGIL_EINVAL);
    assert_int_equal(vigil_registry_add_collector(reg, NULL, count_calls, &calls), VIGIL_EINVAL);
    assert_int_equal(vigil_registry_add_collector(reg, "n", NULL, &calls), VIGIL_EINVAL);
    assert_int_equal(vigil_registry_add_collector(NULL, "n", count_calls, &calls), VIGIL_EINVAL);
    free(render(reg, VIGIL_FORMAT_TEXT));
    assert_int_equal(calls, 1);
    assert_int_equal(vigil_registry_remove_collector(reg, "missing"), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_registry_remove_collector(reg, "c"), VIGIL_OK);
    assert_int_equal(vigil_registry_remove_collector(reg, "c"), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_registry_remove_collector(reg, NULL), VIGIL_EINVAL);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_int_equal(calls, 1);
    ASSERT_NO_TEXT(out, "collector=\"c\"");
    free(out);
    /* The name can be used again. */
    assert_int_equal(vigil_registry_add_collector(reg, "c", count_calls, &calls), VIGIL_OK);
    free(render(reg, VIGIL_FORMAT_TEXT));
    assert_int_equal(calls, 2);
}

static vigil_status emit_open_family_without_samples(vigil_emitter *em, void *user)
{
    (void)user;
    vigil_family_desc d = {"lonely", "No samples.", NULL, VIGIL_GAUGE};
    return vigil_emit_family(em, &d);
}

static void test_collector_family_without_samples_is_still_valid_output(void **state)
{
    assert_int_equal(
        vigil_registry_add_collector(*state, "l", emit_open_family_without_samples, NULL),
        VIGIL_OK);
    char *out = render(*state, VIGIL_FORMAT_OPENMETRICS);
    ASSERT_LINE(out, "# TYPE lonely gauge");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"l\"} 0");
    assert_true(strlen(out) > 6 && strcmp(out + strlen(out) - 6, "# EOF\n") == 0);
    free(out);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_registry, teardown_registry)
    const struct CMUnitTest tests[] = {
        T(test_collector_families_are_rendered_after_the_registry),
        T(test_collector_family_clashing_with_registry_is_refused_and_counted),
        T(test_collector_cannot_emit_a_self_metric_name),
        T(test_second_collector_emitting_the_same_family_is_refused),
        T(test_collector_duplicate_label_set_is_refused),
        T(test_failing_collector_output_is_dropped_and_counted),
        T(test_failed_collector_does_not_keep_its_names_from_later_collectors),
        T(test_collector_non_cumulative_histogram_is_refused),
        T(test_collector_invalid_names_labels_and_values_are_refused),
        T(test_collector_samples_carry_global_labels),
        T(test_collectors_are_added_once_and_removed_by_name),
        T(test_collector_family_without_samples_is_still_valid_output),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
