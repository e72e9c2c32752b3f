/* test_runner.c — the health runner: the roll-up table, result helpers and their bounds, check
 * registration, synchronous runs, and the threaded runner's timeout behaviour with checks that
 * really hang (a callback blocked on a condition the test releases later): the timeout result
 * appears, the other checks keep running, the hung check is not started again until it
 * returns, and its real result then replaces the timeout. Also stop/free with a check still
 * hung, and start/stop cycles (the ASan copy of this test checks them for leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "health_test.h"
#include "vigil/expo.h"
#include "vigil/health.h"

enum { PENDING = -1 };

/* --- roll-up ------------------------------------------------------------------------------- */

typedef struct rollup_case {
    const char *what;
    int n;
    struct {
        bool critical;
        int status; /* a vigil_health_status, or PENDING: no result yet */
    } checks[3];
    vigil_health_status want;
    bool want_ready;
} rollup_case;

static void test_rollup_follows_the_documented_table(void **state)
{
    (void)state;
    const vigil_health_status H = VIGIL_HEALTH_HEALTHY, D = VIGIL_HEALTH_DEGRADED,
                              U = VIGIL_HEALTH_UNHEALTHY, K = VIGIL_HEALTH_UNKNOWN;
    const rollup_case cases[] = {
        {"no checks", 0, {{0}}, H, true},
        {"one critical without a result", 1, {{true, PENDING}}, K, false},
        {"only non-critical without results", 2, {{false, PENDING}, {false, PENDING}}, K, false},
        {"all healthy", 2, {{true, H}, {false, H}}, H, true},
        {"critical unhealthy", 2, {{true, U}, {false, H}}, U, false},
        {"non-critical unhealthy", 2, {{true, H}, {false, U}}, D, true},
        {"critical degraded", 1, {{true, D}}, D, true},
        {"a check says unknown", 2, {{true, H}, {false, K}}, D, true},
        {"non-critical pending, critical healthy", 2, {{true, H}, {false, PENDING}}, D, true},
        {"critical pending, other healthy", 2, {{false, H}, {true, PENDING}}, D, false},
        {"critical unhealthy beats pending", 3, {{true, U}, {true, PENDING}, {false, H}}, U, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const rollup_case *c = &cases[i];
        vigil_health_runner *r;
        assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
        scripted s[3];
        char names[3][16];
        /* Checks with a result first, run once; pending ones are added afterwards. */
        for (int pass = 0; pass < 2; pass++) {
            for (int k = 0; k < c->n; k++) {
                bool pending = c->checks[k].status == PENDING;
                if (pending != (pass == 1))
                    continue;
                memset(&s[k], 0, sizeof s[k]);
                atomic_store(&s[k].status, pending ? (int)H : c->checks[k].status);
                snprintf(names[k], sizeof names[k], "c%d", k);
                add_check(r, names[k], scripted_fn, &s[k], c->checks[k].critical, 60, 5);
            }
            if (pass == 0)
                (void)vigil_health_runner_run_all(r);
        }
        vigil_health_status got = vigil_health_runner_status(r);
        vigil_health_status used;
        char why[160];
        bool ready = vigil_health_runner_ready(r, &used, why, sizeof why);
        if (got != c->want || ready != c->want_ready || used != got)
            fail_msg("case \"%s\": status %s ready %d, want %s ready %d", c->what,
                     vigil_health_status_name(got), ready, vigil_health_status_name(c->want),
                     c->want_ready);
        if (!ready)
            assert_true(why[0] != '\0');
        vigil_health_runner_free(r);
    }
}

static void test_not_ready_reason_names_the_pending_critical_check(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    scripted ok = {0};
    add_check(r, "cache", scripted_fn, &ok, false, 60, 5);
    (void)vigil_health_runner_run_all(r);
    add_check(r, "database", scripted_fn, &ok, true, 60, 5);
    char why[160];
    assert_false(vigil_health_runner_ready(r, NULL, why, sizeof why));
    assert_non_null(strstr(why, "\"database\""));
    assert_int_equal(vigil_health_runner_run_all(r), 2);
    assert_true(vigil_health_runner_ready(r, NULL, NULL, 0));
    vigil_health_runner_free(r);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(vigil_health_status_name(VIGIL_HEALTH_HEALTHY), "healthy");
    assert_string_equal(vigil_health_status_name(VIGIL_HEALTH_DEGRADED), "degraded");
    assert_string_equal(vigil_health_status_name(VIGIL_HEALTH_UNHEALTHY), "unhealthy");
    assert_string_equal(vigil_health_status_name(VIGIL_HEALTH_UNKNOWN), "unknown");
    assert_string_equal(vigil_health_status_name((vigil_health_status)42), "unknown");
}

/* --- results ------------------------------------------------------------------------------- */

static void test_result_message_is_cut_at_a_utf8_boundary(void **state)
{
    (void)state;
    vigil_health_result res;
    memset(&res, 0, sizeof res);
    char long_text[600];
    /* "é" is two bytes; 300 of them cannot end on a boundary at byte 255. */
    for (int i = 0; i < 300; i++)
        memcpy(long_text + 2 * i, "\xc3\xa9", 2);
    long_text[600 - 1] = '\0';
    vigil_health_result_message(&res, "x%s", long_text);
    size_t n = strlen(res.message);
    assert_true(n <= VIGIL_HEALTH_MESSAGE_SIZE - 1);
    assert_true(n >= VIGIL_HEALTH_MESSAGE_SIZE - 3);
    assert_true(((unsigned char)res.message[n - 1] == 0xa9)); /* ends with a whole "é" */
}

static void test_result_details_replace_duplicates_and_refuse_beyond_the_cap(void **state)
{
    (void)state;
    vigil_health_result res;
    memset(&res, 0, sizeof res);
    assert_int_equal(vigil_health_result_detail(&res, "k", "%d", 1), VIGIL_OK);
    assert_int_equal(vigil_health_result_detail(&res, "k", "%d", 2), VIGIL_OK);
    assert_int_equal(res.detail_count, 1);
    assert_string_equal(res.details[0].value, "2");
    for (int i = 1; i < VIGIL_HEALTH_MAX_DETAILS; i++) {
        char key[16];
        snprintf(key, sizeof key, "k%d", i);
        assert_int_equal(vigil_health_result_detail(&res, key, "v"), VIGIL_OK);
    }
    assert_int_equal(vigil_health_result_detail(&res, "one_too_many", "v"), VIGIL_ELIMIT);
    assert_int_equal(res.detail_count, VIGIL_HEALTH_MAX_DETAILS);
    /* An existing key can still be updated when full. */
    assert_int_equal(vigil_health_result_detail(&res, "k", "3"), VIGIL_OK);
    char key[VIGIL_HEALTH_KEY_SIZE + 1];
    memset(key, 'a', sizeof key - 1);
    key[sizeof key - 1] = '\0';
    memset(&res, 0, sizeof res);
    assert_int_equal(vigil_health_result_detail(&res, key, "v"), VIGIL_EINVAL);
    assert_int_equal(vigil_health_result_detail(&res, "", "v"), VIGIL_EINVAL);
    assert_int_equal(vigil_health_result_detail(&res, "tab\there", "v"), VIGIL_EINVAL);
    char big[400];
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(vigil_health_result_detail(&res, "big", "%s", big), VIGIL_OK);
    assert_int_equal(strlen(res.details[0].value), VIGIL_HEALTH_VALUE_SIZE - 1);
}

static vigil_health_status bad_status_fn(vigil_health_result *res, void *user)
{
    (void)res;
    (void)user;
    return (vigil_health_status)17;
}

static vigil_health_status detailed_fn(vigil_health_result *res, void *user)
{
    (void)user;
    vigil_health_result_message(res, "all good");
    (void)vigil_health_result_detail(res, "answer", "%d", 42);
    assert_true(res->timeout_seconds == 2.5);
    return VIGIL_HEALTH_HEALTHY;
}

static void test_run_all_records_results_duration_and_details(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    add_check(r, "detailed", detailed_fn, NULL, true, 60, 2.5);
    add_check(r, "bad", bad_status_fn, NULL, false, 60, 5);
    vigil_health_check_info info = info_of(r, "detailed");
    assert_false(info.has_result);
    assert_int_equal(info.result.status, VIGIL_HEALTH_UNKNOWN);
    assert_int_equal(info.runs, 0);

    assert_int_equal(vigil_health_runner_run_all(r), 2);
    info = info_of(r, "detailed");
    assert_true(info.has_result);
    assert_false(info.running);
    assert_int_equal(info.runs, 1);
    assert_int_equal(info.result.status, VIGIL_HEALTH_HEALTHY);
    assert_string_equal(info.result.message, "all good");
    assert_int_equal(info.result.detail_count, 1);
    assert_string_equal(info.result.details[0].key, "answer");
    assert_string_equal(info.result.details[0].value, "42");
    assert_true(info.result.duration_seconds >= 0);
    assert_true(info.result.finished_ms > 0);
    assert_false(info.result.timed_out);
    assert_true(info.critical);
    assert_true(info.interval_seconds == 60);

    info = info_of(r, "bad");
    assert_int_equal(info.result.status, VIGIL_HEALTH_UNKNOWN);
    assert_non_null(strstr(info.result.message, "invalid status"));

    /* Nothing is due yet (interval 60 s): run_due runs nothing; run_all runs both again. */
    assert_int_equal(vigil_health_runner_run_due(r), 0);
    assert_int_equal(vigil_health_runner_run_all(r), 2);
    assert_int_equal(info_of(r, "detailed").runs, 2);
    vigil_health_runner_free(r);
}

/* --- registration -------------------------------------------------------------------------- */

static int freed_count;
static void count_free(void *user)
{
    (void)user;
    freed_count++;
}

static void test_add_validates_options_and_names(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    assert_true(o.critical);
    assert_true(o.interval_seconds == 10);
    assert_true(o.timeout_seconds == 5);
    o.fn = scripted_fn;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL); /* no name */
    o.name = "";
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    o.name = "line\nbreak";
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    o.name = "bad\xff utf8";
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    char longname[VIGIL_HEALTH_NAME_SIZE + 1];
    memset(longname, 'n', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    o.name = longname;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    o.name = "ok";
    o.interval_seconds = 0;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    o.interval_seconds = 1;
    o.timeout_seconds = -1;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    o.timeout_seconds = 1.0 / 0.0;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    o.timeout_seconds = 1;
    o.fn = NULL;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "fn"));

    scripted s = {0};
    o.fn = scripted_fn;
    o.user = &s;
    o.free_user = count_free;
    o.name = "Ümlaut check: /var";
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_OK);
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_EEXIST);
    assert_int_equal(vigil_health_runner_count(r), 1);
    freed_count = 0;
    assert_int_equal(vigil_health_runner_remove(r, "Ümlaut check: /var"), VIGIL_OK);
    assert_int_equal(freed_count, 1);
    assert_int_equal(vigil_health_runner_remove(r, "Ümlaut check: /var"), VIGIL_ENOTFOUND);
    vigil_health_check_info info;
    assert_int_equal(vigil_health_runner_check(r, "nope", &info), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_OK);
    vigil_health_runner_free(r); /* frees the remaining check */
    assert_int_equal(freed_count, 2);

    vigil_health_runner_opts ro;
    vigil_health_runner_opts_init(&ro);
    assert_int_equal(ro.max_workers, 8);
    ro.max_workers = 0;
    assert_int_equal(vigil_health_runner_new(&ro, &r), VIGIL_EINVAL);
    vigil_health_runner_free(NULL);
}

