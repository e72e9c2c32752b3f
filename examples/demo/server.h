/* server.h — the demo's message server: a TCP (or TLS) listener speaking the protocol of
 * proto.h, one thread per connection. */
#ifndef DEMO_SERVER_H
#define DEMO_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "conn.h"
#include "faults.h"
#include "instr.h"

/* Connections served at once; more are refused (counted as overload errors). */
#define SERVER_MAX_CONNECTIONS 512
/* Late answers one connection may hold back; a request beyond gets an ERROR (overload). */
#define SERVER_MAX_LATE 64
/* A client silent for this many heartbeat intervals is dropped. */
#define SERVER_IDLE_INTERVALS 5
/* Seconds a new connection has to send its HELLO. */
#define SERVER_HELLO_TIMEOUT 5

typedef struct demo_server_opts {
    const char *addr;          /* HOST:PORT to listen on; port 0 picks a free one */
    demo_tls *tls;             /* NULL: plain TCP */
    const demo_faults *faults; /* read, never written; must outlive the server */
    demo_instr *instr;
    double heartbeat_interval; /* seconds */
    uint64_t seed;
} demo_server_opts;

typedef struct demo_server demo_server;

/* Binds, listens and starts the accepting thread. Returns 0, or -1 with the reason in err. */
int server_start(const demo_server_opts *opts, demo_server **out, char *err, size_t cap);
/* The bound address, for clients: a wildcard address is replaced by loopback. */
const struct sockaddr *server_address(const demo_server *srv, socklen_t *len);
/* The same as text, e.g. "127.0.0.1:7070". */
const char *server_address_text(const demo_server *srv);
/* Whether the accepting thread is running with its socket open (the health check's question). */
bool server_accepting(const demo_server *srv);
/* Stops accepting, tells every connected client BYE and joins every thread. Idempotent. */
void server_stop(demo_server *srv);
/* Stops, then frees. NULL is a no-op. */
void server_free(demo_server *srv);

#endif
