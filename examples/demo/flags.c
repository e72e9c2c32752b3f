/* flags.c — parsing and checking the command line.
 *
 * Everything that can be wrong with a command line is found here, before a socket is opened
 * or a thread started: a wrong flag must cost the user one line of explanation and the usage,
 * with exit status 2, not a half-started service. Numbers are parsed whole (no trailing
 * garbage, no silent clamping) and checked against the ranges in the usage text; a file given
 * to --cert or --key must be readable now. Problems only the system can reveal (a port in use,
 * a certificate that does not parse) are reported by main with status 1. */
#include "flags.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conn.h"

enum {
    OPT_ADDR = 256,
    OPT_METRICS,
    OPT_ENABLE_METRICS,
    OPT_NO_METRICS,
    OPT_CERT,
    OPT_KEY,
    OPT_CLIENTS,
    OPT_RATE,
    OPT_REQUEST_TIMEOUT,
    OPT_HEARTBEAT_INTERVAL,
    OPT_SNAPSHOT_INTERVAL,
    OPT_SCRAPE_INTERVAL,
    OPT_DATA_DIR,
    OPT_DURATION,
    OPT_HOOKS,
    OPT_QUIET_HOOKS,
    OPT_ENCODE_ERROR_RATE,
    OPT_DECODE_ERROR_RATE,
    OPT_SLOW_RATE,
    OPT_SLOW_DELAY,
    OPT_DROP_HEARTBEAT_RATE,
    OPT_DISCONNECT_RATE,
    OPT_NO_FAULTS,
    OPT_SEED,
    OPT_HELP,
};

static const struct option options[] = {
    {"addr", required_argument, NULL, OPT_ADDR},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"enable-metrics", optional_argument, NULL, OPT_ENABLE_METRICS},
    {"no-metrics", no_argument, NULL, OPT_NO_METRICS},
    {"cert", required_argument, NULL, OPT_CERT},
    {"key", required_argument, NULL, OPT_KEY},
    {"clients", required_argument, NULL, OPT_CLIENTS},
    {"rate", required_argument, NULL, OPT_RATE},
    {"request-timeout", required_argument, NULL, OPT_REQUEST_TIMEOUT},
    {"heartbeat-interval", required_argument, NULL, OPT_HEARTBEAT_INTERVAL},
    {"snapshot-interval", required_argument, NULL, OPT_SNAPSHOT_INTERVAL},
    {"scrape-interval", required_argument, NULL, OPT_SCRAPE_INTERVAL},
    {"data-dir", required_argument, NULL, OPT_DATA_DIR},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"hooks", required_argument, NULL, OPT_HOOKS},
    {"quiet-hooks", no_argument, NULL, OPT_QUIET_HOOKS},
    {"encode-error-rate", required_argument, NULL, OPT_ENCODE_ERROR_RATE},
    {"decode-error-rate", required_argument, NULL, OPT_DECODE_ERROR_RATE},
    {"slow-rate", required_argument, NULL, OPT_SLOW_RATE},
    {"slow-delay", required_argument, NULL, OPT_SLOW_DELAY},
    {"drop-heartbeat-rate", required_argument, NULL, OPT_DROP_HEARTBEAT_RATE},
    {"disconnect-rate", required_argument, NULL, OPT_DISCONNECT_RATE},
    {"no-faults", no_argument, NULL, OPT_NO_FAULTS},
    {"seed", required_argument, NULL, OPT_SEED},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

