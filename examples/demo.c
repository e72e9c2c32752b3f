/* demo.c — a small instrumented service: worker threads take jobs from a queue and do real work
 * (sorting and checksumming buffers of random size), and every step is measured with vigil.
 * Health checks watch the host (memory, disk, CPU, file descriptors, load) and the job backlog;
 * their results are at /health, /health/live and /health/ready next to /metrics.
 * `make run` starts it; point a browser, curl or Prometheus at the URLs it prints.
 *
 *   vigil-demo [--metrics HOST:PORT] [--workers N] [--duration SECONDS] [--help]
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

static volatile sig_atomic_t stopping;

typedef struct demo_metrics {
    vigil_family *jobs;          /* demo_jobs_total{worker,result} */
    vigil_histogram *duration;   /* demo_job_duration_seconds */
    vigil_counter *bytes;        /* demo_processed_bytes_total */
    vigil_gauge *in_flight;      /* demo_jobs_in_flight */
    vigil_gauge *last_success;   /* demo_last_success_timestamp_seconds */
    vigil_family *queue_depth;   /* demo_queue_depth{queue} */
} demo_metrics;

typedef struct worker {
    pthread_t thread;
    int id;
    demo_metrics *m;
    unsigned seed;
} worker;

static atomic_uint_fast64_t backlog = 1000;

static int checked(vigil_status st, const char *what);

static double queue_length(void *user)
{
    (void)user;
    return (double)atomic_load(&backlog);
}

/* A custom health check: the backlog is fine below 900 jobs, a sign of trouble above (the
 * service still works, so the check is not critical: it degrades the status, never fails it). */
#define BACKLOG_DEGRADED 900

static vigil_health_status backlog_check(vigil_health_result *res, void *user)
{
    (void)user;
    uint_fast64_t b = atomic_load(&backlog);
    (void)vigil_health_result_detail(res, "backlog_jobs", "%llu", (unsigned long long)b);
    (void)vigil_health_result_detail(res, "degraded_at", "%d", BACKLOG_DEGRADED);
    if (b >= BACKLOG_DEGRADED) {
        vigil_health_result_message(res, "%llu jobs waiting (%d or more)", (unsigned long long)b,
                                    BACKLOG_DEGRADED);
        return VIGIL_HEALTH_DEGRADED;
    }
    vigil_health_result_message(res, "%llu jobs waiting", (unsigned long long)b);
    return VIGIL_HEALTH_HEALTHY;
}

/* The built-in host checks with their default thresholds, and the backlog check. */
static int register_checks(vigil_health_runner *hr)
{
    vigil_health_check_opts c;
    vigil_health_check_opts_init(&c);
    c.interval_seconds = 5;
    c.timeout_seconds = 2;
    if (checked(vigil_health_runner_add_memory(hr, &c, NULL), "memory check") ||
        checked(vigil_health_runner_add_disk(hr, &c, NULL), "disk check") || /* "/" */
        checked(vigil_health_runner_add_fds(hr, &c, NULL), "fds check"))
        return -1;
    c.critical = false; /* a busy machine is degraded, not down */
    if (checked(vigil_health_runner_add_cpu(hr, &c, NULL), "cpu check") ||
        checked(vigil_health_runner_add_load(hr, &c, NULL), "load check"))
        return -1;
    c.name = "backlog";
    c.fn = backlog_check;
    c.interval_seconds = 1;
    c.timeout_seconds = 0.5;
    return checked(vigil_health_runner_add(hr, &c), "backlog check");
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--metrics HOST:PORT] [--workers N] [--duration SECONDS]\n"
            "  --metrics HOST:PORT   where to serve /metrics (default 127.0.0.1:9464)\n"
            "  --workers N           worker threads doing jobs, 1..64 (default 4)\n"
            "  --duration SECONDS    stop after this long; 0 runs until SIGINT/SIGTERM (default 0)\n"
            "  --help                this text\n",
            prog);
}

static int checked(vigil_status st, const char *what)
{
    if (st != VIGIL_OK) {
        fprintf(stderr, "vigil-demo: %s: %s (%s)\n", what, vigil_strerror(st), vigil_errmsg());
        return -1;
    }
    return 0;
}

static int register_metrics(vigil_registry *reg, demo_metrics *m)
{
    vigil_metric_opts o;
    const char *job_labels[] = {"worker", "result"};
    vigil_metric_opts_init(&o);
    o.name = "demo_jobs_total";
    o.help = "Jobs finished by the demo's workers, by worker and result.";
    o.label_names = job_labels;
    o.label_count = 2;
    if (checked(vigil_family_new(reg, VIGIL_COUNTER, &o, &m->jobs), "jobs"))
        return -1;

    double bounds[12];
    vigil_buckets_exponential(0.00005, 2, 12, bounds);
    vigil_metric_opts_init(&o);
    o.name = "demo_job_duration_seconds";
    o.help = "Time a worker spent on one job.";
    o.unit = "seconds";
    o.buckets = bounds;
    o.bucket_count = 12;
    if (checked(vigil_histogram_new(reg, &o, &m->duration), "duration"))
        return -1;

    vigil_metric_opts_init(&o);
    o.name = "demo_processed_bytes_total";
    o.help = "Bytes sorted and checksummed by the workers.";
    if (checked(vigil_counter_new(reg, &o, &m->bytes), "bytes"))
        return -1;

    vigil_metric_opts_init(&o);
    o.name = "demo_jobs_in_flight";
    o.help = "Jobs being worked on right now.";
    if (checked(vigil_gauge_new(reg, &o, &m->in_flight), "in flight"))
        return -1;

    vigil_metric_opts_init(&o);
    o.name = "demo_last_success_timestamp_seconds";
    o.help = "Unix time of the last job that succeeded.";
    if (checked(vigil_gauge_new(reg, &o, &m->last_success), "last success"))
        return -1;

    vigil_metric_opts_init(&o);
    o.name = "demo_backlog_jobs";
    o.help = "Jobs waiting in the queue (read when scraped).";
    return checked(vigil_gauge_func_new(reg, &o, queue_length, NULL), "backlog");
}

