/* flags.h — the demo's command line: every flag, its default and its valid range, checked
 * before anything starts. */
#ifndef DEMO_FLAGS_H
#define DEMO_FLAGS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "faults.h"

typedef enum hooks_mode {
    HOOKS_OFF = 0,       /* no log hook */
    HOOKS_LIFECYCLE = 1, /* connects, disconnects, reconnects, heartbeat timeouts, errors */
    HOOKS_ALL = 2,       /* every event, messages and heartbeats included */
} hooks_mode;

typedef struct demo_config {
    const char *addr;    /* message server, HOST:PORT */
    const char *metrics; /* metrics endpoint, HOST:PORT */
    bool metrics_enabled;
    const char *cert; /* NULL: plain TCP */
    const char *key;
    unsigned clients;
    double request_rate;       /* per client per second */
    double request_timeout;    /* seconds */
    double heartbeat_interval; /* seconds */
    double snapshot_interval;  /* seconds; 0: only the final snapshot */
    double scrape_interval;    /* seconds between self-scrapes into the history store */
    const char *data_dir;      /* keep that history on disk; NULL: in memory */
    double duration;           /* seconds; 0: until SIGINT/SIGTERM */
    hooks_mode hooks;
    demo_faults faults;
    uint64_t seed;
    bool seed_given;
} demo_config;

/* Fills cfg from argv (defaults for what is not given). Returns -1 when the demo should run,
 * else the exit status: 0 after --help (usage on stdout), 2 after a bad command line (the
 * error and the usage on stderr). */
int flags_parse(int argc, char **argv, demo_config *cfg);

/* The usage text. */
void flags_usage(FILE *out);

#endif
