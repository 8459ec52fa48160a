/* The client's side of a Sync collection: Add (16.x drafts; one server
 * item per ClientId and device, whatever the retries), Change (Read,
 * Flag, Categories as flags, with the Conflict option deciding when the
 * server changed the message meanwhile), Delete (to Deleted Items with
 * DeletesAsMoves, else expunged) and Fetch. Each outcome goes into the
 * collection's Responses and into its client delta, which the sync state
 * keeps for a repeated SyncKey. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "message.h"
#include "store-eassync.h"
#include "sync-private.h"
#include "xmalloc.h"

static struct sync_coll *
cur(struct sync_ctx *ctx)
{
	return &ctx->colls[ctx->cur];
}

void
sync_response_add(struct sync_coll *c, char kind, const char *client_id, const char *server_id,
                  unsigned status)
{
	struct sync_response *r;

	if (c->nresponses == c->cap_responses) {
		c->cap_responses = c->cap_responses == 0 ? 8 : c->cap_responses * 2;
		c->responses = xreallocarray(c->responses, c->cap_responses, sizeof(*c->responses));
	}
	r = &c->responses[c->nresponses++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->client_id = client_id != NULL ? xstrdup(client_id) : NULL;
	r->server_id = server_id != NULL ? xstrdup(server_id) : NULL;
	r->status = status;
}

void
sync_client_clear(struct sync_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nfchanges; i++) {
		eas_flag_change_clear(&ctx->fchanges[i]);
		free(ctx->fserver_ids[i]);
	}
	free(ctx->fchanges);
	free(ctx->fserver_ids);
	free(ctx->fuids);
	for (size_t i = 0; i < ctx->nstates; i++) {
		char **flags = (char **)ctx->states[i].flags;

		eas_strv_free(flags, ctx->states[i].nflags);
	}
	free(ctx->states);
	ctx->fchanges = NULL;
	ctx->fserver_ids = NULL;
	ctx->fuids = NULL;
	ctx->nfchanges = 0;
	ctx->states = NULL;
	ctx->nstates = ctx->state_index = 0;
}

/* The UID of a ServerId of this collection, 0 when it names another
 * folder or is malformed. */
static uint32_t
item_uid(const struct sync_coll *c, const char *server_id)
{
	uint64_t folder;
	uint32_t uid;

	if (eas_mail_item_id(server_id, &folder, &uid) < 0 || folder != c->folder_id)
		return 0;
	return uid;
}

static void
next_phase(struct sync_ctx *ctx, enum sync_phase phase)
{
	cur(ctx)->phase = phase;
	cur(ctx)->cmd_index = 0;
	sync_client_commands(ctx);
}

/* ---------------------------------------------------------------------
 * Add
 */

static const struct wbxml_node *
nth_command(const struct sync_coll *c, uint16_t tag, size_t n)
{
	const struct wbxml_node *x = wbxml_child(c->commands, tag);

	for (size_t i = 0; x != NULL && i < n; i++)
		x = wbxml_next(x, tag);
	return x;
}

static void add_next(struct sync_ctx *ctx);

static void
add_mapped(enum store_err code, const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;

	ctx->op = NULL;
	if (code != STORE_OK)
		log_warning("eas: cannot remember a client id: %s", error);
	cur(ctx)->cmd_index++;
	add_next(ctx);
}

static void
add_appended(const struct store_append_result *res, enum store_err code, const char *error,
             void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = cur(ctx);
	const struct wbxml_node *add = nth_command(c, EAS_AIRSYNC_ADD, c->cmd_index);
	const char *client_id = wbxml_child_text(add, EAS_AIRSYNC_CLIENTID);
	char sid[64];

	ctx->op = NULL;
	if (res == NULL || res->count != 1) {
		eas_log(ctx->req, "Sync: cannot store a client Add: %s", error);
		sync_response_add(c, 'A', client_id, NULL, code == STORE_ERR_OVER_QUOTA ? 9 : 5);
		c->cmd_index++;
		add_next(ctx);
		return;
	}
	snprintf(sid, sizeof(sid), "%llu:%u", (unsigned long long)c->folder_id, res->uids[0]);
	sync_response_add(c, 'A', client_id, sid, 1);
	sync_delta_up(&c->client, res->uids[0], res->modseq);
	ctx->op =
	    store_eassync_client_id_put(ctx->req->store, ctx->req->account_id, ctx->req->device->id,
	                                c->folder_id, client_id, res->uids[0], add_mapped, ctx);
}

