/* The mail store API: what protocol front-ends (IMAP now, EAS and POP3
 * later) call instead of SQL. Every operation is asynchronous on the
 * worker's db pool: it returns a handle at once and calls its callback
 * exactly once from the event loop (never from inside the call), unless
 * the handle is abandoned first. Every write is one transaction that bumps
 * the folder's HIGHESTMODSEQ, records tombstones for removed items and
 * ends with pg_notify('floe_change', 'account folder modseq').
 *
 * Every function takes the account_id of the authenticated user it acts
 * for, and every query filters by it. Access to other users' folders (ACL)
 * is checked by the caller with store_rights (see below) before it acts;
 * the store then addresses the owner's folder by its id and owner_id.
 *
 * Callback data (result structs, strings, arrays) is owned by the store
 * and valid only during the callback: copy what you keep. On failure the
 * result is NULL and error is a one-line message; "database unavailable:
 * ..." and "query timed out ..." come from the pool. A store error with a
 * client-meaningful cause has a STORE_ERR_* code in the result's `code`
 * (see each callback). */
#ifndef FLOE_STORE_H
#define FLOE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct db;
struct store;
struct store_op;

enum store_err {
	STORE_OK = 0,
	STORE_ERR_INTERNAL,     /* database error; error text says more */
	STORE_ERR_NOT_FOUND,    /* folder or account does not exist */
	STORE_ERR_EXISTS,       /* folder name already taken */
	STORE_ERR_INVALID,      /* bad name, type, or argument */
	STORE_ERR_NOT_EMPTY,    /* e.g. deleting a folder that may not go */
	STORE_ERR_OVER_QUOTA,   /* the account's quota would be exceeded */
	STORE_ERR_MODIFIED,     /* UNCHANGEDSINCE conflict */
};

/* Creates the per-worker store over the worker's pool (not owned). */
struct store *store_create(struct db *db);
/* Operations still running are abandoned (their callbacks are not called). */
void store_destroy(struct store **store);
/* The caller no longer wants the answer; sets *op to NULL; accepts NULL. */
void store_op_abandon(struct store_op **op);

/* UID ranges, inclusive, sorted and non-overlapping ([lo, hi] pairs); the
 * store also accepts them unsorted or overlapping. Where a function takes
 * a pointer to ranges, NULL means every UID. */
struct store_uid_ranges {
	const uint32_t (*ranges)[2];
	size_t count;
};

/* ---------------------------------------------------------------------
 * Accounts (authentication)
 */

struct store_account {
	uint64_t id;
	const char *address;       /* local@domain */
	const char *display_name;
	const char *kind;          /* user, group, resource */
	bool enabled;
	const char *password_hash; /* Argon2id string, NULL when none */
	uint64_t quota_bytes;      /* 0: unlimited */
};

/* Looks up an account by "local@domain" (any case), by an alias of it, or
 * by a bare local part when exactly one domain with local_login = true has
 * it. NULL account (and no error) when there is none. */
typedef void store_account_cb(const struct store_account *account, const char *error, void *ctx);
struct store_op *store_account_lookup(struct store *store, const char *login, store_account_cb *cb,
				      void *ctx);

/* ---------------------------------------------------------------------
 * Folders
 */

struct store_folder {
	uint64_t id;
	uint64_t owner_id;       /* account owning the folder */
	uint64_t parent_id;      /* 0 at the top */
	const char *path;        /* full name with '/' separators, UTF-8 */
	const char *type;        /* mail, event, contact, task, note, journal, file */
	const char *special_use; /* inbox, sent, drafts, trash, junk, or NULL */
	bool is_default;
	bool has_children;
	bool subscribed;         /* by the calling account */
	/* A name kept only for its children after the folder was deleted
	 * (IMAP \Noselect): it holds no messages; select, append and copy
	 * into it fail with STORE_ERR_INVALID, create makes it a folder. */
	bool noselect;
	uint32_t uidvalidity;
	uint32_t uidnext;
	uint64_t highestmodseq;
	uint32_t messages;
	uint32_t unseen;         /* messages without \Seen */
	uint32_t deleted;        /* messages with \Deleted */
	uint64_t size;           /* sum of message sizes */
};

struct store_folder_list {
	const struct store_folder *folders;
	size_t count;
	/* Subscribed names that name no folder (LSUB must still list them). */
	const char *const *orphan_subscriptions;
	size_t orphan_count;
};

/* Every folder of account_id, parents before children, sorted by path. */
typedef void store_folder_list_cb(const struct store_folder_list *list, const char *error,
				  void *ctx);
