/* health_route.c — the health endpoints: thin handlers over the health runner's read-only views
 * (vigil/health.h). They never run a check or wait for one: the runner publishes results under a
 * short lock and these copy them out, so /health answers at once even while a check hangs.
 * The HTTP status and the body come from one read of the runner, so they always agree. Kept in
 * its own file, like metrics_route.c, so that the bare server does not pull in the health
 * module. */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "vigil/health.h"
#include "vigil/http.h"

#define PREFIX_MAX 200
#define APPLICATION_JSON "application/json"

static vigil_status json_headers(vigil_http_response *resp)
{
    vigil_status st = vigil_http_response_header(resp, "Content-Type", APPLICATION_JSON);
    if (st == VIGIL_OK)
        st = vigil_http_response_header(resp, "Cache-Control", "no-store");
    return st;
}

static vigil_status serve_report(const vigil_http_request *req, vigil_http_response *resp,
                                 void *user)
{
    (void)req;
    vigil_health_runner *r = user;
    vigil_buffer body;
    vigil_buffer_init(&body, 0);
    vigil_health_status overall = VIGIL_HEALTH_UNKNOWN;
    vigil_status st = vigil_health_runner_report_json(r, &body, &overall, NULL);
    if (st == VIGIL_OK)
        st = json_headers(resp);
    if (st != VIGIL_OK) {
        vigil_buffer_free(&body);
        return st;
    }
    vigil_http_response_status(
        resp, overall == VIGIL_HEALTH_HEALTHY || overall == VIGIL_HEALTH_DEGRADED ? 200 : 503);
    vigil_http_response_take(resp, &body);
    vigil_buffer_free(&body);
    return VIGIL_OK;
}

static vigil_status serve_live(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    (void)req;
    (void)user;
    static const char body[] = "{\"status\":\"alive\"}\n";
    vigil_status st = json_headers(resp);
    if (st == VIGIL_OK)
        st = vigil_http_response_append(resp, body, sizeof body - 1);
    return st;
}

/* A JSON string of a reason the library wrote (ASCII plus check names, which are UTF-8 without
 * control characters): only quotes and backslashes need escaping. */
static vigil_status append_escaped(vigil_http_response *resp, const char *s)
{
    vigil_status st = VIGIL_OK;
    for (const char *p = s; st == VIGIL_OK && *p; p++) {
        if (*p == '"' || *p == '\\')
            st = vigil_http_response_append(resp, "\\", 1);
        if (st == VIGIL_OK)
            st = vigil_http_response_append(resp, p, 1);
    }
    return st;
}

static vigil_status serve_ready(const vigil_http_request *req, vigil_http_response *resp,
                                void *user)
{
    (void)req;
    vigil_health_runner *r = user;
    vigil_health_status overall;
    char why[160];
    bool ready = vigil_health_runner_ready(r, &overall, why, sizeof why);
    char head[96];
    snprintf(head, sizeof head, "{\"ready\":%s,\"status\":\"%s\"", ready ? "true" : "false",
             vigil_health_status_name(overall));
    vigil_status st = json_headers(resp);
    if (st == VIGIL_OK)
        st = vigil_http_response_append(resp, head, strlen(head));
    if (st == VIGIL_OK && !ready) {
        st = vigil_http_response_append(resp, ",\"reason\":\"", 11);
        if (st == VIGIL_OK)
            st = append_escaped(resp, why);
        if (st == VIGIL_OK)
            st = vigil_http_response_append(resp, "\"", 1);
    }
    if (st == VIGIL_OK)
        st = vigil_http_response_append(resp, "}\n", 2);
    if (st == VIGIL_OK)
        vigil_http_response_status(resp, ready ? 200 : 503);
    return st;
}

VIGIL_API vigil_status vigil_http_server_serve_health(vigil_http_server *srv, const char *prefix,
                                                      vigil_health_runner *runner)
{
    if (srv == NULL || prefix == NULL || runner == NULL)
        return vigil__fail(VIGIL_EINVAL, "serve health: NULL argument");
    size_t n = strlen(prefix);
    if (n < 2 || prefix[0] != '/' || prefix[n - 1] == '/' || n > PREFIX_MAX)
        return vigil__fail(VIGIL_EINVAL,
                           "serve health: prefix \"%.64s\" must start with '/', "
                           "not end with '/' and be at most %d bytes",
                           prefix, PREFIX_MAX);
    char live[PREFIX_MAX + 8], ready[PREFIX_MAX + 8];
    snprintf(live, sizeof live, "%s/live", prefix);
    snprintf(ready, sizeof ready, "%s/ready", prefix);
    vigil_status st = vigil_http_server_route(srv, prefix, false, serve_report, runner);
    if (st == VIGIL_OK)
        st = vigil_http_server_route(srv, live, false, serve_live, runner);
    if (st == VIGIL_OK)
        st = vigil_http_server_route(srv, ready, false, serve_ready, runner);
    return st;
}
