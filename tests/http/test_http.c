/* test_http.c — the embedded HTTP server against a raw-socket client: routing and its JSON
 * errors, HEAD, POST bodies and forms, limits, handler errors, addresses and binding, the
 * start/stop life cycle, and 32 clients at once. Every server listens on 127.0.0.1 port 0. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "http_client.h"
#include "vigil/http.h"

/* --- fixtures ------------------------------------------------------------------------------ */

static vigil_status hello(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    (void)req;
    const char *text = user ? user : "hello\n";
    return vigil_http_response_append(resp, text, strlen(text));
}

/* Echoes what the handler saw: method, path, body, some args and a header. */
static vigil_status echo(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    (void)user;
    size_t blen;
    const char *body = vigil_http_request_body(req, &blen);
    const char *a = vigil_http_request_arg(req, "a");
    const char *b = vigil_http_request_arg(req, "b");
    const char *flag = vigil_http_request_arg(req, "flag");
    const char *q = vigil_http_request_arg(req, "q");
    const char *h = vigil_http_request_header(req, "x-probe");
    char out[4096];
    int n = snprintf(out, sizeof out, "method=%s\npath=%s\nbody=%.*s\na=%s\nb=%s\nflag=%s\nq=%s\nh=%s\n",
                     vigil_http_request_method(req), vigil_http_request_path(req), (int)blen, body,
                     a ? a : "(null)", b ? b : "(null)", flag ? flag : "(null)",
                     q ? q : "(null)", h ? h : "(null)");
    return vigil_http_response_append(resp, out, (size_t)n);
}

static vigil_status failing(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    (void)req;
    (void)user;
    vigil_http_response_append(resp, "partial", 7);
    return vigil__fail(VIGIL_ECALLBACK, "db said \"no\" \\ twice\n");
}

static vigil_status custom(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    (void)req;
    (void)user;
    vigil_http_response_status(resp, 201);
    vigil_status st = vigil_http_response_header(resp, "X-Test", "yes");
    if (st == VIGIL_OK)
        st = vigil_http_response_header(resp, "content-type", "application/x-custom");
    if (st == VIGIL_OK)
        st = vigil_http_response_append(resp, "{}", 2);
    return st;
}

#define BIG_BODY (4u << 20)

static vigil_status big(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    (void)req;
    (void)user;
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    char *p = vigil_buffer_reserve(&b, BIG_BODY);
    if (p == NULL)
        return VIGIL_ENOMEM;
    for (size_t i = 0; i < BIG_BODY; i++)
        p[i] = (char)('a' + i % 26);
    b.len = BIG_BODY;
    vigil_http_response_take(resp, &b);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    return VIGIL_OK;
}

static vigil_http_server *start_server(size_t max_body)
{
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    o.max_body = max_body;
    vigil_http_server *srv = NULL;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/hello", false, hello, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/echo", true, echo, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/fail", false, failing, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/custom", false, custom, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/big", false, big, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    assert_int_not_equal(vigil_http_server_port(srv), 0);
    return srv;
}

static bool body_is(const reply *r, const char *s)
{
    return r->body_len == strlen(s) && memcmp(r->body, s, r->body_len) == 0;
}

static bool body_has(const reply *r, const char *s)
{
    return memmem(r->body, r->body_len, s, strlen(s)) != NULL;
}

/* --- options and routing -------------------------------------------------------------------- */

static void test_options_init_sets_documented_defaults(void **state)
{
    (void)state;
    vigil_http_options o;
    memset(&o, 0x5a, sizeof o);
    vigil_http_options_init(&o);
    assert_string_equal(o.listen, "127.0.0.1:9090");
    assert_int_equal(o.threads, 2);
    assert_int_equal(o.timeout_s, 30);
    assert_int_equal(o.max_connections, 256);
    assert_int_equal(o.max_body, 1 << 20);
}

