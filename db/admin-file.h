/* Files of file folders for floectl over its BLOCKING libpq connection
 * (never for a worker): listing a folder's files from the index, finding
 * one by name, reading its stored item, and storing an item (built and
 * parsed by the caller with modules/groupware-item.h and message.h) as a
 * new file or as the replacement of an existing one. Writes call the
 * store's own SQL functions (floe_groupware_append / _replace of
 * 0010_groupware.sql) in one transaction, so a running floed sees the
 * change (modseq, notice) as if it came over IMAP.
 *
 * Conventions as in admin-share.h: owners are addresses (any case,
 * aliases too); folders are '/'-separated paths and must be of type file;
 * functions return 0 (or 1/0 where said) or -1 with *error_r a one-line
 * message in static storage, valid until the next admin_file_* call. */
#ifndef FLOE_ADMIN_FILE_H
#define FLOE_ADMIN_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store-groupware.h"

struct admin_file {
	int64_t uid; /* IMAP UID */
	int64_t modseq;
	char *object_uid; /* the item's UID (Subject) */
	char *filename;
	int64_t size; /* decoded */
	char *media_type;
	char *sha256;      /* hex */
	char *stored_at;   /* internal date, ISO 8601 UTC */
	int64_t item_size; /* of the MIME item */
};

struct admin_file_list {
	char *owner; /* the account's canonical address */
	struct admin_file *items;
	size_t count;
};

/* The files of folder (a file folder of address), by name then UID. */
int admin_file_list(PGconn *conn, const char *address, const char *folder,
                    struct admin_file_list *list_r, const char **error_r);
void admin_file_list_free(struct admin_file_list *list);
void admin_file_clear(struct admin_file *file);

/* The file called name in folder (the newest, highest UID, when several
 * have it). Returns 1 with *file_r, 0 when there is none, -1 on error. */
int admin_file_find(PGconn *conn, const char *address, const char *folder, const char *name,
                    struct admin_file *file_r, const char **error_r);

/* The stored MIME item of file UID uid in folder: *data_r (the caller
 * frees) and *len_r. */
int admin_file_read(PGconn *conn, const char *address, const char *folder, int64_t uid,
                    unsigned char **data_r, size_t *len_r, const char **error_r);

/* Stores item (its index must be of kind file) in folder: appended, or
 * with replace_uid > 0 replacing that item in the same transaction (it
 * must still exist). *uid_r gets the new IMAP UID. */
int admin_file_store(PGconn *conn, const char *address, const char *folder, int64_t replace_uid,
                     const struct store_append_item *item, const struct store_gw_index *index,
                     int64_t *uid_r, const char **error_r);

#endif
