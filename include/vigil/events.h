/* vigil/events.h — typed application events (client connected, message sent, heartbeat timed
 * out, ...) delivered to hooks the application registers at run time.
 *
 * An event bus owns a bounded multi-producer ring of fixed capacity. Publishing copies the event
 * into the ring and returns: it never blocks, never allocates and never calls a hook on the
 * publisher's thread. A dispatcher thread (vigil_event_bus_start) drains the ring and calls, for
 * each event, the hooks registered for its type and then the catch-all hooks. When the ring is
 * full the event is dropped, counted in vigil_events_dropped_total, and the publish call says so
 * (VIGIL_ELIMIT). A bus created with `synchronous` set has no ring: hooks run on the publishing
 * thread before the publish call returns.
 *
 * Delivery is at most once, in publish order per publishing thread. The last N events are kept
 * for dashboards (vigil_event_bus_recent, vigil_event_bus_recent_json, and the HTTP route
 * vigil_http_server_serve_events in vigil/http.h). docs/events.md has the full contract.
 */
#ifndef VIGIL_EVENTS_H
#define VIGIL_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vigil/buffer.h"
#include "vigil/export.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vigil_event_type {
    VIGIL_EVENT_ANY = -1, /* hooks only: the catch-all, called for every event */
    VIGIL_EVENT_CLIENT_CONNECTED = 0,
    VIGIL_EVENT_CLIENT_DISCONNECTED = 1,
    VIGIL_EVENT_HEARTBEAT_SENT = 2,
    VIGIL_EVENT_HEARTBEAT_RECEIVED = 3,
    VIGIL_EVENT_HEARTBEAT_TIMEOUT = 4,
    VIGIL_EVENT_MESSAGE_SENT = 5,
    VIGIL_EVENT_MESSAGE_RECEIVED = 6,
    VIGIL_EVENT_RECONNECT = 7,
    VIGIL_EVENT_ERROR = 8,
    VIGIL_EVENT_CUSTOM = 9,
    VIGIL_EVENT_TYPE_COUNT = 10 /* number of real types; not a type */
} vigil_event_type;

/* Bounds of the inline strings of an event, terminating NUL included. Longer strings are cut
 * (at a UTF-8 character boundary), never refused: an event is a log line, not a record. */
#define VIGIL_EVENT_STR_MAX 48
#define VIGIL_EVENT_KEY_MAX 24
#define VIGIL_EVENT_VALUE_MAX 48
/* Largest number of key/value fields of a custom event. */
#define VIGIL_EVENT_FIELDS_MAX 8

typedef struct vigil_event_field {
    char key[VIGIL_EVENT_KEY_MAX];
    char value[VIGIL_EVENT_VALUE_MAX];
} vigil_event_field;

/* One event, all data inline so that publishing needs no allocation. Members a type does not use
 * are empty strings / zero. */
typedef struct vigil_event {
    vigil_event_type type;
    uint64_t seq;     /* bus-wide publish sequence number, from 1 (gaps mean drops) */
    int64_t time_ms;  /* wall clock at publish, ms since the Unix epoch */
    uint64_t mono_ns; /* monotonic clock at publish, ns */
    char client[VIGIL_EVENT_STR_MAX];     /* client id; the peer of a message */
    char message_id[VIGIL_EVENT_STR_MAX]; /* MESSAGE_SENT / MESSAGE_RECEIVED */
    char reason[VIGIL_EVENT_STR_MAX];     /* CLIENT_DISCONNECTED */
    char kind[VIGIL_EVENT_STR_MAX];       /* ERROR */
    char name[VIGIL_EVENT_STR_MAX];       /* CUSTOM */
    uint64_t bytes;                       /* MESSAGE_SENT / MESSAGE_RECEIVED */
    uint32_t attempt;                     /* RECONNECT: 1 for the first attempt */
    uint32_t field_count;                 /* CUSTOM: fields used */
    vigil_event_field fields[VIGIL_EVENT_FIELDS_MAX];
} vigil_event;

/* A key/value pair handed to vigil_event_publish_custom (copied). */
typedef struct vigil_event_kv {
    const char *key;
    const char *value;
} vigil_event_kv;

/* "client_connected", "heartbeat_timeout", ... ("any" for VIGIL_EVENT_ANY, "unknown" outside the
 * enum). These are the `type` label values and JSON type names. Thread-safety: any thread. */
