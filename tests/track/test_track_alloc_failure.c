/* test_track_alloc_failure.c — the track module under curl's torture mode: a scenario that
 * creates every tracker in a registry, records, reads, reports and scrapes is run again and
 * again with the N-th allocation failing (N = 0, 1, 2, ... until it completes). The call that
 * meets the failure must report VIGIL_ENOMEM (recording, which returns nothing, must carry on:
 * a new error kind that cannot be copied is counted under the overflow kind), nothing may
 * crash, and every allocation must be given back. */
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
#include "vigil/track.h"

#include "../support/failing_alloc.h"

typedef struct objects {
    vigil_registry *reg;
    vigil_latency *lat;
    vigil_errors *err;
    vigil_throughput *tp;
    vigil_dashboard *dash;
} objects;

#define CHECK(call)         \
    do {                    \
        st = (call);        \
        if (st != VIGIL_OK) \
            return st;      \
    } while (0)

static vigil_status scenario(objects *o)
{
    vigil_status st;
    CHECK(vigil_registry_new(&o->reg));

    vigil_latency_opts lo;
    vigil_latency_opts_init(&lo);
    lo.registry = o->reg;
    lo.name = "db";
    CHECK(vigil_latency_new(&lo, &o->lat));
    vigil_latency_record(o->lat, 0.01);

    vigil_errors_opts eo;
    vigil_errors_opts_init(&eo);
    eo.registry = o->reg;
    eo.name = "db";
    eo.max_kinds = 4;
    CHECK(vigil_errors_new(&eo, &o->err));
    vigil_errors_record_error(o->err, "timeout");
    vigil_errors_record_error(o->err, "refused");
    vigil_errors_record_success(o->err);
    if (vigil_errors_total(o->err) != 2)
        return VIGIL_ESTATE; /* an error was lost */

    vigil_throughput_opts to;
    vigil_throughput_opts_init(&to);
    to.registry = o->reg;
    to.name = "db";
    CHECK(vigil_throughput_new(&to, &o->tp));
    vigil_throughput_record(o->tp);

    vigil_dashboard_opts dopt;
    vigil_dashboard_opts_init(&dopt);
    dopt.registry = o->reg;
    dopt.name = "svc";
    CHECK(vigil_dashboard_new("svc", &dopt, &o->dash));
    CHECK(vigil_dashboard_record(o->dash, "read", 0.002, NULL));
    CHECK(vigil_dashboard_record(o->dash, "write", 0.004, "conflict"));

    vigil_latency_stats s;
    CHECK(vigil_latency_read(o->lat, VIGIL_SCOPE_RECENT, &s));
    double q;
    CHECK(vigil_latency_quantiles(o->lat, VIGIL_SCOPE_RECENT, (double[]){0.9}, 1, &q));

    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    st = vigil_dashboard_report(o->dash, &b);
    if (st == VIGIL_OK)
        st = vigil_dashboard_report_json(o->dash, &b);
    if (st == VIGIL_OK)
        st = vigil_expo_render(o->reg, VIGIL_FORMAT_TEXT, &b);
    if (st == VIGIL_OK && strstr(vigil_buffer_cstr(&b), "svc_operations_total") == NULL)
        st = VIGIL_ESTATE;
    vigil_buffer_free(&b);
    return st;
}

static void teardown(objects *o)
{
    vigil_dashboard_free(o->dash);
    vigil_throughput_free(o->tp);
    vigil_errors_free(o->err);
    vigil_latency_free(o->lat);
    vigil_registry_free(o->reg);
    memset(o, 0, sizeof *o);
}

static void test_every_allocation_failure_is_reported_and_leaks_nothing(void **state)
{
    (void)state;
    vigil_allocator a = {inj_malloc, inj_realloc, inj_free, NULL};
    vigil_set_allocator(&a);
    long n = 0;
    for (;; n++) {
        objects o = {0};
        inj.budget = n;
        inj.failed = 0;
        vigil_status st = scenario(&o);
        inj.budget = -1;
        teardown(&o);
        if (inj.live != 0)
            fail_msg("failing allocation %ld: %zu allocations leaked", n, inj.live);
        if (inj.failed == 0) {
            assert_int_equal(st, VIGIL_OK);
            break;
        }
        if (st != VIGIL_OK && st != VIGIL_ENOMEM)
            fail_msg("failing allocation %ld: got %s (%s), want ENOMEM or OK", n,
                     vigil_strerror(st), vigil_errmsg());
    }
    vigil_set_allocator(NULL);
    print_message("scenario survived %ld injected allocation failures\n", n);
    assert_true(n > 20);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_failure_is_reported_and_leaks_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
