/* vigil/http.h — the embedded HTTP server (libmicrohttpd underneath, never visible here).
 *
 * A server has a listen address, a table of exact-path routes and a thread pool. Handlers run on
 * the server's threads, get a read-only request and fill a response; they must not block for
 * long. Unknown paths get a JSON 404; other methods than GET/HEAD (and POST where a route allows
 * it) get 405. HEAD is answered from the GET handler with the body dropped.
 */
#ifndef VIGIL_HTTP_H
#define VIGIL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/buffer.h"
#include "vigil/events.h"
#include "vigil/export.h"
#include "vigil/health.h"
#include "vigil/metrics.h"
#include "vigil/promql.h"
#include "vigil/status.h"
#include "vigil/tsdb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_http_server vigil_http_server;
typedef struct vigil_http_request vigil_http_request;
typedef struct vigil_http_response vigil_http_response;

typedef struct vigil_http_options {
    const char *listen;      /* "HOST:PORT", "[V6]:PORT" or ":PORT" (all IPv4 interfaces);
                                port 0 picks a free port. Default "127.0.0.1:9090" */
    unsigned threads;        /* worker threads, 1..1024; default 2 */
    unsigned timeout_s;      /* idle connection timeout; default 30 */
    unsigned max_connections;/* default 256 */
    size_t max_body;         /* largest POST body accepted (413 beyond); default 1 MiB */
} vigil_http_options;

/* Fills defaults. Thread-safety: any thread. */
VIGIL_API void vigil_http_options_init(vigil_http_options *opts);

/* Handler for a route. Return VIGIL_OK after filling resp; any other status produces a JSON 500
 * carrying vigil_errmsg(). Runs on a server thread. */
typedef vigil_status (*vigil_http_handler)(const vigil_http_request *req,
                                           vigil_http_response *resp, void *user);

/* Creates a stopped server. Errors: VIGIL_EINVAL, VIGIL_EADDR (unparsable address), VIGIL_ENOMEM.
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_http_server_new(const vigil_http_options *opts,
                                             vigil_http_server **out);

/* Adds an exact-path route ("/metrics"). allow_post also routes POST (bodies up to max_body).
 * Errors: VIGIL_EINVAL (path not starting with '/'), VIGIL_EEXIST, VIGIL_ESTATE (server running),
 * VIGIL_ENOMEM. Thread-safety: any thread, before vigil_http_server_start. */
VIGIL_API vigil_status vigil_http_server_route(vigil_http_server *srv, const char *path,
                                               bool allow_post, vigil_http_handler handler,
                                               void *user);

/* Adds a prefix route: every path that starts with `prefix` (which starts and ends with '/',
 * e.g. "/api/v1/label/") and has no exact route goes to handler; of several prefix routes the
 * longest that matches wins. allow_post as for vigil_http_server_route.
 * Errors: as vigil_http_server_route, VIGIL_EINVAL (prefix not starting and ending with '/').
 * Thread-safety: as vigil_http_server_route. */
VIGIL_API vigil_status vigil_http_server_route_prefix(vigil_http_server *srv, const char *prefix,
                                                      bool allow_post, vigil_http_handler handler,
                                                      void *user);

/* Routes `path` to the exposition of `reg`, negotiated by Accept, gzip by Accept-Encoding.
 * Errors: as vigil_http_server_route. Thread-safety: as vigil_http_server_route. */
VIGIL_API vigil_status vigil_http_server_serve_metrics(vigil_http_server *srv, const char *path,
                                                       vigil_registry *reg);

/* Routes the health endpoints of `runner` under `prefix` (e.g. "/health"):
 *   prefix         the JSON report (vigil_health_runner_report_json); 200 when the rolled-up
 *                  status is healthy or degraded, 503 when unhealthy or unknown
 *   prefix/live    {"status":"alive"}, always 200 while the server answers
 *   prefix/ready   {"ready":true|false,"status":"...","reason":"..."}; 200 when ready (the
 *                  status is healthy or degraded and every critical check has a result), else 503
 * All three only read the latest results and never wait for a check; responses carry
 * Cache-Control: no-store. The runner must outlive the server's running period (stop or free
 * the server before freeing the runner).
 * Errors: as vigil_http_server_route (after a failure the routes added before it stay),
 * VIGIL_EINVAL (runner NULL, prefix not starting with '/', ending with '/' or longer than 200
 * bytes). Thread-safety: as vigil_http_server_route. */
VIGIL_API vigil_status vigil_http_server_serve_health(vigil_http_server *srv, const char *prefix,
                                                      vigil_health_runner *runner);

/* Routes `path` (e.g. "/api/v1/events") to the last events of `bus` as JSON
 * (vigil_event_bus_recent_json: {"events":[...oldest first, newest last...],"dropped":N}), with
 * Cache-Control: no-store. The bus must outlive the server's running period.
 * Errors: as vigil_http_server_route, VIGIL_EINVAL (bus NULL). Thread-safety: as
 * vigil_http_server_route. */
VIGIL_API vigil_status vigil_http_server_serve_events(vigil_http_server *srv, const char *path,
                                                      vigil_event_bus *bus);

