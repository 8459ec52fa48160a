/* Folders and sharing for floectl over its BLOCKING libpq connection (never
 * for a worker): listing, creating and removing an account's folders,
 * access control entries on folders and whole accounts (grant, revoke,
 * list with inheritance, inheritance on/off), and public folders of group
 * accounts, and subscriptions to shared folders. Every write calls the
 * store's own SQL functions (db/migrations/0002_mail.sql,
 * 0004_acl_metadata.sql, 0011_sharing.sql) in one transaction,
 * so the semantics are those of IMAP CREATE/DELETE/SETACL/DELETEACL and a
 * running floed gets the same change notices.
 *
 * Conventions as in admin.h: owners and grantees are addresses (any case,
 * aliases too); paths are '/'-separated as in the store (first component
 * INBOX in any case); functions return 0 or -1 with *error_r a one-line
 * message in static storage, valid until the next admin_* call; results
 * are owned by the caller and released with the matching _free. */
#ifndef FLOE_ADMIN_SHARE_H
#define FLOE_ADMIN_SHARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

/* Checks a folder path as the store does (UTF-8, no empty component, no
 * control character, length limits). for_create also refuses a leading
 * '~', which IMAP reserves for other users' folders. */
int admin_folder_path_check(const char *path, bool for_create, const char **error_r);
/* True for mail, event, contact, task, note, journal, file. */
bool admin_folder_type_valid(const char *type);

struct admin_folder {
	int64_t id;
	char *path;
	char *type;        /* mail, event, contact, task, note, journal, file */
	char *special_use; /* inbox, sent, drafts, trash, junk, archive; NULL when none */
	bool is_default;   /* the default folder of its type (cannot be removed) */
	bool noselect;     /* only a name kept for its subfolders */
	int64_t messages, size;
	/* Access control: acl_inherit is the folder's own flag; the entries in
	 * force are those of acl_source: the folder itself (acl_own), an
	 * ancestor (its path), or the account level (acl_source ""). */
	bool acl_inherit;
	bool acl_own;
	char *acl_source;
	unsigned long acl_entries; /* entries in force */
};

struct admin_folder_list {
	char *owner; /* the account's canonical address */
	struct admin_folder *items;
	size_t count;
};

/* The folders of the account address (user, resource or group), every one
 * or those of type (NULL: all), ordered by path. "unknown account a". */
int admin_folder_list(PGconn *conn, const char *address, const char *type,
                      struct admin_folder_list *list_r, const char **error_r);
/* One folder by path ("no folder P in a"). */
int admin_folder_get(PGconn *conn, const char *address, const char *path,
                     struct admin_folder *folder_r, const char **error_r);
void admin_folder_clear(struct admin_folder *folder);
void admin_folder_list_free(struct admin_folder_list *list);

/* Creates the folder path of type in the account of a user or resource
 * (floe_folder_create: missing parents become plain mail folders; a name
 * kept for subfolders becomes a folder again) and subscribes it for the
 * owner. Groups are refused (admin_public_folder_create). */
int admin_folder_create(PGconn *conn, const char *address, const char *path, const char *type,
                        const char **error_r);
/* Removes a folder as IMAP DELETE does (floe_folder_delete): its items go;
 * with subfolders its name stays as a container (*kept_r true); default
 * folders and INBOX are refused, so is a container that still has
 * subfolders. */
int admin_folder_remove(PGconn *conn, const char *address, const char *path, bool *kept_r,
                        const char **error_r);

/* Public folders: path of type in the group account group, and an entry
 * granting the group itself (so every member) rights (letters), written by
 * floe_acl_set like any grant. Members see public folders without
 * subscribing, and get no notification mail for them. */
int admin_public_folder_create(PGconn *conn, const char *group, const char *path, const char *type,
                               const char *rights, const char **error_r);

enum admin_share_mode {
	ADMIN_SHARE_REPLACE, /* the entry gets exactly rights */
	ADMIN_SHARE_ADD,     /* rights are added to the entry's */
	ADMIN_SHARE_REMOVE,  /* rights are removed from the entry's */
	ADMIN_SHARE_DELETE,  /* the entry goes */
};

/* Changes the entry of grantee ("anyone", or the address of a user, group
 * or resource) on path of owner (NULL: the whole account), exactly as IMAP
 * SETACL/DELETEACL (floe_acl_set: a folder that inherits first gets a
 * copy of its inherited entries; an entry left without rights goes; users
 * who gain a right or lose their last one get a share notice, mailed by
 * the running floed: modules/share-notice.h).
 * rights are letters of "lrswipkxtea". REMOVE and DELETE fail with "g has
 * no rights on ..." when no entry of grantee is in force there, and change
 * nothing. On success *rights_r (when not NULL) is the entry's new rights
 * ("" when gone; the caller frees). The owner itself is refused, except a
 * group granting itself (its members) rights on its own folders. */
int admin_share_set(PGconn *conn, const char *owner, const char *path, const char *grantee,
                    enum admin_share_mode mode, const char *rights, char **rights_r,
                    const char **error_r);

/* Inheritance of path of owner (floe_acl_inherit): on drops the folder's
 * own entries so it follows its parent again; off gives it a copy of what
 * it inherited and stops following. */
int admin_share_inherit(PGconn *conn, const char *owner, const char *path, bool on,
                        const char **error_r);

struct admin_share_entry {
	char *folder;  /* the folder the entry belongs to; NULL: the account level */
	char *grantee; /* address, or "anyone" */
	char *kind;    /* user, group, anyone */
	char *rights;  /* letters */
};

struct admin_share_list {
	char *owner; /* canonical address */
	char *path;  /* the folder asked about; NULL for the whole account */
	/* With a path: where the entries in force come from (NULL: the
	 * account level, else a folder's path; inherited when that is not
	 * path itself) and the folder's inheritance flag. */
	char *source;
	bool inherited;
	bool acl_inherit;
	struct admin_share_entry *items; /* anyone first, then by grantee */
	size_t count;
};

/* With path: the entries in force on that folder and where they come
 * from. Without: every entry of the account, account level first, then
 * each folder's own entries by path. */
int admin_share_list(PGconn *conn, const char *owner, const char *path,
                     struct admin_share_list *list_r, const char **error_r);
void admin_share_list_free(struct admin_share_list *list);

/* Subscriptions of grantee to folders of other accounts (as IMAP SUBSCRIBE
 * "~owner/path" by the grantee, db/store-share.h): path of owner (NULL:
 * the whole account). Subscribing fails with "no folder P in O visible to
 * G" when the folder does not exist or grantee has neither l nor r on it,
 * and for one's own account; unsubscribing what is not subscribed
 * succeeds. */
int admin_share_subscribe(PGconn *conn, const char *grantee, const char *owner, const char *path,
                          bool subscribe, const char **error_r);

struct admin_share_subscription {
	char *owner;     /* canonical address */
	char *folder;    /* path now; NULL: the whole account */
	bool subscribed; /* false: hidden inside a covering subscription */
	char *rights;    /* the grantee's rights there now (letters, "" none) */
};

struct admin_share_subscription_list {
	char *grantee;                          /* canonical address */
	struct admin_share_subscription *items; /* by owner, account first, then path */
	size_t count;
};

/* The subscriptions of grantee, all or those to owner's folders. */
int admin_share_subscriptions(PGconn *conn, const char *grantee, const char *owner,
                              struct admin_share_subscription_list *list_r, const char **error_r);
void admin_share_subscription_list_free(struct admin_share_subscription_list *list);

#endif
