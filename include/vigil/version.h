/* vigil/version.h — compile-time and run-time version of libvigil. The shared object's soname
 * follows VIGIL_VERSION_MAJOR. */
#ifndef VIGIL_VERSION_H
#define VIGIL_VERSION_H

#include "vigil/export.h"

#define VIGIL_VERSION_MAJOR 0
#define VIGIL_VERSION_MINOR 1
#define VIGIL_VERSION_PATCH 0
#define VIGIL_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The version of the library actually loaded, "MAJOR.MINOR.PATCH".
 * Thread-safety: safe from any thread. */
VIGIL_API const char *vigil_version(void);

#ifdef __cplusplus
}
#endif
#endif
