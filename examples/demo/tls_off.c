/* tls_off.c — the TLS calls of tls.h for a build without OpenSSL (libssl-dev missing when
 * CMake ran): TLS is reported unavailable, so --cert/--key are refused on the command line and
 * no session is ever created; the session calls below are then never reached. */
#include "tls.h"

#include <stdio.h>

struct demo_tls {
    int unused;
};

bool tls_available(void)
{
    return false;
}

int tls_new(const char *cert, const char *key, demo_tls **out, char *err, size_t cap)
{
    (void)cert;
    (void)key;
    (void)out;
    snprintf(err, cap, "this vigil-demo was built without TLS (install libssl-dev, rebuild)");
    return -1;
}

void tls_free(demo_tls *tls)
{
    (void)tls;
}

int tls_handshake(demo_tls *tls, int fd, bool server, void **session, char *err, size_t cap)
{
    (void)tls;
    (void)fd;
    (void)server;
    (void)session;
    snprintf(err, cap, "no TLS in this build");
    return -1;
}

ssize_t tls_read(void *session, void *buf, size_t cap, char *err, size_t errcap)
{
    (void)session;
    (void)buf;
    (void)cap;
    snprintf(err, errcap, "no TLS in this build");
    return -1;
}

int tls_write(void *session, const void *buf, size_t len, char *err, size_t errcap)
{
    (void)session;
    (void)buf;
    (void)len;
    snprintf(err, errcap, "no TLS in this build");
    return -1;
}

bool tls_buffered(const void *session)
{
    (void)session;
    return false;
}

void tls_end(void *session, bool notify)
{
    (void)session;
    (void)notify;
}
