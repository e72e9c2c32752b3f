/* client.c — the load generator: one thread per client, each a loop of sessions.
 *
 * A session is: connect (TCP, then TLS when enabled), HELLO, wait for WELCOME, then until the
 * session's random lifetime is over send PINGs on a fixed interval and REQUESTs as a Poisson
 * process, and match what comes back against a table of pending requests with deadlines.
 * When the lifetime is over the client stops sending requests, lets the pending ones finish or
 * time out, and says BYE; when the random-disconnect fault fires it resets the connection
 * instead, mid-conversation, as a crashing client would. Either way it reconnects, with an
 * exponential back-off while connecting fails.
 *
 * The client checks what it gets: an answer must carry the request's payload reversed (the
 * checksum of the expected answer is kept with the pending request), a PONG must come before
 * the next PING is due, and every pending request ends exactly once -- completed, timed out or
 * failed -- which is what keeps demo_pending_requests equal to created minus the three ends. */
#include "client.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "demo.h"

typedef struct pending {
    uint32_t id;
    uint64_t sent_ns;
    uint64_t deadline_ns;
    uint32_t expect_crc; /* CRC-32 of the payload reversed: what the answer must carry */
} pending;

typedef struct client {
    demo_load *load;
    pthread_t thread;
    bool started;
    char name[24];
    demo_rng rng;
    conn c;
    bool abort_close; /* end the session with a reset, not a goodbye */
    uint32_t next_id;
    uint32_t ping_seq;
    uint64_t ping_sent_ns; /* the PING still waiting for its PONG; 0: none */
    unsigned missed_pongs;
    uint64_t next_ping_ns;
    uint64_t next_request_ns;
    uint64_t end_ns;  /* the session's lifetime runs out */
    uint64_t drop_ns; /* the random-disconnect fault fires */
    bool draining;    /* lifetime over: no new requests, BYE once the pending ones end */
    size_t npend;
    pending pend[CLIENT_MAX_PENDING];
    proto_reader reader;
} client;

struct demo_load {
    demo_load_opts o;
    struct sockaddr_storage server;
    demo_stop stop;
    bool running;
    client *clients;
};

typedef enum step {
    STEP_GO = 0,
    STEP_END = 1,
} step;

#define NEVER UINT64_MAX

static uint64_t after(uint64_t now, double seconds)
{
    return seconds >= 1e9 ? NEVER : now + (uint64_t)(seconds * 1e9);
}

/* --- sending ----------------------------------------------------------------------------- */

static step lost(client *cl, demo_error kind)
{
    instr_error(cl->load->o.instr, kind, cl->name);
    cl->abort_close = true;
    return STEP_END;
}

static step write_frame(client *cl, const uint8_t *frame, size_t n, unsigned type, uint32_t id)
{
    char err[256];
    if (conn_write(&cl->c, frame, n, err, sizeof err) != 0)
        return lost(cl, ERR_NETWORK);
    instr_message(cl->load->o.instr, ROLE_CLIENT, DIR_SENT, type, n, NULL, id);
    return STEP_GO;
}

static step send_frame(client *cl, unsigned type, uint32_t id, const void *payload, size_t len)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t n = proto_encode(type, id, payload, len, frame, sizeof frame);
    if (n == 0) {
        instr_error(cl->load->o.instr, ERR_ENCODE, cl->name);
        return STEP_GO;
    }
    return write_frame(cl, frame, n, type, id);
}

static step say_bye(client *cl, const char *reason)
{
    (void)send_frame(cl, PROTO_BYE, 0, reason, strlen(reason));
    return STEP_END;
}

static uint32_t reversed_crc(const uint8_t *data, size_t len)
{
    uint8_t rev[PROTO_MAX_PAYLOAD];
    if (len > sizeof rev)
        return 0; /* not sent: the encoder refuses such a payload */
    for (size_t i = 0; i < len; i++)
        rev[i] = data[len - 1 - i];
    return (uint32_t)crc32(crc32(0L, Z_NULL, 0), rev, (uInt)len);
}

/* A request of 16..256 random bytes; the encode fault makes it too large to encode. */
static size_t make_payload(client *cl, uint8_t *buf)
{
    size_t len = 16 + (size_t)(rng_next(&cl->rng) % 241);
    if (rng_chance(&cl->rng, cl->load->o.faults->encode_error_rate))
        len = PROTO_MAX_PAYLOAD + 1 + (size_t)(rng_next(&cl->rng) % 512);
    rng_fill(&cl->rng, buf, len);
    return len;
}