static void test_runner_refuses_more_than_the_maximum_number_of_checks(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    scripted s = {0};
    char name[16];
    for (int i = 0; i < VIGIL_HEALTH_MAX_CHECKS; i++) {
        snprintf(name, sizeof name, "c%d", i);
        add_check(r, name, scripted_fn, &s, false, 60, 1);
    }
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    o.name = "overflow";
    o.fn = scripted_fn;
    o.user = &s;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_ELIMIT);
    vigil_health_runner_free(r);
}

/* --- the threaded runner ------------------------------------------------------------------- */

static void test_checks_run_on_their_intervals_once_started(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    scripted a = {0}, b = {0};
    add_check(r, "a", scripted_fn, &a, true, 0.02, 1);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_ESTATE);
    WAIT_FOR(atomic_load(&a.runs) >= 3, 10);
    assert_true(atomic_load(&a.runs) >= 3);
    /* A check added to a running runner runs at once. */
    add_check(r, "b", scripted_fn, &b, true, 60, 1);
    WAIT_FOR(info_of(r, "b").has_result, 10);
    assert_int_equal(vigil_health_runner_status(r), VIGIL_HEALTH_HEALTHY);
    vigil_health_runner_stop(r);
    vigil_health_runner_stop(r); /* idempotent */
    int runs = atomic_load(&a.runs);
    usleep(100000);
    assert_int_equal(atomic_load(&a.runs), runs); /* stopped means stopped */
    vigil_health_runner_free(r);
}

