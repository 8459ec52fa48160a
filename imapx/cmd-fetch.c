/* FETCH and UID FETCH (RFC 3501 6.4.5, RFC 9051 6.4.5, BINARY RFC 3516,
 * CONDSTORE/QRESYNC RFC 7162, OBJECTID RFC 8474, PREVIEW RFC 8970): the
 * stages of the command (implicit \Seen, VANISHED (EARLIER), metadata from
 * store_fetch in batches of 1000 messages) and the simple data items; body
 * items are served by fetch-body.c. Untagged EXPUNGE never interleaves:
 * the command table marks FETCH as allowing no updates. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "acl.h"
#include "fetch-private.h"
#include "msg-util.h"
#include "xmalloc.h"

#define FETCH_BATCH 1000

static void
free_rows(struct fetch_ctx *c)
{
	for (size_t i = 0; i < c->nrows; i++) {
		struct fetch_row *r = &c->rows[i];

		for (size_t k = 0; k < r->nflags; k++)
			free(r->flags[k]);
		free(r->flags);
		free(r->envelope);
		free(r->bodystructure);
		free(r->body);
		free(r->partmap);
		free(r->preview);
		free(r->email_id);
		free(r->thread_id);
		free(r->blob_hash);
		fetch_body_row_free(r);
	}
	free(c->rows);
	c->rows = NULL;
	c->nrows = c->row = 0;
}

static void
fetch_cleanup(struct imap_cmd *cmd)
{
	struct fetch_ctx *c = cmd->ctx;

	if (c == NULL)
		return;
	store_op_abandon(&c->op);
	fetch_cache_cleanup(c);
	free_rows(c);
	imap_fetch_items_clear(&c->items);
	seqset_destroy(&c->uids);
	seqset_destroy(&c->seen_set);
	seqset_destroy(&c->vanish_in);
	free(c->targets);
	free(c->batch_pairs);
	if (c->tmp != NULL)
		evbuffer_free(c->tmp);
	free(c);
	cmd->ctx = NULL;
}

/* Ends the command: from exec by returning DONE, else imap_cmd_finish. */
static void
fetch_complete(struct fetch_ctx *c)
{
	if (c->in_exec)
		c->sync_done = true;
	else
		imap_cmd_finish(c->cmd);
}

static void
fetch_fail(struct fetch_ctx *c, const char *prefix, enum store_err code, const char *error)
{
	imap_cmd_store_error(c->cmd, prefix, code, error);
	c->stage = STAGE_DONE;
	fetch_complete(c);
}

static char *
dup_or_null(const char *s)
{
	return s == NULL ? NULL : xstrdup(s);
}

/* ---------------------------------------------------------------------
 * Writing one message's response
 */

void
fetch_item_sep(struct fetch_ctx *c)
{
	if (c->need_space)
		imap_client_write(c->client, " ", 1);
	c->need_space = true;
}

static int
flag_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
write_simple_items(struct fetch_ctx *c, const struct fetch_row *r)
{
	struct imap_client *cl = c->client;
	unsigned a = c->items.attrs;
	bool flags = (a & IMAP_FETCH_FLAGS) != 0 ||
	             (c->seen_set != NULL && seqset_contains(c->seen_set, r->uid));

	imap_client_printf(cl, "* %u FETCH (", r->seq);
	c->need_space = false;
	if (c->with_uid) {
		fetch_item_sep(c);
		imap_client_printf(cl, "UID %u", r->uid);
	}
	if (flags) {
		/* In one order whether the flags came from the store or from the
		 * view (whose flag sets are sorted), as its unsolicited FETCH
		 * responses have them. */
		if (r->nflags > 1)
			qsort(r->flags, r->nflags, sizeof(*r->flags), flag_cmp);
		fetch_item_sep(c);
		imap_client_write(cl, "FLAGS (", 7);
		for (size_t i = 0; i < r->nflags; i++)
			imap_client_printf(cl, "%s%s", i > 0 ? " " : "", r->flags[i]);
		imap_client_write(cl, ")", 1);
	}
	if ((a & IMAP_FETCH_MODSEQ) != 0 || (flags && c->condstore)) {
		fetch_item_sep(c);
		imap_client_printf(cl, "MODSEQ (%llu)", (unsigned long long)r->modseq);
	}
	if ((a & IMAP_FETCH_INTERNALDATE) != 0) {
		char date[40];

		imap_date_time_format(r->internal_date, date, sizeof(date));
		fetch_item_sep(c);
		imap_client_printf(cl, "INTERNALDATE \"%s\"", date);
	}
	if ((a & IMAP_FETCH_RFC822_SIZE) != 0) {
		fetch_item_sep(c);
		imap_client_printf(cl, "RFC822.SIZE %llu", (unsigned long long)r->size);
	}
	if ((a & IMAP_FETCH_ENVELOPE) != 0) {
		static const char empty[] = "(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)";
		const char *e = r->envelope != NULL ? r->envelope : empty;

		fetch_item_sep(c);
		imap_client_write(cl, "ENVELOPE ", 9);
		imap_client_write(cl, e, strlen(e));
	}
	if ((a & IMAP_FETCH_BODYSTRUCTURE) != 0 && r->bodystructure != NULL) {
		fetch_item_sep(c);
		imap_client_write(cl, "BODYSTRUCTURE ", 14);
		imap_client_write(cl, r->bodystructure, strlen(r->bodystructure));
	}
	if ((a & IMAP_FETCH_BODY) != 0 && (r->body != NULL || r->bodystructure != NULL)) {
		const char *b = r->body != NULL ? r->body : r->bodystructure;

		fetch_item_sep(c);
		imap_client_write(cl, "BODY ", 5);
		imap_client_write(cl, b, strlen(b));
	}
	if ((a & IMAP_FETCH_EMAILID) != 0 && r->email_id != NULL) {
		fetch_item_sep(c);
		imap_client_printf(cl, "EMAILID (%s)", r->email_id);
	}
	if ((a & IMAP_FETCH_THREADID) != 0) {
		fetch_item_sep(c);
		if (r->thread_id != NULL)
			imap_client_printf(cl, "THREADID (%s)", r->thread_id);
		else
			imap_client_write(cl, "THREADID NIL", 12);
	}
	if ((a & IMAP_FETCH_PREVIEW) != 0) {
		fetch_item_sep(c);
		imap_client_write(cl, "PREVIEW ", 8);
		imap_write_nstring(cl, r->preview, r->preview != NULL ? strlen(r->preview) : 0);
	}
	c->row_open = true;
	c->body = 0;
	c->bstate = BODY_START;
}

