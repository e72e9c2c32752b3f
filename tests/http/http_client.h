/* http_client.h — a tiny blocking HTTP/1.1 client on raw sockets for the http tests: enough to
 * send a request (optionally several on one connection) and read one response by its
 * Content-Length, with a receive timeout so a broken server fails a test instead of hanging it.
 * Header-only and static: each test executable includes it once. */
#ifndef VIGIL_TEST_HTTP_CLIENT_H
#define VIGIL_TEST_HTTP_CLIENT_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

typedef struct reply {
    int status;          /* -1: no parsable response */
    char head[16384];    /* status line and headers, NUL-terminated */
    char *raw;           /* everything read (malloc) */
    size_t raw_len;
    const char *body;    /* into raw */
    size_t body_len;
} reply;

static void reply_free(reply *r)
{
    free(r->raw);
    memset(r, 0, sizeof *r);
}

static int client_connect(int family, unsigned port)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc;
    if (family == AF_INET6) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port)};
        a.sin6_addr = in6addr_loopback;
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    }
    if (rc != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static bool client_send(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* The value of header `name` in r->head (case-insensitive), copied into buf, or NULL. */
static const char *reply_header(const reply *r, const char *name, char *buf, size_t cap)
{
    size_t nlen = strlen(name);
    const char *line = strstr(r->head, "\r\n");
    while (line != NULL) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            size_t vlen = e ? (size_t)(e - v) : strlen(v);
            if (vlen >= cap)
                vlen = cap - 1;
            memcpy(buf, v, vlen);
            buf[vlen] = '\0';
            return buf;
        }
        line = strstr(line, "\r\n");
    }
    return NULL;
}

/* Reads one response. A HEAD response (head_only) has no body whatever Content-Length says;
 * without Content-Length the body runs to EOF. */
static bool client_read(int fd, reply *r, bool head_only)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    size_t cap = 65536;
    r->raw = malloc(cap);
    size_t hdr_end = 0;
    long long want = -1;
    for (;;) {
        if (hdr_end == 0) {
            char *e = r->raw_len ? memmem(r->raw, r->raw_len, "\r\n\r\n", 4) : NULL;
            if (e != NULL) {
                hdr_end = (size_t)(e - r->raw) + 4;
                size_t hl = hdr_end - 2 < sizeof r->head - 1 ? hdr_end - 2 : sizeof r->head - 1;
                memcpy(r->head, r->raw, hl);
                r->head[hl] = '\0';
                if (sscanf(r->head, "HTTP/1.%*d %d", &r->status) != 1)
                    r->status = -1;
                char v[64];
                if (head_only)
                    want = 0;
                else if (reply_header(r, "Content-Length", v, sizeof v))
                    want = atoll(v);
            }
        }
        if (hdr_end != 0 && want >= 0 && r->raw_len >= hdr_end + (size_t)want)
            break;
        if (r->raw_len == cap) {
            cap *= 2;
            r->raw = realloc(r->raw, cap);
        }
        ssize_t n = recv(fd, r->raw + r->raw_len, cap - r->raw_len, 0);
        if (n <= 0)
            break;
        r->raw_len += (size_t)n;
    }
    if (hdr_end == 0) {
        r->status = -1;
        return false;
    }
    r->body = r->raw + hdr_end;
    r->body_len = r->raw_len - hdr_end;
    if (want >= 0 && r->body_len > (size_t)want)
        r->body_len = (size_t)want;
    return want < 0 || r->body_len == (size_t)want;
}

/* One request on a fresh connection: "METHOD path HTTP/1.1" plus `headers` (each ending in
 * CRLF), Connection: close, and Content-Length when body is given. */
static bool http_call(int family, unsigned port, const char *method, const char *path,
                      const char *headers, const char *body, reply *r)
{
    memset(r, 0, sizeof *r);
    r->status = -1;
    int fd = client_connect(family, port);
    if (fd < 0)
        return false;
    char req[8192];
    int n;
    if (body != NULL)
        n = snprintf(req, sizeof req,
                     "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%sContent-Length: "
                     "%zu\r\n\r\n%s",
                     method, path, headers ? headers : "", strlen(body), body);
    else
        n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: test\r\nConnection: close\r\n%s\r\n",
                     method, path, headers ? headers : "");
    bool ok = n > 0 && (size_t)n < sizeof req && client_send(fd, req, (size_t)n) &&
              client_read(fd, r, strcmp(method, "HEAD") == 0);
    close(fd);
    return ok;
}

static bool http_get(unsigned port, const char *path, reply *r)
{
    return http_call(AF_INET, port, "GET", path, NULL, NULL, r);
}

#endif