static void hung_check_scenario(bool critical)
{
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    gate g;
    gate_init(&g);
    scripted fast = {0};
    add_check(r, "hangs", gate_fn, &g, critical, 0.1, 0.2);
    add_check(r, "fast", scripted_fn, &fast, false, 0.02, 1);
    double t0 = mono_now();
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);

    /* The timeout result appears after ~0.2 s, while the callback is still blocked. */
    WAIT_FOR(info_of(r, "hangs").result.timed_out, 10);
    double waited = mono_now() - t0;
    vigil_health_check_info info = info_of(r, "hangs");
    assert_true(info.result.timed_out);
    assert_true(waited >= 0.19); /* not before the timeout: a property, not a speed test */
    assert_int_equal(info.result.status, critical ? VIGIL_HEALTH_UNHEALTHY : VIGIL_HEALTH_DEGRADED);
    assert_non_null(strstr(info.result.message, "timed out"));
    assert_int_equal(info.timeouts, 1);
    assert_true(info.running);
    assert_int_equal(vigil_health_runner_status(r),
                     critical ? VIGIL_HEALTH_UNHEALTHY : VIGIL_HEALTH_DEGRADED);
    assert_int_equal(atomic_load(&g.returned), 0);

    /* The other check keeps producing results meanwhile. */
    int before = atomic_load(&fast.runs);
    WAIT_FOR(atomic_load(&fast.runs) >= before + 5, 10);
    assert_true(atomic_load(&fast.runs) >= before + 5);

    /* Many of its intervals later the hung check has still been started only once. */
    usleep(300000);
    info = info_of(r, "hangs");
    assert_int_equal(atomic_load(&g.entered), 1);
    assert_int_equal(info.runs, 1);
    assert_int_equal(info.timeouts, 1);
    assert_true(info.running);

    /* Released, its real result replaces the timeout result (and stays an interval before the
     * next run); then the check runs normally again. */
    gate_release(&g);
    WAIT_FOR(!info_of(r, "hangs").result.timed_out, 10);
    info = info_of(r, "hangs");
    assert_false(info.result.timed_out);
    assert_int_equal(info.result.status, VIGIL_HEALTH_HEALTHY);
    assert_string_equal(info.result.message, "real result");
    assert_true(info.result.duration_seconds >= 0.2);
    WAIT_FOR(atomic_load(&g.entered) >= 3, 10);
    assert_true(atomic_load(&g.entered) >= 3);
    assert_int_equal(vigil_health_runner_status(r), VIGIL_HEALTH_HEALTHY);
    vigil_health_runner_free(r);
    gate_destroy(&g);
}

