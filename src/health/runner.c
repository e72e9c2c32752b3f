/* runner.c — the health runner: the list of checks, the scheduler thread that starts them on
 * their intervals and declares timeouts, the pool of worker threads that runs their callbacks,
 * the synchronous run_all/run_due, and the roll-up of results into one status.
 *
 * Why it is shaped so. A check callback is user code that may block forever (a database that
 * stopped answering, a lock held by a stuck thread), and nothing in C can interrupt it safely.
 * So the thread that keeps time (the scheduler) never runs a callback: it hands runs to workers
 * and, when a run passes its deadline, publishes a "timed out" result itself. The worker stays
 * with its callback; the check is not started again until that run returns, so a hung check
 * holds exactly one worker, never more. The pool grows on demand (a queued run and no idle
 * worker starts a thread) up to max_workers, and since each check has at most one run in
 * flight, a runner with fewer checks than max_workers can never be starved by hung checks.
 * Workers do not shrink: the pool's size is the peak number of concurrent runs, which is small.
 *
 * Ownership. The runner struct is reference-counted: the handle holds one reference and every
 * worker thread one. vigil_health_runner_stop joins every worker it can (idle ones, and busy
 * ones whose run returns before its deadline) and detaches the ones still inside a callback past
 * its deadline ("abandoned"). An abandoned worker, when its callback finally returns, records
 * the result, frees its check if the check was removed meanwhile, drops its reference and exits;
 * the last reference frees the runner. Nothing leaks unless a callback never returns, and then
 * only that check, its user data and the runner's bookkeeping stay allocated.
 *
 * Timing uses the monotonic clock (condition variables are set to CLOCK_MONOTONIC); results
 * carry wall-clock timestamps for display. */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "health/health_int.h"

#define DEFAULT_MAX_WORKERS 8u
#define MAX_WORKERS 256u
#define DEFAULT_INTERVAL 10.0
#define DEFAULT_TIMEOUT 5.0
#define MAX_SECONDS (366.0 * 86400.0) /* a year: larger is a mistake, and fits in ns */
#define SCHED_MAX_SLEEP_NS (60ull * 1000000000ull)
#define NS_PER_S 1e9

/* --- names and results ---------------------------------------------------------------------- */

VIGIL_API const char *vigil_health_status_name(vigil_health_status s)
{
    switch (s) {
    case VIGIL_HEALTH_HEALTHY: return "healthy";
    case VIGIL_HEALTH_DEGRADED: return "degraded";
    case VIGIL_HEALTH_UNHEALTHY: return "unhealthy";
    default: return "unknown";
    }
}

/* After a snprintf into buf (cap bytes) that wrote `want` bytes of output: if the text was cut,
 * drop a trailing incomplete UTF-8 sequence so that a cut never creates invalid UTF-8. */
static void cut_utf8(char *buf, size_t cap, int want)
{
    if (want < 0) {
        buf[0] = '\0';
        return;
    }
    if ((size_t)want < cap)
        return;
    size_t len = cap - 1;
    size_t i = len;
    while (i > 0 && len - i < 4 && ((unsigned char)buf[i - 1] & 0xC0) == 0x80)
        i--;
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)buf[i - 1];
    if (lead < 0x80)
        return; /* the cut came after an ASCII byte (and maybe stray continuation bytes) */
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len - (i - 1) < need)
        buf[i - 1] = '\0';
}

/* A name or key: 1..cap-1 bytes of valid UTF-8 without control characters. */
static bool good_text(const char *s, size_t cap)
{
    if (s == NULL)
        return false;
    size_t n = strnlen(s, cap);
    if (n == 0 || n >= cap || !vigil__utf8_valid(s, n))
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F)
            return false;
    }
    return true;
}

VIGIL_API void vigil_health_result_message(vigil_health_result *res, const char *fmt, ...)
{
    if (res == NULL || fmt == NULL)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(res->message, sizeof res->message, fmt, ap);
    va_end(ap);
    cut_utf8(res->message, sizeof res->message, n);
}

