/* test_concurrency.c — the hot path and the child table under real threads. Counters must be
 * exact however many threads write (fewer than the exclusive shards, more, and threads that exit
 * so that new ones take their shards over); histogram snapshots taken while writers observe must
 * always be consistent; and creating, removing, looking up and rendering children at once, or
 * registering and unregistering families during renders, must neither crash nor lose anything.
 * Meant to be run under ASan and TSan as well as plain: every shared access is an atomic or is
 * under a lock, so TSan must stay silent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../support/vigil_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics/metrics_int.h"
#include "vigil/buffer.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#define MAX_THREADS 64

static void start(pthread_t *t, void *(*fn)(void *), void *arg)
{
    assert_int_equal(pthread_create(t, NULL, fn, arg), 0);
}

static void join(pthread_t t)
{
    assert_int_equal(pthread_join(t, NULL), 0);
}

/* Checks in worker threads cannot use cmocka's assertions (they longjmp on the wrong stack):
 * workers count failures and the main thread asserts the count is zero. */
static atomic_int worker_failures;
static char first_failure[256];

static void worker_fail(const char *what)
{
    if (atomic_fetch_add(&worker_failures, 1) == 0)
        snprintf(first_failure, sizeof first_failure, "%s", what);
}

static void assert_no_worker_failures(void)
{
    int n = atomic_load(&worker_failures);
    if (n != 0)
        fail_msg("%d failures in worker threads, the first: %s", n, first_failure);
}

/* --- counters -------------------------------------------------------------------------------- */

typedef struct inc_job {
    vigil_counter *c;
    long n;
    unsigned shard; /* the shard the thread wrote to */
} inc_job;

static void *inc_many(void *arg)
{
    inc_job *j = arg;
    for (long i = 0; i < j->n; i++)
        vigil_counter_inc(j->c);
    j->shard = vigil__shard_index();
    return NULL;
}

/* The same through the exported function rather than the header's inline version. */
static void *inc_many_out_of_line(void *arg)
{
    inc_job *j = arg;
    for (long i = 0; i < j->n; i++)
        (vigil_counter_inc)(j->c);
    j->shard = vigil__shard_index();
    return NULL;
}

static void run_incrementers(vigil_registry *reg, int threads, long per_thread)
{
    char name[32];
    snprintf(name, sizeof name, "hits_%d", threads);
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = name;
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(reg, &o, &c), VIGIL_OK);
    pthread_t t[MAX_THREADS];
    inc_job jobs[MAX_THREADS];
    for (int i = 0; i < threads; i++) {
        jobs[i] = (inc_job){c, per_thread, 0};
        start(&t[i], i % 2 ? inc_many_out_of_line : inc_many, &jobs[i]);
    }
    for (int i = 0; i < threads; i++)
        join(t[i]);
    double want = (double)threads * (double)per_thread;
    if (vigil_counter_value(c) != want)
        fail_msg("%d threads x %ld: want %.0f, got %.0f", threads, per_thread, want,
                 vigil_counter_value(c));
}

static void test_counter_total_is_exact_with_two_threads(void **state)
{
    run_incrementers(*state, 2, 1000000);
}

static void test_counter_total_is_exact_with_more_threads_than_exclusive_shards(void **state)
{
    vigil__shards_init();
    int threads = 12;
    if (threads < (int)vigil__shards + 4)
        threads = (int)vigil__shards + 4;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    run_incrementers(*state, threads, 1000000);
}

static void *add_halves(void *arg)
{
    inc_job *j = arg;
    for (long i = 0; i < j->n; i++) {
        if (vigil_counter_add(j->c, 0.5) != VIGIL_OK)
            worker_fail("vigil_counter_add(0.5) failed");
        vigil_counter_add_u64(j->c, 2);
    }
    return NULL;
}

static void test_fractional_and_whole_adds_from_many_threads_are_exact(void **state)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "mixed";
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(*state, &o, &c), VIGIL_OK);
    enum { T = 6, N = 100000 };
    pthread_t t[T];
    inc_job jobs[T];
    for (int i = 0; i < T; i++) {
        jobs[i] = (inc_job){c, N, 0};
        start(&t[i], add_halves, &jobs[i]);
    }
    for (int i = 0; i < T; i++)
        join(t[i]);
    assert_no_worker_failures();
    assert_true(vigil_counter_value(c) == T * N * 2.5);
}