static void test_hung_critical_check_times_out_unhealthy_without_delaying_others(void **state)
{
    (void)state;
    hung_check_scenario(true);
}

static void test_hung_non_critical_check_times_out_degraded(void **state)
{
    (void)state;
    hung_check_scenario(false);
}

static void test_hung_checks_each_hold_one_worker_and_the_rest_still_run(void **state)
{
    (void)state;
    vigil_health_runner_opts ro;
    vigil_health_runner_opts_init(&ro);
    ro.max_workers = 3;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(&ro, &r), VIGIL_OK);
    gate g1, g2;
    gate_init(&g1);
    gate_init(&g2);
    scripted fast = {0};
    add_check(r, "hang1", gate_fn, &g1, true, 0.02, 0.1);
    add_check(r, "hang2", gate_fn, &g2, true, 0.02, 0.1);
    add_check(r, "fast", scripted_fn, &fast, true, 0.02, 1);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    WAIT_FOR(atomic_load(&g1.entered) == 1 && atomic_load(&g2.entered) == 1, 10);
    int before = atomic_load(&fast.runs);
    WAIT_FOR(atomic_load(&fast.runs) >= before + 5, 10);
    assert_true(atomic_load(&fast.runs) >= before + 5);
    assert_int_equal(atomic_load(&g1.entered), 1);
    assert_int_equal(atomic_load(&g2.entered), 1);
    gate_release(&g1);
    gate_release(&g2);
    WAIT_FOR(atomic_load(&g1.returned) == 1 && atomic_load(&g2.returned) == 1, 10);
    vigil_health_runner_free(r);
    gate_destroy(&g1);
    gate_destroy(&g2);
}

