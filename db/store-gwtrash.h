/* The GroupWare Trash in the store: groupware items (events, tasks, notes,
 * journal entries, contacts, files) that left their folder by EXPUNGE or
 * with their folder are kept per account (db/migrations/0012_groupware_trash.sql)
 * until they are restored or purged. It is not an IMAP mailbox: these
 * calls are for the WebClient, WebDAV, EAS and floectl (db/admin-trash.h
 * is floectl's blocking twin over the same SQL functions).
 *
 * Also the purger every worker runs: a low-frequency timer that deletes
 * the entries older than [groupware] trash_days in bounded batches (one
 * transaction each, on the worker's pool) and has their content collected.
 *
 * Conventions as in store.h: asynchronous on the worker's pool, callback
 * exactly once from the event loop, data valid during the callback only,
 * every query filtered by account_id. */
#ifndef FLOE_STORE_GWTRASH_H
#define FLOE_STORE_GWTRASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct event_base;

/* One trashed item. */
struct store_gwtrash_entry {
	uint64_t id;
	uint64_t folder_id;      /* the folder it left; 0 once that folder is removed */
	const char *folder_path; /* that folder's path when the item was deleted */
	const char *folder_type; /* event, contact, task, note, journal, file */
	const char *object_uid;
	const char *kind;  /* groupware_index kind (distlist...); NULL if none */
	const char *title; /* SUMMARY, FN or file name; may be NULL */
	uint64_t size;
	time_t deleted_at;
	const char *blob_hash; /* hex, for store_blob_read (the whole MIME item) */
};

struct store_gwtrash_list {
	const struct store_gwtrash_entry *entries; /* newest deletion first */
	size_t count;
	uint64_t total_size; /* of every entry of the account, what quota counts */
};

typedef void store_gwtrash_list_cb(const struct store_gwtrash_list *list, enum store_err code,
                                   const char *error, void *ctx);

/* The account's trash, or with folder_id only the entries that left that
 * folder, newest first. */
struct store_op *store_gwtrash_list(struct store *store, uint64_t account_id, uint64_t folder_id,
                                    store_gwtrash_list_cb *cb, void *ctx);

/* What became of one entry asked to be restored. */
struct store_gwtrash_restored {
	uint64_t id;
	const char *object_uid; /* NULL for an entry that does not exist */
	bool restored;
	/* where it went (restored) or would have gone (refused): the folder
	 * it left, or, when that one is gone (moved), the default folder of
	 * its type; 0 and NULL when there is none */
	uint64_t folder_id;
	const char *folder_path;
	bool moved;
	uint32_t uid;      /* the new IMAP UID (restored) */
	uint64_t modseq;   /* the folder's modseq after it (restored) */
	const char *error; /* why not (not restored): "Calendar already holds an item with UID x" */
};

struct store_gwtrash_restore_result {
	const struct store_gwtrash_restored *items;
	size_t count;
	size_t restored; /* how many of them were restored */
};

typedef void store_gwtrash_restore_cb(const struct store_gwtrash_restore_result *res,
                                      enum store_err code, const char *error, void *ctx);

/* Restores the entries ids[0..count) in one transaction, newest deletion
 * first: each becomes a new item (next UID of its folder, same content,
 * object UID and flags but \Deleted) with a modseq bump and a change
 * notice, as an append does; restoring never fails for quota (trashed
 * items already count). An entry whose object UID the target folder holds
 * already, or which has no folder to go to, is refused (res->items[i].error)
 * and stays in the trash; the others are restored all the same. code is
 * STORE_OK then; other codes only for database failures (nothing done). */
struct store_op *store_gwtrash_restore(struct store *store, uint64_t account_id,
                                       const uint64_t *ids, size_t count,
                                       store_gwtrash_restore_cb *cb, void *ctx);

/* The same for the entries that left folder_id (0: any folder) with
 * object UID object_uid (NULL: every entry): the WebClient's "restore
 * deleted items" of a folder, or one item by its UID. */
struct store_op *store_gwtrash_restore_where(struct store *store, uint64_t account_id,
                                             uint64_t folder_id, const char *object_uid,
                                             store_gwtrash_restore_cb *cb, void *ctx);

/* Deletes up to limit (0: STORE_GWTRASH_BATCH) entries deleted at least
 * older_than_s seconds ago, of account_id (0: of every account), in one
 * transaction, and queues their content for the content garbage
 * collection (store_content_gc). cb gets how many went. */
#define STORE_GWTRASH_BATCH 500
typedef void store_gwtrash_purge_cb(unsigned long purged, enum store_err code, const char *error,
                                    void *ctx);
struct store_op *store_gwtrash_purge(struct store *store, uint64_t account_id,
                                     uint64_t older_than_s, unsigned limit,
                                     store_gwtrash_purge_cb *cb, void *ctx);

/* --- The purger --- */

struct gwtrash_purger;

/* Starts the purge timer of a worker: entries older than trash_days days
 * go (trash_days 0: never, and no timer), every interval_ms (0: never)
 * with ±10 % jitter; the first run comes at a random point within
 * min(interval, 5 min) of the start. A run purges batch after batch of
 * STORE_GWTRASH_BATCH until one comes back short, then runs the content
 * garbage collection once if anything went. Nothing blocks the loop;
 * several workers (and nodes) may run at once: the purge skips the rows
 * another one holds. Returns NULL when there is nothing to do. */
struct gwtrash_purger *gwtrash_purger_create(struct event_base *base, struct store *store,
                                             unsigned trash_days, unsigned interval_ms);
/* Stops the timer and abandons a run in flight; accepts NULL. Before
 * store_destroy. */
void gwtrash_purger_destroy(struct gwtrash_purger **purger);

/* The delay before a purger run (pure; exposed for its unit test): with
 * first set, a point in [0, min(interval_ms, 300000)) chosen by r (a
 * random value, uniform over 32 bits); else interval_ms ± 10 % by r. */
uint64_t gwtrash_purge_delay_ms(unsigned interval_ms, bool first, uint32_t r);

#endif
