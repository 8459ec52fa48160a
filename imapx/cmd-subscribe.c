/* SUBSCRIBE and UNSUBSCRIBE (RFC 3501 6.3.6-7). One's own subscriptions
 * are names, which may name no mailbox (LSUB and LIST (SUBSCRIBED) still
 * show them). In the other users' namespace they are what makes shared
 * folders appear in LIST, as IceWarp's clients use them:
 * "~owner@domain/Folder" subscribes that folder and the folders below it,
 * "~owner@domain" the whole account (every folder the owner shares with
 * the user, now or later); they are kept by folder id (an owner's rename
 * keeps them, db/store-share.h). SUBSCRIBE of a folder the user may not
 * see answers like a missing one; UNSUBSCRIBE never reveals anything. */
#include <stdlib.h>

#include "commands.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "store-share.h"
#include "xmalloc.h"

struct subscribe_ctx {
	struct store_op *op;
	char *name;
	const char *path; /* into name: the path of a "~owner/path" name */
	bool subscribe;
};

static void
subscribe_cleanup(struct imap_cmd *cmd)
{
	struct subscribe_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	store_op_abandon(&ctx->op);
	free(ctx->name);
	free(ctx);
	cmd->ctx = NULL;
}

static void
subscribe_done(enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct subscribe_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (code == STORE_OK)
		imap_cmd_ok(cmd, "%s completed", cmd->name);
	else
		imap_cmd_store_error(cmd, "Cannot change the subscription", code, error);
	imap_cmd_finish(cmd);
}

static void
subscribe_shared_done(enum store_share_sub_result result, enum store_err code, const char *error,
                      void *context)
{
	struct imap_cmd *cmd = context;
	struct subscribe_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;

	ctx->op = NULL;
	if (code != STORE_OK) {
		imap_cmd_store_error(cmd, "Cannot change the subscription", code, error);
	} else if (result == STORE_SHARE_SUB_NONEXISTENT) {
		imap_mailbox_reply_missing(cmd);
	} else if (result == STORE_SHARE_SUB_OWN && *ctx->path != '\0') {
		/* One's own folder named through the namespace. */
		ctx->op = store_subscribe(imap_client_store(c), imap_client_account_id(c),
		                          ctx->path, ctx->subscribe, subscribe_done, cmd);
		return;
	} else {
		imap_cmd_ok(cmd, "%s completed", cmd->name);
	}
	imap_cmd_finish(cmd);
}

static enum imap_cmd_result
subscribe_start(struct imap_cmd *cmd, bool subscribe)
{
	struct imap_client *c = cmd->client;
	struct subscribe_ctx *ctx;
	const char *error;
	char *name;

	if (cmd->count != 1) {
		imap_cmd_bad(cmd, "Usage: %s mailbox", cmd->name);
		return IMAP_CMD_DONE;
	}
	if (imap_arg_mailbox(c, &cmd->args[0], &name, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->name = name;
	ctx->subscribe = subscribe;
	cmd->ctx = ctx;
	cmd->cleanup = subscribe_cleanup;
	if (imap_mailbox_is_other(name)) {
		const char *path;
		char *owner;

		if (!imap_mailbox_split(name, &owner, &path)) {
			if (subscribe)
				imap_mailbox_reply_missing(cmd);
			else
				imap_cmd_ok(cmd, "%s completed", cmd->name);
			return IMAP_CMD_DONE;
		}
		ctx->path = path;
		ctx->op = store_share_subscribe(imap_client_store(c), imap_client_account_id(c),
		                                owner, path, subscribe, subscribe_shared_done, cmd);
		free(owner);
		return IMAP_CMD_ASYNC;
	}
	ctx->op = store_subscribe(imap_client_store(c), imap_client_account_id(c), name, subscribe,
	                          subscribe_done, cmd);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result
cmd_subscribe(struct imap_cmd *cmd)
{
	return subscribe_start(cmd, true);
}

enum imap_cmd_result
cmd_unsubscribe(struct imap_cmd *cmd)
{
	return subscribe_start(cmd, false);
}