void flags_usage(FILE *out)
{
    fputs(
        "usage: vigil-demo [OPTIONS]\n"
        "A message server with a built-in load generator, instrumented with vigil.\n"
        "\n"
        "Where things are:\n"
        "  --addr HOST:PORT            message server (default 127.0.0.1:7070; port 0 picks one)\n"
        "  --metrics HOST:PORT         /metrics, /health, /api/v1/events (default 127.0.0.1:9464)\n"
        "  --enable-metrics[=BOOL]     serve them (default true; BOOL: true/false, 1/0, yes/no,\n"
        "                              on/off; the '=' is required)\n"
        "  --no-metrics                the same as --enable-metrics=false\n"
        "  --cert FILE --key FILE      TLS for the message server (PEM; both or neither)\n"
        "\n"
        "Load:\n"
        "  --clients N                 load-generator clients, 0..256 (default 8)\n"
        "  --rate R                    requests per second per client, 0..1000 (default 5)\n"
        "  --request-timeout S         seconds a request may wait, 0.01..60 (default 1)\n"
        "  --heartbeat-interval S      seconds between heartbeats, 0.05..60 (default 1)\n"
        "\n"
        "Faults (rates are probabilities 0..1 unless said otherwise):\n"
        "  --encode-error-rate P       requests the encoder refuses (default 0.002)\n"
        "  --decode-error-rate P       requests and answers corrupted on the wire (default 0.002)\n"
        "  --slow-rate P               answers held back (default 0.02)\n"
        "  --slow-delay S              their mean delay in seconds, 0..60 (default 0.8)\n"
        "  --drop-heartbeat-rate P     heartbeats the server leaves unanswered (default 0.02)\n"
        "  --disconnect-rate R         abrupt disconnects per client per second, 0..100\n"
        "                              (default 0.01)\n"
        "  --no-faults                 every rate above 0 (except those given explicitly)\n"
        "\n"
        "Output and lifetime:\n"
        "  --snapshot-interval S       console snapshot every S seconds, 0..86400; 0: only the\n"
        "                              final one (default 10)\n"
        "  --scrape-interval S         self-scrape into the history store every S seconds,\n"
        "                              1..86400 (default 15)\n"
        "  --data-dir DIR              keep that history in DIR across restarts (default: in\n"
        "                              memory only)\n"
        "  --hooks MODE                log hook: lifecycle (default: connects, disconnects,\n"
        "                              reconnects, heartbeat timeouts, errors), all, or off\n"
        "  --quiet-hooks               the same as --hooks off\n"
        "  --duration S                stop after S seconds; 0: at SIGINT/SIGTERM (default 0)\n"
        "  --seed N                    random seed for the load and the faults (default: time)\n"
        "  --help                      this text\n",
        out);
}

static void defaults(demo_config *c)
{
    memset(c, 0, sizeof *c);
    c->addr = "127.0.0.1:7070";
    c->metrics = "127.0.0.1:9464";
    c->metrics_enabled = true;
    c->clients = 8;
    c->request_rate = 5;
    c->request_timeout = 1;
    c->heartbeat_interval = 1;
    c->snapshot_interval = 10;
    c->scrape_interval = 15;
    c->duration = 0;
    c->hooks = HOOKS_LIFECYCLE;
    faults_defaults(&c->faults);
}

/* Prints "vigil-demo: --flag: <what>" and the usage on stderr; returns 2. */
static int refuse(const char *flag, const char *fmt, const char *value)
{
    fprintf(stderr, "vigil-demo: %s: ", flag);
    fprintf(stderr, fmt, value);
    fputs("\n\n", stderr);
    flags_usage(stderr);
    return 2;
}

static int number(const char *flag, const char *text, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max) {
        char fmt[128];
        snprintf(fmt, sizeof fmt, "expected a number from %g to %g, got '%%s'", min, max);
        return refuse(flag, fmt, text);
    }
    *out = v;
    return -1;
}

static int whole(const char *flag, const char *text, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || v > max || text[0] == '-' || text[0] == '+' ||
        text[0] == ' ') {
        char fmt[128];
        snprintf(fmt, sizeof fmt, "expected a whole number from 0 to %u, got '%%s'", max);
        return refuse(flag, fmt, text);
    }
    *out = (unsigned)v;
    return -1;
}

static int boolean(const char *flag, const char *text, bool *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(text, yes[i]) == 0 || strcasecmp(text, no[i]) == 0) {
            *out = strcasecmp(text, yes[i]) == 0;
            return -1;
        }
    }
    return refuse(flag, "expected true/false, 1/0, yes/no or on/off, got '%s'", text);
}