/* Builds the draft of an Add and stores it. Returns false when the Add
 * was answered at once. */
static bool
add_create(struct sync_ctx *ctx, const struct wbxml_node *add, const char *client_id)
{
	struct sync_coll *c = cur(ctx);
	const struct wbxml_node *data = wbxml_child(add, EAS_AIRSYNC_APPLICATIONDATA);
	const struct wbxml_node *body = wbxml_child(data, EAS_AIRSYNCBASE_BODY);
	struct message_eas_draft d = {0};
	struct message_info info;
	struct store_append_item item = {0};
	static const char *const flags[] = {"\\Draft", "\\Seen"};
	const char *error, *imp;
	char *raw;
	size_t len;

	if (ctx->req->version < EAS_VERSION_160 || data == NULL) {
		/* E-mail can only be created as a draft, from 16.0 on. */
		sync_response_add(c, 'A', client_id, NULL, 6);
		return false;
	}
	d.from = ctx->req->address;
	d.to = wbxml_child_text(data, EAS_EMAIL_TO);
	d.cc = wbxml_child_text(data, EAS_EMAIL_CC);
	d.bcc = wbxml_child_text(data, EAS_EMAIL2_BCC);
	d.subject = wbxml_child_text(data, EAS_EMAIL_SUBJECT);
	imp = wbxml_child_text(data, EAS_EMAIL_IMPORTANCE);
	d.importance =
	    imp != NULL && (imp[0] == '0' || imp[0] == '2') ? (unsigned)(imp[0] - '0') : 1;
	d.body = wbxml_child_text(body, EAS_AIRSYNCBASE_DATA);
	d.body_type = wbxml_child_text(body, EAS_AIRSYNCBASE_TYPE) != NULL &&
	                      strcmp(wbxml_child_text(body, EAS_AIRSYNCBASE_TYPE), "2") == 0
	                  ? 2
	                  : 1;
	raw = message_eas_draft(&d, &len);
	if (message_parse(raw, len, &info, &error) < 0) {
		free(raw);
		sync_response_add(c, 'A', client_id, NULL, 6);
		return false;
	}
	item.data = raw;
	item.size = len;
	item.flags = flags;
	item.nflags = 2;
	item.meta = &info.meta;
	ctx->op = store_append(ctx->req->store, ctx->req->account_id, c->folder_id, &item, 1,
	                       add_appended, ctx);
	message_info_clear(&info);
	free(raw);
	return true;
}

static void
add_next(struct sync_ctx *ctx)
{
	struct sync_coll *c = cur(ctx);
	const struct wbxml_node *add;

	for (;;) {
		const char *client_id;
		bool done = false;

		add = nth_command(c, EAS_AIRSYNC_ADD, c->cmd_index);
		if (add == NULL) {
			next_phase(ctx, SYNC_PHASE_CHANGES);
			return;
		}
		client_id = wbxml_child_text(add, EAS_AIRSYNC_CLIENTID);
		/* Already answered (a repeat the id map resolved)? */
		for (size_t i = 0; client_id != NULL && i < c->nresponses; i++) {
			if (c->responses[i].kind == 'A' && c->responses[i].client_id != NULL &&
			    strcmp(c->responses[i].client_id, client_id) == 0)
				done = true;
		}
		if (client_id == NULL || *client_id == '\0' || strlen(client_id) > 64) {
			sync_response_add(c, 'A', client_id, NULL, 4);
		} else if (!done && add_create(ctx, add, client_id)) {
			return;
		}
		c->cmd_index++;
	}
}

