/* APPEND into a typed folder: each message must be a groupware item of the
 * folder's type in the Kolab form (modules/groupware-item.h), files in
 * file folders included. Items are validated before anything is written,
 * then stored together with their index in one transaction, so an APPEND
 * or MULTIAPPEND of groupware items is stored completely or not at all.
 * FETCH later returns the bytes as appended: the item is an ordinary
 * message of the folder. Beside the literals (which cmd-append.c bounds
 * by [imap] max_literal_size) a file costs no copy of itself here: it is
 * parsed in place and decoded in pieces to measure and hash it. */
#include <stdlib.h>
#include <string.h>

#include "groupware-imap.h"
#include "groupware-item.h"
#include "message.h"
#include "msg-util.h"
#include "store-groupware.h"
#include "xmalloc.h"

struct imap_gw_append {
	struct imap_cmd *cmd;
	struct store_op *op;
	uint64_t folder_id;
	size_t count;
	struct groupware_item **items;
	struct message_info *infos;
	bool *parsed;
	struct store_append_item *store_items;
	const struct store_gw_index **indexes;
};

void
imap_gw_append_free(struct imap_gw_append **gwp)
{
	struct imap_gw_append *gw = *gwp;

	if (gw == NULL)
		return;
	store_op_abandon(&gw->op);
	for (size_t i = 0; i < gw->count; i++) {
		groupware_item_free(&gw->items[i]);
		if (gw->parsed[i])
			message_info_clear(&gw->infos[i]);
	}
	free(gw->items);
	free(gw->infos);
	free(gw->parsed);
	free(gw->store_items);
	free(gw->indexes);
	free(gw);
	*gwp = NULL;
}

static void
gw_append_cb(const struct store_append_result *res, enum store_err code, const char *error,
             void *ctx)
{
	struct imap_gw_append *gw = ctx;
	struct imap_cmd *cmd = gw->cmd;

	gw->op = NULL;
	if (res == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_cmd_no(cmd, "[TRYCREATE] Mailbox does not exist");
		else
			imap_cmd_store_error(cmd, "Append failed", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	char *uids = imap_uid_list_format(res->uids, NULL, res->count);
	imap_cmd_ok(cmd, "[APPENDUID %u %s] Append completed", res->uidvalidity, uids);
	free(uids);
	imap_client_changed(cmd->client, gw->folder_id);
	imap_cmd_finish(cmd);
}

void
imap_gw_append_start(struct imap_gw_append **gw_r, struct imap_cmd *cmd,
                     const struct imap_mailbox *mb, const struct imap_gw_append_msg *msgs,
                     size_t count)
{
	struct imap_gw_append *gw = xcalloc(1, sizeof(*gw));
	const char *type = mb->folder->type;

	/* Set before anything can finish the command, whose cleanup frees it:
	 * after imap_cmd_finish nothing here touches gw again. */
	*gw_r = gw;
	gw->cmd = cmd;
	gw->folder_id = mb->folder->id;
	gw->count = count;
	gw->items = xcalloc(count, sizeof(*gw->items));
	gw->infos = xcalloc(count, sizeof(*gw->infos));
	gw->parsed = xcalloc(count, sizeof(*gw->parsed));
	gw->store_items = xcalloc(count, sizeof(*gw->store_items));
	gw->indexes = xcalloc(count, sizeof(*gw->indexes));
	for (size_t i = 0; i < count; i++) {
		const char *error;

		gw->items[i] = groupware_item_parse(msgs[i].data, msgs[i].size, type, &error);
		if (gw->items[i] == NULL) {
			if (count == 1)
				imap_cmd_no(cmd, "[CANNOT] Not a valid %s item: %s", type, error);
			else
				imap_cmd_no(cmd, "[CANNOT] Message %zu is not a valid %s item: %s",
				            i + 1, type, error);
			imap_cmd_finish(cmd);
			return;
		}
		/* ENVELOPE, BODYSTRUCTURE and the search text, as for mail. */
		if (message_parse(msgs[i].data, msgs[i].size, &gw->infos[i], &error) < 0) {
			imap_cmd_no(cmd, "[CANNOT] Message %zu cannot be stored: %s", i + 1, error);
			imap_cmd_finish(cmd);
			return;
		}
		gw->parsed[i] = true;
		gw->store_items[i] = (struct store_append_item){
		    .data = msgs[i].data,
		    .size = msgs[i].size,
		    .flags = msgs[i].flags,
		    .nflags = msgs[i].nflags,
		    .internal_date = msgs[i].date,
		    .meta = &gw->infos[i].meta,
		};
		gw->indexes[i] = &gw->items[i]->index;
	}
	gw->op = store_groupware_append_many(imap_client_store(cmd->client), mb->owner_id,
	                                     mb->folder->id, gw->store_items, gw->indexes, count,
	                                     gw_append_cb, gw);
}
