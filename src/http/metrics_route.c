/* metrics_route.c — the scrape endpoint: a route handler that renders a registry in the format
 * the scraper's Accept header asks for and gzips it when Accept-Encoding allows. It uses only the
 * public request/response and expo APIs, and lives in its own file so that a program linking the
 * static library for the bare server does not pull in the exposition code. The rendered buffer
 * (megabytes for a large registry) is moved into the response, never copied: one render buffer,
 * at most one gzip buffer. */
#include "core/core_int.h"
#include "vigil/expo.h"
#include "vigil/http.h"

static vigil_status serve_metrics(const vigil_http_request *req, vigil_http_response *resp,
                                  void *user)
{
    vigil_registry *reg = user;
    vigil_format fmt = vigil_expo_negotiate(vigil_http_request_header(req, "Accept"));
    vigil_buffer text;
    vigil_buffer_init(&text, 0);
    vigil_status st = vigil_expo_render(reg, fmt, &text);
    if (st != VIGIL_OK) {
        vigil_buffer_free(&text);
        return st;
    }
    /* The body depends on Accept-Encoding whether or not this scrape asked for gzip. */
    st = vigil_http_response_header(resp, "Vary", "Accept-Encoding");
    if (st == VIGIL_OK)
        st = vigil_http_response_header(resp, "Content-Type", vigil_expo_content_type(fmt));
    if (st == VIGIL_OK && text.len > 0 &&
        vigil_expo_accepts_gzip(vigil_http_request_header(req, "Accept-Encoding"))) {
        vigil_buffer gz;
        vigil_buffer_init(&gz, 0);
        st = vigil_expo_gzip(text.data, text.len, &gz);
        if (st == VIGIL_OK)
            st = vigil_http_response_header(resp, "Content-Encoding", "gzip");
        if (st == VIGIL_OK) {
            vigil_http_response_take(resp, &gz);
            vigil_buffer_free(&text);
            return VIGIL_OK;
        }
        vigil_buffer_free(&gz);
    }
    if (st == VIGIL_OK)
        vigil_http_response_take(resp, &text);
    vigil_buffer_free(&text);
    return st;
}

VIGIL_API vigil_status vigil_http_server_serve_metrics(vigil_http_server *srv, const char *path,
                                                       vigil_registry *reg)
{
    if (reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "serve metrics: registry is NULL");
    return vigil_http_server_route(srv, path, false, serve_metrics, reg);
}
