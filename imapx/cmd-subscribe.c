/* SUBSCRIBE and UNSUBSCRIBE (RFC 3501 6.3.6-7). Subscriptions are names,
 * which may name no mailbox (LSUB and LIST (SUBSCRIBED) still show them). */
#include <stdlib.h>

#include "commands.h"
#include "imap-client-private.h"
#include "xmalloc.h"

struct subscribe_ctx {
	struct store_op *op;
	char *name;
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
	cmd->ctx = ctx;
	cmd->cleanup = subscribe_cleanup;
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
