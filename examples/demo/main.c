/* main.c — vigil-demo: a message server with a built-in load generator, instrumented with
 * vigil from end to end. `make run` starts it; docs/demo.md describes it all.
 *
 * This file only wires the parts together and takes them apart again, in an order that
 * matters both ways. Up: the registry, the event bus and the instrumentation first (everything
 * else reports into them), then the server, then the runtime (its health runner gets a check
 * that reads the server); then the banner, so it is the first thing printed; then the bus's
 * dispatcher, the clients and the snapshot printer. Down, the reverse of
 * who reads whom: clients first (they say BYE), then the server (it says BYE to anyone left),
 * then the bus is drained so every hook line is out, then the final snapshot, then the
 * runtime (its HTTP threads and health checks read the rest), and only then is memory freed.
 *
 * Signals: SIGINT and SIGTERM are blocked before any thread exists, so every thread inherits
 * the mask and the main thread alone takes them, synchronously, with sigtimedwait. No handler
 * runs in the middle of anything, and --duration is the same wait with a deadline. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

#include "checks.h"
#include "client.h"
#include "conn.h"
#include "console.h"
#include "demo.h"
#include "flags.h"
#include "instr.h"
#include "server.h"

typedef struct demo_app {
    const demo_config *cfg;
    vigil_registry *reg;
    vigil_event_bus *bus;
    bool bus_metrics;
    bool host_collector;
    demo_tls *tls;
    demo_instr *in;
    demo_server *srv;
    vigil_runtime *rt;
    demo_load *load;
    vigil_snapshot *snap;
    uint64_t start_ns;
} demo_app;

/* Prints why a vigil call failed; returns 1 (the exit status of a failed start). */
static int failed(vigil_status st, const char *what)
{
    fprintf(stderr, "vigil-demo: %s: %s (%s)\n", what, vigil_strerror(st), vigil_errmsg());
    return 1;
}

static int fail_msg(const char *what, const char *err)
{
    fprintf(stderr, "vigil-demo: %s: %s\n", what, err);
    return 1;
}

/* --- up ---------------------------------------------------------------------------------- */

static vigil_status add_log_hooks(vigil_event_bus *bus, hooks_mode mode)
{
    static const vigil_event_type lifecycle[] = {
        VIGIL_EVENT_CLIENT_CONNECTED, VIGIL_EVENT_CLIENT_DISCONNECTED, VIGIL_EVENT_RECONNECT,
        VIGIL_EVENT_HEARTBEAT_TIMEOUT, VIGIL_EVENT_ERROR};
    if (mode == HOOKS_ALL)
        return vigil_event_hook_add(bus, VIGIL_EVENT_ANY, vigil_event_log_hook, NULL, NULL);
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; mode == HOOKS_LIFECYCLE && i < 5 && st == VIGIL_OK; i++)
        st = vigil_event_hook_add(bus, lifecycle[i], vigil_event_log_hook, NULL, NULL);
    return st;
}

static int start_events(demo_app *app)
{
    vigil_status st = vigil_registry_new(&app->reg);
    if (st != VIGIL_OK)
        return failed(st, "registry");
    st = vigil_event_bus_new(NULL, &app->bus); /* 4096 slots, the last 100 events kept */
    if (st == VIGIL_OK)
        st = add_log_hooks(app->bus, app->cfg->hooks);
    if (st == VIGIL_OK)
        st = vigil_event_bus_register_metrics(app->bus, app->reg);
    app->bus_metrics = st == VIGIL_OK;
    if (st == VIGIL_OK)
        st = instr_new(app->reg, app->bus, &app->in);
    return st == VIGIL_OK ? 0 : failed(st, "event bus and metrics");
}

static int start_server(demo_app *app)
{
    char err[512];
    const demo_config *c = app->cfg;
    if (c->cert != NULL && tls_new(c->cert, c->key, &app->tls, err, sizeof err) != 0)
        return fail_msg("TLS", err);
    demo_server_opts so = {.addr = c->addr,
                           .tls = app->tls,
                           .faults = &c->faults,
                           .instr = app->in,
                           .heartbeat_interval = c->heartbeat_interval,
                           .seed = c->seed};
    if (server_start(&so, &app->srv, err, sizeof err) != 0)
        return fail_msg("message server", err);
    return 0;
}