static void
add_ids_done(const struct store_eassync_client_id *ids, size_t count, enum store_err code,
             const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = cur(ctx);

	(void)code;
	ctx->op = NULL;
	if (ids == NULL) {
		sync_fail(ctx, error);
		return;
	}
	/* ClientIds seen before get their item again, not a new one. */
	for (size_t i = 0; i < count; i++) {
		char sid[64];

		if (ids[i].uid == 0)
			continue;
		snprintf(sid, sizeof(sid), "%llu:%u", (unsigned long long)c->folder_id, ids[i].uid);
		for (size_t k = 0; k < c->nresponses; k++) {
			if (c->responses[k].kind == 'A' && c->responses[k].client_id != NULL &&
			    strcmp(c->responses[k].client_id, ids[i].client_id) == 0) {
				/* From the replayed outcome: drop it, answered anew below. */
				c->responses[k].kind = 0;
			}
		}
		sync_response_add(c, 'A', ids[i].client_id, sid, 1);
		sync_delta_up(&c->client, ids[i].uid, ids[i].modseq);
	}
	c->cmd_index = 0;
	add_next(ctx);
}

static void
adds_start(struct sync_ctx *ctx)
{
	struct sync_coll *c = cur(ctx);
	const char **ids = NULL;
	size_t n = 0, cap = 0;

	for (const struct wbxml_node *a = wbxml_child(c->commands, EAS_AIRSYNC_ADD); a != NULL;
	     a = wbxml_next(a, EAS_AIRSYNC_ADD)) {
		const char *id = wbxml_child_text(a, EAS_AIRSYNC_CLIENTID);

		if (id == NULL)
			continue;
		if (n == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			ids = xreallocarray(ids, cap, sizeof(*ids));
		}
		ids[n++] = id;
	}
	if (n == 0) {
		free(ids);
		next_phase(ctx, SYNC_PHASE_CHANGES);
		return;
	}
	ctx->op =
	    store_eassync_client_ids(ctx->req->store, ctx->req->account_id, ctx->req->device->id,
	                             c->folder_id, ids, n, add_ids_done, ctx);
	free(ids);
}

/* ---------------------------------------------------------------------
 * Change
 */

static void change_next(struct sync_ctx *ctx);

static void
change_flags_done(const struct store_flags_result *res, enum store_err code, const char *error,
                  void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = cur(ctx);
	const struct store_eassync_item_state *st = &ctx->states[ctx->state_index];
	size_t i = ctx->state_index;

	ctx->op = NULL;
	if (res == NULL) {
		if (code == STORE_ERR_INVALID) {
			sync_response_add(c, 'C', NULL, ctx->fserver_ids[i], 6);
		} else if (code == STORE_ERR_NOT_FOUND) {
			sync_response_add(c, 'C', NULL, ctx->fserver_ids[i], 8);
		} else {
			sync_fail(ctx, error);
			return;
		}
	} else if (res->nmodified == 0 && res->count == 1) {
		/* The device now has this state, unless the server had changed
		 * the message since the device got it (then it gets a Change). */
		if (st->known_modseq != 0 && st->known_modseq == st->modseq)
			sync_delta_up(&c->client, st->uid, res->changed[0].modseq);
	}
	/* Modified meanwhile with Conflict = server wins: the client's
	 * change is dropped and the server's state goes back as a Change. */
	ctx->state_index++;
	change_next(ctx);
}

static void
change_next(struct sync_ctx *ctx)
{
	struct sync_coll *c = cur(ctx);

	while (ctx->state_index < ctx->nstates) {
		size_t i = ctx->state_index;
		const struct store_eassync_item_state *st = &ctx->states[i];
		struct store_uid_ranges r;
		uint32_t range[1][2];
		char **flags;
		size_t nflags;
		uint64_t since;

		if (!st->exists) {
			sync_response_add(c, 'C', NULL, ctx->fserver_ids[i], 8);
			ctx->state_index++;
			continue;
		}
		flags = eas_email_apply_change(st->flags, st->nflags, &ctx->fchanges[i], &nflags);
		if (eas_flags_same((const char *const *)flags, nflags, st->flags, st->nflags)) {
			eas_strv_free(flags, nflags);
			ctx->state_index++;
			continue;
		}
		range[0][0] = range[0][1] = st->uid;
		r.ranges = (const uint32_t(*)[2])range;
		r.count = 1;
		since = c->conflict == 1 ? st->known_modseq : 0;
		ctx->op = store_flags(ctx->req->store, ctx->req->account_id, c->folder_id, &r,
		                      STORE_FLAGS_SET, (const char *const *)flags, nflags, since,
		                      change_flags_done, ctx);
		eas_strv_free(flags, nflags);
		return;
	}
	sync_client_clear(ctx);
	next_phase(ctx, SYNC_PHASE_DELETES);
}

