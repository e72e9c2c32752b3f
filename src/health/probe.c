/* probe.c — the ready-made checks of other services: a TCP connect to host:port and an HTTP GET
 * of a URL with libcurl.
 *
 * Both bound their own work by 90 % of the check's timeout (res->timeout_seconds), so a slow or
 * silent peer is normally reported by the check itself, with the reason ("connect
 * 10.0.0.5:5432: Connection refused", "GET ...: status 503, expected 200"), rather than by the
 * runner's generic timeout. Name resolution is the exception that cannot always be bounded
 * (getaddrinfo has no timeout; libcurl's threaded resolver does): that is what the runner's
 * timeout is for.
 *
 * libcurl is initialised once, on the first HTTP check added (curl_global_init is not safe to
 * race with other threads starting, so it is not left to the first curl_easy_init on a worker),
 * and used with CURLOPT_NOSIGNAL because it runs on worker threads. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "health/health_int.h"

#define BUDGET_SHARE 0.9

/* --- TCP --------------------------------------------------------------------------------------- */

typedef struct tcp_state {
    vigil_health_tcp_opts o;
    char port[8];
    char host[]; /* o.host points here */
} tcp_state;

VIGIL_API void vigil_health_tcp_opts_init(vigil_health_tcp_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
}

/* "127.0.0.1:80" or "[::1]:80" */
static void format_addr(const struct sockaddr *sa, socklen_t len, char *out, size_t cap)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    if (getnameinfo(sa, len, host, sizeof host, serv, sizeof serv,
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(out, cap, "?");
        return;
    }
    snprintf(out, cap, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host, serv);
}

/* One non-blocking connect, waiting at most until deadline_ns. Returns 0 or an errno value. */
static int try_connect(const struct addrinfo *ai, uint64_t deadline_ns)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
        return errno;
    int err = 0;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        err = errno;
        if (err == EINPROGRESS) {
            err = ETIMEDOUT;
            for (;;) {
                uint64_t now = vigil__mono_ns();
                if (now >= deadline_ns)
                    break;
                uint64_t left_ms = (deadline_ns - now + 999999) / 1000000;
                struct pollfd p = {.fd = fd, .events = POLLOUT};
                int n = poll(&p, 1, left_ms > 60000 ? 60000 : (int)left_ms);
                if (n < 0 && errno == EINTR)
                    continue;
                if (n < 0) {
                    err = errno;
                    break;
                }
                if (n == 0)
                    continue; /* the loop re-checks the deadline */
                int so = 0;
                socklen_t sl = sizeof so;
                err = getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) != 0 ? errno : so;
                break;
            }
        }
    }
    close(fd);
    return err;
}

static vigil_health_status tcp_check(vigil_health_result *res, void *user)
{
    const tcp_state *t = user;
    uint64_t t0 = vigil__mono_ns();
    uint64_t deadline = t0 + (uint64_t)(res->timeout_seconds * BUDGET_SHARE * 1e9);
    (void)vigil_health_result_detail(res, "target", "%s:%s", t->host, t->port);
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(t->host, t->port, &hints, &list);
    if (rc != 0) {
        vigil_health_result_message(res, "resolve %s: %s", t->host, gai_strerror(rc));
        return VIGIL_HEALTH_UNHEALTHY;
    }
    int err = EHOSTUNREACH;
    char addr[NI_MAXHOST + 16] = "?";
    for (const struct addrinfo *ai = list; ai != NULL; ai = ai->ai_next) {
        format_addr(ai->ai_addr, ai->ai_addrlen, addr, sizeof addr);
        err = try_connect(ai, deadline);
        if (err == 0 || vigil__mono_ns() >= deadline)
            break;
    }
    freeaddrinfo(list);
    double secs = (double)(vigil__mono_ns() - t0) / 1e9;
    (void)vigil_health_result_detail(res, "address", "%s", addr);
    (void)vigil_health_result_detail(res, "connect_seconds", "%.6f", secs);
    if (err != 0) {
        char eb[128];
        if (err == ETIMEDOUT)
            vigil_health_result_message(res, "connect %s: no answer within %.3g s", addr,
                                        res->timeout_seconds * BUDGET_SHARE);
        else
            vigil_health_result_message(res, "connect %s: %s", addr,
                                        strerror_r(err, eb, sizeof eb));
        return VIGIL_HEALTH_UNHEALTHY;
    }
    if (t->o.slow_seconds > 0 && secs >= t->o.slow_seconds) {
        vigil_health_result_message(res, "connected to %s in %.3f s (slow: %.3g s or more)", addr,
                                    secs, t->o.slow_seconds);
        return VIGIL_HEALTH_DEGRADED;
    }
    vigil_health_result_message(res, "connected to %s in %.3f s", addr, secs);
    return VIGIL_HEALTH_HEALTHY;
}