static step send_request(client *cl, uint64_t now)
{
    demo_instr *in = cl->load->o.instr;
    if (cl->npend == CLIENT_MAX_PENDING) {
        instr_error(in, ERR_OVERLOAD, cl->name);
        return STEP_GO;
    }
    uint8_t payload[PROTO_MAX_PAYLOAD + 512];
    size_t len = make_payload(cl, payload);
    uint8_t frame[PROTO_MAX_FRAME];
    uint32_t id = ++cl->next_id;
    size_t n = proto_encode(PROTO_REQUEST, id, payload, len, frame, sizeof frame);
    if (n == 0) {
        instr_error(in, ERR_ENCODE, cl->name);
        return STEP_GO;
    }
    (void)faults_corrupt(cl->load->o.faults, &cl->rng, frame, n);
    cl->pend[cl->npend++] = (pending){.id = id,
                                      .sent_ns = now,
                                      .expect_crc = reversed_crc(payload, len),
                                      .deadline_ns = after(now, cl->load->o.request_timeout)};
    instr_pending_created(in);
    return write_frame(cl, frame, n, PROTO_REQUEST, id);
}

/* A PING is due: the previous one must have been answered by now. */
static step heartbeat(client *cl, uint64_t now)
{
    demo_instr *in = cl->load->o.instr;
    if (cl->ping_sent_ns != 0) {
        instr_heartbeat_timeout(in, ROLE_CLIENT, cl->name);
        if (++cl->missed_pongs >= CLIENT_MAX_MISSED_PONGS) {
            cl->abort_close = true; /* the server is gone as far as we can tell */
            return STEP_END;
        }
    }
    cl->next_ping_ns = after(now, cl->load->o.heartbeat_interval);
    cl->ping_sent_ns = now;
    instr_heartbeat_sent(in, cl->name);
    return send_frame(cl, PROTO_PING, ++cl->ping_seq, NULL, 0);
}

/* --- pending requests -------------------------------------------------------------------- */

static pending *find_pending(client *cl, uint32_t id)
{
    for (size_t i = 0; i < cl->npend; i++)
        if (cl->pend[i].id == id)
            return &cl->pend[i];
    return NULL;
}

static void forget(client *cl, pending *p)
{
    *p = cl->pend[--cl->npend];
}

static void expire_pending(client *cl, uint64_t now)
{
    for (size_t i = 0; i < cl->npend;) {
        if (cl->pend[i].deadline_ns > now) {
            i++;
            continue;
        }
        instr_pending_timed_out(cl->load->o.instr, cl->name);
        forget(cl, &cl->pend[i]);
    }
}

/* The session ends with requests unanswered: they fail (no error of their own; the reason the
 * session ended is counted where it happened). */
static void abandon_pending(client *cl)
{
    while (cl->npend > 0) {
        instr_pending_failed(cl->load->o.instr);
        cl->npend--;
    }
}

static uint64_t earliest_deadline(const client *cl)
{
    uint64_t t = NEVER;
    for (size_t i = 0; i < cl->npend; i++)
        if (cl->pend[i].deadline_ns < t)
            t = cl->pend[i].deadline_ns;
    return t;
}

/* --- receiving --------------------------------------------------------------------------- */

static void on_response(client *cl, const proto_frame *f)
{
    demo_instr *in = cl->load->o.instr;
    pending *p = find_pending(cl, f->id);
    if (p == NULL) {
        instr_error(in, ERR_LATE_RESPONSE, cl->name);
        return;
    }
    if ((uint32_t)crc32(crc32(0L, Z_NULL, 0), f->payload, f->len) == p->expect_crc) {
        instr_pending_completed(in, (double)(mono_ns() - p->sent_ns) / 1e9);
    } else {
        instr_error(in, ERR_BAD_RESPONSE, cl->name);
        instr_pending_failed(in);
    }
    forget(cl, p);
}

static void on_error(client *cl, const proto_frame *f)
{
    demo_instr *in = cl->load->o.instr;
    instr_error(in, ERR_REJECTED, cl->name);
    pending *p = find_pending(cl, f->id);
    if (p != NULL) {
        instr_pending_failed(in);
        forget(cl, p);
    }
}

static step on_frame(client *cl, const proto_frame *f)
{
    instr_message(cl->load->o.instr, ROLE_CLIENT, DIR_RECEIVED, f->type, PROTO_HEADER_SIZE + f->len,
                  NULL, f->id);
    switch (f->type) {
    case PROTO_PONG:
        if (f->id == cl->ping_seq) { /* an older PING's PONG, late, changes nothing */
            cl->ping_sent_ns = 0;
            cl->missed_pongs = 0;
        }
        return STEP_GO;
    case PROTO_RESPONSE: on_response(cl, f); return STEP_GO;
    case PROTO_ERROR: on_error(cl, f); return STEP_GO;
    case PROTO_BYE: return STEP_END; /* the server ends the session; nothing to answer */
    default: instr_error(cl->load->o.instr, ERR_PROTOCOL, cl->name); return STEP_GO;
    }
}

