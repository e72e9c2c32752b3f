/* checks.h — the demo's health checks: the library's built-ins for the host and the process,
 * and one of its own for the message server. */
#ifndef DEMO_CHECKS_H
#define DEMO_CHECKS_H

#include <vigil.h>

#include "instr.h"
#include "server.h"

/* Error rate over CHECKS_WINDOW seconds above which the server check reports degraded. */
#define CHECKS_DEGRADED_ERROR_RATE 0.10
#define CHECKS_WINDOW 30

/* Adds memory, disk, fds (critical), cpu and load (not critical) and "message_server" to hr.
 * srv and in must outlive the runner's running (stop the runtime before freeing them).
 * Returns VIGIL_OK or the failing call's status (vigil_errmsg() has the message). */
vigil_status checks_register(vigil_health_runner *hr, demo_instr *in, demo_server *srv);

#endif