static void
change_states_done(const struct store_eassync_item_state *items, size_t count, enum store_err code,
                   const char *error, void *vctx)
{
	struct sync_ctx *ctx = vctx;

	(void)code;
	ctx->op = NULL;
	if (items == NULL) {
		sync_client_clear(ctx);
		sync_fail(ctx, error);
		return;
	}
	/* The rows live as long as this callback: keep copies of what the
	 * writes need. */
	{
		struct store_eassync_item_state *copy = xcalloc(count + 1, sizeof(*copy));

		for (size_t i = 0; i < count; i++) {
			char **flags = xcalloc(items[i].nflags + 1, sizeof(char *));

			copy[i] = items[i];
			for (size_t f = 0; f < items[i].nflags; f++)
				flags[f] = xstrdup(items[i].flags[f]);
			copy[i].flags = (const char *const *)flags;
		}
		ctx->states = copy;
		ctx->nstates = count;
	}
	ctx->state_index = 0;
	change_next(ctx);
}

static void
changes_start(struct sync_ctx *ctx)
{
	struct sync_coll *c = cur(ctx);
	struct store_eassync_delta dv;
	size_t cap = 0;

	for (const struct wbxml_node *ch = wbxml_child(c->commands, EAS_AIRSYNC_CHANGE); ch != NULL;
	     ch = wbxml_next(ch, EAS_AIRSYNC_CHANGE)) {
		const char *sid = wbxml_child_text(ch, EAS_AIRSYNC_SERVERID);
		uint32_t uid = sid != NULL ? item_uid(c, sid) : 0;
		struct eas_flag_change fc;

		if (uid == 0) {
			sync_response_add(c, 'C', NULL, sid != NULL ? sid : "", 8);
			continue;
		}
		if (eas_email_parse_change(wbxml_child(ch, EAS_AIRSYNC_APPLICATIONDATA), &fc) < 0) {
			eas_flag_change_clear(&fc);
			sync_response_add(c, 'C', NULL, sid, 6);
			continue;
		}
		if (ctx->nfchanges == cap) {
			cap = cap == 0 ? 8 : cap * 2;
			ctx->fchanges = xreallocarray(ctx->fchanges, cap, sizeof(*ctx->fchanges));
			ctx->fserver_ids = xreallocarray(ctx->fserver_ids, cap, sizeof(char *));
			ctx->fuids = xreallocarray(ctx->fuids, cap, sizeof(uint32_t));
		}
		ctx->fchanges[ctx->nfchanges] = fc;
		ctx->fserver_ids[ctx->nfchanges] = xstrdup(sid);
		ctx->fuids[ctx->nfchanges] = uid;
		ctx->nfchanges++;
	}
	if (ctx->nfchanges == 0) {
		sync_client_clear(ctx);
		next_phase(ctx, SYNC_PHASE_DELETES);
		return;
	}
	dv = sync_delta_view(&c->client);
	ctx->op = store_eassync_items_state(ctx->req->store, ctx->req->account_id,
	                                    ctx->req->device->id, c->folder_id, c->key, &dv,
	                                    ctx->fuids, ctx->nfchanges, change_states_done, ctx);
}

/* ---------------------------------------------------------------------
 * Delete
 */

static void
deletes_done(struct sync_ctx *ctx)
{
	ctx->op = NULL;
	next_phase(ctx, SYNC_PHASE_DIFF);
}

static void
delete_expunged(const struct store_expunge_result *res, enum store_err code, const char *error,
                void *vctx)
{
	struct sync_ctx *ctx = vctx;

	(void)code;
	ctx->op = NULL;
	if (res == NULL) {
		sync_fail(ctx, error);
		return;
	}
	deletes_done(ctx);
}

