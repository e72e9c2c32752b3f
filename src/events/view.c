/* view.c — what the bus shows of its events: type names, the one-line text form and the
 * ready-made log hook, the JSON of the recent events (for the dashboard and /api/v1/events), and
 * the metrics collector. All of it reads copies or relaxed counters, so none of it slows down a
 * publisher. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "events/events_int.h"

static const char *const type_names[VIGIL_EVENT_TYPE_COUNT] = {
    "client_connected", "client_disconnected", "heartbeat_sent",   "heartbeat_received",
    "heartbeat_timeout", "message_sent",       "message_received", "reconnect",
    "error",             "custom",
};

VIGIL_API const char *vigil_event_type_name(vigil_event_type type)
{
    if (type == VIGIL_EVENT_ANY)
        return "any";
    if (type < 0 || type >= VIGIL_EVENT_TYPE_COUNT)
        return "unknown";
    return type_names[type];
}

/* --- text -------------------------------------------------------------------------------------- */

typedef struct textbuf {
    char *buf;
    size_t cap;
    size_t len; /* needed so far, may exceed cap */
} textbuf;

static void tb_printf(textbuf *t, const char *fmt, ...) VIGIL_PRINTF(2, 3);
static void tb_printf(textbuf *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *at = t->len < t->cap ? t->buf + t->len : NULL;
    size_t room = t->len < t->cap ? t->cap - t->len : 0;
    int n = vsnprintf(at, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        t->len += (size_t)n;
}

VIGIL_API size_t vigil_event_format(const vigil_event *ev, char *buf, size_t cap)
{
    textbuf t = {buf, cap, 0};
    if (cap > 0)
        buf[0] = '\0';
    if (ev == NULL)
        return 0;
    switch (ev->type) {
    case VIGIL_EVENT_CLIENT_CONNECTED:
        tb_printf(&t, "Client connected: %s", ev->client);
        break;
    case VIGIL_EVENT_CLIENT_DISCONNECTED:
        tb_printf(&t, "Client disconnected: %s", ev->client);
        if (ev->reason[0])
            tb_printf(&t, " (reason: %s)", ev->reason);
        break;
    case VIGIL_EVENT_HEARTBEAT_SENT:
        tb_printf(&t, "Heartbeat sent: %s", ev->client);
        break;
    case VIGIL_EVENT_HEARTBEAT_RECEIVED:
        tb_printf(&t, "Heartbeat received: %s", ev->client);
        break;
    case VIGIL_EVENT_HEARTBEAT_TIMEOUT:
        tb_printf(&t, "Heartbeat timed out: %s", ev->client);
        break;
    case VIGIL_EVENT_MESSAGE_SENT:
        tb_printf(&t, "Message sent: %s to %s (%" PRIu64 " bytes)", ev->message_id, ev->client,
                  ev->bytes);
        break;
    case VIGIL_EVENT_MESSAGE_RECEIVED:
        tb_printf(&t, "Message received: %s from %s (%" PRIu64 " bytes)", ev->message_id,
                  ev->client, ev->bytes);
        break;
    case VIGIL_EVENT_RECONNECT:
        tb_printf(&t, "Reconnect: %s (attempt %" PRIu32 ")", ev->client, ev->attempt);
        break;
    case VIGIL_EVENT_ERROR:
        tb_printf(&t, "Error: %s", ev->kind);
        if (ev->client[0])
            tb_printf(&t, " (client %s)", ev->client);
        break;
    case VIGIL_EVENT_CUSTOM:
        tb_printf(&t, "Event %s", ev->name);
        for (uint32_t i = 0; i < ev->field_count && i < VIGIL_EVENT_FIELDS_MAX; i++)
            tb_printf(&t, " %s=%s", ev->fields[i].key, ev->fields[i].value);
        break;
    default:
        tb_printf(&t, "Unknown event %d", (int)ev->type);
        break;
    }
    return t.len;
}

VIGIL_API vigil_status vigil_event_log_hook(const vigil_event *ev, void *user)
{
    FILE *out = user != NULL ? user : stdout;
    char line[512];
    vigil_event_format(ev, line, sizeof line);
    /* one fprintf per line: stdio locks the stream, so lines from several buses never mix */
    if (fprintf(out, "[HOOK] %s\n", line) < 0)
        return vigil__fail(VIGIL_EIO, "event log hook: write failed");
    return VIGIL_OK;
}

/* --- JSON -------------------------------------------------------------------------------------- */

static vigil_status put(vigil_buffer *b, const char *s)
{
    return vigil_buffer_append(b, s, strlen(s));
}

static vigil_status put_str_member(vigil_buffer *b, const char *name, const char *value)
{
    vigil_status st = vigil_buffer_append(b, ",\"", 2);
    if (st == VIGIL_OK)
        st = put(b, name);
    if (st == VIGIL_OK)
        st = vigil_buffer_append(b, "\":", 2);
    if (st == VIGIL_OK)
        st = vigil__json_string(b, value);
    return st;
}

static vigil_status put_u64_member(vigil_buffer *b, const char *name, uint64_t v)
{
    char tmp[96];
    int n = snprintf(tmp, sizeof tmp, ",\"%s\":%" PRIu64, name, v);
    return vigil_buffer_append(b, tmp, (size_t)n);
}

static vigil_status event_json(vigil_buffer *b, const vigil_event *ev)
{
    char head[160];
    int n = snprintf(head, sizeof head,
                     "{\"seq\":%" PRIu64 ",\"type\":\"%s\",\"time_ms\":%" PRId64
                     ",\"mono_ns\":%" PRIu64,
                     ev->seq, vigil_event_type_name(ev->type), ev->time_ms, ev->mono_ns);
    vigil_status st = vigil_buffer_append(b, head, (size_t)n);
    switch (ev->type) {
    case VIGIL_EVENT_CLIENT_DISCONNECTED:
        if (st == VIGIL_OK)
            st = put_str_member(b, "client", ev->client);
        if (st == VIGIL_OK)
            st = put_str_member(b, "reason", ev->reason);
        break;
    case VIGIL_EVENT_MESSAGE_SENT:
    case VIGIL_EVENT_MESSAGE_RECEIVED:
        if (st == VIGIL_OK)
            st = put_str_member(b, "id", ev->message_id);
        if (st == VIGIL_OK)
            st = put_str_member(b, "peer", ev->client);
        if (st == VIGIL_OK)
            st = put_u64_member(b, "bytes", ev->bytes);
        break;
    case VIGIL_EVENT_RECONNECT:
        if (st == VIGIL_OK)
            st = put_str_member(b, "client", ev->client);
        if (st == VIGIL_OK)
            st = put_u64_member(b, "attempt", ev->attempt);
        break;
    case VIGIL_EVENT_ERROR:
        if (st == VIGIL_OK)
            st = put_str_member(b, "kind", ev->kind);
        if (st == VIGIL_OK && ev->client[0])
            st = put_str_member(b, "client", ev->client);
        break;
    case VIGIL_EVENT_CUSTOM:
        if (st == VIGIL_OK)
            st = put_str_member(b, "name", ev->name);
        if (st == VIGIL_OK)
            st = put(b, ",\"fields\":{");
        for (uint32_t i = 0; st == VIGIL_OK && i < ev->field_count && i < VIGIL_EVENT_FIELDS_MAX;
             i++) {
            if (i > 0)
                st = put(b, ",");
            if (st == VIGIL_OK)
                st = vigil__json_string(b, ev->fields[i].key);
            if (st == VIGIL_OK)
                st = put(b, ":");
            if (st == VIGIL_OK)
                st = vigil__json_string(b, ev->fields[i].value);
        }
        if (st == VIGIL_OK)
            st = put(b, "}");
        break;
    default: /* connected and the heartbeats: just the client */
        if (st == VIGIL_OK)
            st = put_str_member(b, "client", ev->client);
        break;
    }
    if (st == VIGIL_OK)
        st = put(b, "}");
    return st;
}

VIGIL_API vigil_status vigil_event_bus_recent_json(vigil_event_bus *bus, vigil_buffer *out)
{
    if (bus == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "events json: NULL argument");
    /* A snapshot first, so the lock is held only for a copy and never while formatting. */
    vigil_event *evs = NULL;
    size_t n = 0;
    if (bus->recent_cap > 0) {
        evs = vigil__malloc(bus->recent_cap * sizeof *evs);
        if (evs == NULL)
            return vigil__fail(VIGIL_ENOMEM, "events json: out of memory");
        n = vigil_event_bus_recent(bus, evs, bus->recent_cap);
    }
    vigil_status st = put(out, "{\"events\":[");
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        if (i > 0)
            st = put(out, ",");
        if (st == VIGIL_OK)
            st = event_json(out, &evs[i]);
    }
    vigil__free(evs);
    if (st == VIGIL_OK) {
        char tail[64];
        int len = snprintf(tail, sizeof tail, "],\"dropped\":%" PRIu64 "}\n",
                           atomic_load_explicit(&bus->dropped, memory_order_relaxed));
        st = vigil_buffer_append(out, tail, (size_t)len);
    }
    return st;
}

