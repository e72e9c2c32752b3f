/* snapshot.c — the console snapshot: a titled list of "Label: value" lines over counters,
 * gauges, trackers and callbacks, rendered on demand or by a printer thread.
 *
 * Why it is shaped so. A snapshot only reads what the caller's metrics and trackers already
 * expose through their public reads, so the recording hot path never sees it. The item list is
 * an array guarded by `lock`, taken by adders and by a render (which holds it while it formats,
 * so a label is never freed or moved under it); recorders never take it. The printer thread
 * sleeps on a condition variable with a deadline on CLOCK_MONOTONIC, so vigil_snapshot_stop
 * wakes it at once instead of waiting out the interval, and a wall-clock jump cannot stretch or
 * shorten an interval. Start and stop are serialised by `control`, which the printer never
 * takes, so a stop may hold it across the join. Formatting reuses report.c's helpers (durations
 * and rates in the same human units as the dashboard report).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "track/track_int.h"
#include "vigil/snapshot.h"

typedef enum item_kind {
    ITEM_COUNTER,
    ITEM_GAUGE,
    ITEM_LATENCY,
    ITEM_THROUGHPUT,
    ITEM_ERRORS,
    ITEM_VALUE,
} item_kind;

typedef struct item {
    item_kind kind;
    char *label; /* owned */
    union {
        vigil_counter *counter;
        vigil_gauge *gauge;
        vigil_latency *latency;
        vigil_throughput *throughput;
        vigil_errors *errors;
        struct {
            vigil_value_fn fn;
            void *user;
        } value;
    } u;
    unsigned seconds; /* throughput window */
    char *unit;       /* value unit, owned; NULL: none */
} item;

struct vigil_snapshot {
    char *title;       /* fixed at creation */
    uint64_t start_ns; /* fixed at creation: vigil__mono_ns() */

    pthread_mutex_t lock; /* guards items, count, cap */
    item *items;
    size_t count, cap;

    pthread_mutex_t control; /* serialises start/stop; guards thread, running, out, interval */
    pthread_t thread;
    bool running;
    FILE *out;
    double interval;

    pthread_mutex_t wake_lock; /* guards stop_requested; with wake */
    pthread_cond_t wake;       /* on CLOCK_MONOTONIC */
    bool stop_requested;
};

/* --- creation ------------------------------------------------------------------------------ */

static vigil_status check_label(const char *s, const char *what)
{
    if (s == NULL || *s == '\0')
        return vigil__fail(VIGIL_EINVAL, "snapshot %s is NULL or empty", what);
    size_t n = strlen(s);
    if (n > VIGIL_SNAPSHOT_LABEL_MAX)
        return vigil__fail(VIGIL_EINVAL, "snapshot %s longer than %d bytes", what,
                           VIGIL_SNAPSHOT_LABEL_MAX);
    if (!vigil__utf8_valid(s, n))
        return vigil__fail(VIGIL_EINVAL, "snapshot %s is not valid UTF-8", what);
    return VIGIL_OK;
}

vigil_status vigil_snapshot_new(const char *title, vigil_snapshot **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_snapshot_new: out is NULL");
    *out = NULL;
    vigil_status st = check_label(title, "title");
    if (st != VIGIL_OK)
        return st;
    vigil_snapshot *s = vigil__calloc(1, sizeof *s);
    if (s == NULL || (s->title = vigil__strdup(title)) == NULL) {
        vigil__free(s);
        return vigil__fail(VIGIL_ENOMEM, "out of memory for snapshot \"%s\"", title);
    }
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        ok = pthread_cond_init(&s->wake, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        vigil__free(s->title);
        vigil__free(s);
        return vigil__fail(VIGIL_ENOMEM, "cannot create the snapshot's condition variable");
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->control, NULL);
    pthread_mutex_init(&s->wake_lock, NULL);
    s->start_ns = vigil__mono_ns();
    *out = s;
    return VIGIL_OK;
}

void vigil_snapshot_free(vigil_snapshot *snap)
{
    if (snap == NULL)
        return;
    vigil_snapshot_stop(snap, false);
    for (size_t i = 0; i < snap->count; i++) {
        vigil__free(snap->items[i].label);
        vigil__free(snap->items[i].unit);
    }
    vigil__free(snap->items);
    pthread_cond_destroy(&snap->wake);
    pthread_mutex_destroy(&snap->wake_lock);
    pthread_mutex_destroy(&snap->control);
    pthread_mutex_destroy(&snap->lock);
    vigil__free(snap->title);
    vigil__free(snap);
}