/* Short-lived threads: each exits and gives its shard back, and the next round's threads take
 * the shards over and continue from the values left in them. A long-lived thread keeps its shard
 * across all rounds. */
typedef struct steady_job {
    vigil_counter *c;
    atomic_bool stop;
    long done;
} steady_job;

static void *inc_until_stopped(void *arg)
{
    steady_job *j = arg;
    long n = 0;
    while (!atomic_load_explicit(&j->stop, memory_order_relaxed)) {
        for (int i = 0; i < 1000; i++)
            vigil_counter_inc(j->c);
        n += 1000;
    }
    j->done = n;
    return NULL;
}

static void test_counter_totals_stay_exact_when_threads_exit_and_shards_are_reused(void **state)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "reused";
    vigil_counter *c;
    assert_int_equal(vigil_counter_new(*state, &o, &c), VIGIL_OK);
    steady_job steady = {.c = c};
    pthread_t st;
    start(&st, inc_until_stopped, &steady);
    enum { ROUNDS = 10, PER_ROUND = 6, N = 100000 };
    bool used_before[VIGIL__MAX_SHARDS] = {false};
    int reused = 0;
    double want = 0;
    for (int r = 0; r < ROUNDS; r++) {
        pthread_t t[PER_ROUND];
        inc_job jobs[PER_ROUND];
        for (int i = 0; i < PER_ROUND; i++) {
            jobs[i] = (inc_job){c, N, 0};
            start(&t[i], inc_many, &jobs[i]);
        }
        for (int i = 0; i < PER_ROUND; i++)
            join(t[i]);
        want += PER_ROUND * N;
        for (int i = 0; i < PER_ROUND; i++) {
            unsigned s = jobs[i].shard;
            assert_true(s < VIGIL__MAX_SHARDS);
            if (s > 0 && used_before[s])
                reused++;
        }
        for (int i = 0; i < PER_ROUND; i++)
            used_before[jobs[i].shard] = true;
        /* The steady thread is still writing; the total is at least what the rounds added. */
        assert_true(vigil_counter_value(c) >= want);
    }
    atomic_store(&steady.stop, true);
    join(st);
    want += (double)steady.done;
    if (vigil_counter_value(c) != want)
        fail_msg("want %.0f, got %.0f", want, vigil_counter_value(c));
    /* Exited threads' exclusive shards were taken over by later threads. */
    assert_true(reused > 0);
}

/* --- gauges ---------------------------------------------------------------------------------- */

static void *gauge_up_down(void *arg)
{
    vigil_gauge *g = arg;
    for (int i = 0; i < 100000; i++) {
        vigil_gauge_inc(g);
        vigil_gauge_add(g, 2);
        vigil_gauge_sub(g, 1);
        vigil_gauge_dec(g);
        vigil_gauge_add(g, 0.5);
    }
    return NULL;
}

static void test_gauge_adds_from_many_threads_are_not_lost(void **state)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "level";
    vigil_gauge *g;
    assert_int_equal(vigil_gauge_new(*state, &o, &g), VIGIL_OK);
    enum { T = 8 };
    pthread_t t[T];
    for (int i = 0; i < T; i++)
        start(&t[i], gauge_up_down, g);
    for (int i = 0; i < T; i++)
        join(t[i]);
    assert_true(vigil_gauge_value(g) == T * 100000 * 1.5);
}

/* --- histograms ------------------------------------------------------------------------------ */

typedef struct hist_job {
    vigil_histogram *h;
    vigil_registry *reg;
    long n;
    atomic_int *writers_left;
} hist_job;

static void *observe_many(void *arg)
{
    hist_job *j = arg;
    static const double values[] = {0.25, 1, 1.5, 4, 100, 0.125};
    for (long i = 0; i < j->n; i++)
        vigil_histogram_observe(j->h, values[i % 6]);
    atomic_fetch_sub(j->writers_left, 1);
    return NULL;
}

