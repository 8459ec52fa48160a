/* The master process: binds listeners, starts the embedded database when
 * configured, forks and supervises workers, reloads on SIGHUP and stops
 * gracefully on SIGTERM. */
#ifndef FLOE_MASTER_H
#define FLOE_MASTER_H

#include <stdbool.h>

#include "config.h"

/* Runs the server with cfg (ownership passes to the master). Returns the
 * process exit status: 0 after a clean shutdown, 1 when start-up failed. */
int master_run(struct floe_config *cfg, bool foreground);

#endif
