/* health_int.h — what the health module's files share: the runner and check structs (runner.c
 * owns their life cycle and threads; report.c reads them for the JSON report and the metrics;
 * builtin.c and probe.c never touch them: they register their checks through
 * vigil__health_add_builtin). Nothing here is exported from the shared object.
 *
 * Locking: one mutex per runner (`lock`) guards every field marked "lock" below, in the runner
 * and in its checks. It is held only to copy or publish a result and to move checks between
 * states, never while a check's callback runs, so readers never wait for a check. */
#ifndef VIGIL_HEALTH_INT_H
#define VIGIL_HEALTH_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core_int.h"
#include "vigil/health.h"

/* Where a check is in its cycle. Only IDLE checks are started; a check leaves RUNNING only when
 * its callback returns, however long after its timeout that is. */
typedef enum vigil__check_state {
    VIGIL__CHECK_IDLE = 0,
    VIGIL__CHECK_QUEUED,      /* waiting in the pool's queue for a worker */
    VIGIL__CHECK_RESERVED,    /* picked by run_all/run_due, waiting for its turn on the caller */
    VIGIL__CHECK_RUNNING,     /* its callback is executing (on a worker or a run_all caller) */
} vigil__check_state;

typedef struct vigil__check {
    struct vigil__check *next;        /* lock: the runner's list (registration order) */
    struct vigil__check *queue_next;  /* lock: the pool's queue */
    /* immutable after vigil_health_runner_add */
    char name[VIGIL_HEALTH_NAME_SIZE];
    vigil_health_fn fn;
    void *user;
    void (*free_user)(void *user);
    uint64_t interval_ns;
    uint64_t timeout_ns;
    bool critical;
    /* lock */
    vigil__check_state state;
    bool removed;                     /* unlisted; freed by whoever ends its current run */
    bool run_timed_out;               /* the current run's timeout result is published */
    const void *reserved_by;          /* RESERVED: the run_all call that reserved it */
    uint64_t next_due_ns;             /* monotonic time of the next start */
    uint64_t dispatched_ns;           /* when the current run was queued or started */
    uint64_t deadline_ns;             /* dispatched_ns + timeout_ns */
    uint64_t runs;
    uint64_t timeouts;
    bool has_result;
    vigil_health_result result;       /* the latest result */
} vigil__check;

typedef struct vigil__worker {
    struct vigil__worker *next;       /* lock: the runner's worker list */
    struct vigil_health_runner *runner;
    pthread_t thread;
    bool busy;                        /* lock: inside a callback */
    vigil__check *current;            /* lock: the check whose callback it runs, or NULL */
    bool exited;                      /* lock: left its loop; joinable */
    bool abandoned;                   /* lock: detached by stop; frees itself */
    vigil_health_result scratch;      /* the callback's result; only this worker's thread */
} vigil__worker;

struct vigil_health_runner {
    pthread_mutex_t lock;
    pthread_cond_t sched_cond;        /* the scheduler sleeps on it (CLOCK_MONOTONIC) */
    pthread_cond_t work_cond;         /* idle workers sleep on it */
    pthread_cond_t done_cond;         /* stop waits on it for workers to leave */
    unsigned max_workers;             /* immutable */
    /* lock */
    unsigned refs;                    /* the handle, plus one per worker thread alive; the last
                                         one to drop its reference frees the runner */
    vigil__check *checks;
    size_t check_count;
    vigil__check *queue_head, *queue_tail;
    size_t queued;
    vigil__worker *workers;
    unsigned worker_count;            /* workers not exited or abandoned */
    unsigned busy_count;              /* of those, inside a callback */
    bool running;                     /* the scheduler thread exists */
    bool stopping;                    /* stop in progress: scheduler and workers leave */
    pthread_t scheduler;
    vigil_registry *registry;         /* where the metrics collector is; NULL: none */
};

/* --- runner.c --- */
/* The rolled-up status and readiness from the checks' latest results; caller holds r->lock.
 * why (cap bytes, may be NULL) receives the reason when not ready. */
vigil_health_status vigil__health_rollup(const vigil_health_runner *r, bool *ready, char *why,
                                         size_t cap);

/* Copies what is known about c into out; caller holds r->lock. */
void vigil__health_check_info(const vigil__check *c, vigil_health_check_info *out);

/* --- report.c --- */
vigil_status vigil__health_collect(vigil_emitter *em, void *user);

/* --- builtin.c / probe.c: a check whose user data the runner frees with vigil__free --- */
vigil_status vigil__health_add_builtin(vigil_health_runner *r,
                                       const vigil_health_check_opts *check,
                                       const char *default_name, vigil_health_fn fn,
                                       void *state, void (*free_state)(void *));

#endif
