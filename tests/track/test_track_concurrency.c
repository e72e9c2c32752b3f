/* test_track_concurrency.c — trackers under threads: recorders on several threads while another
 * thread renders reports and scrapes (no crash, exact counts at the end), new error kinds raced
 * into a capped table (every error counted once), and the stress helper (each iteration once,
 * plausible numbers). No timing is asserted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/vigil_test.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil/buffer.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/track.h"

#define THREADS 4
#define PER_THREAD 20000

/* A fake clock that any thread may advance. */
static _Atomic uint64_t fake_ns;

static uint64_t fake_now(void *user)
{
    (void)user;
    return atomic_load(&fake_ns);
}

typedef struct worker {
    pthread_t tid;
    int id;
    vigil_dashboard *d;
    vigil_throughput *tp;
} worker;

static void *record_ops(void *arg)
{
    worker *w = arg;
    vigil_operation *op;
    char name[16];
    snprintf(name, sizeof name, "op%d", w->id % 2);
    if (vigil_dashboard_operation(w->d, name, &op) != VIGIL_OK)
        return (void *)1;
    for (int i = 0; i < PER_THREAD; i++) {
        vigil_operation_record(op, 0.001 * (1 + i % 7), i % 10 == 0 ? "boom" : NULL);
        vigil_throughput_record(w->tp);
        if (i % 1000 == 0)
            atomic_fetch_add(&fake_ns, 100000000ull); /* 0.1 s */
    }
    return NULL;
}

static void test_recording_while_reports_and_scrapes_run(void **state)
{
    vigil_registry *reg = *state;
    vigil_dashboard_opts o;
    vigil_dashboard_opts_init(&o);
    o.clock = fake_now;
    o.registry = reg;
    o.name = "conc";
    vigil_dashboard *d;
    assert_int_equal(vigil_dashboard_new("conc", &o, &d), VIGIL_OK);
    vigil_throughput_opts to;
    vigil_throughput_opts_init(&to);
    to.clock = fake_now;
    vigil_throughput *tp;
    assert_int_equal(vigil_throughput_new(&to, &tp), VIGIL_OK);

    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.id = i, .d = d, .tp = tp};
        assert_int_equal(pthread_create(&w[i].tid, NULL, record_ops, &w[i]), 0);
    }
    /* Report and scrape while they record. */
    int reports = 0;
    for (;;) {
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        assert_int_equal(vigil_dashboard_report(d, &b), VIGIL_OK);
        assert_int_equal(vigil_dashboard_report_json(d, &b), VIGIL_OK);
        assert_null(strcasestr(vigil_buffer_cstr(&b), "nan"));
        vigil_buffer_free(&b);
        char *out = render(reg, VIGIL_FORMAT_TEXT);
        free(out);
        (void)vigil_dashboard_status(d);
        reports++;
        if (vigil_throughput_total(tp) == (uint64_t)THREADS * PER_THREAD && reports > 2)
            break;
    }
    for (int i = 0; i < THREADS; i++) {
        void *rc;
        pthread_join(w[i].tid, &rc);
        assert_null(rc);
    }
    assert_int_equal(vigil_throughput_total(tp), THREADS * PER_THREAD);
    uint64_t ops = 0, errors = 0, lat = 0;
    for (int k = 0; k < 2; k++) {
        vigil_operation *op;
        char name[16];
        snprintf(name, sizeof name, "op%d", k);
        assert_int_equal(vigil_dashboard_operation(d, name, &op), VIGIL_OK);
        ops += vigil_throughput_total(vigil_operation_throughput(op));
        errors += vigil_errors_kind_count(vigil_operation_errors(op), "boom");
        lat += vigil_latency_count(vigil_operation_latency(op));
        assert_int_equal(vigil_errors_requests(vigil_operation_errors(op)),
                         vigil_throughput_total(vigil_operation_throughput(op)));
    }
    assert_int_equal(ops, THREADS * PER_THREAD);
    assert_int_equal(errors, THREADS * PER_THREAD / 10);
    assert_int_equal(lat, THREADS * PER_THREAD);
    print_message("%d reports and scrapes ran during recording\n", reports);
    vigil_throughput_free(tp);
    vigil_dashboard_free(d);
}

#define KINDS 50
#define ROUNDS 200

static void *record_kinds(void *arg)
{
    vigil_errors *t = arg;
    char kind[16];
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < KINDS; k++) {
            snprintf(kind, sizeof kind, "kind%02d", (k * 7 + r) % KINDS);
            vigil_errors_record_error(t, kind);
            vigil_errors_record_success(t);
        }
    }
    return NULL;
}

