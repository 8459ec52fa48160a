/* Sharing in the store, beyond the ACL itself (store-acl.h): subscriptions
 * to other accounts' folders by ids, the share notices that ACL changes
 * queue for the grantees' notification mail, and "what changed since
 * modseq N" for every folder a LIST shows at once (IceWarp's changedsince
 * entry in LIST RETURN (METADATA ...)). Same conventions as store.h:
 * asynchronous, one callback per call from the event loop, results valid
 * during the callback only, every write one statement (one transaction).
 * The SQL functions are in db/migrations/0011_sharing.sql. */
#ifndef FLOE_STORE_SHARE_H
#define FLOE_STORE_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

/* ---------------------------------------------------------------------
 * Subscriptions
 *
 * A grantee's LIST shows another account's folder (with the l right) once
 * it subscribed that folder or one above it, or the whole account; the
 * folders of a group account are listed for its members without one
 * (public folders). Subscriptions name folders by id, so an owner's rename
 * keeps them; UNSUBSCRIBE of a folder inside a covering subscription
 * hides it (and the folders below). store_acl_shared reports the outcome
 * as each folder's subscribed flag.
 */

enum store_share_sub_result {
	STORE_SHARE_SUB_OK,
	/* The owner is user_id itself: an ordinary subscription of path. */
	STORE_SHARE_SUB_OWN,
	/* SUBSCRIBE of an unknown account, or of a folder that does not
	 * exist or that user_id may not see (neither l nor r). */
	STORE_SHARE_SUB_NONEXISTENT,
};

typedef void store_share_subscribe_cb(enum store_share_sub_result result, enum store_err code,
                                      const char *error, void *ctx);
/* Subscribes (subscribe true) or unsubscribes user_id to folder path
 * (UTF-8, '/'-separated; NULL or "": the whole account) of the account
 * owner (an address, any case, aliases too). UNSUBSCRIBE of something
 * unknown or invisible succeeds and changes nothing. STORE_ERR_INVALID
 * for a malformed path. */
struct store_op *store_share_subscribe(struct store *store, uint64_t user_id, const char *owner,
                                       const char *path, bool subscribe,
                                       store_share_subscribe_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Share notices
 *
 * An ACL change that gives a user a right it did not have, or takes its
 * last right away, queues a notice in its transaction (floe_acl_set) and
 * sends the change notice (0, STORE_SHARE_NOTICE_WAKE, 0) at commit. A
 * runner claims due notices with a lease, writes each mail and hands it
 * to store_share_notice_deliver, which appends it to the INBOX and
 * deletes the notice in one transaction: exactly once, whichever runner
 * of whichever node gets there first.
 */

/* The pseudo folder id (of account 0) whose change notice wakes runners. */
#define STORE_SHARE_NOTICE_WAKE (UINT64_C(1) << 62)

struct store_share_notice {
	uint64_t id;
	uint64_t account_id; /* the grantee, who gets the mail */
	uint64_t inbox_id;   /* its INBOX; 0 when it has none */
	const char *address; /* the grantee's address */
	const char *name;    /* its display name ("" when none) */
	const char *owner;   /* the owner's address */
	const char *owner_name;
	const char *folder; /* the folder's path in the owner's account; NULL: the account */
	bool unshare;       /* the last right went (else: rights given) */
	const char *rights; /* the grantee's rights now (letters; "" on unshare) */
	time_t created;
	unsigned attempts; /* this claim included */
};

/* Claims up to max due notices not leased by another runner, for
 * lease_ms. runner names this process in the table ("host:pid"). On a
 * database failure notices is NULL and error set. */
typedef void store_share_notice_claim_cb(const struct store_share_notice *notices, size_t count,
                                         const char *error, void *ctx);
struct store_op *store_share_notice_claim(struct store *store, const char *runner, unsigned max,
                                          unsigned lease_ms, store_share_notice_claim_cb *cb,
                                          void *ctx);

/* Appends data (a whole message, parsed into meta by modules/message.c)
 * to the INBOX of notice n and deletes n, in one transaction. delivered
 * is false (and nothing appended) when n was already gone. Fails like
 * store_append (STORE_ERR_OVER_QUOTA, STORE_ERR_NOT_FOUND ...), and then
 * the notice stays. */
typedef void store_share_notice_deliver_cb(bool delivered, uint32_t uid, enum store_err code,
                                           const char *error, void *ctx);
struct store_op *store_share_notice_deliver(struct store *store, const struct store_share_notice *n,
                                            const void *data, size_t size,
                                            const struct store_msg_meta *meta,
                                            store_share_notice_deliver_cb *cb, void *ctx);

/* Gives notice id of account_id back for another try in delay_ms,
 * remembering error. */
struct store_op *store_share_notice_retry(struct store *store, uint64_t id, uint64_t account_id,
                                          unsigned delay_ms, const char *error, store_done_cb *cb,
                                          void *ctx);
/* Deletes notice id of account_id without a mail. */
struct store_op *store_share_notice_drop(struct store *store, uint64_t id, uint64_t account_id,
                                         store_done_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Changes of many folders
 */

struct store_folder_changes {
	uint64_t owner_id, folder_id;
	/* msgs (uid only) and vanished, as store_changes gives them; folder
	 * is NULL. */
	struct store_msg_list list;
};

/* For every selectable folder of user_id's account and, with shared, of
 * every folder of another account on which user_id has the r right: the
 * UIDs of messages added or changed after modseq since and the UIDs
 * expunged after it. One query. */
typedef void store_folder_changes_cb(const struct store_folder_changes *folders, size_t count,
                                     enum store_err code, const char *error, void *ctx);
struct store_op *store_changes_folders(struct store *store, uint64_t user_id, uint64_t since,
                                       bool shared, store_folder_changes_cb *cb, void *ctx);

#endif