static int address(const char *flag, const char *text, const char **out)
{
    char host[256], err[300];
    unsigned port;
    if (addr_split(text, host, sizeof host, &port, err, sizeof err) != 0)
        return refuse(flag, "%s", err);
    *out = text;
    return -1;
}

static int readable(const char *flag, const char *path, const char **out)
{
    if (access(path, R_OK) != 0) {
        char fmt[300];
        snprintf(fmt, sizeof fmt, "cannot read '%%s': %s", strerror(errno));
        return refuse(flag, fmt, path);
    }
    *out = path;
    return -1;
}

static int hooks(const char *flag, const char *text, hooks_mode *out)
{
    if (strcmp(text, "off") == 0)
        *out = HOOKS_OFF;
    else if (strcmp(text, "lifecycle") == 0)
        *out = HOOKS_LIFECYCLE;
    else if (strcmp(text, "all") == 0)
        *out = HOOKS_ALL;
    else
        return refuse(flag, "expected lifecycle, all or off, got '%s'", text);
    return -1;
}

static int seed(const char *flag, const char *text, demo_config *c)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end != '\0' || errno != 0 || text[0] == '-')
        return refuse(flag, "expected a whole number, got '%s'", text);
    c->seed = v;
    c->seed_given = true;
    return -1;
}

/* Bits of the fault flags given explicitly, which --no-faults leaves alone. */
enum {
    F_ENCODE = 1,
    F_DECODE = 2,
    F_SLOW = 4,
    F_DELAY = 8,
    F_HEARTBEAT = 16,
    F_DISCONNECT = 32,
};

static int fault(int opt, const char *flag, const char *text, demo_faults *f, unsigned *given)
{
    switch (opt) {
    case OPT_ENCODE_ERROR_RATE:
        *given |= F_ENCODE;
        return number(flag, text, 0, 1, &f->encode_error_rate);
    case OPT_DECODE_ERROR_RATE:
        *given |= F_DECODE;
        return number(flag, text, 0, 1, &f->decode_error_rate);
    case OPT_SLOW_RATE: *given |= F_SLOW; return number(flag, text, 0, 1, &f->slow_rate);
    case OPT_SLOW_DELAY: *given |= F_DELAY; return number(flag, text, 0, 60, &f->slow_delay);
    case OPT_DROP_HEARTBEAT_RATE:
        *given |= F_HEARTBEAT;
        return number(flag, text, 0, 1, &f->drop_heartbeat_rate);
    default: *given |= F_DISCONNECT; return number(flag, text, 0, 100, &f->disconnect_rate);
    }
}

static void no_faults(demo_faults *f, unsigned given)
{
    demo_faults zero;
    faults_none(&zero);
    if (!(given & F_ENCODE))
        f->encode_error_rate = zero.encode_error_rate;
    if (!(given & F_DECODE))
        f->decode_error_rate = zero.decode_error_rate;
    if (!(given & F_SLOW))
        f->slow_rate = zero.slow_rate;
    if (!(given & F_HEARTBEAT))
        f->drop_heartbeat_rate = zero.drop_heartbeat_rate;
    if (!(given & F_DISCONNECT))
        f->disconnect_rate = zero.disconnect_rate;
}

/* One option; -1 to go on, else the exit status. */
/* A data directory: created by the store if missing, so only an empty name is wrong here. */
static int directory(const char *flag, const char *arg, const char **out)
{
    if (arg[0] == '\0')
        return refuse(flag, "expected a directory name%s", "");
    *out = arg;
    return -1;
}