/* --- Prometheus HTTP query API ---
 * A store (vigil/tsdb.h) answered over HTTP the way Prometheus 2.42 answers, so that Grafana's
 * Prometheus data source, promtool, or any client written for Prometheus can query it:
 *   prefix/query              GET, POST   query, time, timeout
 *   prefix/query_range        GET, POST   query, start, end, step, timeout
 *   prefix/series             GET, POST   match[] (repeated), start, end
 *   prefix/labels             GET, POST   match[] (optional), start, end
 *   prefix/label/<name>/values GET        match[] (optional), start, end
 *   prefix/metadata           GET         limit, metric
 *   prefix/status/buildinfo   GET         vigil's version in Prometheus's shape
 * Parameters, JSON bodies, error types and HTTP codes are Prometheus's (docs/http-api.md):
 * times as RFC 3339 or Unix seconds, durations as "1m30s" or seconds, a POST body as
 * application/x-www-form-urlencoded, errors as {"status":"error","errorType":"bad_data",...}
 * with 400 (bad_data), 422 (execution), 503 (timeout) or 500 (internal). */
typedef struct vigil_query_api vigil_query_api;

/* Creates the API over db, with the engine options opts (NULL: vigil_promql_options_init's
 * defaults) copied. opts->timeout_ms also caps the `timeout` a request may ask for; 0 leaves
 * requests unlimited unless they ask. db must outlive the handle.
 * Errors: VIGIL_EINVAL (db or out NULL), VIGIL_ENOMEM. Thread-safety: any thread. */
VIGIL_API vigil_status vigil_query_api_new(vigil_tsdb *db, const vigil_promql_options *opts,
                                           vigil_query_api **out);

/* Frees the handle. Stop or free every server serving it first. NULL is a no-op.
 * Thread-safety: no server may be running with it. */
VIGIL_API void vigil_query_api_free(vigil_query_api *api);

/* Routes the API's endpoints under prefix (e.g. "/api/v1"). Requests run on the server's
 * threads, concurrently with each other and with appends to the store; a query occupies its
 * thread until it ends or its timeout passes. The handle must outlive the server's running
 * period. Errors: as vigil_http_server_route (routes added before a failure stay),
 * VIGIL_EINVAL (NULL argument; prefix not starting with '/', ending with '/' or longer than 200
 * bytes). Thread-safety: as vigil_http_server_route. */
VIGIL_API vigil_status vigil_http_server_serve_query_api(vigil_http_server *srv,
                                                         const char *prefix,
                                                         vigil_query_api *api);

/* Binds and starts serving. Errors: VIGIL_EADDR (bind failed, with the reason), VIGIL_ESTATE,
 * VIGIL_EIO (the HTTP daemon could not start its threads).
 * Thread-safety: any thread. */
VIGIL_API vigil_status vigil_http_server_start(vigil_http_server *srv);

/* The bound TCP port once started (useful with port 0), else 0. Thread-safety: any thread. */
VIGIL_API unsigned vigil_http_server_port(const vigil_http_server *srv);

/* Stops accepting, finishes or closes open connections and joins the threads. Idempotent.
 * Thread-safety: any thread but a handler's.
 * Never call it (or vigil_http_server_free) from a handler: it waits for the handler's thread. */
VIGIL_API void vigil_http_server_stop(vigil_http_server *srv);

/* Stops (if running) and frees. NULL is a no-op. Thread-safety: no other thread may use srv. */
VIGIL_API void vigil_http_server_free(vigil_http_server *srv);

/* --- request and response ---
 * Both are valid only during the handler call and belong to the thread running it; the strings
 * returned stay valid until the handler returns. Thread-safety: the handler's thread only. */
VIGIL_API const char *vigil_http_request_method(const vigil_http_request *req);
VIGIL_API const char *vigil_http_request_path(const vigil_http_request *req);
/* A request header (case-insensitive name) or NULL. */
VIGIL_API const char *vigil_http_request_header(const vigil_http_request *req, const char *name);
/* A query-string or form argument (first occurrence) or NULL. */
VIGIL_API const char *vigil_http_request_arg(const vigil_http_request *req, const char *name);
/* The raw POST body (may be empty). */
VIGIL_API const char *vigil_http_request_body(const vigil_http_request *req, size_t *len);

/* Sets the status code (default 200; outside 100..599 becomes a 500). */
VIGIL_API void vigil_http_response_status(vigil_http_response *resp, unsigned code);
/* Adds a header (copied). Errors: VIGIL_ENOMEM, VIGIL_EINVAL. */
VIGIL_API vigil_status vigil_http_response_header(vigil_http_response *resp, const char *name,
                                                  const char *value);
/* Appends to the body. Errors: VIGIL_ENOMEM, VIGIL_ELIMIT. */
VIGIL_API vigil_status vigil_http_response_append(vigil_http_response *resp, const void *data,
                                                  size_t len);
/* Takes the contents of buf as the body (buf is left empty). */
VIGIL_API void vigil_http_response_take(vigil_http_response *resp, struct vigil_buffer *buf);

#ifdef __cplusplus
}
#endif
#endif
