/* load_fixture.c — a process that updates metrics hard while it is scraped, for the test
 * integration/http_survives_32_scrapers_during_updates_and_churn (load_scrapers.py drives it).
 *
 *   vigil-integ-load-fixture [N]
 *
 * Brings monitoring up with vigil_start on 127.0.0.1 (port 0) over a registry of its own, prints
 * "URL http://127.0.0.1:PORT/metrics", and waits for a line on stdin, so that the scrapers are
 * already running when the updates begin. Then:
 *   - two threads each add 1 to integ_load_increments_total exactly N times (default 3,000,000),
 *     sleeping 10 ms after every 10,000, so the updates last about 3 s whatever the machine;
 *   - one thread churns integ_load_churn_total{key}: it creates a child, increments it, and
 *     removes the child created CHURN_WINDOW steps earlier, cycling through CHURN_KEYS distinct
 *     label values, until the incrementers finish.
 * Then it prints "CHURN steps=S created=C removed=R errors=E refused=F live=L" and "DONE <2N>"
 * and serves until stdin reaches end of file. Exit status 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigil.h>

#define CHURN_WINDOW 200 /* children alive at once in the churn family */
#define CHURN_KEYS 20000 /* distinct label values cycled through */
#define CHURN_MAX_CHILDREN 1000

static uint64_t per_thread = 3000000;
static atomic_bool incrementing_done;

typedef struct churn_stats {
    uint64_t steps, created, removed, errors;
} churn_stats;

static void *incrementer(void *arg)
{
    vigil_counter *c = arg;
    for (uint64_t i = 1; i <= per_thread; i++) {
        vigil_counter_inc(c);
        if (i % 10000 == 0)
            usleep(10000);
    }
    return NULL;
}

static void key_of(uint64_t step, char *out, size_t cap)
{
    snprintf(out, cap, "k%05" PRIu64, step % CHURN_KEYS);
}

static void *churner(void *arg)
{
    vigil_family *fam = arg;
    static churn_stats s;
    char key[32], old[32];
    while (!atomic_load(&incrementing_done)) {
        key_of(s.steps, key, sizeof key);
        const char *v[1] = {key};
        vigil_counter *c;
        vigil_status st = vigil_family_counter(fam, 1, v, &c);
        if (st == VIGIL_OK) {
            s.created++;
            vigil_counter_add_u64(c, 1 + s.steps % 7);
        } else {
            if (s.errors < 5)
                fprintf(stderr, "load_fixture: vigil_family_counter(%s): %s (%s)\n", key,
                        vigil_strerror(st), vigil_errmsg());
            s.errors++;
        }
        if (s.steps >= CHURN_WINDOW) {
            key_of(s.steps - CHURN_WINDOW, old, sizeof old);
            const char *ov[1] = {old};
            st = vigil_family_remove(fam, 1, ov);
            if (st == VIGIL_OK) {
                s.removed++;
            } else {
                if (s.errors < 5)
                    fprintf(stderr, "load_fixture: vigil_family_remove(%s): %s (%s)\n", old,
                            vigil_strerror(st), vigil_errmsg());
                s.errors++;
            }
        }
        s.steps++;
        if (s.steps % 16 == 0)
            usleep(50);
    }
    return &s;
}

static _Noreturn void fail(const char *what, vigil_status st)
{
    fprintf(stderr, "load_fixture: %s: %s (%s)\n", what, vigil_strerror(st), vigil_errmsg());
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc > 2 || (argc == 2 && (per_thread = strtoull(argv[1], NULL, 10)) == 0)) {
        fprintf(stderr, "usage: %s [INCREMENTS_PER_THREAD]\n", argv[0]);
        return 2;
    }
    vigil_registry *reg;
    vigil_status st = vigil_registry_new(&reg);
    if (st != VIGIL_OK)
        fail("vigil_registry_new", st);

    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = "integ_load_increments_total";
    o.help = "Increments made by the two incrementer threads.";
    vigil_counter *shared;
    if ((st = vigil_counter_new(reg, &o, &shared)) != VIGIL_OK)
        fail("vigil_counter_new", st);

    const char *churn_labels[] = {"key"};
    vigil_metric_opts_init(&o);
    o.name = "integ_load_churn_total";
    o.help = "Children created and removed continuously while scrapes run.";
    o.label_names = churn_labels;
    o.label_count = 1;
    o.max_children = CHURN_MAX_CHILDREN;
    vigil_family *churn;
    if ((st = vigil_family_new(reg, VIGIL_COUNTER, &o, &churn)) != VIGIL_OK)
        fail("vigil_family_new", st);

    vigil_options opts;
    vigil_options_init(&opts);
    opts.registry = reg;
    opts.metrics_addr = "127.0.0.1:0";
    vigil_runtime *rt;
    if ((st = vigil_start(&opts, &rt)) != VIGIL_OK)
        fail("vigil_start", st);
    printf("URL %s\n", vigil_runtime_metrics_url(rt));
    fflush(stdout);

    /* Wait for the go line (end of file means the driver gave up). */
    char line[64];
    if (fgets(line, sizeof line, stdin) == NULL) {
        vigil_stop(rt);
        vigil_registry_free(reg);
        return 1;
    }

    pthread_t inc[2], ch;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&inc[i], NULL, incrementer, shared) != 0) {
            fprintf(stderr, "load_fixture: pthread_create failed\n");
            return 1;
        }
    if (pthread_create(&ch, NULL, churner, churn) != 0) {
        fprintf(stderr, "load_fixture: pthread_create failed\n");
        return 1;
    }
    for (int i = 0; i < 2; i++)
        pthread_join(inc[i], NULL);
    atomic_store(&incrementing_done, true);
    void *res;
    pthread_join(ch, &res);
    const churn_stats *s = res;

    printf("CHURN steps=%" PRIu64 " created=%" PRIu64 " removed=%" PRIu64 " errors=%" PRIu64
           " refused=%" PRIu64 " live=%zu\n",
           s->steps, s->created, s->removed, s->errors, vigil_family_refused(churn),
           vigil_family_child_count(churn));
    printf("VALUE %.17g\n", vigil_counter_value(shared));
    printf("DONE %" PRIu64 "\n", 2 * per_thread);
    fflush(stdout);

    char buf[256];
    ssize_t r;
    while ((r = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (r < 0 && errno != EINTR)
            break;
    }
    vigil_stop(rt);
    vigil_registry_free(reg);
    return 0;
}
