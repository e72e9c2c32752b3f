/* dashboard.c — a named service's operations, their status, and their exposition.
 *
 * An operation is three trackers under one name. Operations are only ever added: they sit in a
 * fixed array of atomic pointers with a published count, so finding one by name (a linear scan
 * of at most max_operations names) takes no lock, and creating one takes `lock`. Everything
 * that reads the trackers for a verdict (status, the two reports, a scrape) takes `read_lock`,
 * which guards the two scratch sketches the recent-window reads merge into; recorders never
 * take either lock.
 *
 * Status is judged on the recent window only, so a service recovers from a bad minute once the
 * minute has passed: error rate from the error tracker's per-second rings (the dashboard's
 * clock), p99 from the latency window.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "track/track_int.h"

VIGIL_API const char *vigil_health_name(vigil_health h)
{
    switch (h) {
    case VIGIL_HEALTHY: return "healthy";
    case VIGIL_DEGRADED: return "degraded";
    case VIGIL_UNHEALTHY: return "unhealthy";
    }
    return "unknown";
}

VIGIL_API void vigil_dashboard_opts_init(vigil_dashboard_opts *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->degraded_error_rate = 0.01;
    opts->unhealthy_error_rate = 0.05;
    opts->min_requests = 1;
    opts->window_seconds = 60;
    opts->max_operations = VIGIL_DASHBOARD_DEFAULT_MAX_OPERATIONS;
}

double vigil__load_double(_Atomic uint64_t *bits)
{
    uint64_t u = atomic_load_explicit(bits, memory_order_relaxed);
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static void store_double(_Atomic uint64_t *bits, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    atomic_store_explicit(bits, u, memory_order_relaxed);
}

static bool name_ok(const char *name)
{
    if (name == NULL)
        return false;
    size_t len = strnlen(name, VIGIL_DASHBOARD_NAME_MAX + 1);
    return len > 0 && len <= VIGIL_DASHBOARD_NAME_MAX && vigil__utf8_valid(name, len);
}

static bool threshold_ok(double v)
{
    return v >= 0 && isfinite(v);
}

static vigil_status collect(vigil_emitter *em, void *user);
static const char *const dashboard_suffixes[] = {
    "_duration_seconds",       "_duration_seconds_sum", "_duration_seconds_count",
    "_duration_min_seconds",   "_duration_max_seconds", "_operations_total",
    "_operations_per_second",  "_errors_total",         "_health_status",
    "_operation_health_status"};

VIGIL_API vigil_status vigil_dashboard_new(const char *service, const vigil_dashboard_opts *opts,
                                           vigil_dashboard **out)
{
    if (out == NULL || !name_ok(service))
        return vigil__fail(VIGIL_EINVAL,
                           "a dashboard needs a service name of 1..%d bytes of "
                           "UTF-8",
                           VIGIL_DASHBOARD_NAME_MAX);
    vigil_dashboard_opts o;
    if (opts == NULL)
        vigil_dashboard_opts_init(&o);
    else
        o = *opts;
    if (o.window_seconds == 0)
        o.window_seconds = 60;
    if (o.max_operations == 0)
        o.max_operations = VIGIL_DASHBOARD_DEFAULT_MAX_OPERATIONS;
    if (!threshold_ok(o.degraded_error_rate) || !threshold_ok(o.unhealthy_error_rate) ||
        !threshold_ok(o.degraded_p99_seconds) || !threshold_ok(o.unhealthy_p99_seconds))
        return vigil__fail(VIGIL_EINVAL, "thresholds must be finite and >= 0");
    if (o.window_seconds > VIGIL_TRACK_MAX_WINDOW)
        return vigil__fail(VIGIL_EINVAL, "window %u s is above %d s", o.window_seconds,
                           VIGIL_TRACK_MAX_WINDOW);
    if (o.max_operations > VIGIL_DASHBOARD_MAX_OPERATIONS)
        return vigil__fail(VIGIL_EINVAL, "max_operations %zu is above %d", o.max_operations,
                           VIGIL_DASHBOARD_MAX_OPERATIONS);
    if (o.max_error_kinds > VIGIL_ERRORS_MAX_KINDS)
        return vigil__fail(VIGIL_EINVAL, "max_error_kinds %zu is above %d", o.max_error_kinds,
                           VIGIL_ERRORS_MAX_KINDS);
    if (o.max_error_kinds == 0)
        o.max_error_kinds = VIGIL_ERRORS_DEFAULT_MAX_KINDS;

    vigil_dashboard *d = vigil__calloc(1, sizeof *d);
    if (d == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a dashboard");
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->read_lock, NULL);
    vigil__clock_init(&d->clock, o.clock, o.clock_user);
    d->opts = o;
    d->opts.registry = NULL;
    d->opts.name = NULL;
    vigil_status st = VIGIL_OK;
    d->service = vigil__strdup(service);
    d->ops = vigil__calloc(o.max_operations, sizeof *d->ops);
    if (d->service == NULL || d->ops == NULL)
        st = vigil__fail(VIGIL_ENOMEM, "out of memory creating a dashboard");
    for (int i = 0; st == VIGIL_OK && i < 2; i++)
        st = vigil_sketch_new(&d->scratch[i]);
    if (st == VIGIL_OK && o.registry != NULL)
        st = vigil__link_add(&d->link, o.registry, "dashboard", o.name, NULL, dashboard_suffixes,
                             sizeof dashboard_suffixes / sizeof(char *), collect, d);
    if (st != VIGIL_OK) {
        vigil_dashboard_free(d);
        return st;
    }
    *out = d;
    return VIGIL_OK;
}

static void free_op(vigil_operation *op)
{
    if (op == NULL)
        return;
    vigil_latency_free(op->latency);
    vigil_errors_free(op->errors);
    vigil_throughput_free(op->throughput);
    vigil__free(op->name);
    vigil__free(op);
}

VIGIL_API void vigil_dashboard_free(vigil_dashboard *d)
{
    if (d == NULL)
        return;
    vigil__link_remove(&d->link);
    size_t n = atomic_load_explicit(&d->op_count, memory_order_acquire);
    for (size_t i = 0; i < n; i++)
        free_op(atomic_load_explicit(&d->ops[i], memory_order_relaxed));
    vigil_sketch_free(d->scratch[0]);
    vigil_sketch_free(d->scratch[1]);
    vigil__free((void *)d->ops);
    vigil__free(d->service);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->read_lock);
    vigil__free(d);
}

size_t vigil__dashboard_op_count(vigil_dashboard *d)
{
    return atomic_load_explicit(&d->op_count, memory_order_acquire);
}

vigil_operation *vigil__dashboard_op(vigil_dashboard *d, size_t i)
{
    return atomic_load_explicit(&d->ops[i], memory_order_relaxed);
}

VIGIL_API size_t vigil_dashboard_operation_count(vigil_dashboard *d)
{
    return d ? vigil__dashboard_op_count(d) : 0;
}

static vigil_operation *find_op(vigil_dashboard *d, const char *name)
{
    size_t n = vigil__dashboard_op_count(d);
    for (size_t i = 0; i < n; i++) {
        vigil_operation *op = vigil__dashboard_op(d, i);
        if (strcmp(op->name, name) == 0)
            return op;
    }
    return NULL;
}

static vigil_status new_op(vigil_dashboard *d, const char *name, vigil_operation **out)
{
    vigil_operation *op = vigil__calloc(1, sizeof *op);
    if (op == NULL || (op->name = vigil__strdup(name)) == NULL) {
        vigil__free(op);
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating operation \"%s\"", name);
    }
    unsigned ring = d->opts.window_seconds > VIGIL_TRACK_DEFAULT_WINDOW
                        ? d->opts.window_seconds
                        : VIGIL_TRACK_DEFAULT_WINDOW;
    vigil_status st = vigil__latency_new_plain((double)d->opts.window_seconds,
                                               VIGIL_LATENCY_DEFAULT_WINDOW_BUCKETS, &op->latency);
    if (st == VIGIL_OK) {
        vigil_errors_opts eo;
        vigil_errors_opts_init(&eo);
        eo.max_kinds = d->opts.max_error_kinds;
        eo.window_seconds = ring;
        eo.clock = d->opts.clock;
        eo.clock_user = d->opts.clock_user;
        st = vigil_errors_new(&eo, &op->errors);
    }
    if (st == VIGIL_OK) {
        vigil_throughput_opts to;
        vigil_throughput_opts_init(&to);
        to.window_seconds = ring;
        to.clock = d->opts.clock;
        to.clock_user = d->opts.clock_user;
        st = vigil_throughput_new(&to, &op->throughput);
    }
    if (st != VIGIL_OK) {
        free_op(op);
        return st;
    }
    op->dashboard = d;
    store_double(&op->degraded_p99_bits, d->opts.degraded_p99_seconds);
    store_double(&op->unhealthy_p99_bits, d->opts.unhealthy_p99_seconds);
    *out = op;
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_dashboard_operation(vigil_dashboard *d, const char *name,
                                                 vigil_operation **out)
{
    if (d == NULL || out == NULL || !name_ok(name))
        return vigil__fail(VIGIL_EINVAL, "an operation needs a name of 1..%d bytes of UTF-8",
                           VIGIL_DASHBOARD_NAME_MAX);
    vigil_operation *op = find_op(d, name);
    if (op != NULL) {
        *out = op;
        return VIGIL_OK;
    }
    vigil_status st = VIGIL_OK;
    pthread_mutex_lock(&d->lock);
    op = find_op(d, name);
    if (op == NULL) {
        size_t n = atomic_load_explicit(&d->op_count, memory_order_relaxed);
        if (n >= d->opts.max_operations) {
            st = vigil__fail(VIGIL_ELIMIT, "dashboard \"%s\" already has %zu operations",
                             d->service, n);
        } else {
            st = new_op(d, name, &op);
            if (st == VIGIL_OK) {
                atomic_store_explicit(&d->ops[n], op, memory_order_relaxed);
                atomic_store_explicit(&d->op_count, n + 1, memory_order_release);
            }
        }
    }
    pthread_mutex_unlock(&d->lock);
    if (st == VIGIL_OK)
        *out = op;
    return st;
}

VIGIL_API void vigil_operation_record(vigil_operation *op, double seconds, const char *error_kind)
{
    vigil_latency_record(op->latency, seconds);
    if (error_kind == NULL)
        vigil_errors_record_success(op->errors);
    else
        vigil_errors_record_error(op->errors, error_kind);
    vigil_throughput_record(op->throughput);
}

VIGIL_API vigil_status vigil_dashboard_record(vigil_dashboard *d, const char *operation,
                                              double seconds, const char *error_kind)
{
    vigil_operation *op;
    vigil_status st = vigil_dashboard_operation(d, operation, &op);
    if (st == VIGIL_OK)
        vigil_operation_record(op, seconds, error_kind);
    return st;
}

VIGIL_API vigil_status vigil_operation_set_p99_thresholds(vigil_operation *op, double degraded,
                                                          double unhealthy)
{
    if (op == NULL || !threshold_ok(degraded) || !threshold_ok(unhealthy))
        return vigil__fail(VIGIL_EINVAL, "p99 thresholds must be finite and >= 0");
    store_double(&op->degraded_p99_bits, degraded);
    store_double(&op->unhealthy_p99_bits, unhealthy);
    return VIGIL_OK;
}

VIGIL_API const char *vigil_operation_name(const vigil_operation *op)
{
    return op->name;
}

VIGIL_API vigil_latency *vigil_operation_latency(vigil_operation *op)
{
    return op->latency;
}

VIGIL_API vigil_errors *vigil_operation_errors(vigil_operation *op)
{
    return op->errors;
}

VIGIL_API vigil_throughput *vigil_operation_throughput(vigil_operation *op)
{
    return op->throughput;
}

/* --- status -------------------------------------------------------------------------------- */