static step drain_frames(client *cl)
{
    for (;;) {
        proto_frame f;
        const char *why;
        proto_result r = proto_reader_next(&cl->reader, &f, &why);
        if (r == PROTO_NEED_MORE)
            return STEP_GO;
        if (r == PROTO_BAD_FRAME)
            return lost(cl, ERR_PROTOCOL);
        if (r == PROTO_BAD_CHECKSUM)
            instr_error(cl->load->o.instr, ERR_DECODE, cl->name);
        else if (on_frame(cl, &f) == STEP_END)
            return STEP_END;
    }
}

static step read_more(client *cl)
{
    size_t cap;
    uint8_t *at = proto_reader_space(&cl->reader, &cap);
    char err[256];
    ssize_t n = conn_read(&cl->c, at, cap, err, sizeof err);
    if (n == -2)
        return STEP_GO;
    if (n <= 0) /* a close without BYE is a lost connection too */
        return lost(cl, ERR_NETWORK);
    proto_reader_filled(&cl->reader, (size_t)n);
    return drain_frames(cl);
}

/* --- a session --------------------------------------------------------------------------- */

/* Connects and greets; on success the session is open. */
static step open_session(client *cl)
{
    demo_load *load = cl->load;
    char err[256];
    int rc = conn_dial(&cl->c, (struct sockaddr *)&load->server, load->o.server_len, 1000,
                       load->o.tls, err, sizeof err);
    if (rc != 0) {
        instr_error(load->o.instr, rc == CONN_ETLS ? ERR_TLS : ERR_NETWORK, cl->name);
        return STEP_END;
    }
    proto_reader_init(&cl->reader);
    cl->abort_close = false;
    if (send_frame(cl, PROTO_HELLO, 0, cl->name, strlen(cl->name)) == STEP_END)
        return STEP_END;
    uint64_t deadline = after(mono_ns(), 2);
    for (;;) {
        proto_frame f;
        const char *why;
        proto_result r = proto_reader_next(&cl->reader, &f, &why);
        if (r == PROTO_OK) {
            instr_message(load->o.instr, ROLE_CLIENT, DIR_RECEIVED, f.type,
                          PROTO_HEADER_SIZE + f.len, NULL, f.id);
            if (f.type == PROTO_WELCOME)
                return STEP_GO;
            if (f.type == PROTO_BYE) /* e.g. the server is shutting down */
                return STEP_END;
            r = PROTO_BAD_FRAME; /* anything else is out of place here */
        }
        uint64_t now = mono_ns();
        if (r != PROTO_NEED_MORE || now >= deadline)
            return lost(cl, r == PROTO_BAD_CHECKSUM ? ERR_DECODE : ERR_PROTOCOL);
        conn_wake w = conn_wait(&cl->c, load->stop.fd, ms_until(deadline, now, 1000));
        if (w == CONN_WAKE_STOP)
            return say_bye(cl, "client shutting down");
        if (w == CONN_WAKE_READABLE) {
            size_t cap;
            uint8_t *at = proto_reader_space(&cl->reader, &cap);
            ssize_t n = conn_read(&cl->c, at, cap, err, sizeof err);
            if (n == 0 || n == -1)
                return lost(cl, ERR_NETWORK);
            if (n > 0)
                proto_reader_filled(&cl->reader, (size_t)n);
        }
    }
}

static void plan_session(client *cl, uint64_t now)
{
    const demo_load_opts *o = &cl->load->o;
    double life =
        CLIENT_SESSION_MIN + rng_uniform(&cl->rng) * (CLIENT_SESSION_MAX - CLIENT_SESSION_MIN);
    cl->end_ns = after(now, life);
    cl->next_ping_ns = after(now, o->heartbeat_interval);
    cl->ping_sent_ns = 0;
    cl->missed_pongs = 0;
    cl->draining = false;
    cl->next_request_ns =
        o->request_rate > 0 ? after(now, rng_exponential(&cl->rng, 1 / o->request_rate)) : NEVER;
    cl->drop_ns = o->faults->disconnect_rate > 0
                      ? after(now, rng_exponential(&cl->rng, 1 / o->faults->disconnect_rate))
                      : NEVER;
}

