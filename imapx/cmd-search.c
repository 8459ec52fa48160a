/* SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4) with ESEARCH
 * RETURN options (RFC 4731), SEARCHRES "$" and SAVE (RFC 5182) and
 * CONDSTORE's MODSEQ key and "(MODSEQ n)" result (RFC 7162 3.1.5). The
 * criteria become one store_search query (text keys run on PostgreSQL
 * indexes there); results are mapped to this session's sequence numbers,
 * and messages it has not been told about yet are left out. */

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "msg-util.h"
#include "search-parse.h"
#include "xmalloc.h"

struct search_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	struct imap_search_query q;
	struct store_search tree;
	bool have_tree;
};

static void
search_cleanup(struct imap_cmd *cmd)
{
	struct search_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	if (c->have_tree)
		imap_search_store_free(&c->tree);
	imap_search_query_clear(&c->q);
	free(c);
	cmd->ctx = NULL;
}

/* SEARCHRES: a failed SEARCH ... RETURN (SAVE) leaves an empty result. */
static void
reset_saved(struct search_ctx *c)
{
	if ((c->q.returns & IMAP_SEARCH_RETURN_SAVE) != 0)
		imap_view_set_saved(imap_client_view(c->cmd->client), seqset_create());
}

static void
write_numbers(struct imap_client *client, const uint32_t *nums, size_t count)
{
	for (size_t i = 0; i < count; i++)
		imap_client_printf(client, " %u", nums[i]);
}

static void
search_cb(const struct store_search_result *res, enum store_err code, const char *error, void *ctx)
{
	struct search_ctx *c = ctx;
	struct imap_cmd *cmd = c->cmd;
	struct imap_client *cl = cmd->client;
	struct imap_view *view = imap_client_view(cl);
	unsigned ret = c->q.returns;

	c->op = NULL;
	if (res == NULL) {
		reset_saved(c);
		imap_cmd_store_error(cmd, "Search failed", code, error);
		imap_cmd_finish(cmd);
		return;
	}

	/* The answer in the client's terms (ascending either way). */
	uint32_t *nums = res->count == 0 ? NULL : xreallocarray(NULL, res->count, sizeof(uint32_t));
	uint32_t *uids = res->count == 0 ? NULL : xreallocarray(NULL, res->count, sizeof(uint32_t));
	size_t n = 0;
	for (size_t i = 0; i < res->count; i++) {
		uint32_t seq = imap_view_uid_to_seq(view, res->uids[i]);

		if (seq == 0)
			continue;
		uids[n] = res->uids[i];
		nums[n++] = cmd->uid ? res->uids[i] : seq;
	}

	if ((ret & IMAP_SEARCH_RETURN_SAVE) != 0) {
		struct seqset *saved = seqset_create();

		if ((ret & (IMAP_SEARCH_RETURN_ALL | IMAP_SEARCH_RETURN_COUNT)) == 0 &&
		    (ret & (IMAP_SEARCH_RETURN_MIN | IMAP_SEARCH_RETURN_MAX)) != 0) {
			/* RFC 5182 2.1: with MIN and/or MAX only, save only those. */
			if (n > 0 && (ret & IMAP_SEARCH_RETURN_MIN) != 0)
				seqset_add(saved, uids[0]);
			if (n > 0 && (ret & IMAP_SEARCH_RETURN_MAX) != 0)
				seqset_add(saved, uids[n - 1]);
		} else {
			for (size_t i = 0; i < n; i++)
				seqset_add(saved, uids[i]);
		}
		imap_view_set_saved(view, saved);
	}

	bool modseq = c->q.uses_modseq && n > 0;
	if (c->q.esearch) {
		if ((ret & ~(unsigned)IMAP_SEARCH_RETURN_SAVE) != 0) {
			imap_client_write(cl, "* ESEARCH (TAG ", 15);
			imap_write_quoted(cl, cmd->tag, strlen(cmd->tag));
			imap_client_write(cl, ")", 1);
			if (cmd->uid)
				imap_client_write(cl, " UID", 4);
			if ((ret & IMAP_SEARCH_RETURN_MIN) != 0 && n > 0)
				imap_client_printf(cl, " MIN %u", nums[0]);
			if ((ret & IMAP_SEARCH_RETURN_MAX) != 0 && n > 0)
				imap_client_printf(cl, " MAX %u", nums[n - 1]);
			if ((ret & IMAP_SEARCH_RETURN_COUNT) != 0)
				imap_client_printf(cl, " COUNT %zu", n);
			if ((ret & IMAP_SEARCH_RETURN_ALL) != 0 && n > 0) {
				char *set = imap_uid_list_format(nums, NULL, n);

				imap_client_printf(cl, " ALL %s", set);
				free(set);
			}
			if (modseq)
				imap_client_printf(cl, " MODSEQ %llu",
				                   (unsigned long long)res->highestmodseq);
			imap_client_write(cl, "\r\n", 2);
		}
	} else {
		imap_client_write(cl, "* SEARCH", 8);
		write_numbers(cl, nums, n);
		if (modseq)
			imap_client_printf(cl, " (MODSEQ %llu)",
			                   (unsigned long long)res->highestmodseq);
		imap_client_write(cl, "\r\n", 2);
	}
	free(nums);
	free(uids);
	imap_cmd_ok(cmd, "Search completed");
	imap_cmd_finish(cmd);
}

enum imap_cmd_result
cmd_search(struct imap_cmd *cmd)
{
	struct imap_client *cl = cmd->client;
	struct search_ctx *c = xcalloc(1, sizeof(*c));
	const char *error;

	c->cmd = cmd;
	cmd->ctx = c;
	cmd->cleanup = search_cleanup;
	if (imap_search_parse(cmd->args, cmd->count, &c->q, &error) < 0) {
		reset_saved(c);
		if (c->q.badcharset)
			imap_cmd_no(cmd, "[BADCHARSET (UTF-8 US-ASCII)] %s", error);
		else
			imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	/* IMAP4rev2 answers every SEARCH with ESEARCH (RFC 9051 6.4.4). */
	if (!c->q.esearch && imap_client_has(cl, IMAP_ENABLED_REV2)) {
		c->q.esearch = true;
		c->q.returns = IMAP_SEARCH_RETURN_ALL;
	}
	if (c->q.uses_modseq)
		imap_client_enable(cl, IMAP_ENABLED_CONDSTORE);
	if (imap_search_to_store(&c->q.root, imap_msg_resolve_set, cmd, &c->tree, &error) < 0) {
		reset_saved(c);
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	c->have_tree = true;
	c->op = store_search(imap_client_store(cl), imap_view_owner_id(imap_client_view(cl)),
	                     imap_view_folder_id(imap_client_view(cl)), &c->tree, NULL, 0,
	                     search_cb, c);
	return IMAP_CMD_ASYNC;
}