static void test_racing_new_kinds_into_a_capped_table_counts_every_error(void **state)
{
    (void)state;
    vigil_errors_opts o;
    vigil_errors_opts_init(&o);
    o.max_kinds = 32;
    vigil_errors *t;
    assert_int_equal(vigil_errors_new(&o, &t), VIGIL_OK);
    pthread_t tid[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&tid[i], NULL, record_kinds, t), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(tid[i], NULL);
    const uint64_t total = (uint64_t)THREADS * ROUNDS * KINDS;
    assert_int_equal(vigil_errors_total(t), total);
    assert_int_equal(vigil_errors_successes(t), total);
    assert_int_equal(vigil_errors_kinds(t), 32);
    /* named kinds + overflow = total, and the overflow is exactly what the cap redirected */
    vigil_error_count all[40];
    size_t n = vigil_errors_top(t, all, 40);
    assert_int_equal(n, 33);
    uint64_t named = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(all[i].kind, "other") != 0)
            named += all[i].count;
    }
    assert_int_equal(named + vigil_errors_kind_count(t, "other"), total);
    assert_int_equal(vigil_errors_overflowed(t), vigil_errors_kind_count(t, "other"));
    vigil_errors_free(t);
}

/* --- stress helper ------------------------------------------------------------------------- */

#define STRESS_N 5000
static _Atomic unsigned char seen[STRESS_N];

static int work(void *user, uint64_t i)
{
    _Atomic uint64_t *calls = user;
    atomic_fetch_add(calls, 1);
    atomic_fetch_add(&seen[i], 1);
    volatile uint64_t h = 1469598103934665603ull;
    for (int k = 0; k < 200; k++)
        h = (h ^ (uint64_t)k) * 1099511628211ull;
    return i % 10 == 0 ? -1 : 0;
}

static void test_stress_helper_runs_every_iteration_once(void **state)
{
    (void)state;
    _Atomic uint64_t calls = 0;
    vigil_stress_result r;
    assert_int_equal(vigil_stress_run(STRESS_N, 4, work, &calls, &r), VIGIL_OK);
    assert_int_equal(atomic_load(&calls), STRESS_N);
    for (int i = 0; i < STRESS_N; i++)
        assert_int_equal(atomic_load(&seen[i]), 1);
    assert_int_equal(r.operations, STRESS_N);
    assert_int_equal(r.failures, STRESS_N / 10);
    assert_int_equal(r.successes, STRESS_N - STRESS_N / 10);
    assert_true(fabs(r.success_rate - 0.9) < 1e-12);
    assert_int_equal(r.threads, 4);
    assert_true(r.duration_seconds > 0);
    assert_true(fabs(r.ops_per_second - STRESS_N / r.duration_seconds) < 1e-6 * r.ops_per_second);
    assert_true(r.latency_p50 >= 0 && r.latency_p50 <= r.latency_p95);
    assert_true(r.latency_p95 <= r.latency_p99 && r.latency_p99 <= r.latency_max);
    assert_true(r.latency_avg <= r.latency_max);
    assert_true(r.latency_max <= r.duration_seconds);
    assert_true(r.peak_rss_bytes > 1024 * 1024); /* any process has more than 1 MiB */
}

static void test_stress_helper_with_nothing_to_do_and_bad_arguments(void **state)
{
    (void)state;
    _Atomic uint64_t calls = 0;
    vigil_stress_result r;
    assert_int_equal(vigil_stress_run(0, 2, work, &calls, &r), VIGIL_OK);
    assert_int_equal(r.operations, 0);
    assert_true(isnan(r.success_rate));
    assert_true(isnan(r.latency_p99));
    assert_int_equal(vigil_stress_run(10, 0, work, &calls, &r), VIGIL_EINVAL);
    assert_int_equal(vigil_stress_run(10, 1025, work, &calls, &r), VIGIL_EINVAL);
    assert_int_equal(vigil_stress_run(10, 1, NULL, &calls, &r), VIGIL_EINVAL);
    assert_int_equal(vigil_stress_run(10, 1, work, &calls, NULL), VIGIL_EINVAL);
    assert_int_equal(atomic_load(&calls), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_recording_while_reports_and_scrapes_run,
                                        setup_registry, teardown_registry),
        cmocka_unit_test(test_racing_new_kinds_into_a_capped_table_counts_every_error),
        cmocka_unit_test(test_stress_helper_runs_every_iteration_once),
        cmocka_unit_test(test_stress_helper_with_nothing_to_do_and_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
