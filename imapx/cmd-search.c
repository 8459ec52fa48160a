/* SEARCH and UID SEARCH (RFC 3501 6.4.4, RFC 9051 6.4.4) with ESEARCH
 * RETURN options (RFC 4731), SEARCHRES "$" and SAVE (RFC 5182) and
 * CONDSTORE's MODSEQ key and "(MODSEQ n)" result (RFC 7162 3.1.5). When a
 * barrier on the change-notice bus shows the session's view exact and the
 * keys are ones the view and the message cache answer exactly
 * (search-cache.h), the worker evaluates them (filling the cache for the
 * folder first if needed, in one query); otherwise the criteria become one
 * store_search query (text keys run on PostgreSQL indexes there). Results
 * are mapped to this session's sequence numbers, and messages it has not
 * been told about yet are left out. */

#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "imap-server.h"
#include "log.h"
#include "msg-cache.h"
#include "msg-util.h"
#include "search-cache.h"
#include "search-parse.h"
#include "xmalloc.h"

/* Folders larger than this are searched by the store (a first search
 * would fill the cache with the whole folder). */
#define SEARCH_CACHE_MAX_MESSAGES 50000

struct search_ctx {
	struct imap_cmd *cmd;
	struct store_op *op;
	struct imap_search_query q;
	struct store_search tree;
	bool have_tree;
	enum imap_search_cache_need need;
	bool catching_up;
};

static void
search_cleanup(struct imap_cmd *cmd)
{
	struct search_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	if (c->catching_up)
		imap_view_catch_up_abandon(imap_client_view(cmd->client));
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

/* Writes the answer for the matching UIDs (ascending) and ends the
 * command. */
static void
search_answer(struct search_ctx *c, const struct store_search_result *res)
{
	struct imap_cmd *cmd = c->cmd;
	struct imap_client *cl = cmd->client;
	struct imap_view *view = imap_client_view(cl);
	unsigned ret = c->q.returns;

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
	uint64_t highestmodseq = res->highestmodseq;

	/* The store's value may be a hidden private item's: take the highest
	 * of the results the session sees (as its view knows them). */
	if (modseq && imap_view_restricted(view)) {
		highestmodseq = 0;
		for (size_t i = 0; i < n; i++) {
			uint64_t m = imap_view_modseq(view, imap_view_uid_to_seq(view, uids[i]));

			if (m > highestmodseq)
				highestmodseq = m;
		}
	}
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
				                   (unsigned long long)highestmodseq);
			imap_client_write(cl, "\r\n", 2);
		}
	} else {
		imap_client_write(cl, "* SEARCH", 8);
		write_numbers(cl, nums, n);
		if (modseq)
			imap_client_printf(cl, " (MODSEQ %llu)", (unsigned long long)highestmodseq);
		imap_client_write(cl, "\r\n", 2);
	}
	free(nums);
	free(uids);
	imap_cmd_ok(cmd, "Search completed");
	imap_cmd_finish(cmd);
}

static void
search_cb(const struct store_search_result *res, enum store_err code, const char *error, void *ctx)
{
	struct search_ctx *c = ctx;

	c->op = NULL;
	if (res == NULL) {
		reset_saved(c);
		imap_cmd_store_error(c->cmd, "Search failed", code, error);
		imap_cmd_finish(c->cmd);
		return;
	}
	search_answer(c, res);
}

static void
search_in_store(struct search_ctx *c)
{
	struct imap_view *view = imap_client_view(c->cmd->client);

	c->op = store_search(imap_client_store(c->cmd->client), imap_view_owner_id(view),
	                     imap_view_folder_id(view), &c->tree, NULL, 0, search_cb, c);
}

/* Evaluates the criteria over the view (and the cache); false when a
 * message's cache entry is missing. */