static void
rows_resume(void *ctx)
{
	fetch_continue(ctx);
}

/* Writes rows from c->row on. Returns true when all are written, false
 * when waiting (a blob read or the client's reading). */
static bool
write_rows(struct fetch_ctx *c)
{
	while (c->row < c->nrows) {
		struct fetch_row *r = &c->rows[c->row];

		if (!c->row_open) {
			if (r->seq == 0) {
				c->row++;
				continue;
			}
			write_simple_items(c, r);
		}
		while (c->body < c->items.nbodies) {
			if (c->bstate != BODY_START || !fetch_body_start(c, r))
				return false;
			c->body++;
		}
		imap_client_write(c->client, ")\r\n", 3);
		c->row_open = false;
		fetch_body_row_free(r);
		c->row++;
		fetch_body_prefetch(c);
		if (imap_client_output_busy(c->client)) {
			imap_client_wait_output(c->client, rows_resume, c);
			return false;
		}
	}
	return true;
}

/* ---------------------------------------------------------------------
 * The stages
 */

static void
fetch_cb(const struct store_fetch_result *res, enum store_err code, const char *error, void *ctx)
{
	struct fetch_ctx *c = ctx;

	c->op = NULL;
	free(c->batch_pairs);
	c->batch_pairs = NULL;
	if (res == NULL) {
		fetch_fail(c, "Fetch failed", code, error);
		return;
	}
	if (!c->items.changedsince_set && res->count < c->batch_count)
		c->missing = true;
	c->rows = res->count == 0 ? NULL : xcalloc(res->count, sizeof(*c->rows));
	c->nrows = res->count;
	c->row = 0;
	for (size_t i = 0; i < res->count; i++) {
		const struct store_fetch_row *s = &res->rows[i];
		struct fetch_row *r = &c->rows[i];

		r->uid = s->uid;
		r->seq = imap_view_uid_to_seq(c->view, s->uid);
		r->modseq = s->modseq;
		r->nflags = s->nflags;
		r->flags = s->nflags == 0 ? NULL : xcalloc(s->nflags, sizeof(char *));
		for (size_t k = 0; k < s->nflags; k++)
			r->flags[k] = xstrdup(s->flags[k]);
		r->internal_date = s->internal_date;
		r->size = s->size;
		r->envelope = dup_or_null(s->envelope);
		r->bodystructure = dup_or_null(s->bodystructure);
		r->body = dup_or_null(s->body);
		r->partmap = dup_or_null(s->partmap);
		r->preview = dup_or_null(s->preview);
		r->email_id = dup_or_null(s->email_id);
		r->thread_id = dup_or_null(s->thread_id);
		r->blob_hash = dup_or_null(s->blob_hash);
		if (s->header != NULL) {
			/* Kept as the row's read-ahead if it covers what the
			 * row's body items need (fetch_body_prepare). */
			r->pf_data = xmalloc(s->header_len + 1);
			memcpy(r->pf_data, s->header, s->header_len);
			r->pf_lo = s->header_offset;
			r->pf_len = s->header_len;
		}
	}
	c->stage = STAGE_ROWS;
	c->row_open = false;
	fetch_body_prepare(c);
	fetch_continue(c);
}