static void *snapshot_while_writing(void *arg)
{
    hist_job *j = arg;
    vigil_histogram_snapshot prev, s;
    memset(&prev, 0, sizeof prev);
    long snapshots = 0;
    do {
        vigil_histogram_snapshot_read(j->h, &s);
        snapshots++;
        if (s.count != s.counts[s.bucket_count])
            worker_fail("count differs from the +Inf bucket");
        for (size_t i = 0; i <= s.bucket_count; i++) {
            if (i > 0 && s.counts[i] < s.counts[i - 1])
                worker_fail("cumulative counts decrease across buckets");
            if (s.counts[i] < prev.counts[i])
                worker_fail("a bucket went down between snapshots");
        }
        prev = s;
    } while (atomic_load(j->writers_left) > 0 || snapshots < 1000);
    return NULL;
}

/* Parses one "name value" line out of a rendered exposition. */
static bool read_sample(const char *text, const char *series, uint64_t *out)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ') {
            *out = strtoull(p + n + 1, NULL, 10);
            return true;
        }
    }
    return false;
}

static void *render_while_writing(void *arg)
{
    hist_job *j = arg;
    long renders = 0;
    do {
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        if (vigil_expo_render(j->reg, VIGIL_FORMAT_OPENMETRICS, &b) != VIGIL_OK) {
            worker_fail("render failed");
        } else {
            uint64_t inf = 0, count = 0, le1 = 0, le2 = 0;
            const char *s = vigil_buffer_cstr(&b);
            if (!read_sample(s, "obs_bucket{le=\"+Inf\"}", &inf) ||
                !read_sample(s, "obs_count", &count) ||
                !read_sample(s, "obs_bucket{le=\"1.0\"}", &le1) ||
                !read_sample(s, "obs_bucket{le=\"2.0\"}", &le2))
                worker_fail("a histogram sample is missing from the render");
            if (inf != count)
                worker_fail("rendered _count differs from the +Inf bucket");
            if (le1 > le2 || le2 > inf)
                worker_fail("rendered buckets are not cumulative");
        }
        vigil_buffer_free(&b);
        renders++;
    } while (atomic_load(j->writers_left) > 0 || renders < 20);
    return NULL;
}

static void test_histogram_count_equals_inf_bucket_under_concurrent_observes(void **state)
{
    vigil_registry *reg = *state;
    static const double bounds[] = {0.5, 1, 2, 10};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "obs";
    o.buckets = bounds;
    o.bucket_count = 4;
    vigil_histogram *h;
    assert_int_equal(vigil_histogram_new(reg, &o, &h), VIGIL_OK);
    enum { N = 600000 };
    atomic_int writers_left = 2;
    hist_job job = {h, reg, N, &writers_left};
    pthread_t w1, w2, reader, renderer;
    start(&reader, snapshot_while_writing, &job);
    start(&renderer, render_while_writing, &job);
    start(&w1, observe_many, &job);
    start(&w2, observe_many, &job);
    join(w1);
    join(w2);
    join(reader);
    join(renderer);
    assert_no_worker_failures();
    vigil_histogram_snapshot s;
    vigil_histogram_snapshot_read(h, &s);
    assert_int_equal(s.count, 2 * N);
    /* values cycle 0.25 1 1.5 4 100 0.125: two each of six per bucket walk. */
    assert_int_equal(s.counts[0], 2 * N / 3);     /* 0.25, 0.125 */
    assert_int_equal(s.counts[1], 2 * N / 2);     /* + 1 */
    assert_int_equal(s.counts[2], 2 * N * 2 / 3); /* + 1.5 */
    assert_int_equal(s.counts[3], 2 * N * 5 / 6); /* + 4 */
    assert_true(s.sum == 2.0 * (N / 6) * (0.25 + 1 + 1.5 + 4 + 100 + 0.125));
}

/* --- child churn ----------------------------------------------------------------------------- */

enum { STABLE = 50 };

typedef struct churn_ctx {
    vigil_registry *reg;
    vigil_family *fam;
    vigil_counter *stable[STABLE];
    atomic_bool stop;
    atomic_long stable_incs;
    int id;
} churn_ctx;

