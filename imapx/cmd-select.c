/* SELECT and EXAMINE (RFC 3501 6.3.1-2, RFC 9051) with the CONDSTORE and
 * QRESYNC parameters (RFC 7162 3.1.8, 3.2.5): looks the folder up (another
 * account's through the other users' namespace, which needs the r right,
 * RFC 4314 4), loads its UIDs and flags into a new view, reports the
 * mailbox's state and, for QRESYNC, what changed since the client's
 * modseq. Without any right that writes (i, e, s, w, t) the mailbox is
 * READ-ONLY. */
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "imap-acl.h"
#include "imap-client-private.h"
#include "imap-server.h"
#include "notify.h"
#include "seqset.h"
#include "store-groupware.h"
#include "xmalloc.h"

struct select_ctx {
	bool readonly;
	bool condstore;
	bool qresync;
	uint32_t q_uidvalidity;
	uint64_t q_modseq;
	char *q_known_uids; /* NULL: all */
	char *name;
	struct imap_mailbox_lookup lookup;
	uint64_t owner_id;
	unsigned rights;
	char *display; /* the name the view reports, canonical */
	struct store_op *op;
	struct imap_view *view; /* built, not yet handed to the session */
	/* Watches the folder from before its messages are read, so that the
	 * new view knows whether it missed a change (see select_list_cb). */
	struct notify_watch *prewatch;
	bool prewatch_up;   /* the bus was up when it was added */
	bool prewatch_lost; /* notices may have been lost meanwhile */
	uint64_t prewatch_modseq;
	/* A restricted view (imap_view_restricts): the private items the
	 * list left out, during select_list_cb only. */
	const uint32_t *hidden;
	size_t nhidden;
};

static void
select_cleanup(struct imap_cmd *cmd)
{
	struct select_ctx *ctx = cmd->ctx;

	if (ctx == NULL)
		return;
	store_op_abandon(&ctx->op);
	notify_watch_remove(&ctx->prewatch);
	imap_mailbox_lookup_abandon(&ctx->lookup);
	imap_view_destroy(&ctx->view);
	free(ctx->q_known_uids);
	free(ctx->display);
	free(ctx->name);
	free(ctx);
	cmd->ctx = NULL;
}

static void
select_write_state(struct imap_cmd *cmd, struct imap_view *view)
{
	struct imap_client *c = cmd->client;
	bool rev2 = imap_client_has(c, IMAP_ENABLED_REV2);
	uint32_t unseen;

	imap_view_write_flags_responses(view);
	imap_client_untagged(c, "%u EXISTS", imap_view_count(view));
	if (!rev2) {
		imap_client_untagged(c, "0 RECENT");
		unseen = imap_view_first_unseen(view);
		if (unseen != 0)
			imap_client_untagged(c, "OK [UNSEEN %u] First unseen", unseen);
	}
	imap_client_untagged(c, "OK [UIDVALIDITY %u] UIDs valid", imap_view_uidvalidity(view));
	imap_client_untagged(c, "OK [UIDNEXT %u] Predicted next UID", imap_view_uidnext(view));
	imap_client_untagged(c, "OK [HIGHESTMODSEQ %llu] Highest",
	                     (unsigned long long)imap_view_highestmodseq(view));
	imap_client_untagged(c, "OK [MAILBOXID (F%llu)] Ok",
	                     (unsigned long long)imap_view_folder_id(view));
	if (rev2) {
		imap_client_printf(c, "* LIST () \"/\" ");
		imap_write_mailbox(c, imap_view_name(view));
		imap_client_printf(c, "\r\n");
	}
}

static void
select_finish(struct imap_cmd *cmd)
{
	struct select_ctx *ctx = cmd->ctx;
	struct imap_view *view = ctx->view;

	ctx->view = NULL;
	imap_client_set_view(cmd->client, view);
	imap_view_warm_cache(view);
	imap_cmd_ok(cmd, "[%s] %s completed", imap_view_readonly(view) ? "READ-ONLY" : "READ-WRITE",
	            cmd->name);
	imap_cmd_finish(cmd);
}

