/* COPY and MOVE, with their UID forms (RFC 3501 6.4.7, MOVE RFC 6851,
 * UIDPLUS RFC 4315): one store_copy transaction into the destination
 * (looked up by name, possibly another account's; a missing one gets NO
 * [TRYCREATE]), answered with [COPYUID uidvalidity source-uids
 * destination-uids]. MOVE sends COPYUID in an untagged OK, then the source
 * messages' EXPUNGE (or VANISHED).
 * Rights (RFC 4314 4): the destination needs i (a destination the user
 * may not see looks missing); the source r, and for MOVE t and e too
 * (checked by the session from the command table). Flags the user may not
 * set in the destination (\Seen without s, \Deleted without t, others
 * without w) are removed from the copies right after the copy. */

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "imap-acl.h"
#include "log.h"
#include "msg-util.h"
#include "xmalloc.h"

struct copy_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	bool move;
	char *dest_name;
	struct seqset *uids;
	struct imap_uid_ranges ranges;
	uint64_t dest_id, dest_owner;
	unsigned dest_rights;
	struct imap_mailbox_lookup lookup;
	uint32_t (*strip_pairs)[2];
};

static void
copy_cleanup(struct imap_cmd *cmd)
{
	struct copy_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	imap_mailbox_lookup_abandon(&c->lookup);
	free(c->strip_pairs);
	free(c->dest_name);
	seqset_destroy(&c->uids);
	imap_uid_ranges_clear(&c->ranges);
	free(c);
	cmd->ctx = NULL;
}

static void
strip_cb(const struct store_flags_result *res, enum store_err code, const char *error, void *ctx)
{
	struct copy_ctx *c = ctx;

	c->op = NULL;
	/* The copy itself succeeded; the client already has its answer. */
	if (res == NULL)
		log_warning("imap %s: cannot remove flags from copies in a mailbox without the "
		            "rights for them: %s",
		            imap_client_peer(c->cmd->client),
		            error != NULL ? error : "unknown error");
	imap_cmd_finish(c->cmd);
}

static int
uid_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The flags of the copied messages (as the view knows them) that the
 * destination's rights do not allow; NULL when there are none. */
static struct imap_flag_list *
strip_flags(struct copy_ctx *c, const struct store_copy_result *res)
{
	struct imap_view *view = imap_client_view(c->cmd->client);
	struct imap_flag_list *list;

	if (acl_has(c->dest_rights, ACL_SEEN | ACL_WRITE | ACL_DELETE_MSGS) || view == NULL)
		return NULL;
	list = xcalloc(1, sizeof(*list));
	for (size_t i = 0; i < res->count; i++) {
		const char *const *flags;
		size_t n;

		imap_view_flags(view, imap_view_uid_to_seq(view, res->src_uids[i]), &flags, &n);
		for (size_t k = 0; k < n; k++) {
			bool known = false;

			if (acl_flag_allowed(c->dest_rights, flags[k]))
				continue;
			for (size_t j = 0; j < list->count && !known; j++)
				known = strcasecmp(list->flags[j], flags[k]) == 0;
			if (known)
				continue;
			list->flags =
			    xreallocarray(list->flags, list->count + 1, sizeof(*list->flags));
			list->flags[list->count++] = xstrdup(flags[k]);
		}
	}
	if (list->count == 0) {
		imap_flag_list_clear(list);
		free(list);
		return NULL;
	}
	return list;
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
	struct imap_flag_list *strip = strip_flags(c, res);
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
	if (strip != NULL) {
		uint32_t *uids = xcalloc(res->count, sizeof(*uids));
		struct store_uid_ranges ranges;

		memcpy(uids, res->dest_uids, res->count * sizeof(*uids));
		qsort(uids, res->count, sizeof(*uids), uid_cmp);
		imap_uid_array_ranges(uids, res->count, &ranges, &c->strip_pairs);
		free(uids);
		c->op = store_flags(imap_client_store(cmd->client), c->dest_owner, c->dest_id,
		                    &ranges, STORE_FLAGS_REMOVE, (const char *const *)strip->flags,
		                    strip->count, 0, strip_cb, c);
		imap_flag_list_clear(strip);
		free(strip);
		return;
	}
	imap_cmd_finish(cmd);
}

static void
folder_cb(const struct imap_mailbox *mb, enum store_err code, const char *error, void *ctx)
{
	struct copy_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;
	struct imap_view *view = imap_client_view(cmd->client);
	const struct store_folder *folder = mb != NULL ? mb->folder : NULL;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot open the destination", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (folder == NULL || (!acl_has(mb->rights, ACL_INSERT) && !acl_visible(mb->rights))) {
		imap_cmd_no(cmd, "[TRYCREATE] Mailbox does not exist");
		imap_cmd_finish(cmd);
		return;
	}
	if (!acl_has(mb->rights, ACL_INSERT)) {
		imap_cmd_no(cmd, "[NOPERM] You may not add messages to this mailbox");
		imap_cmd_finish(cmd);
		return;
	}
	c->dest_rights = mb->rights;
	c->dest_owner = mb->owner_id;
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
	c->op = store_copy(imap_client_store(cmd->client), imap_view_owner_id(view),
	                   imap_view_folder_id(view), &c->ranges.ranges, mb->owner_id, folder->id,
	                   c->move, copy_cb, c);
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
	imap_mailbox_lookup_start(&c->lookup, cmd->client, c->dest_name, folder_cb, c);
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
