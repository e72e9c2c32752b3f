/* vigil.c — the `vigil` command-line tool: operations on a vigil store from the shell.
 *
 *   vigil tsdb import FILE --data-dir DIR   load OpenMetrics text with timestamps into a store
 *   vigil tsdb stats --data-dir DIR         series, samples, bytes on disk and in memory
 *
 * Each subcommand is a small function over the public API only (nothing internal), so the tool
 * doubles as a worked example of that API. Usage errors exit 2, failures 1, success 0.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vigil.h>

#include "tools.h"

int cmd_serve(int argc, char **argv); /* vigil serve (serve.c) */

static void usage(FILE *to)
{
    fputs("usage: vigil <command> [options]\n"
          "\n"
          "commands:\n"
          "  tsdb import FILE --data-dir DIR   import OpenMetrics text with timestamps\n"
          "  tsdb stats --data-dir DIR         show what a store holds\n"
          "  promql-test FILE...               run PromQL test scripts (Prometheus's format)\n"
          "  serve --data-dir DIR [--listen ADDR]  Prometheus's query API over a store\n"
          "  help                              show this text\n",
          to);
}

static int usage_error(const char *fmt, const char *arg)
{
    fputs("vigil: ", stderr);
    fprintf(stderr, fmt, arg);
    fputs("\n\n", stderr);
    usage(stderr);
    return EXIT_USAGE;
}

static int failed(const char *what, vigil_status st)
{
    fprintf(stderr, "vigil: %s: %s (%s)\n", what, vigil_errmsg(), vigil_strerror(st));
    return EXIT_FAILURE;
}

static double seconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Parses "--data-dir DIR" (or --data-dir=DIR) and at most `max_pos` positional arguments. */
static int parse_store_args(int argc, char **argv, const char **data_dir, const char **pos,
                            int max_pos, int *npos)
{
    static const struct option longopts[] = {
        {"data-dir", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *npos = 0;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) { /* GNU: permutes */
        if (c == 'd') {
            *data_dir = optarg;
        } else if (c == 'h') {
            usage(stdout);
            exit(EXIT_SUCCESS);
        } else {
            return usage_error("unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    for (; optind < argc; optind++) {
        if (*npos == max_pos)
            return usage_error("unexpected argument '%s'", argv[optind]);
        pos[(*npos)++] = argv[optind];
    }
    if (!*data_dir)
        return usage_error("%s", "--data-dir DIR is required");
    return 0;
}

static vigil_status open_store(const char *dir, bool read_only, vigil_tsdb **db)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.data_dir = dir;
    o.background = false;
    o.retention_ms = 0; /* a tool must never delete what it was asked to look at */
    o.read_only = read_only;
    return vigil_tsdb_open(&o, db);
}

static int cmd_tsdb_import(int argc, char **argv)
{
    const char *dir = NULL, *file[1];
    int nfile, rc = parse_store_args(argc, argv, &dir, file, 1, &nfile);
    if (rc)
        return rc;
    if (nfile != 1)
        return usage_error("%s", "tsdb import needs a FILE");
    vigil_tsdb *db;
    vigil_status st = open_store(dir, false, &db);
    if (st)
        return failed(dir, st);
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    vigil_tsdb_import_stats is;
    st = vigil_tsdb_import_openmetrics(db, file[0], &is);
    double took = seconds_since(&start);
    vigil_tsdb_close(db);
    if (st)
        return failed(file[0], st);
    printf("imported %llu samples of %llu series from %s in %.2f s\n",
           (unsigned long long)is.samples, (unsigned long long)is.series, file[0], took);
    return EXIT_SUCCESS;
}

static void print_time(const char *what, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char buf[32];
    gmtime_r(&s, &tm);
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    printf("%-22s %s.%03dZ (%lld)\n", what, buf, (int)(ms % 1000), (long long)ms);
}

static int cmd_tsdb_stats(int argc, char **argv)
{
    const char *dir = NULL, *none[1];
    int npos, rc = parse_store_args(argc, argv, &dir, none, 0, &npos);
    if (rc)
        return rc;
    vigil_tsdb *db;
    vigil_status st = open_store(dir, true, &db);
    if (st)
        return failed(dir, st);
    vigil_tsdb_stats s;
    st = vigil_tsdb_get_stats(db, &s);
    const char *report = vigil_tsdb_recovery_report(db);
    if (st == VIGIL_OK) {
        printf("%-22s %llu\n", "series", (unsigned long long)s.series);
        printf("%-22s %llu (head %llu, blocks %llu)\n", "samples",
               (unsigned long long)s.samples, (unsigned long long)s.head_samples,
               (unsigned long long)s.block_samples);
        printf("%-22s %llu\n", "blocks", (unsigned long long)s.blocks);
        printf("%-22s %llu (blocks %llu, wal %llu)\n", "bytes on disk",
               (unsigned long long)s.disk_bytes,
               (unsigned long long)(s.disk_bytes - s.wal_bytes), (unsigned long long)s.wal_bytes);
        printf("%-22s %llu (head %llu, blocks %llu)\n", "bytes in memory",
               (unsigned long long)(s.head_bytes + s.block_bytes),
               (unsigned long long)s.head_bytes, (unsigned long long)s.block_bytes);
        if (s.samples) {
            printf("%-22s %.3f\n", "disk bytes/sample", (double)s.disk_bytes / (double)s.samples);
            printf("%-22s %.3f\n", "memory bytes/sample",
                   (double)(s.head_bytes + s.block_bytes) / (double)s.samples);
            print_time("min time", s.min_time);
            print_time("max time", s.max_time);
        }
        if (report[0])
            printf("%-22s %s\n", "recovery", report);
    }
    vigil_tsdb_close(db);
    return st ? failed(dir, st) : EXIT_SUCCESS;
}

static int cmd_tsdb(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "tsdb needs a subcommand (import, stats)");
    if (strcmp(argv[1], "import") == 0)
        return cmd_tsdb_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "stats") == 0)
        return cmd_tsdb_stats(argc - 1, argv + 1);
    return usage_error("unknown tsdb subcommand '%s'", argv[1]);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage_error("%s", "no command given");
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return EXIT_SUCCESS;
    }
    if (strcmp(cmd, "tsdb") == 0)
        return cmd_tsdb(argc - 1, argv + 1);
    if (strcmp(cmd, "promql-test") == 0)
        return cmd_promql_test(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 1, argv + 1);
    return usage_error("unknown command '%s'", cmd);
}