static void test_get_returns_handler_body_with_default_content_type(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_get(vigil_http_server_port(srv), "/hello?x=1", &r));
    assert_int_equal(r.status, 200);
    assert_true(body_is(&r, "hello\n"));
    char v[128];
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "text/plain; charset=utf-8");
    assert_string_equal(reply_header(&r, "Content-Length", v, sizeof v), "6");
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_unknown_path_returns_json_404(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    /* MHD percent-decodes the path: the handler-facing path is /no"pe\x, which must be escaped. */
    assert_true(http_get(vigil_http_server_port(srv), "/no%22pe%5Cx?y=1", &r));
    assert_int_equal(r.status, 404);
    char v[128];
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "application/json");
    assert_true(body_is(&r, "{\"status\":\"error\",\"error\":\"not found\",\"path\":\"/no\\\"pe\\\\x\"}\n"));
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_unknown_path_with_invalid_utf8_gives_valid_json(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_get(vigil_http_server_port(srv), "/%FF%01%C3%A9", &r));
    assert_int_equal(r.status, 404);
    assert_true(body_has(&r, "\"path\":\"/\\ufffd\\u0001\xC3\xA9\""));
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_head_returns_headers_without_body(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    unsigned port = vigil_http_server_port(srv);
    /* Send HEAD then GET on one connection: if HEAD leaked a body, the GET's status line
     * would not be where the client looks for it. */
    int fd = client_connect(AF_INET, port);
    assert_true(fd >= 0);
    const char *two = "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                      "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    assert_true(client_send(fd, two, strlen(two)));
    reply h;
    assert_true(client_read(fd, &h, true));
    assert_int_equal(h.status, 200);
    char v[64];
    assert_string_equal(reply_header(&h, "Content-Length", v, sizeof v), "6");
    assert_int_equal(h.body_len, 0);
    /* Whatever followed the HEAD headers must be the next response. */
    assert_true(h.raw_len == (size_t)(h.body - h.raw) ||
                memcmp(h.body, "HTTP/1.1 200", 12) == 0);
    size_t extra = h.raw_len - (size_t)(h.body - h.raw);
    reply g;
    if (extra > 0) {
        /* The GET response arrived in the same read; parse it from there. */
        assert_true(memmem(h.body, extra, "\r\n\r\nhello\n", 10) != NULL);
    } else {
        assert_true(client_read(fd, &g, false));
        assert_int_equal(g.status, 200);
        assert_true(body_is(&g, "hello\n"));
        reply_free(&g);
    }
    reply_free(&h);
    close(fd);
    vigil_http_server_free(srv);
}

static void test_post_rejected_when_route_does_not_allow_it(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_call(AF_INET, vigil_http_server_port(srv), "POST", "/hello", NULL, "x=1", &r));
    assert_int_equal(r.status, 405);
    char v[64];
    assert_string_equal(reply_header(&r, "Allow", v, sizeof v), "GET, HEAD");
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "application/json");
    assert_true(body_has(&r, "\"error\":\"method not allowed\""));
    assert_true(body_has(&r, "\"method\":\"POST\""));
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_other_methods_get_405_listing_post_when_allowed(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_call(AF_INET, vigil_http_server_port(srv), "DELETE", "/echo", NULL, NULL, &r));
    assert_int_equal(r.status, 405);
    char v[64];
    assert_string_equal(reply_header(&r, "Allow", v, sizeof v), "GET, HEAD, POST");
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_post_body_form_and_query_args_reach_handler(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_call(AF_INET, vigil_http_server_port(srv), "POST", "/echo?q=from%20query&a=first",
                          "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
                          "X-PROBE: probed\r\n",
                          "a=1+2&b=%41%42%zz&&flag", &r));
    assert_int_equal(r.status, 200);
    assert_true(body_has(&r, "method=POST\n"));
    assert_true(body_has(&r, "path=/echo\n"));
    assert_true(body_has(&r, "body=a=1+2&b=%41%42%zz&&flag\n"));
    assert_true(body_has(&r, "a=first\n")); /* the query string wins */
    assert_true(body_has(&r, "b=AB%zz\n"));  /* malformed escapes stay literal */
    assert_true(body_has(&r, "flag=\n"));
    assert_true(body_has(&r, "q=from query\n"));
    assert_true(body_has(&r, "h=probed\n")); /* header names are case-insensitive */
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_form_args_ignored_for_other_content_types(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_call(AF_INET, vigil_http_server_port(srv), "POST", "/echo",
                          "Content-Type: text/plain\r\n", "a=1", &r));
    assert_int_equal(r.status, 200);
    assert_true(body_has(&r, "body=a=1\n"));
    assert_true(body_has(&r, "a=(null)\n"));
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_post_over_max_body_by_content_length_returns_413(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(16);
    unsigned port = vigil_http_server_port(srv);
    /* Announce a large body but send none: the server must refuse from the headers alone. */
    int fd = client_connect(AF_INET, port);
    assert_true(fd >= 0);
    const char *req = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n";
    assert_true(client_send(fd, req, strlen(req)));
    reply r;
    assert_true(client_read(fd, &r, false));
    assert_int_equal(r.status, 413);
    assert_true(body_has(&r, "\"error\":\"request body larger than 16 bytes\""));
    reply_free(&r);
    close(fd);
    /* A body of exactly max_body is accepted. */
    assert_true(http_call(AF_INET, port, "POST", "/echo", NULL, "0123456789abcdef", &r));
    assert_int_equal(r.status, 200);
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_chunked_post_over_max_body_returns_413(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(16);
    int fd = client_connect(AF_INET, vigil_http_server_port(srv));
    assert_true(fd >= 0);
    const char *req = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                      "Connection: close\r\n\r\n"
                      "10\r\n0123456789abcdef\r\n"
                      "4\r\nwxyz\r\n0\r\n\r\n";
    assert_true(client_send(fd, req, strlen(req)));
    reply r;
    assert_true(client_read(fd, &r, false));
    assert_int_equal(r.status, 413);
    reply_free(&r);
    close(fd);
    vigil_http_server_free(srv);
}

static void test_handler_error_returns_json_500_with_errmsg(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_get(vigil_http_server_port(srv), "/fail", &r));
    assert_int_equal(r.status, 500);
    char v[64];
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "application/json");
    assert_true(body_is(&r, "{\"status\":\"error\",\"error\":\"db said \\\"no\\\" \\\\ twice\\u000a\"}\n"));
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_handler_status_and_headers_are_sent(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_get(vigil_http_server_port(srv), "/custom", &r));
    assert_int_equal(r.status, 201);
    char v[64];
    assert_string_equal(reply_header(&r, "X-Test", v, sizeof v), "yes");
    assert_string_equal(reply_header(&r, "Content-Type", v, sizeof v), "application/x-custom");
    assert_true(body_is(&r, "{}"));
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_response_take_serves_large_body_intact(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    reply r;
    assert_true(http_get(vigil_http_server_port(srv), "/big", &r));
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, BIG_BODY);
    for (size_t i = 0; i < BIG_BODY; i += 4099)
        assert_int_equal(r.body[i], 'a' + i % 26);
    reply_free(&r);
    vigil_http_server_free(srv);
}

