/* ActiveSync Sync state in the store (migration 0006): per device and
 * collection the SyncKey generation and counter, what the device holds
 * for the current and the previous key (UIDs with the modseq each was
 * sent at), the outcome of the client's commands for SmartSync replays,
 * the ClientId -> item map of client Adds, and the device's last Sync
 * request. Same conventions as store.h: asynchronous, one callback per
 * call from the event loop, results valid during the callback only,
 * every write one transaction, every query filtered by account_id. */
#ifndef FLOE_STORE_EASSYNC_H
#define FLOE_STORE_EASSYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

/* ---------------------------------------------------------------------
 * Loading the state of the collections of a request
 */

struct store_eassync_collection {
	uint64_t folder_id;
	bool exists;             /* a folder of the account that can hold items */
	const char *type;        /* folder type (mail, event, ...) */
	const char *special_use; /* NULL or inbox, sent, drafts, trash, junk, archive */
	uint32_t uidvalidity;
	uint64_t highestmodseq;
	uint32_t messages;
	/* The sync relationship; generation NULL when there is none. */
	const char *generation;
	uint32_t current_key;
	const char *options;      /* JSON saved by the last request with options, or NULL */
	bool has_previous;        /* the row of current_key - 1 exists */
	uint32_t key_uidvalidity; /* of the current key's row (0: none) */
	const char *replay;       /* JSON of the current key's row, or NULL */
};

struct store_eassync_load_result {
	const struct store_eassync_collection *collections; /* in the order asked */
	size_t count;
	uint64_t trash_id;        /* the account's Deleted Items folder, 0 if none */
	const char *last_request; /* JSON saved by store_eassync_request_save, or NULL */
};

typedef void store_eassync_load_cb(const struct store_eassync_load_result *res, enum store_err code,
                                   const char *error, void *ctx);
/* One query: the folders, their sync state for device_id, the trash
 * folder and the device's cached request. */