static vigil_health worse(vigil_health a, vigil_health b)
{
    return a > b ? a : b;
}

static vigil_health judge(const vigil_dashboard *d, vigil_operation *op, uint64_t requests,
                          uint64_t errors, double p99)
{
    vigil_health h = VIGIL_HEALTHY;
    uint64_t min = d->opts.min_requests ? d->opts.min_requests : 1;
    if (requests >= min) {
        double rate = (double)errors / (double)requests;
        if (rate > d->opts.unhealthy_error_rate)
            h = VIGIL_UNHEALTHY;
        else if (rate > d->opts.degraded_error_rate)
            h = VIGIL_DEGRADED;
    }
    if (!isnan(p99)) {
        double bad = vigil__load_double(&op->unhealthy_p99_bits);
        double slow = vigil__load_double(&op->degraded_p99_bits);
        if (bad > 0 && p99 > bad)
            h = VIGIL_UNHEALTHY;
        else if (slow > 0 && p99 > slow)
            h = worse(h, VIGIL_DEGRADED);
    }
    return h;
}

void vigil__op_view_read(vigil_dashboard *d, vigil_operation *op, vigil__op_view *v)
{
    unsigned w = d->opts.window_seconds;
    memset(v, 0, sizeof *v);
    v->op = op;
    /* Errors before successes and ring reads errors-first: errors never exceed requests. */
    v->errors = vigil_errors_total(op->errors);
    v->successes = vigil_errors_successes(op->errors);
    vigil_errors_recent(op->errors, w, &v->recent_requests, &v->recent_errors);
    v->ops_total = vigil_throughput_total(op->throughput);
    v->ops_rate_total = vigil_throughput_rate(op->throughput);
    v->ops_recent = vigil_throughput_recent_count(op->throughput, w);
    v->ops_rate_recent = vigil_throughput_recent_rate(op->throughput, w);
    vigil__latency_read_with(op->latency, VIGIL_SCOPE_ALL, NULL, &v->lat_all);
    if (vigil__latency_read_with(op->latency, VIGIL_SCOPE_RECENT, d->scratch[0], &v->lat_recent) !=
        VIGIL_OK) {
        vigil_sketch_reset(d->scratch[0]); /* cannot fail with a scratch; read as empty */
        vigil__latency_stats_from(d->scratch[0], &v->lat_recent);
    }
    v->status = judge(d, op, v->recent_requests, v->recent_errors, v->lat_recent.p99);
}

