/* test_alloc_failure.c — curl's torture mode for vigil: a scenario that creates a registry,
 * families, children, callbacks and a collector, renders and gzips, then tears down, is run
 * again and again with an allocator that fails after N allocations (N = 0, 1, 2, ... until the
 * scenario completes). Every failure must surface as VIGIL_ENOMEM, nothing may crash, every
 * allocation must be given back, and the registry left behind must still be consistent: names of
 * registrations that failed are free again and everything that was registered renders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/alloc.h"
#include "vigil/buffer.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#include "../support/failing_alloc.h"

static const char *const scenario_names[] = {
    "requests",        "temperature_celsius", "size_bytes",
    "latency_seconds", "uptime_seconds",      "queue_length",
};

static double read_seven(void *user)
{
    (void)user;
    return 7;
}

static vigil_status custom_collector(vigil_emitter *em, void *user)
{
    (void)user;
    vigil_family_desc d = {"custom_things", "Things counted elsewhere.", NULL, VIGIL_GAUGE};
    vigil_status st = vigil_emit_family(em, &d);
    for (int i = 0; st == VIGIL_OK && i < 20; i++) {
        char v[16];
        snprintf(v, sizeof v, "k%d", i);
        vigil_label l[] = {{"kind", v}, {"zone", "a"}};
        st = vigil_emit_sample(em, l, 2, i);
    }
    if (st != VIGIL_OK)
        return st;
    vigil_family_desc h = {"custom_wait_seconds", "Waits.", "seconds", VIGIL_HISTOGRAM};
    st = vigil_emit_family(em, &h);
    double bounds[] = {0.1, 1};
    uint64_t cum[] = {1, 3};
    if (st == VIGIL_OK)
        st = vigil_emit_histogram(em, NULL, 0, 2, bounds, cum, 4, 2.5);
    vigil_family_desc s = {"custom_size", NULL, NULL, VIGIL_SUMMARY};
    double q[] = {0.5, 0.99}, qv[] = {1, 2};
    if (st == VIGIL_OK)
        st = vigil_emit_family(em, &s);
    if (st == VIGIL_OK)
        st = vigil_emit_summary(em, NULL, 0, 2, q, qv, 10, 15);
    return st;
}

/* Runs the scenario on a fresh registry, stopping at the first failure, which must be ENOMEM.
 * Returns the registry (to be checked and freed by the caller) or NULL if none was created. */
static vigil_registry *scenario(vigil_status *result)
{
    vigil_registry *reg = NULL;
    vigil_buffer buf, gz;
    vigil_buffer_init(&buf, 0);
    vigil_buffer_init(&gz, 0);
    vigil_status st = vigil_registry_new(&reg);
    if (st != VIGIL_OK) {
        reg = NULL;
        goto out;
    }
    vigil_label globals[] = {{"service", "api"}, {"region", "eu"}};
    st = vigil_registry_set_global_labels(reg, globals, 2);
    if (st != VIGIL_OK)
        goto out;

    const char *labels[] = {"method", "code"};
    vigil_label consts[] = {{"tier", "web"}};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "requests";
    o.help = "Requests served.";
    o.label_names = labels;
    o.label_count = 2;
    o.const_labels = consts;
    o.const_label_count = 1;
    vigil_family *req;
    st = vigil_family_new(reg, VIGIL_COUNTER, &o, &req);
    if (st != VIGIL_OK)
        goto out;
    for (int i = 0; i < 40; i++) {
        char code[16];
        snprintf(code, sizeof code, "%d", 200 + i);
        vigil_counter *c;
        st = vigil_family_counter(req, VIGIL_VALUES("GET", code), &c);
        if (st != VIGIL_OK)
            goto out;
        vigil_counter_add_u64(c, (uint64_t)i);
    }

    vigil_metric_opts_init(&o);
    o.name = "temperature_celsius";
    o.unit = "celsius";
    o.help = "Temperature.";
    vigil_gauge *g;
    st = vigil_gauge_new(reg, &o, &g);
    if (st != VIGIL_OK)
        goto out;
    vigil_gauge_set(g, 21.5);

    vigil_metric_opts_init(&o);
    o.name = "size_bytes";
    double lin[5];
    st = vigil_buckets_linear(100, 100, 5, lin);
    if (st != VIGIL_OK)
        goto out;
    o.buckets = lin;
    o.bucket_count = 5;
    vigil_histogram *h;
    st = vigil_histogram_new(reg, &o, &h);
    if (st != VIGIL_OK)
        goto out;
    vigil_histogram_observe(h, 250);

    const char *route[] = {"route"};
    vigil_metric_opts_init(&o);
    o.name = "latency_seconds";
    o.label_names = route;
    o.label_count = 1;
    vigil_family *lat;
    st = vigil_family_new(reg, VIGIL_HISTOGRAM, &o, &lat);
    if (st != VIGIL_OK)
        goto out;
    const char *routes[] = {"/a", "/b", "/c"};
    for (int i = 0; i < 3; i++) {
        vigil_histogram *lh;
        st = vigil_family_histogram(lat, 1, &routes[i], &lh);
        if (st != VIGIL_OK)
            goto out;
        vigil_histogram_observe(lh, 0.3 * i);
    }

    vigil_metric_opts_init(&o);
    o.name = "uptime_seconds";
    st = vigil_counter_func_new(reg, &o, read_seven, NULL);
    if (st != VIGIL_OK)
        goto out;
    o.name = "queue_length";
    st = vigil_gauge_func_new(reg, &o, read_seven, NULL);
    if (st != VIGIL_OK)
        goto out;

    st = vigil_registry_add_collector(reg, "custom", custom_collector, NULL);
    if (st != VIGIL_OK)
        goto out;

    st = vigil_family_remove(req, VIGIL_VALUES("GET", "201"));
    if (st != VIGIL_OK)
        goto out;

    st = vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &buf);
    if (st != VIGIL_OK)
        goto out;
    st = vigil_expo_render(reg, VIGIL_FORMAT_OPENMETRICS, &buf);
    if (st != VIGIL_OK)
        goto out;
    st = vigil_expo_gzip(buf.data, buf.len, &gz);
    if (st != VIGIL_OK)
        goto out;

    vigil_family_clear(lat);
    st = vigil_registry_unregister(reg, "temperature_celsius");
    if (st != VIGIL_OK)
        goto out;
    st = vigil_registry_remove_collector(reg, "custom");
