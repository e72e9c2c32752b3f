/* conn.h — one connection of the demo, plain TCP or TLS, with the same calls either way, and
 * the HOST:PORT addresses the flags name. A conn belongs to one thread. */
#ifndef DEMO_CONN_H
#define DEMO_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "tls.h"

typedef struct conn {
    int fd;
    void *tls; /* the TLS session (tls.h); NULL: plain TCP */
} conn;

/* Socket timeouts bounding every blocking read and write, so no thread can hang on a peer. */
#define CONN_IO_TIMEOUT_MS 2000

/* What conn_open and conn_dial return besides 0. */
#define CONN_ENET (-1) /* the connection could not be made */
#define CONN_ETLS (-2) /* the TLS handshake failed */

/* Takes ownership of a connected socket: sets the timeouts and TCP_NODELAY, and with tls runs
 * the handshake as server or client. Returns 0, or CONN_ETLS with the reason in err (the
 * socket is closed then). */
int conn_open(conn *c, int fd, demo_tls *tls, bool server, char *err, size_t cap);
/* Connects to addr within timeout_ms, then as conn_open (client side). Returns 0, CONN_ENET or
 * CONN_ETLS, with the reason in err. */
int conn_dial(conn *c, const struct sockaddr *addr, socklen_t addrlen, int timeout_ms,
              demo_tls *tls, char *err, size_t cap);
/* Reads what is there (call when poll says readable, or conn_buffered is true). Returns the
 * byte count, 0 at an orderly end of stream, -1 on error (reason in err), -2 when nothing is
 * there yet after all (poll again). */
ssize_t conn_read(conn *c, void *buf, size_t cap, char *err, size_t errcap);
/* Writes all of buf. Returns 0, or -1 with the reason in err. */
int conn_write(conn *c, const void *buf, size_t len, char *err, size_t errcap);
/* Whether TLS holds decrypted bytes that poll cannot see. */
bool conn_buffered(const conn *c);

typedef enum conn_wake {
    CONN_WAKE_TIMEOUT = 0,
    CONN_WAKE_READABLE = 1, /* something to read (or the peer closed: a read tells which) */
    CONN_WAKE_STOP = 2,     /* stop_fd became readable */
} conn_wake;

/* Waits up to timeout_ms for the connection to be readable or stop_fd to be raised. */
conn_wake conn_wait(const conn *c, int stop_fd, int timeout_ms);
/* Closes. abort: no TLS close_notify and an immediate RST (SO_LINGER 0), as a crash or a
 * pulled cable would look to the peer. */
void conn_close(conn *c, bool abort);

/* Splits "HOST:PORT" or "[V6]:PORT" (host may be empty: every interface) without resolving
 * it. Returns 0, or -1 with the reason in err. */
int addr_split(const char *text, char *host, size_t hostcap, unsigned *port, char *err, size_t cap);
/* Resolves "HOST:PORT" for a listening socket (numeric or a name; empty host: any IPv4). */
int addr_resolve(const char *text, struct sockaddr_storage *out, socklen_t *len, char *err,
                 size_t cap);
/* "127.0.0.1:7070" / "[::1]:7070" for an address. */
void addr_format(const struct sockaddr *addr, char *buf, size_t cap);

#endif
