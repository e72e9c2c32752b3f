/* api_routes.c — the query API's handle and its routes on a vigil HTTP server, plus the one
 * endpoint with nothing to compute, status/buildinfo.
 *
 * The handle exists because a route's user pointer is never freed by the server: the options
 * every handler reads (engine limits, the timeout cap) need an owner that outlives the server's
 * running period, and that owner is the caller, as with the health runner and the event bus.
 *
 * Prometheus serves /label/<name>/values under a path pattern: a prefix route on <prefix>/label/
 * takes every path below it, and its handler answers 404 to those of another shape. */
#include <string.h>

#include "http/api_int.h"
#include "vigil/version.h"

#define PREFIX_MAX 200
#define APPEND_LIT(out, lit) vigil_buffer_append((out), (lit), sizeof(lit) - 1)

VIGIL_API vigil_status vigil_query_api_new(vigil_tsdb *db, const vigil_promql_options *opts,
                                           vigil_query_api **out)
{
    if (out == NULL || db == NULL)
        return vigil__fail(VIGIL_EINVAL, "query API: NULL argument");
    *out = NULL;
    vigil_query_api *api = vigil__calloc(1, sizeof *api);
    if (api == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating the query API");
    api->db = db;
    if (opts != NULL)
        api->opts = *opts;
    else
        vigil_promql_options_init(&api->opts);
    *out = api;
    return VIGIL_OK;
}

VIGIL_API void vigil_query_api_free(vigil_query_api *api)
{
    vigil__free(api);
}

/* {"version":"...","revision":"","branch":"","buildUser":"","buildDate":"","goVersion":""}:
 * Prometheus's shape with vigil's version; the fields vigil has no value for stay empty. */
static vigil_status serve_buildinfo(const vigil_http_request *req, vigil_http_response *resp,
                                    void *user)
{
    (void)user;
    vigil_buffer body;
    vigil_status st = vigil__api_data_begin(&body);
    if (st == VIGIL_OK)
        st = APPEND_LIT(&body, "{\"version\":");
    if (st == VIGIL_OK)
        st = vigil__api_json_string(&body, vigil_version());
    if (st == VIGIL_OK)
        st = APPEND_LIT(&body, ",\"revision\":\"\",\"branch\":\"\",\"buildUser\":\"\","
                               "\"buildDate\":\"\",\"goVersion\":\"\"}");
    if (st != VIGIL_OK) {
        vigil_buffer_free(&body);
        return st;
    }
    return vigil__api_send_data(req, resp, &body);
}

VIGIL_API vigil_status vigil_http_server_serve_query_api(vigil_http_server *srv, const char *prefix,
                                                         vigil_query_api *api)
{
    static const struct {
        const char *path;
        bool post;
        vigil_http_handler handler;
    } routes[] = {
        {"/query", true, vigil__api_query},        {"/query_range", true, vigil__api_query_range},
        {"/series", true, vigil__api_series},      {"/labels", true, vigil__api_labels},
        {"/metadata", false, vigil__api_metadata}, {"/status/buildinfo", false, serve_buildinfo},
    };
    if (srv == NULL || prefix == NULL || api == NULL)
        return vigil__fail(VIGIL_EINVAL, "serve query API: NULL argument");
    size_t n = strlen(prefix);
    if (n < 2 || prefix[0] != '/' || prefix[n - 1] == '/' || n > PREFIX_MAX)
        return vigil__fail(VIGIL_EINVAL,
                           "serve query API: prefix \"%.64s\" must start with '/', not end "
                           "with '/' and be at most %d bytes",
                           prefix, PREFIX_MAX);
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0] && st == VIGIL_OK; i++) {
        char path[PREFIX_MAX + 32];
        snprintf(path, sizeof path, "%s%s", prefix, routes[i].path);
        st = vigil_http_server_route(srv, path, routes[i].post, routes[i].handler, api);
    }
    if (st == VIGIL_OK) {
        char path[PREFIX_MAX + 32];
        snprintf(path, sizeof path, "%s/label/", prefix);
        st = vigil_http_server_route_prefix(srv, path, false, vigil__api_label_values, api);
    }
    return st;
}
