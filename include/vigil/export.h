/* vigil/export.h — symbol visibility. The library is built with hidden visibility; only
 * declarations marked VIGIL_API are exported from the shared object. */
#ifndef VIGIL_EXPORT_H
#define VIGIL_EXPORT_H

#if defined(VIGIL_BUILDING) && defined(__GNUC__)
#define VIGIL_API __attribute__((visibility("default")))
#else
#define VIGIL_API
#endif

#endif
