/* report.c — the dashboard as text for a terminal and as JSON.
 *
 * Both reports read every operation once (vigil__op_view_read, under the dashboard's read_lock)
 * and then only format, so what they print is one consistent-enough picture even while
 * recorders carry on. The text report aligns its columns by display width, not bytes (µs and
 * operation names may be multi-byte UTF-8). Neither report ever prints a NaN or an infinity as
 * a number: the text says "-" or "no data", the JSON says null. On failure the buffer is put
 * back to its length before the call.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "track/track_int.h"

/* --- buffer helpers (vigil__bputf, vigil__text_width, vigil__brule are shared: snapshot.c) -- */

vigil_status vigil__bputf(vigil_buffer *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return vigil__fail(VIGIL_EINVAL, "report formatting failed");
    char *p;
    vigil_status st = vigil__buf_reserve(b, (size_t)n + 1, &p);
    if (st != VIGIL_OK)
        return st;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return VIGIL_OK;
}

static vigil_status bputs(vigil_buffer *b, const char *s)
{
    return vigil_buffer_append(b, s, strlen(s));
}

/* Display width of UTF-8 text: one column per code point (no wide characters expected). */
size_t vigil__text_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* s padded with spaces to `width` columns, on the left (right-aligned) or the right. */
static vigil_status bcell(vigil_buffer *b, const char *s, size_t width, bool right)
{
    size_t w = vigil__text_width(s);
    size_t pad = w < width ? width - w : 0;
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; right && st == VIGIL_OK && i < pad; i++)
        st = vigil_buffer_append(b, " ", 1);
    if (st == VIGIL_OK)
        st = bputs(b, s);
    for (size_t i = 0; !right && st == VIGIL_OK && i < pad; i++)
        st = vigil_buffer_append(b, " ", 1);
    return st;
}

vigil_status vigil__brule(vigil_buffer *b, char c, size_t n)
{
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; st == VIGIL_OK && i < n; i++)
        st = vigil_buffer_append(b, &c, 1);
    return st == VIGIL_OK ? vigil_buffer_append(b, "\n", 1) : st;
}

/* --- number formatting --------------------------------------------------------------------- */

void vigil__fmt_duration(char *out, size_t n, double s)
{
    if (!(s >= 0) || !isfinite(s)) {
        snprintf(out, n, "-");
        return;
    }
    /* Each unit is used while the value rounds to below 1000 of it (so 999.96 µs is 1.0 ms). */
    static const struct {
        double scale;
        const char *unit;
        double below;
        const char *fmt;
    } units[] = {
        {1e-9, "ns", 999.95e-9, "%.1f %s"}, {1e-6, "µs", 999.95e-6, "%.1f %s"},
        {1e-3, "ms", 999.95e-3, "%.1f %s"}, {1, "s", 59.995, "%.2f %s"},
        {60, "min", 3597.0, "%.1f %s"},     {3600, "h", 86220.0, "%.1f %s"},
    };
    if (s == 0) {
        snprintf(out, n, "0 s");
        return;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (s < units[i].below) {
            snprintf(out, n, units[i].fmt, s / units[i].scale, units[i].unit);
            return;
        }
    }
    double days = s / 86400;
    snprintf(out, n, days < 99999.5 ? "%.1f d" : "%.3g d", days);
}

void vigil__fmt_rate(char *out, size_t n, double r)
{
    if (!(r >= 0) || !isfinite(r))
        snprintf(out, n, "-");
    else
        snprintf(out, n, r < 9999999.5 ? "%.1f" : "%.3g", r);
}

static void fmt_percent(char *out, size_t n, uint64_t part, uint64_t whole)
{
    if (whole == 0)
        snprintf(out, n, "-");
    else
        snprintf(out, n, "%.2f%%", 100.0 * (double)part / (double)whole);
}

/* --- reading ------------------------------------------------------------------------------- */

