/* bench_host.c — the host collector's figures (names from shared/BENCHMARKS.md):
 *   host_collect                    one full host collection: vigil_expo_render of a registry
 *                                   holding only the host collector (read, parse, encode), us
 *   host_scrape_rps_vigil           `wrk -t2 -c8` against vigil's /metrics (process + host
 *                                   collectors, vigil_http_server_serve_metrics), req/s
 *   host_scrape_rps_node_exporter   the same against node_exporter 1.5's /metrics, req/s
 *   host_scrape_rps_ratio           vigil ÷ node_exporter, per round, x
 *   host_scrape_bytes_vigil, host_scrape_bytes_node_exporter   one scrape's body, bytes
 *
 *   bench_host [--rounds N] [--duration S] [--node-exporter PATH] [--wrk PATH]
 *
 * Both servers run for the whole program; the wrk runs alternate between them, ROUNDS rounds of
 * DURATION seconds each (default 5 rounds of 4 s: the median of 5, inside a minute; the issue's
 * `-d10s` is `--rounds 3 --duration 10`), with the first side swapped every round so neither
 * always follows the other. Each rps figure is the median over rounds; the ratio is the median of
 * the per-round ratios. node_exporter runs with its default collectors (what a user runs) and is
 * stopped by its PID at the end. Without wrk or node_exporter only host_collect is printed.
 * It reports and never asserts a time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vigil.h>

#define MAX_ROUNDS 32

static pid_t exporter_pid = -1;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *in, int n)
{
    double v[MAX_ROUNDS > 64 ? MAX_ROUNDS : 64];
    memcpy(v, in, (size_t)n * sizeof *v);
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void check(vigil_status st, const char *what)
{
    if (st != VIGIL_OK) {
        fprintf(stderr, "bench_host: %s: %s (%s)\n", what, vigil_strerror(st), vigil_errmsg());
        exit(1);
    }
}

static void stop_exporter(void)
{
    if (exporter_pid > 0) {
        kill(exporter_pid, SIGTERM);
        for (int i = 0; i < 50; i++) {
            if (waitpid(exporter_pid, NULL, WNOHANG) == exporter_pid) {
                exporter_pid = -1;
                return;
            }
            usleep(100000);
        }
        kill(exporter_pid, SIGKILL);
        waitpid(exporter_pid, NULL, 0);
        exporter_pid = -1;
    }
}

static void on_signal(int sig)
{
    stop_exporter();
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool executable(const char *path)
{
    return path != NULL && access(path, X_OK) == 0;
}

/* A port that was free a moment ago (node_exporter needs a number on its command line). */
static unsigned free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    unsigned port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* GET /metrics over a fresh connection; returns the body size, or -1. */
static long get_body_bytes(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n\r\n";
    if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
        close(fd);
        return -1;
    }
    static char buf[1 << 22];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(fd, buf + used, sizeof buf - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
        if (used >= sizeof buf - 1)
            break;
    }
    close(fd);
    buf[used] = '\0';
    if (strncmp(buf, "HTTP/1.", 7) != 0 || strstr(buf, " 200 ") == NULL)
        return -1;
    char *body = strstr(buf, "\r\n\r\n");
    return body ? (long)(used - (size_t)(body + 4 - buf)) : -1;
}

/* Runs wrk against port for seconds; returns its Requests/sec, or -1. */
static double run_wrk(const char *wrk, unsigned port, int seconds)
{
    char url[64], dur[16];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/metrics", port);
    snprintf(dur, sizeof dur, "%ds", seconds);
    int p[2];
    if (pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        execl(wrk, wrk, "-t2", "-c8", "-d", dur, url, (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    char out[8192];
    size_t used = 0;
    for (;;) {
        ssize_t n = read(p[0], out + used, sizeof out - 1 - used);
        if (n <= 0)
            break;
        used += (size_t)n;
    }
    close(p[0]);
    out[used] = '\0';
    int status;
    waitpid(pid, &status, 0);
    const char *r = strstr(out, "Requests/sec:");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || r == NULL) {
        fprintf(stderr, "bench_host: wrk failed:\n%s\n", out);
        return -1;
    }
    const char *errs = strstr(out, "Non-2xx");
    if (errs != NULL)
        fprintf(stderr, "bench_host: wrk saw errors against port %u:\n%s\n", port, out);
    return strtod(r + strlen("Requests/sec:"), NULL);
}

static unsigned start_exporter(const char *path)
{
    unsigned port = free_port();
    if (port == 0)
        return 0;
    char addr[64];
    snprintf(addr, sizeof addr, "--web.listen-address=127.0.0.1:%u", port);
    exporter_pid = fork();
    if (exporter_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execl(path, path, addr, (char *)NULL);
        _exit(127);
    }
    if (exporter_pid < 0)
        return 0;
    for (int i = 0; i < 100; i++) { /* up to 10 s */
        if (get_body_bytes(port) > 0)
            return port;
        if (waitpid(exporter_pid, NULL, WNOHANG) == exporter_pid) {
            exporter_pid = -1;
            return 0;
        }
        usleep(100000);
    }
    return 0;
}

static double host_collect_us(void)
{
    vigil_registry *reg;
    check(vigil_registry_new(&reg), "registry");
    check(vigil_collect_host_register(reg, NULL), "host collector");
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    enum { REPS = 9, PER = 200 };
    double us[REPS];
    for (int i = 0; i < 20; i++) { /* warm the buffers and the page cache */
        b.len = 0;
        check(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), "render");
    }
    for (int r = 0; r < REPS; r++) {
        double t0 = now_s();
        for (int i = 0; i < PER; i++) {
            b.len = 0;
            check(vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b), "render");
        }
        us[r] = (now_s() - t0) / PER * 1e6;
    }
    printf("host collection: %zu bytes of text; runs (us):", b.len);
    for (int r = 0; r < REPS; r++)
        printf(" %.1f", us[r]);
    printf("\n");
    vigil_buffer_free(&b);
    check(vigil_collect_host_unregister(reg, NULL), "unregister");
    vigil_registry_free(reg);
    return median(us, REPS);
}