out:
    vigil_buffer_free(&buf);
    vigil_buffer_free(&gz);
    *result = st;
    return reg;
}

/* With allocations working again: what is left must be usable and consistent. */
static void check_registry_after_failure(vigil_registry *reg)
{
    for (size_t i = 0; i < sizeof scenario_names / sizeof scenario_names[0]; i++) {
        vigil_family *f = vigil_registry_find(reg, scenario_names[i]);
        if (f != NULL) {
            (void)vigil_family_type(f); /* must not be a freed family */
            continue;
        }
        /* A failed registration must not leave its names reserved. */
        vigil_metric_opts o;
        vigil_metric_opts_init(&o);
        o.name = scenario_names[i];
        vigil_gauge *g;
        vigil_status st = vigil_gauge_new(reg, &o, &g);
        if (st != VIGIL_OK)
            fail_msg("after a failure, \"%s\" cannot be registered: %s (%s)", scenario_names[i],
                     vigil_strerror(st), vigil_errmsg());
        assert_non_null(vigil_registry_find(reg, scenario_names[i]));
    }
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_OPENMETRICS, &b), VIGIL_OK);
    assert_int_equal(strlen(vigil_buffer_cstr(&b)), b.len);
    vigil_buffer_free(&b);
}

static void run_torture(bool persistent)
{
    vigil_allocator a = {inj_malloc, inj_realloc, inj_free, NULL};
    vigil_set_allocator(&a);
    vigil_status st;
    /* Warm-up: the cell arena keeps its blocks and free lists for the life of the process, so
     * let it reach its steady state before counting. */
    for (int i = 0; i < 2; i++) {
        inj.budget = -1;
        vigil_registry *reg = scenario(&st);
        assert_int_equal(st, VIGIL_OK);
        vigil_registry_free(reg);
    }
    size_t failures_seen = 0;
    for (long n = 0;; n++) {
        assert_true(n < 200000);
        size_t live_before = inj.live;
        inj.failed = 0;
        inj.persistent = persistent;
        inj.budget = n;
        vigil_registry *reg = scenario(&st);
        bool failed = inj.failed > 0;
        inj.budget = -1;
        if (st != VIGIL_OK && st != VIGIL_ENOMEM)
            fail_msg("allocation %ld failed: got %s (%s), want ENOMEM", n, vigil_strerror(st),
                     vigil_errmsg());
        if (st == VIGIL_ENOMEM && !failed)
            fail_msg("allocation budget %ld: ENOMEM without a refused allocation", n);
        if (reg != NULL && st != VIGIL_OK)
            check_registry_after_failure(reg);
        vigil_registry_free(reg);
        if (inj.live != live_before)
            fail_msg("allocation budget %ld (%s): %zu allocations leaked", n, vigil_strerror(st),
                     inj.live - live_before);
        if (st == VIGIL_ENOMEM)
            failures_seen++;
        if (st == VIGIL_OK && !failed)
            break; /* the budget covered the whole scenario */
    }
    assert_true(failures_seen > 100);
    vigil_set_allocator(NULL);
}

static void test_every_allocation_failure_gives_enomem_without_leaks(void **state)
{
    (void)state;
    run_torture(true);
}

static void test_a_single_transient_allocation_failure_gives_enomem_without_leaks(void **state)
{
    (void)state;
    run_torture(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_failure_gives_enomem_without_leaks),
        cmocka_unit_test(test_a_single_transient_allocation_failure_gives_enomem_without_leaks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