typedef struct overall {
    vigil_health status;
    uint64_t ops_total, ops_recent, successes, errors, recent_requests, recent_errors;
    double ops_rate_recent;
    vigil_latency_stats lat_all, lat_recent;
    double uptime;
} overall;

/* Reads every operation and the overall figures. views is allocated (NULL when there are no
 * operations); read_lock is taken and released here. */
static vigil_status read_all(vigil_dashboard *d, vigil__op_view **views_out, size_t *n_out,
                             overall *o)
{
    size_t n = vigil__dashboard_op_count(d);
    vigil__op_view *views = NULL;
    if (n > 0 && (views = vigil__calloc(n, sizeof *views)) == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory for the report of \"%s\"", d->service);
    memset(o, 0, sizeof *o);
    o->uptime = (double)vigil__clock_elapsed_ns(&d->clock) / 1e9;
    pthread_mutex_lock(&d->read_lock);
    for (size_t i = 0; i < n; i++) {
        vigil__op_view *v = &views[i];
        vigil__op_view_read(d, vigil__dashboard_op(d, i), v);
        if (v->status > o->status)
            o->status = v->status;
        o->ops_total += v->ops_total;
        o->ops_recent += v->ops_recent;
        o->ops_rate_recent += v->ops_rate_recent;
        o->successes += v->successes;
        o->errors += v->errors;
        o->recent_requests += v->recent_requests;
        o->recent_errors += v->recent_errors;
    }
    /* Overall latency: every operation's sketches merged (scratch[1] collects, scratch[0] is the
     * temporary a window read needs). */
    vigil_status st = VIGIL_OK;
    for (int scope = 0; st == VIGIL_OK && scope < 2; scope++) {
        vigil_sketch_reset(d->scratch[1]);
        for (size_t i = 0; st == VIGIL_OK && i < n; i++)
            st = vigil__latency_merge_into(views[i].op->latency, (vigil_scope)scope, d->scratch[1],
                                           d->scratch[0]);
        vigil__latency_stats_from(d->scratch[1],
                                  scope == VIGIL_SCOPE_ALL ? &o->lat_all : &o->lat_recent);
    }
    pthread_mutex_unlock(&d->read_lock);
    if (st != VIGIL_OK) {
        vigil__free(views);
        return st;
    }
    *views_out = views;
    *n_out = n;
    return VIGIL_OK;
}

static bool has_data(const vigil__op_view *v)
{
    return v->ops_total || v->successes || v->errors || v->lat_all.count;
}

/* --- text ---------------------------------------------------------------------------------- */

enum { W_STATUS = 9, W_TOTAL = 10, W_RATE = 10, W_ERR = 8, W_LAT = 10 };

static vigil_status text_row(vigil_buffer *b, size_t wname, const char *name, vigil_health status,
                             uint64_t total, double rate, uint64_t recent_errors,
                             uint64_t recent_requests, const vigil_latency_stats *lat)
{
    char cell[64];
    vigil_status st = bputs(b, "  ");
    if (st == VIGIL_OK)
        st = bcell(b, name, wname, false);
    if (st == VIGIL_OK)
        st = bputs(b, "  ");
    if (st == VIGIL_OK)
        st = bcell(b, vigil_health_name(status), W_STATUS, false);
    snprintf(cell, sizeof cell, "%llu", (unsigned long long)total);
    if (st == VIGIL_OK)
        st = bcell(b, cell, W_TOTAL, true);
    vigil__fmt_rate(cell, sizeof cell, rate);
    if (st == VIGIL_OK)
        st = bcell(b, cell, W_RATE, true);
    fmt_percent(cell, sizeof cell, recent_errors, recent_requests);
    if (st == VIGIL_OK)
        st = bcell(b, cell, W_ERR, true);
    const double lats[4] = {lat->avg, lat->p50, lat->p95, lat->p99};
    for (int i = 0; st == VIGIL_OK && i < 4; i++) {
        vigil__fmt_duration(cell, sizeof cell, lat->count ? lats[i] : NAN);
        st = bcell(b, cell, W_LAT, true);
    }
    return st == VIGIL_OK ? bputs(b, "\n") : st;
}