typedef struct churn_arg {
    churn_ctx *ctx;
    int id;
} churn_arg;

static void *churn_children(void *arg)
{
    churn_arg *a = arg;
    churn_ctx *ctx = a->ctx;
    char v[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "c%d_%d", a->id, i % 97);
        const char *vals[] = {v};
        vigil_counter *c;
        vigil_status st = vigil_family_counter(ctx->fam, 1, vals, &c);
        if (st != VIGIL_OK) {
            worker_fail("creating a churn child failed");
            continue;
        }
        vigil_counter_inc(c);
        if (vigil_counter_value(c) != 1)
            worker_fail("a fresh child did not start from zero");
        if (vigil_family_remove(ctx->fam, 1, vals) != VIGIL_OK)
            worker_fail("removing a churn child failed");
    }
    return NULL;
}

static void *look_up_stable(void *arg)
{
    churn_arg *a = arg;
    churn_ctx *ctx = a->ctx;
    char v[32];
    unsigned x = (unsigned)a->id * 2654435761u + 1;
    long incs = 0;
    while (!atomic_load_explicit(&ctx->stop, memory_order_relaxed)) {
        x = x * 1103515245u + 12345u;
        int k = (int)((x >> 8) % STABLE);
        snprintf(v, sizeof v, "s%d", k);
        const char *vals[] = {v};
        vigil_counter *c;
        if (vigil_family_counter(ctx->fam, 1, vals, &c) != VIGIL_OK || c != ctx->stable[k]) {
            worker_fail("a stable child was not found at its handle");
            continue;
        }
        vigil_counter_inc(c);
        incs++;
    }
    atomic_fetch_add(&ctx->stable_incs, incs);
    return NULL;
}

static void *render_during_churn(void *arg)
{
    churn_arg *a = arg;
    churn_ctx *ctx = a->ctx;
    while (!atomic_load_explicit(&ctx->stop, memory_order_relaxed)) {
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        if (vigil_expo_render(ctx->reg, VIGIL_FORMAT_TEXT, &b) != VIGIL_OK)
            worker_fail("render failed");
        else if (strstr(vigil_buffer_cstr(&b), "churn_total{id=\"s49\"}") == NULL)
            worker_fail("a stable child is missing from a render");
        vigil_buffer_free(&b);
        (void)vigil_registry_child_count(ctx->reg);
        (void)vigil_family_child_count(ctx->fam);
    }
    return NULL;
}

static void test_child_churn_with_concurrent_lookups_and_renders(void **state)
{
    vigil_registry *reg = *state;
    static churn_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.reg = reg;
    const char *labels[] = {"id"};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "churn";
    o.label_names = labels;
    o.label_count = 1;
    assert_int_equal(vigil_family_new(reg, VIGIL_COUNTER, &o, &ctx.fam), VIGIL_OK);
    char v[32];
    for (int k = 0; k < STABLE; k++) {
        snprintf(v, sizeof v, "s%d", k);
        const char *vals[] = {v};
        assert_int_equal(vigil_family_counter(ctx.fam, 1, vals, &ctx.stable[k]), VIGIL_OK);
    }
    /* More lookers than exclusive shards, so some look up from the shared one. */
    vigil__shards_init();
    int lookers = (int)vigil__shards;
    if (lookers > 24)
        lookers = 24;
    enum { CHURNERS = 3 };
    pthread_t churners[CHURNERS], look[24], renderer;
    churn_arg args[CHURNERS + 24 + 1];
    for (int i = 0; i < lookers; i++) {
        args[CHURNERS + i] = (churn_arg){&ctx, 100 + i};
        start(&look[i], look_up_stable, &args[CHURNERS + i]);
    }
    args[CHURNERS + 24] = (churn_arg){&ctx, 999};
    start(&renderer, render_during_churn, &args[CHURNERS + 24]);
    for (int i = 0; i < CHURNERS; i++) {
        args[i] = (churn_arg){&ctx, i};
        start(&churners[i], churn_children, &args[i]);
    }
    for (int i = 0; i < CHURNERS; i++)
        join(churners[i]);
    atomic_store(&ctx.stop, true);
    for (int i = 0; i < lookers; i++)
        join(look[i]);
    join(renderer);
    assert_no_worker_failures();
    /* Only the stable children are left, with every increment the lookers made. */
    assert_int_equal(vigil_family_child_count(ctx.fam), STABLE);
    double total = 0;
    for (int k = 0; k < STABLE; k++) {
        snprintf(v, sizeof v, "s%d", k);
        const char *vals[] = {v};
        vigil_counter *c;
        assert_int_equal(vigil_family_counter(ctx.fam, 1, vals, &c), VIGIL_OK);
        assert_ptr_equal(c, ctx.stable[k]);
        total += vigil_counter_value(c);
    }
    assert_true(total == (double)atomic_load(&ctx.stable_incs));
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    assert_int_equal(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), VIGIL_OK);
    int series = 0;
    for (const char *p = vigil_buffer_cstr(&b); (p = strstr(p, "\nchurn_total{")) != NULL; p++)
        series++;
    assert_int_equal(series, STABLE);
    vigil_buffer_free(&b);
}

