/* console.c — the lines of the console snapshot, in the order a reader scans them: who is
 * connected, how much traffic, how fast, what went wrong. For a service with no Prometheus
 * around it this block is the whole dashboard; the figures are read from the same metrics and
 * trackers that /metrics exposes, so the two always agree. */
#include "console.h"

static double messages_sent(void *user)
{
    return instr_server_messages(user, DIR_SENT);
}

static double messages_received(void *user)
{
    return instr_server_messages(user, DIR_RECEIVED);
}

static double bytes_sent(void *user)
{
    return instr_server_bytes(user, DIR_SENT);
}

static double bytes_received(void *user)
{
    return instr_server_bytes(user, DIR_RECEIVED);
}

static double heartbeat_timeouts(void *user)
{
    return instr_heartbeat_timeouts(user);
}

static vigil_status add_items(vigil_snapshot *s, demo_instr *in)
{
    vigil_status st = vigil_snapshot_add_gauge(s, "Connected Clients", in->connected);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_counter(s, "Total Connections", in->connections);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_value(s, "Messages Sent", messages_sent, in, "frames");
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_value(s, "Messages Received", messages_received, in, "frames");
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_value(s, "Bytes Sent", bytes_sent, in, "bytes");
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_value(s, "Bytes Received", bytes_received, in, "bytes");
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_throughput(s, "Throughput", in->throughput, 10);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_latency(s, "Request Latency", in->latency);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_value(s, "Heartbeat Timeouts", heartbeat_timeouts, in, NULL);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_gauge(s, "Active Pending Requests", in->pending_active);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_counter(s, "Requests Timed Out", in->pending_timed_out);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_counter(s, "Reconnects", in->reconnects);
    if (st == VIGIL_OK)
        st = vigil_snapshot_add_errors(s, "Errors", in->error_rate);
    return st;
}

vigil_status console_new(demo_instr *in, vigil_snapshot **out)
{
    vigil_snapshot *s;
    vigil_status st = vigil_snapshot_new("vigil-demo", &s);
    if (st != VIGIL_OK)
        return st;
    st = add_items(s, in);
    if (st != VIGIL_OK) {
        vigil_snapshot_free(s);
        return st;
    }
    *out = s;
    return VIGIL_OK;
}
