/* The worker's side of the ActiveSync server beyond eas.h: a graceful
 * shutdown that answers parked Pings at once (Status 1, so that devices
 * reconnect to the new workers instead of waiting for the grace period). */
#ifndef FLOE_EAS_SERVER_H
#define FLOE_EAS_SERVER_H

#include "eas.h"

/* Answers every parked request and refuses to park new ones; done(ctx) is
 * called from the event loop once that is finished. */
void eas_server_shutdown(struct eas_server *server, void (*done)(void *ctx), void *ctx);

#endif