static int apply(int opt, const char *flag, const char *arg, demo_config *c, unsigned *given)
{
    switch (opt) {
    case OPT_ADDR: return address(flag, arg, &c->addr);
    case OPT_METRICS: return address(flag, arg, &c->metrics);
    case OPT_ENABLE_METRICS:
        if (arg == NULL) {
            c->metrics_enabled = true;
            return -1;
        }
        return boolean(flag, arg, &c->metrics_enabled);
    case OPT_NO_METRICS: c->metrics_enabled = false; return -1;
    case OPT_CERT: return readable(flag, arg, &c->cert);
    case OPT_KEY: return readable(flag, arg, &c->key);
    case OPT_CLIENTS: return whole(flag, arg, 256, &c->clients);
    case OPT_RATE: return number(flag, arg, 0, 1000, &c->request_rate);
    case OPT_REQUEST_TIMEOUT: return number(flag, arg, 0.01, 60, &c->request_timeout);
    case OPT_HEARTBEAT_INTERVAL: return number(flag, arg, 0.05, 60, &c->heartbeat_interval);
    case OPT_SNAPSHOT_INTERVAL: return number(flag, arg, 0, 86400, &c->snapshot_interval);
    case OPT_SCRAPE_INTERVAL: return number(flag, arg, 1, 86400, &c->scrape_interval);
    case OPT_DATA_DIR: return directory(flag, arg, &c->data_dir);
    case OPT_DURATION: return number(flag, arg, 0, 1e7, &c->duration);
    case OPT_HOOKS: return hooks(flag, arg, &c->hooks);
    case OPT_QUIET_HOOKS: c->hooks = HOOKS_OFF; return -1;
    case OPT_SEED: return seed(flag, arg, c);
    default: return fault(opt, flag, arg, &c->faults, given);
    }
}

/* The name of the option getopt just returned, for messages: "--clients". */
static const char *flag_name(int opt, char *buf, size_t cap)
{
    for (const struct option *o = options; o->name != NULL; o++)
        if (o->val == opt) {
            snprintf(buf, cap, "--%s", o->name);
            return buf;
        }
    return "?";
}

static int unknown(int argc, char **argv)
{
    const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
    fprintf(stderr, "vigil-demo: unknown option or missing value: '%s'\n\n", arg);
    flags_usage(stderr);
    return 2;
}

static int leftover(char **argv)
{
    fprintf(stderr, "vigil-demo: unexpected argument '%s'", argv[optind]);
    if (optind > 0 && strcmp(argv[optind - 1], "--enable-metrics") == 0)
        fprintf(stderr, " (write --enable-metrics=%s)", argv[optind]);
    fputs("\n\n", stderr);
    flags_usage(stderr);
    return 2;
}

static int finish(demo_config *c, unsigned given, bool want_no_faults)
{
    if (c->cert != NULL && !tls_available()) {
        fprintf(stderr, "vigil-demo: --cert: this vigil-demo was built without TLS (OpenSSL's "
                        "libssl-dev was missing when CMake ran)\n\n");
        flags_usage(stderr);
        return 2;
    }
    if ((c->cert == NULL) != (c->key == NULL)) {
        fprintf(stderr, "vigil-demo: %s: TLS needs both --cert and --key\n\n",
                c->cert ? "--cert" : "--key");
        flags_usage(stderr);
        return 2;
    }
    if (want_no_faults)
        no_faults(&c->faults, given);
    return -1;
}

int flags_parse(int argc, char **argv, demo_config *cfg)
{
    defaults(cfg);
    unsigned given = 0;
    bool want_no_faults = false;
    opterr = 0; /* our messages, not getopt's */
    optind = 1;
    int opt;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        char name[40];
        int rc;
        if (opt == OPT_HELP) {
            flags_usage(stdout);
            return 0;
        } else if (opt == OPT_NO_FAULTS) {
            want_no_faults = true;
            rc = -1;
        } else if (opt < OPT_ADDR) {
            return unknown(argc, argv);
        } else {
            rc = apply(opt, flag_name(opt, name, sizeof name), optarg, cfg, &given);
        }
        if (rc >= 0)
            return rc;
    }
    if (optind < argc)
        return leftover(argv);
    return finish(cfg, given, want_no_faults);
}
