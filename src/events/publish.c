/* publish.c — the typed publish calls: each builds an event on the caller's stack, copying its
 * strings inline (cut at a UTF-8 boundary to the fixed sizes of vigil/events.h), and hands it to
 * vigil_event_publish. Nothing here allocates. */
#include <string.h>

#include "core/core_int.h"
#include "events/events_int.h"

/* Copies s into dst[cap], cutting before a UTF-8 continuation byte so a cut never splits a
 * character. */
static void copy_str(char *dst, size_t cap, const char *s)
{
    if (s == NULL) {
        dst[0] = '\0';
        return;
    }
    size_t n = strnlen(s, cap);
    if (n == cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

#define COPY(dst, s) copy_str((dst), sizeof(dst), (s))

static vigil_status publish_client(vigil_event_bus *bus, vigil_event_type type,
                                   const char *client)
{
    vigil_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    COPY(ev.client, client);
    return vigil_event_publish(bus, &ev);
}

VIGIL_API vigil_status vigil_event_publish_client_connected(vigil_event_bus *bus,
                                                            const char *client)
{
    return publish_client(bus, VIGIL_EVENT_CLIENT_CONNECTED, client);
}

VIGIL_API vigil_status vigil_event_publish_client_disconnected(vigil_event_bus *bus,
                                                               const char *client,
                                                               const char *reason)
{
    vigil_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = VIGIL_EVENT_CLIENT_DISCONNECTED;
    COPY(ev.client, client);
    COPY(ev.reason, reason);
    return vigil_event_publish(bus, &ev);
}

VIGIL_API vigil_status vigil_event_publish_heartbeat_sent(vigil_event_bus *bus,
                                                          const char *client)
{
    return publish_client(bus, VIGIL_EVENT_HEARTBEAT_SENT, client);
}

VIGIL_API vigil_status vigil_event_publish_heartbeat_received(vigil_event_bus *bus,
                                                              const char *client)
{
    return publish_client(bus, VIGIL_EVENT_HEARTBEAT_RECEIVED, client);
}

VIGIL_API vigil_status vigil_event_publish_heartbeat_timeout(vigil_event_bus *bus,
                                                             const char *client)
{
    return publish_client(bus, VIGIL_EVENT_HEARTBEAT_TIMEOUT, client);
}

static vigil_status publish_message(vigil_event_bus *bus, vigil_event_type type, const char *id,
                                    const char *peer, uint64_t bytes)
{
    vigil_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    COPY(ev.message_id, id);
    COPY(ev.client, peer);
    ev.bytes = bytes;
    return vigil_event_publish(bus, &ev);
}

VIGIL_API vigil_status vigil_event_publish_message_sent(vigil_event_bus *bus,
                                                        const char *message_id,
                                                        const char *peer, uint64_t bytes)
{
    return publish_message(bus, VIGIL_EVENT_MESSAGE_SENT, message_id, peer, bytes);
}

VIGIL_API vigil_status vigil_event_publish_message_received(vigil_event_bus *bus,
                                                            const char *message_id,
                                                            const char *peer, uint64_t bytes)
{
    return publish_message(bus, VIGIL_EVENT_MESSAGE_RECEIVED, message_id, peer, bytes);
}

VIGIL_API vigil_status vigil_event_publish_reconnect(vigil_event_bus *bus, const char *client,
                                                     uint32_t attempt)
{
    vigil_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = VIGIL_EVENT_RECONNECT;
    COPY(ev.client, client);
    ev.attempt = attempt;
    return vigil_event_publish(bus, &ev);
}

VIGIL_API vigil_status vigil_event_publish_error(vigil_event_bus *bus, const char *kind,
                                                 const char *client)
{
    vigil_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = VIGIL_EVENT_ERROR;
    COPY(ev.kind, kind);
    COPY(ev.client, client);
    return vigil_event_publish(bus, &ev);
}

VIGIL_API vigil_status vigil_event_publish_custom(vigil_event_bus *bus, const char *name,
                                                  const vigil_event_kv *fields, size_t count)
{
    if (count > VIGIL_EVENT_FIELDS_MAX)
        return vigil__fail(VIGIL_EINVAL, "custom event: %zu fields, at most %d", count,
                           VIGIL_EVENT_FIELDS_MAX);
    if (count > 0 && fields == NULL)
        return vigil__fail(VIGIL_EINVAL, "custom event: fields is NULL");
    vigil_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = VIGIL_EVENT_CUSTOM;
    COPY(ev.name, name);
    for (size_t i = 0; i < count; i++) {
        if (fields[i].key == NULL)
            continue;
        vigil_event_field *f = &ev.fields[ev.field_count++];
        COPY(f->key, fields[i].key);
        COPY(f->value, fields[i].value);
    }
    return vigil_event_publish(bus, &ev);
}