static vigil_health op_status_locked(vigil_dashboard *d, vigil_operation *op)
{
    uint64_t requests, errors;
    vigil_errors_recent(op->errors, d->opts.window_seconds, &requests, &errors);
    double p99 = NAN;
    vigil_latency_stats s;
    if (vigil__latency_read_with(op->latency, VIGIL_SCOPE_RECENT, d->scratch[0], &s) == VIGIL_OK)
        p99 = s.p99;
    return judge(d, op, requests, errors, p99);
}

VIGIL_API vigil_health vigil_operation_status(vigil_operation *op)
{
    vigil_dashboard *d = op->dashboard;
    pthread_mutex_lock(&d->read_lock);
    vigil_health h = op_status_locked(d, op);
    pthread_mutex_unlock(&d->read_lock);
    return h;
}

VIGIL_API vigil_health vigil_dashboard_status(vigil_dashboard *d)
{
    if (d == NULL)
        return VIGIL_HEALTHY;
    vigil_health h = VIGIL_HEALTHY;
    pthread_mutex_lock(&d->read_lock);
    size_t n = vigil__dashboard_op_count(d);
    for (size_t i = 0; i < n; i++)
        h = worse(h, op_status_locked(d, vigil__dashboard_op(d, i)));
    pthread_mutex_unlock(&d->read_lock);
    return h;
}