struct store_op *store_eassync_load(struct store *store, uint64_t account_id, uint64_t device_id,
                                    const uint64_t *folder_ids, size_t count,
                                    store_eassync_load_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Keys
 */

/* Starts (or restarts: SyncKey 0) the collection: a new generation with
 * key 1 holding nothing. options: JSON or NULL (keep the saved ones).
 * STORE_ERR_NOT_FOUND when the folder is gone. */
typedef void store_eassync_reset_cb(const char *generation, enum store_err code, const char *error,
                                    void *ctx);
struct store_op *store_eassync_reset(struct store *store, uint64_t account_id, uint64_t device_id,
                                     uint64_t folder_id, const char *options,
                                     store_eassync_reset_cb *cb, void *ctx);

/* Changes to a key's state: UIDs the device no longer has, and UIDs it
 * has (now) at a modseq. Either array may be empty. */
struct store_eassync_delta {
	const uint32_t *del;
	size_t ndel;
	const uint32_t *up_uids;
	const uint64_t *up_modseqs;
	size_t nup;
};

enum store_eassync_kind {
	EASSYNC_ADD = 'A',        /* on the server, in the window, not on the device */
	EASSYNC_CHANGE = 'C',     /* flags changed since the device got it */
	EASSYNC_DELETE = 'D',     /* gone (or \Deleted) */
	EASSYNC_SOFTDELETE = 'S', /* out of the FilterType window */
};

struct store_eassync_change {
	enum store_eassync_kind kind;
	uint32_t uid;
	uint64_t modseq; /* of the item now (0 for deletes) */
	bool walk;       /* an add that continues the walk down the UIDs */
};

/* The key's add cursor (0006): every message at or above it that was in
 * the folder at the key's highestmodseq is on the device, and every
 * change up to that modseq was sent. With it a diff reads the changes
 * since that modseq and the next messages below the cursor only. */
struct store_eassync_diff_result {
	/* Grouped by kind (A, C, D, S), at most limit (+ 1 when read from
	 * a cursor) of each; adds highest UID first. */
	const struct store_eassync_change *changes;
	size_t count;
	uint64_t total;         /* every change (exact, or with a cursor: the rows here) */
	uint64_t highestmodseq; /* the folder's, at the time of the diff */
	uint32_t uidvalidity;
	uint64_t cursor;       /* the walk's adds are below it (UINT64_MAX: the top) */
	bool walk_done;        /* no message waits below the last walk add */
	bool changes_complete; /* no change other than walk adds was cut */
};

typedef void store_eassync_diff_cb(const struct store_eassync_diff_result *res, enum store_err code,
                                   const char *error, void *ctx);
/* What the server has to send to a device holding key's state with delta
 * applied (key 0: nothing). since > 0: the FilterType window starts there
 * (older messages are soft-deleted / not added). exact: total counts
 * every change (GetItemEstimate; reads the whole folder); else a key with
 * a cursor and no since is diffed from its cursor. STORE_ERR_NOT_FOUND
 * when the folder is gone. */
struct store_op *store_eassync_diff(struct store *store, uint64_t account_id, uint64_t device_id,
                                    uint64_t folder_id, uint32_t key,
                                    const struct store_eassync_delta *delta, time_t since,
                                    unsigned limit, bool exact, store_eassync_diff_cb *cb,
                                    void *ctx);

struct store_eassync_commit {
	uint64_t folder_id;
	const char *generation;
	uint32_t base_key; /* the key of the request */
	uint32_t new_key;  /* the key of the response */
	uint32_t uidvalidity;
	struct store_eassync_delta delta; /* client commands and changes sent */
	/* Messages the response added (not in the base state; up_* only). */
	struct store_eassync_delta adds;
	uint64_t highestmodseq;
	bool more;
	bool has_cursor; /* the new key's add cursor is known */
	uint64_t cursor;
	const char *replay;  /* JSON kept for a repeat of base_key, or NULL */
	const char *options; /* JSON, or NULL to keep the saved options */
};

typedef void store_eassync_done_cb(enum store_err code, const char *error, void *ctx);
/* Records new_key for each collection (one transaction for all): the state
 * of base_key with delta applied; base_key stays as the previous key,
 * every other key goes. STORE_ERR_INVALID when a collection's state moved
 * on meanwhile (a concurrent request of the same device). The device's
 * request cache is saved in the same transaction when request_json is not
 * NULL. */
struct store_op *store_eassync_commit(struct store *store, uint64_t account_id, uint64_t device_id,
                                      const struct store_eassync_commit *commits, size_t count,
                                      const char *request_json, store_eassync_done_cb *cb,
                                      void *ctx);

/* The current state of messages a client changes, and the modseq of each
 * as the device has it (key's state with delta applied; 0 when the device
 * does not have it), for conflict detection. In the order asked. */
struct store_eassync_item_state {
	uint32_t uid;
	bool exists;
	uint64_t modseq;
	const char *const *flags;
	size_t nflags;
	uint64_t known_modseq;
};

typedef void store_eassync_items_state_cb(const struct store_eassync_item_state *items,
                                          size_t count, enum store_err code, const char *error,
                                          void *ctx);
struct store_op *store_eassync_items_state(struct store *store, uint64_t account_id,
                                           uint64_t device_id, uint64_t folder_id, uint32_t key,
                                           const struct store_eassync_delta *delta,
                                           const uint32_t *uids, size_t count,
                                           store_eassync_items_state_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Ping, client ids
 */

/* Which of folder_ids have changes the device has not synced: the
 * folder's HIGHESTMODSEQ is past the current key's, or the last response
 * said MoreAvailable, or the device never synced a folder that has items.
 * Folders that do not exist are left out. changed is in the order asked.
 * notice_folder non-zero: the statement also sends the change notice
 * "account_id notice_folder notice_modseq" (a pseudo folder id: Ping's
 * replacement notice), so a Ping's check and notice are one round trip. */
typedef void store_eassync_pending_cb(const uint64_t *changed, size_t count, enum store_err code,
                                      const char *error, void *ctx);
struct store_op *store_eassync_pending(struct store *store, uint64_t account_id, uint64_t device_id,
                                       const uint64_t *folder_ids, size_t count,
                                       uint64_t notice_folder, uint64_t notice_modseq,
                                       store_eassync_pending_cb *cb, void *ctx);

struct store_eassync_client_id {
	const char *client_id;
	uint32_t uid;    /* 0: the item is gone */
	uint64_t modseq; /* of the item */
};

/* The items earlier Adds with these ClientIds created in folder_id (those
 * never seen are left out). */
typedef void store_eassync_client_ids_cb(const struct store_eassync_client_id *ids, size_t count,
                                         enum store_err code, const char *error, void *ctx);
struct store_op *store_eassync_client_ids(struct store *store, uint64_t account_id,
                                          uint64_t device_id, uint64_t folder_id,
                                          const char *const *client_ids, size_t count,
                                          store_eassync_client_ids_cb *cb, void *ctx);
/* Remembers that client_id created uid (replacing an older mapping). */
struct store_op *store_eassync_client_id_put(struct store *store, uint64_t account_id,
                                             uint64_t device_id, uint64_t folder_id,
                                             const char *client_id, uint32_t uid,
                                             store_eassync_done_cb *cb, void *ctx);

#endif
