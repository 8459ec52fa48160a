/* Mailbox names of the other users' namespace resolved to the owner's
 * folder and the session's rights, and the answers for refused commands
 * (see imap-acl.h). */
#include "imap-acl.h"

#include <stdlib.h>
#include <string.h>

#include "msg-util.h"
#include "xmalloc.h"

bool
imap_mailbox_split(const char *name, char **owner_r, const char **path_r)
{
	const char *slash;

	if (!imap_mailbox_is_other(name))
		return false;
	slash = strchr(name + 1, '/');
	if (slash == NULL) {
		if (name[1] == '\0')
			return false;
		*owner_r = xstrdup(name + 1);
		*path_r = name + strlen(name);
		return true;
	}
	if (slash == name + 1)
		return false;
	*owner_r = xstrndup(name + 1, (size_t)(slash - name - 1));
	*path_r = slash + 1;
	return true;
}

size_t
imap_flag_list_filter(struct imap_flag_list *list, unsigned rights)
{
	size_t kept = 0, removed = 0;

	for (size_t i = 0; i < list->count; i++) {
		if (acl_flag_allowed(rights, list->flags[i])) {
			list->flags[kept++] = list->flags[i];
		} else {
			free(list->flags[i]);
			removed++;
		}
	}
	list->count = kept;
	return removed;
}

unsigned
imap_rights_from_store(const char *letters)
{
	unsigned rights = 0, one;
	const char *error;

	for (const char *c = letters; c != NULL && *c != '\0'; c++) {
		if (acl_rights_parse(c, 1, &one, &error) == 0)
			rights |= one;
	}
	return rights;
}

/* The path part of "~owner/path" ("" when there is none). */
static const char *
imap_mailbox_path(const char *name)
{
	const char *slash = strchr(name + 1, '/');

	return slash != NULL ? slash + 1 : "";
}

static void
lookup_deliver(struct imap_mailbox_lookup *lk, const struct imap_mailbox *mb, enum store_err code,
               const char *error)
{
	lk->op = NULL;
	lk->cb(mb, code, error, lk->ctx);
}

static void
lookup_own_cb(const struct store_folder *folder, enum store_err code, const char *error, void *ctx)
{
	struct imap_mailbox_lookup *lk = ctx;
	struct imap_mailbox mb;

	if (folder == NULL && code != STORE_ERR_NOT_FOUND && code != STORE_OK) {
		lookup_deliver(lk, NULL, code, error);
		return;
	}
	memset(&mb, 0, sizeof(mb));
	mb.name = lk->name;
	mb.owner_id = imap_client_account_id(lk->client);
	mb.folder = folder;
	mb.path = folder != NULL ? folder->path : lk->name;
	mb.rights = folder != NULL ? ACL_ALL : 0;
	mb.parent_rights = ACL_ALL;
	lookup_deliver(lk, &mb, STORE_OK, NULL);
}

static void
lookup_other_cb(const struct store_acl_target *t, enum store_err code, const char *error, void *ctx)
{
	struct imap_mailbox_lookup *lk = ctx;
	struct imap_mailbox mb;

	if (t == NULL && code != STORE_ERR_NOT_FOUND) {
		lookup_deliver(lk, NULL, code, error);
		return;
	}
	memset(&mb, 0, sizeof(mb));
	mb.name = lk->name;
	mb.other = true;
	mb.path = imap_mailbox_path(lk->name);
	if (t != NULL) {
		mb.owner_id = t->owner_id;
		mb.owner = t->owner;
		mb.folder = t->folder;
		mb.path = t->folder != NULL ? t->path : imap_mailbox_path(lk->name);
		mb.rights = t->folder != NULL ? imap_rights_from_store(t->rights) : 0;
		mb.parent_id = t->parent_id;
		mb.parent_rights = imap_rights_from_store(t->parent_rights);
		/* One's own account named through the namespace. */
		mb.other = t->owner_id != imap_client_account_id(lk->client);
	}
	lookup_deliver(lk, &mb, STORE_OK, NULL);
}

void
imap_mailbox_lookup_start(struct imap_mailbox_lookup *lk, struct imap_client *client,
                          const char *name, imap_mailbox_cb *cb, void *ctx)
{
	struct store *store = imap_client_store(client);
	uint64_t user = imap_client_account_id(client);
	const char *path;
	char *owner;

	lk->client = client;
	lk->name = name;
	lk->cb = cb;
	lk->ctx = ctx;
	if (!imap_mailbox_split(name, &owner, &path)) {
		lk->op = store_folder_get(store, user, name, 0, lookup_own_cb, lk);
		return;
	}
	lk->op =
	    store_acl_lookup(store, user, owner, *path != '\0' ? path : NULL, lookup_other_cb, lk);
	free(owner);
}

void
imap_mailbox_lookup_abandon(struct imap_mailbox_lookup *lk)
{
	store_op_abandon(&lk->op);
}

void
imap_mailbox_reply_missing(struct imap_cmd *cmd)
{
	imap_cmd_no(cmd, "[NONEXISTENT] Mailbox doesn't exist");
}

bool
imap_mailbox_allow(struct imap_cmd *cmd, const struct imap_mailbox *mb, unsigned needed,
                   const char *what)
{
	if (mb->folder != NULL && acl_has(mb->rights, needed))
		return true;
	if (mb->folder == NULL || !acl_visible(mb->rights)) {
		imap_mailbox_reply_missing(cmd);
		return false;
	}
	imap_cmd_no(cmd, "[NOPERM] You may not %s this mailbox", what);
	return false;
}
