/* health_test.h — helpers the health tests share: a scripted check whose status the test sets,
 * a gate check that blocks until the test releases it (a hung check on demand), polling with a
 * deadline, and a JSON validator that runs the document through Python's json module.
 * Header-only and static; include after <cmocka.h>. */
#ifndef VIGIL_HEALTH_TEST_H
#define VIGIL_HEALTH_TEST_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vigil/health.h"

static inline double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Polls `cond` every 5 ms for up to `secs` seconds; the caller asserts it afterwards. Waits are
 * generous (they only bound a failure), never a timing assertion. */
#define WAIT_FOR(cond, secs)                      \
    do {                                          \
        double wait_end_ = mono_now() + (secs);   \
        while (!(cond) && mono_now() < wait_end_) \
            usleep(5000);                         \
    } while (0)

/* --- a check that returns what the test says --- */
typedef struct scripted {
    _Atomic int status; /* a vigil_health_status */
    atomic_int runs;
    const char *message;
} scripted;

static inline vigil_health_status scripted_fn(vigil_health_result *res, void *user)
{
    scripted *s = user;
    atomic_fetch_add(&s->runs, 1);
    if (s->message != NULL)
        vigil_health_result_message(res, "%s", s->message);
    return (vigil_health_status)atomic_load(&s->status);
}

/* --- a check that blocks until released --- */
typedef struct gate {
    pthread_mutex_t m;
    pthread_cond_t c;
    bool released;
    atomic_int entered;
    atomic_int returned;
    atomic_int freed; /* free_user was called */
} gate;

static inline void gate_init(gate *g)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->m, NULL);
    pthread_cond_init(&g->c, NULL);
}

static inline void gate_release(gate *g)
{
    pthread_mutex_lock(&g->m);
    g->released = true;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
}

static inline void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->c);
    pthread_mutex_destroy(&g->m);
}

static inline vigil_health_status gate_fn(vigil_health_result *res, void *user)
{
    gate *g = user;
    atomic_fetch_add(&g->entered, 1);
    pthread_mutex_lock(&g->m);
    while (!g->released)
        pthread_cond_wait(&g->c, &g->m);
    pthread_mutex_unlock(&g->m);
    vigil_health_result_message(res, "real result");
    atomic_fetch_add(&g->returned, 1);
    return VIGIL_HEALTH_HEALTHY;
}

static inline void gate_free_user(void *user)
{
    atomic_fetch_add(&((gate *)user)->freed, 1);
}

static inline void add_check(vigil_health_runner *r, const char *name, vigil_health_fn fn,
                             void *user, bool critical, double interval, double timeout)
{
    vigil_health_check_opts o;
    vigil_health_check_opts_init(&o);
    o.name = name;
    o.fn = fn;
    o.user = user;
    o.critical = critical;
    o.interval_seconds = interval;
    o.timeout_seconds = timeout;
    if (vigil_health_runner_add(r, &o) != VIGIL_OK)
        fail_msg("add check %s: %s", name, vigil_errmsg());
}

static inline vigil_health_check_info info_of(vigil_health_runner *r, const char *name)
{
    vigil_health_check_info info;
    if (vigil_health_runner_check(r, name, &info) != VIGIL_OK)
        fail_msg("check %s: %s", name, vigil_errmsg());
    return info;
}

/* Runs `script` (Python, reading the document as `doc`) on json, which must parse; the script
 * asserts what it wants. Skips (returns true) when /usr/bin/python3 is missing. */
static inline bool json_ok(const char *json, size_t len, const char *script)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        print_message("/usr/bin/python3 not found: JSON check skipped\n");
        return true;
    }
    FILE *f = fopen("check_json.py", "w");
    if (f == NULL)
        return false;
    fprintf(f, "import json, sys\ndoc = json.load(sys.stdin)\n%s\n", script ? script : "");
    fclose(f);
    FILE *p = popen("/usr/bin/python3 check_json.py", "w");
    if (p == NULL)
        return false;
    fwrite(json, 1, len, p);
    int rc = pclose(p);
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)) {
        print_message("JSON check failed on:\n%.*s\n", (int)len, json);
        return false;
    }
    return true;
}

#endif