static void *render_during_churn_no_check(void *arg)
{
    churn_arg *a = arg;
    while (!atomic_load_explicit(&a->ctx->stop, memory_order_relaxed)) {
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        if (vigil_expo_render(a->ctx->reg, VIGIL_FORMAT_OPENMETRICS, &b) != VIGIL_OK)
            worker_fail("render failed");
        vigil_buffer_free(&b);
        (void)vigil_registry_child_count(a->ctx->reg);
    }
    return NULL;
}

/* Clearing a family while other threads create children in it (they never use the handles
 * they get back: a cleared child's handle is invalid). */
static void *create_without_using(void *arg)
{
    churn_arg *a = arg;
    char v[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(v, sizeof v, "k%d_%d", a->id, i % 300);
        const char *vals[] = {v};
        vigil_counter *c;
        vigil_status st = vigil_family_counter(a->ctx->fam, 1, vals, &c);
        if (st != VIGIL_OK && st != VIGIL_ECARDINALITY)
            worker_fail("lookup during clear failed");
    }
    return NULL;
}

static void *clear_repeatedly(void *arg)
{
    churn_arg *a = arg;
    while (!atomic_load_explicit(&a->ctx->stop, memory_order_relaxed))
        vigil_family_clear(a->ctx->fam);
    return NULL;
}

static void test_clear_during_concurrent_child_creation(void **state)
{
    static churn_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.reg = *state;
    const char *labels[] = {"id"};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "cleared";
    o.label_names = labels;
    o.label_count = 1;
    o.max_children = 500;
    assert_int_equal(vigil_family_new(ctx.reg, VIGIL_COUNTER, &o, &ctx.fam), VIGIL_OK);
    enum { CREATORS = 4 };
    pthread_t creators[CREATORS], clearer, renderer;
    churn_arg args[CREATORS + 2];
    for (int i = 0; i < CREATORS; i++) {
        args[i] = (churn_arg){&ctx, i};
        start(&creators[i], create_without_using, &args[i]);
    }
    args[CREATORS] = (churn_arg){&ctx, 50};
    start(&clearer, clear_repeatedly, &args[CREATORS]);
    args[CREATORS + 1] = (churn_arg){&ctx, 51};
    start(&renderer, render_during_churn_no_check, &args[CREATORS + 1]);
    for (int i = 0; i < CREATORS; i++)
        join(creators[i]);
    atomic_store(&ctx.stop, true);
    join(clearer);
    join(renderer);
    assert_no_worker_failures();
    vigil_family_clear(ctx.fam);
    assert_int_equal(vigil_family_child_count(ctx.fam), 0);
    vigil_counter *c;
    assert_int_equal(vigil_family_counter(ctx.fam, VIGIL_VALUES("after"), &c), VIGIL_OK);
    assert_true(vigil_counter_value(c) == 0);
    assert_int_equal(vigil_family_child_count(ctx.fam), 1);
}

/* --- registration churn ---------------------------------------------------------------------- */

