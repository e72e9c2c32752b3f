/* instr.c — the demo's instrumentation: metric families, trackers and event publishing behind
 * one call per thing that happens.
 *
 * Every label combination that can occur is looked up once here and its handle kept, so a
 * recording thread only ever does handle calls (a relaxed add into its own cell). Series are
 * created at start with value 0: Prometheus's rate() and increase() need a series to exist
 * before its first increment, or the first one is invisible. Names follow Prometheus's
 * conventions (base units, _total for counters); the families are listed in docs/demo.md.
 *
 * Events are published from here too, so a hook sees exactly what the counters count. Message
 * events are published for the server's requests and answers only: the clients' copies of the
 * same frames would double every line of the log hook. */
#include "instr.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "demo.h"

static const char *const error_names[ERR_KIND_COUNT] = {
    "encode",  "decode",   "protocol",      "network",      "tls",
    "timeout", "rejected", "late_response", "bad_response", "overload",
};
static const char *const role_names[ROLE_COUNT] = {"server", "client"};
static const char *const dir_names[DIR_COUNT] = {"sent", "received"};

const char *demo_error_name(demo_error kind)
{
    return kind < ERR_KIND_COUNT ? error_names[kind] : "unknown";
}

/* --- registration ------------------------------------------------------------------------ */

typedef struct scalar_def {
    vigil_metric_type type;
    const char *name;
    const char *help;
    size_t offset; /* of the handle in demo_instr */
} scalar_def;

#define AT(field) offsetof(demo_instr, field)

static const scalar_def scalars[] = {
    {VIGIL_GAUGE, "demo_connected_clients",
     "Clients in a session with the server now (HELLO "
     "answered, no BYE yet).",
     AT(connected)},
    {VIGIL_COUNTER, "demo_connections_total", "TCP connections the server accepted.",
     AT(connections)},
    {VIGIL_COUNTER, "demo_heartbeats_sent_total", "Heartbeats (PING) the clients sent.",
     AT(heartbeats_sent)},
    {VIGIL_COUNTER, "demo_heartbeats_received_total", "Heartbeats (PING) the server received.",
     AT(heartbeats_received)},
    {VIGIL_COUNTER, "demo_pending_requests_created_total",
     "Requests the clients sent and "
     "started waiting for.",
     AT(pending_created)},
    {VIGIL_COUNTER, "demo_pending_requests_completed_total",
     "Pending requests answered in "
     "time with the right payload.",
     AT(pending_completed)},
    {VIGIL_COUNTER, "demo_pending_requests_timed_out_total",
     "Pending requests whose deadline "
     "passed without an answer.",
     AT(pending_timed_out)},
    {VIGIL_COUNTER, "demo_pending_requests_failed_total",
     "Pending requests refused by the "
     "server, answered wrongly, or cut off by the end of their connection.",
     AT(pending_failed)},
    {VIGIL_GAUGE, "demo_pending_requests", "Requests waiting for an answer now.",
     AT(pending_active)},
    {VIGIL_COUNTER, "demo_reconnects_total",
     "Connection attempts the clients made after losing "
     "or ending a connection.",
     AT(reconnects)},
};

static vigil_status add_scalar(demo_instr *in, const scalar_def *d)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = d->name;
    o.help = d->help;
    void *slot = (char *)in + d->offset;
    if (d->type == VIGIL_GAUGE)
        return vigil_gauge_new(in->registry, &o, (vigil_gauge **)slot);
    return vigil_counter_new(in->registry, &o, (vigil_counter **)slot);
}

static vigil_status add_family(demo_instr *in, const char *name, const char *help,
                               const char *const *labels, size_t count, vigil_family **out)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = name;
    o.help = help;
    o.label_names = labels;
    o.label_count = count;
    return vigil_family_new(in->registry, VIGIL_COUNTER, &o, out);
}

