/* Shared folders and METADATA in the store: access control lists (RFC 4314
 * rights, kept as the letters "lrswipkxtea") on folders and whole accounts
 * with inheritance, the effective rights of a user on another account's
 * folder, the folders shared with a user, and METADATA entries (RFC 5464)
 * of folders and of the server level. Same conventions as store.h:
 * asynchronous, one callback per call from the event loop, results valid
 * during the callback only, every write one transaction.
 *
 * The model (db/migrations/0004_acl_metadata.sql):
 * - An entry grants a user, a group (all its members) or "anyone" (every
 *   user of every domain) rights on one folder, or on the whole account
 *   (folder_id 0 here, NULL in the table).
 * - A folder without entries of its own that still inherits takes the
 *   entries of its parent, recursively, and at the top those of the
 *   account; it follows later changes of the parent. Changing the ACL of
 *   such a folder first copies what it inherited to it and cancels its
 *   inheritance (store_acl_inherit undoes that).
 * - The owner always has every right; other users have the union of the
 *   entries that apply to them in the governing folder.
 * - Every ACL change ends with the change notice (owner, folder, 0) for the
 *   folder and each folder below it (every folder of the account for an
 *   account-level change): modseq 0 means "rights changed" to the views.
 *
 * Grantees are named by address ("bob@example.com", any case, aliases
 * too; a group's address for a group) or "anyone". Negative rights
 * ("-bob") do not exist here. */
#ifndef FLOE_STORE_ACL_H
#define FLOE_STORE_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ---------------------------------------------------------------------
 * Rights
 */

/* Every right, as an owner has them. */
#define STORE_ACL_ALL "lrswipkxtea"

/* The rights (letters, "" for none) of user_id on folder_id of owner_id
 * (0: the account level). Every right when user_id is the owner. A
 * missing folder gives "" (no error). */
typedef void store_acl_rights_cb(const char *rights, enum store_err code, const char *error,
                                 void *ctx);
struct store_op *store_acl_rights(struct store *store, uint64_t user_id, uint64_t owner_id,
                                  uint64_t folder_id, store_acl_rights_cb *cb, void *ctx);

/* A folder named by its owner's address and path, as user_id sees it. */
struct store_acl_target {
	uint64_t owner_id;
	const char *owner; /* the owner's address (canonical) */
	/* The folder at path, NULL when there is none; its path is the name
	 * user_id uses: "~owner@domain/path" (or the path itself when owner
	 * was NULL). subscribed is meaningful for one's own folders only
	 * (shared folders are subscribed by id: store_acl_shared). */
	const struct store_folder *folder;
	const char *path;   /* path in the owner's account */
	const char *rights; /* user_id's rights on it, "" when none */
	/* The nearest existing ancestor of path (0: the account's root) and
	 * user_id's rights there: CREATE needs k on it, RENAME k on the new
	 * name's. */
	uint64_t parent_id;
	const char *parent_rights;
};

/* Resolves path (UTF-8, '/' separated; NULL: only the owner, folder NULL
 * and parent 0) in the account of owner (an address, or NULL for
 * user_id's own account) for user_id. Fails with
 * STORE_ERR_NOT_FOUND when the owner does not exist, STORE_ERR_INVALID for
 * a malformed path. A missing folder is not an error (folder NULL). The
 * caller decides what the rights allow; a folder on which the user has
 * neither l nor r must be reported as missing. */
typedef void store_acl_target_cb(const struct store_acl_target *target, enum store_err code,
                                 const char *error, void *ctx);
struct store_op *store_acl_lookup(struct store *store, uint64_t user_id, const char *owner,
                                  const char *path, store_acl_target_cb *cb, void *ctx);

/* ---------------------------------------------------------------------
 * Access control lists
 */

enum store_grantee_kind {
	STORE_GRANTEE_USER,
	STORE_GRANTEE_GROUP,
	STORE_GRANTEE_ANYONE,
};

struct store_acl_entry {
	enum store_grantee_kind kind;
	uint64_t grantee_id; /* 0 for anyone */
	const char *grantee; /* address, or "anyone" */
	const char *rights;  /* letters, never empty */
};

struct store_acl_list {
	/* The folder whose entries apply (0: the account's), and whether
	 * that is an ancestor's or the account's rather than the folder's
	 * own. */
	uint64_t source_id;
	bool inherited;
	const struct store_acl_entry *entries; /* anyone first, then by address */
	size_t count;
};

/* The entries in force on folder_id of owner_id (0: the account level).
 * STORE_ERR_NOT_FOUND when the folder does not exist. */
typedef void store_acl_list_cb(const struct store_acl_list *list, enum store_err code,
                               const char *error, void *ctx);
struct store_op *store_acl_get(struct store *store, uint64_t owner_id, uint64_t folder_id,
                               store_acl_list_cb *cb, void *ctx);

enum store_acl_mode {
	STORE_ACL_REPLACE, /* the entry gets exactly rights */
	STORE_ACL_ADD,     /* rights are added to the entry's */
	STORE_ACL_REMOVE,  /* rights are removed from the entry's */
	STORE_ACL_DELETE,  /* the entry goes (rights ignored) */
};