/* Host metrics without /proc/meminfo's node_memory_* families: their camelCase names (kept
 * for node_exporter's dashboards) are the one thing promtool's lint flags, and
 * vigil_host_memory_used_* carry the figure a newcomer wants. */
static vigil_status add_host_metrics(demo_app *app)
{
    vigil_host_options ho;
    vigil_host_options_init(&ho);
    ho.subsystems = VIGIL_HOST_ALL & ~VIGIL_HOST_MEMINFO;
    vigil_status st = vigil_collect_host_register(app->reg, &ho);
    app->host_collector = st == VIGIL_OK;
    return st;
}

static int start_runtime(demo_app *app)
{
    vigil_options o;
    vigil_options_init(&o);
    o.registry = app->reg;
    o.metrics_enabled = app->cfg->metrics_enabled;
    o.metrics_addr = app->cfg->metrics;
    o.events = app->bus;
    o.history_enabled = true;
    o.history_dir = app->cfg->data_dir;
    o.scrape_interval_ms = (unsigned)(app->cfg->scrape_interval * 1000);
    vigil_status st = vigil_start(&o, &app->rt);
    if (st != VIGIL_OK)
        return failed(st, "monitoring");
    st = checks_register(vigil_runtime_health(app->rt), app->in, app->srv);
    if (st == VIGIL_OK)
        st = add_host_metrics(app);
    return st == VIGIL_OK ? 0 : failed(st, "monitoring");
}

static int start_load(demo_app *app)
{
    vigil_status st = vigil_event_bus_start(app->bus);
    if (st != VIGIL_OK)
        return failed(st, "event bus");
    const demo_config *c = app->cfg;
    socklen_t len;
    const struct sockaddr *addr = server_address(app->srv, &len);
    demo_load_opts lo = {.clients = c->clients,
                         .server = addr,
                         .server_len = len,
                         .tls = app->tls,
                         .faults = &c->faults,
                         .instr = app->in,
                         .request_rate = c->request_rate,
                         .request_timeout = c->request_timeout,
                         .heartbeat_interval = c->heartbeat_interval,
                         .seed = c->seed};
    char err[256];
    if (load_start(&lo, &app->load, err, sizeof err) != 0)
        return fail_msg("load generator", err);
    return 0;
}

static int start_snapshot(demo_app *app)
{
    vigil_status st = console_new(app->in, &app->snap);
    if (st == VIGIL_OK && app->cfg->snapshot_interval > 0)
        st = vigil_snapshot_start(app->snap, app->cfg->snapshot_interval, stdout);
    return st == VIGIL_OK ? 0 : failed(st, "console snapshot");
}

/* Everything that can fail for a reason the user must fix (a port, a certificate). */
static int start(demo_app *app)
{
    app->start_ns = mono_ns();
    return start_events(app) || start_server(app) || start_runtime(app) ? 1 : 0;
}

/* The traffic: the hook lines and snapshots it prints come after the banner. */
static int start_traffic(demo_app *app)
{
    return start_load(app) || start_snapshot(app) ? 1 : 0;
}

/* --- what a newcomer reads first --------------------------------------------------------- */

static void print_banner(const demo_app *app)
{
    const demo_config *c = app->cfg;
    char faults[256];
    faults_describe(&c->faults, faults, sizeof faults);
    printf("vigil-demo %s: message server on %s (%s), %u clients at %g requests/s each\n",
           vigil_version(), server_address_text(app->srv), app->tls ? "TLS" : "plain TCP",
           c->clients, c->request_rate);
    if (vigil_runtime_metrics_url(app->rt)[0] != '\0') {
        printf("  metrics:  %s\n", vigil_runtime_metrics_url(app->rt));
        printf("  health:   %s  (and /live, /ready below it)\n", vigil_runtime_health_url(app->rt));
        printf("  events:   %s\n", vigil_runtime_events_url(app->rt));
    } else {
        printf("  metrics:  off (--enable-metrics=false): the snapshot below is the dashboard\n");
    }
    printf("  faults:   %s%s\n", faults,
           strcmp(faults, "none") == 0 ? "" : " (--no-faults turns them off)");
    vigil_tsdb_stats hs;
    if (vigil_tsdb_get_stats(vigil_runtime_tsdb(app->rt), &hs) == VIGIL_OK)
        printf("  history:  self-scraped every %g s, %s (%llu samples of %llu series so far)\n",
               c->scrape_interval, c->data_dir ? c->data_dir : "in memory (--data-dir keeps it)",
               (unsigned long long)hs.samples, (unsigned long long)hs.series);
    if (c->snapshot_interval > 0)
        printf("  snapshot: every %g s here, and once more at exit\n", c->snapshot_interval);
    else
        printf("  snapshot: once, at exit\n");
    printf("  stop:     Ctrl-C or SIGTERM%s\n",
           c->duration > 0 ? " (or the --duration running out)" : "");
}