static vigil_status bad_headers(const vigil_http_request *req, vigil_http_response *resp,
                                void *user)
{
    (void)req;
    (void)user;
    if (vigil_http_response_header(resp, "Bad Name", "x") != VIGIL_EINVAL)
        return vigil__fail(VIGIL_EINVAL, "space in name accepted");
    if (vigil_http_response_header(resp, "X-Split", "a\r\nInjected: 1") != VIGIL_EINVAL)
        return vigil__fail(VIGIL_EINVAL, "CRLF in value accepted");
    if (vigil_http_response_header(resp, "", "x") != VIGIL_EINVAL)
        return vigil__fail(VIGIL_EINVAL, "empty name accepted");
    return vigil_http_response_append(resp, "ok", 2);
}

static void test_invalid_response_headers_are_refused(void **state)
{
    (void)state;
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/h", false, bad_headers, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    reply r;
    assert_true(http_get(vigil_http_server_port(srv), "/h", &r));
    assert_int_equal(r.status, 200);
    assert_true(body_is(&r, "ok"));
    reply_free(&r);
    vigil_http_server_free(srv);
}

static void test_bodyless_404_keeps_connection_alive(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    int fd = client_connect(AF_INET, vigil_http_server_port(srv));
    assert_true(fd >= 0);
    const char *a = "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n";
    const char *b = "GET /hello HTTP/1.1\r\nHost: t\r\n\r\n";
    reply r;
    assert_true(client_send(fd, a, strlen(a)));
    assert_true(client_read(fd, &r, false));
    assert_int_equal(r.status, 404);
    reply_free(&r);
    assert_true(client_send(fd, b, strlen(b)));
    assert_true(client_read(fd, &r, false));
    assert_int_equal(r.status, 200);
    assert_true(body_is(&r, "hello\n"));
    reply_free(&r);
    close(fd);
    vigil_http_server_free(srv);
}

/* --- routes -------------------------------------------------------------------------------- */

