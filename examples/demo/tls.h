/* tls.h — TLS for the demo's connections, behind calls that do not mention OpenSSL, so the
 * rest of the demo builds and runs without it (tls_off.c) when libssl-dev is not installed. */
#ifndef DEMO_TLS_H
#define DEMO_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Both ends' settings: the server presents cert/key; the demo's own clients trust exactly that
 * certificate (their only trust anchor; the host name is not checked, since they dial the
 * address the server bound). */
typedef struct demo_tls demo_tls;

/* Whether this build has TLS. */
bool tls_available(void);
/* Loads cert (PEM, may hold a chain) and key (PEM). Returns 0, or -1 with the reason in err. */
int tls_new(const char *cert, const char *key, demo_tls **out, char *err, size_t cap);
/* NULL is a no-op. */
void tls_free(demo_tls *tls);

/* Runs the handshake over the connected, blocking socket fd as server or client. Returns 0
 * with the session in *session, or -1 with the reason in err. */
int tls_handshake(demo_tls *tls, int fd, bool server, void **session, char *err, size_t cap);
/* As conn_read and conn_write (conn.h), over a session. */
ssize_t tls_read(void *session, void *buf, size_t cap, char *err, size_t errcap);
int tls_write(void *session, const void *buf, size_t len, char *err, size_t errcap);
/* Whether decrypted bytes wait inside the session, invisible to poll. */
bool tls_buffered(const void *session);
/* Frees the session; notify: send close_notify first. The socket is not closed. */
void tls_end(void *session, bool notify);

#endif