VIGIL_API vigil_status vigil_health_runner_add_tcp(vigil_health_runner *r,
                                                   const vigil_health_check_opts *check,
                                                   const vigil_health_tcp_opts *opts)
{
    if (opts == NULL || opts->host == NULL || opts->host[0] == '\0' || strlen(opts->host) > 255)
        return vigil__fail(VIGIL_EINVAL, "tcp health check: host is required (at most 255 "
                                         "bytes)");
    if (opts->port == 0 || opts->port > 65535)
        return vigil__fail(VIGIL_EINVAL, "tcp health check: port must be 1-65535, not %u",
                           opts->port);
    if (!(opts->slow_seconds >= 0))
        return vigil__fail(VIGIL_EINVAL, "tcp health check: slow_seconds must be >= 0");
    size_t hlen = strlen(opts->host) + 1;
    tcp_state *t = vigil__malloc(sizeof *t + hlen);
    if (t == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory adding a tcp health check");
    memcpy(t->host, opts->host, hlen);
    t->o = *opts;
    t->o.host = t->host;
    snprintf(t->port, sizeof t->port, "%u", opts->port);
    return vigil__health_add_builtin(r, check, "tcp", tcp_check, t, vigil__free);
}

/* --- HTTP -------------------------------------------------------------------------------------- */

typedef struct http_state {
    vigil_health_http_opts o;
    char url[]; /* o.url points here */
} http_state;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

VIGIL_API void vigil_health_http_opts_init(vigil_health_http_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->expected_status = 200;
}

static size_t discard(char *data, size_t size, size_t n, void *user)
{
    (void)data;
    (void)user;
    return size * n;
}

static bool status_ok(const vigil_health_http_opts *o, long code)
{
    return o->expected_status == 0 ? code >= 200 && code <= 299 : code == (long)o->expected_status;
}

static vigil_health_status http_check(vigil_health_result *res, void *user)
{
    const http_state *h = user;
    (void)vigil_health_result_detail(res, "url", "%s", h->url);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        vigil_health_result_message(res, "cannot create a libcurl handle");
        return VIGIL_HEALTH_UNKNOWN;
    }
    long budget_ms = (long)(res->timeout_seconds * BUDGET_SHARE * 1000);
    if (budget_ms < 1)
        budget_ms = 1;
    char err[CURL_ERROR_SIZE];
    err[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, h->o.url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, budget_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, budget_ms);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "vigil-health-check");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, h->o.follow_redirects ? 1L : 0L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    uint64_t t0 = vigil__mono_ns();
    CURLcode rc = curl_easy_perform(c);
    double secs = (double)(vigil__mono_ns() - t0) / 1e9;
    long code = 0;
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    (void)vigil_health_result_detail(res, "response_seconds", "%.6f", secs);
    if (rc != CURLE_OK) {
        vigil_health_result_message(res, "GET %s: %s", h->url,
                                    err[0] ? err : curl_easy_strerror(rc));
        return VIGIL_HEALTH_UNHEALTHY;
    }
    (void)vigil_health_result_detail(res, "status_code", "%ld", code);
    if (!status_ok(&h->o, code)) {
        if (h->o.expected_status == 0)
            vigil_health_result_message(res, "GET %s: status %ld, expected 2xx", h->url, code);
        else
            vigil_health_result_message(res, "GET %s: status %ld, expected %u", h->url, code,
                                        h->o.expected_status);
        return VIGIL_HEALTH_UNHEALTHY;
    }
    if (h->o.slow_seconds > 0 && secs >= h->o.slow_seconds) {
        vigil_health_result_message(res, "GET %s: status %ld in %.3f s (slow: %.3g s or more)",
                                    h->url, code, secs, h->o.slow_seconds);
        return VIGIL_HEALTH_DEGRADED;
    }
    vigil_health_result_message(res, "GET %s: status %ld in %.3f s", h->url, code, secs);
    return VIGIL_HEALTH_HEALTHY;
}

VIGIL_API vigil_status vigil_health_runner_add_http(vigil_health_runner *r,
                                                    const vigil_health_check_opts *check,
                                                    const vigil_health_http_opts *opts)
{
    if (opts == NULL || opts->url == NULL ||
        (strncasecmp(opts->url, "http://", 7) != 0 && strncasecmp(opts->url, "https://", 8) != 0))
        return vigil__fail(VIGIL_EINVAL, "http health check: url must start with http:// or "
                                         "https://");
    if (strlen(opts->url) > 2048)
        return vigil__fail(VIGIL_EINVAL, "http health check: url longer than 2048 bytes");
    if (opts->expected_status != 0 && (opts->expected_status < 100 || opts->expected_status > 599))
        return vigil__fail(VIGIL_EINVAL,
                           "http health check: expected_status must be 0 or "
                           "100-599, not %u",
                           opts->expected_status);
    if (!(opts->slow_seconds >= 0))
        return vigil__fail(VIGIL_EINVAL, "http health check: slow_seconds must be >= 0");
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return vigil__fail(VIGIL_EIO, "http health check: libcurl failed to initialise: %s",
                           curl_easy_strerror(curl_init_rc));
    size_t ulen = strlen(opts->url) + 1;
    http_state *h = vigil__malloc(sizeof *h + ulen);
    if (h == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory adding an http health check");
    memcpy(h->url, opts->url, ulen);
    h->o = *opts;
    h->o.url = h->url;
    return vigil__health_add_builtin(r, check, "http", http_check, h, vigil__free);
}
