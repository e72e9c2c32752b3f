/* failing_alloc.h — curl's torture mode for the tests: an allocator for vigil_set_allocator that
 * fails after a budget of allocations (once, or from then on) and counts what is still live,
 * so a test can run a scenario with N = 0, 1, 2, ... allowed allocations and check that every
 * failure surfaces as VIGIL_ENOMEM and nothing leaks. One injector per test process. */
#ifndef VIGIL_FAILING_ALLOC_H
#define VIGIL_FAILING_ALLOC_H

#include <stdbool.h>
#include <stdlib.h>

#include "vigil/alloc.h"

typedef struct injector {
    long budget;     /* allocations left before failing; -1: never fail */
    bool persistent; /* keep failing once the budget is spent (else only the one call fails) */
    size_t live;     /* allocations not yet freed */
    size_t failed;   /* allocations refused */
} injector;

static injector inj = {.budget = -1};

static inline bool refuse(void)
{
    if (inj.budget < 0)
        return false;
    if (inj.budget == 0) {
        inj.failed++;
        if (!inj.persistent)
            inj.budget = -1;
        return true;
    }
    inj.budget--;
    return false;
}

static inline void *inj_malloc(size_t n, void *user)
{
    (void)user;
    if (refuse())
        return NULL;
    void *p = malloc(n);
    if (p != NULL)
        inj.live++;
    return p;
}

static inline void *inj_realloc(void *p, size_t n, void *user)
{
    (void)user;
    if (refuse())
        return NULL;
    void *q = realloc(p, n);
    if (q != NULL && p == NULL)
        inj.live++;
    return q;
}

static inline void inj_free(void *p, void *user)
{
    (void)user;
    if (p != NULL)
        inj.live--;
    free(p);
}

#endif