struct top_entry {
    const char *op;
    vigil_error_count e;
};

#define TOP_ERRORS 5

static vigil_status text_top_errors(vigil_buffer *b, const vigil__op_view *views, size_t n)
{
    struct top_entry top[TOP_ERRORS];
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        vigil_error_count mine[TOP_ERRORS];
        size_t m = vigil_errors_top(views[i].op->errors, mine, TOP_ERRORS);
        for (size_t k = 0; k < m; k++) {
            struct top_entry t = {views[i].op->name, mine[k]};
            size_t j = count < TOP_ERRORS ? count++ : TOP_ERRORS;
            if (j == TOP_ERRORS) {
                if (t.e.count <= top[TOP_ERRORS - 1].e.count)
                    continue;
                j = TOP_ERRORS - 1;
            }
            while (j > 0 && t.e.count > top[j - 1].e.count) {
                top[j] = top[j - 1];
                j--;
            }
            top[j] = t;
        }
    }
    if (count == 0)
        return bputs(b, "  top errors: none\n");
    vigil_status st = bputs(b, "  top errors:");
    for (size_t i = 0; st == VIGIL_OK && i < count; i++)
        st = vigil__bputf(b, "%s %s/%s %llu", i ? "," : "", top[i].op, top[i].e.kind,
                   (unsigned long long)top[i].e.count);
    return st == VIGIL_OK ? bputs(b, "\n") : st;
}

