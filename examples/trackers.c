/* trackers.c — the track module on real work: worker threads checksum buffers of random size
 * and look keys up in a table, with failures injected at known rates, while a latency, an error
 * and a throughput tracker and a health dashboard watch them. At the end it prints what each
 * tracker saw, the dashboard's report (text, or JSON with --json), a stress run of the checksum
 * routine and, with --metrics, the Prometheus exposition of all of it.
 *
 *   vigil-trackers [--json] [--metrics] [--seconds S] [--threads N] [--help]
 */
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigil.h>

typedef struct app {
    vigil_dashboard *dash;
    vigil_latency *checksum_latency; /* checksum_seconds */
    vigil_errors *lookup_errors;     /* lookup_requests_total, lookup_errors_total{kind} */
    vigil_throughput *bytes;         /* checksum_bytes_operations_total: bytes as operations */
    double seconds;
    atomic_bool stop;
} app;

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static unsigned next_rand(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 8) & 0xFFFFFF;
}

/* Checksums a buffer of 1..64 KiB; about 1 in 200 "fails verification". */
static const char *do_checksum(app *a, unsigned *seed, unsigned char *buf)
{
    size_t n = 1024 + next_rand(seed) % (63 * 1024);
    for (size_t i = 0; i < n; i += 64)
        buf[i] = (unsigned char)next_rand(seed);
    volatile uint64_t h = fnv1a(buf, n);
    (void)h;
    vigil_throughput_record_n(a->bytes, n);
    return next_rand(seed) % 200 == 0 ? "checksum_mismatch" : NULL;
}

/* Looks a key up in a small table with a linear scan; misses and "timeouts" are errors. */
static const char *do_lookup(unsigned *seed)
{
    static const char *const keys[] = {"alpha", "beta", "gamma", "delta", "epsilon", "zeta"};
    char want[16];
    unsigned r = next_rand(seed);
    snprintf(want, sizeof want, "%s", r % 50 == 0 ? "omega" : keys[r % 6]);
    for (int spin = 0; spin < 200 + (int)(r % 2000); spin++) {
        for (size_t i = 0; i < 6; i++) {
            if (strcmp(keys[i], want) == 0)
                break;
        }
    }
    if (strcmp(want, "omega") == 0)
        return "not_found";
    return r % 333 == 0 ? "timeout" : NULL;
}

static void *worker(void *arg)
{
    app *a = arg;
    unsigned seed = (unsigned)(uintptr_t)&seed ^ (unsigned)time(NULL);
    unsigned char *buf = calloc(64, 1024);
    vigil_operation *checksum, *lookup;
    if (buf == NULL || vigil_dashboard_operation(a->dash, "checksum", &checksum) != VIGIL_OK ||
        vigil_dashboard_operation(a->dash, "lookup", &lookup) != VIGIL_OK) {
        free(buf);
        return NULL;
    }
    while (!atomic_load(&a->stop)) {
        vigil_timer t = vigil_timer_start();
        const char *err = do_checksum(a, &seed, buf);
        double s = vigil_timer_stop(&t, a->checksum_latency);
        vigil_operation_record(checksum, s, err);

        t = vigil_timer_start();
        err = do_lookup(&seed);
        s = vigil_timer_elapsed(&t);
        if (err)
            vigil_errors_record_error(a->lookup_errors, err);
        else
            vigil_errors_record_success(a->lookup_errors);
        vigil_operation_record(lookup, s, err);
    }
    free(buf);
    return NULL;
}

static int stress_checksum(void *user, uint64_t i)
{
    (void)user;
    unsigned char buf[4096];
    memset(buf, (int)(i & 0xFF), sizeof buf);
    volatile uint64_t h = fnv1a(buf, sizeof buf);
    (void)h;
    return i % 1000 == 999 ? 1 : 0; /* 0.1 % injected failures */
}

static void print_latency(vigil_latency *t)
{
    vigil_latency_stats s;
    if (vigil_latency_read(t, VIGIL_SCOPE_ALL, &s) != VIGIL_OK || s.count == 0) {
        printf("  checksum latency: no data\n");
        return;
    }
    printf("  checksum latency: %llu samples, avg %.1f µs, min %.1f µs, max %.1f µs,\n"
           "                    p50 %.1f µs, p95 %.1f µs, p99 %.1f µs, p99.9 %.1f µs\n",
           (unsigned long long)s.count, s.avg * 1e6, s.min * 1e6, s.max * 1e6, s.p50 * 1e6,
           s.p95 * 1e6, s.p99 * 1e6, vigil_latency_quantile(t, 0.999) * 1e6);
}

static void print_errors(vigil_errors *t)
{
    vigil_error_count top[3];
    size_t n = vigil_errors_top(t, top, 3);
    double rate = vigil_errors_rate(t);
    printf("  lookup errors:    %llu of %llu requests (error rate %.2f%%, success rate %.2f%%)\n",
           (unsigned long long)vigil_errors_total(t), (unsigned long long)vigil_errors_requests(t),
           isnan(rate) ? 0.0 : rate * 100, isnan(rate) ? 0.0 : (1 - rate) * 100);
    for (size_t i = 0; i < n; i++)
        printf("                    %zu. %s: %llu\n", i + 1, top[i].kind,
               (unsigned long long)top[i].count);
}

