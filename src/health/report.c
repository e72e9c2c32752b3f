/* report.c — the two read-only views of a runner: the JSON report served at /health, and the
 * metrics collector. Both take the runner's lock once and read the latest results in place, so
 * the status they show is one consistent instant and neither ever waits for a check (checks run
 * without the lock). The JSON is written by hand into a capped vigil_buffer: it is small, flat,
 * and every string in it is escaped here, invalid UTF-8 included, so the document always
 * parses. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "health/health_int.h"

/* --- JSON ------------------------------------------------------------------------------------ */

static vigil_status put(vigil_buffer *b, const char *s)
{
    return vigil_buffer_append(b, s, strlen(s));
}

static vigil_status ju64(vigil_buffer *b, uint64_t v)
{
    char tmp[VIGIL__FMT_MAX];
    vigil__fmt_u64(tmp, v);
    return put(b, tmp);
}

/* RFC 3339 in UTC with milliseconds: 2025-01-02T03:04:05.678Z */
static vigil_status jtime(vigil_buffer *b, int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&secs, &tm) == NULL)
        return put(b, "null");
    char tmp[64];
    size_t n = strftime(tmp, sizeof tmp, "\"%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tmp + n, sizeof tmp - n, ".%03dZ\"", (int)(ms % 1000));
    return put(b, tmp);
}

static vigil_status json_check(vigil_buffer *b, const vigil__check *c)
{
    vigil_health_check_info info;
    vigil__health_check_info(c, &info);
    const vigil_health_result *res = &info.result;
    vigil_status st = put(b, "{");
    if (st == VIGIL_OK && (st = vigil__json_key(b, true, "name")) == VIGIL_OK)
        st = vigil__json_string(b, info.name);
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "status")) == VIGIL_OK)
        st = vigil__json_string(b, vigil_health_status_name(res->status));
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "critical")) == VIGIL_OK)
        st = put(b, info.critical ? "true" : "false");
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "message")) == VIGIL_OK)
        st = vigil__json_string(b, info.has_result ? res->message : "no result yet");
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "duration_seconds")) == VIGIL_OK)
        st = info.has_result ? vigil__json_number(b, res->duration_seconds) : put(b, "null");
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "last_run")) == VIGIL_OK)
        st = info.has_result ? jtime(b, res->finished_ms) : put(b, "null");
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "timed_out")) == VIGIL_OK)
        st = put(b, res->timed_out ? "true" : "false");
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "running")) == VIGIL_OK)
        st = put(b, info.running ? "true" : "false");
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "interval_seconds")) == VIGIL_OK)
        st = vigil__json_number(b, info.interval_seconds);
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "timeout_seconds")) == VIGIL_OK)
        st = vigil__json_number(b, info.timeout_seconds);
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "runs")) == VIGIL_OK)
        st = ju64(b, info.runs);
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "timeouts")) == VIGIL_OK)
        st = ju64(b, info.timeouts);
    if (st == VIGIL_OK && (st = vigil__json_key(b, false, "details")) == VIGIL_OK)
        st = put(b, "{");
    for (size_t i = 0; st == VIGIL_OK && i < res->detail_count; i++) {
        st = vigil__json_key(b, i == 0, res->details[i].key);
        if (st == VIGIL_OK)
            st = vigil__json_string(b, res->details[i].value);
    }
    if (st == VIGIL_OK)
        st = put(b, "}}");
    return st;
}