static vigil_status text_report(vigil_dashboard *d, vigil_buffer *b, const vigil__op_view *views,
                                size_t n, const overall *o)
{
    size_t wname = strlen("operation");
    for (size_t i = 0; i < n; i++) {
        size_t w = vigil__text_width(views[i].op->name);
        if (w > wname)
            wname = w;
    }
    size_t width = 2 + wname + 2 + W_STATUS + W_TOTAL + W_RATE + W_ERR + 4 * W_LAT;
    char up[32], status[16];
    vigil__fmt_duration(up, sizeof up, o->uptime);
    const char *sname = vigil_health_name(o->status);
    size_t k = 0;
    for (; sname[k] && k + 1 < sizeof status; k++)
        status[k] = (char)(sname[k] - ('a' - 'A'));
    status[k] = '\0';

    vigil_status st = vigil__brule(b, '=', width);
    if (st == VIGIL_OK)
        st = vigil__bputf(b,
                   "  service: %s\n  status:  %s\n  uptime:  %s, window: last %u s "
                   "(ops/s, err %%, latency)\n",
                   d->service, status, up, d->opts.window_seconds);
    if (st == VIGIL_OK)
        st = vigil__brule(b, '-', width);
    if (st != VIGIL_OK)
        return st;
    if (n == 0) {
        st = bputs(b, "  no data: no operation recorded yet\n");
        return st == VIGIL_OK ? vigil__brule(b, '=', width) : st;
    }
    static const char *const heads[] = {"total", "ops/s", "err %", "avg", "p50", "p95", "p99"};
    static const size_t widths[] = {W_TOTAL, W_RATE, W_ERR, W_LAT, W_LAT, W_LAT, W_LAT};
    st = bputs(b, "  ");
    if (st == VIGIL_OK)
        st = bcell(b, "operation", wname, false);
    if (st == VIGIL_OK)
        st = bputs(b, "  ");
    if (st == VIGIL_OK)
        st = bcell(b, "status", W_STATUS, false);
    for (size_t i = 0; st == VIGIL_OK && i < 7; i++)
        st = bcell(b, heads[i], widths[i], true);
    if (st == VIGIL_OK)
        st = bputs(b, "\n");
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        const vigil__op_view *v = &views[i];
        if (!has_data(v)) {
            st = bputs(b, "  ");
            if (st == VIGIL_OK)
                st = bcell(b, v->op->name, wname, false);
            if (st == VIGIL_OK)
                st = bputs(b, "  ");
            if (st == VIGIL_OK)
                st = bcell(b, vigil_health_name(v->status), W_STATUS, false);
            if (st == VIGIL_OK)
                st = bcell(b, "no data", W_TOTAL, true);
            if (st == VIGIL_OK)
                st = bputs(b, "\n");
            continue;
        }
        st = text_row(b, wname, v->op->name, v->status, v->ops_total, v->ops_rate_recent,
                      v->recent_errors, v->recent_requests, &v->lat_recent);
    }
    if (st == VIGIL_OK)
        st = vigil__brule(b, '-', width);
    if (st == VIGIL_OK)
        st = text_row(b, wname, "overall", o->status, o->ops_total, o->ops_rate_recent,
                      o->recent_errors, o->recent_requests, &o->lat_recent);
    if (st != VIGIL_OK)
        return st;

    /* Since start: totals, error share and latency over everything recorded. */
    char rate[32], pct[32], avg[32], p99[32];
    vigil__fmt_rate(rate, sizeof rate, o->uptime > 0 ? (double)o->ops_total / o->uptime : NAN);
    fmt_percent(pct, sizeof pct, o->errors, o->errors + o->successes);
    if (o->lat_all.count) {
        vigil__fmt_duration(avg, sizeof avg, o->lat_all.avg);
        vigil__fmt_duration(p99, sizeof p99, o->lat_all.p99);
        st = vigil__bputf(b,
                   "  since start: %llu ops (%s ops/s), %llu errors (%s), latency avg %s, "
                   "p99 %s\n",
                   (unsigned long long)o->ops_total, rate, (unsigned long long)o->errors, pct, avg,
                   p99);
    } else {
        st = vigil__bputf(b, "  since start: %llu ops (%s ops/s), %llu errors (%s), latency no data\n",
                   (unsigned long long)o->ops_total, rate, (unsigned long long)o->errors, pct);
    }
    if (st == VIGIL_OK)
        st = text_top_errors(b, views, n);
    return st == VIGIL_OK ? vigil__brule(b, '=', width) : st;
}

static vigil_status report(vigil_dashboard *d, vigil_buffer *out, bool json);

VIGIL_API vigil_status vigil_dashboard_report(vigil_dashboard *d, vigil_buffer *out)
{
    return report(d, out, false);
}

VIGIL_API vigil_status vigil_dashboard_report_json(vigil_dashboard *d, vigil_buffer *out)
{
    return report(d, out, true);
}

/* --- JSON ---------------------------------------------------------------------------------- */

static vigil_status jkey_num(vigil_buffer *b, bool first, const char *key, double v)
{
    vigil_status st = vigil__json_key(b, first, key);
    return st == VIGIL_OK ? vigil__json_number(b, v) : st;
}

static vigil_status jkey_u64(vigil_buffer *b, bool first, const char *key, uint64_t v)
{
    vigil_status st = vigil__json_key(b, first, key);
    return st == VIGIL_OK ? vigil__bputf(b, "%llu", (unsigned long long)v) : st;
}

static vigil_status jkey_str(vigil_buffer *b, bool first, const char *key, const char *v)
{
    vigil_status st = vigil__json_key(b, first, key);
    return st == VIGIL_OK ? vigil__json_string(b, v) : st;
}

static double ratio(uint64_t part, uint64_t whole)
{
    return whole ? (double)part / (double)whole : NAN;
}

