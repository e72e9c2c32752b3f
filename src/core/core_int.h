/* core_int.h — what the core module shares with the rest of the library: the allocator, error
 * reporting, hashing, a string-keyed map, number formatting, clocks and UTF-8 checks. Nothing
 * here is exported from the shared object. */
#ifndef VIGIL_CORE_INT_H
#define VIGIL_CORE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/alloc.h"
#include "vigil/buffer.h"
#include "vigil/status.h"

#if defined(__GNUC__)
#define VIGIL_LIKELY(x) __builtin_expect(!!(x), 1)
#define VIGIL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define VIGIL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VIGIL_LIKELY(x) (x)
#define VIGIL_UNLIKELY(x) (x)
#define VIGIL_PRINTF(a, b)
#endif

/* --- allocation (alloc.c) --- */
void *vigil__malloc(size_t size);
void *vigil__calloc(size_t n, size_t size);
void *vigil__realloc(void *ptr, size_t size);
void vigil__free(void *ptr);
char *vigil__strdup(const char *s);

/* --- errors (status.c): record the detailed message and return the status --- */
vigil_status vigil__fail(vigil_status status, const char *fmt, ...) VIGIL_PRINTF(2, 3);

/* --- hashing (hash.c) --- */
uint64_t vigil__hash(const void *data, size_t len, uint64_t seed);
uint64_t vigil__hash_str(const char *s, uint64_t seed);

/* --- string map (strmap.c): string -> pointer, keys copied; not thread-safe by itself --- */
typedef struct vigil__strmap {
    struct vigil__strmap_slot *slots;
    size_t cap; /* power of two or 0 */
    size_t len;
} vigil__strmap;
void vigil__strmap_init(vigil__strmap *m);
void vigil__strmap_free(vigil__strmap *m);
void *vigil__strmap_get(const vigil__strmap *m, const char *key);
/* VIGIL_EEXIST when present (value unchanged), VIGIL_ENOMEM. */
vigil_status vigil__strmap_put(vigil__strmap *m, const char *key, void *value);
/* Returns the removed value or NULL. */
void *vigil__strmap_del(vigil__strmap *m, const char *key);
/* Removes every key mapped to value; returns how many. Allocates nothing, so it is safe on
 * error paths. */
size_t vigil__strmap_del_value(vigil__strmap *m, const void *value);

/* --- number formatting (fmt.c) --- */
#define VIGIL__FMT_MAX 32
/* A float as Prometheus text expects it: NaN, +Inf, -Inf, integers without a fraction, other
 * values in the shortest form that reads back to the same double. Returns the length. */
size_t vigil__fmt_double(char *out, double v);
/* A float as the OpenMetrics parsers want `le` and `quantile` values: Go's formatting of the
 * shortest round-trip form ("1.0", "0.005", "1e-05", "+Inf"). Returns the length. */
size_t vigil__fmt_label_float(char *out, double v);
size_t vigil__fmt_u64(char *out, uint64_t v);

/* --- time (time.c) --- */
int64_t vigil__now_ms(void);         /* wall clock, ms since the epoch */
double vigil__now_seconds(void);     /* wall clock, seconds since the epoch */
uint64_t vigil__mono_ns(void);       /* monotonic clock */
/* *ts = now on `clock` (a clockid_t) plus ns: an absolute deadline for the timed waits. */
struct timespec;
void vigil__deadline(struct timespec *ts, int clock, uint64_t ns);

/* --- text checks (text.c) --- */
bool vigil__utf8_valid(const char *s, size_t len);

/* --- JSON (json.c) --- */
/* Appends str escaped for a JSON string body (no quotes); invalid UTF-8 becomes U+FFFD. */
vigil_status vigil__json_escape(vigil_buffer *out, const char *str);
/* Appends str as a quoted JSON string. */
vigil_status vigil__json_string(vigil_buffer *out, const char *str);
/* Appends `"key":`, preceded by a comma unless first. */
vigil_status vigil__json_key(vigil_buffer *out, bool first, const char *key);
/* Appends a number, or null when it is not finite (JSON has no NaN). */
vigil_status vigil__json_number(vigil_buffer *out, double v);

/* --- buffer helpers (buffer.c) --- */
/* vigil_buffer_reserve with the status kept: *out is the write position on VIGIL_OK. */
vigil_status vigil__buf_reserve(vigil_buffer *buf, size_t extra, char **out);

#endif