static void
start_batch(struct fetch_ctx *c)
{
	size_t n = c->ntargets - c->next_target;
	struct store_uid_ranges ranges;

	if (!c->items.changedsince_set && n > FETCH_BATCH)
		n = FETCH_BATCH;
	imap_uid_array_ranges(c->targets + c->next_target, n, &ranges, &c->batch_pairs);
	c->next_target += n;
	c->batch_count = n;
	c->op = store_fetch(imap_client_store(c->client), imap_view_owner_id(c->view),
	                    imap_view_folder_id(c->view), &ranges,
	                    imap_fetch_items_store_fields(&c->items) | STORE_FETCH_FLAGS,
	                    c->items.changedsince_set ? c->items.changedsince : 0, fetch_cb, c);
}

static void
seen_cb(const struct store_flags_result *res, enum store_err code, const char *error, void *ctx)
{
	struct fetch_ctx *c = ctx;

	c->op = NULL;
	free(c->batch_pairs);
	c->batch_pairs = NULL;
	if (res == NULL) {
		fetch_fail(c, "Cannot set \\Seen", code, error);
		return;
	}
	/* The view learns the new flags silently: they go out in this
	 * FETCH's own responses. */
	imap_view_apply_flags(c->cmd, res, false, false);
	c->seen_set = seqset_create();
	for (size_t i = 0; i < res->count; i++)
		seqset_add(c->seen_set, res->changed[i].uid);
	c->stage = STAGE_VANISHED;
	fetch_continue(c);
}

static void
vanished_cb(const struct store_msg_list *list, enum store_err code, const char *error, void *ctx)
{
	struct fetch_ctx *c = ctx;

	c->op = NULL;
	if (list == NULL) {
		fetch_fail(c, "Fetch failed", code, error);
		return;
	}
	struct seqset *v = seqset_create();
	for (size_t i = 0; i < list->nvanished; i++)
		if (seqset_contains(c->vanish_in, list->vanished[i]) &&
		    !imap_view_is_hidden(c->view, list->vanished[i]))
			seqset_add(v, list->vanished[i]);
	if (!seqset_is_empty(v)) {
		char *s = seqset_format(v);
		imap_client_untagged(c->client, "VANISHED (EARLIER) %s", s);
		free(s);
	}
	seqset_destroy(&v);
	c->stage = STAGE_BATCH;
	fetch_continue(c);
}

/* Sets \Seen on the requested messages that lack it (as far as the view
 * knows). Returns false when there are none. */
static bool
start_seen(struct fetch_ctx *c)
{
	static const char *const seen[] = {"\\Seen"};
	struct store_uid_ranges ranges;
	uint32_t *unseen = c->ntargets == 0 ? NULL : xcalloc(c->ntargets, sizeof(uint32_t));
	size_t n = 0;

	for (size_t i = 0; i < c->ntargets; i++) {
		uint32_t seq = imap_view_uid_to_seq(c->view, c->targets[i]);

		if (seq != 0 && !imap_view_has_flag(c->view, seq, "\\Seen"))
			unseen[n++] = c->targets[i];
	}
	if (n == 0) {
		free(unseen);
		return false;
	}
	imap_uid_array_ranges(unseen, n, &ranges, &c->batch_pairs);
	free(unseen);
	c->op = store_flags(imap_client_store(c->client), imap_view_owner_id(c->view),
	                    imap_view_folder_id(c->view), &ranges, STORE_FLAGS_ADD, seen, 1, 0,
	                    seen_cb, c);
	return true;
}

void
fetch_continue(struct fetch_ctx *c)
{
	for (;;) {
		switch (c->stage) {
		case STAGE_SEEN:
			c->stage = STAGE_VANISHED;
			/* Without the s right \Seen is not set (RFC 4314 4). */
			if (c->items.sets_seen && !imap_view_readonly(c->view) &&
			    (imap_view_rights(c->view) & ACL_SEEN) != 0 && start_seen(c))
				return;
			break;
		case STAGE_VANISHED:
			c->stage = STAGE_BATCH;
			if (c->items.vanished) {
				c->op = store_changes(imap_client_store(c->client),
				                      imap_view_owner_id(c->view),
				                      imap_view_folder_id(c->view),
				                      c->items.changedsince, vanished_cb, c);
				return;
			}
			break;
		case STAGE_BATCH:
			if (c->next_target >= c->ntargets) {
				c->stage = STAGE_DONE;
				break;
			}
			if (c->cached) {
				if (fetch_cache_batch(c))
					return;
				break;
			}
			start_batch(c);
			return;
		case STAGE_ROWS:
			if (!write_rows(c))
				return;
			free_rows(c);
			c->stage = STAGE_BATCH;
			break;
		case STAGE_DONE:
			if (c->fail_code != NULL)
				imap_cmd_no(c->cmd, "%s Some data could not be fetched",
				            c->fail_code);
			else if (c->missing)
				imap_cmd_ok(c->cmd,
				            "[EXPUNGEISSUED] Some of the requested messages "
				            "no longer exist");
			else
				imap_cmd_ok(c->cmd, "Fetch completed");
			fetch_complete(c);
			return;
		}
	}
}

