/* The groupware store: items of typed folders (events, tasks, notes,
 * journal entries, contacts, distribution lists, files) written together with
 * their index in one transaction, and the queries the index answers:
 * items of a folder overlapping a time range, contacts by name or address
 * prefix, items by object UID. The item itself is an ordinary item (a
 * MIME message in the Kolab form, modules/groupware-item.h) that IMAP
 * FETCH, EXPUNGE, COPY and MOVE treat like any other; the index is kept
 * per content (see db/migrations/0010_groupware.sql), so copies and moves
 * keep it and expunging the last copy removes it.
 *
 * Conventions as in store.h: asynchronous on the worker's pool, callback
 * exactly once from the event loop, data valid during the callback only,
 * every query filtered by account_id (the folder owner's; ACL is the
 * caller's business). */
#ifndef FLOE_STORE_GROUPWARE_H
#define FLOE_STORE_GROUPWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "store.h"

struct store_gw_attendee {
	const char *address, *name, *partstat, *role;
};

/* What is indexed of one object (modules/groupware-item.c fills it).
 * Strings may be NULL; times are UTC instants. */
struct store_gw_index {
	const char *kind;  /* event, task, note, journal, contact, distlist, file */
	const char *uid;   /* required */
	const char *title; /* SUMMARY or FN */
	const char *location, *status, *klass, *rrule, *organizer;
	bool is_private;
	bool has_start, has_end, has_due, has_completed;
	time_t start, end; /* first occurrence (a task without DTSTART: its due) */
	bool all_day, floating, recurring;
	bool infinite;    /* recurs without end: range_end is not used */
	time_t range_end; /* end of the last occurrence (when has_start) */
	time_t due, completed;
	int percent;  /* -1: none */
	int priority; /* 0: none */
	const char *const *categories;
	size_t ncategories;
	const struct store_gw_attendee *attendees;
	size_t nattendees;
	/* contacts and distribution lists */
	const char *given_name, *family_name, *org;
	const char *const *emails;
	size_t nemails;
	const char *const *phones;
	size_t nphones;
	const char *const *members;
	size_t nmembers;
	int bday_year, bday_month, bday_day; /* month 0: no birthday; year 0: unknown */
	/* files (kind file): the file name (also title), its media type, its
	 * decoded size and SHA-256 (lower-case hex); all required */
	const char *filename, *media_type, *sha256;
	uint64_t file_size;
};

/* Appends one item to a groupware folder with its index, in one
 * transaction (store_append's rules: quota, modseq, notice). Fails with
 * STORE_ERR_INVALID when the folder's type does not hold index->kind (a
 * distlist goes into a contact folder) or the index lacks kind or uid,
 * STORE_ERR_NOT_FOUND when the folder is gone. */
struct store_op *store_groupware_append(struct store *store, uint64_t account_id,
                                        uint64_t folder_id, const struct store_append_item *item,
                                        const struct store_gw_index *index, store_append_cb *cb,
                                        void *ctx);

/* The same for count items at once (IMAP MULTIAPPEND), all or nothing:
 * indexes[i] describes items[i]; every kind must suit the folder. The
 * result has one UID per item, in order. */
struct store_op *store_groupware_append_many(struct store *store, uint64_t account_id,
                                             uint64_t folder_id,
                                             const struct store_append_item *items,
                                             const struct store_gw_index *const *indexes,
                                             size_t count, store_append_cb *cb, void *ctx);

/* Replaces item old_uid of the folder by a new version in one
 * transaction: the new item is appended, old_uid is removed with a
 * tombstone of the same modseq. unchangedsince > 0: fails with
 * STORE_ERR_MODIFIED (nothing written) when old_uid's modseq is higher;
 * STORE_ERR_NOT_FOUND when old_uid does not exist. */
struct store_op *store_groupware_replace(struct store *store, uint64_t account_id,
                                         uint64_t folder_id, uint32_t old_uid,
                                         uint64_t unchangedsince,
                                         const struct store_append_item *item,
                                         const struct store_gw_index *index, store_append_cb *cb,
                                         void *ctx);

/* One indexed item as the queries return it. */
struct store_gw_row {
	uint64_t folder_id;
	uint32_t uid; /* the item's IMAP UID */
	uint64_t modseq;
	const char *blob_hash; /* hex, for store_blob_read (the whole MIME item) */
	const char *kind, *object_uid, *title, *location, *status, *rrule;
	bool has_start;
	time_t start, end;
	bool infinite;
	time_t range_end;
	bool all_day, floating, recurring, is_private;
	/* contacts */
	const char *given_name, *family_name, *org;
	const char *const *emails;
	size_t nemails;
	const char *const *phones;
	size_t nphones;
};

struct store_gw_list {
	const struct store_gw_row *rows;
	size_t count;
};

typedef void store_gw_list_cb(const struct store_gw_list *list, enum store_err code,
                              const char *error, void *ctx);

/* Items of folder_id with an occurrence that may overlap [from, to): the
 * first occurrence starts before to, and the last ends after from (or
 * starts at or after from, for zero-length items), endless ones always.
 * Floating and all-day items are matched with 14 hours' margin on each
 * side, since their instant depends on the viewer's zone: the caller
 * expands them (modules/recurrence.h) for the exact answer. Items without
 * any date (notes, undated tasks) are not returned. Sorted by start, then
 * uid; at most limit rows (0: 10000). */
struct store_op *store_groupware_range(struct store *store, uint64_t account_id, uint64_t folder_id,
                                       time_t from, time_t to, unsigned limit, store_gw_list_cb *cb,
                                       void *ctx);