static void
select_changes_cb(const struct store_msg_list *list, enum store_err code, const char *error,
                  void *context)
{
	struct imap_cmd *cmd = context;
	struct select_ctx *ctx = cmd->ctx;
	struct seqset *known = NULL;
	const char *err;

	ctx->op = NULL;
	if (list == NULL) {
		imap_cmd_store_error(cmd, "Cannot select mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (ctx->q_known_uids != NULL) {
		known = seqset_create();
		if (seqset_parse(known, ctx->q_known_uids, strlen(ctx->q_known_uids),
		                 imap_view_uidnext(ctx->view), 0, &err) < 0)
			seqset_destroy(&known);
	}
	imap_view_report_since(ctx->view, list, ctx->q_modseq, known);
	seqset_destroy(&known);
	select_finish(cmd);
}

static void
select_list_cb(const struct store_msg_list *list, enum store_err code, const char *error,
               void *context)
{
	struct imap_cmd *cmd = context;
	struct select_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;

	ctx->op = NULL;
	if (list == NULL || list->folder == NULL) {
		if (code == STORE_ERR_NOT_FOUND)
			imap_cmd_no(cmd, "[NONEXISTENT] Mailbox doesn't exist");
		else
			imap_cmd_store_error(cmd, "Cannot select mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	ctx->view = imap_view_create(c, ctx->display, list, ctx->readonly);
	imap_view_set_rights(ctx->view, ctx->rights);
	imap_view_set_hidden(ctx->view, ctx->hidden, ctx->nhidden);
	ctx->hidden = NULL;
	ctx->nhidden = 0;
	/* Every change committed after the list was read has a modseq above
	 * its HIGHESTMODSEQ and a notice the watch added before the query
	 * saw: with none, the view is in step with the bus from the start,
	 * without waiting for a first full refresh. */
	if (ctx->prewatch_up && !ctx->prewatch_lost &&
	    ctx->prewatch_modseq <= list->folder->highestmodseq)
		imap_view_mark_synced(ctx->view);
	else if (ctx->prewatch_modseq > list->folder->highestmodseq)
		imap_view_set_dirty(ctx->view);
	notify_watch_remove(&ctx->prewatch);
	select_write_state(cmd, ctx->view);
	if (ctx->qresync && ctx->q_uidvalidity == imap_view_uidvalidity(ctx->view)) {
		ctx->op = store_changes(imap_client_store(c), ctx->owner_id,
		                        imap_view_folder_id(ctx->view), ctx->q_modseq,
		                        select_changes_cb, cmd);
		return;
	}
	select_finish(cmd);
}

static void
select_visible_cb(const struct store_msg_list *list, const uint32_t *private_uids, size_t nprivate,
                  enum store_err code, const char *error, void *context)
{
	struct imap_cmd *cmd = context;
	struct select_ctx *ctx = cmd->ctx;

	ctx->hidden = private_uids;
	ctx->nhidden = nprivate;
	select_list_cb(list, code, error, context);
}

static void
select_notice(uint64_t account_id, uint64_t folder_id, uint64_t modseq, bool possibly,
              void *context)
{
	struct select_ctx *ctx = context;

	if (possibly)
		ctx->prewatch_lost = true;
	else if (modseq > ctx->prewatch_modseq)
		ctx->prewatch_modseq = modseq;
}

static void
select_mailbox_cb(const struct imap_mailbox *mb, enum store_err code, const char *error,
                  void *context)
{
	struct imap_cmd *cmd = context;
	struct select_ctx *ctx = cmd->ctx;
	struct imap_client *c = cmd->client;

	if (mb == NULL) {
		imap_cmd_store_error(cmd, "Cannot select mailbox", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	if (!imap_mailbox_allow(cmd, mb, ACL_READ, "select")) {
		imap_cmd_finish(cmd);
		return;
	}
	ctx->owner_id = mb->owner_id;
	ctx->rights = mb->rights;
	ctx->display = xstrdup(mb->folder->path);
	struct notify_bus *bus = imap_server_bus(imap_client_server(c));
	ctx->prewatch_up = notify_bus_is_up(bus);
	ctx->prewatch = notify_watch_add(bus, mb->owner_id, mb->folder->id, select_notice, ctx);
	if (imap_view_restricts(imap_client_account_id(c), mb->owner_id, mb->folder->type,
	                        mb->rights))
		ctx->op =
		    store_groupware_visible(imap_client_store(c), mb->owner_id, mb->folder->id,
		                            true, 0, 0, select_visible_cb, cmd);
	else
		ctx->op = store_folder_select(imap_client_store(c), mb->owner_id, mb->folder->id,
		                              select_list_cb, cmd);
}

static bool
select_parse_number(const struct imap_arg *arg, uint64_t max, uint64_t *n_r)
{
	const char *s, *p;
	uint64_t n = 0;

	if (arg->type != IMAP_ARG_ATOM || !imap_arg_atom(arg, &s) || *s == '\0')
		return false;
	for (p = s; *p != '\0'; p++) {
		if (*p < '0' || *p > '9' || n > (max - (uint64_t)(*p - '0')) / 10)
			return false;
		n = n * 10 + (uint64_t)(*p - '0');
	}
	*n_r = n;
	return true;
}

/* (QRESYNC (uidvalidity modseq [known-uids [(seq-match-data)]])) */
static const char *
select_parse_qresync(struct select_ctx *ctx, const struct imap_arg *arg)
{
	const struct imap_arg *l, *match;
	size_t n, nmatch;
	uint64_t v;

	if (!imap_arg_list(arg, &l, &n) || n < 2 || n > 4)
		return "QRESYNC wants (uidvalidity modseq [known-uids [seq-match-data]])";
	if (!select_parse_number(&l[0], UINT32_MAX, &v) || v == 0)
		return "Invalid QRESYNC uidvalidity";
	ctx->q_uidvalidity = (uint32_t)v;
	if (!select_parse_number(&l[1], INT64_MAX, &ctx->q_modseq) || ctx->q_modseq == 0)
		return "Invalid QRESYNC modseq";
	if (n >= 3) {
		if (l[2].type != IMAP_ARG_ATOM || !seqset_is_syntax(l[2].str, l[2].len, 0))
			return "Invalid QRESYNC known-uids";
		ctx->q_known_uids = xstrdup(l[2].str);
	}
	if (n == 4) {
		/* The store keeps every tombstone, so the sequence match data is
		 * not needed to narrow VANISHED; it is only checked. */
		if (!imap_arg_list(&l[3], &match, &nmatch) || nmatch != 2 ||
		    match[0].type != IMAP_ARG_ATOM || match[1].type != IMAP_ARG_ATOM ||
		    !seqset_is_syntax(match[0].str, match[0].len, SEQSET_PARSE_NO_STAR) ||
		    !seqset_is_syntax(match[1].str, match[1].len, SEQSET_PARSE_NO_STAR))
			return "Invalid QRESYNC sequence match data";
	}
	ctx->qresync = true;
	return NULL;
}

static enum imap_cmd_result
select_start(struct imap_cmd *cmd, bool readonly)
{
	struct imap_client *c = cmd->client;
	struct select_ctx *ctx;
	const struct imap_arg *params = NULL;
	size_t nparams = 0;
	const char *error;
	char *name;

	if (cmd->count < 1 || cmd->count > 2 ||
	    (cmd->count == 2 && !imap_arg_list(&cmd->args[1], &params, &nparams))) {
		imap_cmd_bad(cmd, "Usage: %s mailbox [(CONDSTORE | QRESYNC (...))]", cmd->name);
		return IMAP_CMD_DONE;
	}
	if (imap_arg_mailbox(c, &cmd->args[0], &name, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->readonly = readonly;
	ctx->name = name;
	cmd->ctx = ctx;
	cmd->cleanup = select_cleanup;
	for (size_t i = 0; cmd->count == 2 && i < nparams; i++) {
		if (imap_arg_atom_equals(&params[i], "CONDSTORE")) {
			ctx->condstore = true;
		} else if (imap_arg_atom_equals(&params[i], "QRESYNC") && i + 1 < nparams) {
			if (!imap_client_has(c, IMAP_ENABLED_QRESYNC)) {
				imap_cmd_bad(cmd, "QRESYNC is not enabled");
				return IMAP_CMD_DONE;
			}
			if ((error = select_parse_qresync(ctx, &params[++i])) != NULL) {
				imap_cmd_bad(cmd, "%s", error);
				return IMAP_CMD_DONE;
			}
		} else {
			imap_cmd_bad(cmd, "Unknown %s parameter", cmd->name);
			return IMAP_CMD_DONE;
		}
	}
	/* The old mailbox is closed whatever happens next (RFC 3501 6.3.1). */
	if (imap_client_view(c) != NULL) {
		imap_client_set_view(c, NULL);
		if (imap_client_has(c, IMAP_ENABLED_QRESYNC | IMAP_ENABLED_REV2))
			imap_client_untagged(c, "OK [CLOSED] Previous mailbox closed");
	}
	if (ctx->condstore)
		imap_client_enable(c, IMAP_ENABLED_CONDSTORE);
	imap_mailbox_lookup_start(&ctx->lookup, c, ctx->name, select_mailbox_cb, cmd);
	return IMAP_CMD_ASYNC;
}

enum imap_cmd_result
cmd_select(struct imap_cmd *cmd)
{
	return select_start(cmd, false);
}

enum imap_cmd_result
cmd_examine(struct imap_cmd *cmd)
{
	return select_start(cmd, true);
}