static vigil_status jlatency(vigil_buffer *b, const vigil_latency_stats *s)
{
    vigil_status st = vigil__json_key(b, false, "latency_seconds");
    if (st == VIGIL_OK)
        st = bputs(b, "{");
    if (st == VIGIL_OK)
        st = jkey_u64(b, true, "count", s->count);
    const char *names[] = {"sum", "avg", "min", "max", "p50", "p95", "p99"};
    const double vals[] = {s->sum, s->avg, s->min, s->max, s->p50, s->p95, s->p99};
    for (int i = 0; st == VIGIL_OK && i < 7; i++)
        st = jkey_num(b, false, names[i], s->count ? vals[i] : NAN);
    return st == VIGIL_OK ? bputs(b, "}") : st;
}

/* "recent": {...} and "total": {...} for one operation or the overall figures. */
static vigil_status jfigures(vigil_buffer *b, uint64_t ops_recent, double rate_recent,
                             uint64_t req_recent, uint64_t err_recent,
                             const vigil_latency_stats *lat_recent, uint64_t ops_total,
                             double rate_total, uint64_t successes, uint64_t errors,
                             const vigil_latency_stats *lat_all)
{
    vigil_status st = vigil__json_key(b, false, "recent");
    if (st == VIGIL_OK)
        st = bputs(b, "{");
    if (st == VIGIL_OK)
        st = jkey_u64(b, true, "operations", ops_recent);
    if (st == VIGIL_OK)
        st = jkey_num(b, false, "ops_per_second", rate_recent);
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "requests", req_recent);
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "errors", err_recent);
    if (st == VIGIL_OK)
        st = jkey_num(b, false, "error_rate", ratio(err_recent, req_recent));
    if (st == VIGIL_OK)
        st = jlatency(b, lat_recent);
    if (st == VIGIL_OK)
        st = bputs(b, "}");
    if (st == VIGIL_OK)
        st = vigil__json_key(b, false, "total");
    if (st == VIGIL_OK)
        st = bputs(b, "{");
    if (st == VIGIL_OK)
        st = jkey_u64(b, true, "operations", ops_total);
    if (st == VIGIL_OK)
        st = jkey_num(b, false, "ops_per_second", rate_total);
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "requests", successes + errors);
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "successes", successes);
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "errors", errors);
    if (st == VIGIL_OK)
        st = jkey_num(b, false, "error_rate", ratio(errors, successes + errors));
    if (st == VIGIL_OK)
        st = jkey_num(b, false, "success_rate", ratio(successes, successes + errors));
    if (st == VIGIL_OK)
        st = jlatency(b, lat_all);
    return st == VIGIL_OK ? bputs(b, "}") : st;
}

static vigil_status jkinds(vigil_buffer *b, const vigil_dashboard *d, const vigil__op_view *v)
{
    size_t cap = d->opts.max_error_kinds + 1;
    vigil_error_count *kinds = vigil__calloc(cap, sizeof *kinds);
    if (kinds == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory for the report of \"%s\"", d->service);
    size_t m = vigil_errors_top(v->op->errors, kinds, cap);
    vigil_status st = vigil__json_key(b, false, "error_kinds");
    if (st == VIGIL_OK)
        st = bputs(b, "[");
    for (size_t i = 0; st == VIGIL_OK && i < m; i++) {
        st = bputs(b, i ? ",{" : "{");
        if (st == VIGIL_OK)
            st = jkey_str(b, true, "kind", kinds[i].kind);
        if (st == VIGIL_OK)
            st = jkey_u64(b, false, "count", kinds[i].count);
        if (st == VIGIL_OK)
            st = bputs(b, "}");
    }
    vigil__free(kinds);
    if (st == VIGIL_OK)
        st = bputs(b, "]");
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "error_kinds_overflowed", vigil_errors_overflowed(v->op->errors));
    return st;
}

