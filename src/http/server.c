/* server.c — the embedded HTTP server: listen-address parsing, the listen socket, the
 * libmicrohttpd daemon and the routing of each request to a handler or to a JSON error.
 *
 * We open, bind and listen on the socket ourselves and hand it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): a bind failure then comes back as VIGIL_EADDR with the errno text
 * instead of a bare NULL daemon, and getsockname() gives the real port when port 0 was asked for.
 * libmicrohttpd runs its own polling threads (a pool of `threads`, epoll on Linux) and never logs.
 *
 * A request is handled in two access-handler calls, as libmicrohttpd delivers it: the first sees
 * only the headers and decides routing (404, 405, 413 by Content-Length); later calls deliver the
 * body; the last one runs the handler or sends the error. Errors decided from the headers are
 * sent at once only when a body is still coming (libmicrohttpd then closes the connection instead
 * of reading it); a bodiless request waits for the last call so its connection stays keep-alive.
 *
 * Locking: `lock` guards the daemon pointer and the route table against concurrent
 * start/stop/route calls. Server threads read the route table without the lock: routes can only
 * change while no daemon exists, and MHD_start_daemon's thread creation orders those writes
 * before every read. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http_int.h"

#define DEFAULT_LISTEN "127.0.0.1:9090"
#define MAX_THREADS 1024
#define TEXT_PLAIN "text/plain; charset=utf-8"
#define APPLICATION_JSON "application/json"

struct vigil_http_server {
    pthread_mutex_t lock;
    vigil_http_options opts;          /* immutable after _new; opts.listen points at `listen` */
    char *listen;                     /* immutable */
    struct sockaddr_storage addr;     /* immutable: the parsed listen address */
    socklen_t addrlen;
    vigil__strmap routes;             /* path -> route; written under lock while stopped */
    vigil__http_route *route_list;    /* every route, for freeing; same rule */
    struct MHD_Daemon *daemon;        /* lock; NULL while stopped */
    _Atomic unsigned port;            /* bound port while running, else 0 */
};

/* --- options and addresses --------------------------------------------------------------- */

VIGIL_API void vigil_http_options_init(vigil_http_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->listen = DEFAULT_LISTEN;
    opts->threads = 2;
    opts->timeout_s = 30;
    opts->max_connections = 256;
    opts->max_body = (size_t)1 << 20;
}

/* The errno text without strerror's static buffer (handlers and servers run on many threads). */
static const char *errtext(int err, char *buf, size_t len)
{
    return strerror_r(err, buf, len); /* GNU variant: _GNU_SOURCE is set for the library */
}

/* Parses "HOST:PORT", "[V6]:PORT" or ":PORT" into a socket address. Numeric hosts are taken
 * as they are; anything else ("localhost") goes through the resolver once, here, so start()
 * never blocks on DNS. IPv4 wins when a name has both. */
static vigil_status parse_listen(const char *spec, struct sockaddr_storage *out, socklen_t *outlen)
{
    const char *host;
    size_t hostlen;
    const char *port;
    bool bracketed = spec[0] == '[';
    if (bracketed) {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':')
            return vigil__fail(VIGIL_EADDR, "listen address \"%s\": expected [IPV6]:PORT", spec);
        host = spec + 1;
        hostlen = (size_t)(close - host);
        port = close + 2;
        if (hostlen == 0)
            return vigil__fail(VIGIL_EADDR, "listen address \"%s\": empty IPv6 address", spec);
    } else {
        const char *colon = strrchr(spec, ':');
        if (colon == NULL)
            return vigil__fail(VIGIL_EADDR, "listen address \"%s\": expected HOST:PORT", spec);
        host = spec;
        hostlen = (size_t)(colon - spec);
        port = colon + 1;
        if (memchr(host, ':', hostlen) != NULL)
            return vigil__fail(VIGIL_EADDR,
                               "listen address \"%s\": an IPv6 address needs brackets, "
                               "e.g. [::1]:9090",
                               spec);
    }
    size_t plen = strlen(port);
    if (plen == 0 || plen > 5 || strspn(port, "0123456789") != plen || atol(port) > 65535)
        return vigil__fail(VIGIL_EADDR, "listen address \"%s\": port must be 0-65535", spec);
    char hostbuf[256];
    if (hostlen >= sizeof hostbuf)
        return vigil__fail(VIGIL_EADDR, "listen address \"%.64s...\": host name too long", spec);
    if (hostlen == 0) {
        strcpy(hostbuf, "0.0.0.0");
    } else {
        memcpy(hostbuf, host, hostlen);
        hostbuf[hostlen] = '\0';
    }

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = bracketed ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(hostbuf, port, &hints, &res);
    if (rc == EAI_NONAME && !bracketed) {
        hints.ai_flags = AI_NUMERICSERV | AI_PASSIVE;
        rc = getaddrinfo(hostbuf, port, &hints, &res);
    }
    if (rc != 0)
        return vigil__fail(VIGIL_EADDR, "listen address \"%s\": %s", spec, gai_strerror(rc));
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
        if (ai->ai_family == AF_INET6 && pick == NULL)
            pick = ai;
    }
    if (pick == NULL || pick->ai_addrlen > sizeof *out) {
        freeaddrinfo(res);
        return vigil__fail(VIGIL_EADDR, "listen address \"%s\": no IPv4 or IPv6 address", spec);
    }
    memset(out, 0, sizeof *out);
    memcpy(out, pick->ai_addr, pick->ai_addrlen);
    *outlen = (socklen_t)pick->ai_addrlen;
    freeaddrinfo(res);
    return VIGIL_OK;
}