VIGIL_API vigil_status vigil_health_result_detail(vigil_health_result *res, const char *key,
                                                  const char *fmt, ...)
{
    if (res == NULL || fmt == NULL)
        return vigil__fail(VIGIL_EINVAL, "health detail: NULL argument");
    if (!good_text(key, VIGIL_HEALTH_KEY_SIZE))
        return vigil__fail(VIGIL_EINVAL,
                           "health detail key \"%.64s\": must be 1-%d bytes of "
                           "UTF-8 without control characters",
                           key ? key : "(null)", VIGIL_HEALTH_KEY_SIZE - 1);
    size_t i = 0;
    if (res->detail_count > VIGIL_HEALTH_MAX_DETAILS)
        res->detail_count = VIGIL_HEALTH_MAX_DETAILS;
    while (i < res->detail_count && strcmp(res->details[i].key, key) != 0)
        i++;
    if (i == VIGIL_HEALTH_MAX_DETAILS)
        return vigil__fail(VIGIL_ELIMIT, "health detail \"%s\": a result holds at most %d details",
                           key, VIGIL_HEALTH_MAX_DETAILS);
    vigil_health_detail *d = &res->details[i];
    char value[VIGIL_HEALTH_VALUE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    cut_utf8(value, sizeof value, n);
    if (i == res->detail_count) {
        strcpy(d->key, key); /* length checked by good_text */
        res->detail_count++;
    }
    memcpy(d->value, value, sizeof value);
    return VIGIL_OK;
}

/* Makes whatever a callback left in res safe to copy and print: terminated strings, a bounded
 * detail count. (Callbacks may write the fields directly instead of using the helpers.) */
static void seal_result(vigil_health_result *res)
{
    res->message[sizeof res->message - 1] = '\0';
    if (res->detail_count > VIGIL_HEALTH_MAX_DETAILS)
        res->detail_count = VIGIL_HEALTH_MAX_DETAILS;
    for (size_t i = 0; i < res->detail_count; i++) {
        res->details[i].key[sizeof res->details[i].key - 1] = '\0';
        res->details[i].value[sizeof res->details[i].value - 1] = '\0';
    }
}

/* --- options --------------------------------------------------------------------------------- */

VIGIL_API void vigil_health_check_opts_init(vigil_health_check_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->interval_seconds = DEFAULT_INTERVAL;
    o->timeout_seconds = DEFAULT_TIMEOUT;
    o->critical = true;
}

VIGIL_API void vigil_health_runner_opts_init(vigil_health_runner_opts *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof *o);
    o->max_workers = DEFAULT_MAX_WORKERS;
}

/* --- life cycle ------------------------------------------------------------------------------ */

static void destroy(vigil_health_runner *r)
{
    pthread_cond_destroy(&r->sched_cond);
    pthread_cond_destroy(&r->work_cond);
    pthread_cond_destroy(&r->done_cond);
    pthread_mutex_destroy(&r->lock);
    vigil__free(r);
}

static void free_check(vigil__check *c)
{
    if (c->free_user != NULL)
        c->free_user(c->user);
    vigil__free(c);
}

VIGIL_API vigil_status vigil_health_runner_new(const vigil_health_runner_opts *opts,
                                               vigil_health_runner **out)
{
    if (out == NULL)
        return vigil__fail(VIGIL_EINVAL, "health runner: out is NULL");
    *out = NULL;
    vigil_health_runner_opts o;
    if (opts != NULL)
        o = *opts;
    else
        vigil_health_runner_opts_init(&o);
    if (o.max_workers == 0 || o.max_workers > MAX_WORKERS)
        return vigil__fail(VIGIL_EINVAL, "health runner: max_workers must be 1-%u, not %u",
                           MAX_WORKERS, o.max_workers);
    vigil_health_runner *r = vigil__calloc(1, sizeof *r);
    if (r == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a health runner");
    pthread_condattr_t ca;
    bool ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        int m = pthread_mutex_init(&r->lock, NULL);
        int a = pthread_cond_init(&r->sched_cond, &ca);
        int b = pthread_cond_init(&r->work_cond, NULL);
        int c = pthread_cond_init(&r->done_cond, &ca);
        pthread_condattr_destroy(&ca);
        /* On Linux these cannot fail; were one to, destroying the others is safe there. */
        ok = m == 0 && a == 0 && b == 0 && c == 0;
        if (!ok) {
            if (m == 0)
                pthread_mutex_destroy(&r->lock);
            if (a == 0)
                pthread_cond_destroy(&r->sched_cond);
            if (b == 0)
                pthread_cond_destroy(&r->work_cond);
            if (c == 0)
                pthread_cond_destroy(&r->done_cond);
        }
    }
    if (!ok) {
        vigil__free(r);
        return vigil__fail(VIGIL_ENOMEM, "health runner: cannot create its lock");
    }
    r->max_workers = o.max_workers;
    r->refs = 1;
    *out = r;
    return VIGIL_OK;
}