static void test_run_waiting_for_a_worker_past_its_timeout_is_reported(void **state)
{
    (void)state;
    vigil_health_runner_opts ro;
    vigil_health_runner_opts_init(&ro);
    ro.max_workers = 1; /* the hung check takes the only worker */
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(&ro, &r), VIGIL_OK);
    gate g;
    gate_init(&g);
    scripted starved = {0};
    add_check(r, "hang", gate_fn, &g, true, 60, 5);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    WAIT_FOR(atomic_load(&g.entered) == 1, 10);
    add_check(r, "starved", scripted_fn, &starved, false, 60, 0.1);
    WAIT_FOR(info_of(r, "starved").result.timed_out, 10);
    vigil_health_check_info info = info_of(r, "starved");
    assert_true(info.result.timed_out);
    assert_int_equal(info.result.status, VIGIL_HEALTH_DEGRADED);
    assert_non_null(strstr(info.result.message, "waiting for a free worker"));
    assert_int_equal(atomic_load(&starved.runs), 0);
    gate_release(&g);
    WAIT_FOR(atomic_load(&starved.runs) == 1, 10);
    WAIT_FOR(!info_of(r, "starved").result.timed_out, 10);
    assert_int_equal(info_of(r, "starved").result.status, VIGIL_HEALTH_HEALTHY);
    vigil_health_runner_free(r);
    gate_destroy(&g);
}

static void test_stop_abandons_a_hung_check_which_cleans_up_when_it_returns(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    gate g;
    gate_init(&g);
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    o.name = "hangs";
    o.fn = gate_fn;
    o.user = &g;
    o.free_user = gate_free_user;
    o.interval_seconds = 0.05;
    o.timeout_seconds = 0.1;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_OK);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    WAIT_FOR(atomic_load(&g.entered) == 1, 10);

    /* Stop returns although the callback is blocked: it waits at most for the run's deadline. */
    double t0 = mono_now();
    vigil_health_runner_stop(r);
    assert_true(mono_now() - t0 < 5);
    vigil_health_check_info info = info_of(r, "hangs");
    assert_true(info.running);
    assert_true(info.result.timed_out);

    /* Restarted, the hung check is still not started again. */
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    usleep(200000);
    assert_int_equal(atomic_load(&g.entered), 1);
    vigil_health_runner_stop(r);

    /* Freed while hung: free_user waits for the callback to return. */
    vigil_health_runner_free(r);
    assert_int_equal(atomic_load(&g.freed), 0);
    gate_release(&g);
    WAIT_FOR(atomic_load(&g.freed) == 1, 10);
    assert_int_equal(atomic_load(&g.freed), 1);
    usleep(50000); /* let the abandoned worker finish exiting before the gate goes away */
    gate_destroy(&g);
}

static void test_removing_a_running_check_frees_it_when_it_returns(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    gate g;
    gate_init(&g);
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    o.name = "hangs";
    o.fn = gate_fn;
    o.user = &g;
    o.free_user = gate_free_user;
    o.timeout_seconds = 0.1;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_OK);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    WAIT_FOR(atomic_load(&g.entered) == 1, 10);
    assert_int_equal(vigil_health_runner_remove(r, "hangs"), VIGIL_OK);
    assert_int_equal(vigil_health_runner_count(r), 0);
    assert_int_equal(vigil_health_runner_status(r), VIGIL_HEALTH_HEALTHY); /* no checks */
    assert_int_equal(atomic_load(&g.freed), 0);
    gate_release(&g);
    WAIT_FOR(atomic_load(&g.freed) == 1, 10);
    assert_int_equal(atomic_load(&g.freed), 1);
    vigil_health_runner_free(r);
    gate_destroy(&g);
}

