/* status.c — the status table (codes only ever appended) and the per-thread detailed message.
 * A thread-local message keeps error reporting race-free without tying it to an object that
 * several threads may be using at once. */
#include <stdarg.h>
#include <stdio.h>

#include "core_int.h"
#include "vigil/version.h"

static const char *const messages[] = {
    [VIGIL_OK] = "ok",
    [VIGIL_EINVAL] = "invalid argument",
    [VIGIL_ENOMEM] = "out of memory",
    [VIGIL_ENAME] = "invalid metric or label name",
    [VIGIL_ERESERVED] = "reserved name",
    [VIGIL_EEXIST] = "already exists",
    [VIGIL_ENOTFOUND] = "not found",
    [VIGIL_ELABELS] = "invalid labels",
    [VIGIL_EBUCKETS] = "invalid histogram buckets",
    [VIGIL_ENEGATIVE] = "counter cannot decrease",
    [VIGIL_ECARDINALITY] = "too many children in family",
    [VIGIL_ETYPE] = "metric exists with another type or label names",
    [VIGIL_ELIMIT] = "size limit reached",
    [VIGIL_EIO] = "input/output error",
    [VIGIL_ESTATE] = "invalid state for this call",
    [VIGIL_EADDR] = "bad or unusable address",
    [VIGIL_ECALLBACK] = "callback failed",
    [VIGIL_EORDER] = "sample out of order",
    [VIGIL_ECORRUPT] = "stored data is corrupted",
    [VIGIL_ETIMEOUT] = "deadline exceeded",
};

static _Thread_local char last_message[512];

VIGIL_API const char *vigil_strerror(vigil_status status)
{
    if ((unsigned)status >= sizeof messages / sizeof messages[0] || messages[status] == NULL)
        return "unknown vigil status";
    return messages[status];
}

VIGIL_API const char *vigil_errmsg(void)
{
    return last_message;
}

vigil_status vigil__fail(vigil_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return status;
}

VIGIL_API const char *vigil_version(void)
{
    return VIGIL_VERSION_STRING;
}