VIGIL_API vigil_status vigil_health_runner_report_json(vigil_health_runner *r, vigil_buffer *out,
                                                       vigil_health_status *overall, bool *ready)
{
    if (r == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "health report: NULL argument");
    size_t mark = out->len;
    bool ok;
    pthread_mutex_lock(&r->lock);
    vigil_health_status s = vigil__health_rollup(r, &ok, NULL, 0);
    vigil_status st = put(out, "{\"status\":");
    if (st == VIGIL_OK)
        st = vigil__json_string(out, vigil_health_status_name(s));
    if (st == VIGIL_OK)
        st = put(out, ok ? ",\"ready\":true,\"checks\":[" : ",\"ready\":false,\"checks\":[");
    for (const vigil__check *c = r->checks; st == VIGIL_OK && c != NULL; c = c->next) {
        if (c != r->checks)
            st = put(out, ",");
        if (st == VIGIL_OK)
            st = json_check(out, c);
    }
    pthread_mutex_unlock(&r->lock);
    if (st == VIGIL_OK)
        st = put(out, "]}\n");
    if (st != VIGIL_OK) {
        out->len = mark; /* never leave half a document */
        if (out->data != NULL)
            out->data[mark] = '\0';
        return st;
    }
    if (overall != NULL)
        *overall = s;
    if (ready != NULL)
        *ready = ok;
    return VIGIL_OK;
}

/* --- metrics ----------------------------------------------------------------------------------- */

static vigil_status family(vigil_emitter *em, const char *name, const char *help, const char *unit,
                           vigil_metric_type type)
{
    vigil_family_desc d = {name, help, unit, type};
    return vigil_emit_family(em, &d);
}

vigil_status vigil__health_collect(vigil_emitter *em, void *user)
{
    vigil_health_runner *r = user;
    pthread_mutex_lock(&r->lock);
    vigil_health_status overall = vigil__health_rollup(r, NULL, NULL, 0);
    vigil_status st = family(em, "vigil_health_status",
                             "Rolled-up health of the service: 0 healthy, 1 degraded, "
                             "2 unhealthy, 3 unknown.",
                             NULL, VIGIL_GAUGE);
    if (st == VIGIL_OK)
        st = vigil_emit_sample(em, NULL, 0, (double)overall);

    if (st == VIGIL_OK)
        st = family(em, "vigil_health_check_status",
                    "Latest status of each health check: 0 healthy, 1 degraded, 2 unhealthy, "
                    "3 unknown (no result yet).",
                    NULL, VIGIL_GAUGE);
    for (const vigil__check *c = r->checks; st == VIGIL_OK && c != NULL; c = c->next) {
        vigil_label l = {"check", c->name};
        double v = c->has_result ? (double)c->result.status : (double)VIGIL_HEALTH_UNKNOWN;
        st = vigil_emit_sample(em, &l, 1, v);
    }

    if (st == VIGIL_OK)
        st = family(em, "vigil_health_check_duration_seconds",
                    "Duration of each health check's latest result (the time until it was "
                    "declared timed out, for a timeout).",
                    "seconds", VIGIL_GAUGE);
    for (const vigil__check *c = r->checks; st == VIGIL_OK && c != NULL; c = c->next) {
        vigil_label l = {"check", c->name};
        if (c->has_result)
            st = vigil_emit_sample(em, &l, 1, c->result.duration_seconds);
    }

    if (st == VIGIL_OK)
        st = family(em, "vigil_health_check_last_run_timestamp_seconds",
                    "Unix time at which each health check's latest result was recorded.", "seconds",
                    VIGIL_GAUGE);
    for (const vigil__check *c = r->checks; st == VIGIL_OK && c != NULL; c = c->next) {
        vigil_label l = {"check", c->name};
        if (c->has_result)
            st = vigil_emit_sample(em, &l, 1, (double)c->result.finished_ms / 1000.0);
    }

    if (st == VIGIL_OK)
        st = family(em, "vigil_health_check_runs", "Runs of each health check started.", NULL,
                    VIGIL_COUNTER);
    for (const vigil__check *c = r->checks; st == VIGIL_OK && c != NULL; c = c->next) {
        vigil_label l = {"check", c->name};
        st = vigil_emit_sample(em, &l, 1, (double)c->runs);
    }

    if (st == VIGIL_OK)
        st = family(em, "vigil_health_check_timeouts",
                    "Runs of each health check that passed their timeout.", NULL, VIGIL_COUNTER);
    for (const vigil__check *c = r->checks; st == VIGIL_OK && c != NULL; c = c->next) {
        vigil_label l = {"check", c->name};
        st = vigil_emit_sample(em, &l, 1, (double)c->timeouts);
    }
    pthread_mutex_unlock(&r->lock);
    return st;
}
