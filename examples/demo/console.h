/* console.h — the console snapshot: the demo's key figures as a text block on stdout, every
 * --snapshot-interval seconds and once more at shutdown. */
#ifndef DEMO_CONSOLE_H
#define DEMO_CONSOLE_H

#include <vigil.h>

#include "instr.h"

/* A snapshot titled "vigil-demo" reading in's metrics and trackers (in must outlive it).
 * Returns VIGIL_OK or the failing call's status. */
vigil_status console_new(demo_instr *in, vigil_snapshot **out);

#endif
