/* alloc.c — the one allocator every vigil allocation goes through, replaceable by the program
 * (vigil_set_allocator) so tests can inject failures and embedders can account memory. */
#include <stdlib.h>
#include <string.h>

#include "core_int.h"
#include "vigil/alloc.h"

static void *libc_malloc(size_t size, void *user)
{
    (void)user;
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *user)
{
    (void)user;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *user)
{
    (void)user;
    free(ptr);
}

static vigil_allocator current = {libc_malloc, libc_realloc, libc_free, NULL};

VIGIL_API void vigil_set_allocator(const vigil_allocator *a)
{
    if (a == NULL || a->malloc_fn == NULL || a->realloc_fn == NULL || a->free_fn == NULL)
        current = (vigil_allocator){libc_malloc, libc_realloc, libc_free, NULL};
    else
        current = *a;
}

void *vigil__malloc(size_t size)
{
    return current.malloc_fn(size ? size : 1, current.user);
}

void *vigil__calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = vigil__malloc(n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

void *vigil__realloc(void *ptr, size_t size)
{
    return current.realloc_fn(ptr, size ? size : 1, current.user);
}

void vigil__free(void *ptr)
{
    if (ptr != NULL)
        current.free_fn(ptr, current.user);
}

VIGIL_API void vigil_free(void *ptr)
{
    vigil__free(ptr);
}

char *vigil__strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = vigil__malloc(n);
    if (d != NULL)
        memcpy(d, s, n);
    return d;
}
