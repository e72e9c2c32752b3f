/* tls.c — TLS with OpenSSL for the demo's connections (built when libssl-dev is installed).
 *
 * Sockets stay blocking with send and receive timeouts (conn.c), and OpenSSL runs on top.
 * Two settings make that safe with poll(): the server issues no session tickets, and the
 * clients' automatic retry is off, so a read after poll never blocks waiting for a record
 * that carries no application data (it returns "nothing yet" instead). A peer that closes
 * without close_notify reads as an orderly end (SSL_OP_IGNORE_UNEXPECTED_EOF): for this
 * protocol, where BYE ends a session, TLS truncation protection adds nothing. */
#include "tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct demo_tls {
    SSL_CTX *server;
    SSL_CTX *client;
};

bool tls_available(void)
{
    return true;
}

/* The reason of the last OpenSSL failure on this thread, or the fallback. */
static void reason(const char *what, const char *fallback, char *err, size_t cap)
{
    unsigned long e = ERR_get_error();
    char buf[256];
    if (e != 0)
        ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, cap, "%s: %s", what, e != 0 ? buf : fallback);
    ERR_clear_error();
}

static int server_ctx(const char *cert, const char *key, SSL_CTX **out, char *err, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        reason("TLS server context", "out of memory", err, cap);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_num_tickets(ctx, 0);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        reason(cert, "cannot load the certificate", err, cap);
    else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        reason(key, "cannot load the private key", err, cap);
    else if (SSL_CTX_check_private_key(ctx) != 1)
        reason(key, "the key does not match the certificate", err, cap);
    else {
        *out = ctx;
        return 0;
    }
    SSL_CTX_free(ctx);
    return -1;
}

static int client_ctx(const char *cert, SSL_CTX **out, char *err, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        reason("TLS client context", "out of memory", err, cap);
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_clear_mode(ctx, SSL_MODE_AUTO_RETRY);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, cert, NULL) != 1) {
        reason(cert, "cannot load it as the clients' trust anchor", err, cap);
        SSL_CTX_free(ctx);
        return -1;
    }
    *out = ctx;
    return 0;
}

int tls_new(const char *cert, const char *key, demo_tls **out, char *err, size_t cap)
{
    demo_tls *tls = calloc(1, sizeof *tls);
    if (tls == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    if (server_ctx(cert, key, &tls->server, err, cap) != 0 ||
        client_ctx(cert, &tls->client, err, cap) != 0) {
        tls_free(tls);
        return -1;
    }
    *out = tls;
    return 0;
}

void tls_free(demo_tls *tls)
{
    if (tls == NULL)
        return;
    SSL_CTX_free(tls->server);
    SSL_CTX_free(tls->client);
    free(tls);
}

static void handshake_failure(SSL *ssl, int rc, bool server, char *err, size_t cap)
{
    int e = SSL_get_error(ssl, rc);
    long verify = server ? X509_V_OK : SSL_get_verify_result(ssl);
    if (verify != X509_V_OK)
        snprintf(err, cap, "TLS handshake: server certificate not trusted (%s)",
                 X509_verify_cert_error_string(verify));
    else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        snprintf(err, cap, "TLS handshake: timed out");
    else if (e == SSL_ERROR_SYSCALL)
        snprintf(err, cap, "TLS handshake: %s",
                 errno != 0 ? strerror(errno) : "connection closed by the peer");
    else
        reason("TLS handshake", "failed", err, cap);
}

int tls_handshake(demo_tls *tls, int fd, bool server, void **session, char *err, size_t cap)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(server ? tls->server : tls->client);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        reason("TLS", "cannot create a session", err, cap);
        SSL_free(ssl);
        return -1;
    }
    SSL_set_options(ssl, SSL_OP_IGNORE_UNEXPECTED_EOF);
    errno = 0;
    int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (rc != 1) {
        handshake_failure(ssl, rc, server, err, cap);
        SSL_free(ssl);
        return -1;
    }
    *session = ssl;
    return 0;
}

ssize_t tls_read(void *session, void *buf, size_t cap, char *err, size_t errcap)
{
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(session, buf, cap > (1u << 30) ? (1 << 30) : (int)cap);
    if (n > 0)
        return n;
    int e = SSL_get_error(session, n);
    if (e == SSL_ERROR_ZERO_RETURN)
        return 0;
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return -2;
    if (e == SSL_ERROR_SYSCALL)
        snprintf(err, errcap, "%s", errno != 0 ? strerror(errno) : "connection lost");
    else
        reason("TLS read", "failed", err, errcap);
    return -1;
}

int tls_write(void *session, const void *buf, size_t len, char *err, size_t errcap)
{
    ERR_clear_error();
    errno = 0;
    if (SSL_write(session, buf, (int)len) == (int)len)
        return 0;
    if (errno != 0)
        snprintf(err, errcap, "%s", errno == EAGAIN ? "write timed out" : strerror(errno));
    else
        reason("TLS write", "failed", err, errcap);
    return -1;
}

bool tls_buffered(const void *session)
{
    return SSL_pending(session) > 0;
}

void tls_end(void *session, bool notify)
{
    if (session == NULL)
        return;
    if (notify)
        SSL_shutdown(session); /* close_notify; the peer's is not awaited */
    SSL_free(session);
}
