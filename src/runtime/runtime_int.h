/* runtime_int.h — what the runtime's files share: the self-scrape history (history.c). */
#ifndef VIGIL_RUNTIME_INT_H
#define VIGIL_RUNTIME_INT_H

#include "vigil/runtime.h"
#include "vigil/tsdb.h"

typedef struct vigil__history vigil__history;

/* Opens the store (recovering a data directory), exposes its metrics in reg and starts the
 * scrape thread. Errors: VIGIL_EINVAL (interval), those of vigil_tsdb_open, VIGIL_ENOMEM. */
vigil_status vigil__history_start(const vigil_options *o, vigil_registry *reg,
                                  vigil__history **out);
/* Stops the thread, removes the metrics and closes the store (syncing its WAL). NULL: no-op. */
void vigil__history_stop(vigil__history *h);
vigil_tsdb *vigil__history_tsdb(const vigil__history *h);

#endif