VIGIL_API const char *vigil_event_type_name(vigil_event_type type);

/* --- the bus --------------------------------------------------------------------------------- */

typedef struct vigil_event_bus vigil_event_bus;

typedef struct vigil_event_bus_options {
    size_t capacity;    /* ring slots, a power of two >= 2; default 4096 (ignored if synchronous) */
    size_t recent;      /* how many of the last events to keep; default 100, 0 keeps none */
    int synchronous;    /* non-zero: hooks run on the publisher's thread; no ring, no thread */
} vigil_event_bus_options;

/* Fills defaults. Thread-safety: any thread. */
VIGIL_API void vigil_event_bus_options_init(vigil_event_bus_options *opts);

/* Creates a stopped bus (opts NULL: defaults). All memory (ring, recent-event ring) is taken
 * here. Errors: VIGIL_EINVAL (capacity not a power of two >= 2, or above 2^24; recent above
 * 2^20), VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_event_bus_new(const vigil_event_bus_options *opts,
                                           vigil_event_bus **out);

/* Starts the dispatcher thread. Events published before start wait in the ring. No-op for a
 * synchronous bus. Errors: VIGIL_ESTATE (already running), VIGIL_EIO (thread creation failed).
 * Thread-safety: any thread; not concurrently with _stop or _free. */
VIGIL_API vigil_status vigil_event_bus_start(vigil_event_bus *bus);

/* Delivers every event already in the ring, then stops and joins the dispatcher. Events
 * published concurrently with stop may stay queued until the next start. Idempotent.
 * Thread-safety: any thread but a hook's; not concurrently with _start or _free. */
VIGIL_API void vigil_event_bus_stop(vigil_event_bus *bus);

/* Stops (draining) and frees the bus, its hooks and any events still queued. NULL is a no-op.
 * Remove the metrics collector (vigil_event_bus_unregister_metrics) or free the registry and
 * stop any HTTP server serving this bus first.
 * Thread-safety: no other thread may use bus. */
VIGIL_API void vigil_event_bus_free(vigil_event_bus *bus);

/* --- hooks ----------------------------------------------------------------------------------- */

/* Called once per delivered event. Return VIGIL_OK; any other status is counted in
 * vigil_event_hook_errors_total{type} and dispatch continues with the next hook. The event is
 * valid only during the call. A hook runs on the dispatcher thread (or, on a synchronous bus,
 * the publisher's) and may publish, add and remove hooks (itself included). */
typedef vigil_status (*vigil_event_hook_fn)(const vigil_event *ev, void *user);

/* Registers fn for events of `type` (VIGIL_EVENT_ANY: every event, called after the type's own
 * hooks). Hooks of one type run in registration order. *id receives a non-zero id for removal.
 * Errors: VIGIL_EINVAL, VIGIL_ENOMEM. Thread-safety: any thread, while events flow. */
VIGIL_API vigil_status vigil_event_hook_add(vigil_event_bus *bus, vigil_event_type type,
                                            vigil_event_hook_fn fn, void *user, uint64_t *id);

/* Removes a hook. When it returns the hook is not running and will not be called again, so its
 * user data may be freed -- except when called from inside that very hook, where it returns at
 * once and the hook is freed once its running calls return.
 * Errors: VIGIL_ENOTFOUND. Thread-safety: any thread, while events flow; may wait for one hook
 * call to finish. */
VIGIL_API vigil_status vigil_event_hook_remove(vigil_event_bus *bus, uint64_t id);

/* A ready-made hook printing one line per event to user (a FILE *; NULL means stdout), e.g.
 * `[HOOK] Client connected: client-001`. Register it with vigil_event_hook_add. Returns
 * VIGIL_EIO when the write fails. */
VIGIL_API vigil_status vigil_event_log_hook(const vigil_event *ev, void *user);

/* Formats ev as the log hook does (without "[HOOK] " and the newline) into buf, always
 * NUL-terminated when cap > 0. Returns the length it needed, as snprintf. Thread-safety: any. */
VIGIL_API size_t vigil_event_format(const vigil_event *ev, char *buf, size_t cap);

/* --- publishing ------------------------------------------------------------------------------
 * Every publish call stamps the time, copies its strings into the event and returns:
 *   VIGIL_OK       queued (or, synchronous, delivered)
 *   VIGIL_ELIMIT   the ring is full: the event was dropped and counted
 *   VIGIL_EINVAL   bus NULL, a type outside the enum, too many custom fields
 * Strings may be NULL (empty). They never block or allocate (a synchronous bus runs the hooks).
 * Thread-safety: any thread, concurrently. */

