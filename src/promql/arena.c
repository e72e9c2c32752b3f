/* arena.c — blocks grow geometrically, so a query that allocates a lot makes few calls into
 * the vigil allocator; a request larger than a block gets a block of its own. */
#include "arena.h"

#include <stdalign.h>
#include <stdint.h>
#include <string.h>

#include "core/core_int.h"

struct pq_arena_block {
    pq_arena_block *next;
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

#define ARENA_FIRST_BLOCK 4096u
#define ARENA_MAX_BLOCK ((size_t)1 << 24)

void vigil__pq_arena_init(pq_arena *a)
{
    a->head = NULL;
    a->used_total = 0;
}

void vigil__pq_arena_free(pq_arena *a)
{
    pq_arena_block *b = a->head;
    while (b != NULL) {
        pq_arena_block *next = b->next;
        vigil__free(b);
        b = next;
    }
    vigil__pq_arena_init(a);
}

static pq_arena_block *arena_grow(pq_arena *a, size_t need)
{
    size_t size = a->head == NULL ? ARENA_FIRST_BLOCK : a->head->size * 2;
    if (size > ARENA_MAX_BLOCK)
        size = ARENA_MAX_BLOCK;
    if (size < need)
        size = need;
    if (size > SIZE_MAX - sizeof(pq_arena_block))
        return NULL;
    pq_arena_block *b = vigil__malloc(sizeof *b + size);
    if (b == NULL)
        return NULL;
    b->size = size;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    return b;
}

void *vigil__pq_alloc(pq_arena *a, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX - align)
        return NULL;
    size = (size + align - 1) & ~(align - 1);
    if (size == 0)
        size = align;
    pq_arena_block *b = a->head;
    if (b == NULL || b->size - b->used < size) {
        b = arena_grow(a, size);
        if (b == NULL)
            return NULL;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->used_total += size;
    return p;
}

void *vigil__pq_calloc(pq_arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = vigil__pq_alloc(a, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

char *vigil__pq_strndup(pq_arena *a, const char *s, size_t n)
{
    char *p = vigil__pq_alloc(a, n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

char *vigil__pq_strdup(pq_arena *a, const char *s)
{
    return vigil__pq_strndup(a, s, strlen(s));
}
