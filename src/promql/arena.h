/* arena.h — a bump allocator for everything one query owns (syntax tree, label sets, strings,
 * intermediate values). A query frees it all at once; nothing inside is freed one by one. */
#ifndef VIGIL_PROMQL_ARENA_H
#define VIGIL_PROMQL_ARENA_H

#include <stddef.h>

typedef struct pq_arena_block pq_arena_block;

typedef struct pq_arena {
    pq_arena_block *head;
    size_t used_total; /* bytes handed out, for limits and statistics */
} pq_arena;

void vigil__pq_arena_init(pq_arena *a);
void vigil__pq_arena_free(pq_arena *a);
/* size bytes aligned for any type; NULL when out of memory. */
void *vigil__pq_alloc(pq_arena *a, size_t size);
/* Zeroed n * size bytes (overflow-checked). */
void *vigil__pq_calloc(pq_arena *a, size_t n, size_t size);
char *vigil__pq_strdup(pq_arena *a, const char *s);
char *vigil__pq_strndup(pq_arena *a, const char *s, size_t n);

#endif