static uint64_t next_wakeup(const client *cl)
{
    uint64_t t = cl->next_ping_ns;
    uint64_t others[] = {cl->draining ? NEVER : cl->next_request_ns,
                         cl->draining ? NEVER : cl->end_ns, cl->drop_ns, earliest_deadline(cl)};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (others[i] < t)
            t = others[i];
    return t;
}

/* What is due now; STEP_END when the session is over. */
static step due(client *cl, uint64_t now)
{
    const demo_load_opts *o = &cl->load->o;
    expire_pending(cl, now);
    if (now >= cl->drop_ns) {
        cl->abort_close = true; /* the random-disconnect fault: a reset, no goodbye */
        return STEP_END;
    }
    if (!cl->draining && now >= cl->end_ns)
        cl->draining = true;
    if (cl->draining && cl->npend == 0)
        return say_bye(cl, "session over");
    if (now >= cl->next_ping_ns && heartbeat(cl, now) == STEP_END)
        return STEP_END;
    if (!cl->draining && now >= cl->next_request_ns) {
        cl->next_request_ns = after(now, rng_exponential(&cl->rng, 1 / o->request_rate));
        return send_request(cl, now);
    }
    return STEP_GO;
}

static void run_session(client *cl)
{
    plan_session(cl, mono_ns());
    for (;;) {
        uint64_t now = mono_ns();
        if (due(cl, now) == STEP_END)
            break;
        conn_wake w = conn_wait(&cl->c, cl->load->stop.fd, ms_until(next_wakeup(cl), now, 1000));
        if (w == CONN_WAKE_STOP) {
            (void)say_bye(cl, "client shutting down");
            break;
        }
        if (w == CONN_WAKE_READABLE && read_more(cl) == STEP_END)
            break;
    }
    abandon_pending(cl);
}

/* Interruptible sleep: returns early when the load is stopped. */
static void pause_for(client *cl, double seconds)
{
    struct pollfd p = {.fd = cl->load->stop.fd, .events = POLLIN};
    (void)poll(&p, 1, (int)(seconds * 1000));
}

static void *client_main(void *arg)
{
    client *cl = arg;
    demo_load *load = cl->load;
    uint32_t attempt = 0; /* connection attempts since the last session ended */
    while (!stop_raised(&load->stop)) {
        if (attempt > 0)
            instr_reconnect(load->o.instr, cl->name, attempt);
        if (open_session(cl) == STEP_GO) {
            run_session(cl);
            attempt = 1;
        } else {
            attempt++;
        }
        if (cl->c.fd >= 0)
            conn_close(&cl->c, cl->abort_close);
        /* Back off while connecting fails: 0.1 s doubling to 2 s, with jitter. */
        double wait = attempt <= 1 ? 0.05 : fmin(2.0, 0.1 * pow(2, attempt - 2));
        pause_for(cl, wait * (0.5 + rng_uniform(&cl->rng)));
    }
    return NULL;
}

/* --- the load generator ------------------------------------------------------------------ */

int load_start(const demo_load_opts *opts, demo_load **out, char *err, size_t cap)
{
    demo_load *load = calloc(1, sizeof *load);
    client *clients = calloc(opts->clients ? opts->clients : 1, sizeof *clients);
    if (load == NULL || clients == NULL || stop_init(&load->stop) != 0) {
        snprintf(err, cap, "cannot set up %u clients: %s", opts->clients, strerror(errno));
        free(clients);
        free(load);
        return -1;
    }
    load->o = *opts;
    memcpy(&load->server, opts->server, opts->server_len);
    load->clients = clients;
    load->running = true;
    for (unsigned i = 0; i < opts->clients; i++) {
        client *cl = &clients[i];
        cl->load = load;
        cl->c.fd = -1;
        snprintf(cl->name, sizeof cl->name, "client-%03u", i + 1);
        rng_seed(&cl->rng, opts->seed + i + 1);
        cl->started = pthread_create(&cl->thread, NULL, client_main, cl) == 0;
        if (!cl->started) {
            snprintf(err, cap, "cannot start the thread of %s", cl->name);
            load_free(load);
            return -1;
        }
    }
    *out = load;
    return 0;
}

void load_stop(demo_load *load)
{
    if (!load->running)
        return;
    stop_raise(&load->stop);
    for (unsigned i = 0; i < load->o.clients; i++)
        if (load->clients[i].started)
            pthread_join(load->clients[i].thread, NULL);
    load->running = false;
}

void load_free(demo_load *load)
{
    if (load == NULL)
        return;
    load_stop(load);
    stop_destroy(&load->stop);
    free(load->clients);
    free(load);
}