struct store_op *store_folder_list(struct store *store, uint64_t account_id,
				   store_folder_list_cb *cb, void *ctx);

/* One folder by path (INBOX is matched case-insensitively) or by id
 * (path NULL). NULL folder and code STORE_ERR_NOT_FOUND when missing. */
typedef void store_folder_cb(const struct store_folder *folder, enum store_err code,
			     const char *error, void *ctx);
struct store_op *store_folder_get(struct store *store, uint64_t account_id, const char *path,
				  uint64_t folder_id, store_folder_cb *cb, void *ctx);

/* Creates path (UTF-8, '/' separated), creating missing parents as plain
 * mail folders; type NULL means "mail"; special_use may be NULL or one of
 * inbox, sent, drafts, trash, junk, archive. Fails with STORE_ERR_EXISTS
 * or STORE_ERR_INVALID (empty component, control characters, a component
 * over 255 or a path over 1024 bytes, a special use another folder has).
 * Creating a \Noselect name makes it a folder again, with a new
 * UIDVALIDITY. The callback gets the folder. */
struct store_op *store_folder_create(struct store *store, uint64_t account_id, const char *path,
				     const char *type, const char *special_use,
				     store_folder_cb *cb, void *ctx);

/* Deletes a folder with its items. A folder with children keeps its name
 * as \Noselect for them (RFC 3501 6.3.4); deleting a \Noselect name that
 * has children fails with STORE_ERR_NOT_EMPTY. INBOX and default folders
 * cannot be deleted (STORE_ERR_INVALID). */
typedef void store_done_cb(enum store_err code, const char *error, void *ctx);
struct store_op *store_folder_delete(struct store *store, uint64_t account_id, uint64_t folder_id,
				     store_done_cb *cb, void *ctx);

/* Renames (and moves) a folder and its subtree to new_path, creating
 * missing parents. Renaming INBOX moves its messages into a new folder
 * and leaves INBOX empty (RFC 3501 6.3.5). */
struct store_op *store_folder_rename(struct store *store, uint64_t account_id, uint64_t folder_id,
				     const char *new_path, store_done_cb *cb, void *ctx);

