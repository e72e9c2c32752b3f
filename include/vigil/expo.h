/* vigil/expo.h — rendering a registry in the Prometheus text format 0.0.4 and OpenMetrics 1.0.0,
 * content negotiation the way Prometheus does it, and gzip.
 *
 * Output order is stable: the registry's families sorted by name, each family's children in the
 * order they were created, then each collector's families in collector registration order.
 */
#ifndef VIGIL_EXPO_H
#define VIGIL_EXPO_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/buffer.h"
#include "vigil/export.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vigil_format {
    VIGIL_FORMAT_TEXT = 0,        /* text/plain; version=0.0.4 */
    VIGIL_FORMAT_OPENMETRICS = 1, /* application/openmetrics-text; version=1.0.0 */
} vigil_format;

/* Appends the registry's exposition to out (which the caller initialised).
 * Errors: VIGIL_ELIMIT (out's cap), VIGIL_ENOMEM. Failing collectors do not fail the render:
 * their output is dropped and counted in vigil_collector_errors_total.
 * Thread-safety: any thread; concurrent renders and hot-path updates are safe; registration
 * waits while a family is being rendered. */
VIGIL_API vigil_status vigil_expo_render(vigil_registry *reg, vigil_format format,
                                         vigil_buffer *out);

/* Picks a format from an HTTP Accept header as Prometheus's scrape negotiation expects:
 * the highest-q acceptable type wins (OpenMetrics 1.0.0 or unversioned OpenMetrics, or
 * text/plain); anything else, an empty or NULL header gives the text format.
 * Thread-safety: pure. */
VIGIL_API vigil_format vigil_expo_negotiate(const char *accept);

/* The Content-Type header value for a format. Thread-safety: pure. */
VIGIL_API const char *vigil_expo_content_type(vigil_format format);

/* True when an Accept-Encoding header allows gzip (q > 0). Thread-safety: pure. */
VIGIL_API bool vigil_expo_accepts_gzip(const char *accept_encoding);

/* Appends the gzip (RFC 1952) compression of data to out. Errors: VIGIL_ENOMEM, VIGIL_ELIMIT.
 * Thread-safety: pure. */
VIGIL_API vigil_status vigil_expo_gzip(const void *data, size_t len, vigil_buffer *out);

#ifdef __cplusplus
}
#endif
#endif
