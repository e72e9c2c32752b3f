/* instr.h — everything the demo measures, in one place: the server and the clients call these
 * small functions at each step, and each one updates the Prometheus metrics, the trackers and
 * the event bus together, so the three never disagree. docs/demo.md lists the metrics. */
#ifndef DEMO_INSTR_H
#define DEMO_INSTR_H

#include <stddef.h>
#include <stdint.h>

#include <vigil.h>

#include "proto.h"

typedef enum demo_role { ROLE_SERVER = 0, ROLE_CLIENT = 1, ROLE_COUNT = 2 } demo_role;

typedef enum demo_dir { DIR_SENT = 0, DIR_RECEIVED = 1, DIR_COUNT = 2 } demo_dir;

/* The `kind` label of demo_errors_total; docs/demo.md says when each is counted. */
typedef enum demo_error {
    ERR_ENCODE = 0,    /* the client's encoder refused a request */
    ERR_DECODE,        /* a frame failed its checksum (either side) */
    ERR_PROTOCOL,      /* an unexpected or malformed frame, a missing HELLO/WELCOME */
    ERR_NETWORK,       /* connect, read or write failed, or the peer reset the connection */
    ERR_TLS,           /* a TLS handshake failed */
    ERR_TIMEOUT,       /* a request got no answer before its deadline */
    ERR_REJECTED,      /* the server answered a request with ERROR */
    ERR_LATE_RESPONSE, /* an answer came after its request had timed out */
    ERR_BAD_RESPONSE,  /* an answer's payload was not the request's, reversed */
    ERR_OVERLOAD,      /* the server refused work: too many connections or late answers */
    ERR_KIND_COUNT
} demo_error;

const char *demo_error_name(demo_error kind);

/* The handles, kept so that recording is a handle call, never a lookup. */
typedef struct demo_instr {
    vigil_registry *registry;
    vigil_event_bus *bus;
    uint64_t start_ns;
    vigil_family *messages_family;
    vigil_gauge *connected;
    vigil_counter *connections;
    vigil_counter *messages[ROLE_COUNT][DIR_COUNT][PROTO_TYPE_COUNT];
    vigil_counter *bytes[ROLE_COUNT][DIR_COUNT];
    vigil_counter *heartbeats_sent;
    vigil_counter *heartbeats_received;
    vigil_counter *heartbeat_timeouts[ROLE_COUNT];
    vigil_counter *pending_created;
    vigil_counter *pending_completed;
    vigil_counter *pending_timed_out;
    vigil_counter *pending_failed;
    vigil_gauge *pending_active;
    vigil_histogram *request_duration;
    vigil_counter *reconnects;
    vigil_counter *errors[ERR_KIND_COUNT];
    vigil_latency *latency;       /* p50/p95/p99, also exported as a summary */
    vigil_errors *error_rate;     /* requests vs errors, for the snapshot and the health check */
    vigil_throughput *throughput; /* messages the server handled, for the snapshot */
} demo_instr;

/* Registers every family in reg (each series that can occur is created at 0, so dashboards
 * and rate() see it from the first scrape) and the trackers. Events go to bus. Returns
 * VIGIL_OK or the failing call's status (vigil_errmsg() has the message). */
vigil_status instr_new(vigil_registry *reg, vigil_event_bus *bus, demo_instr **out);
/* Unregisters the families and trackers, frees. NULL is a no-op. Nothing may record meanwhile. */
void instr_free(demo_instr *in);

/* Connections (server side): accepted sockets, and sessions from HELLO to the end. */
void instr_accepted(demo_instr *in);
void instr_session_opened(demo_instr *in, const char *client);
void instr_session_closed(demo_instr *in, const char *client, const char *reason);

/* One frame that went over a connection. The server's requests and answers are also published
 * as message events ("req-17" from/to the client). */
void instr_message(demo_instr *in, demo_role role, demo_dir dir, unsigned type, size_t bytes,
                   const char *peer, uint32_t id);

/* Heartbeats: a client sent a PING, the server received one, or one side gave up waiting
 * (client: no PONG in time; server: a client silent too long). */
void instr_heartbeat_sent(demo_instr *in, const char *client);
void instr_heartbeat_received(demo_instr *in, const char *client);
void instr_heartbeat_timeout(demo_instr *in, demo_role role, const char *client);

/* A client's pending requests. Each created one ends exactly once: completed (an answer that
 * matched, with its round trip), timed out, or failed (refused, mangled, or its connection
 * ended first). */
void instr_pending_created(demo_instr *in);
void instr_pending_completed(demo_instr *in, double seconds);
void instr_pending_timed_out(demo_instr *in, const char *client);
void instr_pending_failed(demo_instr *in);

/* An error of one kind, about a client (may be NULL). */
void instr_error(demo_instr *in, demo_error kind, const char *client);
/* A client is connecting again; attempt is 1 for the first try after losing its connection. */
void instr_reconnect(demo_instr *in, const char *client, uint32_t attempt);

/* Sums for the snapshot: what the server sent or received, in frames or bytes. */
double instr_server_messages(const demo_instr *in, demo_dir dir);
double instr_server_bytes(const demo_instr *in, demo_dir dir);
double instr_heartbeat_timeouts(const demo_instr *in);
double instr_uptime(const demo_instr *in);

#endif
