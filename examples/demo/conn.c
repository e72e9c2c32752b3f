/* conn.c — the demo's transport: a blocking socket, optionally carrying a TLS session (tls.h),
 * behind a few calls, so the server and the clients never ask which one they have; and the
 * HOST:PORT addresses of the flags.
 *
 * Sockets stay blocking, with send and receive timeouts: frames are small and every thread owns
 * its connections, so a blocking write is simpler than a write queue, and the timeouts keep a
 * stuck peer from holding a thread for long. Readiness comes from poll() (conn_wait), which
 * also watches the owner's stop signal so a shutdown never waits for traffic. */
#include "conn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

static void set_timeouts(int fd)
{
    struct timeval tv = {CONN_IO_TIMEOUT_MS / 1000, (CONN_IO_TIMEOUT_MS % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int conn_open(conn *c, int fd, demo_tls *tls, bool server, char *err, size_t cap)
{
    c->fd = fd;
    c->tls = NULL;
    set_timeouts(fd);
    if (tls != NULL && tls_handshake(tls, fd, server, &c->tls, err, cap) != 0) {
        conn_close(c, true);
        return CONN_ETLS;
    }
    return 0;
}

/* A connect that gives up after timeout_ms instead of the kernel's minutes. */
static int connect_within(int fd, const struct sockaddr *addr, socklen_t len, int timeout_ms)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -1;
    int rc = connect(fd, addr, len);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        rc = poll(&p, 1, timeout_ms);
        if (rc == 0)
            errno = ETIMEDOUT;
        int so = 0;
        socklen_t sl = sizeof so;
        if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0)
            errno = so;
        rc = rc > 0 && so == 0 ? 0 : -1;
    }
    if (fcntl(fd, F_SETFL, flags) < 0)
        return -1;
    return rc;
}

int conn_dial(conn *c, const struct sockaddr *addr, socklen_t addrlen, int timeout_ms,
              demo_tls *tls, char *err, size_t cap)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return CONN_ENET;
    }
    if (connect_within(fd, addr, addrlen, timeout_ms) != 0) {
        snprintf(err, cap, "connect: %s", strerror(errno));
        close(fd);
        return CONN_ENET;
    }
    return conn_open(c, fd, tls, false, err, cap);
}

ssize_t conn_read(conn *c, void *buf, size_t cap, char *err, size_t errcap)
{
    if (c->tls != NULL)
        return tls_read(c->tls, buf, cap, err, errcap);
    ssize_t n = recv(c->fd, buf, cap, 0);
    if (n >= 0)
        return n;
    if (errno == EINTR)
        return -2;
    snprintf(err, errcap, "%s", errno == EAGAIN ? "read timed out" : strerror(errno));
    return -1;
}

int conn_write(conn *c, const void *buf, size_t len, char *err, size_t errcap)
{
    if (c->tls != NULL)
        return tls_write(c->tls, buf, len, err, errcap);
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errcap, "%s",
                     n < 0 && errno == EAGAIN ? "write timed out"
                     : n < 0                  ? strerror(errno)
                                              : "nothing written");
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

bool conn_buffered(const conn *c)
{
    return c->tls != NULL && tls_buffered(c->tls);
}

conn_wake conn_wait(const conn *c, int stop_fd, int timeout_ms)
{
    if (conn_buffered(c))
        timeout_ms = 0;
    struct pollfd p[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
    int rc = poll(p, 2, timeout_ms);
    if (rc > 0 && (p[1].revents & POLLIN))
        return CONN_WAKE_STOP;
    if ((rc > 0 && p[0].revents != 0) || conn_buffered(c))
        return CONN_WAKE_READABLE;
    return CONN_WAKE_TIMEOUT;
}

void conn_close(conn *c, bool abort)
{
    if (c->fd < 0)
        return;
    tls_end(c->tls, !abort);
    c->tls = NULL;
    if (abort) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd);
    c->fd = -1;
}

/* --- addresses --------------------------------------------------------------------------- */

int addr_split(const char *text, char *host, size_t hostcap, unsigned *port, char *err, size_t cap)
{
    const char *colon = strrchr(text, ':');
    if (colon == NULL) {
        snprintf(err, cap, "'%s' is not HOST:PORT", text);
        return -1;
    }
    const char *h = text;
    size_t hl = (size_t)(colon - text);
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') { /* [V6]:PORT */
        h++;
        hl -= 2;
    } else if (memchr(h, ':', hl) != NULL) {
        snprintf(err, cap, "'%s': write an IPv6 address in brackets, [::1]:PORT", text);
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || errno != 0 || p > 65535 || colon[1] == '-' ||
        colon[1] == '+' || colon[1] == ' ') {
        snprintf(err, cap, "'%s': the port must be a number from 0 to 65535", text);
        return -1;
    }
    if (hl >= hostcap) {
        snprintf(err, cap, "'%s': host name too long", text);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (unsigned)p;
    return 0;
}

int addr_resolve(const char *text, struct sockaddr_storage *out, socklen_t *len, char *err,
                 size_t cap)
{
    char host[256], service[8];
    unsigned port;
    if (addr_split(text, host, sizeof host, &port, err, cap) != 0)
        return -1;
    snprintf(service, sizeof service, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    if (host[0] == '\0')
        hints.ai_family = AF_INET;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(host[0] ? host : NULL, service, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, cap, "'%s': %s", text, rc != 0 ? gai_strerror(rc) : "no address");
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

void addr_format(const struct sockaddr *addr, char *buf, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        snprintf(buf, cap, "[%s]:%u", host, port);
        return;
    }
    const struct sockaddr_in *a = (const void *)addr;
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    snprintf(buf, cap, "%s:%u", host, ntohs(a->sin_port));
}