static void test_route_rejects_bad_path_duplicates_and_running_server(void **state)
{
    (void)state;
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "metrics", false, hello, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_route(srv, "/a", false, NULL, NULL), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_route(srv, "/a", false, hello, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/a", true, hello, NULL), VIGIL_EEXIST);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/b", false, hello, NULL), VIGIL_ESTATE);
    assert_non_null(strstr(vigil_errmsg(), "running"));
    vigil_http_server_stop(srv);
    assert_int_equal(vigil_http_server_route(srv, "/b", false, hello, NULL), VIGIL_OK);
    vigil_http_server_free(srv);
}

/* --- addresses and binding ----------------------------------------------------------------- */

static void test_unparsable_listen_addresses_are_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {"", "nope", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                                      "127.0.0.1:http", "[::1", "[::1]80", "::1:80", "[]:80",
                                      "300.1.1.1:80", "[127.0.0.1]:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vigil_http_options o;
        vigil_http_options_init(&o);
        o.listen = bad[i];
        vigil_http_server *srv = (vigil_http_server *)&o; /* must be reset to NULL */
        vigil_status st = vigil_http_server_new(&o, &srv);
        if (st != VIGIL_EADDR)
            fail_msg("listen \"%s\": status %d, want VIGIL_EADDR", bad[i], (int)st);
        assert_null(srv);
        assert_non_null(strstr(vigil_errmsg(), "listen address"));
    }
}

static void test_invalid_options_are_rejected(void **state)
{
    (void)state;
    vigil_http_options o;
    vigil_http_server *srv;
    vigil_http_options_init(&o);
    o.threads = 0;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_EINVAL);
    vigil_http_options_init(&o);
    o.max_connections = 1;
    o.threads = 4;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_EINVAL);
    assert_int_equal(vigil_http_server_new(&o, NULL), VIGIL_EINVAL);
}

static void test_any_address_and_localhost_can_listen(void **state)
{
    (void)state;
    static const char *const specs[] = {":0", "localhost:0", "0.0.0.0:0"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        vigil_http_options o;
        vigil_http_options_init(&o);
        o.listen = specs[i];
        o.threads = 1;
        vigil_http_server *srv;
        assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_OK);
        assert_int_equal(vigil_http_server_route(srv, "/hello", false, hello, NULL), VIGIL_OK);
        assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
        reply r;
        assert_true(http_get(vigil_http_server_port(srv), "/hello", &r));
        assert_int_equal(r.status, 200);
        reply_free(&r);
        vigil_http_server_free(srv);
    }
}

static void test_bind_conflict_reports_address_in_use(void **state)
{
    (void)state;
    vigil_http_server *first = start_server(1 << 20);
    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%u", vigil_http_server_port(first));
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = spec;
    vigil_http_server *second;
    assert_int_equal(vigil_http_server_new(&o, &second), VIGIL_OK);
    assert_int_equal(vigil_http_server_start(second), VIGIL_EADDR);
    char want[128];
    snprintf(want, sizeof want, "bind %s: %s", spec, strerror(EADDRINUSE));
    assert_string_equal(vigil_errmsg(), want);
    assert_int_equal(vigil_http_server_port(second), 0);
    /* The first server is unharmed. */
    reply r;
    assert_true(http_get(vigil_http_server_port(first), "/hello", &r));
    assert_int_equal(r.status, 200);
    reply_free(&r);
    vigil_http_server_free(second);
    vigil_http_server_free(first);
}

static void test_port_zero_reports_bound_port(void **state)
{
    (void)state;
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/hello", false, hello, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_port(srv), 0);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    unsigned port = vigil_http_server_port(srv);
    assert_true(port > 0 && port < 65536);
    reply r;
    assert_true(http_get(port, "/hello", &r));
    assert_int_equal(r.status, 200);
    reply_free(&r);
    vigil_http_server_stop(srv);
    assert_int_equal(vigil_http_server_port(srv), 0);
    assert_int_equal(vigil_http_server_port(NULL), 0);
    vigil_http_server_free(srv);
}