/* --- lifecycle ------------------------------------------------------------------------- */

VIGIL_API vigil_status vigil_http_server_new(const vigil_http_options *opts,
                                             vigil_http_server **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "http server: out is NULL");
    *out = NULL;
    vigil_http_options o;
    if (opts != NULL)
        o = *opts;
    else
        vigil_http_options_init(&o);
    if (o.listen == NULL)
        o.listen = DEFAULT_LISTEN;
    if (o.threads == 0 || o.threads > MAX_THREADS)
        return vigil__fail(VIGIL_EINVAL, "http server: threads must be 1-%d, not %u", MAX_THREADS,
                           o.threads);
    if (o.max_connections < o.threads)
        return vigil__fail(VIGIL_EINVAL,
                           "http server: max_connections (%u) must be at least threads (%u)",
                           o.max_connections, o.threads);

    vigil_http_server *srv = vigil__calloc(1, sizeof *srv);
    if (srv == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating an http server");
    vigil_status st = parse_listen(o.listen, &srv->addr, &srv->addrlen);
    if (st != VIGIL_OK) {
        vigil__free(srv);
        return st;
    }
    srv->listen = vigil__strdup(o.listen);
    if (srv->listen == NULL) {
        vigil__free(srv);
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating an http server");
    }
    if (pthread_mutex_init(&srv->lock, NULL) != 0) {
        vigil__free(srv->listen);
        vigil__free(srv);
        return vigil__fail(VIGIL_ENOMEM, "http server: cannot create a mutex");
    }
    srv->opts = o;
    srv->opts.listen = srv->listen;
    vigil__strmap_init(&srv->routes);
    atomic_init(&srv->port, 0);
    *out = srv;
    return VIGIL_OK;
}

/* Adds an exact route, or a prefix route (prefix true), to the table. */
static vigil_status add_route(vigil_http_server *srv, const char *path, bool prefix,
                              bool allow_post, vigil_http_handler handler, void *user)
{
    vigil__http_route *r = vigil__calloc(1, sizeof *r);
    char *p = vigil__strdup(path);
    if (r == NULL || p == NULL) {
        vigil__free(r);
        vigil__free(p);
        return vigil__fail(VIGIL_ENOMEM, "out of memory adding http route %.128s", path);
    }
    r->path = p;
    r->prefix = prefix;
    r->allow_post = allow_post;
    r->handler = handler;
    r->user = user;

    vigil_status st;
    pthread_mutex_lock(&srv->lock);
    if (srv->daemon != NULL) {
        st = vigil__fail(VIGIL_ESTATE, "http route %.128s: server is running; add routes first",
                         path);
    } else {
        st = vigil__strmap_put(&srv->routes, path, r);
        if (st == VIGIL_EEXIST)
            st = vigil__fail(VIGIL_EEXIST, "http route %.128s already exists", path);
        if (st == VIGIL_OK) {
            r->next = srv->route_list;
            srv->route_list = r;
        }
    }
    pthread_mutex_unlock(&srv->lock);
    if (st != VIGIL_OK) {
        vigil__free(r->path);
        vigil__free(r);
    }
    return st;
}