int main(int argc, char **argv)
{
    int rounds = 5, duration = 4;
    const char *exporter = "/usr/bin/prometheus-node-exporter";
    const char *wrk = "/usr/bin/wrk";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            duration = atoi(argv[++i]);
        else if (strcmp(argv[i], "--node-exporter") == 0 && i + 1 < argc)
            exporter = argv[++i];
        else if (strcmp(argv[i], "--wrk") == 0 && i + 1 < argc)
            wrk = argv[++i];
        else {
            fprintf(stderr,
                    "usage: %s [--rounds N] [--duration S] [--node-exporter PATH] "
                    "[--wrk PATH]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > MAX_ROUNDS || duration < 1) {
        fprintf(stderr, "bench_host: rounds must be 1..%d and duration >= 1\n", MAX_ROUNDS);
        return 2;
    }

    printf("BENCH host_collect %.1f us\n", host_collect_us());
    fflush(stdout);

    if (!executable(wrk) || !executable(exporter)) {
        printf("bench_host: %s or %s is missing (Debian: wrk, prometheus-node-exporter); "
               "scrape figures skipped\n",
               wrk, exporter);
        return 0;
    }

    /* vigil: what a service would serve with the process and host collectors on. */
    vigil_registry *reg;
    check(vigil_registry_new(&reg), "registry");
    check(vigil_collect_process_register(reg), "process collector");
    check(vigil_collect_host_register(reg, NULL), "host collector");
    vigil_http_options ho;
    vigil_http_options_init(&ho);
    ho.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    check(vigil_http_server_new(&ho, &srv), "server");
    check(vigil_http_server_serve_metrics(srv, "/metrics", reg), "route");
    check(vigil_http_server_start(srv), "start");
    unsigned vport = vigil_http_server_port(srv);

    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(stop_exporter);
    unsigned nport = start_exporter(exporter);
    if (nport == 0) {
        fprintf(stderr, "bench_host: node_exporter did not start\n");
        return 1;
    }
    long vbytes = get_body_bytes(vport), nbytes = get_body_bytes(nport);
    printf("vigil on port %u (%ld bytes per scrape), node_exporter pid %d on port %u "
           "(%ld bytes); %d rounds of %d s each\n",
           vport, vbytes, (int)exporter_pid, nport, nbytes, rounds, duration);

    double v[MAX_ROUNDS], n[MAX_ROUNDS], ratio[MAX_ROUNDS];
    for (int r = 0; r < rounds; r++) {
        if (r % 2 == 0) {
            v[r] = run_wrk(wrk, vport, duration);
            n[r] = run_wrk(wrk, nport, duration);
        } else {
            n[r] = run_wrk(wrk, nport, duration);
            v[r] = run_wrk(wrk, vport, duration);
        }
        if (v[r] <= 0 || n[r] <= 0)
            return 1;
        ratio[r] = v[r] / n[r];
        printf("round %d: vigil %.0f req/s, node_exporter %.0f req/s, ratio %.2f\n", r + 1, v[r],
               n[r], ratio[r]);
        fflush(stdout);
    }
    stop_exporter();
    vigil_http_server_free(srv);
    check(vigil_collect_host_unregister(reg, NULL), "unregister");
    vigil_registry_free(reg);

    printf("BENCH host_scrape_rps_vigil %.0f req/s\n", median(v, rounds));
    printf("BENCH host_scrape_rps_node_exporter %.0f req/s\n", median(n, rounds));
    printf("BENCH host_scrape_rps_ratio %.2f x\n", median(ratio, rounds));
    printf("BENCH host_scrape_bytes_vigil %ld bytes\n", vbytes);
    printf("BENCH host_scrape_bytes_node_exporter %ld bytes\n", nbytes);
    return 0;
}
