/* client.h — the built-in load generator: N client threads that connect to the server, greet
 * it, send heartbeats and requests, wait for answers with deadlines, and disconnect and
 * reconnect, as the clients of a real message service do. */
#ifndef DEMO_CLIENT_H
#define DEMO_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"
#include "faults.h"
#include "instr.h"

/* Requests one client may wait for at once; beyond, it holds back (counted as overload). */
#define CLIENT_MAX_PENDING 256
/* Missed PONGs in a row after which a client gives the connection up. */
#define CLIENT_MAX_MISSED_PONGS 3
/* A session lasts a random time in this range (seconds), then ends with BYE. */
#define CLIENT_SESSION_MIN 10
#define CLIENT_SESSION_MAX 30

typedef struct demo_load_opts {
    unsigned clients;
    const struct sockaddr *server; /* copied */
    socklen_t server_len;
    demo_tls *tls;             /* NULL: plain TCP */
    const demo_faults *faults; /* read, never written; must outlive the load */
    demo_instr *instr;
    double request_rate;       /* requests per second per client (Poisson arrivals) */
    double request_timeout;    /* seconds a request may wait for its answer */
    double heartbeat_interval; /* seconds between PINGs; a PONG is due before the next */
    uint64_t seed;
} demo_load_opts;

typedef struct demo_load demo_load;

/* Starts the client threads. Returns 0, or -1 with the reason in err. */
int load_start(const demo_load_opts *opts, demo_load **out, char *err, size_t cap);
/* Each client says BYE (its pending requests count as failed) and its thread is joined.
 * Idempotent. */
void load_stop(demo_load *load);
/* Stops, then frees. NULL is a no-op. */
void load_free(demo_load *load);

#endif
