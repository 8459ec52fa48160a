/* The change-notice bus: one dedicated LISTEN connection per worker.
 *
 * Every transaction that changes a folder ends with
 *   SELECT pg_notify('floe_change', '<account_id> <folder_id> <modseq>')
 * and every worker (of every node) receives it here and calls the watchers
 * of that (account, folder) through an in-memory index. After the listener
 * reconnects, every watcher is called with possibly = true, since notices
 * may have been missed while it was down (the same happens when it first
 * starts listening, for watches added before that). */
#ifndef FLOE_NOTIFY_H
#define FLOE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct notify_bus;
struct notify_watch;

#define NOTIFY_CHANNEL "floe_change"

/* account_id/folder_id/modseq of the change; with possibly = true they are
 * the watched key and modseq is 0. */
typedef void notify_fn(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly,
		       void *ctx);

struct notify_bus *notify_bus_create(struct event_base *base, const char *conninfo,
				     unsigned connect_timeout_ms);
/* Frees the bus and any watches still registered (their handles become
 * invalid). Not from inside a watch callback. */
void notify_bus_destroy(struct notify_bus **bus);
/* True while the LISTEN connection is established and listening. */
bool notify_bus_is_up(const struct notify_bus *bus);

/* Watches (account_id, folder_id); folder_id 0 watches every folder of the
 * account. The callback may remove its own watch. */
struct notify_watch *notify_watch_add(struct notify_bus *bus, uint64_t account_id,
				      uint64_t folder_id, notify_fn *cb, void *ctx);
/* Removes the watch; sets *watch to NULL; accepts NULL. */
void notify_watch_remove(struct notify_watch **watch);

/* A barrier on the bus: "has every notice of what was committed before
 * now been dispatched?" notify_bus_sync sends one trivial query on the
 * LISTEN connection; PostgreSQL sends a listener every notice of the
 * transactions committed before that query ends ahead of its
 * ReadyForQuery, so once the answer is in, those notices have been
 * dispatched to the watches (the bus dispatches first, then calls back).
 * Callers that ask while a barrier query is in flight share the next one.
 * cb(known = true) means the barrier completed; known = false means the
 * bus is down or went down meanwhile (notices may be lost: the caller must
 * look for itself). cb is always called from the event loop, never from
 * inside notify_bus_sync. Returns a handle that stays valid until cb
 * starts or notify_sync_abandon; notify_bus_destroy frees the handles of
 * barriers still waiting without calling them. */
struct notify_sync;
typedef void notify_sync_fn(bool known, void *ctx);
struct notify_sync *notify_bus_sync(struct notify_bus *bus, notify_sync_fn *cb, void *ctx);
/* Cancels a barrier before its callback: cb is not called. Sets *sync to
 * NULL; accepts NULL. Not from inside that barrier's own callback (the
 * handle is already gone then). */
void notify_sync_abandon(struct notify_sync **sync);

/* Parses a notice payload: three decimal numbers separated by blanks
 * (leading and trailing blanks allowed). Returns 0, or -1 when malformed or
 * a number does not fit in 64 bits. */
int notify_parse_payload(const char *payload, uint64_t *account_id_r, uint64_t *folder_id_r,
			 uint64_t *modseq_r);

/* --- For tests (and the bus itself) --- */
/* Dispatches a payload as if it had arrived from the database. Returns 0,
 * or -1 when malformed (nobody is called). */
int notify_bus_dispatch(struct notify_bus *bus, const char *payload);
/* Calls every watcher with possibly = true, as after a reconnect. */
void notify_bus_wake_all(struct notify_bus *bus);
/* Number of watches registered. */
size_t notify_bus_watch_count(const struct notify_bus *bus);
/* Number of barrier queries sent since the bus was created. */
uint64_t notify_bus_sync_queries(const struct notify_bus *bus);

#endif