/* --- exposition ---------------------------------------------------------------------------- */

struct kind_ctx {
    vigil_emitter *em;
    const char *op;
};

static vigil_status emit_kind(void *ctx, const char *kind, uint64_t count)
{
    struct kind_ctx *k = ctx;
    vigil_label l[2] = {{"operation", k->op}, {"kind", kind}};
    return vigil_emit_sample(k->em, l, 2, (double)count);
}

static vigil_status emit_ops(vigil_dashboard *d, vigil_emitter *em, const char *base,
                             vigil__op_view *views, const vigil_label *labels,
                             vigil__latency_item *items, size_t n)
{
    char name[256], help[512], lbase[256];
    vigil__join(lbase, sizeof lbase, base, "_duration");
    for (size_t i = 0; i < n; i++)
        items[i] = (vigil__latency_item){views[i].op->latency, &labels[i], 1};
    snprintf(help, sizeof help,
             "Duration of %s operations in seconds: quantiles over the "
             "last %u s, sum and count since start.",
             d->service, d->opts.window_seconds);
    vigil_status st = vigil__latency_emit(em, lbase, help, items, n, d->scratch[0]);
    if (st != VIGIL_OK)
        return st;

    vigil__join(name, sizeof name, base, "_operations");
    snprintf(help, sizeof help, "Operations of %s recorded since start.", d->service);
    vigil_family_desc ops = {name, help, NULL, VIGIL_COUNTER};
    st = vigil_emit_family(em, &ops);
    for (size_t i = 0; st == VIGIL_OK && i < n; i++)
        st = vigil_emit_sample(em, &labels[i], 1, (double)views[i].ops_total);

    vigil__join(name, sizeof name, base, "_operations_per_second");
    snprintf(help, sizeof help, "Operations of %s per second over the last %u s.", d->service,
             d->opts.window_seconds);
    vigil_family_desc rate = {name, help, NULL, VIGIL_GAUGE};
    if (st == VIGIL_OK)
        st = vigil_emit_family(em, &rate);
    for (size_t i = 0; st == VIGIL_OK && i < n; i++)
        st = vigil_emit_sample(em, &labels[i], 1, views[i].ops_rate_recent);

    vigil__join(name, sizeof name, base, "_errors");
    snprintf(help, sizeof help, "Failed operations of %s by operation and error kind.", d->service);
    vigil_family_desc errs = {name, help, NULL, VIGIL_COUNTER};
    if (st == VIGIL_OK)
        st = vigil_emit_family(em, &errs);
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        struct kind_ctx k = {em, views[i].op->name};
        st = vigil__errors_each(views[i].op->errors, emit_kind, &k);
    }

    vigil__join(name, sizeof name, base, "_operation_health_status");
    snprintf(help, sizeof help,
             "Status of each %s operation over the last %u s: 0 healthy, "
             "1 degraded, 2 unhealthy.",
             d->service, d->opts.window_seconds);
    vigil_family_desc oh = {name, help, NULL, VIGIL_GAUGE};
    if (st == VIGIL_OK)
        st = vigil_emit_family(em, &oh);
    for (size_t i = 0; st == VIGIL_OK && i < n; i++)
        st = vigil_emit_sample(em, &labels[i], 1, (double)views[i].status);
    return st;
}

