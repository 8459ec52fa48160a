/* SORT and UID SORT (RFC 5256, DISPLAYFROM/DISPLAYTO RFC 5957): the
 * criteria and search keys become one store_search query with an ORDER
 * BY on the sort columns computed at delivery; ties are broken by UID
 * (arrival order), as RFC 5256 asks. */

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "msg-util.h"
#include "search-parse.h"
#include "xmalloc.h"

struct sort_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	struct imap_search_query q;
	struct store_search tree;
	bool have_tree;
	struct store_sort *keys;
	size_t nkeys;
};

static void
sort_cleanup(struct imap_cmd *cmd)
{
	struct sort_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	if (c->have_tree)
		imap_search_store_free(&c->tree);
	imap_search_query_clear(&c->q);
	free(c->keys);
	free(c);
	cmd->ctx = NULL;
}

static void
sort_cb(const struct store_search_result *res, enum store_err code, const char *error, void *ctx)
{
	struct sort_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;
	struct imap_client *cl = cmd->client;
	struct imap_view *view = imap_client_view(cl);
	size_t n = 0;

	c->op = NULL;
	if (res == NULL) {
		imap_cmd_store_error(cmd, "Sort failed", code, error);
		imap_cmd_finish(cmd);
		return;
	}
	imap_client_write(cl, "* SORT", 6);
	for (size_t i = 0; i < res->count; i++) {
		uint32_t seq = imap_view_uid_to_seq(view, res->uids[i]);

		if (seq == 0)
			continue;
		imap_client_printf(cl, " %u", cmd->uid ? res->uids[i] : seq);
		n++;
	}
	if (c->q.uses_modseq && n > 0)
		imap_client_printf(cl, " (MODSEQ %llu)", (unsigned long long)res->highestmodseq);
	imap_client_write(cl, "\r\n", 2);
	imap_cmd_ok(cmd, "Sort completed");
	imap_cmd_finish(cmd);
}

enum imap_cmd_result
cmd_sort(struct imap_cmd *cmd)
{
	struct imap_client *cl = cmd->client;
	struct sort_ctx *c;
	const char *error, *charset;

	if (cmd->count < 3) {
		imap_cmd_bad(cmd, "SORT needs sort criteria, a charset and search criteria");
		return IMAP_CMD_DONE;
	}
	c = xcalloc(1, sizeof(*c));
	c->cmd = cmd;
	cmd->ctx = c;
	cmd->cleanup = sort_cleanup;
	if (imap_sort_parse_criteria(&cmd->args[0], &c->keys, &c->nkeys, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (!imap_arg_astring(&cmd->args[1], &charset, NULL)) {
		imap_cmd_bad(cmd, "SORT needs a charset");
		return IMAP_CMD_DONE;
	}
	if (imap_search_parse_criteria(&cmd->args[2], cmd->count - 2, charset, &c->q, &error) < 0) {
		if (c->q.badcharset)
			imap_cmd_no(cmd, "[BADCHARSET (UTF-8 US-ASCII)] %s", error);
		else
			imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (c->q.uses_modseq)
		imap_client_enable(cl, IMAP_ENABLED_CONDSTORE);
	if (imap_search_to_store(&c->q.root, imap_msg_resolve_set, cmd, &c->tree, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	c->have_tree = true;
	c->op = store_search(imap_client_store(cl), imap_view_owner_id(imap_client_view(cl)),
	                     imap_view_folder_id(imap_client_view(cl)), &c->tree, c->keys, c->nkeys,
	                     sort_cb, c);
	return IMAP_CMD_ASYNC;
}
