/* RENAME (RFC 3501 6.3.5): renames a mailbox with its children; renaming
 * INBOX moves its messages to the new mailbox and leaves INBOX empty. In
 * another account it needs x on the mailbox and k on the new name's
 * nearest existing parent (RFC 4314 4); a mailbox never moves between
 * accounts. ACLs stay with the folders. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "xmalloc.h"

struct rename_ctx {
	struct store_op *op;
	struct imap_mailbox_lookup lookup;
	char *from, *to;
	uint64_t owner_id, folder_id; /* the source, once resolved */
};

static void
rename_cleanup(struct imap_cmd *cmd)
{
	struct rename_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	store_op_abandon(&ctx->op);
	imap_mailbox_lookup_abandon(&ctx->lookup);
	free(ctx->from);
	free(ctx->to);
	free(ctx);
	cmd->ctx = NULL;
}

static void
rename_done(enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct rename_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (code == STORE_OK)
		imap_cmd_ok(cmd, "RENAME completed");
	else if (code == STORE_ERR_EXISTS)
		imap_cmd_no(cmd, "[ALREADYEXISTS] Target mailbox already exists");
	else
		imap_cmd_store_error(cmd, "Cannot rename mailbox", code, error);
	imap_cmd_finish(cmd);
}

static void
rename_folder_cb(const struct store_folder *folder, enum store_err code, const char *error,
                 void *context)
{
	struct imap_cmd *cmd = context;
	struct rename_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;

	ctx->op = NULL;
	if (folder == NULL) {
		if (code == STORE_ERR_NOT_FOUND || code == STORE_OK)
			imap_cmd_no(cmd, "[NONEXISTENT] Mailbox doesn't exist");
		else
			imap_cmd_store_error(cmd, "Cannot rename mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	ctx->op = store_folder_rename(imap_client_store(c), imap_client_account_id(c), folder->id,
	                              ctx->to, rename_done, cmd);
}

static void
rename_target_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                 void *context)
{
	struct imap_cmd *cmd = context;
	struct rename_ctx *ctx = cmd->ctx;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot rename mailbox", code, error);
	} else if (mb->owner_id != ctx->owner_id) {
		imap_cmd_no(cmd, "[CANNOT] Mailboxes cannot move between accounts");
	} else if (*mb->path == '\0') {
		imap_cmd_no(cmd, "[CANNOT] Invalid mailbox name");
	} else if (!acl_has(mb->parent_rights, ACL_CREATE)) {
		imap_cmd_no(cmd, "[NOPERM] You may not create mailboxes there");
	} else if (mb->folder != NULL && acl_visible(mb->rights)) {
		imap_cmd_no(cmd, "[ALREADYEXISTS] Target mailbox already exists");
	} else {
		ctx->op = store_folder_rename(imap_client_store(cmd->client), ctx->owner_id,
		                              ctx->folder_id, mb->path, rename_done, cmd);
		return;
	}
	imap_cmd_finish(cmd);
}

static void
rename_source_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                 void *context)
{
	struct imap_cmd *cmd = context;
	struct rename_ctx *ctx = cmd->ctx;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot rename mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (!imap_mailbox_allow(cmd, mb, ACL_DELETE_MAILBOX, "rename")) {
		imap_cmd_finish(cmd);
		return;
	}
	ctx->owner_id = mb->owner_id;
	ctx->folder_id = mb->folder->id;
	imap_mailbox_lookup_start(&ctx->lookup, cmd->client, ctx->to, rename_target_cb, cmd);
}

enum imap_cmd_result
cmd_rename(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct rename_ctx *ctx;
	const char *error;
	char *from, *to;
	size_t len;

	if (cmd->count != 2) {
		imap_cmd_bad(cmd, "Usage: RENAME mailbox new-name");
		return IMAP_CMD_DONE;
	}
	if (imap_arg_mailbox(c, &cmd->args[0], &from, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (imap_arg_mailbox(c, &cmd->args[1], &to, &error) < 0) {
		free(from);
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	len = strlen(to);
	while (len > 0 && to[len - 1] == '/')
		to[--len] = '\0';
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->from = from;
	ctx->to = to;
	cmd->ctx = ctx;
	cmd->cleanup = rename_cleanup;
	if (len == 0 || strpbrk(to, "%*") != NULL || strstr(to, "//") != NULL || to[0] == '/') {
		imap_cmd_no(cmd, "[CANNOT] Invalid mailbox name");
		return IMAP_CMD_DONE;
	}
	if (strcmp(to, "INBOX") == 0) {
		imap_cmd_no(cmd, "[ALREADYEXISTS] INBOX always exists");
		return IMAP_CMD_DONE;
	}
	/* Another account's folders (on either side) need rights checked. */
	if (imap_mailbox_is_other(from) || imap_mailbox_is_other(to)) {
		imap_mailbox_lookup_start(&ctx->lookup, c, ctx->from, rename_source_cb, cmd);
		return IMAP_CMD_ASYNC;
	}
	ctx->op = store_folder_get(imap_client_store(c), imap_client_account_id(c), from, 0,
	                           rename_folder_cb, cmd);
	return IMAP_CMD_ASYNC;
}