static void test_removing_a_queued_check_frees_it_at_once(void **state)
{
    (void)state;
    vigil_health_runner_opts ro;
    vigil_health_runner_opts_init(&ro);
    ro.max_workers = 1;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(&ro, &r), VIGIL_OK);
    gate hang, queued;
    gate_init(&hang);
    gate_init(&queued);
    scripted after = {0};
    add_check(r, "hang", gate_fn, &hang, true, 60, 5);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    WAIT_FOR(atomic_load(&hang.entered) == 1, 10);
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    o.name = "queued";
    o.fn = gate_fn;
    o.user = &queued;
    o.free_user = gate_free_user;
    assert_int_equal(vigil_health_runner_add(r, &o), VIGIL_OK);
    add_check(r, "after", scripted_fn, &after, true, 60, 5);
    WAIT_FOR(info_of(r, "queued").running && info_of(r, "after").running, 10);
    assert_int_equal(info_of(r, "queued").runs, 0); /* waiting for the only worker */
    assert_int_equal(vigil_health_runner_remove(r, "queued"), VIGIL_OK);
    assert_int_equal(atomic_load(&queued.freed), 1);
    gate_release(&hang);
    WAIT_FOR(atomic_load(&after.runs) == 1, 10); /* the queue still works past the hole */
    assert_int_equal(atomic_load(&after.runs), 1);
    assert_int_equal(atomic_load(&queued.entered), 0);
    vigil_health_runner_free(r);
    gate_destroy(&hang);
    gate_destroy(&queued);
}

static void test_start_and_stop_repeatedly_leaves_nothing_behind(void **state)
{
    (void)state;
    for (int round = 0; round < 20; round++) {
        vigil_health_runner *r;
        assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
        scripted a = {0}, b = {0};
        add_check(r, "a", scripted_fn, &a, true, 0.005, 1);
        add_check(r, "b", scripted_fn, &b, false, 0.005, 1);
        for (int k = 0; k < 3; k++) {
            assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
            usleep(10000);
            vigil_health_runner_stop(r);
        }
        if (round % 2 == 0)
            assert_int_equal(vigil_health_runner_start(r), VIGIL_OK); /* freed running */
        vigil_health_runner_free(r);
    }
}

static void test_run_all_skips_a_check_that_is_running(void **state)
{
    (void)state;
    vigil_health_runner *r;
    assert_int_equal(vigil_health_runner_new(NULL, &r), VIGIL_OK);
    gate g;
    gate_init(&g);
    scripted s = {0};
    add_check(r, "hangs", gate_fn, &g, true, 60, 0.1);
    add_check(r, "quick", scripted_fn, &s, true, 60, 1);
    assert_int_equal(vigil_health_runner_start(r), VIGIL_OK);
    WAIT_FOR(atomic_load(&g.entered) == 1 && atomic_load(&s.runs) == 1, 10);
    assert_int_equal(vigil_health_runner_run_all(r), 1); /* "quick" only */
    assert_int_equal(atomic_load(&s.runs), 2);
    gate_release(&g);
    WAIT_FOR(atomic_load(&g.returned) == 1, 10); /* the gate must outlive its callback */
    vigil_health_runner_free(r);
    gate_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rollup_follows_the_documented_table),
        cmocka_unit_test(test_not_ready_reason_names_the_pending_critical_check),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_result_message_is_cut_at_a_utf8_boundary),
        cmocka_unit_test(test_result_details_replace_duplicates_and_refuse_beyond_the_cap),
        cmocka_unit_test(test_run_all_records_results_duration_and_details),
        cmocka_unit_test(test_add_validates_options_and_names),
        cmocka_unit_test(test_runner_refuses_more_than_the_maximum_number_of_checks),
        cmocka_unit_test(test_checks_run_on_their_intervals_once_started),
        cmocka_unit_test(test_hung_critical_check_times_out_unhealthy_without_delaying_others),
        cmocka_unit_test(test_hung_non_critical_check_times_out_degraded),
        cmocka_unit_test(test_hung_checks_each_hold_one_worker_and_the_rest_still_run),
        cmocka_unit_test(test_run_waiting_for_a_worker_past_its_timeout_is_reported),
        cmocka_unit_test(test_stop_abandons_a_hung_check_which_cleans_up_when_it_returns),
        cmocka_unit_test(test_removing_a_running_check_frees_it_when_it_returns),
        cmocka_unit_test(test_removing_a_queued_check_frees_it_at_once),
        cmocka_unit_test(test_start_and_stop_repeatedly_leaves_nothing_behind),
        cmocka_unit_test(test_run_all_skips_a_check_that_is_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
