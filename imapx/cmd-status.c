/* STATUS (RFC 3501 6.3.10) with MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN,
 * RECENT (always 0: Floe keeps no \Recent), HIGHESTMODSEQ (RFC 7162),
 * SIZE and DELETED (RFC 9051 / STATUS=SIZE) and MAILBOXID (RFC 8474). The
 * item parser and writer also serve LIST-STATUS. Another account's folder
 * needs the r right (RFC 4314 4). STATUS of the selected mailbox (which
 * clients send, though RFC 3501 advises against it) is answered from the
 * session's view when a barrier on the change-notice bus shows it exact. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "commands.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "imap-server.h"
#include "log.h"
#include "msg-cache.h"
#include "store-groupware.h"
#include "xmalloc.h"

static const struct {
	const char *name;
	unsigned bit;
} status_items[] = {
    {"MESSAGES", IMAP_STATUS_MESSAGES},
    {"UIDNEXT", IMAP_STATUS_UIDNEXT},
    {"UIDVALIDITY", IMAP_STATUS_UIDVALIDITY},
    {"UNSEEN", IMAP_STATUS_UNSEEN},
    {"HIGHESTMODSEQ", IMAP_STATUS_HIGHESTMODSEQ},
    {"SIZE", IMAP_STATUS_SIZE},
    {"DELETED", IMAP_STATUS_DELETED},
    {"RECENT", IMAP_STATUS_RECENT},
    {"MAILBOXID", IMAP_STATUS_MAILBOXID},
};

int
imap_status_parse_items(const struct imap_arg *list, size_t count, unsigned *items_r,
                        const char **error_r)
{
	unsigned items = 0;

	if (count == 0) {
		*error_r = "Empty status item list";
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *name;
		size_t k;

		if (list[i].type != IMAP_ARG_ATOM || !imap_arg_atom(&list[i], &name)) {
			*error_r = "Status items are atoms";
			return -1;
		}
		for (k = 0; k < sizeof(status_items) / sizeof(*status_items); k++) {
			if (strcasecmp(name, status_items[k].name) == 0)
				break;
		}
		if (k == sizeof(status_items) / sizeof(*status_items)) {
			*error_r = "Unknown status item";
			return -1;
		}
		items |= status_items[k].bit;
	}
	*items_r = items;
	return 0;
}

void
imap_status_write(struct imap_client *c, const struct store_folder *f, unsigned items)
{
	const char *sep = "";

	imap_client_printf(c, "* STATUS ");
	imap_write_mailbox(c, f->path);
	imap_client_printf(c, " (");
	for (size_t k = 0; k < sizeof(status_items) / sizeof(*status_items); k++) {
		unsigned bit = status_items[k].bit;

		if ((items & bit) == 0)
			continue;
		imap_client_printf(c, "%s%s ", sep, status_items[k].name);
		sep = " ";
		switch (bit) {
		case IMAP_STATUS_MESSAGES:
			imap_client_printf(c, "%u", f->messages);
			break;
		case IMAP_STATUS_UIDNEXT:
			imap_client_printf(c, "%u", f->uidnext);
			break;
		case IMAP_STATUS_UIDVALIDITY:
			imap_client_printf(c, "%u", f->uidvalidity);
			break;
		case IMAP_STATUS_UNSEEN:
			imap_client_printf(c, "%u", f->unseen);
			break;
		case IMAP_STATUS_HIGHESTMODSEQ:
			imap_client_printf(
			    c, "%llu",
			    (unsigned long long)(f->highestmodseq > 0 ? f->highestmodseq : 1));
			break;
		case IMAP_STATUS_SIZE:
			imap_client_printf(c, "%llu", (unsigned long long)f->size);
			break;
		case IMAP_STATUS_DELETED:
			imap_client_printf(c, "%u", f->deleted);
			break;
		case IMAP_STATUS_RECENT:
			imap_client_printf(c, "0");
			break;
		case IMAP_STATUS_MAILBOXID:
			imap_client_printf(c, "(F%llu)", (unsigned long long)f->id);
			break;
		}
	}
	imap_client_printf(c, ")\r\n");
}

struct status_ctx {
	struct imap_mailbox_lookup lookup;
	unsigned items;
	char *name;
	bool catching_up;
	/* A restricted session's counters (store_groupware_visible_counts) */
	struct store_op *op;
	struct store_folder folder;
	char *path;
};

static void
status_cleanup(struct imap_cmd *cmd)
{
	struct status_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	imap_mailbox_lookup_abandon(&ctx->lookup);
	store_op_abandon(&ctx->op);
	free(ctx->path);
	if (ctx->catching_up && imap_client_view(cmd->client) != NULL)
		imap_view_catch_up_abandon(imap_client_view(cmd->client));
	free(ctx->name);
	free(ctx);
	cmd->ctx = NULL;
}