static bool
search_in_worker(struct search_ctx *c)
{
	struct imap_view *view = imap_client_view(c->cmd->client);
	struct imap_cache *cache = imap_server_cache(imap_client_server(c->cmd->client));
	uint32_t count = imap_view_count(view), *uids;
	struct store_search_result res = {0};

	uids = xcalloc(count + 1, sizeof(*uids));
	for (uint32_t seq = 1; seq <= count; seq++) {
		const struct imap_cache_msg *m = NULL;
		uint32_t uid = imap_view_seq_to_uid(view, seq);

		if (c->need == SEARCH_CACHE_DATA) {
			m = imap_cache_msg_get(cache, imap_view_folder_id(view),
			                       imap_view_uidvalidity(view), uid);
			if (m == NULL) {
				free(uids);
				return false;
			}
		}
		if (!imap_search_cache_match(&c->tree, view, seq, m))
			continue;
		uids[res.count++] = uid;
		if (imap_view_modseq(view, seq) > res.highestmodseq)
			res.highestmodseq = imap_view_modseq(view, seq);
	}
	res.uids = uids;
	log_debug("imap %s: SEARCH answered in the worker (%s)", imap_client_peer(c->cmd->client),
	          c->need == SEARCH_CACHE_DATA ? "view and cache" : "view");
	search_answer(c, &res);
	free(uids);
	return true;
}

static void
fill_cb(const struct store_cache_result *res, enum store_err code, const char *error, void *ctx)
{
	struct search_ctx *c = ctx;
	struct imap_view *view = imap_client_view(c->cmd->client);
	struct imap_cache *cache = imap_server_cache(imap_client_server(c->cmd->client));

	c->op = NULL;
	if (res == NULL) {
		reset_saved(c);
		imap_cmd_store_error(c->cmd, "Search failed", code, error);
		imap_cmd_finish(c->cmd);
		return;
	}
	for (size_t i = 0; i < res->count; i++)
		imap_cache_msg_put(cache, imap_view_folder_id(view), &res->rows[i]);
	/* A message that could not be kept (not parsed, or the cache is too
	 * small for the folder): the store answers. */
	if (!search_in_worker(c))
		search_in_store(c);
}

/* The view is exact: answer from it, asking the store for the cache
 * entries the folder lacks first. */
static void
search_from_view(struct search_ctx *c)
{
	struct imap_view *view = imap_client_view(c->cmd->client);
	struct imap_cache *cache = imap_server_cache(imap_client_server(c->cmd->client));
	uint32_t count = imap_view_count(view), *misses;
	size_t nmiss = 0;
	struct store_uid_ranges ranges;
	uint32_t(*pairs)[2] = NULL;

	if (c->need == SEARCH_CACHE_VIEW) {
		search_in_worker(c);
		return;
	}
	misses = xcalloc(count + 1, sizeof(*misses));
	for (uint32_t seq = 1; seq <= count; seq++) {
		uint32_t uid = imap_view_seq_to_uid(view, seq);

		if (imap_cache_msg_get(cache, imap_view_folder_id(view),
		                       imap_view_uidvalidity(view), uid) == NULL)
			misses[nmiss++] = uid;
	}
	if (nmiss == 0) {
		free(misses);
		if (!search_in_worker(c))
			search_in_store(c);
		return;
	}
	imap_uid_array_ranges(misses, nmiss, &ranges, &pairs);
	free(misses);
	c->op = store_fetch_cache(imap_client_store(c->cmd->client), imap_view_owner_id(view),
	                          imap_view_folder_id(view), &ranges, &ranges, 0, fill_cb, c);
	free(pairs);
}

static void
search_catch_up_cb(bool exact, void *ctx)
{
	struct search_ctx *c = ctx;

	c->catching_up = false;
	if (exact)
		search_from_view(c);
	else
		search_in_store(c);
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
	c->need = imap_search_cache_classify(&c->tree);
	if (c->need != SEARCH_CACHE_NO &&
	    imap_cache_enabled(imap_server_cache(imap_client_server(cl))) &&
	    imap_view_count(imap_client_view(cl)) <= SEARCH_CACHE_MAX_MESSAGES &&
	    !imap_view_shared(imap_client_view(cl))) {
		/* Exact as of a barrier on the bus, after catching up with
		 * what changed. */
		c->catching_up = true;
		imap_view_catch_up(imap_client_view(cl), search_catch_up_cb, c);
		return IMAP_CMD_ASYNC;
	}
	search_in_store(c);
	return IMAP_CMD_ASYNC;
}