static bool good_seconds(double s)
{
    return isfinite(s) && s > 0 && s <= MAX_SECONDS;
}

static uint64_t to_ns(double s)
{
    double ns = s * NS_PER_S;
    return ns < 1 ? 1 : (uint64_t)ns;
}

static vigil__check *find_check(const vigil_health_runner *r, const char *name)
{
    for (vigil__check *c = r->checks; c != NULL; c = c->next)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

VIGIL_API vigil_status vigil_health_runner_add(vigil_health_runner *r,
                                               const vigil_health_check_opts *o)
{
    if (r == NULL || o == NULL)
        return vigil__fail(VIGIL_EINVAL, "health check: NULL argument");
    if (!good_text(o->name, VIGIL_HEALTH_NAME_SIZE))
        return vigil__fail(VIGIL_EINVAL,
                           "health check name \"%.80s\": must be 1-%d bytes of UTF-8 "
                           "without control characters",
                           o->name ? o->name : "(null)", VIGIL_HEALTH_NAME_SIZE - 1);
    if (o->fn == NULL)
        return vigil__fail(VIGIL_EINVAL, "health check \"%s\": fn is NULL", o->name);
    if (!good_seconds(o->interval_seconds) || !good_seconds(o->timeout_seconds))
        return vigil__fail(VIGIL_EINVAL,
                           "health check \"%s\": interval (%g s) and timeout (%g s) "
                           "must be positive and at most a year",
                           o->name, o->interval_seconds, o->timeout_seconds);
    vigil__check *c = vigil__calloc(1, sizeof *c);
    if (c == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory adding health check \"%s\"", o->name);
    strcpy(c->name, o->name); /* length checked by good_text */
    c->fn = o->fn;
    c->user = o->user;
    c->free_user = o->free_user;
    c->interval_ns = to_ns(o->interval_seconds);
    c->timeout_ns = to_ns(o->timeout_seconds);
    c->critical = o->critical;
    c->result.status = VIGIL_HEALTH_UNKNOWN;

    vigil_status st = VIGIL_OK;
    pthread_mutex_lock(&r->lock);
    if (find_check(r, c->name) != NULL) {
        st = vigil__fail(VIGIL_EEXIST, "health check \"%s\" already exists", c->name);
    } else if (r->check_count >= VIGIL_HEALTH_MAX_CHECKS) {
        st = vigil__fail(VIGIL_ELIMIT, "health check \"%s\": a runner holds at most %d checks",
                         c->name, VIGIL_HEALTH_MAX_CHECKS);
    } else {
        c->next_due_ns = vigil__mono_ns();
        vigil__check **tail = &r->checks;
        while (*tail != NULL)
            tail = &(*tail)->next;
        *tail = c;
        r->check_count++;
        pthread_cond_signal(&r->sched_cond);
    }
    pthread_mutex_unlock(&r->lock);
    if (st != VIGIL_OK)
        vigil__free(c);
    return st;
}

VIGIL_API vigil_status vigil_health_runner_remove(vigil_health_runner *r, const char *name)
{
    if (r == NULL || name == NULL)
        return vigil__fail(VIGIL_EINVAL, "health check removal: NULL argument");
    vigil__check *to_free = NULL;
    pthread_mutex_lock(&r->lock);
    vigil__check **pp = &r->checks;
    while (*pp != NULL && strcmp((*pp)->name, name) != 0)
        pp = &(*pp)->next;
    vigil__check *c = *pp;
    if (c != NULL) {
        *pp = c->next;
        r->check_count--;
        c->removed = true;
        if (c->state == VIGIL__CHECK_QUEUED) { /* not started: take it out of the queue */
            vigil__check *prev = NULL;
            for (vigil__check *q = r->queue_head; q != NULL; prev = q, q = q->queue_next) {
                if (q != c)
                    continue;
                if (prev != NULL)
                    prev->queue_next = c->queue_next;
                else
                    r->queue_head = c->queue_next;
                if (r->queue_tail == c)
                    r->queue_tail = prev;
                r->queued--;
                break;
            }
            c->queue_next = NULL;
            c->state = VIGIL__CHECK_IDLE;
        }
        /* A reserved check is found again through the list by its run_all caller, which
         * will no longer see it; a running one is freed by the thread running it. */
        if (c->state != VIGIL__CHECK_RUNNING)
            to_free = c;
    }
    pthread_mutex_unlock(&r->lock);
    if (c == NULL)
        return vigil__fail(VIGIL_ENOTFOUND, "no health check \"%.80s\"", name);
    if (to_free != NULL)
        free_check(to_free);
    return VIGIL_OK;
}

VIGIL_API size_t vigil_health_runner_count(vigil_health_runner *r)
{
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->lock);
    size_t n = r->check_count;
    pthread_mutex_unlock(&r->lock);
    return n;
}

