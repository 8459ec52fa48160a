/* EXPUNGE (RFC 3501 6.4.3) and UID EXPUNGE (RFC 4315 2.1): removes the
 * messages flagged \Deleted (restricted to a UID set for UID EXPUNGE) in
 * one store transaction, then reports them as EXPUNGE or, with QRESYNC,
 * VANISHED; with CONDSTORE the tagged OK carries [HIGHESTMODSEQ]. */

#include <stdlib.h>

#include "commands.h"
#include "xmalloc.h"

struct expunge_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	struct seqset *uids;
	struct imap_uid_ranges ranges;
};

static void
expunge_cleanup(struct imap_cmd *cmd)
{
	struct expunge_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	seqset_destroy(&c->uids);
	imap_uid_ranges_clear(&c->ranges);
	free(c);
	cmd->ctx = NULL;
}

static void
expunge_cb(const struct store_expunge_result *res, enum store_err code, const char *error,
           void *ctx)
{
	struct expunge_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;

	c->op = NULL;
	if (res == NULL) {
		imap_cmd_store_error(cmd, "Expunge failed", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	imap_view_apply_expunge(cmd, res->uids, res->count, true);
	imap_view_own_write(cmd, res->highestmodseq);
	if (imap_client_has(cmd->client, IMAP_ENABLED_CONDSTORE)) {
		struct imap_view *view = imap_client_view(cmd->client);

		imap_cmd_ok(cmd, "[HIGHESTMODSEQ %llu] Expunge completed",
		            (unsigned long long)imap_view_highestmodseq(view));
	} else {
		imap_cmd_ok(cmd, "Expunge completed");
	}
	imap_cmd_finish(cmd);
}

enum imap_cmd_result
cmd_expunge(struct imap_cmd *cmd)
{
	struct imap_view *view = imap_client_view(cmd->client);
	struct expunge_ctx *c;
	const char *error;

	if ((cmd->uid && cmd->count != 1) || (!cmd->uid && cmd->count != 0)) {
		imap_cmd_bad(cmd, cmd->uid ? "UID EXPUNGE needs a UID set"
		                           : "EXPUNGE takes no arguments");
		return IMAP_CMD_DONE;
	}
	c = xcalloc(1, sizeof(*c));
	c->cmd = cmd;
	cmd->ctx = c;
	cmd->cleanup = expunge_cleanup;
	if (cmd->uid) {
		if (imap_cmd_seqset(cmd, &cmd->args[0], true, &c->uids, &error) < 0) {
			imap_cmd_bad(cmd, "%s", error);
			return IMAP_CMD_DONE;
		}
	} else {
		/* Only messages this session knows of: one that arrived
		 * meanwhile was never announced, so it must not vanish. */
		c->uids = seqset_create();
		if (imap_view_uidnext(view) > 1)
			seqset_add_range(c->uids, 1, imap_view_uidnext(view) - 1);
		/* Nor one hidden from this session (a private item). */
		imap_view_subtract_hidden(view, c->uids);
	}
	if (imap_view_readonly(view)) {
		imap_cmd_no(cmd, "[READ-ONLY] Mailbox is read-only");
		return IMAP_CMD_DONE;
	}
	if (seqset_is_empty(c->uids)) {
		imap_cmd_ok(cmd, "Expunge completed");
		return IMAP_CMD_DONE;
	}
	imap_uid_ranges_init(&c->ranges, c->uids);
	c->op = store_expunge(imap_client_store(cmd->client), imap_view_owner_id(view),
	                      imap_view_folder_id(view), &c->ranges.ranges, expunge_cb, c);
	return IMAP_CMD_ASYNC;
}