static vigil_status collect(vigil_emitter *em, void *user)
{
    vigil_dashboard *d = user;
    vigil__op_view *views = NULL;
    vigil_label *labels = NULL;
    vigil__latency_item *items = NULL;
    size_t n = vigil__dashboard_op_count(d);
    if (n > 0) {
        views = vigil__calloc(n, sizeof *views);
        labels = vigil__calloc(n, sizeof *labels);
        items = vigil__calloc(n, sizeof *items);
        if (views == NULL || labels == NULL || items == NULL) {
            vigil__free(views);
            vigil__free(labels);
            vigil__free(items);
            return vigil__fail(VIGIL_ENOMEM, "out of memory collecting dashboard \"%s\"",
                               d->service);
        }
    }
    pthread_mutex_lock(&d->read_lock);
    vigil_health overall = VIGIL_HEALTHY;
    for (size_t i = 0; i < n; i++) {
        vigil__op_view_read(d, vigil__dashboard_op(d, i), &views[i]);
        labels[i] = (vigil_label){"operation", views[i].op->name};
        overall = worse(overall, views[i].status);
    }
    vigil_status st = emit_ops(d, em, d->link.base, views, labels, items, n);
    pthread_mutex_unlock(&d->read_lock);
    if (st == VIGIL_OK) {
        char name[256], help[512];
        vigil__join(name, sizeof name, d->link.base, "_health_status");
        snprintf(help, sizeof help,
                 "Status of %s (its worst operation) over the last %u s: "
                 "0 healthy, 1 degraded, 2 unhealthy.",
                 d->service, d->opts.window_seconds);
        vigil_family_desc h = {name, help, NULL, VIGIL_GAUGE};
        st = vigil_emit_family(em, &h);
        if (st == VIGIL_OK)
            st = vigil_emit_sample(em, NULL, 0, (double)overall);
    }
    vigil__free(views);
    vigil__free(labels);
    vigil__free(items);
    return st;
}
