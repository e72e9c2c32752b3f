/* serve.c — `vigil serve --data-dir DIR [--listen ADDR]`: answers Prometheus's HTTP query API
 * (docs/http-api.md) over a store on disk, e.g. the history a program kept with
 * VIGIL_HISTORY_DIR, so Grafana or promtool can look at it after the program is gone. It also
 * serves its own process's metrics at /metrics. Runs until SIGINT or SIGTERM.
 *
 * The store is opened read-only: the tool never changes or deletes what it was asked to show,
 * and it may run while the program still writes the directory (it then sees the sealed blocks,
 * not the WAL, as the store's read-only mode documents). The signals are blocked before any
 * thread starts, so every server thread inherits the mask and the main thread alone receives
 * them, in sigwait. Exit status: 0 after a signal, 1 when the store or the address fails,
 * 2 on a usage error. Public API only, like every subcommand. */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vigil.h>

#include "tools.h"

#define DEFAULT_LISTEN "127.0.0.1:9090"
#define QUERY_THREADS 2
#define API_PREFIX "/api/v1"

static int usage(FILE *to, const char *problem, const char *arg)
{
    if (problem) {
        fputs("vigil: serve: ", to);
        fprintf(to, problem, arg);
        fputc('\n', to);
    }
    fputs(
        "usage: vigil serve --data-dir DIR [--listen ADDR]\n"
        "  serve Prometheus's query API (" API_PREFIX "/query, ...) over the store in DIR\n"
        "  --listen ADDR   HOST:PORT, [V6]:PORT or :PORT; port 0 picks one (default " DEFAULT_LISTEN
        ")\n",
        to);
    return problem ? EXIT_USAGE : EXIT_SUCCESS;
}

static int failed(const char *what, vigil_status st)
{
    fprintf(stderr, "vigil: serve: %s: %s (%s)\n", what, vigil_errmsg(), vigil_strerror(st));
    return EXIT_FAILURE;
}

typedef struct serve_args {
    const char *data_dir;
    const char *listen;
} serve_args;

/* -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, serve_args *a)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"listen", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    a->data_dir = NULL;
    a->listen = DEFAULT_LISTEN;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'd')
            a->data_dir = optarg;
        else if (c == 'l')
            a->listen = optarg;
        else if (c == 'h')
            return usage(stdout, NULL, NULL);
        else
            return usage(stderr, "unknown or incomplete option '%s'", argv[optind - 1]);
    }
    if (optind < argc)
        return usage(stderr, "unexpected argument '%s'", argv[optind]);
    if (a->data_dir == NULL)
        return usage(stderr, "%s", "--data-dir DIR is required");
    return -1;
}

static vigil_status open_store(const char *dir, vigil_tsdb **db)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.data_dir = dir;
    o.read_only = true;
    o.background = false;
    o.retention_ms = 0;
    return vigil_tsdb_open(&o, db);
}

/* The tool's own metrics: its process and the store it serves. */
static vigil_status own_metrics(vigil_tsdb *db, vigil_registry **reg)
{
    vigil_status st = vigil_registry_new(reg);
    if (st == VIGIL_OK)
        st = vigil_collect_process_register(*reg);
    if (st == VIGIL_OK)
        st = vigil_tsdb_register_metrics(db, *reg);
    return st;
}

static int run(const serve_args *a, vigil_tsdb *db, vigil_registry *reg, vigil_query_api *api)
{
    vigil_http_options ho;
    vigil_http_options_init(&ho);
    ho.listen = a->listen;
    ho.threads = 4;
    vigil_http_server *srv = NULL;
    vigil_status st = vigil_http_server_new(&ho, &srv);
    if (st == VIGIL_EADDR || st == VIGIL_EINVAL) {
        fprintf(stderr, "vigil: serve: %s\n", vigil_errmsg());
        return usage(stderr, "bad --listen '%s'", a->listen);
    }
    if (st == VIGIL_OK)
        st = vigil_http_server_serve_query_api(srv, API_PREFIX, api);
    if (st == VIGIL_OK)
        st = vigil_http_server_serve_metrics(srv, "/metrics", reg);
    if (st == VIGIL_OK)
        st = vigil_http_server_start(srv);
    if (st != VIGIL_OK) {
        vigil_http_server_free(srv);
        return failed(a->listen, st);
    }
    vigil_tsdb_stats s;
    if (vigil_tsdb_get_stats(db, &s) != VIGIL_OK)
        memset(&s, 0, sizeof s);
    const char *colon = strrchr(a->listen, ':');
    int hostlen = colon ? (int)(colon - a->listen) : 0;
    printf("vigil serve: %s (%llu series, %llu samples) on http://%.*s:%u" API_PREFIX
           " ; metrics at /metrics\n",
           a->data_dir, (unsigned long long)s.series, (unsigned long long)s.samples,
           hostlen ? hostlen : 9, hostlen ? a->listen : "127.0.0.1", vigil_http_server_port(srv));
    const char *report = vigil_tsdb_recovery_report(db);
    if (report[0])
        printf("vigil serve: %s\n", report);
    fflush(stdout);
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    int sig = 0;
    sigwait(&stop, &sig);
    vigil_http_server_free(srv);
    return EXIT_SUCCESS;
}

int cmd_serve(int argc, char **argv)
{
    serve_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    vigil_tsdb *db = NULL;
    vigil_registry *reg = NULL;
    vigil_query_api *api = NULL;
    vigil_status st = open_store(a.data_dir, &db);
    if (st != VIGIL_OK)
        return failed(a.data_dir, st);
    st = own_metrics(db, &reg);
    /* A server of its own, unlike a library inside an application: long range queries may
     * take two cores. */
    vigil_promql_options po;
    vigil_promql_options_init(&po);
    po.threads = QUERY_THREADS;
    if (st == VIGIL_OK)
        st = vigil_query_api_new(db, &po, &api);
    rc = st == VIGIL_OK ? run(&a, db, reg, api) : failed("start", st);
    vigil_query_api_free(api);
    vigil_registry_free(reg);
    vigil_tsdb_close(db);
    return rc;
}