VIGIL_API vigil_status vigil_http_server_route(vigil_http_server *srv, const char *path,
                                               bool allow_post, vigil_http_handler handler,
                                               void *user)
{
    if (srv == NULL || path == NULL || handler == NULL)
        return vigil__fail(VIGIL_EINVAL, "http route: NULL argument");
    if (path[0] != '/')
        return vigil__fail(VIGIL_EINVAL, "http route \"%.128s\": path must start with '/'", path);
    return add_route(srv, path, false, allow_post, handler, user);
}

VIGIL_API vigil_status vigil_http_server_route_prefix(vigil_http_server *srv, const char *prefix,
                                                      bool allow_post, vigil_http_handler handler,
                                                      void *user)
{
    if (srv == NULL || prefix == NULL || handler == NULL)
        return vigil__fail(VIGIL_EINVAL, "http prefix route: NULL argument");
    size_t n = strlen(prefix);
    if (n == 0 || prefix[0] != '/' || prefix[n - 1] != '/')
        return vigil__fail(VIGIL_EINVAL,
                           "http prefix route \"%.128s\": must start and end with '/'", prefix);
    return add_route(srv, prefix, true, allow_post, handler, user);
}

/* libmicrohttpd must never print: the library reports through statuses only. */
static void quiet_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    (void)fmt;
    (void)ap;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls);
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);

/* Binds and listens; returns the socket or -1 with vigil_errmsg set. */
static int open_listener(vigil_http_server *srv, vigil_status *st)
{
    char eb[128];
    int fam = srv->addr.ss_family;
    int fd = socket(fam, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        *st = vigil__fail(VIGIL_EADDR, "socket %s: %s", srv->listen, errtext(errno, eb, sizeof eb));
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fam == AF_INET6)
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (const struct sockaddr *)&srv->addr, srv->addrlen) != 0) {
        *st = vigil__fail(VIGIL_EADDR, "bind %s: %s", srv->listen, errtext(errno, eb, sizeof eb));
        close(fd);
        return -1;
    }
    if (listen(fd, SOMAXCONN) != 0) {
        *st = vigil__fail(VIGIL_EADDR, "listen %s: %s", srv->listen,
                          errtext(errno, eb, sizeof eb));
        close(fd);
        return -1;
    }
    return fd;
}

static unsigned bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

/* After a failed MHD_start_daemon we cannot know whether libmicrohttpd closed the socket we
 * gave it, so it got a duplicate: if that descriptor still names our socket (same inode while
 * our own descriptor keeps the socket alive) it is ours to close, else it was closed and its
 * number may already belong to another thread, which we must not touch. */
static void close_if_same(int dupfd, int fd)
{
    struct stat a, b;
    if (fstat(fd, &a) == 0 && fstat(dupfd, &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
        close(dupfd);
}

VIGIL_API vigil_status vigil_http_server_start(vigil_http_server *srv)
{
    if (srv == NULL)
        return vigil__fail(VIGIL_EINVAL, "http server is NULL");
    vigil_status st = VIGIL_OK;
    pthread_mutex_lock(&srv->lock);
    if (srv->daemon != NULL) {
        pthread_mutex_unlock(&srv->lock);
        return vigil__fail(VIGIL_ESTATE, "http server on %s is already running", srv->listen);
    }
    int fd = open_listener(srv, &st);
    if (fd < 0) {
        pthread_mutex_unlock(&srv->lock);
        return st;
    }
    unsigned port = bound_port(fd);
    int mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (mhd_fd < 0) {
        char eb[128];
        st = vigil__fail(VIGIL_EIO, "http server on %s: dup: %s", srv->listen,
                         errtext(errno, eb, sizeof eb));
        close(fd);
        pthread_mutex_unlock(&srv->lock);
        return st;
    }
    /* The logger goes first so that nothing is printed while options are parsed. */
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC, 0, NULL, NULL, on_request, srv,
        MHD_OPTION_EXTERNAL_LOGGER, quiet_log, NULL, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)mhd_fd,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)srv->opts.threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)srv->opts.max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)srv->opts.timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_END);
    if (d == NULL) {
        close_if_same(mhd_fd, fd);
        st = vigil__fail(VIGIL_EIO, "http server on %s: libmicrohttpd failed to start",
                         srv->listen);
    } else {
        srv->daemon = d;
        atomic_store(&srv->port, port);
    }
    close(fd);
    pthread_mutex_unlock(&srv->lock);
    return st;
}

VIGIL_API unsigned vigil_http_server_port(const vigil_http_server *srv)
{
    return srv ? atomic_load(&srv->port) : 0;
}