/* The requested UIDs the view has, ascending: one search per range of
 * the set, then a walk along the view (both are sorted), so that "1:*" of
 * a large mailbox costs O(n), not O(n log n). */
static void
collect_targets(struct fetch_ctx *c)
{
	uint32_t count = imap_view_count(c->view);
	uint64_t want = seqset_count(c->uids);
	size_t cap = want < count ? (size_t)want : count, nranges;
	const struct seqset_range *ranges = seqset_ranges(c->uids, &nranges);

	c->targets = cap == 0 ? NULL : xreallocarray(NULL, cap, sizeof(uint32_t));
	c->ntargets = 0;
	for (size_t i = 0; i < nranges && c->ntargets < cap; i++) {
		uint32_t seq = imap_view_seq_from_uid(c->view, ranges[i].lo), uid;

		for (; seq <= count && c->ntargets < cap; seq++) {
			uid = imap_view_seq_to_uid(c->view, seq);
			if (uid > ranges[i].hi)
				break;
			c->targets[c->ntargets++] = uid;
		}
	}
}

/* VANISHED reports expunged UIDs of the whole requested range: "*" is not
 * bounded by the highest UID left, so that 1:* includes the highest
 * vanished UID even when it was the last message. */
static int
vanish_range(struct fetch_ctx *c, const struct imap_arg *arg, const char **error_r)
{
	const char *s;

	if (!imap_arg_atom(arg, &s)) {
		*error_r = "invalid UID set";
		return -1;
	}
	c->vanish_in = seqset_create();
	int ret =
	    seqset_parse(c->vanish_in, s, strlen(s), 4294967295u, SEQSET_PARSE_SAVED, error_r);
	if (ret == SEQSET_SAVED) {
		const struct seqset *saved = imap_view_saved(c->view);
		if (saved != NULL)
			seqset_merge(c->vanish_in, saved);
		ret = 0;
	}
	return ret < 0 ? -1 : 0;
}

enum imap_cmd_result
cmd_fetch(struct imap_cmd *cmd)
{
	struct fetch_ctx *c;
	const char *error;

	if (cmd->count < 2) {
		imap_cmd_bad(cmd, "FETCH needs a sequence set and data items");
		return IMAP_CMD_DONE;
	}
	c = xcalloc(1, sizeof(*c));
	c->cmd = cmd;
	c->client = cmd->client;
	c->view = imap_client_view(cmd->client);
	cmd->ctx = c;
	cmd->cleanup = fetch_cleanup;

	if (imap_fetch_items_parse(&cmd->args[1], cmd->count - 1, &c->items, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (c->items.vanished) {
		if (!cmd->uid) {
			imap_cmd_bad(cmd, "VANISHED is only allowed with UID FETCH");
			return IMAP_CMD_DONE;
		}
		if (!imap_client_has(c->client, IMAP_ENABLED_QRESYNC)) {
			imap_cmd_bad(cmd, "VANISHED needs ENABLE QRESYNC");
			return IMAP_CMD_DONE;
		}
	}
	if (imap_cmd_seqset(cmd, &cmd->args[0], cmd->uid, &c->uids, &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if (c->items.vanished && vanish_range(c, &cmd->args[0], &error) < 0) {
		imap_cmd_bad(cmd, "%s", error);
		return IMAP_CMD_DONE;
	}
	if ((c->items.attrs & IMAP_FETCH_MODSEQ) != 0)
		imap_client_enable(c->client, IMAP_ENABLED_CONDSTORE);
	c->condstore = imap_client_has(c->client, IMAP_ENABLED_CONDSTORE);
	c->with_uid = cmd->uid || (c->items.attrs & IMAP_FETCH_UID) != 0 ||
	              imap_client_has(c->client, IMAP_ENABLED_QRESYNC);

	collect_targets(c);
	fetch_cache_init(c);
	c->stage = STAGE_SEEN;
	c->in_exec = true;
	fetch_continue(c);
	c->in_exec = false;
	return c->sync_done ? IMAP_CMD_DONE : IMAP_CMD_ASYNC;
}