/* --- items --------------------------------------------------------------------------------- */

/* Copies the label (and unit) and appends it; it owns its copies from here on. */
static vigil_status add_item(vigil_snapshot *snap, const char *label, bool has_target, item it,
                             const char *unit)
{
    if (snap == NULL || !has_target)
        return vigil__fail(VIGIL_EINVAL, "snapshot item: NULL snapshot or metric");
    vigil_status st = check_label(label, "label");
    if (st != VIGIL_OK)
        return st;
    it.label = vigil__strdup(label);
    it.unit = unit != NULL && *unit != '\0' ? vigil__strdup(unit) : NULL;
    if (it.label == NULL || (unit != NULL && *unit != '\0' && it.unit == NULL)) {
        vigil__free(it.label);
        vigil__free(it.unit);
        return vigil__fail(VIGIL_ENOMEM, "out of memory for snapshot item \"%s\"", label);
    }
    pthread_mutex_lock(&snap->lock);
    if (snap->count == snap->cap) {
        size_t cap = snap->cap ? snap->cap * 2 : 8;
        item *grown = vigil__realloc(snap->items, cap * sizeof *grown);
        if (grown == NULL) {
            pthread_mutex_unlock(&snap->lock);
            vigil__free(it.label);
            vigil__free(it.unit);
            return vigil__fail(VIGIL_ENOMEM, "out of memory for snapshot item \"%s\"", label);
        }
        snap->items = grown;
        snap->cap = cap;
    }
    snap->items[snap->count++] = it;
    pthread_mutex_unlock(&snap->lock);
    return VIGIL_OK;
}

vigil_status vigil_snapshot_add_counter(vigil_snapshot *snap, const char *label,
                                        vigil_counter *counter)
{
    item it = {.kind = ITEM_COUNTER, .u.counter = counter};
    return add_item(snap, label, counter != NULL, it, NULL);
}

vigil_status vigil_snapshot_add_gauge(vigil_snapshot *snap, const char *label, vigil_gauge *gauge)
{
    item it = {.kind = ITEM_GAUGE, .u.gauge = gauge};
    return add_item(snap, label, gauge != NULL, it, NULL);
}

vigil_status vigil_snapshot_add_latency(vigil_snapshot *snap, const char *label,
                                        vigil_latency *latency)
{
    item it = {.kind = ITEM_LATENCY, .u.latency = latency};
    return add_item(snap, label, latency != NULL, it, NULL);
}

vigil_status vigil_snapshot_add_throughput(vigil_snapshot *snap, const char *label,
                                           vigil_throughput *throughput, unsigned seconds)
{
    item it = {.kind = ITEM_THROUGHPUT,
               .u.throughput = throughput,
               .seconds = seconds ? seconds : VIGIL_SNAPSHOT_DEFAULT_RATE_WINDOW};
    return add_item(snap, label, throughput != NULL, it, NULL);
}

vigil_status vigil_snapshot_add_errors(vigil_snapshot *snap, const char *label,
                                       vigil_errors *errors)
{
    item it = {.kind = ITEM_ERRORS, .u.errors = errors};
    return add_item(snap, label, errors != NULL, it, NULL);
}

vigil_status vigil_snapshot_add_value(vigil_snapshot *snap, const char *label, vigil_value_fn fn,
                                      void *user, const char *unit)
{
    item it = {.kind = ITEM_VALUE, .u.value = {fn, user}};
    return add_item(snap, label, fn != NULL, it, unit);
}

/* --- rendering ----------------------------------------------------------------------------- */

/* A plain number for a person: integers without a fraction, others to 6 significant digits,
 * "-" for NaN and infinities. */
static void fmt_number(char *out, size_t n, double v)
{
    if (!isfinite(v))
        snprintf(out, n, "-");
    else if (fabs(v) < 1e15 && v == (double)(int64_t)v)
        snprintf(out, n, "%lld", (long long)v);
    else
        snprintf(out, n, "%.6g", v);
}