/* --- waiting ----------------------------------------------------------------------------- */

static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a peer gone mid-write is an error return, not a death */
}

/* Until SIGINT/SIGTERM, or duration seconds (0: no limit). Returns the signal, or 0. */
static int wait_for_end(const sigset_t *set, double duration)
{
    uint64_t end = duration > 0 ? mono_ns() + (uint64_t)(duration * 1e9) : 0;
    for (;;) {
        uint64_t now = mono_ns();
        if (end != 0 && now >= end)
            return 0;
        uint64_t left = end != 0 ? end - now : 3600ull * 1000000000u;
        struct timespec ts = {(time_t)(left / 1000000000u), (long)(left % 1000000000u)};
        int sig = sigtimedwait(set, NULL, &ts);
        if (sig > 0)
            return sig;
    }
}

/* --- down -------------------------------------------------------------------------------- */

static void final_snapshot(demo_app *app)
{
    if (vigil_snapshot_running(app->snap)) {
        vigil_snapshot_stop(app->snap, true);
        return;
    }
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    if (vigil_snapshot_render(app->snap, &b) == VIGIL_OK)
        fputs(vigil_buffer_cstr(&b), stdout);
    vigil_buffer_free(&b);
}

static void print_summary(const demo_app *app)
{
    const demo_instr *in = app->in;
    printf("vigil-demo: stopped after %.1f s: %.0f connections, %.0f requests answered, "
           "%.0f timed out, %.0f failed\n",
           (double)(mono_ns() - app->start_ns) / 1e9, vigil_counter_value(in->connections),
           vigil_counter_value(in->pending_completed), vigil_counter_value(in->pending_timed_out),
           vigil_counter_value(in->pending_failed));
}

/* Takes down whatever start() brought up; report: print the final snapshot and summary. */
static void stop(demo_app *app, bool report)
{
    load_free(app->load);
    if (app->srv != NULL)
        server_stop(app->srv);
    if (app->bus != NULL)
        vigil_event_bus_stop(app->bus); /* every hook line is out before the snapshot */
    if (report) {
        final_snapshot(app);
        print_summary(app);
    }
    vigil_stop(app->rt);
    vigil_snapshot_free(app->snap);
    server_free(app->srv);
    if (app->host_collector)
        (void)vigil_collect_host_unregister(app->reg, NULL);
    if (app->bus_metrics)
        (void)vigil_event_bus_unregister_metrics(app->bus, app->reg);
    instr_free(app->in);
    vigil_event_bus_free(app->bus);
    vigil_registry_free(app->reg);
    tls_free(app->tls);
}

int main(int argc, char **argv)
{
    demo_config cfg;
    int rc = flags_parse(argc, argv, &cfg);
    if (rc >= 0)
        return rc;
    if (!cfg.seed_given)
        cfg.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    setvbuf(stdout, NULL, _IOLBF, 0); /* hook lines and snapshots appear as they happen */
    sigset_t signals;
    block_signals(&signals);

    demo_app app = {.cfg = &cfg};
    rc = start(&app);
    if (rc == 0) {
        print_banner(&app);
        rc = start_traffic(&app);
    }
    if (rc == 0) {
        int sig = wait_for_end(&signals, cfg.duration);
        printf("vigil-demo: %s, shutting down\n", sig > 0 ? strsignal(sig) : "--duration is over");
    }
    stop(&app, rc == 0);
    return rc;
}