static struct store_uid_ranges
delete_ranges(struct sync_coll *c, uint32_t (**ranges_r)[2])
{
	struct store_uid_ranges r = {0};
	uint32_t(*ranges)[2] = xcalloc(c->client.del.n + 1, sizeof(*ranges));

	for (size_t i = 0; i < c->client.del.n; i++)
		ranges[i][0] = ranges[i][1] = c->client.del.v[i];
	r.ranges = (const uint32_t(*)[2])ranges;
	r.count = c->client.del.n;
	*ranges_r = ranges;
	return r;
}

static void
delete_flagged(const struct store_flags_result *res, enum store_err code, const char *error,
               void *vctx)
{
	struct sync_ctx *ctx = vctx;
	struct sync_coll *c = cur(ctx);
	uint32_t(*ranges)[2];
	struct store_uid_ranges r;

	(void)code;
	ctx->op = NULL;
	if (res == NULL) {
		sync_fail(ctx, error);
		return;
	}
	r = delete_ranges(c, &ranges);
	ctx->op = store_expunge(ctx->req->store, ctx->req->account_id, c->folder_id, &r,
	                        delete_expunged, ctx);
	free(ranges);
}

static void
delete_moved(const struct store_copy_result *res, enum store_err code, const char *error,
             void *vctx)
{
	struct sync_ctx *ctx = vctx;

	(void)code;
	ctx->op = NULL;
	if (res == NULL) {
		sync_fail(ctx, error);
		return;
	}
	deletes_done(ctx);
}

static void
deletes_start(struct sync_ctx *ctx)
{
	struct sync_coll *c = cur(ctx);
	static const char *const deleted[] = {"\\Deleted"};
	uint32_t(*ranges)[2];
	struct store_uid_ranges r;
	size_t before = c->client.del.n;

	for (const struct wbxml_node *d = wbxml_child(c->commands, EAS_AIRSYNC_DELETE); d != NULL;
	     d = wbxml_next(d, EAS_AIRSYNC_DELETE)) {
		const char *sid = wbxml_child_text(d, EAS_AIRSYNC_SERVERID);
		uint32_t uid = sid != NULL ? item_uid(c, sid) : 0;

		if (uid == 0)
			sync_response_add(c, 'D', NULL, sid != NULL ? sid : "", 8);
		else
			u32vec_add(&c->client.del, uid);
	}
	for (const struct wbxml_node *f = wbxml_child(c->commands, EAS_AIRSYNC_FETCH); f != NULL;
	     f = wbxml_next(f, EAS_AIRSYNC_FETCH)) {
		const char *sid = wbxml_child_text(f, EAS_AIRSYNC_SERVERID);
		uint32_t uid = sid != NULL ? item_uid(c, sid) : 0;

		if (uid == 0)
			sync_response_add(c, 'F', NULL, sid != NULL ? sid : "", 8);
		else
			u32vec_add(&c->fetch, uid);
	}
	if (c->client.del.n == before) {
		deletes_done(ctx);
		return;
	}
	r = delete_ranges(c, &ranges);
	/* Only this request's deletes (a replay's are done already). */
	r.ranges += before;
	r.count -= before;
	if (c->deletes_as_moves && ctx->trash_id != 0 && !c->is_trash)
		ctx->op = store_copy(ctx->req->store, ctx->req->account_id, c->folder_id, &r,
		                     ctx->req->account_id, ctx->trash_id, true, delete_moved, ctx);
	else
		ctx->op = store_flags(ctx->req->store, ctx->req->account_id, c->folder_id, &r,
		                      STORE_FLAGS_ADD, deleted, 1, 0, delete_flagged, ctx);
	free(ranges);
}

void
sync_client_commands(struct sync_ctx *ctx)
{
	struct sync_coll *c = cur(ctx);

	switch (c->phase) {
	case SYNC_PHASE_ADDS:
		adds_start(ctx);
		return;
	case SYNC_PHASE_CHANGES:
		changes_start(ctx);
		return;
	case SYNC_PHASE_DELETES:
		deletes_start(ctx);
		return;
	default:
		sync_continue(ctx);
		return;
	}
}