VIGIL_API void vigil_http_server_stop(vigil_http_server *srv)
{
    if (srv == NULL)
        return;
    pthread_mutex_lock(&srv->lock);
    if (srv->daemon != NULL) {
        /* Joins the server threads and closes the listen socket and every connection. */
        MHD_stop_daemon(srv->daemon);
        srv->daemon = NULL;
        atomic_store(&srv->port, 0);
    }
    pthread_mutex_unlock(&srv->lock);
}

VIGIL_API void vigil_http_server_free(vigil_http_server *srv)
{
    if (srv == NULL)
        return;
    vigil_http_server_stop(srv);
    vigil__http_route *r = srv->route_list;
    while (r != NULL) {
        vigil__http_route *next = r->next;
        vigil__free(r->path);
        vigil__free(r);
        r = next;
    }
    vigil__strmap_free(&srv->routes);
    pthread_mutex_destroy(&srv->lock);
    vigil__free(srv->listen);
    vigil__free(srv);
}

/* --- responses ------------------------------------------------------------------------- */

/* Queues `body` (taken: its bytes go to libmicrohttpd without a copy and are freed by it) with
 * the handler's headers, a default Content-Type and an optional Allow. For HEAD,
 * libmicrohttpd sends the Content-Length of this body and drops the body itself. */
static enum MHD_Result queue(struct MHD_Connection *conn, unsigned code, vigil_buffer *body,
                             const struct vigil_http_response *resp, const char *ctype,
                             const char *allow)
{
    struct MHD_Response *r;
    if (body->len == 0) {
        vigil_buffer_free(body);
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_buffer_with_free_callback(body->len, body->data,
                                                               vigil__free);
        if (r != NULL) {
            body->data = NULL;
            body->len = body->cap = 0;
        } else {
            vigil_buffer_free(body);
        }
    }
    if (r == NULL)
        return MHD_NO;
    bool has_ctype = false;
    if (resp != NULL) {
        for (size_t i = 0; i < resp->header_len; i++) {
            /* libmicrohttpd refuses headers it computes itself (Content-Length); dropping
             * those is right, as the value it sends is the true one. */
            (void)MHD_add_response_header(r, resp->headers[i].name, resp->headers[i].value);
        }
        has_ctype = vigil__http_response_find(resp, MHD_HTTP_HEADER_CONTENT_TYPE) != NULL;
    }
    if ((!has_ctype && MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype) != MHD_YES) ||
        (allow != NULL && MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES)) {
        MHD_destroy_response(r);
        return MHD_NO;
    }
    enum MHD_Result ret = MHD_queue_response(conn, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* {"status":"error","error":"<error>"[,"<key>":"<value>"]} with every string JSON-escaped. */
static enum MHD_Result send_json_error(struct MHD_Connection *conn, unsigned code,
                                       const char *error, const char *key, const char *value,
                                       const char *allow)
{
    static const char head[] = "{\"status\":\"error\",\"error\":\"";
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    vigil_status st = vigil_buffer_append(&b, head, sizeof head - 1);
    if (st == VIGIL_OK)
        st = vigil__json_escape(&b, error);
    if (st == VIGIL_OK && key != NULL) {
        st = vigil_buffer_append(&b, "\",\"", 3);
        if (st == VIGIL_OK)
            st = vigil__json_escape(&b, key);
        if (st == VIGIL_OK)
            st = vigil_buffer_append(&b, "\":\"", 3);
        if (st == VIGIL_OK)
            st = vigil__json_escape(&b, value);
    }
    if (st == VIGIL_OK)
        st = vigil_buffer_append(&b, "\"}\n", 3);
    if (st != VIGIL_OK) {
        vigil_buffer_free(&b);
        return MHD_NO; /* out of memory: libmicrohttpd closes the connection */
    }
    return queue(conn, code, &b, NULL, APPLICATION_JSON, allow);
}

static enum MHD_Result send_early_error(const vigil_http_server *srv,
                                        struct vigil_http_request *req)
{
    switch (req->early_status) {
    case MHD_HTTP_NOT_FOUND:
        return send_json_error(req->conn, MHD_HTTP_NOT_FOUND, "not found", "path", req->path,
                               NULL);
    case MHD_HTTP_METHOD_NOT_ALLOWED:
        return send_json_error(req->conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed",
                               "method", req->method,
                               req->route->allow_post ? "GET, HEAD, POST" : "GET, HEAD");
    default: {
        char msg[96];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes", srv->opts.max_body);
        return send_json_error(req->conn, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL, NULL, NULL);
    }
    }
}

/* Runs the route's handler and sends what it produced, or a JSON 500 with its error. */
static enum MHD_Result dispatch(struct vigil_http_request *req)
{
    if (vigil__http_request_parse_form(req) != VIGIL_OK)
        return MHD_NO;
    struct vigil_http_response resp;
    vigil__http_response_init(&resp);
    (void)vigil__fail(VIGIL_OK, "%s", ""); /* so a handler that fails silently is not
                                               reported with an older, unrelated message */
    const vigil__http_route *route = req->route;
    vigil_status st = route->handler(req, &resp, route->user);
    unsigned code = resp.status;
    if (st == VIGIL_OK && (code < 100 || code > 599))
        st = vigil__fail(VIGIL_EINVAL, "handler for %s set invalid HTTP status %u", route->path,
                         code);
    if (st != VIGIL_OK) {
        const char *msg = vigil_errmsg();
        if (msg[0] == '\0')
            msg = vigil_strerror(st);
        vigil__http_response_free(&resp);
        return send_json_error(req->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, msg, NULL, NULL, NULL);
    }
    enum MHD_Result ret = queue(req->conn, code, &resp.body, &resp, TEXT_PLAIN, NULL);
    vigil__http_response_free(&resp);
    return ret;
}

/* --- request flow ---------------------------------------------------------------------- */

static bool has_body(struct MHD_Connection *conn)
{
    const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL && strspn(cl, "0 \t") != strlen(cl))
        return true;
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                       MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
}

