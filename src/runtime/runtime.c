/* runtime.c — vigil_start / vigil_stop: the one call that wires a registry, the process
 * collector, the health runner, the HTTP exposition, (given a bus) the recent-events route and
 * (with history) the Prometheus query API together from an options struct, and the one that
 * takes the threads down again. Start is all-or-nothing: on any failure what was started is
 * stopped.
 *
 * Order matters twice. At start, the health and query routes must be added before the server
 * starts (a running server takes no new routes), the store exists before them (history starts
 * first), and the runner's metrics are registered only once the server is up, so a start that
 * fails to bind never touches the registry. At stop, the server goes first: its handlers read
 * the runner, the query API and the store, which must outlive them. */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "vigil/collect.h"
#include "runtime_int.h"
#include "vigil/runtime.h"

struct vigil_runtime {
    vigil_registry *registry;
    vigil_http_server *http;
    vigil_health_runner *health;
    bool own_host_collector; /* added by this runtime, so removed (and freed) by vigil_stop */
    char url[320];
    char health_url[320];
    char events_url[320];
    vigil__history *history;
    vigil_query_api *query_api; /* NULL unless history and the query API are both on */
};

/* Prometheus's query API over the history, on the metrics server. */
static vigil_status serve_query_api(vigil_runtime *rt, const vigil_options *o)
{
    if (rt->history == NULL || !o->query_api_enabled)
        return VIGIL_OK;
    vigil_promql_options po;
    vigil_promql_options_init(&po);
    po.timeout_ms = o->query_timeout_ms;
    po.threads = 1; /* a library inside someone's application starts no query threads */
    vigil_status st = vigil_query_api_new(vigil__history_tsdb(rt->history), &po, &rt->query_api);
    if (st == VIGIL_OK)
        st = vigil_http_server_serve_query_api(rt->http, o->query_api_path, rt->query_api);
    return st;
}

