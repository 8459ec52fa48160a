/* Mailboxes of other users and rights, for the commands that take a
 * mailbox name: a name in the other users' namespace, "~owner@domain/path"
 * (IceWarp's form), is resolved to the owner's folder with the session's
 * rights on it; a name without the prefix is the user's own folder, on
 * which the user has every right. Commands then act on the owner's
 * account (store calls take owner_id) after checking the rights RFC 4314
 * section 4 asks for, and refuse without revealing folders the user may
 * not see. */
#ifndef FLOE_IMAP_ACL_H
#define FLOE_IMAP_ACL_H

#include <stdbool.h>
#include <stdint.h>

#include "acl.h"
#include "imap-client.h"
#include "store-acl.h"

/* The other users' namespace: prefix and delimiter (NAMESPACE). */
#define IMAP_OTHER_PREFIX "~"

/* True when name (UTF-8) is in the other users' namespace. */
static inline bool
imap_mailbox_is_other(const char *name)
{
	return name != NULL && name[0] == '~';
}

/* Splits "~owner/path" into a newly allocated owner (the caller frees it)
 * and a pointer into name at path ("" for "~owner" alone). Returns false
 * when name is not in the namespace or the owner part is empty. */
bool imap_mailbox_split(const char *name, char **owner_r, const char **path_r);

struct imap_mailbox {
	const char *name; /* as given (UTF-8) */
	uint64_t owner_id;
	const char *owner; /* the owner's address; NULL for an own folder */
	bool other;        /* another account's folder */
	/* The folder (NULL when there is none, or for "~owner" alone); its
	 * path is the name the client uses, canonical ("~owner@domain/INBOX"). */
	const struct store_folder *folder;
	const char *path; /* path in the owner's account ("" for "~owner") */
	unsigned rights;  /* ACL_* on the folder, 0 without folder */
	/* The nearest existing ancestor of path (0: the account's root) and
	 * the rights there (CREATE and RENAME's target need k on it). */
	uint64_t parent_id;
	unsigned parent_rights;
};

/* Called once with the resolved mailbox (valid during the call), or with
 * mb NULL and a store error. An unknown owner gives a mailbox without
 * folder, not an error, so that it looks like any missing mailbox. */
typedef void imap_mailbox_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                             void *ctx);

/* A lookup in progress; embed it in the command's state. */
struct imap_mailbox_lookup {
	struct store_op *op;
	struct imap_client *client;
	const char *name; /* the caller's; must stay valid until the callback */
	imap_mailbox_cb *cb;
	void *ctx;
};

/* Starts resolving name (a decoded mailbox argument) for the session. */
void imap_mailbox_lookup_start(struct imap_mailbox_lookup *lookup, struct imap_client *client,
                               const char *name, imap_mailbox_cb *cb, void *ctx);
/* Abandons a lookup in flight (cleanup); accepts an idle one. */
void imap_mailbox_lookup_abandon(struct imap_mailbox_lookup *lookup);

/* Checks that the session has needed on mb's folder. Returns true, or
 * false after setting the reply: "NO [NONEXISTENT]" when there is no
 * folder or the user may see it neither with l nor r (its existence must
 * not leak), else "NO [NOPERM]". what names the action ("select"). */
bool imap_mailbox_allow(struct imap_cmd *cmd, const struct imap_mailbox *mb, unsigned needed,
                        const char *what);
/* The same for a missing folder alone. */
void imap_mailbox_reply_missing(struct imap_cmd *cmd);

struct imap_flag_list;
/* Removes from list the flags rights do not allow setting (RFC 4314 4:
 * \Seen needs s, \Deleted t, the others w). Returns how many went. */
size_t imap_flag_list_filter(struct imap_flag_list *list, unsigned rights);

/* Parses a store rights string (letters) into ACL_* bits; unknown letters
 * are ignored. */
unsigned imap_rights_from_store(const char *letters);

#endif
