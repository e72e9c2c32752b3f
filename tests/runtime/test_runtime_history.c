/* test_runtime_history.c — history_enabled: the runtime self-scrapes its registry into a store
 * every scrape interval; with history_dir the history survives vigil_stop and a new start; bad
 * intervals are refused; without the option there is no store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../support/vigil_test.h"
#include "vigil/runtime.h"
#include "vigil/tsdb.h"

static vigil_runtime *start(vigil_registry *reg, const char *dir)
{
    vigil_options o;
    vigil_options_init(&o);
    o.registry = reg;
    o.metrics_enabled = false;
    o.health_enabled = false;
    o.process_metrics = false;
    o.history_enabled = true;
    o.history_dir = dir;
    o.scrape_interval_ms = 1000;
    vigil_runtime *rt;
    vigil_status st = vigil_start(&o, &rt);
    if (st)
        fail_msg("start: %s", vigil_errmsg());
    return rt;
}

/* Samples of the series named `metric` in the runtime's store. */
static size_t samples_of(vigil_runtime *rt, const char *metric, double *last)
{
    vigil_tsdb_querier *q;
    assert_int_equal(vigil_tsdb_querier_new(vigil_runtime_tsdb(rt), 0, INT64_MAX, &q), VIGIL_OK);
    vigil_matcher m = {VIGIL_MATCH_EQUAL, "__name__", metric};
    vigil_tsdb_series_set *set;
    assert_int_equal(vigil_tsdb_select(q, &m, 1, &set), VIGIL_OK);
    size_t n = 0;
    if (vigil_tsdb_series_next(set)) {
        const int64_t *t;
        const double *v;
        n = vigil_tsdb_series_samples(set, &t, &v);
        if (n)
            *last = v[n - 1];
    }
    vigil_tsdb_series_set_free(set);
    vigil_tsdb_querier_free(q);
    return n;
}

static void wait_for_samples(vigil_runtime *rt, const char *metric, size_t want, double *last)
{
    for (int i = 0; i < 60 && samples_of(rt, metric, last) < want; i++) {
        struct timespec nap = {0, 100000000};
        nanosleep(&nap, NULL);
    }
    assert_true(samples_of(rt, metric, last) >= want);
}

static void test_history_records_the_registry_every_interval(void **state)
{
    (void)state;
    vigil_registry *reg;
    vigil_registry_new(&reg);
    vigil_metric_opts mo;
    vigil_metric_opts_init(&mo);
    mo.name = "jobs";
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(reg, &mo, &c), VIGIL_OK);
    vigil_counter_add(c, 3);
    vigil_runtime *rt = start(reg, NULL);
    double last = 0;
    wait_for_samples(rt, "jobs_total", 2, &last); /* two scrapes: at start and a second later */
    assert_true(last == 3);
    assert_true(samples_of(rt, "vigil_tsdb_series", &last) >= 1); /* the store's own metrics */
    vigil_stop(rt);
    vigil_registry_free(reg);
}

static void test_history_in_a_directory_survives_a_restart(void **state)
{
    (void)state;
    assert_int_equal(system("rm -rf history-dir"), 0);
    vigil_registry *reg;
    vigil_registry_new(&reg);
    vigil_metric_opts mo;
    vigil_metric_opts_init(&mo);
    mo.name = "temperature";
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(reg, &mo, &g), VIGIL_OK);
    vigil_gauge_set(g, 21.5);
    vigil_runtime *rt = start(reg, "history-dir");
    double last = 0;
    wait_for_samples(rt, "temperature", 1, &last);
    size_t before = samples_of(rt, "temperature", &last);
    vigil_stop(rt);

    vigil_gauge_set(g, 22.5);
    rt = start(reg, "history-dir");
    assert_true(samples_of(rt, "temperature", &last) >= before); /* recovered from the WAL */
    wait_for_samples(rt, "temperature", before + 1, &last);
    assert_true(last == 22.5);
    vigil_stop(rt);
    vigil_registry_free(reg);
}

static void test_bad_scrape_interval_is_refused(void **state)
{
    (void)state;
    vigil_options o;
    vigil_options_init(&o);
    o.metrics_enabled = false;
    o.health_enabled = false;
    o.history_enabled = true;
    o.scrape_interval_ms = 10;
    vigil_runtime *rt;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "scrape interval"));
    o.history_enabled = false;
    assert_int_equal(vigil_start(&o, &rt), VIGIL_OK);
    assert_null(vigil_runtime_tsdb(rt));
    vigil_stop(rt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_records_the_registry_every_interval),
        cmocka_unit_test(test_history_in_a_directory_survives_a_restart),
        cmocka_unit_test(test_bad_scrape_interval_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