static void print_stress(void)
{
    vigil_stress_result r;
    vigil_status st = vigil_stress_run(100000, 2, stress_checksum, NULL, &r);
    if (st != VIGIL_OK) {
        fprintf(stderr, "stress run: %s\n", vigil_errmsg());
        return;
    }
    printf("stress run of the 4 KiB checksum (%u threads):\n"
           "  %llu ops in %.3f s = %.0f ops/s, success %.2f%%, peak RSS %.1f MiB\n"
           "  latency p50 %.2f µs, p95 %.2f µs, p99 %.2f µs\n",
           r.threads, (unsigned long long)r.operations, r.duration_seconds, r.ops_per_second,
           r.success_rate * 100, (double)r.peak_rss_bytes / (1024.0 * 1024.0), r.latency_p50 * 1e6,
           r.latency_p95 * 1e6, r.latency_p99 * 1e6);
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--json] [--metrics] [--seconds S] [--threads N]\n"
            "  --json        print the dashboard report as JSON\n"
            "  --metrics     also print the Prometheus exposition of every tracker\n"
            "  --seconds S   how long the workers run (default 2, at most 60)\n"
            "  --threads N   worker threads (default 2, at most 16)\n",
            prog);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},          {"metrics", no_argument, NULL, 'm'},
        {"seconds", required_argument, NULL, 's'}, {"threads", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    bool json = false, metrics = false;
    double seconds = 2;
    int threads = 2, c;
    while ((c = getopt_long(argc, argv, "jms:t:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'm': metrics = true; break;
        case 's': seconds = atof(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 'h': usage(stdout, argv[0]); return 0;
        default: usage(stderr, argv[0]); return 2;
        }
    }
    if (!(seconds > 0 && seconds <= 60) || threads < 1 || threads > 16) {
        usage(stderr, argv[0]);
        return 2;
    }

    vigil_registry *reg;
    if (vigil_registry_new(&reg) != VIGIL_OK)
        return 1;
    app a = {.seconds = seconds};
    vigil_latency_opts lo;
    vigil_latency_opts_init(&lo);
    lo.registry = reg;
    lo.name = "checksum";
    lo.help = "Time to checksum one buffer.";
    vigil_errors_opts eo;
    vigil_errors_opts_init(&eo);
    eo.registry = reg;
    eo.name = "lookup";
    vigil_throughput_opts to;
    vigil_throughput_opts_init(&to);
    to.registry = reg;
    to.name = "checksum_bytes";
    to.help = "Bytes checksummed.";
    vigil_dashboard_opts dopt;
    vigil_dashboard_opts_init(&dopt);
    dopt.registry = reg;
    dopt.name = "demo";
    dopt.degraded_p99_seconds = 0.005; /* a checksum slower than 5 ms at p99 is degraded */
    vigil_status st = vigil_latency_new(&lo, &a.checksum_latency);
    if (st == VIGIL_OK)
        st = vigil_errors_new(&eo, &a.lookup_errors);
    if (st == VIGIL_OK)
        st = vigil_throughput_new(&to, &a.bytes);
    if (st == VIGIL_OK)
        st = vigil_dashboard_new("demo-service", &dopt, &a.dash);
    if (st != VIGIL_OK) {
        fprintf(stderr, "setup: %s\n", vigil_errmsg());
        return 1;
    }

    pthread_t tids[16];
    int started = 0;
    for (; started < threads; started++) {
        if (pthread_create(&tids[started], NULL, worker, &a) != 0)
            break;
    }
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    nanosleep(&ts, NULL);
    atomic_store(&a.stop, true);
    for (int i = 0; i < started; i++)
        pthread_join(tids[i], NULL);

    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    if (json) {
        st = vigil_dashboard_report_json(a.dash, &out);
    } else {
        printf("what each tracker saw:\n");
        print_latency(a.checksum_latency);
        print_errors(a.lookup_errors);
        printf("  bytes checksummed: %.1f MiB, %.1f MiB/s over the last 10 s\n\n",
               (double)vigil_throughput_total(a.bytes) / (1024.0 * 1024.0),
               vigil_throughput_recent_rate(a.bytes, 10) / (1024.0 * 1024.0));
        st = vigil_dashboard_report(a.dash, &out);
    }
    if (st == VIGIL_OK)
        fputs(vigil_buffer_cstr(&out), stdout);
    vigil_buffer_free(&out);
    if (!json) {
        printf("\n");
        print_stress();
    }
    if (st == VIGIL_OK && metrics) {
        vigil_buffer_init(&out, 0);
        st = vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &out);
        if (st == VIGIL_OK)
            printf("\n%s", vigil_buffer_cstr(&out));
        vigil_buffer_free(&out);
    }
    if (st != VIGIL_OK)
        fprintf(stderr, "report: %s\n", vigil_errmsg());

    vigil_dashboard_free(a.dash);
    vigil_throughput_free(a.bytes);
    vigil_errors_free(a.lookup_errors);
    vigil_latency_free(a.checksum_latency);
    vigil_registry_free(reg);
    return st == VIGIL_OK ? 0 : 1;
}
