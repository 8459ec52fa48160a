/* The GroupWare Trash for floectl over its BLOCKING libpq connection (never
 * for a worker): list an account's trashed groupware items, restore them
 * into their folders, purge old entries. The writes are the SQL functions
 * the store uses (db/migrations/0012_groupware_trash.sql), each call one
 * transaction, so a running floed sees a restore exactly as an append
 * (modseq, change notice).
 *
 * Conventions as in admin.h: the account is an address (any case, aliases
 * too); a folder is a '/'-separated path matched against the path the item
 * was deleted from and against the current path of that folder; functions
 * return 0 or -1 with *error_r a one-line message in static storage, valid
 * until the next admin_* call; results are released with the _free. */
#ifndef FLOE_ADMIN_TRASH_H
#define FLOE_ADMIN_TRASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

struct admin_trash_entry {
	int64_t id;
	char *folder_path; /* where it was deleted from */
	char *folder_type; /* event, contact, task, note, journal, file */
	bool folder_gone;  /* that folder was removed since */
	char *object_uid;
	char *kind;  /* event, task, note, journal, contact, distlist...; NULL */
	char *title; /* NULL when none */
	int64_t size;
	char *deleted_at; /* "YYYY-MM-DDTHH:MM:SSZ" */
	int64_t age_days; /* whole days since */
};

struct admin_trash_list {
	char *owner;                     /* canonical address */
	struct admin_trash_entry *items; /* newest first */
	size_t count;
	int64_t total_size; /* every entry of the account (counts against its quota) */
};

/* The trash of address, or only what was deleted from folder (NULL: all). */
int admin_trash_list(PGconn *conn, const char *address, const char *folder,
                     struct admin_trash_list *list_r, const char **error_r);
void admin_trash_list_free(struct admin_trash_list *list);

struct admin_trash_restored {
	int64_t id;
	char *object_uid;
	char *from_path; /* the folder it was deleted from */
	bool restored;
	char *folder_path; /* where it went (or would have gone); NULL when none */
	bool moved;        /* not its own folder (removed): the default one */
	int64_t uid;       /* its new IMAP UID */
	char *error;       /* why not, when not restored */
};

struct admin_trash_restore_result {
	char *owner;
	struct admin_trash_restored *items;
	size_t count;
	size_t restored;
};

/* Restores, in one transaction, the entries of address deleted from folder
 * (NULL: any) with object UID object_uid (NULL: every such entry), newest
 * deletion first (floe_gwtrash_restore). Entries refused (their UID is in
 * the folder already, no folder to go to) stay in the trash and are
 * reported with their reason; the others are restored. No matching entry
 * at all is an error ("nothing in the trash of a matches ..."). */
int admin_trash_restore(PGconn *conn, const char *address, const char *folder,
                        const char *object_uid, struct admin_trash_restore_result *result_r,
                        const char **error_r);
void admin_trash_restore_result_free(struct admin_trash_restore_result *result);

/* Deletes the entries of address deleted at least older_than_days days
 * ago, in batches of one transaction each, then has the content garbage
 * collection take what they held (floe_content_gc_run, everything queued,
 * whatever its age). *purged_r: entries deleted; *collected_r: queue
 * entries the collection handled. */
int admin_trash_purge(PGconn *conn, const char *address, int64_t older_than_days,
                      unsigned long *purged_r, unsigned long *collected_r, const char **error_r);

#endif