/* --- metrics ----------------------------------------------------------------------------------- */

#define COLLECTOR_NAME "vigil_events"

static vigil_status emit_per_type(vigil_emitter *em, const char *name, const char *help,
                                  const uint64_t *values)
{
    vigil_family_desc d = {.name = name, .help = help, .unit = NULL, .type = VIGIL_COUNTER};
    vigil_status st = vigil_emit_family(em, &d);
    for (int i = 0; st == VIGIL_OK && i < VIGIL_EVENT_TYPE_COUNT; i++) {
        vigil_label l = {"type", type_names[i]};
        st = vigil_emit_sample(em, &l, 1, (double)values[i]);
    }
    return st;
}

static vigil_status collect_events(vigil_emitter *em, void *user)
{
    vigil_event_bus_stats s;
    vigil_event_bus_stats_read(user, &s);
    vigil_status st = emit_per_type(em, "vigil_events",
                                    "Events accepted by the event bus, by type.", s.published);
    if (st == VIGIL_OK) {
        vigil_family_desc d = {.name = "vigil_events_dropped",
                               .help = "Events dropped because the event ring was full.",
                               .type = VIGIL_COUNTER};
        st = vigil_emit_family(em, &d);
        if (st == VIGIL_OK)
            st = vigil_emit_sample(em, NULL, 0, (double)s.dropped);
    }
    if (st == VIGIL_OK)
        st = emit_per_type(em, "vigil_event_hook_errors",
                           "Event hook calls that returned an error, by event type.",
                           s.hook_errors);
    if (st == VIGIL_OK) {
        vigil_family_desc d = {.name = "vigil_events_queued",
                               .help = "Events waiting in the event ring for the dispatcher.",
                               .type = VIGIL_GAUGE};
        st = vigil_emit_family(em, &d);
        if (st == VIGIL_OK)
            st = vigil_emit_sample(em, NULL, 0, (double)s.queued);
    }
    return st;
}

VIGIL_API vigil_status vigil_event_bus_register_metrics(vigil_event_bus *bus,
                                                        vigil_registry *reg)
{
    if (bus == NULL || reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "event metrics: NULL argument");
    return vigil_registry_add_collector(reg, COLLECTOR_NAME, collect_events, bus);
}

VIGIL_API vigil_status vigil_event_bus_unregister_metrics(vigil_event_bus *bus,
                                                          vigil_registry *reg)
{
    if (bus == NULL || reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "event metrics: NULL argument");
    return vigil_registry_remove_collector(reg, COLLECTOR_NAME);
}
