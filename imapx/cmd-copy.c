/* COPY and MOVE, with their UID forms (RFC 3501 6.4.7, MOVE RFC 6851,
 * UIDPLUS RFC 4315): one store_copy transaction into the destination
 * (looked up by name; a missing one gets NO [TRYCREATE]), answered with
 * [COPYUID uidvalidity source-uids destination-uids]. MOVE sends COPYUID
 * in an untagged OK, then the source messages' EXPUNGE (or VANISHED). */

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "msg-util.h"
#include "xmalloc.h"

struct copy_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	bool move;
	char *dest_name;
	struct seqset *uids;
	struct imap_uid_ranges ranges;
	uint64_t dest_id;
};

static void
copy_cleanup(struct imap_cmd *cmd)
{
	struct copy_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	free(c->dest_name);
	seqset_destroy(&c->uids);
	imap_uid_ranges_clear(&c->ranges);
	free(c);
	cmd->ctx = NULL;
}

static void
copy_cb(const struct store_copy_result *res, enum store_err code, const char *error, void *ctx)
{
	struct copy_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;
	const char *verb = c->move ? "Move" : "Copy";

	c->op = NULL;
	if (res == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_cmd_no(cmd, "[TRYCREATE] Mailbox does not exist");
		else
			imap_cmd_store_error(cmd, c->move ? "Move failed" : "Copy failed", code,
			                     error);
		imap_cmd_finish(cmd);
		return;
	}
	if (res->count == 0) {
		imap_cmd_ok(cmd, "No messages %s", c->move ? "moved" : "copied");
		imap_cmd_finish(cmd);
		return;
	}
	char *src = imap_uid_list_format(res->src_uids, res->dest_uids, res->count);
	char *dst = imap_uid_list_format(res->dest_uids, res->src_uids, res->count);
	if (c->move) {
		imap_client_untagged(cmd->client, "OK [COPYUID %u %s %s] Moved",
		                     res->dest_uidvalidity, src, dst);
		imap_view_apply_expunge(cmd, res->src_uids, res->count, true);
		if (imap_client_has(cmd->client, IMAP_ENABLED_CONDSTORE))
			imap_cmd_ok(cmd, "[HIGHESTMODSEQ %llu] %s completed",
			            (unsigned long long)imap_view_highestmodseq(
			                imap_client_view(cmd->client)),
			            verb);
		else
			imap_cmd_ok(cmd, "%s completed", verb);
	} else {
		imap_cmd_ok(cmd, "[COPYUID %u %s %s] %s completed", res->dest_uidvalidity, src, dst,
		            verb);
	}
	free(src);
	free(dst);
	imap_client_changed(cmd->client, c->dest_id);
	imap_cmd_finish(cmd);
}

static void
folder_cb(const struct store_folder *folder, enum store_err code, const char *error, void *ctx)
{
	struct copy_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;
	struct imap_view *view = imap_client_view(cmd->client);

	c->op = NULL;
	if (folder == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_cmd_no(cmd, "[TRYCREATE] Mailbox does not exist");
		else
			imap_cmd_store_error(cmd, "Cannot open the destination", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (c->move && folder->id == imap_view_folder_id(view)) {
		imap_cmd_no(cmd, "[CANNOT] Cannot move messages into the same mailbox");
		imap_cmd_finish(cmd);
		return;
	}
	if (folder->noselect) {
		imap_cmd_no(cmd, "[CANNOT] Mailbox cannot hold messages");
		imap_cmd_finish(cmd);
		return;
	}
	c->dest_id = folder->id;
	if (seqset_is_empty(c->uids)) {
		imap_cmd_ok(cmd, "No messages %s", c->move ? "moved" : "copied");
		imap_cmd_finish(cmd);
		return;
	}
	imap_uid_ranges_init(&c->ranges, c->uids);
	c->op = store_copy(imap_client_store(cmd->client), imap_client_account_id(cmd->client),
	                   imap_view_folder_id(view), &c->ranges.ranges, folder->owner_id,
	                   folder->id, c->move, copy_cb, c);
}

static enum imap_cmd_result
copy_or_move(struct imap_cmd *cmd, bool move)
{
	struct imap_view *view = imap_client_view(cmd->client);
	struct copy_ctx *c;
	const char *error;

	if (cmd->count != 2) {
		imap_cmd_bad(cmd, "%s needs a sequence set and a mailbox", move ? "MOVE" : "COPY");
		return IMAP_CMD_DONE;
	}
	c = xcalloc(1, sizeof(*c));
	c->cmd = cmd;
	c->move = move;
	cmd->ctx = c;
	cmd->cleanup = copy_cleanup;
	if (imap_arg_mailbox(cmd->client, &cmd->args[1], &c->dest_name, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (imap_cmd_seqset(cmd, &cmd->args[0], cmd->uid, &c->uids, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (move && imap_view_readonly(view)) {
		imap_cmd_no(cmd, "[READ-ONLY] Mailbox is read-only");
		return IMAP_CMD_DONE;
	}
	/* The destination must exist even when nothing is copied. */
	c->op =
	    store_folder_get(imap_client_store(cmd->client), imap_client_account_id(cmd->client),
	                     c->dest_name, 0, folder_cb, c);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result
cmd_copy(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, false);
}

enum imap_cmd_result
cmd_move(struct imap_cmd *cmd)
{
	return copy_or_move(cmd, true);
}
