/* vigil/alloc.h — the allocator every vigil allocation goes through. A program may install its
 * own (an arena, a tracking allocator, a failure injector for tests) before it makes any other
 * vigil call. The hot path never allocates. */
#ifndef VIGIL_ALLOC_H
#define VIGIL_ALLOC_H

#include <stddef.h>

#include "vigil/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_allocator {
    void *(*malloc_fn)(size_t size, void *user);
    void *(*realloc_fn)(void *ptr, size_t size, void *user);
    void (*free_fn)(void *ptr, void *user);
    void *user;
} vigil_allocator;

/* Installs `a` (copied), or restores the C library's allocator when a is NULL. Must be called
 * before any other vigil call and never while vigil objects exist.
 * Thread-safety: not thread-safe; call once at start-up. */
VIGIL_API void vigil_set_allocator(const vigil_allocator *a);

/* Frees memory vigil returned with a `char *` documented as "free with vigil_free".
 * NULL is a no-op. Thread-safety: any thread. */
VIGIL_API void vigil_free(void *ptr);

#ifdef __cplusplus
}
#endif
#endif
