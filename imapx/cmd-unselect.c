/* UNSELECT (RFC 3691) and CLOSE (RFC 3501 6.4.2): leave the selected
 * mailbox; CLOSE first removes the messages flagged \Deleted (unless the
 * mailbox was opened with EXAMINE, or the session lacks the e right, RFC
 * 4314 4) without sending EXPUNGE responses. */
#include "acl.h"
#include "commands.h"
#include "imap-client-private.h"
#include "log.h"
#include "seqset.h"

static void
close_cleanup(struct imap_cmd *cmd)
{
	struct store_op *op = cmd->ctx;

	store_op_abandon(&op);
	cmd->ctx = NULL;
}

static void
close_expunged(const struct store_expunge_result *res, enum store_err code, const char *error,
               void *context)
{
	struct imap_cmd *cmd = context;

	cmd->ctx = NULL;
	/* CLOSE has no NO answer (RFC 3501): the mailbox is closed anyway. */
	if (res == NULL)
		log_warning("imap %s: CLOSE could not expunge: %s", imap_client_peer(cmd->client),
		            error != NULL ? error : "unknown error");
	imap_client_set_view(cmd->client, NULL);
	imap_cmd_ok(cmd, "CLOSE completed");
	imap_cmd_finish(cmd);
}

enum imap_cmd_result
cmd_close(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	struct imap_view *view = imap_client_view(c);

	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "CLOSE takes no arguments");
		return IMAP_CMD_DONE;
	}
	if (imap_view_readonly(view) || !acl_has(imap_view_rights(view), ACL_EXPUNGE)) {
		imap_client_set_view(c, NULL);
		imap_cmd_ok(cmd, "CLOSE completed");
		return IMAP_CMD_DONE;
	}
	cmd->cleanup = close_cleanup;
	if (imap_view_restricted(view)) {
		/* The private items hidden from this session stay, and so do
		 * items it was never told of, as with EXPUNGE. */
		struct seqset *uids = seqset_create();
		struct imap_uid_ranges ranges;

		if (imap_view_uidnext(view) > 1)
			seqset_add_range(uids, 1, imap_view_uidnext(view) - 1);
		imap_view_subtract_hidden(view, uids);
		imap_uid_ranges_init(&ranges, uids);
		/* The store copies the ranges into its query parameters. */
		cmd->ctx =
		    store_expunge(imap_client_store(c), imap_view_owner_id(view),
		                  imap_view_folder_id(view), &ranges.ranges, close_expunged, cmd);
		imap_uid_ranges_clear(&ranges);
		seqset_destroy(&uids);
		return IMAP_CMD_ASYNC;
	}
	cmd->ctx = store_expunge(imap_client_store(c), imap_view_owner_id(view),
	                         imap_view_folder_id(view), NULL, close_expunged, cmd);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result
cmd_unselect(struct imap_cmd *cmd)
{
	if (cmd->count != 0) {
		imap_cmd_bad(cmd, "UNSELECT takes no arguments");
		return IMAP_CMD_DONE;
	}
	imap_client_set_view(cmd->client, NULL);
	imap_cmd_ok(cmd, "UNSELECT completed");
	return IMAP_CMD_DONE;
}
