/* vigil/buffer.h — a growable byte buffer with a cap, used wherever vigil hands bytes back
 * (rendered exposition, HTTP bodies). The caller owns the struct; vigil_buffer_free releases the
 * bytes. Every append fails with VIGIL_ELIMIT instead of growing past `limit`. */
#ifndef VIGIL_BUFFER_H
#define VIGIL_BUFFER_H

#include <stddef.h>

#include "vigil/export.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vigil_buffer {
    char *data;   /* NUL-terminated when len > 0 or after vigil_buffer_cstr */
    size_t len;
    size_t cap;
    size_t limit; /* maximum len; 0 means VIGIL_BUFFER_DEFAULT_LIMIT */
} vigil_buffer;

/* 1 GiB: larger than any exposition vigil would serve, small enough to stop a runaway. */
#define VIGIL_BUFFER_DEFAULT_LIMIT ((size_t)1 << 30)

/* Thread-safety for all buffer calls: a buffer belongs to one thread at a time, the caller's.
 * Empties *buf and sets its cap (0: the default). */
VIGIL_API void vigil_buffer_init(vigil_buffer *buf, size_t limit);
/* Releases the bytes; the buffer may be reused after vigil_buffer_init. NULL is a no-op. */
VIGIL_API void vigil_buffer_free(vigil_buffer *buf);
/* Appends len bytes. Errors: VIGIL_ELIMIT, VIGIL_ENOMEM (buffer unchanged). */
VIGIL_API vigil_status vigil_buffer_append(vigil_buffer *buf, const void *data, size_t len);
/* Makes room for `extra` more bytes; returns the write position or NULL (ELIMIT/ENOMEM, with
 * vigil_errmsg set). Commit what was written by adding to buf->len. */
VIGIL_API char *vigil_buffer_reserve(vigil_buffer *buf, size_t extra);
/* Guarantees data is a NUL-terminated string (allocates an empty one if needed). */
VIGIL_API const char *vigil_buffer_cstr(vigil_buffer *buf);

#ifdef __cplusplus
}
#endif
#endif
