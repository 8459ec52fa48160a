/* Store reads ActiveSync needs beyond db/store.h: messages by UID with
 * their raw bytes in one round trip (a Sync window, ItemOperations Fetch,
 * the original of SmartReply), and the mailbox Search over several
 * folders, newest first, with a total count. Same conventions as store.h:
 * asynchronous, one callback per call from the event loop, results valid
 * during the callback only, every query filtered by account_id. */
#ifndef FLOE_STORE_EAS_H
#define FLOE_STORE_EAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct store_eas_item {
	uint32_t uid;
	uint64_t modseq;
	const char *const *flags;
	size_t nflags;
	time_t internal_date;
	uint64_t size;
	const char *blob_hash; /* hex SHA-256, for store_blob_read */
	const char *email_id, *thread_id;
	/* The raw message; NULL when it is larger than the max_data asked
	 * for (read it with store_blob_read). */
	const unsigned char *data;
	size_t data_len;
};

struct store_eas_items_result {
	const struct store_eas_item *items; /* in the order asked; missing UIDs are absent */
	size_t count;
};

typedef void store_eas_items_cb(const struct store_eas_items_result *res, enum store_err code,
                                const char *error, void *ctx);
/* The messages uids of folder_id, with the bytes of those of at most
 * max_data bytes (0: none). */
struct store_op *store_eas_items(struct store *store, uint64_t account_id, uint64_t folder_id,
                                 const uint32_t *uids, size_t count, size_t max_data,
                                 store_eas_items_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Search (EAS Search Store=Mailbox)
 */

enum store_eas_query_kind {
	STORE_EASQ_AND,    /* children */
	STORE_EASQ_OR,     /* children */
	STORE_EASQ_TEXT,   /* text in subject, addresses or body (case-insensitive) */
	STORE_EASQ_AFTER,  /* date: received after */
	STORE_EASQ_BEFORE, /* date: received before */
};

struct store_eas_query {
	enum store_eas_query_kind kind;
	const char *text;
	time_t date;
	const struct store_eas_query *children;
	size_t nchildren;
};

struct store_eas_hit {
	uint64_t folder_id;
	uint32_t uid;
	time_t internal_date;
};

struct store_eas_search_result {
	const struct store_eas_hit *hits; /* newest first, from offset */
	size_t count;
	uint64_t total; /* every match */
};

typedef void store_eas_search_cb(const struct store_eas_search_result *res, enum store_err code,
                                 const char *error, void *ctx);
/* Messages of folder_ids (mail folders of the account; others are
 * ignored) matching query, newest first, limit of them from offset.
 * STORE_ERR_INVALID for a malformed query (nesting over 16 levels, an
 * empty AND/OR, empty text). */
struct store_op *store_eas_search(struct store *store, uint64_t account_id,
                                  const uint64_t *folder_ids, size_t nfolders,
                                  const struct store_eas_query *query, size_t offset, size_t limit,
                                  store_eas_search_cb *cb, void *ctx);

#endif