/* The longest prefix route under which path lies, or NULL. The list is read without the lock
 * for the reason the route table is (see the top of this file). */
static const vigil__http_route *prefix_route(const vigil_http_server *srv, const char *path)
{
    const vigil__http_route *best = NULL;
    size_t best_len = 0;
    for (const vigil__http_route *r = srv->route_list; r != NULL; r = r->next) {
        size_t n = strlen(r->path);
        if (r->prefix && n > best_len && strncmp(path, r->path, n) == 0) {
            best = r;
            best_len = n;
        }
    }
    return best;
}

/* Decides from the request line and headers what the request may do. */
static void classify(const vigil_http_server *srv, struct vigil_http_request *req)
{
    req->route = vigil__strmap_get(&srv->routes, req->path);
    if (req->route == NULL)
        req->route = prefix_route(srv, req->path);
    if (req->route == NULL) {
        req->early_status = MHD_HTTP_NOT_FOUND;
        return;
    }
    if (strcmp(req->method, MHD_HTTP_METHOD_GET) == 0 ||
        strcmp(req->method, MHD_HTTP_METHOD_HEAD) == 0)
        return;
    if (strcmp(req->method, MHD_HTTP_METHOD_POST) != 0 || !req->route->allow_post) {
        req->early_status = MHD_HTTP_METHOD_NOT_ALLOWED;
        return;
    }
    req->collect_body = true;
    const char *cl = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
        errno = 0;
        char *end;
        unsigned long long n = strtoull(cl, &end, 10);
        if (errno == ERANGE || n > srv->opts.max_body)
            req->early_status = MHD_HTTP_CONTENT_TOO_LARGE;
    }
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    const vigil_http_server *srv = cls;
    struct vigil_http_request *req = *con_cls;
    if (req == NULL) { /* first call: the headers are in */
        req = vigil__calloc(1, sizeof *req);
        if (req == NULL)
            return MHD_NO;
        req->conn = conn;
        req->method = method;
        req->path = url;
        vigil_buffer_init(&req->body, srv->opts.max_body ? srv->opts.max_body : 1);
        *con_cls = req;
        classify(srv, req);
        if (req->early_status != 0 && has_body(conn))
            return send_early_error(srv, req);
        return MHD_YES;
    }
    if (*upload_data_size != 0) { /* a piece of the body */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (!req->collect_body || req->too_large)
            return MHD_YES; /* discarded */
        if (n > srv->opts.max_body - req->body.len) {
            req->too_large = true; /* e.g. chunked: no Content-Length to refuse up front */
            vigil_buffer_free(&req->body);
            return MHD_YES;
        }
        return vigil_buffer_append(&req->body, upload_data, n) == VIGIL_OK ? MHD_YES : MHD_NO;
    }
    /* last call: the whole request is in */
    if (req->too_large)
        req->early_status = MHD_HTTP_CONTENT_TOO_LARGE;
    if (req->early_status != 0)
        return send_early_error(srv, req);
    return dispatch(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    vigil__http_request_free(*con_cls);
    *con_cls = NULL;
}