/* Changes the entry of grantee (an address or "anyone") on folder_id of
 * owner_id (0: the whole account); rights are letters (c and d already
 * expanded; others are ignored). An entry left without rights is deleted.
 * The callback gets the entry's new rights ("" when it is gone). Fails
 * with STORE_ERR_NOT_FOUND when the folder does not exist and
 * STORE_ERR_INVALID when the grantee is unknown or is the owner (a group
 * account may be the grantee of its own folders: public folders, its
 * members get the rights). In the same transaction, every user who gains
 * a right (the grantee, or each member of a group grantee; not through
 * "anyone", not the members of a group's own folders) or loses its last
 * one gets a share notice queued (db/store-share.h). */
typedef void store_acl_set_cb(const char *rights, enum store_err code, const char *error,
                              void *ctx);
struct store_op *store_acl_set(struct store *store, uint64_t owner_id, uint64_t folder_id,
                               const char *grantee, enum store_acl_mode mode, const char *rights,
                               store_acl_set_cb *cb, void *ctx);

/* inherit true: folder_id drops its own entries and inherits again;
 * false: it keeps a copy of what it inherited and stops inheriting. */
struct store_op *store_acl_inherit(struct store *store, uint64_t owner_id, uint64_t folder_id,
                                   bool inherit, store_done_cb *cb, void *ctx);

struct store_acl_shared {
	uint64_t owner_id;
	const char *owner; /* the owner's address */
	/* The folder, its path being the name user_id uses
	 * ("~owner@domain/path") and subscribed whether user_id's share
	 * subscriptions list it (db/store-share.h: the folder, one above it
	 * or the whole account subscribed, or a public folder of a group
	 * user_id is a member of, unless unsubscribed). has_children counts
	 * every child, visible or not. */
	struct store_folder folder;
	const char *path;   /* path in the owner's account */
	const char *rights; /* user_id's rights; always include "l" */
};

struct store_acl_shared_list {
	const struct store_acl_shared *folders; /* by owner address, then path */
	size_t count;
};

/* The folders of other accounts on which user_id has the l right: LIST
 * shows the subscribed ones under "~owner@domain/"; access by name does
 * not depend on subscriptions. */
typedef void store_acl_shared_cb(const struct store_acl_shared_list *list, const char *error,
                                 void *ctx);
struct store_op *store_acl_shared(struct store *store, uint64_t user_id, store_acl_shared_cb *cb,
                                  void *ctx);

/* ---------------------------------------------------------------------
 * METADATA (RFC 5464)
 *
 * Entries belong to a folder (folder_id) of its owner (owner_id), or with
 * folder_id 0 to the server level, which the store keeps per account
 * (owner_id is then the user's own account). Names are "/private/..." or
 * "/shared/..." in lower case: printable ASCII without '*' and '%', no
 * empty component, no trailing '/', at most STORE_METADATA_MAX_NAME bytes.
 * A /private entry is user_id's own (each user of a shared folder has
 * theirs); a /shared entry is the same for everyone. Values are bytes.
 */

#define STORE_METADATA_MAX_NAME 1024
/* Largest value (RFC 5464 [METADATA MAXSIZE n]). */
#define STORE_METADATA_MAX_VALUE 32768
/* Most entries per folder and scope: the shared ones, or one user's
 * private ones ([METADATA TOOMANY]). */
#define STORE_METADATA_MAX_ENTRIES 100

/* True when name is a valid entry name (as above, in any case). */
bool store_metadata_name_valid(const char *name, size_t len);

struct store_metadata_entry {
	const char *name;
	const void *value; /* NULL: delete the entry (set) */
	size_t len;
};

struct store_metadata_list {
	const struct store_metadata_entry *entries; /* sorted by name */
	size_t count;
};

enum store_metadata_depth {
	STORE_METADATA_DEPTH_0,        /* the entries named */
	STORE_METADATA_DEPTH_1,        /* and their children */
	STORE_METADATA_DEPTH_INFINITY, /* and everything below them */
};

/* The entries among names (valid names, any case) that exist, with their
 * descendants down to depth, each once. STORE_ERR_INVALID for a bad name. */
typedef void store_metadata_get_cb(const struct store_metadata_list *list, enum store_err code,
                                   const char *error, void *ctx);
struct store_op *store_metadata_get(struct store *store, uint64_t user_id, uint64_t owner_id,
                                    uint64_t folder_id, const char *const *names, size_t count,
                                    enum store_metadata_depth depth, store_metadata_get_cb *cb,
                                    void *ctx);

enum store_metadata_result {
	STORE_METADATA_OK,
	STORE_METADATA_TOOMANY, /* a scope would exceed STORE_METADATA_MAX_ENTRIES */
	STORE_METADATA_MAXSIZE, /* a value exceeds STORE_METADATA_MAX_VALUE */
};

/* Sets (value not NULL) or deletes (value NULL) every entry, all or
 * nothing. With result TOOMANY or MAXSIZE nothing changed. Fails with
 * STORE_ERR_NOT_FOUND when the folder is gone, STORE_ERR_INVALID for a
 * bad name. */
typedef void store_metadata_set_cb(enum store_metadata_result result, enum store_err code,
                                   const char *error, void *ctx);
struct store_op *store_metadata_set(struct store *store, uint64_t user_id, uint64_t owner_id,
                                    uint64_t folder_id, const struct store_metadata_entry *entries,
                                    size_t count, store_metadata_set_cb *cb, void *ctx);

#endif
