/* CREATE (RFC 3501 6.3.3) with the USE parameter of RFC 6154
 * (CREATE-SPECIAL-USE): "CREATE Drafts (USE (\Drafts))". A trailing
 * delimiter only declares that the name will have children. In another
 * account ("~owner@domain/path") it needs the k right on the nearest
 * existing parent (the account's root for a top-level name, RFC 4314 4);
 * the new folder inherits its parent's ACL. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "xmalloc.h"

struct create_ctx {
	struct store_op *op;
	struct imap_mailbox_lookup lookup;
	char *name;
	const char *special;
};

static void
create_cleanup(struct imap_cmd *cmd)
{
	struct create_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	store_op_abandon(&ctx->op);
	imap_mailbox_lookup_abandon(&ctx->lookup);
	free(ctx->name);
	free(ctx);
	cmd->ctx = NULL;
}

static void
create_cb(const struct store_folder *folder, enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct create_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (folder == NULL) {
		if (code == STORE_ERR_EXISTS)
			imap_cmd_no(cmd, "[ALREADYEXISTS] Mailbox already exists");
		else
			imap_cmd_store_error(cmd, "Cannot create mailbox", code, error);
	} else {
		imap_cmd_ok(cmd, "CREATE completed");
	}
	imap_cmd_finish(cmd);
}

static void
create_mailbox_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                  void *context)
{
	struct imap_cmd *cmd = context;
	struct create_ctx *ctx = cmd->ctx;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot create mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (*mb->path == '\0') {
		imap_cmd_no(cmd, "[CANNOT] Invalid mailbox name");
		imap_cmd_finish(cmd);
		return;
	}
	/* An account that does not exist answers like one whose folders the
	 * user may not see (RFC 4314 6: no existence information). */
	if (mb->owner_id == 0 || !acl_has(mb->parent_rights, ACL_CREATE)) {
		if (acl_visible(mb->parent_rights))
			imap_cmd_no(cmd, "[NOPERM] You may not create mailboxes there");
		else
			imap_cmd_no(cmd, "[NOPERM] You may not create mailboxes in this account");
		imap_cmd_finish(cmd);
		return;
	}
	if (mb->folder != NULL && !mb->folder->noselect) {
		imap_cmd_no(cmd, "[ALREADYEXISTS] Mailbox already exists");
		imap_cmd_finish(cmd);
		return;
	}
	ctx->op = store_folder_create(imap_client_store(cmd->client), mb->owner_id, mb->path, NULL,
	                              ctx->special, create_cb, cmd);
}

/* USE (\Drafts): the store's special-use name, or NULL with *error_r. */
static const char *
create_special_use(const struct imap_arg *list, size_t count, const char **error_r)
{
	static const struct {
		const char *attr, *store;
	} map[] = {
	    {"\\Sent", "sent"}, {"\\Drafts", "drafts"},   {"\\Trash", "trash"},
	    {"\\Junk", "junk"}, {"\\Archive", "archive"},
	};
	const char *name;

	if (count != 1) {
		*error_r = count == 0 ? "[USEATTR] Empty USE list"
		                      : "[USEATTR] Only one special use per mailbox";
		return NULL;
	}
	if (list[0].type != IMAP_ARG_ATOM || !imap_arg_atom(&list[0], &name)) {
		*error_r = "[USEATTR] Special-use attributes are atoms";
		return NULL;
	}
	for (size_t i = 0; i < sizeof(map) / sizeof(*map); i++) {
		if (strcasecmp(map[i].attr, name) == 0)
			return map[i].store;
	}
	*error_r = "[USEATTR] Unsupported special-use attribute";
	return NULL;
}

enum imap_cmd_result
cmd_create(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const struct imap_arg *params, *use;
	const char *special = NULL, *error = NULL;
	struct create_ctx *ctx;
	size_t nparams, nuse, len;
	char *name;

	if (cmd->count < 1 || cmd->count > 2 ||
	    (cmd->count == 2 && !imap_arg_list(&cmd->args[1], &params, &nparams))) {
		imap_cmd_bad(cmd, "Usage: CREATE mailbox [(USE (attributes))]");
		return IMAP_CMD_DONE;
	}
	if (cmd->count == 2) {
		if (nparams != 2 || !imap_arg_atom_equals(&params[0], "USE") ||
		    !imap_arg_list(&params[1], &use, &nuse)) {
			imap_cmd_bad(cmd, "Unknown CREATE parameter");
			return IMAP_CMD_DONE;
		}
		if ((special = create_special_use(use, nuse, &error)) == NULL) {
			imap_cmd_no(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
	}
	if (imap_arg_mailbox(c, &cmd->args[0], &name, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	len = strlen(name);
	while (len > 0 && name[len - 1] == '/')
		name[--len] = '\0';
	if (len == 0 || strpbrk(name, "%*") != NULL || strstr(name, "//") != NULL ||
	    name[0] == '/') {
		free(name);
		imap_cmd_no(cmd, "[CANNOT] Invalid mailbox name");
		return IMAP_CMD_DONE;
	}
	if (strcmp(name, "INBOX") == 0) {
		free(name);
		imap_cmd_no(cmd, "[ALREADYEXISTS] INBOX always exists");
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->name = name;
	ctx->special = special;
	cmd->ctx = ctx;
	cmd->cleanup = create_cleanup;
	if (imap_mailbox_is_other(name)) {
		imap_mailbox_lookup_start(&ctx->lookup, c, name, create_mailbox_cb, cmd);
		return IMAP_CMD_ASYNC;
	}
	ctx->op = store_folder_create(imap_client_store(c), imap_client_account_id(c), name, NULL,
	                              special, create_cb, cmd);
	return IMAP_CMD_ASYNC;
}
