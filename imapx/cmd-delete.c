/* DELETE (RFC 3501 6.3.4): removes a mailbox and its messages; its
 * children stay. INBOX and default folders cannot be deleted. Deleting the
 * selected mailbox closes it. Another account's folder needs the x right
 * (RFC 4314 4); its ACL goes with it. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "xmalloc.h"

struct delete_ctx {
	struct store_op *op;
	struct imap_mailbox_lookup lookup;
	char *name;
	uint64_t folder_id;
};

static void
delete_cleanup(struct imap_cmd *cmd)
{
	struct delete_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	store_op_abandon(&ctx->op);
	imap_mailbox_lookup_abandon(&ctx->lookup);
	free(ctx->name);
	free(ctx);
	cmd->ctx = NULL;
}

static void
delete_done(enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct delete_ctx *ctx = cmd->ctx;
	struct imap_view *view = imap_client_view(cmd->client);

	ctx->op = NULL;
	if (code != STORE_OK) {
		if (code == STORE_ERR_INVALID || code == STORE_ERR_NOT_EMPTY)
			imap_cmd_no(cmd, "[CANNOT] This mailbox cannot be deleted");
		else
			imap_cmd_store_error(cmd, "Cannot delete mailbox", code, error);
	} else {
		if (view != NULL && imap_view_folder_id(view) == ctx->folder_id) {
			imap_client_set_view(cmd->client, NULL);
			imap_client_untagged(cmd->client, "OK [CLOSED] Mailbox deleted");
		}
		imap_cmd_ok(cmd, "DELETE completed");
	}
	imap_cmd_finish(cmd);
}

static void
delete_mailbox_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                  void *context)
{
	struct imap_cmd *cmd = context;
	struct delete_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;
	const struct store_folder *folder;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot delete mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (!imap_mailbox_allow(cmd, mb, ACL_DELETE_MAILBOX, "delete")) {
		imap_cmd_finish(cmd);
		return;
	}
	folder = mb->folder;
	if (folder->is_default ||
	    (folder->special_use != NULL && strcmp(folder->special_use, "inbox") == 0)) {
		imap_cmd_no(cmd, "[CANNOT] %s cannot be deleted",
		            folder->parent_id == 0 && strcmp(mb->path, "INBOX") == 0
		                ? "INBOX"
		                : "A default folder");
		imap_cmd_finish(cmd);
		return;
	}
	ctx->folder_id = folder->id;
	ctx->op =
	    store_folder_delete(imap_client_store(c), mb->owner_id, folder->id, delete_done, cmd);
}

enum imap_cmd_result
cmd_delete(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct delete_ctx *ctx;
	const char *error;
	char *name;

	if (cmd->count != 1) {
		imap_cmd_bad(cmd, "Usage: DELETE mailbox");
		return IMAP_CMD_DONE;
	}
	if (imap_arg_mailbox(c, &cmd->args[0], &name, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (strcmp(name, "INBOX") == 0) {
		free(name);
		imap_cmd_no(cmd, "[CANNOT] INBOX cannot be deleted");
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->name = name;
	cmd->ctx = ctx;
	cmd->cleanup = delete_cleanup;
	imap_mailbox_lookup_start(&ctx->lookup, c, ctx->name, delete_mailbox_cb, cmd);
	return IMAP_CMD_ASYNC;
}