static int compare_u32(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return (x > y) - (x < y);
}

/* One job: sort a buffer of random size and checksum it; fail now and then. */
static int run_job(worker *w, size_t *bytes)
{
    size_t n = 256 + (size_t)(rand_r(&w->seed) % 16384);
    unsigned *buf = malloc(n * sizeof *buf);
    if (buf == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned)rand_r(&w->seed);
    qsort(buf, n, sizeof *buf, compare_u32);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum = sum * 31 + buf[i];
    free(buf);
    *bytes = n * sizeof *buf;
    return (sum % 50 == 0) ? -1 : 0; /* about 2% of jobs fail */
}

static void *work(void *arg)
{
    worker *w = arg;
    demo_metrics *m = w->m;
    char id[16];
    snprintf(id, sizeof id, "%d", w->id);
    vigil_counter *ok, *failed;
    if (vigil_family_counter(m->jobs, VIGIL_VALUES(id, "ok"), &ok) != VIGIL_OK ||
        vigil_family_counter(m->jobs, VIGIL_VALUES(id, "error"), &failed) != VIGIL_OK)
        return NULL;
    while (!stopping) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        vigil_gauge_inc(m->in_flight);
        size_t bytes = 0;
        int rc = run_job(w, &bytes);
        vigil_gauge_dec(m->in_flight);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        vigil_histogram_observe(m->duration, (double)(t1.tv_sec - t0.tv_sec) +
                                                 (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        vigil_counter_add_u64(m->bytes, bytes);
        if (rc == 0) {
            vigil_counter_inc(ok);
            vigil_gauge_set_to_current_time(m->last_success);
        } else {
            vigil_counter_inc(failed);
        }
        /* The backlog drains as work is done and refills in bursts. */
        uint_fast64_t b = atomic_load(&backlog);
        if (b > 0)
            atomic_compare_exchange_strong(&backlog, &b, b - 1);
        else
            atomic_store(&backlog, 200 + (uint_fast64_t)(rand_r(&w->seed) % 800));
        usleep(1000 + (useconds_t)(rand_r(&w->seed) % 4000));
    }
    return NULL;
}

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int parse_args(int argc, char **argv, const char **addr, long *workers, long *duration)
{
    static const struct option opts[] = {{"metrics", required_argument, NULL, 'm'},
                                         {"workers", required_argument, NULL, 'w'},
                                         {"duration", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    char *end;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            *addr = optarg;
            break;
        case 'w':
            *workers = strtol(optarg, &end, 10);
            if (*end || *workers < 1 || *workers > 64) {
                fprintf(stderr, "vigil-demo: --workers needs a number from 1 to 64\n");
                usage(stderr, argv[0]);
                return 2;
            }
            break;
        case 'd':
            *duration = strtol(optarg, &end, 10);
            if (*end || *duration < 0) {
                fprintf(stderr, "vigil-demo: --duration needs a number of seconds >= 0\n");
                usage(stderr, argv[0]);
                return 2;
            }
            break;
        case 'h':
            usage(stdout, argv[0]);
            return 0;
        default:
            fprintf(stderr, "vigil-demo: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vigil-demo: unexpected argument '%s'\n", argv[optind]);
        usage(stderr, argv[0]);
        return 2;
    }
    return -1;
}

int main(int argc, char **argv)
{
    const char *addr = "127.0.0.1:9464";
    long nworkers = 4, duration = 0;
    int rc = parse_args(argc, argv, &addr, &nworkers, &duration);
    if (rc >= 0)
        return rc;

    vigil_options opts;
    vigil_options_init(&opts);
    opts.metrics_addr = addr;
    opts.host_metrics = true; /* show the host beside the service, as node_exporter would */
    vigil_runtime *rt;
    if (checked(vigil_start(&opts, &rt), "cannot start monitoring"))
        return 1;
    demo_metrics m;
    if (register_metrics(vigil_runtime_registry(rt), &m) ||
        (vigil_runtime_health(rt) != NULL && register_checks(vigil_runtime_health(rt)))) {
        vigil_stop(rt);
        return 1;
    }
    printf("vigil-demo: serving metrics at %s\n", vigil_runtime_metrics_url(rt));
    if (vigil_runtime_health_url(rt)[0] != '\0')
        printf("vigil-demo: health at %s (also /live and /ready below it)\n",
               vigil_runtime_health_url(rt));
    fflush(stdout);

    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    worker workers[64];
    for (long i = 0; i < nworkers; i++) {
        workers[i] = (worker){.id = (int)i, .m = &m, .seed = (unsigned)(time(NULL) + i)};
        pthread_create(&workers[i].thread, NULL, work, &workers[i]);
    }
    time_t end = duration ? time(NULL) + duration : 0;
    while (!stopping && (end == 0 || time(NULL) < end))
        usleep(100000);
    stopping = 1;
    for (long i = 0; i < nworkers; i++)
        pthread_join(workers[i].thread, NULL);
    vigil_histogram_snapshot snap;
    vigil_histogram_snapshot_read(m.duration, &snap);
    printf("vigil-demo: stopped after %llu jobs\n", (unsigned long long)snap.count);
    vigil_stop(rt);
    return 0;
}
