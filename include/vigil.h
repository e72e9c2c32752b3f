/* vigil.h — the whole public API of libvigil. */
#ifndef VIGIL_H
#define VIGIL_H

#include "vigil/alloc.h"
#include "vigil/buffer.h"
#include "vigil/collect.h"
#include "vigil/events.h"
#include "vigil/expo.h"
#include "vigil/health.h"
#include "vigil/http.h"
#include "vigil/metrics.h"
#include "vigil/promql.h"
#include "vigil/runtime.h"
#include "vigil/sketch.h"
#include "vigil/snapshot.h"
#include "vigil/status.h"
#include "vigil/track.h"
#include "vigil/tsdb.h"
#include "vigil/version.h"

#endif