static bool have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 a = {.sin6_family = AF_INET6};
    a.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static void test_ipv6_loopback_listen(void **state)
{
    (void)state;
    if (!have_ipv6_loopback())
        skip();
    vigil_http_options o;
    vigil_http_options_init(&o);
    o.listen = "[::1]:0";
    vigil_http_server *srv;
    assert_int_equal(vigil_http_server_new(&o, &srv), VIGIL_OK);
    assert_int_equal(vigil_http_server_route(srv, "/hello", false, hello, NULL), VIGIL_OK);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    unsigned port = vigil_http_server_port(srv);
    assert_int_not_equal(port, 0);
    reply r;
    assert_true(http_call(AF_INET6, port, "GET", "/hello", NULL, NULL, &r));
    assert_int_equal(r.status, 200);
    assert_true(body_is(&r, "hello\n"));
    reply_free(&r);
    /* V6ONLY: the IPv4 loopback on the same port is not this server. */
    assert_false(http_get(port, "/hello", &r) && r.status == 200);
    reply_free(&r);
    vigil_http_server_free(srv);
}

/* --- life cycle ---------------------------------------------------------------------------- */

static void test_stop_is_idempotent(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    unsigned port = vigil_http_server_port(srv);
    vigil_http_server_stop(srv);
    vigil_http_server_stop(srv);
    assert_int_equal(client_connect(AF_INET, port) >= 0 ? 1 : 0, 0);
    /* A stopped server can start again. */
    assert_int_equal(vigil_http_server_start(srv), VIGIL_OK);
    reply r;
    assert_true(http_get(vigil_http_server_port(srv), "/hello", &r));
    assert_int_equal(r.status, 200);
    reply_free(&r);
    vigil_http_server_stop(srv);
    vigil_http_server_stop(srv);
    vigil_http_server_free(srv);
    vigil_http_server_stop(NULL);
    vigil_http_server_free(NULL);
}

static void test_start_while_running_is_rejected(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    assert_int_equal(vigil_http_server_start(srv), VIGIL_ESTATE);
    vigil_http_server_free(srv); /* free stops first */
}

/* --- load ---------------------------------------------------------------------------------- */

#define CLIENTS 32
#define REQUESTS 50

static atomic_int ok_count;

static void *client_thread(void *arg)
{
    unsigned port = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < REQUESTS; i++) {
        reply r;
        if (http_get(port, i % 5 == 0 ? "/echo?a=1" : "/hello", &r) && r.status == 200)
            atomic_fetch_add(&ok_count, 1);
        reply_free(&r);
    }
    return NULL;
}

static void test_many_concurrent_clients(void **state)
{
    (void)state;
    vigil_http_server *srv = start_server(1 << 20);
    uintptr_t port = vigil_http_server_port(srv);
    atomic_store(&ok_count, 0);
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, client_thread, (void *)port), 0);
    for (int i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(atomic_load(&ok_count), CLIENTS * REQUESTS);
    vigil_http_server_free(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_init_sets_documented_defaults),
        cmocka_unit_test(test_get_returns_handler_body_with_default_content_type),
        cmocka_unit_test(test_unknown_path_returns_json_404),
        cmocka_unit_test(test_unknown_path_with_invalid_utf8_gives_valid_json),
        cmocka_unit_test(test_head_returns_headers_without_body),
        cmocka_unit_test(test_post_rejected_when_route_does_not_allow_it),
        cmocka_unit_test(test_other_methods_get_405_listing_post_when_allowed),
        cmocka_unit_test(test_post_body_form_and_query_args_reach_handler),
        cmocka_unit_test(test_form_args_ignored_for_other_content_types),
        cmocka_unit_test(test_post_over_max_body_by_content_length_returns_413),
        cmocka_unit_test(test_chunked_post_over_max_body_returns_413),
        cmocka_unit_test(test_handler_error_returns_json_500_with_errmsg),
        cmocka_unit_test(test_handler_status_and_headers_are_sent),
        cmocka_unit_test(test_response_take_serves_large_body_intact),
        cmocka_unit_test(test_invalid_response_headers_are_refused),
        cmocka_unit_test(test_bodyless_404_keeps_connection_alive),
        cmocka_unit_test(test_route_rejects_bad_path_duplicates_and_running_server),
        cmocka_unit_test(test_unparsable_listen_addresses_are_rejected),
        cmocka_unit_test(test_invalid_options_are_rejected),
        cmocka_unit_test(test_any_address_and_localhost_can_listen),
        cmocka_unit_test(test_bind_conflict_reports_address_in_use),
        cmocka_unit_test(test_port_zero_reports_bound_port),
        cmocka_unit_test(test_ipv6_loopback_listen),
        cmocka_unit_test(test_stop_is_idempotent),
        cmocka_unit_test(test_start_while_running_is_rejected),
        cmocka_unit_test(test_many_concurrent_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
