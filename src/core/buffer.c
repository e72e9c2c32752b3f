/* buffer.c — growable byte buffer with a hard cap: every output vigil builds (exposition, HTTP
 * bodies) goes through one, so no input can make the process allocate without bound. */
#include <string.h>

#include "core_int.h"

VIGIL_API void vigil_buffer_init(vigil_buffer *buf, size_t limit)
{
    memset(buf, 0, sizeof *buf);
    buf->limit = limit ? limit : VIGIL_BUFFER_DEFAULT_LIMIT;
}

VIGIL_API void vigil_buffer_free(vigil_buffer *buf)
{
    if (buf == NULL)
        return;
    vigil__free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

vigil_status vigil__buf_reserve(vigil_buffer *buf, size_t extra, char **out)
{
    size_t limit = buf->limit ? buf->limit : VIGIL_BUFFER_DEFAULT_LIMIT;
    if (extra > limit || buf->len > limit - extra)
        return vigil__fail(VIGIL_ELIMIT, "buffer limit of %zu bytes reached", limit);
    size_t need = buf->len + extra + 1; /* room for a terminating NUL */
    if (need > buf->cap) {
        size_t ncap = buf->cap ? buf->cap : 256;
        while (ncap < need)
            ncap *= 2;
        char *nd = vigil__realloc(buf->data, ncap);
        if (nd == NULL)
            return vigil__fail(VIGIL_ENOMEM, "out of memory growing a buffer to %zu bytes", ncap);
        buf->data = nd;
        buf->cap = ncap;
    }
    *out = buf->data + buf->len;
    return VIGIL_OK;
}

VIGIL_API char *vigil_buffer_reserve(vigil_buffer *buf, size_t extra)
{
    char *p = NULL;
    return vigil__buf_reserve(buf, extra, &p) == VIGIL_OK ? p : NULL;
}

VIGIL_API vigil_status vigil_buffer_append(vigil_buffer *buf, const void *data, size_t len)
{
    char *p;
    vigil_status st = vigil__buf_reserve(buf, len, &p);
    if (st != VIGIL_OK)
        return st;
    memcpy(p, data, len);
    buf->len += len;
    buf->data[buf->len] = '\0';
    return VIGIL_OK;
}

VIGIL_API const char *vigil_buffer_cstr(vigil_buffer *buf)
{
    if (buf->data == NULL && vigil_buffer_reserve(buf, 0) == NULL)
        return "";
    buf->data[buf->len] = '\0';
    return buf->data;
}