/* IMAP subscriptions are names, which may name no folder. */
struct store_op *store_subscribe(struct store *store, uint64_t account_id, const char *name,
				 bool subscribe, store_done_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Messages: the state a session keeps, and changes since a modseq
 */

/* Flags are strings: system flags with their backslash ("\\Seen"),
 * keywords as they were given. The store keeps system flags in their
 * canonical spelling (\Seen, \Answered, \Flagged, \Deleted, \Draft, given
 * in any case; other system flags, \Recent included, are refused with
 * STORE_ERR_INVALID), accepts keywords that are IMAP atoms, matches flags
 * case-insensitively, and keeps no duplicates; their order means nothing. */
struct store_msg {
	uint32_t uid;
	uint64_t modseq;
	const char *const *flags;
	size_t nflags;
};

struct store_msg_list {
	const struct store_folder *folder; /* the folder's counters at that moment */
	const struct store_msg *msgs;      /* sorted by uid */
	size_t count;
	/* For store_changes: UIDs expunged after the given modseq (sorted). */
	const uint32_t *vanished;
	size_t nvanished;
};

/* The folder and every message's uid, modseq and flags (SELECT). */
typedef void store_msg_list_cb(const struct store_msg_list *list, enum store_err code,
			       const char *error, void *ctx);
struct store_op *store_folder_select(struct store *store, uint64_t account_id, uint64_t folder_id,
				     store_msg_list_cb *cb, void *ctx);

/* What changed after modseq: messages (added or with new flags) whose
 * modseq > since, and UIDs expunged after since. Used for NOOP/IDLE
 * refreshes, QRESYNC and CONDSTORE. */
struct store_op *store_changes(struct store *store, uint64_t account_id, uint64_t folder_id,
			       uint64_t since, store_msg_list_cb *cb, void *ctx);

/* The checks the store applies to a flag: 0, or -1 with *error_r for a
 * system flag it does not know or a keyword that is not an IMAP atom. And
 * the canonical spelling of a system flag ("\\SEEN" -> "\\Seen"), or
 * NULL if flag is not one. */
int store_flag_check(const char *flag, const char **error_r);
const char *store_system_flag(const char *flag);

/* ---------------------------------------------------------------------
 * Writes
 */

/* What modules/message.c computed at parse time, stored beside the item
 * (once per distinct message content: the first append of some bytes that
 * carries meta provides it for every copy). Text that is not valid UTF-8
 * is stored with each offending byte replaced by '?'. */
struct store_msg_meta {
	uint64_t size;             /* not used: the size is that of the data */
	const char *envelope;      /* IMAP ENVELOPE text */
	const char *bodystructure; /* IMAP BODYSTRUCTURE text */
	const char *body;          /* IMAP BODY text */
	const char *partmap;       /* JSON part map (modules/message.h) */
	time_t sent_date;          /* -1 (or 0): none */
	const char *subject, *base_subject;
	const char *from_addr, *to_addr, *cc_addr, *bcc_addr;
	const char *sort_from, *sort_to, *sort_cc, *sort_display_from, *sort_display_to;
	const char *message_id, *in_reply_to, *references;
	const char *preview;
	const char *search_text;   /* decoded text of the body parts, for BODY/TEXT */
	const char *headers_text;  /* the header block, for HEADER/TEXT */
	bool has_attachment;
};

struct store_append_item {
	const void *data;          /* the raw message */
	size_t size;
	const char *const *flags;
	size_t nflags;
	time_t internal_date;      /* 0: now */
	const struct store_msg_meta *meta; /* NULL: not parsed */
};

struct store_append_result {
	uint32_t uidvalidity;
	const uint32_t *uids;      /* one per item, in order */
	size_t count;
	uint64_t modseq;
};

/* Appends every item in one transaction (MULTIAPPEND: all or nothing).
 * Blobs are stored once by SHA-256. Fails with STORE_ERR_OVER_QUOTA when
 * the account's quota would be exceeded, STORE_ERR_NOT_FOUND when the
 * folder is gone. */
typedef void store_append_cb(const struct store_append_result *res, enum store_err code,
			     const char *error, void *ctx);
struct store_op *store_append(struct store *store, uint64_t account_id, uint64_t folder_id,
			      const struct store_append_item *items, size_t count,
			      store_append_cb *cb, void *ctx);

enum store_flag_op {
	STORE_FLAGS_SET,
	STORE_FLAGS_ADD,
	STORE_FLAGS_REMOVE,
};

struct store_flags_result {
	const struct store_msg *changed; /* messages whose flags changed, new state */
	size_t count;
	/* UNCHANGEDSINCE: messages not changed because their modseq was higher */
	const uint32_t *modified;
	size_t nmodified;
	uint64_t highestmodseq;
};

/* Changes flags of the messages in uids. unchangedsince = 0: no check.
 * Messages whose flags end up unchanged keep their modseq. */
typedef void store_flags_cb(const struct store_flags_result *res, enum store_err code,
			    const char *error, void *ctx);
struct store_op *store_flags(struct store *store, uint64_t account_id, uint64_t folder_id,
			     const struct store_uid_ranges *uids, enum store_flag_op op,
			     const char *const *flags, size_t nflags, uint64_t unchangedsince,
			     store_flags_cb *cb, void *ctx);

struct store_expunge_result {
	const uint32_t *uids; /* expunged, sorted */
	size_t count;
	uint64_t highestmodseq;
};

/* Removes the messages flagged \Deleted (restricted to uids when not
 * NULL: UID EXPUNGE), leaving tombstones. The parse results and bytes of
 * contents nothing refers to any more are deleted later by the content
 * garbage collection (store_content_gc; the store runs it by itself at
 * most every STORE_GC_INTERVAL_MS, after an expunge). */
typedef void store_expunge_cb(const struct store_expunge_result *res, enum store_err code,
			      const char *error, void *ctx);
struct store_op *store_expunge(struct store *store, uint64_t account_id, uint64_t folder_id,
			       const struct store_uid_ranges *uids, store_expunge_cb *cb, void *ctx);

/* The content garbage collection: deletes the parse results and blobs of
 * expunged contents that no item refers to any more (queued by expunges;
 * see floe_content_gc_run in 0009_imap_perf.sql), all that are queued,
 * up to STORE_GC_BATCH; cb gets how many queue entries it handled (0 when
 * another run was busy). */
#define STORE_GC_INTERVAL_MS 30000
#define STORE_GC_BATCH       2000
typedef void store_gc_cb(unsigned long handled, enum store_err code, const char *error, void *ctx);
struct store_op *store_content_gc(struct store *store, store_gc_cb *cb, void *ctx);

struct store_copy_result {
	uint32_t dest_uidvalidity;
	const uint32_t *src_uids;  /* sorted */
	const uint32_t *dest_uids; /* dest_uids[i] is the copy of src_uids[i] */
	size_t count;
	/* For MOVE: the source folder's UIDs expunged (= src_uids). */
	uint64_t src_highestmodseq;
};

/* Copies (or, with move, moves: copy + expunge from the source, one
 * transaction) the messages in uids from src_folder to dest_folder of the
 * same or another account (dest_owner_id). Blobs are shared, not copied.
 * Flags are kept. Quota of the destination owner is enforced. */
typedef void store_copy_cb(const struct store_copy_result *res, enum store_err code,
			   const char *error, void *ctx);
struct store_op *store_copy(struct store *store, uint64_t account_id, uint64_t src_folder_id,
			    const struct store_uid_ranges *uids, uint64_t dest_owner_id,
			    uint64_t dest_folder_id, bool move, store_copy_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Reading messages
 */

enum store_fetch_fields {
	STORE_FETCH_FLAGS = 1 << 0, /* uid, modseq and flags are always given */
	STORE_FETCH_INTERNALDATE = 1 << 1,
	STORE_FETCH_SIZE = 1 << 2,
	STORE_FETCH_ENVELOPE = 1 << 3,
	STORE_FETCH_BODYSTRUCTURE = 1 << 4, /* also fills body */
	STORE_FETCH_PARTMAP = 1 << 5,       /* also fills blob_hash */
	STORE_FETCH_PREVIEW = 1 << 6,
	STORE_FETCH_IDS = 1 << 7,           /* email_id, thread_id */
	STORE_FETCH_HEADER = 1 << 8,        /* header, header_offset, header_len */
};

/* STORE_FETCH_HEADER gives a message's top-level header block with its
 * metadata, in the same query, up to this size (larger ones: NULL). */
#define STORE_FETCH_HEADER_MAX (64 * 1024)

struct store_fetch_row {
	uint32_t uid;
	uint64_t modseq;
	const char *const *flags;
	size_t nflags;
	time_t internal_date;
	uint64_t size;
	const char *envelope, *bodystructure, *body, *partmap, *preview;
	const char *email_id, *thread_id;
	const char *blob_hash; /* hex SHA-256, for store_blob_read */
	/* STORE_FETCH_HEADER: the raw bytes [header_offset, header_offset +
	 * header_len) of the message, its header block with the blank line
	 * (as the part map's "" part has it); NULL when not asked for,
	 * without a part map, or larger than STORE_FETCH_HEADER_MAX. */
	const char *header;
	uint64_t header_offset;
	size_t header_len;
};

struct store_fetch_result {
	const struct store_fetch_row *rows; /* sorted by uid; missing UIDs are absent */
	size_t count;
};

/* Metadata of the messages in uids; changedsince > 0 keeps only messages
 * with a higher modseq (CONDSTORE FETCH CHANGEDSINCE). */
typedef void store_fetch_cb(const struct store_fetch_result *res, enum store_err code,
			    const char *error, void *ctx);
struct store_op *store_fetch(struct store *store, uint64_t account_id, uint64_t folder_id,
			     const struct store_uid_ranges *uids, unsigned fields,
			     uint64_t changedsince, store_fetch_cb *cb, void *ctx);

/* For a per-worker message cache (imapx/msg-cache.c): the messages of
 * folder_id within uids, each with its uid, modseq and flags, and, for
 * those also within data_uids (the ones the cache misses), what never
 * changes for a (folder, UIDVALIDITY, UID) (see floe_fetch_cache in
 * 0013_imap_cache.sql). The whole message comes along for data rows no
 * larger than blob_max bytes (0: never); the top-level header block
 * (up to STORE_FETCH_HEADER_MAX) for the larger ones. */
struct store_cache_row {
	uint32_t uid;
	uint64_t modseq;
	const char *const *flags;
	size_t nflags;
	uint32_t uidvalidity;   /* the folder's, as of this answer */
	bool data;              /* within data_uids: the fields below are set */
	/* The message was parsed: its data never changes and may be kept.
	 * Otherwise the fields are what store_fetch would give (NULLs). */
	bool cacheable;
	int64_t internal_us;    /* INTERNALDATE, microseconds since the epoch */
	uint64_t size;
	const char *envelope, *bodystructure, *body, *partmap, *preview;
	const char *email_id, *thread_id;
	const char *blob_hash;  /* hex SHA-256 */
	/* The header block [header_offset, header_offset + header_len) as
	 * in store_fetch_row (from the blob when it came too); NULL if none. */
	const char *header;
	uint64_t header_offset;
	size_t header_len;
	bool has_sent_date;
	int64_t sent_us;        /* the Date: field, microseconds */
	/* Subject and the decoded address fields, folded as SEARCH folds
	 * them (floe_fold); NULL when absent. */
	const char *subject, *from, *to, *cc, *bcc;
	const void *blob;       /* the whole message, or NULL */
	size_t blob_len;
};

struct store_cache_result {
	const struct store_cache_row *rows; /* sorted by uid; missing UIDs are absent */
	size_t count;
};

typedef void store_cache_cb(const struct store_cache_result *res, enum store_err code,
			    const char *error, void *ctx);
struct store_op *store_fetch_cache(struct store *store, uint64_t account_id, uint64_t folder_id,
				   const struct store_uid_ranges *uids,
				   const struct store_uid_ranges *data_uids, size_t blob_max,
				   store_cache_cb *cb, void *ctx);

/* Reads length bytes at offset of a blob (fewer at its end), without
 * loading the rest: large literals are streamed in chunks. account_id and
 * folder_id prove the caller may see it (the blob must belong to an item
 * in that folder). */
typedef void store_blob_cb(const void *data, size_t len, enum store_err code, const char *error,
			   void *ctx);
struct store_op *store_blob_read(struct store *store, uint64_t account_id, uint64_t folder_id,
				 const char *blob_hash, uint64_t offset, size_t length,
				 store_blob_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * SEARCH and SORT
 */

enum store_search_key {
	SK_ALL,
	SK_AND,        /* children */
	SK_OR,         /* two children */
	SK_NOT,        /* one child */
	SK_UID,        /* uids */
	SK_FLAG,       /* text: flag or keyword present */
	SK_NOFLAG,     /* text: absent */
	SK_BEFORE,     /* date: internal date < day (UTC day start) */
	SK_ON,
	SK_SINCE,
	SK_SENTBEFORE, /* date: Date: header */
	SK_SENTON,
	SK_SENTSINCE,
	SK_LARGER,     /* number */
	SK_SMALLER,
	SK_HEADER,     /* header name in field, text value ("" = has header) */
	SK_SUBJECT,    /* text */
	SK_FROM,
	SK_TO,
	SK_CC,
	SK_BCC,
	SK_BODY,       /* text in decoded body */
	SK_TEXT,       /* text in headers or body */
	SK_MODSEQ,     /* number: modseq >= */
	SK_OLDER,      /* number: seconds (RFC 5032 WITHIN) */
	SK_YOUNGER,
	SK_EMAILID,    /* text (RFC 8474) */
	SK_THREADID,
};

/* A criteria tree. Text matching is case-insensitive substring matching on
 * UTF-8 (the caller converts other charsets). */
struct store_search {
	enum store_search_key key;
	const char *field;            /* SK_HEADER: header name */
	const char *text;
	uint64_t number;
	time_t date;
	struct store_uid_ranges uids; /* SK_UID */
	const struct store_search *children;
	size_t nchildren;
};

enum store_sort_key {
	SORT_ARRIVAL,
	SORT_DATE,
	SORT_FROM,
	SORT_SUBJECT,
	SORT_SIZE,
	SORT_TO,
	SORT_CC,
	SORT_DISPLAYFROM,
	SORT_DISPLAYTO,
};

struct store_sort {
	enum store_sort_key key;
	bool reverse;
};

struct store_search_result {
	const uint32_t *uids; /* sorted by uid, or in sort order */
	size_t count;
	uint64_t highestmodseq; /* of the matched messages (CONDSTORE SEARCH) */
};

/* Matches criteria in folder_id; with nsort > 0 the result is in that
 * order (ties by uid), else ascending uid. Dates compare whole UTC days
 * (a date is taken as the UTC day it falls in); SENT* keys use the
 * internal date of a message without a Date: field. FLAG of a flag the
 * store cannot hold (\Recent) matches nothing. STORE_ERR_INVALID for a
 * malformed tree (NOT without one child, nesting over 64 levels, a bad
 * header name, an unknown key). */
typedef void store_search_cb(const struct store_search_result *res, enum store_err code,
			     const char *error, void *ctx);
struct store_op *store_search(struct store *store, uint64_t account_id, uint64_t folder_id,
			      const struct store_search *criteria, const struct store_sort *sort,
			      size_t nsort, store_search_cb *cb, void *ctx);

#endif