/* The counters of a folder whose private items the session may not see. */
static void
status_counts_cb(const struct store_gw_counts *counts, size_t count, enum store_err code,
                 const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct status_ctx *ctx = cmd->ctx;

	ctx->op = NULL;
	if (counts == NULL || count != 1) {
		imap_cmd_store_error(cmd, "Cannot get status", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	imap_status_apply_counts(&ctx->folder, &counts[0]);
	imap_status_write(cmd->client, &ctx->folder, ctx->items);
	imap_cmd_ok(cmd, "STATUS completed");
	imap_cmd_finish(cmd);
}

void
imap_status_apply_counts(struct store_folder *f, const struct store_gw_counts *counts)
{
	f->messages = counts->messages;
	f->unseen = counts->unseen;
	f->deleted = counts->deleted;
	f->size = counts->size;
}

static void
status_mailbox_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                  void *context)
{
	struct imap_cmd *cmd = context;
	struct status_ctx *ctx = cmd->ctx;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot get status", code, error);
	} else if ((ctx->items & IMAP_STATUS_COUNTS) != 0 && mb->folder != NULL &&
	           (mb->rights & ACL_READ) != 0 &&
	           imap_view_restricts(imap_client_account_id(cmd->client), mb->owner_id,
	                               mb->folder->type, mb->rights)) {
		uint64_t folder[1][2] = {{mb->owner_id, mb->folder->id}};

		ctx->folder = *mb->folder;
		ctx->path = xstrdup(mb->folder->path);
		ctx->folder.path = ctx->path;
		ctx->folder.type = NULL;
		ctx->folder.special_use = NULL;
		ctx->op = store_groupware_visible_counts(imap_client_store(cmd->client),
		                                         (const uint64_t(*)[2])folder, 1,
		                                         status_counts_cb, cmd);
		return;
	} else if (imap_mailbox_allow(cmd, mb, ACL_READ, "read the status of")) {
		imap_status_write(cmd->client, mb->folder, ctx->items);
		imap_cmd_ok(cmd, "STATUS completed");
	}
	imap_cmd_finish(cmd);
}

/* Whether name is the selected mailbox, one of the session's own, and the
 * items are ones its view knows (SIZE would need every message's size). */
static bool
status_of_view(struct imap_client *c, const char *name, unsigned items)
{
	struct imap_view *view = imap_client_view(c);
	const char *vname;

	if (view == NULL || imap_view_shared(view) || (items & IMAP_STATUS_SIZE) != 0 ||
	    !imap_cache_enabled(imap_server_cache(imap_client_server(c))))
		return false;
	vname = imap_view_name(view);
	return strcmp(vname, name) == 0 ||
	       (strcmp(vname, "INBOX") == 0 && strcasecmp(name, "INBOX") == 0);
}

static void
status_catch_up_cb(bool exact, void *context)
{
	struct imap_cmd *cmd = context;
	struct status_ctx *ctx = cmd->ctx;
	struct imap_view *view = imap_client_view(cmd->client);

	ctx->catching_up = false;
	if (exact) {
		/* The folder row's numbers, as of the barrier. */
		struct store_folder f = {
		    .id = imap_view_folder_id(view),
		    .path = imap_view_name(view),
		    .uidvalidity = imap_view_uidvalidity(view),
		    .uidnext = imap_view_uidnext(view),
		    .highestmodseq = imap_view_highestmodseq(view),
		    .messages = imap_view_count(view),
		};

		for (uint32_t seq = 1; seq <= f.messages; seq++) {
			if (!imap_view_has_flag(view, seq, "\\Seen"))
				f.unseen++;
			if (imap_view_has_flag(view, seq, "\\Deleted"))
				f.deleted++;
		}
		log_debug("imap %s: STATUS answered from the view", imap_client_peer(cmd->client));
		imap_status_write(cmd->client, &f, ctx->items);
		imap_cmd_ok(cmd, "STATUS completed");
		imap_cmd_finish(cmd);
		return;
	}
	imap_mailbox_lookup_start(&ctx->lookup, cmd->client, ctx->name, status_mailbox_cb, cmd);
}

enum imap_cmd_result
cmd_status(struct imap_cmd *cmd)
{
	struct imap_client *c = cmd->client;
	const struct imap_arg *list;
	struct status_ctx *ctx;
	size_t count;
	unsigned items;
	const char *error;
	char *name;

	if (cmd->count != 2 || !imap_arg_list(&cmd->args[1], &list, &count)) {
		imap_cmd_bad(cmd, "Usage: STATUS mailbox (items)");
		return IMAP_CMD_DONE;
	}
	if (imap_status_parse_items(list, count, &items, &error) < 0 ||
	    imap_arg_mailbox(c, &cmd->args[0], &name, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if ((items & IMAP_STATUS_HIGHESTMODSEQ) != 0)
		imap_client_enable(c, IMAP_ENABLED_CONDSTORE);
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->items = items;
	ctx->name = name;
	cmd->ctx = ctx;
	cmd->cleanup = status_cleanup;
	if (status_of_view(c, name, items)) {
		ctx->catching_up = true;
		imap_view_catch_up(imap_client_view(c), status_catch_up_cb, cmd);
		return IMAP_CMD_ASYNC;
	}
	imap_mailbox_lookup_start(&ctx->lookup, c, ctx->name, status_mailbox_cb, cmd);
	return IMAP_CMD_ASYNC;
}