/* Which frame types each side sends: the series that can occur. */
static bool role_sends(demo_role role, unsigned type)
{
    if (role == ROLE_CLIENT)
        return type == PROTO_HELLO || type == PROTO_PING || type == PROTO_REQUEST ||
               type == PROTO_BYE;
    return type == PROTO_WELCOME || type == PROTO_PONG || type == PROTO_RESPONSE ||
           type == PROTO_ERROR || type == PROTO_BYE;
}

static vigil_status add_messages(demo_instr *in)
{
    const char *const labels[] = {"role", "direction", "type"};
    vigil_status st = add_family(in, "demo_messages_total",
                                 "Protocol frames sent and received, "
                                 "by side, direction and frame type.",
                                 labels, 3, &in->messages_family);
    for (unsigned r = 0; r < ROLE_COUNT && st == VIGIL_OK; r++)
        for (unsigned d = 0; d < DIR_COUNT && st == VIGIL_OK; d++)
            for (unsigned t = 1; t < PROTO_TYPE_COUNT && st == VIGIL_OK; t++) {
                /* Received by one side means sent by the other. */
                demo_role sender = d == DIR_SENT ? (demo_role)r : (demo_role)(1 - r);
                if (role_sends(sender, t))
                    st = vigil_family_counter(
                        in->messages_family,
                        VIGIL_VALUES(role_names[r], dir_names[d], proto_type_name(t)),
                        &in->messages[r][d][t]);
            }
    return st;
}

static vigil_status add_bytes(demo_instr *in)
{
    const char *const labels[] = {"role", "direction"};
    vigil_family *fam;
    vigil_status st = add_family(in, "demo_message_bytes_total",
                                 "Bytes of protocol frames sent "
                                 "and received, by side and direction (TLS overhead excluded).",
                                 labels, 2, &fam);
    for (unsigned r = 0; r < ROLE_COUNT && st == VIGIL_OK; r++)
        for (unsigned d = 0; d < DIR_COUNT && st == VIGIL_OK; d++)
            st = vigil_family_counter(fam, VIGIL_VALUES(role_names[r], dir_names[d]),
                                      &in->bytes[r][d]);
    return st;
}

static vigil_status add_heartbeat_timeouts(demo_instr *in)
{
    const char *const labels[] = {"role"};
    vigil_family *fam;
    vigil_status st = add_family(in, "demo_heartbeat_timeouts_total",
                                 "Heartbeats given up on: "
                                 "role=client, no PONG before the next PING was due; "
                                 "role=server, a client silent for five intervals.",
                                 labels, 1, &fam);
    for (unsigned r = 0; r < ROLE_COUNT && st == VIGIL_OK; r++)
        st = vigil_family_counter(fam, VIGIL_VALUES(role_names[r]), &in->heartbeat_timeouts[r]);
    return st;
}

static vigil_status add_errors(demo_instr *in)
{
    const char *const labels[] = {"kind"};
    vigil_family *fam;
    vigil_status st = add_family(in, "demo_errors_total",
                                 "Errors seen by the server and the "
                                 "clients, by kind (docs/demo.md).",
                                 labels, 1, &fam);
    for (unsigned k = 0; k < ERR_KIND_COUNT && st == VIGIL_OK; k++)
        st = vigil_family_counter(fam, VIGIL_VALUES(error_names[k]), &in->errors[k]);
    return st;
}

static vigil_status add_request_duration(demo_instr *in)
{
    /* Loopback round trips take tens of microseconds; slow answers up to ~1.2 s. */
    static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                    0.025,  0.05,    0.1,    0.25,  0.5,    1,     2.5};
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "demo_request_duration_seconds";
    o.help = "Round trip of the clients' requests that were answered in time.";
    o.unit = "seconds";
    o.buckets = bounds;
    o.bucket_count = sizeof bounds / sizeof bounds[0];
    return vigil_histogram_new(in->registry, &o, &in->request_duration);
}

