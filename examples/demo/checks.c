/* checks.c — health checks: what /health, /health/live and /health/ready report for the demo.
 *
 * The host checks are the library's built-ins with their default thresholds; CPU and load are
 * not critical, because a busy machine makes the service slow, not broken. The demo's own
 * check, "message_server", asks the two questions an operator would: is the server accepting
 * connections (if not, the service is down: unhealthy), and are requests failing more than
 * CHECKS_DEGRADED_ERROR_RATE of the time lately (degraded: it works, badly). It reads the
 * server's flag and the error tracker's per-second ring, so it costs nothing to run often. */
#include "checks.h"

#include <stdlib.h>

typedef struct server_check {
    demo_instr *in;
    demo_server *srv;
} server_check;

static vigil_health_status check_server(vigil_health_result *res, void *user)
{
    const server_check *sc = user;
    uint64_t requests = 0, errors = 0;
    vigil_errors_recent(sc->in->error_rate, CHECKS_WINDOW, &requests, &errors);
    double rate = requests > 0 ? (double)errors / (double)requests : 0;
    (void)vigil_health_result_detail(res, "address", "%s", server_address_text(sc->srv));
    (void)vigil_health_result_detail(res, "connected_clients", "%.0f",
                                     vigil_gauge_value(sc->in->connected));
    (void)vigil_health_result_detail(res, "recent_requests", "%llu", (unsigned long long)requests);
    (void)vigil_health_result_detail(res, "recent_errors", "%llu", (unsigned long long)errors);
    if (!server_accepting(sc->srv)) {
        vigil_health_result_message(res, "not accepting connections on %s",
                                    server_address_text(sc->srv));
        return VIGIL_HEALTH_UNHEALTHY;
    }
    if (rate > CHECKS_DEGRADED_ERROR_RATE) {
        vigil_health_result_message(res, "%.1f%% of requests failed in the last %d s", rate * 100,
                                    CHECKS_WINDOW);
        return VIGIL_HEALTH_DEGRADED;
    }
    vigil_health_result_message(res, "accepting on %s; %.1f%% of requests failed in the last %d s",
                                server_address_text(sc->srv), rate * 100, CHECKS_WINDOW);
    return VIGIL_HEALTH_HEALTHY;
}

static vigil_status add_builtins(vigil_health_runner *hr)
{
    vigil_health_check_opts c;
    vigil_health_check_opts_init(&c);
    c.interval_seconds = 5;
    c.timeout_seconds = 2;
    vigil_status st = vigil_health_runner_add_memory(hr, &c, NULL);
    if (st == VIGIL_OK)
        st = vigil_health_runner_add_disk(hr, &c, NULL);
    if (st == VIGIL_OK)
        st = vigil_health_runner_add_fds(hr, &c, NULL);
    c.critical = false;
    if (st == VIGIL_OK)
        st = vigil_health_runner_add_cpu(hr, &c, NULL);
    if (st == VIGIL_OK)
        st = vigil_health_runner_add_load(hr, &c, NULL);
    return st;
}

vigil_status checks_register(vigil_health_runner *hr, demo_instr *in, demo_server *srv)
{
    vigil_status st = add_builtins(hr);
    if (st != VIGIL_OK)
        return st;
    server_check *sc = malloc(sizeof *sc);
    if (sc == NULL)
        return VIGIL_ENOMEM;
    *sc = (server_check){.in = in, .srv = srv};
    vigil_health_check_opts c;
    vigil_health_check_opts_init(&c);
    c.name = "message_server";
    c.fn = check_server;
    c.user = sc;
    c.free_user = free;
    c.interval_seconds = 2;
    c.timeout_seconds = 1;
    st = vigil_health_runner_add(hr, &c);
    if (st != VIGIL_OK)
        free(sc); /* not the runner's yet */
    return st;
}