/* Publishes a filled event (type and payload members; seq and the times are set here). */
VIGIL_API vigil_status vigil_event_publish(vigil_event_bus *bus, const vigil_event *ev);
VIGIL_API vigil_status vigil_event_publish_client_connected(vigil_event_bus *bus,
                                                            const char *client);
VIGIL_API vigil_status vigil_event_publish_client_disconnected(vigil_event_bus *bus,
                                                               const char *client,
                                                               const char *reason);
VIGIL_API vigil_status vigil_event_publish_heartbeat_sent(vigil_event_bus *bus,
                                                          const char *client);
VIGIL_API vigil_status vigil_event_publish_heartbeat_received(vigil_event_bus *bus,
                                                              const char *client);
VIGIL_API vigil_status vigil_event_publish_heartbeat_timeout(vigil_event_bus *bus,
                                                             const char *client);
VIGIL_API vigil_status vigil_event_publish_message_sent(vigil_event_bus *bus,
                                                        const char *message_id,
                                                        const char *peer, uint64_t bytes);
VIGIL_API vigil_status vigil_event_publish_message_received(vigil_event_bus *bus,
                                                            const char *message_id,
                                                            const char *peer, uint64_t bytes);
VIGIL_API vigil_status vigil_event_publish_reconnect(vigil_event_bus *bus, const char *client,
                                                     uint32_t attempt);
/* An error of `kind` ("decode", "timeout", ...), optionally about a client. */
VIGIL_API vigil_status vigil_event_publish_error(vigil_event_bus *bus, const char *kind,
                                                 const char *client);
/* A named event with up to VIGIL_EVENT_FIELDS_MAX key/value fields (NULL keys skipped). */
VIGIL_API vigil_status vigil_event_publish_custom(vigil_event_bus *bus, const char *name,
                                                  const vigil_event_kv *fields, size_t count);

/* --- what the bus has seen ------------------------------------------------------------------- */

typedef struct vigil_event_bus_stats {
    uint64_t published[VIGIL_EVENT_TYPE_COUNT];   /* accepted per type */
    uint64_t hook_errors[VIGIL_EVENT_TYPE_COUNT]; /* hook calls returning non-OK, per type */
    uint64_t dropped;                             /* refused because the ring was full */
    uint64_t delivered;                           /* events whose hooks all ran */
    size_t queued;                                /* in the ring now (approximate) */
} vigil_event_bus_stats;

/* Thread-safety: any thread; each counter is read atomically, not all together. */
VIGIL_API void vigil_event_bus_stats_read(vigil_event_bus *bus, vigil_event_bus_stats *out);

/* Copies the last delivered events, oldest first, into out (up to cap); returns how many were
 * copied. Thread-safety: any thread. */
VIGIL_API size_t vigil_event_bus_recent(vigil_event_bus *bus, vigil_event *out, size_t cap);

/* Appends the last delivered events as JSON:
 *   {"events":[{"seq":1,"type":"client_connected","time_ms":..,"mono_ns":..,"client":".."},..],
 *    "dropped":0}
 * oldest first; each event carries only the members its type uses (custom: "name" and an object
 * "fields"). Errors: VIGIL_ENOMEM, VIGIL_ELIMIT (buffer cap). Thread-safety: any thread. */
VIGIL_API vigil_status vigil_event_bus_recent_json(vigil_event_bus *bus, vigil_buffer *out);

/* Adds a collector named "vigil_events" to reg exporting
 *   vigil_events_total{type}              counter, events accepted per type
 *   vigil_events_dropped_total            counter, events dropped because the ring was full
 *   vigil_event_hook_errors_total{type}   counter, hook calls that returned an error
 *   vigil_events_queued                   gauge, events waiting in the ring
 * The bus must outlive the registration. Errors: as vigil_registry_add_collector.
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_event_bus_register_metrics(vigil_event_bus *bus,
                                                        vigil_registry *reg);
/* Removes that collector. Errors: VIGIL_ENOTFOUND. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_event_bus_unregister_metrics(vigil_event_bus *bus,
                                                          vigil_registry *reg);

#ifdef __cplusplus
}
#endif
#endif