static void *register_and_unregister(void *arg)
{
    churn_arg *a = arg;
    char name[32];
    for (int i = 0; i < 3000; i++) {
        snprintf(name, sizeof name, "tmp_%d_%d", a->id, i % 10);
        vigil_metric_opts o;
        vigil_metric_opts_init(&o);
        o.name = name;
        vigil_gauge *g;
        if (vigil_gauge_new(a->ctx->reg, &o, &g) != VIGIL_OK) {
            worker_fail("registration failed");
            continue;
        }
        vigil_gauge_set(g, i);
        if (vigil_registry_unregister(a->ctx->reg, name) != VIGIL_OK)
            worker_fail("unregister failed");
    }
    return NULL;
}

static void *unregister_shared_name(void *arg)
{
    churn_arg *a = arg;
    for (int i = 0; i < 3000; i++) {
        vigil_status st = vigil_registry_unregister(a->ctx->reg, "contested");
        if (st == VIGIL_OK)
            atomic_fetch_add(&a->ctx->stable_incs, 1);
        else if (st != VIGIL_ENOTFOUND)
            worker_fail("unregister of a contested name gave an unexpected status");
    }
    return NULL;
}

static void *register_shared_name(void *arg)
{
    churn_arg *a = arg;
    for (int i = 0; i < 3000; i++) {
        vigil_metric_opts o;
        vigil_metric_opts_init(&o);
        o.name = "contested";
        vigil_counter *c;
        vigil_status st = vigil_counter_new(a->ctx->reg, &o, &c);
        if (st == VIGIL_OK)
            atomic_fetch_add(&a->ctx->stable_incs, -1);
        else if (st != VIGIL_EEXIST)
            worker_fail("registering a contested name gave an unexpected status");
    }
    return NULL;
}

static void test_registration_churn_with_concurrent_renders(void **state)
{
    static churn_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.reg = *state;
    enum { REG = 3, UNREG = 3 };
    pthread_t regs[REG], unregs[UNREG], contest_reg, renderer;
    churn_arg args[REG + UNREG + 2];
    args[REG + UNREG + 1] = (churn_arg){&ctx, 77};
    start(&renderer, render_during_churn_no_check, &args[REG + UNREG + 1]);
    for (int i = 0; i < REG; i++) {
        args[i] = (churn_arg){&ctx, i};
        start(&regs[i], register_and_unregister, &args[i]);
    }
    for (int i = 0; i < UNREG; i++) {
        args[REG + i] = (churn_arg){&ctx, 10 + i};
        start(&unregs[i], unregister_shared_name, &args[REG + i]);
    }
    args[REG + UNREG] = (churn_arg){&ctx, 20};
    start(&contest_reg, register_shared_name, &args[REG + UNREG]);
    for (int i = 0; i < REG; i++)
        join(regs[i]);
    for (int i = 0; i < UNREG; i++)
        join(unregs[i]);
    join(contest_reg);
    atomic_store(&ctx.stop, true);
    join(renderer);
    assert_no_worker_failures();
    /* Every successful registration of "contested" was unregistered at most once. */
    long balance = atomic_load(&ctx.stable_incs); /* unregistrations - registrations */
    bool present = vigil_registry_find(ctx.reg, "contested") != NULL;
    assert_int_equal(balance, present ? -1 : 0);
    for (int i = 0; i < REG; i++) {
        for (int k = 0; k < 10; k++) {
            char name[32];
            snprintf(name, sizeof name, "tmp_%d_%d", i, k);
            assert_null(vigil_registry_find(ctx.reg, name));
        }
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_registry, teardown_registry)
    const struct CMUnitTest tests[] = {
        T(test_counter_total_is_exact_with_two_threads),
        T(test_counter_total_is_exact_with_more_threads_than_exclusive_shards),
        T(test_fractional_and_whole_adds_from_many_threads_are_exact),
        T(test_counter_totals_stay_exact_when_threads_exit_and_shards_are_reused),
        T(test_gauge_adds_from_many_threads_are_not_lost),
        T(test_histogram_count_equals_inf_bucket_under_concurrent_observes),
        T(test_child_churn_with_concurrent_lookups_and_renders),
        T(test_clear_during_concurrent_child_creation),
        T(test_registration_churn_with_concurrent_renders),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
