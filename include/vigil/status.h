/* vigil/status.h — status codes shared by every vigil call.
 *
 * Every fallible vigil function returns a vigil_status. VIGIL_OK is 0; every other value names
 * one kind of failure and has a fixed message from vigil_strerror(). The detailed message of the
 * last failure on the calling thread (which name was wrong, which label, what limit) is on hand
 * from vigil_errmsg(). Codes are only ever appended, never renumbered.
 */
#ifndef VIGIL_STATUS_H
#define VIGIL_STATUS_H

#include "vigil/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum vigil_status {
    VIGIL_OK = 0,
    VIGIL_EINVAL = 1,        /* an argument is invalid (NULL, out of range, malformed) */
    VIGIL_ENOMEM = 2,        /* an allocation failed */
    VIGIL_ENAME = 3,         /* a metric or label name breaks Prometheus naming rules */
    VIGIL_ERESERVED = 4,     /* a name is reserved (__ prefix, le, quantile, ...) */
    VIGIL_EEXIST = 5,        /* something of that name is already registered */
    VIGIL_ENOTFOUND = 6,     /* no such metric, child or route */
    VIGIL_ELABELS = 7,       /* wrong number of label values, or duplicate label names */
    VIGIL_EBUCKETS = 8,      /* a histogram bucket list is empty, unsorted or not finite */
    VIGIL_ENEGATIVE = 9,     /* a counter was asked to decrease (or add NaN) */
    VIGIL_ECARDINALITY = 10, /* a family is at its maximum number of children */
    VIGIL_ETYPE = 11,        /* a metric exists with another type or other label names */
    VIGIL_ELIMIT = 12,       /* an output or buffer cap was reached */
    VIGIL_EIO = 13,          /* a read or write on a file or socket failed */
    VIGIL_ESTATE = 14,       /* the object is not in a state that allows the call */
    VIGIL_EADDR = 15,        /* a listen address could not be parsed or bound */
    VIGIL_ECALLBACK = 16,    /* a user callback reported failure */
    VIGIL_EORDER = 17,       /* a sample is not newer than its series' last one (or too old) */
    VIGIL_ECORRUPT = 18,     /* stored data failed its checksum or is malformed */
    VIGIL_ETIMEOUT = 19,     /* a deadline passed before the work was done */
} vigil_status;

/* The fixed, human-readable message for a status ("invalid metric or label name", ...). Never
 * NULL; unknown codes give "unknown vigil status".
 * Thread-safety: safe from any thread. */
VIGIL_API const char *vigil_strerror(vigil_status status);

/* The detailed message of the last failing vigil call on this thread, e.g.
 * `metric name "9lives": must match [a-zA-Z_:][a-zA-Z0-9_:]*`. Empty string when no call on this
 * thread has failed yet. The text stays valid until the next failing vigil call on this thread.
 * Thread-safety: per thread; never NULL. */
VIGIL_API const char *vigil_errmsg(void);

#ifdef __cplusplus
}
#endif
#endif