static double uptime_fn(void *user)
{
    return instr_uptime(user);
}

static vigil_status add_uptime(demo_instr *in)
{
    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "demo_uptime_seconds";
    o.help = "Seconds since the demo started (process_start_time_seconds has the start).";
    o.unit = "seconds";
    return vigil_gauge_func_new(in->registry, &o, uptime_fn, in);
}

static vigil_status add_trackers(demo_instr *in)
{
    vigil_latency_opts lo;
    vigil_latency_opts_init(&lo);
    lo.registry = in->registry;
    lo.name = "demo_request_latency";
    lo.help = "Round trip of the clients' answered requests over the last minute.";
    vigil_status st = vigil_latency_new(&lo, &in->latency);
    /* Not exposed: demo_errors_total and demo_messages_total already carry these counts. */
    if (st == VIGIL_OK)
        st = vigil_errors_new(NULL, &in->error_rate);
    if (st == VIGIL_OK)
        st = vigil_throughput_new(NULL, &in->throughput);
    return st;
}

vigil_status instr_new(vigil_registry *reg, vigil_event_bus *bus, demo_instr **out)
{
    demo_instr *in = calloc(1, sizeof *in);
    if (in == NULL)
        return VIGIL_ENOMEM;
    in->registry = reg;
    in->bus = bus;
    in->start_ns = mono_ns();
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0] && st == VIGIL_OK; i++)
        st = add_scalar(in, &scalars[i]);
    if (st == VIGIL_OK)
        st = add_messages(in);
    if (st == VIGIL_OK)
        st = add_bytes(in);
    if (st == VIGIL_OK)
        st = add_heartbeat_timeouts(in);
    if (st == VIGIL_OK)
        st = add_errors(in);
    if (st == VIGIL_OK)
        st = add_request_duration(in);
    if (st == VIGIL_OK)
        st = add_uptime(in);
    if (st == VIGIL_OK)
        st = add_trackers(in);
    if (st != VIGIL_OK) {
        instr_free(in);
        return st;
    }
    *out = in;
    return VIGIL_OK;
}

void instr_free(demo_instr *in)
{
    if (in == NULL)
        return;
    /* The families belong to the registry and go with it; the trackers are ours, and take
     * their collectors out of the registry as they go. */
    (void)vigil_registry_unregister(in->registry, "demo_uptime_seconds"); /* reads in */
    vigil_latency_free(in->latency);
    vigil_errors_free(in->error_rate);
    vigil_throughput_free(in->throughput);
    free(in);
}

/* --- recording --------------------------------------------------------------------------- */

void instr_accepted(demo_instr *in)
{
    vigil_counter_inc(in->connections);
}

void instr_session_opened(demo_instr *in, const char *client)
{
    vigil_gauge_inc(in->connected);
    (void)vigil_event_publish_client_connected(in->bus, client);
}

void instr_session_closed(demo_instr *in, const char *client, const char *reason)
{
    vigil_gauge_dec(in->connected);
    (void)vigil_event_publish_client_disconnected(in->bus, client, reason);
}

/* A counter for a combination outside the usual traffic (a foreign client sending a PONG):
 * created on first use through the family, which is the slow path but never fails silently. */
static vigil_counter *message_counter(demo_instr *in, demo_role role, demo_dir dir, unsigned type)
{
    if (type < PROTO_TYPE_COUNT && in->messages[role][dir][type] != NULL)
        return in->messages[role][dir][type];
    vigil_counter *c = NULL;
    (void)vigil_family_counter(
        in->messages_family, VIGIL_VALUES(role_names[role], dir_names[dir], proto_type_name(type)),
        &c);
    return c;
}

