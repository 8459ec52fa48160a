/* METADATA entries of many folders at once, for LIST's METADATA return
 * option (RFC 9590): one query instead of one GETMETADATA per folder. The
 * entries themselves and their rules are those of store-acl.h; this
 * header only adds the bulk read (implemented in db/store-metadata.c). */
#ifndef FLOE_STORE_METADATA_H
#define FLOE_STORE_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store-acl.h"

struct store_metadata_folder_entry {
	uint64_t owner_id, folder_id;
	const char *name; /* lower case */
	const void *value;
	size_t len;
};

struct store_metadata_folder_list {
	const struct store_metadata_folder_entry *entries; /* in no particular order */
	size_t count;
};

/* The entries named (exact names, valid, any case; no descendants) of
 * every folder of user_id's account and, with shared, of every folder of
 * another account on which user_id has the r right. /private entries are
 * user_id's own. STORE_ERR_INVALID for a bad name. */
typedef void store_metadata_folders_cb(const struct store_metadata_folder_list *list,
                                       enum store_err code, const char *error, void *ctx);
struct store_op *store_metadata_folders(struct store *store, uint64_t user_id,
                                        const char *const *names, size_t count, bool shared,
                                        store_metadata_folders_cb *cb, void *ctx);

#endif