/* --- running one check ---------------------------------------------------------------------- */

/* Runs c's callback into res on the calling thread (no lock held). */
static void run_callback(const vigil__check *c, vigil_health_result *res)
{
    memset(res, 0, sizeof *res);
    res->status = VIGIL_HEALTH_UNKNOWN;
    res->timeout_seconds = (double)c->timeout_ns / NS_PER_S;
    uint64_t t0 = vigil__mono_ns();
    vigil_health_status s = c->fn(res, c->user);
    uint64_t t1 = vigil__mono_ns();
    seal_result(res);
    if ((unsigned)s > (unsigned)VIGIL_HEALTH_UNKNOWN) {
        vigil_health_result_message(res, "check returned an invalid status (%d)", (int)s);
        s = VIGIL_HEALTH_UNKNOWN;
    }
    res->status = s;
    res->duration_seconds = (double)(t1 - t0) / NS_PER_S;
    res->finished_ms = vigil__now_ms();
    res->timed_out = false;
    res->timeout_seconds = (double)c->timeout_ns / NS_PER_S;
}

/* Marks c as started now; caller holds the lock. */
static void begin_run(vigil__check *c, uint64_t now)
{
    c->state = VIGIL__CHECK_RUNNING;
    c->runs++;
    c->dispatched_ns = now;
    c->deadline_ns = now + c->timeout_ns;
    c->run_timed_out = false;
}

/* Records the run's result (it replaces a timeout result) and makes c startable again; returns
 * c when it was removed during the run and must now be freed (without the lock). Caller holds
 * the lock. */
static vigil__check *end_run(vigil_health_runner *r, vigil__check *c,
                             const vigil_health_result *res, uint64_t started)
{
    bool timed_out = c->run_timed_out;
    c->state = VIGIL__CHECK_IDLE;
    c->run_timed_out = false;
    pthread_cond_signal(&r->sched_cond);
    pthread_cond_broadcast(&r->done_cond);
    if (c->removed)
        return c;
    c->result = *res;
    c->has_result = true;
    /* Start to start, so a slow run that overran its interval is followed at once; but a run
     * that passed its timeout is followed only a full interval after it returned, so a
     * dependency that just came back from hanging is not hit again immediately, and its real
     * result stays visible for an interval. */
    c->next_due_ns = (timed_out ? vigil__mono_ns() : started) + c->interval_ns;
    return NULL;
}

/* Publishes the timeout result of c's current run; caller holds the lock. */
static void publish_timeout(vigil__check *c, uint64_t now)
{
    bool waiting = c->state == VIGIL__CHECK_QUEUED;
    c->run_timed_out = true;
    c->timeouts++;
    vigil_health_result *res = &c->result;
    memset(res, 0, sizeof *res);
    res->status = c->critical ? VIGIL_HEALTH_UNHEALTHY : VIGIL_HEALTH_DEGRADED;
    double t = (double)c->timeout_ns / NS_PER_S;
    if (waiting)
        vigil_health_result_message(res, "timed out after %g s waiting for a free worker", t);
    else
        vigil_health_result_message(res, "timed out after %g s", t);
    res->duration_seconds = (double)(now - c->dispatched_ns) / NS_PER_S;
    res->finished_ms = vigil__now_ms();
    res->timed_out = true;
    res->timeout_seconds = t;
    c->has_result = true;
}

