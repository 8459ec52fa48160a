/* A worker process: one libevent loop serving every protocol on the
 * listeners inherited from the master. */
#ifndef FLOE_WORKER_H
#define FLOE_WORKER_H

#include <openssl/ssl.h>

#include "config.h"
#include "listen.h"

/* Runs worker number index until it is told to stop (SIGTERM: stop
 * accepting, finish in-flight requests for at most shutdown_timeout).
 * Never returns: exits the process. */
void __attribute__((noreturn))
worker_main(const struct floe_config *cfg, const struct listener_set *listeners, SSL_CTX *ssl,
	    unsigned index);

#endif