static vigil_status json_report(vigil_dashboard *d, vigil_buffer *b, const vigil__op_view *views,
                                size_t n, const overall *o)
{
    vigil_status st = bputs(b, "{");
    if (st == VIGIL_OK)
        st = jkey_str(b, true, "service", d->service);
    if (st == VIGIL_OK)
        st = jkey_str(b, false, "status", vigil_health_name(o->status));
    if (st == VIGIL_OK)
        st = jkey_num(b, false, "uptime_seconds", o->uptime);
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "window_seconds", d->opts.window_seconds);
    if (st == VIGIL_OK)
        st = vigil__json_key(b, false, "thresholds");
    if (st == VIGIL_OK)
        st = bputs(b, "{");
    if (st == VIGIL_OK)
        st = jkey_num(b, true, "degraded_error_rate", d->opts.degraded_error_rate);
    if (st == VIGIL_OK)
        st = jkey_num(b, false, "unhealthy_error_rate", d->opts.unhealthy_error_rate);
    if (st == VIGIL_OK)
        st = jkey_u64(b, false, "min_requests", d->opts.min_requests);
    if (st == VIGIL_OK)
        st = bputs(b, "}");
    if (st == VIGIL_OK)
        st = vigil__json_key(b, false, "operations");
    if (st == VIGIL_OK)
        st = bputs(b, "[");
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        const vigil__op_view *v = &views[i];
        vigil_operation *op = v->op;
        double slow = vigil__load_double(&op->degraded_p99_bits);
        double bad = vigil__load_double(&op->unhealthy_p99_bits);
        st = bputs(b, i ? ",{" : "{");
        if (st == VIGIL_OK)
            st = jkey_str(b, true, "name", op->name);
        if (st == VIGIL_OK)
            st = jkey_str(b, false, "status", vigil_health_name(v->status));
        if (st == VIGIL_OK)
            st = vigil__json_key(b, false, "p99_thresholds_seconds");
        if (st == VIGIL_OK)
            st = bputs(b, "{");
        if (st == VIGIL_OK)
            st = jkey_num(b, true, "degraded", slow > 0 ? slow : NAN);
        if (st == VIGIL_OK)
            st = jkey_num(b, false, "unhealthy", bad > 0 ? bad : NAN);
        if (st == VIGIL_OK)
            st = bputs(b, "}");
        if (st == VIGIL_OK)
            st = jfigures(b, v->ops_recent, v->ops_rate_recent, v->recent_requests,
                          v->recent_errors, &v->lat_recent, v->ops_total, v->ops_rate_total,
                          v->successes, v->errors, &v->lat_all);
        if (st == VIGIL_OK)
            st = jkinds(b, d, v);
        if (st == VIGIL_OK)
            st = bputs(b, "}");
    }
    if (st == VIGIL_OK)
        st = bputs(b, "]");
    if (st == VIGIL_OK)
        st = vigil__json_key(b, false, "overall");
    if (st == VIGIL_OK)
        st = bputs(b, "{");
    if (st == VIGIL_OK)
        st = jkey_str(b, true, "status", vigil_health_name(o->status));
    if (st == VIGIL_OK)
        st = jfigures(b, o->ops_recent, o->ops_rate_recent, o->recent_requests, o->recent_errors,
                      &o->lat_recent, o->ops_total,
                      o->uptime > 0 ? (double)o->ops_total / o->uptime : NAN, o->successes,
                      o->errors, &o->lat_all);
    if (st == VIGIL_OK)
        st = bputs(b, "}}\n");
    return st;
}

static vigil_status report(vigil_dashboard *d, vigil_buffer *out, bool json)
{
    if (d == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "dashboard or buffer is NULL");
    size_t mark = out->len;
    vigil__op_view *views = NULL;
    size_t n = 0;
    overall o;
    vigil_status st = read_all(d, &views, &n, &o);
    if (st != VIGIL_OK)
        return st;
    st = json ? json_report(d, out, views, n, &o) : text_report(d, out, views, n, &o);
    vigil__free(views);
    if (st != VIGIL_OK) {
        out->len = mark;
        if (out->data != NULL)
            out->data[mark] = '\0';
    }
    return st;
}