static void publish_message(demo_instr *in, demo_dir dir, unsigned type, size_t bytes,
                            const char *peer, uint32_t id)
{
    if (type != PROTO_REQUEST && type != PROTO_RESPONSE && type != PROTO_ERROR)
        return;
    char mid[32];
    snprintf(mid, sizeof mid, "%s-%u", type == PROTO_REQUEST ? "req" : "resp", (unsigned)id);
    if (dir == DIR_SENT)
        (void)vigil_event_publish_message_sent(in->bus, mid, peer, bytes);
    else
        (void)vigil_event_publish_message_received(in->bus, mid, peer, bytes);
}

void instr_message(demo_instr *in, demo_role role, demo_dir dir, unsigned type, size_t bytes,
                   const char *peer, uint32_t id)
{
    vigil_counter *c = message_counter(in, role, dir, type);
    if (c != NULL)
        vigil_counter_inc(c);
    vigil_counter_add_u64(in->bytes[role][dir], bytes);
    if (role == ROLE_SERVER) {
        vigil_throughput_record(in->throughput);
        publish_message(in, dir, type, bytes, peer, id);
    }
}

void instr_heartbeat_sent(demo_instr *in, const char *client)
{
    vigil_counter_inc(in->heartbeats_sent);
    (void)vigil_event_publish_heartbeat_sent(in->bus, client);
}

void instr_heartbeat_received(demo_instr *in, const char *client)
{
    vigil_counter_inc(in->heartbeats_received);
    (void)vigil_event_publish_heartbeat_received(in->bus, client);
}

void instr_heartbeat_timeout(demo_instr *in, demo_role role, const char *client)
{
    vigil_counter_inc(in->heartbeat_timeouts[role]);
    (void)vigil_event_publish_heartbeat_timeout(in->bus, client);
}

void instr_pending_created(demo_instr *in)
{
    vigil_counter_inc(in->pending_created);
    vigil_gauge_inc(in->pending_active);
}

void instr_pending_completed(demo_instr *in, double seconds)
{
    vigil_counter_inc(in->pending_completed);
    vigil_gauge_dec(in->pending_active);
    vigil_histogram_observe(in->request_duration, seconds);
    vigil_latency_record(in->latency, seconds);
    vigil_errors_record_success(in->error_rate);
}

void instr_pending_timed_out(demo_instr *in, const char *client)
{
    vigil_counter_inc(in->pending_timed_out);
    vigil_gauge_dec(in->pending_active);
    instr_error(in, ERR_TIMEOUT, client);
}

void instr_pending_failed(demo_instr *in)
{
    vigil_counter_inc(in->pending_failed);
    vigil_gauge_dec(in->pending_active);
}

void instr_error(demo_instr *in, demo_error kind, const char *client)
{
    vigil_counter_inc(in->errors[kind]);
    vigil_errors_record_error(in->error_rate, error_names[kind]);
    (void)vigil_event_publish_error(in->bus, error_names[kind], client);
}

void instr_reconnect(demo_instr *in, const char *client, uint32_t attempt)
{
    vigil_counter_inc(in->reconnects);
    (void)vigil_event_publish_reconnect(in->bus, client, attempt);
}

/* --- reading ----------------------------------------------------------------------------- */

double instr_server_messages(const demo_instr *in, demo_dir dir)
{
    double sum = 0;
    for (unsigned t = 1; t < PROTO_TYPE_COUNT; t++)
        if (in->messages[ROLE_SERVER][dir][t] != NULL)
            sum += vigil_counter_value(in->messages[ROLE_SERVER][dir][t]);
    return sum;
}

double instr_server_bytes(const demo_instr *in, demo_dir dir)
{
    return vigil_counter_value(in->bytes[ROLE_SERVER][dir]);
}

double instr_heartbeat_timeouts(const demo_instr *in)
{
    return vigil_counter_value(in->heartbeat_timeouts[ROLE_SERVER]) +
           vigil_counter_value(in->heartbeat_timeouts[ROLE_CLIENT]);
}

double instr_uptime(const demo_instr *in)
{
    return (double)(mono_ns() - in->start_ns) / 1e9;
}