static vigil_status start_http(vigil_runtime *rt, const vigil_options *o)
{
    vigil_http_options ho;
    vigil_http_options_init(&ho);
    ho.listen = o->metrics_addr;
    if (o->http_threads)
        ho.threads = o->http_threads;
    vigil_status st = vigil_http_server_new(&ho, &rt->http);
    if (st == VIGIL_OK)
        st = vigil_http_server_serve_metrics(rt->http, o->metrics_path, rt->registry);
    if (st == VIGIL_OK && rt->health != NULL)
        st = vigil_http_server_serve_health(rt->http, o->health_path, rt->health);
    if (st == VIGIL_OK && o->events != NULL)
        st = vigil_http_server_serve_events(rt->http, o->events_path, o->events);
    if (st == VIGIL_OK)
        st = serve_query_api(rt, o);
    if (st == VIGIL_OK)
        st = vigil_http_server_start(rt->http);
    if (st != VIGIL_OK)
        return st;
    /* Report the port actually bound (the address may have asked for port 0). */
    const char *addr = o->metrics_addr;
    const char *colon = strrchr(addr, ':');
    int hostlen = colon ? (int)(colon - addr) : (int)strlen(addr);
    const char *host = addr;
    if (hostlen == 0 || (hostlen == 7 && strncmp(addr, "0.0.0.0", 7) == 0)) {
        host = "127.0.0.1";
        hostlen = 9;
    }
    snprintf(rt->url, sizeof rt->url, "http://%.*s:%u%s", hostlen, host,
             vigil_http_server_port(rt->http), o->metrics_path);
    if (rt->health != NULL)
        snprintf(rt->health_url, sizeof rt->health_url, "http://%.*s:%u%s", hostlen, host,
                 vigil_http_server_port(rt->http), o->health_path);
    if (o->events != NULL)
        snprintf(rt->events_url, sizeof rt->events_url, "http://%.*s:%u%s", hostlen, host,
                 vigil_http_server_port(rt->http), o->events_path);
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_start(const vigil_options *opts, vigil_runtime **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "result pointer is NULL");
    *out = NULL;
    vigil_options o;
    if (opts != NULL)
        o = *opts;
    else
        vigil_options_init(&o);
    vigil_status st = vigil_options_from_env(&o);
    if (st != VIGIL_OK)
        return st;
    if (o.metrics_enabled && (o.metrics_addr == NULL || o.metrics_path == NULL ||
                              o.metrics_path[0] != '/'))
        return vigil__fail(VIGIL_EINVAL, "metrics address and a path starting with / are "
                           "required when metrics are enabled");
    if (o.health_enabled && o.metrics_enabled &&
        (o.health_path == NULL || o.health_path[0] != '/'))
        return vigil__fail(VIGIL_EINVAL, "a health path starting with / is required when "
                           "health and metrics are enabled");
    if (o.events != NULL && o.metrics_enabled &&
        (o.events_path == NULL || o.events_path[0] != '/'))
        return vigil__fail(VIGIL_EINVAL, "an events path starting with / is required when an "
                           "event bus is given and metrics are enabled");
    if (o.history_enabled && o.query_api_enabled && o.metrics_enabled &&
        (o.query_api_path == NULL || o.query_api_path[0] != '/' || o.query_timeout_ms == 0 ||
         o.query_timeout_ms > 3600000))
        return vigil__fail(VIGIL_EINVAL, "the query API needs a path starting with / and a "
                           "query timeout from 1 to 3600000 ms");
    vigil_runtime *rt = vigil__calloc(1, sizeof *rt);
    if (rt == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory starting vigil");
    rt->registry = o.registry ? o.registry : vigil_registry_default();
    if (rt->registry == NULL)
        st = vigil__fail(VIGIL_ENOMEM, "out of memory creating the default registry");
    if (st == VIGIL_OK && o.global_label_count > 0)
        st = vigil_registry_set_global_labels(rt->registry, o.global_labels,
                                              o.global_label_count);
    if (st == VIGIL_OK && o.max_children > 0)
        vigil_registry_set_max_children(rt->registry, o.max_children);
    if (st == VIGIL_OK && o.process_metrics) {
        st = vigil_collect_process_register(rt->registry);
        if (st == VIGIL_EEXIST) /* started before on this registry: keep the one we have */
            st = VIGIL_OK;
    }
    if (st == VIGIL_OK && o.host_metrics) {
        st = vigil_collect_host_register(rt->registry, NULL);
        rt->own_host_collector = st == VIGIL_OK;
        if (st == VIGIL_EEXIST) /* another runtime or the program added one: use it */
            st = VIGIL_OK;
    }
    if (st == VIGIL_OK && o.history_enabled)
        st = vigil__history_start(&o, rt->registry, &rt->history);
    if (st == VIGIL_OK && o.health_enabled)
        st = vigil_health_runner_new(NULL, &rt->health);
    if (st == VIGIL_OK && o.metrics_enabled)
        st = start_http(rt, &o);
    if (st == VIGIL_OK && rt->health != NULL)
        st = vigil_health_runner_register_metrics(rt->health, rt->registry);
    if (st == VIGIL_OK && rt->health != NULL)
        st = vigil_health_runner_start(rt->health);
    if (st != VIGIL_OK) {
        vigil_stop(rt);
        return st;
    }
    *out = rt;
    return VIGIL_OK;
}

VIGIL_API void vigil_stop(vigil_runtime *rt)
{
    if (rt == NULL)
        return;
    vigil_http_server_free(rt->http); /* first: its handlers read the runner and the store */
    vigil_query_api_free(rt->query_api);
    vigil_health_runner_free(rt->health);
    vigil__history_stop(rt->history);
    if (rt->own_host_collector)
        (void)vigil_collect_host_unregister(rt->registry, NULL);
    vigil__free(rt);
}

VIGIL_API vigil_registry *vigil_runtime_registry(const vigil_runtime *rt)
{
    return rt ? rt->registry : NULL;
}

VIGIL_API vigil_http_server *vigil_runtime_http(const vigil_runtime *rt)
{
    return rt ? rt->http : NULL;
}

VIGIL_API const char *vigil_runtime_metrics_url(const vigil_runtime *rt)
{
    return rt ? rt->url : "";
}

VIGIL_API const char *vigil_runtime_health_url(const vigil_runtime *rt)
{
    return rt ? rt->health_url : "";
}

VIGIL_API const char *vigil_runtime_events_url(const vigil_runtime *rt)
{
    return rt ? rt->events_url : "";
}

VIGIL_API vigil_tsdb *vigil_runtime_tsdb(const vigil_runtime *rt)
{
    return rt ? vigil__history_tsdb(rt->history) : NULL;
}

VIGIL_API vigil_health_runner *vigil_runtime_health(const vigil_runtime *rt)
{
    return rt ? rt->health : NULL;
}