static vigil_status render_latency(vigil_buffer *b, vigil_latency *t)
{
    vigil_latency_stats s;
    vigil_status st = vigil_latency_read(t, VIGIL_SCOPE_RECENT, &s);
    if (st != VIGIL_OK)
        return st;
    if (s.count == 0)
        return vigil__bputf(b, "no data");
    char avg[32], p50[32], p95[32], p99[32];
    vigil__fmt_duration(avg, sizeof avg, s.avg);
    vigil__fmt_duration(p50, sizeof p50, s.p50);
    vigil__fmt_duration(p95, sizeof p95, s.p95);
    vigil__fmt_duration(p99, sizeof p99, s.p99);
    return vigil__bputf(b, "avg %s, p50 %s, p95 %s, p99 %s", avg, p50, p95, p99);
}

static vigil_status render_errors(vigil_buffer *b, vigil_errors *t)
{
    vigil_error_count top[VIGIL_SNAPSHOT_TOP_KINDS];
    size_t n = vigil_errors_top(t, top, VIGIL_SNAPSHOT_TOP_KINDS);
    vigil_status st = vigil__bputf(b, "%llu of %llu requests",
                                   (unsigned long long)vigil_errors_total(t),
                                   (unsigned long long)vigil_errors_requests(t));
    for (size_t i = 0; st == VIGIL_OK && i < n; i++)
        st = vigil__bputf(b, "%s%s %llu", i ? ", " : " (", top[i].kind,
                          (unsigned long long)top[i].count);
    if (st == VIGIL_OK && n > 0)
        st = vigil__bputf(b, ")");
    return st;
}

static vigil_status render_item(vigil_buffer *b, const item *it)
{
    char num[64];
    switch (it->kind) {
    case ITEM_COUNTER:
        fmt_number(num, sizeof num, vigil_counter_value(it->u.counter));
        return vigil__bputf(b, "%s", num);
    case ITEM_GAUGE:
        fmt_number(num, sizeof num, vigil_gauge_value(it->u.gauge));
        return vigil__bputf(b, "%s", num);
    case ITEM_LATENCY:
        return render_latency(b, it->u.latency);
    case ITEM_THROUGHPUT:
        vigil__fmt_rate(num, sizeof num, vigil_throughput_recent_rate(it->u.throughput,
                                                                      it->seconds));
        return vigil__bputf(b, "%s ops/s (last %u s)", num, it->seconds);
    case ITEM_ERRORS:
        return render_errors(b, it->u.errors);
    case ITEM_VALUE:
        fmt_number(num, sizeof num, it->u.value.fn(it->u.value.user));
        return vigil__bputf(b, "%s%s%s", num, it->unit ? " " : "", it->unit ? it->unit : "");
    }
    return vigil__fail(VIGIL_EINVAL, "snapshot item of unknown kind");
}

/* "label:" padded so every value starts in the same column. */
static vigil_status render_label(vigil_buffer *b, const char *label, size_t width)
{
    vigil_status st = vigil__bputf(b, "%s:", label);
    for (size_t w = vigil__text_width(label); st == VIGIL_OK && w <= width; w++)
        st = vigil_buffer_append(b, " ", 1);
    return st;
}

static const char UPTIME[] = "Uptime";

vigil_status vigil_snapshot_render(vigil_snapshot *snap, vigil_buffer *out)
{
    if (snap == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_snapshot_render: NULL argument");
    size_t before = out->len;
    char uptime[32];
    vigil__fmt_duration(uptime, sizeof uptime,
                        (double)(vigil__mono_ns() - snap->start_ns) / 1e9);

    pthread_mutex_lock(&snap->lock);
    size_t width = vigil__text_width(UPTIME);
    for (size_t i = 0; i < snap->count; i++) {
        size_t w = vigil__text_width(snap->items[i].label);
        width = w > width ? w : width;
    }
    vigil_status st = vigil__bputf(out, "=== %s ===\n", snap->title);
    for (size_t i = 0; st == VIGIL_OK && i < snap->count; i++) {
        st = render_label(out, snap->items[i].label, width);
        if (st == VIGIL_OK)
            st = render_item(out, &snap->items[i]);
        if (st == VIGIL_OK)
            st = vigil_buffer_append(out, "\n", 1);
    }
    pthread_mutex_unlock(&snap->lock);

    if (st == VIGIL_OK)
        st = render_label(out, UPTIME, width);
    if (st == VIGIL_OK)
        st = vigil__bputf(out, "%s\n", uptime);
    if (st == VIGIL_OK)
        st = vigil__brule(out, '=', vigil__text_width(snap->title) + 8);
    if (st != VIGIL_OK) {
        out->len = before;
        if (out->data != NULL && out->cap > before)
            out->data[before] = '\0';
    }
    return st;
}

/* --- printer thread ------------------------------------------------------------------------ */

/* Renders and writes one snapshot; a failed render or write is skipped (the next may work). */
static void print_once(vigil_snapshot *snap, FILE *out)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    if (vigil_snapshot_render(snap, &b) == VIGIL_OK && b.len > 0) {
        fwrite(b.data, 1, b.len, out);
        fflush(out);
    }
    vigil_buffer_free(&b);
}