/* --- workers --------------------------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    vigil__worker *w = arg;
    vigil_health_runner *r = w->runner;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        while (!r->stopping && !w->abandoned && r->queue_head == NULL)
            pthread_cond_wait(&r->work_cond, &r->lock);
        if (r->stopping || w->abandoned)
            break;
        vigil__check *c = r->queue_head;
        r->queue_head = c->queue_next;
        if (r->queue_head == NULL)
            r->queue_tail = NULL;
        c->queue_next = NULL;
        r->queued--;
        /* The deadline counts from when the run was queued, so waiting for a worker counts. */
        uint64_t queued_at = c->dispatched_ns;
        uint64_t started = vigil__mono_ns();
        begin_run(c, started);
        c->dispatched_ns = queued_at;
        c->deadline_ns = queued_at + c->timeout_ns;
        w->busy = true;
        w->current = c;
        r->busy_count++;
        pthread_mutex_unlock(&r->lock);

        run_callback(c, &w->scratch);

        pthread_mutex_lock(&r->lock);
        w->busy = false;
        w->current = NULL;
        if (!w->abandoned)
            r->busy_count--;
        vigil__check *dead = end_run(r, c, &w->scratch, started);
        if (dead != NULL) {
            pthread_mutex_unlock(&r->lock);
            free_check(dead);
            pthread_mutex_lock(&r->lock);
        }
    }
    w->exited = true;
    bool self_free = w->abandoned;
    if (self_free) {
        vigil__worker **pp = &r->workers;
        while (*pp != w)
            pp = &(*pp)->next;
        *pp = w->next;
    } else {
        r->worker_count--;
    }
    bool last = --r->refs == 0;
    pthread_cond_broadcast(&r->done_cond);
    pthread_mutex_unlock(&r->lock);
    if (self_free)
        vigil__free(w);
    if (last)
        destroy(r);
    return NULL;
}

/* Starts workers while queued runs outnumber idle workers, up to max_workers. A failed
 * pthread_create leaves the run queued: it is reported as timed out if no worker frees up.
 * Called by the scheduler (whose signal mask the workers inherit) with the lock held. */
static void grow_pool(vigil_health_runner *r)
{
    while (r->queued > r->worker_count - r->busy_count && r->worker_count < r->max_workers) {
        vigil__worker *w = vigil__calloc(1, sizeof *w);
        if (w == NULL)
            return;
        w->runner = r;
        if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            vigil__free(w);
            return;
        }
        w->next = r->workers;
        r->workers = w;
        r->worker_count++;
        r->refs++;
    }
}

/* --- the scheduler ---------------------------------------------------------------------------- */

static void wait_until(pthread_cond_t *cv, pthread_mutex_t *m, uint64_t mono_ns)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(mono_ns / 1000000000u);
    ts.tv_nsec = (long)(mono_ns % 1000000000u);
    (void)pthread_cond_timedwait(cv, m, &ts);
}