/* Contacts and distribution lists whose name, a word of it, given or
 * family name, organization or an address starts with prefix (case-
 * insensitively), in folder_id or, with folder_id 0, in every contact
 * folder of the account. Sorted by title, then folder and uid; at most
 * limit rows (0: 100). An empty prefix lists everything. */
struct store_op *store_groupware_contacts(struct store *store, uint64_t account_id,
                                          uint64_t folder_id, const char *prefix, unsigned limit,
                                          store_gw_list_cb *cb, void *ctx);

/* The items of folder_id whose object has this UID (normally one; two
 * while a client replaces an item by APPEND then EXPUNGE), by uid. */
struct store_op *store_groupware_find_uid(struct store *store, uint64_t account_id,
                                          uint64_t folder_id, const char *object_uid,
                                          store_gw_list_cb *cb, void *ctx);

/* For floectl (db/admin-file.c), which calls floe_groupware_append over
 * its own connection: the three text parameters after the account and
 * folder ids (the items in base64 as a text[] literal, the item JSON
 * array, the index JSON array). Returns 0 with the three strings (the
 * caller frees them), or -1 with *error_r for bad input. */
int store_groupware_append_params(const struct store_append_item *items,
                                  const struct store_gw_index *const *indexes, size_t count,
                                  char **datas_r, char **items_r, char **index_r,
                                  const char **error_r);

/* One file of a file folder, as WebDAV lists it without parsing. */
struct store_gw_file {
	uint32_t uid; /* the item's IMAP UID */
	uint64_t modseq;
	const char *blob_hash;  /* hex, for store_blob_read (the whole MIME item) */
	const char *object_uid; /* the item's UID (Subject) */
	const char *filename;
	uint64_t size; /* of the decoded file */
	const char *media_type;
	const char *sha256;   /* of the decoded file, lower-case hex */
	time_t internal_date; /* when it was stored */
	uint64_t item_size;   /* of the MIME item */
};

struct store_gw_file_list {
	const struct store_gw_file *files;
	size_t count;
};

typedef void store_gw_file_list_cb(const struct store_gw_file_list *list, enum store_err code,
                                   const char *error, void *ctx);

/* The files of folder_id, or with filename only those of that name
 * (exact, case-sensitive; several while a client replaces a file by
 * APPEND then EXPUNGE, or when two items carry the same name), sorted by
 * name (bytewise), then uid. Items flagged \Deleted are listed too. */
struct store_op *store_groupware_files(struct store *store, uint64_t account_id, uint64_t folder_id,
                                       const char *filename, store_gw_file_list_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Private items (CLASS:PRIVATE, store_gw_index.is_private) are invisible
 * to a grantee of another account's folder who lacks Administer (the
 * owner and Administer grantees see everything). The protocol decides
 * who is restricted; these queries give it what to leave out. A private
 * item stays private for its life: changing it is a replacement with a
 * new UID. Tombstones do not record whether the item was private.
 */

/* store_folder_select (select true; since ignored) or store_changes after
 * since, for a restricted session, in one statement (one snapshot):
 * list->msgs leaves the private items out, private_uids (sorted) lists
 * the folder's private items among list's messages plus those whose
 * modseq is above private_since (0: every one; pass since when the caller
 * already knows the older ones). list->folder's counters still count
 * every item; list->vanished may hold UIDs of private items. */
typedef void store_gw_visible_cb(const struct store_msg_list *list, const uint32_t *private_uids,
                                 size_t nprivate, enum store_err code, const char *error,
                                 void *ctx);
struct store_op *store_groupware_visible(struct store *store, uint64_t account_id,
                                         uint64_t folder_id, bool select, uint64_t since,
                                         uint64_t private_since, store_gw_visible_cb *cb,
                                         void *ctx);

/* The sorted UIDs of the private items of folder_id whose modseq is above
 * since (0: all). */
typedef void store_gw_uids_cb(const uint32_t *uids, size_t count, enum store_err code,
                              const char *error, void *ctx);
struct store_op *store_groupware_private_uids(struct store *store, uint64_t account_id,
                                              uint64_t folder_id, uint64_t since,
                                              store_gw_uids_cb *cb, void *ctx);

/* The UIDs of the private items whose modseq is above since in each of
 * folders[i] = {owner account id, folder id} (at most
 * STORE_GW_COUNTS_MAX), sorted by owner, folder and uid. */
struct store_gw_private_uid {
	uint64_t owner_id, folder_id;
	uint32_t uid;
};
typedef void store_gw_private_many_cb(const struct store_gw_private_uid *rows, size_t count,
                                      enum store_err code, const char *error, void *ctx);
struct store_op *store_groupware_private_many(struct store *store, const uint64_t (*folders)[2],
                                              size_t count, uint64_t since,
                                              store_gw_private_many_cb *cb, void *ctx);

/* The STATUS counters of folders counting only items that are not
 * private. */
struct store_gw_counts {
	uint64_t owner_id, folder_id;
	uint32_t messages, unseen, deleted;
	uint64_t size;
};
typedef void store_gw_counts_cb(const struct store_gw_counts *counts, size_t count,
                                enum store_err code, const char *error, void *ctx);
/* For each folder folders[i] = {owner account id, folder id} (the
 * owner's id is the account_id every row is filtered by), one entry in
 * the same order (zeros for a folder that is gone). At most
 * STORE_GW_COUNTS_MAX folders per call. */
#define STORE_GW_COUNTS_MAX 1000
struct store_op *store_groupware_visible_counts(struct store *store, const uint64_t (*folders)[2],
                                                size_t count, store_gw_counts_cb *cb, void *ctx);

#endif
