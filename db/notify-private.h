/* Internals of the change-notice bus shared by notify.c (the LISTEN
 * connection, reconnects, barriers) and notify-index.c (payloads and the
 * index of watches that dispatches them). */
#ifndef FLOE_NOTIFY_PRIVATE_H
#define FLOE_NOTIFY_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "notify.h"
#include "pg-socket.h"

struct event;
struct event_base;

enum bus_state {
	BUS_DOWN,       /* waiting for the reconnect timer */
	BUS_CONNECTING, /* PQconnectPoll in progress */
	BUS_LISTEN,     /* LISTEN sent */
	BUS_LISTENING,
};

struct notify_watch {
	struct notify_bus *bus;
	uint64_t account_id, folder_id;
	notify_fn *cb;
	void *ctx;
	/* Chain of one hash bucket (keys that share it are mixed). */
	struct notify_watch *prev, *next;
	/* Watches added during a dispatch are not called by it. */
	uint64_t serial;
	/* Removed during a dispatch: still chained until the dispatch ends. */
	bool removed;
	struct notify_watch *dead_next;
};

/* Where a barrier waits: for the next query, for the query in flight, or
 * answered and about to be called back. */
enum sync_state { SYNC_NEXT, SYNC_SENT, SYNC_READY, SYNC_STATES };

struct notify_sync {
	struct notify_bus *bus;
	notify_sync_fn *cb;
	void *ctx;
	enum sync_state state;
	bool known;
	struct notify_sync *prev, *next;
};

struct sync_queue {
	struct notify_sync *head, *tail;
};

struct notify_bus {
	struct event_base *base;
	char *conninfo;
	unsigned connect_timeout_ms;

	enum bus_state state;
	PGconn *pg;
	struct pg_socket io;
	struct event *timer; /* connect timeout or reconnect delay */
	bool want_write;
	unsigned backoff_ms;
	uint64_t listening_since_ms;
	bool trouble_logged; /* a warning went out since we last listened */
	char *fatal;         /* last FATAL message from the server */
	char *listen_error;  /* LISTEN failed; set until its results are read */

	struct notify_watch **buckets;
	size_t nbuckets;
	size_t count;
	uint64_t serial;
	unsigned dispatching;
	struct notify_watch *dead;

	struct sync_queue syncs[SYNC_STATES];
	bool sync_in_flight;   /* a barrier query was sent, its end not yet read */
	bool sync_failed;      /* ... and it returned an error */
	struct event *sync_ev; /* calls back SYNC_READY barriers */
	uint64_t sync_queries;
};

#endif