static void *scheduler_main(void *arg)
{
    vigil_health_runner *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        uint64_t now = vigil__mono_ns();
        uint64_t wake = now + SCHED_MAX_SLEEP_NS;
        bool queued = false;
        for (vigil__check *c = r->checks; c != NULL; c = c->next) {
            if (c->state == VIGIL__CHECK_IDLE) {
                if (c->next_due_ns <= now) {
                    c->state = VIGIL__CHECK_QUEUED;
                    c->dispatched_ns = now;
                    c->deadline_ns = now + c->timeout_ns;
                    c->run_timed_out = false;
                    c->queue_next = NULL;
                    if (r->queue_tail != NULL)
                        r->queue_tail->queue_next = c;
                    else
                        r->queue_head = c;
                    r->queue_tail = c;
                    r->queued++;
                    queued = true;
                } else if (c->next_due_ns < wake) {
                    wake = c->next_due_ns;
                }
            }
            if ((c->state == VIGIL__CHECK_QUEUED || c->state == VIGIL__CHECK_RUNNING) &&
                !c->run_timed_out) {
                if (c->deadline_ns <= now)
                    publish_timeout(c, now);
                else if (c->deadline_ns < wake)
                    wake = c->deadline_ns;
            }
        }
        if (queued) {
            grow_pool(r);
            pthread_cond_broadcast(&r->work_cond);
        }
        if (!r->stopping)
            wait_until(&r->sched_cond, &r->lock, wake);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

VIGIL_API vigil_status vigil_health_runner_start(vigil_health_runner *r)
{
    if (r == NULL)
        return vigil__fail(VIGIL_EINVAL, "health runner is NULL");
    pthread_mutex_lock(&r->lock);
    if (r->running) {
        pthread_mutex_unlock(&r->lock);
        return vigil__fail(VIGIL_ESTATE, "health runner is already running");
    }
    /* Runner threads take no asynchronous signals (the program's threads handle those);
     * faults stay deliverable so that crashes and sanitizer reports work as usual. */
    sigset_t all, old;
    sigfillset(&all);
    const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGABRT, SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        sigdelset(&all, faults[i]);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r->stopping = false;
    int rc = pthread_create(&r->scheduler, NULL, scheduler_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc == 0)
        r->running = true;
    pthread_mutex_unlock(&r->lock);
    if (rc != 0)
        return vigil__fail(VIGIL_EIO, "health runner: cannot start its scheduler thread (error %d)",
                           rc);
    return VIGIL_OK;
}

VIGIL_API void vigil_health_runner_stop(vigil_health_runner *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    if (!r->running || r->stopping) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    r->stopping = true;
    while (r->queue_head != NULL) { /* queued runs never started: drop them */
        vigil__check *c = r->queue_head;
        r->queue_head = c->queue_next;
        c->queue_next = NULL;
        c->state = VIGIL__CHECK_IDLE;
        c->run_timed_out = false;
    }
    r->queue_tail = NULL;
    r->queued = 0;
    pthread_cond_broadcast(&r->sched_cond);
    pthread_cond_broadcast(&r->work_cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->scheduler, NULL);

    /* Wait until every worker has left, except those inside a run past its deadline. A busy
     * worker's run is `current` (a removed check is no longer listed, so the list is no guide). */
    pthread_mutex_lock(&r->lock);
    for (;;) {
        uint64_t now = vigil__mono_ns();
        uint64_t wake = UINT64_MAX;
        bool waiting = false;
        for (vigil__worker *w = r->workers; w != NULL; w = w->next) {
            if (w->exited || w->abandoned)
                continue;
            if (!w->busy || w->current == NULL) {
                waiting = true; /* idle, on its way out */
            } else if (w->current->deadline_ns > now) {
                waiting = true;
                if (w->current->deadline_ns < wake)
                    wake = w->current->deadline_ns;
            }
        }
        if (!waiting)
            break;
        if (wake == UINT64_MAX)
            pthread_cond_wait(&r->done_cond, &r->lock);
        else
            wait_until(&r->done_cond, &r->lock, wake);
    }
    /* Join the workers that left; abandon the ones stuck in a callback. */
    vigil__worker *joinable = NULL;
    uint64_t now = vigil__mono_ns();
    vigil__worker **pp = &r->workers;
    while (*pp != NULL) {
        vigil__worker *w = *pp;
        if (w->exited) {
            *pp = w->next;
            w->next = joinable;
            joinable = w;
            continue;
        }
        if (!w->abandoned) {
            w->abandoned = true;
            r->worker_count--;
            if (w->busy)
                r->busy_count--;
            if (w->current != NULL && !w->current->run_timed_out && !w->current->removed)
                publish_timeout(w->current, now);
            pthread_detach(w->thread);
        }
        pp = &w->next;
    }
    r->running = false;
    r->stopping = false;
    pthread_mutex_unlock(&r->lock);
    while (joinable != NULL) {
        vigil__worker *w = joinable;
        joinable = w->next;
        pthread_join(w->thread, NULL);
        vigil__free(w);
    }
}

VIGIL_API void vigil_health_runner_free(vigil_health_runner *r)
{
    if (r == NULL)
        return;
    vigil_health_runner_stop(r);
    if (r->registry != NULL) {
        (void)vigil_registry_remove_collector(r->registry, "health");
        r->registry = NULL;
    }
    vigil__check *dead = NULL;
    pthread_mutex_lock(&r->lock);
    while (r->checks != NULL) {
        vigil__check *c = r->checks;
        r->checks = c->next;
        c->removed = true;
        if (c->state != VIGIL__CHECK_RUNNING) { /* running: its abandoned worker frees it */
            c->next = dead;
            dead = c;
        }
    }
    r->check_count = 0;
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    while (dead != NULL) {
        vigil__check *c = dead;
        dead = c->next;
        free_check(c);
    }
    if (last)
        destroy(r);
}

/* --- synchronous runs ------------------------------------------------------------------------ */

/* Reserves the checks to run (all idle ones, or the due ones) with a token unique to this call,
 * then runs them in list order, finding each again through the list: a check removed meanwhile
 * is freed by vigil_health_runner_remove and simply not found. */
static size_t run_sync(vigil_health_runner *r, bool due_only)
{
    if (r == NULL)
        return 0;
    char token; /* its address identifies this call's reservations */
    size_t ran = 0;
    pthread_mutex_lock(&r->lock);
    uint64_t now = vigil__mono_ns();
    for (vigil__check *c = r->checks; c != NULL; c = c->next) {
        if (c->state == VIGIL__CHECK_IDLE && (!due_only || c->next_due_ns <= now)) {
            c->state = VIGIL__CHECK_RESERVED;
            c->reserved_by = &token;
        }
    }
    for (;;) {
        vigil__check *c = r->checks;
        while (c != NULL && !(c->state == VIGIL__CHECK_RESERVED && c->reserved_by == &token))
            c = c->next;
        if (c == NULL)
            break;
        c->reserved_by = NULL;
        uint64_t started = vigil__mono_ns();
        begin_run(c, started);
        pthread_mutex_unlock(&r->lock);

        vigil_health_result res;
        run_callback(c, &res);

        pthread_mutex_lock(&r->lock);
        vigil__check *dead = end_run(r, c, &res, started);
        ran++;
        if (dead != NULL) {
            pthread_mutex_unlock(&r->lock);
            free_check(dead);
            pthread_mutex_lock(&r->lock);
        }
    }
    pthread_mutex_unlock(&r->lock);
    return ran;
}

VIGIL_API size_t vigil_health_runner_run_all(vigil_health_runner *r)
{
    return run_sync(r, false);
}

VIGIL_API size_t vigil_health_runner_run_due(vigil_health_runner *r)
{
    return run_sync(r, true);
}

/* --- roll-up and reads ------------------------------------------------------------------------ */

vigil_health_status vigil__health_rollup(const vigil_health_runner *r, bool *ready, char *why,
                                         size_t cap)
{
    bool any_result = false, critical_down = false, not_healthy = false;
    const vigil__check *pending = NULL; /* a critical check without a result */
    for (const vigil__check *c = r->checks; c != NULL; c = c->next) {
        vigil_health_status s = c->has_result ? c->result.status : VIGIL_HEALTH_UNKNOWN;
        any_result = any_result || c->has_result;
        if (c->critical && s == VIGIL_HEALTH_UNHEALTHY)
            critical_down = true;
        if (s != VIGIL_HEALTH_HEALTHY)
            not_healthy = true;
        if (c->critical && !c->has_result && pending == NULL)
            pending = c;
    }
    vigil_health_status overall;
    if (r->checks == NULL)
        overall = VIGIL_HEALTH_HEALTHY;
    else if (!any_result)
        overall = VIGIL_HEALTH_UNKNOWN;
    else if (critical_down)
        overall = VIGIL_HEALTH_UNHEALTHY;
    else if (not_healthy)
        overall = VIGIL_HEALTH_DEGRADED;
    else
        overall = VIGIL_HEALTH_HEALTHY;
    bool ok =
        (overall == VIGIL_HEALTH_HEALTHY || overall == VIGIL_HEALTH_DEGRADED) && pending == NULL;
    if (ready != NULL)
        *ready = ok;
    if (why != NULL && cap > 0) {
        why[0] = '\0';
        if (overall == VIGIL_HEALTH_UNKNOWN)
            snprintf(why, cap, "no check has a result yet");
        else if (overall == VIGIL_HEALTH_UNHEALTHY)
            snprintf(why, cap, "status is unhealthy: a critical check is failing");
        else if (pending != NULL)
            snprintf(why, cap, "critical check \"%s\" has no result yet", pending->name);
    }
    return overall;
}

VIGIL_API vigil_health_status vigil_health_runner_status(vigil_health_runner *r)
{
    if (r == NULL)
        return VIGIL_HEALTH_UNKNOWN;
    pthread_mutex_lock(&r->lock);
    vigil_health_status s = vigil__health_rollup(r, NULL, NULL, 0);
    pthread_mutex_unlock(&r->lock);
    return s;
}

VIGIL_API bool vigil_health_runner_ready(vigil_health_runner *r, vigil_health_status *overall,
                                         char *why, size_t cap)
{
    if (r == NULL) {
        if (overall != NULL)
            *overall = VIGIL_HEALTH_UNKNOWN;
        if (why != NULL && cap > 0)
            snprintf(why, cap, "no health runner");
        return false;
    }
    bool ready;
    pthread_mutex_lock(&r->lock);
    vigil_health_status s = vigil__health_rollup(r, &ready, why, cap);
    pthread_mutex_unlock(&r->lock);
    if (overall != NULL)
        *overall = s;
    return ready;
}

void vigil__health_check_info(const vigil__check *c, vigil_health_check_info *out)
{
    memcpy(out->name, c->name, sizeof out->name);
    out->critical = c->critical;
    out->interval_seconds = (double)c->interval_ns / NS_PER_S;
    out->timeout_seconds = (double)c->timeout_ns / NS_PER_S;
    out->runs = c->runs;
    out->timeouts = c->timeouts;
    out->running = c->state == VIGIL__CHECK_QUEUED || c->state == VIGIL__CHECK_RUNNING;
    out->has_result = c->has_result;
    if (c->has_result) {
        out->result = c->result;
    } else {
        memset(&out->result, 0, sizeof out->result);
        out->result.status = VIGIL_HEALTH_UNKNOWN;
        out->result.timeout_seconds = out->timeout_seconds;
    }
}

VIGIL_API vigil_status vigil_health_runner_check(vigil_health_runner *r, const char *name,
                                                 vigil_health_check_info *out)
{
    if (r == NULL || name == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "health check info: NULL argument");
    pthread_mutex_lock(&r->lock);
    const vigil__check *c = find_check(r, name);
    if (c != NULL)
        vigil__health_check_info(c, out);
    pthread_mutex_unlock(&r->lock);
    if (c == NULL)
        return vigil__fail(VIGIL_ENOTFOUND, "no health check \"%.80s\"", name);
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_health_runner_register_metrics(vigil_health_runner *r,
                                                            vigil_registry *reg)
{
    if (r == NULL || reg == NULL)
        return vigil__fail(VIGIL_EINVAL, "health metrics: NULL argument");
    pthread_mutex_lock(&r->lock);
    bool taken = r->registry != NULL;
    pthread_mutex_unlock(&r->lock);
    if (taken)
        return vigil__fail(VIGIL_ESTATE, "health runner's metrics are already registered");
    vigil_status st = vigil_registry_add_collector(reg, "health", vigil__health_collect, r);
    if (st == VIGIL_EEXIST)
        return vigil__fail(VIGIL_EEXIST, "the registry already has a \"health\" collector "
                                         "(another health runner's)");
    if (st != VIGIL_OK)
        return st;
    pthread_mutex_lock(&r->lock);
    r->registry = reg;
    pthread_mutex_unlock(&r->lock);
    return VIGIL_OK;
}

/* --- built-in checks' registration -------------------------------------------------------- */

vigil_status vigil__health_add_builtin(vigil_health_runner *r, const vigil_health_check_opts *check,
                                       const char *default_name, vigil_health_fn fn, void *state,
                                       void (*free_state)(void *))
{
    vigil_health_check_opts o;
    if (check != NULL)
        o = *check;
    else
        vigil_health_check_opts_init(&o);
    if (o.name == NULL)
        o.name = default_name;
    o.fn = fn;
    o.user = state;
    o.free_user = free_state;
    vigil_status st = vigil_health_runner_add(r, &o);
    if (st != VIGIL_OK)
        free_state(state);
    return st;
}