static void add_seconds(struct timespec *ts, double seconds)
{
    double whole = floor(seconds);
    ts->tv_sec += (time_t)whole;
    ts->tv_nsec += (long)((seconds - whole) * 1e9);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static void *printer_main(void *arg)
{
    vigil_snapshot *snap = arg;
    /* out and interval are written by start before the thread exists and not again until the
     * join, so reading them here without `control` is safe. */
    FILE *out = snap->out;
    double interval = snap->interval;
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    pthread_mutex_lock(&snap->wake_lock);
    for (;;) {
        add_seconds(&deadline, interval);
        while (!snap->stop_requested &&
               pthread_cond_timedwait(&snap->wake, &snap->wake_lock, &deadline) != ETIMEDOUT) {
        }
        if (snap->stop_requested)
            break;
        pthread_mutex_unlock(&snap->wake_lock);
        print_once(snap, out);
        pthread_mutex_lock(&snap->wake_lock);
        /* After a long stall (a suspended process, a slow stream), restart the schedule rather
         * than printing a burst to catch up. */
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > deadline.tv_sec + (time_t)interval + 1)
            deadline = now;
    }
    pthread_mutex_unlock(&snap->wake_lock);
    return NULL;
}

vigil_status vigil_snapshot_start(vigil_snapshot *snap, double interval_seconds, FILE *out)
{
    if (snap == NULL)
        return vigil__fail(VIGIL_EINVAL, "vigil_snapshot_start: snapshot is NULL");
    if (!(interval_seconds >= 0) || !isfinite(interval_seconds))
        return vigil__fail(VIGIL_EINVAL, "snapshot interval must be finite and >= 0");
    pthread_mutex_lock(&snap->control);
    if (snap->running) {
        pthread_mutex_unlock(&snap->control);
        return vigil__fail(VIGIL_ESTATE, "snapshot \"%s\" is already printing", snap->title);
    }
    snap->out = out ? out : stdout;
    snap->interval = interval_seconds > 0 ? interval_seconds : VIGIL_SNAPSHOT_DEFAULT_INTERVAL;
    pthread_mutex_lock(&snap->wake_lock);
    snap->stop_requested = false;
    pthread_mutex_unlock(&snap->wake_lock);
    int rc = pthread_create(&snap->thread, NULL, printer_main, snap);
    snap->running = rc == 0;
    pthread_mutex_unlock(&snap->control);
    if (rc != 0)
        return vigil__fail(VIGIL_ENOMEM, "cannot start the snapshot printer: %s", strerror(rc));
    return VIGIL_OK;
}

void vigil_snapshot_stop(vigil_snapshot *snap, bool final_print)
{
    if (snap == NULL)
        return;
    pthread_mutex_lock(&snap->control);
    if (snap->running) {
        pthread_mutex_lock(&snap->wake_lock);
        snap->stop_requested = true;
        pthread_cond_signal(&snap->wake);
        pthread_mutex_unlock(&snap->wake_lock);
        pthread_join(snap->thread, NULL);
        snap->running = false;
        if (final_print)
            print_once(snap, snap->out);
    }
    pthread_mutex_unlock(&snap->control);
}

bool vigil_snapshot_running(vigil_snapshot *snap)
{
    if (snap == NULL)
        return false;
    pthread_mutex_lock(&snap->control);
    bool running = snap->running;
    pthread_mutex_unlock(&snap->control);
    return running;
}
